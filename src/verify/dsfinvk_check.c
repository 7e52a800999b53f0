/*
 * dsfinvk_check.c - a DSFinV-K export held against the TSE archives it
 * claims to record: every row of transactions_tse.csv must be a Finish log
 * of the archives (the TSE found through tse.csv's TSE_SERIAL, whose
 * TSE_PUBLIC_KEY must hash to it), with the same signature counter,
 * signature, start and end time, processType and processData; Finish logs
 * without a row and rows without a Finish log are listed. Tables are read
 * as DSFinV-K writes them: ';' between fields, text in double quotes
 * (quotes doubled), one header row naming the columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "internal.h"

#define MAX_FIELDS 64
#define MAX_FIELD (1u << 20)

typedef struct csv_row {
    char *f[MAX_FIELDS];
    size_t n;
    char *buf;
    size_t len, cap;
    size_t line;             /* of the row's start, for findings */
} csv_row;

static bool put_char(csv_row *r, char c)
{
    if (r->len + 1 >= r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        char *b = cap <= MAX_FIELDS * (size_t)MAX_FIELD ? realloc(r->buf, cap) : NULL;
        if (!b)
            return false;
        r->buf = b;
        r->cap = cap;
    }
    r->buf[r->len++] = c;
    return true;
}

/* The next row of `f` into r (fields point into r->buf). Returns 1, 0 at
 * the end, -1 when a row is too large or memory ran out. */
static int read_row(FILE *f, csv_row *r, size_t *line)
{
    size_t starts[MAX_FIELDS];
    int c = getc(f);
    if (c == EOF)
        return 0;
    r->len = 0;
    r->n = 0;
    r->line = ++*line;
    bool quoted = false, field_start = true;
    starts[r->n++] = 0;
    for (; c != EOF; c = getc(f)) {
        if (quoted) {
            if (c == '"') {
                int d = getc(f);
                if (d != '"') {
                    quoted = false;
                    ungetc(d, f);
                    continue;
                }
            } else if (c == '\n') {
                ++*line;
            }
        } else if (c == '"' && field_start) {
            quoted = true;
            field_start = false;
            continue;
        } else if (c == ';') {
            if (!put_char(r, 0) || r->n == MAX_FIELDS)
                return -1;
            starts[r->n++] = r->len;
            field_start = true;
            continue;
        } else if (c == '\r' || c == '\n') {
            if (c == '\r') {
                int d = getc(f);
                if (d != '\n')
                    ungetc(d, f);
            }
            break;
        }
        field_start = false;
        if (!put_char(r, (char)c))
            return -1;
    }
    if (!put_char(r, 0))
        return -1;
    for (size_t i = 0; i < r->n; i++)
        r->f[i] = r->buf + starts[i];
    return 1;
}

/* Column indexes of the header row for `names`; false when one is missing
 * (its name in *missing). */
static bool columns(const csv_row *h, const char *const *names, size_t n, int *idx,
                    const char **missing)
{
    for (size_t i = 0; i < n; i++) {
        idx[i] = -1;
        for (size_t j = 0; j < h->n; j++)
            if (strcmp(h->f[j], names[i]) == 0)
                idx[i] = (int)j;
        if (idx[i] < 0 && missing) {
            *missing = names[i];
            return false;
        }
    }
    return true;
}

static bool number(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    *out = v;
    return *end == 0;
}

/* ISO 8601 "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)" to epoch seconds. */
static bool iso_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6)
        return false;
    const char *p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int off = 0;
    if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6)
            return false;
        off = (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    } else if (strcmp(p, "Z") != 0) {
        return false;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm) - off;
    return true;
}

/* Decoded base64 into a malloc'd buffer, NULL when it is not base64. */
static uint8_t *unbase64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n % 4 || n > MAX_FIELD)
        return NULL;
    uint8_t *out = malloc(n / 4 * 3 + 1);
    if (!out)
        return NULL;
    int got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (got < 0) {
        free(out);
        return NULL;
    }
    *len = (size_t)got - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=');
    return out;
}

/* ------------------------------------------------------------- tse.csv */

typedef struct dtse {
    uint64_t id;
    char serial[65];
    const verify_result *r;  /* the verified archive holding it, or NULL */
    size_t ri;               /* its index in the results */
    size_t tse;              /* the TSE's index in r->tses */
} dtse;

static const char *const tse_cols[] = {"TSE_ID", "TSE_SERIAL", "TSE_SIG_ALGO", "TSE_PUBLIC_KEY"};

static const verify_result *holder(const verify_result *const *results, size_t n,
                                   const char *serial, size_t *ri, size_t *tse)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < results[i]->n_tses; k++)
            if (strcasecmp(results[i]->tses[k].serial_hex, serial) == 0) {
                *ri = i;
                *tse = k;
                return results[i];
            }
    return NULL;
}

/* One row of tse.csv. */
static int tse_row(const csv_row *row, const int *c, const verify_result *const *results,
                   size_t n, dtse *t, verify_result *out, const verify_options *o)
{
    char file[32];
    snprintf(file, sizeof file, "tse.csv:%zu", row->line);
    const char *serial = row->f[c[1]], *key = row->f[c[3]];
    if (!number(row->f[c[0]], &t->id) || strlen(serial) != 64)
        return vr_add(out, o, VERIFY_WARNING, "dsfinvk-row-malformed", file,
                      "TSE_ID \"%s\" or TSE_SERIAL \"%s\" is not what DSFinV-K asks for",
                      row->f[c[0]], serial);
    for (int i = 0; i < 64; i++)
        t->serial[i] = (char)(serial[i] >= 'A' && serial[i] <= 'F' ? serial[i] - 'A' + 'a' : serial[i]);
    t->serial[64] = 0;
    size_t point_len;
    uint8_t *point = unbase64(key, &point_len), digest[32];
    char hex[65] = "";
    if (point && point_len) {
        csp_serial(point, point_len, digest);
        hex_encode(hex, sizeof hex, digest, 32);
    }
    free(point);
    int rc = 0;
    if (strcmp(hex, t->serial) != 0)
        rc = vr_add(out, o, VERIFY_ERROR, "dsfinvk-tse-key-mismatch", file,
                    "TSE_PUBLIC_KEY does not hash to TSE_SERIAL %s", t->serial);
    t->r = holder(results, n, t->serial, &t->ri, &t->tse);
    if (rc == 0 && !t->r)
        rc = vr_add(out, o, VERIFY_WARNING, "dsfinvk-tse-unknown", file,
                    "TSE %s (TSE_ID %llu) signs no log of the archives", t->serial,
                    (unsigned long long)t->id);
    else if (rc == 0 && strcmp(row->f[c[2]], t->r->tses[t->tse].signature_algorithm) != 0)
        rc = vr_add(out, o, VERIFY_ERROR, "dsfinvk-mismatch", file,
                    "TSE_SIG_ALGO \"%s\", but the logs of TSE %.16s... are signed with %s",
                    row->f[c[2]], t->serial, t->r->tses[t->tse].signature_algorithm);
    return rc;
}

/* ---------------------------------------------------- transactions_tse */

static const char *const tx_cols[] = {"TSE_ID", "TSE_TANR", "TSE_TA_START", "TSE_TA_ENDE",
                                      "TSE_TA_VORGANGSART", "TSE_TA_SIGZ", "TSE_TA_SIG",
                                      "TSE_VORGANGSDATEN", "TSE_TA_VORGANGSDATEN"};
/* TX_DATA: DSFinV-K 2.4's name of the processData column; TX_DATA_OLD the
 * name some tables (ours before) give it. */
enum { TX_ID, TX_TANR, TX_START, TX_END, TX_TYPE, TX_SIGZ, TX_SIG, TX_DATA, TX_DATA_OLD, TX_COLS };

/* Field `what` of a row differs from the Finish log. */
static int mismatch(verify_result *out, const verify_options *o, const char *file,
                    const verify_finish *f, const char *what, const char *row, const char *log)
{
    return vr_add(out, o, VERIFY_ERROR, "dsfinvk-mismatch", file,
                  "%s is \"%.200s\", but the Finish log %s (transaction %llu) has \"%.200s\"", what,
                  row, f->file, (unsigned long long)f->transaction, log);
}

static int compare(const csv_row *row, const int *c, const verify_finish *f, const char *file,
                   verify_result *out, const verify_options *o)
{
    char want[512];
    uint64_t sigz;
    int64_t t;
    int rc = 0;
    if (!number(row->f[c[TX_SIGZ]], &sigz) || sigz != f->counter) {
        snprintf(want, sizeof want, "%llu", (unsigned long long)f->counter);
        rc = mismatch(out, o, file, f, "TSE_TA_SIGZ", row->f[c[TX_SIGZ]], want);
    }
    char *sig = malloc(4 * ((f->signature_len + 2) / 3) + 1);
    if (!sig)
        return -1;
    EVP_EncodeBlock((unsigned char *)sig, f->signature, (int)f->signature_len);
    if (rc == 0 && strcmp(row->f[c[TX_SIG]], sig) != 0)
        rc = mismatch(out, o, file, f, "TSE_TA_SIG", row->f[c[TX_SIG]], sig);
    free(sig);
    if (rc == 0 && (!iso_time(row->f[c[TX_END]], &t) || t != f->time))
        rc = mismatch(out, o, file, f, "TSE_TA_ENDE", row->f[c[TX_END]],
                      vr_time(f->time, want, sizeof want));
    if (rc == 0 && f->has_start && (!iso_time(row->f[c[TX_START]], &t) || t != f->start_time))
        rc = mismatch(out, o, file, f, "TSE_TA_START", row->f[c[TX_START]],
                      vr_time(f->start_time, want, sizeof want));
    if (rc == 0 && strcmp(row->f[c[TX_TYPE]], f->process_type) != 0)
        rc = mismatch(out, o, file, f, "TSE_TA_VORGANGSART", row->f[c[TX_TYPE]], f->process_type);
    /* TSE_VORGANGSDATEN is optional: held against the log when given. */
    int dc = c[TX_DATA] >= 0 ? c[TX_DATA] : c[TX_DATA_OLD];
    const char *pd = dc >= 0 ? row->f[dc] : "";
    if (rc == 0 && *pd &&
        (strlen(pd) != f->process_data_len || memcmp(pd, f->process_data, f->process_data_len) != 0))
        rc = mismatch(out, o, file, f, tx_cols[dc == c[TX_DATA] ? TX_DATA : TX_DATA_OLD], pd, (const char *)f->process_data);
    return rc;
}

/* The Finish logs a row matched: {key: the result's index, counter: the
 * row of its table}, sorted for the walk over the rows left out. */
static int tx_row(const csv_row *row, const int *c, const dtse *tses, size_t n_tses, vsort *matched,
                  verify_result *out, const verify_options *o)
{
    char file[48];
    snprintf(file, sizeof file, "transactions_tse.csv:%zu", row->line);
    uint64_t id, tanr;
    if (!number(row->f[c[TX_ID]], &id) || !number(row->f[c[TX_TANR]], &tanr))
        return vr_add(out, o, VERIFY_WARNING, "dsfinvk-row-malformed", file,
                      "TSE_ID \"%s\" or TSE_TANR \"%s\" is not a number", row->f[c[TX_ID]],
                      row->f[c[TX_TANR]]);
    const dtse *t = NULL;
    for (size_t i = 0; i < n_tses && !t; i++)
        if (tses[i].id == id)
            t = &tses[i];
    if (!t)
        return vr_add(out, o, VERIFY_WARNING, "dsfinvk-tse-unknown", file,
                      "TSE_ID %llu is not in tse.csv", (unsigned long long)id);
    size_t at = 0;
    int found = t->r ? vfin_find(t->r, t->tse, tanr, &at) : 0;
    if (found < 0)
        return -1;
    if (!found)
        return t->r ? vr_add(out, o, VERIFY_WARNING, "dsfinvk-not-in-archive", file,
                             "transaction %llu of TSE %.16s... has no Finish log in the archives",
                             (unsigned long long)tanr, t->serial)
                    : 0;   /* the TSE's archive is not given: one finding in tse.csv */
    vrec m = {.key = (uint16_t)t->ri, .counter = at};
    verify_finish f;
    if (vsort_add(matched, &m) != 0 || vfin_at(t->r, at, &f) != 0)
        return -1;
    int rc = compare(row, c, &f, file, out, o);
    verify_finish_free(&f);
    return rc;
}

/* Reads `name` in `dir` row by row: the header's columns `cols` (`need` of
 * them required), then `each` for every row. */
typedef int (*row_fn)(void *ctx, const csv_row *row, const int *c);

static int read_table(const char *dir, const char *name, const char *const *cols, size_t n_cols,
                      size_t need, row_fn each, void *ctx, verify_result *out,
                      const verify_options *o)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return vr_add(out, o, VERIFY_ERROR, "dsfinvk-unreadable", name,
                      "cannot be read from the DSFinV-K directory");
    csv_row row = {0};
    size_t line = 0;
    int c[MAX_FIELDS], rc = 0;
    const char *missing = NULL;
    int got = read_row(f, &row, &line);
    if (got <= 0 || !columns(&row, cols, need, c, &missing)) {
        rc = got < 0 ? -1
                     : vr_add(out, o, VERIFY_ERROR, "dsfinvk-unreadable", name,
                              missing ? "the header has no column %s" : "%s", missing ? missing : "empty");
    } else {
        columns(&row, cols, n_cols, c, NULL);
        while (rc == 0 && (got = read_row(f, &row, &line)) > 0) {
            if (row.n == 1 && !row.f[0][0])
                continue;   /* an empty last line */
            bool short_row = false;
            for (size_t i = 0; i < n_cols; i++)
                short_row = short_row || c[i] >= (int)row.n;
            char at[64];
            snprintf(at, sizeof at, "%s:%zu", name, row.line);
            rc = short_row ? vr_add(out, o, VERIFY_WARNING, "dsfinvk-row-malformed", at,
                                    "%zu fields, fewer than the header's columns", row.n)
                           : each(ctx, &row, c);
        }
        if (got < 0)
            rc = vr_add(out, o, VERIFY_ERROR, "dsfinvk-unreadable", name, "a row is too large");
    }
    free(row.buf);
    fclose(f);
    return rc;
}

typedef struct check_ctx {
    const verify_result *const *results;
    size_t n;
    dtse *tses;
    size_t n_tses;
    vsort matched;
    verify_result *out;
    const verify_options *o;
} check_ctx;

static int on_tse(void *p, const csv_row *row, const int *c)
{
    check_ctx *x = p;
    dtse *t = realloc(x->tses, (x->n_tses + 1) * sizeof *t);
    if (!t)
        return -1;
    x->tses = t;
    memset(&t[x->n_tses], 0, sizeof *t);
    int rc = tse_row(row, c, x->results, x->n, &t[x->n_tses], x->out, x->o);
    if (t[x->n_tses].serial[0])
        x->n_tses++;
    return rc;
}

static int on_tx(void *p, const csv_row *row, const int *c)
{
    check_ctx *x = p;
    x->out->dsfinvk_rows++;
    return tx_row(row, c, x->tses, x->n_tses, &x->matched, x->out, x->o);
}

/* The Finish logs of the archives' TSEs that no row matched. */
static int missing_rows(check_ctx *x)
{
    verify_result *out = x->out;
    vrec m;
    int got = vsort_begin(&x->matched) == 0 ? vsort_next(&x->matched, &m) : -1;
    for (size_t i = 0; i < x->n && got >= 0; i++) {
        const verify_result *r = x->results[i];
        for (size_t j = 0; j < r->n_finishes && got >= 0; j++) {
            while (got == 1 && (m.key < i || (m.key == i && m.counter < j)))
                got = vsort_next(&x->matched, &m);
            if (got == 1 && m.key == i && m.counter == j)
                continue;
            verify_finish f;
            if (got < 0 || vfin_at(r, j, &f) != 0)
                return -1;
            bool listed_tse = false;
            for (size_t k = 0; k < x->n_tses; k++)
                listed_tse = listed_tse || (x->tses[k].r == r && x->tses[k].tse == f.tse);
            int rc = vr_add(out, x->o, VERIFY_WARNING, "dsfinvk-missing-row", f.file,
                            "transaction %llu (TSE %.16s...%s) has no row in transactions_tse.csv",
                            (unsigned long long)f.transaction, r->tses[f.tse].serial_hex,
                            listed_tse ? "" : ", not in tse.csv");
            verify_finish_free(&f);
            if (rc != 0)
                return -1;
        }
    }
    return got < 0 ? -1 : 0;
}

int verify_dsfinvk(const char *dir, const verify_result *const *results, size_t n,
                   const verify_options *o, verify_result *out)
{
    memset(out, 0, sizeof *out);
    out->dsfinvk = true;
    if (!(out->source = strdup(dir)))
        return -1;
    check_ctx x = {results, n, NULL, 0, {0}, out, o};
    int rc = n <= UINT16_MAX ? vsort_init(&x.matched, vrec_by_key_counter, o ? o->spill_records : 0) : -1;
    if (rc == 0)
        rc = read_table(dir, "tse.csv", tse_cols, 4, 4, on_tse, &x, out, o);
    if (rc == 0)
        rc = read_table(dir, "transactions_tse.csv", tx_cols, TX_COLS, 7, on_tx, &x, out, o);
    /* Transactions of the archives' TSEs that the tables leave out. */
    if (rc == 0 && verify_count(out, "dsfinvk-unreadable") == 0)
        rc = missing_rows(&x);
    vsort_free(&x.matched);
    free(x.tses);
    return rc;
}
