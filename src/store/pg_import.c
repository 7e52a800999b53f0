/*
 * pg_import.c - moves a deployment from the embedded store to PostgreSQL:
 * every TSE (logs, state, clients, open transactions) and every record of
 * a sqlite: store file (schema 2) go into an empty PostgreSQL store in one
 * PostgreSQL transaction, with COPY, in the order the file holds them
 * (records keep their order). The counts of every table are compared
 * before the commit, so the store holds all of it or nothing, and the
 * record store/copied-from-sqlite commits with it, naming the file's TSEs
 * with their last counters: the same file found again (a crash before it
 * was moved away) is recognised as copied, any other refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opentse/opentse.h"
#include "store/pg_conn.h"

/* One COPY line being built. */
typedef struct line {
    char *p;
    size_t n, cap;
    bool oom;
} line;

static void put(line *l, const char *s, size_t n)
{
    if (l->oom)
        return;
    if (l->n + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->n + n + 1)
            cap *= 2;
        char *p = realloc(l->p, cap);
        if (!p) {
            l->oom = true;
            return;
        }
        l->p = p;
        l->cap = cap;
    }
    memcpy(l->p + l->n, s, n);
    l->n += n;
}

/* Column i of the SQLite row as a COPY text value: \N for NULL, a bytea
 * column's bytes in hex (\\x..), integers in decimal, text with \\, \t,
 * \n, \r escaped. */
static void put_col(line *l, sqlite3_stmt *st, int i, bool first, bool bytea)
{
    if (!first)
        put(l, "\t", 1);
    int type = sqlite3_column_type(st, i);
    if (type == SQLITE_NULL) {
        put(l, "\\N", 2);
    } else if (type == SQLITE_INTEGER && !bytea) {
        char num[24];
        put(l, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(st, i)));
    } else if (bytea) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *b = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        put(l, "\\\\x", 3);
        for (int k = 0; k < n; k++) {
            char h[2] = {hex[b[k] >> 4], hex[b[k] & 15]};
            put(l, h, 2);
        }
    } else {
        const unsigned char *t = sqlite3_column_text(st, i);
        int n = sqlite3_column_bytes(st, i);
        for (int k = 0; k < n; k++) {
            const char *esc = t[k] == '\\' ? "\\\\" : t[k] == '\t' ? "\\t" : t[k] == '\n' ? "\\n"
                            : t[k] == '\r' ? "\\r" : NULL;
            if (esc)
                put(l, esc, 2);
            else
                put(l, (const char *)t + k, 1);
        }
    }
}

/* Copies the rows of `select` (from the file) into `copy` (on PostgreSQL);
 * bit i of `bytea` marks column i as bytea there. */
static int copy_table(sqlite3 *db, PGconn *c, const char *select, const char *copy, unsigned bytea, int64_t *rows,
                      tse_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, select, -1, &st, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, select);
    PGresult *r = PQexec(c, copy);
    int ret = PQresultStatus(r) == PGRES_COPY_IN ? 0 : pg_fail(err, c, r, copy);
    PQclear(r);
    line l = {0};
    *rows = 0;
    int rc = SQLITE_DONE;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        l.n = 0;
        for (int i = 0; i < sqlite3_column_count(st); i++)
            put_col(&l, st, i, i == 0, bytea >> i & 1);
        put(&l, "\n", 1);
        if (l.oom)
            ret = error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
        else if (PQputCopyData(c, l.p, (int)l.n) != 1)
            ret = pg_fail(err, c, NULL, "cannot send the rows");
        else
            (*rows)++;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = store_sqlfail(err, db, "cannot read the store file");
    if (PQputCopyEnd(c, ret ? "the copy was stopped" : NULL) != 1 && !ret)
        ret = pg_fail(err, c, NULL, "cannot end the copy");
    while ((r = PQgetResult(c)) != NULL) {
        if (!ret && PQresultStatus(r) != PGRES_COMMAND_OK)
            ret = pg_fail(err, c, r, copy);
        PQclear(r);
    }
    free(l.p);
    sqlite3_finalize(st);
    return ret;
}

static int count(PGconn *c, const char *table, int64_t *n, tse_error *err)
{
    char sql[80];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    PGresult *r = PQexec(c, sql);
    int ret = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : pg_fail(err, c, r, sql);
    if (!ret)
        *n = pg_int(r, 0, 0);
    PQclear(r);
    return ret;
}

/* What tells one deployment's file from another's: its TSEs with their
 * last counters, and the number of its records (malloc'd text). */
static int fingerprint(sqlite3 *db, char **out, tse_error *err)
{
    sqlite3_stmt *st = NULL;
    static const char sql[] =
        "SELECT COALESCE((SELECT group_concat(name || ':' || last, ',') FROM (SELECT name, (SELECT COALESCE(max(counter),"
        " 0) FROM logs WHERE tse = tses.id) AS last FROM tses ORDER BY id)), '') || ';' || (SELECT count(*) FROM records)";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return store_sqlfail(err, db, "cannot read the store file");
    }
    *out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return *out ? 0 : error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
}

/* The mark of an earlier copy, if any: 1 and its value (malloc'd), 0 none. */
static int copied_mark(PGconn *c, char **value, tse_error *err)
{
    PGresult *r = PQexec(c, "SELECT value FROM records WHERE ns = 'store' AND key = 'copied-from-sqlite'");
    int ret = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : pg_fail(err, c, r, "cannot read the store");
    if (!ret && PQntuples(r) == 1) {
        ret = (*value = strdup(PQgetvalue(r, 0, 0))) ? 1 : error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    }
    PQclear(r);
    return ret;
}

int pg_copy_from(store_db *d, const char *path, store_copy_counts *out, tse_error *err)
{
    if (out)
        *out = (store_copy_counts){0};
    sqlite3 *db = NULL;
    int ret = store_connect(path, SQLITE_OPEN_READONLY, &db, err);
    int64_t app = 0, version = 0;
    if (!ret)
        ret = store_query_int(db, "PRAGMA application_id", &app, err);
    if (!ret)
        ret = store_query_int(db, "PRAGMA user_version", &version, err);
    if (!ret && (app != STORE_APPLICATION_ID || version != 2))
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE,
                        "%s is not an OpenTSE deployment store of schema 2 (application id %" PRIx64
                        ", version %" PRId64 "); open it once with this build first",
                        path, (uint64_t)app, version);
    PGconn *c = ret ? NULL : pg_pool_get(d->pg, err);
    if (!ret && !c)
        ret = TSE_ERR_STORAGE_FAILURE;
    if (!ret)
        ret = pg_exec(c, "BEGIN", NULL, NULL, err);
    /* no node starts on the store while it is filled */
    if (!ret)
        ret = pg_exec(c, "LOCK TABLE tses, records IN EXCLUSIVE MODE", NULL, "cannot lock the store", err);
    /* copied before (and the file not yet moved away)? */
    char *fp = NULL, *mark = NULL, want[4200] = "";
    if (!ret)
        ret = fingerprint(db, &fp, err);
    if (!ret)
        snprintf(want, sizeof want, "\"fingerprint\": \"%.4000s\"", fp);
    int marked = ret ? 0 : copied_mark(c, &mark, err);
    if (marked < 0)
        ret = marked;
    bool again = marked == 1 && strstr(mark, want) != NULL;
    free(mark);
    int64_t had_tses = 0, had_records = 0;
    if (!ret && !again && !(ret = count(c, "tses", &had_tses, err)) && !(ret = count(c, "records", &had_records, err)) &&
        (had_tses || had_records))
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE,
                        "the PostgreSQL store is not empty (it holds %" PRId64 " TSE%s and %" PRId64 " records): a "
                        "store file is copied only into an empty one",
                        had_tses, had_tses == 1 ? "" : "s", had_records);
    static const struct {
        const char *name, *select, *copy;
        unsigned bytea;
    } tables[] = {
        {"tses", "SELECT id, name FROM tses ORDER BY id", "COPY tses(id, name) FROM STDIN", 0},
        {"logs", "SELECT tse, counter, kind, log_time, tx_number, client_id, operation, data FROM logs ORDER BY tse, counter",
         "COPY logs(tse, counter, kind, log_time, tx_number, client_id, operation, data) FROM STDIN", 1u << 7},
        {"meta", "SELECT tse, key, value FROM meta", "COPY meta(tse, key, value) FROM STDIN", 1u << 2},
        {"clients", "SELECT tse, client_id, registered FROM clients", "COPY clients(tse, client_id, registered) FROM STDIN",
         0},
        {"open_tx", "SELECT tse, number, client_id, start_counter, start_time, last_update, pending FROM open_tx",
         "COPY open_tx(tse, number, client_id, start_counter, start_time, last_update, pending) FROM STDIN", 1u << 6},
        {"records", "SELECT ns, key, idx, ord, value FROM records ORDER BY rowid",
         "COPY records(ns, key, idx, ord, value) FROM STDIN", 0},
    };
    int64_t rows[6] = {0};
    for (size_t i = 0; !ret && !again && i < 6; i++) {
        ret = copy_table(db, c, tables[i].select, tables[i].copy, tables[i].bytea, &rows[i], err);
        int64_t have = 0;
        if (!ret && !(ret = count(c, tables[i].name, &have, err)) && have != rows[i])
            ret = error_set(err, TSE_ERR_STORAGE_FAILURE, "%s: %" PRId64 " rows copied, %" PRId64 " arrived",
                            tables[i].name, rows[i], have);
    }
    if (!ret && !again)
        ret = pg_exec(c, "SELECT setval(pg_get_serial_sequence('tses', 'id'), COALESCE((SELECT max(id) FROM tses), 0) + 1,"
                         " false)",
                      NULL, "cannot set the TSE ids", err);
    /* the mark that the file's data is here, in the same commit */
    if (!ret && !again) {
        char note[4400];
        snprintf(note, sizeof note, "{\"tses\": %" PRId64 ", \"logs\": %" PRId64 ", \"records\": %" PRId64 ", %s}",
                 rows[0], rows[1], rows[5], want);
        pgp q = {0};
        pgp_text(&q, note);
        ret = pg_exec(c, "INSERT INTO records(ns, key, idx, ord, value) VALUES ('store', 'copied-from-sqlite', NULL, 0, $1)",
                      &q, "cannot mark the copy", err);
    }
    if (!ret)
        ret = pg_exec(c, again ? "ROLLBACK" : "COMMIT", NULL, "cannot commit the copy", err);
    if (ret && c)
        pg_exec(c, "ROLLBACK", NULL, NULL, NULL);
    free(fp);
    if (c)
        pg_pool_put(d->pg, c);
    sqlite3_close(db);
    if (!ret && out)
        *out = (store_copy_counts){.tses = (uint64_t)rows[0], .logs = (uint64_t)rows[1], .records = (uint64_t)rows[5],
                                   .again = again};
    return ret;
}
