/*
 * remote.c - the "http(s):" transport: opening (URL, credentials, TSS id),
 * creating a TSS, and the helpers its files share (UUIDs, base64, times).
 * Users and administration are in remote_admin.c, reading the TSS in
 * remote_read.c, transactions in remote_tx.c.
 */
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
    return url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
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
    if (!engine_is_uuid(tss))
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
