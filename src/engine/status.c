/*
 * status.c - what a TSE reports about itself: getInfo, the certificate's
 * expiry and the end of usage of its chain (with the warning thresholds),
 * group-commit statistics, and the public name helpers.
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

static int32_t days_left(int64_t not_after, int64_t now)
{
    int64_t d = not_after - now;
    return (int32_t)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
}

tse_err engine_get_info(engine *t, tse_info *out)
{
    if (!t || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and out are required");
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&t->mu);
    tse_err current = engine_catch_up(t);
    if (current != TSE_OK) {
        pthread_mutex_unlock(&t->mu);
        return current;
    }
    tse_err lf = engine_log_format(t, &out->log_format_version);
    if (lf != TSE_OK) {
        pthread_mutex_unlock(&t->mu);
        return lf;
    }
    out->state = t->state;
    out->curve = t->curve;
    out->hash = t->hash;
    out->time_format = t->time_format;
    memcpy(out->serial_number, t->serial, TSE_SERIAL_LEN);
    snprintf(out->signature_algorithm, sizeof out->signature_algorithm, "%s", csp_sigalg_name(t->hash));
    snprintf(out->signature_algorithm_oid, sizeof out->signature_algorithm_oid, "%s", csp_sigalg_oid(t->hash));
    out->signature_counter = t->counter;
    out->transaction_counter = t->tx_counter;
    out->max_clients = t->max_clients;
    out->current_clients = (uint32_t)t->n_clients;
    out->max_open_transactions = t->max_open_tx;
    out->current_open_transactions = (uint32_t)t->n_txs;
    int64_t now = engine_now(t);
    for (size_t i = 0; i < t->n_txs; i++)
        if (now - t->txs[i].last_update > TSE_MAX_UPDATE_DELAY_SECONDS)
            out->overdue_open_transactions++;
    out->time_set = t->time_set;
    out->time_now = t->time_set ? now : 0;
    out->cert_not_after = t->cert_not_after;
    out->cert_days_left = days_left(t->cert_not_after, engine_host_time());
    out->end_of_usage = t->end_of_usage;
    out->end_of_usage_days_left = days_left(t->end_of_usage, engine_host_time());
    out->end_of_usage_certificate = t->end_of_usage_cert;
    out->end_of_usage_warning = tse_end_of_usage_warning(out->end_of_usage_days_left);
    out->self_test_time = t->self_test_time;
    out->self_test_ok = t->self_test_ok;
    out->time_creation = t->time_creation;
    out->time_init = t->time_init;
    out->time_disable = t->time_disable;
    snprintf(out->description, sizeof out->description, "%s", t->description);
    pthread_mutex_unlock(&t->mu);
    return TSE_OK;
}

tse_err engine_certificate_expiry(engine *t, int64_t *not_after, int32_t *days)
{
    if (!t || (!not_after && !days))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and an output are required");
    pthread_mutex_lock(&t->mu);
    if (not_after)
        *not_after = t->cert_not_after;
    if (days)
        *days = days_left(t->cert_not_after, engine_host_time());
    pthread_mutex_unlock(&t->mu);
    return TSE_OK;
}

void engine_set_end_of_usage(engine *t)
{
    tse_error err = {0};
    size_t which = 0;
    if (csp_chain_end_of_usage(t->cert_pem, &t->end_of_usage, &which, &err) != 0) {
        t->end_of_usage = t->cert_not_after;
        which = 0;
    }
    t->end_of_usage_cert = (int32_t)which;
}

int32_t tse_end_of_usage_warning(int32_t days_left)
{
    static const int32_t thresholds[] = {7, 30, 90, 180};
    for (size_t i = 0; i < sizeof thresholds / sizeof thresholds[0]; i++)
        if (days_left <= thresholds[i])
            return thresholds[i];
    return 0;
}

tse_err engine_end_of_usage(engine *t, int64_t *end, int32_t *days, int32_t *which)
{
    if (!t || !end || !days || !which)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and the outputs are required");
    pthread_mutex_lock(&t->mu);
    *end = t->end_of_usage;
    *days = days_left(t->end_of_usage, engine_host_time());
    *which = t->end_of_usage_cert;
    pthread_mutex_unlock(&t->mu);
    return TSE_OK;
}

tse_err engine_commit_stats(engine *t, uint64_t *batches, uint64_t *flushes, uint64_t *max_batch)
{
    if (!t || !batches || !flushes || !max_batch)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and the outputs are required");
    store_stats st;
    store_get_stats(t->st, &st);
    *batches = st.commits;
    *flushes = st.flushes;
    *max_batch = st.max_batch;
    return TSE_OK;
}

void tse_hex(const uint8_t *bytes, size_t len, char *out)
{
    hex_encode(out, 2 * len + 1, bytes, len);
}

const char *tse_curve_name(tse_curve c)
{
    return csp_curve_group(c);
}
