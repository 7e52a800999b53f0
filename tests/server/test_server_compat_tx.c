/*
 * test_server_compat_tx.c - transactions as the integrations written for the
 * fiskaly SIGN DE v2 API send and read them, against the real opentsed:
 * no null anywhere in an answer or a list (typed clients read numbers),
 * finishing by transaction number, each revision's answer again
 * (?tx_revision=N), metadata on PUT and its own routes, the log messages of
 * a transaction (checked by the openssl command line), standard_v1 receipts
 * with VAT percentages and amounts of five places (processData rounded to
 * DSFinV-K's two), orders becoming Bestellung-V1, the lists of a TSS, a
 * client and the organization with every form of the states filter, and the
 * market error codes (E_TX_UPSERT, E_CLIENT_NOT_FOUND, E_TSS_DISABLED) with
 * nothing signed by a refused request.
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

#define PIN "24681357"

/* Fails when any value in the tree is null. */
static void assert_no_null(json_t *j, const char *where)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_null(j))
        fail_msg("null at %s", where);
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            char w[256];
            snprintf(w, sizeof w, "%s.%s", where, k);
            assert_no_null(v, w);
        }
    }
    json_array_foreach(j, i, v) {
        char w[256];
        snprintf(w, sizeof w, "%s[%zu]", where, i);
        assert_no_null(v, w);
    }
}

/* What a typed client (C# long/uint, string, Guid) reads of a transaction. */
static void assert_typed(json_t *tx)
{
    assert_no_null(tx, "tx");
    const char *ints[] = {"number", "revision", "latest_revision", "time_start"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        assert_true(json_is_integer(json_object_get(tx, ints[i])));
    const char *strs[] = {"_id", "_type", "_env", "tss_id", "client_id", "client_serial_number",
                          "tss_serial_number", "state", "process_type", "process_data"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        assert_true(json_is_string(json_object_get(tx, strs[i])));
    assert_string_equal(json_string_value(json_object_get(tx, "_type")), "TRANSACTION");
    assert_true(json_is_object(json_object_get(tx, "schema")));
    assert_true(json_is_object(json_object_get(tx, "metadata")));
    json_t *log = json_object_get(tx, "log"), *sig = json_object_get(tx, "signature");
    assert_true(json_is_string(json_object_get(log, "operation")));
    assert_true(json_is_integer(json_object_get(log, "timestamp")));
    assert_true(json_is_string(json_object_get(log, "timestamp_format")));
    assert_true(json_is_string(json_object_get(sig, "value")));
    assert_true(json_is_string(json_object_get(sig, "algorithm")));
    assert_true(json_is_integer(json_object_get(sig, "counter")));
    size_t n;
    uint8_t *pub = hs_b64_decode(json_string_value(json_object_get(sig, "public_key")), &n); /* C# byte[] */
    assert_non_null(pub);
    assert_int_equal(n, 65);
    free(pub);
    bool done = strcmp(json_string_value(json_object_get(tx, "state")), "ACTIVE") != 0;
    assert_int_equal(json_is_integer(json_object_get(tx, "time_end")), done);
    assert_int_equal(json_is_string(json_object_get(tx, "qr_code_data")), done);
    if (!done) {
        assert_null(json_object_get(tx, "time_end"));
        assert_null(json_object_get(tx, "qr_code_data"));
    }
}

/* PUT or PATCH with a JSON text body; the answer (status asserted). */
static json_t *put_text(const char *B, const char *method, const char *path, const char *tok, long want, const char *body)
{
    json_t *out = NULL;
    long st = hs_call(B, method, path, tok, body, strlen(body), &out, NULL);
    if (st != want)
        fail_msg("%s %s: %ld, wanted %ld: %s", method, path, st, want,
                 out ? json_string_value(json_object_get(out, "message")) : "");
    return out;
}

static char *decoded_pd(json_t *tx)
{
    size_t n;
    uint8_t *pd = hs_b64_decode(json_string_value(json_object_get(tx, "process_data")), &n);
    assert_non_null(pd);
    char *s = malloc(n + 1);
    memcpy(s, pd, n);
    s[n] = 0;
    free(pd);
    return s;
}

static void assert_pd(json_t *tx, const char *type, const char *want)
{
    assert_string_equal(json_string_value(json_object_get(tx, "process_type")), type);
    char *pd = decoded_pd(tx);
    assert_string_equal(pd, want);
    free(pd);
    assert_int_equal(hs_verify_tx_response(tx), 0);   /* the signed bytes carry exactly these */
}

static json_int_t counter_of(const char *B, const char *tok, const char *tss)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = hs_json(B, "GET", path, tok, 200, NULL);
    json_int_t c = json_integer_value(json_object_get(t, "signature_counter"));
    json_decref(t);
    return c;
}

/* The number of transactions a list answers, its tree checked. */
static size_t list_count(const char *B, const char *tok, const char *path)
{
    json_t *l = hs_json(B, "GET", path, tok, 200, NULL);
    assert_no_null(l, path);
    assert_string_equal(json_string_value(json_object_get(l, "_type")), "TRANSACTION_LIST");
    size_t n = json_array_size(json_object_get(l, "data"));
    assert_int_equal(json_integer_value(json_object_get(l, "count")), n);
    json_t *tx;
    size_t i;
    json_array_foreach(json_object_get(l, "data"), i, tx)
        assert_typed(tx);
    json_decref(l);
    return n;
}

/* A server of a test's own with one organization and its token. */
typedef struct world {
    char *dir, *op, *tok;
    srv_proc p;
    char key[64], secret[96];
} world;

static const char *world_start(world *w, const char *name, const char *org)
{
    w->dir = th_path(name);
    hs_start(&w->p, w->dir, NULL);
    w->op = hs_token(w->p.base, w->p.op_key, w->p.op_secret);
    hs_org_key(w->p.base, w->op, org, w->key, w->secret);
    w->tok = hs_token(w->p.base, w->key, w->secret);
    return w->p.base;
}

static void world_stop(world *w)
{
    hs_stop(&w->p);
    free(w->op);
    free(w->tok);
    free(w->dir);
}

static const char *start_odoo = "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": "
                                "{\"receipt\": {\"receipt_type\": \"RECEIPT\", \"amounts_per_vat_rate\": [], "
                                "\"amounts_per_payment_type\": []}}}, \"metadata\": {\"pos_config_id\": 1, "
                                "\"pos_order_uuid\": \"b1f5c3e2\"}}";

static void receipts_and_reads(void **state)
{
    (void)state;
    world w;
    const char *B = world_start(&w, "compat_tx", "Gasthaus");
    char *op = w.op, *tok = w.tok, key2[64], secret2[96];
    hs_org_key(B, op, "Nachbar", key2, secret2);
    char *tok2 = hs_token(B, key2, secret2);
    char tss[37], tss2[37], client[37], client2[37], other[37], tx[37], path[512], body[2048];
    hs_uuid(tss);
    hs_uuid(tss2);
    hs_uuid(client);
    hs_uuid(client2);
    hs_uuid(other);
    hs_ready_tss(B, tok, tss, PIN, client, "KASSE-01");
    hs_ready_tss(B, tok, tss2, PIN, client2, "KASSE-02");

    /* Odoo's start: a receipt with empty arrays and metadata. */
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    snprintf(body, sizeof body, start_odoo, client);
    json_t *first = put_text(B, "PUT", path, tok, 200, body);
    assert_typed(first);
    assert_pd(first, "Kassenbeleg-V1", "Beleg^0.00_0.00_0.00_0.00_0.00^");
    json_t *meta = json_object_get(first, "metadata");
    /* numbers, as Odoo sends its pos_config_id, are kept as their text */
    assert_string_equal(json_string_value(json_object_get(meta, "pos_config_id")), "1");
    assert_string_equal(json_string_value(json_object_get(meta, "pos_order_uuid")), "b1f5c3e2");
    json_int_t number = json_integer_value(json_object_get(first, "number"));
    assert_int_equal(number, 1);

    /* Finished by its number (fiskaltrust), with VAT percentages and five
     * places: 11.90000 -> 11.90, 5.34999 -> 5.35 (half away from zero from
     * 5.345), 17.25499 -> 17.25, -0.005 -> -0.01. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%lld?tx_revision=2", tss, (long long)number);
    snprintf(body, sizeof body,
             "{\"state\": \"FINISHED\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": {\"receipt\": "
             "{\"receipt_type\": \"RECEIPT\", \"amounts_per_vat_rate\": [{\"vat_rate\": \"19\", \"amount\": "
             "\"11.90000\"}, {\"vat_rate\": \"7\", \"amount\": \"5.34999\"}, {\"vat_rate\": \"0\", \"amount\": "
             "\"-0.005\"}], \"amounts_per_payment_type\": [{\"payment_type\": \"CASH\", \"amount\": \"17.25499\"}]}}}}",
             client);
    json_t *fin = put_text(B, "PUT", path, tok, 200, body);
    assert_typed(fin);
    assert_string_equal(json_string_value(json_object_get(fin, "_id")), tx);
    assert_int_equal(json_integer_value(json_object_get(fin, "revision")), 2);
    assert_pd(fin, "Kassenbeleg-V1", "Beleg^11.90_5.35_0.00_0.00_-0.01^17.25:Bar");
    assert_non_null(strstr(json_string_value(json_object_get(fin, "qr_code_data")),
                           ";Kassenbeleg-V1;Beleg^11.90_5.35_0.00_0.00_-0.01^17.25:Bar;1;"));
    /* metadata stays from the start */
    assert_true(json_equal(json_object_get(fin, "metadata"), meta));
    /* the same again by number: the stored answer, nothing signed */
    json_int_t c0 = counter_of(B, tok, tss);
    json_t *again = put_text(B, "PUT", path, tok, 200, body);
    assert_true(json_equal(again, fin));
    json_decref(again);
    assert_int_equal(counter_of(B, tok, tss), c0);

    /* GET by id and by number; each revision as it was answered. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", tss, tx);
    json_t *g = hs_json(B, "GET", path, tok, 200, NULL);
    assert_true(json_equal(g, fin));
    json_decref(g);
    /* revision 1 as answered, latest_revision where the transaction stands now */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%lld?tx_revision=1", tss, (long long)number);
    g = hs_json(B, "GET", path, tok, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(g, "latest_revision")), 2);
    json_object_set_new(g, "latest_revision", json_integer(1));
    assert_true(json_equal(g, first));
    json_decref(g);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, tx);
    g = hs_json(B, "GET", path, tok, 200, NULL);
    assert_true(json_equal(g, fin));
    json_decref(g);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=3", tss, tx);
    hs_expect_error(hs_json(B, "GET", path, tok, 404, NULL), 404, "E_TX_NOT_FOUND");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=0", tss, tx);
    hs_expect_error(hs_json(B, "GET", path, tok, 400, NULL), 400, "E_BAD_REQUEST");

    /* metadata: GET, PATCH (members set, null removes), seen in the answer. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%lld/metadata", tss, (long long)number);
    g = hs_json(B, "GET", path, tok, 200, NULL);
    assert_true(json_equal(g, meta));
    json_decref(g);
    g = put_text(B, "PATCH", path, tok, 200, "{\"pos_order_uuid\": null, \"table\": \"7\"}");
    assert_null(json_object_get(g, "pos_order_uuid"));
    assert_string_equal(json_string_value(json_object_get(g, "table")), "7");
    assert_string_equal(json_string_value(json_object_get(g, "pos_config_id")), "1");
    json_decref(g);
    /* wrapped as {"metadata": {...}} (the TypeScript library), numbers as their text */
    g = put_text(B, "PATCH", path, tok, 200, "{\"metadata\": {\"LastExportedTransactionNumber\": 123}}");
    assert_string_equal(json_string_value(json_object_get(g, "LastExportedTransactionNumber")), "123");
    assert_string_equal(json_string_value(json_object_get(g, "table")), "7");
    json_decref(g);
    hs_expect_error(put_text(B, "PATCH", path, tok, 400, "[1]"), 400, "E_BAD_REQUEST");
    hs_expect_error(put_text(B, "PATCH", path, tok, 400, "{\"k\": [1]}"), 400, "E_BAD_REQUEST");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", tss, tx);
    g = hs_json(B, "GET", path, tok, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(g, "metadata"), "table")), "7");
    assert_int_equal(json_integer_value(json_object_get(g, "revision")), 2);
    json_decref(g);
    assert_int_equal(counter_of(B, tok, tss), c0);   /* metadata signs nothing */

    /* The transaction's log messages: start and finish, each the DER log
     * whose signature is the answer's, readable by openssl asn1parse. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s/log", tss, tx);
    json_t *logs = hs_json(B, "GET", path, tok, 200, NULL);
    assert_no_null(logs, "log");
    assert_int_equal(json_array_size(json_object_get(logs, "data")), 2);
    json_t *answers[2] = {first, fin};
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(json_object_get(logs, "data"), i);
        json_t *sig = json_object_get(answers[i], "signature");
        assert_int_equal(json_integer_value(json_object_get(e, "revision")), (json_int_t)i + 1);
        assert_string_equal(json_string_value(json_object_get(e, "operation")), i ? "finishTransaction" : "startTransaction");
        assert_int_equal(json_integer_value(json_object_get(e, "signature_counter")),
                         json_integer_value(json_object_get(sig, "counter")));
        size_t n, sn;
        uint8_t *der = hs_b64_decode(json_string_value(json_object_get(e, "log_message")), &n);
        uint8_t *sv = hs_b64_decode(json_string_value(json_object_get(sig, "value")), &sn);
        assert_non_null(der);
        assert_true(sn == 64 && n > sn);
        assert_memory_equal(der + n - sn, sv, sn);
        char *file = th_path(i ? "finish.der" : "start.der"), cmd[1024];
        assert_int_equal(th_write_file(file, der, n), 0);
        snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in '%s' > /dev/null", file);
        assert_int_equal(system(cmd), 0);
        free(file);
        free(der);
        free(sv);
    }
    json_decref(logs);

    /* An order with line items becomes Bestellung-V1 (quantities and prices
     * as strings or numbers, quotes doubled, lines separated by CR). */
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    snprintf(body, sizeof body,
             "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": {\"order\": {\"line_items\": "
             "[{\"quantity\": \"2\", \"text\": \"Bier 0,5l\", \"price_per_unit\": \"3.50\"}, {\"quantity\": 1, \"text\": "
             "\"Schnitzel \\\"Wiener Art\\\"\", \"price_per_unit\": \"12.899\"}, {\"quantity\": \"0.5\", \"text\": "
             "\"Wein\", \"price_per_unit\": 7.2}]}}}}",
             client);
    json_t *ord = put_text(B, "PUT", path, tok, 200, body);
    assert_typed(ord);
    assert_pd(ord, "Bestellung-V1", "2;\"Bier 0,5l\";3.50\r1;\"Schnitzel \"\"Wiener Art\"\"\";12.90\r0.5;\"Wein\";7.20");
    json_decref(ord);
    const char *bad_orders[] = {"{\"line_items\": []}", "{\"line_items\": [{\"text\": \"x\", \"price_per_unit\": \"1\"}]}",
                                "{\"line_items\": [{\"quantity\": \"1\", \"text\": \"x\", \"price_per_unit\": \"1.123456\"}]}",
                                "{\"line_items\": [{\"quantity\": \"1\", \"text\": 5, \"price_per_unit\": \"1\"}]}",
                                "{\"line_items\": [{\"quantity\": \"0\", \"text\": \"x\", \"price_per_unit\": \"1\"}]}",
                                "{\"items\": []}"};
    c0 = counter_of(B, tok, tss);
    for (size_t i = 0; i < sizeof bad_orders / sizeof bad_orders[0]; i++) {
        char t2[37];
        hs_uuid(t2);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, t2);
        snprintf(body, sizeof body, "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": "
                 "{\"order\": %s}}}", client, bad_orders[i]);
        hs_expect_error(put_text(B, "PUT", path, tok, 400, body), 400, "E_BAD_REQUEST");
    }

    /* Receipts refused: an unknown rate, six places, both receipt and order. */
    const char *bad_receipts[] = {
        "{\"receipt\": {\"receipt_type\": \"RECEIPT\", \"amounts_per_vat_rate\": [{\"vat_rate\": \"20\", \"amount\": \"1\"}]}}",
        "{\"receipt\": {\"receipt_type\": \"RECEIPT\", \"amounts_per_vat_rate\": [{\"vat_rate\": \"19\", \"amount\": \"1.123456\"}]}}",
        "{\"receipt\": {\"receipt_type\": \"RECEIPT\", \"amounts_per_payment_type\": [{\"payment_type\": \"CASH\", \"amount\": \"1,50\"}]}}",
        "{\"receipt\": {\"receipt_type\": \"RECEIPT\"}, \"order\": {\"line_items\": []}}"};
    for (size_t i = 0; i < sizeof bad_receipts / sizeof bad_receipts[0]; i++) {
        char t2[37];
        hs_uuid(t2);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, t2);
        snprintf(body, sizeof body, "{\"state\": \"ACTIVE\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": %s}}",
                 client, bad_receipts[i]);
        hs_expect_error(put_text(B, "PUT", path, tok, 400, body), 400, "E_BAD_REQUEST");
    }
    assert_int_equal(counter_of(B, tok, tss), c0);

    /* Cancelled with a receipt: CANCELLATION is AVBelegstorno, a cancelled
     * RECEIPT AVBelegabbruch. */
    const char *types[2][2] = {{"CANCELLATION", "AVBelegstorno"}, {"RECEIPT", "AVBelegabbruch"}};
    for (int i = 0; i < 2; i++) {
        char t2[37], want[64];
        hs_uuid(t2);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, t2);
        snprintf(body, sizeof body, start_odoo, client);
        json_decref(put_text(B, "PUT", path, tok, 200, body));
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, t2);
        /* the CANCELLATION as a register closing its session sends it: no payments member */
        snprintf(body, sizeof body, "{\"state\": \"CANCELLED\", \"client_id\": \"%s\", \"schema\": {\"standard_v1\": "
                 "{\"receipt\": {\"receipt_type\": \"%s\", \"amounts_per_vat_rate\": []%s}}}}", client, types[i][0],
                 i ? ", \"amounts_per_payment_type\": []" : "");
        json_t *c = put_text(B, "PUT", path, tok, 200, body);
        assert_typed(c);
        assert_string_equal(json_string_value(json_object_get(c, "state")), "CANCELLED");
        snprintf(want, sizeof want, "%s^0.00_0.00_0.00_0.00_0.00^", types[i][1]);
        assert_pd(c, "Kassenbeleg-V1", want);
        json_decref(c);
    }

    /* Without a schema the answer's schema is the raw one signed: empty. */
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    json_t *plain = hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client);
    assert_typed(plain);
    json_t *raw = json_object_get(json_object_get(plain, "schema"), "raw");
    assert_string_equal(json_string_value(json_object_get(raw, "process_type")), "");
    assert_string_equal(json_string_value(json_object_get(raw, "process_data")), "");
    json_decref(plain);

    /* A second client of the TSS with one open transaction. */
    char c3[37], t3[37];
    hs_uuid(c3);
    hs_uuid(t3);
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, c3);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s}", "serial_number", "KASSE-03"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, t3);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", c3));
    /* and one on the second TSS */
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss2, tx);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client2));

    /* TSS 1 now: 1 FINISHED, 1 ACTIVE order, 2 CANCELLED, 1 ACTIVE plain (client),
     * 1 ACTIVE (c3): 6, 3 ACTIVE. Every form of the filter. */
    const struct {
        const char *query;
        size_t n;
    } lists[] = {
        {"", 6},
        {"?states[]=ACTIVE", 3},
        {"?states[0]=ACTIVE", 3},
        {"?states=ACTIVE", 3},
        {"?states[]=ACTIVE&states[]=CANCELLED", 5},
        {"?states[0]=FINISHED&states[1]=CANCELLED", 3},
        {"?states=FINISHED&states=CANCELLED&states=ACTIVE", 6},
        {"?states[]=ACTIVE&states[]=ACTIVE", 3},
        {"?states[]=CANCELLED&limit=1&offset=1", 1},
        {"?states[]=CANCELLED&limit=1&offset=2", 0},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx%s", tss, lists[i].query);
        assert_int_equal(list_count(B, tok, path), lists[i].n);
    }
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx?states[]=DONE", tss);
    hs_expect_error(hs_json(B, "GET", path, tok, 400, NULL), 400, "E_BAD_REQUEST");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx?states[0]=finished", tss);
    hs_expect_error(hs_json(B, "GET", path, tok, 400, NULL), 400, "E_BAD_REQUEST");

    /* A client's transactions: 5 of client, 1 of c3. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s/tx", tss, client);
    assert_int_equal(list_count(B, tok, path), 5);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s/tx?states[]=ACTIVE", tss, client);
    assert_int_equal(list_count(B, tok, path), 2);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s/tx?states=CANCELLED&offset=1&limit=5", tss, client);
    assert_int_equal(list_count(B, tok, path), 1);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s/tx?limit=2&offset=4", tss, client);
    assert_int_equal(list_count(B, tok, path), 1);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s/tx", tss, c3);
    json_t *l = hs_json(B, "GET", path, tok, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(l, "data")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(l, "data"), 0), "_id")), t3);
    json_decref(l);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s/tx", tss, other);
    hs_expect_error(hs_json(B, "GET", path, tok, 404, NULL), 404, "E_CLIENT_NOT_FOUND");

    /* The organization's: both TSSs (Odoo lists its open ones so), none of
     * another organization's. */
    assert_int_equal(list_count(B, tok, "/api/v2/tx"), 7);
    assert_int_equal(list_count(B, tok, "/api/v2/tx?states[]=ACTIVE"), 4);
    assert_int_equal(list_count(B, tok, "/api/v2/tx?states[]=ACTIVE&limit=3&offset=2"), 2);
    assert_int_equal(list_count(B, tok2, "/api/v2/tx"), 0);
    l = hs_json(B, "GET", "/api/v2/tx?limit=7", tok, 200, NULL);
    json_t *seen = json_object();
    json_t *e;
    size_t i;
    json_int_t prev = 0;
    json_array_foreach(json_object_get(l, "data"), i, e) {
        json_object_set_new(seen, json_string_value(json_object_get(e, "tss_id")), json_true());
        assert_true(json_integer_value(json_object_get(e, "time_start")) >= prev);
        prev = json_integer_value(json_object_get(e, "time_start"));
    }
    assert_int_equal(json_object_size(seen), 2);
    json_decref(seen);
    json_decref(l);
    hs_expect_error(hs_json(B, "GET", "/api/v2/tx?offset=100001", tok, 400, NULL), 400, "E_BAD_REQUEST");
    hs_expect_error(hs_json(B, "GET", "/api/v2/tx", op, 403, NULL), 403, "E_FORBIDDEN");
    hs_expect_error(hs_json(B, "PUT", "/api/v2/tx", tok, 405, "{}"), 405, NULL);

    json_decref(first);
    json_decref(fin);
    free(tok2);
    world_stop(&w);
}

static void errors(void **state)
{
    (void)state;
    world w;
    const char *B = world_start(&w, "compat_tx_errors", "Kiosk");
    char *tok = w.tok, tss[37], client[37], other[37], tx[37], path[512];
    hs_uuid(tss);
    hs_uuid(client);
    hs_uuid(other);
    hs_uuid(tx);
    hs_ready_tss(B, tok, tss, PIN, client, "KASSE-01");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, tx);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client));
    json_int_t c0 = counter_of(B, tok, tss);

    /* A stale revision (Odoo reads E_TX_UPSERT, fetches the transaction and
     * retries with the next one). */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/1?tx_revision=1", tss);
    json_t *e = hs_json(B, "PUT", path, tok, 409, "{s:s, s:s}", "state", "FINISHED", "client_id", client);
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "the next one is 3"));
    hs_expect_error(e, 409, "E_TX_UPSERT");
    /* An unknown client: 400, as the market API answers it. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/1?tx_revision=3", tss);
    hs_expect_error(hs_json(B, "PUT", path, tok, 400, "{s:s, s:s}", "state", "FINISHED", "client_id", other), 400,
                    "E_CLIENT_NOT_FOUND/CLIENT_NOT_REGISTERED");
    /* Another client's transaction, a new one that does not start ACTIVE. */
    char c2[37], fresh[37];
    hs_uuid(c2);
    hs_uuid(fresh);
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, c2);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s}", "serial_number", "KASSE-02"));
    c0 = counter_of(B, tok, tss);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/1?tx_revision=3", tss);
    hs_expect_error(hs_json(B, "PUT", path, tok, 409, "{s:s, s:s}", "state", "FINISHED", "client_id", c2), 409,
                    "E_TX_UPSERT/PARAMETER_MISMATCH");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, fresh);
    hs_expect_error(hs_json(B, "PUT", path, tok, 409, "{s:s, s:s}", "state", "FINISHED", "client_id", c2), 409,
                    "E_TX_UPSERT");
    /* Unknown numbers and malformed references. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/2?tx_revision=2", tss);
    hs_expect_error(hs_json(B, "PUT", path, tok, 404, "{s:s, s:s}", "state", "FINISHED", "client_id", client), 404,
                    "E_TX_NOT_FOUND");
    const char *bad_refs[] = {"0", "-1", "1x", "not-a-uuid", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_refs / sizeof bad_refs[0]; i++) {
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", tss, bad_refs[i]);
        hs_expect_error(hs_json(B, "GET", path, tok, 400, NULL), 400, "E_BAD_REQUEST");
    }
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/7/log", tss);
    hs_expect_error(hs_json(B, "GET", path, tok, 404, NULL), 404, "E_TX_NOT_FOUND");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/7/metadata", tss);
    hs_expect_error(hs_json(B, "GET", path, tok, 404, NULL), 404, "E_TX_NOT_FOUND");
    /* metadata of the wrong type */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/1?tx_revision=3", tss);
    hs_expect_error(hs_json(B, "PUT", path, tok, 400, "{s:s, s:s, s:[i]}", "state", "FINISHED", "client_id", client,
                            "metadata", 1),
                    400, "E_BAD_REQUEST");
    hs_expect_error(hs_json(B, "PUT", path, tok, 400, "{s:s, s:s, s:{s:[]}}", "state", "FINISHED", "client_id", client,
                            "metadata", "k"),
                    400, "E_BAD_REQUEST");
    assert_int_equal(counter_of(B, tok, tss), c0);

    /* Finished: a later revision is E_TX_UPSERT, the TR-03151 code beside it. */
    json_t *fin = hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "FINISHED", "client_id", client);
    assert_typed(fin);
    json_decref(fin);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=4", tss, tx);
    hs_expect_error(hs_json(B, "PUT", path, tok, 409, "{s:s, s:s}", "state", "ACTIVE", "client_id", client), 409,
                    "E_TX_UPSERT/NO_TRANSACTION");

    /* A disabled TSS. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_decref(hs_json(B, "PATCH", path, tok, 200, "{s:s}", "state", "DISABLED"));
    c0 = counter_of(B, tok, tss);
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    hs_expect_error(hs_json(B, "PUT", path, tok, 400, "{s:s, s:s}", "state", "ACTIVE", "client_id", client), 400,
                    "E_TSS_DISABLED/SECURE_ELEMENT_DISABLED");
    /* an unknown client on a disabled TSS: the TSS's state first, as the engine checks it */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    hs_expect_error(hs_json(B, "PUT", path, tok, 400, "{s:s, s:s}", "state", "ACTIVE", "client_id", other), 400,
                    "E_TSS_DISABLED/SECURE_ELEMENT_DISABLED");
    assert_int_equal(counter_of(B, tok, tss), c0);
    /* its transactions stay readable */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/1", tss);
    json_t *g = hs_json(B, "GET", path, tok, 200, NULL);
    assert_typed(g);
    assert_int_equal(json_integer_value(json_object_get(g, "revision")), 3);
    json_decref(g);
    world_stop(&w);
}

/* Transactions stored before numbers, revisions and metadata had records of
 * their own (answers with time_end and qr_code_data null, _env PROD, no
 * metadata, no schema without one) read as today's after the upgrade. */
static void earlier_records(void **state)
{
    (void)state;
    world w;
    const char *B = world_start(&w, "compat_tx_earlier", "Altbestand");
    char *tok = w.tok, tss[37], client[37], tx1[37], tx2[37], path[512], cmd[2048];
    hs_uuid(tss);
    hs_uuid(client);
    hs_uuid(tx1);
    hs_uuid(tx2);
    hs_ready_tss(B, tok, tss, PIN, client, "KASSE-ALT");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx1);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, tx1);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "FINISHED", "client_id", client));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx2);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client));
    assert_int_equal(hs_stop(&w.p), 0);
    /* the records as the version before wrote them, in SQLite or (under
     * with_pg.sh) in the data directory's PostgreSQL database */
    static const char script[] =
        "import json, os, sqlite3, subprocess, sys\n"
        "d = sys.argv[1]\n"
        "def old(value):\n"
        "    v = json.loads(value); r = v['result']\n"
        "    r['_env'] = 'PROD'; r.pop('_version'); r.pop('metadata'); r.pop('schema')\n"
        "    r.setdefault('time_end', None); r.setdefault('qr_code_data', None)\n"
        "    return json.dumps(v)\n"
        "drop = \"DELETE FROM records WHERE ns LIKE 'txnum/%' OR ns LIKE 'txrev/%'\"\n"
        "pick = \"SELECT key, value FROM records WHERE ns LIKE 'tx/%'\"\n"
        "pg, pgbin = os.environ.get('OPENTSE_TEST_PG'), os.environ.get('OPENTSE_TEST_PGBIN')\n"
        "if pg and pgbin:\n"
        "    h = 1469598103934665603\n"
        "    for c in d.encode():\n"
        "        h = ((h ^ c) * 1099511628211) % 2**64\n"
        "    psql = [pgbin + '/psql', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-F', '\\x1f',\n"
        "            pg[:pg.rindex('/')] + '/d_%016x' % h]\n"
        "    rows = subprocess.run(psql + ['-c', pick], check=True, capture_output=True, text=True).stdout\n"
        "    sql = drop + ';\\n'\n"
        "    for line in rows.splitlines():\n"
        "        key, value = line.split('\\x1f', 1)\n"
        "        sql += \"UPDATE records SET value = $v$%s$v$ WHERE key = '%s';\\n\" % (old(value), key)\n"
        "    subprocess.run(psql, input=sql, check=True, text=True)\n"
        "else:\n"
        "    db = sqlite3.connect(os.path.join(d, 'opentse.db'))\n"
        "    db.execute(drop)\n"
        "    for key, value in db.execute(pick).fetchall():\n"
        "        db.execute('UPDATE records SET value = ? WHERE key = ?', (old(value), key))\n"
        "    db.commit()\n";
    char *py = th_path("earlier.py");
    assert_int_equal(th_write_file(py, script, strlen(script)), 0);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s'", py, w.dir);
    free(py);
    assert_int_equal(system(cmd), 0);
    hs_start(&w.p, w.dir, NULL);
    B = w.p.base;
    free(w.tok);
    tok = w.tok = hs_token(B, w.key, w.secret);
    /* by number (its record made on the first lookup), typed as today */
    for (int n = 1; n <= 2; n++) {
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%d", tss, n);
        json_t *t = hs_json(B, "GET", path, tok, 200, NULL);
        assert_typed(t);
        assert_string_equal(json_string_value(json_object_get(t, "_id")), n == 1 ? tx1 : tx2);
        assert_string_equal(json_string_value(json_object_get(t, "_env")), "LIVE");
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(t, "schema"), "raw"),
                                                              "process_type")), "");
        json_decref(t);
    }
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/3", tss);
    hs_expect_error(hs_json(B, "GET", path, tok, 404, NULL), 404, "E_TX_NOT_FOUND");
    /* the client's list has both; the earlier revision was not kept */
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s/tx", tss, client);
    assert_int_equal(list_count(B, tok, path), 2);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/1?tx_revision=1", tss);
    hs_expect_error(hs_json(B, "GET", path, tok, 404, NULL), 404, "E_TX_NOT_FOUND");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx", tss);
    assert_int_equal(list_count(B, tok, path), 2);
    /* finished by number now */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/2?tx_revision=2", tss);
    json_t *fin = hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "FINISHED", "client_id", client);
    assert_typed(fin);
    assert_int_equal(hs_verify_tx_response(fin), 0);
    json_decref(fin);
    world_stop(&w);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(receipts_and_reads),
        cmocka_unit_test(errors),
        cmocka_unit_test(earlier_records),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
