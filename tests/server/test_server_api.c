/*
 * test_server_api.c - opentsed end to end over real HTTP: tenancy (operator,
 * organizations, API keys), the TSS lifecycle, clients, 20 transactions with
 * updates whose every signature is checked by the openssl command line
 * against the TSS public key, the receipt QR string rebuilt and verified,
 * idempotent replay, stale revisions, paging, health, readiness, metrics and
 * a restart that keeps everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "harness.h"
#include "helpers.h"

#define PIN "24681357"

static const char *receipt_fmt = "{s:s, s:s, s:{s:{s:{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s, s:s}]}}}}";

/* PUT tx revision with a standard_v1 receipt. */
static json_t *finish_standard(const char *base, const char *token, const char *path, const char *client_id,
                               long want)
{
    return hs_json(base, "PUT", path, token, want, receipt_fmt, "state", "FINISHED", "client_id", client_id, "schema",
                   "standard_v1", "receipt", "receipt_type", "RECEIPT", "amounts_per_vat_rate", "vat_rate", "NORMAL",
                   "amount", "75.33", "vat_rate", "REDUCED_1", "amount", "7.99", "amounts_per_payment_type",
                   "payment_type", "NON_CASH", "amount", "73.32", "payment_type", "CASH", "amount", "10.00",
                   "currency_code", "EUR");
}

/* Splits the QR string into its 12 fields and verifies its signature. */
static void check_qr(json_t *tx, const char *want_type, const char *want_pd)
{
    const char *qr = json_string_value(json_object_get(tx, "qr_code_data"));
    assert_non_null(qr);
    char *copy = strdup(qr), *f[13];
    int n = 0;
    for (char *p = copy, *semi; n < 13 && p; p = semi ? semi + 1 : NULL) {
        semi = strchr(p, ';');
        if (semi)
            *semi = 0;
        f[n++] = p;
    }
    assert_int_equal(n, 12);
    assert_string_equal(f[0], "V0");
    assert_string_equal(f[1], json_string_value(json_object_get(tx, "client_serial_number")));
    assert_string_equal(f[2], want_type);
    assert_string_equal(f[3], want_pd);
    assert_int_equal(strtoull(f[4], NULL, 10), json_integer_value(json_object_get(tx, "number")));
    json_t *sig = json_object_get(tx, "signature");
    assert_int_equal(strtoull(f[5], NULL, 10), json_integer_value(json_object_get(sig, "counter")));
    assert_int_equal(strlen(f[6]), 24);
    assert_int_equal(f[6][23], 'Z');
    assert_string_equal(f[8], "ecdsa-plain-SHA256");
    assert_string_equal(f[9], "unixTime");
    assert_string_equal(f[10], json_string_value(json_object_get(sig, "value")));
    assert_string_equal(f[11], json_string_value(json_object_get(sig, "public_key")));
    /* The finish log rebuilt from the QR fields alone verifies (log time from f[7]). */
    struct tm tm = {0};
    assert_non_null(strptime(f[7], "%Y-%m-%dT%H:%M:%S", &tm));
    int64_t t_end = (int64_t)timegm(&tm);
    assert_int_equal(t_end, json_integer_value(json_object_get(tx, "time_end")));
    assert_int_equal(hs_verify_tx_log("finishTransaction", f[1], (const uint8_t *)f[3], strlen(f[3]), f[2],
                                      strtoull(f[4], NULL, 10), json_string_value(json_object_get(tx, "tss_serial_number")),
                                      strtoull(f[5], NULL, 10), t_end, f[10], f[11]),
                     0);
    free(copy);
}

static void lifecycle(void **state)
{
    (void)state;
    char *dir = th_path("lifecycle");
    srv_proc p;
    hs_start(&p, dir, NULL);
    const char *B = p.base;
    assert_true(p.op_key[0] && p.op_secret[0]);

    json_t *h = hs_json(B, "GET", "/health", NULL, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "status")), "ok");
    json_decref(h);

    char *op = hs_token(B, p.op_key, p.op_secret);
    char key[64], secret[96];
    hs_org_key(B, op, "Bäckerei Beispiel", key, secret);
    char *tok = hs_token(B, key, secret);
    /* The operator does not use TSSs. */
    json_decref(hs_json(B, "GET", "/api/v2/tss", op, 403, NULL));

    char tss[37], client[37], path[1024];
    hs_uuid(tss);
    hs_uuid(client);
    hs_ready_tss(B, tok, tss, PIN, client, "KASSE 01");

    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = hs_json(B, "GET", path, tok, 200, NULL);
    assert_null(json_object_get(t, "admin_puk")); /* shown only at creation */
    assert_string_equal(json_string_value(json_object_get(t, "signature_algorithm")), "ecdsa-plain-SHA256");
    assert_int_equal(strlen(json_string_value(json_object_get(t, "serial_number"))), 64);
    assert_true(json_integer_value(json_object_get(json_object_get(t, "certificate_expiry"), "days_left")) > 3000);
    assert_true(json_is_true(json_object_get(json_object_get(t, "self_test"), "passed")));
    assert_int_equal(json_integer_value(json_object_get(t, "overdue_active_transactions")), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "number_registered_clients")), 1);
    assert_non_null(strstr(json_string_value(json_object_get(t, "certificate")), "BEGIN CERTIFICATE"));
    json_decref(t);

    /* description */
    t = hs_json(B, "PATCH", path, tok, 200, "{s:s}", "description", "Filiale Mitte");
    assert_string_equal(json_string_value(json_object_get(t, "description")), "Filiale Mitte");
    json_decref(t);

    /* 20 transactions: start, two signed updates, finish; every signature by openssl. */
    char txid[20][37];
    uint64_t last_counter = 0;
    for (int i = 0; i < 20; i++) {
        hs_uuid(txid[i]);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, txid[i]);
        json_t *tx = hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client);
        assert_string_equal(json_string_value(json_object_get(tx, "state")), "ACTIVE");
        assert_string_equal(json_string_value(json_object_get(json_object_get(tx, "log"), "operation")),
                            "startTransaction");
        assert_int_equal(json_integer_value(json_object_get(tx, "number")), i + 1);
        assert_string_equal(json_string_value(json_object_get(tx, "client_serial_number")), "KASSE 01");
        assert_null(json_object_get(tx, "qr_code_data"));   /* absent, not null, while ACTIVE */
        assert_null(json_object_get(tx, "time_end"));
        assert_int_equal(hs_verify_tx_response(tx), 0);
        uint64_t c = (uint64_t)json_integer_value(json_object_get(json_object_get(tx, "signature"), "counter"));
        assert_true(c > last_counter);
        last_counter = c;
        json_decref(tx);
        for (int rev = 2; rev <= 3; rev++) {
            char pd[64];
            snprintf(pd, sizeof pd, "1;\"Brot %d\";%d.50", i, rev);
            char *b64 = NULL;
            size_t n = strlen(pd);
            b64 = calloc(1, 4 * ((n + 2) / 3) + 1);
            EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)pd, (int)n);
            snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=%d", tss, txid[i], rev);
            tx = hs_json(B, "PUT", path, tok, 200, "{s:s, s:s, s:{s:{s:s, s:s}}}", "state", "ACTIVE", "client_id",
                         client, "schema", "raw", "process_type", "Bestellung-V1", "process_data", b64);
            free(b64);
            assert_string_equal(json_string_value(json_object_get(json_object_get(tx, "log"), "operation")),
                                "updateTransaction");
            assert_int_equal(json_integer_value(json_object_get(tx, "revision")), rev);
            assert_int_equal(hs_verify_tx_response(tx), 0);
            c = (uint64_t)json_integer_value(json_object_get(json_object_get(tx, "signature"), "counter"));
            assert_int_equal(c, last_counter + 1);
            last_counter = c;
            json_decref(tx);
        }
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=4", tss, txid[i]);
        tx = finish_standard(B, tok, path, client, 200);
        assert_string_equal(json_string_value(json_object_get(tx, "state")), "FINISHED");
        assert_int_equal(hs_verify_tx_response(tx), 0);
        check_qr(tx, "Kassenbeleg-V1", "Beleg^75.33_7.99_0.00_0.00_0.00^10.00:Bar_73.32:Unbar");
        last_counter++;
        json_decref(tx);
    }

    /* Idempotent replay: same revision, same answer, no new signature. */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    t = hs_json(B, "GET", path, tok, 200, NULL);
    json_int_t counter_before = json_integer_value(json_object_get(t, "signature_counter"));
    assert_int_equal(json_integer_value(json_object_get(t, "transaction_counter")), 20);
    json_decref(t);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=4", tss, txid[7]);
    json_t *a = finish_standard(B, tok, path, client, 200);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", tss, txid[7]);
    json_t *g = hs_json(B, "GET", path, tok, 200, NULL);
    assert_true(json_equal(a, g));
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    t = hs_json(B, "GET", path, tok, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(t, "signature_counter")), counter_before);
    json_decref(t);
    json_decref(a);
    json_decref(g);

    /* Stale revision and a finished transaction. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, txid[3]);
    hs_expect_error(hs_json(B, "PUT", path, tok, 409, "{s:s, s:s}", "state", "ACTIVE", "client_id", client), 409,
                    "E_TX_UPSERT");
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=5", tss, txid[3]);
    hs_expect_error(hs_json(B, "PUT", path, tok, 409, "{s:s, s:s}", "state", "ACTIVE", "client_id", client), 409,
                    "E_TX_UPSERT/NO_TRANSACTION");

    /* Lists and paging. */
    char open_tx[37];
    hs_uuid(open_tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, open_tx);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx?states[]=ACTIVE", tss);
    json_t *l = hs_json(B, "GET", path, tok, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(l, "data")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(l, "data"), 0), "_id")),
                        open_tx);
    json_decref(l);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx?states[]=FINISHED&limit=8&offset=16", tss);
    l = hs_json(B, "GET", path, tok, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(l, "data")), 4);
    json_decref(l);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client", tss);
    l = hs_json(B, "GET", path, tok, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(l, "data")), 1);
    json_decref(l);
    l = hs_json(B, "GET", "/api/v2/tss?limit=1", tok, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(l, "data")), 1);
    json_decref(l);

    /* Deregistering a client and disabling need the admin. */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    hs_expect_error(hs_json(B, "PATCH", path, tok, 403, "{s:s}", "state", "DISABLED"), 403, "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");

    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, client);
    hs_expect_error(hs_json(B, "PATCH", path, tok, 403, "{s:s}", "state", "DEREGISTERED"),
                    403, "E_ADMIN_NOT_AUTHENTICATED/USER_NOT_AUTHENTICATED");
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    /* Not while the client has an open transaction. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, client);
    hs_expect_error(hs_json(B, "PATCH", path, tok, 409, "{s:s}", "state", "DEREGISTERED"), 409, "E_TSS_INVALID_STATE/WRONG_STATE");

    /* Ready and metrics. */
    json_decref(hs_json(B, "GET", "/ready", NULL, 200, NULL));
    char *hdr = NULL;
    json_t *none = NULL;
    assert_int_equal(hs_call(B, "GET", "/metrics", NULL, NULL, 0, &none, &hdr), 200);
    free(hdr);
    json_decref(none);

    /* A second opentsed on the same data directory is refused. */
    {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s --data-dir %s --listen 127.0.0.1:0 >/dev/null 2>&1", getenv("OPENTSED_BIN"),
                 dir);
        int st = system(cmd);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    }

    /* Restart: everything is still there, the same token still works. */
    assert_int_equal(hs_stop(&p), 0);
    hs_start(&p, dir, NULL);
    assert_int_equal(p.op_key[0], 0); /* printed only on the first start */
    B = p.base;
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", tss, txid[19]);
    t = hs_json(B, "GET", path, tok, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(t, "state")), "FINISHED");
    json_decref(t);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, open_tx);
    t = finish_standard(B, tok, path, client, 200);
    assert_int_equal(hs_verify_tx_response(t), 0);
    json_decref(t);

    /* A deregistered client signs nothing; registered again it does. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(hs_json(B, "POST", path, tok, 200, "{s:s}", "admin_pin", PIN));
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, client);
    t = hs_json(B, "PATCH", path, tok, 200, "{s:s}", "state", "DEREGISTERED");
    assert_string_equal(json_string_value(json_object_get(t, "state")), "DEREGISTERED");
    json_decref(t);
    char late[37];
    hs_uuid(late);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, late);
    hs_expect_error(hs_json(B, "PUT", path, tok, 400, "{s:s, s:s}", "state", "ACTIVE", "client_id", client),
                    400, "E_CLIENT_NOT_FOUND/CLIENT_NOT_REGISTERED");
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, client);
    json_decref(hs_json(B, "PATCH", path, tok, 200, "{s:s}", "state", "REGISTERED"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, late);
    json_decref(hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client));
    /* Cancelled without a schema: empty processType and processData, still a verifiable QR code. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, late);
    t = hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "CANCELLED", "client_id", client);
    assert_string_equal(json_string_value(json_object_get(t, "state")), "CANCELLED");
    assert_int_equal(hs_verify_tx_response(t), 0);
    check_qr(t, "", "");
    json_decref(t);
    assert_int_equal(hs_stop(&p), 0);
    free(op);
    free(tok);
    free(dir);
}

static void metrics_text(void **state)
{
    (void)state;
    char *dir = th_path("metrics");
    srv_proc p;
    char *tok = NULL;
    json_t *d = hs_start_demo(&p, dir, &tok);
    char path[1024], tx[37];
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", json_string_value(json_object_get(d, "tss_id")),
             tx);
    json_decref(hs_json(p.base, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id",
                        json_string_value(json_object_get(d, "client_id"))));
    /* The demo admin PIN works. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", json_string_value(json_object_get(d, "tss_id")));
    json_decref(hs_json(p.base, "POST", path, tok, 200, "{s:s}", "admin_pin",
                        json_string_value(json_object_get(d, "admin_pin"))));

    CURL *c = curl_easy_init();
    char url[300];
    snprintf(url, sizeof url, "%s/metrics", p.base);
    FILE *mem;
    char *text = NULL;
    size_t len = 0;
    mem = open_memstream(&text, &len);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    fclose(mem);
    char want[200];
    assert_non_null(strstr(text, "opentsed_requests_total{route=\"tx\",status=\"2xx\"} 1\n"));
    assert_non_null(strstr(text, "opentsed_request_duration_seconds_count{route=\"tx\"} 1\n"));
    snprintf(want, sizeof want, "opentse_transactions_open{tss=\"%s\"} 1\n",
             json_string_value(json_object_get(d, "tss_id")));
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "opentse_certificate_days_left{tss=\"%s\"} ",
             json_string_value(json_object_get(d, "tss_id")));
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "opentse_group_commit_flushes_total{tss=\"%s\"} ",
             json_string_value(json_object_get(d, "tss_id")));
    const char *flushes = strstr(text, want);
    assert_non_null(flushes);
    assert_true(strtoll(flushes + strlen(want), NULL, 10) >= 1);
    snprintf(want, sizeof want, "opentse_transactions_overdue{tss=\"%s\"} 0\n",
             json_string_value(json_object_get(d, "tss_id")));
    assert_non_null(strstr(text, want));
    free(text);
    free(tok);
    json_decref(d);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifecycle),
        cmocka_unit_test(metrics_text),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
