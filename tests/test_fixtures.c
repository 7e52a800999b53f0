/*
 * test_fixtures.c - codec/ against real vendor exports: every log message of
 * every archive in $OPENTSE_FIXTURES/exports parses, carries exactly the file
 * name we would give it, rebuilds to its signed bytes, and verifies with the
 * certificate of its serial number in the same archive; modified copies do
 * not verify. The single logs in $OPENTSE_FIXTURES/logs are parsed, named and
 * rebuilt the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dirent.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "codec/der.h"
#include "codec/logmsg.h"
#include "csp/csp.h"
#include "helpers.h"

/* What each archive holds (counted with `tar tf`). */
typedef struct expected {
    const char *file;
    size_t logs;          /* .log files: every one must verify */
    size_t certs;         /* *_X509.* files */
    size_t indefinite;    /* logs whose processData is BER indefinite-length */
    size_t misnamed;      /* certificates whose name is not their key's serial */
} expected;

static const expected archives[] = {
    {"dtrust-a.tar", 20, 3, 6, 0},
    {"dtrust-indefinite-length.tar", 14, 3, 3, 0},
    {"fiskaly-v1-utc.tar", 155, 1, 0, 0},
    /* fiskaly names its CA certificate by something other than the key hash. */
    {"fiskaly-v2-unixt-a.tar", 10, 2, 0, 1},
    {"fiskaly-v2-unixt-b.tar", 6, 2, 0, 1},
};

#define N_ARCHIVES (sizeof archives / sizeof archives[0])
#define N_SINGLE_LOGS 6

/* A certificate of an archive: the key and the serial in its file name. */
typedef struct cert {
    char name_hex[65];
    char key_hex[65];     /* SHA-256 of the key's uncompressed point */
    EVP_PKEY *key;
} cert;

/* ------------------------------------------------------- certificates */

static bool has_prefix(const uint8_t *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(p, prefix, k) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* DER of a certificate file that is PEM or DER. Caller frees. */
static uint8_t *cert_der(const uint8_t *data, size_t len, size_t *der_len)
{
    if (!has_prefix(data, len, "-----BEGIN")) {
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, data, len);
        *der_len = len;
        return copy;
    }
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long n = 0;
    assert_non_null(bio);
    assert_int_equal(PEM_read_bio(bio, &name, &header, &der, &n), 1);
    assert_string_equal(name, "CERTIFICATE");
    uint8_t *copy = malloc((size_t)n);
    assert_non_null(copy);
    memcpy(copy, der, (size_t)n);
    *der_len = (size_t)n;
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    return copy;
}

/* SubjectPublicKeyInfo of a certificate found by walking its DER: field 7 of
 * tbsCertificate (version [0], serialNumber, signature, issuer, validity,
 * subject, subjectPublicKeyInfo). For certificates OpenSSL refuses to parse. */
static EVP_PKEY *spki_from_cert(const uint8_t *der, size_t len)
{
    der_r r = der_r_init(der, len);
    der_tlv cert, tbs, field;
    if (!der_read(&r, &cert) || cert.tag != DER_SEQUENCE)
        return NULL;
    r = der_r_init(cert.content, cert.content_len);
    if (!der_read(&r, &tbs) || tbs.tag != DER_SEQUENCE)
        return NULL;
    r = der_r_init(tbs.content, tbs.content_len);
    if (der_peek_tag(&r) == (DER_CONTEXT | DER_CONSTRUCTED | 0) && !der_read(&r, &field))
        return NULL;
    for (int i = 0; i < 6; i++)
        if (!der_read(&r, &field))
            return NULL;
    if (field.tag != DER_SEQUENCE)
        return NULL;
    const unsigned char *p = field.start;
    return d2i_PUBKEY(NULL, &p, (long)field.total_len);
}

static size_t fallbacks_used;

static EVP_PKEY *cert_key(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x) {
        fallbacks_used++;
        return spki_from_cert(der, len);
    }
    EVP_PKEY *key = X509_get_pubkey(x);
    X509_free(x);
    /* The fallback must find the same key wherever OpenSSL can compare. */
    EVP_PKEY *walked = spki_from_cert(der, len);
    assert_non_null(walked);
    assert_int_equal(EVP_PKEY_eq(key, walked), 1);
    EVP_PKEY_free(walked);
    return key;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

/* Loads a certificate entry and the serial (key hash) of its key. */
static void load_cert(const th_tar_entry *e, cert *c)
{
    size_t der_len, point_len;
    uint8_t point[200], serial[32];
    uint8_t *der = cert_der(e->data, e->len, &der_len);
    const char *us = strstr(e->name, "_X509.");
    assert_non_null(us);
    assert_int_equal(us - e->name, 64);
    memcpy(c->name_hex, e->name, 64);
    c->name_hex[64] = 0;
    c->key = cert_key(der, der_len);
    assert_non_null(c->key);
    assert_int_equal(csp_pubkey_point(c->key, point, sizeof point, &point_len), 0);
    csp_serial(point, point_len, serial);
    hex(serial, sizeof serial, c->key_hex);
    free(der);
}

static const cert *find_cert(const cert *certs, size_t n, logmsg_bytes serial)
{
    char want[65];
    assert_int_equal(serial.n, 32);
    hex(serial.p, serial.n, want);
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(certs[i].name_hex, want) == 0)
            return &certs[i];
    return NULL;
}

/* ------------------------------------------------------- log messages */


static void parse_ok(const char *name, const uint8_t *data, size_t len, logmsg *m)
{
    tse_error err = {0};
    if (!logmsg_parse(data, len, m, &err))
        fail_msg("%s: %s", name, err.message);
}

/* Rebuilds the signed bytes; they must equal the file's unless processData
 * was BER indefinite (a DER writer cannot reproduce it). Returns whether the
 * message had indefinite processData. */
static bool check_rebuild(const char *name, const logmsg *m)
{
    static th_rebuilt rb;
    static uint8_t tbs[16384];
    logmsg_fields f;
    assert_true(th_fields_from(m, &rb, &f));
    der_w w = der_w_init(tbs, sizeof tbs);
    if (!logmsg_encode_tbs(&w, &f))
        fail_msg("%s: fields do not rebuild", name);
    assert_true(der_w_ok(&w));
    if (m->process_data.indefinite)
        return true;
    if (w.len != m->signed_bytes.n || memcmp(tbs, m->signed_bytes.p, w.len) != 0)
        fail_msg("%s: rebuilt signed bytes differ", name);
    return false;
}

/* File counter: how many earlier logs of the archive have the same name. */
static unsigned file_counter(char (*names)[512], size_t n, const char *base)
{
    unsigned fc = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], base) == 0)
            fc++;
    return fc;
}

static tse_hash hash_of(const logmsg *m)
{
    bool sha3;
    const char *name = logmsg_sigalg_name(m->signature_algorithm_oid);
    int bits = logmsg_sigalg_hash_bits(m->signature_algorithm_oid, &sha3);
    assert_non_null(name);
    assert_true(strncmp(name, "ecdsa-plain-", 12) == 0);
    assert_false(sha3);
    switch (bits) {
    case 256: return TSE_HASH_SHA256;
    case 384: return TSE_HASH_SHA384;
    case 512: return TSE_HASH_SHA512;
    }
    fail_msg("unsupported hash %d", bits);
    return TSE_HASH_DEFAULT;
}

static bool verifies(EVP_PKEY *key, tse_hash h, logmsg_bytes tbs, logmsg_bytes sig)
{
    tse_error err = {0};
    return csp_verify(key, h, tbs.p, tbs.n, sig.p, sig.n, &err) == 0;
}

/* Flipped bytes in the signature and in the signed part must not verify. */
static void check_tampered(const th_tar_entry *e, const logmsg *m, EVP_PKEY *key, tse_hash h)
{
    uint8_t *copy = malloc(e->len);
    logmsg t;
    assert_non_null(copy);

    memcpy(copy, e->data, e->len);
    copy[m->signature.p - e->data + m->signature.n / 2] ^= 0x01;
    parse_ok(e->name, copy, e->len, &t);
    assert_false(verifies(key, h, t.signed_bytes, t.signature));

    memcpy(copy, e->data, e->len);
    copy[m->serial_number.p - e->data + 7] ^= 0x80;
    parse_ok(e->name, copy, e->len, &t);
    assert_false(verifies(key, h, t.signed_bytes, t.signature));

    memcpy(copy, e->data, e->len);
    copy[m->signed_bytes.n / 3 + (m->signed_bytes.p - e->data)] ^= 0x20;
    if (logmsg_parse(copy, e->len, &t, NULL))
        assert_false(verifies(key, h, t.signed_bytes, t.signature));
    free(copy);
}

typedef struct tally {
    size_t logs, certs, verified, indefinite, misnamed;
} tally;

static void check_log(const th_tar_entry *e, char (*names)[512], size_t n_names,
                      const cert *certs, size_t n_certs, tally *t)
{
    logmsg m;
    char name[512];
    parse_ok(e->name, e->data, e->len, &m);
    /* Our name for it, with _Fc-n when an earlier log had the same name. */
    assert_true(logmsg_filename(&m, 0, names[n_names], sizeof names[0]));
    unsigned fc = file_counter(names, n_names, names[n_names]);
    assert_true(logmsg_filename(&m, fc, name, sizeof name));
    if (strcmp(name, e->name) != 0)
        fail_msg("file name %s, ours %s", e->name, name);
    if (check_rebuild(e->name, &m))
        t->indefinite++;
    const cert *c = find_cert(certs, n_certs, m.serial_number);
    if (!c)
        fail_msg("%s: no certificate for its serial number", e->name);
    /* The certificate named by the serial carries the key of that serial. */
    assert_int_equal(strcasecmp(c->key_hex, c->name_hex), 0);
    tse_hash h = hash_of(&m);
    if (!verifies(c->key, h, m.signed_bytes, m.signature))
        fail_msg("%s: signature does not verify", e->name);
    t->verified++;
    check_tampered(e, &m, c->key, h);
}

/* All certificates of all archives, for the single logs. */
static cert all_certs[64];
static size_t n_all_certs;

static void check_archive(const expected *x)
{
    char rel[256];
    snprintf(rel, sizeof rel, "exports/%s", x->file);
    char *path = th_fixture(rel);
    th_tar_entry *e;
    size_t count;
    cert certs[16];
    tally t = {0};
    assert_int_equal(th_tar_read(path, &e, &count), 0);
    char (*names)[512] = calloc(count + 1, sizeof *names);
    assert_non_null(names);
    for (size_t i = 0; i < count; i++) {
        if (!strstr(e[i].name, "_X509."))
            continue;
        assert_true(t.certs < 16);
        load_cert(&e[i], &certs[t.certs]);
        if (strcasecmp(certs[t.certs].key_hex, certs[t.certs].name_hex) != 0)
            t.misnamed++;
        t.certs++;
    }
    for (size_t i = 0; i < count; i++) {
        if (!ends_with(e[i].name, ".log"))
            continue;
        check_log(&e[i], names, t.logs, certs, t.certs, &t);
        t.logs++;
    }
    print_message("%s: %zu logs, %zu verified, %zu certificates (%zu not named by their key), "
                  "%zu with indefinite processData\n",
                  x->file, t.logs, t.verified, t.certs, t.misnamed, t.indefinite);
    assert_int_equal(t.logs, x->logs);
    assert_int_equal(t.verified, x->logs);
    assert_int_equal(t.certs, x->certs);
    assert_int_equal(t.indefinite, x->indefinite);
    assert_int_equal(t.misnamed, x->misnamed);
    for (size_t i = 0; i < t.certs; i++) {
        if (n_all_certs < sizeof all_certs / sizeof all_certs[0])
            all_certs[n_all_certs++] = certs[i];
        else
            EVP_PKEY_free(certs[i].key);
    }
    free(names);
    th_tar_free(e, count);
    free(path);
}

/* Every .tar in exports/ is one we expect, and all are there. */
static void test_archive_list(void **state)
{
    (void)state;
    char *dir = th_fixture("exports");
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t seen = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (!ends_with(de->d_name, ".tar"))
            continue;
        bool known = false;
        for (size_t i = 0; i < N_ARCHIVES; i++)
            known = known || strcmp(archives[i].file, de->d_name) == 0;
        if (!known)
            fail_msg("archive %s has no expected counts", de->d_name);
        seen++;
    }
    closedir(d);
    free(dir);
    assert_int_equal(seen, N_ARCHIVES);
}

static void test_archives(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ARCHIVES; i++)
        check_archive(&archives[i]);
    print_message("certificates needing the DER-walk fallback: %zu\n", fallbacks_used);
}

/* The single logs: parsed, named, rebuilt; verified when some archive holds
 * the certificate of their serial number. None does: these logs come from
 * other TSEs than the exports, so the count of verified ones is zero. */
static void test_single_logs(void **state)
{
    (void)state;
    char *dir = th_fixture("logs");
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t logs = 0, verified = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (!ends_with(de->d_name, ".log"))
            continue;
        char path[1024], name[512];
        size_t len;
        logmsg m;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        uint8_t *data = th_read_file(path, &len);
        assert_non_null(data);
        parse_ok(de->d_name, data, len, &m);
        assert_true(logmsg_filename(&m, 0, name, sizeof name));
        assert_string_equal(name, de->d_name);
        assert_false(check_rebuild(de->d_name, &m));
        const cert *c = find_cert(all_certs, n_all_certs, m.serial_number);
        if (c && verifies(c->key, hash_of(&m), m.signed_bytes, m.signature))
            verified++;
        logs++;
        free(data);
    }
    closedir(d);
    free(dir);
    print_message("logs/: %zu logs, %zu verified\n", logs, verified);
    assert_int_equal(logs, N_SINGLE_LOGS);
    assert_int_equal(verified, 0);
}

static int free_certs(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_all_certs; i++)
        EVP_PKEY_free(all_certs[i].key);
    n_all_certs = 0;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archive_list),
        cmocka_unit_test(test_archives),
        cmocka_unit_test(test_single_logs),
    };
    return cmocka_run_group_tests(tests, NULL, free_certs);
}
