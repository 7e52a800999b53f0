/*
 * test_export.c - exportData under every filter (each archive checked with
 * the openssl command line), the filter errors, incremental export while
 * transactions run, deleteStoredData after export, and restoreFromBackup
 * from good and tampered archives.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/logmsg.h"
#include "export_check.h"
#include "ready_tse.h"
#include <sqlite3.h>

#define OTHER_CLIENT "KASSE-02"

static ex_archive arch;   /* large: one at a time */

static void tx(tse *t, const char *client, int updates, tse_result *start)
{
    tse_result r, u;   /* every signing call needs a result */
    const uint8_t data[] = "Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar";
    assert_int_equal(tse_start_transaction(t, client, data, sizeof data - 1, "Kassenbeleg-V1", NULL, 0, &r), TSE_OK);
    if (start)
        *start = r;
    for (int i = 0; i < updates; i++)
        assert_int_equal(tse_update_transaction(t, client, r.transaction_number, data, 3, "Kassenbeleg-V1",
                                                TSE_UPDATE_SIGNED, &u),
                         TSE_OK);
    assert_int_equal(tse_finish_transaction(t, client, r.transaction_number, data, sizeof data - 1,
                                            "Kassenbeleg-V1", NULL, 0, &u),
                     TSE_OK);
}

static uint64_t counter(tse *t)
{
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    return info.signature_counter;
}

static char *archive_path(void)
{
    static int seq;
    char name[64];
    snprintf(name, sizeof name, "export-%d.tar", seq++);
    return th_path(name);
}

/* Exports with `f`, checks the archive with openssl; returns the result. */
static tse_export_result export_checked(tse *t, const tse_export_filter *f, char **path_out)
{
    char *path = archive_path();
    tse_export_result res;
    assert_int_equal(ex_export_file(t, f, path, &res), TSE_OK);
    ex_check_archive(t, path, &arch);
    assert_int_equal(res.logs, arch.n_logs);
    assert_int_equal(res.cursor, arch.counters[arch.n_logs - 1]);
    size_t len = 0;
    free(th_read_file(path, &len));
    assert_int_equal(res.bytes, len);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return res;
}

/* ---------------------------------------------------------------- filters */

static void test_everything(void **state)
{
    (void)state;
    tse *t = ready_tse("all", NULL, NULL);
    tx(t, READY_CLIENT, 1, NULL);
    tx(t, READY_CLIENT, 0, NULL);
    uint64_t last = counter(t);
    tse_export_result res = export_checked(t, NULL, NULL);
    assert_int_equal(res.logs, last);
    assert_int_equal(res.cursor, last);
    for (uint64_t c = 1; c <= last; c++)
        assert_true(ex_has(&arch, c));
    tse_close(t);
}

static void test_transaction_number(void **state)
{
    (void)state;
    tse *t = ready_tse("txno", NULL, NULL);
    assert_int_equal(tse_register_client(t, OTHER_CLIENT), TSE_OK);
    tx(t, READY_CLIENT, 0, NULL);
    /* transaction A of client 1 with, between its start and finish, a
     * transaction of client 2 and a system log */
    tse_result a, b;
    const uint8_t d[] = "x";
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, d, 1, "Kassenbeleg-V1", NULL, 0, &a), TSE_OK);
    assert_int_equal(tse_start_transaction(t, OTHER_CLIENT, d, 1, "Kassenbeleg-V1", NULL, 0, &b), TSE_OK);
    assert_int_equal(tse_self_test(t), TSE_OK);
    uint64_t self_test = counter(t);
    assert_int_equal(tse_finish_transaction(t, OTHER_CLIENT, b.transaction_number, d, 1, "Kassenbeleg-V1", NULL, 0,
                                            &b),
                     TSE_OK);
    tse_result fin;
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, a.transaction_number, d, 1, "Kassenbeleg-V1", NULL, 0,
                                            &fin),
                     TSE_OK);
    tx(t, READY_CLIENT, 0, NULL);

    tse_export_filter f = {.transaction_number = a.transaction_number};
    export_checked(t, &f, NULL);
    /* A's two logs, the system log between them; B's logs are other transactions */
    assert_int_equal(arch.n_logs, 3);
    assert_int_equal(arch.counters[0], a.signature_counter);
    assert_int_equal(arch.counters[1], self_test);
    assert_int_equal(arch.counters[2], fin.signature_counter);
    assert_int_equal(arch.tx_numbers[1], 0);

    /* with the client: the same; with the other client: not found */
    f.client_id = READY_CLIENT;
    export_checked(t, &f, NULL);
    assert_int_equal(arch.n_logs, 3);
    f.client_id = OTHER_CLIENT;
    char *p = archive_path();
    assert_int_equal(ex_export_file(t, &f, p, NULL), TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND);
    free(p);
    tse_close(t);
}

static void test_transaction_range(void **state)
{
    (void)state;
    tse *t = ready_tse("range", NULL, NULL);
    assert_int_equal(tse_register_client(t, OTHER_CLIENT), TSE_OK);
    tse_result first, second, third;
    tx(t, READY_CLIENT, 0, &first);
    tx(t, OTHER_CLIENT, 1, &second);
    tx(t, READY_CLIENT, 0, &third);
    tx(t, READY_CLIENT, 0, NULL);

    /* 1..3 without client: every log from the start of 1 to the finish of 3 */
    tse_export_filter f = {.start_transaction_number = first.transaction_number,
                           .end_transaction_number = third.transaction_number};
    export_checked(t, &f, NULL);
    assert_int_equal(arch.counters[0], first.signature_counter);
    assert_int_equal(arch.counters[arch.n_logs - 1], third.signature_counter + 1);
    assert_int_equal(arch.n_logs, third.signature_counter + 2 - first.signature_counter);

    /* with the client: the other client's transaction is left out */
    f.client_id = READY_CLIENT;
    export_checked(t, &f, NULL);
    assert_int_equal(arch.n_logs, 4);
    for (size_t i = 0; i < arch.n_logs; i++)
        assert_string_equal(arch.clients[i], READY_CLIENT);

    /* an open end: from transaction 2 to the last */
    f = (tse_export_filter){.start_transaction_number = second.transaction_number};
    export_checked(t, &f, NULL);
    assert_int_equal(arch.counters[0], second.signature_counter);
    assert_int_equal(arch.counters[arch.n_logs - 1], counter(t));
    tse_close(t);
}

static void test_dates(void **state)
{
    (void)state;
    tse *t = ready_tse("dates", NULL, NULL);
    /* the TSE's time only goes forward: an early and a late transaction */
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(tse_update_time(t, now + 3600), TSE_OK);
    tse_result early, late;
    tx(t, READY_CLIENT, 0, &early);
    assert_int_equal(tse_update_time(t, now + 7200), TSE_OK);
    tx(t, READY_CLIENT, 0, &late);

    /* from the late time on: the late transaction, nothing before */
    tse_export_filter f = {.start_date = now + 7200};
    export_checked(t, &f, NULL);
    assert_true(ex_has(&arch, late.signature_counter));
    for (size_t i = 0; i < arch.n_logs; i++) {
        assert_true(arch.times[i] >= now + 7200);
        assert_true(arch.counters[i] > early.signature_counter + 1);
    }

    /* up to the early time (+ a minute): everything up to the early transaction */
    f = (tse_export_filter){.end_date = now + 3660};
    export_checked(t, &f, NULL);
    assert_int_equal(arch.counters[0], 1);
    assert_int_equal(arch.counters[arch.n_logs - 1], early.signature_counter + 1);
    for (size_t i = 0; i < arch.n_logs; i++)
        assert_true(arch.times[i] <= now + 3660);

    /* both ends with the client: the early transaction's two logs and the system logs between */
    f = (tse_export_filter){.start_date = now + 3000, .end_date = now + 3660, .client_id = READY_CLIENT};
    export_checked(t, &f, NULL);
    size_t tx_logs = 0;
    for (size_t i = 0; i < arch.n_logs; i++) {
        tx_logs += arch.tx_numbers[i] != 0;
        assert_true(arch.times[i] >= now + 3000 && arch.times[i] <= now + 3660);
    }
    assert_int_equal(tx_logs, 2);
    tse_close(t);
}

static int count_bytes(void *ctx, const uint8_t *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return 0;
}

static void expect(tse *t, tse_export_filter f, tse_err want)
{
    size_t bytes = 0;
    tse_export_result res = {.logs = 99};
    assert_int_equal(tse_export_data(t, &f, count_bytes, &bytes, &res), want);
    assert_int_equal(bytes, 0);   /* refused before anything was written */
    assert_int_equal(res.logs, 0);
    assert_non_null(strstr(tse_last_error_message(), tse_errname(want)));
}

static void test_filter_errors(void **state)
{
    (void)state;
    tse *t = ready_tse("errors", NULL, NULL);
    tse_result r;
    tx(t, READY_CLIENT, 0, &r);
    int64_t now = (int64_t)time(NULL);
    const tse_err MISMATCH = TSE_ERR_PARAMETER_MISMATCH;
    expect(t, (tse_export_filter){.transaction_number = 1, .start_transaction_number = 1}, MISMATCH);
    expect(t, (tse_export_filter){.transaction_number = 1, .start_date = now}, MISMATCH);
    expect(t, (tse_export_filter){.end_transaction_number = 1, .end_date = now}, MISMATCH);
    expect(t, (tse_export_filter){.start_transaction_number = 5, .end_transaction_number = 2}, MISMATCH);
    expect(t, (tse_export_filter){.start_date = now, .end_date = now - 1}, MISMATCH);
    expect(t, (tse_export_filter){.start_date = -5}, MISMATCH);
    expect(t, (tse_export_filter){.cursor = 1, .client_id = READY_CLIENT}, MISMATCH);
    expect(t, (tse_export_filter){.cursor = 1, .start_date = now}, MISMATCH);
    expect(t, (tse_export_filter){.client_id = ""}, MISMATCH);
    expect(t, (tse_export_filter){.maximum_number_records = 2}, TSE_ERR_TOO_MANY_RECORDS);
    expect(t, (tse_export_filter){.transaction_number = r.transaction_number, .maximum_number_records = 1},
           TSE_ERR_TOO_MANY_RECORDS);
    expect(t, (tse_export_filter){.transaction_number = r.transaction_number + 100},
           TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND);
    expect(t, (tse_export_filter){.start_transaction_number = r.transaction_number + 1},
           TSE_ERR_NO_DATA_AVAILABLE);
    expect(t, (tse_export_filter){.end_date = 1000000000}, TSE_ERR_NO_DATA_AVAILABLE);
    expect(t, (tse_export_filter){.start_date = now + 86400}, TSE_ERR_NO_DATA_AVAILABLE);
    expect(t, (tse_export_filter){.cursor = counter(t)}, TSE_ERR_NO_DATA_AVAILABLE);
    expect(t, (tse_export_filter){.client_id = "NOBODY"}, TSE_ERR_ID_NOT_FOUND);
    size_t bytes = 0;
    assert_int_equal(tse_export_data(t, NULL, NULL, &bytes, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_export_data(NULL, NULL, count_bytes, &bytes, NULL), TSE_ERR_INVALID_ARGUMENT);

    /* exactly at the limit is fine */
    tse_export_filter f = {.transaction_number = r.transaction_number, .maximum_number_records = 2};
    export_checked(t, &f, NULL);
    assert_int_equal(arch.n_logs, 2);
    tse_close(t);
}

typedef struct partial {
    uint8_t buf[1 << 16];
    size_t len, refuse_at;
    int calls_after;
} partial;

static int refuse_later(void *ctx, const uint8_t *data, size_t len)
{
    partial *p = ctx;
    if (p->len >= p->refuse_at) {
        p->calls_after++;
        return TSE_ERR_UNREACHABLE;
    }
    assert_true(p->len + len <= sizeof p->buf);
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    return 0;
}

/* A receiver that stops the export: its code comes back, nothing more is
 * written to it, what it got does not end like a complete archive, and the
 * export does not count as done for deleteStoredData. */
static void test_receiver_stops(void **state)
{
    (void)state;
    tse *t = ready_tse("stop", NULL, NULL);
    for (int i = 0; i < 10; i++)
        tx(t, READY_CLIENT, 0, NULL);
    static partial p;
    p.refuse_at = 1;   /* after the first chunk */
    assert_int_equal(tse_export_data(t, NULL, refuse_later, &p, NULL), TSE_ERR_UNREACHABLE);
    assert_int_equal(p.calls_after, 1);
    assert_true(p.len >= 1024);
    static const uint8_t zero[1024];
    assert_memory_not_equal(p.buf + p.len - 1024, zero, 1024);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);
    tse_close(t);
}

/* A 64-character client id makes names longer than ustar's 100 characters. */
static void test_long_client(void **state)
{
    (void)state;
    tse *t = ready_tse("long", NULL, NULL);
    char client[TSE_MAX_CLIENT_ID_LEN + 1];
    memset(client, 'K', TSE_MAX_CLIENT_ID_LEN);
    client[TSE_MAX_CLIENT_ID_LEN] = 0;
    assert_int_equal(tse_register_client(t, client), TSE_OK);
    tx(t, client, 0, NULL);
    tse_export_filter f = {.client_id = client, .start_date = 1};
    char *path = NULL;
    export_checked(t, &f, &path);
    assert_string_equal(arch.clients[arch.n_logs - 1], client);
    /* GNU tar reads the names too */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tar tf '%s' | grep -c 'Client-%s.log$'", path, client);
    FILE *p = popen(cmd, "r");
    char line[32] = "";
    assert_non_null(fgets(line, sizeof line, p));
    pclose(p);
    assert_int_equal(atoi(line), 2);
    free(path);
    tse_close(t);
}

/* ------------------------------------------------------------ incremental */

typedef struct runner {
    tse *t;
    int n;
} runner;

static void *run_transactions(void *p)
{
    runner *r = p;
    for (int i = 0; i < r->n; i++)
        tx(r->t, READY_CLIENT, 0, NULL);
    return NULL;
}

static void test_incremental(void **state)
{
    (void)state;
    tse *t = ready_tse("incr", NULL, NULL);
    tx(t, READY_CLIENT, 0, NULL);
    static uint8_t seen[4096];
    memset(seen, 0, sizeof seen);
    uint64_t cursor = 0;
    /* exports run while another thread writes transactions */
    runner r = {t, 20};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_transactions, &r), 0);
    int exports = 0;
    for (int round = 0; round < 200; round++) {
        tse_export_filter f = {.cursor = cursor};
        char *path = archive_path();
        tse_export_result res;
        tse_err rc = ex_export_file(t, &f, path, &res);
        if (rc == TSE_OK) {
            ex_check_archive(t, path, &arch);
            /* exactly the counters cursor+1 .. res.cursor, each once */
            assert_int_equal(arch.n_logs, res.cursor - cursor);
            for (size_t i = 0; i < arch.n_logs; i++) {
                assert_int_equal(arch.counters[i], cursor + 1 + i);
                assert_int_equal(seen[arch.counters[i]]++, 0);
            }
            cursor = res.cursor;
            exports++;
        } else
            assert_int_equal(rc, TSE_ERR_NO_DATA_AVAILABLE);
        free(path);
        if (exports >= 4)
            break;
        usleep(20000);
    }
    pthread_join(th, NULL);
    /* and the rest after the writer stopped */
    tse_export_filter f = {.cursor = cursor};
    char *path = archive_path();
    tse_export_result res;
    if (cursor < counter(t)) {
        assert_int_equal(ex_export_file(t, &f, path, &res), TSE_OK);
        ex_check_archive(t, path, &arch);
        for (size_t i = 0; i < arch.n_logs; i++)
            assert_int_equal(seen[arch.counters[i]]++, 0);
        cursor = res.cursor;
    }
    free(path);
    assert_true(exports >= 2);
    assert_int_equal(cursor, counter(t));
    for (uint64_t c = 1; c <= cursor; c++)
        assert_int_equal(seen[c], 1);   /* nothing missed, nothing repeated */
    tse_close(t);
}

/* --------------------------------------------------------------- delete */

static void test_delete(void **state)
{
    (void)state;
    tse_create_options v2 = {.log_format_version = 2};   /* version 2: deleteStoredData, restoreFromBackup logs */
    tse *t = ready_tse("delete", &v2, NULL);
    tx(t, READY_CLIENT, 1, NULL);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);

    /* a filtered export does not count, nor does a signature counter range
     * that happens to hold every log */
    tse_export_filter f = {.start_date = 1};
    export_checked(t, &f, NULL);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);
    tse_export_filter g = {.start_signature_counter = 1, .end_signature_counter = counter(t)};
    export_checked(t, &g, NULL);
    assert_int_equal(arch.n_logs, counter(t));
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);
    tse_export_filter h = {.start_signature_counter = 2, .end_signature_counter = 3};
    export_checked(t, &h, NULL);
    assert_int_equal(arch.n_logs, 2);
    assert_int_equal(arch.counters[0], 2);
    assert_int_equal(arch.counters[1], 3);
    tse_export_filter bad = {.start_signature_counter = 3, .end_signature_counter = 2}, cur = {.cursor = 1, .end_signature_counter = 5};
    char *bad_path = th_path("bad-range.tar");
    assert_int_equal(ex_export_file(t, &bad, bad_path, NULL), TSE_ERR_PARAMETER_MISMATCH);
    assert_int_equal(ex_export_file(t, &cur, bad_path, NULL), TSE_ERR_PARAMETER_MISMATCH);
    free(bad_path);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_OK);
    tse_free(msg);

    tse_export_result full = export_checked(t, NULL, NULL);
    /* only the admin deletes */
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    /* the logOut and the login came after the export: refused, nothing deleted, nothing logged */
    uint64_t before = counter(t);
    assert_int_equal(before, full.cursor + 2);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);
    char want[96];
    snprintf(want, sizeof want, "2 logs are not exported yet (logs %llu..%llu", (unsigned long long)full.cursor + 1,
             (unsigned long long)before);
    assert_non_null(strstr(tse_last_error_message(), want));
    assert_int_equal(counter(t), before);
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_OK);
    tse_free(msg);

    /* exported up to the login, and one transaction open since: its log may stay unexported */
    tse_export_result all = export_checked(t, NULL, NULL);
    assert_int_equal(all.cursor, before);
    tse_result open;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &open), TSE_OK);
    assert_int_equal(tse_delete_stored_data(t), TSE_OK);

    /* the exported logs are gone; the open transaction's start and deleteStoredData stay */
    uint64_t last = counter(t);
    assert_int_equal(last, before + 2);
    char op[64];
    ready_log_operation(t, last, op, sizeof op);
    assert_string_equal(op, "deleteStoredData");
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);
    assert_int_equal(tse_read_log_by_counter(t, before, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);
    export_checked(t, NULL, NULL);
    assert_int_equal(arch.n_logs, 2);
    assert_int_equal(arch.counters[0], open.signature_counter);
    /* finished, its logs are those of no open transaction: unexported until the next export */
    tse_result fin;
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, open.transaction_number, NULL, 0, "Kassenbeleg-V1", NULL,
                                            0, &fin), TSE_OK);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);
    assert_non_null(strstr(tse_last_error_message(), "1 log is not exported yet"));
    export_checked(t, NULL, NULL);
    /* that export covered the rest: a delete leaves only its own log, the next is refused for it */
    assert_int_equal(tse_delete_stored_data(t), TSE_OK);
    last = counter(t);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);
    assert_int_equal(counter(t), last);
    export_checked(t, NULL, NULL);
    assert_int_equal(arch.n_logs, 1);
    assert_int_equal(arch.counters[0], last);

    /* counters and transaction numbers go on */
    tse_result r;
    tx(t, READY_CLIENT, 0, &r);
    assert_int_equal(r.signature_counter, last + 1);
    assert_int_equal(r.transaction_number, 3);
    tse_close(t);
}

/* --------------------------------------------------------------- restore */

static void same_logs(tse *t, uint64_t from, uint64_t to, uint8_t **copies, size_t *lens)
{
    for (uint64_t c = from; c <= to; c++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(tse_read_log_by_counter(t, c, &msg, &len), TSE_OK);
        assert_int_equal(len, lens[c]);
        assert_memory_equal(msg, copies[c], len);
        tse_free(msg);
    }
}

static void test_restore_after_delete(void **state)
{
    (void)state;
    tse_create_options v2 = {.log_format_version = 2};   /* version 2: deleteStoredData, restoreFromBackup logs */
    tse *t = ready_tse("rdel", &v2, NULL);
    tx(t, READY_CLIENT, 1, NULL);
    char *path = NULL;
    tse_export_result full = export_checked(t, NULL, &path);
    static uint8_t *copies[64];
    static size_t lens[64];
    for (uint64_t c = 1; c <= full.cursor; c++)
        assert_int_equal(tse_read_log_by_counter(t, c, &copies[c], &lens[c]), TSE_OK);
    assert_int_equal(tse_delete_stored_data(t), TSE_OK);
    uint64_t deleted_log = counter(t);

    const char *paths[] = {path};
    uint64_t added = 0;
    assert_int_equal(tse_restore_from_backup(t, paths, 1, &added), TSE_OK);
    assert_int_equal(added, full.cursor);
    same_logs(t, 1, full.cursor, copies, lens);
    /* the restore is a system log of its own */
    assert_int_equal(counter(t), deleted_log + 1);
    char op[64];
    ready_log_operation(t, counter(t), op, sizeof op);
    assert_string_equal(op, "restoreFromBackup");
    /* a second restore adds nothing (the logs match byte for byte) */
    assert_int_equal(tse_restore_from_backup(t, paths, 1, &added), TSE_OK);
    assert_int_equal(added, 0);
    export_checked(t, NULL, NULL);
    assert_int_equal(arch.n_logs, counter(t));
    for (uint64_t c = 1; c <= full.cursor; c++)
        tse_free(copies[c]);
    free(path);
    tse_close(t);
}

/* Data loss: the store loses log rows behind the engine's back (the way a
 * damaged disk would); the export archives bring every one of them back. */
static void test_restore_after_loss(void **state)
{
    (void)state;
    char *db = NULL;
    tse *t = ready_tse("rloss", NULL, &db);
    tx(t, READY_CLIENT, 0, NULL);
    char *a1 = NULL, *a2 = NULL;
    tse_export_result e1 = export_checked(t, NULL, &a1);
    tse_result late;
    tx(t, READY_CLIENT, 1, &late);
    tse_export_filter f = {.cursor = e1.cursor};
    tse_export_result e2 = export_checked(t, &f, &a2);
    static uint8_t *copies[64];
    static size_t lens[64];
    for (uint64_t c = 1; c <= e2.cursor; c++)
        assert_int_equal(tse_read_log_by_counter(t, c, &copies[c], &lens[c]), TSE_OK);
    tse_close(t);

    /* every log but the last is lost, as on a damaged disk: through SQLite
     * itself, past the store's append-only trigger */
    sqlite3 *sq = NULL;
    assert_int_equal(sqlite3_open(db, &sq), SQLITE_OK);
    char sql[200];
    snprintf(sql, sizeof sql,
             "DROP TRIGGER logs_no_delete; DELETE FROM logs WHERE counter < %llu;",
             (unsigned long long)e2.cursor);
    assert_int_equal(sqlite3_exec(sq, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_changes(sq), (int)e2.cursor - 1);
    sqlite3_close(sq);

    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(db, &oo, &t), TSE_OK);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);

    /* the first archive alone would leave a gap: refused, nothing changes */
    uint64_t before = counter(t), added = 99;
    const char *only1[] = {a1};
    assert_int_equal(tse_restore_from_backup(t, only1, 1, &added), TSE_ERR_RESTORE_FAILED);
    assert_non_null(strstr(tse_last_error_message(), "gap"));
    assert_int_equal(added, 0);
    assert_int_equal(counter(t), before);
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);

    const char *both[] = {a1, a2};
    assert_int_equal(tse_restore_from_backup(t, both, 2, &added), TSE_OK);
    assert_int_equal(added, e2.cursor - 1);
    same_logs(t, 1, e2.cursor, copies, lens);
    /* counters and transaction numbers go on after the restored ones */
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    tse_result next;
    tx(t, READY_CLIENT, 0, &next);
    assert_int_equal(next.transaction_number, late.transaction_number + 1);
    assert_int_equal(next.signature_counter, counter(t) - 1);
    ready_check_all_logs(t);
    for (uint64_t c = 1; c <= e2.cursor; c++)
        tse_free(copies[c]);
    free(a1);
    free(a2);
    free(db);
    tse_close(t);
}

/* The store file is replaced by an older copy of itself (a disk restored
 * from a backup). Opened for recovery it signs nothing, so the counters of
 * the lost logs are not used again; the restore brings every later log back
 * and counters and transaction numbers go on after them. */
static void test_restore_old_copy(void **state)
{
    (void)state;
    char *db = NULL;
    tse_create_options v2 = {.log_format_version = 2};   /* version 2: deleteStoredData, restoreFromBackup logs */
    tse *t = ready_tse("rold", &v2, &db);
    tx(t, READY_CLIENT, 0, NULL);
    tse_close(t);
    size_t db_len = 0;
    uint8_t *old = th_read_file(db, &db_len);   /* closed: the WAL is checkpointed */
    assert_non_null(old);

    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(db, &oo, &t), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    tse_result late;
    tx(t, READY_CLIENT, 2, &late);
    char *a = NULL;
    tse_export_result e = export_checked(t, NULL, &a);
    static uint8_t *copies[64];
    static size_t lens[64];
    assert_true(e.cursor < 64);
    for (uint64_t c = 1; c <= e.cursor; c++)
        assert_int_equal(tse_read_log_by_counter(t, c, &copies[c], &lens[c]), TSE_OK);
    tse_close(t);
    assert_int_equal(th_write_file(db, old, db_len), 0);
    free(old);

    oo.recovery = 1;
    assert_int_equal(tse_open(db, &oo, &t), TSE_OK);
    uint64_t before = counter(t);
    assert_true(before < e.cursor);
    tse_result r;
    const uint8_t pd[] = "x";
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, pd, 1, "Kassenbeleg-V1", NULL, 0, &r),
                     TSE_ERR_WRONG_STATE);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_ERR_WRONG_STATE);
    assert_int_equal(tse_self_test(t), TSE_OK);
    assert_int_equal(counter(t), before);   /* nothing signed, nothing stored */

    uint64_t added = 0;
    const char *one[] = {a};
    assert_int_equal(tse_restore_from_backup(t, one, 1, &added), TSE_OK);
    assert_int_equal(added, e.cursor - before);
    same_logs(t, 1, e.cursor, copies, lens);
    assert_int_equal(counter(t), e.cursor + 1);   /* the restoreFromBackup log */
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    tse_result next;
    tx(t, READY_CLIENT, 0, &next);
    assert_int_equal(next.transaction_number, late.transaction_number + 1);
    ready_check_all_logs(t);
    for (uint64_t c = 1; c <= e.cursor; c++)
        tse_free(copies[c]);
    free(a);
    free(db);
    tse_close(t);
}

/* Rewrites the archive at `src` into a new file after `edit` changed its entries. */
static char *tampered(const char *src, void (*edit)(th_tar_entry *e, size_t *n, void *ctx), void *ctx)
{
    th_tar_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(th_tar_read(src, &e, &n), 0);
    edit(e, &n, ctx);
    char *path = archive_path();
    assert_int_equal(ex_write_tar(path, e, n), 0);
    th_tar_free(e, n);
    return path;
}

static th_tar_entry *nth_log(th_tar_entry *e, size_t n, int k)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(e[i].name, ".log") && k-- == 0)
            return &e[i];
    fail_msg("no such log");
    return NULL;
}

static void flip_signature(th_tar_entry *e, size_t *n, void *ctx)
{
    (void)ctx;
    th_tar_entry *l = nth_log(e, *n, 3);
    l->data[l->len - 1] ^= 1;
}

static void flip_content(th_tar_entry *e, size_t *n, void *ctx)
{
    (void)ctx;
    th_tar_entry *l = nth_log(e, *n, 4);
    l->data[l->len / 2] ^= 0x20;
}

static void rename_log(th_tar_entry *e, size_t *n, void *ctx)
{
    (void)ctx;
    th_tar_entry *l = nth_log(e, *n, 2);
    char *sig = strstr(l->name, "_Sig-");
    sig[5] = sig[5] == '9' ? '8' : (char)(sig[5] + 1);
}

static void add_stranger(th_tar_entry *e, size_t *n, void *ctx)
{
    (void)ctx;
    free(e[0].name);
    e[0].name = strdup("notes.txt");
    (void)n;
}

/* One of our logs is replaced by another TSE's log. */
static void foreign_log(th_tar_entry *e, size_t *n, void *ctx)
{
    th_tar_entry *other = ctx, *l = nth_log(e, *n, 1);
    free(l->name);
    free(l->data);
    l->name = strdup(other->name);
    l->data = malloc(other->len + 1);
    memcpy(l->data, other->data, other->len);
    l->len = other->len;
}

/* Our TSE certificate is replaced by another TSE's. */
static void swap_certificate(th_tar_entry *e, size_t *n, void *ctx)
{
    th_tar_entry *other = ctx;
    for (size_t i = 0; i < *n; i++)
        if (strstr(e[i].name, "_X509.")) {
            free(e[i].name);
            free(e[i].data);
            e[i].name = strdup(other->name);
            e[i].data = malloc(other->len + 1);
            memcpy(e[i].data, other->data, other->len);
            e[i].len = other->len;
            return;
        }
}

static void test_restore_tampered(void **state)
{
    (void)state;
    tse *t = ready_tse("rbad", NULL, NULL);
    tx(t, READY_CLIENT, 2, NULL);
    char *good = NULL;
    export_checked(t, NULL, &good);
    assert_int_equal(tse_delete_stored_data(t), TSE_OK);
    uint64_t before = counter(t);

    /* another TSE's archive and certificate */
    tse *o = ready_tse("rother", NULL, NULL);
    tx(o, READY_CLIENT, 2, NULL);
    char *foreign = NULL;
    export_checked(o, NULL, &foreign);
    th_tar_entry *oe = NULL;
    size_t on = 0;
    assert_int_equal(th_tar_read(foreign, &oe, &on), 0);
    th_tar_entry *ocert = NULL;
    for (size_t i = 0; i < on; i++)
        if (strstr(oe[i].name, "_X509.") && !ocert)
            ocert = &oe[i];
    tse_close(o);

    char *bad[7] = {
        tampered(good, flip_signature, NULL), tampered(good, flip_content, NULL), tampered(good, rename_log, NULL),
        tampered(good, add_stranger, NULL),   tampered(good, swap_certificate, ocert),
        tampered(good, foreign_log, nth_log(oe, on, 1)), foreign,
    };
    const char *why[7] = {"signature", "", "name", "unexpected", "not one of this TSE's chain", "another TSE",
                          "not one of this TSE's chain"};
    for (int i = 0; i < 7; i++) {
        /* the good archive first: a bad one after it still changes nothing */
        const char *paths[] = {good, bad[i]};
        uint64_t added = 99;
        assert_int_equal(tse_restore_from_backup(t, paths, 2, &added), TSE_ERR_RESTORE_FAILED);
        assert_non_null(strstr(tse_last_error_message(), why[i]));
        assert_int_equal(added, 0);
        assert_int_equal(counter(t), before);
        uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);
        free(bad[i]);
    }
    /* not an archive at all */
    char *junk = th_path("junk.tar");
    assert_int_equal(th_write_file(junk, "hello", 5), 0);
    const char *jp[] = {junk};
    assert_int_equal(tse_restore_from_backup(t, jp, 1, NULL), TSE_ERR_RESTORE_FAILED);
    free(junk);
    /* and the good one alone still works */
    const char *gp[] = {good};
    uint64_t added = 0;
    assert_int_equal(tse_restore_from_backup(t, gp, 1, &added), TSE_OK);
    assert_true(added > 0);
    ready_check_all_logs(t);
    th_tar_free(oe, on);
    free(good);
    tse_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_everything),
        cmocka_unit_test(test_transaction_number),
        cmocka_unit_test(test_transaction_range),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_filter_errors),
        cmocka_unit_test(test_receiver_stops),
        cmocka_unit_test(test_long_client),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_restore_after_delete),
        cmocka_unit_test(test_restore_after_loss),
        cmocka_unit_test(test_restore_old_copy),
        cmocka_unit_test(test_restore_tampered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
