/*
 * conformance_faults.c - the test cases of TR-03153-1-TS v1.1.1 that need
 * the store to fail inside a running TSE (group "faults", file: only): the
 * TSE's real SQLite file refuses writes while the SE API is bound to it (a
 * trigger the test puts into the file through its own connection, as a
 * damaged or read-only medium would refuse), loses its logs table, sits in
 * a directory that is taken away, holds a certificate that is not the
 * key's, has its transaction numbers at the store's maximum, or lies on a
 * small tmpfs the test fills. Each call under the fault must answer the
 * case's exception; with the fault removed the TSE shows that nothing
 * changed (the same counters and last log, also once the TSE is bound
 * again, no half-written log in the export, every log verified by openssl,
 * the auditor's checks) and the next call continues both counters without
 * a gap.
 */
#include "conformance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "helpers.h"

/* ------------------------------------------------------------ the faults */

static void sql(const char *text)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(cf.url + 5, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char *err = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", text, err ? err : "?");
    sqlite3_close(db);
}

/* From now on the store refuses `what` ("INSERT ON logs", "UPDATE ON meta
 * WHEN NEW.key = 'state'", ...) of the TSE under test. */
static void refuse(const char *what)
{
    char text[400];
    snprintf(text, sizeof text,
             "CREATE TRIGGER fault BEFORE %s BEGIN SELECT RAISE(ABORT, 'the medium refuses the write'); END;", what);
    sql(text);
}

static void heal(void)
{
    sql("DROP TRIGGER fault;");
}

/* ------------------------------------------------- what must not change */

typedef struct seen {
    unsigned long int counter, tx;
    cf_log last;
} seen;

static unsigned long int tx_counter(void)
{
    unsigned long int c = 0;
    OK(getCurrentTransactionCounter(&c));
    return c;
}

static seen look(void)
{
    seen s;
    memset(&s, 0, sizeof s);
    s.counter = cf_signature_counter();
    s.tx = tx_counter();
    cf_last_log(&s.last);
    return s;
}

static void same_as(const seen *a, const char *what)
{
    seen b = look();
    if (b.counter != a->counter || b.tx != a->tx)
        fail_msg("after %s: signature counter %lu, transaction counter %lu; before %lu, %lu", what, b.counter, b.tx,
                 a->counter, a->tx);
    assert_string_equal(b.last.name, a->last.name);
    assert_int_equal(b.last.len, a->last.len);
    assert_memory_equal(b.last.der, a->last.der, a->last.len);
}

#define same(a) same_as((a), __func__)

/* After the fault: the same state once the TSE is bound again (read back
 * from its file), an export of exactly `a->counter` logs numbered 1..n,
 * each verified by openssl, and the auditor's checks pass. */
static void nothing_written(const seen *a)
{
    same(a);
    OK(seApiClose());
    OK(seApiOpen(cf.url, th_master_key(), NULL, NULL));
    /* the TSE read back from its file: one selfTest log of the open more */
    cf_expect_system_log("selfTest", NULL);
    assert_int_equal(cf_signature_counter(), a->counter + 1);
    assert_int_equal(tx_counter(), a->tx);
    cf_archive x;
    OK(cf_export(0, NULL, &x));
    assert_int_equal(x.logs, a->counter + 1);
    bool *have = calloc(a->counter + 2, sizeof *have);
    assert_non_null(have);
    for (size_t i = 0; i < x.n; i++)
        if (x.e[i].is_log) {
            uint64_t c = x.e[i].m.signature_counter;
            assert_true(c >= 1 && c <= a->counter + 1 && !have[c]);
            have[c] = true;
            /* the log before the fault is the same, byte for byte */
            if (c == a->counter)
                assert_true(x.e[i].len == a->last.len && memcmp(x.e[i].data, a->last.der, a->last.len) == 0);
        }
    free(have);
    cf_audit_archive(&x);
    cf_archive_free(&x);
    /* the login is gone with the new binding */
    OK(authenticateUser(S("admin"), S(CF_PIN)));
}

/* The next start continues both counters (after the selfTest and login
 * logs of nothing_written). */
static void continues(const seen *a)
{
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    assert_int_equal(s.counter, a->counter + 3);
    assert_int_equal(n, a->tx + 1);
    assert_int_equal(cf_signature_counter(), a->counter + 3);
}

/* `call` under the fault answers `want` and changes nothing. */
#define REFUSED(call, want)                                                                                         \
    do {                                                                                                            \
        seen before_ = look();                                                                                      \
        EXPECT(call, want);                                                                                         \
        same_as(&before_, #call);                                                                                   \
    } while (0)

/* ------------------------------------------------------------ the calls */

static short int do_start(void)
{
    unsigned long int n = 0, sl = 0, c = 0, serl = 0;
    struct tm t;
    unsigned char sig[200], ser[64];
    return startTransaction(S(CF_CLIENT), (const unsigned char *)"", 0, S(CF_TYPE), &n, &t, sizeof ser, ser, &serl,
                            &c, sizeof sig, sig, &sl);
}

static short int do_self_test(void)
{
    unsigned char r[2048];
    unsigned long int n = 0;
    return selfTest(sizeof r, r, &n);
}

static short int do_update_time(void)
{
    time_t now = time(NULL);
    struct tm t;
    gmtime_r(&now, &t);
    return updateTime(&t);
}

/* Every function that writes a log, with the admin logged in, transaction
 * `open` open and client KASSE-02 registered, answers `want` and changes
 * nothing. A refused logOut keeps the session; a login whose log is
 * refused leaves none (no session without its log). */
static void every_logging_call(unsigned long int open, short int want)
{
    REFUSED(setDescription(S("Filiale 9")), want);
    REFUSED(do_self_test(), want);
    REFUSED(do_update_time(), want);
    REFUSED(registerClient(S("KASSE-03")), want);
    REFUSED(deregisterClient(S("KASSE-02")), want);
    REFUSED(do_start(), want);
    REFUSED(cf_update(CF_CLIENT, open, CF_TYPE, "1 Kaffee", true, &(UpdateProtectionVariants){0}, NULL), want);
    REFUSED(cf_finish(CF_CLIENT, open, CF_TYPE, "Beleg", NULL, NULL, NULL), want);
    REFUSED(logOut(S("admin")), want);
    REFUSED(setDescription(S("Filiale 9")), want);
    REFUSED(unblockPin(S("admin"), S(cf.puk), S("654321")), want);
    REFUSED(authenticateUser(S("admin"), S(CF_PIN)), want);
    EXPECT(setDescription(S("Filiale 9")), ERROR_USER_NOT_AUTHENTICATED);
}

/* II_ERR_13: every function that writes a log answers
 * ErrorStoringLogMessageFailed when its log cannot be stored, and neither
 * the log nor anything the call would have changed is there. */
static void T_II_ERR_13(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(registerClient(S("KASSE-02")));
    unsigned long int open = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    seen before = look();
    refuse("INSERT ON logs");
    every_logging_call(open, ERROR_STORING_LOG_MESSAGE_FAILED);
    heal();
    /* nothing of it happened: the client is there, the other not, the
     * transaction open, logging not locked, the TSE not disabled */
    nothing_written(&before);
    char d[80];
    cf_description(d, sizeof d);
    assert_string_not_equal(d, "Filiale 9");
    EXPECT(registerClient(S("KASSE-02")), ERROR_CLIENT_ALREADY_REGISTERED);
    /* OpenTSE ends the sessions when it disables, before its commit: a
     * refused disableSecureElement leaves the TSE enabled, the admin out */
    seen logged_in = look();
    refuse("INSERT ON logs");
    REFUSED(disableSecureElement(), ERROR_STORING_LOG_MESSAGE_FAILED);
    EXPECT(setDescription(S("Filiale 9")), ERROR_USER_NOT_AUTHENTICATED);
    heal();
    same(&logged_in);
    continues(&before);
    OK(cf_finish(CF_CLIENT, open, CF_TYPE, "Beleg", NULL, NULL, NULL));
    OK(cf_finish(CF_CLIENT, before.tx + 1, CF_TYPE, "Beleg", NULL, NULL, NULL));
    /* locking needs no open transaction */
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    refuse("INSERT ON logs");
    REFUSED(lockTransactionLogging(), ERROR_STORING_LOG_MESSAGE_FAILED);
    heal();
    OK(lockTransactionLogging());
    refuse("INSERT ON logs");
    REFUSED(unlockTransactionLogging(), ERROR_STORING_LOG_MESSAGE_FAILED);
    heal();
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_TRANSACTION_LOGGING_LOCKED);   /* still locked */
    before = look();
    OK(unlockTransactionLogging());
    assert_int_equal(cf_signature_counter(), before.counter + 1);
}

/* One call whose state change the store refuses (its log alone would be
 * stored): the call fails, the change and its log are not there (they are
 * one commit in OpenTSE, so the answer is ErrorStoringLogMessageFailed,
 * where the TR names the step that failed; docs/conformance.md). */
static void refused_change(const char *what, short int (*call)(void), short int want)
{
    seen before = look();
    refuse(what);
    REFUSED(call(), want);
    heal();
    nothing_written(&before);
    continues(&before);
}

static short int register_third(void)
{
    return registerClient(S("KASSE-03"));
}

/* registerClient when the client cannot be enabled: refused, and the
 * client is not registered (no transaction with it). */
static void T_II_REC_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    refused_change("INSERT ON clients", register_third, ERROR_STORING_LOG_MESSAGE_FAILED);
    cf_start("KASSE-03", CF_TYPE, "", NULL, ERROR_CLIENT_NOT_REGISTERED);
    OK(register_third());
    cf_start("KASSE-03", CF_TYPE, "", NULL, EXECUTION_OK);
}

static short int deregister_second(void)
{
    return deregisterClient(S("KASSE-02"));
}

/* deregisterClient when the client cannot be disabled: refused, and the
 * client goes on signing. */
static void T_II_DRC_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(registerClient(S("KASSE-02")));
    refused_change("DELETE ON clients", deregister_second, ERROR_STORING_LOG_MESSAGE_FAILED);
    unsigned long int n = cf_start("KASSE-02", CF_TYPE, "", NULL, EXECUTION_OK);
    OK(cf_finish("KASSE-02", n, CF_TYPE, "Beleg", NULL, NULL, NULL));
    OK(deregister_second());
    cf_start("KASSE-02", CF_TYPE, "", NULL, ERROR_CLIENT_NOT_REGISTERED);
}

#define LOCKED_KEY "INSERT ON meta WHEN NEW.key = 'transaction_logging_locked'"

/* lockTransactionLogging when the lock cannot be stored: transactions go on. */
static void T_II_LTL_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    refused_change(LOCKED_KEY, lockTransactionLogging, ERROR_STORING_LOG_MESSAGE_FAILED);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);   /* the second open one */
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "Beleg", NULL, NULL, NULL));
    OK(cf_finish(CF_CLIENT, n - 1, CF_TYPE, "Beleg", NULL, NULL, NULL));
    OK(lockTransactionLogging());
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_TRANSACTION_LOGGING_LOCKED);
}

/* unlockTransactionLogging when the unlock cannot be stored: still locked. */
static void T_II_UTL_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(lockTransactionLogging());
    seen before = look();
    refuse(LOCKED_KEY);
    REFUSED(unlockTransactionLogging(), ERROR_STORING_LOG_MESSAGE_FAILED);
    heal();
    nothing_written(&before);
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_TRANSACTION_LOGGING_LOCKED);
    OK(unlockTransactionLogging());
    assert_int_equal(cf_signature_counter(), before.counter + 3);   /* selfTest, login, unlock */
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
}

static short int describe(void)
{
    return setDescription(S("Filiale 9"));
}

/* setDescription when the description cannot be stored: the old one stays. */
static void T_II_SDE_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    char old[80], now[80];
    cf_description(old, sizeof old);
    refused_change("INSERT ON meta WHEN NEW.key = 'description'", describe, ERROR_STORING_LOG_MESSAGE_FAILED);
    cf_description(now, sizeof now);
    assert_string_equal(now, old);
    OK(describe());
    cf_description(now, sizeof now);
    assert_string_equal(now, "Filiale 9");
}

/* disableSecureElement when the deactivation cannot be stored: the TSE
 * stays enabled and signs. */
static void T_II_DSE_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    refused_change("INSERT ON meta WHEN NEW.key = 'state'", disableSecureElement, ERROR_STORING_LOG_MESSAGE_FAILED);
    OK(disableSecureElement());
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_SECURE_ELEMENT_DISABLED);
}

/* updateTransaction without forceSignature when its data cannot be kept:
 * ErrorUpdateTransactionFailed, and the refused data is in no log. */
static void T_II_UPD_10(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "1 Kaffee;", false, &v, NULL));
    assert_int_equal(v, UpdateProtectionVariants_noPrevPassedInMem);
    seen before = look();
    refuse("INSERT ON open_tx");
    REFUSED(cf_update(CF_CLIENT, n, CF_TYPE, "1 Tee;", false, &v, NULL), ERROR_UPDATE_TRANSACTION_FAILED);
    heal();
    nothing_written(&before);
    TransactionState st;
    OK(getTransactionState(n, &st));
    assert_int_equal(st, TransactionState_updatedWithUnprotectedData);
    cf_signed kept;
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "Beleg", NULL, &kept, NULL));
    cf_log l;
    cf_last_log(&l);
    uint8_t pd[256];
    size_t len = cf_process_data(&l.m, pd, sizeof pd);
    /* selfTest, login, the kept data's update log (3.7.1.4), finish */
    assert_int_equal(kept.counter, before.counter + 3);
    assert_int_equal(l.m.signature_counter, before.counter + 4);
    assert_true(len == 5 && memcmp(pd, "Beleg", 5) == 0);
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    for (size_t i = 0; i < a.n; i++)   /* the refused data is in no log, the kept one in its update log */
        if (a.e[i].is_log && a.e[i].m.kind == LOGMSG_TRANSACTION && a.e[i].m.signature_counter == kept.counter) {
            len = cf_process_data(&a.e[i].m, pd, sizeof pd);
            assert_true(len == 9 && memcmp(pd, "1 Kaffee;", 9) == 0);
        }
    cf_archive_free(&a);
}

/* restoreLogsFromBackup when the logs cannot be stored: ErrorRestoreFailed,
 * none of them is back; without the fault all are. */
static void T_II_RFB_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    for (int i = 0; i < 3; i++)
        cf_sale(CF_CLIENT, "x");
    cf_archive all, gone, left, back;
    OK(cf_export(0, NULL, &all));
    OK(deleteLogMessages());
    OK(cf_export(0, NULL, &gone));
    assert_true(gone.logs < all.logs);
    size_t len = 0;
    uint8_t *backup = th_read_file(all.file, &len);
    assert_non_null(backup);
    seen before = look();
    refuse("INSERT ON logs");
    REFUSED(restoreLogsFromBackup(backup, len), ERROR_RESTORE_FAILED);
    heal();
    same(&before);
    OK(cf_export(0, NULL, &left));   /* the same logs as before the restore */
    assert_int_equal(left.logs, gone.logs);
    for (size_t i = 0; i < left.n; i++)
        if (left.e[i].is_log)
            assert_non_null(cf_entry(&gone, left.e[i].path));
    OK(restoreLogsFromBackup(backup, len));
    free(backup);
    OK(cf_export(0, NULL, &back));
    for (size_t i = 0; i < all.n; i++)
        if (all.e[i].is_log)
            assert_non_null(cf_entry(&back, all.e[i].path));
    cf_archive_free(&all);
    cf_archive_free(&gone);
    cf_archive_free(&left);
    cf_archive_free(&back);
}

/* deleteLogMessages when the logs cannot be deleted: ErrorDeleteLogMessagesFailed,
 * every log is still there. */
static void T_II_DLM_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    for (int i = 0; i < 3; i++)
        cf_sale(CF_CLIENT, "x");
    cf_archive all;
    OK(cf_export(0, NULL, &all));
    refused_change("DELETE ON logs", deleteLogMessages, ERROR_DELETE_LOG_MESSAGES_FAILED);
    cf_archive_free(&all);
    /* the logs since (the rebinding's) are exported first (II_DLM_02) */
    OK(cf_export(0, NULL, &all));
    OK(deleteLogMessages());
    cf_archive_free(&all);
}

/* ------------------------------------------------------- unreadable logs */

/* The logs table goes missing under the running TSE (as a damaged or
 * foreign database file would show it) and comes back. */
static void logs_gone(bool gone)
{
    sql(gone ? "ALTER TABLE logs RENAME TO logs_away;" : "ALTER TABLE logs_away RENAME TO logs;");
}

typedef short int (*last_log_fn)(unsigned long int, unsigned char *, unsigned long int *, unsigned long int,
                                 unsigned char *, unsigned long int *);

/* `get` (getLastLogMessage or getLastTransactionLogMessage) with the logs
 * unreadable answers ErrorReadingLogMessage; readable again, the log it
 * gives is parsed into `m` (its bytes in `der`). */
static void unreadable_then(last_log_fn get, uint8_t der[8192], logmsg *m)
{
    char name[300];
    unsigned long int nl = 0, dl = 0;
    logs_gone(true);
    EXPECT(get(sizeof name, (unsigned char *)name, &nl, 8192, der, &dl), ERROR_READING_LOG_MESSAGE);
    logs_gone(false);
    OK(get(sizeof name, (unsigned char *)name, &nl, 8192, der, &dl));
    tse_error err = {0};
    assert_true(logmsg_parse(der, dl, m, &err));
}

/* getLastLogMessage when the last log cannot be read: ErrorReadingLogMessage;
 * readable again, it is the same log. */
static void T_II_GLL_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    seen before = look();
    uint8_t der[8192];
    logmsg m;
    unreadable_then(getLastLogMessage, der, &m);
    assert_memory_equal(der, before.last.der, before.last.len);
    same(&before);
    OK(logOut(S("admin")));
    cf_expect_system_log("logOut", "admin");
}

/* getLastTransactionLogMessage likewise: ErrorReadingLogMessage, then the
 * same transaction log. */
static void T_II_GLT_07(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    uint8_t der[8192];
    logmsg m;
    unreadable_then(getLastTransactionLogMessage, der, &m);
    assert_int_equal(m.signature_counter, s.counter);
    assert_int_equal(m.transaction_number, n);
    assert_int_equal(tx_counter(), n);
}

/* getTransactionState when the open transaction's logs cannot be read
 * (whether it was updated is in them): ErrorGetTransactionStateFailed;
 * readable again, the right state. */
static void T_II_GTS_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int done = cf_sale(CF_CLIENT, "x");
    TransactionState st;
    logs_gone(true);
    EXPECT(getTransactionState(n, &st), ERROR_GET_TRANSACTION_STATE_FAILED);
    logs_gone(false);
    OK(getTransactionState(n, &st));
    assert_int_equal(st, TransactionState_started);
    OK(getTransactionState(done, &st));
    assert_int_equal(st, TransactionState_finished);
}

/* The TSE's stored certificate (meta "certificate") swapped with the one
 * in `other`'s file, with the TSE unbound: a certificate that does not
 * belong to the key, as a damaged or mixed-up medium would hold. A second
 * swap puts both back. */
static void swap_certificate(const char *other)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(cf.url + 5, &db), SQLITE_OK);
    char text[900];
    snprintf(text, sizeof text,
             "ATTACH '%s' AS o;"
             "CREATE TEMP TABLE c AS SELECT value FROM main.meta WHERE key = 'certificate';"
             "UPDATE main.meta SET value = (SELECT value FROM o.meta WHERE key = 'certificate')"
             " WHERE key = 'certificate';"
             "UPDATE o.meta SET value = (SELECT value FROM c) WHERE key = 'certificate';",
             other);
    char *err = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", text, err ? err : "?");
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
}

/* selfTest when the self-test finds a fault (the certificate is not the
 * key's): ErrorSelfTestFailed, the TSE signs nothing (the open's selfTest
 * log is the last one it signs); with the right certificate back it
 * passes and signs on without a gap. */
static void T_II_STE_03(void **state)
{
    (void)state;
    cf_fresh(CF_CREATED);
    char *other = strdup(cf.url + 5);
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    OK(seApiClose());
    swap_certificate(other);
    OK(seApiOpen(cf.url, th_master_key(), NULL, NULL));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    unsigned long int counter = cf_signature_counter();
    uint8_t r[2048];
    unsigned long int n = 0;
    EXPECT(selfTest(sizeof r, r, &n), ERROR_SELF_TEST_FAILED);
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_SELF_TEST_FAILED);
    assert_int_equal(cf_signature_counter(), counter + 1);   /* the failed selfTest is logged */
    cf_expect_system_log("selfTest", "admin");
    OK(seApiClose());
    swap_certificate(other);
    OK(seApiOpen(cf.url, th_master_key(), NULL, NULL));
    assert_int_equal(cf_signature_counter(), counter + 3);   /* the open's selfTest, exitSecureState */
    cf_expect_system_log("exitSecureState", NULL);
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    OK(selfTest(sizeof r, r, &n));
    cf_expect_system_log("selfTest", "admin");
    cf_signed s;
    cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    assert_int_equal(s.counter, counter + 6);
    free(other);
}

/* --------------------------------------------- the transaction number's end */

/* SM_TRA_07: a TSE whose transaction numbers reached the store's maximum
 * (2^63 - 1; the numbers of deleted transactions stay used, meta
 * "store.deleted_tx_number", which the test sets in the TSE's file as a
 * deletion up to 2^63 - 2 would leave it): the last number is given, the
 * next start is refused and nothing wraps round; the TSE's other functions
 * go on signing. OpenTSE refuses it as a log it cannot store
 * (ErrorStoringLogMessageFailed, asserted; docs/conformance.md). */
static void T_SM_TRA_07(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    OK(seApiClose());
    sql("INSERT OR REPLACE INTO meta(tse, key, value) SELECT id, 'store.deleted_tx_number', '9223372036854775806'"
        " FROM tses;");
    OK(seApiOpen(cf.url, th_master_key(), NULL, NULL));
    assert_int_equal(tx_counter(), 9223372036854775806UL);
    unsigned long int last = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(last, 9223372036854775807UL);
    OK(cf_finish(CF_CLIENT, last, CF_TYPE, "Beleg", NULL, NULL, NULL));
    seen before = look();
    for (int i = 0; i < 2; i++)
        REFUSED(do_start(), ERROR_START_TRANSACTION_FAILED);
    assert_int_equal(tx_counter(), last);
    OK(authenticateUser(S("admin"), S(CF_PIN)));   /* system logs go on */
    assert_int_equal(cf_signature_counter(), before.counter + 1);
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    assert_int_equal(a.logs, before.counter + 1);
    for (size_t i = 0; i < a.n; i++)
        if (a.e[i].is_log && a.e[i].m.kind == LOGMSG_TRANSACTION)
            assert_true(a.e[i].m.transaction_number == 1 || a.e[i].m.transaction_number == last);
    cf_archive_free(&a);
}

/* ------------------------------------------------ a directory gone away */

static char *dir, *away;

/* A TSE in a directory of its own, ready. */
static void fresh_in_dir(void)
{
    static int seq;
    char name[32];
    snprintf(name, sizeof name, "own-%d", seq++);
    dir = th_path(name);
    assert_true(asprintf(&away, "%s.away", dir) > 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    cf_fresh_at(dir, CF_READY, NULL);
}

/* The TSE's directory moved away under the running TSE and a plain file
 * put in its place (as a medium mounted over or taken out shows it): the
 * TSE keeps its open files, but nothing can be found by the store's path. */
static void dir_gone(bool gone)
{
    if (gone) {
        assert_int_equal(rename(dir, away), 0);
        FILE *f = fopen(dir, "w");
        assert_non_null(f);
        assert_int_equal(fclose(f), 0);
    } else {
        assert_int_equal(unlink(dir), 0);
        assert_int_equal(rename(away, dir), 0);
    }
}

static int dir_back(void **state)
{
    (void)state;
    seApiClose();
    if (dir && access(away, F_OK) == 0) {
        unlink(dir);
        rename(away, dir);
    }
    free(dir);
    free(away);
    dir = away = NULL;
    return 0;
}

/* getUsedMemory, getTotalMemory and getFreeMemory (II_GTM_02, II_GFM_02)
 * when the store's size and its medium's free space cannot be read: each
 * its own exception; back, the true figures (the used memory is the
 * TSE's files). */
static void T_II_GUM_02(void **state)
{
    (void)state;
    fresh_in_dir();
    unsigned long int used = 0, total = 0, free_mem = 0;
    dir_gone(true);
    EXPECT(getUsedMemory(&used), ERROR_GET_USED_MEMORY_FAILED);
    EXPECT(getTotalMemory(&total), ERROR_GET_TOTAL_MEMORY_FAILED);
    EXPECT(getFreeMemory(&free_mem), ERROR_GET_FREE_MEMORY_FAILED);
    dir_gone(false);
    OK(getUsedMemory(&used));
    OK(getTotalMemory(&total));
    OK(getFreeMemory(&free_mem));
    struct stat db, wal;
    assert_int_equal(stat(cf.url + 5, &db), 0);
    char *w = NULL;
    assert_true(asprintf(&w, "%s-wal", cf.url + 5) > 0);
    if (stat(w, &wal) != 0)
        wal.st_size = 0;
    free(w);
    assert_true(used > 0);
    assert_int_equal(used, (unsigned long int)(db.st_size + wal.st_size));
    assert_true(total >= used + free_mem - 1024 * 1024 && total > used);
}

/* getDeviceHealth and getComponentVersions (II_GCV_04; both report the
 * store) when the store cannot be found: their own exceptions; back, they
 * answer. */
static void T_II_GDH_04(void **state)
{
    (void)state;
    fresh_in_dir();
    uint8_t d[4096];
    unsigned long int n = 0;
    dir_gone(true);
    EXPECT(getDeviceHealth(sizeof d, d, &n), ERROR_GET_DEVICE_HEALTH_FAILED);
    EXPECT(getComponentVersions(sizeof d, d, &n), ERROR_GET_COMPONENT_VERSIONS_FAILED);
    dir_gone(false);
    OK(getDeviceHealth(sizeof d, d, &n));
    OK(getComponentVersions(sizeof d, d, &n));
}

/* ------------------------------------------------------- a full medium */

static char *disk, *filler;

/* A small tmpfs of the test's own for the TSE under test (root only). */
static void mount_disk(void)
{
    static int seq;
    char name[32];
    snprintf(name, sizeof name, "disk-%d", seq++);
    disk = th_path(name);
    assert_int_equal(mkdir(disk, 0700), 0);
    if (mount("tmpfs", disk, "tmpfs", 0, "size=4m") != 0)
        fail_msg("mount tmpfs on %s: %s", disk, strerror(errno));
    assert_true(asprintf(&filler, "%s/filler", disk) > 0);
}

static int unmount_disk(void **state)
{
    (void)state;
    seApiClose();
    if (disk) {
        umount2(disk, MNT_DETACH);
        rmdir(disk);
    }
    free(disk);
    free(filler);
    disk = filler = NULL;
    return 0;
}

static uint64_t free_bytes(void)
{
    struct statvfs fs;
    assert_int_equal(statvfs(disk, &fs), 0);
    return (uint64_t)fs.f_bavail * fs.f_frsize;
}

/* Fills the medium but `keep` bytes. */
static void fill(uint64_t keep)
{
    FILE *f = fopen(filler, "ab");
    assert_non_null(f);
    static char chunk[4096];
    uint64_t want = free_bytes() > keep ? free_bytes() - keep : 0;
    for (uint64_t put = 0; put < want; put += sizeof chunk)
        if (fwrite(chunk, 1, sizeof chunk, f) != sizeof chunk || fflush(f) != 0)
            break;
    fclose(f);
    if (!keep)
        assert_int_equal(free_bytes(), 0);
}

/* ErrorStorageMemoryFull (table 101): on a full medium every function that
 * stores a log answers it and nothing changes; with space again the TSE
 * goes on without a gap. initialize on a second TSE of the same medium. */
static void T_II_ERR_16(void **state)
{
    (void)state;
    mount_disk();
    cf_fresh_at(disk, CF_ADMIN, NULL);
    char *uninit = strdup(cf.url), uninit_puk[TSE_PUK_LEN + 1];
    memcpy(uninit_puk, cf.puk, sizeof uninit_puk);
    cf_fresh_at(disk, CF_READY, NULL);
    OK(registerClient(S("KASSE-02")));
    unsigned long int open = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    seen before = look();
    fill(0);
    every_logging_call(open, ERROR_STORAGE_MEMORY_FULL);
    assert_int_equal(unlink(filler), 0);
    nothing_written(&before);
    EXPECT(registerClient(S("KASSE-02")), ERROR_CLIENT_ALREADY_REGISTERED);
    continues(&before);
    OK(cf_finish(CF_CLIENT, open, CF_TYPE, "Beleg", NULL, NULL, NULL));

    /* initialize on the full medium */
    OK(seApiOpen(uninit, th_master_key(), NULL, NULL));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    fill(0);
    EXPECT(initialize(), ERROR_STORAGE_MEMORY_FULL);
    assert_int_equal(unlink(filler), 0);
    EXPECT(registerClient(S("KASSE-02")), ERROR_DEVICE_NOT_INITIALIZED);   /* still not initialized */
    OK(initialize());
    free(uninit);
}

/* Export with the medium half full (II_EXP_08) and full (II_EXP_09,
 * EXP_TAR_02): every stored log in a TAR of the right name and format,
 * which the auditor's checks pass. With no byte left OpenTSE cannot store
 * the export's mark (how far the logs were exported, which
 * deleteLogMessages keeps to) and gives no archive, nothing changed (a
 * deviation, docs/conformance.md); with the last 64 KiB it exports all. */
static void export_on(uint64_t keep)
{
    mount_disk();
    cf_fresh_at(disk, CF_READY, NULL);
    for (int i = 0; i < 3; i++)
        cf_sale(CF_CLIENT, "x");
    seen before = look();
    cf_archive a;
    if (!keep) {
        fill(0);
        REFUSED(cf_export(0, NULL, &a), ERROR_STORAGE_MEDIUM_DISCONNECTED);
        assert_int_equal(unlink(filler), 0);
        keep = 64 * 1024;
    }
    fill(keep == 1 ? free_bytes() / 2 : keep);
    OK(cf_export(0, NULL, &a));
    assert_int_equal(a.logs, before.counter);
    same(&before);
    cf_audit_archive(&a);
    assert_true(strlen(a.name) > 8 && strcmp(a.name + strlen(a.name) - 4, ".tar") == 0);
    cf_archive_free(&a);
    OK(cf_export(1, NULL, &a));   /* the certificates too */
    cf_archive_free(&a);
    cf_sale(CF_CLIENT, "still room");
}

static void T_II_EXP_08(void **state)
{
    (void)state;
    export_on(1);
}

static void T_II_EXP_09(void **state)
{
    (void)state;
    export_on(0);
}

static void T_EXP_TAR_02(void **state)
{
    (void)state;
    export_on(0);
}

const struct CMUnitTest cf_faults[] = {
    cmocka_unit_test(T_II_ERR_13), cmocka_unit_test(T_II_REC_06), cmocka_unit_test(T_II_DRC_03),
    cmocka_unit_test(T_II_LTL_03), cmocka_unit_test(T_II_UTL_03), cmocka_unit_test(T_II_SDE_02),
    cmocka_unit_test(T_II_DSE_03), cmocka_unit_test(T_II_UPD_10), cmocka_unit_test(T_II_RFB_04),
    cmocka_unit_test(T_II_DLM_04), cmocka_unit_test(T_II_GLL_03), cmocka_unit_test(T_II_GLT_07),
    cmocka_unit_test(T_II_GTS_03),
    cmocka_unit_test(T_II_STE_03), cmocka_unit_test(T_SM_TRA_07),
    cmocka_unit_test_teardown(T_II_GUM_02, dir_back), cmocka_unit_test_teardown(T_II_GDH_04, dir_back), cmocka_unit_test_teardown(T_II_ERR_16, unmount_disk),
    cmocka_unit_test_teardown(T_II_EXP_08, unmount_disk), cmocka_unit_test_teardown(T_II_EXP_09, unmount_disk),
    cmocka_unit_test_teardown(T_EXP_TAR_02, unmount_disk),
};
const size_t cf_faults_n = sizeof cf_faults / sizeof cf_faults[0];
