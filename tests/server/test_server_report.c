/*
 * test_server_report.c - the Section 146a (4) AO report of a TSS over real
 * HTTP (GET .../report as JSON and CSV) and through `opentse tss report`:
 * the TSE's serial number, the configured BSI certification id, the start
 * and end of use, and every register with its serial number;
 * quoting in the CLI's CSV; the end of use once the TSS is retired for a
 * successor; bad requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"
#include "helpers.h"

#define PIN "13572468"
#define CERT_ID "BSI-K-TR-0999-2026"

static char *iso(json_int_t t)
{
    static char out[40];
    struct tm tm;
    time_t v = (time_t)t;
    strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S.000Z", gmtime_r(&v, &tm));
    return out;
}

/* GET path as text (curl's command line: hs_call parses JSON only). */
static char *get_text(const char *base, const char *path, const char *tok)
{
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "curl -sf -H 'Authorization: Bearer %s' '%s%s'", tok, base, path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    assert_int_equal(pclose(f), 0);
    buf[n] = 0;
    return buf;
}

static void report(void **state)
{
    (void)state;
    char *dir = th_path("report-srv");
    const char *args[] = {"--bsi-certification-id", CERT_ID, NULL};
    srv_proc p;
    hs_start(&p, dir, args);
    const char *B = p.base;
    char *op = hs_token(B, p.op_key, p.op_secret), key[64], secret[96], tss[37], c1[37], c2[37], path[300];
    hs_org_key(B, op, "report", key, secret);
    char *tok = hs_token(B, key, secret);
    hs_uuid(tss);
    hs_uuid(c1);
    hs_uuid(c2);
    hs_ready_tss(B, tok, tss, PIN, c1, "KASSE-01");
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, c2);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s}", "serial_number", "KASSE 02 (Mitte)"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/logout", tss);
    json_decref(hs_json(B, "POST", path, tok, 200, NULL));

    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = hs_json(B, "GET", path, tok, 200, NULL);
    snprintf(path, sizeof path, "/api/v2/tss/%s/report", tss);
    json_t *r = hs_json(B, "GET", path, tok, 200, NULL);
    json_t *tse = json_object_get(r, "tse"), *regs = json_object_get(r, "registers");
    assert_string_equal(json_string_value(json_object_get(r, "_type")), "TSE_REPORT");
    assert_string_equal(json_string_value(json_object_get(tse, "serial_number")),
                        json_string_value(json_object_get(t, "serial_number")));
    assert_string_equal(json_string_value(json_object_get(tse, "bsi_certification_id")), CERT_ID);
    assert_string_equal(json_string_value(json_object_get(tse, "time_start_of_use")),
                        iso(json_integer_value(json_object_get(t, "time_init"))));
    assert_true(json_is_null(json_object_get(tse, "time_end_of_use")));
    assert_int_equal(json_array_size(regs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(regs, 0), "serial_number")), "KASSE-01");
    assert_string_equal(json_string_value(json_object_get(json_array_get(regs, 0), "client_id")), c1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(regs, 1), "serial_number")),
                        "KASSE 02 (Mitte)");

    /* CSV: a header and one quoted-where-needed line per register */
    snprintf(path, sizeof path, "/api/v2/tss/%s/report?format=csv", tss);
    char *csv = get_text(B, path, tok), want[1000];
    const char *serial = json_string_value(json_object_get(t, "serial_number"));
    const char *start = json_string_value(json_object_get(tse, "time_start_of_use"));
    assert_int_equal(strncmp(csv, "register_serial_number;register_client_id;register_state;register_since;"
                                  "tse_serial_number;tse_bsi_certification_id;tse_start_of_use;tse_end_of_use;tss_id\r\n",
                             150 > strlen(csv) ? strlen(csv) : 150),
                     0);
    snprintf(want, sizeof want, "\r\nKASSE 02 (Mitte);%s;REGISTERED;", c2);
    assert_non_null(strstr(csv, want));
    snprintf(want, sizeof want, ";%s;%s;%s;;%s\r\n", serial, CERT_ID, start, tss);
    assert_non_null(strstr(csv, want));
    free(csv);

    /* the CLI from the TSE's own records */
    char cmd[1500];
    snprintf(cmd, sizeof cmd,
             "OPENTSE_API_KEY=%s OPENTSE_API_SECRET=%s '%s' --url %s/tss/%s tss report --certification-id '%s;2'",
             key, secret, getenv("OPENTSE_CLI"), B, tss, CERT_ID);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[1000];
    int lines = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        snprintf(want, sizeof want, "KASSE-01;;REGISTERED;;%s;\"%s;2\";%s;;%s\r\n", serial, CERT_ID, start, tss);
        found |= strncmp(line, want, strlen(want)) == 0;
    }
    assert_int_equal(pclose(f), 0);
    assert_int_equal(lines, 3);
    assert_true(found);

    /* retired for a successor: the end of use is there */
    snprintf(path, sizeof path, "/api/v2/tss/%s/successor", tss);
    json_t *s = hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "retirement"), "state")), "DISABLED");
    snprintf(path, sizeof path, "/api/v2/tss/%s/report", tss);
    json_t *r2 = hs_json(B, "GET", path, tok, 200, NULL);
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t2 = hs_json(B, "GET", path, tok, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r2, "tse"), "time_end_of_use")),
                        iso(json_integer_value(json_object_get(t2, "time_disable"))));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r2, "tse"), "successor")),
                        json_string_value(json_object_get(s, "_id")));

    /* bad requests change nothing */
    snprintf(path, sizeof path, "/api/v2/tss/%s/report?format=xml", tss);
    json_t *e = NULL;
    assert_int_equal(hs_call(B, "GET", path, tok, NULL, 0, &e, NULL), 400);
    hs_expect_error(e, 400, "E_BAD_REQUEST");
    snprintf(path, sizeof path, "/api/v2/tss/%s/report", tss);
    assert_int_equal(hs_call(B, "POST", path, tok, "{}", 2, &e, NULL), 404);
    hs_expect_error(e, 404, "E_NOT_FOUND");
    char other[37];
    hs_uuid(other);
    snprintf(path, sizeof path, "/api/v2/tss/%s/report", other);
    assert_int_equal(hs_call(B, "GET", path, tok, NULL, 0, &e, NULL), 404);
    hs_expect_error(e, 404, "E_TSS_NOT_FOUND");
    assert_int_equal(hs_call(B, "GET", path, NULL, NULL, 0, &e, NULL), 401);
    hs_expect_error(e, 401, NULL);

    json_decref(t);
    json_decref(r);
    json_decref(s);
    json_decref(r2);
    json_decref(t2);
    free(op);
    free(tok);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(report)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
