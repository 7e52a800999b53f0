# verify.sh - `make bench` part: verification of a big export archive (every
# signature checked), logs/s next to openssl's verify rate for the curve, and
# the peak memory (one small record per log). Sourced by bench/run.sh.
echo
echo "== verifying an export archive (opentse verify; all cores)"
# bp384 verifies about ten times slower than P-256: a tenth of the logs.
VERIFY_LOGS=${BENCH_VERIFY_LOGS:-100000}
printf '%-8s %10s %12s %18s %14s\n' curve logs logs/s vs-openssl-verify peak-RSS-MB
for curve in p256 bp384; do
  if [ "$curve" = p256 ]; then VER=$P256_VERIFY; N=$VERIFY_LOGS; else VER=$BP384_VERIFY; N=$((VERIFY_LOGS / 10)); fi
  "$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar" "$curve" "$N"
  set -- $("$BUILD/bench/bench_verify" "$WORK/verify-$curve.tar")
  printf '%-8s %10s %12s %18s %14s\n' "$curve" "$6" "$2" \
    "$(awk -v a="$2" -v b="$VER" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$4" 'BEGIN{printf "%.1f", a/1024}')"
  rm -f "$WORK/verify-$curve.tar"
done
