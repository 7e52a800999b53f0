#!/bin/sh
# install-deps.sh - installs the Debian packages OpenTSE needs to build, test
# and run, when any is missing. Used by `make`; safe to run again.
set -e
PKGS="gcc make meson ninja-build pkg-config openssl sqlite3 \
libssl-dev libsqlite3-dev libcmocka-dev libarchive-dev libjansson-dev \
libmicrohttpd-dev libcurl4-openssl-dev libqrencode-dev libpng-dev zbar-tools file libxml2-utils libpq-dev postgresql curl \
python3 chromium chromium-driver nginx-light"
missing=""
# The web console's browser test runs playwright-core on Node.js; any
# Node.js 20 or later with npm will do, else Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing="nodejs npm"
fi
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
