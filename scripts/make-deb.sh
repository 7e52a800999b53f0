#!/bin/sh
# make-deb.sh BUILD_DIR - builds the Debian packages (opentse, libopentse0,
# libopentse-dev) with dpkg-buildpackage from a copy of the source tree in
# BUILD_DIR/deb/, where the .deb files land (dpkg-buildpackage writes beside
# the tree it builds). Used by `make deb`; rebuilds only when a source file
# is newer than the packages.
set -eu
build=$(realpath -m "$1")
src=$(cd "$(dirname "$0")/.." && pwd)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
out=$build/deb
stamp=$out/opentse_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
if [ -f "$stamp" ] && [ -z "$(find "$src" -path "$build" -prune -o -path "$src/.git" -prune \
        -o -path "$src/build*" -prune -o -type f -newer "$stamp" -print | head -n1)" ]; then
    echo "Debian packages up to date in $out"
    exit 0
fi
tree=$out/opentse-$version
rm -rf "$out"
mkdir -p "$tree"
# the tree without build directories, demo data or version control
(cd "$src" && find . -mindepth 1 -maxdepth 1 ! -name '.git' ! -name 'build*' ! -name 'demo-data' \
    ! -name "$(basename "$build")" -exec cp -a {} "$tree/" \;)
cd "$tree"
DEB_BUILD_OPTIONS="nocheck parallel=${JOBS:-2}" dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 ||
    { tail -n 40 "$out/build.log"; echo "dpkg-buildpackage failed: $out/build.log"; exit 1; }
ls "$out"/*.deb
