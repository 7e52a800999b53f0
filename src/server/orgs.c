/*
 * orgs.c - tenancy for the operator key (organization 0):
 *   POST   /api/v2/organizations {name}                  create an organization
 *   GET    /api/v2/organizations                         list them
 *   POST   /api/v2/organizations/{id}/api-keys [{env}]   new API key of environment TEST or LIVE (secret shown once)
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
    /* ids 1, 2, ...: the next free one (an INSERT finds a taken one) */
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t n = 0;
        if (rec_count(s, "org", NULL, &n))
            return -1;
        char id[24];
        snprintf(id, sizeof id, "%" PRIu64, n + 1);
        json_t *v = json_pack("{s:s, s:I}", "name", name, "time_creation", (json_int_t)now_s());
        int rc = v ? rec_put(s, ENGINE_RECORD_INSERT, "org", id, NULL, (int64_t)n + 1, v) : -1;
        json_decref(v);
        if (rc <= 0)
            return rc ? -1 : (int64_t)n + 1;
    }
    return -1;
}

int auth_create_key(srv *s, int64_t org_id, char key_out[33], char secret_out[65])
{
    return auth_create_key_env(s, org_id, "LIVE", key_out, secret_out);
}

int auth_create_key_env(srv *s, int64_t org_id, const char *env, char key_out[33], char secret_out[65])
{
    random_hex(key_out, 16);
    random_hex(secret_out, 32);
    char hash[65], org[24], idhex[17];
    sha256_hex(secret_out, hash);
    snprintf(org, sizeof org, "%" PRId64, org_id);
    random_hex(idhex, 8);   /* the id tokens carry: random, so no node needs to count */
    int64_t id = (int64_t)(strtoull(idhex, NULL, 16) >> 11) + 1;   /* 1 .. 2^53 */
    json_t *v = json_pack("{s:I, s:I, s:s, s:i, s:I, s:s}", "id", (json_int_t)id, "org_id", (json_int_t)org_id,
                          "secret_hash", hash, "revoked", 0, "time_creation", (json_int_t)now_s(), "env",
                          env && strcmp(env, "TEST") == 0 ? "TEST" : "LIVE");
    int rc = v ? rec_put(s, ENGINE_RECORD_INSERT, "apikey", key_out, org, now_s(), v) : -1;
    json_decref(v);
    return rc ? -1 : 0;
}

/* The values of `data` with only `fields` kept (renamed by "name=field"). */
static json_t *pick(json_t *data, const char *const *fields, int n)
{
    json_t *out = data ? json_array() : NULL, *v;
    size_t i;
    json_array_foreach(data, i, v) {
        json_t *o = json_object();
        for (int k = 0; o && k < n; k++) {
            const char *eq = strchr(fields[k], '=');
            char name[32];
            snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - fields[k]) : (int)strlen(fields[k]), fields[k]);
            json_t *f = json_object_get(v, eq ? eq + 1 : fields[k]);
            if (f)   /* a field a record has not (e.g. env before environments): left out */
                json_object_set(o, name, f);
        }
        json_array_append_new(out, o);
    }
    json_decref(data);
    return out;
}

/* Organization ids as numbers, as they were created. */
static json_t *org_ids(json_t *data)
{
    json_t *v;
    size_t i;
    json_array_foreach(data, i, v) {
        json_object_set_new(v, "_id", json_integer(strtoll(json_string_value(json_object_get(v, "_id")) ?: "0", NULL, 10)));
    }
    return data;
}

/* Keys made before environments are LIVE. */
static json_t *key_envs(json_t *data)
{
    json_t *v;
    size_t i;
    json_array_foreach(data, i, v) {
        if (!json_object_get(v, "env"))
            json_object_set_new(v, "env", json_string("LIVE"));
    }
    return data;
}

static void respond_list(srv_resp *r, json_t *data, const char *type)
{
    if (!data)
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot read the state database (STORAGE_FAILURE)");
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
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot store the organization (STORAGE_FAILURE)");
    else
        resp_json(r, 200, json_pack("{s:I, s:s, s:s, s:I}", "_id", (json_int_t)id, "_type", "ORGANIZATION", "name",
                                    name, "time_creation", (json_int_t)now_s()));
    json_decref(j);
}

/* POST .../api-keys [{"env": "TEST" | "LIVE"}] (LIVE when not given) */
static void create_key(srv_req *q, srv_resp *r, int64_t org)
{
    char key[33], secret[65];
    json_t *j = q->body_len ? req_json(q, r) : NULL;
    if (q->body_len && !j)
        return;
    json_t *ev = json_object_get(j, "env");
    const char *env = ev ? json_string_value(ev) : "LIVE";
    if (!env || (strcmp(env, "TEST") != 0 && strcmp(env, "LIVE") != 0)) {
        json_decref(j);
        resp_error(r, 400, "E_BAD_REQUEST", "env must be \"TEST\" or \"LIVE\"");
        return;
    }
    int rc = auth_create_key_env(q->s, org, env, key, secret);
    if (rc) {
        json_decref(j);
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot store the API key (STORAGE_FAILURE)");
        return;
    }
    resp_json(r, 200, json_pack("{s:s, s:s, s:s, s:I, s:s}", "_type", "API_KEY", "key", key, "secret", secret,
                                "organization_id", (json_int_t)org, "env", env));
    json_decref(j);
    OPENSSL_cleanse(secret, sizeof secret);
}

int auth_revoke_key(srv *s, const char *key, int64_t org_id)
{
    json_t *k = NULL;
    int found = rec_get(s, "apikey", key, &k);
    if (found == 1 && json_integer_value(json_object_get(k, "org_id")) != org_id)
        found = 0;
    int rc = found == 1 ? 0 : found == 0 ? 1 : -1;
    if (!rc) {
        char org[24];
        snprintf(org, sizeof org, "%" PRId64, org_id);
        json_object_set_new(k, "revoked", json_integer(1));
        if (rec_put(s, ENGINE_RECORD_PUT, "apikey", key, org, json_integer_value(json_object_get(k, "time_creation")),
                    k) ||
            auth_revoke(s, json_integer_value(json_object_get(k, "id"))))
            rc = -1;
    }
    json_decref(k);
    return rc;
}

static void revoke_key(srv_req *q, srv_resp *r, const char *org, const char *key)
{
    int rc = auth_revoke_key(q->s, key, strtoll(org, NULL, 10));
    if (rc == 1) {
        resp_error(r, 404, "E_NOT_FOUND", "no API key %s in organization %s", key, org);
        return;
    }
    if (rc) {
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot revoke the API key (STORAGE_FAILURE)");
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
        static const char *const cols[] = {"_id=_key", "name", "time_creation"};
        if (strcmp(m, "POST") == 0)
            create_org(q, r);
        else if (strcmp(m, "GET") == 0)
            respond_list(r, org_ids(pick(rec_list(q->s, "org", NULL, 0, 0), cols, 3)), "ORGANIZATION_LIST");
        else
            resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET or POST");
        return;
    }
    uint64_t org = 0;
    json_t *org_rec = NULL;
    if (nseg < 3 || strcmp(seg[2], "api-keys") != 0 || nseg > 4) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", m, q->path);
    } else if (req_u64(r, "E_BAD_REQUEST", "the organization id", seg[1], 1, INT64_MAX, &org)) {
        return;
    } else if (rec_get(q->s, "org", seg[1], &org_rec) != 1) {
        resp_error(r, 404, "E_NOT_FOUND", "no organization %s", seg[1]);
    } else if (nseg == 3 && strcmp(m, "POST") == 0) {
        create_key(q, r, (long long)org);
    } else if (nseg == 3 && strcmp(m, "GET") == 0) {
        static const char *const cols[] = {"key=_key", "revoked", "time_creation", "env"};
        respond_list(r, key_envs(pick(rec_list(q->s, "apikey", seg[1], 0, 0), cols, 4)), "API_KEY_LIST");
    } else if (nseg == 4 && strcmp(m, "DELETE") == 0) {
        revoke_key(q, r, seg[1], seg[3]);
    } else {
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET or POST on api-keys, DELETE on api-keys/{key}");
    }
    json_decref(org_rec);
}
