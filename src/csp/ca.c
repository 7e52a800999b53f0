/*
 * ca.c - certificates of the TSE key: the built-in development CA, CSRs for
 * a production CA, checking and splitting an imported PEM chain, expiry.
 *
 * The built-in CA makes a fresh P-384 root for every certificate it issues
 * and forgets the root's private key at once, so nothing else can ever be
 * signed under that root.
 */
#include "csp/csp_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CA_ROOT_CN "OpenTSE Development Root CA"
#define CA_ORG "OpenTSE (not certified)"
#define CA_BACKDATE 60                       /* notBefore = now - 60 s */
#define CA_ROOT_EXTRA (365 * 86400LL)        /* root outlives the TSE certificate */
#define CA_MAX_VALIDITY (100 * 366 * 86400LL)
#define CHAIN_MAX 16

/* ------------------------------------------------------------ building */

static int set_random_serial(X509 *x)
{
    uint8_t raw[16];
    if (csp_random_bytes(raw, sizeof raw) != 0)
        return 0;
    raw[0] &= 0x7f;   /* positive */
    raw[0] |= 0x40;   /* and never zero, always 16 bytes */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static X509_NAME *make_name(const char *cn, const char *org)
{
    X509_NAME *n = X509_NAME_new();
    if (!n)
        return NULL;
    if ((org && !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)org,
                                            -1, -1, 0)) ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0)) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

static int add_ext(X509 *subject, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, subject, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
    int ok = ext && X509_add_ext(subject, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A certificate for `pub` named `subject`, issued by `issuer` (NULL: self). */
static X509 *make_cert(EVP_PKEY *pub, X509_NAME *subject, X509 *issuer, EVP_PKEY *issuer_key,
                       time_t not_before, time_t not_after, int ca)
{
    X509 *x = X509_new();
    if (!x || X509_set_version(x, X509_VERSION_3) != 1 || !set_random_serial(x) ||
        X509_set_subject_name(x, subject) != 1 ||
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) != 1 ||
        !ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), not_after) || X509_set_pubkey(x, pub) != 1)
        goto fail;
    X509 *iss = issuer ? issuer : x;
    if (ca) {
        if (!add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE") ||
            !add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") ||
            !add_ext(x, iss, NID_subject_key_identifier, "hash"))
            goto fail;
    } else {
        if (!add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") ||
            !add_ext(x, iss, NID_key_usage, "critical,digitalSignature") ||
            !add_ext(x, iss, NID_subject_key_identifier, "hash") ||
            !add_ext(x, iss, NID_authority_key_identifier, "keyid:always"))
            goto fail;
    }
    if (X509_sign(x, issuer_key, EVP_sha384()) <= 0)
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

/* The contents of a memory BIO as a malloc'd NUL-terminated string. */
static char *bio_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n < 0 || (n > 0 && !data))
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) {
        if (n > 0)
            memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

int csp_ca_issue(const csp_key *k, const char *subject_cn, int64_t validity_seconds, char **pem,
                 tse_error *err)
{
    if (!k || !subject_cn || !*subject_cn || !pem)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "missing key, subject or output");
    *pem = NULL;
    if (validity_seconds > CA_MAX_VALIDITY || validity_seconds < -CA_MAX_VALIDITY)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT,
                        "certificate validity of %lld seconds is out of range",
                        (long long)validity_seconds);
    time_t now = time(NULL);
    time_t not_after = now + (time_t)validity_seconds;
    time_t not_before = now - CA_BACKDATE;
    if (not_before > not_after - CA_BACKDATE)   /* an already expired certificate */
        not_before = not_after - CA_BACKDATE;

    int rc = 0;
    EVP_PKEY *root_key = NULL;
    X509_NAME *root_name = NULL, *tse_name = NULL;
    X509 *root = NULL, *cert = NULL;
    BIO *b = NULL;
    if (!(root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"))) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot generate the CA key");
        goto out;
    }
    if (!(root_name = make_name(CA_ROOT_CN, CA_ORG))) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot build the CA name");
        goto out;
    }
    if (!(tse_name = make_name(subject_cn, NULL))) {
        rc = csp_fail(err, TSE_ERR_INVALID_ARGUMENT,
                      "subject name '%.64s' is not usable (at most 64 characters)", subject_cn);
        goto out;
    }
    if (!(root = make_cert(root_key, root_name, NULL, root_key, not_before,
                           not_after + CA_ROOT_EXTRA, 1))) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot create the CA certificate");
        goto out;
    }
    if (!(cert = make_cert(k->pkey, tse_name, root, root_key, not_before, not_after, 0))) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot create the TSE certificate");
        goto out;
    }
    if (!(b = BIO_new(BIO_s_mem())) || PEM_write_bio_X509(b, cert) != 1 ||
        PEM_write_bio_X509(b, root) != 1 || !(*pem = bio_string(b))) {
        rc = csp_fail(err, TSE_ERR_NO_MEMORY, "cannot write the certificate chain");
        goto out;
    }
out:
    BIO_free(b);
    X509_free(cert);
    X509_free(root);
    X509_NAME_free(tse_name);
    X509_NAME_free(root_name);
    EVP_PKEY_free(root_key);
    ERR_clear_error();
    return rc;
}

int csp_csr(const csp_key *k, const char *subject_cn, char **pem, tse_error *err)
{
    if (!k || !subject_cn || !*subject_cn || !pem)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "missing key, subject or output");
    *pem = NULL;
    int rc = 0;
    const EVP_MD *md = csp_curve_order_len(k->curve) == 32 ? EVP_sha256() : EVP_sha384();
    X509_NAME *name = NULL;
    BIO *b = NULL;
    X509_REQ *req = X509_REQ_new();
    if (!req) {
        rc = csp_fail(err, TSE_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    if (!(name = make_name(subject_cn, NULL))) {
        rc = csp_fail(err, TSE_ERR_INVALID_ARGUMENT,
                      "subject name '%.64s' is not usable (at most 64 characters)", subject_cn);
        goto out;
    }
    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, k->pkey) != 1 ||
        X509_REQ_sign(req, k->pkey, md) <= 0) {
        rc = csp_fail_ssl(err, TSE_ERR_INTERNAL, "cannot create the certificate request");
        goto out;
    }
    if (!(b = BIO_new(BIO_s_mem())) || PEM_write_bio_X509_REQ(b, req) != 1 ||
        !(*pem = bio_string(b))) {
        rc = csp_fail(err, TSE_ERR_NO_MEMORY, "cannot write the certificate request");
        goto out;
    }
out:
    BIO_free(b);
    X509_NAME_free(name);
    X509_REQ_free(req);
    ERR_clear_error();
    return rc;
}

/* ------------------------------------------------------------ reading chains */

static void chain_free(X509 **certs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        X509_free(certs[i]);
}

/* Every certificate of a PEM text, in order; at least one. */
static int chain_parse(const char *pem, X509 **certs, size_t *count, tse_error *err)
{
    *count = 0;
    if (!pem)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no certificate chain");
    ERR_clear_error();   /* the end of the text is told from a damaged certificate by the queue */
    size_t len = strlen(pem);
    if (len > 1u << 24)
        return csp_fail(err, TSE_ERR_TOO_LARGE, "certificate chain of %zu bytes is too large",
                        len);
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b)
        return csp_fail(err, TSE_ERR_NO_MEMORY, "out of memory");
    size_t n = 0;
    int rc = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (n == CHAIN_MAX) {
            X509_free(x);
            rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID,
                          "certificate chain has more than %d certificates", CHAIN_MAX);
            break;
        }
        certs[n++] = x;
    }
    BIO_free(b);
    if (!rc) {
        /* the loop ends at the end of the text or at a damaged certificate */
        unsigned long e = ERR_peek_last_error();
        /* The end of the text says PEM_R_NO_START_LINE; OpenSSL's PEM reader
         * stops without any error only when an allocation failed. */
        if (!e || ERR_GET_REASON(ERR_peek_error()) == ERR_R_MALLOC_FAILURE)
            rc = csp_fail(err, TSE_ERR_NO_MEMORY, "out of memory reading certificate %zu", n + 1);
        else if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
            rc = csp_fail_ssl(err, TSE_ERR_CERTIFICATE_INVALID, "certificate %zu cannot be read",
                          n + 1);
        else if (n == 0)
            rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID, "no certificate in the PEM text");
    }
    ERR_clear_error();
    if (rc) {
        chain_free(certs, n);
        return rc;
    }
    *count = n;
    return 0;
}

int csp_chain_check(const char *pem, const uint8_t *point, size_t point_len, tse_error *err)
{
    if (!point || point_len == 0)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no TSE public key to check against");
    X509 *certs[CHAIN_MAX];
    size_t n = 0;
    int rc = chain_parse(pem, certs, &n, err);
    if (rc)
        return rc;
    uint8_t cp[200];
    size_t cp_len = 0;
    EVP_PKEY *pub = X509_get0_pubkey(certs[0]);
    if (!pub || csp_pubkey_point(pub, cp, sizeof cp, &cp_len) != 0 || cp_len != point_len ||
        CRYPTO_memcmp(cp, point, point_len) != 0) {
        rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID,
                      "certificate key does not match the TSE key");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        X509 *issuer = i + 1 < n ? certs[i + 1] : NULL;
        if (issuer) {
            EVP_PKEY *ik = X509_get0_pubkey(issuer);
            if (X509_NAME_cmp(X509_get_issuer_name(certs[i]), X509_get_subject_name(issuer))) {
                rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID,
                              "certificate %zu is not issued by certificate %zu (names differ)",
                              i + 1, i + 2);
                goto out;
            }
            if (X509_check_ca(issuer) < 1) {
                rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID,
                              "certificate %zu is not a CA certificate", i + 2);
                goto out;
            }
            if (!ik || X509_verify(certs[i], ik) != 1) {
                rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID,
                              "certificate %zu is not signed by certificate %zu", i + 1, i + 2);
                goto out;
            }
        } else if (X509_check_issued(certs[i], certs[i]) == X509_V_OK) {
            /* the top of the chain: a self-signed root must carry a valid self-signature */
            EVP_PKEY *k = X509_get0_pubkey(certs[i]);
            if (!k || X509_verify(certs[i], k) != 1) {
                rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID,
                              "root certificate %zu has an invalid self-signature", i + 1);
                goto out;
            }
        }
    }
out:
    chain_free(certs, n);
    ERR_clear_error();
    return rc;
}

/* notAfter of one certificate, seconds since 1970; -1 when unreadable. */
static int cert_not_after(X509 *x, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const ASN1_TIME *t = X509_get0_notAfter(x);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

int csp_chain_not_after(const char *pem, int64_t *not_after, tse_error *err)
{
    if (!not_after)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no output for the expiry time");
    X509 *certs[CHAIN_MAX];
    size_t n = 0;
    int rc = chain_parse(pem, certs, &n, err);
    if (rc)
        return rc;
    if (cert_not_after(certs[0], not_after))
        rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID, "certificate has no readable notAfter");
    chain_free(certs, n);
    ERR_clear_error();
    return rc;
}

int csp_chain_end_of_usage(const char *pem, int64_t *end, size_t *which, tse_error *err)
{
    if (!end || !which)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no output for the end of usage");
    X509 *certs[CHAIN_MAX];
    size_t n = 0;
    int rc = chain_parse(pem, certs, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        int64_t t = 0;
        if (cert_not_after(certs[i], &t)) {
            rc = csp_fail(err, TSE_ERR_CERTIFICATE_INVALID, "certificate %zu of the chain has no readable notAfter",
                          i + 1);
        } else if (i == 0 || t < *end) {
            *end = t;
            *which = i;
        }
    }
    chain_free(certs, n);
    ERR_clear_error();
    return rc;
}

/* SHA-256 over the certificate key's uncompressed point (for an EC key) or
 * over the subjectPublicKey bits (any other key type). */
static int cert_key_serial(X509 *x, uint8_t out[32])
{
    uint8_t pt[200];
    size_t len = 0;
    EVP_PKEY *pub = X509_get0_pubkey(x);
    if (csp_is_ec(pub)) {
        int rc = csp_pubkey_point(pub, pt, sizeof pt, &len);
        if (rc != 0)
            return rc;
        csp_serial(pt, len, out);
        return 0;
    }
    ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
    if (!bits)
        return -1;
    csp_serial(ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits), out);
    return 0;
}

int csp_chain_split(const char *pem, csp_cert **certs_out, size_t *count, tse_error *err)
{
    if (!certs_out || !count)
        return csp_fail(err, TSE_ERR_INVALID_ARGUMENT, "no output for the certificates");
    *certs_out = NULL;
    *count = 0;
    X509 *certs[CHAIN_MAX];
    size_t n = 0;
    int rc = chain_parse(pem, certs, &n, err);
    if (rc)
        return rc;
    csp_cert *out = calloc(n, sizeof *out);
    if (!out) {
        rc = csp_fail(err, TSE_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *der = NULL;
        int len = i2d_X509(certs[i], &der);
        if (len <= 0) {
            rc = csp_fail_ssl(err, TSE_ERR_CERTIFICATE_INVALID, "certificate %zu cannot be encoded",
                              i + 1);
            break;
        }
        out[i].der = malloc((size_t)len);
        if (out[i].der) {
            memcpy(out[i].der, der, (size_t)len);
            out[i].der_len = (size_t)len;
        }
        OPENSSL_free(der);
        if (!out[i].der) {
            rc = csp_fail(err, TSE_ERR_NO_MEMORY, "out of memory");
            break;
        }
        int kr = cert_key_serial(certs[i], out[i].key_serial);
        if (kr != 0) {
            rc = csp_fail(err, kr == TSE_ERR_NO_MEMORY ? kr : TSE_ERR_CERTIFICATE_INVALID,
                          "certificate %zu has an unreadable public key", i + 1);
            break;
        }
    }
    if (rc) {
        csp_certs_free(out, n);
        goto out;
    }
    *certs_out = out;
    *count = n;
out:
    chain_free(certs, n);
    ERR_clear_error();
    return rc;
}

void csp_certs_free(csp_cert *certs, size_t count)
{
    if (!certs)
        return;
    for (size_t i = 0; i < count; i++)
        free(certs[i].der);
    free(certs);
}
