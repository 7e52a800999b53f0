/*
 * csp.c - keys, ecdsa-plain signatures, the key serial, sealing private keys
 * under the master key, PIN/PUK hashing and randomness.
 *
 * Everything goes through OpenSSL 3's EVP interfaces. A private key leaves
 * this file only as an opaque csp_key or sealed with AES-256-GCM; every
 * buffer that held key material or a secret is wiped before it is freed.
 *
 * Sealed key blob (all lengths fixed by the curve):
 *   "OTSK" | version (1) | curve (1) | nonce (12) | ciphertext | tag (16)
 * The plaintext is the private scalar (order length, big-endian) followed by
 * the uncompressed public point. The GCM additional data is the 6-byte
 * header followed by the caller's aad, so neither can be swapped.
 *
 * PIN/PUK record (CSP_SECRET_HASH_LEN = 64 bytes):
 *   version (1) | log2 N (1) | r (1) | p (1) | salt (16) | scrypt output (32) | zero (12)
 */
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

#define SEAL_MAGIC "OTSK"
#define SEAL_VERSION 1
#define SEAL_HDR_LEN 6
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define MAX_ORDER_LEN 66
#define MAX_POINT_LEN (1 + 2 * MAX_ORDER_LEN)
#define MAX_DER_SIG_LEN 160

#define SECRET_VERSION 1
#define SECRET_LOG2N 14   /* N = 16384 */
#define SECRET_R 8
#define SECRET_P 1
#define SECRET_SALT_LEN 16
#define SECRET_OUT_LEN 32
#define SECRET_MAXMEM (64u * 1024 * 1024)

/* ------------------------------------------------------------ helpers */

static int fail_v(char *err, int code, bool with_reason, const char *fmt, va_list ap)
{
    unsigned long e = with_reason ? ERR_peek_last_error() : 0;
    /* OpenSSL ran out of memory: that is the error, whatever failed of it */
    if (with_reason && (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ||
                        ERR_GET_REASON(ERR_peek_error()) == ERR_R_MALLOC_FAILURE))
        code = TSE_ERR_NO_MEMORY;
    if (err) {
        int n = vsnprintf(err, CSP_ERRLEN, fmt, ap);
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        if (reason && n >= 0 && (size_t)n < CSP_ERRLEN - 4)
            snprintf(err + n, CSP_ERRLEN - (size_t)n, " (%s)", reason);
    }
    ERR_clear_error();
    return code;
}

int csp_fail(char *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_v(err, code, false, fmt, ap);
    va_end(ap);
    return rc;
}

int csp_fail_ssl(char *err, int code, const char *fmt, ...)
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

/* ------------------------------------------------------------ master key */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int csp_master_key_load(const char *path, uint8_t key[CSP_MASTER_KEY_LEN], char *err)
{
    if (!path || !*path || !key)
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "no master key file given");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "master key file %s: %s", path,
                        strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "master key file %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "master key file %s is not a regular file",
                        path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE,
                        "master key file %s is accessible by group or others (mode %04o); "
                        "run chmod 600 on it",
                        path, (unsigned)(st.st_mode & 07777));
    }
    uint8_t buf[80];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            OPENSSL_cleanse(buf, sizeof buf);
            return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "master key file %s: %s", path,
                            strerror(e));
        }
        if (r == 0 || (n += (size_t)r) == sizeof buf)
            break;
    }
    close(fd);

    int rc = 0;
    size_t hexlen = n;
    if (hexlen > 0 && buf[hexlen - 1] == '\n')
        hexlen--;
    if (hexlen > 0 && buf[hexlen - 1] == '\r')
        hexlen--;
    if (n == CSP_MASTER_KEY_LEN) {
        memcpy(key, buf, CSP_MASTER_KEY_LEN);
    } else if (hexlen == 2 * CSP_MASTER_KEY_LEN) {
        for (size_t i = 0; i < CSP_MASTER_KEY_LEN; i++) {
            int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                rc = csp_fail(err, TSE_ERR_KEY_UNAVAILABLE,
                              "master key file %s: 64 characters but not hex digits", path);
                break;
            }
            key[i] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        rc = csp_fail(err, TSE_ERR_KEY_UNAVAILABLE,
                      "master key file %s has %s%zu bytes; expected 32 raw bytes or 64 hex digits",
                      path, n == sizeof buf ? "at least " : "", n);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc)
        OPENSSL_cleanse(key, CSP_MASTER_KEY_LEN);
    return rc;
}

int csp_master_key_create(const char *path, char *err)
{
    if (!path || !*path)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no master key file given");
    uint8_t key[CSP_MASTER_KEY_LEN];
    char hex[2 * CSP_MASTER_KEY_LEN + 1];
    static const char digits[] = "0123456789abcdef";
    if (csp_random_bytes(key, sizeof key) != 0)
        return csp_fail_ssl(err, TSE_ERR_INTERNAL, "no random bytes for a master key");
    for (size_t i = 0; i < sizeof key; i++) {
        hex[2 * i] = digits[key[i] >> 4];
        hex[2 * i + 1] = digits[key[i] & 15];
    }
    hex[2 * CSP_MASTER_KEY_LEN] = '\n';
    OPENSSL_cleanse(key, sizeof key);

    int rc = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = csp_fail(err, errno == EEXIST ? TSE_ERR_ALREADY_EXISTS : TSE_ERR_KEY_UNAVAILABLE,
                      "cannot create master key file %s: %s", path, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < sizeof hex) {
        ssize_t w = write(fd, hex + off, sizeof hex - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off != sizeof hex || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        rc = csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "cannot write master key file %s: %s", path,
                      strerror(e));
        goto out;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(path);
        rc = csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "cannot write master key file %s: %s", path,
                      strerror(e));
    }
out:
    OPENSSL_cleanse(hex, sizeof hex);
    return rc;
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

int csp_key_generate(tse_curve c, csp_key **out, char *err)
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

int csp_key_public(const csp_key *k, uint8_t *out, size_t cap, size_t *len, char *err)
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
static int key_scalar(const csp_key *k, uint8_t *out, size_t ol)
{
    BIGNUM *d = NULL;
    int ok = EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
             BN_bn2binpad(d, out, (int)ol) == (int)ol;
    BN_clear_free(d);
    return ok ? 0 : -1;
}

/* A key pair from its scalar and point; the pair is checked to match. */
static EVP_PKEY *key_from_parts(tse_curve c, const uint8_t *scalar, size_t ol,
                                const uint8_t *point, size_t point_len)
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

static int gcm_init(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *mk, const uint8_t *nonce)
{
    return EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) == 1 &&
           EVP_CipherInit_ex(ctx, NULL, NULL, mk, nonce, enc) == 1;
}

static int gcm_aad(EVP_CIPHER_CTX *ctx, const uint8_t *hdr, const uint8_t *aad, size_t aad_len)
{
    int n;
    if (EVP_CipherUpdate(ctx, NULL, &n, hdr, SEAL_HDR_LEN) != 1)
        return 0;
    while (aad_len > 0) {
        int chunk = aad_len > 1u << 20 ? 1 << 20 : (int)aad_len;
        if (EVP_CipherUpdate(ctx, NULL, &n, aad, chunk) != 1)
            return 0;
        aad += chunk;
        aad_len -= (size_t)chunk;
    }
    return 1;
}

int csp_key_seal(const csp_key *k, const uint8_t mk[CSP_MASTER_KEY_LEN], const uint8_t *aad,
                 size_t aad_len, uint8_t **blob, size_t *blob_len, char *err)
{
    if (!k || !mk || !blob || !blob_len || (!aad && aad_len))
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "missing argument to seal a key");
    *blob = NULL;
    *blob_len = 0;
    size_t ol = csp_curve_order_len(k->curve), pl = 1 + 2 * ol, ptlen = ol + pl;
    size_t total = SEAL_HDR_LEN + SEAL_NONCE_LEN + ptlen + SEAL_TAG_LEN;
    uint8_t pt[MAX_ORDER_LEN + MAX_POINT_LEN];
    size_t got = 0;
    int rc = 0, n = 0, fin = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *b = malloc(total);
    if (!b)
        return csp_fail(err, TSE_ERR_NO_MEMORY, "out of memory");
    if (key_scalar(k, pt, ol) != 0 || csp_pubkey_point(k->pkey, pt + ol, pl, &got) != 0 ||
        got != pl) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot read the key to seal it");
        goto out;
    }
    memcpy(b, SEAL_MAGIC, 4);
    b[4] = SEAL_VERSION;
    b[5] = (uint8_t)k->curve;
    uint8_t *nonce = b + SEAL_HDR_LEN, *ct = nonce + SEAL_NONCE_LEN, *tag = ct + ptlen;
    if (csp_random_bytes(nonce, SEAL_NONCE_LEN) != 0) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "no random bytes for the nonce");
        goto out;
    }
    if (!(ctx = EVP_CIPHER_CTX_new()) || !gcm_init(ctx, 1, mk, nonce) ||
        !gcm_aad(ctx, b, aad, aad_len) || EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 || (size_t)(n + fin) != ptlen ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot encrypt the private key");
        goto out;
    }
    *blob = b;
    *blob_len = total;
    b = NULL;
out:
    OPENSSL_cleanse(pt, sizeof pt);
    EVP_CIPHER_CTX_free(ctx);
    free(b);
    return rc;
}

int csp_key_unseal(const uint8_t *blob, size_t blob_len, const uint8_t mk[CSP_MASTER_KEY_LEN],
                   const uint8_t *aad, size_t aad_len, csp_key **out, char *err)
{
    if (!out)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no output for the key");
    *out = NULL;
    if (!blob || !mk || (!aad && aad_len))
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "missing argument to unseal a key");
    if (blob_len < SEAL_HDR_LEN || memcmp(blob, SEAL_MAGIC, 4) != 0)
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "the sealed key is not a key blob");
    if (blob[4] != SEAL_VERSION)
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "sealed key version %u is not supported",
                        blob[4]);
    tse_curve c = (tse_curve)blob[5];
    if (!csp_curve_valid(c))
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "sealed key names unknown curve %u",
                        blob[5]);
    size_t ol = csp_curve_order_len(c), pl = 1 + 2 * ol, ptlen = ol + pl;
    if (blob_len != SEAL_HDR_LEN + SEAL_NONCE_LEN + ptlen + SEAL_TAG_LEN)
        return csp_fail(err, TSE_ERR_KEY_UNAVAILABLE,
                        "sealed key has %zu bytes; a %s key has %zu", blob_len,
                        csp_curve_group(c), SEAL_HDR_LEN + SEAL_NONCE_LEN + ptlen + SEAL_TAG_LEN);
    const uint8_t *nonce = blob + SEAL_HDR_LEN, *ct = nonce + SEAL_NONCE_LEN, *tag = ct + ptlen;
    uint8_t pt[MAX_ORDER_LEN + MAX_POINT_LEN];
    uint8_t tagbuf[SEAL_TAG_LEN];
    memcpy(tagbuf, tag, SEAL_TAG_LEN);
    int rc = 0, n = 0, fin = 0;
    csp_key *k = NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || !gcm_init(ctx, 0, mk, nonce) || !gcm_aad(ctx, blob, aad, aad_len) ||
        EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ptlen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tagbuf) != 1) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot set up decryption of the key");
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, pt + n, &fin) != 1 || (size_t)(n + fin) != ptlen) {
        rc = csp_fail(err, TSE_ERR_KEY_UNAVAILABLE,
                      "cannot unseal the private key: wrong master key, or the sealed key "
                      "or its serial was modified");
        goto out;
    }
    if (!(k = calloc(1, sizeof *k))) {
        rc = csp_fail(err, TSE_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    k->curve = c;
    if (!(k->pkey = key_from_parts(c, pt, ol, pt + ol, pl))) {
        free(k);
        k = NULL;
        rc = csp_fail(err, TSE_ERR_KEY_UNAVAILABLE,
                      "the unsealed private key does not match its public key");
        goto out;
    }
    *out = k;
out:
    OPENSSL_cleanse(pt, sizeof pt);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* ------------------------------------------------------------ signatures */

int csp_sign(const csp_key *k, tse_hash h, const uint8_t *msg, size_t msg_len, uint8_t *sig,
             size_t cap, size_t *sig_len, char *err)
{
    static const uint8_t empty[1];
    if (!k || !sig || !sig_len || (!msg && msg_len))
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "missing argument to sign");
    if (h == TSE_HASH_DEFAULT)
        h = csp_default_hash(k->curve);
    const EVP_MD *md = csp_md(h);
    if (!md)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "unknown hash %d", (int)h);
    size_t ol = csp_curve_order_len(k->curve);
    if (cap < 2 * ol)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT,
                        "signature buffer of %zu bytes; %s needs %zu", cap,
                        csp_curve_group(k->curve), 2 * ol);
    uint8_t der[MAX_DER_SIG_LEN];
    size_t der_len = sizeof der;
    int rc = 0;
    ECDSA_SIG *es = NULL;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (!mctx || EVP_DigestSignInit(mctx, NULL, md, NULL, k->pkey) != 1 ||
        EVP_DigestSignUpdate(mctx, msg ? msg : empty, msg_len) != 1 ||
        EVP_DigestSignFinal(mctx, der, &der_len) != 1) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "signing failed");
        goto out;
    }
    const uint8_t *p = der;
    const BIGNUM *r = NULL, *s = NULL;
    if (!(es = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) ||
        (ECDSA_SIG_get0(es, &r, &s), !r || !s) || BN_bn2binpad(r, sig, (int)ol) != (int)ol ||
        BN_bn2binpad(s, sig + ol, (int)ol) != (int)ol) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot convert the signature to plain format");
        goto out;
    }
    *sig_len = 2 * ol;
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(mctx);
    return rc;
}

/* r||s into an ECDSA_SIG; NULL if the halves are not both in [1, order-1]. */
static ECDSA_SIG *plain_to_sig(const uint8_t *sig, size_t half, const BIGNUM *order)
{
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
    ECDSA_SIG *es = NULL;
    if (r && s && !BN_is_zero(r) && !BN_is_zero(s) &&
        (!order || (BN_cmp(r, order) < 0 && BN_cmp(s, order) < 0)) &&
        (es = ECDSA_SIG_new()) != NULL && ECDSA_SIG_set0(es, r, s) == 1)
        return es;
    ECDSA_SIG_free(es);
    BN_free(r);
    BN_free(s);
    return NULL;
}

static int sig_to_der(ECDSA_SIG *es, uint8_t **der, size_t *der_len)
{
    uint8_t *buf = NULL;
    int n = i2d_ECDSA_SIG(es, &buf);
    if (n <= 0)
        return TSE_ERR_INTERNAL;
    /* hand out memory from malloc so callers free() it */
    uint8_t *copy = malloc((size_t)n);
    if (copy)
        memcpy(copy, buf, (size_t)n);
    OPENSSL_free(buf);
    if (!copy)
        return TSE_ERR_NO_MEMORY;
    *der = copy;
    *der_len = (size_t)n;
    return 0;
}

int csp_plain_to_der(const uint8_t *sig, size_t sig_len, uint8_t **der, size_t *der_len)
{
    if (!sig || !der || !der_len || sig_len == 0 || sig_len % 2 || sig_len > 2 * MAX_ORDER_LEN)
        return TSE_ERR_INVALID_ARGUMENT;
    ECDSA_SIG *es = plain_to_sig(sig, sig_len / 2, NULL);
    if (!es) {
        ERR_clear_error();
        return TSE_ERR_INVALID_ARGUMENT;
    }
    int rc = sig_to_der(es, der, der_len);
    ECDSA_SIG_free(es);
    ERR_clear_error();
    return rc;
}

/* Orders of the TR-03116-5 curves, made once: building an EC_GROUP costs
 * almost as much as verifying a P-256 signature. Other curves build theirs
 * per call. */
static const int known_nids[] = {NID_X9_62_prime256v1, NID_secp384r1,       NID_secp521r1,
                                 NID_brainpoolP256r1,  NID_brainpoolP384r1, NID_brainpoolP512r1};
static BIGNUM *known_orders[sizeof known_nids / sizeof known_nids[0]];
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static void known_orders_init(void)
{
    for (size_t i = 0; i < sizeof known_nids / sizeof known_nids[0]; i++) {
        EC_GROUP *g = EC_GROUP_new_by_curve_name(known_nids[i]);
        known_orders[i] = g ? BN_dup(EC_GROUP_get0_order(g)) : NULL;
        EC_GROUP_free(g);
    }
}

static const BIGNUM *known_order(int nid)
{
    pthread_once(&known_once, known_orders_init);
    for (size_t i = 0; i < sizeof known_nids / sizeof known_nids[0]; i++)
        if (known_nids[i] == nid)
            return known_orders[i];
    return NULL;
}

int csp_verify(EVP_PKEY *pub, tse_hash h, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
               size_t sig_len, char *err)
{
    static const uint8_t empty[1];
    if (!csp_is_ec(pub))
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no EC public key to verify with");
    if ((!msg && msg_len) || !sig)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no message or no signature");
    char group[64];
    EC_GROUP *g = NULL;
    const BIGNUM *order = NULL;
    if (EVP_PKEY_get_group_name(pub, group, sizeof group, NULL) == 1 &&
        !(order = known_order(OBJ_txt2nid(group))) &&
        (g = EC_GROUP_new_by_curve_name(OBJ_txt2nid(group))) != NULL)
        order = EC_GROUP_get0_order(g);
    if (!order)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "the public key is not on a named curve");
    size_t ol = (size_t)BN_num_bytes(order);
    int bits = BN_num_bits(order);
    int rc = 0;
    uint8_t *der = NULL;
    size_t der_len = 0;
    ECDSA_SIG *es = NULL;
    EVP_MD_CTX *mctx = NULL;
    if (h == TSE_HASH_DEFAULT)
        h = bits <= 256 ? TSE_HASH_SHA256 : bits <= 384 ? TSE_HASH_SHA384 : TSE_HASH_SHA512;
    const EVP_MD *md = csp_md(h);
    if (!md) {
        rc = csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "unknown hash %d", (int)h);
        goto out;
    }
    if (sig_len != 2 * ol) {
        rc = csp_fail(err, TSE_ERR_INVALID_ARGUMENT,
                      "signature has %zu bytes; %s needs %zu", sig_len, group, 2 * ol);
        goto out;
    }
    if (!(es = plain_to_sig(sig, ol, order))) {
        rc = csp_fail(err, TSE_ERR_INVALID_ARGUMENT,
                      "signature value out of range (r or s zero or not below the order)");
        goto out;
    }
    if ((rc = sig_to_der(es, &der, &der_len)) != 0) {
        rc = csp_fail(err, rc, "cannot encode the signature");
        goto out;
    }
    if (!(mctx = EVP_MD_CTX_new()) || EVP_DigestVerifyInit(mctx, NULL, md, NULL, pub) != 1 ||
        EVP_DigestVerifyUpdate(mctx, msg ? msg : empty, msg_len) != 1) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot set up signature verification");
        goto out;
    }
    if (EVP_DigestVerifyFinal(mctx, der, der_len) != 1) {
        rc = csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "signature does not verify");
        goto out;
    }
out:
    ERR_clear_error();
    EVP_MD_CTX_free(mctx);
    ECDSA_SIG_free(es);
    free(der);
    EC_GROUP_free(g);
    return rc;
}

/* ------------------------------------------------------------ PIN and PUK */

static int scrypt(const char *secret, const uint8_t *salt, unsigned log2n, unsigned r,
                  unsigned p, uint8_t out[SECRET_OUT_LEN])
{
    return EVP_PBE_scrypt(secret, strlen(secret), salt, SECRET_SALT_LEN, (uint64_t)1 << log2n, r,
                          p, SECRET_MAXMEM, out, SECRET_OUT_LEN) == 1
               ? 0
               : -1;
}

int csp_secret_hash(const char *secret, uint8_t out[CSP_SECRET_HASH_LEN], char *err)
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

int csp_secret_verify(const char *secret, const uint8_t rec[CSP_SECRET_HASH_LEN], char *err)
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
