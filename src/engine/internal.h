/*
 * internal.h - the engine's private state and the helpers its files share.
 *
 * One `struct engine` per open TSE. `mu` guards everything in it; signing and
 * queueing a log happen under `mu` so that counters reach the store in order,
 * waiting for durability happens outside it (group commit). The slow PIN/PUK
 * KDF also runs outside `mu`.
 */
#ifndef OPENTSE_ENGINE_INTERNAL_H
#define OPENTSE_ENGINE_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/encode.h"
#include "base/text.h"
#include "codec/logmsg.h"
#include "csp/csp.h"
#include "engine/engine.h"
#include "opentse/opentse.h"
#include "store/store.h"

/* The store's meta records of a TSE. */
#define META_VERSION "format_version"
#define META_CURVE "curve"
#define META_HASH "hash"
#define META_TIME_FORMAT "time_format"
#define META_MAX_CLIENTS "max_clients"
#define META_MAX_TX "max_open_transactions"
#define META_TRUST_CLOCK "trust_system_clock"
#define META_SESSION_TIMEOUT "session_timeout"
#define META_MANUFACTURER_DESC "manufacturer_description"
#define META_KEY "key"
#define META_POINT "public_key"
#define META_CERT "certificate"
#define META_STATE "state"
#define META_DESCRIPTION "description"
#define META_TIME_CREATION "time_creation"
#define META_TIME_INIT "time_init"
#define META_TIME_DISABLE "time_disable"
#define META_PUK "puk"
#define META_LOG_FORMAT "log_format"     /* 2 or 3; missing: 2 (events.c) */
#define META_TX_LOCKED "transaction_logging_locked"   /* 1: lockTransactionLogging (admin.c) */


#define ENGINE_MAX_RETRIES 3
/* PUK back-off: from the ENGINE_MAX_RETRIES-th wrong PUK in a row the PUK is
 * refused for ENGINE_PUK_BACKOFF seconds, doubling with each further wrong
 * one up to ENGINE_PUK_BACKOFF_MAX. */
#define ENGINE_PUK_BACKOFF 60
#define ENGINE_PUK_BACKOFF_MAX 86400
#define ENGINE_MAX_POINT 133

/* The users of TR-03153-1 v1.1.1 5.3.2; the logger's PIN is optional (5.3.3). */
enum { USER_ADMIN = 0, USER_TIME_ADMIN = 1, USER_LOGGER = 2, USER_COUNT = 3 };

typedef struct engine_user {
    const char *id;
    bool has_pin;
    uint8_t pin_rec[CSP_SECRET_HASH_LEN];
    int retries_left;
    int64_t auth_until;       /* 0: not authenticated */
} engine_user;

typedef struct engine_tx {
    uint64_t number;
    char client_id[TSE_MAX_CLIENT_ID_LEN + 1];
    uint64_t start_counter;
    int64_t start_time;
    int64_t last_update;
    uint8_t *pending;         /* unsigned-update data */
    size_t pending_len;
    /* whose the kept data is (transactions.c, meta "tx.kept.<number>"):
     * kept_known false until read; kept: unsigned updates since the last
     * signed log; kept_client "" when a store of before kept no owner */
    bool kept_known, kept, kept_no_type;   /* kept_no_type: processType NULL */
    char kept_client[TSE_MAX_CLIENT_ID_LEN + 1];
    char kept_type[TSE_MAX_PROCESS_TYPE_LEN + 1];
} engine_tx;

struct engine {
    pthread_mutex_t mu;
    store *st;

    /* configuration, fixed at creation */
    tse_curve curve;
    tse_hash hash;
    tse_time_format time_format;
    uint32_t max_clients, max_open_tx;
    bool trust_clock;
    bool recovery;            /* opened for restoreFromBackup: signs nothing until it succeeded */
    uint32_t session_timeout;
    char manufacturer_description[TSE_MAX_DESCRIPTION_LEN + 1];

    /* key and certificate */
    csp_key *key;             /* NULL when the master key is unavailable */
    tse_error key_error;
    uint8_t point[ENGINE_MAX_POINT];
    size_t point_len;
    uint8_t serial[TSE_SERIAL_LEN];
    char *cert_pem;
    int64_t cert_not_after;
    int64_t end_of_usage;     /* earliest notAfter of the chain */
    int32_t end_of_usage_cert; /* its index in the chain: 0 = the TSE's own */

    /* lifecycle */
    tse_state state;
    char description[TSE_MAX_DESCRIPTION_LEN + 1];
    int64_t time_creation, time_init, time_disable;
    bool tx_logging_locked;   /* lockTransactionLogging: no transaction logs until unlocked */
    engine_user users[USER_COUNT];
    uint8_t puk_rec[CSP_SECRET_HASH_LEN];
    int64_t puk_failures;     /* wrong PUKs in a row (meta "puk.failures") */
    int64_t puk_until;        /* host time the PUK is blocked until, 0: not (meta "puk.until") */

    /* counters: last used values */
    uint64_t counter;
    uint64_t tx_counter;
    int64_t last_log_time;

    /* time: TSE time = time_base + whole seconds of (monotonic now - mono_base),
     * mono_base in nanoseconds, so the time never runs ahead of the one set */
    bool time_set;
    int64_t time_base;
    int64_t mono_base;

    /* clients (sorted) and open transactions (sorted by number) */
    char **clients;
    size_t n_clients, cap_clients;
    engine_tx *txs;
    size_t n_txs, cap_txs;

    /* a failed commit could not be followed by re-reading the store: the
     * state above may be ahead of it; writes re-read first (engine_submit_*) */
    bool stale;
    tse_err load_rc;          /* first failure of a meta read since it was reset */

    /* log format (events.c): 0 until read from the store, then 2 or 3 */
    int log_version;
    bool self_tested;         /* the selfTest of engine_open() was logged */

    /* self-test */
    bool self_test_ok;
    int64_t self_test_time;
    char self_test_error[640];
    uint64_t self_test_bad_log;   /* the stored log a self-test found altered, 0: none */
};

/* Debug builds: the code below requires t->mu to be held (by this thread;
 * what can be checked is that it is held at all). */
#define ENGINE_ASSERT_LOCKED(t) assert(pthread_mutex_trylock(&(t)->mu) == EBUSY)

/* errors.c: per-thread message for tse_last_error_message(). Returns code. */
tse_err engine_fail(tse_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A queued commit: the store's ticket and, for a log, the bytes to sign
 * once mu is released. Owned by the caller until engine_finish_commit(). */
typedef struct engine_commit {
    store_ticket *ticket;
    uint8_t *tbs;             /* NULL: nothing to sign */
    size_t tbs_len, sig_len;
    tse_result *res;          /* gets the signature; may be NULL */
    engine_record_fn hook;    /* the caller's records for this commit (engine_records_attach) */
    void *hook_ctx;
    uint64_t seq;             /* its place in its database's queue (log.c's lanes) */
} engine_commit;

/* records.c: takes this thread's attached records hook (NULL if none). */
engine_record_fn engine_take_hook(void **ctx);
/* Turns records into store changes (malloc'd array; NULL with n == 0). */
tse_err engine_records_to_changes(const engine_record *r, size_t n, store_change **out);

/* engine.c */
int64_t engine_host_time(void);
int64_t engine_mono_ns(void);            /* CLOCK_MONOTONIC in nanoseconds */
int64_t engine_now(engine *t);            /* TSE time, or host time when not set; never below the last log */
/* (Re)reads all state from the store; under mu, with no commit of this
 * engine queued. All or nothing: on failure the state stays as it was and
 * t->stale is set. */
/* state.c: a meta record (`*val` malloc'd; NOT_FOUND when there is none),
 * or as an integer or text with a default for a missing record. */
tse_err engine_meta_read(engine *t, const char *key, uint8_t **val, size_t *len);
/* The same outside a load: a failure is not recorded in load_rc. */
tse_err engine_meta_read_now(engine *t, const char *key, uint8_t **val, size_t *len);
int64_t engine_meta_read_int(engine *t, const char *key, int64_t dflt);
void engine_meta_read_text(engine *t, const char *key, char *out, size_t cap);
/* Frees the handle's lists of clients and open transactions. */
void engine_free_lists(engine *t);
tse_err engine_reload(engine *t);
/* Builds and queues a log (under mu) with the state changes `ch`. Fills
 * f->signature_counter/log_time/serial/alg and `res` but its signature. On
 * success the counter is consumed and *ticket must be passed to
 * engine_finish_commit() after releasing mu: it signs (so threads sign in
 * parallel while the store keeps counter order), fills res->signature and
 * waits for durability. */
tse_err engine_submit_log(engine *t, logmsg_fields *f, const store_change *ch, size_t n_ch,
                          tse_result *res, engine_commit **ticket);
/* Queues state changes without a log (under mu). */
tse_err engine_submit_state(engine *t, const store_change *ch, size_t n_ch, engine_commit **ticket);
/* Signs a queued log, then waits for durability (without mu). NULL is fine.
 * On failure re-syncs the engine from the store and returns STORAGE_FAILURE
 * (or SIGNING_SYSTEM_OPERATION_DATA_FAILED). */
tse_err engine_finish_commit(engine *t, engine_commit *ticket);
/* Under mu, before reading the state: re-reads it when a failed commit left
 * it stale (t->stale). TSE_OK, or why it could not be re-read. */
tse_err engine_catch_up(engine *t);
/* Under mu, when a failed commit left the state stale: re-reads it and
 * refuses the call (STORAGE_FAILURE: repeat it), or why it could not. */
tse_err engine_resync(engine *t);
/* Waits for a session-timeout logOut queued by engine_require_role() (may be
 * NULL), then for the operation's own commit (may be NULL); `rc` is the
 * operation's result so far. A failed logOut makes an operation that
 * failed anyway report the storage failure; a committed operation stays
 * committed (a log queued behind the failed logOut fails with it). */
tse_err engine_finish_after_timeout(engine *t, engine_commit *timeout, tse_err rc, engine_commit *ticket);
/* Writes one system log with the given systemOperationData (under mu). */
tse_err engine_system_log(engine *t, const char *operation, const uint8_t *data, size_t len,
                          const store_change *ch, size_t n_ch, engine_commit **ticket);
/* Encodes a time as systemOperationData field in the TSE's time format. */
void engine_put_time(engine *t, der_w *w, uint8_t tag, int64_t when);
/* Session check for an operation that needs one of the roles (bit mask of
 * 1 << USER_*). Logs a timeout logOut when a session expired. Under mu. */
tse_err engine_require_role(engine *t, unsigned roles, engine_commit **timeout_ticket);
/* Under mu, for start, update and finish: a logger with a PIN must be
 * logged in (TR-03153-1 v1.1.1 table 9: no other role may call them);
 * without a PIN every caller acts as the logger. An ended session is
 * logged out by the next role check or login. */
tse_err engine_require_logger(engine *t);
/* Under mu: USER_NOT_AUTHORIZED when a user of `roles` is logged in, for
 * the functions table 9 denies that role but allows the unauthenticated. */
tse_err engine_refuse_role(engine *t, unsigned roles, const char *what);
/* State checks common to signing operations. */
tse_err engine_require_signing(engine *t);
/* Sets end_of_usage and end_of_usage_cert from cert_pem (under mu or before
 * the handle is shared). */
void engine_set_end_of_usage(engine *t);

/* events.c: the log format of the TSE into *version (2 or 3; under mu), or
 * why the store could not tell; and its system logs. */
tse_err engine_log_format(engine *t, int *version);

/* User ids and component names of TR-03153-1 v1.1.1 (5.3.2, 5.2.4.1) in
 * version-3 system logs. */
#define ENGINE_USER_UNAUTHENTICATED "unauthenticated"
#define ENGINE_COMPONENT_INTERFACE "integration-interface"
#define ENGINE_COMPONENT_SMA "SMA"
#define ENGINE_COMPONENT_CSP "CSP"
#define ENGINE_COMPONENT_STORAGE "storage"

typedef enum engine_event_kind {
    EV_INITIALIZE, EV_UPDATE_TIME, EV_DISABLE, EV_REGISTER_CLIENT, EV_DEREGISTER_CLIENT,
    EV_AUTHENTICATE, EV_LOGOUT, EV_UNBLOCK, EV_DELETE, EV_RESTORE, EV_SELF_TEST,
    /* version 3 only (TR-03151-1 v1.1.1): the callers refuse them on version 2 */
    EV_SET_DESCRIPTION, EV_LOCK_TX, EV_UNLOCK_TX, EV_UPDATE_DEVICE, EV_UPDATE_DEVICE_COMPLETED,
    EV_START_AUDIT, EV_ENTER_SECURE_STATE, EV_EXIT_SECURE_STATE,   /* TR-03153-1 v1.1.1 9.8.2-9.8.4: by the SMA */
} engine_event_kind;

/* What a system log records; each event uses the fields it names. */
typedef struct engine_event {
    engine_event_kind kind;
    const char *text;        /* description, client id, user id, or the selfTest's error */
    int64_t time_before;     /* updateTime; enterSecureState: timeOfEvent of a late log, 0: none */
    int64_t time_after;      /* updateTime: the new time; disable: now */
    uint64_t count;          /* version 2 deleteStoredData: highest counter deleted; restore: logs restored */
    int user_index;          /* authenticateUser: USER_* */
    bool unknown_user;       /* authenticateUser, unblockPin: `text` is no user id the TSE manages */
    int retries_left;        /* authenticateUser */
    bool success;            /* authenticate, unblock, selfTest, updateDeviceCompleted */
    const logmsg_component *components;   /* updateDevice: before; updateDeviceCompleted: after */
    size_t n_components;
    bool timeout;            /* logOut: the session timed out */
    bool other_login;        /* logOut: another user logged in (differentUserLoggedIn, version 3) */
    bool by_tse;             /* the TSE triggered it itself, not a caller */
    bool blocked;            /* authenticate/unblock refused: PIN blocked, PUK temporarily blocked */
    unsigned roles;          /* the roles that may call it (1 << USER_*): the acting user is
                                the one logged in with them; 0: "unauthenticated" */
} engine_event;

/* Writes the system log of `ev` in the TSE's log format with the state
 * changes `ch` (under mu); as engine_system_log. An event version 3 has no
 * log for (restoreFromBackup) only queues `ch` (*ticket NULL if none). */
tse_err engine_event_log(engine *t, const engine_event *ev, const store_change *ch, size_t n_ch,
                         engine_commit **ticket);
/* The selfTest log of the last run_self_test() (engine.c). */
tse_err engine_log_self_test(engine *t, engine_commit **ticket);
/* Under mu, before the first selfTest of a TSE that has never signed: the
 * SMA starts its audit function (TR-03153-1 v1.1.1 9.8.2), the startAudit
 * log, once in the TSE's life. Version 3 only. */
tse_err engine_log_start_audit(engine *t, engine_commit **ticket);
/* After run_self_test(), under mu: the next log of the SMA's safe state
 * (TR-03153-1 v1.1.1 9.8.3, 9.8.4), *ticket NULL when none is due. A failed
 * self-test enters it: the enterSecureState log, or, without the key, only
 * the time in the meta record "secure_state". A passing one leaves it:
 * first enterSecureState (with timeOfEvent) if it could not be logged
 * then, at the next call exitSecureState. Version 3 only. */
tse_err engine_log_secure_state(engine *t, engine_commit **ticket);
/* Before a self-test, under mu: the altered log the safe state's record
 * names into t->self_test_bad_log, checked again by the self-test. */
void engine_secure_state_load(engine *t);

/* audit.c, under mu: the CSP's audit logs (format 3; seAuditData in
 * docs/log-format-3.md). keyGenerated once in the TSE's life, after startAudit
 * (*ticket NULL when not due); certificateImported with the import's state
 * changes `ch` in one commit (a TSE of format 2 or without its key: only
 * the changes). */
tse_err engine_log_key_generated(engine *t, engine_commit **ticket);
tse_err engine_audit_certificate(engine *t, const char *pem, int64_t not_after, const store_change *ch, size_t n_ch,
                                 engine_commit **ticket);

/* update.c: the device's components (the deployment's with the applied
 * updates) into *out; under mu. */
struct export_device;
tse_err engine_components(engine *t, struct export_device *out);
/* At opening: the updateDeviceCompleted log of an update made outside
 * updateDevice (TR-03153-1 9.10), see update.c. */
tse_err engine_log_outside_update(engine *t);

/* string helpers */
bool engine_valid_text(const char *s, size_t max, bool allow_empty);
/* A PIN of TSE_MIN_PIN_LEN..TSE_MAX_PIN_LEN printable characters without spaces. */
bool engine_valid_pin(const char *pin);
void engine_meta_int(store_change *c, const char *key, int64_t v, char buf[24]);

/* clients and transactions (engine.c) */
bool engine_has_client(engine *t, const char *id);
engine_tx *engine_find_tx(engine *t, uint64_t number);

#endif
