#!/bin/sh
# install-deps.sh - installs the Debian packages OpenTSE needs to build, test
# and run, when any is missing. Used by `make`; safe to run again.
set -e
# Each one is used: the build (compiler, Meson, the libraries of DESIGN.md,
# libsystemd for sd_notify), the tests (cmocka; openssl, zbarimg and file
# check our output; curl talks to opentsed; python3 reads JSON in the shell
# tests; python3-jsonschema holds the API's answers against docs/openapi.json;
# script gives the CLI a terminal; chromium shows the verify report and
# the web console, nginx-light proxies it), `make deb` and its test (debhelper,
# dpkg-dev, fakeroot, debootstrap, iproute2; systemd-analyze, man and bash check the
# unit, the man pages and the completion), the fuzz harnesses (clang and its
# libFuzzer runtime); libpq-dev builds the PostgreSQL store, postgresql gives
# its tests a server of their own (and pgbench to `make bench`).
PKGS="gcc make meson ninja-build pkg-config python3 python3-jsonschema \
libssl-dev libsqlite3-dev libpq-dev postgresql libcmocka-dev libarchive-dev libjansson-dev \
libmicrohttpd-dev libcurl4-openssl-dev libqrencode-dev libpng-dev libsystemd-dev \
openssl zbar-tools file curl bsdutils \
chromium chromium-driver nginx-light \
debhelper dpkg-dev fakeroot debootstrap iproute2 systemd man-db bash \
clang libclang-rt-14-dev"
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
