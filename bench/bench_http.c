/*
 * bench_http.c - load generator for opentsed: N keep-alive connections
 * (libcurl multi) each recording receipts (PUT tx revision 1 ACTIVE, then
 * revision 2 FINISHED) as fast as answers come, spread over T TSSs; or
 * GET /health for the server's raw request rate. Prints the rate and the
 * request latency percentiles.
 *
 * Usage: bench_http BASE DEMO_JSON tx|health TSSS CONNECTIONS SECONDS
 * DEMO_JSON is the demo.json `opentsed --demo` wrote; further TSSs are
 * created and initialized through the API first, by SETUP_THREADS callers
 * at once (each TSS's own calls in order). A connection moves on to the
 * next of its TSSs with every new transaction, so all TSSs are used.
 * Output: "<ops/s> <p50 ms> <p99 ms> <errors> <setup s> <server CPU ms/op>",
 * ops = finished transactions (tx) or requests (health), setup s = the time
 * the TSSs took to create, server CPU = the user and system time of the
 * process BENCH_SERVER_PID names (from /proc) over the run, divided by every
 * op it finished ("-" without it): on a shared machine steadier than the rate.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PIN "12345678"
#define SETUP_THREADS 16

typedef struct conn {
    CURL *h;
    struct curl_slist *hdrs;
    int tss;
    char tx[37];
    int step;        /* 0: start sent, 1: finish sent */
    double t0;
    char body[512];
    char url[512];
    char *resp;
    size_t resp_len;
} conn;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The user + system CPU seconds of process pid so far, or -1. */
static double cpu_of(const char *pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')');   /* the name may hold spaces */
    unsigned long long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static size_t sink(char *d, size_t s, size_t n, void *cls)
{
    conn *c = cls;
    char *np = realloc(c->resp, c->resp_len + s * n + 1);
    if (!np)
        return 0;
    memcpy(np + c->resp_len, d, s * n);
    c->resp = np;
    c->resp_len += s * n;
    c->resp[c->resp_len] = 0;
    return s * n;
}

static void uuid(char out[37])
{
    FILE *f = fopen("/proc/sys/kernel/random/uuid", "r");
    if (!f || !fgets(out, 37, f)) {
        perror("uuid");
        exit(1);
    }
    fclose(f);
}

/* One blocking call for the setup on h (kept alive between calls); exits
 * on an unexpected status. */
static json_t *call(CURL *h, const char *base, const char *method, const char *path, const char *token,
                    const char *body)
{
    conn c = {0};
    curl_easy_reset(h);
    char url[512], auth[600];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    struct curl_slist *hd = curl_slist_append(NULL, auth);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    long st = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hd);
    if (st != 200) {
        fprintf(stderr, "bench_http: %s %s: %ld %s\n", method, path, st, c.resp ? c.resp : "");
        exit(1);
    }
    json_t *j = json_loads(c.resp, 0, NULL);
    free(c.resp);
    return j;
}

/* A new initialized TSS with one client. */
static void make_tss(CURL *h, const char *base, const char *token, char tss[37], char client[37])
{
    char path[256], body[256];
    uuid(tss);
    uuid(client);
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = call(h, base, "PUT", path, token, "{}");
    snprintf(body, sizeof body, "{\"admin_puk\":\"%s\",\"new_admin_pin\":\"" PIN "\"}",
             json_string_value(json_object_get(t, "admin_puk")));
    json_decref(t);
    json_decref(call(h, base, "PATCH", path, token, "{\"state\":\"UNINITIALIZED\"}"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin", tss);
    json_decref(call(h, base, "PATCH", path, token, body));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss);
    json_decref(call(h, base, "POST", path, token, "{\"admin_pin\":\"" PIN "\"}"));
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_decref(call(h, base, "PATCH", path, token, "{\"state\":\"INITIALIZED\"}"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss, client);
    json_decref(call(h, base, "PUT", path, token, "{\"serial_number\":\"BENCH-KASSE\"}"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/logout", tss);
    json_decref(call(h, base, "POST", path, token, NULL));
}

/* TSSs 1 .. n-1 made by SETUP_THREADS threads, each taking the next. */
typedef struct setup {
    const char *base, *token;
    char (*tss)[37], (*client)[37];
    int n;
    atomic_int next;
} setup;

static void *setup_work(void *arg)
{
    setup *u = arg;
    CURL *h = curl_easy_init();
    if (!h) {
        fprintf(stderr, "bench_http: no curl handle\n");
        exit(1);
    }
    for (int i; (i = atomic_fetch_add(&u->next, 1)) < u->n;)
        make_tss(h, u->base, u->token, u->tss[i], u->client[i]);
    curl_easy_cleanup(h);
    return NULL;
}

static void make_all(setup *u)
{
    pthread_t th[SETUP_THREADS];
    int n = 0;
    for (; n < SETUP_THREADS; n++)
        if (pthread_create(&th[n], NULL, setup_work, u) != 0)
            break;
    if (n == 0)
        setup_work(u);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_http BASE DEMO_JSON tx|health TSSS CONNECTIONS SECONDS\n");
        return 2;
    }
    const char *base = argv[1];
    int health = strcmp(argv[3], "health") == 0, n_tss = atoi(argv[4]), n_conn = atoi(argv[5]);
    double seconds = atof(argv[6]);
    if (n_tss < 1 || n_conn < 1 || seconds <= 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_t *demo = json_load_file(argv[2], 0, NULL);
    if (!demo) {
        fprintf(stderr, "bench_http: cannot read %s\n", argv[2]);
        return 1;
    }
    char auth_body[512];
    snprintf(auth_body, sizeof auth_body, "{\"api_key\":\"%s\",\"api_secret\":\"%s\"}",
             json_string_value(json_object_get(demo, "api_key")), json_string_value(json_object_get(demo, "api_secret")));
    CURL *h0 = curl_easy_init();
    if (!h0)
        return 1;
    json_t *a = call(h0, base, "POST", "/api/v2/auth", NULL, auth_body);
    curl_easy_cleanup(h0);
    char token[512], auth_hdr[600];
    snprintf(token, sizeof token, "%s", json_string_value(json_object_get(a, "access_token")));
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: Bearer %s", token);
    json_decref(a);
    char(*tss)[37] = calloc((size_t)n_tss, 37), (*client)[37] = calloc((size_t)n_tss, 37);
    if (!tss || !client)
        return 1;
    snprintf(tss[0], 37, "%s", json_string_value(json_object_get(demo, "tss_id")));
    snprintf(client[0], 37, "%s", json_string_value(json_object_get(demo, "client_id")));
    double setup_t0 = now();
    setup u = {.base = base, .token = token, .tss = tss, .client = client, .n = health ? 1 : n_tss, .next = 1};
    make_all(&u);
    double setup_s = now() - setup_t0;

    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)n_conn * 2);
    conn *cs = calloc((size_t)n_conn, sizeof *cs);
    size_t cap = 1 << 20, n_lat = 0;
    double *lat = malloc(cap * sizeof *lat);
    long done = 0, done_all = 0, errors = 0;
    const char *server = getenv("BENCH_SERVER_PID");
    double cpu0 = server ? cpu_of(server) : -1;
    double start = now(), end = start + seconds;

    if (!cs || !lat || !m) {
        fprintf(stderr, "bench_http: no memory\n");
        return 1;
    }
    for (int i = 0; i < n_conn; i++) {
        conn *c = &cs[i];
        c->h = curl_easy_init();
        c->tss = i % n_tss;
        c->hdrs = curl_slist_append(NULL, auth_hdr);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
        c->step = 1; /* so the first call starts a new transaction */
    }
    for (int i = 0; i < n_conn; i++) {
        conn *c = &cs[i];
        if (health) {
            snprintf(c->url, sizeof c->url, "%s/health", base);
            curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
        } else {
            uuid(c->tx);
            c->step = 0;
            snprintf(c->url, sizeof c->url, "%s/api/v2/tss/%s/tx/%s?tx_revision=1", base, tss[c->tss], c->tx);
            snprintf(c->body, sizeof c->body, "{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}", client[c->tss]);
            curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "PUT");
            curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
        }
        curl_easy_setopt(c->h, CURLOPT_URL, c->url);
        c->t0 = now();
        curl_multi_add_handle(m, c->h);
    }
    int running = n_conn;
    while (running > 0) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            conn *c = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            long st = 0;
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &st);
            double t = now();
            if (n_lat < cap)
                lat[n_lat++] = t - c->t0;
            curl_multi_remove_handle(m, c->h);
            free(c->resp);
            c->resp = NULL;
            c->resp_len = 0;
            if (msg->data.result != CURLE_OK || st != 200) {
                errors++;
                c->step = 1; /* start over with a new transaction */
            } else if (health || c->step == 1) {
                done_all++;
                if (t <= end)
                    done++;
            }
            if (t > end)
                continue;
            if (health) {
                /* same URL again */
            } else if (c->step == 0 && st == 200) {
                c->step = 1;
                snprintf(c->url, sizeof c->url, "%s/api/v2/tss/%s/tx/%s?tx_revision=2", base, tss[c->tss], c->tx);
                snprintf(c->body, sizeof c->body,
                         "{\"state\":\"FINISHED\",\"client_id\":\"%s\",\"schema\":{\"standard_v1\":{\"receipt\":"
                         "{\"receipt_type\":\"RECEIPT\",\"amounts_per_vat_rate\":[{\"vat_rate\":\"NORMAL\","
                         "\"amount\":\"21.42\"}],\"amounts_per_payment_type\":[{\"payment_type\":\"CASH\","
                         "\"amount\":\"21.42\"}]}}}}",
                         client[c->tss]);
            } else {
                c->step = 0;
                c->tss = (c->tss + n_conn) % n_tss;
                uuid(c->tx);
                snprintf(c->url, sizeof c->url, "%s/api/v2/tss/%s/tx/%s?tx_revision=1", base, tss[c->tss], c->tx);
                snprintf(c->body, sizeof c->body, "{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}", client[c->tss]);
            }
            if (!health)
                curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
            curl_easy_setopt(c->h, CURLOPT_URL, c->url);
            c->t0 = now();
            curl_multi_add_handle(m, c->h);
            running++;
        }
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double cpu1 = cpu0 >= 0 ? cpu_of(server) : -1;
    double elapsed = now() - start;
    if (elapsed > seconds)
        elapsed = seconds;
    char cpu[32] = "-";
    if (cpu0 >= 0 && cpu1 >= cpu0 && done_all)
        snprintf(cpu, sizeof cpu, "%.4f", (cpu1 - cpu0) * 1000 / (double)done_all);
    qsort(lat, n_lat, sizeof *lat, cmp_double);
    double p50 = n_lat ? lat[n_lat / 2] : 0, p99 = n_lat ? lat[(size_t)((double)n_lat * 0.99)] : 0;
    printf("%.0f %.2f %.2f %ld %.1f %s\n", (double)done / elapsed, p50 * 1000, p99 * 1000, errors, setup_s, cpu);
    for (int i = 0; i < n_conn; i++) {
        curl_easy_cleanup(cs[i].h);
        curl_slist_free_all(cs[i].hdrs);
    }
    curl_multi_cleanup(m);
    free(cs);
    free(lat);
    free(tss);
    free(client);
    json_decref(demo);
    curl_global_cleanup();
    return 0;
}
