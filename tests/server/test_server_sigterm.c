/*
 * test_server_sigterm.c - SIGTERM (and kill -9) during load loses no
 * acknowledged transaction: eight clients start and finish transactions
 * against a real opentsed; the signal arrives mid-load; after SIGTERM the
 * server must exit 0; after a restart every finish that was answered 2xx is
 * there, FINISHED, with the signature counter it was answered with and a
 * signature openssl accepts.
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

#define WORKERS 8
#define MAX_ACKS 4000

typedef struct ack {
    char tx[37];
    json_int_t counter;
} ack;

typedef struct load {
    const char *base, *token, *tss, *client;
    pthread_mutex_t mu;
    ack acks[MAX_ACKS];
    int n_acks;
    int failures; /* requests that got no 2xx (expected only around SIGTERM) */
} load;

static void *worker(void *arg)
{
    load *l = arg;
    char path[512], body[256];
    for (int i = 0; i < MAX_ACKS / WORKERS; i++) {
        char tx[37];
        hs_uuid(tx);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", l->tss, tx);
        snprintf(body, sizeof body, "{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}", l->client);
        if (hs_call(l->base, "PUT", path, l->token, body, strlen(body), NULL, NULL) != 200)
            break;
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", l->tss, tx);
        snprintf(body, sizeof body,
                 "{\"state\":\"FINISHED\",\"client_id\":\"%s\",\"schema\":{\"raw\":{\"process_type\":"
                 "\"Kassenbeleg-V1\",\"process_data\":\"QmVsZWdeMS4wMF8wLjAwXzAuMDBfMC4wMF8wLjAwXjEuMDA6QmFy\"}}}",
                 l->client);
        json_t *out = NULL;
        long st = hs_call(l->base, "PUT", path, l->token, body, strlen(body), &out, NULL);
        if (st == 200) {
            pthread_mutex_lock(&l->mu);
            ack *a = &l->acks[l->n_acks++];
            snprintf(a->tx, sizeof a->tx, "%s", tx);
            a->counter = json_integer_value(json_object_get(json_object_get(out, "signature"), "counter"));
            pthread_mutex_unlock(&l->mu);
        }
        json_decref(out);
        if (st != 200)
            break;
    }
    return NULL;
}

/* Load, then signal `sig` to the server; then the restart check. */
static void stop_under_load(int sig, const char *name)
{
    char *dir = th_path(name);
    srv_proc p;
    char *token = NULL;
    json_t *d = hs_start_demo(&p, dir, &token);
    load *l = calloc(1, sizeof *l);
    assert_non_null(l);
    *l = (load){.base = p.base, .token = token, .tss = json_string_value(json_object_get(d, "tss_id")),
                .client = json_string_value(json_object_get(d, "client_id"))};
    pthread_mutex_init(&l->mu, NULL);
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, l), 0);
    /* SIGTERM once some finishes are acknowledged, while the rest keep going. */
    for (;;) {
        pthread_mutex_lock(&l->mu);
        int n = l->n_acks;
        pthread_mutex_unlock(&l->mu);
        if (n >= 100)
            break;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int st = hs_signal(&p, sig);
    if (sig == SIGTERM)
        assert_int_equal(st, 0); /* a clean stop */
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    assert_true(l->n_acks >= 100);
    assert_true(l->n_acks < MAX_ACKS); /* the load was still running at SIGTERM */

    /* After a restart every acknowledged finish is there with its counter. */
    hs_start(&p, dir, NULL);
    char path[512];
    json_int_t max = 0;
    for (int i = 0; i < l->n_acks; i++) {
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", l->tss, l->acks[i].tx);
        json_t *tx = hs_json(p.base, "GET", path, token, 200, NULL);
        assert_string_equal(json_string_value(json_object_get(tx, "state")), "FINISHED");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(tx, "signature"), "counter")),
                         l->acks[i].counter);
        if (i % 10 == 0)
            assert_int_equal(hs_verify_tx_response(tx), 0);
        if (l->acks[i].counter > max)
            max = l->acks[i].counter;
        for (int k = 0; k < i; k++)
            assert_true(l->acks[k].counter != l->acks[i].counter);
        json_decref(tx);
    }
    snprintf(path, sizeof path, "/api/v2/tss/%s", l->tss);
    json_t *t = hs_json(p.base, "GET", path, token, 200, NULL);
    assert_true(json_integer_value(json_object_get(t, "signature_counter")) >= max);
    json_decref(t);
    assert_int_equal(hs_stop(&p), 0);
    free(l);
    free(token);
    json_decref(d);
    free(dir);
}

static void sigterm_under_load(void **state)
{
    (void)state;
    stop_under_load(SIGTERM, "sigterm");
}

/* kill -9: no chance to flush; what was answered must still be on disk. */
static void sigkill_under_load(void **state)
{
    (void)state;
    stop_under_load(SIGKILL, "sigkill");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigterm_under_load),
        cmocka_unit_test(sigkill_under_load),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
