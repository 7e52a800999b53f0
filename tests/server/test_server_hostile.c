/*
 * test_server_hostile.c - opentsed against a hostile client, over real
 * HTTP: numbers that overflow or carry signs, spaces and NULs; a PATCH
 * refused halfway; fields of the wrong JSON type; a path that is not
 * UTF-8; PUK guessing (blocked, and still blocked after a restart); a full
 * disk (/ready, export jobs); the data directory's file modes; a restore of
 * an archive without logs; slow clients (heads and bodies sent a byte at a
 * time from one address) while a well-behaved client is served. Each
 * refusal is checked for its status, its
 * error code and message, and that the TSS did not change (no signature,
 * no transaction, the same description and state).
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "base/encode.h"
#include "harness.h"
#include "helpers.h"
#include "slow_peer.h"

#define PIN "24681357"

/* Sends a raw body; asserts the status, the error code and that the message
 * names `needle`. */
static void refused(const char *base, const char *method, const char *path, const char *token, const char *body,
                    long status, const char *code, const char *needle)
{
    json_t *e = NULL;
    long st = hs_call(base, method, path, token, body, body ? strlen(body) : 0, &e, NULL);
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (st != status || !msg || (needle && !strstr(msg, needle)))
        fail_msg("%s %s: got %ld %s, want %ld naming %s", method, path, st, msg ? msg : "(no message)", status,
                 needle ? needle : "-");
    hs_expect_error(e, status, code);
}

/* What must not change when a request is refused: the TSS's counters,
 * description and state. */
static void snap(const char *base, const char *token, const char *tss, char out[512])
{
    char path[200];
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = hs_json(base, "GET", path, token, 200, NULL);
    snprintf(out, 512, "sig=%lld tx=%lld open=%lld desc=%s state=%s",
             (long long)json_integer_value(json_object_get(t, "signature_counter")),
             (long long)json_integer_value(json_object_get(t, "transaction_counter")),
             (long long)json_integer_value(json_object_get(t, "number_active_transactions")),
             json_string_value(json_object_get(t, "description")), json_string_value(json_object_get(t, "state")));
    json_decref(t);
}

static void unchanged(const char *base, const char *token, const char *tss, const char *before)
{
    char now[512];
    snap(base, token, tss, now);
    assert_string_equal(now, before);
}

/* Nothing changed but one log more (a refused attempt, logged); before
 * becomes now. */
static void logged_once(const char *base, const char *token, const char *tss, char before[512])
{
    long long sig = 0;
    assert_int_equal(sscanf(before, "sig=%lld", &sig), 1);
    char want[600], now[512];
    snprintf(want, sizeof want, "sig=%lld%s", sig + 1, strchr(before, ' '));
    snap(base, token, tss, now);
    assert_string_equal(now, want);
    snprintf(before, 512, "%s", now);
}

/* The TSS's whole export (GET .../incremental-export) passes `opentse verify`: intact
 * and complete. */
static void export_verifies(const char *base, const char *token, const char *tss)
{
    const char *cli = getenv("OPENTSE_CLI");
    assert_non_null(cli);
    char url[300], auth[600], *file = th_path("hostile-export.tar"), *cmd = NULL;
    snprintf(url, sizeof url, "%s/api/v2/tss/%s/incremental-export", base, tss);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(f);
    assert_true(asprintf(&cmd, "'%s' verify --quiet '%s' >/dev/null", cli, file) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(file);
}

typedef struct world {
    srv_proc p;
    char *dir, *tok;
    char tss[37], client[37];
} world;

/* opentsed on a new data directory (th_path(name) unless `dir`), an
 * organization with its token, and a TSS ready to sign for one client. */
static void world_start(world *w, const char *name, const char *dir, const char *const *extra)
{
    w->dir = dir ? strdup(dir) : th_path(name);
    assert_non_null(w->dir);
    hs_start(&w->p, w->dir, extra);
    char *op = hs_token(w->p.base, w->p.op_key, w->p.op_secret), key[64], secret[96];
    hs_org_key(w->p.base, op, name, key, secret);
    free(op);
    w->tok = hs_token(w->p.base, key, secret);
    hs_uuid(w->tss);
    hs_uuid(w->client);
    hs_ready_tss(w->p.base, w->tok, w->tss, PIN, w->client, "KASSE-H");
}

static void world_stop(world *w)
{
    assert_int_equal(hs_stop(&w->p), 0);
    free(w->tok);
    free(w->dir);
}

/* Break 1 and 3: every number in a path or query is digits only and in
 * range; an overflowing revision can no longer stick a transaction open. */
static void numbers(void **state)
{
    (void)state;
    world w;
    world_start(&w, "hostile-num", NULL, NULL);
    const char *B = w.p.base;
    char tx[37], path[400], before[512], body[200];
    hs_uuid(tx);
    snprintf(body, sizeof body, "{\"state\": \"ACTIVE\", \"client_id\": \"%s\"}", w.client);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", w.tss, tx);
    json_decref(hs_json(B, "PUT", path, w.tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", w.client));
    snap(B, w.tok, w.tss, before);
    static const char *const revisions[] = {"99999999999999999999", "9223372036854775807", "9007199254740992",
                                            "%2B2", "%202", "2%20", "2%00", "-2", "%20-2", "0", "", "0x2", "2.0"};
    for (size_t i = 0; i < sizeof revisions / sizeof revisions[0]; i++) {
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=%s", w.tss, tx, revisions[i]);
        refused(B, "PUT", path, w.tok, body, 400, "E_BAD_REQUEST", "tx_revision");
        unchanged(B, w.tok, w.tss, before);
    }
    /* The transaction still finishes at the next revision. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", w.tss, tx);
    json_t *f = hs_json(B, "PUT", path, w.tok, 200, "{s:s, s:s}", "state", "FINISHED", "client_id", w.client);
    assert_string_equal(json_string_value(json_object_get(f, "state")), "FINISHED");
    assert_int_equal(hs_verify_tx_response(f), 0);
    json_decref(f);
    snap(B, w.tok, w.tss, before);

    /* Export filters: out of SQLite's range, signed, spaced. Not a storage failure. */
    static const char *const filters[][2] = {
        {"maximum_number_records", "9223372036854775808"}, {"start_transaction_number", "%20-1"},
        {"end_transaction_number", "-1"},                 {"transaction_number", "%2B1"},
        {"start_date", "99999999999999"},                 {"end_date", "0"},
        {"cursor", "18446744073709551616"}};
    char id[37];
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        int job = strcmp(filters[i][0], "cursor") != 0, stream = !job || i == 0;
        snprintf(path, sizeof path, "/api/v2/tss/%s/incremental-export?%s=%s", w.tss, filters[i][0], filters[i][1]);
        if (stream)   /* the incremental export takes cursor and maximum_number_records */
            refused(B, "GET", path, w.tok, NULL, 400, "E_PARAMETER", filters[i][0]);
        if (!job)
            continue;
        /* no export job is made of it */
        hs_uuid(id);
        snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s?%s=%s", w.tss, id, filters[i][0], filters[i][1]);
        refused(B, "PUT", path, w.tok, NULL, 400, "E_PARAMETER", filters[i][0]);
        snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s", w.tss, id);
        refused(B, "GET", path, w.tok, NULL, 404, "E_EXPORT_NOT_FOUND", id);
    }
    /* Paging and the log counter in the path. */
    refused(B, "GET", "/api/v2/tss?limit=%2B5", w.tok, NULL, 400, "E_BAD_REQUEST", "limit");
    refused(B, "GET", "/api/v2/tss?offset=99999999999999999999", w.tok, NULL, 400, "E_BAD_REQUEST", "offset");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx?limit=1%%00", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "limit");
    snprintf(path, sizeof path, "/api/v2/tss/%s/log/%%2B1", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "signature counter");
    snprintf(path, sizeof path, "/api/v2/tss/%s/log/18446744073709551617", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "signature counter");
    char *op = hs_token(B, w.p.op_key, w.p.op_secret);
    refused(B, "GET", "/api/v2/organizations/%2B1/api-keys", op, NULL, 400, "E_BAD_REQUEST", "organization id");
    refused(B, "POST", "/api/v2/organizations/1%20/api-keys", op, "{}", 400, "E_BAD_REQUEST", "organization id");
    free(op);
    unchanged(B, w.tok, w.tss, before);
    export_verifies(B, w.tok, w.tss);
    world_stop(&w);
}

/* Break 2 and 4: a refused PATCH changes nothing; a field of the wrong type
 * is a 400 naming it. */
static void types_and_patch(void **state)
{
    (void)state;
    world w;
    world_start(&w, "hostile-types", NULL, NULL);
    const char *B = w.p.base;
    char path[400], before[512], body[800], tx[37];
    snprintf(path, sizeof path, "/api/v2/tss/%s", w.tss);
    json_decref(hs_json(B, "PATCH", path, w.tok, 200, "{s:s}", "description", "front desk"));
    snap(B, w.tok, w.tss, before);
    assert_non_null(strstr(before, "desc=front desk state=INITIALIZED"));
    /* The admin is logged out: the state change is refused, and so is the description with it. */
    refused(B, "PATCH", path, w.tok, "{\"description\": \"X\", \"state\": \"DISABLED\"}", 403,
            "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED", NULL);
    unchanged(B, w.tok, w.tss, before);
    refused(B, "PATCH", path, w.tok, "{\"description\": 5}", 400, "E_BAD_REQUEST", "description");
    refused(B, "PATCH", path, w.tok, "{\"description\": \"Y\", \"state\": true}", 400, "E_BAD_REQUEST", "state");
    unchanged(B, w.tok, w.tss, before);

    /* currency_code (and every other field) of the wrong type. */
    static const char *const wrong[] = {"5", "null", "[\"EUR\"]", "{\"c\": \"EUR\"}", "true"};
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", w.tss, tx);
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": {\"receipt\": "
                 "{\"receipt_type\": \"RECEIPT\", \"amounts_per_vat_rate\": [{\"vat_rate\": \"NORMAL\", \"amount\": "
                 "\"1.00\"}], \"amounts_per_payment_type\": [{\"payment_type\": \"CASH\", \"amount\": \"1.00\", "
                 "\"currency_code\": %s}]}}}}",
                 w.client, wrong[i]);
        refused(B, "PUT", path, w.tok, body, 400, "E_BAD_REQUEST", "amounts_per_payment_type[0].currency_code");
        unchanged(B, w.tok, w.tss, before);
    }
    static const char *const fields[][2] = {
        {"{\"state\": 1, \"client_id\": \"%s\"}", "state"},
        {"{\"state\": \"ACTIVE\", \"client_id\": [\"%s\"]}", "client_id"},
        {"{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": \"raw\"}", "schema"},
        {"{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"additional_data\": 12}", "additional_data"},
        {"{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"update_variant\": null}", "update_variant"},
        {"{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"raw\": {\"process_type\": 1, "
         "\"process_data\": \"\"}}}",
         "schema.raw.process_type"},
        {"{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"raw\": {\"process_type\": \"x\", "
         "\"process_data\": {}}}}",
         "schema.raw.process_data"},
        {"{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": {\"receipt\": "
         "{\"receipt_type\": \"RECEIPT\", \"amounts_per_vat_rate\": {}}}}}",
         "amounts_per_vat_rate"},
        {"{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": {\"receipt\": "
         "{\"receipt_type\": \"RECEIPT\", \"amounts_per_vat_rate\": [{\"vat_rate\": \"NORMAL\", \"amount\": 1}]}}}}",
         "amounts_per_vat_rate[0].amount"},
        {"{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": {\"receipt\": "
         "{\"receipt_type\": \"RECEIPT\", \"amounts_per_payment_type\": [7]}}}}",
         "amounts_per_payment_type[0]"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        snprintf(body, sizeof body, fields[i][0], w.client);
        refused(B, "PUT", path, w.tok, body, 400, "E_BAD_REQUEST", fields[i][1]);
        unchanged(B, w.tok, w.tss, before);
    }
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin", w.tss);
    refused(B, "PATCH", path, w.tok, "{\"admin_puk\": 1234567890, \"new_admin_pin\": \"12345678\"}", 400,
            "E_BAD_REQUEST", "admin_puk");
    unchanged(B, w.tok, w.tss, before);
    /* A string receipt field is still signed with its currency. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", w.tss, tx);
    snprintf(body, sizeof body,
             "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": {\"receipt\": "
             "{\"receipt_type\": \"RECEIPT\", \"amounts_per_payment_type\": [{\"payment_type\": \"CASH\", "
             "\"amount\": \"1.00\", \"currency_code\": \"USD\"}]}}}}",
             w.client);
    json_t *ok = NULL;
    assert_int_equal(hs_call(B, "PUT", path, w.tok, body, strlen(body), &ok, NULL), 200);
    size_t pd_len = 0;
    uint8_t *pd = hs_b64_decode(json_string_value(json_object_get(ok, "process_data")), &pd_len);
    assert_non_null(pd);
    assert_non_null(memmem(pd, pd_len, "1.00:Bar:USD", 12));
    free(pd);
    json_decref(ok);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", w.tss, tx);
    json_decref(hs_json(B, "PUT", path, w.tok, 200, "{s:s, s:s}", "state", "CANCELLED", "client_id", w.client));
    export_verifies(B, w.tok, w.tss);
    world_stop(&w);
}

/* Break 5: a path that is not UTF-8 is a clean 400 with an access-log line. */
static void utf8_path(void **state)
{
    (void)state;
    char *log = th_path("hostile-utf8.log");
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    fflush(stderr);
    dup2(fd, 2); /* the server inherits it as its stderr, the access log */
    close(fd);
    world w;
    const char *args[] = {"--access-log", "1", NULL};
    world_start(&w, "hostile-utf8", NULL, args);
    dup2(saved, 2);
    close(saved);
    const char *B = w.p.base;
    char path[300], before[512];
    snap(B, w.tok, w.tss, before);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%%ff%%fe", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "/tx/%FF%FE");
    refused(B, "PUT", path, w.tok, "{}", 400, "E_BAD_REQUEST", "not valid UTF-8");
    /* an overlong '/' and a surrogate */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%%c0%%af", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "%C0%AF");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%%ed%%a0%%80", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "%ED%A0%80");
    /* a bad byte in a query value quoted by a message */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx?states[]=%%ff", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "in states");
    /* valid UTF-8 is routed as before: the transaction route answers it */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%%c3%%a4", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "its id (a UUID) or its number");
    /* %00 cuts nothing short: the TSS, a transaction id, a query name */
    char tx[37];
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s%%00junk", w.tss);
    refused(B, "GET", path, w.tok, NULL, 400, "E_BAD_REQUEST", "not valid UTF-8");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s%%00x?tx_revision=1", w.tss, tx);
    refused(B, "PUT", path, w.tok, "{\"state\":\"ACTIVE\"}", 400, "E_BAD_REQUEST", "not valid UTF-8");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision%%00x=1", w.tss, tx);
    char body[200];
    snprintf(body, sizeof body, "{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}", w.client);
    refused(B, "PUT", path, w.tok, body, 400, "E_BAD_REQUEST", "tx_revision");
    /* the last revision of JSON's integers would leave a transaction that can never be finished */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=9007199254740991", w.tss, tx);
    refused(B, "PUT", path, w.tok, body, 400, "E_BAD_REQUEST", "no revision to finish");
    unchanged(B, w.tok, w.tss, before);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", w.tss, tx);
    json_decref(hs_json(B, "PUT", path, w.tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", w.client));
    snap(B, w.tok, w.tss, before);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=9007199254740991", w.tss, tx);
    refused(B, "PUT", path, w.tok, body, 400, "E_BAD_REQUEST", "no revision to finish");
    unchanged(B, w.tok, w.tss, before);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=9007199254740990", w.tss, tx);
    json_decref(hs_json(B, "PUT", path, w.tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", w.client));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=9007199254740991", w.tss, tx);
    json_t *fin = hs_json(B, "PUT", path, w.tok, 200, "{s:s, s:s}", "state", "FINISHED", "client_id", w.client);
    assert_string_equal(json_string_value(json_object_get(fin, "state")), "FINISHED");
    json_decref(fin);
    snap(B, w.tok, w.tss, before);
    export_verifies(B, w.tok, w.tss);
    world_stop(&w);
    size_t len = 0;
    char *text = (char *)th_read_file(log, &len);
    assert_non_null(text);
    int lines = 0;
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        json_t *j = json_loads(l, 0, NULL);
        const char *p = json_string_value(json_object_get(j, "path"));
        if (p && strstr(p, "/tx/%FF%FE")) {
            assert_int_equal(json_integer_value(json_object_get(j, "status")), 400);
            lines++;
        }
        json_decref(j);
    }
    assert_int_equal(lines, 2);
    free(text);
    free(log);

    /* files an older release left readable by others are owner only after a start */
    char *dir = th_path("hostile-modes"), *file = NULL;
    hs_start(&w.p, dir, NULL);
    hs_stop(&w.p);
    assert_true(asprintf(&file, "%s/opentse.db", dir) > 0);
    assert_int_equal(chmod(file, 0644), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    hs_start(&w.p, dir, NULL);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    hs_stop(&w.p);
    free(file);
    free(dir);
}

/* Break 6: three wrong PUKs in a row block the PUK (TR-03151-1 3.2.5 step 4,
 * ErrorPukTemporarilyBlocked): the right one is refused too, without a
 * signature, and a restart does not lift the block. */
static void puk_guessing(void **state)
{
    (void)state;
    char *dir = th_path("hostile-puk");
    srv_proc p;
    hs_start(&p, dir, NULL);
    char *op = hs_token(p.base, p.op_key, p.op_secret), key[64], secret[96], tss[37], path[300], before[512];
    hs_org_key(p.base, op, "puk", key, secret);
    char *tok = hs_token(p.base, key, secret);
    hs_uuid(tss);
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = hs_json(p.base, "PUT", path, tok, 200, "{}");
    char puk[32];
    snprintf(puk, sizeof puk, "%s", json_string_value(json_object_get(t, "admin_puk")));
    json_decref(t);
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin", tss);
    for (int i = 0; i < 3; i++) {
        snap(p.base, tok, tss, before);
        refused(p.base, "PATCH", path, tok, "{\"admin_puk\": \"0000000000\", \"new_admin_pin\": \"" PIN "\"}", 401,
                "E_PUK_INVALID/UNBLOCK_FAILED", i < 2 ? "PUK is wrong" : "blocked for 60 s");
        /* each wrong PUK is a signed unblockUser log */
        char now[512];
        snap(p.base, tok, tss, now);
        assert_string_not_equal(now, before);
    }
    snap(p.base, tok, tss, before);
    char body[200];
    snprintf(body, sizeof body, "{\"admin_puk\": \"%s\", \"new_admin_pin\": \"%s\"}", puk, PIN);
    for (int restart = 0; restart < 2; restart++) {
        json_t *e = NULL;
        char *hdr = NULL;
        assert_int_equal(hs_call(p.base, "PATCH", path, tok, body, strlen(body), &e, &hdr), 403);
        assert_non_null(strstr(hdr, "Retry-After: "));
        long after = strtol(strstr(hdr, "Retry-After: ") + 13, NULL, 10);
        assert_true(after > 0 && after <= 60);
        assert_int_equal(json_integer_value(json_object_get(e, "retry_after")), after);
        assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "temporarily blocked"));
        hs_expect_error(e, 403, "E_PUK_BLOCKED/PUK_TEMPORARILY_BLOCKED");
        free(hdr);
        logged_once(p.base, tok, tss, before);   /* unblockingTemporarilyBlocked, TR-03151-1 3.2.5.5 step 4 */
        /* the time admin's unblock shares the PUK */
        char tpath[300];
        snprintf(tpath, sizeof tpath, "/api/v2/tss/%s/time-admin", tss);
        snprintf(body, sizeof body, "{\"admin_puk\": \"%s\", \"new_pin\": \"%s\"}", puk, PIN);
        refused(p.base, "PATCH", tpath, tok, body, 403, "E_PUK_BLOCKED/PUK_TEMPORARILY_BLOCKED", "temporarily blocked");
        logged_once(p.base, tok, tss, before);
        snprintf(body, sizeof body, "{\"admin_puk\": \"%s\", \"new_admin_pin\": \"%s\"}", puk, PIN);
        assert_int_equal(hs_stop(&p), 0);
        hs_start(&p, dir, NULL);
        free(tok);
        tok = hs_token(p.base, key, secret);
        snap(p.base, tok, tss, before); /* opening the TSS again logs its self-test */
    }
    assert_int_equal(hs_stop(&p), 0);
    free(op);
    free(tok);
    free(dir);
}

static int bad_modes;

static int check_mode(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    mode_t want = flag == FTW_D || flag == FTW_DP ? 0700 : 0600;
    if ((st->st_mode & 07777) != want && !S_ISSOCK(st->st_mode)) {
        print_error("%s has mode %o, want %o\n", path, (unsigned)(st->st_mode & 07777), (unsigned)want);
        bad_modes++;
    }
    return 0;
}

/* Break 9: a full disk makes /ready 503 and an export job 503; the data
 * directory is the owner's only; a restore of an archive without logs is
 * refused. */
static char *mnt;

/* A failed assertion leaves the tmpfs mounted: take it away. */
static int unmount_disk(void **state)
{
    (void)state;
    if (mnt)
        umount2(mnt, MNT_DETACH);
    free(mnt);
    mnt = NULL;
    return 0;
}

static void full_disk(void **state)
{
    (void)state;
    mnt = th_path("hostile-disk");
    assert_int_equal(mkdir(mnt, 0700), 0);
    assert_int_equal(mount("tmpfs", mnt, "tmpfs", 0, "size=24m"), 0);
    char *dir = NULL, *filler = NULL, path[400], before[512], id[37];
    assert_true(asprintf(&dir, "%s/data", mnt) > 0);
    assert_true(asprintf(&filler, "%s/filler", mnt) > 0);
    world w;
    world_start(&w, "hostile-disk", dir, NULL);
    const char *B = w.p.base, *tok = w.tok, *tss = w.tss;
    json_decref(hs_json(B, "GET", "/ready", NULL, 200, NULL));
    /* One export job that completes, so exports/ has its files. */
    hs_uuid(id);
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s", tss, id);
    json_decref(hs_json(B, "PUT", path, tok, 200, NULL));
    for (int i = 0; i < 100; i++) {
        json_t *j = hs_json(B, "GET", path, tok, 200, NULL);
        int done = strcmp(json_string_value(json_object_get(j, "state")), "COMPLETED") == 0;
        json_decref(j);
        if (done)
            break;
        usleep(100000);
    }
    bad_modes = 0;
    assert_int_equal(nftw(dir, check_mode, 16, FTW_PHYS), 0);
    assert_int_equal(bad_modes, 0);

    /* A restore of an all-zero TAR (an archive with no entries) is refused. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    snap(B, tok, tss, before);
    static const uint8_t zeros[10240];
    char *b64 = base64_encode_alloc(zeros, sizeof zeros);
    assert_non_null(b64);
    char *body = NULL;
    assert_true(asprintf(&body, "{\"archives\": [\"%s\"]}", b64) > 0);
    snprintf(path, sizeof path, "/api/v2/tss/%s/restore", tss);
    refused(B, "POST", path, tok, body, 409, "E_CONFLICT/RESTORE_FAILED", "no log messages");
    unchanged(B, tok, tss, before);
    free(body);
    free(b64);

    /* Fill the disk. */
    FILE *f = fopen(filler, "w");
    assert_non_null(f);
    static char chunk[4096];
    while (fwrite(chunk, 1, sizeof chunk, f) == sizeof chunk)
        ;
    fclose(f);
    refused(B, "GET", "/ready", NULL, NULL, 503, "E_NOT_READY", "full");
    hs_uuid(id);
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s", tss, id);
    refused(B, "PUT", path, tok, NULL, 503, "E_SERVICE_UNAVAILABLE/STORAGE_FAILURE", "export");
    refused(B, "GET", path, tok, NULL, 404, "E_EXPORT_NOT_FOUND", id);
    unchanged(B, tok, tss, before);
    /* Space again: ready, and the job can be made. */
    assert_int_equal(unlink(filler), 0);
    json_decref(hs_json(B, "GET", "/ready", NULL, 200, NULL));
    json_decref(hs_json(B, "PUT", path, tok, 200, NULL));
    world_stop(&w);
    bad_modes = 0;
    assert_int_equal(nftw(dir, check_mode, 16, FTW_PHYS), 0);
    assert_int_equal(bad_modes, 0);
    assert_int_equal(umount2(mnt, MNT_DETACH), 0);
    free(mnt);
    mnt = NULL;
    free(dir);
    free(filler);
}

static long long counter(const char *base, const char *token, const char *tss, const char *name)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = hs_json(base, "GET", path, token, 200, NULL);
    long long v = json_integer_value(json_object_get(t, name));
    json_decref(t);
    return v;
}

/* GET /health from 127.0.0.2, the attacker's address. */
static long health_from_attacker(const char *base)
{
    char url[200];
    snprintf(url, sizeof url, "%s/health", base);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_INTERFACE, "host!127.0.0.2");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
    long st = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(c);
    fclose(null);
    return st;
}

/* Break 7: 40 connections from one address (more than max-connections)
 * send their heads or their bodies a byte every 100 ms and reopen when
 * closed. The address gets per-ip-connections of the slots, the rest stay
 * for others: /health and a signed transaction from another address
 * succeed. The server closes every slow connection at its deadline although
 * it keeps sending, without an answer; the slow bodies (transaction starts)
 * sign nothing; afterwards the attacker's address is served again. */
static void slow_clients(void **state)
{
    (void)state;
    static const char *const extra[] = {"--max-connections", "16", "--per-ip-connections", "6", "--header-timeout",
                                        "1", "--body-timeout", "1", NULL};
    world w;
    world_start(&w, "hostile-slow", NULL, extra);
    const char *B = w.p.base;
    long long sig0 = counter(B, w.tok, w.tss, "signature_counter"), tx0 = counter(B, w.tok, w.tss, "transaction_counter");
    char tx[37], path[400], auth[600];
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", w.tss, tx);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", w.tok);
    slow_attack *a = slow_start(atoi(strrchr(B, ':') + 1), 40, 1, 100, path, auth, 300);
    assert_non_null(a);
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL); /* the attacker holds its slots */

    char mine[37];
    for (int i = 0; i < 20; i++) {
        json_t *h = NULL;
        assert_int_equal(hs_call(B, "GET", "/health", NULL, NULL, 0, &h, NULL), 200);
        json_decref(h);
    }
    hs_uuid(mine);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", w.tss, mine);
    json_t *t = hs_json(B, "PUT", path, w.tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", w.client);
    assert_int_equal(hs_verify_tx_response(t), 0);
    json_decref(t);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", w.tss, mine);
    t = hs_json(B, "PUT", path, w.tok, 200, "{s:s, s:s}", "state", "FINISHED", "client_id", w.client);
    assert_string_equal(json_string_value(json_object_get(t, "state")), "FINISHED");
    assert_int_equal(hs_verify_tx_response(t), 0);
    json_decref(t);
    nanosleep(&pause, NULL);

    slow_stats st;
    slow_stop(a, 10, &st); /* keeps sending until the server closes each */
    print_message("slow clients: %ld connections, %ld closed by the server, %ld answered, %ld open\n", st.opened,
                  st.closed, st.answered, st.open);
    assert_true(st.opened >= 40);
    assert_int_equal(st.open, 0);
    assert_int_equal(st.closed, st.opened);
    assert_int_equal(st.answered, 0);
    /* only the well-behaved transaction was signed: its start and finish */
    assert_int_equal(counter(B, w.tok, w.tss, "signature_counter"), sig0 + 2);
    assert_int_equal(counter(B, w.tok, w.tss, "transaction_counter"), tx0 + 1);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", w.tss, tx);
    refused(B, "GET", path, w.tok, NULL, 404, NULL, NULL);
    assert_int_equal(health_from_attacker(B), 200);
    export_verifies(B, w.tok, w.tss);
    world_stop(&w);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers),      cmocka_unit_test(types_and_patch), cmocka_unit_test(utf8_path),
        cmocka_unit_test(puk_guessing), cmocka_unit_test_teardown(full_disk, unmount_disk),
        cmocka_unit_test(slow_clients),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
