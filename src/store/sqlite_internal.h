/*
 * sqlite_internal.h - what the files of the SQLite store share: the store
 * handle, the commit ticket, the writer's prepared statements and the error
 * helpers. Not part of the store interface (see store.h).
 *
 * Threads: the writer connection `wdb` and `last_counter` belong to whichever
 * thread holds the writer role (`writer_busy`, taken under `qmu`); readers
 * take a private connection from the pool (`pool`, under `pmu`).
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

#define STORE_SCHEMA_VERSION 1
#define STORE_APPLICATION_ID 0x4f545345   /* "OTSE" in the database header */
#define STORE_BUSY_TIMEOUT_MS 10000       /* no SQLite wait lasts longer */

/* A queued batch: a deep copy of the caller's batch in `arena`. */
struct store_ticket {
    struct store_ticket *next;
    store_batch batch;
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
    W_COUNT
};

/* A read connection waiting in the pool. */
typedef struct store_rconn {
    sqlite3 *db;
    struct store_rconn *next;
} store_rconn;

struct store {
    char *path;
    int lock_fd;                  /* flock'd "<path>-lock", held while open */
    bool remove_on_free;          /* a failed create: remove the files it left */

    sqlite3 *wdb;                 /* writer connection */
    sqlite3_stmt *w[W_COUNT];
    uint64_t last_counter;        /* last committed log counter */

    pthread_mutex_t qmu;          /* guards the queue, writer_busy, stats */
    pthread_cond_t qcv;           /* signalled when a flush ends or a ticket gets ready */
    store_ticket *head, *tail;
    bool writer_busy;
    store_stats stats;

    pthread_mutex_t pmu;          /* guards pool */
    store_rconn *pool;
};

/* STORAGE_FAILURE with "<what>: <SQLite's message>" for db. */
int store_sqlfail(tse_error *err, sqlite3 *db, const char *what);
/* Runs `sql` (no parameters) on db; a failure names `what` (NULL: the SQL). */
int store_exec(sqlite3 *db, const char *sql, const char *what, tse_error *err);

/* Opens a connection to the store file with busy timeout and WAL settings. */
int store_connect(const char *path, int flags, sqlite3 **out, tse_error *err);

/* sqlite_commit.c */
int store_writer_prepare(store *s, tse_error *err);
void store_writer_finalize(store *s);
/* Flushes whatever is still queued; returns once the writer is idle. */
void store_drain(store *s);

/* Drains the queue and takes the writer role outside a flush; give it back
 * with store_writer_give(). */
void store_writer_take(store *s);
void store_writer_give(store *s);

#define STORE_META_DELETED_THROUGH "store.deleted_through"
#define STORE_META_DELETED_TX "store.deleted_tx_number"

/* sqlite_read.c */
void store_pool_close(store *s);

#endif
