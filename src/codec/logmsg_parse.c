/*
 * logmsg_parse.c - the parser of TR-03151 log messages, versions 2 and 3
 * (each with its own layout of the certified data). It accepts what real
 * vendors produce (any bytes in string fields, BER indefinite processData,
 * algorithm parameters) but rejects anything it cannot account for byte by
 * byte, and names the problem.
 */
#include "logmsg_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
    if (!der_get_uint(&t, &v) || (v != LOGMSG_VERSION_2 && v != LOGMSG_VERSION_3))
        return fail(p, "unsupported log format version (2 and 3 are known)");
    p->m->version = (int)v;
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
    m->tx_op = logmsg_tx_op_of(m->version, t.content, t.content_len);
    if (m->tx_op == LOGMSG_TX_NONE)
        return fail(p, m->version == LOGMSG_VERSION_3
                           ? "operationType is not startTransaction/updateTransaction/finishTransaction (version 3)"
                           : "operationType is not Start/Update/FinishTransaction (version 2)");
    if (!expect(p, TAG_CTX(1), &t, "clientId"))
        return false;
    m->client_id = content_of(&t);
    if (!parse_process_data(p) ||
        !optional(p, TAG_CTX(3), &m->process_type, &m->has_process_type, "processType"))
        return false;
    if (m->version == LOGMSG_VERSION_3 && !m->has_process_type)
        return fail(p, "processType missing (mandatory in version 3)");
    if (!optional(p, TAG_CTX(4), &m->additional_external_data, &m->has_additional_external_data,
                  "additionalExternalData"))
        return false;
    if (!expect(p, TAG_CTX(5), &t, "transactionNumber"))
        return false;
    if (!der_get_uint(&t, &m->transaction_number))
        return fail(p, "transactionNumber: not a minimal non-negative 64-bit INTEGER");
    return optional(p, TAG_CTX(6), &m->additional_internal_data,
                    &m->has_additional_internal_data, "additionalInternalData");
}

/* Version 3: eventType, eventOrigin, eventTriggeredByUser, eventData, RFU. */
static bool parse_event(parser *p)
{
    logmsg *m = p->m;
    der_tlv t;
    if (!expect(p, TAG_CTX(0), &t, "eventType"))
        return false;
    if (t.content_len == 0)
        return fail(p, "eventType is empty");
    m->operation = content_of(&t);
    if (!optional(p, TAG_CTX(1), &m->event_origin, &m->has_event_origin, "eventOrigin") ||
        !optional(p, TAG_CTX(2), &m->event_triggered_by_user, &m->has_event_triggered_by_user,
                  "eventTriggeredByUser"))
        return false;
    if (der_peek_tag(&p->r) == TAG_CTX(3))
        return fail(p, "eventData is primitive (0x83); version 3 writes it constructed (0xa3)");
    if (!expect(p, TAG_CTX_CONS(3), &t, "eventData"))
        return false;
    if (t.indefinite)
        return fail(p, "eventData: indefinite length");
    m->event_data = content_of(&t);
    return optional(p, TAG_CTX(4), &m->additional_internal_data,
                    &m->has_additional_internal_data, "additionalInternalData");
}

static bool parse_system(parser *p)
{
    logmsg *m = p->m;
    der_tlv t;
    if (m->version == LOGMSG_VERSION_3)
        return parse_event(p);
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
