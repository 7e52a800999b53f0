/*
 * test_cli.c - `opentse qr` and `opentse dsfinvk` run as a user runs them:
 * the real binary, exit codes, and the --json output parsed with jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>

#include "helpers.h"
#include "ready_tse.h"
#include "rtest.h"

/* Runs `opentse ARGS` (ARGS shell-quoted by the caller); returns the exit
 * code and, when `json` is given, the parsed standard output. */
static int run(json_t **json, const char *fmt, ...)
{
    char *args, *cmd;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&args, fmt, ap) > 0);
    va_end(ap);
    assert_true(asprintf(&cmd, "'%s' %s 2>/dev/null", getenv("OPENTSE_CLI"), args) > 0);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char *out = calloc(1, 1 << 16);
    size_t n = fread(out, 1, (1 << 16) - 1, f);
    int st = pclose(f);
    assert_true(WIFEXITED(st));
    if (json) {
        json_error_t e;
        *json = json_loadb(out, n, 0, &e);
        if (!*json)
            fail_msg("opentse %s: output is not JSON (%s):\n%s", args, e.text, out);
    }
    free(out);
    free(cmd);
    free(args);
    return WEXITSTATUS(st);
}

static void qr_verify(void **state)
{
    (void)state;
    char *qr = rt_fixture_qr();
    json_t *j;
    assert_int_equal(run(&j, "--json qr verify '%s'", qr), 0);
    assert_true(json_is_true(json_object_get(j, "valid")));
    assert_string_equal(json_string_value(json_object_get(j, "result")), "valid");
    assert_string_equal(json_string_value(json_object_get(j, "curve")), "P-256");
    json_t *f = json_object_get(j, "fields");
    assert_string_equal(json_string_value(json_object_get(f, "process_data")),
                        "Beleg^21.42_0.00_0.00_0.00_0.00^21.42:Unbar");
    assert_int_equal(json_integer_value(json_object_get(f, "signature_counter")), 31);
    json_decref(j);

    /* one amount changed: exit 1, not valid */
    char *p = strstr(qr, "^21.42_");
    p[5] = '3';
    assert_int_equal(run(&j, "--json qr verify '%s'", qr), 1);
    assert_true(json_is_false(json_object_get(j, "valid")));
    assert_string_equal(json_string_value(json_object_get(j, "result")), "bad_signature");
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "does not verify"));
    json_decref(j);
    assert_int_equal(run(NULL, "qr verify '%s'", qr), 1);

    /* from standard input; garbage; usage */
    char *path = th_fixture("qr-p256.txt");
    assert_int_equal(run(&j, "--json qr verify - < '%s'", path), 0);
    assert_true(json_is_true(json_object_get(j, "valid")));
    json_decref(j);
    free(path);
    assert_int_equal(run(&j, "--json qr verify 'V0;x;y'"), 1);
    assert_string_equal(json_string_value(json_object_get(j, "result")), "malformed");
    assert_true(json_is_null(json_object_get(j, "fields")));
    json_decref(j);
    assert_int_equal(run(&j, "--json qr verify"), 2);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "usage");
    json_decref(j);
    assert_int_equal(run(NULL, "qr frobnicate"), 2);
    assert_int_equal(run(NULL, "qr --help"), 0);
    free(qr);
}

static void qr_render(void **state)
{
    (void)state;
    char *qr = rt_fixture_qr();
    char *png = th_path("cli.png"), *svg = th_path("cli.svg");
    json_t *j;
    assert_int_equal(run(&j, "--json qr render --png '%s' --scale 2 '%s'", png, qr), 0);
    assert_string_equal(json_string_value(json_object_get(j, "format")), "png");
    size_t len;
    uint8_t *data = th_read_file(png, &len);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), len);
    assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
    free(data);
    json_decref(j);
    /* zbarimg reads the text back */
    char *back = rt_zbar_decode(png);
    assert_non_null(back);
    assert_string_equal(back, qr);
    free(back);

    assert_int_equal(run(NULL, "qr render --svg '%s' '%s'", svg, qr), 0);
    data = th_read_file(svg, &len);
    assert_non_null(strstr((char *)data, "<svg"));
    free(data);
    /* usage errors: both formats, none, bad scale */
    assert_int_equal(run(NULL, "qr render --png a --svg b '%s'", qr), 2);
    assert_int_equal(run(NULL, "qr render '%s'", qr), 2);
    assert_int_equal(run(&j, "--json qr render --png '%s' --scale 0 '%s'", png, qr), 2);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "--scale"));
    json_decref(j);
    free(png);
    free(svg);
    free(qr);
}

static void dsfinvk_archive(void **state)
{
    (void)state;
    char *tar = th_fixture("exports/fiskaly-v1-utc.tar"), *dir = th_path("cli-dsfinvk");
    json_t *j;
    assert_int_equal(run(&j, "--json dsfinvk '%s' --out '%s' --z-nr 4 --z-erstellung 2021-09-01T12:00:00",
                         tar, dir), 0);
    size_t rows = (size_t)json_integer_value(json_object_get(j, "transaction_rows"));
    assert_true(rows > 0);
    assert_int_equal(json_integer_value(json_object_get(j, "tse_rows")) > 0, 1);
    json_decref(j);
    /* the table holds as many rows as the archive has Finish logs */
    th_tar_entry *e;
    size_t n, finishes = 0;
    assert_int_equal(th_tar_read(tar, &e, &n), 0);
    for (size_t i = 0; i < n; i++)
        finishes += strstr(e[i].name, "_Finish_") != NULL;
    th_tar_free(e, n);
    assert_int_equal(rows, finishes);
    char *csv;
    assert_true(asprintf(&csv, "%s/transactions_tse.csv", dir) > 0);
    csv_table t = csv_read(csv);
    assert_int_equal(t.rows, rows);
    assert_string_equal(t.cell[0][csv_col(&t, "Z_NR")], "4");
    assert_string_equal(t.cell[0][csv_col(&t, "Z_ERSTELLUNG")], "2021-09-01T12:00:00");
    csv_free(&t);
    free(csv);

    /* failures */
    assert_int_equal(run(&j, "--json dsfinvk '%s'", tar), 2);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "--out"));
    json_decref(j);
    assert_int_equal(run(NULL, "dsfinvk '%s' --out '%s' --z-nr x", tar, dir), 2);
    assert_int_equal(run(NULL, "dsfinvk '%s' --out '%s' --first 3", tar, dir), 2);
    assert_int_equal(run(&j, "--json dsfinvk /nonexistent.tar --out '%s'", dir), 1);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "nonexistent"));
    json_decref(j);
    free(tar);
    free(dir);
}

static void dsfinvk_from_tse(void **state)
{
    (void)state;
    char *path;
    tse *t = ready_tse("cli", NULL, &path);
    tse_result st, fin;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &st), TSE_OK);
        const char *pd = "Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar";
        assert_int_equal(tse_finish_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)pd,
                                                strlen(pd), "Kassenbeleg-V1", NULL, 0, &fin), TSE_OK);
    }
    tse_close(t);

    /* qr make: the code of the last receipt, read from the TSE, verifies */
    json_t *j;
    assert_int_equal(run(&j, "--json --url 'file:%s' --master-key '%s' qr make --counter %llu", path,
                         th_master_key(), (unsigned long long)fin.signature_counter), 0);
    const char *made = json_string_value(json_object_get(j, "qr"));
    assert_non_null(made);
    assert_non_null(strstr(made, ";Kassenbeleg-V1;Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar;"));
    assert_int_equal(json_integer_value(json_object_get(j, "transaction_number")), fin.transaction_number);
    json_t *v;
    assert_int_equal(run(&v, "--json qr verify '%s'", made), 0);
    assert_true(json_is_true(json_object_get(v, "valid")));
    json_decref(v);
    json_decref(j);
    /* a Start log has no receipt; no counter; no TSE */
    assert_int_equal(run(&j, "--json --url 'file:%s' --master-key '%s' qr make --counter %llu", path,
                         th_master_key(), (unsigned long long)st.signature_counter), 1);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "not a FinishTransaction log"));
    json_decref(j);
    assert_int_equal(run(NULL, "--url 'file:%s' qr make", path), 2);
    assert_int_equal(run(NULL, "--url 'file:%s' qr make --counter x", path), 2);
    assert_int_equal(run(NULL, "qr make --counter 1"), 2);

    char *dir = th_path("cli-dsfinvk-tse");
    assert_int_equal(run(&j, "--json --url 'file:%s' --master-key '%s' dsfinvk --out '%s' --kasse-id K-9", path,
                         th_master_key(), dir), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "transaction_rows")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "tse_rows")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "missing_logs")), 0);
    json_decref(j);
    /* a counter range holding only the last transaction's Finish */
    assert_int_equal(run(&j, "--json --url 'file:%s' --master-key '%s' dsfinvk --out '%s' --first %llu --last %llu",
                         path, th_master_key(), dir, (unsigned long long)fin.signature_counter,
                         (unsigned long long)fin.signature_counter), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "transaction_rows")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "without_start")), 1);
    json_decref(j);
    char *csv;
    assert_true(asprintf(&csv, "%s/transactions_tse.csv", dir) > 0);
    csv_table tb = csv_read(csv);
    assert_string_equal(tb.cell[0][csv_col(&tb, "TSE_TA_START")], "");
    assert_string_equal(tb.cell[0][csv_col(&tb, "TSE_TA_FEHLER")], "StartTransaction log not in the data");
    csv_free(&tb);
    free(csv);
    /* no TSE given */
    assert_int_equal(run(NULL, "dsfinvk --out '%s'", dir), 2);
    free(dir);
    free(path);
}

int main(void)
{
    if (!getenv("OPENTSE_CLI")) {
        fprintf(stderr, "OPENTSE_CLI is not set\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(qr_verify),
        cmocka_unit_test(qr_render),
        cmocka_unit_test(dsfinvk_archive),
        cmocka_unit_test(dsfinvk_from_tse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
