/*
 * tse_block.c - the TSE lines a printed receipt carries (KassenSichV section
 * 6): start and end, transaction number, serial numbers of the register and
 * of the TSE, signature counter and signature; or "TSE ausgefallen" when the
 * TSE could not sign.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csp/csp.h"
#include "internal.h"
#include "receipt.h"

char *receipt_tse_block(const receipt_qr *q, const char *outage_reason, tse_error *err)
{
    char *out = NULL;
    if (!q) {
        if (outage_reason && (strlen(outage_reason) > 200 || !rc_utf8_text((const uint8_t *)outage_reason,
                                                                               strlen(outage_reason), false))) {
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "receipt: the outage reason must be one line of up to 200 bytes of UTF-8");
            return NULL;
        }
        if (asprintf(&out, "TSE ausgefallen%s%s\n", outage_reason && *outage_reason ? ": " : "",
                     outage_reason ? outage_reason : "") < 0)
            out = NULL;
    } else {
        char start[32], end[32], serial[65];
        uint8_t hash[32];
        if (!q->client_id || !q->signature || !q->public_key || !time_iso(q->start_time, TIME_ISO_MILLIS, start, sizeof start) ||
            !time_iso(q->finish_time, TIME_ISO_MILLIS, end, sizeof end)) {
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "receipt: incomplete TSE data (client, signature, key or times)");
            return NULL;
        }
        csp_serial(q->public_key, q->public_key_len, hash);
        hex_encode(serial, sizeof serial, hash, sizeof hash);
        char *sig = base64_encode_alloc(q->signature, q->signature_len);
        if (sig && asprintf(&out,
                            "Kassen-Seriennummer: %s\n"
                            "TSE-Seriennummer: %s\n"
                            "TSE-Transaktion: %llu\n"
                            "TSE-Start: %s\n"
                            "TSE-Ende: %s\n"
                            "TSE-Signaturzaehler: %llu\n"
                            "TSE-Signatur: %s\n",
                            q->client_id, serial, (unsigned long long)q->transaction_number, start, end,
                            (unsigned long long)q->signature_counter, sig) < 0)
            out = NULL;
        free(sig);
    }
    if (!out)
        error_set(err, TSE_ERR_NO_MEMORY, "receipt: out of memory");
    return out;
}
