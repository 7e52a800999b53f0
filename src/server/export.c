/*
 * export.c - TR-03151 export archives of a TSS over HTTP:
 *
 *   PUT /api/v2/tss/{tss_id}/export/{export_id}      starts an export job; the
 *       filters (start_date, end_date, start_transaction_number,
 *       end_transaction_number, transaction_number, client_id,
 *       maximum_number_records, start_signature_counter,
 *       end_signature_counter) in the query or the JSON body, with metadata
 *   GET /api/v2/tss/{tss_id}/export                  the TSS's jobs (export_jobs.c)
 *   GET /api/v2/tss/{tss_id}/export/{export_id}      the job: PENDING, WORKING,
 *                                                    COMPLETED, CANCELLED or ERROR
 *   DELETE /api/v2/tss/{tss_id}/export/{export_id}   cancels a PENDING or WORKING job
 *   GET /api/v2/tss/{tss_id}/export/{export_id}/file its archive, chunked
 *   GET|PATCH /api/v2/tss/{tss_id}/export/{export_id}/metadata
 *   GET /api/v2/tss/{tss_id}/incremental-export?cursor=N[&maximum_number_records=M]
 *       (OpenTSE) the next incremental archive streamed at once; its cursor
 *       in the X-Export-Cursor header
 *
 * A job runs on its own thread into its files (export_jobs.h), so jobs
 * outlive a restart. Streams come from a thread writing into a pipe that
 * libmicrohttpd sends with chunked transfer encoding; the headers go out
 * only once the export has checked its filter, so refusals are ordinary
 * JSON errors. Archives of TEST TSSs say so in info.csv.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export_jobs.h"

/* info.csv's description of a TEST TSS's archives begins with this. */
#define TEST_MARK "TEST (not for production use)"

const char *export_mark(const srv_tss *x)
{
    return strcmp(x->env, "TEST") == 0 ? TEST_MARK : NULL;
}

/* ------------------------------------------------------------ filters */

/* The last second of the year 9999: dates are seconds since 1970 up to it. */
#define EXPORT_MAX_DATE 253402300799ull

enum { F_START_DATE, F_END_DATE, F_START_TX, F_END_TX, F_TX, F_MAX, F_START_SIG, F_END_SIG, F_CLIENT, N_FILTERS };
static const char *const filter_names[N_FILTERS] = {
    "start_date", "end_date", "start_transaction_number", "end_transaction_number", "transaction_number",
    "maximum_number_records", "start_signature_counter", "end_signature_counter", "client_id"};

/* Filter `name` from the query (also after a doubled "?", as "??name=",
 * which one client sends) or the body (a string, or a whole number), into
 * out (NULL when absent). -1 with the 400 in r when it is of another type
 * or given twice with different values. */
static int filter_value(srv_req *q, srv_resp *r, json_t *body, const char *name, char *out, size_t cap,
                        const char **v)
{
    char qname[64], num[32];
    snprintf(qname, sizeof qname, "?%s", name);
    const char *qv = req_query(q, name), *also = req_query(q, qname);
    json_t *b = json_object_get(body, name);
    const char *bv = json_string_value(b);
    double d = json_real_value(b);
    if (json_is_integer(b) && json_integer_value(b) >= 0) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(b));
        bv = num;
    } else if (json_is_real(b) && d >= 0 && d < 1e15 && (d == floor(d) || strstr(name, "_date"))) {
        /* seconds as a float (1764590400.0); a fraction: the whole seconds
         * inside the range, the logs' times being whole seconds */
        snprintf(num, sizeof num, "%.0f", strcmp(name, "start_date") == 0 ? ceil(d) : floor(d));
        bv = num;
    }
    *v = NULL;
    if (b && !bv)
        resp_error(r, 400, "E_PARAMETER", "%s in the body must be a string or a whole number", name);
    else if (qv && also && strcmp(qv, also) != 0)
        resp_error(r, 400, "E_PARAMETER", "%s is given twice with different values", name);
    else if ((qv || also) && bv && strcmp(qv ? qv : also, bv) != 0)
        resp_error(r, 400, "E_PARAMETER", "%s differs between the query and the body", name);
    else {
        const char *got = qv ? qv : also ? also : bv;
        if (got)
            *v = out, snprintf(out, cap, "%s", got);
        return 0;
    }
    return -1;
}

/* The filters as an export filter and as the job's `parameters`; client_id
 * (the caller's UUID) becomes the clientId in the logs, its serial number.
 * 0, or -1 with r filled. */
static int parse_filter(srv_req *q, srv_resp *r, srv_tss *x, json_t *body, tse_export_filter *f,
                        char serial[TSE_MAX_CLIENT_ID_LEN + 1], json_t *params)
{
    memset(f, 0, sizeof *f);
    uint64_t *dst[] = {NULL, NULL, &f->start_transaction_number, &f->end_transaction_number, &f->transaction_number,
                       &f->maximum_number_records, &f->start_signature_counter, &f->end_signature_counter};
    int64_t *ddst[] = {&f->start_date, &f->end_date};
    for (int i = 0; i < N_FILTERS; i++) {
        char buf[300];
        const char *v;
        uint64_t n;
        if (filter_value(q, r, body, filter_names[i], buf, sizeof buf, &v))
            return -1;
        if (!v)
            continue;
        json_object_set_new(params, filter_names[i], json_string(v));
        if (i == F_START_DATE || i == F_END_DATE) {
            if (req_u64(r, "E_PARAMETER", filter_names[i], v, 1, EXPORT_MAX_DATE, &n))
                return -1;
            *ddst[i] = (int64_t)n;
        } else if (i != F_CLIENT) {
            if (req_u64(r, "E_PARAMETER", filter_names[i], v, 0, INT64_MAX, dst[i]))
                return -1;
        } else {
            char state[16];
            if (!uuid_valid(v) || client_lookup(q->s, x->id, v, serial, state) != 0) {
                resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", v, x->id);
                return -1;
            }
            f->client_id = serial;
        }
    }
    return 0;
}

/* The request body of PUT: none, {}, [] or an object with filters and
 * metadata. NULL with the 400 in r otherwise; *out gets a new object. */
static json_t *put_body(srv_req *q, srv_resp *r)
{
    json_error_t e;
    json_t *j = q->body_len ? json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, &e) : json_object();
    if (!j)
        resp_error(r, 400, "E_BAD_REQUEST", "malformed JSON body: %s", e.text);
    else if (json_is_array(j) && json_array_size(j) == 0) {
        json_decref(j);
        j = json_object();
    } else if (!json_is_object(j)) {
        json_decref(j);
        j = NULL;
        resp_error(r, 400, "E_BAD_REQUEST", "the body must be a JSON object");
    }
    return j;
}

/* ------------------------------------------------------------ jobs */

typedef struct job {
    srv *s;
    srv_tss *x;
    tse_export_filter f;
    char serial[TSE_MAX_CLIENT_ID_LEN + 1];
    char id[64];
    char cancel[1310];    /* the marker a DELETE leaves */
    int lock_fd;          /* <id>.lock, held while the job runs */
    int cancelled;
    FILE *out;
} job;

/* The job's raw document; the caller holds its id_lock. */
static json_t *job_load(srv *s, const char *tss_id, const char *id)
{
    char path[1300];
    return export_job_path(s, tss_id, id, "json", path, sizeof path) ? NULL : json_load_file(path, 0, NULL);
}

static int to_file(void *ctx, const uint8_t *data, size_t len)
{
    job *j = ctx;
    if (access(j->cancel, F_OK) == 0) {   /* a DELETE asked us to stop */
        j->cancelled = 1;
        return TSE_ERR_UNREACHABLE;
    }
    return fwrite(data, 1, len, j->out) == len ? 0 : TSE_ERR_STORAGE_FAILURE;
}

/* The job becomes WORKING unless it was cancelled before it started;
 * returns that it was not. */
static int job_start(job *j)
{
    pthread_mutex_t *mu = id_lock(j->s, j->x->id, j->id);
    pthread_mutex_lock(mu);
    json_t *doc = job_load(j->s, j->x->id, j->id);
    int go = doc && access(j->cancel, F_OK) != 0;
    if (go) {
        json_object_set_new(doc, "state", json_string("WORKING"));
        json_object_set_new(doc, "time_start", json_integer(now_s()));
        if (export_job_save(j->s, j->x->id, j->id, doc) != 0)   /* GET goes on showing PENDING */
            fprintf(stderr, "opentsed: export %s: cannot save the job's state WORKING\n", j->id);
    }
    json_decref(doc);
    pthread_mutex_unlock(mu);
    j->cancelled = !go;
    return go;
}

/* The job's end: its archive in place (COMPLETED), or gone (CANCELLED, ERROR). */
static void job_end(job *j, tse_err rc, const char *msg, const tse_export_result *res)
{
    char tar[1300], part[1310];
    int named = export_job_path(j->s, j->x->id, j->id, "tar", tar, sizeof tar);
    snprintf(part, sizeof part, "%s.part", tar);
    pthread_mutex_t *mu = id_lock(j->s, j->x->id, j->id);
    pthread_mutex_lock(mu);
    json_t *doc = job_load(j->s, j->x->id, j->id);
    if (!doc)
        doc = json_object();
    int64_t now = now_s();
    /* a complete archive counts as exported data: it is kept, however late a
     * cancellation came */
    if (rc == TSE_OK && (named != 0 || rename(part, tar) != 0))
        rc = TSE_ERR_STORAGE_FAILURE, msg = "cannot move the archive into place";
    if (rc == TSE_OK) {
        char href[200];
        snprintf(href, sizeof href, "/api/v2/tss/%s/export/%s/file", j->x->id, j->id);
        json_object_set_new(doc, "state", json_string("COMPLETED"));
        json_object_set_new(doc, "logs", json_integer((json_int_t)res->logs));
        json_object_set_new(doc, "bytes", json_integer((json_int_t)res->bytes));
        json_object_set_new(doc, "cursor", json_integer((json_int_t)res->cursor));
        json_object_set_new(doc, "href", json_string(href));
        json_object_set_new(doc, "estimated_time_of_completion", json_integer(now));
    } else if (j->cancelled) {
        json_object_set_new(doc, "state", json_string("CANCELLED"));
    } else {
        char text[700];
        snprintf(text, sizeof text, "%s: %s", tse_errname(rc), msg && msg[0] ? msg : tse_strerror(rc));
        json_object_set_new(doc, "state", json_string("ERROR"));
        json_object_set_new(doc, "exception", json_string(text));
        json_object_set_new(doc, "tse_error", json_string(tse_errname(rc)));
        json_object_set_new(doc, "time_error", json_integer(now));
    }
    if (rc != TSE_OK)
        unlink(part);
    json_object_set_new(doc, "time_end", json_integer(now));
    if (export_job_save(j->s, j->x->id, j->id, doc) != 0)
        fprintf(stderr, "opentsed: export %s: cannot save the job's final state (%s)\n", j->id,
                json_string_value(json_object_get(doc, "state")));
    json_decref(doc);
    pthread_mutex_unlock(mu);
}

static void job_free(job *j)
{
    char lock[1300];
    if (export_job_path(j->s, j->x->id, j->id, "lock", lock, sizeof lock) == 0)
        unlink(lock);
    unlink(j->cancel);
    close(j->lock_fd);   /* the job no longer runs */
    free(j);
}

static void *job_run(void *p)
{
    job *j = p;
    tse_export_result res = {0};
    tse_err rc = TSE_OK;
    const char *msg = "";
    if (job_start(j)) {
        char part[1310];
        export_job_path(j->s, j->x->id, j->id, "tar.part", part, sizeof part);
        j->out = fopen(part, "wb");
        rc = j->out ? engine_export_data_marked(j->x->e, export_mark(j->x), &j->f, to_file, j, &res)
                    : TSE_ERR_STORAGE_FAILURE;
        msg = j->out ? tse_last_error_message() : "cannot create the archive file";
        if (j->out && fclose(j->out) != 0 && rc == TSE_OK)
            rc = TSE_ERR_STORAGE_FAILURE, msg = "cannot write the archive file";
    }
    job_end(j, j->cancelled ? TSE_ERR_UNREACHABLE : rc, msg, &res);
    atomic_fetch_sub(&j->s->in_flight, 1);
    job_free(j);
    return NULL;
}

/* The job record's first form; NULL when out of memory. */
static json_t *job_doc(srv_tss *x, const char *id, json_t *params, json_t *metadata)
{
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "_id", id, "_type", "EXPORT", "tss_id", x->id,
                            "state", "PENDING", "time_request", (json_int_t)now_s(), "parameters", params);
    if (doc && metadata)
        json_object_set(doc, "metadata", metadata);
    return doc;
}

static void put_job(srv_req *q, srv_resp *r, srv_tss *x, const char *id)
{
    json_t *old = export_job_read(q->s, x->id, id);
    if (old) {   /* the same id again: the job as it stands */
        resp_json(r, 200, export_job_answer(x, old));
        return;
    }
    json_t *body = put_body(q, r), *params = json_object(), *metadata = NULL;
    job *j = body && params ? calloc(1, sizeof *j) : NULL;
    if (!j) {
        if (body && params)
            resp_error(r, 500, "E_INTERNAL", "no memory");
        json_decref(body);
        json_decref(params);
        return;
    }
    j->lock_fd = -1;
    tse_err bad = TSE_OK;
    if (parse_filter(q, r, x, body, &j->f, j->serial, params) != 0 || req_metadata(r, body, &metadata) != 0 ||
        (bad = engine_export_check(x->e, &j->f)) != TSE_OK) {
        if (bad)   /* the filter's TR-03151 checks: no job, as for a malformed one */
            resp_tse_error(r, bad);
        json_decref(body);
        json_decref(params);
        json_decref(metadata);
        free(j);
        return;
    }
    j->s = q->s;
    j->x = x;
    snprintf(j->id, sizeof j->id, "%s", id);
    export_job_path(q->s, x->id, id, "cancel", j->cancel, sizeof j->cancel);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/exports", q->s->cfg.data_dir);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/exports/%s", q->s->cfg.data_dir, x->id);
    mkdir(dir, 0700);
    unlink(j->cancel);   /* a marker a crash left */
    json_t *doc = job_doc(x, id, params, metadata);
    json_decref(metadata);
    json_decref(body);
    errno = 0;
    j->lock_fd = doc ? export_job_lock(q->s, x->id, id) : -1;
    int saved = j->lock_fd >= 0 ? export_job_save(q->s, x->id, id, doc) : -1, err = errno;
    if (saved != 0) {   /* a full or read-only disk: the store's failure, not ours */
        json_decref(doc);
        char lock[1300];
        if (j->lock_fd >= 0 && export_job_path(q->s, x->id, id, "lock", lock, sizeof lock) == 0)
            unlink(lock);
        if (j->lock_fd >= 0)
            close(j->lock_fd);
        free(j);
        if (err) {
            resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot record the export job: %s", strerror(err));
            resp_tse_name(r, "STORAGE_FAILURE");
        } else
            resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    pthread_t th;
    pthread_attr_t attr;
    int ok = pthread_attr_init(&attr) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        atomic_fetch_add(&q->s->in_flight, 1);   /* shutdown waits for the job */
        if (pthread_create(&th, &attr, job_run, j) != 0) {
            atomic_fetch_sub(&q->s->in_flight, 1);
            ok = 0;
        }
        pthread_attr_destroy(&attr);
    }
    if (!ok) {   /* no thread: the job ends at once */
        json_decref(doc);
        job_end(j, TSE_ERR_INTERNAL, "cannot start the export thread", NULL);
        job_free(j);
        resp_error(r, 500, "E_INTERNAL", "cannot start the export: %s", strerror(errno));
        return;
    }
    resp_json(r, 200, export_job_answer(x, doc));
}

/* ------------------------------------------------------------ one job */

static int is_state(json_t *doc, const char *state)
{
    const char *s = json_string_value(json_object_get(doc, "state"));
    return s && strcmp(s, state) == 0;
}

#define CANCEL_WAIT_MS 30000

/* DELETE: a PENDING or WORKING job stops and becomes CANCELLED; the answer
 * waits for its thread to have stopped (or to have finished first). */
static void cancel_job(srv_req *q, srv_resp *r, srv_tss *x, const char *id)
{
    json_t *doc = export_job_read(q->s, x->id, id);
    if (doc && (is_state(doc, "PENDING") || is_state(doc, "WORKING"))) {
        char marker[1300];
        int fd = export_job_path(q->s, x->id, id, "cancel", marker, sizeof marker) == 0
                     ? open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)
                     : -1;
        if (fd < 0) {
            json_decref(doc);
            resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot cancel export %s: %s", id, strerror(errno));
            resp_tse_name(r, "STORAGE_FAILURE");
            return;
        }
        close(fd);
        for (int waited = 0; doc && (is_state(doc, "PENDING") || is_state(doc, "WORKING")); waited += 10) {
            json_decref(doc);
            if (waited >= CANCEL_WAIT_MS) {
                resp_error(r, 503, "E_EXPORT_CANCELLING",
                           "export %s is being cancelled; GET it to see when it has stopped", id);
                return;
            }
            usleep(10000);
            doc = export_job_read(q->s, x->id, id);
        }
    }
    if (!doc)
        resp_error(r, 404, "E_EXPORT_NOT_FOUND", "no export %s of TSS %s", id, x->id);
    else if (is_state(doc, "CANCELLED"))
        resp_json(r, 200, export_job_answer(x, json_incref(doc)));
    else
        resp_error(r, 409, "E_EXPORT_NOT_CANCELLABLE", "export %s is %s: only a PENDING or WORKING export can be cancelled",
                   id, json_string_value(json_object_get(doc, "state")));
    json_decref(doc);
}

static ssize_t read_file(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    size_t n = fread(buf, 1, max, cls);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void close_file(void *cls)
{
    fclose(cls);
}

static void tar_headers(struct MHD_Response *resp, const char *name)
{
    char disp[200];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.tar\"", name);
    MHD_add_response_header(resp, "Content-Type", "application/x-tar");
    MHD_add_response_header(resp, "Content-Disposition", disp);
}

static void get_file(srv_req *q, srv_resp *r, srv_tss *x, const char *id)
{
    json_t *doc = export_job_read(q->s, x->id, id);
    const char *state = doc ? json_string_value(json_object_get(doc, "state")) : NULL;
    char path[1300];
    FILE *f = NULL;
    if (!doc)
        resp_error(r, 404, "E_EXPORT_NOT_FOUND", "no export %s of TSS %s", id, x->id);
    else if (is_state(doc, "CANCELLED"))
        resp_error(r, 409, "E_EXPORT_CANCELLED", "export %s was cancelled: it has no archive", id);
    else if (is_state(doc, "ERROR"))
        resp_error(r, 409, "E_EXPORT_FAILED", "export %s failed: %s", id,
                   json_string_value(json_object_get(export_job_answer(x, doc), "exception")));
    else if (!state || strcmp(state, "COMPLETED") != 0)
        resp_error(r, 409, "E_EXPORT_NOT_READY", "export %s is %s", id, state ? state : "unknown");
    else if (export_job_path(q->s, x->id, id, "tar", path, sizeof path) != 0 || !(f = fopen(path, "rb")))
        resp_error(r, 500, "E_INTERNAL", "the archive of export %s cannot be read", id);
    json_decref(doc);
    if (!f)
        return;
    r->stream = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1 << 16, read_file, f, close_file);
    if (!r->stream) {
        fclose(f);
        resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    tar_headers(r->stream, id);
    r->status = 200;
}

/* GET .../metadata: the job's metadata object; PATCH sets the keys given
 * (the object itself or {"metadata": {...}}; a key with null is removed). */
static void job_metadata(srv_req *q, srv_resp *r, srv_tss *x, const char *id, int patch)
{
    json_t *body = NULL, *next = NULL;
    if (patch && !(body = req_json(q, r)))
        return;
    pthread_mutex_t *mu = id_lock(q->s, x->id, id);
    pthread_mutex_lock(mu);
    json_t *doc = job_load(q->s, x->id, id);
    json_t *md = doc ? json_object_get(doc, "metadata") : NULL;
    if (!doc)
        resp_error(r, 404, "E_EXPORT_NOT_FOUND", "no export %s of TSS %s", id, x->id);
    else if (!patch)
        resp_json(r, 200, json_is_object(md) ? json_incref(md) : json_object());
    else if (req_metadata_patch(r, req_metadata_body(body), md, &next) != 0)
        ;   /* the 400 naming the field is in r */
    else if (json_object_set(doc, "metadata", next) || export_job_save(q->s, x->id, id, doc) != 0) {
        resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "cannot record the metadata of export %s: %s", id, strerror(errno));
        resp_tse_name(r, "STORAGE_FAILURE");
    } else
        resp_json(r, 200, json_incref(next));
    json_decref(next);
    json_decref(doc);
    pthread_mutex_unlock(mu);
    json_decref(body);
}

/* ------------------------------------------------------------ streams */

typedef struct stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, done, refs;
    uint64_t cursor;      /* the archive's cursor, known at the first chunk */
    tse_err rc;
    char msg[512];
    int fd;               /* write end of the pipe */
    engine *e;
    const char *mark;     /* info.csv's mark (TEST) or NULL */
    tse_export_filter f;
    tse_export_result res;
    srv *s;
} stream;

static void stream_unref(stream *st)
{
    pthread_mutex_lock(&st->mu);
    int last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (last) {
        pthread_mutex_destroy(&st->mu);
        pthread_cond_destroy(&st->cv);
        free(st);
    }
}

static int to_pipe(void *ctx, const uint8_t *data, size_t len)
{
    stream *st = ctx;
    pthread_mutex_lock(&st->mu);
    if (!st->started) {   /* the filter passed: the headers may go out */
        st->started = 1;
        st->cursor = st->res.cursor;
        pthread_cond_signal(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
    while (len) {
        ssize_t n = write(st->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)   /* the receiver went away */
            return TSE_ERR_UNREACHABLE;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *stream_run(void *p)
{
    stream *st = p;
    tse_err rc = engine_export_data_marked(st->e, st->mark, &st->f, to_pipe, st, &st->res);
    close(st->fd);   /* the end of the chunked body */
    pthread_mutex_lock(&st->mu);
    st->done = 1;
    st->rc = rc;
    snprintf(st->msg, sizeof st->msg, "%s", tse_last_error_detail());
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    atomic_fetch_sub(&st->s->in_flight, 1);
    stream_unref(st);
    return NULL;
}

static void get_incremental(srv_req *q, srv_resp *r, srv_tss *x)
{
    const char *v = req_query(q, "cursor"), *m = req_query(q, "maximum_number_records");
    uint64_t cursor = 0, max = 0;
    if ((v && req_u64(r, "E_PARAMETER", "cursor", v, 0, INT64_MAX, &cursor)) ||
        (m && req_u64(r, "E_PARAMETER", "maximum_number_records", m, 0, INT64_MAX, &max)))
        return;
    int fds[2];
    stream *st = calloc(1, sizeof *st);
    if (!st || pipe2(fds, O_CLOEXEC) != 0) {
        free(st);
        resp_error(r, 500, "E_INTERNAL", "cannot start the export: %s", strerror(errno));
        return;
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->refs = 2;
    st->fd = fds[1];
    st->e = x->e;
    st->mark = export_mark(x);
    st->s = q->s;
    st->f.cursor = cursor;
    st->f.maximum_number_records = max;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&q->s->in_flight, 1);
    int started = pthread_create(&th, &attr, stream_run, st) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        atomic_fetch_sub(&q->s->in_flight, 1);
        close(fds[0]);
        close(fds[1]);
        st->refs = 1;
        stream_unref(st);
        resp_error(r, 500, "E_INTERNAL", "cannot start the export thread");
        return;
    }
    pthread_mutex_lock(&st->mu);
    while (!st->started && !st->done)
        pthread_cond_wait(&st->cv, &st->mu);
    int ok = st->started;
    tse_err rc = st->rc;
    uint64_t next = st->cursor;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", st->msg);
    pthread_mutex_unlock(&st->mu);
    if (!ok) {
        close(fds[0]);
        stream_unref(st);
        engine_fail(rc, "%s", msg);   /* this thread's detail for the error */
        resp_tse_error(r, rc);
        return;
    }
    stream_unref(st);
    r->stream = MHD_create_response_from_pipe(fds[0]);
    if (!r->stream) {
        close(fds[0]);   /* the writer sees EPIPE and stops */
        resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    char name[64], hdr[32];
    snprintf(name, sizeof name, "%s-%llu", x->id, (unsigned long long)next);
    snprintf(hdr, sizeof hdr, "%llu", (unsigned long long)next);
    tar_headers(r->stream, name);
    MHD_add_response_header(r->stream, "X-Export-Cursor", hdr);
    r->status = 200;
}

/* ------------------------------------------------------------ routes */

void routes_export(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    int get = strcmp(q->method, "GET") == 0, put = strcmp(q->method, "PUT") == 0,
        del = strcmp(q->method, "DELETE") == 0, patch = strcmp(q->method, "PATCH") == 0;
    if (strcmp(seg[2], "incremental-export") == 0) {
        if (nseg == 3 && get) {
            q->route = "export_stream";
            get_incremental(q, r, x);
        } else
            resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
    } else if (nseg == 3 && get && req_query(q, "cursor")) {   /* a caller of the stream's old path */
        resp_error(r, 400, "E_BAD_REQUEST", "cursor: the incremental export is GET %s/incremental-export?cursor=N; "
                   "GET .../export lists the export jobs", q->path);
    } else if (nseg == 3 && get) {
        export_list_tss(q, r, x);
    } else if (nseg >= 4 && !uuid_valid(seg[3])) {
        resp_error(r, 400, "E_ID", "export_id must be a UUID");
    } else if (nseg == 4 && put) {
        put_job(q, r, x, seg[3]);
    } else if (nseg == 4 && get) {
        json_t *doc = export_job_read(q->s, x->id, seg[3]);
        if (doc)
            resp_json(r, 200, export_job_answer(x, doc));
        else
            resp_error(r, 404, "E_EXPORT_NOT_FOUND", "no export %s of TSS %s", seg[3], x->id);
    } else if (nseg == 4 && del) {
        cancel_job(q, r, x, seg[3]);
    } else if (nseg == 5 && get && strcmp(seg[4], "file") == 0) {
        q->route = "export_file";
        get_file(q, r, x, seg[3]);
    } else if (nseg == 5 && (get || patch) && strcmp(seg[4], "metadata") == 0) {
        job_metadata(q, r, x, seg[3], patch);
    } else {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
    }
}
