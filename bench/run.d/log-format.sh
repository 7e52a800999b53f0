# log-format.sh - `make bench` part: signed logs per second of a version-3
# TSE (TR-03151-1 v1.1.1, the default) beside a version-2 one in the same
# run, each setup measured twice in turn (2, 3, 2, 3) and the better of each
# kept, and the ratio of 3 to 2 (limit: at least 1.00 less the run's noise).
# Sourced by bench/run.sh.
echo
echo "== log format 3 vs 2, signed logs per second, in-process"
printf '%-10s %-22s %12s %12s %10s\n' curve setup "v2 logs/s" "v3 logs/s" "v3/v2"
best() { awk -v a="$1" -v b="$2" 'BEGIN{print (a > b ? a : b)}'; }
for curve in p256 bp384; do
  for setup in "1 1" "8 1"; do
    set -- $setup
    V2=0; V3=0
    for _ in 1 2; do
      R=$("$BUILD/bench/bench_sign" "$WORK" "$curve" "$1" "$2" "$SECONDS_EACH" 2 | awk '{print $2}')
      V2=$(best "$V2" "$R")
      R=$("$BUILD/bench/bench_sign" "$WORK" "$curve" "$1" "$2" "$SECONDS_EACH" 3 | awk '{print $2}')
      V3=$(best "$V3" "$R")
    done
    printf '%-10s %-22s %12s %12s %10s\n' "$curve" "$2 TSE x $1 threads" "$V2" "$V3" \
      "$(awk -v a="$V3" -v b="$V2" 'BEGIN{printf "%.2f", a/b}')"
  done
done
echo "(each the better of two runs; v3/v2 below 1.00 by more than the runs' spread is a regression)"
