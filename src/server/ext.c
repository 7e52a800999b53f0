/*
 * ext.c - OpenTSE extensions of the /api/v2 tree for the SE API calls the
 * market API has no endpoint for: time update, self-test, reading log
 * messages, CSR out and certificate in, deleteStoredData and
 * restoreFromBackup, and the TR-03151-1 v1.1.1 functions: setDescription,
 * lock/unlockTransactionLogging, the device information, a transaction's
 * state, the last transaction log, updateDevice, who is logged in (the
 * time admin's PIN and login are with the admin's in tss.c). Each handler
 * translates one request into one engine call; roles, states and error
 * codes are the engine's, tenancy and token checks are done by routes.c
 * before any handler runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

static void ok_or_error(srv_resp *r, tse_err e)
{
    if (e)
        resp_tse_error(r, e);
    else
        resp_json(r, 200, json_object());
}

/* The JSON body (owned by the caller) with its member `name` in *member;
 * NULL and a 400 in r when the body is malformed or lacks it. */
static json_t *body_with(srv_req *q, srv_resp *r, const char *name, json_t **member)
{
    json_t *j = req_json(q, r);
    *member = j ? json_object_get(j, name) : NULL;
    if (j && !*member) {
        resp_error(r, 400, "E_BAD_REQUEST", "%s is required", name);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* POST .../time {unix_time}: admin or time admin. */
static void update_time(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *v = NULL, *j = body_with(q, r, "unix_time", &v);
    if (!j)
        return;
    if (!json_is_integer(v))
        resp_error(r, 400, "E_BAD_REQUEST", "unix_time must be an integer (seconds since the epoch)");
    else
        ok_or_error(r, engine_update_time(x->e, (int64_t)json_integer_value(v)));
    json_decref(j);
}

/* The answer with one log message (DER in base64), or the error; frees msg. */
static void log_answer(srv_resp *r, tse_err e, uint8_t *msg, size_t len)
{
    char *b64 = e ? NULL : base64_encode_alloc(msg, len);
    tse_free(msg);
    if (e)
        resp_tse_error(r, e);
    else
        resp_json(r, 200, b64 ? json_pack("{s:s, s:I}", "log_message", b64, "size", (json_int_t)len) : NULL);
    free(b64);
}

/* GET .../log/last, GET .../log/{counter}: one log message, DER in base64. */
static void read_log(srv_resp *r, srv_tss *x, const char *which)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    tse_err e;
    if (strcmp(which, "last") == 0) {
        e = engine_read_log_message(x->e, &msg, &len);
    } else {
        uint64_t c;
        if (!parse_u64(which, (size_t)-1, INT64_MAX, &c)) {
            resp_error(r, 400, "E_BAD_REQUEST", "the signature counter must be a whole number (digits only) or \"last\"");
            return;
        }
        e = engine_read_log_by_counter(x->e, c, &msg, &len);
    }
    log_answer(r, e, msg, len);
}

/* GET .../csr: a certificate signing request for the TSS key; GET
 * .../certificate: the whole chain, TSS first, root last (the TSS resource's
 * `certificate` is the TSS certificate alone). Both PEM. */
static void export_pem(srv_resp *r, srv_tss *x, int csr)
{
    char *pem = NULL;
    tse_err e = csr ? engine_export_csr(x->e, &pem) : engine_export_certificates(x->e, &pem);
    if (e)
        resp_tse_error(r, e);
    else
        resp_json(r, 200, json_pack("{s:s}", csr ? "csr" : "certificate", pem));
    tse_free(pem);
}

/* A body {name: "<text>"} handed to op: PUT .../certificate {certificate}
 * (an issued chain, PEM, TSS first; admin), PUT .../description
 * {description} (setDescription; admin). */
static void string_body(srv_req *q, srv_resp *r, srv_tss *x, const char *name, const char *what,
                        tse_err (*op)(engine *, const char *))
{
    json_t *v = NULL, *j = body_with(q, r, name, &v);
    if (!j)
        return;
    if (!json_is_string(v))
        resp_error(r, 400, "E_BAD_REQUEST", "%s must be %s", name, what);
    else
        ok_or_error(r, op(x->e, json_string_value(v)));
    json_decref(j);
}

/* Writes bytes to a new temporary file in DATA_DIR; 0 or -1. */
static int keep_upload(srv *s, const uint8_t *p, size_t n, char *path, size_t cap)
{
    snprintf(path, cap, "%s/restore-XXXXXX", s->cfg.data_dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t done = 0;
    ssize_t w = 1;
    while (done < n && (w = write(fd, p + done, n - done)) > 0)
        done += (size_t)w;
    if (close(fd) != 0 || done != n) {
        unlink(path);
        return -1;
    }
    return 0;
}

#define MAX_ARCHIVES 16

/* POST .../restore {archives: [base64 of an export archive of this TSS, ...]}
 * (within the request size limit); admin. */
static void restore(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *v = NULL, *j = body_with(q, r, "archives", &v);
    if (!j)
        return;
    size_t n = json_array_size(v), kept = 0;
    char paths[MAX_ARCHIVES][1100];
    const char *list[MAX_ARCHIVES];
    int bad = !json_is_array(v) || n == 0 || n > MAX_ARCHIVES;
    for (size_t i = 0; !bad && i < n; i++) {
        size_t len = 0;
        const char *a = json_string_value(json_array_get(v, i));
        uint8_t *tar = a ? base64_decode_alloc(a, strlen(a), SIZE_MAX, &len) : NULL;
        if (!tar || !len) {
            bad = 1;
        } else if (keep_upload(q->s, tar, len, paths[kept], sizeof paths[kept])) {
            bad = 2;
        } else {
            list[kept] = paths[kept];
            kept++;
        }
        free(tar);
    }
    json_decref(j);
    uint64_t added = 0;
    tse_err e = bad ? TSE_OK : engine_restore_from_backup(x->e, list, kept, &added);
    for (size_t i = 0; i < kept; i++)
        unlink(paths[i]);
    if (bad == 1)
        resp_error(r, 400, "E_BAD_REQUEST", "archives must be 1 to %d export archives in base64", MAX_ARCHIVES);
    else if (bad) {
        resp_error(r, 503, tse_market_code(TSE_ERR_STORAGE_FAILURE), "cannot keep the uploaded archive");
        resp_tse_name(r, "STORAGE_FAILURE");
    } else if (e)
        resp_tse_error(r, e);
    else
        resp_json(r, 200, json_pack("{s:I}", "restored", (json_int_t)added));
}

/* GET .../log/last-transaction[/{number}]: the last transaction log (of
 * that transaction), DER in base64. */
static void last_transaction_log(srv_resp *r, srv_tss *x, const char *number)
{
    uint64_t n = 0;
    if (number && (!parse_u64(number, (size_t)-1, INT64_MAX, &n) || n == 0)) {
        resp_error(r, 400, "E_BAD_REQUEST", "the transaction number must be a whole number from 1 (digits only)");
        return;
    }
    uint8_t *msg = NULL;
    size_t len = 0;
    tse_err e = engine_get_last_transaction_log(x->e, n, &msg, &len);
    log_answer(r, e, msg, len);
}

/* POST .../transaction-logging {locked}: lock/unlockTransactionLogging; admin. */
static void transaction_logging(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *v = NULL, *j = body_with(q, r, "locked", &v);
    if (!j)
        return;
    if (!json_is_boolean(v))
        resp_error(r, 400, "E_BAD_REQUEST", "locked must be true or false");
    else
        ok_or_error(r, engine_set_transaction_logging_locked(x->e, json_is_true(v)));
    json_decref(j);
}

/* GET .../device: memory figures, time sync variant, lock, components. */
static void device(srv_resp *r, srv_tss *x)
{
    tse_device_info d;
    tse_err e = engine_get_device_info(x->e, "opentsed", &d);
    if (e) {
        resp_tse_error(r, e);
        return;
    }
    json_t *comps = json_array();
    for (size_t i = 0; comps && i < d.n_components; i++)
        json_array_append_new(comps, json_pack("{s:s, s:s, s:s, s:s, s:s}", "component", d.components[i].name,
                                               "manufacturer", d.components[i].manufacturer, "model",
                                               d.components[i].model, "version", d.components[i].version,
                                               "certification_id", d.components[i].certification_id));
    resp_json(r, 200,
              json_pack("{s:I, s:I, s:o*, s:s, s:b, s:s, s:o}", "total_memory", (json_int_t)d.total_memory,
                        "used_memory", (json_int_t)d.used_memory, "free_memory",   /* absent when unknown, not null */
                        d.free_memory_known ? json_integer((json_int_t)d.free_memory) : NULL,
                        "time_sync_variant", engine_time_sync_name(d.time_sync_variant),
                        "transaction_logging_locked", d.transaction_logging_locked, "description", d.description,
                        "components", comps));
}

/* POST .../update-device {package}: updateDevice with the signed update
 * package in base64 (admin). */
static void update_device(srv_req *q, srv_resp *r, srv_tss *x)
{
    json_t *v = NULL, *j = body_with(q, r, "package", &v);
    if (!j)
        return;
    const char *b64 = json_string_value(v);
    size_t n = 0;
    uint8_t *pkg = b64 ? base64_decode_alloc(b64, strlen(b64), TSE_MAX_UPDATE_PACKAGE, &n) : NULL;
    if (!pkg)
        resp_error(r, b64 && strlen(b64) > (TSE_MAX_UPDATE_PACKAGE + 2) / 3 * 4 ? 413 : 400, "E_BAD_REQUEST",
                   "package must be the update package in base64, at most %d bytes", TSE_MAX_UPDATE_PACKAGE);
    else
        ok_or_error(r, engine_update_device(x->e, pkg, n));
    free(pkg);
    json_decref(j);
}

/* POST .../authenticate-user {user_id, pin} and POST .../unblock-pin
 * {user_id, puk, new_pin}: authenticateUser and unblockPin for any user
 * id, so that an attempt for one the TSS does not manage is logged (400
 * USER_ID_NOT_MANAGED after the log); the admin's and time admin's own
 * routes are .../admin and .../time-admin. A wrong PIN's answer carries
 * remaining_retries. */
static void user_call(srv_req *q, srv_resp *r, srv_tss *x, int unblock)
{
    json_t *j = req_json(q, r);
    if (!j)
        return;
    const char *id = json_string_value(json_object_get(j, "user_id"));
    const char *pin = json_string_value(json_object_get(j, unblock ? "new_pin" : "pin"));
    const char *puk = json_string_value(json_object_get(j, "puk"));
    if (!id || !pin || (unblock && !puk)) {
        resp_error(r, 400, "E_BAD_REQUEST", unblock ? "user_id, puk and new_pin are required strings"
                                                    : "user_id and pin are required strings");
        json_decref(j);
        return;
    }
    int left = 0;
    tse_auth_result res = TSE_AUTH_FAILED;
    tse_err e = unblock ? engine_unblock_user(x->e, id, puk, pin) : engine_authenticate_user(x->e, id, pin, &res, &left);
    json_decref(j);
    ok_or_error(r, e);
    if (e == TSE_ERR_AUTHENTICATION_FAILED && r->json)
        json_object_set_new(r->json, "remaining_retries", json_integer(left));
}

/* GET .../logged-in-user: who is logged in now (table 9 of TR-03153-1
 * v1.1.1 is checked against it by libopentse's SE API). */
static void logged_in_user(srv_resp *r, srv_tss *x)
{
    char who[TSE_USER_ID_BUF];
    tse_err e = engine_logged_in_user(x->e, who);
    if (e)
        resp_tse_error(r, e);
    else
        resp_json(r, 200, json_pack("{s:s}", "user_id", who));
}

/* GET .../transaction-state/{number}: getTransactionState. */
static void transaction_state(srv_resp *r, srv_tss *x, const char *number)
{
    uint64_t n = 0;
    if (!parse_u64(number, (size_t)-1, INT64_MAX, &n)) {
        resp_error(r, 400, "E_BAD_REQUEST", "the transaction number must be a whole number (digits only)");
        return;
    }
    tse_transaction_state s;
    tse_err e = engine_get_transaction_state(x->e, n, &s);
    if (e)
        resp_tse_error(r, e);
    else
        resp_json(r, 200, json_pack("{s:I, s:s}", "transaction_number", (json_int_t)n, "state",
                                    engine_tx_state_name(s)));
}

/* /api/v2/tss/{id}/<time|self-test|log|csr|certificate|delete-stored-data|restore|
 * description|transaction-logging|device|transaction-state|update-device|
 * authenticate-user|unblock-pin|logged-in-user> */
void routes_ext(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    const char *m = q->method, *name = seg[2];
    int post = strcmp(m, "POST") == 0;
    if (nseg == 3 && post && strcmp(name, "time") == 0)
        update_time(q, r, x);
    else if (nseg == 3 && post && strcmp(name, "self-test") == 0)
        ok_or_error(r, engine_self_test(x->e));
    else if (nseg >= 4 && nseg <= 5 && strcmp(m, "GET") == 0 && strcmp(name, "log") == 0 &&
             strcmp(seg[3], "last-transaction") == 0)
        last_transaction_log(r, x, nseg == 5 ? seg[4] : NULL);
    else if (nseg == 4 && strcmp(m, "GET") == 0 && strcmp(name, "log") == 0)
        read_log(r, x, seg[3]);
    else if (nseg == 3 && strcmp(m, "PUT") == 0 && strcmp(name, "description") == 0)
        string_body(q, r, x, "description", "a string", engine_set_description);
    else if (nseg == 3 && post && strcmp(name, "transaction-logging") == 0)
        transaction_logging(q, r, x);
    else if (nseg == 3 && strcmp(m, "GET") == 0 && strcmp(name, "device") == 0)
        device(r, x);
    else if (nseg == 4 && strcmp(m, "GET") == 0 && strcmp(name, "transaction-state") == 0)
        transaction_state(r, x, seg[3]);
    else if (nseg == 3 && strcmp(m, "GET") == 0 && strcmp(name, "csr") == 0)
        export_pem(r, x, 1);
    else if (nseg == 3 && strcmp(m, "GET") == 0 && strcmp(name, "certificate") == 0)
        export_pem(r, x, 0);
    else if (nseg == 3 && strcmp(m, "PUT") == 0 && strcmp(name, "certificate") == 0)
        string_body(q, r, x, "certificate", "a PEM string", engine_import_certificate);
    else if (nseg == 3 && post && strcmp(name, "delete-stored-data") == 0)
        ok_or_error(r, engine_delete_stored_data(x->e));
    else if (nseg == 3 && post && strcmp(name, "restore") == 0)
        restore(q, r, x);
    else if (nseg == 3 && post && strcmp(name, "update-device") == 0)
        update_device(q, r, x);
    else if (nseg == 3 && post && strcmp(name, "authenticate-user") == 0)
        user_call(q, r, x, 0);
    else if (nseg == 3 && post && strcmp(name, "unblock-pin") == 0)
        user_call(q, r, x, 1);
    else if (nseg == 3 && strcmp(m, "GET") == 0 && strcmp(name, "logged-in-user") == 0)
        logged_in_user(r, x);
    else
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", m, q->path);
}
