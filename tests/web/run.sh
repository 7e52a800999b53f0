#!/bin/sh
# run.sh - installs the browser test's npm packages (package-lock.json, with
# npm ci, into the build directory; no browser is downloaded: the test uses
# the system's Chromium) and runs test_console.js.
# usage: run.sh SOURCE_DIR OUT_DIR
set -e
src=$1
out=$2
npmdir="$out/npm"
mkdir -p "$npmdir"
if ! cmp -s "$src/package-lock.json" "$npmdir/package-lock.json" || [ ! -d "$npmdir/node_modules/playwright-core" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$npmdir/"
  (cd "$npmdir" && npm ci --no-audit --no-fund --loglevel=error)
fi
OUT_DIR="$out" NODE_PATH="$npmdir/node_modules" exec node "$src/test_console.js"
