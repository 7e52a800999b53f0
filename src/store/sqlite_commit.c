/*
 * sqlite_commit.c - group commit for the SQLite store.
 *
 * store_submit() copies a batch into a ticket and appends it to a FIFO queue.
 * store_wait() sleeps until its ticket is done; when no flush is running the
 * waiter becomes the leader: it takes every queued ticket, applies them in
 * order in one BEGIN IMMEDIATE ... COMMIT (each batch inside its own
 * SAVEPOINT so a refused batch is dropped alone), and wakes everyone. COMMIT
 * under synchronous=FULL fsyncs the WAL, so nobody returns before their batch
 * is on disk. A batch whose log still lacks its signature (submitted in
 * counter order, signed afterwards outside the caller's lock) is not ready:
 * a flush takes only the ready tickets at the head of the queue, so order is
 * kept and signing runs in parallel.
 *
 * Counter rule: a batch's log counter must be the last committed counter (or
 * the last one applied earlier in the same flush) + 1. If the flush cannot be
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
    [W_LOG] = "INSERT INTO logs(counter, kind, log_time, tx_number, client_id, operation, data)"
              " VALUES (?, ?, ?, ?, ?, ?, ?)",
    [W_PUT_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
    [W_DEL_META] = "DELETE FROM meta WHERE key = ?",
    [W_PUT_CLIENT] = "INSERT OR REPLACE INTO clients(client_id, registered) VALUES (?, ?)",
    [W_DEL_CLIENT] = "DELETE FROM clients WHERE client_id = ?",
    [W_PUT_TX] = "INSERT OR REPLACE INTO open_tx(number, client_id, start_counter, start_time,"
                 " last_update, pending) VALUES (?, ?, ?, ?, ?, ?)",
    [W_DEL_TX] = "DELETE FROM open_tx WHERE number = ?",
};

int store_writer_prepare(store *s, tse_error *err)
{
    for (int i = 0; i < W_COUNT; i++)
        if (sqlite3_prepare_v3(s->wdb, wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->w[i], NULL) !=
            SQLITE_OK)
            return store_sqlfail(err, s->wdb, wsql[i]);
    return 0;
}

void store_writer_finalize(store *s)
{
    for (int i = 0; i < W_COUNT; i++) {
        sqlite3_finalize(s->w[i]);
        s->w[i] = NULL;
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
    c.value = src->value_len ? arena_dup(a, src->value, src->value_len, 1) : NULL;
    c.tx = src->tx ? copy_tx(a, src->tx) : NULL;
    return c;
}

static store_batch copy_batch(arena *a, const store_batch *src)
{
    store_batch b = {.n_changes = src->n_changes, .log_tail_later = src->log_tail_later};
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

int store_submit(store *s, const store_batch *b, store_ticket **t, tse_error *err)
{
    if (t)
        *t = NULL;
    if (!s || !b || !t)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_submit: bad argument");
    int ret = check_batch(b, err);
    if (ret)
        return ret;
    store_ticket *nt = ticket_new(b);
    if (!nt)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory queueing a batch");
    nt->ready = b->log_tail_later == 0;
    pthread_mutex_lock(&s->qmu);
    if (s->tail)
        s->tail->next = nt;
    else
        s->head = nt;
    s->tail = nt;
    pthread_mutex_unlock(&s->qmu);
    *t = nt;
    return 0;
}

int store_complete(store *s, store_ticket *t, const uint8_t *tail, size_t len, int fail_code,
                   const char *failure)
{
    if (!s || !t || t->ready || (!failure && (!tail || len != t->batch.log_tail_later)))
        return error_set(NULL, TSE_ERR_INVALID_ARGUMENT, "store_complete: bad argument");
    if (failure) {
        t->preset = fail_code ? fail_code : TSE_ERR_STORAGE_FAILURE;
        error_set(&t->err, t->preset, "%s", failure);
    } else {
        /* the log's bytes live in the ticket's own arena */
        uint8_t *data = (uint8_t *)t->batch.log->data;
        memcpy(data + t->batch.log->len - len, tail, len);
    }
    pthread_mutex_lock(&s->qmu);
    t->ready = true;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    return 0;
}

/* ---- applying a batch (writer role) ---- */

/* Steps a fully bound statement once and resets it. */
static int run(store *s, int which, tse_error *err)
{
    sqlite3_stmt *st = s->w[which];
    int rc = sqlite3_step(st);
    int ret = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : store_sqlfail(err, s->wdb, wsql[which]);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

static int bind_blob(sqlite3_stmt *st, int i, const void *p, size_t len)
{
    return len ? sqlite3_bind_blob64(st, i, p, len, SQLITE_STATIC) : sqlite3_bind_zeroblob(st, i, 0);
}

static int bind_fail(store *s, int which, tse_error *err)
{
    int ret = store_sqlfail(err, s->wdb, wsql[which]);
    sqlite3_clear_bindings(s->w[which]);
    return ret;
}

static int apply_log(store *s, const store_log *l, tse_error *err)
{
    sqlite3_stmt *st = s->w[W_LOG];
    if (sqlite3_bind_int64(st, 1, (int64_t)l->counter) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, l->kind) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, l->log_time) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, (int64_t)l->transaction_number) != SQLITE_OK ||
        sqlite3_bind_text(st, 5, l->client_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 6, l->operation, -1, SQLITE_STATIC) != SQLITE_OK ||
        bind_blob(st, 7, l->data, l->len) != SQLITE_OK)
        return bind_fail(s, W_LOG, err);
    return run(s, W_LOG, err);
}

static int apply_meta(store *s, const store_change *c, tse_error *err)
{
    int which = c->kind == STORE_PUT_META ? W_PUT_META : W_DEL_META;
    sqlite3_stmt *st = s->w[which];
    if (sqlite3_bind_text(st, 1, c->key, -1, SQLITE_STATIC) != SQLITE_OK ||
        (which == W_PUT_META && bind_blob(st, 2, c->value, c->value_len) != SQLITE_OK))
        return bind_fail(s, which, err);
    return run(s, which, err);
}

static int apply_client(store *s, const store_change *c, tse_error *err)
{
    int which = c->kind == STORE_PUT_CLIENT ? W_PUT_CLIENT : W_DEL_CLIENT;
    sqlite3_stmt *st = s->w[which];
    if (sqlite3_bind_text(st, 1, c->key, -1, SQLITE_STATIC) != SQLITE_OK ||
        (which == W_PUT_CLIENT && sqlite3_bind_int64(st, 2, c->time) != SQLITE_OK))
        return bind_fail(s, which, err);
    return run(s, which, err);
}

static int apply_put_tx(store *s, const store_tx *tx, tse_error *err)
{
    sqlite3_stmt *st = s->w[W_PUT_TX];
    size_t id_len = strnlen(tx->client_id, sizeof tx->client_id);
    if (sqlite3_bind_int64(st, 1, (int64_t)tx->number) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, tx->client_id, (int)id_len, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, (int64_t)tx->start_counter) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, tx->start_time) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, tx->last_update) != SQLITE_OK ||
        bind_blob(st, 6, tx->pending, tx->pending_len) != SQLITE_OK)
        return bind_fail(s, W_PUT_TX, err);
    return run(s, W_PUT_TX, err);
}

static int apply_del_tx(store *s, const store_tx *tx, tse_error *err)
{
    if (sqlite3_bind_int64(s->w[W_DEL_TX], 1, (int64_t)tx->number) != SQLITE_OK)
        return bind_fail(s, W_DEL_TX, err);
    return run(s, W_DEL_TX, err);
}

/* ---- deleteStoredData: the controlled way around the append-only log
 * table, applied inside a flush together with the log that records it. The
 * delete trigger is dropped and created again inside the same transaction,
 * so outside it no log can ever be deleted and a failed flush leaves the
 * trigger in place. ---- */

/* Runs a statement with one integer parameter to its end. */
static int exec_int(sqlite3 *db, const char *sql, int64_t v, tse_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, sql);
    int ret = 0;
    if (sqlite3_bind_int64(st, 1, v) != SQLITE_OK)
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

static int apply_delete_logs(store *s, uint64_t through, tse_error *err)
{
    int64_t n = (int64_t)through;
    /* remember what is deleted first: the highest counter and transaction number */
    int ret = exec_int(s->wdb,
                       "INSERT OR REPLACE INTO meta(key, value) SELECT '" STORE_META_DELETED_TX "',"
                       " MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = '" STORE_META_DELETED_TX
                       "'), 0), COALESCE((SELECT MAX(tx_number) FROM logs WHERE counter <= ?1), 0))",
                       n, err);
    if (!ret)
        ret = exec_int(s->wdb,
                       "INSERT OR REPLACE INTO meta(key, value) SELECT '" STORE_META_DELETED_THROUGH "',"
                       " MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = '"
                       STORE_META_DELETED_THROUGH "'), 0), ?1)",
                       n, err);
    if (!ret)
        ret = store_exec(s->wdb, "DROP TRIGGER logs_no_delete", NULL, err);
    if (!ret)
        ret = exec_int(s->wdb, "DELETE FROM logs WHERE counter <= ?1", n, err);
    if (!ret)
        ret = store_exec(s->wdb,
                         "CREATE TRIGGER logs_no_delete BEFORE DELETE ON logs"
                         "  BEGIN SELECT RAISE(ABORT, 'logs are append-only: delete refused'); END",
                         NULL, err);
    return ret;
}

static int apply_change(store *s, const store_change *c, tse_error *err)
{
    switch (c->kind) {
    case STORE_PUT_META:
    case STORE_DEL_META:
        return apply_meta(s, c, err);
    case STORE_PUT_CLIENT:
    case STORE_DEL_CLIENT:
        return apply_client(s, c, err);
    case STORE_PUT_TX:
        return apply_put_tx(s, c->tx, err);
    case STORE_DEL_TX:
        return apply_del_tx(s, c->tx, err);
    case STORE_DELETE_LOGS:
        return apply_delete_logs(s, c->counter, err);
    }
    return error_set(err, TSE_ERR_INTERNAL, "unknown store change %d", (int)c->kind);
}

static int apply_batch(store *s, const store_batch *b, tse_error *err)
{
    int ret = b->log ? apply_log(s, b->log, err) : 0;
    for (size_t i = 0; !ret && i < b->n_changes; i++)
        ret = apply_change(s, &b->changes[i], err);
    return ret;
}

/* Applies one ticket inside its own savepoint; *counter follows the logs
 * applied so far in this flush. A failure leaves nothing of the batch.
 * Returns -1 when the batch could not be kept apart (its savepoint neither
 * rolled back nor released): then the whole flush must fail. */
static int apply_ticket(store *s, store_ticket *t, uint64_t *counter)
{
    const store_log *l = t->batch.log;
    if (t->preset) {
        t->result = t->preset;
        return 0;
    }
    if (l && l->counter != *counter + 1) {
        t->result = error_set(&t->err, TSE_ERR_INVALID_ARGUMENT,
                               "log counter %llu refused: the next counter is %llu",
                               (unsigned long long)l->counter, (unsigned long long)*counter + 1);
        return 0;
    }
    t->result = run(s, W_SAVEPOINT, &t->err);
    if (t->result)
        return 0;
    t->result = apply_batch(s, &t->batch, &t->err);
    if (sqlite3_get_autocommit(s->wdb))
        return 0;   /* SQLite dropped the whole transaction; flush() fails it all */
    if (t->result) {
        if (run(s, W_ROLLBACK_TO, NULL) != 0)
            return -1;
        (void)run(s, W_RELEASE, NULL);   /* an empty savepoint: left open it changes nothing */
        return 0;
    }
    t->result = run(s, W_RELEASE, &t->err);
    if (t->result)
        return -1;
    if (l) {
        assert(l->counter == *counter + 1);   /* one counter after the other, no gap */
        *counter = l->counter;
    }
    return 0;
}

/* The whole flush is lost: every batch fails with the flush's message. */
static void fail_flush(store_ticket *list, const tse_error *msg)
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
static void rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->wdb))
        (void)run(s, W_ROLLBACK, NULL);
}

/* Applies and commits a list of tickets; sets every ticket's result. */
static void flush(store *s, store_ticket *list)
{
    tse_error msg = {0};
    rollback(s);   /* what a failed ROLLBACK left */
    if (run(s, W_BEGIN, &msg) != 0) {
        fail_flush(list, &msg);
        return;
    }
    uint64_t counter = s->last_counter;
    for (store_ticket *t = list; t; t = t->next) {
        assert(t->ready && !t->done);
        int apart = apply_ticket(s, t, &counter);
        if (apart != 0 || sqlite3_get_autocommit(s->wdb)) {   /* the whole transaction is lost */
            error_set(&msg, TSE_ERR_STORAGE_FAILURE, "flush rolled back: %.200s", t->err.message);
            rollback(s);
            fail_flush(list, &msg);
            return;
        }
    }
    if (run(s, W_COMMIT, &msg) != 0) {
        rollback(s);
        fail_flush(list, &msg);
        return;
    }
    assert(counter >= s->last_counter);   /* the committed counter never goes back */
    s->last_counter = counter;
}

/* ---- leader / follower ---- */

/* Under qmu: marks a flushed list done, counts it, wakes the waiters. */
static void finish_flush(store *s, store_ticket *list)
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
    s->stats.commits += ok;
    s->stats.flushes += ok > 0;
    if (n > s->stats.max_batch)
        s->stats.max_batch = n;
    pthread_cond_broadcast(&s->qcv);
}

/* Under qmu: whether a flush can start now. */
static bool can_lead(const store *s)
{
    return !s->writer_busy && s->head && s->head->ready;
}

/* Under qmu, when can_lead(): takes the ready tickets at the head of the
 * queue, flushes them without the lock, and hands the writer back. */
static void lead_one_flush(store *s)
{
    assert(!s->writer_busy && s->head && s->head->ready);
    store_ticket *list = s->head, *last = list;
    while (last->next && last->next->ready)
        last = last->next;
    s->head = last->next;
    if (!s->head)
        s->tail = NULL;
    last->next = NULL;
    s->writer_busy = true;
    pthread_mutex_unlock(&s->qmu);
    flush(s, list);
    pthread_mutex_lock(&s->qmu);
    s->writer_busy = false;
    finish_flush(s, list);
}

int store_wait(store *s, store_ticket *t, tse_error *err)
{
    if (!s || !t)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_wait: bad argument");
    pthread_mutex_lock(&s->qmu);
    while (!t->done) {
        if (can_lead(s))
            lead_one_flush(s);
        else   /* a flush runs, or the head waits for its signature */
            pthread_cond_wait(&s->qcv, &s->qmu);
    }
    pthread_mutex_unlock(&s->qmu);
    int ret = t->result;
    if (ret && err)
        *err = t->err;
    free(t);
    return ret;
}

int store_commit(store *s, const store_batch *b, tse_error *err)
{
    store_ticket *t = NULL;
    int ret = store_submit(s, b, &t, err);
    return ret ? ret : store_wait(s, t, err);
}

void store_drain(store *s)
{
    pthread_mutex_lock(&s->qmu);
    while (s->head || s->writer_busy) {
        if (can_lead(s))
            lead_one_flush(s);
        else
            pthread_cond_wait(&s->qcv, &s->qmu);
    }
    pthread_mutex_unlock(&s->qmu);
}

void store_get_stats(store *s, store_stats *out)
{
    pthread_mutex_lock(&s->qmu);
    *out = s->stats;
    pthread_mutex_unlock(&s->qmu);
}

/* Takes the writer role outside a flush (waits for a running one). */
static void writer_acquire(store *s)
{
    pthread_mutex_lock(&s->qmu);
    while (s->writer_busy)
        pthread_cond_wait(&s->qcv, &s->qmu);
    s->writer_busy = true;
    pthread_mutex_unlock(&s->qmu);
}

static void writer_release(store *s)
{
    pthread_mutex_lock(&s->qmu);
    s->writer_busy = false;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
}

void store_writer_take(store *s)
{
    store_drain(s);
    writer_acquire(s);
}

void store_writer_give(store *s)
{
    writer_release(s);
}

int store_debug_set_max_pages(store *s, int max_pages)
{
    if (!s || max_pages < 0)
        return TSE_ERR_INVALID_ARGUMENT;
    char sql[64];
    /* 0: back to SQLite's default limit */
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%d", max_pages ? max_pages : 1073741823);
    writer_acquire(s);
    int rc = sqlite3_exec(s->wdb, sql, NULL, NULL, NULL);
    writer_release(s);
    return rc == SQLITE_OK ? 0 : TSE_ERR_STORAGE_FAILURE;
}
