/*
 * device.c - what TR-03151-1 v1.1.1 section 3 asks a TSE about itself and
 * its transactions beyond getInfo: the device information (the store's
 * memory figures, the time synchronisation variant, the component
 * versions, the transaction-logging lock), a transaction's state and the
 * last transaction log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "internal.h"

tse_err engine_get_device_info(engine *t, const char *interface, tse_device_info *out)
{
    if (!t || !interface || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, interface and out are required");
    memset(out, 0, sizeof *out);
    store_usage_info u;
    tse_error err = {0};
    if (store_usage(t->st, &u, &err) != 0)
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "cannot read the store's size: %s", err.message);
    out->total_memory = u.total;
    out->used_memory = u.used;
    out->free_memory = u.free;
    out->free_memory_known = u.free_known;
    export_device *dev = malloc(sizeof *dev);
    if (!dev)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    pthread_mutex_lock(&t->mu);
    tse_err rc = engine_catch_up(t);
    out->time_sync_variant = t->trust_clock ? TSE_TIME_SYNC_AUTOMATIC_AND_MANUAL : TSE_TIME_SYNC_MANUAL;
    out->transaction_logging_locked = t->tx_logging_locked;
    snprintf(out->description, sizeof out->description, "%s", t->description);
    if (!rc)
        rc = engine_components(t, dev);   /* the ones info.csv names */
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; !rc && i < dev->n && i < TSE_MAX_COMPONENTS; i++) {
        tse_component *c = &out->components[out->n_components++];
        char *const f[EXPORT_COMPONENT_FIELDS] = {c->name, c->manufacturer, c->model, c->version,
                                                  c->certification_id};
        for (int k = 0; k < EXPORT_COMPONENT_FIELDS; k++)
            snprintf(f[k], TSE_COMPONENT_VALUE_MAX, "%s", dev->c[i].v[k]);
    }
    free(dev);
    return rc;
}

/* The highest counter of the transaction logs of transactions lo..hi (0
 * when none is stored). Under mu. */
static tse_err last_tx_counter(engine *t, uint64_t lo, uint64_t hi, uint64_t *counter)
{
    store_log_filter f = {.tx_from = lo, .tx_to = hi};
    uint64_t first = 0;
    tse_error err = {0};
    if (store_log_span(t->st, &f, &first, counter, &err) != 0)
        return engine_fail(TSE_ERR_READING_LOG_MESSAGE, "cannot read the transaction logs: %s", err.message);
    return TSE_OK;
}

tse_err engine_get_transaction_state(engine *t, uint64_t number, tse_transaction_state *out)
{
    if (!t || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and out are required");
    pthread_mutex_lock(&t->mu);
    tse_err rc = engine_catch_up(t);
    if (!rc && (number == 0 || number > t->tx_counter))
        rc = engine_fail(TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND, "transaction %llu was never started (the last is %llu)",
                         (unsigned long long)number, (unsigned long long)t->tx_counter);
    engine_tx *x = rc ? NULL : engine_find_tx(t, number);
    if (!rc && !x) {
        *out = TSE_TX_FINISHED;   /* started, and no longer open: finished (none is abandoned) */
    } else if (!rc && x->pending_len) {
        *out = TSE_TX_UPDATED_WITH_UNPROTECTED_DATA;
    } else if (!rc) {
        uint64_t last = 0;
        rc = last_tx_counter(t, number, number, &last);
        if (!rc)
            *out = last > x->start_counter ? TSE_TX_UPDATED : TSE_TX_STARTED;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

tse_err engine_get_last_transaction_log(engine *t, uint64_t number, uint8_t **msg, size_t *len)
{
    if (!t || !msg || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, msg and len are required");
    *msg = NULL;
    *len = 0;
    uint64_t counter = 0;
    pthread_mutex_lock(&t->mu);
    tse_err rc = engine_catch_up(t);
    if (!rc)
        rc = last_tx_counter(t, number ? number : 1, number ? number : (uint64_t)INT64_MAX, &counter);
    pthread_mutex_unlock(&t->mu);
    if (rc)
        return rc;
    if (!counter)
        return number ? engine_fail(TSE_ERR_NO_LOG_MESSAGE, "no transaction log of transaction %llu is stored",
                                    (unsigned long long)number)
                      : engine_fail(TSE_ERR_NO_LOG_MESSAGE, "no transaction log is stored");
    return engine_read_log_by_counter(t, counter, msg, len);
}

static const char *const tx_state_names[] = {"started", "updated", "updatedWithUnprotectedData", "finished",
                                             "abandoned"};
static const char *const sync_names[] = {"automaticSync", "manualSync", "automaticAndManualSync"};

static const char *name_of(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

static int value_of(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *engine_tx_state_name(tse_transaction_state s)
{
    return name_of(tx_state_names, sizeof tx_state_names / sizeof *tx_state_names, (int)s);
}

int engine_tx_state_value(const char *name)
{
    return value_of(tx_state_names, sizeof tx_state_names / sizeof *tx_state_names, name);
}

const char *engine_time_sync_name(tse_time_sync_variant v)
{
    return name_of(sync_names, sizeof sync_names / sizeof *sync_names, (int)v);
}

int engine_time_sync_value(const char *name)
{
    return value_of(sync_names, sizeof sync_names / sizeof *sync_names, name);
}
