/*
 * test_public.c - the receipt functions of libopentse (<opentse/receipt.h>),
 * called through the shared library: processData equal to the DSFinV-K
 * examples, refusals as TSE_ERR_INVALID_ARGUMENT with a message naming the
 * problem, and receipts of a real embedded TSE whose QR code verifies with
 * tse_receipt_qr_verify and whose signature the `openssl` command line
 * checks over the stored Finish log; the PNG and SVG decode back (zbarimg).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "codec/logmsg.h"
#include "helpers.h"
#include "opentse/receipt.h"
#include "ready_tse.h"
#include "rtest.h"

/* `call` fails with `code`, a message containing `why`, and no output. */
#define REFUSED(call, out, code, why)                                                          \
    do {                                                                                       \
        (out) = (void *)1;                                                                     \
        assert_int_equal((call), (code));                                                      \
        assert_null(out);                                                                      \
        if (!strstr(tse_last_error_message(), (why)) ||                                        \
            strncmp(tse_last_error_message(), tse_errname(code), strlen(tse_errname(code))))   \
            fail_msg("expected %s '%s', got '%s'", tse_errname(code), (why), tse_last_error_message()); \
    } while (0)

static void kassenbeleg_example(void **state)
{
    (void)state;
    /* DSFinV-K Anhang I, several currencies; given scrambled, split and with a zero payment */
    tse_receipt_payment pays[] = {
        {.cents = 6430, .non_cash = true}, {.cents = 500, .currency = "USD"}, {.cents = 700, .currency = "EUR"},
        {.cents = 500, .currency = "CHF"}, {.cents = 300}, {.cents = 0, .non_cash = true, .currency = "GBP"},
    };
    tse_receipt_kassenbeleg k = {.vorgangstyp = "Beleg", .payments = pays, .n_payments = 6};
    k.gross[TSE_RECEIPT_VAT_NORMAL] = 7533;
    k.gross[TSE_RECEIPT_VAT_REDUCED] = 799;
    char *pd = NULL;
    assert_int_equal(tse_receipt_kassenbeleg_build(&k, &pd), TSE_OK);
    assert_string_equal(pd, "Beleg^75.33_7.99_0.00_0.00_0.00^10.00:Bar_5.00:Bar:CHF_5.00:Bar:USD_64.30:Unbar");
    tse_free(pd);

    tse_receipt_payment back = {.cents = -1999};
    tse_receipt_kassenbeleg storno = {.vorgangstyp = "AVBelegstorno", .payments = &back, .n_payments = 1};
    storno.gross[TSE_RECEIPT_VAT_NORMAL] = -1999;
    storno.gross[TSE_RECEIPT_VAT_ZERO] = -1;
    assert_int_equal(tse_receipt_kassenbeleg_build(&storno, &pd), TSE_OK);
    assert_string_equal(pd, "AVBelegstorno^-19.99_0.00_0.00_0.00_-0.01^-19.99:Bar");
    tse_free(pd);
}

static void bestellung_example(void **state)
{
    (void)state;
    tse_receipt_item items[] = {
        {.quantity_milli = 1000, .name = "Eisbecher \"Himbeere\"", .unit_price = 399},
        {.quantity_milli = 2500, .name = "Kaffee; gro\xc3\x9f", .unit_price = 299},
        {.quantity_milli = -1000, .name = "Pfand", .unit_price = -25},
    };
    char *pd = NULL;
    assert_int_equal(tse_receipt_bestellung_build(items, 3, &pd), TSE_OK);
    assert_string_equal(pd, "1;\"Eisbecher \"\"Himbeere\"\"\";3.99\r2.5;\"Kaffee; gro\xc3\x9f\";2.99\r-1;\"Pfand\";-0.25");
    tse_free(pd);
}

static void refusals(void **state)
{
    (void)state;
    char *s;
    uint8_t *png;
    size_t png_len;
    tse_receipt_kassenbeleg k = {.vorgangstyp = "Quittung"};
    REFUSED(tse_receipt_kassenbeleg_build(&k, &s), s, TSE_ERR_INVALID_ARGUMENT, "unknown Vorgangstyp 'Quittung'");
    k.vorgangstyp = "Beleg";
    k.gross[TSE_RECEIPT_VAT_AVERAGE_1] = TSE_RECEIPT_MAX_CENTS + 1;
    REFUSED(tse_receipt_kassenbeleg_build(&k, &s), s, TSE_ERR_INVALID_ARGUMENT, "AVERAGE_1 is out of range");
    k.gross[TSE_RECEIPT_VAT_AVERAGE_1] = 0;
    tse_receipt_payment euro = {.cents = 100, .currency = "eur"};
    k.payments = &euro;
    k.n_payments = 1;
    REFUSED(tse_receipt_kassenbeleg_build(&k, &s), s, TSE_ERR_INVALID_ARGUMENT, "ISO 4217");
    k.payments = NULL;
    REFUSED(tse_receipt_kassenbeleg_build(&k, &s), s, TSE_ERR_INVALID_ARGUMENT, "payments are missing");
    REFUSED(tse_receipt_kassenbeleg_build(NULL, &s), s, TSE_ERR_INVALID_ARGUMENT, "input");
    assert_int_equal(tse_receipt_kassenbeleg_build(&k, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tse_last_error_message(), "process_data is required"));

    tse_receipt_item items[] = {{.quantity_milli = 1000, .name = "Kaffee", .unit_price = 250},
                                {.quantity_milli = 1000, .name = "two\rlines", .unit_price = 100}};
    REFUSED(tse_receipt_bestellung_build(items, 2, &s), s, TSE_ERR_INVALID_ARGUMENT, "item 1");
    assert_non_null(strstr(tse_last_error_message(), "control characters"));
    items[1].name = "Tee";
    items[1].quantity_milli = 0;
    REFUSED(tse_receipt_bestellung_build(items, 2, &s), s, TSE_ERR_INVALID_ARGUMENT, "quantity");
    REFUSED(tse_receipt_bestellung_build(items, 0, &s), s, TSE_ERR_INVALID_ARGUMENT, "no items");

    /* QR images */
    REFUSED(tse_receipt_qr_png("", 3, &png, &png_len), png, TSE_ERR_INVALID_ARGUMENT, "empty text");
    REFUSED(tse_receipt_qr_svg("V0", 65, &s), s, TSE_ERR_INVALID_ARGUMENT, "scale outside 1..64");
    char *huge = malloc(4000);
    assert_non_null(huge);
    memset(huge, 'A', 3999);
    huge[3999] = 0;
    REFUSED(tse_receipt_qr_png(huge, 1, &png, &png_len), png, TSE_ERR_INVALID_ARGUMENT, "too long");
    free(huge);
    assert_int_equal(tse_receipt_qr_png("V0", 1, &png, NULL), TSE_ERR_INVALID_ARGUMENT);

    /* TSE block */
    REFUSED(tse_receipt_tse_block(NULL, "two\nlines", &s), s, TSE_ERR_INVALID_ARGUMENT, "one line");
    REFUSED(tse_receipt_tse_block("V0;a;b", NULL, &s), s, TSE_ERR_INVALID_ARGUMENT, "12 ';'-separated fields");

    /* verification */
    tse_receipt_qr_status st = TSE_RECEIPT_QR_VALID;
    assert_int_equal(tse_receipt_qr_verify("V0;a;b", &st), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(st, TSE_RECEIPT_QR_MALFORMED);
    assert_non_null(strstr(tse_last_error_message(), "12 ';'-separated fields"));
    assert_int_equal(tse_receipt_qr_verify(NULL, &st), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(st, TSE_RECEIPT_QR_MALFORMED);
    char *qr = rt_fixture_qr();
    char *p = strstr(qr, "ecdsa-plain-SHA256");
    assert_non_null(p);
    memcpy(p, "ecdsa-plain-SHA224", 18);
    assert_int_equal(tse_receipt_qr_verify(qr, &st), TSE_ERR_NOT_SUPPORTED);
    assert_int_equal(st, TSE_RECEIPT_QR_UNSUPPORTED);
    assert_non_null(strstr(tse_last_error_message(), "ecdsa-plain-SHA224"));
    free(qr);

    /* a QR code needs a TSE and a finish result */
    tse_result fin = {0};
    REFUSED(tse_receipt_qr_from_finish(NULL, &fin, "K", "Kassenbeleg-V1", NULL, 0, &s), s, TSE_ERR_INVALID_ARGUMENT,
            "no TSE handle");
    REFUSED(tse_receipt_qr_from_finish(NULL, NULL, "K", "Kassenbeleg-V1", NULL, 0, &s), s, TSE_ERR_INVALID_ARGUMENT,
            "no finish result");
}

/* The fixture's vendor receipt verifies; with one amount changed it does not. */
static void fixture(void **state)
{
    (void)state;
    char *qr = rt_fixture_qr();
    tse_receipt_qr_status st = TSE_RECEIPT_QR_MALFORMED;
    assert_int_equal(tse_receipt_qr_verify(qr, &st), TSE_OK);
    assert_int_equal(st, TSE_RECEIPT_QR_VALID);
    char *p = strstr(qr, "^21.42:Unbar");
    assert_non_null(p);
    p[4] = '3';
    assert_int_equal(tse_receipt_qr_verify(qr, &st), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(st, TSE_RECEIPT_QR_BAD_SIGNATURE);
    assert_non_null(strstr(tse_last_error_message(), "does not verify"));
    free(qr);
}

/* Field `i` (0-based) of a QR string, base64-decoded into a new buffer. */
static uint8_t *qr_field_bytes(const char *qr, int i, size_t *len)
{
    const char *s = qr;
    for (int k = 0; k < i; k++) {
        s = strchr(s, ';');
        assert_non_null(s);
        s++;
    }
    size_t n = strcspn(s, ";");
    uint8_t *out = malloc(n);
    assert_non_null(out);
    int m = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    assert_true(m > 0);
    *len = (size_t)m - (n >= 2 && s[n - 2] == '=' ? 2 : n >= 1 && s[n - 1] == '=' ? 1 : 0);
    return out;
}

/* The QR code `qr` of a finish on `t` carries the stored Finish log's
 * signature and the TSE's key, and openssl verifies that signature over the
 * log's signed bytes (and refuses it over changed bytes). */
static void openssl_checks(tse *t, const tse_result *fin, const char *qr)
{
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint8_t *point, *msg;
    size_t point_len, msg_len, sig_len, key_len;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    /* the last two fields (signature, key) follow the ten before them */
    uint8_t *sig = qr_field_bytes(qr, 10, &sig_len), *key = qr_field_bytes(qr, 11, &key_len);
    assert_int_equal(sig_len, fin->signature_len);
    assert_memory_equal(sig, fin->signature, sig_len);
    assert_int_equal(key_len, point_len);
    assert_memory_equal(key, point, key_len);
    assert_int_equal(tse_read_log_by_counter(t, fin->signature_counter, &msg, &msg_len), TSE_OK);
    logmsg m;
    tse_error err = {0};
    assert_true(logmsg_parse(msg, msg_len, &m, &err));
    assert_int_equal(th_openssl_verify(info.curve, info.hash, key, key_len, m.signed_bytes.p, m.signed_bytes.n, sig,
                                       sig_len), 0);
    uint8_t *changed = malloc(m.signed_bytes.n);
    assert_non_null(changed);
    memcpy(changed, m.signed_bytes.p, m.signed_bytes.n);
    changed[m.signed_bytes.n - 1] ^= 1;
    assert_int_equal(th_openssl_verify(info.curve, info.hash, key, key_len, changed, m.signed_bytes.n, sig, sig_len),
                     1);
    free(changed);
    free(sig);
    free(key);
    tse_free(msg);
    tse_free(point);
}

/* A sale on a real embedded TSE, all through the public API: processData,
 * finish, QR string, verification, openssl, PNG and SVG, printed block. */
static void own_receipt(void **state)
{
    (void)state;
    tse *t = ready_tse("public", NULL, NULL);
    tse_receipt_payment pays[] = {{.cents = 1000}, {.cents = 1190, .non_cash = true}};
    tse_receipt_kassenbeleg k = {.vorgangstyp = "Beleg", .gross = {2190}, .payments = pays, .n_payments = 2};
    char *pd = NULL;
    assert_int_equal(tse_receipt_kassenbeleg_build(&k, &pd), TSE_OK);
    tse_result st, fin;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &st), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)pd, strlen(pd),
                                            "Kassenbeleg-V1", NULL, 0, &fin), TSE_OK);
    char *qr = NULL;
    assert_int_equal(tse_receipt_qr_from_finish(t, &fin, READY_CLIENT, "Kassenbeleg-V1", (const uint8_t *)pd,
                                                strlen(pd), &qr), TSE_OK);
    char head[256];
    snprintf(head, sizeof head, "V0;" READY_CLIENT ";Kassenbeleg-V1;%s;%llu;%llu;", pd,
             (unsigned long long)fin.transaction_number, (unsigned long long)fin.signature_counter);
    assert_int_equal(strncmp(qr, head, strlen(head)), 0);
    assert_non_null(strstr(qr, ";ecdsa-plain-SHA256;unixTime;"));
    tse_receipt_qr_status status = TSE_RECEIPT_QR_MALFORMED;
    assert_int_equal(tse_receipt_qr_verify(qr, &status), TSE_OK);
    assert_int_equal(status, TSE_RECEIPT_QR_VALID);
    openssl_checks(t, &fin, qr);

    /* PNG and SVG decode back to the string */
    uint8_t *png = NULL;
    size_t png_len = 0;
    assert_int_equal(tse_receipt_qr_png(qr, 3, &png, &png_len), TSE_OK);
    char *path = th_path("public-qr.png");
    rt_png_decodes(path, png, png_len, qr);
    free(path);
    tse_free(png);
    char *svg = NULL;
    assert_int_equal(tse_receipt_qr_svg(qr, 4, &svg), TSE_OK);
    rt_svg_decodes(svg, qr);
    tse_free(svg);

    /* the printed block: register, TSE serial, numbers */
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    char serial[2 * TSE_SERIAL_LEN + 1], want[256];
    tse_hex(info.serial_number, TSE_SERIAL_LEN, serial);
    char *block = NULL;
    assert_int_equal(tse_receipt_tse_block(qr, NULL, &block), TSE_OK);
    snprintf(want, sizeof want, "Kassen-Seriennummer: " READY_CLIENT "\nTSE-Seriennummer: %s\nTSE-Transaktion: %llu\n",
             serial, (unsigned long long)fin.transaction_number);
    assert_int_equal(strncmp(block, want, strlen(want)), 0);
    snprintf(want, sizeof want, "TSE-Signaturzaehler: %llu\n", (unsigned long long)fin.signature_counter);
    assert_non_null(strstr(block, want));
    tse_free(block);
    assert_int_equal(tse_receipt_tse_block(NULL, "TSE nicht erreichbar", &block), TSE_OK);
    assert_string_equal(block, "TSE ausgefallen: TSE nicht erreichbar\n");
    tse_free(block);

    /* the QR code of another transaction's processData does not verify */
    char *forged = strdup(qr);
    char *amount = strstr(forged, "21.90");
    assert_non_null(amount);
    amount[4] = '1';
    assert_int_equal(tse_receipt_qr_verify(forged, &status), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(status, TSE_RECEIPT_QR_BAD_SIGNATURE);
    free(forged);
    tse_free(qr);
    tse_free(pd);
    tse_close(t);
}

/* After an unsigned update the finish signs the kept data in an update log
 * of its own first (TR-03151-1 3.7.1.4): the QR code, read from the stored
 * Finish log, holds the finish's data alone and verifies. */
static void after_unsigned_update(void **state)
{
    (void)state;
    tse_create_options o = {.curve = TSE_CURVE_BRAINPOOL_P256R1, .time_format = TSE_TIME_GENERALIZED};
    tse *t = ready_tse("public-upd", &o, NULL);
    const char *first = "Beleg^1.00_0.00_", *rest = "0.00_0.00_0.00^1.00:Bar";
    tse_result st, up, fin;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &st), TSE_OK);
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)first,
                                            strlen(first), "Kassenbeleg-V1", TSE_UPDATE_UNSIGNED, &up), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)rest,
                                            strlen(rest), "Kassenbeleg-V1", NULL, 0, &fin), TSE_OK);
    char *qr = NULL;
    assert_int_equal(tse_receipt_qr_from_finish(t, &fin, READY_CLIENT, "Kassenbeleg-V1", (const uint8_t *)rest,
                                                strlen(rest), &qr), TSE_OK);
    assert_non_null(strstr(qr, ";Kassenbeleg-V1;0.00_0.00_0.00^1.00:Bar;"));
    assert_null(strstr(qr, first));
    assert_non_null(strstr(qr, ";generalizedTime;"));
    assert_int_equal(tse_receipt_qr_verify(qr, NULL), TSE_OK);
    openssl_checks(t, &fin, qr);
    tse_free(qr);
    tse_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kassenbeleg_example),
        cmocka_unit_test(bestellung_example),
        cmocka_unit_test(refusals),
        cmocka_unit_test(fixture),
        cmocka_unit_test(own_receipt),
        cmocka_unit_test(after_unsigned_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
