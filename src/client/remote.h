/*
 * remote.h - the "http(s):" transport: each SE API call mapped onto
 * opentsed's /api/v2 (the fiskaly SIGN DE v2 compatible contract).
 *
 *   set_admin_pin, unblock_user   PATCH /tss/{id}/admin {admin_puk, new_admin_pin}
 *   authenticate_user, logout     POST  /tss/{id}/admin/auth, /admin/logout
 *   initialize, disable           PATCH /tss/{id} {description, state}
 *   register/deregister_client    PUT/PATCH /tss/{id}/client/{uuid}; the uuid is
 *                                 derived from the client id (serial_number)
 *   start/update/finish           PUT /tss/{id}/tx/{uuid}?tx_revision=N
 *   list_open_transactions        GET /tss/{id}/tx?states[]=ACTIVE (paged)
 *   get_info, the counts, key     GET /tss/{id}
 *   list_clients                  GET /tss/{id}/client (paged)
 *   export_data                   GET /tss/{id}/incremental-export?cursor=N, or an export job
 *                                 (PUT/GET /tss/{id}/export/{uuid}[/file])
 *
 * and through OpenTSE's extensions of the contract (docs/api.md):
 *
 *   time admin PIN, login, logout PATCH /tss/{id}/time-admin, POST .../auth, .../logout
 *   logged_in_user                GET  /tss/{id}/logged-in-user
 *   update_time                   POST /tss/{id}/time {unix_time}
 *   self_test                     POST /tss/{id}/self-test
 *   read_log_message/_by_counter  GET  /tss/{id}/log/last, /log/{counter}
 *   export_csr                    GET  /tss/{id}/csr
 *   export/import_certificate(s)  GET, PUT /tss/{id}/certificate (the whole chain)
 *   delete_stored_data            POST /tss/{id}/delete-stored-data
 *   restore_from_backup           POST /tss/{id}/restore {archives: [base64]}
 *
 * Each remote_X below is the entry X of transport_remote, this transport's
 * table (transport.h, filled in remote.c): it has the semantics of tse_X,
 * and its `backend` is a remote opened by remote_open.
 */
#ifndef OPENTSE_CLIENT_REMOTE_H
#define OPENTSE_CLIENT_REMOTE_H

#include <stdbool.h>

#include "client/transport.h"
#include "opentse/opentse.h"

typedef struct remote remote;

/* true for "http://" and "https://" URLs. */
bool remote_is_url(const char *url);

/* Parses the URL ("http(s)://host:port[/prefix][/api/v2][/tss/<uuid>]";
 * the TSS id also from opts->tss_id or $OPENTSE_TSS_ID) and sets up the
 * session. Does not contact the server. */
tse_err remote_open(const char *url, const tse_open_options *opts, remote **out);
void remote_close(void *backend);
/* The TSS id (a UUID). */
const char *remote_tss_id(const void *backend);

/* PUT /tss/{id}: a new TSS; its PUK to puk_out. */
tse_err remote_create(const char *url, const tse_open_options *opts, char puk_out[TSE_PUK_LEN + 1]);

tse_err remote_set_admin_pin(void *backend, const char *puk, const char *new_pin);
tse_err remote_authenticate_user(void *backend, const char *user_id, const char *pin, tse_auth_result *result,
                                 int *remaining_retries);
tse_err remote_logout(void *backend, const char *user_id);
tse_err remote_unblock_user(void *backend, const char *user_id, const char *puk, const char *new_pin);
tse_err remote_set_user_pin(void *backend, const char *user_id, const char *new_pin);
/* GET /tss/{id}/logged-in-user */
tse_err remote_logged_in_user(void *backend, char out[TSE_USER_ID_BUF]);
tse_err remote_initialize(void *backend, const char *description);
tse_err remote_update_time(void *backend, int64_t unix_time);
tse_err remote_disable_secure_element(void *backend);
tse_err remote_register_client(void *backend, const char *client_id);
tse_err remote_deregister_client(void *backend, const char *client_id);
tse_err remote_self_test(void *backend);

/* POST /tss/{id}/successor {admin_pin}: a successor TSS in one step. */
tse_err remote_create_successor(remote *r, const char *admin_pin, char successor_id[37],
                                char puk_out[TSE_PUK_LEN + 1]);
/* When the TSS is disabled and names a successor, the handle switches to it
 * (true). */
bool remote_follow_successor(remote *r);

tse_err remote_start_transaction(void *backend, const char *client_id, const uint8_t *pd, size_t pd_len,
                                 const char *pt, const uint8_t *ad, size_t ad_len, tse_result *out);
tse_err remote_update_transaction(void *backend, const char *client_id, uint64_t number, const uint8_t *pd,
                                  size_t pd_len, const char *pt, tse_update_variant variant, tse_result *kept,
                                  tse_result *out);
tse_err remote_finish_transaction(void *backend, const char *client_id, uint64_t number, const uint8_t *pd,
                                  size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len,
                                  tse_result *kept, tse_result *out);
tse_err remote_list_open_transactions(void *backend, tse_open_transaction **out, size_t *count);
/* The tx id and revision of the last transaction request that got no
 * answer ("" and 0 if the last one was answered). */
void remote_pending(void *backend, char id[37], uint32_t *revision);
/* Makes a journaled request without an answer (`operation` as the journal
 * names it) the pending one again, after a restart of the register. */
void remote_restore_pending(void *backend, const char *operation, const char *client_id, uint64_t number,
                            const char *process_type, const uint8_t *pd, size_t pd_len, const char *tx_id,
                            uint32_t revision);

tse_err remote_get_info(void *backend, tse_info *out);
tse_err remote_read_log_message(void *backend, uint8_t **msg, size_t *len);
tse_err remote_read_log_by_counter(void *backend, uint64_t counter, uint8_t **msg, size_t *len);
tse_err remote_export_serial_numbers(void *backend, uint8_t **der, size_t *len);
tse_err remote_get_max_number_of_clients(void *backend, uint32_t *out);
tse_err remote_get_current_number_of_clients(void *backend, uint32_t *out);
tse_err remote_get_max_number_of_transactions(void *backend, uint32_t *out);
tse_err remote_get_current_number_of_transactions(void *backend, uint32_t *out);
tse_err remote_get_supported_transaction_update_variants(void *backend, tse_update_variant *out);
tse_err remote_list_clients(void *backend, char ***ids, size_t *count);
tse_err remote_export_certificates(void *backend, char **pem);
tse_err remote_public_key(void *backend, uint8_t **point, size_t *len);
tse_err remote_export_csr(void *backend, char **pem);
tse_err remote_import_certificate(void *backend, const char *pem_chain);
tse_err remote_certificate_expiry(void *backend, int64_t *not_after, int32_t *days_left);
tse_err remote_export_data(void *backend, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                           tse_export_result *out);
tse_err remote_delete_stored_data(void *backend);
tse_err remote_restore_from_backup(void *backend, const char *const *paths, size_t n_paths, uint64_t *added);
/* remote_se.c: TR-03151-1 v1.1.1 */
tse_err remote_set_description(void *backend, const char *description);
tse_err remote_set_transaction_logging_locked(void *backend, bool lock);
tse_err remote_get_device_info(void *backend, tse_device_info *out);
tse_err remote_update_device(void *backend, const uint8_t *package, size_t len);
tse_err remote_get_transaction_state(void *backend, uint64_t number, tse_transaction_state *out);
tse_err remote_get_last_transaction_log(void *backend, uint64_t number, uint8_t **msg, size_t *len);

#endif /* OPENTSE_CLIENT_REMOTE_H */
