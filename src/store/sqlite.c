/*
 * sqlite.c - the embedded store: one SQLite file in WAL mode with
 * synchronous=FULL. This file opens, creates and closes a store: the
 * single-owner lock, the schema and its version. Group commit lives in
 * sqlite_commit.c, the read functions in sqlite_read.c.
 *
 * One owner at a time: a sidecar file "<path>-lock" is flock'd (exclusive,
 * non-blocking) for the life of the handle. flock and SQLite's own POSIX
 * locks do not interfere, and locking a sidecar (rather than the database
 * file) keeps us from ever closing a descriptor of the database file, which
 * would drop SQLite's POSIX locks in this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opentse/opentse.h"
#include "store/sqlite_internal.h"

/*
 * Schema version 1.
 *
 * logs is append-only: triggers abort every UPDATE and DELETE, and every
 * INSERT of an existing counter (INSERT OR REPLACE deletes the old row
 * without firing delete triggers). The later
 * deleteStoredData feature will need a controlled way around the delete
 * trigger (for example a WHEN clause that lets through only counters at or
 * below an "exported up to" mark kept in meta, set in the same transaction);
 * until then no log can be deleted through SQL at all.
 */
static const char schema_sql[] =
    "CREATE TABLE logs("
    "  counter INTEGER PRIMARY KEY,"
    "  kind INTEGER NOT NULL,"
    "  log_time INTEGER NOT NULL,"
    "  tx_number INTEGER NOT NULL DEFAULT 0,"
    "  client_id TEXT,"
    "  operation TEXT,"
    "  data BLOB NOT NULL);"
    "CREATE INDEX logs_by_tx ON logs(tx_number);"
    "CREATE INDEX logs_by_time ON logs(log_time);"
    "CREATE TRIGGER logs_no_update BEFORE UPDATE ON logs"
    "  BEGIN SELECT RAISE(ABORT, 'logs are append-only: update refused'); END;"
    "CREATE TRIGGER logs_no_delete BEFORE DELETE ON logs"
    "  BEGIN SELECT RAISE(ABORT, 'logs are append-only: delete refused'); END;"
    "CREATE TRIGGER logs_no_replace BEFORE INSERT ON logs"
    "  WHEN EXISTS (SELECT 1 FROM logs WHERE counter = NEW.counter)"
    "  BEGIN SELECT RAISE(ABORT, 'logs are append-only: replace refused'); END;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE clients(client_id TEXT PRIMARY KEY, registered INTEGER);"
    "CREATE TABLE open_tx("
    "  number INTEGER PRIMARY KEY,"
    "  client_id TEXT,"
    "  start_counter INTEGER,"
    "  start_time INTEGER,"
    "  last_update INTEGER,"
    "  pending BLOB);";

/* Runs a query that yields one integer. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out, tse_error *err)
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

/* Switches to WAL and checks that SQLite agreed. */
static int set_wal(sqlite3 *db, tse_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, "cannot set WAL mode");
    int rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int ret = 0;
    if (rc != SQLITE_ROW)
        ret = store_sqlfail(err, db, "cannot set WAL mode");
    else if (!mode || strcmp(mode, "wal") != 0)
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE, "store refuses WAL mode (journal mode %s)",
                         mode ? mode : "unknown");
    sqlite3_finalize(st);
    return ret;
}

/* Takes the single-owner lock on "<path>-lock". */
static int lock_store(const char *path, int *fd_out, tse_error *err)
{
    char *lock_path = NULL;
    if (asprintf(&lock_path, "%s-lock", path) < 0)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int ret = 0;
    if (fd < 0)
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot open lock file %s: %s", lock_path,
                         strerror(errno));
    else if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        ret = errno == EWOULDBLOCK
                  ? error_set(err, TSE_ERR_STORE_IN_USE, "store %s is in use by another owner", path)
                  : error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot lock %s: %s", lock_path,
                               strerror(errno));
    if (ret && fd >= 0)
        close(fd);
    free(lock_path);
    if (!ret)
        *fd_out = fd;
    return ret;
}

/* ALREADY_EXISTS / NOT_FOUND depending on flags and whether the file exists. */
static int check_exists(const char *path, int flags, tse_error *err)
{
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (!exists && errno != ENOENT)
        return error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot stat %s: %s", path, strerror(errno));
    if ((flags & STORE_CREATE) && exists)
        return error_set(err, TSE_ERR_ALREADY_EXISTS, "store %s already exists", path);
    if (!(flags & STORE_CREATE) && !exists)
        return error_set(err, TSE_ERR_NOT_FOUND, "no store at %s", path);
    return 0;
}

/* fsyncs the directory holding path, so a new file's name is durable. */
static int sync_parent_dir(const char *path, tse_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ret = 0;
    if (fd < 0 || fsync(fd) != 0)
        ret = error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot sync directory %s: %s", dir,
                         strerror(errno));
    if (fd >= 0)
        close(fd);
    free(copy);
    return ret;
}

/* Writes the schema, its version and our application id in one transaction. */
static int create_schema(store *s, tse_error *err)
{
    char sql[sizeof schema_sql + 128];
    snprintf(sql, sizeof sql, "BEGIN IMMEDIATE;%sPRAGMA application_id=%d;PRAGMA user_version=%d;COMMIT;",
             schema_sql, STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
    int ret = store_exec(s->wdb, sql, "cannot create the store schema", err);
    if (ret && !sqlite3_get_autocommit(s->wdb))
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return ret ? ret : sync_parent_dir(s->path, err);
}

/* Refuses files that are not a store of a schema version we know. */
static int check_schema(store *s, tse_error *err)
{
    int64_t app = 0, version = 0;
    int ret = query_int(s->wdb, "PRAGMA application_id", &app, err);
    if (!ret)
        ret = query_int(s->wdb, "PRAGMA user_version", &version, err);
    if (ret)
        return ret;
    if (app != STORE_APPLICATION_ID)
        return error_set(err, TSE_ERR_STORAGE_FAILURE, "%s is not an OpenTSE store", s->path);
    if (version != STORE_SCHEMA_VERSION)
        return error_set(err, TSE_ERR_STORAGE_FAILURE,
                          "store %s has schema version %lld, this build knows %d", s->path,
                          (long long)version, STORE_SCHEMA_VERSION);
    return 0;
}

static int load_last_counter(store *s, tse_error *err)
{
    int64_t last = 0;
    /* deleteStoredData keeps its own log, but never go below a deleted counter */
    int ret = query_int(s->wdb,
                        "SELECT MAX(COALESCE((SELECT MAX(counter) FROM logs), 0),"
                        " COALESCE((SELECT CAST(value AS INTEGER) FROM meta"
                        " WHERE key = '" STORE_META_DELETED_THROUGH "'), 0))",
                        &last, err);
    if (!ret)
        s->last_counter = (uint64_t)last;
    return ret;
}

static store *store_alloc(const char *path)
{
    store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->lock_fd = -1;
    s->path = strdup(path);
    if (!s->path || pthread_mutex_init(&s->qmu, NULL) != 0) {
        free(s->path);
        free(s);
        return NULL;
    }
    if (pthread_cond_init(&s->qcv, NULL) != 0 || pthread_mutex_init(&s->pmu, NULL) != 0) {
        pthread_mutex_destroy(&s->qmu);
        free(s->path);
        free(s);
        return NULL;
    }
    return s;
}

/* Removes the database and SQLite's side files (a create that failed). */
static void remove_files(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char *p = NULL;
        if (asprintf(&p, "%s%s", path, suffix[i]) >= 0)
            unlink(p);
        free(p);
    }
}

/* Frees a store whose writer is idle and whose queue is empty. */
static void store_free(store *s)
{
    store_writer_finalize(s);
    if (s->wdb)
        sqlite3_close(s->wdb);
    store_pool_close(s);
    if (s->remove_on_free)
        remove_files(s->path);   /* still under our lock */
    if (s->lock_fd >= 0)
        close(s->lock_fd);   /* drops the flock */
    pthread_cond_destroy(&s->qcv);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->pmu);
    free(s->path);
    free(s);
}

/* Everything after the lock: connection, schema, statements, counter. */
static int open_locked(store *s, int flags, tse_error *err)
{
    int ret = check_exists(s->path, flags, err);
    if (ret)
        return ret;
    int oflags = SQLITE_OPEN_READWRITE | ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
    ret = store_connect(s->path, oflags, &s->wdb, err);
    s->remove_on_free = (flags & STORE_CREATE) != 0;   /* until all of it worked */
    if (!ret)
        ret = set_wal(s->wdb, err);
    if (!ret && (flags & STORE_CREATE))
        ret = create_schema(s, err);
    if (!ret)
        ret = check_schema(s, err);
    if (!ret)
        ret = store_writer_prepare(s, err);
    if (!ret)
        ret = load_last_counter(s, err);
    if (!ret)
        s->remove_on_free = false;
    return ret;
}

int store_open(const char *path, int flags, store **out, tse_error *err)
{
    if (!path || !*path || !out || (flags & ~STORE_CREATE))
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_open: bad argument");
    *out = NULL;
    int ret = check_exists(path, flags, err);   /* before creating a lock file */
    if (ret)
        return ret;
    store *s = store_alloc(path);
    if (!s)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    ret = lock_store(path, &s->lock_fd, err);
    if (!ret)
        ret = open_locked(s, flags, err);
    if (ret) {
        store_free(s);
        return ret;
    }
    *out = s;
    return 0;
}

void store_close(store *s)
{
    if (!s)
        return;
    store_drain(s);
    store_free(s);
}
