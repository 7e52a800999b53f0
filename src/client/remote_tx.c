/*
 * remote_tx.c - transactions over /api/v2: start, update and finish are
 * PUT /tss/{id}/tx/{tx_id}?tx_revision=N with N = 1, 2, 3, ... The handle
 * maps each transaction number to its tx id and last revision; a number it
 * does not know (another process started it) is looked up among the open
 * transactions on the server.
 *
 * Never signing twice: a request whose answer was lost is sent again with the
 * same id and revision, which the server answers with the stored result. When
 * all attempts fail the request is remembered as pending; if the caller then
 * repeats the same operation (same client, kind and data), it goes out again
 * with the pending id and revision, so an operation applied before its answer
 * was lost still yields its original signature and no second log.
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/remote_impl.h"
#include "engine/engine.h"

/* What identifies an operation for replay: kind, client and data. */
static void op_digest(const char *kind, const char *client_id, const uint8_t *pd, size_t pd_len, const char *pt,
                      uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
        memset(out, 0, 32);
        EVP_MD_CTX_free(c);
        return;
    }
    const char *parts[] = {kind, client_id ? client_id : "", pt ? pt : ""};
    for (size_t i = 0; i < 3; i++)
        EVP_DigestUpdate(c, parts[i], strlen(parts[i]) + 1);
    EVP_DigestUpdate(c, pd ? pd : (const uint8_t *)"", pd_len);
    EVP_DigestFinal_ex(c, out, NULL);
    EVP_MD_CTX_free(c);
}

static tse_err check_args(const char *client_id, const uint8_t *pd, size_t pd_len, const char *pt,
                          const uint8_t *ad, size_t ad_len, tse_result *out)
{
    if (!client_id || !*client_id || strlen(client_id) > TSE_MAX_CLIENT_ID_LEN)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "client id must be 1..%d characters", TSE_MAX_CLIENT_ID_LEN);
    if ((!pd && pd_len) || (!ad && ad_len) || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "process data and result are required");
    if (pd_len > TSE_MAX_PROCESS_DATA_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "process data is limited to %u bytes", TSE_MAX_PROCESS_DATA_LEN);
    if (pt && strlen(pt) > TSE_MAX_PROCESS_TYPE_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "process type is limited to %d characters", TSE_MAX_PROCESS_TYPE_LEN);
    if (ad_len > TSE_MAX_PROCESS_DATA_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "additional data is limited to %u bytes", TSE_MAX_PROCESS_DATA_LEN);
    return TSE_OK;
}

static tse_err parse_result(json_t *j, tse_result *out)
{
    memset(out, 0, sizeof *out);
    json_t *sig = json_object_get(j, "signature");
    json_int_t number = json_integer_value(json_object_get(j, "number"));
    const char *value = json_string_value(json_object_get(sig, "value"));
    const char *serial = json_string_value(json_object_get(j, "tss_serial_number"));
    size_t sig_len = 0;
    uint8_t *raw = value ? remote_unb64(value, &sig_len) : NULL;
    if (number <= 0 || !raw || sig_len > TSE_MAX_SIGNATURE_LEN || !serial ||
        strlen(serial) != 2 * TSE_SERIAL_LEN) {
        free(raw);
        return engine_fail(TSE_ERR_INTERNAL, "the server's transaction answer lacks number, signature or serial");
    }
    out->transaction_number = (uint64_t)number;
    out->signature_counter = (uint64_t)json_integer_value(json_object_get(sig, "counter"));
    out->log_time = remote_json_time(json_object_get(json_object_get(j, "log"), "timestamp"));
    out->start_time = remote_json_time(json_object_get(j, "time_start"));
    memcpy(out->signature, raw, sig_len);
    out->signature_len = sig_len;
    free(raw);
    for (size_t i = 0; i < TSE_SERIAL_LEN; i++) {
        unsigned v = 0;
        sscanf(serial + 2 * i, "%2x", &v);
        out->serial_number[i] = (uint8_t)v;
    }
    return TSE_OK;
}

/* The answer's kept_log (the update log that first secured data kept under
 * another client or processType) into *kept; zero without one. */
static tse_err parse_kept(json_t *j, const tse_result *out, tse_result *kept)
{
    memset(kept, 0, sizeof *kept);
    json_t *k = json_object_get(j, "kept_log");
    if (!k)
        return TSE_OK;
    json_t *sig = json_object_get(k, "signature");
    const char *value = json_string_value(json_object_get(sig, "value"));
    json_int_t counter = json_integer_value(json_object_get(sig, "counter"));
    size_t sig_len = 0;
    uint8_t *raw = value ? remote_unb64(value, &sig_len) : NULL;
    if (!raw || !sig_len || sig_len > TSE_MAX_SIGNATURE_LEN || counter <= 0) {
        free(raw);
        return engine_fail(TSE_ERR_INTERNAL, "the server's kept_log lacks a signature or its counter");
    }
    kept->transaction_number = out->transaction_number;
    kept->signature_counter = (uint64_t)counter;
    kept->log_time = remote_json_time(json_object_get(json_object_get(k, "log"), "timestamp"));
    kept->start_time = out->start_time;
    memcpy(kept->serial_number, out->serial_number, TSE_SERIAL_LEN);
    memcpy(kept->signature, raw, sig_len);
    kept->signature_len = sig_len;
    free(raw);
    return TSE_OK;
}

/* True when the answer's warnings (each "<CODE NAME>: <message>") carry `code`. */
static bool has_warning(json_t *resp, tse_err code)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(resp, "warnings"), i, w) {
        const char *text = json_string_value(w);
        int c;
        if (text && error_lookup(text, strcspn(text, ":"), &c) && c == (int)code)
            return true;
    }
    return false;
}

/* The server does not know the client's UUID: the engine's answer for that
 * depends on the TSE's state, which it checks first. */
static tse_err unknown_client(remote *r, const char *client_id)
{
    tse_info info;
    tse_err rc = remote_get_info(r, &info);
    if (rc)
        return rc;
    if (info.state == TSE_STATE_DISABLED)
        return engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE is disabled");
    if (info.state != TSE_STATE_INITIALIZED)
        return engine_fail(TSE_ERR_SE_API_NOT_INITIALIZED, "the TSE is not initialized");
    return engine_fail(TSE_ERR_CLIENT_NOT_REGISTERED, "client \"%s\" is not registered", client_id);
}

/* The engine's answer for a log signed and stored after the certificate's
 * end: CERTIFICATE_EXPIRED with the result filled in. */
static tse_err expired_answer(bool expired, const tse_result *r)
{
    if (!expired)
        return TSE_OK;
    return engine_fail(TSE_ERR_CERTIFICATE_EXPIRED, "the certificate has expired; the log (counter %llu) was stored",
                       (unsigned long long)r->signature_counter);
}

/* PUT one revision. */
static tse_err put_revision(remote *r, const char *tx_id, uint32_t rev, const char *state, const char *client_id,
                            const uint8_t *pd, size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len,
                            bool unsigned_update, tse_result *kept, tse_result *out, bool *expired)
{
    char cuuid[37], path[160];
    remote_client_uuid(client_id, cuuid);
    snprintf(path, sizeof path, "%s/tx/%s?tx_revision=%" PRIu32, TSS_PATH(r), tx_id, rev);
    char *b64 = base64_encode_alloc(pd, pd_len);
    json_t *body = b64 ? json_pack("{s:s, s:s, s:{s:{s:s, s:s}}}", "state", state, "client_id", cuuid, "schema",
                                   "raw", "process_type", pt ? pt : "", "process_data", b64)
                       : NULL;
    free(b64);
    char *ad_b64 = ad_len ? base64_encode_alloc(ad, ad_len) : NULL;
    if (body && ad_len && json_object_set_new(body, "additional_data", ad_b64 ? json_string(ad_b64) : NULL)) {
        json_decref(body);
        body = NULL;
    }
    free(ad_b64);
    if (body && unsigned_update && json_object_set_new(body, "update_variant", json_string("UNSIGNED"))) {
        json_decref(body);
        body = NULL;
    }
    /* the SE API's rule: any registered client may go on with an open
     * transaction (the market API's default refuses another client) */
    if (body && rev > 1 && json_object_set_new(body, "any_client", json_true())) {
        json_decref(body);
        body = NULL;
    }
    json_t *resp = NULL;
    tse_err rc = body ? http_call(r->h, "PUT", path, body, true, &resp) : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    json_decref(body);
    if (rc == TSE_ERR_NOT_FOUND)
        rc = unknown_client(r, client_id);
    if (!rc)
        rc = parse_result(resp, out);
    if (!rc && kept)
        rc = parse_kept(resp, out, kept);
    /* signed and stored with an expired certificate: the caller answers as
     * the engine does, after its bookkeeping of a successful call; an
     * update kept unsigned made no log and answers as the engine does, OK */
    *expired = !rc && has_warning(resp, TSE_ERR_CERTIFICATE_EXPIRED) &&
               (out->signature_counter || (kept && kept->signature_counter));
    json_decref(resp);
    return rc;
}

/* Caller holds r->mu. */
static remote_tx *find_tx(remote *r, uint64_t number)
{
    for (size_t i = 0; i < r->n_txs; i++)
        if (r->txs[i].number == number)
            return &r->txs[i];
    return NULL;
}

static remote_tx *add_tx(remote *r, uint64_t number, const char *id, uint32_t rev)
{
    pthread_mutex_lock(&r->mu);
    remote_tx *x = find_tx(r, number);
    if (!x && r->n_txs == r->cap_txs) {
        size_t cap = r->cap_txs ? 2 * r->cap_txs : 16;
        remote_tx *n = realloc(r->txs, cap * sizeof *n);
        if (n) {
            r->txs = n;
            r->cap_txs = cap;
        }
    }
    if (!x && r->n_txs < r->cap_txs)
        x = &r->txs[r->n_txs++];
    if (x) {
        memset(x, 0, sizeof *x);
        x->number = number;
        snprintf(x->id, sizeof x->id, "%s", id);
        x->revision = rev;
    }
    pthread_mutex_unlock(&r->mu);
    return x;
}

static void drop_tx(remote *r, uint64_t number)
{
    pthread_mutex_lock(&r->mu);
    remote_tx *x = find_tx(r, number);
    if (x)
        *x = r->txs[--r->n_txs];
    pthread_mutex_unlock(&r->mu);
}

/* One page of GET /tx?states[]=ACTIVE. */
static tse_err open_page(remote *r, size_t offset, json_t **out)
{
    char path[160];
    snprintf(path, sizeof path, "%s/tx?states%%5B%%5D=ACTIVE&limit=100&offset=%zu", TSS_PATH(r), offset);
    return http_call(r->h, "GET", path, NULL, true, out);
}

/* Finds an open transaction on the server: its id and latest revision. */
static tse_err lookup_open(remote *r, uint64_t number, const char *client_id, char id[37], uint32_t *rev)
{
    for (size_t offset = 0;;) {
        json_t *j = NULL;
        tse_err rc = open_page(r, offset, &j);
        if (rc)
            return rc;
        json_t *data = json_object_get(j, "data");
        size_t got = json_array_size(data);
        for (size_t i = 0; i < got; i++) {
            json_t *t = json_array_get(data, i);
            if ((uint64_t)json_integer_value(json_object_get(t, "number")) != number)
                continue;
            const char *tid = json_string_value(json_object_get(t, "_id"));
            json_int_t latest = json_integer_value(json_object_get(t, "latest_revision"));
            if (!latest)
                latest = json_integer_value(json_object_get(t, "revision"));
            if (!tid || strlen(tid) != 36)   /* any registered client may go on with it */
                break;
            memcpy(id, tid, 37);
            *rev = (uint32_t)latest;
            json_decref(j);
            return TSE_OK;
        }
        json_decref(j);
        if (got < 100)
            break;
        offset += got;
    }
    return engine_fail(TSE_ERR_NO_TRANSACTION, "no open transaction %" PRIu64 " for client \"%s\"", number,
                       client_id);
}

/* Where to send the next revision of `number`: its id and revision. */
static tse_err next_revision(remote *r, uint64_t number, const char *client_id, char id[37], uint32_t *rev)
{
    pthread_mutex_lock(&r->mu);
    remote_tx *x = find_tx(r, number);
    remote_tx copy = x ? *x : (remote_tx){0};
    pthread_mutex_unlock(&r->mu);
    if (x && !copy.unsure) {
        memcpy(id, copy.id, 37);
        *rev = copy.revision + 1;
        return TSE_OK;
    }
    uint32_t latest = 0;
    tse_err rc = lookup_open(r, number, client_id, id, &latest);
    if (rc)
        return rc;
    (void)add_tx(r, number, id, latest);   /* not remembered (no memory): the next call looks it up again */
    *rev = latest + 1;
    return TSE_OK;
}

/* ------------------------------------------------------------ pending */

void remote_restore_pending(void *backend, const char *operation, const char *client_id, uint64_t number,
                            const char *process_type, const uint8_t *pd, size_t pd_len, const char *tx_id,
                            uint32_t revision)
{
    remote *r = backend;
    static const char *kinds[][2] = {
        {"startTransaction", "start"}, {"updateTransaction", "update"}, {"finishTransaction", "finish"}};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(operation, kinds[i][0]) != 0 || !tx_id || strlen(tx_id) != 36 || !revision)
            continue;
        pthread_mutex_lock(&r->mu);
        op_digest(kinds[i][1], client_id, pd, pd_len, process_type, r->pend_digest);
        r->pend_number = number;
        memcpy(r->pend_id, tx_id, 37);
        r->pend_rev = revision;
        pthread_mutex_unlock(&r->mu);
    }
}

static bool take_pending(remote *r, const uint8_t digest[32], uint64_t number, char id[37], uint32_t *rev)
{
    pthread_mutex_lock(&r->mu);
    bool same = r->pend_rev && r->pend_number == number && memcmp(r->pend_digest, digest, 32) == 0;
    if (same) {
        memcpy(id, r->pend_id, 37);
        *rev = r->pend_rev;
    }
    pthread_mutex_unlock(&r->mu);
    return same;
}

static void remember_pending(remote *r, tse_err rc, const uint8_t digest[32], uint64_t number, const char *id,
                             uint32_t rev)
{
    pthread_mutex_lock(&r->mu);
    r->pend_rev = 0;
    if (rc == TSE_ERR_UNREACHABLE) {
        memcpy(r->pend_digest, digest, 32);
        r->pend_number = number;
        snprintf(r->pend_id, sizeof r->pend_id, "%s", id);
        r->pend_rev = rev;
    }
    pthread_mutex_unlock(&r->mu);
}

/* ------------------------------------------------------------ API */

tse_err remote_start_transaction(void *backend, const char *client_id, const uint8_t *pd, size_t pd_len,
                                 const char *pt, const uint8_t *ad, size_t ad_len, tse_result *out)
{
    remote *r = backend;
    tse_err rc = check_args(client_id, pd, pd_len, pt, ad, ad_len, out);
    if (rc)
        return rc;
    uint8_t digest[32];
    op_digest("start", client_id, pd, pd_len, pt, digest);
    char id[37];
    uint32_t rev = 1;
    if (!take_pending(r, digest, 0, id, &rev))
        remote_random_uuid(id);
    bool expired = false;
    rc = put_revision(r, id, 1, "ACTIVE", client_id, pd, pd_len, pt, ad, ad_len, false, NULL, out, &expired);
    if (rc == TSE_ERR_SECURE_ELEMENT_DISABLED && remote_follow_successor(r)) {
        remote_random_uuid(id);
        rc = put_revision(r, id, 1, "ACTIVE", client_id, pd, pd_len, pt, ad, ad_len, false, NULL, out, &expired);
    }
    remember_pending(r, rc, digest, 0, id, 1);
    if (!rc && !add_tx(r, out->transaction_number, id, 1))
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    return rc ? rc : expired_answer(expired, out);
}

static tse_err continue_tx(remote *r, const char *kind, const char *state, const char *client_id, uint64_t number,
                           const uint8_t *pd, size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len,
                           tse_result *kept, tse_result *out)
{
    tse_err rc = check_args(client_id, pd, pd_len, pt, ad, ad_len, out);
    if (rc)
        return rc;
    if (number == 0)
        return engine_fail(TSE_ERR_NO_TRANSACTION, "no open transaction 0 for client \"%s\"", client_id);
    uint8_t digest[32];
    op_digest(kind, client_id, pd, pd_len, pt, digest);
    char id[37];
    uint32_t rev = 0;
    if (!take_pending(r, digest, number, id, &rev)) {
        rc = next_revision(r, number, client_id, id, &rev);
        if (rc)
            return rc;
    }
    bool expired = false;
    rc = put_revision(r, id, rev, state, client_id, pd, pd_len, pt, ad, ad_len, !strcmp(kind, "update-unsigned"),
                      kept, out, &expired);
    remember_pending(r, rc, digest, number, id, rev);
    pthread_mutex_lock(&r->mu);
    remote_tx *x = find_tx(r, number);
    if (x && rc == TSE_ERR_UNREACHABLE)
        x->unsure = true;
    else if (x && !rc) {
        x->revision = rev;
        x->unsure = false;
    }
    pthread_mutex_unlock(&r->mu);
    if (!rc && strcmp(state, "ACTIVE") != 0)
        drop_tx(r, number);
    return rc ? rc : expired_answer(expired, out);
}

tse_err remote_update_transaction(void *backend, const char *client_id, uint64_t number, const uint8_t *pd,
                                  size_t pd_len, const char *pt, tse_update_variant variant, tse_result *kept,
                                  tse_result *out)
{
    remote *r = backend;
    if (variant != TSE_UPDATE_SIGNED && variant != TSE_UPDATE_UNSIGNED)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "variant must be TSE_UPDATE_SIGNED or TSE_UPDATE_UNSIGNED");
    return continue_tx(r, variant == TSE_UPDATE_SIGNED ? "update" : "update-unsigned", "ACTIVE", client_id, number,
                       pd, pd_len, pt, NULL, 0, kept, out);
}

tse_err remote_finish_transaction(void *backend, const char *client_id, uint64_t number, const uint8_t *pd,
                                  size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len, tse_result *kept,
                                  tse_result *out)
{
    remote *r = backend;
    return continue_tx(r, "finish", "FINISHED", client_id, number, pd, pd_len, pt, ad, ad_len, kept, out);
}

void remote_pending(void *backend, char id[37], uint32_t *revision)
{
    remote *r = backend;
    pthread_mutex_lock(&r->mu);
    snprintf(id, 37, "%s", r->pend_rev ? r->pend_id : "");
    *revision = r->pend_rev;
    pthread_mutex_unlock(&r->mu);
}

static int cmp_update(const void *a, const void *b)
{
    const tse_open_transaction *x = a, *y = b;
    if (x->last_update != y->last_update)
        return x->last_update < y->last_update ? -1 : 1;
    return x->transaction_number < y->transaction_number ? -1 : 1;
}

tse_err remote_list_open_transactions(void *backend, tse_open_transaction **out, size_t *count)
{
    remote *r = backend;
    if (!out || !count)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out and count are required");
    size_t n = 0, cap = 16;
    tse_open_transaction *list = calloc(cap, sizeof *list);
    if (!list)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    int64_t now = (int64_t)time(NULL);
    tse_err rc = TSE_OK;
    for (size_t offset = 0; !rc;) {
        json_t *j = NULL;
        rc = open_page(r, offset, &j);
        json_t *data = json_object_get(j, "data");
        size_t got = json_array_size(data);
        for (size_t i = 0; !rc && i < got; i++) {
            json_t *t = json_array_get(data, i);
            if (n == cap) {
                tse_open_transaction *nl = realloc(list, 2 * cap * sizeof *nl);
                if (!nl) {
                    rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
                    break;
                }
                list = nl;
                cap *= 2;
            }
            tse_open_transaction *o = &list[n++];
            memset(o, 0, sizeof *o);
            o->transaction_number = (uint64_t)json_integer_value(json_object_get(t, "number"));
            const char *sn = json_string_value(json_object_get(t, "client_serial_number"));
            snprintf(o->client_id, sizeof o->client_id, "%s", sn ? sn : "");
            o->start_time = remote_json_time(json_object_get(t, "time_start"));
            o->last_update = remote_json_time(json_object_get(json_object_get(t, "log"), "timestamp"));
            if (!o->last_update)
                o->last_update = o->start_time;
            o->age_seconds = now - o->last_update;
            o->overdue = o->age_seconds > TSE_MAX_UPDATE_DELAY_SECONDS;
        }
        json_decref(j);
        if (got < 100)
            break;
        offset += got;
    }
    if (rc) {
        free(list);
        return rc;
    }
    if (n > 1)
        qsort(list, n, sizeof *list, cmp_update);
    *out = list;
    *count = n;
    return TSE_OK;
}
