/*
 * test_server_nodes.c - three opentsed nodes on one PostgreSQL store (run
 * under tests/pg/with_pg.sh). Eight clients record transactions, each
 * request sent to a node picked at random (a node that does not hold the
 * TSS passes the request on to the one that does). 50 times the node that
 * holds the TSS is killed with SIGKILL and started again a cycle later;
 * another node takes the TSS over once the lease (1 s here) has run out.
 * Afterwards every acknowledged transaction is there with the signature it
 * was answered with, the counters of the export are gapless and unique
 * (`opentse verify`), and the takeover times are printed. A node stopped
 * with SIGSTOP past its lease signs nothing more after SIGCONT: it passes
 * requests on to the node that took the TSS over, and takes the TSS back
 * when that node dies. PostgreSQL
 * stopped and started again under load: 503 with Retry-After meanwhile,
 * nothing acknowledged lost, the service back by itself.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "helpers.h"

#define NODES 3
#define CYCLES 50
#define WORKERS 8
#define MAX_TX 20000

typedef struct tx {
    char id[37];
    char sig[160];
    json_int_t counter;
    int done;
} tx;

typedef struct cluster {
    srv_proc node[NODES];
    char *dir[NODES];
    int alive[NODES];
    const char *token, *tss, *client;
    char store[600];
    pthread_mutex_t mu;
    tx *txs;
    int n;
    int stop;
    double last_ok;       /* when a finish was last acknowledged */
} cluster;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends a request to random live nodes until one answers 200 (or 20 s pass). */
static json_t *send_any(cluster *c, const char *path, const char *body)
{
    double until = now() + 20;
    unsigned seed = (unsigned)(uintptr_t)path ^ (unsigned)time(NULL);
    while (now() < until) {
        pthread_mutex_lock(&c->mu);
        int k = rand_r(&seed) % NODES, tries = 0;
        while (!c->alive[k] && tries++ < NODES)
            k = (k + 1) % NODES;
        char base[128];
        snprintf(base, sizeof base, "%s", c->node[k].base);
        pthread_mutex_unlock(&c->mu);
        json_t *j = NULL;
        long st = hs_call(base, "PUT", path, c->token, body, strlen(body), &j, NULL);
        if (st == 200)
            return j;
        json_decref(j);
        usleep(20000);
    }
    return NULL;
}

static void *worker(void *arg)
{
    cluster *c = arg;
    char path[300], body[400];
    while (!c->stop) {
        pthread_mutex_lock(&c->mu);
        tx *t = c->n < MAX_TX ? &c->txs[c->n++] : NULL;
        pthread_mutex_unlock(&c->mu);
        if (!t)
            break;
        hs_uuid(t->id);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", c->tss, t->id);
        snprintf(body, sizeof body, "{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}", c->client);
        json_t *j = send_any(c, path, body);
        if (!j) {
            t->done = -1;
            continue;
        }
        json_decref(j);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=2", c->tss, t->id);
        snprintf(body, sizeof body, "{\"state\":\"FINISHED\",\"client_id\":\"%s\"}", c->client);
        j = send_any(c, path, body);
        if (!j) {
            t->done = -1;
            continue;
        }
        snprintf(t->sig, sizeof t->sig, "%s",
                 json_string_value(json_object_get(json_object_get(j, "signature"), "value")) ?: "");
        t->counter = json_integer_value(json_object_get(json_object_get(j, "signature"), "counter"));
        json_decref(j);
        pthread_mutex_lock(&c->mu);
        t->done = 1;
        c->last_ok = now();
        pthread_mutex_unlock(&c->mu);
    }
    return NULL;
}

/* Waits until a finish is acknowledged after t0 (at most 30 s). */
static void acked_after(cluster *c, double t0)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        double ok = c->last_ok;
        pthread_mutex_unlock(&c->mu);
        if (ok > t0)
            return;
        assert_true(now() - t0 < 30);
        usleep(5000);
    }
}

static void start_node(cluster *c, int k, int demo)
{
    const char *args[] = {"--store", c->store, demo ? "--demo" : NULL, NULL};
    srv_proc p;
    hs_start(&p, c->dir[k], args);
    pthread_mutex_lock(&c->mu);
    c->node[k] = p;
    c->alive[k] = 1;
    pthread_mutex_unlock(&c->mu);
}

/* The node that holds the TSS now: the one whose answers are not passed on
 * (asked through a node's own /metrics is not possible: ask the store). */
static int owner(cluster *c)
{
    char cmd[1000], out[64] = "";
    snprintf(cmd, sizeof cmd,
             "'%s/psql' -qtA '%s' -c \"SELECT owner FROM tses WHERE name = '%s' AND lease_until > now()\"",
             getenv("OPENTSE_TEST_PGBIN"), c->store, c->tss);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    if (!fgets(out, sizeof out, f))
        out[0] = 0;
    pclose(f);
    out[strcspn(out, "\n")] = 0;
    for (int k = 0; k < NODES; k++) {
        char path[700], id[32] = "";
        snprintf(path, sizeof path, "%s/node-id", c->dir[k]);
        FILE *n = fopen(path, "r");
        if (n && fgets(id, sizeof id, n))
            id[strcspn(id, "\n")] = 0;
        if (n)
            fclose(n);
        if (*out && strcmp(id, out) == 0)
            return k;
    }
    return -1;
}

/* A cluster on a new database `db` of the test's PostgreSQL server; node 0
 * is started with --demo in data directory "<db>-0". */
static cluster *cluster_new(const char *db)
{
    cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->txs = calloc(MAX_TX, sizeof *c->txs);
    assert_non_null(c->txs);
    pthread_mutex_init(&c->mu, NULL);
    const char *base = getenv("OPENTSE_TEST_PG"), *bin = getenv("OPENTSE_TEST_PGBIN");
    assert_non_null(base);
    assert_non_null(bin);
    snprintf(c->store, sizeof c->store, "%.*s/%s", (int)(strrchr(base, '/') - base), base, db);
    char cmd[1000], name[64];
    snprintf(cmd, sizeof cmd, "'%s/psql' -q '%s' -c 'CREATE DATABASE %s' >/dev/null", bin, base, db);
    assert_int_equal(system(cmd), 0);
    for (int k = 0; k < NODES; k++) {
        snprintf(name, sizeof name, "%s-%d", db, k);
        c->dir[k] = th_path(name);
    }
    start_node(c, 0, 1);
    return c;
}

/* Node k's data directory with the deployment's master key, nothing else. */
static void join(cluster *c, int k)
{
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "mkdir -p -m 700 '%s' && cp -p '%s/master.key' '%s/'", c->dir[k], c->dir[0], c->dir[k]);
    assert_int_equal(system(cmd), 0);
}

/* The demo of node 0 (returned), its token, TSS and client in c. */
static json_t *use_demo(cluster *c, int via)
{
    char path[700];
    snprintf(path, sizeof path, "%s/demo.json", c->dir[0]);
    json_t *d = json_load_file(path, 0, NULL);
    assert_non_null(d);
    c->token = hs_token(c->node[via].base, json_string_value(json_object_get(d, "api_key")),
                        json_string_value(json_object_get(d, "api_secret")));
    c->tss = json_string_value(json_object_get(d, "tss_id"));
    c->client = json_string_value(json_object_get(d, "client_id"));
    return d;
}

static void cluster_free(cluster *c, json_t *demo)
{
    for (int k = 0; k < NODES; k++) {
        if (c->alive[k])
            hs_stop(&c->node[k]);
        free(c->dir[k]);
    }
    free((char *)c->token);
    json_decref(demo);
    free(c->txs);
    free(c);
}

static void test_three_nodes(void **state)
{
    (void)state;
    setenv("OPENTSE_STORE_LEASE_MS", "1000", 1);
    cluster *c = cluster_new("nodes");
    for (int k = 1; k < NODES; k++) {
        join(c, k);
        start_node(c, k, 1);
        char demo[700];
        snprintf(demo, sizeof demo, "cmp -s '%s/demo.json' '%s/demo.json'", c->dir[0], c->dir[k]);
        assert_int_equal(system(demo), 0);   /* --demo on a later node: the same demo */
    }
    json_t *d = use_demo(c, 1);
    const char *token = c->token;

    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, c), 0);
    double worst = 0, sum = 0;
    int down = -1, takeovers = 0;
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        usleep(300 * 1000);
        if (down >= 0) {   /* the node killed last cycle comes back */
            start_node(c, down, 0);
            down = -1;
        }
        int k = owner(c);
        if (k < 0)
            continue;   /* between owners */
        pthread_mutex_lock(&c->mu);
        c->alive[k] = 0;
        pthread_mutex_unlock(&c->mu);
        double t0 = now();
        hs_signal(&c->node[k], SIGKILL);
        down = k;
        /* the takeover: the next acknowledged finish through another node */
        acked_after(c, t0);
        double took = now() - t0;
        sum += took;
        takeovers++;
        if (took > worst)
            worst = took;
    }
    c->stop = 1;
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    if (down >= 0)
        start_node(c, down, 0);
    assert_true(takeovers >= CYCLES / 2);
    printf("nodes: %d nodes, %d kills of the TSS's node, %d transactions; takeover %.2f s on average, %.2f s at worst"
           " (lease 1 s)\n", NODES, takeovers, c->n, sum / takeovers, worst);

    /* every acknowledged transaction, as it was answered, through any node */
    int acked = 0;
    for (int i = 0; i < c->n; i++) {
        tx *t = &c->txs[i];
        if (t->done != 1)
            continue;
        acked++;
        char path[300];
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", c->tss, t->id);
        json_t *j = hs_json(c->node[i % NODES].base, "GET", path, token, 200, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "state")), "FINISHED");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "signature"), "value")), t->sig);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "signature"), "counter")), t->counter);
        json_decref(j);
        for (int k = 0; k < i; k += 97)   /* a sample: no counter twice */
            if (c->txs[k].done == 1)
                assert_true(c->txs[k].counter != t->counter);
    }
    assert_true(acked > 100);

    /* the export: gapless, unique, every signature (opentse verify) */
    char *file = th_path("nodes.tar"), cmd[1400];
    hs_export_all(c->node[0].base, token, c->tss, file);
    snprintf(cmd, sizeof cmd, "'%s' verify '%s' >/dev/null", getenv("OPENTSE_CLI"), file);
    assert_int_equal(system(cmd), 0);
    free(file);
    cluster_free(c, d);
}

/* A node paused past its lease (SIGSTOP) signs nothing more for the TSS
 * once it runs again: the other node has it, with a newer epoch, and the
 * paused node passes requests for it on. */
static void test_paused_node(void **state)
{
    (void)state;
    setenv("OPENTSE_STORE_LEASE_MS", "1000", 1);
    cluster *c = cluster_new("paused");
    join(c, 1);
    start_node(c, 1, 0);
    json_t *d = use_demo(c, 0);
    const char *token = c->token, *tss = c->tss, *client = c->client;
    assert_int_equal(owner(c), 0);
    char path[300], body[300], txid[37];
    snprintf(body, sizeof body, "{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}", client);
    hs_uuid(txid);
    snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, txid);
    json_decref(hs_json(c->node[1].base, "PUT", path, token, 200, "{s:s, s:s}", "state", "ACTIVE", "client_id",
                        client));   /* through b, passed on to a */

    kill(c->node[0].pid, SIGSTOP);
    usleep(1500 * 1000);   /* past a's lease */
    json_int_t last = 0;
    for (int i = 0; i < 5; i++) {   /* b takes the TSS over and signs */
        hs_uuid(txid);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, txid);
        json_t *j = NULL;
        long st = 0;
        for (int tries = 0; tries < 100 && st != 200; tries++) {
            json_decref(j);
            j = NULL;
            st = hs_call(c->node[1].base, "PUT", path, token, body, strlen(body), &j, NULL);
            if (st != 200)
                usleep(100 * 1000);
        }
        assert_int_equal(st, 200);
        json_int_t ctr = json_integer_value(json_object_get(json_object_get(j, "signature"), "counter"));
        assert_true(ctr > last);
        last = ctr;
        json_decref(j);
    }
    assert_int_equal(owner(c), 1);
    kill(c->node[0].pid, SIGCONT);
    usleep(800 * 1000);   /* a's lease thread finds the lease taken */
    int passed = 0;
    for (int i = 0; i < 5; i++) {   /* a signs nothing more: refused, or passed on to b */
        hs_uuid(txid);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, txid);
        json_t *j = NULL;
        long st = hs_call(c->node[0].base, "PUT", path, token, body, strlen(body), &j, NULL);
        if (st == 503) {
            assert_string_equal(json_string_value(json_object_get(j, "code")), "E_SERVICE_UNAVAILABLE");
            assert_string_equal(json_string_value(json_object_get(j, "tse_error")), "STORE_IN_USE");
        } else {
            assert_int_equal(st, 200);   /* signed by b: the next of b's counters */
            json_int_t ctr = json_integer_value(json_object_get(json_object_get(j, "signature"), "counter"));
            assert_int_equal(ctr, last + 1);
            last = ctr;
            passed++;
        }
        json_decref(j);
    }
    assert_true(passed >= 4);   /* once a knows, it passes requests on */
    /* b's counter went on from its own last one: nothing of a's in between */
    snprintf(path, sizeof path, "/api/v2/tss/%s", tss);
    json_t *t = hs_json(c->node[1].base, "GET", path, token, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(t, "signature_counter")), last);
    json_decref(t);
    assert_int_equal(owner(c), 1);
    /* b dies: a takes the TSS back once b's lease has run out, from b's counter on */
    hs_signal(&c->node[1], SIGKILL);
    c->alive[1] = 0;
    json_t *j = NULL;
    long st = 0;
    for (int tries = 0; tries < 100 && st != 200; tries++) {
        json_decref(j);
        j = NULL;
        hs_uuid(txid);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", tss, txid);
        st = hs_call(c->node[0].base, "PUT", path, token, body, strlen(body), &j, NULL);
        if (st != 200)
            usleep(100 * 1000);
    }
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "signature"), "counter")), last + 1);
    assert_int_equal(hs_verify_tx_response(j), 0);
    json_decref(j);
    assert_int_equal(owner(c), 0);
    cluster_free(c, d);
}

/* pg_ctl stop/start of the test's server (as its owner). */
static void pg_ctl(const char *what)
{
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "%s'%s' -D '%s' -w -t 60 %s %s >/dev/null 2>&1",
             !strcmp(getenv("OPENTSE_TEST_PG_AS_ROOT") ?: "0", "1") ? "runuser -u postgres -- " : "",
             getenv("OPENTSE_TEST_PGCTL"), getenv("OPENTSE_TEST_PGDATA"), what,
             !strcmp(what, "stop") ? "-m fast" : "");
    assert_int_equal(system(cmd), 0);
}

static void test_postgres_restart(void **state)
{
    (void)state;
    cluster *c = cluster_new("restart");
    json_t *d = use_demo(c, 0);
    const char *token = c->token;
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, c), 0);
    usleep(500 * 1000);
    pg_ctl("stop");
    /* while it is down: 503 with Retry-After, never a signature */
    char path[300], body[300], txid[37], *headers = NULL;
    int n503 = 0;
    for (int i = 0; i < 5; i++) {
        hs_uuid(txid);
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s?tx_revision=1", c->tss, txid);
        snprintf(body, sizeof body, "{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}", c->client);
        json_t *j = NULL;
        long st = hs_call(c->node[0].base, "PUT", path, token, body, strlen(body), &j, &headers);
        assert_int_equal(st, 503);
        assert_non_null(strcasestr(headers, "Retry-After:"));
        n503++;
        free(headers);
        json_decref(j);
    }
    pthread_mutex_lock(&c->mu);
    int before = 0;
    for (int i = 0; i < c->n; i++)
        before += c->txs[i].done == 1;
    pthread_mutex_unlock(&c->mu);
    usleep(1000 * 1000);
    pg_ctl("start");
    /* back by itself: new finishes are acknowledged again */
    double t0 = now();
    acked_after(c, t0);
    usleep(300 * 1000);
    c->stop = 1;
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    int acked = 0;
    for (int i = 0; i < c->n; i++) {
        tx *t = &c->txs[i];
        if (t->done != 1)
            continue;
        acked++;
        snprintf(path, sizeof path, "/api/v2/tss/%s/tx/%s", c->tss, t->id);
        json_t *j = hs_json(c->node[0].base, "GET", path, token, 200, NULL);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "signature"), "value")), t->sig);
        json_decref(j);
    }
    assert_true(acked > before);
    printf("postgres restart: %d answers 503 with Retry-After while it was down; %d transactions acknowledged, none"
           " lost; back %.2f s after the start\n", n503, acked, now() - t0);
    cluster_free(c, d);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgres_restart),
        cmocka_unit_test(test_paused_node),
        cmocka_unit_test(test_three_nodes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
