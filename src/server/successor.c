/*
 * successor.c - a successor TSS in one step, and the retirement of the old
 * one. POST /api/v2/tss/{id}/successor {admin_pin, successor_id?,
 * description?} checks the old TSS's admin PIN and creates the successor
 * for the same organization, with that PIN as its admin PIN and the link
 * record (tsslink; each TSS answer carries `successor` / `predecessor`) in
 * the creation's one commit. It then initializes the successor, registers
 * every registered client of the old TSS under the same client ids and
 * marks the link set up; a call cut short in between is completed by the
 * same call again, never leaving an unlinked TSS. Then it retires the old TSS
 * when it has no open transaction: a complete export kept as an export job
 * (downloadable like any other), checked by the verifier, and
 * disableSecureElement, which the admin's PIN authorized in this call (the
 * authorization is kept in the TSS). While transactions are open the old
 * TSS keeps signing them, and a watcher retires it by itself once the last
 * one has finished (again after a restart: successor_watch_all).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "server.h"
#include "verify/verify.h"

/* Registered clients of TSS tss_id: ids and serial numbers (malloc'd). */
typedef struct client_list {
    char (*id)[40];
    char (*serial)[TSE_MAX_CLIENT_ID_LEN + 1];
    size_t n;
} client_list;

static int clients_of(srv *s, const char *tss_id, client_list *out)
{
    memset(out, 0, sizeof *out);
    char ns[REC_NS_LEN];
    json_t *recs = rec_list(s, rec_ns(ns, "client", tss_id), "REGISTERED", 0, 0), *v;
    size_t n = json_array_size(recs), i;
    if (!recs)
        return -1;
    out->id = calloc(n + 1, sizeof *out->id);
    out->serial = calloc(n + 1, sizeof *out->serial);
    if (!out->id || !out->serial) {
        json_decref(recs);
        return -1;
    }
    json_array_foreach(recs, i, v) {
        snprintf(out->id[i], 40, "%s", json_string_value(json_object_get(v, "_key")) ?: "");
        snprintf(out->serial[i], TSE_MAX_CLIENT_ID_LEN + 1, "%s",
                 json_string_value(json_object_get(v, "serial_number")) ?: "");
    }
    out->n = n;
    json_decref(recs);
    return 0;
}

static void clients_free(client_list *c)
{
    free(c->id);
    free(c->serial);
}

/* Whether client `id` is in list c. */
static bool listed(const client_list *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->id[i], id))
            return true;
    return false;
}

/* Takes the successor nx from its creation (which set its admin PIN and the
 * link, in one commit) to the end of its setup: initialized, every client
 * of `old` registered, the link marked complete. Each step is done only if
 * still missing, so the same call after a failure at any step completes it.
 * TSE_OK or the failing code. */
static tse_err set_up(srv *s, srv_tss *old, srv_tss *nx, const char *pin, const char *desc, json_t *link)
{
    tse_info info;
    tse_err e;
    if (tss_set_record(s, nx->id, desc, 1))
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "cannot record the successor %s", nx->id);
    if ((e = engine_get_info(nx->e, &info)) || (e = engine_authenticate_user(nx->e, TSE_USER_ADMIN, pin, NULL, NULL)))
        return e;
    if (info.state != TSE_STATE_INITIALIZED)
        e = engine_initialize(nx->e, desc);
    client_list want = {0}, have = {0};
    if (!e && (clients_of(s, old->id, &want) || clients_of(s, nx->id, &have)))
        e = engine_fail(TSE_ERR_STORAGE_FAILURE, "cannot read the clients of %s", old->id);
    for (size_t i = 0; !e && i < want.n; i++)
        if (!listed(&have, want.id[i]))
            e = client_put(s, nx, want.id[i], want.serial[i]);
    clients_free(&want);
    clients_free(&have);
    engine_logout(nx->e, TSE_USER_ADMIN);
    if (e)
        return e;
    json_object_del(link, "setup");
    if (json_object_set_new(link, "time_setup", json_integer((json_int_t)now_s())) ||
        rec_put(s, ENGINE_RECORD_PUT, "tsslink", old->id, nx->id, 0, link))
        e = engine_fail(TSE_ERR_STORAGE_FAILURE, "cannot record the link to the successor %s", nx->id);
    return e;
}

static int to_file(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : TSE_ERR_STORAGE_FAILURE;
}

/* A complete export of `old` into `tar`, checked by the verifier; its
 * verifier errors to *errors. */
static tse_err export_verified(srv_tss *old, const char *tar, tse_export_result *res, size_t *errors)
{
    FILE *f = fopen(tar, "wb");
    if (!f)
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "cannot write %s: %s", tar, strerror(errno));
    tse_export_filter all = {0};
    tse_err e = engine_export_data_marked(old->e, export_mark(old), &all, to_file, f, res);
    if (fclose(f) != 0 && !e)
        e = engine_fail(TSE_ERR_STORAGE_FAILURE, "cannot write the final export");
    if (e) {
        remove(tar);
        return e;
    }
    verify_result vr = {0};
    int vrc = verify_archive(tar, NULL, &vr);
    *errors = vrc ? 1 : vr.errors;
    verify_result_free(&vr);
    return TSE_OK;
}

/* One retirement at a time: the successor call's and the watchers'. */
static pthread_mutex_t retire_mu = PTHREAD_MUTEX_INITIALIZER;

/* The retirement of `old` (authorized by its admin): a complete export that
 * passes the verifier, disableSecureElement, and the complete export again
 * (with the disable log), kept as an export job. Fills `ret`, which is
 * also kept (record "retirement") for the answers after it. */
static tse_err retire(srv *s, srv_tss *old, json_t *ret)
{
    tse_info info;
    tse_err e = engine_get_info(old->e, &info);
    if (e)
        return e;
    if (info.state == TSE_STATE_DISABLED) {
        json_t *kept = NULL;
        if (rec_get(s, "retirement", old->id, &kept) == 1)
            json_object_update(ret, kept);
        json_decref(kept);
        json_object_set_new(ret, "state", json_string("DISABLED"));
        return TSE_OK;
    }
    if (info.current_open_transactions) {
        json_object_set_new(ret, "state", json_string("WAITING_FOR_OPEN_TRANSACTIONS"));
        json_object_set_new(ret, "open_transactions", json_integer(info.current_open_transactions));
        return TSE_OK;
    }
    char export_id[37], dir[1200], tar[1300], doc_path[1300];
    uuid_new(export_id);
    snprintf(dir, sizeof dir, "%s/exports", s->cfg.data_dir);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/exports/%s", s->cfg.data_dir, old->id);
    mkdir(dir, 0700);
    snprintf(tar, sizeof tar, "%s/%s.tar", dir, export_id);
    snprintf(doc_path, sizeof doc_path, "%s/%s.json", dir, export_id);
    tse_export_result res = {0};
    size_t errors = 0;
    int64_t t0 = now_s();
    if ((e = export_verified(old, tar, &res, &errors)))
        return e;
    if (!errors && ((e = engine_disable_authorized(old->e)) || (e = export_verified(old, tar, &res, &errors))))
        return e;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:{}}", "_id", export_id, "_type",
                            "EXPORT", "tss_id", old->id, "state", "COMPLETED", "time_request", (json_int_t)t0,
                            "time_start", (json_int_t)t0, "time_end", (json_int_t)now_s(), "logs",
                            (json_int_t)res.logs, "bytes", (json_int_t)res.bytes, "cursor", (json_int_t)res.cursor,
                            "parameters");
    if (!doc || json_dump_file(doc, doc_path, JSON_COMPACT) != 0) {
        json_decref(doc);
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "cannot record the final export");
    }
    json_decref(doc);
    json_object_set_new(ret, "export_id", json_string(export_id));
    json_object_set_new(ret, "logs", json_integer((json_int_t)res.logs));
    json_object_set_new(ret, "verify_errors", json_integer((json_int_t)errors));
    json_object_set_new(ret, "state", json_string(errors ? "EXPORT_FAILED_VERIFICATION" : "DISABLED"));
    if (rec_put(s, ENGINE_RECORD_PUT, "retirement", old->id, NULL, 0, ret))
        fprintf(stderr, "opentsed: TSS %s: the record of its retirement could not be kept (export %s)\n", old->id,
                export_id);
    return TSE_OK;
}

/* ---- retiring by itself once the last open transaction has finished ---- */

typedef struct watch {
    srv *s;
    char id[40];
    int64_t org_id;
    struct watch *next;
} watch;

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static watch *watching;   /* one watcher per TSS (opentsed has one srv) */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Retires TSS w->id as soon as it has no open transaction (and its
 * retirement was authorized); ends with the server or the retirement. */
static void *watch_run(void *arg)
{
    watch *w = arg;
    srv *s = w->s;
    tse_err last = TSE_OK;
    while (!atomic_load(&s->stopping)) {
        for (int i = 0; i < (last ? 25 : 1) && !atomic_load(&s->stopping); i++)
            sleep_ms(200);
        srv_tss *x = tss_find(s, w->id, w->org_id);
        tse_info info;
        if (!x)   /* signed by another node now: it is taken over here when free */
            continue;
        if (!engine_retirement_authorized(x->e))   /* retired already */
            break;
        if (engine_get_info(x->e, &info) || info.current_open_transactions)
            continue;
        json_t *ret = json_object();
        pthread_mutex_lock(&retire_mu);
        tse_err e = ret ? retire(s, x, ret) : TSE_ERR_NO_MEMORY;
        pthread_mutex_unlock(&retire_mu);
        const char *st = json_string_value(json_object_get(ret, "state"));
        if (e && e != last)
            fprintf(stderr, "opentsed: TSS %s: the retirement failed: %s (%s); tried again\n", w->id,
                    tse_errname(e), tse_last_error_message());
        else if (!e && st && strcmp(st, "WAITING_FOR_OPEN_TRANSACTIONS") != 0)
            fprintf(stderr, "opentsed: TSS %s: its last transaction has finished; the old TSS is %s (export %s)\n",
                    w->id, st, json_string_value(json_object_get(ret, "export_id")) ?: "-");
        bool over = !e && st && strcmp(st, "WAITING_FOR_OPEN_TRANSACTIONS") != 0;
        last = e;
        json_decref(ret);
        if (over)   /* DISABLED, or EXPORT_FAILED_VERIFICATION: left to the operator */
            break;
    }
    pthread_mutex_lock(&watch_mu);
    for (watch **p = &watching; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&watch_mu);
    free(w);
    return NULL;
}

/* Starts the watcher of TSS x unless it runs already. */
static void watch_start(srv *s, const srv_tss *x)
{
    pthread_mutex_lock(&watch_mu);
    watch *w = watching;
    while (w && strcmp(w->id, x->id) != 0)
        w = w->next;
    if (!w && (w = calloc(1, sizeof *w)) != NULL) {
        w->s = s;
        snprintf(w->id, sizeof w->id, "%s", x->id);
        w->org_id = x->org_id;
        pthread_t th;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0 || pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
            pthread_create(&th, &attr, watch_run, w) != 0) {
            fprintf(stderr, "opentsed: TSS %s: cannot watch for its last transaction; call .../successor again "
                            "once it has finished\n", x->id);
            free(w);
        } else {
            w->next = watching;
            watching = w;
        }
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&watch_mu);
}

void successor_watch_stop(void)
{
    for (;;) {
        pthread_mutex_lock(&watch_mu);
        bool none = watching == NULL;
        pthread_mutex_unlock(&watch_mu);
        if (none)
            return;
        sleep_ms(20);
    }
}

void successor_watch(srv *s, srv_tss *x)
{
    if (engine_retirement_authorized(x->e))
        watch_start(s, x);
}

void successor_watch_all(srv *s)
{
    pthread_mutex_lock(&s->tss_mu);
    size_t n = 0;
    for (srv_tss *x = s->tss_list; x; x = x->next)
        n++;
    srv_tss **all = calloc(n + 1, sizeof *all);
    n = 0;
    for (srv_tss *x = s->tss_list; all && x; x = x->next)
        all[n++] = x;
    pthread_mutex_unlock(&s->tss_mu);
    for (size_t i = 0; all && i < n; i++)
        successor_watch(s, all[i]);
    free(all);
}

/* POST .../successor {admin_pin, successor_id?, description?} */
void routes_successor(srv_req *q, srv_resp *r, srv_tss *old, char **seg, int nseg)
{
    (void)seg;
    srv *s = q->s;
    if (nseg != 3 || strcmp(q->method, "POST") != 0) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s (use POST .../successor)", q->method, q->path);
        return;
    }
    json_t *body = req_json(q, r);
    if (!body)
        return;
    const char *pin = json_string_value(json_object_get(body, "admin_pin"));
    json_t *idv = json_object_get(body, "successor_id"), *dv = json_object_get(body, "description");
    const char *want = json_string_value(idv), *desc = json_string_value(dv);
    char id[40], have[40], d[TSE_MAX_DESCRIPTION_LEN + 1];
    tse_info info;
    tse_err e;
    pthread_mutex_lock(&retire_mu);   /* the state read below holds until the retirement */
    int has = tss_linked(s, old->id, 1, have);
    if (!pin || (idv && !uuid_valid(want)) || (dv && (!desc || !*desc || strlen(desc) > TSE_MAX_DESCRIPTION_LEN))) {
        resp_error(r, 400, "E_BAD_REQUEST",
                   "give admin_pin (the TSS's admin PIN, also the successor's), optionally successor_id (a UUID) and "
                   "description (1 to %d characters)",
                   TSE_MAX_DESCRIPTION_LEN);
    } else if (!has && want && tss_find(s, want, old->org_id)) {
        resp_error(r, 409, "E_CONFLICT", "TSS %s exists already; a successor is a new TSS", want);
    } else if ((e = engine_get_info(old->e, &info))) {
        resp_tse_error(r, e);
    } else if (!has && info.state != TSE_STATE_INITIALIZED) {
        tse_err why = info.state == TSE_STATE_DISABLED ? TSE_ERR_SECURE_ELEMENT_DISABLED : TSE_ERR_SE_API_NOT_INITIALIZED;
        resp_error(r, 409, tse_market_code(why), "TSS %s is %s: only an initialized TSS gets a successor", old->id,
                   info.state == TSE_STATE_DISABLED ? "disabled" : "not initialized");
        resp_tse_name(r, tse_errname(why));
    } else if (info.state != TSE_STATE_DISABLED &&
               (e = engine_authenticate_user(old->e, TSE_USER_ADMIN, pin, NULL, NULL))) {
        resp_tse_error(r, e);
    } else {
        char puk[TSE_PUK_LEN + 1] = "";
        srv_tss *nx = NULL;
        json_t *link = NULL;
        if (has) {
            snprintf(id, sizeof id, "%s", have);
            nx = tss_find(s, id, old->org_id);
            e = nx ? TSE_OK : engine_fail(TSE_ERR_INTERNAL, "the successor %s is not open", id);
            if (!e && rec_get(s, "tsslink", old->id, &link) != 1)
                e = engine_fail(TSE_ERR_STORAGE_FAILURE, "cannot read the link to the successor %s", id);
        } else {
            if (want)
                snprintf(id, sizeof id, "%s", want);
            else
                uuid_new(id);
            snprintf(d, sizeof d, "%s", desc ? desc : info.description);
            /* the successor, its admin PIN and the link (set up: not yet) in one commit */
            link = json_pack("{s:s, s:I, s:b, s:s}", "successor", id, "time_creation", (json_int_t)now_s(), "setup",
                             1, "description", *d ? d : id);
            pthread_mutex_lock(&s->create_mu);
            e = link ? tss_create_linked(s, id, old, pin, link, puk, &nx) : TSE_ERR_NO_MEMORY;
            pthread_mutex_unlock(&s->create_mu);
        }
        /* a successor whose setup was cut short (store failure, crash) is
         * completed by the same call again */
        if (!e && json_is_true(json_object_get(link, "setup")))
            e = set_up(s, old, nx, pin,
                       desc ? desc : json_string_value(json_object_get(link, "description")) ?: id, link);
        json_decref(link);
        json_t *ret = json_object();
        if (!e && info.state != TSE_STATE_DISABLED)   /* kept in the TSS: a restart still retires it */
            e = engine_authorize_retirement(old->e);
        if (!e)
            e = retire(s, old, ret);
        if (!e && !strcmp(json_string_value(json_object_get(ret, "state")) ?: "", "WAITING_FOR_OPEN_TRANSACTIONS"))
            watch_start(s, old);
        if (info.state != TSE_STATE_DISABLED)
            engine_logout(old->e, TSE_USER_ADMIN);
        if (e) {
            json_decref(ret);
            resp_tse_error(r, e);
            if (*puk && r->json) {   /* made, but its setup was cut short: the PUK is shown now or never */
                json_object_set_new(r->json, "successor", json_string(id));
                json_object_set_new(r->json, "admin_puk", json_string(puk));
            }
        } else {
            json_t *j = tss_answer(s, nx);
            if (j && *puk)
                json_object_set_new(j, "admin_puk", json_string(puk));
            if (j)
                json_object_set_new(j, "retirement", ret);
            else
                json_decref(ret);
            if (j)
                fprintf(stderr, "opentsed: TSS %s: successor %s; the old TSS is %s\n", old->id, id,
                        json_string_value(json_object_get(ret, "state")));
            resp_json(r, 200, j);
        }
    }
    pthread_mutex_unlock(&retire_mu);
    if (pin)
        explicit_bzero((void *)pin, strlen(pin));
    json_decref(body);
}
