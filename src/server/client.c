/*
 * client.c - client (cash register) resources of a TSS:
 * PUT/GET/PATCH /api/v2/tss/{tss_id}/client/{client_id} and the paged list.
 * The client's serial_number is the clientId registered in the TSE and
 * written into every log message; client_id is the caller's UUID for it.
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

/* The record of a client in `state`, into b. */
static bool client_record(rec_batch *b, const char *tss_id, const char *id, const char *serial, const char *state,
                          int64_t created)
{
    char ns[REC_NS_LEN];
    json_t *v = json_pack("{s:s, s:s, s:I}", "serial_number", serial, "state", state, "time_creation",
                          (json_int_t)created);
    bool ok = v && rec_batch_add(b, ENGINE_RECORD_PUT, rec_ns(ns, "client", tss_id), id, state, 0, v);
    json_decref(v);
    return ok;
}

/* engine_register_client (or deregister) with the client's new record in its commit. */
static tse_err client_change(srv_tss *x, const char *id, const char *serial, const char *state, int64_t created)
{
    rec_batch b = {0};
    if (!client_record(&b, x->id, id, serial, state, created)) {
        rec_batch_free(&b);
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for the client record");
    }
    rec_attach(&b);
    tse_err rc = strcmp(state, "REGISTERED") == 0 ? engine_register_client(x->e, serial)
                                                   : engine_deregister_client(x->e, serial);
    engine_records_attach(NULL, NULL);
    rec_batch_free(&b);
    return rc;
}

static json_t *client_json(srv_tss *x, const char *id, const char *serial, const char *state, int64_t created)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "serial_number", serial, "state", state, "tss_id", x->id,
                          "time_creation", (json_int_t)created);
    res_envelope(j, "CLIENT", id, x);
    return j;
}

static void respond_client(srv_req *q, srv_resp *r, srv_tss *x, const char *id)
{
    json_t *v = NULL, *j = NULL;
    int found = client_rec(q->s, x->id, id, &v) == 1;
    if (found)
        j = client_json(x, id, json_string_value(json_object_get(v, "serial_number")),
                        json_string_value(json_object_get(v, "state")),
                        json_integer_value(json_object_get(v, "time_creation")));
    json_decref(v);
    if (!found)
        resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", id, x->id);
    else if (!j)
        resp_error(r, 500, "E_INTERNAL", "no memory");
    else
        resp_json(r, 200, j);
}

tse_err client_put(srv *s, srv_tss *x, const char *client_id, const char *serial)
{
    (void)s;
    return client_change(x, client_id, serial, "REGISTERED", now_s());
}

static void list_clients(srv_req *q, srv_resp *r, srv_tss *x)
{
    long limit, offset;
    if (req_page(q, r, &limit, &offset))
        return;
    char ns[REC_NS_LEN];
    json_t *recs = rec_list(q->s, rec_ns(ns, "client", x->id), NULL, offset, limit), *v;
    if (!recs) {
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot list the clients (STORAGE_FAILURE)");
        return;
    }
    json_t *data = json_array();
    size_t i;
    json_array_foreach(recs, i, v) {
        json_array_append_new(data, client_json(x, json_string_value(json_object_get(v, "_key")),
                                                json_string_value(json_object_get(v, "serial_number")),
                                                json_string_value(json_object_get(v, "state")),
                                                json_integer_value(json_object_get(v, "time_creation"))));
    }
    json_decref(recs);
    json_t *list = json_pack("{s:o, s:i}", "data", data, "count", (int)json_array_size(data));
    res_envelope(list, "CLIENT_LIST", NULL, x);
    resp_json(r, 200, list);
}

/* PUT or PATCH of one client, under its lock. */
static void change_client(srv_req *q, srv_resp *r, srv_tss *x, const char *id)
{
    const char *m = q->method;
    char serial[TSE_MAX_CLIENT_ID_LEN + 1], state[16];
    int exists = client_lookup(q->s, x->id, id, serial, state) == 0;
    if (strcmp(m, "PUT") == 0) {
        if (!uuid_valid(id)) {
            resp_error(r, 400, "E_BAD_REQUEST", "client_id must be a UUID");
            return;
        }
        json_t *j = req_json(q, r);
        if (!j)
            return;
        const char *sn = json_string_value(json_object_get(j, "serial_number"));
        if (!sn || !*sn || strlen(sn) > TSE_MAX_CLIENT_ID_LEN) {
            json_decref(j);
            resp_error(r, 400, "E_BAD_REQUEST", "serial_number (1..%d characters) is required", TSE_MAX_CLIENT_ID_LEN);
            return;
        }
        if (exists) {
            int same = strcmp(serial, sn) == 0;
            json_decref(j);
            if (same)
                respond_client(q, r, x, id);
            else
                resp_error(r, 409, "E_CLIENT_CONFLICT", "client %s exists with another serial_number", id);
            return;
        }
        tse_err e = client_put(q->s, x, id, sn);
        json_decref(j);
        if (e)
            resp_tse_error(r, e);
        else
            respond_client(q, r, x, id);
        return;
    }
    if (strcmp(m, "PATCH") == 0) {
        if (!exists) {
            resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", id, x->id);
            return;
        }
        json_t *j = req_json(q, r);
        if (!j)
            return;
        const char *want = json_string_value(json_object_get(j, "state"));
        if (!want || (strcmp(want, "REGISTERED") != 0 && strcmp(want, "DEREGISTERED") != 0)) {
            json_decref(j);
            resp_error(r, 400, "E_BAD_REQUEST", "state must be REGISTERED or DEREGISTERED");
            return;
        }
        tse_err e = TSE_OK;
        if (strcmp(want, state) != 0) {
            json_t *v = NULL;
            int64_t created = client_rec(q->s, x->id, id, &v) == 1
                                  ? json_integer_value(json_object_get(v, "time_creation")) : now_s();
            json_decref(v);
            e = client_change(x, id, serial, want, created);
        }
        json_decref(j);
        if (e)
            resp_tse_error(r, e);
        else
            respond_client(q, r, x, id);
        return;
    }
    resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET, PUT or PATCH");
}

/* seg: tss {id} client [{client_id}] */
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
    if (nseg != 4) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
        return;
    }
    const char *id = seg[3];
    if (strcmp(m, "GET") == 0) {
        respond_client(q, r, x, id);
        return;
    }
    pthread_mutex_t *lock = id_lock(q->s, x->id, id);
    pthread_mutex_lock(lock);
    change_client(q, r, x, id);
    pthread_mutex_unlock(lock);
}