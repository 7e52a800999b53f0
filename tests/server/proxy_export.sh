#!/bin/sh
# proxy_export.sh - an export larger than any buffer downloaded through a
# node that does not hold the TSS: the answer is streamed from the owner
# (the same bytes as from the owner itself, the passing node's memory not
# growing with it), and an owner killed in the middle of a download ends
# the client's download with an error, never as if it were complete.
# Runs under tests/pg/with_pg.sh. Usage: proxy_export.sh OPENTSED OPENTSE
set -eu
OPENTSED=$1 OPENTSE=$2
. "$(dirname "$0")/../lib.sh"
work proxy-export
node() { # NAME DATA_DIR ARGS...; sets BASE_NAME
    name=$1 dir=$2; shift 2
    start "$name" --data-dir "$dir" --listen 127.0.0.1:0 --store "$STORE" --max-body 4194304 "$@" ||
        fail "$name did not start: $(cat "$W/$name.err")"
    eval "BASE_$name=$BASE"
}
call_at() { # BASE METHOD PATH [BODY_FILE]
    curl -s -o "$W/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' ${4:+--data-binary @"$4"} "$1$3" >"$W/status"
    cat "$W/body"
}
"$OPENTSE_TEST_PGBIN/psql" -q "$OPENTSE_TEST_PG" -c "CREATE DATABASE proxied" >/dev/null
STORE="${OPENTSE_TEST_PG%/*}/proxied"
export OPENTSE_STORE_LEASE_MS=1000

node a "$W/a" --demo
mkdir -m 700 "$W/b"
cp "$W/a/master.key" "$W/b/master.key"
node b "$W/b"
D="$W/a/demo.json"
TSS=$(json 'd["tss_id"]' <"$D") CLIENT=$(json 'd["client_id"]' <"$D")
TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' \
    --data "{\"api_key\":\"$(json 'd["api_key"]' <"$D")\",\"api_secret\":\"$(json 'd["api_secret"]' <"$D")\"}" \
    "$BASE_a/api/v2/auth" | json 'd["access_token"]')

# 66 signed updates of 1 MiB each (random, so nothing compresses)
TX=$(python3 -c 'import uuid; print(uuid.uuid4())')
echo "{\"state\":\"ACTIVE\",\"client_id\":\"$CLIENT\"}" >"$W/start.json"
call_at "$BASE_a" PUT "/api/v2/tss/$TSS/tx/$TX?tx_revision=1" "$W/start.json" >/dev/null
[ "$(cat "$W/status")" = 200 ] || fail "start: $(cat "$W/body")"
python3 - "$W/update.json" "$CLIENT" <<'PY'
import base64, json, os, sys
pd = base64.b64encode(os.urandom(1 << 20)).decode()
json.dump({"state": "ACTIVE", "client_id": sys.argv[2],
           "schema": {"raw": {"process_type": "Kassenbeleg-V1", "process_data": pd}}}, open(sys.argv[1], "w"))
PY
r=2
while [ $r -le 67 ]; do
    call_at "$BASE_a" PUT "/api/v2/tss/$TSS/tx/$TX?tx_revision=$r" "$W/update.json" >/dev/null
    [ "$(cat "$W/status")" = 200 ] || fail "update $r: $(cat "$W/body")"
    r=$((r + 1))
done

# an export job on the owner, read through b and through a
EX=$(python3 -c 'import uuid; print(uuid.uuid4())')
call_at "$BASE_b" PUT "/api/v2/tss/$TSS/export/$EX" >/dev/null
[ "$(cat "$W/status")" = 200 ] || fail "export through b: $(cat "$W/body")"
for _ in $(seq 600); do
    st=$(call_at "$BASE_b" GET "/api/v2/tss/$TSS/export/$EX" | json 'd["state"]')
    [ "$st" = COMPLETED ] && break
    [ "$st" = ERROR ] && fail "export: $(cat "$W/body")"
    sleep 0.2
done
[ "$st" = COMPLETED ] || fail "the export did not complete"
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$(cat "$W/$1.pid")/status"; }
before=$(hwm b)
curl -sf -H "Authorization: Bearer $TOKEN" -o "$W/via-b.tar" "$BASE_b/api/v2/tss/$TSS/export/$EX/file" ||
    fail "download through b"
after=$(hwm b)
curl -sf -H "Authorization: Bearer $TOKEN" -o "$W/via-a.tar" "$BASE_a/api/v2/tss/$TSS/export/$EX/file" ||
    fail "download from a"
size=$(stat -c %s "$W/via-b.tar")
[ "$size" -gt $((64 << 20)) ] || fail "the archive is only $size bytes"
cmp -s "$W/via-a.tar" "$W/via-b.tar" || fail "the bytes through b differ from a's"
grow=$((after - before))
[ "$grow" -lt $((16 << 10)) ] || fail "b's peak memory grew by $grow kB passing $size bytes on"
# a TAR whose every member is whole (Python's tarfile reads it to the end)
python3 -c 'import sys, tarfile; n = sum(1 for m in tarfile.open(sys.argv[1])); assert n >= 66, n' "$W/via-b.tar" ||
    fail "the archive through b is not a whole TAR"

# the owner killed in the middle of a download through b: an error, not a short archive
( rc=0; curl -s -H "Authorization: Bearer $TOKEN" --limit-rate 4M -o "$W/cut.tar" \
    "$BASE_b/api/v2/tss/$TSS/export/$EX/file" || rc=$?; echo "$rc" >"$W/cut.rc.tmp"; mv "$W/cut.rc.tmp" "$W/cut.rc" ) &
sleep 2
kill -9 "$(cat "$W/a.pid")"
for _ in $(seq 600); do [ -s "$W/cut.rc" ] && break; sleep 0.1; done
[ -s "$W/cut.rc" ] || fail "the cut download did not end"
[ "$(cat "$W/cut.rc")" != 0 ] || fail "a download cut short by the owner's death ended as if complete"
cut=$(stat -c %s "$W/cut.tar")
[ "$cut" -lt "$size" ] || fail "the cut download holds the whole archive"
echo "ok: $size bytes through b ($grow kB more peak memory there); cut at $cut bytes, curl exit $(cat "$W/cut.rc")"
