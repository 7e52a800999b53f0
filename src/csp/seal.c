/*
 * seal.c - the operator's master key file and private keys sealed under it
 * (AES-256-GCM) for storage at rest.
 *
 * Sealed key blob (all lengths fixed by the curve):
 *   "OTSK" | version (1) | curve (1) | nonce (12) | ciphertext | tag (16)
 * The plaintext is the private scalar (order length, big-endian) followed by
 * the uncompressed public point. The GCM additional data is the 6-byte
 * header followed by the caller's aad, so neither can be swapped.
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

#define SEAL_MAGIC "OTSK"
#define SEAL_VERSION 1
#define SEAL_HDR_LEN 6
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16

/* ------------------------------------------------------------ master key */

int csp_master_key_load(const char *path, uint8_t key[CSP_MASTER_KEY_LEN], tse_error *err)
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
        char hex[2 * CSP_MASTER_KEY_LEN + 1];
        memcpy(hex, buf, 2 * CSP_MASTER_KEY_LEN);
        hex[2 * CSP_MASTER_KEY_LEN] = 0;
        if (hex_decode(key, CSP_MASTER_KEY_LEN, hex) != 0)
            rc = csp_fail(err, TSE_ERR_KEY_UNAVAILABLE, "master key file %s: 64 characters but not hex digits",
                          path);
        OPENSSL_cleanse(hex, sizeof hex);
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

int csp_master_key_create(const char *path, tse_error *err)
{
    if (!path || !*path)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no master key file given");
    uint8_t key[CSP_MASTER_KEY_LEN];
    char hex[2 * CSP_MASTER_KEY_LEN + 1];
    if (csp_random_bytes(key, sizeof key) != 0)
        return csp_fail_ssl(err, TSE_ERR_INTERNAL, "no random bytes for a master key");
    hex_encode(hex, sizeof hex, key, sizeof key);
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
                 size_t aad_len, uint8_t **blob, size_t *blob_len, tse_error *err)
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
    if (csp_key_scalar(k, pt, ol) != 0 || csp_pubkey_point(k->pkey, pt + ol, pl, &got) != 0 ||
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
                   const uint8_t *aad, size_t aad_len, csp_key **out, tse_error *err)
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
    if (!(k->pkey = csp_key_from_parts(c, pt, ol, pt + ol, pl))) {
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
