# http.sh - `make bench` part: opentsed over HTTP on loopback, 64 keep-alive
# connections: finished transactions per second (start + finish, each
# signed and durable before it is answered) for 1 and for 16 TSSs, with the
# request latency p50/p99, next to the GET /health rate of the same server
# and openssl's P-256 signing rate. Sourced by bench/run.sh.
echo
echo "== opentsed over HTTP (loopback, 64 connections, 2 signatures per transaction)"
HTTP_DIR="$WORK/http"
start_opentsed http --demo --rate-limit 0
HTTP_PID=$OPENTSED_PID HTTP_BASE=$OPENTSED_BASE
if [ -n "$HTTP_BASE" ]; then
  printf '%-28s %10s %9s %9s %7s %16s\n' load ops/s p50-ms p99-ms errors vs-openssl-sign
  set -- $("$BUILD/bench/bench_http" "$HTTP_BASE" "$HTTP_DIR/demo.json" health 1 64 "$SECONDS_EACH")
  HEALTH=$1
  printf '%-28s %10s %9s %9s %7s %16s\n' "GET /health" "$1" "$2" "$3" "$4" "-"
  for tss in 1 16; do
    set -- $("$BUILD/bench/bench_http" "$HTTP_BASE" "$HTTP_DIR/demo.json" tx "$tss" 64 "$SECONDS_EACH")
    printf '%-28s %10s %9s %9s %7s %16s\n' "finished tx, $tss TSS" "$1" "$2" "$3" "$4" \
      "$(awk -v a="$1" -v b="$P256_SIGN" 'BEGIN{printf "%.2f", 2*a/b}')"
  done
  echo "(ops/s of finished transactions; vs-openssl-sign = 2 signatures per transaction / openssl speed;"
  echo " GET /health: $HEALTH requests/s is the HTTP ceiling of this machine)"
fi
kill -TERM "$HTTP_PID" 2>/dev/null
wait "$HTTP_PID" 2>/dev/null || true
