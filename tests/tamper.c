/*
 * tamper.c - test helper: alters a stored log in a closed TSE's SQLite file
 * as someone with file access could (the self-test and safe-state tests).
 * Apart from helpers.c because only the tests that link SQLite use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "helpers.h"

int th_tamper_log(const char *path, uint64_t counter)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    char drops[1024] = "";
    if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='trigger'", -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW && strlen(drops) < sizeof drops - 100) {
            strcat(drops, "DROP TRIGGER ");
            strcat(drops, (const char *)sqlite3_column_text(st, 0));
            strcat(drops, ";");
        }
    sqlite3_finalize(st);
    int rc = -1;
    uint8_t *data = NULL;
    int n = 0;
    if (sqlite3_exec(db, drops, NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT data FROM logs WHERE counter = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)counter);
        if (sqlite3_step(st) == SQLITE_ROW && (n = sqlite3_column_bytes(st, 0)) > 20 && (data = malloc((size_t)n)))
            memcpy(data, sqlite3_column_blob(st, 0), (size_t)n);
        sqlite3_finalize(st);
    }
    if (data && sqlite3_prepare_v2(db, "UPDATE logs SET data = ? WHERE counter = ?", -1, &st, NULL) == SQLITE_OK) {
        data[20] ^= 0x8b;   /* in the first fields: e.g. 'e' of an eventType becomes 0xEE */
        sqlite3_bind_blob(st, 1, data, n, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)counter);
        rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1 ? 0 : -1;
        sqlite3_finalize(st);
    }
    free(data);
    sqlite3_close(db);
    return rc;
}
