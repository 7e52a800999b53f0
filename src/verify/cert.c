/*
 * cert.c - certificates of an export archive: loading (DER or PEM), the
 * fields a verifier needs read straight from the DER, and the chain check.
 *
 * Deployed TSEs ship certificates that OpenSSL 3's decoder refuses (D-Trust,
 * old fiskaly). So nothing here depends on d2i_X509 succeeding: the fields
 * (tbsCertificate, names, validity, key identifiers, public key, signature)
 * are found by walking the DER, and an issuer signature is checked over the
 * tbsCertificate bytes as they stand. When OpenSSL does decode both
 * certificates, X509_verify is used instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "codec/der.h"
#include "codec/logmsg.h"
#include "csp/csp.h"
#include "internal.h"

static bool starts_with(const uint8_t *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(p, prefix, k) == 0;
}

/* DER bytes of a PEM or DER certificate file into a malloc'd buffer. */
static uint8_t *file_der(const uint8_t *data, size_t len, size_t *der_len, char *err,
                         size_t errlen)
{
    size_t skip = 0;
    while (skip < len && (data[skip] == ' ' || data[skip] == '\t' || data[skip] == '\r' ||
                          data[skip] == '\n'))
        skip++;
    if (!starts_with(data + skip, len - skip, "-----BEGIN")) {
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        memcpy(copy, data, len);
        *der_len = len;
        return copy;
    }
    if (len > 0x7fffffff) {
        snprintf(err, errlen, "PEM file too large");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long n = 0;
    uint8_t *copy = NULL;
    if (!bio) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (PEM_read_bio(bio, &name, &header, &der, &n) != 1 || n <= 0) {
        snprintf(err, errlen, "not a PEM file");
    } else if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0) {
        snprintf(err, errlen, "PEM holds a %s, not a CERTIFICATE", name);
    } else if (!(copy = malloc((size_t)n))) {
        snprintf(err, errlen, "out of memory");
    } else {
        memcpy(copy, der, (size_t)n);
        *der_len = (size_t)n;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    return copy;
}

static bool read_time(const der_tlv *t, int64_t *out)
{
    if (t->tag == DER_UTC_TIME)
        return logmsg_time_from_text(LOGMSG_TIME_UTC, t->content, t->content_len, out);
    if (t->tag == DER_GENERALIZED_TIME)
        return logmsg_time_from_text(LOGMSG_TIME_GENERALIZED, t->content, t->content_len, out);
    return false;
}

/* SKI and AKI keyIdentifier from the extensions ([3] EXPLICIT SEQUENCE OF
 * Extension). Extensions that do not parse are ignored: they only help to
 * pick an issuer. */
static void read_extensions(vcert *c, const der_tlv *ext3)
{
    der_r r = der_r_init(ext3->content, ext3->content_len);
    der_tlv seq, ext, f, val;
    if (!der_read(&r, &seq) || seq.tag != DER_SEQUENCE)
        return;
    r = der_r_init(seq.content, seq.content_len);
    while (!der_r_done(&r)) {
        char oid[64];
        if (!der_read(&r, &ext) || ext.tag != DER_SEQUENCE)
            return;
        der_r e = der_r_init(ext.content, ext.content_len);
        if (!der_read(&e, &f) || f.tag != DER_OID || !der_get_oid(&f, oid, sizeof oid))
            continue;
        if (der_peek_tag(&e) == DER_BOOLEAN && !der_read(&e, &f))
            continue;
        if (!der_read(&e, &val) || val.tag != DER_OCTET_STRING)
            continue;
        der_r v = der_r_init(val.content, val.content_len);
        der_tlv inner;
        if (!der_read(&v, &inner))
            continue;
        if (strcmp(oid, "2.5.29.14") == 0 && inner.tag == DER_OCTET_STRING) {
            c->ski.p = inner.content;
            c->ski.n = inner.content_len;
        } else if (strcmp(oid, "2.5.29.35") == 0 && inner.tag == DER_SEQUENCE) {
            der_r a = der_r_init(inner.content, inner.content_len);
            der_tlv kid;
            if (der_peek_tag(&a) == (DER_CONTEXT | 0) && der_read(&a, &kid)) {
                c->aki.p = kid.content;
                c->aki.n = kid.content_len;
            }
        }
    }
}

/* Walks Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 * signatureValue } and the fields of tbsCertificate. */
static bool walk(vcert *c, char *err, size_t errlen)
{
    der_r r = der_r_init(c->der, c->der_len);
    der_tlv cert, tbs, alg, sig, f, t1, t2, spki;
    if (!der_read(&r, &cert) || cert.tag != DER_SEQUENCE || !der_r_done(&r)) {
        snprintf(err, errlen, "not a DER certificate");
        return false;
    }
    r = der_r_init(cert.content, cert.content_len);
    if (!der_read(&r, &tbs) || tbs.tag != DER_SEQUENCE || !der_read(&r, &alg) ||
        alg.tag != DER_SEQUENCE || !der_read(&r, &sig) || sig.tag != 0x03 ||
        sig.content_len < 1 || sig.content[0] != 0) {
        snprintf(err, errlen, "malformed certificate structure");
        return false;
    }
    c->tbs.p = tbs.start;
    c->tbs.n = tbs.total_len;
    c->sig.p = sig.content + 1;
    c->sig.n = sig.content_len - 1;
    der_r a = der_r_init(alg.content, alg.content_len);
    if (!der_read(&a, &f) || f.tag != DER_OID || !der_get_oid(&f, c->sig_oid, sizeof c->sig_oid))
        c->sig_oid[0] = 0;

    r = der_r_init(tbs.content, tbs.content_len);
    if (der_peek_tag(&r) == (DER_CONTEXT | DER_CONSTRUCTED | 0) && !der_read(&r, &f))
        goto bad;
    /* serialNumber, signature */
    if (!der_read(&r, &f) || f.tag != DER_INTEGER)
        goto bad;
    c->serial.p = f.start;
    c->serial.n = f.total_len;
    if (!der_read(&r, &f) || f.tag != DER_SEQUENCE)
        goto bad;
    if (!der_read(&r, &f) || f.tag != DER_SEQUENCE)
        goto bad;
    c->issuer.p = f.start;
    c->issuer.n = f.total_len;
    if (!der_read(&r, &f) || f.tag != DER_SEQUENCE)
        goto bad;
    der_r v = der_r_init(f.content, f.content_len);
    c->has_validity = der_read(&v, &t1) && der_read(&v, &t2) && read_time(&t1, &c->not_before) &&
                      read_time(&t2, &c->not_after);
    if (!der_read(&r, &f) || f.tag != DER_SEQUENCE)
        goto bad;
    c->subject.p = f.start;
    c->subject.n = f.total_len;
    if (!der_read(&r, &spki) || spki.tag != DER_SEQUENCE)
        goto bad;
    const unsigned char *p = spki.start;
    c->key = d2i_PUBKEY(NULL, &p, (long)spki.total_len);
    if (!c->key) {
        snprintf(err, errlen, "the public key does not decode");
        return false;
    }
    while (!der_r_done(&r)) {
        if (!der_read(&r, &f))
            break;
        if (f.tag == (DER_CONTEXT | DER_CONSTRUCTED | 3))
            read_extensions(c, &f);
    }
    return true;
bad:
    snprintf(err, errlen, "malformed tbsCertificate");
    return false;
}

/* "<64 hex>_X509.<ext>": the serial in lower case, or "" when not 64 hex digits. */
static void name_serial(const char *file, char out[65])
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    const char *us = strstr(base, "_X509.");
    out[0] = 0;
    if (!us || us - base != 64)
        return;
    for (int i = 0; i < 64; i++) {
        char ch = base[i];
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            out[0] = 0;
            return;
        }
        out[i] = ch;
    }
    out[64] = 0;
}

int vcert_load(vcert *c, const char *file, const uint8_t *data, size_t len, char *err,
               size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (!(c->file = strdup(file))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    name_serial(file, c->name_hex);
    if (!(c->der = file_der(data, len, &c->der_len, err, errlen)))
        return -1;
    if (!walk(c, err, errlen))
        return -1;
    uint8_t point[200];
    size_t point_len;
    if (csp_pubkey_point(c->key, point, sizeof point, &point_len) != 0) {
        snprintf(err, errlen, "the public key is not an EC key on a named curve");
        return -1;
    }
    csp_serial(point, point_len, c->key_serial);
    hex_encode(c->key_hex, sizeof c->key_hex, c->key_serial, 32);
    const unsigned char *p = c->der;
    c->x509 = d2i_X509(NULL, &p, (long)c->der_len);
    if (c->x509 && p != c->der + c->der_len) {
        X509_free(c->x509);
        c->x509 = NULL;
    }
    ERR_clear_error();
    return 0;
}

void vcert_free(vcert *c)
{
    free(c->file);
    free(c->der);
    EVP_PKEY_free(c->key);
    X509_free(c->x509);
    memset(c, 0, sizeof *c);
}

vcert *vcert_find(vcert *certs, size_t n, const uint8_t serial[32])
{
    vcert *named = NULL;
    char hex[65];
    hex_encode(hex, sizeof hex, serial, 32);
    /* Prefer the file named by the serial when several carry the key. */
    for (size_t i = 0; i < n; i++)
        if (certs[i].key && memcmp(certs[i].key_serial, serial, 32) == 0) {
            if (strcmp(certs[i].name_hex, hex) == 0)
                return &certs[i];
            if (!named)
                named = &certs[i];
        }
    return named;
}

static const EVP_MD *md_of_sigalg(const char *oid)
{
    static const struct {
        const char *oid;
        const char *md;
    } algs[] = {
        {"1.2.840.10045.4.3.1", "SHA224"}, {"1.2.840.10045.4.3.2", "SHA256"},
        {"1.2.840.10045.4.3.3", "SHA384"}, {"1.2.840.10045.4.3.4", "SHA512"},
        {"1.2.840.113549.1.1.14", "SHA224"}, {"1.2.840.113549.1.1.11", "SHA256"},
        {"1.2.840.113549.1.1.12", "SHA384"}, {"1.2.840.113549.1.1.13", "SHA512"},
    };
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (strcmp(oid, algs[i].oid) == 0)
            return EVP_get_digestbyname(algs[i].md);
    return NULL;
}

/* 1: `c` is signed by `issuer`; 0: it is not; -1: cannot be checked. */
static int issued_by(const vcert *c, const vcert *issuer)
{
    if (c->x509 && issuer->x509) {
        int rc = X509_verify(c->x509, issuer->key);
        ERR_clear_error();
        if (rc >= 0)
            return rc == 1;
    }
    const EVP_MD *md = md_of_sigalg(c->sig_oid);
    if (!md)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -1;
    int rc = -1;
    if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, issuer->key) == 1)
        rc = EVP_DigestVerify(ctx, c->sig.p, c->sig.n, c->tbs.p, c->tbs.n) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

static bool same(vslice a, vslice b)
{
    return a.n == b.n && a.n && memcmp(a.p, b.p, a.n) == 0;
}

static bool self_issued(const vcert *c)
{
    return same(c->issuer, c->subject) &&
           (!c->aki.n || !c->ski.n || same(c->aki, c->ski));
}

/* The issuer of `c` among the certificates: same name as its issuer, same key
 * identifier when both are given, and preferably one whose signature checks. */
static vcert *find_issuer(vcert *certs, size_t n, const vcert *c)
{
    vcert *candidate = NULL;
    for (size_t i = 0; i < n; i++) {
        vcert *x = &certs[i];
        if (x == c || !x->key || !same(x->subject, c->issuer))
            continue;
        if (c->aki.n && x->ski.n && !same(c->aki, x->ski))
            continue;
        if (issued_by(c, x) == 1)
            return x;
        if (!candidate)
            candidate = x;
    }
    return candidate;
}

/* Logs of `k` signed while `c` was valid? */
static int check_validity(const vcert *c, const vkey *k, verify_result *r,
                          const verify_options *o)
{
    char a[32], b[32], x[32], y[32];
    if (!c->has_validity)
        return vr_add(r, o, VERIFY_WARNING, "certificate-validity-unreadable", c->file,
                      "the validity period cannot be read");
    if (k->logs && (k->min_time < c->not_before || k->max_time > c->not_after))
        return vr_add(r, o, VERIFY_ERROR, "certificate-not-valid-at-log-time", c->file,
                      "valid %s..%s, but logs of TSE %.16s... were signed %s..%s",
                      vr_time(c->not_before, a, sizeof a), vr_time(c->not_after, b, sizeof b),
                      c->key_hex, vr_time(k->min_time, x, sizeof x),
                      vr_time(k->max_time, y, sizeof y));
    return 0;
}

/* The logs of `k` were signed with `c` in their chain: widen its use. */
static void mark_use(vcert *c, const vkey *k)
{
    if (!k->logs)
        return;
    if (!c->used || k->min_time < c->use_min)
        c->use_min = k->min_time;
    if (!c->used || k->max_time > c->use_max)
        c->use_max = k->max_time;
    c->used = true;
}

/* TR-03153-1 10.2.2: a validity that begins after it ends, or one outside
 * the validity of the issuer. */
static int check_nesting(const vcert *c, const vcert *up, verify_result *r,
                         const verify_options *o)
{
    char a[32], b[32], x[32], y[32];
    if (c->has_validity && c->not_before > c->not_after)
        return vr_add(r, o, VERIFY_ERROR, "certificate-validity-inverted", c->file,
                      "valid from %s to %s: its validity begins after it ends",
                      vr_time(c->not_before, a, sizeof a), vr_time(c->not_after, b, sizeof b));
    /* Deployed CAs (fiskaly) issue beyond their own end; in the hybrid
     * model what counts is that each was valid when the logs were signed,
     * which check_validity holds. */
    if (up && c->has_validity && up->has_validity &&
        (c->not_before < up->not_before || c->not_after > up->not_after))
        return vr_add(r, o, VERIFY_NOTE, "certificate-validity-exceeds-issuer", c->file,
                      "valid %s..%s, beyond its issuer %s (valid %s..%s); the logs are held "
                      "against both",
                      vr_time(c->not_before, a, sizeof a), vr_time(c->not_after, b, sizeof b),
                      up->file, vr_time(up->not_before, x, sizeof x),
                      vr_time(up->not_after, y, sizeof y));
    return 0;
}

/* A given root that issued `c` (same name, signature checks), or NULL. */
static vcert *root_issuer(vcert *roots, size_t n_roots, const vcert *c)
{
    for (size_t i = 0; i < n_roots; i++)
        if (same(roots[i].subject, c->issuer) && issued_by(c, &roots[i]) == 1)
            return &roots[i];
    return NULL;
}

/* The self-signed top `top` of a chain against the given roots: anchored
 * (*reached) when it is one of them byte for byte (section 10.2.1). */
static int check_anchor(const vcert *top, vcert *roots, size_t n_roots, bool *reached,
                        verify_result *r, const verify_options *o)
{
    if (!n_roots)
        return 0;
    for (size_t i = 0; i < n_roots; i++)
        if (roots[i].der_len == top->der_len && memcmp(roots[i].der, top->der, top->der_len) == 0) {
            *reached = true;
            return 0;
        }
    return vr_add(r, o, VERIFY_ERROR, "chain-root-mismatch", top->file,
                  "the chain ends in this self-signed root (key %s), which is not the root "
                  "given (%s%s)",
                  top->key_hex, roots[0].file, n_roots > 1 ? " and others" : "");
}

/* Walks from a signing certificate up to a self-signed root (in the archive
 * or given), checking every issuer signature once and the validity of every
 * certificate at the times of `k`'s logs (the hybrid model). *reached: it
 * ended in a given root (or in a chain walked before). */
static int walk_chain(vcert *certs, size_t n, vcert *roots, size_t n_roots, vcert *leaf,
                      const vkey *k, bool *reached, verify_result *r, const verify_options *o)
{
    vcert *cur = leaf;
    bool seen = false;   /* the edges from cur upwards were checked from another leaf */
    mark_use(leaf, k);
    for (int depth = 0; depth < 8; depth++) {
        if (self_issued(cur)) {
            if (seen) {
                *reached = true;
                return 0;
            }
            if (check_nesting(cur, NULL, r, o) != 0)
                return -1;
            int ok = issued_by(cur, cur);
            if (ok == 0)
                return vr_add(r, o, VERIFY_ERROR, "certificate-signature-invalid", cur->file,
                              "self-signed certificate whose signature does not verify");
            if (ok < 0 && vr_add(r, o, VERIFY_WARNING, "certificate-not-checkable", cur->file,
                                 "signature algorithm %s is not supported", cur->sig_oid) != 0)
                return -1;
            return check_anchor(cur, roots, n_roots, reached, r, o);
        }
        vcert *up = find_issuer(certs, n, cur);
        bool given = false;
        if (!up && (up = root_issuer(roots, n_roots, cur)))
            given = true;   /* the archive left out the root; the given one issued it */
        if (!up && seen)
            *reached = true;
        if (!up)
            return seen ? 0
                        : vr_add(r, o, VERIFY_ERROR, "chain-incomplete", cur->file,
                                 n_roots ? "the issuer of this certificate is neither in the "
                                           "archive nor a given root"
                                         : "the issuer of this certificate is not in the archive "
                                           "(an export holds the whole chain up to a "
                                           "self-signed root)");
        if (!seen) {
            int ok = issued_by(cur, up);
            if (ok == 0)
                return vr_add(r, o, VERIFY_ERROR, "certificate-signature-invalid", cur->file,
                              "not signed by the key of its issuer %s", up->file);
            if (ok < 0 && vr_add(r, o, VERIFY_WARNING, "certificate-not-checkable", cur->file,
                                 "signature algorithm %s is not supported", cur->sig_oid) != 0)
                return -1;
            if (check_nesting(cur, up, r, o) != 0)
                return -1;
        }
        seen = seen || up->in_chain;
        up->in_chain = true;
        mark_use(up, k);
        if (check_validity(up, k, r, o) != 0)
            return -1;
        if (given) {
            *reached = true;
            if (seen)
                return 0;
            int ok = issued_by(up, up);
            return ok == 0 ? vr_add(r, o, VERIFY_ERROR, "certificate-signature-invalid", up->file,
                                    "the given root's self-signature does not verify")
                           : 0;
        }
        cur = up;
    }
    return vr_add(r, o, VERIFY_ERROR, "chain-too-long", leaf->file,
                  "no self-signed root within 8 certificates");
}

/* walk_chain; *unanchored is set when the chain did not end in a given root. */
static int check_chain(vcert *certs, size_t n, vcert *roots, size_t n_roots, vcert *leaf,
                       const vkey *k, bool *unanchored, verify_result *r,
                       const verify_options *o)
{
    bool reached = false;
    int rc = walk_chain(certs, n, roots, n_roots, leaf, k, &reached, r, o);
    if (!reached)
        *unanchored = true;
    return rc;
}

int vcert_check(vcert *certs, size_t n_certs, vcert *roots, size_t n_roots, const vkey *keys,
                size_t n_keys, bool chain, verify_result *r, const verify_options *o)
{
    bool unanchored = false, chains = false;
    for (size_t i = 0; i < n_keys; i++)
        if (keys[i].cert)
            keys[i].cert->signs_logs = true;
    for (size_t i = 0; i < n_keys; i++) {
        vcert *c = keys[i].cert;
        if (!c)
            continue;
        if (check_validity(c, &keys[i], r, o) != 0)
            return -1;
        if (!chain)
            continue;
        if (strcmp(c->name_hex, c->key_hex) != 0 &&
            vr_add(r, o, VERIFY_ERROR, "certificate-name-mismatch", c->file,
                   "signs logs with key serial %s, but its name says otherwise", c->key_hex) != 0)
            return -1;
        chains = true;
        if (check_chain(certs, n_certs, roots, n_roots, c, &keys[i], &unanchored, r, o) != 0)
            return -1;
    }
    r->anchored = chains && !unanchored;
    if (chains && !n_roots &&
        vr_add(r, o, VERIFY_NOTE, "chain-not-anchored", NULL,
               "the certificate chain is consistent up to its self-signed root, but not "
               "anchored: give the root (the BSI/BMF root in production) with --root") != 0)
        return -1;
    for (size_t i = 0; i < n_certs && chain; i++) {
        vcert *c = &certs[i];
        if (c->signs_logs)
            continue;
        const vkey *claimed = NULL;
        for (size_t j = 0; j < n_keys && c->name_hex[0]; j++) {
            char hex[65];
            hex_encode(hex, sizeof hex, keys[j].serial, 32);
            if (strcmp(hex, c->name_hex) == 0)
                claimed = &keys[j];
        }
        int rc = 0;
        if (claimed && memcmp(c->key_serial, claimed->serial, 32) == 0)
            rc = vr_add(r, o, VERIFY_WARNING, "file-duplicate", c->file,
                        "a second certificate of the key that signs logs (%s)", claimed->cert->file);
        else if (claimed)
            rc = vr_add(r, o, VERIFY_ERROR, "certificate-key-mismatch", c->file,
                        "named for the TSE key that signs logs, but holds key %s", c->key_hex);
        else if (!c->in_chain)
            rc = vr_add(r, o, VERIFY_WARNING, "certificate-unused", c->file,
                        "neither signs logs nor issues a certificate that does");
        else if (strcmp(c->name_hex, c->key_hex) != 0)
            rc = vr_add(r, o, VERIFY_NOTE, "ca-certificate-name", c->file,
                        "CA certificate not named by its key serial %s", c->key_hex);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int summarize_one(const vcert *c, bool given, verify_cert *out)
{
    memset(out, 0, sizeof *out);
    const unsigned char *p = c->subject.p;
    X509_NAME *name = c->subject.n ? d2i_X509_NAME(NULL, &p, (long)c->subject.n) : NULL;
    if (name) {
        char *line = X509_NAME_oneline(name, NULL, 0);
        if (line && !(out->subject = strdup(line))) {
            OPENSSL_free(line);
            X509_NAME_free(name);
            return -1;
        }
        OPENSSL_free(line);
        X509_NAME_free(name);
    }
    ERR_clear_error();
    out->has_validity = c->has_validity;
    out->not_before = c->not_before;
    out->not_after = c->not_after;
    out->signs_logs = c->signs_logs;
    out->in_chain = c->in_chain;
    out->given_root = given;
    out->used = c->used;
    out->use_min = c->use_min;
    out->use_max = c->use_max;
    return (out->file = strdup(c->file)) ? 0 : -1;
}

int vcert_summarize(const vcert *certs, size_t n_certs, const vcert *roots, size_t n_roots,
                    verify_result *r)
{
    size_t n = n_certs + n_roots;
    if (!n)
        return 0;
    if (!(r->certs = calloc(n, sizeof *r->certs)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        r->n_certs++;   /* counted first, so that a partial one is freed */
        if (summarize_one(i < n_certs ? &certs[i] : &roots[i - n_certs], i >= n_certs,
                          &r->certs[i]) != 0)
            return -1;
    }
    return 0;
}
