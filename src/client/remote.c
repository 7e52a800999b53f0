/*
 * remote.c - the "http(s):" transport: opening (URL, credentials, TSS id),
 * creating a TSS, users and administration, and reading the TSS. The
 * transactions are in remote_tx.c.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/remote_impl.h"
#include "engine/engine.h"

bool remote_is_url(const char *url)
{
    return url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
}

static bool uuid_ok(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    }
    return true;
}

static void uuid_format(uint8_t b[16], uint8_t version, char out[37])
{
    b[6] = (uint8_t)((b[6] & 0x0f) | (version << 4));
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char hex[33];
    tse_hex(b, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

void remote_random_uuid(char out[37])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        /* never reached with a working OpenSSL; still unique enough per process */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(b, &ts, sizeof b < sizeof ts ? sizeof b : sizeof ts);
    }
    uuid_format(b, 4, out);
}

void remote_client_uuid(const char *client_id, char out[37])
{
    uint8_t md[32];
    char in[TSE_MAX_CLIENT_ID_LEN + 32];
    snprintf(in, sizeof in, "opentse-client:%s", client_id ? client_id : "");
    EVP_Digest(in, strlen(in), md, NULL, EVP_sha256(), NULL);
    uuid_format(md, 5, out);
}

char *remote_b64(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, p ? p : (const uint8_t *)"", (int)n);
    return out;
}

uint8_t *remote_unb64(const char *s, size_t *n)
{
    size_t len = s ? strlen(s) : 0;
    uint8_t *out = malloc(len / 4 * 3 + 3);
    if (!out || (len % 4) != 0) {
        free(out);
        return NULL;
    }
    int got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (got < 0) {
        free(out);
        return NULL;
    }
    size_t pad = len && s[len - 1] == '=' ? (len > 1 && s[len - 2] == '=' ? 2 : 1) : 0;
    *n = (size_t)got - pad;
    return out;
}

int64_t remote_json_time(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    const char *s = json_string_value(v);
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

/* ------------------------------------------------------------ open */

/* Splits the URL into the API root and the TSS id. */
static tse_err parse_url(const char *url, const char *tss_opt, char *root, size_t cap, char tss[37])
{
    const char *at = strstr(url + 8, "/tss/");
    size_t base_len = at ? (size_t)(at - url) : strlen(url);
    while (base_len > 0 && url[base_len - 1] == '/')
        base_len--;
    if (base_len >= 7 && strncmp(url + base_len - 7, "/api/v2", 7) == 0)
        base_len -= 7;
    if (base_len + 8 > cap)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "URL too long");
    snprintf(root, cap, "%.*s/api/v2", (int)base_len, url);
    const char *id = at ? at + 5 : tss_opt ? tss_opt : getenv("OPENTSE_TSS_ID");
    if (!id)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT,
                           "no TSS id: give the URL as http(s)://host:port/tss/<uuid> or set OPENTSE_TSS_ID");
    size_t id_len = strcspn(id, "/?#");
    if (id_len != 36 || (id[36] && strcmp(id + 36, "/") != 0)) 
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the TSS id \"%s\" is not a UUID", id);
    memcpy(tss, id, 36);
    tss[36] = 0;
    if (!uuid_ok(tss))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the TSS id \"%s\" is not a UUID", tss);
    return TSE_OK;
}

tse_err remote_open(const char *url, const tse_open_options *opts, remote **out)
{
    tse_open_options none = {0};
    if (!opts)
        opts = &none;
    char root[1024];
    remote *r = calloc(1, sizeof *r);
    if (!r)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    tse_err rc = parse_url(url, opts->tss_id, root, sizeof root, r->tss);
    if (rc) {
        free(r);
        return rc;
    }
    snprintf(r->tss_path, sizeof r->tss_path, "/tss/%s", r->tss);
    http_cfg cfg = {
        .api_root = root,
        .api_key = opts->api_key ? opts->api_key : getenv("OPENTSE_API_KEY"),
        .api_secret = opts->api_secret ? opts->api_secret : getenv("OPENTSE_API_SECRET"),
        .ca_file = opts->ca_file,
        .connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 3000,
        .timeout_ms = opts->timeout_ms ? opts->timeout_ms : 10000,
        .retries = opts->retries == 0 ? 2 : opts->retries < 0 ? 0 : opts->retries,
    };
    if (!cfg.api_key || !cfg.api_secret) {
        free(r);
        return engine_fail(TSE_ERR_INVALID_ARGUMENT,
                           "a remote TSE needs an API key and secret (options or OPENTSE_API_KEY/OPENTSE_API_SECRET)");
    }
    rc = http_new(&cfg, &r->h);
    if (!rc && pthread_mutex_init(&r->mu, NULL) != 0) {
        http_free(r->h);
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no mutex");
    }
    if (rc) {
        free(r);
        return rc;
    }
    *out = r;
    return TSE_OK;
}

void remote_close(remote *r)
{
    if (!r)
        return;
    http_free(r->h);
    pthread_mutex_destroy(&r->mu);
    free(r->txs);
    free(r);
}

const char *remote_tss_id(const remote *r)
{
    return r->tss;
}

tse_err remote_create(const char *url, const tse_open_options *opts, char puk_out[TSE_PUK_LEN + 1])
{
    remote *r = NULL;
    tse_err rc = remote_open(url, opts, &r);
    if (rc)
        return rc;
    json_t *resp = NULL, *body = json_object();
    /* A repeated PUT answers the existing TSS without its PUK. */
    rc = body ? http_call(r->h, "PUT", r->tss_path, body, true, &resp) : TSE_ERR_NO_MEMORY;
    const char *puk = json_string_value(json_object_get(resp, "admin_puk"));
    if (!rc && !puk)
        rc = engine_fail(TSE_ERR_ALREADY_EXISTS, "TSS %s exists already", r->tss);
    if (!rc && strlen(puk) != TSE_PUK_LEN)
        rc = engine_fail(TSE_ERR_INTERNAL, "the server's PUK is not %d digits", TSE_PUK_LEN);
    if (!rc)
        memcpy(puk_out, puk, TSE_PUK_LEN + 1);
    if (puk)
        json_string_set(json_object_get(resp, "admin_puk"), "0000000000");
    json_decref(body);
    json_decref(resp);
    remote_close(r);
    return rc;
}

/* ------------------------------------------------------------ users */

static tse_err patch_admin(remote *r, const char *puk, const char *new_pin)
{
    if (!puk || !new_pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "PUK and new PIN are required");
    char path[80];
    snprintf(path, sizeof path, "%s/admin", r->tss_path);
    json_t *body = json_pack("{s:s, s:s}", "admin_puk", puk, "new_admin_pin", new_pin);
    tse_err rc = body ? http_call(r->h, "PATCH", path, body, false, NULL) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

static tse_err admin_only(const char *user_id)
{
    if (!user_id)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "user_id is required");
    if (strcmp(user_id, TSE_USER_TIME_ADMIN) == 0)
        return engine_fail(TSE_ERR_NOT_SUPPORTED, "a remote TSS has no time admin: it keeps its own time");
    if (strcmp(user_id, TSE_USER_ADMIN) != 0)
        return engine_fail(TSE_ERR_USER_ID_NOT_MANAGED, "user id \"%s\" is not managed", user_id);
    return TSE_OK;
}

tse_err remote_set_admin_pin(remote *r, const char *puk, const char *new_pin)
{
    return patch_admin(r, puk, new_pin);
}

tse_err remote_unblock_user(remote *r, const char *user_id, const char *puk, const char *new_pin)
{
    tse_err rc = admin_only(user_id);
    return rc ? rc : patch_admin(r, puk, new_pin);
}

tse_err remote_authenticate_user(remote *r, const char *user_id, const char *pin, tse_auth_result *result,
                                 int *remaining_retries)
{
    if (result)
        *result = TSE_AUTH_FAILED;
    tse_err rc = admin_only(user_id);
    if (rc) {
        if (result && rc == TSE_ERR_USER_ID_NOT_MANAGED)
            *result = TSE_AUTH_UNKNOWN_USER_ID;
        return rc;
    }
    if (!pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "pin is required");
    char path[80];
    snprintf(path, sizeof path, "%s/admin/auth", r->tss_path);
    json_t *body = json_pack("{s:s}", "admin_pin", pin);
    rc = body ? http_call(r->h, "POST", path, body, false, NULL) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    if (rc == TSE_ERR_AUTHENTICATION_FAILED && remaining_retries) {
        /* the server's message says "... N attempt(s) left ..." */
        const char *m = strstr(tse_last_error_message(), " attempt");
        const char *p = m;
        while (p && p > tse_last_error_message() && (p[-1] == ' ' || (p[-1] >= '0' && p[-1] <= '9')))
            p--;
        *remaining_retries = m ? atoi(p) : 0;
    } else if (remaining_retries) {
        *remaining_retries = 0;
    }
    if (result)
        *result = rc == TSE_OK ? TSE_AUTH_OK : rc == TSE_ERR_PIN_BLOCKED ? TSE_AUTH_PIN_BLOCKED : TSE_AUTH_FAILED;
    return rc;
}

tse_err remote_logout(remote *r, const char *user_id)
{
    tse_err rc = admin_only(user_id);
    if (rc)
        return rc;
    char path[80];
    snprintf(path, sizeof path, "%s/admin/logout", r->tss_path);
    return http_call(r->h, "POST", path, NULL, true, NULL);
}

tse_err remote_set_time_admin_pin(remote *r, const char *new_pin)
{
    (void)r;
    (void)new_pin;
    return admin_only(TSE_USER_TIME_ADMIN);
}

/* ------------------------------------------------------ administration */

static tse_err patch_tss(remote *r, json_t *body)
{
    tse_err rc = body ? http_call(r->h, "PATCH", r->tss_path, body, true, NULL) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

tse_err remote_initialize(remote *r, const char *description)
{
    if (description && strlen(description) > TSE_MAX_DESCRIPTION_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "description is limited to %d bytes", TSE_MAX_DESCRIPTION_LEN);
    if (description && *description) {
        tse_err rc = patch_tss(r, json_pack("{s:s}", "description", description));
        if (rc)
            return rc;
    }
    return patch_tss(r, json_pack("{s:s}", "state", "INITIALIZED"));
}

tse_err remote_update_time(remote *r, int64_t unix_time)
{
    (void)r;
    (void)unix_time;
    return engine_fail(TSE_ERR_NOT_SUPPORTED, "a remote TSS keeps its own time (the server's clock)");
}

tse_err remote_disable_secure_element(remote *r)
{
    return patch_tss(r, json_pack("{s:s}", "state", "DISABLED"));
}

static tse_err client_call(remote *r, const char *method, const char *client_id, json_t *body, json_t **resp)
{
    if (!client_id || !*client_id || strlen(client_id) > TSE_MAX_CLIENT_ID_LEN) {
        json_decref(body);
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "client id must be 1..%d characters", TSE_MAX_CLIENT_ID_LEN);
    }
    char uuid[37], path[128];
    remote_client_uuid(client_id, uuid);
    snprintf(path, sizeof path, "%s/client/%s", r->tss_path, uuid);
    tse_err rc = body || !strcmp(method, "GET") ? http_call(r->h, method, path, body, true, resp) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

tse_err remote_register_client(remote *r, const char *client_id)
{
    json_t *resp = NULL;
    /* The engine refuses a second registration; the server's PUT replays. */
    tse_err rc = client_call(r, "GET", client_id, NULL, &resp);
    const char *state = json_string_value(json_object_get(resp, "state"));
    if (!rc && state && strcmp(state, "REGISTERED") == 0)
        rc = engine_fail(TSE_ERR_ALREADY_EXISTS, "client \"%s\" is registered already", client_id);
    else if (rc == TSE_ERR_NOT_FOUND)
        rc = client_call(r, "PUT", client_id, json_pack("{s:s}", "serial_number", client_id), NULL);
    else if (!rc)
        rc = client_call(r, "PATCH", client_id, json_pack("{s:s}", "state", "REGISTERED"), NULL);
    json_decref(resp);
    return rc;
}

tse_err remote_deregister_client(remote *r, const char *client_id)
{
    json_t *resp = NULL;
    tse_err rc = client_call(r, "GET", client_id, NULL, &resp);
    const char *state = json_string_value(json_object_get(resp, "state"));
    if (rc == TSE_ERR_NOT_FOUND || (!rc && (!state || strcmp(state, "REGISTERED") != 0)))
        rc = engine_fail(TSE_ERR_ID_NOT_FOUND, "client \"%s\" is not registered", client_id);
    else if (!rc)
        rc = client_call(r, "PATCH", client_id, json_pack("{s:s}", "state", "DEREGISTERED"), NULL);
    json_decref(resp);
    return rc;
}

tse_err remote_self_test(remote *r)
{
    (void)r;
    return engine_fail(TSE_ERR_NOT_SUPPORTED, "the server runs the self-tests; see tse_get_info");
}

/* --------------------------------------------------------- reading */

tse_err remote_get_tss(remote *r, json_t **out)
{
    return http_call(r->h, "GET", r->tss_path, NULL, true, out);
}

static tse_state state_from(const char *s)
{
    if (!s || !strcmp(s, "CREATED"))
        return TSE_STATE_CREATED;
    if (!strcmp(s, "UNINITIALIZED"))
        return TSE_STATE_UNINITIALIZED;
    if (!strcmp(s, "INITIALIZED"))
        return TSE_STATE_INITIALIZED;
    return TSE_STATE_DISABLED;
}

/* Curve of the certificate's key. */
static tse_curve curve_of(const char *pem)
{
    static const struct { const char *name; tse_curve c; } map[] = {
        {"prime256v1", TSE_CURVE_P256}, {"secp384r1", TSE_CURVE_P384}, {"secp521r1", TSE_CURVE_P521},
        {"brainpoolP256r1", TSE_CURVE_BRAINPOOL_P256R1}, {"brainpoolP384r1", TSE_CURVE_BRAINPOOL_P384R1},
        {"brainpoolP512r1", TSE_CURVE_BRAINPOOL_P512R1},
    };
    tse_curve c = TSE_CURVE_P256;
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
    char name[64];
    size_t n = 0;
    if (k && EVP_PKEY_get_group_name(k, name, sizeof name, &n) == 1)
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (!strcmp(map[i].name, name))
                c = map[i].c;
    X509_free(x);
    BIO_free(b);
    return c;
}

static tse_time_format format_from(const char *s)
{
    return s && !strcmp(s, "utcTime") ? TSE_TIME_UTC : s && !strcmp(s, "generalizedTime") ? TSE_TIME_GENERALIZED
                                                                                         : TSE_TIME_UNIX;
}

static uint64_t u64(json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));
    return v > 0 ? (uint64_t)v : 0;
}

tse_err remote_get_info(remote *r, tse_info *out)
{
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    json_t *j = NULL;
    tse_err rc = remote_get_tss(r, &j);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->state = state_from(json_string_value(json_object_get(j, "state")));
    out->curve = curve_of(json_string_value(json_object_get(j, "certificate")));
    const char *alg = json_string_value(json_object_get(j, "signature_algorithm"));
    snprintf(out->signature_algorithm, sizeof out->signature_algorithm, "%s", alg ? alg : "");
    out->hash = alg && strstr(alg, "SHA512") ? TSE_HASH_SHA512 : alg && strstr(alg, "SHA384") ? TSE_HASH_SHA384
                                                                                          : TSE_HASH_SHA256;
    out->time_format = format_from(json_string_value(json_object_get(j, "signature_timestamp_format")));
    const char *serial = json_string_value(json_object_get(j, "serial_number"));
    for (size_t i = 0; serial && strlen(serial) == 2 * TSE_SERIAL_LEN && i < TSE_SERIAL_LEN; i++) {
        unsigned v = 0;
        sscanf(serial + 2 * i, "%2x", &v);
        out->serial_number[i] = (uint8_t)v;
    }
    out->signature_counter = u64(j, "signature_counter");
    out->transaction_counter = u64(j, "transaction_counter");
    out->max_clients = (uint32_t)u64(j, "max_number_registered_clients");
    out->current_clients = (uint32_t)u64(j, "number_registered_clients");
    out->max_open_transactions = (uint32_t)u64(j, "max_number_active_transactions");
    out->current_open_transactions = (uint32_t)u64(j, "number_active_transactions");
    out->overdue_open_transactions = (uint32_t)u64(j, "overdue_active_transactions");
    out->time_set = 1;
    out->time_now = (int64_t)time(NULL);
    json_t *exp = json_object_get(j, "certificate_expiry");
    out->cert_not_after = (int64_t)u64(exp, "unix");
    out->cert_days_left = (int32_t)json_integer_value(json_object_get(exp, "days_left"));
    json_t *st = json_object_get(j, "self_test");
    out->self_test_time = (int64_t)u64(st, "unix");
    out->self_test_ok = json_is_true(json_object_get(st, "passed"));
    out->time_creation = remote_json_time(json_object_get(j, "time_creation"));
    out->time_init = remote_json_time(json_object_get(j, "time_init"));
    out->time_disable = remote_json_time(json_object_get(j, "time_disable"));
    const char *desc = json_string_value(json_object_get(j, "description"));
    snprintf(out->description, sizeof out->description, "%s", desc ? desc : "");
    json_decref(j);
    return TSE_OK;
}

#define INFO_FIELD(fn, type, field)                                                                               \
    tse_err remote_##fn(remote *r, type *out)                                                                     \
    {                                                                                                             \
        tse_info info;                                                                                            \
        if (!out)                                                                                                 \
            return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");                                    \
        tse_err rc = remote_get_info(r, &info);                                                                   \
        if (!rc)                                                                                                  \
            *out = info.field;                                                                                    \
        return rc;                                                                                                \
    }
INFO_FIELD(get_max_number_of_clients, uint32_t, max_clients)
INFO_FIELD(get_current_number_of_clients, uint32_t, current_clients)
INFO_FIELD(get_max_number_of_transactions, uint32_t, max_open_transactions)
INFO_FIELD(get_current_number_of_transactions, uint32_t, current_open_transactions)

tse_err remote_certificate_expiry(remote *r, int64_t *not_after, int32_t *days_left)
{
    tse_info info;
    tse_err rc = remote_get_info(r, &info);
    if (!rc && not_after)
        *not_after = info.cert_not_after;
    if (!rc && days_left)
        *days_left = info.cert_days_left;
    return rc;
}

tse_err remote_get_supported_transaction_update_variants(remote *r, tse_update_variant *out)
{
    (void)r;
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    *out = TSE_UPDATE_SIGNED;
    return TSE_OK;
}

tse_err remote_read_log_message(remote *r, uint8_t **msg, size_t *len)
{
    (void)r, (void)msg, (void)len;
    return engine_fail(TSE_ERR_NOT_SUPPORTED, "log messages of a remote TSS are read from its export");
}

tse_err remote_read_log_by_counter(remote *r, uint64_t counter, uint8_t **msg, size_t *len)
{
    (void)counter;
    return remote_read_log_message(r, msg, len);
}

tse_err remote_export_serial_numbers(remote *r, uint8_t **der, size_t *len)
{
    if (!der || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "der and len are required");
    tse_info info;
    tse_err rc = remote_get_info(r, &info);
    if (rc)
        return rc;
    /* SEQUENCE OF SEQUENCE { OCTET STRING serial, SEQUENCE { [0] [1] [2] BOOLEAN TRUE } },
     * as the engine writes it. */
    static const uint8_t head[] = {0x30, 47, 0x30, 45, 0x04, TSE_SERIAL_LEN};
    static const uint8_t tail[] = {0x30, 9, 0x80, 1, 0xff, 0x81, 1, 0xff, 0x82, 1, 0xff};
    uint8_t *out = malloc(sizeof head + TSE_SERIAL_LEN + sizeof tail);
    if (!out)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    memcpy(out, head, sizeof head);
    memcpy(out + sizeof head, info.serial_number, TSE_SERIAL_LEN);
    memcpy(out + sizeof head + TSE_SERIAL_LEN, tail, sizeof tail);
    *der = out;
    *len = sizeof head + TSE_SERIAL_LEN + sizeof tail;
    return TSE_OK;
}

tse_err remote_export_certificates(remote *r, char **pem)
{
    if (!pem)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "pem is required");
    json_t *j = NULL;
    tse_err rc = remote_get_tss(r, &j);
    const char *cert = json_string_value(json_object_get(j, "certificate"));
    if (!rc && !cert)
        rc = engine_fail(TSE_ERR_EXPORT_CERT_FAILED, "the server sent no certificate");
    if (!rc && !(*pem = strdup(cert)))
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    json_decref(j);
    return rc;
}

tse_err remote_public_key(remote *r, uint8_t **point, size_t *len)
{
    if (!point || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "point and len are required");
    json_t *j = NULL;
    tse_err rc = remote_get_tss(r, &j);
    if (!rc && !(*point = remote_unb64(json_string_value(json_object_get(j, "public_key")), len)))
        rc = engine_fail(TSE_ERR_INTERNAL, "the server's public_key is not base64");
    json_decref(j);
    return rc;
}

tse_err remote_export_csr(remote *r, char **pem)
{
    (void)r, (void)pem;
    return engine_fail(TSE_ERR_NOT_SUPPORTED, "certificates of a remote TSS are managed by its operator");
}

tse_err remote_import_certificate(remote *r, const char *pem_chain)
{
    (void)pem_chain;
    return remote_export_csr(r, NULL);
}

tse_err remote_list_clients(remote *r, char ***ids, size_t *count)
{
    if (!ids || !count)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "ids and count are required");
    size_t n = 0, cap = 16;
    char **list = malloc(cap * sizeof *list);
    tse_err rc = list ? TSE_OK : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    for (size_t offset = 0; !rc;) {
        char path[128];
        snprintf(path, sizeof path, "%s/client?limit=100&offset=%zu", r->tss_path, offset);
        json_t *j = NULL;
        rc = http_call(r->h, "GET", path, NULL, true, &j);
        json_t *data = json_object_get(j, "data");
        size_t got = json_array_size(data);
        for (size_t i = 0; !rc && i < got; i++) {
            json_t *c = json_array_get(data, i);
            const char *sn = json_string_value(json_object_get(c, "serial_number"));
            const char *st = json_string_value(json_object_get(c, "state"));
            if (!sn || !st || strcmp(st, "REGISTERED") != 0)
                continue;
            if (n == cap) {
                char **nl = realloc(list, 2 * cap * sizeof *list);
                if (!nl) {
                    rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
                    break;
                }
                list = nl;
                cap *= 2;
            }
            if (!(list[n] = strdup(sn)))
                rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
            else
                n++;
        }
        json_decref(j);
        if (got < 100)
            break;
        offset += got;
    }
    if (rc) {
        tse_free_strings(list, n);
        return rc;
    }
    *ids = list;
    *count = n;
    return TSE_OK;
}



