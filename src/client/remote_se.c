/*
 * remote_se.c - the "http(s):" transport's calls for the TR-03151-1 v1.1.1
 * functions: opentsed's extension routes description, transaction-logging,
 * device, transaction-state, log/last-transaction and update-device
 * (docs/api.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/remote_impl.h"
#include "engine/engine.h"

/* `method` on `sub` below the TSS with `body` (taken, may be NULL). */
static tse_err call(remote *r, const char *method, const char *sub, json_t *body, json_t **resp)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", TSS_PATH(r), sub);
    tse_err rc = http_call(r->h, method, path, body, false, resp);
    json_decref(body);
    return rc;
}

tse_err remote_set_description(void *backend, const char *description)
{
    if (!description)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "description is required");
    json_t *body = json_pack("{s:s}", "description", description);
    if (!body)   /* not UTF-8: certainly no PrintableString */
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the description must be PrintableString characters");
    return call(backend, "PUT", "description", body, NULL);
}

tse_err remote_set_transaction_logging_locked(void *backend, bool lock)
{
    return call(backend, "POST", "transaction-logging", json_pack("{s:b}", "locked", lock), NULL);
}

static tse_err bad_answer(const char *what)
{
    return engine_fail(TSE_ERR_INTERNAL, "the server's %s does not fit the contract", what);
}

/* A non-negative JSON integer member into *out; false if it is not one. */
static bool get_u64(json_t *o, const char *k, uint64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static bool copy_text(json_t *o, const char *k, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && (size_t)snprintf(out, cap, "%s", s) < cap;
}

tse_err remote_get_device_info(void *backend, tse_device_info *out)
{
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    memset(out, 0, sizeof *out);
    json_t *j = NULL;
    tse_err rc = call(backend, "GET", "device", NULL, &j);
    if (rc)
        return rc;
    json_t *comps = json_object_get(j, "components");
    int sync = engine_time_sync_value(json_string_value(json_object_get(j, "time_sync_variant")));
    bool ok = get_u64(j, "used_memory", &out->used_memory) && get_u64(j, "total_memory", &out->total_memory) &&
              json_is_boolean(json_object_get(j, "transaction_logging_locked")) && sync >= 0 &&
              json_is_array(comps) && json_array_size(comps) <= TSE_MAX_COMPONENTS &&
              copy_text(j, "description", out->description, sizeof out->description);
    out->free_memory_known = ok && get_u64(j, "free_memory", &out->free_memory);
    ok = ok && (out->free_memory_known || !json_object_get(j, "free_memory"));   /* absent: unknown */
    out->time_sync_variant = (tse_time_sync_variant)sync;
    out->transaction_logging_locked = json_is_true(json_object_get(j, "transaction_logging_locked"));
    for (size_t i = 0; ok && i < json_array_size(comps); i++) {
        json_t *c = json_array_get(comps, i);
        tse_component *o = &out->components[i];
        ok = copy_text(c, "component", o->name, sizeof o->name) &&
             copy_text(c, "manufacturer", o->manufacturer, sizeof o->manufacturer) &&
             copy_text(c, "model", o->model, sizeof o->model) && copy_text(c, "version", o->version, sizeof o->version) &&
             copy_text(c, "certification_id", o->certification_id, sizeof o->certification_id);
        out->n_components = i + 1;
    }
    json_decref(j);
    return ok ? TSE_OK : bad_answer("device information");
}

tse_err remote_get_transaction_state(void *backend, uint64_t number, tse_transaction_state *out)
{
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    char sub[64];
    snprintf(sub, sizeof sub, "transaction-state/%llu", (unsigned long long)number);
    json_t *j = NULL;
    tse_err rc = call(backend, "GET", sub, NULL, &j);
    int s = rc ? -1 : engine_tx_state_value(json_string_value(json_object_get(j, "state")));
    json_decref(j);
    if (rc)
        return rc;
    if (s < 0)
        return bad_answer("transaction state");
    *out = (tse_transaction_state)s;
    return TSE_OK;
}

tse_err remote_get_last_transaction_log(void *backend, uint64_t number, uint8_t **msg, size_t *len)
{
    if (!msg || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "msg and len are required");
    char sub[64];
    if (number)
        snprintf(sub, sizeof sub, "log/last-transaction/%llu", (unsigned long long)number);
    else
        snprintf(sub, sizeof sub, "log/last-transaction");
    json_t *j = NULL;
    tse_err rc = call(backend, "GET", sub, NULL, &j);
    if (!rc && !(*msg = remote_unb64(json_string_value(json_object_get(j, "log_message")), len)))
        rc = bad_answer("log_message");
    json_decref(j);
    return rc;
}

tse_err remote_update_device(void *backend, const uint8_t *package, size_t len)
{
    if (!package || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the update package is empty");
    if (len > TSE_MAX_UPDATE_PACKAGE)
        return engine_fail(TSE_ERR_TOO_LARGE, "the update package is larger than %d bytes", TSE_MAX_UPDATE_PACKAGE);
    char *b64 = base64_encode_alloc(package, len);
    if (!b64)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    json_t *body = json_pack("{s:s}", "package", b64);
    free(b64);
    return body ? call(backend, "POST", "update-device", body, NULL) : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
}
