#!/bin/sh
# check_symbols.sh LIBOPENTSE_SO - the shared library exports tse_* symbols
# only, and the whole public API (every TSE_API function of opentse.h).
set -eu
so=$1
header=$2
exported=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}')
bad=$(printf '%s\n' "$exported" | grep -v '^tse_' || true)
if [ -n "$bad" ]; then
    echo "symbols outside tse_ exported from $so:"; echo "$bad"; exit 1
fi
missing=0
for f in $(sed -n 's/^TSE_API [^(]*[ *]\(tse_[a-z0-9_]*\)(.*/\1/p' "$header"); do
    if ! printf '%s\n' "$exported" | grep -qx "$f"; then
        echo "public function $f is not exported"; missing=1
    fi
done
n=$(printf '%s\n' "$exported" | grep -c '^tse_')
[ "$n" -gt 40 ] || { echo "only $n tse_ symbols exported"; exit 1; }
exit $missing
