/*
 * test_nomem.c - allocation failures along whole operations, in SQLite's
 * way: for n = 1, 2, 3 ... the n-th allocation (our code, SQLite, OpenSSL;
 * see alloc_fail.h) fails while one SE API operation runs. With "io" as
 * the first argument the n-th write, sync or truncate of a store file
 * fails instead (io_fail.h): a disk error at every point of the operation. Each time the
 * operation must end with a clean error (or succeed where the failure was
 * absorbed), the engine must agree with its store, and no log may be half
 * written or lost; once n is past the operation's allocations it succeeds.
 * At the end of each operation's run the TSE is reopened: what the store
 * holds must be what the engine showed, and every log must verify. Leaks of
 * a failure path are found by LeakSanitizer in the sanitizer build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "io_fail.h"
#include "ready_tse.h"

/* What fails: allocations (alloc_fail.h) or store I/O (io_fail.h, "io"). */
static bool io_mode;
static const char *what = "allocation";

static void arm(long n, bool persistent)
{
    if (io_mode)
        persistent ? io_arm_persistent(n) : io_arm(n);
    else
        persistent ? af_arm_persistent(n) : af_arm(n);
}

static void disarm(void)
{
    if (io_mode)
        io_disarm();
    else
        af_disarm();
}

static bool armed_hit(void)
{
    return io_mode ? io_hit() : af_hit();
}

/* Stop a run that never ends (an operation that allocates without bound). */
#define MAX_STEPS 20000

/* The steps to run (argv[2], argv[3]): a long operation is run in parts, by
 * meson tests of their own; last 0: until the operation succeeds. */
static long first_step = 1, last_step = 0;

typedef struct fx {
    tse *t;
    char *path;
    char puk[TSE_PUK_LEN + 1];
    uint64_t tx;              /* an open transaction, 0: none */
    long clients;             /* clients registered by the test so far */
    bool logged_out;          /* the admin logged out */
    char *archive;            /* restore: the full export */
    uint64_t archived;        /* restore: its highest counter */
    int expected;             /* logs one success writes */
    void (*check)(struct fx *f, tse_err rc);   /* after each step, allocations working again; may be NULL */
    bool persistent;          /* every allocation from the n-th on fails */
    uint64_t kept_before;     /* kept data of another processType: the counter before the step */
    uint64_t before;          /* another user's login: the counter before the step */
} fx;

typedef tse_err (*op_fn)(fx *f);

/* What the engine shows and what its store holds. */
typedef struct snap {
    tse_info info;
    uint64_t stored_counter;  /* counter of the last log in the store */
} snap;

static snap take(fx *f)
{
    snap s;
    assert_int_equal(tse_get_info(f->t, &s.info), TSE_OK);
    uint8_t *msg = NULL;
    size_t len = 0;
    s.stored_counter = 0;
    if (tse_read_log_message(f->t, &msg, &len) == TSE_OK) {
        logmsg m;
        tse_error err = {0};
        assert_true(logmsg_parse(msg, len, &m, &err));
        s.stored_counter = m.signature_counter;
        tse_free(msg);
    }
    return s;
}

static bool clean_error(tse_err rc, const tse_err *also)
{
    /* a signature that could not be made: the documented code, nothing stored */
    if (rc == TSE_ERR_NO_MEMORY || rc == TSE_ERR_STORAGE_FAILURE || rc == TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED)
        return true;
    for (; also && *also; also++)
        if (rc == *also)
            return true;
    return false;
}

/* The first ENUMERATED of a version-3 eventData (the result), or -1. */
static int first_enum(const logmsg *m)
{
    der_r r = der_r_init(m->event_data.p, m->event_data.n);
    der_tlv t;
    uint64_t v;
    while (der_read(&r, &t))
        if (t.tag == DER_ENUMERATED && der_get_uint(&t, &v))
            return (int)v;
    return -1;
}

/* The new logs (after, before .. after] parse, carry their counter and a
 * signature that verifies with the TSE's key. */
static void check_new_logs(fx *f, uint64_t before, uint64_t after)
{
    uint8_t *point = NULL;
    size_t point_len = 0;
    tse_info info;
    assert_int_equal(tse_get_info(f->t, &info), TSE_OK);
    assert_int_equal(tse_public_key(f->t, &point, &point_len), TSE_OK);
    EVP_PKEY *pub = csp_pubkey_from_point(info.curve, point, point_len);
    assert_non_null(pub);
    for (uint64_t c = before + 1; c <= after; c++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(tse_read_log_by_counter(f->t, c, &msg, &len), TSE_OK);
        logmsg m;
        tse_error err = {0};
        assert_true(logmsg_parse(msg, len, &m, &err));
        assert_int_equal(m.signature_counter, c);
        assert_int_equal(csp_verify(pub, info.hash, m.signed_bytes.p, m.signed_bytes.n, m.signature.p,
                                    m.signature.n, NULL), 0);
        /* an allocation failure is never taken for a wrong PIN or PUK:
         * version 2 BOOLEAN result TRUE / unblockResult 0, version 3 result 0 */
        if (m.operation.n == 16 && !memcmp(m.operation.p, "authenticateUser", 16)) {
            if (m.version == 2)
                assert_int_equal(m.system_operation_data.p[m.system_operation_data.n - 1], 0xff);
            else
                assert_int_equal(first_enum(&m), 0);
        }
        if (m.operation.n == 11 && !memcmp(m.operation.p, "unblockUser", 11))
            assert_int_equal(m.system_operation_data.p[m.system_operation_data.n - 1], 0);
        if (m.operation.n == 10 && !memcmp(m.operation.p, "unblockPin", 10))
            assert_int_equal(first_enum(&m), 0);
        tse_free(msg);
    }
    EVP_PKEY_free(pub);
    tse_free(point);
}

static void reopen(fx *f)
{
    tse_close(f->t);
    f->t = NULL;
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(f->path, &oo, &f->t), TSE_OK);
}

static void login(fx *f)
{
    assert_int_equal(tse_authenticate_user(f->t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
}


/* After a run: the store, read again from disk, holds what the engine
 * showed (the reopen adds its selfTest log), and every log verifies. */
static void check_reopened(fx *f)
{
    tse_info a, b;
    assert_int_equal(tse_get_info(f->t, &a), TSE_OK);
    tse_open_transaction *ta = NULL, *tb = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(tse_list_open_transactions(f->t, &ta, &na), TSE_OK);
    reopen(f);
    assert_int_equal(tse_get_info(f->t, &b), TSE_OK);
    assert_int_equal(b.signature_counter, a.signature_counter + 1);
    assert_int_equal(b.transaction_counter, a.transaction_counter);
    assert_int_equal(b.current_clients, a.current_clients);
    assert_int_equal(b.state, a.state);
    assert_true(b.self_test_ok);
    assert_int_equal(tse_list_open_transactions(f->t, &tb, &nb), TSE_OK);
    assert_int_equal(nb, na);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(tb[i].transaction_number, ta[i].transaction_number);
        assert_int_equal(tb[i].last_update, ta[i].last_update);
    }
    tse_free(ta);
    tse_free(tb);
    uint64_t first = 1;
    uint8_t *msg = NULL;
    size_t len = 0;
    while (first <= b.signature_counter && tse_read_log_by_counter(f->t, first, &msg, &len) != TSE_OK)
        first++;   /* deleted by deleteStoredData */
    tse_free(msg);
    check_new_logs(f, first - 1, b.signature_counter);
    /* the reopened TSE goes on as before: admin session and time */
    if (tse_authenticate_user(f->t, TSE_USER_ADMIN, READY_PIN, NULL, NULL) == TSE_OK)
        assert_int_equal(tse_update_time(f->t, (int64_t)time(NULL)), TSE_OK);
}

/* Runs `op` with the n-th allocation failing for n = 1, 2, ... until it
 * runs without reaching the n-th. `prepare` (may be NULL) restores its
 * precondition before each step; `also` lists further clean codes. */
static long run(const char *name, fx *f, op_fn prepare, op_fn op, const tse_err *also)
{
    long n, failures = 0;
    for (n = first_step; n < MAX_STEPS && (!last_step || n <= last_step); n++) {
        tse_err ready = prepare ? prepare(f) : TSE_OK;
        if (ready != TSE_OK)
            fail_msg("%s: before allocation %ld: %d %s", name, n, ready, tse_last_error_message());
        snap before = take(f);
        assert_int_equal(before.info.signature_counter, before.stored_counter);
        arm(n, f->persistent);
        tse_err rc = op(f);
        disarm();
        bool hit = armed_hit();
        if (f->check)
            f->check(f, rc);
        snap after = take(f);
        /* the engine's counter is the store's, and moved by whole logs */
        if (after.info.signature_counter != after.stored_counter)
            fail_msg("%s: %s %ld: the engine's counter %llu is not the store's %llu (result %d: %s)", name, what, n,
                     (unsigned long long)after.info.signature_counter, (unsigned long long)after.stored_counter, rc,
                     tse_last_error_message());
        assert_true(after.info.signature_counter >= before.info.signature_counter);
        assert_true(after.info.signature_counter <= before.info.signature_counter + (uint64_t)f->expected);
        check_new_logs(f, before.info.signature_counter, after.info.signature_counter);
        if (!hit) {
            if (rc != TSE_OK)
                fail_msg("%s: fails without a failing %s: %d %s", name, what, rc, tse_last_error_message());
            assert_int_equal(after.info.signature_counter, before.info.signature_counter + (uint64_t)f->expected);
            break;
        }
        if (rc != TSE_OK) {
            failures++;
            if (!clean_error(rc, also))
                fail_msg("%s: %s %ld failed: unexpected %d (%s)", name, what, n, rc, tse_last_error_message());
            assert_true(tse_last_error_message()[0] != 0);
        }
    }
    assert_true(n < MAX_STEPS);
    if (first_step == 1)
        assert_true(failures > 0);   /* the failures did reach the operation */
    check_reopened(f);
    if (last_step && n > last_step)
        print_message("%s: %ss %ld..%ld, %ld of them failing the operation cleanly\n", name, what, first_step,
                      last_step, failures);
    else
        print_message("%s: %ld %ss, %ld of them failing the operation cleanly\n", name, n - 1, what, failures);
    return n - 1;
}

static fx *fx_new(const char *stem)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->t = ready_tse(stem, NULL, &f->path);
    f->expected = 1;
    return f;
}

static void fx_free(fx *f)
{
    tse_close(f->t);
    free(f->path);
    free(f->archive);
    free(f);
}

/* ---------------------------------------------------------------- transactions */

static tse_err op_start(fx *f)
{
    tse_result r;
    tse_err rc = tse_start_transaction(f->t, READY_CLIENT, (const uint8_t *)"", 0, "Kassenbeleg-V1", NULL, 0, &r);
    if (rc == TSE_OK) {
        assert_int_equal(r.signature_len, 64);
        f->tx = r.transaction_number;
    }
    return rc;
}

static tse_err need_tx(fx *f)
{
    return f->tx ? TSE_OK : op_start(f);
}

static const uint8_t pd[] = "Beleg^10.00_0.00_0.00_0.00_0.00^10.00:Bar";

static tse_err op_update(fx *f)
{
    tse_result r;
    return tse_update_transaction(f->t, READY_CLIENT, f->tx, pd, sizeof pd - 1, "Kassenbeleg-V1",
                                  TSE_UPDATE_SIGNED, &r);
}

static tse_err op_update_unsigned(fx *f)
{
    tse_result r;
    return tse_update_transaction(f->t, READY_CLIENT, f->tx, pd, 8, "Kassenbeleg-V1", TSE_UPDATE_UNSIGNED, &r);
}

static tse_err op_finish(fx *f)
{
    tse_result r;
    tse_err rc = tse_finish_transaction(f->t, READY_CLIENT, f->tx, pd, sizeof pd - 1, "Kassenbeleg-V1", NULL, 0, &r);
    if (rc == TSE_OK)
        f->tx = 0;
    return rc;
}

/* Kept data of another processType than the update's: signed in an update
 * log of its own first (TR-03151-1 3.7.6.5 step 9), then the update's. */
static const char other_type[] = "Bestellung-V1";

/* An open transaction with data kept unsigned under processType `type`. */
static tse_err need_kept_of(fx *f, const char *type)
{
    tse_err rc = need_tx(f);
    tse_transaction_state st = TSE_TX_STARTED;
    if (!rc)
        rc = tse_get_transaction_state(f->t, f->tx, &st);
    tse_result r;
    if (!rc && st != TSE_TX_UPDATED_WITH_UNPROTECTED_DATA)
        rc = tse_update_transaction(f->t, READY_CLIENT, f->tx, pd, 8, type, TSE_UPDATE_UNSIGNED, &r);
    tse_info info;
    if (!rc)
        rc = tse_get_info(f->t, &info);
    if (!rc)
        f->kept_before = info.signature_counter;
    return rc;
}

static tse_err need_kept(fx *f)
{
    return need_kept_of(f, other_type);
}

static tse_err need_kept_same(fx *f)
{
    return need_kept_of(f, "Kassenbeleg-V1");
}

static tse_err op_update_other_type(fx *f)
{
    tse_result kept, r;
    tse_err rc = tse_update_transaction_logs(f->t, READY_CLIENT, f->tx, pd, sizeof pd - 1, "Kassenbeleg-V1",
                                             TSE_UPDATE_SIGNED, &kept, &r);
    if (rc == TSE_OK) {
        assert_int_equal(kept.signature_counter, f->kept_before + 1);
        assert_int_equal(r.signature_counter, f->kept_before + 2);
    }
    return rc;
}

/* A failed step leaves the kept data kept (no log: nothing applied) or
 * secured in a log of its own under its processType; never lost, never
 * joined with the update's data. */
static void check_kept(fx *f, tse_err rc)
{
    tse_info info;
    assert_int_equal(tse_get_info(f->t, &info), TSE_OK);
    uint64_t made = info.signature_counter - f->kept_before;
    tse_transaction_state st = TSE_TX_STARTED;
    assert_int_equal(tse_get_transaction_state(f->t, f->tx, &st), TSE_OK);
    if (made == 0) {
        assert_int_not_equal(rc, TSE_OK);
        assert_int_equal(st, TSE_TX_UPDATED_WITH_UNPROTECTED_DATA);
        return;
    }
    assert_int_equal(st, TSE_TX_UPDATED);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(f->t, f->kept_before + 1, &msg, &len), TSE_OK);
    logmsg m;
    tse_error err = {0};
    assert_true(logmsg_parse(msg, len, &m, &err));
    assert_int_equal(m.tx_op, LOGMSG_TX_UPDATE);
    assert_true(m.process_type.n == strlen(other_type) && !memcmp(m.process_type.p, other_type, m.process_type.n));
    uint8_t d[64];
    size_t dn = 0;
    assert_true(der_get_octets(&m.process_data, d, sizeof d, &dn));
    assert_true(dn == 8 && !memcmp(d, pd, 8));   /* the kept data alone */
    tse_free(msg);
}

/* state: NULL, or (the _persistent tests) memory that stays exhausted from
 * the n-th allocation on: then the re-read after a failed commit fails too
 * and the engine must catch up when memory is back. */
static bool persistent_memory_loss = true;

static void test_transactions(void **state)
{
    fx *f = fx_new("nomem-tx");
    f->persistent = *state != NULL;
    run("startTransaction", f, NULL, op_start, NULL);
    run("updateTransaction", f, need_tx, op_update, NULL);
    f->expected = 0;
    run("updateTransaction unsigned", f, need_tx, op_update_unsigned, NULL);
    /* the kept data's update log, then the finish's (TR-03151-1 3.7.1.4) */
    f->expected = 2;
    run("finishTransaction", f, need_kept_same, op_finish, NULL);
    f->check = check_kept;
    run("updateTransaction after kept data of another processType", f, need_kept, op_update_other_type, NULL);
    f->check = NULL;
    fx_free(f);
}

/* ---------------------------------------------------------------- export */

/* The archive of one export, in a buffer that needs no allocation. */
static struct {
    uint8_t data[1 << 20];
    size_t len;
    tse_export_result res;
} out;

static int sink(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (io_mode && io_fail_here())   /* the archive's disk fails too: passed back as it is */
        return TSE_ERR_STORAGE_FAILURE;
    if (len > sizeof out.data - out.len)
        return -1;
    memcpy(out.data + out.len, data, len);
    out.len += len;
    return 0;
}

static tse_err op_export(fx *f)
{
    out.len = 0;
    return tse_export_data(f->t, NULL, sink, NULL, &out.res);
}

static th_tar_entry *reference;
static size_t n_reference;

static void read_archive(th_tar_entry **entries, size_t *count)
{
    char *path = th_path("nomem-export.tar");
    assert_int_equal(th_write_file(path, out.data, out.len), 0);
    assert_int_equal(th_tar_read(path, entries, count), 0);
    free(path);
}

/* An export that succeeded is the whole archive, file for file. */
static void check_export(fx *f, tse_err rc)
{
    if (rc != TSE_OK)
        return;
    assert_int_equal(out.res.cursor, take(f).info.signature_counter);
    th_tar_entry *e = NULL;
    size_t n = 0;
    read_archive(&e, &n);
    assert_int_equal(n, n_reference);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(e[i].name, reference[i].name);
        assert_int_equal(e[i].len, reference[i].len);
        assert_memory_equal(e[i].data, reference[i].data, e[i].len);
    }
    th_tar_free(e, n);
}

static const tse_err export_codes[] = {TSE_ERR_INTERNAL, 0};

static void test_export(void **state)
{
    (void)state;
    fx *f = fx_new("nomem-export");
    assert_int_equal(op_start(f), TSE_OK);
    assert_int_equal(op_finish(f), TSE_OK);
    f->expected = 0;
    assert_int_equal(op_export(f), TSE_OK);
    read_archive(&reference, &n_reference);
    assert_true(n_reference > 10);   /* logs, certificates, info.csv */
    f->check = check_export;
    run("exportData", f, NULL, op_export, export_codes);
    th_tar_free(reference, n_reference);
    fx_free(f);
}

/* ---------------------------------------------------------------- restore */

static tse_err write_file(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* Restore's precondition: the exported logs were deleted. deleteLogMessages
 * refuses while any log is unexported (the delete's own log after a restore),
 * so the store file as it was right after the delete comes back instead (the
 * archive stays the same for every step), opened for recovery: the restore
 * then needs no admin login, whose slow PIN check every step would pay. */
static uint8_t *deleted_db;
static size_t deleted_len;

static tse_err deleted(fx *f)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    if (tse_read_log_by_counter(f->t, 1, &msg, &len) != TSE_OK)
        return TSE_OK;
    tse_free(msg);
    tse_close(f->t);
    f->t = NULL;
    assert_int_equal(th_write_file(f->path, deleted_db, deleted_len), 0);
    tse_open_options oo = {.master_key_path = th_master_key(), .recovery = 1};
    assert_int_equal(tse_open(f->path, &oo, &f->t), TSE_OK);
    return TSE_OK;
}

static uint64_t restored;

static tse_err op_restore(fx *f)
{
    const char *paths[] = {f->archive};
    restored = 0;
    return tse_restore_from_backup(f->t, paths, 1, &restored);
}

/* All of the archive is back, or none of it. */
static void check_restore(fx *f, tse_err rc)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    bool any = tse_read_log_by_counter(f->t, 1, &msg, &len) == TSE_OK;
    tse_free(msg);
    for (uint64_t c = 2; c <= f->archived; c++) {
        bool there = tse_read_log_by_counter(f->t, c, &msg, &len) == TSE_OK;
        tse_free(msg);
        msg = NULL;
        assert_int_equal(there, any);
    }
    if (rc == TSE_OK)
        assert_int_equal(restored, f->archived);
}

static const tse_err restore_codes[] = {TSE_ERR_RESTORE_FAILED, 0};

static void test_restore(void **state)
{
    (void)state;
    fx *f = fx_new("nomem-restore");
    f->check = check_restore;
    f->archive = th_path("nomem-restore.tar");
    FILE *out = fopen(f->archive, "wb");
    assert_non_null(out);
    tse_export_result res;
    assert_int_equal(tse_export_data(f->t, NULL, (tse_export_write_fn)write_file, out, &res), TSE_OK);
    assert_int_equal(fclose(out), 0);
    f->archived = res.cursor;
    assert_int_equal(tse_delete_stored_data(f->t), TSE_OK);
    tse_close(f->t);   /* the store file as it is after the delete, for every step */
    f->t = NULL;
    deleted_db = th_read_file(f->path, &deleted_len);
    assert_non_null(deleted_db);
    reopen(f);
    login(f);
    f->expected = 0;   /* log format 3 has no restoreLogsFromBackup log */
    run("restoreFromBackup", f, deleted, op_restore, restore_codes);
    free(deleted_db);
    fx_free(f);
}

/* ---------------------------------------------------------------- admin */

static tse_err op_auth(fx *f)
{
    tse_auth_result r;
    int left = -1;
    tse_err rc = tse_authenticate_user(f->t, TSE_USER_ADMIN, READY_PIN, &r, &left);
    if (rc == TSE_OK) {
        assert_int_equal(r, TSE_AUTH_OK);
        assert_int_equal(left, 3);
    }
    return rc;
}

static tse_err op_set_admin_pin(fx *f)
{
    return tse_set_admin_pin(f->t, f->puk, READY_PIN);
}

static tse_err op_set_time_admin_pin(fx *f)
{
    return tse_set_time_admin_pin(f->t, "654321");
}

static tse_err op_register(fx *f)
{
    char id[32];
    snprintf(id, sizeof id, "KASSE-N%ld", f->clients);
    tse_err rc = tse_register_client(f->t, id);
    if (rc == TSE_OK)
        f->clients++;
    return rc;
}

static tse_err op_update_time(fx *f)
{
    return tse_update_time(f->t, (int64_t)time(NULL));
}

static tse_err logged_in(fx *f)
{
    tse_err rc = f->logged_out ? tse_authenticate_user(f->t, TSE_USER_ADMIN, READY_PIN, NULL, NULL) : TSE_OK;
    f->logged_out = rc != TSE_OK;
    return rc;
}

static tse_err op_logout(fx *f)
{
    tse_err rc = tse_logout(f->t, TSE_USER_ADMIN);
    f->logged_out = rc == TSE_OK;
    return rc;
}

/* A TSE of its own, admin PIN set and logged in, not yet initialized. */
static tse_err uninitialized(fx *f)
{
    tse_info info;
    assert_int_equal(tse_get_info(f->t, &info), TSE_OK);
    if (info.state == TSE_STATE_UNINITIALIZED)
        return TSE_OK;
    tse_close(f->t);
    free(f->path);
    f->t = ready_created("nomem-init", NULL, f->puk, &f->path);
    assert_int_equal(tse_set_admin_pin(f->t, f->puk, READY_PIN), TSE_OK);
    login(f);
    return TSE_OK;
}

static tse_err op_initialize(fx *f)
{
    return tse_initialize(f->t, "OpenTSE nomem");
}

static const tse_err secret_codes[] = {TSE_ERR_INTERNAL, 0};

/* Who is logged in, asked without writing a log: registering the client
 * that exists is ALREADY_EXISTS for the admin, USER_NOT_AUTHORIZED for the
 * time admin, USER_NOT_AUTHENTICATED for nobody. */
static tse_err who(fx *f)
{
    return tse_register_client(f->t, READY_CLIENT);
}

/* The admin logged in, the time admin not. */
static tse_err admin_alone(fx *f)
{
    if (tse_logout(f->t, TSE_USER_TIME_ADMIN) != TSE_OK) { /* not logged in: fine */ }
    if (who(f) != TSE_ERR_ALREADY_EXISTS)
        login(f);
    assert_int_equal(who(f), TSE_ERR_ALREADY_EXISTS);
    tse_info info;
    assert_int_equal(tse_get_info(f->t, &info), TSE_OK);
    f->before = info.signature_counter;
    return TSE_OK;
}

static tse_err op_auth_time_admin(fx *f)
{
    return tse_authenticate_user(f->t, TSE_USER_TIME_ADMIN, "654321", NULL, NULL);
}

/* The log with counter c is `op`; its first ENUMERATED is `result`. */
static void expect_log(fx *f, uint64_t c, const char *op, int result)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(f->t, c, &msg, &len), TSE_OK);
    logmsg m;
    assert_true(logmsg_parse(msg, len, &m, NULL));
    assert_int_equal(m.operation.n, strlen(op));
    assert_memory_equal(m.operation.p, op, m.operation.n);
    assert_int_equal(first_enum(&m), result);
    tse_free(msg);
}

/* TR-03151-1 3.2.3.5 step 5: the time admin's login logs the admin out
 * first (logOut, differentUserLoggedIn). When it fails, the admin is still
 * logged in unless that logOut was stored, and the time admin is not. */
static void check_other_login(fx *f, tse_err rc)
{
    tse_info info;
    assert_int_equal(tse_get_info(f->t, &info), TSE_OK);
    uint64_t n = info.signature_counter - f->before;
    if (rc == TSE_OK) {
        assert_int_equal(n, 2);
        expect_log(f, f->before + 1, "logOut", 1);
        expect_log(f, f->before + 2, "authenticateUser", 0);
        assert_int_equal(who(f), TSE_ERR_USER_NOT_AUTHORIZED);
        return;
    }
    assert_true(n <= 1);
    if (n == 1)
        expect_log(f, f->before + 1, "logOut", 1);
    assert_int_equal(who(f), n ? TSE_ERR_USER_NOT_AUTHENTICATED : TSE_ERR_ALREADY_EXISTS);
}

/* A TSE just created, in state CREATED. */
static fx *fx_created(const char *stem)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->t = ready_created(stem, NULL, f->puk, &f->path);
    f->expected = 1;
    return f;
}

/* The slow PIN/PUK KDF runs in every step of these: one test each. */
static void test_admin_pin(void **state)
{
    (void)state;
    fx *f = fx_created("nomem-pin");
    run("setAdminPin (unblockUser with the PUK)", f, NULL, op_set_admin_pin, secret_codes);
    fx_free(f);
}

static void test_authenticate(void **state)
{
    (void)state;
    fx *f = fx_new("nomem-auth");
    run("authenticateUser", f, NULL, op_auth, secret_codes);
    f->expected = 0;
    run("setTimeAdminPin", f, logged_in, op_set_time_admin_pin, secret_codes);
    f->expected = 2;
    f->check = check_other_login;
    run("authenticateUser with another user logged in", f, admin_alone, op_auth_time_admin, secret_codes);
    fx_free(f);
}

static void test_admin(void **state)
{
    fx *f = fx_created("nomem-admin");
    f->persistent = *state != NULL;
    assert_int_equal(tse_set_admin_pin(f->t, f->puk, READY_PIN), TSE_OK);
    login(f);
    run("initialize", f, uninitialized, op_initialize, NULL);
    run("updateTime", f, logged_in, op_update_time, NULL);
    run("registerClient", f, logged_in, op_register, NULL);
    run("logOut", f, logged_in, op_logout, NULL);
    fx_free(f);
}

int main(int argc, char **argv)
{
    /* before cmocka, SQLite or OpenSSL allocate anything */
    if (!af_init()) {
        fprintf(stderr, "the allocation hooks of SQLite and OpenSSL could not be installed\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "io") == 0) {
        io_mode = true;
        what = "write";
        argc--;
        argv++;
        if (!io_init()) {
            fprintf(stderr, "the failing VFS could not be registered\n");
            return 1;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transactions),
        {"test_transactions_persistent", test_transactions, NULL, NULL, &persistent_memory_loss},
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_admin_pin),
        cmocka_unit_test(test_authenticate),
        cmocka_unit_test(test_admin),
        {"test_admin_persistent", test_admin, NULL, NULL, &persistent_memory_loss},
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);   /* one test by name */
    if (argc > 3) {
        first_step = atol(argv[2]);
        last_step = atol(argv[3]);
        if (first_step < 1 || last_step < 0 || (last_step && last_step < first_step)) {
            fprintf(stderr, "usage: test_nomem [TEST [FIRST LAST]]\n");
            return 2;
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
