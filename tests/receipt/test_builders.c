/*
 * test_builders.c - Kassenbeleg-V1 and Bestellung-V1 processData against the
 * DSFinV-K examples (Anhang I), the checker against hand-written wrong
 * strings, and every refusal of invalid input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "receipt/receipt.h"

/* DSFinV-K Anhang I, example of a receipt in several currencies. */
#define DSFINVK_EXAMPLE "Beleg^75.33_7.99_0.00_0.00_0.00^10.00:Bar_5.00:Bar:CHF_5.00:Bar:USD_64.30:Unbar"

static void kassenbeleg_dsfinvk_example(void **state)
{
    (void)state;
    /* given in a scrambled order, with one payment split in two and a zero one */
    receipt_payment pays[] = {
        {.cents = 6430, .non_cash = true},
        {.cents = 500, .currency = "USD"},
        {.cents = 700, .currency = "EUR"},
        {.cents = 500, .currency = "CHF"},
        {.cents = 300},
        {.cents = 0, .non_cash = true, .currency = "GBP"},
    };
    receipt_kassenbeleg k = {.vorgangstyp = "Beleg", .gross = {7533, 799, 0, 0, 0}, .payments = pays,
                             .n_payments = 6};
    tse_error err = {0};
    char *pd = receipt_kassenbeleg_build(&k, &err);
    assert_non_null(pd);
    assert_string_equal(pd, DSFINVK_EXAMPLE);
    assert_true(receipt_kassenbeleg_check(pd, strlen(pd), &err));
    free(pd);
}

static void kassenbeleg_negative_and_empty(void **state)
{
    (void)state;
    receipt_payment pays[] = {{.cents = -1999}, {.cents = 5, .non_cash = true}, {.cents = -5, .non_cash = true}};
    receipt_kassenbeleg k = {.vorgangstyp = "AVBelegstorno", .gross = {-1999, 0, 0, 0, -1}, .payments = pays,
                             .n_payments = 3};
    tse_error err = {0};
    char *pd = receipt_kassenbeleg_build(&k, &err);
    assert_string_equal(pd, "AVBelegstorno^-19.99_0.00_0.00_0.00_-0.01^-19.99:Bar");
    assert_true(receipt_kassenbeleg_check(pd, strlen(pd), &err));
    free(pd);
    receipt_kassenbeleg none = {.vorgangstyp = "AVTraining"};
    pd = receipt_kassenbeleg_build(&none, &err);
    assert_string_equal(pd, "AVTraining^0.00_0.00_0.00_0.00_0.00^");
    assert_true(receipt_kassenbeleg_check(pd, strlen(pd), &err));
    free(pd);
}

static void kassenbeleg_refusals(void **state)
{
    (void)state;
    tse_error err = {0};
    receipt_kassenbeleg k = {.vorgangstyp = "Quittung"};
    assert_null(receipt_kassenbeleg_build(&k, &err));
    assert_non_null(strstr(err.message, "unknown Vorgangstyp 'Quittung'"));

    k.vorgangstyp = "Beleg";
    k.gross[TSE_RECEIPT_VAT_REDUCED] = RECEIPT_MAX_CENTS + 1;
    assert_null(receipt_kassenbeleg_build(&k, &err));
    assert_non_null(strstr(err.message, "REDUCED"));
    k.gross[TSE_RECEIPT_VAT_REDUCED] = 0;

    const char *bad_currencies[] = {"eur", "EU", "EURO", "E1R", ""};
    for (size_t i = 0; i < sizeof bad_currencies / sizeof *bad_currencies; i++) {
        receipt_payment p = {.cents = 100, .currency = bad_currencies[i]};
        k.payments = &p;
        k.n_payments = 1;
        err.message[0] = 0;
        assert_null(receipt_kassenbeleg_build(&k, &err));
        assert_non_null(strstr(err.message, "ISO 4217"));
    }
    /* a sum that overflows the limit although each payment fits */
    receipt_payment two[] = {{.cents = RECEIPT_MAX_CENTS}, {.cents = 1}};
    k.payments = two;
    k.n_payments = 2;
    assert_null(receipt_kassenbeleg_build(&k, &err));
    assert_non_null(strstr(err.message, "out of range"));
    k.payments = NULL;
    assert_null(receipt_kassenbeleg_build(&k, &err));
    assert_null(receipt_kassenbeleg_build(NULL, &err));
}

static void kassenbeleg_checker(void **state)
{
    (void)state;
    static const struct { const char *pd; const char *why; } bad[] = {
        {"Bon^1.00_0.00_0.00_0.00_0.00^1.00:Bar", "unknown Vorgangstyp"},
        {"Beleg^1.00_0.00_0.00_0.00^1.00:Bar", "fewer than five"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00_0.00^1.00:Bar", "more than five"},
        {"Beleg^1.0_0.00_0.00_0.00_0.00^1.00:Bar", "two decimals"},
        {"Beleg^1,00_0.00_0.00_0.00_0.00^1.00:Bar", "two decimals"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Unbar_1.00:Bar", "out of order"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar:USD_1.00:Bar", "out of order"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar:USD_1.00:Bar:CHF", "out of order"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar_2.00:Bar", "twice"},
        {"Beleg^01.00_0.00_0.00_0.00_0.00^1.00:Bar", "two decimals"},
        {"Beleg^-0.00_0.00_0.00_0.00_0.00^1.00:Bar", "two decimals"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^00.50:Bar", "two decimals"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^0.00:Bar", "zero payments"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Karte", "neither Bar nor Unbar"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00", "neither Bar nor Unbar"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar:EUR", "EUR is not written out"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar:usd", "three capital letters"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar:", "three capital letters"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar:USD:x", "more than three"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar^x", "more than three '^'"},
        {"Beleg^1.00_0.00_0.00_0.00_0.00", "missing '^' after the amounts"},
        {"Beleg", "missing '^' after the Vorgangstyp"},
    };
    tse_error err = {0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.message[0] = 0;
        if (receipt_kassenbeleg_check(bad[i].pd, strlen(bad[i].pd), &err) ||
            !strstr(err.message, bad[i].why))
            fail_msg("'%s' should fail with '%s', got '%s'", bad[i].pd, bad[i].why, err);
    }
    assert_true(receipt_kassenbeleg_check(DSFINVK_EXAMPLE, strlen(DSFINVK_EXAMPLE), &err));
    /* the fixture receipt's processData */
    const char *fx = "Beleg^21.42_0.00_0.00_0.00_0.00^21.42:Unbar";
    assert_true(receipt_kassenbeleg_check(fx, strlen(fx), &err));
}

/* Random texts: the checker never crashes, and whatever it accepts the
 * builder writes the same way (parsed back by hand here). */
static void checker_garbage(void **state)
{
    (void)state;
    static const char alphabet[] = "Beleg^_:.-0123456789BarUnbarEURCHFUSD";
    unsigned seed = 4711;
    char buf[96];
    size_t accepted = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % 40;
        /* mostly a valid head, then random payments */
        size_t head = (size_t)snprintf(buf, sizeof buf, "Beleg^1.00_0.00_0.00_0.00_0.00^");
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[head + k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        buf[head + n] = 0;
        if (!receipt_kassenbeleg_check(buf, head + n, NULL))
            continue;
        accepted++;
        /* rebuild the accepted payments with the builder */
        receipt_payment pays[16];
        char cur[16][4];
        size_t np = 0;
        for (char *p = buf + head; *p && np < 16;) {
            char *end = p + strcspn(p, "_");
            char save = *end;
            *end = 0;
            double amount = strtod(p, NULL);
            pays[np].cents = (int64_t)(amount * 100 + (amount < 0 ? -0.5 : 0.5));
            pays[np].non_cash = strstr(p, ":Unbar") != NULL;
            const char *c = strrchr(p, ':');
            pays[np].currency = NULL;
            if (c && strcmp(c, ":Bar") && strcmp(c, ":Unbar")) {
                memcpy(cur[np], c + 1, 4);
                pays[np].currency = cur[np];
            }
            np++;
            *end = save;
            p = save ? end + 1 : end;
        }
        receipt_kassenbeleg k = {.vorgangstyp = "Beleg", .gross = {100}, .payments = pays, .n_payments = np};
        char *again = receipt_kassenbeleg_build(&k, NULL);
        assert_non_null(again);
        assert_string_equal(again, buf);
        free(again);
    }
    assert_true(accepted > 10);
}

static void amounts(void **state)
{
    (void)state;
    int64_t c;
    assert_true(receipt_amount_parse("12.3", &c));
    assert_int_equal(c, 1230);
    assert_true(receipt_amount_parse("-4.50", &c));
    assert_int_equal(c, -450);
    assert_true(receipt_amount_parse("7", &c));
    assert_int_equal(c, 700);
    assert_true(receipt_amount_parse("1000000000000.00", &c));
    assert_int_equal(c, RECEIPT_MAX_CENTS);
    const char *bad[] = {"", "-", ".5", "1.", "1.234", "1,50", "+1", "1e3", " 1", "1 ", "10000000000000", "0x10",
                         "1.0.0", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (receipt_amount_parse(bad[i], &c))
            fail_msg("amount '%s' accepted", bad[i]);
    assert_false(receipt_amount_parse(NULL, &c));
    char out[32];
    receipt_amount_format(-5, out, sizeof out);
    assert_string_equal(out, "-0.05");
    receipt_amount_format(RECEIPT_MAX_CENTS, out, sizeof out);
    assert_string_equal(out, "1000000000000.00");
}

static void api_names(void **state)
{
    (void)state;
    assert_string_equal(receipt_vorgangstyp_from_api("RECEIPT"), "Beleg");
    assert_string_equal(receipt_vorgangstyp_from_api("BENEFIT_IN_KIND"), "AVSachbezug");
    assert_null(receipt_vorgangstyp_from_api("receipt"));
    assert_null(receipt_vorgangstyp_from_api(NULL));
    assert_int_equal(receipt_vat_from_api("NORMAL"), TSE_RECEIPT_VAT_NORMAL);
    assert_int_equal(receipt_vat_from_api("NULL"), TSE_RECEIPT_VAT_ZERO);
    assert_int_equal(receipt_vat_from_api("SPECIAL_RATE_2"), TSE_RECEIPT_VAT_AVERAGE_1);
    /* percentages, as registers send them */
    assert_int_equal(receipt_vat_from_api("19"), TSE_RECEIPT_VAT_NORMAL);
    assert_int_equal(receipt_vat_from_api("19.00"), TSE_RECEIPT_VAT_NORMAL);
    assert_int_equal(receipt_vat_from_api("7"), TSE_RECEIPT_VAT_REDUCED);
    assert_int_equal(receipt_vat_from_api("10.7"), TSE_RECEIPT_VAT_AVERAGE_3);
    assert_int_equal(receipt_vat_from_api("7.8"), TSE_RECEIPT_VAT_AVERAGE_3);
    assert_int_equal(receipt_vat_from_api("5.5"), TSE_RECEIPT_VAT_AVERAGE_1);
    assert_int_equal(receipt_vat_from_api("0"), TSE_RECEIPT_VAT_ZERO);
    assert_int_equal(receipt_vat_from_api("0.0"), TSE_RECEIPT_VAT_ZERO);
    const char *bad_rates[] = {"20", "-19", "19.001", "19%", " 19", "1 9", "", "7.", ".7", "normal"};
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++)
        assert_int_equal(receipt_vat_from_api(bad_rates[i]), -1);
    /* amounts with up to five places, rounded half away from zero */
    int64_t c;
    const struct {
        const char *in;
        int64_t cents;
    } rounded[] = {{"12.34000", 1234}, {"12.345", 1235}, {"12.34499", 1234}, {"-12.345", -1235},
                   {"0.00499", 0},     {"0.005", 1},     {"-0.005", -1},     {"7", 700},
                   {"19.99999", 2000}, {"1000000000000.00", 100000000000000LL}, {"11.9000000", 1190},
                   {"-0.00500000", -1}};
    for (size_t i = 0; i < sizeof rounded / sizeof rounded[0]; i++) {
        assert_true(receipt_amount_parse_rounded(rounded[i].in, &c));
        assert_int_equal(c, rounded[i].cents);
    }
    const char *bad_amounts[] = {"12.345678", "1.000001", "1.0000010", "1e3", "12,34", "", "-", "1000000000000.01", "999999999999.999995"};
    for (size_t i = 0; i < sizeof bad_amounts / sizeof bad_amounts[0]; i++)
        assert_false(receipt_amount_parse_rounded(bad_amounts[i], &c));
    int64_t q;
    assert_true(receipt_quantity_parse("1.5", &q));
    assert_int_equal(q, 1500);
    assert_true(receipt_quantity_parse("-2", &q));
    assert_int_equal(q, -2000);
    assert_false(receipt_quantity_parse("1.2345", &q));
    assert_int_equal(receipt_payment_type_from_api("NON_CASH"), 1);
    assert_int_equal(receipt_payment_type_from_api("CASH"), 0);
    assert_int_equal(receipt_payment_type_from_api("CARD"), -1);
}

static void bestellung(void **state)
{
    (void)state;
    /* DSFinV-K Anhang I: quotes in names are doubled */
    receipt_item items[] = {
        {.quantity_milli = 1000, .name = "Eisbecher \"Himbeere\"", .unit_price = 399},
        {.quantity_milli = 2500, .name = "Kaffee; gro\xc3\x9f", .unit_price = 299},
        {.quantity_milli = -1000, .name = "Pfand", .unit_price = -25},
    };
    tse_error err = {0};
    char *pd = receipt_bestellung_build(items, 3, &err);
    assert_non_null(pd);
    assert_string_equal(pd, "1;\"Eisbecher \"\"Himbeere\"\"\";3.99\r2.5;\"Kaffee; gro\xc3\x9f\";2.99\r-1;\"Pfand\";-0.25");
    free(pd);

    const struct { receipt_item it; const char *why; } bad[] = {
        {{.quantity_milli = 1000, .name = ""}, "empty name"},
        {{.quantity_milli = 1000, .name = NULL}, "empty name"},
        {{.quantity_milli = 1000, .name = "two\rlines"}, "control characters"},
        {{.quantity_milli = 1000, .name = "tab\there"}, "control characters"},
        {{.quantity_milli = 1000, .name = "latin1 \xe4"}, "UTF-8"},
        {{.quantity_milli = 1000, .name = "overlong \xc0\xaf"}, "UTF-8"},
        {{.quantity_milli = 1000, .name = "surrogate \xed\xa0\x80"}, "UTF-8"},
        {{.quantity_milli = 0, .name = "x"}, "quantity"},
        {{.quantity_milli = 1000, .name = "x", .unit_price = RECEIPT_MAX_CENTS + 1}, "unit price"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        receipt_item two[2] = {items[0], bad[i].it};
        err.message[0] = 0;
        assert_null(receipt_bestellung_build(two, 2, &err));
        if (!strstr(err.message, bad[i].why) || !strstr(err.message, "item 1"))
            fail_msg("case %zu: expected '%s', got '%s'", i, bad[i].why, err);
    }
    assert_null(receipt_bestellung_build(items, 0, &err));
    assert_non_null(strstr(err.message, "no items"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kassenbeleg_dsfinvk_example),
        cmocka_unit_test(kassenbeleg_negative_and_empty),
        cmocka_unit_test(kassenbeleg_refusals),
        cmocka_unit_test(kassenbeleg_checker),
        cmocka_unit_test(checker_garbage),
        cmocka_unit_test(amounts),
        cmocka_unit_test(api_names),
        cmocka_unit_test(bestellung),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
