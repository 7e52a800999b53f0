/*
 * db.c - the server's own state in DATA_DIR/server.db (SQLite, WAL):
 * organizations, API keys (secrets stored as SHA-256 of 256-bit random
 * values), TSS and client records, and each transaction's latest revision
 * with the response it produced (for idempotent replays). The signed logs
 * themselves live only in the TSE files.
 *
 * Every write is durable before it returns, with group commit: statements
 * commit to the WAL under the connection's mutex without a sync, then the
 * writer waits until one fsync of the WAL file has covered its commit; one
 * fsync serves every commit made before it started.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "server.h"

static const char *schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA busy_timeout=10000;"
    "CREATE TABLE IF NOT EXISTS orgs(id INTEGER PRIMARY KEY, name TEXT NOT NULL, time_creation INTEGER);"
    "CREATE TABLE IF NOT EXISTS api_keys(id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL,"
    " key TEXT UNIQUE NOT NULL, secret_hash TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
    " time_creation INTEGER);"
    "CREATE TABLE IF NOT EXISTS tss(id TEXT PRIMARY KEY, org_id INTEGER NOT NULL, description TEXT,"
    " deployed INTEGER NOT NULL DEFAULT 0, time_creation INTEGER);"
    "CREATE TABLE IF NOT EXISTS clients(tss_id TEXT NOT NULL, id TEXT NOT NULL, serial_number TEXT NOT NULL,"
    " state TEXT NOT NULL, time_creation INTEGER, PRIMARY KEY(tss_id, id));"
    "CREATE TABLE IF NOT EXISTS txs(tss_id TEXT NOT NULL, id TEXT NOT NULL, number INTEGER NOT NULL,"
    " client_id TEXT NOT NULL, state TEXT NOT NULL, revision INTEGER NOT NULL, result TEXT NOT NULL,"
    " PRIMARY KEY(tss_id, id));"
    "CREATE INDEX IF NOT EXISTS txs_state ON txs(tss_id, state);";

int db_open(srv_db *d, const char *path)
{
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        fprintf(stderr, "opentsed: cannot open %s: %s\n", path, d->db ? sqlite3_errmsg(d->db) : "no memory");
        return -1;
    }
    char *err = NULL;
    if (sqlite3_exec(d->db, schema, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "opentsed: %s: %s\n", path, err ? err : "schema failed");
        sqlite3_free(err);
        return -1;
    }
    char wal[1100];
    snprintf(wal, sizeof wal, "%s-wal", path);
    if ((d->wal_fd = open(wal, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "opentsed: %s: no write-ahead log\n", path);
        return -1;
    }
    if (pthread_mutex_init(&d->mu, NULL) != 0 || pthread_mutex_init(&d->sync_mu, NULL) != 0)
        return -1;
    return 0;
}

void db_close(srv_db *d)
{
    if (d->db)
        sqlite3_close(d->db);
    d->db = NULL;
    if (d->wal_fd > 0)
        close(d->wal_fd);
    d->wal_fd = -1;
}

/* Waits until commit number `seq` is on disk; 0 ok. */
static int db_sync(srv_db *d, uint64_t seq)
{
    int rc = 0;
    pthread_mutex_lock(&d->sync_mu);
    if (d->synced < seq) {
        pthread_mutex_lock(&d->mu);
        uint64_t upto = d->written;
        pthread_mutex_unlock(&d->mu);
        rc = fdatasync(d->wal_fd);
        if (rc == 0)
            d->synced = upto;
    }
    pthread_mutex_unlock(&d->sync_mu);
    return rc;
}

/* Prepares sql and binds args as text; the caller holds d->mu. */
static sqlite3_stmt *prepare(srv_db *d, const char *sql, int nargs, const char *const *args)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db, sql, -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && i < nargs; i++)
        rc = args[i] ? sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int64_t db_insert(srv_db *d, const char *sql, int nargs, const char *const *args)
{
    pthread_mutex_lock(&d->mu);
    sqlite3_stmt *st = prepare(d, sql, nargs, args);
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    int64_t id = rc == SQLITE_DONE ? sqlite3_last_insert_rowid(d->db) : -1;
    uint64_t seq = ++d->written;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&d->mu);
    return id >= 0 && db_sync(d, seq) == 0 ? id : -1;
}

int db_exec(srv_db *d, const char *sql, int nargs, const char *const *args)
{
    return db_insert(d, sql, nargs, args) >= 0 ? 0 : -1;
}

int db_text(srv_db *d, const char *sql, int nargs, const char *const *args, char *out, size_t cap)
{
    pthread_mutex_lock(&d->mu);
    sqlite3_stmt *st = prepare(d, sql, nargs, args);
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (found == 1) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", v ? (const char *)v : "");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&d->mu);
    return found;
}
