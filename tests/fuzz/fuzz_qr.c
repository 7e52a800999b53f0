/*
 * fuzz_qr.c - libFuzzer harness of the receipt QR code (receipt/qr.c):
 * parsing any string as a V0 code and verifying it (rebuilding the Finish
 * log's signed bytes, checking the signature with the key it carries).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "receipt/receipt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    receipt_qr_parsed p;
    tse_error err;
    memset(&p, 0, sizeof p);
    if (receipt_qr_parse(s, &p, &err)) {
        size_t n = 0;
        free(receipt_qr_signed_bytes(&p.q, &n, &err));
        free(receipt_qr_string(&p.q, &err));
    }
    receipt_qr_parsed_free(&p);
    receipt_qr_check c;
    (void)receipt_qr_verify(s, &c, &err);
    free(s);
    return 0;
}
