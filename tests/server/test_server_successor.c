/*
 * test_server_successor.c - a successor whose creation is cut short is
 * never left half set up: against a real opentsed on the embedded store,
 * the store refuses (a trigger the test puts into opentse.db, as a full
 * disk or a failing write would) first the successor's first log, then its
 * client registrations. Each time the successor stays linked to the old
 * TSS with the old TSS's admin PIN, the old TSS keeps signing, and the same
 * call again completes the same successor: initialized, every client
 * registered, the old TSS retired. A wrong PIN on the resumed call changes
 * nothing. A retirement that waits for an open transaction is done by the
 * server itself once it finishes, also after a restart.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "harness.h"
#include "helpers.h"

static void sql(const char *db, const char *text)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    char *err = NULL;
    int rc = sqlite3_exec(h, text, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", text, err ? err : "?");
    sqlite3_close(h);
}

static const char *str(json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

/* The successor call that fails: an error answer naming the store's
 * refusal, the link there, the old TSS still initialized. */
static void cut_short(const char *B, const char *tok, const char *old, const char *body, const char *next,
                      bool made)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v2/tss/%s/successor", old);
    json_t *e = NULL;
    long st = hs_call(B, "POST", path, tok, body, strlen(body), &e, NULL);
    if (st < 500)   /* a negative status: curl's error (the server did not answer) */
        fail_msg("the successor call answered %ld, not an error of the store", st);
    assert_non_null(strstr(str(e, "message"), "injected failure"));
    if (made) {   /* the call that made it shows its PUK, even in its error */
        assert_string_equal(str(e, "successor"), next);
        assert_int_equal(strspn(str(e, "admin_puk"), "0123456789"), TSE_PUK_LEN);
    } else {
        assert_null(json_object_get(e, "admin_puk"));
    }
    json_decref(e);
    snprintf(path, sizeof path, "/api/v2/tss/%s", old);
    json_t *o = hs_json(B, "GET", path, tok, 200, NULL);
    assert_string_equal(str(o, "state"), "INITIALIZED");
    assert_string_equal(str(o, "successor"), next);
    json_decref(o);
}

/* The successor as the cut-short call left it: linked, in want_state, no clients. */
static void half_made(const char *B, const char *tok, const char *old, const char *next, const char *want_state)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v2/tss/%s", next);
    json_t *n = hs_json(B, "GET", path, tok, 200, NULL);
    assert_string_equal(str(n, "state"), want_state);
    assert_string_equal(str(n, "predecessor"), old);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client", next);
    json_t *c = hs_json(B, "GET", path, tok, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(c, "data")), 0);
    json_decref(n);
    json_decref(c);
}

/* A finished transaction on TSS tss for client cl. */
static void sign(const char *B, const char *tok, const char *tss, const char *cl)
{
    char path[300], tx[37];
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", cl));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, tx);
    json_decref(hs_json(B, "PUT", path, tok, 200,
                        "{s:s, s:s, s:{s:{s:{s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}}}}", "state", "FINISHED", "client_id",
                        cl, "schema", "standard_v1", "receipt", "receipt_type", "RECEIPT", "amounts_per_vat_rate",
                        "vat_rate", "NORMAL", "amount", "1.00", "amounts_per_payment_type", "payment_type", "CASH",
                        "amount", "1.00"));
}

static void resumed(void **state)
{
    (void)state;
    srv_proc p;
    char *dir = th_path("successor-resume"), *tok = NULL, db[700], next[37], body[200], trig[600];
    json_t *demo = hs_start_demo(&p, dir, &tok);
    const char *B = p.base, *old = str(demo, "tss_id"), *cl = str(demo, "client_id"), *pin = str(demo, "admin_pin");
    snprintf(db, sizeof db, "%s/opentse.db", dir);
    hs_uuid(next);
    sign(B, tok, old, cl);

    /* 1: the successor's first log (its admin's login) is refused */
    snprintf(trig, sizeof trig,
             "CREATE TRIGGER cut BEFORE INSERT ON logs WHEN NEW.tse = (SELECT id FROM tses WHERE name = '%s') "
             "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
             next);
    sql(db, trig);
    snprintf(body, sizeof body, "{\"admin_pin\": \"%s\", \"successor_id\": \"%s\"}", pin, next);
    cut_short(B, tok, old, body, next, true);
    sign(B, tok, old, cl);   /* the old TSS goes on signing */

    /* 2: its client registrations are refused */
    sql(db, "DROP TRIGGER cut; CREATE TRIGGER cut BEFORE INSERT ON clients "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
    half_made(B, tok, old, next, "UNINITIALIZED");   /* its admin PIN is the old one's */
    snprintf(body, sizeof body, "{\"admin_pin\": \"%s\"}", pin);
    cut_short(B, tok, old, body, next, false);
    half_made(B, tok, old, next, "INITIALIZED");

    /* a wrong PIN changes nothing */
    char path[200];
    snprintf(path, sizeof path, "/api/v2/tss/%s/successor", old);
    json_t *e = NULL;
    assert_int_equal(hs_call(B, "POST", path, tok, "{\"admin_pin\": \"99999999\"}", 25, &e, NULL), 401);
    json_decref(e);

    /* 3: the same call completes the same successor and retires the old TSS */
    sql(db, "DROP TRIGGER cut;");
    json_t *s = hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", pin);
    assert_string_equal(str(s, "_id"), next);
    assert_string_equal(str(s, "state"), "INITIALIZED");
    assert_string_equal(str(s, "predecessor"), old);
    assert_null(json_object_get(s, "admin_puk"));   /* shown by the call that made it only */
    assert_string_equal(str(json_object_get(s, "retirement"), "state"), "DISABLED");
    snprintf(path, sizeof path, "/api/v2/tss/%s/client", next);
    json_t *c = hs_json(B, "GET", path, tok, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(c, "data")), 1);
    assert_string_equal(str(json_array_get(json_object_get(c, "data"), 0), "_id"), cl);
    sign(B, tok, next, cl);   /* the register goes on with the successor */
    snprintf(path, sizeof path, "/api/v2/tss/%s", old);
    json_t *o = hs_json(B, "GET", path, tok, 200, NULL);
    assert_string_equal(str(o, "state"), "DISABLED");
    assert_string_equal(str(o, "successor"), next);

    /* exactly two TSSs: nothing half-made besides */
    json_t *all = hs_json(B, "GET", "/api/v2/tss", tok, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(all, "data")), 2);

    json_decref(s);
    json_decref(c);
    json_decref(o);
    json_decref(all);
    json_decref(demo);
    free(tok);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

/* The state of TSS id. */
static char *state_of(const char *B, const char *tok, const char *id)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v2/tss/%s", id);
    json_t *t = hs_json(B, "GET", path, tok, 200, NULL);
    char *st = strdup(str(t, "state"));
    json_decref(t);
    return st;
}

/* A retirement waiting for an open transaction survives a restart: once
 * the transaction finishes, the old TSS is exported, verified and disabled
 * without another call; the call again answers that export. */
static void waits_across_restart(void **state)
{
    (void)state;
    srv_proc p;
    char *dir = th_path("successor-wait"), *tok = NULL, path[300], tx[37];
    json_t *demo = hs_start_demo(&p, dir, &tok);
    const char *old = str(demo, "tss_id"), *cl = str(demo, "client_id"), *pin = str(demo, "admin_pin");
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", old, tx);
    json_decref(hs_json(p.base, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", cl));
    snprintf(path, sizeof path, "/api/v2/tss/%s/successor", old);
    json_t *s = hs_json(p.base, "POST", path, tok, 200, "{s:s}", "admin_pin", pin);
    json_t *ret = json_object_get(s, "retirement");
    assert_string_equal(str(ret, "state"), "WAITING_FOR_OPEN_TRANSACTIONS");
    assert_int_equal(json_integer_value(json_object_get(ret, "open_transactions")), 1);
    char next[40];
    snprintf(next, sizeof next, "%s", str(s, "_id"));
    json_decref(s);

    assert_int_equal(hs_stop(&p), 0);
    hs_start(&p, dir, NULL);
    free(tok);
    tok = hs_token(p.base, str(demo, "api_key"), str(demo, "api_secret"));
    char *st = state_of(p.base, tok, old);
    assert_string_equal(st, "INITIALIZED");   /* the transaction is still open */
    free(st);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", old, tx);
    json_decref(hs_json(p.base, "PUT", path, tok, 200, "{s:s, s:s}", "state", "CANCELLED", "client_id", cl));
    for (int i = 0; i < 200; i++) {
        st = state_of(p.base, tok, old);
        if (!strcmp(st, "DISABLED"))
            break;
        free(st);
        st = NULL;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_non_null(st);
    assert_string_equal(st, "DISABLED");
    free(st);

    /* the call again: the same successor and the final export, verified */
    snprintf(path, sizeof path, "/api/v2/tss/%s/successor", old);
    s = hs_json(p.base, "POST", path, tok, 200, "{s:s}", "admin_pin", pin);
    assert_string_equal(str(s, "_id"), next);
    ret = json_object_get(s, "retirement");
    assert_string_equal(str(ret, "state"), "DISABLED");
    assert_int_equal(json_integer_value(json_object_get(ret, "verify_errors")), 0);
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s", old, str(ret, "export_id"));
    json_t *ex = hs_json(p.base, "GET", path, tok, 200, NULL);
    assert_string_equal(str(ex, "state"), "COMPLETED");
    assert_int_equal(json_integer_value(json_object_get(ex, "logs")), json_integer_value(json_object_get(ret, "logs")));
    char tar[900], cmd[2000];
    snprintf(tar, sizeof tar, "%s/exports/%s/%s.tar", dir, old, str(ret, "export_id"));
    snprintf(cmd, sizeof cmd, "'%s' verify '%s' >/dev/null", getenv("OPENTSE_CLI"), tar);
    assert_int_equal(system(cmd), 0);
    json_decref(ex);
    json_decref(s);
    json_decref(demo);
    free(tok);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {cmocka_unit_test(resumed), cmocka_unit_test(waits_across_restart)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
