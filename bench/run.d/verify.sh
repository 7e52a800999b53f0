# verify.sh - `make bench` part: verification of a big export archive (every
# signature checked) on all cores, logs/s next to `openssl speed -multi N`
# verify with N = the cores (target: 0.90 of it), and the peak memory at two
# archive sizes (it must not grow with the archive). Sourced by bench/run.sh.
#
# Two comparisons, because the machine may be shared: wall clock against
# `openssl speed -elapsed -multi N` (both measured now, under the same load;
# the target), and logs per CPU second times N against plain `openssl speed
# -multi N`, which divides by user CPU time (the rates with the cores to
# oneself).
echo
echo "== verifying an export archive (opentse verify; all cores)"
CORES=$(nproc)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
ossl_multi() { # $1 = openssl speed algorithm name, $2 = -elapsed or nothing
  openssl speed $2 -multi "$CORES" -seconds "$SECONDS_EACH" "$1" 2>/dev/null | awk '
    $0 ~ /sign\/s/ {hdr=1; next} hdr && NF>=2 {v=$NF} END {print v}'
}
# 1,000,000 P-256 logs and 100,000 brainpoolP384r1 logs (about ten times
# slower to verify) unless BENCH_VERIFY_LOGS says otherwise.
VERIFY_LOGS=${BENCH_VERIFY_LOGS:-1000000}
printf '%-6s %8s %9s %8s %10s %12s %8s %12s %12s\n' curve logs logs/s vs-wall target \
  logs/cpu-s*N vs-cpu RSS-MB "RSS-MB(N/10)"
for curve in p256 bp384; do
  if [ "$curve" = p256 ]; then N=$VERIFY_LOGS; ALG=ecdsap256; else N=$((VERIFY_LOGS / 10)); ALG=ecdsabrp384r1; fi
  "$BUILD/bench/bench_verify" "$WORK/verify-$curve-small.tar" "$curve" $((N / 10))
  set -- $("$BUILD/bench/bench_verify" "$WORK/verify-$curve-small.tar")
  SMALL_RSS=$4
  rm -f "$WORK/verify-$curve-small.tar"
  "$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar" "$curve" "$N"
  WALL=$(ossl_multi "$ALG" -elapsed)
  set -- $("$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar")
  CPU=$(ossl_multi "$ALG")
  echo "  $curve: openssl speed -elapsed -multi $CORES $ALG verify $WALL/s, without -elapsed $CPU/s (load $(cut -d' ' -f1 /proc/loadavg))"
  printf '%-6s %8s %9s %8s %10s %12s %8s %12s %12s\n' "$curve" "$6" "$2" \
    "$(awk -v a="$2" -v b="$WALL" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$2" -v b="$WALL" 'BEGIN{print (a/b >= 0.9) ? "0.90 ok" : "0.90 MISS"}')" \
    "$8" "$(awk -v a="$8" -v b="$CPU" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$4" 'BEGIN{printf "%.1f", a/1024}')" \
    "$(awk -v a="$SMALL_RSS" 'BEGIN{printf "%.1f", a/1024}')"
  rm -f "$WORK/verify-$curve.tar"
done
