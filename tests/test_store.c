/*
 * test_store.c - tests of the SQLite store (src/store): opening and the
 * single-owner lock, commits of logs and state and reading them back, the
 * counter rule, append-only triggers, group commit under 8 threads, full
 * disks (a tiny tmpfs and a page limit) and SIGKILL at a random moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "helpers.h"
#include "opentse/opentse.h"
#include "store/store.h"

/* ---- helpers ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fresh store path (unique per call) inside the test directory. */
static char *fresh_path(const char *name)
{
    static int seq;
    char buf[128];
    snprintf(buf, sizeof buf, "%s-%d.db", name, ++seq);
    return th_path(buf);
}

static store *create_store(const char *path)
{
    store *s = NULL;
    tse_error err = {0};
    int rc = store_open(path, STORE_CREATE, &s, &err);
    if (rc)
        fprintf(stderr, "store_open(%s): %s\n", path, err.message);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static store *reopen_store(const char *path)
{
    store *s = NULL;
    tse_error err = {0};
    int rc = store_open(path, 0, &s, &err);
    if (rc)
        fprintf(stderr, "store_open(%s): %s\n", path, err.message);
    assert_int_equal(rc, 0);
    return s;
}

/* The DER stand-in stored for a counter: deterministic, so readers can check it. */
static size_t log_data(uint64_t counter, uint8_t *buf, size_t cap)
{
    int n = snprintf((char *)buf, cap, "log message %llu", (unsigned long long)counter);
    return (size_t)n;
}

typedef struct test_log {
    store_log log;
    uint8_t buf[64];
} test_log;

static void make_log(test_log *t, uint64_t counter, uint64_t tx)
{
    t->log = (store_log){
        .counter = counter,
        .kind = tx ? 1 : 2,
        .log_time = 1700000000 + (int64_t)counter,
        .transaction_number = tx,
        .client_id = tx ? "kasse-1" : NULL,
        .operation = tx ? "FinishTransaction" : "initialize",
        .data = t->buf,
    };
    t->log.len = log_data(counter, t->buf, sizeof t->buf);
}

static int commit_log(store *s, uint64_t counter, tse_error *err)
{
    test_log t;
    make_log(&t, counter, counter);
    store_batch b = {.log = &t.log};
    return store_commit(s, &b, err);
}

static bool has_meta(store *s, const char *key)
{
    uint8_t *v = NULL;
    size_t len = 0;
    int rc = store_get_meta(s, key, &v, &len, NULL);
    free(v);
    assert_true(rc == 0 || rc == TSE_ERR_NOT_FOUND);
    return rc == 0;
}

static uint64_t last_counter(store *s)
{
    uint64_t c = 99999;
    assert_int_equal(store_last_log(s, &c, NULL, NULL, NULL), 0);
    return c;
}

/* Walks all logs: counts them, checks 1..n contiguous and each log's data. */
typedef struct walk {
    uint64_t n;
    bool ok;
} walk;

static int walk_cb(void *ctx, const store_log *l)
{
    walk *w = ctx;
    uint8_t buf[64];
    size_t len = log_data(l->counter, buf, sizeof buf);
    if (l->counter != w->n + 1 || l->len != len || memcmp(l->data, buf, len) != 0)
        w->ok = false;
    w->n++;
    return 0;
}

static uint64_t check_contiguous(store *s)
{
    walk w = {.ok = true};
    tse_error err = {0};
    assert_int_equal(store_foreach_log(s, 1, 0, walk_cb, &w, &err), 0);
    assert_true(w.ok);
    assert_int_equal(w.n, last_counter(s));
    return w.n;
}

/* ---- open, create, lock ---- */

static void test_create_open_reopen(void **state)
{
    (void)state;
    char *path = fresh_path("basic");
    store *s = create_store(path);
    assert_int_equal(last_counter(s), 0);
    store_close(s);
    s = reopen_store(path);
    assert_int_equal(last_counter(s), 0);
    store_close(s);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
}

static void test_create_existing_refused(void **state)
{
    (void)state;
    char *path = fresh_path("exists");
    store *s = create_store(path);
    store_close(s);
    tse_error err = {0};
    store *s2 = NULL;
    assert_int_equal(store_open(path, STORE_CREATE, &s2, &err), TSE_ERR_ALREADY_EXISTS);
    assert_null(s2);
    assert_non_null(strstr(err.message, path));
    free(path);
}

static void test_open_missing_refused(void **state)
{
    (void)state;
    char *path = fresh_path("missing");
    tse_error err = {0};
    store *s = NULL;
    assert_int_equal(store_open(path, 0, &s, &err), TSE_ERR_NOT_FOUND);
    assert_null(s);
    assert_non_null(strstr(err.message, path));
    assert_int_not_equal(access(path, F_OK), 0);   /* nothing created */
    free(path);
}

static void test_not_a_store_refused(void **state)
{
    (void)state;
    char *path = fresh_path("garbage");
    char junk[8192];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(th_write_file(path, junk, sizeof junk), 0);
    tse_error err = {0};
    store *s = NULL;
    assert_int_equal(store_open(path, 0, &s, &err), TSE_ERR_STORAGE_FAILURE);
    assert_true(strlen(err.message) > 0);
    free(path);
}

static void test_second_open_same_process(void **state)
{
    (void)state;
    char *path = fresh_path("twice");
    store *s = create_store(path);
    tse_error err = {0};
    store *s2 = NULL;
    assert_int_equal(store_open(path, 0, &s2, &err), TSE_ERR_STORE_IN_USE);
    assert_null(s2);
    assert_non_null(strstr(err.message, path));
    assert_int_equal(store_open(path, STORE_CREATE, &s2, &err), TSE_ERR_ALREADY_EXISTS);
    /* the first handle still works after the refused opens */
    assert_int_equal(commit_log(s, 1, &err), 0);
    store_close(s);
    s = reopen_store(path);
    assert_int_equal(last_counter(s), 1);
    store_close(s);
    free(path);
}

static void test_second_open_other_process(void **state)
{
    (void)state;
    char *path = fresh_path("fork");
    store *s = create_store(path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tse_error err = {0};
        store *s2 = NULL;
        int rc = store_open(path, 0, &s2, &err);
        _exit(rc == TSE_ERR_STORE_IN_USE && strstr(err.message, path) ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    store_close(s);
    free(path);
}

/* ---- commits and reading back ---- */

typedef struct seen {
    int n;
    char ids[4][65];
    int64_t times[4];
    store_tx tx[4];
    uint8_t pending[4][32];
} seen;

static int client_cb(void *ctx, const char *id, int64_t registered)
{
    seen *s = ctx;
    if (s->n < 4) {
        snprintf(s->ids[s->n], sizeof s->ids[0], "%s", id);
        s->times[s->n] = registered;
    }
    s->n++;
    return 0;
}

static int tx_cb(void *ctx, const store_tx *tx)
{
    seen *s = ctx;
    if (s->n < 4) {
        s->tx[s->n] = *tx;
        if (tx->pending_len <= sizeof s->pending[0] && tx->pending)
            memcpy(s->pending[s->n], tx->pending, tx->pending_len);
    }
    s->n++;
    return 0;
}

static int stop_at_two(void *ctx, const store_log *l)
{
    (void)l;
    return ++*(int *)ctx == 2 ? 42 : 0;
}

static void commit_state(store *s)
{
    tse_error err = {0};
    test_log l1, l2;
    make_log(&l1, 1, 0);
    store_tx tx = {.number = 7, .client_id = "kasse-1", .start_counter = 2, .start_time = 100,
                   .last_update = 101, .pending = (const uint8_t *)"pend", .pending_len = 4};
    store_tx tx9 = {.number = 9, .client_id = "kasse-2", .start_counter = 2};
    store_change c1[] = {
        {.kind = STORE_PUT_META, .key = "state", .value = "initialized", .value_len = 11},
        {.kind = STORE_PUT_META, .key = "empty", .value = NULL, .value_len = 0},
        {.kind = STORE_PUT_META, .key = "gone", .value = "x", .value_len = 1},
        {.kind = STORE_PUT_CLIENT, .key = "kasse-1", .time = 55},
        {.kind = STORE_PUT_CLIENT, .key = "kasse-2", .time = 56},
        {.kind = STORE_PUT_CLIENT, .key = "kasse-3", .time = 57},
    };
    store_batch b1 = {.log = &l1.log, .changes = c1, .n_changes = 6};
    assert_int_equal(store_commit(s, &b1, &err), 0);

    make_log(&l2, 2, 7);
    store_change c2[] = {
        {.kind = STORE_PUT_TX, .tx = &tx},
        {.kind = STORE_PUT_TX, .tx = &tx9},
        {.kind = STORE_DEL_TX, .tx = &tx9},
        {.kind = STORE_DEL_META, .key = "gone"},
        {.kind = STORE_DEL_CLIENT, .key = "kasse-3"},
    };
    store_batch b2 = {.log = &l2.log, .changes = c2, .n_changes = 5};
    assert_int_equal(store_commit(s, &b2, &err), 0);
}

static void check_state(store *s)
{
    tse_error err = {0};
    uint8_t *v = NULL;
    size_t len = 0;
    assert_int_equal(store_get_meta(s, "state", &v, &len, &err), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(v, "initialized", 11);
    free(v);
    assert_int_equal(store_get_meta(s, "empty", &v, &len, &err), 0);
    assert_int_equal(len, 0);
    free(v);
    assert_int_equal(store_get_meta(s, "gone", &v, &len, &err), TSE_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "gone"));

    uint64_t c = 0;
    assert_int_equal(store_last_log(s, &c, &v, &len, &err), 0);
    assert_int_equal(c, 2);
    assert_int_equal(len, strlen("log message 2"));
    assert_memory_equal(v, "log message 2", len);
    free(v);
    assert_int_equal(store_get_log(s, 1, &v, &len, &err), 0);
    assert_memory_equal(v, "log message 1", len);
    free(v);
    assert_int_equal(store_get_log(s, 3, &v, &len, &err), TSE_ERR_NO_LOG_MESSAGE);
    assert_int_equal(store_last_transaction_number(s, &c, &err), 0);
    assert_int_equal(c, 7);

    seen cl = {0};
    assert_int_equal(store_foreach_client(s, client_cb, &cl, &err), 0);
    assert_int_equal(cl.n, 2);
    assert_string_equal(cl.ids[0], "kasse-1");
    assert_int_equal(cl.times[0], 55);
    assert_string_equal(cl.ids[1], "kasse-2");

    seen tx = {0};
    assert_int_equal(store_foreach_open_tx(s, tx_cb, &tx, &err), 0);
    assert_int_equal(tx.n, 1);
    assert_int_equal(tx.tx[0].number, 7);
    assert_string_equal(tx.tx[0].client_id, "kasse-1");
    assert_int_equal(tx.tx[0].start_counter, 2);
    assert_int_equal(tx.tx[0].start_time, 100);
    assert_int_equal(tx.tx[0].last_update, 101);
    assert_int_equal(tx.tx[0].pending_len, 4);
    assert_memory_equal(tx.pending[0], "pend", 4);

    int calls = 0;
    assert_int_equal(store_foreach_log(s, 1, 0, stop_at_two, &calls, &err), 42);
    walk w = {.n = 1, .ok = true};   /* range [2, 2] only */
    assert_int_equal(store_foreach_log(s, 2, 2, walk_cb, &w, &err), 0);
    assert_int_equal(w.n, 2);
    assert_true(w.ok);
}

static void test_commit_and_read_back(void **state)
{
    (void)state;
    char *path = fresh_path("state");
    store *s = create_store(path);
    commit_state(s);
    check_state(s);
    store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.commits, 2);
    store_close(s);
    s = reopen_store(path);
    check_state(s);
    store_close(s);
    free(path);
}

static void test_counter_gap_refused(void **state)
{
    (void)state;
    char *path = fresh_path("gap");
    store *s = create_store(path);
    tse_error err = {0};
    assert_int_equal(commit_log(s, 2, &err), TSE_ERR_INVALID_ARGUMENT);   /* must start at 1 */
    assert_int_equal(commit_log(s, 1, &err), 0);

    test_log l;
    make_log(&l, 3, 3);
    store_change c = {.kind = STORE_PUT_META, .key = "with-gap", .value = "v", .value_len = 1};
    store_batch b = {.log = &l.log, .changes = &c, .n_changes = 1};
    assert_int_equal(store_commit(s, &b, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "3"));
    assert_false(has_meta(s, "with-gap"));
    assert_int_equal(commit_log(s, 1, &err), TSE_ERR_INVALID_ARGUMENT);   /* no reuse */
    assert_int_equal(last_counter(s), 1);
    assert_int_equal(commit_log(s, 2, &err), 0);
    assert_int_equal(check_contiguous(s), 2);

    store_batch bad = {.log = &l.log};
    l.log.data = NULL;
    assert_int_equal(store_commit(s, &bad, &err), TSE_ERR_INVALID_ARGUMENT);
    store_close(s);
    free(path);
}

/* A log queued before its signature exists (the engine signs outside its
 * lock): nothing behind it is flushed before it is complete, the late tail
 * lands in the stored bytes, and a failed signing drops it alone. */
static void test_late_signature(void **state)
{
    (void)state;
    char *path = fresh_path("late");
    store *s = create_store(path);
    tse_error err = {0};
    test_log l1, l2, l3, l4, l5;
    make_log(&l1, 1, 1);
    make_log(&l2, 2, 2);
    make_log(&l3, 3, 3);
    memcpy(l2.buf + l2.log.len - 3, "???", 3);   /* "log message 2" lacks "e 2" */
    store_batch b1 = {.log = &l1.log}, b3 = {.log = &l3.log};
    store_batch b2 = {.log = &l2.log, .log_tail_later = 3};
    store_ticket *t1, *t2, *t3;
    assert_int_equal(store_submit(s, &b1, &t1, &err), 0);
    assert_int_equal(store_submit(s, &b2, &t2, &err), 0);
    assert_int_equal(store_submit(s, &b3, &t3, &err), 0);
    assert_int_equal(store_wait(s, t1, &err), 0);
    assert_int_equal(last_counter(s), 1);   /* 3 is ready but queued behind 2 */
    assert_int_equal(store_complete(s, t2, (const uint8_t *)"e 2 ", 4, NULL, 0, 0, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(store_complete(s, t2, (const uint8_t *)"e 2", 3, NULL, 0, 0, NULL), 0);
    assert_int_equal(store_wait(s, t3, &err), 0);
    assert_int_equal(store_wait(s, t2, &err), 0);
    assert_int_equal(check_contiguous(s), 3);   /* every stored byte as expected */

    make_log(&l4, 4, 4);
    make_log(&l5, 5, 5);
    store_batch b4 = {.log = &l4.log, .log_tail_later = 2}, b5 = {.log = &l5.log};
    store_ticket *t4, *t5;
    assert_int_equal(store_submit(s, &b4, &t4, &err), 0);
    assert_int_equal(store_submit(s, &b5, &t5, &err), 0);
    assert_int_equal(store_complete(s, t4, NULL, 0, NULL, 0, TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED,
                                    "no signature"), 0);
    assert_int_equal(store_wait(s, t4, &err), TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED);
    assert_string_equal(err.message, "no signature");
    assert_int_equal(store_wait(s, t5, &err), TSE_ERR_INVALID_ARGUMENT);   /* no gap */
    assert_int_equal(last_counter(s), 3);
    assert_int_equal(commit_log(s, 4, &err), 0);
    assert_int_equal(check_contiguous(s), 4);

    store_batch too_long = {.log = &l5.log, .log_tail_later = l5.log.len + 1};
    assert_int_equal(store_submit(s, &too_long, &t5, &err), TSE_ERR_INVALID_ARGUMENT);
    store_close(s);
    free(path);
}

/* Submits n batches (all land in one flush: nobody waits before the last
 * submit) and collects their results. */
static void one_flush(store *s, const store_batch *b, int n, int *rc)
{
    store_ticket *t[8];
    for (int i = 0; i < n; i++)
        assert_int_equal(store_submit(s, &b[i], &t[i], NULL), 0);
    for (int i = 0; i < n; i++) {
        tse_error err = {0};
        rc[i] = store_wait(s, t[i], &err);
        printf("store: batch %d of one flush: %d %s\n", i + 1, rc[i], err.message);
    }
    store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.max_batch, (uint64_t)n);
}

/* Makes every insert of meta key "poison" fail (a constraint error, which
 * SQLite undoes by statement, not by transaction). */
static void add_poison_trigger(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER poison BEFORE INSERT ON meta WHEN NEW.key = 'poison'"
                                  " BEGIN SELECT RAISE(ABORT, 'poisoned batch'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

/* One flush with a good, a failing, a no-longer-contiguous and a state-only
 * batch: only the failing batch and the one behind its counter are dropped. */
static void test_flush_drops_only_failed_batches(void **state)
{
    (void)state;
    char *path = fresh_path("savepoint");
    store *s = create_store(path);
    add_poison_trigger(path);
    test_log l1, l2, l3;
    make_log(&l1, 1, 1);
    make_log(&l2, 2, 2);
    make_log(&l3, 3, 3);
    store_tx tx = {.number = 2, .client_id = "c"};
    store_change bad[] = {
        {.kind = STORE_PUT_TX, .tx = &tx},
        {.kind = STORE_PUT_META, .key = "poison", .value = "p", .value_len = 1},
    };
    store_change small = {.kind = STORE_PUT_META, .key = "small", .value = "s", .value_len = 1};
    store_batch b[4] = {
        {.log = &l1.log},
        {.log = &l2.log, .changes = bad, .n_changes = 2},
        {.log = &l3.log},
        {.changes = &small, .n_changes = 1},
    };
    int rc[4];
    one_flush(s, b, 4, rc);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], TSE_ERR_STORAGE_FAILURE);
    assert_int_equal(rc[2], TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(rc[3], 0);
    store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.flushes, 1);
    assert_int_equal(st.commits, 2);
    assert_int_equal(last_counter(s), 1);   /* log 2 went with its failed change */
    seen sx = {0};
    assert_int_equal(store_foreach_open_tx(s, tx_cb, &sx, NULL), 0);
    assert_int_equal(sx.n, 0);
    assert_true(has_meta(s, "small"));
    assert_int_equal(commit_log(s, 2, NULL), 0);
    store_close(s);
    free(path);
}

/* The database fills up in the middle of a flush: SQLite drops the whole
 * transaction, so every batch of the flush fails and nothing is stored. */
static void test_full_flush_fails_every_batch(void **state)
{
    (void)state;
    char *path = fresh_path("fullflush");
    store *s = create_store(path);
    assert_int_equal(store_debug_set_max_pages(s, 24), 0);
    static uint8_t huge[256 * 1024];
    test_log l1, l2, l3;
    make_log(&l1, 1, 1);
    make_log(&l2, 2, 2);
    make_log(&l3, 3, 3);
    store_change big = {.kind = STORE_PUT_META, .key = "big", .value = huge, .value_len = sizeof huge};
    store_change small = {.kind = STORE_PUT_META, .key = "small", .value = "s", .value_len = 1};
    store_batch b[4] = {
        {.log = &l1.log},
        {.log = &l2.log, .changes = &big, .n_changes = 1},
        {.log = &l3.log},
        {.changes = &small, .n_changes = 1},
    };
    int rc[4];
    one_flush(s, b, 4, rc);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rc[i], TSE_ERR_STORAGE_FAILURE);
    store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.commits, 0);
    assert_int_equal(last_counter(s), 0);
    assert_false(has_meta(s, "small"));
    assert_false(has_meta(s, "big"));

    assert_int_equal(store_debug_set_max_pages(s, 0), 0);   /* space returns */
    assert_int_equal(store_commit(s, &b[0], NULL), 0);
    assert_int_equal(store_commit(s, &b[1], NULL), 0);
    assert_int_equal(check_contiguous(s), 2);
    assert_true(has_meta(s, "big"));
    store_close(s);
    free(path);
}

static void test_submit_copies_batch(void **state)
{
    (void)state;
    char *path = fresh_path("copy");
    store *s = create_store(path);
    test_log l;
    make_log(&l, 1, 1);
    char key[] = "k", value[] = "value";
    store_tx tx = {.number = 1, .client_id = "c", .pending = (uint8_t *)value, .pending_len = 5};
    store_change c[] = {
        {.kind = STORE_PUT_META, .key = key, .value = value, .value_len = 5},
        {.kind = STORE_PUT_TX, .tx = &tx},
    };
    store_batch b = {.log = &l.log, .changes = c, .n_changes = 2};
    store_ticket *t = NULL;
    assert_int_equal(store_submit(s, &b, &t, NULL), 0);
    memset(l.buf, 'Z', sizeof l.buf);   /* the caller reuses its buffers at once */
    memset(&l.log, 0, sizeof l.log);
    memset(c, 0, sizeof c);
    memset(&tx, 0, sizeof tx);
    key[0] = 'q';
    memcpy(value, "XXXXX", 5);
    assert_int_equal(store_wait(s, t, NULL), 0);
    assert_int_equal(check_contiguous(s), 1);
    uint8_t *v = NULL;
    size_t len = 0;
    assert_int_equal(store_get_meta(s, "k", &v, &len, NULL), 0);
    assert_memory_equal(v, "value", 5);
    free(v);
    seen sx = {0};
    assert_int_equal(store_foreach_open_tx(s, tx_cb, &sx, NULL), 0);
    assert_int_equal(sx.n, 1);
    assert_memory_equal(sx.pending[0], "value", 5);
    store_close(s);
    free(path);
}

/* ---- append-only ---- */

static void expect_refused(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    assert_int_equal(rc, SQLITE_CONSTRAINT);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
}

static void test_logs_append_only(void **state)
{
    (void)state;
    char *path = fresh_path("append");
    store *s = create_store(path);
    for (uint64_t c = 1; c <= 3; c++)
        assert_int_equal(commit_log(s, c, NULL), 0);
    store_close(s);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    expect_refused(db, "UPDATE logs SET data = x'00' WHERE counter = 2");
    expect_refused(db, "DELETE FROM logs WHERE counter = 3");
    expect_refused(db, "DELETE FROM logs");
    expect_refused(db, "INSERT OR REPLACE INTO logs(tse, counter, kind, log_time, data)"
                       " VALUES (1, 1, 1, 1, x'00')");
    expect_refused(db, "INSERT INTO logs(tse, counter, kind, log_time, data) VALUES (1, 2, 1, 1, x'00')"
                       " ON CONFLICT(tse, counter) DO UPDATE SET data = excluded.data");
    sqlite3_close(db);

    s = reopen_store(path);
    assert_int_equal(check_contiguous(s), 3);
    store_close(s);
    free(path);
}

/* ---- group commit under concurrency ---- */

typedef struct engine_model {
    store *s;
    pthread_mutex_t mu;     /* the engine's TSE lock: counters are taken under it */
    uint64_t next;
    int per_thread;
    int failures;
    volatile int writers_done;
    int reader_failures;
} engine_model;

static void *writer_thread(void *arg)
{
    engine_model *m = arg;
    for (int i = 0; i < m->per_thread; i++) {
        test_log l;
        store_ticket *t = NULL;
        pthread_mutex_lock(&m->mu);
        uint64_t c = ++m->next;
        make_log(&l, c, c);
        store_batch b = {.log = &l.log};
        int rc = store_submit(m->s, &b, &t, NULL);
        pthread_mutex_unlock(&m->mu);
        if (rc == 0)
            rc = store_wait(m->s, t, NULL);
        if (rc)
            __atomic_fetch_add(&m->failures, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* Reads while commits run: the last counter never goes back, its log exists. */
static void *reader_thread(void *arg)
{
    engine_model *m = arg;
    uint64_t prev = 0;
    while (!__atomic_load_n(&m->writers_done, __ATOMIC_SEQ_CST)) {
        uint64_t c = 0;
        uint8_t *msg = NULL;
        size_t len = 0;
        if (store_last_log(m->s, &c, NULL, NULL, NULL) != 0 || c < prev ||
            (c && store_get_log(m->s, c, &msg, &len, NULL) != 0))
            m->reader_failures++;
        free(msg);
        prev = c;
    }
    return NULL;
}

/* Runs `threads` writers of `per_thread` logs each on a new store; returns commits/s. */
static double run_writers(int threads, int per_thread, store_stats *st)
{
    char *path = fresh_path("threads");
    engine_model m = {.s = create_store(path), .per_thread = per_thread};
    pthread_mutex_init(&m.mu, NULL);
    pthread_t w[16], r;
    assert_int_equal(pthread_create(&r, NULL, reader_thread, &m), 0);
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        assert_int_equal(pthread_create(&w[i], NULL, writer_thread, &m), 0);
    for (int i = 0; i < threads; i++)
        pthread_join(w[i], NULL);
    double secs = now_s() - t0;
    __atomic_store_n(&m.writers_done, 1, __ATOMIC_SEQ_CST);
    pthread_join(r, NULL);
    assert_int_equal(m.failures, 0);
    assert_int_equal(m.reader_failures, 0);
    store_get_stats(m.s, st);
    store_close(m.s);
    m.s = reopen_store(path);
    assert_int_equal(check_contiguous(m.s), (uint64_t)threads * (uint64_t)per_thread);
    store_close(m.s);
    pthread_mutex_destroy(&m.mu);
    free(path);
    return (double)threads * per_thread / secs;
}

/* A plain append + fsync loop in the same directory, for comparison. */
static double fsyncs_per_second(int n)
{
    char *path = fresh_path("fsync");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char block[4096];
    memset(block, 'f', sizeof block);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        assert_int_equal(write(fd, block, sizeof block), (ssize_t)sizeof block);
        assert_int_equal(fsync(fd), 0);
    }
    double secs = now_s() - t0;
    close(fd);
    unlink(path);
    free(path);
    return n / secs;
}

static void test_concurrent_commits(void **state)
{
    (void)state;
    store_stats one, eight;
    double rate1 = run_writers(1, 500, &one);
    double rate8 = run_writers(8, 500, &eight);
    double fsyncs = fsyncs_per_second(500);
    assert_int_equal(one.commits, 500);
    assert_int_equal(eight.commits, 4000);
    assert_true(eight.flushes < eight.commits);
    printf("store: 1 thread: %.0f commits/s (%llu flushes); 8 threads: %.0f commits/s "
           "(%llu flushes, max %llu batches per flush); write+fsync loop: %.0f fsyncs/s\n",
           rate1, (unsigned long long)one.flushes, rate8, (unsigned long long)eight.flushes,
           (unsigned long long)eight.max_batch, fsyncs);
}

/* ---- full disk ---- */

/* A batch whose log fits but whose state change does not: nothing of it stays. */
static void test_full_database_page_limit(void **state)
{
    (void)state;
    char *path = fresh_path("pages");
    store *s = create_store(path);
    tse_error err = {0};
    for (uint64_t c = 1; c <= 5; c++)
        assert_int_equal(commit_log(s, c, &err), 0);
    assert_int_equal(store_debug_set_max_pages(s, 1), 0);   /* clamps to the current size */

    static uint8_t huge[512 * 1024];
    test_log l;
    make_log(&l, 6, 6);
    store_change c = {.kind = STORE_PUT_META, .key = "huge", .value = huge, .value_len = sizeof huge};
    store_batch b = {.log = &l.log, .changes = &c, .n_changes = 1};
    assert_int_equal(store_commit(s, &b, &err), TSE_ERR_STORAGE_FAILURE);
    assert_true(strlen(err.message) > 0);
    assert_int_equal(last_counter(s), 5);
    assert_false(has_meta(s, "huge"));

    assert_int_equal(store_debug_set_max_pages(s, 0), 0);   /* space returns */
    assert_int_equal(store_commit(s, &b, &err), 0);
    assert_int_equal(commit_log(s, 7, &err), 0);
    store_close(s);
    s = reopen_store(path);
    assert_int_equal(check_contiguous(s), 7);
    assert_true(has_meta(s, "huge"));
    store_close(s);
    free(path);
}

/* Fills the file system holding dir; returns the filler's path (malloc'd). */
static char *fill_disk(const char *dir)
{
    char *filler = NULL;
    assert_true(asprintf(&filler, "%s/filler", dir) > 0);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char block[1024];
    memset(block, 'z', sizeof block);
    while (write(fd, block, sizeof block) == (ssize_t)sizeof block)
        ;
    while (write(fd, block, 1) == 1)
        ;
    close(fd);
    return filler;
}

static void test_full_disk_tmpfs(void **state)
{
    (void)state;
    char *dir = th_path("tiny-tmpfs");
    assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1M,mode=0700") != 0) {
        printf("store: tmpfs mount failed (%s): full-disk test on tmpfs skipped; "
               "the page-limit test covers the failure path\n", strerror(errno));
        free(dir);
        skip();
    }
    char *path = NULL;
    assert_true(asprintf(&path, "%s/full.db", dir) > 0);
    store *s = create_store(path);
    tse_error err = {0};
    for (uint64_t c = 1; c <= 5; c++)
        assert_int_equal(commit_log(s, c, &err), 0);
    char *filler = fill_disk(dir);

    static uint8_t big[256 * 1024];
    test_log l;
    make_log(&l, 6, 6);
    store_change c = {.kind = STORE_PUT_META, .key = "big", .value = big, .value_len = sizeof big};
    store_batch b = {.log = &l.log, .changes = &c, .n_changes = 1};
    int rc = store_commit(s, &b, &err);
    assert_int_equal(rc, TSE_ERR_STORAGE_FAILURE);
    printf("store: commit on a full tmpfs: %s\n", err.message);
    assert_int_equal(last_counter(s), 5);
    assert_false(has_meta(s, "big"));
    assert_int_equal(commit_log(s, 7, &err), TSE_ERR_INVALID_ARGUMENT);   /* 6 is still next */

    assert_int_equal(unlink(filler), 0);   /* space returns */
    assert_int_equal(store_commit(s, &b, &err), 0);
    assert_int_equal(commit_log(s, 7, &err), 0);
    store_close(s);
    s = reopen_store(path);
    assert_int_equal(check_contiguous(s), 7);
    assert_true(has_meta(s, "big"));
    store_close(s);
    assert_int_equal(umount2(dir, MNT_DETACH), 0);
    free(filler);
    free(path);
    free(dir);
}

/* ---- crash durability ---- */

typedef struct crash_child {
    store *s;
    pthread_mutex_t mu;
    uint64_t next;
    int ack_fd;
} crash_child;

static void *crash_writer(void *arg)
{
    crash_child *k = arg;
    for (;;) {
        test_log l;
        store_ticket *t = NULL;
        pthread_mutex_lock(&k->mu);
        uint64_t c = ++k->next;
        make_log(&l, c, c);
        store_batch b = {.log = &l.log};
        int rc = store_submit(k->s, &b, &t, NULL);
        pthread_mutex_unlock(&k->mu);
        if (rc || store_wait(k->s, t, NULL) != 0)
            _exit(3);
        if (write(k->ack_fd, &c, sizeof c) != (ssize_t)sizeof c)
            _exit(4);
    }
    return NULL;
}

/* The child: 4 threads commit forever and report every acknowledged counter. */
static void crash_child_main(const char *path, int ack_fd)
{
    crash_child k = {.ack_fd = ack_fd};
    pthread_mutex_init(&k.mu, NULL);
    if (store_open(path, STORE_CREATE, &k.s, NULL) != 0)
        _exit(2);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, crash_writer, &k) != 0)
            _exit(5);
    pthread_join(t[0], NULL);
    _exit(6);
}

/* Reads acknowledged counters until the deadline (or EOF if deadline < 0);
 * with first_only, returns after the first one. */
static void read_acks(int fd, double deadline, bool first_only, uint64_t *max_ack, uint64_t *n_acks)
{
    while (!first_only || *n_acks == 0) {
        int wait_ms = deadline < 0 ? -1 : (int)((deadline - now_s()) * 1000);
        if (deadline >= 0 && wait_ms <= 0)
            return;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, wait_ms) <= 0)
            continue;
        uint64_t c;
        ssize_t n = read(fd, &c, sizeof c);
        if (n <= 0)
            return;
        assert_int_equal(n, (ssize_t)sizeof c);
        if (c > *max_ack)
            *max_ack = c;
        (*n_acks)++;
    }
}

static void crash_round(unsigned seed)
{
    char *path = fresh_path("crash");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child_main(path, fds[1]);
    }
    close(fds[1]);
    uint64_t max_ack = 0, n_acks = 0;
    read_acks(fds[0], now_s() + 10, true, &max_ack, &n_acks);   /* the child is running */
    int delay_ms = (int)(rand_r(&seed) % 400);
    read_acks(fds[0], now_s() + delay_ms / 1000.0, false, &max_ack, &n_acks);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    read_acks(fds[0], -1, false, &max_ack, &n_acks);
    close(fds[0]);

    store *s = reopen_store(path);   /* the dead owner's lock is gone */
    uint64_t n = check_contiguous(s);
    printf("store: SIGKILL after %d ms: %llu acknowledged (max %llu), %llu stored\n", delay_ms,
           (unsigned long long)n_acks, (unsigned long long)max_ack, (unsigned long long)n);
    assert_true(n_acks > 0);
    assert_true(n >= max_ack);
    store_close(s);
    free(path);
}

static void test_crash_durability(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("store: crash test seed %u\n", seed);
    for (int round = 0; round < 3; round++)
        crash_round(seed + (unsigned)round);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_open_reopen),
        cmocka_unit_test(test_create_existing_refused),
        cmocka_unit_test(test_open_missing_refused),
        cmocka_unit_test(test_not_a_store_refused),
        cmocka_unit_test(test_second_open_same_process),
        cmocka_unit_test(test_second_open_other_process),
        cmocka_unit_test(test_commit_and_read_back),
        cmocka_unit_test(test_counter_gap_refused),
        cmocka_unit_test(test_flush_drops_only_failed_batches),
        cmocka_unit_test(test_late_signature),
        cmocka_unit_test(test_full_flush_fails_every_batch),
        cmocka_unit_test(test_submit_copies_batch),
        cmocka_unit_test(test_logs_append_only),
        cmocka_unit_test(test_concurrent_commits),
        cmocka_unit_test(test_full_database_page_limit),
        cmocka_unit_test(test_full_disk_tmpfs),
        cmocka_unit_test(test_crash_durability),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
