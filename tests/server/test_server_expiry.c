/*
 * test_server_expiry.c - the end of usage of a TSS over real HTTP: a TSS
 * whose built-in CA certificate ends in 20 days (--cert-validity) and one
 * whose imported chain has a CA certificate that ends before the TSS's own
 * (made with the openssl command line). Checked against `openssl x509
 * -enddate`: the TSS answer's end_of_usage and warnings, the transaction
 * responses' warnings, the /metrics gauges, the server log line, and
 * `opentse tss status` (tse_get_info over http). A TSS with a long chain
 * carries no warning.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "helpers.h"

#define PIN "13572468"
#define TWENTY_DAYS "1728000"

static srv_proc P;
static char *tok, *log_path;
static char tss20[37], client20[37];

static int setup(void **state)
{
    (void)state;
    char *dir = th_path("expiry-srv");
    log_path = th_path("expiry-srv.log");
    /* the server's stderr (its log) goes to a file this test reads */
    int saved = dup(2), fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    const char *args[] = {"--cert-validity", TWENTY_DAYS, NULL};
    hs_start(&P, dir, args);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *op = hs_token(P.base, P.op_key, P.op_secret), key[64], secret[96];
    hs_org_key(P.base, op, "expiry", key, secret);
    tok = hs_token(P.base, key, secret);
    setenv("OPENTSE_API_KEY", key, 1);
    setenv("OPENTSE_API_SECRET", secret, 1);
    hs_uuid(tss20);
    hs_uuid(client20);
    hs_ready_tss(P.base, tok, tss20, PIN, client20, "KASSE-20");
    free(op);
    free(dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(hs_stop(&P), 0);
    free(tok);
    free(log_path);
    return 0;
}

static void run(const char *cmd)
{
    if (system(cmd) != 0)
        fail_msg("failed: %s", cmd);
}

/* notAfter of the first certificate of a PEM file, read by openssl. */
static int64_t openssl_end(const char *pem_file)
{
    char cmd[1200], line[200];
    snprintf(cmd, sizeof cmd, "openssl x509 -in '%s' -noout -enddate", pem_file);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_int_equal(pclose(f), 0);
    struct tm tm = {0};
    assert_non_null(strptime(line, "notAfter=%b %d %H:%M:%S %Y GMT", &tm));
    return (int64_t)timegm(&tm);
}

static json_t *get_tss(const char *id)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v2/tss/%s", id);
    return hs_json(P.base, "GET", path, tok, 200, NULL);
}

static const char *warning0(json_t *j)
{
    return json_string_value(json_array_get(json_object_get(j, "warnings"), 0));
}

/* Two warnings about the same end of usage (the days left may have ticked
 * between them when the end is a whole number of days away). */
static void same_warning(const char *a, const char *b)
{
    assert_non_null(a);
    assert_non_null(b);
    const char *cut = strstr(a, ", in ");
    assert_non_null(cut);
    assert_memory_equal(a, b, (size_t)(cut - a));
    assert_non_null(strstr(b, strstr(a, " day")));
}

static json_int_t eou(json_t *t, const char *field)
{
    return json_integer_value(json_object_get(json_object_get(t, "end_of_usage"), field));
}

/* A transaction start on tss/client; the response (to free). */
static json_t *start_tx(const char *tss, const char *client)
{
    char tx[37], path[200];
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    return hs_json(P.base, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client);
}

/* The value of a gauge line `name{tss="id"} V` in /metrics. */
static long long gauge(const char *name, const char *id)
{
    /* hs_call parses JSON only; the text comes through curl's command line */
    char cmd[400], want[200], line[400];
    snprintf(cmd, sizeof cmd, "curl -s %s/metrics", P.base);
    snprintf(want, sizeof want, "%s{tss=\"%s\"} ", name, id);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    long long v = -99999;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, want, strlen(want)) == 0)
            v = atoll(line + strlen(want));
    pclose(f);
    if (v == -99999)
        fail_msg("no %s for %s in /metrics", name, id);
    return v;
}

/* Runs `opentse --json tss status` for a TSS over http; its JSON. */
static json_t *cli_status(const char *id)
{
    const char *cli = getenv("OPENTSE_CLI");
    assert_non_null(cli);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' --json --url %s/tss/%s tss status", cli, P.base, id);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    json_error_t err;
    json_t *j = json_loadf(f, 0, &err);
    assert_int_equal(pclose(f), 0);
    if (!j)
        fail_msg("opentse tss status: %s", err.text);
    return j;
}

static void twenty_days(void **state)
{
    (void)state;
    time_t asked = time(NULL);
    json_t *t = get_tss(tss20);
    time_t answered = time(NULL);
    char *pem = th_path("expiry-20.pem");
    const char *cert = json_string_value(json_object_get(t, "certificate"));
    assert_int_equal(th_write_file(pem, cert, strlen(cert)), 0);
    int64_t end = openssl_end(pem);
    assert_int_equal(eou(t, "unix"), end);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "certificate_expiry"), "unix")), end);
    json_int_t days = eou(t, "days_left");
    assert_true(days == 19 || days == 20);
    /* whole days left at the moment the server answered, between asking and the answer */
    assert_true(days <= (end - asked) / 86400 && days >= (end - answered) / 86400);
    assert_int_equal(eou(t, "warning_days"), 30);
    assert_int_equal(eou(t, "chain_index"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "end_of_usage"), "certificate")), "TSS");
    assert_int_equal(json_array_size(json_object_get(t, "warnings")), 1);
    const char *w = warning0(t);
    assert_non_null(strstr(w, "CERTIFICATE_EXPIRES_SOON: the TSS certificate ends at"));
    assert_non_null(strstr(w, "warning from 30 days"));
    char when[40];
    struct tm tm;
    time_t e = (time_t)end;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", gmtime_r(&e, &tm));
    assert_non_null(strstr(w, when));

    /* every transaction response of that TSS carries it */
    for (int i = 0; i < 2; i++) {
        json_t *r = start_tx(tss20, client20);
        assert_int_equal(hs_verify_tx_response(r), 0);
        assert_int_equal(json_array_size(json_object_get(r, "warnings")), 1);
        same_warning(warning0(r), w);
        json_decref(r);
    }

    /* the gauges an alert rule watches */
    /* a whole number of days away: a second later it may be one day less */
    json_int_t gauge_days = gauge("opentse_end_of_usage_days_left", tss20);
    assert_true(gauge_days == days || gauge_days == days - 1);
    assert_int_equal(gauge("opentse_end_of_usage_timestamp_seconds", tss20), end);

    /* the server log says it once a day, not once per request */
    size_t n = 0;
    char *log = (char *)th_read_file(log_path, &n);
    assert_non_null(log);
    char want[200];
    snprintf(want, sizeof want, "opentsed: warning: TSS %s: CERTIFICATE_EXPIRES_SOON", tss20);
    char *first = strstr(log, want);
    assert_non_null(first);
    assert_null(strstr(first + 1, want));
    free(log);

    /* tse_get_info over http, through the CLI */
    json_t *s = cli_status(tss20);
    json_t *se = json_object_get(s, "end_of_usage");
    assert_int_equal(json_integer_value(json_object_get(se, "unix")), end);
    json_int_t status_days = json_integer_value(json_object_get(se, "days_left"));
    assert_true(status_days == days || status_days == days - 1);
    assert_int_equal(json_integer_value(json_object_get(se, "warning_days")), 30);
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(s, "warnings"), 0)),
                           "CERTIFICATE_EXPIRES_SOON"));
    json_decref(s);
    json_decref(t);
    free(pem);
}

/* A TSS whose chain is issued by openssl with CA validity `ca_days` and TSS
 * certificate validity `tss_days`; writes the CA's PEM file name. */
static void tss_with_chain(const char *id, const char *client, int ca_days, int tss_days, char *ca_pem, size_t cap)
{
    hs_ready_tss(P.base, tok, id, PIN, client, "KASSE-CA");
    char path[200], cmd[3000];
    snprintf(path, sizeof path, "/api/v2/tss/%s/csr", id);
    json_t *c = hs_json(P.base, "GET", path, tok, 200, NULL);
    char *dir = th_path(id);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    run(cmd);
    char csr[700], chain[700];
    snprintf(csr, sizeof csr, "%s/tss.csr", dir);
    snprintf(ca_pem, cap, "%s/ca.pem", dir);
    snprintf(chain, sizeof chain, "%s/chain.pem", dir);
    const char *csr_text = json_string_value(json_object_get(c, "csr"));
    assert_int_equal(th_write_file(csr, csr_text, strlen(csr_text)), 0);
    json_decref(c);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
             "-out ca.pem -days %d -subj '/CN=Short CA' 2>/dev/null && "
             "openssl x509 -req -in tss.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days %d -out tss.pem "
             "2>/dev/null && cat tss.pem ca.pem > chain.pem",
             dir, ca_days, tss_days);
    run(cmd);
    size_t n = 0;
    char *text = (char *)th_read_file(chain, &n);
    assert_non_null(text);
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", id);
    json_decref(hs_json(P.base, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    snprintf(path, sizeof path, "/api/v2/tss/%s/certificate", id);
    json_decref(hs_json(P.base, "PUT", path, tok, 200, "{s:s%}", "certificate", text, n));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/logout", id);
    json_decref(hs_json(P.base, "POST", path, tok, 200, NULL));
    free(text);
    free(dir);
}

/* The CA certificate ends first: it is the end of usage. */
static void ca_ends_first(void **state)
{
    (void)state;
    char id[37], client[37], ca[700];
    hs_uuid(id);
    hs_uuid(client);
    tss_with_chain(id, client, 5, 300, ca, sizeof ca);
    int64_t ca_end = openssl_end(ca);
    json_t *t = get_tss(id);
    assert_int_equal(eou(t, "unix"), ca_end);
    assert_int_equal(eou(t, "chain_index"), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "end_of_usage"), "certificate")), "CA");
    assert_int_equal(eou(t, "warning_days"), 7);
    assert_true(eou(t, "days_left") == 4 || eou(t, "days_left") == 5);
    /* the TSS's own certificate has 300 days: its expiry alone would not warn */
    assert_true(json_integer_value(json_object_get(json_object_get(t, "certificate_expiry"), "days_left")) >= 299);
    assert_non_null(strstr(warning0(t), "CERTIFICATE_EXPIRES_SOON: the CA certificate 1 above the TSS certificate"));
    assert_non_null(strstr(warning0(t), "warning from 7 days"));
    json_t *r = start_tx(id, client);
    same_warning(warning0(r), warning0(t));
    json_decref(r);
    assert_int_equal(gauge("opentse_end_of_usage_timestamp_seconds", id), ca_end);
    json_t *s = cli_status(id);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "end_of_usage"), "chain_index")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "end_of_usage"), "certificate")), "CA");
    json_decref(s);
    json_decref(t);
}

/* 200 days of chain: no warning anywhere; 100 days: the 180-day warning. */
static void thresholds(void **state)
{
    (void)state;
    static const struct {
        int days;
        int warning;
    } cases[] = {{400, 0}, {100, 180}, {60, 90}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[37], client[37], ca[700];
        hs_uuid(id);
        hs_uuid(client);
        tss_with_chain(id, client, cases[i].days, cases[i].days, ca, sizeof ca);
        json_t *t = get_tss(id);
        assert_int_equal(eou(t, "warning_days"), cases[i].warning);
        json_t *r = start_tx(id, client);
        if (cases[i].warning) {
            assert_int_equal(json_array_size(json_object_get(t, "warnings")), 1);
            char want[40];
            snprintf(want, sizeof want, "warning from %d days", cases[i].warning);
            assert_non_null(strstr(warning0(t), want));
            same_warning(warning0(r), warning0(t));
        } else {
            assert_int_equal(json_array_size(json_object_get(t, "warnings")), 0);
            assert_null(json_object_get(r, "warnings"));
        }
        json_decref(r);
        json_decref(t);
    }
}

/* Disabled for good, the 20-day TSS warns nobody any more: no warning in
 * its answer, no end-of-usage gauges, and opentse_tss_disabled says why
 * (last: the other tests use it). */
static void disabled_is_silent(void **state)
{
    (void)state;
    char path[200];
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss20);
    json_decref(hs_json(P.base, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss20);
    json_decref(hs_json(P.base, "PATCH", path, tok, 200, "{s:s}", "state", "DISABLED"));
    json_t *t = get_tss(tss20);
    assert_string_equal(json_string_value(json_object_get(t, "state")), "DISABLED");
    assert_int_equal(json_array_size(json_object_get(t, "warnings")), 0);
    assert_true(json_is_object(json_object_get(t, "end_of_usage")));   /* still told, not warned */
    json_decref(t);
    assert_int_equal(gauge("opentse_tss_disabled", tss20), 1);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "curl -s %s/metrics | grep -c 'end_of_usage.*tss=\"%s\"'", P.base, tss20);
    FILE *f = popen(cmd, "r");
    char line[32] = "";
    assert_non_null(fgets(line, sizeof line, f));
    pclose(f);
    assert_int_equal(atoi(line), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(twenty_days),
        cmocka_unit_test(ca_ends_first),
        cmocka_unit_test(thresholds),
        cmocka_unit_test(disabled_is_silent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
