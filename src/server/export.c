/*
 * export.c - TR-03151 export archives of a TSS over HTTP:
 *
 *   PUT /api/v2/tss/{tss_id}/export/{export_id}?start_date=&end_date=
 *       &start_transaction_number=&end_transaction_number=&transaction_number=
 *       &client_id=&maximum_number_records=      starts an export job
 *   GET /api/v2/tss/{tss_id}/export/{export_id}       the job: PENDING, WORKING,
 *                                                     COMPLETED or ERROR
 *   GET /api/v2/tss/{tss_id}/export/{export_id}/file  its archive, chunked
 *   GET /api/v2/tss/{tss_id}/export?cursor=N[&maximum_number_records=M]  the next incremental
 *       archive streamed at once; its cursor in the X-Export-Cursor header
 *
 * A job runs on its own thread into DATA_DIR/exports/<tss_id>/<export_id>.tar
 * and keeps its state beside it in <export_id>.json (written whole and
 * renamed), so jobs outlive a restart. Streams come from a thread writing
 * into a pipe that libmicrohttpd sends with chunked transfer encoding; the
 * headers go out only once the export has checked its filter, so refusals
 * are ordinary JSON errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

/* ------------------------------------------------------------ filters */

/* The last second of the year 9999: dates are seconds since 1970 up to it. */
#define EXPORT_MAX_DATE 253402300799ull

static const char *const number_params[] = {"start_transaction_number", "end_transaction_number",
                                            "transaction_number", "maximum_number_records"};

/* The query parameters as a filter; client_id (the caller's UUID) becomes
 * the clientId in the logs, its serial number. 0, or -1 with r filled. */
static int parse_filter(srv_req *q, srv_resp *r, srv_tss *x, tse_export_filter *f, char serial[TSE_MAX_CLIENT_ID_LEN + 1])
{
    memset(f, 0, sizeof *f);
    uint64_t *dst[] = {&f->start_transaction_number, &f->end_transaction_number, &f->transaction_number,
                       &f->maximum_number_records};
    for (size_t i = 0; i < 4; i++) {
        const char *v = req_query(q, number_params[i]);
        if (v && req_u64(r, "E_PARAMETER", number_params[i], v, 0, INT64_MAX, dst[i]))
            return -1;
    }
    const char *dates[] = {"start_date", "end_date"};
    int64_t *ddst[] = {&f->start_date, &f->end_date};
    for (size_t i = 0; i < 2; i++) {
        const char *v = req_query(q, dates[i]);
        uint64_t n;
        if (!v)
            continue;
        if (req_u64(r, "E_PARAMETER", dates[i], v, 1, EXPORT_MAX_DATE, &n))
            return -1;
        *ddst[i] = (int64_t)n;
    }
    const char *client = req_query(q, "client_id");
    if (client) {
        char state[16];
        if (client_lookup(q->s, x->id, client, serial, state) != 0) {
            resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", client, x->id);
            return -1;
        }
        f->client_id = serial;
    }
    return 0;
}

/* ------------------------------------------------------------ jobs */

typedef struct job {
    srv *s;
    srv_tss *x;
    tse_export_filter f;
    char serial[TSE_MAX_CLIENT_ID_LEN + 1];
    char id[64];
    json_t *doc;          /* the job as GET shows it */
} job;

static int job_path(srv *s, const char *tss_id, const char *id, const char *ext, char *out, size_t cap)
{
    return snprintf(out, cap, "%s/exports/%s/%s.%s", s->cfg.data_dir, tss_id, id, ext) < (int)cap ? 0 : -1;
}

/* Writes the job document whole, then renames it into place. */
static int job_save(srv *s, const char *tss_id, const char *id, json_t *doc)
{
    char path[1300], tmp[1310];
    if (job_path(s, tss_id, id, "json", path, sizeof path) != 0)
        return -1;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file(doc, tmp, JSON_COMPACT) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return rename(tmp, path);
}

static json_t *job_load(srv *s, const char *tss_id, const char *id)
{
    char path[1300];
    if (job_path(s, tss_id, id, "json", path, sizeof path) != 0)
        return NULL;
    return json_load_file(path, 0, NULL);
}

static int to_file(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : TSE_ERR_STORAGE_FAILURE;
}

static void *job_run(void *p)
{
    job *j = p;
    char tar[1300], part[1310];
    int named = job_path(j->s, j->x->id, j->id, "tar", tar, sizeof tar);
    snprintf(part, sizeof part, "%s.part", tar);
    json_object_set_new(j->doc, "state", json_string("WORKING"));
    json_object_set_new(j->doc, "time_start", json_integer(now_s()));
    if (job_save(j->s, j->x->id, j->id, j->doc) != 0)   /* GET goes on showing PENDING */
        fprintf(stderr, "opentsed: export %s: cannot save the job's state WORKING\n", j->id);

    tse_export_result res = {0};
    FILE *f = named == 0 ? fopen(part, "wb") : NULL;
    tse_err rc = f ? engine_export_data(j->x->e, &j->f, to_file, f, &res) : TSE_ERR_STORAGE_FAILURE;
    const char *msg = f ? tse_last_error_message() : "cannot create the archive file";
    if (f && fclose(f) != 0 && rc == TSE_OK)
        rc = TSE_ERR_STORAGE_FAILURE;
    if (rc == TSE_OK && rename(part, tar) != 0)
        rc = TSE_ERR_STORAGE_FAILURE;
    if (rc != TSE_OK) {
        unlink(part);
        json_object_set_new(j->doc, "state", json_string("ERROR"));
        json_object_set_new(j->doc, "exception",
                            json_pack("{s:s, s:i, s:s}", "code", tse_errname(rc), "code_value", rc, "message", msg));
    } else {
        json_object_set_new(j->doc, "state", json_string("COMPLETED"));
        json_object_set_new(j->doc, "logs", json_integer((json_int_t)res.logs));
        json_object_set_new(j->doc, "bytes", json_integer((json_int_t)res.bytes));
        json_object_set_new(j->doc, "cursor", json_integer((json_int_t)res.cursor));
    }
    json_object_set_new(j->doc, "time_end", json_integer(now_s()));
    if (job_save(j->s, j->x->id, j->id, j->doc) != 0)
        fprintf(stderr, "opentsed: export %s: cannot save the job's final state (%s)\n", j->id,
                rc == TSE_OK ? "COMPLETED" : "ERROR");
    json_decref(j->doc);
    atomic_fetch_sub(&j->s->in_flight, 1);
    free(j);
    return NULL;
}

static json_t *params_json(srv_req *q)
{
    json_t *p = json_object();
    const char *names[] = {"start_date", "end_date", "start_transaction_number", "end_transaction_number",
                           "transaction_number", "client_id", "maximum_number_records"};
    for (size_t i = 0; p && i < sizeof names / sizeof names[0]; i++) {
        const char *v = req_query(q, names[i]);
        if (v)
            json_object_set_new(p, names[i], json_string(v));
    }
    return p;
}

static void put_job(srv_req *q, srv_resp *r, srv_tss *x, const char *id)
{
    json_t *old = job_load(q->s, x->id, id);
    if (old) {   /* the same id again: the job as it stands */
        resp_json(r, 200, old);
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    if (parse_filter(q, r, x, &j->f, j->serial) != 0) {
        free(j);
        return;
    }
    j->s = q->s;
    j->x = x;
    snprintf(j->id, sizeof j->id, "%s", id);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/exports", q->s->cfg.data_dir);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/exports/%s", q->s->cfg.data_dir, x->id);
    mkdir(dir, 0700);
    j->doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "_id", id, "_type", "EXPORT", "tss_id", x->id, "state",
                       "PENDING", "time_request", (json_int_t)now_s(), "parameters", params_json(q));
    pthread_t th;
    pthread_attr_t attr;
    errno = 0;
    int saved = j->doc ? job_save(q->s, x->id, id, j->doc) : -1, full = saved && errno;
    int ok = saved == 0, err = errno;
    if (!ok && full) {   /* a full or read-only disk: the store's failure, not ours */
        json_decref(j->doc);
        free(j);
        resp_error(r, 503, "STORAGE_FAILURE", "cannot record the export job: %s", strerror(err));
        return;
    }
    json_t *answer = ok ? json_deep_copy(j->doc) : NULL;
    if (ok && pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        atomic_fetch_add(&q->s->in_flight, 1);   /* shutdown waits for the job */
        if (pthread_create(&th, &attr, job_run, j) != 0) {
            atomic_fetch_sub(&q->s->in_flight, 1);
            ok = 0;
        }
        pthread_attr_destroy(&attr);
    } else
        ok = 0;
    if (!ok) {
        json_decref(answer);
        json_decref(j->doc);
        free(j);
        resp_error(r, 500, "E_INTERNAL", "cannot start the export: %s", strerror(errno));
        return;
    }
    resp_json(r, 200, answer);
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
    json_t *doc = job_load(q->s, x->id, id);
    const char *state = doc ? json_string_value(json_object_get(doc, "state")) : NULL;
    char path[1300];
    FILE *f = NULL;
    if (!doc)
        resp_error(r, 404, "E_EXPORT_NOT_FOUND", "no export %s of TSS %s", id, x->id);
    else if (!state || strcmp(state, "COMPLETED") != 0)
        resp_error(r, 409, "E_EXPORT_NOT_READY", "export %s is %s", id, state ? state : "unknown");
    else if (job_path(q->s, x->id, id, "tar", path, sizeof path) != 0 || !(f = fopen(path, "rb")))
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
    tse_err rc = engine_export_data(st->e, &st->f, to_pipe, st, &st->res);
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
    int get = strcmp(q->method, "GET") == 0, put = strcmp(q->method, "PUT") == 0;
    if (nseg == 3 && get) {
        q->route = "export_stream";
        get_incremental(q, r, x);
    } else if (nseg >= 4 && !uuid_valid(seg[3])) {
        resp_error(r, 400, "E_ID", "export_id must be a UUID");
    } else if (nseg == 4 && put) {
        put_job(q, r, x, seg[3]);
    } else if (nseg == 4 && get) {
        json_t *doc = job_load(q->s, x->id, seg[3]);
        if (doc)
            resp_json(r, 200, doc);
        else
            resp_error(r, 404, "E_EXPORT_NOT_FOUND", "no export %s of TSS %s", seg[3], x->id);
    } else if (nseg == 5 && get && strcmp(seg[4], "file") == 0) {
        q->route = "export_file";
        get_file(q, r, x, seg[3]);
    } else {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
    }
}
