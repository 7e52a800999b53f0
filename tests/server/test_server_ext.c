/*
 * test_server_ext.c - the failure paths of opentsed's OpenTSE extension
 * endpoints (time, time admin, self-test, log messages, CSR, certificate,
 * deleteStoredData, restore, and the TR-03151-1 v1.1.1 routes description,
 * transaction-logging, device, transaction-state, log/last-transaction,
 * logged-in-user) and of the tx PUT's extension fields (any_client and its
 * kept_log too), and the logger's routes with the transactions they guard,
 * over real
 * HTTP: unknown TSS, another organization's token, no token, wrong role,
 * wrong state, malformed bodies and a body over the size limit. Each refusal
 * is checked for its status and code, and for changing nothing.
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

static const char *B;      /* the server's base URL */
static const char *tss_id;

/* METHOD /api/v2/tss/{tss}/SUB with a raw body; expects an error. */
static void expect(const char *method, const char *tss, const char *sub, const char *token, const char *body,
                   long status, const char *code)
{
    char path[512];
    snprintf(path, sizeof path, "/api/v2/tss/%s/%s", tss, sub);
    json_t *e = NULL;
    long got = hs_call(B, method, path, token, body, body ? strlen(body) : 0, &e, NULL);
    if (got != status)
        fail_msg("%s %s: %ld, not %ld (%s)", method, path, got, status,
                 json_string_value(json_object_get(e, "message")));
    /* a TR-03151 name is the answer's tse_error, beside a market code */
    if (code && strncmp(code, "E_", 2) != 0 && !strchr(code, '/')) {
        const char *market = json_string_value(json_object_get(e, "code"));
        if (!market || strncmp(market, "E_", 2) != 0)
            fail_msg("%s %s: code %s is no market code", method, path, market ? market : "(none)");
        assert_string_equal(json_string_value(json_object_get(e, "tse_error")), code);
        code = NULL;
    }
    hs_expect_error(e, status, code);
}

/* METHOD /api/v2/tss/{tss_id}/SUB; expects 200 and returns the body. */
static json_t *ok(const char *method, const char *sub, const char *token, const char *body)
{
    char path[512];
    snprintf(path, sizeof path, "/api/v2/tss/%s/%s", tss_id, sub);
    json_t *j = NULL;
    long got = hs_call(B, method, path, token, body, body ? strlen(body) : 0, &j, NULL);
    if (got != 200)
        fail_msg("%s %s: %ld (%s)", method, path, got, json_string_value(json_object_get(j, "message")));
    return j;
}

static json_int_t counter(const char *token)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss_id);
    json_t *j = hs_json(B, "GET", path, token, 200, NULL);
    json_int_t c = json_integer_value(json_object_get(j, "signature_counter"));
    json_decref(j);
    return c;
}

static void login(const char *token, const char *pin)
{
    char body[64];
    snprintf(body, sizeof body, "{\"admin_pin\": \"%s\"}", pin);
    json_decref(ok("POST", "admin/auth", token, body));
}

/* GET .../logged-in-user names `want`. */
static void logged_in_is(const char *token, const char *want)
{
    json_t *j = ok("GET", "logged-in-user", token, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), want);
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);
}

static void extension_failures(void **state)
{
    (void)state;
    char *dir = th_path("ext");
    srv_proc p;
    const char *extra[] = {"--max-body", "65536", NULL};
    hs_start(&p, dir, extra);
    B = p.base;
    char *op = hs_token(B, p.op_key, p.op_secret);
    char k1[64], s1[96], k2[64], s2[96];
    hs_org_key(B, op, "one", k1, s1);
    hs_org_key(B, op, "two", k2, s2);
    char *t1 = hs_token(B, k1, s1), *t2 = hs_token(B, k2, s2);
    char tss[37], client[37], unknown[37], tx[37];
    hs_uuid(tss);
    hs_uuid(client);
    hs_uuid(unknown);
    tss_id = tss;
    hs_ready_tss(B, t1, tss, PIN, client, "KASSE-1");
    char time_body[64];
    snprintf(time_body, sizeof time_body, "{\"unix_time\": %lld}", (long long)time(NULL));

    /* every extension route: unknown TSS and another organization's TSS are
     * 404, no token is 401 */
    static const char *routes[][3] = {
        {"POST", "time", "{\"unix_time\": 1700000000}"},
        {"POST", "self-test", NULL},
        {"GET", "log/last", NULL},
        {"GET", "log/1", NULL},
        {"GET", "csr", NULL},
        {"GET", "certificate", NULL},
        {"PUT", "certificate", "{\"certificate\": \"x\"}"},
        {"POST", "delete-stored-data", NULL},
        {"POST", "restore", "{\"archives\": [\"AAAA\"]}"},
        {"PATCH", "time-admin", "{\"new_pin\": \"24680246\"}"},
        {"POST", "time-admin/auth", "{\"pin\": \"24680246\"}"},
        {"POST", "time-admin/logout", NULL},
    };
    json_int_t before = counter(t1);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        expect(routes[i][0], unknown, routes[i][1], t1, routes[i][2], 404, "E_TSS_NOT_FOUND");
        expect(routes[i][0], tss, routes[i][1], t2, routes[i][2], 404, "E_TSS_NOT_FOUND");
        expect(routes[i][0], tss, routes[i][1], NULL, routes[i][2], 401, "E_UNAUTHORIZED");
    }
    assert_int_equal(counter(t1), before);

    /* wrong role: the admin is logged out */
    expect("POST", tss, "time", t1, time_body, 403, "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");
    expect("PUT", tss, "certificate", t1, "{\"certificate\": \"x\"}", 409, "E_CONFLICT/CERTIFICATE_INVALID");
    expect("POST", tss, "delete-stored-data", t1, NULL, 403, "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");
    expect("POST", tss, "restore", t1, "{\"archives\": [\"AAAA\"]}", 403, "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");
    expect("PATCH", tss, "time-admin", t1, "{\"new_pin\": \"24680246\"}", 403, "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");
    expect("POST", tss, "admin/logout", t1, NULL, 403, "E_ADMIN_NOT_AUTHENTICATED/USER_ID_NOT_AUTHENTICATED");
    expect("POST", tss, "time-admin/logout", t1, NULL, 403, "E_ADMIN_NOT_AUTHENTICATED/USER_ID_NOT_AUTHENTICATED");
    /* no time admin PIN yet */
    expect("POST", tss, "time-admin/auth", t1, "{\"pin\": \"24680246\"}", 409, "E_TSS_INVALID_STATE/WRONG_STATE");
    /* a wrong admin PIN says how many attempts are left, as a field */
    char path[256];
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_t *e = hs_json(B, "POST", path, t1, 401, "{s:s}", "admin_pin", "00000000");
    assert_int_equal(json_integer_value(json_object_get(e, "remaining_retries")), 2);
    hs_expect_error(e, 401, "E_PIN_INVALID/AUTHENTICATION_FAILED");
    assert_int_equal(counter(t1), before + 1); /* the failed login is a system log */
    before = counter(t1);

    /* the time admin may set the time, nothing an admin alone may do */
    login(t1, PIN);
    json_decref(ok("PATCH", "time-admin", t1, "{\"new_pin\": \"24680246\"}"));
    json_decref(ok("POST", "admin/logout", t1, NULL));
    json_decref(ok("POST", "time-admin/auth", t1, "{\"pin\": \"24680246\"}"));
    before = counter(t1);
    expect("POST", tss, "delete-stored-data", t1, NULL, 403, "E_FORBIDDEN/USER_NOT_AUTHORIZED");
    expect("PUT", tss, "certificate", t1, "{\"certificate\": \"x\"}", 409, "E_CONFLICT/CERTIFICATE_INVALID");
    assert_int_equal(counter(t1), before);
    json_decref(ok("POST", "time", t1, time_body));
    assert_int_equal(counter(t1), before + 1);
    json_decref(ok("POST", "time-admin/logout", t1, NULL));

    /* malformed requests (the admin logged in, so only the body is wrong) */
    login(t1, PIN);
    before = counter(t1);
    expect("POST", tss, "time", t1, "{\"unix_time\": ", 400, "E_BAD_REQUEST");
    expect("POST", tss, "time", t1, "{}", 400, "E_BAD_REQUEST");
    expect("POST", tss, "time", t1, "{\"unix_time\": \"now\"}", 400, "E_BAD_REQUEST");
    expect("POST", tss, "time", t1, "{\"unix_time\": 5}", 400, "E_BAD_REQUEST/INVALID_TIME");
    expect("GET", tss, "time", t1, NULL, 404, "E_NOT_FOUND");
    expect("GET", tss, "log/abc", t1, NULL, 400, "E_BAD_REQUEST");
    expect("GET", tss, "log/-1", t1, NULL, 400, "E_BAD_REQUEST");
    expect("GET", tss, "log/99999999999999999999999", t1, NULL, 400, "E_BAD_REQUEST");
    expect("GET", tss, "log/99999", t1, NULL, 404, "E_NOT_FOUND/NO_LOG_MESSAGE");
    expect("GET", tss, "incremental-export?cursor=0&maximum_number_records=many", t1, NULL, 400, "E_PARAMETER");
    expect("GET", tss, "incremental-export?cursor=0&maximum_number_records=-1", t1, NULL, 400, "E_PARAMETER");
    expect("GET", tss, "incremental-export?cursor=0&maximum_number_records=1", t1, NULL, 409, "E_CONFLICT/TOO_MANY_RECORDS");
    expect("PUT", tss, "certificate", t1, "{}", 400, "E_BAD_REQUEST");
    expect("PUT", tss, "certificate", t1, "{\"certificate\": 5}", 400, "E_BAD_REQUEST");
    expect("PUT", tss, "certificate", t1, "{\"certificate\": \"-----BEGIN CERTIFICATE-----\\nAAAA\\n\"}", 409,
           "E_CONFLICT/CERTIFICATE_INVALID");
    expect("POST", tss, "restore", t1, "{}", 400, "E_BAD_REQUEST");
    expect("POST", tss, "restore", t1, "{\"archives\": []}", 400, "E_BAD_REQUEST");
    expect("POST", tss, "restore", t1, "{\"archives\": \"AAAA\"}", 400, "E_BAD_REQUEST");
    expect("POST", tss, "restore", t1, "{\"archives\": [\"not base64!\"]}", 400, "E_BAD_REQUEST");
    expect("POST", tss, "restore", t1, "{\"archives\": [7]}", 400, "E_BAD_REQUEST");
    /* "not a tar archive" in base64: the engine refuses it */
    expect("POST", tss, "restore", t1, "{\"archives\": [\"bm90IGEgdGFyIGFyY2hpdmU=\"]}", 409, "E_CONFLICT/RESTORE_FAILED");
    expect("PATCH", tss, "time-admin", t1, "{}", 400, "E_BAD_REQUEST");
    expect("PATCH", tss, "time-admin", t1, "{\"new_pin\": \"1\"}", 400, "E_BAD_REQUEST/INVALID_ARGUMENT");
    expect("POST", tss, "time-admin/auth", t1, "{\"admin_pin\": \"24680246\"}", 400, "E_BAD_REQUEST");
    assert_int_equal(counter(t1), before);

    /* a restore larger than the body limit is refused before it is read */
    size_t big = 100000;
    char *body = malloc(big + 32);
    assert_non_null(body);
    strcpy(body, "{\"archives\": [\"");
    memset(body + strlen(body), 'A', big);
    strcpy(body + 15 + big, "\"]}");
    expect("POST", tss, "restore", t1, body, 413, "E_PAYLOAD_TOO_LARGE");
    free(body);

    /* wrong state: nothing exported yet */
    expect("POST", tss, "delete-stored-data", t1, NULL, 409, "E_CONFLICT/UNEXPORTED_STORED_DATA");
    assert_int_equal(counter(t1), before);

    /* the tx PUT's extension fields */
    hs_uuid(tx);
    snprintf(path, sizeof path, "tx/%s?tx_revision=1", tx);
    char txb[512];
    snprintf(txb, sizeof txb, "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"additional_data\": 5}", client);
    expect("PUT", tss, path, t1, txb, 400, "E_BAD_REQUEST");
    snprintf(txb, sizeof txb, "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"update_variant\": \"MAYBE\"}", client);
    expect("PUT", tss, path, t1, txb, 400, "E_BAD_REQUEST");
    snprintf(txb, sizeof txb, "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"update_variant\": \"UNSIGNED\"}",
             client);
    expect("PUT", tss, path, t1, txb, 400, "E_BAD_REQUEST/INVALID_ARGUMENT");
    assert_int_equal(counter(t1), before);
    snprintf(txb, sizeof txb, "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"additional_data\": \"AQI=\"}", client);
    json_decref(ok("PUT", path, t1, txb));
    snprintf(path, sizeof path, "tx/%s?tx_revision=2", tx);
    expect("PUT", tss, path, t1, txb, 400, "E_BAD_REQUEST/INVALID_ARGUMENT");
    snprintf(txb, sizeof txb, "{\"state\": \"FINISHED\", \"client_id\": \"%s\", \"update_variant\": \"UNSIGNED\"}",
             client);
    expect("PUT", tss, path, t1, txb, 400, "E_BAD_REQUEST/INVALID_ARGUMENT");
    assert_int_equal(counter(t1), before + 1);

    /* a disabled TSS refuses the admin's extension calls */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_decref(hs_json(B, "PATCH", path, t1, 200, "{s:s}", "state", "DISABLED"));
    before = counter(t1);
    expect("POST", tss, "time", t1, time_body, 400, "E_TSS_DISABLED/SECURE_ELEMENT_DISABLED");
    expect("POST", tss, "delete-stored-data", t1, NULL, 400, "E_TSS_DISABLED/SECURE_ELEMENT_DISABLED");
    expect("PATCH", tss, "time-admin", t1, "{\"new_pin\": \"24680246\"}", 400, "E_TSS_DISABLED/SECURE_ELEMENT_DISABLED");
    assert_int_equal(counter(t1), before);

    free(t1);
    free(t2);
    free(op);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

/* A server of its own with organizations one (token t1, TSS tss ready with
 * client c1 "KASSE-1", the admin logged out) and two (t2). */
typedef struct ext_env {
    char *dir, *op, *t1, *t2;
    srv_proc p;
    char tss[37], c1[37];
} ext_env;

static void env_start(ext_env *v, const char *name)
{
    v->dir = th_path(name);
    hs_start(&v->p, v->dir, NULL);
    B = v->p.base;
    v->op = hs_token(B, v->p.op_key, v->p.op_secret);
    char k1[64], s1[96], k2[64], s2[96];
    hs_org_key(B, v->op, "one", k1, s1);
    hs_org_key(B, v->op, "two", k2, s2);
    v->t1 = hs_token(B, k1, s1);
    v->t2 = hs_token(B, k2, s2);
    hs_uuid(v->tss);
    hs_uuid(v->c1);
    tss_id = v->tss;
    hs_ready_tss(B, v->t1, v->tss, PIN, v->c1, "KASSE-1");
}

static void env_stop(ext_env *v)
{
    free(v->t1);
    free(v->t2);
    free(v->op);
    assert_int_equal(hs_stop(&v->p), 0);
    free(v->dir);
}

#define RAW_TX "{\"state\": \"%s\", \"client_id\": \"%s\", %s\"schema\": {\"raw\": " \
               "{\"process_type\": \"Kassenbeleg-V1\", \"process_data\": \"%s\"}}}"

/* PUT revision `rev` of tx: state, client, extra members ("" or ending in
 * ", "), process data (base64); 200 and the answer. */
static json_t *put_rev(const char *token, const char *tx, int rev, const char *state, const char *client,
                       const char *extra, const char *pd)
{
    char path[128], body[512];
    snprintf(path, sizeof path, "tx/%s?tx_revision=%d", tx, rev);
    snprintf(body, sizeof body, RAW_TX, state, client, extra, pd);
    return ok("PUT", path, token, body);
}

/* The answer's receipt QR code passes `opentse qr verify` (its signature
 * against the TSS key it names). */
static void expect_qr_verifies(json_t *j)
{
    const char *qr = json_string_value(json_object_get(j, "qr_code_data"));
    assert_non_null(qr);
    char cmd[2000], out[512] = "";
    snprintf(cmd, sizeof cmd, "'%s' qr verify '%s' 2>&1; echo \"exit $?\"", getenv("OPENTSE_CLI"), qr);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    size_t got = fread(out, 1, sizeof out - 1, pp);
    out[got] = 0;
    pclose(pp);
    if (!strstr(out, "exit 0"))
        fail_msg("opentse qr verify: %s", out);
}

static json_int_t sig_counter(json_t *j)
{
    return json_integer_value(json_object_get(json_object_get(j, "signature"), "counter"));
}

/* The tx PUT's any_client: without it a revision by another client than
 * the one of the latest revision is the market API's 409
 * PARAMETER_MISMATCH; with it any registered client goes on (TR-03151-1
 * 3.7.6.5), and data kept by unsigned updates of another client is first
 * signed in an update log of its own, answered as kept_log. */
static void any_client(void **state)
{
    (void)state;
    ext_env v;
    env_start(&v, "extany");
    const char *t1 = v.t1, *tss = v.tss, *c1 = v.c1;
    char c2[37], tx[37], path[128], body[512];
    hs_uuid(c2);
    hs_uuid(tx);
    login(t1, PIN);
    snprintf(path, sizeof path, "client/%s", c2);
    json_decref(ok("PUT", path, t1, "{\"serial_number\": \"KASSE-2\"}"));

    json_decref(put_rev(t1, tx, 1, "ACTIVE", c1, "", ""));
    json_t *j = put_rev(t1, tx, 2, "ACTIVE", c1, "\"update_variant\": \"UNSIGNED\", ", "YQ==");
    assert_null(json_object_get(j, "kept_log"));
    assert_int_equal(sig_counter(j), 0);
    json_decref(j);
    json_int_t before = counter(t1);

    /* another client without the extension: refused, nothing signed */
    snprintf(path, sizeof path, "tx/%s?tx_revision=3", tx);
    snprintf(body, sizeof body, RAW_TX, "ACTIVE", c2, "", "Yg==");
    expect("PUT", tss, path, t1, body, 409, "E_TX_UPSERT/PARAMETER_MISMATCH");
    snprintf(body, sizeof body, RAW_TX, "ACTIVE", c2, "\"any_client\": \"yes\", ", "Yg==");
    expect("PUT", tss, path, t1, body, 400, "E_BAD_REQUEST");
    assert_int_equal(counter(t1), before);

    /* with it: KASSE-1's kept data in an update log of its own, then KASSE-2's */
    j = put_rev(t1, tx, 3, "ACTIVE", c2, "\"any_client\": true, ", "Yg==");
    json_t *k = json_object_get(j, "kept_log");
    assert_non_null(k);
    assert_int_equal(sig_counter(k), before + 1);
    assert_int_equal(sig_counter(j), before + 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(k, "log"), "operation")),
                        "updateTransaction");
    assert_true(strlen(json_string_value(json_object_get(json_object_get(k, "signature"), "value"))) >= 88);
    assert_string_equal(json_string_value(json_object_get(j, "client_serial_number")), "KASSE-2");
    assert_int_equal(counter(t1), before + 2);
    /* the same revision again: the stored answer, kept_log included, nothing signed */
    json_t *again = put_rev(t1, tx, 3, "ACTIVE", c2, "\"any_client\": true, ", "Yg==");
    assert_int_equal(sig_counter(json_object_get(again, "kept_log")), before + 1);
    assert_int_equal(sig_counter(again), before + 2);
    json_decref(again);
    json_decref(j);
    assert_int_equal(counter(t1), before + 2);

    /* the latest revision is KASSE-2's now: KASSE-1 needs the extension too */
    snprintf(path, sizeof path, "tx/%s?tx_revision=4", tx);
    snprintf(body, sizeof body, RAW_TX, "FINISHED", c1, "", "Yw==");
    expect("PUT", tss, path, t1, body, 409, "E_TX_UPSERT/PARAMETER_MISMATCH");
    j = put_rev(t1, tx, 4, "FINISHED", c1, "\"any_client\": true, ", "Yw==");
    assert_null(json_object_get(j, "kept_log"));   /* nothing was kept */
    assert_int_equal(sig_counter(j), before + 3);
    assert_string_equal(json_string_value(json_object_get(j, "client_serial_number")), "KASSE-1");
    json_decref(j);

    /* a finish after an unsigned update of the same client: the kept data
     * in its update log first (TR-03151-1 3.7.1.4), so the finish log holds
     * the finish's data and the answer's receipt QR code is that log's:
     * `opentse qr verify` accepts it */
    hs_uuid(tx);
    json_decref(put_rev(t1, tx, 1, "ACTIVE", c1, "", ""));
    json_decref(put_rev(t1, tx, 2, "ACTIVE", c1, "\"update_variant\": \"UNSIGNED\", ", "YQ=="));
    before = counter(t1);
    j = put_rev(t1, tx, 3, "FINISHED", c1, "", "Yw==");
    assert_int_equal(sig_counter(json_object_get(j, "kept_log")), before + 1);
    assert_int_equal(sig_counter(j), before + 2);
    expect_qr_verifies(j);
    json_decref(j);
    env_stop(&v);
}

/* The logger (TR-03153-1 v1.1.1 5.3.2.2) over the market API: without a
 * PIN every caller signs; once the admin set one (PATCH .../logger), a tx
 * PUT needs the logger logged in (.../logger/auth) and is refused, with
 * nothing signed, while nobody or the admin is (table 9). */
static void logger_pin(void **state)
{
    (void)state;
    ext_env v;
    env_start(&v, "extlogger");
    const char *t1 = v.t1, *t2 = v.t2, *tss = v.tss, *c1 = v.c1;
    char tx[37], path[128], body[512];
    hs_uuid(tx);
    json_decref(put_rev(t1, tx, 1, "ACTIVE", c1, "", ""));   /* no logger PIN: signed */

    /* the routes: tenancy, roles, malformed bodies; nothing changes */
    json_int_t before = counter(t1);
    const char *routes[][3] = {{"PATCH", "logger", "{\"new_pin\": \"97531086\"}"},
                               {"POST", "logger/auth", "{\"pin\": \"97531086\"}"},
                               {"POST", "logger/logout", NULL}};
    for (size_t i = 0; i < 3; i++) {
        expect(routes[i][0], tss, routes[i][1], t2, routes[i][2], 404, "E_TSS_NOT_FOUND");
        expect(routes[i][0], tss, routes[i][1], NULL, routes[i][2], 401, "E_UNAUTHORIZED");
    }
    expect("PATCH", tss, "logger", t1, "{\"new_pin\": \"97531086\"}", 403,
           "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");
    expect("POST", tss, "logger/auth", t1, "{\"pin\": \"97531086\"}", 409, "E_TSS_INVALID_STATE/WRONG_STATE");
    expect("POST", tss, "logger/logout", t1, NULL, 403, "E_ADMIN_NOT_AUTHENTICATED/USER_ID_NOT_AUTHENTICATED");
    login(t1, PIN);
    before = counter(t1);
    expect("PATCH", tss, "logger", t1, "{}", 400, "E_BAD_REQUEST");
    expect("PATCH", tss, "logger", t1, "{\"new_pin\": 97531086}", 400, "E_BAD_REQUEST");
    expect("PATCH", tss, "logger", t1, "{\"new_pin\": \"1\"}", 400, "E_BAD_REQUEST/INVALID_ARGUMENT");
    expect("POST", tss, "logger/auth", t1, "{\"admin_pin\": \"97531086\"}", 400, "E_BAD_REQUEST");
    assert_int_equal(counter(t1), before);

    /* the admin sets the PIN: the admin may not sign, nor may nobody */
    json_decref(ok("PATCH", "logger", t1, "{\"new_pin\": \"97531086\"}"));
    before = counter(t1);
    snprintf(path, sizeof path, "tx/%s?tx_revision=2", tx);
    snprintf(body, sizeof body, RAW_TX, "FINISHED", c1, "", "YQ==");
    expect("PUT", tss, path, t1, body, 403, "E_FORBIDDEN/USER_NOT_AUTHORIZED");
    json_decref(ok("POST", "admin/logout", t1, NULL));
    before = counter(t1);
    expect("PUT", tss, path, t1, body, 403, "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");
    char fresh[37], fpath[128];
    hs_uuid(fresh);
    snprintf(fpath, sizeof fpath, "tx/%s?tx_revision=1", fresh);
    snprintf(body, sizeof body, RAW_TX, "ACTIVE", c1, "", "");
    expect("PUT", tss, fpath, t1, body, 403, "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");
    assert_int_equal(counter(t1), before);

    /* a wrong logger PIN is counted and logged; the right one signs */
    snprintf(path, sizeof path, "/api/v2/tss/%s/logger/auth", tss);
    json_t *e = hs_json(B, "POST", path, t1, 401, "{s:s}", "pin", "00000000");
    assert_int_equal(json_integer_value(json_object_get(e, "remaining_retries")), 2);
    json_decref(e);
    assert_int_equal(counter(t1), before + 1);
    json_decref(ok("POST", "logger/auth", t1, "{\"pin\": \"97531086\"}"));
    before = counter(t1);
    json_t *j = put_rev(t1, tx, 2, "FINISHED", c1, "", "YQ==");
    assert_int_equal(sig_counter(j), before + 1);
    expect_qr_verifies(j);
    json_decref(j);
    /* the logger may not do the admin's work */
    expect("POST", tss, "delete-stored-data", t1, NULL, 403, "E_FORBIDDEN/USER_NOT_AUTHORIZED");
    json_decref(ok("POST", "logger/logout", t1, NULL));
    expect("POST", tss, "logger/logout", t1, NULL, 403, "E_ADMIN_NOT_AUTHENTICATED/USER_ID_NOT_AUTHENTICATED");
    env_stop(&v);
}

/* The TR-03151-1 v1.1.1 routes: tenancy, roles, malformed input, and what
 * they answer. */
static void v11_routes(void **state)
{
    (void)state;
    char *dir = th_path("ext11");
    srv_proc p;
    hs_start(&p, dir, NULL);
    B = p.base;
    char *op = hs_token(B, p.op_key, p.op_secret);
    char k1[64], s1[96], k2[64], s2[96];
    hs_org_key(B, op, "one", k1, s1);
    hs_org_key(B, op, "two", k2, s2);
    char *t1 = hs_token(B, k1, s1), *t2 = hs_token(B, k2, s2);
    char tss[37], client[37], unknown[37];
    hs_uuid(tss);
    hs_uuid(client);
    hs_uuid(unknown);
    tss_id = tss;
    hs_ready_tss(B, t1, tss, PIN, client, "KASSE-1");
    static const char *routes[][3] = {
        {"PUT", "description", "{\"description\": \"x\"}"},
        {"POST", "transaction-logging", "{\"locked\": true}"},
        {"GET", "device", NULL},
        {"GET", "transaction-state/1", NULL},
        {"GET", "log/last-transaction", NULL},
        {"GET", "log/last-transaction/1", NULL},
        {"GET", "logged-in-user", NULL},
    };
    json_int_t before = counter(t1);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        expect(routes[i][0], unknown, routes[i][1], t1, routes[i][2], 404, "E_TSS_NOT_FOUND");
        expect(routes[i][0], tss, routes[i][1], t2, routes[i][2], 404, "E_TSS_NOT_FOUND");
        expect(routes[i][0], tss, routes[i][1], NULL, routes[i][2], 401, "E_UNAUTHORIZED");
    }
    /* the admin is logged out */
    expect("PUT", tss, "description", t1, "{\"description\": \"Kasse 2\"}", 403, "USER_NOT_AUTHENTICATED");
    expect("POST", tss, "transaction-logging", t1, "{\"locked\": true}", 403, "USER_NOT_AUTHENTICATED");
    logged_in_is(t1, "unauthenticated");
    expect("POST", tss, "logged-in-user", t1, NULL, 404, "E_NOT_FOUND");
    expect("GET", tss, "logged-in-user/admin", t1, NULL, 404, "E_NOT_FOUND");
    assert_int_equal(counter(t1), before);

    login(t1, PIN);
    logged_in_is(t1, "admin");
    before = counter(t1);
    expect("PUT", tss, "description", t1, "{}", 400, "E_BAD_REQUEST");
    expect("PUT", tss, "description", t1, "{\"description\": 5}", 400, "E_BAD_REQUEST");
    expect("PUT", tss, "description", t1, "{\"description\": \"Kasse #2\"}", 400, "INVALID_ARGUMENT");
    expect("PUT", tss, "description", t1,
           "{\"description\": \"01234567890123456789012345678901234567890123456789012345678901234\"}", 413,
           "TOO_LARGE");
    expect("POST", tss, "transaction-logging", t1, "{}", 400, "E_BAD_REQUEST");
    expect("POST", tss, "transaction-logging", t1, "{\"locked\": \"yes\"}", 400, "E_BAD_REQUEST");
    expect("POST", tss, "transaction-logging", t1, "{\"locked\": false}", 409, "TRANSACTION_LOGGING_NOT_LOCKED");
    expect("GET", tss, "transaction-state/abc", t1, NULL, 400, "E_BAD_REQUEST");
    expect("GET", tss, "transaction-state/-1", t1, NULL, 400, "E_BAD_REQUEST");
    expect("GET", tss, "transaction-state/1", t1, NULL, 404, "TRANSACTION_NUMBER_NOT_FOUND");
    expect("GET", tss, "log/last-transaction/0", t1, NULL, 400, "E_BAD_REQUEST");
    expect("GET", tss, "log/last-transaction/x1", t1, NULL, 400, "E_BAD_REQUEST");
    expect("GET", tss, "log/last-transaction", t1, NULL, 404, "NO_LOG_MESSAGE");
    expect("POST", tss, "device", t1, NULL, 404, "E_NOT_FOUND");
    assert_int_equal(counter(t1), before);

    /* the device information: the store's figures and the components */
    json_t *d = ok("GET", "device", t1, NULL);
    json_int_t used = json_integer_value(json_object_get(d, "used_memory"));
    json_int_t free_mem = json_integer_value(json_object_get(d, "free_memory"));
    json_t *comps = json_object_get(d, "components");
    assert_true(used > 4096);
    if (getenv("OPENTSE_TEST_PG")) {
        /* pg_database_size; PostgreSQL does not tell its free space */
        assert_null(json_object_get(d, "free_memory"));   /* absent, not null */
        assert_int_equal(json_integer_value(json_object_get(d, "total_memory")), used);
    } else {
        assert_true(free_mem > 0);
        assert_int_equal(json_integer_value(json_object_get(d, "total_memory")), used + free_mem);
    }
    assert_false(json_is_true(json_object_get(d, "transaction_logging_locked")));
    /* the components info.csv names: without --device-info this build and its OpenSSL */
    assert_int_equal(json_array_size(comps), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(comps, 0), "component")), "SMAERS");
    assert_string_equal(json_string_value(json_object_get(json_array_get(comps, 0), "version")), OPENTSE_VERSION);
    assert_string_equal(json_string_value(json_object_get(json_array_get(comps, 1), "component")), "CSP");
    assert_string_equal(json_string_value(json_object_get(json_array_get(comps, 1), "certification_id")), "");
    assert_non_null(json_string_value(json_object_get(d, "time_sync_variant")));
    json_decref(d);

    /* lock, and what the other routes then say */
    json_decref(ok("POST", "transaction-logging", t1, "{\"locked\": true}"));
    assert_int_equal(counter(t1), before + 1);
    expect("POST", tss, "transaction-logging", t1, "{\"locked\": true}", 409, "TRANSACTION_LOGGING_LOCKED");
    d = ok("GET", "device", t1, NULL);
    assert_true(json_is_true(json_object_get(d, "transaction_logging_locked")));
    json_decref(d);
    json_decref(ok("POST", "transaction-logging", t1, "{\"locked\": false}"));
    json_decref(ok("PUT", "description", t1, "{\"description\": \"Kasse 2\"}"));
    assert_int_equal(counter(t1), before + 3);
    d = ok("GET", "device", t1, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "description")), "Kasse 2");
    json_decref(d);
    d = ok("GET", "log/last", t1, NULL);
    size_t len = 0;
    uint8_t *msg = hs_b64_decode(json_string_value(json_object_get(d, "log_message")), &len);
    assert_non_null(msg);
    assert_non_null(memmem(msg, len, "setDescription", 14));
    free(msg);
    json_decref(d);

    /* who is logged in, as each user logs in (one at a time) and out; asking logs nothing */
    json_decref(ok("PATCH", "time-admin", t1, "{\"new_pin\": \"24680246\"}"));
    json_decref(ok("PATCH", "logger", t1, "{\"new_pin\": \"97531975\"}"));
    json_decref(ok("POST", "time-admin/auth", t1, "{\"pin\": \"24680246\"}"));
    before = counter(t1);
    logged_in_is(t1, "timeadmin");
    json_decref(ok("POST", "logger/auth", t1, "{\"pin\": \"97531975\"}"));
    logged_in_is(t1, "logger");
    json_decref(ok("POST", "logger/logout", t1, NULL));
    logged_in_is(t1, "unauthenticated");
    assert_int_equal(counter(t1), before + 3);   /* logOut, authenticateUser, logOut */

    free(t1);
    free(t2);
    free(op);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(extension_failures),
        cmocka_unit_test(v11_routes),
        cmocka_unit_test(any_client),
        cmocka_unit_test(logger_pin),
    };
    return cmocka_run_group_tests_name("server_ext", tests, NULL, NULL);
}
