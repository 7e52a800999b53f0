/*
 * engine.h - the engine's API: the TR-03151 SE API on one TSE kept in a
 * store, in-process.
 *
 * Each engine_X has the semantics documented for tse_X in
 * <opentse/opentse.h>; libopentse's tse_X calls it for "file:" handles,
 * opentsed calls it directly. The error enum, result structs and helpers
 * (tse_strerror, tse_free, ...) are the public ones.
 */
#ifndef OPENTSE_ENGINE_H
#define OPENTSE_ENGINE_H

#include <stdbool.h>

#include "opentse/opentse.h"

typedef struct engine engine;

/* Sets this thread's detail message (tse_last_error_message()) to
 * "<code name>: <message>" and returns `code`. */
tse_err engine_fail(tse_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ids.c: a client's UUID in opentsed's API, the same in every face: the
 * client_id itself when it is a UUID, else a version-5-style UUID from
 * SHA-256("opentse-client:" + client_id). engine_uuid_format sets version
 * and variant bits in b and writes the 36-character form; engine_is_uuid
 * checks that form. */
void engine_client_uuid(const char *client_id, char out[37]);
void engine_uuid_format(uint8_t b[16], uint8_t version, char out[37]);
bool engine_is_uuid(const char *s);


/* Creates a new TSE in a new file `path` (refused if it exists:
 * TSE_ERR_ALREADY_EXISTS): key pair, built-in CA certificate chain, state
 * CREATED. Writes the PUK (TSE_PUK_LEN digits + NUL) to `puk_out`; it is shown
 * this once and stored only as a slow hash. */
tse_err engine_create(const char *path, const tse_create_options *opts,
                           char puk_out[TSE_PUK_LEN + 1]);

/* Opens a TSE. `url` is "file:/path/to/tse.db" or a plain path. Runs the
 * self-test and writes its system log (when the TSE can sign). Only one
 * handle per store: another owner gives TSE_ERR_STORE_IN_USE. */
tse_err engine_open(const char *url, const tse_open_options *opts, engine **out);

/* Closes and frees the handle. Waits for in-flight operations. NULL is fine. */
void engine_close(engine *t);


/* ---------------------------------------------------------------- users */

/* CREATED/UNINITIALIZED -> sets the admin PIN with the PUK (system log
 * unblockUser); state becomes UNINITIALIZED. Same as engine_unblock_user(admin). */
tse_err engine_set_admin_pin(engine *t, const char *puk, const char *new_pin);

/* TR-03151 authenticateUser. Writes `*result` and `*remaining_retries`
 * (either may be NULL). Returns TSE_OK on success, AUTHENTICATION_FAILED on a
 * wrong PIN, PIN_BLOCKED when blocked, USER_ID_NOT_MANAGED for unknown ids. */
tse_err engine_authenticate_user(engine *t, const char *user_id, const char *pin,
                                      tse_auth_result *result, int *remaining_retries);
tse_err engine_logout(engine *t, const char *user_id);
/* Sets a new PIN with the PUK and resets the retry counter. */
tse_err engine_unblock_user(engine *t, const char *user_id, const char *puk,
                                 const char *new_pin);
/* Authenticated admin sets or changes the time admin's PIN. */
tse_err engine_set_time_admin_pin(engine *t, const char *new_pin);

/* ------------------------------------------------------ administration */

tse_err engine_initialize(engine *t, const char *description);
/* Sets the time (seconds since the epoch); Admin or TimeAdmin. */
tse_err engine_update_time(engine *t, int64_t unix_time);
tse_err engine_disable_secure_element(engine *t);
tse_err engine_register_client(engine *t, const char *client_id);
tse_err engine_deregister_client(engine *t, const char *client_id);
/* Runs the self-test again (system log selfTest). */
tse_err engine_self_test(engine *t);

/* --------------------------------------------------------- transactions */

tse_err engine_start_transaction(engine *t, const char *client_id,
                                      const uint8_t *process_data, size_t process_data_len,
                                      const char *process_type,
                                      const uint8_t *additional_data, size_t additional_data_len,
                                      tse_result *out);
/* variant TSE_UPDATE_SIGNED writes a log; TSE_UPDATE_UNSIGNED keeps the data
 * (durably) and prepends it to the transaction's next signed log. */
tse_err engine_update_transaction(engine *t, const char *client_id, uint64_t transaction_number,
                                       const uint8_t *process_data, size_t process_data_len,
                                       const char *process_type, tse_update_variant variant,
                                       tse_result *out);
tse_err engine_finish_transaction(engine *t, const char *client_id, uint64_t transaction_number,
                                       const uint8_t *process_data, size_t process_data_len,
                                       const char *process_type,
                                       const uint8_t *additional_data, size_t additional_data_len,
                                       tse_result *out);
/* Open transactions, oldest last update first. `*out` is freed with tse_free. */
tse_err engine_list_open_transactions(engine *t, tse_open_transaction **out, size_t *count);

/* ------------------------------------------------------------ reading */

tse_err engine_get_info(engine *t, tse_info *out);
/* The last log message written (DER). `*msg` freed with tse_free. */
tse_err engine_read_log_message(engine *t, uint8_t **msg, size_t *len);
/* Log message by signature counter. */
tse_err engine_read_log_by_counter(engine *t, uint64_t counter, uint8_t **msg, size_t *len);
/* TR-03151 exportSerialNumbers: DER SEQUENCE OF SEQUENCE { serialNumber
 * OCTET STRING, isUsedForTransactionLogs BOOLEAN } (TR-03151 Appendix). */
tse_err engine_export_serial_numbers(engine *t, uint8_t **der, size_t *len);
tse_err engine_get_max_number_of_clients(engine *t, uint32_t *out);
tse_err engine_get_current_number_of_clients(engine *t, uint32_t *out);
tse_err engine_get_max_number_of_transactions(engine *t, uint32_t *out);
tse_err engine_get_current_number_of_transactions(engine *t, uint32_t *out);
tse_err engine_get_supported_transaction_update_variants(engine *t, tse_update_variant *out);
/* Registered client ids, `*ids` is an array of `*count` strings; free with
 * tse_free_strings(). */
tse_err engine_list_clients(engine *t, char ***ids, size_t *count);

/* ------------------------------------------------------- certificates */

/* PEM chain: TSE certificate first, root last. Freed with tse_free. */
tse_err engine_export_certificates(engine *t, char **pem);
/* Uncompressed public point 04||X||Y. */
tse_err engine_public_key(engine *t, uint8_t **point, size_t *len);
/* PEM certificate signing request for the TSE key (subject CN = serial hex). */
tse_err engine_export_csr(engine *t, char **pem);
/* Replaces the chain by an externally issued one (PEM, TSE cert first). The
 * certificate's public key must be the TSE's: else CERTIFICATE_INVALID. */
tse_err engine_import_certificate(engine *t, const char *pem_chain);
/* Certificate expiry: notAfter (epoch seconds) and whole days left. */
tse_err engine_certificate_expiry(engine *t, int64_t *not_after, int32_t *days_left);

/* Group commit since open (for monitoring): batches committed, flushes to
 * disk, and the largest number of batches one flush carried. */
tse_err engine_commit_stats(engine *t, uint64_t *batches, uint64_t *flushes, uint64_t *max_batch);

/* --------------------------------------------------- export and backup */

/* TR-03151 exportData: the archive streamed through `write` (export.c). */
tse_err engine_export_data(engine *t, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                           tse_export_result *out);
/* TR-03151 deleteStoredData: only logs that were exported. */
tse_err engine_delete_stored_data(engine *t);
/* TR-03151 restoreFromBackup from this TSE's export archives. */
tse_err engine_restore_from_backup(engine *t, const char *const *paths, size_t n_paths, uint64_t *added);


#endif /* OPENTSE_ENGINE_H */
