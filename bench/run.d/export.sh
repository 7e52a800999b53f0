# export.sh - `make bench` part: a 1,000,000-log export (logs/s, MB/s, peak
# resident memory of the exporting process), then `opentse verify` of that
# very archive (logs/s next to openssl's P-256 verify rate). Sourced by
# bench/run.sh.
echo
echo "== exporting 1,000,000 logs (one TSE, P-256), and verifying the archive"
EXPORT_LOGS=${BENCH_EXPORT_LOGS:-1000000}
mkdir -p "$WORK/export"
"$BUILD/bench/bench_export" gen "$WORK/export" "$EXPORT_LOGS"
set -- $("$BUILD/bench/bench_export" run "$WORK/export")
E_LOGS=$2; E_BYTES=$4; E_SECS=$6; E_RSS=$8
printf '%-28s %s logs, %.0f MB in %s s\n' "export:" "$E_LOGS" "$(awk -v b="$E_BYTES" 'BEGIN{print b/1e6}')" "$E_SECS"
printf '%-28s %.0f logs/s, %.1f MB/s, peak RSS %.1f MB\n' "" \
  "$(awk -v l="$E_LOGS" -v s="$E_SECS" 'BEGIN{print l/s}')" \
  "$(awk -v b="$E_BYTES" -v s="$E_SECS" 'BEGIN{print b/1e6/s}')" \
  "$(awk -v k="$E_RSS" 'BEGIN{print k/1024}')"
if [ -x "$BUILD/cli/opentse" ]; then
  T0=$(date +%s.%N)
  "$BUILD/cli/opentse" verify --quiet "$WORK/export/export.tar" > /dev/null || echo "verify: the archive has findings"
  T1=$(date +%s.%N)
  V_RATE=$(awk -v l="$E_LOGS" -v a="$T0" -v b="$T1" 'BEGIN{printf "%.0f", l/(b-a)}')
  printf '%-28s %s logs/s (all cores), %.2f x openssl P-256 verify/s (one core: %s)\n' \
    "opentse verify of it:" "$V_RATE" "$(awk -v a="$V_RATE" -v b="$P256_VERIFY" 'BEGIN{print a/b}')" "$P256_VERIFY"
fi
rm -rf "$WORK/export"
