/*
 * sqlite_migrate.c - the schema and data of earlier layouts brought into
 * it: the current schema's SQL, a store file of schema 1 (one TSE per
 * file) migrated in place,
 * a single-TSE file imported into a database as a named TSE, and the rows
 * of another layout's tables read for a face's own migration (opentsed's
 * server.db of before the one store).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opentse/opentse.h"
#include "store/sqlite_internal.h"

/*
 * Schema version 2: every TSE of the database in the same tables, told
 * apart by `tse` (tses.id), and the faces' records.
 *
 * logs is append-only: triggers abort every UPDATE and DELETE, and every
 * INSERT of an existing counter (INSERT OR REPLACE deletes the old row
 * without firing delete triggers). deleteStoredData drops and re-creates
 * the delete trigger inside the flush that deletes (sqlite_commit.c).
 */
const char store_schema_sql[] =
    "CREATE TABLE tses(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
    "CREATE TABLE logs("
    "  tse INTEGER NOT NULL,"
    "  counter INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  log_time INTEGER NOT NULL,"
    "  tx_number INTEGER NOT NULL DEFAULT 0,"
    "  client_id TEXT,"
    "  operation TEXT,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY(tse, counter));"
    "CREATE INDEX logs_by_tx ON logs(tse, tx_number);"
    "CREATE INDEX logs_by_time ON logs(tse, log_time);"
    "CREATE TRIGGER logs_no_update BEFORE UPDATE ON logs"
    "  BEGIN SELECT RAISE(ABORT, 'logs are append-only: update refused'); END;"
    "CREATE TRIGGER logs_no_delete BEFORE DELETE ON logs"
    "  BEGIN SELECT RAISE(ABORT, 'logs are append-only: delete refused'); END;"
    "CREATE TRIGGER logs_no_replace BEFORE INSERT ON logs"
    "  WHEN EXISTS (SELECT 1 FROM logs WHERE tse = NEW.tse AND counter = NEW.counter)"
    "  BEGIN SELECT RAISE(ABORT, 'logs are append-only: replace refused'); END;"
    "CREATE TABLE meta(tse INTEGER NOT NULL, key TEXT NOT NULL, value BLOB, PRIMARY KEY(tse, key));"
    "CREATE TABLE clients(tse INTEGER NOT NULL, client_id TEXT NOT NULL, registered INTEGER,"
    "  PRIMARY KEY(tse, client_id));"
    "CREATE TABLE open_tx("
    "  tse INTEGER NOT NULL,"
    "  number INTEGER NOT NULL,"
    "  client_id TEXT,"
    "  start_counter INTEGER,"
    "  start_time INTEGER,"
    "  last_update INTEGER,"
    "  pending BLOB,"
    "  PRIMARY KEY(tse, number));"
    "CREATE TABLE records(ns TEXT NOT NULL, key TEXT NOT NULL, idx TEXT, ord INTEGER NOT NULL DEFAULT 0,"
    "  value BLOB NOT NULL, UNIQUE(ns, key));"
    "CREATE INDEX records_by_idx ON records(ns, idx, ord);"
    "CREATE INDEX records_by_ord ON records(ns, ord);";

/* fsyncs a file by name. */
static int sync_file(const char *path, tse_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ret = fd >= 0 && fsync(fd) == 0 ? 0 : error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot sync %s", path);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* Runs sql with one text parameter (?1) to its end. */
static int exec_text(sqlite3 *db, const char *sql, const char *arg, tse_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, sql);
    int ret = sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE
                  ? 0
                  : store_sqlfail(err, db, sql);
    sqlite3_finalize(st);
    return ret;
}

static const char v1_to_v2[] =
    "DROP TRIGGER logs_no_update; DROP TRIGGER logs_no_delete; DROP TRIGGER logs_no_replace;"
    "DROP INDEX logs_by_tx; DROP INDEX logs_by_time;"
    "ALTER TABLE logs RENAME TO v1_logs; ALTER TABLE meta RENAME TO v1_meta;"
    "ALTER TABLE clients RENAME TO v1_clients; ALTER TABLE open_tx RENAME TO v1_open_tx;";
static const char v1_copy[] =
    "INSERT INTO tses(id, name) VALUES (1, '');"
    "INSERT INTO logs SELECT 1, counter, kind, log_time, tx_number, client_id, operation, data FROM v1_logs;"
    "INSERT INTO meta SELECT 1, key, value FROM v1_meta;"
    "INSERT INTO clients SELECT 1, client_id, registered FROM v1_clients;"
    "INSERT INTO open_tx SELECT 1, number, client_id, start_counter, start_time, last_update, pending"
    " FROM v1_open_tx;"
    "DROP TABLE v1_logs; DROP TABLE v1_meta; DROP TABLE v1_clients; DROP TABLE v1_open_tx;";

int store_migrate_v1(sqlite3 *db, const char *path, tse_error *err)
{
    char *bak = NULL;
    if (asprintf(&bak, "%s.v1.bak", path) < 0)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    unlink(bak);   /* a copy left by a migration that did not commit */
    int ret = exec_text(db, "VACUUM INTO ?1", bak, err);
    if (!ret)
        ret = sync_file(bak, err);
    char *sql = NULL;
    if (!ret && asprintf(&sql, "BEGIN IMMEDIATE;%s%s%sPRAGMA user_version=%d;COMMIT;", v1_to_v2, store_schema_sql,
                         v1_copy, STORE_SCHEMA_VERSION) < 0)
        ret = error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    if (!ret)
        ret = store_exec(db, sql, "cannot migrate the store from schema 1", err);
    if (ret && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (ret)
        error_set(err, ret, "store %s (schema 1) could not be migrated, nothing was changed: %.150s", path,
                  err ? err->message : "");
    free(sql);
    free(bak);
    return ret;
}

/* ---- import of a single-TSE file ---- */

int store_db_import(store_db *d, const char *name, const char *path, tse_error *err)
{
    if (!d || !name || strlen(name) > 64 || !path)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_db_import: bad argument");
    if (d->pg)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "an import goes into a sqlite: store");
    store_writer_take(d);
    sqlite3 *db = d->wdb;
    int ret = exec_text(db, "ATTACH ?1 AS src", path, err);
    int64_t app = 0, version = 0, id = 0;
    if (ret) {
        store_writer_give(d);
        return ret;
    }
    ret = store_query_int(db, "PRAGMA src.application_id", &app, err);
    if (!ret)
        ret = store_query_int(db, "PRAGMA src.user_version", &version, err);
    if (!ret && (app != STORE_APPLICATION_ID || (version != 1 && version != 2)))
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE, "%s is not an OpenTSE store of a known schema", path);
    if (!ret)
        ret = store_exec(db, "BEGIN IMMEDIATE", NULL, err);
    if (!ret)
        ret = exec_text(db, "INSERT INTO tses(name) VALUES (?1)", name, err);
    if (!ret)
        id = sqlite3_last_insert_rowid(db);
    char *sql = NULL;
    /* schema 1 has no tse column; schema 2's single TSE is the one named "" */
    const char *w = version == 1 ? "" : " WHERE tse = (SELECT id FROM src.tses WHERE name = '')";
    if (!ret && asprintf(&sql,
                         "INSERT INTO logs SELECT %lld, counter, kind, log_time, tx_number, client_id, operation, data"
                         " FROM src.logs%s;"
                         "INSERT INTO meta SELECT %lld, key, value FROM src.meta%s;"
                         "INSERT INTO clients SELECT %lld, client_id, registered FROM src.clients%s;"
                         "INSERT INTO open_tx SELECT %lld, number, client_id, start_counter, start_time, last_update,"
                         " pending FROM src.open_tx%s;",
                         (long long)id, w, (long long)id, w, (long long)id, w, (long long)id, w) < 0)
        ret = error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    if (!ret)
        ret = store_exec(db, sql, "cannot copy the TSE", err);
    if (!ret)
        ret = store_exec(db, "COMMIT", NULL, err);
    if (ret && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(db, "DETACH src", NULL, NULL, NULL);
    free(sql);
    store_writer_give(d);
    return ret;
}

int store_db_copy_from(store_db *d, const char *path, store_copy_counts *out, tse_error *err)
{
    if (!d || !path)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_db_copy_from: bad argument");
    if (!d->pg)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "a store file is copied into a PostgreSQL store only");
    return store_pg->copy_from(d, path, out, err);
}

/* ---- rows of another layout ---- */

int store_legacy_rows(const char *path, const char *table, store_row_cb cb, void *ctx, tse_error *err)
{
    if (!path || !table || !cb || !*table || strspn(table, "abcdefghijklmnopqrstuvwxyz_") != strlen(table))
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_legacy_rows: bad argument");
    sqlite3 *db = NULL;
    int ret = store_connect(path, SQLITE_OPEN_READONLY, &db, err);
    if (ret)
        return ret;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY rowid", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        ret = store_sqlfail(err, db, sql);
    int n = st ? sqlite3_column_count(st) : 0;
    const char *names[32], *values[32];
    if (!ret && n > 32)
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE, "table %s has too many columns", table);
    for (int i = 0; !ret && i < n; i++)
        names[i] = sqlite3_column_name(st, i);
    while (!ret) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            ret = store_sqlfail(err, db, sql);
            break;
        }
        for (int i = 0; i < n; i++)
            values[i] = (const char *)sqlite3_column_text(st, i);
        ret = cb(ctx, n, names, values);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ret;
}
