/*
 * remote_admin.c - users and administration of a remote TSS: admin PIN and
 * PUK, login and logout, initialize and disable, clients.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/remote_impl.h"
#include "engine/engine.h"

/* ------------------------------------------------------------ users */

static tse_err patch_admin(remote *r, const char *puk, const char *new_pin)
{
    if (!puk || !new_pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "PUK and new PIN are required");
    char path[80];
    snprintf(path, sizeof path, "%s/admin", r->tss_path);
    json_t *body = json_pack("{s:s, s:s}", "admin_puk", puk, "new_admin_pin", new_pin);
    tse_err rc = body ? http_call(r->h, "PATCH", path, body, false, NULL) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

static tse_err admin_only(const char *user_id)
{
    if (!user_id)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "user_id is required");
    if (strcmp(user_id, TSE_USER_TIME_ADMIN) == 0)
        return engine_fail(TSE_ERR_NOT_SUPPORTED, "a remote TSS has no time admin: it keeps its own time");
    if (strcmp(user_id, TSE_USER_ADMIN) != 0)
        return engine_fail(TSE_ERR_USER_ID_NOT_MANAGED, "user id \"%s\" is not managed", user_id);
    return TSE_OK;
}

tse_err remote_set_admin_pin(remote *r, const char *puk, const char *new_pin)
{
    return patch_admin(r, puk, new_pin);
}

tse_err remote_unblock_user(remote *r, const char *user_id, const char *puk, const char *new_pin)
{
    tse_err rc = admin_only(user_id);
    return rc ? rc : patch_admin(r, puk, new_pin);
}

tse_err remote_authenticate_user(remote *r, const char *user_id, const char *pin, tse_auth_result *result,
                                 int *remaining_retries)
{
    if (result)
        *result = TSE_AUTH_FAILED;
    tse_err rc = admin_only(user_id);
    if (rc) {
        if (result && rc == TSE_ERR_USER_ID_NOT_MANAGED)
            *result = TSE_AUTH_UNKNOWN_USER_ID;
        return rc;
    }
    if (!pin)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "pin is required");
    char path[80];
    snprintf(path, sizeof path, "%s/admin/auth", r->tss_path);
    json_t *body = json_pack("{s:s}", "admin_pin", pin);
    rc = body ? http_call(r->h, "POST", path, body, false, NULL) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    if (rc == TSE_ERR_AUTHENTICATION_FAILED && remaining_retries) {
        /* the server's message says "... N attempt(s) left ..." */
        const char *m = strstr(tse_last_error_message(), " attempt");
        const char *p = m;
        while (p && p > tse_last_error_message() && (p[-1] == ' ' || (p[-1] >= '0' && p[-1] <= '9')))
            p--;
        *remaining_retries = m ? atoi(p) : 0;
    } else if (remaining_retries) {
        *remaining_retries = 0;
    }
    if (result)
        *result = rc == TSE_OK ? TSE_AUTH_OK : rc == TSE_ERR_PIN_BLOCKED ? TSE_AUTH_PIN_BLOCKED : TSE_AUTH_FAILED;
    return rc;
}

tse_err remote_logout(remote *r, const char *user_id)
{
    tse_err rc = admin_only(user_id);
    if (rc)
        return rc;
    char path[80];
    snprintf(path, sizeof path, "%s/admin/logout", r->tss_path);
    return http_call(r->h, "POST", path, NULL, true, NULL);
}

tse_err remote_set_time_admin_pin(remote *r, const char *new_pin)
{
    (void)r;
    (void)new_pin;
    return admin_only(TSE_USER_TIME_ADMIN);
}

/* ------------------------------------------------------ administration */

static tse_err patch_tss(remote *r, json_t *body)
{
    tse_err rc = body ? http_call(r->h, "PATCH", r->tss_path, body, true, NULL) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

tse_err remote_initialize(remote *r, const char *description)
{
    if (description && strlen(description) > TSE_MAX_DESCRIPTION_LEN)
        return engine_fail(TSE_ERR_TOO_LARGE, "description is limited to %d bytes", TSE_MAX_DESCRIPTION_LEN);
    if (description && *description) {
        tse_err rc = patch_tss(r, json_pack("{s:s}", "description", description));
        if (rc)
            return rc;
    }
    return patch_tss(r, json_pack("{s:s}", "state", "INITIALIZED"));
}

tse_err remote_update_time(remote *r, int64_t unix_time)
{
    (void)r;
    (void)unix_time;
    return engine_fail(TSE_ERR_NOT_SUPPORTED, "a remote TSS keeps its own time (the server's clock)");
}

tse_err remote_disable_secure_element(remote *r)
{
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
    snprintf(path, sizeof path, "%s/client/%s", r->tss_path, uuid);
    tse_err rc = body || !strcmp(method, "GET") ? http_call(r->h, method, path, body, true, resp) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    return rc;
}

tse_err remote_register_client(remote *r, const char *client_id)
{
    json_t *resp = NULL;
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

tse_err remote_deregister_client(remote *r, const char *client_id)
{
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

tse_err remote_self_test(remote *r)
{
    (void)r;
    return engine_fail(TSE_ERR_NOT_SUPPORTED, "the server runs the self-tests; see tse_get_info");
}
