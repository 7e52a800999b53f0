/*
 * opentse.h - the public SE API of OpenTSE (BSI TR-03151 section 4).
 *
 * A TSE is opened as an opaque handle (`tse *`) and every operation returns a
 * `tse_err`: TSE_OK (0) or a negative error code. Codes -4000..-5038 are the
 * TR-03151 codes; codes from -6000 down are OpenTSE's own, for conditions the
 * guideline does not name. tse_strerror() names every code.
 *
 * Ownership: pointers passed in are borrowed for the duration of the call.
 * Memory returned through `**out` parameters is owned by the caller and must be
 * released with tse_free() (or the dedicated *_free function named next to
 * it). Result structs are filled by value.
 *
 * Thread safety: every function may be called from many threads on one handle
 * and on many handles at once.
 */
#ifndef OPENTSE_H
#define OPENTSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TSE_API __attribute__((visibility("default")))
#else
#define TSE_API
#endif

/* ---------------------------------------------------------------- errors */

typedef enum tse_err {
    TSE_OK = 0,
    /* TR-03151 section 4 */
    TSE_ERR_AUTHENTICATION_FAILED = -4000,
    TSE_ERR_UNBLOCK_FAILED = -4001,
    TSE_ERR_RETRIEVE_LOG_MESSAGE_FAILED = -5001,
    TSE_ERR_STORAGE_FAILURE = -5002,
    TSE_ERR_UPDATE_TIME_FAILED = -5003,
    TSE_ERR_PARAMETER_MISMATCH = -5004,
    TSE_ERR_ID_NOT_FOUND = -5005,
    TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND = -5006,
    TSE_ERR_NO_DATA_AVAILABLE = -5007,
    TSE_ERR_TOO_MANY_RECORDS = -5008,
    TSE_ERR_START_TRANSACTION_FAILED = -5009,
    TSE_ERR_UPDATE_TRANSACTION_FAILED = -5010,
    TSE_ERR_FINISH_TRANSACTION_FAILED = -5011,
    TSE_ERR_RESTORE_FAILED = -5012,
    TSE_ERR_STORING_INIT_DATA_FAILED = -5013,
    TSE_ERR_EXPORT_CERT_FAILED = -5014,
    TSE_ERR_NO_LOG_MESSAGE = -5015,
    TSE_ERR_READING_LOG_MESSAGE = -5016,
    TSE_ERR_NO_TRANSACTION = -5017,
    TSE_ERR_SE_API_NOT_INITIALIZED = -5018,
    TSE_ERR_TIME_NOT_SET = -5019,
    TSE_ERR_CERTIFICATE_EXPIRED = -5020,
    TSE_ERR_SECURE_ELEMENT_DISABLED = -5021,
    TSE_ERR_USER_NOT_AUTHORIZED = -5022,
    TSE_ERR_USER_NOT_AUTHENTICATED = -5023,
    TSE_ERR_DESCRIPTION_NOT_SET_BY_MANUFACTURER = -5024,
    TSE_ERR_DESCRIPTION_SET_BY_MANUFACTURER = -5025,
    TSE_ERR_EXPORT_SERIAL_NUMBERS_FAILED = -5026,
    TSE_ERR_GET_MAX_NUMBER_OF_CLIENTS_FAILED = -5027,
    TSE_ERR_GET_CURRENT_NUMBER_OF_CLIENTS_FAILED = -5028,
    TSE_ERR_GET_MAX_NUMBER_TRANSACTIONS_FAILED = -5029,
    TSE_ERR_GET_CURRENT_NUMBER_OF_TRANSACTIONS_FAILED = -5030,
    TSE_ERR_GET_SUPPORTED_UPDATE_VARIANTS_FAILED = -5031,
    TSE_ERR_DELETE_STORED_DATA_FAILED = -5032,
    TSE_ERR_UNEXPORTED_STORED_DATA = -5033,
    TSE_ERR_SIGNING_SYSTEM_OPERATION_DATA_FAILED = -5034,
    TSE_ERR_USER_ID_NOT_MANAGED = -5035,
    TSE_ERR_USER_ID_NOT_AUTHENTICATED = -5036,
    TSE_ERR_DISABLE_SECURE_ELEMENT_FAILED = -5037,
    TSE_ERR_INVALID_TIME = -5038,
    /* OpenTSE's own */
    TSE_ERR_INVALID_ARGUMENT = -6000,   /* NULL, malformed or out-of-range argument */
    TSE_ERR_TOO_LARGE = -6001,          /* an argument exceeds its size limit */
    TSE_ERR_NO_MEMORY = -6002,
    TSE_ERR_STORE_IN_USE = -6003,       /* another process or handle owns the store */
    TSE_ERR_SELF_TEST_FAILED = -6004,   /* refuses signing until the cause is fixed */
    TSE_ERR_WRONG_STATE = -6005,        /* operation not allowed in the lifecycle state */
    TSE_ERR_CLIENT_NOT_REGISTERED = -6006,
    TSE_ERR_TOO_MANY_CLIENTS = -6007,
    TSE_ERR_TOO_MANY_TRANSACTIONS = -6008,
    TSE_ERR_PIN_BLOCKED = -6009,
    TSE_ERR_KEY_UNAVAILABLE = -6010,    /* master key missing, wrong or unsafe */
    TSE_ERR_CERTIFICATE_INVALID = -6011,
    TSE_ERR_ALREADY_EXISTS = -6012,
    TSE_ERR_NOT_FOUND = -6013,          /* no TSE at that path */
    TSE_ERR_UNREACHABLE = -6014,        /* remote TSE could not be reached */
    TSE_ERR_INTERNAL = -6015,
    TSE_ERR_NOT_SUPPORTED = -6016,      /* the transport does not offer this call */
} tse_err;

/* Name of a code, e.g. "TIME_NOT_SET: the TSE's time has not been set".
 * Never NULL; static storage. */
TSE_API const char *tse_strerror(int code);

/* Short TR-03151 style name of a code, e.g. "TIME_NOT_SET". Static storage. */
TSE_API const char *tse_errname(int code);

/* Frees memory returned by this API. NULL is fine. */
TSE_API void tse_free(void *p);

/* ----------------------------------------------------------- types */

typedef struct tse tse;

typedef enum tse_curve {
    TSE_CURVE_P256 = 0,
    TSE_CURVE_P384,
    TSE_CURVE_P521,
    TSE_CURVE_BRAINPOOL_P256R1,
    TSE_CURVE_BRAINPOOL_P384R1,
    TSE_CURVE_BRAINPOOL_P512R1,
} tse_curve;

/* Hash of ecdsa-plain; TSE_HASH_DEFAULT matches the curve size
 * (256 -> SHA-256, 384 -> SHA-384, 512/521 -> SHA-512). */
typedef enum tse_hash {
    TSE_HASH_DEFAULT = 0,
    TSE_HASH_SHA256,
    TSE_HASH_SHA384,
    TSE_HASH_SHA512,
} tse_hash;

typedef enum tse_time_format {
    TSE_TIME_UNIX = 0,       /* INTEGER seconds since the epoch (default) */
    TSE_TIME_UTC,            /* UTCTime YYMMDDhhmmssZ */
    TSE_TIME_GENERALIZED,    /* GeneralizedTime YYYYMMDDhhmmssZ */
} tse_time_format;

typedef enum tse_state {
    TSE_STATE_CREATED = 0,       /* key and certificate exist, admin PIN not set */
    TSE_STATE_UNINITIALIZED,     /* admin PIN set with the PUK */
    TSE_STATE_INITIALIZED,       /* in use */
    TSE_STATE_DISABLED,          /* final; logs stay readable and exportable */
} tse_state;

typedef enum tse_update_variant {
    TSE_UPDATE_SIGNED = 1,
    TSE_UPDATE_UNSIGNED = 2,
    TSE_UPDATE_SIGNED_AND_UNSIGNED = 3,
} tse_update_variant;

typedef enum tse_auth_result {
    TSE_AUTH_OK = 0,
    TSE_AUTH_FAILED = 1,
    TSE_AUTH_PIN_BLOCKED = 2,
    TSE_AUTH_UNKNOWN_USER_ID = 3,
} tse_auth_result;

/* User ids managed by the TSE. */
#define TSE_USER_ADMIN "admin"          /* role Admin */
#define TSE_USER_TIME_ADMIN "timeadmin" /* role TimeAdmin: updateTime only */

/* Limits. */
#define TSE_SERIAL_LEN 32
#define TSE_MAX_SIGNATURE_LEN 132           /* P-521 plain r||s */
#define TSE_MAX_CLIENT_ID_LEN 64
#define TSE_MAX_PROCESS_TYPE_LEN 100
#define TSE_MAX_PROCESS_DATA_LEN (1u << 20) /* per call */
#define TSE_MAX_DESCRIPTION_LEN 200
#define TSE_MIN_PIN_LEN 6
#define TSE_MAX_PIN_LEN 64
#define TSE_PUK_LEN 10
#define TSE_MAX_UPDATE_DELAY_SECONDS 45

/* Options for tse_create(). Zero-initialise and set what you need. */
typedef struct tse_create_options {
    const char *master_key_path;   /* required: file with the 32-byte AES key
                                      (raw or 64 hex digits), mode 0600 or 0400 */
    tse_curve curve;               /* default P-256 */
    tse_hash hash;                 /* default: matched to the curve */
    tse_time_format time_format;   /* default unixTime */
    uint32_t cert_validity_days;   /* built-in CA; default 3650 (0 = default) */
    int32_t cert_validity_seconds; /* if non-zero, overrides days (tests) */
    uint32_t max_clients;          /* default 10000 */
    uint32_t max_open_transactions;/* default 10000 */
    int trust_system_clock;        /* 1: time is the host clock, never TIME_NOT_SET */
    uint32_t session_timeout_seconds; /* admin session; default 900 */
    const char *manufacturer_description; /* info.csv description; optional */
    const struct tse_open_options *remote; /* remote URLs: credentials, timeouts */
} tse_create_options;

/* Options for tse_open(). Zero-initialise and set what you need.
 *
 * Remote TSEs ("http://" and "https://" URLs) are opentsed's /api/v2. The
 * TSS is named by the URL, "https://host:port/tss/<uuid>", or by `tss_id`.
 * Unset strings fall back to the environment: OPENTSE_API_KEY,
 * OPENTSE_API_SECRET, OPENTSE_TSS_ID, OPENTSE_JOURNAL. Opening a remote TSE
 * does not contact the server: an unreachable server is reported by each
 * call as TSE_ERR_UNREACHABLE and recorded in the outage journal. */
typedef struct tse_open_options {
    const char *master_key_path;   /* file: required for signing; see tse_create_options */
    int recovery;                  /* file: 1 opens a store restored from an older copy
                                      for tse_restore_from_backup: no selfTest log is
                                      written and nothing is signed (WRONG_STATE) until
                                      a restore succeeded, so no counter of the lost
                                      logs is used again */
    /* http(s): */
    const char *api_key;
    const char *api_secret;        /* copied and wiped on tse_close */
    const char *tss_id;            /* when the URL does not end in /tss/<uuid> */
    const char *ca_file;           /* https: PEM CA bundle (default: the system's) */
    uint32_t connect_timeout_ms;   /* default 3000 */
    uint32_t timeout_ms;           /* a whole request; default 10000 */
    int retries;                   /* extra attempts after a lost connection;
                                      0 = default (2), negative = none. A retry
                                      never signs twice: transactions carry their
                                      id and revision, the server replays. */
    /* any transport: */
    const char *journal_path;      /* outage journal (SQLite file, created if
                                      missing); NULL: no journal */
    uint32_t keep_alive_seconds;   /* 0: off. Otherwise a background thread
                                      sends a signed update (empty data) for each
                                      transaction opened through this handle
                                      that has not been updated for this many
                                      seconds; must be below
                                      TSE_MAX_UPDATE_DELAY_SECONDS */
} tse_open_options;

/* Result of every signing operation. */
typedef struct tse_result {
    uint64_t transaction_number;   /* 0 for system logs */
    uint64_t signature_counter;    /* 0 for unsigned updates */
    int64_t log_time;              /* seconds since the epoch */
    int64_t start_time;            /* transaction: logTime of its Start */
    uint8_t serial_number[TSE_SERIAL_LEN];
    uint8_t signature[TSE_MAX_SIGNATURE_LEN];
    size_t signature_len;          /* 0 for unsigned updates */
} tse_result;

typedef struct tse_open_transaction {
    uint64_t transaction_number;
    char client_id[TSE_MAX_CLIENT_ID_LEN + 1];
    int64_t start_time;
    int64_t last_update;     /* log time of the last start/update */
    int64_t age_seconds;     /* now - last_update */
    int overdue;             /* age_seconds > TSE_MAX_UPDATE_DELAY_SECONDS */
} tse_open_transaction;

typedef struct tse_info {
    tse_state state;
    tse_curve curve;
    tse_hash hash;
    tse_time_format time_format;
    uint8_t serial_number[TSE_SERIAL_LEN];
    char signature_algorithm[32];      /* e.g. "ecdsa-plain-SHA256" */
    char signature_algorithm_oid[32];  /* dotted */
    uint64_t signature_counter;        /* last used; 0 before the first log */
    uint64_t transaction_counter;      /* last transaction number */
    uint32_t max_clients, current_clients;
    uint32_t max_open_transactions, current_open_transactions;
    uint32_t overdue_open_transactions;
    int time_set;
    int64_t time_now;                  /* TSE time, 0 if not set */
    int64_t cert_not_after;
    int32_t cert_days_left;
    int64_t self_test_time;
    int self_test_ok;
    int64_t time_creation, time_init, time_disable;
    char description[TSE_MAX_DESCRIPTION_LEN + 1];
} tse_info;

/* -------------------------------------------------- creating and opening */

/* Creates a new TSE in a new file `path` (refused if it exists:
 * TSE_ERR_ALREADY_EXISTS): key pair, built-in CA certificate chain, state
 * CREATED. Writes the PUK (TSE_PUK_LEN digits + NUL) to `puk_out`; it is shown
 * this once and stored only as a slow hash.
 * `path` may also be a remote URL naming the new TSS,
 * "http(s)://host:port/tss/<uuid>": the server creates it (key, curve and
 * time format are the server's choice; only `remote` of `opts` is used). */
TSE_API tse_err tse_create(const char *path, const tse_create_options *opts,
                           char puk_out[TSE_PUK_LEN + 1]);

/* Opens a TSE. `url` is "file:/path/to/tse.db" or a plain path: the engine
 * runs in-process; it runs the self-test and writes its system log (when the
 * TSE can sign). Only one handle per store: another owner gives
 * TSE_ERR_STORE_IN_USE. Or `url` is "http://host:port[/tss/<uuid>]" or
 * "https://...": a remote TSE (see tse_open_options). Every call gives the
 * same results and error codes over both transports, except where a call
 * documents TSE_ERR_NOT_SUPPORTED. */
TSE_API tse_err tse_open(const char *url, const tse_open_options *opts, tse **out);

/* Closes and frees the handle. Waits for in-flight operations. NULL is fine. */
TSE_API void tse_close(tse *t);

/* Detailed message for the last error on this thread (static per thread). */
TSE_API const char *tse_last_error_message(void);

/* ---------------------------------------------------------------- users */

/* CREATED/UNINITIALIZED -> sets the admin PIN with the PUK (system log
 * unblockUser); state becomes UNINITIALIZED. Same as tse_unblock_user(admin). */
TSE_API tse_err tse_set_admin_pin(tse *t, const char *puk, const char *new_pin);

/* TR-03151 authenticateUser. Writes `*result` and `*remaining_retries`
 * (either may be NULL). Returns TSE_OK on success, AUTHENTICATION_FAILED on a
 * wrong PIN, PIN_BLOCKED when blocked, USER_ID_NOT_MANAGED for unknown ids. */
TSE_API tse_err tse_authenticate_user(tse *t, const char *user_id, const char *pin,
                                      tse_auth_result *result, int *remaining_retries);
TSE_API tse_err tse_logout(tse *t, const char *user_id);
/* Sets a new PIN with the PUK and resets the retry counter. */
TSE_API tse_err tse_unblock_user(tse *t, const char *user_id, const char *puk,
                                 const char *new_pin);
/* Authenticated admin sets or changes the time admin's PIN. */
TSE_API tse_err tse_set_time_admin_pin(tse *t, const char *new_pin);

/* ------------------------------------------------------ administration */

TSE_API tse_err tse_initialize(tse *t, const char *description);
/* Sets the time (seconds since the epoch); Admin or TimeAdmin. */
TSE_API tse_err tse_update_time(tse *t, int64_t unix_time);
TSE_API tse_err tse_disable_secure_element(tse *t);
TSE_API tse_err tse_register_client(tse *t, const char *client_id);
TSE_API tse_err tse_deregister_client(tse *t, const char *client_id);
/* Runs the self-test again (system log selfTest). */
TSE_API tse_err tse_self_test(tse *t);

/* --------------------------------------------------------- transactions */

TSE_API tse_err tse_start_transaction(tse *t, const char *client_id,
                                      const uint8_t *process_data, size_t process_data_len,
                                      const char *process_type,
                                      const uint8_t *additional_data, size_t additional_data_len,
                                      tse_result *out);
/* variant TSE_UPDATE_SIGNED writes a log; TSE_UPDATE_UNSIGNED keeps the data
 * (durably) and prepends it to the transaction's next signed log. */
TSE_API tse_err tse_update_transaction(tse *t, const char *client_id, uint64_t transaction_number,
                                       const uint8_t *process_data, size_t process_data_len,
                                       const char *process_type, tse_update_variant variant,
                                       tse_result *out);
TSE_API tse_err tse_finish_transaction(tse *t, const char *client_id, uint64_t transaction_number,
                                       const uint8_t *process_data, size_t process_data_len,
                                       const char *process_type,
                                       const uint8_t *additional_data, size_t additional_data_len,
                                       tse_result *out);
/* Open transactions, oldest last update first. `*out` is freed with tse_free. */
TSE_API tse_err tse_list_open_transactions(tse *t, tse_open_transaction **out, size_t *count);

/* ------------------------------------------------------------ reading */

TSE_API tse_err tse_get_info(tse *t, tse_info *out);
/* The last log message written (DER). `*msg` freed with tse_free. */
TSE_API tse_err tse_read_log_message(tse *t, uint8_t **msg, size_t *len);
/* Log message by signature counter. */
TSE_API tse_err tse_read_log_by_counter(tse *t, uint64_t counter, uint8_t **msg, size_t *len);
/* TR-03151 exportSerialNumbers: DER SEQUENCE OF SEQUENCE { serialNumber
 * OCTET STRING, SEQUENCE { isUsedForTransactionLogs [0] BOOLEAN,
 * isUsedForSystemLogs [1] BOOLEAN, isUsedForSeAuditLogs [2] BOOLEAN } },
 * one record per key (one here: it signs every kind of log). `*der` is
 * freed with tse_free. */
TSE_API tse_err tse_export_serial_numbers(tse *t, uint8_t **der, size_t *len);
TSE_API tse_err tse_get_max_number_of_clients(tse *t, uint32_t *out);
TSE_API tse_err tse_get_current_number_of_clients(tse *t, uint32_t *out);
TSE_API tse_err tse_get_max_number_of_transactions(tse *t, uint32_t *out);
TSE_API tse_err tse_get_current_number_of_transactions(tse *t, uint32_t *out);
TSE_API tse_err tse_get_supported_transaction_update_variants(tse *t, tse_update_variant *out);
/* Registered client ids, `*ids` is an array of `*count` strings; free with
 * tse_free_strings(). */
TSE_API tse_err tse_list_clients(tse *t, char ***ids, size_t *count);
TSE_API void tse_free_strings(char **strings, size_t count);

/* ------------------------------------------------------- certificates */

/* PEM chain: TSE certificate first, root last. Freed with tse_free. */
TSE_API tse_err tse_export_certificates(tse *t, char **pem);
/* Uncompressed public point 04||X||Y. */
TSE_API tse_err tse_public_key(tse *t, uint8_t **point, size_t *len);
/* PEM certificate signing request for the TSE key (subject CN = serial hex). */
TSE_API tse_err tse_export_csr(tse *t, char **pem);
/* Replaces the chain by an externally issued one (PEM, TSE cert first). The
 * certificate's public key must be the TSE's: else CERTIFICATE_INVALID. */
TSE_API tse_err tse_import_certificate(tse *t, const char *pem_chain);
/* Certificate expiry: notAfter (epoch seconds) and whole days left. */
TSE_API tse_err tse_certificate_expiry(tse *t, int64_t *not_after, int32_t *days_left);

/* ------------------------------------------------------------ outages */

/* What the taxpayer must keep about the times the TSE could not be reached
 * (the outage journal of tse_open_options.journal_path), as a JSON document
 * in `*json` (free with tse_free):
 *   {"journal": PATH, "outages": [{"start", "end" (null while it lasts),
 *     "start_unix", "end_unix", "cause", "tss", "clients": [client ids],
 *     "operations": [{"time", "time_unix", "operation" (startTransaction, ...),
 *       "client_id", "transaction_number" (0 when none was given),
 *       "process_type", "process_data" (base64), "error", "tx_id" and
 *       "tx_revision" (remote TSEs: the request that may have reached the
 *       server although its answer was lost; else null)}]}]}
 * Times are UTC "YYYY-MM-DDThh:mm:ssZ". Without a journal:
 * TSE_ERR_INVALID_ARGUMENT. */
TSE_API tse_err tse_outage_report(tse *t, char **json);

/* --------------------------------------------------- export and backup */

/* Which logs tse_export_data() puts into the archive (TR-03151 exportData).
 * Zero-initialise: 0 / NULL means "not given" for every field.
 *   - nothing set: every stored log;
 *   - transaction_number [+ client_id]: that transaction's logs and every
 *     system and audit log between its first and last log;
 *   - start_/end_transaction_number (either end may be open) [+ client_id]:
 *     every log from the first log of the first transaction to the last log
 *     of the last (with client_id, other clients' transaction logs left out);
 *   - start_date and/or end_date (inclusive, seconds since the epoch)
 *     [+ client_id];
 *   - cursor: incremental export, every log written after the export that
 *     returned this cursor (with nothing else but maximum_number_records).
 * Number and date filters never combine (PARAMETER_MISMATCH), nor do a
 * transaction number and a range. maximum_number_records > 0: more matching
 * logs give TOO_MANY_RECORDS and nothing is written. Nothing matching gives
 * NO_DATA_AVAILABLE (an unknown transaction number
 * TRANSACTION_NUMBER_NOT_FOUND, an unknown client ID_NOT_FOUND). */
typedef struct tse_export_filter {
    uint64_t transaction_number;
    uint64_t start_transaction_number, end_transaction_number;
    int64_t start_date, end_date;
    const char *client_id;
    uint64_t maximum_number_records;
    uint64_t cursor;
} tse_export_filter;

/* Receives the archive in order, chunk by chunk (`data` is valid during the
 * call only). Returns 0 to go on; anything else stops the export, and a
 * negative tse_err return is passed back by tse_export_data. */
typedef int (*tse_export_write_fn)(void *ctx, const uint8_t *data, size_t len);

typedef struct tse_export_result {
    uint64_t cursor;   /* highest signature counter in the archive: pass it as
                          filter.cursor to get every later log next time */
    uint64_t logs;     /* log messages in the archive */
    uint64_t bytes;    /* archive size */
} tse_export_result;

/* TR-03151 exportData: streams a TAR archive (TSE-FORMATS.md section 4:
 * info.csv, the certificate chain, every selected log under its spec name)
 * in constant memory whatever its size. `filter` may be NULL (everything),
 * `out` may be NULL; out->cursor is set before the first chunk reaches
 * `write` (final then for an unfiltered or cursor export), the rest at the
 * end. The TSE counts an unfiltered or cursor-only export that
 * reached the callback completely as exported data (see
 * tse_delete_stored_data); any state but CREATED may export. */
TSE_API tse_err tse_export_data(tse *t, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                                tse_export_result *out);

/* TR-03151 deleteStoredData (Admin): deletes every stored log that went out
 * in complete or incremental exports (see tse_export_data). Logs written
 * after the last such export (the admin's login at least) stay until the
 * next one; when no stored log was exported: UNEXPORTED_STORED_DATA and
 * nothing is deleted. Writes the system log deleteStoredData, which stays.
 * Counters and transaction numbers go on. */
TSE_API tse_err tse_delete_stored_data(tse *t);

/* TR-03151 restoreFromBackup (Admin): reads the export archives at `paths`
 * and adds every log of this TSE that the store misses (after data loss, or
 * after deleteStoredData). Every log's signature, serial number, counter and
 * file name, and every certificate, is checked first; the stored counters
 * must form one run without gaps afterwards. Any problem: RESTORE_FAILED
 * with a message naming it, and nothing changes. Writes the system log
 * restoreFromBackup when the TSE can sign. `*added` (may be NULL) gets the
 * number of logs added. On a handle opened with tse_open_options.recovery
 * (holding the store file and its master key is the authority then; no
 * admin login, which would sign) a successful restore ends the recovery. */
TSE_API tse_err tse_restore_from_backup(tse *t, const char *const *paths, size_t n_paths, uint64_t *added);

/* ------------------------------------------------------------ helpers */

/* Lower-case hex of `len` bytes into `out` (2*len+1 bytes). */
TSE_API void tse_hex(const uint8_t *bytes, size_t len, char *out);
/* Name for the curve, e.g. "brainpoolP384r1". */
TSE_API const char *tse_curve_name(tse_curve c);

/* The release of this libopentse, e.g. "0.1.0" (a constant string). */
TSE_API const char *tse_version(void);

/* Writes a new random master key (64 hex digits and a newline) to a new file
 * `path` with mode 0600: what tse_create_options.master_key_path names.
 * TSE_ERR_ALREADY_EXISTS if the file exists (it is never overwritten), or
 * TSE_ERR_KEY_UNAVAILABLE when it cannot be written (nothing is left then). */
TSE_API tse_err tse_create_master_key(const char *path);

#ifdef __cplusplus
}
#endif
#endif /* OPENTSE_H */
