/*
 * keepalive.c - the keep-alive thread. It wakes every second, picks the
 * transactions whose last start/update is `seconds` old and updates each
 * through the public API (so journaling and transports apply as for any
 * call). A transaction the TSE no longer knows is forgotten.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/keepalive.h"
#include "engine/engine.h"

typedef struct ka_tx {
    uint64_t number;
    char client_id[TSE_MAX_CLIENT_ID_LEN + 1];
    char process_type[TSE_MAX_PROCESS_TYPE_LEN + 1];
    int64_t last;     /* monotonic seconds */
} ka_tx;

struct keepalive {
    keepalive_update_fn *update;
    void *ctx;
    uint32_t seconds;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    ka_tx *txs;
    size_t n, cap;
};

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static void *run(void *arg)
{
    keepalive *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&k->cv, &k->mu, &until);
        while (!k->stop) {
            int64_t now = mono_s();
            size_t i = 0;
            while (i < k->n && now - k->txs[i].last < k->seconds)
                i++;
            if (i == k->n)
                break;
            ka_tx x = k->txs[i];
            k->txs[i].last = now;   /* also when it fails: try again next period */
            pthread_mutex_unlock(&k->mu);
            tse_err rc = k->update(k->ctx, x.client_id, x.number, x.process_type);
            if (rc == TSE_ERR_NO_TRANSACTION)
                keepalive_forget(k, x.number);
            pthread_mutex_lock(&k->mu);
        }
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

tse_err keepalive_start(keepalive_update_fn *update, void *ctx, uint32_t seconds, keepalive **out)
{
    if (seconds < 1 || seconds >= TSE_MAX_UPDATE_DELAY_SECONDS)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "keep_alive_seconds must be 1..%d",
                           TSE_MAX_UPDATE_DELAY_SECONDS - 1);
    keepalive *k = calloc(1, sizeof *k);
    if (!k)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    k->update = update;
    k->ctx = ctx;
    k->seconds = seconds;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool ok = pthread_mutex_init(&k->mu, NULL) == 0 && pthread_cond_init(&k->cv, &ca) == 0 &&
              pthread_create(&k->thread, NULL, run, k) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) {
        free(k);
        return engine_fail(TSE_ERR_INTERNAL, "cannot start the keep-alive thread");
    }
    *out = k;
    return TSE_OK;
}

void keepalive_stop(keepalive *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k->txs);
    free(k);
}

void keepalive_touch(keepalive *k, uint64_t number, const char *client_id, const char *process_type)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    size_t i = 0;
    while (i < k->n && k->txs[i].number != number)
        i++;
    if (i == k->n && k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        ka_tx *n = realloc(k->txs, cap * sizeof *n);
        if (n) {
            k->txs = n;
            k->cap = cap;
        }
    }
    if (i < k->cap) {
        if (i == k->n) {
            k->n++;
            k->txs[i].number = number;
            snprintf(k->txs[i].client_id, sizeof k->txs[i].client_id, "%s", client_id);
            snprintf(k->txs[i].process_type, sizeof k->txs[i].process_type, "%s",
                     process_type ? process_type : "");
        }
        k->txs[i].last = mono_s();
    }
    pthread_mutex_unlock(&k->mu);
}

void keepalive_forget(keepalive *k, uint64_t number)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < k->n; i++)
        if (k->txs[i].number == number) {
            k->txs[i] = k->txs[--k->n];
            break;
        }
    pthread_mutex_unlock(&k->mu);
}
