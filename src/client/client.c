/*
 * client.c - libopentse's SE API handle: every tse_* call on a handle goes
 * to the transport the handle was opened with, through its table
 * (transport.h): "file:" URLs (and plain paths) run the engine in-process
 * (transport_file.c); "http://" and "https://" URLs talk to opentsed
 * (remote.c). Around the transport: the outage journal records the
 * operations that found the TSE unreachable, and the keep-alive thread
 * learns which transactions are open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/remote.h"
#include "engine/engine.h"

/* The answer to a call without a handle. */
static tse_err no_handle(void)
{
    return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
}

/* After a call: when the TSE was unreachable for operation `op` (NULL for
 * reads), it opens or continues an outage and the operation is journaled;
 * any answer ends the outage. The call's own result and message are kept. */
static tse_err note(tse *t, tse_err rc, const char *op, const char *client_id, uint64_t number, const char *pt,
                    const uint8_t *pd, size_t pd_len)
{
    if (!t || !t->jr)
        return rc;
    tse_error cause = *error_last();   /* the call's own error, kept across the journal's work */
    if (rc == TSE_ERR_UNREACHABLE) {
        if (!op)
            return rc;
        journal_op rec = {op, client_id, number, pt, pd, pd_len, NULL, 0};
        char tx_id[37] = "", text[TSE_ERROR_MSGLEN + 48];
        if (t->ops->remote) {
            t->ops->pending(t->backend, tx_id, &rec.tx_revision);
            rec.tx_id = tx_id;
        }
        snprintf(text, sizeof text, "%s: %s", tse_errname(cause.code), cause.message);
        if (journal_record(t->jr, &rec, text) != TSE_OK)
            fprintf(stderr, "opentse: the outage journal failed: %s\n", tse_last_error_message());
        engine_fail_with(&cause);
    } else if (t->ops->remote) {
        /* an outage that cannot be closed stays open: the next answer tries again */
        if (journal_reachable(t->jr) != TSE_OK)
            fprintf(stderr, "opentse: the outage journal failed: %s\n", tse_last_error_message());
        if (rc)
            engine_fail_with(&cause);
    }
    return rc;
}

/* After a restart: a request that got no answer can be repeated as it was. */
static void restore_pending(void *ctx, const journal_op *op)
{
    tse *t = ctx;
    t->ops->restore_pending(t->backend, op->operation, op->client_id, op->tx_number, op->process_type, op->pd,
                            op->pd_len, op->tx_id, op->tx_revision);
}

/* The keep-alive thread's signed update: an empty one, through the handle. */
static tse_err keepalive_update(void *ctx, const char *client_id, uint64_t number, const char *process_type)
{
    tse_result res;
    return tse_update_transaction(ctx, client_id, number, (const uint8_t *)"", 0, process_type, TSE_UPDATE_SIGNED,
                                  &res);
}

tse_err tse_create(const char *path, const tse_create_options *opts, char puk_out[TSE_PUK_LEN + 1])
{
    if (remote_is_url(path)) {
        if (!puk_out)
            return engine_fail(TSE_ERR_INVALID_ARGUMENT, "puk_out is required");
        if (opts && opts->log_format_version)
            return engine_fail(TSE_ERR_INVALID_ARGUMENT,
                               "the log format of a remote TSE is the server's (opentsed --log-format)");
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
    t->ops = remote_is_url(url) ? &transport_remote : &transport_file;
    tse_err rc = t->ops->open(url, opts, &t->backend);
    const char *jpath = opts->journal_path ? opts->journal_path : getenv("OPENTSE_JOURNAL");
    if (!rc && jpath && *jpath) {
        char name[1200];
        size_t n = strcspn(url, "?#");
        bool add_tss = t->ops->remote && !strstr(url, "/tss/");
        snprintf(name, sizeof name, "%.*s%s%s", (int)n, url, add_tss ? "/tss/" : "",
                 add_tss ? t->ops->tss_id(t->backend) : "");
        rc = journal_open(jpath, name, &t->jr);
        if (!rc && t->ops->remote)
            journal_last_unanswered(t->jr, restore_pending, t);
    }
    if (!rc && opts->keep_alive_seconds)
        rc = keepalive_start(keepalive_update, t, opts->keep_alive_seconds, &t->ka);
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
    t->ops->close(t->backend);
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
    if (!t)
        return no_handle();
    return note(t, t->ops->set_admin_pin(t->backend, puk, new_pin), "setAdminPin", NULL, 0, NULL, NULL, 0);
}

tse_err tse_authenticate_user(tse *t, const char *user_id, const char *pin, tse_auth_result *result, int *remaining_retries)
{
    if (!t)
        return no_handle();
    tse_err rc = t->ops->authenticate_user(t->backend, user_id, pin, result, remaining_retries);
    return note(t, rc, NULL, NULL, 0, NULL, NULL, 0);
}

tse_err tse_logout(tse *t, const char *user_id)
{
    if (!t)
        return no_handle();
    return t->ops->logout(t->backend, user_id);
}

tse_err tse_unblock_user(tse *t, const char *user_id, const char *puk, const char *new_pin)
{
    if (!t)
        return no_handle();
    return t->ops->unblock_user(t->backend, user_id, puk, new_pin);
}

tse_err tse_set_user_pin(tse *t, const char *user_id, const char *new_pin)
{
    if (!t)
        return no_handle();
    return t->ops->set_user_pin(t->backend, user_id, new_pin);
}

tse_err tse_logged_in_user(tse *t, char out[TSE_USER_ID_BUF])
{
    if (!t)
        return no_handle();
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    return note(t, t->ops->logged_in_user(t->backend, out), NULL, NULL, 0, NULL, NULL, 0);
}

tse_err tse_set_time_admin_pin(tse *t, const char *new_pin)
{
    return tse_set_user_pin(t, TSE_USER_TIME_ADMIN, new_pin);
}

tse_err tse_initialize(tse *t, const char *description)
{
    if (!t)
        return no_handle();
    return note(t, t->ops->initialize(t->backend, description), "initialize", NULL, 0, NULL, NULL, 0);
}

tse_err tse_update_time(tse *t, int64_t unix_time)
{
    if (!t)
        return no_handle();
    return note(t, t->ops->update_time(t->backend, unix_time), "updateTime", NULL, 0, NULL, NULL, 0);
}

tse_err tse_disable_secure_element(tse *t)
{
    if (!t)
        return no_handle();
    return note(t, t->ops->disable_secure_element(t->backend), "disableSecureElement", NULL, 0, NULL, NULL, 0);
}

tse_err tse_register_client(tse *t, const char *client_id)
{
    if (!t)
        return no_handle();
    return note(t, t->ops->register_client(t->backend, client_id), "registerClient", client_id, 0, NULL, NULL, 0);
}

tse_err tse_deregister_client(tse *t, const char *client_id)
{
    if (!t)
        return no_handle();
    tse_err rc = t->ops->deregister_client(t->backend, client_id);
    return note(t, rc, "deregisterClient", client_id, 0, NULL, NULL, 0);
}

tse_err tse_self_test(tse *t)
{
    if (!t)
        return no_handle();
    return t->ops->self_test(t->backend);
}

tse_err tse_start_transaction(tse *t, const char *client_id, const uint8_t *process_data, size_t process_data_len, const char *process_type, const uint8_t *additional_data, size_t additional_data_len, tse_result *out)
{
    if (!t)
        return no_handle();
    tse_err rc = t->ops->start_transaction(t->backend, client_id, process_data, process_data_len, process_type,
                                           additional_data, additional_data_len, out);
    if (!rc && t->ka)
        keepalive_touch(t->ka, out->transaction_number, client_id, process_type);
    return note(t, rc, "startTransaction", client_id, 0, process_type, process_data, process_data_len);
}

tse_err tse_update_transaction_logs(tse *t, const char *client_id, uint64_t transaction_number, const uint8_t *process_data, size_t process_data_len, const char *process_type, tse_update_variant variant, tse_result *kept, tse_result *out)
{
    if (!t)
        return no_handle();
    tse_result own;
    kept = kept ? kept : &own;
    memset(kept, 0, sizeof *kept);
    tse_err rc = t->ops->update_transaction(t->backend, client_id, transaction_number, process_data,
                                            process_data_len, process_type, variant, kept, out);
    if (!rc && t->ka)
        keepalive_touch(t->ka, transaction_number, client_id, process_type);
    return note(t, rc, "updateTransaction", client_id, transaction_number, process_type, process_data,
                process_data_len);
}

tse_err tse_update_transaction(tse *t, const char *client_id, uint64_t transaction_number, const uint8_t *process_data, size_t process_data_len, const char *process_type, tse_update_variant variant, tse_result *out)
{
    return tse_update_transaction_logs(t, client_id, transaction_number, process_data, process_data_len,
                                       process_type, variant, NULL, out);
}

tse_err tse_finish_transaction_logs(tse *t, const char *client_id, uint64_t transaction_number, const uint8_t *process_data, size_t process_data_len, const char *process_type, const uint8_t *additional_data, size_t additional_data_len, tse_result *kept, tse_result *out)
{
    if (!t)
        return no_handle();
    tse_result own;
    kept = kept ? kept : &own;
    memset(kept, 0, sizeof *kept);
    tse_err rc = t->ops->finish_transaction(t->backend, client_id, transaction_number, process_data,
                                            process_data_len, process_type, additional_data, additional_data_len,
                                            kept, out);
    if (!rc && t->ka)
        keepalive_forget(t->ka, transaction_number);
    return note(t, rc, "finishTransaction", client_id, transaction_number, process_type, process_data,
                process_data_len);
}

tse_err tse_finish_transaction(tse *t, const char *client_id, uint64_t transaction_number, const uint8_t *process_data, size_t process_data_len, const char *process_type, const uint8_t *additional_data, size_t additional_data_len, tse_result *out)
{
    return tse_finish_transaction_logs(t, client_id, transaction_number, process_data, process_data_len,
                                       process_type, additional_data, additional_data_len, NULL, out);
}

tse_err tse_list_open_transactions(tse *t, tse_open_transaction **out, size_t *count)
{
    if (!t)
        return no_handle();
    return t->ops->list_open_transactions(t->backend, out, count);
}

tse_err tse_get_info(tse *t, tse_info *out)
{
    if (!t)
        return no_handle();
    return note(t, t->ops->get_info(t->backend, out), NULL, NULL, 0, NULL, NULL, 0);
}

tse_err tse_read_log_message(tse *t, uint8_t **msg, size_t *len)
{
    if (!t)
        return no_handle();
    return t->ops->read_log_message(t->backend, msg, len);
}

tse_err tse_read_log_by_counter(tse *t, uint64_t counter, uint8_t **msg, size_t *len)
{
    if (!t)
        return no_handle();
    return t->ops->read_log_by_counter(t->backend, counter, msg, len);
}

tse_err tse_export_serial_numbers(tse *t, uint8_t **der, size_t *len)
{
    if (!t)
        return no_handle();
    return t->ops->export_serial_numbers(t->backend, der, len);
}

tse_err tse_get_max_number_of_clients(tse *t, uint32_t *out)
{
    if (!t)
        return no_handle();
    return t->ops->get_max_number_of_clients(t->backend, out);
}

tse_err tse_get_current_number_of_clients(tse *t, uint32_t *out)
{
    if (!t)
        return no_handle();
    return t->ops->get_current_number_of_clients(t->backend, out);
}

tse_err tse_get_max_number_of_transactions(tse *t, uint32_t *out)
{
    if (!t)
        return no_handle();
    return t->ops->get_max_number_of_transactions(t->backend, out);
}

tse_err tse_get_current_number_of_transactions(tse *t, uint32_t *out)
{
    if (!t)
        return no_handle();
    return t->ops->get_current_number_of_transactions(t->backend, out);
}

tse_err tse_get_supported_transaction_update_variants(tse *t, tse_update_variant *out)
{
    if (!t)
        return no_handle();
    return t->ops->get_supported_transaction_update_variants(t->backend, out);
}

tse_err tse_list_clients(tse *t, char ***ids, size_t *count)
{
    if (!t)
        return no_handle();
    return t->ops->list_clients(t->backend, ids, count);
}

tse_err tse_export_certificates(tse *t, char **pem)
{
    if (!t)
        return no_handle();
    return t->ops->export_certificates(t->backend, pem);
}

tse_err tse_export_data(tse *t, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                        tse_export_result *out)
{
    if (!t)
        return no_handle();
    return t->ops->export_data(t->backend, filter, write, ctx, out);
}

tse_err tse_delete_stored_data(tse *t)
{
    if (!t)
        return no_handle();
    return t->ops->delete_stored_data(t->backend);
}

tse_err tse_restore_from_backup(tse *t, const char *const *paths, size_t n_paths, uint64_t *added)
{
    if (!t)
        return no_handle();
    return t->ops->restore_from_backup(t->backend, paths, n_paths, added);
}

tse_err tse_public_key(tse *t, uint8_t **point, size_t *len)
{
    if (!t)
        return no_handle();
    return t->ops->public_key(t->backend, point, len);
}

tse_err tse_export_csr(tse *t, char **pem)
{
    if (!t)
        return no_handle();
    return t->ops->export_csr(t->backend, pem);
}

tse_err tse_import_certificate(tse *t, const char *pem_chain)
{
    if (!t)
        return no_handle();
    return t->ops->import_certificate(t->backend, pem_chain);
}

tse_err tse_certificate_expiry(tse *t, int64_t *not_after, int32_t *days_left)
{
    if (!t)
        return no_handle();
    return t->ops->certificate_expiry(t->backend, not_after, days_left);
}

tse_err tse_create_successor(tse *t, const char *admin_pin, char successor_id[37], char puk_out[TSE_PUK_LEN + 1])
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    if (!t->ops->remote)
        return engine_fail(TSE_ERR_NOT_SUPPORTED, "a successor TSS is made by opentsed; an embedded TSE has none");
    return remote_create_successor(t->backend, admin_pin, successor_id, puk_out);
}

tse_err tse_get_end_of_usage_date(tse *t, int64_t *end_of_usage)
{
    if (!end_of_usage)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "end_of_usage is required");
    tse_info info;
    tse_err rc = tse_get_info(t, &info);
    if (!rc)
        *end_of_usage = info.end_of_usage;
    return rc;
}
