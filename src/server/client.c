/*
 * client.c - client (cash register) resources of a TSS:
 * PUT/GET/PATCH /api/v2/tss/{tss_id}/client/{client_id}, its metadata
 * (GET/PATCH .../client/{client_id}/metadata), the paged list of a TSS and
 * GET /api/v2/client, the clients of all the organization's TSSs of the
 * caller's environment. The client's serial_number is the clientId
 * registered in the TSE and written into every log message; client_id is
 * the caller's UUID for it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The client's record: 1 found, 0 none, -1 error. */
static int client_rec(srv *s, const char *tss_id, const char *client_id, json_t **out)
{
    char ns[REC_NS_LEN];
    return rec_get(s, rec_ns(ns, "client", tss_id), client_id, out);
}

int client_lookup(srv *s, const char *tss_id, const char *client_id, char serial[TSE_MAX_CLIENT_ID_LEN + 1],
                  char state[16])
{
    json_t *v = NULL;
    int found = client_rec(s, tss_id, client_id, &v) == 1;
    if (found) {
        snprintf(serial, TSE_MAX_CLIENT_ID_LEN + 1, "%s", json_string_value(json_object_get(v, "serial_number")) ?: "");
        snprintf(state, 16, "%s", json_string_value(json_object_get(v, "state")) ?: "");
    }
    json_decref(v);
    return found ? 0 : -1;
}

/* The record v of a client (serial_number, state, time_creation,
 * time_update, metadata) into b. */
static bool client_record(rec_batch *b, const char *tss_id, const char *id, json_t *v)
{
    char ns[REC_NS_LEN];
    return rec_batch_add(b, ENGINE_RECORD_PUT, rec_ns(ns, "client", tss_id), id,
                         json_string_value(json_object_get(v, "state")), 0, v);
}

/* A new client record. */
static json_t *client_new_rec(const char *serial, json_t *meta)
{
    int64_t now = now_s();
    return json_pack("{s:s, s:s, s:I, s:I, s:o}", "serial_number", serial, "state", "REGISTERED", "time_creation",
                     (json_int_t)now, "time_update", (json_int_t)now, "metadata",
                     meta ? json_incref(meta) : json_object());
}

/* engine_register_client (or deregister, by v's state) with the client's
 * record v in its commit. */
static tse_err client_change(srv_tss *x, const char *id, json_t *v)
{
    rec_batch b = {0};
    if (!v || !client_record(&b, x->id, id, v)) {
        rec_batch_free(&b);
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for the client record");
    }
    const char *serial = json_string_value(json_object_get(v, "serial_number"));
    rec_attach(&b);
    tse_err rc = strcmp(json_string_value(json_object_get(v, "state")), "REGISTERED") == 0
                     ? engine_register_client(x->e, serial)
                     : engine_deregister_client(x->e, serial);
    engine_records_attach(NULL, NULL);
    rec_batch_free(&b);
    return rc;
}

/* The answer for client `id` of TSS x from its record v. */
static json_t *client_json(srv_tss *x, const char *id, json_t *v)
{
    json_int_t created = json_integer_value(json_object_get(v, "time_creation"));
    json_t *upd = json_object_get(v, "time_update"), *meta = json_object_get(v, "metadata");
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "serial_number",
                          json_string_value(json_object_get(v, "serial_number")) ?: "", "state",
                          json_string_value(json_object_get(v, "state")) ?: "", "tss_id", x->id, "time_creation",
                          created, "time_update", json_is_integer(upd) ? json_integer_value(upd) : created,
                          "metadata", json_is_object(meta) ? json_incref(meta) : json_object());
    res_envelope(j, "CLIENT", id, x);
    return j;
}

static void respond_client(srv_req *q, srv_resp *r, srv_tss *x, const char *id)
{
    json_t *v = NULL, *j = NULL;
    int found = client_rec(q->s, x->id, id, &v) == 1;
    if (found)
        j = client_json(x, id, v);
    json_decref(v);
    if (!found)
        resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", id, x->id);
    else
        resp_json(r, 200, j);
}

tse_err client_put(srv *s, srv_tss *x, const char *client_id, const char *serial)
{
    (void)s;
    json_t *v = client_new_rec(serial, NULL);
    tse_err rc = client_change(x, client_id, v);
    json_decref(v);
    return rc;
}

static const char *const client_states[] = {"REGISTERED", "DEREGISTERED", NULL};

/* Appends the clients of TSS x in one of `want` (all when nwant is 0) to
 * data, skipping *skip of them first, up to `limit` in data; -1 on a read
 * failure. */
static int add_clients(srv *s, srv_tss *x, const char **want, int nwant, long *skip, long limit, json_t *data)
{
    char ns[REC_NS_LEN];
    rec_ns(ns, "client", x->id);
    for (int k = 0; k < (nwant ? nwant : 1); k++) {
        json_t *recs = rec_list(s, ns, nwant ? want[k] : NULL, 0, 0), *v;
        size_t i;
        if (!recs)
            return -1;
        json_array_foreach(recs, i, v) {
            if ((long)json_array_size(data) >= limit)
                break;
            if (*skip > 0) {
                (*skip)--;
                continue;
            }
            json_array_append_new(data, client_json(x, json_string_value(json_object_get(v, "_key")), v));
        }
        json_decref(recs);
    }
    return 0;
}

/* The list answer of data. */
static void respond_list(srv_resp *r, json_t *data, const char *env)
{
    json_t *list = json_pack("{s:o, s:i}", "data", data, "count", (int)json_array_size(data));
    res_envelope_env(list, "CLIENT_LIST", NULL, env);
    resp_json(r, 200, list);
}

/* The limit, offset and states of a list request; -1 and a 400 in r. */
static int list_params(srv_req *q, srv_resp *r, long *limit, long *offset, const char **want, int *nwant)
{
    if (req_page(q, r, limit, offset))
        return -1;
    *nwant = req_states(q, r, client_states, want, 2);
    return *nwant < 0 ? -1 : 0;
}

static void list_clients(srv_req *q, srv_resp *r, srv_tss *x)
{
    long limit, offset;
    const char *want[2];
    int nwant;
    if (list_params(q, r, &limit, &offset, want, &nwant))
        return;
    json_t *data = json_array();
    if (!data || add_clients(q->s, x, want, nwant, &offset, limit, data)) {
        json_decref(data);
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot list the clients (STORAGE_FAILURE)");
        return;
    }
    respond_list(r, data, x->env);
}

/* GET /api/v2/client: the clients of all the caller's TSSs of its
 * environment, TSS by TSS in their order of creation. */
void routes_client_all(srv_req *q, srv_resp *r, char **seg, int nseg)
{
    (void)seg;
    long limit, offset;
    const char *want[2];
    int nwant;
    if (q->who.operator_role) {
        resp_error(r, 403, "E_FORBIDDEN", "the operator key manages organizations, not clients");
        return;
    }
    if (nseg != 1 || strcmp(q->method, "GET") != 0) {
        resp_error(r, nseg != 1 ? 404 : 405, nseg != 1 ? "E_NOT_FOUND" : "E_METHOD_NOT_ALLOWED",
                   "use GET /api/v2/client, or the routes of a TSS's clients");
        return;
    }
    if (list_params(q, r, &limit, &offset, want, &nwant))
        return;
    char org[24];
    snprintf(org, sizeof org, "%" PRId64, q->who.org_id);
    json_t *recs = rec_list(q->s, "tss", org, 0, 0), *v, *data = json_array();
    size_t i;
    int rc = recs && data ? 0 : -1;
    json_array_foreach(recs, i, v) {
        srv_tss *x = tss_find_for(q->s, json_string_value(json_object_get(v, "_key")), &q->who);
        if (!rc && x && (long)json_array_size(data) < limit)
            rc = add_clients(q->s, x, want, nwant, &offset, limit, data);
    }
    json_decref(recs);
    if (rc) {
        json_decref(data);
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot list the clients (STORAGE_FAILURE)");
        return;
    }
    respond_list(r, data, q->who.env);
}

/* The client record with the patch metadata merged into *out; -1 and a
 * 400 in r. */
static int merged_metadata(srv_resp *r, json_t *rec, json_t *patch, json_t **out)
{
    return req_metadata_patch(r, patch, json_object_get(rec, "metadata"), out);
}

/* Stores record v of client id (no TSE operation: its metadata); 0 ok. */
static int client_store(srv *s, srv_tss *x, const char *id, json_t *v)
{
    rec_batch b = {0};
    if (!client_record(&b, x->id, id, v)) {
        rec_batch_free(&b);
        return -1;
    }
    return rec_commit(s, &b) ? -1 : 0;
}

/* PUT .../client/{id} {serial_number[, metadata]}: registers the client; a
 * repeated PUT with the same serial number answers it (with metadata given,
 * those set), with another one is E_CLIENT_CONFLICT. */
static void put_client(srv_req *q, srv_resp *r, srv_tss *x, const char *id, json_t *rec)
{
    if (!uuid_valid(id)) {
        resp_error(r, 400, "E_BAD_REQUEST", "client_id must be a UUID");
        return;
    }
    json_t *j = req_json(q, r), *meta = NULL;
    if (!j || req_metadata(r, j, &meta)) {
        json_decref(j);
        return;
    }
    const char *sn = json_string_value(json_object_get(j, "serial_number"));
    if (!sn || !*sn || strlen(sn) > TSE_MAX_CLIENT_ID_LEN) {
        resp_error(r, 400, "E_BAD_REQUEST", "serial_number (1..%d characters) is required", TSE_MAX_CLIENT_ID_LEN);
    } else if (rec && strcmp(json_string_value(json_object_get(rec, "serial_number")) ?: "", sn) != 0) {
        resp_error(r, 409, "E_CLIENT_CONFLICT", "client %s exists with another serial_number", id);
    } else if (rec) {
        if (meta) {
            json_object_set(rec, "metadata", meta);
            json_object_set_new(rec, "time_update", json_integer(now_s()));
        }
        if (meta && client_store(q->s, x, id, rec))
            resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot store the client (STORAGE_FAILURE)");
        else
            resp_json(r, 200, client_json(x, id, rec));
    } else {
        json_t *v = client_new_rec(sn, meta);
        tse_err e = client_change(x, id, v);
        if (e)
            resp_tse_error(r, e);
        else
            resp_json(r, 200, client_json(x, id, v));
        json_decref(v);
    }
    json_decref(meta);
    json_decref(j);
}

/* PATCH .../client/{id} {state, metadata}: either or both. */
static void patch_client(srv_req *q, srv_resp *r, srv_tss *x, const char *id, json_t *rec)
{
    json_t *j = req_json(q, r), *meta = NULL;
    if (!j || req_type(r, j, NULL, "state", JSON_STRING) || req_type(r, j, NULL, "metadata", JSON_OBJECT)) {
        json_decref(j);
        return;
    }
    const char *want = json_string_value(json_object_get(j, "state"));
    json_t *mv = json_object_get(j, "metadata");
    if ((!want && !mv) || (want && strcmp(want, "REGISTERED") != 0 && strcmp(want, "DEREGISTERED") != 0)) {
        resp_error(r, 400, "E_BAD_REQUEST", "give state (REGISTERED or DEREGISTERED) or metadata");
    } else if (!mv || !merged_metadata(r, rec, mv, &meta)) {
        const char *state = json_string_value(json_object_get(rec, "state")) ?: "";
        json_t *v = json_deep_copy(rec);
        if (v && meta)
            json_object_set(v, "metadata", meta);
        if (v && want)
            json_object_set_new(v, "state", json_string(want));
        if (v)
            json_object_set_new(v, "time_update", json_integer(now_s()));
        tse_err e = !v ? TSE_ERR_NO_MEMORY
                    : want && strcmp(want, state) != 0 ? client_change(x, id, v)
                    : client_store(q->s, x, id, v) ? TSE_ERR_STORAGE_FAILURE : TSE_OK;
        if (e)
            resp_tse_error(r, e);
        else
            resp_json(r, 200, client_json(x, id, v));
        json_decref(v);
    }
    json_decref(meta);
    json_decref(j);
}

/* GET/PATCH .../client/{id}/metadata */
static void client_metadata(srv_req *q, srv_resp *r, srv_tss *x, const char *id, json_t *rec)
{
    json_t *j = NULL, *meta = NULL, *cur = json_object_get(rec, "metadata");
    if (strcmp(q->method, "GET") == 0) {
        resp_json(r, 200, json_is_object(cur) ? json_incref(cur) : json_object());
    } else if (strcmp(q->method, "PATCH") != 0) {
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET or PATCH");
    } else if ((j = req_json(q, r)) && !merged_metadata(r, rec, req_metadata_body(j), &meta)) {
        json_object_set(rec, "metadata", meta);
        json_object_set_new(rec, "time_update", json_integer(now_s()));
        if (client_store(q->s, x, id, rec))
            resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot store the client (STORAGE_FAILURE)");
        else
            resp_json(r, 200, json_incref(meta));
    }
    json_decref(meta);
    json_decref(j);
}

/* A change of one client, under its lock. */
static void change_client(srv_req *q, srv_resp *r, srv_tss *x, const char *id, int metadata)
{
    const char *m = q->method;
    json_t *rec = NULL;
    int found = client_rec(q->s, x->id, id, &rec);
    if (found < 0)
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot read client %s (STORAGE_FAILURE)", id);
    else if (!found && (metadata || strcmp(m, "PUT") != 0))
        resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", id, x->id);
    else if (metadata)
        client_metadata(q, r, x, id, rec);
    else if (strcmp(m, "PUT") == 0)
        put_client(q, r, x, id, found ? rec : NULL);
    else if (strcmp(m, "PATCH") == 0)
        patch_client(q, r, x, id, rec);
    else
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET, PUT or PATCH");
    json_decref(rec);
}

/* seg: tss {id} client [{client_id} [metadata]] */
void routes_client(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    const char *m = q->method;
    if (nseg == 3) {
        if (strcmp(m, "GET") == 0)
            list_clients(q, r, x);
        else
            resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET");
        return;
    }
    if (nseg == 5 && strcmp(seg[4], "tx") == 0) {
        routes_client_tx(q, r, x, seg[3]);
        return;
    }
    int metadata = nseg == 5 && strcmp(seg[4], "metadata") == 0;
    if (nseg != 4 && !metadata) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
        return;
    }
    const char *id = seg[3];
    if (strcmp(m, "GET") == 0 && !metadata) {
        respond_client(q, r, x, id);
        return;
    }
    pthread_mutex_t *lock = id_lock(q->s, x->id, id);
    pthread_mutex_lock(lock);
    change_client(q, r, x, id, metadata);
    pthread_mutex_unlock(lock);
}
