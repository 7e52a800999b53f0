/*
 * test_json_text.c - opentsed's compact JSON writer (src/server/json_text.c)
 * held against jansson's json_dumps(JSON_COMPACT): the same bytes for
 * 20,000 random values (nested objects and arrays; strings with quotes,
 * backslashes, every control byte, DEL, UTF-8 beyond ASCII; integers to
 * both ends of their range; reals; true, false, null; empty containers;
 * keys with the same bytes), for an answer of the shape opentsed stores,
 * and NULL, as json_dumps gives, for a value that is not an object or array
 * and for a cycle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/server.h"

static uint64_t seed = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (unsigned)(seed % n);
}

static char *random_text(char *buf, size_t cap)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t",
                                         "\x01", "\x1f", "\x7f", "\xc3\xa4", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "{", "}", ",", ":", "[", "]", "u"};
    size_t n = rnd(12), len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = rnd(100) < 5 ? 15 + rnd(3) : rnd(sizeof pieces / sizeof *pieces);   /* few beyond ASCII */
        if (k >= 15 && k <= 17 && rnd(4))
            k = 0;
        const char *p = pieces[k];
        if (len + strlen(p) + 1 > cap)
            break;
        memcpy(buf + len, p, strlen(p));
        len += strlen(p);
    }
    buf[len] = 0;
    return buf;
}

static json_t *random_value(int depth)
{
    char text[64];
    unsigned kind = depth > 4 ? 2 + rnd(6) : rnd(8);
    switch (kind) {
    case 0: {
        json_t *o = json_object();
        for (unsigned i = rnd(6); i > 0; i--)
            json_object_set_new(o, random_text(text, sizeof text), random_value(depth + 1));
        return o;
    }
    case 1: {
        json_t *a = json_array();
        for (unsigned i = rnd(6); i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    case 2:
    case 3:
        return json_string(random_text(text, sizeof text));
    case 4: {
        static const json_int_t edges[] = {0, 1, -1, 9, 10, -10, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
        return json_integer(rnd(2) ? edges[rnd(10)] : (json_int_t)(((uint64_t)rnd(1u << 31) << 33) ^ rnd(1u << 31)));
    }
    case 5:
        return rnd(20) ? json_integer((json_int_t)rnd(100000)) : json_real((double)rnd(1000) / 7.0);
    case 6:
        return rnd(2) ? json_true() : json_false();
    default:
        return json_null();
    }
}

static void same_as_jansson(json_t *j)
{
    char *want = json_dumps(j, JSON_COMPACT), *got = json_text(j);
    if (!want)
        assert_null(got);
    else
        assert_string_equal(got, want);
    free(want);
    free(got);
}

static void random_values(void **state)
{
    (void)state;
    int containers = 0;
    for (int i = 0; i < 20000; i++) {
        json_t *j = random_value(0);
        if (!json_is_object(j) && !json_is_array(j)) {   /* as a member of an object, and alone */
            json_t *o = json_pack("{s:O}", "v", j);
            same_as_jansson(o);
            json_decref(o);
        } else {
            containers++;
        }
        same_as_jansson(j);
        json_decref(j);
    }
    assert_true(containers > 2000);
}

static void answer_shape(void **state)
{
    (void)state;
    static const char stored[] =
        "{\"tss_id\":\"32c420bd-7d15-42e6-92fc-5bbf66319ead\",\"number\":1,\"state\":\"FINISHED\",\"revision\":2,"
        "\"time_start\":1796156106,\"schema\":{\"standard_v1\":{\"receipt\":{\"receipt_type\":\"RECEIPT\","
        "\"amounts_per_vat_rate\":[{\"vat_rate\":\"NORMAL\",\"amount\":\"21.42\"}],\"amounts_per_payment_type\":[]}}},"
        "\"metadata\":{},\"process_data\":\"QmVsZWdeMjEuNDJfMC4wMF8wLjAw\",\"_env\":\"TEST\",\"log\":{\"operation\":"
        "\"finishTransaction\",\"timestamp\":1796156106},\"signature\":{\"value\":\"qlBlqMO/JxdBJULalUjJ==\","
        "\"counter\":31},\"qr_code_data\":\"V0;DEMO-KASSE-01;Kassenbeleg-V1;Beleg^21.42_0.00:Bar;1;31\"}";
    json_t *j = json_loads(stored, 0, NULL);
    assert_non_null(j);
    same_as_jansson(j);
    char *text = json_text(j);
    assert_string_equal(text, stored);   /* members in their order, nothing between them */
    free(text);
    json_decref(j);
}

static void refused_as_jansson(void **state)
{
    (void)state;
    json_t *s = json_string("x");
    assert_null(json_text(s));
    json_decref(s);
    assert_null(json_text(NULL));
    json_t *a = json_array();
    assert_int_not_equal(json_array_append(a, a), 0);   /* jansson makes no such cycle */
    same_as_jansson(a);
    json_t *o = json_object(), *inner = json_object();
    json_object_set(o, "inner", inner);
    json_object_set(inner, "outer", o);   /* a cycle: json_dumps gives NULL */
    same_as_jansson(o);
    assert_null(json_text(o));
    json_object_del(inner, "outer");
    json_decref(inner);
    json_decref(o);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_values),
        cmocka_unit_test(answer_shape),
        cmocka_unit_test(refused_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
