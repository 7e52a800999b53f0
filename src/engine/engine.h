/*
 * engine.h - the engine's API: the TR-03151 SE API on one TSE kept in a
 * store, in-process.
 *
 * Each engine_X has the semantics, arguments and errors documented for
 * tse_X in <opentse/opentse.h> (not repeated here); libopentse's tse_X
 * calls it for "file:" handles (client/transport_file.c), opentsed calls it
 * directly. The error enum, result structs and helpers
 * (tse_strerror, tse_free, ...) are the public ones.
 */
#ifndef OPENTSE_ENGINE_H
#define OPENTSE_ENGINE_H

#include "base/error.h"
#include <stdbool.h>

#include "opentse/opentse.h"

typedef struct engine engine;

/* Sets this thread's detail message (tse_last_error_message()) to
 * "<code name>: <message>" and returns `code`. */
tse_err engine_fail(tse_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets this thread's last error to `err` (its code and message); returns the code. */
tse_err engine_fail_with(const tse_error *err);
/* ids.c: a client's UUID in opentsed's API, the same in every face: the
 * client_id itself when it is a UUID, else a version-5-style UUID from
 * SHA-256("opentse-client:" + client_id). engine_uuid_format sets version
 * and variant bits in b and writes the 36-character form (base/text.h's
 * uuid_valid checks that form). */
void engine_client_uuid(const char *client_id, char out[37]);
void engine_uuid_format(uint8_t b[16], uint8_t version, char out[37]);


tse_err engine_create(const char *path, const tse_create_options *opts,
                           char puk_out[TSE_PUK_LEN + 1]);

/* engine_create with the built-in CA's certificate valid for
 * `cert_validity_seconds` (> 0) instead of opts->cert_validity_days:
 * opentsed's --cert-validity and tests of expiry. Not part of libopentse's
 * public API. */
tse_err engine_create_with_validity(const char *path, const tse_create_options *opts, int64_t cert_validity_seconds,
                                    char puk_out[TSE_PUK_LEN + 1]);

tse_err engine_open(const char *url, const tse_open_options *opts, engine **out);

/* ------------------------------------------------- a deployment's database
 *
 * opentsed keeps every TSE of a deployment in one database, with the
 * records it keeps about them (records.c). The type is the store's, opaque
 * here. */
typedef struct store_db engine_db;

/* Opens the database at `path`, creating it when missing. */
tse_err engine_db_open(const char *path, engine_db **out);
/* The same for node `node` of a deployment (see store_db_open_as). */
tse_err engine_db_open_as(const char *path, const char *node, engine_db **out);
void engine_db_close(engine_db *d);
/* engine_create_with_validity and engine_open for TSE `name` of d.
 * admin_pin (optional) is the admin's PIN from the creation's own commit
 * (the TSE then starts UNINITIALIZED, as after tse_unblock_user with the
 * PUK), so a TSE made for a caller is never left without a usable PIN. */
tse_err engine_create_in(engine_db *d, const char *name, const tse_create_options *opts,
                         int64_t cert_validity_seconds, const char *admin_pin, char puk_out[TSE_PUK_LEN + 1]);
tse_err engine_open_in(engine_db *d, const char *name, const tse_open_options *opts, engine **out);
/* Whether another node of a shared store took this TSE over. */
bool engine_lease_lost(engine *t);
/* Takes the TSE back when no node holds it any more; its state is read
 * again before the next operation. STORE_IN_USE while another node has it. */
tse_err engine_reacquire(engine *t);
/* The node holding TSE name's lease now (a shared store); NOT_FOUND if none. */
tse_err engine_db_tse_owner(engine_db *d, const char *name, char out[17]);
/* Copies the TSE of a single-TSE file (file: layout) into d as `name`. */
tse_err engine_db_import(engine_db *d, const char *name, const char *path);
/* Moves the deployment in the sqlite: store file at `path` into d, an empty
 * PostgreSQL store (store_db_copy_from); counts (may be NULL): TSEs, logs
 * and records moved, and 1 in counts[3] when the file had been copied
 * before (nothing done). */
tse_err engine_db_copy_from(engine_db *d, const char *path, uint64_t counts[4]);

/* A record: a text value (JSON by convention) under a namespace and key,
 * with an optional secondary key `idx` to select by and an order `ord`. */
typedef enum engine_record_op {
    ENGINE_RECORD_PUT = 1,   /* insert or replace */
    ENGINE_RECORD_INSERT,    /* ALREADY_EXISTS (and nothing of the commit) if ns/key exists */
    ENGINE_RECORD_DELETE,
} engine_record_op;
typedef struct engine_record {
    engine_record_op op;
    const char *ns, *key, *idx;
    int64_t ord;
    const char *value;
} engine_record;

/* Commits records alone (one group commit with every TSE's logs). */
tse_err engine_records_commit(engine_db *d, const engine_record *r, size_t n);
/* `*value` (malloc'd, free with free()) of ns/key; TSE_ERR_NOT_FOUND if none. */
tse_err engine_record_get(engine_db *d, const char *ns, const char *key, char **value);
/* Records of ns (idx == idx unless NULL) in the order of ord, then insertion. */
tse_err engine_record_each(engine_db *d, const char *ns, const char *idx, uint64_t offset, uint64_t limit,
                           int (*cb)(void *ctx, const char *key, const char *value), void *ctx);
tse_err engine_record_count(engine_db *d, const char *ns, const char *idx, uint64_t *n);
/* Rows of a table of a database file of an earlier layout, as text. */
tse_err engine_legacy_rows(const char *path, const char *table,
                           int (*cb)(void *ctx, int n, const char *const *names, const char *const *values),
                           void *ctx);

/* Records that commit together with this thread's next operation: the
 * next log or state change the calling thread's next engine call commits
 * calls fn(ctx, result) once its result (signature included; NULL for
 * operations without a tse_result) is known, and the records it returns
 * (valid until the call returns) are part of the same atomic commit: both
 * or neither are stored, and the operation answers only after both are
 * durable. fn returns TSE_OK or an error (then nothing is stored). The hook
 * is used by one commit; clear it with engine_records_attach(NULL, NULL)
 * after the call in any case (a refused call does not take it). */
typedef tse_err (*engine_record_fn)(void *ctx, const tse_result *res, const engine_record **recs, size_t *n);
void engine_records_attach(engine_record_fn fn, void *ctx);

void engine_close(engine *t);

/* ---------------------------------------------------------------- users */

tse_err engine_set_admin_pin(engine *t, const char *puk, const char *new_pin);

tse_err engine_authenticate_user(engine *t, const char *user_id, const char *pin,
                                      tse_auth_result *result, int *remaining_retries);
tse_err engine_logout(engine *t, const char *user_id);
tse_err engine_unblock_user(engine *t, const char *user_id, const char *puk,
                                 const char *new_pin);
/* Sets or changes the PIN of the time admin or the logger; the admin logged
 * in. A logger with a PIN keeps one: transactions need it logged in. */
tse_err engine_set_user_pin(engine *t, const char *user_id, const char *new_pin);
/* The user logged in now (tse_logged_in_user). */
tse_err engine_logged_in_user(engine *t, char out[TSE_USER_ID_BUF]);
/* Seconds the PUK stays blocked after too many wrong PUKs in a row (0: it
 * may be tried). */
int64_t engine_puk_blocked_for(engine *t);

/* ------------------------------------------------------ administration */

tse_err engine_initialize(engine *t, const char *description);
tse_err engine_update_time(engine *t, int64_t unix_time);
tse_err engine_disable_secure_element(engine *t);
/* The retirement of a TSE for its successor: the admin logged in now
 * authorizes it (kept in the TSE's state, so a restart keeps it), and
 * engine_disable_authorized later performs the disableSecureElement it
 * authorized (its log names the admin's role), when the faces have exported
 * the TSE after its last transaction. AUTHENTICATION_FAILED when nobody
 * authorized it. */
tse_err engine_authorize_retirement(engine *t);
bool engine_retirement_authorized(engine *t);
tse_err engine_disable_authorized(engine *t);
tse_err engine_register_client(engine *t, const char *client_id);
tse_err engine_deregister_client(engine *t, const char *client_id);
tse_err engine_self_test(engine *t);
/* TR-03151-1 v1.1.1 (admin.c, device.c) */
tse_err engine_set_description(engine *t, const char *description);
tse_err engine_set_transaction_logging_locked(engine *t, bool lock);
/* tse_get_device_info; `interface` names the face that calls it
 * ("libopentse", "opentsed"), the model of the integration-interface. */
tse_err engine_get_device_info(engine *t, const char *interface, tse_device_info *out);
tse_err engine_get_transaction_state(engine *t, uint64_t number, tse_transaction_state *out);
/* update.c: tse_update_device; and whether the file at `path` holds a PEM
 * public key an update key can be (INVALID_ARGUMENT with the reason). */
tse_err engine_update_device(engine *t, const uint8_t *package, size_t len);
tse_err engine_update_key_check(const char *path);
/* The TR-03151-1 names of a transaction state ("started", ...) and of a
 * time sync variant ("manualSync", ...), NULL for other values; and back
 * (-1 for an unknown name). The faces' JSON uses them. */
const char *engine_tx_state_name(tse_transaction_state s);
int engine_tx_state_value(const char *name);
const char *engine_time_sync_name(tse_time_sync_variant v);
int engine_time_sync_value(const char *name);
/* tse_get_last_transaction_log_message without the file name. */
tse_err engine_get_last_transaction_log(engine *t, uint64_t number, uint8_t **msg, size_t *len);

/* --------------------------------------------------------- transactions */

tse_err engine_start_transaction(engine *t, const char *client_id,
                                      const uint8_t *process_data, size_t process_data_len,
                                      const char *process_type,
                                      const uint8_t *additional_data, size_t additional_data_len,
                                      tse_result *out);
tse_err engine_update_transaction(engine *t, const char *client_id, uint64_t transaction_number,
                                       const uint8_t *process_data, size_t process_data_len,
                                       const char *process_type, tse_update_variant variant,
                                       tse_result *out);
tse_err engine_finish_transaction(engine *t, const char *client_id, uint64_t transaction_number,
                                       const uint8_t *process_data, size_t process_data_len,
                                       const char *process_type,
                                       const uint8_t *additional_data, size_t additional_data_len,
                                       tse_result *out);
/* The same with the log of TR-03151-1 3.7.6.5 step 9 (and 3.7.7.5 step 9):
 * data kept from unsigned updates under another clientId or processType
 * than this call's is first signed in an update log of its own under those
 * (*kept, committed before this call's own log or state); kept may be NULL,
 * kept->signature_counter is 0 when no such log was made. The records
 * hook (engine_records_attach) goes with this call's own commit. */
tse_err engine_update_transaction_logs(engine *t, const char *client_id, uint64_t transaction_number,
                                       const uint8_t *process_data, size_t process_data_len,
                                       const char *process_type, tse_update_variant variant, tse_result *kept,
                                       tse_result *out);
tse_err engine_finish_transaction_logs(engine *t, const char *client_id, uint64_t transaction_number,
                                       const uint8_t *process_data, size_t process_data_len,
                                       const char *process_type, const uint8_t *additional_data,
                                       size_t additional_data_len, tse_result *kept, tse_result *out);
tse_err engine_list_open_transactions(engine *t, tse_open_transaction **out, size_t *count);

/* ------------------------------------------------------------ reading */

tse_err engine_get_info(engine *t, tse_info *out);
tse_err engine_read_log_message(engine *t, uint8_t **msg, size_t *len);
tse_err engine_read_log_by_counter(engine *t, uint64_t counter, uint8_t **msg, size_t *len);
tse_err engine_export_serial_numbers(engine *t, uint8_t **der, size_t *len);
tse_err engine_get_max_number_of_clients(engine *t, uint32_t *out);
tse_err engine_get_current_number_of_clients(engine *t, uint32_t *out);
tse_err engine_get_max_number_of_transactions(engine *t, uint32_t *out);
tse_err engine_get_current_number_of_transactions(engine *t, uint32_t *out);
tse_err engine_get_supported_transaction_update_variants(engine *t, tse_update_variant *out);
tse_err engine_list_clients(engine *t, char ***ids, size_t *count);

/* ------------------------------------------------------- certificates */

tse_err engine_export_certificates(engine *t, char **pem);
tse_err engine_public_key(engine *t, uint8_t **point, size_t *len);
tse_err engine_export_csr(engine *t, char **pem);
tse_err engine_import_certificate(engine *t, const char *pem_chain);
tse_err engine_certificate_expiry(engine *t, int64_t *not_after, int32_t *days_left);

/* TR-03151 getEndOfUsageDate: the earliest notAfter of the certificate chain,
 * whole days left until it and which certificate it is (0 = the TSE's own,
 * 1.. = a CA certificate of the chain). */
tse_err engine_end_of_usage(engine *t, int64_t *end, int32_t *days_left, int32_t *which);

/* Group commit since open (for monitoring): batches committed, flushes to
 * disk, and the largest number of batches one flush carried. */
tse_err engine_commit_stats(engine *t, uint64_t *batches, uint64_t *flushes, uint64_t *max_batch);

/* --------------------------------------------------- export and backup */

tse_err engine_export_data(engine *t, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                           tse_export_result *out);
/* The same with info.csv's description starting with `mark` (NULL: none),
 * e.g. "TEST": an archive that says what kind of TSE wrote it. */
tse_err engine_export_data_marked(engine *t, const char *mark, const tse_export_filter *filter,
                                  tse_export_write_fn write, void *ctx, tse_export_result *out);
/* Whether an export with `filter` would start now: the filter's checks
 * (PARAMETER_MISMATCH, ID_NOT_FOUND, TRANSACTION_NUMBER_NOT_FOUND,
 * NO_DATA_AVAILABLE, TOO_MANY_RECORDS), nothing written. */
tse_err engine_export_check(engine *t, const tse_export_filter *filter);
tse_err engine_delete_stored_data(engine *t);
tse_err engine_restore_from_backup(engine *t, const char *const *paths, size_t n_paths, uint64_t *added);

#endif /* OPENTSE_ENGINE_H */
