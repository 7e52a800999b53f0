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

int client_lookup(srv *s, const char *tss_id, const char *client_id, char serial[TSE_MAX_CLIENT_ID_LEN + 1],
                  char state[16])
{
    int found = 0;
    pthread_mutex_lock(&s->db.mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db.db, "SELECT serial_number, state FROM clients WHERE tss_id=? AND id=?", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, tss_id, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, client_id, -1, SQLITE_TRANSIENT) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(serial, TSE_MAX_CLIENT_ID_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(state, 16, "%s", (const char *)sqlite3_column_text(st, 1));
        found = 1;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->db.mu);
    return found ? 0 : -1;
}

static json_t *client_json(srv_tss *x, const char *id, const char *serial, const char *state, int64_t created)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "_id", id, "_type", "CLIENT", "serial_number", serial, "state",
                     state, "tss_id", x->id, "time_creation", (json_int_t)created);
}

static void respond_client(srv_req *q, srv_resp *r, srv_tss *x, const char *id)
{
    int found = 0;
    pthread_mutex_lock(&q->s->db.mu);
    sqlite3_stmt *st = NULL;
    json_t *j = NULL;
    if (sqlite3_prepare_v2(q->s->db.db,
                           "SELECT serial_number, state, time_creation FROM clients WHERE tss_id=? AND id=?", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, x->id, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        j = client_json(x, id, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                        sqlite3_column_int64(st, 2));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&q->s->db.mu);
    if (!found)
        resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", id, x->id);
    else if (!j)
        resp_error(r, 500, "E_INTERNAL", "no memory");
    else
        resp_json(r, 200, j);
}

tse_err client_put(srv *s, srv_tss *x, const char *client_id, const char *serial)
{
    tse_err rc = engine_register_client(x->e, serial);
    if (rc)
        return rc;
    char now[32];
    snprintf(now, sizeof now, "%" PRId64, now_s());
    const char *args[] = {x->id, client_id, serial, now};
    if (db_exec(&s->db,
                 "INSERT INTO clients(tss_id, id, serial_number, state, time_creation) VALUES(?,?,?,'REGISTERED',?)",
                 4, args))
        return TSE_ERR_STORAGE_FAILURE;
    return TSE_OK;
}

static void list_clients(srv_req *q, srv_resp *r, srv_tss *x)
{
    long limit, offset;
    if (req_page(q, r, &limit, &offset))
        return;
    json_t *data = json_array();
    pthread_mutex_lock(&q->s->db.mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->s->db.db,
                           "SELECT id, serial_number, state, time_creation FROM clients WHERE tss_id=?"
                           " ORDER BY time_creation, id LIMIT ? OFFSET ?",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, x->id, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
        sqlite3_bind_int64(st, 2, limit) == SQLITE_OK && sqlite3_bind_int64(st, 3, offset) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(data, client_json(x, (const char *)sqlite3_column_text(st, 0),
                                                    (const char *)sqlite3_column_text(st, 1),
                                                    (const char *)sqlite3_column_text(st, 2),
                                                    sqlite3_column_int64(st, 3)));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&q->s->db.mu);
    resp_json(r, 200,
              json_pack("{s:o, s:i, s:s}", "data", data, "count", (int)json_array_size(data), "_type", "CLIENT_LIST"));
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
                resp_error(r, 409, "E_CONFLICT", "client %s exists with another serial_number", id);
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
        if (strcmp(want, state) != 0)
            e = strcmp(want, "REGISTERED") == 0 ? engine_register_client(x->e, serial)
                                                : engine_deregister_client(x->e, serial);
        if (!e) {
            const char *args[] = {want, x->id, id};
            if (db_exec(&q->s->db, "UPDATE clients SET state=? WHERE tss_id=? AND id=?", 3, args))
                e = TSE_ERR_STORAGE_FAILURE;
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