/*
 * test_codec.c - unit tests of codec/: fixed DER vectors (integers, OIDs,
 * lengths, BER indefinite lengths and their rejections), log message build
 * and parse round trips, an exact signed-bytes vector, byte-for-byte rebuilds
 * of real fiskaly logs, export file names, time texts, and malformed input
 * (every truncation, random byte flips).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/der.h"
#include "codec/logmsg.h"
#include "helpers.h"

#define SHA256_ALG "0.4.0.127.0.7.1.1.4.1.3"

/* ------------------------------------------------------------ helpers */

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

#define ASSERT_W(w, ...)                                                                          \
    do {                                                                                          \
        static const uint8_t want_[] = {__VA_ARGS__};                                             \
        assert_true(der_w_ok(&(w)));                                                              \
        assert_bytes((w).buf, (w).len, want_, sizeof want_);                                      \
    } while (0)

static der_tlv read_one(const uint8_t *p, size_t n)
{
    der_r r = der_r_init(p, n);
    der_tlv t;
    assert_true(der_read(&r, &t));
    assert_true(der_r_done(&r));
    return t;
}

static bool read_fails(const uint8_t *p, size_t n)
{
    der_r r = der_r_init(p, n);
    der_tlv t;
    return !der_read(&r, &t);
}

/* ------------------------------------------------------ DER integers */

static void test_der_uint_vectors(void **state)
{
    (void)state;
    uint8_t b[16];
    der_w w;

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_INTEGER, 0);
    ASSERT_W(w, 0x02, 0x01, 0x00);

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_INTEGER, 0x7f);
    ASSERT_W(w, 0x02, 0x01, 0x7f);

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_INTEGER, 0xda);
    ASSERT_W(w, 0x02, 0x02, 0x00, 0xda);

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_CONTEXT | 5, 0xda);
    ASSERT_W(w, 0x85, 0x02, 0x00, 0xda);

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_INTEGER, 256);
    ASSERT_W(w, 0x02, 0x02, 0x01, 0x00);

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_INTEGER, 0x6152c65a);
    ASSERT_W(w, 0x02, 0x04, 0x61, 0x52, 0xc6, 0x5a);

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_INTEGER, UINT64_C(1) << 63);
    ASSERT_W(w, 0x02, 0x09, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0);

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_INTEGER, UINT64_MAX);
    ASSERT_W(w, 0x02, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

    w = der_w_init(b, sizeof b);
    der_put_uint(&w, DER_INTEGER, (UINT64_C(1) << 63) - 1);
    ASSERT_W(w, 0x02, 0x08, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
}

static void test_der_int_vectors(void **state)
{
    (void)state;
    uint8_t b[16];
    der_w w;

    w = der_w_init(b, sizeof b);
    der_put_int(&w, DER_INTEGER, -1);
    ASSERT_W(w, 0x02, 0x01, 0xff);

    w = der_w_init(b, sizeof b);
    der_put_int(&w, DER_INTEGER, -128);
    ASSERT_W(w, 0x02, 0x01, 0x80);

    w = der_w_init(b, sizeof b);
    der_put_int(&w, DER_INTEGER, -129);
    ASSERT_W(w, 0x02, 0x02, 0xff, 0x7f);

    w = der_w_init(b, sizeof b);
    der_put_int(&w, DER_INTEGER, 128);
    ASSERT_W(w, 0x02, 0x02, 0x00, 0x80);

    w = der_w_init(b, sizeof b);
    der_put_int(&w, DER_INTEGER, 1632729177);
    ASSERT_W(w, 0x02, 0x04, 0x61, 0x51, 0x78, 0x59);

    w = der_w_init(b, sizeof b);
    der_put_int(&w, DER_INTEGER, INT64_MIN);
    ASSERT_W(w, 0x02, 0x08, 0x80, 0, 0, 0, 0, 0, 0, 0);

    w = der_w_init(b, sizeof b);
    der_put_int(&w, DER_INTEGER, INT64_MAX);
    ASSERT_W(w, 0x02, 0x08, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

    w = der_w_init(b, sizeof b);
    der_put_bool(&w, DER_BOOLEAN, true);
    der_put_bool(&w, DER_CONTEXT | 3, false);
    ASSERT_W(w, 0x01, 0x01, 0xff, 0x83, 0x01, 0x00);
}

static void test_der_int_round_trip(void **state)
{
    (void)state;
    static const uint64_t uvals[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0xda, 0x7fff, 0x8000,
                                     0x6152c65a, UINT64_C(1) << 63, UINT64_MAX,
                                     (UINT64_C(1) << 63) - 1};
    static const int64_t svals[] = {0, 1, -1, 127, 128, -128, -129, 1632729177, -631152000,
                                    INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof uvals / sizeof uvals[0]; i++) {
        uint8_t b[16];
        uint64_t v;
        der_w w = der_w_init(b, sizeof b);
        der_put_uint(&w, DER_INTEGER, uvals[i]);
        der_tlv t = read_one(b, w.len);
        assert_true(der_get_uint(&t, &v));
        assert_true(v == uvals[i]);
    }
    for (size_t i = 0; i < sizeof svals / sizeof svals[0]; i++) {
        uint8_t b[16];
        int64_t v;
        der_w w = der_w_init(b, sizeof b);
        der_put_int(&w, DER_INTEGER, svals[i]);
        der_tlv t = read_one(b, w.len);
        assert_true(der_get_int(&t, &v));
        assert_true(v == svals[i]);
    }
}

static void test_der_int_rejects(void **state)
{
    (void)state;
    uint64_t u;
    int64_t s;
    static const uint8_t empty[] = {0x02, 0x00};
    static const uint8_t lead0[] = {0x02, 0x02, 0x00, 0x7f};
    static const uint8_t leadff[] = {0x02, 0x02, 0xff, 0x80};
    static const uint8_t negative[] = {0x02, 0x01, 0x80};
    static const uint8_t too_big[] = {0x02, 0x09, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t nine_signed[] = {0x02, 0x09, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0};
    der_tlv t = read_one(empty, sizeof empty);
    assert_false(der_get_uint(&t, &u));
    assert_false(der_get_int(&t, &s));
    t = read_one(lead0, sizeof lead0);
    assert_false(der_get_uint(&t, &u));
    assert_false(der_get_int(&t, &s));
    t = read_one(leadff, sizeof leadff);
    assert_false(der_get_int(&t, &s));
    t = read_one(negative, sizeof negative);
    assert_false(der_get_uint(&t, &u));
    assert_true(der_get_int(&t, &s));
    assert_int_equal(s, -128);
    t = read_one(too_big, sizeof too_big);
    assert_false(der_get_uint(&t, &u));
    t = read_one(nine_signed, sizeof nine_signed);
    assert_true(der_get_uint(&t, &u));
    assert_false(der_get_int(&t, &s));
}

/* ---------------------------------------------------------- DER OIDs */

static void check_oid(const char *dotted, const uint8_t *want, size_t want_len)
{
    uint8_t b[64];
    char back[64];
    der_w w = der_w_init(b, sizeof b);
    assert_true(der_put_oid(&w, dotted));
    assert_true(der_w_ok(&w));
    assert_bytes(b, w.len, want, want_len);
    der_tlv t = read_one(b, w.len);
    assert_int_equal(t.tag, DER_OID);
    assert_true(der_get_oid(&t, back, sizeof back));
    assert_string_equal(back, dotted);
}

static void test_der_oid_vectors(void **state)
{
    (void)state;
    static const uint8_t tx[] = {0x06, 0x09, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x03, 0x07, 0x01, 0x01};
    static const uint8_t sha256[] = {0x06, 0x0a, 0x04, 0x00, 0x7f, 0x00, 0x07,
                                     0x01, 0x01, 0x04, 0x01, 0x03};
    static const uint8_t sha3[] = {0x06, 0x0a, 0x04, 0x00, 0x7f, 0x00, 0x07,
                                   0x01, 0x01, 0x04, 0x01, 0x0b};
    static const uint8_t ecdsa384[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
    static const uint8_t big[] = {0x06, 0x03, 0x88, 0x37, 0x03};
    static const uint8_t big_arc[] = {0x06, 0x0b, 0x2a, 0x81, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0x7f};
    check_oid("0.4.0.127.0.7.3.7.1.1", tx, sizeof tx);
    check_oid(SHA256_ALG, sha256, sizeof sha256);
    check_oid("0.4.0.127.0.7.1.1.4.1.11", sha3, sizeof sha3);
    check_oid("1.2.840.10045.4.3.3", ecdsa384, sizeof ecdsa384);
    check_oid("2.999.3", big, sizeof big);
    check_oid("1.2.18446744073709551615", big_arc, sizeof big_arc);
}

static void test_der_oid_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "1", "3.1", "1.40", "1..2", "1.2.", ".1.2",
                                      "01.2", "1.02", "1.2.a", "1.2.18446744073709551616",
                                      "1.2 .3", "-1.2"};
    uint8_t b[64];
    char text[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        der_w w = der_w_init(b, sizeof b);
        assert_false(der_put_oid(&w, bad[i]));
        assert_int_equal(w.len, 0);
    }
    /* 80 arcs do not fit our bound. */
    char longoid[400] = "1.2";
    for (int i = 0; i < 80; i++)
        strcat(longoid, ".300");
    der_w w = der_w_init(b, sizeof b);
    assert_false(der_put_oid(&w, longoid));

    static const uint8_t empty[] = {0x06, 0x00};
    static const uint8_t nonminimal[] = {0x06, 0x03, 0x2a, 0x80, 0x01};
    static const uint8_t unterminated[] = {0x06, 0x02, 0x2a, 0x86};
    static const uint8_t overflow[] = {0x06, 0x0c, 0x2a, 0x82, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    der_tlv t = read_one(empty, sizeof empty);
    assert_false(der_get_oid(&t, text, sizeof text));
    t = read_one(nonminimal, sizeof nonminimal);
    assert_false(der_get_oid(&t, text, sizeof text));
    t = read_one(unterminated, sizeof unterminated);
    assert_false(der_get_oid(&t, text, sizeof text));
    t = read_one(overflow, sizeof overflow);
    assert_false(der_get_oid(&t, text, sizeof text));
    /* Output too small. */
    static const uint8_t tx[] = {0x06, 0x09, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x03, 0x07, 0x01, 0x01};
    t = read_one(tx, sizeof tx);
    assert_false(der_get_oid(&t, text, 21));
    assert_true(der_get_oid(&t, text, 22));
    assert_string_equal(text, "0.4.0.127.0.7.3.7.1.1");
}

/* ------------------------------------------------------- DER lengths */

static void check_length(size_t n, const uint8_t *hdr, size_t hdr_len)
{
    size_t cap = n + 8;
    uint8_t *b = calloc(1, cap);
    uint8_t *content = calloc(1, n + 1);
    assert_non_null(b);
    assert_non_null(content);
    for (size_t i = 0; i < n; i++)
        content[i] = (uint8_t)i;
    assert_int_equal(der_header_len(n), hdr_len);
    der_w w = der_w_init(b, cap);
    der_put_tlv(&w, DER_OCTET_STRING, content, n);
    assert_true(der_w_ok(&w));
    assert_int_equal(w.len, hdr_len + n);
    assert_memory_equal(b, hdr, hdr_len);
    der_tlv t = read_one(b, w.len);
    assert_int_equal(t.header_len, hdr_len);
    assert_int_equal(t.content_len, n);
    assert_int_equal(t.total_len, hdr_len + n);
    assert_false(t.indefinite);
    assert_ptr_equal(t.start, b);
    if (n > 0)
        assert_memory_equal(t.content, content, n);
    /* Any shorter buffer is a truncation. */
    assert_true(read_fails(b, w.len - 1));
    assert_true(read_fails(b, hdr_len - 1));
    free(b);
    free(content);
}

static void test_der_lengths(void **state)
{
    (void)state;
    static const uint8_t h0[] = {0x04, 0x00};
    static const uint8_t h127[] = {0x04, 0x7f};
    static const uint8_t h128[] = {0x04, 0x81, 0x80};
    static const uint8_t h255[] = {0x04, 0x81, 0xff};
    static const uint8_t h256[] = {0x04, 0x82, 0x01, 0x00};
    static const uint8_t h65535[] = {0x04, 0x82, 0xff, 0xff};
    static const uint8_t h65536[] = {0x04, 0x83, 0x01, 0x00, 0x00};
    check_length(0, h0, sizeof h0);
    check_length(127, h127, sizeof h127);
    check_length(128, h128, sizeof h128);
    check_length(255, h255, sizeof h255);
    check_length(256, h256, sizeof h256);
    check_length(65535, h65535, sizeof h65535);
    check_length(65536, h65536, sizeof h65536);
}

static void test_der_length_rejects(void **state)
{
    (void)state;
    static const uint8_t long_for_short[] = {0x04, 0x81, 0x05, 1, 2, 3, 4, 5};
    static const uint8_t leading_zero[] = {0x04, 0x82, 0x00, 0x80};
    static const uint8_t indef_primitive[] = {0x04, 0x80, 0x61, 0x00, 0x00};
    static const uint8_t multibyte_tag[] = {0x1f, 0x81, 0x01, 0x00};
    static const uint8_t truncated[] = {0x04, 0x05, 0xaa};
    static const uint8_t only_tag[] = {0x04};
    static const uint8_t huge[] = {0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00};
    static const uint8_t reserved[] = {0x04, 0xff, 0x00};
    static const uint8_t too_many_len_bytes[] = {0x04, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t eoc[] = {0x00, 0x00};
    assert_true(read_fails(long_for_short, sizeof long_for_short));
    assert_true(read_fails(leading_zero, 4));
    assert_true(read_fails(indef_primitive, sizeof indef_primitive));
    assert_true(read_fails(multibyte_tag, sizeof multibyte_tag));
    assert_true(read_fails(truncated, sizeof truncated));
    assert_true(read_fails(only_tag, sizeof only_tag));
    assert_true(read_fails(huge, sizeof huge));
    assert_true(read_fails(reserved, sizeof reserved));
    assert_true(read_fails(too_many_len_bytes, sizeof too_many_len_bytes));
    assert_true(read_fails(eoc, sizeof eoc));
    assert_true(read_fails(eoc, 0));
}

static void test_der_writer_overflow(void **state)
{
    (void)state;
    uint8_t b[4] = {0};
    static const uint8_t content[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    der_w w = der_w_init(b, sizeof b);
    der_put_tlv(&w, DER_OCTET_STRING, content, sizeof content);
    assert_false(der_w_ok(&w));
    assert_int_equal(w.len, 12);
    der_put_uint(&w, DER_INTEGER, 1);
    assert_int_equal(w.len, 15);
    /* Measuring with no buffer. */
    der_w m = der_w_init(NULL, 0);
    der_put_tlv(&m, DER_OCTET_STRING, content, sizeof content);
    assert_true(der_put_oid(&m, "1.2.3"));
    assert_int_equal(m.len, 12 + 4);
    assert_false(der_w_ok(&m));
    der_w z = der_w_init(NULL, 0);
    assert_true(der_w_ok(&z));
}

/* ------------------------------------------- BER indefinite lengths */

static void test_der_indefinite(void **state)
{
    (void)state;
    static const uint8_t simple[] = {0xa2, 0x80, 0x04, 0x03, 'a', 'b', 'c', 0x00, 0x00};
    static const uint8_t nested[] = {0xa2, 0x80, 0x24, 0x80, 0x04, 0x01, 'a', 0x00, 0x00,
                                     0x04, 0x02, 'b', 'c', 0x00, 0x00};
    static const uint8_t definite[] = {0xa2, 0x07, 0x04, 0x01, 'a', 0x04, 0x02, 'b', 'c'};
    static const uint8_t empty[] = {0xa2, 0x80, 0x00, 0x00};
    uint8_t out[8];
    size_t n;

    der_tlv t = read_one(simple, sizeof simple);
    assert_true(t.indefinite);
    assert_true(t.constructed);
    assert_int_equal(t.tag, 0xa2);
    assert_int_equal(t.header_len, 2);
    assert_int_equal(t.content_len, 5);
    assert_int_equal(t.total_len, 9);
    assert_true(der_get_octets(&t, out, sizeof out, &n));
    assert_bytes(out, n, (const uint8_t *)"abc", 3);

    t = read_one(nested, sizeof nested);
    assert_int_equal(t.content_len, 11);
    assert_true(der_get_octets(&t, NULL, 0, &n));
    assert_int_equal(n, 3);
    assert_true(der_get_octets(&t, out, 2, &n));   /* partial copy, full length */
    assert_int_equal(n, 3);
    assert_memory_equal(out, "ab", 2);
    assert_true(der_get_octets(&t, out, sizeof out, &n));
    assert_bytes(out, n, (const uint8_t *)"abc", 3);

    t = read_one(definite, sizeof definite);
    assert_false(t.indefinite);
    assert_true(der_get_octets(&t, out, sizeof out, &n));
    assert_bytes(out, n, (const uint8_t *)"abc", 3);

    t = read_one(empty, sizeof empty);
    assert_true(der_get_octets(&t, out, sizeof out, &n));
    assert_int_equal(n, 0);

    /* Two values in a row: the reader continues after the end-of-contents. */
    uint8_t two[sizeof simple + 3];
    memcpy(two, simple, sizeof simple);
    memcpy(two + sizeof simple, "\x02\x01\x07", 3);
    der_r r = der_r_init(two, sizeof two);
    assert_true(der_read(&r, &t));
    assert_int_equal(der_peek_tag(&r), DER_INTEGER);
    assert_true(der_read(&r, &t));
    assert_true(der_r_done(&r));
    assert_int_equal(der_peek_tag(&r), 0);
}

static void test_der_indefinite_rejects(void **state)
{
    (void)state;
    static const uint8_t no_eoc[] = {0xa2, 0x80, 0x04, 0x03, 'a', 'b', 'c'};
    static const uint8_t half_eoc[] = {0xa2, 0x80, 0x04, 0x03, 'a', 'b', 'c', 0x00};
    static const uint8_t bad_eoc[] = {0xa2, 0x80, 0x04, 0x01, 'a', 0x00, 0x01, 0x00};
    static const uint8_t inner_trunc[] = {0xa2, 0x80, 0x04, 0x09, 'a', 0x00, 0x00};
    static const uint8_t wrong_segment[] = {0xa2, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00};
    uint8_t out[8];
    size_t n;
    assert_true(read_fails(no_eoc, sizeof no_eoc));
    assert_true(read_fails(half_eoc, sizeof half_eoc));
    assert_true(read_fails(bad_eoc, sizeof bad_eoc));
    assert_true(read_fails(inner_trunc, sizeof inner_trunc));
    for (size_t i = 0; i < sizeof no_eoc; i++)
        assert_true(read_fails(no_eoc, i));
    der_tlv t = read_one(wrong_segment, sizeof wrong_segment);
    assert_false(der_get_octets(&t, out, sizeof out, &n));
}

/* n nested "24 80" (or "24 LL") levels around "04 01 x". */
static size_t nest(uint8_t *b, size_t cap, int levels, bool indefinite)
{
    size_t len = 0;
    if (indefinite) {
        for (int i = 0; i < levels; i++) {
            b[len++] = 0x24;
            b[len++] = 0x80;
        }
        b[len++] = 0x04;
        b[len++] = 0x01;
        b[len++] = 'x';
        for (int i = 0; i < levels; i++) {
            b[len++] = 0x00;
            b[len++] = 0x00;
        }
        assert_true(len <= cap);
        return len;
    }
    /* Definite: build from the inside out at the end of the buffer. */
    size_t pos = cap - 3;
    b[pos] = 0x04;
    b[pos + 1] = 0x01;
    b[pos + 2] = 'x';
    for (int i = 0; i < levels; i++) {
        size_t inner = cap - pos;
        assert_true(inner < 0x80);
        b[--pos] = (uint8_t)inner;
        b[--pos] = 0x24;
    }
    memmove(b, b + pos, cap - pos);
    return cap - pos;
}

static void test_der_deep_nesting(void **state)
{
    (void)state;
    uint8_t b[100000];
    uint8_t out[4];
    size_t len, n;
    der_tlv t;

    len = nest(b, sizeof b, DER_MAX_DEPTH, true);
    t = read_one(b, len);
    assert_true(der_get_octets(&t, out, sizeof out, &n));
    assert_int_equal(n, 1);

    len = nest(b, sizeof b, DER_MAX_DEPTH + 1, true);
    assert_true(read_fails(b, len));

    /* Far too deep must fail without exhausting the stack. */
    len = nest(b, sizeof b, 20000, true);
    assert_true(read_fails(b, len));

    len = nest(b, 120, 10, false);
    t = read_one(b, len);
    assert_true(der_get_octets(&t, out, sizeof out, &n));
    assert_int_equal(n, 1);

    len = nest(b, 120, DER_MAX_DEPTH + 2, false);
    t = read_one(b, len);
    assert_false(der_get_octets(&t, out, sizeof out, &n));
}

/* ------------------------------------------------------ log messages */

static uint8_t serial_ab[32];

static logmsg_fields tx_fields(void)
{
    logmsg_fields f = {0};
    memset(serial_ab, 0xab, sizeof serial_ab);
    f.kind = LOGMSG_TRANSACTION;
    f.operation = "StartTransaction";
    f.client_id = "C1";
    f.process_type = "Kassenbeleg-V1";
    f.transaction_number = 0xda;
    f.serial_number = serial_ab;
    f.signature_algorithm_oid = SHA256_ALG;
    f.signature_counter = 26;
    f.time_format = LOGMSG_TIME_UNIX;
    f.log_time = 1632729177;
    return f;
}

/* The signed bytes of tx_fields(), composed by hand from TSE-FORMATS.md. */
static const uint8_t tx_tbs_vector[] = {
    0x02, 0x01, 0x02,                                           /* version 2 */
    0x06, 0x09, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x03, 0x07, 0x01, 0x01, /* transaction log */
    0x80, 0x10, 'S', 't', 'a', 'r', 't', 'T', 'r', 'a', 'n', 's', 'a', 'c', 't', 'i', 'o', 'n',
    0x81, 0x02, 'C', '1',                                       /* clientId */
    0x82, 0x00,                                                 /* processData empty */
    0x83, 0x0e, 'K', 'a', 's', 's', 'e', 'n', 'b', 'e', 'l', 'e', 'g', '-', 'V', '1',
    0x85, 0x02, 0x00, 0xda,                                     /* transactionNumber */
    0x04, 0x20,                                                 /* serialNumber */
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0x30, 0x0c, 0x06, 0x0a, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x01, 0x01, 0x04, 0x01, 0x03,
    0x02, 0x01, 0x1a,                                           /* signatureCounter 26 */
    0x02, 0x04, 0x61, 0x51, 0x78, 0x59,                         /* logTime unixTime */
};

static void test_tx_tbs_exact(void **state)
{
    (void)state;
    uint8_t b[512];
    logmsg_fields f = tx_fields();
    der_w w = der_w_init(b, sizeof b);
    assert_true(logmsg_encode_tbs(&w, &f));
    assert_true(der_w_ok(&w));
    assert_bytes(b, w.len, tx_tbs_vector, sizeof tx_tbs_vector);

    /* Measuring gives the same size. */
    der_w m = der_w_init(NULL, 0);
    assert_true(logmsg_encode_tbs(&m, &f));
    assert_int_equal(m.len, sizeof tx_tbs_vector);

    /* The message: SEQUENCE { tbs, OCTET STRING sig }. */
    uint8_t sig[64], msg[512];
    memset(sig, 0x5a, sizeof sig);
    der_w mw = der_w_init(msg, sizeof msg);
    logmsg_encode(&mw, b, w.len, sig, sizeof sig);
    assert_true(der_w_ok(&mw));
    size_t body = sizeof tx_tbs_vector + 2 + 64;
    assert_int_equal(mw.len, 3 + body);
    assert_int_equal(msg[0], 0x30);
    assert_int_equal(msg[1], 0x81);
    assert_int_equal(msg[2], body);
    assert_memory_equal(msg + 3, tx_tbs_vector, sizeof tx_tbs_vector);
    assert_int_equal(msg[3 + sizeof tx_tbs_vector], 0x04);
    assert_int_equal(msg[4 + sizeof tx_tbs_vector], 64);

    /* Too small a buffer: not ok, but the needed size is known. */
    uint8_t small[10];
    der_w sw = der_w_init(small, sizeof small);
    logmsg_encode(&sw, b, w.len, sig, sizeof sig);
    assert_false(der_w_ok(&sw));
    assert_int_equal(sw.len, mw.len);
}

/* Builds and parses; checks every common field. */
static void build_parse(const logmsg_fields *f, uint8_t *msg, size_t cap, size_t *len, logmsg *m)
{
    uint8_t tbs[2048], sig[96];
    tse_error err = {0};
    for (size_t i = 0; i < sizeof sig; i++)
        sig[i] = (uint8_t)(i * 7 + 1);
    der_w w = der_w_init(tbs, sizeof tbs);
    assert_true(logmsg_encode_tbs(&w, f));
    assert_true(der_w_ok(&w));
    der_w mw = der_w_init(msg, cap);
    logmsg_encode(&mw, tbs, w.len, sig, sizeof sig);
    assert_true(der_w_ok(&mw));
    *len = mw.len;
    if (!logmsg_parse(msg, mw.len, m, &err))
        fail_msg("parse failed: %s", err);
    assert_int_equal(m->version, f->version ? f->version : 2);
    assert_int_equal(m->kind, f->kind);
    assert_bytes(m->signed_bytes.p, m->signed_bytes.n, tbs, w.len);
    assert_bytes(m->signature.p, m->signature.n, sig, sizeof sig);
    assert_bytes(m->serial_number.p, m->serial_number.n, f->serial_number, 32);
    assert_string_equal(m->signature_algorithm_oid, f->signature_algorithm_oid);
    assert_int_equal(m->signature_algorithm_params.n, 0);
    assert_true(m->signature_counter == f->signature_counter);
    assert_int_equal(m->time_format, f->time_format);
    assert_true(m->log_time == f->log_time);
}

static void assert_text(logmsg_bytes b, const char *s)
{
    assert_bytes(b.p, b.n, (const uint8_t *)s, strlen(s));
}

static void test_tx_round_trip(void **state)
{
    (void)state;
    static const logmsg_time_format fmts[] = {LOGMSG_TIME_UNIX, LOGMSG_TIME_UTC,
                                              LOGMSG_TIME_GENERALIZED};
    static const char *const ops[] = {"StartTransaction", "UpdateTransaction",
                                      "FinishTransaction"};
    static const uint8_t pd[] = "Beleg^75.33_7.99_0.00_0.00_0.00^10.00:Bar";
    static const uint8_t ext[] = {0x01, 0x02, 0x03};
    static const uint8_t in[] = {0xff};
    uint8_t msg[2048], flat[128];
    size_t len, n;
    logmsg m;
    for (size_t i = 0; i < 3; i++) {
        logmsg_fields f = tx_fields();
        f.time_format = fmts[i];
        f.operation = ops[i];
        f.client_id = "137741-0007 Hioneu";
        f.process_data.p = pd;
        f.process_data.n = sizeof pd - 1;
        f.additional_external_data.p = ext;
        f.additional_external_data.n = sizeof ext;
        f.additional_internal_data.p = in;
        f.additional_internal_data.n = sizeof in;
        f.transaction_number = UINT64_MAX;
        f.signature_counter = (UINT64_C(1) << 63);
        build_parse(&f, msg, sizeof msg, &len, &m);
        assert_string_equal(m.certified_data_type, LOGMSG_OID_TRANSACTION);
        assert_text(m.operation, ops[i]);
        assert_text(m.client_id, "137741-0007 Hioneu");
        assert_true(m.has_process_data);
        assert_false(m.process_data.indefinite);
        assert_true(der_get_octets(&m.process_data, flat, sizeof flat, &n));
        assert_bytes(flat, n, pd, sizeof pd - 1);
        assert_true(m.has_process_type);
        assert_text(m.process_type, "Kassenbeleg-V1");
        assert_true(m.has_additional_external_data);
        assert_bytes(m.additional_external_data.p, m.additional_external_data.n, ext, 3);
        assert_true(m.has_additional_internal_data);
        assert_bytes(m.additional_internal_data.p, m.additional_internal_data.n, in, 1);
        assert_true(m.transaction_number == UINT64_MAX);
        assert_false(m.has_se_audit_data);
        if (fmts[i] == LOGMSG_TIME_UNIX)
            assert_int_equal(m.time_text.n, 0);
        else
            assert_int_equal(m.time_text.n, fmts[i] == LOGMSG_TIME_UTC ? 13 : 15);
    }

    /* Minimal: no process type, no optional data, empty processData. */
    logmsg_fields f = tx_fields();
    f.process_type = NULL;
    f.transaction_number = 0;
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_false(m.has_process_type);
    assert_false(m.has_additional_external_data);
    assert_false(m.has_additional_internal_data);
    assert_true(m.has_process_data);
    assert_int_equal(m.process_data.content_len, 0);
    assert_true(m.transaction_number == 0);

    /* Empty process type is written and read back as present. */
    f.process_type = "";
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_true(m.has_process_type);
    assert_int_equal(m.process_type.n, 0);
}

static void test_system_round_trip(void **state)
{
    (void)state;
    static const logmsg_time_format fmts[] = {LOGMSG_TIME_UNIX, LOGMSG_TIME_UTC,
                                              LOGMSG_TIME_GENERALIZED};
    /* updateTime: [1] time before, [2] time after, as unixTime. */
    static const uint8_t sod[] = {0x81, 0x04, 0x61, 0x2e, 0xad, 0x9a, 0x82, 0x04, 0x61, 0x2e, 0xad, 0x9b};
    static const uint8_t internal[] = {0x30, 0x00};
    uint8_t msg[2048];
    size_t len;
    logmsg m;
    for (size_t i = 0; i < 3; i++) {
        logmsg_fields f = tx_fields();
        f.kind = LOGMSG_SYSTEM;
        f.operation = "updateTime";
        f.client_id = NULL;
        f.process_type = NULL;
        f.system_operation_data.p = sod;
        f.system_operation_data.n = sizeof sod;
        f.time_format = fmts[i];
        f.log_time = 1630449051;
        f.signature_algorithm_oid = "0.4.0.127.0.7.1.1.4.1.4";
        f.additional_internal_data.p = i == 2 ? internal : NULL;
        f.additional_internal_data.n = i == 2 ? sizeof internal : 0;
        build_parse(&f, msg, sizeof msg, &len, &m);
        assert_string_equal(m.certified_data_type, LOGMSG_OID_SYSTEM);
        assert_text(m.operation, "updateTime");
        assert_bytes(m.system_operation_data.p, m.system_operation_data.n, sod, sizeof sod);
        assert_int_equal(m.has_additional_internal_data, i == 2);
        assert_false(m.has_process_data);
        assert_int_equal(m.client_id.n, 0);
    }
    /* Absent systemOperationData is written empty. */
    logmsg_fields f = tx_fields();
    f.kind = LOGMSG_SYSTEM;
    f.operation = "logOut";
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_int_equal(m.system_operation_data.n, 0);
    assert_non_null(m.system_operation_data.p);
}

static void test_audit_round_trip(void **state)
{
    (void)state;
    static const uint8_t audit[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    uint8_t msg[2048];
    size_t len;
    logmsg m;
    logmsg_fields f = tx_fields();
    f.kind = LOGMSG_AUDIT;
    f.se_audit_data.p = audit;
    f.se_audit_data.n = sizeof audit;
    f.time_format = LOGMSG_TIME_GENERALIZED;
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_string_equal(m.certified_data_type, LOGMSG_OID_AUDIT);
    assert_true(m.has_se_audit_data);
    assert_bytes(m.se_audit_data.p, m.se_audit_data.n, audit, sizeof audit);
    assert_int_equal(m.operation.n, 0);
}

static void test_builder_rejects(void **state)
{
    (void)state;
    uint8_t b[1024];
    logmsg_fields f;
    der_w w;
#define REJECT(mutation)                                                                          \
    do {                                                                                          \
        f = tx_fields();                                                                          \
        mutation;                                                                                 \
        w = der_w_init(b, sizeof b);                                                              \
        assert_false(logmsg_encode_tbs(&w, &f));                                                  \
        assert_int_equal(w.len, 0);                                                               \
    } while (0)
    REJECT(f.operation = "Start");
    REJECT(f.operation = NULL);
    REJECT(f.operation = "starttransaction");
    REJECT(f.client_id = NULL);
    REJECT(f.client_id = "");
    REJECT(f.client_id = "kasse_1");
    REJECT(f.client_id = "K\xc3\xa4sse");
    REJECT(f.process_type = "Kassenbeleg*V1");
    REJECT(f.serial_number = NULL);
    REJECT(f.signature_algorithm_oid = NULL);
    REJECT(f.signature_algorithm_oid = "1.2.840.10045.4.3.2");
    REJECT(f.signature_algorithm_oid = "bogus");
    REJECT(f.kind = (logmsg_kind)7);
    REJECT(f.time_format = (logmsg_time_format)3);
    REJECT((f.time_format = LOGMSG_TIME_UTC, f.log_time = 2524608000));     /* 2050 */
    REJECT((f.time_format = LOGMSG_TIME_UTC, f.log_time = -631152001));     /* 1949 */
    REJECT((f.time_format = LOGMSG_TIME_GENERALIZED, f.log_time = 253402300800)); /* 10000 */
    REJECT((f.process_data.p = NULL, f.process_data.n = 3));
    REJECT((f.kind = LOGMSG_SYSTEM, f.operation = ""));
    REJECT((f.kind = LOGMSG_SYSTEM, f.operation = "update_time"));
    REJECT(f.kind = LOGMSG_AUDIT);
#undef REJECT
    /* Boundaries that are fine. */
    f = tx_fields();
    f.time_format = LOGMSG_TIME_UTC;
    f.log_time = 2524607999;
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_encode_tbs(&w, &f));
    f.log_time = -631152000;
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_encode_tbs(&w, &f));
    f.time_format = LOGMSG_TIME_UNIX;
    f.log_time = -1;
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_encode_tbs(&w, &f));
}

/* ------------------------------------------------ log format version 3 */

/* The signed bytes of a version-3 startTransaction without processType,
 * composed by hand from TR-03151-1 v1.1.1 3.7.2.1. */
static const uint8_t tx3_tbs_vector[] = {
    0x02, 0x01, 0x03,                                           /* version 3 */
    0x06, 0x09, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x03, 0x07, 0x01, 0x01, /* transaction log */
    0x80, 0x10, 's', 't', 'a', 'r', 't', 'T', 'r', 'a', 'n', 's', 'a', 'c', 't', 'i', 'o', 'n',
    0x81, 0x02, 'C', '1',                                       /* clientId */
    0x82, 0x00,                                                 /* processData empty */
    0x83, 0x00,                                                 /* processType: mandatory, empty */
    0x85, 0x02, 0x00, 0xda,                                     /* transactionNumber */
    0x04, 0x20,                                                 /* serialNumber */
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0x30, 0x0c, 0x06, 0x0a, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x01, 0x01, 0x04, 0x01, 0x03,
    0x02, 0x01, 0x1a,                                           /* signatureCounter 26 */
    0x02, 0x04, 0x61, 0x51, 0x78, 0x59,                         /* signatureCreationTime */
};

/* A version-3 logOut system log (2.2.1.1, 3.2.4.3): eventType [0],
 * eventOrigin [1], eventTriggeredByUser [2], eventData [3] constructed
 * holding LogOutEventData { "admin", userCalledLogOut }. */
static const uint8_t sys3_tbs_vector[] = {
    0x02, 0x01, 0x03,
    0x06, 0x09, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x03, 0x07, 0x01, 0x02, /* system log */
    0x80, 0x06, 'l', 'o', 'g', 'O', 'u', 't',
    0x81, 0x03, 'S', 'M', 'A',
    0x82, 0x05, 'a', 'd', 'm', 'i', 'n',
    0xa3, 0x0a, 0x13, 0x05, 'a', 'd', 'm', 'i', 'n', 0x0a, 0x01, 0x00,
    0x04, 0x20,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0x30, 0x0c, 0x06, 0x0a, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x01, 0x01, 0x04, 0x01, 0x03,
    0x02, 0x01, 0x1a,
    0x02, 0x04, 0x61, 0x51, 0x78, 0x59,
};

static logmsg_fields sys3_fields(uint8_t *data, size_t cap)
{
    logmsg_fields f = tx_fields();
    der_w d = der_w_init(data, cap);
    assert_true(logmsg_event_logout(&d, "admin", LOGMSG_LOGOUT_USER_CALLED));
    f.kind = LOGMSG_SYSTEM;
    f.version = 3;
    f.operation = "logOut";
    f.client_id = NULL;
    f.process_type = NULL;
    f.event_origin = "SMA";
    f.event_triggered_by_user = "admin";
    f.event_data = (logmsg_bytes){data, d.len};
    return f;
}

static void test_v3_exact(void **state)
{
    (void)state;
    uint8_t b[512], data[64], msg[1024];
    size_t len;
    logmsg m;
    logmsg_fields f = tx_fields();
    f.version = 3;
    f.operation = "startTransaction";
    f.process_type = NULL;
    der_w w = der_w_init(b, sizeof b);
    assert_true(logmsg_encode_tbs(&w, &f));
    assert_bytes(b, w.len, tx3_tbs_vector, sizeof tx3_tbs_vector);
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_int_equal(m.tx_op, LOGMSG_TX_START);
    assert_true(m.has_process_type);
    assert_int_equal(m.process_type.n, 0);
    char name[200];
    assert_true(logmsg_filename(&m, 0, name, sizeof name));
    assert_string_equal(name, "Unixt_1632729177_Sig-26_Log-Tra_No-218_Start_Client-C1.log");

    f = sys3_fields(data, sizeof data);
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_encode_tbs(&w, &f));
    assert_bytes(b, w.len, sys3_tbs_vector, sizeof sys3_tbs_vector);
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_text(m.operation, "logOut");
    assert_true(m.has_event_origin && m.has_event_triggered_by_user);
    assert_text(m.event_origin, "SMA");
    assert_text(m.event_triggered_by_user, "admin");
    assert_bytes(m.event_data.p, m.event_data.n, sys3_tbs_vector + 36, 10);
    assert_int_equal(m.system_operation_data.n, 0);
    assert_true(logmsg_filename(&m, 2, name, sizeof name));
    assert_string_equal(name, "Unixt_1632729177_Sig-26_Log-Sys_logOut_Fc-2.log");

    /* without origin and user, empty eventData: A3 00 */
    f.event_origin = f.event_triggered_by_user = NULL;
    f.event_data = (logmsg_bytes){NULL, 0};
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_false(m.has_event_origin || m.has_event_triggered_by_user);
    assert_int_equal(m.event_data.n, 0);
    assert_non_null(memmem(msg, len, "\x80\x06logOut\xa3\x00\x04\x20", 12));

    /* audit log: only the version differs */
    static const uint8_t audit[] = {0x30, 0x00};
    f = tx_fields();
    f.version = 3;
    f.kind = LOGMSG_AUDIT;
    f.se_audit_data = (logmsg_bytes){audit, sizeof audit};
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_int_equal(m.version, 3);
    assert_true(m.has_se_audit_data);
}

/* The eventData writers against Appendix E.3, byte for byte. */
static void test_v3_event_data(void **state)
{
    (void)state;
    uint8_t b[256];
    der_w w = der_w_init(b, sizeof b);
    assert_true(logmsg_event_authenticate(&w, "admin", "admin", LOGMSG_PIN_INCORRECT_PIN, 2));
    ASSERT_W(w, 0x13, 0x05, 'a', 'd', 'm', 'i', 'n', 0x13, 0x05, 'a', 'd', 'm', 'i', 'n', 0x0a, 0x01, 0x02,
                 0x02, 0x01, 0x02);
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_event_unblock(&w, "timeadmin", LOGMSG_UNBLOCK_INCORRECT_PUK));
    ASSERT_W(w, 0x13, 0x09, 't', 'i', 'm', 'e', 'a', 'd', 'm', 'i', 'n', 0x0a, 0x01, 0x02);
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_event_update_time(&w, LOGMSG_TIME_UTC, 1632729177, 1632729178));
    ASSERT_W(w, 0x17, 0x0d, '2', '1', '0', '9', '2', '7', '0', '7', '5', '2', '5', '7', 'Z', 0x17, 0x0d, '2',
                 '1', '0', '9', '2', '7', '0', '7', '5', '2', '5', '8', 'Z');
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_event_update_time(&w, LOGMSG_TIME_UNIX, 1632729177, 1632729178));
    ASSERT_W(w, 0x02, 0x04, 0x61, 0x51, 0x78, 0x59, 0x02, 0x04, 0x61, 0x51, 0x78, 0x5a);
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_event_string(&w, "Kasse 1"));
    ASSERT_W(w, 0x13, 0x07, 'K', 'a', 's', 's', 'e', ' ', '1');
    logmsg_self_test_result r[2] = {{"CSP", true, NULL}, {"storage", false, "bad"}};
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_event_self_test(&w, r, 2));
    ASSERT_W(w, 0x30, 0x1d, 0x30, 0x08, 0x13, 0x03, 'C', 'S', 'P', 0x01, 0x01, 0xff, 0x30, 0x11, 0x13, 0x07,
                 's', 't', 'o', 'r', 'a', 'g', 'e', 0x01, 0x01, 0x00, 0x13, 0x03, 'b', 'a', 'd', 0x01, 0x01,
                 0x00);
    /* refused: strings outside PrintableString, a failed test without its message */
    w = der_w_init(b, sizeof b);
    assert_false(logmsg_event_string(&w, "Kasse_1"));
    assert_false(logmsg_event_logout(&w, "a\nb", LOGMSG_LOGOUT_TIMEOUT));
    logmsg_self_test_result bad = {"CSP", false, NULL};
    assert_false(logmsg_event_self_test(&w, &bad, 1));
}

static void test_v3_rejects(void **state)
{
    (void)state;
    uint8_t b[1024], data[64], msg[1024], sig[64] = {1};
    logmsg_fields f;
    der_w w;
    /* builder: unknown version, v2 names in v3, RFU fields, long processType */
    f = tx_fields();
    f.version = 4;
    w = der_w_init(b, sizeof b);
    assert_false(logmsg_encode_tbs(&w, &f));
    f.version = 3;   /* "StartTransaction" is version 2's */
    assert_false(logmsg_encode_tbs(&w, &f));
    f.operation = "startTransaction";
    static const uint8_t rfu[] = {0x30, 0x00};
    f.additional_internal_data = (logmsg_bytes){rfu, sizeof rfu};
    assert_false(logmsg_encode_tbs(&w, &f));
    f.additional_internal_data = (logmsg_bytes){NULL, 0};
    char longtype[102];
    memset(longtype, 'x', 101);
    longtype[101] = 0;
    f.process_type = longtype;
    assert_false(logmsg_encode_tbs(&w, &f));
    f = tx_fields();   /* version 2 does not know "startTransaction" */
    f.operation = "startTransaction";
    assert_false(logmsg_encode_tbs(&w, &f));
    f = sys3_fields(data, sizeof data);
    f.additional_internal_data = (logmsg_bytes){rfu, sizeof rfu};
    assert_false(logmsg_encode_tbs(&w, &f));
    f = sys3_fields(data, sizeof data);
    f.event_origin = "";
    assert_false(logmsg_encode_tbs(&w, &f));
    f.event_origin = "bad_origin";
    assert_false(logmsg_encode_tbs(&w, &f));
    assert_int_equal(w.len, 0);

    /* parser: eventData primitive, processType missing in version 3 */
    logmsg m;
    tse_error err = {0};
    uint8_t tbs[256];
    memcpy(tbs, sys3_tbs_vector, sizeof sys3_tbs_vector);
    tbs[34] = 0x83;
    w = der_w_init(msg, sizeof msg);
    logmsg_encode(&w, tbs, sizeof sys3_tbs_vector, sig, sizeof sig);
    assert_false(logmsg_parse(msg, w.len, &m, &err));
    assert_non_null(strstr(err.message, "eventData is primitive"));
    /* 83 00 taken out */
    size_t n = 0;
    for (size_t i = 0; i < sizeof tx3_tbs_vector; i++)
        if (!(i == 38 || i == 39))
            tbs[n++] = tx3_tbs_vector[i];
    assert_int_equal(tx3_tbs_vector[38], 0x83);
    w = der_w_init(msg, sizeof msg);
    logmsg_encode(&w, tbs, n, sig, sizeof sig);
    assert_false(logmsg_parse(msg, w.len, &m, &err));
    assert_non_null(strstr(err.message, "processType missing"));
    /* a version-2 system log relabeled 3: [1] is primitive, no [3] */
    f = tx_fields();
    f.kind = LOGMSG_SYSTEM;
    f.operation = "logOut";
    w = der_w_init(b, sizeof b);
    assert_true(logmsg_encode_tbs(&w, &f));
    b[2] = 3;
    size_t tl = w.len;
    w = der_w_init(msg, sizeof msg);
    logmsg_encode(&w, b, tl, sig, sizeof sig);
    assert_false(logmsg_parse(msg, w.len, &m, &err));
    assert_non_null(strstr(err.message, "eventData"));
}

static void test_printable(void **state)
{
    (void)state;
    static const char ok[] = "AZaz09 '()+,-./:=?";
    assert_true(logmsg_printable(ok, strlen(ok)));
    assert_true(logmsg_printable("", 0));
    static const char *const bad[] = {"_", "*", "&", "@", "!", "\"", ";", "<", "\t", "\n",
                                      "\xc3\xa4", "^", "#", "~", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(logmsg_printable(bad[i], strlen(bad[i])));
    assert_false(logmsg_printable("a\0b", 3));
}

/* -------------------------------------------------- signature algorithms */

static void test_sigalg(void **state)
{
    (void)state;
    static const struct {
        const char *oid, *name;
        int bits;
        bool sha3;
    } v[] = {
        {"0.4.0.127.0.7.1.1.4.1.2", "ecdsa-plain-SHA224", 224, false},
        {"0.4.0.127.0.7.1.1.4.1.3", "ecdsa-plain-SHA256", 256, false},
        {"0.4.0.127.0.7.1.1.4.1.4", "ecdsa-plain-SHA384", 384, false},
        {"0.4.0.127.0.7.1.1.4.1.5", "ecdsa-plain-SHA512", 512, false},
        {"0.4.0.127.0.7.1.1.4.1.8", "ecdsa-plain-SHA3-224", 3224, true},
        {"0.4.0.127.0.7.1.1.4.1.9", "ecdsa-plain-SHA3-256", 3256, true},
        {"0.4.0.127.0.7.1.1.4.1.10", "ecdsa-plain-SHA3-384", 3384, true},
        {"0.4.0.127.0.7.1.1.4.1.11", "ecdsa-plain-SHA3-512", 3512, true},
        {"0.4.0.127.0.7.1.1.4.4.1", "ecsdsa-plain-SHA224", 224, false},
        {"0.4.0.127.0.7.1.1.4.4.2", "ecsdsa-plain-SHA256", 256, false},
        {"0.4.0.127.0.7.1.1.4.4.3", "ecsdsa-plain-SHA384", 384, false},
        {"0.4.0.127.0.7.1.1.4.4.4", "ecsdsa-plain-SHA512", 512, false},
        {"0.4.0.127.0.7.1.1.4.4.5", "ecsdsa-plain-SHA3-224", 3224, true},
        {"0.4.0.127.0.7.1.1.4.4.6", "ecsdsa-plain-SHA3-256", 3256, true},
        {"0.4.0.127.0.7.1.1.4.4.7", "ecsdsa-plain-SHA3-384", 3384, true},
        {"0.4.0.127.0.7.1.1.4.4.8", "ecsdsa-plain-SHA3-512", 3512, true},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        bool sha3 = !v[i].sha3;
        assert_string_equal(logmsg_sigalg_name(v[i].oid), v[i].name);
        assert_string_equal(logmsg_sigalg_oid(v[i].name), v[i].oid);
        assert_int_equal(logmsg_sigalg_hash_bits(v[i].oid, &sha3), v[i].bits);
        assert_int_equal(sha3, v[i].sha3);
    }
    bool sha3 = true;
    assert_null(logmsg_sigalg_name("0.4.0.127.0.7.1.1.4.1.1"));
    assert_null(logmsg_sigalg_name("1.2.840.10045.4.3.2"));
    assert_null(logmsg_sigalg_name(NULL));
    assert_null(logmsg_sigalg_oid("ecdsa-plain-SHA1"));
    assert_null(logmsg_sigalg_oid(NULL));
    assert_int_equal(logmsg_sigalg_hash_bits("1.2.3", &sha3), 0);
    assert_false(sha3);
    assert_int_equal(logmsg_sigalg_hash_bits(SHA256_ALG, NULL), 256);
}

/* ---------------------------------------------------------- time texts */

static void test_time_text(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *utc, *gen;
    } v[] = {
        {0, "700101000000Z", "19700101000000Z"},
        {1576848186, "191220132306Z", "20191220132306Z"},
        {1541752956, "181109084236Z", "20181109084236Z"},
        {951782400, "000229000000Z", "20000229000000Z"},
        {2524607999, "491231235959Z", "20491231235959Z"},
        {-631152000, "500101000000Z", "19500101000000Z"},
    };
    char out[32];
    int64_t t;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_true(logmsg_time_to_text(LOGMSG_TIME_UTC, v[i].t, out, sizeof out));
        assert_string_equal(out, v[i].utc);
        assert_true(logmsg_time_to_text(LOGMSG_TIME_GENERALIZED, v[i].t, out, sizeof out));
        assert_string_equal(out, v[i].gen);
        assert_true(logmsg_time_from_text(LOGMSG_TIME_UTC, (const uint8_t *)v[i].utc, 13, &t));
        assert_true(t == v[i].t);
        assert_true(logmsg_time_from_text(LOGMSG_TIME_GENERALIZED, (const uint8_t *)v[i].gen, 15, &t));
        assert_true(t == v[i].t);
    }
    /* Ranges and the output buffer. */
    assert_false(logmsg_time_to_text(LOGMSG_TIME_UTC, 2524608000, out, sizeof out));
    assert_false(logmsg_time_to_text(LOGMSG_TIME_UTC, -631152001, out, sizeof out));
    assert_true(logmsg_time_to_text(LOGMSG_TIME_GENERALIZED, 253402300799, out, sizeof out));
    assert_string_equal(out, "99991231235959Z");
    assert_false(logmsg_time_to_text(LOGMSG_TIME_GENERALIZED, 253402300800, out, sizeof out));
    assert_true(logmsg_time_to_text(LOGMSG_TIME_GENERALIZED, -62167219200, out, sizeof out));
    assert_string_equal(out, "00000101000000Z");
    assert_false(logmsg_time_to_text(LOGMSG_TIME_GENERALIZED, INT64_MIN, out, sizeof out));
    assert_false(logmsg_time_to_text(LOGMSG_TIME_UTC, 0, out, 13));
    assert_true(logmsg_time_to_text(LOGMSG_TIME_UTC, 0, out, 14));
    assert_false(logmsg_time_to_text((logmsg_time_format)9, 0, out, sizeof out));
    assert_true(logmsg_time_to_text(LOGMSG_TIME_UNIX, 1632729177, out, sizeof out));
    assert_string_equal(out, "1632729177");
    assert_true(logmsg_time_from_text(LOGMSG_TIME_UNIX, (const uint8_t *)"-5", 2, &t));
    assert_true(t == -5);

    /* Fractions of GeneralizedTime are read (and dropped). */
    assert_true(logmsg_time_from_text(LOGMSG_TIME_GENERALIZED,
                                      (const uint8_t *)"20191220132306.25Z", 18, &t));
    assert_true(t == 1576848186);

    static const struct {
        logmsg_time_format f;
        const char *s;
    } bad[] = {
        {LOGMSG_TIME_UTC, "191320132306Z"},    /* month 13 */
        {LOGMSG_TIME_UTC, "190229000000Z"},    /* not a leap year */
        {LOGMSG_TIME_UTC, "191231240000Z"},    /* hour 24 */
        {LOGMSG_TIME_UTC, "191231236000Z"},
        {LOGMSG_TIME_UTC, "191231235960Z"},
        {LOGMSG_TIME_UTC, "191200000000Z"},    /* day 0 */
        {LOGMSG_TIME_UTC, "19122013230Z"},
        {LOGMSG_TIME_UTC, "191220132306"},
        {LOGMSG_TIME_UTC, "1912201323Z"},
        {LOGMSG_TIME_UTC, "191220132306+0100"},
        {LOGMSG_TIME_UTC, "19122013230 Z"},
        {LOGMSG_TIME_UTC, "-91220132306Z"},
        {LOGMSG_TIME_GENERALIZED, "191220132306Z"},
        {LOGMSG_TIME_GENERALIZED, "20191220132306"},
        {LOGMSG_TIME_GENERALIZED, "20191220132306.Z"},
        {LOGMSG_TIME_GENERALIZED, "20191220132306,5Z"},
        {LOGMSG_TIME_GENERALIZED, "20190229132306Z"},
        {LOGMSG_TIME_UNIX, ""},
        {LOGMSG_TIME_UNIX, "12a"},
        {LOGMSG_TIME_UNIX, "012"},
        {LOGMSG_TIME_UNIX, "-"},
        {LOGMSG_TIME_UNIX, "99999999999999999999"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(logmsg_time_from_text(bad[i].f, (const uint8_t *)bad[i].s, strlen(bad[i].s), &t));
    assert_true(logmsg_time_from_text(LOGMSG_TIME_UTC, (const uint8_t *)"200229000000Z", 13, &t));
    assert_true(logmsg_time_from_text(LOGMSG_TIME_GENERALIZED, (const uint8_t *)"20000229000000Z", 15, &t));
    assert_false(logmsg_time_from_text(LOGMSG_TIME_GENERALIZED, (const uint8_t *)"21000229000000Z", 15, &t));
}

/* ------------------------------------------------------------ file names */

static void check_name_fields(const logmsg_fields *f, unsigned fc, const char *want)
{
    char out[512];
    assert_true(logmsg_filename_fields(f, fc, out, sizeof out));
    assert_string_equal(out, want);
    /* Exactly enough room, and one byte less. */
    assert_true(logmsg_filename_fields(f, fc, out, strlen(want) + 1));
    assert_false(logmsg_filename_fields(f, fc, out, strlen(want)));
}

static void test_filenames(void **state)
{
    (void)state;
    logmsg_fields f = tx_fields();
    f.client_id = "db7b4694-4be9-471e-9373-de4ce44f43e7";
    f.transaction_number = 1;
    check_name_fields(&f, 0,
                      "Unixt_1632729177_Sig-26_Log-Tra_No-1_Start_Client-"
                      "db7b4694-4be9-471e-9373-de4ce44f43e7.log");

    f = tx_fields();
    f.client_id = "13ec4716-1783-4945-964d-a3069af6abcd";
    f.transaction_number = 5;
    f.operation = "UpdateTransaction";
    f.signature_counter = 10;
    f.time_format = LOGMSG_TIME_UTC;
    f.log_time = 1576848810;    /* 2019-12-20 13:33:30 */
    check_name_fields(&f, 0,
                      "Utc_191220133330Z_Sig-10_Log-Tra_No-5_Update_Client-"
                      "13ec4716-1783-4945-964d-a3069af6abcd.log");

    f = tx_fields();
    f.client_id = "137741-0007 Hioneu";
    f.transaction_number = 220;
    f.operation = "FinishTransaction";
    f.signature_counter = 634;
    f.log_time = 1630408368;
    check_name_fields(&f, 0, "Unixt_1630408368_Sig-634_Log-Tra_No-220_Finish_Client-137741-0007 Hioneu.log");
    check_name_fields(&f, 2, "Unixt_1630408368_Sig-634_Log-Tra_No-220_Finish_Client-137741-0007 Hioneu_Fc-2.log");

    f = tx_fields();
    f.kind = LOGMSG_SYSTEM;
    f.operation = "updateTime";
    f.signature_counter = 644;
    f.log_time = 1630449051;
    check_name_fields(&f, 0, "Unixt_1630449051_Sig-644_Log-Sys_updateTime.log");

    /* The example of TR-03151 for GeneralizedTime. */
    f.operation = "UpdateTime";
    f.signature_counter = 1743;
    f.time_format = LOGMSG_TIME_GENERALIZED;
    f.log_time = 1541752956;
    check_name_fields(&f, 0, "Gent_20181109084236Z_Sig-1743_Log-Sys_UpdateTime.log");

    f = tx_fields();
    f.kind = LOGMSG_AUDIT;
    f.signature_counter = 1853;
    f.log_time = 1543565694;
    check_name_fields(&f, 0, "Unixt_1543565694_Sig-1853_Log-Aud.log");
    check_name_fields(&f, 1, "Unixt_1543565694_Sig-1853_Log-Aud_Fc-1.log");

    /* Names that cannot be file names. */
    char out[512];
    f = tx_fields();
    f.client_id = "a/b";
    assert_false(logmsg_filename_fields(&f, 0, out, sizeof out));
    f.client_id = "";
    assert_false(logmsg_filename_fields(&f, 0, out, sizeof out));
    f = tx_fields();
    f.operation = "Begin";
    assert_false(logmsg_filename_fields(&f, 0, out, sizeof out));
    f = tx_fields();
    f.kind = LOGMSG_SYSTEM;
    f.operation = "x\ny";
    assert_false(logmsg_filename_fields(&f, 0, out, sizeof out));
    assert_false(logmsg_filename_fields(&f, 0, out, 0));
}

static void test_filename_parsed_uses_written_time(void **state)
{
    (void)state;
    uint8_t msg[1024];
    size_t len;
    logmsg m;
    char out[256];
    logmsg_fields f = tx_fields();
    f.time_format = LOGMSG_TIME_GENERALIZED;
    build_parse(&f, msg, sizeof msg, &len, &m);
    assert_true(logmsg_filename(&m, 0, out, sizeof out));
    assert_string_equal(out, "Gent_20210927075257Z_Sig-26_Log-Tra_No-218_Start_Client-C1.log");
    char again[256];
    assert_true(logmsg_filename_fields(&f, 0, again, sizeof again));
    assert_string_equal(out, again);
}

/* ---------------------------------------------------- malformed input */

static size_t valid_message(uint8_t *msg, size_t cap)
{
    uint8_t tbs[512], sig[64];
    memset(sig, 0x33, sizeof sig);
    logmsg_fields f = tx_fields();
    f.process_data.p = (const uint8_t *)"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar";
    f.process_data.n = strlen((const char *)f.process_data.p);
    der_w w = der_w_init(tbs, sizeof tbs);
    assert_true(logmsg_encode_tbs(&w, &f));
    der_w mw = der_w_init(msg, cap);
    logmsg_encode(&mw, tbs, w.len, sig, sizeof sig);
    assert_true(der_w_ok(&mw));
    return mw.len;
}

static bool parses(const uint8_t *p, size_t n)
{
    logmsg m;
    tse_error err = {0};
    return logmsg_parse(p, n, &m, &err);
}

/* Copies into an exactly sized heap block so that ASan sees any overread. */
static bool parses_exact(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    bool ok = parses(copy, n);
    free(copy);
    return ok;
}

static void test_parse_truncations(void **state)
{
    (void)state;
    uint8_t msg[1024];
    size_t len = valid_message(msg, sizeof msg);
    assert_true(parses_exact(msg, len));
    for (size_t i = 0; i < len; i++)
        assert_false(parses_exact(msg, i));
    /* Same with a shortened outer length that still matches the buffer. */
    for (size_t cut = 1; cut < len - 3; cut++) {
        uint8_t copy[1024];
        size_t body = len - 3 - cut;
        memcpy(copy, msg, len);
        if (body < 0x80) {
            copy[1] = (uint8_t)body;
            memmove(copy + 2, copy + 3, body);
            assert_false(parses_exact(copy, body + 2));
        } else {
            copy[2] = (uint8_t)body;
            assert_false(parses_exact(copy, body + 3));
        }
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    uint8_t msg[1024], copy[1100];
    logmsg m;
    tse_error err = {0};
    size_t len = valid_message(msg, sizeof msg);
    assert_int_equal(msg[0], 0x30);
    assert_int_equal(msg[1], 0x81);

    /* Trailing garbage. */
    memcpy(copy, msg, len);
    copy[len] = 0;
    assert_false(logmsg_parse(copy, len + 1, &m, &err));
    assert_non_null(strstr(err.message, "trailing"));

    /* Wrong version (the version INTEGER is at offset 3: 02 01 02). */
    memcpy(copy, msg, len);
    assert_int_equal(copy[5], 2);
    copy[5] = 4;
    assert_false(logmsg_parse(copy, len, &m, &err));
    assert_non_null(strstr(err.message, "version"));
    /* version 3 with version 2's operationType */
    copy[5] = 3;
    assert_false(logmsg_parse(copy, len, &m, &err));
    assert_non_null(strstr(err.message, "startTransaction"));
    copy[5] = 1;
    assert_false(logmsg_parse(copy, len, &m, &err));

    /* Unknown certifiedDataType: ...7.1.1 -> ...7.1.4 */
    memcpy(copy, msg, len);
    assert_int_equal(copy[16], 0x01);
    copy[16] = 0x04;
    assert_false(logmsg_parse(copy, len, &m, &err));
    assert_non_null(strstr(err.message, "certifiedDataType"));

    /* Non-minimal outer length: 30 82 00 LL. */
    copy[0] = 0x30;
    copy[1] = 0x82;
    copy[2] = 0x00;
    memcpy(copy + 3, msg + 2, len - 2);
    assert_false(logmsg_parse(copy, len + 1, &m, &err));

    /* Outer indefinite length. */
    copy[0] = 0x30;
    copy[1] = 0x80;
    memcpy(copy + 2, msg + 3, len - 3);
    copy[len - 1] = 0;
    copy[len] = 0;
    assert_false(logmsg_parse(copy, len + 1, &m, &err));

    /* Not a SEQUENCE, empty input. */
    memcpy(copy, msg, len);
    copy[0] = 0x31;
    assert_false(logmsg_parse(copy, len, &m, &err));
    assert_false(logmsg_parse(msg, 0, &m, &err));
    assert_false(logmsg_parse(NULL, 0, &m, NULL));

    /* Unknown transaction operation: "StartTransaction" -> "StartTransactioN". */
    memcpy(copy, msg, len);
    assert_int_equal(copy[17], 0x80);
    assert_int_equal(copy[34], 'n');
    copy[34] = 'N';
    assert_false(logmsg_parse(copy, len, &m, &err));
    assert_non_null(strstr(err.message, "operationType"));

    /* A lenient alphabet: '_' in the client id is accepted when parsing. */
    memcpy(copy, msg, len);
    assert_int_equal(copy[35], 0x81);
    copy[37] = '_';
    assert_true(logmsg_parse(copy, len, &m, &err));
}

static void test_parse_process_data_forms(void **state)
{
    (void)state;
    /* Tail common to all: serial, algorithm (with NULL params), counter, UTCTime, signature. */
    uint8_t tail[256];
    der_w t = der_w_init(tail, sizeof tail);
    memset(serial_ab, 0xab, sizeof serial_ab);
    der_put_tlv(&t, DER_OCTET_STRING, serial_ab, 32);
    static const uint8_t alg[] = {0x30, 0x0e, 0x06, 0x0a, 0x04, 0x00, 0x7f, 0x00, 0x07,
                                  0x01, 0x01, 0x04, 0x01, 0x04, 0x05, 0x00};
    der_put_raw(&t, alg, sizeof alg);
    der_put_uint(&t, DER_INTEGER, 7);
    der_put_tlv(&t, DER_UTC_TIME, "191220132306Z", 13);
    uint8_t sig[96];
    memset(sig, 1, sizeof sig);
    size_t tbs_tail = t.len;
    der_put_tlv(&t, DER_OCTET_STRING, sig, sizeof sig);
    assert_true(der_w_ok(&t));

    static const uint8_t head[] = {0x80, 0x11, 'F', 'i', 'n', 'i', 's', 'h', 'T', 'r', 'a', 'n',
                                   's', 'a', 'c', 't', 'i', 'o', 'n', 0x81, 0x02, 'C', '1'};
    static const uint8_t indef[] = {0xa2, 0x80, 0x04, 0x02, 'a', 'b', 0x24, 0x80, 0x04, 0x01,
                                    'c', 0x00, 0x00, 0x00, 0x00};
    static const uint8_t after[] = {0x83, 0x00, 0x85, 0x01, 0x05};
    uint8_t cd[256], msg[1024], flat[16];
    size_t n;
    logmsg m;
    tse_error err = {0};

    der_w c = der_w_init(cd, sizeof cd);
    der_put_raw(&c, head, sizeof head);
    der_put_raw(&c, indef, sizeof indef);
    der_put_raw(&c, after, sizeof after);

    uint8_t body[1024];
    der_w b = der_w_init(body, sizeof body);
    der_put_uint(&b, DER_INTEGER, 2);
    assert_true(der_put_oid(&b, LOGMSG_OID_TRANSACTION));
    der_put_raw(&b, cd, c.len);
    size_t tbs_len = b.len + tbs_tail;
    der_put_raw(&b, tail, t.len);
    der_w o = der_w_init(msg, sizeof msg);
    der_put_tlv(&o, DER_SEQUENCE, body, b.len);
    assert_true(der_w_ok(&o));
    if (!logmsg_parse(msg, o.len, &m, &err))
        fail_msg("%s", err);
    assert_true(m.process_data.indefinite);
    assert_int_equal(m.process_data.tag, 0xa2);
    assert_true(der_get_octets(&m.process_data, flat, sizeof flat, &n));
    assert_bytes(flat, n, (const uint8_t *)"abc", 3);
    assert_int_equal(m.signed_bytes.n, tbs_len);
    assert_int_equal(m.signature_algorithm_params.n, 2);
    assert_memory_equal(m.signature_algorithm_params.p, "\x05\x00", 2);
    assert_int_equal(m.time_format, LOGMSG_TIME_UTC);
    assert_true(m.log_time == 1576848186);
    assert_text(m.time_text, "191220132306Z");
    assert_true(m.has_process_type);
    assert_int_equal(m.process_type.n, 0);
    assert_true(m.transaction_number == 5);
    for (size_t i = 0; i < o.len; i++)
        assert_false(parses_exact(msg, i));

    /* A bad segment inside processData is rejected. */
    uint8_t bad[1024];
    memcpy(bad, msg, o.len);
    size_t at = (size_t)((const uint8_t *)memchr(msg, 0xa2, o.len) - msg);
    assert_int_equal(bad[at + 2], 0x04);
    bad[at + 2] = 0x02;
    assert_false(logmsg_parse(bad, o.len, &m, &err));
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void assert_inside(logmsg_bytes b, const uint8_t *buf, size_t len)
{
    if (b.n == 0)
        return;
    assert_true(b.p >= buf && b.p + b.n <= buf + len);
}

static void fuzz_one(const uint8_t *msg, size_t len, int rounds)
{
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    for (int i = 0; i < rounds; i++) {
        memcpy(copy, msg, len);
        int flips = 1 + (int)(rng() % 4);
        for (int k = 0; k < flips; k++)
            copy[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
        logmsg m;
        tse_error err = {0};
    char name[512];
        size_t n;
        if (logmsg_parse(copy, len, &m, &err)) {
            assert_inside(m.signed_bytes, copy, len);
            assert_inside(m.signature, copy, len);
            assert_inside(m.client_id, copy, len);
            assert_inside(m.operation, copy, len);
            if (m.has_process_data)
                assert_true(der_get_octets(&m.process_data, NULL, 0, &n));
            (void)logmsg_filename(&m, 0, name, sizeof name);
        }
    }
    free(copy);
}

static void test_parse_random_flips(void **state)
{
    (void)state;
    uint8_t msg[1024];
    size_t len = valid_message(msg, sizeof msg);
    fuzz_one(msg, len, 20000);
}

/* ------------------------------------------------- real fiskaly logs */


static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Every transaction log of a fiskaly archive: rebuilt signed bytes equal
 * the signed bytes in the file, and the file name is ours. */
static void rebuild_archive(const char *rel, size_t want_tx, size_t want_update)
{
    char *path = th_fixture(rel);
    th_tar_entry *e;
    size_t count, tx = 0, updates = 0;
    assert_int_equal(th_tar_read(path, &e, &count), 0);
    for (size_t i = 0; i < count; i++) {
        if (!ends_with(e[i].name, ".log"))
            continue;
        logmsg m;
        tse_error err = {0};
    char name[512];
        static th_rebuilt rb;
        static uint8_t tbs[8192];
        if (!logmsg_parse(e[i].data, e[i].len, &m, &err))
            fail_msg("%s: %s", e[i].name, err);
        assert_int_equal(m.kind, LOGMSG_TRANSACTION);
        assert_false(m.process_data.indefinite);
        logmsg_fields f;
        assert_true(th_fields_from(&m, &rb, &f));
        der_w w = der_w_init(tbs, sizeof tbs);
        assert_true(logmsg_encode_tbs(&w, &f));
        assert_true(der_w_ok(&w));
        assert_bytes(tbs, w.len, m.signed_bytes.p, m.signed_bytes.n);
        assert_true(logmsg_filename_fields(&f, 0, name, sizeof name));
        assert_string_equal(name, e[i].name);
        /* The whole file round-trips too. */
        uint8_t *msg = malloc(e[i].len);
        assert_non_null(msg);
        der_w mw = der_w_init(msg, e[i].len);
        logmsg_encode(&mw, tbs, w.len, m.signature.p, m.signature.n);
        assert_true(der_w_ok(&mw));
        assert_bytes(msg, mw.len, e[i].data, e[i].len);
        free(msg);
        fuzz_one(e[i].data, e[i].len, 200);
        if (strstr(e[i].name, "_Update_"))
            updates++;
        tx++;
    }
    assert_int_equal(tx, want_tx);
    assert_int_equal(updates, want_update);
    th_tar_free(e, count);
    free(path);
}

static void test_fiskaly_rebuild(void **state)
{
    (void)state;
    rebuild_archive("exports/fiskaly-v2-unixt-a.tar", 10, 0);
    rebuild_archive("exports/fiskaly-v2-unixt-b.tar", 6, 0);
    rebuild_archive("exports/fiskaly-v1-utc.tar", 155, 12);
}

/* The D-Trust indefinite-length logs: every truncation fails cleanly. */
static void test_dtrust_indefinite_truncations(void **state)
{
    (void)state;
    char *path = th_fixture("exports/dtrust-indefinite-length.tar");
    th_tar_entry *e;
    size_t count, indefinite = 0;
    assert_int_equal(th_tar_read(path, &e, &count), 0);
    for (size_t i = 0; i < count; i++) {
        logmsg m;
        tse_error err = {0};
        if (!ends_with(e[i].name, ".log"))
            continue;
        if (!logmsg_parse(e[i].data, e[i].len, &m, &err))
            fail_msg("%s: %s", e[i].name, err);
        if (!m.process_data.indefinite)
            continue;
        indefinite++;
        for (size_t n = 0; n < e[i].len; n++)
            assert_false(parses_exact(e[i].data, n));
        fuzz_one(e[i].data, e[i].len, 2000);
    }
    assert_int_equal(indefinite, 3);
    th_tar_free(e, count);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_der_uint_vectors),
        cmocka_unit_test(test_der_int_vectors),
        cmocka_unit_test(test_der_int_round_trip),
        cmocka_unit_test(test_der_int_rejects),
        cmocka_unit_test(test_der_oid_vectors),
        cmocka_unit_test(test_der_oid_rejects),
        cmocka_unit_test(test_der_lengths),
        cmocka_unit_test(test_der_length_rejects),
        cmocka_unit_test(test_der_writer_overflow),
        cmocka_unit_test(test_der_indefinite),
        cmocka_unit_test(test_der_indefinite_rejects),
        cmocka_unit_test(test_der_deep_nesting),
        cmocka_unit_test(test_tx_tbs_exact),
        cmocka_unit_test(test_tx_round_trip),
        cmocka_unit_test(test_system_round_trip),
        cmocka_unit_test(test_audit_round_trip),
        cmocka_unit_test(test_builder_rejects),
        cmocka_unit_test(test_v3_exact),
        cmocka_unit_test(test_v3_event_data),
        cmocka_unit_test(test_v3_rejects),
        cmocka_unit_test(test_printable),
        cmocka_unit_test(test_sigalg),
        cmocka_unit_test(test_time_text),
        cmocka_unit_test(test_filenames),
        cmocka_unit_test(test_filename_parsed_uses_written_time),
        cmocka_unit_test(test_parse_truncations),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_process_data_forms),
        cmocka_unit_test(test_parse_random_flips),
        cmocka_unit_test(test_fiskaly_rebuild),
        cmocka_unit_test(test_dtrust_indefinite_truncations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
