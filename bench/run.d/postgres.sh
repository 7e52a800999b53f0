# postgres.sh - `make bench` part: opentsed on a PostgreSQL store (a server
# of the bench's own, tests/pg/with_pg.sh), finished transactions per second
# over HTTP (64 connections, P-256, 1 TSS) with one node and with two nodes
# sharing the load, and with one node for 16 and BENCH_MANY_TSS (default
# 1,000) TSSs, next to pgbench's one-row-insert transactions per second
# on the same server with as many connections: signed logs/s / pgbench tps
# is what group commit buys over one commit per log. Sourced by bench/run.sh.
echo
echo "== opentsed on PostgreSQL (loopback, 64 connections, 1 TSS, 2 signatures per transaction)"
if ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
  echo "(no PostgreSQL server: scripts/install-deps.sh installs it)"
else
  OPENTSE_TEST_TMP="$WORK" BUILD="$BUILD" SECONDS_EACH="$SECONDS_EACH" MANY="${BENCH_MANY_TSS:-1000}" \
    "$(dirname "$0")/../tests/pg/with_pg.sh" sh -eu -c '
    pgb=$OPENTSE_TEST_PGBIN/pgbench psql=$OPENTSE_TEST_PGBIN/psql
    "$psql" -q "$OPENTSE_TEST_PG" -c "CREATE DATABASE bench" -c "CREATE DATABASE tse"
    base=${OPENTSE_TEST_PG%/*}
    "$psql" -q "$base/bench" -c "CREATE TABLE one(id bigserial PRIMARY KEY, v bigint)"
    echo "INSERT INTO one(v) VALUES (1);" >"$OPENTSE_TEST_TMP/insert.sql"
    TPS=$("$pgb" -n -c 64 -j 2 -T "$SECONDS_EACH" -f "$OPENTSE_TEST_TMP/insert.sql" "$base/bench" 2>/dev/null |
          sed -n "s/^tps = \([0-9.]*\).*/\1/p" | head -n1)
    start() { # DIR -> BASE of a node on the tse database
      : >"$1.out"   # there before the first look at it (set -e)
      "$BUILD/src/server/opentsed" --data-dir "$1" --listen 127.0.0.1:0 --store "$base/tse" --rate-limit 0 --per-ip-connections 0 $2 \
        >"$1.out" 2>"$1.log" &
      echo $! >"$1.pid"
      for _ in $(seq 100); do
        b=$(sed -n "s/^opentsed listening on \(http[^ ]*\).*/\1/p" "$1.out" 2>/dev/null)
        [ -n "$b" ] && { echo "$b"; return 0; }
        sleep 0.1
      done
      cat "$1.log" >&2; return 1
    }
    A=$(start "$OPENTSE_TEST_TMP/node-a" --demo)
    mkdir -m 700 "$OPENTSE_TEST_TMP/node-b" && cp -p "$OPENTSE_TEST_TMP/node-a/master.key" "$OPENTSE_TEST_TMP/node-b/"
    B=$(start "$OPENTSE_TEST_TMP/node-b" "")
    DEMO=$OPENTSE_TEST_TMP/node-a/demo.json
    printf "%-34s %10s %9s %9s %7s %14s\n" load ops/s p50-ms p99-ms errors logs/s-vs-pgbench
    printf "%-34s %10s %9s %9s %7s %14s\n" "pgbench one-row insert, 64 conns" "$TPS" - - - -
    set -- $("$BUILD/bench/bench_http" "$A" "$DEMO" tx 1 64 "$SECONDS_EACH")
    printf "%-34s %10s %9s %9s %7s %14s\n" "finished tx, 1 node" "$1" "$2" "$3" "$4" \
      "$(awk -v a="$1" -v b="$TPS" "BEGIN{printf \"%.2f\", 2*a/b}")"
    "$BUILD/bench/bench_http" "$A" "$DEMO" tx 1 32 "$SECONDS_EACH" >"$OPENTSE_TEST_TMP/a.res" &
    "$BUILD/bench/bench_http" "$B" "$DEMO" tx 1 32 "$SECONDS_EACH" >"$OPENTSE_TEST_TMP/b.res"
    wait $!
    set -- $(cut -d" " -f1-4 "$OPENTSE_TEST_TMP/a.res") $(cut -d" " -f1-4 "$OPENTSE_TEST_TMP/b.res")
    SUM=$(awk -v a="$1" -v b="$5" "BEGIN{printf \"%.0f\", a+b}")
    printf "%-34s %10s %9s %9s %7s %14s\n" "finished tx, 2 nodes (32 + 32)" "$SUM" "$2/$6" "$3/$7" "$(($4 + $8))" \
      "$(awk -v a="$SUM" -v b="$TPS" "BEGIN{printf \"%.2f\", 2*a/b}")"
    for tss in 16 "$MANY"; do   # one node, the load spread over more TSSs
      set -- $("$BUILD/bench/bench_http" "$A" "$DEMO" tx "$tss" 64 "$SECONDS_EACH")
      [ "$tss" -gt 16 ] && SETUP_S=$5
      printf "%-34s %10s %9s %9s %7s %14s\n" "finished tx, 1 node, $tss TSS" "$1" "$2" "$3" "$4" \
        "$(awk -v a="$1" -v b="$TPS" "BEGIN{printf \"%.2f\", 2*a/b}")"
    done
    echo "(logs/s-vs-pgbench = 2 signed logs per transaction / pgbench transactions per second; node b passes"
    echo " its requests on to node a, which holds the TSS; creating and initializing $((MANY - 1)) TSSs"
    echo " through the API for the last row took ${SETUP_S:-?} s)"
    kill "$(cat "$OPENTSE_TEST_TMP/node-a.pid")" "$(cat "$OPENTSE_TEST_TMP/node-b.pid")" 2>/dev/null || true
  ' || echo "(the PostgreSQL benchmark failed)"
fi
