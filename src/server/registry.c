/*
 * registry.c - the TSSs opentsed serves: one TSS is one engine on its own
 * store file DATA_DIR/tss/<uuid>.db, opened at start (or creation) and kept
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

static void tss_path(srv *s, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/tss/%s.db", s->cfg.data_dir, id);
}

static const char *time_format_name(tse_time_format f)
{
    return f == TSE_TIME_UTC ? "utcTime" : f == TSE_TIME_GENERALIZED ? "generalizedTime" : "unixTime";
}

/* Opens the engine of TSS `id` and adds it to the registry (under tss_mu). */
static srv_tss *registry_open(srv *s, const char *id, int64_t org_id)
{
    char path[1200];
    tss_path(s, id, path, sizeof path);
    tse_open_options oo = {.master_key_path = s->master_key_path};
    engine *e = NULL;
    tse_err rc = engine_open(path, &oo, &e);
    if (rc) {
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

int tss_load_all(srv *s)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/tss", s->cfg.data_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db.db, "SELECT id, org_id FROM tss", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
        if (!registry_open(s, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1)))
            rc = -1;
    sqlite3_finalize(st);
    return rc;
}

void tss_close_all(srv *s)
{
    pthread_mutex_lock(&s->tss_mu);
    srv_tss *x = s->tss_list;
    s->tss_list = NULL;
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
    return x && x->org_id == org_id ? x : NULL;
}

tse_err tss_create(srv *s, const char *id, int64_t org_id, char puk[TSE_PUK_LEN + 1], srv_tss **out)
{
    char path[1200];
    tss_path(s, id, path, sizeof path);
    tse_create_options co = {.master_key_path = s->master_key_path, .trust_system_clock = 1,
                             .log_format_version = (int)s->cfg.log_format};
    int64_t validity_seconds = 0;
    if (s->cfg.cert_validity > 0 && s->cfg.cert_validity <= INT32_MAX)
        validity_seconds = s->cfg.cert_validity;
    else
        co.cert_validity_days = (uint32_t)(s->cfg.cert_validity / 86400);
    tse_err rc = engine_create_with_validity(path, &co, validity_seconds, puk);
    if (rc)
        return rc;
    char org[32], now[32];
    snprintf(org, sizeof org, "%" PRId64, org_id);
    snprintf(now, sizeof now, "%" PRId64, now_s());
    const char *args[] = {id, org, now};
    if (db_exec(&s->db, "INSERT INTO tss(id, org_id, description, deployed, time_creation) VALUES(?,?,'',0,?)", 3,
                args)) {
        remove(path);
        return TSE_ERR_STORAGE_FAILURE;
    }
    if (!(*out = registry_open(s, id, org_id)))
        return TSE_ERR_INTERNAL;
    return TSE_OK;
}

/* ---- the links between a TSS and its successor (successor.c makes them) ---- */

int successor_init(srv *s)
{
    return db_exec(&s->db,
                   "CREATE TABLE IF NOT EXISTS tss_links(predecessor TEXT PRIMARY KEY, successor TEXT UNIQUE NOT NULL,"
                   " time_creation INTEGER)",
                   0, NULL);
}

/* The linked TSS of `id` ("successor" or "predecessor"); 1 found. */
int tss_linked(srv *s, const char *id, int want_successor, char out[40])
{
    const char *args[] = {id};
    return db_text(&s->db,
                   want_successor ? "SELECT successor FROM tss_links WHERE predecessor=?"
                                  : "SELECT predecessor FROM tss_links WHERE successor=?",
                   1, args, out, 40) == 1;
}

void successor_links_json(srv *s, srv_tss *x, json_t *j)
{
    char id[40];
    json_object_set_new(j, "successor", tss_linked(s, x->id, 1, id) ? json_string(id) : json_null());
    json_object_set_new(j, "predecessor", tss_linked(s, x->id, 0, id) ? json_string(id) : json_null());
}
