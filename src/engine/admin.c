/*
 * admin.c - administration of a TSE: initialize, updateTime,
 * disableSecureElement, client registration, certificates, and the
 * read-only SE API functions (readLogMessage, exportSerialNumbers, the
 * getMax/Current counts, supported update variants).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define ROLE_ADMIN_ONLY (1u << USER_ADMIN)
#define ROLE_ANY_TIME (1u << USER_ADMIN | 1u << USER_TIME_ADMIN)
#define ROLE_CLIENTS (1u << USER_ADMIN | 1u << USER_LOGGER)   /* TR-03153-1 v1.1.1 table 9 */

/* Lowest and highest time we accept: 2000-01-01 .. 9999-12-31. */
#define TIME_MIN 946684800LL
#define TIME_MAX 253402300799LL

static tse_err not_disabled(engine *t)
{
    return t->state == TSE_STATE_DISABLED ? engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE was disabled")
                                          : TSE_OK;
}

/* Common shape of an admin operation: lock, check, write one system log with
 * state changes, unlock, wait. */
typedef struct admin_op {
    engine_commit *timeout_ticket;
    engine_commit *ticket;
} admin_op;

static tse_err admin_end(engine *t, admin_op *op, tse_err rc)
{
    pthread_mutex_unlock(&t->mu);
    return engine_finish_after_timeout(t, op->timeout_ticket, rc, op->ticket);
}

tse_err engine_initialize(engine *t, const char *description)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    if (description && !engine_valid_text(description, TSE_MAX_DESCRIPTION_LEN, false))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT,
                           "the description must be 1..%d PrintableString characters (A-Z a-z 0-9 space '()+,-./:=?)",
                           TSE_MAX_DESCRIPTION_LEN);
    admin_op op = {0};
    pthread_mutex_lock(&t->mu);
    tse_err rc = not_disabled(t);
    if (!rc && t->state == TSE_STATE_CREATED)
        rc = engine_fail(TSE_ERR_WRONG_STATE, "set the admin PIN with the PUK first");
    if (!rc && t->state == TSE_STATE_INITIALIZED)
        rc = engine_fail(TSE_ERR_WRONG_STATE, "the TSE is initialized already");
    if (!rc && description && t->manufacturer_description[0])
        rc = engine_fail(TSE_ERR_DESCRIPTION_SET_BY_MANUFACTURER, "the manufacturer set the description \"%s\"",
                         t->manufacturer_description);
    if (!rc && !description && !t->manufacturer_description[0])
        rc = engine_fail(TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER, "a description is required");
    if (!rc)
        rc = engine_require_role(t, ROLE_ADMIN_ONLY, &op.timeout_ticket);
    if (!rc) {
        const char *desc = description ? description : t->manufacturer_description;
        int64_t now = engine_now(t);
        char b_state[24], b_time[24];
        store_change ch[3];
        engine_meta_int(&ch[0], "state", TSE_STATE_INITIALIZED, b_state);
        engine_meta_int(&ch[1], "time_init", now, b_time);
        ch[2] = (store_change){.kind = STORE_PUT_META, .key = "description", .value = desc, .value_len = strlen(desc)};
        engine_event ev = {.kind = EV_INITIALIZE, .text = desc, .roles = ROLE_ADMIN_ONLY};
        rc = engine_event_log(t, &ev, ch, 3, &op.ticket);
        if (!rc) {
            t->state = TSE_STATE_INITIALIZED;
            t->time_init = now;
            snprintf(t->description, sizeof t->description, "%s", desc);
        }
    }
    return admin_end(t, &op, rc);
}

tse_err engine_update_time(engine *t, int64_t unix_time)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    if (unix_time < TIME_MIN || unix_time > TIME_MAX)
        return engine_fail(TSE_ERR_INVALID_TIME, "time %lld is outside 2000-01-01..9999-12-31",
                           (long long)unix_time);
    admin_op op = {0};
    pthread_mutex_lock(&t->mu);
    tse_err rc = not_disabled(t);
    if (!rc)
        rc = engine_require_role(t, ROLE_ANY_TIME, &op.timeout_ticket);
    if (!rc) {
        /* Before: the TSE's time, or when unset the last time it secured (TR-03151 6.2). */
        int64_t before = t->time_set ? engine_now(t) : t->last_log_time;
        bool saved_set = t->time_set;
        int64_t saved_base = t->time_base, saved_mono = t->mono_base;
        int64_t mono = engine_mono_ns();
        t->time_set = true;
        if (t->trust_clock)
            t->time_base = unix_time - engine_host_time();
        else {
            t->time_base = unix_time;
            t->mono_base = mono;
        }
        engine_event ev = {.kind = EV_UPDATE_TIME, .time_before = before, .time_after = unix_time,
                           .roles = ROLE_ANY_TIME};
        rc = engine_event_log(t, &ev, NULL, 0, &op.ticket);
        if (rc) {
            t->time_set = saved_set;
            t->time_base = saved_base;
            t->mono_base = saved_mono;
        }
    }
    bool first = !rc && !op.timeout_ticket && t->self_test_ok;
    rc = admin_end(t, &op, rc);
    /* a TSE whose time was not set at opening logs an update made outside
     * updateDevice now (update.c) */
    if (!rc && first)
        rc = engine_log_outside_update(t);
    return rc;
}

#define META_RETIRE "retire.authorized"

/* disableSecureElement; by the admin logged in now or (authorized) by the
 * admin who authorized the retirement before. */
static tse_err disable(engine *t, bool authorized)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    admin_op op = {0};
    pthread_mutex_lock(&t->mu);
    tse_err rc = not_disabled(t);
    if (!rc && !authorized)
        rc = engine_require_role(t, ROLE_ADMIN_ONLY, &op.timeout_ticket);
    if (!rc && authorized && engine_meta_read_int(t, META_RETIRE, 0) <= 0)
        rc = engine_fail(TSE_ERR_AUTHENTICATION_FAILED, "no admin authorized the retirement of this TSE");
    if (!rc) {
        int64_t now = engine_now(t);
        char b_state[24], b_time[24];
        store_change ch[2];
        engine_meta_int(&ch[0], "state", TSE_STATE_DISABLED, b_state);
        engine_meta_int(&ch[1], "time_disable", now, b_time);
        engine_event ev = {.kind = EV_DISABLE, .time_after = now, .roles = ROLE_ADMIN_ONLY};
        rc = engine_event_log(t, &ev, ch, 2, &op.ticket);
        if (!rc) {
            t->state = TSE_STATE_DISABLED;
            t->time_disable = now;
            for (int u = 0; u < USER_COUNT; u++)
                t->users[u].auth_until = 0;
        }
    }
    return admin_end(t, &op, rc);
}

tse_err engine_disable_secure_element(engine *t)
{
    return disable(t, false);
}

tse_err engine_authorize_retirement(engine *t)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    admin_op op = {0};
    pthread_mutex_lock(&t->mu);
    tse_err rc = not_disabled(t);
    if (!rc)
        rc = engine_require_role(t, ROLE_ADMIN_ONLY, &op.timeout_ticket);
    if (!rc && engine_meta_read_int(t, META_RETIRE, 0) <= 0) {
        char b[24];
        store_change ch;
        engine_meta_int(&ch, META_RETIRE, engine_host_time(), b);
        rc = engine_submit_state(t, &ch, 1, &op.ticket);
    }
    return admin_end(t, &op, rc);
}

bool engine_retirement_authorized(engine *t)
{
    pthread_mutex_lock(&t->mu);
    bool yes = t->state != TSE_STATE_DISABLED && engine_meta_read_int(t, META_RETIRE, 0) > 0;
    pthread_mutex_unlock(&t->mu);
    return yes;
}

tse_err engine_disable_authorized(engine *t)
{
    return disable(t, true);
}

static tse_err check_client_id(const char *id)
{
    if (!id)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "client_id is required");
    if (strnlen(id, TSE_MAX_CLIENT_ID_LEN + 1) > TSE_MAX_CLIENT_ID_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "client_id longer than %d characters", TSE_MAX_CLIENT_ID_LEN);
    if (!engine_valid_text(id, TSE_MAX_CLIENT_ID_LEN, false))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT,
                           "client_id must be PrintableString characters (A-Z a-z 0-9 space '()+,-./:=?)");
    return TSE_OK;
}

static tse_err client_op(engine *t, const char *id, bool add)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    tse_err rc = check_client_id(id);
    if (rc)
        return rc;
    admin_op op = {0};
    pthread_mutex_lock(&t->mu);
    rc = engine_require_signing(t);
    if (!rc)
        rc = engine_require_role(t, ROLE_CLIENTS, &op.timeout_ticket);
    if (!rc && !t->time_set)   /* TR-03151-1 3.7.3.5 and 3.7.4.5 step 3 */
        rc = engine_fail(TSE_ERR_TIME_NOT_SET, "set the time with tse_update_time first");
    if (!rc && add && engine_has_client(t, id))
        rc = engine_fail(TSE_ERR_ALREADY_EXISTS, "client \"%s\" is registered already", id);
    if (!rc && add && t->n_clients >= t->max_clients)
        rc = engine_fail(TSE_ERR_TOO_MANY_CLIENTS, "%u clients are registered, the maximum", t->max_clients);
    if (!rc && !add && !engine_has_client(t, id))
        rc = engine_fail(TSE_ERR_ID_NOT_FOUND, "client \"%s\" is not registered", id);
    if (!rc && !add)
        for (size_t i = 0; i < t->n_txs; i++)
            if (!strcmp(t->txs[i].client_id, id)) {
                rc = engine_fail(TSE_ERR_WRONG_STATE, "client \"%s\" has open transactions (e.g. %llu); finish them first",
                                 id, (unsigned long long)t->txs[i].number);
                break;
            }
    char *copy = NULL;
    if (!rc && add && !(copy = strdup(id)))
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory for a client");
    if (!rc && add && t->n_clients == t->cap_clients) {
        /* room first: once the log is queued nothing may fail */
        size_t cap = t->cap_clients * 2 + 16;
        char **grown = realloc(t->clients, cap * sizeof(char *));
        if (grown) {
            t->clients = grown;
            t->cap_clients = cap;
        } else {
            rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory for a client");
        }
    }
    if (!rc) {
        store_change ch = {.kind = add ? STORE_PUT_CLIENT : STORE_DEL_CLIENT, .key = id, .time = engine_now(t)};
        engine_event ev = {.kind = add ? EV_REGISTER_CLIENT : EV_DEREGISTER_CLIENT, .text = id,
                           .roles = ROLE_CLIENTS};
        rc = engine_event_log(t, &ev, &ch, 1, &op.ticket);
    }
    if (!rc) {
        /* keep the array sorted */
        size_t i = 0;
        while (i < t->n_clients && strcmp(t->clients[i], id) < 0)
            i++;
        if (add) {
            memmove(&t->clients[i + 1], &t->clients[i], (t->n_clients - i) * sizeof(char *));
            t->clients[i] = copy;
            t->n_clients++;
            copy = NULL;
        } else {
            free(t->clients[i]);
            memmove(&t->clients[i], &t->clients[i + 1], (t->n_clients - i - 1) * sizeof(char *));
            t->n_clients--;
        }
    }
    free(copy);
    return admin_end(t, &op, rc);
}

tse_err engine_register_client(engine *t, const char *client_id)
{
    return client_op(t, client_id, true);
}

tse_err engine_deregister_client(engine *t, const char *client_id)
{
    return client_op(t, client_id, false);
}

tse_err engine_list_clients(engine *t, char ***ids, size_t *count)
{
    if (!t || !ids || !count)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, ids and count are required");
    pthread_mutex_lock(&t->mu);
    tse_err current = engine_catch_up(t);
    if (current != TSE_OK) {
        pthread_mutex_unlock(&t->mu);
        return current;
    }
    size_t n = t->n_clients;
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = strdup(t->clients[i]))) {
            tse_free_strings(out, i);
            out = NULL;
        }
    pthread_mutex_unlock(&t->mu);
    if (!out)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for the client list");
    *ids = out;
    *count = n;
    return TSE_OK;
}

/* ------------------------------------------------------------ counts */

static tse_err get_u32(engine *t, uint32_t *out, int what)
{
    if (!t || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and out are required");
    pthread_mutex_lock(&t->mu);
    *out = what == 0 ? t->max_clients : what == 1 ? (uint32_t)t->n_clients
         : what == 2 ? t->max_open_tx : (uint32_t)t->n_txs;
    pthread_mutex_unlock(&t->mu);
    return TSE_OK;
}

tse_err engine_get_max_number_of_clients(engine *t, uint32_t *out) { return get_u32(t, out, 0); }
/* TR-03151-1 v1.1.1 3.7.9.2: the distinct clients of the open transactions. */
tse_err engine_get_current_number_of_clients(engine *t, uint32_t *out)
{
    if (!t || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and out are required");
    pthread_mutex_lock(&t->mu);
    uint32_t n = 0;
    for (size_t i = 0; i < t->n_txs; i++) {
        size_t j = 0;
        while (j < i && strcmp(t->txs[j].client_id, t->txs[i].client_id) != 0)
            j++;
        n += j == i;
    }
    *out = n;
    pthread_mutex_unlock(&t->mu);
    return TSE_OK;
}
tse_err engine_get_max_number_of_transactions(engine *t, uint32_t *out) { return get_u32(t, out, 2); }
tse_err engine_get_current_number_of_transactions(engine *t, uint32_t *out) { return get_u32(t, out, 3); }

tse_err engine_get_supported_transaction_update_variants(engine *t, tse_update_variant *out)
{
    if (!t || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and out are required");
    *out = TSE_UPDATE_SIGNED_AND_UNSIGNED;
    return TSE_OK;
}

/* ------------------------------------------------------------ logs */

tse_err engine_read_log_message(engine *t, uint8_t **msg, size_t *len)
{
    if (!t || !msg || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, msg and len are required");
    tse_error err = {0};
    uint64_t counter = 0;
    *msg = NULL;
    int rc = store_last_log(t->st, &counter, msg, len, &err);
    if (rc != 0)
        return engine_fail(TSE_ERR_READING_LOG_MESSAGE, "%s", err.message);
    if (!*msg)
        return engine_fail(TSE_ERR_NO_LOG_MESSAGE, "no log message has been written yet");
    return TSE_OK;
}

tse_err engine_read_log_by_counter(engine *t, uint64_t counter, uint8_t **msg, size_t *len)
{
    if (!t || !msg || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, msg and len are required");
    tse_error err = {0};
    int rc = store_get_log(t->st, counter, msg, len, &err);
    if (rc == TSE_ERR_NO_LOG_MESSAGE)
        return engine_fail(rc, "no log message with signature counter %llu", (unsigned long long)counter);
    if (rc != 0)
        return engine_fail(TSE_ERR_READING_LOG_MESSAGE, "%s", err.message);
    return TSE_OK;
}

tse_err engine_export_serial_numbers(engine *t, uint8_t **der, size_t *len)
{
    if (!t || !der || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, der and len are required");
    /* SEQUENCE OF SEQUENCE { OCTET STRING serial, SEQUENCE { three BOOLEANs } }: version 3
     * (TR-03151-1 v1.1.1 3.6.5.2) LogMessageUsageTypes { systemLog, auditLog, transactionLog },
     * untagged; version 2 (TR-03151 v1.0.1 table 63) [0] transactionLog, [1] systemLog,
     * [2] auditLog. One key signs every kind of log. */
    int version = 0;
    pthread_mutex_lock(&t->mu);
    tse_err rc = engine_log_format(t, &version);
    pthread_mutex_unlock(&t->mu);
    if (rc != TSE_OK)
        return rc;
    uint8_t types[16], rec[64], *out = malloc(80);
    if (!out)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    der_w tw = der_w_init(types, sizeof types);
    for (uint8_t i = 0; i < 3; i++)
        der_put_bool(&tw, version == LOGMSG_VERSION_3 ? DER_BOOLEAN : 0x80 + i, true);
    der_w rw = der_w_init(rec, sizeof rec);
    der_put_tlv(&rw, DER_OCTET_STRING, t->serial, TSE_SERIAL_LEN);
    der_put_tlv(&rw, DER_SEQUENCE, types, tw.len);
    der_w ow = der_w_init(out, 80);
    der_put_header(&ow, DER_SEQUENCE, der_header_len(rw.len) + rw.len);
    der_put_tlv(&ow, DER_SEQUENCE, rec, rw.len);
    if (!der_w_ok(&ow)) {
        free(out);
        return engine_fail(TSE_ERR_EXPORT_SERIAL_NUMBERS_FAILED, "encoding failed");
    }
    *der = out;
    *len = ow.len;
    return TSE_OK;
}

/* ------------------------------------------------------------ certificates */

tse_err engine_export_certificates(engine *t, char **pem)
{
    if (!t || !pem)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and pem are required");
    pthread_mutex_lock(&t->mu);
    *pem = t->cert_pem ? strdup(t->cert_pem) : NULL;
    pthread_mutex_unlock(&t->mu);
    return *pem ? TSE_OK : engine_fail(TSE_ERR_EXPORT_CERT_FAILED, "no certificate available");
}

tse_err engine_public_key(engine *t, uint8_t **point, size_t *len)
{
    if (!t || !point || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, point and len are required");
    if (!(*point = malloc(t->point_len)))
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    memcpy(*point, t->point, t->point_len);
    *len = t->point_len;
    return TSE_OK;
}

tse_err engine_export_csr(engine *t, char **pem)
{
    if (!t || !pem)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and pem are required");
    tse_error err = {0};
    char cn[65];
    tse_hex(t->serial, 32, cn);
    pthread_mutex_lock(&t->mu);
    int rc = t->key ? csp_csr(t->key, cn, pem, &err) : TSE_ERR_KEY_UNAVAILABLE;
    if (!t->key)
        err = t->key_error;
    pthread_mutex_unlock(&t->mu);
    return rc ? engine_fail(rc, "%s", err.message) : TSE_OK;
}

tse_err engine_import_certificate(engine *t, const char *pem_chain)
{
    if (!t || !pem_chain)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and pem_chain are required");
    size_t n = strnlen(pem_chain, 1u << 20);
    if (n >= 1u << 20)
        return engine_fail(TSE_ERR_TOO_LARGE, "certificate chain larger than 1 MiB");
    tse_error err = {0};
    int64_t not_after = 0;
    int rc = csp_chain_check(pem_chain, t->point, t->point_len, &err);
    if (!rc)
        rc = csp_chain_not_after(pem_chain, &not_after, &err);
    if (rc)
        return engine_fail(TSE_ERR_CERTIFICATE_INVALID, "%s", err.message);
    char *copy = strdup(pem_chain);
    if (!copy)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    admin_op op = {0};
    pthread_mutex_lock(&t->mu);
    tse_err r = not_disabled(t);
    if (!r)
        r = engine_require_role(t, ROLE_ADMIN_ONLY, &op.timeout_ticket);
    if (!r) {
        store_change ch = {.kind = STORE_PUT_META, .key = "certificate", .value = copy, .value_len = n};
        r = engine_audit_certificate(t, copy, not_after, &ch, 1, &op.ticket);
    }
    if (!r) {
        free(t->cert_pem);
        t->cert_pem = copy;
        t->cert_not_after = not_after;
        copy = NULL;
        engine_set_end_of_usage(t);
    }
    free(copy);
    return admin_end(t, &op, r);
}

/* TR-03151-1 v1.1.1 setDescription. */
tse_err engine_set_description(engine *t, const char *description)
{
    if (!t || !description)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "%s", !t ? "no TSE handle" : "description is required");
    if (strnlen(description, TSE_MAX_SET_DESCRIPTION_LEN + 1) > TSE_MAX_SET_DESCRIPTION_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "the description is longer than %d characters",
                           TSE_MAX_SET_DESCRIPTION_LEN);
    if (!engine_valid_text(description, TSE_MAX_SET_DESCRIPTION_LEN, false))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT,
                           "the description must be 1..%d PrintableString characters (A-Z a-z 0-9 space '()+,-./:=?)",
                           TSE_MAX_SET_DESCRIPTION_LEN);
    admin_op op = {0};
    pthread_mutex_lock(&t->mu);
    tse_err rc = engine_require_signing(t);
    if (!rc && !t->time_set)
        rc = engine_fail(TSE_ERR_TIME_NOT_SET, "set the time with tse_update_time first");
    if (!rc)
        rc = engine_require_role(t, ROLE_ADMIN_ONLY, &op.timeout_ticket);
    if (!rc) {
        store_change ch = {.kind = STORE_PUT_META, .key = META_DESCRIPTION, .value = description,
                           .value_len = strlen(description)};
        engine_event ev = {.kind = EV_SET_DESCRIPTION, .text = description, .roles = ROLE_ADMIN_ONLY};
        rc = engine_event_log(t, &ev, &ch, 1, &op.ticket);
        if (!rc)
            snprintf(t->description, sizeof t->description, "%s", description);
    }
    return admin_end(t, &op, rc);
}

/* TR-03151-1 v1.1.1 lockTransactionLogging / unlockTransactionLogging. */
tse_err engine_set_transaction_logging_locked(engine *t, bool lock)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    admin_op op = {0};
    pthread_mutex_lock(&t->mu);
    tse_err rc = engine_require_signing(t);
    if (!rc && lock && t->tx_logging_locked)
        rc = engine_fail(TSE_ERR_TRANSACTION_LOGGING_LOCKED, "transaction logging is locked already");
    if (!rc && !lock && !t->tx_logging_locked)
        rc = engine_fail(TSE_ERR_TRANSACTION_LOGGING_NOT_LOCKED, "transaction logging is not locked");
    if (!rc && lock && t->n_txs)
        rc = engine_fail(TSE_ERR_OPEN_TRANSACTION_FOUND, "%zu transactions are open (e.g. %llu); finish them first",
                         t->n_txs, (unsigned long long)t->txs[0].number);
    if (!rc && !t->time_set)
        rc = engine_fail(TSE_ERR_TIME_NOT_SET, "set the time with tse_update_time first");
    if (!rc)
        rc = engine_require_role(t, ROLE_ADMIN_ONLY, &op.timeout_ticket);
    if (!rc) {
        char b[24];
        store_change ch;
        engine_meta_int(&ch, META_TX_LOCKED, lock ? 1 : 0, b);
        engine_event ev = {.kind = lock ? EV_LOCK_TX : EV_UNLOCK_TX, .roles = ROLE_ADMIN_ONLY};
        rc = engine_event_log(t, &ev, &ch, 1, &op.ticket);
        if (!rc)
            t->tx_logging_locked = lock;
    }
    return admin_end(t, &op, rc);
}
