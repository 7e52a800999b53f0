# http.sh - `make bench` part: opentsed over HTTP on loopback, 64 keep-alive
# connections: finished transactions per second (start + finish, each
# signed and durable before it is answered) for 1, 16 and BENCH_MANY_TSS
# (default 1,000) TSSs, with the request latency p50/p99, as ratios to the
# GET /health rate of the same server (signed logs/s = 2 x finished tx/s;
# target >= 0.5) and to the 1-TSS rate (target >= 1.0), next to openssl's
# P-256 signing rate. The many TSSs are created through the API first and
# the time that takes is printed. Sourced by bench/run.sh.
echo
echo "== opentsed over HTTP (loopback, 64 connections, 2 signatures per transaction)"
HTTP_DIR="$WORK/http"
MANY=${BENCH_MANY_TSS:-1000}
start_opentsed http --demo --rate-limit 0 --per-ip-connections 0   # 64 connections from one address
HTTP_PID=$OPENTSED_PID HTTP_BASE=$OPENTSED_BASE
load() { cut -d' ' -f1 /proc/loadavg; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b > 0 ? a / b : 0)}'; }
if [ -n "$HTTP_BASE" ]; then
  printf '%-22s %9s %8s %8s %6s %15s %14s %13s %6s\n' load ops/s p50-ms p99-ms errors \
    "logs/health>=.5" "vs-1-TSS>=1.0" vs-openssl load1
  set -- $("$BUILD/bench/bench_http" "$HTTP_BASE" "$HTTP_DIR/demo.json" health 1 64 "$SECONDS_EACH")
  HEALTH=$1
  printf '%-22s %9s %8s %8s %6s %15s %14s %13s %6s\n' "GET /health" "$1" "$2" "$3" "$4" - - - "$(load)"
  ONE=""
  for tss in 1 16 "$MANY"; do
    set -- $("$BUILD/bench/bench_http" "$HTTP_BASE" "$HTTP_DIR/demo.json" tx "$tss" 64 "$SECONDS_EACH")
    [ -z "$ONE" ] && ONE=$1
    [ "$tss" -gt 16 ] && SETUP_S=$5
    printf '%-22s %9s %8s %8s %6s %15s %14s %13s %6s\n' "finished tx, $tss TSS" "$1" "$2" "$3" "$4" \
      "$(ratio $((2 * $1)) "$HEALTH")" "$(ratio "$1" "$ONE")" "$(ratio $((2 * $1)) "$P256_SIGN")" "$(load)"
  done
  echo "(ops/s of finished transactions = half the signed logs/s; logs/health = signed logs/s / GET /health/s;"
  echo " vs-openssl = signed logs/s / openssl speed P-256 signs/s on one core; load1 = load average after the row;"
  echo " creating and initializing $((MANY - 1)) TSSs for that row through the API took ${SETUP_S:-?} s)"
fi
kill -TERM "$HTTP_PID" 2>/dev/null
wait "$HTTP_PID" 2>/dev/null || true
