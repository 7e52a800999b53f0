/*
 * sqlite_internal.h - what the files of the SQLite store share: the
 * database and TSE handles, the commit ticket, the writer's prepared
 * statements and the error helpers. Not part of the store interface (see
 * store.h).
 *
 * Threads: the writer connection `wdb` and every TSE's `last_counter` belong
 * to whichever thread holds the writer role (`writer_busy`, taken under
 * `qmu`); readers take a private connection from the pool (`pool`, under
 * `pmu`).
 */
#ifndef OPENTSE_STORE_SQLITE_INTERNAL_H
#define OPENTSE_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

#define STORE_SCHEMA_VERSION 2          /* 1: one TSE per file, without tse columns and records */
#define STORE_APPLICATION_ID 0x4f545345   /* "OTSE" in the database header */
#define STORE_BUSY_TIMEOUT_MS 10000       /* no SQLite wait lasts longer */

/* A queued batch: a deep copy of the caller's batch in `arena`. */
struct store_ticket {
    struct store_ticket *next;
    store *view;                  /* the TSE, NULL for record-only batches */
    store_batch batch;
    store_change *extra;          /* store_complete()'s changes */
    void *extra_mem;              /* the one allocation they live in */
    size_t n_extra;
    bool ready;                   /* complete: may be flushed */
    int preset;                   /* store_complete() with a failure: its code */
    bool done;
    int result;
    tse_error err;
    alignas(max_align_t) uint8_t arena[];
};

/* The writer's prepared statements. */
enum store_wstmt {
    W_BEGIN, W_COMMIT, W_ROLLBACK, W_SAVEPOINT, W_RELEASE, W_ROLLBACK_TO,
    W_LOG, W_PUT_META, W_DEL_META, W_PUT_CLIENT, W_DEL_CLIENT, W_PUT_TX, W_DEL_TX,
    W_PUT_RECORD, W_INSERT_RECORD, W_DEL_RECORD, W_COUNT
};

/* A read connection with the statements it has prepared (by their SQL
 * text), waiting in the pool between reads. */
#define STORE_RCONN_STMTS 24
typedef struct store_rconn {
    sqlite3 *db;
    struct {
        char *sql;
        sqlite3_stmt *st;
    } stmt[STORE_RCONN_STMTS];
    int n_stmt;
    struct store_rconn *next;
} store_rconn;

/* One TSE of the database. */
struct store {
    store_db *d;
    int64_t id;                   /* tses.id */
    char *name;
    bool owns_db;                 /* store_open(): closing the TSE closes the database */
    uint64_t last_counter;        /* last committed log counter */
    uint64_t flush_counter;       /* the counter as applied so far in the running flush */
    uint64_t flush_gen;           /* which flush flush_counter belongs to */
    struct store *next;           /* d->views */
    /* PostgreSQL: the lease this node holds on the TSE (pg.c) */
    int64_t epoch;                /* fencing token: commits check it */
    bool lease_lost;              /* another node holds the TSE now: nothing more is signed */
    bool stale;                   /* last_counter must be re-read (a commit of unknown outcome) */
};

struct store_db {
    char *path;
    int lock_fd;                  /* flock'd "<path>-lock", held while open */
    bool remove_on_free;          /* a failed create: remove the files it left */

    sqlite3 *wdb;                 /* writer connection */
    sqlite3_stmt *w[W_COUNT];
    uint64_t flush_gen;           /* flushes started */
    store *views;                 /* open TSE handles (under qmu) */

    pthread_mutex_t qmu;          /* guards the queue, writer_busy, stats, views */
    pthread_cond_t qcv;           /* signalled when a flush ends or a ticket gets ready */
    store_ticket *head, *tail;
    bool writer_busy;
    store_stats stats;

    pthread_mutex_t pmu;          /* guards pool */
    store_rconn *pool;

    struct pg_db *pg;             /* non-NULL: the PostgreSQL backend serves this database */
};

/* The PostgreSQL backend (pg.c, only in the programs that link it: it
 * registers itself in store_pg when loaded). Every function of the store
 * interface hands a database with d->pg to it; group commit stays in
 * sqlite_commit.c, which calls flush for the tickets of one flush. */
typedef struct store_pg_ops {
    int (*open)(store_db *d, const char *url, const char *node, tse_error *err);
    void (*close)(store_db *d);
    int (*open_tse)(store_db *d, store *s, bool create, tse_error *err);
    void (*close_tse)(store_db *d, store *s);
    int (*tse_reacquire)(store_db *d, store *s, tse_error *err);
    int (*tse_each)(store_db *d, store_name_cb cb, void *ctx, tse_error *err);
    int (*tse_owner)(store_db *d, const char *name, char out[17], tse_error *err);
    void (*flush)(store_db *d, store_ticket *list);
    int (*get_meta)(store *s, const char *key, uint8_t **value, size_t *len, tse_error *err);
    int (*last_log)(store *s, uint64_t *counter, uint8_t **msg, size_t *len, tse_error *err);
    int (*get_log)(store *s, uint64_t counter, uint8_t **msg, size_t *len, tse_error *err);
    int (*last_tx_number)(store *s, uint64_t *out, tse_error *err);
    int (*each_client)(store *s, store_client_cb cb, void *ctx, tse_error *err);
    int (*each_open_tx)(store *s, store_tx_cb cb, void *ctx, tse_error *err);
    int (*count_logs)(store *s, const store_log_filter *f, uint64_t limit, uint64_t *count, tse_error *err);
    int (*log_span)(store *s, const store_log_filter *f, uint64_t *lo, uint64_t *hi, tse_error *err);
    int (*each_log)(store *s, const store_log_filter *f, store_log_cb cb, void *ctx, tse_error *err);
    int (*client_known)(store *s, const char *client_id, bool *known, tse_error *err);
    int (*first_counter)(store *s, uint64_t *out, tse_error *err);
    int (*record_get)(store_db *d, const char *ns, const char *key, char **value, size_t *len, tse_error *err);
    int (*record_each)(store_db *d, const char *ns, const char *idx, uint64_t offset, uint64_t limit,
                       store_record_cb cb, void *ctx, tse_error *err);
    int (*record_count)(store_db *d, const char *ns, const char *idx, uint64_t *n, tse_error *err);
    int (*bulk_begin)(store *s, tse_error *err);
    int (*bulk_put)(store *s, const store_log *l, tse_error *err);
    int (*bulk_end)(store *s, bool commit, uint64_t *last, tse_error *err);
    int (*set_max_bytes)(store_db *d, int64_t bytes);
    int (*copy_from)(store_db *d, const char *path, store_copy_counts *out, tse_error *err);
    int (*usage)(store *s, store_usage_info *out, tse_error *err);   /* pg_usage.c */
} store_pg_ops;
extern const store_pg_ops *store_pg;

/* STORAGE_FAILURE with "<what>: <SQLite's message>" for db. */
int store_sqlfail(tse_error *err, sqlite3 *db, const char *what);
/* Runs `sql` (no parameters) on db; a failure names `what` (NULL: the SQL). */
int store_exec(sqlite3 *db, const char *sql, const char *what, tse_error *err);

/* Opens a connection to the store file with busy timeout and WAL settings. */
int store_connect(const char *path, int flags, sqlite3 **out, tse_error *err);
/* Runs a query on db that yields one integer. */
int store_query_int(sqlite3 *db, const char *sql, int64_t *out, tse_error *err);

/* sqlite_commit.c */
int store_writer_prepare(store_db *d, tse_error *err);
void store_writer_finalize(store_db *d);
/* Flushes whatever is still queued; returns once the writer is idle. */
void store_drain(store_db *d);

/* Drains the queue and takes the writer role outside a flush; give it back
 * with store_writer_give(). */
void store_writer_take(store_db *d);
void store_writer_give(store_db *d);

/* For a flush: the counter of v as applied so far in flush `gen`; every
 * batch fails with msg; after the commit, each TSE's counter moves on. */
uint64_t *store_flush_counter(store *v, uint64_t gen);
void store_fail_flush(store_ticket *list, const tse_error *msg);
void store_commit_views(store_db *d, store_ticket *list);

/* The last counter of TSE `id` as committed (deleted logs count). */
int store_load_last_counter(sqlite3 *db, int64_t id, uint64_t *out, tse_error *err);

#define STORE_META_DELETED_THROUGH "store.deleted_through"
#define STORE_META_DELETED_TX "store.deleted_tx_number"

/* sqlite_migrate.c: the schema of STORE_SCHEMA_VERSION */
extern const char store_schema_sql[];

/* sqlite_migrate.c: a file of schema 1 (one TSE, no tse columns) becomes
 * schema 2 in place, in one transaction, after a copy was kept. */
int store_migrate_v1(sqlite3 *db, const char *path, tse_error *err);

/* sqlite_read.c */
void store_pool_close(store_db *d);

#endif
