/*
 * journal.c - the outage journal in SQLite. Two tables: outage (start, end,
 * cause, the TSE) and operation (what was done without a TSE, in which
 * outage). An outage stays open until the TSE answers again.
 */
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/journal.h"
#include "client/remote_impl.h"
#include "engine/engine.h"

struct journal {
    pthread_mutex_t mu;
    sqlite3 *db;
    char *path, *tse_name;
    bool open_outage;       /* cached: an outage of this TSE has no end yet */
};

static const char *schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS outage(id INTEGER PRIMARY KEY, tse TEXT NOT NULL, start INTEGER NOT NULL,"
    " end INTEGER, cause TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS operation(id INTEGER PRIMARY KEY, outage_id INTEGER NOT NULL REFERENCES outage(id),"
    " time INTEGER NOT NULL, operation TEXT NOT NULL, client_id TEXT, transaction_number INTEGER NOT NULL,"
    " process_type TEXT, process_data BLOB, error TEXT NOT NULL, tx_id TEXT, tx_revision INTEGER);";

static tse_err db_fail(journal *j, const char *what)
{
    return engine_fail(TSE_ERR_STORAGE_FAILURE, "outage journal %s: %s: %s", j->path, what, sqlite3_errmsg(j->db));
}

static bool has_open_outage(journal *j)
{
    sqlite3_stmt *st = NULL;
    bool open = false;
    if (sqlite3_prepare_v2(j->db, "SELECT 1 FROM outage WHERE tse=? AND end IS NULL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, j->tse_name, -1, SQLITE_STATIC) == SQLITE_OK)
        open = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return open;
}

tse_err journal_open(const char *path, const char *tse_name, journal **out)
{
    journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path)) || !(j->tse_name = strdup(tse_name))) {
        if (j)
            free(j->path);
        free(j);
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    }
    pthread_mutex_init(&j->mu, NULL);
    tse_err rc = TSE_OK;
    if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(j->db, 5000) != SQLITE_OK || sqlite3_exec(j->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(j, "cannot open");
    if (rc) {
        journal_close(j);
        return rc;
    }
    j->open_outage = has_open_outage(j);
    *out = j;
    return TSE_OK;
}

void journal_close(journal *j)
{
    if (!j)
        return;
    sqlite3_close(j->db);
    pthread_mutex_destroy(&j->mu);
    free(j->path);
    free(j->tse_name);
    free(j);
}

static int bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

tse_err journal_record(journal *j, const journal_op *op, const char *cause)
{
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&j->mu);
    bool ok = sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_stmt *st = NULL;
    if (ok && !has_open_outage(j)) {
        ok = sqlite3_prepare_v2(j->db, "INSERT INTO outage(tse, start, cause) VALUES(?,?,?)", -1, &st, NULL) ==
                 SQLITE_OK &&
             sqlite3_bind_text(st, 1, j->tse_name, -1, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_bind_int64(st, 2, now) == SQLITE_OK &&
             sqlite3_bind_text(st, 3, cause ? cause : "unknown", -1, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        st = NULL;
    }
    if (ok)
        ok = sqlite3_prepare_v2(j->db,
                                "INSERT INTO operation(outage_id, time, operation, client_id, transaction_number,"
                                " process_type, process_data, error, tx_id, tx_revision)"
                                " SELECT max(id),?,?,?,?,?,?,?,?,? FROM outage"
                                " WHERE tse=? AND end IS NULL",
                                -1, &st, NULL) == SQLITE_OK &&
             sqlite3_bind_int64(st, 1, now) == SQLITE_OK &&
             sqlite3_bind_text(st, 2, op->operation, -1, SQLITE_STATIC) == SQLITE_OK &&
             bind_text_or_null(st, 3, op->client_id) == SQLITE_OK &&
             sqlite3_bind_int64(st, 4, (sqlite3_int64)op->tx_number) == SQLITE_OK &&
             bind_text_or_null(st, 5, op->process_type) == SQLITE_OK &&
             (op->pd ? sqlite3_bind_blob(st, 6, op->pd, (int)op->pd_len, SQLITE_STATIC) : sqlite3_bind_null(st, 6)) ==
                 SQLITE_OK &&
             sqlite3_bind_text(st, 7, cause ? cause : "unknown", -1, SQLITE_STATIC) == SQLITE_OK &&
             bind_text_or_null(st, 8, op->tx_id && *op->tx_id ? op->tx_id : NULL) == SQLITE_OK &&
             (op->tx_revision ? sqlite3_bind_int64(st, 9, op->tx_revision) : sqlite3_bind_null(st, 9)) == SQLITE_OK &&
             sqlite3_bind_text(st, 10, j->tse_name, -1, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    ok = ok && sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    tse_err rc = TSE_OK;
    if (!ok) {
        rc = db_fail(j, "cannot record the operation");
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    } else {
        j->open_outage = true;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void journal_last_unanswered(journal *j, void (*fn)(void *ctx, const journal_op *op), void *ctx)
{
    pthread_mutex_lock(&j->mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db,
                           "SELECT o.operation, o.client_id, o.transaction_number, o.process_type, o.process_data,"
                           " o.tx_id, o.tx_revision FROM operation o JOIN outage u ON u.id = o.outage_id"
                           " WHERE u.tse=? AND u.end IS NULL ORDER BY o.id DESC LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, j->tse_name, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 5) != SQLITE_NULL) {
        journal_op op = {
            .operation = (const char *)sqlite3_column_text(st, 0),
            .client_id = (const char *)sqlite3_column_text(st, 1),
            .tx_number = (uint64_t)sqlite3_column_int64(st, 2),
            .process_type = (const char *)sqlite3_column_text(st, 3),
            .pd = sqlite3_column_blob(st, 4),
            .pd_len = (size_t)sqlite3_column_bytes(st, 4),
            .tx_id = (const char *)sqlite3_column_text(st, 5),
            .tx_revision = (uint32_t)sqlite3_column_int64(st, 6),
        };
        fn(ctx, &op);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&j->mu);
}

tse_err journal_reachable(journal *j)
{
    tse_err rc = TSE_OK;
    pthread_mutex_lock(&j->mu);
    if (j->open_outage) {
        sqlite3_stmt *st = NULL;
        bool ok = sqlite3_prepare_v2(j->db, "UPDATE outage SET end=? WHERE tse=? AND end IS NULL", -1, &st, NULL) ==
                      SQLITE_OK &&
                  sqlite3_bind_int64(st, 1, (int64_t)time(NULL)) == SQLITE_OK &&
                  sqlite3_bind_text(st, 2, j->tse_name, -1, SQLITE_STATIC) == SQLITE_OK &&
                  sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        if (ok)
            j->open_outage = false;
        else
            rc = db_fail(j, "cannot end the outage");
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static json_t *time_json(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    char buf[TIME_ISO_LEN];
    time_iso(sqlite3_column_int64(st, col), TIME_ISO_SECONDS, buf, sizeof buf);
    return json_string(buf);
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, col));
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? json_string((const char *)s) : json_null();
}

/* Operations and clients of one outage. */
static bool fill_outage(journal *j, sqlite3_int64 id, json_t *ops, json_t *clients)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(j->db,
                                 "SELECT time, operation, client_id, transaction_number, process_type, process_data,"
                                 " error, tx_id, tx_revision FROM operation WHERE outage_id=? ORDER BY id",
                                 -1, &st, NULL) == SQLITE_OK &&
              sqlite3_bind_int64(st, 1, id) == SQLITE_OK;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *pd = sqlite3_column_blob(st, 5);
        char *b64 = base64_encode_alloc(pd, (size_t)sqlite3_column_bytes(st, 5));
        json_t *client = text_or_null(st, 2);
        json_t *op = json_pack("{s:o, s:I, s:o, s:o, s:I, s:o, s:s?, s:o, s:o, s:o}", "time", time_json(st, 0),
                               "time_unix", (json_int_t)sqlite3_column_int64(st, 0), "operation",
                               text_or_null(st, 1), "client_id", json_incref(client), "transaction_number",
                               (json_int_t)sqlite3_column_int64(st, 3), "process_type", text_or_null(st, 4),
                               "process_data", b64, "error", text_or_null(st, 6), "tx_id", text_or_null(st, 7),
                               "tx_revision", int_or_null(st, 8));
        free(b64);
        ok = op && json_array_append_new(ops, op) == 0;
        bool seen = json_is_null(client);
        for (size_t i = 0; !seen && i < json_array_size(clients); i++)
            seen = json_equal(json_array_get(clients, i), client);
        if (ok && !seen)
            ok = json_array_append(clients, client) == 0;
        json_decref(client);
    }
    sqlite3_finalize(st);
    return ok;
}

tse_err journal_report(journal *j, char **json)
{
    json_t *outages = json_array();
    json_t *doc = outages ? json_pack("{s:s, s:o}", "journal", j->path, "outages", outages) : NULL;
    if (!doc)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    pthread_mutex_lock(&j->mu);
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
              sqlite3_prepare_v2(j->db, "SELECT id, tse, start, end, cause FROM outage ORDER BY id", -1, &st, NULL) ==
                  SQLITE_OK;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        json_t *ops = json_array(), *clients = json_array();
        json_t *o = ops && clients ? json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o}", "start", time_json(st, 2),
                                               "end", time_json(st, 3), "start_unix",
                                               (json_int_t)sqlite3_column_int64(st, 2), "end_unix",
                                               int_or_null(st, 3), "cause", text_or_null(st, 4), "tss",
                                               text_or_null(st, 1), "clients", json_incref(clients), "operations",
                                               json_incref(ops))
                                   : NULL;
        ok = o && fill_outage(j, sqlite3_column_int64(st, 0), ops, clients) && json_array_append_new(outages, o) == 0;
        json_decref(ops);
        json_decref(clients);
    }
    sqlite3_finalize(st);
    sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
    tse_err rc = ok ? TSE_OK : db_fail(j, "cannot read");
    pthread_mutex_unlock(&j->mu);
    if (!rc && !(*json = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    json_decref(doc);
    return rc;
}
