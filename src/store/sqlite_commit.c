/*
 * sqlite_commit.c - group commit for the SQLite store.
 *
 * store_submit() copies a batch into a ticket and appends it to a FIFO queue.
 * store_wait() sleeps until its ticket is done; when no flush is running the
 * waiter becomes the leader: it takes every queued ticket, applies them in
 * order in one BEGIN IMMEDIATE ... COMMIT, and wakes everyone. When a batch
 * is refused, that transaction is rolled back and the flush applied again
 * with each batch inside its own SAVEPOINT, so the refused one is dropped
 * alone (savepoints on every flush would copy every page a batch changes
 * that the batches before it had changed). COMMIT
 * under synchronous=FULL fsyncs the WAL, so nobody returns before their batch
 * is on disk. A batch whose log still lacks its signature (submitted in
 * counter order, signed afterwards outside the caller's lock) is not ready:
 * a flush takes only the ready tickets at the head of the queue, so order is
 * kept and signing runs in parallel.
 *
 * One queue and one writer serve every TSE of the database: a flush carries
 * the batches of all of them and costs one fsync.
 *
 * Counter rule: a batch's log counter must be its TSE's last committed
 * counter (or the last one applied earlier in the same flush) + 1. If the flush cannot be
 * committed, every batch in it fails with STORAGE_FAILURE and the committed
 * counter stays where it was, so later batches are checked against the truth.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opentse/opentse.h"
#include "store/sqlite_internal.h"

static const char *const wsql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVEPOINT] = "SAVEPOINT batch",
    [W_RELEASE] = "RELEASE batch",
    [W_ROLLBACK_TO] = "ROLLBACK TO batch",
    [W_LOG] = "INSERT INTO logs(tse, counter, kind, log_time, tx_number, client_id, operation, data)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [W_PUT_META] = "INSERT OR REPLACE INTO meta(tse, key, value) VALUES (?1, ?2, ?3)",
    [W_DEL_META] = "DELETE FROM meta WHERE tse = ?1 AND key = ?2",
    [W_PUT_CLIENT] = "INSERT OR REPLACE INTO clients(tse, client_id, registered) VALUES (?1, ?2, ?3)",
    [W_DEL_CLIENT] = "DELETE FROM clients WHERE tse = ?1 AND client_id = ?2",
    [W_PUT_TX] = "INSERT OR REPLACE INTO open_tx(tse, number, client_id, start_counter, start_time,"
                 " last_update, pending) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [W_DEL_TX] = "DELETE FROM open_tx WHERE tse = ?1 AND number = ?2",
    /* an update keeps the row (and with it the insertion order) */
    [W_PUT_RECORD] = "INSERT INTO records(ns, key, idx, ord, value) VALUES (?1, ?2, ?3, ?4, ?5)"
                     " ON CONFLICT(ns, key) DO UPDATE SET idx = excluded.idx, ord = excluded.ord,"
                     " value = excluded.value",
    [W_INSERT_RECORD] = "INSERT INTO records(ns, key, idx, ord, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    [W_DEL_RECORD] = "DELETE FROM records WHERE ns = ?1 AND key = ?2",
};

int store_writer_prepare(store_db *d, tse_error *err)
{
    for (int i = 0; i < W_COUNT; i++)
        if (sqlite3_prepare_v3(d->wdb, wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->w[i], NULL) !=
            SQLITE_OK)
            return store_sqlfail(err, d->wdb, wsql[i]);
    return 0;
}

void store_writer_finalize(store_db *d)
{
    for (int i = 0; i < W_COUNT; i++) {
        sqlite3_finalize(d->w[i]);
        d->w[i] = NULL;
    }
}

/* ---- copying a batch into a ticket ----
 * Every copy function runs twice: first with a NULL arena base to measure,
 * then for real, so the size and the copy can never disagree. */

typedef struct arena {
    uint8_t *base;
    size_t used;
} arena;

static void *arena_dup(arena *a, const void *src, size_t len, size_t align)
{
    a->used = (a->used + align - 1) / align * align;
    uint8_t *dst = a->base ? a->base + a->used : NULL;
    a->used += len;
    if (dst && src && len)
        memcpy(dst, src, len);
    return dst;
}

static const char *arena_str(arena *a, const char *s)
{
    return s ? arena_dup(a, s, strlen(s) + 1, 1) : NULL;
}

static const store_log *copy_log(arena *a, const store_log *src)
{
    store_log l = *src;
    l.client_id = arena_str(a, src->client_id);
    l.operation = arena_str(a, src->operation);
    l.data = arena_dup(a, src->data, src->len, 1);
    return arena_dup(a, &l, sizeof l, alignof(store_log));
}

static const store_tx *copy_tx(arena *a, const store_tx *src)
{
    store_tx tx = *src;
    tx.pending = src->pending_len ? arena_dup(a, src->pending, src->pending_len, 1) : NULL;
    return arena_dup(a, &tx, sizeof tx, alignof(store_tx));
}

static store_change copy_change(arena *a, const store_change *src)
{
    store_change c = *src;
    c.key = arena_str(a, src->key);
    c.ns = arena_str(a, src->ns);
    c.idx = arena_str(a, src->idx);
    c.value = src->value_len ? arena_dup(a, src->value, src->value_len, 1) : NULL;
    c.tx = src->tx ? copy_tx(a, src->tx) : NULL;
    return c;
}

static store_batch copy_batch(arena *a, const store_batch *src)
{
    store_batch b = {.n_changes = src->n_changes, .log_tail_later = src->log_tail_later, .hold = src->hold};
    b.log = src->log ? copy_log(a, src->log) : NULL;
    store_change *ch = arena_dup(a, NULL, src->n_changes * sizeof *ch, alignof(store_change));
    for (size_t i = 0; i < src->n_changes; i++) {
        store_change c = copy_change(a, &src->changes[i]);
        if (ch)
            ch[i] = c;
    }
    b.changes = ch;
    return b;
}

static store_ticket *ticket_new(const store_batch *b)
{
    arena a = {0};
    (void)copy_batch(&a, b);   /* measures */
    size_t need = a.used;
    store_ticket *t = calloc(1, sizeof *t + need);
    if (!t)
        return NULL;
    a = (arena){.base = t->arena};
    t->batch = copy_batch(&a, b);
    assert(a.used == need);
    return t;
}

/* ---- checks at submit time ---- */

static bool id_ok(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX;
}

static int check_change(const store_change *c, tse_error *err)
{
    switch (c->kind) {
    case STORE_PUT_META:
        if (c->key && (c->value || !c->value_len))
            return 0;
        break;
    case STORE_DEL_META:
    case STORE_PUT_CLIENT:
    case STORE_DEL_CLIENT:
        if (c->key)
            return 0;
        break;
    case STORE_PUT_TX:
        if (c->tx && id_ok(c->tx->number) && id_ok(c->tx->start_counter) &&
            (c->tx->pending || !c->tx->pending_len))
            return 0;
        break;
    case STORE_DEL_TX:
        if (c->tx && id_ok(c->tx->number))
            return 0;
        break;
    case STORE_DELETE_LOGS:
        if (id_ok(c->counter))
            return 0;
        break;
    case STORE_PUT_RECORD:
    case STORE_INSERT_RECORD:
        if (c->ns && c->key && (c->value || !c->value_len))
            return 0;
        break;
    case STORE_DEL_RECORD:
        if (c->ns && c->key)
            return 0;
        break;
    }
    return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store change of kind %d is malformed",
                      (int)c->kind);
}

static int check_batch(const store_batch *b, tse_error *err)
{
    const store_log *l = b->log;
    if (l && (!l->data || !l->len || !l->counter || !id_ok(l->counter) ||
              !id_ok(l->transaction_number)))
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "log message %llu is malformed",
                          (unsigned long long)l->counter);
    if (b->log_tail_later && (!l || b->log_tail_later > l->len))
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "a missing log tail needs a log that long");
    if (b->n_changes && !b->changes)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "batch without its changes");
    for (size_t i = 0; i < b->n_changes; i++) {
        int ret = check_change(&b->changes[i], err);
        if (ret)
            return ret;
        /* a deletion always comes with the log that records it */
        if (b->changes[i].kind == STORE_DELETE_LOGS && (!l || l->counter <= b->changes[i].counter))
            return error_set(err, TSE_ERR_INVALID_ARGUMENT,
                              "deleting logs needs a log with a higher counter in the same batch");
    }
    return 0;
}

static int store_wait_db(store_db *d, store_ticket *t, tse_error *err);

static bool is_record(store_change_kind k)
{
    return k == STORE_PUT_RECORD || k == STORE_INSERT_RECORD || k == STORE_DEL_RECORD;
}

static int enqueue(store_db *d, store *view, const store_batch *b, store_ticket **t, tse_error *err)
{
    int ret = check_batch(b, err);
    if (ret)
        return ret;
    store_ticket *nt = ticket_new(b);
    if (!nt)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory queueing a batch");
    nt->view = view;
    nt->ready = b->log_tail_later == 0 && !b->hold;
    pthread_mutex_lock(&d->qmu);
    if (d->tail)
        d->tail->next = nt;
    else
        d->head = nt;
    d->tail = nt;
    pthread_mutex_unlock(&d->qmu);
    *t = nt;
    return 0;
}

int store_submit(store *s, const store_batch *b, store_ticket **t, tse_error *err)
{
    if (t)
        *t = NULL;
    if (!s || !b || !t)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_submit: bad argument");
    return enqueue(s->d, s, b, t, err);
}

int store_db_commit(store_db *d, const store_change *ch, size_t n, tse_error *err)
{
    if (!d || (n && !ch))
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_db_commit: bad argument");
    for (size_t i = 0; i < n; i++)
        if (!is_record(ch[i].kind))
            return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_db_commit takes records only");
    store_batch b = {.changes = ch, .n_changes = n};
    store_ticket *t = NULL;
    int ret = enqueue(d, NULL, &b, &t, err);
    return ret ? ret : store_wait_db(d, t, err);
}

/* Copies store_complete()'s changes into one allocation of the ticket. */
static int add_extra(store_ticket *t, const store_change *extra, size_t n, tse_error *err)
{
    store_batch b = {.changes = extra, .n_changes = n};
    int ret = check_batch(&b, err);
    if (ret)
        return ret;
    arena a = {0};
    (void)copy_batch(&a, &b);   /* measures */
    size_t need = a.used;
    uint8_t *mem = malloc(need ? need : 1);
    if (!mem)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory adding %zu records to a batch", n);
    a = (arena){.base = mem};
    store_batch copy = copy_batch(&a, &b);
    assert(a.used == need);
    t->extra = (store_change *)copy.changes;
    t->extra_mem = mem;
    t->n_extra = n;
    return 0;
}

int store_complete(store *s, store_ticket *t, const uint8_t *tail, size_t len, const store_change *extra,
                   size_t n_extra, int fail_code, const char *failure)
{
    if (!s || !t || t->ready || (!failure && len != t->batch.log_tail_later) || (!failure && len && !tail) ||
        (n_extra && !extra))
        return error_set(NULL, TSE_ERR_INVALID_ARGUMENT, "store_complete: bad argument");
    tse_error e = {0};
    if (!failure && n_extra && add_extra(t, extra, n_extra, &e) != 0) {
        fail_code = e.code;
        failure = e.message;
    }
    if (failure) {
        t->preset = fail_code ? fail_code : TSE_ERR_STORAGE_FAILURE;
        error_set(&t->err, t->preset, "%s", failure);
    } else if (len) {
        /* the log's bytes live in the ticket's own arena */
        uint8_t *data = (uint8_t *)t->batch.log->data;
        memcpy(data + t->batch.log->len - len, tail, len);
    }
    store_db *d = s->d;
    pthread_mutex_lock(&d->qmu);
    t->ready = true;
    pthread_cond_broadcast(&d->qcv);
    pthread_mutex_unlock(&d->qmu);
    return 0;
}

/* ---- applying a batch (writer role) ---- */

/* Steps a fully bound statement once and resets it. */
static int run(store_db *d, int which, tse_error *err)
{
    sqlite3_stmt *st = d->w[which];
    int rc = sqlite3_step(st);
    int ret = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : store_sqlfail(err, d->wdb, wsql[which]);
    if (which == W_INSERT_RECORD && sqlite3_extended_errcode(d->wdb) == SQLITE_CONSTRAINT_UNIQUE)
        ret = error_set(err, TSE_ERR_ALREADY_EXISTS, "the record exists already");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

static int bind_blob(sqlite3_stmt *st, int i, const void *p, size_t len)
{
    return len ? sqlite3_bind_blob64(st, i, p, len, SQLITE_STATIC) : sqlite3_bind_zeroblob(st, i, 0);
}

static int bind_fail(store_db *d, int which, tse_error *err)
{
    int ret = store_sqlfail(err, d->wdb, wsql[which]);
    sqlite3_clear_bindings(d->w[which]);
    return ret;
}

/* The statement `which` with ?1 bound to the TSE's id. */
static sqlite3_stmt *stmt_for(store_db *d, int which, int64_t tse)
{
    sqlite3_stmt *st = d->w[which];
    return sqlite3_bind_int64(st, 1, tse) == SQLITE_OK ? st : NULL;
}

static int apply_log(store_db *d, int64_t tse, const store_log *l, tse_error *err)
{
    sqlite3_stmt *st = stmt_for(d, W_LOG, tse);
    if (!st || sqlite3_bind_int64(st, 2, (int64_t)l->counter) != SQLITE_OK ||
        sqlite3_bind_int(st, 3, l->kind) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, l->log_time) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, (int64_t)l->transaction_number) != SQLITE_OK ||
        sqlite3_bind_text(st, 6, l->client_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 7, l->operation, -1, SQLITE_STATIC) != SQLITE_OK ||
        bind_blob(st, 8, l->data, l->len) != SQLITE_OK)
        return bind_fail(d, W_LOG, err);
    return run(d, W_LOG, err);
}

static int apply_meta(store_db *d, int64_t tse, const store_change *c, tse_error *err)
{
    int which = c->kind == STORE_PUT_META ? W_PUT_META : W_DEL_META;
    sqlite3_stmt *st = stmt_for(d, which, tse);
    if (!st || sqlite3_bind_text(st, 2, c->key, -1, SQLITE_STATIC) != SQLITE_OK ||
        (which == W_PUT_META && bind_blob(st, 3, c->value, c->value_len) != SQLITE_OK))
        return bind_fail(d, which, err);
    return run(d, which, err);
}

static int apply_client(store_db *d, int64_t tse, const store_change *c, tse_error *err)
{
    int which = c->kind == STORE_PUT_CLIENT ? W_PUT_CLIENT : W_DEL_CLIENT;
    sqlite3_stmt *st = stmt_for(d, which, tse);
    if (!st || sqlite3_bind_text(st, 2, c->key, -1, SQLITE_STATIC) != SQLITE_OK ||
        (which == W_PUT_CLIENT && sqlite3_bind_int64(st, 3, c->time) != SQLITE_OK))
        return bind_fail(d, which, err);
    return run(d, which, err);
}

static int apply_put_tx(store_db *d, int64_t tse, const store_tx *tx, tse_error *err)
{
    sqlite3_stmt *st = stmt_for(d, W_PUT_TX, tse);
    size_t id_len = strnlen(tx->client_id, sizeof tx->client_id);
    if (!st || sqlite3_bind_int64(st, 2, (int64_t)tx->number) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, tx->client_id, (int)id_len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, (int64_t)tx->start_counter) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, tx->start_time) != SQLITE_OK ||
        sqlite3_bind_int64(st, 6, tx->last_update) != SQLITE_OK ||
        bind_blob(st, 7, tx->pending, tx->pending_len) != SQLITE_OK)
        return bind_fail(d, W_PUT_TX, err);
    return run(d, W_PUT_TX, err);
}

static int apply_del_tx(store_db *d, int64_t tse, const store_tx *tx, tse_error *err)
{
    sqlite3_stmt *st = stmt_for(d, W_DEL_TX, tse);
    if (!st || sqlite3_bind_int64(st, 2, (int64_t)tx->number) != SQLITE_OK)
        return bind_fail(d, W_DEL_TX, err);
    return run(d, W_DEL_TX, err);
}

static int apply_record(store_db *d, const store_change *c, tse_error *err)
{
    int which = c->kind == STORE_PUT_RECORD ? W_PUT_RECORD : c->kind == STORE_INSERT_RECORD ? W_INSERT_RECORD
                                                                                            : W_DEL_RECORD;
    sqlite3_stmt *st = d->w[which];
    bool ok = sqlite3_bind_text(st, 1, c->ns, -1, SQLITE_STATIC) == SQLITE_OK &&
              sqlite3_bind_text(st, 2, c->key, -1, SQLITE_STATIC) == SQLITE_OK;
    if (ok && which != W_DEL_RECORD)
        ok = sqlite3_bind_text(st, 3, c->idx, -1, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_bind_int64(st, 4, c->ord) == SQLITE_OK &&
             sqlite3_bind_text(st, 5, c->value ? c->value : "", (int)c->value_len, SQLITE_STATIC) == SQLITE_OK;
    if (!ok)
        return bind_fail(d, which, err);
    return run(d, which, err);
}

/* ---- deleteStoredData: the controlled way around the append-only log
 * table, applied inside a flush together with the log that records it. The
 * delete trigger is dropped and created again inside the same transaction,
 * so outside it no log can ever be deleted and a failed flush leaves the
 * trigger in place. ---- */

/* Runs a statement with two integer parameters to its end. */
static int exec_int2(sqlite3 *db, const char *sql, int64_t a, int64_t b, tse_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, sql);
    int ret = 0;
    if (sqlite3_bind_int64(st, 1, a) != SQLITE_OK || sqlite3_bind_int64(st, 2, b) != SQLITE_OK)
        ret = store_sqlfail(err, db, sql);
    while (!ret) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            ret = store_sqlfail(err, db, sql);
    }
    sqlite3_finalize(st);
    return ret;
}

static int apply_delete_logs(store_db *d, int64_t tse, uint64_t through, tse_error *err)
{
    int64_t n = (int64_t)through;
    /* remember what is deleted first: the highest counter and transaction number */
    int ret = exec_int2(d->wdb,
                        "INSERT OR REPLACE INTO meta(tse, key, value) SELECT ?1, '" STORE_META_DELETED_TX "',"
                        " MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE tse = ?1 AND key = '"
                        STORE_META_DELETED_TX "'), 0), COALESCE((SELECT MAX(tx_number) FROM logs"
                        " WHERE tse = ?1 AND counter <= ?2), 0))",
                        tse, n, err);
    if (!ret)
        ret = exec_int2(d->wdb,
                        "INSERT OR REPLACE INTO meta(tse, key, value) SELECT ?1, '" STORE_META_DELETED_THROUGH "',"
                        " MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE tse = ?1 AND key = '"
                        STORE_META_DELETED_THROUGH "'), 0), ?2)",
                        tse, n, err);
    if (!ret)
        ret = store_exec(d->wdb, "DROP TRIGGER logs_no_delete", NULL, err);
    if (!ret)
        ret = exec_int2(d->wdb, "DELETE FROM logs WHERE tse = ?1 AND counter <= ?2", tse, n, err);
    if (!ret)
        ret = store_exec(d->wdb,
                         "CREATE TRIGGER logs_no_delete BEFORE DELETE ON logs"
                         "  BEGIN SELECT RAISE(ABORT, 'logs are append-only: delete refused'); END",
                         NULL, err);
    return ret;
}

static int apply_change(store_db *d, const store *view, const store_change *c, tse_error *err)
{
    if (is_record(c->kind))
        return apply_record(d, c, err);
    if (!view)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "a change of a TSE without its TSE");
    int64_t tse = view->id;
    switch (c->kind) {
    case STORE_PUT_META:
    case STORE_DEL_META:
        return apply_meta(d, tse, c, err);
    case STORE_PUT_CLIENT:
    case STORE_DEL_CLIENT:
        return apply_client(d, tse, c, err);
    case STORE_PUT_TX:
        return apply_put_tx(d, tse, c->tx, err);
    case STORE_DEL_TX:
        return apply_del_tx(d, tse, c->tx, err);
    case STORE_DELETE_LOGS:
        return apply_delete_logs(d, tse, c->counter, err);
    default:
        break;
    }
    return error_set(err, TSE_ERR_INTERNAL, "unknown store change %d", (int)c->kind);
}

static int apply_batch(store_db *d, const store_ticket *t, tse_error *err)
{
    const store_batch *b = &t->batch;
    int ret = b->log ? apply_log(d, t->view->id, b->log, err) : 0;
    for (size_t i = 0; !ret && i < b->n_changes; i++)
        ret = apply_change(d, t->view, &b->changes[i], err);
    for (size_t i = 0; !ret && i < t->n_extra; i++)
        ret = apply_change(d, t->view, &t->extra[i], err);
    return ret;
}

/* The counter of the ticket's TSE as applied so far in flush `gen`. */
uint64_t *store_flush_counter(store *v, uint64_t gen)
{
    if (v->flush_gen != gen) {
        v->flush_gen = gen;
        v->flush_counter = v->last_counter;
    }
    return &v->flush_counter;
}

/* Applies one ticket inside its own savepoint; its TSE's flush counter
 * follows the logs applied so far in this flush. A failure leaves nothing of
 * the batch. Returns -1 when the batch could not be kept apart (its
 * savepoint neither rolled back nor released): then the whole flush must
 * fail. */
static int apply_ticket(store_db *d, store_ticket *t)
{
    const store_log *l = t->batch.log;
    if (t->preset) {
        t->result = t->preset;
        return 0;
    }
    uint64_t *counter = l ? store_flush_counter(t->view, d->flush_gen) : NULL;
    if (l && l->counter != *counter + 1) {
        t->result = error_set(&t->err, TSE_ERR_INVALID_ARGUMENT,
                               "log counter %llu refused: the next counter is %llu",
                               (unsigned long long)l->counter, (unsigned long long)*counter + 1);
        return 0;
    }
    t->result = run(d, W_SAVEPOINT, &t->err);
    if (t->result)
        return 0;
    t->result = apply_batch(d, t, &t->err);
    if (sqlite3_get_autocommit(d->wdb))
        return 0;   /* SQLite dropped the whole transaction; flush() fails it all */
    if (t->result) {
        if (run(d, W_ROLLBACK_TO, NULL) != 0)
            return -1;
        (void)run(d, W_RELEASE, NULL);   /* an empty savepoint: left open it changes nothing */
        return 0;
    }
    t->result = run(d, W_RELEASE, &t->err);
    if (t->result)
        return -1;
    if (l) {
        assert(l->counter == *counter + 1);   /* one counter after the other, no gap */
        *counter = l->counter;
    }
    return 0;
}

/* The tickets of a flush applied one after the other without a savepoint
 * each (a savepoint keeps a copy of every page its batch changes that the
 * batches before had changed). 0 when every one applied, its result set;
 * else -1: a batch failed or was refused, the transaction holds part of it,
 * and the flush must be rolled back and applied ticket by ticket. */
static int apply_all(store_db *d, store_ticket *list)
{
    for (store_ticket *t = list; t; t = t->next) {
        const store_log *l = t->batch.log;
        if (t->preset)
            continue;
        uint64_t *counter = l ? store_flush_counter(t->view, d->flush_gen) : NULL;
        tse_error err = {0};
        if ((l && l->counter != *counter + 1) || apply_batch(d, t, &err) != 0 || sqlite3_get_autocommit(d->wdb))
            return -1;
        if (l)
            *counter = l->counter;
    }
    for (store_ticket *t = list; t; t = t->next)
        t->result = t->preset;
    return 0;
}

/* The whole flush is lost: every batch fails with the flush's message. */
void store_fail_flush(store_ticket *list, const tse_error *msg)
{
    for (store_ticket *t = list; t; t = t->next) {
        if (t->result != TSE_ERR_INVALID_ARGUMENT) {   /* a refused counter stays refused */
            t->result = TSE_ERR_STORAGE_FAILURE;
            error_set(&t->err, TSE_ERR_STORAGE_FAILURE, "%s", msg->message);
        }
    }
}

/* A ROLLBACK that fails leaves the transaction open; the next flush()
 * rolls it back before it begins. */
static void rollback(store_db *d)
{
    if (!sqlite3_get_autocommit(d->wdb))
        (void)run(d, W_ROLLBACK, NULL);
}

/* Each ticket in its own savepoint, in the open transaction; 0, or -1 when
 * the whole flush was lost (every ticket then failed, rolled back). */
static int apply_each(store_db *d, store_ticket *list)
{
    tse_error msg = {0};
    for (store_ticket *t = list; t; t = t->next) {
        assert(t->ready && !t->done);
        int apart = apply_ticket(d, t);
        if (apart != 0 || sqlite3_get_autocommit(d->wdb)) {   /* the whole transaction is lost */
            error_set(&msg, TSE_ERR_STORAGE_FAILURE, "flush rolled back: %.200s", t->err.message);
            rollback(d);
            store_fail_flush(list, &msg);
            return -1;
        }
    }
    return 0;
}

/* Applies and commits a list of tickets; sets every ticket's result. All
 * of them are applied in one go first; when one fails, that is rolled back
 * and each is applied in its own savepoint, so that only the failed ones
 * are left out. */
static void flush(store_db *d, store_ticket *list)
{
    if (d->pg) {
        d->flush_gen++;
        store_pg->flush(d, list);
        return;
    }
    tse_error msg = {0};
    for (int careful = 0; careful < 2; careful++) {
        rollback(d);   /* what a failed ROLLBACK or the first try left */
        if (run(d, W_BEGIN, &msg) != 0) {
            store_fail_flush(list, &msg);
            return;
        }
        d->flush_gen++;   /* each try starts from the counters as committed */
        if (careful && apply_each(d, list) != 0)
            return;   /* the whole flush was lost: apply_each failed them all */
        if (!careful && apply_all(d, list) != 0)
            continue;   /* a batch failed: again, each one apart */
        if (run(d, W_COMMIT, &msg) != 0) {
            rollback(d);
            store_fail_flush(list, &msg);
            return;
        }
        store_commit_views(d, list);
        return;
    }
}

void store_commit_views(store_db *d, store_ticket *list)
{
    for (store_ticket *t = list; t; t = t->next)
        if (t->view && t->view->flush_gen == d->flush_gen) {
            assert(t->view->flush_counter >= t->view->last_counter);   /* never goes back */
            t->view->last_counter = t->view->flush_counter;
        }
}

/* ---- leader / follower ---- */

/* Under qmu: marks a flushed list done, counts it, wakes the waiters. */
static void finish_flush(store_db *d, store_ticket *list)
{
    uint64_t n = 0, ok = 0;
    for (store_ticket *t = list, *next; t; t = next) {
        assert(!t->done);
        next = t->next;
        n++;
        ok += t->result == 0;
        t->next = NULL;
        t->done = true;   /* from here on the waiter may free t */
    }
    d->stats.commits += ok;
    d->stats.flushes += ok > 0;
    if (n > d->stats.max_batch)
        d->stats.max_batch = n;
    pthread_cond_broadcast(&d->qcv);
}

/* Under qmu: whether a flush can start now. */
static bool can_lead(const store_db *d)
{
    return !d->writer_busy && d->head && d->head->ready;
}

/* Under qmu, when can_lead(): takes the ready tickets at the head of the
 * queue, flushes them without the lock, and hands the writer back. */
static void lead_one_flush(store_db *d)
{
    assert(!d->writer_busy && d->head && d->head->ready);
    store_ticket *list = d->head, *last = list;
    while (last->next && last->next->ready)
        last = last->next;
    d->head = last->next;
    if (!d->head)
        d->tail = NULL;
    last->next = NULL;
    d->writer_busy = true;
    pthread_mutex_unlock(&d->qmu);
    flush(d, list);
    pthread_mutex_lock(&d->qmu);
    d->writer_busy = false;
    finish_flush(d, list);
}

static int store_wait_db(store_db *d, store_ticket *t, tse_error *err)
{
    pthread_mutex_lock(&d->qmu);
    while (!t->done) {
        if (can_lead(d))
            lead_one_flush(d);
        else   /* a flush runs, or the head waits for its signature */
            pthread_cond_wait(&d->qcv, &d->qmu);
    }
    pthread_mutex_unlock(&d->qmu);
    int ret = t->result;
    if (ret && err)
        *err = t->err;
    free(t->extra_mem);
    free(t);
    return ret;
}

int store_wait(store *s, store_ticket *t, tse_error *err)
{
    if (!s || !t)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_wait: bad argument");
    return store_wait_db(s->d, t, err);
}

int store_commit(store *s, const store_batch *b, tse_error *err)
{
    store_ticket *t = NULL;
    int ret = store_submit(s, b, &t, err);
    return ret ? ret : store_wait(s, t, err);
}

void store_drain(store_db *d)
{
    pthread_mutex_lock(&d->qmu);
    while (d->head || d->writer_busy) {
        if (can_lead(d))
            lead_one_flush(d);
        else
            pthread_cond_wait(&d->qcv, &d->qmu);
    }
    pthread_mutex_unlock(&d->qmu);
}

void store_get_stats(store *s, store_stats *out)
{
    store_db *d = s->d;
    pthread_mutex_lock(&d->qmu);
    *out = d->stats;
    pthread_mutex_unlock(&d->qmu);
}

/* Takes the writer role outside a flush (waits for a running one). */
static void writer_acquire(store_db *d)
{
    pthread_mutex_lock(&d->qmu);
    while (d->writer_busy)
        pthread_cond_wait(&d->qcv, &d->qmu);
    d->writer_busy = true;
    pthread_mutex_unlock(&d->qmu);
}

static void writer_release(store_db *d)
{
    pthread_mutex_lock(&d->qmu);
    d->writer_busy = false;
    pthread_cond_broadcast(&d->qcv);
    pthread_mutex_unlock(&d->qmu);
}

void store_writer_take(store_db *d)
{
    store_drain(d);
    writer_acquire(d);
}

void store_writer_give(store_db *d)
{
    writer_release(d);
}

int store_debug_set_max_pages(store *s, int max_pages)
{
    if (!s || max_pages < 0)
        return TSE_ERR_INVALID_ARGUMENT;
    if (s->d->pg)
        return store_pg->set_max_bytes(s->d, max_pages ? (int64_t)max_pages * 4096 : 0);
    char sql[64];
    /* 0: back to SQLite's default limit */
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%d", max_pages ? max_pages : 1073741823);
    writer_acquire(s->d);
    int rc = sqlite3_exec(s->d->wdb, sql, NULL, NULL, NULL);
    writer_release(s->d);
    return rc == SQLITE_OK ? 0 : TSE_ERR_STORAGE_FAILURE;
}
