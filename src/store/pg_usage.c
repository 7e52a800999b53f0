/*
 * pg_usage.c - the PostgreSQL store's part of store_usage(): the bytes
 * the database takes (pg_database_size) and the server's version. The free
 * space of the server's file system is not something PostgreSQL tells a
 * client, so free_known stays false.
 */
#include <stdio.h>
#include <string.h>

#include "store/pg_conn.h"

int pg_usage(store *s, store_usage_info *out, tse_error *err)
{
    PGconn *c = pg_pool_get(s->d->pg, err);
    if (!c)
        return STORE_PG_FAILED(err);
    PGresult *r = pg_run(c, "SELECT pg_database_size(current_database()), current_setting('server_version')", NULL);
    int ret = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        ret = pg_fail(err, c, r, "cannot read the database size");
    else {
        out->used = (uint64_t)pg_int(r, 0, 0);
        out->total = out->used;
        out->free_known = false;
        snprintf(out->engine, sizeof out->engine, "PostgreSQL");
        snprintf(out->version, sizeof out->version, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    pg_pool_put(s->d->pg, c);
    return ret;
}
