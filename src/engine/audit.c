/*
 * audit.c - the audit logs of OpenTSE's CSP (TR-03153-1 v1.1.1 3.7 and
 * 5.2.3, TR-03151-1 v1.1.1 2.3): the events of the key and its certificates,
 * in log format 3. Their seAuditData, the one element the TR leaves to the
 * manufacturer, is documented in docs/log-format-3.md ("Audit logs"):
 *   SEQUENCE { component PrintableString ("CSP"),
 *              eventType PrintableString,
 *              eventData SEQUENCE { ... } }
 * keyGenerated (the TSE's key, logged once, when the audit function has
 * started): { timeOfEvent Time, signatureAlgorithm OBJECT IDENTIFIER,
 * publicKey OCTET STRING }. certificateImported (a chain for the key, by
 * the admin): { notAfter Time, certificateHashes SEQUENCE OF OCTET STRING }
 * with the SHA-256 of each certificate's DER, the TSE's own first.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

/* Set with the keyGenerated log: it is written once in the TSE's life. */
#define META_KEY_AUDITED "audit.key_generated"

/* Writes the audit log of `event` with eventData's elements `data` (DER)
 * and the state changes `ch` in one commit (under mu). */
static tse_err audit_log(engine *t, const char *event, const uint8_t *data, size_t len, const store_change *ch,
                         size_t n_ch, engine_commit **ticket)
{
    der_w m = der_w_init(NULL, 0);
    logmsg_event_string(&m, ENGINE_COMPONENT_CSP);
    logmsg_event_string(&m, event);
    der_put_header(&m, DER_SEQUENCE, len);
    size_t content = m.len + len;
    uint8_t *buf = malloc(content + 8);
    if (!buf)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    der_w w = der_w_init(buf, content + 8);
    der_put_header(&w, DER_SEQUENCE, content);
    logmsg_event_string(&w, ENGINE_COMPONENT_CSP);
    logmsg_event_string(&w, event);
    der_put_tlv(&w, DER_SEQUENCE, data, len);
    tse_err rc = der_w_ok(&w) ? TSE_OK : engine_fail(TSE_ERR_INTERNAL, "seAuditData of %s not encodable", event);
    if (!rc) {
        logmsg_fields f = {.kind = LOGMSG_AUDIT, .version = LOGMSG_VERSION_3, .se_audit_data = {buf, w.len}};
        rc = engine_submit_log(t, &f, ch, n_ch, NULL, ticket);
    }
    free(buf);
    return rc;
}

/* Whether the TSE writes audit logs now: format 3 with its key. */
static bool audits(engine *t)
{
    int version = 0;
    return t->key && t->state != TSE_STATE_DISABLED && engine_log_format(t, &version) == TSE_OK &&
           version == LOGMSG_VERSION_3;
}

tse_err engine_log_key_generated(engine *t, engine_commit **ticket)
{
    ENGINE_ASSERT_LOCKED(t);
    *ticket = NULL;
    if (!t->counter || !audits(t) || engine_meta_read_int(t, META_KEY_AUDITED, 0) == 1)
        return TSE_OK;   /* before startAudit there is no audit function yet */
    uint8_t data[ENGINE_MAX_POINT + 64];
    der_w w = der_w_init(data, sizeof data);
    logmsg_put_time(&w, (logmsg_time_format)t->time_format, t->time_creation);
    der_put_oid(&w, csp_sigalg_oid(t->hash));
    der_put_tlv(&w, DER_OCTET_STRING, t->point, t->point_len);
    if (!der_w_ok(&w))
        return engine_fail(TSE_ERR_INTERNAL, "eventData of keyGenerated not encodable");
    char val[24];
    store_change ch;
    engine_meta_int(&ch, META_KEY_AUDITED, 1, val);
    return audit_log(t, "keyGenerated", data, w.len, &ch, 1, ticket);
}

tse_err engine_audit_certificate(engine *t, const char *pem, int64_t not_after, const store_change *ch, size_t n_ch,
                                 engine_commit **ticket)
{
    ENGINE_ASSERT_LOCKED(t);
    if (!audits(t))
        return engine_submit_state(t, ch, n_ch, ticket);
    csp_cert *certs = NULL;
    size_t n = 0;
    tse_error err = {0};
    if (csp_chain_split(pem, &certs, &n, &err) != 0)
        return engine_fail(TSE_ERR_CERTIFICATE_INVALID, "%s", err.message);
    size_t cap = 32 + n * (2 + EVP_MAX_MD_SIZE) + 8;
    uint8_t *data = malloc(cap), *hashes = malloc(n * 34 + 1);
    tse_err rc = data && hashes ? TSE_OK : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    der_w hw = der_w_init(hashes, n * 34 + 1);
    for (size_t i = 0; !rc && i < n; i++) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        if (!EVP_Digest(certs[i].der, certs[i].der_len, md, &md_len, EVP_sha256(), NULL))
            rc = engine_fail(TSE_ERR_INTERNAL, "SHA-256 of a certificate failed");
        else
            der_put_tlv(&hw, DER_OCTET_STRING, md, md_len);
    }
    der_w w = der_w_init(data, cap);
    if (!rc) {
        logmsg_put_time(&w, (logmsg_time_format)t->time_format, not_after);
        der_put_tlv(&w, DER_SEQUENCE, hashes, hw.len);
        if (!der_w_ok(&w) || !der_w_ok(&hw))
            rc = engine_fail(TSE_ERR_INTERNAL, "eventData of certificateImported not encodable");
    }
    if (!rc)
        rc = audit_log(t, "certificateImported", data, w.len, ch, n_ch, ticket);
    free(data);
    free(hashes);
    csp_certs_free(certs, n);
    return rc;
}
