/*
 * logmsg_build.c - the builder of TR-03151 log messages, versions 2 and 3:
 * the signed bytes (certified data) and the whole message. It is strict:
 * PrintableString alphabet, known algorithms, minimal DER, the layout of
 * the version asked for.
 */
#include "logmsg_internal.h"

#include <string.h>

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

static const char *kind_oid(logmsg_kind k)
{
    switch (k) {
    case LOGMSG_TRANSACTION: return LOGMSG_OID_TRANSACTION;
    case LOGMSG_SYSTEM: return LOGMSG_OID_SYSTEM;
    case LOGMSG_AUDIT: return LOGMSG_OID_AUDIT;
    }
    return NULL;
}

static bool v3(const logmsg_fields *f)
{
    return f->version == LOGMSG_VERSION_3;
}

static bool transaction_fields_ok(const logmsg_fields *f)
{
    if (v3(f) && (f->additional_internal_data.p || (f->process_type && strlen(f->process_type) > 100)))
        return false;   /* RFU: MUST NOT be present; processType is SIZE (0..100) */
    return f->operation &&
           logmsg_tx_op_of(f->version, (const uint8_t *)f->operation, strlen(f->operation)) != LOGMSG_TX_NONE &&
           printable_nonempty(f->client_id) && printable_or_null(f->process_type) &&
           bytes_ok(f->process_data) && bytes_ok(f->additional_external_data) &&
           bytes_ok(f->additional_internal_data);
}

static bool system_fields_ok(const logmsg_fields *f)
{
    if (v3(f))
        return printable_nonempty(f->operation) && !f->additional_internal_data.p &&
               (!f->event_origin || printable_nonempty(f->event_origin)) &&
               (!f->event_triggered_by_user || printable_nonempty(f->event_triggered_by_user)) &&
               bytes_ok(f->event_data);
    return printable_nonempty(f->operation) && bytes_ok(f->system_operation_data) &&
           bytes_ok(f->additional_internal_data);
}

static bool fields_ok(const logmsg_fields *f)
{
    char text[32];
    if (f->version != 0 && f->version != LOGMSG_VERSION_2 && f->version != LOGMSG_VERSION_3)
        return false;
    if (!kind_oid(f->kind) || !f->serial_number || !logmsg_sigalg_name(f->signature_algorithm_oid))
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
    if (f->process_type || v3(f))   /* mandatory in version 3 */
        put_string(w, TAG_CTX(3), f->process_type ? f->process_type : "");
    put_optional(w, TAG_CTX(4), f->additional_external_data);
    der_put_uint(w, TAG_CTX(5), f->transaction_number);
    put_optional(w, TAG_CTX(6), f->additional_internal_data);
}

static void put_system(der_w *w, const logmsg_fields *f)
{
    put_string(w, TAG_CTX(0), f->operation);
    if (v3(f)) {
        if (f->event_origin)
            put_string(w, TAG_CTX(1), f->event_origin);
        if (f->event_triggered_by_user)
            put_string(w, TAG_CTX(2), f->event_triggered_by_user);
        der_put_tlv(w, TAG_CTX_CONS(3), f->event_data.p, f->event_data.p ? f->event_data.n : 0);
        return;
    }
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

bool logmsg_put_time(der_w *w, logmsg_time_format fmt, int64_t t)
{
    char text[32];
    if (fmt == LOGMSG_TIME_UNIX) {
        der_put_int(w, DER_INTEGER, t);
        return true;
    }
    if (!logmsg_time_to_text(fmt, t, text, sizeof text))
        return false;
    put_string(w, fmt == LOGMSG_TIME_UTC ? DER_UTC_TIME : DER_GENERALIZED_TIME, text);
    return true;
}

bool logmsg_encode_tbs(der_w *w, const logmsg_fields *f)
{
    if (!f || !fields_ok(f))
        return false;
    der_put_uint(w, DER_INTEGER, v3(f) ? LOGMSG_VERSION_3 : LOGMSG_VERSION_2);
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
    return logmsg_put_time(w, f->time_format, f->log_time);   /* validated by fields_ok() */
}

void logmsg_encode(der_w *w, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
                   size_t sig_len)
{
    der_put_header(w, DER_SEQUENCE, tbs_len + der_header_len(sig_len) + sig_len);
    der_put_raw(w, tbs, tbs_len);
    der_put_tlv(w, DER_OCTET_STRING, sig, sig_len);
}
