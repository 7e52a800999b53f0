/*
 * secret.c - PIN and PUK kept as slow salted hashes (scrypt) and checked in
 * constant time.
 *
 * PIN/PUK record (CSP_SECRET_HASH_LEN = 64 bytes):
 *   version (1) | log2 N (1) | r (1) | p (1) | salt (16) | scrypt output (32) | zero (12)
 */
#include "base/encode.h"
#include "csp/csp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#define SECRET_VERSION 1
#define SECRET_LOG2N 14   /* N = 16384 */
#define SECRET_R 8
#define SECRET_P 1
#define SECRET_SALT_LEN 16
#define SECRET_OUT_LEN 32
#define SECRET_MAXMEM (64u * 1024 * 1024)

/* ------------------------------------------------------------ PIN and PUK */

static int scrypt(const char *secret, const uint8_t *salt, unsigned log2n, unsigned r,
                  unsigned p, uint8_t out[SECRET_OUT_LEN])
{
    return EVP_PBE_scrypt(secret, strlen(secret), salt, SECRET_SALT_LEN, (uint64_t)1 << log2n, r,
                          p, SECRET_MAXMEM, out, SECRET_OUT_LEN) == 1
               ? 0
               : -1;
}

int csp_secret_hash(const char *secret, uint8_t out[CSP_SECRET_HASH_LEN], tse_error *err)
{
    if (!secret || !out)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no secret to hash");
    memset(out, 0, CSP_SECRET_HASH_LEN);
    out[0] = SECRET_VERSION;
    out[1] = SECRET_LOG2N;
    out[2] = SECRET_R;
    out[3] = SECRET_P;
    if (csp_random_bytes(out + 4, SECRET_SALT_LEN) != 0)
        return csp_fail_ssl(err, TSE_ERR_INTERNAL, "no random bytes for the salt");
    if (scrypt(secret, out + 4, SECRET_LOG2N, SECRET_R, SECRET_P, out + 4 + SECRET_SALT_LEN)) {
        OPENSSL_cleanse(out, CSP_SECRET_HASH_LEN);
        return csp_fail_ssl(err, TSE_ERR_INTERNAL, "scrypt failed");
    }
    return 0;
}

int csp_secret_verify(const char *secret, const uint8_t rec[CSP_SECRET_HASH_LEN], tse_error *err)
{
    if (!secret || !rec || rec[0] != SECRET_VERSION)
        return csp_fail(err, TSE_ERR_AUTHENTICATION_FAILED, "no valid secret record");
    unsigned log2n = rec[1], r = rec[2], p = rec[3];
    /* refuse parameters that would make one check absurdly slow or large */
    if (log2n < 10 || log2n > 20 || r < 1 || r > 16 || p < 1 || p > 4)
        return csp_fail(err, TSE_ERR_AUTHENTICATION_FAILED, "no valid secret record");
    uint8_t h[SECRET_OUT_LEN];
    int rc = 0;
    if (scrypt(secret, rec + 4, log2n, r, p, h) != 0)
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "scrypt failed");
    else if (CRYPTO_memcmp(h, rec + 4 + SECRET_SALT_LEN, SECRET_OUT_LEN) != 0)
        rc = csp_fail(err, TSE_ERR_AUTHENTICATION_FAILED, "the secret does not match");
    OPENSSL_cleanse(h, sizeof h);
    ERR_clear_error();
    return rc;
}

bool csp_secret_check(const char *secret, const uint8_t rec[CSP_SECRET_HASH_LEN])
{
    return csp_secret_verify(secret, rec, NULL) == 0;
}
