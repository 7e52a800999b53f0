/*
 * test_pos.c - runs examples/pos.c (opentse-pos) against both transports:
 * three receipts with QR codes that verify (our verifier and the openssl
 * command line over the rebuilt Finish log); over http the server is killed
 * after the first receipt and the register goes on selling, with the
 * receipts marked "TSE ausgefallen" and the sales in the outage journal.
 */
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "receipt/receipt.h"
#include "transport.h"

typedef struct child {
    pid_t pid;
    FILE *in, *out;
} child;

static child spawn(const char *url, const char *journal)
{
    int to[2], from[2];
    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);
    child c = {.pid = fork()};
    assert_true(c.pid >= 0);
    if (c.pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        const char *pos = getenv("OPENTSE_POS");
        execl(pos, pos, url, TT_CLIENT, "--journal", journal, "--step", (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    c.in = fdopen(to[1], "w");
    c.out = fdopen(from[0], "r");
    return c;
}

/* Lets the register sell one receipt; returns its status line and fills qr. */
static void next_receipt(child *c, int n, char *status, size_t cap, char *qr, size_t qcap)
{
    fputs("\n", c->in);
    fflush(c->in);
    char line[4096], want[32], want_qr[32];
    snprintf(want, sizeof want, "receipt %d: ", n);
    snprintf(want_qr, sizeof want_qr, "qr %d: ", n);
    qr[0] = 0;
    while (fgets(line, sizeof line, c->out)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, want_qr, strlen(want_qr)))
            snprintf(qr, qcap, "%s", line + strlen(want_qr));
        if (!strncmp(line, want, strlen(want))) {
            snprintf(status, cap, "%s", line + strlen(want));
            return;
        }
    }
    fail_msg("opentse-pos ended before receipt %d", n);
}

static int finish(child *c)
{
    fclose(c->in);
    char line[4096];
    while (fgets(line, sizeof line, c->out))
        ;
    fclose(c->out);
    int st;
    waitpid(c->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The QR code verifies: our verifier, and openssl over the rebuilt bytes. */
static void check_qr(const char *qr)
{
    tse_error err = {0};
    assert_int_equal(receipt_qr_verify(qr, NULL, &err), RECEIPT_QR_VALID);
    receipt_qr_parsed p;
    assert_true(receipt_qr_parse(qr, &p, &err));
    p.q.log_version = 3;   /* the register's TSE is of the default log format */
    size_t len = 0;
    uint8_t *tbs = receipt_qr_signed_bytes(&p.q, &len, &err);
    assert_non_null(tbs);
    assert_int_equal(th_openssl_verify(TSE_CURVE_P256, TSE_HASH_SHA256, p.q.public_key, p.q.public_key_len, tbs,
                                       len, p.q.signature, p.q.signature_len),
                     0);
    free(tbs);
    receipt_qr_parsed_free(&p);
}

static void test_pos(void **state)
{
    (void)state;
    tt_server srv = {0};
    char *url = NULL;
    if (tt_http()) {
        /* a server of its own: this test kills it */
        char *dir = th_path("pos-server");
        tt_server_start(&srv, dir, 0);
        free(dir);
        url = tt_tss_url(srv.base);
        tse_close(tt_ready_at(url));
    } else {
        tse_close(tt_ready("pos", &url));
        setenv("OPENTSE_MASTER_KEY", th_master_key(), 1);
    }
    char *journal = th_path(tt_http() ? "pos-http.journal" : "pos-file.journal");
    child c = spawn(url, journal);
    char status[256], qr[4096];
    next_receipt(&c, 1, status, sizeof status, qr, sizeof qr);
    assert_non_null(strstr(status, "signed transaction"));
    check_qr(qr);
    if (tt_http())
        tt_server_stop(&srv, true);
    for (int n = 2; n <= 3; n++) {
        next_receipt(&c, n, status, sizeof status, qr, sizeof qr);
        if (tt_http()) {
            assert_string_equal(status, "TSE ausgefallen");
            assert_string_equal(qr, "");
        } else {
            assert_non_null(strstr(status, "signed transaction"));
            check_qr(qr);
        }
    }
    assert_int_equal(finish(&c), 0);

    /* the journal: nothing for the embedded TSE, the two sales over http */
    tse_open_options oo = tt_open_options();
    oo.journal_path = journal;
    tse *t = NULL;
    assert_int_equal(tse_open(url, &oo, &t), TSE_OK);
    char *text = NULL;
    assert_int_equal(tse_outage_report(t, &text), TSE_OK);
    json_t *j = json_loads(text, 0, NULL);
    tse_free(text);
    json_t *outages = json_object_get(j, "outages");
    if (tt_http()) {
        assert_int_equal(json_array_size(outages), 1);
        json_t *ops = json_object_get(json_array_get(outages, 0), "operations");
        assert_int_equal(json_array_size(ops), 2);
        for (size_t i = 0; i < 2; i++)
            assert_string_equal(json_string_value(json_object_get(json_array_get(ops, i), "operation")),
                                "startTransaction");
    } else {
        assert_int_equal(json_array_size(outages), 0);
    }
    json_decref(j);
    tse_close(t);
    free(journal);
    free(url);
}

int main(int argc, char **argv)
{
    tt_init(argc > 1 ? argv[1] : "file");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pos)};
    return cmocka_run_group_tests_name(tt_http() ? "pos_http" : "pos_file", tests, NULL, NULL);
}
