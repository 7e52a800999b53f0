#!/bin/sh
# deploy_commands.sh ROOT DEPLOY_MD DEB_DIR - runs every ```sh block of
# docs/deploy.md, in order, as one root shell script (`set -e`) in the
# Debian root ROOT with our packages in its working directory, in a network
# namespace of its own (so 8080 and 443 are free). There is no systemd
# running in a chroot: `systemctl` and `journalctl` there are stand-ins that
# start the unit's ExecStart as its User (waiting for the "listening" line,
# as Type=notify would), stop it with SIGTERM, and show its output; the unit
# itself is checked by systemd-analyze verify in check_deb.sh.
set -eu
root=$1 md=$2 debs=$3
mkdir -p "$root/tmp/deploy" "$root/usr/local/sbin"
cp "$debs"/*.deb "$root/tmp/deploy/"
rm -f "$root/tmp/deploy/"*-dbgsym_*.deb
echo "127.0.0.1 tse.example.org" >>"$root/etc/hosts"
cat >"$root/usr/local/sbin/systemctl" <<'SH'
#!/bin/sh
# stand-in for systemctl in a chroot: opentsed and nginx only
set -eu
unit_value() { sed -n "s/^$1=//p" /lib/systemd/system/opentsed.service | head -n1; }
start_opentsed() {
    [ -f /run/opentsed.pid ] && kill -0 "$(cat /run/opentsed.pid)" 2>/dev/null && return 0
    user=$(unit_value User)
    : >/var/log/opentsed.mark
    setpriv --reuid="$user" --regid="$user" --init-groups sh -c "umask 077; exec $(unit_value ExecStart)" \
        >>/var/log/opentsed.journal 2>&1 &
    echo $! >/run/opentsed.pid
    for _ in $(seq 100); do
        tail -n +1 /var/log/opentsed.journal | grep -q "^opentsed listening" && [ /var/log/opentsed.journal -nt /var/log/opentsed.mark ] && return 0
        kill -0 "$(cat /run/opentsed.pid)" 2>/dev/null || { echo "opentsed failed to start" >&2; exit 1; }
        sleep 0.1
    done
    echo "opentsed did not get ready" >&2; exit 1
}
stop_opentsed() {
    [ -f /run/opentsed.pid ] || return 0
    pid=$(cat /run/opentsed.pid); rm -f /run/opentsed.pid
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    sed -i 's/^opentsed listening/(was) opentsed listening/' /var/log/opentsed.journal
}
verb=$1; shift
[ "${1:-}" = --now ] && { now=1; shift; } || now=0
unit=${1:-}; unit=${unit%.service}
case "$verb:$unit" in
    daemon-reload:*) ;;
    enable:opentsed) [ $now = 1 ] && start_opentsed ;;
    start:opentsed) start_opentsed ;;
    stop:opentsed) stop_opentsed ;;
    restart:opentsed) stop_opentsed; start_opentsed ;;
    is-active:opentsed) [ -f /run/opentsed.pid ] && kill -0 "$(cat /run/opentsed.pid)" && echo active ;;
    start:nginx|reload:nginx|restart:nginx)
        if [ -f /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then nginx -s reload; sleep 0.5; else nginx; fi ;;
    stop:nginx) nginx -s stop ;;
    *) echo "systemctl stand-in: $verb $unit not known" >&2; exit 1 ;;
esac
SH
cat >"$root/usr/local/sbin/journalctl" <<'SH'
#!/bin/sh
# stand-in for journalctl -u opentsed in a chroot
cat /var/log/opentsed.journal
SH
chmod +x "$root/usr/local/sbin/systemctl" "$root/usr/local/sbin/journalctl"
# the package's nginx would have started it: here the first reload starts it
awk '/^```sh$/ {on=1; next} /^```$/ {on=0} on' "$md" >"$root/tmp/deploy/deploy.sh"
[ "$(grep -c . "$root/tmp/deploy/deploy.sh")" -gt 30 ] || { echo "no commands found in $md"; exit 1; }
unshare --net sh -c '
    ip link set lo up
    chroot "$1" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        DEBIAN_FRONTEND=noninteractive sh -euxc "cd /tmp/deploy && . ./deploy.sh" >"$1/tmp/deploy/out.txt" 2>"$1/tmp/deploy/trace.txt"
    rc=$?
    [ -f "$1/run/opentsed.pid" ] && kill "$(cat "$1/run/opentsed.pid")" 2>/dev/null
    [ -f "$1/run/nginx.pid" ] && kill "$(cat "$1/run/nginx.pid")" 2>/dev/null
    exit $rc' x "$root" || { tail -n 30 "$root/tmp/deploy/trace.txt"; echo "a command of $md failed"; exit 1; }
out=$root/tmp/deploy/out.txt
# what the commands must have shown
check() { grep -q "$1" "$out" || { echo "deploy.md: $2"; tail -n 30 "$out" "$root/tmp/deploy/trace.txt"; exit 1; }; }
check '^opentsed [0-9]' "opentsed --version printed nothing"
grep -q '^operator api_secret: [0-9a-f]\{64\}$' "$root/root/opentse-operator.txt" || { echo "deploy.md: new-operator-key wrote no key"; exit 1; }
check '^active$' "the service is not active"
[ "$(grep -c '^{"status":"ready"}$' "$out")" = 4 ] || { echo "deploy.md: not every /ready (one through nginx) answered ready"; exit 1; }
check '^finishTransaction\|^startTransaction transaction 1$' "the first TSS did not sign"
check '^opentsed_build_info{version=' "no opentsed_build_info in /metrics"
check '^opentse_self_test_passed' "no TSS metrics"
[ "$(grep -c '"access_token"\|operator api_secret' "$out")" = 0 ] || { echo "deploy.md: a secret was printed"; exit 1; }
[ -s "$root/root/opentse-data.tar.gz" ] && [ "$(stat -c %a "$root/root/opentse-master.key")" = 600 ] || { echo "deploy.md: no backup"; exit 1; }
[ "$(stat -c %a "$root/root/opentse-operator.txt")" = 600 ] || { echo "deploy.md: the operator key file is readable by others"; exit 1; }
tar -tzf "$root/root/opentse-data.tar.gz" | grep -q 'opentse/master.key' && { echo "deploy.md: the data backup holds the master key"; exit 1; }
[ "$(chroot "$root" stat -c %U /var/lib/opentse/opentse.db)" = opentse ] || { echo "deploy.md: opentse.db is not owned by opentse"; exit 1; }
exit 0
