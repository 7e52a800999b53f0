/*
 * remote_admin.c - users and administration of a remote TSS: admin and time
 * admin PIN and PUK, login and logout, initialize, time, disable, clients,
 * self-test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/remote_impl.h"
#include "codec/logmsg.h"
#include "engine/engine.h"

/* ------------------------------------------------------------ users */

/* The server's resource of a user: "admin", or the extensions "time-admin"
 * and "logger". */
static tse_err user_path(remote *r, const char *user_id, const char *sub, char *out, size_t cap)
{
    if (!user_id)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "user_id is required");
    const char *res = !strcmp(user_id, TSE_USER_ADMIN)        ? "admin"
                      : !strcmp(user_id, TSE_USER_TIME_ADMIN) ? "time-admin"
                      : !strcmp(user_id, TSE_USER_LOGGER)     ? "logger"
                                                              : NULL;
    if (!res)
        return engine_fail(TSE_ERR_USER_ID_NOT_MANAGED, "user id \"%s\" is not managed", user_id);
    snprintf(out, cap, "%s/%s%s", TSS_PATH(r), res, sub);
    return TSE_OK;
}

static tse_err call_body(remote *r, const char *method, const char *path, json_t *body)
{
    tse_err rc = body ? http_call(r->h, method, path, body, false, NULL) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

tse_err remote_set_admin_pin(void *backend, const char *puk, const char *new_pin)
{
    remote *r = backend;
    return remote_unblock_user(r, TSE_USER_ADMIN, puk, new_pin);
}

/* A user id the TSS does not manage goes to the extension routes
 * authenticate-user and unblock-pin, whose engine logs the attempt. */
static tse_err unknown_user_call(remote *r, const char *route, json_t *body)
{
    char path[96];
    snprintf(path, sizeof path, "%s/%s", TSS_PATH(r), route);
    return call_body(r, "POST", path, body);
}

tse_err remote_unblock_user(void *backend, const char *user_id, const char *puk, const char *new_pin)
{
    remote *r = backend;
    char path[96];
    tse_err rc = user_path(r, user_id, "", path, sizeof path);
    if (rc == TSE_ERR_USER_ID_NOT_MANAGED && puk && new_pin)
        return unknown_user_call(r, "unblock-pin",
                                 json_pack("{s:s, s:s, s:s}", "user_id", user_id, "puk", puk, "new_pin", new_pin));
    if (rc)
        return rc;
    if (!puk || !new_pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "PUK and new PIN are required");
    int admin = !strcmp(user_id, TSE_USER_ADMIN);
    json_t *body = json_pack("{s:s, s:s}", "admin_puk", puk, admin ? "new_admin_pin" : "new_pin", new_pin), *err = NULL;
    rc = body ? http_call_err(r->h, "PATCH", path, body, false, NULL, &err) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    /* the PUK's back-off is 403 with the TR-03151 name, the engine's PIN_BLOCKED of an unblock */
    const char *name = json_string_value(json_object_get(err, "tse_error"));
    if (rc && name && strcmp(name, "PUK_TEMPORARILY_BLOCKED") == 0)
        rc = engine_fail(TSE_ERR_PIN_BLOCKED, "%s", tse_last_error_message());
    json_decref(err);
    return rc;
}

tse_err remote_authenticate_user(void *backend, const char *user_id, const char *pin, tse_auth_result *result,
                                 int *remaining_retries)
{
    remote *r = backend;
    if (result)
        *result = TSE_AUTH_FAILED;
    if (remaining_retries)
        *remaining_retries = 0;
    char path[96];
    tse_err rc = user_path(r, user_id, "/auth", path, sizeof path);
    if (rc == TSE_ERR_USER_ID_NOT_MANAGED && pin) {
        rc = unknown_user_call(r, "authenticate-user", json_pack("{s:s, s:s}", "user_id", user_id, "pin", pin));
        if (result)
            *result = rc == TSE_OK ? TSE_AUTH_OK : rc == TSE_ERR_USER_ID_NOT_MANAGED ? TSE_AUTH_UNKNOWN_USER_ID
                                                                                     : TSE_AUTH_FAILED;
        return rc;
    }
    if (rc) {
        if (result && rc == TSE_ERR_USER_ID_NOT_MANAGED)
            *result = TSE_AUTH_UNKNOWN_USER_ID;
        return rc;
    }
    if (!pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "pin is required");
    json_t *body = json_pack("{s:s}", strcmp(user_id, TSE_USER_ADMIN) ? "pin" : "admin_pin", pin), *err = NULL;
    rc = body ? http_call_err(r->h, "POST", path, body, false, NULL, &err) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    if (remaining_retries)
        *remaining_retries = (int)json_integer_value(json_object_get(err, "remaining_retries"));
    json_decref(err);
    if (result)
        *result = rc == TSE_OK ? TSE_AUTH_OK : rc == TSE_ERR_PIN_BLOCKED ? TSE_AUTH_PIN_BLOCKED : TSE_AUTH_FAILED;
    return rc;
}

tse_err remote_logout(void *backend, const char *user_id)
{
    remote *r = backend;
    char path[96];
    tse_err rc = user_path(r, user_id, "/logout", path, sizeof path);
    return rc ? rc : http_call(r->h, "POST", path, NULL, false, NULL);
}

tse_err remote_set_user_pin(void *backend, const char *user_id, const char *new_pin)
{
    remote *r = backend;
    if (!new_pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "new_pin is required");
    if (user_id && !strcmp(user_id, TSE_USER_ADMIN))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the admin's PIN is set with the PUK");
    char path[96];
    tse_err rc = user_path(r, user_id, "", path, sizeof path);
    if (rc != TSE_OK)
        return rc;
    return call_body(r, "PATCH", path, json_pack("{s:s}", "new_pin", new_pin));
}

tse_err remote_logged_in_user(void *backend, char out[TSE_USER_ID_BUF])
{
    remote *r = backend;
    char path[96];
    snprintf(path, sizeof path, "%s/logged-in-user", TSS_PATH(r));
    json_t *j = NULL, *err = NULL;
    tse_err rc = http_call_err(r->h, "GET", path, NULL, true, &j, &err);
    const char *code = json_string_value(json_object_get(err, "code"));
    if (rc == TSE_ERR_NOT_FOUND && code && !strcmp(code, "E_NOT_FOUND"))   /* the route, not the TSS */
        rc = engine_fail(TSE_ERR_NOT_SUPPORTED, "the server does not tell who is logged in (an opentsed "
                                                "without GET .../logged-in-user)");
    json_decref(err);
    const char *id = rc ? NULL : json_string_value(json_object_get(j, "user_id"));
    static const char *const users[] = {TSE_USER_ADMIN, TSE_USER_TIME_ADMIN, TSE_USER_LOGGER,
                                        TSE_USER_UNAUTHENTICATED};
    bool known = false;
    for (size_t i = 0; id && i < sizeof users / sizeof users[0]; i++)
        known |= !strcmp(id, users[i]);
    if (!rc && !known)
        rc = engine_fail(TSE_ERR_INTERNAL, "the server's logged-in user does not fit the contract");
    if (!rc)
        snprintf(out, TSE_USER_ID_BUF, "%s", id);
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------ administration */

static tse_err patch_tss(remote *r, json_t *body)
{
    tse_err rc = body ? http_call(r->h, "PATCH", TSS_PATH(r), body, true, NULL) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

tse_err remote_initialize(void *backend, const char *description)
{
    remote *r = backend;
    if (description && strlen(description) > TSE_MAX_DESCRIPTION_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "description is limited to %d bytes", TSE_MAX_DESCRIPTION_LEN);
    /* the market API's PATCH {state: INITIALIZED} is idempotent; initialize
     * is not: a TSS initialized (or disabled) already refuses it, as in-process */
    json_t *cur = NULL;
    tse_err known = remote_get_tss(r, &cur);
    const char *now = json_string_value(json_object_get(cur, "state"));
    if (!known && now && strcmp(now, "INITIALIZED") == 0)
        known = engine_fail(TSE_ERR_WRONG_STATE, "the TSE is initialized already");
    else if (!known && now && strcmp(now, "DISABLED") == 0)
        known = engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE was disabled");
    json_decref(cur);
    if (known)
        return known;
    if (description && *description) {
        tse_err rc = patch_tss(r, json_pack("{s:s}", "description", description));
        if (rc)
            return rc;
    } else {
        /* as in-process: without a description the operator must have set one */
        json_t *j = NULL;
        tse_err rc = remote_get_tss(r, &j);
        const char *d = json_string_value(json_object_get(j, "description"));
        const char *st = json_string_value(json_object_get(j, "state"));
        if (!rc && (!d || !*d) && st && strcmp(st, "UNINITIALIZED") == 0)
            rc = engine_fail(TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER, "a description is required");
        json_decref(j);
        if (rc)
            return rc;
    }
    return patch_tss(r, json_pack("{s:s}", "state", "INITIALIZED"));
}

tse_err remote_update_time(void *backend, int64_t unix_time)
{
    remote *r = backend;
    char path[80];
    snprintf(path, sizeof path, "%s/time", TSS_PATH(r));
    return call_body(r, "POST", path, json_pack("{s:I}", "unix_time", (json_int_t)unix_time));
}

tse_err remote_disable_secure_element(void *backend)
{
    remote *r = backend;
    return patch_tss(r, json_pack("{s:s}", "state", "DISABLED"));
}

static tse_err client_call(remote *r, const char *method, const char *client_id, json_t *body, json_t **resp)
{
    if (!client_id || !*client_id || strlen(client_id) > TSE_MAX_CLIENT_ID_LEN) {
        json_decref(body);
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "client id must be 1..%d characters", TSE_MAX_CLIENT_ID_LEN);
    }
    char uuid[37], path[128];
    remote_client_uuid(client_id, uuid);
    snprintf(path, sizeof path, "%s/client/%s", TSS_PATH(r), uuid);
    tse_err rc = body || !strcmp(method, "GET") ? http_call(r->h, method, path, body, true, resp) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

tse_err remote_register_client(void *backend, const char *client_id)
{
    remote *r = backend;
    json_t *resp = NULL;
    /* a clientId is a PrintableString (a byte beyond ASCII would not even make a JSON text) */
    if (!logmsg_printable(client_id, strlen(client_id)))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "client \"%s\" holds a character outside PrintableString",
                           client_id);
    /* The engine refuses a second registration; the server's PUT replays. */
    tse_err rc = client_call(r, "GET", client_id, NULL, &resp);
    const char *state = json_string_value(json_object_get(resp, "state"));
    if (!rc && state && strcmp(state, "REGISTERED") == 0)
        rc = engine_fail(TSE_ERR_ALREADY_EXISTS, "client \"%s\" is registered already", client_id);
    else if (rc == TSE_ERR_NOT_FOUND)
        rc = client_call(r, "PUT", client_id, json_pack("{s:s}", "serial_number", client_id), NULL);
    else if (!rc)
        rc = client_call(r, "PATCH", client_id, json_pack("{s:s}", "state", "REGISTERED"), NULL);
    json_decref(resp);
    return rc;
}

tse_err remote_deregister_client(void *backend, const char *client_id)
{
    remote *r = backend;
    json_t *resp = NULL;
    tse_err rc = client_call(r, "GET", client_id, NULL, &resp);
    const char *state = json_string_value(json_object_get(resp, "state"));
    if (rc == TSE_ERR_NOT_FOUND || (!rc && (!state || strcmp(state, "REGISTERED") != 0)))
        rc = engine_fail(TSE_ERR_ID_NOT_FOUND, "client \"%s\" is not registered", client_id);
    else if (!rc)
        rc = client_call(r, "PATCH", client_id, json_pack("{s:s}", "state", "DEREGISTERED"), NULL);
    json_decref(resp);
    return rc;
}

tse_err remote_self_test(void *backend)
{
    remote *r = backend;
    char path[80];
    snprintf(path, sizeof path, "%s/self-test", TSS_PATH(r));
    return http_call(r->h, "POST", path, NULL, false, NULL);
}
