/*
 * fuzz_der.c - libFuzzer harness of the DER reader (codec/der.c): every
 * TLV of the input, into constructed values as deep as the reader goes,
 * and each content read as integer, OID and OCTET STRING.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/der.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const uint8_t *p, size_t len, int depth)
{
    der_r r = der_r_init(p, len);
    der_tlv t;
    while (!der_r_done(&r) && der_read(&r, &t)) {
        uint64_t u;
        int64_t i;
        char oid[128];
        size_t n = 0;
        (void)der_get_uint(&t, &u);
        (void)der_get_int(&t, &i);
        (void)der_get_oid(&t, oid, sizeof oid);
        if (der_get_octets(&t, NULL, 0, &n) && n <= 1 << 20) {
            uint8_t *buf = malloc(n ? n : 1);
            size_t m = 0;
            if (buf && (!der_get_octets(&t, buf, n, &m) || m != n))
                abort(); /* measured once, read differently the second time */
            free(buf);
        }
        (void)der_peek_tag(&r);
        if (t.constructed && depth < DER_MAX_DEPTH + 2)
            walk(t.content, t.content_len, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy, so reads past the end are caught */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    walk(copy, size, 0);
    free(copy);
    return 0;
}
