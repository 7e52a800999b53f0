/*
 * se_api.c - <opentse/se_api.h>: the SE API of TR-03151-1 v1.1.1 in the
 * ANSI C mapping of TR-03151-2, on the tse_* API. One current TSE per
 * process (seApiOpen); each function converts its arguments (strings with
 * their length, struct tm in UTC), calls the tse_* function, maps its
 * tse_err to the ERROR_ code of the TR's exception, and writes the outputs
 * within their limits. The read functions first check TR-03153-1 v1.1.1
 * table 9 (table9 below) against the user logged in now; the engine checks
 * the roles of the others. The status of the last call of each thread, with
 * its additional information, is kept for getLastFunctionCallStatus.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/der.h"
#include "codec/logmsg.h"
#include "engine/engine.h"
#include "opentse/opentse.h"
#include "opentse/se_api.h"

static pthread_rwlock_t bind_lock = PTHREAD_RWLOCK_INITIALIZER;
static tse *current;
static _Atomic size_t current_sig_len;   /* the bound TSE's signature size, 0 until known */

static _Thread_local short int last_status;
static _Thread_local char last_data[TSE_ERROR_MSGLEN + 64];

/* Ends a call: its status and additional information for this thread. */
static short int done(short int status, const char *data)
{
    last_status = status;
    snprintf(last_data, sizeof last_data, "%s", status == EXECUTION_OK || !data ? "" : data);
    return status;
}

/* What a function's generic codes mean for it (mapping overrides). */
typedef enum fn {
    FN_OTHER, FN_AUTH, FN_UNBLOCK, FN_INIT, FN_REGISTER, FN_DEREGISTER, FN_START, FN_UPDATE, FN_FINISH,
    FN_EXPORT, FN_SIGNING,
    FN_KEEP,      /* updateTransaction whose data is kept, not logged */
    FN_RESTORE,   /* restoreLogsFromBackup */
    FN_DELETE,    /* deleteLogMessages: never ErrorStorageMemoryFull (TR-03151-1 3.1.2.12) */
} fn;

/* Below this much free space on the store's medium a refused write is
 * ErrorStorageMemoryFull (TR-03151-1 3.1.2.12: "dangerously close"). */
#define STORAGE_NEARLY_FULL (1024 * 1024)

/* Whether the bound TSE's store has (nearly) no space left; asked on the
 * failure path of a write only, with the binding held. */
static bool storage_full(void)
{
    uint64_t free_bytes = 0;
    return current && tse_get_free_memory(current, &free_bytes) == TSE_OK && free_bytes < STORAGE_NEARLY_FULL;
}

/* What a store that refused the write of `f` means for it. */
static short int store_failed(fn f)
{
    if (f == FN_EXPORT)
        return ERROR_STORAGE_MEDIUM_DISCONNECTED;
    if (f == FN_OTHER)
        return ERROR_FUNCTION_FAILED;
    if (f == FN_DELETE)
        return ERROR_DELETE_LOG_MESSAGES_FAILED;
    if (storage_full())
        return ERROR_STORAGE_MEMORY_FULL;
    return f == FN_RESTORE ? ERROR_RESTORE_FAILED
           : f == FN_KEEP  ? ERROR_UPDATE_TRANSACTION_FAILED
                           : ERROR_STORING_LOG_MESSAGE_FAILED;
}

static short int code_of(tse_err rc, fn f)
{
    switch (rc) {
    case TSE_OK: return EXECUTION_OK;
    case TSE_ERR_AUTHENTICATION_FAILED: return ERROR_INCORRECT_PIN;
    case TSE_ERR_UNBLOCK_FAILED: return ERROR_INCORRECT_PUK;
    case TSE_ERR_PIN_BLOCKED: return f == FN_UNBLOCK ? ERROR_PUK_TEMPORARILY_BLOCKED : ERROR_PIN_BLOCKED;
    case TSE_ERR_RETRIEVE_LOG_MESSAGE_FAILED: return ERROR_RETRIEVE_LOG_MESSAGE_FAILED;
    case TSE_ERR_STORAGE_FAILURE: return store_failed(f);
    case TSE_ERR_UPDATE_TIME_FAILED: return ERROR_UPDATE_TIME_FAILED;
    case TSE_ERR_PARAMETER_MISMATCH: return ERROR_PARAMETER_MISMATCH;
    case TSE_ERR_ID_NOT_FOUND: return f == FN_DEREGISTER ? ERROR_CLIENT_NOT_REGISTERED : ERROR_CLIENT_ID_NOT_FOUND;
    case TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND:
    case TSE_ERR_NO_TRANSACTION: return ERROR_TRANSACTION_NUMBER_NOT_FOUND;
    case TSE_ERR_NO_DATA_AVAILABLE: return ERROR_NO_DATA_AVAILABLE;
    case TSE_ERR_TOO_MANY_RECORDS: return ERROR_TOO_MANY_RECORDS;
    case TSE_ERR_START_TRANSACTION_FAILED: return ERROR_START_TRANSACTION_FAILED;
    case TSE_ERR_UPDATE_TRANSACTION_FAILED: return ERROR_UPDATE_TRANSACTION_FAILED;
    case TSE_ERR_FINISH_TRANSACTION_FAILED: return ERROR_FINISH_TRANSACTION_FAILED;
    case TSE_ERR_RESTORE_FAILED: return ERROR_RESTORE_FAILED;
    case TSE_ERR_STORING_INIT_DATA_FAILED: return ERROR_DEVICE_INITIALIZATION_FAILED;
    case TSE_ERR_EXPORT_CERT_FAILED: return ERROR_EXPORT_LOGGING_CERTIFICATE_FAILED;
    case TSE_ERR_NO_LOG_MESSAGE: return ERROR_NO_LOG_MESSAGE_FOUND;
    case TSE_ERR_READING_LOG_MESSAGE: return ERROR_READING_LOG_MESSAGE;
    case TSE_ERR_SE_API_NOT_INITIALIZED: return ERROR_DEVICE_NOT_INITIALIZED;
    case TSE_ERR_TIME_NOT_SET: return ERROR_TIME_NOT_SET;
    case TSE_ERR_CERTIFICATE_EXPIRED: return ERROR_CERTIFICATE_EXPIRED;
    case TSE_ERR_SECURE_ELEMENT_DISABLED: return ERROR_SECURE_ELEMENT_DISABLED;
    case TSE_ERR_USER_NOT_AUTHORIZED: return ERROR_USER_NOT_AUTHORIZED;
    case TSE_ERR_USER_NOT_AUTHENTICATED:
    case TSE_ERR_USER_ID_NOT_AUTHENTICATED: return ERROR_USER_NOT_AUTHENTICATED;
    case TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER:
    case TSE_ERR_DESCRIPTION_SET_BY_MANUFACTURER: return ERROR_DEVICE_INITIALIZATION_FAILED;
    case TSE_ERR_EXPORT_SERIAL_NUMBERS_FAILED: return ERROR_EXPORT_SERIAL_NUMBERS_FAILED;
    case TSE_ERR_GET_MAX_NUMBER_OF_CLIENTS_FAILED: return ERROR_GET_MAX_NUMBER_OF_CLIENTS_FAILED;
    case TSE_ERR_GET_CURRENT_NUMBER_OF_CLIENTS_FAILED: return ERROR_GET_CURRENT_NUMBER_OF_CLIENTS_FAILED;
    case TSE_ERR_GET_MAX_NUMBER_TRANSACTIONS_FAILED: return ERROR_GET_MAX_NUMBER_TRANSACTIONS_FAILED;
    case TSE_ERR_GET_CURRENT_NUMBER_OF_TRANSACTIONS_FAILED: return ERROR_GET_CURRENT_NUMBER_OF_TRANSACTIONS_FAILED;
    case TSE_ERR_GET_SUPPORTED_UPDATE_VARIANTS_FAILED: return ERROR_GET_SUPPORTED_UPDATE_VARIANTS_FAILED;
    case TSE_ERR_DELETE_STORED_DATA_FAILED: return ERROR_DELETE_LOG_MESSAGES_FAILED;
    case TSE_ERR_UNEXPORTED_STORED_DATA: return ERROR_UNEXPORTED_LOG_MESSAGES;
    case TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED: return ERROR_SIGNING_EVENT_DATA_FAILED;
    case TSE_ERR_USER_ID_NOT_MANAGED: return ERROR_UNKNOWN_USER_ID;
    case TSE_ERR_DISABLE_SECURE_ELEMENT_FAILED: return ERROR_DISABLE_SECURE_ELEMENT_FAILED;
    case TSE_ERR_INVALID_TIME: return ERROR_INVALID_TIME;
    case TSE_ERR_INVALID_ARGUMENT:
        return f == FN_REGISTER || f == FN_DEREGISTER ? ERROR_INVALID_CLIENT_ID_CHARACTER : ERROR_PARAMETER_SYNTAX;
    case TSE_ERR_TOO_LARGE: return ERROR_PARAMETER_TOO_LONG;
    case TSE_ERR_SELF_TEST_FAILED: return ERROR_SELF_TEST_FAILED;
    case TSE_ERR_WRONG_STATE:
        return f == FN_INIT ? ERROR_DEVICE_IS_INITIALIZED
               : f == FN_DEREGISTER ? ERROR_OPEN_TRANSACTION_FOUND : ERROR_FUNCTION_FAILED;
    case TSE_ERR_CLIENT_NOT_REGISTERED: return ERROR_CLIENT_NOT_REGISTERED;
    case TSE_ERR_TOO_MANY_CLIENTS: return ERROR_CLIENT_LIMIT_REACHED;
    case TSE_ERR_TOO_MANY_TRANSACTIONS: return ERROR_LIMIT_OF_SIMULTANEOUS_OPEN_TRANSACTIONS_REACHED;
    case TSE_ERR_ALREADY_EXISTS: return f == FN_REGISTER ? ERROR_CLIENT_ALREADY_REGISTERED : ERROR_FUNCTION_FAILED;
    case TSE_ERR_KEY_UNAVAILABLE:
    case TSE_ERR_STORE_IN_USE:
    case TSE_ERR_UNREACHABLE: return ERROR_SECURE_ELEMENT_PARTS_DISCONNECTED;
    case TSE_ERR_NOT_SUPPORTED: return ERROR_FUNCTION_NOT_SUPPORTED;
    case TSE_ERR_TRANSACTION_LOGGING_LOCKED: return ERROR_TRANSACTION_LOGGING_LOCKED;
    case TSE_ERR_TRANSACTION_LOGGING_NOT_LOCKED: return ERROR_TRANSACTION_LOGGING_NOT_LOCKED;
    case TSE_ERR_OPEN_TRANSACTION_FOUND: return ERROR_OPEN_TRANSACTION_FOUND;
    case TSE_ERR_LOGGING_OF_EVENT_NOT_CONFIGURABLE: return ERROR_LOGGING_OF_EVENT_NOT_CONFIGURABLE;
    case TSE_ERR_UPDATE_DEVICE_FAILED: return ERROR_UPDATE_DEVICE_FAILED;
    default: return ERROR_FUNCTION_FAILED;
    }
}

/* Ends a call with the result of a tse_* call. */
static short int result(tse_err rc, fn f)
{
    char why[TSE_ERROR_MSGLEN + 64];   /* code_of may ask the TSE more */
    snprintf(why, sizeof why, "%s", rc ? tse_last_error_message() : "");
    return done(code_of(rc, f), rc ? why : NULL);
}

/* Whether `client` is registered (false also when the list cannot be read). */
static bool registered(tse *t, const char *client)
{
    char **ids = NULL;
    size_t n = 0;
    bool found = false;
    if (tse_list_clients(t, &ids, &n) == TSE_OK)
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(ids[i], client) == 0;
    tse_free_strings(ids, n);
    return found;
}

/* A failed client or transaction call gives the exception of the first
 * check of TR-03151-1 that fails, whatever the transport checked first:
 * ErrorDeviceNotInitialized, ErrorSecureElementDisabled, then for
 * transactions ErrorTransactionLoggingLocked and ErrorClientNotRegistered
 * before an unknown number. The state is read on the failure path only. */
static short int result_of(tse *t, tse_err rc, fn f, const char *client)
{
    if (!rc || rc == TSE_ERR_UNREACHABLE)
        return result(rc, f);
    char why[TSE_ERROR_MSGLEN];
    snprintf(why, sizeof why, "%s", tse_last_error_message());
    short int code = code_of(rc, f);
    tse_info info;
    tse_device_info d;
    if (tse_get_info(t, &info) == TSE_OK) {
        if (info.state == TSE_STATE_CREATED || info.state == TSE_STATE_UNINITIALIZED)
            return done(ERROR_DEVICE_NOT_INITIALIZED, "the TSE is not initialized");
        if (info.state == TSE_STATE_DISABLED)
            return done(ERROR_SECURE_ELEMENT_DISABLED, "the secure element was disabled");
    }
    bool tx = f == FN_START || f == FN_UPDATE || f == FN_FINISH || f == FN_KEEP;
    if (tx && code != ERROR_TRANSACTION_LOGGING_LOCKED && tse_get_device_info(t, &d) == TSE_OK &&
        d.transaction_logging_locked)
        return done(ERROR_TRANSACTION_LOGGING_LOCKED, "transaction logging is locked");
    if (tx && code == ERROR_TRANSACTION_NUMBER_NOT_FOUND && client && !registered(t, client))
        return done(ERROR_CLIENT_NOT_REGISTERED, "the client is not registered");
    return done(code, why);
}

/* After a function of TR-03151-1 that signed a system log succeeded
 * (status EXECUTION_OK): ErrorCertificateExpired when the certificate of
 * the key that signed it has expired; the log is stored (3.1.2.4,
 * TR-03153-1-TS II_ERR_04). Transactions get it from the engine itself. */
static short int signed_status(tse *t, short int status)
{
    int64_t not_after = 0;
    if (status != EXECUTION_OK || tse_certificate_expiry(t, &not_after, NULL) != TSE_OK || !not_after ||
        not_after >= (int64_t)time(NULL))
        return status;
    char why[128];
    snprintf(why, sizeof why, "the certificate expired at %lld; the log was stored", (long long)not_after);
    return done(ERROR_CERTIFICATE_EXPIRED, why);
}

/* Holds the binding for a call (read lock); ERROR_SE_API_NOT_BOUND if none. */
static short int enter(tse **t)
{
    pthread_rwlock_rdlock(&bind_lock);
    *t = current;
    if (current)
        return EXECUTION_OK;
    pthread_rwlock_unlock(&bind_lock);
    return done(ERROR_SE_API_NOT_BOUND, "no TSE is bound: call seApiOpen first");
}

static short int leave(short int status)
{
    pthread_rwlock_unlock(&bind_lock);
    return status;
}

/* The roles of TR-03153-1 v1.1.1 5.3.1.1, as bits of table 9's columns. */
enum { R_UNAUTHENTICATED = 1, R_LOGGER = 2, R_ADMIN = 4, R_TIMEADMIN = 8 };
#define R_ALL (R_UNAUTHENTICATED | R_LOGGER | R_ADMIN | R_TIMEADMIN)
#define R_NOT_TIMEADMIN (R_UNAUTHENTICATED | R_LOGGER | R_ADMIN)

/* Table 9 for the functions that only read: who may call each. The others
 * change the TSE, and the engine checks their roles on either transport. */
static const struct {
    const char *fn;
    unsigned char who;
} table9[] = {
    {"getDescription", R_ADMIN},
    {"getTotalMemory", R_ALL},
    {"getUsedMemory", R_ALL},
    {"getFreeMemory", R_ALL},
    {"getDeviceHealth", R_ALL},
    {"getComponentVersions", R_ALL},
    {"getEndOfUsageDate", R_ALL},
    {"getTimeSyncVariant", R_ALL},
    {"getCurrentSeTime", R_ALL},
    {"exportLogMessages", R_NOT_TIMEADMIN},
    {"exportLoggingCertificates", R_NOT_TIMEADMIN},
    {"exportSerialNumbers", R_NOT_TIMEADMIN},
    {"getCurrentLoggingSignatureCounters", R_NOT_TIMEADMIN},
    {"getLastLogMessage", R_NOT_TIMEADMIN},
    {"getLastTransactionLogMessage", R_NOT_TIMEADMIN},
    {"getLastTransactionLogMessageTransactionNumber", R_NOT_TIMEADMIN},
    {"exportFilteredTransactionLogs", R_NOT_TIMEADMIN},
    {"getSupportedTransactionUpdateVariants", R_NOT_TIMEADMIN},
    {"getCurrentNumberOfClients", R_NOT_TIMEADMIN},
    {"getMaxNumberOfClients", R_NOT_TIMEADMIN},
    {"getRegisteredClients", R_NOT_TIMEADMIN},
    {"getCurrentNumberOfTransactions", R_NOT_TIMEADMIN},
    {"getMaxNumberOfTransactions", R_NOT_TIMEADMIN},
    {"getTransactionState", R_NOT_TIMEADMIN},
    {"getOpenTransactions", R_NOT_TIMEADMIN},
    {"getCurrentTransactionCounter", R_NOT_TIMEADMIN},
};

/* Whether the user logged in now may call read function `fn` (table 9,
 * steps 1 and 2 of each function's detailed description): EXECUTION_OK,
 * or ERROR_USER_NOT_AUTHENTICATED / ERROR_USER_NOT_AUTHORIZED. A function
 * open to every user asks nobody. */
static short int may_call(tse *t, const char *fn)
{
    unsigned who = 0;
    for (size_t i = 0; i < sizeof table9 / sizeof table9[0] && !who; i++)
        if (!strcmp(table9[i].fn, fn))
            who = table9[i].who;
    if (who == R_ALL)
        return EXECUTION_OK;
    char user[TSE_USER_ID_BUF];
    tse_err rc = who ? tse_logged_in_user(t, user) : engine_fail(TSE_ERR_INTERNAL, "%s has no roles", fn);
    if (rc)
        return result(rc, FN_OTHER);
    unsigned role = !strcmp(user, TSE_USER_ADMIN)        ? R_ADMIN
                    : !strcmp(user, TSE_USER_TIME_ADMIN) ? R_TIMEADMIN
                    : !strcmp(user, TSE_USER_LOGGER)     ? R_LOGGER
                                                         : R_UNAUTHENTICATED;
    if (who & role)
        return EXECUTION_OK;
    char why[160];
    if (role == R_UNAUTHENTICATED) {
        snprintf(why, sizeof why, "log in as %s first (%s, TR-03153-1 table 9)",
                 who & R_ADMIN ? TSE_USER_ADMIN : who & R_LOGGER ? TSE_USER_LOGGER : TSE_USER_TIME_ADMIN, fn);
        return done(ERROR_USER_NOT_AUTHENTICATED, why);
    }
    snprintf(why, sizeof why, "%s may not call %s (TR-03153-1 table 9)", user, fn);
    return done(ERROR_USER_NOT_AUTHORIZED, why);
}

/* enter() for read function `fn`, refused unless table 9 lets the user
 * logged in call it. */
static short int enter_as(const char *fn, tse **t)
{
    if (enter(t))
        return last_status;
    short int s = may_call(*t, fn);
    return s ? leave(s) : EXECUTION_OK;
}

/* enter_as() for a read function with one output, which must not be NULL. */
static short int enter_out(const char *fn, const void *out, tse **t)
{
    return out ? enter_as(fn, t) : done(ERROR_PARAMETER_SYNTAX, "the output is NULL");
}

short int seApiOpen(const char *url, const char *masterKeyPath, const char *apiKey, const char *apiSecret)
{
    if (!url)
        return done(ERROR_PARAMETER_SYNTAX, "url is required");
    tse_open_options o = {.master_key_path = masterKeyPath, .api_key = apiKey, .api_secret = apiSecret};
    tse *t = NULL;
    tse_err rc = tse_open(url, &o, &t);
    if (rc)
        return done(ERROR_SE_API_NOT_BOUND, tse_last_error_message());
    pthread_rwlock_wrlock(&bind_lock);
    tse *old = current;
    current = t;
    current_sig_len = 0;
    pthread_rwlock_unlock(&bind_lock);
    tse_close(old);
    return done(EXECUTION_OK, NULL);
}

short int seApiClose(void)
{
    pthread_rwlock_wrlock(&bind_lock);
    tse *old = current;
    current = NULL;
    pthread_rwlock_unlock(&bind_lock);
    tse_close(old);
    return done(EXECUTION_OK, NULL);
}

/* A function without parameters that signs a system log: op on the bound TSE. */
static short int no_args(tse_err (*op)(tse *), fn f)
{
    tse *t;
    if (enter(&t))
        return last_status;
    return leave(signed_status(t, result(op(t), f)));
}

/* ------------------------------------------------------------ helpers */

/* A text input of `len` bytes (its NUL counted, or not) as a C string in
 * buf (cap bytes); NULL with len 0 gives NULL when `optional`. False for a
 * NULL that is required, an inner NUL, or a text longer than cap - 1. */
static _Thread_local bool text_too_long;   /* why the last text_in refused: its length */

static bool text_in(const unsigned char *p, unsigned long int len, bool optional, char *buf, size_t cap,
                    const char **out)
{
    *out = NULL;
    text_too_long = false;
    if (!p)
        return optional && len == 0;
    size_t n = len && p[len - 1] == 0 ? len - 1 : len;
    text_too_long = n >= cap && !memchr(p, 0, n);
    if (memchr(p, 0, n) || n >= cap)
        return false;
    memcpy(buf, p, n);
    buf[n] = 0;
    *out = buf;
    return true;
}

static short int bad_text(const char *name)
{
    char m[160];
    if (text_too_long) {
        snprintf(m, sizeof m, "%s is longer than its maximum", name);
        return done(ERROR_PARAMETER_TOO_LONG, m);
    }
    snprintf(m, sizeof m, "%s must be a text of its length (NUL counted) without inner NUL and not too long", name);
    return done(ERROR_PARAMETER_SYNTAX, m);
}

/* Whether n bytes fit an output of `limit`; if not, *length = n. */
static bool fits(size_t n, unsigned long long int limit, unsigned long int *length)
{
    if (n <= limit)
        return true;
    if (length)
        *length = (unsigned long int)n;
    return false;
}

static short int too_low(const char *name, size_t n)
{
    char m[160];
    snprintf(m, sizeof m, "%s needs %zu bytes", name, n);
    return done(MEMORY_ERROR_LIMIT_TOO_LOW, m);
}

/* Writes n bytes of an output array (its limit checked before). */
static void put(const void *data, size_t n, unsigned char *buf, unsigned long int *length)
{
    if (n)
        memcpy(buf, data, n);
    *length = (unsigned long int)n;
}

/* One output array: MEMORY_ERROR_LIMIT_TOO_LOW or EXECUTION_OK. */
static short int out_bytes(const char *name, const void *data, size_t n, unsigned long int limit, unsigned char *buf,
                           unsigned long int *length)
{
    if (!length || (!buf && limit))
        return done(ERROR_PARAMETER_SYNTAX, "an output buffer or its length is NULL");
    if (!fits(n, limit, length))
        return too_low(name, n);
    put(data, n, buf, length);
    return done(EXECUTION_OK, NULL);
}

/* A DER result of a tse_* call as one output array; frees it. */
static short int out_der(const char *name, tse_err rc, fn f, uint8_t *der, size_t n, unsigned long int limit,
                         unsigned char *buf, unsigned long int *length)
{
    short int s = rc ? result(rc, f) : out_bytes(name, der, n, limit, buf, length);
    tse_free(der);
    return s;
}

static bool to_tm(int64_t t, struct tm *out)
{
    time_t tt = (time_t)t;
    return out && gmtime_r(&tt, out) != NULL;
}

static bool from_tm(const struct tm *in, int64_t *out)
{
    if (!in)
        return false;
    struct tm c = *in;
    time_t t = timegm(&c);
    if (t == (time_t)-1 && !(in->tm_year == 69 && in->tm_mon == 11 && in->tm_mday == 31))
        return false;
    /* a field out of its range (month 13, day 0, 25 o'clock) is no valid time, not one timegm moved */
    if (c.tm_year != in->tm_year || c.tm_mon != in->tm_mon || c.tm_mday != in->tm_mday || c.tm_hour != in->tm_hour ||
        c.tm_min != in->tm_min || c.tm_sec != in->tm_sec)
        return false;
    *out = (int64_t)t;
    return true;
}

static void put_ulong(uint64_t v, unsigned long int *out)
{
    *out = v > ULONG_MAX ? ULONG_MAX : (unsigned long int)v;
}

/* ----------------------------------------------------------- status */

short int getLastFunctionCallStatus(unsigned long int errorDataLimit, unsigned char *errorData,
                                    unsigned long int *errorDataLength)
{
    short int status = last_status;
    if (errorDataLength) {
        size_t n = strlen(last_data);
        if (n && errorData && n + 1 <= errorDataLimit) {
            memcpy(errorData, last_data, n + 1);
            *errorDataLength = (unsigned long int)(n + 1);
        } else {
            *errorDataLength = n ? (unsigned long int)(n + 1) : 0;   /* what it would need */
        }
    }
    return status;   /* the same again, the status left as it was */
}

/* ---------------------------------------------------------------- users */

short int authenticateUser(const unsigned char *userId, unsigned long int userIdLength, const unsigned char *pin,
                           unsigned long int pinLength)
{
    char id[TSE_MAX_CLIENT_ID_LEN + 1], p[TSE_MAX_PIN_LEN + 2];
    const char *ids, *ps;
    if (!text_in(userId, userIdLength, false, id, sizeof id, &ids))
        return bad_text("userId");
    if (!text_in(pin, pinLength, false, p, sizeof p, &ps))
        return bad_text("pin");
    tse *t;
    if (enter(&t))
        return last_status;
    tse_auth_result ar;
    int left = -1;
    tse_err rc = tse_authenticate_user(t, ids, ps, &ar, &left);
    short int s = result(rc, FN_AUTH);
    if (rc == TSE_ERR_AUTHENTICATION_FAILED && left >= 0)
        snprintf(last_data, sizeof last_data, "%d", left);   /* 2.2.1: the remaining retries as text */
    return leave(s);
}

short int logOut(const unsigned char *userId, unsigned long int userIdLength)
{
    char id[TSE_MAX_CLIENT_ID_LEN + 1];
    const char *ids;
    if (!text_in(userId, userIdLength, false, id, sizeof id, &ids))
        return bad_text("userId");
    tse *t;
    if (enter(&t))
        return last_status;
    return leave(result(tse_logout(t, ids), FN_SIGNING));
}

short int unblockPin(const unsigned char *userId, unsigned long int userIdLength, const unsigned char *puk,
                     unsigned long int pukLength, const unsigned char *newPin, unsigned long int newPinLength)
{
    char id[TSE_MAX_CLIENT_ID_LEN + 1], k[TSE_PUK_LEN + 2], p[TSE_MAX_PIN_LEN + 2];
    const char *ids, *ks, *ps;
    if (!text_in(userId, userIdLength, false, id, sizeof id, &ids))
        return bad_text("userId");
    if (!text_in(puk, pukLength, false, k, sizeof k, &ks))
        return bad_text("puk");
    if (!text_in(newPin, newPinLength, false, p, sizeof p, &ps))
        return bad_text("newPin");
    if (strlen(ps) > TSE_MAX_PIN_LEN)
        return done(ERROR_PARAMETER_TOO_LONG, "newPin is longer than its maximum of 64 characters");
    tse *t;
    if (enter(&t))
        return last_status;
    return leave(result(tse_unblock_user(t, ids, ks, ps), FN_UNBLOCK));
}

/* ------------------------------------------------------------ core */

short int initialize(void)
{
    tse *t;
    if (enter(&t))
        return last_status;
    tse_info info;
    tse_err rc = tse_get_info(t, &info);
    if (!rc && info.state == TSE_STATE_INITIALIZED)   /* opentsed's PATCH would accept it again */
        return leave(done(ERROR_DEVICE_IS_INITIALIZED, "the TSE is initialized already"));
    if (!rc)
        rc = tse_initialize(t, NULL);
    if (rc == TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER)
        rc = tse_initialize(t, "OpenTSE");
    if (rc == TSE_ERR_WRONG_STATE && info.state == TSE_STATE_CREATED)   /* no admin PIN yet: nobody logged in */
        return leave(done(ERROR_USER_NOT_AUTHENTICATED, tse_last_error_message()));
    return leave(signed_status(t, result(rc, FN_INIT)));
}

short int setDescription(const unsigned char *description, unsigned long int descriptionLength)
{
    char d[TSE_MAX_SET_DESCRIPTION_LEN + 2];
    const char *ds;
    if (!text_in(description, descriptionLength, false, d, sizeof d, &ds))
        return done(description ? ERROR_PARAMETER_TOO_LONG : ERROR_PARAMETER_SYNTAX,
                    "description must be a text of up to 64 characters");
    tse *t;
    if (enter(&t))
        return last_status;
    return leave(signed_status(t, result(tse_set_description(t, ds), FN_SIGNING)));
}

short int getDescription(unsigned long int descriptionLimit, unsigned char *description,
                         unsigned long int *descriptionLength)
{
    tse *t;
    if (enter_as(__func__, &t))
        return last_status;
    char d[TSE_MAX_DESCRIPTION_LEN + 1];
    tse_err rc = tse_get_description(t, d);
    if (rc)
        return leave(result(rc, FN_OTHER));
    return leave(out_bytes("description", d, strlen(d) + 1, descriptionLimit, description, descriptionLength));
}

short int selfTest(unsigned long int selfTestResultsLimit, unsigned char *selfTestResults,
                   unsigned long int *selfTestResultsLength)
{
    tse *t;
    if (enter(&t))
        return last_status;
    tse_err rc = tse_self_test(t);
    if (rc && rc != TSE_ERR_SELF_TEST_FAILED)
        return leave(result(rc, FN_SIGNING));
    /* the SelfTestResultSet as the selfTest log carries it (events.c's components) */
    char why[TSE_ERROR_MSGLEN];
    snprintf(why, sizeof why, "%s", rc ? tse_last_error_detail() : "");
    for (char *p = why; *p; p++)
        if (!logmsg_printable(p, 1))
            *p = ' ';
    logmsg_self_test_result r[2] = {{.component = "CSP", .positive = !rc, .error_message = rc ? why : NULL},
                                    {.component = "storage", .positive = true}};
    uint8_t buf[TSE_ERROR_MSGLEN + 256];
    der_w w = der_w_init(buf, sizeof buf);
    if (!logmsg_event_self_test(&w, r, rc ? 1 : 2) || !der_w_ok(&w))
        return leave(done(ERROR_FUNCTION_FAILED, "the self-test results cannot be encoded"));
    der_r rd = der_r_init(buf, w.len);
    der_tlv set;
    if (!der_read(&rd, &set))
        return leave(done(ERROR_FUNCTION_FAILED, "the self-test results cannot be encoded"));
    short int s = out_bytes("selfTestResults", buf, set.total_len, selfTestResultsLimit, selfTestResults,
                            selfTestResultsLength);
    return leave(s == EXECUTION_OK && rc ? result(rc, FN_OTHER) : signed_status(t, s));
}

/* The update file is a signed update package (docs/se-api.md). */
short int updateDevice(const unsigned char *update, unsigned long int updateLength)
{
    tse *t;
    if (enter(&t))
        return last_status;
    tse_err rc = tse_update_device(t, update, updateLength);
    return leave(signed_status(t, result(rc, FN_SIGNING)));
}

/* An operation that TR-03151-1 refuses with ErrorDeviceNotInitialized
 * before initialize (disableSecureElement 3.3.6.4, deleteLogMessages 3.6.4.4). */
static short int when_initialized(tse_err (*op)(tse *), fn f)
{
    tse *t;
    if (enter(&t))
        return last_status;
    tse_info info;
    tse_err rc = tse_get_info(t, &info);
    if (!rc && (info.state == TSE_STATE_CREATED || info.state == TSE_STATE_UNINITIALIZED))
        return leave(done(ERROR_DEVICE_NOT_INITIALIZED, "the TSE is not initialized"));
    if (!rc && info.state == TSE_STATE_DISABLED)
        return leave(done(ERROR_SECURE_ELEMENT_DISABLED, "the secure element was disabled"));
    return leave(result(rc ? rc : op(t), f));
}

short int disableSecureElement(void)
{
    return when_initialized(tse_disable_secure_element, FN_SIGNING);
}

/* ------------------------------------------------- device information */

static short int memory(const char *fn, tse_err (*get)(tse *, uint64_t *), short int failed,
                        unsigned long int *out)
{
    tse *t;
    if (enter_out(fn, out, &t))
        return last_status;
    uint64_t v = 0;
    tse_err rc = get(t, &v);
    if (rc) {
        bool unknown = rc == TSE_ERR_NOT_SUPPORTED || rc == TSE_ERR_STORAGE_FAILURE;   /* the store cannot tell */
        return leave(done(unknown ? failed : code_of(rc, FN_OTHER), tse_last_error_message()));
    }
    put_ulong(v, out);
    return leave(done(EXECUTION_OK, NULL));
}

short int getTotalMemory(unsigned long int *totalMemory)
{
    return memory(__func__, tse_get_total_memory, ERROR_GET_TOTAL_MEMORY_FAILED, totalMemory);
}

short int getUsedMemory(unsigned long int *usedMemory)
{
    return memory(__func__, tse_get_used_memory, ERROR_GET_USED_MEMORY_FAILED, usedMemory);
}

short int getFreeMemory(unsigned long int *freeMemory)
{
    return memory(__func__, tse_get_free_memory, ERROR_GET_FREE_MEMORY_FAILED, freeMemory);
}

/* A function with one DER output: get(t, &der, &len); `failed` when the
 * store cannot give what it needs. */
static short int der_call(const char *fn, tse_err (*get)(tse *, uint8_t **, size_t *), short int failed,
                          const char *name, unsigned long int limit, unsigned char *buf, unsigned long int *length)
{
    tse *t;
    if (enter_as(fn, &t))
        return last_status;
    uint8_t *der = NULL;
    size_t n = 0;
    tse_err rc = get(t, &der, &n);
    if (rc == TSE_ERR_STORAGE_FAILURE) {
        tse_free(der);
        return leave(done(failed, tse_last_error_message()));
    }
    return leave(out_der(name, rc, FN_OTHER, der, n, limit, buf, length));
}

short int getDeviceHealth(unsigned long int healthInformationSetLimit, unsigned char *healthInformationSet,
                          unsigned long int *healthInformationSetLength)
{
    return der_call(__func__, tse_get_device_health, ERROR_GET_DEVICE_HEALTH_FAILED, "healthInformationSet",
                    healthInformationSetLimit, healthInformationSet, healthInformationSetLength);
}

short int getComponentVersions(unsigned long int deviceInformationSetLimit, unsigned char *deviceInformationSet,
                               unsigned long int *deviceInformationSetLength)
{
    return der_call(__func__, tse_get_component_versions, ERROR_GET_COMPONENT_VERSIONS_FAILED, "deviceInformationSet",
                    deviceInformationSetLimit, deviceInformationSet, deviceInformationSetLength);
}

short int exportSerialNumbers(unsigned long int serialNumbersLimit, unsigned char *serialNumbers,
                              unsigned long int *serialNumbersLength)
{
    return der_call(__func__, tse_export_serial_numbers, ERROR_EXPORT_SERIAL_NUMBERS_FAILED, "serialNumbers",
                    serialNumbersLimit, serialNumbers, serialNumbersLength);
}

short int getCurrentLoggingSignatureCounters(unsigned long int signatureCountersLimit,
                                             unsigned char *signatureCounters,
                                             unsigned long int *signatureCountersLength)
{
    return der_call(__func__, tse_get_current_logging_signature_counters, ERROR_GET_CURRENT_SIGNATURE_COUNTER_FAILED,
                    "signatureCounters", signatureCountersLimit, signatureCounters, signatureCountersLength);
}

short int getOpenTransactions(unsigned long int openTransactionsLimit, unsigned char *openTransactions,
                              unsigned long int *openTransactionsLength)
{
    return der_call(__func__, tse_get_open_transactions, ERROR_GET_OPEN_TRANSACTIONS_FAILED, "openTransactions",
                    openTransactionsLimit, openTransactions, openTransactionsLength);
}

static tse_err registered_clients(tse *t, uint8_t **der, size_t *len)
{
    char **ids = NULL;
    size_t n = 0;
    tse_err rc = tse_list_clients(t, &ids, &n);
    if (rc)
        return rc;
    size_t content = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = strlen(ids[i]);
        content += der_header_len(der_header_len(s) + s) + der_header_len(s) + s;
    }
    size_t total = der_header_len(content) + content;
    uint8_t *out = malloc(total);
    if (!out) {
        tse_free_strings(ids, n);
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    }
    der_w w = der_w_init(out, total);
    der_put_header(&w, DER_SEQUENCE, content);
    for (size_t i = 0; i < n; i++) {
        size_t s = strlen(ids[i]);
        der_put_header(&w, DER_SEQUENCE, der_header_len(s) + s);
        der_put_tlv(&w, DER_PRINTABLE_STRING, ids[i], s);
    }
    tse_free_strings(ids, n);
    *der = out;
    *len = w.len;
    return TSE_OK;
}

short int getRegisteredClients(unsigned long int registeredClientsLimit, unsigned char *registeredClients,
                               unsigned long int *registeredClientsLength)
{
    return der_call(__func__, registered_clients, ERROR_GET_REGISTERED_CLIENTS_FAILED, "registeredClients",
                    registeredClientsLimit, registeredClients, registeredClientsLength);
}

/* A function with one time output: get(t, &unix). */
static short int time_call(const char *fn, tse_err (*get)(tse *, int64_t *), struct tm *out)
{
    tse *t;
    if (enter_out(fn, out, &t))
        return last_status;
    int64_t v = 0;
    tse_err rc = get(t, &v);
    if (!rc && !to_tm(v, out))
        return leave(done(ERROR_FUNCTION_FAILED, "the time cannot be represented as struct tm"));
    return leave(result(rc, FN_OTHER));
}

short int getEndOfUsageDate(struct tm *endOfUsageDate)
{
    return time_call(__func__, tse_get_end_of_usage_date, endOfUsageDate);
}

short int getCurrentSeTime(struct tm *currentSeTime)
{
    return time_call(__func__, tse_get_current_se_time, currentSeTime);
}

/* ------------------------------------------------------------- time */

short int updateTime(const struct tm *newDateTime)
{
    int64_t v;
    if (!from_tm(newDateTime, &v))
        return done(ERROR_INVALID_TIME, "newDateTime is NULL or not a valid UTC time");
    tse *t;
    if (enter(&t))
        return last_status;
    return leave(signed_status(t, result(tse_update_time(t, v), FN_SIGNING)));
}

short int getTimeSyncVariant(SyncVariants *supportedSyncVariant)
{
    tse *t;
    if (enter_out(__func__, supportedSyncVariant, &t))
        return last_status;
    tse_time_sync_variant v;
    tse_err rc = tse_get_time_sync_variant(t, &v);
    if (!rc)
        *supportedSyncVariant = v == TSE_TIME_SYNC_AUTOMATIC ? SyncVariants_automaticSync
                                : v == TSE_TIME_SYNC_MANUAL  ? SyncVariants_manualSync
                                                             : SyncVariants_automaticAndManualSync;
    return leave(result(rc, FN_OTHER));
}

/* ------------------------------------------------------------ logging */

short int configureLogging(const unsigned char *componentName, unsigned long int componentNameLength,
                           const unsigned char *eventName, unsigned long int eventNameLength, bool eventEnabled)
{
    char c[128], e[128];
    const char *cs, *es;
    if (!text_in(componentName, componentNameLength, false, c, sizeof c, &cs))
        return bad_text("componentName");
    if (!text_in(eventName, eventNameLength, false, e, sizeof e, &es))
        return bad_text("eventName");
    tse *t;
    if (enter(&t))
        return last_status;
    return leave(result(tse_configure_logging(t, cs, es, eventEnabled), FN_OTHER));
}

short int deleteLogMessages(void)
{
    return when_initialized(tse_delete_stored_data, FN_DELETE);
}

short int restoreLogsFromBackup(const unsigned char *restoreData, unsigned long long int restoreDataLength)
{
    if (!restoreData || !restoreDataLength)
        return done(ERROR_PARAMETER_SYNTAX, "restoreData is required");
    char path[] = "/tmp/opentse-restore-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    bool ok = f && fwrite(restoreData, 1, restoreDataLength, f) == restoreDataLength;
    if (f)
        ok = fclose(f) == 0 && ok;
    else if (fd >= 0)
        close(fd);
    if (!ok) {
        if (fd >= 0)
            unlink(path);
        return done(ERROR_RESTORE_FAILED, "the archive cannot be kept in a temporary file");
    }
    tse *t;
    short int s = enter(&t);
    if (!s) {
        const char *paths[1] = {path};
        s = leave(result(tse_restore_from_backup(t, paths, 1, NULL), FN_RESTORE));
    }
    unlink(path);
    return s;
}

/* getLastLogMessage and getLastTransactionLogMessage: name and content. */
static short int log_outputs(tse_err rc, const char *name, uint8_t *msg, size_t len, unsigned long int nameLimit,
                             unsigned char *nameBuf, unsigned long int *nameLength, unsigned long int contentLimit,
                             unsigned char *content, unsigned long int *contentLength)
{
    short int s;
    size_t nn = rc ? 0 : strlen(name) + 1;
    if (rc)
        s = result(rc, FN_OTHER);
    else if (!nameLength || !contentLength || !nameBuf || !content)
        s = done(ERROR_PARAMETER_SYNTAX, "an output buffer or its length is NULL");
    else if (!fits(nn, nameLimit, nameLength) | !fits(len, contentLimit, contentLength))
        s = too_low("logMessageFileName or logMessageContent", nn > nameLimit ? nn : len);
    else {
        put(name, nn, nameBuf, nameLength);
        put(msg, len, content, contentLength);
        s = done(EXECUTION_OK, NULL);
    }
    tse_free(msg);
    return s;
}

short int getLastLogMessage(unsigned long int logMessageFileNameLimit, unsigned char *logMessageFileName,
                            unsigned long int *logMessageFileNameLength, unsigned long int logMessageContentLimit,
                            unsigned char *logMessageContent, unsigned long int *logMessageContentLength)
{
    tse *t;
    if (enter_as(__func__, &t))
        return last_status;
    char name[TSE_MAX_LOG_FILE_NAME];
    uint8_t *msg = NULL;
    size_t len = 0;
    tse_err rc = tse_get_last_log_message(t, name, &msg, &len);
    return leave(log_outputs(rc, name, msg, len, logMessageFileNameLimit, logMessageFileName,
                             logMessageFileNameLength, logMessageContentLimit, logMessageContent,
                             logMessageContentLength));
}

static short int last_tx_log(const char *fn, uint64_t number, unsigned long int nameLimit,
                             unsigned char *nameBuf, unsigned long int *nameLength, unsigned long int contentLimit,
                             unsigned char *content, unsigned long int *contentLength)
{
    tse *t;
    if (enter_as(fn, &t))
        return last_status;
    char name[TSE_MAX_LOG_FILE_NAME];
    uint8_t *msg = NULL;
    size_t len = 0;
    tse_err rc = tse_get_last_transaction_log_message(t, number, name, &msg, &len);
    return leave(log_outputs(rc, name, msg, len, nameLimit, nameBuf, nameLength, contentLimit, content,
                             contentLength));
}

short int getLastTransactionLogMessage(unsigned long int logMessageFileNameLimit, unsigned char *logMessageFileName,
                                       unsigned long int *logMessageFileNameLength,
                                       unsigned long int logMessageContentLimit, unsigned char *logMessageContent,
                                       unsigned long int *logMessageContentLength)
{
    return last_tx_log(__func__, 0, logMessageFileNameLimit, logMessageFileName, logMessageFileNameLength,
                       logMessageContentLimit, logMessageContent, logMessageContentLength);
}

short int getLastTransactionLogMessageTransactionNumber(unsigned long int transactionNumber,
                                                        unsigned long int logMessageFileNameLimit,
                                                        unsigned char *logMessageFileName,
                                                        unsigned long int *logMessageFileNameLength,
                                                        unsigned long int logMessageContentLimit,
                                                        unsigned char *logMessageContent,
                                                        unsigned long int *logMessageContentLength)
{
    if (!transactionNumber)
        return done(ERROR_PARAMETER_SYNTAX, "transactionNumber must be 1 or more");
    return last_tx_log(__func__, transactionNumber, logMessageFileNameLimit, logMessageFileName, logMessageFileNameLength,
                       logMessageContentLimit, logMessageContent, logMessageContentLength);
}

/* ---------------------------------------------------- chunked exports
 *
 * An export with offset 0 writes its archive into a temporary file; later
 * offsets of the same export (same function and filter) read on in that
 * file, so every chunk comes from one archive. */

typedef struct export_key {
    int kind;                  /* 1 logs, 2 filtered, 3 certificates */
    tse_export_filter filter;  /* client_id pointing at client below */
    char client[TSE_MAX_CLIENT_ID_LEN + 1];
} export_key;

static pthread_mutex_t export_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *export_file;
static export_key export_of;
static char export_name[64];

static int to_file(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : TSE_ERR_STORAGE_FAILURE;
}

static bool same_key(const export_key *a, const export_key *b)
{
    const tse_export_filter *x = &a->filter, *y = &b->filter;
    return a->kind == b->kind && strcmp(a->client, b->client) == 0 && !x->client_id == !y->client_id &&
           x->transaction_number == y->transaction_number &&
           x->start_transaction_number == y->start_transaction_number &&
           x->end_transaction_number == y->end_transaction_number && x->start_date == y->start_date &&
           x->end_date == y->end_date && x->maximum_number_records == y->maximum_number_records;
}

/* "Export_<format>_<date>.tar" (TR-03151-1 2.5.2; "CertificateExport_..."
 * for certificates), the date in the TSE's time format. */
static tse_err export_name_of(tse *t, int kind, char *out, size_t cap)
{
    tse_info info;
    tse_err rc = tse_get_info(t, &info);
    if (rc)
        return rc;
    int64_t now = info.time_set ? info.time_now : (int64_t)time(NULL);
    if (!archive_name(kind == 3 ? "CertificateExport" : "Export", (logmsg_time_format)info.time_format, now, 0, out,
                      cap))
        return engine_fail(TSE_ERR_INTERNAL, "the export's name cannot be written");
    return TSE_OK;
}

static int stop_at_data(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx, (void)data, (void)len;
    return TSE_ERR_TOO_LARGE;
}

/* TR-03151-1 3.7.8.4 steps 4 to 6 name what found nothing: logs of the
 * transactions or the period without the client's give
 * ErrorClientIdNotFound; no transaction log of a number range gives
 * ErrorTransactionNumberNotFound (the export itself answers NO_DATA). */
static tse_err nothing_found(tse *t, const tse_export_filter *f, tse_err rc)
{
    if (f->client_id) {
        tse_export_filter all = *f;
        all.client_id = NULL;
        bool other_filter = all.transaction_number || all.start_transaction_number || all.start_date || all.end_date;
        tse_err without = other_filter ? tse_export_data(t, &all, stop_at_data, NULL, NULL) : TSE_OK;
        if (without != TSE_ERR_NO_DATA_AVAILABLE && without != TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND)
            return engine_fail(TSE_ERR_ID_NOT_FOUND, "no log of client \"%s\" matches the filter", f->client_id);
        rc = without;
    }
    if (rc == TSE_ERR_NO_DATA_AVAILABLE && f->start_transaction_number)
        return engine_fail(TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND, "no stored transaction log numbered %llu..%llu",
                           (unsigned long long)f->start_transaction_number,
                           (unsigned long long)f->end_transaction_number);
    return engine_fail(rc, "%s", tse_last_error_message());
}

/* Makes the archive of `k` into export_file (under export_mu). */
static tse_err make_export(tse *t, const export_key *k)
{
    if (export_file)
        fclose(export_file);
    export_file = tmpfile();
    if (!export_file)
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "no temporary file for the export");
    export_of = *k;
    export_of.filter.client_id = k->filter.client_id ? export_of.client : NULL;
    tse_err rc = export_name_of(t, k->kind, export_name, sizeof export_name);
    if (!rc && k->kind == 3)
        rc = tse_export_logging_certificates(t, to_file, export_file);
    else if (!rc)
        rc = tse_export_data(t, k->kind == 1 ? NULL : &export_of.filter, to_file, export_file, NULL);
    if (k->kind == 2 && (rc == TSE_ERR_NO_DATA_AVAILABLE || rc == TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND))
        rc = nothing_found(t, &export_of.filter, rc);
    if (!rc && fflush(export_file) != 0)
        rc = engine_fail(TSE_ERR_STORAGE_FAILURE, "the export's temporary file cannot be written");
    if (rc) {
        fclose(export_file);
        export_file = NULL;
        export_of.kind = 0;
    }
    return rc;
}

static short int chunked(const char *fn, const export_key *k, unsigned long long int offset,
                         unsigned long long int limit, unsigned char *data, unsigned long long int *length,
                         unsigned long int nameLimit, unsigned char *name, unsigned long int *nameLength)
{
    if (!length || !nameLength || !name || (!data && limit))
        return done(ERROR_PARAMETER_SYNTAX, "an output buffer or its length is NULL");
    tse *t;
    if (enter_as(fn, &t))
        return last_status;
    pthread_mutex_lock(&export_mu);
    tse_err rc = TSE_OK;
    if (offset == 0 || !export_file || !same_key(k, &export_of))
        rc = make_export(t, k);
    short int s;
    if (rc) {
        s = result(rc, FN_EXPORT);
    } else if (!fits(strlen(export_name) + 1, nameLimit, nameLength)) {
        s = too_low("fileName", strlen(export_name) + 1);
    } else {
        size_t got = 0;
        if (fseeko(export_file, (off_t)offset, SEEK_SET) == 0)
            got = fread(data, 1, (size_t)limit, export_file);
        if (ferror(export_file)) {
            s = done(ERROR_FUNCTION_FAILED, "the export's temporary file cannot be read");
        } else {
            *length = got;
            put(export_name, strlen(export_name) + 1, name, nameLength);
            s = done(EXECUTION_OK, NULL);
        }
    }
    pthread_mutex_unlock(&export_mu);
    return leave(s);
}

short int exportLogMessages(unsigned long long int exportedDataOffset, unsigned long long int exportedDataLimit,
                            unsigned char *exportedData, unsigned long long int *exportedDataLength,
                            unsigned long int fileNameLimit, unsigned char *fileName, unsigned long int *fileNameLength)
{
    export_key k = {.kind = 1};
    return chunked(__func__, &k, exportedDataOffset, exportedDataLimit, exportedData, exportedDataLength, fileNameLimit,
                   fileName, fileNameLength);
}

short int exportLoggingCertificates(unsigned long long int certificatesOffset,
                                    unsigned long long int certificatesLimit, unsigned char *certificates,
                                    unsigned long long int *certificatesLength, unsigned long int fileNameLimit,
                                    unsigned char *fileName, unsigned long int *fileNameLength)
{
    export_key k = {.kind = 3};
    return chunked(__func__, &k, certificatesOffset, certificatesLimit, certificates, certificatesLength, fileNameLimit,
                   fileName, fileNameLength);
}

short int exportFilteredTransactionLogs(const unsigned char *clientId, unsigned long int clientIdLength,
                                        unsigned long int transactionNumber, unsigned long int firstTransactionNumber,
                                        unsigned long int lastTransactionNumber, const struct tm *startDate,
                                        const struct tm *endDate, long int maximumNumberRecords,
                                        unsigned long long int exportedDataOffset,
                                        unsigned long long int exportedDataLimit, unsigned char *exportedData,
                                        unsigned long long int *exportedDataLength, unsigned long int fileNameLimit,
                                        unsigned char *fileName, unsigned long int *fileNameLength)
{
    export_key k = {.kind = 2};
    const char *cs;
    if (!text_in(clientId, clientIdLength, true, k.client, sizeof k.client, &cs))
        return bad_text("clientId");
    /* 3.7.8.4 step 3: the checks that give ErrorParameterMismatch */
    if (!firstTransactionNumber != !lastTransactionNumber)
        return done(ERROR_PARAMETER_MISMATCH, "firstTransactionNumber and lastTransactionNumber come together");
    if ((transactionNumber || firstTransactionNumber) && (startDate || endDate))
        return done(ERROR_PARAMETER_MISMATCH, "transaction numbers and dates do not combine");
    if (transactionNumber && firstTransactionNumber)
        return done(ERROR_PARAMETER_MISMATCH, "transactionNumber and a transaction range do not combine");
    if (maximumNumberRecords < 0)
        return done(ERROR_PARAMETER_SYNTAX, "maximumNumberRecords must not be negative");
    tse_export_filter *f = &k.filter;
    if ((startDate && !from_tm(startDate, &f->start_date)) || (endDate && !from_tm(endDate, &f->end_date)))
        return done(ERROR_PARAMETER_MISMATCH, "startDate and endDate must be valid UTC times");
    if (startDate && endDate && f->end_date < f->start_date)
        return done(ERROR_PARAMETER_MISMATCH, "endDate lies before startDate");
    f->client_id = cs ? k.client : NULL;
    f->transaction_number = transactionNumber;
    f->start_transaction_number = firstTransactionNumber;
    f->end_transaction_number = lastTransactionNumber;
    f->maximum_number_records = (uint64_t)maximumNumberRecords;
    return chunked(__func__, &k, exportedDataOffset, exportedDataLimit, exportedData, exportedDataLength, fileNameLimit,
                   fileName, fileNameLength);
}

/* ---------------------------------------------------- clients, counts */

static short int client_call(tse_err (*op)(tse *, const char *), fn f, const unsigned char *clientId,
                             unsigned long int clientIdLength)
{
    char id[TSE_MAX_CLIENT_ID_LEN + 1];
    const char *ids;
    if (!text_in(clientId, clientIdLength, false, id, sizeof id, &ids))
        return clientId ? done(ERROR_PARAMETER_TOO_LONG, "clientId is longer than 64 characters")
                        : bad_text("clientId");
    tse *t;
    if (enter(&t))
        return last_status;
    return leave(signed_status(t, result_of(t, op(t, ids), f, NULL)));
}

short int registerClient(const unsigned char *clientId, unsigned long int clientIdLength)
{
    return client_call(tse_register_client, FN_REGISTER, clientId, clientIdLength);
}

short int deregisterClient(const unsigned char *clientId, unsigned long int clientIdLength)
{
    return client_call(tse_deregister_client, FN_DEREGISTER, clientId, clientIdLength);
}

static short int count_call(const char *fn, tse_err (*get)(tse *, uint32_t *), unsigned long int *out)
{
    tse *t;
    if (enter_out(fn, out, &t))
        return last_status;
    uint32_t v = 0;
    tse_err rc = get(t, &v);
    if (!rc)
        *out = v;
    return leave(result(rc, FN_OTHER));
}

short int getCurrentNumberOfClients(unsigned long int *currentNumberOfClients)
{
    return count_call(__func__, tse_get_current_number_of_clients, currentNumberOfClients);
}

short int getMaxNumberOfClients(unsigned long int *maxNumberClients)
{
    return count_call(__func__, tse_get_max_number_of_clients, maxNumberClients);
}

short int getCurrentNumberOfTransactions(unsigned long int *currentNumberOfTransactions)
{
    return count_call(__func__, tse_get_current_number_of_transactions, currentNumberOfTransactions);
}

short int getMaxNumberOfTransactions(unsigned long int *maxNumberTransactions)
{
    return count_call(__func__, tse_get_max_number_of_transactions, maxNumberTransactions);
}

short int getCurrentTransactionCounter(unsigned long int *transactionNumber)
{
    tse *t;
    if (enter_out(__func__, transactionNumber, &t))
        return last_status;
    uint64_t v = 0;
    tse_err rc = tse_get_current_transaction_counter(t, &v);
    if (!rc)
        put_ulong(v, transactionNumber);
    return leave(result(rc, FN_OTHER));
}

short int getSupportedTransactionUpdateVariants(UpdateVariants *supportedUpdateVariants)
{
    tse *t;
    if (enter_out(__func__, supportedUpdateVariants, &t))
        return last_status;
    tse_update_variant v;
    tse_err rc = tse_get_supported_transaction_update_variants(t, &v);
    if (!rc)
        *supportedUpdateVariants = v == TSE_UPDATE_SIGNED     ? UpdateVariants_alwaysSigned
                                   : v == TSE_UPDATE_UNSIGNED ? UpdateVariants_aggregating
                                                              : UpdateVariants_alwaysSignedAndAggregating;
    return leave(result(rc, FN_OTHER));
}

short int getTransactionState(unsigned long int transactionNumber, TransactionState *transactionState)
{
    tse *t;
    if (enter_out(__func__, transactionState, &t))
        return last_status;
    tse_transaction_state s;
    tse_err rc = tse_get_transaction_state(t, transactionNumber, &s);
    if (!rc)
        *transactionState = (TransactionState)s;   /* the same order as TR-03151-1's enum */
    if (rc == TSE_ERR_READING_LOG_MESSAGE || rc == TSE_ERR_STORAGE_FAILURE)   /* its logs cannot be read */
        return leave(done(ERROR_GET_TRANSACTION_STATE_FAILED, tse_last_error_message()));
    return leave(result(rc, FN_OTHER));
}

short int lockTransactionLogging(void)
{
    return no_args(tse_lock_transaction_logging, FN_SIGNING);
}

short int unlockTransactionLogging(void)
{
    return no_args(tse_unlock_transaction_logging, FN_SIGNING);
}

/* ------------------------------------------------------- transactions */

/* The text inputs of a transaction function. */
typedef struct tx_in {
    char client[TSE_MAX_CLIENT_ID_LEN + 1];
    char type[TSE_MAX_PROCESS_TYPE_LEN + 1];
    const char *cs, *ts;
} tx_in;

static short int tx_texts(tx_in *in, const unsigned char *clientId, unsigned long int clientIdLength,
                          const unsigned char *processData, unsigned long int processDataLength,
                          const unsigned char *processType, unsigned long int processTypeLength)
{
    if (!text_in(clientId, clientIdLength, false, in->client, sizeof in->client, &in->cs))
        return clientId ? done(ERROR_PARAMETER_TOO_LONG, "clientId is longer than 64 characters")
                        : bad_text("clientId");
    if (!text_in(processType, processTypeLength, false, in->type, sizeof in->type, &in->ts))
        return processType ? done(ERROR_PARAMETER_TOO_LONG, "processType is longer than 100 characters")
                           : bad_text("processType");
    if (!processData && processDataLength)
        return done(ERROR_PARAMETER_SYNTAX, "processData is NULL but its length is not 0");
    if (processDataLength > TSE_MAX_PROCESS_DATA_LEN)
        return done(ERROR_PARAMETER_TOO_LONG, "processData is longer than 1 MiB");
    return EXECUTION_OK;
}

/* The size of the bound TSE's signatures (plain r||s of its curve), asked
 * once; TSE_MAX_SIGNATURE_LEN when it cannot be told. */
static size_t sig_len(tse *t)
{
    size_t n = current_sig_len;
    tse_info info;
    if (!n && tse_get_info(t, &info) == TSE_OK) {
        static const size_t by_curve[] = {64, 96, 132, 64, 96, 128};
        n = (unsigned)info.curve < 6 ? by_curve[info.curve] : TSE_MAX_SIGNATURE_LEN;
        current_sig_len = n;
    }
    return n ? n : TSE_MAX_SIGNATURE_LEN;
}

/* A signed log's outputs (time, signature, counter), limits checked first. */
typedef struct log_out {
    struct tm *time;
    unsigned long int sigLimit;
    unsigned char *sig;
    unsigned long int *sigLength, *counter;
} log_out;

static bool log_out_ok(const log_out *o)
{
    return o->time && o->sigLength && o->counter && (o->sig || !o->sigLimit);
}

static void log_out_put(const log_out *o, const tse_result *r)
{
    to_tm(r->log_time, o->time);
    put(r->signature, r->signature_len, o->sig, o->sigLength);
    put_ulong(r->signature_counter, o->counter);
}

static void log_out_none(const log_out *o)
{
    if (o->time)
        memset(o->time, 0, sizeof *o->time);
    if (o->sigLength)
        *o->sigLength = 0;
    if (o->counter)
        *o->counter = 0;
}

static short int start(const unsigned char *clientId, unsigned long int clientIdLength,
                       const unsigned char *processData, unsigned long int processDataLength,
                       const unsigned char *processType, unsigned long int processTypeLength, const unsigned char *ad,
                       unsigned long int adLength, unsigned long int *transactionNumber,
                       struct tm *signatureCreationTime, unsigned long int serialNumberLimit,
                       unsigned char *serialNumber, unsigned long int *serialNumberLength,
                       unsigned long int *signatureCounter, unsigned long int signatureValueLimit,
                       unsigned char *signatureValue, unsigned long int *signatureValueLength)
{
    tx_in in;
    if (tx_texts(&in, clientId, clientIdLength, processData, processDataLength, processType, processTypeLength))
        return last_status;
    log_out o = {signatureCreationTime, signatureValueLimit, signatureValue, signatureValueLength, signatureCounter};
    if (!transactionNumber || !serialNumberLength || !serialNumber || !log_out_ok(&o))
        return done(ERROR_PARAMETER_SYNTAX, "an output is NULL");
    tse *t;
    if (enter(&t))
        return last_status;
    /* too small a buffer for the curve's signature is refused before signing */
    size_t need = sig_len(t);
    if (!fits(TSE_SERIAL_LEN, serialNumberLimit, serialNumberLength) |
        !fits(need, signatureValueLimit, signatureValueLength))
        return leave(too_low("serialNumber or signatureValue", need));
    tse_result r;
    tse_err rc = tse_start_transaction(t, in.cs, processData, processDataLength, in.ts, ad, adLength, &r);
    if (!rc || rc == TSE_ERR_CERTIFICATE_EXPIRED) {
        put_ulong(r.transaction_number, transactionNumber);
        put(r.serial_number, TSE_SERIAL_LEN, serialNumber, serialNumberLength);
        log_out_put(&o, &r);
    }
    return leave(result_of(t, rc, FN_START, in.cs));
}

short int startTransaction(const unsigned char *clientId, unsigned long int clientIdLength,
                           const unsigned char *processData, unsigned long int processDataLength,
                           const unsigned char *processType, unsigned long int processTypeLength,
                           unsigned long int *transactionNumber, struct tm *signatureCreationTime,
                           unsigned long int serialNumberLimit, unsigned char *serialNumber,
                           unsigned long int *serialNumberLength, unsigned long int *signatureCounter,
                           unsigned long int signatureValueLimit, unsigned char *signatureValue,
                           unsigned long int *signatureValueLength)
{
    return start(clientId, clientIdLength, processData, processDataLength, processType, processTypeLength, NULL, 0,
                 transactionNumber, signatureCreationTime, serialNumberLimit, serialNumber, serialNumberLength,
                 signatureCounter, signatureValueLimit, signatureValue, signatureValueLength);
}

short int startTransactionAdditionalExternalData(
    const unsigned char *clientId, unsigned long int clientIdLength, const unsigned char *processData,
    unsigned long int processDataLength, const unsigned char *processType, unsigned long int processTypeLength,
    const unsigned char *additionalExternalData, unsigned long int additionalExternalDataLength,
    unsigned long int *transactionNumber, struct tm *signatureCreationTime, unsigned long int serialNumberLimit,
    unsigned char *serialNumber, unsigned long int *serialNumberLength, unsigned long int *signatureCounter,
    unsigned long int signatureValueLimit, unsigned char *signatureValue, unsigned long int *signatureValueLength)
{
    if (!additionalExternalData && additionalExternalDataLength)
        return done(ERROR_PARAMETER_SYNTAX, "additionalExternalData is NULL but its length is not 0");
    return start(clientId, clientIdLength, processData, processDataLength, processType, processTypeLength,
                 additionalExternalData, additionalExternalDataLength, transactionNumber, signatureCreationTime,
                 serialNumberLimit, serialNumber, serialNumberLength, signatureCounter, signatureValueLimit,
                 signatureValue, signatureValueLength);
}

/* A log into its outputs: false, with the length it needs, when the
 * signature does not fit (a log made where none was foreseen). */
static bool log_out_fits(const log_out *o, const tse_result *r)
{
    if (fits(r->signature_len, o->sigLimit, o->sigLength)) {
        log_out_put(o, r);
        return true;
    }
    to_tm(r->log_time, o->time);
    put_ulong(r->signature_counter, o->counter);
    return false;
}

/* Update and finish: `finish` 0 = update (sign as given), 1 = finish. Data
 * kept under another clientId or processType is first secured by a log of
 * its own (TR-03151-1 3.7.6.5 step 9): the first log's outputs then, this
 * call's signed log (if any) the second's. */
static short int continue_tx(bool finish, bool sign, const unsigned char *clientId, unsigned long int clientIdLength,
                             unsigned long int transactionNumber, const unsigned char *processData,
                             unsigned long int processDataLength, const unsigned char *processType,
                             unsigned long int processTypeLength, int *performed, const log_out *first,
                             const log_out *second)
{
    tx_in in;
    if (tx_texts(&in, clientId, clientIdLength, processData, processDataLength, processType, processTypeLength))
        return last_status;
    if (!performed || !log_out_ok(first) || !log_out_ok(second))
        return done(ERROR_PARAMETER_SYNTAX, "an output is NULL");
    tse *t;
    if (enter(&t))
        return last_status;
    size_t need = sig_len(t);
    tse_transaction_state before = TSE_TX_STARTED;
    /* the call itself answers an unknown number, after its own checks */
    bool prev = tse_get_transaction_state(t, transactionNumber, &before) == TSE_OK &&
                before == TSE_TX_UPDATED_WITH_UNPROTECTED_DATA;
    tse_err rc = TSE_OK;
    /* too small a buffer for a log that may come is refused before signing:
     * with kept data both logs may come, the first even without signing */
    if ((finish || sign || prev) && !fits(need, first->sigLimit, first->sigLength))
        return leave(too_low("firstLogSignatureValue", need));
    if ((finish || sign) && prev && !fits(need, second->sigLimit, second->sigLength))
        return leave(too_low("secondLogSignatureValue", need));
    tse_result r, kept;
    memset(&kept, 0, sizeof kept);
    if (finish)
        rc = tse_finish_transaction_logs(t, in.cs, transactionNumber, processData, processDataLength, in.ts, NULL,
                                         0, &kept, &r);
    else
        rc = tse_update_transaction_logs(t, in.cs, transactionNumber, processData, processDataLength, in.ts,
                                         sign ? TSE_UPDATE_SIGNED : TSE_UPDATE_UNSIGNED, &kept, &r);
    if (rc == TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND)
        rc = TSE_ERR_NO_TRANSACTION;
    log_out_none(first);
    log_out_none(second);
    bool two = kept.signature_counter != 0, fit = true;
    if (!rc || rc == TSE_ERR_CERTIFICATE_EXPIRED) {
        if (finish)
            *performed = two ? FinishProtectionVariants_updateLogCreated : FinishProtectionVariants_updateLogNotCreated;
        else if (two)
            *performed = sign ? UpdateProtectionVariants_prevProtectedPassedProtected
                              : UpdateProtectionVariants_prevProtectedPassedInMem;
        else
            *performed = sign ? (prev ? UpdateProtectionVariants_prevAndPassedProtected
                                      : UpdateProtectionVariants_noPrevPassedProtected)
                              : (prev ? UpdateProtectionVariants_prevAndPassedInMem
                                      : UpdateProtectionVariants_noPrevPassedInMem);
        if (two)
            fit = log_out_fits(first, &kept);
        if (finish || sign)
            fit &= log_out_fits(two ? second : first, &r);
    } else if (two) {
        /* the kept data's log was stored before the call's own step failed */
        fit = log_out_fits(first, &kept);
    }
    short int status = leave(result_of(t, rc, finish ? FN_FINISH : sign ? FN_UPDATE : FN_KEEP, in.cs));
    if (!fit && status == EXECUTION_OK)
        return done(MEMORY_ERROR_LIMIT_TOO_LOW, "a signature value did not fit its buffer; the logs were stored "
                                                "(getLastLogMessage, exportLogMessages)");
    return status;
}

short int updateTransactionForceSignature(
    const unsigned char *clientId, unsigned long int clientIdLength, unsigned long int transactionNumber,
    const unsigned char *processData, unsigned long int processDataLength, const unsigned char *processType,
    unsigned long int processTypeLength, bool forceSignature, UpdateProtectionVariants *performedUpdateProtection,
    struct tm *firstLogSignatureCreationTime, unsigned long int firstLogSignatureValueLimit,
    unsigned char *firstLogSignatureValue, unsigned long int *firstLogSignatureValueLength,
    unsigned long int *firstLogSignatureCounter, struct tm *secondLogSignatureCreationTime,
    unsigned long int secondLogSignatureValueLimit, unsigned char *secondLogSignatureValue,
    unsigned long int *secondLogSignatureValueLength, unsigned long int *secondLogSignatureCounter)
{
    log_out a = {firstLogSignatureCreationTime, firstLogSignatureValueLimit, firstLogSignatureValue,
                 firstLogSignatureValueLength, firstLogSignatureCounter};
    log_out b = {secondLogSignatureCreationTime, secondLogSignatureValueLimit, secondLogSignatureValue,
                 secondLogSignatureValueLength, secondLogSignatureCounter};
    int performed = 0;
    short int s = continue_tx(false, forceSignature, clientId, clientIdLength, transactionNumber, processData,
                              processDataLength, processType, processTypeLength, &performed, &a, &b);
    if (performedUpdateProtection && (s == EXECUTION_OK || s == ERROR_CERTIFICATE_EXPIRED))
        *performedUpdateProtection = (UpdateProtectionVariants)performed;
    return s;
}

short int updateTransaction(const unsigned char *clientId, unsigned long int clientIdLength,
                            unsigned long int transactionNumber, const unsigned char *processData,
                            unsigned long int processDataLength, const unsigned char *processType,
                            unsigned long int processTypeLength, UpdateProtectionVariants *performedUpdateProtection,
                            struct tm *firstLogSignatureCreationTime, unsigned long int firstLogSignatureValueLimit,
                            unsigned char *firstLogSignatureValue, unsigned long int *firstLogSignatureValueLength,
                            unsigned long int *firstLogSignatureCounter, struct tm *secondLogSignatureCreationTime,
                            unsigned long int secondLogSignatureValueLimit, unsigned char *secondLogSignatureValue,
                            unsigned long int *secondLogSignatureValueLength,
                            unsigned long int *secondLogSignatureCounter)
{
    return updateTransactionForceSignature(
        clientId, clientIdLength, transactionNumber, processData, processDataLength, processType, processTypeLength,
        false, performedUpdateProtection, firstLogSignatureCreationTime, firstLogSignatureValueLimit,
        firstLogSignatureValue, firstLogSignatureValueLength, firstLogSignatureCounter, secondLogSignatureCreationTime,
        secondLogSignatureValueLimit, secondLogSignatureValue, secondLogSignatureValueLength,
        secondLogSignatureCounter);
}

short int finishTransaction(const unsigned char *clientId, unsigned long int clientIdLength,
                            unsigned long int transactionNumber, const unsigned char *processData,
                            unsigned long int processDataLength, const unsigned char *processType,
                            unsigned long int processTypeLength, FinishProtectionVariants *performedFinishProtection,
                            struct tm *firstLogSignatureCreationTime, unsigned long int firstLogSignatureValueLimit,
                            unsigned char *firstLogSignatureValue, unsigned long int *firstLogSignatureValueLength,
                            unsigned long int *firstLogSignatureCounter, struct tm *secondLogSignatureCreationTime,
                            unsigned long int secondLogSignatureValueLimit, unsigned char *secondLogSignatureValue,
                            unsigned long int *secondLogSignatureValueLength,
                            unsigned long int *secondLogSignatureCounter)
{
    log_out a = {firstLogSignatureCreationTime, firstLogSignatureValueLimit, firstLogSignatureValue,
                 firstLogSignatureValueLength, firstLogSignatureCounter};
    log_out b = {secondLogSignatureCreationTime, secondLogSignatureValueLimit, secondLogSignatureValue,
                 secondLogSignatureValueLength, secondLogSignatureCounter};
    int performed = 0;
    short int s = continue_tx(true, true, clientId, clientIdLength, transactionNumber, processData, processDataLength,
                              processType, processTypeLength, &performed, &a, &b);
    if (performedFinishProtection && (s == EXECUTION_OK || s == ERROR_CERTIFICATE_EXPIRED))
        *performedFinishProtection = (FinishProtectionVariants)performed;
    return s;
}
