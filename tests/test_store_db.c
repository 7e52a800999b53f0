/*
 * test_store_db.c - the store as one database for a deployment: several
 * TSEs in one file with their own counters and one group commit, records
 * (put, insert-only, delete, selection, order, paging), records that commit
 * with a log or fail with it, a schema-1 file migrated in place with its
 * backup kept, and a single-TSE file imported as a named TSE.
 *
 * `test_store_db pg` runs the tests that are not about files against the
 * PostgreSQL store (tests/pg/with_pg.sh starts the server), each in a
 * database of its own, and the tests that are PostgreSQL's alone: leases,
 * and a full tablespace (a tiny tmpfs) refusing commits cleanly until
 * space is freed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "helpers.h"
#include "opentse/opentse.h"
#include "store/store.h"

static char *fresh_path(const char *name)
{
    static int seq;
    char buf[128];
    snprintf(buf, sizeof buf, "%s-%d.db", name, ++seq);
    return th_path(buf);
}

static const char *pg_base;   /* OPENTSE_TEST_PG in `pg` mode */

/* A database of this test on the PostgreSQL server: made once, its URL. */
static const char *pg_database(const char *path)
{
    static char url[600];
    char name[64];
    const char *base = strrchr(path, '/');
    snprintf(name, sizeof name, "t_%s", base ? base + 1 : path);
    for (char *c = name; *c; c++)
        if (*c == '-' || *c == '.')
            *c = '_';
    PGconn *c = PQconnectdb(pg_base);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK || (state && !strcmp(state, "42P04")));   /* or exists */
    PQclear(r);
    PQfinish(c);
    snprintf(url, sizeof url, "%.*s/%s", (int)(strrchr(pg_base, '/') - pg_base), pg_base, name);
    return url;
}

static store_db *open_db(const char *path)
{
    if (pg_base)
        path = pg_database(path);
    store_db *d = NULL;
    tse_error err = {0};
    int rc = store_db_open(path, STORE_CREATE, &d, &err);
    if (rc)
        fprintf(stderr, "store_db_open: %s\n", err.message);
    assert_int_equal(rc, 0);
    return d;
}

static store *open_tse(store_db *d, const char *name, int flags)
{
    store *s = NULL;
    tse_error err = {0};
    int rc = store_tse_open(d, name, flags, &s, &err);
    if (rc)
        fprintf(stderr, "store_tse_open(%s): %s\n", name, err.message);
    assert_int_equal(rc, 0);
    return s;
}

/* A new TSE `name` of d with state (a TSE exists once it has state). */
static store *created(store_db *d, const char *name)
{
    store *s = open_tse(d, name, STORE_CREATE);
    store_change c = {.kind = STORE_PUT_META, .key = "version", .value = "1", .value_len = 1};
    store_batch b = {.changes = &c, .n_changes = 1};
    assert_int_equal(store_commit(s, &b, NULL), 0);
    return s;
}

/* A log whose bytes name its TSE and counter. */
typedef struct tlog {
    store_log log;
    char buf[64];
} tlog;

static void make_log(tlog *t, const char *tse, uint64_t counter)
{
    int n = snprintf(t->buf, sizeof t->buf, "%s log %llu", tse, (unsigned long long)counter);
    t->log = (store_log){.counter = counter, .kind = 1, .log_time = 1700000000 + (int64_t)counter,
                         .transaction_number = counter, .client_id = "kasse", .operation = "StartTransaction",
                         .data = (const uint8_t *)t->buf, .len = (size_t)n};
}

static int commit_log(store *s, const char *tse, uint64_t counter, const store_change *ch, size_t n)
{
    tlog t;
    make_log(&t, tse, counter);
    store_batch b = {.log = &t.log, .changes = ch, .n_changes = n};
    return store_commit(s, &b, NULL);
}

static void expect_log(store *s, const char *tse, uint64_t counter)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(store_get_log(s, counter, &msg, &len, NULL), 0);
    tlog t;
    make_log(&t, tse, counter);
    assert_int_equal(len, t.log.len);
    assert_memory_equal(msg, t.buf, len);
    free(msg);
}

static uint64_t last(store *s)
{
    uint64_t c = 0;
    assert_int_equal(store_last_log(s, &c, NULL, NULL, NULL), 0);
    return c;
}

/* ---- several TSEs ---- */

typedef struct worker {
    store *s;
    const char *name;
    pthread_mutex_t mu;   /* the engine's lock: counters in order */
    uint64_t next;
    int failures;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&w->mu);
        tlog t;
        make_log(&t, w->name, w->next + 1);
        store_batch b = {.log = &t.log};
        store_ticket *tk = NULL;
        int rc = store_submit(w->s, &b, &tk, NULL);
        if (!rc)
            w->next++;
        pthread_mutex_unlock(&w->mu);
        if (rc || store_wait(w->s, tk, NULL))
            w->failures++;
    }
    return NULL;
}

static int collect(void *ctx, const char *name)
{
    char *out = ctx;
    strcat(out, name);
    strcat(out, ",");
    return 0;
}

static void test_tses_share_one_commit(void **state)
{
    (void)state;
    char *path = fresh_path("tses");
    store_db *d = open_db(path);
    static const char *const names[] = {"tss-a", "tss-b", "tss-c", "tss-d"};
    worker w[4];
    pthread_t th[8];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.s = created(d, names[i]), .name = names[i]};
        pthread_mutex_init(&w[i].mu, NULL);
    }
    /* one handle per TSE */
    store *again = NULL;
    tse_error err = {0};
    assert_int_equal(store_tse_open(d, "tss-a", 0, &again, &err), TSE_ERR_STORE_IN_USE);
    assert_int_equal(store_tse_open(d, "tss-b", STORE_CREATE, &again, &err), TSE_ERR_STORE_IN_USE);
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, run, &w[i % 4]), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    store_stats st;
    store_get_stats(w[0].s, &st);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w[i].failures, 0);
        assert_int_equal(last(w[i].s), 400);   /* each TSE its own counter, 1..400 */
        expect_log(w[i].s, names[i], 1);
        expect_log(w[i].s, names[i], 400);
    }
    /* one group commit for all: flushes carried batches of several TSEs */
    assert_true(st.commits >= 1604);
    assert_true(st.flushes < st.commits);
    printf("store_db: 4 TSEs, 8 threads: %llu batches in %llu flushes (max %llu per flush)\n",
           (unsigned long long)st.commits, (unsigned long long)st.flushes, (unsigned long long)st.max_batch);
    char listed[200] = "";
    assert_int_equal(store_tse_each(d, collect, listed, NULL), 0);
    assert_string_equal(listed, "tss-a,tss-b,tss-c,tss-d,");
    for (int i = 0; i < 4; i++)
        store_close(w[i].s);
    store_db_close(d);

    /* reopened: the same counters, the next log goes on from there */
    d = open_db(path);
    store *b = open_tse(d, "tss-b", 0);
    assert_int_equal(last(b), 400);
    assert_int_equal(commit_log(b, "tss-b", 402, NULL, 0), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(commit_log(b, "tss-b", 401, NULL, 0), 0);
    assert_int_equal(store_tse_open(d, "tss-b", STORE_CREATE, &again, &err), TSE_ERR_STORE_IN_USE);
    store_close(b);
    assert_int_equal(store_tse_open(d, "tss-b", STORE_CREATE, &again, &err), TSE_ERR_ALREADY_EXISTS);
    assert_int_equal(store_tse_open(d, "nobody", 0, &again, &err), TSE_ERR_NOT_FOUND);
    store *a = open_tse(d, "tss-a", 0);
    assert_int_equal(last(a), 400);   /* b's log did not move a */
    store_close(a);
    store_db_close(d);
    free(path);
}

/* ---- records ---- */

static store_change rec(store_change_kind k, const char *ns, const char *key, const char *idx, int64_t ord,
                        const char *value)
{
    return (store_change){.kind = k, .ns = ns, .key = key, .idx = idx, .ord = ord, .value = value,
                          .value_len = value ? strlen(value) : 0};
}

static char *get(store_db *d, const char *ns, const char *key)
{
    char *v = NULL;
    int rc = store_record_get(d, ns, key, &v, NULL, NULL);
    assert_true(rc == 0 || rc == TSE_ERR_NOT_FOUND);
    return rc ? NULL : v;
}

static int keys(void *ctx, const char *key, const char *value, size_t len)
{
    (void)value;
    (void)len;
    strcat(ctx, key);
    strcat(ctx, ",");
    return 0;
}

static void test_records(void **state)
{
    (void)state;
    char *path = fresh_path("records");
    store_db *d = open_db(path);
    store_change a[] = {rec(STORE_PUT_RECORD, "tx/1", "t3", "ACTIVE", 3, "{\"n\":3}"),
                        rec(STORE_PUT_RECORD, "tx/1", "t1", "FINISHED", 1, "{\"n\":1}"),
                        rec(STORE_PUT_RECORD, "tx/1", "t2", "ACTIVE", 2, "{\"n\":2}"),
                        rec(STORE_PUT_RECORD, "tx/2", "t1", "ACTIVE", 1, "{\"other\":1}")};
    assert_int_equal(store_db_commit(d, a, 4, NULL), 0);
    char *v = get(d, "tx/1", "t1");
    assert_string_equal(v, "{\"n\":1}");
    free(v);
    v = get(d, "tx/2", "t1");
    assert_string_equal(v, "{\"other\":1}");   /* namespaces apart */
    free(v);
    assert_null(get(d, "tx/1", "t9"));
    char k[200] = "";
    assert_int_equal(store_record_each(d, "tx/1", NULL, 0, 0, keys, k, NULL), 0);
    assert_string_equal(k, "t1,t2,t3,");   /* by ord */
    k[0] = 0;
    assert_int_equal(store_record_each(d, "tx/1", "ACTIVE", 0, 0, keys, k, NULL), 0);
    assert_string_equal(k, "t2,t3,");
    k[0] = 0;
    assert_int_equal(store_record_each(d, "tx/1", NULL, 1, 1, keys, k, NULL), 0);
    assert_string_equal(k, "t2,");   /* offset and limit */
    uint64_t n = 0;
    assert_int_equal(store_record_count(d, "tx/1", "ACTIVE", &n, NULL), 0);
    assert_int_equal(n, 2);

    /* an update keeps its place; an insert of an existing key fails its whole batch */
    store_change b[] = {rec(STORE_PUT_RECORD, "tx/1", "t2", "FINISHED", 2, "{\"n\":22}"),
                        rec(STORE_INSERT_RECORD, "tx/1", "t4", "ACTIVE", 4, "{\"n\":4}")};
    assert_int_equal(store_db_commit(d, b, 2, NULL), 0);
    store_change c[] = {rec(STORE_PUT_RECORD, "tx/1", "t3", "FINISHED", 3, "{\"changed\":1}"),
                        rec(STORE_INSERT_RECORD, "tx/1", "t4", "ACTIVE", 4, "{\"twice\":1}")};
    tse_error err = {0};
    assert_int_equal(store_db_commit(d, c, 2, &err), TSE_ERR_ALREADY_EXISTS);
    v = get(d, "tx/1", "t3");
    assert_string_equal(v, "{\"n\":3}");   /* nothing of the refused batch */
    free(v);
    v = get(d, "tx/1", "t2");
    assert_string_equal(v, "{\"n\":22}");
    free(v);
    store_change del = rec(STORE_DEL_RECORD, "tx/1", "t1", NULL, 0, NULL);
    assert_int_equal(store_db_commit(d, &del, 1, NULL), 0);
    assert_null(get(d, "tx/1", "t1"));
    /* TSE changes need a TSE */
    store_change meta = {.kind = STORE_PUT_META, .key = "k", .value = "v", .value_len = 1};
    assert_int_equal(store_db_commit(d, &meta, 1, NULL), TSE_ERR_INVALID_ARGUMENT);
    store_change bad = rec(STORE_PUT_RECORD, NULL, "x", NULL, 0, "{}");
    assert_int_equal(store_db_commit(d, &bad, 1, NULL), TSE_ERR_INVALID_ARGUMENT);
    store_db_close(d);
    free(path);
}

static int page_count(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Records made after the log was queued (store_complete's extras) commit
 * with the log; a refused log takes them with it. */
static void test_records_with_log(void **state)
{
    (void)state;
    char *path = fresh_path("withlog");
    store_db *d = open_db(path);
    store *s = open_tse(d, "t", STORE_CREATE);
    tlog l1;
    make_log(&l1, "t", 1);
    memset(l1.buf + l1.log.len - 3, 0, 3);   /* its tail comes later */
    store_batch b = {.log = &l1.log, .log_tail_later = 3};
    store_ticket *tk = NULL;
    assert_int_equal(store_submit(s, &b, &tk, NULL), 0);
    store_change r = rec(STORE_PUT_RECORD, "tx/t", "a", "ACTIVE", 1, "{\"sig\":\"x\"}");
    assert_int_equal(store_complete(s, tk, (const uint8_t *)" 1", 2, &r, 1, 0, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(store_complete(s, tk, (const uint8_t *)"g 1", 3, &r, 1, 0, NULL), 0);
    assert_int_equal(store_wait(s, tk, NULL), 0);
    expect_log(s, "t", 1);
    char *v = get(d, "tx/t", "a");
    assert_string_equal(v, "{\"sig\":\"x\"}");
    free(v);

    /* a log refused by the counter rule: its records are not stored */
    tlog l3;
    make_log(&l3, "t", 3);
    store_batch b3 = {.log = &l3.log, .hold = true};
    assert_int_equal(store_submit(s, &b3, &tk, NULL), 0);
    store_change r3 = rec(STORE_PUT_RECORD, "tx/t", "b", "ACTIVE", 2, "{}");
    assert_int_equal(store_complete(s, tk, NULL, 0, &r3, 1, 0, NULL), 0);
    assert_int_equal(store_wait(s, tk, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_null(get(d, "tx/t", "b"));
    /* an INSERT that finds its record: the log is not stored either */
    store_change again = rec(STORE_INSERT_RECORD, "tx/t", "a", "ACTIVE", 1, "{}");
    assert_int_equal(commit_log(s, "t", 2, &again, 1), TSE_ERR_ALREADY_EXISTS);
    assert_int_equal(last(s), 1);
    if (pg_base) {   /* a full tablespace is the server tests' */
        store_close(s);
        store_db_close(d);
        free(path);
        return;
    }
    /* a full disk: neither (the database may not grow by a page) */
    assert_int_equal(store_debug_set_max_pages(s, page_count(path)), 0);
    static char big[20000];
    memset(big, 'x', sizeof big - 1);
    store_change r2 = rec(STORE_PUT_RECORD, "tx/t", "c", "ACTIVE", 2, big);
    assert_int_equal(commit_log(s, "t", 2, &r2, 1), TSE_ERR_STORAGE_FAILURE);
    assert_int_equal(store_debug_set_max_pages(s, 0), 0);
    assert_null(get(d, "tx/t", "c"));
    assert_int_equal(last(s), 1);
    assert_int_equal(commit_log(s, "t", 2, &r2, 1), 0);
    v = get(d, "tx/t", "c");
    assert_non_null(v);
    free(v);
    store_close(s);
    store_db_close(d);
    free(path);
}

/* ---- earlier layouts ---- */

/* A store file as schema 1 wrote it: one TSE, no tse columns. */
static void write_schema1(const char *path, int n_logs)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    const char *sql =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE logs(counter INTEGER PRIMARY KEY, kind INTEGER NOT NULL, log_time INTEGER NOT NULL,"
        " tx_number INTEGER NOT NULL DEFAULT 0, client_id TEXT, operation TEXT, data BLOB NOT NULL);"
        "CREATE INDEX logs_by_tx ON logs(tx_number); CREATE INDEX logs_by_time ON logs(log_time);"
        "CREATE TRIGGER logs_no_update BEFORE UPDATE ON logs BEGIN SELECT RAISE(ABORT, 'append-only'); END;"
        "CREATE TRIGGER logs_no_delete BEFORE DELETE ON logs BEGIN SELECT RAISE(ABORT, 'append-only'); END;"
        "CREATE TRIGGER logs_no_replace BEFORE INSERT ON logs WHEN EXISTS (SELECT 1 FROM logs WHERE"
        " counter = NEW.counter) BEGIN SELECT RAISE(ABORT, 'append-only'); END;"
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
        "CREATE TABLE clients(client_id TEXT PRIMARY KEY, registered INTEGER);"
        "CREATE TABLE open_tx(number INTEGER PRIMARY KEY, client_id TEXT, start_counter INTEGER,"
        " start_time INTEGER, last_update INTEGER, pending BLOB);"
        "INSERT INTO meta VALUES('version', '1'); INSERT INTO clients VALUES('kasse', 5);"
        "INSERT INTO open_tx VALUES(7, 'kasse', 3, 10, 11, x'4142');"
        "PRAGMA application_id=1330926405; PRAGMA user_version=1;";
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK);
    for (int c = 1; c <= n_logs; c++) {
        tlog t;
        make_log(&t, "old", (uint64_t)c);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO logs VALUES(?, 1, ?, ?, 'kasse', 'StartTransaction', ?)",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_int64(st, 1, c);
        sqlite3_bind_int64(st, 2, t.log.log_time);
        sqlite3_bind_int64(st, 3, c);
        sqlite3_bind_blob(st, 4, t.buf, (int)t.log.len, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

static int user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int tx_seen(void *ctx, const store_tx *tx)
{
    *(uint64_t *)ctx = tx->number * 1000 + tx->pending_len;
    return 0;
}

static void test_schema1_migrated(void **state)
{
    (void)state;
    char *path = fresh_path("schema1");
    write_schema1(path, 5);
    store *s = NULL;
    tse_error err = {0};
    assert_int_equal(store_open(path, 0, &s, &err), 0);
    assert_int_equal(last(s), 5);
    expect_log(s, "old", 3);
    uint64_t tx = 0;
    assert_int_equal(store_foreach_open_tx(s, tx_seen, &tx, NULL), 0);
    assert_int_equal(tx, 7002);
    bool known = false;
    assert_int_equal(store_client_known(s, "kasse", &known, NULL), 0);
    assert_true(known);
    assert_int_equal(commit_log(s, "old", 6, NULL, 0), 0);
    store_close(s);
    assert_int_equal(user_version(path), 2);
    char bak[600];
    snprintf(bak, sizeof bak, "%s.v1.bak", path);
    assert_int_equal(user_version(bak), 1);   /* the old file, kept */

    /* imported into a deployment's database as a named TSE */
    char *dpath = fresh_path("deploy");
    store_db *d = open_db(dpath);
    assert_int_equal(store_db_import(d, "imported", path, &err), 0);
    assert_int_equal(store_db_import(d, "from-v1", bak, &err), 0);
    assert_int_equal(store_db_import(d, "imported", path, &err), TSE_ERR_STORAGE_FAILURE);   /* exists */
    store *i = open_tse(d, "imported", 0);
    assert_int_equal(last(i), 6);
    expect_log(i, "old", 6);
    store *v1 = open_tse(d, "from-v1", 0);
    assert_int_equal(last(v1), 5);
    tx = 0;
    assert_int_equal(store_foreach_open_tx(v1, tx_seen, &tx, NULL), 0);
    assert_int_equal(tx, 7002);
    store_close(i);
    store_close(v1);
    store_db_close(d);
    free(dpath);
    free(path);
}

/* ---- PostgreSQL: leases and fencing ---- */

static void pg_exec(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
}

/* Two nodes on one database: one signs for a TSE at a time; a node whose
 * lease ran out (a paused process) and was taken over commits nothing more,
 * and the new owner goes on from the last stored counter. */
static void test_pg_lease_fencing(void **state)
{
    (void)state;
    char *path = fresh_path("lease");
    /* a lease long enough that a loaded machine never lets it lapse by
     * itself: here it ends only when the test says so */
    setenv("OPENTSE_STORE_LEASE_MS", "10000", 1);
    store_db *a = open_db(path), *b = open_db(path);
    setenv("OPENTSE_STORE_LEASE_MS", "400", 1);
    store *sa = created(a, "tss-x");
    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal(commit_log(sa, "a", i, NULL, 0), 0);
    store *sb = NULL;
    tse_error err = {0};
    assert_int_equal(store_tse_open(b, "tss-x", 0, &sb, &err), TSE_ERR_STORE_IN_USE);
    assert_non_null(strstr(err.message, "another node"));

    /* a's lease runs out while a is stopped; b takes the TSE over */
    pg_exec(pg_database(path), "UPDATE tses SET lease_until = now() - interval '1 second' WHERE name = 'tss-x'");
    sb = open_tse(b, "tss-x", 0);
    assert_int_equal(last(sb), 5);
    assert_int_equal(commit_log(sb, "b", 6, NULL, 0), 0);
    /* a wakes up: its next commit is fenced off, whatever its counter */
    store_change r = rec(STORE_PUT_RECORD, "tx/x", "late", "ACTIVE", 1, "{}");
    assert_int_equal(commit_log(sa, "a", 6, &r, 1), TSE_ERR_STORE_IN_USE);
    assert_int_equal(commit_log(sa, "a", 7, NULL, 0), TSE_ERR_STORE_IN_USE);
    assert_null(get(b, "tx/x", "late"));
    expect_log(sb, "b", 6);   /* b's, not a's */
    assert_int_equal(commit_log(sb, "b", 7, NULL, 0), 0);
    assert_int_equal(last(sb), 7);
    store_close(sa);   /* gives back nothing: the lease is b's */
    store_close(sb);
    /* closed: the lease is free at once */
    sa = open_tse(a, "tss-x", 0);
    assert_int_equal(last(sa), 7);
    store_close(sa);
    store_db_close(a);
    store_db_close(b);
    free(path);
}

/* The renewing thread keeps a lease alive past its length: another node
 * cannot take it, and the owner still commits. */
static void test_pg_lease_renewed(void **state)
{
    (void)state;
    char *path = fresh_path("renew");
    store_db *a = open_db(path), *b = open_db(path);
    store *sa = created(a, "tss-y");
    usleep(3 * 400 * 1000);   /* three lease lengths (OPENTSE_STORE_LEASE_MS=400) */
    store *sb = NULL;
    assert_int_equal(store_tse_open(b, "tss-y", 0, &sb, NULL), TSE_ERR_STORE_IN_USE);
    assert_int_equal(commit_log(sa, "a", 1, NULL, 0), 0);
    store_close(sa);
    store_db_close(a);
    store_db_close(b);
    free(path);
}

/* A log of 4 KiB of random bytes (nothing to compress), its first bytes
 * naming its counter. */
static void big_log(store_log *l, uint8_t *buf, size_t len, uint64_t counter)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(random() >> 7);
    snprintf((char *)buf, 32, "log %llu", (unsigned long long)counter);
    *l = (store_log){.counter = counter, .kind = 2, .log_time = 1700000000 + (int64_t)counter,
                     .operation = "SelfTest", .data = buf, .len = len};
}

/* The TSE's tables in a tablespace on a tiny tmpfs that is then filled:
 * commits fail with STORAGE_FAILURE naming the cause and store nothing,
 * the counter stays; once space is freed the next log commits, and a
 * reopened store holds every acknowledged log, gapless. */
static void test_pg_full_tablespace(void **state)
{
    (void)state;
    char dir[] = "/tmp/opentse-ts-XXXXXX";   /* where the server's user reaches it */
    assert_non_null(mkdtemp(dir));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1M,mode=0700") != 0) {
        printf("store_db pg: tmpfs mount failed (%s): full-tablespace test skipped\n", strerror(errno));
        rmdir(dir);
        skip();
    }
    struct passwd *pw = getpwnam("postgres");
    if (getuid() == 0 && pw)
        assert_int_equal(chown(dir, pw->pw_uid, pw->pw_gid), 0);
    char *path = fresh_path("fullts"), sql[400];
    const char *url = pg_database(path);
    const char *db = strrchr(url, '/') + 1;
    snprintf(sql, sizeof sql, "CREATE TABLESPACE %s_ts LOCATION '%s'", db, dir);
    pg_exec(pg_base, sql);
    snprintf(sql, sizeof sql, "ALTER DATABASE %s SET default_tablespace = %s_ts", db, db);
    pg_exec(pg_base, sql);
    store_db *d = open_db(path);
    store *s = created(d, "tss-full");

    /* fill the tmpfs around the tables */
    char filler[300];
    snprintf(filler, sizeof filler, "%s/filler", dir);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static uint8_t block[4096], buf[4096];
    while (write(fd, block, sizeof block) == (ssize_t)sizeof block)
        ;
    while (write(fd, block, 1) == 1)
        ;
    close(fd);

    uint64_t c = 0;
    int rc = 0;
    tse_error err = {0};
    store_log l;
    char key[32];
    store_change r;
    while (c < 500) {   /* the pages the tables had free take a few */
        big_log(&l, buf, sizeof buf, c + 1);
        snprintf(key, sizeof key, "k%llu", (unsigned long long)c + 1);
        r = rec(STORE_PUT_RECORD, "tx/full", key, "FINISHED", (int64_t)c + 1, "{\"answer\": 1}");
        store_batch b = {.log = &l, .changes = &r, .n_changes = 1};
        if ((rc = store_commit(s, &b, &err)) != 0)
            break;
        c++;
    }
    printf("store_db pg: commit %llu on a full tablespace: %s\n", (unsigned long long)c + 1, err.message);
    assert_int_equal(rc, TSE_ERR_STORAGE_FAILURE);
    assert_non_null(strstr(err.message, "No space left on device"));
    assert_int_equal(last(s), c);
    assert_null(get(d, "tx/full", key));   /* the log's record went with it */
    /* and again: still refused, still nothing stored */
    store_batch b = {.log = &l, .changes = &r, .n_changes = 1};
    assert_int_equal(store_commit(s, &b, NULL), TSE_ERR_STORAGE_FAILURE);
    assert_int_equal(last(s), c);
    assert_null(get(d, "tx/full", key));

    assert_int_equal(unlink(filler), 0);   /* space returns */
    assert_int_equal(store_commit(s, &b, &err), 0);
    c++;
    char *v = get(d, "tx/full", key);
    assert_non_null(v);
    free(v);
    big_log(&l, buf, sizeof buf, c + 1);
    assert_int_equal(store_commit(s, &b, &err), 0);
    c++;
    store_close(s);
    store_db_close(d);

    d = open_db(path);
    s = open_tse(d, "tss-full", 0);
    assert_int_equal(last(s), c);
    for (uint64_t i = 1; i <= c; i++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        char want[32];
        snprintf(want, sizeof want, "log %llu", (unsigned long long)i);
        assert_int_equal(store_get_log(s, i, &msg, &len, NULL), 0);
        assert_int_equal(len, sizeof buf);
        assert_string_equal((char *)msg, want);
        free(msg);
    }
    store_close(s);
    store_db_close(d);
    snprintf(sql, sizeof sql, "DROP DATABASE %s", db);
    pg_exec(pg_base, sql);
    snprintf(sql, sizeof sql, "DROP TABLESPACE %s_ts", db);
    pg_exec(pg_base, sql);
    assert_int_equal(umount2(dir, MNT_DETACH), 0);
    rmdir(dir);
    free(path);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "pg") == 0) {
        pg_base = getenv("OPENTSE_TEST_PG");
        if (!pg_base) {
            fprintf(stderr, "test_store_db pg: OPENTSE_TEST_PG is not set (run it through tests/pg/with_pg.sh)\n");
            return 1;
        }
        setenv("OPENTSE_STORE_LEASE_MS", "400", 1);
        const struct CMUnitTest pg_tests[] = {
            cmocka_unit_test(test_tses_share_one_commit),
            cmocka_unit_test(test_records),
            cmocka_unit_test(test_records_with_log),
            cmocka_unit_test(test_pg_lease_fencing),
            cmocka_unit_test(test_pg_lease_renewed),
            cmocka_unit_test(test_pg_full_tablespace),
        };
        return cmocka_run_group_tests(pg_tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tses_share_one_commit),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_records_with_log),
        cmocka_unit_test(test_schema1_migrated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
