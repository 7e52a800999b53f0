/*
 * transport.h - what a libopentse transport is: one table of the SE API
 * calls on a handle, filled once by each transport. "file:" is the engine
 * in-process (transport_file.c), "http(s):" is opentsed over HTTP (remote.c).
 * client.c calls every tse_X on a handle as t->ops->X(t->backend, ...).
 *
 * Each entry has the semantics, arguments and error codes documented for
 * tse_X in <opentse/opentse.h>; its first argument is the transport's own
 * handle (`backend`: an engine for "file:", a remote for "http(s):").
 */
#ifndef OPENTSE_CLIENT_TRANSPORT_H
#define OPENTSE_CLIENT_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "opentse/opentse.h"

typedef struct tse_ops {
    /* The TSE is across a network: any answer ends an outage, and the
     * pending, restore_pending and tss_id entries are set (NULL otherwise). */
    bool remote;

    /* Opens `url`; the transport's handle to *backend (NULL on failure). */
    tse_err (*open)(const char *url, const tse_open_options *opts, void **backend);
    /* Frees the handle; NULL is fine. */
    void (*close)(void *backend);

    tse_err (*set_admin_pin)(void *backend, const char *puk, const char *new_pin);
    tse_err (*authenticate_user)(void *backend, const char *user_id, const char *pin, tse_auth_result *result,
                                 int *remaining_retries);
    tse_err (*logout)(void *backend, const char *user_id);
    tse_err (*unblock_user)(void *backend, const char *user_id, const char *puk, const char *new_pin);
    tse_err (*set_user_pin)(void *backend, const char *user_id, const char *new_pin);
    tse_err (*logged_in_user)(void *backend, char out[TSE_USER_ID_BUF]);

    tse_err (*initialize)(void *backend, const char *description);
    tse_err (*update_time)(void *backend, int64_t unix_time);
    tse_err (*disable_secure_element)(void *backend);
    tse_err (*register_client)(void *backend, const char *client_id);
    tse_err (*deregister_client)(void *backend, const char *client_id);
    tse_err (*self_test)(void *backend);

    tse_err (*start_transaction)(void *backend, const char *client_id, const uint8_t *process_data,
                                 size_t process_data_len, const char *process_type, const uint8_t *additional_data,
                                 size_t additional_data_len, tse_result *out);
    tse_err (*update_transaction)(void *backend, const char *client_id, uint64_t transaction_number,
                                  const uint8_t *process_data, size_t process_data_len, const char *process_type,
                                  tse_update_variant variant, tse_result *kept, tse_result *out);
    tse_err (*finish_transaction)(void *backend, const char *client_id, uint64_t transaction_number,
                                  const uint8_t *process_data, size_t process_data_len, const char *process_type,
                                  const uint8_t *additional_data, size_t additional_data_len, tse_result *kept,
                                  tse_result *out);
    tse_err (*list_open_transactions)(void *backend, tse_open_transaction **out, size_t *count);

    tse_err (*get_info)(void *backend, tse_info *out);
    tse_err (*read_log_message)(void *backend, uint8_t **msg, size_t *len);
    tse_err (*read_log_by_counter)(void *backend, uint64_t counter, uint8_t **msg, size_t *len);
    tse_err (*export_serial_numbers)(void *backend, uint8_t **der, size_t *len);
    tse_err (*get_max_number_of_clients)(void *backend, uint32_t *out);
    tse_err (*get_current_number_of_clients)(void *backend, uint32_t *out);
    tse_err (*get_max_number_of_transactions)(void *backend, uint32_t *out);
    tse_err (*get_current_number_of_transactions)(void *backend, uint32_t *out);
    tse_err (*get_supported_transaction_update_variants)(void *backend, tse_update_variant *out);
    tse_err (*list_clients)(void *backend, char ***ids, size_t *count);

    tse_err (*export_certificates)(void *backend, char **pem);
    tse_err (*public_key)(void *backend, uint8_t **point, size_t *len);
    tse_err (*export_csr)(void *backend, char **pem);
    tse_err (*import_certificate)(void *backend, const char *pem_chain);
    tse_err (*certificate_expiry)(void *backend, int64_t *not_after, int32_t *days_left);

    tse_err (*export_data)(void *backend, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                           tse_export_result *out);
    tse_err (*delete_stored_data)(void *backend);
    tse_err (*restore_from_backup)(void *backend, const char *const *paths, size_t n_paths, uint64_t *added);

    /* TR-03151-1 v1.1.1 (the rest of its functions are built on these and
     * the ones above in se_functions.c) */
    tse_err (*set_description)(void *backend, const char *description);
    tse_err (*set_transaction_logging_locked)(void *backend, bool lock);
    tse_err (*get_device_info)(void *backend, tse_device_info *out);
    tse_err (*get_transaction_state)(void *backend, uint64_t number, tse_transaction_state *out);
    /* the DER of the last transaction log (of transaction `number`, or any with 0) */
    tse_err (*get_last_transaction_log)(void *backend, uint64_t number, uint8_t **msg, size_t *len);
    tse_err (*update_device)(void *backend, const uint8_t *package, size_t len);

    /* Remote only. The tx id and revision of the last transaction request
     * that got no answer ("" and 0 if the last one was answered). */
    void (*pending)(void *backend, char id[37], uint32_t *revision);
    /* Remote only. Makes a journaled request without an answer (`operation`
     * as the journal names it) the pending one again, after a restart. */
    void (*restore_pending)(void *backend, const char *operation, const char *client_id, uint64_t number,
                            const char *process_type, const uint8_t *pd, size_t pd_len, const char *tx_id,
                            uint32_t revision);
    /* Remote only. The TSS id (a UUID). */
    const char *(*tss_id)(const void *backend);
} tse_ops;

/* The engine in-process (transport_file.c). */
extern const tse_ops transport_file;
/* opentsed over HTTP (remote.c). */
extern const tse_ops transport_remote;

#endif /* OPENTSE_CLIENT_TRANSPORT_H */
