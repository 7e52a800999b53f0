# lib.sh - what the shell tests that drive the real binaries share: a work
# directory removed at exit together with every opentsed they started,
# fail, json, and starting, stopping and calling one opentsed. Sourced
# (with OPENTSED set for start) as
#   . "$(dirname "$0")/../lib.sh"; work NAME
PIDS="" PID="" W=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    if [ -n "$W" ]; then rm -rf "$W"; fi
}
trap cleanup EXIT
# work NAME: a fresh work directory in $W
work() {
    mkdir -p "${OPENTSE_TEST_TMP:-/tmp}"
    W=$(mktemp -d "${OPENTSE_TEST_TMP:-/tmp}/$1.XXXXXX")
}
fail() { echo "FAIL: $*" >&2; exit 1; }
# json EXPR: EXPR of the JSON document d on standard input
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# start NAME ARGS...: opentsed ARGS in the background, its output in
# $W/NAME.out and .err, its pid in $PID and $W/NAME.pid; waits for the
# "listening" line and sets BASE to its URL; 1 when it exited instead.
start() {
    name=$1; shift
    : >"$W/$name.out"   # there before the first look at it (set -e)
    "$OPENTSED" "$@" >"$W/$name.out" 2>"$W/$name.err" &
    PID=$!
    PIDS="$PIDS $PID"
    echo "$PID" >"$W/$name.pid"
    for _ in $(seq 150); do
        BASE=$(sed -n 's/^opentsed listening on \(http[^ ]*\)$/\1/p' "$W/$name.out")
        [ -n "$BASE" ] && return 0
        kill -0 "$PID" 2>/dev/null || { PID=""; return 1; }
        sleep 0.1
    done
    return 1
}
# stop [PID]: SIGTERM to that opentsed (default $PID), waits for its end
stop() {
    p=${1:-$PID}
    kill "$p"
    wait "$p" 2>/dev/null || true
    if [ "$p" = "$PID" ]; then PID=""; fi
}
# call METHOD PATH [BODY]: to $BASE with $TOKEN; body on stdout, status in $W/status
call() {
    curl -s -o "$W/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer ${TOKEN:-}" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} "$BASE$2" >"$W/status"
    cat "$W/body"
}
