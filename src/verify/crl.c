/*
 * crl.c - certificate revocation lists the auditor gives (--crl), checked
 * as TR-03153-1 v1.1.1 section 10.2.3 asks: a list is used only when its
 * issuer is a certificate of the chain whose key verifies it and it is
 * current (thisUpdate less than 24 hours before the check, nextUpdate after
 * it, section 10.1). Every certificate of the chains below a root is then
 * looked up in the lists of its issuer; in the hybrid model a revocation
 * counts from its date (or the invalidity date, when earlier) against the
 * times of the logs signed under that certificate.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "internal.h"

static bool self_named(const vcert *c)
{
    return c->issuer.n == c->subject.n && memcmp(c->issuer.p, c->subject.p, c->issuer.n) == 0;
}

/* A list is current for this long after its thisUpdate (section 10.1). */
#define CRL_MAX_AGE (24 * 3600)

typedef struct vcrl {
    X509_CRL *crl;
    const char *name;
    uint8_t *issuer;          /* DER of the issuer Name */
    int issuer_len;
    bool accepted;
} vcrl;

static bool asn1_time(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    *out = (int64_t)timegm(&tm);
    return true;
}

X509_CRL *vcrl_load(const verify_input *in)
{
    if (in->len > 0x7fffffff)
        return NULL;
    X509_CRL *crl = NULL;
    const uint8_t *p = in->data;
    size_t skip = 0;
    while (skip < in->len && (p[skip] == ' ' || p[skip] == '\r' || p[skip] == '\n'))
        skip++;
    if (in->len - skip >= 10 && memcmp(p + skip, "-----BEGIN", 10) == 0) {
        BIO *bio = BIO_new_mem_buf(in->data, (int)in->len);
        if (bio)
            crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        BIO_free(bio);
    } else {
        crl = d2i_X509_CRL(NULL, &p, (long)in->len);
        if (crl && p != in->data + in->len) {
            X509_CRL_free(crl);
            crl = NULL;
        }
    }
    ERR_clear_error();
    return crl;
}

static bool names(const vslice *name, const vcrl *c)
{
    return name->n == (size_t)c->issuer_len && memcmp(name->p, c->issuer, name->n) == 0;
}

/* The certificate among certs and roots whose name issues `c` and whose key
 * verifies it; `named` tells whether some certificate had the name at all. */
static vcert *crl_signer(vcert *certs, size_t n_certs, vcert *roots, size_t n_roots,
                         const vcrl *c, bool *named)
{
    *named = false;
    for (size_t k = 0; k < 2; k++) {
        vcert *set = k ? roots : certs;
        size_t n = k ? n_roots : n_certs;
        for (size_t i = 0; i < n; i++) {
            if (!set[i].key || !names(&set[i].subject, c))
                continue;
            *named = true;
            int ok = X509_CRL_verify(c->crl, set[i].key);
            ERR_clear_error();
            if (ok == 1)
                return &set[i];
        }
    }
    return NULL;
}

/* Section 10.2.3: issuer, signature, currency. Sets c->accepted. */
static int check_list(vcrl *c, vcert *certs, size_t n_certs, vcert *roots, size_t n_roots,
                      int64_t now, verify_result *r, const verify_options *o)
{
    bool named;
    int64_t this_update, next_update;
    char a[32], b[32];
    vcert *signer = crl_signer(certs, n_certs, roots, n_roots, c, &named);
    if (!named)
        return vr_add(r, o, VERIFY_NOTE, "crl-unrelated", c->name,
                      "issued by no certificate of the archive's chains: not used");
    if (!signer)
        return vr_add(r, o, VERIFY_WARNING, "crl-signature-invalid", c->name,
                      "its signature does not verify with the key of its issuer: refused");
    if (!asn1_time(X509_CRL_get0_lastUpdate(c->crl), &this_update))
        return vr_add(r, o, VERIFY_WARNING, "crl-too-old", c->name,
                      "thisUpdate cannot be read: refused");
    if (this_update > now)
        return vr_add(r, o, VERIFY_WARNING, "crl-too-old", c->name,
                      "issued %s, after the time of the check (%s): refused",
                      vr_time(this_update, a, sizeof a), vr_time(now, b, sizeof b));
    if (now - this_update >= CRL_MAX_AGE)
        return vr_add(r, o, VERIFY_WARNING, "crl-too-old", c->name,
                      "issued %s, more than 24 hours before the check (%s): refused "
                      "(TR-03153-1 10.1 asks for a list fetched less than 24 hours ago)",
                      vr_time(this_update, a, sizeof a), vr_time(now, b, sizeof b));
    if (!asn1_time(X509_CRL_get0_nextUpdate(c->crl), &next_update) || next_update <= now)
        return vr_add(r, o, VERIFY_WARNING, "crl-too-old", c->name,
                      "its nextUpdate has passed or is missing: refused");
    c->accepted = true;
    return 0;
}

/* One certificate of a chain against the accepted lists of its issuer.
 * `covered` is set when some accepted list is its issuer's. */
static int check_cert(const vcert *cert, const vcrl *crls, size_t n, bool *covered,
                      verify_result *r, const verify_options *o)
{
    const uint8_t *p = cert->serial.p;
    ASN1_INTEGER *serial = d2i_ASN1_INTEGER(NULL, &p, (long)cert->serial.n);
    ERR_clear_error();
    *covered = false;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!crls[i].accepted || !names(&cert->issuer, &crls[i]))
            continue;
        *covered = true;
        X509_REVOKED *rev = NULL;
        if (!serial || X509_CRL_get0_by_serial(crls[i].crl, &rev, serial) != 1)
            continue;
        int64_t when;
        if (!asn1_time(X509_REVOKED_get0_revocationDate(rev), &when))
            when = INT64_MIN;   /* unreadable: revoked for all time */
        ASN1_GENERALIZEDTIME *inv = X509_REVOKED_get_ext_d2i(rev, NID_invalidity_date, NULL, NULL);
        int64_t invalid;
        if (inv && asn1_time(inv, &invalid) && invalid < when)
            when = invalid;
        ASN1_GENERALIZEDTIME_free(inv);
        ERR_clear_error();
        char a[32], b[32];
        if (when <= cert->use_max)
            rc = vr_add(r, o, VERIFY_ERROR, "certificate-revoked", cert->file,
                        "revoked (%s) as of %s, but logs were signed under it until %s",
                        crls[i].name, vr_time(when, a, sizeof a),
                        vr_time(cert->use_max, b, sizeof b));
        else
            rc = vr_add(r, o, VERIFY_NOTE, "certificate-revoked-later", cert->file,
                        "revoked (%s) as of %s, after the last log signed under it (%s): "
                        "those signatures stay valid",
                        crls[i].name, vr_time(when, a, sizeof a),
                        vr_time(cert->use_max, b, sizeof b));
    }
    ASN1_INTEGER_free(serial);
    return rc;
}

int vcrl_check(vcert *certs, size_t n_certs, vcert *roots, size_t n_roots, verify_result *r,
               const verify_options *o)
{
    size_t n = o ? o->n_crls : 0;
    int64_t now = o && o->now ? o->now : (int64_t)time(NULL);
    r->revocation_checked = false;
    bool chained = false;
    for (size_t i = 0; i < n_certs + n_roots; i++) {
        const vcert *c = i < n_certs ? &certs[i] : &roots[i - n_certs];
        chained = chained || (c->used && !self_named(c));
    }
    if (!n && !chained)
        return 0;
    if (!n)
        return vr_add(r, o, VERIFY_NOTE, "revocation-unchecked", NULL,
                      "no CRL given (--crl): revocation of the chain's certificates was not "
                      "checked (TR-03153-1 10.1 admits no check without a current CRL)");
    vcrl *crls = calloc(n, sizeof *crls);
    if (!crls)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        vcrl *c = &crls[i];
        c->name = o->crls[i].name ? o->crls[i].name : "CRL";
        if (!(c->crl = vcrl_load(&o->crls[i]))) {
            rc = vr_add(r, o, VERIFY_WARNING, "crl-unreadable", c->name,
                        "not a DER or PEM certificate revocation list");
            continue;
        }
        c->issuer_len = i2d_X509_NAME(X509_CRL_get_issuer(c->crl), &c->issuer);
        if (c->issuer_len <= 0) {
            c->issuer = NULL;
            rc = vr_add(r, o, VERIFY_WARNING, "crl-unreadable", c->name, "its issuer cannot be read");
            continue;
        }
        rc = check_list(c, certs, n_certs, roots, n_roots, now, r, o);
    }
    bool all = true, any = false;
    for (size_t k = 0; k < 2 && rc == 0; k++) {
        vcert *set = k ? roots : certs;
        size_t m = k ? n_roots : n_certs;
        for (size_t i = 0; i < m && rc == 0; i++) {
            bool covered;
            if (!set[i].used || self_named(&set[i]))
                continue;
            any = true;
            rc = check_cert(&set[i], crls, n, &covered, r, o);
            if (rc == 0 && !covered) {
                all = false;
                rc = vr_add(r, o, VERIFY_NOTE, "revocation-unchecked", set[i].file,
                            "no accepted CRL of its issuer was given: its revocation was not "
                            "checked");
            }
        }
    }
    r->revocation_checked = rc == 0 && any && all;
    for (size_t i = 0; i < n; i++) {
        X509_CRL_free(crls[i].crl);
        OPENSSL_free(crls[i].issuer);
    }
    free(crls);
    return rc;
}
