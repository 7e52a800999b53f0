/*
 * test_server_atomic.c - a signed log and the server's record of it are one
 * commit. Eight clients start and finish transactions against a real
 * opentsed that is killed with SIGKILL at a random instant, 50 times. After
 * every restart the latest request of each transaction is sent again: one
 * whose answer was lost must complete that same transaction, one that was
 * answered must return the very signature it was answered with. At the end the export of
 * everything holds exactly one Start and one Finish log per transaction the
 * API knows and no other transaction log (no signature without its answer,
 * no transaction opened twice), and `opentse verify` accepts it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "helpers.h"

#define CYCLES 50
#define WORKERS 8
#define PER_WORKER 40            /* transactions one worker may start in a cycle */
#define MAX_TX (CYCLES * WORKERS * PER_WORKER)

typedef struct tx {
    char id[37];
    int sent;                    /* the last revision sent */
    int acked;                   /* the last revision answered 200 */
    char sig[3][160];            /* per revision: the signature answered */
    json_int_t counter[3];
} tx;

typedef struct load {
    const char *base, *token, *tss, *client;
    pthread_mutex_t mu;
    tx *txs;
    int n;
} load;

static const char finish_body[] =
    "{\"state\":\"FINISHED\",\"client_id\":\"%s\",\"schema\":{\"raw\":{\"process_type\":\"Kassenbeleg-V1\","
    "\"process_data\":\"QmVsZWdeMS4wMF8wLjAwXzAuMDBfMC4wMF8wLjAwXjEuMDA6QmFy\"}}}";

/* Sends revision `rev` of t; 200 records the answer. Returns the status. */
static long send_rev(const load *l, tx *t, int rev, json_t **out)
{
    char path[512], body[400];
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=%d", l->tss, t->id, rev);
    if (rev == 1)
        snprintf(body, sizeof body, "{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}", l->client);
    else
        snprintf(body, sizeof body, finish_body, l->client);
    json_t *j = NULL;
    long st = hs_call(l->base, "PUT", path, l->token, body, strlen(body), &j, NULL);
    if (out)
        *out = j;
    else
        json_decref(j);
    return st;
}

static const char *sig_of(json_t *j)
{
    const char *v = json_string_value(json_object_get(json_object_get(j, "signature"), "value"));
    return v ? v : "";
}

static json_int_t counter_of(json_t *j)
{
    return json_integer_value(json_object_get(json_object_get(j, "signature"), "counter"));
}

static void *worker(void *arg)
{
    load *l = arg;
    for (int i = 0; i < PER_WORKER; i++) {
        pthread_mutex_lock(&l->mu);
        tx *t = l->n < MAX_TX ? &l->txs[l->n++] : NULL;
        pthread_mutex_unlock(&l->mu);
        if (!t)
            return NULL;
        hs_uuid(t->id);
        for (int rev = 1; rev <= 2; rev++) {
            t->sent = rev;
            json_t *j = NULL;
            if (send_rev(l, t, rev, &j) != 200) {
                json_decref(j);
                return NULL;   /* the server is gone */
            }
            t->acked = rev;
            snprintf(t->sig[rev], sizeof t->sig[rev], "%s", sig_of(j));
            t->counter[rev] = counter_of(j);
            json_decref(j);
        }
    }
    return NULL;
}

/* After a restart: every lost answer is asked for again, every answered
 * one must come back the same. */
static void recover(load *l, int from)
{
    for (int i = from; i < l->n; i++) {
        tx *t = &l->txs[i];
        if (!t->sent)
            continue;
        /* the latest revision sent: an older one is a conflict by design */
        int rev = t->sent;
        json_t *j = NULL;
        long st = send_rev(l, t, rev, &j);
        if (st != 200)
            fail_msg("tx %s revision %d after the restart: %ld %s", t->id, rev, st,
                     json_string_value(json_object_get(j, "message")));
        if (rev == t->acked) {   /* answered before: the same signature, never a second one */
            assert_string_equal(sig_of(j), t->sig[rev]);
            assert_int_equal(counter_of(j), t->counter[rev]);
        } else {
            snprintf(t->sig[rev], sizeof t->sig[rev], "%s", sig_of(j));
            t->counter[rev] = counter_of(j);
            t->acked = rev;
        }
        if (i % 25 == 0)
            assert_int_equal(hs_verify_tx_response(j), 0);
        json_decref(j);
        if (t->acked == 1) {   /* the kill came before its finish was sent: finish it now */
            json_t *j = NULL;
            assert_int_equal(send_rev(l, t, 2, &j), 200);
            snprintf(t->sig[2], sizeof t->sig[2], "%s", sig_of(j));
            t->counter[2] = counter_of(j);
            t->acked = t->sent = 2;
            json_decref(j);
        }
    }
}

/* Transaction logs of the archive by kind. */
static void count_logs(const char *file, int *starts, int *finishes, int *others)
{
    char cmd[700], line[600];
    snprintf(cmd, sizeof cmd, "tar -tf '%s'", file);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    *starts = *finishes = *others = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "_Log-Tra_"))
            continue;
        if (strstr(line, "_Start_"))
            ++*starts;
        else if (strstr(line, "_Finish_"))
            ++*finishes;
        else
            ++*others;
    }
    assert_int_equal(pclose(f), 0);
}

static void test_kill9_cycles(void **state)
{
    (void)state;
    char *dir = th_path("atomic");
    srv_proc p;
    char *token = NULL;
    json_t *d = hs_start_demo(&p, dir, &token);
    load *l = calloc(1, sizeof *l);
    assert_non_null(l);
    l->txs = calloc(MAX_TX, sizeof *l->txs);
    assert_non_null(l->txs);
    l->base = p.base;
    l->token = token;
    l->tss = json_string_value(json_object_get(d, "tss_id"));
    l->client = json_string_value(json_object_get(d, "client_id"));
    pthread_mutex_init(&l->mu, NULL);
    srand((unsigned)time(NULL));
    int lost = 0;
    for (int c = 0; c < CYCLES; c++) {
        int from = l->n;
        pthread_t th[WORKERS];
        for (int i = 0; i < WORKERS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, worker, l), 0);
        struct timespec ts = {0, (20 + rand() % 180) * 1000 * 1000};
        nanosleep(&ts, NULL);
        hs_signal(&p, SIGKILL);
        for (int i = 0; i < WORKERS; i++)
            pthread_join(th[i], NULL);
        for (int i = from; i < l->n; i++)
            lost += l->txs[i].sent > l->txs[i].acked;
        hs_start(&p, dir, NULL);
        l->base = p.base;
        recover(l, from);
    }
    printf("atomic: %d kill -9 cycles, %d transactions, %d answers lost in a kill and asked for again\n", CYCLES,
           l->n, lost);
    int known = 0;
    for (int i = 0; i < l->n; i++)
        known += l->txs[i].sent > 0;
    assert_true(lost > 0);   /* the kills did land mid-request */

    char *file = th_path("atomic.tar");
    hs_export_all(l->base, l->token, l->tss, file);
    int starts, finishes, others;
    count_logs(file, &starts, &finishes, &others);
    assert_int_equal(starts, known);
    assert_int_equal(finishes, known);
    assert_int_equal(others, 0);
    const char *cli = getenv("OPENTSE_CLI");
    assert_non_null(cli);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' verify '%s' >/dev/null", cli, file);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(hs_stop(&p), 0);
    free(file);
    free(l->txs);
    free(l);
    free(token);
    json_decref(d);
    free(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_cycles),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
