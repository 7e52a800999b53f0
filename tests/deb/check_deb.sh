#!/bin/sh
# check_deb.sh BUILD_DIR SOURCE_ROOT - `make deb`'s packages in a fresh
# Debian 12 root: builds them (scripts/make-deb.sh, skipped when up to date),
# unpacks a copy of a debootstrap'd bookworm root (made once from the Debian
# mirror this machine's apt uses, with the packages' dependencies, and kept
# as BUILD_DIR/debroot/base.tar), installs the packages there with apt and
# checks that every file lands where Debian expects it, the system user and
# its data directory, `opentsed --version`, a program built with
# `pkg-config --cflags --libs opentse`, the unit (`systemd-analyze verify`),
# the man pages (`man -l --warnings`) and the bash completion; then runs every
# command of docs/deploy.md there (tests/deb/deploy_commands.sh). Needs root.
set -eu
build=$(realpath "$1")
src=$(realpath "$2")
[ "$(id -u)" = 0 ] || { echo "check_deb.sh needs root (debootstrap, chroot)"; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }

"$src/scripts/make-deb.sh" "$build" >/dev/null
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
debs="opentse_${version}_$arch.deb libopentse0_${version}_$arch.deb libopentse-dev_${version}_$arch.deb"
for d in $debs; do [ -f "$build/deb/$d" ] || fail "make deb built no $d"; done

# --- the cached base root: minbase + what the packages depend on + the tools
# the checks and docs/deploy.md use (gcc, pkg-config, curl, openssl, nginx)
deps=$(for d in $debs; do dpkg-deb -f "$build/deb/$d" Depends; done |
    tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep -v '^opentse$\|^libopentse' | sort -u | tr '\n' ' ')
tools="gcc libc6-dev pkg-config curl openssl nginx-light ca-certificates"
cache=$build/debroot
key=$(echo "bookworm $deps $tools" | sha256sum | cut -c1-16)
if [ ! -f "$cache/base-$key.tar" ]; then
    mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
    [ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*\/debian\) bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)
    [ -n "$mirror" ] || fail "no Debian mirror in /etc/apt"
    umount "$cache/root/proc" 2>/dev/null || true
    rm -rf --one-file-system "$cache" && mkdir -p "$cache/root"
    echo "debootstrap bookworm from $mirror (once; cached in $cache)"
    debootstrap --variant=minbase bookworm "$cache/root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
        { tail -n 20 "$cache/debootstrap.log"; fail "debootstrap failed"; }
    mount -t proc proc "$cache/root/proc"
    chroot "$cache/root" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive chroot "$cache/root" apt-get install -y -qq --no-install-recommends $deps $tools \
        >"$cache/apt.log" 2>&1 || { umount "$cache/root/proc"; tail -n 20 "$cache/apt.log"; fail "apt-get in the new root failed"; }
    chroot "$cache/root" apt-get clean
    umount "$cache/root/proc"
    tar --one-file-system -C "$cache/root" -cf "$cache/base-$key.tar.part" . &&
        mv "$cache/base-$key.tar.part" "$cache/base-$key.tar"
    rm -rf --one-file-system "$cache/root"
fi

# --- a fresh copy, our packages installed with apt ---------------------------
root=$(mktemp -d "$build/debroot/fresh.XXXXXX")
cleanup() {
    [ -f "$root/run/opentsed.pid" ] && kill "$(cat "$root/run/opentsed.pid")" 2>/dev/null
    [ -f "$root/run/nginx.pid" ] && kill "$(cat "$root/run/nginx.pid")" 2>/dev/null
    umount "$root/proc" 2>/dev/null || true
    rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$cache/base-$key.tar"
mount -t proc proc "$root/proc"   # /dev is debootstrap's own nodes
mkdir -p "$root/tmp/debs"
for d in $debs; do cp "$build/deb/$d" "$root/tmp/debs/"; done
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
DEBIAN_FRONTEND=noninteractive in_root sh -c "cd /tmp/debs && apt-get install -y -q $(for d in $debs; do printf './%s ' "$d"; done)" \
    >"$root/tmp/install.log" 2>&1 || { tail -n 20 "$root/tmp/install.log"; fail "apt-get install of the packages"; }

# --- the files where Debian expects them -------------------------------------
for f in /usr/bin/opentse /usr/bin/opentsed /lib/systemd/system/opentsed.service /etc/opentse/opentsed.conf \
    /usr/lib/sysusers.d/opentse.conf /usr/lib/tmpfiles.d/opentse.conf \
    /usr/share/man/man1/opentse.1.gz /usr/share/man/man8/opentsed.8.gz /usr/share/man/man3/libopentse.3.gz \
    /usr/share/bash-completion/completions/opentse /usr/share/doc/opentse/deploy.md.gz /usr/share/doc/opentse/copyright \
    "/usr/lib/$multiarch/libopentse.so.0" "/usr/lib/$multiarch/libopentse.so" "/usr/lib/$multiarch/pkgconfig/opentse.pc" \
    /usr/include/opentse/opentse.h /usr/include/opentse/receipt.h /usr/include/opentse/se_api.h; do
    [ -e "$root$f" ] || fail "$f is not installed"
done
[ "$(in_root dpkg -S /usr/bin/opentsed | cut -d: -f1)" = opentse ] || fail "opentsed is not in package opentse"
[ "$(in_root dpkg -S "/usr/lib/$multiarch/libopentse.so.0" | cut -d: -f1)" = libopentse0 ] || fail "libopentse.so.0 package"
[ "$(in_root dpkg -S /usr/include/opentse/opentse.h | cut -d: -f1)" = libopentse-dev ] || fail "opentse.h package"
in_root dpkg-query -W -f='${Conffiles}\n' opentse | grep -q "^ /etc/opentse/opentsed.conf " || fail "opentsed.conf is no conffile"
in_root getent passwd opentse >/dev/null || fail "no system user opentse"
[ "$(in_root stat -c '%U %a' /var/lib/opentse)" = "opentse 700" ] || fail "/var/lib/opentse: $(in_root stat -c '%U %a' /var/lib/opentse)"

# --- it runs, and the library links through pkg-config ----------------------
[ "$(in_root opentsed --version)" = "opentsed $version" ] || fail "opentsed --version: $(in_root opentsed --version)"
[ "$(in_root opentse --version)" = "opentse $version (libopentse $version)" ] || fail "opentse --version"
cat >"$root/tmp/link.c" <<'C'
#include <stdio.h>
#include <unistd.h>
#include <opentse/opentse.h>
int main(void)
{
    char puk[TSE_PUK_LEN + 1];
    tse_create_options co = {.master_key_path = "/tmp/link.key", .trust_system_clock = 1};
    if (tse_create_master_key("/tmp/link.key") || tse_create("/tmp/link.db", &co, puk)) {
        fprintf(stderr, "%s\n", tse_last_error_message());
        return 1;
    }
    tse_open_options oo = {.master_key_path = "/tmp/link.key"};
    tse *t;
    tse_info info;
    if (tse_open("file:/tmp/link.db", &oo, &t) || tse_get_info(t, &info))
        return 1;
    printf("libopentse %s: a TSE with %llu logs\n", tse_version(), (unsigned long long)info.signature_counter);
    tse_close(t);
    return 0;
}
C
in_root sh -c 'cc -o /tmp/link /tmp/link.c $(pkg-config --cflags --libs opentse)' || fail "cannot build against libopentse with pkg-config"
in_root ldd /tmp/link | grep -Eq "libopentse.so.0 => (/usr)?/lib/$multiarch/libopentse.so.0 " || fail "the program does not use the installed library"
out=$(in_root /tmp/link) || fail "the linked program failed"
echo "$out" | grep -q "^libopentse $version: a TSE with [1-9][0-9]* logs$" || fail "the linked program: $out"

# README.md's library example compiles as it stands against the package
{ echo '#include <stdio.h>'; echo 'int main(void) {';
  awk '/^```c$/ {on=1; next} /^```$/ {on=0} on' "$src/README.md" | grep -v '^#include <opentse'; echo 'return 0; }'; } |
    sed '1a #include <opentse/opentse.h>' >"$root/tmp/readme.c"
grep -q tse_finish_transaction "$root/tmp/readme.c" || fail "no C example in README.md"
in_root sh -c 'cc -Wall -Werror -o /tmp/readme /tmp/readme.c $(pkg-config --cflags --libs opentse)' ||
    fail "README.md's C example does not build against libopentse-dev"

# --- the unit, the man pages, the completion --------------------------------
# (--man=no: the man page named by Documentation= is checked below)
v=$(in_root systemd-analyze verify --man=no /lib/systemd/system/opentsed.service 2>&1) || fail "systemd-analyze verify: $v"
[ -z "$v" ] || fail "systemd-analyze verify warns: $v"
for m in man1/opentse.1.gz man8/opentsed.8.gz man3/libopentse.3.gz; do
    w=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$root/usr/share/man/$m" 2>&1 >/dev/null)
    [ -z "$w" ] || fail "man -l $m: $w"
    LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$root/usr/share/man/$m" 2>/dev/null | grep -q "^NAME" || fail "man -l $m shows no page"
done
comp() { bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _opentse; echo "${COMPREPLY[*]}"' x \
    "$root/usr/share/bash-completion/completions/opentse" "$@"; }
[ "$(comp opentse ke)" = keygen ] || fail "completion of 'opentse ke': $(comp opentse ke)"
[ "$(comp opentse --url file:x tx fi)" = finish ] || fail "completion of 'tx fi': $(comp opentse --url file:x tx fi)"
[ "$(comp opentse export --cu)" = --cursor ] || fail "completion of 'export --cu'"
case " $(comp opentse tss create --curve brainpoolP3) " in *" brainpoolP384r1 "*) ;; *) fail "completion of --curve" ;; esac

# --- docs/deploy.md, command by command -----------------------------------------
"$src/tests/deb/deploy_commands.sh" "$root" "$src/docs/deploy.md" "$build/deb" || fail "docs/deploy.md"
echo "Debian packages: ok"
