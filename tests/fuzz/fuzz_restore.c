/*
 * fuzz_restore.c - libFuzzer harness of restoreFromBackup (export/restore.c
 * through the SE API): the input is written to a file and restored, as a
 * TAR archive, into a real TSE opened for recovery. A refused archive must
 * change nothing; after an accepted one (our own export in the seeds) the
 * store file is put back as it was, so every input meets the same TSE.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_tse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tse *t;
static char *db, *key, path[600], wal[600], shm[600];
static uint8_t *pristine;
static size_t pristine_len;
static uint64_t counter0;

static uint8_t *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static uint64_t counter(void)
{
    tse_info info;
    if (tse_get_info(t, &info) != TSE_OK)
        abort();
    return info.signature_counter;
}

static void open_recovery(void)
{
    tse_open_options oo = {.master_key_path = key, .recovery = 1};
    if (tse_open(db, &oo, &t) != TSE_OK) {
        fprintf(stderr, "fuzz_restore: %s\n", tse_last_error_message());
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *dir = NULL;
    t = fuzz_tse(3, NULL, &dir, &db, &key);
    tse_close(t); /* checkpointed: the store is one file now */
    snprintf(path, sizeof path, "%s/in.tar", dir);
    snprintf(wal, sizeof wal, "%s-wal", db);
    snprintf(shm, sizeof shm, "%s-shm", db);
    free(dir);
    pristine = slurp(db, &pristine_len);
    if (!pristine)
        abort();
    open_recovery();
    counter0 = counter();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fuzz_write(path, data, size) != 0)
        abort();
    const char *paths[] = {path};
    uint64_t added = 0;
    tse_err rc = tse_restore_from_backup(t, paths, 1, &added);
    if (rc != TSE_OK) {
        if (counter() != counter0) /* a refused restore changed the TSE */
            abort();
        return 0;
    }
    tse_close(t);
    unlink(wal);
    unlink(shm);
    if (fuzz_write(db, pristine, pristine_len) != 0)
        abort();
    open_recovery();
    return 0;
}
