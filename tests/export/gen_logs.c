/*
 * gen_logs.c - many correctly signed logs into a closed TSE's store; see
 * gen_logs.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "gen_logs.h"
#include "store/store.h"

#define CHUNK 4096
#define LOG_CAP 512

typedef struct gen {
    csp_key *key;
    tse_hash hash;
    logmsg_time_format tf;
    uint8_t serial[32];
    const char *client;
    uint64_t c0, tx0;          /* last counter and transaction number before the first generated log */
    int64_t now;
    uint8_t (*msgs)[LOG_CAP];  /* one chunk */
    size_t *lens;
    uint64_t first;            /* index of the chunk's first log */
} gen;

typedef struct part {
    gen *g;
    size_t from, to;
    int failed;
} part;

static const char process_data[] = "Beleg^75.33_7.99_0.00_0.00_0.00^10.00:Bar_5.00:Bar:USD";

/* Generated log j: counter c0 + 1 + j, transaction tx0 + 1 + j / 2, Start then Finish. */
static int sign_one(gen *g, uint64_t j, uint8_t *out, size_t *len)
{
    logmsg_fields f = {
        .kind = LOGMSG_TRANSACTION,
        .operation = j % 2 ? "FinishTransaction" : "StartTransaction",
        .client_id = g->client,
        .process_data = {(const uint8_t *)process_data, sizeof process_data - 1},
        .process_type = "Kassenbeleg-V1",
        .transaction_number = g->tx0 + 1 + j / 2,
        .serial_number = g->serial,
        .signature_algorithm_oid = csp_sigalg_oid(g->hash),
        .signature_counter = g->c0 + 1 + j,
        .time_format = g->tf,
        .log_time = g->now,
    };
    uint8_t tbs[LOG_CAP], sig[TSE_MAX_SIGNATURE_LEN];
    size_t sig_len = 0;
    der_w w = der_w_init(tbs, sizeof tbs);
    if (!logmsg_encode_tbs(&w, &f) || !der_w_ok(&w) ||
        csp_sign(g->key, g->hash, tbs, w.len, sig, sizeof sig, &sig_len, NULL) != 0)
        return -1;
    der_w m = der_w_init(out, LOG_CAP);
    logmsg_encode(&m, tbs, w.len, sig, sig_len);
    *len = m.len;
    return der_w_ok(&m) ? 0 : -1;
}

static void *sign_part(void *p)
{
    part *pt = p;
    for (size_t i = pt->from; i < pt->to && !pt->failed; i++)
        pt->failed = sign_one(pt->g, pt->g->first + i, pt->g->msgs[i], &pt->g->lens[i]);
    return NULL;
}

static int64_t meta_int(store *st, const char *key)
{
    uint8_t *v = NULL;
    size_t n = 0;
    char text[24] = "";
    if (store_get_meta(st, key, &v, &n, NULL) == 0)
        memcpy(text, v, n < sizeof text - 1 ? n : sizeof text - 1);
    free(v);
    return strtoll(text, NULL, 10);
}

static int load(store *st, const char *mk_path, gen *g)
{
    uint8_t mk[CSP_MASTER_KEY_LEN], *point = NULL, *blob = NULL;
    size_t point_len = 0, blob_len = 0;
    tse_error err = {0};
    int rc = csp_master_key_load(mk_path, mk, &err);
    if (!rc)
        rc = store_get_meta(st, "public_key", &point, &point_len, &err);
    if (!rc) {
        csp_serial(point, point_len, g->serial);
        rc = store_get_meta(st, "key", &blob, &blob_len, &err);
    }
    if (!rc)
        rc = csp_key_unseal(blob, blob_len, mk, g->serial, 32, &g->key, &err);
    if (!rc)
        rc = store_last_log(st, &g->c0, NULL, NULL, &err);
    if (!rc)
        rc = store_last_transaction_number(st, &g->tx0, &err);
    g->hash = (tse_hash)meta_int(st, "hash");
    g->tf = (logmsg_time_format)meta_int(st, "time_format");
    if (rc)
        fprintf(stderr, "gen_signed_logs: %s\n", err.message);
    free(point);
    free(blob);
    return rc;
}

int gen_signed_logs(const char *path, const char *master_key_path, const char *client, uint64_t n, int threads)
{
    store *st = NULL;
    tse_error err = {0};
    if (store_open(path, 0, &st, &err) != 0) {
        fprintf(stderr, "gen_signed_logs: %s\n", err.message);
        return -1;
    }
    if (threads < 1 || threads > 16)
        threads = 2;
    gen g = {.client = client, .now = (int64_t)time(NULL)};
    g.msgs = malloc(CHUNK * sizeof *g.msgs);
    g.lens = malloc(CHUNK * sizeof *g.lens);
    store_bulk *b = NULL;
    int rc = (!g.msgs || !g.lens) ? -1 : load(st, master_key_path, &g);
    if (!rc && store_bulk_begin(st, &b, &err) != 0)
        rc = -1;
    for (g.first = 0; !rc && g.first < n; g.first += CHUNK) {
        size_t count = n - g.first < CHUNK ? (size_t)(n - g.first) : CHUNK;
        part parts[16];
        pthread_t tid[16];
        for (int i = 0; i < threads; i++) {
            parts[i] = (part){.g = &g, .from = count * (size_t)i / (size_t)threads,
                              .to = count * (size_t)(i + 1) / (size_t)threads};
            if (pthread_create(&tid[i], NULL, sign_part, &parts[i]) != 0) {
                parts[i].failed = 1;
                tid[i] = 0;
            }
        }
        for (int i = 0; i < threads; i++) {
            if (tid[i])
                pthread_join(tid[i], NULL);
            rc |= parts[i].failed;
        }
        for (size_t i = 0; !rc && i < count; i++) {
            uint64_t j = g.first + i;
            char op[24];
            snprintf(op, sizeof op, "%s", j % 2 ? "FinishTransaction" : "StartTransaction");
            store_log l = {.counter = g.c0 + 1 + j, .kind = LOGMSG_TRANSACTION, .log_time = g.now,
                           .transaction_number = g.tx0 + 1 + j / 2, .client_id = client, .operation = op,
                           .data = g.msgs[i], .len = g.lens[i]};
            if (store_bulk_put(b, &l, &err) != 0)
                rc = -1;
        }
    }
    if (b && store_bulk_end(b, rc == 0, NULL, &err) != 0)
        rc = -1;
    if (rc)
        fprintf(stderr, "gen_signed_logs: failed: %s\n", err.message);
    csp_key_free(g.key);
    free(g.msgs);
    free(g.lens);
    store_close(st);
    return rc;
}
