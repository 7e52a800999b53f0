/*
 * qr.c - the DSFinV-K receipt QR string (TSE-FORMATS.md section 5): built
 * from a finished transaction, parsed from any vendor's receipt, and verified
 * by rebuilding the Finish log's signed bytes with the codec and checking the
 * signature with csp/ against the public key the code carries.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "internal.h"
#include "receipt.h"

#define QR_FIELDS 12

static void set_err(tse_error *err, const char *fmt, const char *arg)
{
    if (err) {
        err->code = TSE_ERR_INVALID_ARGUMENT;
        snprintf(err->message, sizeof err->message, fmt, arg);
    }
}

static const char *time_format_name(tse_time_format f)
{
    switch (f) {
    case TSE_TIME_UNIX: return "unixTime";
    case TSE_TIME_UTC: return "utcTimeWithSeconds";
    case TSE_TIME_GENERALIZED: return "generalizedTime";
    }
    return NULL;
}

/* DSFinV-K names YYMMDDhhmmssZ "utcTimeWithSeconds" (its "utcTime" has no
 * seconds, which log messages of version 2 do not use); both are read. */
static bool time_format_from_name(const char *s, size_t n, tse_time_format *out)
{
    static const struct { const char *name; tse_time_format f; } names[] = {
        {"unixTime", TSE_TIME_UNIX},
        {"utcTime", TSE_TIME_UTC},
        {"utcTimeWithSeconds", TSE_TIME_UTC},
        {"generalizedTime", TSE_TIME_GENERALIZED},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && memcmp(names[i].name, s, n) == 0) {
            *out = names[i].f;
            return true;
        }
    return false;
}

static bool digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* Reads YYYY-MM-DDThh:mm:ss[.fff]Z. */
static bool time_parse(const char *s, size_t n, int64_t *t, int *millis)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, se, ms = 0;
    if ((n != 20 && n != 24) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[n - 1] != 'Z' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    if (n == 24 && (s[19] != '.' || !digits(s + 20, 3, &ms)))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t r = timegm(&tm);
    struct tm back;
    if (r == (time_t)-1 || !gmtime_r(&r, &back) || back.tm_mday != d) /* 31 February */
        return false;
    *t = (int64_t)r;
    *millis = ms;
    return true;
}

char *receipt_qr_string(const receipt_qr *q, tse_error *err)
{
    if (!q || !q->client_id || !*q->client_id || !q->process_type || !q->signature || !q->signature_len ||
        !q->public_key || !q->public_key_len || (q->process_data_len && !q->process_data)) {
        set_err(err, "%s", "receipt QR: a required field is missing");
        return NULL;
    }
    if (strchr(q->client_id, ';') || strchr(q->process_type, ';')) {
        set_err(err, "%s", "receipt QR: clientId and processType must not contain ';'");
        return NULL;
    }
    if (q->process_data_len && memchr(q->process_data, 0, q->process_data_len)) {
        set_err(err, "%s", "receipt QR: processData must not contain NUL bytes");
        return NULL;
    }
    char start[32], finish[32];
    const char *fmt = time_format_name(q->time_format);
    if (!time_iso(q->start_time, TIME_ISO_MILLIS, start, sizeof start) || !time_iso(q->finish_time, TIME_ISO_MILLIS, finish, sizeof finish) || !fmt) {
        set_err(err, "%s", "receipt QR: start/finish time or time format out of range");
        return NULL;
    }
    if (!q->signature_algorithm || !logmsg_sigalg_oid(q->signature_algorithm)) {
        set_err(err, "receipt QR: unknown signature algorithm '%.40s'",
                q->signature_algorithm ? q->signature_algorithm : "");
        return NULL;
    }
    char *sig = base64_encode_alloc(q->signature, q->signature_len), *key = base64_encode_alloc(q->public_key, q->public_key_len);
    size_t cap = strlen(q->client_id) + strlen(q->process_type) + q->process_data_len + 200 +
                 (sig ? strlen(sig) : 0) + (key ? strlen(key) : 0);
    char *out = sig && key ? malloc(cap) : NULL;
    if (out)
        snprintf(out, cap, "V0;%s;%s;%.*s;%llu;%llu;%s;%s;%s;%s;%s;%s", q->client_id, q->process_type,
                 (int)q->process_data_len, q->process_data ? (const char *)q->process_data : "",
                 (unsigned long long)q->transaction_number, (unsigned long long)q->signature_counter, start,
                 finish, q->signature_algorithm, fmt, sig, key);
    else
        set_err(err, "%s", "receipt QR: out of memory");
    free(sig);
    free(key);
    return out;
}

char *receipt_qr_from_result(const tse_result *finish, const char *client_id, const char *process_type,
                             const uint8_t *process_data, size_t process_data_len,
                             const char *signature_algorithm, tse_time_format time_format,
                             const uint8_t *public_key, size_t public_key_len, tse_error *err)
{
    if (!finish) {
        set_err(err, "%s", "receipt QR: no finish result");
        return NULL;
    }
    receipt_qr q = {
        .client_id = client_id,
        .process_type = process_type,
        .process_data = process_data,
        .process_data_len = process_data_len,
        .transaction_number = finish->transaction_number,
        .signature_counter = finish->signature_counter,
        .start_time = finish->start_time,
        .finish_time = finish->log_time,
        .signature_algorithm = signature_algorithm,
        .time_format = time_format,
        .signature = finish->signature,
        .signature_len = finish->signature_len,
        .public_key = public_key,
        .public_key_len = public_key_len,
    };
    return receipt_qr_string(&q, err);
}

char *receipt_qr_from_log(const uint8_t *finish_log, size_t len, int64_t start_time, const uint8_t *public_key,
                          size_t public_key_len, tse_error *err)
{
    logmsg m;
    tse_error why = {0};
    if (!finish_log || !logmsg_parse(finish_log, len, &m, &why)) {
        set_err(err, "receipt QR: not a log message: %.200s", finish_log ? why.message : "none given");
        return NULL;
    }
    if (m.kind != LOGMSG_TRANSACTION || m.tx_op != LOGMSG_TX_FINISH) {
        set_err(err, "%s", "receipt QR: the log message is not a FinishTransaction log");
        return NULL;
    }
    uint8_t serial[32];
    if (!public_key || !public_key_len) {
        set_err(err, "%s", "receipt QR: no public key");
        return NULL;
    }
    csp_serial(public_key, public_key_len, serial);
    if (memcmp(serial, m.serial_number.p, 32) != 0) {
        set_err(err, "%s", "receipt QR: the public key is not the one that signed the log");
        return NULL;
    }
    size_t pd_len = 0;
    if (m.has_process_data && !der_get_octets(&m.process_data, NULL, 0, &pd_len)) {
        set_err(err, "%s", "receipt QR: processData is not an OCTET STRING");
        return NULL;
    }
    char *client = malloc(m.client_id.n + 1), *type = malloc(m.process_type.n + 1);
    uint8_t *pd = malloc(pd_len + 1);
    char *out = NULL;
    if (client && type && pd) {
        memcpy(client, m.client_id.p, m.client_id.n);
        client[m.client_id.n] = 0;
        if (m.has_process_type && m.process_type.n)
            memcpy(type, m.process_type.p, m.process_type.n);
        type[m.has_process_type ? m.process_type.n : 0] = 0;
        /* measured above: the copy fits */
        bool copied = !m.has_process_data || der_get_octets(&m.process_data, pd, pd_len, &pd_len);
        assert(copied);
        (void)copied;
        receipt_qr q = {
            .client_id = client,
            .process_type = type,
            .process_data = pd,
            .process_data_len = pd_len,
            .transaction_number = m.transaction_number,
            .signature_counter = m.signature_counter,
            .start_time = start_time,
            .finish_time = m.log_time,
            .signature_algorithm = logmsg_sigalg_name(m.signature_algorithm_oid),
            .time_format = (tse_time_format)m.time_format,
            .signature = m.signature.p,
            .signature_len = m.signature.n,
            .public_key = public_key,
            .public_key_len = public_key_len,
        };
        out = receipt_qr_string(&q, err);
    } else {
        set_err(err, "%s", "receipt QR: out of memory");
    }
    free(client);
    free(type);
    free(pd);
    return out;
}

static bool parse_fail(receipt_qr_parsed *out, tse_error *err, const char *msg)
{
    set_err(err, "receipt QR: %s", msg);
    receipt_qr_parsed_free(out);
    return false;
}

bool receipt_qr_parse(const char *s, receipt_qr_parsed *out, tse_error *err)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return parse_fail(out, err, "no text");
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    out->text = malloc(n + 1);
    if (!out->text)
        return parse_fail(out, err, "out of memory");
    memcpy(out->text, s, n);
    out->text[n] = 0;
    char *t = out->text;
    /* fields 0..2 from the left, 4..11 from the right, processData between */
    char *f[QR_FIELDS];
    size_t fl[QR_FIELDS];
    char *p = t;
    for (int i = 0; i < 3; i++) {
        char *semi = strchr(p, ';');
        if (!semi)
            return parse_fail(out, err, "fewer than 12 ';'-separated fields");
        f[i] = p;
        fl[i] = (size_t)(semi - p);
        *semi = 0;
        p = semi + 1;
    }
    char *end = t + n;
    for (int i = QR_FIELDS - 1; i >= 4; i--) {
        char *q = end;
        while (q > p && q[-1] != ';')
            q--;
        if (q == p)
            return parse_fail(out, err, "fewer than 12 ';'-separated fields");
        f[i] = q;
        fl[i] = (size_t)(end - q);
        q[-1] = 0;
        end = q - 1;
    }
    f[3] = p;
    fl[3] = (size_t)(end - p);
    if (strcmp(f[0], "V0") != 0)
        return parse_fail(out, err, "does not start with version V0");
    if (fl[1] == 0)
        return parse_fail(out, err, "empty clientId");
    receipt_qr *q = &out->q;
    q->client_id = f[1];
    q->process_type = f[2];
    q->process_data = (const uint8_t *)f[3];
    q->process_data_len = fl[3];
    if (!parse_u64(f[4], fl[4], UINT64_MAX, &q->transaction_number))
        return parse_fail(out, err, "transaction number is not a decimal number");
    if (!parse_u64(f[5], fl[5], UINT64_MAX, &q->signature_counter))
        return parse_fail(out, err, "signature counter is not a decimal number");
    if (!time_parse(f[6], fl[6], &q->start_time, &out->start_millis))
        return parse_fail(out, err, "start time is not YYYY-MM-DDThh:mm:ss.fffZ");
    if (!time_parse(f[7], fl[7], &q->finish_time, &out->finish_millis))
        return parse_fail(out, err, "finish time is not YYYY-MM-DDThh:mm:ss.fffZ");
    q->signature_algorithm = f[8];
    if (!time_format_from_name(f[9], fl[9], &q->time_format))
        return parse_fail(out, err, "time format is not unixTime, utcTime or generalizedTime");
    out->signature = base64_decode_alloc(f[10], fl[10], 1u << 20, &q->signature_len);
    if (!out->signature)
        return parse_fail(out, err, "signature is not base64");
    q->signature = out->signature;
    out->public_key = base64_decode_alloc(f[11], fl[11], 1u << 20, &q->public_key_len);
    if (!out->public_key)
        return parse_fail(out, err, "public key is not base64");
    q->public_key = out->public_key;
    return true;
}

void receipt_qr_parsed_free(receipt_qr_parsed *p)
{
    if (!p)
        return;
    free(p->text);
    free(p->signature);
    free(p->public_key);
    memset(p, 0, sizeof *p);
}

uint8_t *receipt_qr_signed_bytes(const receipt_qr *q, size_t *len, tse_error *err)
{
    const char *oid = q->signature_algorithm ? logmsg_sigalg_oid(q->signature_algorithm) : NULL;
    if (!oid) {
        set_err(err, "receipt QR: unknown signature algorithm '%.40s'",
                q->signature_algorithm ? q->signature_algorithm : "");
        return NULL;
    }
    uint8_t serial[32];
    csp_serial(q->public_key, q->public_key_len, serial);
    logmsg_fields f = {
        .kind = LOGMSG_TRANSACTION,
        .version = q->log_version,
        .operation = logmsg_tx_operation(q->log_version, LOGMSG_TX_FINISH),
        .client_id = q->client_id,
        .process_data = {q->process_data, q->process_data_len},
        .process_type = q->process_type,
        .transaction_number = q->transaction_number,
        .serial_number = serial,
        .signature_algorithm_oid = oid,
        .signature_counter = q->signature_counter,
        .time_format = (logmsg_time_format)q->time_format,
        .log_time = q->finish_time,
    };
    der_w w = der_w_init(NULL, 0);
    if (!logmsg_encode_tbs(&w, &f)) {
        set_err(err, "%s",
                "receipt QR: the fields do not form a Finish log (clientId or processType outside "
                "PrintableString, or time out of range)");
        return NULL;
    }
    uint8_t *buf = malloc(w.len);
    if (!buf) {
        set_err(err, "%s", "receipt QR: out of memory");
        return NULL;
    }
    size_t measured = w.len;
    w = der_w_init(buf, measured);
    bool encoded = logmsg_encode_tbs(&w, &f);   /* the same fields as measured */
    assert(encoded && w.len == measured);
    (void)encoded;
    *len = w.len;
    return buf;
}

/* The same signed bytes with processData as a BER indefinite-length
 * constructed OCTET STRING of one segment (A2 80 04 LL ... 00 00), as
 * D-Trust TSEs sign it. NULL if out of memory. */
static uint8_t *with_indefinite_process_data(const uint8_t *tbs, size_t len, size_t *out_len)
{
    der_r r = der_r_init(tbs, len);
    der_tlv t;
    while (der_read(&r, &t) && t.tag != (DER_CONTEXT | 2))
        ;
    if (t.tag != (DER_CONTEXT | 2))
        return NULL;
    static const uint8_t open[2] = {DER_CONTEXT | DER_CONSTRUCTED | 2, 0x80}, eoc[2] = {0, 0};
    size_t before = (size_t)(t.start - tbs), after = len - before - t.total_len;
    size_t n = before + sizeof open + der_header_len(t.content_len) + t.content_len + sizeof eoc + after;
    uint8_t *buf = malloc(n);
    if (!buf)
        return NULL;
    der_w w = der_w_init(buf, n);
    der_put_raw(&w, tbs, before);
    der_put_raw(&w, open, sizeof open);
    der_put_tlv(&w, DER_OCTET_STRING, t.content, t.content_len);
    der_put_raw(&w, eoc, sizeof eoc);
    der_put_raw(&w, t.start + t.total_len, after);
    *out_len = w.len;
    return buf;
}

/* Tries every curve of the point's size; VALID, BAD_SIGNATURE, or MALFORMED
 * when the point lies on none of them. */
static receipt_qr_result verify_bytes(const receipt_qr *q, tse_hash hash, const uint8_t *tbs, size_t len,
                                      receipt_qr_check *check)
{
    /* P-256 and brainpoolP256r1 (and the 384-bit pair) share a point size */
    static const tse_curve curves[] = {TSE_CURVE_P256, TSE_CURVE_BRAINPOOL_P256R1, TSE_CURVE_P384,
                                       TSE_CURVE_BRAINPOOL_P384R1, TSE_CURVE_BRAINPOOL_P512R1, TSE_CURVE_P521};
    receipt_qr_result res = RECEIPT_QR_MALFORMED;
    for (size_t i = 0; i < sizeof curves / sizeof curves[0] && res != RECEIPT_QR_VALID; i++) {
        EVP_PKEY *pk = csp_pubkey_from_point(curves[i], q->public_key, q->public_key_len);
        if (!pk)
            continue;
        snprintf(check->curve, sizeof check->curve, "%s", csp_curve_group(curves[i]));
        res = csp_verify(pk, hash, tbs, len, q->signature, q->signature_len, NULL) == 0 ? RECEIPT_QR_VALID
                                                                                        : RECEIPT_QR_BAD_SIGNATURE;
        EVP_PKEY_free(pk);
    }
    return res;
}

static receipt_qr_result verify_forms_of(const receipt_qr *q, tse_hash hash, receipt_qr_check *check,
                                         tse_error *err);

/* Rebuilds the Finish log of `q` in log format version 2 and, failing that,
 * version 3 (the QR code does not name it). */
static receipt_qr_result verify_forms(const receipt_qr *q, tse_hash hash, receipt_qr_check *check, tse_error *err)
{
    receipt_qr_result res = verify_forms_of(q, hash, check, err);
    if (res == RECEIPT_QR_BAD_SIGNATURE && q->log_version != LOGMSG_VERSION_3) {
        receipt_qr v3 = *q;
        v3.log_version = LOGMSG_VERSION_3;
        if (verify_forms_of(&v3, hash, check, err) == RECEIPT_QR_VALID)
            res = RECEIPT_QR_VALID;
    }
    return res;
}

/* Rebuilds the Finish log of `q` with processData in DER and, failing that,
 * BER indefinite-length, and verifies each. */
static receipt_qr_result verify_forms_of(const receipt_qr *q, tse_hash hash, receipt_qr_check *check,
                                         tse_error *err)
{
    size_t len = 0, ber_len = 0;
    uint8_t *tbs = receipt_qr_signed_bytes(q, &len, err), *ber = NULL;
    if (!tbs)
        return RECEIPT_QR_MALFORMED;
    csp_serial(q->public_key, q->public_key_len, check->serial);
    check->signed_len = len;
    receipt_qr_result res = verify_bytes(q, hash, tbs, len, check);
    if (res == RECEIPT_QR_BAD_SIGNATURE && (ber = with_indefinite_process_data(tbs, len, &ber_len)) &&
        verify_bytes(q, hash, ber, ber_len, check) == RECEIPT_QR_VALID) {
        res = RECEIPT_QR_VALID;
        check->signed_len = ber_len;
        check->indefinite_process_data = true;
    }
    if (res == RECEIPT_QR_MALFORMED)
        set_err(err, "%s", "receipt QR: the public key is not an uncompressed point on a supported curve");
    free(tbs);
    free(ber);
    return res;
}

receipt_qr_result receipt_qr_verify(const char *s, receipt_qr_check *check, tse_error *err)
{
    receipt_qr_check local;
    if (!check)
        check = &local;
    memset(check, 0, sizeof *check);
    receipt_qr_parsed p;
    if (!receipt_qr_parse(s, &p, err))
        return RECEIPT_QR_MALFORMED;
    const receipt_qr *q = &p.q;
    tse_hash hash = TSE_HASH_DEFAULT;
    for (tse_hash h = TSE_HASH_SHA256; h <= TSE_HASH_SHA512; h++)
        if (strcmp(csp_sigalg_name(h), q->signature_algorithm) == 0)
            hash = h;
    if (hash == TSE_HASH_DEFAULT) {
        set_err(err, "receipt QR: signature algorithm '%.40s' is not supported (ecdsa-plain-SHA256/384/512)",
                q->signature_algorithm);
        receipt_qr_parsed_free(&p);
        return RECEIPT_QR_UNSUPPORTED;
    }
    if (p.finish_millis) {
        /* log times of version 2 have whole seconds: this is not the signed one */
        set_err(err, "%s",
                "receipt QR: the finish time has milliseconds, which the signed log time (whole seconds) "
                "cannot carry: the signature does not verify");
        receipt_qr_parsed_free(&p);
        return RECEIPT_QR_BAD_SIGNATURE;
    }
    receipt_qr_result res = verify_forms(q, hash, check, err);
    if (res == RECEIPT_QR_BAD_SIGNATURE && !*q->process_type) {
        /* an empty processType may stand for one the Finish log left out */
        receipt_qr without = *q;
        without.process_type = NULL;
        if (verify_forms(&without, hash, check, err) == RECEIPT_QR_VALID) {
            res = RECEIPT_QR_VALID;
            check->process_type_omitted = true;
        }
    }
    if (res == RECEIPT_QR_BAD_SIGNATURE)
        set_err(err, "%s",
                "receipt QR: the signature does not verify over the Finish log rebuilt from its fields");
    receipt_qr_parsed_free(&p);
    return res;
}
