/* harness.c - implementation of the opentsed test harness (see harness.h). */
#include "harness.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "helpers.h"

/* Servers still running when the test process exits (a failed assertion
 * jumps past hs_stop) are killed, so no child outlives the test. */
static pid_t running[16];

static void kill_running(void)
{
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (running[i] > 0)
            kill(running[i], SIGKILL);
}

static void track(pid_t pid, pid_t replace)
{
    static int registered;
    if (!registered++)
        atexit(kill_running);
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++) {
        if (running[i] == replace) {
            running[i] = pid;
            return;
        }
    }
}

/* Under tests/pg/with_pg.sh (OPENTSE_TEST_PG set): the PostgreSQL store of
 * this data directory, a database of its own made on first use. */
static const char *pg_store(const char *data_dir, char *url, size_t cap)
{
    const char *base = getenv("OPENTSE_TEST_PG"), *bin = getenv("OPENTSE_TEST_PGBIN");
    if (!base || !bin)
        return NULL;
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a of the directory */
    for (const char *c = data_dir; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    const char *slash = strrchr(base, '/');
    assert_non_null(slash);
    snprintf(url, cap, "%.*s/d_%016llx", (int)(slash - base), base, (unsigned long long)h);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/psql' -q '%s' -c 'CREATE DATABASE d_%016llx' >/dev/null 2>&1", bin, base,
             (unsigned long long)h);
    (void)!system(cmd);   /* exists already after the first start */
    return url;
}

void hs_start(srv_proc *p, const char *data_dir, const char *const *extra)
{
    const char *bin = getenv("OPENTSED_BIN");
    assert_non_null(bin);
    memset(p, 0, sizeof *p);
    snprintf(p->data_dir, sizeof p->data_dir, "%s", data_dir);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const char *argv[32] = {bin, "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--access-log", "0"};
    int n = 7;
    char store[600];
    if (pg_store(data_dir, store, sizeof store)) {
        argv[n++] = "--store";
        argv[n++] = store;
    }
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    track(p->pid, 0);
    FILE *f = fdopen(fds[0], "r");
    assert_non_null(f);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "operator api_key: %63s", p->op_key);
        sscanf(line, "operator api_secret: %95s", p->op_secret);
        char url[128];
        if (sscanf(line, "opentsed listening on %127s", url) == 1) {
            snprintf(p->base, sizeof p->base, "%s", url);
            break;
        }
    }
    /* Keep reading nothing more; the server's later stdout goes to a closed pipe. */
    fclose(f);
    if (!p->base[0]) {
        int st = 0;
        waitpid(p->pid, &st, 0);
        fail_msg("opentsed did not start (exit %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
}

json_t *hs_start_demo(srv_proc *p, const char *data_dir, char **token)
{
    const char *demo[] = {"--demo", NULL};
    hs_start(p, data_dir, demo);
    char file[600];
    snprintf(file, sizeof file, "%s/demo.json", data_dir);
    json_t *d = json_load_file(file, 0, NULL);
    assert_non_null(d);
    *token = hs_token(p->base, json_string_value(json_object_get(d, "api_key")),
                      json_string_value(json_object_get(d, "api_secret")));
    return d;
}

int hs_signal(srv_proc *p, int sig)
{
    int st = 0;
    kill(p->pid, sig);
    pid_t got = waitpid(p->pid, &st, 0);
    track(0, p->pid);
    if (got != p->pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int hs_stop(srv_proc *p)
{
    return hs_signal(p, SIGTERM);
}

typedef struct membuf {
    char *p;
    size_t n;
} membuf;

/* With OPENTSE_API_RECORD set (meson does for the server tests), each
 * exchange goes to RECORD/<test program>[_pg]/<pid>-<n>.json as {method,
 * path, status, content_type, body (the JSON answer or null), is_json}, for
 * tests/openapi/responses.py to hold against docs/openapi.json. The
 * program's directory is emptied at its first exchange. */
static void record_exchange(const char *method, const char *path, long status, const membuf *b, const membuf *h)
{
    static char dir[512];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static unsigned long seq;
    const char *root = getenv("OPENTSE_API_RECORD");
    if (!root || !*root || status <= 0)
        return;
    pthread_mutex_lock(&mu);
    if (!dir[0]) {
        char prog[200] = "test";
        FILE *f = fopen("/proc/self/cmdline", "r");
        if (f) {
            size_t n = fread(prog, 1, sizeof prog - 1, f);
            prog[n] = 0;
            fclose(f);
        }
        const char *name = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
        snprintf(dir, sizeof dir, "%s/%s%s", root, name, getenv("OPENTSE_TEST_PG") ? "_pg" : "");
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
        (void)!system(cmd);
    }
    unsigned long n = ++seq;
    pthread_mutex_unlock(&mu);
    char ctype[256] = "";
    for (const char *l = h->p; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncasecmp(l, "content-type:", 13) == 0) {
            sscanf(l + 13, " %255[^\r\n]", ctype);
            break;
        }
    }
    json_t *body = b->p ? json_loads(b->p, JSON_DECODE_ANY, NULL) : NULL;
    json_t *rec = json_pack("{s:s, s:s, s:I, s:s, s:O?, s:b}", "method", method, "path", path, "status",
                            (json_int_t)status, "content_type", ctype, "body", body, "is_json", body != NULL);
    char file[600];
    snprintf(file, sizeof file, "%s/%ld-%05lu.json", dir, (long)getpid(), n);
    if (rec)
        json_dump_file(rec, file, JSON_COMPACT);
    json_decref(rec);
    json_decref(body);
}

static size_t sink(char *data, size_t size, size_t nmemb, void *cls)
{
    membuf *b = cls;
    size_t add = size * nmemb;
    char *np = realloc(b->p, b->n + add + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, data, add);
    b->p = np;
    b->n += add;
    b->p[b->n] = 0;
    return add;
}

long hs_call(const char *base, const char *method, const char *path, const char *token, const char *body,
             size_t body_len, json_t **out, char **headers_out)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[1024], auth[1024];
    snprintf(url, sizeof url, "%s%s", base, path);
    membuf b = {0}, h = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    record_exchange(method, path, status, &b, &h);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (out)
        *out = b.p ? json_loads(b.p, 0, NULL) : NULL;
    if (headers_out)
        *headers_out = h.p;
    else
        free(h.p);
    free(b.p);
    return rc == CURLE_OK ? status : -(long)rc;
}

json_t *hs_json(const char *base, const char *method, const char *path, const char *token, long want_status,
                const char *fmt, ...)
{
    char *body = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        json_t *j = json_vpack_ex(NULL, 0, fmt, ap);
        va_end(ap);
        assert_non_null(j);
        body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    json_t *out = NULL;
    long st = hs_call(base, method, path, token, body, body ? strlen(body) : 0, &out, NULL);
    if (st != want_status) {
        char *text = out ? json_dumps(out, 0) : NULL;
        print_error("%s %s: status %ld, want %ld: %s\n", method, path, st, want_status, text ? text : "(no body)");
        free(text);
        fail();
    }
    free(body);
    assert_non_null(out);
    return out;
}

void hs_expect_error(json_t *e, long status, const char *code)
{
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "status_code")), status);
    assert_non_null(json_string_value(json_object_get(e, "error")));
    const char *msg = json_string_value(json_object_get(e, "message"));
    assert_true(msg && *msg);
    const char *slash = code ? strchr(code, '/') : NULL;
    if (slash) {
        const char *got = json_string_value(json_object_get(e, "code"));
        if (!got || strncmp(got, code, (size_t)(slash - code)) != 0 || got[slash - code])
            fail_msg("code %s, not %.*s (%s)", got ? got : "(none)", (int)(slash - code), code, msg);
        assert_string_equal(json_string_value(json_object_get(e, "tse_error")), slash + 1);
    } else if (code) {
        assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    }
    json_decref(e);
}

char *hs_token(const char *base, const char *key, const char *secret)
{
    json_t *j = hs_json(base, "POST", "/api/v2/auth", NULL, 200, "{s:s, s:s}", "api_key", key, "api_secret", secret);
    const char *t = json_string_value(json_object_get(j, "access_token"));
    assert_non_null(t);
    assert_true(json_integer_value(json_object_get(j, "access_token_expires_in")) > 0);
    assert_non_null(json_string_value(json_object_get(j, "refresh_token")));
    char *tok = strdup(t);
    json_decref(j);
    return tok;
}

void hs_org_key(const char *base, const char *op_token, const char *name, char key[64], char secret[96])
{
    json_t *org = hs_json(base, "POST", "/api/v2/organizations", op_token, 200, "{s:s}", "name", name);
    char path[128];
    snprintf(path, sizeof path, "/api/v2/organizations/%lld/api-keys",
             (long long)json_integer_value(json_object_get(org, "_id")));
    json_t *k = hs_json(base, "POST", path, op_token, 200, NULL);
    snprintf(key, 64, "%s", json_string_value(json_object_get(k, "key")));
    snprintf(secret, 96, "%s", json_string_value(json_object_get(k, "secret")));
    assert_true(strlen(key) > 0 && strlen(secret) > 0);
    json_decref(org);
    json_decref(k);
}

void hs_ready_tss(const char *base, const char *token, const char *tss_id, const char *pin, const char *client_id,
                  const char *serial)
{
    char path[1024];
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss_id);
    json_t *t = hs_json(base, "PUT", path, token, 200, "{}");
    assert_string_equal(json_string_value(json_object_get(t, "state")), "CREATED");
    char puk[32];
    snprintf(puk, sizeof puk, "%s", json_string_value(json_object_get(t, "admin_puk")));
    json_decref(t);
    json_decref(hs_json(base, "PATCH", path, token, 200, "{s:s}", "state", "UNINITIALIZED"));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin", tss_id);
    json_decref(hs_json(base, "PATCH", path, token, 200, "{s:s, s:s}", "admin_puk", puk, "new_admin_pin", pin));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/auth", tss_id);
    json_decref(hs_json(base, "POST", path, token, 200, "{s:s}", "admin_pin", pin));
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss_id);
    t = hs_json(base, "PATCH", path, token, 200, "{s:s}", "state", "INITIALIZED");
    assert_string_equal(json_string_value(json_object_get(t, "state")), "INITIALIZED");
    json_decref(t);
    snprintf(path, sizeof path, "/api/v2/tss/%s/client/%s", tss_id, client_id);
    json_decref(hs_json(base, "PUT", path, token, 200, "{s:s}", "serial_number", serial));
    snprintf(path, sizeof path, "/api/v2/tss/%s/admin/logout", tss_id);
    json_decref(hs_json(base, "POST", path, token, 200, NULL));
}

void hs_uuid(char out[37])
{
    FILE *f = fopen("/proc/sys/kernel/random/uuid", "r");
    assert_non_null(f);
    assert_non_null(fgets(out, 37, f));
    fclose(f);
}

uint8_t *hs_b64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(n / 4 * 3 + 3);
    assert_non_null(out);
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    assert_true(r >= 0);
    *len = (size_t)r - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=');
    return out;
}

/* ---- DER, written out by hand from TSE-FORMATS.md section 1 ---- */

typedef struct der {
    uint8_t *p;
    size_t n;
} der;

static void put(der *d, const void *src, size_t len)
{
    d->p = realloc(d->p, d->n + len + 1);
    assert_non_null(d->p);
    memcpy(d->p + d->n, src, len);
    d->n += len;
}

static void tlv(der *d, uint8_t tag, const void *v, size_t len)
{
    uint8_t h[6] = {tag};
    size_t hn = 1;
    if (len < 128) {
        h[hn++] = (uint8_t)len;
    } else {
        int k = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
        h[hn++] = (uint8_t)(0x80 | k);
        for (int i = k - 1; i >= 0; i--)
            h[hn++] = (uint8_t)(len >> (8 * i));
    }
    put(d, h, hn);
    put(d, v, len);
}

static void integer(der *d, uint8_t tag, uint64_t v)
{
    uint8_t b[9];
    int n = 0;
    for (int i = 7; i >= 0; i--) {
        uint8_t x = (uint8_t)(v >> (8 * i));
        if (n == 0 && x == 0 && i > 0)
            continue;
        if (n == 0 && (x & 0x80))
            b[n++] = 0;
        b[n++] = x;
    }
    tlv(d, tag, b, (size_t)n);
}

int hs_verify_tx_log(const char *operation, const char *client_serial, const uint8_t *pd, size_t pd_len,
                     const char *process_type, uint64_t tx_number, const char *serial_hex, uint64_t counter,
                     int64_t log_time, const char *sig_b64, const char *pub_b64)
{
    static const uint8_t oid_tx_log[] = {0x04, 0x00, 0x7f, 0x00, 0x07, 0x03, 0x07, 0x01, 0x01};
    static const uint8_t alg[] = {0x30, 0x0c, 0x06, 0x0a, 0x04, 0x00, 0x7f, 0x00,
                                  0x07, 0x01, 0x01, 0x04, 0x01, 0x03}; /* ecdsa-plain-SHA256 */
    der d = {0};
    bool v3 = operation[0] >= 'a' && operation[0] <= 'z';   /* startTransaction: log format 3 */
    integer(&d, 0x02, v3 ? 3 : 2);
    tlv(&d, 0x06, oid_tx_log, sizeof oid_tx_log);
    tlv(&d, 0x80, operation, strlen(operation));
    tlv(&d, 0x81, client_serial, strlen(client_serial));
    tlv(&d, 0x82, pd, pd_len);
    if (process_type || v3)   /* mandatory in format 3 */
        tlv(&d, 0x83, process_type ? process_type : "", process_type ? strlen(process_type) : 0);
    integer(&d, 0x85, tx_number);
    uint8_t serial[32];
    assert_int_equal(strlen(serial_hex), 64);
    for (int i = 0; i < 32; i++)
        assert_int_equal(sscanf(serial_hex + 2 * i, "%2hhx", &serial[i]), 1);
    tlv(&d, 0x04, serial, 32);
    put(&d, alg, sizeof alg);
    integer(&d, 0x02, counter);
    integer(&d, 0x02, (uint64_t)log_time);
    size_t sig_len = 0, pub_len = 0;
    uint8_t *sig = hs_b64_decode(sig_b64, &sig_len), *pub = hs_b64_decode(pub_b64, &pub_len);
    int rc = th_openssl_verify(TSE_CURVE_P256, TSE_HASH_SHA256, pub, pub_len, d.p, d.n, sig, sig_len);
    free(sig);
    free(pub);
    free(d.p);
    return rc;
}

int hs_verify_tx_response(json_t *tx)
{
    json_t *log = json_object_get(tx, "log"), *sig = json_object_get(tx, "signature");
    size_t pd_len = 0;
    uint8_t *pd = hs_b64_decode(json_string_value(json_object_get(tx, "process_data")), &pd_len);
    assert_string_equal(json_string_value(json_object_get(log, "timestamp_format")), "unixTime");
    assert_string_equal(json_string_value(json_object_get(sig, "algorithm")), "ecdsa-plain-SHA256");
    int rc = hs_verify_tx_log(json_string_value(json_object_get(log, "operation")),
                              json_string_value(json_object_get(tx, "client_serial_number")), pd, pd_len,
                              json_string_value(json_object_get(tx, "process_type")),
                              (uint64_t)json_integer_value(json_object_get(tx, "number")),
                              json_string_value(json_object_get(tx, "tss_serial_number")),
                              (uint64_t)json_integer_value(json_object_get(sig, "counter")),
                              json_integer_value(json_object_get(log, "timestamp")),
                              json_string_value(json_object_get(sig, "value")),
                              json_string_value(json_object_get(sig, "public_key")));
    free(pd);
    return rc;
}

void hs_export_all(const char *base, const char *token, const char *tss, const char *file)
{
    char id[37], path[600];
    hs_uuid(id);
    snprintf(path, sizeof path, "/api/v2/tss/%s/export/%s", tss, id);
    json_decref(hs_json(base, "PUT", path, token, 200, NULL));
    for (int i = 0;; i++) {
        json_t *j = hs_json(base, "GET", path, token, 200, NULL);
        const char *st = json_string_value(json_object_get(j, "state"));
        int done = st && strcmp(st, "PENDING") && strcmp(st, "WORKING");
        if (done)
            assert_string_equal(st, "COMPLETED");
        json_decref(j);
        if (done)
            break;
        assert_true(i < 3000);
        usleep(20000);
    }
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "curl -sf -o '%s' -H 'Authorization: Bearer %s' '%s%s/file'", file, token, base, path);
    assert_int_equal(system(cmd), 0);
}

typedef struct headers_buf {
    char *p;
    size_t len, cap;
} headers_buf;

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    headers_buf *h = ctx;
    size_t len = size * n;
    if (h->p && h->len + len < h->cap) {
        memcpy(h->p + h->len, p, len);
        h->len += len;
        h->p[h->len] = 0;
    }
    return len;
}

long hs_download(const char *base, const char *path, const char *token, const char *file, char *headers, size_t cap)
{
    char url[1200], auth[600];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    headers_buf hb = {headers, 0, cap};
    if (headers && cap)
        headers[0] = 0;
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    CURL *c = curl_easy_init();
    struct curl_slist *h = token ? curl_slist_append(NULL, auth) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    assert_int_equal(fclose(f), 0);
    return status;
}
