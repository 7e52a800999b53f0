# receipt.sh - `make bench` part: receipt QR codes verified per second on one
# core (parse, rebuild the Finish log, check the signature) next to openssl's
# P-256 verify rate, and QR strings and PNG images made per second. Sourced
# by bench/run.sh.
echo
echo "== receipt QR codes (one core, the fixture receipt)"
QR_FILE="${OPENTSE_FIXTURES:-$(dirname "$0")/../../shared/fixtures}/qr-p256.txt"
if [ -x "$BUILD/bench/bench_qr" ] && set -- $("$BUILD/bench/bench_qr" "$QR_FILE" "$SECONDS_EACH") && [ $# -eq 6 ]; then
  printf '%-28s %10s %17s\n' work ops/s vs-openssl-verify
  printf '%-28s %10s %17s\n' "qr verify (P-256)" "$2" "$(awk -v a="$2" -v b="$P256_VERIFY" 'BEGIN{printf "%.2f", a/b}')"
  printf '%-28s %10s %17s\n' "qr string" "$4" "-"
  printf '%-28s %10s %17s\n' "qr PNG (4 px/module)" "$6" "-"
else
  echo "bench_qr not built or failed"
fi
