/*
 * fuzz_tse.c - the TSE of fuzz_tse.h, made through the SE API.
 */
#include "fuzz_tse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csp/csp.h"

static void must(tse_err rc, const char *what)
{
    if (rc != TSE_OK) {
        fprintf(stderr, "fuzz_tse: %s: %s\n", what, tse_last_error_message());
        abort();
    }
}

const char *fuzz_receipt(int i)
{
    static char pd[64];
    snprintf(pd, sizeof pd, "Beleg^%d.00_0.00_0.00_0.00_0.00^%d.00:Bar", i + 1, i + 1);
    return pd;
}

int fuzz_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

tse *fuzz_tse(int n_tx, tse_result *finishes, char **dir_out, char **db_out, char **key_out)
{
    char tmpl[] = "/tmp/opentse-fuzz.XXXXXX", *dir = mkdtemp(tmpl);
    if (!dir)
        abort();
    size_t n = strlen(dir) + 32;
    char *db = malloc(n), *key = malloc(n), puk[TSE_PUK_LEN + 1];
    if (!db || !key)
        abort();
    snprintf(db, n, "%s/tse.db", dir);
    snprintf(key, n, "%s/master.key", dir);
    if (csp_master_key_create(key, NULL) != 0)
        abort();
    tse_create_options co = {.master_key_path = key};
    must(tse_create(db, &co, puk), "create");
    tse_open_options oo = {.master_key_path = key};
    tse *t = NULL;
    must(tse_open(db, &oo, &t), "open");
    must(tse_set_admin_pin(t, puk, "24681357"), "admin PIN");
    must(tse_authenticate_user(t, TSE_USER_ADMIN, "24681357", NULL, NULL), "login");
    must(tse_initialize(t, "OpenTSE fuzzing"), "initialize");
    must(tse_update_time(t, (int64_t)time(NULL)), "time");
    must(tse_register_client(t, FUZZ_CLIENT), "client");
    for (int i = 0; i < n_tx; i++) {
        tse_result s, f;
        const char *pd = fuzz_receipt(i);
        must(tse_start_transaction(t, FUZZ_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), "start");
        must(tse_finish_transaction(t, FUZZ_CLIENT, s.transaction_number, (const uint8_t *)pd, strlen(pd),
                                    "Kassenbeleg-V1", NULL, 0, &f),
             "finish");
        if (finishes)
            finishes[i] = f;
    }
    *dir_out = strdup(dir);
    *db_out = db;
    *key_out = key;
    return t;
}
