/*
 * pg.c - the PostgreSQL store: the schema of the SQLite store (every TSE of
 * a deployment and the records, told apart the same way) in a PostgreSQL
 * database that several opentsed nodes share. Group commit is the SQLite
 * store's (sqlite_commit.c): a flush arrives here as a list of tickets and
 * becomes one PostgreSQL transaction.
 *
 * One node signs for a TSE at a time. Opening a TSE takes its lease: the
 * row in tses names this node as owner until lease_until and gets a new
 * epoch (the fencing token). A thread renews the leases every third of the
 * lease; every flush renews them again inside its own transaction, with the
 * epoch in the WHERE clause, so a node whose lease was taken over (by
 * another node after it expired, say while this process was stopped) can
 * commit nothing more for that TSE: its batches fail with STORE_IN_USE.
 * The node that takes over reads the last counter from the database.
 *
 * Reads (pg_read.c) use a pool of connections, never the writer's.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opentse/opentse.h"
#include "store/pg_conn.h"

#define PG_SCHEMA_VERSION 1
#define PG_SCHEMA_LOCK 0x4f545345   /* advisory lock while the schema is made */

/* Version 1. Migrations to later versions are appended to `migrations`. */
static const char schema_v1[] =
    "CREATE TABLE tses(id bigserial PRIMARY KEY, name text UNIQUE NOT NULL, owner text, epoch bigint NOT NULL"
    "  DEFAULT 0, lease_until timestamptz);"
    "CREATE TABLE logs(tse bigint NOT NULL, counter bigint NOT NULL, kind integer NOT NULL, log_time bigint NOT NULL,"
    "  tx_number bigint NOT NULL DEFAULT 0, client_id text, operation text, data bytea NOT NULL,"
    "  PRIMARY KEY(tse, counter));"
    "CREATE INDEX logs_by_tx ON logs(tse, tx_number);"
    "CREATE INDEX logs_by_time ON logs(tse, log_time);"
    /* append-only: deleteStoredData alone may delete, inside its flush */
    "CREATE FUNCTION opentse_logs_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'DELETE' AND current_setting('opentse.delete_logs', true) = 'on' THEN RETURN OLD; END IF;"
    "  RAISE EXCEPTION 'logs are append-only: % refused', lower(TG_OP); END $$;"
    "CREATE TRIGGER logs_append_only BEFORE UPDATE OR DELETE ON logs FOR EACH ROW"
    "  EXECUTE FUNCTION opentse_logs_guard();"
    "CREATE TABLE meta(tse bigint NOT NULL, key text NOT NULL, value bytea, PRIMARY KEY(tse, key));"
    "CREATE TABLE clients(tse bigint NOT NULL, client_id text NOT NULL, registered bigint,"
    "  PRIMARY KEY(tse, client_id));"
    "CREATE TABLE open_tx(tse bigint NOT NULL, number bigint NOT NULL, client_id text, start_counter bigint,"
    "  start_time bigint, last_update bigint, pending bytea, PRIMARY KEY(tse, number));"
    "CREATE TABLE records(seq bigserial, ns text NOT NULL, key text NOT NULL, idx text, ord bigint NOT NULL"
    "  DEFAULT 0, value text NOT NULL, PRIMARY KEY(ns, key));"
    "CREATE INDEX records_by_idx ON records(ns, idx, ord, seq);"
    "CREATE INDEX records_by_ord ON records(ns, ord, seq);";

static const char *const migrations[] = {NULL, schema_v1};   /* [v]: from v-1 to v */

/* ---- schema ---- */

static int make_schema(PGconn *c, tse_error *err)
{
    int ret = pg_exec(c, "SELECT pg_advisory_lock(1330926405)", NULL, "cannot lock the schema", err);
    if (ret)
        return ret;
    ret = pg_exec(c, "CREATE TABLE IF NOT EXISTS opentse_schema(version integer NOT NULL)", NULL,
                  "cannot create the schema table", err);
    PGresult *r = ret ? NULL : PQexec(c, "SELECT max(version) FROM opentse_schema");
    int64_t version = 0;
    if (!ret && PQresultStatus(r) != PGRES_TUPLES_OK)
        ret = pg_fail(err, c, r, "cannot read the schema version");
    else if (!ret)
        version = pg_int(r, 0, 0);
    PQclear(r);
    if (!ret && version > PG_SCHEMA_VERSION)
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE,
                        "the PostgreSQL store has schema version %" PRId64 ", this build knows %d", version,
                        PG_SCHEMA_VERSION);
    for (int64_t v = version + 1; !ret && v <= PG_SCHEMA_VERSION; v++) {
        char sql[80];
        snprintf(sql, sizeof sql, "INSERT INTO opentse_schema VALUES (%" PRId64 ")", v);
        ret = pg_exec(c, "BEGIN", NULL, NULL, err);
        if (!ret)
            ret = pg_exec(c, migrations[v], NULL, "cannot migrate the PostgreSQL store", err);
        if (!ret)
            ret = pg_exec(c, sql, NULL, NULL, err);
        if (!ret)
            ret = pg_exec(c, "COMMIT", NULL, NULL, err);
        if (ret)
            pg_exec(c, "ROLLBACK", NULL, NULL, NULL);
    }
    pg_exec(c, "SELECT pg_advisory_unlock(1330926405)", NULL, NULL, NULL);
    return ret;
}

/* ---- leases ---- */

/* "{a,b,...}" of v[0..n) (malloc'd), a bigint[] parameter. */
static char *pg_array(const int64_t *v, size_t n)
{
    size_t cap = n * 21 + 3, at = 0;
    char *a = malloc(cap);
    if (!a)
        return NULL;
    a[at++] = '{';
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(a + at, cap - at, "%s%" PRId64, i ? "," : "", v[i]);
    snprintf(a + at, cap - at, "}");
    return a;
}

/* Renews the leases of TSEs ids[i] (epochs[i]) held by this node, in one
 * statement. A row a flush of this node has locked is skipped (that flush
 * renews it), so the two never wait on each other. The result: the ids
 * whose lease is not this node's any more (NULL and *err on a failure). */
static PGresult *renew(pg_db *p, PGconn *c, const int64_t *ids, const int64_t *epochs, size_t n, tse_error *err)
{
    char *a = pg_array(ids, n), *b = pg_array(epochs, n);
    PGresult *r = NULL;
    if (!a || !b) {
        error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    } else {
        pgp q = {0};
        pgp_text(&q, a);
        pgp_text(&q, b);
        pgp_text(&q, p->node);
        pgp_int(&q, p->lease_ms);
        r = pg_run(c, "WITH f AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS f(id, epoch)),"
                      " l AS (SELECT t.id FROM tses t JOIN f ON t.id = f.id AND t.epoch = f.epoch"
                      " WHERE t.owner = $3 FOR UPDATE OF t SKIP LOCKED),"
                      " u AS (UPDATE tses SET lease_until = now() + $4 * interval '1 millisecond'"
                      " WHERE id IN (SELECT id FROM l) RETURNING id)"
                      " SELECT f.id FROM f WHERE NOT EXISTS"
                      " (SELECT 1 FROM tses t WHERE t.id = f.id AND t.epoch = f.epoch AND t.owner = $3)", &q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            pg_fail(err, c, r, "cannot renew the leases");
            PQclear(r);
            r = NULL;
        }
    }
    free(a);
    free(b);
    return r;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Renews every lease of this node, in statements of up to 1,000; a lease
 * found taken marks its TSE lost. */
static void renew_all(store_db *d, PGconn *c)
{
    enum { CHUNK = 1000 };
    size_t n = 0, cap = 0;
    int64_t *pairs = NULL;   /* id, epoch */
    pthread_mutex_lock(&d->qmu);
    for (store *v = d->views; v; v = v->next)
        cap++;
    pairs = malloc((cap + 1) * 2 * sizeof *pairs);
    for (store *v = d->views; pairs && v; v = v->next)
        if (v->id && !v->lease_lost) {
            pairs[2 * n] = v->id;
            pairs[2 * n++ + 1] = v->epoch;
        }
    pthread_mutex_unlock(&d->qmu);
    if (!pairs)
        return;
    qsort(pairs, n, 2 * sizeof *pairs, by_id);
    int64_t ids[CHUNK], epochs[CHUNK];
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t m = n - at < CHUNK ? n - at : CHUNK;
        for (size_t i = 0; i < m; i++) {
            ids[i] = pairs[2 * (at + i)];
            epochs[i] = pairs[2 * (at + i) + 1];
        }
        tse_error err = {0};
        PGresult *r = renew(d->pg, c, ids, epochs, m, &err);
        if (!r)
            break;   /* tried again at the next round; the flushes renew too */
        for (int k = 0; k < PQntuples(r); k++) {   /* the lost ones */
            int64_t id = strtoll(PQgetvalue(r, k, 0), NULL, 10);
            pthread_mutex_lock(&d->qmu);
            for (store *v = d->views; v; v = v->next)
                for (size_t i = 0; i < m; i++)
                    if (v->id == id && ids[i] == id && v->epoch == epochs[i])
                        v->lease_lost = true;
            pthread_mutex_unlock(&d->qmu);
            fprintf(stderr, "store: the lease on TSE %" PRId64 " was taken over; this node signs nothing more for it\n",
                    id);
        }
        PQclear(r);
    }
    free(pairs);
}

static void *renewer(void *arg)
{
    store_db *d = arg;
    pg_db *p = d->pg;
    PGconn *c = NULL;
    pthread_mutex_lock(&p->lmu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (int64_t)p->lease_ms * 1000000 / 3;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&p->lcv, &p->lmu, &ts);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->lmu);
        if (c && PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = NULL;
        }
        if (!c)
            c = pg_connect(p, NULL);
        if (c)
            renew_all(d, c);
        pthread_mutex_lock(&p->lmu);
    }
    pthread_mutex_unlock(&p->lmu);
    PQfinish(c);
    return NULL;
}

/* ---- open and close ---- */

static int pg_open(store_db *d, const char *url, const char *node, tse_error *err)
{
    pg_db *p = calloc(1, sizeof *p);
    if (!p || !(p->conninfo = strdup(url))) {
        free(p);
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    }
    const char *lease = getenv("OPENTSE_STORE_LEASE_MS");
    p->lease_ms = lease && atoi(lease) >= 100 ? atoi(lease) : PG_LEASE_MS_DEFAULT;
    uint8_t rnd[8];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(rnd, 1, sizeof rnd, f) : 0;
    if (f)
        fclose(f);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(p->node + 2 * i, 3, "%02x", got == sizeof rnd ? rnd[i] : (uint8_t)(rand() & 0xff));
    if (node)
        snprintf(p->node, sizeof p->node, "%s", node);
    pthread_mutex_init(&p->pmu, NULL);
    pthread_mutex_init(&p->lmu, NULL);
    pthread_cond_init(&p->lcv, NULL);
    d->pg = p;
    int ret = (p->w = pg_connect(p, err)) ? make_schema(p->w, err) : STORE_PG_FAILED(err);
    if (!ret && pthread_create(&p->renewer, NULL, renewer, d) != 0)
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot start the lease thread");
    else if (!ret)
        p->renewer_running = true;
    if (ret) {
        PQfinish(p->w);
        free(p->conninfo);
        free(p);
        d->pg = NULL;
    }
    return ret;
}

static void pg_close(store_db *d)
{
    pg_db *p = d->pg;
    if (p->renewer_running) {
        pthread_mutex_lock(&p->lmu);
        p->stop = true;
        pthread_cond_broadcast(&p->lcv);
        pthread_mutex_unlock(&p->lmu);
        pthread_join(p->renewer, NULL);
    }
    pg_pool_close(p);
    PQfinish(p->w);
    pthread_mutex_destroy(&p->pmu);
    pthread_mutex_destroy(&p->lmu);
    pthread_cond_destroy(&p->lcv);
    free(p->conninfo);
    free(p);
    d->pg = NULL;
}

/* The writer's connection, connected again after a failure. */
static int pg_tse_open(store_db *d, store *s, bool create, tse_error *err)
{
    pg_db *p = d->pg;
    store_writer_take(d);
    PGconn *c = pg_writer(p, err);
    int ret = c ? 0 : STORE_PG_FAILED(err);
    pgp q = {0};
    pgp_text(&q, s->name);
    if (!ret && create)
        ret = pg_exec(c, "INSERT INTO tses(name) VALUES ($1) ON CONFLICT (name) DO NOTHING", &q, "cannot add a TSE",
                      err);
    PGresult *r = ret ? NULL
                      : pg_run(c, "SELECT id, EXISTS(SELECT 1 FROM meta WHERE tse = tses.id), owner,"
                                  " to_char(lease_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                  " FROM tses WHERE name = $1", &q);
    if (!ret && PQresultStatus(r) != PGRES_TUPLES_OK)
        ret = pg_fail(err, c, r, "cannot look up a TSE");
    else if (!ret && PQntuples(r) == 0)
        ret = error_set(err, TSE_ERR_NOT_FOUND, "no TSE \"%s\" in the PostgreSQL store", s->name);
    else if (!ret && create && !strcmp(PQgetvalue(r, 0, 1), "t"))
        ret = error_set(err, TSE_ERR_ALREADY_EXISTS, "TSE \"%s\" already exists in the PostgreSQL store", s->name);
    char holder[200] = "";
    if (r && PQntuples(r) == 1)
        snprintf(holder, sizeof holder, "node %s until %s", PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
    PQclear(r);
    /* the lease: free, expired or already ours; a new epoch fences the last owner out */
    pgp l = {0};
    pgp_text(&l, s->name);
    pgp_text(&l, p->node);
    pgp_int(&l, p->lease_ms);
    r = ret ? NULL
            : pg_run(c, "UPDATE tses SET owner = $2, epoch = epoch + 1,"
                        " lease_until = now() + $3 * interval '1 millisecond' WHERE name = $1 AND (owner IS NULL"
                        " OR lease_until IS NULL OR lease_until < now() OR owner = $2) RETURNING id, epoch",
                     &l);
    if (!ret && PQresultStatus(r) != PGRES_TUPLES_OK)
        ret = pg_fail(err, c, r, "cannot take the lease of a TSE");
    else if (!ret && PQntuples(r) == 0)
        ret = error_set(err, TSE_ERR_STORE_IN_USE, "TSE \"%s\" is signed by another node (%s)", s->name, holder);
    if (!ret) {
        s->id = pg_int(r, 0, 0);
        s->epoch = pg_int(r, 0, 1);
    }
    PQclear(r);
    if (!ret)
        ret = pg_last_counter(c, s->id, &s->last_counter, err);
    store_writer_give(d);
    if (ret)
        s->id = 0;   /* nothing to give back on close */
    return ret;
}

static int pg_tse_reacquire(store_db *d, store *s, tse_error *err)
{
    pg_db *p = d->pg;
    store_writer_take(d);   /* no flush of this TSE meanwhile */
    PGconn *c = pg_writer(p, err);
    pgp q = {0};
    pgp_int(&q, s->id);
    pgp_text(&q, p->node);
    pgp_int(&q, p->lease_ms);
    PGresult *r = c ? pg_run(c, "UPDATE tses SET owner = $2, epoch = epoch + 1, lease_until = now() + $3 * interval"
                                " '1 millisecond' WHERE id = $1 AND (owner IS NULL OR lease_until IS NULL OR"
                                " lease_until < now()) RETURNING epoch", &q)
                    : NULL;
    int ret = !c ? STORE_PG_FAILED(err)
              : PQresultStatus(r) != PGRES_TUPLES_OK ? pg_fail(err, c, r, "cannot take a lease back")
              : PQntuples(r) == 0 ? error_set(err, TSE_ERR_STORE_IN_USE, "TSE %s is signed by another node", s->name)
                                  : 0;
    if (!ret) {
        pthread_mutex_lock(&d->qmu);
        s->epoch = pg_int(r, 0, 0);
        s->lease_lost = false;
        s->stale = true;   /* the other node signed meanwhile */
        pthread_mutex_unlock(&d->qmu);
        fprintf(stderr, "store: the lease on TSE %s is this node's again\n", s->name);
    }
    PQclear(r);
    store_writer_give(d);
    return ret;
}

static void pg_tse_close(store_db *d, store *s)
{
    pg_db *p = d->pg;
    if (s->lease_lost)
        return;
    store_writer_take(d);
    PGconn *c = pg_writer(p, NULL);
    pgp q = {0};
    pgp_int(&q, s->id);
    pgp_int(&q, s->epoch);
    pgp_text(&q, p->node);
    if (c)
        pg_exec(c, "UPDATE tses SET owner = NULL, lease_until = NULL WHERE id = $1 AND epoch = $2 AND owner = $3",
                &q, NULL, NULL);
    store_writer_give(d);
}

static int pg_tse_each(store_db *d, store_name_cb cb, void *ctx, tse_error *err)
{
    PGconn *c = pg_pool_get(d->pg, err);
    if (!c)
        return STORE_PG_FAILED(err);
    PGresult *r = PQexec(c, "SELECT name FROM tses WHERE EXISTS(SELECT 1 FROM meta WHERE tse = tses.id) ORDER BY id");
    int ret = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : pg_fail(err, c, r, "cannot list the TSEs");
    pg_pool_put(d->pg, c);
    for (int i = 0; !ret && i < PQntuples(r); i++)
        ret = cb(ctx, PQgetvalue(r, i, 0));
    PQclear(r);
    return ret;
}

static int pg_tse_owner(store_db *d, const char *name, char out[17], tse_error *err)
{
    PGconn *c = pg_pool_get(d->pg, err);
    if (!c)
        return STORE_PG_FAILED(err);
    pgp q = {0};
    pgp_text(&q, name);
    PGresult *r = pg_run(c, "SELECT owner FROM tses WHERE name = $1 AND owner IS NOT NULL AND lease_until > now()", &q);
    int ret = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : pg_fail(err, c, r, "cannot read a lease");
    pg_pool_put(d->pg, c);
    if (!ret && PQntuples(r) == 0)
        ret = error_set(err, TSE_ERR_NOT_FOUND, "no node holds TSE \"%s\"", name);
    if (!ret)
        snprintf(out, 17, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ret;
}

/* ---- a flush ---- */

static int apply_delete_logs(PGconn *c, int64_t tse, uint64_t through, tse_error *err)
{
    pgp q = {0};
    pgp_int(&q, tse);
    pgp_int(&q, (int64_t)through);
    static const char *const steps[] = {
        /* remember what is deleted first: the highest counter and transaction number */
        "INSERT INTO meta SELECT $1, '" STORE_META_DELETED_TX "', convert_to(GREATEST(COALESCE((SELECT"
        " convert_from(value, 'UTF8')::bigint FROM meta WHERE tse = $1 AND key = '" STORE_META_DELETED_TX "'), 0),"
        " COALESCE((SELECT max(tx_number) FROM logs WHERE tse = $1 AND counter <= $2), 0))::text, 'UTF8')"
        " ON CONFLICT (tse, key) DO UPDATE SET value = EXCLUDED.value",
        "INSERT INTO meta SELECT $1, '" STORE_META_DELETED_THROUGH "', convert_to(GREATEST(COALESCE((SELECT"
        " convert_from(value, 'UTF8')::bigint FROM meta WHERE tse = $1 AND key = '" STORE_META_DELETED_THROUGH
        "'), 0), $2)::text, 'UTF8') ON CONFLICT (tse, key) DO UPDATE SET value = EXCLUDED.value",
    };
    int ret = 0;
    for (size_t i = 0; !ret && i < 2; i++)
        ret = pg_exec(c, steps[i], &q, "cannot record a deletion", err);
    if (!ret)
        ret = pg_exec(c, "SET LOCAL opentse.delete_logs = 'on'", NULL, NULL, err);
    if (!ret)
        ret = pg_exec(c, "DELETE FROM logs WHERE tse = $1 AND counter <= $2", &q, "cannot delete logs", err);
    if (!ret)
        ret = pg_exec(c, "SET LOCAL opentse.delete_logs = 'off'", NULL, NULL, err);
    return ret;
}

static int apply_change(PGconn *c, const store *view, const store_change *ch, tse_error *err)
{
    pgp q = {0};
    bool rec = ch->kind == STORE_PUT_RECORD || ch->kind == STORE_INSERT_RECORD || ch->kind == STORE_DEL_RECORD;
    if (!rec && !view)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "a change of a TSE without its TSE");
    if (!rec)
        pgp_int(&q, view->id);
    switch (ch->kind) {
    case STORE_PUT_META:
        pgp_text(&q, ch->key);
        pgp_blob(&q, ch->value, ch->value_len);
        return pg_exec(c, "INSERT INTO meta VALUES ($1, $2, $3) ON CONFLICT (tse, key) DO UPDATE SET value ="
                          " EXCLUDED.value", &q, "cannot store state", err);
    case STORE_DEL_META:
        pgp_text(&q, ch->key);
        return pg_exec(c, "DELETE FROM meta WHERE tse = $1 AND key = $2", &q, "cannot delete state", err);
    case STORE_PUT_CLIENT:
        pgp_text(&q, ch->key);
        pgp_int(&q, ch->time);
        return pg_exec(c, "INSERT INTO clients VALUES ($1, $2, $3) ON CONFLICT (tse, client_id) DO UPDATE SET"
                          " registered = EXCLUDED.registered", &q, "cannot store a client", err);
    case STORE_DEL_CLIENT:
        pgp_text(&q, ch->key);
        return pg_exec(c, "DELETE FROM clients WHERE tse = $1 AND client_id = $2", &q, "cannot delete a client", err);
    case STORE_PUT_TX: {
        const store_tx *tx = ch->tx;
        char id[sizeof tx->client_id + 1];
        snprintf(id, sizeof id, "%.*s", (int)sizeof tx->client_id, tx->client_id);
        pgp_int(&q, (int64_t)tx->number);
        pgp_text(&q, id);
        pgp_int(&q, (int64_t)tx->start_counter);
        pgp_int(&q, tx->start_time);
        pgp_int(&q, tx->last_update);
        pgp_blob(&q, tx->pending, tx->pending_len);
        return pg_exec(c, "INSERT INTO open_tx VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tse, number) DO"
                          " UPDATE SET client_id = EXCLUDED.client_id, start_counter = EXCLUDED.start_counter,"
                          " start_time = EXCLUDED.start_time, last_update = EXCLUDED.last_update,"
                          " pending = EXCLUDED.pending", &q, "cannot store an open transaction", err);
    }
    case STORE_DEL_TX:
        pgp_int(&q, (int64_t)ch->tx->number);
        return pg_exec(c, "DELETE FROM open_tx WHERE tse = $1 AND number = $2", &q, "cannot delete a transaction",
                       err);
    case STORE_DELETE_LOGS:
        return apply_delete_logs(c, view->id, ch->counter, err);
    case STORE_PUT_RECORD:
    case STORE_INSERT_RECORD:
        pgp_text(&q, ch->ns);
        pgp_text(&q, ch->key);
        pgp_text(&q, ch->idx);
        pgp_int(&q, ch->ord);
        /* values are text (JSON); a copy to make it a C string */
        {
            char *v = strndup(ch->value ? ch->value : "", ch->value_len);
            if (!v)
                return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
            pgp_text(&q, v);
            int ret = pg_exec(c, ch->kind == STORE_PUT_RECORD
                                     ? "INSERT INTO records(ns, key, idx, ord, value) VALUES ($1, $2, $3, $4, $5)"
                                       " ON CONFLICT (ns, key) DO UPDATE SET idx = EXCLUDED.idx, ord = EXCLUDED.ord,"
                                       " value = EXCLUDED.value"
                                     : "INSERT INTO records(ns, key, idx, ord, value) VALUES ($1, $2, $3, $4, $5)",
                              &q, "cannot store a record", err);
            free(v);
            return ret;
        }
    case STORE_DEL_RECORD:
        pgp_text(&q, ch->ns);
        pgp_text(&q, ch->key);
        return pg_exec(c, "DELETE FROM records WHERE ns = $1 AND key = $2", &q, "cannot delete a record", err);
    }
    return error_set(err, TSE_ERR_INTERNAL, "unknown store change %d", (int)ch->kind);
}

static int apply_batch(PGconn *c, const store_ticket *t, tse_error *err)
{
    const store_batch *b = &t->batch;
    int ret = b->log ? pg_insert_log(c, t->view->id, b->log, err) : 0;
    for (size_t i = 0; !ret && i < b->n_changes; i++)
        ret = apply_change(c, t->view, &b->changes[i], err);
    for (size_t i = 0; !ret && i < t->n_extra; i++)
        ret = apply_change(c, t->view, &t->extra[i], err);
    return ret;
}

/* Inside the flush's transaction: renews the lease of every TSE with a
 * batch here, with the epoch as fence; a TSE whose lease was taken is lost.
 * A TSE whose last commit had an unknown outcome reads its counter again. */
static int fence(store_db *d, PGconn *c, store_ticket *list, tse_error *err)
{
    pg_db *p = d->pg;
    for (store_ticket *t = list; t; t = t->next) {
        store *v = t->view;
        if (!v || v->lease_lost || v->flush_gen == d->flush_gen)
            continue;
        v->flush_gen = d->flush_gen;   /* once per flush; store_flush_counter starts from here */
        v->flush_counter = v->last_counter;
        pgp q = {0};
        pgp_int(&q, v->id);
        pgp_int(&q, v->epoch);
        pgp_text(&q, p->node);
        pgp_int(&q, p->lease_ms);
        PGresult *r = pg_run(c, "UPDATE tses SET lease_until = now() + $4 * interval '1 millisecond'"
                                " WHERE id = $1 AND epoch = $2 AND owner = $3", &q);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            int ret = pg_fail(err, c, r, "cannot renew a lease");
            PQclear(r);
            return ret;
        }
        if (strcmp(PQcmdTuples(r), "0") == 0) {
            v->lease_lost = true;
            fprintf(stderr, "store: the lease on TSE %s was taken over; this node signs nothing more for it\n",
                    v->name);
        }
        PQclear(r);
        if (v->stale && !v->lease_lost) {
            int ret = pg_last_counter(c, v->id, &v->last_counter, err);
            if (ret)
                return ret;
            v->stale = false;
        }
        v->flush_counter = v->last_counter;
    }
    return 0;
}

/* Whether the ticket's batch is applied: not when store_complete() failed
 * it, its TSE's lease is lost or its log breaks the counter rule (then its
 * result is set). *counter: its TSE's counter in this flush (logs only). */
static bool ticket_goes(store_db *d, store_ticket *t, uint64_t **counter)
{
    const store_log *l = t->batch.log;
    if (t->preset) {
        t->result = t->preset;
        return false;
    }
    if (t->view && t->view->lease_lost) {
        t->result = error_set(&t->err, TSE_ERR_STORE_IN_USE,
                              "TSE %s is signed by another node now (its lease was taken over)", t->view->name);
        return false;
    }
    *counter = l ? store_flush_counter(t->view, d->flush_gen) : NULL;
    if (l && l->counter != **counter + 1) {
        t->result = error_set(&t->err, TSE_ERR_INVALID_ARGUMENT, "log counter %llu refused: the next counter is %llu",
                              (unsigned long long)l->counter, (unsigned long long)**counter + 1);
        return false;
    }
    return true;
}

/* The flush in one round trip: every statement sent in a pipeline, the
 * lease fenced by a statement that fails when the epoch is not ours any
 * more, so any failure rolls the whole transaction back. 0: committed and
 * every ticket's result set; otherwise nothing happened and the flush is
 * done again statement by statement (pg_flush), which tells the batches
 * apart. */
static int fast_flush(store_db *d, PGconn *c, store_ticket *list)
{
    pg_db *p = d->pg;
    for (store_ticket *t = list; t; t = t->next)
        if (t->view && (t->view->stale || t->view->lease_lost))
            return -1;
    if (!PQenterPipelineMode(c))
        return -1;
    pg_pipelining = true;
    pg_pipe_sent = 0;
    tse_error e = {0};
    int ret = pg_exec(c, "BEGIN", NULL, NULL, &e);
    /* the fence: every TSE of the flush, in one statement that fails unless
     * each lease is still this node's with its epoch */
    size_t n = 0, cap = 0;
    for (store_ticket *t = list; t; t = t->next)
        cap++;
    int64_t *ids = calloc((cap + 1) * 2, sizeof *ids), *epochs = ids ? ids + cap + 1 : NULL;
    for (store_ticket *t = list; ids && t; t = t->next) {
        store *v = t->view;
        if (!v || v->flush_gen == d->flush_gen)
            continue;
        v->flush_gen = d->flush_gen;
        v->flush_counter = v->last_counter;
        ids[n] = v->id;
        epochs[n++] = v->epoch;
    }
    char *ia = ids ? pg_array(ids, n) : NULL, *ea = ids ? pg_array(epochs, n) : NULL;
    if (!ia || !ea) {
        ret = -1;
    } else if (!ret && n) {
        pgp q = {0};
        pgp_text(&q, ia);
        pgp_text(&q, ea);
        pgp_text(&q, p->node);
        pgp_int(&q, p->lease_ms);
        pgp_int(&q, (int64_t)n);
        ret = pg_exec(c, "WITH u AS (UPDATE tses t SET lease_until = now() + $4 * interval '1 millisecond'"
                         " FROM unnest($1::bigint[], $2::bigint[]) AS f(id, epoch)"
                         " WHERE t.id = f.id AND t.epoch = f.epoch AND t.owner = $3 RETURNING 1)"
                         " SELECT 1 / (count(*) = $5)::int FROM u",
                      &q, NULL, &e);
    }
    free(ia);
    free(ea);
    free(ids);
    for (store_ticket *t = list; !ret && t; t = t->next) {
        const store_log *l = t->batch.log;
        uint64_t *counter = NULL;
        t->result = 0;
        if (!ticket_goes(d, t, &counter))
            continue;
        ret = apply_batch(c, t, &e);
        if (!ret && l)
            *counter = l->counter;
    }
    if (!ret)
        ret = pg_exec(c, "COMMIT", NULL, NULL, &e);
    pg_pipelining = false;
    bool synced = PQpipelineSync(c) == 1, ok = !ret && synced;
    /* every result, up to the sync's */
    for (int got = 0; PQstatus(c) == CONNECTION_OK;) {
        PGresult *r = PQgetResult(c);
        if (!r && !synced && got >= pg_pipe_sent)
            break;
        if (!r)
            continue;   /* the end of one statement's results */
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        got++;
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            ok = false;
        else if (got == pg_pipe_sent && strcmp(PQcmdStatus(r), "COMMIT") != 0)
            ok = false;   /* a COMMIT of a failed transaction rolls back */
        PQclear(r);
    }
    PQexitPipelineMode(c);
    if (ok && PQstatus(c) == CONNECTION_OK) {
        store_commit_views(d, list);
        return 0;
    }
    if (PQstatus(c) == CONNECTION_OK)
        pg_exec(c, "ROLLBACK", NULL, NULL, NULL);   /* the failed transaction block, if any */
    for (store_ticket *t = list; t; t = t->next)
        t->result = 0;
    d->flush_gen++;   /* the slow way starts the counters afresh */
    return -1;
}

static void pg_flush(store_db *d, store_ticket *list)
{
    pg_db *p = d->pg;
    tse_error msg = {0};
    PGconn *c = pg_writer(p, &msg);
    if (c && fast_flush(d, c, list) == 0)
        return;
    if (c && PQstatus(c) != CONNECTION_OK)
        c = pg_writer(p, &msg);
    int ret = c ? pg_exec(c, "BEGIN", NULL, NULL, &msg) : STORE_PG_FAILED(&msg);
    if (!ret)
        ret = fence(d, c, list, &msg);
    for (store_ticket *t = list; !ret && t; t = t->next) {
        const store_log *l = t->batch.log;
        uint64_t *counter = NULL;
        if (!ticket_goes(d, t, &counter))
            continue;
        if ((t->result = pg_exec(c, "SAVEPOINT batch", NULL, NULL, &t->err)) != 0) {
            ret = t->result;
            msg = t->err;
            break;
        }
        t->result = apply_batch(c, t, &t->err);
        if (PQstatus(c) != CONNECTION_OK) {
            ret = t->result ? t->result : TSE_ERR_STORAGE_FAILURE;
            msg = t->err;
            break;
        }
        const char *end = t->result ? "ROLLBACK TO SAVEPOINT batch" : "RELEASE SAVEPOINT batch";
        if (pg_exec(c, end, NULL, NULL, &msg) != 0) {
            ret = TSE_ERR_STORAGE_FAILURE;
            break;
        }
        if (!t->result && l)
            *counter = l->counter;
    }
    if (!ret)
        ret = pg_exec(c, "COMMIT", NULL, NULL, &msg);
    if (!ret) {
        store_commit_views(d, list);
        return;
    }
    if (c && PQstatus(c) == CONNECTION_OK)
        pg_exec(c, "ROLLBACK", NULL, NULL, NULL);
    /* a failed COMMIT may have committed: every TSE of the flush reads its counter again */
    for (store_ticket *t = list; t; t = t->next)
        if (t->view)
            t->view->stale = true;
    tse_error whole = {0};
    error_set(&whole, TSE_ERR_STORAGE_FAILURE, "flush rolled back: %.200s", msg.message);
    store_fail_flush(list, &whole);
}

static int pg_set_max_bytes(store_db *d, int64_t bytes)
{
    (void)d;
    (void)bytes;
    return TSE_ERR_INVALID_ARGUMENT;   /* a full tablespace is a real one in the tests */
}

static const store_pg_ops ops = {
    .open = pg_open,
    .close = pg_close,
    .open_tse = pg_tse_open,
    .close_tse = pg_tse_close,
    .tse_reacquire = pg_tse_reacquire,
    .tse_each = pg_tse_each,
    .tse_owner = pg_tse_owner,
    .flush = pg_flush,
    .get_meta = pg_get_meta,
    .last_log = pg_last_log,
    .get_log = pg_get_log,
    .last_tx_number = pg_last_tx_number,
    .each_client = pg_each_client,
    .each_open_tx = pg_each_open_tx,
    .count_logs = pg_count_logs,
    .log_span = pg_log_span,
    .each_log = pg_each_log,
    .client_known = pg_client_known,
    .first_counter = pg_first_counter,
    .record_get = pg_record_get,
    .record_each = pg_record_each,
    .record_count = pg_record_count,
    .bulk_begin = pg_bulk_begin,
    .bulk_put = pg_bulk_put,
    .bulk_end = pg_bulk_end,
    .set_max_bytes = pg_set_max_bytes,
    .copy_from = pg_copy_from,
    .usage = pg_usage,
};

/* Linked into a program, the backend makes postgresql:// stores available. */
__attribute__((constructor)) static void register_pg(void)
{
    store_pg = &ops;
}
