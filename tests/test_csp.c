/*
 * test_csp.c - unit tests of the cryptographic service provider: signatures
 * on every curve checked by the `openssl` command line, the key serial,
 * sealed keys, the master key file, PIN/PUK hashing, the built-in CA, CSRs
 * and certificate chains.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "csp/csp.h"
#include "helpers.h"

static const tse_curve curves[] = {
    TSE_CURVE_P256,
    TSE_CURVE_P384,
    TSE_CURVE_P521,
    TSE_CURVE_BRAINPOOL_P256R1,
    TSE_CURVE_BRAINPOOL_P384R1,
    TSE_CURVE_BRAINPOOL_P512R1,
};
#define NCURVES (sizeof curves / sizeof curves[0])

static const uint8_t msg[] = "StartTransaction|Kassenbeleg-V1|Beleg^75.33_7.99_0.00_0.00_0.00";

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs a shell command; its output into out (may be NULL); returns the exit status. */
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = 0;
    char buf[512];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out && len + 1 < cap) {
            size_t c = r < cap - 1 - len ? r : cap - 1 - len;
            memcpy(out + len, buf, c);
            len += c;
        }
    }
    if (out)
        out[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static csp_key *gen(tse_curve c, uint8_t *point, size_t *point_len)
{
    csp_key *k = NULL;
    tse_error err = {0};
    assert_int_equal(csp_key_generate(c, &k, &err), 0);
    assert_non_null(k);
    assert_int_equal(csp_key_curve(k), c);
    assert_int_equal(csp_key_public(k, point, 133, point_len, &err), 0);
    assert_int_equal(*point_len, 1 + 2 * csp_curve_order_len(c));
    assert_int_equal(point[0], 0x04);
    return k;
}

/* ------------------------------------------------------------ tables */

static void test_tables(void **state)
{
    (void)state;
    assert_string_equal(csp_curve_group(TSE_CURVE_P256), "P-256");
    assert_string_equal(csp_curve_group(TSE_CURVE_BRAINPOOL_P384R1), "brainpoolP384r1");
    assert_int_equal(csp_curve_order_len(TSE_CURVE_P256), 32);
    assert_int_equal(csp_curve_order_len(TSE_CURVE_P384), 48);
    assert_int_equal(csp_curve_order_len(TSE_CURVE_P521), 66);
    assert_int_equal(csp_curve_order_len(TSE_CURVE_BRAINPOOL_P256R1), 32);
    assert_int_equal(csp_curve_order_len(TSE_CURVE_BRAINPOOL_P384R1), 48);
    assert_int_equal(csp_curve_order_len(TSE_CURVE_BRAINPOOL_P512R1), 64);
    assert_int_equal(csp_default_hash(TSE_CURVE_P256), TSE_HASH_SHA256);
    assert_int_equal(csp_default_hash(TSE_CURVE_BRAINPOOL_P256R1), TSE_HASH_SHA256);
    assert_int_equal(csp_default_hash(TSE_CURVE_P384), TSE_HASH_SHA384);
    assert_int_equal(csp_default_hash(TSE_CURVE_BRAINPOOL_P384R1), TSE_HASH_SHA384);
    assert_int_equal(csp_default_hash(TSE_CURVE_P521), TSE_HASH_SHA512);
    assert_int_equal(csp_default_hash(TSE_CURVE_BRAINPOOL_P512R1), TSE_HASH_SHA512);
    assert_string_equal(csp_sigalg_oid(TSE_HASH_SHA256), "0.4.0.127.0.7.1.1.4.1.3");
    assert_string_equal(csp_sigalg_oid(TSE_HASH_SHA384), "0.4.0.127.0.7.1.1.4.1.4");
    assert_string_equal(csp_sigalg_oid(TSE_HASH_SHA512), "0.4.0.127.0.7.1.1.4.1.5");
    assert_string_equal(csp_sigalg_name(TSE_HASH_SHA256), "ecdsa-plain-SHA256");
    assert_string_equal(csp_sigalg_name(TSE_HASH_SHA512), "ecdsa-plain-SHA512");
    assert_null(csp_sigalg_oid(TSE_HASH_DEFAULT));
    assert_null(csp_curve_group((tse_curve)99));

    csp_key *k = NULL;
    tse_error err = {0};
    assert_int_equal(csp_key_generate((tse_curve)99, &k, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_null(k);
    assert_non_null(strstr(err.message, "curve"));
}

/* ------------------------------------------------------------ signatures */

/* Every curve with its default hash and with every other hash, checked by
 * openssl; a changed message fails both verifiers. */
static void test_sign_openssl(void **state)
{
    (void)state;
    static const tse_hash hashes[] = {TSE_HASH_DEFAULT, TSE_HASH_SHA256, TSE_HASH_SHA384,
                                      TSE_HASH_SHA512};
    for (size_t i = 0; i < NCURVES; i++) {
        uint8_t point[133];
        size_t plen = 0;
        csp_key *k = gen(curves[i], point, &plen);
        EVP_PKEY *pub = csp_pubkey_from_point(curves[i], point, plen);
        assert_non_null(pub);
        for (size_t j = 0; j < sizeof hashes / sizeof hashes[0]; j++) {
            uint8_t sig[TSE_MAX_SIGNATURE_LEN];
            size_t sig_len = 0;
            tse_error err = {0};
            assert_int_equal(
                csp_sign(k, hashes[j], msg, sizeof msg - 1, sig, sizeof sig, &sig_len, &err), 0);
            assert_int_equal(sig_len, 2 * csp_curve_order_len(curves[i]));
            assert_int_equal(csp_verify(pub, hashes[j], msg, sizeof msg - 1, sig, sig_len, &err),
                             0);
            assert_int_equal(
                th_openssl_verify(curves[i], hashes[j], point, plen, msg, sizeof msg - 1, sig,
                                  sig_len),
                0);

            uint8_t bad[sizeof msg];
            memcpy(bad, msg, sizeof msg);
            bad[3] ^= 1;
            assert_int_equal(csp_verify(pub, hashes[j], bad, sizeof msg - 1, sig, sig_len, &err),
                             TSE_ERR_INVALID_ARGUMENT);
            assert_non_null(strstr(err.message, "does not verify"));
            assert_int_equal(th_openssl_verify(curves[i], hashes[j], point, plen, bad,
                                               sizeof msg - 1, sig, sig_len),
                             1);
        }
        /* the empty message is a message too */
        uint8_t sig[TSE_MAX_SIGNATURE_LEN];
        size_t sig_len = 0;
        assert_int_equal(csp_sign(k, TSE_HASH_DEFAULT, NULL, 0, sig, sizeof sig, &sig_len, NULL),
                         0);
        assert_int_equal(csp_verify(pub, TSE_HASH_DEFAULT, NULL, 0, sig, sig_len, NULL), 0);
        EVP_PKEY_free(pub);
        csp_key_free(k);
    }
}

/* A signature made with one hash does not verify with another. */
static void test_verify_wrong_hash(void **state)
{
    (void)state;
    uint8_t point[133], sig[TSE_MAX_SIGNATURE_LEN];
    size_t plen = 0, sig_len = 0;
    csp_key *k = gen(TSE_CURVE_P256, point, &plen);
    EVP_PKEY *pub = csp_pubkey_from_point(TSE_CURVE_P256, point, plen);
    assert_non_null(pub);
    assert_int_equal(
        csp_sign(k, TSE_HASH_SHA384, msg, sizeof msg - 1, sig, sizeof sig, &sig_len, NULL), 0);
    assert_int_equal(csp_verify(pub, TSE_HASH_SHA384, msg, sizeof msg - 1, sig, sig_len, NULL), 0);
    assert_int_equal(csp_verify(pub, TSE_HASH_SHA256, msg, sizeof msg - 1, sig, sig_len, NULL),
                     TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(csp_verify(pub, TSE_HASH_DEFAULT, msg, sizeof msg - 1, sig, sig_len, NULL),
                     TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(th_openssl_verify(TSE_CURVE_P256, TSE_HASH_SHA256, point, plen, msg,
                                       sizeof msg - 1, sig, sig_len),
                     1);
    /* a different key */
    uint8_t point2[133];
    size_t plen2 = 0;
    csp_key *k2 = gen(TSE_CURVE_P256, point2, &plen2);
    EVP_PKEY *pub2 = csp_pubkey_from_point(TSE_CURVE_P256, point2, plen2);
    assert_int_equal(csp_verify(pub2, TSE_HASH_SHA384, msg, sizeof msg - 1, sig, sig_len, NULL),
                     TSE_ERR_INVALID_ARGUMENT);
    EVP_PKEY_free(pub2);
    csp_key_free(k2);
    EVP_PKEY_free(pub);
    csp_key_free(k);
}

/* Malformed signatures are rejected with a message, never crash. */
static void test_verify_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCURVES; i++) {
        uint8_t point[133], sig[TSE_MAX_SIGNATURE_LEN], bad[TSE_MAX_SIGNATURE_LEN + 2];
        size_t plen = 0, sig_len = 0, ol = csp_curve_order_len(curves[i]);
        tse_error err = {0};
        csp_key *k = gen(curves[i], point, &plen);
        EVP_PKEY *pub = csp_pubkey_from_point(curves[i], point, plen);
        assert_non_null(pub);
        assert_int_equal(
            csp_sign(k, TSE_HASH_DEFAULT, msg, sizeof msg - 1, sig, sizeof sig, &sig_len, NULL),
            0);

        /* wrong lengths */
        for (size_t len = 0; len <= sizeof bad; len++) {
            if (len == sig_len)
                continue;
            memset(bad, 0, sizeof bad);
            memcpy(bad, sig, len < sig_len ? len : sig_len);
            err.message[0] = 0;
            assert_int_equal(csp_verify(pub, TSE_HASH_DEFAULT, msg, sizeof msg - 1, bad, len, &err),
                             TSE_ERR_INVALID_ARGUMENT);
            assert_true(err.message[0] != 0);
        }
        /* r = 0, s = 0 */
        memcpy(bad, sig, sig_len);
        memset(bad, 0, ol);
        assert_int_equal(csp_verify(pub, 0, msg, sizeof msg - 1, bad, sig_len, &err),
                         TSE_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "out of range"));
        memcpy(bad, sig, sig_len);
        memset(bad + ol, 0, ol);
        assert_int_equal(csp_verify(pub, 0, msg, sizeof msg - 1, bad, sig_len, &err),
                         TSE_ERR_INVALID_ARGUMENT);
        /* r, s >= order: all 0xff is above every order */
        memcpy(bad, sig, sig_len);
        memset(bad, 0xff, ol);
        assert_int_equal(csp_verify(pub, 0, msg, sizeof msg - 1, bad, sig_len, &err),
                         TSE_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "out of range"));
        memcpy(bad, sig, sig_len);
        memset(bad + ol, 0xff, ol);
        assert_int_equal(csp_verify(pub, 0, msg, sizeof msg - 1, bad, sig_len, &err),
                         TSE_ERR_INVALID_ARGUMENT);
        /* every single flipped bit */
        for (size_t b = 0; b < sig_len * 8; b += 7) {
            memcpy(bad, sig, sig_len);
            bad[b / 8] ^= (uint8_t)(1u << (b % 8));
            assert_int_equal(csp_verify(pub, 0, msg, sizeof msg - 1, bad, sig_len, NULL),
                             TSE_ERR_INVALID_ARGUMENT);
        }
        /* random garbage */
        for (int t = 0; t < 50; t++) {
            assert_int_equal(csp_random_bytes(bad, sig_len), 0);
            assert_int_equal(csp_verify(pub, 0, msg, sizeof msg - 1, bad, sig_len, NULL),
                             TSE_ERR_INVALID_ARGUMENT);
        }
        /* the signature still verifies after all that */
        assert_int_equal(csp_verify(pub, 0, msg, sizeof msg - 1, sig, sig_len, NULL), 0);
        /* buffer too small to sign into */
        assert_int_equal(csp_sign(k, 0, msg, sizeof msg - 1, bad, 2 * ol - 1, &sig_len, &err),
                         TSE_ERR_INVALID_ARGUMENT);
        EVP_PKEY_free(pub);
        csp_key_free(k);
    }
    assert_int_equal(csp_verify(NULL, 0, msg, 1, msg, 64, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(csp_sign(NULL, 0, msg, 1, (uint8_t[64]){0}, 64, &(size_t){0}, NULL),
                     TSE_ERR_INVALID_ARGUMENT);
}

static void test_plain_to_der(void **state)
{
    (void)state;
    uint8_t sig[64];
    memset(sig, 0, sizeof sig);
    sig[31] = 1;
    sig[32] = 0x80;   /* s needs a leading zero in DER */
    uint8_t *der = NULL;
    size_t der_len = 0;
    assert_int_equal(csp_plain_to_der(sig, sizeof sig, &der, &der_len), 0);
    /* SEQUENCE { INTEGER 1, INTEGER 0x0080..00 (33 bytes) } */
    assert_int_equal(der_len, 2 + 3 + 2 + 33);
    assert_int_equal(der[0], 0x30);
    assert_int_equal(der[1], 38);
    assert_memory_equal(der + 2, "\x02\x01\x01\x02\x21\x00\x80", 7);
    free(der);
    assert_int_equal(csp_plain_to_der(sig, 63, &der, &der_len), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(csp_plain_to_der(sig, 0, &der, &der_len), TSE_ERR_INVALID_ARGUMENT);
    memset(sig, 0, sizeof sig);
    assert_int_equal(csp_plain_to_der(sig, sizeof sig, &der, &der_len), TSE_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ points and serial */

static void test_serial(void **state)
{
    (void)state;
    /* SHA-256("abc"), FIPS 180-2 */
    static const uint8_t abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t out[32];
    csp_serial((const uint8_t *)"abc", 3, out);
    assert_memory_equal(out, abc, 32);

    /* the serial of a real key equals openssl's SHA-256 of the point that
     * openssl itself extracts from the public key PEM */
    for (size_t i = 0; i < NCURVES; i++) {
        uint8_t point[133];
        size_t plen = 0;
        csp_key *k = gen(curves[i], point, &plen);
        csp_serial(point, plen, out);
        EVP_PKEY *pub = csp_pubkey_from_point(curves[i], point, plen);
        assert_non_null(pub);
        char *pem_path = th_path("serial-pub.pem"), *der_path = th_path("serial-pub.der");
        FILE *f = fopen(pem_path, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_PUBKEY(f, pub), 1);
        assert_int_equal(fclose(f), 0);
        /* SubjectPublicKeyInfo DER ends with the BIT STRING holding the point */
        assert_int_equal(run(NULL, 0, "openssl pkey -pubin -in %s -outform DER -out %s 2>&1",
                             pem_path, der_path),
                         0);
        size_t dlen = 0;
        uint8_t *spki = th_read_file(der_path, &dlen);
        assert_non_null(spki);
        assert_true(dlen > plen);
        assert_memory_equal(spki + dlen - plen, point, plen);
        char *pt_path = th_path("serial-point.bin");
        assert_int_equal(th_write_file(pt_path, spki + dlen - plen, plen), 0);
        char line[256], want[65];
        assert_int_equal(run(line, sizeof line, "openssl dgst -sha256 -r %s", pt_path), 0);
        hex(out, 32, want);
        assert_memory_equal(line, want, 64);
        free(spki);
        free(pem_path);
        free(der_path);
        free(pt_path);
        EVP_PKEY_free(pub);
        csp_key_free(k);
    }
}

static void test_pubkey_from_point(void **state)
{
    (void)state;
    uint8_t point[133], back[133];
    size_t plen = 0, blen = 0;
    csp_key *k = gen(TSE_CURVE_BRAINPOOL_P384R1, point, &plen);
    EVP_PKEY *pub = csp_pubkey_from_point(TSE_CURVE_BRAINPOOL_P384R1, point, plen);
    assert_non_null(pub);
    assert_int_equal(csp_pubkey_point(pub, back, sizeof back, &blen), 0);
    assert_int_equal(blen, plen);
    assert_memory_equal(back, point, plen);
    assert_int_equal(csp_pubkey_point(pub, back, plen - 1, &blen), TSE_ERR_TOO_LARGE);
    EVP_PKEY_free(pub);

    /* wrong curve for the length, wrong length, compressed, not on the curve */
    assert_null(csp_pubkey_from_point(TSE_CURVE_P256, point, plen));
    assert_null(csp_pubkey_from_point(TSE_CURVE_BRAINPOOL_P384R1, point, plen - 1));
    assert_null(csp_pubkey_from_point(TSE_CURVE_BRAINPOOL_P384R1, NULL, plen));
    memcpy(back, point, plen);
    back[0] = 0x02;
    assert_null(csp_pubkey_from_point(TSE_CURVE_BRAINPOOL_P384R1, back, plen));
    memcpy(back, point, plen);
    back[plen - 1] ^= 1;
    assert_null(csp_pubkey_from_point(TSE_CURVE_BRAINPOOL_P384R1, back, plen));
    /* the same point on the other 384-bit curve is not on that curve */
    assert_null(csp_pubkey_from_point(TSE_CURVE_P384, point, plen));
    csp_key_free(k);
}

/* ------------------------------------------------------------ master key */

static void test_master_key(void **state)
{
    (void)state;
    tse_error err = {0};
    uint8_t mk[CSP_MASTER_KEY_LEN], mk2[CSP_MASTER_KEY_LEN];
    char *path = th_path("mk-test.key");
    unlink(path);
    assert_int_equal(csp_master_key_create(path, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 65);
    assert_int_equal(csp_master_key_load(path, mk, &err), 0);

    /* never overwritten */
    assert_int_equal(csp_master_key_create(path, &err), TSE_ERR_ALREADY_EXISTS);
    assert_int_equal(csp_master_key_load(path, mk2, &err), 0);
    assert_memory_equal(mk, mk2, sizeof mk);

    /* 0400 is fine; 0644, 0640 and 0602 are not */
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(csp_master_key_load(path, mk2, &err), 0);
    static const mode_t bad_modes[] = {0644, 0640, 0604, 0602, 0620};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        assert_int_equal(chmod(path, bad_modes[i]), 0);
        err.message[0] = 0;
        assert_int_equal(csp_master_key_load(path, mk2, &err), TSE_ERR_KEY_UNAVAILABLE);
        assert_non_null(strstr(err.message, path));
        assert_non_null(strstr(err.message, "group or others"));
    }
    assert_int_equal(chmod(path, 0600), 0);

    /* missing */
    char *missing = th_path("no-such-master.key");
    assert_int_equal(csp_master_key_load(missing, mk2, &err), TSE_ERR_KEY_UNAVAILABLE);
    assert_non_null(strstr(err.message, missing));
    assert_non_null(strstr(err.message, "No such file"));
    assert_int_equal(csp_master_key_load(NULL, mk2, &err), TSE_ERR_KEY_UNAVAILABLE);

    /* raw 32 bytes */
    char *raw = th_path("mk-raw.key");
    uint8_t rawkey[32];
    for (int i = 0; i < 32; i++)
        rawkey[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(th_write_file(raw, rawkey, 32), 0);
    assert_int_equal(chmod(raw, 0600), 0);
    assert_int_equal(csp_master_key_load(raw, mk2, &err), 0);
    assert_memory_equal(mk2, rawkey, 32);

    /* hex without newline, upper case, CRLF */
    const char *hexkey = "000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f\r\n";
    assert_int_equal(th_write_file(raw, hexkey, strlen(hexkey)), 0);
    assert_int_equal(csp_master_key_load(raw, mk2, &err), 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(mk2[i], i);
    assert_int_equal(th_write_file(raw, hexkey, 64), 0);
    assert_int_equal(csp_master_key_load(raw, mk2, &err), 0);

    /* wrong sizes and formats */
    static const size_t sizes[] = {0, 1, 31, 33, 63, 67, 100, 4096};
    uint8_t junk[4096];
    memset(junk, 'a', sizeof junk);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_int_equal(th_write_file(raw, junk, sizes[i]), 0);
        err.message[0] = 0;
        assert_int_equal(csp_master_key_load(raw, mk2, &err), TSE_ERR_KEY_UNAVAILABLE);
        assert_non_null(strstr(err.message, raw));
        assert_non_null(strstr(err.message, "expected 32 raw bytes or 64 hex digits"));
    }
    memcpy(junk, hexkey, 64);
    junk[10] = 'g';
    assert_int_equal(th_write_file(raw, junk, 64), 0);
    assert_int_equal(csp_master_key_load(raw, mk2, &err), TSE_ERR_KEY_UNAVAILABLE);
    assert_non_null(strstr(err.message, "hex"));

    /* a directory is not a key file */
    assert_int_equal(csp_master_key_load(th_tmpdir(), mk2, &err), TSE_ERR_KEY_UNAVAILABLE);

    /* the shared helper's key loads */
    assert_int_equal(csp_master_key_load(th_master_key(), mk2, &err), 0);
    free(path);
    free(missing);
    free(raw);
}

/* ------------------------------------------------------------ sealed keys */

static void test_seal_roundtrip(void **state)
{
    (void)state;
    tse_error err = {0};
    uint8_t mk[CSP_MASTER_KEY_LEN];
    assert_int_equal(csp_master_key_load(th_master_key(), mk, &err), 0);
    for (size_t i = 0; i < NCURVES; i++) {
        uint8_t point[133], point2[133], serial[32];
        size_t plen = 0, plen2 = 0;
        csp_key *k = gen(curves[i], point, &plen);
        csp_serial(point, plen, serial);
        uint8_t *blob = NULL;
        size_t blob_len = 0;
        assert_int_equal(csp_key_seal(k, mk, serial, 32, &blob, &blob_len, &err), 0);
        assert_non_null(blob);
        /* the private scalar is not in the blob in clear */
        csp_key *k2 = NULL;
        assert_int_equal(csp_key_unseal(blob, blob_len, mk, serial, 32, &k2, &err), 0);
        assert_int_equal(csp_key_curve(k2), curves[i]);
        assert_int_equal(csp_key_public(k2, point2, sizeof point2, &plen2, &err), 0);
        assert_int_equal(plen2, plen);
        assert_memory_equal(point2, point, plen);
        /* the unsealed key signs for the original public key */
        uint8_t sig[TSE_MAX_SIGNATURE_LEN];
        size_t sig_len = 0;
        assert_int_equal(csp_sign(k2, 0, msg, sizeof msg - 1, sig, sizeof sig, &sig_len, &err), 0);
        assert_int_equal(
            th_openssl_verify(curves[i], 0, point, plen, msg, sizeof msg - 1, sig, sig_len), 0);
        csp_key_free(k2);

        /* two seals of one key differ (fresh nonce) */
        uint8_t *blob2 = NULL;
        size_t blob2_len = 0;
        assert_int_equal(csp_key_seal(k, mk, serial, 32, &blob2, &blob2_len, &err), 0);
        assert_int_equal(blob2_len, blob_len);
        assert_memory_not_equal(blob2, blob, blob_len);
        free(blob2);
        free(blob);
        csp_key_free(k);
    }
}

static void test_seal_tamper(void **state)
{
    (void)state;
    tse_error err = {0};
    uint8_t mk[CSP_MASTER_KEY_LEN], other[CSP_MASTER_KEY_LEN];
    assert_int_equal(csp_master_key_load(th_master_key(), mk, &err), 0);
    memcpy(other, mk, sizeof mk);
    other[31] ^= 0x01;
    uint8_t point[133], serial[32];
    size_t plen = 0;
    csp_key *k = gen(TSE_CURVE_P256, point, &plen);
    csp_serial(point, plen, serial);
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    assert_int_equal(csp_key_seal(k, mk, serial, 32, &blob, &blob_len, &err), 0);
    csp_key *k2 = NULL;

    /* wrong master key */
    err.message[0] = 0;
    assert_int_equal(csp_key_unseal(blob, blob_len, other, serial, 32, &k2, &err),
                     TSE_ERR_KEY_UNAVAILABLE);
    assert_null(k2);
    assert_non_null(strstr(err.message, "wrong master key"));
    /* another TSE's serial as aad */
    uint8_t serial2[32];
    memcpy(serial2, serial, 32);
    serial2[0] ^= 0x80;
    assert_int_equal(csp_key_unseal(blob, blob_len, mk, serial2, 32, &k2, &err),
                     TSE_ERR_KEY_UNAVAILABLE);
    assert_int_equal(csp_key_unseal(blob, blob_len, mk, NULL, 0, &k2, &err),
                     TSE_ERR_KEY_UNAVAILABLE);
    /* every flipped byte, anywhere in the blob */
    for (size_t i = 0; i < blob_len; i++) {
        blob[i] ^= 0x20;
        err.message[0] = 0;
        assert_int_equal(csp_key_unseal(blob, blob_len, mk, serial, 32, &k2, &err),
                         TSE_ERR_KEY_UNAVAILABLE);
        assert_null(k2);
        assert_true(err.message[0] != 0);
        blob[i] ^= 0x20;
    }
    /* truncated or extended */
    for (size_t len = 0; len < blob_len; len += 5)
        assert_int_equal(csp_key_unseal(blob, len, mk, serial, 32, &k2, &err),
                         TSE_ERR_KEY_UNAVAILABLE);
    uint8_t *longer = calloc(1, blob_len + 1);
    assert_non_null(longer);
    memcpy(longer, blob, blob_len);
    assert_int_equal(csp_key_unseal(longer, blob_len + 1, mk, serial, 32, &k2, &err),
                     TSE_ERR_KEY_UNAVAILABLE);
    free(longer);
    /* still fine untouched */
    assert_int_equal(csp_key_unseal(blob, blob_len, mk, serial, 32, &k2, &err), 0);
    csp_key_free(k2);
    free(blob);
    csp_key_free(k);
    csp_key_free(NULL);
}

/* ------------------------------------------------------------ secrets and random */

static void test_secret_hash(void **state)
{
    (void)state;
    uint8_t rec[CSP_SECRET_HASH_LEN], rec2[CSP_SECRET_HASH_LEN];
    tse_error err = {0};
    double t0 = now_sec();
    assert_int_equal(csp_secret_hash("123456", rec, &err), 0);
    double t1 = now_sec();
    print_message("scrypt (N=16384, r=8, p=1) per hash: %.1f ms\n", (t1 - t0) * 1e3);
    assert_true(csp_secret_check("123456", rec));
    assert_false(csp_secret_check("123457", rec));
    assert_false(csp_secret_check("12345", rec));
    assert_false(csp_secret_check("1234567", rec));
    assert_false(csp_secret_check("", rec));
    assert_false(csp_secret_check(NULL, rec));
    /* salted: the same secret gives another record */
    assert_int_equal(csp_secret_hash("123456", rec2, &err), 0);
    assert_memory_not_equal(rec, rec2, sizeof rec);
    assert_true(csp_secret_check("123456", rec2));
    /* a changed record never matches */
    for (size_t i = 0; i < 4 + 16 + 32; i += 3) {
        memcpy(rec2, rec, sizeof rec);
        rec2[i] ^= 1;
        assert_false(csp_secret_check("123456", rec2));
    }
    memset(rec2, 0, sizeof rec2);
    assert_false(csp_secret_check("123456", rec2));
    /* an empty secret and a long one */
    assert_int_equal(csp_secret_hash("", rec2, &err), 0);
    assert_true(csp_secret_check("", rec2));
    assert_false(csp_secret_check("x", rec2));
    char longpin[TSE_MAX_PIN_LEN + 1];
    memset(longpin, 'p', TSE_MAX_PIN_LEN);
    longpin[TSE_MAX_PIN_LEN] = 0;
    assert_int_equal(csp_secret_hash(longpin, rec2, &err), 0);
    assert_true(csp_secret_check(longpin, rec2));
    assert_int_equal(csp_secret_hash(NULL, rec2, &err), TSE_ERR_INVALID_ARGUMENT);
}

static void test_random(void **state)
{
    (void)state;
    char d[TSE_PUK_LEN + 1], d2[TSE_PUK_LEN + 1];
    assert_int_equal(csp_random_digits(d, TSE_PUK_LEN), 0);
    assert_int_equal(strlen(d), TSE_PUK_LEN);
    for (size_t i = 0; i < TSE_PUK_LEN; i++)
        assert_true(d[i] >= '0' && d[i] <= '9');
    assert_int_equal(csp_random_digits(d2, TSE_PUK_LEN), 0);
    assert_string_not_equal(d, d2);
    /* every digit occurs */
    char many[1001];
    int seen[10] = {0};
    assert_int_equal(csp_random_digits(many, 1000), 0);
    for (int i = 0; i < 1000; i++)
        seen[many[i] - '0']++;
    for (int i = 0; i < 10; i++)
        assert_true(seen[i] > 30);
    uint8_t a[32] = {0}, b[32] = {0};
    assert_int_equal(csp_random_bytes(a, sizeof a), 0);
    assert_int_equal(csp_random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(csp_random_bytes(a, 0), 0);
}

/* ------------------------------------------------------------ certificates */

/* Writes the first and the second certificate of a PEM chain to files. */
static void split_pem(const char *pem, const char *first, const char *second)
{
    const char *tag = "-----BEGIN CERTIFICATE-----";
    assert_true(strncmp(pem, tag, strlen(tag)) == 0);
    const char *next = strstr(pem + 1, tag);
    assert_non_null(next);
    assert_null(strstr(next + 1, tag));
    assert_int_equal(th_write_file(first, pem, (size_t)(next - pem)), 0);
    assert_int_equal(th_write_file(second, next, strlen(next)), 0);
}

static void test_ca_issue(void **state)
{
    (void)state;
    tse_error err = {0};
    char *tse_path = th_path("tse.pem"), *root_path = th_path("root.pem");
    for (size_t i = 0; i < NCURVES; i++) {
        uint8_t point[133], serial[32];
        size_t plen = 0;
        char cn[65];
        csp_key *k = gen(curves[i], point, &plen);
        csp_serial(point, plen, serial);
        hex(serial, 32, cn);
        char *pem = NULL;
        int64_t before = (int64_t)time(NULL);
        assert_int_equal(csp_ca_issue(k, cn, 86400, &pem, &err), 0);
        assert_non_null(pem);
        split_pem(pem, tse_path, root_path);

        char out[4096];
        int st = run(out, sizeof out, "openssl verify -CAfile %s %s 2>&1", root_path, tse_path);
        if (st != 0)
            print_message("%s\n", out);
        assert_int_equal(st, 0);
        assert_non_null(strstr(out, ": OK"));

        /* subject, extensions, signature algorithm as openssl reads them */
        assert_int_equal(
            run(out, sizeof out,
                "openssl x509 -in %s -noout -subject -ext basicConstraints,keyUsage -text 2>&1",
                tse_path),
            0);
        assert_non_null(strstr(out, cn));
        assert_non_null(strstr(out, "CA:FALSE"));
        assert_non_null(strstr(out, "Digital Signature"));
        assert_non_null(strstr(out, "ecdsa-with-SHA384"));
        assert_int_equal(
            run(out, sizeof out, "openssl x509 -in %s -noout -ext basicConstraints,keyUsage 2>&1",
                root_path),
            0);
        assert_non_null(strstr(out, "CA:TRUE"));
        assert_non_null(strstr(out, "Certificate Sign"));

        assert_int_equal(csp_chain_check(pem, point, plen, &err), 0);
        int64_t na = 0;
        assert_int_equal(csp_chain_not_after(pem, &na, &err), 0);
        assert_true(na >= before + 86400 && na <= (int64_t)time(NULL) + 86400);

        csp_cert *certs = NULL;
        size_t n = 0;
        assert_int_equal(csp_chain_split(pem, &certs, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_memory_equal(certs[0].key_serial, serial, 32);
        assert_memory_not_equal(certs[1].key_serial, serial, 32);
        for (size_t j = 0; j < n; j++) {
            const uint8_t *p = certs[j].der;
            X509 *x = d2i_X509(NULL, &p, (long)certs[j].der_len);
            assert_non_null(x);
            assert_ptr_equal(p, certs[j].der + certs[j].der_len);
            X509_free(x);
        }
        /* the root's key serial equals the SHA-256 openssl gives for its point */
        uint8_t rootpt[200];
        size_t rootpt_len = 0;
        {
            const uint8_t *p = certs[1].der;
            X509 *x = d2i_X509(NULL, &p, (long)certs[1].der_len);
            assert_int_equal(csp_pubkey_point(X509_get0_pubkey(x), rootpt, sizeof rootpt,
                                              &rootpt_len),
                             0);
            assert_int_equal(rootpt_len, 97);
            uint8_t rs[32];
            csp_serial(rootpt, rootpt_len, rs);
            assert_memory_equal(rs, certs[1].key_serial, 32);
            X509_free(x);
        }
        csp_certs_free(certs, n);
        free(pem);
        csp_key_free(k);
    }
    free(tse_path);
    free(root_path);
}

static void test_ca_expired(void **state)
{
    (void)state;
    tse_error err = {0};
    uint8_t point[133];
    size_t plen = 0;
    csp_key *k = gen(TSE_CURVE_P256, point, &plen);
    char *pem = NULL;
    assert_int_equal(csp_ca_issue(k, "expired", -10, &pem, &err), 0);
    int64_t na = 0;
    assert_int_equal(csp_chain_not_after(pem, &na, &err), 0);
    int64_t now = (int64_t)time(NULL);
    assert_true(na < now);
    assert_true(na >= now - 15);
    /* still a valid chain for the key; only expired */
    assert_int_equal(csp_chain_check(pem, point, plen, &err), 0);
    char *tse_path = th_path("expired-tse.pem"), *root_path = th_path("expired-root.pem");
    split_pem(pem, tse_path, root_path);
    char out[2048];
    assert_true(run(out, sizeof out, "openssl verify -CAfile %s %s 2>&1", root_path, tse_path) != 0);
    assert_non_null(strstr(out, "expired"));
    free(pem);

    /* a long-expired one still has notBefore before notAfter */
    assert_int_equal(csp_ca_issue(k, "expired", -86400, &pem, &err), 0);
    assert_int_equal(csp_chain_not_after(pem, &na, &err), 0);
    assert_true(na <= now - 86400 + 2 && na >= now - 86400 - 5);
    free(pem);

    /* tiny validity: valid now */
    assert_int_equal(csp_ca_issue(k, "tiny", 2, &pem, &err), 0);
    assert_int_equal(csp_chain_not_after(pem, &na, &err), 0);
    assert_true(na >= now + 2);
    split_pem(pem, tse_path, root_path);
    assert_int_equal(run(out, sizeof out, "openssl verify -CAfile %s %s 2>&1", root_path, tse_path),
                     0);
    free(pem);
    free(tse_path);
    free(root_path);
    csp_key_free(k);
}

static void test_chain_check_rejects(void **state)
{
    (void)state;
    tse_error err = {0};
    uint8_t point[133], point2[133];
    size_t plen = 0, plen2 = 0;
    csp_key *k = gen(TSE_CURVE_P384, point, &plen);
    csp_key *k2 = gen(TSE_CURVE_P384, point2, &plen2);
    char *pem = NULL, *pem2 = NULL;
    assert_int_equal(csp_ca_issue(k, "one", 3600, &pem, &err), 0);
    assert_int_equal(csp_ca_issue(k2, "two", 3600, &pem2, &err), 0);

    /* a chain for another key; a stale OpenSSL error of someone else's
     * changes neither the result nor the message */
    ERR_raise(ERR_LIB_PEM, PEM_R_BAD_BASE64_DECODE);
    assert_int_equal(csp_chain_check(pem, point, plen, &err), 0);
    ERR_raise(ERR_LIB_PEM, PEM_R_BAD_BASE64_DECODE);
    err.message[0] = 0;
    assert_int_equal(csp_chain_check(pem2, point, plen, &err), TSE_ERR_CERTIFICATE_INVALID);
    assert_string_equal(err.message, "certificate key does not match the TSE key");
    assert_int_equal(csp_chain_check(pem, point, plen - 1, &err), TSE_ERR_CERTIFICATE_INVALID);

    /* the TSE certificate of one chain with the root of the other */
    const char *tag = "-----BEGIN CERTIFICATE-----";
    const char *root1 = strstr(pem + 1, tag), *root2 = strstr(pem2 + 1, tag);
    char mixed[8192];
    snprintf(mixed, sizeof mixed, "%.*s%s", (int)(root1 - pem), pem, root2);
    err.message[0] = 0;
    assert_int_equal(csp_chain_check(mixed, point, plen, &err), TSE_ERR_CERTIFICATE_INVALID);
    assert_non_null(strstr(err.message, "not signed by"));

    /* root first */
    snprintf(mixed, sizeof mixed, "%s%.*s", root1, (int)(root1 - pem), pem);
    assert_int_equal(csp_chain_check(mixed, point, plen, &err), TSE_ERR_CERTIFICATE_INVALID);

    /* the TSE certificate alone is accepted as the top */
    snprintf(mixed, sizeof mixed, "%.*s", (int)(root1 - pem), pem);
    assert_int_equal(csp_chain_check(mixed, point, plen, &err), 0);

    /* garbage, empty, damaged */
    static const char *junk[] = {"", "garbage",
                                 "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        err.message[0] = 0;
        assert_int_equal(csp_chain_check(junk[i], point, plen, &err), TSE_ERR_CERTIFICATE_INVALID);
        assert_true(err.message[0] != 0);
        int64_t na;
        assert_int_equal(csp_chain_not_after(junk[i], &na, &err), TSE_ERR_CERTIFICATE_INVALID);
        csp_cert *c = NULL;
        size_t n = 0;
        assert_int_equal(csp_chain_split(junk[i], &c, &n, &err), TSE_ERR_CERTIFICATE_INVALID);
        assert_null(c);
    }
    /* a certificate body with a flipped character in its base64 */
    snprintf(mixed, sizeof mixed, "%s", pem);
    mixed[200] = mixed[200] == 'A' ? 'B' : 'A';
    assert_int_equal(csp_chain_check(mixed, point, plen, &err), TSE_ERR_CERTIFICATE_INVALID);
    /* truncated in the middle of the root */
    snprintf(mixed, sizeof mixed, "%.*s", (int)(root1 - pem) + 100, pem);
    assert_int_equal(csp_chain_check(mixed, point, plen, &err), TSE_ERR_CERTIFICATE_INVALID);
    assert_int_equal(csp_chain_check(NULL, point, plen, &err), TSE_ERR_INVALID_ARGUMENT);

    /* bad subject names */
    char longcn[100];
    memset(longcn, 'x', sizeof longcn - 1);
    longcn[sizeof longcn - 1] = 0;
    char *p = NULL;
    assert_int_equal(csp_ca_issue(k, longcn, 3600, &p, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_null(p);
    assert_int_equal(csp_ca_issue(k, "", 3600, &p, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(csp_csr(k, longcn, &p, &err), TSE_ERR_INVALID_ARGUMENT);
    free(pem);
    free(pem2);
    csp_key_free(k);
    csp_key_free(k2);
}

static void test_csr(void **state)
{
    (void)state;
    tse_error err = {0};
    char *path = th_path("tse.csr");
    for (size_t i = 0; i < NCURVES; i++) {
        uint8_t point[133];
        size_t plen = 0;
        csp_key *k = gen(curves[i], point, &plen);
        char *pem = NULL;
        assert_int_equal(csp_csr(k, "TSE-CSR-TEST", &pem, &err), 0);
        assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----"));
        assert_int_equal(th_write_file(path, pem, strlen(pem)), 0);
        char out[4096];
        int st = run(out, sizeof out, "openssl req -in %s -verify -noout -subject -text 2>&1",
                     path);
        if (st != 0)
            print_message("%s\n", out);
        assert_int_equal(st, 0);
        assert_non_null(strstr(out, "verify OK"));
        assert_non_null(strstr(out, "CN = TSE-CSR-TEST"));
        assert_non_null(strstr(out, csp_curve_order_len(curves[i]) == 32 ? "ecdsa-with-SHA256"
                                                                         : "ecdsa-with-SHA384"));
        /* the request carries the TSE key */
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
        assert_non_null(req);
        uint8_t rp[133];
        size_t rplen = 0;
        assert_int_equal(csp_pubkey_point(X509_REQ_get0_pubkey(req), rp, sizeof rp, &rplen), 0);
        assert_int_equal(rplen, plen);
        assert_memory_equal(rp, point, plen);
        X509_REQ_free(req);
        BIO_free(b);
        free(pem);
        csp_key_free(k);
    }
    free(path);
}

/* ------------------------------------------------------------ threads */

struct sign_job {
    const csp_key *k;
    EVP_PKEY *pub;
    int failures;
};

static void *sign_worker(void *arg)
{
    struct sign_job *job = arg;
    for (int i = 0; i < 200; i++) {
        uint8_t m[16], sig[TSE_MAX_SIGNATURE_LEN];
        size_t sig_len = 0;
        if (csp_random_bytes(m, sizeof m) != 0 ||
            csp_sign(job->k, 0, m, sizeof m, sig, sizeof sig, &sig_len, NULL) != 0 ||
            csp_verify(job->pub, 0, m, sizeof m, sig, sig_len, NULL) != 0)
            job->failures++;
    }
    return NULL;
}

/* One key signs from several threads at once (the engine may sign outside its lock). */
static void test_threads(void **state)
{
    (void)state;
    uint8_t point[133];
    size_t plen = 0;
    csp_key *k = gen(TSE_CURVE_BRAINPOOL_P256R1, point, &plen);
    EVP_PKEY *pub = csp_pubkey_from_point(TSE_CURVE_BRAINPOOL_P256R1, point, plen);
    assert_non_null(pub);
    pthread_t t[4];
    struct sign_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct sign_job){k, pub, 0};
        assert_int_equal(pthread_create(&t[i], NULL, sign_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
    }
    EVP_PKEY_free(pub);
    csp_key_free(k);
}

/* ------------------------------------------------------------ timings */

static void test_timings(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCURVES; i++) {
        uint8_t point[133], sig[TSE_MAX_SIGNATURE_LEN];
        size_t plen = 0, sig_len = 0;
        csp_key *k = gen(curves[i], point, &plen);
        EVP_PKEY *pub = csp_pubkey_from_point(curves[i], point, plen);
        const int n = 200;
        double t0 = now_sec();
        for (int j = 0; j < n; j++)
            assert_int_equal(
                csp_sign(k, 0, msg, sizeof msg - 1, sig, sizeof sig, &sig_len, NULL), 0);
        double t1 = now_sec();
        for (int j = 0; j < n; j++)
            assert_int_equal(csp_verify(pub, 0, msg, sizeof msg - 1, sig, sig_len, NULL), 0);
        double t2 = now_sec();
        print_message("%-16s sign %.3f ms, verify %.3f ms\n", csp_curve_group(curves[i]),
                      (t1 - t0) * 1e3 / n, (t2 - t1) * 1e3 / n);
        EVP_PKEY_free(pub);
        csp_key_free(k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_sign_openssl),
        cmocka_unit_test(test_verify_wrong_hash),
        cmocka_unit_test(test_verify_malformed),
        cmocka_unit_test(test_plain_to_der),
        cmocka_unit_test(test_serial),
        cmocka_unit_test(test_pubkey_from_point),
        cmocka_unit_test(test_master_key),
        cmocka_unit_test(test_seal_roundtrip),
        cmocka_unit_test(test_seal_tamper),
        cmocka_unit_test(test_secret_hash),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_ca_issue),
        cmocka_unit_test(test_ca_expired),
        cmocka_unit_test(test_chain_check_rejects),
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_timings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
