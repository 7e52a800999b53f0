#!/bin/sh
# deployment_key.sh - a deployment is its store with the master key that
# made it: two nodes started at the same moment on an empty PostgreSQL
# store make one deployment (one operator key; the other node refuses and
# removes the key it had just made), a node given the deployment's key
# joins, a node with another key refuses, and so does a sqlite: data
# directory whose master.key was replaced. Runs under tests/pg/with_pg.sh.
# Usage: deployment_key.sh OPENTSED OPENTSE
set -eu
OPENTSED=$1 OPENTSE=$2
. "$(dirname "$0")/../lib.sh"
work deployment
# waits until the node named $1 listens (0) or exits (1)
up() {
    for _ in $(seq 150); do
        grep -q '^opentsed listening on ' "$W/$1.out" 2>/dev/null && return 0
        kill -0 "$(cat "$W/$1.pid")" 2>/dev/null || return 1
        sleep 0.1
    done
    fail "$1 neither started nor stopped"
}
launch() { # NAME DATA_DIR [ARGS...]
    name=$1 dir=$2; shift 2
    "$OPENTSED" --data-dir "$dir" --listen 127.0.0.1:0 "$@" >"$W/$name.out" 2>"$W/$name.err" &
    echo $! >"$W/$name.pid"
    PIDS="$PIDS $!"
}
"$OPENTSE_TEST_PGBIN/psql" -q "$OPENTSE_TEST_PG" -c "CREATE DATABASE deployment" >/dev/null
STORE="${OPENTSE_TEST_PG%/*}/deployment"

# two fresh nodes at once on the empty store
launch a "$W/a" --store "$STORE"
launch b "$W/b" --store "$STORE"
ua=0 ub=0
up a || ua=1
up b || ub=1
[ $((ua + ub)) = 1 ] || fail "$((2 - ua - ub)) of two nodes started at once on an empty store started"
if [ $ua = 0 ]; then WIN=a LOSE=b; else WIN=b LOSE=a; fi
grep -q "is not the master key of the deployment\|already holds a deployment: copy its master.key" "$W/$LOSE.err" ||
    fail "the second node's refusal: $(cat "$W/$LOSE.err")"
[ -e "$W/$LOSE/master.key" ] && fail "the refused node kept the master key it made"
[ "$(cat "$W/a.out" "$W/b.out" | grep -c '^operator api_secret')" = 1 ] || fail "not exactly one operator key"

# given the deployment's key, the other node joins, making no key of its own
cp "$W/$WIN/master.key" "$W/$LOSE/master.key"
launch join "$W/$LOSE" --store "$STORE"
up join || fail "the node with the deployment's key: $(cat "$W/join.err")"
grep -q '^operator api_secret' "$W/join.out" && fail "the joining node made an operator key"

# a node with another master key refuses, and keeps its key file
mkdir -m 700 "$W/c"
"$OPENTSE" keygen "$W/c/master.key" >/dev/null
launch c "$W/c" --store "$STORE"
if up c; then fail "a node with another master key started"; fi
grep -q "is not the master key of the deployment in $STORE: copy master.key" "$W/c.err" || fail "$(cat "$W/c.err")"
[ -f "$W/c/master.key" ] || fail "a key the node did not make was removed"

# sqlite: a replaced master.key is refused too
launch s1 "$W/s"
up s1 || fail "sqlite: $(cat "$W/s1.err")"
kill "$(cat "$W/s1.pid")"; wait "$(cat "$W/s1.pid")" 2>/dev/null || true
rm "$W/s/master.key"
"$OPENTSE" keygen "$W/s/master.key" >/dev/null
launch s2 "$W/s"
if up s2; then fail "sqlite: a replaced master key was accepted"; fi
grep -q "is not the master key of the deployment in opentse.db" "$W/s2.err" || fail "$(cat "$W/s2.err")"
echo "ok: $WIN made the deployment, $LOSE refused and joined with its key"
