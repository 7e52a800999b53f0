/*
 * store.h - durable, append-only storage of the TSEs of a deployment and of
 * the records the faces keep about them.
 *
 * The engine talks to storage only through this interface; it never sees SQL.
 * A store database (store_db) holds every TSE of a deployment and the
 * records (organizations, keys, TSS and client records, the API's
 * transactions with their replayable answers). A `store` handle is one TSE
 * inside it: its log messages (append-only, keyed by signature counter), a
 * small key/value table of TSE state, the registered clients and the open
 * transactions. All TSEs of one database share one group commit: one flush,
 * one fsync for every batch queued at that moment, whichever TSE it is for.
 * The embedded SDK's single-file TSE (store_open) is a database with one TSE
 * named "".
 *
 * Every change goes through store_commit(): one optional log message plus any
 * number of state changes, applied atomically. Concurrent callers share one
 * flush (group commit); store_commit() returns only after the batch is durable
 * (fsync'd). Logs must arrive in counter order: a log whose counter is not the
 * last stored counter + 1 is refused (INVALID_ARGUMENT) and nothing of its
 * batch is applied. When a flush fails (disk full, I/O error) every batch of
 * that flush fails with STORAGE_FAILURE and nothing of it is stored; batches
 * queued behind it are checked against the true stored state, so their logs
 * (whose counters now leave a gap) are refused too and no counter is ever
 * stored out of order. The engine resyncs its counter from store_last_log().
 *
 * Functions return 0 or a negative tse_err code (STORAGE_FAILURE for I/O
 * errors, STORE_IN_USE when another owner holds the store) and write a
 * message into `err` (a tse_error, may be NULL).
 */
#ifndef OPENTSE_STORE_H
#define OPENTSE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"


typedef struct store store;
typedef struct store_db store_db;

enum { STORE_CREATE = 1 };  /* create a new store; refused if one exists */

/* Opens (or with STORE_CREATE creates) the single-TSE store file at `path`:
 * a database holding one TSE named "". One owner at a time: a second open,
 * from this or another process, gets STORE_IN_USE. A file of the first
 * schema (one TSE per file, before version 2) is migrated in place in one
 * transaction, after a copy of it was kept as "<path>.v1.bak". */
int store_open(const char *path, int flags, store **out, tse_error *err);
/* store_open for TSE `name` of the database file at `path` (an opentsed
 * deployment's, opened alone while the service is stopped). */
int store_open_tse(const char *path, const char *name, int flags, store **out, tse_error *err);
/* Waits for queued commits, then closes (for store_open's handles also the
 * database). */
void store_close(store *s);

/* Opens the database at `path`; with STORE_CREATE it is created when
 * missing. One owner (process) at a time: STORE_IN_USE otherwise. */
int store_db_open(const char *path, int flags, store_db **out, tse_error *err);
/* store_db_open for one node of a deployment on PostgreSQL: `node` (1..16
 * characters) names this node in the TSEs' leases, so that a node started
 * again under the same name takes its leases back at once (the sqlite:
 * store ignores it). */
int store_db_open_as(const char *path, const char *node, int flags, store_db **out, tse_error *err);
/* Waits for queued commits, then closes. Every TSE handle must be closed first. */
void store_db_close(store_db *d);
/* Opens TSE `name` of the database (a TSS id, 1..64 characters). With
 * STORE_CREATE the TSE must not exist yet (ALREADY_EXISTS) and is created
 * empty; without, it must exist (NOT_FOUND). One handle per TSE at a time
 * (STORE_IN_USE). */
int store_tse_open(store_db *d, const char *name, int flags, store **out, tse_error *err);
/* The database a TSE handle lives in. */
store_db *store_db_of(store *s);
/* Every TSE of the database that has state, in the order of creation. */
typedef int (*store_name_cb)(void *ctx, const char *name);
int store_tse_each(store_db *d, store_name_cb cb, void *ctx, tse_error *err);
/* Whether another node took this TSE's lease over (PostgreSQL): nothing
 * more is committed for it through this handle. */
bool store_lease_lost(store *s);
/* Takes a lost lease back when it is free again (the other node gone): a
 * new epoch; the TSE's counter is read again before its next commit.
 * STORE_IN_USE while another node holds it. */
int store_tse_reacquire(store *s, tse_error *err);
/* The node that holds TSE `name`'s lease now (PostgreSQL); NOT_FOUND when
 * none does (and always on sqlite:, where one process holds them all). */
int store_tse_owner(store_db *d, const char *name, char out[17], tse_error *err);
/* Copies the single TSE of the store file at `path` (either schema) into
 * this database as TSE `name`, which must not exist; one transaction. */
int store_db_import(store_db *d, const char *name, const char *path, tse_error *err);
/* What store_db_copy_from moved. */
typedef struct store_copy_counts {
    uint64_t tses, logs, records;
    bool again;   /* the file had been copied before: nothing done */
} store_copy_counts;
/* Moves a deployment to PostgreSQL: every TSE and record of the sqlite:
 * store file at `path` (schema 2) into `d`, an empty PostgreSQL store, in
 * one transaction (pg_import.c); refused when d holds anything but this
 * file's earlier copy. */
int store_db_copy_from(store_db *d, const char *path, store_copy_counts *out, tse_error *err);

/* A log message to append. */
typedef struct store_log {
    uint64_t counter;
    int kind;                   /* logmsg_kind */
    int64_t log_time;
    uint64_t transaction_number;   /* 0 for system/audit logs */
    const char *client_id;      /* NULL for system/audit logs */
    const char *operation;      /* StartTransaction, ..., or system operation */
    const uint8_t *data;        /* the complete DER message */
    size_t len;
} store_log;

/* An open transaction as the store keeps it. */
typedef struct store_tx {
    uint64_t number;
    char client_id[65];
    uint64_t start_counter;
    int64_t start_time;
    int64_t last_update;
    const uint8_t *pending;     /* unsigned-update data waiting for the next signed log */
    size_t pending_len;
} store_tx;

typedef enum store_change_kind {
    STORE_PUT_META = 1,   /* key, value, value_len */
    STORE_DEL_META,       /* key */
    STORE_PUT_CLIENT,     /* key = client id, time */
    STORE_DEL_CLIENT,     /* key = client id */
    STORE_PUT_TX,         /* tx (insert or replace) */
    STORE_DEL_TX,         /* tx->number */
    STORE_DELETE_LOGS,    /* deleteStoredData: every log with counter <= counter */
    STORE_PUT_RECORD,     /* ns, key, idx, ord, value, value_len (insert or replace) */
    STORE_INSERT_RECORD,  /* the same, but the batch fails (ALREADY_EXISTS) if ns/key exists */
    STORE_DEL_RECORD,     /* ns, key */
} store_change_kind;

typedef struct store_change {
    store_change_kind kind;
    const char *key;
    const void *value;
    size_t value_len;
    int64_t time;
    const store_tx *tx;
    uint64_t counter;     /* STORE_DELETE_LOGS */
    const char *ns;       /* records: the namespace ("tx/<tss>", "org", ...) */
    const char *idx;      /* records: a secondary key to select by, may be NULL */
    int64_t ord;          /* records: the order of listings (then insertion) */
} store_change;

typedef struct store_batch {
    const store_log *log;          /* NULL: state changes only */
    const store_change *changes;
    size_t n_changes;
    /* > 0: the last `log_tail_later` bytes of log->data (its signature) are
     * not known at store_submit(); store_complete() fills them in. Until then
     * the batch, and every batch queued behind it, waits in the queue. */
    size_t log_tail_later;
    /* true: the batch waits for store_complete() even without a missing
     * tail (for records the caller adds there). */
    bool hold;
} store_batch;

/* Applies the batch atomically and returns once it is durable.
 * Same as store_submit() followed by store_wait(). */
int store_commit(store *s, const store_batch *b, tse_error *err);

/* Two-phase commit for callers that allocate counters under their own lock:
 * store_submit() copies the batch (the caller may free or reuse everything it
 * points to on return), queues it and returns at once; batches are applied in
 * the order of store_submit() calls, so call it in counter order (under the
 * lock that hands out the counters). store_wait() blocks until the batch is
 * durable or has failed, frees the ticket and returns the batch's result.
 * Every ticket must be waited for exactly once, before store_close(). On
 * failure store_submit() queues nothing and sets *t to NULL. */
typedef struct store_ticket store_ticket;
int store_submit(store *s, const store_batch *b, store_ticket **t, tse_error *err);
int store_wait(store *s, store_ticket *t, tse_error *err);
/* For a batch submitted with log_tail_later (or hold): writes the missing
 * tail (`len` must equal log_tail_later), adds `extra` changes (copied; the
 * records the caller makes from the signed result) and lets the batch be
 * flushed. With `failure` set instead, the batch is dropped unflushed and
 * store_wait() returns `fail_code` with that message (the batches behind it
 * with logs then fail the counter rule). Call it exactly once, before
 * store_wait(). NO_MEMORY when the extra changes cannot be copied: then
 * the batch fails as with a failure. */
int store_complete(store *s, store_ticket *t, const uint8_t *tail, size_t len, const store_change *extra,
                   size_t n_extra, int fail_code, const char *failure);

/* Commits record changes (no TSE, no log) through the same group commit. */
int store_db_commit(store_db *d, const store_change *ch, size_t n, tse_error *err);

/* State. `*value` is malloc'd (caller frees); NOT_FOUND if absent. */
int store_get_meta(store *s, const char *key, uint8_t **value, size_t *len, tse_error *err);
/* Last stored counter (0 if none) and, if msg != NULL, its message (malloc'd). */
int store_last_log(store *s, uint64_t *counter, uint8_t **msg, size_t *len, tse_error *err);
/* One log by counter; NO_LOG_MESSAGE if absent. */
int store_get_log(store *s, uint64_t counter, uint8_t **msg, size_t *len, tse_error *err);
/* Highest transaction number in any stored transaction log (0 if none). */
int store_last_transaction_number(store *s, uint64_t *out, tse_error *err);

/* Iteration: the callback returns 0 to go on, non-zero to stop (that value is
 * returned). Pointers passed to callbacks are valid only during the call. */
typedef int (*store_client_cb)(void *ctx, const char *client_id, int64_t registered);
int store_foreach_client(store *s, store_client_cb cb, void *ctx, tse_error *err);
typedef int (*store_tx_cb)(void *ctx, const store_tx *tx);
int store_foreach_open_tx(store *s, store_tx_cb cb, void *ctx, tse_error *err);

/* Logs with counter in [from, to] (to == 0: no upper bound) in counter order,
 * streamed (constant memory). */
typedef int (*store_log_cb)(void *ctx, const store_log *log);
int store_foreach_log(store *s, uint64_t from, uint64_t to, store_log_cb cb, void *ctx, tse_error *err);

/* ---------------------------------------------------------------- records
 *
 * A record is a value (JSON text by convention) under a namespace and key,
 * with an optional secondary key `idx` and an order `ord`. */

/* `*value` is malloc'd and NUL-terminated; NOT_FOUND if absent. */
int store_record_get(store_db *d, const char *ns, const char *key, char **value, size_t *len, tse_error *err);
/* Records of `ns` (with idx == `idx` unless NULL) in the order of ord, then
 * of insertion; `offset` skipped, at most `limit` (0: all). */
typedef int (*store_record_cb)(void *ctx, const char *key, const char *value, size_t len);
int store_record_each(store_db *d, const char *ns, const char *idx, uint64_t offset, uint64_t limit,
                      store_record_cb cb, void *ctx, tse_error *err);
int store_record_count(store_db *d, const char *ns, const char *idx, uint64_t *n, tse_error *err);

/* Rows of `table` in a database file of another layout (a migration's
 * source), every column as text (NULL as NULL), in rowid order. */
typedef int (*store_row_cb)(void *ctx, int ncols, const char *const *names, const char *const *values);
int store_legacy_rows(const char *path, const char *table, store_row_cb cb, void *ctx, tse_error *err);

/* How much storage the database takes (TR-03151-1 getTotalMemory,
 * getUsedMemory, getFreeMemory; usage.c): `used` bytes in use by the
 * database, `free` bytes left for it (free_known false when the database
 * server does not tell, as PostgreSQL does not for its file system; total
 * then equals used), `total` = used + free; and which database it is
 * ("SQLite" / "PostgreSQL") in which version. */
typedef struct store_usage_info {
    uint64_t total, used, free;
    bool free_known;
    char engine[16];
    char version[64];
} store_usage_info;
int store_usage(store *s, store_usage_info *out, tse_error *err);

/* Statistics of group commit since open (of the whole database). */
typedef struct store_stats {
    uint64_t commits;      /* batches committed */
    uint64_t flushes;      /* transactions flushed to disk */
    uint64_t max_batch;    /* largest number of batches in one flush */
} store_stats;
void store_get_stats(store *s, store_stats *out);

/* Tests only: limits the database to `max_pages` pages (PRAGMA
 * max_page_count) so that commits fail as on a full disk; 0 lifts the limit.
 * Waits for the writer to be idle. */
int store_debug_set_max_pages(store *s, int max_pages);

/* ---------------------------------------------------------------- export
 *
 * Selections of logs for exportData, deletion after export and restore.
 *
 * STORE_DELETE_LOGS (a change in a batch, usually with the deleteStoredData
 * system log) deletes every log with counter <= change.counter inside the
 * batch's transaction; it is the only way around the append-only rule. The
 * store remembers the highest deleted counter and transaction number, so
 * store_last_transaction_number() and the counter rule never go back.
 */

/* Which logs: every condition that is set must hold. A transaction log is one
 * with transaction_number != 0. */
typedef struct store_log_filter {
    uint64_t from, to;          /* counter range, inclusive; to == 0: open */
    bool by_time;
    int64_t time_from, time_to; /* log_time range, inclusive (with by_time) */
    uint64_t tx_from, tx_to;    /* tx_from != 0: transaction logs with a number in
                                   [tx_from, tx_to], plus (with tx_and_others) every
                                   system and audit log */
    bool tx_and_others;
    const char *client_id;      /* non-NULL: transaction logs of other clients are left out */
} store_log_filter;

/* Number of matching logs; counting stops at `limit` + 1 when limit != 0. */
int store_count_logs(store *s, const store_log_filter *f, uint64_t limit, uint64_t *count, tse_error *err);
/* Lowest and highest counter of the matching logs; both 0 when none match. */
int store_log_span(store *s, const store_log_filter *f, uint64_t *lo, uint64_t *hi, tse_error *err);
/* Matching logs in counter order, streamed (constant memory); callback as
 * for store_foreach_log(). */
int store_foreach_log_filtered(store *s, const store_log_filter *f, store_log_cb cb, void *ctx, tse_error *err);
/* Whether the client is registered or has a transaction log in the store. */
int store_client_known(store *s, const char *client_id, bool *known, tse_error *err);
/* Lowest stored counter (0 if the store holds no log). */
int store_first_counter(store *s, uint64_t *out, tse_error *err);

/* Bulk insert of logs that were signed before (restoreFromBackup, test
 * fixtures): store_bulk_begin() waits for queued commits, takes the writer
 * and opens one transaction; store_bulk_put() inserts a log whose counter is
 * not stored yet, or checks that a stored one has the same bytes
 * (INVALID_ARGUMENT if not); store_bulk_end(commit = true) commits only if the
 * stored counters then form one run without gaps (INVALID_ARGUMENT if not:
 * nothing is stored), commit = false rolls everything back. Every begin needs
 * its end; group commit waits meanwhile. `*added` counts inserted logs. */
typedef struct store_bulk store_bulk;
int store_bulk_begin(store *s, store_bulk **out, tse_error *err);
int store_bulk_put(store_bulk *b, const store_log *l, tse_error *err);
int store_bulk_end(store_bulk *b, bool commit, uint64_t *added, tse_error *err);

#endif
