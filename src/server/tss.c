/*
 * tss.c - TSS resources: PUT/GET/PATCH /api/v2/tss[/{id}], their metadata
 * (GET/PATCH .../metadata) and the admin routes (PIN via PUK, admin login
 * and logout; the time admin's and the logger's as extensions), over the TSSs of the
 * registry (registry.c); another organization's or environment's TSS
 * answers 404.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"

/* The TSS record's description, deployed flag, (unless NULL) metadata, a
 * new reference ({} when it has none), and time of deployment (0: none). */
static int tss_row_full(srv *s, const char *id, char *desc, size_t cap, int *deployed, json_t **meta,
                        int64_t *time_uninit)
{
    json_t *v = NULL;
    if (rec_get(s, "tss", id, &v) != 1) {
        json_decref(v);
        return -1;
    }
    snprintf(desc, cap, "%s", json_string_value(json_object_get(v, "description")) ?: "");
    *deployed = (int)json_integer_value(json_object_get(v, "deployed"));
    if (meta) {
        json_t *m = json_object_get(v, "metadata");
        *meta = json_is_object(m) ? json_incref(m) : json_object();
    }
    if (time_uninit)
        *time_uninit = json_integer_value(json_object_get(v, "time_uninit"));
    json_decref(v);
    return 0;
}

static int tss_row_meta(srv *s, const char *id, char *desc, size_t cap, int *deployed, json_t **meta)
{
    return tss_row_full(s, id, desc, cap, deployed, meta, NULL);
}

static int tss_row(srv *s, const char *id, char *desc, size_t cap, int *deployed)
{
    return tss_row_meta(s, id, desc, cap, deployed, NULL);
}

/* The TSS record with description (unless NULL), deployed (unless < 0) and
 * metadata (unless NULL) set, into b; false if it cannot be read or made. */
static bool tss_change_meta(srv *s, const char *id, const char *desc, int deployed, json_t *meta, rec_batch *b)
{
    json_t *v = NULL;
    bool ok = rec_get(s, "tss", id, &v) == 1;
    if (ok && desc)
        json_object_set_new(v, "description", json_string(desc));
    if (ok && deployed >= 0)
        json_object_set_new(v, "deployed", json_integer(deployed));
    if (ok && deployed > 0)   /* CREATED -> UNINITIALIZED now */
        json_object_set_new(v, "time_uninit", json_integer(now_s()));
    if (ok && meta)
        json_object_set(v, "metadata", meta);
    char org[24];
    snprintf(org, sizeof org, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(v, "org_id")));
    ok = ok && rec_batch_add(b, ENGINE_RECORD_PUT, "tss", id, org,
                             json_integer_value(json_object_get(v, "time_creation")), v);
    json_decref(v);
    return ok;
}

static bool tss_change(srv *s, const char *id, const char *desc, int deployed, rec_batch *b)
{
    return tss_change_meta(s, id, desc, deployed, NULL, b);
}

static const char *state_name(tse_state st, int deployed)
{
    switch (st) {
    case TSE_STATE_CREATED: return deployed ? "UNINITIALIZED" : "CREATED";
    case TSE_STATE_UNINITIALIZED: return "UNINITIALIZED";
    case TSE_STATE_INITIALIZED: return "INITIALIZED";
    default: return "DISABLED";
    }
}

/* The TSS certificate (first of the chain), PEM; malloc'd or NULL. */
static char *first_cert(engine *e)
{
    char *chain = NULL, *pem = NULL;
    static const char end_line[] = "-----END CERTIFICATE-----";
    if (engine_export_certificates(e, &chain) == TSE_OK && chain) {
        const char *end = strstr(chain, end_line);
        if (end && (pem = malloc((size_t)(end - chain) + sizeof end_line + 1))) {
            size_t n = (size_t)(end - chain) + sizeof end_line - 1;
            memcpy(pem, chain, n);
            strcpy(pem + n, "\n");
        }
    }
    tse_free(chain);
    return pem;
}

static json_t *tss_json(srv *s, srv_tss *x)
{
    tse_info info;
    char desc[TSE_MAX_DESCRIPTION_LEN + 1] = "";
    int deployed = 0;
    json_t *meta = NULL;
    int64_t time_uninit = 0;
    if (engine_get_info(x->e, &info) != TSE_OK ||
        tss_row_full(s, x->id, desc, sizeof desc, &deployed, &meta, &time_uninit))
        return NULL;
    char *pem = first_cert(x->e);
    char expiry[40], st_time[40];
    time_iso(info.cert_not_after, TIME_ISO_MILLIS, expiry, sizeof expiry);
    time_iso(info.self_test_time, TIME_ISO_MILLIS, st_time, sizeof st_time);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:I, s:s,"
        " s:{s:s, s:I, s:i}, s:{s:s, s:I, s:b}, s:i, s:s, s:s, s:o}",
        "state", state_name(info.state, deployed), "description",
        desc[0] ? desc : info.description,
        "serial_number", x->serial_hex, "public_key", x->pub_b64, "signature_algorithm", x->alg,
        "signature_timestamp_format", x->time_format, "signature_counter", (json_int_t)info.signature_counter,
        "transaction_counter", (json_int_t)info.transaction_counter, "number_registered_clients",
        (int)info.current_clients, "max_number_registered_clients", (int)info.max_clients,
        "number_active_transactions", (int)info.current_open_transactions, "max_number_active_transactions",
        (int)info.max_open_transactions, "time_creation", (json_int_t)info.time_creation, "certificate",
        pem ? pem : "", "certificate_expiry", "time", expiry, "unix", (json_int_t)info.cert_not_after, "days_left",
        (int)info.cert_days_left, "self_test", "time", st_time, "unix", (json_int_t)info.self_test_time, "passed",
        info.self_test_ok, "overdue_active_transactions", (int)info.overdue_open_transactions,
        "transaction_data_encoding", "UTF-8", "supported_update_variants", "SIGNED", "metadata", meta);
    free(pem);
    if (j && time_uninit)   /* times that have not come yet are left out, not null */
        json_object_set_new(j, "time_uninit", json_integer(time_uninit));
    if (j)   /* 2 or 3 for the TSS's whole life (TR-03151 v1.0.1 or v1.1.1 logs) */
        json_object_set_new(j, "log_format_version", json_integer(x->log_format));
    if (j && info.time_init)
        json_object_set_new(j, "time_init", json_integer(info.time_init));
    if (j && info.time_disable)
        json_object_set_new(j, "time_disable", json_integer(info.time_disable));
    if (j) {
        res_envelope(j, "TSS", x->id, x);
        /* OpenTSE: the TSE's own time (getCurrentSeTime), once it is set */
        json_object_set_new(j, "se_time", info.time_set ? json_pack("{s:b, s:I}", "set", 1, "unix", (json_int_t)info.time_now)
                                                        : json_pack("{s:b}", "set", 0));
        json_object_set_new(j, "end_of_usage", expiry_json(x));
        json_object_set_new(j, "warnings", json_array());
        if (info.state != TSE_STATE_DISABLED)   /* a disabled TSS signs nothing more: no warning */
            expiry_add_warning(x, j);
        successor_links_json(s, x, j);
    }
    return j;
}

json_t *tss_answer(srv *s, srv_tss *x)
{
    return tss_json(s, x);
}

static void respond_tss(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *j = tss_json(q->s, x);
    if (!j)
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot read the TSS (STORAGE_FAILURE)");
    else
        resp_json(r, 200, j);
}

/* PUT /api/v2/tss/{id} [{metadata}]: creates the TSS in the caller's
 * environment; again on an existing one answers it (with metadata given,
 * those set). */
static void put_tss(srv_req *q, srv_resp *r, const char *id)
{
    srv *s = q->s;
    if (!uuid_valid(id)) {
        resp_error(r, 400, "E_BAD_REQUEST", "tss_id must be a UUID");
        return;
    }
    json_t *body = req_json_create(q, r), *meta = NULL;
    if (!body || req_metadata(r, body, &meta)) {
        json_decref(body);
        return;
    }
    json_decref(body);
    pthread_mutex_lock(&s->create_mu);
    srv_tss *x = tss_find_any(s, id);
    if (x) {
        pthread_mutex_unlock(&s->create_mu);
        if (x->org_id != q->who.org_id || strcmp(x->env, q->who.env) != 0)
            resp_error(r, 409, "E_TSS_CONFLICT", "tss_id %s is taken", id);
        else if (meta && tss_set_metadata(s, x->id, meta))
            resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot store the metadata (STORAGE_FAILURE)");
        else
            respond_tss(q, r, x);
        json_decref(meta);
        return;
    }
    char puk[TSE_PUK_LEN + 1];
    tse_err e = tss_create_meta(s, id, q->who.org_id, q->who.env, meta, puk, &x);
    pthread_mutex_unlock(&s->create_mu);
    json_decref(meta);
    if (e) {
        resp_tse_error(r, e);
        return;
    }
    json_t *j = tss_json(s, x);
    if (j)
        json_object_set_new(j, "admin_puk", json_string(puk));
    OPENSSL_cleanse(puk, sizeof puk);
    resp_json(r, 200, j);
}

static const char *const tss_states[] = {"CREATED", "UNINITIALIZED", "INITIALIZED", "DISABLED", NULL};

/* GET /api/v2/tss: the caller's TSSs of its environment, oldest first;
 * states filter (states[]=..., states[0]=..., states=...). */
static void list_tss(srv_req *q, srv_resp *r)
{
    long limit, offset;
    const char *want[4];
    int nwant;
    if (req_page(q, r, &limit, &offset) || (nwant = req_states(q, r, tss_states, want, 4)) < 0)
        return;
    char org[24];
    snprintf(org, sizeof org, "%" PRId64, q->who.org_id);
    json_t *recs = rec_list(q->s, "tss", org, 0, 0), *v;
    if (!recs) {
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot list the TSSs (STORAGE_FAILURE)");
        return;
    }
    json_t *data = json_array();
    size_t i;
    long skipped = 0;
    json_array_foreach(recs, i, v) {
        if ((long)json_array_size(data) >= limit)
            break;
        srv_tss *x = tss_find_for(q->s, json_string_value(json_object_get(v, "_key")), &q->who);
        json_t *j = x ? tss_json(q->s, x) : NULL;
        int match = j && !nwant;
        for (int k = 0; j && k < nwant; k++)
            match |= strcmp(json_string_value(json_object_get(j, "state")), want[k]) == 0;
        if (match && skipped++ >= offset)
            json_array_append(data, j);
        json_decref(j);
    }
    json_decref(recs);
    json_t *list = json_pack("{s:o*, s:i}", "data", data, "count", data ? (int)json_array_size(data) : 0);
    res_envelope_env(list, "TSS_LIST", NULL, q->who.env);
    resp_json(r, 200, list);
}

int tss_set_metadata(srv *s, const char *id, json_t *meta)
{
    rec_batch b = {0};
    if (!tss_change_meta(s, id, NULL, -1, meta, &b)) {
        rec_batch_free(&b);
        return -1;
    }
    return rec_commit(s, &b) ? -1 : 0;
}

int tss_set_record(srv *s, const char *id, const char *desc, int deployed)
{
    rec_batch b = {0};
    if (!tss_change(s, id, desc, deployed, &b)) {
        rec_batch_free(&b);
        return -1;
    }
    return rec_commit(s, &b) ? -1 : 0;
}

/* Applies the state change; the changed TSS record in b (may be empty)
 * commits with its log, or alone when no log is written. */
static tse_err set_state(srv *s, srv_tss *x, const char *state, const char *desc, rec_batch *b)
{
    tse_info info;
    tse_err e = engine_get_info(x->e, &info);
    if (e)
        return e;
    bool init = strcmp(state, "INITIALIZED") == 0 && info.state != TSE_STATE_INITIALIZED;
    bool disable = strcmp(state, "DISABLED") == 0 && info.state != TSE_STATE_DISABLED;
    if (strcmp(state, "UNINITIALIZED") == 0 && info.state != TSE_STATE_CREATED &&
        info.state != TSE_STATE_UNINITIALIZED)
        return TSE_ERR_WRONG_STATE;
    if (!init && !disable)   /* no log: the record alone (deployed, description) */
        return b->n && rec_commit(s, b) ? TSE_ERR_STORAGE_FAILURE : TSE_OK;
    char d[TSE_MAX_DESCRIPTION_LEN + 1] = "";
    int dep = 0;
    if (init && !desc && tss_row(s, x->id, d, sizeof d, &dep) != 0)
        d[0] = 0;   /* no description recorded: the TSS id stands in */
    if (desc)
        snprintf(d, sizeof d, "%s", desc);
    if (b->n)
        rec_attach(b);
    e = init ? engine_initialize(x->e, *d ? d : x->id) : engine_disable_secure_element(x->e);
    engine_records_attach(NULL, NULL);
    return e;
}

static int tss_metadata_merged(srv_req *q, srv_resp *r, srv_tss *x, json_t *patch, json_t **out);

/* PATCH /api/v2/tss/{id} {state, description, metadata}: any of them;
 * metadata merges into the TSS's (a key with null is removed). */
static void patch_tss(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *j = req_json(q, r);
    if (!j)
        return;
    if (req_type(r, j, NULL, "description", JSON_STRING) || req_type(r, j, NULL, "state", JSON_STRING) ||
        req_type(r, j, NULL, "metadata", JSON_OBJECT)) {
        json_decref(j);
        return;
    }
    json_t *dv = json_object_get(j, "description"), *sv = json_object_get(j, "state");
    json_t *mv = json_object_get(j, "metadata"), *meta = NULL;
    const char *desc = json_string_value(dv), *state = json_string_value(sv);
    int known = 0;
    for (int i = 1; state && tss_states[i]; i++)
        known |= strcmp(state, tss_states[i]) == 0;
    rec_batch b = {0};
    if ((!dv && !sv && !mv) || (sv && !known)) {
        resp_error(r, 400, "E_BAD_REQUEST",
                   "give state (UNINITIALIZED, INITIALIZED or DISABLED), description or metadata");
    } else if (desc && strlen(desc) > TSE_MAX_DESCRIPTION_LEN) {
        resp_error(r, 400, "E_BAD_REQUEST", "description is limited to %d characters", TSE_MAX_DESCRIPTION_LEN);
    } else if (!mv || !tss_metadata_merged(q, r, x, mv, &meta)) {
        /* The request is applied whole or not at all: the new description
         * and metadata commit together with the state change's log (or alone). */
        tse_info info;
        tse_err e = engine_get_info(x->e, &info);
        int deploy = !e && state && strcmp(state, "UNINITIALIZED") == 0 && info.state == TSE_STATE_CREATED ? 1 : -1;
        if (!e && (desc || deploy > 0 || meta) && !tss_change_meta(q->s, x->id, desc, deploy, meta, &b))
            e = TSE_ERR_STORAGE_FAILURE;
        if (!e)
            e = state ? set_state(q->s, x, state, desc, &b) : rec_commit(q->s, &b) ? TSE_ERR_STORAGE_FAILURE : TSE_OK;
        if (e)
            resp_tse_error(r, e);
        else
            respond_tss(q, r, x);
    }
    json_decref(meta);
    rec_batch_free(&b);
    json_decref(j);
}

/* The TSS's metadata with patch merged into *out; -1 and an error in r. */
static int tss_metadata_merged(srv_req *q, srv_resp *r, srv_tss *x, json_t *patch, json_t **out)
{
    char desc[TSE_MAX_DESCRIPTION_LEN + 1];
    int deployed;
    json_t *cur = NULL;
    if (tss_row_meta(q->s, x->id, desc, sizeof desc, &deployed, &cur)) {
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot read the TSS (STORAGE_FAILURE)");
        return -1;
    }
    int rc = req_metadata_patch(r, patch, cur, out);
    json_decref(cur);
    return rc;
}

/* GET and PATCH /api/v2/tss/{id}/metadata: the TSS's metadata object; a
 * PATCH body is merged into it (the object itself, or {"metadata": {...}}). */
void routes_tss_metadata(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    (void)seg;
    json_t *cur = NULL, *j = NULL, *meta = NULL;
    char desc[TSE_MAX_DESCRIPTION_LEN + 1];
    int deployed;
    if (nseg != 3) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
    } else if (strcmp(q->method, "GET") == 0) {
        if (tss_row_meta(q->s, x->id, desc, sizeof desc, &deployed, &cur))
            resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot read the TSS (STORAGE_FAILURE)");
        else
            resp_json(r, 200, json_incref(cur));
    } else if (strcmp(q->method, "PATCH") == 0) {
        if ((j = req_json(q, r)) && !tss_metadata_merged(q, r, x, req_metadata_body(j), &meta)) {
            if (tss_set_metadata(q->s, x->id, meta))
                resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot store the metadata (STORAGE_FAILURE)");
            else
                resp_json(r, 200, json_incref(meta));
        }
    } else {
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET or PATCH");
    }
    json_decref(cur);
    json_decref(meta);
    json_decref(j);
}

/* The answer to a PIN change with the PUK: a PUK blocked after too many
 * wrong ones (TR-03151-1 ErrorPukTemporarilyBlocked) is 403 with
 * Retry-After. */
static void puk_answer(srv_req *q, srv_resp *r, srv_tss *x, tse_err e)
{
    int64_t wait = e == TSE_ERR_PIN_BLOCKED ? engine_puk_blocked_for(x->e) : 0;
    if (wait > 0) {
        resp_error(r, 403, "E_PUK_BLOCKED", "%s", tse_last_error_message());
        resp_tse_name(r, "PUK_TEMPORARILY_BLOCKED");
        r->retry_after = (int)wait;
        json_object_set_new(r->json, "retry_after", json_integer(wait));
    } else if (e) {
        resp_tse_error(r, e);
    } else if (q) {
        respond_tss(q, r, x);
    } else {
        resp_json(r, 200, json_object());
    }
}

/* PATCH .../admin {admin_puk, new_admin_pin} */
static void admin_pin(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *j = req_json(q, r);
    if (!j)
        return;
    const char *puk = json_string_value(json_object_get(j, "admin_puk"));
    const char *pin = json_string_value(json_object_get(j, "new_admin_pin"));
    if (req_type(r, j, NULL, "admin_puk", JSON_STRING) || req_type(r, j, NULL, "new_admin_pin", JSON_STRING)) {
        json_decref(j);
        return;
    }
    if (!puk || !pin) {
        json_decref(j);
        resp_error(r, 400, "E_BAD_REQUEST", "admin_puk and new_admin_pin are required");
        return;
    }
    tse_info info;
    tse_err e = engine_get_info(x->e, &info);
    if (!e)
        e = info.state == TSE_STATE_CREATED ? engine_set_admin_pin(x->e, puk, pin)
                                            : engine_unblock_user(x->e, TSE_USER_ADMIN, puk, pin);
    json_decref(j);
    puk_answer(q, r, x, e);
}

/* POST .../admin/auth {admin_pin}, POST .../time-admin/auth and .../logger/auth {pin} */
static void user_auth(srv_req *q, srv_resp *r, srv_tss *x, const char *user, const char *field)
{
    json_t *j = req_json(q, r);
    if (!j)
        return;
    const char *pin = json_string_value(json_object_get(j, field));
    if (!pin) {
        json_decref(j);
        resp_error(r, 400, "E_BAD_REQUEST", "%s is required", field);
        return;
    }
    tse_auth_result res = TSE_AUTH_FAILED;
    int left = 0;
    tse_err e = engine_authenticate_user(x->e, user, pin, &res, &left);
    json_decref(j);
    if (e == TSE_ERR_AUTHENTICATION_FAILED && res != TSE_AUTH_PIN_BLOCKED && left > 0) {
        resp_error(r, 401, tse_market_code(e), "wrong %s PIN; %d attempt%s left before the PIN is blocked", user,
                   left, left == 1 ? "" : "s");
        resp_tse_name(r, tse_errname(e));
        json_object_set_new(r->json, "remaining_retries", json_integer(left));
    } else if (e == TSE_ERR_PIN_BLOCKED || res == TSE_AUTH_PIN_BLOCKED) {
        int admin = strcmp(user, TSE_USER_ADMIN) == 0, logger = strcmp(user, TSE_USER_LOGGER) == 0;
        resp_error(r, 403, admin ? "E_ADMIN_PIN_BLOCKED" : logger ? "E_LOGGER_PIN_BLOCKED" : "E_TIME_ADMIN_PIN_BLOCKED",
                   "the %s PIN is blocked; set a new PIN with the PUK (PATCH .../%s)", user,
                   admin ? "admin" : logger ? "logger" : "time-admin");
        resp_tse_name(r, tse_errname(TSE_ERR_PIN_BLOCKED));
        json_object_set_new(r->json, "remaining_retries", json_integer(0));
    } else if (e) {
        resp_tse_error(r, e);
    } else {
        resp_json(r, 200, json_object());
    }
}

/* PATCH .../time-admin or .../logger {new_pin} (the admin sets it) or
 * {admin_puk, new_pin} (unblock) */
static void user_pin(srv_req *q, srv_resp *r, srv_tss *x, const char *user)
{
    json_t *j = req_json(q, r);
    if (!j)
        return;
    json_t *pv = json_object_get(j, "admin_puk");
    const char *puk = json_string_value(pv), *pin = json_string_value(json_object_get(j, "new_pin"));
    tse_err e = TSE_OK;
    if (!pin || (pv && !puk))
        resp_error(r, 400, "E_BAD_REQUEST", "new_pin (and admin_puk to unblock) must be strings");
    else if (puk)
        e = engine_unblock_user(x->e, user, puk, pin);
    else
        e = engine_set_user_pin(x->e, user, pin);
    json_decref(j);
    if (e || (pin && (!pv || puk)))
        puk_answer(NULL, r, x, e);
}

/* .../admin and the extensions .../time-admin and .../logger: PIN, login, logout. */
void routes_admin(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    const char *m = q->method;
    int admin = strcmp(seg[2], "admin") == 0;
    const char *user = admin ? TSE_USER_ADMIN : strcmp(seg[2], "logger") == 0 ? TSE_USER_LOGGER : TSE_USER_TIME_ADMIN;
    if (nseg == 3 && strcmp(m, "PATCH") == 0) {
        if (admin)
            admin_pin(q, r, x);
        else
            user_pin(q, r, x, user);
    } else if (nseg == 4 && strcmp(seg[3], "auth") == 0 && strcmp(m, "POST") == 0) {
        user_auth(q, r, x, user, admin ? "admin_pin" : "pin");
    } else if (nseg == 4 && strcmp(seg[3], "logout") == 0 && strcmp(m, "POST") == 0) {
        tse_err e = engine_logout(x->e, user);
        if (e)
            resp_tse_error(r, e);
        else
            resp_json(r, 200, json_object());
    } else {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", m, q->path);
    }
}

/* /api/v2/tss[/{id}]; sub-resources are dispatched by routes.c. */
void routes_tss(srv_req *q, srv_resp *r, char **seg, int nseg)
{
    const char *m = q->method;
    if (q->who.operator_role) {
        resp_error(r, 403, "E_FORBIDDEN", "the operator key manages organizations, not TSSs");
        return;
    }
    if (nseg == 1 && strcmp(m, "GET") == 0) {
        list_tss(q, r);
        return;
    }
    if (nseg != 2) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", m, q->path);
        return;
    }
    if (strcmp(m, "PUT") == 0) {
        put_tss(q, r, seg[1]);
        return;
    }
    srv_tss *x = tss_find_for(q->s, seg[1], &q->who);
    if ((!x && tss_elsewhere(q->s, seg[1], q->who.org_id)) || (x && engine_lease_lost(x->e) && engine_reacquire(x->e) != TSE_OK))
        (void)(proxy_pass(q, r, seg[1]) || (resp_elsewhere(r, seg[1]), 0));
    else if (!x)
        resp_error(r, 404, "E_TSS_NOT_FOUND", "no TSS %s", seg[1]);
    else if (strcmp(m, "GET") == 0)
        respond_tss(q, r, x);
    else if (strcmp(m, "PATCH") == 0)
        patch_tss(q, r, x);
    else
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET, PUT or PATCH");
}
