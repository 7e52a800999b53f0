/*
 * log.c - the path every log message takes: its fields built and checked,
 * the next signature counter taken under the TSE lock, the log queued in
 * counter order with its signature missing, signed outside the lock, and
 * acknowledged only once the store has it on disk (group commit), waited
 * for in turn (one waiter per database in the store, the others in a lane).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"

static tse_err commit_error(int rc, const tse_error *err)
{
    return engine_fail(rc == TSE_ERR_NO_MEMORY ? rc : TSE_ERR_STORAGE_FAILURE, "%s", err->message);
}

static tse_err recovery_refusal(void)
{
    return engine_fail(TSE_ERR_WRONG_STATE, "opened for recovery: nothing is signed before "
                                            "tse_restore_from_backup succeeded");
}

/* Waiting for the disk in turn. Every waiter in the store wakes at each
 * signature handed in and at each flush; with many callers that herd costs
 * more than the work. So one caller per database at a time waits in the
 * store (and leads its flushes); the others, whose logs are already signed
 * and handed in, queue in a lane, each on its own condition variable. The
 * store commits a database's queue in order, so when the holder's batch is
 * done so is every batch of that database queued before it: those waiters
 * are released at once, and the turn passes to the next one. Batches get
 * their place (seq) as they are queued (submit_in_order). Only a caller
 * with nothing else of its own unsigned in the queue may wait in a lane
 * (the holder may need every earlier batch); databases sharing a lane only
 * wait one after the other. */
typedef struct lane_waiter {
    pthread_cond_t cv;
    const void *db;
    uint64_t seq;
    int state;   /* WAITING, TURN (waits in the store next) or DONE (its batch is) */
    struct lane_waiter *next;
} lane_waiter;

enum { WAITING, TURN, DONE };

typedef struct lane {
    pthread_mutex_t mu, order;
    bool busy;
    uint64_t seq;   /* under order */
    lane_waiter *head, *tail;
} lane;

#define N_LANES 64
static lane lanes[N_LANES];
static pthread_once_t lanes_once = PTHREAD_ONCE_INIT;

static void lanes_init(void)
{
    for (int i = 0; i < N_LANES; i++) {
        pthread_mutex_init(&lanes[i].mu, NULL);
        pthread_mutex_init(&lanes[i].order, NULL);
    }
}

static lane *lane_of(store *st)
{
    pthread_once(&lanes_once, lanes_init);
    uintptr_t p = (uintptr_t)store_db_of(st);
    return &lanes[(p >> 6 ^ p >> 12) % N_LANES];
}

/* store_submit, numbering the batch in the order of its database's queue. */
static int submit_in_order(store *st, const store_batch *b, engine_commit *c, tse_error *err)
{
    lane *l = lane_of(st);
    pthread_mutex_lock(&l->order);
    int rc = store_submit(st, b, &c->ticket, err);
    c->seq = ++l->seq;
    pthread_mutex_unlock(&l->order);
    return rc;
}

/* True when the caller holds the turn, false when its batch is done. */
static bool lane_enter(lane *l, const void *db, uint64_t seq)
{
    pthread_mutex_lock(&l->mu);
    int state = TURN;
    if (l->busy) {
        lane_waiter me = {.db = db, .seq = seq, .state = WAITING};
        pthread_cond_init(&me.cv, NULL);
        if (l->tail)
            l->tail->next = &me;
        else
            l->head = &me;
        l->tail = &me;
        while (me.state == WAITING)
            pthread_cond_wait(&me.cv, &l->mu);
        pthread_cond_destroy(&me.cv);
        state = me.state;
    } else {
        l->busy = true;
    }
    pthread_mutex_unlock(&l->mu);
    return state == TURN;
}

/* The holder's batch `seq` of db is done: releases the waiters of db queued
 * before it, then hands the turn to the next in line (the lane stays busy)
 * or frees the lane. */
static void lane_leave(lane *l, const void *db, uint64_t seq)
{
    pthread_mutex_lock(&l->mu);
    lane_waiter **pp = &l->head, *last = NULL;
    while (*pp) {
        lane_waiter *w = *pp;
        if (w->db == db && w->seq < seq) {
            *pp = w->next;
            w->state = DONE;
            pthread_cond_signal(&w->cv);
        } else {
            last = w;
            pp = &w->next;
        }
    }
    l->tail = last;
    lane_waiter *n = l->head;
    if (n) {
        l->head = n->next;
        if (!l->head)
            l->tail = NULL;
        n->state = TURN;
        pthread_cond_signal(&n->cv);
    } else {
        l->busy = false;
    }
    pthread_mutex_unlock(&l->mu);
}

tse_err engine_submit_log(engine *t, logmsg_fields *f, const store_change *ch, size_t n_ch,
                          tse_result *res, engine_commit **out)
{
    tse_error err = {0};
    ENGINE_ASSERT_LOCKED(t);
    if (t->recovery)
        return recovery_refusal();
    if (!t->key)
        return engine_fail(TSE_ERR_KEY_UNAVAILABLE, "%s", t->key_error.message);
    if (t->stale)
        return engine_resync(t);
    f->serial_number = t->serial;
    f->signature_algorithm_oid = csp_sigalg_oid(t->hash);
    f->signature_counter = t->counter + 1;
    f->time_format = (logmsg_time_format)t->time_format;
    if (!f->log_time)
        f->log_time = engine_now(t);

    der_w w = der_w_init(NULL, 0);
    if (!logmsg_encode_tbs(&w, f))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the log message fields are not encodable");
    size_t tbs_cap = w.len;
    size_t sig_len = 2 * csp_curve_order_len(t->curve);
    size_t msg_cap = tbs_cap + sig_len + 16;
    engine_commit *c = calloc(1, sizeof *c);
    uint8_t *buf = malloc(tbs_cap + msg_cap);
    if (!c || !buf) {
        free(c);
        free(buf);
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for a log of %zu bytes", tbs_cap);
    }
    uint8_t *tbs = buf, *msg = buf + tbs_cap;
    w = der_w_init(tbs, tbs_cap);
    bool encoded = logmsg_encode_tbs(&w, f);
    assert(encoded && w.len == tbs_cap);   /* the same fields as measured above */
    (void)encoded;
    /* The signature is the message's last field: queue the message with
     * zeros there now, in counter order, and sign after mu is released. */
    static const uint8_t zeros[TSE_MAX_SIGNATURE_LEN];
    der_w mw = der_w_init(msg, msg_cap);
    logmsg_encode(&mw, tbs, tbs_cap, zeros, sig_len);
    if (!der_w_ok(&mw)) {
        free(c);
        free(buf);
        return engine_fail(TSE_ERR_INTERNAL, "log message buffer too small");
    }

    store_log log = {
        .counter = f->signature_counter,
        .kind = f->kind,
        .log_time = f->log_time,
        .transaction_number = f->kind == LOGMSG_TRANSACTION ? f->transaction_number : 0,
        .client_id = f->kind == LOGMSG_TRANSACTION ? f->client_id : NULL,
        .operation = f->operation,
        .data = msg,
        .len = mw.len,
    };
    store_batch b = {.log = &log, .changes = ch, .n_changes = n_ch, .log_tail_later = sig_len};
    c->hook = engine_take_hook(&c->hook_ctx);
    int rc = submit_in_order(t->st, &b, c, &err);
    if (rc != 0) {
        free(c);
        free(buf);
        return commit_error(rc, &err);
    }
    /* one counter per log, +1 every time, queued under mu in that order */
    assert(f->signature_counter == t->counter + 1);
    c->tbs = tbs;   /* owns buf */
    c->tbs_len = tbs_cap;
    c->sig_len = sig_len;
    c->res = res;
    *out = c;

    t->counter = f->signature_counter;
    t->last_log_time = f->log_time;
    if (res) {
        memset(res, 0, sizeof *res);
        res->transaction_number = f->kind == LOGMSG_TRANSACTION ? f->transaction_number : 0;
        res->signature_counter = f->signature_counter;
        res->log_time = f->log_time;
        memcpy(res->serial_number, t->serial, TSE_SERIAL_LEN);
    }
    return TSE_OK;
}

tse_err engine_submit_state(engine *t, const store_change *ch, size_t n_ch, engine_commit **out)
{
    tse_error err = {0};
    ENGINE_ASSERT_LOCKED(t);
    if (t->stale)
        return engine_resync(t);
    engine_commit *c = calloc(1, sizeof *c);
    if (!c)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory to queue a change");
    c->hook = engine_take_hook(&c->hook_ctx);
    store_batch b = {.log = NULL, .changes = ch, .n_changes = n_ch, .hold = c->hook != NULL};
    int rc = submit_in_order(t->st, &b, c, &err);
    if (rc) {
        free(c);
        return commit_error(rc, &err);
    }
    *out = c;
    return TSE_OK;
}

/* The records the caller attached to this commit, made from its result:
 * NULL/0 without a hook; false (message in msg) when they cannot be made. */
static bool hook_changes(engine_commit *c, store_change **ch, size_t *n, char *msg, size_t cap)
{
    *ch = NULL;
    *n = 0;
    if (!c->hook)
        return true;
    const engine_record *r = NULL;
    size_t nr = 0;
    tse_err rc = c->hook(c->hook_ctx, c->res, &r, &nr);
    if (rc == TSE_OK)
        rc = engine_records_to_changes(r, nr, ch);
    if (rc != TSE_OK) {
        snprintf(msg, cap, "the records of the operation could not be made (%s)", tse_errname(rc));
        return false;
    }
    *n = nr;
    return true;
}

/* Signs a queued log (outside mu; the key is only read), makes the caller's
 * records from the result and hands both to the store. */
static void complete_queued(engine *t, engine_commit *c)
{
    tse_error err = {0};
    char msg[TSE_ERROR_MSGLEN + 32];
    uint8_t sig[TSE_MAX_SIGNATURE_LEN];
    size_t sig_len = 0;
    int done;   /* store_complete() refuses only a ticket that is not waiting for its signature */
    if (c->tbs && (csp_sign(t->key, t->hash, c->tbs, c->tbs_len, sig, sizeof sig, &sig_len, &err) != 0 ||
                   sig_len != c->sig_len)) {
        snprintf(msg, sizeof msg, "signing failed: %s", err.message);
        done = store_complete(t->st, c->ticket, NULL, 0, NULL, 0, TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED,
                              msg);
        assert(done == 0);
        (void)done;
        return;
    }
    if (c->tbs && c->res) {
        memcpy(c->res->signature, sig, sig_len);
        c->res->signature_len = sig_len;
    }
    store_change *ch = NULL;
    size_t n = 0;
    if (!hook_changes(c, &ch, &n, msg, sizeof msg))
        done = store_complete(t->st, c->ticket, NULL, 0, NULL, 0, TSE_ERR_NO_MEMORY, msg);
    else
        done = store_complete(t->st, c->ticket, sig, c->tbs ? sig_len : 0, ch, n, 0, NULL);
    assert(done == 0);
    (void)done;
    free(ch);
}

static tse_err finish_commit(engine *t, engine_commit *c, bool in_turn)
{
    tse_error err = {0};
    if (!c)
        return TSE_OK;
    if (c->tbs || c->hook)
        complete_queued(t, c);
    lane *l = in_turn ? lane_of(t->st) : NULL;
    const void *db = store_db_of(t->st);
    if (l && !lane_enter(l, db, c->seq))
        l = NULL;   /* done: store_wait returns at once */
    int rc = store_wait(t->st, c->ticket, &err);
    if (l)
        lane_leave(l, db, c->seq);
    free(c->tbs);
    free(c);
    if (rc == 0)
        return TSE_OK;
    /* Nothing of the failed batch is stored; batches with logs queued behind
     * it fail too. Drain the queue and take the true state from the store. */
    pthread_mutex_lock(&t->mu);
    store_batch empty = {0};
    tse_error e2 = {0};
    /* Without the drain the store may still change under a re-read: then,
     * as when the re-read fails, the next write re-reads (t->stale). */
    if (store_commit(t->st, &empty, &e2) != 0)
        t->stale = true;
    else if (engine_reload(t) != TSE_OK)
        assert(t->stale);
    pthread_mutex_unlock(&t->mu);
    if (rc == TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED || rc == TSE_ERR_NO_MEMORY ||
        rc == TSE_ERR_ALREADY_EXISTS || rc == TSE_ERR_STORE_IN_USE)
        return engine_fail(rc, "%s (nothing was stored)", err.message);
    return engine_fail(TSE_ERR_STORAGE_FAILURE, "the log could not be stored (nothing was changed): %s", err.message);
}

tse_err engine_finish_commit(engine *t, engine_commit *c)
{
    return finish_commit(t, c, true);
}

tse_err engine_finish_after_timeout(engine *t, engine_commit *timeout, tse_err rc, engine_commit *ticket)
{
    /* not in a lane: ticket, queued after timeout, is not signed yet */
    tse_err timeout_rc = finish_commit(t, timeout, false);
    tse_err own = engine_finish_commit(t, ticket);
    if (rc != TSE_OK)
        return timeout_rc != TSE_OK ? timeout_rc : rc;
    return own;
}

void engine_put_time(engine *t, der_w *w, uint8_t tag, int64_t when)
{
    char text[20];
    if (t->time_format == TSE_TIME_UNIX) {
        der_put_int(w, tag, when);
        return;
    }
    if (!logmsg_time_to_text((logmsg_time_format)t->time_format, when, text, sizeof text))
        text[0] = 0;
    der_put_tlv(w, tag, text, strlen(text));
}

tse_err engine_system_log(engine *t, const char *operation, const uint8_t *data, size_t len,
                          const store_change *ch, size_t n_ch, engine_commit **ticket)
{
    logmsg_fields f = {
        .kind = LOGMSG_SYSTEM,
        .operation = operation,
        .system_operation_data = {data, len},
    };
    return engine_submit_log(t, &f, ch, n_ch, NULL, ticket);
}

tse_err engine_require_signing(engine *t)
{
    ENGINE_ASSERT_LOCKED(t);
    tse_err reread = engine_catch_up(t);
    if (reread != TSE_OK)
        return reread;
    if (t->recovery)
        return recovery_refusal();
    if (t->state == TSE_STATE_DISABLED)
        return engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE was disabled");
    if (t->state != TSE_STATE_INITIALIZED)
        return engine_fail(TSE_ERR_SE_API_NOT_INITIALIZED, "the TSE is not initialized");
    if (!t->key)
        return engine_fail(TSE_ERR_KEY_UNAVAILABLE, "%s", t->key_error.message);
    if (!t->self_test_ok)
        return engine_fail(TSE_ERR_SELF_TEST_FAILED, "%s", t->self_test_error);
    return TSE_OK;
}
