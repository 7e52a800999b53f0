/*
 * sqlite_read.c - the read side of the SQLite store.
 *
 * Readers never touch the writer connection. Each call borrows a connection
 * from a pool (opening a new one when all are busy) and returns it when done,
 * so reads run concurrently with commits and with each other (WAL gives every
 * statement a consistent snapshot of committed data), and a callback may call
 * back into the store. A connection keeps the statements it has prepared
 * (reset after each read, so no read holds a snapshot once it is done);
 * iteration steps one prepared statement, so memory stays constant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opentse/opentse.h"
#include "store/sqlite_internal.h"

static int pool_get(store_db *s, store_rconn **out, tse_error *err)
{
    pthread_mutex_lock(&s->pmu);
    store_rconn *rc = s->pool;
    if (rc)
        s->pool = rc->next;
    pthread_mutex_unlock(&s->pmu);
    if (rc) {
        *out = rc;
        return 0;
    }
    if (!(rc = calloc(1, sizeof *rc)))
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    int ret = store_connect(s->path, SQLITE_OPEN_READWRITE, &rc->db, err);
    if (!ret && sqlite3_exec(rc->db, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK) {
        ret = store_sqlfail(err, rc->db, "cannot open a read connection");
        sqlite3_close(rc->db);
    }
    if (ret)
        free(rc);
    else
        *out = rc;
    return ret;
}

static void pool_put(store_db *s, store_rconn *rc)
{
    pthread_mutex_lock(&s->pmu);
    rc->next = s->pool;
    s->pool = rc;
    pthread_mutex_unlock(&s->pmu);
}

void store_pool_close(store_db *s)
{
    while (s->pool) {
        store_rconn *rc = s->pool;
        s->pool = rc->next;
        for (int i = 0; i < rc->n_stmt; i++) {
            sqlite3_finalize(rc->stmt[i].st);
            free(rc->stmt[i].sql);
        }
        sqlite3_close(rc->db);
        free(rc);
    }
}

/* One read query: a borrowed connection and a statement on it, kept
 * prepared on that connection for the next query of the same text unless
 * `once`. */
typedef struct query {
    store_db *d;
    store_rconn *rc;
    sqlite3 *db;
    sqlite3_stmt *st;
    bool once;
} query;

static int query_begin_db(store_db *d, const char *sql, query *q, tse_error *err)
{
    *q = (query){.d = d};
    if (!d)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "no store");
    int ret = pool_get(d, &q->rc, err);
    if (ret)
        return ret;
    store_rconn *rc = q->rc;
    q->db = rc->db;
    for (int i = 0; i < rc->n_stmt; i++)
        if (strcmp(rc->stmt[i].sql, sql) == 0) {
            q->st = rc->stmt[i].st;
            return 0;
        }
    if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->st, NULL) != SQLITE_OK) {
        ret = store_sqlfail(err, q->db, sql);
        pool_put(d, rc);
        return ret;
    }
    char *copy = rc->n_stmt < STORE_RCONN_STMTS ? strdup(sql) : NULL;
    if (copy) {
        rc->stmt[rc->n_stmt].sql = copy;
        rc->stmt[rc->n_stmt++].st = q->st;
    } else
        q->once = true;
    return 0;
}

static void query_end(query *q);

/* A query about one TSE: ?1 in `sql` is its id. */
static int query_begin(store *s, const char *sql, query *q, tse_error *err)
{
    if (!s)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "no store");
    int ret = query_begin_db(s->d, sql, q, err);
    if (!ret && sqlite3_bind_int64(q->st, 1, s->id) != SQLITE_OK) {
        ret = store_sqlfail(err, q->db, "cannot bind the TSE");
        query_end(q);
    }
    return ret;
}

/* Ends the statement's read (and its snapshot of the database). */
static void query_end(query *q)
{
    if (q->once)
        sqlite3_finalize(q->st);
    else {
        sqlite3_reset(q->st);
        sqlite3_clear_bindings(q->st);
    }
    pool_put(q->d, q->rc);
}

/* SQLITE_ROW, SQLITE_DONE, or a negative tse_err with err set. */
static int query_step(query *q, tse_error *err)
{
    int rc = sqlite3_step(q->st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return rc;
    return store_sqlfail(err, q->db, "cannot read the store");
}

/* Steps q once for one integer (column 0), ends q; `what` names it. */
static int one_u64(query *q, uint64_t *out, const char *what, tse_error *err)
{
    int rc = query_step(q, err), ret = 0;
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(q->st, 0);
    else
        ret = rc < 0 ? rc : error_set(err, TSE_ERR_STORAGE_FAILURE, "no result for %s", what);
    query_end(q);
    return ret;
}

static int64_t clamp_id(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Copies column i (a blob) into a new malloc'd buffer. */
static int dup_blob(sqlite3_stmt *st, int i, uint8_t **out, size_t *len, tse_error *err)
{
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    if (n)
        memcpy(copy, p, n);
    *out = copy;
    if (len)
        *len = n;
    return 0;
}

int store_get_meta(store *s, const char *key, uint8_t **value, size_t *len, tse_error *err)
{
    if (s && s->d->pg && key && value)
        return store_pg->get_meta(s, key, value, len, err);
    if (!key || !value)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_get_meta: bad argument");
    query q;
    int ret = query_begin(s, "SELECT value FROM meta WHERE tse = ?1 AND key = ?2", &q, err);
    if (ret)
        return ret;
    if (sqlite3_bind_text(q.st, 2, key, -1, SQLITE_STATIC) != SQLITE_OK)
        ret = store_sqlfail(err, q.db, "cannot bind the meta key");
    int rc = ret ? ret : query_step(&q, err);
    if (rc == SQLITE_ROW)
        ret = dup_blob(q.st, 0, value, len, err);
    else if (rc == SQLITE_DONE)
        ret = error_set(err, TSE_ERR_NOT_FOUND, "no state value \"%s\" in the store", key);
    else
        ret = rc;
    query_end(&q);
    return ret;
}

int store_last_log(store *s, uint64_t *counter, uint8_t **msg, size_t *len, tse_error *err)
{
    if (s && s->d->pg && counter)
        return store_pg->last_log(s, counter, msg, len, err);
    if (!counter)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_last_log: bad argument");
    query q;
    int ret = query_begin(s, "SELECT counter, data FROM logs WHERE tse = ?1 ORDER BY counter DESC LIMIT 1", &q, err);
    if (ret)
        return ret;
    int rc = query_step(&q, err);
    *counter = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q.st, 0) : 0;
    if (msg)
        *msg = NULL;
    if (len)
        *len = 0;
    if (rc == SQLITE_ROW && msg)
        ret = dup_blob(q.st, 1, msg, len, err);
    else if (rc < 0)
        ret = rc;
    query_end(&q);
    return ret;
}

int store_get_log(store *s, uint64_t counter, uint8_t **msg, size_t *len, tse_error *err)
{
    if (s && s->d->pg && msg)
        return store_pg->get_log(s, counter, msg, len, err);
    if (!msg)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_get_log: bad argument");
    query q;
    int ret = query_begin(s, "SELECT data FROM logs WHERE tse = ?1 AND counter = ?2", &q, err);
    if (ret)
        return ret;
    if (sqlite3_bind_int64(q.st, 2, clamp_id(counter)) != SQLITE_OK)
        ret = store_sqlfail(err, q.db, "cannot bind the counter");
    int rc = ret ? ret : query_step(&q, err);
    if (rc == SQLITE_ROW)
        ret = dup_blob(q.st, 0, msg, len, err);
    else if (rc == SQLITE_DONE)
        ret = error_set(err, TSE_ERR_NO_LOG_MESSAGE, "no log message with counter %llu",
                         (unsigned long long)counter);
    else
        ret = rc;
    query_end(&q);
    return ret;
}

int store_last_transaction_number(store *s, uint64_t *out, tse_error *err)
{
    if (s && s->d->pg && out)
        return store_pg->last_tx_number(s, out, err);
    if (!out)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_last_transaction_number: bad argument");
    query q;
    /* transaction numbers of deleted logs stay used */
    int ret = query_begin(s,
                          "SELECT MAX(COALESCE((SELECT MAX(tx_number) FROM logs WHERE tse = ?1), 0),"
                          " COALESCE((SELECT CAST(value AS INTEGER) FROM meta"
                          " WHERE tse = ?1 AND key = '" STORE_META_DELETED_TX "'), 0))",
                          &q, err);
    return ret ? ret : one_u64(&q, out, "MAX(tx_number)", err);
}

/* Steps q to the end, handing every row to row(); stops early on non-zero. */
typedef int (*row_fn)(sqlite3_stmt *st, void *cb, void *ctx);

static int query_each(query *q, row_fn row, void *cb, void *ctx, tse_error *err)
{
    for (;;) {
        int rc = query_step(q, err);
        if (rc == SQLITE_DONE)
            return 0;
        if (rc != SQLITE_ROW)
            return rc;
        int stop = row(q->st, cb, ctx);
        if (stop)
            return stop;
    }
}

/* Wraps a callback pointer so it can travel through void * without casts
 * between function and object pointers. */
typedef struct cb_box {
    store_client_cb client;
    store_tx_cb tx;
    store_log_cb log;
} cb_box;

static int client_row(sqlite3_stmt *st, void *cb, void *ctx)
{
    const char *id = (const char *)sqlite3_column_text(st, 0);
    return ((cb_box *)cb)->client(ctx, id ? id : "", sqlite3_column_int64(st, 1));
}

int store_foreach_client(store *s, store_client_cb cb, void *ctx, tse_error *err)
{
    if (s && s->d->pg && cb)
        return store_pg->each_client(s, cb, ctx, err);
    if (!cb)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_foreach_client: no callback");
    query q;
    int ret = query_begin(s, "SELECT client_id, registered FROM clients WHERE tse = ?1 ORDER BY client_id", &q, err);
    if (ret)
        return ret;
    cb_box box = {.client = cb};
    ret = query_each(&q, client_row, &box, ctx, err);
    query_end(&q);
    return ret;
}

static int tx_row(sqlite3_stmt *st, void *cb, void *ctx)
{
    store_tx tx = {.number = (uint64_t)sqlite3_column_int64(st, 0)};
    const char *id = (const char *)sqlite3_column_text(st, 1);
    if (id)
        strncpy(tx.client_id, id, sizeof tx.client_id - 1);
    tx.start_counter = (uint64_t)sqlite3_column_int64(st, 2);
    tx.start_time = sqlite3_column_int64(st, 3);
    tx.last_update = sqlite3_column_int64(st, 4);
    tx.pending = sqlite3_column_blob(st, 5);
    tx.pending_len = (size_t)sqlite3_column_bytes(st, 5);
    if (!tx.pending_len)
        tx.pending = NULL;
    return ((cb_box *)cb)->tx(ctx, &tx);
}

int store_foreach_open_tx(store *s, store_tx_cb cb, void *ctx, tse_error *err)
{
    if (s && s->d->pg && cb)
        return store_pg->each_open_tx(s, cb, ctx, err);
    if (!cb)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_foreach_open_tx: no callback");
    query q;
    int ret = query_begin(s,
                          "SELECT number, client_id, start_counter, start_time, last_update, pending"
                          " FROM open_tx WHERE tse = ?1 ORDER BY number",
                          &q, err);
    if (ret)
        return ret;
    cb_box box = {.tx = cb};
    ret = query_each(&q, tx_row, &box, ctx, err);
    query_end(&q);
    return ret;
}

static int log_row(sqlite3_stmt *st, void *cb, void *ctx)
{
    store_log l = {
        .counter = (uint64_t)sqlite3_column_int64(st, 0),
        .kind = sqlite3_column_int(st, 1),
        .log_time = sqlite3_column_int64(st, 2),
        .transaction_number = (uint64_t)sqlite3_column_int64(st, 3),
        .client_id = (const char *)sqlite3_column_text(st, 4),
        .operation = (const char *)sqlite3_column_text(st, 5),
    };
    l.data = sqlite3_column_blob(st, 6);
    l.len = (size_t)sqlite3_column_bytes(st, 6);
    return ((cb_box *)cb)->log(ctx, &l);
}

int store_foreach_log(store *s, uint64_t from, uint64_t to, store_log_cb cb, void *ctx, tse_error *err)
{
    if (s && s->d->pg && cb) {
        store_log_filter f = {.from = from, .to = to};
        return store_pg->each_log(s, &f, cb, ctx, err);
    }
    if (!cb)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_foreach_log: no callback");
    query q;
    int ret = query_begin(s,
                          "SELECT counter, kind, log_time, tx_number, client_id, operation, data"
                          " FROM logs WHERE tse = ?1 AND counter BETWEEN ?2 AND ?3 ORDER BY counter",
                          &q, err);
    if (ret)
        return ret;
    if (sqlite3_bind_int64(q.st, 2, clamp_id(from)) != SQLITE_OK ||
        sqlite3_bind_int64(q.st, 3, to ? clamp_id(to) : INT64_MAX) != SQLITE_OK)
        ret = store_sqlfail(err, q.db, "cannot bind the counter range");
    cb_box box = {.log = cb};
    if (!ret)
        ret = query_each(&q, log_row, &box, ctx, err);
    query_end(&q);
    return ret;
}

/* ---- selections for export ---- */

/* The WHERE clause of a filter, with its parameters bound in this order:
 * from, to, [time_from, time_to], [tx_from, tx_to], [client_id]. */
static void filter_where(const store_log_filter *f, char *out, size_t cap)
{
    snprintf(out, cap, "tse = ?1 AND counter BETWEEN ?2 AND ?3%s%s%s",
             f->by_time ? " AND log_time BETWEEN ?4 AND ?5" : "",
             !f->tx_from ? ""
             : f->tx_and_others ? " AND (tx_number BETWEEN ?6 AND ?7 OR tx_number = 0)"
                                : " AND tx_number BETWEEN ?6 AND ?7",
             f->client_id ? " AND (tx_number = 0 OR client_id = ?8)" : "");
}

static int filter_bind(query *q, const store_log_filter *f, tse_error *err)
{
    sqlite3_stmt *st = q->st;
    bool ok = sqlite3_bind_int64(st, 2, clamp_id(f->from)) == SQLITE_OK &&
              sqlite3_bind_int64(st, 3, f->to ? clamp_id(f->to) : INT64_MAX) == SQLITE_OK;
    if (ok && f->by_time)
        ok = sqlite3_bind_int64(st, 4, f->time_from) == SQLITE_OK &&
             sqlite3_bind_int64(st, 5, f->time_to) == SQLITE_OK;
    if (ok && f->tx_from)
        ok = sqlite3_bind_int64(st, 6, clamp_id(f->tx_from)) == SQLITE_OK &&
             sqlite3_bind_int64(st, 7, clamp_id(f->tx_to)) == SQLITE_OK;
    if (ok && f->client_id)
        ok = sqlite3_bind_text(st, 8, f->client_id, -1, SQLITE_STATIC) == SQLITE_OK;
    return ok ? 0 : store_sqlfail(err, q->db, "cannot bind the log filter");
}

/* Starts `select ... where <filter> tail` as a query. */
static int filter_query(store *s, const store_log_filter *f, const char *select, const char *tail, query *q,
                        tse_error *err)
{
    if (!f)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "no log filter");
    char where[256], sql[640];
    filter_where(f, where, sizeof where);
    snprintf(sql, sizeof sql, "%s WHERE %s%s", select, where, tail);
    int ret = query_begin(s, sql, q, err);
    if (!ret && (ret = filter_bind(q, f, err)) != 0)
        query_end(q);
    return ret;
}

int store_count_logs(store *s, const store_log_filter *f, uint64_t limit, uint64_t *count, tse_error *err)
{
    if (s && s->d->pg && f && count)
        return store_pg->count_logs(s, f, limit, count, err);
    if (!count)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_count_logs: bad argument");
    query q;
    int ret = filter_query(s, f, limit ? "SELECT COUNT(*) FROM (SELECT 1 FROM logs" : "SELECT COUNT(*) FROM logs",
                           limit ? " LIMIT ?9)" : "", &q, err);
    if (!ret && limit && sqlite3_bind_int64(q.st, 9, limit < INT64_MAX ? (int64_t)limit + 1 : INT64_MAX) != SQLITE_OK) {
        ret = store_sqlfail(err, q.db, "cannot bind the count limit");
        query_end(&q);
    }
    return ret ? ret : one_u64(&q, count, "COUNT", err);
}

int store_log_span(store *s, const store_log_filter *f, uint64_t *lo, uint64_t *hi, tse_error *err)
{
    if (s && s->d->pg && f && lo && hi)
        return store_pg->log_span(s, f, lo, hi, err);
    if (!lo || !hi)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_log_span: bad argument");
    query q;
    int ret = filter_query(s, f, "SELECT COALESCE(MIN(counter), 0), COALESCE(MAX(counter), 0) FROM logs", "", &q,
                           err);
    if (ret)
        return ret;
    int rc = query_step(&q, err);
    if (rc == SQLITE_ROW) {
        *lo = (uint64_t)sqlite3_column_int64(q.st, 0);
        *hi = (uint64_t)sqlite3_column_int64(q.st, 1);
    } else
        ret = rc < 0 ? rc : error_set(err, TSE_ERR_STORAGE_FAILURE, "no result for MIN/MAX");
    query_end(&q);
    return ret;
}

int store_foreach_log_filtered(store *s, const store_log_filter *f, store_log_cb cb, void *ctx, tse_error *err)
{
    if (s && s->d->pg && f && cb)
        return store_pg->each_log(s, f, cb, ctx, err);
    if (!cb)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_foreach_log_filtered: no callback");
    query q;
    int ret = filter_query(s, f, "SELECT counter, kind, log_time, tx_number, client_id, operation, data FROM logs",
                           " ORDER BY counter", &q, err);
    if (ret)
        return ret;
    cb_box box = {.log = cb};
    ret = query_each(&q, log_row, &box, ctx, err);
    query_end(&q);
    return ret;
}

int store_client_known(store *s, const char *client_id, bool *known, tse_error *err)
{
    if (s && s->d->pg && client_id && known)
        return store_pg->client_known(s, client_id, known, err);
    if (!client_id || !known)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_client_known: bad argument");
    query q;
    int ret = query_begin(s,
                          "SELECT EXISTS(SELECT 1 FROM clients WHERE tse = ?1 AND client_id = ?2)"
                          " OR EXISTS(SELECT 1 FROM logs WHERE tse = ?1 AND tx_number <> 0 AND client_id = ?2)",
                          &q, err);
    if (ret)
        return ret;
    if (sqlite3_bind_text(q.st, 2, client_id, -1, SQLITE_STATIC) != SQLITE_OK)
        ret = store_sqlfail(err, q.db, "cannot bind the client id");
    int rc = ret ? ret : query_step(&q, err);
    if (rc == SQLITE_ROW)
        *known = sqlite3_column_int(q.st, 0) != 0;
    else if (!ret)
        ret = rc < 0 ? rc : error_set(err, TSE_ERR_STORAGE_FAILURE, "no result for the client check");
    query_end(&q);
    return ret;
}

int store_first_counter(store *s, uint64_t *out, tse_error *err)
{
    if (s && s->d->pg && out)
        return store_pg->first_counter(s, out, err);
    if (!out)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_first_counter: bad argument");
    query q;
    int ret = query_begin(s, "SELECT COALESCE(MIN(counter), 0) FROM logs WHERE tse = ?1", &q, err);
    return ret ? ret : one_u64(&q, out, "MIN(counter)", err);
}

/* ---- records ---- */

int store_record_get(store_db *d, const char *ns, const char *key, char **value, size_t *len, tse_error *err)
{
    if (d && d->pg && ns && key && value)
        return store_pg->record_get(d, ns, key, value, len, err);
    if (!ns || !key || !value)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_record_get: bad argument");
    query q;
    int ret = query_begin_db(d, "SELECT value FROM records WHERE ns = ?1 AND key = ?2", &q, err);
    if (ret)
        return ret;
    if (sqlite3_bind_text(q.st, 1, ns, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(q.st, 2, key, -1, SQLITE_STATIC) != SQLITE_OK)
        ret = store_sqlfail(err, q.db, "cannot bind the record key");
    int rc = ret ? ret : query_step(&q, err);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q.st, 0);
        const void *p = sqlite3_column_blob(q.st, 0);
        char *copy = malloc(n + 1);
        if (!copy)
            ret = error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
        else {
            if (n)
                memcpy(copy, p, n);
            copy[n] = 0;
            *value = copy;
            if (len)
                *len = n;
        }
    } else if (rc == SQLITE_DONE)
        ret = error_set(err, TSE_ERR_NOT_FOUND, "no record %s/%s", ns, key);
    else
        ret = rc;
    query_end(&q);
    return ret;
}

/* A query over the records of ns (and idx): ?1 ns, ?2 idx. */
static int record_query(store_db *d, const char *select, const char *ns, const char *idx, const char *tail,
                        query *q, tse_error *err)
{
    if (!ns)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "no record namespace");
    char sql[300];
    snprintf(sql, sizeof sql, "%s FROM records WHERE ns = ?1%s%s", select, idx ? " AND idx = ?2" : "", tail);
    int ret = query_begin_db(d, sql, q, err);
    if (ret)
        return ret;
    if (sqlite3_bind_text(q->st, 1, ns, -1, SQLITE_STATIC) != SQLITE_OK ||
        (idx && sqlite3_bind_text(q->st, 2, idx, -1, SQLITE_STATIC) != SQLITE_OK)) {
        ret = store_sqlfail(err, q->db, "cannot bind the record selection");
        query_end(q);
    }
    return ret;
}

int store_record_each(store_db *d, const char *ns, const char *idx, uint64_t offset, uint64_t limit,
                      store_record_cb cb, void *ctx, tse_error *err)
{
    if (d && d->pg && ns && cb)
        return store_pg->record_each(d, ns, idx, offset, limit, cb, ctx, err);
    if (!cb)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_record_each: no callback");
    query q;
    int ret = record_query(d, "SELECT key, value", ns, idx, " ORDER BY ord, rowid LIMIT ?3 OFFSET ?4", &q, err);
    if (ret)
        return ret;
    if (sqlite3_bind_int64(q.st, 3, limit ? clamp_id(limit) : -1) != SQLITE_OK ||
        sqlite3_bind_int64(q.st, 4, clamp_id(offset)) != SQLITE_OK) {
        ret = store_sqlfail(err, q.db, "cannot bind the record page");
        query_end(&q);
        return ret;
    }
    for (;;) {
        int rc = query_step(&q, err);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            ret = rc;
            break;
        }
        const char *key = (const char *)sqlite3_column_text(q.st, 0);
        const char *value = (const char *)sqlite3_column_text(q.st, 1);
        if ((ret = cb(ctx, key ? key : "", value ? value : "", (size_t)sqlite3_column_bytes(q.st, 1))) != 0)
            break;
    }
    query_end(&q);
    return ret;
}

int store_record_count(store_db *d, const char *ns, const char *idx, uint64_t *n, tse_error *err)
{
    if (d && d->pg && ns && n)
        return store_pg->record_count(d, ns, idx, n, err);
    if (!n)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_record_count: bad argument");
    query q;
    int ret = record_query(d, "SELECT COUNT(*)", ns, idx, "", &q, err);
    return ret ? ret : one_u64(&q, n, "COUNT", err);
}
