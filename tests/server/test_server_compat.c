/*
 * test_server_compat.c - opentsed as integrations written for the market
 * API (the fiskaly SIGN DE v2 API) read it, over real HTTP: the resource
 * envelope (_type, _id, _env, _version), no field that is null anywhere in
 * a TSS, client, organization, API key or auth answer, the TEST and LIVE
 * environments kept apart, metadata on TSSs and clients with its own
 * routes and limits, create bodies of {} and [], the auth answer's
 * access_token_claims, client conflicts, GET /api/v2/client and the three
 * spellings of the states filter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "helpers.h"

#define PIN "13572468"

static const char *B;

/* Fails naming the first null in the tree of j (path in `at`). */
static void no_nulls(json_t *j, const char *at)
{
    const char *k;
    json_t *v;
    size_t i;
    char sub[512];
    if (json_is_null(j))
        fail_msg("%s is null", at);
    json_object_foreach(j, k, v) {
        snprintf(sub, sizeof sub, "%s.%s", at, k);
        no_nulls(v, sub);
    }
    json_array_foreach(j, i, v) {
        snprintf(sub, sizeof sub, "%s[%zu]", at, i);
        no_nulls(v, sub);
    }
}

/* METHOD path with a raw body; asserts the status and that no field of the
 * answer is null; returns the answer. */
static json_t *call(const char *method, const char *path, const char *tok, const char *body, long want)
{
    json_t *j = NULL;
    long st = hs_call(B, method, path, tok, body, body ? strlen(body) : 0, &j, NULL);
    if (st != want)
        fail_msg("%s %s: %ld, not %ld (%s)", method, path, st, want, json_string_value(json_object_get(j, "message")));
    assert_non_null(j);
    no_nulls(j, path);
    return j;
}

/* call() for an error: its code, and its message naming `needle`. */
static void refused(const char *method, const char *path, const char *tok, const char *body, long want,
                    const char *code, const char *needle)
{
    json_t *e = call(method, path, tok, body, want);
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (needle && (!msg || !strstr(msg, needle)))
        fail_msg("%s %s: message \"%s\" does not name %s", method, path, msg ? msg : "", needle);
    hs_expect_error(e, want, code);
}

static const char *str(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    if (!v)
        fail_msg("%s is not a string", k);
    return v;
}

/* The envelope of a resource answer. */
static void envelope(json_t *j, const char *type, const char *id, const char *env)
{
    assert_string_equal(str(j, "_type"), type);
    if (id)
        assert_string_equal(str(j, "_id"), id);
    assert_string_equal(str(j, "_env"), env);
    const char *ver = str(j, "_version");
    assert_true(ver[0] >= '2' && strchr(ver, '.'));
}

/* An API key of organization org in env (NULL: the default). */
static void key_of(const char *op, long long org, const char *env, char key[64], char secret[96])
{
    char path[128], body[64];
    snprintf(path, sizeof path, "/api/v2/organizations/%lld/api-keys", org);
    snprintf(body, sizeof body, "{\"env\": \"%s\"}", env ? env : "");
    json_t *k = call("POST", path, op, env ? body : NULL, 200);
    assert_string_equal(str(k, "env"), env ? env : "LIVE");
    snprintf(key, 64, "%s", str(k, "key"));
    snprintf(secret, 96, "%s", str(k, "secret"));
    json_decref(k);
}

/* POST /api/v2/auth: the answer as the market API gives it; the token. */
static char *auth(const char *key, const char *secret, const char *env, long long org)
{
    char body[256];
    snprintf(body, sizeof body, "{\"api_key\": \"%s\", \"api_secret\": \"%s\"}", key, secret);
    json_t *a = call("POST", "/api/v2/auth", NULL, body, 200);
    json_t *c = json_object_get(a, "access_token_claims");
    assert_true(json_is_object(c));
    assert_string_equal(str(c, "env"), env);
    char o[24];
    snprintf(o, sizeof o, "%lld", org);
    assert_string_equal(str(c, "organization_id"), o);
    assert_true(json_integer_value(json_object_get(a, "access_token_expires_in")) > 0);
    assert_true(json_integer_value(json_object_get(a, "access_token_expires_at")) > 1700000000);
    assert_true(json_integer_value(json_object_get(a, "refresh_token_expires_at")) >
                json_integer_value(json_object_get(a, "access_token_expires_at")));
    /* the refresh token gives a token of the same environment */
    snprintf(body, sizeof body, "{\"refresh_token\": \"%s\"}", str(a, "refresh_token"));
    json_t *r = call("POST", "/api/v2/auth", NULL, body, 200);
    assert_string_equal(str(json_object_get(r, "access_token_claims"), "env"), env);
    json_decref(r);
    char *tok = strdup(str(a, "access_token"));
    json_decref(a);
    return tok;
}

/* Starts opentsed on a fresh directory `name` (into *dir); the operator's token. */
static char *start(srv_proc *p, const char *name, char **dir)
{
    *dir = th_path(name);
    hs_start(p, *dir, NULL);
    B = p->base;
    return hs_token(B, p->op_key, p->op_secret);
}

static long long new_org(const char *op, const char *name)
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\": \"%s\"}", name);
    json_t *o = call("POST", "/api/v2/organizations", op, body, 200);
    long long id = json_integer_value(json_object_get(o, "_id"));
    json_decref(o);
    return id;
}

/* Every TSS in list j has `env`; whether `id` is among them. */
static int listed(json_t *j, const char *id, const char *env)
{
    json_t *v;
    size_t i;
    int found = 0;
    json_array_foreach(json_object_get(j, "data"), i, v) {
        assert_string_equal(str(v, "_env"), env);
        found |= strcmp(str(v, "_id"), id) == 0;
    }
    return found;
}

static void environments(void **state)
{
    (void)state;
    char *dir;
    srv_proc p;
    char *op = start(&p, "compat_env", &dir);
    long long org = new_org(op, "Café Zwei");
    char lk[64], ls[96], tk[64], ts[96], path[256];
    key_of(op, org, NULL, lk, ls);
    key_of(op, org, "TEST", tk, ts);
    refused("POST", "/api/v2/organizations/1/api-keys", op, "{\"env\": \"PROD\"}", 400, "E_BAD_REQUEST", "env");
    refused("POST", "/api/v2/organizations/1/api-keys", op, "{\"env\": 1}", 400, "E_BAD_REQUEST", "env");
    snprintf(path, sizeof path, "/api/v2/organizations/%lld/api-keys", org);
    json_t *keys = call("GET", path, op, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(keys, "data")), 2);   /* the refused ones made none */
    json_t *k0 = json_array_get(json_object_get(keys, "data"), 0), *k1 = json_array_get(json_object_get(keys, "data"), 1);
    assert_true(strcmp(str(k0, "env"), str(k1, "env")) != 0);
    json_decref(keys);
    json_decref(call("GET", "/api/v2/organizations", op, NULL, 200));

    char *live = auth(lk, ls, "LIVE", org), *test = auth(tk, ts, "TEST", org);

    /* a TSS made with the TEST key is TEST on every answer, for life */
    char tss[37], client[37];
    hs_uuid(tss);
    hs_uuid(client);
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = call("PUT", path, test, "{}", 200);
    envelope(t, "TSS", tss, "TEST");
    assert_string_equal(str(t, "state"), "CREATED");
    assert_null(json_object_get(t, "time_init"));      /* not yet: left out */
    assert_null(json_object_get(t, "time_disable"));
    assert_null(json_object_get(t, "successor"));
    assert_true(json_integer_value(json_object_get(t, "time_creation")) > 1700000000);
    assert_string_equal(str(t, "transaction_data_encoding"), "UTF-8");
    assert_true(json_is_object(json_object_get(t, "metadata")));
    assert_true(json_is_integer(json_object_get(t, "max_number_registered_clients")));
    char puk[32];
    snprintf(puk, sizeof puk, "%s", str(t, "admin_puk"));
    json_decref(t);

    /* the LIVE key of the same organization does not see it: another environment */
    refused("GET", path, live, NULL, 404, "E_TSS_NOT_FOUND", tss);
    refused("PATCH", path, live, "{\"description\": \"x\"}", 404, "E_TSS_NOT_FOUND", tss);
    refused("PUT", path, live, "{}", 409, "E_TSS_CONFLICT", tss);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client", tss);
    refused("GET", path, live, NULL, 404, "E_TSS_NOT_FOUND", tss);
    snprintf(path, sizeof path, "/api/v2/tss/%s/metadata", tss);
    refused("GET", path, live, NULL, 404, "E_TSS_NOT_FOUND", tss);
    json_t *l = call("GET", "/api/v2/tss", live, NULL, 200);
    envelope(l, "TSS_LIST", NULL, "LIVE");
    assert_false(listed(l, tss, "LIVE"));
    json_decref(l);
    l = call("GET", "/api/v2/tss", test, NULL, 200);
    envelope(l, "TSS_LIST", NULL, "TEST");
    assert_true(listed(l, tss, "TEST"));
    json_decref(l);

    /* a LIVE TSS beside it, seen by the LIVE key only */
    char ltss[37], lclient[37];
    hs_uuid(ltss);
    hs_uuid(lclient);
    hs_ready_tss(B, live, ltss, PIN, lclient, "LIVE 1");
    snprintf(path, sizeof path, "/api/v2/tss/%s", ltss);
    t = call("GET", path, live, NULL, 200);
    envelope(t, "TSS", ltss, "LIVE");
    assert_true(json_integer_value(json_object_get(t, "time_init")) >= json_integer_value(json_object_get(t, "time_creation")));
    assert_null(json_object_get(t, "time_disable"));
    json_decref(t);
    refused("GET", path, test, NULL, 404, "E_TSS_NOT_FOUND", ltss);

    /* the TEST TSS through the market's flow: CREATED, UNINITIALIZED, INITIALIZED */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    t = call("PATCH", path, test, "{\"state\": \"UNINITIALIZED\"}", 200);
    assert_string_equal(str(t, "state"), "UNINITIALIZED");
    assert_true(json_integer_value(json_object_get(t, "time_uninit")) >= json_integer_value(json_object_get(t, "time_creation")));
    assert_null(json_object_get(t, "time_init"));
    json_decref(t);
    char body[256];
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin", tss);
    snprintf(body, sizeof body, "{\"admin_puk\": \"%s\", \"new_admin_pin\": \"%s\"}", puk, PIN);
    json_decref(call("PATCH", path, test, body, 200));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    refused("POST", path, test, "{\"admin_pin\": \"00000000\"}", 401, "E_PIN_INVALID/AUTHENTICATION_FAILED", "wrong");
    json_decref(call("POST", path, test, "{\"admin_pin\": \"" PIN "\"}", 200));
    json_decref(call("POST", path, test, "{\"admin_pin\": \"" PIN "\"}", 200));   /* again: still fine */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    t = call("PATCH", path, test, "{\"state\": \"INITIALIZED\"}", 200);
    envelope(t, "TSS", tss, "TEST");
    assert_true(json_integer_value(json_object_get(t, "time_init")) > 0);
    json_decref(t);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, client);
    t = call("PUT", path, test, "{\"serial_number\": \"TEST 1\"}", 200);
    envelope(t, "CLIENT", client, "TEST");
    json_decref(t);

    /* a transaction on the TEST TSS, then disabled: E_TSS_DISABLED with its TR-03151 name */
    char tx[37];
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    snprintf(body, sizeof body, "{\"state\": \"ACTIVE\", \"client_id\": \"%s\"}", client);
    json_t *x = NULL;
    assert_int_equal(hs_call(B, "PUT", path, test, body, strlen(body), &x, NULL), 200);
    json_decref(x);
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    t = call("PATCH", path, test, "{\"state\": \"DISABLED\"}", 200);
    assert_string_equal(str(t, "state"), "DISABLED");
    assert_true(json_integer_value(json_object_get(t, "time_disable")) >= json_integer_value(json_object_get(t, "time_init")));
    json_decref(t);
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    x = NULL;
    assert_int_equal(hs_call(B, "PUT", path, test, body, strlen(body), &x, NULL), 400);
    hs_expect_error(x, 400, "E_TSS_DISABLED/SECURE_ELEMENT_DISABLED");

    /* after a restart: still TEST (from its record), still apart */
    assert_int_equal(hs_stop(&p), 0);
    hs_start(&p, dir, NULL);
    B = p.base;
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    t = call("GET", path, test, NULL, 200);
    envelope(t, "TSS", tss, "TEST");
    json_decref(t);
    refused("GET", path, live, NULL, 404, "E_TSS_NOT_FOUND", tss);
    /* its Section 146a report says TEST too (an extension; its empty dates are null) */
    snprintf(path, sizeof path, "/api/v2/tss/%s/report", tss);
    json_t *rep = NULL;
    assert_int_equal(hs_call(B, "GET", path, test, NULL, 0, &rep, NULL), 200);
    assert_string_equal(str(rep, "_env"), "TEST");
    json_decref(rep);

    free(live);
    free(test);
    free(op);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

/* The metadata of a resource: what GET .../metadata answers. */
static json_t *meta_of(const char *path, const char *tok)
{
    char m[400];
    snprintf(m, sizeof m, "%s/metadata", path);
    return call("GET", m, tok, NULL, 200);
}

/* The limits on metadata, for the routes at path (PATCH of the resource)
 * and path/metadata: each refused with a 400 naming the problem, nothing
 * changed. */
static void metadata_limits(const char *path, const char *tok)
{
    char m[400], big[2048];
    snprintf(m, sizeof m, "%s/metadata", path);
    json_t *before = meta_of(path, tok);
    refused("PATCH", path, tok, "{\"metadata\": {\"a\": [1]}}", 400, "E_BAD_REQUEST", "metadata.a must be a string");
    refused("PATCH", path, tok, "{\"metadata\": [\"a\"]}", 400, "E_BAD_REQUEST", "metadata");
    refused("PATCH", m, tok, "{\"a\": {\"b\": \"c\"}}", 400, "E_BAD_REQUEST", "metadata.a must be a string");
    int n = snprintf(big, sizeof big, "{\"metadata\": {");
    for (int i = 0; i < 21; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s\"k%d\": \"v\"", i ? ", " : "", i);
    snprintf(big + n, sizeof big - (size_t)n, "}}");
    refused("PATCH", path, tok, big, 400, "E_BAD_REQUEST", "at most 20");
    snprintf(big, sizeof big, "{\"metadata\": {\"%041d\": \"v\"}}", 0);
    refused("PATCH", path, tok, big, 400, "E_BAD_REQUEST", "1 to 40 characters");
    refused("PATCH", path, tok, "{\"metadata\": {\"\": \"v\"}}", 400, "E_BAD_REQUEST", "1 to 40 characters");
    n = snprintf(big, sizeof big, "{\"metadata\": {\"long\": \"");
    for (int i = 0; i < 501; i++)
        big[n++] = 'x';
    snprintf(big + n, sizeof big - (size_t)n, "\"}}");
    refused("PATCH", path, tok, big, 400, "E_BAD_REQUEST", "up to 500 characters");
    /* 500 characters of two bytes each are 500, not 1000 */
    n = snprintf(big, sizeof big, "{\"long\": \"");
    for (int i = 0; i < 500; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "\xc3\xa4");
    snprintf(big + n, sizeof big - (size_t)n, "\"}");
    json_t *ok = call("PATCH", m, tok, big, 200);
    assert_int_equal(strlen(str(ok, "long")), 1000);
    json_decref(ok);
    json_decref(call("PATCH", m, tok, "{\"long\": null}", 200));
    /* a number (as fiskaltrust's LastExportedTransactionNumber) is kept as its text */
    ok = call("PATCH", m, tok, "{\"LastExportedTransactionNumber\": 123, \"flag\": true}", 200);
    assert_string_equal(str(ok, "LastExportedTransactionNumber"), "123");
    assert_string_equal(str(ok, "flag"), "true");
    json_decref(ok);
    json_decref(call("PATCH", m, tok, "{\"LastExportedTransactionNumber\": null, \"flag\": null}", 200));
    /* a NUL inside a value, and a body that is not UTF-8 */
    refused("PATCH", m, tok, "{\"a\": \"x\\u0000y\"}", 400, "E_BAD_REQUEST", "malformed JSON");
    refused("PATCH", m, tok, "{\"a\": \"\xff\"}", 400, "E_BAD_REQUEST", "malformed JSON");
    json_t *after = meta_of(path, tok);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
}

static void metadata(void **state)
{
    (void)state;
    char *dir;
    srv_proc p;
    char *op = start(&p, "compat_meta", &dir);
    char key[64], secret[96], path[256], cpath[300];
    hs_org_key(B, op, "Metadaten", key, secret);
    char *tok = hs_token(B, key, secret);

    /* a create body of [] or of {} without metadata is accepted */
    char a[37], b[37], c[37], client[37];
    hs_uuid(a);
    hs_uuid(b);
    hs_uuid(c);
    hs_uuid(client);
    snprintf(path, sizeof path, "/api/v2/tss/%s", a);
    json_t *t = call("PUT", path, tok, "[]", 200);
    assert_int_equal(json_object_size(json_object_get(t, "metadata")), 0);
    json_decref(t);
    snprintf(path, sizeof path, "/api/v2/tss/%s", b);
    json_decref(call("PUT", path, tok, " ", 200));
    snprintf(path, sizeof path, "/api/v2/tss/%s", c);
    refused("PUT", path, tok, "[1]", 400, "E_BAD_REQUEST", "object");
    refused("PUT", path, tok, "{\"metadata\": {\"shop\": null}}", 400, "E_BAD_REQUEST", "metadata.shop");
    refused("GET", path, tok, NULL, 404, "E_TSS_NOT_FOUND", c);   /* the refused PUTs made nothing */

    /* metadata at creation, returned, read on its own, merged by PATCH */
    t = call("PUT", path, tok, "{\"metadata\": {\"shop\": \"Filiale 7\", \"till\": \"3\"}}", 200);
    assert_string_equal(str(json_object_get(t, "metadata"), "shop"), "Filiale 7");
    json_decref(t);
    json_t *m = meta_of(path, tok);
    assert_int_equal(json_object_size(m), 2);
    assert_string_equal(str(m, "till"), "3");
    json_decref(m);
    t = call("PATCH", path, tok, "{\"metadata\": {\"till\": null, \"zone\": \"Nord\"}}", 200);
    m = json_object_get(t, "metadata");
    assert_int_equal(json_object_size(m), 2);
    assert_null(json_object_get(m, "till"));
    assert_string_equal(str(m, "zone"), "Nord");
    assert_string_equal(str(t, "state"), "CREATED");
    json_decref(t);
    snprintf(cpath, sizeof cpath, "%s/metadata", path);
    m = call("PATCH", cpath, tok, "{\"metadata\": {\"zone\": \"Süd\"}}", 200);
    assert_string_equal(str(m, "zone"), "Süd");
    assert_string_equal(str(m, "shop"), "Filiale 7");
    json_decref(m);
    m = call("PATCH", cpath, tok, "{\"shop\": \"Filiale 8\"}", 200);
    assert_string_equal(str(m, "shop"), "Filiale 8");
    json_decref(m);
    /* a repeated PUT answers the TSS, and sets metadata given with it */
    t = call("PUT", path, tok, "{}", 200);
    assert_null(json_object_get(t, "admin_puk"));
    assert_string_equal(str(json_object_get(t, "metadata"), "shop"), "Filiale 8");
    json_decref(t);
    t = call("PUT", path, tok, "{\"metadata\": {\"k\": \"v\"}}", 200);
    assert_int_equal(json_object_size(json_object_get(t, "metadata")), 1);
    json_decref(t);
    refused("PUT", cpath, tok, "{}", 405, "E_METHOD_NOT_ALLOWED", "PATCH");
    metadata_limits(path, tok);

    /* a client's metadata, on an initialized TSS */
    char tss[37];
    hs_uuid(tss);
    hs_ready_tss(B, tok, tss, PIN, client, "KASSE M");
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, client);
    t = call("GET", path, tok, NULL, 200);
    envelope(t, "CLIENT", client, "LIVE");
    assert_int_equal(json_object_size(json_object_get(t, "metadata")), 0);
    json_int_t created = json_integer_value(json_object_get(t, "time_creation"));
    assert_true(json_integer_value(json_object_get(t, "time_update")) >= created);
    json_decref(t);
    t = call("PATCH", path, tok, "{\"metadata\": {\"standort\": \"Theke\"}}", 200);
    assert_string_equal(str(json_object_get(t, "metadata"), "standort"), "Theke");
    assert_string_equal(str(t, "state"), "REGISTERED");
    assert_int_equal(json_integer_value(json_object_get(t, "time_creation")), created);
    json_decref(t);
    m = meta_of(path, tok);
    assert_string_equal(str(m, "standort"), "Theke");
    json_decref(m);
    metadata_limits(path, tok);
    char other[37];
    hs_uuid(other);
    snprintf(cpath, sizeof cpath, "/api/v2/tss/%s/client/%s/metadata", tss, other);
    refused("GET", cpath, tok, NULL, 404, "E_CLIENT_NOT_FOUND", other);
    refused("PATCH", cpath, tok, "{}", 404, "E_CLIENT_NOT_FOUND", other);
    /* a new client with metadata; the same PUT again answers it */
    snprintf(cpath, sizeof cpath, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(call("POST", cpath, tok, "{\"admin_pin\": \"" PIN "\"}", 200));
    snprintf(cpath, sizeof cpath, "/api/v2/tss/%s/client/%s", tss, other);
    t = call("PUT", cpath, tok, "{\"serial_number\": \"KASSE N\", \"metadata\": {\"a\": \"b\"}}", 200);
    assert_string_equal(str(json_object_get(t, "metadata"), "a"), "b");
    json_decref(t);
    t = call("PUT", cpath, tok, "{\"serial_number\": \"KASSE N\"}", 200);
    assert_string_equal(str(json_object_get(t, "metadata"), "a"), "b");
    json_decref(t);
    /* metadata survives a restart */
    assert_int_equal(hs_stop(&p), 0);
    hs_start(&p, dir, NULL);
    B = p.base;
    m = meta_of(cpath, tok);
    assert_string_equal(str(m, "a"), "b");
    json_decref(m);

    free(tok);
    free(op);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

/* The ids in list j, in order, into out ("" ended). */
static int ids(json_t *j, char out[][37], int max)
{
    json_t *v;
    size_t i;
    int n = 0;
    json_array_foreach(json_object_get(j, "data"), i, v) {
        if (n < max)
            snprintf(out[n++], 37, "%s", str(v, "_id"));
    }
    assert_int_equal(json_integer_value(json_object_get(j, "count")), json_array_size(json_object_get(j, "data")));
    return n;
}

static int count_of(const char *path, const char *tok)
{
    json_t *j = call("GET", path, tok, NULL, 200);
    int n = (int)json_array_size(json_object_get(j, "data"));
    json_decref(j);
    return n;
}

static void clients_and_states(void **state)
{
    (void)state;
    char *dir;
    srv_proc p;
    char *op = start(&p, "compat_clients", &dir);
    long long org = new_org(op, "Kette");
    char tk[64], ts[96], lk[64], ls[96], path[300], body[200];
    key_of(op, org, "TEST", tk, ts);
    key_of(op, org, "LIVE", lk, ls);
    char *test = auth(tk, ts, "TEST", org), *live = auth(lk, ls, "LIVE", org);

    /* two TEST TSSs with 2 and 3 clients, one LIVE TSS with 1 */
    char tss[3][37], cl[6][37];
    for (int i = 0; i < 3; i++)
        hs_uuid(tss[i]);
    for (int i = 0; i < 6; i++)
        hs_uuid(cl[i]);
    hs_ready_tss(B, test, tss[0], PIN, cl[0], "A-0");
    hs_ready_tss(B, test, tss[1], PIN, cl[2], "B-0");
    hs_ready_tss(B, live, tss[2], PIN, cl[5], "C-0");
    for (int t = 0; t < 2; t++) {
        snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss[t]);
        json_decref(call("POST", path, test, "{\"admin_pin\": \"" PIN "\"}", 200));
    }
    const int of[5] = {0, 0, 1, 1, 1};
    for (int i = 1; i < 5; i++) {
        if (i == 2)
            continue;
        snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss[of[i]], cl[i]);
        snprintf(body, sizeof body, "{\"serial_number\": \"S-%d\"}", i);
        json_t *c = call("PUT", path, test, body, 200);
        envelope(c, "CLIENT", cl[i], "TEST");
        assert_string_equal(str(c, "tss_id"), tss[of[i]]);
        assert_string_equal(str(c, "state"), "REGISTERED");
        json_decref(c);
    }

    /* the same client id with another serial number */
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss[0], cl[1]);
    refused("PUT", path, test, "{\"serial_number\": \"ANDERS\"}", 409, "E_CLIENT_CONFLICT", cl[1]);
    json_t *c = call("GET", path, test, NULL, 200);
    assert_string_equal(str(c, "serial_number"), "S-1");
    json_decref(c);
    /* one client of tss[1] deregistered */
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss[1], cl[4]);
    c = call("PATCH", path, test, "{\"state\": \"DEREGISTERED\"}", 200);
    assert_string_equal(str(c, "state"), "DEREGISTERED");
    json_decref(c);
    refused("PATCH", path, test, "{\"state\": \"GONE\"}", 400, "E_BAD_REQUEST", "DEREGISTERED");

    /* GET /api/v2/client: the five TEST clients, TSS by TSS; the LIVE key sees its one */
    json_t *all = call("GET", "/api/v2/client", test, NULL, 200);
    envelope(all, "CLIENT_LIST", NULL, "TEST");
    char got[8][37];
    assert_int_equal(ids(all, got, 8), 5);
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(all, "data"), i, v) {
        envelope(v, "CLIENT", NULL, "TEST");
        assert_string_equal(str(v, "tss_id"), tss[i < 2 ? 0 : 1]);
    }
    json_decref(all);
    all = call("GET", "/api/v2/client", live, NULL, 200);
    assert_int_equal(ids(all, got, 8), 1);
    assert_string_equal(got[0], cl[5]);
    envelope(all, "CLIENT_LIST", NULL, "LIVE");
    json_decref(all);
    /* paged: 2 at a time, the same five in the same order */
    char paged[8][37];
    int n = 0;
    for (int off = 0; off < 6; off += 2) {
        snprintf(path, sizeof path, "/api/v2/client?limit=2&offset=%d", off);
        json_t *pg = call("GET", path, test, NULL, 200);
        n += ids(pg, paged + n, 8 - n);
        json_decref(pg);
    }
    assert_int_equal(n, 5);
    all = call("GET", "/api/v2/client", test, NULL, 200);
    ids(all, got, 8);
    json_decref(all);
    for (int k = 0; k < 5; k++)
        assert_string_equal(paged[k], got[k]);
    refused("GET", "/api/v2/client?limit=0", test, NULL, 400, "E_BAD_REQUEST", "limit");
    refused("GET", "/api/v2/client", op, NULL, 403, "E_FORBIDDEN", "operator");
    refused("PUT", "/api/v2/client", test, "{}", 405, "E_METHOD_NOT_ALLOWED", "GET");

    /* the states filter in its three spellings, on both client lists */
    snprintf(path, sizeof path, "/api/v2/tss/%s/client?states[]=DEREGISTERED", tss[1]);
    assert_int_equal(count_of(path, test), 1);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client?states[0]=REGISTERED", tss[1]);
    assert_int_equal(count_of(path, test), 2);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client?states=REGISTERED&states=DEREGISTERED", tss[1]);
    assert_int_equal(count_of(path, test), 3);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client?states%%5B0%%5D=REGISTERED&states%%5B1%%5D=DEREGISTERED", tss[1]);
    assert_int_equal(count_of(path, test), 3);
    assert_int_equal(count_of("/api/v2/client?states[]=DEREGISTERED", test), 1);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client?state=REGISTERED", tss[1]);   /* the singular, as one client sends it */
    assert_int_equal(count_of(path, test), 2);
    assert_int_equal(count_of("/api/v2/client?states=REGISTERED", test), 4);
    refused("GET", "/api/v2/client?states[]=ACTIVE", test, NULL, 400, "E_BAD_REQUEST", "ACTIVE");
    snprintf(path, sizeof path, "/api/v2/tss/%s/client?states[2]=nope", tss[1]);
    refused("GET", path, test, NULL, 400, "E_BAD_REQUEST", "\"nope\" in states[2]");

    /* ... and on the TSS list */
    char fresh[37];
    hs_uuid(fresh);
    snprintf(path, sizeof path, "/api/v2/tss/%s", fresh);
    json_decref(call("PUT", path, test, NULL, 200));   /* an empty body */
    assert_int_equal(count_of("/api/v2/tss?states[]=CREATED", test), 1);
    assert_int_equal(count_of("/api/v2/tss?states[0]=INITIALIZED", test), 2);
    assert_int_equal(count_of("/api/v2/tss?states=CREATED&states=INITIALIZED", test), 3);
    assert_int_equal(count_of("/api/v2/tss?states[]=INITIALIZED&limit=1&offset=1", test), 1);
    assert_int_equal(count_of("/api/v2/tss?states[]=DISABLED", test), 0);
    assert_int_equal(count_of("/api/v2/tss", live), 1);
    refused("GET", "/api/v2/tss?states[]=ACTIVE", test, NULL, 400, "E_BAD_REQUEST", "ACTIVE");

    free(test);
    free(live);
    free(op);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

/* opentsed --demo: its key and TSS are TEST. */
static void demo_is_test(void **state)
{
    (void)state;
    char *dir = th_path("compat_demo");
    srv_proc p;
    char *tok = NULL;
    json_t *d = hs_start_demo(&p, dir, &tok);
    B = p.base;
    assert_string_equal(str(d, "env"), "TEST");
    char path[256], body[256];
    snprintf(body, sizeof body, "{\"api_key\": \"%s\", \"api_secret\": \"%s\"}", str(d, "api_key"),
             str(d, "api_secret"));
    json_t *a = call("POST", "/api/v2/auth", NULL, body, 200);
    assert_string_equal(str(json_object_get(a, "access_token_claims"), "env"), "TEST");
    json_decref(a);
    snprintf(path, sizeof path, "/api/v2/tss/%s", str(d, "tss_id"));
    json_t *t = call("GET", path, tok, NULL, 200);
    envelope(t, "TSS", str(d, "tss_id"), "TEST");
    assert_string_equal(str(t, "state"), "INITIALIZED");
    json_decref(t);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", str(d, "tss_id"), str(d, "client_id"));
    t = call("GET", path, tok, NULL, 200);
    envelope(t, "CLIENT", str(d, "client_id"), "TEST");
    json_decref(t);
    json_decref(d);
    free(tok);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(environments),
        cmocka_unit_test(metadata),
        cmocka_unit_test(clients_and_states),
        cmocka_unit_test(demo_is_test),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
