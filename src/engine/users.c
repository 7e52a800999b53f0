/*
 * users.c - TR-03151 user management: authenticateUser, logOut, unblockUser,
 * the admin PIN set with the PUK, the time admin's PIN, and the role checks
 * with session timeout. Every attempt is a system log; a wrong PIN consumes a
 * retry durably before the caller learns the result, three block the user.
 * The slow KDF runs outside the TSE lock. A TSE of log format 3 lets one
 * user at a time be authenticated (TR-03151-1 v1.1.1 3.2.2): a login logs
 * the other user out first (3.2.3.5 step 5); format 2 (TR-03151 v1.0.1,
 * whose logOut names the user) keeps a session per user. The logger
 * (TR-03153-1 v1.1.1 5.3.2.2) has a PIN only once the admin set one
 * (5.3.3: SHOULD); from then on transactions need it logged in.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "internal.h"

enum { LOGOUT_USER = 0, LOGOUT_TIMEOUT = 1, LOGOUT_OTHER_LOGIN = 2 };   /* why a session ends (events.c logs it) */

static int64_t session_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static int user_index(const char *id)
{
    if (!id)
        return -1;
    if (!strcmp(id, TSE_USER_ADMIN))
        return USER_ADMIN;
    if (!strcmp(id, TSE_USER_TIME_ADMIN))
        return USER_TIME_ADMIN;
    if (!strcmp(id, TSE_USER_LOGGER))
        return USER_LOGGER;
    return -1;
}

bool engine_valid_pin(const char *pin)
{
    if (!pin)
        return false;
    size_t n = strnlen(pin, TSE_MAX_PIN_LEN + 1);
    if (n < TSE_MIN_PIN_LEN || n > TSE_MAX_PIN_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pin[i] < 0x21 || pin[i] > 0x7e)
            return false;
    return true;
}

static tse_err log_logout(engine *t, int u, int cause, engine_commit **ticket)
{
    /* a timeout or another user's login is the TSE's own doing (3.2.2.2: no
     * eventTriggeredByUser); the user logs out herself */
    engine_event ev = {.kind = EV_LOGOUT, .text = t->users[u].id, .timeout = cause == LOGOUT_TIMEOUT,
                       .other_login = cause == LOGOUT_OTHER_LOGIN, .by_tse = cause != LOGOUT_USER,
                       .roles = 1u << u};
    tse_err rc = engine_event_log(t, &ev, NULL, 0, ticket);   /* names the user while still logged in */
    t->users[u].auth_until = 0;
    return rc;
}

tse_err engine_require_role(engine *t, unsigned roles, engine_commit **timeout_ticket)
{
    ENGINE_ASSERT_LOCKED(t);
    tse_err reread = engine_catch_up(t);   /* after a failed commit */
    if (reread != TSE_OK)
        return reread;
    int64_t now = session_clock();
    bool any_other = false;
    for (int u = 0; u < USER_COUNT; u++) {
        engine_user *usr = &t->users[u];
        if (!usr->auth_until)
            continue;
        if (now > usr->auth_until) {
            if (t->key && !*timeout_ticket) {
                int64_t until = usr->auth_until;
                /* the caller's records belong to its own log, not to this one */
                void *hook_ctx = NULL;
                engine_record_fn hook = engine_take_hook(&hook_ctx);
                tse_err logged = log_logout(t, u, LOGOUT_TIMEOUT, timeout_ticket);
                engine_records_attach(hook, hook_ctx);
                if (logged != TSE_OK) {
                    usr->auth_until = until;   /* the next call logs the timeout again */
                    return logged;
                }
            }
            usr->auth_until = 0;
            continue;
        }
        if (roles & (1u << u))
            return TSE_OK;
        any_other = true;
    }
    if (any_other)
        return engine_fail(TSE_ERR_USER_NOT_AUTHORIZED, "the logged-in user's role does not allow this operation");
    int first = 0;
    while (first < USER_COUNT - 1 && !(roles & (1u << first)))
        first++;
    return engine_fail(TSE_ERR_USER_NOT_AUTHENTICATED, "log in as %s first", t->users[first].id);
}

static bool session_live(const engine_user *usr, int64_t now)
{
    return usr->auth_until && now <= usr->auth_until;
}

tse_err engine_require_logger(engine *t)
{
    ENGINE_ASSERT_LOCKED(t);
    const engine_user *lg = &t->users[USER_LOGGER];
    int64_t now = session_clock();
    if (!lg->has_pin || session_live(lg, now))
        return TSE_OK;
    for (int u = 0; u < USER_COUNT; u++)
        if (u != USER_LOGGER && session_live(&t->users[u], now))
            return engine_fail(TSE_ERR_USER_NOT_AUTHORIZED,
                               "%s is logged in; transactions are the logger's (log in as logger)", t->users[u].id);
    return engine_fail(TSE_ERR_USER_NOT_AUTHENTICATED, "log in as logger first%s",
                       lg->auth_until ? " (its session timed out)" : "");
}

tse_err engine_refuse_role(engine *t, unsigned roles, const char *what)
{
    ENGINE_ASSERT_LOCKED(t);
    int64_t now = session_clock();
    for (int u = 0; u < USER_COUNT; u++)
        if ((roles & (1u << u)) && session_live(&t->users[u], now))
            return engine_fail(TSE_ERR_USER_NOT_AUTHORIZED, "%s may not %s; log it out first", t->users[u].id, what);
    return TSE_OK;
}

tse_err engine_logged_in_user(engine *t, char out[TSE_USER_ID_BUF])
{
    if (!t || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and out are required");
    /* format 2 may have several sessions: the widest read rights first */
    static const int by_rights[USER_COUNT] = {USER_ADMIN, USER_LOGGER, USER_TIME_ADMIN};
    const char *who = NULL;
    pthread_mutex_lock(&t->mu);
    int64_t now = session_clock();
    for (int i = 0; i < USER_COUNT && !who; i++)
        if (session_live(&t->users[by_rights[i]], now))
            who = t->users[by_rights[i]].id;
    if (!who)
        who = ENGINE_USER_UNAUTHENTICATED;
    snprintf(out, TSE_USER_ID_BUF, "%s", who);
    pthread_mutex_unlock(&t->mu);
    return TSE_OK;
}

/* TR-03151-1 v1.1.1 3.2.3.5 and 3.2.5.5: an authenticateUser or unblockPin
 * for a user id the TSE does not manage is logged as failed (unknownUserId,
 * the id as given in PrintableString, '?' for other characters, at most 64)
 * before ErrorUnknownUserId. Version 2 has no such result and a disabled TSE
 * or one without its key signs nothing: then only the refusal. */
static tse_err refuse_unknown_user(engine *t, engine_event_kind kind, const char *user_id)
{
    char id[65];
    logmsg_printable_copy(id, sizeof id, user_id);
    engine_commit *ticket = NULL;
    int version = 0;
    pthread_mutex_lock(&t->mu);
    tse_err rc = t->state == TSE_STATE_DISABLED || !t->key ? TSE_OK : engine_log_format(t, &version);
    if (!rc && version == LOGMSG_VERSION_3) {
        engine_event ev = {.kind = kind, .text = id, .user_index = -1, .unknown_user = true};
        rc = engine_event_log(t, &ev, NULL, 0, &ticket);
    }
    pthread_mutex_unlock(&t->mu);
    if (!rc)
        rc = engine_finish_commit(t, ticket);
    return rc ? rc
              : engine_fail(TSE_ERR_USER_ID_NOT_MANAGED,
                               "unknown user id \"%s\" (use \"admin\", \"timeadmin\" or \"logger\")", id);
}

/* TR-03151-1 v1.1.1 3.2.3.5 step 2 and 3.2.5.5 step 4: an attempt refused
 * because the PIN is blocked (authenticateUser) or the PUK temporarily
 * blocked (unblockPin) is logged (pinBlocked, unblockingTemporarilyBlocked)
 * by a TSE of log format 3 that can sign, then refused with PIN_BLOCKED
 * and `why`. */
static tse_err refuse_blocked(engine *t, engine_event_kind kind, int u, const char *why)
{
    engine_commit *ticket = NULL;
    int version = 0;
    pthread_mutex_lock(&t->mu);
    tse_err rc = t->state == TSE_STATE_DISABLED || !t->key ? TSE_OK : engine_log_format(t, &version);
    if (!rc && version == LOGMSG_VERSION_3) {
        engine_event ev = {.kind = kind, .text = t->users[u].id, .user_index = u, .blocked = true};
        rc = engine_event_log(t, &ev, NULL, 0, &ticket);
    }
    pthread_mutex_unlock(&t->mu);
    if (!rc)
        rc = engine_finish_commit(t, ticket);
    return rc ? rc : engine_fail(TSE_ERR_PIN_BLOCKED, "%s", why);
}

/* TR-03151-1 v1.1.1 3.2.3.5 step 5, under mu: before user `u` is logged in,
 * a TSE of log format 3 logs out the other user who is authenticated (a
 * logOut queued in *ticket, NULL if none: differentUserLoggedIn, or timeout
 * for a session that ran out meanwhile). *other gets that user and *until
 * its session's end, to take the logout back if its log is not stored. */
static tse_err logout_other_user(engine *t, int u, int *other, int64_t *until, engine_commit **ticket)
{
    *other = -1;
    int version = 0;
    tse_err rc = engine_log_format(t, &version);
    int64_t now = session_clock();
    for (int v = 0; !rc && version == LOGMSG_VERSION_3 && v < USER_COUNT; v++) {
        /* the same user again: only a session that ended is logged out */
        if (!t->users[v].auth_until || (v == u && now <= t->users[v].auth_until))
            continue;
        *until = t->users[v].auth_until;
        void *hook_ctx = NULL;   /* the caller's records belong to the login's log */
        engine_record_fn hook = engine_take_hook(&hook_ctx);
        rc = log_logout(t, v, now > *until ? LOGOUT_TIMEOUT : LOGOUT_OTHER_LOGIN, ticket);
        engine_records_attach(hook, hook_ctx);
        if (rc) {
            t->users[v].auth_until = *until;   /* nothing was logged: still logged in */
            break;
        }
        *other = v;
        break;   /* one user at most is authenticated */
    }
    return rc;
}

/* Retries are stored as text under "retries.<user>". */
static void retries_change(store_change *c, char key[48], char val[24], const engine_user *usr)
{
    snprintf(key, 48, "retries.%s", usr->id);
    engine_meta_int(c, key, usr->retries_left, val);
}

tse_err engine_authenticate_user(engine *t, const char *user_id, const char *pin, tse_auth_result *result,
                              int *remaining)
{
    tse_auth_result dummy_r;
    int dummy_n;
    if (!result)
        result = &dummy_r;
    if (!remaining)
        remaining = &dummy_n;
    *result = TSE_AUTH_FAILED;
    *remaining = 0;
    if (!t || !user_id || !pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, user_id and pin are required");
    int u = user_index(user_id);
    if (u < 0) {
        *result = TSE_AUTH_UNKNOWN_USER_ID;
        return refuse_unknown_user(t, EV_AUTHENTICATE, user_id);
    }
    if (strnlen(pin, TSE_MAX_PIN_LEN + 1) > TSE_MAX_PIN_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "PIN longer than %d characters", TSE_MAX_PIN_LEN);

    uint8_t rec[CSP_SECRET_HASH_LEN];
    pthread_mutex_lock(&t->mu);
    engine_user *usr = &t->users[u];
    tse_err rc = TSE_OK;
    if (t->state == TSE_STATE_DISABLED)
        rc = engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE was disabled");
    else if (!usr->has_pin)
        rc = engine_fail(TSE_ERR_WRONG_STATE, "no PIN is set for %s", usr->id);
    else if (!t->key)
        rc = engine_fail(TSE_ERR_KEY_UNAVAILABLE, "%s", t->key_error.message);
    bool blocked = !rc && usr->retries_left <= 0;
    memcpy(rec, usr->pin_rec, sizeof rec);
    pthread_mutex_unlock(&t->mu);
    char why[96];
    snprintf(why, sizeof why, "the PIN of %s is blocked; unblock it with the PUK", usr->id);
    if (blocked)
        *result = TSE_AUTH_PIN_BLOCKED;
    if (rc || blocked)
        return rc ? rc : refuse_blocked(t, EV_AUTHENTICATE, u, why);

    tse_error kerr = {0};
    int checked = csp_secret_verify(pin, rec, &kerr);
    if (checked != 0 && checked != TSE_ERR_AUTHENTICATION_FAILED)   /* no retry is used up for that */
        return engine_fail(checked, "the PIN could not be checked: %s", kerr.message);
    bool ok = checked == 0;

    engine_commit *ticket = NULL, *out_ticket = NULL;
    char key[48], val[24];
    pthread_mutex_lock(&t->mu);
    int other = -1;
    int64_t other_until = 0;
    /* step 5: the other user's logOut is stored before the login is logged */
    rc = ok && usr->retries_left > 0 ? logout_other_user(t, u, &other, &other_until, &out_ticket) : TSE_OK;
    if (out_ticket) {
        pthread_mutex_unlock(&t->mu);
        rc = engine_finish_commit(t, out_ticket);
        pthread_mutex_lock(&t->mu);
        if (rc != TSE_OK && !t->users[other].auth_until)
            t->users[other].auth_until = other_until;   /* not stored: still logged in, unless ended since */
    }
    if (rc != TSE_OK) {
        pthread_mutex_unlock(&t->mu);
        return rc;
    }
    if (usr->retries_left <= 0) {   /* another request's wrong PIN came first */
        pthread_mutex_unlock(&t->mu);
        *result = TSE_AUTH_PIN_BLOCKED;
        return refuse_blocked(t, EV_AUTHENTICATE, u, why);
    }
    int before = usr->retries_left;
    usr->retries_left = ok ? ENGINE_MAX_RETRIES : before - 1;
    store_change ch;
    retries_change(&ch, key, val, usr);
    engine_event ev = {.kind = EV_AUTHENTICATE, .text = usr->id, .user_index = u, .success = ok,
                       .retries_left = usr->retries_left};
    rc = engine_event_log(t, &ev, &ch, 1, &ticket);
    if (rc == TSE_OK && ok)
        usr->auth_until = session_clock() + t->session_timeout;
    if (rc != TSE_OK)
        usr->retries_left = before;
    int left = usr->retries_left;
    pthread_mutex_unlock(&t->mu);
    if (rc == TSE_OK)
        rc = engine_finish_commit(t, ticket);
    if (rc != TSE_OK) {
        pthread_mutex_lock(&t->mu);
        usr->auth_until = 0;
        pthread_mutex_unlock(&t->mu);
        return rc;
    }
    *remaining = left;
    if (ok) {
        *result = TSE_AUTH_OK;
        return TSE_OK;
    }
    if (left <= 0) {
        *result = TSE_AUTH_PIN_BLOCKED;
        return engine_fail(TSE_ERR_PIN_BLOCKED, "wrong PIN; the PIN of %s is now blocked", usr->id);
    }
    return engine_fail(TSE_ERR_AUTHENTICATION_FAILED, "wrong PIN for %s, %d retries left", usr->id, left);
}

tse_err engine_logout(engine *t, const char *user_id)
{
    if (!t || !user_id)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and user_id are required");
    int u = user_index(user_id);
    if (u < 0)
        return engine_fail(TSE_ERR_USER_ID_NOT_MANAGED, "unknown user id");
    engine_commit *ticket = NULL;
    tse_err rc;
    int64_t until = 0;
    pthread_mutex_lock(&t->mu);
    if (!t->users[u].auth_until || session_clock() > t->users[u].auth_until) {
        t->users[u].auth_until = 0;
        rc = engine_fail(TSE_ERR_USER_ID_NOT_AUTHENTICATED, "%s is not logged in", user_id);
    } else {
        until = t->users[u].auth_until;
        rc = log_logout(t, u, LOGOUT_USER, &ticket);
        if (rc != TSE_OK)
            t->users[u].auth_until = until;   /* not logged out, as nothing was logged */
    }
    pthread_mutex_unlock(&t->mu);
    if (rc == TSE_OK && (rc = engine_finish_commit(t, ticket)) != TSE_OK) {
        /* the logOut was not stored: the session goes on, unless ended since */
        pthread_mutex_lock(&t->mu);
        if (!t->users[u].auth_until)
            t->users[u].auth_until = until;
        pthread_mutex_unlock(&t->mu);
    }
    return rc;
}

/* Seconds left of the PUK's block; under mu. A host clock set back cannot
 * stretch it past the longest back-off. */
static int64_t puk_wait(const engine *t)
{
    int64_t left = t->puk_until ? t->puk_until - engine_host_time() : 0;
    return left <= 0 ? 0 : left < ENGINE_PUK_BACKOFF_MAX ? left : ENGINE_PUK_BACKOFF_MAX;
}

int64_t engine_puk_blocked_for(engine *t)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->mu);
    int64_t w = puk_wait(t);
    pthread_mutex_unlock(&t->mu);
    return w;
}

tse_err engine_unblock_user(engine *t, const char *user_id, const char *puk, const char *new_pin)
{
    if (!t || !user_id || !puk || !new_pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, user_id, puk and new_pin are required");
    int u = user_index(user_id);
    if (u < 0)
        return refuse_unknown_user(t, EV_UNBLOCK, user_id);
    if (!engine_valid_pin(new_pin))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the new PIN must be %d..%d printable characters without spaces",
                           TSE_MIN_PIN_LEN, TSE_MAX_PIN_LEN);
    if (strnlen(puk, 64) > 63)
        return engine_fail(TSE_ERR_TOO_LARGE, "PUK too long");

    uint8_t puk_rec[CSP_SECRET_HASH_LEN], new_rec[CSP_SECRET_HASH_LEN];
    tse_error err = {0};
    tse_err rc = TSE_OK;
    char why[160];
    pthread_mutex_lock(&t->mu);
    int64_t wait = puk_wait(t);
    if (t->state == TSE_STATE_DISABLED)
        rc = engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE was disabled");
    else if (!t->key)
        rc = engine_fail(TSE_ERR_KEY_UNAVAILABLE, "%s", t->key_error.message);
    snprintf(why, sizeof why, "the PUK is temporarily blocked after %lld wrong PUKs in a row; try again in %lld s",
             (long long)t->puk_failures, (long long)wait);
    memcpy(puk_rec, t->puk_rec, sizeof puk_rec);
    pthread_mutex_unlock(&t->mu);
    if (rc)
        return rc;
    if (wait > 0)   /* refused unchecked: guessing costs time */
        return refuse_blocked(t, EV_UNBLOCK, u, why);

    int checked = csp_secret_verify(puk, puk_rec, &err);
    if (checked != 0 && checked != TSE_ERR_AUTHENTICATION_FAILED)
        return engine_fail(checked, "the PUK could not be checked: %s", err.message);
    bool ok = checked == 0;
    int hashed = ok ? csp_secret_hash(new_pin, new_rec, &err) : 0;
    if (hashed != 0)
        return engine_fail(hashed == TSE_ERR_NO_MEMORY ? hashed : TSE_ERR_INTERNAL, "hashing the PIN: %s", err.message);

    engine_commit *ticket = NULL;
    char pin_key[48], ret_key[48], ret_val[24], st_val[24], fail_val[24], until_val[24];
    store_change ch[5];
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    if ((wait = puk_wait(t)) > 0) {   /* another request's wrong PUK came first */
        pthread_mutex_unlock(&t->mu);
        OPENSSL_cleanse(new_rec, sizeof new_rec);
        snprintf(why, sizeof why, "the PUK is temporarily blocked; try again in %lld s", (long long)wait);
        return refuse_blocked(t, EV_UNBLOCK, u, why);
    }
    engine_user *usr = &t->users[u];
    engine_user saved = *usr;
    tse_state saved_state = t->state;
    int64_t saved_failures = t->puk_failures, saved_until = t->puk_until;
    t->puk_failures = ok ? 0 : t->puk_failures + 1;
    t->puk_until = 0;
    if (t->puk_failures >= ENGINE_MAX_RETRIES) {
        int64_t backoff = ENGINE_PUK_BACKOFF;
        for (int64_t i = ENGINE_MAX_RETRIES; i < t->puk_failures && backoff < ENGINE_PUK_BACKOFF_MAX; i++)
            backoff *= 2;
        t->puk_until = engine_host_time() + (backoff < ENGINE_PUK_BACKOFF_MAX ? backoff : ENGINE_PUK_BACKOFF_MAX);
    }
    if (t->puk_failures != saved_failures || t->puk_until != saved_until) {
        engine_meta_int(&ch[n++], "puk.failures", t->puk_failures, fail_val);
        engine_meta_int(&ch[n++], "puk.until", t->puk_until, until_val);
    }
    if (ok) {
        memcpy(usr->pin_rec, new_rec, sizeof new_rec);
        usr->has_pin = true;
        usr->retries_left = ENGINE_MAX_RETRIES;
        usr->auth_until = 0;
        snprintf(pin_key, sizeof pin_key, "pin.%s", usr->id);
        ch[n++] = (store_change){.kind = STORE_PUT_META, .key = pin_key, .value = new_rec, .value_len = sizeof new_rec};
        retries_change(&ch[n++], ret_key, ret_val, usr);
        if (u == USER_ADMIN && t->state == TSE_STATE_CREATED) {
            t->state = TSE_STATE_UNINITIALIZED;
            engine_meta_int(&ch[n++], "state", t->state, st_val);
        }
    }
    engine_event ev = {.kind = EV_UNBLOCK, .text = usr->id, .success = ok};
    rc = engine_event_log(t, &ev, ch, n, &ticket);
    if (rc != TSE_OK) {
        *usr = saved;
        t->state = saved_state;
        t->puk_failures = saved_failures;
        t->puk_until = saved_until;
    }
    int64_t failures = t->puk_failures;
    wait = puk_wait(t);
    pthread_mutex_unlock(&t->mu);
    OPENSSL_cleanse(new_rec, sizeof new_rec);
    if (rc == TSE_OK)
        rc = engine_finish_commit(t, ticket);
    if (rc != TSE_OK)
        return rc;
    if (ok)
        return TSE_OK;
    if (wait > 0)
        return engine_fail(TSE_ERR_UNBLOCK_FAILED, "the PUK is wrong (%lld in a row); it is blocked for %lld s",
                           (long long)failures, (long long)wait);
    return engine_fail(TSE_ERR_UNBLOCK_FAILED, "the PUK is wrong; %lld more wrong PUK%s block it for a while",
                       (long long)(ENGINE_MAX_RETRIES - failures), ENGINE_MAX_RETRIES - failures == 1 ? "" : "s");
}

tse_err engine_set_admin_pin(engine *t, const char *puk, const char *new_pin)
{
    return engine_unblock_user(t, TSE_USER_ADMIN, puk, new_pin);
}

tse_err engine_set_user_pin(engine *t, const char *user_id, const char *new_pin)
{
    if (!t || !user_id || !new_pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t, user_id and new_pin are required");
    int u = user_index(user_id);
    if (u != USER_TIME_ADMIN && u != USER_LOGGER)
        return engine_fail(u < 0 ? TSE_ERR_USER_ID_NOT_MANAGED : TSE_ERR_INVALID_ARGUMENT,
                           u < 0 ? "unknown user id" : "the admin's PIN is set with the PUK");
    if (!engine_valid_pin(new_pin))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the PIN must be %d..%d printable characters without spaces",
                           TSE_MIN_PIN_LEN, TSE_MAX_PIN_LEN);
    uint8_t rec[CSP_SECRET_HASH_LEN];
    tse_error err = {0};
    int hashed = csp_secret_hash(new_pin, rec, &err);
    if (hashed != 0)
        return engine_fail(hashed == TSE_ERR_NO_MEMORY ? hashed : TSE_ERR_INTERNAL, "hashing the PIN: %s", err.message);
    engine_commit *tt = NULL, *ticket = NULL;
    char ret_key[48], ret_val[24];
    pthread_mutex_lock(&t->mu);
    tse_err rc = t->state == TSE_STATE_DISABLED
                     ? engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE was disabled")
                     : engine_require_role(t, 1u << USER_ADMIN, &tt);
    if (rc == TSE_OK) {
        engine_user *usr = &t->users[u];
        engine_user saved = *usr;
        usr->has_pin = true;
        usr->retries_left = ENGINE_MAX_RETRIES;
        usr->auth_until = 0;
        memcpy(usr->pin_rec, rec, sizeof rec);
        char pin_key[48];
        snprintf(pin_key, sizeof pin_key, "pin.%s", usr->id);
        store_change ch[2] = {{.kind = STORE_PUT_META, .key = pin_key, .value = rec, .value_len = sizeof rec}};
        retries_change(&ch[1], ret_key, ret_val, usr);
        rc = engine_submit_state(t, ch, 2, &ticket);
        if (rc != TSE_OK)
            *usr = saved;
    }
    pthread_mutex_unlock(&t->mu);
    return engine_finish_after_timeout(t, tt, rc, ticket);
}
