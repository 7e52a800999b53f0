/*
 * test_openssl_cli.c - every kind of log the engine writes, on several
 * curves, checked by an implementation we did not write: the `openssl`
 * command line verifies each signature over the signed bytes, and
 * `openssl asn1parse` reads each message as strict DER.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ready_tse.h"

static const char *const all_ops[] = {
    "selfTest", "unblockUser", "authenticateUser", "initialize", "updateTime", "registerClient",
    "StartTransaction", "UpdateTransaction", "FinishTransaction", "deregisterClient", "logOut",
    "disableSecureElement",
};
#define N_OPS (sizeof all_ops / sizeof all_ops[0])

/* Drives one TSE through every operation that writes a log. */
static tse *every_log_kind(tse_curve curve, tse_time_format fmt)
{
    tse_create_options o = {.curve = curve, .time_format = fmt, .log_format_version = 2};   /* the version-2 names below */
    char puk[TSE_PUK_LEN + 1];
    tse *t = ready_created("ossl", &o, puk, NULL);
    ready_every_operation(t, puk);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_disable_secure_element(t), TSE_OK);
    return t;
}

static int asn1parse_ok(const uint8_t *msg, size_t len)
{
    char *path = th_path("asn1.der"), cmd[600];
    assert_int_equal(th_write_file(path, msg, len), 0);
    snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in %s >/dev/null 2>&1", path);
    int rc = system(cmd);
    free(path);
    return rc == 0;
}

static void check_with_openssl(tse_curve curve, tse_time_format fmt)
{
    tse *t = every_log_kind(curve, fmt);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint8_t *point = NULL;
    size_t point_len = 0;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    int seen[N_OPS] = {0};
    for (uint64_t c = 1; c <= info.signature_counter; c++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(tse_read_log_by_counter(t, c, &msg, &len), TSE_OK);
        logmsg m;
        tse_error err = {0};
        assert_true(logmsg_parse(msg, len, &m, &err));
        assert_int_equal(th_openssl_verify(curve, info.hash, point, point_len, m.signed_bytes.p, m.signed_bytes.n,
                                           m.signature.p, m.signature.n), 0);
        assert_true(asn1parse_ok(msg, len));
        for (size_t i = 0; i < N_OPS; i++)
            if (m.operation.n == strlen(all_ops[i]) && !memcmp(m.operation.p, all_ops[i], m.operation.n))
                seen[i]++;
        if (c == info.signature_counter) {
            /* openssl must refuse a changed byte */
            uint8_t *copy = malloc(m.signed_bytes.n);
            memcpy(copy, m.signed_bytes.p, m.signed_bytes.n);
            copy[m.signed_bytes.n - 1] ^= 1;
            assert_int_equal(th_openssl_verify(curve, info.hash, point, point_len, copy, m.signed_bytes.n,
                                               m.signature.p, m.signature.n), 1);
            free(copy);
        }
        tse_free(msg);
    }
    for (size_t i = 0; i < N_OPS; i++) {
        if (!seen[i])
            fail_msg("no %s log was written", all_ops[i]);
    }
    tse_free(point);
    tse_close(t);
}

static void test_p256_unix(void **state) { (void)state; check_with_openssl(TSE_CURVE_P256, TSE_TIME_UNIX); }
static void test_bp384_utc(void **state) { (void)state; check_with_openssl(TSE_CURVE_BRAINPOOL_P384R1, TSE_TIME_UTC); }
static void test_p384_gent(void **state) { (void)state; check_with_openssl(TSE_CURVE_P384, TSE_TIME_GENERALIZED); }
static void test_p521(void **state) { (void)state; check_with_openssl(TSE_CURVE_P521, TSE_TIME_UNIX); }
static void test_bp256(void **state) { (void)state; check_with_openssl(TSE_CURVE_BRAINPOOL_P256R1, TSE_TIME_UNIX); }
static void test_bp512(void **state) { (void)state; check_with_openssl(TSE_CURVE_BRAINPOOL_P512R1, TSE_TIME_UNIX); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256_unix), cmocka_unit_test(test_bp384_utc), cmocka_unit_test(test_p384_gent),
        cmocka_unit_test(test_p521),      cmocka_unit_test(test_bp256),     cmocka_unit_test(test_bp512),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
