/*
 * pg_conn.c - what every file of the PostgreSQL store stands on: the
 * server's failures as error values, statement parameters, a connection
 * made the way the store needs it, statements run (or queued while a flush
 * pipelines them), the writer's connection, and the two statements a flush
 * and a restore share (the last counter, a log's insert).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opentse/opentse.h"
#include "store/pg_conn.h"

/* ---- connections, parameters, errors ---- */

int pg_fail(tse_error *err, PGconn *c, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : c ? PQerrorMessage(c) : "";
    int code = state && !strcmp(state, "23505") ? TSE_ERR_ALREADY_EXISTS : TSE_ERR_STORAGE_FAILURE;
    char clean[200];
    snprintf(clean, sizeof clean, "%s", msg);
    clean[strcspn(clean, "\n")] = 0;
    return error_set(err, code, "%s: %s%s%s%s", what, clean, state ? " (SQLSTATE " : "", state ? state : "",
                     state ? ")" : "");
}

PGconn *pg_connect(pg_db *p, tse_error *err)
{
    PGconn *c = PQconnectdb(p->conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        pg_fail(err, c, NULL, "cannot connect to PostgreSQL");
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexec(c, "SET client_min_messages = warning; SET synchronous_commit = on");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        pg_fail(err, c, r, "cannot set up a PostgreSQL session");
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

void pgp_int(pgp *q, int64_t v)
{
    assert(q->n < PGP_MAX);
    snprintf(q->buf[q->n], sizeof q->buf[q->n], "%" PRId64, v);
    q->v[q->n] = q->buf[q->n];
    q->len[q->n] = 0;
    q->fmt[q->n++] = 0;
}

void pgp_text(pgp *q, const char *s)
{
    assert(q->n < PGP_MAX);
    q->v[q->n] = s;   /* NULL: SQL NULL */
    q->len[q->n] = 0;
    q->fmt[q->n++] = 0;
}

void pgp_blob(pgp *q, const void *data, size_t len)
{
    assert(q->n < PGP_MAX);
    q->v[q->n] = data ? data : "";
    q->len[q->n] = (int)len;
    q->fmt[q->n++] = 1;
}

PGresult *pg_run(PGconn *c, const char *sql, const pgp *q)
{
    if (!q)   /* no parameters: the simple protocol, which takes several statements */
        return PQexec(c, sql);
    return PQexecParams(c, sql, q->n, NULL, q->v, q->len, q->fmt, 0);
}

_Thread_local bool pg_pipelining;
_Thread_local int pg_pipe_sent;

int pg_exec(PGconn *c, const char *sql, const pgp *q, const char *what, tse_error *err)
{
    if (pg_pipelining) {
        if (!PQsendQueryParams(c, sql, q ? q->n : 0, NULL, q ? q->v : NULL, q ? q->len : NULL, q ? q->fmt : NULL, 0))
            return pg_fail(err, c, NULL, what ? what : sql);
        pg_pipe_sent++;
        return 0;
    }
    PGresult *r = pg_run(c, sql, q);
    ExecStatusType st = PQresultStatus(r);
    int ret = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_fail(err, c, r, what ? what : sql);
    PQclear(r);
    return ret;
}

int64_t pg_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

PGconn *pg_writer(pg_db *p, tse_error *err)
{
    if (p->w && PQstatus(p->w) != CONNECTION_OK)
        PQreset(p->w);
    if (p->w && PQstatus(p->w) == CONNECTION_OK)
        return p->w;
    PQfinish(p->w);
    p->w = pg_connect(p, err);
    return p->w;
}

int pg_last_counter(PGconn *c, int64_t id, uint64_t *out, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, id);
    PGresult *r = pg_run(c,
                         "SELECT GREATEST(COALESCE((SELECT max(counter) FROM logs WHERE tse = $1), 0),"
                         " COALESCE((SELECT convert_from(value, 'UTF8')::bigint FROM meta WHERE tse = $1"
                         " AND key = '" STORE_META_DELETED_THROUGH "'), 0))",
                         &q);
    int ret = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : pg_fail(err, c, r, "cannot read the last counter");
    if (!ret)
        *out = (uint64_t)pg_int(r, 0, 0);
    PQclear(r);
    return ret;
}

int pg_insert_log(PGconn *c, int64_t tse, const store_log *l, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, tse);
    pgp_int(&q, (int64_t)l->counter);
    pgp_int(&q, l->kind);
    pgp_int(&q, l->log_time);
    pgp_int(&q, (int64_t)l->transaction_number);
    pgp_text(&q, l->client_id);
    pgp_text(&q, l->operation);
    pgp_blob(&q, l->data, l->len);
    return pg_exec(c, "INSERT INTO logs VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", &q, "cannot store a log", err);
}
