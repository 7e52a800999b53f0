/*
 * sqlite.c - the embedded store: one SQLite file in WAL mode with
 * synchronous=FULL, every TSE of a deployment in it. This file opens,
 * creates and closes a database and its TSEs: the single-owner lock, the
 * schema's version (its SQL and the migrations in sqlite_migrate.c), and
 * hands a postgresql:// database to the PostgreSQL store (pg.c). Group
 * commit lives in sqlite_commit.c, the read functions in sqlite_read.c.
 *
 * One owner at a time: a sidecar file "<path>-lock" is flock'd (exclusive,
 * non-blocking) for the life of the handle. flock and SQLite's own POSIX
 * locks do not interfere, and locking a sidecar (rather than the database
 * file) keeps us from ever closing a descriptor of the database file, which
 * would drop SQLite's POSIX locks in this process.
 */
#include <assert.h>
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
static int create_schema(store_db *d, tse_error *err)
{
    char *sql = NULL;
    if (asprintf(&sql, "BEGIN IMMEDIATE;%sPRAGMA application_id=%d;PRAGMA user_version=%d;COMMIT;",
                 store_schema_sql, STORE_APPLICATION_ID, STORE_SCHEMA_VERSION) < 0)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    int ret = store_exec(d->wdb, sql, "cannot create the store schema", err);
    free(sql);
    if (ret && !sqlite3_get_autocommit(d->wdb))
        sqlite3_exec(d->wdb, "ROLLBACK", NULL, NULL, NULL);
    return ret ? ret : sync_parent_dir(d->path, err);
}

/* Refuses files that are not a store of a schema version we know; a file
 * of schema 1 is migrated (sqlite_migrate.c). */
static int check_schema(store_db *d, tse_error *err)
{
    int64_t app = 0, version = 0;
    int ret = store_query_int(d->wdb, "PRAGMA application_id", &app, err);
    if (!ret)
        ret = store_query_int(d->wdb, "PRAGMA user_version", &version, err);
    if (ret)
        return ret;
    if (app != STORE_APPLICATION_ID)
        return error_set(err, TSE_ERR_STORAGE_FAILURE, "%s is not an OpenTSE store", d->path);
    if (version == 1)
        return store_migrate_v1(d->wdb, d->path, err);
    if (version != STORE_SCHEMA_VERSION)
        return error_set(err, TSE_ERR_STORAGE_FAILURE,
                          "store %s has schema version %lld, this build knows %d", d->path,
                          (long long)version, STORE_SCHEMA_VERSION);
    return 0;
}

int store_load_last_counter(sqlite3 *db, int64_t id, uint64_t *out, tse_error *err)
{
    /* deleteStoredData keeps its own log, but never go below a deleted counter */
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT MAX(COALESCE((SELECT MAX(counter) FROM logs WHERE tse = %lld), 0),"
             " COALESCE((SELECT CAST(value AS INTEGER) FROM meta"
             " WHERE tse = %lld AND key = '" STORE_META_DELETED_THROUGH "'), 0))",
             (long long)id, (long long)id);
    int64_t last = 0;
    int ret = store_query_int(db, sql, &last, err);
    if (!ret)
        *out = (uint64_t)last;
    return ret;
}

static store_db *db_alloc(const char *path)
{
    store_db *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->lock_fd = -1;
    d->path = strdup(path);
    if (!d->path || pthread_mutex_init(&d->qmu, NULL) != 0) {
        free(d->path);
        free(d);
        return NULL;
    }
    if (pthread_cond_init(&d->qcv, NULL) != 0 || pthread_mutex_init(&d->pmu, NULL) != 0) {
        pthread_mutex_destroy(&d->qmu);
        free(d->path);
        free(d);
        return NULL;
    }
    return d;
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

/* Frees a database whose writer is idle and whose queue is empty. */
static void db_free(store_db *d)
{
    store_writer_finalize(d);
    if (d->wdb)
        sqlite3_close(d->wdb);
    store_pool_close(d);
    if (d->remove_on_free)
        remove_files(d->path);   /* still under our lock */
    if (d->lock_fd >= 0)
        close(d->lock_fd);   /* drops the flock */
    pthread_cond_destroy(&d->qcv);
    pthread_mutex_destroy(&d->qmu);
    pthread_mutex_destroy(&d->pmu);
    free(d->path);
    free(d);
}

/* Everything after the lock: connection, schema, statements. */
static int open_locked(store_db *d, int flags, bool create, tse_error *err)
{
    int oflags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    int ret = store_connect(d->path, oflags, &d->wdb, err);
    d->remove_on_free = create;   /* until all of it worked */
    (void)flags;
    if (!ret)
        ret = set_wal(d->wdb, err);
    /* A flush puts every batch in its own SAVEPOINT; the pages the batches
     * before it changed are kept for its rollback in the sub-journal. In a
     * file that is a write(2) per page and batch; in memory it is a copy. */
    if (!ret)
        ret = store_exec(d->wdb, "PRAGMA temp_store=MEMORY", "cannot set temp_store=MEMORY", err);
    /* A checkpoint copies each page once however often the flushes since
     * wrote it; with many TSSs every flush writes again the last pages of
     * each one's logs and records. 8192 pages: a WAL of 32 MiB at most. */
    if (!ret)
        ret = store_exec(d->wdb, "PRAGMA wal_autocheckpoint=8192", "cannot set wal_autocheckpoint", err);
    if (!ret && create)
        ret = create_schema(d, err);
    if (!ret)
        ret = check_schema(d, err);
    if (!ret)
        ret = store_writer_prepare(d, err);
    if (!ret)
        d->remove_on_free = false;
    return ret;
}

const store_pg_ops *store_pg;

static bool is_pg_url(const char *url)
{
    return !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
}

/* A database on PostgreSQL: no file, no lock (leases per TSE, pg.c). */
static int open_pg(const char *url, const char *node, store_db **out, tse_error *err)
{
    if (!store_pg)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "this program has no PostgreSQL store (use a sqlite: store)");
    store_db *d = db_alloc(url);
    if (!d)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    int ret = store_pg->open(d, url, node, err);
    if (ret) {
        db_free(d);
        return ret;
    }
    *out = d;
    return 0;
}

int store_db_open(const char *path, int flags, store_db **out, tse_error *err)
{
    return store_db_open_as(path, NULL, flags, out, err);
}

int store_db_open_as(const char *path, const char *node, int flags, store_db **out, tse_error *err)
{
    if (!path || !*path || !out || (flags & ~STORE_CREATE) || (node && (!*node || strlen(node) > 16)))
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_db_open: bad argument");
    *out = NULL;
    if (is_pg_url(path))
        return open_pg(path, node, out, err);
    if (!strncmp(path, "sqlite:", 7))
        path += 7;
    if (!*path)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "sqlite: needs a path");
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (!exists && errno != ENOENT)
        return error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot stat %s: %s", path, strerror(errno));
    if (!exists && !(flags & STORE_CREATE))
        return error_set(err, TSE_ERR_NOT_FOUND, "no store at %s", path);
    store_db *d = db_alloc(path);
    if (!d)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    int ret = lock_store(path, &d->lock_fd, err);
    if (!ret)
        ret = open_locked(d, flags, !exists, err);
    if (ret) {
        db_free(d);
        return ret;
    }
    *out = d;
    return 0;
}

void store_db_close(store_db *d)
{
    if (!d)
        return;
    store_drain(d);
    assert(!d->views);   /* every TSE handle is closed first */
    if (d->pg)
        store_pg->close(d);
    db_free(d);
}

store_db *store_db_of(store *s)
{
    return s ? s->d : NULL;
}

/* The id of TSE `name` and whether it has state; id 0 if there is none. */
static int tse_lookup(sqlite3 *db, const char *name, int64_t *id, bool *has_state, tse_error *err)
{
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT id, EXISTS(SELECT 1 FROM meta WHERE tse = tses.id) FROM tses WHERE name = ?1";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_sqlfail(err, db, sql);
    int ret = 0;
    int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK ? sqlite3_step(st) : SQLITE_ERROR;
    *id = 0;
    *has_state = false;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *has_state = sqlite3_column_int(st, 1) != 0;
    } else if (rc != SQLITE_DONE)
        ret = store_sqlfail(err, db, "cannot look up a TSE");
    sqlite3_finalize(st);
    return ret;
}

/* A new row in tses for `name` (durable before the TSE's first batch). */
static int tse_insert(store_db *d, const char *name, int64_t *id, tse_error *err)
{
    store_writer_take(d);
    sqlite3_stmt *st = NULL;
    const char *sql = "INSERT INTO tses(name) VALUES (?1)";
    int ret = 0;
    if (sqlite3_prepare_v2(d->wdb, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        ret = store_sqlfail(err, d->wdb, "cannot add a TSE");
    else
        *id = sqlite3_last_insert_rowid(d->wdb);
    sqlite3_finalize(st);
    store_writer_give(d);
    return ret;
}

int store_tse_open(store_db *d, const char *name, int flags, store **out, tse_error *err)
{
    if (!d || !name || strlen(name) > 64 || !out || (flags & ~STORE_CREATE))
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_tse_open: bad argument");
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    }
    s->d = d;
    pthread_mutex_lock(&d->qmu);
    bool busy = false;
    for (store *v = d->views; v; v = v->next)
        busy |= strcmp(v->name, name) == 0;
    if (!busy) {   /* claimed now, so that a second open waits for nothing */
        s->next = d->views;
        d->views = s;
    }
    pthread_mutex_unlock(&d->qmu);
    int ret = busy ? error_set(err, TSE_ERR_STORE_IN_USE, "TSE \"%s\" of %s is in use", name, d->path) : 0;
    bool has_state = false;
    if (!ret && d->pg) {
        ret = store_pg->open_tse(d, s, (flags & STORE_CREATE) != 0, err);
        if (ret) {
            store_close(s);
            return ret;
        }
        *out = s;
        return 0;
    }
    if (!ret) {
        store_writer_take(d);   /* no flush of this database runs meanwhile */
        ret = tse_lookup(d->wdb, name, &s->id, &has_state, err);
        if (!ret && s->id)
            ret = store_load_last_counter(d->wdb, s->id, &s->last_counter, err);
        store_writer_give(d);
    }
    if (!ret && (flags & STORE_CREATE) && has_state)
        ret = error_set(err, TSE_ERR_ALREADY_EXISTS, "TSE \"%s\" already exists in %s", name, d->path);
    if (!ret && !(flags & STORE_CREATE) && !s->id)
        ret = error_set(err, TSE_ERR_NOT_FOUND, "no TSE \"%s\" in %s", name, d->path);
    if (!ret && !s->id)
        ret = tse_insert(d, name, &s->id, err);
    if (ret) {
        if (!busy)
            store_close(s);
        else {
            free(s->name);
            free(s);
        }
        return ret;
    }
    *out = s;
    return 0;
}

int store_open(const char *path, int flags, store **out, tse_error *err)
{
    return store_open_tse(path, "", flags, out, err);
}

int store_open_tse(const char *path, const char *name, int flags, store **out, tse_error *err)
{
    if (!path || !*path || !name || !out || (flags & ~STORE_CREATE))
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_open: bad argument");
    *out = NULL;
    int ret = check_exists(path, flags, err);   /* before creating a lock file */
    if (ret)
        return ret;
    store_db *d = NULL;
    ret = store_db_open(path, flags, &d, err);
    if (ret)
        return ret;
    ret = store_tse_open(d, name, flags, out, err);
    if (ret) {
        if (flags & STORE_CREATE)
            d->remove_on_free = true;
        store_db_close(d);
        return ret;
    }
    (*out)->owns_db = true;
    return 0;
}

void store_close(store *s)
{
    if (!s)
        return;
    store_db *d = s->d;
    store_drain(d);   /* no ticket of this TSE stays queued */
    pthread_mutex_lock(&d->qmu);
    for (store **p = &d->views; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&d->qmu);
    if (d->pg && s->id)
        store_pg->close_tse(d, s);
    bool owns = s->owns_db;
    free(s->name);
    free(s);
    if (owns)
        store_db_close(d);
}

int store_tse_each(store_db *d, store_name_cb cb, void *ctx, tse_error *err)
{
    if (!d || !cb)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_tse_each: bad argument");
    if (d->pg)
        return store_pg->tse_each(d, cb, ctx, err);
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT name FROM tses WHERE EXISTS(SELECT 1 FROM meta WHERE tse = tses.id) ORDER BY id";
    store_writer_take(d);
    int ret = 0;
    if (sqlite3_prepare_v2(d->wdb, sql, -1, &st, NULL) != SQLITE_OK)
        ret = store_sqlfail(err, d->wdb, sql);
    /* names first, callbacks afterwards: a callback may open the TSE */
    char **names = NULL;
    size_t n = 0;
    while (!ret) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        char **more = rc == SQLITE_ROW ? realloc(names, (n + 1) * sizeof *names) : NULL;
        if (rc != SQLITE_ROW)
            ret = store_sqlfail(err, d->wdb, sql);
        else if (!more || !(more[n] = strdup((const char *)sqlite3_column_text(st, 0)))) {
            names = more ? more : names;
            ret = error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
        } else {
            names = more;
            n++;
        }
    }
    sqlite3_finalize(st);
    store_writer_give(d);
    for (size_t i = 0; i < n; i++) {
        if (!ret)
            ret = cb(ctx, names[i]);
        free(names[i]);
    }
    free(names);
    return ret;
}

int store_tse_owner(store_db *d, const char *name, char out[17], tse_error *err)
{
    if (!d || !name || !out)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_tse_owner: bad argument");
    if (d->pg)
        return store_pg->tse_owner(d, name, out, err);
    return error_set(err, TSE_ERR_NOT_FOUND, "a sqlite: store has no other nodes");
}

bool store_lease_lost(store *s)
{
    if (!s || !s->d->pg)
        return false;
    pthread_mutex_lock(&s->d->qmu);
    bool lost = s->lease_lost;
    pthread_mutex_unlock(&s->d->qmu);
    return lost;
}

int store_tse_reacquire(store *s, tse_error *err)
{
    if (!s || !s->d->pg)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "only a PostgreSQL store has leases");
    return store_pg->tse_reacquire(s->d, s, err);
}
