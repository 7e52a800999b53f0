/*
 * opentse.h - the public SE API of OpenTSE (BSI TR-03151 section 4).
 *
 * A TSE is opened as an opaque handle (`tse *`) and every operation returns a
 * `tse_err`: TSE_OK (0) or a negative error code. Codes -4000..-5038 are the
 * TR-03151 codes; codes from -6000 down are OpenTSE's own, for conditions the
 * guideline does not name. tse_strerror() names every code.
 *
 * Errors: besides the codes each function lists, any call on a handle may
 * return
 *   TSE_ERR_INVALID_ARGUMENT  a NULL handle, NULL where a value is required,
 *                             a malformed or out-of-range value;
 *   TSE_ERR_NO_MEMORY         an allocation failed;
 *   TSE_ERR_STORAGE_FAILURE   the store could not be read or written;
 *   TSE_ERR_UNREACHABLE       http(s): the server could not be reached or its
 *                             answer was lost (the outage journal records it);
 *   TSE_ERR_INTERNAL          a fault inside OpenTSE, or an answer of the
 *                             server that does not fit the contract.
 * A call that fails changes nothing, except where its comment says so (a
 * wrong PIN counts). tse_last_error_message() names the problem. Over
 * http(s) the server's refusals come back with the codes the embedded engine
 * returns. Results marked TSE_NODISCARD must be checked (GCC and Clang warn).
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

/* A result the caller must check (warn_unused_result; empty elsewhere). */
#if defined(__GNUC__)
#define TSE_NODISCARD __attribute__((warn_unused_result))
#else
#define TSE_NODISCARD
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
    /* TR-03151-1 v1.1.1 exceptions the v1.0.1 codes above do not name */
    TSE_ERR_TRANSACTION_LOGGING_LOCKED = -6017,     /* ErrorTransactionLoggingLocked */
    TSE_ERR_TRANSACTION_LOGGING_NOT_LOCKED = -6018, /* ErrorTransactionLoggingNotLocked */
    TSE_ERR_OPEN_TRANSACTION_FOUND = -6019,         /* ErrorOpenTransactionFound */
    TSE_ERR_LOGGING_OF_EVENT_NOT_CONFIGURABLE = -6020, /* ErrorLoggingOfEventNotConfigurable */
    TSE_ERR_UPDATE_DEVICE_FAILED = -6021,           /* ErrorUpdateDeviceFailed: the update package was refused */
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
#define TSE_USER_LOGGER "logger"        /* role logger: transactions; with a PIN only when logged in */
#define TSE_USER_UNAUTHENTICATED "unauthenticated" /* nobody logged in (TR-03153-1 v1.1.1 5.3.2.1) */
#define TSE_USER_ID_BUF 16              /* room for the longest of these with its NUL */

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
    uint32_t max_clients;          /* default 10000 */
    uint32_t max_open_transactions;/* default 10000 */
    int trust_system_clock;        /* 1: time is the host clock, never TIME_NOT_SET */
    uint32_t session_timeout_seconds; /* admin session; default 900 */
    const char *manufacturer_description; /* info.csv description; optional */
    const struct tse_open_options *remote; /* remote URLs: credentials, timeouts */
    int log_format_version;        /* log messages for the TSE's whole life: 3
                                      (TR-03151-1 v1.1.1, the default for 0) or 2
                                      (TR-03151 v1.0.1); anything else INVALID_ARGUMENT */
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
    int64_t cert_not_after;            /* the TSE certificate's notAfter */
    int32_t cert_days_left;
    /* TR-03151 getEndOfUsageDate: the earliest notAfter of the whole chain
     * (the TSE certificate or a CA certificate above it), whole days left
     * until then (negative after it), which certificate it is (0: the
     * TSE's own, 1..: the CA certificates in chain order), and the warning
     * threshold reached (180, 90, 30 or 7 days; 0 while more than 180 days
     * are left; see tse_end_of_usage_warning). */
    int64_t end_of_usage;
    int32_t end_of_usage_days_left;
    int32_t end_of_usage_certificate;
    int32_t end_of_usage_warning;
    int64_t self_test_time;
    int self_test_ok;
    int64_t time_creation, time_init, time_disable;
    char description[TSE_MAX_DESCRIPTION_LEN + 1];
    int log_format_version;            /* 2 or 3 (tse_create_options); 0: not
                                          reported (a remote TSE of an older
                                          opentsed) */
} tse_info;

/* -------------------------------------------------- creating and opening */

/* Creates a new TSE in a new file `path` ("file:" prefix allowed): key pair
 * on `opts->curve`, a certificate chain from the built-in CA valid for
 * `opts->cert_validity_days`, state CREATED. Writes the PUK (TSE_PUK_LEN
 * digits and a NUL) to `puk_out`; it is shown this once and stored only as
 * a slow hash. `opts->master_key_path` is required.
 *
 * `path` may instead be a remote URL naming the new TSS,
 * "http(s)://host:port/tss/<uuid>": the server creates it (key, curve and
 * time format are the server's choice; only `opts->remote`, the credentials
 * and timeouts, is used).
 *
 * Parameters: `path` (borrowed), `opts` (required; borrowed), `puk_out`
 * (written on success only). Nothing is allocated for the caller.
 * Errors: ALREADY_EXISTS (the file or the TSS exists; nothing is changed),
 * KEY_UNAVAILABLE (the master key file is missing, malformed or readable by
 * others), INVALID_ARGUMENT (unknown curve, hash or time format, a bad
 * manufacturer description, a malformed URL or an unknown URL scheme),
 * STORAGE_FAILURE (the file cannot be created). */
TSE_API TSE_NODISCARD tse_err tse_create(const char *path, const tse_create_options *opts,
                                         char puk_out[TSE_PUK_LEN + 1]);

/* Opens a TSE and returns a new handle in `*out`.
 *
 * `url` is "file:/path/to/tse.db" or a plain path: the engine runs
 * in-process ("file:/path/opentse.db#<id>" opens TSS <id> of an opentsed
 * deployment's database, the service stopped); opening runs the self-test and writes its system log (when the
 * TSE can sign). Only one handle per store: another owner (handle or
 * process) gives STORE_IN_USE. Or `url` is "http://host:port[/tss/<uuid>]"
 * or "https://...": a remote TSE (see tse_open_options); opening does not
 * contact the server. Every call gives the same results and error codes
 * over both transports.
 *
 * Parameters: `url` and `opts` (may be NULL: defaults) are borrowed;
 * strings of `opts` are copied. Ownership: `*out` belongs to the caller and
 * is released with tse_close(); on failure `*out` is NULL.
 * Errors: NOT_FOUND (no TSE at that path), STORE_IN_USE, INVALID_ARGUMENT (a malformed URL: no host,
 * a bad port, an unknown scheme, a missing or malformed TSS id, credentials,
 * a query or fragment, longer than 1000 bytes; remote without an API key
 * and secret; keep_alive_seconds not below TSE_MAX_UPDATE_DELAY_SECONDS),
 * STORAGE_FAILURE (the store or the outage journal cannot be opened). A
 * missing or wrong master key or a failed self-test does not fail the open
 * (the logs stay readable and exportable): signing calls give
 * KEY_UNAVAILABLE or SELF_TEST_FAILED. */
TSE_API TSE_NODISCARD tse_err tse_open(const char *url, const tse_open_options *opts, tse **out);

/* Closes the handle and frees it: stops its keep-alive thread, waits for
 * calls in flight, closes the store or the session (the API secret is
 * wiped) and the outage journal. `t` is invalid afterwards. NULL is fine. */
TSE_API void tse_close(tse *t);

/* The last error on this thread as "<code name>: <message>", e.g.
 * "PIN_BLOCKED: the admin PIN is blocked after 3 wrong PINs". The text stays
 * valid until the next call of this function on the same thread; "" when no
 * call on this thread has failed yet. */
TSE_API const char *tse_last_error_message(void);

/* The code of the last error on this thread (TSE_OK when none failed yet). */
TSE_API TSE_NODISCARD tse_err tse_last_error_code(void);

/* The message of the last error on this thread without the code's name
 * (valid until the next failing call on the same thread). */
TSE_API const char *tse_last_error_detail(void);

/* ---------------------------------------------------------------- users */

/* Sets the admin PIN with the PUK (system log unblockUser): the same as
 * tse_unblock_user(t, TSE_USER_ADMIN, puk, new_pin). In state CREATED the
 * state becomes UNINITIALIZED.
 *
 * Parameters: `puk` (the TSE_PUK_LEN digits from tse_create), `new_pin`
 * (TSE_MIN_PIN_LEN..TSE_MAX_PIN_LEN printable characters, no spaces).
 * Errors: UNBLOCK_FAILED (wrong PUK; the failed attempt is logged),
 * PIN_BLOCKED (the PUK is temporarily blocked: from the third wrong PUK in
 * a row it is refused, unchecked and unlogged, for 60 s, doubling with each
 * further wrong one up to a day; the block survives reopening),
 * INVALID_ARGUMENT (a PIN out of its rules), SECURE_ELEMENT_DISABLED,
 * KEY_UNAVAILABLE. */
TSE_API TSE_NODISCARD tse_err tse_set_admin_pin(tse *t, const char *puk, const char *new_pin);

/* TR-03151 authenticateUser: logs `user_id` (TSE_USER_ADMIN or
 * TSE_USER_TIME_ADMIN) in with `pin` for the session timeout of
 * tse_create_options (system log authenticateUser).
 *
 * Parameters: `*result` and `*remaining_retries` are written on every
 * answer of the TSE (either may be NULL).
 * Errors: AUTHENTICATION_FAILED (wrong PIN; one retry less), PIN_BLOCKED
 * (no retry left: unblock with the PUK), USER_ID_NOT_MANAGED (unknown id),
 * WRONG_STATE (no PIN set for the user yet), TOO_LARGE (PIN longer than
 * TSE_MAX_PIN_LEN), SECURE_ELEMENT_DISABLED, KEY_UNAVAILABLE. */
TSE_API TSE_NODISCARD tse_err tse_authenticate_user(tse *t, const char *user_id, const char *pin,
                                                    tse_auth_result *result, int *remaining_retries);

/* TR-03151 logOut: ends the session of `user_id` (system log logOut).
 * Errors: USER_ID_NOT_AUTHENTICATED (not logged in), USER_ID_NOT_MANAGED. */
TSE_API TSE_NODISCARD tse_err tse_logout(tse *t, const char *user_id);

/* TR-03151 unblockUser: sets a new PIN for `user_id` with the PUK and
 * resets its retry counter (system log unblockUser, also for a wrong PUK).
 * Parameters and errors as tse_set_admin_pin, and USER_ID_NOT_MANAGED for
 * an unknown id. */
TSE_API TSE_NODISCARD tse_err tse_unblock_user(tse *t, const char *user_id, const char *puk,
                                               const char *new_pin);

/* Sets or changes the PIN of the time admin (TSE_USER_TIME_ADMIN, who may
 * only update the time) and resets its retry counter; needs the admin
 * logged in.
 * Errors: USER_NOT_AUTHENTICATED, USER_NOT_AUTHORIZED (another role is
 * logged in), INVALID_ARGUMENT (a PIN out of its rules),
 * SECURE_ELEMENT_DISABLED. */
TSE_API TSE_NODISCARD tse_err tse_set_time_admin_pin(tse *t, const char *new_pin);

/* Sets or changes the PIN of TSE_USER_TIME_ADMIN or TSE_USER_LOGGER and
 * resets its retry counter; needs the admin logged in. The logger
 * (TR-03153-1 v1.1.1 5.3.2.2) starts without a PIN, and then every caller
 * of start, update and finish acts as the logger. Once it has a PIN it
 * keeps one: those three need the logger logged in (tse_authenticate_user
 * with TSE_USER_LOGGER), and while another user is logged in they answer
 * USER_NOT_AUTHORIZED (table 9). Its PIN is unblocked with the PUK like the
 * others (tse_unblock_user).
 * Errors: as tse_set_time_admin_pin; INVALID_ARGUMENT for the admin,
 * USER_ID_NOT_MANAGED for an unknown id. */
TSE_API TSE_NODISCARD tse_err tse_set_user_pin(tse *t, const char *user_id, const char *new_pin);

/* Who is logged in now: TSE_USER_ADMIN, TSE_USER_TIME_ADMIN,
 * TSE_USER_LOGGER or TSE_USER_UNAUTHENTICATED (nobody, or only sessions
 * that timed out), into `out`. The roles of TR-03153-1 v1.1.1 table 9 are
 * this user's; se_api.h checks its read functions against it. A TSE of log
 * format 3 has one user at most logged in; one of log format 2 may have a
 * session per user, and then the one with the widest read rights is named
 * (admin, then logger, then time admin). Nothing is logged or changed.
 * Errors: INVALID_ARGUMENT (NULL out), and over http(s) UNREACHABLE,
 * NOT_SUPPORTED (an opentsed without the logged-in-user route). */
TSE_API TSE_NODISCARD tse_err tse_logged_in_user(tse *t, char out[TSE_USER_ID_BUF]);

/* ------------------------------------------------------ administration */

/* TR-03151 initialize: UNINITIALIZED -> INITIALIZED (system log
 * initialize); needs the admin logged in. `description` (up to
 * TSE_MAX_DESCRIPTION_LEN PrintableString characters) goes into info.csv;
 * NULL when the manufacturer set one at creation.
 * Errors: WRONG_STATE (the admin PIN is not set yet, or initialized
 * already), DESCRIPTION_SET_BY_MANUFACTURER (a description given although
 * the manufacturer set one), DESCRIPTION_NOT_SET_BY_MANUFACTURER (NULL but
 * none was set), INVALID_ARGUMENT (not PrintableString or too long),
 * USER_NOT_AUTHENTICATED, USER_NOT_AUTHORIZED, SECURE_ELEMENT_DISABLED. */
TSE_API TSE_NODISCARD tse_err tse_initialize(tse *t, const char *description);

/* TR-03151 updateTime: sets the TSE's time to `unix_time` (seconds since
 * the epoch; system log updateTime); the admin or the time admin logged in.
 * Until the first call (unless trust_system_clock) transactions give
 * TIME_NOT_SET.
 * Errors: INVALID_TIME (before 2000-01-01 or after 9999-12-31),
 * USER_NOT_AUTHENTICATED, USER_NOT_AUTHORIZED, SECURE_ELEMENT_DISABLED. */
TSE_API TSE_NODISCARD tse_err tse_update_time(tse *t, int64_t unix_time);

/* TR-03151 disableSecureElement: puts the TSE into its final state
 * DISABLED (system log disableSecureElement); needs the admin logged in.
 * Logs stay readable and exportable; nothing is signed any more.
 * Errors: SECURE_ELEMENT_DISABLED (disabled already),
 * USER_NOT_AUTHENTICATED, USER_NOT_AUTHORIZED. */
TSE_API TSE_NODISCARD tse_err tse_disable_secure_element(tse *t);

/* Registers the cash register `client_id` (up to TSE_MAX_CLIENT_ID_LEN
 * PrintableString characters, its serial number), which may then run
 * transactions (system log registerClient); needs the admin logged in and
 * an INITIALIZED TSE.
 * Errors: ALREADY_EXISTS, TOO_MANY_CLIENTS (max_clients of
 * tse_create_options), TOO_LARGE, INVALID_ARGUMENT (not PrintableString),
 * SE_API_NOT_INITIALIZED, USER_NOT_AUTHENTICATED, USER_NOT_AUTHORIZED,
 * SECURE_ELEMENT_DISABLED, KEY_UNAVAILABLE, SELF_TEST_FAILED. */
TSE_API TSE_NODISCARD tse_err tse_register_client(tse *t, const char *client_id);

/* Deregisters `client_id` (system log deregisterClient); needs the admin
 * logged in. Errors as tse_register_client, and ID_NOT_FOUND (not
 * registered), WRONG_STATE (the client has open transactions: finish them
 * first) instead of ALREADY_EXISTS and TOO_MANY_CLIENTS. */
TSE_API TSE_NODISCARD tse_err tse_deregister_client(tse *t, const char *client_id);

/* Runs the self-test again (system log selfTest, when the TSE can sign):
 * the private key, a sign/verify round trip, the certificate, and the last
 * stored log against the signature counter. A failed self-test blocks
 * signing until one passes.
 * Errors: SELF_TEST_FAILED (the message names the failed check). */
TSE_API TSE_NODISCARD tse_err tse_self_test(tse *t);

/* --------------------------------------------------------- transactions */

/* TR-03151 startTransaction: opens a transaction for the registered client
 * `client_id` and signs its Start log; no login needed. `process_data`
 * (`process_data_len` bytes, up to TSE_MAX_PROCESS_DATA_LEN; NULL with 0
 * for none), `process_type` (up to TSE_MAX_PROCESS_TYPE_LEN PrintableString
 * characters, e.g. "Kassenbeleg-V1"; NULL for none) and `additional_data`
 * (not signed; NULL with 0) are borrowed. `*out` gets the transaction
 * number, signature counter, log time, serial number and signature.
 * Errors: CLIENT_NOT_REGISTERED, TIME_NOT_SET, TOO_MANY_TRANSACTIONS
 * (max_open_transactions open), TOO_LARGE, INVALID_ARGUMENT,
 * SE_API_NOT_INITIALIZED, SECURE_ELEMENT_DISABLED, KEY_UNAVAILABLE,
 * SELF_TEST_FAILED, WRONG_STATE (a recovery handle before its restore).
 * CERTIFICATE_EXPIRED is a warning: the log was signed and stored and
 * `*out` is filled, but the certificate's notAfter has passed. */
TSE_API TSE_NODISCARD tse_err tse_start_transaction(tse *t, const char *client_id,
                                                    const uint8_t *process_data, size_t process_data_len,
                                                    const char *process_type,
                                                    const uint8_t *additional_data, size_t additional_data_len,
                                                    tse_result *out);

/* TR-03151 updateTransaction of the open transaction `transaction_number`
 * by `client_id`, any registered client (not only the one that started it;
 * the log carries the clientId of this call). `variant` TSE_UPDATE_SIGNED
 * writes and signs an Update log; TSE_UPDATE_UNSIGNED keeps the data
 * (durably) and prepends it to the transaction's next signed log of the
 * same client and processType (`*out` then has signature_counter 0 and
 * signature_len 0). Data kept under another client_id or process_type than
 * this call's is first signed in an Update log of its own under those
 * (TR-03151-1 3.7.6.5 step 9; tse_update_transaction_logs returns that log
 * too). Kept data given with process_type NULL takes the processType of
 * the log that signs it. A transaction must be updated or finished within
 * TSE_MAX_UPDATE_DELAY_SECONDS (see keep_alive_seconds).
 * Errors as tse_start_transaction, and NO_TRANSACTION (no such open
 * transaction), INVALID_ARGUMENT (another variant), TOO_LARGE (the unsigned
 * data of one transaction exceed TSE_MAX_PROCESS_DATA_LEN). */
TSE_API TSE_NODISCARD tse_err tse_update_transaction(tse *t, const char *client_id, uint64_t transaction_number,
                                                     const uint8_t *process_data, size_t process_data_len,
                                                     const char *process_type, tse_update_variant variant,
                                                     tse_result *out);

/* TR-03151 finishTransaction: signs the Finish log of the open transaction
 * `transaction_number` by `client_id` (any registered client; with the
 * unsigned updates' data of the same client and processType in front of
 * `process_data`; data kept under others is first signed in an Update log
 * of its own, as with tse_update_transaction) and closes it. `*out` is
 * what the receipt prints (see tse_receipt_qr_from_finish in
 * <opentse/receipt.h>). Errors as tse_update_transaction. */
TSE_API TSE_NODISCARD tse_err tse_finish_transaction(tse *t, const char *client_id, uint64_t transaction_number,
                                                     const uint8_t *process_data, size_t process_data_len,
                                                     const char *process_type,
                                                     const uint8_t *additional_data, size_t additional_data_len,
                                                     tse_result *out);

/* tse_update_transaction and tse_finish_transaction with both logs of
 * TR-03151-1 3.7.6.2/3.7.7.2: `*kept` is the Update log that first secured
 * data kept under another client_id or process_type than this call's
 * (created first: its signature_counter is below out's), or all zero
 * (signature_counter 0) when no such log was needed; `*out` is this call's
 * own result as with the functions above. When the call fails after the
 * kept data's log was stored, the kept data is secured and the call's own
 * data is not applied (on a file: handle `*kept` still tells that log; an
 * http: handle gets no answer to read it from); when that log could not be
 * made, nothing changed and the data stays kept. */
TSE_API TSE_NODISCARD tse_err tse_update_transaction_logs(tse *t, const char *client_id,
                                                          uint64_t transaction_number,
                                                          const uint8_t *process_data, size_t process_data_len,
                                                          const char *process_type, tse_update_variant variant,
                                                          tse_result *kept, tse_result *out);
TSE_API TSE_NODISCARD tse_err tse_finish_transaction_logs(tse *t, const char *client_id,
                                                          uint64_t transaction_number,
                                                          const uint8_t *process_data, size_t process_data_len,
                                                          const char *process_type,
                                                          const uint8_t *additional_data,
                                                          size_t additional_data_len, tse_result *kept,
                                                          tse_result *out);

/* The open transactions, oldest last update first, as an array of `*count`
 * entries in `*out` (owned by the caller: tse_free; NULL when none). */
TSE_API TSE_NODISCARD tse_err tse_list_open_transactions(tse *t, tse_open_transaction **out, size_t *count);

/* ------------------------------------------------------------ reading */

/* The TSE's state, key, counters, limits, time, certificate expiry, last
 * self-test and description, by value into `*out`. Any state, no login. */
TSE_API TSE_NODISCARD tse_err tse_get_info(tse *t, tse_info *out);

/* TR-03151 readLogMessage: the last log message written (DER, as signed),
 * `*len` bytes in `*msg` (owned by the caller: tse_free).
 * Errors: NO_LOG_MESSAGE (none written yet), READING_LOG_MESSAGE. */
TSE_API TSE_NODISCARD tse_err tse_read_log_message(tse *t, uint8_t **msg, size_t *len);

/* The log message with signature counter `counter`, as
 * tse_read_log_message. Errors: NO_LOG_MESSAGE (no such counter, or deleted
 * by tse_delete_stored_data), READING_LOG_MESSAGE. */
TSE_API TSE_NODISCARD tse_err tse_read_log_by_counter(tse *t, uint64_t counter, uint8_t **msg, size_t *len);

/* TR-03151 exportSerialNumbers: DER SEQUENCE OF SEQUENCE { serialNumber
 * OCTET STRING, SEQUENCE { isUsedForTransactionLogs [0] BOOLEAN,
 * isUsedForSystemLogs [1] BOOLEAN, isUsedForSeAuditLogs [2] BOOLEAN } },
 * one record per key (one here: it signs every kind of log). `*len` bytes
 * in `*der` (owned by the caller: tse_free).
 * Errors: EXPORT_SERIAL_NUMBERS_FAILED. */
TSE_API TSE_NODISCARD tse_err tse_export_serial_numbers(tse *t, uint8_t **der, size_t *len);

/* TR-03151 getMaxNumberOfClients, getCurrentNumberOfClients (the distinct
 * clients of the open transactions, TR-03151-1 v1.1.1 3.7.9.2; the
 * registered ones are tse_info.current_clients),
 * getMaxNumberOfTransactions (open at once), getCurrentNumberOfTransactions
 * (open now): the number into `*out`. */
TSE_API TSE_NODISCARD tse_err tse_get_max_number_of_clients(tse *t, uint32_t *out);
TSE_API TSE_NODISCARD tse_err tse_get_current_number_of_clients(tse *t, uint32_t *out);
TSE_API TSE_NODISCARD tse_err tse_get_max_number_of_transactions(tse *t, uint32_t *out);
TSE_API TSE_NODISCARD tse_err tse_get_current_number_of_transactions(tse *t, uint32_t *out);

/* TR-03151 getSupportedTransactionUpdateVariants: into `*out`
 * (TSE_UPDATE_SIGNED_AND_UNSIGNED: both are supported). */
TSE_API TSE_NODISCARD tse_err tse_get_supported_transaction_update_variants(tse *t, tse_update_variant *out);

/* The registered client ids: an array of `*count` NUL-terminated strings
 * in `*ids` (owned by the caller: tse_free_strings(*ids, *count)). */
TSE_API TSE_NODISCARD tse_err tse_list_clients(tse *t, char ***ids, size_t *count);

/* Frees an array of `count` strings returned by this API (e.g. by
 * tse_list_clients) and the strings. NULL is fine. */
TSE_API void tse_free_strings(char **strings, size_t count);

/* ------------------------------------------------------- certificates */

/* The certificate chain as PEM, the TSE's certificate first and the root
 * last, in `*pem` (NUL-terminated; owned by the caller: tse_free).
 * Errors: EXPORT_CERT_FAILED (no certificate stored). */
TSE_API TSE_NODISCARD tse_err tse_export_certificates(tse *t, char **pem);

/* The TSE's public key as the uncompressed point 04||X||Y, `*len` bytes in
 * `*point` (owned by the caller: tse_free). Its SHA-256 is the serial
 * number. */
TSE_API TSE_NODISCARD tse_err tse_public_key(tse *t, uint8_t **point, size_t *len);

/* A PEM certificate signing request for the TSE's key (subject CN = the
 * serial number in hex) in `*pem` (owned by the caller: tse_free), for a CA
 * of the operator's choice; the certificate goes in with
 * tse_import_certificate. Errors: KEY_UNAVAILABLE. */
TSE_API TSE_NODISCARD tse_err tse_export_csr(tse *t, char **pem);

/* Replaces the certificate chain by an externally issued one (PEM, the
 * TSE's certificate first; borrowed, up to 1 MiB); needs the admin logged
 * in. Errors: CERTIFICATE_INVALID (unreadable, or its public key is not the
 * TSE's; nothing changes), TOO_LARGE, USER_NOT_AUTHENTICATED,
 * USER_NOT_AUTHORIZED, SECURE_ELEMENT_DISABLED. */
TSE_API TSE_NODISCARD tse_err tse_import_certificate(tse *t, const char *pem_chain);

/* The TSE certificate's notAfter (seconds since the epoch) into
 * `*not_after` and the whole days left (0 or negative once expired) into
 * `*days_left`; either may be NULL, not both. */
TSE_API TSE_NODISCARD tse_err tse_certificate_expiry(tse *t, int64_t *not_after, int32_t *days_left);

/* TR-03151 getEndOfUsageDate: the earliest date (epoch seconds) after which
 * the TSE cannot sign under a valid certificate chain: the earliest notAfter
 * of the TSE certificate and of every CA certificate above it. The days
 * left and the certificate are in tse_info. */
TSE_API TSE_NODISCARD tse_err tse_get_end_of_usage_date(tse *t, int64_t *end_of_usage);
/* A successor TSS in one step (opentsed: POST .../successor): a new TSS of
 * the same organization, initialized with `admin_pin` (the admin PIN of
 * this TSS, checked first) as its admin PIN, with this TSS's registered
 * clients; the link is recorded both ways. This TSS is exported (kept as an
 * export job), verified and disabled at once when no transaction is open;
 * otherwise the same call again, after the last one has finished, does it.
 * Writes the successor's id and PUK (shown once). A remote handle whose TSS
 * is disabled with a successor starts new transactions on the successor by
 * itself. Embedded TSEs: TSE_ERR_NOT_SUPPORTED. */
TSE_API TSE_NODISCARD tse_err tse_create_successor(tse *t, const char *admin_pin, char successor_id[37],
                                                   char puk_out[TSE_PUK_LEN + 1]);
/* The warning threshold `days_left` has reached: 7, 30, 90 or 180 (the
 * smallest one not below days_left; 7 also once expired), or 0 while more
 * than 180 days are left. Operators are warned from 180 days on. */
TSE_API int32_t tse_end_of_usage_warning(int32_t days_left);

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
 * TSE_ERR_INVALID_ARGUMENT; STORAGE_FAILURE when the journal cannot be
 * read. */
TSE_API TSE_NODISCARD tse_err tse_outage_report(tse *t, char **json);

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
 *     returned this cursor (with nothing else but maximum_number_records);
 *   - start_/end_signature_counter (either end may be open): only the logs
 *     with a signature counter in that range, alone or narrowing any
 *     filter above but the cursor (a range of the market API, not TR-03151).
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
    uint64_t start_signature_counter, end_signature_counter;
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
 * tse_delete_stored_data); any state but CREATED may export, no login.
 * Errors: those named with tse_export_filter (PARAMETER_MISMATCH,
 * TOO_MANY_RECORDS, NO_DATA_AVAILABLE, TRANSACTION_NUMBER_NOT_FOUND,
 * ID_NOT_FOUND), the negative return of `write` that stopped it, and
 * STORAGE_FAILURE (`write` stopped it with a positive value). */
TSE_API TSE_NODISCARD tse_err tse_export_data(tse *t, const tse_export_filter *filter, tse_export_write_fn write,
                                              void *ctx, tse_export_result *out);

/* TR-03151 deleteStoredData (Admin): deletes every stored log that went out
 * in complete or incremental exports (see tse_export_data). While any log
 * written after the last such export is stored (the admin's login too, so
 * log in before the export), it refuses with UNEXPORTED_STORED_DATA, a
 * message naming how many, and deletes and logs nothing; only transaction
 * logs of transactions still open may be unexported (they stay, TR-03151-1
 * v1.1.1 3.6.4.5 steps 8 and 9). Writes the system log deleteStoredData
 * (log format 2) or deleteLogMessages (format 3), which stays.
 * Counters and transaction numbers go on.
 * Errors: UNEXPORTED_STORED_DATA, DELETE_STORED_DATA_FAILED,
 * USER_NOT_AUTHENTICATED, USER_NOT_AUTHORIZED, SECURE_ELEMENT_DISABLED. */
TSE_API TSE_NODISCARD tse_err tse_delete_stored_data(tse *t);

/* TR-03151 restoreFromBackup (Admin): reads the export archives at `paths`
 * and adds every log of this TSE that the store misses (after data loss, or
 * after deleteStoredData). Every log's signature, serial number, counter and
 * file name, and every certificate, is checked first; the stored counters
 * must form one run without gaps afterwards. Any problem: RESTORE_FAILED
 * with a message naming it, and nothing changes. Writes the system log
 * restoreFromBackup when the TSE can sign (log format 2; format 3 has no
 * log for it). `*added` (may be NULL) gets the
 * number of logs added. On a handle opened with tse_open_options.recovery
 * (holding the store file and its master key is the authority then; no
 * admin login, which would sign) a successful restore ends the recovery.
 * Errors: RESTORE_FAILED, USER_NOT_AUTHENTICATED, USER_NOT_AUTHORIZED. */
TSE_API TSE_NODISCARD tse_err tse_restore_from_backup(tse *t, const char *const *paths, size_t n_paths,
                                                      uint64_t *added);

/* ------------------------------------------ TR-03151-1 v1.1.1 section 3
 *
 * The functions v1.1.1 added or changed. Each works on both transports;
 * over http(s) they are opentsed's extension routes (docs/api.md). */

#define TSE_MAX_SET_DESCRIPTION_LEN 64

/* TR-03151-1 setDescription (Admin; an INITIALIZED TSE with its time set):
 * replaces the description of info.csv by `description` (1..64
 * PrintableString characters) and writes the system log setDescription
 * {newDeviceDescription}. Log format 2 TSEs have no such function
 * (NOT_SUPPORTED). Errors: TOO_LARGE (longer than 64), INVALID_ARGUMENT (not
 * PrintableString), TIME_NOT_SET, SE_API_NOT_INITIALIZED,
 * USER_NOT_AUTHENTICATED, USER_NOT_AUTHORIZED, SECURE_ELEMENT_DISABLED,
 * KEY_UNAVAILABLE, SELF_TEST_FAILED. */
TSE_API TSE_NODISCARD tse_err tse_set_description(tse *t, const char *description);

/* TR-03151-1 getDescription: the description of info.csv ("" when none is
 * set; tse_device_info's) into `out`. Any state, no login. */
TSE_API TSE_NODISCARD tse_err tse_get_description(tse *t, char out[TSE_MAX_DESCRIPTION_LEN + 1]);

/* TR-03151-1 lockTransactionLogging (Admin): from now on startTransaction,
 * updateTransaction and finishTransaction give TRANSACTION_LOGGING_LOCKED,
 * until tse_unlock_transaction_logging; the lock survives reopening. System
 * log lockTransactionLogging (empty eventData). Log format 2 TSEs:
 * NOT_SUPPORTED. Errors: OPEN_TRANSACTION_FOUND (finish the open
 * transactions first), TRANSACTION_LOGGING_LOCKED (locked already),
 * TIME_NOT_SET, SE_API_NOT_INITIALIZED, USER_NOT_AUTHENTICATED,
 * USER_NOT_AUTHORIZED, SECURE_ELEMENT_DISABLED, KEY_UNAVAILABLE,
 * SELF_TEST_FAILED. */
TSE_API TSE_NODISCARD tse_err tse_lock_transaction_logging(tse *t);
/* TR-03151-1 unlockTransactionLogging (Admin): ends the lock (system log
 * unlockTransactionLogging). Errors: TRANSACTION_LOGGING_NOT_LOCKED, and
 * those of tse_lock_transaction_logging but OPEN_TRANSACTION_FOUND. */
TSE_API TSE_NODISCARD tse_err tse_unlock_transaction_logging(tse *t);

/* What the TSE knows about itself: the TR-03151-1 device information
 * (getTotalMemory, getUsedMemory, getFreeMemory, getTimeSyncVariant,
 * getComponentVersions) and whether transaction logging is locked. */
typedef enum tse_time_sync_variant {
    TSE_TIME_SYNC_AUTOMATIC = 0,            /* automaticSync */
    TSE_TIME_SYNC_MANUAL = 1,               /* manualSync: updateTime sets it */
    TSE_TIME_SYNC_AUTOMATIC_AND_MANUAL = 2, /* the host clock, and updateTime too */
} tse_time_sync_variant;

/* The device's components: the deployment's (OPENTSE_DEVICE_INFO, or this
 * library and its OpenSSL) with the versions applied updates recorded
 * (tse_update_device); info.csv names the same ones. */
#define TSE_MAX_COMPONENTS 16
#define TSE_COMPONENT_VALUE_MAX 256
typedef struct tse_component {
    char name[TSE_COMPONENT_VALUE_MAX];   /* e.g. SMAERS, CSP */
    char manufacturer[TSE_COMPONENT_VALUE_MAX];
    char model[TSE_COMPONENT_VALUE_MAX];
    char version[TSE_COMPONENT_VALUE_MAX];
    char certification_id[TSE_COMPONENT_VALUE_MAX];   /* "" when not certified */
} tse_component;

typedef struct tse_device_info {
    /* The store's true figures: bytes the database takes (file and
     * write-ahead log; PostgreSQL: pg_database_size), bytes left on its
     * file system, and their sum. free_memory_known is 0 when the database
     * server does not tell its free space (PostgreSQL): then total equals
     * used and tse_get_free_memory / tse_get_total_memory fail. */
    uint64_t total_memory, used_memory, free_memory;
    int free_memory_known;
    tse_time_sync_variant time_sync_variant;
    int transaction_logging_locked;
    char description[TSE_MAX_DESCRIPTION_LEN + 1];   /* info.csv's, as setDescription set it */
    size_t n_components;
    tse_component components[TSE_MAX_COMPONENTS];
} tse_device_info;

/* Fills `*out`. Any state, no login. */
TSE_API TSE_NODISCARD tse_err tse_get_device_info(tse *t, tse_device_info *out);

/* TR-03151-1 getTotalMemory, getUsedMemory, getFreeMemory: the figures of
 * tse_device_info into `*out`. NOT_SUPPORTED for total and free when the
 * store does not know its free space (PostgreSQL). */
TSE_API TSE_NODISCARD tse_err tse_get_total_memory(tse *t, uint64_t *out);
TSE_API TSE_NODISCARD tse_err tse_get_used_memory(tse *t, uint64_t *out);
TSE_API TSE_NODISCARD tse_err tse_get_free_memory(tse *t, uint64_t *out);

/* TR-03151-1 getTimeSyncVariant into `*out`. */
TSE_API TSE_NODISCARD tse_err tse_get_time_sync_variant(tse *t, tse_time_sync_variant *out);

/* TR-03151-1 getComponentVersions: DER DeviceInformationSet (SEQUENCE OF
 * SEQUENCE {componentName, manufacturer, model, version PrintableString,
 * certificationId PrintableString OPTIONAL (absent when empty)})
 * of tse_device_info's components, `*len` bytes in `*der` (tse_free). */
TSE_API TSE_NODISCARD tse_err tse_get_component_versions(tse *t, uint8_t **der, size_t *len);

/* TR-03151-1 getDeviceHealth: DER HealthInformationSet (SEQUENCE OF
 * SEQUENCE {componentName PrintableString, healthLevel ENUMERATED ok(0)
 * warning(1) error(2) fatal(3), additionalDescription PrintableString
 * OPTIONAL}), `*len` bytes in `*der` (tse_free): "SMA" (the lifecycle:
 * fatal once disabled), "CSP" (the last self-test: error when it failed;
 * the certificate chain: warning from 90 days before its end of usage,
 * fatal after it), "storage" (error below 1 MiB free, warning below 100
 * MiB; ok with "free space not reported" on PostgreSQL). */
TSE_API TSE_NODISCARD tse_err tse_get_device_health(tse *t, uint8_t **der, size_t *len);

/* TR-03151-1 getCurrentSeTime: the TSE's time (seconds since the epoch)
 * into `*out`. Errors: TIME_NOT_SET, SECURE_ELEMENT_DISABLED. */
TSE_API TSE_NODISCARD tse_err tse_get_current_se_time(tse *t, int64_t *out);

/* TR-03151-1 getCurrentTransactionCounter: the number of the last
 * transaction started (0 before the first) into `*out`. */
TSE_API TSE_NODISCARD tse_err tse_get_current_transaction_counter(tse *t, uint64_t *out);

/* TR-03151-1 getCurrentLoggingSignatureCounters: DER SignatureCounterSet
 * (SEQUENCE OF SEQUENCE {keySerialNumber OCTET STRING, counterValue
 * INTEGER}), one record: the TSE's one key signs every log. `*len` bytes in
 * `*der` (tse_free). */
TSE_API TSE_NODISCARD tse_err tse_get_current_logging_signature_counters(tse *t, uint8_t **der, size_t *len);

#define TSE_MAX_LOG_FILE_NAME 256

/* TR-03151-1 getLastLogMessage: the last log message written (DER) and
 * its export file name (TR-03151-1 2.5.5, e.g.
 * "Unixt_1700000000_Sig-12_Log-Sys_updateTime.log") into `file_name`.
 * Errors: NO_LOG_MESSAGE, READING_LOG_MESSAGE. */
TSE_API TSE_NODISCARD tse_err tse_get_last_log_message(tse *t, char file_name[TSE_MAX_LOG_FILE_NAME], uint8_t **msg,
                                                       size_t *len);

/* TR-03151-1 getLastTransactionLogMessage: the last transaction log of
 * transaction `transaction_number`, or with 0 the last transaction log the
 * TSE wrote, with its export file name, as tse_get_last_log_message.
 * Errors: NO_LOG_MESSAGE (no such transaction log is stored),
 * READING_LOG_MESSAGE. */
TSE_API TSE_NODISCARD tse_err tse_get_last_transaction_log_message(tse *t, uint64_t transaction_number,
                                                                   char file_name[TSE_MAX_LOG_FILE_NAME],
                                                                   uint8_t **msg, size_t *len);

/* TR-03151-1 getTransactionState. OpenTSE never abandons a transaction:
 * an open one stays open (overdue, see tse_open_transaction) until it is
 * finished, so TSE_TX_ABANDONED is never reported. */
typedef enum tse_transaction_state {
    TSE_TX_STARTED = 0,                     /* started, no update yet */
    TSE_TX_UPDATED = 1,                     /* updated, every update signed */
    TSE_TX_UPDATED_WITH_UNPROTECTED_DATA = 2, /* unsigned update data waiting */
    TSE_TX_FINISHED = 3,
    TSE_TX_ABANDONED = 4,
} tse_transaction_state;
/* The state of transaction `transaction_number` into `*out`.
 * Errors: TRANSACTION_NUMBER_NOT_FOUND (never started). */
TSE_API TSE_NODISCARD tse_err tse_get_transaction_state(tse *t, uint64_t transaction_number,
                                                        tse_transaction_state *out);

/* TR-03151-1 getOpenTransactions: DER TransactionInfoSet (SEQUENCE OF
 * SEQUENCE {transactionNumber INTEGER, lastInput Time}, lastInput in the
 * TSE's time format), the open transactions by number, `*len` bytes in
 * `*der` (tse_free); an empty SEQUENCE when none is open. */
TSE_API TSE_NODISCARD tse_err tse_get_open_transactions(tse *t, uint8_t **der, size_t *len);

/* TR-03151-1 exportLoggingCertificates: a TAR archive (ustar, as the
 * export's) of every certificate of the chain as "<key serial hex>_X509.der",
 * streamed to `write` as tse_export_data does. Errors: EXPORT_CERT_FAILED,
 * the negative return of `write` that stopped it, STORAGE_FAILURE. */
TSE_API TSE_NODISCARD tse_err tse_export_logging_certificates(tse *t, tse_export_write_fn write, void *ctx);

/* TR-03151-1 configureLogging: OpenTSE logs every event TR-03153-1
 * requires and has no optional one, so no event is configurable:
 * LOGGING_OF_EVENT_NOT_CONFIGURABLE for every component and event (after
 * the arguments were checked: INVALID_ARGUMENT for NULL or non-printable
 * names), and nothing is logged or changed. */
TSE_API TSE_NODISCARD tse_err tse_configure_logging(tse *t, const char *component_name, const char *event_name,
                                                    int event_enabled);

/* The largest update package tse_update_device takes, in bytes. */
#define TSE_MAX_UPDATE_PACKAGE (64 * 1024)
/* TR-03151-1 updateDevice (Admin, log format 3): applies a signed update
 * package (docs/se-api.md "Update packages"): a manifest naming the
 * components and their new versions, signed with the deployment's update
 * key (the PEM public key in the file OPENTSE_UPDATE_KEY names; opentsed
 * --update-key). Applying it records the new versions, which
 * tse_get_device_info, getComponentVersions and info.csv report from then
 * on; the software itself is installed by the package manager. Every
 * attempt past the checks of the caller and the state writes the system
 * logs updateDevice and updateDeviceCompleted (outcome success, or failed
 * with the reason). Errors: UPDATE_DEVICE_FAILED (no key configured, the
 * package malformed, or its signature not made by the update key; logged,
 * nothing else changed), INVALID_ARGUMENT (NULL or empty), TOO_LARGE (over
 * 64 KiB), OPEN_TRANSACTION_FOUND, TIME_NOT_SET, USER_NOT_AUTHENTICATED,
 * SE_API_NOT_INITIALIZED, SECURE_ELEMENT_DISABLED, NOT_SUPPORTED (a TSE of
 * log format 2). */
TSE_API TSE_NODISCARD tse_err tse_update_device(tse *t, const uint8_t *package, size_t len);

/* ------------------------------------------------------------ helpers */

/* Lower-case hex of `len` bytes into `out`, which must hold 2*len+1 bytes
 * (NUL-terminated). */
TSE_API void tse_hex(const uint8_t *bytes, size_t len, char *out);
/* Name of the curve, e.g. "P-256", "brainpoolP384r1" (static storage);
 * NULL for a value outside tse_curve. */
TSE_API const char *tse_curve_name(tse_curve c);

/* The release of this libopentse, e.g. "0.1.0" (a constant string). */
TSE_API const char *tse_version(void);

/* Writes a new random master key (64 hex digits and a newline) to a new file
 * `path` with mode 0600: what tse_create_options.master_key_path names.
 * TSE_ERR_ALREADY_EXISTS if the file exists (it is never overwritten), or
 * TSE_ERR_KEY_UNAVAILABLE when it cannot be written (nothing is left then). */
TSE_API TSE_NODISCARD tse_err tse_create_master_key(const char *path);

#ifdef __cplusplus
}
#endif
#endif /* OPENTSE_H */
