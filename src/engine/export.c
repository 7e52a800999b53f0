/*
 * export.c - the engine's side of exportData, deleteStoredData and
 * restoreFromBackup: roles, states, the export mark, and the system logs.
 * The archives themselves are export/'s job.
 *
 * The export mark (meta "exported_through") is the highest counter C such
 * that every log 1..C went out in complete or incremental exports that
 * reached their receiver to the end. deleteStoredData deletes the stored
 * logs up to it. A log above the mark is unexported unless it is a
 * transaction log of a transaction still open (TR-03151-1 v1.1.1 3.6.4.5
 * steps 8 and 9 let those stay); while the store holds any unexported log
 * the delete is refused (step 4) and nothing changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "internal.h"

#define META_EXPORTED "exported_through"

static tse_err exported_through(engine *t, uint64_t *mark)
{
    uint8_t *v = NULL;
    size_t n = 0;
    tse_error err = {0};
    *mark = 0;
    int rc = store_get_meta(t->st, META_EXPORTED, &v, &n, &err);
    if (rc == TSE_ERR_NOT_FOUND)
        return TSE_OK;
    if (rc != 0)
        return engine_fail(rc == TSE_ERR_NO_MEMORY ? rc : TSE_ERR_STORAGE_FAILURE, "reading the export mark: %s", err.message);
    char text[24] = "";
    memcpy(text, v, n < sizeof text - 1 ? n : sizeof text - 1);
    free(v);
    *mark = strtoull(text, NULL, 10);
    return TSE_OK;
}

/* After a complete export of (cursor, upto]: the mark moves to upto when
 * the archive joins on to what was exported before. */
static tse_err mark_exported(engine *t, uint64_t cursor, uint64_t upto)
{
    engine_commit *ticket = NULL;
    tse_err rc = TSE_OK;
    pthread_mutex_lock(&t->mu);
    uint64_t mark = 0;
    rc = exported_through(t, &mark);
    if (!rc && cursor <= mark && upto > mark) {
        char buf[24];
        store_change ch;
        engine_meta_int(&ch, META_EXPORTED, (int64_t)upto, buf);
        rc = engine_submit_state(t, &ch, 1, &ticket);
    }
    pthread_mutex_unlock(&t->mu);
    tse_err fin = engine_finish_commit(t, ticket);
    return rc ? rc : fin;
}

tse_err engine_export_data(engine *t, const tse_export_filter *filter, tse_export_write_fn write, void *ctx,
                           tse_export_result *out)
{
    return engine_export_data_marked(t, NULL, filter, write, ctx, out);
}

tse_err engine_export_data_marked(engine *t, const char *mark, const tse_export_filter *filter,
                                  tse_export_write_fn write, void *ctx, tse_export_result *out)
{
    if (out)
        *out = (tse_export_result){0};
    if (!t || !write)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "a TSE handle and a write callback are required");
    pthread_mutex_lock(&t->mu);
    char *cert = t->cert_pem ? strdup(t->cert_pem) : NULL;
    char description[TSE_MAX_DESCRIPTION_LEN + 64] = "";
    memcpy(description, t->description, sizeof t->description);
    if (mark)   /* info.csv says first what kind of TSE wrote the archive */
        snprintf(description, sizeof description, "%s%s%s", mark, t->description[0] ? ": " : "", t->description);
    int64_t now = engine_now(t);
    int format = 3;
    if (engine_log_format(t, &format) != TSE_OK)
        format = 3;
    export_device *dev = malloc(sizeof *dev);   /* info.csv's components: getComponentVersions' */
    tse_err drc = dev ? engine_components(t, dev) : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    pthread_mutex_unlock(&t->mu);
    if ((t->cert_pem && !cert) || drc) {
        free(cert);
        free(dev);
        return drc ? drc : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    }

    export_source src = {.st = t->st, .info_format = format, .description = description, .cert_pem = cert,
                         .mtime = now, .device = dev};
    tse_export_result local, *res = out ? out : &local;
    tse_error err = {0};
    int rc = export_archive(&src, filter, write, ctx, res, &err);
    free(cert);
    free(dev);
    if (rc)
        return engine_fail(rc, "%s", err.message);
    if (export_filter_is_complete(filter) && (rc = mark_exported(t, filter ? filter->cursor : 0, res->cursor)) != 0)
        return rc;
    return TSE_OK;
}

tse_err engine_export_check(engine *t, const tse_export_filter *filter)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    tse_error err = {0};
    int rc = export_check(t->st, filter, &err);
    return rc ? engine_fail(rc, "%s", err.message) : TSE_OK;
}

/* The logs above the mark that are not transaction logs of an open
 * transaction (under mu): every log signed since the mark (those still on
 * their way to the disk too), less the stored ones of each open transaction
 * (counted through the store's index of transaction numbers). */
static tse_err count_unexported(engine *t, uint64_t mark, uint64_t *out)
{
    tse_error err = {0};
    uint64_t all = t->counter > mark ? t->counter - mark : 0, open = 0;
    int rc = 0;
    for (size_t i = 0; !rc && all > open && i < t->n_txs; i++) {
        uint64_t n = 0;
        store_log_filter tx = {.from = mark + 1, .tx_from = t->txs[i].number, .tx_to = t->txs[i].number};
        rc = store_count_logs(t->st, &tx, 0, &n, &err);
        open += n;
    }
    if (rc)
        return engine_fail(TSE_ERR_DELETE_STORED_DATA_FAILED, "counting the unexported logs: %s", err.message);
    *out = all > open ? all - open : 0;
    return TSE_OK;
}

tse_err engine_delete_stored_data(engine *t)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    engine_commit *timeout_ticket = NULL, *ticket = NULL;
    pthread_mutex_lock(&t->mu);
    tse_err rc = t->state == TSE_STATE_DISABLED ? engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "the TSE was disabled")
                                                : engine_require_role(t, 1u << USER_ADMIN, &timeout_ticket);
    uint64_t mark = 0, unexported = 0;
    if (!rc)
        rc = exported_through(t, &mark);
    if (!rc)
        rc = count_unexported(t, mark, &unexported);
    if (!rc && unexported)
        rc = engine_fail(TSE_ERR_UNEXPORTED_STORED_DATA,
                         "%llu log%s not exported yet (logs %llu..%llu but those of open transactions): export "
                         "(complete or incremental) first, then delete; nothing was deleted",
                         (unsigned long long)unexported, unexported == 1 ? " is" : "s are",
                         (unsigned long long)mark + 1, (unsigned long long)t->counter);
    if (!rc) {
        store_change ch = {.kind = STORE_DELETE_LOGS, .counter = mark};
        engine_event ev = {.kind = EV_DELETE, .count = mark, .roles = 1u << USER_ADMIN};
        rc = engine_event_log(t, &ev, &ch, 1, &ticket);
    }
    pthread_mutex_unlock(&t->mu);
    return engine_finish_after_timeout(t, timeout_ticket, rc, ticket);
}

tse_err engine_restore_from_backup(engine *t, const char *const *paths, size_t n_paths, uint64_t *added)
{
    if (added)
        *added = 0;
    if (!t || !paths || !n_paths)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "a TSE handle and at least one archive are required");
    engine_commit *timeout_ticket = NULL, *ticket = NULL;
    uint64_t n = 0;
    pthread_mutex_lock(&t->mu);
    bool recovery = t->recovery;
    tse_err rc = recovery ? TSE_OK : engine_require_role(t, 1u << USER_ADMIN, &timeout_ticket);
    EVP_PKEY *pub = rc ? NULL : csp_pubkey_from_point(t->curve, t->point, t->point_len);
    if (!rc && !pub)
        rc = engine_fail(TSE_ERR_RESTORE_FAILED, "the TSE's public key cannot be read");
    if (!rc) {
        /* queued commits first: the bulk insert must see every log we handed out */
        pthread_mutex_unlock(&t->mu);
        rc = engine_finish_commit(t, timeout_ticket);
        timeout_ticket = NULL;
        pthread_mutex_lock(&t->mu);
    }
    if (!rc) {
        export_restore_key key = {.pub = pub, .hash = t->hash, .sigalg_oid = csp_sigalg_oid(t->hash),
                                  .serial = t->serial, .cert_pem = t->cert_pem};
        tse_error err = {0};
        int r = export_restore(t->st, &key, paths, n_paths, &n, &err);
        if (r)
            rc = engine_fail(r, "%s", err.message);
        else if ((rc = engine_reload(t)) == TSE_OK && (n || recovery) && t->state != TSE_STATE_DISABLED &&
                 t->key) {
            t->recovery = false;
            engine_event ev = {.kind = EV_RESTORE, .count = n, .roles = 1u << USER_ADMIN};
            rc = engine_event_log(t, &ev, NULL, 0, &ticket);
        }
    }
    pthread_mutex_unlock(&t->mu);
    EVP_PKEY_free(pub);
    rc = engine_finish_after_timeout(t, timeout_ticket, rc, ticket);
    if (added)
        *added = n;
    return rc;
}
