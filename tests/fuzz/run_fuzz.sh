#!/bin/sh
# run_fuzz.sh NAME HARNESS SEEDS FIXTURES REPO_CORPUS WORKDIR - runs the
# libFuzzer harness NAME for FUZZ_SECONDS (default 10) seconds. Its inputs:
# the corpus it grew before (WORKDIR/corpus-NAME, where new ones go), seeds
# made now by SEEDS from our own TSE and taken from the vendor fixtures
# (FIXTURES, read where they are, never copied into the project), and
# REPO_CORPUS/NAME: the regression inputs kept in the repository. A crash,
# leak, sanitizer report or an input slower than 20 s fails the test; the
# input is left in WORKDIR/artifacts.
set -eu
name=$1 harness=$2 seeds=$3 fixtures=$4 repo=$5 work=$6
secs=${FUZZ_SECONDS:-10}
gen="$work/seeds-$name"
rm -rf "$gen"
for d in der logmsg verify qr restore export; do mkdir -p "$gen/$d"; done
"$seeds" "$gen"
if [ -d "$fixtures" ]; then
  case $name in
    der | logmsg) cp "$fixtures"/logs/*.log "$gen/$name/" ;;
    verify | restore) cp "$fixtures"/exports/*.tar "$gen/$name/" ;;
    qr) cp "$fixtures"/qr-*.txt "$gen/qr/" ;;
  esac
fi
mkdir -p "$work/corpus-$name" "$work/artifacts"
set -- "$work/corpus-$name" "$gen/$name"
[ -d "$repo/$name" ] && set -- "$@" "$repo/$name"
exec "$harness" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/$name-" "$@"
