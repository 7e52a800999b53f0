/*
 * test_verify_fixed.c - the verification with fixed-base tables (verify/
 * fixed.c) decides as OpenSSL's ECDSA verification (csp_verify) does, on
 * each brainpool curve: signatures of our keys, the same ones with a bit of
 * r or s flipped, r or s zero or at the group order, r and s swapped, the
 * message changed, another key's signature. A key of a NIST curve gets no
 * tables. The DER the workers give OpenSSL (vsig_der) is i2d_ECDSA_SIG's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "csp/csp.h"
#include "verify/internal.h"

#define ROUNDS 40

static EVP_PKEY *public_of(const csp_key *k, tse_curve c)
{
    uint8_t point[200];
    size_t len;
    assert_int_equal(csp_key_public(k, point, sizeof point, &len, NULL), 0);
    EVP_PKEY *pub = csp_pubkey_from_point(c, point, len);
    assert_non_null(pub);
    return pub;
}

/* Both verifications of (msg, sig) under `pub`: they must agree; returns the verdict. */
static bool agree(vfixed *f, EVP_PKEY *pub, tse_hash h, const uint8_t *msg, size_t len, const uint8_t *sig,
                  size_t sig_len)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    const char *md = h == TSE_HASH_SHA256 ? "SHA256" : h == TSE_HASH_SHA384 ? "SHA384" : "SHA512";
    assert_int_equal(EVP_Digest(msg, len, digest, &dlen, EVP_get_digestbyname(md), NULL), 1);
    tse_error err = {0};
    bool theirs = csp_verify(pub, h, msg, len, sig, sig_len, &err) == 0;
    bool ours = vfixed_verify(f, digest, dlen, sig, sig_len);
    if (ours != theirs)
        print_error("fixed-base %d, OpenSSL %d\n", ours, theirs);
    assert_true(ours == theirs);
    return ours;
}

static void curve(tse_curve c, tse_hash h)
{
    csp_key *k, *other;
    assert_int_equal(csp_key_generate(c, &k, NULL), 0);
    assert_int_equal(csp_key_generate(c, &other, NULL), 0);
    EVP_PKEY *pub = public_of(k, c);
    vfixed *f = vfixed_new(pub);
    assert_non_null(f);
    size_t half = csp_curve_order_len(c);
    /* the group order n, big-endian, for r = n and s = n */
    uint8_t order[66] = {0};
    {
        EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_txt2nid(csp_curve_group(c)));
        assert_non_null(g);
        assert_int_equal(BN_bn2binpad(EC_GROUP_get0_order(g), order, (int)half), (int)half);
        EC_GROUP_free(g);
    }
    size_t valid = 0, invalid = 0;
    for (int i = 0; i < ROUNDS; i++) {
        uint8_t msg[64], sig[200], bad[200], osig[200];
        size_t sig_len, olen;
        assert_int_equal(csp_random_bytes(msg, sizeof msg), 0);
        assert_int_equal(csp_sign(k, h, msg, sizeof msg, sig, sizeof sig, &sig_len, NULL), 0);
        assert_int_equal(sig_len, 2 * half);
        valid += agree(f, pub, h, msg, sizeof msg, sig, sig_len);
        /* a bit of r, then of s */
        memcpy(bad, sig, sig_len);
        bad[(size_t)i % half] ^= (uint8_t)(1u << (i % 8));
        invalid += !agree(f, pub, h, msg, sizeof msg, bad, sig_len);
        memcpy(bad, sig, sig_len);
        bad[half + (size_t)(i * 7) % half] ^= 0x80;
        invalid += !agree(f, pub, h, msg, sizeof msg, bad, sig_len);
        /* the message changed */
        msg[i % (int)sizeof msg] ^= 1;
        invalid += !agree(f, pub, h, msg, sizeof msg, sig, sig_len);
        msg[i % (int)sizeof msg] ^= 1;
        /* r and s swapped */
        memcpy(bad, sig + half, half);
        memcpy(bad + half, sig, half);
        invalid += !agree(f, pub, h, msg, sizeof msg, bad, sig_len);
        /* another key's signature */
        assert_int_equal(csp_sign(other, h, msg, sizeof msg, osig, sizeof osig, &olen, NULL), 0);
        invalid += !agree(f, pub, h, msg, sizeof msg, osig, olen);
    }
    assert_int_equal(valid, ROUNDS);
    assert_int_equal(invalid, 5 * ROUNDS);
    /* r or s out of range, and a wrong length */
    uint8_t msg[16] = "out of range", sig[200], bad[200];
    size_t sig_len;
    assert_int_equal(csp_sign(k, h, msg, sizeof msg, sig, sizeof sig, &sig_len, NULL), 0);
    for (int which = 0; which < 4; which++) {
        memcpy(bad, sig, sig_len);
        uint8_t *part = bad + (which % 2 ? half : 0);
        if (which < 2)
            memset(part, 0, half);
        else
            memcpy(part, order, half);
        assert_false(agree(f, pub, h, msg, sizeof msg, bad, sig_len));
    }
    assert_false(agree(f, pub, h, msg, sizeof msg, sig, sig_len - 1));
    assert_true(agree(f, pub, h, msg, sizeof msg, sig, sig_len));
    vfixed_free(f);
    EVP_PKEY_free(pub);
    csp_key_free(k);
    csp_key_free(other);
}

static void test_brainpool(void **state)
{
    (void)state;
    curve(TSE_CURVE_BRAINPOOL_P256R1, TSE_HASH_SHA256);
    curve(TSE_CURVE_BRAINPOOL_P384R1, TSE_HASH_SHA384);
    curve(TSE_CURVE_BRAINPOOL_P512R1, TSE_HASH_SHA512);
    /* a longer hash than the order: its leftmost bits */
    curve(TSE_CURVE_BRAINPOOL_P256R1, TSE_HASH_SHA512);
}

static void test_nist_none(void **state)
{
    (void)state;
    csp_key *k;
    assert_int_equal(csp_key_generate(TSE_CURVE_P256, &k, NULL), 0);
    EVP_PKEY *pub = public_of(k, TSE_CURVE_P256);
    assert_null(vfixed_new(pub));
    EVP_PKEY_free(pub);
    csp_key_free(k);
}

/* vsig_der against i2d_ECDSA_SIG: random r and s of each curve's size,
 * with leading zero octets, the high bit set, zero and all ones. */
static void test_sig_der(void **state)
{
    (void)state;
    static const size_t halves[] = {32, 48, 64, 66};
    srand(7);
    for (size_t h = 0; h < sizeof halves / sizeof halves[0]; h++)
        for (int round = 0; round < 400; round++) {
            size_t half = halves[h];
            uint8_t sig[2 * VSIG_HALF_MAX], ours[2 * (VSIG_HALF_MAX + 3) + 3], *theirs = NULL;
            for (size_t i = 0; i < 2 * half; i++)
                sig[i] = (uint8_t)rand();
            for (int part = 0; part < 2; part++) {
                int kind = (round + part * 3) % 6;
                uint8_t *v = sig + (size_t)part * half;
                if (kind == 1)
                    memset(v, 0, (size_t)rand() % half);   /* leading zeros */
                else if (kind == 2)
                    v[0] |= 0x80;
                else if (kind == 3)
                    memset(v, 0, half);
                else if (kind == 4)
                    memset(v, 0xff, half);
                else if (kind == 5)
                    memset(v, 0, half - 1);
            }
            ECDSA_SIG *es = ECDSA_SIG_new();
            assert_non_null(es);
            assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)half, NULL),
                                            BN_bin2bn(sig + half, (int)half, NULL)), 1);
            int n = i2d_ECDSA_SIG(es, &theirs);
            assert_true(n > 0);
            size_t len = vsig_der(sig, half, ours, sizeof ours);
            assert_int_equal(len, (size_t)n);
            assert_memory_equal(ours, theirs, len);
            assert_int_equal(vsig_der(sig, half, ours, len - 1), 0);   /* too small */
            OPENSSL_free(theirs);
            ECDSA_SIG_free(es);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sig_der),
        cmocka_unit_test(test_brainpool),
        cmocka_unit_test(test_nist_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
