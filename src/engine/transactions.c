/*
 * transactions.c - startTransaction, updateTransaction (signed and unsigned)
 * and finishTransaction, and the list of open transactions by age.
 *
 * The only place that allocates transaction numbers. Unsigned updates keep
 * their data durably with the open transaction; the next signed log of that
 * transaction carries it in front of its own processData.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum tx_op { TX_START, TX_UPDATE, TX_FINISH };

static const logmsg_tx_op log_ops[] = {LOGMSG_TX_START, LOGMSG_TX_UPDATE, LOGMSG_TX_FINISH};

static tse_err check_args(const char *client_id, const uint8_t *pd, size_t pd_len, const char *pt,
                          const uint8_t *ad, size_t ad_len, tse_result *out)
{
    if (!client_id || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "client_id and out are required");
    if ((!pd && pd_len) || (!ad && ad_len))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "data pointer is NULL but its length is not 0");
    if (pd_len > TSE_MAX_PROCESS_DATA_LEN || ad_len > TSE_MAX_PROCESS_DATA_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "processData and additionalData are limited to %u bytes per call",
                           TSE_MAX_PROCESS_DATA_LEN);
    if (strnlen(client_id, TSE_MAX_CLIENT_ID_LEN + 1) > TSE_MAX_CLIENT_ID_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "client_id longer than %d characters", TSE_MAX_CLIENT_ID_LEN);
    if (!engine_valid_text(client_id, TSE_MAX_CLIENT_ID_LEN, false))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "client_id must be 1..%d PrintableString characters",
                           TSE_MAX_CLIENT_ID_LEN);
    if (pt && strnlen(pt, TSE_MAX_PROCESS_TYPE_LEN + 1) > TSE_MAX_PROCESS_TYPE_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "processType longer than %d characters", TSE_MAX_PROCESS_TYPE_LEN);
    if (pt && !engine_valid_text(pt, TSE_MAX_PROCESS_TYPE_LEN, true))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "processType must be PrintableString characters");
    return TSE_OK;
}

/* Room for one more open transaction, made before its start is queued:
 * once a log is queued, nothing about it may fail under mu. */
static tse_err reserve_tx(engine *t)
{
    if (t->n_txs == t->cap_txs) {
        size_t cap = t->cap_txs ? t->cap_txs * 2 : 64;
        engine_tx *n = realloc(t->txs, cap * sizeof *n);
        if (!n)
            return engine_fail(TSE_ERR_NO_MEMORY, "no memory for an open transaction");
        t->txs = n;
        t->cap_txs = cap;
    }
    return TSE_OK;
}

static void insert_tx(engine *t, const engine_tx *x)
{
    assert(t->n_txs < t->cap_txs);
    /* numbers only grow: stays sorted */
    assert(!t->n_txs || t->txs[t->n_txs - 1].number < x->number);
    t->txs[t->n_txs++] = *x;
}

static void remove_tx(engine *t, engine_tx *x)
{
    size_t i = (size_t)(x - t->txs);
    free(x->pending);
    memmove(&t->txs[i], &t->txs[i + 1], (t->n_txs - i - 1) * sizeof *x);
    t->n_txs--;
}

static void to_store_tx(const engine_tx *x, store_tx *s)
{
    memset(s, 0, sizeof *s);
    s->number = x->number;
    snprintf(s->client_id, sizeof s->client_id, "%s", x->client_id);
    s->start_counter = x->start_counter;
    s->start_time = x->start_time;
    s->last_update = x->last_update;
    s->pending = x->pending;
    s->pending_len = x->pending_len;
}

/* processData of a signed log: pending unsigned-update data, then this call's. */
static uint8_t *join_pending(const engine_tx *x, const uint8_t *pd, size_t pd_len, size_t *len)
{
    *len = x->pending_len + pd_len;
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf)
        return NULL;
    if (x->pending_len)
        memcpy(buf, x->pending, x->pending_len);
    if (pd_len)
        memcpy(buf + x->pending_len, pd, pd_len);
    return buf;
}

static tse_err expiry_check(engine *t, const tse_result *r)
{
    if (t->cert_not_after && r->log_time > t->cert_not_after)
        return engine_fail(TSE_ERR_CERTIFICATE_EXPIRED,
                           "the certificate expired at %lld; the log (counter %llu) was stored",
                           (long long)t->cert_not_after, (unsigned long long)r->signature_counter);
    return TSE_OK;
}

static tse_err common_checks(engine *t, const char *client_id)
{
    tse_err rc = engine_require_signing(t);
    if (rc)
        return rc;
    if (!engine_has_client(t, client_id))
        return engine_fail(TSE_ERR_CLIENT_NOT_REGISTERED, "client \"%s\" is not registered", client_id);
    if (!t->time_set)
        return engine_fail(TSE_ERR_TIME_NOT_SET, "set the time with tse_update_time first");
    if (t->tx_logging_locked)
        return engine_fail(TSE_ERR_TRANSACTION_LOGGING_LOCKED,
                           "transaction logging is locked (lockTransactionLogging); the admin unlocks it");
    return TSE_OK;
}

tse_err engine_start_transaction(engine *t, const char *client_id, const uint8_t *pd, size_t pd_len,
                              const char *pt, const uint8_t *ad, size_t ad_len, tse_result *out)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    tse_err rc = check_args(client_id, pd, pd_len, pt, ad, ad_len, out);
    if (rc)
        return rc;
    engine_commit *ticket = NULL;
    pthread_mutex_lock(&t->mu);
    rc = common_checks(t, client_id);
    if (!rc && t->n_txs >= t->max_open_tx)
        rc = engine_fail(TSE_ERR_TOO_MANY_TRANSACTIONS, "%u transactions are open, the maximum; finish some first",
                         t->max_open_tx);
    if (!rc)
        rc = reserve_tx(t);
    int version = 0;
    if (!rc)
        rc = engine_log_format(t, &version);
    if (!rc) {
        engine_tx x = {.number = t->tx_counter + 1};
        snprintf(x.client_id, sizeof x.client_id, "%s", client_id);
        logmsg_fields f = {
            .kind = LOGMSG_TRANSACTION,
            .version = version,
            .operation = logmsg_tx_operation(version, log_ops[TX_START]),
            .client_id = client_id,
            .process_data = {pd ? pd : (const uint8_t *)"", pd_len},
            .process_type = pt,
            .additional_external_data = {ad, ad_len},
            .transaction_number = x.number,
            .log_time = engine_now(t),
        };
        x.start_counter = t->counter + 1;
        x.start_time = x.last_update = f.log_time;
        store_tx s;
        to_store_tx(&x, &s);
        store_change ch = {.kind = STORE_PUT_TX, .tx = &s};
        rc = engine_submit_log(t, &f, &ch, 1, out, &ticket);
        if (!rc) {
            assert(out->signature_counter == x.start_counter);
            t->tx_counter = x.number;
            insert_tx(t, &x);
            out->start_time = x.start_time;
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (!rc)
        rc = engine_finish_commit(t, ticket);
    if (!rc)
        rc = expiry_check(t, out);
    return rc;
}

/* Update (signed or unsigned) and finish share this path. */
static tse_err tx_continue(engine *t, enum tx_op op, const char *client_id, uint64_t number,
                           const uint8_t *pd, size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len,
                           bool sign, tse_result *out)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    tse_err rc = check_args(client_id, pd, pd_len, pt, ad, ad_len, out);
    if (rc)
        return rc;
    engine_commit *ticket = NULL;
    uint8_t *joined = NULL;
    pthread_mutex_lock(&t->mu);
    rc = common_checks(t, client_id);
    engine_tx *x = rc ? NULL : engine_find_tx(t, number);
    if (!rc && (!x || strcmp(x->client_id, client_id) != 0))
        rc = engine_fail(TSE_ERR_NO_TRANSACTION, "no open transaction %llu for client \"%s\"",
                         (unsigned long long)number, client_id);
    int version = 0;
    if (!rc && sign)
        rc = engine_log_format(t, &version);
    if (!rc && !sign) {
        if (x->pending_len + pd_len > TSE_MAX_PROCESS_DATA_LEN)
            rc = engine_fail(TSE_ERR_TOO_LARGE, "unsigned updates of one transaction are limited to %u bytes",
                             TSE_MAX_PROCESS_DATA_LEN);
        size_t len = 0;
        if (!rc && !(joined = join_pending(x, pd, pd_len, &len)))
            rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
        if (!rc) {
            engine_tx nx = *x;
            nx.pending = joined;
            nx.pending_len = len;
            nx.last_update = engine_now(t);
            store_tx s;
            to_store_tx(&nx, &s);
            store_change ch = {.kind = STORE_PUT_TX, .tx = &s};
            rc = engine_submit_state(t, &ch, 1, &ticket);
            if (!rc) {
                free(x->pending);
                *x = nx;
                joined = NULL;
                memset(out, 0, sizeof *out);
                out->transaction_number = number;
                out->log_time = nx.last_update;
                out->start_time = nx.start_time;
                memcpy(out->serial_number, t->serial, TSE_SERIAL_LEN);
                ticket->res = out;   /* for the caller's records (no signature) */
            }
        }
    } else if (!rc) {
        size_t len = 0;
        if (!(joined = join_pending(x, pd, pd_len, &len)))
            rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
        if (!rc && len > TSE_MAX_PROCESS_DATA_LEN * 2u)
            rc = engine_fail(TSE_ERR_TOO_LARGE, "processData too large");
        if (!rc) {
            logmsg_fields f = {
                .kind = LOGMSG_TRANSACTION,
                .version = version,
                .operation = logmsg_tx_operation(version, log_ops[op]),
                .client_id = client_id,
                .process_data = {joined, len},
                .process_type = pt,
                .additional_external_data = {ad, ad_len},
                .transaction_number = number,
                .log_time = engine_now(t),
            };
            engine_tx nx = *x;
            nx.pending = NULL;
            nx.pending_len = 0;
            nx.last_update = f.log_time;
            store_tx s;
            to_store_tx(&nx, &s);
            store_change ch = op == TX_FINISH ? (store_change){.kind = STORE_DEL_TX, .tx = &s}
                                              : (store_change){.kind = STORE_PUT_TX, .tx = &s};
            rc = engine_submit_log(t, &f, &ch, 1, out, &ticket);
            if (!rc) {
                out->start_time = x->start_time;
                if (op == TX_FINISH) {
                    remove_tx(t, x);
                } else {
                    free(x->pending);
                    *x = nx;
                }
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    free(joined);
    if (!rc)
        rc = engine_finish_commit(t, ticket);
    if (!rc && sign)
        rc = expiry_check(t, out);
    return rc;
}

tse_err engine_update_transaction(engine *t, const char *client_id, uint64_t number, const uint8_t *pd,
                               size_t pd_len, const char *pt, tse_update_variant variant, tse_result *out)
{
    if (variant != TSE_UPDATE_SIGNED && variant != TSE_UPDATE_UNSIGNED)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "variant must be TSE_UPDATE_SIGNED or TSE_UPDATE_UNSIGNED");
    return tx_continue(t, TX_UPDATE, client_id, number, pd, pd_len, pt, NULL, 0, variant == TSE_UPDATE_SIGNED,
                       out);
}

tse_err engine_finish_transaction(engine *t, const char *client_id, uint64_t number, const uint8_t *pd,
                               size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len, tse_result *out)
{
    return tx_continue(t, TX_FINISH, client_id, number, pd, pd_len, pt, ad, ad_len, true, out);
}

static int cmp_age(const void *a, const void *b)
{
    const tse_open_transaction *x = a, *y = b;
    if (x->last_update != y->last_update)
        return x->last_update < y->last_update ? -1 : 1;
    return x->transaction_number < y->transaction_number ? -1 : 1;
}

tse_err engine_list_open_transactions(engine *t, tse_open_transaction **out, size_t *count)
{
    if (!t || !out || !count)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, out and count are required");
    pthread_mutex_lock(&t->mu);
    tse_err current = engine_catch_up(t);
    if (current != TSE_OK) {
        pthread_mutex_unlock(&t->mu);
        return current;
    }
    size_t n = t->n_txs;
    tse_open_transaction *list = calloc(n ? n : 1, sizeof *list);
    int64_t now = engine_now(t);
    for (size_t i = 0; list && i < n; i++) {
        const engine_tx *x = &t->txs[i];
        tse_open_transaction *o = &list[i];
        o->transaction_number = x->number;
        snprintf(o->client_id, sizeof o->client_id, "%s", x->client_id);
        o->start_time = x->start_time;
        o->last_update = x->last_update;
        o->age_seconds = now - x->last_update;
        o->overdue = o->age_seconds > TSE_MAX_UPDATE_DELAY_SECONDS;
    }
    pthread_mutex_unlock(&t->mu);
    if (!list)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    qsort(list, n, sizeof *list, cmp_age);
    *out = list;
    *count = n;
    return TSE_OK;
}
