#!/bin/sh
# migrate.sh - a data directory of the layout before the one store
# (server.db beside tss/<uuid>.db files) is taken over by opentsed once:
# organizations, keys, TSSs with their logs and counters, clients and the
# transactions' stored answers are all there afterwards, the old files are
# kept in pre-store-backup/, a second start does not migrate again, and a
# directory that cannot be migrated is refused with nothing changed.
# Usage: migrate.sh OPENTSED OPENTSE
set -eu
OPENTSED=$1 OPENTSE=$2
. "$(dirname "$0")/../lib.sh"
work migrate

# --- an old data directory: one TSE file with logs, and server.db ---------
D=$W/data
mkdir -m 700 "$D" "$D/tss"
"$OPENTSE" keygen "$D/master.key" >/dev/null
TSS=0b7d1c5e-8f7a-4e3b-9a51-2c6f0d9e4a11 CLIENT=5f2e0c9a-1b3d-4e6f-8a7b-9c0d1e2f3a4b
TX=8c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f
export OPENTSE_URL=file:$D/tss/$TSS.db OPENTSE_MASTER_KEY=$D/master.key OPENTSE_ADMIN_PIN=12345678
OPENTSE_PUK=$("$OPENTSE" --json tss create | json 'd["puk"]')
export OPENTSE_PUK
"$OPENTSE" tss init --description "Kasse alt" >/dev/null
"$OPENTSE" client add KASSE-OLD-1 >/dev/null
"$OPENTSE" --json tx start --client KASSE-OLD-1 >"$W/start.json"
NUMBER=$(json 'd["transaction_number"]' <"$W/start.json")
"$OPENTSE" --json tx finish "$NUMBER" --client KASSE-OLD-1 --data 'Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar' >"$W/finish.json"
SIG=$(json 'd["signature"]' <"$W/finish.json")
COUNTER=$(json 'd["signature_counter"]' <"$W/finish.json")
BEFORE=$("$OPENTSE" --json tss info | json 'd["signature_counter"]')
unset OPENTSE_URL OPENTSE_MASTER_KEY
python3 - "$D/server.db" "$TSS" "$CLIENT" "$TX" "$NUMBER" "$SIG" "$COUNTER" <<'PY'
import hashlib, json, sqlite3, sys
path, tss, client, tx, number, sig, counter = sys.argv[1:]
db = sqlite3.connect(path)
db.executescript("""
PRAGMA journal_mode=WAL;
CREATE TABLE orgs(id INTEGER PRIMARY KEY, name TEXT NOT NULL, time_creation INTEGER);
CREATE TABLE api_keys(id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL, key TEXT UNIQUE NOT NULL,
  secret_hash TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, time_creation INTEGER);
CREATE TABLE tss(id TEXT PRIMARY KEY, org_id INTEGER NOT NULL, description TEXT, deployed INTEGER NOT NULL DEFAULT 0,
  time_creation INTEGER);
CREATE TABLE clients(tss_id TEXT NOT NULL, id TEXT NOT NULL, serial_number TEXT NOT NULL, state TEXT NOT NULL,
  time_creation INTEGER, PRIMARY KEY(tss_id, id));
CREATE TABLE txs(tss_id TEXT NOT NULL, id TEXT NOT NULL, number INTEGER NOT NULL, client_id TEXT NOT NULL,
  state TEXT NOT NULL, revision INTEGER NOT NULL, result TEXT NOT NULL, PRIMARY KEY(tss_id, id));
CREATE TABLE tss_links(predecessor TEXT PRIMARY KEY, successor TEXT UNIQUE NOT NULL, time_creation INTEGER);
""")
h = lambda s: hashlib.sha256(s.encode()).hexdigest()
db.execute("INSERT INTO orgs VALUES(1, 'Altbestand GmbH', 1700000000)")
db.execute("INSERT INTO api_keys VALUES(7, 0, 'operatorkey', ?, 0, 1700000000)", (h("operatorsecret"),))
db.execute("INSERT INTO api_keys VALUES(9, 1, 'orgkey', ?, 0, 1700000001)", (h("orgsecret"),))
db.execute("INSERT INTO api_keys VALUES(10, 1, 'revokedkey', ?, 1, 1700000002)", (h("revokedsecret"),))
db.execute("INSERT INTO tss VALUES(?, 1, 'Kasse alt', 1, 1700000003)", (tss,))
db.execute("INSERT INTO clients VALUES(?, ?, 'KASSE-OLD-1', 'REGISTERED', 1700000004)", (tss, client))
result = {"_id": tx, "_type": "TRANSACTION", "tss_id": tss, "client_id": client, "number": int(number),
          "state": "FINISHED", "revision": 2, "latest_revision": 2,
          "signature": {"value": sig, "counter": int(counter)}}
db.execute("INSERT INTO txs VALUES(?, ?, ?, ?, 'FINISHED', 2, ?)", (tss, tx, int(number), client, json.dumps(result)))
db.commit()
PY

# --- a copy that cannot be migrated: its TSS file is damaged ----------------
cp -r "$D" "$W/broken"
printf 'not a database' >"$W/broken/tss/$TSS.db"
if start broken --data-dir "$W/broken" --listen 127.0.0.1:0; then fail "a damaged data directory was accepted"; fi
grep -q "could not be migrated" "$W/broken.err" || fail "no message naming the failed migration: $(cat "$W/broken.err")"
[ -f "$W/broken/server.db" ] && [ -f "$W/broken/tss/$TSS.db" ] || fail "the failed migration moved the old files"
[ -e "$W/broken/opentse.db" ] && fail "the failed migration left a database"
ls "$W/broken" | grep -q 'opentse.db.new' && fail "the failed migration left its temporary database"

# --- the migration ----------------------------------------------------------
start one --data-dir "$D" --listen 127.0.0.1:0 || fail "opentsed did not start on the old directory: $(cat "$W/one.err")"
grep -q "migrated" "$W/one.err" || fail "the migration was not reported"
grep -q "operator api_secret" "$W/one.out" && fail "a new operator key was made although the old one is there"
[ -f "$D/opentse.db" ] || fail "no opentse.db"
[ -f "$D/pre-store-backup/server.db" ] && [ -f "$D/pre-store-backup/tss/$TSS.db" ] || fail "the old files were not kept"
[ -e "$D/server.db" ] && fail "server.db is still in place"
[ "$(stat -c %a "$D/opentse.db")" = 600 ] || fail "opentse.db is not 0600"
TOKEN=$(call POST /api/v2/auth '{"api_key":"orgkey","api_secret":"orgsecret"}' | json 'd["access_token"]')
call POST /api/v2/auth '{"api_key":"revokedkey","api_secret":"revokedsecret"}' >/dev/null
[ "$(cat "$W/status")" = 401 ] || fail "a revoked key works after the migration"
call GET "/api/v2/tss/$TSS" >"$W/tss.json"
AFTER=$(json 'd["signature_counter"]' <"$W/tss.json")
# opening a TSE writes its selfTest log: one more, no other change
[ "$AFTER" = $((BEFORE + 1)) ] || fail "the counter was $BEFORE, now $AFTER: $(cat "$W/tss.json")"
[ "$(json 'd["description"]' <"$W/tss.json")" = "Kasse alt" ] || fail "the description was lost"
call GET "/api/v2/tss/$TSS/client/$CLIENT" | json 'd["serial_number"]' | grep -qx KASSE-OLD-1 || fail "the client was lost"
call GET "/api/v2/tss/$TSS/tx/$TX" >"$W/tx.json"
[ "$(json 'd["signature"]["value"]' <"$W/tx.json")" = "$SIG" ] || fail "the stored answer was lost: $(cat "$W/tx.json")"
call PUT "/api/v2/tss/$TSS/tx/$TX?tx_revision=2" "{\"state\":\"FINISHED\",\"client_id\":\"$CLIENT\"}" >"$W/replay.json"
[ "$(json 'd["signature"]["value"]' <"$W/replay.json")" = "$SIG" ] || fail "a replay signs again"
# the TSS goes on signing where it stopped
NEW=8c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e60
call PUT "/api/v2/tss/$TSS/tx/$NEW?tx_revision=1" "{\"state\":\"ACTIVE\",\"client_id\":\"$CLIENT\"}" >"$W/new.json"
[ "$(cat "$W/status")" = 200 ] || fail "a new transaction on the migrated TSS: $(cat "$W/new.json")"
[ "$(json 'd["signature"]["counter"]' <"$W/new.json")" = $((AFTER + 1)) ] || fail "the next counter is not $((AFTER + 1))"
[ "$(json 'd["number"]' <"$W/new.json")" = $((NUMBER + 1)) ] || fail "the next transaction number is not $((NUMBER + 1))"
OPTOKEN=$(call POST /api/v2/auth '{"api_key":"operatorkey","api_secret":"operatorsecret"}' | json 'd["access_token"]')
TOKEN=$OPTOKEN
call GET /api/v2/organizations | json 'd["data"][0]["name"]' | grep -qx "Altbestand GmbH" || fail "the organization was lost"
stop

# --- a second start: nothing to migrate, the same data ----------------------
start two --data-dir "$D" --listen 127.0.0.1:0 || fail "the second start failed: $(cat "$W/two.err")"
grep -q "migrated" "$W/two.err" && fail "the second start migrated again"
TOKEN=$(call POST /api/v2/auth '{"api_key":"orgkey","api_secret":"orgsecret"}' | json 'd["access_token"]')
call GET "/api/v2/tss/$TSS" | json 'd["signature_counter"]' | grep -qx $((AFTER + 2)) || fail "the counter after a restart"
stop
# with the service stopped the command line opens one TSS of the database
"$OPENTSE" --url "file:$D/opentse.db#$TSS" --master-key "$D/master.key" --json tss info >"$W/cli.json" ||
    fail "opentse cannot open file:opentse.db#<id>"
[ "$(json 'd["signature_counter"]' <"$W/cli.json")" -ge $((AFTER + 2)) ] || fail "the command line sees another counter"
[ "$(json 'd["description"]' <"$W/cli.json")" = "Kasse alt" ] || fail "the command line sees another TSS"
echo "migrate: an old data directory (1 TSS, $BEFORE logs, 3 keys) taken over; a damaged one refused"
