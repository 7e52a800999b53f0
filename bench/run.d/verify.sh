# verify.sh - `make bench` part: verification of a big export archive (every
# signature checked) on all cores, logs/s next to `openssl speed -multi N`
# verify with N = the cores (target: 0.90 of it), and the peak memory (one
# small record per log). Sourced by bench/run.sh.
echo
echo "== verifying an export archive (opentse verify; all cores)"
CORES=$(nproc)
# openssl's verify rate with every core busy, measured now.
ossl_multi() { # $1 = openssl speed algorithm name
  openssl speed -multi "$CORES" -seconds "$SECONDS_EACH" "$1" 2>/dev/null | awk '
    $0 ~ /sign\/s/ {hdr=1; next} hdr && NF>=2 {v=$NF} END {print v}'
}
P256_VERIFY_MULTI=$(ossl_multi ecdsap256)
BP384_VERIFY_MULTI=$(ossl_multi ecdsabrp384r1)
echo "openssl speed -multi $CORES verify: P-256 $P256_VERIFY_MULTI/s, bp384r1 $BP384_VERIFY_MULTI/s"
# 1,000,000 P-256 logs and 100,000 brainpoolP384r1 logs (about ten times
# slower to verify) unless BENCH_VERIFY_LOGS says otherwise.
VERIFY_LOGS=${BENCH_VERIFY_LOGS:-1000000}
printf '%-8s %10s %12s %14s %8s %14s %12s\n' curve logs logs/s vs-openssl-multi target \
  peak-RSS-MB bytes/log
for curve in p256 bp384; do
  if [ "$curve" = p256 ]; then VER=$P256_VERIFY_MULTI; N=$VERIFY_LOGS; else VER=$BP384_VERIFY_MULTI; N=$((VERIFY_LOGS / 10)); fi
  "$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar" "$curve" "$N"
  set -- $("$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar")
  printf '%-8s %10s %12s %14s %8s %14s %12s\n' "$curve" "$6" "$2" \
    "$(awk -v a="$2" -v b="$VER" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$2" -v b="$VER" 'BEGIN{print (a/b >= 0.9) ? "0.90 ok" : "0.90 MISS"}')" \
    "$(awk -v a="$4" 'BEGIN{printf "%.1f", a/1024}')" \
    "$(awk -v a="$4" -v n="$6" 'BEGIN{printf "%.0f", a*1024/n}')"
  rm -f "$WORK/verify-$curve.tar"
done
