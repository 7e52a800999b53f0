/*
 * test_se_api.c - the SE API suite, run once per transport: `file` (the
 * engine in-process) and `http` (the real opentsed over HTTP). Every
 * assertion is the same for both: results, counters, signatures (checked
 * with the openssl command line over signed bytes rebuilt from the result)
 * and error codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/logmsg.h"
#include "engine/engine.h"
#include "helpers.h"
#include "transport.h"

/* Checks a transaction result's signature: rebuilds the signed bytes from
 * what was sent and what came back, verifies with the openssl command line. */
static void check_signature(tse *t, const char *operation, const char *client, const char *pd, const char *pt,
                            const tse_result *r)
{
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_memory_equal(r->serial_number, info.serial_number, TSE_SERIAL_LEN);
    uint8_t *point = NULL;
    size_t point_len = 0;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    logmsg_fields f = {
        .kind = LOGMSG_TRANSACTION,
        .version = 3,   /* both transports' TSEs are of the default log format */
        .operation = operation,
        .client_id = client,
        .process_data = {(const uint8_t *)pd, strlen(pd)},
        .process_type = pt,
        .transaction_number = r->transaction_number,
        .serial_number = r->serial_number,
        .signature_algorithm_oid = logmsg_sigalg_oid(info.signature_algorithm),
        .signature_counter = r->signature_counter,
        .time_format = (logmsg_time_format)info.time_format,
        .log_time = r->log_time,
    };
    assert_non_null(f.signature_algorithm_oid);
    uint8_t buf[4096];
    der_w w = der_w_init(buf, sizeof buf);
    assert_true(logmsg_encode_tbs(&w, &f));
    assert_true(der_w_ok(&w));
    assert_int_equal(th_openssl_verify(info.curve, info.hash, point, point_len, buf, w.len, r->signature,
                                       r->signature_len),
                     0);
    /* one changed byte of process data: openssl must refuse */
    buf[w.len / 2] ^= 1;
    assert_int_equal(th_openssl_verify(info.curve, info.hash, point, point_len, buf, w.len, r->signature,
                                       r->signature_len),
                     1);
    tse_free(point);
}

static void test_lifecycle(void **state)
{
    (void)state;
    char puk[TSE_PUK_LEN + 1];
    char *url = tt_create("life", puk);
    assert_int_equal(strlen(puk), TSE_PUK_LEN);
    tse *t = tt_open(url);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.state, TSE_STATE_CREATED);
    assert_int_equal(info.signature_counter, 0 + info.signature_counter); /* self-test logs vary by transport */
    assert_true(info.self_test_ok);
    assert_true(info.cert_days_left > 300);

    /* the same URL cannot be created twice */
    char puk2[TSE_PUK_LEN + 1];
    tse_open_options oo = tt_open_options();
    tse_create_options co = {.master_key_path = oo.master_key_path, .remote = &oo};
    assert_int_equal(tse_create(url + (tt_http() ? 0 : 5), &co, puk2), TSE_ERR_ALREADY_EXISTS);

    /* a wrong PUK changes nothing */
    char bad[TSE_PUK_LEN + 1];
    snprintf(bad, sizeof bad, "%s", puk);
    bad[0] = bad[0] == '9' ? '0' : (char)(bad[0] + 1);
    assert_int_equal(tse_set_admin_pin(t, bad, TT_PIN), TSE_ERR_UNBLOCK_FAILED);
    assert_int_equal(tse_set_admin_pin(t, puk, TT_PIN), TSE_OK);

    /* wrong PIN: failed, with retries left; then the right one */
    tse_auth_result res = TSE_AUTH_OK;
    int left = -1;
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "654321", &res, &left), TSE_ERR_AUTHENTICATION_FAILED);
    assert_int_equal(res, TSE_AUTH_FAILED);
    assert_int_equal(left, 2);
    assert_int_equal(tse_authenticate_user(t, "nobody", TT_PIN, &res, NULL), TSE_ERR_USER_ID_NOT_MANAGED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, &res, NULL), TSE_OK);
    assert_int_equal(res, TSE_AUTH_OK);

    assert_int_equal(tse_initialize(t, NULL), TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER);
    assert_int_equal(tse_initialize(t, "OpenTSE client test"), TSE_OK);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.state, TSE_STATE_INITIALIZED);
    assert_true(info.time_set);
    /* a second initialize is refused on both transports, and writes nothing */
    tse_info again;
    assert_int_equal(tse_initialize(t, "noch einmal"), TSE_ERR_WRONG_STATE);
    assert_non_null(strstr(tse_last_error_message(), "initialized already"));
    assert_int_equal(tse_initialize(t, NULL), TSE_ERR_WRONG_STATE);
    assert_int_equal(tse_get_info(t, &again), TSE_OK);
    assert_int_equal(again.signature_counter, info.signature_counter);
    char desc[TSE_MAX_DESCRIPTION_LEN + 1];
    assert_int_equal(tse_get_description(t, desc), TSE_OK);
    assert_string_equal(desc, "OpenTSE client test");

    assert_int_equal(tse_register_client(t, TT_CLIENT), TSE_OK);
    assert_int_equal(tse_register_client(t, TT_CLIENT), TSE_ERR_ALREADY_EXISTS);
    assert_int_equal(tse_register_client(t, "KASSE-02"), TSE_OK);
    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(tse_list_clients(t, &ids, &n), TSE_OK);
    assert_int_equal(n, 2);
    assert_true((!strcmp(ids[0], TT_CLIENT) && !strcmp(ids[1], "KASSE-02")) ||
                (!strcmp(ids[1], TT_CLIENT) && !strcmp(ids[0], "KASSE-02")));
    tse_free_strings(ids, n);
    uint32_t count = 9;
    /* the clients of open transactions (TR-03151-1 v1.1.1 3.7.9.2): none yet */
    assert_int_equal(tse_get_current_number_of_clients(t, &count), TSE_OK);
    assert_int_equal(count, 0);
    assert_int_equal(tse_deregister_client(t, "KASSE-02"), TSE_OK);
    assert_int_equal(tse_deregister_client(t, "KASSE-02"), TSE_ERR_ID_NOT_FOUND);
    assert_int_equal(tse_list_clients(t, &ids, &n), TSE_OK);
    assert_int_equal(n, 1);
    tse_free_strings(ids, n);

    /* serial numbers: one key, used for transaction logs */
    uint8_t *der = NULL;
    size_t der_len = 0;
    assert_int_equal(tse_export_serial_numbers(t, &der, &der_len), TSE_OK);
    assert_int_equal(der_len, 49);
    assert_memory_equal(der + 6, info.serial_number, TSE_SERIAL_LEN);
    tse_free(der);

    /* three wrong PINs block; then the right one does not help, the PUK does */
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "000000", &res, &left), TSE_ERR_AUTHENTICATION_FAILED);
    assert_int_equal(left, 2);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "000000", &res, &left), TSE_ERR_AUTHENTICATION_FAILED);
    assert_int_equal(left, 1);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "000000", &res, &left), TSE_ERR_PIN_BLOCKED);
    assert_int_equal(res, TSE_AUTH_PIN_BLOCKED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, &res, &left), TSE_ERR_PIN_BLOCKED);
    assert_int_equal(res, TSE_AUTH_PIN_BLOCKED);
    assert_int_equal(tse_unblock_user(t, TSE_USER_ADMIN, puk, "135790"), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "135790", &res, &left), TSE_OK);
    assert_int_equal(res, TSE_AUTH_OK);

    /* the time admin is blocked and unblocked the same way */
    assert_int_equal(tse_set_time_admin_pin(t, "246802"), TSE_OK);
    for (int i = 2; i >= 0; i--) {
        assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "000000", &res, &left),
                         i ? TSE_ERR_AUTHENTICATION_FAILED : TSE_ERR_PIN_BLOCKED);
        assert_int_equal(left, i);
    }
    assert_int_equal(res, TSE_AUTH_PIN_BLOCKED);
    assert_int_equal(tse_unblock_user(t, TSE_USER_TIME_ADMIN, bad, "864200"), TSE_ERR_UNBLOCK_FAILED);
    assert_int_equal(tse_unblock_user(t, TSE_USER_TIME_ADMIN, puk, "864200"), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "864200", &res, &left), TSE_OK);
    /* that login logged the admin out (TR-03151-1 3.2.3.5 step 5) */
    assert_int_equal(tse_disable_secure_element(t), TSE_ERR_USER_NOT_AUTHORIZED);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_ERR_USER_ID_NOT_AUTHENTICATED);
    assert_int_equal(tse_logout(t, TSE_USER_TIME_ADMIN), TSE_OK);
    assert_int_equal(tse_unblock_user(t, "nobody", puk, "864200"), TSE_ERR_USER_ID_NOT_MANAGED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "135790", &res, &left), TSE_OK);

    assert_int_equal(tse_disable_secure_element(t), TSE_OK);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.state, TSE_STATE_DISABLED);
    tse_result r;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"x", 1, "p", NULL, 0, &r),
                     TSE_ERR_SECURE_ELEMENT_DISABLED);
    /* disabled: the admin calls refuse, the logs stay readable */
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_ERR_SECURE_ELEMENT_DISABLED);
    assert_int_equal(tse_set_time_admin_pin(t, "246802"), TSE_ERR_SECURE_ELEMENT_DISABLED);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_SECURE_ELEMENT_DISABLED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "135790", &res, &left), TSE_ERR_SECURE_ELEMENT_DISABLED);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_message(t, &msg, &len), TSE_OK);
    tse_free(msg);
    tse_close(t);
    free(url);
}

static void test_transactions(void **state)
{
    (void)state;
    tse *t = tt_ready("tx", NULL);
    tse_info before;
    assert_int_equal(tse_get_info(t, &before), TSE_OK);

    tse_result s, u, f;
    const char *pt = "Kassenbeleg-V1";
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, pt, NULL, 0, &s), TSE_OK);
    assert_int_equal(s.transaction_number, before.transaction_counter + 1);
    assert_int_equal(s.signature_counter, before.signature_counter + 1);
    assert_int_equal(s.start_time, s.log_time);
    assert_true(llabs(s.log_time - (int64_t)time(NULL)) < 3600);
    check_signature(t, "startTransaction", TT_CLIENT, "", pt, &s);

    const char *item = "Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar";
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)item, strlen(item),
                                            pt, TSE_UPDATE_SIGNED, &u),
                     TSE_OK);
    assert_int_equal(u.transaction_number, s.transaction_number);
    assert_int_equal(u.signature_counter, s.signature_counter + 1);
    check_signature(t, "updateTransaction", TT_CLIENT, item, pt, &u);

    tse_open_transaction *open = NULL;
    size_t n = 0;
    assert_int_equal(tse_list_open_transactions(t, &open, &n), TSE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(open[0].transaction_number, s.transaction_number);
    assert_string_equal(open[0].client_id, TT_CLIENT);
    assert_int_equal(open[0].start_time, s.start_time);
    assert_false(open[0].overdue);
    tse_free(open);
    uint32_t count = 0;
    assert_int_equal(tse_get_current_number_of_transactions(t, &count), TSE_OK);
    assert_int_equal(count, 1);

    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)item, strlen(item),
                                            pt, NULL, 0, &f),
                     TSE_OK);
    assert_int_equal(f.transaction_number, s.transaction_number);
    assert_int_equal(f.signature_counter, u.signature_counter + 1);
    assert_int_equal(f.start_time, s.start_time);
    check_signature(t, "finishTransaction", TT_CLIENT, item, pt, &f);

    assert_int_equal(tse_list_open_transactions(t, &open, &n), TSE_OK);
    assert_int_equal(n, 0);
    tse_free(open);
    tse_info after;
    assert_int_equal(tse_get_info(t, &after), TSE_OK);
    assert_int_equal(after.signature_counter, f.signature_counter);
    assert_int_equal(after.transaction_counter, s.transaction_number);

    /* ten more: numbers and counters strictly +1 */
    for (int i = 0; i < 10; i++) {
        tse_result a, b;
        assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, pt, NULL, 0, &a), TSE_OK);
        assert_int_equal(tse_finish_transaction(t, TT_CLIENT, a.transaction_number, (const uint8_t *)item,
                                                strlen(item), pt, NULL, 0, &b),
                         TSE_OK);
        assert_int_equal(a.transaction_number, s.transaction_number + 1 + (uint64_t)i);
        assert_int_equal(a.signature_counter, f.signature_counter + 1 + 2 * (uint64_t)i);
        assert_int_equal(b.signature_counter, a.signature_counter + 1);
    }
    tse_close(t);
}

/* Export callback: appends to a file. */
static int refuse(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx, (void)data, (void)len;
    return TSE_ERR_TOO_LARGE;
}

/* Exports into a file and reads it back: the logs in the archive. */
static size_t export_logs(tse *t, const tse_export_filter *f, tse_export_result *er)
{
    char *path = th_path("export.tar");
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    tse_err rc = tse_export_data(t, f, th_to_file, out, er);
    assert_int_equal(fclose(out), 0);
    if (rc)
        fail_msg("tse_export_data: %s (%s)", tse_strerror(rc), tse_last_error_message());
    th_tar_entry *e = NULL;
    size_t n = 0, logs = 0, bytes = 0;
    assert_int_equal(th_tar_read(path, &e, &n), 0);
    for (size_t i = 0; i < n; i++)
        logs += strstr(e[i].name, ".log") != NULL;
    th_tar_free(e, n);
    uint8_t *raw = th_read_file(path, &bytes);
    free(raw);
    assert_int_equal(bytes, er->bytes);
    free(path);
    return logs;
}

/* Export: a whole archive, one transaction's, then the incremental rest. */
static void test_export(void **state)
{
    (void)state;
    tse *t = tt_ready("export", NULL);
    tse_result s, f;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, "p", NULL, 0, &s), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"x", 1, "p", NULL, 0,
                                            &f),
                     TSE_OK);
    tse_export_result er = {0};
    size_t logs = export_logs(t, NULL, &er);
    assert_int_equal(logs, er.logs);
    assert_int_equal(er.cursor, f.signature_counter);
    assert_int_equal(er.logs, f.signature_counter);   /* nothing deleted yet: every log */

    tse_export_filter one = {.transaction_number = s.transaction_number};
    tse_export_result er1 = {0};
    size_t one_logs = export_logs(t, &one, &er1);
    assert_int_equal(one_logs, er1.logs);
    assert_true(one_logs >= 2);
    one.transaction_number = 9999;
    assert_int_equal(tse_export_data(t, &one, th_to_file, NULL, &er1), TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND);
    tse_export_filter both = {.transaction_number = 1, .start_date = 1};
    assert_int_equal(tse_export_data(t, &both, th_to_file, NULL, &er1), TSE_ERR_PARAMETER_MISMATCH);
    /* a receiver that stops the stream: its code comes back */
    assert_int_equal(tse_export_data(t, NULL, refuse, NULL, &er1), TSE_ERR_TOO_LARGE);

    /* two more logs: the incremental export has exactly those */
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, "p", NULL, 0, &s), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"y", 1, "p", NULL, 0,
                                            &f),
                     TSE_OK);
    tse_export_filter inc = {.cursor = er.cursor};
    tse_export_result er2 = {0};
    assert_int_equal(export_logs(t, &inc, &er2), 2);
    assert_int_equal(er2.logs, 2);
    assert_int_equal(er2.cursor, f.signature_counter);
    /* the same with a limit: too small refuses, large enough exports */
    tse_export_filter lim = {.cursor = er.cursor, .maximum_number_records = 1};
    assert_int_equal(tse_export_data(t, &lim, th_to_file, NULL, &er1), TSE_ERR_TOO_MANY_RECORDS);
    lim.maximum_number_records = 2;
    assert_int_equal(export_logs(t, &lim, &er1), 2);
    assert_int_equal(er1.cursor, f.signature_counter);

    /* deleteStoredData: only what was exported; then a restore brings it back */
    char *archive = th_path("export.tar");
    tse_export_result all = {0};
    assert_int_equal(export_logs(t, NULL, &all), f.signature_counter);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    /* the logOut and the login are not exported: refused, with their number, over either transport */
    uint8_t *msg = NULL;
    size_t len = 0;
    tse_info info;
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);
    assert_non_null(strstr(tse_last_error_message(), "2 logs are not exported yet"));
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.signature_counter, f.signature_counter + 2);
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_OK);
    tse_free(msg);
    assert_int_equal(export_logs(t, NULL, &all), f.signature_counter + 2);
    assert_int_equal(tse_delete_stored_data(t), TSE_OK);
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);
    assert_int_equal(tse_delete_stored_data(t), TSE_ERR_UNEXPORTED_STORED_DATA);
    uint64_t added = 0;
    const char *paths[] = {archive};
    assert_int_equal(tse_restore_from_backup(t, paths, 1, &added), TSE_OK);
    assert_int_equal(added, f.signature_counter + 2);
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_OK);
    tse_free(msg);
    const char *missing[] = {"no-such-archive.tar"};
    assert_int_equal(tse_restore_from_backup(t, missing, 1, &added), TSE_ERR_RESTORE_FAILED);
    assert_int_equal(added, 0);
    free(archive);
    tse_close(t);
}

/* Parses a log message and checks its signature with the openssl command line. */
static void check_log(tse *t, const uint8_t *msg, size_t len, uint64_t counter, const char *operation)
{
    logmsg m;
    tse_error err = {0};
    if (!logmsg_parse(msg, len, &m, &err))
        fail_msg("log %llu: %s", (unsigned long long)counter, err);
    assert_int_equal(m.signature_counter, counter);
    assert_int_equal(m.operation.n, strlen(operation));
    assert_memory_equal(m.operation.p, operation, m.operation.n);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint8_t *point = NULL;
    size_t point_len = 0;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    assert_int_equal(th_openssl_verify(info.curve, info.hash, point, point_len, m.signed_bytes.p, m.signed_bytes.n,
                                       m.signature.p, m.signature.n),
                     0);
    tse_free(point);
}

/* The last log message: the given operation at the current counter. */
static void check_last_log(tse *t, const char *operation)
{
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint8_t *last = NULL, *same = NULL;
    size_t len = 0, len2 = 0;
    assert_int_equal(tse_read_log_message(t, &last, &len), TSE_OK);
    check_log(t, last, len, info.signature_counter, operation);
    assert_int_equal(tse_read_log_by_counter(t, info.signature_counter, &same, &len2), TSE_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(same, last, len);
    tse_free(last);
    tse_free(same);
}

/* Additional data goes into the start and finish logs as additionalExternalData. */
static void test_additional_data(void **state)
{
    (void)state;
    tse *t = tt_ready("ad", NULL);
    static const uint8_t ad1[] = {0, 1, 2, 0xff}, ad2[] = "Bon 17";
    tse_result s, f;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, "p", ad1, sizeof ad1, &s), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"x", 1, "p", ad2,
                                            sizeof ad2, &f),
                     TSE_OK);
    const uint8_t *ads[] = {ad1, ad2};
    size_t lens[] = {sizeof ad1, sizeof ad2};
    uint64_t counters[] = {s.signature_counter, f.signature_counter};
    for (int i = 0; i < 2; i++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        logmsg m;
        assert_int_equal(tse_read_log_by_counter(t, counters[i], &msg, &len), TSE_OK);
        check_log(t, msg, len, counters[i], i ? "finishTransaction" : "startTransaction");
        assert_true(logmsg_parse(msg, len, &m, NULL));
        assert_true(m.has_additional_external_data);
        assert_int_equal(m.additional_external_data.n, lens[i]);
        assert_memory_equal(m.additional_external_data.p, ads[i], lens[i]);
        tse_free(msg);
    }
    uint8_t *big = calloc(1, TSE_MAX_PROCESS_DATA_LEN + 1);
    assert_non_null(big);
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, "p", big, TSE_MAX_PROCESS_DATA_LEN + 1,
                                           &s),
                     TSE_ERR_TOO_LARGE);
    free(big);
    tse_close(t);
}

/* Unsigned updates write no log; their data leads the next signed one. */
static void test_unsigned_update(void **state)
{
    (void)state;
    tse *t = tt_ready("unsigned", NULL);
    tse_update_variant v = TSE_UPDATE_SIGNED;
    assert_int_equal(tse_get_supported_transaction_update_variants(t, &v), TSE_OK);
    assert_int_equal(v, TSE_UPDATE_SIGNED_AND_UNSIGNED);
    tse_result s, u, f;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, "p", NULL, 0, &s), TSE_OK);
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"A;", 2, "p",
                                            TSE_UPDATE_UNSIGNED, &u),
                     TSE_OK);
    assert_int_equal(u.transaction_number, s.transaction_number);
    assert_int_equal(u.signature_counter, 0);
    assert_int_equal(u.signature_len, 0);
    assert_int_equal(u.start_time, s.start_time);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.signature_counter, s.signature_counter);
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"B;", 2, "p",
                                            TSE_UPDATE_UNSIGNED, &u),
                     TSE_OK);
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, 999, (const uint8_t *)"B;", 2, "p", TSE_UPDATE_UNSIGNED, &u),
                     TSE_ERR_NO_TRANSACTION);
    /* the finish signs the kept data in an update log first (TR-03151-1
     * 3.7.1.4), then its own */
    tse_result k;
    assert_int_equal(tse_finish_transaction_logs(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"C", 1, "p",
                                                 NULL, 0, &k, &f),
                     TSE_OK);
    assert_int_equal(k.signature_counter, s.signature_counter + 1);
    assert_int_equal(f.signature_counter, s.signature_counter + 2);
    check_signature(t, "updateTransaction", TT_CLIENT, "A;B;", "p", &k);
    check_signature(t, "finishTransaction", TT_CLIENT, "C", "p", &f);
    tse_close(t);
}

/* Self-test, log messages, time and the time admin, CSR and certificates. */
static void test_admin_and_logs(void **state)
{
    (void)state;
    tse *t = tt_ready("admin", NULL);
    tse_info before, after;
    assert_int_equal(tse_get_info(t, &before), TSE_OK);
    assert_int_equal(tse_self_test(t), TSE_OK);
    assert_int_equal(tse_get_info(t, &after), TSE_OK);
    assert_int_equal(after.signature_counter, before.signature_counter + 1);
    check_last_log(t, "selfTest");
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, after.signature_counter + 1, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);
    assert_int_equal(tse_read_log_by_counter(t, 0, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);

    /* time: the admin sets it; logged out nobody may */
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(tse_update_time(t, now), TSE_OK);
    check_last_log(t, "updateTime");
    assert_int_equal(tse_update_time(t, 5), TSE_ERR_INVALID_TIME);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_ERR_USER_ID_NOT_AUTHENTICATED);
    assert_int_equal(tse_update_time(t, now), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_set_time_admin_pin(t, "246802"), TSE_ERR_USER_NOT_AUTHENTICATED);

    /* the time admin: PIN set by the admin, may set the time and nothing else */
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_set_time_admin_pin(t, "246802"), TSE_OK);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    tse_auth_result res = TSE_AUTH_OK;
    int left = -1;
    assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "000000", &res, &left),
                     TSE_ERR_AUTHENTICATION_FAILED);
    assert_int_equal(res, TSE_AUTH_FAILED);
    assert_int_equal(left, 2);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "246802", &res, &left), TSE_OK);
    assert_int_equal(tse_update_time(t, now + 1), TSE_OK);
    check_last_log(t, "updateTime");
    assert_int_equal(tse_register_client(t, "KASSE-09"), TSE_ERR_USER_NOT_AUTHORIZED);
    assert_int_equal(tse_logout(t, TSE_USER_TIME_ADMIN), TSE_OK);

    /* CSR out (checked by openssl), certificates in */
    char *csr = NULL;
    assert_int_equal(tse_export_csr(t, &csr), TSE_OK);
    char *csr_path = th_path("tse.csr");
    assert_int_equal(th_write_file(csr_path, csr, strlen(csr)), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "openssl req -in '%s' -noout -verify 2>/dev/null", csr_path);
    assert_int_equal(system(cmd), 0);
    tse_free(csr);
    free(csr_path);
    char *chain = NULL;
    assert_int_equal(tse_export_certificates(t, &chain), TSE_OK);
    /* the whole chain, TSS certificate first: it verifies with openssl */
    size_t certs = 0;
    for (const char *c = chain; (c = strstr(c, "-----BEGIN CERTIFICATE-----")); c++)
        certs++;
    assert_true(certs >= 2);
    char *chain_path = th_path("chain.pem");
    assert_int_equal(th_write_file(chain_path, chain, strlen(chain)), 0);
    snprintf(cmd, sizeof cmd, "openssl verify -CAfile '%s' '%s' >/dev/null 2>&1", chain_path, chain_path);
    assert_int_equal(system(cmd), 0);
    free(chain_path);
    assert_int_equal(tse_import_certificate(t, chain), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_import_certificate(t, "not a certificate"), TSE_ERR_CERTIFICATE_INVALID);
    assert_int_equal(tse_import_certificate(t, chain), TSE_OK);
    tse_free(chain);
    tse_close(t);
}

/* tse_logged_in_user names `want`. */
static void logged_in_is(tse *t, const char *want)
{
    char who[TSE_USER_ID_BUF];
    memset(who, 'x', sizeof who);
    assert_int_equal(tse_logged_in_user(t, who), TSE_OK);
    assert_string_equal(who, want);
}

#define TIME_PIN "246802"
#define LOGGER_PIN "975319"

/* The admin's PIN set and the admin logged in; it sets the time admin's
 * and the logger's PINs. */
static void with_pins(tse *t, const char *puk)
{
    assert_int_equal(tse_set_admin_pin(t, puk, TT_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    logged_in_is(t, TSE_USER_ADMIN);
    assert_int_equal(tse_set_user_pin(t, TSE_USER_TIME_ADMIN, TIME_PIN), TSE_OK);
    assert_int_equal(tse_set_user_pin(t, TSE_USER_LOGGER, LOGGER_PIN), TSE_OK);
}

/* Logs `user` in, then logs `out` out (NULL: nobody); who is logged in is `want`. */
static void in_out(tse *t, const char *user, const char *out, const char *want)
{
    const char *pin = !strcmp(user, TSE_USER_LOGGER) ? LOGGER_PIN : TIME_PIN;
    assert_int_equal(tse_authenticate_user(t, user, pin, NULL, NULL), TSE_OK);
    if (out)
        assert_int_equal(tse_logout(t, out), TSE_OK);
    logged_in_is(t, want);
}

/* Who is logged in (the roles of TR-03153-1 v1.1.1 table 9): one user at a
 * time on a TSE of log format 3; asking logs nothing. A TSE of log format 2
 * (file only) keeps a session per user and names the widest read rights. */
static void test_logged_in_user(void **state)
{
    (void)state;
    char puk[TSE_PUK_LEN + 1];
    char *url = tt_create("who", puk);
    tse *t = tt_open(url);
    logged_in_is(t, TSE_USER_UNAUTHENTICATED);
    char who[TSE_USER_ID_BUF];
    assert_int_equal(tse_logged_in_user(t, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_logged_in_user(NULL, who), TSE_ERR_INVALID_ARGUMENT);
    with_pins(t, puk);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "000000", NULL, NULL),
                     TSE_ERR_AUTHENTICATION_FAILED);
    logged_in_is(t, TSE_USER_ADMIN);   /* a wrong PIN changes nobody */
    tse_info before, after;
    assert_int_equal(tse_get_info(t, &before), TSE_OK);
    in_out(t, TSE_USER_TIME_ADMIN, NULL, TSE_USER_TIME_ADMIN);   /* the admin was logged out by it */
    logged_in_is(t, TSE_USER_TIME_ADMIN);
    assert_int_equal(tse_get_info(t, &after), TSE_OK);
    assert_int_equal(after.signature_counter, before.signature_counter + 2);   /* logOut, authenticateUser */
    in_out(t, TSE_USER_LOGGER, NULL, TSE_USER_LOGGER);
    assert_int_equal(tse_logout(t, TSE_USER_LOGGER), TSE_OK);
    logged_in_is(t, TSE_USER_UNAUTHENTICATED);
    tse_close(t);
    free(url);
    if (tt_http())
        return;

    /* log format 2: the sessions side by side */
    char *path = th_path("who-v2.db");
    tse_create_options co = {.master_key_path = th_master_key(), .trust_system_clock = 1, .log_format_version = 2};
    assert_int_equal(tse_create(path, &co, puk), TSE_OK);
    char v2[600];
    snprintf(v2, sizeof v2, "file:%s", path);
    t = tt_open(v2);
    with_pins(t, puk);
    in_out(t, TSE_USER_TIME_ADMIN, NULL, TSE_USER_ADMIN);   /* the admin stays beside the time admin */
    in_out(t, TSE_USER_LOGGER, TSE_USER_ADMIN, TSE_USER_LOGGER);
    in_out(t, TSE_USER_LOGGER, TSE_USER_LOGGER, TSE_USER_TIME_ADMIN);
    tse_close(t);
    free(path);
}

/* A transaction started through one handle is continued through another
 * (another process of the register, after a restart). */
static void test_second_handle(void **state)
{
    (void)state;
    char *url = NULL;
    tse *t = tt_ready("second", &url);
    tse_result s, f;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"a", 1, "p", NULL, 0, &s), TSE_OK);
    if (!tt_http()) {
        tse_close(t);   /* one handle per embedded store */
        t = NULL;
    }
    tse *t2 = tt_open(url);
    assert_int_equal(tse_finish_transaction(t2, TT_CLIENT, s.transaction_number, (const uint8_t *)"b", 1, "p", NULL,
                                            0, &f),
                     TSE_OK);
    assert_true(f.signature_counter > s.signature_counter); /* reopening a file runs a self-test */
    assert_int_equal(f.start_time, s.start_time);
    tse_close(t2);
    tse_close(t);
    free(url);
}

static void test_errors(void **state)
{
    (void)state;
    char puk[TSE_PUK_LEN + 1];
    char *url = tt_create("err", puk);
    tse *t = tt_open(url);
    tse_result r;
    /* not initialized yet */
    tse_err rc = tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"x", 1, "p", NULL, 0, &r);
    assert_int_equal(rc, TSE_ERR_SE_API_NOT_INITIALIZED);
    assert_int_equal(tse_initialize(t, "x"), TSE_ERR_WRONG_STATE); /* no admin PIN yet */
    tse_close(t);
    free(url);

    t = tt_ready("err", NULL);
    rc = tse_start_transaction(t, "UNKNOWN-CLIENT", (const uint8_t *)"x", 1, "p", NULL, 0, &r);
    assert_int_equal(rc, TSE_ERR_CLIENT_NOT_REGISTERED);
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, 999, (const uint8_t *)"x", 1, "p", TSE_UPDATE_SIGNED, &r),
                     TSE_ERR_NO_TRANSACTION);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, 999, (const uint8_t *)"x", 1, "p", NULL, 0, &r),
                     TSE_ERR_NO_TRANSACTION);
    uint8_t *big = calloc(1, TSE_MAX_PROCESS_DATA_LEN + 1);
    assert_non_null(big);
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, big, TSE_MAX_PROCESS_DATA_LEN + 1, "p", NULL, 0, &r),
                     TSE_ERR_TOO_LARGE);
    free(big);
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"x", 1, "p", NULL, 0, NULL),
                     TSE_ERR_INVALID_ARGUMENT);
    /* finishing twice: the second finds no open transaction */
    tse_result s;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"x", 1, "p", NULL, 0, &s), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"y", 1, "p", NULL,
                                            0, &r),
                     TSE_OK);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"z", 1, "p", NULL,
                                            0, &r),
                     TSE_ERR_NO_TRANSACTION);
    /* the message names the problem */
    assert_non_null(strstr(tse_last_error_message(), "NO_TRANSACTION"));

    /* another registered client may continue the transaction (TR-03151-1
     * 3.7.7.5 steps 6 and 7): its own clientId is in the finish log */
    assert_int_equal(tse_register_client(t, "KASSE-02"), TSE_OK);
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"x", 1, "p", NULL, 0, &s), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, "KASSE-02", s.transaction_number, (const uint8_t *)"y", 1, "p", NULL,
                                            0, &r),
                     TSE_OK);
    assert_int_equal(r.transaction_number, s.transaction_number);
    assert_int_equal(r.signature_counter, s.signature_counter + 1);
    /* a deregistered client cannot start */
    assert_int_equal(tse_deregister_client(t, "KASSE-02"), TSE_OK);
    assert_int_equal(tse_start_transaction(t, "KASSE-02", (const uint8_t *)"x", 1, "p", NULL, 0, &r),
                     TSE_ERR_CLIENT_NOT_REGISTERED);
    /* logged out, the admin cannot register clients */
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_register_client(t, "KASSE-03"), TSE_ERR_USER_NOT_AUTHENTICATED);
    tse_close(t);
}

/* Keep-alive: the handle updates an open transaction on its own. */
static void test_keep_alive(void **state)
{
    (void)state;
    char *url = NULL;
    tse *t = tt_ready("ka", &url);
    if (!tt_http())
        tse_close(t);
    tse_open_options oo = tt_open_options();
    oo.keep_alive_seconds = 1;
    tse *k = NULL;
    assert_int_equal(tse_open(url, &oo, &k), TSE_OK);
    tse_result s;
    assert_int_equal(tse_start_transaction(k, TT_CLIENT, (const uint8_t *)"", 0, "p", NULL, 0, &s), TSE_OK);
    tse_info info = {0};
    for (int i = 0; i < 200; i++) {
        assert_int_equal(tse_get_info(k, &info), TSE_OK);
        if (info.signature_counter >= s.signature_counter + 2)
            break;
        usleep(100000);
    }
    assert_true(info.signature_counter >= s.signature_counter + 2);
    tse_result f;
    assert_int_equal(tse_finish_transaction(k, TT_CLIENT, s.transaction_number, (const uint8_t *)"", 0, "p", NULL, 0,
                                            &f),
                     TSE_OK);
    assert_true(f.signature_counter > s.signature_counter + 2);
    tse_close(k);
    if (tt_http())
        tse_close(t);
    oo.keep_alive_seconds = TSE_MAX_UPDATE_DELAY_SECONDS;
    assert_int_equal(tse_open(url, &oo, &k), TSE_ERR_INVALID_ARGUMENT);
    assert_null(k);
    free(url);
}

/* A certificate that ends while the TSE runs: the register keeps selling,
 * each log is still signed and stored, and both transports answer
 * CERTIFICATE_EXPIRED with the result filled in. */
static void test_certificate_expired(void **state)
{
    (void)state;
    tt_server srv;
    char *url, *oo_key = NULL, *oo_secret = NULL;
    if (tt_http()) {   /* a server of its own that issues 3-second certificates */
        char *dir = th_path("certexp-server");
        char *key = strdup(getenv("OPENTSE_API_KEY")), *secret = strdup(getenv("OPENTSE_API_SECRET"));
        setenv("OPENTSED_CERT_VALIDITY", "3", 1);
        tt_server_start(&srv, dir, 0);   /* exports its own demo key */
        unsetenv("OPENTSED_CERT_VALIDITY");
        oo_key = strdup(getenv("OPENTSE_API_KEY"));
        oo_secret = strdup(getenv("OPENTSE_API_SECRET"));
        setenv("OPENTSE_API_KEY", key, 1);   /* the other tests' server */
        setenv("OPENTSE_API_SECRET", secret, 1);
        free(key);
        free(secret);
        free(dir);
        url = tt_tss_url(srv.base);
    } else {
        url = tt_new_url("certexp");
    }
    tse_open_options oo = tt_open_options();
    if (oo_key) {
        oo.api_key = oo_key;
        oo.api_secret = oo_secret;
    }
    tse_create_options co = {.master_key_path = th_master_key(), .trust_system_clock = 1, .remote = &oo};
    char puk[TSE_PUK_LEN + 1];
    /* file: the 3-second certificate is an engine-level option, not a public one */
    assert_int_equal(tt_http() ? tse_create(url, &co, puk) : engine_create_with_validity(url + 5, &co, 3, puk),
                     TSE_OK);
    tse *t = NULL;
    assert_int_equal(tse_open(url, &oo, &t), TSE_OK);
    assert_int_equal(tse_set_admin_pin(t, puk, TT_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_initialize(t, "OpenTSE client test"), TSE_OK);
    assert_int_equal(tse_register_client(t, TT_CLIENT), TSE_OK);
    sleep(4);
    tse_result start, fin;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &start),
                     TSE_ERR_CERTIFICATE_EXPIRED);
    assert_true(start.signature_counter > 0 && start.signature_len > 0);
    const uint8_t pd[] = "Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar";
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, start.transaction_number, pd, sizeof pd - 1,
                                            "Kassenbeleg-V1", NULL, 0, &fin),
                     TSE_ERR_CERTIFICATE_EXPIRED);
    assert_int_equal(fin.signature_counter, start.signature_counter + 1);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, fin.signature_counter, &msg, &len), TSE_OK);
    tse_free(msg);
    int32_t days = 1;
    int64_t not_after = 0;
    assert_int_equal(tse_certificate_expiry(t, &not_after, &days), TSE_OK);
    assert_true(days <= 0 && not_after > 0);
    tse_close(t);
    if (tt_http())
        tt_server_stop(&srv, false);
    free(oo_key);
    free(oo_secret);
    free(url);
}

int main(int argc, char **argv)
{
    tt_init(argc > 1 ? argv[1] : "file");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_second_handle),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_admin_and_logs),
        cmocka_unit_test(test_logged_in_user),
        cmocka_unit_test(test_additional_data),
        cmocka_unit_test(test_unsigned_update),
        cmocka_unit_test(test_certificate_expired),
    };
    return cmocka_run_group_tests_name(tt_http() ? "se_api_http" : "se_api_file", tests, NULL, NULL);
}
