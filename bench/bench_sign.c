/*
 * bench_sign.c - signed logs per second in-process, and the disk's own
 * fsync rate for comparison.
 *
 *   bench_sign WORKDIR CURVE THREADS TSES SECONDS [FORMAT] -> "logs_per_s N"
 *   bench_sign WORKDIR CURVE THREADS TSES SECONDS 2v3  -> "logs_per_s_v2 N" and
 *                                                         "logs_per_s_v3 M"
 *   bench_sign WORKDIR fsync SECONDS                -> "fsyncs_per_s N"
 *   bench_sign WORKDIR db CALLERS TSES SECONDS      -> "logs_per_s N logs_per_flush M"
 *
 * CURVE is p256 or bp384. THREADS threads share TSES TSEs (thread i uses TSE
 * i % TSES); each records start+finish pairs (two signed logs) until the time
 * is up. Every log is durable (group commit) before it is counted. FORMAT
 * is the log format version of the TSEs, 3 (default) or 2; 2v3 measures
 * both in the same run, TSEs of each format taking turns in 20 slices of
 * the time, so that the machine's drift touches both alike.
 *
 * The db form puts TSES P-256 TSEs in one database, as opentsed keeps every
 * TSS of a deployment, and CALLERS threads on them; it counts the database's
 * flushes (transactions to disk) during the run, so logs_per_flush is the
 * group commit's batching with that many concurrent callers.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "opentse/opentse.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct job {
    tse *t;      /* through libopentse, or */
    engine *e;   /* the engine's own API (db form) */
    double until;
    unsigned long logs;
} job;

/* A start and a finish: two signed logs. */
static tse_err pair(job *j, const char *pd)
{
    tse_result r;
    tse_err rc = j->t ? tse_start_transaction(j->t, "BENCH", NULL, 0, "Kassenbeleg-V1", NULL, 0, &r)
                      : engine_start_transaction(j->e, "BENCH", NULL, 0, "Kassenbeleg-V1", NULL, 0, &r);
    if (rc != TSE_OK)
        return rc;
    return j->t ? tse_finish_transaction(j->t, "BENCH", r.transaction_number, (const uint8_t *)pd, strlen(pd),
                                         "Kassenbeleg-V1", NULL, 0, &r)
                : engine_finish_transaction(j->e, "BENCH", r.transaction_number, (const uint8_t *)pd, strlen(pd),
                                            "Kassenbeleg-V1", NULL, 0, &r);
}

static void *work(void *arg)
{
    job *j = arg;
    const char *pd = "Beleg^3.70_0.00_0.00_0.00_0.00^3.70:Bar";
    while (now_s() < j->until) {
        if (pair(j, pd) != TSE_OK) {
            fprintf(stderr, "bench: %s\n", tse_last_error_message());
            exit(1);
        }
        j->logs += 2;
    }
    return NULL;
}

/* Runs n jobs (each with its handle set) for `seconds`: the logs they
 * signed, and the time it took in *elapsed. */
static unsigned long run_all(job *jobs, int n, double seconds, double *elapsed)
{
    pthread_t *th = calloc((size_t)n, sizeof *th);
    if (!th)
        exit(1);
    double start = now_s();
    for (int i = 0; i < n; i++) {
        jobs[i].until = start + seconds;
        jobs[i].logs = 0;
        pthread_create(&th[i], NULL, work, &jobs[i]);
    }
    unsigned long total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].logs;
    }
    free(th);
    *elapsed = now_s() - start;
    return total;
}

static tse *ready(const char *dir, const char *key, tse_curve curve, int i, int format)
{
    char path[4096], puk[TSE_PUK_LEN + 1];
    snprintf(path, sizeof path, "%s/bench-%d-%d-v%d-%ld.db", dir, (int)curve, i, format, (long)getpid());
    tse_create_options co = {.master_key_path = key, .curve = curve, .trust_system_clock = 1,
                             .log_format_version = format};
    tse_open_options oo = {.master_key_path = key};
    tse *t = NULL;
    if (tse_create(path, &co, puk) || tse_open(path, &oo, &t) || tse_set_admin_pin(t, puk, "123456") ||
        tse_authenticate_user(t, TSE_USER_ADMIN, "123456", NULL, NULL) || tse_initialize(t, "bench") ||
        tse_register_client(t, "BENCH")) {
        fprintf(stderr, "bench setup: %s\n", tse_last_error_message());
        exit(1);
    }
    return t;
}

/* THREADS threads on TSES TSEs for `seconds`: the logs they signed. */
static unsigned long run_for(tse **t, int tses, int threads, double seconds, double *elapsed)
{
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    if (!jobs)
        exit(1);
    for (int i = 0; i < threads; i++)
        jobs[i] = (job){.t = t[i % tses]};
    unsigned long total = run_all(jobs, threads, seconds, elapsed);
    free(jobs);
    return total;
}

static int fsync_rate(const char *dir, double seconds)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 1;
    char buf[256] = {0};
    unsigned long n = 0;
    double start = now_s(), end = start + seconds;
    while (now_s() < end) {
        if (write(fd, buf, sizeof buf) != sizeof buf || fsync(fd) != 0)
            return 1;
        n++;
    }
    close(fd);
    unlink(path);
    printf("fsyncs_per_s %.0f\n", (double)n / (now_s() - start));
    return 0;
}

/* ---- db form: the engine's own API on one database of several TSEs ---- */

static engine *db_ready(engine_db *d, const char *key, int i)
{
    char name[32], puk[TSE_PUK_LEN + 1];
    snprintf(name, sizeof name, "bench-%d", i);
    tse_create_options co = {.master_key_path = key, .curve = TSE_CURVE_P256, .trust_system_clock = 1};
    tse_open_options oo = {.master_key_path = key};
    engine *e = NULL;
    if (engine_create_in(d, name, &co, 0, NULL, puk) || engine_open_in(d, name, &oo, &e) ||
        engine_set_admin_pin(e, puk, "123456") ||
        engine_authenticate_user(e, TSE_USER_ADMIN, "123456", NULL, NULL) || engine_initialize(e, "bench") ||
        engine_register_client(e, "BENCH")) {
        fprintf(stderr, "bench setup: %s\n", tse_last_error_message());
        exit(1);
    }
    return e;
}

static int db_bench(const char *dir, const char *key, int callers, int tses, double seconds)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-db-%d-%d-%ld.db", dir, callers, tses, (long)getpid());
    engine_db *d = NULL;
    if (engine_db_open(path, &d) != TSE_OK) {
        fprintf(stderr, "bench setup: %s\n", tse_last_error_message());
        return 1;
    }
    engine **e = calloc((size_t)tses, sizeof *e);
    job *jobs = calloc((size_t)callers, sizeof *jobs);
    if (!e || !jobs)
        return 1;
    for (int i = 0; i < tses; i++)
        e[i] = db_ready(d, key, i);
    for (int i = 0; i < callers; i++)
        jobs[i] = (job){.e = e[i % tses]};
    uint64_t b0, f0, f1, m;
    double elapsed = 0;
    engine_commit_stats(e[0], &b0, &f0, &m);
    double logs = (double)run_all(jobs, callers, seconds, &elapsed);
    engine_commit_stats(e[0], &b0, &f1, &m);
    printf("logs_per_s %.0f logs_per_flush %.2f\n", logs / elapsed, f1 > f0 ? logs / (double)(f1 - f0) : 0.0);
    for (int i = 0; i < tses; i++)
        engine_close(e[i]);
    engine_db_close(d);
    free(e);
    free(jobs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[2], "fsync"))
        return fsync_rate(argv[1], atof(argv[3]));
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: %s WORKDIR p256|bp384 THREADS TSES SECONDS [2|3|2v3]\n       %s WORKDIR fsync SECONDS\n"
                        "       %s WORKDIR db CALLERS TSES SECONDS\n",
                argv[0], argv[0], argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    tse_curve curve = !strcmp(argv[2], "bp384") ? TSE_CURVE_BRAINPOOL_P384R1 : TSE_CURVE_P256;
    int threads = atoi(argv[3]), tses = atoi(argv[4]);
    double seconds = atof(argv[5]);
    int format = argc == 7 ? atoi(argv[6]) : 3;
    if (format != 2 && format != 3 && strcmp(argv[6], "2v3") != 0) {
        fprintf(stderr, "bench: FORMAT is 2, 3 or 2v3\n");
        return 2;
    }
    if (threads < 1 || threads > 256 || tses < 1 || tses > threads) {
        fprintf(stderr, "bench: need 1 <= TSES <= THREADS <= 256\n");
        return 2;
    }
    char key[4096];
    snprintf(key, sizeof key, "%s/bench-master.key", dir);
    if (access(key, F_OK) != 0) {
        FILE *f = fopen(key, "w");
        if (!f)
            return 1;
        fprintf(f, "%064x\n", 0x5eed);
        fclose(f);
        chmod(key, 0600);
    }
    if (!strcmp(argv[2], "db"))
        return db_bench(dir, key, threads, tses, seconds);
    bool both = argc == 7 && !strcmp(argv[6], "2v3");
    tse **t = calloc((size_t)tses * 2, sizeof *t);
    for (int i = 0; i < tses; i++) {
        t[i] = ready(dir, key, curve, i, both ? 2 : format);
        if (both)
            t[tses + i] = ready(dir, key, curve, i, 3);
    }
    if (!both) {
        double elapsed = 0;
        printf("logs_per_s %.0f\n", (double)run_for(t, tses, threads, seconds, &elapsed) / elapsed);
    } else {
        unsigned long logs[2] = {0, 0};
        double elapsed[2] = {0, 0};
        for (int slice = 0; slice < 20; slice++) {
            int f = (slice % 4 == 0 || slice % 4 == 3) ? 0 : 1;   /* 2 3 3 2 2 3 3 2 ... */
            double e = 0;
            logs[f] += run_for(t + f * tses, tses, threads, seconds / 10, &e);
            elapsed[f] += e;
        }
        printf("logs_per_s_v2 %.0f\nlogs_per_s_v3 %.0f\n", (double)logs[0] / elapsed[0], (double)logs[1] / elapsed[1]);
    }
    for (int i = 0; i < (both ? 2 * tses : tses); i++)
        tse_close(t[i]);
    free(t);
    return 0;
}
