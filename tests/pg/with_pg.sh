#!/bin/sh
# with_pg.sh - runs a command beside a PostgreSQL server of its own: a
# temporary cluster (initdb) in the test directory (in /tmp as root), owned by an unprivileged
# user (postgres when the tests run as root), on a random port of
# 127.0.0.1. The command gets its URL in OPENTSE_TEST_PG (a superuser
# "opentse", database "postgres"), the data directory in OPENTSE_TEST_PGDATA
# and pg_ctl in OPENTSE_TEST_PGCTL (to stop and start the server under
# load); the cluster is removed afterwards whatever the command did.
# Usage: with_pg.sh COMMAND [ARGS...]
set -eu
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$BIN/initdb" ] || { echo "with_pg.sh: no PostgreSQL server (scripts/install-deps.sh installs it)" >&2; exit 1; }
# as root the cluster's owner (postgres) must reach it: under /tmp then
if [ "$(id -u)" = 0 ]; then PARENT=/tmp; else PARENT=${OPENTSE_TEST_TMP:-/tmp}; fi
mkdir -p "$PARENT"
W=$(mktemp -d "$PARENT/opentse-pg.XXXXXX")
chmod 755 "$W"
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$W"
cleanup() {
    as_owner "$BIN/pg_ctl" -D "$W/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
as_owner "$BIN/initdb" -D "$W/data" -U opentse -A trust --no-sync -E UTF8 >"$W/initdb.log" 2>&1 ||
    { cat "$W/initdb.log" >&2; exit 1; }
# A free port, in its configuration, so that a test may stop and start it
# again. Another process may take the port between the look and the start
# (other tests run beside this one): then another port.
for attempt in 1 2 3 4 5; do
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner sh -c "printf '%s\n' \"port = $PORT\" \"listen_addresses = '127.0.0.1'\" \
        \"unix_socket_directories = '$W'\" 'max_connections = 200' >>'$W/data/postgresql.conf'"
    as_owner "$BIN/pg_ctl" -D "$W/data" -l "$W/server.log" -w -t 60 start >/dev/null && break
    grep -q "Address already in use" "$W/server.log" && [ "$attempt" -lt 5 ] || { cat "$W/server.log" >&2; exit 1; }
    echo "with_pg.sh: port $PORT was taken, another one" >&2
    as_owner sh -c ": >'$W/server.log'"
done
export OPENTSE_TEST_PG="postgresql://opentse@127.0.0.1:$PORT/postgres"
export OPENTSE_TEST_PGDATA="$W/data" OPENTSE_TEST_PGCTL="$BIN/pg_ctl" OPENTSE_TEST_PGBIN="$BIN"
export OPENTSE_TEST_PG_AS_ROOT=$([ "$(id -u)" = 0 ] && echo 1 || echo 0)
rc=0
"$@" || rc=$?
exit $rc
