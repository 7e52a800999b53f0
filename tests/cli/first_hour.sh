#!/bin/sh
# first_hour.sh - a newcomer's first hour, as README.md and the demo tell it:
# every face reaches what `opentsed --demo` prints, the operator key is never
# shown by a service that did not start and can be renewed, `opentse keygen`,
# and the command line's output (errors, counters, times, plurals, progress,
# --version, the access log). Runs the real binaries.
# Usage: first_hour.sh OPENTSED OPENTSE OPENTSE_POS OPENTSE_DEMO API_MD
set -eu
OPENTSED=$1 OPENTSE=$2 POS=$3 DEMO=$4 API_MD=$5
. "$(dirname "$0")/../lib.sh"
work first-hour

# --- the demo: what it prints works from curl, the CLI, libopentse (pos) ----
start demo --data-dir "$W/demo" --listen 127.0.0.1:0 --demo || fail "opentsed --demo did not start"
out=$W/demo.out
port=${BASE##*:}
grep -q "^  client_serial DEMO-KASSE-01$" "$out" || fail "the demo does not name its client's serial number"
grep -q "127.0.0.1:$port/" "$out" || fail "the demo's examples do not name the port it listens on"
grep -q "127.0.0.1:0" "$out" && fail "the demo's examples name port 0"
# the curl example, as printed
sed -n '/^try it/,/^$/p' "$out" | sed 1d >"$W/curl.sh"
sh "$W/curl.sh" >"$W/curl.result"
grep -q '"state":"FINISHED"' "$W/curl.result" || fail "the demo's curl example does not finish a receipt: $(cat "$W/curl.result")"
grep -q '"signature":{"value":"' "$W/curl.result" || fail "the demo's curl receipt has no signature"
# the command-line example, as printed
sed -n '/^or with the command line/,/^$/p' "$out" | sed 1d | sed "s|opentse |\"$OPENTSE\" |g" >"$W/cli.sh"
sh -e "$W/cli.sh" >"$W/cli.result" 2>&1 || fail "the demo's opentse example fails: $(cat "$W/cli.result")"
grep -q "^finishTransaction transaction" "$W/cli.result" || fail "the demo's opentse example did not finish"
eval "$(grep '^  export OPENTSE_URL' "$out")"
uuid=$(grep '^  client_id ' "$out" | awk '{print $2}')
"$OPENTSE" client list | grep -qx DEMO-KASSE-01 || fail "client list does not show DEMO-KASSE-01"
"$OPENTSE" tx start --client DEMO-KASSE-01 >/dev/null || fail "tx start --client DEMO-KASSE-01 refused"
"$OPENTSE" --json tx start --client "$uuid" >"$W/byuuid.json" || fail "tx start with the client's UUID refused"
[ "$(json 'd["operation"]' <"$W/byuuid.json")" = startTransaction ] || fail "tx start by UUID"
"$POS" "$OPENTSE_URL" DEMO-KASSE-01 --journal "$W/pos.journal" >"$W/pos.out" 2>&1 || fail "opentse-pos: $(cat "$W/pos.out")"
[ "$(grep -c '^receipt [0-9]: signed' "$W/pos.out")" = 3 ] || fail "opentse-pos did not sign its three receipts"
# a second start prints the saved demo again, on its own port
stop "$PID"
start demo2 --data-dir "$W/demo" --listen 127.0.0.1:0 --demo || fail "the second start failed"
grep -q "^  client_id     $uuid$" "$W/demo2.out" || fail "the second start does not print the saved demo"
grep -q "operator api_secret" "$W/demo2.out" && fail "the second start prints an operator key again"

# --- readiness for systemd (Type=notify): READY=1 once it listens ------------
python3 - "$OPENTSED" "$W/notify" <<'PY' || fail "no READY=1 on \$NOTIFY_SOCKET after the listening line"
import os, socket, subprocess, sys
path = sys.argv[2] + ".sock"
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(10)
p = subprocess.Popen([sys.argv[1], "--data-dir", sys.argv[2], "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                     env=dict(os.environ, NOTIFY_SOCKET=path), text=True)
try:
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.startswith("opentsed listening"):
            break
    msg = s.recv(256).decode()
    assert "READY=1" in msg, msg
    assert any(l.startswith("operator api_secret") for l in lines), "READY=1 before the operator key"
    p.terminate()
    assert "STOPPING=1" in s.recv(256).decode()
finally:
    p.kill()
    p.wait()
PY

# --- /metrics and --version ------------------------------------------------
ver=$("$OPENTSED" --version)
case "$ver" in "opentsed "[0-9]*.[0-9]*.[0-9]*) ;; *) fail "opentsed --version: $ver" ;; esac
v=${ver#opentsed }
[ "$("$OPENTSE" --version)" = "opentse $v (libopentse $v)" ] || fail "opentse --version: $("$OPENTSE" --version)"
curl -s "$BASE/metrics" | grep -q "^opentsed_build_info{version=\"$v\",openssl=\"3\.[^\"]*\",sqlite=\"3\.[^\"]*\",microhttpd=\"[^\"]*\"} 1$" ||
    fail "no opentsed_build_info in /metrics"

# --- the access log: duration_ms rounded, the fields docs/api.md names ----------
stop "$PID"
line=$(grep '"route"' "$W/demo2.err" | tail -1)
[ -n "$line" ] || fail "no access log line"
echo "$line" | python3 -c '
import json, sys, re
d = json.loads(sys.stdin.read())
ms = re.search(r"\"duration_ms\":([0-9.e+-]+)", sys.argv[1]).group(1)
assert len(ms.split(".")[-1]) <= 3 or "." not in ms, "duration_ms " + ms
doc = open(sys.argv[2]).read()
row = [l for l in doc.splitlines() if l.startswith("| `access-log`")][0]
named = set(re.findall(r"`([a-z_]+)`", row)) - {"access-log"}
assert named >= set(d) and set(d) | {"key_id"} >= named, (sorted(named), sorted(d))
' "$line" "$API_MD" || fail "access log: $line"

# --- the operator key: not shown when the port is taken; renewable ------------
start holder --data-dir "$W/holder" --listen 127.0.0.1:0 || fail "opentsed did not start"
HOLD=$PID
taken=${BASE##*:}
if "$OPENTSED" --data-dir "$W/op" --listen "127.0.0.1:$taken" >"$W/taken.out" 2>"$W/taken.err"; then
    fail "opentsed started on a taken port"
fi
grep -q "api_secret\|api_key" "$W/taken.out" && fail "a service that did not start printed the operator key"
grep -q "127.0.0.1:$taken" "$W/taken.err" || fail "the bind error does not name the port: $(cat "$W/taken.err")"
grep -q "port 0" "$W/taken.err" && fail "the bind error names port 0"
stop "$HOLD"
start op --data-dir "$W/op" --listen 127.0.0.1:0 || fail "opentsed did not start after the port was free"
key1=$(sed -n 's/^operator api_key: *//p' "$W/op.out")
sec1=$(sed -n 's/^operator api_secret: *//p' "$W/op.out")
[ -n "$key1" ] && [ -n "$sec1" ] || fail "the first real start does not print the operator key"
grep -q "opentsed new-operator-key --data-dir $W/op" "$W/op.out" || fail "the recovery command is not shown"
auth() { curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/api/v2/auth" -d "{\"api_key\":\"$1\",\"api_secret\":\"$2\"}"; }
[ "$(auth "$key1" "$sec1")" = 200 ] || fail "the operator key does not authenticate"
"$OPENTSED" new-operator-key --data-dir "$W/op" >"$W/renew.out" 2>&1 && fail "new-operator-key ran beside the service"
grep -q "in use" "$W/renew.out" || fail "new-operator-key beside the service: $(cat "$W/renew.out")"
stop "$PID"
"$OPENTSED" new-operator-key --data-dir "$W/op" >"$W/renew.out" || fail "new-operator-key failed"
key2=$(sed -n 's/^operator api_key: *//p' "$W/renew.out")
sec2=$(sed -n 's/^operator api_secret: *//p' "$W/renew.out")
[ -n "$key2" ] && [ "$key2" != "$key1" ] || fail "new-operator-key printed no new key"
"$OPENTSED" new-operator-key --data-dir "$W/fresh" >"$W/fresh.out" || fail "new-operator-key on a fresh directory"
grep -q "^operator api_secret: " "$W/fresh.out" || fail "new-operator-key on a fresh directory printed no key"
start freshstart --data-dir "$W/fresh" --listen 127.0.0.1:0 || fail "first start after new-operator-key"
grep -q "api_secret" "$W/freshstart.out" && fail "the first start printed a second operator key"
stop "$PID"
start op3 --data-dir "$W/op" --listen 127.0.0.1:0 || fail "restart after new-operator-key"
grep -q "api_secret" "$W/op3.out" && fail "a restart printed an operator key"
[ "$(auth "$key1" "$sec1")" = 401 ] || fail "the lost operator key still works"
[ "$(auth "$key2" "$sec2")" = 200 ] || fail "the new operator key does not work"
stop "$PID"

# --- keygen, and an embedded TSE made with it ---------------------------------
cd "$W"
"$OPENTSE" keygen mk >keygen.out || fail "keygen"
[ "$(stat -c %a mk)" = 600 ] || fail "keygen: mode $(stat -c %a mk)"
grep -Eqx '[0-9a-f]{64}' mk || fail "keygen: not 64 hex digits"
cp mk mk.before
"$OPENTSE" keygen mk 2>keygen.err && fail "keygen overwrote a key"
cmp -s mk mk.before || fail "keygen changed an existing key"
grep -q "ALREADY_EXISTS" keygen.err || fail "keygen on an existing file: $(cat keygen.err)"
rc=0; "$OPENTSE" keygen 2>/dev/null || rc=$?
[ $rc = 2 ] || fail "keygen without FILE is not a usage error ($rc)"
export OPENTSE_URL=file:$W/t.db OPENTSE_MASTER_KEY=$W/mk
unset OPENTSE_API_KEY OPENTSE_API_SECRET
OPENTSE_PUK=$("$OPENTSE" --json tss create | json 'd["puk"]') || fail "tss create with a keygen key"
export OPENTSE_PUK OPENTSE_ADMIN_PIN=135790
"$OPENTSE" tss init --description first-hour >/dev/null
"$OPENTSE" client add K1 >/dev/null

# --- errors once, ISO times, --opt=value, --cursor 0, plurals -------------------
"$OPENTSE" tx start --client NOPE 2>err.txt && fail "unknown client accepted"
[ "$(grep -o CLIENT_NOT_REGISTERED err.txt | wc -l)" = 1 ] || fail "the error code is not printed once: $(cat err.txt)"
"$OPENTSE" tx start --client=K1 >start.txt || fail "--client=K1 refused"
grep -Eq '^  log time +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' start.txt || fail "tx: log time not ISO 8601: $(cat start.txt)"
"$OPENTSE" --json tx finish 1 --client K1 --data=x >fin.json
t=$(json 'd["log_time"]' <fin.json)
[ "$(date -u -d "@$t" +%Y)" -ge 2024 ] || fail "--json log_time is not seconds since 1970: $t"
"$OPENTSE" export --out=all.tar 2>export.txt || fail "export --out=FILE refused: $(cat export.txt)"
[ -s all.tar ] || fail "export --out=FILE wrote nothing"
"$OPENTSE" export --cursor 0 --out zero.tar 2>zero.txt || fail "export --cursor 0 refused: $(cat zero.txt)"
cmp -s all.tar zero.tar || [ "$(tar -tf zero.tar | wc -l)" -ge "$(tar -tf all.tar | wc -l)" ] || fail "--cursor 0 is not everything"
c=$(sed -n 's/.*--cursor \([0-9]*\)$/\1/p' zero.txt)
"$OPENTSE" tx start --client K1 >/dev/null
"$OPENTSE" export --cursor "$c" --out one.tar 2>one.txt
grep -q "^3 logs, " one.txt || fail "plural: $(cat one.txt)"   # selfTest and start of tx start, selfTest of this export
"$OPENTSE" export --cursor "$(sed -n 's/.*--cursor \([0-9]*\)$/\1/p' one.txt)" --out none.tar 2>none.txt
grep -q "^1 log, " none.txt || fail "singular: $(cat none.txt)"
"$OPENTSE" --help | grep -q "http(s)://host:port/tss/<uuid>" || fail "--help names no /tss/<uuid>"

# --- verify-log counters; verify of a missing file ------------------------------
mkdir x && tar -C x -xf all.tar
finish=$(ls x/*Finish*.log)
n=$(echo "$finish" | sed 's/.*_Sig-\([0-9]*\)_.*/\1/')
"$OPENTSE" verify-log "$finish" >vl.txt || true
grep -q "counters $n\.\.$n," vl.txt || fail "verify-log counters: $(cat vl.txt)"
"$OPENTSE" verify missing.tar >miss.txt && fail "verify of a missing file passed"
grep -q "archive-unreadable" miss.txt || fail "verify missing.tar: $(cat miss.txt)"
grep -q " 0 logs\| 0 transactions" miss.txt && fail "verify missing.tar prints an all-zero summary: $(cat miss.txt)"
rc=0; "$OPENTSE" verify-log --max-findings=5 "$finish" >vlc.txt || rc=$?
[ "$rc" -le 3 ] || fail "verify-log --max-findings=N refused: $(cat vlc.txt)"
grep -Eq "verdict [0-9]: [0-9]+ errors?, [0-9]+ warnings?, [0-9]+ notes?\)" vlc.txt || fail "verify summary: $(cat vlc.txt)"
grep -Eq "(^|[^0-9])1 (errors|warnings|notes|logs|signatures)" vlc.txt && fail "verify: plural of one: $(cat vlc.txt)"
"$OPENTSE" verify --threads=1 --max-findings=5 none.tar >/dev/null || fail "verify --threads=N refused"
# --name=VALUE everywhere (getopt_long): the option is read, not refused as unknown
"$OPENTSE" qr render --png=qr.png --scale=3 "$(cat "$OPENTSE_FIXTURES/qr-p256.txt")" >/dev/null || fail "qr render --png=FILE refused"
file qr.png | grep -q "PNG image data, 255 x 255" || fail "qr render --scale=3: $(file qr.png)"
printf '%s' "$OPENTSE_ADMIN_PIN" >pin.txt
env -u OPENTSE_ADMIN_PIN "$OPENTSE" restore --pin-file=pin.txt none.tar >opt.txt 2>&1 || fail "restore --pin-file=FILE: $(cat opt.txt)"
rc=0; env -u OPENTSE_ADMIN_PIN "$OPENTSE" delete-stored-data --pin-file=no-such-file >opt.txt 2>&1 || rc=$?
[ "$rc" -ne 0 ] && ! grep -q "unknown option" opt.txt || fail "delete-stored-data --pin-file=FILE: $(cat opt.txt)"

# --- progress: on a terminal only, done/total, rate, ETA ------------------------
script -qec "\"$OPENTSE\" export --out tty.tar" /dev/null >tty.txt </dev/null
total=$(tar -tf tty.tar | grep -vc 'info.csv\|_X509.der')
grep -Eq "\] $total/$total logs  [0-9]+ logs/s  [0-9.]+ MiB  ETA 0:00" tty.txt || fail "no progress line on a terminal: $(cat -v tty.txt)"
grep -q "logs/s" export.txt && fail "a progress line without a terminal"

# --- opentse-demo: one line per processData --------------------------------------
"$DEMO" "$W/embedded" >demo.txt
grep -q 'processData "1;\\"Kaffee\\";2.50\\n1;\\"Brezel\\";1.20"$' demo.txt || fail "opentse-demo breaks processData: $(grep -A1 Update demo.txt)"
grep -Eq 'logTime [0-9]{4}-[0-9]{2}-[0-9]{2}T' demo.txt || fail "opentse-demo: logTime not ISO 8601"
echo "first hour: ok"
