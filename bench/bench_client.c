/*
 * bench_client.c - receipts per second through libopentse, one register
 * (one handle, one thread, start + finish per receipt, both signed):
 *   bench_client file DIR SECONDS            embedded TSE in DIR
 *   bench_client http BASE DEMO_JSON SECONDS a new TSS on opentsed (demo key)
 *   bench_client outage DIR SECONDS          TSE unreachable: journaled sales
 * Prints "<receipts/s> <receipts>".
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opentse/opentse.h"

#define CLIENT "BENCH-1"
#define PIN "975310"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(tse_err rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench_client: %s: %s (%s)\n", what, tse_strerror(rc), tse_last_error_message());
        exit(1);
    }
}

/* Creates a TSE at url (path for file:) and takes it to INITIALIZED with one client. */
static tse *ready(const char *create_at, const char *url, tse_open_options *oo)
{
    char puk[TSE_PUK_LEN + 1];
    tse_create_options co = {.master_key_path = oo->master_key_path, .trust_system_clock = 1, .remote = oo};
    check(tse_create(create_at, &co, puk), "create");
    tse *t = NULL;
    check(tse_open(url, oo, &t), "open");
    check(tse_set_admin_pin(t, puk, PIN), "admin PIN");
    check(tse_authenticate_user(t, TSE_USER_ADMIN, PIN, NULL, NULL), "login");
    check(tse_initialize(t, "bench"), "initialize");
    check(tse_register_client(t, CLIENT), "client");
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_client file|outage DIR SECONDS | http BASE DEMO_JSON SECONDS\n");
        return 2;
    }
    const char *mode = argv[1];
    double seconds = atof(argv[argc - 1]);
    tse_open_options oo = {0};
    char url[1200], path[1100];
    tse *t = NULL;
    bool outage = !strcmp(mode, "outage");
    if (!strcmp(mode, "file")) {
        snprintf(path, sizeof path, "%s/master.key", argv[2]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f)
            return 1;
        fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
        fclose(f);
        if (!(oo.master_key_path = strdup(path)))
            return 1;
        snprintf(path, sizeof path, "%s/bench.db", argv[2]);
        snprintf(url, sizeof url, "file:%s", path);
        t = ready(path, url, &oo);
    } else if (!strcmp(mode, "http") && argc == 5) {
        json_t *d = json_load_file(argv[3], 0, NULL);
        if (!d)
            return 1;
        oo.api_key = strdup(json_string_value(json_object_get(d, "api_key")));
        oo.api_secret = strdup(json_string_value(json_object_get(d, "api_secret")));
        json_decref(d);
        if (!oo.api_key || !oo.api_secret)
            return 1;
        srand((unsigned)time(NULL));
        snprintf(url, sizeof url, "%s/tss/%08x-%04x-4%03x-a%03x-%012x", argv[2], rand(), rand() & 0xffff,
                 rand() & 0xfff, rand() & 0xfff, rand());
        t = ready(url, url, &oo);
    } else if (outage) {
        snprintf(path, sizeof path, "%s/outage.journal", argv[2]);
        oo = (tse_open_options){.api_key = "k", .api_secret = "s", .journal_path = path, .retries = -1};
        /* port 9 (discard) on loopback: refused at once */
        check(tse_open("http://127.0.0.1:9/tss/00000000-0000-4000-8000-000000000000", &oo, &t), "open");
    } else {
        return 2;
    }
    const char *pd = "Beleg^3.20_0.00_0.00_0.00_0.00^3.20:Bar";
    unsigned long n = 0;
    double start = now(), end = start + seconds;
    while (now() < end) {
        tse_result s, f;
        tse_err rc = tse_start_transaction(t, CLIENT, (const uint8_t *)"", 0, "Kassenbeleg-V1", NULL, 0, &s);
        if (outage) {
            if (rc != TSE_ERR_UNREACHABLE)
                check(rc ? rc : TSE_ERR_INTERNAL, "unreachable start");
        } else {
            check(rc, "start");
            check(tse_finish_transaction(t, CLIENT, s.transaction_number, (const uint8_t *)pd, strlen(pd),
                                         "Kassenbeleg-V1", NULL, 0, &f),
                  "finish");
        }
        n++;
    }
    double took = now() - start;
    tse_close(t);
    printf("%.0f %lu\n", (double)n / took, n);
    return 0;
}
