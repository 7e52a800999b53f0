#!/bin/sh
# move_pg.sh - a deployment on the embedded store moves to PostgreSQL on
# its first start with a postgresql:// --store: every TSS with its logs and
# counters, the keys and the transactions' stored answers arrive in one
# transaction, opentse.db is kept in pre-store-backup/, signing goes on at
# the next counter and the export verifies. A second deployment's file is
# refused by the then non-empty store with nothing changed, and a file
# found again after its copy (a crash before it was moved) is only moved.
# Runs under tests/pg/with_pg.sh. Usage: move_pg.sh OPENTSED OPENTSE
set -eu
OPENTSED=$1 OPENTSE=$2
. "$(dirname "$0")/../lib.sh"
work move-pg
login() { TOKEN=$(call POST /api/v2/auth "{\"api_key\":\"$KEY\",\"api_secret\":\"$SECRET\"}" | json 'd["access_token"]'); }
sale() { # a finished transaction; its answer in $W/$1.json
    id=$(python3 -c 'import uuid; print(uuid.uuid4())')
    call PUT "/api/v2/tss/$TSS/tx/$id?tx_revision=1" "{\"state\":\"ACTIVE\",\"client_id\":\"$CLIENT\"}" >/dev/null
    [ "$(cat "$W/status")" = 200 ] || fail "start: $(cat "$W/body")"
    call PUT "/api/v2/tss/$TSS/tx/$id?tx_revision=2" "{\"state\":\"FINISHED\",\"client_id\":\"$CLIENT\",
        \"schema\":{\"raw\":{\"process_type\":\"Kassenbeleg-V1\",\"process_data\":\"QmVsZWdeMS4wMA==\"}}}" >"$W/$1.json"
    [ "$(cat "$W/status")" = 200 ] || fail "finish: $(cat "$W/body")"
    echo "$id" >"$W/$1.id"
}
createdb() { "$OPENTSE_TEST_PGBIN/psql" -q "$OPENTSE_TEST_PG" -c "CREATE DATABASE $1" >/dev/null; }
PG=${OPENTSE_TEST_PG%/*}

# --- a deployment on the embedded store ------------------------------------
D=$W/data
start one --data-dir "$D" --listen 127.0.0.1:0 --demo || fail "opentsed: $(cat "$W/one.err")"
KEY=$(json 'd["api_key"]' <"$D/demo.json") SECRET=$(json 'd["api_secret"]' <"$D/demo.json")
TSS=$(json 'd["tss_id"]' <"$D/demo.json") CLIENT=$(json 'd["client_id"]' <"$D/demo.json")
login
sale a
sale b
SIG=$(json 'd["signature"]["value"]' <"$W/b.json")
BEFORE=$(call GET "/api/v2/tss/$TSS" | json 'd["signature_counter"]')
stop

# --- moved on the first start with PostgreSQL ------------------------------
createdb moved
start two --data-dir "$D" --listen 127.0.0.1:0 --store "$PG/moved" || fail "opentsed on PostgreSQL: $(cat "$W/two.err")"
grep -q "moved 1 TSS, [0-9]* logs and [0-9]* records from $D/opentse.db into the PostgreSQL store" "$W/two.err" ||
    fail "the move was not reported: $(cat "$W/two.err")"
grep -q "operator api_secret" "$W/two.out" && fail "a new operator key was made although the deployment has one"
[ -e "$D/opentse.db" ] && fail "opentse.db is still in place"
[ -f "$D/pre-store-backup/opentse.db" ] || fail "opentse.db was not kept"
login
[ -n "$TOKEN" ] || fail "the demo key does not work after the move"
AFTER=$(call GET "/api/v2/tss/$TSS" | json 'd["signature_counter"]')
[ "$AFTER" = $((BEFORE + 1)) ] || fail "the counter was $BEFORE, now $AFTER (one selfTest at the opening expected)"
call GET "/api/v2/tss/$TSS/tx/$(cat "$W/b.id")" >"$W/b2.json"
[ "$(json 'd["signature"]["value"]' <"$W/b2.json")" = "$SIG" ] || fail "the stored answer was lost: $(cat "$W/b2.json")"
sale c
[ "$(json 'd["signature"]["counter"]' <"$W/c.json")" = $((AFTER + 2)) ] || fail "the next finish is not counter $((AFTER + 2))"
TX_C=$(json 'd["number"]' <"$W/c.json") TX_B=$(json 'd["number"]' <"$W/b.json")
[ "$TX_C" = $((TX_B + 1)) ] || fail "transaction number $TX_C after $TX_B"
OPENTSE_API_KEY=$KEY OPENTSE_API_SECRET=$SECRET "$OPENTSE" --url "$BASE/tss/$TSS" export --out "$W/all.tar" 2>/dev/null ||
    fail "export after the move"
"$OPENTSE" verify "$W/all.tar" >"$W/verify.txt" || fail "the export does not verify: $(cat "$W/verify.txt")"
stop
start three --data-dir "$D" --listen 127.0.0.1:0 --store "$PG/moved" || fail "restart: $(cat "$W/three.err")"
grep -q "moved\|copied" "$W/three.err" && fail "a second start moved again"
stop

# --- another deployment's file: refused, nothing changed -------------------
E=$W/other
start four --data-dir "$E" --listen 127.0.0.1:0 --demo || fail "opentsed: $(cat "$W/four.err")"
stop
cp "$D/master.key" "$E/master.key.of-moved"
SUM=$(sha256sum "$E/opentse.db" | cut -d' ' -f1)
if start five --data-dir "$E" --listen 127.0.0.1:0 --store "$PG/moved"; then fail "a second deployment was merged"; fi
grep -q "cannot move $E/opentse.db into the PostgreSQL store: .*the PostgreSQL store is not empty (it holds 1 TSE and" "$W/five.err" ||
    fail "no message naming the refusal: $(cat "$W/five.err")"
[ "$(sha256sum "$E/opentse.db" | cut -d' ' -f1)" = "$SUM" ] || fail "the refused file was changed"
[ -e "$E/pre-store-backup" ] && fail "the refused file was moved"

# --- copied, then a crash before the file was moved ------------------------
cp "$D/pre-store-backup/opentse.db" "$D/opentse.db"
start six --data-dir "$D" --listen 127.0.0.1:0 --store "$PG/moved" || fail "after the crash: $(cat "$W/six.err")"
grep -q "was copied into the PostgreSQL store before" "$W/six.err" || fail "not recognised as copied: $(cat "$W/six.err")"
[ -e "$D/opentse.db" ] && fail "the copied file was not moved"
login
[ "$(call GET "/api/v2/tss/$TSS" | json 'd["signature_counter"]')" -gt "$AFTER" ] || fail "the store lost logs"
stop

# --- a file that is no deployment store is refused ---------------------------
F=$W/bad
mkdir -m 700 "$F"
cp "$D/master.key" "$F/master.key"
printf 'not a database' >"$F/opentse.db"
createdb empty
if start seven --data-dir "$F" --listen 127.0.0.1:0 --store "$PG/empty"; then fail "a damaged file was moved"; fi
grep -q "cannot move $F/opentse.db into the PostgreSQL store" "$W/seven.err" || fail "$(cat "$W/seven.err")"
[ -f "$F/opentse.db" ] || fail "the damaged file was moved"
echo "ok: moved to PostgreSQL ($BEFORE logs before, counter $AFTER after)"
