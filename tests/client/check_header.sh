#!/bin/sh
# check_header.sh SOURCE_ROOT - the public headers at their own standard:
# every TSE_API function has a comment right above it (or above the group of
# declarations it stands in), every tse_err result is TSE_NODISCARD, a
# program that ignores such a result does not build with -Werror, and the
# headers still build where TSE_NODISCARD is empty (no GNU C).
set -eu
src=$1
inc="$src/include"
python3 - "$inc/opentse/opentse.h" "$inc/opentse/receipt.h" <<'PY'
import re, sys
bad = 0
for path in sys.argv[1:]:
    lines = open(path).read().split('\n')
    i = 0
    while i < len(lines):
        if not lines[i].startswith('TSE_API'):
            i += 1
            continue
        # the run of declarations this one stands in, and what is above it
        j = i
        while j > 0 and (lines[j - 1].startswith('TSE_API') or lines[j - 1].startswith(' ')
                         and not lines[j - 1].lstrip().startswith('*')):
            j -= 1
        name = re.search(r'(tse_\w+)\(', lines[i])
        if j == 0 or not lines[j - 1].rstrip().endswith('*/'):
            print('%s:%d: %s has no comment' % (path, i + 1, name.group(1) if name else lines[i]))
            bad = 1
        if re.match(r'TSE_API (TSE_NODISCARD )?tse_err ', lines[i]) and 'TSE_NODISCARD' not in lines[i]:
            print('%s:%d: %s returns a tse_err without TSE_NODISCARD' % (path, i + 1, name.group(1)))
            bad = 1
        i += 1
sys.exit(bad)
PY
mkdir -p "${OPENTSE_TEST_TMP:-/tmp}"
work=$(mktemp -d "${OPENTSE_TEST_TMP:-/tmp}/header-XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/ignore.c" <<'C'
#include <opentse/opentse.h>
#include <opentse/receipt.h>
void f(tse *t) { tse_self_test(t); }
C
if cc -Wall -Werror -I"$inc" -c "$work/ignore.c" -o "$work/ignore.o" 2>"$work/err"; then
    echo "ignoring tse_self_test's result built without an error"; exit 1
fi
grep -q "unused-result" "$work/err" || { echo "not refused for the ignored result:"; cat "$work/err"; exit 1; }
cc -U__GNUC__ -Wall -Werror -I"$inc" -c "$work/ignore.c" -o "$work/ignore.o" ||
    { echo "the headers do not build without GNU C"; exit 1; }
