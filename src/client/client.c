/*
 * client.c - libopentse's SE API handle: every tse_* call on a handle goes
 * to the transport the handle was opened with. "file:" URLs (and plain
 * paths) run the engine in-process; "http://" and "https://" URLs talk to
 * opentsed (remote.c). Around the transport: the outage journal records the
 * operations that found the TSE unreachable, and the keep-alive thread
 * learns which transactions are open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

/* Calls engine_X or remote_X on the handle's transport. */
#define VIA(fn, ...) (!t ? engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle") \
                      : t->rem ? remote_##fn(t->rem, __VA_ARGS__) : engine_##fn(t->eng, __VA_ARGS__))
#define VIA0(fn) (!t ? engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle") \
                  : t->rem ? remote_##fn(t->rem) : engine_##fn(t->eng))

/* After a call: when the TSE was unreachable for operation `op` (NULL for
 * reads), it opens or continues an outage and the operation is journaled;
 * any answer ends the outage. The call's own result and message are kept. */
static tse_err note(tse *t, tse_err rc, const char *op, const char *client_id, uint64_t number, const char *pt,
                    const uint8_t *pd, size_t pd_len)
{
    if (!t || !t->jr)
        return rc;
    char cause[512];
    snprintf(cause, sizeof cause, "%s", tse_last_error_message());
    if (rc == TSE_ERR_UNREACHABLE) {
        if (!op)
            return rc;
        journal_op rec = {op, client_id, number, pt, pd, pd_len, NULL, 0};
        char tx_id[37] = "";
        if (t->rem) {
            remote_pending(t->rem, tx_id, &rec.tx_revision);
            rec.tx_id = tx_id;
        }
        if (journal_record(t->jr, &rec, cause) != TSE_OK)
            fprintf(stderr, "opentse: the outage journal failed: %s\n", tse_last_error_message());
        engine_fail(rc, "%s", cause + (strncmp(cause, "UNREACHABLE: ", 13) ? 0 : 13));
    } else if (t->rem) {
        /* an outage that cannot be closed stays open: the next answer tries again */
        if (journal_reachable(t->jr) != TSE_OK)
            fprintf(stderr, "opentse: the outage journal failed: %s\n", tse_last_error_message());
        if (rc)
            engine_fail(rc, "%s", strchr(cause, ':') ? strchr(cause, ':') + 2 : cause);
    }
    return rc;
}

/* After a restart: a request that got no answer can be repeated as it was. */
static void restore_pending(void *ctx, const journal_op *op)
{
    remote_restore_pending(ctx, op->operation, op->client_id, op->tx_number, op->process_type, op->pd, op->pd_len,
                           op->tx_id, op->tx_revision);
}

tse_err tse_create(const char *path, const tse_create_options *opts, char puk_out[TSE_PUK_LEN + 1])
{
    if (remote_is_url(path)) {
        if (!puk_out)
            return engine_fail(TSE_ERR_INVALID_ARGUMENT, "puk_out is required");
        return remote_create(path, opts ? opts->remote : NULL, puk_out);
    }
    return engine_create(path, opts, puk_out);
}

tse_err tse_open(const char *url, const tse_open_options *opts, tse **out)
{
    if (!out || !url)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "url and out are required");
    *out = NULL;
    tse_open_options none = {0};
    if (!opts)
        opts = &none;
    tse *t = calloc(1, sizeof *t);
    if (!t)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    tse_err rc = remote_is_url(url) ? remote_open(url, opts, &t->rem) : engine_open(url, opts, &t->eng);
    const char *jpath = opts->journal_path ? opts->journal_path : getenv("OPENTSE_JOURNAL");
    if (!rc && jpath && *jpath) {
        char name[1200];
        size_t n = strcspn(url, "?#");
        snprintf(name, sizeof name, "%.*s%s%s", (int)n, url, t->rem && !strstr(url, "/tss/") ? "/tss/" : "",
                 t->rem && !strstr(url, "/tss/") ? remote_tss_id(t->rem) : "");
        rc = journal_open(jpath, name, &t->jr);
        if (!rc && t->rem)
            journal_last_unanswered(t->jr, restore_pending, t->rem);
    }
    if (!rc && opts->keep_alive_seconds)
        rc = keepalive_start(t, opts->keep_alive_seconds, &t->ka);
    if (rc) {
        tse_close(t);
        return rc;
    }
    *out = t;
    return TSE_OK;
}

void tse_close(tse *t)
{
    if (!t)
        return;
    keepalive_stop(t->ka);
    journal_close(t->jr);
    remote_close(t->rem);
    engine_close(t->eng);
    free(t);
}

tse_err tse_outage_report(tse *t, char **json)
{
    if (!t || !json)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "t and json are required");
    if (!t->jr)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT,
                           "the handle has no outage journal (tse_open_options.journal_path or OPENTSE_JOURNAL)");
    return journal_report(t->jr, json);
}

tse_err tse_set_admin_pin(tse *t, const char *puk, const char *new_pin)
{
    return note(t, VIA(set_admin_pin, puk, new_pin), "setAdminPin", NULL, 0, NULL, NULL, 0);
}

tse_err tse_authenticate_user(tse *t, const char *user_id, const char *pin, tse_auth_result *result, int *remaining_retries)
{
    return note(t, VIA(authenticate_user, user_id, pin, result, remaining_retries), NULL, NULL, 0, NULL, NULL, 0);
}

tse_err tse_logout(tse *t, const char *user_id)
{
    return VIA(logout, user_id);
}

tse_err tse_unblock_user(tse *t, const char *user_id, const char *puk, const char *new_pin)
{
    return VIA(unblock_user, user_id, puk, new_pin);
}

tse_err tse_set_time_admin_pin(tse *t, const char *new_pin)
{
    return VIA(set_time_admin_pin, new_pin);
}

tse_err tse_initialize(tse *t, const char *description)
{
    return note(t, VIA(initialize, description), "initialize", NULL, 0, NULL, NULL, 0);
}

tse_err tse_update_time(tse *t, int64_t unix_time)
{
    return note(t, VIA(update_time, unix_time), "updateTime", NULL, 0, NULL, NULL, 0);
}

tse_err tse_disable_secure_element(tse *t)
{
    return note(t, VIA0(disable_secure_element), "disableSecureElement", NULL, 0, NULL, NULL, 0);
}

tse_err tse_register_client(tse *t, const char *client_id)
{
    return note(t, VIA(register_client, client_id), "registerClient", client_id, 0, NULL, NULL, 0);
}

tse_err tse_deregister_client(tse *t, const char *client_id)
{
    return note(t, VIA(deregister_client, client_id), "deregisterClient", client_id, 0, NULL, NULL, 0);
}

tse_err tse_self_test(tse *t)
{
    return VIA0(self_test);
}

tse_err tse_start_transaction(tse *t, const char *client_id, const uint8_t *process_data, size_t process_data_len, const char *process_type, const uint8_t *additional_data, size_t additional_data_len, tse_result *out)
{
    tse_err rc = VIA(start_transaction, client_id, process_data, process_data_len, process_type, additional_data,
                     additional_data_len, out);
    if (!rc && t->ka)
        keepalive_touch(t->ka, out->transaction_number, client_id, process_type);
    return note(t, rc, "startTransaction", client_id, 0, process_type, process_data, process_data_len);
}

tse_err tse_update_transaction(tse *t, const char *client_id, uint64_t transaction_number, const uint8_t *process_data, size_t process_data_len, const char *process_type, tse_update_variant variant, tse_result *out)
{
    tse_err rc = VIA(update_transaction, client_id, transaction_number, process_data, process_data_len, process_type,
                     variant, out);
    if (!rc && t->ka)
        keepalive_touch(t->ka, transaction_number, client_id, process_type);
    return note(t, rc, "updateTransaction", client_id, transaction_number, process_type, process_data,
                process_data_len);
}

tse_err tse_finish_transaction(tse *t, const char *client_id, uint64_t transaction_number, const uint8_t *process_data, size_t process_data_len, const char *process_type, const uint8_t *additional_data, size_t additional_data_len, tse_result *out)
{
    tse_err rc = VIA(finish_transaction, client_id, transaction_number, process_data, process_data_len, process_type,
                     additional_data, additional_data_len, out);
    if (!rc && t->ka)
        keepalive_forget(t->ka, transaction_number);
    return note(t, rc, "finishTransaction", client_id, transaction_number, process_type, process_data,
                process_data_len);
}

tse_err tse_list_open_transactions(tse *t, tse_open_transaction **out, size_t *count)
{
    return VIA(list_open_transactions, out, count);
}

tse_err tse_get_info(tse *t, tse_info *out)
{
    return note(t, VIA(get_info, out), NULL, NULL, 0, NULL, NULL, 0);
}

tse_err tse_read_log_message(tse *t, uint8_t **msg, size_t *len)
{
    return VIA(read_log_message, msg, len);
}

tse_err tse_read_log_by_counter(tse *t, uint64_t counter, uint8_t **msg, size_t *len)
{
    return VIA(read_log_by_counter, counter, msg, len);
}

tse_err tse_export_serial_numbers(tse *t, uint8_t **der, size_t *len)
{
    return VIA(export_serial_numbers, der, len);
}

tse_err tse_get_max_number_of_clients(tse *t, uint32_t *out)
{
    return VIA(get_max_number_of_clients, out);
}

tse_err tse_get_current_number_of_clients(tse *t, uint32_t *out)
{
    return VIA(get_current_number_of_clients, out);
}

tse_err tse_get_max_number_of_transactions(tse *t, uint32_t *out)
{
    return VIA(get_max_number_of_transactions, out);
}

tse_err tse_get_current_number_of_transactions(tse *t, uint32_t *out)
{
    return VIA(get_current_number_of_transactions, out);
}

tse_err tse_get_supported_transaction_update_variants(tse *t, tse_update_variant *out)
{
    return VIA(get_supported_transaction_update_variants, out);
}

tse_err tse_list_clients(tse *t, char ***ids, size_t *count)
{
    return VIA(list_clients, ids, count);
}

tse_err tse_export_certificates(tse *t, char **pem)
{
    return VIA(export_certificates, pem);
}

tse_err tse_export_data(tse *t, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                        tse_export_result *out)
{
    return VIA(export_data, filter, write, ctx, out);
}

tse_err tse_delete_stored_data(tse *t)
{
    return VIA0(delete_stored_data);
}

tse_err tse_restore_from_backup(tse *t, const char *const *paths, size_t n_paths, uint64_t *added)
{
    return VIA(restore_from_backup, paths, n_paths, added);
}

tse_err tse_public_key(tse *t, uint8_t **point, size_t *len)
{
    return VIA(public_key, point, len);
}

tse_err tse_export_csr(tse *t, char **pem)
{
    return VIA(export_csr, pem);
}

tse_err tse_import_certificate(tse *t, const char *pem_chain)
{
    return VIA(import_certificate, pem_chain);
}

tse_err tse_certificate_expiry(tse *t, int64_t *not_after, int32_t *days_left)
{
    return VIA(certificate_expiry, not_after, days_left);
}
