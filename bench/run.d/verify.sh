# verify.sh - `make bench` part: verification of a big export archive (every
# signature checked) on all cores, logs/s next to `openssl speed -multi N`
# verify with N = the cores (target: 0.90 of it), and the peak memory at two
# archive sizes (it must not grow with the archive). Sourced by bench/run.sh.
#
# Two comparisons, because the machine may be shared: wall clock against
# `openssl speed -elapsed -multi N`, measured right before and right after
# our run under the same load (their mean; the target), and CPU efficiency:
# our logs per CPU second against one `openssl speed` process's verifies
# per CPU second (it divides by user time), which others' load does not move.
echo
echo "== verifying an export archive (opentse verify; all cores)"
CORES=$(nproc)
ossl_rate() { # $1 = openssl speed algorithm name, then options
  alg=$1
  shift
  openssl speed "$@" -seconds "$SECONDS_EACH" "$alg" 2>/dev/null | awk '
    $0 ~ /sign\/s/ {hdr=1; next} hdr && NF>=2 {v=$NF} END {print v}'
}
# 1,000,000 P-256 logs and 100,000 brainpoolP384r1 logs (about ten times
# slower to verify) unless BENCH_VERIFY_LOGS says otherwise.
VERIFY_LOGS=${BENCH_VERIFY_LOGS:-1000000}
FMT='%-6s %8s %6s %7s %7s %10s %10s %10s %13s %6s %6s %12s\n'
printf "$FMT" curve logs load logs/s openssl vs-openssl target logs/cpu-s openssl/cpu-s vs-cpu RSS-MB \
 "RSS-MB(N/10)"
# BENCH_VERIFY_CURVES: one of them only, e.g. for a rerun
for curve in ${BENCH_VERIFY_CURVES:-p256 bp384}; do
  if [ "$curve" = p256 ]; then N=$VERIFY_LOGS; ALG=ecdsap256; else N=$((VERIFY_LOGS / 10)); ALG=ecdsabrp384r1; fi
  "$BUILD/bench/bench_verify" "$WORK/verify-$curve-small.tar" "$curve" $((N / 10))
  set -- $("$BUILD/bench/bench_verify" "$WORK/verify-$curve-small.tar")
  SMALL_RSS=$4
  rm -f "$WORK/verify-$curve-small.tar"
  "$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar" "$curve" "$N"
  LOAD=$(cut -d' ' -f1 /proc/loadavg)
  BEFORE=$(ossl_rate "$ALG" -elapsed -multi "$CORES")
  set -- $("$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar")
  AFTER=$(ossl_rate "$ALG" -elapsed -multi "$CORES")
  ONE_CPU=$(ossl_rate "$ALG")
  WALL=$(awk -v a="$BEFORE" -v b="$AFTER" 'BEGIN{printf "%.0f", (a+b)/2}')
  echo "  $curve: openssl speed -elapsed -multi $CORES $ALG verify $BEFORE/s before, $AFTER/s after; one process $ONE_CPU per CPU second"
  printf "$FMT" "$curve" "$6" "$LOAD" "$2" "$WALL" \
    "$(awk -v a="$2" -v b="$WALL" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$2" -v b="$WALL" 'BEGIN{print (a/b >= 0.9) ? "0.90 ok" : "0.90 MISS"}')" \
    "$8" "$ONE_CPU" "$(awk -v a="$8" -v b="$ONE_CPU" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$4" 'BEGIN{printf "%.1f", a/1024}')" \
    "$(awk -v a="$SMALL_RSS" 'BEGIN{printf "%.1f", a/1024}')"
  rm -f "$WORK/verify-$curve.tar"
done
