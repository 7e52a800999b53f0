/*
 * fuzz_export.c - libFuzzer harness of exportData's filters (export/select.c
 * and archive.c through the SE API): the input becomes a tse_export_filter
 * (numbers, dates, client id, record limit, cursor) applied to a real TSE
 * with three transactions; the archive is streamed and checked to be whole
 * TAR blocks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tse *t;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *dir = NULL, *db = NULL, *key = NULL;
    t = fuzz_tse(3, NULL, &dir, &db, &key);
    free(dir);
    free(db);
    free(key);
    return 0;
}

static int sink(void *ctx, const uint8_t *d, size_t n)
{
    (void)d;
    *(size_t *)ctx += n;
    return 0;
}

/* The next 8 bytes (fewer at the end): with the flag bit set a small
 * number, so filters often hit the logs there are. */
static uint64_t take(const uint8_t **p, size_t *n, int small)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && *n; i++, (*p)++, (*n)--)
        v = v << 8 | **p;
    return small ? v % 24 : v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    tse_export_filter f = {0};
    uint64_t *fields[] = {&f.transaction_number, &f.start_transaction_number, &f.end_transaction_number,
                          (uint64_t *)&f.start_date, (uint64_t *)&f.end_date, &f.maximum_number_records, &f.cursor};
    uint8_t which = n ? *p++ : 0;
    n -= n ? 1 : 0;
    for (int i = 0; i < 7; i++)
        if (which & (1u << i))
            *fields[i] = take(&p, &n, flags & (1u << i));
    char client[64];
    if (flags & 0x80) {
        size_t k = n < sizeof client - 1 ? n : sizeof client - 1;
        memcpy(client, p, k);
        client[k] = 0;
        f.client_id = client;
    }
    size_t bytes = 0;
    tse_export_result out;
    tse_err rc = tse_export_data(t, &f, sink, &bytes, &out);
    if (rc == TSE_OK && (bytes == 0 || bytes % 512 != 0)) /* a TAR is whole 512-byte blocks */
        abort();
    return 0;
}
