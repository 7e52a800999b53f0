/*
 * metrics.c - GET /metrics in the Prometheus text format: requests and
 * latency histograms by route and status class, and per TSS the signature
 * counter, open and overdue (> 45 s) transactions, registered clients, the
 * certificate's days left, the self-test and the group commit's batch sizes;
 * opentsed_build_info names the release and the libraries it runs on.
 */
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>   /* its version in the build info only */

#include "server.h"

static const double bounds[METRIC_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05,   0.1,   0.25,   0.5,   1,    2.5};

void metrics_observe(srv_metrics *m, const char *route, int status, double seconds)
{
    pthread_mutex_lock(&m->mu);
    int i = 0;
    while (i < m->n_routes && strcmp(m->routes[i].route, route) != 0)
        i++;
    if (i == m->n_routes && m->n_routes < METRIC_ROUTES)
        m->routes[m->n_routes++].route = route;
    if (i < m->n_routes) {
        struct route_metric *rm = &m->routes[i];
        int cls = status / 100;
        rm->by_status[cls >= 1 && cls <= 5 ? cls : 0]++;
        int b = 0;
        while (b < METRIC_BUCKETS && seconds > bounds[b])
            b++;
        rm->buckets[b]++;
        rm->sum += seconds;
        rm->count++;
    }
    pthread_mutex_unlock(&m->mu);
}

typedef struct buf {
    char *p;
    size_t len, cap;
    int failed;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = b->failed ? 0 : vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (b->failed || n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        char *np = realloc(b->p, b->cap * 2 + (size_t)n + 1);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = b->cap * 2 + (size_t)n + 1;
    }
}

static void requests(buf *b, srv_metrics *m)
{
    put(b, "# HELP opentsed_requests_total HTTP requests by route and status class.\n"
           "# TYPE opentsed_requests_total counter\n");
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n_routes; i++)
        for (int c = 1; c <= 5; c++)
            if (m->routes[i].by_status[c])
                put(b, "opentsed_requests_total{route=\"%s\",status=\"%dxx\"} %llu\n", m->routes[i].route, c,
                    (unsigned long long)m->routes[i].by_status[c]);
    put(b, "# HELP opentsed_request_duration_seconds Request latency by route.\n"
           "# TYPE opentsed_request_duration_seconds histogram\n");
    for (int i = 0; i < m->n_routes; i++) {
        struct route_metric *rm = &m->routes[i];
        unsigned long long cum = 0;
        for (int k = 0; k < METRIC_BUCKETS; k++) {
            cum += rm->buckets[k];
            put(b, "opentsed_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", rm->route, bounds[k],
                cum);
        }
        put(b, "opentsed_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", rm->route,
            (unsigned long long)rm->count);
        put(b, "opentsed_request_duration_seconds_sum{route=\"%s\"} %.6f\n", rm->route, rm->sum);
        put(b, "opentsed_request_duration_seconds_count{route=\"%s\"} %llu\n", rm->route,
            (unsigned long long)rm->count);
    }
    pthread_mutex_unlock(&m->mu);
}

static void tss_gauges(buf *b, srv *s)
{
    enum { N_GAUGES = 12 };
    static const struct {
        const char *name, *type, *help;
    } g[N_GAUGES] = {
        {"opentse_signatures_total", "counter", "Signatures made by the TSS (its signature counter)."},
        {"opentse_transactions_open", "gauge", "Open transactions."},
        {"opentse_transactions_overdue", "gauge", "Open transactions not updated for more than 45 s."},
        {"opentse_clients_registered", "gauge", "Registered clients."},
        {"opentse_certificate_days_left", "gauge", "Days until the TSS certificate expires."},
        {"opentse_end_of_usage_days_left", "gauge",
         "Days until the end of usage: the earliest notAfter of the TSS's certificate chain (CA certificates too)."},
        {"opentse_end_of_usage_timestamp_seconds", "gauge", "The end of usage, seconds since 1970."},
        {"opentse_self_test_passed", "gauge", "1 when the last self-test passed."},
        {"opentse_group_commit_batches_total", "counter", "Batches (signed logs, state changes) committed."},
        {"opentse_group_commit_flushes_total", "counter", "Flushes to disk; batches/flushes is the mean batch size."},
        {"opentse_group_commit_max_batch", "gauge", "Most batches one flush carried since start."},
        {"opentse_tss_disabled", "gauge", "1 when the TSS is disabled for good (its end of usage no longer matters)."},
    };
    buf rows[N_GAUGES] = {{0}};
    pthread_mutex_lock(&s->tss_mu);
    for (srv_tss *x = s->tss_list; x; x = x->next) {
        tse_info i;
        uint64_t batches, flushes, max_batch;
        if (engine_get_info(x->e, &i) != TSE_OK || engine_commit_stats(x->e, &batches, &flushes, &max_batch))
            continue;
        long long v[N_GAUGES] = {(long long)i.signature_counter, i.current_open_transactions,
                                 i.overdue_open_transactions,    i.current_clients,
                                 i.cert_days_left,               i.end_of_usage_days_left,
                                 (long long)i.end_of_usage,      i.self_test_ok,
                                 (long long)batches,             (long long)flushes,
                                 (long long)max_batch,           i.state == TSE_STATE_DISABLED};
        for (int k = 0; k < N_GAUGES; k++)   /* a disabled TSS's end of usage alerts nobody */
            if (!(i.state == TSE_STATE_DISABLED && (k == 4 || k == 5 || k == 6)))
                put(&rows[k], "%s{tss=\"%s\"} %lld\n", g[k].name, x->id, v[k]);
    }
    pthread_mutex_unlock(&s->tss_mu);
    for (int k = 0; k < N_GAUGES; k++) {
        put(b, "# HELP %s %s\n# TYPE %s %s\n%s", g[k].name, g[k].help, g[k].name, g[k].type,
            rows[k].p ? rows[k].p : "");
        b->failed |= rows[k].failed;
        free(rows[k].p);
    }
}

static void build_info(buf *b)
{
    put(b, "# HELP opentsed_build_info The running release of opentsed and its libraries.\n"
           "# TYPE opentsed_build_info gauge\n"
           "opentsed_build_info{version=\"%s\",openssl=\"%s\",sqlite=\"%s\",microhttpd=\"%s\"} 1\n",
        OPENTSE_VERSION, OpenSSL_version(OPENSSL_VERSION_STRING), sqlite3_libversion(), MHD_get_version());
}

char *metrics_render(srv *s)
{
    buf b = {.p = malloc(8192), .cap = 8192};
    if (!b.p)
        return NULL;
    b.p[0] = 0;
    build_info(&b);
    requests(&b, &s->metrics);
    tss_gauges(&b, s);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
