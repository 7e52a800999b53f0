/*
 * http.h - one authenticated HTTP session with opentsed's /api/v2: JSON in
 * and out over libcurl, the access token fetched and refreshed inside,
 * timeouts, retries after lost connections, and HTTP errors turned back
 * into the tse_err codes the engine returns.
 */
#ifndef OPENTSE_CLIENT_HTTP_H
#define OPENTSE_CLIENT_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "opentse/opentse.h"

typedef struct http http;

typedef struct http_cfg {
    const char *api_root;     /* "http://host:port/api/v2", no trailing slash */
    const char *api_key;
    const char *api_secret;
    const char *ca_file;      /* NULL: the system's CA bundle */
    uint32_t connect_timeout_ms;
    uint32_t timeout_ms;
    int retries;              /* extra attempts after a transport failure */
} http_cfg;

/* Copies the configuration (the secret is wiped on http_free). No network. */
tse_err http_new(const http_cfg *cfg, http **out);
void http_free(http *h);

/* `method` `path` (below api_root, starting with '/') with an optional JSON
 * body (borrowed). On a 2xx answer returns TSE_OK and the parsed body in
 * `*resp` (owned by the caller; NULL allowed when not wanted). Otherwise the
 * TR-03151 code the server named (or the closest code for the HTTP status),
 * with the server's message as tse_last_error_message(); a server that cannot
 * be reached gives TSE_ERR_UNREACHABLE. `replayable` requests are retried
 * after any transport failure (the server answers a repeated request with the
 * stored result); the others only when the connection was never made.
 * Calls on one session are serialised. */
tse_err http_call(http *h, const char *method, const char *path, json_t *body, bool replayable,
                  json_t **resp);

/* http_call that also hands over the server's error answer: on a refusal
 * `*err` is its JSON body (owned by the caller; NULL when there was none). */
tse_err http_call_err(http *h, const char *method, const char *path, json_t *body, bool replayable, json_t **resp,
                      json_t **err);

/* Where http_stream sends a 2xx answer, chunk by chunk as it arrives. */
typedef struct http_sink {
    tse_export_write_fn write;
    void *ctx;
    uint64_t bytes;        /* passed to write so far */
    int write_rc;          /* write's non-zero return that stopped the transfer */
    char cursor[32];       /* the X-Export-Cursor header, "" if none */
} http_sink;

/* GET `path` with the body streamed to `sink` (an error answer is read and
 * mapped as http_call does). Retried after transport failures only while
 * nothing has reached the sink. A sink that stops the transfer makes the
 * result its negative return, or STORAGE_FAILURE. */
tse_err http_stream(http *h, const char *path, http_sink *sink);

/* The tse_err whose tse_errname() is `name`, or `fallback`. */
tse_err http_code_from_name(const char *name, tse_err fallback);

#endif /* OPENTSE_CLIENT_HTTP_H */
