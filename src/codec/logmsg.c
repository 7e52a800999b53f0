/*
 * logmsg.c - what TR-03151 log messages (versions 2 and 3, logmsg.h) are made of:
 * signature algorithm names, the string and time rules, the UTCTime /
 * GeneralizedTime texts and export file names. The builder is in
 * logmsg_build.c, the parser in logmsg_parse.c.
 */
#include "logmsg_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------ algorithm names */

typedef struct sigalg {
    const char *oid;
    const char *name;
    int hash_bits;      /* 3xxx for SHA3-xxx */
} sigalg;

static const sigalg sigalgs[] = {
    {"0.4.0.127.0.7.1.1.4.1.2", "ecdsa-plain-SHA224", 224},
    {"0.4.0.127.0.7.1.1.4.1.3", "ecdsa-plain-SHA256", 256},
    {"0.4.0.127.0.7.1.1.4.1.4", "ecdsa-plain-SHA384", 384},
    {"0.4.0.127.0.7.1.1.4.1.5", "ecdsa-plain-SHA512", 512},
    {"0.4.0.127.0.7.1.1.4.1.8", "ecdsa-plain-SHA3-224", 3224},
    {"0.4.0.127.0.7.1.1.4.1.9", "ecdsa-plain-SHA3-256", 3256},
    {"0.4.0.127.0.7.1.1.4.1.10", "ecdsa-plain-SHA3-384", 3384},
    {"0.4.0.127.0.7.1.1.4.1.11", "ecdsa-plain-SHA3-512", 3512},
    {"0.4.0.127.0.7.1.1.4.4.1", "ecsdsa-plain-SHA224", 224},
    {"0.4.0.127.0.7.1.1.4.4.2", "ecsdsa-plain-SHA256", 256},
    {"0.4.0.127.0.7.1.1.4.4.3", "ecsdsa-plain-SHA384", 384},
    {"0.4.0.127.0.7.1.1.4.4.4", "ecsdsa-plain-SHA512", 512},
    {"0.4.0.127.0.7.1.1.4.4.5", "ecsdsa-plain-SHA3-224", 3224},
    {"0.4.0.127.0.7.1.1.4.4.6", "ecsdsa-plain-SHA3-256", 3256},
    {"0.4.0.127.0.7.1.1.4.4.7", "ecsdsa-plain-SHA3-384", 3384},
    {"0.4.0.127.0.7.1.1.4.4.8", "ecsdsa-plain-SHA3-512", 3512},
};

#define N_SIGALGS (sizeof sigalgs / sizeof sigalgs[0])

static const sigalg *sigalg_by_oid(const char *oid)
{
    if (!oid)
        return NULL;
    for (size_t i = 0; i < N_SIGALGS; i++)
        if (strcmp(sigalgs[i].oid, oid) == 0)
            return &sigalgs[i];
    return NULL;
}

const char *logmsg_sigalg_name(const char *oid)
{
    const sigalg *a = sigalg_by_oid(oid);
    return a ? a->name : NULL;
}

const char *logmsg_sigalg_oid(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_SIGALGS; i++)
        if (strcmp(sigalgs[i].name, name) == 0)
            return sigalgs[i].oid;
    return NULL;
}

int logmsg_sigalg_hash_bits(const char *oid, bool *sha3)
{
    const sigalg *a = sigalg_by_oid(oid);
    if (sha3)
        *sha3 = a && a->hash_bits > 1000;
    return a ? a->hash_bits : 0;
}

/* ------------------------------------------------------------ strings */

bool logmsg_printable(const char *s, size_t n)
{
    static const char extra[] = " '()+,-./:=?";
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (c != 0 && strchr(extra, c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

static const char *const tx_ops[2][3] = {
    {"StartTransaction", "UpdateTransaction", "FinishTransaction"},   /* version 2 */
    {"startTransaction", "updateTransaction", "finishTransaction"},   /* version 3 */
};

const char *logmsg_tx_operation(int version, logmsg_tx_op op)
{
    if (op < LOGMSG_TX_START || op > LOGMSG_TX_FINISH)
        return NULL;
    if (version == 0 || version == LOGMSG_VERSION_2)
        return tx_ops[0][op - 1];
    return version == LOGMSG_VERSION_3 ? tx_ops[1][op - 1] : NULL;
}

logmsg_tx_op logmsg_tx_op_of(int version, const uint8_t *op, size_t n)
{
    for (int k = LOGMSG_TX_START; op && k <= LOGMSG_TX_FINISH; k++) {
        const char *name = logmsg_tx_operation(version, (logmsg_tx_op)k);
        if (name && strlen(name) == n && memcmp(name, op, n) == 0)
            return (logmsg_tx_op)k;
    }
    return LOGMSG_TX_NONE;
}

/* --------------------------------------------------------------- time */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return (m == 2 && leap) ? 29 : dm[m - 1];
}

/* Range of years representable: UTCTime 1950..2049, GeneralizedTime 0..9999. */
static bool year_range(logmsg_time_format fmt, int64_t *lo, int64_t *hi)
{
    if (fmt == LOGMSG_TIME_UTC) {
        *lo = 1950;
        *hi = 2049;
        return true;
    }
    if (fmt == LOGMSG_TIME_GENERALIZED) {
        *lo = 0;
        *hi = 9999;
        return true;
    }
    return false;
}

bool logmsg_time_to_text(logmsg_time_format fmt, int64_t t, char *out, size_t cap)
{
    int64_t lo, hi, y;
    int m, d, n;
    if (fmt == LOGMSG_TIME_UNIX) {
        n = snprintf(out, cap, "%lld", (long long)t);
        return n > 0 && (size_t)n < cap;
    }
    if (!year_range(fmt, &lo, &hi) || t < -(INT64_C(1) << 50) || t > (INT64_C(1) << 50))
        return false;
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    if (y < lo || y > hi)
        return false;
    int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60), ss = (int)(secs % 60);
    if (fmt == LOGMSG_TIME_UTC)
        n = snprintf(out, cap, "%02d%02d%02d%02d%02d%02dZ", (int)(y % 100), m, d, hh, mm, ss);
    else
        n = snprintf(out, cap, "%04d%02d%02d%02d%02d%02dZ", (int)y, m, d, hh, mm, ss);
    return n > 0 && (size_t)n < cap;
}

/* n decimal digits at s into *v. */
static bool digits(const uint8_t *s, size_t n, int64_t *v)
{
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

static bool unix_from_text(const uint8_t *s, size_t n, int64_t *t)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t v = 0;
    size_t i = neg ? 1 : 0;
    if (i == n || n - i > 19 || (s[i] == '0' && n - i > 1))
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *t = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* After the seconds of a GeneralizedTime: optional ".digits", then "Z". */
static bool gen_tail_ok(const uint8_t *s, size_t n)
{
    if (n == 1)
        return s[0] == 'Z';
    if (n < 3 || s[0] != '.' || s[n - 1] != 'Z')
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool logmsg_time_from_text(logmsg_time_format fmt, const uint8_t *s, size_t n, int64_t *t)
{
    int64_t y, mo, d, h, mi, se;
    size_t yl;
    if (!s)
        return false;
    if (fmt == LOGMSG_TIME_UNIX)
        return unix_from_text(s, n, t);
    if (fmt == LOGMSG_TIME_UTC) {
        if (n != 13 || s[12] != 'Z')
            return false;
        yl = 2;
    } else if (fmt == LOGMSG_TIME_GENERALIZED) {
        if (n < 15 || !gen_tail_ok(s + 14, n - 14))
            return false;
        yl = 4;
    } else {
        return false;
    }
    if (!digits(s, yl, &y) || !digits(s + yl, 2, &mo) || !digits(s + yl + 2, 2, &d) ||
        !digits(s + yl + 4, 2, &h) || !digits(s + yl + 6, 2, &mi) || !digits(s + yl + 8, 2, &se))
        return false;
    if (yl == 2)
        y += y < 50 ? 2000 : 1900;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (int)mo) || h > 23 || mi > 59 ||
        se > 59)
        return false;
    *t = days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

/* ---------------------------------------------------------- file names */

typedef struct sbuf {
    char *out;
    size_t cap;
    size_t len;
    bool ok;
} sbuf;

static void sb_put(sbuf *b, const void *s, size_t n)
{
    if (!b->ok || n >= b->cap - b->len) {
        b->ok = false;
        return;
    }
    memcpy(b->out + b->len, s, n);
    b->len += n;
    b->out[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_u64(sbuf *b, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    sb_str(b, num);
}

/* A name part taken from the message: no path separators or control bytes. */
static void sb_part(sbuf *b, const uint8_t *s, size_t n)
{
    if (n == 0)
        b->ok = false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '/' || s[i] == '\\')
            b->ok = false;
    sb_put(b, s, n);
}

static void sb_time(sbuf *b, logmsg_time_format fmt, int64_t t, logmsg_bytes text)
{
    char tmp[32];
    static const char *const prefix[] = {"Unixt_", "Utc_", "Gent_"};
    if (fmt != LOGMSG_TIME_UNIX && fmt != LOGMSG_TIME_UTC && fmt != LOGMSG_TIME_GENERALIZED) {
        b->ok = false;
        return;
    }
    sb_str(b, prefix[fmt]);
    if (text.p && text.n > 0) {
        sb_part(b, text.p, text.n);
        return;
    }
    if (!logmsg_time_to_text(fmt, t, tmp, sizeof tmp)) {
        b->ok = false;
        return;
    }
    sb_str(b, tmp);
}

/* Everything after the signature counter, from parsed or build fields. */
typedef struct name_parts {
    logmsg_kind kind;
    logmsg_tx_op tx_op;
    logmsg_bytes operation;
    logmsg_bytes client_id;
    uint64_t transaction_number;
} name_parts;

static bool build_name(const name_parts *np, logmsg_time_format fmt, int64_t t,
                       logmsg_bytes time_text, uint64_t ctr, unsigned fc, char *out, size_t cap)
{
    sbuf b = {out, cap, 0, cap > 0};
    static const char *const types[] = {NULL, "Start", "Update", "Finish"};
    if (cap > 0)
        out[0] = 0;
    sb_time(&b, fmt, t, time_text);
    sb_str(&b, "_Sig-");
    sb_u64(&b, ctr);
    if (np->kind == LOGMSG_TRANSACTION) {
        if (np->tx_op < LOGMSG_TX_START || np->tx_op > LOGMSG_TX_FINISH)
            return false;
        sb_str(&b, "_Log-Tra_No-");
        sb_u64(&b, np->transaction_number);
        sb_str(&b, "_");
        sb_str(&b, types[np->tx_op]);
        sb_str(&b, "_Client-");
        sb_part(&b, np->client_id.p, np->client_id.n);
    } else if (np->kind == LOGMSG_SYSTEM) {
        sb_str(&b, "_Log-Sys_");
        sb_part(&b, np->operation.p, np->operation.n);
    } else if (np->kind == LOGMSG_AUDIT) {
        sb_str(&b, "_Log-Aud");
    } else {
        return false;
    }
    if (fc > 0) {
        sb_str(&b, "_Fc-");
        sb_u64(&b, fc);
    }
    sb_str(&b, ".log");
    return b.ok;
}

bool logmsg_filename(const logmsg *m, unsigned fc, char *out, size_t cap)
{
    name_parts np = {m->kind, m->tx_op, m->operation, m->client_id, m->transaction_number};
    logmsg_bytes text = m->time_format == LOGMSG_TIME_UNIX ? (logmsg_bytes){NULL, 0} : m->time_text;
    return build_name(&np, m->time_format, m->log_time, text, m->signature_counter, fc, out, cap);
}

static logmsg_bytes bytes_of(const char *s)
{
    logmsg_bytes b = {(const uint8_t *)s, s ? strlen(s) : 0};
    return b;
}

bool logmsg_filename_fields(const logmsg_fields *f, unsigned fc, char *out, size_t cap)
{
    logmsg_bytes op = bytes_of(f->operation);
    name_parts np = {f->kind, logmsg_tx_op_of(f->version, op.p, op.n), op, bytes_of(f->client_id),
                     f->transaction_number};
    logmsg_bytes none = {NULL, 0};
    return build_name(&np, f->time_format, f->log_time, none, f->signature_counter, fc, out, cap);
}
