/*
 * transport_file.c - the "file:" transport: libopentse's table of SE API
 * calls (transport.h) filled with the engine in-process. Each entry passes
 * its arguments on to the engine_X of the same name (engine.h), which
 * opentsed also calls directly.
 */
#include "client/transport.h"
#include "engine/engine.h"

static tse_err file_open(const char *url, const tse_open_options *opts, void **backend)
{
    engine *e = NULL;
    tse_err rc = engine_open(url, opts, &e);
    *backend = e;
    return rc;
}

static void file_close(void *e)
{
    engine_close(e);
}

static tse_err file_set_admin_pin(void *e, const char *puk, const char *new_pin)
{
    return engine_set_admin_pin(e, puk, new_pin);
}

static tse_err file_authenticate_user(void *e, const char *user_id, const char *pin, tse_auth_result *result,
                                      int *remaining_retries)
{
    return engine_authenticate_user(e, user_id, pin, result, remaining_retries);
}

static tse_err file_logout(void *e, const char *user_id)
{
    return engine_logout(e, user_id);
}

static tse_err file_unblock_user(void *e, const char *user_id, const char *puk, const char *new_pin)
{
    return engine_unblock_user(e, user_id, puk, new_pin);
}

static tse_err file_set_user_pin(void *e, const char *user_id, const char *new_pin)
{
    return engine_set_user_pin(e, user_id, new_pin);
}

static tse_err file_logged_in_user(void *e, char out[TSE_USER_ID_BUF])
{
    return engine_logged_in_user(e, out);
}

static tse_err file_initialize(void *e, const char *description)
{
    return engine_initialize(e, description);
}

static tse_err file_update_time(void *e, int64_t unix_time)
{
    return engine_update_time(e, unix_time);
}

static tse_err file_disable_secure_element(void *e)
{
    return engine_disable_secure_element(e);
}

static tse_err file_register_client(void *e, const char *client_id)
{
    return engine_register_client(e, client_id);
}

static tse_err file_deregister_client(void *e, const char *client_id)
{
    return engine_deregister_client(e, client_id);
}

static tse_err file_self_test(void *e)
{
    return engine_self_test(e);
}

static tse_err file_start_transaction(void *e, const char *client_id, const uint8_t *pd, size_t pd_len,
                                      const char *pt, const uint8_t *ad, size_t ad_len, tse_result *out)
{
    return engine_start_transaction(e, client_id, pd, pd_len, pt, ad, ad_len, out);
}

static tse_err file_update_transaction(void *e, const char *client_id, uint64_t number, const uint8_t *pd,
                                       size_t pd_len, const char *pt, tse_update_variant variant, tse_result *kept,
                                       tse_result *out)
{
    return engine_update_transaction_logs(e, client_id, number, pd, pd_len, pt, variant, kept, out);
}

static tse_err file_finish_transaction(void *e, const char *client_id, uint64_t number, const uint8_t *pd,
                                       size_t pd_len, const char *pt, const uint8_t *ad, size_t ad_len,
                                       tse_result *kept, tse_result *out)
{
    return engine_finish_transaction_logs(e, client_id, number, pd, pd_len, pt, ad, ad_len, kept, out);
}

static tse_err file_list_open_transactions(void *e, tse_open_transaction **out, size_t *count)
{
    return engine_list_open_transactions(e, out, count);
}

static tse_err file_get_info(void *e, tse_info *out)
{
    return engine_get_info(e, out);
}

static tse_err file_read_log_message(void *e, uint8_t **msg, size_t *len)
{
    return engine_read_log_message(e, msg, len);
}

static tse_err file_read_log_by_counter(void *e, uint64_t counter, uint8_t **msg, size_t *len)
{
    return engine_read_log_by_counter(e, counter, msg, len);
}

static tse_err file_export_serial_numbers(void *e, uint8_t **der, size_t *len)
{
    return engine_export_serial_numbers(e, der, len);
}

static tse_err file_get_max_number_of_clients(void *e, uint32_t *out)
{
    return engine_get_max_number_of_clients(e, out);
}

static tse_err file_get_current_number_of_clients(void *e, uint32_t *out)
{
    return engine_get_current_number_of_clients(e, out);
}

static tse_err file_get_max_number_of_transactions(void *e, uint32_t *out)
{
    return engine_get_max_number_of_transactions(e, out);
}

static tse_err file_get_current_number_of_transactions(void *e, uint32_t *out)
{
    return engine_get_current_number_of_transactions(e, out);
}

static tse_err file_get_supported_transaction_update_variants(void *e, tse_update_variant *out)
{
    return engine_get_supported_transaction_update_variants(e, out);
}

static tse_err file_list_clients(void *e, char ***ids, size_t *count)
{
    return engine_list_clients(e, ids, count);
}

static tse_err file_export_certificates(void *e, char **pem)
{
    return engine_export_certificates(e, pem);
}

static tse_err file_public_key(void *e, uint8_t **point, size_t *len)
{
    return engine_public_key(e, point, len);
}

static tse_err file_export_csr(void *e, char **pem)
{
    return engine_export_csr(e, pem);
}

static tse_err file_import_certificate(void *e, const char *pem_chain)
{
    return engine_import_certificate(e, pem_chain);
}

static tse_err file_certificate_expiry(void *e, int64_t *not_after, int32_t *days_left)
{
    return engine_certificate_expiry(e, not_after, days_left);
}

static tse_err file_export_data(void *e, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                                tse_export_result *out)
{
    return engine_export_data(e, filter, write, ctx, out);
}

static tse_err file_delete_stored_data(void *e)
{
    return engine_delete_stored_data(e);
}

static tse_err file_restore_from_backup(void *e, const char *const *paths, size_t n_paths, uint64_t *added)
{
    return engine_restore_from_backup(e, paths, n_paths, added);
}

static tse_err file_set_description(void *e, const char *description)
{
    return engine_set_description(e, description);
}

static tse_err file_set_transaction_logging_locked(void *e, bool lock)
{
    return engine_set_transaction_logging_locked(e, lock);
}

static tse_err file_get_device_info(void *e, tse_device_info *out)
{
    return engine_get_device_info(e, "libopentse", out);
}

static tse_err file_get_transaction_state(void *e, uint64_t number, tse_transaction_state *out)
{
    return engine_get_transaction_state(e, number, out);
}

static tse_err file_get_last_transaction_log(void *e, uint64_t number, uint8_t **msg, size_t *len)
{
    return engine_get_last_transaction_log(e, number, msg, len);
}

static tse_err file_update_device(void *e, const uint8_t *package, size_t len)
{
    return engine_update_device(e, package, len);
}

const tse_ops transport_file = {
    .remote = false,
    .open = file_open,
    .close = file_close,
    .set_admin_pin = file_set_admin_pin,
    .authenticate_user = file_authenticate_user,
    .logout = file_logout,
    .unblock_user = file_unblock_user,
    .set_user_pin = file_set_user_pin,
    .logged_in_user = file_logged_in_user,
    .initialize = file_initialize,
    .update_time = file_update_time,
    .disable_secure_element = file_disable_secure_element,
    .register_client = file_register_client,
    .deregister_client = file_deregister_client,
    .self_test = file_self_test,
    .start_transaction = file_start_transaction,
    .update_transaction = file_update_transaction,
    .finish_transaction = file_finish_transaction,
    .list_open_transactions = file_list_open_transactions,
    .get_info = file_get_info,
    .read_log_message = file_read_log_message,
    .read_log_by_counter = file_read_log_by_counter,
    .export_serial_numbers = file_export_serial_numbers,
    .get_max_number_of_clients = file_get_max_number_of_clients,
    .get_current_number_of_clients = file_get_current_number_of_clients,
    .get_max_number_of_transactions = file_get_max_number_of_transactions,
    .get_current_number_of_transactions = file_get_current_number_of_transactions,
    .get_supported_transaction_update_variants = file_get_supported_transaction_update_variants,
    .list_clients = file_list_clients,
    .export_certificates = file_export_certificates,
    .public_key = file_public_key,
    .export_csr = file_export_csr,
    .import_certificate = file_import_certificate,
    .certificate_expiry = file_certificate_expiry,
    .export_data = file_export_data,
    .delete_stored_data = file_delete_stored_data,
    .restore_from_backup = file_restore_from_backup,
    .set_description = file_set_description,
    .set_transaction_logging_locked = file_set_transaction_logging_locked,
    .get_device_info = file_get_device_info,
    .get_transaction_state = file_get_transaction_state,
    .get_last_transaction_log = file_get_last_transaction_log,
    .update_device = file_update_device,
};
