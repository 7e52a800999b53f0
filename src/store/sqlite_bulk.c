/*
 * sqlite_bulk.c - the bulk insert of logs signed before (restoreFromBackup),
 * the one way besides the group commit into the append-only log table: it
 * checks that the stored counters still form one run without gaps before it
 * commits. (deleteStoredData, the other controlled way around it, is applied
 * inside a group-commit flush: sqlite_commit.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opentse/opentse.h"
#include "store/sqlite_internal.h"

/* ---- bulk insert ---- */

struct store_bulk {
    store *s;
    sqlite3_stmt *get;   /* SELECT data FROM logs WHERE counter = ? */
    uint64_t added;
};

int store_bulk_begin(store *s, store_bulk **out, tse_error *err)
{
    if (!s || !out)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_bulk_begin: bad argument");
    *out = NULL;
    store_bulk *b = calloc(1, sizeof *b);
    if (!b)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    b->s = s;
    store_db *d = s->d;
    store_writer_take(d);
    if (d->pg) {
        int ret = store_pg->bulk_begin(s, err);
        if (ret) {
            store_writer_give(d);
            free(b);
            return ret;
        }
        *out = b;
        return 0;
    }
    int ret = store_exec(d->wdb, "BEGIN IMMEDIATE", NULL, err);
    if (!ret && (sqlite3_prepare_v2(d->wdb, "SELECT data FROM logs WHERE tse = ?1 AND counter = ?2", -1, &b->get,
                                    NULL) != SQLITE_OK ||
                 sqlite3_bind_int64(b->get, 1, s->id) != SQLITE_OK))
        ret = store_sqlfail(err, d->wdb, "cannot prepare the bulk lookup");
    if (ret) {
        if (!sqlite3_get_autocommit(d->wdb))
            sqlite3_exec(d->wdb, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_finalize(b->get);
        store_writer_give(d);
        free(b);
        return ret;
    }
    *out = b;
    return 0;
}

/* 1 if counter is stored with the same bytes, 0 if absent, <0 on error or a difference. */
static int bulk_lookup(store_bulk *b, const store_log *l, tse_error *err)
{
    sqlite3_stmt *st = b->get;
    int ret = 0;
    if (sqlite3_bind_int64(st, 2, (int64_t)l->counter) != SQLITE_OK)
        ret = store_sqlfail(err, b->s->d->wdb, "cannot bind the counter");
    int rc = ret ? SQLITE_DONE : sqlite3_step(st);
    if (!ret && rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        const void *p = sqlite3_column_blob(st, 0);
        ret = (n == l->len && p && memcmp(p, l->data, n) == 0)
                  ? 1
                  : error_set(err, TSE_ERR_INVALID_ARGUMENT,
                               "log %llu differs from the stored log with that counter",
                               (unsigned long long)l->counter);
    } else if (!ret && rc != SQLITE_DONE)
        ret = store_sqlfail(err, b->s->d->wdb, "cannot look up a log");
    sqlite3_reset(st);   /* keeps ?1, the TSE */
    return ret;
}

int store_bulk_put(store_bulk *b, const store_log *l, tse_error *err)
{
    if (!b || !l || !l->data || !l->len || !l->counter || l->counter > (uint64_t)INT64_MAX ||
        l->transaction_number > (uint64_t)INT64_MAX)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_bulk_put: bad argument");
    if (b->s->d->pg) {
        int ret = store_pg->bulk_put(b->s, l, err);
        if (ret > 0)
            return 0;   /* stored before with the same bytes */
        if (!ret)
            b->added++;
        return ret;
    }
    int ret = bulk_lookup(b, l, err);
    if (ret)
        return ret < 0 ? ret : 0;
    store_db *d = b->s->d;
    sqlite3_stmt *st = d->w[W_LOG];
    if (sqlite3_bind_int64(st, 1, b->s->id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (int64_t)l->counter) != SQLITE_OK || sqlite3_bind_int(st, 3, l->kind) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, l->log_time) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, (int64_t)l->transaction_number) != SQLITE_OK ||
        sqlite3_bind_text(st, 6, l->client_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 7, l->operation, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob64(st, 8, l->data, l->len, SQLITE_STATIC) != SQLITE_OK)
        ret = store_sqlfail(err, d->wdb, "cannot bind a log");
    else if (sqlite3_step(st) != SQLITE_DONE)
        ret = store_sqlfail(err, d->wdb, "cannot insert a log");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (!ret)
        b->added++;
    return ret;
}

/* The stored counters must form one run: count == max - min + 1. */
static int check_run(store *s, uint64_t *max_out, tse_error *err)
{
    sqlite3 *db = s->d->wdb;
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT COUNT(*), COALESCE(MIN(counter), 0), COALESCE(MAX(counter), 0) FROM logs WHERE tse = ?1";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, sql);
    int ret = 0;
    if (sqlite3_bind_int64(st, 1, s->id) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        ret = store_sqlfail(err, db, sql);
    else {
        uint64_t n = (uint64_t)sqlite3_column_int64(st, 0), lo = (uint64_t)sqlite3_column_int64(st, 1),
                 hi = (uint64_t)sqlite3_column_int64(st, 2);
        if (n && n != hi - lo + 1)
            ret = error_set(err, TSE_ERR_INVALID_ARGUMENT,
                             "the logs would leave a gap: %llu logs between counters %llu and %llu",
                             (unsigned long long)n, (unsigned long long)lo, (unsigned long long)hi);
        else if (n && lo > 1) {
            /* below the first stored log there may only be deleted logs */
            sqlite3_stmt *m = NULL;
            int64_t deleted = 0;
            if (sqlite3_prepare_v2(db,
                                   "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE tse = ?1 AND key = '"
                                   STORE_META_DELETED_THROUGH "'), 0)",
                                   -1, &m, NULL) != SQLITE_OK ||
                sqlite3_bind_int64(m, 1, s->id) != SQLITE_OK || sqlite3_step(m) != SQLITE_ROW)
                ret = store_sqlfail(err, db, "cannot read the deletion mark");
            else
                deleted = sqlite3_column_int64(m, 0);
            sqlite3_finalize(m);
            if (!ret && (uint64_t)deleted < lo - 1)
                ret = error_set(err, TSE_ERR_INVALID_ARGUMENT,
                                 "logs %llu..%llu are missing below the first stored log",
                                 (unsigned long long)deleted + 1, (unsigned long long)lo - 1);
        }
        *max_out = hi > s->last_counter ? hi : s->last_counter;
    }
    sqlite3_finalize(st);
    return ret;
}

int store_bulk_end(store_bulk *b, bool commit, uint64_t *added, tse_error *err)
{
    if (!b)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_bulk_end: bad argument");
    store *s = b->s;
    if (s->d->pg) {
        uint64_t last = s->last_counter;
        int ret = store_pg->bulk_end(s, commit, &last, err);
        if (commit && !ret)
            s->last_counter = last;
        if (added)
            *added = commit && !ret ? b->added : 0;
        store_writer_give(s->d);
        free(b);
        return ret;
    }
    sqlite3 *db = s->d->wdb;
    uint64_t last = s->last_counter;
    int ret = commit ? check_run(s, &last, err) : 0;
    if (commit && !ret)
        ret = store_exec(db, "COMMIT", NULL, err);
    if ((!commit || ret) && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (commit && !ret)
        s->last_counter = last;
    if (added)
        *added = commit && !ret ? b->added : 0;
    sqlite3_finalize(b->get);
    store_writer_give(s->d);
    free(b);
    return ret;
}
