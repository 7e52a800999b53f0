# http.sh - `make bench` part: opentsed over HTTP on loopback, 64 keep-alive
# connections: finished transactions per second (start + finish, each
# signed and durable before it is answered) for 1, 16 and BENCH_MANY_TSS
# (default 1,000) TSSs, with the request latency p50/p99, as ratios to the
# GET /health rate of the same server (signed logs/s = 2 x finished tx/s;
# target >= 0.5) and to the 1-TSS rate (target >= 1.0), next to openssl's
# P-256 signing rate. The many TSSs are created through the API first and
# the time that takes is printed. Each row also gives the server's CPU time
# per operation (user + system, from /proc, over the run) and the same
# ratio by CPU time (2 x CPU per /health request / CPU per finished
# transaction): what the rates would give if the server alone had the
# machine, steadier on a machine shared with other work. Sourced by
# bench/run.sh.
echo
echo "== opentsed over HTTP (loopback, 64 connections, 2 signatures per transaction)"
HTTP_DIR="$WORK/http"
MANY=${BENCH_MANY_TSS:-1000}
start_opentsed http --demo --rate-limit 0 --per-ip-connections 0   # 64 connections from one address
HTTP_PID=$OPENTSED_PID HTTP_BASE=$OPENTSED_BASE
export BENCH_SERVER_PID=$HTTP_PID
load() { cut -d' ' -f1 /proc/loadavg; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b + 0 > 0) printf "%.3f", a / b; else printf "-"}'; }
if [ -n "$HTTP_BASE" ]; then
  printf '%-22s %9s %8s %8s %6s %15s %14s %13s %10s %14s %6s\n' load ops/s p50-ms p99-ms errors \
    "logs/health>=.5" "vs-1-TSS>=1.0" vs-openssl cpu-ms/op "by-cpu>=.5" load1
  set -- $("$BUILD/bench/bench_http" "$HTTP_BASE" "$HTTP_DIR/demo.json" health 1 64 "$SECONDS_EACH")
  HEALTH=$1 HEALTH_CPU=$6
  printf '%-22s %9s %8s %8s %6s %15s %14s %13s %10s %14s %6s\n' "GET /health" "$1" "$2" "$3" "$4" - - - "$6" - "$(load)"
  ONE=""
  for tss in 1 16 "$MANY"; do
    set -- $("$BUILD/bench/bench_http" "$HTTP_BASE" "$HTTP_DIR/demo.json" tx "$tss" 64 "$SECONDS_EACH")
    [ -z "$ONE" ] && ONE=$1
    [ "$tss" -gt 16 ] && SETUP_S=$5
    printf '%-22s %9s %8s %8s %6s %15s %14s %13s %10s %14s %6s\n' "finished tx, $tss TSS" "$1" "$2" "$3" "$4" \
      "$(ratio $((2 * $1)) "$HEALTH")" "$(ratio "$1" "$ONE")" "$(ratio $((2 * $1)) "$P256_SIGN")" "$6" \
      "$(ratio "$(awk -v h="$HEALTH_CPU" 'BEGIN{print 2 * h}')" "$6")" "$(load)"
  done
  echo "(ops/s of finished transactions = half the signed logs/s; logs/health = signed logs/s / GET /health/s;"
  echo " vs-openssl = signed logs/s / openssl speed P-256 signs/s on one core; cpu-ms/op = the server's user+system"
  echo " CPU time per operation; by-cpu = 2 x cpu-ms per /health request / cpu-ms per finished tx; load1 = load average after the row;"
  echo " creating and initializing $((MANY - 1)) TSSs for that row through the API took ${SETUP_S:-?} s)"
fi
kill -TERM "$HTTP_PID" 2>/dev/null
wait "$HTTP_PID" 2>/dev/null || true
