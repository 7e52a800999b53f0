/*
 * events.c - the log format a TSE writes and the system logs of its events
 * in that format. A TSE keeps the format it was created with for its whole
 * life (meta "log_format"; a TSE without it is version 2). Version 2 writes
 * systemOperationData as TR-03151 v1.0.1 deployed TSEs do; version 3 writes
 * eventType, eventOrigin, eventTriggeredByUser and eventData as TR-03151-1
 * v1.1.1 section 3 defines them, with the user ids and component names of
 * TR-03153-1 v1.1.1 (5.2.4.1, 5.3.2, 9.7.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

tse_err engine_log_format(engine *t, int *version)
{
    ENGINE_ASSERT_LOCKED(t);
    if (!t->log_version) {
        uint8_t *v = NULL;
        size_t n = 0;
        tse_err rc = engine_meta_read_now(t, META_LOG_FORMAT, &v, &n);
        if (rc == TSE_ERR_NOT_FOUND)
            t->log_version = LOGMSG_VERSION_2;   /* created before the format was recorded */
        else if (rc != TSE_OK)
            return rc;                           /* not cached: asked again next time */
        else if (n == 1 && (v[0] == '2' || v[0] == '3'))
            t->log_version = v[0] - '0';
        free(v);
        if (!t->log_version)
            return engine_fail(TSE_ERR_STORAGE_FAILURE, "the store holds an unknown log format");
    }
    *version = t->log_version;
    return TSE_OK;
}

/* The logged-in user whose role allowed the operation (engine_require_role
 * succeeded for `roles`), or "unauthenticated". */
static const char *acting_user(engine *t, unsigned roles)
{
    for (int u = 0; u < USER_COUNT; u++)
        if ((roles & (1u << u)) && t->users[u].auth_until)
            return t->users[u].id;
    return ENGINE_USER_UNAUTHENTICATED;
}

static const char *const v2_names[] = {
    [EV_INITIALIZE] = "initialize", [EV_UPDATE_TIME] = "updateTime",
    [EV_DISABLE] = "disableSecureElement", [EV_REGISTER_CLIENT] = "registerClient",
    [EV_DEREGISTER_CLIENT] = "deregisterClient", [EV_AUTHENTICATE] = "authenticateUser",
    [EV_LOGOUT] = "logOut", [EV_UNBLOCK] = "unblockUser", [EV_DELETE] = "deleteStoredData",
    [EV_RESTORE] = "restoreFromBackup", [EV_SELF_TEST] = "selfTest",
};

/* Version 3 renames two functions; restoreLogsFromBackup has no log. */
static const char *const v3_names[] = {
    [EV_INITIALIZE] = "initialize", [EV_UPDATE_TIME] = "updateTime",
    [EV_DISABLE] = "disableSecureElement", [EV_REGISTER_CLIENT] = "registerClient",
    [EV_DEREGISTER_CLIENT] = "deregisterClient", [EV_AUTHENTICATE] = "authenticateUser",
    [EV_LOGOUT] = "logOut", [EV_UNBLOCK] = "unblockPin", [EV_DELETE] = "deleteLogMessages",
    [EV_RESTORE] = NULL, [EV_SELF_TEST] = "selfTest", [EV_SET_DESCRIPTION] = "setDescription",
    [EV_LOCK_TX] = "lockTransactionLogging", [EV_UNLOCK_TX] = "unlockTransactionLogging",
    [EV_UPDATE_DEVICE] = "updateDevice", [EV_UPDATE_DEVICE_COMPLETED] = "updateDeviceCompleted",
    [EV_START_AUDIT] = "startAudit", [EV_ENTER_SECURE_STATE] = "enterSecureState", [EV_EXIT_SECURE_STATE] = "exitSecureState",
};

/* Version 2 systemOperationData: context-tagged fields, no outer SEQUENCE. */
static void put_v2(engine *t, der_w *w, const engine_event *ev)
{
    switch (ev->kind) {
    case EV_INITIALIZE:
    case EV_REGISTER_CLIENT:
    case EV_DEREGISTER_CLIENT:
        der_put_tlv(w, 0x81, ev->text, strlen(ev->text));
        break;
    case EV_UPDATE_TIME:
        engine_put_time(t, w, 0x81, ev->time_before);
        engine_put_time(t, w, 0x82, ev->time_after);
        break;
    case EV_DISABLE:
        engine_put_time(t, w, 0x81, ev->time_after);
        break;
    case EV_AUTHENTICATE:
        der_put_tlv(w, 0x81, ev->text, strlen(ev->text));
        der_put_uint(w, 0x82, ev->user_index == USER_ADMIN ? 0 : 1);   /* role ENUM */
        der_put_bool(w, 0x83, ev->success);
        break;
    case EV_LOGOUT:
        der_put_tlv(w, 0x81, ev->text, strlen(ev->text));
        der_put_uint(w, 0x82, ev->timeout ? 1 : 0);                    /* logOutCause */
        break;
    case EV_UNBLOCK:
        der_put_tlv(w, 0x81, ev->text, strlen(ev->text));
        der_put_uint(w, 0x82, ev->success ? 0 : 1);                    /* unblockResult */
        break;
    case EV_DELETE:
    case EV_RESTORE:
        der_put_uint(w, 0x81, ev->count);   /* highest counter deleted / logs restored */
        break;
    case EV_SELF_TEST:
        der_put_bool(w, 0x81, ev->success);
        if (!ev->success)
            der_put_tlv(w, 0x82, ev->text, strlen(ev->text));
        break;
    case EV_SET_DESCRIPTION:
    case EV_LOCK_TX:
    case EV_UNLOCK_TX:
    case EV_UPDATE_DEVICE:
    case EV_UPDATE_DEVICE_COMPLETED:
    case EV_START_AUDIT:
    case EV_ENTER_SECURE_STATE:
    case EV_EXIT_SECURE_STATE:
        break;   /* version 3 only */
    }
}

/* Version 3 selfTest results: the key and certificate are the CSP's part,
 * the stored logs the storage's; the engine stops at the first failure. */
static bool put_v3_self_test(der_w *w, const engine_event *ev)
{
    logmsg_self_test_result r[2] = {{.component = ENGINE_COMPONENT_CSP, .positive = true},
                                    {.component = ENGINE_COMPONENT_STORAGE, .positive = true}};
    size_t n = 2;
    if (!ev->success) {
        bool storage = strstr(ev->text, "stored log") != NULL;
        logmsg_self_test_result *bad = storage ? &r[1] : &r[0];
        bad->positive = false;
        bad->error_message = ev->text;
        n = storage ? 2 : 1;
    }
    return logmsg_event_self_test(w, r, n);
}

static bool put_v3(engine *t, der_w *w, const engine_event *ev)
{
    logmsg_time_format fmt = (logmsg_time_format)t->time_format;
    switch (ev->kind) {
    case EV_INITIALIZE:
    case EV_DISABLE:
    case EV_DELETE:
    case EV_RESTORE:
    case EV_LOCK_TX:
    case EV_UNLOCK_TX:
    case EV_START_AUDIT:
    case EV_EXIT_SECURE_STATE:
        return true;   /* empty SEQUENCE */
    case EV_ENTER_SECURE_STATE:   /* timeOfEvent only when logged after the event */
        return !ev->time_before || logmsg_put_time(w, fmt, ev->time_before);
    case EV_REGISTER_CLIENT:
    case EV_DEREGISTER_CLIENT:
    case EV_SET_DESCRIPTION:
        return logmsg_event_string(w, ev->text);
    case EV_UPDATE_TIME:
        return logmsg_event_update_time(w, fmt, ev->time_before, ev->time_after);
    case EV_AUTHENTICATE:
        if (ev->unknown_user)   /* 3.2.3.3.2: role "unknown" */
            return logmsg_event_authenticate(w, ev->text, "unknown", LOGMSG_PIN_UNKNOWN_USER_ID, 0);
        return logmsg_event_authenticate(w, ev->text, ev->user_index == USER_ADMIN ? "admin" : "timeadmin",
                                         ev->blocked   ? LOGMSG_PIN_BLOCKED
                                         : ev->success ? LOGMSG_PIN_SUCCESS
                                                       : LOGMSG_PIN_INCORRECT_PIN,
                                         (unsigned)(ev->retries_left > 0 ? ev->retries_left : 0));
    case EV_LOGOUT:
        return logmsg_event_logout(w, ev->text, ev->timeout       ? LOGMSG_LOGOUT_TIMEOUT
                                                : ev->other_login ? LOGMSG_LOGOUT_DIFFERENT_USER
                                                                  : LOGMSG_LOGOUT_USER_CALLED);
    case EV_UNBLOCK:
        return logmsg_event_unblock(w, ev->text, ev->unknown_user ? LOGMSG_UNBLOCK_UNKNOWN_USER_ID
                                                 : ev->blocked    ? LOGMSG_UNBLOCK_TEMPORARILY_BLOCKED
                                                 : ev->success    ? LOGMSG_UNBLOCK_SUCCESS
                                                                  : LOGMSG_UNBLOCK_INCORRECT_PUK);
    case EV_SELF_TEST:
        return put_v3_self_test(w, ev);
    case EV_UPDATE_DEVICE:
        return logmsg_event_update_device(w, ev->components, ev->n_components);
    case EV_UPDATE_DEVICE_COMPLETED:
        return logmsg_event_update_device_completed(w, ev->success ? LOGMSG_UPDATE_SUCCESS : LOGMSG_UPDATE_FAILED,
                                                    ev->success ? NULL : ev->text, ev->components, ev->n_components);
    }
    return false;
}

/* eventOrigin and eventTriggeredByUser (TR-03153-1 v1.1.1 9.7.1): a call at
 * the integration interface names the interface and its user; what the TSE
 * does by itself (a session's timeout, the selfTest when it is opened)
 * names the SMA and no user. */
static void v3_origin(engine *t, const engine_event *ev, logmsg_fields *f)
{
    if (ev->by_tse) {
        f->event_origin = ENGINE_COMPONENT_SMA;
        return;
    }
    f->event_origin = ENGINE_COMPONENT_INTERFACE;
    f->event_triggered_by_user = ev->roles ? acting_user(t, ev->roles) : ENGINE_USER_UNAUTHENTICATED;
}

tse_err engine_event_log(engine *t, const engine_event *ev, const store_change *ch, size_t n_ch,
                         engine_commit **ticket)
{
    uint8_t buf[TSE_ERROR_MSGLEN + 256];
    der_w w = der_w_init(buf, sizeof buf);
    ENGINE_ASSERT_LOCKED(t);
    int version = 0;
    *ticket = NULL;
    tse_err rc = engine_log_format(t, &version);
    if (rc != TSE_OK)
        return rc;
    if (version == LOGMSG_VERSION_2) {
        if (ev->kind >= EV_SET_DESCRIPTION)
            return engine_fail(TSE_ERR_NOT_SUPPORTED, "a TSE of log format 2 (TR-03151 v1.0.1) has no %s",
                               v3_names[ev->kind]);
        put_v2(t, &w, ev);
        if (!der_w_ok(&w))
            return engine_fail(TSE_ERR_INTERNAL, "systemOperationData of %s too large", v2_names[ev->kind]);
        return engine_system_log(t, v2_names[ev->kind], buf, w.len, ch, n_ch, ticket);
    }
    logmsg_fields f = {.kind = LOGMSG_SYSTEM, .version = LOGMSG_VERSION_3, .operation = v3_names[ev->kind]};
    if (!f.operation)   /* no log in version 3: only the state changes */
        return n_ch ? engine_submit_state(t, ch, n_ch, ticket) : TSE_OK;
    uint8_t *big = NULL;   /* the update events' lists of components may not fit buf */
    if (ev->n_components) {
        der_w m = der_w_init(NULL, 0);
        put_v3(t, &m, ev);
        if (!(big = malloc(m.len + 1)))
            return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
        w = der_w_init(big, m.len + 1);
    }
    if (!put_v3(t, &w, ev) || !der_w_ok(&w)) {
        free(big);
        return engine_fail(TSE_ERR_INTERNAL, "eventData of %s not encodable", f.operation);
    }
    v3_origin(t, ev, &f);
    f.event_data = (logmsg_bytes){big ? big : buf, w.len};
    rc = engine_submit_log(t, &f, ch, n_ch, NULL, ticket);
    free(big);
    return rc;
}

tse_err engine_log_self_test(engine *t, engine_commit **ticket)
{
    char reason[TSE_ERROR_MSGLEN];
    size_t k = 0;
    for (const char *p = t->self_test_error; *p && k < 200; p++)
        reason[k++] = logmsg_printable(p, 1) ? *p : ' ';
    reason[k] = 0;
    /* the first of a handle is the one engine_open() runs */
    engine_event ev = {.kind = EV_SELF_TEST, .success = t->self_test_ok, .text = reason,
                       .by_tse = !t->self_tested, .roles = 1u << USER_ADMIN | 1u << USER_LOGGER};
    t->self_tested = true;
    return engine_event_log(t, &ev, NULL, 0, ticket);
}

tse_err engine_log_start_audit(engine *t, engine_commit **ticket)
{
    ENGINE_ASSERT_LOCKED(t);
    *ticket = NULL;
    int version = 0;
    if (t->counter || engine_log_format(t, &version) != TSE_OK || version != LOGMSG_VERSION_3)
        return TSE_OK;
    engine_event ev = {.kind = EV_START_AUDIT, .by_tse = true};
    return engine_event_log(t, &ev, NULL, 0, ticket);
}

/* The meta record of the safe state: "<time entered (engine_now)>,<1 if its
 * enterSecureState log was written>,<the altered stored log, 0 none>";
 * absent while the SMA is not in it. */
#define META_SECURE_STATE "secure_state"

/* The safe state's record: whether there is one, and its fields. */
typedef struct secure_record {
    bool in;
    long long since;
    int logged;
    unsigned long long bad_log;
} secure_record;

/* Reads it; false when the store cannot be read now. */
static bool read_secure(engine *t, secure_record *r)
{
    *r = (secure_record){0};
    uint8_t *v = NULL;
    size_t n = 0;
    tse_err found = engine_meta_read_now(t, META_SECURE_STATE, &v, &n);
    if (found != TSE_OK && found != TSE_ERR_NOT_FOUND)
        return false;
    char text[80] = "";
    if (v)
        snprintf(text, sizeof text, "%.*s", (int)(n < 70 ? n : 70), (const char *)v);
    free(v);
    r->in = found == TSE_OK && sscanf(text, "%lld,%d,%llu", &r->since, &r->logged, &r->bad_log) >= 2;
    return true;
}

void engine_secure_state_load(engine *t)
{
    ENGINE_ASSERT_LOCKED(t);
    secure_record r;
    if (read_secure(t, &r) && r.in && r.bad_log)
        t->self_test_bad_log = r.bad_log;
}

tse_err engine_log_secure_state(engine *t, engine_commit **ticket)
{
    ENGINE_ASSERT_LOCKED(t);
    *ticket = NULL;
    int version = 0;
    secure_record r;
    /* a store that cannot be read now is logged when it can be (9.8.3) */
    if (engine_log_format(t, &version) != TSE_OK || version != LOGMSG_VERSION_3 || !read_secure(t, &r))
        return TSE_OK;
    char buf[80];
    snprintf(buf, sizeof buf, "%lld,%d,%llu", r.in ? r.since : (long long)engine_now(t), t->key ? 1 : 0,
             (unsigned long long)t->self_test_bad_log);
    store_change ch = {.kind = STORE_PUT_META, .key = META_SECURE_STATE, .value = buf, .value_len = strlen(buf)};
    if (!r.in && t->self_test_ok)
        return TSE_OK;
    if (!r.in && !t->key)   /* nothing can be signed: the time only */
        return engine_submit_state(t, &ch, 1, ticket);
    if (!r.logged && t->key) {   /* entered now, or the late log of an earlier entry */
        engine_event ev = {.kind = EV_ENTER_SECURE_STATE, .time_before = r.in ? r.since : 0, .by_tse = true};
        return engine_event_log(t, &ev, &ch, 1, ticket);
    }
    if (!t->self_test_ok) {   /* in it already; a newly found altered log is remembered */
        if (t->self_test_bad_log == r.bad_log || !t->self_test_bad_log)
            return TSE_OK;
        return engine_submit_state(t, &ch, 1, ticket);
    }
    store_change del = {.kind = STORE_DEL_META, .key = META_SECURE_STATE};
    engine_event ev = {.kind = EV_EXIT_SECURE_STATE, .by_tse = true};
    return engine_event_log(t, &ev, &del, 1, ticket);
}
