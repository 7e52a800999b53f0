/*
 * test_export_http.c - exports over HTTP from the real opentsed: the
 * incremental stream (chunked, cursor in X-Export-Cursor, nothing missed or
 * repeated across transactions), export jobs under filters through
 * PENDING/WORKING to COMPLETED, their files, and the refusals.
 * Every archive is checked with the openssl command line and our verifier.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "export_check.h"
#include "server/harness.h"

static ex_archive arch;
static srv_proc proc;
static char *token;
static const char *tss, *client;
static tse_info info;

typedef struct dl {
    FILE *f;
    char headers[4096];
    size_t hlen;
} dl;

static size_t body_cb(char *p, size_t size, size_t n, void *ctx)
{
    return fwrite(p, size, n, ((dl *)ctx)->f) * size;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ctx)
{
    dl *d = ctx;
    size_t len = size * n;
    if (d->hlen + len < sizeof d->headers) {
        memcpy(d->headers + d->hlen, p, len);
        d->hlen += len;
        d->headers[d->hlen] = 0;
    }
    return len;
}

/* GET path into the file `out`; returns the status, headers into d. */
static long download(const char *path, const char *out, dl *d)
{
    memset(d, 0, sizeof *d);
    d->f = fopen(out, "wb");
    assert_non_null(d->f);
    CURL *c = curl_easy_init();
    char url[1024], auth[1024];
    snprintf(url, sizeof url, "%s%s", proc.base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
    long status = 0;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(d->f);
    return status;
}

static void transaction(void)
{
    char path[512], id[37];
    hs_uuid(id);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, id);
    json_decref(hs_json(proc.base, "PUT", path, token, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id", client));
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", tss, id);
    json_decref(hs_json(proc.base, "PUT", path, token, 200, "{s:s, s:s}", "state", "FINISHED", "client_id", client));
}

static uint64_t cursor_header(const dl *d)
{
    const char *h = strcasestr(d->headers, "X-Export-Cursor:");
    assert_non_null(h);
    return strtoull(h + 16, NULL, 10);
}

static json_t *job(const char *id, const char *query, long want)
{
    char path[700];
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s%s", tss, id, query);
    json_t *j = NULL;
    assert_int_equal(hs_call(proc.base, "PUT", path, token, NULL, 0, &j, NULL), want);
    return j;
}

/* Polls the job until it is no longer PENDING or WORKING. */
static json_t *finished(const char *id)
{
    char path[700];
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s", tss, id);
    for (int i = 0; i < 500; i++) {
        json_t *j = NULL;
        assert_int_equal(hs_call(proc.base, "GET", path, token, NULL, 0, &j, NULL), 200);
        const char *st = json_string_value(json_object_get(j, "state"));
        assert_non_null(st);
        if (strcmp(st, "PENDING") && strcmp(st, "WORKING"))
            return j;
        json_decref(j);
        usleep(20000);
    }
    fail_msg("export %s did not finish", id);
    return NULL;
}

static void test_http(void **state)
{
    (void)state;
    char *dir = th_path("srv");
    json_t *demo = hs_start_demo(&proc, dir, &token);
    tss = json_string_value(json_object_get(demo, "tss_id"));
    client = json_string_value(json_object_get(demo, "client_id"));
    char path[700];

    /* what the archives must be of: the TSS's key and description */
    json_t *t = NULL;
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    assert_int_equal(hs_call(proc.base, "GET", path, token, NULL, 0, &t, NULL), 200);
    const char *serial = json_string_value(json_object_get(t, "serial_number"));
    assert_non_null(serial);
    memset(&info, 0, sizeof info);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(serial + 2 * i, "%2x", &v), 1);
        info.serial_number[i] = (uint8_t)v;
    }
    info.curve = TSE_CURVE_P256;
    info.hash = TSE_HASH_SHA256;
    const char *desc = json_string_value(json_object_get(t, "description"));
    /* the demo TSS is of the TEST environment: its archives say so first */
    assert_string_equal(json_string_value(json_object_get(t, "_env")), "TEST");
    snprintf(info.description, sizeof info.description, "TEST (not for production use)%s%s", desc && desc[0] ? ": " : "",
             desc ? desc : "");

    /* the incremental stream, round after round */
    static uint8_t seen[4096];
    uint64_t cursor = 0;
    char *file = th_path("stream.tar");
    for (int round = 0; round < 3; round++) {
        transaction();
        dl d;
        snprintf(path, sizeof path, "/api/v2/tss/%s/incremental-export?cursor=%llu", tss, (unsigned long long)cursor);
        assert_int_equal(download(path, file, &d), 200);
        assert_non_null(strcasestr(d.headers, "Transfer-Encoding: chunked"));
        assert_non_null(strcasestr(d.headers, "Content-Type: application/x-tar"));
        uint64_t next = cursor_header(&d);
        ex_check_archive_of(&info, file, &arch);
        assert_int_equal(arch.n_logs, next - cursor);
        for (size_t i = 0; i < arch.n_logs; i++) {
            assert_int_equal(arch.counters[i], cursor + 1 + i);
            assert_int_equal(seen[arch.counters[i]]++, 0);
        }
        cursor = next;
    }
    /* nothing new: NO_DATA_AVAILABLE as a JSON error */
    json_t *e = NULL;
    snprintf(path, sizeof path, "/api/v2/tss/%s/incremental-export?cursor=%llu", tss, (unsigned long long)cursor);
    long st = hs_call(proc.base, "GET", path, token, NULL, 0, &e, NULL);
    assert_true(st >= 400 && st < 500);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "E_NOT_FOUND");
    assert_string_equal(json_string_value(json_object_get(e, "tse_error")), "NO_DATA_AVAILABLE");
    json_decref(e);
    snprintf(path, sizeof path, "/api/v2/tss/%s/incremental-export?cursor=abc", tss);
    assert_int_equal(hs_call(proc.base, "GET", path, token, NULL, 0, NULL, NULL), 400);

    /* a job for the last transaction of the client */
    char id[37];
    hs_uuid(id);
    json_t *j = job(id, "?start_transaction_number=2&end_transaction_number=3", 200);
    const char *s0 = json_string_value(json_object_get(j, "state"));
    assert_true(!strcmp(s0, "PENDING") || !strcmp(s0, "WORKING") || !strcmp(s0, "COMPLETED"));
    json_decref(j);
    j = finished(id);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "COMPLETED");
    uint64_t job_logs = (uint64_t)json_integer_value(json_object_get(j, "logs"));
    json_decref(j);
    /* the same id again: the same job */
    j = job(id, "", 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "COMPLETED");
    json_decref(j);
    dl d;
    char *jf = th_path("job.tar");
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s/file", tss, id);
    assert_int_equal(download(path, jf, &d), 200);
    assert_non_null(strcasestr(d.headers, "Transfer-Encoding: chunked"));
    ex_check_archive_of(&info, jf, &arch);
    assert_int_equal(arch.n_logs, job_logs);
    size_t tx_logs = 0;
    for (size_t i = 0; i < arch.n_logs; i++) {
        tx_logs += arch.tx_numbers[i] != 0;
        if (arch.tx_numbers[i])
            assert_true(arch.tx_numbers[i] >= 2 && arch.tx_numbers[i] <= 3);
    }
    assert_int_equal(tx_logs, 4);

    /* contradicting parameters, too many records: refused before a job is
     * made, with the TR-03151 code */
    hs_uuid(id);
    j = job(id, "?start_transaction_number=5&end_transaction_number=2", 400);
    assert_string_equal(json_string_value(json_object_get(j, "tse_error")), "PARAMETER_MISMATCH");
    json_decref(j);
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s", tss, id);
    assert_int_equal(hs_call(proc.base, "GET", path, token, NULL, 0, NULL, NULL), 404);
    hs_uuid(id);
    j = job(id, "?maximum_number_records=1", 409);
    assert_string_equal(json_string_value(json_object_get(j, "tse_error")), "TOO_MANY_RECORDS");
    json_decref(j);

    /* bad requests */
    hs_uuid(id);
    json_decref(job(id, "?start_date=yesterday", 400));
    json_decref(job(id, "?client_id=00000000-0000-4000-8000-000000000000", 404));
    json_decref(job("not-a-uuid", "", 400));
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s", tss, id);
    assert_int_equal(hs_call(proc.base, "GET", path, token, NULL, 0, NULL, NULL), 404);
    snprintf(path, sizeof path, "/api/v2/tss/%s/export", tss);
    assert_int_equal(hs_call(proc.base, "GET", path, NULL, NULL, 0, NULL, NULL), 401);

    assert_int_equal(hs_stop(&proc), 0);
    json_decref(t);
    json_decref(demo);
    free(token);
    free(file);
    free(jf);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
