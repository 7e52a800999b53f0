/*
 * sqlite_conn.c - what every file of the SQLite store stands on: SQLite's
 * failures as error values, one statement run to its end (or to one
 * integer), and a connection opened
 * the way the store needs it (busy timeout, extended codes,
 * synchronous=FULL).
 */
#include <stdarg.h>
#include <stdio.h>

#include "store/sqlite_internal.h"

int store_sqlfail(tse_error *err, sqlite3 *db, const char *what)
{
    return error_set(err, TSE_ERR_STORAGE_FAILURE, "%s: %s (SQLite error %d)", what,
                      sqlite3_errmsg(db), sqlite3_extended_errcode(db));
}

int store_exec(sqlite3 *db, const char *sql, const char *what, tse_error *err)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, what ? what : sql);
    return 0;
}

int store_connect(const char *path, int flags, sqlite3 **out, tse_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int ret = db ? store_sqlfail(err, db, path)
                     : error_set(err, TSE_ERR_STORAGE_FAILURE, "%s: out of memory", path);
        sqlite3_close(db);
        return ret;
    }
    int ret = 0;
    if (sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_extended_result_codes(db, 1) != SQLITE_OK)
        ret = store_sqlfail(err, db, path);
    if (!ret)
        ret = store_exec(db, "PRAGMA synchronous=FULL", "cannot set synchronous=FULL", err);
    if (ret) {
        sqlite3_close(db);
        return ret;
    }
    *out = db;
    return 0;
}

int store_query_int(sqlite3 *db, const char *sql, int64_t *out, tse_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, sql);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    int ret = rc == SQLITE_ROW ? 0 : store_sqlfail(err, db, sql);
    sqlite3_finalize(st);
    return ret;
}
