/*
 * http.c - the HTTP session of a remote libopentse handle. One libcurl easy
 * handle behind a mutex (connections are kept alive between calls); the
 * bearer token comes from POST /auth and is renewed (refresh token first,
 * then key and secret) before it expires or when the server says 401.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/http.h"
#include "engine/engine.h"

#define MAX_BODY (64u << 20)

struct http {
    pthread_mutex_t mu;
    CURL *curl;
    char *api_root, *api_key, *api_secret, *ca_file;
    long connect_timeout_ms, timeout_ms;
    int retries;
    char *access_token, *refresh_token;
    double access_until, refresh_until;   /* monotonic seconds, renewal margin taken off */
};

typedef struct buf {
    char *p;
    size_t n;
    int too_big;
    long retry_after;
    CURL *curl;
    http_sink *sink;       /* 2xx bodies go here when set */
} buf;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static char *dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

tse_err http_new(const http_cfg *cfg, http **out)
{
    pthread_once(&curl_once, curl_init_once);
    http *h = calloc(1, sizeof *h);
    if (!h)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    int failed = 0;
    h->api_root = dup_or_null(cfg->api_root, &failed);
    h->api_key = dup_or_null(cfg->api_key, &failed);
    h->api_secret = dup_or_null(cfg->api_secret, &failed);
    h->ca_file = dup_or_null(cfg->ca_file, &failed);
    h->connect_timeout_ms = cfg->connect_timeout_ms;
    h->timeout_ms = cfg->timeout_ms;
    h->retries = cfg->retries;
    h->curl = curl_easy_init();
    if (failed || !h->curl || pthread_mutex_init(&h->mu, NULL) != 0) {
        if (h->curl)
            curl_easy_cleanup(h->curl);
        free(h->api_root);
        free(h->api_key);
        wipe_free(h->api_secret);
        free(h->ca_file);
        free(h);
        return engine_fail(TSE_ERR_NO_MEMORY, "cannot set up the HTTP session");
    }
    *out = h;
    return TSE_OK;
}

void http_free(http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    pthread_mutex_destroy(&h->mu);
    free(h->api_root);
    free(h->api_key);
    wipe_free(h->api_secret);
    free(h->ca_file);
    wipe_free(h->access_token);
    wipe_free(h->refresh_token);
    free(h);
}

tse_err http_code_from_name(const char *name, tse_err fallback)
{
    int code;
    return name && error_lookup(name, strlen(name), &code) && code ? (tse_err)code : fallback;
}

/* The TR-03151 name of an error answer: its tse_error, else its code. */
static const char *http_error_name(json_t *e)
{
    const char *name = json_string_value(json_object_get(e, "tse_error"));
    return name ? name : json_string_value(json_object_get(e, "code"));
}

static tse_err code_for_status(long status)
{
    switch (status) {
    case 400: return TSE_ERR_INVALID_ARGUMENT;
    case 401: return TSE_ERR_AUTHENTICATION_FAILED;
    case 403: return TSE_ERR_USER_NOT_AUTHORIZED;
    case 404: return TSE_ERR_NOT_FOUND;
    case 409: return TSE_ERR_WRONG_STATE;
    case 413: return TSE_ERR_TOO_LARGE;
    case 502:
    case 504: return TSE_ERR_UNREACHABLE;   /* a proxy in front could not reach it */
    case 503: return TSE_ERR_STORAGE_FAILURE;
    default: return TSE_ERR_INTERNAL;
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    buf *b = arg;
    size_t len = size * n;
    long status = 0;
    if (b->sink && curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status >= 200 &&
        status < 300) {
        int rc = b->sink->write(b->sink->ctx, (const uint8_t *)p, len);
        if (rc) {
            b->sink->write_rc = rc;
            return 0;
        }
        b->sink->bytes += len;
        return len;
    }
    if (b->n + len > MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    char *np = realloc(b->p, b->n + len + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, p, len);
    b->p = np;
    b->n += len;
    b->p[b->n] = 0;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    buf *b = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
        b->retry_after = strtol(p + 12, NULL, 10);
    if (b->sink && len > 16 && strncasecmp(p, "X-Export-Cursor:", 16) == 0)
        snprintf(b->sink->cursor, sizeof b->sink->cursor, "%.*s", (int)strcspn(p + 16, "\r\n"), p + 16);
    return len;
}

typedef struct exchange {
    CURLcode cc;
    long status;
    long retry_after;
    json_t *json;          /* parsed body, NULL if none or not JSON */
    char curl_msg[CURL_ERROR_SIZE];
} exchange;

/* One request on the wire. */
static void send_once(http *h, const char *method, const char *path, const char *body, const char *token,
                      bool replayable, http_sink *sink, exchange *x)
{
    CURL *c = h->curl;
    buf b = {.curl = c, .sink = sink};
    char url[2048], auth[2048];
    snprintf(url, sizeof url, "%s%s", h->api_root, path);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *more = hdr ? curl_slist_append(hdr, "Accept: application/json") : NULL;
    if (more)
        hdr = more;
    if (token && hdr) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        more = curl_slist_append(hdr, auth);
        explicit_bzero(auth, sizeof auth);
        if (more)
            hdr = more;
    }
    memset(x, 0, sizeof *x);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->curl_msg);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    if (sink) {
        /* a stream may take long: it only has to keep moving */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (h->timeout_ms + 999) / 1000);
    } else {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &b);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* libcurl repeats a request on its own when a reused connection dies:
     * only requests the server may see twice go over a reused one */
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, replayable ? 0L : 1L);
    if (h->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    x->cc = hdr ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
    x->retry_after = b.retry_after;
    if (b.too_big && x->cc == CURLE_WRITE_ERROR)
        snprintf(x->curl_msg, sizeof x->curl_msg, "the answer exceeds %u bytes", MAX_BODY);
    if (x->cc == CURLE_OK && b.n)
        x->json = json_loadb(b.p, b.n, 0, NULL);
    if (hdr && token) {
        /* the token was copied into the list: wipe it */
        for (struct curl_slist *s = hdr; s; s = s->next)
            explicit_bzero(s->data, strlen(s->data));
    }
    curl_slist_free_all(hdr);
    free(b.p);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
}

static bool never_connected(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY;
}

static bool transport_failure(CURLcode cc)
{
    return cc != CURLE_OK && cc != CURLE_OUT_OF_MEMORY && cc != CURLE_WRITE_ERROR && cc != CURLE_URL_MALFORMAT &&
           cc != CURLE_UNSUPPORTED_PROTOCOL;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sends with retries; fills x with the last exchange. */
static void send_retrying(http *h, const char *method, const char *path, const char *body, const char *token,
                          bool replayable, http_sink *sink, exchange *x)
{
    int attempts = 1 + (h->retries > 0 ? h->retries : 0);
    for (int i = 0; i < attempts; i++) {
        if (i > 0) {
            json_decref(x->json);
            x->json = NULL;
        }
        send_once(h, method, path, body, token, replayable, sink, x);
        bool again;
        if (sink && sink->bytes)
            again = false;   /* part of the answer is out: it cannot be taken back */
        else if (transport_failure(x->cc))
            again = replayable || never_connected(x->cc);
        else
            again = x->cc == CURLE_OK && x->status == 429;
        if (!again || i + 1 == attempts)
            return;
        long wait = 100L << (i < 5 ? i : 5);
        if (x->status == 429 && x->retry_after > 0)
            wait = (x->retry_after > 5 ? 5 : x->retry_after) * 1000L;
        pause_ms(wait);
    }
}

/* Turns a finished exchange into a tse_err (and the detail message). */
static tse_err outcome(http *h, const char *method, const char *path, http_sink *sink, exchange *x)
{
    if (x->cc == CURLE_WRITE_ERROR && sink && sink->write_rc) {
        tse_err code = sink->write_rc < 0 ? (tse_err)sink->write_rc : TSE_ERR_STORAGE_FAILURE;
        return engine_fail(code, "the export was stopped by its receiver (%s)", tse_errname(code));
    }
    if (x->cc == CURLE_OUT_OF_MEMORY)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for the request");
    if (x->cc != CURLE_OK) {
        tse_err code = transport_failure(x->cc) ? TSE_ERR_UNREACHABLE
                       : x->cc == CURLE_WRITE_ERROR ? TSE_ERR_TOO_LARGE
                                                   : TSE_ERR_INVALID_ARGUMENT;
        return engine_fail(code, "%s %s%s: %s", method, h->api_root, path,
                           *x->curl_msg ? x->curl_msg : curl_easy_strerror(x->cc));
    }
    if (x->status >= 200 && x->status < 300)
        return TSE_OK;
    const char *name = http_error_name(x->json);
    const char *msg = json_string_value(json_object_get(x->json, "message"));
    tse_err code = http_code_from_name(name, code_for_status(x->status));
    return engine_fail(code, "HTTP %ld from %s %s: %s", x->status, method, path,
                       msg ? msg : x->json ? "no message" : "not a JSON answer");
}

/* Gets a new access token; caller holds mu. */
static tse_err authenticate(http *h)
{
    json_t *req = NULL;
    double now = mono_now();
    if (h->refresh_token && now < h->refresh_until)
        req = json_pack("{s:s}", "refresh_token", h->refresh_token);
    else if (h->api_key && h->api_secret)
        req = json_pack("{s:s, s:s}", "api_key", h->api_key, "api_secret", h->api_secret);
    else
        return engine_fail(TSE_ERR_AUTHENTICATION_FAILED,
                           "no API key and secret (tse_open_options or OPENTSE_API_KEY/OPENTSE_API_SECRET)");
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    exchange x;
    send_retrying(h, "POST", "/auth", body, NULL, true, NULL, &x);
    wipe_free(body);
    tse_err rc = outcome(h, "POST", "/auth", NULL, &x);
    if (rc == TSE_ERR_AUTHENTICATION_FAILED && h->refresh_token) {
        /* the refresh token was refused: start over with key and secret */
        json_decref(x.json);
        wipe_free(h->refresh_token);
        h->refresh_token = NULL;
        return authenticate(h);
    }
    const char *at = json_string_value(json_object_get(x.json, "access_token"));
    const char *rt = json_string_value(json_object_get(x.json, "refresh_token"));
    if (!rc && !at)
        rc = engine_fail(TSE_ERR_INTERNAL, "POST /auth: no access_token in the answer");
    if (!rc) {
        wipe_free(h->access_token);
        wipe_free(h->refresh_token);
        h->access_token = strdup(at);
        h->refresh_token = rt ? strdup(rt) : NULL;
        json_int_t ttl = json_integer_value(json_object_get(x.json, "access_token_expires_in"));
        json_int_t rttl = json_integer_value(json_object_get(x.json, "refresh_token_expires_in"));
        /* renew a little before expiry: 5 s, or a quarter of a short lifetime */
        double a = (double)(ttl > 0 ? ttl : 60), r = (double)(rttl > 0 ? rttl : 0);
        h->access_until = now + a - (a > 20 ? 5 : a / 4);
        h->refresh_until = now + r - (r > 20 ? 5 : r / 4);
        if (!h->access_token)
            rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    }
    if (x.json) {
        /* the answer held tokens: wipe them before freeing */
        json_t *v = json_object_get(x.json, "access_token");
        if (json_is_string(v))
            json_string_set(v, "");
        v = json_object_get(x.json, "refresh_token");
        if (json_is_string(v))
            json_string_set(v, "");
    }
    json_decref(x.json);
    return rc;
}

static tse_err call(http *h, const char *method, const char *path, json_t *body, bool replayable, http_sink *sink,
                    json_t **resp, json_t **err)
{
    if (resp)
        *resp = NULL;
    if (err)
        *err = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    pthread_mutex_lock(&h->mu);
    tse_err rc = TSE_OK;
    exchange x = {0};
    for (int round = 0; round < 2; round++) {
        if (!h->access_token || mono_now() >= h->access_until)
            rc = authenticate(h);
        if (rc)
            break;
        send_retrying(h, method, path, text, h->access_token, replayable, sink, &x);
        const char *code = http_error_name(x.json);
        if (x.cc == CURLE_OK && x.status == 401 && round == 0 && http_code_from_name(code, 0) == 0) {
            /* not a TSE refusal: the token expired or the server restarted;
             * once more with a new token */
            json_decref(x.json);
            x.json = NULL;
            wipe_free(h->access_token);
            h->access_token = NULL;
            continue;
        }
        rc = outcome(h, method, path, sink, &x);
        break;
    }
    pthread_mutex_unlock(&h->mu);
    wipe_free(text);   /* may hold a PIN or PUK */
    if (rc == TSE_OK && resp)
        *resp = x.json ? x.json : json_object();
    else if (rc != TSE_OK && err)
        *err = x.json;
    else
        json_decref(x.json);
    return rc == TSE_OK && resp && !*resp ? engine_fail(TSE_ERR_NO_MEMORY, "no memory") : rc;
}

tse_err http_call(http *h, const char *method, const char *path, json_t *body, bool replayable, json_t **resp)
{
    return call(h, method, path, body, replayable, NULL, resp, NULL);
}

tse_err http_call_err(http *h, const char *method, const char *path, json_t *body, bool replayable, json_t **resp,
                      json_t **err)
{
    return call(h, method, path, body, replayable, NULL, resp, err);
}

tse_err http_stream(http *h, const char *path, http_sink *sink)
{
    return call(h, "GET", path, NULL, true, sink, NULL, NULL);
}
