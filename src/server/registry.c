/*
 * registry.c - the TSSs opentsed serves: one TSS is one engine, TSE <uuid>
 * of the deployment's database, opened at start (or creation) and kept
 * open in an in-memory registry; every lookup checks the caller's
 * organization, so another organization's TSS is not found. The links
 * between a TSS and its successor are kept here too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"

static const char *time_format_name(tse_time_format f)
{
    return f == TSE_TIME_UTC ? "utcTime" : f == TSE_TIME_GENERALIZED ? "generalizedTime" : "unixTime";
}

/* A TSS another node of the deployment signs for now (its lease): opened
 * here when that lease is free, e.g. after the other node died. */
typedef struct srv_away {
    char id[40];
    int64_t org_id;
    struct srv_away *next;
} srv_away;

/* The environment of TSS id from its record: "TEST", or "LIVE" (also for a
 * record written before TSSs had one). */
static void tss_record_env(srv *s, const char *id, char env[5])
{
    json_t *v = NULL;
    const char *e = rec_get(s, "tss", id, &v) == 1 ? json_string_value(json_object_get(v, "env")) : NULL;
    snprintf(env, 5, "%s", e && strcmp(e, "TEST") == 0 ? "TEST" : "LIVE");
    json_decref(v);
}

/* Opens the engine of TSS `id` and adds it to the registry (under tss_mu).
 * *elsewhere is set when another node holds it. */
static srv_tss *registry_open_at(srv *s, const char *id, int64_t org_id, bool *elsewhere)
{
    tse_open_options oo = {.master_key_path = s->master_key_path};
    engine *e = NULL;
    tse_err rc = engine_open_in(s->db, id, &oo, &e);
    *elsewhere = rc == TSE_ERR_STORE_IN_USE;
    if (rc) {
        if (!*elsewhere)
            fprintf(stderr, "opentsed: cannot open TSS %s: %s (%s)\n", id, tse_errname(rc), tse_last_error_message());
        return NULL;
    }
    srv_tss *x = calloc(1, sizeof *x);
    tse_info info;
    uint8_t *point = NULL;
    size_t point_len = 0;
    if (!x || engine_get_info(e, &info) != TSE_OK || engine_public_key(e, &point, &point_len) != TSE_OK ||
        !(x->pub_b64 = base64_encode_alloc(point, point_len))) {
        tse_free(point);
        free(x);
        engine_close(e);
        return NULL;
    }
    if (point_len <= sizeof x->point) {
        memcpy(x->point, point, point_len);
        x->point_len = point_len;
    }
    tse_free(point);
    snprintf(x->id, sizeof x->id, "%s", id);
    x->org_id = org_id;
    x->e = e;
    tss_record_env(s, id, x->env);
    x->curve = info.curve;
    tse_hex(info.serial_number, TSE_SERIAL_LEN, x->serial_hex);
    snprintf(x->alg, sizeof x->alg, "%s", info.signature_algorithm);
    x->tf = info.time_format;
    x->log_format = info.log_format_version;
    x->time_format = time_format_name(info.time_format);
    pthread_mutex_lock(&s->tss_mu);
    x->next = s->tss_list;
    s->tss_list = x;
    pthread_mutex_unlock(&s->tss_mu);
    return x;
}

static srv_tss *registry_open(srv *s, const char *id, int64_t org_id)
{
    bool elsewhere = false;
    return registry_open_at(s, id, org_id, &elsewhere);
}

/* Remembers a TSS another node signs for (under tss_mu). */
static int away_add(srv *s, const char *id, int64_t org_id)
{
    srv_away *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    snprintf(a->id, sizeof a->id, "%s", id);
    a->org_id = org_id;
    a->next = s->away;
    s->away = a;
    return 0;
}

int tss_load_all(srv *s)
{
    json_t *all = rec_list(s, "tss", NULL, 0, 0), *v;
    size_t i;
    int rc = all ? 0 : -1;
    int away = 0;
    json_array_foreach(all, i, v) {
        const char *id = json_string_value(json_object_get(v, "_key"));
        int64_t org = json_integer_value(json_object_get(v, "org_id"));
        bool elsewhere = false;
        if (rc || registry_open_at(s, id, org, &elsewhere))
            continue;
        pthread_mutex_lock(&s->tss_mu);
        rc = elsewhere ? away_add(s, id, org) : -1;
        pthread_mutex_unlock(&s->tss_mu);
        away += elsewhere;
    }
    json_decref(all);
    if (!rc && away)
        fprintf(stderr, "opentsed: %d TSS%s signed by other nodes now; taken over here when their lease is free\n",
                away, away == 1 ? " is" : "s are");
    return rc;
}

int tss_elsewhere(srv *s, const char *id, int64_t org_id)
{
    pthread_mutex_lock(&s->tss_mu);
    srv_away *a = s->away;
    while (a && (strcmp(a->id, id) != 0 || a->org_id != org_id))
        a = a->next;
    pthread_mutex_unlock(&s->tss_mu);
    return a != NULL;
}

/* Whether the store has a record of TSS id for org_id. */
static bool recorded(srv *s, const char *id, int64_t org_id)
{
    json_t *v = NULL;
    bool yes = rec_get(s, "tss", id, &v) == 1 && json_integer_value(json_object_get(v, "org_id")) == org_id;
    json_decref(v);
    return yes;
}

/* A TSS of another node: opened here if its lease is free now. Also a TSS
 * of this node's store that could not be opened before (the store failed
 * as it was made or opened): opened now. */
static srv_tss *take_over(srv *s, const char *id, int64_t org_id)
{
    bool away = tss_elsewhere(s, id, org_id);
    if (!away && !recorded(s, id, org_id))
        return NULL;
    pthread_mutex_lock(&s->create_mu);   /* one attempt at a time */
    srv_tss *x = tss_find_any(s, id);
    bool elsewhere = false;
    bool opened = !x && (x = registry_open_at(s, id, org_id, &elsewhere)) != NULL;
    if (opened)
        successor_watch(s, x);   /* a retirement another node was waiting for */
    if (opened && away) {
        pthread_mutex_lock(&s->tss_mu);
        for (srv_away **p = &s->away; *p; p = &(*p)->next)
            if (strcmp((*p)->id, id) == 0) {
                srv_away *gone = *p;
                *p = gone->next;
                free(gone);
                break;
            }
        pthread_mutex_unlock(&s->tss_mu);
        fprintf(stderr, "opentsed: TSS %s taken over from another node\n", id);
    }
    pthread_mutex_unlock(&s->create_mu);
    return x;
}

void tss_close_all(srv *s)
{
    pthread_mutex_lock(&s->tss_mu);
    srv_tss *x = s->tss_list;
    s->tss_list = NULL;
    while (s->away) {
        srv_away *a = s->away;
        s->away = a->next;
        free(a);
    }
    pthread_mutex_unlock(&s->tss_mu);
    while (x) {
        srv_tss *n = x->next;
        engine_close(x->e);
        free(x->pub_b64);
        free(x);
        x = n;
    }
}

srv_tss *tss_find_any(srv *s, const char *id)
{
    pthread_mutex_lock(&s->tss_mu);
    srv_tss *x = s->tss_list;
    while (x && strcmp(x->id, id) != 0)
        x = x->next;
    pthread_mutex_unlock(&s->tss_mu);
    return x;
}

srv_tss *tss_find(srv *s, const char *id, int64_t org_id)
{
    srv_tss *x = tss_find_any(s, id);
    if (!x)
        x = take_over(s, id, org_id);
    return x && x->org_id == org_id ? x : NULL;
}

srv_tss *tss_find_for(srv *s, const char *id, const srv_principal *who)
{
    srv_tss *x = tss_find(s, id, who->org_id);
    return x && strcmp(x->env, strcmp(who->env, "TEST") == 0 ? "TEST" : "LIVE") == 0 ? x : NULL;
}

tse_err tss_create(srv *s, const char *id, int64_t org_id, char puk[TSE_PUK_LEN + 1], srv_tss **out)
{
    return tss_create_env(s, id, org_id, "LIVE", puk, out);
}

tse_err tss_create_env(srv *s, const char *id, int64_t org_id, const char *env, char puk[TSE_PUK_LEN + 1],
                       srv_tss **out)
{
    return tss_create_meta(s, id, org_id, env, NULL, puk, out);
}

/* A new TSS with its record in one commit; also, for a successor, its
 * admin PIN and the link record `link` from TSS `from`. */
static tse_err create(srv *s, const char *id, int64_t org_id, const char *env, json_t *metadata, const char *pin,
                      const char *from, json_t *link, char puk[TSE_PUK_LEN + 1], srv_tss **out)
{
    tse_create_options co = {.master_key_path = s->master_key_path, .trust_system_clock = 1,
                             .log_format_version = (int)s->cfg.log_format};
    int64_t validity_seconds = 0;
    if (s->cfg.cert_validity > 0 && s->cfg.cert_validity <= INT32_MAX)
        validity_seconds = s->cfg.cert_validity;
    else
        co.cert_validity_days = (uint32_t)(s->cfg.cert_validity / 86400);
    /* the TSS record is created with the TSE, in one commit */
    char org[32];
    snprintf(org, sizeof org, "%" PRId64, org_id);
    int64_t now = now_s();
    json_t *v = json_pack("{s:I, s:s, s:i, s:I, s:s}", "org_id", (json_int_t)org_id, "description", "", "deployed",
                          0, "time_creation", (json_int_t)now, "env",
                          env && strcmp(env, "TEST") == 0 ? "TEST" : "LIVE");
    if (v && metadata)
        json_object_set(v, "metadata", metadata);
    rec_batch b = {0};
    if (!v || !rec_batch_add(&b, ENGINE_RECORD_INSERT, "tss", id, org, now, v) ||
        (from && !rec_batch_add(&b, ENGINE_RECORD_INSERT, "tsslink", from, id, 0, link))) {
        json_decref(v);
        rec_batch_free(&b);
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for the TSS record");
    }
    json_decref(v);
    rec_attach(&b);
    tse_err rc = engine_create_in(s->db, id, &co, validity_seconds, pin, puk);
    engine_records_attach(NULL, NULL);
    rec_batch_free(&b);
    if (rc)
        return rc;
    if (!(*out = registry_open(s, id, org_id)))   /* the engine's code and detail, or ours */
        return error_last()->code ? (tse_err)error_last()->code : TSE_ERR_INTERNAL;
    return TSE_OK;
}

tse_err tss_create_meta(srv *s, const char *id, int64_t org_id, const char *env, json_t *metadata,
                        char puk[TSE_PUK_LEN + 1], srv_tss **out)
{
    return create(s, id, org_id, env, metadata, NULL, NULL, NULL, puk, out);
}

tse_err tss_create_linked(srv *s, const char *id, const srv_tss *from, const char *pin, json_t *link,
                          char puk[TSE_PUK_LEN + 1], srv_tss **out)
{
    return create(s, id, from->org_id, from->env, NULL, pin, from->id, link, puk, out);
}

/* ---- the links between a TSS and its successor (successor.c makes them) ---- */

/* The linked TSS of `id` ("successor" or "predecessor"); 1 found. */
int tss_linked(srv *s, const char *id, int want_successor, char out[40])
{
    json_t *v = NULL;
    const char *other = NULL;
    if (want_successor) {
        if (rec_get(s, "tsslink", id, &v) == 1)
            other = json_string_value(json_object_get(v, "successor"));
    } else {
        json_t *l = rec_list(s, "tsslink", id, 0, 1);
        if (json_array_size(l) == 1)
            v = json_incref(json_array_get(l, 0));
        json_decref(l);
        other = json_string_value(json_object_get(v, "_key"));
    }
    if (other)
        snprintf(out, 40, "%s", other);
    json_decref(v);
    return other != NULL;
}

void successor_links_json(srv *s, srv_tss *x, json_t *j)
{
    char id[40];
    if (tss_linked(s, x->id, 1, id))   /* none: left out */
        json_object_set_new(j, "successor", json_string(id));
    if (tss_linked(s, x->id, 0, id))
        json_object_set_new(j, "predecessor", json_string(id));
}

void resp_elsewhere(srv_resp *r, const char *id)
{
    resp_error(r, 503, "E_SERVICE_UNAVAILABLE",
               "TSS %s is signed by another node of this deployment now; it is taken over here once that node's "
               "lease ends", id);
    resp_tse_name(r, tse_errname(TSE_ERR_STORE_IN_USE));
    r->retry_after = 1;
}
