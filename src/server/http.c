/*
 * http.c - opentsed's adapter to libmicrohttpd: collects request bodies
 * within the size limit (a too large Content-Length is refused before any of
 * the body is read), hands each request to the router, sends the response as
 * JSON or text, writes one JSON access-log line per request to stderr and
 * records request metrics. Handlers read requests and write responses
 * through reqresp.c.
 *
 * Slow clients: the daemon's options (http_options) limit the connections
 * of one address and close silent ones; a watchdog thread closes any
 * connection whose request head is not complete header-timeout seconds
 * after the connection opened or its previous request ended, or whose body
 * is not complete body-timeout seconds after its head, however slowly it
 * keeps trickling bytes.
 */
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server.h"

typedef struct conn_ctx {
    char *body;
    size_t len, cap;
    int too_large;
    double t0;
} conn_ctx;

/* One per open connection (its socket context), on the watchdog's list. */
typedef struct guard {
    MHD_socket fd;
    double deadline;          /* now_mono() by which the head or body must be in; 0 = none */
    struct guard *prev, *next;
} guard;

static struct {
    pthread_mutex_t mu;       /* guards the list and every deadline */
    guard *head;
    int watching;             /* the watchdog thread runs */
} guards = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void guard_deadline(struct MHD_Connection *conn, long long secs)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    guard *g = ci ? ci->socket_context : NULL;
    if (!g)
        return;
    pthread_mutex_lock(&guards.mu);
    g->deadline = secs ? now_mono() + (double)secs : 0;
    pthread_mutex_unlock(&guards.mu);
}

/* Connection opened or closed: on or off the list. The head's deadline
 * starts now. MHD closes the socket only after the CLOSED call, so the
 * watchdog never shuts down a socket number that was reused. */
static void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode code)
{
    srv *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        guard *g = ci ? calloc(1, sizeof *g) : NULL;
        if (!g)
            return; /* no memory: MHD's idle timeout still applies */
        g->fd = ci->connect_fd;
        g->deadline = now_mono() + (double)s->cfg.header_timeout;
        pthread_mutex_lock(&guards.mu);
        g->next = guards.head;
        if (guards.head)
            guards.head->prev = g;
        guards.head = g;
        pthread_mutex_unlock(&guards.mu);
        *socket_context = g;
    } else if (*socket_context) {
        guard *g = *socket_context;
        pthread_mutex_lock(&guards.mu);
        if (g->prev)
            g->prev->next = g->next;
        else
            guards.head = g->next;
        if (g->next)
            g->next->prev = g->prev;
        pthread_mutex_unlock(&guards.mu);
        free(g);
        *socket_context = NULL;
    }
}

/* Shuts down the sockets past their deadline; MHD's connection thread then
 * reads the end of the stream and closes the connection as usual. Touches
 * only the list, so it may run until the process ends. */
static void *guard_watch(void *arg)
{
    (void)arg;
    struct timespec tick = {0, 100 * 1000 * 1000};
    for (;;) {
        nanosleep(&tick, NULL);
        double now = now_mono();
        pthread_mutex_lock(&guards.mu);
        for (guard *g = guards.head; g; g = g->next)
            if (g->deadline > 0 && now >= g->deadline) {
                shutdown(g->fd, SHUT_RDWR);
                g->deadline = 0;
            }
        pthread_mutex_unlock(&guards.mu);
    }
    return NULL;
}

/* libmicrohttpd's own messages (one per refused or broken connection
 * under an attack) go to stderr at most 10 a second, with a count of the
 * ones left out. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    srv *s = cls;
    static double window;
    static long shown, dropped;
    pthread_mutex_lock(&s->log_mu);
    double now = now_mono();
    if (now - window >= 1) {
        if (dropped)
            fprintf(stderr, "opentsed: %ld more messages of libmicrohttpd left out\n", dropped);
        window = now;
        shown = dropped = 0;
    }
    if (shown++ < 10) {
        fputs("libmicrohttpd: ", stderr);
        vfprintf(stderr, fmt, ap);
    } else {
        dropped++;
    }
    pthread_mutex_unlock(&s->log_mu);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* libmicrohttpd's %XX decoding of the path and the query, with one change:
 * %00 becomes the byte 0xFF, which is not UTF-8, instead of a NUL that
 * would cut the text short unseen; the path check (http_handler) and the
 * strict parameter parsers refuse it. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
            int v = hi * 16 + lo;
            *w++ = (char)(v ? v : 0xff);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* Goes first among the daemon's options (for the logger). */
const struct MHD_OptionItem *http_options(srv *s)
{
    static struct MHD_OptionItem o[6];
    pthread_t t;
    if (!guards.watching && pthread_create(&t, NULL, guard_watch, NULL) == 0) {
        pthread_detach(t);
        guards.watching = 1;
    } else if (!guards.watching) {
        fprintf(stderr, "opentsed: no watchdog thread: header-timeout and body-timeout only close silent connections\n");
    }
    o[0] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s}; /* first, as MHD wants */
    o[1] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)guard_notify, s};
    /* also the limit for a client that stops reading its answer */
    o[2] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->cfg.header_timeout, NULL};
    o[3] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)s->cfg.per_ip_connections, NULL};
    o[4] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL};
    o[5] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return o;
}

/* `v` as a JSON string at `p` (room for 6 bytes per byte of v + 3):
 * quotes, backslashes and control bytes escaped; bytes from 0x80 as they are
 * when v is UTF-8, else as \u00XX (so the line stays valid JSON). */
static char *json_str_at(char *p, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    bool utf8 = utf8_valid(v);
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        char brief = *c == '"' ? '"' : *c == '\\' ? '\\' : *c == '\b' ? 'b' : *c == '\f' ? 'f'
                   : *c == '\n' ? 'n' : *c == '\r' ? 'r' : *c == '\t' ? 't' : 0;
        if (brief) {
            *p++ = '\\';
            *p++ = brief;
        } else if (*c < 0x20 || (*c >= 0x80 && !utf8)) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[*c >> 4];
            p[5] = hex[*c & 15];
            p += 6;
        } else {
            *p++ = (char)*c;
        }
    }
    *p++ = '"';
    *p = 0;
    return p;
}

/* One line per request, written out directly (it is on every request's
 * path): {"time","method","path","route","status","duration_ms",
 * "bytes_in","bytes_out"[,"key_id"]}, duration_ms to the microsecond. */
static void access_log(srv *s, srv_req *q, int status, double secs, size_t out_len)
{
    if (!s->cfg.access_log)
        return;
    char ts[40];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    time_iso(now.tv_sec, TIME_ISO_LOCAL_NAIVE, ts, sizeof ts);
    size_t n = strlen(ts);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);
    const char *route = q->route ? q->route : "other";
    size_t cap = 6 * (strlen(q->method) + strlen(q->path) + strlen(route)) + 512;   /* the rest is at most 260 */
    char stack[4096], *line = cap <= sizeof stack ? stack : malloc(cap), *p = line;
    if (!line)
        return;
    p += sprintf(p, "{\"time\":\"%s\",\"method\":", ts);
    p = json_str_at(p, q->method);
    memcpy(p, ",\"path\":", 8);
    p = json_str_at(p + 8, q->path);
    memcpy(p, ",\"route\":", 9);
    p = json_str_at(p + 9, route);
    char ms[40];   /* as jansson writes a real: %.9g, with ".0" when it looks like an integer */
    snprintf(ms, sizeof ms, "%.9g", round(secs * 1e6) / 1000.0);
    p += sprintf(p, ",\"status\":%d,\"duration_ms\":%s%s,\"bytes_in\":%zu,\"bytes_out\":%zu", status, ms,
                 strpbrk(ms, ".eE") ? "" : ".0", q->body_len, out_len);
    if (q->authenticated)
        p += sprintf(p, ",\"key_id\":%" PRId64, q->who.key_id);
    memcpy(p, "}\n", 3);
    pthread_mutex_lock(&s->log_mu);
    fputs(line, stderr);
    pthread_mutex_unlock(&s->log_mu);
    if (line != stack)
        free(line);
}

static enum MHD_Result send_resp(srv *s, struct MHD_Connection *conn, srv_req *q, srv_resp *r, double t0)
{
    if (r->stream) {
        enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, r->stream);
        MHD_destroy_response(r->stream);
        metrics_observe(&s->metrics, q->route ? q->route : "other", r->status, now_mono() - t0);
        access_log(s, q, r->status, now_mono() - t0, 0);
        return ret;
    }
    char *out = NULL;
    size_t out_len = 0;
    const char *ctype = r->content_type ? r->content_type : "application/json";
    if (r->text) {
        out = r->text;
        r->text = NULL;
    } else {
        if (!r->json)
            resp_error(r, 500, "E_INTERNAL", "no response");
        out = json_text(r->json);
        if (!out) {
            out = strdup("{\"status_code\":500,\"error\":\"Internal Server Error\",\"code\":\"E_INTERNAL\","
                         "\"message\":\"no memory\"}");
            r->status = 500;
        }
    }
    if (r->json)
        json_decref(r->json);
    r->json = NULL;
    out_len = out ? strlen(out) : 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(out_len, out, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(out);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    for (int i = 0; i + 1 < 9 && r->headers[i]; i += 2)
        MHD_add_response_header(resp, r->headers[i], r->headers[i + 1]);
    if (r->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (r->status == 413 || atomic_load(&s->stopping))
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    double secs = now_mono() - t0;
    metrics_observe(&s->metrics, q->route ? q->route : "other", r->status, secs);
    access_log(s, q, r->status, secs, out_len);
    return ret;
}

enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_size, void **con_cls);
enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    srv *s = cls;
    conn_ctx *c = *con_cls;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        c->t0 = now_mono();
        *con_cls = c;
        atomic_fetch_add(&s->in_flight, 1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->cfg.max_body)
            c->too_large = 1;
        if (!c->too_large) {
            guard_deadline(conn, s->cfg.body_timeout);
            return MHD_YES; /* wait for the body */
        }
    }
    if (*upload_size && !c->too_large) {
        if (c->len + *upload_size > (size_t)s->cfg.max_body) {
            c->too_large = 1;
        } else {
            if (c->len + *upload_size + 1 > c->cap) {
                size_t cap = (c->len + *upload_size + 1) * 2;
                if (cap > (size_t)s->cfg.max_body + 1)
                    cap = (size_t)s->cfg.max_body + 1;
                char *nb = realloc(c->body, cap);
                if (!nb)
                    return MHD_NO;
                c->body = nb;
                c->cap = cap;
            }
            memcpy(c->body + c->len, upload_data, *upload_size);
            c->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    guard_deadline(conn, 0); /* request complete: answering has no deadline */
    srv_req q = {.s = s, .method = method, .path = url, .conn = conn, .body = c->body, .body_len = c->len};
    srv_resp r = {0};
    char *escaped = NULL;
    if (c->too_large) {
        q.route = "too_large";
        *upload_size = 0;
        resp_error(&r, 413, "E_PAYLOAD_TOO_LARGE", "request bodies are limited to %lld bytes", s->cfg.max_body);
    } else if (atomic_load(&s->stopping)) {
        q.route = "stopping";
        resp_error(&r, 503, "E_SHUTTING_DOWN", "the server is shutting down; retry on another node or later");
        r.retry_after = 1;
    } else if (!utf8_valid(url)) {   /* logged and answered with its bytes as %XX */
        q.route = "bad_path";
        q.path = escaped = utf8_escape(url);
        if (!q.path)
            q.path = "(not valid UTF-8)";
        resp_error(&r, 400, "E_BAD_REQUEST", "the path is not valid UTF-8: %s", q.path);
    } else if (atomic_load(&s->starting)) {
        q.route = "starting";
        resp_error(&r, 503, "E_STARTING", "the server is starting; retry in a second");
        r.retry_after = 1;
    } else {
        routes_handle(&q, &r);
    }
    enum MHD_Result ret = send_resp(s, conn, &q, &r, c->t0);
    free(escaped);
    return ret;
}

void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe);
void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    srv *s = cls;
    guard_deadline(conn, s->cfg.header_timeout); /* the next request's head, if kept alive */
    conn_ctx *c = *con_cls;
    if (c) {
        if (c->body)
            OPENSSL_cleanse(c->body, c->len); /* bodies may carry PINs, PUKs and secrets */
        free(c->body);
        free(c);
        *con_cls = NULL;
        atomic_fetch_sub(&s->in_flight, 1);
    }
}
