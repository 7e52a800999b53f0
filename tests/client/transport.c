/* transport.c - the two transports of the client tests (see transport.h). */
#include "transport.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

static bool use_http;
static tt_server the_server;
static bool server_up;

int tt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p, (void)u;
    return s * n;
}

static bool healthy(const char *base, const char *ca)
{
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/health", base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status == 200;
}

/* The port of "opentsed listening on <url>" in the log after offset
 * `from`, 0 while it is not there. */
static int listening_port(const char *log, off_t from)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return 0;
    int port = 0;
    char line[512];
    if (fseeko(f, from, SEEK_SET) == 0)
        while (!port && fgets(line, sizeof line, f)) {
            const char *at = strstr(line, "opentsed listening on ");
            const char *colon = at ? strrchr(at, ':') : NULL;
            if (colon)
                port = atoi(colon + 1);
        }
    fclose(f);
    return port;
}

static void start(tt_server *s, const char *data_dir, int port, const char *cert, const char *key)
{
    const char *bin = getenv("OPENTSED");
    assert_non_null(bin);
    memset(s, 0, sizeof *s);
    s->ca = cert;
    snprintf(s->data_dir, sizeof s->data_dir, "%s", data_dir);
    mkdir(data_dir, 0700);
    char listen[64], log[600];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);   /* 0: the server takes a free one and prints it */
    snprintf(log, sizeof log, "%s/opentsed.log", data_dir);
    struct stat was;
    off_t from = stat(log, &was) == 0 ? was.st_size : 0;   /* a restart appends to the same log */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (cert)
            execl(bin, bin, "--data-dir", data_dir, "--listen", listen, "--demo", "--tls-cert", cert, "--tls-key", key,
                  (char *)NULL);
        else
            execl(bin, bin, "--data-dir", data_dir, "--listen", listen, "--demo", (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    char demo[600];
    snprintf(demo, sizeof demo, "%s/demo.json", data_dir);
    for (int i = 0; i < 300 && (!s->port || !healthy(s->base, s->ca)); i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            fail_msg("opentsed exited during start (see %s)", log);
        }
        if (!s->port)
            s->port = listening_port(log, from);
        if (s->port)
            snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", cert ? "https" : "http", s->port);
        usleep(50000);
    }
    if (!s->port)
        fail_msg("opentsed did not say where it listens (see %s)", log);
    json_t *d = json_load_file(demo, 0, NULL);
    assert_non_null(d);
    snprintf(s->api_key, sizeof s->api_key, "%s", json_string_value(json_object_get(d, "api_key")));
    snprintf(s->api_secret, sizeof s->api_secret, "%s", json_string_value(json_object_get(d, "api_secret")));
    json_decref(d);
    assert_true(healthy(s->base, s->ca));
    setenv("OPENTSE_API_KEY", s->api_key, 1);
    setenv("OPENTSE_API_SECRET", s->api_secret, 1);
}

void tt_server_start(tt_server *s, const char *data_dir, int port)
{
    start(s, data_dir, port, NULL, NULL);
}

void tt_server_start_tls(tt_server *s, const char *data_dir, const char *cert, const char *key)
{
    start(s, data_dir, 0, cert, key);
}

void tt_server_stop(tt_server *s, bool hard)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, hard ? SIGKILL : SIGTERM);
    int st;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
}

static void stop_at_exit(void)
{
    if (server_up)
        tt_server_stop(&the_server, false);
}

void tt_init(const char *transport)
{
    use_http = transport && strcmp(transport, "http") == 0;
}

bool tt_http(void)
{
    return use_http;
}

tt_server *tt_the_server(void)
{
    if (!server_up) {
        char *dir = th_path("server");
        tt_server_start(&the_server, dir, 0);
        free(dir);
        server_up = true;
        atexit(stop_at_exit);
    }
    return &the_server;
}

char *tt_tss_url(const char *base)
{
    uint8_t b[16];
    assert_int_equal(RAND_bytes(b, sizeof b), 1);
    char h[33];
    tse_hex(b, 16, h);
    char *url = NULL;
    assert_true(asprintf(&url, "%s/tss/%.8s-%.4s-4%.3s-a%.3s-%.12s", base, h, h + 8, h + 13, h + 17, h + 20) > 0);
    return url;
}

char *tt_new_url(const char *stem)
{
    static int seq;
    if (use_http)
        return tt_tss_url(tt_the_server()->base);
    char *url = NULL;
    assert_true(asprintf(&url, "file:%s/%s-%d.db", th_tmpdir(), stem, seq++) > 0);
    return url;
}

tse_open_options tt_open_options(void)
{
    return (tse_open_options){.master_key_path = th_master_key()};
}

/* Creates the TSE at `url`. */
static void create_at(const char *url, char puk[TSE_PUK_LEN + 1])
{
    tse_open_options oo = tt_open_options();
    /* the server trusts its clock; so does the embedded TSE under test */
    tse_create_options co = {.master_key_path = th_master_key(), .trust_system_clock = 1, .remote = &oo};
    tse_err rc = tse_create(strncmp(url, "file:", 5) ? url : url + 5, &co, puk);
    if (rc)
        fail_msg("tse_create(%s): %s (%s)", url, tse_strerror(rc), tse_last_error_message());
}

char *tt_create(const char *stem, char puk[TSE_PUK_LEN + 1])
{
    char *url = tt_new_url(stem);
    create_at(url, puk);
    return url;
}

tse *tt_open(const char *url)
{
    tse_open_options oo = tt_open_options();
    tse *t = NULL;
    tse_err rc = tse_open(url, &oo, &t);
    if (rc)
        fail_msg("tse_open(%s): %s (%s)", url, tse_strerror(rc), tse_last_error_message());
    return t;
}

tse *tt_ready_at(const char *url)
{
    char puk[TSE_PUK_LEN + 1];
    create_at(url, puk);
    tse *t = tt_open(url);
    assert_int_equal(tse_set_admin_pin(t, puk, TT_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_initialize(t, "OpenTSE client test"), TSE_OK);
    assert_int_equal(tse_register_client(t, TT_CLIENT), TSE_OK);
    return t;
}

tse *tt_ready(const char *stem, char **url_out)
{
    char *url = tt_new_url(stem);
    tse *t = tt_ready_at(url);
    if (url_out)
        *url_out = url;
    else
        free(url);
    return t;
}

unsigned char *tt_unb64(const char *s, size_t *n)
{
    size_t len = s ? strlen(s) : 0;
    unsigned char *out = malloc(len / 4 * 3 + 3);
    int got = out && len % 4 == 0 ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)len) : -1;
    if (got < 0) {
        free(out);
        return NULL;
    }
    *n = (size_t)got - (len && s[len - 1] == '=' ? (len > 1 && s[len - 2] == '=' ? 2 : 1) : 0);
    return out;
}

void tt_check_signature(tse *t, const logmsg *m)
{
    tse_info info;
    uint8_t *point = NULL;
    size_t point_len = 0;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    assert_int_equal(th_openssl_verify(info.curve, info.hash, point, point_len, m->signed_bytes.p, m->signed_bytes.n,
                                       m->signature.p, m->signature.n),
                     0);
    tse_free(point);
}

char *tt_asn1parse(const uint8_t *der, size_t len)
{
    char *in = th_path("asn1.der"), cmd[1200];
    assert_int_equal(th_write_file(in, der, len), 0);
    snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in '%s' 2>&1", in);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 65536);
    assert_non_null(out);
    size_t n = fread(out, 1, 65535, p);
    out[n] = 0;
    assert_int_equal(pclose(p), 0);
    free(in);
    return out;
}
