/*
 * test_server_compat_export.c - exports against the real opentsed as the
 * market API's integrations use them: filters in the query (also after the
 * doubled "?" one client writes) or in the body (digit strings, whole
 * numbers, a body of [] or {}), metadata on PUT and its own routes, the
 * lists of one TSS and of the organization with every states filter form,
 * cancelling a running job, a job a killed server left, the download's
 * answers in each state, and every answer as a typed client parses it
 * (absent, never null; integers where C# declares long). Archives are read
 * with libarchive and checked by `opentse verify`.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "helpers.h"

#define PIN "24681357"

static srv_proc P;
static char *tok, *dir;
static char tss[37], client[37];
static char op_key[64], op_secret[96];   /* printed on the first start only */

/* ------------------------------------------------------------ helpers */

/* No null anywhere: typed clients cannot read one. */
static void no_nulls(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    assert_false(json_is_null(j));
    if (json_is_object(j))
        json_object_foreach(j, k, v) no_nulls(v);
    if (json_is_array(j))
        json_array_foreach(j, i, v) no_nulls(v);
}

/* An export as fiskaltrust's DTO reads it: Guid _id and tss_id, strings,
 * long times; absent is fine, another type is not. */
static void typed_export(json_t *e)
{
    static const char *const strings[] = {"_type", "_env", "_version", "state", "exception", "href"};
    static const char *const longs[] = {"time_request", "time_start", "time_end", "time_expiration",
                                        "time_error", "estimated_time_of_completion"};
    no_nulls(e);
    assert_true(json_is_object(e));
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        assert_true(!json_object_get(e, strings[i]) || json_is_string(json_object_get(e, strings[i])));
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++)
        assert_true(!json_object_get(e, longs[i]) || json_is_integer(json_object_get(e, longs[i])));
    assert_string_equal(json_string_value(json_object_get(e, "_type")), "EXPORT");
    assert_int_equal(strlen(json_string_value(json_object_get(e, "_id"))), 36);
    assert_int_equal(strlen(json_string_value(json_object_get(e, "tss_id"))), 36);
    assert_true(json_integer_value(json_object_get(e, "time_request")) > 1600000000);
    assert_non_null(json_string_value(json_object_get(e, "_env")));
    assert_non_null(json_string_value(json_object_get(e, "_version")));
    const char *state = json_string_value(json_object_get(e, "state"));
    assert_non_null(state);
    assert_int_equal(json_object_get(e, "exception") != NULL, strcmp(state, "ERROR") == 0);
}

static char *path_of(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    assert_true(vasprintf(&p, fmt, ap) > 0);
    va_end(ap);
    return p;
}

/* `method` on path with a raw body (NULL: none); asserts the status. */
static json_t *call(const char *method, const char *path, const char *body, long want)
{
    json_t *j = NULL;
    long st = hs_call(P.base, method, path, tok, body, body ? strlen(body) : 0, &j, NULL);
    if (st != want)
        fprintf(stderr, "%s %s -> %ld (want %ld): %s\n", method, path, st, want, j ? json_dumps(j, 0) : "");
    assert_int_equal(st, want);
    return j;
}

static void refused(const char *method, const char *path, const char *body, long want, const char *code)
{
    json_t *e = call(method, path, body, want);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    json_decref(e);
}

/* The job, waited for until it left PENDING and WORKING. */
static json_t *finished(const char *tss_id, const char *id)
{
    char *path = path_of("/api/v2/tss/%s/export/%s", tss_id, id);
    for (int i = 0;; i++) {
        json_t *j = call("GET", path, NULL, 200);
        typed_export(j);
        const char *st = json_string_value(json_object_get(j, "state"));
        if (strcmp(st, "PENDING") && strcmp(st, "WORKING")) {
            free(path);
            return j;
        }
        json_decref(j);
        assert_true(i < 3000);
        usleep(10000);
    }
}

static const char *state_of(json_t *j)
{
    return json_string_value(json_object_get(j, "state"));
}

/* A new job of TSS tss (its id to id) with `query` and `body`, waited for
 * and in state `want`; its last answer. */
static json_t *run_job(const char *query, const char *body, const char *want, char id[37])
{
    hs_uuid(id);
    char *path = path_of("/api/v2/tss/%s/export/%s%s", tss, id, query);
    json_t *j = call("PUT", path, body, 200);
    typed_export(j);
    json_decref(j);
    free(path);
    j = finished(tss, id);
    assert_string_equal(state_of(j), want);
    return j;
}

typedef struct got {
    char headers[4096];
} got;

/* GET path into file; returns the status, headers in g. */
static long download(const char *path, const char *file, got *g)
{
    return hs_download(P.base, path, tok, file, g->headers, sizeof g->headers);
}

/* What a TAR holds: info.csv's text, the transaction numbers of its logs. */
typedef struct tar_view {
    char info[1024];
    int n_logs, n_certs;
    unsigned long tx[64], sig[256];
    int n_tx, n_sig;
} tar_view;

static void read_tar(const char *file, tar_view *v)
{
    memset(v, 0, sizeof *v);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, file, 10240), ARCHIVE_OK);
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        const char *no = strstr(name, "_Log-Tra_No-");
        if (strcmp(name, "info.csv") == 0) {
            la_ssize_t n = archive_read_data(a, v->info, sizeof v->info - 1);
            assert_true(n > 0);
            v->info[n] = 0;
        } else if (strstr(name, "_X509.")) {
            v->n_certs++;
        } else if (strstr(name, ".log")) {
            const char *sig = strstr(name, "_Sig-");
            v->n_logs++;
            if (sig && v->n_sig < 256)
                v->sig[v->n_sig++] = strtoul(sig + strlen("_Sig-"), NULL, 10);
            if (no && v->n_tx < 64)
                v->tx[v->n_tx++] = strtoul(no + strlen("_Log-Tra_No-"), NULL, 10);
        }
    }
    archive_read_free(a);
}

static void verified(const char *file)
{
    const char *cli = getenv("OPENTSE_CLI");
    assert_non_null(cli);
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "'%s' verify --quiet '%s' >/dev/null", cli, file) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* The archive of a COMPLETED job, downloaded, verified and read. */
static void archive_of(const char *tss_id, const char *id, tar_view *v)
{
    char *path = path_of("/api/v2/tss/%s/export/%s/file", tss_id, id), *file = th_path("compat-export.tar");
    got g;
    assert_int_equal(download(path, file, &g), 200);
    assert_non_null(strcasestr(g.headers, "Content-Type: application/x-tar"));
    assert_non_null(strcasestr(g.headers, "Content-Disposition: attachment"));
    verified(file);
    read_tar(file, v);
    assert_true(v->n_certs >= 1);
    free(path);
    free(file);
}

/* One finished transaction of the client; returns its number. */
static long transaction(const char *tss_id, const char *client_id)
{
    char id[37];
    hs_uuid(id);
    char *p1 = path_of("/api/v2/tss/%s/tx/%s?tx_revision=1", tss_id, id),
         *p2 = path_of("/api/v2/tss/%s/tx/%s?tx_revision=2", tss_id, id);
    json_decref(hs_json(P.base, "PUT", p1, tok, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client_id));
    json_t *t = hs_json(P.base, "PUT", p2, tok, 200, "{s:s, s:s, s:{s:{s:s, s:s}}}", "state", "FINISHED",
                        "client_id", client_id, "schema", "raw", "process_type", "Kassenbeleg-V1", "process_data",
                        "");
    long n = (long)json_integer_value(json_object_get(t, "number"));
    json_decref(t);
    free(p1);
    free(p2);
    return n;
}

static void job_path(char *out, size_t cap, const char *tss_id, const char *id, const char *ext)
{
    snprintf(out, cap, "%s/exports/%s/%s.%s", dir, tss_id, id, ext);
}

/* Blocks the job id's archive writer: a FIFO where its .tar.part goes
 * makes it wait until the test opens the other end. */
static void block_writer(const char *id)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/exports", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/exports/%s", dir, tss);
    mkdir(p, 0700);
    job_path(p, sizeof p, tss, id, "tar.part");
    assert_int_equal(mkfifo(p, 0600), 0);
}

static void until_state(const char *id, const char *want)
{
    char *path = path_of("/api/v2/tss/%s/export/%s", tss, id);
    for (int i = 0;; i++) {
        json_t *j = call("GET", path, NULL, 200);
        int ok = strcmp(state_of(j), want) == 0;
        json_decref(j);
        if (ok)
            break;
        assert_true(i < 3000);
        usleep(10000);
    }
    free(path);
}

/* ------------------------------------------------------------ setup */

static int setup(void **state)
{
    (void)state;
    dir = th_path("compat-export");
    hs_start(&P, dir, NULL);
    snprintf(op_key, sizeof op_key, "%s", P.op_key);
    snprintf(op_secret, sizeof op_secret, "%s", P.op_secret);
    char *op = hs_token(P.base, op_key, op_secret), key[64], secret[96];
    hs_org_key(P.base, op, "Export GmbH", key, secret);
    free(op);
    tok = hs_token(P.base, key, secret);
    hs_uuid(tss);
    hs_uuid(client);
    hs_ready_tss(P.base, tok, tss, PIN, client, "ERS-EXPORT-1");
    for (int i = 0; i < 4; i++)
        assert_int_equal(transaction(tss, client), i + 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(hs_stop(&P), 0);
    free(tok);
    free(dir);
    return 0;
}

/* ------------------------------------------------------------ tests */

/* PUT with the filters as each integration sends them; the archive holds
 * exactly the transactions asked for. */
static void filters_as_clients_send_them(void **state)
{
    (void)state;
    char id[37], *path;
    json_t *j;
    tar_view v;

    /* an empty list first */
    path = path_of("/api/v2/tss/%s/export", tss);
    j = call("GET", path, NULL, 200);
    no_nulls(j);
    assert_string_equal(json_string_value(json_object_get(j, "_type")), "EXPORT_LIST");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "data")), 0);
    json_decref(j);
    free(path);

    /* fiskaltrust: "export/{id}??end_transaction_number=N&client_id=..&start_transaction_number=M", body {} */
    hs_uuid(id);
    path = path_of("/api/v2/tss/%s/export/%s??end_transaction_number=3&client_id=%s&start_transaction_number=2", tss,
                   id, client);
    j = call("PUT", path, "{}", 200);
    typed_export(j);
    assert_string_equal(json_string_value(json_object_get(j, "tss_id")), tss);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "parameters"), "end_transaction_number")),
                        "3");
    json_decref(j);
    free(path);
    j = finished(tss, id);
    assert_string_equal(state_of(j), "COMPLETED");
    assert_true(json_integer_value(json_object_get(j, "time_end")) >= json_integer_value(json_object_get(j, "time_start")));
    assert_true(json_integer_value(json_object_get(j, "time_start")) >= json_integer_value(json_object_get(j, "time_request")));
    path = path_of("/api/v2/tss/%s/export/%s/file", tss, id);
    assert_string_equal(json_string_value(json_object_get(j, "href")), path);
    free(path);
    json_decref(j);
    archive_of(tss, id, &v);
    assert_int_equal(v.n_tx, 4);   /* Start and Finish of transactions 2 and 3 */
    for (int i = 0; i < v.n_tx; i++)
        assert_true(v.tx[i] == 2 || v.tx[i] == 3);
    assert_null(strstr(v.info, "TEST"));   /* a LIVE TSS's archive */

    /* uala/fiskaly-ruby: the filters in the JSON body, numbers as digit strings */
    json_decref(run_job("", "{\"transaction_number\": \"4\", \"maximum_number_records\": \"100\"}", "COMPLETED", id));
    archive_of(tss, id, &v);
    assert_int_equal(v.n_tx, 2);
    assert_int_equal(v.tx[0], 4);
    assert_int_equal(v.tx[1], 4);

    /* the market's signature counter range (the Ruby library's body) */
    j = run_job("", "{\"start_signature_counter\": \"5\", \"end_signature_counter\": 8}", "COMPLETED", id);
    assert_int_equal(json_integer_value(json_object_get(j, "logs")), 4);
    json_decref(j);
    archive_of(tss, id, &v);
    assert_int_equal(v.n_sig, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(v.sig[i], 5 + i);

    /* Odoo: dates as floats in the body, with the client */
    char body[300];
    snprintf(body, sizeof body, "{\"start_date\": 1000000000.0, \"end_date\": 4000000000.5, \"client_id\": \"%s\"}",
             client);
    j = run_job("", body, "COMPLETED", id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "parameters"), "end_date")), "4000000000");
    assert_int_equal(json_object_size(json_object_get(j, "metadata")), 0);   /* there, empty */
    json_decref(j);
    archive_of(tss, id, &v);
    assert_int_equal(v.n_tx, 8);   /* every transaction log of the client */

    /* the body's dates as whole numbers, the PHP library's body of [] with the query */
    j = run_job("?start_date=1000000000", "[]", "COMPLETED", id);
    assert_true(json_integer_value(json_object_get(j, "logs")) > 8);
    json_decref(j);
    json_decref(run_job("?end_transaction_number=1", "{\"start_transaction_number\": 1, \"end_transaction_number\": 1}",
                        "COMPLETED", id));
    archive_of(tss, id, &v);
    assert_int_equal(v.n_tx, 2);
    assert_int_equal(v.tx[0], 1);
}

/* Anything wrong in the request: a 400 naming it, and no job is made. */
static void the_whole_request_is_checked_first(void **state)
{
    (void)state;
    static const struct {
        const char *query, *body, *code, *names;
    } bad[] = {
        {"?start_date=yesterday", NULL, "E_PARAMETER", "start_date"},
        {"", "{\"start_date\": true}", "E_PARAMETER", "start_date"},
        {"", "{\"end_transaction_number\": -3}", "E_PARAMETER", "end_transaction_number"},
        {"", "{\"end_transaction_number\": \"x7\"}", "E_PARAMETER", "end_transaction_number"},
        {"?start_transaction_number=1", "{\"start_transaction_number\": \"2\"}", "E_PARAMETER", "start_transaction_number"},
        {"?end_transaction_number=1&?end_transaction_number=2", NULL, "E_PARAMETER", "end_transaction_number"},
        {"?start_signature_counter=x1", NULL, "E_PARAMETER", "start_signature_counter"},
        {"", "{\"end_signature_counter\": \"9a\"}", "E_PARAMETER", "end_signature_counter"},
        {"", "{\"metadata\": {\"k\": {\"deep\": \"x\"}}}", "E_BAD_REQUEST", "metadata"},
        {"", "{\"transaction_number\": 1.5}", "E_PARAMETER", "transaction_number"},
        {"", "{\"metadata\": \"text\"}", "E_BAD_REQUEST", "metadata"},
        {"", "[1]", "E_BAD_REQUEST", "object"},
        {"", "{\"start_date\": ", "E_BAD_REQUEST", "JSON"},
        {"?transaction_number=1", "{\"metadata\": {\"a-key-longer-than-forty-characters-is-refused\": \"v\"}}",
         "E_BAD_REQUEST", "metadata"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char id[37];
        hs_uuid(id);
        char *path = path_of("/api/v2/tss/%s/export/%s%s", tss, id, bad[i].query);
        json_t *e = call("PUT", path, bad[i].body, 400);
        assert_string_equal(json_string_value(json_object_get(e, "code")), bad[i].code);
        assert_non_null(strstr(json_string_value(json_object_get(e, "message")), bad[i].names));
        json_decref(e);
        free(path);
        path = path_of("/api/v2/tss/%s/export/%s", tss, id);
        refused("GET", path, NULL, 404, "E_EXPORT_NOT_FOUND");
        free(path);
    }
    char id[37], other[37];
    hs_uuid(id);
    hs_uuid(other);
    char *path = path_of("/api/v2/tss/%s/export/%s?client_id=%s", tss, id, other);
    refused("PUT", path, NULL, 404, "E_CLIENT_NOT_FOUND");
    free(path);
    path = path_of("/api/v2/tss/%s/export/not-a-uuid", tss);
    refused("PUT", path, NULL, 400, "E_ID");
    free(path);
}

/* metadata: on PUT, on the job, and its own GET and PATCH (the object
 * itself as fiskaltrust sends it, or wrapped as the PHP library does). */
static void metadata(void **state)
{
    (void)state;
    char id[37];
    hs_uuid(id);
    char *path = path_of("/api/v2/tss/%s/export/%s", tss, id), *md = path_of("%s/metadata", path);
    json_t *j = call("PUT", path, "{\"metadata\": {\"shift\": \"early\"}}", 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "metadata"), "shift")), "early");
    json_decref(j);
    j = call("GET", md, NULL, 200);
    assert_int_equal(json_object_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(j, "shift")), "early");
    json_decref(j);
    json_decref(call("PATCH", md, "{\"start_transaction_number\": \"1\", \"end_transaction_number\": 4}", 200));
    j = call("PATCH", md, "{\"metadata\": {\"register\": \"K1\", \"shift\": null}}", 200);
    assert_int_equal(json_object_size(j), 3);
    assert_null(json_object_get(j, "shift"));
    json_decref(j);
    /* a bad value changes nothing */
    refused("PATCH", md, "{\"register\": [\"K2\"]}", 400, "E_BAD_REQUEST");
    refused("PATCH", md, "{\"register\": ", 400, "E_BAD_REQUEST");
    j = finished(tss, id);
    json_t *m = json_object_get(j, "metadata");
    assert_int_equal(json_object_size(m), 3);
    assert_string_equal(json_string_value(json_object_get(m, "register")), "K1");
    assert_string_equal(json_string_value(json_object_get(m, "end_transaction_number")), "4");
    json_decref(j);
    free(md);
    char other[37];
    hs_uuid(other);
    md = path_of("/api/v2/tss/%s/export/%s/metadata", tss, other);
    refused("GET", md, NULL, 404, "E_EXPORT_NOT_FOUND");
    refused("PATCH", md, "{\"a\": \"b\"}", 404, "E_EXPORT_NOT_FOUND");
    free(md);
    free(path);
}

/* The filter's TR-03151 checks run before a job is made: the market code
 * with tse_error, and no job. */
static void refused_before_a_job(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        long status;
        const char *code, *tse;
    } bad[] = {
        {"?start_transaction_number=4&end_transaction_number=2", 400, "E_BAD_REQUEST", "PARAMETER_MISMATCH"},
        {"?start_signature_counter=9&end_signature_counter=2", 400, "E_BAD_REQUEST", "PARAMETER_MISMATCH"},
        {"?transaction_number=2&start_date=1000000000", 400, "E_BAD_REQUEST", "PARAMETER_MISMATCH"},
        {"?maximum_number_records=1", 409, "E_CONFLICT", "TOO_MANY_RECORDS"},
        {"?transaction_number=999", 404, "E_TX_NOT_FOUND", "TRANSACTION_NUMBER_NOT_FOUND"},
        /* as Odoo reads it: 404, no data in the range */
        {"?start_date=1000000000&end_date=1000000001", 404, "E_NOT_FOUND", "NO_DATA_AVAILABLE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char id[37];
        hs_uuid(id);
        char *path = path_of("/api/v2/tss/%s/export/%s%s", tss, id, bad[i].query);
        json_t *e = call("PUT", path, "{}", bad[i].status);
        assert_string_equal(json_string_value(json_object_get(e, "code")), bad[i].code);
        assert_string_equal(json_string_value(json_object_get(e, "tse_error")), bad[i].tse);
        json_decref(e);
        free(path);
        path = path_of("/api/v2/tss/%s/export/%s", tss, id);
        refused("GET", path, NULL, 404, "E_EXPORT_NOT_FOUND");
        free(path);
    }
}

/* A job in ERROR (its archive cannot be written): exception a string with
 * the TR-03151 name, also in tse_error; its file and its cancellation
 * refused. */
static void error_state(void **state)
{
    (void)state;
    char id[37], p[1200];
    hs_uuid(id);
    block_writer(id);   /* a directory where the archive goes */
    job_path(p, sizeof p, tss, id, "tar.part");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkdir(p, 0700), 0);
    char *path = path_of("/api/v2/tss/%s/export/%s", tss, id);
    json_decref(call("PUT", path, NULL, 200));
    free(path);
    json_t *j = finished(tss, id);
    assert_string_equal(state_of(j), "ERROR");
    assert_true(strncmp(json_string_value(json_object_get(j, "exception")), "STORAGE_FAILURE: ", 17) == 0);
    assert_string_equal(json_string_value(json_object_get(j, "tse_error")), "STORAGE_FAILURE");
    assert_true(json_is_integer(json_object_get(j, "time_error")));
    assert_null(json_object_get(j, "href"));
    json_decref(j);
    assert_int_equal(rmdir(p), 0);
    path = path_of("/api/v2/tss/%s/export/%s/file", tss, id);
    refused("GET", path, NULL, 409, "E_EXPORT_FAILED");
    free(path);
    path = path_of("/api/v2/tss/%s/export/%s", tss, id);
    refused("DELETE", path, NULL, 409, "E_EXPORT_NOT_CANCELLABLE");
    free(path);
}

typedef struct bg_call {
    char path[300];
    long status;
    json_t *answer;
} bg_call;

static void *bg_delete(void *p)
{
    bg_call *c = p;
    c->status = hs_call(P.base, "DELETE", c->path, tok, NULL, 0, &c->answer, NULL);
    return NULL;
}

/* DELETE of a WORKING job: it stops, CANCELLED, and has no file. */
static void cancel_running(void **state)
{
    (void)state;
    char id[37], p[1200];
    hs_uuid(id);
    block_writer(id);
    bg_call c = {0};
    snprintf(c.path, sizeof c.path, "/api/v2/tss/%s/export/%s", tss, id);
    json_decref(call("PUT", c.path, NULL, 200));
    until_state(id, "WORKING");
    char *file = path_of("%s/file", c.path);
    refused("GET", file, NULL, 409, "E_EXPORT_NOT_READY");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_delete, &c), 0);
    job_path(p, sizeof p, tss, id, "cancel");
    for (int i = 0; access(p, F_OK) != 0; i++) {   /* the DELETE asked the job to stop */
        assert_true(i < 3000);
        usleep(10000);
    }
    job_path(p, sizeof p, tss, id, "tar.part");
    int fd = open(p, O_RDONLY | O_NONBLOCK);   /* the writer goes on and sees it */
    assert_true(fd >= 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    close(fd);
    assert_int_equal(c.status, 200);
    typed_export(c.answer);
    assert_string_equal(state_of(c.answer), "CANCELLED");
    json_decref(c.answer);
    refused("GET", file, NULL, 409, "E_EXPORT_CANCELLED");
    json_t *j = call("DELETE", c.path, NULL, 200);   /* again: as it stands */
    assert_string_equal(state_of(j), "CANCELLED");
    json_decref(j);
    assert_int_not_equal(access(p, F_OK), 0);   /* nothing of its archive is left */
    job_path(p, sizeof p, tss, id, "tar");
    assert_int_not_equal(access(p, F_OK), 0);
    free(file);

    /* a COMPLETED job is not cancelled; an unknown one is not found */
    hs_uuid(id);
    snprintf(c.path, sizeof c.path, "/api/v2/tss/%s/export/%s", tss, id);
    refused("DELETE", c.path, NULL, 404, "E_EXPORT_NOT_FOUND");
    json_decref(call("PUT", c.path, NULL, 200));
    json_decref(finished(tss, id));
    refused("DELETE", c.path, NULL, 409, "E_EXPORT_NOT_CANCELLABLE");
}

/* The lists: states[]=, states[0]=, repeated states=, paging, and the
 * organization's list across its TSSs; another organization sees none. */
static void lists(void **state)
{
    (void)state;
    char *path = path_of("/api/v2/tss/%s/export", tss);
    json_t *all = call("GET", path, NULL, 200);
    no_nulls(all);
    size_t n = json_array_size(json_object_get(all, "data"));
    assert_int_equal(json_integer_value(json_object_get(all, "count")), n);
    assert_true(n >= 10);
    size_t i, completed = 0, other = 0;
    json_t *e;
    json_int_t last = 0;
    json_array_foreach(json_object_get(all, "data"), i, e) {
        typed_export(e);
        completed += strcmp(state_of(e), "COMPLETED") == 0;
        other += strcmp(state_of(e), "ERROR") == 0 || strcmp(state_of(e), "CANCELLED") == 0;
        assert_true(json_integer_value(json_object_get(e, "time_request")) >= last);   /* oldest first */
        last = json_integer_value(json_object_get(e, "time_request"));
    }
    free(path);
    static const char *const forms[] = {"states[]=COMPLETED", "states[0]=COMPLETED", "states=COMPLETED"};
    for (i = 0; i < 3; i++) {
        path = path_of("/api/v2/tss/%s/export?%s", tss, forms[i]);
        json_t *j = call("GET", path, NULL, 200);
        assert_int_equal(json_array_size(json_object_get(j, "data")), completed);
        json_decref(j);
        free(path);
    }
    path = path_of("/api/v2/tss/%s/export?states[0]=ERROR&states[1]=CANCELLED", tss);
    json_t *j = call("GET", path, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "data")), other);
    json_decref(j);
    free(path);
    path = path_of("/api/v2/tss/%s/export?states=ERROR&states=COMPLETED&states=CANCELLED", tss);
    j = call("GET", path, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "data")), completed + other);
    json_decref(j);
    free(path);
    path = path_of("/api/v2/tss/%s/export?states[]=FINISHED", tss);
    refused("GET", path, NULL, 400, "E_BAD_REQUEST");
    free(path);
    path = path_of("/api/v2/tss/%s/export?limit=2&offset=1", tss);
    j = call("GET", path, NULL, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    for (i = 0; i < 2; i++)   /* the same jobs in the same order (a job's verification may finish meanwhile) */
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), i), "_id")),
                            json_string_value(json_object_get(json_array_get(json_object_get(all, "data"), i + 1), "_id")));
    json_decref(j);
    free(path);

    /* a second TSS's job joins the organization's list */
    char tss2[37], client2[37], id[37];
    hs_uuid(tss2);
    hs_uuid(client2);
    hs_ready_tss(P.base, tok, tss2, PIN, client2, "ERS-EXPORT-2");
    hs_uuid(id);
    path = path_of("/api/v2/tss/%s/export/%s", tss2, id);
    json_decref(call("PUT", path, NULL, 200));
    json_decref(finished(tss2, id));
    free(path);
    j = call("GET", "/api/v2/export", NULL, 200);
    no_nulls(j);
    assert_string_equal(json_string_value(json_object_get(j, "_type")), "EXPORT_LIST");
    assert_int_equal(json_array_size(json_object_get(j, "data")), n + 1);
    size_t of2 = 0;
    json_array_foreach(json_object_get(j, "data"), i, e) of2 += strcmp(json_string_value(json_object_get(e, "tss_id")), tss2) == 0;
    assert_int_equal(of2, 1);
    json_decref(j);
    j = call("GET", "/api/v2/export?states[]=COMPLETED&limit=1", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(j, "data")), 1);
    json_decref(j);
    refused("GET", "/api/v2/export?limit=0", NULL, 400, "E_BAD_REQUEST");
    refused("GET", "/api/v2/export?states[]=DONE", NULL, 400, "E_BAD_REQUEST");
    json_decref(all);

    char *op = hs_token(P.base, op_key, op_secret), key[64], secret[96];
    hs_org_key(P.base, op, "Another GmbH", key, secret);
    char *t2 = hs_token(P.base, key, secret);
    json_t *none = NULL;
    assert_int_equal(hs_call(P.base, "GET", "/api/v2/export", t2, NULL, 0, &none, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(none, "data")), 0);
    json_decref(none);
    path = path_of("/api/v2/tss/%s/export/%s", tss2, id);
    assert_int_equal(hs_call(P.base, "GET", path, t2, NULL, 0, NULL, NULL), 404);
    free(path);
    assert_int_equal(hs_call(P.base, "GET", "/api/v2/export", op, NULL, 0, NULL, NULL), 403);
    free(t2);
    free(op);
}

/* The incremental stream under its own path: a verified archive of every
 * log after the cursor, the next cursor in X-Export-Cursor. */
static void incremental_stream(void **state)
{
    (void)state;
    char *path = path_of("/api/v2/tss/%s/incremental-export?cursor=0", tss), *file = th_path("compat-stream.tar");
    got g;
    tar_view v;
    assert_int_equal(download(path, file, &g), 200);
    assert_non_null(strcasestr(g.headers, "Content-Type: application/x-tar"));
    const char *h = strcasestr(g.headers, "X-Export-Cursor: ");
    assert_non_null(h);
    unsigned long cursor = strtoul(h + strlen("X-Export-Cursor: "), NULL, 10);
    verified(file);
    read_tar(file, &v);
    assert_int_equal((unsigned long)v.n_logs, cursor);
    free(path);
    path = path_of("/api/v2/tss/%s/export?cursor=0", tss);   /* the stream's old path says where it went */
    json_t *moved = call("GET", path, NULL, 400);
    assert_non_null(strstr(json_string_value(json_object_get(moved, "message")), "incremental-export"));
    json_decref(moved);
    free(path);
    path = path_of("/api/v2/tss/%s/incremental-export?cursor=%lu", tss, cursor);
    json_t *e = call("GET", path, NULL, 404);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "E_NOT_FOUND");
    assert_string_equal(json_string_value(json_object_get(e, "tse_error")), "NO_DATA_AVAILABLE");
    json_decref(e);
    free(path);
    free(file);
}

/* A job the server was killed in reads as ERROR after the restart; a job
 * document of the earlier layout (exception an object) reads as today's. */
static void interrupted_and_older_jobs(void **state)
{
    (void)state;
    char id[37], p[1200];
    hs_uuid(id);
    block_writer(id);
    char *path = path_of("/api/v2/tss/%s/export/%s", tss, id);
    json_decref(call("PUT", path, NULL, 200));
    until_state(id, "WORKING");
    assert_true(hs_signal(&P, SIGKILL) != 0);
    job_path(p, sizeof p, tss, id, "tar.part");
    unlink(p);   /* the FIFO (a real crash leaves a partial file) */
    hs_start(&P, dir, NULL);
    json_t *j = call("GET", path, NULL, 200);
    typed_export(j);
    assert_string_equal(state_of(j), "ERROR");
    assert_true(strncmp(json_string_value(json_object_get(j, "exception")), "INTERRUPTED: ", 13) == 0);
    assert_null(json_object_get(j, "tse_error"));
    json_decref(j);
    free(path);

    char old[37];
    hs_uuid(old);
    job_path(p, sizeof p, tss, old, "json");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "{\"_id\": \"%s\", \"_type\": \"EXPORT\", \"tss_id\": \"%s\", \"state\": \"ERROR\", "
               "\"time_request\": 1700000000, \"time_start\": 1700000000, \"time_end\": 1700000001, "
               "\"parameters\": {}, \"exception\": {\"code\": \"TOO_MANY_RECORDS\", \"code_value\": -5007, "
               "\"message\": \"more than 1\"}}",
            old, tss);
    fclose(f);
    path = path_of("/api/v2/tss/%s/export/%s", tss, old);
    j = call("GET", path, NULL, 200);
    typed_export(j);
    assert_string_equal(json_string_value(json_object_get(j, "exception")), "TOO_MANY_RECORDS: more than 1");
    assert_string_equal(json_string_value(json_object_get(j, "tse_error")), "TOO_MANY_RECORDS");
    json_decref(j);
    free(path);
}

/* A TEST TSS's archives say so in info.csv (the job's and the stream's);
 * the organization's list holds the key's environment only. */
static void test_environment(void **state)
{
    (void)state;
    char *op = hs_token(P.base, op_key, op_secret), *path;
    json_t *org = hs_json(P.base, "POST", "/api/v2/organizations", op, 200, "{s:s}", "name", "Kasse CI");
    path = path_of("/api/v2/organizations/%" JSON_INTEGER_FORMAT "/api-keys", json_integer_value(json_object_get(org, "_id")));
    json_t *tk = hs_json(P.base, "POST", path, op, 200, "{s:s}", "env", "TEST");
    json_t *lk = hs_json(P.base, "POST", path, op, 200, "{s:s}", "env", "LIVE");
    free(path);
    char *test_tok = hs_token(P.base, json_string_value(json_object_get(tk, "key")), json_string_value(json_object_get(tk, "secret")));
    char *live_tok = hs_token(P.base, json_string_value(json_object_get(lk, "key")), json_string_value(json_object_get(lk, "secret")));
    char *mine = tok;
    tok = test_tok;
    char t[37], c[37], id[37];
    hs_uuid(t);
    hs_uuid(c);
    hs_ready_tss(P.base, tok, t, PIN, c, "ERS-CI-1");
    transaction(t, c);
    hs_uuid(id);
    path = path_of("/api/v2/tss/%s/export/%s", t, id);
    json_t *j = call("PUT", path, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(j, "_env")), "TEST");
    json_decref(j);
    free(path);
    j = finished(t, id);
    assert_string_equal(state_of(j), "COMPLETED");
    assert_string_equal(json_string_value(json_object_get(j, "_env")), "TEST");
    json_decref(j);
    tar_view v;
    archive_of(t, id, &v);
    assert_non_null(strstr(v.info, "\n\"description:\",\"TEST (not for production use)"));   /* after the components */
    path = path_of("/api/v2/tss/%s/incremental-export", t);
    char *file = th_path("compat-test-stream.tar");
    got g;
    assert_int_equal(download(path, file, &g), 200);
    read_tar(file, &v);
    assert_non_null(strstr(v.info, "\n\"description:\",\"TEST (not for production use)"));   /* after the components */
    free(file);
    free(path);
    j = call("GET", "/api/v2/export", NULL, 200);
    assert_string_equal(json_string_value(json_object_get(j, "_env")), "TEST");
    assert_int_equal(json_array_size(json_object_get(j, "data")), 1);
    json_decref(j);
    tok = live_tok;   /* the same organization's LIVE key: none of the TEST jobs */
    j = call("GET", "/api/v2/export", NULL, 200);
    assert_string_equal(json_string_value(json_object_get(j, "_env")), "LIVE");
    assert_int_equal(json_array_size(json_object_get(j, "data")), 0);
    json_decref(j);
    tok = mine;
    free(test_tok);
    free(live_tok);
    json_decref(tk);
    json_decref(lk);
    json_decref(org);
    free(op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filters_as_clients_send_them),
        cmocka_unit_test(the_whole_request_is_checked_first),
        cmocka_unit_test(metadata),
        cmocka_unit_test(refused_before_a_job),
        cmocka_unit_test(error_state),
        cmocka_unit_test(cancel_running),
        cmocka_unit_test(lists),
        cmocka_unit_test(incremental_stream),
        cmocka_unit_test(interrupted_and_older_jobs),
        cmocka_unit_test(test_environment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
