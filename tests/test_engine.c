/*
 * test_engine.c - the engine through the public SE API: lifecycle, the logs
 * each operation writes, transactions (signed and unsigned updates), open
 * transactions by age, curves, time formats, certificates and reopening.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ready_tse.h"

static void expect_ops(tse *t, uint64_t from, const char *const *ops, size_t n)
{
    char op[64];
    for (size_t i = 0; i < n; i++) {
        ready_log_operation(t, from + i, op, sizeof op);
        assert_string_equal(op, ops[i]);
    }
}

static void test_lifecycle(void **state)
{
    (void)state;
    char puk[TSE_PUK_LEN + 1], *path = NULL;
    tse_create_options v2 = {.log_format_version = 2};   /* the version-2 operation names below */
    tse *t = ready_created("life", &v2, puk, &path);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.state, TSE_STATE_CREATED);
    assert_int_equal(info.signature_counter, 1); /* selfTest at open */
    assert_true(info.self_test_ok);
    assert_string_equal(info.signature_algorithm, "ecdsa-plain-SHA256");
    assert_int_equal(strlen(puk), TSE_PUK_LEN);

    assert_int_equal(tse_set_admin_pin(t, "0000000000", READY_PIN), TSE_ERR_UNBLOCK_FAILED);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.state, TSE_STATE_CREATED);
    assert_int_equal(tse_set_admin_pin(t, puk, READY_PIN), TSE_OK);
    assert_int_equal(tse_initialize(t, "desc"), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_initialize(t, "OpenTSE test"), TSE_OK);
    /* a TSE that does not trust the host clock registers no client before its time is set */
    assert_int_equal(tse_register_client(t, READY_CLIENT), TSE_ERR_TIME_NOT_SET);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.signature_counter, 5);
    assert_int_equal(info.current_clients, 0);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(tse_update_time(t, now), TSE_OK);
    assert_int_equal(tse_register_client(t, READY_CLIENT), TSE_OK);

    const uint8_t pd1[] = "Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar";
    tse_result s, u, f;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, (const uint8_t *)"", 0, "Kassenbeleg-V1", NULL, 0, &s),
                     TSE_OK);
    assert_int_equal(s.transaction_number, 1);
    assert_int_equal(s.signature_counter, 8);
    assert_int_equal(s.signature_len, 64);
    assert_true(s.log_time >= now && s.log_time <= now + 5);
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, 1, pd1, sizeof pd1 - 1, "Kassenbeleg-V1",
                                            TSE_UPDATE_SIGNED, &u), TSE_OK);
    assert_int_equal(u.signature_counter, 9);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, 1, pd1, sizeof pd1 - 1, "Kassenbeleg-V1", NULL, 0, &f),
                     TSE_OK);
    assert_int_equal(f.signature_counter, 10);
    assert_int_equal(f.transaction_number, 1);
    assert_int_equal(f.start_time, s.log_time);

    /* the last log is the finish, byte for byte what we signed */
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_message(t, &msg, &len), TSE_OK);
    logmsg m;
    tse_error err = {0};
    assert_true(logmsg_parse(msg, len, &m, &err));
    assert_int_equal(m.kind, LOGMSG_TRANSACTION);
    assert_int_equal(m.transaction_number, 1);
    assert_int_equal(m.signature_counter, 10);
    assert_int_equal(m.log_time, f.log_time);
    assert_memory_equal(m.signature.p, f.signature, f.signature_len);
    assert_int_equal(m.client_id.n, strlen(READY_CLIENT));
    assert_memory_equal(m.client_id.p, READY_CLIENT, m.client_id.n);
    uint8_t pd[128];
    size_t pd_len = 0;
    assert_true(der_get_octets(&m.process_data, pd, sizeof pd, &pd_len));
    assert_int_equal(pd_len, sizeof pd1 - 1);
    assert_memory_equal(pd, pd1, pd_len);
    tse_free(msg);

    static const char *const ops[] = {"selfTest", "unblockUser", "unblockUser", "authenticateUser", "initialize",
                                      "updateTime", "registerClient", "StartTransaction", "UpdateTransaction",
                                      "FinishTransaction"};
    expect_ops(t, 1, ops, 10);
    assert_int_equal(ready_check_all_logs(t), 10);

    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.state, TSE_STATE_INITIALIZED);
    assert_int_equal(info.transaction_counter, 1);
    assert_int_equal(info.current_clients, 1);
    assert_int_equal(info.current_open_transactions, 0);
    assert_string_equal(info.description, "OpenTSE test");
    assert_true(info.time_set);

    /* logOut, disable: later signing refused, logs stay readable */
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_disable_secure_element(t), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_disable_secure_element(t), TSE_OK);
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &s),
                     TSE_ERR_SECURE_ELEMENT_DISABLED);
    static const char *const ops2[] = {"logOut", "authenticateUser", "disableSecureElement"};
    expect_ops(t, 11, ops2, 3);
    tse_close(t);

    /* reopen: state and counters stay; disabled, it signs no selfTest log any more */
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.state, TSE_STATE_DISABLED);
    assert_int_equal(info.signature_counter, 13);
    assert_int_equal(info.transaction_counter, 1);
    assert_int_equal(ready_check_all_logs(t), 13);
    tse_close(t);
    free(path);
}

/* Log `counter` is the transaction log of op for (client, type, pd);
 * type NULL: an empty processType. */
static void expect_tx(tse *t, uint64_t counter, logmsg_tx_op op, const char *client, const char *type,
                      const char *pd)
{
    logmsg m;
    uint8_t *msg = ready_log(t, counter, &m);
    assert_int_equal(m.tx_op, op);
    assert_true(m.client_id.n == strlen(client) && !memcmp(m.client_id.p, client, m.client_id.n));
    type = type ? type : "";
    assert_true(m.process_type.n == strlen(type) && !memcmp(m.process_type.p, type, m.process_type.n));
    uint8_t d[64];
    size_t dn = 0;
    assert_true(der_get_octets(&m.process_data, d, sizeof d, &dn));
    assert_true(dn == strlen(pd) && !memcmp(d, pd, dn));
    tse_free(msg);
}

static void test_unsigned_updates_survive_reopen(void **state)
{
    (void)state;
    char *path = NULL;
    tse *t = ready_tse("unsigned", NULL, &path);
    tse_result r, f;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &r), TSE_OK);
    uint64_t counter = r.signature_counter;
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, r.transaction_number, (const uint8_t *)"AB", 2, NULL,
                                            TSE_UPDATE_UNSIGNED, &f), TSE_OK);
    assert_int_equal(f.signature_counter, 0);
    assert_int_equal(f.signature_len, 0);
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, r.transaction_number, (const uint8_t *)"CD", 2, NULL,
                                            TSE_UPDATE_UNSIGNED, &f), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.signature_counter, counter);
    tse_close(t);

    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &f), TSE_ERR_TIME_NOT_SET);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, r.transaction_number, (const uint8_t *)"EF", 2,
                                            "Kassenbeleg-V1", NULL, 0, &f), TSE_ERR_TIME_NOT_SET);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, r.transaction_number, (const uint8_t *)"EF", 2,
                                            "Kassenbeleg-V1", NULL, 0, &f), TSE_OK);
    /* the kept data in an update log of its own, then the finish's own data
     * (TR-03151-1 3.7.1.4); kept without a processType, it takes the finish's */
    expect_tx(t, f.signature_counter - 1, LOGMSG_TX_UPDATE, READY_CLIENT, "Kassenbeleg-V1", "ABCD");
    expect_tx(t, f.signature_counter, LOGMSG_TX_FINISH, READY_CLIENT, "Kassenbeleg-V1", "EF");
    ready_check_all_logs(t);
    tse_update_variant v;
    assert_int_equal(tse_get_supported_transaction_update_variants(t, &v), TSE_OK);
    assert_int_equal(v, TSE_UPDATE_SIGNED_AND_UNSIGNED);
    tse_close(t);
    free(path);
}

/* Any registered client goes on with an open transaction, each log under
 * its own call's clientId; kept data of another clientId or processType
 * is first signed under its own (TR-03151-1 3.7.6.5 step 9), also after a
 * reopen (whose the kept data is, is stored with it). */
static void test_kept_data_of_another_client_or_type(void **state)
{
    (void)state;
    char *path = NULL;
    tse *t = ready_tse("kept-owner", NULL, &path);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_register_client(t, "KASSE-02"), TSE_OK);
    tse_result s, k, r;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), TSE_OK);
    uint64_t n = s.transaction_number, c = s.signature_counter;
    assert_int_equal(tse_update_transaction_logs(t, READY_CLIENT, n, (const uint8_t *)"AB", 2, "Kassenbeleg-V1",
                                                 TSE_UPDATE_UNSIGNED, &k, &r), TSE_OK);
    assert_int_equal(k.signature_counter, 0);
    assert_int_equal(r.signature_counter, 0);
    tse_close(t);
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    c = info.signature_counter;   /* the reopen's selfTest and the time */

    /* another client, signed: READY_CLIENT's "AB" first, then KASSE-02's "CD" */
    assert_int_equal(tse_update_transaction_logs(t, "KASSE-02", n, (const uint8_t *)"CD", 2, "Kassenbeleg-V1",
                                                 TSE_UPDATE_SIGNED, &k, &r), TSE_OK);
    assert_int_equal(k.signature_counter, c + 1);
    assert_int_equal(k.transaction_number, n);
    assert_int_equal(k.signature_len, r.signature_len);
    assert_int_equal(r.signature_counter, c + 2);
    expect_tx(t, c + 1, LOGMSG_TX_UPDATE, READY_CLIENT, "Kassenbeleg-V1", "AB");
    expect_tx(t, c + 2, LOGMSG_TX_UPDATE, "KASSE-02", "Kassenbeleg-V1", "CD");

    /* another processType, unsigned: the kept data's log only */
    assert_int_equal(tse_update_transaction(t, "KASSE-02", n, (const uint8_t *)"EF", 2, "Bestellung-V1",
                                            TSE_UPDATE_UNSIGNED, &r), TSE_OK);
    assert_int_equal(tse_update_transaction_logs(t, "KASSE-02", n, (const uint8_t *)"GH", 2, "Kassenbeleg-V1",
                                                 TSE_UPDATE_UNSIGNED, &k, &r), TSE_OK);
    assert_int_equal(k.signature_counter, c + 3);
    assert_int_equal(r.signature_counter, 0);
    expect_tx(t, c + 3, LOGMSG_TX_UPDATE, "KASSE-02", "Bestellung-V1", "EF");
    /* the same client and type: joined as before, no second log */
    assert_int_equal(tse_update_transaction_logs(t, "KASSE-02", n, (const uint8_t *)"IJ", 2, "Kassenbeleg-V1",
                                                 TSE_UPDATE_SIGNED, &k, &r), TSE_OK);
    assert_int_equal(k.signature_counter, 0);
    assert_int_equal(r.signature_counter, c + 4);
    expect_tx(t, c + 4, LOGMSG_TX_UPDATE, "KASSE-02", "Kassenbeleg-V1", "GHIJ");

    /* kept without a processType (NULL) takes the finish's; another client
     * still gets a log of its own, with the empty processType */
    assert_int_equal(tse_update_transaction(t, "KASSE-02", n, (const uint8_t *)"KL", 2, NULL, TSE_UPDATE_UNSIGNED,
                                            &r), TSE_OK);
    assert_int_equal(tse_finish_transaction_logs(t, READY_CLIENT, n, (const uint8_t *)"MN", 2, "Kassenbeleg-V1",
                                                 NULL, 0, &k, &r), TSE_OK);
    assert_int_equal(k.signature_counter, c + 5);
    assert_int_equal(r.signature_counter, c + 6);
    expect_tx(t, c + 5, LOGMSG_TX_UPDATE, "KASSE-02", NULL, "KL");
    expect_tx(t, c + 6, LOGMSG_TX_FINISH, READY_CLIENT, "Kassenbeleg-V1", "MN");

    /* NULL kept, the same client: a finish signs kept data in an update log
     * of its own first (3.7.1.4), under the finish's processType */
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), TSE_OK);
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, s.transaction_number, (const uint8_t *)"OP", 2, NULL,
                                            TSE_UPDATE_UNSIGNED, &r), TSE_OK);
    assert_int_equal(tse_finish_transaction_logs(t, READY_CLIENT, s.transaction_number, (const uint8_t *)"QR", 2,
                                                 "Kassenbeleg-V1", NULL, 0, &k, &r), TSE_OK);
    assert_int_equal(k.signature_counter, s.signature_counter + 1);
    assert_int_equal(r.signature_counter, s.signature_counter + 2);
    expect_tx(t, k.signature_counter, LOGMSG_TX_UPDATE, READY_CLIENT, "Kassenbeleg-V1", "OP");
    expect_tx(t, r.signature_counter, LOGMSG_TX_FINISH, READY_CLIENT, "Kassenbeleg-V1", "QR");
    /* an unregistered client cannot make the kept data's log either */
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), TSE_OK);
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, s.transaction_number, (const uint8_t *)"ST", 2, "A",
                                            TSE_UPDATE_UNSIGNED, &r), TSE_OK);
    assert_int_equal(tse_update_transaction_logs(t, "KASSE-99", s.transaction_number, (const uint8_t *)"UV", 2, "B",
                                                 TSE_UPDATE_SIGNED, &k, &r), TSE_ERR_CLIENT_NOT_REGISTERED);
    assert_int_equal(k.signature_counter, 0);
    tse_transaction_state st;
    assert_int_equal(tse_get_transaction_state(t, s.transaction_number, &st), TSE_OK);
    assert_int_equal(st, TSE_TX_UPDATED_WITH_UNPROTECTED_DATA);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.signature_counter, s.signature_counter);
    ready_check_all_logs(t);
    tse_close(t);
    free(path);
}

static void test_open_transactions_by_age(void **state)
{
    (void)state;
    tse *t = ready_tse("age", NULL, NULL);
    tse_result a, b, u;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &a), TSE_OK);
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &b), TSE_OK);
    assert_true(b.transaction_number == a.transaction_number + 1);
    /* 100 s later for the TSE: both are past MAX_UPDATE_DELAY */
    assert_int_equal(tse_update_time(t, a.log_time + 100), TSE_OK);
    tse_open_transaction *list = NULL;
    size_t n = 0;
    assert_int_equal(tse_list_open_transactions(t, &list, &n), TSE_OK);
    assert_int_equal(n, 2);
    assert_true(list[0].overdue && list[1].overdue);
    assert_true(list[0].age_seconds >= 100);
    tse_free(list);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.overdue_open_transactions, 2);
    /* updating the first makes it the youngest */
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, a.transaction_number, (const uint8_t *)"x", 1, NULL,
                                            TSE_UPDATE_SIGNED, &u), TSE_OK);
    assert_int_equal(tse_list_open_transactions(t, &list, &n), TSE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].transaction_number, b.transaction_number);
    assert_true(list[0].overdue);
    assert_int_equal(list[1].transaction_number, a.transaction_number);
    assert_false(list[1].overdue);
    tse_free(list);
    uint32_t cur = 0, max = 0;
    assert_int_equal(tse_get_current_number_of_transactions(t, &cur), TSE_OK);
    assert_int_equal(tse_get_max_number_of_transactions(t, &max), TSE_OK);
    assert_int_equal(cur, 2);
    assert_int_equal(max, 10000);
    assert_int_equal(tse_get_current_number_of_clients(t, &cur), TSE_OK);
    assert_int_equal(tse_get_max_number_of_clients(t, &max), TSE_OK);
    assert_int_equal(cur, 1);
    assert_int_equal(max, 10000);
    tse_close(t);
}

static void test_every_curve(void **state)
{
    (void)state;
    static const struct {
        tse_curve c;
        size_t sig;
        const char *alg;
    } cases[] = {
        {TSE_CURVE_P256, 64, "ecdsa-plain-SHA256"},
        {TSE_CURVE_P384, 96, "ecdsa-plain-SHA384"},
        {TSE_CURVE_P521, 132, "ecdsa-plain-SHA512"},
        {TSE_CURVE_BRAINPOOL_P256R1, 64, "ecdsa-plain-SHA256"},
        {TSE_CURVE_BRAINPOOL_P384R1, 96, "ecdsa-plain-SHA384"},
        {TSE_CURVE_BRAINPOOL_P512R1, 128, "ecdsa-plain-SHA512"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tse_create_options o = {.curve = cases[i].c};
        tse *t = ready_tse("curve", &o, NULL);
        tse_result r;
        assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
        assert_int_equal(r.signature_len, cases[i].sig);
        tse_info info;
        assert_int_equal(tse_get_info(t, &info), TSE_OK);
        assert_string_equal(info.signature_algorithm, cases[i].alg);
        assert_int_equal(info.curve, cases[i].c);
        ready_check_all_logs(t);
        tse_close(t);
    }
}

/* On the host's clock the TSE's time lies between time() read before and
 * after, at every turn of a second too: read over one and a half seconds
 * (with the precise clock_gettime the TSE was a second ahead of time() for
 * a few milliseconds after each turn). */
static void test_time_between_host_reads(void **state)
{
    (void)state;
    tse_create_options o = {.trust_system_clock = 1};
    char puk[TSE_PUK_LEN + 1];
    tse *t = ready_created("clock", &o, puk, NULL);
    time_t end = time(NULL) + 2;
    long reads = 0;
    for (time_t before = time(NULL); before < end; before = time(NULL), reads++) {
        tse_info info;
        assert_int_equal(tse_get_info(t, &info), TSE_OK);
        time_t after = time(NULL);
        if (info.time_now < before || info.time_now > after)
            fail_msg("read %ld: the TSE's time %lld outside the host's %lld..%lld", reads, (long long)info.time_now,
                     (long long)before, (long long)after);
    }
    assert_true(reads > 100);
    tse_close(t);
}

static void test_time_formats_and_trusted_clock(void **state)
{
    (void)state;
    static const tse_time_format fmts[] = {TSE_TIME_UNIX, TSE_TIME_UTC, TSE_TIME_GENERALIZED};
    for (size_t i = 0; i < 3; i++) {
        tse_create_options o = {.time_format = fmts[i], .trust_system_clock = 1};
        char puk[TSE_PUK_LEN + 1];
        tse *t = ready_created("fmt", &o, puk, NULL);
        assert_int_equal(tse_set_admin_pin(t, puk, READY_PIN), TSE_OK);
        assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
        assert_int_equal(tse_initialize(t, "fmt"), TSE_OK);
        assert_int_equal(tse_register_client(t, READY_CLIENT), TSE_OK);
        /* no updateTime needed on a trusted clock */
        tse_result r;
        int64_t before = (int64_t)time(NULL);
        assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_OK);
        assert_true(r.log_time >= before && r.log_time <= before + 2);
        uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(tse_read_log_message(t, &msg, &len), TSE_OK);
        logmsg m;
        tse_error err = {0};
    char name[256];
        assert_true(logmsg_parse(msg, len, &m, &err));
        assert_int_equal(m.time_format, (logmsg_time_format)fmts[i]);
        assert_int_equal(m.log_time, r.log_time);
        assert_true(logmsg_filename(&m, 0, name, sizeof name));
        const char *prefix = fmts[i] == TSE_TIME_UNIX ? "Unixt_" : fmts[i] == TSE_TIME_UTC ? "Utc_" : "Gent_";
        assert_int_equal(strncmp(name, prefix, strlen(prefix)), 0);
        tse_free(msg);
        ready_check_all_logs(t);
        tse_close(t);
    }
}

/* An embedded TSE whose certificate ends in 20 days: tse_get_info and
 * getEndOfUsageDate give the TSE certificate's notAfter and the 30-day
 * warning; the thresholds of tse_end_of_usage_warning. */
static void test_end_of_usage(void **state)
{
    (void)state;
    tse_create_options o = {0};
    tse *t = ready_tse_valid_for("endofusage", &o, 20 * 86400, NULL);
    tse_info i;
    assert_int_equal(tse_get_info(t, &i), TSE_OK);
    int64_t end = 0, not_after = 0;
    assert_int_equal(tse_get_end_of_usage_date(t, &end), TSE_OK);
    assert_int_equal(tse_certificate_expiry(t, &not_after, NULL), TSE_OK);
    assert_int_equal(end, not_after);
    assert_int_equal(i.end_of_usage, end);
    assert_int_equal(i.end_of_usage_certificate, 0);
    assert_int_equal(i.end_of_usage_days_left, (end - (int64_t)time(NULL)) / 86400);
    assert_true(i.end_of_usage_days_left == 19 || i.end_of_usage_days_left == 20);
    assert_int_equal(i.end_of_usage_warning, 30);
    assert_int_equal(tse_get_end_of_usage_date(t, NULL), TSE_ERR_INVALID_ARGUMENT);
    tse_close(t);
    static const int32_t days[][2] = {{400, 0}, {181, 0}, {180, 180}, {91, 180}, {90, 90}, {31, 90}, {30, 30},
                                      {8, 30},  {7, 7},  {0, 7},     {-5, 7}};
    for (size_t k = 0; k < sizeof days / sizeof days[0]; k++)
        assert_int_equal(tse_end_of_usage_warning(days[k][0]), days[k][1]);
}

static void test_certificate_expiry_still_stores(void **state)
{
    (void)state;
    tse *t = ready_tse_valid_for("expiry", NULL, 3600, NULL);
    int64_t not_after = 0;
    int32_t days = -1;
    assert_int_equal(tse_certificate_expiry(t, &not_after, &days), TSE_OK);
    int64_t now = (int64_t)time(NULL);
    assert_true(not_after > now && not_after <= now + 3600);
    assert_int_equal(days, 0);
    tse_result r;
    assert_int_equal(tse_update_time(t, now + 7200), TSE_OK);
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, NULL, NULL, 0, &r), TSE_ERR_CERTIFICATE_EXPIRED);
    assert_true(r.signature_counter > 0);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, r.signature_counter, &msg, &len), TSE_OK);
    tse_free(msg);
    ready_check_all_logs(t);
    tse_close(t);
}

static void test_serial_numbers_and_certificates(void **state)
{
    (void)state;
    tse *t = ready_tse("certs", NULL, NULL);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint8_t *der = NULL, *point = NULL;
    size_t len = 0, plen = 0;
    assert_int_equal(tse_export_serial_numbers(t, &der, &len), TSE_OK);
    /* 30 L 30 L 04 20 <serial> 30 09 01 01 FF 01 01 FF 01 01 FF (log format 3: untagged) */
    assert_int_equal(len, 2 + 2 + 34 + 11);
    assert_int_equal(der[0], 0x30);
    assert_int_equal(der[4], 0x04);
    assert_memory_equal(der + 6, info.serial_number, 32);
    static const uint8_t usage[] = {0x30, 9, 1, 1, 0xff, 1, 1, 0xff, 1, 1, 0xff};
    assert_memory_equal(der + 38, usage, sizeof usage);
    tse_free(der);
    assert_int_equal(tse_public_key(t, &point, &plen), TSE_OK);
    uint8_t serial[32];
    csp_serial(point, plen, serial);
    assert_memory_equal(serial, info.serial_number, 32);
    tse_free(point);

    char *pem = NULL, *csr = NULL;
    assert_int_equal(tse_export_certificates(t, &pem), TSE_OK);
    assert_non_null(strstr(pem, "BEGIN CERTIFICATE"));
    assert_int_equal(tse_export_csr(t, &csr), TSE_OK);
    assert_non_null(strstr(csr, "BEGIN CERTIFICATE REQUEST"));

    /* an externally issued certificate: openssl signs our CSR with its own CA */
    char *dir = th_path("extca");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cd %s && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout ca.key -out ca.pem "
             "-subj /CN=ExtCA -days 30 -sha384 2>/dev/null && "
             "openssl x509 -req -in csr.pem -CA ca.pem -CAkey ca.key -CAcreateserial -days 20 -sha384 "
             "-out tse.pem 2>/dev/null && cat tse.pem ca.pem > chain.pem", dir, dir);
    char *csr_path = NULL;
    assert_true(asprintf(&csr_path, "%s/csr.pem", dir) > 0);
    assert_int_equal(system(cmd), 256); /* fails before the CSR exists */
    assert_int_equal(th_write_file(csr_path, csr, strlen(csr)), 0);
    assert_int_equal(system(cmd), 0);
    char *chain_path = NULL;
    assert_true(asprintf(&chain_path, "%s/chain.pem", dir) > 0);
    size_t chain_len = 0;
    char *chain = (char *)th_read_file(chain_path, &chain_len);
    assert_non_null(chain);
    assert_int_equal(tse_import_certificate(t, chain), TSE_OK);
    int32_t days = 0;
    assert_int_equal(tse_certificate_expiry(t, NULL, &days), TSE_OK);
    assert_true(days >= 19 && days <= 20);

    /* another TSE's chain does not fit this key */
    tse *other = ready_tse("certs-other", NULL, NULL);
    char *other_pem = NULL;
    assert_int_equal(tse_export_certificates(other, &other_pem), TSE_OK);
    assert_int_equal(tse_import_certificate(t, other_pem), TSE_ERR_CERTIFICATE_INVALID);
    assert_int_equal(tse_certificate_expiry(t, NULL, &days), TSE_OK);
    assert_true(days >= 19 && days <= 20);
    assert_int_equal(tse_self_test(t), TSE_OK);
    ready_check_all_logs(t);
    tse_free(other_pem);
    tse_close(other);
    free(chain);
    free(chain_path);
    free(csr_path);
    free(dir);
    tse_free(pem);
    tse_free(csr);
    tse_close(t);
}

static void test_time_admin_and_session_timeout(void **state)
{
    (void)state;
    tse_create_options o = {.session_timeout_seconds = 1};
    tse *t = ready_tse("timeadmin", &o, NULL);
    assert_int_equal(tse_set_time_admin_pin(t, "654321"), TSE_OK);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "654321", NULL, NULL), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    assert_int_equal(tse_register_client(t, "KASSE-02"), TSE_ERR_USER_NOT_AUTHORIZED);
    sleep(3);
    tse_info before, after;
    assert_int_equal(tse_get_info(t, &before), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_get_info(t, &after), TSE_OK);
    /* the expired session was logged out with a logOut(timeout) log */
    assert_int_equal(after.signature_counter, before.signature_counter + 1);
    char op[32];
    ready_log_operation(t, after.signature_counter, op, sizeof op);
    assert_string_equal(op, "logOut");
    ready_check_all_logs(t);
    tse_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_unsigned_updates_survive_reopen),
        cmocka_unit_test(test_kept_data_of_another_client_or_type),
        cmocka_unit_test(test_open_transactions_by_age),
        cmocka_unit_test(test_every_curve),
        cmocka_unit_test(test_time_formats_and_trusted_clock),
        cmocka_unit_test(test_time_between_host_reads),
        cmocka_unit_test(test_certificate_expiry_still_stores),
        cmocka_unit_test(test_end_of_usage),
        cmocka_unit_test(test_serial_numbers_and_certificates),
        cmocka_unit_test(test_time_admin_and_session_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
