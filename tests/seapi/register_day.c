/*
 * register_day.c - a cash register's day written only against
 * <opentse/se_api.h> (TR-03151-2's ANSI C mapping), built from an installed
 * tree with pkg-config by check_seapi.sh and run on a new TSE of either
 * transport: PIN set with the PUK, login, initialize, time, description,
 * client registration, transactions (aggregated and signed updates),
 * getOpenTransactions, lock/unlock, the last logs, chunked exports, the
 * device information, an update package, and the refusals on the way.
 *
 * usage: register_day URL PUK MASTER_KEY|- EXPORT_TAR CERT_TAR UPDATE_PACKAGE
 * (UPDATE_PACKAGE: signed with the update key the TSE is configured with,
 * naming SMAERS version 0.1.1-day)
 * (a remote TSE's API key and secret come from the environment).
 */
#define _GNU_SOURCE /* timegm, memmem */
#include <opentse/se_api.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures;

#define S(x) (const unsigned char *)(x), (unsigned long int)strlen(x) + 1

/* Checks a call's result against the expected code. */
static void expect(short int got, short int want, const char *what, int line)
{
    if (got == want)
        return;
    unsigned char data[512] = "";
    unsigned long int n = 0;
    getLastFunctionCallStatus(sizeof data, data, &n);
    fprintf(stderr, "register_day.c:%d: %s gave %d, expected %d (%s)\n", line, what, got, want, n ? (char *)data : "");
    failures++;
}
#define EXPECT(call, want) expect((call), (want), #call, __LINE__)
#define CHECK(cond)                                                                                                 \
    do {                                                                                                            \
        if (!(cond)) {                                                                                              \
            fprintf(stderr, "register_day.c:%d: %s does not hold\n", __LINE__, #cond);                               \
            failures++;                                                                                             \
        }                                                                                                           \
    } while (0)

typedef struct signed_log {
    struct tm time;
    unsigned char sig[200];
    unsigned long int sig_len, counter;
} signed_log;

static unsigned long int start(const char *pd, signed_log *l, short int want)
{
    unsigned long int number = 0, serial_len = 0;
    unsigned char serial[64];
    EXPECT(startTransaction(S("KASSE-01"), (const unsigned char *)pd, strlen(pd), S("Kassenbeleg-V1"), &number,
                            &l->time, sizeof serial, serial, &serial_len, &l->counter, sizeof l->sig, l->sig,
                            &l->sig_len),
           want);
    if (want == EXECUTION_OK)
        CHECK(number > 0 && serial_len == 32 && l->sig_len >= 64 && l->counter > 0);
    return number;
}

static void finish(unsigned long int number, const char *pd, signed_log *l)
{
    FinishProtectionVariants v = FinishProtectionVariants_updateLogCreated;
    signed_log second;
    EXPECT(finishTransaction(S("KASSE-01"), number, (const unsigned char *)pd, strlen(pd), S("Kassenbeleg-V1"), &v,
                             &l->time, sizeof l->sig, l->sig, &l->sig_len, &l->counter, &second.time,
                             sizeof second.sig, second.sig, &second.sig_len, &second.counter),
           EXECUTION_OK);
    CHECK(v == FinishProtectionVariants_updateLogNotCreated && l->sig_len >= 64 && second.sig_len == 0 &&
          second.counter == 0);
}

static short int update(unsigned long int number, const char *pd, bool force, UpdateProtectionVariants *v,
                        signed_log *first)
{
    signed_log second;
    return updateTransactionForceSignature(S("KASSE-01"), number, (const unsigned char *)pd, strlen(pd),
                                           S("Kassenbeleg-V1"), force, v, &first->time, sizeof first->sig,
                                           first->sig, &first->sig_len, &first->counter, &second.time,
                                           sizeof second.sig, second.sig, &second.sig_len, &second.counter);
}

static TransactionState state_of(unsigned long int number)
{
    TransactionState s = TransactionState_abandoned;
    EXPECT(getTransactionState(number, &s), EXECUTION_OK);
    return s;
}

/* The numbers of a DER TransactionInfoSet (short-form lengths only). */
static int open_numbers(const unsigned char *d, unsigned long int n, unsigned long int *out, int max)
{
    int k = 0;
    if (n < 2 || d[0] != 0x30 || d[1] + 2u != n)
        return -1;
    for (unsigned long int i = 2; i < n && k < max;) {
        unsigned long int rec_end = i + 2 + d[i + 1];
        if (d[i] != 0x30 || d[i + 2] != 0x02)
            return -1;
        unsigned long int v = 0;
        for (unsigned int j = 0; j < d[i + 3]; j++)
            v = v << 8 | d[i + 4 + j];
        out[k++] = v;
        i = rec_end;
    }
    return k;
}

/* A whole chunked export (chunks of `chunk` bytes) into path; its name. */
static void export_all(int filtered, const char *path, char *name, unsigned long long int chunk)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    unsigned char *buf = malloc(chunk);
    unsigned long long int off = 0, got = 0;
    unsigned long int name_len = 0;
    int calls = 0;
    do {
        short int rc = filtered == 1
                           ? exportLogMessages(off, chunk, buf, &got, 128, (unsigned char *)name, &name_len)
                           : exportLoggingCertificates(off, chunk, buf, &got, 128, (unsigned char *)name, &name_len);
        EXPECT(rc, EXECUTION_OK);
        if (rc != EXECUTION_OK)
            break;
        fwrite(buf, 1, got, f);
        off += got;
        calls++;
    } while (got == chunk);
    CHECK(name_len == strlen(name) + 1);
    CHECK(off > 1024);
    CHECK(filtered != 1 || calls > 2);   /* it really came in chunks */
    fclose(f);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: register_day URL PUK MASTER_KEY|- EXPORT_TAR CERT_TAR UPDATE_PACKAGE\n");
        return 2;
    }
    signed_log l, l2;
    /* nothing bound yet */
    EXPECT(lockTransactionLogging(), ERROR_SE_API_NOT_BOUND);
    EXPECT(getLastFunctionCallStatus(0, NULL, NULL), ERROR_SE_API_NOT_BOUND);
    EXPECT(seApiOpen(argv[1], strcmp(argv[3], "-") ? argv[3] : NULL, NULL, NULL), EXECUTION_OK);

    /* the morning: the admin PIN with the PUK, a wrong PIN, login, initialize, time */
    EXPECT(unblockPin(S("admin"), S(argv[2]), S("123456")), EXECUTION_OK);
    EXPECT(authenticateUser(S("admin"), S("999999")), ERROR_INCORRECT_PIN);
    unsigned char data[64];
    unsigned long int data_len = 0;
    EXPECT(getLastFunctionCallStatus(sizeof data, data, &data_len), ERROR_INCORRECT_PIN);
    CHECK(data_len == 2 && strcmp((char *)data, "2") == 0);   /* two retries left, as text */
    EXPECT(authenticateUser(S("nobody"), S("123456")), ERROR_UNKNOWN_USER_ID);
    EXPECT(authenticateUser(S("admin"), S("123456")), EXECUTION_OK);
    EXPECT(startTransaction(S("KASSE-01"), NULL, 0, S("Kassenbeleg-V1"), NULL, NULL, 0, NULL, NULL, NULL, 0, NULL,
                            NULL),
           ERROR_PARAMETER_SYNTAX);
    EXPECT(initialize(), EXECUTION_OK);
    EXPECT(initialize(), ERROR_DEVICE_IS_INITIALIZED);
    time_t now = time(NULL);
    struct tm utc, se;
    gmtime_r(&now, &utc);
    EXPECT(updateTime(&utc), EXECUTION_OK);
    EXPECT(getCurrentSeTime(&se), EXECUTION_OK);
    time_t se_t = timegm(&se);
    CHECK(se_t >= now && se_t - now < 120);
    struct tm bad = utc;
    bad.tm_year = 90;   /* 1990: before what a TSE accepts */
    EXPECT(updateTime(&bad), ERROR_INVALID_TIME);

    /* description: too small a buffer tells the size needed */
    EXPECT(setDescription(S("Kasse Filiale 7")), EXECUTION_OK);
    char desc[80];
    unsigned long int desc_len = 0;
    EXPECT(getDescription(3, (unsigned char *)desc, &desc_len), MEMORY_ERROR_LIMIT_TOO_LOW);
    CHECK(desc_len == 16);
    EXPECT(getDescription(sizeof desc, (unsigned char *)desc, &desc_len), EXECUTION_OK);
    CHECK(desc_len == 16 && strcmp(desc, "Kasse Filiale 7") == 0);
    EXPECT(setDescription(S("0123456789012345678901234567890123456789012345678901234567890123456789")),
           ERROR_PARAMETER_TOO_LONG);

    /* the register */
    EXPECT(registerClient(S("KASSE-01")), EXECUTION_OK);
    EXPECT(registerClient(S("KASSE-01")), ERROR_CLIENT_ALREADY_REGISTERED);
    EXPECT(registerClient(S("KASSE@01")), ERROR_INVALID_CLIENT_ID_CHARACTER);
    unsigned char clients[256];
    unsigned long int clients_len = 0;
    EXPECT(getRegisteredClients(sizeof clients, clients, &clients_len), EXECUTION_OK);
    CHECK(clients_len == 14 && clients[0] == 0x30 && clients[4] == 0x13 && memcmp(clients + 6, "KASSE-01", 8) == 0);
    unsigned long int n = 0;
    EXPECT(getCurrentNumberOfClients(&n), EXECUTION_OK);
    CHECK(n == 0);   /* the clients of open transactions: none yet */

    /* sales: one with updates, one more open at the same time */
    /* a signature buffer too small for the curve: refused before signing, with the size needed */
    unsigned long int none = 0, sn_len = 0, sig_need = 0, cnt = 0;
    unsigned char sn[32], sig[8];
    struct tm st;
    EXPECT(startTransaction(S("KASSE-01"), (const unsigned char *)"x", 1, S("Kassenbeleg-V1"), &none, &st, sizeof sn,
                            sn, &sn_len, &cnt, sizeof sig, sig, &sig_need),
           MEMORY_ERROR_LIMIT_TOO_LOW);
    CHECK(sig_need >= 64 && sig_need <= 132 && sig_need % 2 == 0);
    EXPECT(getCurrentTransactionCounter(&none), EXECUTION_OK);
    CHECK(none == 0);   /* nothing was started */
    unsigned long int t1 = start("Beleg 1", &l, EXECUTION_OK);
    CHECK(l.sig_len == sig_need);
    unsigned long int start_counter = l.counter;
    CHECK(state_of(t1) == TransactionState_started);
    UpdateProtectionVariants v;
    EXPECT(update(t1, "1 Kaffee", false, &v, &l), EXECUTION_OK);
    CHECK(v == UpdateProtectionVariants_noPrevPassedInMem && l.sig_len == 0 && l.counter == 0);
    CHECK(state_of(t1) == TransactionState_updatedWithUnprotectedData);
    EXPECT(update(t1, "1 Kuchen", true, &v, &l), EXECUTION_OK);
    CHECK(v == UpdateProtectionVariants_prevAndPassedProtected && l.counter == start_counter + 1);
    CHECK(state_of(t1) == TransactionState_updated);
    EXPECT(update(t1 + 100, "x", true, &v, &l), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    unsigned long int t2 = start("Beleg 2", &l2, EXECUTION_OK);
    CHECK(t2 == t1 + 1);
    unsigned char open[256];
    unsigned long int open_len = 0, numbers[4];
    EXPECT(getOpenTransactions(sizeof open, open, &open_len), EXECUTION_OK);
    CHECK(open_numbers(open, open_len, numbers, 4) == 2 && numbers[0] == t1 && numbers[1] == t2);
    EXPECT(getCurrentNumberOfTransactions(&n), EXECUTION_OK);
    CHECK(n == 2);
    finish(t1, "Summe 7,50", &l);
    CHECK(state_of(t1) == TransactionState_finished);

    /* closing time: lock only without open transactions */
    EXPECT(lockTransactionLogging(), ERROR_OPEN_TRANSACTION_FOUND);
    finish(t2, "Summe 2,00", &l2);
    EXPECT(getOpenTransactions(sizeof open, open, &open_len), EXECUTION_OK);
    CHECK(open_len == 2 && open[0] == 0x30 && open[1] == 0);
    EXPECT(lockTransactionLogging(), EXECUTION_OK);
    EXPECT(lockTransactionLogging(), ERROR_TRANSACTION_LOGGING_LOCKED);
    start("nach Ladenschluss", &l, ERROR_TRANSACTION_LOGGING_LOCKED);
    EXPECT(unlockTransactionLogging(), EXECUTION_OK);
    EXPECT(unlockTransactionLogging(), ERROR_TRANSACTION_LOGGING_NOT_LOCKED);
    unsigned long int t3 = start("Beleg 3", &l, EXECUTION_OK);
    finish(t3, "Summe 1,00", &l);
    unsigned long int counter = 0;
    EXPECT(getCurrentTransactionCounter(&counter), EXECUTION_OK);
    CHECK(counter == t3);

    /* the last logs with their export file names */
    char name[300];
    unsigned char msg[2048];
    unsigned long int name_len = 0, msg_len = 0;
    EXPECT(getLastTransactionLogMessage(sizeof name, (unsigned char *)name, &name_len, sizeof msg, msg, &msg_len),
           EXECUTION_OK);
    char want[128];
    snprintf(want, sizeof want, "_Log-Tra_No-%lu_Finish_Client-KASSE-01.log", t3);
    CHECK(strstr(name, want) != NULL && msg[0] == 0x30 && msg_len > 100);
    EXPECT(getLastTransactionLogMessageTransactionNumber(t1, sizeof name, (unsigned char *)name, &name_len, 10, msg,
                                                         &msg_len),
           MEMORY_ERROR_LIMIT_TOO_LOW);
    CHECK(msg_len > 100);
    EXPECT(getLastTransactionLogMessageTransactionNumber(t1, sizeof name, (unsigned char *)name, &name_len,
                                                         sizeof msg, msg, &msg_len),
           EXECUTION_OK);
    snprintf(want, sizeof want, "_Log-Tra_No-%lu_Finish_Client-KASSE-01.log", t1);
    CHECK(strstr(name, want) != NULL);
    EXPECT(getLastTransactionLogMessageTransactionNumber(t3 + 50, sizeof name, (unsigned char *)name, &name_len,
                                                         sizeof msg, msg, &msg_len),
           ERROR_NO_LOG_MESSAGE_FOUND);
    EXPECT(getLastLogMessage(sizeof name, (unsigned char *)name, &name_len, sizeof msg, msg, &msg_len), EXECUTION_OK);
    CHECK(strstr(name, "_Log-") != NULL && name_len == strlen(name) + 1);

    /* the exports, in chunks */
    char export_name[128] = "", cert_name[128] = "";
    export_all(1, argv[4], export_name, 1000);
    CHECK(strncmp(export_name, "Export_", 7) == 0 && strstr(export_name, ".tar") != NULL);
    export_all(3, argv[5], cert_name, 4096);
    CHECK(strncmp(cert_name, "CertificateExport_", 18) == 0);
    /* the exported logs may be deleted, and come back from the archive */
    FILE *ef = fopen(argv[4], "rb");
    static unsigned char archive[4 << 20];
    size_t archive_len = ef ? fread(archive, 1, sizeof archive, ef) : 0;
    if (ef)
        fclose(ef);
    CHECK(archive_len > 1024 && archive_len < sizeof archive);
    EXPECT(deleteLogMessages(), EXECUTION_OK);
    EXPECT(getLastLogMessage(sizeof name, (unsigned char *)name, &name_len, sizeof msg, msg, &msg_len), EXECUTION_OK);
    CHECK(strstr(name, "_Log-Sys_deleteLogMessages.log") != NULL);
    EXPECT(getLastTransactionLogMessageTransactionNumber(t1, sizeof name, (unsigned char *)name, &name_len,
                                                         sizeof msg, msg, &msg_len),
           ERROR_NO_LOG_MESSAGE_FOUND);
    EXPECT(restoreLogsFromBackup(archive, archive_len), EXECUTION_OK);
    EXPECT(getLastTransactionLogMessageTransactionNumber(t1, sizeof name, (unsigned char *)name, &name_len,
                                                         sizeof msg, msg, &msg_len),
           EXECUTION_OK);
    EXPECT(restoreLogsFromBackup(archive, 100), ERROR_RESTORE_FAILED);
    unsigned char part[100000];
    unsigned long long int part_len = 0;
    unsigned long int fn_len = 0;
    EXPECT(exportFilteredTransactionLogs(NULL, 0, t1, 0, 0, NULL, NULL, 0, 0, sizeof part, part, &part_len, 128,
                                         (unsigned char *)export_name, &fn_len),
           EXECUTION_OK);
    CHECK(part_len > 1024 && part_len < sizeof part);
    EXPECT(exportFilteredTransactionLogs(NULL, 0, t1, 0, 0, &utc, NULL, 0, 0, sizeof part, part, &part_len, 128,
                                         (unsigned char *)export_name, &fn_len),
           ERROR_PARAMETER_MISMATCH);
    EXPECT(exportFilteredTransactionLogs(NULL, 0, 9999, 0, 0, NULL, NULL, 0, 0, sizeof part, part, &part_len, 128,
                                         (unsigned char *)export_name, &fn_len),
           ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    EXPECT(exportFilteredTransactionLogs(S("KASSE-01"), 0, t1, t3, NULL, NULL, 2, 0, sizeof part, part, &part_len,
                                         128, (unsigned char *)export_name, &fn_len),
           ERROR_TOO_MANY_RECORDS);

    /* what the device says about itself */
    unsigned long int total = 0, used = 0, free_mem = 0;
    EXPECT(getTotalMemory(&total), EXECUTION_OK);
    EXPECT(getUsedMemory(&used), EXECUTION_OK);
    EXPECT(getFreeMemory(&free_mem), EXECUTION_OK);
    /* three calls: the file system's free space may move in between */
    CHECK(used > 4096 && free_mem > 0 && total > used);
    unsigned char der[1024];
    unsigned long int der_len = 0;
    EXPECT(getDeviceHealth(sizeof der, der, &der_len), EXECUTION_OK);
    CHECK(der_len > 10 && der[0] == 0x30 && memmem(der, der_len, "storage", 7) != NULL);
    EXPECT(getComponentVersions(4, der, &der_len), MEMORY_ERROR_LIMIT_TOO_LOW);
    EXPECT(getComponentVersions(sizeof der, der, &der_len), EXECUTION_OK);
    CHECK(der[0] == 0x30 && memmem(der, der_len, "SMAERS", 6) != NULL);
    EXPECT(getCurrentLoggingSignatureCounters(sizeof der, der, &der_len), EXECUTION_OK);
    CHECK(der[0] == 0x30 && der[4] == 0x04 && der[5] == 32);
    EXPECT(exportSerialNumbers(sizeof der, der, &der_len), EXECUTION_OK);
    CHECK(der[0] == 0x30 && der_len == 49);
    struct tm end;
    EXPECT(getEndOfUsageDate(&end), EXECUTION_OK);
    CHECK(timegm(&end) > now);
    SyncVariants sv;
    EXPECT(getTimeSyncVariant(&sv), EXECUTION_OK);
    CHECK(sv == SyncVariants_manualSync || sv == SyncVariants_automaticAndManualSync);
    UpdateVariants uv;
    EXPECT(getSupportedTransactionUpdateVariants(&uv), EXECUTION_OK);
    CHECK(uv == UpdateVariants_alwaysSignedAndAggregating);
    EXPECT(getMaxNumberOfClients(&n), EXECUTION_OK);
    CHECK(n >= 1);
    EXPECT(getMaxNumberOfTransactions(&n), EXECUTION_OK);
    CHECK(n >= 2);
    EXPECT(selfTest(sizeof der, der, &der_len), EXECUTION_OK);
    CHECK(der[0] == 0x30 && memmem(der, der_len, "CSP", 3) != NULL);
    EXPECT(configureLogging(S("SMA"), S("selfTest"), false), ERROR_LOGGING_OF_EVENT_NOT_CONFIGURABLE);
    EXPECT(updateDevice((const unsigned char *)"x", 1), ERROR_UPDATE_DEVICE_FAILED);   /* not a signed package */
    EXPECT(updateDevice(NULL, 0), ERROR_PARAMETER_SYNTAX);
    /* the signed package is applied: getComponentVersions names its version */
    unsigned char pkg[8192];
    FILE *pf = fopen(argv[6], "rb");
    size_t pkg_len = pf ? fread(pkg, 1, sizeof pkg, pf) : 0;
    if (pf)
        fclose(pf);
    CHECK(pkg_len > 0);
    EXPECT(updateDevice(pkg, pkg_len), EXECUTION_OK);
    EXPECT(getComponentVersions(sizeof der, der, &der_len), EXECUTION_OK);
    CHECK(memmem(der, der_len, "0.1.1-day", 9) != NULL);
    pkg[30] ^= 1;   /* a byte of the manifest's component line changed: refused */
    EXPECT(updateDevice(pkg, pkg_len), ERROR_UPDATE_DEVICE_FAILED);

    /* the evening: log out; the admin's functions are refused then */
    EXPECT(logOut(S("admin")), EXECUTION_OK);
    EXPECT(lockTransactionLogging(), ERROR_USER_NOT_AUTHENTICATED);
    EXPECT(logOut(S("admin")), ERROR_USER_NOT_AUTHENTICATED);
    EXPECT(seApiClose(), EXECUTION_OK);
    EXPECT(getCurrentTransactionCounter(&counter), ERROR_SE_API_NOT_BOUND);
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    else
        printf("a register's day: ok (%lu transactions)\n", t3);
    return failures ? 1 : 0;
}
