#!/bin/sh
# run.sh - `make bench`: measures OpenTSE against this machine's own limits
# in one run: `openssl speed` for signing and verifying, an fsync loop for
# the disk, then our signed logs per second (and, where built, the other
# benchmarks), printing each as a ratio to its limit.
set -eu
BUILD=${1:-build}
SECONDS_EACH=${BENCH_SECONDS:-5}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/opentse-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# openssl speed prints "... sign/s verify/s" rows; take the last two numbers.
ossl() { # $1 = openssl speed algorithm name
  openssl speed -seconds "$SECONDS_EACH" "$1" 2>/dev/null | awk -v a="$1" '
    $0 ~ /sign\/s/ {hdr=1; next} hdr && NF>=2 {s=$(NF-1); v=$NF} END {print s, v}'
}

echo "== machine limits (measured now)"
FSYNC=$("$BUILD/bench/bench_sign" "$WORK" fsync 3 | awk '{print $2}')
echo "fsync loop:                 $FSYNC fsyncs/s"
set -- $(ossl ecdsap256);     P256_SIGN=$1; P256_VERIFY=$2
set -- $(ossl ecdsabrp384r1); BP384_SIGN=$1; BP384_VERIFY=$2
echo "openssl speed P-256:        $P256_SIGN sign/s, $P256_VERIFY verify/s (one core)"
echo "openssl speed bp384r1:      $BP384_SIGN sign/s, $BP384_VERIFY verify/s (one core)"
echo "cores:                      $(nproc)"

echo
echo "== signed logs per second, in-process (each durable before it counts)"
printf '%-10s %-22s %12s %16s %14s\n' curve setup logs/s vs-openssl-sign logs-per-fsync
for curve in p256 bp384; do
  if [ "$curve" = p256 ]; then SIGN=$P256_SIGN; else SIGN=$BP384_SIGN; fi
  for setup in "1 1" "8 1" "8 8"; do
    set -- $setup
    LOGS=$("$BUILD/bench/bench_sign" "$WORK" "$curve" "$1" "$2" "$SECONDS_EACH" | awk '{print $2}')
    printf '%-10s %-22s %12s %16s %14s\n' "$curve" "$2 TSE x $1 threads" "$LOGS" \
      "$(awk -v a="$LOGS" -v b="$SIGN" 'BEGIN{printf "%.2f", a/b}')" \
      "$(awk -v a="$LOGS" -v b="$FSYNC" 'BEGIN{printf "%.2f", a/b}')"
  done
done

echo
echo "== group commit in-process: logs per flush vs concurrent callers (P-256, one database as opentsed keeps it)"
printf '%-24s %12s %15s %20s\n' setup logs/s logs-per-flush "vs-callers (>=0.5)"
for setup in "1 1" "8 1" "64 1" "64 16"; do
  set -- $setup
  set -- "$1" "$2" $("$BUILD/bench/bench_sign" "$WORK" db "$1" "$2" "$SECONDS_EACH")
  printf '%-24s %12s %15s %20s\n' "$2 TSE x $1 callers" "$4" "$6" \
    "$(awk -v a="$6" -v b="$1" 'BEGIN{printf "%.2f", a/b}')"
done

# start_opentsed NAME ARGS...: opentsed on a free loopback port with the data
# directory $WORK/NAME (output in $WORK/NAME.out and .log); sets
# OPENTSED_PID and OPENTSED_BASE, empty when it did not get ready (with
# --demo: demo.json written).
start_opentsed() {
  name=$1
  shift
  : >"$WORK/$name.out"   # there before the first look at it (set -e)
  "$BUILD/src/server/opentsed" --data-dir "$WORK/$name" --listen 127.0.0.1:0 "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.log" &
  OPENTSED_PID=$!
  OPENTSED_BASE=""
  for _ in $(seq 1 100); do
    OPENTSED_BASE=$(sed -n 's/^opentsed listening on \(http[^ ]*\).*/\1/p' "$WORK/$name.out")
    if [ -n "$OPENTSED_BASE" ]; then
      case " $* " in *" --demo "*) [ -f "$WORK/$name/demo.json" ] && break ;; *) break ;; esac
    fi
    sleep 0.1
  done
  case " $* " in *" --demo "*) [ -f "$WORK/$name/demo.json" ] || OPENTSED_BASE="" ;; esac
  [ -n "$OPENTSED_BASE" ] || { echo "opentsed did not start:"; cat "$WORK/$name.log"; }
}

# Further benchmarks register themselves as bench/run.d/*.sh, sourced here with
# BUILD, WORK, SECONDS_EACH, FSYNC and the openssl rates set.
for extra in "$(dirname "$0")"/run.d/*.sh; do
  [ -f "$extra" ] && . "$extra"
done
exit 0
