#!/bin/sh
# check_symbols.sh LIBOPENTSE_SO - the shared library exports tse_* symbols
# and the SE API of se_api.h (next to opentse.h) only, and the whole public
# API (every TSE_API function of opentse.h, every SE_API one of se_api.h).
set -eu
so=$1
header=$2
exported=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}')
se_api=$(dirname "$header")/se_api.h
se_names=$(sed -n 's/^SE_API short int \([A-Za-z]*\)(.*/\1/p' "$se_api")
[ "$(printf '%s\n' "$se_names" | wc -l)" -ge 50 ] || { echo "se_api.h declares too few functions"; exit 1; }
bad=$(printf '%s\n' "$exported" | grep -v '^tse_' | grep -vxF "$se_names" || true)
if [ -n "$bad" ]; then
    echo "symbols outside tse_ exported from $so:"; echo "$bad"; exit 1
fi
missing=0
for f in $(sed -n 's/^TSE_API [^(]*[ *]\(tse_[a-z0-9_]*\)(.*/\1/p' "$header"); do
    if ! printf '%s\n' "$exported" | grep -qx "$f"; then
        echo "public function $f is not exported"; missing=1
    fi
done
for f in $se_names; do
    printf '%s\n' "$exported" | grep -qx "$f" || { echo "SE API function $f is not exported"; missing=1; }
done
n=$(printf '%s\n' "$exported" | grep -c '^tse_')
[ "$n" -gt 40 ] || { echo "only $n tse_ symbols exported"; exit 1; }
exit $missing
