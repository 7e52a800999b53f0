/*
 * records.c - a deployment's database as the faces see it: opened and
 * closed, the TSEs in it, a single-TSE file imported, and the records a
 * face keeps about its TSEs (read, committed alone, or attached to an
 * operation's own commit so that a log and the records about it are stored
 * together or not at all).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static _Thread_local engine_record_fn hook_fn;
static _Thread_local void *hook_ctx;

void engine_records_attach(engine_record_fn fn, void *ctx)
{
    hook_fn = fn;
    hook_ctx = fn ? ctx : NULL;
}

engine_record_fn engine_take_hook(void **ctx)
{
    engine_record_fn fn = hook_fn;
    *ctx = hook_ctx;
    hook_fn = NULL;
    hook_ctx = NULL;
    return fn;
}

static tse_err fail(int rc, const tse_error *err)
{
    return engine_fail(rc, "%s", err->message);
}

tse_err engine_db_open(const char *path, engine_db **out)
{
    return engine_db_open_as(path, NULL, out);
}

tse_err engine_db_open_as(const char *path, const char *node, engine_db **out)
{
    tse_error err = {0};
    if (!path || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "a path is required");
    int rc = store_db_open_as(path, node, STORE_CREATE, out, &err);
    return rc ? fail(rc, &err) : TSE_OK;
}

void engine_db_close(engine_db *d)
{
    store_db_close(d);
}

bool engine_lease_lost(engine *t)
{
    return t && store_lease_lost(t->st);
}

tse_err engine_reacquire(engine *t)
{
    tse_error err = {0};
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    pthread_mutex_lock(&t->mu);
    int rc = store_tse_reacquire(t->st, &err);
    if (!rc)
        t->stale = true;   /* counters, clients, open transactions as the other node left them */
    pthread_mutex_unlock(&t->mu);
    return rc ? fail(rc, &err) : TSE_OK;
}

tse_err engine_db_tse_owner(engine_db *d, const char *name, char out[17])
{
    tse_error err = {0};
    int rc = store_tse_owner(d, name, out, &err);
    return rc ? fail(rc, &err) : TSE_OK;
}

tse_err engine_db_import(engine_db *d, const char *name, const char *path)
{
    tse_error err = {0};
    int rc = store_db_import(d, name, path, &err);
    return rc ? fail(rc, &err) : TSE_OK;
}

tse_err engine_db_copy_from(engine_db *d, const char *path, uint64_t counts[4])
{
    tse_error err = {0};
    store_copy_counts n = {0};
    int rc = store_db_copy_from(d, path, &n, &err);
    if (!rc && counts) {
        counts[0] = n.tses;
        counts[1] = n.logs;
        counts[2] = n.records;
        counts[3] = n.again;
    }
    return rc ? fail(rc, &err) : TSE_OK;
}

tse_err engine_records_to_changes(const engine_record *r, size_t n, store_change **out)
{
    *out = NULL;
    if (!n)
        return TSE_OK;
    store_change *ch = calloc(n, sizeof *ch);
    if (!ch)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for %zu records", n);
    for (size_t i = 0; i < n; i++) {
        if (!r[i].ns || !r[i].key || (r[i].op != ENGINE_RECORD_DELETE && !r[i].value) ||
            r[i].op < ENGINE_RECORD_PUT || r[i].op > ENGINE_RECORD_DELETE) {
            free(ch);
            return engine_fail(TSE_ERR_INVALID_ARGUMENT, "record %zu is malformed", i);
        }
        ch[i] = (store_change){
            .kind = r[i].op == ENGINE_RECORD_PUT      ? STORE_PUT_RECORD
                    : r[i].op == ENGINE_RECORD_INSERT ? STORE_INSERT_RECORD
                                                      : STORE_DEL_RECORD,
            .ns = r[i].ns,
            .key = r[i].key,
            .idx = r[i].idx,
            .ord = r[i].ord,
            .value = r[i].value,
            .value_len = r[i].value ? strlen(r[i].value) : 0,
        };
    }
    *out = ch;
    return TSE_OK;
}

tse_err engine_records_commit(engine_db *d, const engine_record *r, size_t n)
{
    store_change *ch = NULL;
    tse_err rc = engine_records_to_changes(r, n, &ch);
    if (rc)
        return rc;
    tse_error err = {0};
    int src = store_db_commit(d, ch, n, &err);
    free(ch);
    return src ? fail(src, &err) : TSE_OK;
}

tse_err engine_record_get(engine_db *d, const char *ns, const char *key, char **value)
{
    tse_error err = {0};
    int rc = store_record_get(d, ns, key, value, NULL, &err);
    return rc ? fail(rc, &err) : TSE_OK;
}

typedef struct each_box {
    int (*cb)(void *ctx, const char *key, const char *value);
    void *ctx;
} each_box;

static int each_record(void *ctx, const char *key, const char *value, size_t len)
{
    (void)len;
    each_box *b = ctx;
    return b->cb(b->ctx, key, value);
}

tse_err engine_record_each(engine_db *d, const char *ns, const char *idx, uint64_t offset, uint64_t limit,
                           int (*cb)(void *ctx, const char *key, const char *value), void *ctx)
{
    tse_error err = {0};
    each_box b = {cb, ctx};
    int rc = store_record_each(d, ns, idx, offset, limit, each_record, &b, &err);
    return rc < 0 && err.code ? fail(rc, &err) : (tse_err)rc;   /* or the callback's own value */
}

tse_err engine_record_count(engine_db *d, const char *ns, const char *idx, uint64_t *n)
{
    tse_error err = {0};
    int rc = store_record_count(d, ns, idx, n, &err);
    return rc ? fail(rc, &err) : TSE_OK;
}

tse_err engine_legacy_rows(const char *path, const char *table,
                           int (*cb)(void *ctx, int n, const char *const *names, const char *const *values),
                           void *ctx)
{
    tse_error err = {0};
    int rc = store_legacy_rows(path, table, cb, ctx, &err);
    return rc < 0 && err.code ? fail(rc, &err) : (tse_err)rc;   /* or the callback's own value */
}
