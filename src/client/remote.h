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
 *   export_data                   GET /tss/{id}/export?cursor=N, or an export job
 *                                 (PUT/GET /tss/{id}/export/{uuid}[/file])
 *
 * and through OpenTSE's extensions of the contract (docs/api.md):
 *
 *   time admin PIN, login, logout PATCH /tss/{id}/time-admin, POST .../auth, .../logout
 *   update_time                   POST /tss/{id}/time {unix_time}
 *   self_test                     POST /tss/{id}/self-test
 *   read_log_message/_by_counter  GET  /tss/{id}/log/last, /log/{counter}
 *   export_csr                    GET  /tss/{id}/csr
 *   export/import_certificate(s)  GET, PUT /tss/{id}/certificate (the whole chain)
 *   delete_stored_data            POST /tss/{id}/delete-stored-data
 *   restore_from_backup           POST /tss/{id}/restore {archives: [base64]}
 *
 * Each remote_X has the semantics of tse_X.
 */
#ifndef OPENTSE_CLIENT_REMOTE_H
#define OPENTSE_CLIENT_REMOTE_H

#include <stdbool.h>

#include "opentse/opentse.h"

typedef struct remote remote;

/* true for "http://" and "https://" URLs. */
bool remote_is_url(const char *url);

/* Parses the URL ("http(s)://host:port[/prefix][/api/v2][/tss/<uuid>]";
 * the TSS id also from opts->tss_id or $OPENTSE_TSS_ID) and sets up the
 * session. Does not contact the server. */
tse_err remote_open(const char *url, const tse_open_options *opts, remote **out);
void remote_close(remote *r);
/* The TSS id (a UUID). */
const char *remote_tss_id(const remote *r);

/* PUT /tss/{id}: a new TSS; its PUK to puk_out. */
tse_err remote_create(const char *url, const tse_open_options *opts, char puk_out[TSE_PUK_LEN + 1]);

tse_err remote_set_admin_pin(remote *r, const char *puk, const char *new_pin);
tse_err remote_authenticate_user(remote *r, const char *user_id, const char *pin, tse_auth_result *result,
                                 int *remaining_retries);
tse_err remote_logout(remote *r, const char *user_id);
tse_err remote_unblock_user(remote *r, const char *user_id, const char *puk, const char *new_pin);
tse_err remote_set_time_admin_pin(remote *r, const char *new_pin);
tse_err remote_initialize(remote *r, const char *description);
tse_err remote_update_time(remote *r, int64_t unix_time);
tse_err remote_disable_secure_element(remote *r);
tse_err remote_register_client(remote *r, const char *client_id);
tse_err remote_deregister_client(remote *r, const char *client_id);
tse_err remote_self_test(remote *r);

/* POST /tss/{id}/successor {admin_pin}: a successor TSS in one step. */
tse_err remote_create_successor(remote *r, const char *admin_pin, char successor_id[37],
                                char puk_out[TSE_PUK_LEN + 1]);
/* When the TSS is disabled and names a successor, the handle switches to it
 * (true). */
bool remote_follow_successor(remote *r);

tse_err remote_start_transaction(remote *r, const char *client_id, const uint8_t *pd, size_t pd_len,
                                 const char *pt, const uint8_t *ad, size_t ad_len, tse_result *out);
tse_err remote_update_transaction(remote *r, const char *client_id, uint64_t number, const uint8_t *pd,
                                  size_t pd_len, const char *pt, tse_update_variant variant, tse_result *out);
tse_err remote_finish_transaction(remote *r, const char *client_id, uint64_t number, const uint8_t *pd,
                                  size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len,
                                  tse_result *out);
tse_err remote_list_open_transactions(remote *r, tse_open_transaction **out, size_t *count);
/* The tx id and revision of the last transaction request that got no
 * answer ("" and 0 if the last one was answered). */
void remote_pending(remote *r, char id[37], uint32_t *revision);
/* Makes a journaled request without an answer (`operation` as the journal
 * names it) the pending one again, after a restart of the register. */
void remote_restore_pending(remote *r, const char *operation, const char *client_id, uint64_t number,
                            const char *process_type, const uint8_t *pd, size_t pd_len, const char *tx_id,
                            uint32_t revision);

tse_err remote_get_info(remote *r, tse_info *out);
tse_err remote_read_log_message(remote *r, uint8_t **msg, size_t *len);
tse_err remote_read_log_by_counter(remote *r, uint64_t counter, uint8_t **msg, size_t *len);
tse_err remote_export_serial_numbers(remote *r, uint8_t **der, size_t *len);
tse_err remote_get_max_number_of_clients(remote *r, uint32_t *out);
tse_err remote_get_current_number_of_clients(remote *r, uint32_t *out);
tse_err remote_get_max_number_of_transactions(remote *r, uint32_t *out);
tse_err remote_get_current_number_of_transactions(remote *r, uint32_t *out);
tse_err remote_get_supported_transaction_update_variants(remote *r, tse_update_variant *out);
tse_err remote_list_clients(remote *r, char ***ids, size_t *count);
tse_err remote_export_certificates(remote *r, char **pem);
tse_err remote_public_key(remote *r, uint8_t **point, size_t *len);
tse_err remote_export_csr(remote *r, char **pem);
tse_err remote_import_certificate(remote *r, const char *pem_chain);
tse_err remote_certificate_expiry(remote *r, int64_t *not_after, int32_t *days_left);
tse_err remote_export_data(remote *r, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                           tse_export_result *out);
tse_err remote_delete_stored_data(remote *r);
tse_err remote_restore_from_backup(remote *r, const char *const *paths, size_t n_paths, uint64_t *added);

#endif /* OPENTSE_CLIENT_REMOTE_H */
