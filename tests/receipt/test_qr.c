/*
 * test_qr.c - the receipt QR code: a real vendor's receipt verifies and a
 * changed one does not; receipts of our own TSEs (several curves) verify with
 * our code and with the `openssl` command line over the rebuilt Finish log;
 * parse errors; PNG and SVG images decoded back by zbarimg.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/logmsg.h"
#include "helpers.h"
#include "ready_tse.h"
#include "rtest.h"
#include "receipt/receipt.h"

/* Replaces the first occurrence of `from` in s by `to` (same length). */
static void replace(char *s, const char *from, const char *to)
{
    char *p = strstr(s, from);
    assert_non_null(p);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(p, to, strlen(to));
}

/* `qr` with `from` replaced by `to` does not verify. */
static void changed_fails(const char *qr, const char *from, const char *to)
{
    char *changed = strdup(qr);
    replace(changed, from, to);
    assert_int_equal(receipt_qr_verify(changed, NULL, NULL), RECEIPT_QR_BAD_SIGNATURE);
    free(changed);
}

static void fixture_verifies(void **state)
{
    (void)state;
    char *qr = rt_fixture_qr();
    tse_error err = {0};
    receipt_qr_check chk;
    assert_int_equal(receipt_qr_verify(qr, &chk, &err), RECEIPT_QR_VALID);
    assert_string_equal(chk.curve, tse_curve_name(TSE_CURVE_P256));

    receipt_qr_parsed p;
    assert_true(receipt_qr_parse(qr, &p, &err));
    assert_string_equal(p.q.client_id, "ERS 8cb8e2de-4052-481b-945b-118022951944");
    assert_string_equal(p.q.process_type, "Kassenbeleg-V1");
    assert_int_equal(p.q.process_data_len, strlen("Beleg^21.42_0.00_0.00_0.00_0.00^21.42:Unbar"));
    assert_int_equal(p.q.transaction_number, 1);
    assert_int_equal(p.q.signature_counter, 31);
    assert_int_equal(p.q.finish_time - p.q.start_time, 6);
    assert_int_equal(p.q.signature_len, 64);
    assert_int_equal(p.q.public_key_len, 65);
    /* the serial is SHA-256 of the key */
    uint8_t serial[32];
    csp_serial(p.q.public_key, p.q.public_key_len, serial);
    assert_memory_equal(serial, chk.serial, 32);

    /* the signature also verifies with openssl over the bytes we rebuilt */
    size_t tbs_len;
    uint8_t *tbs = receipt_qr_signed_bytes(&p.q, &tbs_len, &err);
    assert_non_null(tbs);
    assert_int_equal(th_openssl_verify(TSE_CURVE_P256, TSE_HASH_SHA256, p.q.public_key, p.q.public_key_len, tbs,
                                       tbs_len, p.q.signature, p.q.signature_len), 0);
    free(tbs);
    receipt_qr_parsed_free(&p);

    /* our own QR string from the parsed fields is the original text */
    assert_true(receipt_qr_parse(qr, &p, &err));
    char *again = receipt_qr_string(&p.q, &err);
    assert_string_equal(again, qr);
    free(again);
    receipt_qr_parsed_free(&p);
    free(qr);
}

static void fixture_changed_fails(void **state)
{
    (void)state;
    static const char *const changes[][2] = {
        {"^21.42_0.00", "^21.43_0.00"},      /* an amount */
        {"21.42:Unbar", "21.42:Bar__"},      /* payment type, same length */
        {";1;31;", ";2;31;"},                /* transaction number */
        {";1;31;", ";1;32;"},                /* signature counter */
        {"14:36:33.000Z", "14:36:34.000Z"},  /* finish time */
        {"ERS 8cb8", "ERS 8cb9"},            /* client id */
        {"Kassenbeleg-V1", "Kassenbeleg-V2"},/* process type */
        {"TGnWiq3ZW7", "TGnWiq3ZW8"},       /* signature */
    };
    for (size_t i = 0; i < sizeof changes / sizeof *changes; i++) {
        char *qr = rt_fixture_qr();
        replace(qr, changes[i][0], changes[i][1]);
        tse_error err = {0};
        receipt_qr_result r = receipt_qr_verify(qr, NULL, &err);
        if (r != RECEIPT_QR_BAD_SIGNATURE)
            fail_msg("change %zu (%s) gave %d: %s", i, changes[i][1], (int)r, err);
        assert_non_null(strstr(err.message, "does not verify"));
        free(qr);
    }
    /* the start time is not signed by the Finish log: changing it keeps the
     * signature valid (it is the Start log's, a separate message) */
    char *qr = rt_fixture_qr();
    replace(qr, "14:36:27.000Z", "14:36:28.000Z");
    assert_int_equal(receipt_qr_verify(qr, NULL, NULL), RECEIPT_QR_VALID);
    free(qr);
}

/* Every single-character change outside the start time (which the Finish
 * log does not sign) makes the code invalid: no field is read leniently. */
static void every_change_fails(void **state)
{
    (void)state;
    char *qr = rt_fixture_qr();
    const char *start = strstr(qr, ";2021-08-23T14:36:27.000Z;") + 1;
    size_t n = strlen(qr), tried = 0;
    for (size_t i = 0; i < n; i++) {
        if (qr + i >= start && qr + i < start + 24)
            continue;
        char orig = qr[i];
        /* a different character of the same kind, and a separator */
        char subst[2] = {orig >= '0' && orig <= '8' ? orig + 1 : orig == '9' ? '0'
                         : orig >= 'a' && orig < 'z' ? orig + 1 : orig >= 'A' && orig < 'Z' ? orig + 1 : 'A',
                         orig == ';' ? '_' : ';'};
        for (int k = 0; k < 2; k++) {
            qr[i] = subst[k];
            tse_error err = {0};
            if (receipt_qr_verify(qr, NULL, &err) == RECEIPT_QR_VALID)
                fail_msg("accepted with '%c' for '%c' at %zu: %s", subst[k], orig, i, qr);
            tried++;
        }
        qr[i] = orig;
    }
    assert_int_equal(receipt_qr_verify(qr, NULL, NULL), RECEIPT_QR_VALID);
    assert_true(tried > 600);
    /* milliseconds in the finish time are not what was signed */
    char *p = strstr(qr, "14:36:33.000Z");
    p[11] = '1';
    tse_error err = {0};
    assert_int_equal(receipt_qr_verify(qr, NULL, &err), RECEIPT_QR_BAD_SIGNATURE);
    assert_non_null(strstr(err.message, "milliseconds"));
    free(qr);
}

/* Random texts from the QR alphabet and every prefix of the fixture: no
 * crash (the sanitizer build watches), never valid. */
static void garbage(void **state)
{
    (void)state;
    static const char alphabet[] = "V0;;;;:^_.-+/=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789T Z";
    unsigned seed = 12345;
    char buf[512];
    for (int i = 0; i < 3000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % (sizeof buf - 1);
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        buf[n] = 0;
        if (i % 2)
            memcpy(buf, "V0;", n >= 3 ? 3 : n);
        assert_int_not_equal(receipt_qr_verify(buf, NULL, NULL), RECEIPT_QR_VALID);
    }
    char *qr = rt_fixture_qr();
    for (size_t n = strlen(qr); n-- > 0;) {
        qr[n] = 0;
        assert_int_not_equal(receipt_qr_verify(qr, NULL, NULL), RECEIPT_QR_VALID);
    }
    free(qr);
}

static void malformed(void **state)
{
    (void)state;
    char *good = rt_fixture_qr();
    static const struct { const char *from, *to, *why; } cases[] = {
        {"V0;", "V1;", "version V0"},
        {";unixTime;", ";unixtime;", "time format"},
        {"2021-08-23T14:36:33.000Z", "2021-08-23 14:36:33.000Z", "finish time"},
        {"2021-08-23T14:36:27.000Z", "2021-02-30T14:36:27.000Z", "start time"},
        {";1;31;", ";x;31;", "transaction number"},
        {";1;31;", ";1;-1;", "signature counter"},
        {"==;BGFK", "=*;BGFK", "signature is not base64"},
        {"ecdsa-plain-SHA256", "ecsdsa-plain-SHA25", "not supported"},
    };
    tse_error err = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *qr = strdup(good);
        replace(qr, cases[i].from, cases[i].to);
        err.message[0] = 0;
        receipt_qr_result r = receipt_qr_verify(qr, NULL, &err);
        if ((r != RECEIPT_QR_MALFORMED && r != RECEIPT_QR_UNSUPPORTED) || !strstr(err.message, cases[i].why))
            fail_msg("case %zu: result %d, '%s' (want '%s')", i, (int)r, err, cases[i].why);
        free(qr);
    }
    /* too few fields, empty, the key not on any curve */
    assert_int_equal(receipt_qr_verify("V0;a;b;c", NULL, &err), RECEIPT_QR_MALFORMED);
    assert_non_null(strstr(err.message, "12"));
    assert_int_equal(receipt_qr_verify("", NULL, &err), RECEIPT_QR_MALFORMED);
    assert_int_equal(receipt_qr_verify(NULL, NULL, &err), RECEIPT_QR_MALFORMED);
    char *qr = strdup(good);
    replace(qr, ";BGFKQP7E", ";BGFKQP7F");
    assert_int_equal(receipt_qr_verify(qr, NULL, &err), RECEIPT_QR_MALFORMED);
    assert_non_null(strstr(err.message, "not an uncompressed point"));
    free(qr);
    free(good);
}

/* A receipt of our own TSE on `curve`: finish a transaction, build the QR
 * string, verify it with our code and the Finish log with openssl. */
static void own_receipt(tse_curve curve, tse_time_format tf)
{
    tse_create_options o = {.curve = curve, .time_format = tf};
    tse *t = ready_tse("qr", &o, NULL);
    tse_result st, fin;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &st), TSE_OK);
    receipt_payment pays[] = {{.cents = 1000}, {.cents = 1190, .non_cash = true}, {.cents = 500, .currency = "CHF"}};
    receipt_kassenbeleg k = {.vorgangstyp = "Beleg", .gross = {2190, 500}, .payments = pays, .n_payments = 3};
    tse_error err = {0};
    char *pd = receipt_kassenbeleg_build(&k, &err);
    assert_non_null(pd);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)pd,
                                            strlen(pd), "Kassenbeleg-V1", NULL, 0, &fin), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint8_t *point;
    size_t point_len;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    char *qr = receipt_qr_from_result(&fin, READY_CLIENT, "Kassenbeleg-V1", (const uint8_t *)pd, strlen(pd),
                                      info.signature_algorithm, info.time_format, point, point_len, &err);
    assert_non_null(qr);
    receipt_qr_check chk;
    if (receipt_qr_verify(qr, &chk, &err) != RECEIPT_QR_VALID)
        fail_msg("%s: %s\n%s", tse_curve_name(curve), err, qr);
    assert_string_equal(chk.curve, tse_curve_name(curve));
    assert_memory_equal(chk.serial, info.serial_number, 32);
    assert_non_null(strstr(qr, pd));

    /* the rebuilt signed bytes are those of the stored Finish log */
    receipt_qr_parsed p;
    assert_true(receipt_qr_parse(qr, &p, &err));
    assert_int_equal(p.q.start_time, st.log_time);
    p.q.log_version = 3;   /* the TSE's log format, which the code does not carry */
    size_t tbs_len;
    uint8_t *tbs = receipt_qr_signed_bytes(&p.q, &tbs_len, &err);
    assert_non_null(tbs);
    uint8_t *msg;
    size_t msg_len;
    assert_int_equal(tse_read_log_by_counter(t, fin.signature_counter, &msg, &msg_len), TSE_OK);
    logmsg m;
    assert_true(logmsg_parse(msg, msg_len, &m, &err));
    assert_int_equal(m.signed_bytes.n, tbs_len);
    assert_memory_equal(m.signed_bytes.p, tbs, tbs_len);
    assert_int_equal(th_openssl_verify(curve, info.hash, point, point_len, tbs, tbs_len, p.q.signature,
                                       p.q.signature_len), 0);
    /* and openssl rejects it once an amount is changed */
    for (size_t i = 0; i + 5 <= tbs_len; i++)
        if (memcmp(tbs + i, "21.90", 5) == 0) {
            tbs[i + 4] = '1';
            break;
        }
    assert_int_equal(th_openssl_verify(curve, info.hash, point, point_len, tbs, tbs_len, p.q.signature,
                                       p.q.signature_len), 1);
    free(tbs);
    tse_free(msg);
    receipt_qr_parsed_free(&p);

    /* DSFinV-K names YYMMDDhhmmssZ utcTimeWithSeconds; plain utcTime is read as the same */
    if (tf == TSE_TIME_UTC) {
        char *named = strstr(qr, ";utcTimeWithSeconds;");
        assert_non_null(named);
        char *alias;
        assert_true(asprintf(&alias, "%.*s;utcTime;%s", (int)(named - qr), qr, named + 20) > 0);
        assert_int_equal(receipt_qr_verify(alias, NULL, &err), RECEIPT_QR_VALID);
        free(alias);
    }
    changed_fails(qr, "21.90_5.00", "21.91_5.00");
    free(qr);
    free(pd);
    tse_free(point);
    tse_close(t);
}

static void own_p256(void **state) { (void)state; own_receipt(TSE_CURVE_P256, TSE_TIME_UNIX); }
static void own_bp256_utc(void **state) { (void)state; own_receipt(TSE_CURVE_BRAINPOOL_P256R1, TSE_TIME_UTC); }
static void own_p384_gen(void **state) { (void)state; own_receipt(TSE_CURVE_P384, TSE_TIME_GENERALIZED); }

/* With an unsigned update the finish signs the kept data in an update log
 * of its own first (TR-03151-1 3.7.1.4): the Finish log holds the finish
 * call's data alone, so the QR code made from the call's result is the one
 * made from the stored log, and both verify. */
static void from_log_after_unsigned_update(void **state)
{
    (void)state;
    tse *t = ready_tse("qr-log", NULL, NULL);
    tse_result st, up, fin;
    const char *first = "Beleg^1.00_0.00_", *rest = "0.00_0.00_0.00^1.00:Bar";
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &st), TSE_OK);
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)first,
                                            strlen(first), "Kassenbeleg-V1", TSE_UPDATE_UNSIGNED, &up), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)rest,
                                            strlen(rest), "Kassenbeleg-V1", NULL, 0, &fin), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint8_t *point, *msg;
    size_t point_len, len;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    assert_int_equal(tse_read_log_by_counter(t, fin.signature_counter, &msg, &len), TSE_OK);
    tse_error err = {0};
    char *qr = receipt_qr_from_log(msg, len, fin.start_time, point, point_len, &err);
    assert_non_null(qr);
    assert_non_null(strstr(qr, ";0.00_0.00_0.00^1.00:Bar;"));
    assert_null(strstr(qr, first));
    assert_int_equal(receipt_qr_verify(qr, NULL, &err), RECEIPT_QR_VALID);
    char *answer = receipt_qr_from_result(&fin, READY_CLIENT, "Kassenbeleg-V1", (const uint8_t *)rest,
                                          strlen(rest), info.signature_algorithm, info.time_format, point,
                                          point_len, &err);
    assert_int_equal(receipt_qr_verify(answer, NULL, &err), RECEIPT_QR_VALID);
    assert_string_equal(answer, qr);
    free(answer);
    free(qr);

    /* refusals: another key, a Start log, not a log */
    uint8_t other[65];
    memcpy(other, point, 65);
    other[64] ^= 1;
    assert_null(receipt_qr_from_log(msg, len, fin.start_time, other, 65, &err));
    assert_non_null(strstr(err.message, "not the one that signed"));
    tse_free(msg);
    assert_int_equal(tse_read_log_by_counter(t, st.signature_counter, &msg, &len), TSE_OK);
    assert_null(receipt_qr_from_log(msg, len, fin.start_time, point, point_len, &err));
    assert_non_null(strstr(err.message, "not a FinishTransaction log"));
    assert_null(receipt_qr_from_log(msg, len / 2, fin.start_time, point, point_len, &err));
    assert_non_null(strstr(err.message, "not a log message"));
    tse_free(msg);
    tse_free(point);
    tse_close(t);
}

/* A transaction without processType: the Finish log leaves the field out,
 * the QR code shows it empty, and verification finds the log. */
static void without_process_type(void **state)
{
    (void)state;
    tse_create_options v2 = {.log_format_version = 2};   /* version 3 writes processType always */
    tse *t = ready_tse("qr-notype", &v2, NULL);
    tse_result st, fin;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &st), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)"x", 1, NULL,
                                            NULL, 0, &fin), TSE_OK);
    uint8_t *point, *msg;
    size_t point_len, len;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    assert_int_equal(tse_read_log_by_counter(t, fin.signature_counter, &msg, &len), TSE_OK);
    logmsg m;
    tse_error err = {0};
    assert_true(logmsg_parse(msg, len, &m, &err));
    assert_false(m.has_process_type);
    char *qr = receipt_qr_from_log(msg, len, fin.start_time, point, point_len, &err);
    assert_non_null(qr);
    assert_non_null(strstr(qr, ";" READY_CLIENT ";;x;"));
    receipt_qr_check chk;
    assert_int_equal(receipt_qr_verify(qr, &chk, &err), RECEIPT_QR_VALID);
    assert_true(chk.process_type_omitted);
    /* and not with another processData */
    changed_fails(qr, ";;x;", ";;y;");
    free(qr);
    tse_free(msg);
    tse_free(point);
    tse_close(t);
}

static void string_refusals(void **state)
{
    (void)state;
    uint8_t sig[64] = {1}, key[65] = {4};
    receipt_qr q = {.client_id = "K1", .process_type = "Kassenbeleg-V1", .signature = sig, .signature_len = 64,
                    .public_key = key, .public_key_len = 65, .signature_algorithm = "ecdsa-plain-SHA256",
                    .start_time = 1, .finish_time = 2};
    tse_error err = {0};
    char *s = receipt_qr_string(&q, &err);
    assert_non_null(s);
    assert_non_null(strstr(s, ";1970-01-01T00:00:01.000Z;1970-01-01T00:00:02.000Z;ecdsa-plain-SHA256;unixTime;"));
    free(s);
    q.client_id = "K;1";
    assert_null(receipt_qr_string(&q, &err));
    assert_non_null(strstr(err.message, "';'"));
    q.client_id = "K1";
    q.signature_algorithm = "rsa";
    assert_null(receipt_qr_string(&q, &err));
    assert_non_null(strstr(err.message, "unknown signature algorithm"));
    q.signature_algorithm = "ecdsa-plain-SHA256";
    q.start_time = -5;
    assert_null(receipt_qr_string(&q, &err));
    q.start_time = 1;
    q.signature = NULL;
    assert_null(receipt_qr_string(&q, &err));
    assert_null(receipt_qr_from_result(NULL, "K1", "x", NULL, 0, "ecdsa-plain-SHA256", TSE_TIME_UNIX, key, 65, &err));
}

/* A receipt's code whose modules also read as a line barcode (zbarimg
 * finds an "I2/5" 349224 in its PNG when every symbology is on) decodes as
 * the QR code alone: the image holds nothing but the code. */
static void png_with_a_line_barcode_inside(void **state)
{
    (void)state;
    static const char qr[] =
        "V0;KASSE-01;Kassenbeleg-V1;Beleg^21.90_0.00_0.00_0.00_0.00^10.00:Bar_11.90:Unbar;1;10;"
        "2026-12-02T05:17:25.000Z;2026-12-02T05:17:25.000Z;ecdsa-plain-SHA256;unixTime;"
        "XPmUqrHkSpLezQVHYnJbV5+/c5IJWw27kWUADvYXe0KlHpVffLiPtPGdIRPDO669v+6STsKwetkgX8Jz7E9DVw==;"
        "BEW99qnxd99BKH4ZMjZfm5DAykbJ8A4vutVYKxnlLhhayEia2+1MQSZ9RoMRICTM0fq5/nQ14mcPqHUpnVbX/QU=";
    tse_error err = {0};
    uint8_t *png;
    size_t png_len;
    assert_int_equal(receipt_qr_png(qr, 3, &png, &png_len, &err), TSE_OK);
    char *path = th_path("qr-i25.png");
    rt_png_decodes(path, png, png_len, qr);
    free(path);
    free(png);
}

static void png_and_svg(void **state)
{
    (void)state;
    char *qr = rt_fixture_qr();
    tse_error err = {0};
    uint8_t *png;
    size_t png_len;
    assert_int_equal(receipt_qr_png(qr, 3, &png, &png_len, &err), TSE_OK);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_true(png_len > 100);
    assert_memory_equal(png, sig, 8);
    char *path = th_path("qr.png");
    rt_png_decodes(path, png, png_len, qr);
    /* file(1) reads the header independently */
    char *cmd;
    assert_true(asprintf(&cmd, "file -b '%s'", path) > 0);
    FILE *f = popen(cmd, "r");
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, f));
    pclose(f);
    free(cmd);
    assert_non_null(strstr(line, "PNG image data"));
    free(png);
    free(path);

    char *svg = receipt_qr_svg(qr, 4, &err);
    assert_non_null(svg);
    rt_svg_decodes(svg, qr);
    free(svg);

    assert_int_equal(receipt_qr_png("", 3, &png, &png_len, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(receipt_qr_png(qr, 0, &png, &png_len, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_null(receipt_qr_svg(qr, 65, &err));
    /* more than a QR code holds */
    char *huge = malloc(4000);
    memset(huge, 'A', 3999);
    huge[3999] = 0;
    assert_int_equal(receipt_qr_png(huge, 1, &png, &png_len, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "too long"));
    free(huge);
    free(qr);
}

static void tse_block(void **state)
{
    (void)state;
    char *qr = rt_fixture_qr();
    receipt_qr_parsed p;
    tse_error err = {0};
    assert_true(receipt_qr_parse(qr, &p, &err));
    char *b = receipt_tse_block(&p.q, NULL, &err);
    assert_non_null(b);
    assert_non_null(strstr(b, "Kassen-Seriennummer: ERS 8cb8e2de-4052-481b-945b-118022951944\n"));
    /* the TSE serial: SHA-256 of the public key, as the verification reports it */
    receipt_qr_check chk;
    assert_int_equal(receipt_qr_verify(qr, &chk, &err), RECEIPT_QR_VALID);
    char hex[65], line[128];
    tse_hex(chk.serial, 32, hex);
    snprintf(line, sizeof line, "TSE-Seriennummer: %s\n", hex);
    assert_non_null(strstr(b, line));
    assert_non_null(strstr(b, "TSE-Transaktion: 1\nTSE-Start: 2021-08-23T14:36:27.000Z\n"
                              "TSE-Ende: 2021-08-23T14:36:33.000Z\nTSE-Signaturzaehler: 31\n"));
    assert_non_null(strstr(b, "TSE-Signatur: TGnWiq3ZW7gi4Vs+DxLGsJZj9v271dHmhQAcb057F3oWkdKJ61UW2LLVTZQhW673yLa53Mm6oPeMU1Ns3ZOH7w==\n"));
    free(b);
    receipt_qr_parsed_free(&p);
    free(qr);

    b = receipt_tse_block(NULL, "cloud TSE unreachable since 10:02", &err);
    assert_string_equal(b, "TSE ausgefallen: cloud TSE unreachable since 10:02\n");
    free(b);
    b = receipt_tse_block(NULL, NULL, &err);
    assert_string_equal(b, "TSE ausgefallen\n");
    free(b);
    assert_null(receipt_tse_block(NULL, "two\nlines", &err));
    assert_non_null(strstr(err.message, "one line"));
    receipt_qr empty = {0};
    assert_null(receipt_tse_block(&empty, NULL, &err));
    assert_non_null(strstr(err.message, "incomplete"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_verifies),
        cmocka_unit_test(fixture_changed_fails),
        cmocka_unit_test(every_change_fails),
        cmocka_unit_test(garbage),
        cmocka_unit_test(malformed),
        cmocka_unit_test(own_p256),
        cmocka_unit_test(own_bp256_utc),
        cmocka_unit_test(own_p384_gen),
        cmocka_unit_test(from_log_after_unsigned_update),
        cmocka_unit_test(without_process_type),
        cmocka_unit_test(string_refusals),
        cmocka_unit_test(png_and_svg),
        cmocka_unit_test(png_with_a_line_barcode_inside),
        cmocka_unit_test(tse_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
