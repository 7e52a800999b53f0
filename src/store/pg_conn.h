/*
 * pg_conn.h - what the files of the PostgreSQL store share: its part
 * of the database handle, statement parameters, connections and the read
 * functions pg.c hands to the store interface.
 */
#ifndef OPENTSE_STORE_PG_CONN_H
#define OPENTSE_STORE_PG_CONN_H

#include <libpq-fe.h>

#include "store/sqlite_internal.h"

#define PG_LEASE_MS_DEFAULT 5000   /* OPENTSE_STORE_LEASE_MS overrides it */

typedef struct pg_conn {
    PGconn *c;
    struct pg_conn *next;
} pg_conn;

struct pg_db {
    char *conninfo;            /* the postgresql:// URL */
    PGconn *w;                 /* the writer's connection (writer role) */
    char node[17];             /* this process among the nodes: random */
    int lease_ms;
    pthread_mutex_t pmu;       /* guards pool */
    pg_conn *pool;
    pthread_t renewer;         /* renews the leases */
    bool renewer_running, stop;
    pthread_mutex_t lmu;
    pthread_cond_t lcv;
};
typedef struct pg_db pg_db;

/* pg_conn.c. While a flush sends its statements in one pipeline
 * (fast_flush in pg.c), pg_exec queues them and counts them here; their
 * results are read at the end. Only the thread in the writer role. */
extern _Thread_local bool pg_pipelining;
extern _Thread_local int pg_pipe_sent;

/* Statement parameters: text, integers as text, blobs as binary. */
#define PGP_MAX 12
typedef struct pgp {
    const char *v[PGP_MAX];
    int len[PGP_MAX], fmt[PGP_MAX];
    char buf[PGP_MAX][24];
    int n;
} pgp;
void pgp_int(pgp *q, int64_t v);
void pgp_text(pgp *q, const char *s);
void pgp_blob(pgp *q, const void *data, size_t len);

/* STORAGE_FAILURE (ALREADY_EXISTS for a unique violation) with what, the
 * server's message and SQLSTATE. */
int pg_fail(tse_error *err, PGconn *c, const PGresult *r, const char *what);
/* The code an earlier pg_fail or connect set in err (STORAGE_FAILURE without one). */
static inline int store_pg_failed(const tse_error *err)
{
    return err && err->code ? err->code : TSE_ERR_STORAGE_FAILURE;
}
#define STORE_PG_FAILED(err) store_pg_failed(err)
PGconn *pg_connect(pg_db *p, tse_error *err);
PGresult *pg_run(PGconn *c, const char *sql, const pgp *q);
/* Runs a statement that returns no rows (or some, unread); 0 or an error
 * naming `what` (NULL: the SQL). Inside a flush's pipeline it is queued. */
int pg_exec(PGconn *c, const char *sql, const pgp *q, const char *what, tse_error *err);
int64_t pg_int(const PGresult *r, int row, int col);
int pg_last_counter(PGconn *c, int64_t id, uint64_t *out, tse_error *err);
/* Inserts log l of TSE tse (a flush's or a restore's). */
int pg_insert_log(PGconn *c, int64_t tse, const store_log *l, tse_error *err);
/* The writer's connection (under the writer role), connected again after a failure. */
PGconn *pg_writer(pg_db *p, tse_error *err);

/* pg_usage.c: the database's size (pg_database_size) and server version */
int pg_usage(store *s, store_usage_info *out, tse_error *err);

/* pg_read.c */
PGconn *pg_pool_get(pg_db *p, tse_error *err);
void pg_pool_put(pg_db *p, PGconn *c);
/* pg_import.c */
int pg_copy_from(store_db *d, const char *path, store_copy_counts *out, tse_error *err);
void pg_pool_close(pg_db *p);
int pg_get_meta(store *s, const char *key, uint8_t **value, size_t *len, tse_error *err);
int pg_last_log(store *s, uint64_t *counter, uint8_t **msg, size_t *len, tse_error *err);
int pg_get_log(store *s, uint64_t counter, uint8_t **msg, size_t *len, tse_error *err);
int pg_last_tx_number(store *s, uint64_t *out, tse_error *err);
int pg_each_client(store *s, store_client_cb cb, void *ctx, tse_error *err);
int pg_each_open_tx(store *s, store_tx_cb cb, void *ctx, tse_error *err);
int pg_count_logs(store *s, const store_log_filter *f, uint64_t limit, uint64_t *count, tse_error *err);
int pg_log_span(store *s, const store_log_filter *f, uint64_t *lo, uint64_t *hi, tse_error *err);
int pg_each_log(store *s, const store_log_filter *f, store_log_cb cb, void *ctx, tse_error *err);
int pg_client_known(store *s, const char *client_id, bool *known, tse_error *err);
int pg_first_counter(store *s, uint64_t *out, tse_error *err);
int pg_record_get(store_db *d, const char *ns, const char *key, char **value, size_t *len, tse_error *err);
int pg_record_each(store_db *d, const char *ns, const char *idx, uint64_t offset, uint64_t limit, store_record_cb cb,
                   void *ctx, tse_error *err);
int pg_record_count(store_db *d, const char *ns, const char *idx, uint64_t *n, tse_error *err);
int pg_bulk_begin(store *s, tse_error *err);
int pg_bulk_put(store *s, const store_log *l, tse_error *err);
int pg_bulk_end(store *s, bool commit, uint64_t *last, tse_error *err);

#endif
