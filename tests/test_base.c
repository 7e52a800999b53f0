/*
 * test_base.c - base/: base64 and hex against the openssl command line,
 * the strict decoders' refusals, UUID syntax, ISO times against date(1),
 * strict numbers and the error value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/encode.h"
#include "base/error.h"
#include "base/text.h"

/* Output of a shell command (trailing newline removed), malloc'd. */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    size_t got;
    while ((got = fread(out + n, 1, cap - n - 1, p)) > 0)
        n += got;
    assert_int_equal(pclose(p), 0);
    while (n && out[n - 1] == '\n')
        n--;
    out[n] = 0;
    return out;
}

static void test_base64_against_openssl(void **state)
{
    (void)state;
    char path[] = "/tmp/opentse-b64-XXXXXX";
    for (size_t len = 0; len < 70; len += 1 + len / 8) {
        uint8_t data[80];
        assert_int_equal(RAND_bytes(data, sizeof data), 1);
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        close(fd);
        char cmd[200];
        snprintf(cmd, sizeof cmd, "openssl base64 -A -in %s", path);
        char *theirs = run(cmd);
        char ours[BASE64_LEN(80) + 1];
        assert_int_equal(base64_encode(ours, sizeof ours, data, len), (long)strlen(theirs));
        assert_string_equal(ours, theirs);
        /* and back, through our strict decoder */
        uint8_t back[80];
        size_t back_len = 99;
        assert_int_equal(base64_decode(back, sizeof back, theirs, strlen(theirs), &back_len), 0);
        assert_int_equal(back_len, len);
        assert_memory_equal(back, data, len);
        size_t n2;
        uint8_t *dup = base64_decode_alloc(theirs, strlen(theirs), len, &n2);
        assert_non_null(dup);
        assert_int_equal(n2, len);
        free(dup);
        if (len)   /* one byte over the caller's limit */
            assert_null(base64_decode_alloc(theirs, strlen(theirs), len - 1, &n2));
        unlink(path);
        strcpy(path, "/tmp/opentse-b64-XXXXXX");
        free(theirs);
    }
}

static void test_base64_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {"Q", "QQ", "QQ=", "QR==", "QUJ=", "Q===", "====", "QQ==QQ==", "QUJD\n",
                                      " QUJD", "QU JD", "QUJ*", "QUJD=", "QQ=A", "-_==", "QUI=\0"};
    uint8_t out[16];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(base64_decode(out, sizeof out, bad[i], strlen(bad[i]) + (i == 15), &n), -1);
    assert_int_equal(base64_decode(out, sizeof out, "QQ==", 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'A');
    assert_int_equal(base64_decode(out, sizeof out, "", 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(base64_decode(out, 2, "QUJD", 4, &n), -1);   /* does not fit */
    char small[4];
    assert_int_equal(base64_encode(small, sizeof small, (const uint8_t *)"ABC", 3), -1);
    assert_int_equal(base64_encode(small, 1, (const uint8_t *)"", 0), 0);
    assert_string_equal(small, "");
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t data[32];
    assert_int_equal(RAND_bytes(data, sizeof data), 1);
    char ours[65];
    assert_int_equal(hex_encode(ours, sizeof ours, data, sizeof data), 64);
    char path[] = "/tmp/opentse-hex-XXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
    close(fd);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "od -An -v -tx1 %s | tr -d ' \\n'", path);
    char *theirs = run(cmd);
    assert_string_equal(ours, theirs);
    free(theirs);
    unlink(path);
    assert_int_equal(hex_encode(ours, 64, data, sizeof data), -1);
    uint8_t back[32];
    assert_int_equal(hex_decode(back, 32, ours), 0);
    assert_memory_equal(back, data, 32);
    ours[5] = 'g';
    assert_int_equal(hex_decode(back, 32, ours), -1);
    assert_int_equal(hex_decode(back, 2, "abcde"), -1);
    assert_int_equal(hex_decode(back, 2, "abc"), -1);
    assert_int_equal(hex_decode(back, 2, "ABcd"), 0);
    assert_int_equal(back[0], 0xab);
}

static void test_uuid_time_numbers(void **state)
{
    (void)state;
    assert_true(uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
    assert_true(uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
    assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400"));
    assert_false(uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));
    assert_false(uuid_valid("123e4567xe89b-12d3-a456-426614174000"));
    assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));
    assert_false(uuid_valid(NULL));

    static const int64_t times[] = {0, 951782400 /* 2000-02-29 */, 1700000000, 4102444799, 253402300799};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char cmd[120], ours[TIME_ISO_LEN];
        snprintf(cmd, sizeof cmd, "date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ", (long long)times[i]);
        char *theirs = run(cmd);
        assert_true(time_iso(times[i], TIME_ISO_SECONDS, ours, sizeof ours));
        assert_string_equal(ours, theirs);
        assert_true(time_iso(times[i], TIME_ISO_MILLIS, ours, sizeof ours));
        assert_int_equal(strlen(ours), 24);
        assert_memory_equal(ours, theirs, 19);
        assert_string_equal(ours + 19, ".000Z");
        free(theirs);
    }
    char out[TIME_ISO_LEN];
    assert_false(time_iso(-1, TIME_ISO_SECONDS, out, sizeof out));
    assert_string_equal(out, "");
    assert_false(time_iso(253402300800, TIME_ISO_SECONDS, out, sizeof out));
    assert_false(time_iso(0, TIME_ISO_MILLIS, out, 10));

    uint64_t v;
    assert_true(parse_u64("18446744073709551615", (size_t)-1, UINT64_MAX, &v));
    assert_true(v == UINT64_MAX);
    assert_false(parse_u64("18446744073709551616", (size_t)-1, UINT64_MAX, &v));
    assert_false(parse_u64("99999999999999999999", (size_t)-1, UINT64_MAX, &v));
    assert_true(parse_u64("9223372036854775807", (size_t)-1, INT64_MAX, &v));
    assert_false(parse_u64("9223372036854775808", (size_t)-1, INT64_MAX, &v));
    static const char *const bad[] = {"", "+1", "-1", " 1", "1 ", "0x10", "1e3", "1.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(parse_u64(bad[i], (size_t)-1, UINT64_MAX, &v));
    assert_false(parse_u64("1\0", 2, UINT64_MAX, &v));   /* an embedded NUL */
    assert_true(parse_u64("123abc", 3, UINT64_MAX, &v));
    assert_true(v == 123);
}

static void test_error_value(void **state)
{
    (void)state;
    tse_error e = {0};
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(error_set(&e, TSE_ERR_TOO_LARGE, "%s", big), TSE_ERR_TOO_LARGE);
    assert_int_equal(e.code, TSE_ERR_TOO_LARGE);
    assert_int_equal(strlen(e.message), TSE_ERROR_MSGLEN - 1);   /* cut, never overrun */
    assert_int_equal(error_set(NULL, TSE_ERR_INTERNAL, "nothing"), TSE_ERR_INTERNAL);
    int code = 0;
    assert_true(error_lookup("PIN_BLOCKED: the rest", 11, &code));
    assert_int_equal(code, TSE_ERR_PIN_BLOCKED);
    assert_false(error_lookup("PIN_BLOCKE", 10, &code));
    assert_string_equal(error_name(TSE_ERR_TIME_NOT_SET), "TIME_NOT_SET");
    assert_null(error_name(12345));
    assert_string_equal(tse_errname(12345), "UNKNOWN_ERROR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_against_openssl),
        cmocka_unit_test(test_base64_strict),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_uuid_time_numbers),
        cmocka_unit_test(test_error_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
