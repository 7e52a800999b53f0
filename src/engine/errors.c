/*
 * errors.c - names and messages of every tse_err code, and the per-thread
 * detail message behind tse_last_error_message().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

typedef struct err_entry {
    int code;
    const char *name;
    const char *text;
} err_entry;

static const err_entry errors[] = {
    {TSE_OK, "OK", "success"},
    {TSE_ERR_AUTHENTICATION_FAILED, "AUTHENTICATION_FAILED", "the PIN is wrong"},
    {TSE_ERR_UNBLOCK_FAILED, "UNBLOCK_FAILED", "unblocking failed: the PUK is wrong"},
    {TSE_ERR_RETRIEVE_LOG_MESSAGE_FAILED, "RETRIEVE_LOG_MESSAGE_FAILED", "the log message parts could not be retrieved"},
    {TSE_ERR_STORAGE_FAILURE, "STORAGE_FAILURE", "storing to the TSE's storage failed; nothing was changed"},
    {TSE_ERR_UPDATE_TIME_FAILED, "UPDATE_TIME_FAILED", "updating the time failed"},
    {TSE_ERR_PARAMETER_MISMATCH, "PARAMETER_MISMATCH", "the parameters contradict each other"},
    {TSE_ERR_ID_NOT_FOUND, "ID_NOT_FOUND", "no data for the given client id"},
    {TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND, "TRANSACTION_NUMBER_NOT_FOUND", "no data for the given transaction number"},
    {TSE_ERR_NO_DATA_AVAILABLE, "NO_DATA_AVAILABLE", "no data matches the given parameters"},
    {TSE_ERR_TOO_MANY_RECORDS, "TOO_MANY_RECORDS", "more records match than maximumNumberRecords allows"},
    {TSE_ERR_START_TRANSACTION_FAILED, "START_TRANSACTION_FAILED", "starting the transaction failed"},
    {TSE_ERR_UPDATE_TRANSACTION_FAILED, "UPDATE_TRANSACTION_FAILED", "updating the transaction failed"},
    {TSE_ERR_FINISH_TRANSACTION_FAILED, "FINISH_TRANSACTION_FAILED", "finishing the transaction failed"},
    {TSE_ERR_RESTORE_FAILED, "RESTORE_FAILED", "restoring from the backup failed; nothing was changed"},
    {TSE_ERR_STORING_INIT_DATA_FAILED, "STORING_INIT_DATA_FAILED", "storing the initialization data failed"},
    {TSE_ERR_EXPORT_CERT_FAILED, "EXPORT_CERT_FAILED", "exporting the certificates failed"},
    {TSE_ERR_NO_LOG_MESSAGE, "NO_LOG_MESSAGE", "no log message is stored"},
    {TSE_ERR_READING_LOG_MESSAGE, "READING_LOG_MESSAGE", "reading the log message failed"},
    {TSE_ERR_NO_TRANSACTION, "NO_TRANSACTION", "no open transaction with that number for that client"},
    {TSE_ERR_SE_API_NOT_INITIALIZED, "SE_API_NOT_INITIALIZED", "the TSE is not initialized"},
    {TSE_ERR_TIME_NOT_SET, "TIME_NOT_SET", "the TSE's time has not been set"},
    {TSE_ERR_CERTIFICATE_EXPIRED, "CERTIFICATE_EXPIRED", "the certificate has expired; the log message was still stored"},
    {TSE_ERR_SECURE_ELEMENT_DISABLED, "SECURE_ELEMENT_DISABLED", "the TSE is disabled"},
    {TSE_ERR_USER_NOT_AUTHORIZED, "USER_NOT_AUTHORIZED", "the user's role does not allow this operation"},
    {TSE_ERR_USER_NOT_AUTHENTICATED, "USER_NOT_AUTHENTICATED", "no user with the required role is logged in"},
    {TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER, "DESCRIPTION_NOT_SET_BY_MANUFACTURER", "a description is required: the manufacturer did not set one"},
    {TSE_ERR_DESCRIPTION_SET_BY_MANUFACTURER, "DESCRIPTION_SET_BY_MANUFACTURER", "the manufacturer already set the description"},
    {TSE_ERR_EXPORT_SERIAL_NUMBERS_FAILED, "EXPORT_SERIAL_NUMBERS_FAILED", "exporting the serial numbers failed"},
    {TSE_ERR_GET_MAX_NUMBER_OF_CLIENTS_FAILED, "GET_MAX_NUMBER_OF_CLIENTS_FAILED", "reading the maximum number of clients failed"},
    {TSE_ERR_GET_CURRENT_NUMBER_OF_CLIENTS_FAILED, "GET_CURRENT_NUMBER_OF_CLIENTS_FAILED", "reading the number of clients failed"},
    {TSE_ERR_GET_MAX_NUMBER_TRANSACTIONS_FAILED, "GET_MAX_NUMBER_TRANSACTIONS_FAILED", "reading the maximum number of transactions failed"},
    {TSE_ERR_GET_CURRENT_NUMBER_OF_TRANSACTIONS_FAILED, "GET_CURRENT_NUMBER_OF_TRANSACTIONS_FAILED", "reading the number of open transactions failed"},
    {TSE_ERR_GET_SUPPORTED_UPDATE_VARIANTS_FAILED, "GET_SUPPORTED_UPDATE_VARIANTS_FAILED", "reading the supported update variants failed"},
    {TSE_ERR_DELETE_STORED_DATA_FAILED, "DELETE_STORED_DATA_FAILED", "deleting stored data failed"},
    {TSE_ERR_UNEXPORTED_STORED_DATA, "UNEXPORTED_STORED_DATA", "stored data has not been exported yet"},
    {TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED, "SIGNING_SYSTEM_OPERATION_DATA_FAILED", "signing the system log failed"},
    {TSE_ERR_USER_ID_NOT_MANAGED, "USER_ID_NOT_MANAGED", "the user id is not managed by the TSE"},
    {TSE_ERR_USER_ID_NOT_AUTHENTICATED, "USER_ID_NOT_AUTHENTICATED", "the user id is not logged in"},
    {TSE_ERR_DISABLE_SECURE_ELEMENT_FAILED, "DISABLE_SECURE_ELEMENT_FAILED", "disabling the TSE failed"},
    {TSE_ERR_INVALID_TIME, "INVALID_TIME", "the time is out of range"},
    {TSE_ERR_INVALID_ARGUMENT, "INVALID_ARGUMENT", "an argument is missing or malformed"},
    {TSE_ERR_TOO_LARGE, "TOO_LARGE", "an argument exceeds its size limit"},
    {TSE_ERR_NO_MEMORY, "NO_MEMORY", "out of memory"},
    {TSE_ERR_STORE_IN_USE, "STORE_IN_USE", "the TSE's store is in use by another process or handle"},
    {TSE_ERR_SELF_TEST_FAILED, "SELF_TEST_FAILED", "the self-test failed; the TSE refuses to sign"},
    {TSE_ERR_WRONG_STATE, "WRONG_STATE", "the operation is not allowed in the TSE's current state"},
    {TSE_ERR_CLIENT_NOT_REGISTERED, "CLIENT_NOT_REGISTERED", "the client id is not registered"},
    {TSE_ERR_TOO_MANY_CLIENTS, "TOO_MANY_CLIENTS", "the maximum number of registered clients is reached"},
    {TSE_ERR_TOO_MANY_TRANSACTIONS, "TOO_MANY_TRANSACTIONS", "the maximum number of open transactions is reached"},
    {TSE_ERR_PIN_BLOCKED, "PIN_BLOCKED", "the PIN is blocked; unblock it with the PUK"},
    {TSE_ERR_KEY_UNAVAILABLE, "KEY_UNAVAILABLE", "the private key cannot be used: master key missing, wrong or unsafe"},
    {TSE_ERR_CERTIFICATE_INVALID, "CERTIFICATE_INVALID", "the certificate is invalid or does not match the TSE key"},
    {TSE_ERR_ALREADY_EXISTS, "ALREADY_EXISTS", "it exists already"},
    {TSE_ERR_NOT_FOUND, "NOT_FOUND", "not found"},
    {TSE_ERR_UNREACHABLE, "UNREACHABLE", "the TSE cannot be reached"},
    {TSE_ERR_INTERNAL, "INTERNAL", "internal error"},
    {TSE_ERR_NOT_SUPPORTED, "NOT_SUPPORTED", "this transport does not offer the operation"},
};

static const err_entry *find(int code)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == code)
            return &errors[i];
    return NULL;
}

const char *tse_errname(int code)
{
    const err_entry *e = find(code);
    return e ? e->name : "UNKNOWN_ERROR";
}

const char *tse_strerror(int code)
{
    static _Thread_local char buf[160];
    const err_entry *e = find(code);
    if (!e) {
        snprintf(buf, sizeof buf, "UNKNOWN_ERROR: unknown error code %d", code);
        return buf;
    }
    snprintf(buf, sizeof buf, "%s: %s", e->name, e->text);
    return buf;
}

static _Thread_local char last_message[512];

const char *tse_last_error_message(void)
{
    return last_message;
}

tse_err engine_fail(tse_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(last_message, sizeof last_message, "%s: ", tse_errname(code));
    if (n > 0 && (size_t)n < sizeof last_message)
        vsnprintf(last_message + n, sizeof last_message - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

void tse_free(void *p)
{
    free(p);
}

void tse_free_strings(char **strings, size_t count)
{
    if (!strings)
        return;
    for (size_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}
