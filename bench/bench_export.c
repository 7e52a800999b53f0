/*
 * bench_export.c - export speed and memory.
 *
 *   bench_export gen DIR LOGS  -> a ready TSE in DIR/tse.db holding LOGS more
 *                                 correctly signed logs (tests/export/gen_logs.h)
 *   bench_export run DIR       -> exports everything to DIR/export.tar and prints
 *                                 "logs L bytes B seconds S peak_rss_kb M"
 *
 * The two steps are two processes, so the peak resident memory printed is
 * the export's alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "csp/csp.h"
#include "gen_logs.h"
#include "opentse/opentse.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, tse_err rc)
{
    fprintf(stderr, "bench_export: %s: %s\n", what, rc ? tse_last_error_message() : "failed");
    return 1;
}

static int to_file(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : TSE_ERR_STORAGE_FAILURE;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_export gen DIR LOGS | run DIR\n");
        return 2;
    }
    char db[1024], mk[1024], out[1024];
    snprintf(db, sizeof db, "%s/tse.db", argv[2]);
    snprintf(mk, sizeof mk, "%s/master.key", argv[2]);
    snprintf(out, sizeof out, "%s/export.tar", argv[2]);
    tse_open_options oo = {.master_key_path = mk};
    tse *t = NULL;
    tse_err rc;
    if (!strcmp(argv[1], "gen") && argc == 4) {
        char puk[TSE_PUK_LEN + 1];
        tse_create_options co = {.master_key_path = mk, .trust_system_clock = 1};
        if (csp_master_key_create(mk, NULL) != 0)
            return die("master key", 0);
        if ((rc = tse_create(db, &co, puk)) || (rc = tse_open(db, &oo, &t)) ||
            (rc = tse_set_admin_pin(t, puk, "123456")) ||
            (rc = tse_authenticate_user(t, TSE_USER_ADMIN, "123456", NULL, NULL)) ||
            (rc = tse_initialize(t, "OpenTSE bench")) || (rc = tse_register_client(t, "KASSE-01")))
            return die("setting up the TSE", rc);
        tse_close(t);
        return gen_signed_logs(db, mk, "KASSE-01", strtoull(argv[3], NULL, 10), 2) ? die("generating logs", 0) : 0;
    }
    if (strcmp(argv[1], "run") != 0)
        return 2;
    if ((rc = tse_open(db, &oo, &t)))
        return die("opening the TSE", rc);
    FILE *f = fopen(out, "wb");
    if (!f)
        return die(out, 0);
    tse_export_result res;
    double t0 = now_s();
    rc = tse_export_data(t, NULL, to_file, f, &res);
    if (fclose(f) != 0 && !rc)
        rc = TSE_ERR_STORAGE_FAILURE;
    double secs = now_s() - t0;
    if (rc)
        return die("exporting", rc);
    tse_close(t);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("logs %llu bytes %llu seconds %.3f peak_rss_kb %ld\n", (unsigned long long)res.logs,
           (unsigned long long)res.bytes, secs, ru.ru_maxrss);
    return 0;
}
