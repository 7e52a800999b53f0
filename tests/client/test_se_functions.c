/*
 * test_se_functions.c - the TR-03151-1 v1.1.1 functions of <opentse/opentse.h>
 * (setDescription .. configureLogging), run once per transport: `file`
 * and `http` (the real opentsed). System logs are parsed and their
 * signatures checked with the openssl command line; DER results are read
 * back with `openssl asn1parse`; memory figures are compared with stat and
 * statvfs of the store file; refusals are checked to change nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "codec/logmsg.h"
#include "helpers.h"
#include "transport.h"

/* The last log: a version-3 system log `event` by the admin at the
 * integration interface, its signature verified by openssl; its eventData
 * content into data (may be NULL). */
static void check_system_log(tse *t, const char *event, char *data, size_t cap)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    char name[TSE_MAX_LOG_FILE_NAME];
    assert_int_equal(tse_get_last_log_message(t, name, &msg, &len), TSE_OK);
    logmsg m;
    assert_true(logmsg_parse(msg, len, &m, NULL));
    assert_int_equal(m.version, 3);
    assert_int_equal(m.kind, LOGMSG_SYSTEM);
    assert_int_equal(m.operation.n, strlen(event));
    assert_memory_equal(m.operation.p, event, m.operation.n);
    assert_true(m.has_event_triggered_by_user && m.event_triggered_by_user.n == 5);
    assert_memory_equal(m.event_triggered_by_user.p, "admin", 5);
    assert_memory_equal(m.event_origin.p, "integration-interface", 21);
    char want[200];
    snprintf(want, sizeof want, "_Sig-%llu_Log-Sys_%s.log", (unsigned long long)m.signature_counter, event);
    assert_non_null(strstr(name, want));
    tt_check_signature(t, &m);
    if (data) {
        assert_true(m.event_data.n < cap);
        memcpy(data, m.event_data.p, m.event_data.n);
        data[m.event_data.n] = 0;
    }
    tse_free(msg);
}

static void start(tse *t, tse_result *r)
{
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"a", 1, "Kassenbeleg-V1", NULL, 0, r),
                     TSE_OK);
}

static void finish(tse *t, uint64_t n, tse_result *r)
{
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, n, (const uint8_t *)"z", 1, "Kassenbeleg-V1", NULL, 0, r),
                     TSE_OK);
}

static void test_lock(void **state)
{
    (void)state;
    char *url = NULL;
    tse *t = tt_ready("lock", &url);
    tse_result r, r2;
    start(t, &r);
    tse_info before, after;
    assert_int_equal(tse_get_info(t, &before), TSE_OK);
    assert_int_equal(tse_lock_transaction_logging(t), TSE_ERR_OPEN_TRANSACTION_FOUND);
    assert_int_equal(tse_get_info(t, &after), TSE_OK);
    assert_int_equal(after.signature_counter, before.signature_counter);   /* refused: nothing written */
    finish(t, r.transaction_number, &r);
    assert_int_equal(tse_unlock_transaction_logging(t), TSE_ERR_TRANSACTION_LOGGING_NOT_LOCKED);
    assert_int_equal(tse_lock_transaction_logging(t), TSE_OK);
    check_system_log(t, "lockTransactionLogging", NULL, 0);
    assert_int_equal(tse_lock_transaction_logging(t), TSE_ERR_TRANSACTION_LOGGING_LOCKED);
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, NULL, 0, NULL, NULL, 0, &r2),
                     TSE_ERR_TRANSACTION_LOGGING_LOCKED);
    tse_device_info d;
    assert_int_equal(tse_get_device_info(t, &d), TSE_OK);
    assert_true(d.transaction_logging_locked);
    /* the lock survives a new handle (file: a new engine on the store) */
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    tse_close(t);
    t = tt_open(url);
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, NULL, 0, NULL, NULL, 0, &r2),
                     TSE_ERR_TRANSACTION_LOGGING_LOCKED);
    assert_int_equal(tse_unlock_transaction_logging(t), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_unlock_transaction_logging(t), TSE_OK);
    check_system_log(t, "unlockTransactionLogging", NULL, 0);
    start(t, &r2);
    assert_int_equal(r2.transaction_number, r.transaction_number + 1);
    tse_close(t);
    free(url);
}

/* authenticateUser and unblockPin for a user id the TSE does not manage:
 * refused with USER_ID_NOT_MANAGED, and the attempt is one system log
 * (TR-03151-1 v1.1.1 3.2.3.5, 3.2.5.5) with unknownUserId, also over HTTP. */
static void test_unknown_user_logged(void **state)
{
    (void)state;
    tse *t = tt_ready("unknown-user", NULL);
    static const uint8_t auth[] = {0x13, 5, 'k', 'a', 's', 's', 'e', 0x13, 7, 'u', 'n', 'k', 'n', 'o', 'w', 'n',
                                   0x0a, 1, 1, 0x02, 1, 0};
    static const uint8_t unblock[] = {0x13, 5, 'k', 'a', 's', 's', 'e', 0x0a, 1, 1};
    for (int i = 0; i < 2; i++) {
        tse_info before, after;
        assert_int_equal(tse_get_info(t, &before), TSE_OK);
        tse_auth_result res = TSE_AUTH_OK;
        tse_err rc = i ? tse_unblock_user(t, "kasse", "1234567890", "654321")
                       : tse_authenticate_user(t, "kasse", TT_PIN, &res, NULL);
        assert_int_equal(rc, TSE_ERR_USER_ID_NOT_MANAGED);
        if (!i)
            assert_int_equal(res, TSE_AUTH_UNKNOWN_USER_ID);
        assert_int_equal(tse_get_info(t, &after), TSE_OK);
        assert_int_equal(after.signature_counter, before.signature_counter + 1);
        uint8_t *msg = NULL;
        size_t len = 0;
        assert_int_equal(tse_read_log_by_counter(t, after.signature_counter, &msg, &len), TSE_OK);
        logmsg m;
        assert_true(logmsg_parse(msg, len, &m, NULL));
        const char *event = i ? "unblockPin" : "authenticateUser";
        assert_int_equal(m.operation.n, strlen(event));
        assert_memory_equal(m.operation.p, event, m.operation.n);
        assert_int_equal(m.event_data.n, i ? sizeof unblock : sizeof auth);
        assert_memory_equal(m.event_data.p, i ? unblock : auth, m.event_data.n);
        tt_check_signature(t, &m);
        tse_free(msg);
    }
    tse_close(t);
}

static void test_description(void **state)
{
    (void)state;
    tse *t = tt_ready("desc", NULL);
    assert_int_equal(tse_set_description(t, "Filiale Nord, Kasse 3"), TSE_OK);
    char data[200];
    check_system_log(t, "setDescription", data, sizeof data);
    /* eventData: SEQUENCE content { PrintableString newDeviceDescription } */
    assert_int_equal((uint8_t)data[0], 0x13);
    assert_int_equal((uint8_t)data[1], 21);
    assert_memory_equal(data + 2, "Filiale Nord, Kasse 3", 21);
    char d[TSE_MAX_DESCRIPTION_LEN + 1];
    assert_int_equal(tse_get_description(t, d), TSE_OK);
    assert_string_equal(d, "Filiale Nord, Kasse 3");
    char long_text[80];
    memset(long_text, 'x', 65);
    long_text[65] = 0;
    assert_int_equal(tse_set_description(t, long_text), TSE_ERR_TOO_LARGE);
    assert_int_equal(tse_set_description(t, "Kasse #1"), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_set_description(t, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_set_description(t, "Kasse 9"), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(tse_get_description(t, d), TSE_OK);
    assert_string_equal(d, "Filiale Nord, Kasse 3");   /* the refusals changed nothing */
    tse_close(t);
}

static void test_version2_refuses(void **state)
{
    (void)state;
    if (tt_http())
        skip();   /* a TSS's log format is the server's (opentsed --log-format) */
    char puk[TSE_PUK_LEN + 1];
    char *path = th_path("v2.db");
    tse_create_options o = {.master_key_path = th_master_key(), .log_format_version = 2, .trust_system_clock = 1};
    assert_int_equal(tse_create(path, &o, puk), TSE_OK);
    tse *t = NULL;
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(tse_set_admin_pin(t, puk, TT_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_initialize(t, "v2"), TSE_OK);
    tse_info before, after;
    assert_int_equal(tse_get_info(t, &before), TSE_OK);
    assert_int_equal(tse_lock_transaction_logging(t), TSE_ERR_NOT_SUPPORTED);
    assert_int_equal(tse_set_description(t, "neu"), TSE_ERR_NOT_SUPPORTED);
    assert_int_equal(tse_update_device(t, (const uint8_t *)"OpenTSE update package 1\n", 25), TSE_ERR_NOT_SUPPORTED);
    assert_int_equal(tse_get_info(t, &after), TSE_OK);
    assert_int_equal(after.signature_counter, before.signature_counter);
    char d[TSE_MAX_DESCRIPTION_LEN + 1];
    assert_int_equal(tse_get_description(t, d), TSE_OK);
    assert_string_equal(d, "v2");
    tse_close(t);
    free(path);
}

static void test_device_info(void **state)
{
    (void)state;
    char *url = NULL;
    tse *t = tt_ready("device", &url);
    tse_device_info d;
    assert_int_equal(tse_get_device_info(t, &d), TSE_OK);
    assert_true(d.free_memory_known);
    assert_true(d.used_memory > 4096);
    assert_true(d.total_memory == d.used_memory + d.free_memory);
    if (!tt_http()) {
        /* the true figures: the store file and its WAL, and the file system's free space */
        const char *path = url + strlen("file:");
        char wal[600];
        snprintf(wal, sizeof wal, "%s-wal", path);
        struct stat a, b;
        assert_int_equal(stat(path, &a), 0);
        uint64_t want = (uint64_t)a.st_size + (stat(wal, &b) == 0 ? (uint64_t)b.st_size : 0);
        assert_int_equal(d.used_memory, want);
        struct statvfs fs;
        assert_int_equal(statvfs(path, &fs), 0);
        uint64_t free_now = (uint64_t)fs.f_bavail * fs.f_frsize;
        uint64_t diff = free_now > d.free_memory ? free_now - d.free_memory : d.free_memory - free_now;
        assert_true(diff < 256ull * 1024 * 1024);   /* the same file system, give or take others' writes */
    }
    uint64_t v = 0;
    assert_int_equal(tse_get_used_memory(t, &v), TSE_OK);
    assert_true(v >= d.used_memory);   /* a selfTest or two may have been written since */
    assert_int_equal(tse_get_total_memory(t, &v), TSE_OK);
    assert_true(v > d.used_memory);
    assert_int_equal(tse_get_free_memory(t, &v), TSE_OK);
    assert_true(v > 0);
    /* the components info.csv names (no OPENTSE_DEVICE_INFO: this build and its OpenSSL) */
    assert_int_equal(d.n_components, 2);
    assert_string_equal(d.components[0].name, "SMAERS");
    assert_string_equal(d.components[0].version, tse_version());
    assert_string_equal(d.components[1].name, "CSP");
    assert_string_equal(d.components[1].version, OpenSSL_version(OPENSSL_VERSION_STRING));
    assert_string_equal(d.components[1].certification_id, "");
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(tse_get_component_versions(t, &der, &len), TSE_OK);
    char *parsed = tt_asn1parse(der, len);
    assert_non_null(strstr(parsed, ":SMAERS"));
    assert_non_null(strstr(parsed, OpenSSL_version(OPENSSL_VERSION_STRING)));
    free(parsed);
    tse_free(der);
    tse_time_sync_variant sv;
    assert_int_equal(tse_get_time_sync_variant(t, &sv), TSE_OK);
    assert_int_equal(sv, d.time_sync_variant);
    assert_true(sv == TSE_TIME_SYNC_MANUAL || sv == TSE_TIME_SYNC_AUTOMATIC_AND_MANUAL);
    tse_close(t);
    free(url);
}

static void test_health(void **state)
{
    (void)state;
    tse *t = tt_ready("health", NULL);
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(tse_get_device_health(t, &der, &len), TSE_OK);
    char *parsed = tt_asn1parse(der, len);
    assert_non_null(strstr(parsed, ":SMA"));
    assert_non_null(strstr(parsed, ":CSP"));
    assert_non_null(strstr(parsed, ":storage"));
    assert_non_null(strstr(parsed, "ENUMERATED        :00"));
    assert_null(strstr(parsed, "ENUMERATED        :03"));
    free(parsed);
    tse_free(der);
    assert_int_equal(tse_disable_secure_element(t), TSE_OK);
    assert_int_equal(tse_get_device_health(t, &der, &len), TSE_OK);
    parsed = tt_asn1parse(der, len);
    assert_non_null(strstr(parsed, "ENUMERATED        :03"));   /* SMA fatal once disabled */
    assert_non_null(strstr(parsed, "disabled"));
    free(parsed);
    tse_free(der);
    int64_t now;
    assert_int_equal(tse_get_current_se_time(t, &now), TSE_ERR_SECURE_ELEMENT_DISABLED);
    tse_close(t);
}

static void test_transaction_state(void **state)
{
    (void)state;
    tse *t = tt_ready("txstate", NULL);
    tse_transaction_state s;
    assert_int_equal(tse_get_transaction_state(t, 1, &s), TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND);
    assert_int_equal(tse_get_transaction_state(t, 0, &s), TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND);
    tse_result r;
    start(t, &r);
    uint64_t n = r.transaction_number;
    assert_int_equal(tse_get_transaction_state(t, n, &s), TSE_OK);
    assert_int_equal(s, TSE_TX_STARTED);
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, n, (const uint8_t *)"b", 1, "Kassenbeleg-V1",
                                            TSE_UPDATE_UNSIGNED, &r),
                     TSE_OK);
    assert_int_equal(tse_get_transaction_state(t, n, &s), TSE_OK);
    assert_int_equal(s, TSE_TX_UPDATED_WITH_UNPROTECTED_DATA);
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, n, (const uint8_t *)"c", 1, "Kassenbeleg-V1",
                                            TSE_UPDATE_SIGNED, &r),
                     TSE_OK);
    assert_int_equal(tse_get_transaction_state(t, n, &s), TSE_OK);
    assert_int_equal(s, TSE_TX_UPDATED);
    finish(t, n, &r);
    assert_int_equal(tse_get_transaction_state(t, n, &s), TSE_OK);
    assert_int_equal(s, TSE_TX_FINISHED);
    assert_int_equal(tse_get_transaction_state(t, n + 1, &s), TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND);
    assert_int_equal(tse_get_transaction_state(t, n, NULL), TSE_ERR_INVALID_ARGUMENT);
    uint64_t c = 0;
    assert_int_equal(tse_get_current_transaction_counter(t, &c), TSE_OK);
    assert_int_equal(c, n);
    tse_close(t);
}

static void test_last_logs(void **state)
{
    (void)state;
    tse *t = tt_ready("lastlog", NULL);
    char name[TSE_MAX_LOG_FILE_NAME];
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_get_last_transaction_log_message(t, 0, name, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);
    assert_null(msg);
    tse_result a, b;
    start(t, &a);
    start(t, &b);
    finish(t, b.transaction_number, &b);
    /* the last transaction log of all: b's finish */
    assert_int_equal(tse_get_last_transaction_log_message(t, 0, name, &msg, &len), TSE_OK);
    uint8_t *same = NULL;
    size_t same_len = 0;
    assert_int_equal(tse_read_log_by_counter(t, b.signature_counter, &same, &same_len), TSE_OK);
    assert_int_equal(len, same_len);
    assert_memory_equal(msg, same, len);
    logmsg m;
    char want[TSE_MAX_LOG_FILE_NAME];
    assert_true(logmsg_parse(msg, len, &m, NULL));
    assert_true(logmsg_filename(&m, 0, want, sizeof want));
    assert_string_equal(name, want);
    assert_non_null(strstr(name, "_Finish_Client-" TT_CLIENT ".log"));
    tse_free(msg);
    tse_free(same);
    /* of transaction a: its start */
    assert_int_equal(tse_get_last_transaction_log_message(t, a.transaction_number, name, &msg, &len), TSE_OK);
    assert_true(logmsg_parse(msg, len, &m, NULL));
    assert_int_equal(m.signature_counter, a.signature_counter);
    assert_non_null(strstr(name, "_Start_Client-"));
    tse_free(msg);
    assert_int_equal(tse_get_last_transaction_log_message(t, b.transaction_number + 7, name, &msg, &len),
                     TSE_ERR_NO_LOG_MESSAGE);
    /* the last log of all is a system log after a self-test */
    assert_int_equal(tse_self_test(t), TSE_OK);
    assert_int_equal(tse_get_last_log_message(t, name, &msg, &len), TSE_OK);
    assert_non_null(strstr(name, "_Log-Sys_selfTest.log"));
    tse_free(msg);
    assert_int_equal(tse_get_last_log_message(t, NULL, &msg, &len), TSE_ERR_INVALID_ARGUMENT);
    tse_close(t);
}

static void test_der_sets(void **state)
{
    (void)state;
    tse *t = tt_ready("sets", NULL);
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(tse_get_open_transactions(t, &der, &len), TSE_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(der, "\x30\x00", 2);
    tse_free(der);
    tse_result a, b;
    start(t, &a);
    start(t, &b);
    assert_int_equal(tse_get_open_transactions(t, &der, &len), TSE_OK);
    char *parsed = tt_asn1parse(der, len);
    char want[64];
    snprintf(want, sizeof want, "INTEGER           :%02llX", (unsigned long long)a.transaction_number);
    assert_non_null(strstr(parsed, want));
    snprintf(want, sizeof want, "INTEGER           :%02llX", (unsigned long long)b.transaction_number);
    assert_non_null(strstr(parsed, want));
    free(parsed);
    /* the records carry the last input in the TSE's time format */
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    der_r top = der_r_init(der, len), set;
    der_tlv seq, rec, num, when;
    assert_true(der_read(&top, &seq));
    set = der_r_init(seq.content, seq.content_len);
    assert_true(der_read(&set, &rec));
    der_r rr = der_r_init(rec.content, rec.content_len);
    assert_true(der_read(&rr, &num) && der_read(&rr, &when));
    if (info.time_format == TSE_TIME_UNIX) {
        int64_t v;
        assert_true(der_get_int(&when, &v));
        assert_int_equal(v, a.log_time);
    }
    tse_free(der);
    assert_int_equal(tse_get_current_logging_signature_counters(t, &der, &len), TSE_OK);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    top = der_r_init(der, len);
    assert_true(der_read(&top, &seq));
    set = der_r_init(seq.content, seq.content_len);
    assert_true(der_read(&set, &rec) && der_r_done(&set));
    rr = der_r_init(rec.content, rec.content_len);
    der_tlv serial, counter;
    assert_true(der_read(&rr, &serial) && der_read(&rr, &counter));
    assert_int_equal(serial.content_len, TSE_SERIAL_LEN);
    assert_memory_equal(serial.content, info.serial_number, TSE_SERIAL_LEN);
    uint64_t c;
    assert_true(der_get_uint(&counter, &c));
    assert_int_equal(c, info.signature_counter);
    tse_free(der);
    tse_close(t);
}

static int stop_at_once(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx, (void)data, (void)len;
    return TSE_ERR_NO_DATA_AVAILABLE;
}

static void test_certificates(void **state)
{
    (void)state;
    tse *t = tt_ready("certs", NULL);
    char *path = th_path("certs.tar");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(tse_export_logging_certificates(t, th_to_file, f), TSE_OK);
    assert_int_equal(fclose(f), 0);
    th_tar_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(th_tar_read(path, &e, &n), 0);
    assert_true(n >= 2);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    char serial[2 * TSE_SERIAL_LEN + 1], want[160];
    tse_hex(info.serial_number, TSE_SERIAL_LEN, serial);
    snprintf(want, sizeof want, "%s_X509.der", serial);
    assert_string_equal(e[0].name, want);   /* the TSE's own certificate first */
    for (size_t i = 0; i < n; i++) {
        char *der = th_path("cert.der"), cmd[1200];
        assert_int_equal(th_write_file(der, e[i].data, e[i].len), 0);
        snprintf(cmd, sizeof cmd, "openssl x509 -inform DER -in '%s' -noout 2>/dev/null", der);
        assert_int_equal(system(cmd), 0);
        free(der);
    }
    th_tar_free(e, n);
    assert_int_equal(tse_export_logging_certificates(t, stop_at_once, NULL), TSE_ERR_NO_DATA_AVAILABLE);
    assert_int_equal(tse_export_logging_certificates(t, NULL, NULL), TSE_ERR_INVALID_ARGUMENT);
    free(path);
    tse_close(t);
}

static void test_refusals(void **state)
{
    (void)state;
    tse *t = tt_ready("refuse", NULL);
    assert_int_equal(tse_configure_logging(t, "SMA", "selfTest", 0), TSE_ERR_LOGGING_OF_EVENT_NOT_CONFIGURABLE);
    assert_int_equal(tse_configure_logging(t, NULL, "selfTest", 0), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_configure_logging(t, "SMA", "self#Test", 1), TSE_ERR_INVALID_ARGUMENT);
    int64_t now = 0;
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(tse_get_current_se_time(t, &now), TSE_OK);
    assert_true(now >= info.time_now);
    /* no handle: every new function says so */
    uint64_t v;
    uint8_t *der;
    size_t len;
    char d[TSE_MAX_DESCRIPTION_LEN + 1], name[TSE_MAX_LOG_FILE_NAME];
    tse_device_info di;
    tse_transaction_state s;
    tse_time_sync_variant sv;
    assert_int_equal(tse_set_description(NULL, "x"), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_description(NULL, d), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_lock_transaction_logging(NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_unlock_transaction_logging(NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_device_info(NULL, &di), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_total_memory(NULL, &v), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_used_memory(t, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_time_sync_variant(NULL, &sv), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_component_versions(t, NULL, &len), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_device_health(NULL, &der, &len), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_current_se_time(NULL, &now), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_current_transaction_counter(t, NULL), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_current_logging_signature_counters(NULL, &der, &len), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_last_log_message(NULL, name, &der, &len), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_last_transaction_log_message(NULL, 0, name, &der, &len), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_transaction_state(NULL, 1, &s), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_get_open_transactions(NULL, &der, &len), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_configure_logging(NULL, "a", "b", 1), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_export_logging_certificates(NULL, th_to_file, NULL), TSE_ERR_INVALID_ARGUMENT);
    tse_close(t);
}

int main(int argc, char **argv)
{
    tt_init(argc > 1 ? argv[1] : "file");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_description),
        cmocka_unit_test(test_unknown_user_logged),
        cmocka_unit_test(test_version2_refuses),
        cmocka_unit_test(test_device_info),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_transaction_state),
        cmocka_unit_test(test_last_logs),
        cmocka_unit_test(test_der_sets),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
