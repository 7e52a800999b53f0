/*
 * conformance_users.c - TR-03153-1-TS v1.1.1 6.3.1.1 to 6.3.1.3: the users
 * of the integration interface (II_AUT), logging out (II_LGO) and
 * unblocking a PIN (II_UBP).
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../client/transport.h"
#include "helpers.h"

static bool bytes_equal(logmsg_bytes b, const char *s)
{
    return b.n == strlen(s) && !memcmp(b.p, s, b.n);
}

/* A system log that should come, its eventTriggeredByUser (NULL: not
 * checked, "": none, the TSE's own doing). */
typedef struct want_log {
    const char *event, *user;
} want_log;

/* The logs after signature counter `from` of a complete export (read by
 * whoever may export now) are exactly `w` in counter order: system logs by
 * their eventType, transaction logs by their operationType.
 * For the time admin, who may read no logs (table 9), the checks come once
 * another user is logged in. */
static void expect_logs_after(unsigned long int from, const want_log *w, size_t n)
{
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    size_t found = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct cf_entry *e = &a.e[i];
        if (!e->is_log || e->m.signature_counter <= from)
            continue;
        uint64_t k = e->m.signature_counter - from - 1;
        if (k >= n)
            fail_msg("log %llu (%.*s) after the %zu expected", (unsigned long long)e->m.signature_counter,
                     (int)e->m.operation.n, e->m.operation.p, n);
        found++;
        size_t el = strlen(w[k].event);
        bool tx = el > 11 && !strcmp(w[k].event + el - 11, "Transaction");
        assert_int_equal(e->m.kind, tx ? LOGMSG_TRANSACTION : LOGMSG_SYSTEM);
        if (!bytes_equal(e->m.operation, w[k].event))
            fail_msg("log %llu is %.*s, expected %s", (unsigned long long)e->m.signature_counter,
                     (int)e->m.operation.n, e->m.operation.p, w[k].event);
        if (w[k].user && !w[k].user[0])
            assert_false(e->m.has_event_triggered_by_user);
        else if (w[k].user)
            assert_true(e->m.has_event_triggered_by_user && bytes_equal(e->m.event_triggered_by_user, w[k].user));
    }
    assert_int_equal(found, n);
    cf_archive_free(&a);
}
#define EXPECT_LOGS_AFTER(from, ...) \
    expect_logs_after((from), (const want_log[]){__VA_ARGS__}, sizeof((const want_log[]){__VA_ARGS__}) / sizeof(want_log))

/* authenticateUser for admin and timeadmin: the call succeeds and writes
 * the system log authenticateUser. */
static void T_II_AUT_01(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    cf_expect_system_log("authenticateUser", NULL);
    unsigned long int before = cf_signature_counter();
    cf_time_admin();   /* it reads no logs (table 9): checked after its logOut */
    OK(logOut(S("timeadmin")));
    EXPECT_LOGS_AFTER(before, {"unblockPin", NULL}, {"logOut", ""}, {"authenticateUser", NULL},
                      {"logOut", "timeadmin"});
    cf_logger();
    cf_expect_system_log("authenticateUser", NULL);
}

static void expect_result(const char *event, unsigned char result);

/* An unknown user ID: ErrorUnknownUserId, the attempt logged with
 * unknownUserId (TR-03151-1 3.2.3.5). */
static void T_II_AUT_02(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    unsigned long int before = cf_signature_counter();
    EXPECT(authenticateUser(S("nobody"), S(CF_PIN)), ERROR_UNKNOWN_USER_ID);
    expect_result("authenticateUser", 1);
    EXPECT(authenticateUser(S(""), S(CF_PIN)), ERROR_UNKNOWN_USER_ID);
    assert_int_equal(cf_signature_counter(), before + 2);
}

/* The remaining retries as getLastFunctionCallStatus's text. */
static void expect_retries(const char *left)
{
    unsigned char d[32];
    unsigned long int n = 0;
    EXPECT(getLastFunctionCallStatus(sizeof d, d, &n), ERROR_INCORRECT_PIN);
    assert_string_equal((char *)d, left);
}

/* A wrong PIN while more than one try is left: ErrorIncorrectPin with the
 * tries left, the user stays logged out, the failure is logged. */
static void T_II_AUT_03(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    OK(logOut(S("admin")));
    EXPECT(authenticateUser(S("admin"), S("999999")), ERROR_INCORRECT_PIN);
    expect_retries("2");
    cf_expect_system_log("authenticateUser", NULL);
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHENTICATED);
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    cf_time_admin();
    OK(logOut(S("timeadmin")));
    EXPECT(authenticateUser(S("timeadmin"), S("999999")), ERROR_INCORRECT_PIN);
    expect_retries("2");
}

/* The last try wrong: ErrorPinBlocked. */
static void T_II_AUT_04(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    cf_time_admin();   /* the admin logged out by it (II_AUT_18) */
    OK(logOut(S("timeadmin")));
    OK(unblockPin(S("logger"), S(cf.puk), S(CF_LOGGER_PIN)));
    const char *users[] = {"admin", "timeadmin", "logger"};
    for (int u = 0; u < 3; u++) {
        EXPECT(authenticateUser(S(users[u]), S("999999")), ERROR_INCORRECT_PIN);
        EXPECT(authenticateUser(S(users[u]), S("999999")), ERROR_INCORRECT_PIN);
        expect_retries("1");
        EXPECT(authenticateUser(S(users[u]), S("999999")), ERROR_PIN_BLOCKED);
        cf_expect_system_log("authenticateUser", NULL);
        if (u == 0) {
            OK(unblockPin(S("admin"), S(cf.puk), S(CF_PIN)));
            OK(authenticateUser(S("admin"), S(CF_PIN)));
        }
    }
}

/* The last log's eventData holds ENUMERATED `result` (authenticationResult,
 * unblockResult). */
static void expect_result(const char *event, unsigned char result)
{
    cf_expect_system_log(event, NULL);
    cf_log l;
    cf_last_log(&l);
    const unsigned char want[] = {0x0a, 0x01, result};
    assert_non_null(memmem(l.m.event_data.p, l.m.event_data.n, want, sizeof want));
}

/* A blocked PIN: the right PIN does not log in; the attempt is logged with
 * pinBlocked (TR-03151-1 3.2.3.5 step 2). */
static void T_II_AUT_05(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    OK(logOut(S("admin")));
    for (int i = 0; i < 3; i++)
        authenticateUser(S("admin"), S("999999"));
    unsigned long int before = cf_signature_counter();
    EXPECT(authenticateUser(S("admin"), S(CF_PIN)), ERROR_PIN_BLOCKED);
    assert_int_equal(cf_signature_counter(), before + 1);
    expect_result("authenticateUser", 3);   /* pinBlocked */
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHENTICATED);
}

/* Functions of an authenticated user called without login (table 34):
 * ErrorUserNotAuthenticated, nothing changes, nothing is logged. */
static void T_II_AUT_06(void **state)
{
    (void)state;
    cf_fresh(CF_CREATED);
    EXPECT(initialize(), ERROR_USER_NOT_AUTHENTICATED);                        /* _B */
    cf_fresh(CF_READY);
    OK(logOut(S("admin")));
    unsigned long int before = cf_signature_counter();
    EXPECT(logOut(S("admin")), ERROR_USER_NOT_AUTHENTICATED);                  /* _A */
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHENTICATED);              /* _C */
    unsigned char d[128];
    unsigned long int dn = 0;
    EXPECT(getDescription(sizeof d, d, &dn), ERROR_USER_NOT_AUTHENTICATED);    /* _D */
    EXPECT(disableSecureElement(), ERROR_USER_NOT_AUTHENTICATED);              /* _F */
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    EXPECT(updateTime(&utc), ERROR_USER_NOT_AUTHENTICATED);                    /* _G */
    EXPECT(deleteLogMessages(), ERROR_USER_NOT_AUTHENTICATED);                 /* _I */
    EXPECT(registerClient(S("KASSE-02")), ERROR_USER_NOT_AUTHENTICATED);       /* _K */
    EXPECT(deregisterClient(S(CF_CLIENT)), ERROR_USER_NOT_AUTHENTICATED);      /* _L */
    EXPECT(lockTransactionLogging(), ERROR_USER_NOT_AUTHENTICATED);            /* _P */
    assert_int_equal(cf_signature_counter(), before);
    /* unlock where the admin could: with the logging locked */
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    OK(lockTransactionLogging());
    OK(logOut(S("admin")));
    before = cf_signature_counter();
    EXPECT(unlockTransactionLogging(), ERROR_USER_NOT_AUTHENTICATED);          /* _Q */
    assert_int_equal(cf_signature_counter(), before);
    /* _M.._O: a logger with a PIN logged out */
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    OK(unlockTransactionLogging());
    cf_logger();
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "open", NULL, EXECUTION_OK);
    OK(logOut(S("logger")));
    before = cf_signature_counter();
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_USER_NOT_AUTHENTICATED);     /* _M */
    EXPECT(cf_update(CF_CLIENT, n, CF_TYPE, "a", true, NULL, NULL), ERROR_USER_NOT_AUTHENTICATED);  /* _N */
    EXPECT(cf_finish(CF_CLIENT, n, CF_TYPE, "b", NULL, NULL, NULL), ERROR_USER_NOT_AUTHENTICATED);  /* _O */
    assert_int_equal(cf_signature_counter(), before);
    OK(authenticateUser(S("logger"), S(CF_LOGGER_PIN)));
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "b", NULL, NULL, NULL));
}

/* The logger calling functions it may not (table 35): ErrorUserNotAuthorized,
 * nothing changes, nothing is logged. */
static void T_II_AUT_07(void **state)
{
    (void)state;
    cf_fresh(CF_ADMIN);
    cf_logger();   /* the admin is logged out by it */
    unsigned long int before = cf_signature_counter();
    EXPECT(initialize(), ERROR_USER_NOT_AUTHORIZED);                            /* _A */
    assert_int_equal(cf_signature_counter(), before);

    cf_fresh(CF_READY);
    OK(lockTransactionLogging());
    cf_logger();
    before = cf_signature_counter();
    EXPECT(unlockTransactionLogging(), ERROR_USER_NOT_AUTHORIZED);              /* _K */
    assert_int_equal(cf_signature_counter(), before);
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    OK(unlockTransactionLogging());
    OK(authenticateUser(S("logger"), S(CF_LOGGER_PIN)));
    before = cf_signature_counter();
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHORIZED);                  /* _B */
    unsigned char d[128];
    unsigned long int dn = 0;
    EXPECT(getDescription(sizeof d, d, &dn), ERROR_USER_NOT_AUTHORIZED);        /* _C */
    char m[200];
    snprintf(m, sizeof m, "OpenTSE update package 2\nsequence: 1\nSMAERS,OpenTSE,libopentse,9.9.9,\n");
    size_t len = 0;
    uint8_t *pkg = th_update_package(m, cf_update_key, &len);
    assert_non_null(pkg);
    EXPECT(updateDevice(pkg, len), ERROR_USER_NOT_AUTHORIZED);                  /* _D */
    free(pkg);
    EXPECT(disableSecureElement(), ERROR_USER_NOT_AUTHORIZED);                  /* _E */
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    EXPECT(updateTime(&utc), ERROR_USER_NOT_AUTHORIZED);                        /* _F */
    EXPECT(deleteLogMessages(), ERROR_USER_NOT_AUTHORIZED);                     /* _H */
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    size_t blen = 0;
    uint8_t *backup = th_read_file(a.file, &blen);
    assert_non_null(backup);
    EXPECT(restoreLogsFromBackup(backup, blen), ERROR_USER_NOT_AUTHORIZED);     /* _I */
    free(backup);
    cf_archive_free(&a);
    EXPECT(lockTransactionLogging(), ERROR_USER_NOT_AUTHORIZED);                /* _J */
    assert_int_equal(cf_signature_counter(), before);
    cf_sale(CF_CLIENT, "still the logger's");
}

/* The admin calling the logger's functions (table 36) once the logger has a
 * PIN: ErrorUserNotAuthorized, nothing is logged. */
static void T_II_AUT_08(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_logger();
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "open", NULL, EXECUTION_OK);
    OK(authenticateUser(S("admin"), S(CF_PIN)));   /* logs the logger out */
    unsigned long int before = cf_signature_counter();
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_USER_NOT_AUTHORIZED);        /* _B */
    EXPECT(cf_update(CF_CLIENT, n, CF_TYPE, "a", true, NULL, NULL), ERROR_USER_NOT_AUTHORIZED);  /* _C */
    EXPECT(cf_finish(CF_CLIENT, n, CF_TYPE, "b", NULL, NULL, NULL), ERROR_USER_NOT_AUTHORIZED);  /* _D */
    assert_int_equal(cf_signature_counter(), before);
    unsigned long int open_n = 0;
    OK(getCurrentNumberOfTransactions(&open_n));
    assert_int_equal(open_n, 1);
}

/* The read functions every user may call, the time admin too (tables 38,
 * 41, 43), answered the same with or without login. */
static void open_reads(void)
{
    unsigned char buf[4096];
    unsigned long int n = 0, v = 0;
    struct tm tmv;
    SyncVariants sv;
    OK(getTotalMemory(&v));
    OK(getUsedMemory(&v));
    OK(getFreeMemory(&v));
    OK(getDeviceHealth(sizeof buf, buf, &n));
    OK(getComponentVersions(sizeof buf, buf, &n));
    OK(getEndOfUsageDate(&tmv));
    OK(getTimeSyncVariant(&sv));
    OK(getCurrentSeTime(&tmv));
}

/* The read functions of every user but the time admin (tables 37, 38,
 * 41), each answering `want`; `tx` is a finished transaction. */
static void reads_but_time_admin(short int want, unsigned long int tx)
{
    unsigned char buf[4096];
    unsigned long int n = 0, nl = 0, v = 0;
    UpdateVariants uv;
    TransactionState ts;
    cf_archive a;
    EXPECT(cf_export(0, NULL, &a), want);                                       /* 37 _H */
    cf_archive_free(&a);
    EXPECT(cf_export(1, NULL, &a), want);                                       /* _I */
    cf_archive_free(&a);
    EXPECT(exportSerialNumbers(sizeof buf, buf, &n), want);                    /* _K */
    EXPECT(getCurrentLoggingSignatureCounters(sizeof buf, buf, &n), want);     /* _L */
    EXPECT(getLastLogMessage(sizeof buf, buf, &nl, sizeof buf, buf, &n), want); /* _N */
    EXPECT(cf_export(2, &(cf_filter){.client = CF_CLIENT}, &a), want);          /* _T */
    cf_archive_free(&a);
    EXPECT(getSupportedTransactionUpdateVariants(&uv), want);                  /* _U */
    EXPECT(getCurrentNumberOfClients(&v), want);                               /* _V */
    EXPECT(getMaxNumberOfClients(&v), want);                                   /* _W */
    EXPECT(getRegisteredClients(sizeof buf, buf, &n), want);                   /* _X */
    EXPECT(getCurrentNumberOfTransactions(&v), want);                          /* _Y */
    EXPECT(getMaxNumberOfTransactions(&v), want);                              /* _Z */
    EXPECT(getTransactionState(tx, &ts), want);                                /* _AA */
    EXPECT(getOpenTransactions(sizeof buf, buf, &n), want);                    /* _AB */
    EXPECT(getCurrentTransactionCounter(&v), want);                            /* _AC */
    EXPECT(getLastTransactionLogMessage(sizeof buf, buf, &nl, sizeof buf, buf, &n), want);  /* _AD */
    EXPECT(getLastTransactionLogMessageTransactionNumber(tx, sizeof buf, buf, &nl, sizeof buf, buf, &n), want);
}

/* All the read functions of tables 38 and 41 but getDescription. */
static void read_functions(unsigned long int tx)
{
    open_reads();
    reads_but_time_admin(EXECUTION_OK, tx);
}

/* The time admin calling the functions it may not (table 37):
 * ErrorUserNotAuthorized, nothing is logged (read back once another user
 * is logged in, as the time admin may read no log). */
static void T_II_AUT_09(void **state)
{
    (void)state;
    cf_fresh(CF_ADMIN);
    unsigned long int before = cf_signature_counter();
    cf_time_admin();   /* the admin is logged out by it */
    EXPECT(initialize(), ERROR_USER_NOT_AUTHORIZED);                            /* _A */
    OK(logOut(S("timeadmin")));
    EXPECT_LOGS_AFTER(before, {"unblockPin", NULL}, {"logOut", ""}, {"authenticateUser", NULL},
                      {"logOut", "timeadmin"});

    cf_fresh(CF_READY);
    OK(lockTransactionLogging());
    OK(unblockPin(S("timeadmin"), S(cf.puk), S(CF_TIME_PIN)));
    before = cf_signature_counter();
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));
    EXPECT(unlockTransactionLogging(), ERROR_USER_NOT_AUTHORIZED);              /* _AF */
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    EXPECT_LOGS_AFTER(before, {"logOut", ""}, {"authenticateUser", NULL}, {"logOut", ""},
                      {"authenticateUser", NULL});
    OK(unlockTransactionLogging());
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    size_t blen = 0;
    uint8_t *backup = th_read_file(a.file, &blen);
    assert_non_null(backup);
    cf_archive_free(&a);
    char m[200];
    snprintf(m, sizeof m, "OpenTSE update package 2\nsequence: 1\nSMAERS,OpenTSE,libopentse,9.9.9,\n");
    size_t plen = 0;
    uint8_t *pkg = th_update_package(m, cf_update_key, &plen);
    assert_non_null(pkg);

    cf_logger();   /* with its PIN the transactions are the logger's */
    unsigned long int tx = cf_sale(CF_CLIENT, "a");
    before = cf_signature_counter();
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHORIZED);                  /* _B */
    unsigned char d[2048];
    unsigned long int n = 0, len = 0;
    EXPECT(getDescription(sizeof d, d, &n), ERROR_USER_NOT_AUTHORIZED);         /* _C */
    EXPECT(getLastFunctionCallStatus(sizeof d, d, &len), ERROR_USER_NOT_AUTHORIZED);
    assert_non_null(strstr((char *)d, "getDescription"));   /* the reason names the function */
    EXPECT(selfTest(sizeof d, d, &n), ERROR_USER_NOT_AUTHORIZED);               /* _D */
    EXPECT(updateDevice(pkg, plen), ERROR_USER_NOT_AUTHORIZED);                 /* _E */
    EXPECT(disableSecureElement(), ERROR_USER_NOT_AUTHORIZED);                  /* _F */
    EXPECT(deleteLogMessages(), ERROR_USER_NOT_AUTHORIZED);                     /* _J */
    EXPECT(restoreLogsFromBackup(backup, blen), ERROR_USER_NOT_AUTHORIZED);     /* _M */
    EXPECT(registerClient(S("KASSE-02")), ERROR_USER_NOT_AUTHORIZED);           /* _O */
    EXPECT(deregisterClient(S(CF_CLIENT)), ERROR_USER_NOT_AUTHORIZED);          /* _P */
    EXPECT(lockTransactionLogging(), ERROR_USER_NOT_AUTHORIZED);                /* _AE */
    reads_but_time_admin(ERROR_USER_NOT_AUTHORIZED, tx);                        /* _H.._L, _N, _T.._AD */
    OK(authenticateUser(S("logger"), S(CF_LOGGER_PIN)));
    unsigned long int open = cf_start(CF_CLIENT, CF_TYPE, "open", NULL, EXECUTION_OK);
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_USER_NOT_AUTHORIZED);         /* _Q */
    EXPECT(cf_update(CF_CLIENT, open, CF_TYPE, "b", true, NULL, NULL), ERROR_USER_NOT_AUTHORIZED);  /* _R */
    EXPECT(cf_finish(CF_CLIENT, open, CF_TYPE, "c", NULL, NULL, NULL), ERROR_USER_NOT_AUTHORIZED);  /* _S */
    OK(logOut(S("timeadmin")));
    EXPECT_LOGS_AFTER(before, {"logOut", ""}, {"authenticateUser", NULL}, {"logOut", ""},
                      {"authenticateUser", NULL}, {"startTransaction", NULL}, {"logOut", ""},
                      {"authenticateUser", NULL}, {"logOut", "timeadmin"});
    read_functions(open);   /* unauthenticated again: all of them */
    free(pkg);
    free(backup);
}

/* Unauthenticated: the read functions of table 38. */
static void T_II_AUT_10(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int tx = cf_sale(CF_CLIENT, "a");
    OK(logOut(S("admin")));
    read_functions(tx);
}

/* Unauthenticated: selfTest (table 39), logged as triggered by "unauthenticated". */
static void T_II_AUT_11(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(logOut(S("admin")));
    unsigned char r[2048];
    unsigned long int n = 0;
    OK(selfTest(sizeof r, r, &n));
    cf_expect_system_log("selfTest", "unauthenticated");
}

/* The admin: the read functions of table 41. */
static void T_II_AUT_14(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned char d[128];
    unsigned long int n = 0;
    OK(getDescription(sizeof d, d, &n));   /* _A */
    read_functions(cf_sale(CF_CLIENT, "a"));
}

/* The logger: the read functions of table 38. */
static void T_II_AUT_12(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_logger();
    read_functions(cf_sale(CF_CLIENT, "a"));
}

/* The logger's functions (table 40), each logged as triggered by "logger";
 * its transactions are signed while it is logged in. */
static void T_II_AUT_13(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(unblockPin(S("logger"), S(cf.puk), S(CF_LOGGER_PIN)));                 /* _C */
    cf_expect_system_log("unblockPin", NULL);
    OK(authenticateUser(S("logger"), S(CF_LOGGER_PIN)));                      /* _A */
    cf_expect_system_log("authenticateUser", NULL);
    unsigned char r[2048];
    unsigned long int rn = 0;
    OK(selfTest(sizeof r, r, &rn));                                           /* _D */
    cf_expect_system_log("selfTest", "logger");
    OK(registerClient(S("KASSE-02")));                                        /* _E */
    cf_expect_system_log("registerClient", "logger");
    cf_signed s;
    unsigned long int n = cf_start("KASSE-02", CF_TYPE, "a", &s, EXECUTION_OK);  /* _G */
    cf_log l;
    cf_last_log(&l);   /* signature checked by openssl */
    assert_int_equal(l.m.kind, LOGMSG_TRANSACTION);
    assert_int_equal(l.m.signature_counter, s.counter);
    OK(cf_update("KASSE-02", n, CF_TYPE, "b", true, NULL, NULL));            /* _H */
    OK(cf_finish("KASSE-02", n, CF_TYPE, "c", NULL, NULL, NULL));           /* _I */
    cf_last_log(&l);
    assert_int_equal(l.m.kind, LOGMSG_TRANSACTION);
    assert_true(l.m.operation.n == 17 && !strncasecmp((const char *)l.m.operation.p, "finishTransaction", 17));
    OK(deregisterClient(S("KASSE-02")));                                      /* _F */
    cf_expect_system_log("deregisterClient", "logger");
    OK(logOut(S("logger")));                                                  /* _B */
    cf_expect_system_log("logOut", "logger");
}

/* The admin's functions (table 42), each logged as triggered by "admin". */
static void T_II_AUT_15(void **state)
{
    (void)state;
    cf_fresh(CF_ADMIN);
    OK(initialize());
    cf_expect_system_log("initialize", "admin");                           /* _D */
    OK(setDescription(S("Filiale 7")));
    cf_expect_system_log("setDescription", "admin");                       /* _E */
    OK(registerClient(S(CF_CLIENT)));
    cf_expect_system_log("registerClient", "admin");                       /* _K */
    OK(registerClient(S("KASSE-02")));
    OK(deregisterClient(S("KASSE-02")));
    cf_expect_system_log("deregisterClient", "admin");                     /* _L */
    OK(lockTransactionLogging());
    cf_expect_system_log("lockTransactionLogging", "admin");               /* _M */
    OK(unlockTransactionLogging());
    cf_expect_system_log("unlockTransactionLogging", "admin");             /* _N */
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    OK(updateTime(&utc));
    cf_expect_system_log("updateTime", "admin");                           /* _I */
    OK(logOut(S("admin")));
    cf_expect_system_log("logOut", "admin");                               /* _B */
    OK(authenticateUser(S("admin"), S(CF_PIN)));                           /* _A */
    cf_expect_system_log("authenticateUser", NULL);
    OK(disableSecureElement());
    cf_expect_system_log("disableSecureElement", "admin");                 /* _H */
}

/* The time admin: the read functions of table 43. */
static void T_II_AUT_16(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_time_admin();   /* the admin is logged out by it */
    open_reads();
}

/* The time admin's functions (table 44): updateTime logged as "timeadmin". */
static void T_II_AUT_17(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    cf_time_admin();   /* the admin is logged out by it */
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    OK(updateTime(&utc));
    OK(logOut(S("timeadmin")));   /* the logs are read once it is logged out (table 9) */
    EXPECT_LOGS_AFTER(before, {"unblockPin", NULL}, {"logOut", ""}, {"authenticateUser", NULL},
                      {"updateTime", "timeadmin"}, {"logOut", "timeadmin"});
    cf_expect_system_log("logOut", "timeadmin");
}

/* The log with signature counter c of a complete export, held against the
 * openssl command line: a logOut of `user` by the TSE itself (eventOrigin
 * SMA, no eventTriggeredByUser, TR-03151-1 3.2.4.3.1) with logOutCause
 * differentUserLoggedIn (1). */
static void expect_auto_logout(unsigned long int c, const char *user)
{
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    const struct cf_entry *e = NULL;
    for (size_t i = 0; i < a.n && !e; i++)
        if (a.e[i].is_log && a.e[i].m.signature_counter == c)
            e = &a.e[i];
    assert_non_null(e);
    assert_int_equal(e->m.kind, LOGMSG_SYSTEM);
    assert_true(e->m.operation.n == 6 && !memcmp(e->m.operation.p, "logOut", 6));
    assert_true(e->m.has_event_origin && e->m.event_origin.n == 3 && !memcmp(e->m.event_origin.p, "SMA", 3));
    assert_false(e->m.has_event_triggered_by_user);
    uint8_t want[80] = {0x13, (uint8_t)strlen(user)};
    memcpy(want + 2, user, strlen(user));
    memcpy(want + 2 + strlen(user), "\x0a\x01\x01", 3);   /* loggedOutUserId, logOutCause 1 */
    assert_int_equal(e->m.event_data.n, strlen(user) + 5);
    assert_memory_equal(e->m.event_data.p, want, e->m.event_data.n);

    char path[600], cmd[800], line[512];
    snprintf(path, sizeof path, "%s/logout-%lu-%d.der", th_tmpdir(), c, rand());
    assert_int_equal(th_write_file(path, e->data, e->len), 0);
    snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    /* eventType [0], eventOrigin [1] and eventTriggeredByUser [2] are implicitly tagged: their
     * bytes are read at the offsets openssl gives */
    int enums = 0, names = 0, tagged_user = 0;
    bool event = false, origin = false;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        const char *v = strrchr(line, ':');
        unsigned off = 0, depth = 0, hl = 0, l = 0;
        if (!v || !strstr(line, "prim:") || sscanf(line, " %u:d=%u hl=%u l=%u", &off, &depth, &hl, &l) != 4)
            continue;
        assert_true(off + hl + l <= e->len);
        const uint8_t *val = e->data + off + hl;
        if (strstr(line, "ENUMERATED")) {
            enums++;
            assert_string_equal(v, ":01");
        }
        names += strstr(line, "PRINTABLESTRING") && !strcmp(v + 1, user);
        if (depth == 1 && strstr(line, "cont [ 0 ]"))
            event = l == 6 && !memcmp(val, "logOut", 6);
        if (depth == 1 && strstr(line, "cont [ 1 ]"))
            origin = l == 3 && !memcmp(val, "SMA", 3);
        tagged_user += depth == 1 && strstr(line, "cont [ 2 ]") != NULL;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(enums, 1);
    assert_true(event && origin);
    assert_int_equal(names, 1);        /* loggedOutUserId */
    assert_int_equal(tagged_user, 0);  /* no eventTriggeredByUser */
    cf_archive_free(&a);
}

/* A login while another user is authenticated logs that user out first
 * (TR-03151-1 3.2.3.5 step 5, table 45): the logOut log just before the
 * authenticateUser log; a login of the user already logged in writes only
 * its own log. */
static void T_II_AUT_18(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    OK(unblockPin(S("timeadmin"), S(cf.puk), S(CF_TIME_PIN)));
    /* the time admin reads no logs (table 9): what happened while it was
     * logged in is read once another user is */
    unsigned long int before = cf_signature_counter();
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));                      /* _C */
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHORIZED);   /* the admin's session is gone */
    EXPECT(logOut(S("admin")), ERROR_USER_NOT_AUTHENTICATED);
    OK(updateTime(&utc));
    OK(authenticateUser(S("admin"), S(CF_PIN)));                               /* _E */
    EXPECT_LOGS_AFTER(before, {"logOut", ""}, {"authenticateUser", NULL}, {"updateTime", "timeadmin"},
                      {"logOut", ""}, {"authenticateUser", NULL});
    expect_auto_logout(before + 1, "admin");
    expect_auto_logout(before + 4, "timeadmin");
    EXPECT(logOut(S("timeadmin")), ERROR_USER_NOT_AUTHENTICATED);
    OK(setDescription(S("Filiale 7")));
    cf_expect_system_log("setDescription", "admin");

    before = cf_signature_counter();
    OK(authenticateUser(S("admin"), S(CF_PIN)));                               /* _G */
    assert_int_equal(cf_signature_counter(), before + 1);
    cf_expect_system_log("authenticateUser", NULL);
    OK(setDescription(S("Filiale 8")));

    before = cf_signature_counter();
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));                      /* _I: its own log only */
    OK(updateTime(&utc));
    /* a wrong PIN logs nobody out: the time admin updates the time again */
    EXPECT(authenticateUser(S("admin"), S("999999")), ERROR_INCORRECT_PIN);
    OK(updateTime(&utc));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    EXPECT_LOGS_AFTER(before, {"logOut", ""}, {"authenticateUser", NULL}, {"authenticateUser", NULL},
                      {"updateTime", "timeadmin"}, {"authenticateUser", NULL}, {"updateTime", "timeadmin"},
                      {"logOut", ""}, {"authenticateUser", NULL});

    /* the logger: _F (after the time admin), _H (again), _B (admin after it),
     * _A (after the admin), _D (time admin after it) */
    OK(registerClient(S(CF_CLIENT)));
    OK(unblockPin(S("logger"), S(cf.puk), S(CF_LOGGER_PIN)));
    before = cf_signature_counter();
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));
    OK(authenticateUser(S("logger"), S(CF_LOGGER_PIN)));                       /* _F */
    EXPECT_LOGS_AFTER(before, {"logOut", ""}, {"authenticateUser", NULL}, {"logOut", ""},
                      {"authenticateUser", NULL});
    expect_auto_logout(before + 3, "timeadmin");
    EXPECT(updateTime(&utc), ERROR_USER_NOT_AUTHORIZED);
    before = cf_signature_counter();
    OK(authenticateUser(S("logger"), S(CF_LOGGER_PIN)));                       /* _H */
    assert_int_equal(cf_signature_counter(), before + 1);
    cf_sale(CF_CLIENT, "a");
    before = cf_signature_counter();
    OK(authenticateUser(S("admin"), S(CF_PIN)));                               /* _B */
    assert_int_equal(cf_signature_counter(), before + 2);
    expect_auto_logout(before + 1, "logger");
    EXPECT(logOut(S("logger")), ERROR_USER_NOT_AUTHENTICATED);
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_USER_NOT_AUTHORIZED);
    before = cf_signature_counter();
    OK(authenticateUser(S("logger"), S(CF_LOGGER_PIN)));                       /* _A */
    assert_int_equal(cf_signature_counter(), before + 2);
    expect_auto_logout(before + 1, "admin");
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHORIZED);
    before = cf_signature_counter();
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));                      /* _D */
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_USER_NOT_AUTHORIZED);
    OK(logOut(S("timeadmin")));
    EXPECT_LOGS_AFTER(before, {"logOut", ""}, {"authenticateUser", NULL}, {"logOut", "timeadmin"});
    expect_auto_logout(before + 1, "logger");
}

/* A successful login resets the retry counter to its initial 3. */
static void T_II_AUT_20(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    cf_time_admin();   /* the admin is logged out by it */
    OK(logOut(S("timeadmin")));
    OK(unblockPin(S("logger"), S(cf.puk), S(CF_LOGGER_PIN)));
    const char *users[] = {"admin", "timeadmin", "logger"}, *pins[] = {CF_PIN, CF_TIME_PIN, CF_LOGGER_PIN};
    for (int u = 0; u < 3; u++) {
        EXPECT(authenticateUser(S(users[u]), S("999999")), ERROR_INCORRECT_PIN);
        EXPECT(authenticateUser(S(users[u]), S("999999")), ERROR_INCORRECT_PIN);
        expect_retries("1");
        OK(authenticateUser(S(users[u]), S(pins[u])));
        OK(logOut(S(users[u])));
        EXPECT(authenticateUser(S(users[u]), S("999999")), ERROR_INCORRECT_PIN);
        expect_retries("2");
        OK(authenticateUser(S(users[u]), S(pins[u])));
    }
}

/* No users beyond the TR's: other names are unknown, the PUK opens nothing else. */
static void T_II_AUT_21(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    const char *others[] = {"root", "Admin", "ADMIN", "admin ", "smaadmin", "centraltimeadmin", "manufacturer"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        EXPECT(authenticateUser(S(others[i]), S(CF_PIN)), ERROR_UNKNOWN_USER_ID);
        EXPECT(unblockPin(S(others[i]), S(cf.puk), S(CF_PIN)), ERROR_UNKNOWN_USER_ID);
    }
}

/* smaadmin cannot log in through the interface. */
static void T_II_AUT_24(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    EXPECT(authenticateUser(S("smaadmin"), S(CF_PIN)), ERROR_UNKNOWN_USER_ID);
    EXPECT(authenticateUser(S("smaadmin"), S(cf.puk)), ERROR_UNKNOWN_USER_ID);
}

/* logOut ends the session and writes the logOut log. */
static void T_II_LGO_01(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    OK(logOut(S("admin")));
    cf_expect_system_log("logOut", "admin");
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHENTICATED);
    EXPECT(logOut(S("admin")), ERROR_USER_NOT_AUTHENTICATED);
    cf_time_admin();
    OK(logOut(S("timeadmin")));
    cf_expect_system_log("logOut", "timeadmin");
    cf_logger();
    OK(logOut(S("logger")));
    cf_expect_system_log("logOut", "logger");
    EXPECT(logOut(S("logger")), ERROR_USER_NOT_AUTHENTICATED);
}

/* The session ends by itself after the configured idle time (1 s here). */
void T_II_LGO_02(void **state)
{
    (void)state;
    tse_create_options o = {.session_timeout_seconds = 1};
    cf_fresh_file(CF_INITIALIZED, &o);
    sleep(2);
    EXPECT(setDescription(S("x")), ERROR_USER_NOT_AUTHENTICATED);
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    OK(setDescription(S("x")));
}

/* unblockPin with the right PUK sets a new PIN that logs in. */
static void T_II_UBP_01(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    OK(logOut(S("admin")));
    for (int i = 0; i < 3; i++)
        authenticateUser(S("admin"), S("999999"));
    OK(unblockPin(S("admin"), S(cf.puk), S("135790")));
    cf_expect_system_log("unblockPin", NULL);
    EXPECT(authenticateUser(S("admin"), S(CF_PIN)), ERROR_INCORRECT_PIN);
    OK(authenticateUser(S("admin"), S("135790")));
    OK(unblockPin(S("timeadmin"), S(cf.puk), S("864200")));
    OK(authenticateUser(S("timeadmin"), S("864200")));
    cf_logger();
    for (int i = 0; i < 3; i++)
        authenticateUser(S("logger"), S("999999"));
    EXPECT(authenticateUser(S("logger"), S(CF_LOGGER_PIN)), ERROR_PIN_BLOCKED);
    OK(unblockPin(S("logger"), S(cf.puk), S("753197")));
    OK(authenticateUser(S("logger"), S("753197")));
}

/* A wrong PUK: ErrorIncorrectPuk, the PIN is unchanged. */
static void T_II_UBP_02(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    char bad[TSE_PUK_LEN + 1];
    snprintf(bad, sizeof bad, "%s", cf.puk);
    bad[0] = bad[0] == '9' ? '0' : (char)(bad[0] + 1);
    EXPECT(unblockPin(S("admin"), S(bad), S("135790")), ERROR_INCORRECT_PUK);
    EXPECT(unblockPin(S("timeadmin"), S(bad), S("135790")), ERROR_INCORRECT_PUK);
    EXPECT(unblockPin(S("logger"), S(bad), S("135790")), ERROR_INCORRECT_PUK);
    OK(logOut(S("admin")));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
}

/* Guessing the PUK: after wrong PUKs the function is blocked for a while,
 * even for the right PUK (ErrorPukIsTemporarilyBlocked). */
static void T_II_UBP_04(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    char bad[TSE_PUK_LEN + 1];
    snprintf(bad, sizeof bad, "%s", cf.puk);
    bad[1] = bad[1] == '9' ? '0' : (char)(bad[1] + 1);
    short int rc = EXECUTION_OK;
    int tries = 0;
    while (tries < 20 && (rc = unblockPin(S("admin"), S(bad), S("135790"))) == ERROR_INCORRECT_PUK)
        tries++;
    EXPECT(rc, ERROR_PUK_TEMPORARILY_BLOCKED);
    assert_true(tries >= 1);
    unsigned long int before = cf_signature_counter();
    EXPECT(unblockPin(S("admin"), S(cf.puk), S("135790")), ERROR_PUK_TEMPORARILY_BLOCKED);
    assert_int_equal(cf_signature_counter(), before + 1);   /* logged (3.2.5.5 step 4) */
    expect_result("unblockPin", 3);                          /* unblockingTemporarilyBlocked */
}

/* An empty new PIN is refused for the admin (_05) and the time admin (_06). */
static void T_II_UBP_05(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    unsigned long int before = cf_signature_counter();
    EXPECT(unblockPin(S("admin"), S(cf.puk), S("")), ERROR_PARAMETER_SYNTAX);
    assert_int_equal(cf_signature_counter(), before);
    OK(logOut(S("admin")));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
}

static void T_II_UBP_06(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    EXPECT(unblockPin(S("timeadmin"), S(cf.puk), S("")), ERROR_PARAMETER_SYNTAX);
    OK(unblockPin(S("timeadmin"), S(cf.puk), S(CF_TIME_PIN)));
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));
}

const struct CMUnitTest cf_users[] = {
    cmocka_unit_test(T_II_AUT_01), cmocka_unit_test(T_II_AUT_02), cmocka_unit_test(T_II_AUT_03),
    cmocka_unit_test(T_II_AUT_04), cmocka_unit_test(T_II_AUT_05), cmocka_unit_test(T_II_AUT_06),
    cmocka_unit_test(T_II_AUT_07), cmocka_unit_test(T_II_AUT_08), cmocka_unit_test(T_II_AUT_09),
    cmocka_unit_test(T_II_AUT_10), cmocka_unit_test(T_II_AUT_11), cmocka_unit_test(T_II_AUT_12),
    cmocka_unit_test(T_II_AUT_13), cmocka_unit_test(T_II_AUT_14), cmocka_unit_test(T_II_AUT_15), cmocka_unit_test(T_II_AUT_16),
    cmocka_unit_test(T_II_AUT_17), cmocka_unit_test(T_II_AUT_18), cmocka_unit_test(T_II_AUT_20), cmocka_unit_test(T_II_AUT_21),
    cmocka_unit_test(T_II_AUT_24), cmocka_unit_test(T_II_LGO_01),
    cmocka_unit_test(T_II_UBP_01), cmocka_unit_test(T_II_UBP_02), cmocka_unit_test(T_II_UBP_04),
    cmocka_unit_test(T_II_UBP_05), cmocka_unit_test(T_II_UBP_06),
};
const size_t cf_users_n = sizeof cf_users / sizeof cf_users[0];

