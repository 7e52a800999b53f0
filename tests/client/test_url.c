/*
 * test_url.c - the URL of a remote TSE: malformed URLs (no host, bad port,
 * unknown scheme, no or a broken /tss/<uuid>, credentials, query, overlong)
 * are refused by tse_open and tse_create with TSE_ERR_INVALID_ARGUMENT and a
 * message naming the problem; well-formed ones reach the server under the
 * API root they name (a listener on a real port records the request line).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "opentse/opentse.h"

#define UUID "0b6d3c2e-8f1a-4c7b-9e2d-5a4f3b2c1d0e"

static tse_open_options options(void)
{
    return (tse_open_options){.api_key = "key", .api_secret = "secret", .retries = -1, .timeout_ms = 5000};
}

/* tse_open(url) and tse_create(url) both refuse with INVALID_ARGUMENT and a
 * message that contains `words`. */
static void refused(const char *url, const char *words)
{
    tse_open_options oo = options();
    tse *t = (tse *)&oo;
    assert_int_equal(tse_open(url, &oo, &t), TSE_ERR_INVALID_ARGUMENT);
    assert_null(t);
    const char *msg = tse_last_error_message();
    if (!strstr(msg, words))
        fail_msg("tse_open(\"%.80s\"): message \"%s\" does not say \"%s\"", url, msg, words);
    tse_create_options co = {.remote = &oo};
    char puk[TSE_PUK_LEN + 1] = "";
    assert_int_equal(tse_create(url, &co, puk), TSE_ERR_INVALID_ARGUMENT);
    if (!strstr(tse_last_error_message(), words))
        fail_msg("tse_create(\"%.80s\"): message \"%s\" does not say \"%s\"", url, tse_last_error_message(), words);
    assert_string_equal(puk, "");
}

static void test_malformed(void **state)
{
    (void)state;
    unsetenv("OPENTSE_TSS_ID");
    refused("http://", "No host part");
    refused("https://", "No host part");
    refused("http:///tss/" UUID, "has no host");
    refused("https:///", "has no host");
    refused("http://127.0.0.1:99999/tss/" UUID, "Port number");
    refused("http://127.0.0.1:80x/tss/" UUID, "Port number");
    refused("http://127.0.0.1:-1/tss/" UUID, "Port number");
    refused("http://exa mple.com/tss/" UUID, "malformed");
    refused("http://[::1/tss/" UUID, "malformed");
    refused("ftp://127.0.0.1/tss/" UUID, "scheme");
    refused("gopher://x", "scheme");
    refused("http://127.0.0.1:8080", "no TSS id");
    refused("http://127.0.0.1:8080/api/v2/", "no TSS id");
    refused("http://127.0.0.1:8080/tss/", "not a UUID");
    refused("http://127.0.0.1:8080/tss/" UUID "x", "not a UUID");
    refused("http://127.0.0.1:8080/tss/" UUID "/client", "not a UUID");
    refused("http://127.0.0.1:8080/tss/0b6d3c2e-8f1a-4c7b-9e2d-5a4f3b2c1d0g", "not a UUID");
    refused("http://127.0.0.1:8080/tss/" UUID "?x=1", "query");
    refused("http://127.0.0.1:8080/tss/" UUID "#top", "fragment");
    refused("http://user:pw@127.0.0.1:8080/tss/" UUID, "credentials");

    char long_path[3000] = "http://127.0.0.1:8080/";
    memset(long_path + strlen(long_path), 'a', 2000);
    strcat(long_path, "/tss/" UUID);
    refused(long_path, "longer than");
    char long_host[3000] = "http://";
    memset(long_host + 7, 'h', 2500);
    refused(long_host, "longer than");

    /* The TSS id from the options must be a UUID too. */
    tse_open_options oo = options();
    oo.tss_id = "not-a-uuid";
    tse *t = NULL;
    assert_int_equal(tse_open("http://127.0.0.1:8080", &oo, &t), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tse_last_error_message(), "not a UUID"));
    assert_int_equal(tse_open(NULL, &oo, &t), TSE_ERR_INVALID_ARGUMENT);
}

/* A listener on a free port that records the first request line it gets
 * and closes every connection without an answer. */
typedef struct listener {
    int fd, port;
    pthread_t th;
    char line[512];
} listener;

static void *listen_main(void *arg)
{
    listener *l = arg;
    int c = accept(l->fd, NULL, NULL);
    if (c >= 0) {
        size_t n = 0;
        char ch;
        while (n + 1 < sizeof l->line && read(c, &ch, 1) == 1 && ch != '\r')
            l->line[n++] = ch;
        l->line[n] = 0;
        close(c);
    }
    return NULL;
}

static void listener_start(listener *l)
{
    memset(l, 0, sizeof *l);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l->fd, 4), 0);
    assert_int_equal(getsockname(l->fd, (struct sockaddr *)&a, &len), 0);
    l->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&l->th, NULL, listen_main, l), 0);
}

/* Opens `fmt` (with the listener's port) and makes one call; the server's
 * first request line must start with `want`. */
static void reaches(const char *fmt, const char *tss_id, const char *want)
{
    listener l;
    listener_start(&l);
    char url[256];
    snprintf(url, sizeof url, fmt, l.port);
    tse_open_options oo = options();
    oo.tss_id = tss_id;
    tse *t = NULL;
    if (tse_open(url, &oo, &t) != TSE_OK)
        fail_msg("tse_open(\"%s\"): %s", url, tse_last_error_message());
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_ERR_UNREACHABLE);
    tse_close(t);
    pthread_join(l.th, NULL);
    close(l.fd);
    if (strncmp(l.line, want, strlen(want)) != 0)
        fail_msg("%s: the server got \"%s\", not \"%s...\"", url, l.line, want);
}

static void test_well_formed(void **state)
{
    (void)state;
    reaches("http://127.0.0.1:%d/tss/" UUID, NULL, "POST /api/v2/");
    reaches("http://127.0.0.1:%d/tss/" UUID "/", NULL, "POST /api/v2/");
    reaches("http://127.0.0.1:%d/prefix/api/v2/tss/" UUID, NULL, "POST /prefix/api/v2/");
    reaches("HTTP://127.0.0.1:%d/prefix//", UUID, "POST /prefix/api/v2/");
    reaches("http://127.0.0.1:%d", UUID, "POST /api/v2/");
    setenv("OPENTSE_TSS_ID", UUID, 1);
    reaches("http://127.0.0.1:%d/api/v2", NULL, "POST /api/v2/");
    unsetenv("OPENTSE_TSS_ID");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_well_formed),
    };
    return cmocka_run_group_tests_name("client_url", tests, NULL, NULL);
}
