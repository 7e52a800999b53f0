/*
 * error.c - the tse_error value, this thread's last error, and the name and
 * explanation of every tse_err code as constant strings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

typedef struct err_entry {
    int code;
    const char *name;
    const char *text;
    const char *both; /* "NAME: text", for tse_strerror() */
} err_entry;

#define E(code, name, text) {code, name, text, name ": " text}

static const err_entry errors[] = {
    E(TSE_OK, "OK", "success"),
    E(TSE_ERR_AUTHENTICATION_FAILED, "AUTHENTICATION_FAILED", "the PIN is wrong"),
    E(TSE_ERR_UNBLOCK_FAILED, "UNBLOCK_FAILED", "unblocking failed: the PUK is wrong"),
    E(TSE_ERR_RETRIEVE_LOG_MESSAGE_FAILED, "RETRIEVE_LOG_MESSAGE_FAILED", "the log message parts could not be retrieved"),
    E(TSE_ERR_STORAGE_FAILURE, "STORAGE_FAILURE", "storing to the TSE's storage failed; nothing was changed"),
    E(TSE_ERR_UPDATE_TIME_FAILED, "UPDATE_TIME_FAILED", "updating the time failed"),
    E(TSE_ERR_PARAMETER_MISMATCH, "PARAMETER_MISMATCH", "the parameters contradict each other"),
    E(TSE_ERR_ID_NOT_FOUND, "ID_NOT_FOUND", "no data for the given client id"),
    E(TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND, "TRANSACTION_NUMBER_NOT_FOUND", "no data for the given transaction number"),
    E(TSE_ERR_NO_DATA_AVAILABLE, "NO_DATA_AVAILABLE", "no data matches the given parameters"),
    E(TSE_ERR_TOO_MANY_RECORDS, "TOO_MANY_RECORDS", "more records match than maximumNumberRecords allows"),
    E(TSE_ERR_START_TRANSACTION_FAILED, "START_TRANSACTION_FAILED", "starting the transaction failed"),
    E(TSE_ERR_UPDATE_TRANSACTION_FAILED, "UPDATE_TRANSACTION_FAILED", "updating the transaction failed"),
    E(TSE_ERR_FINISH_TRANSACTION_FAILED, "FINISH_TRANSACTION_FAILED", "finishing the transaction failed"),
    E(TSE_ERR_RESTORE_FAILED, "RESTORE_FAILED", "restoring from the backup failed; nothing was changed"),
    E(TSE_ERR_STORING_INIT_DATA_FAILED, "STORING_INIT_DATA_FAILED", "storing the initialization data failed"),
    E(TSE_ERR_EXPORT_CERT_FAILED, "EXPORT_CERT_FAILED", "exporting the certificates failed"),
    E(TSE_ERR_NO_LOG_MESSAGE, "NO_LOG_MESSAGE", "no log message is stored"),
    E(TSE_ERR_READING_LOG_MESSAGE, "READING_LOG_MESSAGE", "reading the log message failed"),
    E(TSE_ERR_NO_TRANSACTION, "NO_TRANSACTION", "no open transaction with that number for that client"),
    E(TSE_ERR_SE_API_NOT_INITIALIZED, "SE_API_NOT_INITIALIZED", "the TSE is not initialized"),
    E(TSE_ERR_TIME_NOT_SET, "TIME_NOT_SET", "the TSE's time has not been set"),
    E(TSE_ERR_CERTIFICATE_EXPIRED, "CERTIFICATE_EXPIRED", "the certificate has expired; the log message was still stored"),
    E(TSE_ERR_SECURE_ELEMENT_DISABLED, "SECURE_ELEMENT_DISABLED", "the TSE is disabled"),
    E(TSE_ERR_USER_NOT_AUTHORIZED, "USER_NOT_AUTHORIZED", "the user's role does not allow this operation"),
    E(TSE_ERR_USER_NOT_AUTHENTICATED, "USER_NOT_AUTHENTICATED", "no user with the required role is logged in"),
    E(TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER, "DESCRIPTION_NOT_SET_BY_MANUFACTURER", "a description is required: the manufacturer did not set one"),
    E(TSE_ERR_DESCRIPTION_SET_BY_MANUFACTURER, "DESCRIPTION_SET_BY_MANUFACTURER", "the manufacturer already set the description"),
    E(TSE_ERR_EXPORT_SERIAL_NUMBERS_FAILED, "EXPORT_SERIAL_NUMBERS_FAILED", "exporting the serial numbers failed"),
    E(TSE_ERR_GET_MAX_NUMBER_OF_CLIENTS_FAILED, "GET_MAX_NUMBER_OF_CLIENTS_FAILED", "reading the maximum number of clients failed"),
    E(TSE_ERR_GET_CURRENT_NUMBER_OF_CLIENTS_FAILED, "GET_CURRENT_NUMBER_OF_CLIENTS_FAILED", "reading the number of clients failed"),
    E(TSE_ERR_GET_MAX_NUMBER_TRANSACTIONS_FAILED, "GET_MAX_NUMBER_TRANSACTIONS_FAILED", "reading the maximum number of transactions failed"),
    E(TSE_ERR_GET_CURRENT_NUMBER_OF_TRANSACTIONS_FAILED, "GET_CURRENT_NUMBER_OF_TRANSACTIONS_FAILED", "reading the number of open transactions failed"),
    E(TSE_ERR_GET_SUPPORTED_UPDATE_VARIANTS_FAILED, "GET_SUPPORTED_UPDATE_VARIANTS_FAILED", "reading the supported update variants failed"),
    E(TSE_ERR_DELETE_STORED_DATA_FAILED, "DELETE_STORED_DATA_FAILED", "deleting stored data failed"),
    E(TSE_ERR_UNEXPORTED_STORED_DATA, "UNEXPORTED_STORED_DATA", "stored data has not been exported yet"),
    E(TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED, "SIGNING_SYSTEM_OPERATION_DATA_FAILED", "signing the system log failed"),
    E(TSE_ERR_USER_ID_NOT_MANAGED, "USER_ID_NOT_MANAGED", "the user id is not managed by the TSE"),
    E(TSE_ERR_USER_ID_NOT_AUTHENTICATED, "USER_ID_NOT_AUTHENTICATED", "the user id is not logged in"),
    E(TSE_ERR_DISABLE_SECURE_ELEMENT_FAILED, "DISABLE_SECURE_ELEMENT_FAILED", "disabling the TSE failed"),
    E(TSE_ERR_INVALID_TIME, "INVALID_TIME", "the time is out of range"),
    E(TSE_ERR_INVALID_ARGUMENT, "INVALID_ARGUMENT", "an argument is missing or malformed"),
    E(TSE_ERR_TOO_LARGE, "TOO_LARGE", "an argument exceeds its size limit"),
    E(TSE_ERR_NO_MEMORY, "NO_MEMORY", "out of memory"),
    E(TSE_ERR_STORE_IN_USE, "STORE_IN_USE", "the TSE's store is in use by another process or handle"),
    E(TSE_ERR_SELF_TEST_FAILED, "SELF_TEST_FAILED", "the self-test failed; the TSE refuses to sign"),
    E(TSE_ERR_WRONG_STATE, "WRONG_STATE", "the operation is not allowed in the TSE's current state"),
    E(TSE_ERR_CLIENT_NOT_REGISTERED, "CLIENT_NOT_REGISTERED", "the client id is not registered"),
    E(TSE_ERR_TOO_MANY_CLIENTS, "TOO_MANY_CLIENTS", "the maximum number of registered clients is reached"),
    E(TSE_ERR_TOO_MANY_TRANSACTIONS, "TOO_MANY_TRANSACTIONS", "the maximum number of open transactions is reached"),
    E(TSE_ERR_PIN_BLOCKED, "PIN_BLOCKED", "the PIN is blocked; unblock it with the PUK"),
    E(TSE_ERR_KEY_UNAVAILABLE, "KEY_UNAVAILABLE", "the private key cannot be used: master key missing, wrong or unsafe"),
    E(TSE_ERR_CERTIFICATE_INVALID, "CERTIFICATE_INVALID", "the certificate is invalid or does not match the TSE key"),
    E(TSE_ERR_ALREADY_EXISTS, "ALREADY_EXISTS", "it exists already"),
    E(TSE_ERR_NOT_FOUND, "NOT_FOUND", "not found"),
    E(TSE_ERR_UNREACHABLE, "UNREACHABLE", "the TSE cannot be reached"),
    E(TSE_ERR_INTERNAL, "INTERNAL", "internal error"),
    E(TSE_ERR_NOT_SUPPORTED, "NOT_SUPPORTED", "this transport does not offer the operation"),
    E(TSE_ERR_TRANSACTION_LOGGING_LOCKED, "TRANSACTION_LOGGING_LOCKED", "transaction logging is locked"),
    E(TSE_ERR_TRANSACTION_LOGGING_NOT_LOCKED, "TRANSACTION_LOGGING_NOT_LOCKED", "transaction logging is not locked"),
    E(TSE_ERR_OPEN_TRANSACTION_FOUND, "OPEN_TRANSACTION_FOUND", "open transactions must be finished first"),
    E(TSE_ERR_LOGGING_OF_EVENT_NOT_CONFIGURABLE, "LOGGING_OF_EVENT_NOT_CONFIGURABLE", "the logging of this event is not configurable"),
    E(TSE_ERR_UPDATE_DEVICE_FAILED, "UPDATE_DEVICE_FAILED", "the update package was refused"),
};

static const err_entry *find(int code)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == code)
            return &errors[i];
    return NULL;
}

bool error_lookup(const char *name, size_t len, int *code)
{
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (strlen(errors[i].name) == len && memcmp(errors[i].name, name, len) == 0) {
            *code = errors[i].code;
            return true;
        }
    return false;
}

const char *error_name(int code)
{
    const err_entry *e = find(code);
    return e ? e->name : NULL;
}

const char *error_text(int code)
{
    const err_entry *e = find(code);
    return e ? e->text : NULL;
}

const char *tse_errname(int code)
{
    const err_entry *e = find(code);
    return e ? e->name : "UNKNOWN_ERROR";
}

const char *tse_strerror(int code)
{
    const err_entry *e = find(code);
    return e ? e->both : "UNKNOWN_ERROR: not an OpenTSE error code";
}

int error_set(tse_error *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(e->message, sizeof e->message, fmt, ap) < 0)
        e->message[0] = 0;
    va_end(ap);
    return code;
}

int error_copy(tse_error *e, const tse_error *from)
{
    if (!from)
        return 0;
    if (e && e != from)
        *e = *from;
    return from->code;
}

tse_error *error_last(void)
{
    static _Thread_local tse_error last;
    return &last;
}
