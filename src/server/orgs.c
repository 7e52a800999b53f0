/*
 * orgs.c - tenancy for the operator key (organization 0):
 *   POST   /api/v2/organizations {name}                  create an organization
 *   GET    /api/v2/organizations                         list them
 *   POST   /api/v2/organizations/{id}/api-keys           new API key (secret shown once)
 *   GET    /api/v2/organizations/{id}/api-keys           list keys (never secrets)
 *   DELETE /api/v2/organizations/{id}/api-keys/{key}     revoke a key and its tokens
 * Secrets are random 256-bit values stored as SHA-256 hashes.
 */
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

int64_t auth_create_org(srv *s, const char *name)
{
    char now[24];
    snprintf(now, sizeof now, "%" PRId64, now_s());
    const char *args[] = {name, now};
    return db_insert(&s->db, "INSERT INTO orgs(name, time_creation) VALUES(?, ?)", 2, args);
}

int auth_create_key(srv *s, int64_t org_id, char key_out[33], char secret_out[65])
{
    random_hex(key_out, 16);
    random_hex(secret_out, 32);
    char hash[65], org[24], now[24];
    sha256_hex(secret_out, hash);
    snprintf(org, sizeof org, "%" PRId64, org_id);
    snprintf(now, sizeof now, "%" PRId64, now_s());
    const char *args[] = {org, key_out, hash, now};
    return db_exec(&s->db, "INSERT INTO api_keys(org_id, key, secret_hash, time_creation) VALUES(?,?,?,?)", 4, args);
}

/* Rows of `sql` (bound to arg) as objects named by `cols` (integer columns
 * marked with a leading '#'). */
static json_t *rows(srv *s, const char *sql, const char *arg, const char *const *cols, int ncols)
{
    json_t *data = json_array();
    pthread_mutex_lock(&s->db.mu);
    sqlite3_stmt *st = NULL;
    int rc = data ? sqlite3_prepare_v2(s->db.db, sql, -1, &st, NULL) : SQLITE_NOMEM;
    if (rc == SQLITE_OK && arg)
        rc = sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; o && i < ncols; i++)
            json_object_set_new(o, cols[i] + (cols[i][0] == '#'),
                                cols[i][0] == '#' ? json_integer(sqlite3_column_int64(st, i))
                                                  : json_string((const char *)sqlite3_column_text(st, i)));
        json_array_append_new(data, o);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->db.mu);
    if (rc != SQLITE_OK) {
        json_decref(data);
        return NULL;
    }
    return data;
}

static void respond_list(srv_resp *r, json_t *data, const char *type)
{
    if (!data)
        resp_error(r, 503, "STORAGE_FAILURE", "cannot read the state database");
    else
        resp_json(r, 200, json_pack("{s:o, s:i, s:s}", "data", data, "count", (int)json_array_size(data), "_type",
                                    type));
}

static void create_org(srv_req *q, srv_resp *r)
{
    json_t *j = req_json(q, r);
    if (!j)
        return;
    const char *name = json_string_value(json_object_get(j, "name"));
    int64_t id = -1;
    if (!name || !*name || strlen(name) > 200)
        resp_error(r, 400, "E_BAD_REQUEST", "name (1..200 characters) is required");
    else if ((id = auth_create_org(q->s, name)) < 0)
        resp_error(r, 503, "STORAGE_FAILURE", "cannot store the organization");
    else
        resp_json(r, 200, json_pack("{s:I, s:s, s:s, s:I}", "_id", (json_int_t)id, "_type", "ORGANIZATION", "name",
                                    name, "time_creation", (json_int_t)now_s()));
    json_decref(j);
}

static void create_key(srv_req *q, srv_resp *r, int64_t org)
{
    char key[33], secret[65];
    if (auth_create_key(q->s, org, key, secret)) {
        resp_error(r, 503, "STORAGE_FAILURE", "cannot store the API key");
        return;
    }
    resp_json(r, 200, json_pack("{s:s, s:s, s:s, s:I}", "_type", "API_KEY", "key", key, "secret", secret,
                                "organization_id", (json_int_t)org));
    OPENSSL_cleanse(secret, sizeof secret);
}

static void revoke_key(srv_req *q, srv_resp *r, const char *org, const char *key)
{
    char id[24];
    const char *args[] = {key, org};
    int found = db_text(&q->s->db, "SELECT id FROM api_keys WHERE key=? AND org_id=?", 2, args, id, sizeof id);
    if (found == 0) {
        resp_error(r, 404, "E_NOT_FOUND", "no API key %s in organization %s", key, org);
        return;
    }
    if (found < 0 || db_exec(&q->s->db, "UPDATE api_keys SET revoked=1 WHERE key=?", 1, args) ||
        auth_revoke(q->s, strtoll(id, NULL, 10))) {
        resp_error(r, 503, "STORAGE_FAILURE", "cannot revoke the API key");
        return;
    }
    resp_json(r, 200, json_pack("{s:s, s:s, s:b}", "_type", "API_KEY", "key", key, "revoked", 1));
}

void routes_org(srv_req *q, srv_resp *r, char **seg, int nseg)
{
    const char *m = q->method;
    if (!q->who.operator_role) {
        resp_error(r, 403, "E_FORBIDDEN", "only the operator key manages organizations");
        return;
    }
    if (nseg == 1) {
        static const char *const cols[] = {"#_id", "name", "#time_creation"};
        if (strcmp(m, "POST") == 0)
            create_org(q, r);
        else if (strcmp(m, "GET") == 0)
            respond_list(r, rows(q->s, "SELECT id, name, time_creation FROM orgs ORDER BY id", NULL, cols, 3),
                         "ORGANIZATION_LIST");
        else
            resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET or POST");
        return;
    }
    char org_text[24];
    uint64_t org = 0;
    const char *args[] = {seg[1]};
    if (nseg < 3 || strcmp(seg[2], "api-keys") != 0 || nseg > 4) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", m, q->path);
    } else if (req_u64(r, "E_BAD_REQUEST", "the organization id", seg[1], 1, INT64_MAX, &org)) {
        return;
    } else if (db_text(&q->s->db, "SELECT id FROM orgs WHERE id=?", 1, args, org_text, sizeof org_text) != 1) {
        resp_error(r, 404, "E_NOT_FOUND", "no organization %s", seg[1]);
    } else if (nseg == 3 && strcmp(m, "POST") == 0) {
        create_key(q, r, (long long)org);
    } else if (nseg == 3 && strcmp(m, "GET") == 0) {
        static const char *const cols[] = {"key", "#revoked", "#time_creation"};
        respond_list(r,
                     rows(q->s, "SELECT key, revoked, time_creation FROM api_keys WHERE org_id=? ORDER BY id",
                          seg[1], cols, 3),
                     "API_KEY_LIST");
    } else if (nseg == 4 && strcmp(m, "DELETE") == 0) {
        revoke_key(q, r, seg[1], seg[3]);
    } else {
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET or POST on api-keys, DELETE on api-keys/{key}");
    }
}
