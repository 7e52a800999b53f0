/*
 * se_functions.c - libopentse's TR-03151-1 v1.1.1 functions of a handle
 * (opentse.h, "TR-03151-1 v1.1.1 section 3"): the calls that go to the
 * transport (setDescription, the transaction-logging lock, the device
 * information, a transaction's state, the last transaction log) and the
 * ones built here from them and from getInfo: the memory figures, the
 * health, component-version, signature-counter and open-transaction DER
 * structures, the current time and counters, the log file names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>

#include "base/encode.h"
#include "client/client.h"
#include "csp/csp.h"
#include "codec/der.h"
#include "codec/logmsg.h"
#include "engine/engine.h"

#define CHECK_HANDLE(t)                                                                                             \
    do {                                                                                                            \
        if (!(t))                                                                                                   \
            return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");                                          \
    } while (0)

tse_err tse_set_description(tse *t, const char *description)
{
    CHECK_HANDLE(t);
    return t->ops->set_description(t->backend, description);
}

tse_err tse_get_description(tse *t, char out[TSE_MAX_DESCRIPTION_LEN + 1])
{
    CHECK_HANDLE(t);
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    tse_device_info d;
    tse_err rc = tse_get_device_info(t, &d);
    if (!rc)
        memcpy(out, d.description, sizeof d.description);
    return rc;
}

tse_err tse_lock_transaction_logging(tse *t)
{
    CHECK_HANDLE(t);
    return t->ops->set_transaction_logging_locked(t->backend, true);
}

tse_err tse_unlock_transaction_logging(tse *t)
{
    CHECK_HANDLE(t);
    return t->ops->set_transaction_logging_locked(t->backend, false);
}

tse_err tse_get_device_info(tse *t, tse_device_info *out)
{
    CHECK_HANDLE(t);
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    return t->ops->get_device_info(t->backend, out);
}

/* One memory figure; total and free need the free space known. */
static tse_err memory(tse *t, int which, uint64_t *out)
{
    CHECK_HANDLE(t);
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    tse_device_info d;
    tse_err rc = tse_get_device_info(t, &d);
    if (rc)
        return rc;
    if (which != 1 && !d.free_memory_known)
        return engine_fail(TSE_ERR_NOT_SUPPORTED, "the store does not report the free space of its file system");
    *out = which == 0 ? d.total_memory : which == 1 ? d.used_memory : d.free_memory;
    return TSE_OK;
}

tse_err tse_get_total_memory(tse *t, uint64_t *out)
{
    return memory(t, 0, out);
}

tse_err tse_get_used_memory(tse *t, uint64_t *out)
{
    return memory(t, 1, out);
}

tse_err tse_get_free_memory(tse *t, uint64_t *out)
{
    return memory(t, 2, out);
}

tse_err tse_get_time_sync_variant(tse *t, tse_time_sync_variant *out)
{
    CHECK_HANDLE(t);
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    tse_device_info d;
    tse_err rc = tse_get_device_info(t, &d);
    if (!rc)
        *out = d.time_sync_variant;
    return rc;
}

/* ------------------------------------------------------- DER results */

/* Writes the content of record i of a SEQUENCE OF SEQUENCE into w. */
typedef void (*record_fn)(const void *ctx, size_t i, der_w *w);

/* SEQUENCE OF SEQUENCE of n records into *der (malloc'd). */
static tse_err sequence_of(size_t n, record_fn rec, const void *ctx, uint8_t **der, size_t *len)
{
    if (!der || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "der and len are required");
    uint8_t one[1024];
    der_w measure = der_w_init(NULL, 0);
    for (size_t i = 0; i < n; i++) {
        der_w r = der_w_init(one, sizeof one);
        rec(ctx, i, &r);
        if (!der_w_ok(&r))
            return engine_fail(TSE_ERR_INTERNAL, "a record does not fit %zu bytes", sizeof one);
        der_put_tlv(&measure, DER_SEQUENCE, one, r.len);
    }
    size_t total = der_header_len(measure.len) + measure.len;
    uint8_t *out = malloc(total);
    if (!out)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    der_w w = der_w_init(out, total);
    der_put_header(&w, DER_SEQUENCE, measure.len);
    for (size_t i = 0; i < n; i++) {
        der_w r = der_w_init(one, sizeof one);
        rec(ctx, i, &r);
        der_put_tlv(&w, DER_SEQUENCE, one, r.len);
    }
    *der = out;
    *len = w.len;
    return TSE_OK;
}

/* A PrintableString of s, other characters as '?'. */
static void put_printable(der_w *w, const char *s)
{
    char buf[256];
    size_t n = strnlen(s, sizeof buf - 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = logmsg_printable(&s[i], 1) ? s[i] : '?';
    der_put_tlv(w, DER_PRINTABLE_STRING, buf, n);
}

/* The DeviceInformationSet as the update logs carry it (logmsg_device_information). */
tse_err tse_get_component_versions(tse *t, uint8_t **der, size_t *len)
{
    CHECK_HANDLE(t);
    if (!der || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "der and len are required");
    tse_device_info *d = malloc(sizeof *d);
    char (*v)[5][TSE_COMPONENT_VALUE_MAX] = malloc(TSE_MAX_COMPONENTS * sizeof *v);
    logmsg_component c[TSE_MAX_COMPONENTS];
    tse_err rc = d && v ? tse_get_device_info(t, d) : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    for (size_t i = 0; !rc && i < d->n_components; i++) {
        const tse_component *s = &d->components[i];
        const char *f[5] = {s->name, s->manufacturer, s->model, s->version, s->certification_id};
        for (int k = 0; k < 5; k++)
            logmsg_printable_copy(v[i][k], TSE_COMPONENT_VALUE_MAX, f[k]);
        c[i] = (logmsg_component){v[i][0], v[i][1], v[i][2], v[i][3], v[i][4]};
    }
    der_w m = der_w_init(NULL, 0);
    if (!rc && !logmsg_device_information(&m, c, d->n_components))
        rc = engine_fail(TSE_ERR_INTERNAL, "the components cannot be encoded");
    uint8_t *out = rc ? NULL : malloc(m.len);
    if (!rc && !out)
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    if (!rc) {
        der_w w = der_w_init(out, m.len);
        logmsg_device_information(&w, c, d->n_components);
        *der = out;
        *len = w.len;
    }
    free(v);
    free(d);
    return rc;
}

tse_err tse_update_device(tse *t, const uint8_t *package, size_t len)
{
    CHECK_HANDLE(t);
    return t->ops->update_device(t->backend, package, len);
}

enum { HEALTH_OK = 0, HEALTH_WARNING = 1, HEALTH_ERROR = 2, HEALTH_FATAL = 3 };

typedef struct health {
    const char *name;
    int level;
    char why[200];
} health;

static void health_record(const void *ctx, size_t i, der_w *w)
{
    const health *h = &((const health *)ctx)[i];
    put_printable(w, h->name);
    der_put_uint(w, DER_ENUMERATED, (uint64_t)h->level);
    if (h->why[0])
        put_printable(w, h->why);
}

#define MIB (1024ull * 1024ull)

tse_err tse_get_device_health(tse *t, uint8_t **der, size_t *len)
{
    CHECK_HANDLE(t);
    tse_info info;
    tse_device_info d;
    tse_err rc = tse_get_info(t, &info);
    if (!rc)
        rc = tse_get_device_info(t, &d);
    if (rc)
        return rc;
    health h[3] = {{.name = "SMA"}, {.name = "CSP"}, {.name = "storage"}};
    if (info.state == TSE_STATE_DISABLED) {
        h[0].level = HEALTH_FATAL;
        snprintf(h[0].why, sizeof h[0].why, "disabled: nothing is signed any more");
    } else if (info.state != TSE_STATE_INITIALIZED) {
        snprintf(h[0].why, sizeof h[0].why, "not initialized yet");
    }
    if (!info.self_test_ok) {
        h[1].level = HEALTH_ERROR;
        snprintf(h[1].why, sizeof h[1].why, "the last self-test failed");
    } else if (info.end_of_usage_days_left < 0) {
        h[1].level = HEALTH_FATAL;
        snprintf(h[1].why, sizeof h[1].why, "the certificate chain has expired");
    } else if (info.end_of_usage_days_left <= 90) {
        h[1].level = HEALTH_WARNING;
        snprintf(h[1].why, sizeof h[1].why, "the certificate chain expires in %d days", info.end_of_usage_days_left);
    }
    if (!d.free_memory_known) {
        snprintf(h[2].why, sizeof h[2].why, "free space not reported");
    } else if (d.free_memory < MIB) {
        h[2].level = HEALTH_ERROR;
        snprintf(h[2].why, sizeof h[2].why, "less than 1 MiB free");
    } else if (d.free_memory < 100 * MIB) {
        h[2].level = HEALTH_WARNING;
        snprintf(h[2].why, sizeof h[2].why, "less than 100 MiB free");
    }
    return sequence_of(3, health_record, h, der, len);
}

static void counter_record(const void *ctx, size_t i, der_w *w)
{
    (void)i;
    const tse_info *info = ctx;
    der_put_tlv(w, DER_OCTET_STRING, info->serial_number, TSE_SERIAL_LEN);
    der_put_uint(w, DER_INTEGER, info->signature_counter);
}

tse_err tse_get_current_logging_signature_counters(tse *t, uint8_t **der, size_t *len)
{
    CHECK_HANDLE(t);
    tse_info info;
    tse_err rc = tse_get_info(t, &info);
    return rc ? rc : sequence_of(1, counter_record, &info, der, len);
}

typedef struct open_set {
    const tse_open_transaction *tx;
    tse_time_format fmt;
} open_set;

static void open_record(const void *ctx, size_t i, der_w *w)
{
    const open_set *s = ctx;
    der_put_uint(w, DER_INTEGER, s->tx[i].transaction_number);
    logmsg_put_time(w, (logmsg_time_format)s->fmt, s->tx[i].last_update);
}

static int by_number(const void *a, const void *b)
{
    uint64_t x = ((const tse_open_transaction *)a)->transaction_number;
    uint64_t y = ((const tse_open_transaction *)b)->transaction_number;
    return x < y ? -1 : x > y;
}

tse_err tse_get_open_transactions(tse *t, uint8_t **der, size_t *len)
{
    CHECK_HANDLE(t);
    tse_info info;
    tse_open_transaction *tx = NULL;
    size_t n = 0;
    tse_err rc = tse_get_info(t, &info);
    if (!rc)
        rc = tse_list_open_transactions(t, &tx, &n);
    if (rc)
        return rc;
    if (n)
        qsort(tx, n, sizeof *tx, by_number);
    open_set s = {tx, info.time_format};
    rc = sequence_of(n, open_record, &s, der, len);
    tse_free(tx);
    return rc;
}

tse_err tse_get_current_se_time(tse *t, int64_t *out)
{
    CHECK_HANDLE(t);
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    tse_info info;
    tse_err rc = tse_get_info(t, &info);
    if (!rc && info.state == TSE_STATE_DISABLED)
        rc = engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE was disabled");
    if (!rc && !info.time_set)
        rc = engine_fail(TSE_ERR_TIME_NOT_SET, "the TSE's time has not been set (tse_update_time)");
    if (!rc)
        *out = info.time_now;
    return rc;
}

tse_err tse_get_current_transaction_counter(tse *t, uint64_t *out)
{
    CHECK_HANDLE(t);
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    tse_info info;
    tse_err rc = tse_get_info(t, &info);
    if (!rc)
        *out = info.transaction_counter;
    return rc;
}

/* The export file name of the log message msg. */
static tse_err file_name_of(const uint8_t *msg, size_t len, char name[TSE_MAX_LOG_FILE_NAME])
{
    logmsg m;
    tse_error err = {0};
    if (!logmsg_parse(msg, len, &m, &err))
        return engine_fail(TSE_ERR_READING_LOG_MESSAGE, "the stored log message does not parse: %s", err.message);
    if (!logmsg_filename(&m, 0, name, TSE_MAX_LOG_FILE_NAME))
        return engine_fail(TSE_ERR_READING_LOG_MESSAGE, "the log message has no valid file name");
    return TSE_OK;
}

/* A log just read (rc) with its file name; the message is freed on failure. */
static tse_err with_name(tse_err rc, char file_name[TSE_MAX_LOG_FILE_NAME], uint8_t **msg, size_t *len)
{
    if (!rc)
        rc = file_name_of(*msg, *len, file_name);
    if (rc && *msg) {
        tse_free(*msg);
        *msg = NULL;
        *len = 0;
    }
    return rc;
}

tse_err tse_get_last_log_message(tse *t, char file_name[TSE_MAX_LOG_FILE_NAME], uint8_t **msg, size_t *len)
{
    CHECK_HANDLE(t);
    if (!file_name || !msg || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "file_name, msg and len are required");
    *msg = NULL;
    return with_name(tse_read_log_message(t, msg, len), file_name, msg, len);
}

tse_err tse_get_last_transaction_log_message(tse *t, uint64_t transaction_number,
                                             char file_name[TSE_MAX_LOG_FILE_NAME], uint8_t **msg, size_t *len)
{
    CHECK_HANDLE(t);
    if (!file_name || !msg || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "file_name, msg and len are required");
    *msg = NULL;
    return with_name(t->ops->get_last_transaction_log(t->backend, transaction_number, msg, len), file_name, msg,
                     len);
}

tse_err tse_get_transaction_state(tse *t, uint64_t transaction_number, tse_transaction_state *out)
{
    CHECK_HANDLE(t);
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    return t->ops->get_transaction_state(t->backend, transaction_number, out);
}

tse_err tse_configure_logging(tse *t, const char *component_name, const char *event_name, int event_enabled)
{
    (void)event_enabled;
    CHECK_HANDLE(t);
    if (!component_name || !event_name || !*component_name || !*event_name ||
        !logmsg_printable(component_name, strlen(component_name)) || !logmsg_printable(event_name, strlen(event_name)))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "component_name and event_name must be PrintableString names");
    return engine_fail(TSE_ERR_LOGGING_OF_EVENT_NOT_CONFIGURABLE,
                       "OpenTSE logs every event TR-03153-1 requires and has no optional one: \"%s\" of \"%s\" "
                       "is not configurable",
                       event_name, component_name);
}

/* ------------------------------------------ exportLoggingCertificates */

typedef struct cert_sink {
    tse_export_write_fn write;
    void *ctx;
    int stopped;   /* write's non-zero return */
} cert_sink;

static la_ssize_t cert_out(struct archive *a, void *ctx, const void *buf, size_t n)
{
    (void)a;
    cert_sink *s = ctx;
    if (!s->stopped)
        s->stopped = s->write(s->ctx, buf, n);
    return s->stopped ? -1 : (la_ssize_t)n;
}

tse_err tse_export_logging_certificates(tse *t, tse_export_write_fn write, void *ctx)
{
    CHECK_HANDLE(t);
    if (!write)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "write is required");
    char *pem = NULL;
    tse_err rc = tse_export_certificates(t, &pem);
    if (rc)
        return rc;
    csp_cert *certs = NULL;
    size_t n = 0;
    tse_error err = {0};
    if (csp_chain_split(pem, &certs, &n, &err) != 0 || !n) {
        tse_free(pem);
        return engine_fail(TSE_ERR_EXPORT_CERT_FAILED, "the certificate chain cannot be read: %s", err.message);
    }
    tse_free(pem);
    cert_sink sink = {write, ctx, 0};
    struct archive *a = archive_write_new();
    bool ok = a && archive_write_set_format_ustar(a) == ARCHIVE_OK &&
              archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK &&
              archive_write_open(a, &sink, NULL, cert_out, NULL) == ARCHIVE_OK;
    time_t now = time(NULL);
    for (size_t i = 0; ok && i < n; i++) {
        char name[2 * 32 + 16];
        hex_encode(name, sizeof name, certs[i].key_serial, 32);
        strcat(name, "_X509.der");
        struct archive_entry *e = archive_entry_new();
        ok = e != NULL;
        if (ok) {
            archive_entry_set_pathname(e, name);
            archive_entry_set_size(e, (la_int64_t)certs[i].der_len);
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_mtime(e, now, 0);
            ok = archive_write_header(a, e) == ARCHIVE_OK &&
                 archive_write_data(a, certs[i].der, certs[i].der_len) == (la_ssize_t)certs[i].der_len;
        }
        archive_entry_free(e);
    }
    ok = a && archive_write_close(a) == ARCHIVE_OK && ok;
    archive_write_free(a);
    csp_certs_free(certs, n);
    if (sink.stopped)
        return sink.stopped < 0 ? engine_fail(sink.stopped, "the export was stopped by its receiver")
                                : engine_fail(TSE_ERR_STORAGE_FAILURE, "the export was stopped by its receiver");
    return ok ? TSE_OK : engine_fail(TSE_ERR_EXPORT_CERT_FAILED, "the certificate archive cannot be written");
}
