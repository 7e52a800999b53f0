/*
 * test_errors.c - every error code the engine returns, each provoked the way
 * a caller would meet it, and each checked to change nothing (no counter
 * consumed, no transaction, no client) unless TR-03151 says the attempt
 * itself is logged (wrong PIN, wrong PUK, unknown user id) or the log is still stored
 * (CERTIFICATE_EXPIRED, tested in test_engine.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ready_tse.h"
#include "verify/verify.h"

typedef struct snapshot {
    uint64_t counter, tx;
    uint32_t clients, open;
    tse_state state;
} snapshot;

static snapshot snap(tse *t)
{
    tse_info i;
    assert_int_equal(tse_get_info(t, &i), TSE_OK);
    return (snapshot){i.signature_counter, i.transaction_counter, i.current_clients, i.current_open_transactions,
                      i.state};
}

static void same(snapshot a, snapshot b)
{
    assert_int_equal(a.counter, b.counter);
    assert_int_equal(a.tx, b.tx);
    assert_int_equal(a.clients, b.clients);
    assert_int_equal(a.open, b.open);
    assert_int_equal(a.state, b.state);
}

/* A call for the user id "root", which the TSE does not manage, was refused
 * with USER_ID_NOT_MANAGED and logged as failed (TR-03151-1 v1.1.1 3.2.3.5,
 * 3.2.5.5): one log more than `before`, the system log `event` with exactly
 * `data` as eventData (userId "root", role "unknown" and unknownUserId). */
static void unknown_user_logged(tse *t, snapshot before, tse_err rc, const char *event, const uint8_t *data,
                                size_t n)
{
    assert_int_equal(rc, TSE_ERR_USER_ID_NOT_MANAGED);
    assert_non_null(strstr(tse_last_error_message(), "unknown user id \"root\""));
    snapshot after = snap(t);
    assert_int_equal(after.counter, before.counter + 1);
    before.counter++;
    same(before, after);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_message(t, &msg, &len), TSE_OK);
    logmsg m;
    tse_error perr = {0};
        assert_true(logmsg_parse(msg, len, &m, &perr));
    assert_int_equal(m.operation.n, strlen(event));
    assert_memory_equal(m.operation.p, event, m.operation.n);
    assert_int_equal(m.event_data.n, n);
    assert_memory_equal(m.event_data.p, data, n);
    tse_free(msg);
}

/* eventData of the two: PrintableString "root", then authenticateUser's
 * role "unknown", ENUMERATED unknownUserId (1), INTEGER remainingRetries 0,
 * or unblockPin's ENUMERATED unknownUserId (1). */
static const uint8_t auth_unknown[] = {0x13, 4, 'r', 'o', 'o', 't', 0x13, 7, 'u', 'n', 'k', 'n', 'o', 'w', 'n',
                                       0x0a, 1, 1, 0x02, 1, 0};
static const uint8_t unblock_unknown[] = {0x13, 4, 'r', 'o', 'o', 't', 0x0a, 1, 1};

/* Runs `call`, expects `code`, a non-empty message naming it, and no change. */
/* A refusal that writes exactly one log (the attempt) and changes nothing else. */
#define EXPECT_LOGGED(t, code, call)                                                 \
    do {                                                                             \
        snapshot before_ = snap(t);                                                  \
        assert_int_equal((call), (code));                                            \
        assert_non_null(strstr(tse_last_error_message(), tse_errname(code)));        \
        before_.counter++;                                                           \
        same(before_, snap(t));                                                      \
    } while (0)

#define EXPECT_ERR(t, code, call)                                                    \
    do {                                                                             \
        snapshot before_ = snap(t);                                                  \
        assert_int_equal((call), (code));                                            \
        assert_non_null(strstr(tse_last_error_message(), tse_errname(code)));        \
        same(before_, snap(t));                                                      \
    } while (0)

static void test_argument_errors(void **state)
{
    (void)state;
    tse *t = ready_tse("args", NULL, NULL);
    tse_result r;
    char big_id[TSE_MAX_CLIENT_ID_LEN + 2];
    memset(big_id, 'A', sizeof big_id - 1);
    big_id[sizeof big_id - 1] = 0;
    uint8_t *big = calloc(1, TSE_MAX_PROCESS_DATA_LEN + 1);
    assert_non_null(big);

    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_start_transaction(t, NULL, NULL, 0, NULL, NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, NULL));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_start_transaction(t, READY_CLIENT, NULL, 5, NULL, NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_start_transaction(t, "bad_id*", NULL, 0, NULL, NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_start_transaction(t, "", NULL, 0, NULL, NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT,
               tse_start_transaction(t, READY_CLIENT, NULL, 0, "type\n", NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_TOO_LARGE, tse_start_transaction(t, big_id, NULL, 0, NULL, NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_TOO_LARGE,
               tse_start_transaction(t, READY_CLIENT, big, TSE_MAX_PROCESS_DATA_LEN + 1, NULL, NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT,
               tse_update_transaction(t, READY_CLIENT, 1, NULL, 0, NULL, (tse_update_variant)7, &r));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_register_client(t, NULL));
    EXPECT_ERR(t, TSE_ERR_TOO_LARGE, tse_register_client(t, big_id));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_initialize(t, "tab\there"));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_get_info(NULL, NULL));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_unblock_user(t, TSE_USER_ADMIN, "1", "123"));
    EXPECT_ERR(t, TSE_ERR_CERTIFICATE_INVALID, tse_import_certificate(t, "not a certificate"));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_open("http://example.invalid/", NULL, &(tse *){NULL}));
    EXPECT_ERR(t, TSE_ERR_INVALID_ARGUMENT, tse_open(NULL, NULL, &(tse *){NULL}));
    EXPECT_ERR(t, TSE_ERR_INVALID_TIME, tse_update_time(t, 12345));
    EXPECT_ERR(t, TSE_ERR_INVALID_TIME, tse_update_time(t, 253402300800LL));
    assert_string_equal(tse_errname(TSE_ERR_TIME_NOT_SET), "TIME_NOT_SET");
    /* constant strings: two in one expression stay apart, an unknown code is named as such */
    const char *a = tse_strerror(TSE_ERR_PIN_BLOCKED), *b = tse_strerror(TSE_ERR_TIME_NOT_SET);
    assert_string_equal(a, "PIN_BLOCKED: the PIN is blocked; unblock it with the PUK");
    assert_string_equal(b, "TIME_NOT_SET: the TSE's time has not been set");
    assert_ptr_equal(a, tse_strerror(TSE_ERR_PIN_BLOCKED));
    assert_non_null(strstr(tse_strerror(-9999), "UNKNOWN_ERROR"));
    /* the last error keeps code and message apart */
    assert_int_equal(tse_update_time(t, 12345), TSE_ERR_INVALID_TIME);
    assert_int_equal(tse_last_error_code(), TSE_ERR_INVALID_TIME);
    assert_null(strstr(tse_last_error_detail(), "INVALID_TIME"));
    assert_true(strlen(tse_last_error_detail()) > 0);
    char both[600];
    snprintf(both, sizeof both, "INVALID_TIME: %s", tse_last_error_detail());
    assert_string_equal(tse_last_error_message(), both);
    free(big);
    tse_close(t);
}

static void test_state_errors(void **state)
{
    (void)state;
    char puk[TSE_PUK_LEN + 1];
    tse_result r;
    tse *t = ready_created("state", NULL, puk, NULL);
    EXPECT_ERR(t, TSE_ERR_WRONG_STATE, tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL));
    EXPECT_ERR(t, TSE_ERR_WRONG_STATE, tse_initialize(t, "x"));
    EXPECT_ERR(t, TSE_ERR_SE_API_NOT_INITIALIZED, tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r));
    assert_int_equal(tse_set_admin_pin(t, puk, READY_PIN), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_USER_NOT_AUTHENTICATED, tse_initialize(t, "x"));
    snapshot s0 = snap(t);
    unknown_user_logged(t, s0, tse_authenticate_user(t, "root", READY_PIN, NULL, NULL), "authenticateUser",
                        auth_unknown, sizeof auth_unknown);
    EXPECT_ERR(t, TSE_ERR_USER_ID_NOT_AUTHENTICATED, tse_logout(t, TSE_USER_ADMIN));
    EXPECT_ERR(t, TSE_ERR_USER_ID_NOT_MANAGED, tse_logout(t, "root"));
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER, tse_initialize(t, NULL));
    EXPECT_ERR(t, TSE_ERR_SE_API_NOT_INITIALIZED, tse_register_client(t, READY_CLIENT));
    assert_int_equal(tse_initialize(t, "x"), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_WRONG_STATE, tse_initialize(t, "x"));
    EXPECT_ERR(t, TSE_ERR_CLIENT_NOT_REGISTERED, tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r));
    /* TR-03151-1 3.7.3.5, 3.7.4.5 step 3: no client is registered or deregistered before the time is set */
    EXPECT_ERR(t, TSE_ERR_TIME_NOT_SET, tse_register_client(t, READY_CLIENT));
    assert_non_null(strstr(tse_last_error_message(), "set the time"));
    EXPECT_ERR(t, TSE_ERR_TIME_NOT_SET, tse_deregister_client(t, READY_CLIENT));
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    assert_int_equal(tse_register_client(t, READY_CLIENT), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_ALREADY_EXISTS, tse_register_client(t, READY_CLIENT));
    EXPECT_ERR(t, TSE_ERR_ID_NOT_FOUND, tse_deregister_client(t, "KASSE-99"));
    EXPECT_ERR(t, TSE_ERR_NO_TRANSACTION,
               tse_finish_transaction(t, READY_CLIENT, 42, NULL, 0, NULL, NULL, 0, &r));
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    uint64_t n = r.transaction_number;
    assert_int_equal(tse_register_client(t, "KASSE-02"), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_WRONG_STATE, tse_deregister_client(t, READY_CLIENT));
    /* another registered client may finish it (TR-03151-1 3.7.7.5 steps 6 and 7) */
    assert_int_equal(tse_finish_transaction(t, "KASSE-02", n, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_NO_TRANSACTION, tse_finish_transaction(t, READY_CLIENT, n, NULL, 0, NULL, NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_NO_LOG_MESSAGE, tse_read_log_by_counter(t, 9999, &(uint8_t *){NULL}, &(size_t){0}));
    assert_int_equal(tse_deregister_client(t, "KASSE-02"), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_CLIENT_NOT_REGISTERED, tse_start_transaction(t, "KASSE-02", NULL, 0, NULL, NULL, 0, &r));
    assert_int_equal(tse_disable_secure_element(t), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_SECURE_ELEMENT_DISABLED, tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r));
    EXPECT_ERR(t, TSE_ERR_SECURE_ELEMENT_DISABLED, tse_update_time(t, (int64_t)time(NULL)));
    EXPECT_ERR(t, TSE_ERR_SECURE_ELEMENT_DISABLED, tse_disable_secure_element(t));
    EXPECT_ERR(t, TSE_ERR_SECURE_ELEMENT_DISABLED, tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL));
    ready_check_all_logs(t);
    tse_close(t);

    /* a manufacturer's description may not be overridden */
    tse_create_options o = {.manufacturer_description = "Maker TSE"};
    t = ready_created("maker", &o, puk, NULL);
    assert_int_equal(tse_set_admin_pin(t, puk, READY_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_DESCRIPTION_SET_BY_MANUFACTURER, tse_initialize(t, "mine"));
    assert_int_equal(tse_initialize(t, NULL), TSE_OK);
    tse_close(t);
}

static void test_limits(void **state)
{
    (void)state;
    tse_create_options o = {.max_clients = 2, .max_open_transactions = 2};
    tse *t = ready_tse("limits", &o, NULL);
    tse_result r;
    assert_int_equal(tse_register_client(t, "KASSE-02"), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_TOO_MANY_CLIENTS, tse_register_client(t, "KASSE-03"));
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_TOO_MANY_TRANSACTIONS, tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r));
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, r.transaction_number, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    tse_close(t);
}

static void test_pin_retries_block_and_unblock(void **state)
{
    (void)state;
    char puk[TSE_PUK_LEN + 1], *path = NULL;
    tse *t = ready_created("pin", NULL, puk, &path);
    assert_int_equal(tse_set_admin_pin(t, puk, READY_PIN), TSE_OK);
    tse_auth_result res;
    int left = -1;
    for (int i = 1; i <= 3; i++) {
        snapshot before = snap(t);
        tse_err rc = tse_authenticate_user(t, TSE_USER_ADMIN, "999999", &res, &left);
        assert_int_equal(rc, i < 3 ? TSE_ERR_AUTHENTICATION_FAILED : TSE_ERR_PIN_BLOCKED);
        assert_int_equal(left, 3 - i);
        assert_int_equal(res, i < 3 ? TSE_AUTH_FAILED : TSE_AUTH_PIN_BLOCKED);
        assert_int_equal(snap(t).counter, before.counter + 1); /* each attempt is logged */
    }
    /* blocked: even the right PIN is refused; the attempt is logged (pinBlocked, 3.2.3.5 step 2) */
    EXPECT_LOGGED(t, TSE_ERR_PIN_BLOCKED, tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, &res, &left));
    assert_int_equal(res, TSE_AUTH_PIN_BLOCKED);
    /* the block survives reopening */
    tse_close(t);
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    EXPECT_LOGGED(t, TSE_ERR_PIN_BLOCKED, tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, &res, &left));
    snapshot before = snap(t);
    assert_int_equal(tse_unblock_user(t, TSE_USER_ADMIN, "1111111111", "777777"), TSE_ERR_UNBLOCK_FAILED);
    assert_int_equal(snap(t).counter, before.counter + 1);
    before = snap(t);
    unknown_user_logged(t, before, tse_unblock_user(t, "root", puk, "777777"), "unblockPin", unblock_unknown,
                        sizeof unblock_unknown);
    assert_int_equal(tse_unblock_user(t, TSE_USER_ADMIN, puk, "777777"), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, &res, &left), TSE_ERR_AUTHENTICATION_FAILED);
    assert_int_equal(left, 2);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "777777", &res, &left), TSE_OK);
    assert_int_equal(res, TSE_AUTH_OK);
    assert_int_equal(left, 3);
    assert_int_equal(tse_set_time_admin_pin(t, "222222"), TSE_OK);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "222222", &res, &left), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_USER_NOT_AUTHORIZED, tse_initialize(t, "x"));
    EXPECT_ERR(t, TSE_ERR_USER_NOT_AUTHORIZED, tse_set_time_admin_pin(t, "333333"));
    ready_check_all_logs(t);
    free(path);
    tse_close(t);
}

static void test_open_errors(void **state)
{
    (void)state;
    char puk[TSE_PUK_LEN + 1], *path = NULL;
    tse *t = ready_created("open", NULL, puk, &path);
    tse *t2 = NULL;
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t2), TSE_ERR_STORE_IN_USE);
    assert_null(t2);
    assert_non_null(strstr(tse_last_error_message(), "STORE_IN_USE"));
    tse_create_options co = {.master_key_path = th_master_key()};
    assert_int_equal(tse_create(path, &co, puk), TSE_ERR_ALREADY_EXISTS);
    tse_close(t);
    char *missing = th_path("missing.db");
    assert_int_equal(tse_open(missing, &oo, &t2), TSE_ERR_NOT_FOUND);
    assert_int_equal(access(missing, F_OK), -1);

    /* a master key readable by others is refused */
    char *loose = th_path("loose.key");
    size_t klen = 0;
    uint8_t *key = th_read_file(th_master_key(), &klen);
    assert_int_equal(th_write_file(loose, key, klen), 0);
    chmod(loose, 0644);
    co.master_key_path = loose;
    assert_int_equal(tse_create(missing, &co, puk), TSE_ERR_KEY_UNAVAILABLE);
    assert_int_equal(access(missing, F_OK), -1);

    /* without its master key the TSE opens for reading, fails its self-test and refuses to sign */
    assert_int_equal(tse_open(path, NULL, &t), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_false(info.self_test_ok);
    uint64_t counter = info.signature_counter;
    EXPECT_ERR(t, TSE_ERR_KEY_UNAVAILABLE, tse_set_admin_pin(t, puk, READY_PIN));
    EXPECT_ERR(t, TSE_ERR_SELF_TEST_FAILED, tse_self_test(t));
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    assert_int_equal(tse_read_log_by_counter(t, counter, &msg, &msg_len), TSE_OK);
    tse_free(msg);
    tse_close(t);

    /* the wrong master key cannot unseal the private key */
    char *other = th_path("other.key");
    unlink(other);
    assert_int_equal(csp_master_key_create(other, NULL), 0);
    tse_open_options wrong = {.master_key_path = other};
    assert_int_equal(tse_open(path, &wrong, &t), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_KEY_UNAVAILABLE, tse_set_admin_pin(t, puk, READY_PIN));
    tse_close(t);
    free(other);
    free(key);
    free(loose);
    free(missing);
    free(path);
}

/* Moves the stored end of the PUK's block into the past (as if its back-off
 * had been waited out) while the TSE is closed. */
static void puk_block_ends(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value='1' WHERE key='puk.until'", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
}

/* TR-03151-1 3.2.5 step 4: three wrong PUKs in a row block the PUK for 60 s,
 * each further one doubles that; blocked, even the right PUK is refused
 * (the attempt logged, unchecked), and the block survives reopening; the
 * right PUK resets the count. */
static void test_puk_back_off(void **state)
{
    (void)state;
    char puk[TSE_PUK_LEN + 1], *path = NULL;
    tse *t = ready_created("pukoff", NULL, puk, &path);
    tse_open_options oo = {.master_key_path = th_master_key()};
    for (int i = 1; i <= 3; i++) {
        snapshot before = snap(t);
        assert_int_equal(tse_unblock_user(t, TSE_USER_ADMIN, "0000000000", "777777"), TSE_ERR_UNBLOCK_FAILED);
        assert_non_null(strstr(tse_last_error_message(), i < 3 ? "PUK is wrong" : "blocked for 60 s"));
        assert_int_equal(snap(t).counter, before.counter + 1);
    }
    snapshot before = snap(t);
    EXPECT_LOGGED(t, TSE_ERR_PIN_BLOCKED, tse_unblock_user(t, TSE_USER_ADMIN, puk, "777777"));
    assert_non_null(strstr(tse_last_error_message(), "temporarily blocked"));
    EXPECT_LOGGED(t, TSE_ERR_PIN_BLOCKED, tse_set_admin_pin(t, puk, "777777"));
    assert_int_equal(snap(t).counter, before.counter + 2);   /* each attempt logged (3.2.5.5 step 4) */
    tse_close(t);
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    EXPECT_LOGGED(t, TSE_ERR_PIN_BLOCKED, tse_unblock_user(t, TSE_USER_ADMIN, puk, "777777"));
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.state, TSE_STATE_CREATED);
    tse_close(t);
    /* After the wait, a fourth wrong PUK blocks for twice as long. */
    puk_block_ends(path);
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(tse_unblock_user(t, TSE_USER_ADMIN, "0000000000", "777777"), TSE_ERR_UNBLOCK_FAILED);
    assert_non_null(strstr(tse_last_error_message(), "blocked for 120 s"));
    EXPECT_LOGGED(t, TSE_ERR_PIN_BLOCKED, tse_unblock_user(t, TSE_USER_ADMIN, puk, "777777"));
    tse_close(t);
    /* After that wait the right PUK works and the count starts again. */
    puk_block_ends(path);
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(tse_set_admin_pin(t, puk, "777777"), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "777777", NULL, NULL), TSE_OK);
    assert_int_equal(tse_unblock_user(t, TSE_USER_ADMIN, "0000000000", "888888"), TSE_ERR_UNBLOCK_FAILED);
    assert_non_null(strstr(tse_last_error_message(), "2 more wrong PUKs"));
    ready_check_all_logs(t);
    tse_close(t);
    free(path);
}

/* Someone with file access alters a stored log: the next open's self-test
 * fails and the TSE refuses to sign. */
static void test_tampered_store_fails_self_test(void **state)
{
    (void)state;
    char *path = NULL;
    tse *t = ready_tse("tamper", NULL, &path);
    tse_result r;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    tse_close(t);
    assert_int_equal(th_tamper_log(path, r.signature_counter), 0);

    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_false(info.self_test_ok);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_SELF_TEST_FAILED, tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r));

    /* everything stored is still exported, the altered log too, and the
     * verifier calls the archive's integrity broken */
    char *tar = th_path("tamper.tar");
    FILE *f = fopen(tar, "wb");
    assert_non_null(f);
    assert_int_equal(tse_export_data(t, NULL, th_to_file, f, NULL), TSE_OK);
    assert_int_equal(fclose(f), 0);
    th_tar_entry *e = NULL;
    size_t n = 0, logs = 0;
    assert_int_equal(th_tar_read(tar, &e, &n), 0);
    for (size_t i = 0; i < n; i++)
        logs += strstr(e[i].name, ".log") != NULL;
    assert_int_equal(logs, snap(t).counter);
    th_tar_free(e, n);
    verify_result res;
    assert_int_equal(verify_archive(tar, NULL, &res), 0);
    assert_int_equal(verify_verdict_of(&res), VERIFY_BROKEN);
    verify_result_free(&res);
    free(tar);
    tse_close(t);
    free(path);
}

/* The stored log `counter`: a system log of the SMA (no triggering user)
 * named `event`; its eventData's content into *data (freed with free). */
static void expect_sma_log(tse *t, uint64_t counter, const char *event, uint8_t **data, size_t *data_len)
{
    logmsg m;
    uint8_t *msg = ready_log(t, counter, &m);
    assert_int_equal(m.kind, LOGMSG_SYSTEM);
    if (m.operation.n != strlen(event) || memcmp(m.operation.p, event, m.operation.n) != 0)
        fail_msg("log %llu is %.*s, not %s", (unsigned long long)counter, (int)m.operation.n,
                 (const char *)m.operation.p, event);
    assert_true(m.has_event_origin);
    assert_int_equal(m.event_origin.n, 3);
    assert_memory_equal(m.event_origin.p, "SMA", 3);
    assert_false(m.has_event_triggered_by_user);
    if (data) {
        *data = malloc(m.event_data.n + 1);
        memcpy(*data, m.event_data.p, m.event_data.n);
        *data_len = m.event_data.n;
    }
    tse_free(msg);
}

/* TR-03153-1 v1.1.1 9.8.3 and 9.8.4: a failed self-test puts the SMA into
 * its safe state (enterSecureState after the failed selfTest), a passing one
 * leaves it (exitSecureState). Without the key nothing can be signed: the
 * enterSecureState log comes when the key is back, with the time of the
 * event, just before the exitSecureState. A TSE of log format 2 has neither. */
static void test_secure_state(void **state)
{
    (void)state;
    char *path = NULL;
    tse *t = ready_tse("secure", NULL, &path);
    uint64_t last = snap(t).counter;
    tse_close(t);
    assert_int_equal(th_tamper_log(path, last), 0);
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(snap(t).counter, last + 2);   /* selfTest (failed), enterSecureState */
    uint8_t *data = NULL;
    size_t n = 0;
    expect_sma_log(t, last + 1, "selfTest", NULL, NULL);
    expect_sma_log(t, last + 2, "enterSecureState", &data, &n);
    /* the altered byte is in the eventType: the log cannot name itself and
     * is exported as it is stored, under Invalid_Sig-N.log */
    char *tar = th_path("secure.tar"), want[64];
    FILE *f = fopen(tar, "wb");
    assert_non_null(f);
    assert_int_equal(tse_export_data(t, NULL, th_to_file, f, NULL), TSE_OK);
    assert_int_equal(fclose(f), 0);
    th_tar_entry *e = NULL;
    size_t ne = 0;
    bool found = false;
    assert_int_equal(th_tar_read(tar, &e, &ne), 0);
    snprintf(want, sizeof want, "Invalid_Sig-%llu.log", (unsigned long long)last);
    for (size_t i = 0; i < ne; i++)
        found |= strcmp(e[i].name, want) == 0;
    assert_true(found);
    th_tar_free(e, ne);
    free(tar);
    assert_int_equal(n, 0);   /* logged when it happened: no timeOfEvent */
    free(data);
    /* newer logs do not hide the altered one: the SMA stays in its safe state */
    assert_int_equal(tse_self_test(t), TSE_ERR_SELF_TEST_FAILED);
    assert_non_null(strstr(tse_last_error_message(), "still does not verify"));
    assert_int_equal(snap(t).counter, last + 3);   /* the failed selfTest only */
    tse_close(t);
    assert_int_equal(th_tamper_log(path, last), 0);   /* the log as it was signed */
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    /* selfTest passed, exitSecureState, an empty eventData */
    assert_int_equal(snap(t).counter, last + 5);
    expect_sma_log(t, last + 5, "exitSecureState", &data, &n);
    assert_int_equal(n, 0);
    free(data);
    assert_int_equal(tse_self_test(t), TSE_OK);
    assert_int_equal(snap(t).counter, last + 6);   /* only the selfTest: not in the safe state */
    last += 6;
    tse_close(t);

    /* without the master key: no log, the time is kept */
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(tse_open(path, NULL, &t), TSE_OK);
    EXPECT_ERR(t, TSE_ERR_SELF_TEST_FAILED, tse_self_test(t));
    assert_int_equal(snap(t).counter, last);
    tse_close(t);
    int64_t after = (int64_t)time(NULL);
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_true(info.self_test_ok);
    assert_int_equal(info.signature_counter, last + 3);   /* selfTest, enterSecureState, exitSecureState */
    expect_sma_log(t, last + 2, "enterSecureState", &data, &n);
    /* timeOfEvent: the ready TSE's Unix time, an INTEGER */
    assert_true(n >= 3 && data[0] == 0x02 && data[1] == n - 2 && n - 2 <= 8);
    int64_t when = (data[2] & 0x80) ? -1 : 0;
    for (size_t i = 2; i < n; i++)
        when = (int64_t)((uint64_t)when << 8 | data[i]);
    assert_true(when >= before && when <= after);
    free(data);
    expect_sma_log(t, last + 3, "exitSecureState", NULL, NULL);
    /* the logs after the altered one, checked by the openssl command line */
    uint8_t *point = NULL;
    size_t point_len = 0;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    for (uint64_t c = last - 4; c <= last + 3; c++) {
        logmsg m;
        uint8_t *msg = ready_log(t, c, &m);
        assert_int_equal(th_openssl_verify(info.curve, info.hash, point, point_len, m.signed_bytes.p,
                                           m.signed_bytes.n, m.signature.p, m.signature.n), 0);
        tse_free(msg);
    }
    tse_free(point);
    tse_close(t);
    free(path);

    /* log format 2: the failed selfTest only */
    tse_create_options v2 = {.log_format_version = 2};
    t = ready_tse("secure-v2", &v2, &path);
    last = snap(t).counter;
    tse_close(t);
    assert_int_equal(th_tamper_log(path, last), 0);
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(snap(t).counter, last + 1);
    tse_close(t);
    free(path);
}

/* A full disk: the failed operation changes nothing, and once space is back
 * the counter continues without a gap. */
static void test_full_disk(void **state)
{
    (void)state;
    char *dir = th_path("fulldisk");
    mkdir(dir, 0700);
    assert_int_equal(mount("tmpfs", dir, "tmpfs", 0, "size=2m"), 0);
    char *db = NULL, *filler = NULL;
    assert_true(asprintf(&db, "%s/tse.db", dir) > 0);
    assert_true(asprintf(&filler, "%s/filler", dir) > 0);
    tse_create_options co = {.master_key_path = th_master_key()};
    char puk[TSE_PUK_LEN + 1];
    assert_int_equal(tse_create(db, &co, puk), TSE_OK);
    tse_open_options oo = {.master_key_path = th_master_key()};
    tse *t = NULL;
    assert_int_equal(tse_open(db, &oo, &t), TSE_OK);
    assert_int_equal(tse_set_admin_pin(t, puk, READY_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_initialize(t, "full disk"), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    assert_int_equal(tse_register_client(t, READY_CLIENT), TSE_OK);

    /* fill the file system */
    FILE *f = fopen(filler, "w");
    assert_non_null(f);
    static char chunk[4096];
    while (fwrite(chunk, 1, sizeof chunk, f) == sizeof chunk)
        ;
    fclose(f);
    tse_result r;
    static uint8_t pd[64 * 1024];
    int failures = 0;
    snapshot before = snap(t);
    for (int i = 0; i < 64; i++) {
        snapshot b = snap(t);
        tse_err rc = tse_start_transaction(t, READY_CLIENT, pd, sizeof pd, NULL, NULL, 0, &r);
        if (rc == TSE_ERR_STORAGE_FAILURE) {
            failures++;
            same(b, snap(t));
            break;
        }
        assert_int_equal(rc, TSE_OK);
    }
    assert_int_equal(failures, 1);
    assert_true(snap(t).counter >= before.counter);
    unlink(filler);
    snapshot b = snap(t);
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    assert_int_equal(r.signature_counter, b.counter + 1);
    assert_int_equal(r.transaction_number, b.tx + 1);
    assert_int_equal(ready_check_all_logs(t), r.signature_counter);
    tse_close(t);
    assert_int_equal(umount(dir), 0);
    free(db);
    free(filler);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_state_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_pin_retries_block_and_unblock),
        cmocka_unit_test(test_puk_back_off),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_tampered_store_fails_self_test),
        cmocka_unit_test(test_secure_state),
        cmocka_unit_test(test_full_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
