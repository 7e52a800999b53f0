# log-format.sh - `make bench` part: signed logs per second of version-3
# TSEs (TR-03151-1 v1.1.1, the default) beside version-2 ones in the same
# process, the two taking turns in 20 slices of the time (bench_sign 2v3),
# and the ratio of 3 to 2 (limit: 1.00, version 3 must not be slower).
# Sourced by bench/run.sh.
echo
echo "== log format 3 vs 2, signed logs per second, in-process, same run"
printf '%-10s %-22s %12s %12s %10s\n' curve setup "v2 logs/s" "v3 logs/s" "v3/v2"
for curve in p256 bp384; do
  for setup in "1 1" "8 1" "8 8"; do
    set -- $setup
    OUT=$("$BUILD/bench/bench_sign" "$WORK" "$curve" "$1" "$2" "$SECONDS_EACH" 2v3)
    V2=$(echo "$OUT" | awk '$1 == "logs_per_s_v2" {print $2}')
    V3=$(echo "$OUT" | awk '$1 == "logs_per_s_v3" {print $2}')
    printf '%-10s %-22s %12s %12s %10s\n' "$curve" "$2 TSE x $1 threads" "$V2" "$V3" \
      "$(awk -v a="$V3" -v b="$V2" 'BEGIN{printf "%.2f", a/b}')"
  done
done
echo "(limit 1.00: below it by more than the machine's noise is a regression of format 3)"
