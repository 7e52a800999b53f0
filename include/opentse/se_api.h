/*
 * se_api.h - the SE API of BSI TR-03151-1 v1.1.1 section 3 in the ANSI C
 * mapping of TR-03151-2's appendix (v1.1.0), on libopentse.
 *
 * The mapping: function names are the TR's (lowerCamelCase); every function
 * returns a short int, EXECUTION_OK or one of the ERROR_... codes below,
 * each named after the TR's exception (ErrorTimeNotSet -> ERROR_TIME_NOT_SET);
 * inputs of type octet[] or string are `const unsigned char *` with an
 * `unsigned long int ...Length` after them (strings: strlen + 1, the NUL
 * included; NULL with 0 for a conditional one that is not given); an output
 * array comes as `...Limit` (the caller's buffer size), the buffer and
 * `*...Length` (the bytes written); when the buffer is too small the
 * function returns MEMORY_ERROR_LIMIT_TOO_LOW, writes nothing into it and
 * sets `*...Length` to the size needed. Exports are chunked with an
 * `...Offset` instead and never give MEMORY_ERROR_LIMIT_TOO_LOW: a returned
 * length below the limit means the end was reached. DateTime is a
 * `struct tm` in UTC. An optional parameter gives a second function whose
 * name carries the parameter's name (updateTransactionForceSignature). Text
 * outputs are NUL-terminated and their length counts the NUL.
 * getLastFunctionCallStatus returns the last call's code again, with its
 * additional information as text (the remaining PIN retries after
 * ERROR_INCORRECT_PIN; otherwise the reason OpenTSE gives).
 *
 * Which TSE: the SE API has one current TSE per process, bound with the
 * OpenTSE-specific seApiOpen() (outside the TR's names) and released with
 * seApiClose(). Every other function works on it; before seApiOpen they
 * return ERROR_SE_API_NOT_BOUND. The functions may be called from several
 * threads; getLastFunctionCallStatus is per thread.
 *
 * Users: "admin" (the Admin role) and "timeadmin" (updateTime only) as in
 * <opentse/opentse.h>. Transactions need no login.
 */
#ifndef OPENTSE_SE_API_H
#define OPENTSE_SE_API_H

#include <stdbool.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SE_API __attribute__((visibility("default")))
#else
#define SE_API
#endif

#define EXECUTION_OK 0

/* The exceptions of TR-03151-1 v1.1.1 table 12. */
#define ERROR_CERTIFICATE_EXPIRED -20000
#define ERROR_CLIENT_ALREADY_REGISTERED -20001
#define ERROR_CLIENT_LIMIT_REACHED -20002
#define ERROR_CLIENT_NOT_REGISTERED -20003
#define ERROR_CONFIGURE_LOGGING_FAILED -20004
#define ERROR_CURRENT_NUMBER_OF_CLIENTS_NOT_TRACKED -20005
#define ERROR_DELETE_LOG_MESSAGES_FAILED -20006
#define ERROR_DEREGISTER_CLIENT_FAILED -20007
#define ERROR_DEVICE_INITIALIZATION_FAILED -20008
#define ERROR_DEVICE_IS_INITIALIZED -20009
#define ERROR_DEVICE_NOT_INITIALIZED -20010
#define ERROR_DISABLE_SECURE_ELEMENT_FAILED -20011
#define ERROR_EXPORT_LOGGING_CERTIFICATE_FAILED -20012
#define ERROR_EXPORT_SERIAL_NUMBERS_FAILED -20013
#define ERROR_FUNCTION_FAILED -20014
#define ERROR_FUNCTION_NOT_SUPPORTED -20015
#define ERROR_GET_COMPONENT_VERSIONS_FAILED -20016
#define ERROR_GET_CURRENT_NUMBER_OF_CLIENTS_FAILED -20017
#define ERROR_GET_CURRENT_NUMBER_OF_TRANSACTIONS_FAILED -20018
#define ERROR_GET_CURRENT_SE_TIME_FAILED -20019
#define ERROR_GET_CURRENT_SIGNATURE_COUNTER_FAILED -20020
#define ERROR_GET_CURRENT_TRANSACTION_COUNTER_FAILED -20021
#define ERROR_GET_DESCRIPTION_FAILED -20022
#define ERROR_GET_DEVICE_HEALTH_FAILED -20023
#define ERROR_GET_END_OF_USAGE_DATE_FAILED -20024
#define ERROR_GET_FREE_MEMORY_FAILED -20025
#define ERROR_GET_MAX_NUMBER_OF_CLIENTS_FAILED -20026
#define ERROR_GET_MAX_NUMBER_TRANSACTIONS_FAILED -20027
#define ERROR_GET_OPEN_TRANSACTIONS_FAILED -20028
#define ERROR_GET_REGISTERED_CLIENTS_FAILED -20029
#define ERROR_GET_SUPPORTED_UPDATE_VARIANTS_FAILED -20030
#define ERROR_GET_TIME_SYNC_VARIANT_FAILED -20031
#define ERROR_GET_TOTAL_MEMORY_FAILED -20032
#define ERROR_GET_TRANSACTION_STATE_FAILED -20033
#define ERROR_GET_USED_MEMORY_FAILED -20034
#define ERROR_CLIENT_ID_NOT_FOUND -20035
#define ERROR_INCORRECT_PIN -20036
#define ERROR_INCORRECT_PUK -20037
#define ERROR_INVALID_CLIENT_ID_CHARACTER -20038
#define ERROR_INVALID_TIME -20039
#define ERROR_LIMIT_OF_SIMULTANEOUS_OPEN_TRANSACTIONS_REACHED -20040
#define ERROR_LOCK_TRANSACTION_LOGGING_FAILED -20041
#define ERROR_LOGGING_OF_EVENT_NOT_CONFIGURABLE -20042
#define ERROR_NO_DATA_AVAILABLE -20043
#define ERROR_NO_LOG_MESSAGE_FOUND -20044
#define ERROR_OPEN_TRANSACTION_FOUND -20045
#define ERROR_PARAMETER_MISMATCH -20046
#define ERROR_PARAMETER_TOO_LONG -20047
#define ERROR_PARAMETER_SYNTAX -20048
#define ERROR_PIN_BLOCKED -20049
#define ERROR_PUK_TEMPORARILY_BLOCKED -20050
#define ERROR_READING_LOG_MESSAGE -20051
#define ERROR_REGISTER_CLIENT_FAILED -20052
#define ERROR_RESETTING_RETRY_COUNTER_FAILED -20053
#define ERROR_RESTORE_FAILED -20054
#define ERROR_RETRIEVE_LOG_MESSAGE_FAILED -20055
#define ERROR_SECURE_ELEMENT_DISABLED -20056
#define ERROR_SECURE_ELEMENT_PARTS_DISCONNECTED -20057
#define ERROR_SELF_TEST_FAILED -20058
#define ERROR_SETTING_NEW_PIN_FAILED -20059
#define ERROR_SIGNATURE_COUNTER_EXHAUSTED -20060
#define ERROR_SIGNATURE_COUNTER_OVERFLOW -20061
#define ERROR_SIGNING_EVENT_DATA_FAILED -20062
#define ERROR_STORAGE_MEDIUM_DISCONNECTED -20063
#define ERROR_STORAGE_MEMORY_FULL -20064
#define ERROR_STORING_LOG_MESSAGE_FAILED -20065
#define ERROR_STORING_DATA_FAILED -20066
#define ERROR_TIME_NOT_SET -20067
#define ERROR_TOO_MANY_RECORDS -20068
#define ERROR_TRANSACTION_COUNTER_EXHAUSTED -20069
#define ERROR_TRANSACTION_COUNTER_OVERFLOW -20070
#define ERROR_TRANSACTION_LOGGING_LOCKED -20071
#define ERROR_TRANSACTION_LOGGING_NOT_LOCKED -20072
#define ERROR_TRANSACTION_NUMBER_NOT_FOUND -20073
#define ERROR_UNBLOCKING_PIN_FAILED -20074
#define ERROR_UNEXPORTED_LOG_MESSAGES -20075
#define ERROR_UNKNOWN_USER_ID -20076
#define ERROR_UNLOCK_TRANSACTION_LOGGING_FAILED -20077
#define ERROR_UNSUPPORTED_TIME_SYNC_VARIANT -20078
#define ERROR_UPDATE_DEVICE_FAILED -20079
#define ERROR_UPDATE_TIME_FAILED -20080
#define ERROR_UPDATE_TRANSACTION_FAILED -20081
#define ERROR_USER_NOT_AUTHENTICATED -20082
#define ERROR_USER_NOT_AUTHORIZED -20083
/* TR-03151-1 names these in the functions' descriptions; TR-03151-2 the last. */
#define ERROR_START_TRANSACTION_FAILED -20084
#define ERROR_FINISH_TRANSACTION_FAILED -20085
#define MEMORY_ERROR_LIMIT_TOO_LOW -20086
/* OpenTSE's: no TSE bound (seApiOpen), or it could not be opened. */
#define ERROR_SE_API_NOT_BOUND -20100

/* ---- enumerations (TR-03151-1 v1.1.1) */
typedef enum SyncVariants {
    SyncVariants_automaticSync,
    SyncVariants_manualSync,
    SyncVariants_automaticAndManualSync
} SyncVariants;

typedef enum UpdateVariants {
    UpdateVariants_alwaysSigned,
    UpdateVariants_aggregating,
    UpdateVariants_alwaysSignedAndAggregating
} UpdateVariants;

typedef enum UpdateProtectionVariants {
    UpdateProtectionVariants_noPrevPassedInMem,
    UpdateProtectionVariants_noPrevPassedProtected,
    UpdateProtectionVariants_prevAndPassedInMem,
    UpdateProtectionVariants_prevAndPassedProtected,
    UpdateProtectionVariants_prevProtectedPassedInMem,
    UpdateProtectionVariants_prevProtectedPassedProtected
} UpdateProtectionVariants;

typedef enum FinishProtectionVariants {
    FinishProtectionVariants_updateLogNotCreated,
    FinishProtectionVariants_updateLogCreated
} FinishProtectionVariants;

typedef enum TransactionState {
    TransactionState_started,
    TransactionState_updated,
    TransactionState_updatedWithUnprotectedData,
    TransactionState_finished,
    TransactionState_abandoned
} TransactionState;

/* ---- OpenTSE: binding the current TSE */

/* Opens the TSE at `url` as the current one (closing a current one first):
 * "file:/path/tse.db" (a TSE made by `opentse tss create`; `masterKeyPath`
 * names its master key file) or "http(s)://host:port/tss/<uuid>" (an
 * opentsed TSS; `apiKey` and `apiSecret`, or the environment's
 * OPENTSE_API_KEY and OPENTSE_API_SECRET when NULL). Plain C strings.
 * ERROR_SE_API_NOT_BOUND when it cannot be opened (getLastFunctionCallStatus
 * names why), ERROR_PARAMETER_SYNTAX for a NULL url. */
SE_API short int seApiOpen(const char *url, const char *masterKeyPath, const char *apiKey, const char *apiSecret);
/* Closes the current TSE; EXECUTION_OK also when none is bound. */
SE_API short int seApiClose(void);

/* ---- 2.2.1: the last call's status */
SE_API short int getLastFunctionCallStatus(unsigned long int errorDataLimit, unsigned char *errorData,
                                           unsigned long int *errorDataLength);

/* ---- 3.2 users */
SE_API short int authenticateUser(const unsigned char *userId, unsigned long int userIdLength,
                                  const unsigned char *pin, unsigned long int pinLength);
SE_API short int logOut(const unsigned char *userId, unsigned long int userIdLength);
SE_API short int unblockPin(const unsigned char *userId, unsigned long int userIdLength, const unsigned char *puk,
                            unsigned long int pukLength, const unsigned char *newPin, unsigned long int newPinLength);

/* ---- 3.3 core functionality */
/* Without a description set by the manufacturer the TSE is initialized
 * with the description "OpenTSE" (setDescription changes it). */
SE_API short int initialize(void);
SE_API short int setDescription(const unsigned char *description, unsigned long int descriptionLength);
SE_API short int getDescription(unsigned long int descriptionLimit, unsigned char *description,
                                unsigned long int *descriptionLength);
/* selfTestResults: the DER SelfTestResultSet of the selfTest log. */
SE_API short int selfTest(unsigned long int selfTestResultsLimit, unsigned char *selfTestResults,
                          unsigned long int *selfTestResultsLength);
/* update: a signed update package (docs/se-api.md "Update packages"),
 * verified against the deployment's update key (OPENTSE_UPDATE_KEY,
 * opentsed --update-key); applying it records the versions it names
 * (getComponentVersions, info.csv). Every attempt past the login and state
 * checks writes the updateDevice and updateDeviceCompleted system logs; a
 * refused package gives ERROR_UPDATE_DEVICE_FAILED. */
SE_API short int updateDevice(const unsigned char *update, unsigned long int updateLength);
SE_API short int disableSecureElement(void);

/* ---- 3.4 device information */
SE_API short int getTotalMemory(unsigned long int *totalMemory);
SE_API short int getUsedMemory(unsigned long int *usedMemory);
SE_API short int getFreeMemory(unsigned long int *freeMemory);
SE_API short int getDeviceHealth(unsigned long int healthInformationSetLimit, unsigned char *healthInformationSet,
                                 unsigned long int *healthInformationSetLength);
SE_API short int getComponentVersions(unsigned long int deviceInformationSetLimit,
                                      unsigned char *deviceInformationSet,
                                      unsigned long int *deviceInformationSetLength);
SE_API short int getEndOfUsageDate(struct tm *endOfUsageDate);

/* ---- 3.5 time */
SE_API short int updateTime(const struct tm *newDateTime);
SE_API short int getTimeSyncVariant(SyncVariants *supportedSyncVariant);
SE_API short int getCurrentSeTime(struct tm *currentSeTime);

/* ---- 3.6 logging utility functions */
SE_API short int configureLogging(const unsigned char *componentName, unsigned long int componentNameLength,
                                  const unsigned char *eventName, unsigned long int eventNameLength,
                                  bool eventEnabled);
/* Every stored log (TAR, TR-03151-1 2.5). Offset 0 makes the archive; later
 * offsets read on in that same archive. */
SE_API short int exportLogMessages(unsigned long long int exportedDataOffset,
                                   unsigned long long int exportedDataLimit, unsigned char *exportedData,
                                   unsigned long long int *exportedDataLength, unsigned long int fileNameLimit,
                                   unsigned char *fileName, unsigned long int *fileNameLength);
/* The certificate chain as a TAR of <key serial hex>_X509.der files. */
SE_API short int exportLoggingCertificates(unsigned long long int certificatesOffset,
                                           unsigned long long int certificatesLimit, unsigned char *certificates,
                                           unsigned long long int *certificatesLength,
                                           unsigned long int fileNameLimit, unsigned char *fileName,
                                           unsigned long int *fileNameLength);
SE_API short int deleteLogMessages(void);
SE_API short int exportSerialNumbers(unsigned long int serialNumbersLimit, unsigned char *serialNumbers,
                                     unsigned long int *serialNumbersLength);
SE_API short int getCurrentLoggingSignatureCounters(unsigned long int signatureCountersLimit,
                                                    unsigned char *signatureCounters,
                                                    unsigned long int *signatureCountersLength);
SE_API short int restoreLogsFromBackup(const unsigned char *restoreData, unsigned long long int restoreDataLength);
SE_API short int getLastLogMessage(unsigned long int logMessageFileNameLimit, unsigned char *logMessageFileName,
                                   unsigned long int *logMessageFileNameLength,
                                   unsigned long int logMessageContentLimit, unsigned char *logMessageContent,
                                   unsigned long int *logMessageContentLength);

/* ---- 3.7 logging of external data */
SE_API short int registerClient(const unsigned char *clientId, unsigned long int clientIdLength);
SE_API short int deregisterClient(const unsigned char *clientId, unsigned long int clientIdLength);

SE_API short int startTransaction(const unsigned char *clientId, unsigned long int clientIdLength,
                                  const unsigned char *processData, unsigned long int processDataLength,
                                  const unsigned char *processType, unsigned long int processTypeLength,
                                  unsigned long int *transactionNumber, struct tm *signatureCreationTime,
                                  unsigned long int serialNumberLimit, unsigned char *serialNumber,
                                  unsigned long int *serialNumberLength, unsigned long int *signatureCounter,
                                  unsigned long int signatureValueLimit, unsigned char *signatureValue,
                                  unsigned long int *signatureValueLength);
SE_API short int startTransactionAdditionalExternalData(
    const unsigned char *clientId, unsigned long int clientIdLength, const unsigned char *processData,
    unsigned long int processDataLength, const unsigned char *processType, unsigned long int processTypeLength,
    const unsigned char *additionalExternalData, unsigned long int additionalExternalDataLength,
    unsigned long int *transactionNumber, struct tm *signatureCreationTime, unsigned long int serialNumberLimit,
    unsigned char *serialNumber, unsigned long int *serialNumberLength, unsigned long int *signatureCounter,
    unsigned long int signatureValueLimit, unsigned char *signatureValue, unsigned long int *signatureValueLength);

/* Without forceSignature OpenTSE keeps the data in memory (durably) for the
 * transaction's next log (noPrevPassedInMem / prevAndPassedInMem); with
 * forceSignature true it signs one update log with any data kept before
 * (noPrevPassedProtected / prevAndPassedProtected). Any registered client
 * may update the transaction. Data kept under another clientId or
 * processType is first signed in an update log of its own under those
 * (TR-03151-1 3.7.6.5 step 9): the first log's outputs are that log, the
 * second's the call's own signed log (prevProtectedPassedProtected), or
 * none without forceSignature (prevProtectedPassedInMem). Outputs of a log
 * that was not created are left zero. */
SE_API short int updateTransaction(const unsigned char *clientId, unsigned long int clientIdLength,
                                   unsigned long int transactionNumber, const unsigned char *processData,
                                   unsigned long int processDataLength, const unsigned char *processType,
                                   unsigned long int processTypeLength,
                                   UpdateProtectionVariants *performedUpdateProtection,
                                   struct tm *firstLogSignatureCreationTime,
                                   unsigned long int firstLogSignatureValueLimit, unsigned char *firstLogSignatureValue,
                                   unsigned long int *firstLogSignatureValueLength,
                                   unsigned long int *firstLogSignatureCounter,
                                   struct tm *secondLogSignatureCreationTime,
                                   unsigned long int secondLogSignatureValueLimit,
                                   unsigned char *secondLogSignatureValue,
                                   unsigned long int *secondLogSignatureValueLength,
                                   unsigned long int *secondLogSignatureCounter);
SE_API short int updateTransactionForceSignature(
    const unsigned char *clientId, unsigned long int clientIdLength, unsigned long int transactionNumber,
    const unsigned char *processData, unsigned long int processDataLength, const unsigned char *processType,
    unsigned long int processTypeLength, bool forceSignature, UpdateProtectionVariants *performedUpdateProtection,
    struct tm *firstLogSignatureCreationTime, unsigned long int firstLogSignatureValueLimit,
    unsigned char *firstLogSignatureValue, unsigned long int *firstLogSignatureValueLength,
    unsigned long int *firstLogSignatureCounter, struct tm *secondLogSignatureCreationTime,
    unsigned long int secondLogSignatureValueLimit, unsigned char *secondLogSignatureValue,
    unsigned long int *secondLogSignatureValueLength, unsigned long int *secondLogSignatureCounter);

/* Data kept in memory of the same clientId and processType goes into the
 * finish log itself (updateLogNotCreated; the second log's outputs stay
 * zero); data kept under others is first signed in an update log of its
 * own (updateLogCreated: first log the update log, second the finish
 * log). Any registered client may finish the transaction. */
SE_API short int finishTransaction(const unsigned char *clientId, unsigned long int clientIdLength,
                                   unsigned long int transactionNumber, const unsigned char *processData,
                                   unsigned long int processDataLength, const unsigned char *processType,
                                   unsigned long int processTypeLength,
                                   FinishProtectionVariants *performedFinishProtection,
                                   struct tm *firstLogSignatureCreationTime,
                                   unsigned long int firstLogSignatureValueLimit, unsigned char *firstLogSignatureValue,
                                   unsigned long int *firstLogSignatureValueLength,
                                   unsigned long int *firstLogSignatureCounter,
                                   struct tm *secondLogSignatureCreationTime,
                                   unsigned long int secondLogSignatureValueLimit,
                                   unsigned char *secondLogSignatureValue,
                                   unsigned long int *secondLogSignatureValueLength,
                                   unsigned long int *secondLogSignatureCounter);

/* Conditional filters: clientId NULL, the numbers 0, the dates NULL and
 * maximumNumberRecords 0 mean "not given". Offset as exportLogMessages. */
SE_API short int exportFilteredTransactionLogs(
    const unsigned char *clientId, unsigned long int clientIdLength, unsigned long int transactionNumber,
    unsigned long int firstTransactionNumber, unsigned long int lastTransactionNumber, const struct tm *startDate,
    const struct tm *endDate, long int maximumNumberRecords, unsigned long long int exportedDataOffset,
    unsigned long long int exportedDataLimit, unsigned char *exportedData, unsigned long long int *exportedDataLength,
    unsigned long int fileNameLimit, unsigned char *fileName, unsigned long int *fileNameLength);

SE_API short int getSupportedTransactionUpdateVariants(UpdateVariants *supportedUpdateVariants);
SE_API short int getCurrentNumberOfClients(unsigned long int *currentNumberOfClients);
SE_API short int getMaxNumberOfClients(unsigned long int *maxNumberClients);
/* DER ClientInfoSet (SEQUENCE OF SEQUENCE {clientId PrintableString}). */
SE_API short int getRegisteredClients(unsigned long int registeredClientsLimit, unsigned char *registeredClients,
                                      unsigned long int *registeredClientsLength);
SE_API short int getCurrentNumberOfTransactions(unsigned long int *currentNumberOfTransactions);
SE_API short int getMaxNumberOfTransactions(unsigned long int *maxNumberTransactions);
SE_API short int getTransactionState(unsigned long int transactionNumber, TransactionState *transactionState);
/* DER TransactionInfoSet. */
SE_API short int getOpenTransactions(unsigned long int openTransactionsLimit, unsigned char *openTransactions,
                                     unsigned long int *openTransactionsLength);
SE_API short int getCurrentTransactionCounter(unsigned long int *transactionNumber);
SE_API short int getLastTransactionLogMessage(unsigned long int logMessageFileNameLimit,
                                              unsigned char *logMessageFileName,
                                              unsigned long int *logMessageFileNameLength,
                                              unsigned long int logMessageContentLimit,
                                              unsigned char *logMessageContent,
                                              unsigned long int *logMessageContentLength);
SE_API short int getLastTransactionLogMessageTransactionNumber(
    unsigned long int transactionNumber, unsigned long int logMessageFileNameLimit, unsigned char *logMessageFileName,
    unsigned long int *logMessageFileNameLength, unsigned long int logMessageContentLimit,
    unsigned char *logMessageContent, unsigned long int *logMessageContentLength);
SE_API short int lockTransactionLogging(void);
SE_API short int unlockTransactionLogging(void);

#ifdef __cplusplus
}
#endif
#endif /* OPENTSE_SE_API_H */
