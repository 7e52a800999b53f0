/*
 * tss.c - TSS resources. One TSS is one engine on its own store file
 * DATA_DIR/tss/<uuid>.db, opened at start (or creation) and kept open in an
 * in-memory registry. Handles PUT/GET/PATCH /api/v2/tss[/{id}] and the admin
 * routes (PIN via PUK, admin login and logout; the time admin's as an
 * extension). Every lookup checks the
 * caller's organization: another organization's TSS answers 404.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"

static void tss_path(srv *s, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/tss/%s.db", s->cfg.data_dir, id);
}

static const char *time_format_name(tse_time_format f)
{
    return f == TSE_TIME_UTC ? "utcTime" : f == TSE_TIME_GENERALIZED ? "generalizedTime" : "unixTime";
}

/* Opens the engine of TSS `id` and adds it to the registry (under tss_mu). */
static srv_tss *registry_open(srv *s, const char *id, int64_t org_id)
{
    char path[1200];
    tss_path(s, id, path, sizeof path);
    tse_open_options oo = {.master_key_path = s->master_key_path};
    engine *e = NULL;
    tse_err rc = engine_open(path, &oo, &e);
    if (rc) {
        fprintf(stderr, "opentsed: cannot open TSS %s: %s (%s)\n", id, tse_errname(rc), tse_last_error_message());
        return NULL;
    }
    srv_tss *x = calloc(1, sizeof *x);
    tse_info info;
    uint8_t *point = NULL;
    size_t point_len = 0;
    if (!x || engine_get_info(e, &info) != TSE_OK || engine_public_key(e, &point, &point_len) != TSE_OK ||
        !(x->pub_b64 = b64_encode(point, point_len))) {
        tse_free(point);
        free(x);
        engine_close(e);
        return NULL;
    }
    if (point_len <= sizeof x->point) {
        memcpy(x->point, point, point_len);
        x->point_len = point_len;
    }
    tse_free(point);
    snprintf(x->id, sizeof x->id, "%s", id);
    x->org_id = org_id;
    x->e = e;
    x->curve = info.curve;
    tse_hex(info.serial_number, TSE_SERIAL_LEN, x->serial_hex);
    snprintf(x->alg, sizeof x->alg, "%s", info.signature_algorithm);
    x->tf = info.time_format;
    x->time_format = time_format_name(info.time_format);
    pthread_mutex_lock(&s->tss_mu);
    x->next = s->tss_list;
    s->tss_list = x;
    pthread_mutex_unlock(&s->tss_mu);
    return x;
}

int tss_load_all(srv *s)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/tss", s->cfg.data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db.db, "SELECT id, org_id FROM tss", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
        if (!registry_open(s, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1)))
            rc = -1;
    sqlite3_finalize(st);
    return rc;
}

void tss_close_all(srv *s)
{
    pthread_mutex_lock(&s->tss_mu);
    srv_tss *x = s->tss_list;
    s->tss_list = NULL;
    pthread_mutex_unlock(&s->tss_mu);
    while (x) {
        srv_tss *n = x->next;
        engine_close(x->e);
        free(x->pub_b64);
        free(x);
        x = n;
    }
}

static srv_tss *find_any(srv *s, const char *id)
{
    pthread_mutex_lock(&s->tss_mu);
    srv_tss *x = s->tss_list;
    while (x && strcmp(x->id, id) != 0)
        x = x->next;
    pthread_mutex_unlock(&s->tss_mu);
    return x;
}

srv_tss *tss_find(srv *s, const char *id, int64_t org_id)
{
    srv_tss *x = find_any(s, id);
    return x && x->org_id == org_id ? x : NULL;
}

tse_err tss_create(srv *s, const char *id, int64_t org_id, char puk[TSE_PUK_LEN + 1], srv_tss **out)
{
    char path[1200];
    tss_path(s, id, path, sizeof path);
    tse_create_options co = {.master_key_path = s->master_key_path, .trust_system_clock = 1};
    if (s->cfg.cert_validity > 0 && s->cfg.cert_validity <= INT32_MAX)
        co.cert_validity_seconds = (int32_t)s->cfg.cert_validity;
    else
        co.cert_validity_days = (uint32_t)(s->cfg.cert_validity / 86400);
    tse_err rc = engine_create(path, &co, puk);
    if (rc)
        return rc;
    char org[32], now[32];
    snprintf(org, sizeof org, "%" PRId64, org_id);
    snprintf(now, sizeof now, "%" PRId64, now_s());
    const char *args[] = {id, org, now};
    if (db_exec(&s->db, "INSERT INTO tss(id, org_id, description, deployed, time_creation) VALUES(?,?,'',0,?)", 3,
                args)) {
        remove(path);
        return TSE_ERR_STORAGE_FAILURE;
    }
    if (!(*out = registry_open(s, id, org_id)))
        return TSE_ERR_INTERNAL;
    return TSE_OK;
}

static int tss_row(srv *s, const char *id, char *desc, size_t cap, int *deployed)
{
    char dep[8];
    const char *args[] = {id};
    if (db_text(&s->db, "SELECT description FROM tss WHERE id=?", 1, args, desc, cap) != 1 ||
        db_text(&s->db, "SELECT deployed FROM tss WHERE id=?", 1, args, dep, sizeof dep) != 1)
        return -1;
    *deployed = atoi(dep);
    return 0;
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

static json_t *time_or_null(int64_t t)
{
    return t ? json_integer(t) : json_null();
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
    if (engine_get_info(x->e, &info) != TSE_OK || tss_row(s, x->id, desc, sizeof desc, &deployed))
        return NULL;
    char *pem = first_cert(x->e);
    char expiry[40], st_time[40];
    time_iso(info.cert_not_after, expiry, sizeof expiry);
    time_iso(info.self_test_time, st_time, sizeof st_time);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:s,"
        " s:{s:s, s:I, s:i}, s:{s:s, s:I, s:b}, s:i}",
        "_id", x->id, "_type", "TSS", "_env", "PROD", "state", state_name(info.state, deployed), "description",
        desc[0] ? desc : info.description,
        "serial_number", x->serial_hex, "public_key", x->pub_b64, "signature_algorithm", x->alg,
        "signature_timestamp_format", x->time_format, "signature_counter", (json_int_t)info.signature_counter,
        "transaction_counter", (json_int_t)info.transaction_counter, "number_registered_clients",
        (int)info.current_clients, "max_number_registered_clients", (int)info.max_clients,
        "number_active_transactions", (int)info.current_open_transactions, "max_number_active_transactions",
        (int)info.max_open_transactions, "time_creation", time_or_null(info.time_creation), "time_init",
        time_or_null(info.time_init), "time_disable", time_or_null(info.time_disable), "certificate",
        pem ? pem : "", "certificate_expiry", "time", expiry, "unix", (json_int_t)info.cert_not_after, "days_left",
        (int)info.cert_days_left, "self_test", "time", st_time, "unix", (json_int_t)info.self_test_time, "passed",
        info.self_test_ok, "overdue_active_transactions", (int)info.overdue_open_transactions);
    free(pem);
    return j;
}

static void respond_tss(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *j = tss_json(q->s, x);
    if (!j)
        resp_error(r, 503, "STORAGE_FAILURE", "cannot read the TSS");
    else
        resp_json(r, 200, j);
}

static void put_tss(srv_req *q, srv_resp *r, const char *id)
{
    srv *s = q->s;
    if (!uuid_ok(id)) {
        resp_error(r, 400, "E_BAD_REQUEST", "tss_id must be a UUID");
        return;
    }
    json_t *body = q->body_len ? req_json(q, r) : NULL; /* optional; only checked */
    if (q->body_len && !body)
        return;
    json_decref(body);
    pthread_mutex_lock(&s->create_mu);
    srv_tss *x = find_any(s, id);
    if (x) {
        pthread_mutex_unlock(&s->create_mu);
        if (x->org_id != q->who.org_id)
            resp_error(r, 409, "E_CONFLICT", "tss_id %s is taken", id);
        else
            respond_tss(q, r, x);
        return;
    }
    char puk[TSE_PUK_LEN + 1];
    tse_err e = tss_create(s, id, q->who.org_id, puk, &x);
    pthread_mutex_unlock(&s->create_mu);
    if (e) {
        resp_tse_error(r, e);
        return;
    }
    json_t *j = tss_json(s, x);
    if (j)
        json_object_set_new(j, "admin_puk", json_string(puk));
    resp_json(r, 200, j);
}

static void list_tss(srv_req *q, srv_resp *r)
{
    long limit, offset;
    if (req_page(q, r, &limit, &offset))
        return;
    json_t *data = json_array();
    char(*ids)[40] = calloc(100, sizeof *ids);
    int n = 0;
    pthread_mutex_lock(&q->s->db.mu);
    sqlite3_stmt *st = NULL;
    if (ids &&
        sqlite3_prepare_v2(q->s->db.db, "SELECT id FROM tss WHERE org_id=? ORDER BY time_creation, id LIMIT ? OFFSET ?",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_int64(st, 1, q->who.org_id) == SQLITE_OK && sqlite3_bind_int64(st, 2, limit) == SQLITE_OK &&
        sqlite3_bind_int64(st, 3, offset) == SQLITE_OK) {
        while (n < 100 && sqlite3_step(st) == SQLITE_ROW)
            snprintf(ids[n++], 40, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&q->s->db.mu);
    for (int i = 0; data && i < n; i++) {
        srv_tss *x = tss_find(q->s, ids[i], q->who.org_id);
        json_t *j = x ? tss_json(q->s, x) : NULL;
        if (j)
            json_array_append_new(data, j);
    }
    free(ids);
    resp_json(r, 200, json_pack("{s:o*, s:i, s:s}", "data", data, "count", n, "_type", "TSS_LIST"));
}

static tse_err set_state(srv *s, srv_tss *x, const char *state)
{
    tse_info info;
    tse_err e = engine_get_info(x->e, &info);
    if (e)
        return e;
    if (strcmp(state, "UNINITIALIZED") == 0) {
        if (info.state == TSE_STATE_CREATED) {
            const char *args[] = {x->id};
            return db_exec(&s->db, "UPDATE tss SET deployed=1 WHERE id=?", 1, args) ? TSE_ERR_STORAGE_FAILURE
                                                                                     : TSE_OK;
        }
        return info.state == TSE_STATE_UNINITIALIZED ? TSE_OK : TSE_ERR_WRONG_STATE;
    }
    if (strcmp(state, "INITIALIZED") == 0) {
        if (info.state == TSE_STATE_INITIALIZED)
            return TSE_OK;
        char d[TSE_MAX_DESCRIPTION_LEN + 1] = "";
        int dep = 0;
        if (tss_row(s, x->id, d, sizeof d, &dep) != 0)
            d[0] = 0;   /* no description recorded: the TSS id stands in */
        return engine_initialize(x->e, *d ? d : x->id);
    }
    if (strcmp(state, "DISABLED") == 0)
        return info.state == TSE_STATE_DISABLED ? TSE_OK : engine_disable_secure_element(x->e);
    return TSE_ERR_INVALID_ARGUMENT;
}

static void patch_tss(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *j = req_json(q, r);
    if (!j)
        return;
    json_t *dv = json_object_get(j, "description"), *sv = json_object_get(j, "state");
    const char *desc = json_string_value(dv), *state = json_string_value(sv);
    static const char *states[] = {"UNINITIALIZED", "INITIALIZED", "DISABLED"};
    int known = 0;
    for (int i = 0; state && i < 3; i++)
        known |= strcmp(state, states[i]) == 0;
    if ((!dv && !sv) || (dv && !desc) || (sv && !known)) {
        resp_error(r, 400, "E_BAD_REQUEST", "give state (UNINITIALIZED, INITIALIZED or DISABLED) or description");
    } else if (desc && strlen(desc) > TSE_MAX_DESCRIPTION_LEN) {
        resp_error(r, 400, "E_BAD_REQUEST", "description is limited to %d characters", TSE_MAX_DESCRIPTION_LEN);
    } else {
        const char *args[] = {desc, x->id};
        tse_err e = TSE_OK;
        if (desc && db_exec(&q->s->db, "UPDATE tss SET description=? WHERE id=?", 2, args))
            e = TSE_ERR_STORAGE_FAILURE;
        if (!e && state)
            e = set_state(q->s, x, state);
        if (e)
            resp_tse_error(r, e);
        else
            respond_tss(q, r, x);
    }
    json_decref(j);
}

/* PATCH .../admin {admin_puk, new_admin_pin} */
static void admin_pin(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *j = req_json(q, r);
    if (!j)
        return;
    const char *puk = json_string_value(json_object_get(j, "admin_puk"));
    const char *pin = json_string_value(json_object_get(j, "new_admin_pin"));
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
    if (e)
        resp_tse_error(r, e);
    else
        respond_tss(q, r, x);
}

/* POST .../admin/auth {admin_pin}, POST .../time-admin/auth {pin} */
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
        resp_error(r, 401, tse_errname(e), "wrong %s PIN; %d attempt%s left before the PIN is blocked", user, left,
                   left == 1 ? "" : "s");
        json_object_set_new(r->json, "remaining_retries", json_integer(left));
    } else if (e == TSE_ERR_PIN_BLOCKED || res == TSE_AUTH_PIN_BLOCKED) {
        resp_error(r, 403, tse_errname(TSE_ERR_PIN_BLOCKED),
                   "the %s PIN is blocked; set a new PIN with the PUK (PATCH .../%s)", user,
                   strcmp(user, TSE_USER_ADMIN) ? "time-admin" : "admin");
        json_object_set_new(r->json, "remaining_retries", json_integer(0));
    } else if (e) {
        resp_tse_error(r, e);
    } else {
        resp_json(r, 200, json_object());
    }
}

/* PATCH .../time-admin {new_pin} (the admin sets it) or {admin_puk, new_pin} (unblock) */
static void time_admin_pin(srv_req *q, srv_resp *r, srv_tss *x)
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
        e = engine_unblock_user(x->e, TSE_USER_TIME_ADMIN, puk, pin);
    else
        e = engine_set_time_admin_pin(x->e, pin);
    json_decref(j);
    if (e)
        resp_tse_error(r, e);
    else if (pin && (!pv || puk))
        resp_json(r, 200, json_object());
}

/* .../admin and the extension .../time-admin: PIN, login, logout. */
void routes_admin(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    const char *m = q->method;
    int admin = strcmp(seg[2], "admin") == 0;
    const char *user = admin ? TSE_USER_ADMIN : TSE_USER_TIME_ADMIN;
    if (nseg == 3 && strcmp(m, "PATCH") == 0) {
        if (admin)
            admin_pin(q, r, x);
        else
            time_admin_pin(q, r, x);
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
    srv_tss *x = tss_find(q->s, seg[1], q->who.org_id);
    if (!x)
        resp_error(r, 404, "E_TSS_NOT_FOUND", "no TSS %s", seg[1]);
    else if (strcmp(m, "GET") == 0)
        respond_tss(q, r, x);
    else if (strcmp(m, "PATCH") == 0)
        patch_tss(q, r, x);
    else
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET, PUT or PATCH");
}
