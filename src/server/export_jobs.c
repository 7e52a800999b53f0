/*
 * export_jobs.c - export jobs on disk (export_jobs.h says which files make
 * one), their answers as the market API shapes them, and the lists:
 *
 *   GET /api/v2/tss/{tss_id}/export?states[]=&limit=&offset=   one TSS's jobs
 *   GET /api/v2/export?states[]=&limit=&offset=                 every TSS's of
 *                                                               the organization
 *
 * Jobs are listed oldest request first (then by id), so that paging with
 * offset is stable while new jobs are added. The organization's list holds
 * the TSSs of the API key's environment (TEST or LIVE).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "export_jobs.h"

int export_job_path(srv *s, const char *tss_id, const char *id, const char *ext, char *out, size_t cap)
{
    return snprintf(out, cap, "%s/exports/%s/%s.%s", s->cfg.data_dir, tss_id, id, ext) < (int)cap ? 0 : -1;
}

int export_job_save(srv *s, const char *tss_id, const char *id, json_t *doc)
{
    char path[1300], tmp[1310];
    if (export_job_path(s, tss_id, id, "json", path, sizeof path) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file(doc, tmp, JSON_COMPACT) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return rename(tmp, path);
}

int export_job_lock(srv *s, const char *tss_id, const char *id)
{
    char path[1300];
    if (export_job_path(s, tss_id, id, "lock", path, sizeof path) != 0)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Whether a thread of this process, or of a live one, runs the job. */
static int job_running(srv *s, const char *tss_id, const char *id)
{
    char path[1300];
    if (export_job_path(s, tss_id, id, "lock", path, sizeof path) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

json_t *export_job_read(srv *s, const char *tss_id, const char *id)
{
    char path[1300];
    if (export_job_path(s, tss_id, id, "json", path, sizeof path) != 0)
        return NULL;
    pthread_mutex_t *mu = id_lock(s, tss_id, id);
    pthread_mutex_lock(mu);
    json_t *doc = json_load_file(path, 0, NULL);
    const char *state = json_string_value(json_object_get(doc, "state"));
    if (state && (!strcmp(state, "PENDING") || !strcmp(state, "WORKING")) && !job_running(s, tss_id, id)) {
        json_object_set_new(doc, "state", json_string("ERROR"));
        json_object_set_new(doc, "exception",
                            json_string("INTERRUPTED: the server stopped while the export ran; start it again"));
        json_object_set_new(doc, "time_error", json_integer(now_s()));
        char part[1310];
        if (export_job_path(s, tss_id, id, "tar.part", part, sizeof part) == 0)
            unlink(part);
        if (export_job_save(s, tss_id, id, doc) != 0)
            fprintf(stderr, "opentsed: export %s: cannot save the state of an interrupted job\n", id);
    }
    pthread_mutex_unlock(mu);
    return doc;
}

/* ------------------------------------------------------------ answers */

json_t *export_job_answer(srv_tss *x, json_t *doc)
{
    if (!doc)
        return NULL;
    /* Documents written before `exception` became the market's string. */
    json_t *e = json_object_get(doc, "exception");
    if (json_is_object(e)) {
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        char text[700];
        snprintf(text, sizeof text, "%s: %s", code ? code : "ERROR", msg ? msg : "the export failed");
        if (code)
            json_object_set_new(doc, "tse_error", json_string(code));
        json_object_set_new(doc, "exception", json_string(text));
    }
    if (!json_is_object(json_object_get(doc, "metadata")))
        json_object_set_new(doc, "metadata", json_object());
    res_envelope(doc, "EXPORT", NULL, x);
    return doc;
}

/* ------------------------------------------------------------ lists */

static const char *const job_states[] = {"PENDING", "WORKING", "COMPLETED", "CANCELLED", "EXPIRED", "DELETED",
                                         "ERROR", NULL};

static int wanted(json_t *doc, const char **states, int n)
{
    const char *state = json_string_value(json_object_get(doc, "state"));
    for (int i = 0; state && i < n; i++)
        if (strcmp(state, states[i]) == 0)
            return 1;
    return n == 0;
}

/* Appends TSS x's jobs in `states` (none: all) to list. -1 on a read error. */
static int collect(srv *s, srv_tss *x, const char **states, int n, json_t *list)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/exports/%s", s->cfg.data_dir, x->id);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char id[64];
        size_t len = strlen(e->d_name);
        if (len != 36 + 5 || strcmp(e->d_name + 36, ".json") != 0)
            continue;
        memcpy(id, e->d_name, 36);
        id[36] = 0;
        if (!uuid_valid(id))
            continue;
        json_t *doc = export_job_read(s, x->id, id);
        if (doc && wanted(doc, states, n))
            json_array_append_new(list, export_job_answer(x, doc));
        else
            json_decref(doc);
    }
    closedir(d);
    return 0;
}

static int by_request(const void *a, const void *b)
{
    json_t *ja = *(json_t *const *)a, *jb = *(json_t *const *)b;
    json_int_t ta = json_integer_value(json_object_get(ja, "time_request")),
               tb = json_integer_value(json_object_get(jb, "time_request"));
    if (ta != tb)
        return ta < tb ? -1 : 1;
    const char *ia = json_string_value(json_object_get(ja, "_id")), *ib = json_string_value(json_object_get(jb, "_id"));
    return strcmp(ia ? ia : "", ib ? ib : "");
}

/* Sorts `all` (taken) and answers the page of it as an EXPORT_LIST of
 * environment env. */
static void answer_page(srv_resp *r, json_t *all, long offset, long limit, const char *env)
{
    size_t n = json_array_size(all);
    json_t **v = n ? malloc(n * sizeof *v) : NULL;
    json_t *data = json_array();
    if ((n && !v) || !data) {
        free(v);
        json_decref(all);
        json_decref(data);
        resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(all, i);
    if (n)
        qsort(v, n, sizeof *v, by_request);
    for (size_t i = (size_t)offset; i < n && (long)(i - (size_t)offset) < limit; i++)
        json_array_append(data, v[i]);
    free(v);
    json_decref(all);
    json_t *j = json_pack("{s:o, s:i}", "data", data, "count", (int)json_array_size(data));
    res_envelope_env(j, "EXPORT_LIST", NULL, env);
    resp_json(r, 200, j);
}

/* The page and states of a list request; -1 with the 400 in r. */
static int list_params(srv_req *q, srv_resp *r, long *limit, long *offset, const char **states, int *n)
{
    return req_page(q, r, limit, offset) || (*n = req_states(q, r, job_states, states, 8)) < 0 ? -1 : 0;
}

void export_list_tss(srv_req *q, srv_resp *r, srv_tss *x)
{
    long limit, offset;
    const char *states[8];
    int n;
    if (list_params(q, r, &limit, &offset, states, &n))
        return;
    json_t *all = json_array();
    if (!all || collect(q->s, x, states, n, all) != 0) {
        json_decref(all);
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot list the exports of TSS %s", x->id);
        resp_tse_name(r, "STORAGE_FAILURE");
        return;
    }
    answer_page(r, all, offset, limit, x->env);
}

void routes_export_list(srv_req *q, srv_resp *r, char **seg, int nseg)
{
    (void)seg;
    if (nseg != 1 || strcmp(q->method, "GET") != 0) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
        return;
    }
    if (q->who.operator_role) {
        resp_error(r, 403, "E_FORBIDDEN", "the operator key manages organizations, not TSSs");
        return;
    }
    long limit, offset;
    const char *states[8];
    int n;
    if (list_params(q, r, &limit, &offset, states, &n))
        return;
    char org[24];
    snprintf(org, sizeof org, "%" PRId64, q->who.org_id);
    const char *env = strcmp(q->who.env, "TEST") == 0 ? "TEST" : "LIVE";
    json_t *recs = rec_list(q->s, "tss", org, 0, 0), *all = json_array(), *v;
    size_t i;
    int failed = !recs || !all;
    json_array_foreach(recs, i, v) {
        srv_tss *x = failed ? NULL : tss_find(q->s, json_string_value(json_object_get(v, "_key")), q->who.org_id);
        if (x && strcmp(x->env, env) == 0)   /* the key's environment only */
            failed |= collect(q->s, x, states, n, all) != 0;
    }
    json_decref(recs);
    if (failed) {
        json_decref(all);
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot list the exports");
        resp_tse_name(r, "STORAGE_FAILURE");
        return;
    }
    answer_page(r, all, offset, limit, env);
}
