# verify.sh - `make bench` part: verification of a big export archive (every
# signature checked), logs/s next to openssl's verify rate for the curve, and
# the peak memory (one small record per log). Sourced by bench/run.sh.
echo
echo "== verifying an export archive (opentse verify; all cores)"
VERIFY_LOGS=${BENCH_VERIFY_LOGS:-200000}
printf '%-8s %10s %12s %18s %14s\n' curve logs logs/s vs-openssl-verify peak-RSS-MB
for curve in p256 bp384; do
  if [ "$curve" = p256 ]; then VER=$P256_VERIFY; else VER=$BP384_VERIFY; fi
  "$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar" "$curve" "$VERIFY_LOGS"
  set -- $("$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar")
  printf '%-8s %10s %12s %18s %14s\n' "$curve" "$6" "$2" \
    "$(awk -v a="$2" -v b="$VER" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$4" 'BEGIN{printf "%.1f", a/1024}')"
  rm -f "$WORK/verify-$curve.tar"
done
