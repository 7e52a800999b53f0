/*
 * client.c - libopentse's SE API handle: every tse_* call on a handle goes
 * to the transport the handle was opened with. "file:" URLs (and plain
 * paths) run the engine in-process.
 */
#include <stdlib.h>

#include "client/client.h"

tse_err tse_create(const char *path, const tse_create_options *opts,
                   char puk_out[TSE_PUK_LEN + 1])
{
    return engine_create(path, opts, puk_out);
}

tse_err tse_open(const char *url, const tse_open_options *opts, tse **out)
{
    if (!out)
        return engine_open(url, opts, NULL);
    *out = NULL;
    tse *t = calloc(1, sizeof *t);
    if (!t)
        return TSE_ERR_NO_MEMORY;
    tse_err rc = engine_open(url, opts, &t->eng);
    if (rc != TSE_OK) {
        free(t);
        return rc;
    }
    *out = t;
    return TSE_OK;
}

void tse_close(tse *t)
{
    if (!t)
        return;
    engine_close(t->eng);
    free(t);
}

tse_err tse_set_admin_pin(tse *t, const char *puk, const char *new_pin)
{
    return engine_set_admin_pin(t ? t->eng : NULL, puk, new_pin);
}

tse_err tse_authenticate_user(tse *t, const char *user_id, const char *pin, tse_auth_result *result, int *remaining_retries)
{
    return engine_authenticate_user(t ? t->eng : NULL, user_id, pin, result, remaining_retries);
}

tse_err tse_logout(tse *t, const char *user_id)
{
    return engine_logout(t ? t->eng : NULL, user_id);
}

tse_err tse_unblock_user(tse *t, const char *user_id, const char *puk, const char *new_pin)
{
    return engine_unblock_user(t ? t->eng : NULL, user_id, puk, new_pin);
}

tse_err tse_set_time_admin_pin(tse *t, const char *new_pin)
{
    return engine_set_time_admin_pin(t ? t->eng : NULL, new_pin);
}

tse_err tse_initialize(tse *t, const char *description)
{
    return engine_initialize(t ? t->eng : NULL, description);
}

tse_err tse_update_time(tse *t, int64_t unix_time)
{
    return engine_update_time(t ? t->eng : NULL, unix_time);
}

tse_err tse_disable_secure_element(tse *t)
{
    return engine_disable_secure_element(t ? t->eng : NULL);
}

tse_err tse_register_client(tse *t, const char *client_id)
{
    return engine_register_client(t ? t->eng : NULL, client_id);
}

tse_err tse_deregister_client(tse *t, const char *client_id)
{
    return engine_deregister_client(t ? t->eng : NULL, client_id);
}

tse_err tse_self_test(tse *t)
{
    return engine_self_test(t ? t->eng : NULL);
}

tse_err tse_start_transaction(tse *t, const char *client_id, const uint8_t *process_data, size_t process_data_len, const char *process_type, const uint8_t *additional_data, size_t additional_data_len, tse_result *out)
{
    return engine_start_transaction(t ? t->eng : NULL, client_id, process_data, process_data_len, process_type, additional_data, additional_data_len, out);
}

tse_err tse_update_transaction(tse *t, const char *client_id, uint64_t transaction_number, const uint8_t *process_data, size_t process_data_len, const char *process_type, tse_update_variant variant, tse_result *out)
{
    return engine_update_transaction(t ? t->eng : NULL, client_id, transaction_number, process_data, process_data_len, process_type, variant, out);
}

tse_err tse_finish_transaction(tse *t, const char *client_id, uint64_t transaction_number, const uint8_t *process_data, size_t process_data_len, const char *process_type, const uint8_t *additional_data, size_t additional_data_len, tse_result *out)
{
    return engine_finish_transaction(t ? t->eng : NULL, client_id, transaction_number, process_data, process_data_len, process_type, additional_data, additional_data_len, out);
}

tse_err tse_list_open_transactions(tse *t, tse_open_transaction **out, size_t *count)
{
    return engine_list_open_transactions(t ? t->eng : NULL, out, count);
}

tse_err tse_get_info(tse *t, tse_info *out)
{
    return engine_get_info(t ? t->eng : NULL, out);
}

tse_err tse_read_log_message(tse *t, uint8_t **msg, size_t *len)
{
    return engine_read_log_message(t ? t->eng : NULL, msg, len);
}

tse_err tse_read_log_by_counter(tse *t, uint64_t counter, uint8_t **msg, size_t *len)
{
    return engine_read_log_by_counter(t ? t->eng : NULL, counter, msg, len);
}

tse_err tse_export_serial_numbers(tse *t, uint8_t **der, size_t *len)
{
    return engine_export_serial_numbers(t ? t->eng : NULL, der, len);
}

tse_err tse_get_max_number_of_clients(tse *t, uint32_t *out)
{
    return engine_get_max_number_of_clients(t ? t->eng : NULL, out);
}

tse_err tse_get_current_number_of_clients(tse *t, uint32_t *out)
{
    return engine_get_current_number_of_clients(t ? t->eng : NULL, out);
}

tse_err tse_get_max_number_of_transactions(tse *t, uint32_t *out)
{
    return engine_get_max_number_of_transactions(t ? t->eng : NULL, out);
}

tse_err tse_get_current_number_of_transactions(tse *t, uint32_t *out)
{
    return engine_get_current_number_of_transactions(t ? t->eng : NULL, out);
}

tse_err tse_get_supported_transaction_update_variants(tse *t, tse_update_variant *out)
{
    return engine_get_supported_transaction_update_variants(t ? t->eng : NULL, out);
}

tse_err tse_list_clients(tse *t, char ***ids, size_t *count)
{
    return engine_list_clients(t ? t->eng : NULL, ids, count);
}

tse_err tse_export_certificates(tse *t, char **pem)
{
    return engine_export_certificates(t ? t->eng : NULL, pem);
}

tse_err tse_public_key(tse *t, uint8_t **point, size_t *len)
{
    return engine_public_key(t ? t->eng : NULL, point, len);
}

tse_err tse_export_csr(tse *t, char **pem)
{
    return engine_export_csr(t ? t->eng : NULL, pem);
}

tse_err tse_import_certificate(tse *t, const char *pem_chain)
{
    return engine_import_certificate(t ? t->eng : NULL, pem_chain);
}

tse_err tse_certificate_expiry(tse *t, int64_t *not_after, int32_t *days_left)
{
    return engine_certificate_expiry(t ? t->eng : NULL, not_after, days_left);
}
