# slow.sh - `make bench` part: opentsed with its default limits under a
# slow-client attack of 2,000 connections (heads and bodies a byte every
# 200 ms, reopened when closed) from 1, 20 and 50 addresses, while a
# well-behaved client asks GET /health on a new connection each time: its
# success rate and p99, next to the same client without an attack.
# Sourced by bench/run.sh.
echo
echo "== opentsed under 2,000 slow connections (defaults: max-connections 1024, per-ip-connections 32,"
echo "   header-timeout 10 s, body-timeout 30 s); GET /health of a well-behaved client, a new connection each"
start_opentsed slow --access-log 0
SLOW_PID=$OPENTSED_PID SLOW_BASE=$OPENTSED_BASE
if [ -n "$SLOW_BASE" ]; then
  printf '%-34s %9s %9s %9s %9s %12s %14s\n' attack success-% p50-ms p99-ms requests slow-conns p99-vs-calm
  set -- $("$BUILD/bench/bench_slow" "$SLOW_BASE" 0 1 "$SECONDS_EACH")
  CALM_P99=$3
  printf '%-34s %9s %9s %9s %9s %12s %14s\n' "none" "$1" "$2" "$3" "$4" "-" "1.00"
  for addrs in 1 20 50; do
    set -- $("$BUILD/bench/bench_slow" "$SLOW_BASE" 2000 "$addrs" "$((2 * SECONDS_EACH))")
    printf '%-34s %9s %9s %9s %9s %12s %14s\n' "2,000 slow from $addrs address(es)" "$1" "$2" "$3" "$4" "$5" \
      "$(awk -v a="$3" -v b="$CALM_P99" 'BEGIN{printf "%.2f", a/b}')"
  done
  echo "(slow-conns: connections the attacker made, the server closed all but those open at the end;"
  echo " 50 addresses x 32 > 1024: past max-connections / per-ip-connections addresses only a firewall"
  echo " or proxy in front helps, see docs/deploy.md)"
fi
kill -TERM "$SLOW_PID" 2>/dev/null
wait "$SLOW_PID" 2>/dev/null || true
