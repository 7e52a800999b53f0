/*
 * proxy.c - the nodes of a deployment on one PostgreSQL store answer for
 * each other: every node records where it listens ("node" records: its
 * node id and --advertise URL), and a request for a TSS whose lease
 * another node holds is passed on to that node as it came (method, path,
 * query, body, Authorization: tokens are valid on every node, which share
 * the master key), its answer streamed back as it comes (an export of any
 * size in constant memory). A request is passed on once
 * (X-OpenTSE-Forwarded); when the owner cannot be reached the answer is
 * 503 with Retry-After, and the TSS is taken over here once its lease ends.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"


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

/* One request passed on: a thread runs it with libcurl and writes the
 * answer's body into a pipe, which the client's response reads as it
 * comes (any size, constant memory). The response starts once the owner's
 * status and headers are in; an answer cut short by the owner ends the
 * client's with an error, never as if complete. Freed by the last of the
 * thread and the response. */
typedef struct relay {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int headers;            /* 0 waiting, 1 in, -1 none came */
    int failed;             /* the transfer did not complete */
    int rfd, wfd;
    long status;
    char type[128], retry[16], cursor[32], disposition[200];
    CURL *h;
    struct curl_slist *hd;
    char *url;
    double last_moved;      /* progress watch */
    curl_off_t last_bytes;
} relay;

static void relay_unref(relay *x)
{
    pthread_mutex_lock(&x->mu);
    int left = --x->refs;
    pthread_mutex_unlock(&x->mu);
    if (left)
        return;
    curl_slist_free_all(x->hd);
    curl_easy_cleanup(x->h);
    free(x->url);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    free(x);
}

static void relay_headers(relay *x, int state)
{
    pthread_mutex_lock(&x->mu);
    if (!x->headers)
        x->headers = state;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static size_t on_body(char *d, size_t size, size_t n, void *cls)
{
    relay *x = cls;
    size_t k = size * n, done = 0;
    relay_headers(x, 1);
    while (done < k) {
        ssize_t w = write(x->wfd, d + done, k - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;   /* the client went away: the transfer stops */
        done += (size_t)w;
    }
    return k;
}

/* A node that stops answering (paused, dying) is given up on: 5 seconds
 * without a byte before the answer's headers, 30 within its body. */
static int on_progress(void *cls, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    relay *x = cls;
    double now = now_mono();
    if (dlnow + ulnow != x->last_bytes || !x->last_moved) {
        x->last_bytes = dlnow + ulnow;
        x->last_moved = now;
    }
    pthread_mutex_lock(&x->mu);
    int in = x->headers == 1;
    pthread_mutex_unlock(&x->mu);
    return now - x->last_moved > (in ? 30 : 5);
}

static void *relay_run(void *arg)
{
    relay *x = arg;
    CURLcode rc = curl_easy_perform(x->h);
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    pthread_mutex_lock(&x->mu);
    x->failed = rc != CURLE_OK;
    if (!x->headers)
        x->headers = rc == CURLE_OK && x->status >= 100 ? 1 : -1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    close(x->wfd);   /* after `failed` is set: the reader sees the end */
    relay_unref(x);
    return NULL;
}

static ssize_t relay_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    relay *x = cls;
    for (;;) {
        ssize_t n = read(x->rfd, buf, max);
        if (n > 0)
            return n;
        if (n < 0 && errno == EINTR)
            continue;
        pthread_mutex_lock(&x->mu);
        int failed = n < 0 || x->failed;
        pthread_mutex_unlock(&x->mu);
        return failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    }
}

static void relay_free(void *cls)
{
    relay *x = cls;
    close(x->rfd);   /* a writer still at work gets EPIPE and stops */
    relay_unref(x);
}

/* Keeps the headers of the answer that a client reads. */
static size_t on_header(char *d, size_t size, size_t n, void *cls)
{
    relay *a = cls;
    size_t k = size * n;
    static const struct {
        const char *name;
        size_t off, cap;
    } keep[] = {{"Content-Type:", offsetof(relay, type), sizeof ((relay *)0)->type},
                {"Retry-After:", offsetof(relay, retry), sizeof ((relay *)0)->retry},
                {"X-Export-Cursor:", offsetof(relay, cursor), sizeof ((relay *)0)->cursor},
                {"Content-Disposition:", offsetof(relay, disposition), sizeof ((relay *)0)->disposition}};
    if (k <= 2 && (d[0] == '\r' || d[0] == '\n')) {   /* the end of a head */
        long status = 0;
        curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) {
            a->status = status;
            relay_headers(a, 1);
        }
        return k;
    }
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
    relay *x = calloc(1, sizeof *x);
    int fds[2] = {-1, -1};
    if (!x || pipe2(fds, O_CLOEXEC) != 0) {
        free(x);
        free(url);
        curl_easy_cleanup(h);
        return 0;
    }
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    x->refs = 2;
    x->rfd = fds[0];
    x->wfd = fds[1];
    x->h = h;
    x->url = url;
    char line[1200];
    static const char *const pass[] = {"Authorization", "Content-Type", "Accept", "Accept-Language"};
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
        const char *v = req_header(q, pass[i]);
        if (v && strlen(v) < 1000) {
            snprintf(line, sizeof line, "%s: %s", pass[i], v);
            x->hd = curl_slist_append(x->hd, line);
        }
    }
    snprintf(line, sizeof line, "X-OpenTSE-Forwarded: %s", s->node_id);
    x->hd = curl_slist_append(x->hd, line);
    x->hd = curl_slist_append(x->hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hd);
    if (q->body_len || !strcmp(q->method, "PUT") || !strcmp(q->method, "POST") || !strcmp(q->method, "PATCH")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, q->body ? q->body : "");   /* the request's buffer goes first */
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);   /* the nodes' own addresses; tokens authenticate */
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, relay_run, x) != 0) {
        pthread_attr_destroy(&at);
        close(x->wfd);
        x->refs = 1;
        relay_free(x);
        return 0;
    }
    pthread_attr_destroy(&at);
    pthread_mutex_lock(&x->mu);
    while (!x->headers)
        pthread_cond_wait(&x->cv, &x->mu);
    int in = x->headers == 1;
    long status = x->status;
    pthread_mutex_unlock(&x->mu);
    struct MHD_Response *resp = in ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1 << 16, relay_read, x,
                                                                       relay_free)
                                   : NULL;
    if (!resp) {
        relay_free(x);
        return 0;   /* the owner is gone: 503 here, its lease ends soon */
    }
    if (x->type[0])
        MHD_add_response_header(resp, "Content-Type", x->type);
    if (x->retry[0])
        MHD_add_response_header(resp, "Retry-After", x->retry);
    if (x->cursor[0])
        MHD_add_response_header(resp, "X-Export-Cursor", x->cursor);
    if (x->disposition[0])
        MHD_add_response_header(resp, "Content-Disposition", x->disposition);
    r->status = (int)status;
    r->stream = resp;
    return 1;
}
