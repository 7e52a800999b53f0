/*
 * logmsg.c - TR-03151 log messages (version 2) behind logmsg.h: the signed
 * bytes and the message for the builder, a strict-but-tolerant parser for
 * what deployed TSEs write, export file names, signature algorithm names and
 * the UTCTime / GeneralizedTime texts.
 *
 * The builder is strict (PrintableString alphabet, known algorithms, minimal
 * DER); the parser accepts what real vendors produce (any bytes in string
 * fields, BER indefinite processData, algorithm parameters) but rejects
 * anything it cannot account for byte by byte.
 */
#include "logmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define VERSION 2
#define SERIAL_LEN 32
#define TAG_CTX(n) ((uint8_t)(DER_CONTEXT | (n)))
#define TAG_CTX_CONS(n) ((uint8_t)(DER_CONTEXT | DER_CONSTRUCTED | (n)))

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

static bool printable_nonempty(const char *s)
{
    return s && *s && logmsg_printable(s, strlen(s));
}

static bool printable_or_null(const char *s)
{
    return !s || logmsg_printable(s, strlen(s));
}

static bool bytes_ok(logmsg_bytes b)
{
    return b.p != NULL || b.n == 0;
}

/* Transaction operationType -> TYPE part of the file name. */
static const char *tx_type(const char *op, size_t n)
{
    static const char *const ops[][2] = {
        {"StartTransaction", "Start"},
        {"UpdateTransaction", "Update"},
        {"FinishTransaction", "Finish"},
    };
    for (size_t i = 0; i < 3; i++)
        if (strlen(ops[i][0]) == n && memcmp(ops[i][0], op, n) == 0)
            return ops[i][1];
    return NULL;
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

/* ------------------------------------------------------------ builder */

static const char *kind_oid(logmsg_kind k)
{
    switch (k) {
    case LOGMSG_TRANSACTION: return LOGMSG_OID_TRANSACTION;
    case LOGMSG_SYSTEM: return LOGMSG_OID_SYSTEM;
    case LOGMSG_AUDIT: return LOGMSG_OID_AUDIT;
    }
    return NULL;
}

static bool transaction_fields_ok(const logmsg_fields *f)
{
    return f->operation && tx_type(f->operation, strlen(f->operation)) &&
           printable_nonempty(f->client_id) && printable_or_null(f->process_type) &&
           bytes_ok(f->process_data) && bytes_ok(f->additional_external_data) &&
           bytes_ok(f->additional_internal_data);
}

static bool system_fields_ok(const logmsg_fields *f)
{
    return printable_nonempty(f->operation) && bytes_ok(f->system_operation_data) &&
           bytes_ok(f->additional_internal_data);
}

static bool fields_ok(const logmsg_fields *f)
{
    char text[32];
    if (!kind_oid(f->kind) || !f->serial_number || !sigalg_by_oid(f->signature_algorithm_oid))
        return false;
    if (!logmsg_time_to_text(f->time_format, f->log_time, text, sizeof text))
        return false;
    if (f->kind == LOGMSG_TRANSACTION)
        return transaction_fields_ok(f);
    if (f->kind == LOGMSG_SYSTEM)
        return system_fields_ok(f);
    return f->se_audit_data.p != NULL;
}

static void put_string(der_w *w, uint8_t tag, const char *s)
{
    der_put_tlv(w, tag, s, strlen(s));
}

static void put_optional(der_w *w, uint8_t tag, logmsg_bytes b)
{
    if (b.p)
        der_put_tlv(w, tag, b.p, b.n);
}

static void put_transaction(der_w *w, const logmsg_fields *f)
{
    put_string(w, TAG_CTX(0), f->operation);
    put_string(w, TAG_CTX(1), f->client_id);
    der_put_tlv(w, TAG_CTX(2), f->process_data.p, f->process_data.p ? f->process_data.n : 0);
    if (f->process_type)
        put_string(w, TAG_CTX(3), f->process_type);
    put_optional(w, TAG_CTX(4), f->additional_external_data);
    der_put_uint(w, TAG_CTX(5), f->transaction_number);
    put_optional(w, TAG_CTX(6), f->additional_internal_data);
}

static void put_system(der_w *w, const logmsg_fields *f)
{
    put_string(w, TAG_CTX(0), f->operation);
    der_put_tlv(w, TAG_CTX(1), f->system_operation_data.p,
                f->system_operation_data.p ? f->system_operation_data.n : 0);
    put_optional(w, TAG_CTX(2), f->additional_internal_data);
}

static bool put_sigalg(der_w *w, const char *oid)
{
    uint8_t tmp[80];
    der_w o = der_w_init(tmp, sizeof tmp);
    if (!der_put_oid(&o, oid) || !der_w_ok(&o))
        return false;
    der_put_tlv(w, DER_SEQUENCE, tmp, o.len);
    return true;
}

static void put_time(der_w *w, logmsg_time_format fmt, int64_t t)
{
    char text[32];
    if (fmt == LOGMSG_TIME_UNIX) {
        der_put_int(w, DER_INTEGER, t);
        return;
    }
    /* Validated by fields_ok(). */
    if (!logmsg_time_to_text(fmt, t, text, sizeof text))
        return;
    put_string(w, fmt == LOGMSG_TIME_UTC ? DER_UTC_TIME : DER_GENERALIZED_TIME, text);
}

bool logmsg_encode_tbs(der_w *w, const logmsg_fields *f)
{
    if (!f || !fields_ok(f))
        return false;
    der_put_uint(w, DER_INTEGER, VERSION);
    if (!der_put_oid(w, kind_oid(f->kind)))
        return false;
    if (f->kind == LOGMSG_TRANSACTION)
        put_transaction(w, f);
    else if (f->kind == LOGMSG_SYSTEM)
        put_system(w, f);
    der_put_tlv(w, DER_OCTET_STRING, f->serial_number, SERIAL_LEN);
    if (!put_sigalg(w, f->signature_algorithm_oid))
        return false;
    if (f->kind == LOGMSG_AUDIT)
        der_put_tlv(w, DER_OCTET_STRING, f->se_audit_data.p, f->se_audit_data.n);
    der_put_uint(w, DER_INTEGER, f->signature_counter);
    put_time(w, f->time_format, f->log_time);
    return true;
}

void logmsg_encode(der_w *w, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                   size_t sig_len)
{
    der_put_header(w, DER_SEQUENCE, tbs_len + der_header_len(sig_len) + sig_len);
    der_put_raw(w, tbs, tbs_len);
    der_put_tlv(w, DER_OCTET_STRING, sig, sig_len);
}

/* ------------------------------------------------------------- parser */

typedef struct parser {
    der_r r;
    logmsg *m;
    tse_error *err;
} parser;

static bool fail(parser *p, const char *fmt, ...)
{
    if (p->err) {
        p->err->code = TSE_ERR_INVALID_ARGUMENT;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
    }
    return false;
}

static logmsg_bytes content_of(const der_tlv *t)
{
    logmsg_bytes b = {t->content, t->content_len};
    return b;
}

/* Reads the next element, which must carry `tag`. */
static bool expect(parser *p, uint8_t tag, der_tlv *t, const char *what)
{
    if (der_r_done(&p->r))
        return fail(p, "%s missing (message ends early)", what);
    if (der_peek_tag(&p->r) != tag)
        return fail(p, "%s: expected tag 0x%02x, found 0x%02x", what, tag, der_peek_tag(&p->r));
    if (!der_read(&p->r, t))
        return fail(p, "%s: malformed or truncated encoding", what);
    return true;
}

/* An optional element: absent unless the next tag is `tag`. */
static bool optional(parser *p, uint8_t tag, logmsg_bytes *out, bool *has, const char *what)
{
    der_tlv t;
    *has = false;
    if (der_peek_tag(&p->r) != tag || der_r_done(&p->r))
        return true;
    if (!expect(p, tag, &t, what))
        return false;
    *out = content_of(&t);
    *has = true;
    return true;
}

static bool parse_version_and_type(parser *p)
{
    der_tlv t;
    uint64_t v;
    if (!expect(p, DER_INTEGER, &t, "version"))
        return false;
    if (!der_get_uint(&t, &v) || v != VERSION)
        return fail(p, "unsupported log format version (only 2 is known)");
    p->m->version = VERSION;
    if (!expect(p, DER_OID, &t, "certifiedDataType"))
        return false;
    char *oid = p->m->certified_data_type;
    if (!der_get_oid(&t, oid, sizeof p->m->certified_data_type))
        return fail(p, "certifiedDataType: malformed OID");
    if (strcmp(oid, LOGMSG_OID_TRANSACTION) == 0)
        p->m->kind = LOGMSG_TRANSACTION;
    else if (strcmp(oid, LOGMSG_OID_SYSTEM) == 0)
        p->m->kind = LOGMSG_SYSTEM;
    else if (strcmp(oid, LOGMSG_OID_AUDIT) == 0)
        p->m->kind = LOGMSG_AUDIT;
    else
        return fail(p, "unknown certifiedDataType %s", oid);
    return true;
}

static bool parse_process_data(parser *p)
{
    der_tlv t;
    size_t n;
    uint8_t tag = der_peek_tag(&p->r);
    if (tag != TAG_CTX(2) && tag != TAG_CTX_CONS(2))
        return fail(p, "processData missing");
    if (!expect(p, tag, &t, "processData"))
        return false;
    if (!der_get_octets(&t, NULL, 0, &n))
        return fail(p, "processData: malformed constructed OCTET STRING");
    p->m->process_data = t;
    p->m->has_process_data = true;
    return true;
}

static bool parse_transaction(parser *p)
{
    logmsg *m = p->m;
    der_tlv t;
    if (!expect(p, TAG_CTX(0), &t, "operationType"))
        return false;
    m->operation = content_of(&t);
    if (!tx_type((const char *)t.content, t.content_len))
        return fail(p, "operationType is not Start/Update/FinishTransaction");
    if (!expect(p, TAG_CTX(1), &t, "clientId"))
        return false;
    m->client_id = content_of(&t);
    if (!parse_process_data(p) ||
        !optional(p, TAG_CTX(3), &m->process_type, &m->has_process_type, "processType") ||
        !optional(p, TAG_CTX(4), &m->additional_external_data,
                  &m->has_additional_external_data, "additionalExternalData"))
        return false;
    if (!expect(p, TAG_CTX(5), &t, "transactionNumber"))
        return false;
    if (!der_get_uint(&t, &m->transaction_number))
        return fail(p, "transactionNumber: not a minimal non-negative 64-bit INTEGER");
    return optional(p, TAG_CTX(6), &m->additional_internal_data,
                    &m->has_additional_internal_data, "additionalInternalData");
}

static bool parse_system(parser *p)
{
    logmsg *m = p->m;
    der_tlv t;
    if (!expect(p, TAG_CTX(0), &t, "operationType"))
        return false;
    if (t.content_len == 0)
        return fail(p, "operationType is empty");
    m->operation = content_of(&t);
    if (!expect(p, TAG_CTX(1), &t, "systemOperationData"))
        return false;
    m->system_operation_data = content_of(&t);
    return optional(p, TAG_CTX(2), &m->additional_internal_data,
                    &m->has_additional_internal_data, "additionalInternalData");
}

static bool parse_sigalg(parser *p)
{
    der_tlv seq, t;
    if (!expect(p, DER_SEQUENCE, &seq, "signatureAlgorithm"))
        return false;
    if (seq.indefinite)
        return fail(p, "signatureAlgorithm: indefinite length");
    der_r r = der_r_init(seq.content, seq.content_len);
    if (der_peek_tag(&r) != DER_OID || !der_read(&r, &t) ||
        !der_get_oid(&t, p->m->signature_algorithm_oid, sizeof p->m->signature_algorithm_oid))
        return fail(p, "signatureAlgorithm: malformed algorithm OID");
    if (!der_r_done(&r)) {
        if (!der_read(&r, &t))
            return fail(p, "signatureAlgorithm: malformed parameters");
        p->m->signature_algorithm_params.p = t.start;
        p->m->signature_algorithm_params.n = t.total_len;
    }
    if (!der_r_done(&r))
        return fail(p, "signatureAlgorithm: unexpected elements after the parameters");
    return true;
}

static bool parse_log_time(parser *p)
{
    logmsg *m = p->m;
    der_tlv t;
    uint8_t tag = der_peek_tag(&p->r);
    if (tag == DER_INTEGER) {
        if (!expect(p, tag, &t, "logTime") || !der_get_int(&t, &m->log_time))
            return fail(p, "logTime: malformed unixTime INTEGER");
        m->time_format = LOGMSG_TIME_UNIX;
        return true;
    }
    if (tag != DER_UTC_TIME && tag != DER_GENERALIZED_TIME)
        return fail(p, "logTime missing or of unknown type (tag 0x%02x)", tag);
    if (!expect(p, tag, &t, "logTime"))
        return false;
    m->time_format = tag == DER_UTC_TIME ? LOGMSG_TIME_UTC : LOGMSG_TIME_GENERALIZED;
    if (!logmsg_time_from_text(m->time_format, t.content, t.content_len, &m->log_time))
        return fail(p, "logTime: malformed %s", tag == DER_UTC_TIME ? "UTCTime" : "GeneralizedTime");
    m->time_text = content_of(&t);
    return true;
}

static bool parse_common(parser *p)
{
    logmsg *m = p->m;
    der_tlv t;
    if (!expect(p, DER_OCTET_STRING, &t, "serialNumber"))
        return false;
    if (t.content_len != SERIAL_LEN)
        return fail(p, "serialNumber: %zu bytes, expected 32", t.content_len);
    m->serial_number = content_of(&t);
    if (!parse_sigalg(p))
        return false;
    if (m->kind == LOGMSG_AUDIT) {
        if (!expect(p, DER_OCTET_STRING, &t, "seAuditData"))
            return false;
        m->se_audit_data = content_of(&t);
        m->has_se_audit_data = true;
    }
    if (!expect(p, DER_INTEGER, &t, "signatureCounter"))
        return false;
    if (!der_get_uint(&t, &m->signature_counter))
        return fail(p, "signatureCounter: not a minimal non-negative 64-bit INTEGER");
    return parse_log_time(p);
}

static bool parse_body(parser *p)
{
    const uint8_t *tbs_start = p->r.p;
    der_tlv t;
    if (!parse_version_and_type(p))
        return false;
    if (p->m->kind == LOGMSG_TRANSACTION && !parse_transaction(p))
        return false;
    if (p->m->kind == LOGMSG_SYSTEM && !parse_system(p))
        return false;
    if (!parse_common(p))
        return false;
    p->m->signed_bytes.p = tbs_start;
    p->m->signed_bytes.n = p->r.pos;
    if (!expect(p, DER_OCTET_STRING, &t, "signatureValue"))
        return false;
    if (t.content_len == 0)
        return fail(p, "signatureValue is empty");
    p->m->signature = content_of(&t);
    if (!der_r_done(&p->r))
        return fail(p, "unexpected element after signatureValue");
    return true;
}

bool logmsg_parse(const uint8_t *buf, size_t len, logmsg *out, tse_error *err)
{
    parser p = {der_r_init(buf, len), out, err};
    der_tlv seq;
    memset(out, 0, sizeof *out);
    if (err)
        *err = (tse_error){0};
    if (!buf || len == 0)
        return fail(&p, "empty input");
    if (der_peek_tag(&p.r) != DER_SEQUENCE)
        return fail(&p, "not a log message: expected SEQUENCE, found tag 0x%02x", buf[0]);
    if (!der_read(&p.r, &seq))
        return fail(&p, "truncated or malformed outer SEQUENCE");
    if (seq.indefinite)
        return fail(&p, "outer SEQUENCE has indefinite length");
    if (!der_r_done(&p.r))
        return fail(&p, "%zu trailing bytes after the message", len - p.r.pos);
    p.r = der_r_init(seq.content, seq.content_len);
    return parse_body(&p);
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
    logmsg_bytes operation;
    logmsg_bytes client_id;
    uint64_t transaction_number;
} name_parts;

static bool build_name(const name_parts *np, logmsg_time_format fmt, int64_t t,
                       logmsg_bytes time_text, uint64_t ctr, unsigned fc, char *out, size_t cap)
{
    sbuf b = {out, cap, 0, cap > 0};
    const char *type;
    if (cap > 0)
        out[0] = 0;
    sb_time(&b, fmt, t, time_text);
    sb_str(&b, "_Sig-");
    sb_u64(&b, ctr);
    if (np->kind == LOGMSG_TRANSACTION) {
        type = np->operation.p ? tx_type((const char *)np->operation.p, np->operation.n) : NULL;
        if (!type)
            return false;
        sb_str(&b, "_Log-Tra_No-");
        sb_u64(&b, np->transaction_number);
        sb_str(&b, "_");
        sb_str(&b, type);
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
    name_parts np = {m->kind, m->operation, m->client_id, m->transaction_number};
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
    name_parts np = {f->kind, bytes_of(f->operation), bytes_of(f->client_id),
                     f->transaction_number};
    logmsg_bytes none = {NULL, 0};
    return build_name(&np, f->time_format, f->log_time, none, f->signature_counter, fc, out, cap);
}
