/*
 * tamper.c - test helper: alters a stored log in a closed TSE's SQLite file
 * as someone with file access could (the self-test and safe-state tests).
 * Apart from helpers.c because only the tests that link SQLite use it.
 */
#include <stdio.h>
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
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE logs SET data = substr(data,1,20) || x'EE' || substr(data,22) WHERE counter = %llu",
             (unsigned long long)counter);
    int rc = sqlite3_exec(db, drops, NULL, NULL, NULL) == SQLITE_OK &&
                     sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK && sqlite3_changes(db) == 1
                 ? 0
                 : -1;
    sqlite3_close(db);
    return rc;
}
