/*
 * archive.c - writes a TR-03151 export archive (TSE-FORMATS.md section 4)
 * with libarchive: a flat ustar archive holding info.csv, every certificate
 * of the chain as <key serial hex>_X509.der and every selected log under its
 * spec name, streamed from the store one log at a time (constant memory)
 * into the caller's chunk callback.
 *
 * info.csv is the one of TR-03151-1 v1.1.1 (the components of
 * device_info.c, then the description) for TSEs of log format 3, and the
 * one line of v1.0.1 for those of format 2.
 *
 * Entries are ustar (typeflag '0', mode 0644, mtime = creation time). A name
 * longer than ustar's 100 characters (a long clientId) gets a pax extended
 * header for that entry only, the one way TAR can carry such a name.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "export/internal.h"

#define NAME_CAP 512

typedef struct writer {
    struct archive *a;
    struct archive_entry *e;
    int64_t mtime;
    tse_export_write_fn write;
    void *ctx;
    int cb_rc;              /* the callback's refusal, if any */
    bool discard;           /* failed: nothing more reaches the callback */
    uint64_t bytes, logs;
    uint64_t last_counter;  /* highest counter written */
    tse_error *err;
} writer;

/* A refusal of the receiver is remembered, not passed to libarchive: an
 * archive in its fatal state does not free its buffers. The export stops at
 * the next entry and the rest goes nowhere. */
static la_ssize_t on_write(struct archive *a, void *p, const void *buf, size_t len)
{
    (void)a;
    writer *w = p;
    if (w->cb_rc || w->discard)
        return (la_ssize_t)len;
    int rc = w->write(w->ctx, buf, len);
    if (rc)
        w->cb_rc = rc < 0 ? rc : TSE_ERR_STORAGE_FAILURE;
    else
        w->bytes += len;
    return (la_ssize_t)len;
}

static int archive_error(writer *w, const char *what)
{
    if (w->cb_rc)
        return error_set(w->err, w->cb_rc, "the export was stopped by its receiver (%s)", tse_errname(w->cb_rc));
    return error_set(w->err, TSE_ERR_STORAGE_FAILURE, "%s: %s", what, archive_error_string(w->a));
}

static int put_file(writer *w, const char *name, const void *data, size_t len)
{
    archive_entry_clear(w->e);
    archive_entry_set_pathname(w->e, name);
    archive_entry_set_size(w->e, (la_int64_t)len);
    archive_entry_set_filetype(w->e, AE_IFREG);
    archive_entry_set_perm(w->e, 0644);
    archive_entry_set_mtime(w->e, w->mtime, 0);
    if (archive_write_header(w->a, w->e) != ARCHIVE_OK || w->cb_rc)
        return archive_error(w, name);
    if (len && (archive_write_data(w->a, data, len) != (la_ssize_t)len || w->cb_rc))
        return archive_error(w, name);
    return 0;
}

/* "a","b" with quotes doubled inside values, as CSV has it. */
static void csv_value(char *out, size_t cap, size_t *pos, const char *v, bool last)
{
    if (*pos < cap)
        out[(*pos)++] = '"';
    for (; *v && *pos + 2 < cap; v++) {
        if (*v == '"')
            out[(*pos)++] = '"';
        out[(*pos)++] = *v;
    }
    if (*pos + 2 < cap) {
        out[(*pos)++] = '"';
        out[(*pos)++] = last ? '\n' : ',';
    }
}

/* info.csv: TR-03151-1 v1.1.1 section 2.5.3 (a line per component, then
 * the description padded to as many values), or the one line of v1.0.1. */
static int put_info(writer *w, int format, const char *description, const export_device *dev)
{
    if (format == 2)
        dev = NULL;
    else if (!dev && export_device_get(&dev, w->err) != 0)
        return TSE_ERR_INVALID_ARGUMENT;
    size_t cap = 4 * TSE_MAX_DESCRIPTION_LEN + 128 + (dev ? (size_t)dev->n * (2 * 5 * EXPORT_VALUE_MAX + 80) : 0), n = 0;
    char *csv = malloc(cap);
    if (!csv)
        return error_set(w->err, TSE_ERR_NO_MEMORY, "out of memory");
    if (!dev) {
        const char *fields[] = {"description:", description ? description : "", "manufacturer:", EXPORT_MANUFACTURER,
                                "version:", OPENTSE_VERSION};
        for (size_t i = 0; i < 6; i++)
            csv_value(csv, cap, &n, fields[i], i == 5);
    } else {
        static const char *const labels[EXPORT_COMPONENT_FIELDS] = {"component:", "manufacturer:", "model:", "version:",
                                                                    "certification-id:"};
        for (int c = 0; c < dev->n; c++)
            for (int i = 0; i < EXPORT_COMPONENT_FIELDS; i++) {
                csv_value(csv, cap, &n, labels[i], false);
                csv_value(csv, cap, &n, dev->c[c].v[i], i == EXPORT_COMPONENT_FIELDS - 1);
            }
        csv_value(csv, cap, &n, "description:", false);
        csv_value(csv, cap, &n, description ? description : "", false);
        n--;   /* the value's comma: the padding follows */
        for (int i = 0; i < 2 * EXPORT_COMPONENT_FIELDS - 2; i++)
            csv[n++] = ',';
        csv[n++] = '\n';
    }
    int rc = put_file(w, "info.csv", csv, n);
    free(csv);
    return rc;
}

static int put_certificates(writer *w, const char *pem)
{
    csp_cert *certs = NULL;
    size_t n = 0;
    tse_error cerr = {0};
    int rc = 0;
    if (!pem || (rc = csp_chain_split(pem, &certs, &n, &cerr)) != 0 || !n)
        return error_set(w->err, rc == TSE_ERR_NO_MEMORY ? rc : TSE_ERR_EXPORT_CERT_FAILED,
                           "the certificate chain cannot be read: %s",
                           pem ? cerr.message : "there is none");
    for (size_t i = 0; i < n && !rc; i++) {
        char name[80];
        hex_encode(name, sizeof name, certs[i].key_serial, 32);
        strcat(name, "_X509.der");
        rc = put_file(w, name, certs[i].der, certs[i].der_len);
    }
    csp_certs_free(certs, n);
    return rc;
}

static int put_log(void *p, const store_log *l)
{
    writer *w = p;
    logmsg m;
    tse_error perr = {0};
    char name[NAME_CAP];
    /* Every name carries the signature counter, unique in one TSE's store,
     * so no name repeats and the _Fc-n of TR-03151 for repeated names is
     * never needed here (restore accepts it in archives). A stored log
     * altered so that it does not parse or names itself with bytes outside
     * printable ASCII is exported all the same, as Invalid_Sig-N.log with its
     * bytes as stored: the export of everything stored must never fail
     * (TR-03153-1 3.8), and the verifier calls such a file what it is. */
    bool named = logmsg_parse(l->data, l->len, &m, &perr) && logmsg_filename(&m, 0, name, sizeof name);
    for (size_t i = 0; named && name[i]; i++)
        named = name[i] >= 0x20 && name[i] < 0x7f;   /* the parts are PrintableStrings */
    if (!named)
        snprintf(name, sizeof name, "Invalid_Sig-%llu.log", (unsigned long long)l->counter);
    int rc = put_file(w, name, l->data, l->len);
    if (!rc) {
        w->logs++;
        w->last_counter = l->counter;
    }
    return rc;
}

int export_archive(const export_source *src, const tse_export_filter *f, tse_export_write_fn write, void *ctx,
                   tse_export_result *out, tse_error *err)
{
    tse_export_filter none = {0};
    if (out)
        *out = (tse_export_result){0};
    if (!src || !src->st || !write)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "export_archive: a store and a callback are required");
    if (!f)
        f = &none;
    store_log_filter sel;
    int rc = export_select(src->st, f, &sel, err);
    if (rc)
        return rc;
    if (out)
        out->cursor = sel.to;   /* known before the first chunk (for HTTP headers) */

    writer w = {.mtime = src->mtime, .write = write, .ctx = ctx, .err = err};
    w.a = archive_write_new();
    w.e = archive_entry_new();
    if (!w.a || !w.e) {
        archive_write_free(w.a);
        archive_entry_free(w.e);
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    }
    /* pax_restricted writes plain ustar headers unless a name needs more */
    if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK ||
        archive_write_open2(w.a, &w, NULL, on_write, NULL, NULL) != ARCHIVE_OK)
        rc = archive_error(&w, "cannot start the archive");
    if (!rc)
        rc = put_info(&w, src->info_format, src->description, src->device);
    if (!rc)
        rc = put_certificates(&w, src->cert_pem);
    if (!rc) {
        tse_error serr = {0};
        rc = store_foreach_log_filtered(src->st, &sel, put_log, &w, &serr);
        if (rc && serr.message[0])   /* the store failed, not put_log */
            rc = error_set(err, rc == TSE_ERR_NO_MEMORY ? rc : TSE_ERR_STORAGE_FAILURE, "%s", serr.message);
    }
    /* closed on every path (it frees the buffers); after a failure its end
     * goes nowhere, so a broken archive never looks complete */
    w.discard = rc != 0;
    if (archive_write_close(w.a) != ARCHIVE_OK || w.cb_rc) {
        if (!rc)
            rc = archive_error(&w, "cannot finish the archive");
    }
    archive_write_free(w.a);
    archive_entry_free(w.e);
    if (rc)
        return rc;
    if (out)
        *out = (tse_export_result){.cursor = w.last_counter, .logs = w.logs, .bytes = w.bytes};
    return 0;
}
