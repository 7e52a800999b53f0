/*
 * sign.c - ecdsa-plain signatures (BSI TR-03111) made and checked, and their DER form.
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

/* ------------------------------------------------------------ signatures */

int csp_sign(const csp_key *k, tse_hash h, const uint8_t *msg, size_t msg_len, uint8_t *sig,
             size_t cap, size_t *sig_len, tse_error *err)
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
               size_t sig_len, tse_error *err)
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
