/*
 * restore.c - restoreFromBackup: reads a TSE's own export archives and adds
 * the logs its store misses, all in one store transaction that commits only
 * when every entry of every archive was checked (signature with the TSE's
 * key, serial number, signature algorithm, file name, bytes equal to any log
 * already stored under the counter, certificates, no counter gap).
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "export/internal.h"

/* No log of ours comes near this; anything bigger is not one. */
#define MAX_ENTRY (64u << 20)

typedef struct restorer {
    const export_restore_key *key;
    store_bulk *bulk;
    csp_cert *chain;
    size_t n_chain;
    uint8_t *buf;
    size_t cap;
    const char *path, *name;   /* where we are, for messages */
    tse_error *err;
} restorer;

static int refuse(restorer *r, const char *fmt, const char *detail)
{
    char what[TSE_ERROR_MSGLEN];
    snprintf(what, sizeof what, fmt, detail ? detail : "");
    return error_set(r->err, TSE_ERR_RESTORE_FAILED, "%s: %s: %s", r->path, r->name ? r->name : "archive", what);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- certificates ---- */

static X509 *load_cert(const uint8_t *data, size_t len)
{
    if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        return x;
    }
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && p != data + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int check_cert(restorer *r, const uint8_t *data, size_t len)
{
    X509 *x = load_cert(data, len);
    if (!x)
        return refuse(r, "not a certificate%s", NULL);
    uint8_t point[160], serial[32], *der = NULL;
    size_t point_len = 0;
    EVP_PKEY *pub = X509_get0_pubkey(x);   /* owned by x */
    int der_len = i2d_X509(x, &der);
    int rc = 0;
    if (!pub || der_len <= 0 || csp_pubkey_point(pub, point, sizeof point, &point_len) != 0)
        rc = refuse(r, "the certificate's public key cannot be read%s", NULL);
    X509_free(x);
    char hex[65];
    if (!rc) {
        csp_serial(point, point_len, serial);
        hex_encode(hex, sizeof hex, serial, 32);
        if (strncasecmp(r->name, hex, 64) != 0 || strncmp(r->name + 64, "_X509.", 6) != 0)
            rc = refuse(r, "the name does not match the certificate's key serial %s", hex);
    }
    bool ours = !rc && memcmp(serial, r->key->serial, 32) == 0;
    for (size_t i = 0; !rc && !ours && i < r->n_chain; i++)
        ours = r->chain[i].der_len == (size_t)der_len && memcmp(r->chain[i].der, der, (size_t)der_len) == 0;
    if (!rc && !ours)
        rc = refuse(r, "the certificate is not one of this TSE's chain%s", NULL);
    OPENSSL_free(der);
    return rc;
}

/* ---- logs ---- */

/* The file name of m must be `name`, with or without _Fc-<n>. */
static bool name_matches(const logmsg *m, const char *name)
{
    char want[512];
    if (logmsg_filename(m, 0, want, sizeof want) && strcmp(want, name) == 0)
        return true;
    const char *fc = strstr(name, "_Fc-");
    if (!fc)
        return false;
    char *end = NULL;
    unsigned long n = strtoul(fc + 4, &end, 10);
    return n > 0 && n < 1000000 && isdigit((unsigned char)fc[4]) && logmsg_filename(m, (unsigned)n, want, sizeof want) &&
           strcmp(want, name) == 0;
}

static bool copy_text(logmsg_bytes b, char *out, size_t cap)
{
    if (b.n >= cap || (b.n && memchr(b.p, 0, b.n)))
        return false;
    if (b.n)   /* an audit log has no operation */
        memcpy(out, b.p, b.n);
    out[b.n] = 0;
    return true;
}

static int check_log(restorer *r, const uint8_t *data, size_t len)
{
    logmsg m;
    tse_error perr = {0};
    if (!logmsg_parse(data, len, &m, &perr))
        return refuse(r, "not a log message: %.200s", perr.message);
    if (m.serial_number.n != 32 || memcmp(m.serial_number.p, r->key->serial, 32) != 0)
        return refuse(r, "the log was signed by another TSE (serial number)%s", NULL);
    if (strcmp(m.signature_algorithm_oid, r->key->sigalg_oid) != 0)
        return refuse(r, "signature algorithm %s is not this TSE's", m.signature_algorithm_oid);
    if (csp_verify(r->key->pub, r->key->hash, m.signed_bytes.p, m.signed_bytes.n, m.signature.p, m.signature.n,
                   NULL) != 0)
        return refuse(r, "the signature does not verify with the TSE's key%s", NULL);
    if (!name_matches(&m, r->name))
        return refuse(r, "the file name does not match the log's content%s", NULL);
    char client[TSE_MAX_CLIENT_ID_LEN + 1] = "", op[128] = "";
    bool tx = m.kind == LOGMSG_TRANSACTION;
    if ((tx && !copy_text(m.client_id, client, sizeof client)) || !copy_text(m.operation, op, sizeof op))
        return refuse(r, "clientId or operation is too long or holds NUL%s", NULL);
    store_log l = {
        .counter = m.signature_counter,
        .kind = m.kind,
        .log_time = m.log_time,
        .transaction_number = tx ? m.transaction_number : 0,
        .client_id = tx ? client : NULL,
        .operation = op[0] ? op : NULL,
        .data = data,
        .len = len,
    };
    tse_error serr = {0};
    int rc = store_bulk_put(r->bulk, &l, &serr);
    return rc ? refuse(r, "%s", serr.message) : 0;
}

/* ---- archives ---- */

static int read_entry(restorer *r, struct archive *a, size_t len)
{
    if (len > r->cap) {
        uint8_t *grown = realloc(r->buf, len);
        if (!grown)
            return error_set(r->err, TSE_ERR_NO_MEMORY, "out of memory for an entry of %zu bytes", len);
        r->buf = grown;
        r->cap = len;
    }
    for (size_t got = 0; got < len;) {
        la_ssize_t n = archive_read_data(a, r->buf + got, len - got);
        if (n <= 0)
            return refuse(r, "cannot read the entry: %s", archive_error_string(a));
        got += (size_t)n;
    }
    return 0;
}

/* One archive: a whole file, or the `n` parts of a split one read as their
 * concatenation (TR-03151-1 v1.1.1 section 2.5.2). */
static int restore_one(restorer *r, const char *const *paths, size_t n)
{
    r->path = paths[0];
    r->name = NULL;
    struct archive *a = archive_read_new();
    const char *names[ARCHIVE_MAX_PARTS + 1];
    if (!a)
        return error_set(r->err, TSE_ERR_NO_MEMORY, "out of memory");
    memcpy(names, paths, n * sizeof *paths);
    names[n] = NULL;
    int rc = 0;
    if (archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_open_filenames(a, names, 1 << 16) != ARCHIVE_OK)
        rc = refuse(r, "cannot open the archive: %s", archive_error_string(a));
    struct archive_entry *e;
    char name[512];
    size_t logs = 0;
    while (!rc) {
        int st = archive_read_next_header(a, &e);
        if (st == ARCHIVE_EOF)
            break;
        if (st != ARCHIVE_OK) {
            rc = refuse(r, "not a readable TAR archive: %s", archive_error_string(a));
            break;
        }
        snprintf(name, sizeof name, "%s", archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
        r->name = name;
        la_int64_t size = archive_entry_size(e);
        if (archive_entry_filetype(e) != AE_IFREG || strchr(name, '/') || !name[0])
            rc = refuse(r, "not a plain file at the top of the archive%s", NULL);
        else if (size < 0 || (uint64_t)size > MAX_ENTRY)
            rc = refuse(r, "the entry is too large%s", NULL);
        else if (strcmp(name, "info.csv") == 0)
            continue;
        else if (!(rc = read_entry(r, a, (size_t)size))) {
            if (strstr(name, "_X509."))
                rc = check_cert(r, r->buf, (size_t)size);
            else if (ends_with(name, ".log"))
                logs += !(rc = check_log(r, r->buf, (size_t)size));
            else
                rc = refuse(r, "unexpected file in an export archive%s", NULL);
        }
    }
    archive_read_free(a);
    r->name = NULL;
    if (!rc && logs == 0)   /* an empty or all-zero TAR is no backup */
        rc = refuse(r, "the archive holds no log messages%s", NULL);
    return rc;
}

int export_restore(store *st, const export_restore_key *key, const char *const *paths, size_t n_paths,
                   uint64_t *added, tse_error *err)
{
    if (added)
        *added = 0;
    if (!st || !key || !key->pub || !key->serial || !key->sigalg_oid || !paths || !n_paths)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "export_restore: the store, key and archives are required");
    for (size_t i = 0; i < n_paths; i++)
        if (!paths[i])
            return error_set(err, TSE_ERR_INVALID_ARGUMENT, "archive path missing");
    restorer r = {.key = key, .err = err};
    tse_error cerr = {0}, serr = {0};
    if (key->cert_pem && csp_chain_split(key->cert_pem, &r.chain, &r.n_chain, &cerr) != 0)
        return error_set(err, TSE_ERR_RESTORE_FAILED, "the TSE's certificate chain cannot be read: %s", cerr.message);
    int rc = store_bulk_begin(st, &r.bulk, &serr);
    if (rc)
        rc = error_set(err, TSE_ERR_RESTORE_FAILED, "%s", serr.message);
    for (size_t i = 0, k; !rc && i < n_paths; i += k) {
        char why[1200] = "";
        k = archive_group(paths + i, n_paths - i, why, sizeof why);
        rc = k ? restore_one(&r, paths + i, k) : error_set(err, TSE_ERR_RESTORE_FAILED, "%s", why);
    }
    if (r.bulk) {
        int end = store_bulk_end(r.bulk, rc == 0, added, &serr);
        if (!rc && end)
            rc = error_set(err, TSE_ERR_RESTORE_FAILED, "nothing was restored: %s", serr.message);
    }
    free(r.buf);
    csp_certs_free(r.chain, r.n_chain);
    return rc;
}
