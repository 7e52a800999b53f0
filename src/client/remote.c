/*
 * remote.c - the "http(s):" transport: opening (URL, credentials, TSS id),
 * creating a TSS, the helpers its files share (UUIDs, base64, times) and
 * its table of SE API calls (transport_remote). Users and administration
 * are in remote_admin.c, reading the TSS in remote_read.c, transactions in
 * remote_tx.c, export and backup in remote_export.c.
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/remote_impl.h"
#include "engine/engine.h"

bool remote_is_url(const char *url)
{
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
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
    engine_uuid_format(b, 4, out);
}

void remote_client_uuid(const char *client_id, char out[37])
{
    engine_client_uuid(client_id, out);
}

uint8_t *remote_unb64(const char *s, size_t *n)
{
    return s ? base64_decode_alloc(s, strlen(s), SIZE_MAX, n) : NULL;
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

/* The longest remote TSE URL accepted. */
#define REMOTE_MAX_URL 1000

/* libcurl's text of a URL part, or NULL when the URL has none. */
static char *url_part(CURLU *u, CURLUPart what)
{
    char *s = NULL;
    return curl_url_get(u, what, &s, 0) == CURLUE_OK ? s : NULL;
}

/* The API root "http(s)://host[:port][/prefix]/api/v2" (into root, cap
 * bytes) of "http(s)://host[:port][/prefix][/api/v2][/tss/<uuid>[/]]", parsed
 * by libcurl; the TSS id from the URL, else `tss_opt`, else $OPENTSE_TSS_ID. */
static tse_err parse_url(const char *url, const char *tss_opt, char *root, size_t cap, char tss[37])
{
    if (strlen(url) > REMOTE_MAX_URL)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the URL is longer than %d bytes", REMOTE_MAX_URL);
    CURLU *u = curl_url();
    if (!u)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for the URL");
    char *scheme = NULL, *user = NULL, *query = NULL, *fragment = NULL, *path = NULL, *full = NULL;
    tse_err rc = TSE_OK;
    /* libcurl reads "http:///x" as host "x"; an empty host is refused here. */
    const char *authority = strstr(url, "://");
    if (authority && authority[3] == '/') {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the URL \"%s\" has no host", url);
        goto out;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the URL \"%s\" is malformed: %s", url, curl_url_strerror(uc));
        goto out;
    }
    scheme = url_part(u, CURLUPART_SCHEME);
    user = url_part(u, CURLUPART_USER);
    query = url_part(u, CURLUPART_QUERY);
    fragment = url_part(u, CURLUPART_FRAGMENT);
    path = url_part(u, CURLUPART_PATH);
    if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the URL \"%s\" is not http:// or https://", url);
        goto out;
    }
    if (user) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the URL \"%s\" carries credentials: give the API key and "
                         "secret as options or in OPENTSE_API_KEY/OPENTSE_API_SECRET", url);
        goto out;
    }
    if (query || fragment) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the URL \"%s\" has a %s; a TSE's URL has none", url,
                         query ? "query" : "fragment");
        goto out;
    }
    if (!path) {
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory for the URL");
        goto out;
    }
    char *at = strstr(path, "/tss/");
    const char *id = at ? at + 5 : tss_opt ? tss_opt : getenv("OPENTSE_TSS_ID");
    size_t base_len = at ? (size_t)(at - path) : strlen(path);
    while (base_len > 0 && path[base_len - 1] == '/')
        base_len--;
    if (base_len >= 7 && strncmp(path + base_len - 7, "/api/v2", 7) == 0)
        base_len -= 7;
    if (!id) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT,
                         "no TSS id: give the URL as http(s)://host:port/tss/<uuid> or set OPENTSE_TSS_ID");
        goto out;
    }
    size_t id_len = strcspn(id, "/");
    if (id_len != 36 || (id[36] && strcmp(id + 36, "/") != 0)) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the TSS id \"%.100s\" is not a UUID", id);
        goto out;
    }
    memcpy(tss, id, 36);
    tss[36] = 0;
    if (!uuid_valid(tss)) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the TSS id \"%s\" is not a UUID", tss);
        goto out;
    }
    char api_path[REMOTE_MAX_URL + 8];
    if ((size_t)snprintf(api_path, sizeof api_path, "%.*s/api/v2", (int)base_len, path) >= sizeof api_path) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the URL is longer than %d bytes", REMOTE_MAX_URL);
        goto out;
    }
    if (curl_url_set(u, CURLUPART_PATH, api_path, 0) != CURLUE_OK || !(full = url_part(u, CURLUPART_URL))) {
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory for the URL");
        goto out;
    }
    if (strlen(full) >= cap) {
        rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "the URL is longer than %zu bytes", cap - 1);
        goto out;
    }
    memcpy(root, full, strlen(full) + 1);
out:
    curl_free(scheme);
    curl_free(user);
    curl_free(query);
    curl_free(fragment);
    curl_free(path);
    curl_free(full);
    curl_url_cleanup(u);
    return rc;
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

void remote_close(void *backend)
{
    remote *r = backend;
    if (!r)
        return;
    http_free(r->h);
    pthread_mutex_destroy(&r->mu);
    free(r->txs);
    free(r);
}

const char *remote_tss_id(const void *backend)
{
    const remote *r = backend;
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
    rc = body ? http_call(r->h, "PUT", TSS_PATH(r), body, true, &resp) : TSE_ERR_NO_MEMORY;
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

/* ------------------------------------------------------- the table */

static tse_err open_backend(const char *url, const tse_open_options *opts, void **backend)
{
    remote *r = NULL;
    tse_err rc = remote_open(url, opts, &r);
    *backend = r;
    return rc;
}

const tse_ops transport_remote = {
    .remote = true,
    .open = open_backend,
    .close = remote_close,
    .set_admin_pin = remote_set_admin_pin,
    .authenticate_user = remote_authenticate_user,
    .logout = remote_logout,
    .unblock_user = remote_unblock_user,
    .set_user_pin = remote_set_user_pin,
    .logged_in_user = remote_logged_in_user,
    .initialize = remote_initialize,
    .update_time = remote_update_time,
    .disable_secure_element = remote_disable_secure_element,
    .register_client = remote_register_client,
    .deregister_client = remote_deregister_client,
    .self_test = remote_self_test,
    .start_transaction = remote_start_transaction,
    .update_transaction = remote_update_transaction,
    .finish_transaction = remote_finish_transaction,
    .list_open_transactions = remote_list_open_transactions,
    .get_info = remote_get_info,
    .read_log_message = remote_read_log_message,
    .read_log_by_counter = remote_read_log_by_counter,
    .export_serial_numbers = remote_export_serial_numbers,
    .get_max_number_of_clients = remote_get_max_number_of_clients,
    .get_current_number_of_clients = remote_get_current_number_of_clients,
    .get_max_number_of_transactions = remote_get_max_number_of_transactions,
    .get_current_number_of_transactions = remote_get_current_number_of_transactions,
    .get_supported_transaction_update_variants = remote_get_supported_transaction_update_variants,
    .list_clients = remote_list_clients,
    .export_certificates = remote_export_certificates,
    .public_key = remote_public_key,
    .export_csr = remote_export_csr,
    .import_certificate = remote_import_certificate,
    .certificate_expiry = remote_certificate_expiry,
    .export_data = remote_export_data,
    .delete_stored_data = remote_delete_stored_data,
    .restore_from_backup = remote_restore_from_backup,
    .set_description = remote_set_description,
    .set_transaction_logging_locked = remote_set_transaction_logging_locked,
    .get_device_info = remote_get_device_info,
    .get_transaction_state = remote_get_transaction_state,
    .get_last_transaction_log = remote_get_last_transaction_log,
    .update_device = remote_update_device,
    .pending = remote_pending,
    .restore_pending = remote_restore_pending,
    .tss_id = remote_tss_id,
};

const char *remote_tss_path(remote *r, char buf[48])
{
    pthread_mutex_lock(&r->mu);
    memcpy(buf, r->tss_path, sizeof r->tss_path);
    pthread_mutex_unlock(&r->mu);
    return buf;
}
