/*
 * logmsg_event.c - the eventData of version-3 system logs (TR-03151-1
 * v1.1.1 section 3 and Appendix E.3): the elements of each event's
 * SEQUENCE, which a system log carries as eventData [3] IMPLICIT.
 */
#include "logmsg_internal.h"

#include <string.h>

static bool put_printable(der_w *w, const char *s)
{
    if (!s || !logmsg_printable(s, strlen(s)))
        return false;
    der_put_tlv(w, DER_PRINTABLE_STRING, s, strlen(s));
    return true;
}

bool logmsg_event_authenticate(der_w *w, const char *user_id, const char *role, logmsg_pin_result result,
                               unsigned remaining_retries)
{
    if (!put_printable(w, user_id) || !put_printable(w, role))
        return false;
    der_put_uint(w, DER_ENUMERATED, (uint64_t)result);
    der_put_uint(w, DER_INTEGER, remaining_retries);
    return true;
}

bool logmsg_event_logout(der_w *w, const char *user_id, logmsg_logout_cause cause)
{
    if (!put_printable(w, user_id))
        return false;
    der_put_uint(w, DER_ENUMERATED, (uint64_t)cause);
    return true;
}

bool logmsg_event_unblock(der_w *w, const char *user_id, logmsg_unblock_result result)
{
    if (!put_printable(w, user_id))
        return false;
    der_put_uint(w, DER_ENUMERATED, (uint64_t)result);
    return true;
}

bool logmsg_event_update_time(der_w *w, logmsg_time_format fmt, int64_t before, int64_t after)
{
    return logmsg_put_time(w, fmt, before) && logmsg_put_time(w, fmt, after);
}

bool logmsg_event_string(der_w *w, const char *s)
{
    return put_printable(w, s);
}

/* The elements of one SelfTestResult (checked by the caller). */
static void put_result(der_w *w, const logmsg_self_test_result *r)
{
    put_printable(w, r->component);
    der_put_bool(w, DER_BOOLEAN, r->positive);
    if (r->error_message)
        put_printable(w, r->error_message);
}

static size_t result_len(const logmsg_self_test_result *r)
{
    der_w m = der_w_init(NULL, 0);
    put_result(&m, r);
    return m.len;
}

bool logmsg_event_self_test(der_w *w, const logmsg_self_test_result *r, size_t n)
{
    size_t set_len = 0;
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        if (!r[i].component || !logmsg_printable(r[i].component, strlen(r[i].component)) ||
            (r[i].error_message && !logmsg_printable(r[i].error_message, strlen(r[i].error_message))) ||
            (!r[i].positive && !r[i].error_message))
            return false;
        size_t len = result_len(&r[i]);
        set_len += der_header_len(len) + len;
        all = all && r[i].positive;
    }
    der_put_header(w, DER_SEQUENCE, set_len);
    for (size_t i = 0; i < n; i++) {
        der_put_header(w, DER_SEQUENCE, result_len(&r[i]));
        put_result(w, &r[i]);
    }
    der_put_bool(w, DER_BOOLEAN, all);
    return true;
}

/* The elements of one ComponentInformationSet; false if a string is not printable. */
static bool put_component(der_w *w, const logmsg_component *c)
{
    if (!put_printable(w, c->name) || !put_printable(w, c->manufacturer) || !put_printable(w, c->model) ||
        !put_printable(w, c->version))
        return false;
    return !c->certification_id || !c->certification_id[0] || put_printable(w, c->certification_id);
}

static size_t component_len(const logmsg_component *c)
{
    der_w m = der_w_init(NULL, 0);
    return put_component(&m, c) ? m.len : 0;
}

bool logmsg_device_information(der_w *w, const logmsg_component *c, size_t n)
{
    size_t set_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = component_len(&c[i]);
        if (!len)
            return false;
        set_len += der_header_len(len) + len;
    }
    der_put_header(w, DER_SEQUENCE, set_len);
    for (size_t i = 0; i < n; i++) {
        der_put_header(w, DER_SEQUENCE, component_len(&c[i]));
        put_component(w, &c[i]);
    }
    return true;
}

bool logmsg_event_update_device(der_w *w, const logmsg_component *before, size_t n)
{
    return logmsg_device_information(w, before, n);
}

bool logmsg_event_update_device_completed(der_w *w, logmsg_update_outcome outcome, const char *reason,
                                          const logmsg_component *after, size_t n)
{
    if (outcome == LOGMSG_UPDATE_SUCCESS && reason)
        return false;
    der_put_uint(w, DER_ENUMERATED, (uint64_t)outcome);
    if (reason && !put_printable(w, reason))
        return false;
    return logmsg_device_information(w, after, n);
}

void logmsg_printable_copy(char *out, size_t cap, const char *s)
{
    if (!cap)
        return;
    size_t n = 0;
    for (; s && s[n] && n + 1 < cap; n++)
        out[n] = logmsg_printable(&s[n], 1) ? s[n] : '?';
    out[n] = 0;
}
