/*
 * test_outage.c - the remote transport when the network misbehaves, against
 * the real opentsed: a lost answer is retried without a second signature
 * (a proxy drops the connection after the server answered; the signature
 * counter is checked), an unreachable server gives TSE_ERR_UNREACHABLE and
 * journals the operation, the outage ends when the server answers again,
 * and the journal survives SIGKILL of the register mid-run.
 */
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "proxy.h"
#include "transport.h"

static const char *pt = "Kassenbeleg-V1";

/* The URL of TSS `url` seen through 127.0.0.1:port. */
static char *via_port(const char *url, int port)
{
    char *out = NULL;
    assert_true(asprintf(&out, "http://127.0.0.1:%d%s", port, strstr(url, "/tss/")) > 0);
    return out;
}

static uint64_t counter(tse *t)
{
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    return info.signature_counter;
}

static json_t *report(tse *t)
{
    char *text = NULL;
    assert_int_equal(tse_outage_report(t, &text), TSE_OK);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    tse_free(text);
    return j;
}

static void test_lost_answer_is_not_signed_twice(void **state)
{
    (void)state;
    char *url = NULL;
    tse *direct = tt_ready("retry", &url);
    int port = 0;
    tproxy *p = tproxy_start(tt_the_server()->port, &port);
    assert_non_null(p);
    char *purl = via_port(url, port);
    tse *t = tt_open(purl);

    /* start: the answer is lost once, the retry gets the stored result */
    uint64_t c0 = counter(direct);
    tproxy_drop_next(p, "tx_revision=1", 1);
    tse_result s;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, pt, NULL, 0, &s), TSE_OK);
    assert_int_equal(tproxy_dropped(p), 1);
    assert_int_equal(s.signature_counter, c0 + 1);
    assert_int_equal(counter(direct), c0 + 1);

    /* finish: the same */
    tproxy_drop_next(p, "tx_revision=2", 1);
    tse_result f;
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"x", 1, pt, NULL, 0,
                                            &f),
                     TSE_OK);
    assert_int_equal(tproxy_dropped(p), 2);
    assert_int_equal(f.signature_counter, c0 + 2);
    assert_int_equal(counter(direct), c0 + 2);
    tse_close(t);

    /* without retries the call reports UNREACHABLE although the server
     * signed (libcurl itself retries once on a reused connection: both
     * answers are lost); repeating the same operation returns that
     * signature, no new one */
    tse_open_options oo = tt_open_options();
    oo.retries = -1;
    assert_int_equal(tse_open(purl, &oo, &t), TSE_OK);
    tproxy_drop_next(p, "tx_revision=1", 2);
    tse_result lost, again;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"y", 1, pt, NULL, 0, &lost),
                     TSE_ERR_UNREACHABLE);
    assert_true(tproxy_dropped(p) >= 3);
    assert_int_equal(counter(direct), c0 + 3);
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"y", 1, pt, NULL, 0, &again), TSE_OK);
    assert_int_equal(again.signature_counter, c0 + 3);
    assert_int_equal(counter(direct), c0 + 3);
    /* the same for an update whose answer was lost */
    tproxy_drop_next(p, "tx_revision=2", 2);
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, again.transaction_number, (const uint8_t *)"u", 1, pt,
                                            TSE_UPDATE_SIGNED, &lost),
                     TSE_ERR_UNREACHABLE);
    tse_result u;
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, again.transaction_number, (const uint8_t *)"u", 1, pt,
                                            TSE_UPDATE_SIGNED, &u),
                     TSE_OK);
    assert_int_equal(u.signature_counter, c0 + 4);
    /* a different update after a lost one asks the server for the revision */
    tproxy_drop_next(p, "tx_revision=3", 2);
    assert_int_equal(tse_update_transaction(t, TT_CLIENT, again.transaction_number, (const uint8_t *)"v", 1, pt,
                                            TSE_UPDATE_SIGNED, &lost),
                     TSE_ERR_UNREACHABLE);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, again.transaction_number, (const uint8_t *)"w", 1, pt, NULL,
                                            0, &f),
                     TSE_OK);
    assert_int_equal(f.signature_counter, c0 + 6);
    assert_int_equal(counter(direct), c0 + 6);
    tse_close(t);
    tse_close(direct);
    tproxy_stop(p);
    free(purl);
    free(url);
}

/* The register dies right after a request whose answer was lost; restarted,
 * it repeats the sale and gets the signature the server made, not a new one. */
static void test_replay_after_restart(void **state)
{
    (void)state;
    char *url = NULL;
    tse *direct = tt_ready("restart", &url);
    int port = 0;
    tproxy *p = tproxy_start(tt_the_server()->port, &port);
    assert_non_null(p);
    char *purl = via_port(url, port);
    char *journal = th_path("restart.journal");
    uint64_t c0 = counter(direct);
    tproxy_drop_next(p, "tx_revision=1", 2);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tse_open_options oo = {.journal_path = journal, .retries = -1};
        tse *t = NULL;
        tse_result r;
        if (tse_open(purl, &oo, &t) != TSE_OK)
            _exit(2);
        _exit(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"sale 1", 6, pt, NULL, 0, &r) ==
                      TSE_ERR_UNREACHABLE
                  ? 0
                  : 3);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(counter(direct), c0 + 1);   /* the server did sign */

    tse_open_options oo = tt_open_options();
    oo.journal_path = journal;
    tse *t = NULL;
    assert_int_equal(tse_open(purl, &oo, &t), TSE_OK);
    tse_result again;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"sale 1", 6, pt, NULL, 0, &again), TSE_OK);
    assert_int_equal(again.signature_counter, c0 + 1);
    assert_int_equal(counter(direct), c0 + 1);
    /* no transaction was left open by the lost answer */
    tse_open_transaction *open = NULL;
    size_t n = 0;
    assert_int_equal(tse_list_open_transactions(t, &open, &n), TSE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(open[0].transaction_number, again.transaction_number);
    tse_free(open);
    json_t *j = report(t);
    assert_true(json_is_string(json_object_get(json_array_get(json_object_get(j, "outages"), 0), "end")));
    json_decref(j);
    tse_close(t);
    tse_close(direct);
    tproxy_stop(p);
    free(journal);
    free(purl);
    free(url);
}

/* The server goes away mid-run and comes back. */
static void test_outage_journal(void **state)
{
    (void)state;
    char *dir = th_path("outage-server");
    tt_server srv;
    tt_server_start(&srv, dir, 0);
    char *url = tt_tss_url(srv.base);
    tse_close(tt_ready_at(url));
    char *journal = th_path("outage.journal");
    tse_open_options oo = tt_open_options();
    oo.journal_path = journal;
    oo.connect_timeout_ms = 500;
    oo.retries = 1;
    tse *t = NULL;
    assert_int_equal(tse_open(url, &oo, &t), TSE_OK);
    tse_result s, f;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, pt, NULL, 0, &s), TSE_OK);

    tt_server_stop(&srv, true);
    const char *item = "Beleg^2.50_0.00_0.00_0.00_0.00^2.50:Bar";
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)item, strlen(item),
                                            pt, NULL, 0, &f),
                     TSE_ERR_UNREACHABLE);
    assert_non_null(strstr(tse_last_error_message(), "127.0.0.1"));
    tse_result r2;
    assert_int_equal(tse_start_transaction(t, "KASSE-02", (const uint8_t *)"", 0, pt, NULL, 0, &r2),
                     TSE_ERR_UNREACHABLE);
    json_t *j = report(t);
    json_t *outages = json_object_get(j, "outages");
    assert_int_equal(json_array_size(outages), 1);
    json_t *o = json_array_get(outages, 0);
    assert_true(json_is_null(json_object_get(o, "end")));
    assert_true(json_string_length(json_object_get(o, "cause")) > 0);
    json_t *ops = json_object_get(o, "operations");
    assert_int_equal(json_array_size(ops), 2);
    json_t *op = json_array_get(ops, 0);
    assert_string_equal(json_string_value(json_object_get(op, "operation")), "finishTransaction");
    assert_int_equal(json_integer_value(json_object_get(op, "transaction_number")), (json_int_t)s.transaction_number);
    assert_int_equal(json_string_length(json_object_get(op, "tx_id")), 36);
    assert_int_equal(json_integer_value(json_object_get(op, "tx_revision")), 2);
    size_t pd_len = 0;
    uint8_t *pd = tt_unb64(json_string_value(json_object_get(op, "process_data")), &pd_len);
    assert_int_equal(pd_len, strlen(item));
    assert_memory_equal(pd, item, pd_len);
    free(pd);
    json_t *clients = json_object_get(o, "clients");
    assert_int_equal(json_array_size(clients), 2);
    assert_string_equal(json_string_value(json_array_get(clients, 0)), TT_CLIENT);
    assert_string_equal(json_string_value(json_array_get(clients, 1)), "KASSE-02");
    json_decref(j);

    /* back: the same finish goes through (no second signature) and the outage ends */
    tt_server_start(&srv, dir, srv.port);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)item, strlen(item),
                                            pt, NULL, 0, &f),
                     TSE_OK);
    assert_true(f.signature_counter > s.signature_counter); /* the restart wrote a self-test log */
    assert_int_equal(f.transaction_number, s.transaction_number);
    j = report(t);
    o = json_array_get(json_object_get(j, "outages"), 0);
    assert_true(json_is_string(json_object_get(o, "end")));
    assert_true(json_integer_value(json_object_get(o, "end_unix")) >=
                json_integer_value(json_object_get(o, "start_unix")));
    json_decref(j);
    tse_close(t);
    tt_server_stop(&srv, false);
    free(journal);
    free(url);
    free(dir);
}

/* The register is killed while it journals; what it journaled stays. */
static void test_journal_survives_kill(void **state)
{
    (void)state;
    char *journal = th_path("kill.journal");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/tss/0b8e7c52-61a4-4f0e-9d1c-3f2a5b6c7d8e", tt_free_port());
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        tse_open_options oo = {.journal_path = journal, .retries = -1, .api_key = "k", .api_secret = "s"};
        tse *t = NULL;
        if (tse_open(url, &oo, &t))
            _exit(2);
        for (uint64_t i = 1;; i++) {
            tse_result r;
            char pd[32];
            snprintf(pd, sizeof pd, "sale %llu", (unsigned long long)i);
            if (tse_start_transaction(t, TT_CLIENT, (const uint8_t *)pd, strlen(pd), pt, NULL, 0, &r) !=
                TSE_ERR_UNREACHABLE)
                _exit(3);
            if (write(fds[1], "+", 1) != 1)
                _exit(4);
        }
    }
    close(fds[1]);
    char c;
    int got = 0;
    while (got < 20 && read(fds[0], &c, 1) == 1)
        got++;
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(got, 20);
    close(fds[0]);

    tse_open_options oo = {.journal_path = journal, .api_key = "k", .api_secret = "s"};
    tse *t = NULL;
    assert_int_equal(tse_open(url, &oo, &t), TSE_OK);
    json_t *j = report(t);
    json_t *o = json_array_get(json_object_get(j, "outages"), 0);
    assert_non_null(o);
    json_t *ops = json_object_get(o, "operations");
    /* every acknowledged operation is there, in order */
    assert_true(json_array_size(ops) >= 20);
    for (size_t i = 0; i < 20; i++) {
        size_t n = 0;
        uint8_t *pd = tt_unb64(json_string_value(json_object_get(json_array_get(ops, i), "process_data")), &n);
        char want[32];
        snprintf(want, sizeof want, "sale %zu", i + 1);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(pd, want, n);
        free(pd);
    }
    json_decref(j);
    tse_close(t);
    free(journal);
}

static void test_no_journal(void **state)
{
    (void)state;
    tse_open_options oo = {.api_key = "k", .api_secret = "s", .connect_timeout_ms = 300};
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/tss/0b8e7c52-61a4-4f0e-9d1c-3f2a5b6c7d8e", tt_free_port());
    tse *t = NULL;
    unsetenv("OPENTSE_JOURNAL");
    assert_int_equal(tse_open(url, &oo, &t), TSE_OK);
    char *text = NULL;
    assert_int_equal(tse_outage_report(t, &text), TSE_ERR_INVALID_ARGUMENT);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_ERR_UNREACHABLE);
    tse_close(t);
    /* a URL without a TSS id, a bad one, no credentials */
    assert_int_equal(tse_open("http://127.0.0.1:1", &oo, &t), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_open("http://127.0.0.1:1/tss/not-a-uuid", &oo, &t), TSE_ERR_INVALID_ARGUMENT);
    tse_open_options none = {0};
    unsetenv("OPENTSE_API_KEY");
    unsetenv("OPENTSE_API_SECRET");
    assert_int_equal(tse_open(url, &none, &t), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tse_last_error_message(), "API key"));
}

/* https: the same calls over TLS; an untrusted certificate is no TSE. */
static void test_https(void **state)
{
    (void)state;
    char *cert = th_path("tls.pem"), *key = th_path("tls.key"), cmd[2048];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' 2>/dev/null",
             key, cert);
    assert_int_equal(system(cmd), 0);
    char *dir = th_path("tls-server");
    tt_server srv;
    tt_server_start_tls(&srv, dir, cert, key);
    char *url = tt_tss_url(srv.base);
    tse_open_options oo = tt_open_options();
    oo.ca_file = cert;
    char puk[TSE_PUK_LEN + 1];
    tse_create_options co = {.remote = &oo};
    assert_int_equal(tse_create(url, &co, puk), TSE_OK);
    tse *t = NULL;
    assert_int_equal(tse_open(url, &oo, &t), TSE_OK);
    assert_int_equal(tse_set_admin_pin(t, puk, TT_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_initialize(t, "tls"), TSE_OK);
    assert_int_equal(tse_register_client(t, TT_CLIENT), TSE_OK);
    tse_result s;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, pt, NULL, 0, &s), TSE_OK);
    assert_int_equal(s.transaction_number, 1);
    tse_close(t);
    /* without the CA the certificate is not trusted: no answer is taken */
    oo.ca_file = NULL;
    assert_int_equal(tse_open(url, &oo, &t), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_ERR_UNREACHABLE);
    assert_non_null(strstr(tse_last_error_message(), "certificate"));
    tse_close(t);
    tt_server_stop(&srv, false);
    free(url);
    free(dir);
    free(cert);
    free(key);
}

/* The requests of one route and status class in the server's metrics. */
static long metric(const char *base, const char *route, const char *status)
{
    char cmd[512], want[128], line[512];
    snprintf(cmd, sizeof cmd, "curl -s %s/metrics", base);
    snprintf(want, sizeof want, "opentsed_requests_total{route=\"%s\",status=\"%s\"} ", route, status);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    long n = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, want, strlen(want)))
            n = atol(line + strlen(want));
    pclose(f);
    return n;
}

/* Access tokens that live two seconds: the handle renews them before they
 * expire, so no request is turned away. */
static void test_token_refresh(void **state)
{
    (void)state;
    char *dir = th_path("token-server");
    tt_server srv;
    setenv("OPENTSED_TOKEN_TTL", "2", 1);
    tt_server_start(&srv, dir, 0);
    unsetenv("OPENTSED_TOKEN_TTL");
    char *url = tt_tss_url(srv.base);
    tse *t = tt_ready_at(url);
    long auths = metric(srv.base, "auth", "2xx");
    assert_true(auths >= 1);
    for (int i = 0; i < 3; i++) {
        usleep(1600000);
        tse_result s;
        assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, pt, NULL, 0, &s), TSE_OK);
    }
    assert_true(metric(srv.base, "auth", "2xx") >= auths + 2);
    /* a refused token would count as a 4xx of route tss (checked before the sub-route) */
    assert_int_equal(metric(srv.base, "tss", "4xx"), 0);
    assert_int_equal(metric(srv.base, "tx", "4xx"), 0);
    tse_close(t);
    tt_server_stop(&srv, false);
    free(url);
    free(dir);
}

/* A server that limits requests: the handle waits as Retry-After says and
 * goes on; a wrong API secret is a refusal, not an outage. */
static void test_rate_limit_and_wrong_key(void **state)
{
    (void)state;
    char *dir = th_path("rate-server");
    tt_server srv;
    setenv("OPENTSED_RATE_LIMIT", "5", 1);
    tt_server_start(&srv, dir, 0);
    unsetenv("OPENTSED_RATE_LIMIT");
    char *url = tt_tss_url(srv.base);
    tse *t = tt_ready_at(url);
    for (int i = 0; i < 4; i++) {
        tse_result s, f;
        assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, pt, NULL, 0, &s), TSE_OK);
        assert_int_equal(tse_finish_transaction(t, TT_CLIENT, s.transaction_number, (const uint8_t *)"x", 1, pt,
                                                NULL, 0, &f),
                         TSE_OK);
        assert_int_equal(f.signature_counter, s.signature_counter + 1);
    }
    assert_true(metric(srv.base, "tss", "4xx") > 0);   /* 429s were answered and waited out */
    tse_close(t);

    char *journal = th_path("wrong-key.journal");
    tse_open_options oo = {.api_key = srv.api_key, .api_secret = "not-the-secret", .journal_path = journal};
    assert_int_equal(tse_open(url, &oo, &t), TSE_OK);
    tse_result r;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"", 0, pt, NULL, 0, &r),
                     TSE_ERR_AUTHENTICATION_FAILED);
    json_t *j = report(t);
    assert_int_equal(json_array_size(json_object_get(j, "outages")), 0);
    json_decref(j);
    tse_close(t);
    tt_server_stop(&srv, false);
    free(journal);
    free(url);
    free(dir);
}

int main(void)
{
    tt_init("http");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_answer_is_not_signed_twice),
        cmocka_unit_test(test_replay_after_restart),
        cmocka_unit_test(test_outage_journal),
        cmocka_unit_test(test_journal_survives_kill),
        cmocka_unit_test(test_https),
        cmocka_unit_test(test_token_refresh),
        cmocka_unit_test(test_rate_limit_and_wrong_key),
        cmocka_unit_test(test_no_journal),
    };
    return cmocka_run_group_tests_name("client_outage", tests, NULL, NULL);
}
