#!/bin/sh
# split_export.sh - export archives under their TR-03151-1 v1.1.1 names
# (section 2.5.2) and split into numbered parts: `opentse export --dir
# --split-size` over both transports; Python's tarfile reads the parts'
# concatenation as the archive, with the same logs as a later export in
# one file; verify and restore take the parts back (file: and http:) and
# refuse parts out of order, with a gap, or without part 001, changing nothing.
# Usage: split_export.sh OPENTSE [OPENTSED]
set -eu
OPENTSE=$1 OPENTSED=${2:-}
. "$(dirname "$0")/../lib.sh"
work split
# the members of an archive given as its parts, read by Python's tarfile
# from their concatenation: "name size sha256" per line
members() {
    python3 - "$@" <<'PY'
import hashlib, io, sys, tarfile
data = b"".join(open(p, "rb").read() for p in sys.argv[1:])
with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
    for m in t.getmembers():
        if m.name != "info.csv":
            print(m.name, m.size, hashlib.sha256(t.extractfile(m).read()).hexdigest())
PY
}

"$OPENTSE" keygen "$W/master.key" >/dev/null
export OPENTSE_MASTER_KEY="$W/master.key" OPENTSE_ADMIN_PIN=246810
run_day() { # a register's day on $OPENTSE_URL: 10 transactions
    "$OPENTSE" client add reg-1 >/dev/null
    i=0
    while [ $i -lt 10 ]; do
        n=$("$OPENTSE" --json tx start --client reg-1 | json 'd["transaction_number"]')
        "$OPENTSE" tx finish "$n" --client reg-1 --data "Beleg^$i" >/dev/null
        i=$((i + 1))
    done
}

check() { # $1: label; exports on $OPENTSE_URL, checks, restores
    label=$1
    mkdir -p "$W/$label/parts" "$W/$label/whole"
    "$OPENTSE" --json export --dir "$W/$label/parts" --split-size 4096 > "$W/$label/parts.json"
    "$OPENTSE" --json export --dir "$W/$label/whole" > "$W/$label/whole.json"
    parts=$(cd "$W/$label/parts" && ls)
    whole=$(cd "$W/$label/whole" && ls)
    # the names of TR-03151-1 v1.1.1 2.5.2 (this TSE keeps unixTime)
    echo "$whole" | grep -Eqx 'Export_Unixt_[1-9][0-9]*\.tar' || fail "$label: whole archive named $whole"
    n=$(echo "$parts" | wc -l)
    [ "$n" -ge 3 ] || fail "$label: $n parts"
    stem=$(echo "$parts" | head -1 | sed 's/\.001$//')
    echo "$stem" | grep -Eqx 'Export_Unixt_[1-9][0-9]*\.tar' || fail "$label: parts named $parts"
    i=1
    for p in $parts; do
        [ "$p" = "$(printf '%s.%03d' "$stem" $i)" ] || fail "$label: part $i is $p"
        i=$((i + 1))
    done
    # every part but the last holds exactly the split size
    for p in $(echo "$parts" | head -n $((n - 1))); do
        [ "$(stat -c %s "$W/$label/parts/$p")" = 4096 ] || fail "$label: $p is not 4096 bytes"
    done
    [ "$(json 'len(d["files"])' < "$W/$label/parts.json")" = "$n" ] || fail "$label: --json files"
    set -- $(for p in $parts; do echo "$W/$label/parts/$p"; done)
    members "$@" > "$W/$label/parts.members"
    members "$W/$label/whole/$whole" > "$W/$label/whole.members"
    # the later export holds the same logs and the ones written since (each open's selfTest)
    extra=$(grep -vxFf "$W/$label/whole.members" "$W/$label/parts.members" || true)
    [ -z "$extra" ] || fail "$label: the parts hold what the whole archive does not: $extra"
    [ "$(head -n "$(wc -l < "$W/$label/parts.members")" "$W/$label/whole.members")" = "$(cat "$W/$label/parts.members")" ] ||
        fail "$label: the parts are not the start of the whole archive"
    [ "$(grep -c '\.log ' "$W/$label/parts.members")" -ge 20 ] || fail "$label: too few logs in the parts"
    # verify reads the parts given in order as the archive
    "$OPENTSE" verify "$@" >"$W/$label/verify.txt" || fail "$label: the parts do not verify: $(cat "$W/$label/verify.txt")"
    grep -q "($n parts): OK, intact and complete" "$W/$label/verify.txt" || fail "$label: $(head -1 "$W/$label/verify.txt")"
    rc=0
    "$OPENTSE" verify "$2" 2>"$W/err" >/dev/null || rc=$?
    [ $rc = 2 ] && grep -q "without part 001 before it" "$W/err" || fail "$label: verify of part 002 alone: $rc $(cat "$W/err")"
    # restore: the parts in order are one archive; out of order, with a gap, or without 001 it is refused
    p1=$1 p2=$2 p3=$3
    if "$OPENTSE" restore "$p2" "$p1" 2>"$W/err"; then fail "$label: parts out of order restored"; fi
    grep -q "without part 001 before it" "$W/err" || fail "$label: $(cat "$W/err")"
    if "$OPENTSE" restore "$p1" "$p3" 2>"$W/err"; then fail "$label: parts with a gap restored"; fi
    grep -q "must be given in order" "$W/err" || fail "$label: $(cat "$W/err")"
    "$OPENTSE" --json restore "$@" > "$W/$label/restore.json" || fail "$label: restore of the parts"
    [ "$(json 'd["restored"]' < "$W/$label/restore.json")" = 0 ] || fail "$label: restored logs the store had"
    # the TSE's logs still form one intact, complete archive, and so do the parts
    mkdir -p "$W/$label/after"
    "$OPENTSE" export --dir "$W/$label/after" 2>/dev/null
    "$OPENTSE" verify "$W/$label/after/"* >/dev/null || fail "$label: the export after the restores does not verify"
    # a failed split export leaves no part behind
    if "$OPENTSE" export --dir "$W/$label/nowhere" --split-size 4096 2>/dev/null; then fail "$label: export into a missing dir"; fi
    [ ! -e "$W/$label/nowhere" ] || fail "$label: a failed export left files"
    echo "ok $label: $n parts of $stem"
}

export OPENTSE_URL="file:$W/tse.db"
"$OPENTSE" --json tss create > "$W/create.json"
OPENTSE_PUK=$(json 'd["puk"]' < "$W/create.json") "$OPENTSE" tss init --description "split export test" >/dev/null
run_day
check file

if [ -n "$OPENTSED" ]; then
    start srv --data-dir "$W/srv" --listen 127.0.0.1:0 --demo || fail "opentsed --demo did not start: $(cat "$W/srv.err")"
    D="$W/srv/demo.json"
    export OPENTSE_URL="$BASE/tss/$(json 'd["tss_id"]' < "$D")" OPENTSE_API_KEY=$(json 'd["api_key"]' < "$D") \
        OPENTSE_API_SECRET=$(json 'd["api_secret"]' < "$D") OPENTSE_ADMIN_PIN=$(json 'd["admin_pin"]' < "$D")
    run_day
    check http
fi
