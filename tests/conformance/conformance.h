/*
 * conformance.h - what the test cases of the BSI's test specification
 * TR-03153-1-TS v1.1.1 share (docs/conformance.md maps every test case id
 * to its test). Each test case is a function named after its id, written
 * against <opentse/se_api.h> (the TR-03151-2 ANSI C mapping) on a new TSE
 * of the transport under test ("file" or "http", a real opentsed); what a
 * call wrote is read back through the SE API itself (getLastLogMessage,
 * exportLogMessages, exportLoggingCertificates), parsed as an auditor
 * would, and every signature is checked with the openssl command line.
 */
#ifndef OPENTSE_TEST_CONFORMANCE_H
#define OPENTSE_TEST_CONFORMANCE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <opentse/se_api.h>

#include "codec/logmsg.h"
#include "opentse/opentse.h"

/* A string input of the mapping: the bytes and strlen + 1. */
#define S(x) (const unsigned char *)(x), (unsigned long int)strlen(x) + 1

/* The TSE under test: its URL, PUK and what the tse_* API told of it when
 * it was created (key, curve, serial number). */
typedef struct cf_tse {
    char *url;
    char puk[TSE_PUK_LEN + 1];
    tse_info info;
    uint8_t *point;
    size_t point_len;
} cf_tse;
extern cf_tse cf;

/* How far cf_fresh prepares a new TSE. */
typedef enum cf_stage {
    CF_CREATED,      /* bound, no PIN set */
    CF_ADMIN,        /* the admin's PIN set with the PUK, admin logged in */
    CF_INITIALIZED,  /* and initialized (the time is set) */
    CF_READY,        /* and client CF_CLIENT registered */
} cf_stage;
#define CF_PIN "123456"
#define CF_TIME_PIN "246802"
#define CF_LOGGER_PIN "975310"
#define CF_CLIENT "KASSE-01"
#define CF_TYPE "Kassenbeleg-V1"

/* The private update key (PEM) whose public half OPENTSE_UPDATE_KEY names,
 * made before opentsed starts; packages signed with it apply. */
extern char *cf_update_key;

/* A new TSE, bound with seApiOpen and prepared up to `stage`. */
void cf_fresh(cf_stage stage);
/* The same, for a file: TSE created with these options (limits, session
 * timeout, manufacturer's description; trust_system_clock -1: the time is
 * unset until updateTime; NULL: the defaults, either transport). */
void cf_fresh_file(cf_stage stage, const tse_create_options *opts);
/* The same in directory `dir` (NULL: the test's own; a file: TSE, options
 * NULL: the defaults), e.g. on a file system the test fills. */
void cf_fresh_at(const char *dir, cf_stage stage, const tse_create_options *opts);
/* Asserts that `got` is `want`, naming the call and
 * getLastFunctionCallStatus's text. */
void cf_expect(short int got, short int want, const char *what, const char *file, int line);
#define EXPECT(call, want) cf_expect((call), (want), #call, __FILE__, __LINE__)
#define OK(call) EXPECT(call, EXECUTION_OK)

/* The time admin's PIN set (the admin logged in) and the time admin logged in. */
void cf_time_admin(void);
/* The logger's PIN set with the PUK and the logger logged in: from now on
 * transactions need it logged in (TR-03153-1 v1.1.1 table 9). */
void cf_logger(void);

/* A log read back: its file name, its bytes and the parsed message. */
typedef struct cf_log {
    char name[300];
    uint8_t der[8192];
    unsigned long int len;
    logmsg m;
} cf_log;
/* getLastLogMessage: parsed, its name checked against its content, its
 * signature checked by openssl against the TSE's key. */
void cf_last_log(cf_log *l);
/* The last log is a system log of `event` triggered by `user` (NULL: not checked). */
void cf_expect_system_log(const char *event, const char *user);
/* The signature counter now (getCurrentLoggingSignatureCounters). */
unsigned long int cf_signature_counter(void);

/* Transactions of CF_CLIENT with process type CF_TYPE; 0 on failure of `want`. */
typedef struct cf_signed {
    struct tm time;
    unsigned char sig[200];
    unsigned long int sig_len, counter;
    unsigned char serial[64];
    unsigned long int serial_len;
} cf_signed;
unsigned long int cf_start(const char *client, const char *type, const char *pd, cf_signed *s, short int want);
short int cf_update(const char *client, unsigned long int n, const char *type, const char *pd, bool force,
                    UpdateProtectionVariants *v, cf_signed *s);
short int cf_finish(const char *client, unsigned long int n, const char *type, const char *pd,
                    FinishProtectionVariants *v, cf_signed *first, cf_signed *second);
/* A whole transaction (start, finish); its number. */
unsigned long int cf_sale(const char *client, const char *pd);

/* An archive read into memory: its entries, name and the parsed logs. */
typedef struct cf_archive {
    char name[256];
    struct cf_entry {
        char path[256];
        uint8_t *data;
        size_t len;
        logmsg m;        /* for *.log */
        bool is_log;
    } *e;
    size_t n, logs;
    char file[512];      /* where it was written */
} cf_archive;
/* exportLogMessages (kind 0), exportLoggingCertificates (1) or
 * exportFilteredTransactionLogs with the given filters (kind 2), read in
 * chunks into a file; the code of the first call; on EXECUTION_OK the
 * archive is read back and every log parsed, its name and signature checked. */
typedef struct cf_filter {
    const char *client;
    unsigned long int number, first, last;
    const struct tm *start, *end;
    long int max;
} cf_filter;
short int cf_export(int kind, const cf_filter *f, cf_archive *a);
void cf_archive_free(cf_archive *a);
/* The whole archive also passes the export tests' auditor checks (ustar
 * bytes, info.csv with the TSE's description now, certificate chain,
 * openssl for every log, our verifier). */
void cf_audit_archive(const cf_archive *a);
/* getDescription into out; while the admin is not logged in, whose
 * function it is (TR-03153-1 table 9), the description the TSE holds. */
void cf_description(char *out, size_t cap);
/* Counts the logs in `a` of kind k (0: any) and operation/eventType op (NULL: any). */
size_t cf_count(const cf_archive *a, logmsg_kind k, const char *op);
/* The entry named `path`, or NULL. */
const struct cf_entry *cf_entry(const cf_archive *a, const char *path);

/* The cases that need a TSE created with options only a file: TSE takes
 * (opentsed's TSSs follow the server's configuration); each is one
 * function of that group's file, listed here. */
void T_II_LGO_02(void **state);
void T_II_STA_03(void **state);
void T_II_GOT_03(void **state);
void T_II_CNT_04(void **state);
void T_II_REC_03(void **state);
void T_II_GRC_02(void **state);
void T_II_CNC_04(void **state);
void T_II_MCU_03(void **state);
void T_II_GDE_02(void **state);
void T_EXP_INF_03(void **state);
void T_EXP_INF_06(void **state);
void T_II_ERR_02(void **state);
void T_SM_LOG_04(void **state);
void T_SM_LOG_05(void **state);
void T_SM_LOG_06(void **state);
extern const struct CMUnitTest cf_file_only[];
extern const size_t cf_file_only_n;

/* A transaction log's processData (an OCTET STRING, tag 0x04) into buf; its length. */
size_t cf_process_data(const logmsg *m, uint8_t *buf, size_t cap);

/* A DER element: tag and content; false if malformed or not definite DER. */
bool cf_der(const uint8_t *p, size_t n, size_t *hdr, size_t *len);

/* The test groups (conformance_<group>.c). */
extern const struct CMUnitTest cf_users[], cf_device[], cf_time[], cf_logging[], cf_clients[],
    cf_transactions[], cf_filtered[], cf_export_format[], cf_interface[], cf_faults[];
extern const size_t cf_users_n, cf_device_n, cf_time_n, cf_logging_n, cf_clients_n, cf_transactions_n,
    cf_filtered_n, cf_export_format_n, cf_interface_n, cf_faults_n;
extern const struct CMUnitTest cf_phases[];
extern const size_t cf_phases_n;

#endif
