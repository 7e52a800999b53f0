/*
 * pg_read.c - the read side of the PostgreSQL store, and the bulk insert
 * of restoreFromBackup. Reads borrow a connection from a pool (never the
 * writer's), so they run beside commits and a callback may read again;
 * iteration over logs streams rows one at a time (single-row mode), so an
 * export of any size needs constant memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opentse/opentse.h"
#include "store/pg_conn.h"

PGconn *pg_pool_get(pg_db *p, tse_error *err)
{
    pthread_mutex_lock(&p->pmu);
    pg_conn *pc = p->pool;
    if (pc)
        p->pool = pc->next;
    pthread_mutex_unlock(&p->pmu);
    if (pc) {
        PGconn *c = pc->c;
        free(pc);
        if (PQstatus(c) == CONNECTION_OK)
            return c;
        PQfinish(c);   /* the server went away meanwhile: a new one */
    }
    return pg_connect(p, err);
}

void pg_pool_put(pg_db *p, PGconn *c)
{
    pg_conn *pc = c && PQstatus(c) == CONNECTION_OK ? malloc(sizeof *pc) : NULL;
    if (!pc) {
        PQfinish(c);
        return;
    }
    pc->c = c;
    pthread_mutex_lock(&p->pmu);
    pc->next = p->pool;
    p->pool = pc;
    pthread_mutex_unlock(&p->pmu);
}

void pg_pool_close(pg_db *p)
{
    while (p->pool) {
        pg_conn *pc = p->pool;
        p->pool = pc->next;
        PQfinish(pc->c);
        free(pc);
    }
}

/* One query on a pooled connection; NULL (err set) unless it returned rows. */
static PGresult *query(pg_db *p, const char *sql, const pgp *q, tse_error *err)
{
    PGconn *c = pg_pool_get(p, err);
    if (!c)
        return NULL;
    PGresult *r = pg_run(c, sql, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_fail(err, c, r, "cannot read the store");
        PQclear(r);
        r = NULL;
    }
    pg_pool_put(p, c);
    return r;
}

static int query_failed(tse_error *err)
{
    return STORE_PG_FAILED(err);
}

/* A bytea column (text form) as a malloc'd copy. */
static int dup_bytea(const PGresult *r, int row, int col, uint8_t **out, size_t *len, tse_error *err)
{
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    uint8_t *copy = raw ? malloc(n ? n : 1) : NULL;
    if (!copy) {
        PQfreemem(raw);
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(copy, raw, n);
    PQfreemem(raw);
    *out = copy;
    if (len)
        *len = n;
    return 0;
}

int pg_get_meta(store *s, const char *key, uint8_t **value, size_t *len, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, s->id);
    pgp_text(&q, key);
    PGresult *r = query(s->d->pg, "SELECT value FROM meta WHERE tse = $1 AND key = $2", &q, err);
    if (!r)
        return query_failed(err);
    int ret = PQntuples(r) ? dup_bytea(r, 0, 0, value, len, err)
                           : error_set(err, TSE_ERR_NOT_FOUND, "no state value \"%s\" in the store", key);
    PQclear(r);
    return ret;
}

int pg_last_log(store *s, uint64_t *counter, uint8_t **msg, size_t *len, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, s->id);
    PGresult *r = query(s->d->pg, "SELECT counter, data FROM logs WHERE tse = $1 ORDER BY counter DESC LIMIT 1", &q,
                        err);
    if (!r)
        return query_failed(err);
    *counter = PQntuples(r) ? (uint64_t)pg_int(r, 0, 0) : 0;
    if (msg)
        *msg = NULL;
    if (len)
        *len = 0;
    int ret = PQntuples(r) && msg ? dup_bytea(r, 0, 1, msg, len, err) : 0;
    PQclear(r);
    return ret;
}

int pg_get_log(store *s, uint64_t counter, uint8_t **msg, size_t *len, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, s->id);
    pgp_int(&q, counter > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)counter);
    PGresult *r = query(s->d->pg, "SELECT data FROM logs WHERE tse = $1 AND counter = $2", &q, err);
    if (!r)
        return query_failed(err);
    int ret = PQntuples(r) ? dup_bytea(r, 0, 0, msg, len, err)
                           : error_set(err, TSE_ERR_NO_LOG_MESSAGE, "no log message with counter %llu",
                                       (unsigned long long)counter);
    PQclear(r);
    return ret;
}

/* A query about TSE s ($1) that yields one integer; `text` is $2 if set. */
static int one_int(store *s, const char *sql, const char *text, int64_t *out, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, s->id);
    if (text)
        pgp_text(&q, text);
    PGresult *r = query(s->d->pg, sql, &q, err);
    if (!r)
        return query_failed(err);
    *out = pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

int pg_last_tx_number(store *s, uint64_t *out, tse_error *err)
{
    int64_t v = 0;
    /* transaction numbers of deleted logs stay used */
    int ret = one_int(s,
                      "SELECT GREATEST(COALESCE((SELECT max(tx_number) FROM logs WHERE tse = $1), 0),"
                      " COALESCE((SELECT convert_from(value, 'UTF8')::bigint FROM meta WHERE tse = $1 AND key = '"
                      STORE_META_DELETED_TX "'), 0))",
                      NULL, &v, err);
    if (!ret)
        *out = (uint64_t)v;
    return ret;
}

int pg_first_counter(store *s, uint64_t *out, tse_error *err)
{
    int64_t v = 0;
    int ret = one_int(s, "SELECT COALESCE(min(counter), 0) FROM logs WHERE tse = $1", NULL, &v, err);
    if (!ret)
        *out = (uint64_t)v;
    return ret;
}

int pg_client_known(store *s, const char *client_id, bool *known, tse_error *err)
{
    int64_t v = 0;
    int ret = one_int(s,
                      "SELECT (EXISTS(SELECT 1 FROM clients WHERE tse = $1 AND client_id = $2) OR EXISTS(SELECT 1"
                      " FROM logs WHERE tse = $1 AND tx_number <> 0 AND client_id = $2))::int",
                      client_id, &v, err);
    if (!ret)
        *known = v != 0;
    return ret;
}

int pg_each_client(store *s, store_client_cb cb, void *ctx, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, s->id);
    PGresult *r = query(s->d->pg, "SELECT client_id, registered FROM clients WHERE tse = $1 ORDER BY client_id", &q,
                        err);
    if (!r)
        return query_failed(err);
    int ret = 0;
    for (int i = 0; !ret && i < PQntuples(r); i++)
        ret = cb(ctx, PQgetvalue(r, i, 0), pg_int(r, i, 1));
    PQclear(r);
    return ret;
}

int pg_each_open_tx(store *s, store_tx_cb cb, void *ctx, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, s->id);
    PGresult *r = query(s->d->pg,
                        "SELECT number, client_id, start_counter, start_time, last_update, pending FROM open_tx"
                        " WHERE tse = $1 ORDER BY number",
                        &q, err);
    if (!r)
        return query_failed(err);
    int ret = 0;
    for (int i = 0; !ret && i < PQntuples(r); i++) {
        store_tx tx = {.number = (uint64_t)pg_int(r, i, 0)};
        snprintf(tx.client_id, sizeof tx.client_id, "%s", PQgetvalue(r, i, 1));
        tx.start_counter = (uint64_t)pg_int(r, i, 2);
        tx.start_time = pg_int(r, i, 3);
        tx.last_update = pg_int(r, i, 4);
        uint8_t *pending = NULL;
        size_t n = 0;
        if (!PQgetisnull(r, i, 5) && (ret = dup_bytea(r, i, 5, &pending, &n, err)) != 0)
            break;
        tx.pending = n ? pending : NULL;
        tx.pending_len = n;
        ret = cb(ctx, &tx);
        free(pending);
    }
    PQclear(r);
    return ret;
}

/* ---- selections of logs ---- */

static int64_t clamp(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* "<select> FROM logs WHERE <filter><tail>" with its parameters. */
static void filter_sql(const store *s, const store_log_filter *f, const char *select, const char *tail, char *sql,
                       size_t cap, pgp *q)
{
    pgp_int(q, s->id);
    pgp_int(q, clamp(f->from));
    pgp_int(q, f->to ? clamp(f->to) : INT64_MAX);
    char time_part[64] = "", tx_part[96] = "", client_part[64] = "";
    if (f->by_time) {
        snprintf(time_part, sizeof time_part, " AND log_time BETWEEN $%d AND $%d", q->n + 1, q->n + 2);
        pgp_int(q, f->time_from);
        pgp_int(q, f->time_to);
    }
    if (f->tx_from) {
        snprintf(tx_part, sizeof tx_part,
                 f->tx_and_others ? " AND (tx_number BETWEEN $%d AND $%d OR tx_number = 0)"
                                  : " AND tx_number BETWEEN $%d AND $%d",
                 q->n + 1, q->n + 2);
        pgp_int(q, clamp(f->tx_from));
        pgp_int(q, clamp(f->tx_to));
    }
    if (f->client_id) {
        snprintf(client_part, sizeof client_part, " AND (tx_number = 0 OR client_id = $%d)", q->n + 1);
        pgp_text(q, f->client_id);
    }
    snprintf(sql, cap, "%s FROM logs WHERE tse = $1 AND counter BETWEEN $2 AND $3%s%s%s%s", select, time_part,
             tx_part, client_part, tail);
}

int pg_count_logs(store *s, const store_log_filter *f, uint64_t limit, uint64_t *count, tse_error *err)
{
    char sql[700], tail[64] = "";
    pgp q = {0};
    if (limit)
        snprintf(tail, sizeof tail, " LIMIT %lld) AS m", (long long)(limit < INT64_MAX ? limit + 1 : limit));
    filter_sql(s, f, limit ? "SELECT count(*) FROM (SELECT 1" : "SELECT count(*)", tail, sql, sizeof sql, &q);
    PGresult *r = query(s->d->pg, sql, &q, err);
    if (!r)
        return query_failed(err);
    *count = (uint64_t)pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

int pg_log_span(store *s, const store_log_filter *f, uint64_t *lo, uint64_t *hi, tse_error *err)
{
    char sql[700];
    pgp q = {0};
    filter_sql(s, f, "SELECT COALESCE(min(counter), 0), COALESCE(max(counter), 0)", "", sql, sizeof sql, &q);
    PGresult *r = query(s->d->pg, sql, &q, err);
    if (!r)
        return query_failed(err);
    *lo = (uint64_t)pg_int(r, 0, 0);
    *hi = (uint64_t)pg_int(r, 0, 1);
    PQclear(r);
    return 0;
}

/* Streams the rows of a log selection to cb, one at a time. */
int pg_each_log(store *s, const store_log_filter *f, store_log_cb cb, void *ctx, tse_error *err)
{
    char sql[700];
    pgp q = {0};
    filter_sql(s, f, "SELECT counter, kind, log_time, tx_number, client_id, operation, data", " ORDER BY counter", sql,
               sizeof sql, &q);
    pg_db *p = s->d->pg;
    PGconn *c = pg_pool_get(p, err);
    if (!c)
        return query_failed(err);
    if (!PQsendQueryParams(c, sql, q.n, NULL, q.v, q.len, q.fmt, 0) || !PQsetSingleRowMode(c)) {
        int ret = pg_fail(err, c, NULL, "cannot read the logs");
        pg_pool_put(p, c);
        return ret;
    }
    int ret = 0;
    bool stopped = false;
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !ret && !stopped) {
            uint8_t *data = NULL;
            size_t n = 0;
            ret = dup_bytea(r, 0, 6, &data, &n, err);
            if (!ret) {
                store_log l = {
                    .counter = (uint64_t)pg_int(r, 0, 0),
                    .kind = (int)pg_int(r, 0, 1),
                    .log_time = pg_int(r, 0, 2),
                    .transaction_number = (uint64_t)pg_int(r, 0, 3),
                    .client_id = PQgetisnull(r, 0, 4) ? NULL : PQgetvalue(r, 0, 4),
                    .operation = PQgetisnull(r, 0, 5) ? NULL : PQgetvalue(r, 0, 5),
                    .data = data,
                    .len = n,
                };
                ret = cb(ctx, &l);
            }
            free(data);
            if (ret) {   /* the rest is not wanted: cancel, then drain */
                stopped = true;
                PGcancel *k = PQgetCancel(c);
                char buf[64];
                if (k)
                    PQcancel(k, buf, sizeof buf);
                PQfreeCancel(k);
            }
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !ret && !stopped) {
            ret = pg_fail(err, c, r, "cannot read the logs");
        }
        PQclear(r);
    }
    pg_pool_put(p, c);
    return ret;
}

/* ---- records ---- */

int pg_record_get(store_db *d, const char *ns, const char *key, char **value, size_t *len, tse_error *err)
{
    pgp q = {0};
    pgp_text(&q, ns);
    pgp_text(&q, key);
    PGresult *r = query(d->pg, "SELECT value FROM records WHERE ns = $1 AND key = $2", &q, err);
    if (!r)
        return query_failed(err);
    int ret = 0;
    if (!PQntuples(r))
        ret = error_set(err, TSE_ERR_NOT_FOUND, "no record %s/%s", ns, key);
    else if (!(*value = strdup(PQgetvalue(r, 0, 0))))
        ret = error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    else if (len)
        *len = strlen(*value);
    PQclear(r);
    return ret;
}

int pg_record_each(store_db *d, const char *ns, const char *idx, uint64_t offset, uint64_t limit, store_record_cb cb,
                   void *ctx, tse_error *err)
{
    pgp q = {0};
    pgp_text(&q, ns);
    pgp_int(&q, clamp(offset));
    char sql[300], idx_part[32] = "", limit_part[32] = "";
    if (idx) {
        snprintf(idx_part, sizeof idx_part, " AND idx = $%d", q.n + 1);
        pgp_text(&q, idx);
    }
    if (limit) {
        snprintf(limit_part, sizeof limit_part, " LIMIT $%d", q.n + 1);
        pgp_int(&q, clamp(limit));
    }
    snprintf(sql, sizeof sql, "SELECT key, value FROM records WHERE ns = $1%s ORDER BY ord, seq OFFSET $2%s", idx_part,
             limit_part);
    PGresult *r = query(d->pg, sql, &q, err);
    if (!r)
        return query_failed(err);
    int ret = 0;
    for (int i = 0; !ret && i < PQntuples(r); i++)
        ret = cb(ctx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
    PQclear(r);
    return ret;
}

int pg_record_count(store_db *d, const char *ns, const char *idx, uint64_t *n, tse_error *err)
{
    pgp q = {0};
    pgp_text(&q, ns);
    if (idx)
        pgp_text(&q, idx);
    PGresult *r = query(d->pg, idx ? "SELECT count(*) FROM records WHERE ns = $1 AND idx = $2"
                                   : "SELECT count(*) FROM records WHERE ns = $1", &q, err);
    if (!r)
        return query_failed(err);
    *n = (uint64_t)pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

/* ---- bulk insert (restoreFromBackup), under the writer role ---- */

int pg_bulk_begin(store *s, tse_error *err)
{
    PGconn *c = pg_writer(s->d->pg, err);
    return c ? pg_exec(c, "BEGIN", NULL, NULL, err) : query_failed(err);
}

int pg_bulk_put(store *s, const store_log *l, tse_error *err)
{
    PGconn *c = pg_writer(s->d->pg, err);
    if (!c)
        return query_failed(err);
    pgp q = {0};
    pgp_int(&q, s->id);
    pgp_int(&q, (int64_t)l->counter);
    PGresult *r = pg_run(c, "SELECT data FROM logs WHERE tse = $1 AND counter = $2", &q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int ret = pg_fail(err, c, r, "cannot look up a log");
        PQclear(r);
        return ret;
    }
    if (PQntuples(r)) {
        uint8_t *have = NULL;
        size_t n = 0;
        int ret = dup_bytea(r, 0, 0, &have, &n, err);
        PQclear(r);
        if (!ret && (n != l->len || memcmp(have, l->data, n) != 0))
            ret = error_set(err, TSE_ERR_INVALID_ARGUMENT, "log %llu differs from the stored log with that counter",
                            (unsigned long long)l->counter);
        free(have);
        return ret ? ret : 1;
    }
    PQclear(r);
    return pg_insert_log(c, s->id, l, err);
}

int pg_bulk_end(store *s, bool commit, uint64_t *last, tse_error *err)
{
    PGconn *c = pg_writer(s->d->pg, err);
    if (!c)
        return query_failed(err);
    int ret = 0;
    if (commit) {
        pgp q = {0};
        pgp_int(&q, s->id);
        PGresult *r = pg_run(c,
                             "SELECT count(*), COALESCE(min(counter), 0), COALESCE(max(counter), 0),"
                             " COALESCE((SELECT convert_from(value, 'UTF8')::bigint FROM meta WHERE tse = $1 AND"
                             " key = '" STORE_META_DELETED_THROUGH "'), 0) FROM logs WHERE tse = $1",
                             &q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            ret = pg_fail(err, c, r, "cannot check the restored logs");
        else {
            uint64_t n = (uint64_t)pg_int(r, 0, 0), lo = (uint64_t)pg_int(r, 0, 1), hi = (uint64_t)pg_int(r, 0, 2),
                     deleted = (uint64_t)pg_int(r, 0, 3);
            if (n && n != hi - lo + 1)
                ret = error_set(err, TSE_ERR_INVALID_ARGUMENT,
                                "the logs would leave a gap: %llu logs between counters %llu and %llu",
                                (unsigned long long)n, (unsigned long long)lo, (unsigned long long)hi);
            else if (n && lo > 1 && deleted < lo - 1)
                ret = error_set(err, TSE_ERR_INVALID_ARGUMENT, "logs %llu..%llu are missing below the first stored log",
                                (unsigned long long)deleted + 1, (unsigned long long)lo - 1);
            if (hi > *last)
                *last = hi;
        }
        PQclear(r);
    }
    if (commit && !ret)
        ret = pg_exec(c, "COMMIT", NULL, NULL, err);
    if (!commit || ret)
        pg_exec(c, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}
