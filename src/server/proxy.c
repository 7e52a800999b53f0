/*
 * proxy.c - the nodes of a deployment on one PostgreSQL store answer for
 * each other: every node records where it listens ("node" records: its
 * node id and --advertise URL), and a request for a TSS whose lease
 * another node holds is passed on to that node as it came (method, path,
 * query, body, Authorization: tokens are valid on every node, which share
 * the master key), its answer passed back. A request is passed on once
 * (X-OpenTSE-Forwarded); when the owner cannot be reached the answer is
 * 503 with Retry-After, and the TSS is taken over here once its lease ends.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define PROXY_MAX_BODY (64u << 20)   /* an answer passed back is held in memory */

int proxy_register(srv *s, const char *url)
{
    /* once, before the first request is served (libcurl's global state) */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    json_t *v = json_pack("{s:s, s:I}", "url", url, "time", (json_int_t)now_s());
    int rc = v ? rec_put(s, ENGINE_RECORD_PUT, "node", s->node_id, NULL, 0, v) : -1;
    json_decref(v);
    return rc;
}

typedef struct answer {
    char *body;
    size_t len;
    int too_large;
    char type[128], retry[16], cursor[32], disposition[200];
} answer;

static size_t on_body(char *d, size_t size, size_t n, void *cls)
{
    answer *a = cls;
    size_t k = size * n;
    if (a->len + k > PROXY_MAX_BODY) {
        a->too_large = 1;
        return 0;
    }
    char *p = realloc(a->body, a->len + k + 1);
    if (!p)
        return 0;
    memcpy(p + a->len, d, k);
    a->body = p;
    a->len += k;
    return k;
}

/* Keeps the headers of the answer that a client reads. */
static size_t on_header(char *d, size_t size, size_t n, void *cls)
{
    answer *a = cls;
    size_t k = size * n;
    static const struct {
        const char *name;
        size_t off, cap;
    } keep[] = {{"Content-Type:", offsetof(answer, type), sizeof ((answer *)0)->type},
                {"Retry-After:", offsetof(answer, retry), sizeof ((answer *)0)->retry},
                {"X-Export-Cursor:", offsetof(answer, cursor), sizeof ((answer *)0)->cursor},
                {"Content-Disposition:", offsetof(answer, disposition), sizeof ((answer *)0)->disposition}};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        size_t l = strlen(keep[i].name);
        if (k > l && strncasecmp(d, keep[i].name, l) == 0) {
            const char *v = d + l;
            size_t vl = k - l;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
                vl--;
            snprintf((char *)a + keep[i].off, keep[i].cap, "%.*s", (int)vl, v);
        }
    }
    return k;
}

typedef struct query_buf {
    CURL *h;
    char *s;
    size_t len, cap;
    int failed;
} query_buf;

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    query_buf *b = cls;
    char *k = curl_easy_escape(b->h, key, 0), *v = value ? curl_easy_escape(b->h, value, 0) : NULL;
    size_t need = b->len + (k ? strlen(k) : 0) + (v ? strlen(v) : 0) + 3;
    if (!k || (value && !v) || need > 8192) {
        b->failed = 1;
    } else {
        b->len += (size_t)snprintf(b->s + b->len, b->cap - b->len, "%c%s%s%s", b->len ? '&' : '?', k, v ? "=" : "",
                                   v ? v : "");
    }
    curl_free(k);
    curl_free(v);
    return b->failed ? MHD_NO : MHD_YES;
}

/* The URL of the node holding TSS id's lease, or "" when none is known. */
static void owner_url(srv *s, const char *id, char *out, size_t cap)
{
    char node[17];
    json_t *v = NULL;
    out[0] = 0;
    if (engine_db_tse_owner(s->db, id, node) == TSE_OK && strcmp(node, s->node_id) != 0 &&
        rec_get(s, "node", node, &v) == 1)
        snprintf(out, cap, "%s", json_string_value(json_object_get(v, "url")) ?: "");
    json_decref(v);
}

int proxy_pass(srv_req *q, srv_resp *r, const char *tss_id)
{
    srv *s = q->s;
    if (!s->node_id[0] || req_header(q, "X-OpenTSE-Forwarded"))
        return 0;   /* passed on once only */
    char base[300];
    owner_url(s, tss_id, base, sizeof base);
    if (!base[0])
        return 0;
    CURL *h = curl_easy_init();
    char qs[8192] = "";
    query_buf qb = {.h = h, .s = qs, .cap = sizeof qs};
    if (h)
        MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, add_arg, &qb);
    char *url = NULL;
    if (!h || qb.failed || asprintf(&url, "%s%s%s", base, q->path, qs) < 0) {
        curl_easy_cleanup(h);
        return 0;
    }
    struct curl_slist *hd = NULL;
    char line[1200];
    static const char *const pass[] = {"Authorization", "Content-Type", "Accept", "Accept-Language"};
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
        const char *v = req_header(q, pass[i]);
        if (v && strlen(v) < 1000) {
            snprintf(line, sizeof line, "%s: %s", pass[i], v);
            hd = curl_slist_append(hd, line);
        }
    }
    snprintf(line, sizeof line, "X-OpenTSE-Forwarded: %s", s->node_id);
    hd = curl_slist_append(hd, line);
    hd = curl_slist_append(hd, "Expect:");
    answer a = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (q->body_len || !strcmp(q->method, "PUT") || !strcmp(q->method, "POST") || !strcmp(q->method, "PATCH")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    /* a node that stopped answering (paused, dying) is given up on soon */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);   /* the nodes' own addresses; tokens authenticate */
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    free(url);
    if (rc != CURLE_OK || status < 100) {
        free(a.body);
        return 0;   /* the owner is gone: 503 here, its lease ends soon */
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(a.len, a.body ? a.body : (void *)"",
                                                                a.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(a.body);
        return 0;
    }
    if (a.type[0])
        MHD_add_response_header(resp, "Content-Type", a.type);
    if (a.retry[0])
        MHD_add_response_header(resp, "Retry-After", a.retry);
    if (a.cursor[0])
        MHD_add_response_header(resp, "X-Export-Cursor", a.cursor);
    if (a.disposition[0])
        MHD_add_response_header(resp, "Content-Disposition", a.disposition);
    r->status = (int)status;
    r->stream = resp;
    return 1;
}
