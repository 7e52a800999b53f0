/*
 * test_server_errors.c - every error class of opentsed over real HTTP, each
 * answered as JSON {status_code, error, code, message}: 400 malformed JSON
 * and bad fields, 401 missing/forged/expired tokens and wrong PINs, 403
 * blocked PIN and missing admin, 404 unknown ids and another organization's
 * TSS, 409 wrong state, 413 a 64 MiB body, 429 with Retry-After; the PUK
 * unblocks; a revoked key stops at once; an expired token and its refresh;
 * settings from a config file and the environment; TLS only in the versions
 * and suites allowed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "helpers.h"

#define PIN "13572468"

static long raw(const char *base, const char *method, const char *path, const char *token, const char *body,
                size_t len, json_t **out)
{
    return hs_call(base, method, path, token, body, len, out, NULL);
}

static void errors(void **state)
{
    (void)state;
    char *dir = th_path("errors");
    srv_proc p;
    hs_start(&p, dir, NULL);
    const char *B = p.base;
    char *op = hs_token(B, p.op_key, p.op_secret);
    char k1[64], s1[96], k2[64], s2[96];
    hs_org_key(B, op, "one", k1, s1);
    hs_org_key(B, op, "two", k2, s2);
    char *t1 = hs_token(B, k1, s1), *t2 = hs_token(B, k2, s2);
    char tss[37], client[37], path[1024];
    hs_uuid(tss);
    hs_uuid(client);
    json_t *e = NULL;

    /* 401: no token, a forged token, a wrong secret. */
    assert_int_equal(raw(B, "GET", "/api/v2/tss", NULL, NULL, 0, &e), 401);
    hs_expect_error(e, 401, "E_UNAUTHORIZED");
    char forged[512];
    assert_true(t1 && strlen(t1) < sizeof forged);
    strcpy(forged, t1);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0'; /* one MAC digit off */
    assert_int_equal(raw(B, "GET", "/api/v2/tss", forged, NULL, 0, &e), 401);
    hs_expect_error(e, 401, "E_UNAUTHORIZED");
    hs_expect_error(hs_json(B, "POST", "/api/v2/auth", NULL, 401, "{s:s, s:s}", "api_key", k1, "api_secret", s2), 401,
                 NULL);
    /* 403: an organization's key cannot manage organizations. */
    hs_expect_error(hs_json(B, "POST", "/api/v2/organizations", t1, 403, "{s:s}", "name", "x"), 403, "E_FORBIDDEN");

    /* 400: malformed JSON, wrong types, bad ids. */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    assert_int_equal(raw(B, "PUT", path, t1, "{\"description\": ", 16, &e), 400);
    hs_expect_error(e, 400, "E_BAD_REQUEST");
    assert_int_equal(raw(B, "PUT", path, t1, "[1,2]", 5, &e), 400);
    hs_expect_error(e, 400, "E_BAD_REQUEST");
    hs_expect_error(hs_json(B, "PUT", "/api/v2/tss/not-a-uuid", t1, 400, "{}"), 400, "E_BAD_REQUEST");

    /* 413: a 64 MiB body is refused without being read. */
    size_t big = 64u << 20;
    char *body = malloc(big);
    assert_non_null(body);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    assert_int_equal(raw(B, "PUT", path, t1, body, big, &e), 413);
    hs_expect_error(e, 413, "E_PAYLOAD_TOO_LARGE");
    free(body);

    /* The TSS and wrong PINs: three strikes block, the PUK unblocks. */
    json_t *t = hs_json(B, "PUT", path, t1, 200, "{}");
    char puk[32];
    snprintf(puk, sizeof puk, "%s", json_string_value(json_object_get(t, "admin_puk")));
    json_decref(t);
    /* Nothing may be initialized before the admin PIN is set. */
    hs_expect_error(hs_json(B, "PATCH", path, t1, 409, "{s:s}", "state", "INITIALIZED"), 409, NULL);
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin", tss);
    hs_expect_error(hs_json(B, "PATCH", path, t1, 401, "{s:s, s:s}", "admin_puk", "0000000000", "new_admin_pin", PIN),
                 401, NULL);
    json_decref(hs_json(B, "PATCH", path, t1, 200, "{s:s, s:s}", "admin_puk", puk, "new_admin_pin", PIN));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    hs_expect_error(hs_json(B, "POST", path, t1, 401, "{s:s}", "admin_pin", "99999999"), 401, "E_PIN_INVALID/AUTHENTICATION_FAILED");
    hs_expect_error(hs_json(B, "POST", path, t1, 401, "{s:s}", "admin_pin", "99999998"), 401, "E_PIN_INVALID/AUTHENTICATION_FAILED");
    hs_expect_error(hs_json(B, "POST", path, t1, 403, "{s:s}", "admin_pin", "99999997"), 403, "E_ADMIN_PIN_BLOCKED/PIN_BLOCKED");
    hs_expect_error(hs_json(B, "POST", path, t1, 403, "{s:s}", "admin_pin", PIN), 403, "E_ADMIN_PIN_BLOCKED/PIN_BLOCKED");
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin", tss);
    json_decref(hs_json(B, "PATCH", path, t1, 200, "{s:s, s:s}", "admin_puk", puk, "new_admin_pin", "11223344"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(hs_json(B, "POST", path, t1, 200, "{s:s}", "admin_pin", "11223344"));
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_decref(hs_json(B, "PATCH", path, t1, 200, "{s:s}", "state", "INITIALIZED"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, client);
    json_decref(hs_json(B, "PUT", path, t1, 200, "{s:s}", "serial_number", "ERS-7"));
    hs_expect_error(hs_json(B, "PUT", path, t1, 409, "{s:s}", "serial_number", "ERS-8"), 409, NULL);

    /* 404: another organization's TSS, unknown ids and routes. */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    hs_expect_error(hs_json(B, "GET", path, t2, 404, NULL), 404, "E_TSS_NOT_FOUND");
    hs_expect_error(hs_json(B, "PATCH", path, t2, 404, "{s:s}", "description", "mine"), 404, NULL);
    char tx[37];
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    hs_expect_error(hs_json(B, "PUT", path, t2, 404, "{s:s, s:s}", "state", "ACTIVE", "client_id", client), 404, NULL);
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    hs_expect_error(hs_json(B, "PUT", path, t2, 409, "{}"), 409, NULL); /* the id is taken */
    json_t *l = hs_json(B, "GET", "/api/v2/tss", t2, 200, NULL);
    assert_int_equal(json_array_size(json_object_get(l, "data")), 0);
    json_decref(l);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", tss, tx);
    hs_expect_error(hs_json(B, "GET", path, t1, 404, NULL), 404, "E_TX_NOT_FOUND");
    hs_expect_error(hs_json(B, "GET", "/api/v2/nothing", t1, 404, NULL), 404, "E_NOT_FOUND");

    /* 400 on transactions: no revision, bad base64, a bad receipt, unknown client. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", tss, tx);
    hs_expect_error(hs_json(B, "PUT", path, t1, 400, "{s:s, s:s}", "state", "ACTIVE", "client_id", client), 400, NULL);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    hs_expect_error(hs_json(B, "PUT", path, t1, 400, "{s:s, s:s, s:{s:{s:s, s:s}}}", "state", "ACTIVE", "client_id",
                         client, "schema", "raw", "process_type", "X", "process_data", "**"),
                 400, NULL);
    hs_expect_error(hs_json(B, "PUT", path, t1, 400, "{s:s, s:s, s:{s:{s:{s:s}}}}", "state", "ACTIVE", "client_id",
                         client, "schema", "standard_v1", "receipt", "receipt_type", "GIFT"),
                 400, NULL);
    char other[37];
    hs_uuid(other);
    hs_expect_error(hs_json(B, "PUT", path, t1, 400, "{s:s, s:s}", "state", "ACTIVE", "client_id", other), 400,
                 "E_CLIENT_NOT_FOUND");
    /* A transaction that never started cannot jump ahead. */
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=3", tss, tx);
    hs_expect_error(hs_json(B, "PUT", path, t1, 404, "{s:s, s:s}", "state", "FINISHED", "client_id", client), 404,
                 NULL);
    /* Nothing of the failed requests was signed. */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    t = hs_json(B, "GET", path, t1, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(t, "transaction_counter")), 0);
    json_decref(t);

    /* 400 E_TSS_DISABLED: a disabled TSS signs nothing more. */
    json_decref(hs_json(B, "PATCH", path, t1, 200, "{s:s}", "state", "DISABLED"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    hs_expect_error(hs_json(B, "PUT", path, t1, 400, "{s:s, s:s}", "state", "ACTIVE", "client_id", client), 400,
                 "E_TSS_DISABLED/SECURE_ELEMENT_DISABLED");

    /* A revoked key: its live token and its secret stop working. */
    char *op2 = hs_token(B, p.op_key, p.op_secret);
    json_t *keys = hs_json(B, "GET", "/api/v2/organizations/2/api-keys", op2, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(keys, "data"), 0), "key")),
                        k2);
    json_decref(keys);
    snprintf(path, sizeof path, "/api/v2/organizations/2/api-keys/%s", k2);
    json_decref(hs_json(B, "DELETE", path, op2, 200, NULL));
    hs_expect_error(hs_json(B, "GET", "/api/v2/tss", t2, 401, NULL), 401, NULL);
    hs_expect_error(hs_json(B, "POST", "/api/v2/auth", NULL, 401, "{s:s, s:s}", "api_key", k2, "api_secret", s2), 401,
                 NULL);
    assert_int_equal(hs_stop(&p), 0);
    free(op);
    free(op2);
    free(t1);
    free(t2);
    free(dir);
}

/* A TSS whose certificate expires while it runs: transactions still get
 * signed and stored (the register keeps selling), with a warning that names
 * the expired certificate, and the TSS reports no days left. */
static void expired_certificate(void **state)
{
    (void)state;
    char *dir = th_path("certexp");
    const char *args[] = {"--cert-validity", "3", NULL};
    srv_proc p;
    hs_start(&p, dir, args);
    const char *B = p.base;
    char *op = hs_token(B, p.op_key, p.op_secret), key[64], secret[96], tss[37], path[200];
    hs_org_key(B, op, "certexp", key, secret);
    char *tok = hs_token(B, key, secret);
    char client[37], tx[37];
    hs_uuid(tss);
    hs_uuid(client);
    hs_ready_tss(B, tok, tss, "123456", client, "KASSE-X");
    sleep(4);   /* past the certificate's end */
    hs_uuid(tx);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, tx);
    json_t *r = hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client);
    json_t *w = json_object_get(r, "warnings");
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "CERTIFICATE_EXPIRED"));
    assert_int_equal(hs_verify_tx_response(r), 0);
    uint64_t counter = (uint64_t)json_integer_value(json_object_get(json_object_get(r, "signature"), "counter"));
    json_t *again = hs_json(B, "PUT", path, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(again, "signature"), "counter")), counter);
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = hs_json(B, "GET", path, tok, 200, NULL);
    assert_true(json_integer_value(json_object_get(json_object_get(t, "certificate_expiry"), "days_left")) <= 0);
    json_decref(r);
    json_decref(again);
    json_decref(t);
    free(op);
    free(tok);
    assert_int_equal(hs_stop(&p), 0);
    free(dir);
}

/* Settings from a config file: a 1 s token lifetime and a 1 MiB body limit. */
static void expired_token(void **state)
{
    (void)state;
    char *dir = th_path("expiry"), *conf = th_path("expiry.conf");
    const char text[] = "# test settings\ntoken-ttl = 1\nmax-body = 1048576\n";
    assert_int_equal(th_write_file(conf, text, sizeof text - 1), 0);
    const char *args[] = {"--config", conf, NULL};
    srv_proc p;
    hs_start(&p, dir, args);
    const char *B = p.base;
    json_t *a = hs_json(B, "POST", "/api/v2/auth", NULL, 200, "{s:s, s:s}", "api_key", p.op_key, "api_secret",
                        p.op_secret);
    assert_int_equal(json_integer_value(json_object_get(a, "access_token_expires_in")), 1);
    sleep(2);
    json_t *e = NULL;
    assert_int_equal(raw(B, "GET", "/api/v2/organizations", json_string_value(json_object_get(a, "access_token")),
                         NULL, 0, &e),
                     401);
    hs_expect_error(e, 401, "E_TOKEN_EXPIRED");
    /* The refresh token gives a new access token. */
    json_t *a2 = hs_json(B, "POST", "/api/v2/auth", NULL, 200, "{s:s}", "refresh_token",
                         json_string_value(json_object_get(a, "refresh_token")));
    size_t n = 2 << 20;
    char *body = malloc(n);
    assert_non_null(body);
    memset(body, ' ', n);
    body[0] = '{';
    body[n - 1] = '}';
    assert_int_equal(raw(B, "POST", "/api/v2/organizations", json_string_value(json_object_get(a2, "access_token")),
                         body, n, &e),
                     413);
    hs_expect_error(e, 413, "E_PAYLOAD_TOO_LARGE");
    free(body);
    json_decref(a);
    json_decref(a2);
    assert_int_equal(hs_stop(&p), 0);
    free(conf);
    free(dir);
}

static void rate_limit(void **state)
{
    (void)state;
    char *dir = th_path("rate");
    setenv("OPENTSED_RATE_LIMIT", "2", 1);
    srv_proc p;
    hs_start(&p, dir, NULL);
    unsetenv("OPENTSED_RATE_LIMIT");
    char *op = hs_token(p.base, p.op_key, p.op_secret);
    int limited = 0;
    for (int i = 0; i < 10; i++) {
        json_t *e = NULL;
        char *hdr = NULL;
        long st = hs_call(p.base, "GET", "/api/v2/organizations", op, NULL, 0, &e, &hdr);
        if (st == 429) {
            limited++;
            assert_non_null(strstr(hdr, "Retry-After: "));
            hs_expect_error(e, 429, "E_RATE_LIMITED");
        } else {
            assert_int_equal(st, 200);
            json_decref(e);
        }
        free(hdr);
    }
    assert_true(limited >= 1);
    assert_int_equal(hs_stop(&p), 0);
    free(op);
    free(dir);
}

/* One HTTPS GET /health with the given TLS version bounds and cipher lists;
 * returns the curl result. */
static CURLcode tls_get(const char *base, long version, const char *ciphers, const char *tls13_ciphers,
                        const char *ca)
{
    CURL *c = curl_easy_init();
    char url[300];
    snprintf(url, sizeof url, "%s/health", base);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, version);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
    if (ciphers)
        curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, ciphers);
    if (tls13_ciphers)
        curl_easy_setopt(c, CURLOPT_TLS13_CIPHERS, tls13_ciphers);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status != 200)
        rc = CURLE_HTTP_RETURNED_ERROR;
    curl_easy_cleanup(c);
    fclose(null);
    return rc;
}

static void tls(void **state)
{
    (void)state;
    char *dir = th_path("tls"), *cert = th_path("tls-cert.pem"), *key = th_path("tls-key.pem"), *cmd = NULL;
    assert_true(asprintf(&cmd,
                         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1"
                         " -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null",
                         key, cert) > 0);
    assert_int_equal(system(cmd), 0);
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    srv_proc p;
    hs_start(&p, dir, args);
    assert_memory_equal(p.base, "https://", 8);
    /* TLS 1.3 and TLS 1.2 with an AES-GCM ECDHE suite work. */
    assert_int_equal(tls_get(p.base, CURL_SSLVERSION_TLSv1_3, NULL, NULL, cert), CURLE_OK);
    assert_int_equal(tls_get(p.base, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
                             "ECDHE-ECDSA-AES128-GCM-SHA256", NULL, cert),
                     CURLE_OK);
    /* TLS 1.1, ChaCha20 (not in TR-02102-2) and plain RSA key exchange are refused. */
    assert_int_not_equal(tls_get(p.base, CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1, "DEFAULT:@SECLEVEL=0",
                                 NULL, cert),
                         CURLE_OK);
    assert_int_not_equal(tls_get(p.base, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
                                 "ECDHE-ECDSA-CHACHA20-POLY1305", NULL, cert),
                         CURLE_OK);
    assert_int_not_equal(tls_get(p.base, CURL_SSLVERSION_TLSv1_3, NULL, "TLS_CHACHA20_POLY1305_SHA256", cert),
                         CURLE_OK);
    assert_int_equal(hs_stop(&p), 0);
    free(cmd);
    free(dir);
    free(cert);
    free(key);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors),
        cmocka_unit_test(expired_token),
        cmocka_unit_test(expired_certificate),
        cmocka_unit_test(rate_limit),
        cmocka_unit_test(tls),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
