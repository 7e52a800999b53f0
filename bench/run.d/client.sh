# client.sh - `make bench` part: receipts per second through libopentse, one
# register (one handle, one thread; start + finish, both signed and durable),
# embedded and over HTTP to opentsed on loopback, and sales journaled per
# second while the TSE is unreachable (one fsync'd journal record each).
# Sourced by bench/run.sh.
echo
echo "== libopentse, one register, one thread (receipt = start + finish)"
printf '%-34s %12s %16s %14s\n' transport receipts/s vs-openssl-sign per-fsync
mkdir -p "$WORK/client-file" "$WORK/client-outage"
set -- $("$BUILD/bench/bench_client" file "$WORK/client-file" "$SECONDS_EACH")
printf '%-34s %12s %16s %14s\n' "file: (engine in-process)" "$1" \
  "$(awk -v a="$1" -v b="$P256_SIGN" 'BEGIN{printf "%.4f", 2*a/b}')" \
  "$(awk -v a="$1" -v b="$FSYNC" 'BEGIN{printf "%.2f", 2*a/b}')"
CL_DIR="$WORK/client-http"
start_opentsed client-http --demo --rate-limit 0 --access-log 0 --per-ip-connections 0
CL_PID=$OPENTSED_PID CL_BASE=$OPENTSED_BASE
if [ -n "$CL_BASE" ]; then
  set -- $("$BUILD/bench/bench_client" http "$CL_BASE" "$CL_DIR/demo.json" "$SECONDS_EACH")
  printf '%-34s %12s %16s %14s\n' "http: (opentsed, loopback)" "$1" \
    "$(awk -v a="$1" -v b="$P256_SIGN" 'BEGIN{printf "%.4f", 2*a/b}')" \
    "$(awk -v a="$1" -v b="$FSYNC" 'BEGIN{printf "%.2f", 2*a/b}')"
fi
kill -TERM "$CL_PID" 2>/dev/null
wait "$CL_PID" 2>/dev/null || true
set -- $("$BUILD/bench/bench_client" outage "$WORK/client-outage" "$SECONDS_EACH")
printf '%-34s %12s %16s %14s\n' "TSE unreachable (journaled sales)" "$1" "-" \
  "$(awk -v a="$1" -v b="$FSYNC" 'BEGIN{printf "%.2f", a/b}')"
echo "(vs-openssl-sign: 2 signatures per receipt / openssl speed P-256; per-fsync: durable writes per fsync of the loop)"
