#!/bin/sh
# check_seapi.sh BUILD_DIR SOURCE_ROOT file|http - installs the build into a
# DESTDIR tree, builds register_day.c (written only against
# <opentse/se_api.h>) with `pkg-config --cflags --libs opentse`, and runs it
# on a new TSE: a file: TSE made with `opentse tss create`, or a TSS of a
# real opentsed started on a free port. The archives it exported are then
# checked with tools we did not write (tar, openssl) and `opentse verify`.
set -eu
build=$1
src=$2
transport=$3
mkdir -p "$build/tests/seapi"
work=$(mktemp -d "$build/tests/seapi/$transport-XXXXXX")
server=
cleanup() {
    [ -z "$server" ] || kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
meson install -C "$build" --no-rebuild --destdir "$work/root" --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
    'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
san=$(meson introspect "$build" --buildoptions | python3 -c \
    'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="b_sanitize"][0])')
cc="cc"
[ "$san" = none ] || cc="cc -fsanitize=$san"
[ -f "$work/root$prefix/include/opentse/se_api.h" ] || { echo "se_api.h is not installed"; exit 1; }
pcdir=$(dirname "$(find "$work/root" -name opentse.pc | head -n1)")
export PKG_CONFIG_PATH="$pcdir"
flags="--define-variable=prefix=$work/root$prefix"
$cc -std=c11 -Wall -Wextra -Werror -o "$work/register_day" "$src/tests/seapi/register_day.c" \
    $(pkg-config $flags --cflags --libs opentse)
export LD_LIBRARY_PATH="$(pkg-config $flags --variable=libdir opentse)"
opentse="$work/root$prefix/bin/opentse"

# an update package, signed by the update key with the openssl command line
openssl ecparam -name prime256v1 -genkey -noout -out "$work/update.key"
openssl pkey -in "$work/update.key" -pubout -out "$work/update.pub"
printf 'OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,0.1.1-day,\n' >"$work/update.manifest"
openssl dgst -sha256 -sign "$work/update.key" -out "$work/update.sig" "$work/update.manifest"
{ cat "$work/update.manifest"; echo '-----BEGIN OPENTSE UPDATE SIGNATURE-----'; openssl base64 -in "$work/update.sig"
  echo '-----END OPENTSE UPDATE SIGNATURE-----'; } >"$work/update.pkg"

if [ "$transport" = file ]; then
    export OPENTSE_UPDATE_KEY="$work/update.pub"
    "$opentse" keygen "$work/master.key" >/dev/null
    url="file:$work/tse.db"
    key="$work/master.key"
    puk=$("$opentse" --url "$url" --master-key "$key" tss create | sed -n 's/^PUK \([0-9]*\).*/\1/p')
else
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir "$work/data"
    "$work/root$prefix/bin/opentsed" --data-dir "$work/data" --listen "127.0.0.1:$port" --demo \
        --update-key "$work/update.pub" \
        >"$work/opentsed.log" 2>&1 &
    server=$!
    i=0
    until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || { echo "opentsed did not start"; cat "$work/opentsed.log"; exit 1; }
        sleep 0.05
    done
    OPENTSE_API_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$work/data/demo.json")
    OPENTSE_API_SECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_secret"])' "$work/data/demo.json")
    export OPENTSE_API_KEY OPENTSE_API_SECRET
    uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    url="http://127.0.0.1:$port/tss/$uuid"
    key=-
    puk=$("$opentse" --url "$url" tss create | sed -n 's/^PUK \([0-9]*\).*/\1/p')
fi
[ -n "$puk" ] || { echo "no PUK from tss create"; exit 1; }

"$work/register_day" "$url" "$puk" "$key" "$work/export.tar" "$work/certs.tar" "$work/update.pkg"

# the chunked export is one archive: tar reads it, every log parses as DER,
# our verifier accepts every signature
mkdir "$work/x"
tar -xf "$work/export.tar" -C "$work/x"
[ -f "$work/x/info.csv" ] || { echo "no info.csv in the export"; exit 1; }
n=0
for f in "$work/x"/*.log; do
    openssl asn1parse -inform DER -in "$f" >/dev/null || { echo "$f is not DER"; exit 1; }
    n=$((n + 1))
done
[ "$n" -ge 10 ] || { echo "only $n logs exported"; exit 1; }
ls "$work/x" | grep -q '_Log-Sys_lockTransactionLogging\.log$' || { echo "no lockTransactionLogging log"; exit 1; }
ls "$work/x" | grep -q '_Log-Sys_unlockTransactionLogging\.log$' || { echo "no unlockTransactionLogging log"; exit 1; }
ls "$work/x" | grep -q '_Log-Sys_setDescription\.log$' || { echo "no setDescription log"; exit 1; }
"$opentse" verify "$work/export.tar" >/dev/null || { "$opentse" verify "$work/export.tar"; exit 1; }
# the certificate archive: DER certificates that openssl reads, named by key serial
mkdir "$work/c"
tar -xf "$work/certs.tar" -C "$work/c"
m=0
for f in "$work/c"/*_X509.der; do
    openssl x509 -inform DER -in "$f" -noout || { echo "$f is not a certificate"; exit 1; }
    m=$((m + 1))
done
[ "$m" -ge 2 ] || { echo "only $m certificates exported"; exit 1; }
echo "$transport: $n logs, $m certificates"
