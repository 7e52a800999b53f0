/*
 * bench_slow.c - opentsed under a slow-client attack: while N slow
 * connections (heads and bodies sent a byte every 200 ms, reopened when
 * closed; tests/server/slow_peer.c) come from A addresses 127.0.0.2..., a
 * well-behaved client on 127.0.0.1 asks GET /health on a new connection
 * each time, one after the other. N = 0 measures the same client without
 * an attack.
 *
 * Usage: bench_slow BASE N A SECONDS
 * Output: "<success %> <p50 ms> <p99 ms> <requests> <slow connections made>
 * <closed by the server>"; a request that fails or takes over 10 s counts
 * as failed (its latency as 10 s).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "slow_peer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_slow BASE N A SECONDS\n");
        return 2;
    }
    const char *base = argv[1];
    int n = atoi(argv[2]), addrs = atoi(argv[3]);
    double secs = atof(argv[4]);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) { /* one descriptor per slow connection */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    slow_attack *a = NULL;
    if (n > 0) {
        a = slow_start(atoi(strrchr(base, ':') + 1), n, addrs, 200, "/api/v2/tss/x/tx/y?tx_revision=1", "", 300);
        if (!a) {
            fprintf(stderr, "bench_slow: cannot start the attack\n");
            return 1;
        }
        struct timespec settle = {1, 0};
        nanosleep(&settle, NULL); /* the attacker's connections are up */
    }
    char url[300];
    snprintf(url, sizeof url, "%s/health", base);
    size_t cap = 1024, count = 0, ok = 0;
    double *lat = malloc(cap * sizeof *lat), end = now() + secs;
    CURL *c = curl_easy_init();
    if (!lat || !c)
        return 1;
    while (now() < end) {
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        double t0 = now();
        long st = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        double t = now() - t0;
        if (st == 200)
            ok++;
        else
            t = t > 10 ? t : 10;
        if (count == cap) {
            double *nl = realloc(lat, (cap *= 2) * sizeof *lat);
            if (!nl)
                return 1;
            lat = nl;
        }
        lat[count++] = t;
    }
    curl_easy_cleanup(c);
    slow_stats st = {0};
    if (a)
        slow_stop(a, 0, &st);
    if (!count)
        return 1;
    qsort(lat, count, sizeof *lat, cmp);
    printf("%.2f %.2f %.2f %zu %ld %ld\n", count ? 100.0 * (double)ok / (double)count : 0, lat[count / 2] * 1000,
           lat[count * 99 / 100] * 1000, count, st.opened, st.closed);
    free(lat);
    curl_global_cleanup();
    return 0;
}
