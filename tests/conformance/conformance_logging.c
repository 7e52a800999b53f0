/*
 * conformance_logging.c - TR-03153-1-TS v1.1.1 6.3.1.19 to 6.3.1.28 and
 * 6.3.1.34 to 6.3.1.36: logging functions (II_CLG, II_EXP, II_EXC,
 * II_DLM, II_ESN, II_CSC, II_RFB, II_GLL) and the clients (II_REC,
 * II_DRC, II_CNC, II_MNC, II_GRC).
 */
#include "conformance.h"

#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"

/* configureLogging: a refused event changes nothing and is not logged
 * (OpenTSE logs every event the TR names; none is configurable). */
static void T_II_CLG_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    EXPECT(configureLogging(S("SMA"), S("authenticateUser"), false), ERROR_LOGGING_OF_EVENT_NOT_CONFIGURABLE);
    assert_int_equal(cf_signature_counter(), before);
    OK(logOut(S("admin")));
    cf_expect_system_log("logOut", "admin");   /* still logged */
}

/* exportLogMessages: a TAR of every log, certificates and info.csv, under
 * a TR-03151-1 2.5.2 archive name; the auditor's checks pass (II_EXP_01, _05). */
static void export_all_checked(void)
{
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    assert_int_equal(a.logs, cf_signature_counter());
    cf_audit_archive(&a);
    /* <prefix>_<Utc|Gent|Unixt>_<date>.tar */
    assert_true(strlen(a.name) > 8 && strcmp(a.name + strlen(a.name) - 4, ".tar") == 0);
    assert_true(strstr(a.name, "_Unixt_") || strstr(a.name, "_Utc_") || strstr(a.name, "_Gent_"));
    cf_archive_free(&a);
}

static void T_II_EXP_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    export_all_checked();
}

/* Without the time set (a new TSE, before initialize). */
static void T_II_EXP_03(void **state)
{
    (void)state;
    cf_fresh(CF_ADMIN);
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    assert_int_equal(a.logs, cf_signature_counter());
    assert_non_null(cf_entry(&a, "info.csv"));
    cf_archive_free(&a);
}

static void T_II_EXP_05(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(setDescription(S("Filiale 7")));
    for (int i = 0; i < 5; i++)
        cf_sale(CF_CLIENT, "Beleg");
    export_all_checked();
}

/* After disableSecureElement. */
static void T_II_EXP_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    OK(disableSecureElement());
    export_all_checked();
}

/* Right after initialize, nothing else called. */
static void T_II_EXP_07(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    export_all_checked();
}

/* exportLoggingCertificates: a TAR of <key serial hex>_X509.der
 * certificates; the TSE's own holds the key that signs the logs. */
static void T_II_EXC_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_archive a;
    OK(cf_export(1, NULL, &a));
    assert_true(a.n >= 2);
    char hex[65], own[80];
    tse_hex(cf.info.serial_number, 32, hex);
    snprintf(own, sizeof own, "%s_X509.der", hex);
    bool found = false;
    for (size_t i = 0; i < a.n; i++) {
        assert_non_null(strstr(a.e[i].path, "_X509.der"));
        const unsigned char *p = a.e[i].data;
        X509 *x = d2i_X509(NULL, &p, (long)a.e[i].len);
        assert_non_null(x);
        if (strcasecmp(a.e[i].path, own) == 0) {
            found = true;
            unsigned char *pub = NULL;
            EVP_PKEY *k = X509_get0_pubkey(x);
            size_t n = EVP_PKEY_get1_encoded_public_key(k, &pub);
            assert_int_equal(n, cf.point_len);
            assert_memory_equal(pub, cf.point, n);
            unsigned char h[32];
            SHA256(pub, n, h);
            assert_memory_equal(h, cf.info.serial_number, 32);   /* the serial is the key's hash */
            OPENSSL_free(pub);
        }
        X509_free(x);
    }
    assert_true(found);
    cf_archive_free(&a);
}

/* deleteLogMessages after an export: the logs are gone; the call is logged. */
static void T_II_DLM_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    for (int i = 0; i < 5; i++)
        cf_sale(CF_CLIENT, "x");
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    size_t before = a.logs;
    cf_archive_free(&a);
    OK(deleteLogMessages());
    cf_expect_system_log("deleteLogMessages", "admin");
    OK(cf_export(0, NULL, &a));
    assert_true(a.logs < before);
    assert_int_equal(a.logs, 1);   /* all data is gone but the deleteLogMessages log */
    assert_int_equal(cf_count(&a, LOGMSG_SYSTEM, "deleteLogMessages"), 1);
    cf_archive_free(&a);
}

/* deleteLogMessages with logs not exported: ErrorUnexportedLogMessages,
 * nothing deleted, nothing logged (TR-03151-1 3.6.4.5 step 4). The logs of
 * a transaction still open may stay unexported (steps 8, 9): then it deletes
 * the rest and keeps those. */
static void T_II_DLM_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    EXPECT(deleteLogMessages(), ERROR_UNEXPORTED_LOG_MESSAGES);   /* nothing exported yet */
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    size_t exported = a.logs;
    cf_archive_free(&a);
    unsigned long int n = cf_sale(CF_CLIENT, "not exported");
    unsigned long int before = cf_signature_counter();
    EXPECT(deleteLogMessages(), ERROR_UNEXPORTED_LOG_MESSAGES);
    unsigned char why[512] = "";
    unsigned long int why_len = 0;
    EXPECT(getLastFunctionCallStatus(sizeof why, why, &why_len), ERROR_UNEXPORTED_LOG_MESSAGES);
    assert_non_null(strstr((char *)why, "2 logs are not exported yet"));   /* the sale's start and finish */
    assert_int_equal(cf_signature_counter(), before);                      /* no log of the refusal */
    OK(cf_export(0, NULL, &a));
    assert_int_equal(a.logs, exported + 2);                                /* nothing deleted */
    size_t kept = 0;
    for (size_t i = 0; i < a.n; i++)
        kept += a.e[i].is_log && a.e[i].m.kind == LOGMSG_TRANSACTION && a.e[i].m.transaction_number == n;
    assert_int_equal(kept, 2);   /* its start and finish logs */
    cf_archive_free(&a);

    /* exported now; a transaction started since is open: its start log stays, the rest goes */
    cf_signed s;
    unsigned long int open = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    OK(deleteLogMessages());
    cf_expect_system_log("deleteLogMessages", "admin");
    OK(cf_export(0, NULL, &a));
    assert_int_equal(a.logs, 2);
    kept = 0;
    for (size_t i = 0; i < a.n; i++)
        kept += a.e[i].is_log && a.e[i].m.kind == LOGMSG_TRANSACTION && a.e[i].m.transaction_number == open;
    assert_int_equal(kept, 1);
    cf_archive_free(&a);
}

/* exportSerialNumbers: SerialNumberSet of exactly one record { the key's
 * SHA-256, usage { systemLog, auditLog, transactionLog } all TRUE }. */
static void serial_numbers(int check)
{
    uint8_t d[256];
    unsigned long int n = 0;
    OK(exportSerialNumbers(sizeof d, d, &n));
    static const uint8_t head[] = {0x30, 0x2f, 0x30, 0x2d, 0x04, 0x20};
    assert_int_equal(n, 49);                            /* _02: exactly one record */
    assert_memory_equal(d, head, sizeof head);          /* _01: the structure */
    /* usage: LogMessageUsageTypes, a SEQUENCE of three untagged BOOLEANs, all
     * TRUE (TR-03151-1 v1.1.1 3.6.5.2; v1.0.1 tagged them [0] [1] [2]) */
    assert_true(d[38] == 0x30 && d[39] == 9);
    for (int i = 0; i < 3; i++)
        assert_true(d[40 + 3 * i] == 0x01 && d[41 + 3 * i] == 1 && d[42 + 3 * i] == 0xff);
    if (check == 3) {
        unsigned char h[32];
        SHA256(cf.point, cf.point_len, h);
        assert_memory_equal(d + 6, h, 32);              /* _03: the hash of the public key */
    }
}

static void T_II_ESN_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    serial_numbers(1);
}

static void T_II_ESN_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    serial_numbers(2);
}

static void T_II_ESN_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    serial_numbers(3);
}

/* getCurrentLoggingSignatureCounters: the counter of the last log, +1 per log. */
static void T_II_CSC_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_log l;
    cf_last_log(&l);
    unsigned long int c = cf_signature_counter();   /* parses the format, see conformance.c */
    assert_int_equal(c, l.m.signature_counter);
    cf_signed s;
    cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    assert_int_equal(s.counter, c + 1);
    assert_int_equal(cf_signature_counter(), c + 1);
}

/* restoreLogsFromBackup: an exported archive comes back after deleteLogMessages. */
static short int restore_file(const char *path)
{
    size_t n = 0;
    uint8_t *d = th_read_file(path, &n);
    assert_non_null(d);
    short int rc = restoreLogsFromBackup(d, n);
    free(d);
    return rc;
}

static void T_II_RFB_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    for (int i = 0; i < 3; i++)
        cf_sale(CF_CLIENT, "x");
    cf_archive a, b, c;
    OK(cf_export(0, NULL, &a));
    OK(deleteLogMessages());
    OK(cf_export(0, NULL, &b));
    assert_true(b.logs < a.logs);
    OK(restore_file(a.file));
    OK(cf_export(0, NULL, &c));
    assert_int_equal(c.logs, a.logs + (c.logs - a.logs));   /* every log of a is back */
    for (size_t i = 0; i < a.n; i++)
        if (a.e[i].is_log)
            assert_non_null(cf_entry(&c, a.e[i].path));
    cf_archive_free(&a);
    cf_archive_free(&b);
    cf_archive_free(&c);
}

/* Restoring logs (and certificates) the TSE holds already: no error, no doubles. */
static void T_II_RFB_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    cf_archive a, b;
    OK(cf_export(0, NULL, &a));
    OK(restore_file(a.file));
    OK(cf_export(0, NULL, &b));
    assert_int_equal(b.logs, a.logs + (b.logs - a.logs));
    for (size_t i = 0; i < b.n; i++)
        for (size_t j = i + 1; j < b.n; j++)
            assert_string_not_equal(b.e[i].path, b.e[j].path);
    cf_archive_free(&a);
    cf_archive_free(&b);
}

/* Logs of another TSE: ErrorRestoreFailed, nothing imported. */
static void T_II_RFB_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "from the other TSE");
    cf_archive other;
    OK(cf_export(0, NULL, &other));
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    EXPECT(restore_file(other.file), ERROR_RESTORE_FAILED);
    cf_archive mine;
    OK(cf_export(0, NULL, &mine));
    assert_int_equal(mine.logs, before);
    cf_archive_free(&other);
    cf_archive_free(&mine);
}

/* getLastLogMessage: the last log written, under its file name (the
 * signature counter's log; no aggregation shows: updates are signed or kept). */
static void T_II_GLL_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    cf_log l;
    cf_last_log(&l);
    assert_int_equal(l.m.kind, LOGMSG_TRANSACTION);
    assert_int_equal(l.m.signature_counter, s.counter);
    assert_int_equal(l.m.transaction_number, n);
    assert_true(l.m.signature.n == s.sig_len && memcmp(l.m.signature.p, s.sig, s.sig_len) == 0);
    OK(logOut(S("admin")));
    cf_expect_system_log("logOut", "admin");
}

/* The same with an aggregated update in between: the kept data is not a log. */
static void T_II_GLL_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "1 Kaffee", false, &v, NULL));
    cf_log l;
    cf_last_log(&l);
    assert_int_equal(l.m.signature_counter, s.counter);
    cf_signed kept, f;
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "Summe", NULL, &kept, &f));   /* the kept data's update log first */
    assert_int_equal(kept.counter, s.counter + 1);
    cf_last_log(&l);
    assert_int_equal(l.m.signature_counter, f.counter);
    assert_int_equal(l.m.tx_op, LOGMSG_TX_FINISH);
}

/* registerClient: the client may log transactions; registerClient is logged. */
static void T_II_REC_01(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    cf_start("KASSE-02", CF_TYPE, "", NULL, ERROR_CLIENT_NOT_REGISTERED);
    OK(registerClient(S("KASSE-02")));
    cf_expect_system_log("registerClient", "admin");
    unsigned long int n = cf_start("KASSE-02", CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update("KASSE-02", n, CF_TYPE, "x", true, &v, NULL));
    OK(cf_finish("KASSE-02", n, CF_TYPE, "y", NULL, NULL, NULL));
}

/* Every character of a PrintableString, up to 30 of them. */
static void T_II_REC_02(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    const char *ids[] = {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789", " '()+,-./:=?",
                         "K", "123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        OK(registerClient(S(ids[i])));
        cf_expect_system_log("registerClient", "admin");
        cf_sale(ids[i], "x");
    }
}

/* The client limit (a TSE made with a limit of 3): ErrorClientLimitReached. */
void T_II_REC_03(void **state)
{
    (void)state;
    tse_create_options o = {.max_clients = 3};
    cf_fresh_file(CF_READY, &o);
    OK(registerClient(S("KASSE-02")));
    OK(registerClient(S("KASSE-03")));
    unsigned long int before = cf_signature_counter();
    EXPECT(registerClient(S("KASSE-04")), ERROR_CLIENT_LIMIT_REACHED);
    assert_int_equal(cf_signature_counter(), before);
}

static void T_II_REC_04(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    unsigned long int before = cf_signature_counter();
    const char *bad[] = {"KASSE@01", "KASSE_01", "Kasse\xe4", "KASSE*1", "KASSE;1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(registerClient(S(bad[i])), ERROR_INVALID_CLIENT_ID_CHARACTER);
    assert_int_equal(cf_signature_counter(), before);
}

static void T_II_REC_05(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    EXPECT(registerClient(S(CF_CLIENT)), ERROR_CLIENT_ALREADY_REGISTERED);
}

/* deregisterClient: the client can no longer log transactions; logged. */
static void T_II_DRC_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "y", NULL, NULL, NULL));
    OK(deregisterClient(S(CF_CLIENT)));
    cf_expect_system_log("deregisterClient", "admin");
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_CLIENT_NOT_REGISTERED);
    UpdateProtectionVariants v;
    EXPECT(cf_update(CF_CLIENT, n, CF_TYPE, "x", true, &v, NULL), ERROR_CLIENT_NOT_REGISTERED);
    EXPECT(cf_finish(CF_CLIENT, n, CF_TYPE, "y", NULL, NULL, NULL), ERROR_CLIENT_NOT_REGISTERED);
}

static void T_II_DRC_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    EXPECT(deregisterClient(S("KASSE-99")), ERROR_CLIENT_NOT_REGISTERED);
}

/* getCurrentNumberOfClients: the clients with open transactions. */
static unsigned long int clients_now(void)
{
    unsigned long int n = 99;
    OK(getCurrentNumberOfClients(&n));
    return n;
}

static void T_II_CNC_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    assert_int_equal(clients_now(), 0);
}

static void T_II_CNC_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int a = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(clients_now(), 1);
    OK(cf_finish(CF_CLIENT, a, CF_TYPE, "y", NULL, NULL, NULL));
    assert_int_equal(clients_now(), 1);
}

static void T_II_CNC_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(registerClient(S("KASSE-02")));
    OK(registerClient(S("KASSE-03")));
    unsigned long int a = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    cf_start("KASSE-02", CF_TYPE, "", NULL, EXECUTION_OK);
    cf_start("KASSE-03", CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(clients_now(), 3);
    OK(cf_finish(CF_CLIENT, a, CF_TYPE, "y", NULL, NULL, NULL));
    assert_int_equal(clients_now(), 2);
}

/* The most clients the TSE takes (3), all in open transactions. */
void T_II_CNC_04(void **state)
{
    (void)state;
    tse_create_options o = {.max_clients = 3};
    cf_fresh_file(CF_READY, &o);
    OK(registerClient(S("KASSE-02")));
    OK(registerClient(S("KASSE-03")));
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    cf_start("KASSE-02", CF_TYPE, "", NULL, EXECUTION_OK);
    cf_start("KASSE-03", CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(clients_now(), 3);
}

/* getMaxNumberOfClients: the limit registerClient enforces. */
static void T_II_MNC_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int max = 0;
    OK(getMaxNumberOfClients(&max));
    assert_int_equal(max, cf.info.max_clients);
    assert_true(max >= 1);
}

/* getRegisteredClients: DER ClientInfoSet of the registered IDs. */
static int registered(char ids[][32], int cap)
{
    uint8_t d[8192];
    unsigned long int n = 0;
    OK(getRegisteredClients(sizeof d, d, &n));
    size_t h, len;
    assert_true(cf_der(d, n, &h, &len) && d[0] == 0x30 && h + len == n);
    int k = 0;
    for (size_t i = h; i < n; k++) {
        size_t rh, rl, sh, sl;
        assert_true(k < cap && cf_der(d + i, n - i, &rh, &rl) && d[i] == 0x30);
        assert_true(cf_der(d + i + rh, rl, &sh, &sl) && d[i + rh] == 0x13 && sh + sl == rl && sl < 32);
        memcpy(ids[k], d + i + rh + sh, sl);
        ids[k][sl] = 0;
        i += rh + rl;
    }
    return k;
}

static bool has(char ids[][32], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static void T_II_GRC_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    char ids[8][32];
    assert_int_equal(registered(ids, 8), 1);
    assert_string_equal(ids[0], CF_CLIENT);
}

/* As many registered as the limit (3). */
void T_II_GRC_02(void **state)
{
    (void)state;
    tse_create_options o = {.max_clients = 3};
    cf_fresh_file(CF_READY, &o);
    OK(registerClient(S("KASSE-02")));
    OK(registerClient(S("KASSE-03")));
    char ids[8][32];
    assert_int_equal(registered(ids, 8), 3);
    assert_true(has(ids, 3, CF_CLIENT) && has(ids, 3, "KASSE-02") && has(ids, 3, "KASSE-03"));
}

static void T_II_GRC_03(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    char ids[8][32];
    assert_int_equal(registered(ids, 8), 0);
}

static void T_II_GRC_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(registerClient(S("KASSE-02")));
    OK(registerClient(S("KASSE-03")));
    OK(deregisterClient(S("KASSE-02")));
    char ids[8][32];
    assert_int_equal(registered(ids, 8), 2);
    assert_true(has(ids, 2, CF_CLIENT) && has(ids, 2, "KASSE-03"));
}

const struct CMUnitTest cf_logging[] = {
    cmocka_unit_test(T_II_CLG_01), cmocka_unit_test(T_II_EXP_01), cmocka_unit_test(T_II_EXP_03),
    cmocka_unit_test(T_II_EXP_05), cmocka_unit_test(T_II_EXP_06), cmocka_unit_test(T_II_EXP_07),
    cmocka_unit_test(T_II_EXC_01), cmocka_unit_test(T_II_DLM_01), cmocka_unit_test(T_II_DLM_02),
    cmocka_unit_test(T_II_ESN_01), cmocka_unit_test(T_II_ESN_02), cmocka_unit_test(T_II_ESN_03),
    cmocka_unit_test(T_II_CSC_01), cmocka_unit_test(T_II_RFB_01), cmocka_unit_test(T_II_RFB_02),
    cmocka_unit_test(T_II_RFB_06), cmocka_unit_test(T_II_GLL_01), cmocka_unit_test(T_II_GLL_02),
};
const size_t cf_logging_n = sizeof cf_logging / sizeof cf_logging[0];

const struct CMUnitTest cf_clients[] = {
    cmocka_unit_test(T_II_REC_01), cmocka_unit_test(T_II_REC_02), cmocka_unit_test(T_II_REC_04),
    cmocka_unit_test(T_II_REC_05), cmocka_unit_test(T_II_DRC_01), cmocka_unit_test(T_II_DRC_02),
    cmocka_unit_test(T_II_CNC_01), cmocka_unit_test(T_II_CNC_02), cmocka_unit_test(T_II_CNC_03),
    cmocka_unit_test(T_II_MNC_01), cmocka_unit_test(T_II_GRC_01), cmocka_unit_test(T_II_GRC_03),
    cmocka_unit_test(T_II_GRC_04),
};
const size_t cf_clients_n = sizeof cf_clients / sizeof cf_clients[0];
