/*
 * logmsg_build.c - the builder of TR-03151 log messages: the signed bytes
 * (certified data) and the whole message. It is strict: PrintableString
 * alphabet, known algorithms, minimal DER.
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

static bool transaction_fields_ok(const logmsg_fields *f)
{
    return f->operation && logmsg_tx_type(f->operation, strlen(f->operation)) &&
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
