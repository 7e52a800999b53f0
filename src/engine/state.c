/*
 * state.c - the TSE's state as the store holds it: its meta records read,
 * the clients and open transactions loaded into the handle, reloaded after
 * a failed commit; and the TSE's time.
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

/* ------------------------------------------------------------ time */

/* time(), not clock_gettime(CLOCK_REALTIME): glibc's time() reads the
 * kernel's coarse clock, up to a tick behind the precise one, so a caller
 * reading time() around a call could otherwise see the TSE a second ahead
 * of it at a second's turn. */
int64_t engine_host_time(void)
{
    return (int64_t)time(NULL);
}

int64_t engine_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t engine_now(engine *t)
{
    int64_t now;
    if (t->time_set && !t->trust_clock)
        now = t->time_base + (engine_mono_ns() - t->mono_base) / 1000000000; /* whole seconds gone since */
    else if (t->time_set)
        now = engine_host_time() + t->time_base; /* time_base is an offset here */
    else
        now = engine_host_time();
    return now < t->last_log_time ? t->last_log_time : now;
}

/* ------------------------------------------------------------ helpers */

bool engine_valid_text(const char *s, size_t max, bool allow_empty)
{
    if (!s)
        return false;
    size_t n = strnlen(s, max + 1);
    if (n > max || (!allow_empty && n == 0))
        return false;
    return logmsg_printable(s, n);
}

void engine_meta_int(store_change *c, const char *key, int64_t v, char buf[24])
{
    snprintf(buf, 24, "%lld", (long long)v);
    *c = (store_change){.kind = STORE_PUT_META, .key = key, .value = buf, .value_len = strlen(buf)};
}

tse_err engine_meta_read(engine *t, const char *key, uint8_t **val, size_t *len)
{
    tse_error err = {0};
    int rc = store_get_meta(t->st, key, val, len, &err);
    if (rc != 0 && rc != TSE_ERR_NOT_FOUND) {
        rc = engine_fail(rc == TSE_ERR_NO_MEMORY ? rc : TSE_ERR_STORAGE_FAILURE, "reading %s: %s", key, err.message);
        if (!t->load_rc)
            t->load_rc = rc;   /* meta_int and meta_text fall back to defaults: the loaders check this */
    }
    return rc;
}

tse_err engine_meta_read_now(engine *t, const char *key, uint8_t **val, size_t *len)
{
    tse_err saved = t->load_rc;   /* not a load: leave the loaders' record alone */
    tse_err rc = engine_meta_read(t, key, val, len);
    t->load_rc = saved;
    return rc;
}

int64_t engine_meta_read_int(engine *t, const char *key, int64_t dflt)
{
    uint8_t *v = NULL;
    size_t n = 0;
    if (engine_meta_read(t, key, &v, &n) != 0)
        return dflt;
    char buf[32];
    size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;
    memcpy(buf, v, k);
    buf[k] = 0;
    free(v);
    return strtoll(buf, NULL, 10);
}

void engine_meta_read_text(engine *t, const char *key, char *out, size_t cap)
{
    uint8_t *v = NULL;
    size_t n = 0;
    out[0] = 0;
    if (engine_meta_read(t, key, &v, &n) != 0)
        return;
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, v, k);
    out[k] = 0;
    free(v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool engine_has_client(engine *t, const char *id)
{
    ENGINE_ASSERT_LOCKED(t);
    return t->n_clients && bsearch(&id, t->clients, t->n_clients, sizeof(char *), cmp_str);
}

static int cmp_tx(const void *a, const void *b)
{
    uint64_t x = ((const engine_tx *)a)->number, y = ((const engine_tx *)b)->number;
    return x < y ? -1 : x > y;
}

engine_tx *engine_find_tx(engine *t, uint64_t number)
{
    ENGINE_ASSERT_LOCKED(t);
    engine_tx key = {.number = number};
    return t->n_txs ? bsearch(&key, t->txs, t->n_txs, sizeof(engine_tx), cmp_tx) : NULL;
}

void engine_free_lists(engine *t)
{
    for (size_t i = 0; i < t->n_clients; i++)
        free(t->clients[i]);
    free(t->clients);
    t->clients = NULL;
    t->n_clients = t->cap_clients = 0;
    for (size_t i = 0; i < t->n_txs; i++)
        free(t->txs[i].pending);
    free(t->txs);
    t->txs = NULL;
    t->n_txs = t->cap_txs = 0;
}

static int load_client(void *ctx, const char *id, int64_t registered)
{
    engine *t = ctx;
    (void)registered;
    if (t->n_clients == t->cap_clients) {
        size_t cap = t->cap_clients ? t->cap_clients * 2 : 64;
        char **n = realloc(t->clients, cap * sizeof *n);
        if (!n)
            return TSE_ERR_NO_MEMORY;
        t->clients = n;
        t->cap_clients = cap;
    }
    if (!(t->clients[t->n_clients] = strdup(id)))
        return TSE_ERR_NO_MEMORY;
    t->n_clients++;
    return 0;
}

static int load_tx(void *ctx, const store_tx *s)
{
    engine *t = ctx;
    if (t->n_txs == t->cap_txs) {
        size_t cap = t->cap_txs ? t->cap_txs * 2 : 64;
        engine_tx *n = realloc(t->txs, cap * sizeof *n);
        if (!n)
            return TSE_ERR_NO_MEMORY;
        t->txs = n;
        t->cap_txs = cap;
    }
    engine_tx *x = &t->txs[t->n_txs];
    memset(x, 0, sizeof *x);
    x->number = s->number;
    snprintf(x->client_id, sizeof x->client_id, "%s", s->client_id);
    x->start_counter = s->start_counter;
    x->start_time = s->start_time;
    x->last_update = s->last_update;
    if (s->pending_len) {
        if (!(x->pending = malloc(s->pending_len)))
            return TSE_ERR_NO_MEMORY;
        memcpy(x->pending, s->pending, s->pending_len);
        x->pending_len = s->pending_len;
    }
    t->n_txs++;
    return 0;
}

static void load_user(engine *t, int u, const char *id)
{
    char key[48];
    uint8_t *v = NULL;
    size_t n = 0;
    engine_user *usr = &t->users[u];
    int64_t auth_until = usr->auth_until;
    memset(usr, 0, sizeof *usr);
    usr->id = id;
    usr->auth_until = auth_until;
    snprintf(key, sizeof key, "pin.%s", id);
    if (engine_meta_read(t, key, &v, &n) == 0 && n == CSP_SECRET_HASH_LEN) {
        memcpy(usr->pin_rec, v, n);
        usr->has_pin = true;
    }
    free(v);
    snprintf(key, sizeof key, "retries.%s", id);
    usr->retries_left = (int)engine_meta_read_int(t, key, ENGINE_MAX_RETRIES);
}

/* Reads the state engine_reload() takes into t (a scratch engine). */
static tse_err load_state(engine *t)
{
    tse_error err = {0};
    int rc;
    t->state = (tse_state)engine_meta_read_int(t, META_STATE, TSE_STATE_CREATED);
    engine_meta_read_text(t, META_DESCRIPTION, t->description, sizeof t->description);
    t->time_creation = engine_meta_read_int(t, META_TIME_CREATION, 0);
    t->time_init = engine_meta_read_int(t, META_TIME_INIT, 0);
    t->time_disable = engine_meta_read_int(t, META_TIME_DISABLE, 0);
    t->tx_logging_locked = engine_meta_read_int(t, META_TX_LOCKED, 0) == 1;
    load_user(t, USER_ADMIN, TSE_USER_ADMIN);
    load_user(t, USER_TIME_ADMIN, TSE_USER_TIME_ADMIN);
    load_user(t, USER_LOGGER, TSE_USER_LOGGER);

    uint8_t *msg = NULL;
    size_t len = 0;
    if ((rc = store_last_log(t->st, &t->counter, &msg, &len, &err)) != 0)
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "reading the last log: %s", err.message);
    t->last_log_time = 0;
    if (msg) {
        logmsg m;
        tse_error perr = {0};
        if (logmsg_parse(msg, len, &m, &perr))
            t->last_log_time = m.log_time;
        free(msg);
    }
    if ((rc = store_last_transaction_number(t->st, &t->tx_counter, &err)) != 0)
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "reading the transaction counter: %s", err.message);
    if ((rc = store_foreach_client(t->st, load_client, t, &err)) != 0)
        return engine_fail(rc == TSE_ERR_NO_MEMORY ? rc : TSE_ERR_STORAGE_FAILURE,
                           "reading clients: %s", err.message);
    if (t->n_clients)
        qsort(t->clients, t->n_clients, sizeof(char *), cmp_str);
    if ((rc = store_foreach_open_tx(t->st, load_tx, t, &err)) != 0)
        return engine_fail(rc == TSE_ERR_NO_MEMORY ? rc : TSE_ERR_STORAGE_FAILURE,
                           "reading open transactions: %s", err.message);
    if (t->n_txs)
        qsort(t->txs, t->n_txs, sizeof(engine_tx), cmp_tx);
    if (t->n_txs && t->txs[t->n_txs - 1].number > t->tx_counter)
        t->tx_counter = t->txs[t->n_txs - 1].number;
    return t->load_rc;
}

tse_err engine_reload(engine *t)
{
    ENGINE_ASSERT_LOCKED(t);
    /* Read everything into a scratch engine; take it only when all was read. */
    engine n;
    memset(&n, 0, sizeof n);
    n.st = t->st;
    for (int u = 0; u < USER_COUNT; u++)
        n.users[u].auth_until = t->users[u].auth_until;
    tse_err rc = load_state(&n);
    if (rc != TSE_OK) {
        engine_free_lists(&n);
        t->stale = true;
        return rc;
    }
    engine_free_lists(t);
    t->state = n.state;
    memcpy(t->description, n.description, sizeof t->description);
    t->time_creation = n.time_creation;
    t->time_init = n.time_init;
    t->time_disable = n.time_disable;
    t->tx_logging_locked = n.tx_logging_locked;
    memcpy(t->users, n.users, sizeof t->users);
    t->counter = n.counter;
    t->last_log_time = n.last_log_time;
    t->tx_counter = n.tx_counter;
    t->clients = n.clients;
    t->n_clients = n.n_clients;
    t->cap_clients = n.cap_clients;
    t->txs = n.txs;
    t->n_txs = n.n_txs;
    t->cap_txs = n.cap_txs;
    t->stale = false;
    OPENSSL_cleanse(&n, sizeof n);
    return TSE_OK;
}

tse_err engine_catch_up(engine *t)
{
    return t->stale ? engine_reload(t) : TSE_OK;
}

/* A write after a failed commit whose re-read failed too: re-read now. The
 * caller checked its request against the old state, so it is refused
 * either way. */
tse_err engine_resync(engine *t)
{
    tse_err rc = engine_reload(t);
    if (rc != TSE_OK)
        return rc;
    return engine_fail(TSE_ERR_STORAGE_FAILURE, "the TSE re-read its state after a failed commit: repeat the call");
}
