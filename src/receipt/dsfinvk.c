/*
 * dsfinvk.c - DSFinV-K tse.csv and transactions_tse.csv from a TSE's log
 * messages (see dsfinvk.h).
 *
 * Columns as DSFinV-K 2.4 and its index.xml define them: "TSE_Transaktionen"
 * (transactions_tse.csv) and "Stamm_TSE" (tse.csv), each led by the
 * closing's key fields Z_KASSE_ID, Z_ERSTELLUNG, Z_NR (and BON_ID), with
 * index.xml's names (the processData column is TSE_VORGANGSDATEN), order and
 * lengths; tse.csv has TSE_ZERTIFIKAT_I and _II, and _III .. _VII only when a
 * certificate needs them, as the format allows. File form as index.xml
 * declares: ';' between columns, CR LF after each row, text in double quotes
 * (quotes doubled), integers bare, times ISO 8601 (log times in UTC with
 * milliseconds), one header row.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "dsfinvk.h"
#include "internal.h"
#include "receipt.h"

#define CERT_PART 1000   /* TSE_ZERTIFIKAT_I .. _VII hold 1000 characters each */
#define CERT_PARTS 7
#define CERT_PARTS_MIN 2 /* index.xml declares _I and _II */
/* index.xml's lengths of the text columns filled from the logs */
#define LEN_VORGANGSART 30
#define LEN_VORGANGSDATEN 1000

typedef struct key_rec {
    uint8_t serial[32];
    char sigalg[32];
    char time_format[40];
    uint8_t *cert_der;       /* the TSE's certificate, once found */
    size_t cert_len;
    uint8_t point[133];
    size_t point_len;
} key_rec;

typedef struct start_rec {
    size_t key;
    uint64_t tx;
    int64_t time;
} start_rec;

typedef struct finish_rec {
    size_t key;
    uint64_t tx;
    uint64_t counter;
    int64_t time;
    char *client;
    char *process_type;
    uint8_t *process_data;
    size_t process_data_len;
    uint8_t sig[TSE_MAX_SIGNATURE_LEN];
    size_t sig_len;
} finish_rec;

typedef struct cert_rec {
    uint8_t serial[32];
    uint8_t *der;
    size_t der_len;
    uint8_t point[133];
    size_t point_len;
} cert_rec;

struct dsfinvk {
    key_rec *keys;
    size_t n_keys, cap_keys;
    start_rec *starts;
    size_t n_starts, cap_starts;
    finish_rec *finishes;
    size_t n_finishes, cap_finishes;
    cert_rec *certs;
    size_t n_certs, cap_certs;
};

/* Grows *arr to hold one more element of `size`. */
static bool grow(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*(void **)arr, nc * size);
    if (!p)
        return false;
    *(void **)arr = p;
    *cap = nc;
    return true;
}

static int fail(tse_error *err, int code, const char *fmt, const char *arg)
{
    error_set(err, code, fmt, arg);
    return code;
}

dsfinvk *dsfinvk_new(void)
{
    return calloc(1, sizeof(dsfinvk));
}

static void free_finish(finish_rec *f)
{
    free(f->client);
    free(f->process_type);
    free(f->process_data);
}

void dsfinvk_free(dsfinvk *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_keys; i++)
        free(d->keys[i].cert_der);
    for (size_t i = 0; i < d->n_finishes; i++)
        free_finish(&d->finishes[i]);
    for (size_t i = 0; i < d->n_certs; i++)
        free(d->certs[i].der);
    free(d->keys);
    free(d->starts);
    free(d->finishes);
    free(d->certs);
    free(d);
}

/* DSFinV-K's name of a log's time format. */
static const char *time_format_name(const logmsg *m)
{
    switch (m->time_format) {
    case LOGMSG_TIME_UNIX: return "unixTime";
    case LOGMSG_TIME_UTC: return m->time_text.n == 11 ? "utcTime" : "utcTimeWithSeconds";
    case LOGMSG_TIME_GENERALIZED: return m->time_text.n > 15 ? "generalizedTimeWithMilliseconds" : "generalizedTime";
    }
    return "";
}

/* Index of the key of `m`, added on first sight; SIZE_MAX if out of memory. */
static size_t key_of(dsfinvk *d, const logmsg *m)
{
    for (size_t i = 0; i < d->n_keys; i++)
        if (memcmp(d->keys[i].serial, m->serial_number.p, 32) == 0)
            return i;
    if (!grow(&d->keys, &d->cap_keys, d->n_keys, sizeof *d->keys))
        return SIZE_MAX;
    key_rec *k = &d->keys[d->n_keys];
    memset(k, 0, sizeof *k);
    memcpy(k->serial, m->serial_number.p, 32);
    const char *alg = logmsg_sigalg_name(m->signature_algorithm_oid);
    snprintf(k->sigalg, sizeof k->sigalg, "%s", alg ? alg : m->signature_algorithm_oid);
    snprintf(k->time_format, sizeof k->time_format, "%s", time_format_name(m));
    return d->n_keys++;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

int dsfinvk_add_log(dsfinvk *d, const uint8_t *msg, size_t len, tse_error *err)
{
    logmsg m;
    tse_error why = {0};
    if (!logmsg_parse(msg, len, &m, &why))
        return fail(err, TSE_ERR_INVALID_ARGUMENT, "not a log message: %s", why.message);
    if (m.kind != LOGMSG_TRANSACTION)
        return 0;
    size_t key = key_of(d, &m);
    if (key == SIZE_MAX)
        return fail(err, TSE_ERR_NO_MEMORY, "%s", "out of memory");
    bool start = m.tx_op == LOGMSG_TX_START;    /* either log format version */
    bool finish = m.tx_op == LOGMSG_TX_FINISH;
    if (start) {
        if (!grow(&d->starts, &d->cap_starts, d->n_starts, sizeof *d->starts))
            return fail(err, TSE_ERR_NO_MEMORY, "%s", "out of memory");
        d->starts[d->n_starts++] = (start_rec){key, m.transaction_number, m.log_time};
        return 0;
    }
    if (!finish)
        return 0;
    if (m.signature.n > TSE_MAX_SIGNATURE_LEN)
        return fail(err, TSE_ERR_INVALID_ARGUMENT, "%s", "signature longer than any curve's");
    if (!grow(&d->finishes, &d->cap_finishes, d->n_finishes, sizeof *d->finishes))
        return fail(err, TSE_ERR_NO_MEMORY, "%s", "out of memory");
    finish_rec *f = &d->finishes[d->n_finishes];
    memset(f, 0, sizeof *f);
    f->key = key;
    f->tx = m.transaction_number;
    f->counter = m.signature_counter;
    f->time = m.log_time;
    size_t pd_len = 0;
    if (m.has_process_data && !der_get_octets(&m.process_data, NULL, 0, &pd_len))
        return fail(err, TSE_ERR_INVALID_ARGUMENT, "%s", "processData is not an OCTET STRING");
    f->client = dup_n(m.client_id.p, m.client_id.n);
    f->process_type = dup_n(m.process_type.p, m.has_process_type ? m.process_type.n : 0);
    f->process_data = malloc(pd_len + 1);
    if (!f->client || !f->process_type || !f->process_data) {
        free(f->client);
        free(f->process_type);
        free(f->process_data);
        return fail(err, TSE_ERR_NO_MEMORY, "%s", "out of memory");
    }
    /* measured above: the copy fits */
    bool copied = !m.has_process_data || der_get_octets(&m.process_data, f->process_data, pd_len, &pd_len);
    assert(copied);
    (void)copied;
    f->process_data_len = pd_len;
    memcpy(f->sig, m.signature.p, m.signature.n);
    f->sig_len = m.signature.n;
    d->n_finishes++;
    return 0;
}

int dsfinvk_add_certificate(dsfinvk *d, const uint8_t *cert, size_t len, tse_error *err)
{
    const unsigned char *p = cert;
    X509 *x = len > 0 && cert[0] == 0x30 ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (!x) {
        BIO *b = BIO_new_mem_buf(cert, (int)len);
        x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    }
    if (!x)
        return fail(err, TSE_ERR_CERTIFICATE_INVALID, "%s", "not a certificate (DER or PEM)");
    int rc = TSE_ERR_NO_MEMORY;
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    cert_rec c = {0};
    if (der_len <= 0)
        goto out;
    rc = TSE_ERR_CERTIFICATE_INVALID;
    if (!pk || csp_pubkey_point(pk, c.point, sizeof c.point, &c.point_len) != 0) {
        fail(err, rc, "%s", "the certificate's key is not an EC key");
        goto out;
    }
    rc = TSE_ERR_NO_MEMORY;
    if (!grow(&d->certs, &d->cap_certs, d->n_certs, sizeof *d->certs) || !(c.der = malloc((size_t)der_len)))
        goto out;
    memcpy(c.der, der, (size_t)der_len);
    c.der_len = (size_t)der_len;
    csp_serial(c.point, c.point_len, c.serial);
    d->certs[d->n_certs++] = c;
    rc = 0;
out:
    if (rc == TSE_ERR_NO_MEMORY)
        fail(err, rc, "%s", "out of memory");
    OPENSSL_free(der);
    X509_free(x);
    return rc;
}

static int cmp_start(const void *a, const void *b)
{
    const start_rec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->tx < y->tx ? -1 : x->tx > y->tx;
}

static int cmp_finish(const void *a, const void *b)
{
    const finish_rec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* A text field: quoted, quotes doubled. */
static void csv_text(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static void csv_str(FILE *f, const char *s)
{
    csv_text(f, s, strlen(s));
}

/* Z_KASSE_ID;Z_ERSTELLUNG;Z_NR; */
static void csv_keys(FILE *f, const char *kasse, const char *erstellung, uint64_t z_nr)
{
    csv_str(f, kasse);
    fputc(';', f);
    csv_str(f, erstellung);
    fprintf(f, ";%llu;", (unsigned long long)z_nr);
}

static const char *kasse_of(const dsfinvk_options *o, const finish_rec *f)
{
    return o->kasse_id ? o->kasse_id : f->client;
}

static int write_transactions(dsfinvk *d, const dsfinvk_options *o, const char *erstellung, FILE *f,
                              dsfinvk_summary *sum)
{
    fputs("Z_KASSE_ID;Z_ERSTELLUNG;Z_NR;BON_ID;TSE_ID;TSE_TANR;TSE_TA_START;TSE_TA_ENDE;TSE_TA_VORGANGSART;"
          "TSE_TA_SIGZ;TSE_TA_SIG;TSE_TA_FEHLER;TSE_VORGANGSDATEN\r\n", f);
    for (size_t i = 0; i < d->n_finishes; i++) {
        const finish_rec *r = &d->finishes[i];
        start_rec probe = {r->key, r->tx, 0};
        const start_rec *s =
            d->n_starts ? bsearch(&probe, d->starts, d->n_starts, sizeof *d->starts, cmp_start) : NULL;
        char start[32] = "", end[32] = "", bon[24];
        if (s)
            time_iso(s->time, TIME_ISO_MILLIS, start, sizeof start);
        else
            sum->without_start++;
        time_iso(r->time, TIME_ISO_MILLIS, end, sizeof end);
        char *sig = base64_encode_alloc(r->sig, r->sig_len);
        if (!sig)
            return TSE_ERR_NO_MEMORY;
        /* BON_ID: the register's own Vorgangs-ID is unknown to the TSE; the
         * transaction number stands in until the register merges its own. */
        snprintf(bon, sizeof bon, "%llu", (unsigned long long)r->tx);
        csv_keys(f, kasse_of(o, r), erstellung, o->z_nr);
        csv_str(f, bon);
        fprintf(f, ";%llu;%llu;", (unsigned long long)(o->first_tse_id + r->key), (unsigned long long)r->tx);
        csv_str(f, start);
        fputc(';', f);
        csv_str(f, end);
        fputc(';', f);
        csv_str(f, r->process_type);
        fprintf(f, ";%llu;", (unsigned long long)r->counter);
        csv_str(f, sig);
        fputc(';', f);
        csv_str(f, s ? "" : "StartTransaction log not in the data");
        fputc(';', f);
        /* processData that is not UTF-8 text or longer than the column
         * stays out (the field is optional) */
        bool text = rc_utf8_text(r->process_data, r->process_data_len, true) &&
                    r->process_data_len <= LEN_VORGANGSDATEN;
        csv_text(f, text ? (const char *)r->process_data : "", text ? r->process_data_len : 0);
        fputs("\r\n", f);
        free(sig);
        sum->transaction_rows++;
    }
    return 0;
}

/* One row per TSE key and Z_KASSE_ID, in order of the sorted finishes. */
static int write_tse(dsfinvk *d, const dsfinvk_options *o, const char *erstellung, FILE *f, dsfinvk_summary *sum)
{
    static const char *const part_names[CERT_PARTS] = {"I", "II", "III", "IV", "V", "VI", "VII"};
    size_t parts = CERT_PARTS_MIN;
    for (size_t k = 0; k < d->n_keys; k++) {
        size_t need = (4 * ((d->keys[k].cert_len + 2) / 3) + CERT_PART - 1) / CERT_PART;
        if (need > parts)
            parts = need;
    }
    fputs("Z_KASSE_ID;Z_ERSTELLUNG;Z_NR;TSE_ID;TSE_SERIAL;TSE_SIG_ALGO;TSE_ZEITFORMAT;TSE_PD_ENCODING;"
          "TSE_PUBLIC_KEY", f);
    for (size_t p = 0; p < parts; p++)
        fprintf(f, ";TSE_ZERTIFIKAT_%s", part_names[p]);
    fputs("\r\n", f);
    for (size_t k = 0; k < d->n_keys; k++) {
        key_rec *key = &d->keys[k];
        char *cert = base64_encode_alloc(key->cert_der, key->cert_len), *pub = base64_encode_alloc(key->point, key->point_len);
        if (!cert || !pub) {
            free(cert);
            free(pub);
            return TSE_ERR_NO_MEMORY;
        }
        char serial[65];
        hex_encode(serial, sizeof serial, key->serial, 32);
        size_t cert_len = strlen(cert);
        /* one row per closing register using this TSE */
        const char **seen = NULL;
        size_t n_seen = 0, cap_seen = 0;
        for (size_t i = 0; i < d->n_finishes; i++) {
            const finish_rec *r = &d->finishes[i];
            const char *kasse = kasse_of(o, r);
            bool dup = r->key != k;
            for (size_t j = 0; j < n_seen && !dup; j++)
                dup = strcmp(seen[j], kasse) == 0;
            if (dup)
                continue;
            if (!grow(&seen, &cap_seen, n_seen, sizeof *seen)) {
                free(seen);
                free(cert);
                free(pub);
                return TSE_ERR_NO_MEMORY;
            }
            seen[n_seen++] = kasse;
            csv_keys(f, kasse, erstellung, o->z_nr);
            fprintf(f, "%llu;", (unsigned long long)(o->first_tse_id + k));
            csv_str(f, serial);
            fputc(';', f);
            csv_str(f, key->sigalg);
            fputc(';', f);
            csv_str(f, key->time_format);
            fputc(';', f);
            csv_str(f, "UTF-8");
            fputc(';', f);
            csv_str(f, pub);
            for (size_t p = 0; p < parts; p++) {
                size_t off = p * CERT_PART;
                fputc(';', f);
                csv_text(f, cert + (off < cert_len ? off : cert_len),
                         off < cert_len ? (cert_len - off < CERT_PART ? cert_len - off : CERT_PART) : 0);
            }
            fputs("\r\n", f);
            sum->tse_rows++;
        }
        free(seen);
        free(cert);
        free(pub);
    }
    return 0;
}

/* Sorts starts and finishes and drops the copies that overlapping exports
 * bring; two different Finish logs under one counter are refused. */
static int sort_unique(dsfinvk *d, tse_error *err)
{
    size_t n = 0;
    if (d->n_starts) {
        qsort(d->starts, d->n_starts, sizeof *d->starts, cmp_start);
        for (size_t i = 0; i < d->n_starts; i++)
            if (n == 0 || cmp_start(&d->starts[n - 1], &d->starts[i]) != 0)
                d->starts[n++] = d->starts[i];
        d->n_starts = n;
    }
    qsort(d->finishes, d->n_finishes, sizeof *d->finishes, cmp_finish);
    n = 0;
    for (size_t i = 0; i < d->n_finishes; i++) {
        finish_rec *f = &d->finishes[i], *prev = n ? &d->finishes[n - 1] : NULL;
        if (!prev || cmp_finish(prev, f) != 0) {
            d->finishes[n++] = *f;
            continue;
        }
        if (prev->sig_len != f->sig_len || memcmp(prev->sig, f->sig, f->sig_len) != 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "%llu", (unsigned long long)f->counter);
            return fail(err, TSE_ERR_PARAMETER_MISMATCH,
                        "two different FinishTransaction logs carry signature counter %s", msg);
        }
        free_finish(f);
    }
    d->n_finishes = n;
    return 0;
}

/* Writes one table through a temporary file renamed into place. */
static int write_table(const char *dir, const char *name, tse_error *err,
                       int (*fn)(dsfinvk *, const dsfinvk_options *, const char *, FILE *, dsfinvk_summary *),
                       dsfinvk *d, const dsfinvk_options *o, const char *erstellung, dsfinvk_summary *sum)
{
    char path[4096], tmp[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= sizeof tmp)
        return fail(err, TSE_ERR_INVALID_ARGUMENT, "%s", "output directory name too long");
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return fail(err, TSE_ERR_STORAGE_FAILURE, "cannot create a file in %s", dir);
    int rc = fn(d, o, erstellung, f, sum);
    bool io_error = ferror(f) != 0;
    if (fclose(f) != 0)
        io_error = true;
    if (rc == 0 && !io_error && rename(tmp, path) == 0)
        return 0;
    remove(tmp);
    if (rc == TSE_ERR_NO_MEMORY)
        return fail(err, rc, "%s", "out of memory");
    return fail(err, TSE_ERR_STORAGE_FAILURE, "cannot write %s", name);
}

int dsfinvk_write(dsfinvk *d, const dsfinvk_options *opts, const char *dir, dsfinvk_summary *sum, tse_error *err)
{
    dsfinvk_options o = opts ? *opts : (dsfinvk_options){0};
    if (!o.z_nr)
        o.z_nr = 1;
    if (!o.first_tse_id)
        o.first_tse_id = 1;
    memset(sum, 0, sizeof *sum);
    if (d->n_finishes == 0)
        return fail(err, TSE_ERR_NO_DATA_AVAILABLE, "%s", "no FinishTransaction log in the data");
    if (o.kasse_id && (!*o.kasse_id || strlen(o.kasse_id) > 50))
        return fail(err, TSE_ERR_INVALID_ARGUMENT, "%s", "Z_KASSE_ID must have 1 to 50 characters");
    /* each key needs its certificate */
    for (size_t k = 0; k < d->n_keys; k++) {
        key_rec *key = &d->keys[k];
        for (size_t c = 0; c < d->n_certs && !key->cert_der; c++) {
            if (memcmp(d->certs[c].serial, key->serial, 32) != 0)
                continue;
            key->cert_der = d->certs[c].der;
            key->cert_len = d->certs[c].der_len;
            d->certs[c].der = NULL;
            memcpy(key->point, d->certs[c].point, d->certs[c].point_len);
            key->point_len = d->certs[c].point_len;
        }
        char serial[65];
        hex_encode(serial, sizeof serial, key->serial, 32);
        if (!key->cert_der)
            return fail(err, TSE_ERR_CERTIFICATE_INVALID, "no certificate for the TSE key %s", serial);
        if (4 * ((key->cert_len + 2) / 3) > CERT_PART * CERT_PARTS)
            return fail(err, TSE_ERR_CERTIFICATE_INVALID,
                        "the certificate of %s is longer than TSE_ZERTIFIKAT_I..VII hold", serial);
    }
    int rc = sort_unique(d, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < d->n_finishes; i++)
        if (strlen(d->finishes[i].process_type) > LEN_VORGANGSART)
            return fail(err, TSE_ERR_INVALID_ARGUMENT,
                        "processType \"%.100s\" is longer than the 30 characters of TSE_TA_VORGANGSART",
                        d->finishes[i].process_type);
    int64_t when = o.z_erstellung;
    for (size_t i = 0; !o.z_erstellung && i < d->n_finishes; i++)
        if (d->finishes[i].time > when)
            when = d->finishes[i].time;
    char erstellung[TIME_ISO_LEN];
    if (!time_iso(when, TIME_ISO_LOCAL_NAIVE, erstellung, sizeof erstellung))
        return fail(err, TSE_ERR_INVALID_ARGUMENT, "%s", "Z_ERSTELLUNG out of range");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fail(err, TSE_ERR_STORAGE_FAILURE, "cannot create the directory %s", dir);
    rc = write_table(dir, "transactions_tse.csv", err, write_transactions, d, &o, erstellung, sum);
    if (rc == 0) {
        rc = write_table(dir, "tse.csv", err, write_tse, d, &o, erstellung, sum);
        if (rc != 0) {   /* both tables or neither */
            char path[4096];
            snprintf(path, sizeof path, "%s/transactions_tse.csv", dir);
            remove(path);
        }
    }
    /* every Start whose transaction finished in the data is not open */
    size_t finished_with_start = sum->transaction_rows - sum->without_start;
    sum->unfinished = d->n_starts > finished_with_start ? d->n_starts - finished_with_start : 0;
    return rc;
}
