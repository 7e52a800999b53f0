/*
 * remote_export.c - TR-03151 exportData from a remote TSS. An incremental
 * export (a cursor) streams GET /tss/{id}/incremental-export?cursor=N
 * (OpenTSE's extension); any other is an
 * export job: PUT /tss/{id}/export/{uuid} with the filter, polled with GET
 * until it is COMPLETED or ERROR, then its archive streamed from .../file.
 * Either way the archive reaches the caller's callback chunk by chunk.
 * Also deleteStoredData and restoreFromBackup (archives uploaded in base64)
 * through OpenTSE's extension endpoints.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/remote_impl.h"
#include "engine/engine.h"

#define JOB_WAIT_SECONDS 600
#define MAX_UPLOAD (64u << 20)  /* bytes of one archive to restore */

/* Query parameters of an export job from the filter. */
static tse_err job_query(const tse_export_filter *f, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
#define PARAM(cond, fmt, ...)                                                                                       \
    if (cond)                                                                                                     \
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s" fmt, n ? "&" : "?", __VA_ARGS__)
    PARAM(f->transaction_number, "transaction_number=%" PRIu64, f->transaction_number);
    PARAM(f->start_transaction_number, "start_transaction_number=%" PRIu64, f->start_transaction_number);
    PARAM(f->end_transaction_number, "end_transaction_number=%" PRIu64, f->end_transaction_number);
    PARAM(f->start_date, "start_date=%" PRId64, f->start_date);
    PARAM(f->end_date, "end_date=%" PRId64, f->end_date);
    PARAM(f->maximum_number_records, "maximum_number_records=%" PRIu64, f->maximum_number_records);
    PARAM(f->start_signature_counter, "start_signature_counter=%" PRIu64, f->start_signature_counter);
    PARAM(f->end_signature_counter, "end_signature_counter=%" PRIu64, f->end_signature_counter);
#undef PARAM
    if (f->client_id) {
        char uuid[37];
        remote_client_uuid(f->client_id, uuid);
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%sclient_id=%s", n ? "&" : "?", uuid);
    }
    return n < cap ? TSE_OK : engine_fail(TSE_ERR_INVALID_ARGUMENT, "export filter too long");
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits for the job; fills out from it. */
static tse_err wait_job(remote *r, const char *path, tse_export_result *out)
{
    for (long waited = 0, step = 20; waited < JOB_WAIT_SECONDS * 1000L; waited += step, step = step < 500 ? 2 * step : 500) {
        json_t *j = NULL;
        tse_err rc = http_call(r->h, "GET", path, NULL, true, &j);
        const char *state = json_string_value(json_object_get(j, "state"));
        if (!rc && state && !strcmp(state, "COMPLETED")) {
            out->logs = (uint64_t)json_integer_value(json_object_get(j, "logs"));
            out->bytes = (uint64_t)json_integer_value(json_object_get(j, "bytes"));
            out->cursor = (uint64_t)json_integer_value(json_object_get(j, "cursor"));
        } else if (!rc && state && !strcmp(state, "ERROR")) {
            /* exception: "<TR-03151 name>: <message>", the name also in tse_error */
            const char *msg = json_string_value(json_object_get(j, "exception"));
            const char *code = json_string_value(json_object_get(j, "tse_error"));
            rc = engine_fail(http_code_from_name(code, TSE_ERR_INTERNAL), "%s", msg ? msg : "the export failed");
        } else if (!rc) {
            json_decref(j);
            pause_ms(step);
            continue;
        }
        json_decref(j);
        return rc;
    }
    return engine_fail(TSE_ERR_UNREACHABLE, "the export job did not finish within %d s", JOB_WAIT_SECONDS);
}

tse_err remote_export_data(void *backend, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                           tse_export_result *out)
{
    remote *r = backend;
    tse_export_filter none = {0};
    const tse_export_filter *f = filter ? filter : &none;
    tse_export_result local = {0}, *res = out ? out : &local;
    *res = (tse_export_result){0};
    if (!write)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "a write callback is required");
    http_sink sink = {.write = write, .ctx = ctx};
    char path[512];
    if (f->cursor) {
        if (f->transaction_number || f->start_transaction_number || f->end_transaction_number || f->start_date ||
            f->end_date || f->client_id || f->start_signature_counter || f->end_signature_counter)
            return engine_fail(TSE_ERR_PARAMETER_MISMATCH, "a cursor combines with no other filter");
        snprintf(path, sizeof path, "%s/incremental-export?cursor=%" PRIu64 "&maximum_number_records=%" PRIu64, r->tss_path,
                 f->cursor, f->maximum_number_records);
        tse_err rc = http_stream(r->h, path, &sink);
        if (rc)
            return rc;
        res->bytes = sink.bytes;
        res->cursor = strtoull(sink.cursor, NULL, 10);
        /* counters have no gaps: every log after the cursor is in the archive */
        res->logs = res->cursor > f->cursor ? res->cursor - f->cursor : 0;
        return TSE_OK;
    }
    char query[400], id[37];
    tse_err rc = job_query(f, query, sizeof query);
    if (rc)
        return rc;
    remote_random_uuid(id);
    snprintf(path, sizeof path, "%s/export/%s%s", r->tss_path, id, query);
    json_t *body = json_object();
    rc = body ? http_call(r->h, "PUT", path, body, true, NULL) : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    json_decref(body);
    if (rc == TSE_ERR_NOT_FOUND && f->client_id)
        return engine_fail(TSE_ERR_ID_NOT_FOUND, "no client \"%s\"", f->client_id);
    snprintf(path, sizeof path, "%s/export/%s", r->tss_path, id);
    if (!rc)
        rc = wait_job(r, path, res);
    if (!rc) {
        snprintf(path, sizeof path, "%s/export/%s/file", r->tss_path, id);
        rc = http_stream(r->h, path, &sink);
    }
    if (!rc && sink.bytes != res->bytes)
        rc = engine_fail(TSE_ERR_READING_LOG_MESSAGE, "the archive has %" PRIu64 " bytes, the job said %" PRIu64,
                         sink.bytes, res->bytes);
    if (rc)
        *res = (tse_export_result){0};
    return rc;
}

tse_err remote_delete_stored_data(void *backend)
{
    remote *r = backend;
    char path[80];
    snprintf(path, sizeof path, "%s/delete-stored-data", r->tss_path);
    return http_call(r->h, "POST", path, NULL, false, NULL);
}

/* The file at `path` in base64 (malloc'd), or NULL with the error set. */
static char *file_b64(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    size_t n = 0, cap = 0, got = 1;
    while (f && got) {
        if (n == cap) {
            uint8_t *np = cap < MAX_UPLOAD ? realloc(p, cap = cap ? 2 * cap : 65536) : NULL;
            if (!np)
                break;
            p = np;
        }
        n += got = fread(p + n, 1, cap - n, f);
    }
    int ok = f && !got && !ferror(f);
    if (f)
        fclose(f);
    char *b64 = ok ? base64_encode_alloc(p, n) : NULL;
    free(p);
    if (!b64)
        engine_fail(ok ? TSE_ERR_NO_MEMORY : TSE_ERR_RESTORE_FAILED, "cannot read %s%s", path,
                    f && !ok ? " (larger than the upload limit)" : "");
    return b64;
}

tse_err remote_restore_from_backup(void *backend, const char *const *paths, size_t n_paths, uint64_t *added)
{
    remote *r = backend;
    if (added)
        *added = 0;
    if (!paths || !n_paths)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "a TSE handle and at least one archive are required");
    json_t *list = json_array(), *body = json_pack("{s:o*}", "archives", list), *j = NULL;
    tse_err rc = body ? TSE_OK : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    for (size_t i = 0; !rc && i < n_paths; i++) {
        char *b64 = paths[i] ? file_b64(paths[i]) : NULL;
        if (!paths[i])
            rc = engine_fail(TSE_ERR_INVALID_ARGUMENT, "archive path %zu is NULL", i);
        else if (!b64 || json_array_append_new(list, json_string(b64)))
            rc = b64 ? engine_fail(TSE_ERR_NO_MEMORY, "no memory") : (tse_err)TSE_ERR_RESTORE_FAILED;
        free(b64);
    }
    char path[80];
    snprintf(path, sizeof path, "%s/restore", r->tss_path);
    if (!rc)
        rc = http_call(r->h, "POST", path, body, false, &j);
    if (!rc && added)
        *added = (uint64_t)json_integer_value(json_object_get(j, "restored"));
    json_decref(j);
    json_decref(body);
    return rc;
}
