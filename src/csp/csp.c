/*
 * csp.c - curves and algorithms, randomness, public points, the key serial
 * and private keys in memory. Signatures are in sign.c, the master key and
 * sealed keys in seal.c, PIN/PUK hashing in secret.c.
 *
 * Everything goes through OpenSSL 3's EVP interfaces. A private key leaves
 * this file only as an opaque csp_key or sealed with AES-256-GCM; every
 * buffer that held key material or a secret is wiped before it is freed.


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
#include <openssl/sha.h>



/* ------------------------------------------------------------ helpers */

static int fail_v(tse_error *err, int code, bool with_reason, const char *fmt, va_list ap)
{
    unsigned long e = with_reason ? ERR_peek_last_error() : 0;
    /* OpenSSL ran out of memory: that is the error, whatever failed of it */
    if (with_reason && (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ||
                        ERR_GET_REASON(ERR_peek_error()) == ERR_R_MALLOC_FAILURE))
        code = TSE_ERR_NO_MEMORY;
    if (err) {
        err->code = code;
        int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        if (reason && n >= 0 && (size_t)n < sizeof err->message - 4)
            snprintf(err->message + n, sizeof err->message - (size_t)n, " (%s)", reason);
    }
    ERR_clear_error();
    return code;
}

int csp_fail(tse_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_v(err, code, false, fmt, ap);
    va_end(ap);
    return rc;
}

int csp_fail_ssl(tse_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_v(err, code, true, fmt, ap);
    va_end(ap);
    return rc;
}

bool csp_is_ec(const EVP_PKEY *k)
{
    return k && (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC || EVP_PKEY_is_a(k, "EC"));
}

bool csp_curve_valid(tse_curve c)
{
    return c >= TSE_CURVE_P256 && c <= TSE_CURVE_BRAINPOOL_P512R1;
}

const char *csp_curve_group(tse_curve c)
{
    switch (c) {
    case TSE_CURVE_P256: return "P-256";
    case TSE_CURVE_P384: return "P-384";
    case TSE_CURVE_P521: return "P-521";
    case TSE_CURVE_BRAINPOOL_P256R1: return "brainpoolP256r1";
    case TSE_CURVE_BRAINPOOL_P384R1: return "brainpoolP384r1";
    case TSE_CURVE_BRAINPOOL_P512R1: return "brainpoolP512r1";
    }
    return NULL;
}

size_t csp_curve_order_len(tse_curve c)
{
    switch (c) {
    case TSE_CURVE_P256:
    case TSE_CURVE_BRAINPOOL_P256R1: return 32;
    case TSE_CURVE_P384:
    case TSE_CURVE_BRAINPOOL_P384R1: return 48;
    case TSE_CURVE_P521: return 66;
    case TSE_CURVE_BRAINPOOL_P512R1: return 64;
    }
    return 0;
}

tse_hash csp_default_hash(tse_curve c)
{
    switch (csp_curve_order_len(c)) {
    case 32: return TSE_HASH_SHA256;
    case 48: return TSE_HASH_SHA384;
    default: return TSE_HASH_SHA512;
    }
}

const char *csp_sigalg_oid(tse_hash h)
{
    switch (h) {
    case TSE_HASH_SHA256: return "0.4.0.127.0.7.1.1.4.1.3";
    case TSE_HASH_SHA384: return "0.4.0.127.0.7.1.1.4.1.4";
    case TSE_HASH_SHA512: return "0.4.0.127.0.7.1.1.4.1.5";
    default: return NULL;
    }
}

const char *csp_sigalg_name(tse_hash h)
{
    switch (h) {
    case TSE_HASH_SHA256: return "ecdsa-plain-SHA256";
    case TSE_HASH_SHA384: return "ecdsa-plain-SHA384";
    case TSE_HASH_SHA512: return "ecdsa-plain-SHA512";
    default: return NULL;
    }
}

const EVP_MD *csp_md(tse_hash h)
{
    switch (h) {
    case TSE_HASH_SHA256: return EVP_sha256();
    case TSE_HASH_SHA384: return EVP_sha384();
    case TSE_HASH_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

/* ------------------------------------------------------------ randomness */

int csp_random_bytes(uint8_t *out, size_t n)
{
    if (!out && n)
        return TSE_ERR_INVALID_ARGUMENT;
    while (n > 0) {
        int chunk = n > 1u << 20 ? 1 << 20 : (int)n;
        if (RAND_bytes(out, chunk) != 1) {
            ERR_clear_error();
            return TSE_ERR_INTERNAL;
        }
        out += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

int csp_random_digits(char *out, size_t n_digits)
{
    if (!out)
        return TSE_ERR_INVALID_ARGUMENT;
    size_t i = 0;
    uint8_t buf[32];
    while (i < n_digits) {
        int rc = csp_random_bytes(buf, sizeof buf);
        if (rc)
            return rc;
        /* 250 = 25 * 10: bytes above it are dropped so every digit is equally likely */
        for (size_t j = 0; j < sizeof buf && i < n_digits; j++)
            if (buf[j] < 250)
                out[i++] = (char)('0' + buf[j] % 10);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    out[n_digits] = '\0';
    return 0;
}

/* ------------------------------------------------------------ public keys */

int csp_pubkey_point(EVP_PKEY *pub, uint8_t *out, size_t cap, size_t *len)
{
    if (!out || !len || !csp_is_ec(pub))
        return TSE_ERR_INVALID_ARGUMENT;
    uint8_t buf[MAX_POINT_LEN + 8];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &n) != 1 ||
        n == 0) {
        /* an EC key that cannot give its point without saying why: out of memory */
        unsigned long e = ERR_peek_error();
        ERR_clear_error();
        return !e || ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? TSE_ERR_NO_MEMORY : TSE_ERR_INVALID_ARGUMENT;
    }
    if (buf[0] != 0x04) {
        /* a compressed or hybrid point: decompress it on the key's curve */
        char group[64];
        int rc = TSE_ERR_INVALID_ARGUMENT;
        EC_GROUP *g = NULL;
        EC_POINT *p = NULL;
        if (EVP_PKEY_get_group_name(pub, group, sizeof group, NULL) == 1 &&
            (g = EC_GROUP_new_by_curve_name(OBJ_txt2nid(group))) != NULL &&
            (p = EC_POINT_new(g)) != NULL && EC_POINT_oct2point(g, p, buf, n, NULL) == 1 &&
            (n = EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, buf, sizeof buf,
                                    NULL)) > 0)
            rc = 0;
        EC_POINT_free(p);
        EC_GROUP_free(g);
        ERR_clear_error();
        if (rc)
            return rc;
    }
    if (n > cap)
        return TSE_ERR_TOO_LARGE;
    memcpy(out, buf, n);
    *len = n;
    return 0;
}

EVP_PKEY *csp_pubkey_from_point(tse_curve c, const uint8_t *point, size_t len)
{
    size_t ol = csp_curve_order_len(c);
    if (!ol || !point || len != 1 + 2 * ol || point[0] != 0x04)
        return NULL;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)csp_curve_group(c), 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len);
    params[2] = OSSL_PARAM_construct_end();
    /* EC_POINT_oct2point inside fromdata refuses points that are not on the curve */
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return pk;
}

void csp_serial(const uint8_t *point, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    if (EVP_Digest(point, len, out, &n, EVP_sha256(), NULL) != 1) {
        /* EVP_Digest fails when it cannot allocate its context: the key
         * serial must come out right all the same, so hash without one */
        ERR_clear_error();
        SHA256_CTX c;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        if (SHA256_Init(&c) != 1 || SHA256_Update(&c, point, len) != 1 || SHA256_Final(out, &c) != 1)
            memset(out, 0, 32);   /* never leave garbage */
#pragma GCC diagnostic pop
        OPENSSL_cleanse(&c, sizeof c);
    }
}

/* ------------------------------------------------------------ private keys */

int csp_key_generate(tse_curve c, csp_key **out, tse_error *err)
{
    if (!out)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no output for the key");
    *out = NULL;
    if (!csp_curve_valid(c))
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "unknown curve %d", (int)c);
    csp_key *k = calloc(1, sizeof *k);
    if (!k)
        return csp_fail(err, TSE_ERR_NO_MEMORY, "out of memory");
    k->curve = c;
    k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", csp_curve_group(c));
    if (!k->pkey) {
        free(k);
        return csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot generate a key on %s",
                        csp_curve_group(c));
    }
    *out = k;
    return 0;
}

void csp_key_free(csp_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);   /* OpenSSL clears the private scalar when freeing it */
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

tse_curve csp_key_curve(const csp_key *k)
{
    return k ? k->curve : TSE_CURVE_P256;
}

int csp_key_public(const csp_key *k, uint8_t *out, size_t cap, size_t *len, tse_error *err)
{
    if (!k || !out || !len)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no key or no output buffer");
    int rc = csp_pubkey_point(k->pkey, out, cap, len);
    if (rc)
        return csp_fail(err, rc, "cannot read the public point of the key (buffer %zu bytes)",
                        cap);
    return 0;
}

/* The key's private scalar (order length, big-endian) into out. */
int csp_key_scalar(const csp_key *k, uint8_t *out, size_t ol)
{
    BIGNUM *d = NULL;
    int ok = EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
             BN_bn2binpad(d, out, (int)ol) == (int)ol;
    BN_clear_free(d);
    return ok ? 0 : -1;
}

/* A key pair from its scalar and point; the pair is checked to match. */
EVP_PKEY *csp_key_from_parts(tse_curve c, const uint8_t *scalar, size_t ol, const uint8_t *point,
                             size_t point_len)
{
    EVP_PKEY *pk = NULL;
    BIGNUM *d = BN_secure_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY_CTX *check = NULL;
    if (!d || !bld || !ctx || !BN_bin2bn(scalar, (int)ol, d) ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, csp_curve_group(c), 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) != 1 ||
        !(check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) ||
        EVP_PKEY_pairwise_check(check) != 1) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return pk;
}
