/*
 * transactions.c - startTransaction, updateTransaction (signed and unsigned)
 * and finishTransaction, and the list of open transactions by age.
 *
 * The only place that allocates transaction numbers. Unsigned updates keep
 * their data durably with the open transaction; the next signed update of
 * that transaction carries it in front of its own processData when it is
 * of the same clientId and processType, else the kept data is first signed
 * in an update log of its own under those (TR-03151-1 3.7.6.5 step 9). A
 * finish always signs kept data in an update log of its own first (3.7.1.4),
 * so the finish log holds exactly the finish's data, as the receipt shows.
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
    if (!rc)
        rc = engine_require_logger(t);
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
    /* SM_TRA_07: the numbers never wrap; the store keeps them as SQL integers */
    if (!rc && t->tx_counter >= (uint64_t)INT64_MAX)
        rc = engine_fail(TSE_ERR_START_TRANSACTION_FAILED,
                         "the transaction numbers are used up: %llu was the last this TSE can give",
                         (unsigned long long)t->tx_counter);
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
        x.kept_known = true;   /* nothing kept yet */
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

/* The meta record that says whose the kept data of transaction `number`
 * is: the clientId, then (after a NUL) the processType; without the NUL
 * the processType was NULL. Written with the first unsigned update after a
 * signed log, deleted with the log that signs the data. */
static void kept_key(uint64_t number, char key[40])
{
    snprintf(key, 40, "tx.kept.%llu", (unsigned long long)number);
}

/* Kept data given without a processType (NULL: not given, only with the
 * tse_* API) takes the processType of the log that signs it. */
static bool same_type(const engine_tx *x, const char *pt)
{
    return x->kept_no_type || strcmp(x->kept_type, pt ? pt : "") == 0;
}

/* Whose the kept data of x is, read once from the store after a load (the
 * engine's own changes keep it current). A store written before the owner
 * was kept has data without a record: owner unknown (kept_client ""). */
static tse_err kept_load(engine *t, engine_tx *x)
{
    if (x->kept_known)
        return TSE_OK;
    char key[40];
    kept_key(x->number, key);
    uint8_t *v = NULL;
    size_t n = 0;
    tse_err rc = engine_meta_read_now(t, key, &v, &n);
    if (rc == TSE_ERR_NOT_FOUND) {
        x->kept = x->pending_len > 0;
        x->kept_client[0] = x->kept_type[0] = 0;
        x->kept_no_type = false;
        x->kept_known = true;
        return TSE_OK;
    }
    if (rc)
        return rc;
    const uint8_t *nul = memchr(v, 0, n);
    size_t cl = nul ? (size_t)(nul - v) : n, tl = nul ? n - cl - 1 : 0;
    if (!cl || cl > TSE_MAX_CLIENT_ID_LEN || tl > TSE_MAX_PROCESS_TYPE_LEN) {
        free(v);
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "the record %s (whose the kept update data is) is damaged", key);
    }
    memcpy(x->kept_client, v, cl);
    x->kept_client[cl] = 0;
    if (tl)
        memcpy(x->kept_type, nul + 1, tl);
    x->kept_type[tl] = 0;
    x->kept_no_type = !nul;
    x->kept = x->kept_known = true;
    free(v);
    return TSE_OK;
}

/* x once a log made at `when` signed its kept data, and *s as the store
 * keeps it. */
static engine_tx kept_signed(const engine_tx *x, int64_t when, store_tx *s)
{
    engine_tx nx = *x;
    nx.pending = NULL;
    nx.pending_len = 0;
    nx.kept = false;
    nx.last_update = when;
    to_store_tx(&nx, s);
    return nx;
}

/* Kept data of another clientId or processType than this call's
 * (TR-03151-1 3.7.6.5 step 9). Unknown owners are taken for the caller's. */
static bool kept_by_other(const engine_tx *x, const char *client_id, const char *pt)
{
    return x->kept && x->kept_client[0] && (strcmp(x->kept_client, client_id) != 0 || !same_type(x, pt));
}

/* Whether the kept data must be signed in an update log of its own before
 * this call: of another owner (3.7.6.5 step 9), or any at a finish
 * (3.7.1.4: the update phase's unprotected data is protected by an update
 * log; the finish log holds the finish's own data). */
static bool must_secure(const engine_tx *x, enum tx_op op, const char *client_id, const char *pt)
{
    return kept_by_other(x, client_id, pt) || (op == TX_FINISH && x->kept);
}

/* 3.7.6.5 step 9: kept data of another clientId or processType is signed
 * in an update log of its own under those, and committed, before the call
 * handles its own data. *kept: that log (zero when none was needed). The
 * records hook stays for the call's own commit. */
static tse_err secure_kept(engine *t, enum tx_op op, const char *client_id, uint64_t number, const char *pt,
                           tse_result *kept)
{
    memset(kept, 0, sizeof *kept);
    engine_commit *ticket = NULL;
    void *hook_ctx = NULL;
    engine_record_fn hook = engine_take_hook(&hook_ctx);
    pthread_mutex_lock(&t->mu);
    tse_err rc = common_checks(t, client_id);
    engine_tx *x = rc ? NULL : engine_find_tx(t, number);
    if (x)
        rc = kept_load(t, x);
    bool other = !rc && x && must_secure(x, op, client_id, pt);
    int version = 0;
    if (other)
        rc = engine_log_format(t, &version);
    if (other && !rc) {
        logmsg_fields f = {
            .kind = LOGMSG_TRANSACTION,
            .version = version,
            .operation = logmsg_tx_operation(version, log_ops[TX_UPDATE]),
            /* data kept before owners were recorded is the caller's */
            .client_id = x->kept_client[0] ? x->kept_client : client_id,
            .process_data = {x->pending ? x->pending : (const uint8_t *)"", x->pending_len},
            .process_type = !x->kept_client[0] || (x->kept_no_type && !kept_by_other(x, client_id, pt)) ? pt
                            : x->kept_no_type                                           ? NULL
                                                                                        : x->kept_type,
            .transaction_number = number,
            .log_time = engine_now(t),
        };
        store_tx s;
        engine_tx nx = kept_signed(x, f.log_time, &s);
        char key[40];
        kept_key(number, key);
        store_change ch[2] = {{.kind = STORE_PUT_TX, .tx = &s}, {.kind = STORE_DEL_META, .key = key}};
        rc = engine_submit_log(t, &f, ch, 2, kept, &ticket);
        if (!rc) {
            kept->start_time = x->start_time;
            free(x->pending);
            *x = nx;
        }
    }
    pthread_mutex_unlock(&t->mu);
    engine_records_attach(hook, hook_ctx);
    if (!rc)
        rc = engine_finish_commit(t, ticket);
    return rc;
}

/* Update (signed or unsigned) and finish share this path: any registered
 * client may go on with an open transaction (TR-03151-1 3.7.6.5/3.7.7.5
 * steps 6 and 7); each log carries the clientId of its own call. */
static tse_err tx_continue(engine *t, enum tx_op op, const char *client_id, uint64_t number,
                           const uint8_t *pd, size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len,
                           bool sign, tse_result *kept, tse_result *out)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    tse_err rc = check_args(client_id, pd, pd_len, pt, ad, ad_len, out);
    if (rc)
        return rc;
    tse_result kept_own;
    if (!kept)
        kept = &kept_own;
    engine_commit *ticket = NULL;
    uint8_t *joined = NULL;
    char key[40];
    kept_key(number, key);
    bool again = true;
    for (int tries = 0; again && !rc; tries++) {
        tse_result k;
        rc = secure_kept(t, op, client_id, number, pt, tries ? &k : kept);
        if (rc)
            return rc;
        pthread_mutex_lock(&t->mu);
        rc = common_checks(t, client_id);
        engine_tx *x = rc ? NULL : engine_find_tx(t, number);
        if (!rc && !x)
            rc = engine_fail(TSE_ERR_NO_TRANSACTION, "no open transaction %llu", (unsigned long long)number);
        if (!rc)
            rc = kept_load(t, x);
        /* another thread kept data of another owner since: secure it first */
        again = !rc && must_secure(x, op, client_id, pt) && tries < 8;
        if (again) {
            pthread_mutex_unlock(&t->mu);
            continue;
        }
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
                /* the owner of the kept data: recorded with its first update */
                bool owner = !x->kept || !x->kept_client[0];
                uint8_t value[TSE_MAX_CLIENT_ID_LEN + TSE_MAX_PROCESS_TYPE_LEN + 2];
                size_t vl = strlen(client_id);
                memcpy(value, client_id, vl);
                if (pt) {
                    value[vl++] = 0;
                    memcpy(value + vl, pt, strlen(pt));
                    vl += strlen(pt);
                }
                if (owner) {
                    nx.kept = true;
                    snprintf(nx.kept_client, sizeof nx.kept_client, "%s", client_id);
                    snprintf(nx.kept_type, sizeof nx.kept_type, "%s", pt ? pt : "");
                    nx.kept_no_type = !pt;
                }
                store_tx s;
                to_store_tx(&nx, &s);
                store_change ch[2] = {{.kind = STORE_PUT_TX, .tx = &s},
                                      {.kind = STORE_PUT_META, .key = key, .value = value, .value_len = vl}};
                rc = engine_submit_state(t, ch, owner ? 2 : 1, &ticket);
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
                store_tx s;
                engine_tx nx = kept_signed(x, f.log_time, &s);
                store_change ch[2] = {op == TX_FINISH ? (store_change){.kind = STORE_DEL_TX, .tx = &s}
                                                      : (store_change){.kind = STORE_PUT_TX, .tx = &s},
                                      {.kind = STORE_DEL_META, .key = key}};
                /* the record of the kept data's owner goes with the data */
                rc = engine_submit_log(t, &f, ch, x->kept && x->kept_client[0] ? 2 : 1, out, &ticket);
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
    }
    free(joined);
    if (!rc)
        rc = engine_finish_commit(t, ticket);
    if (!rc && (sign || kept->signature_counter))
        rc = expiry_check(t, sign ? out : kept);
    return rc;
}

tse_err engine_update_transaction_logs(engine *t, const char *client_id, uint64_t number, const uint8_t *pd,
                                       size_t pd_len, const char *pt, tse_update_variant variant, tse_result *kept,
                                       tse_result *out)
{
    if (variant != TSE_UPDATE_SIGNED && variant != TSE_UPDATE_UNSIGNED)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "variant must be TSE_UPDATE_SIGNED or TSE_UPDATE_UNSIGNED");
    return tx_continue(t, TX_UPDATE, client_id, number, pd, pd_len, pt, NULL, 0, variant == TSE_UPDATE_SIGNED,
                       kept, out);
}

tse_err engine_update_transaction(engine *t, const char *client_id, uint64_t number, const uint8_t *pd,
                                  size_t pd_len, const char *pt, tse_update_variant variant, tse_result *out)
{
    return engine_update_transaction_logs(t, client_id, number, pd, pd_len, pt, variant, NULL, out);
}

tse_err engine_finish_transaction_logs(engine *t, const char *client_id, uint64_t number, const uint8_t *pd,
                                       size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len,
                                       tse_result *kept, tse_result *out)
{
    return tx_continue(t, TX_FINISH, client_id, number, pd, pd_len, pt, ad, ad_len, true, kept, out);
}

tse_err engine_finish_transaction(engine *t, const char *client_id, uint64_t number, const uint8_t *pd,
                                  size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len, tse_result *out)
{
    return engine_finish_transaction_logs(t, client_id, number, pd, pd_len, pt, ad, ad_len, NULL, out);
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
