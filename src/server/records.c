/*
 * records.c - the server's own records in the deployment's database, next
 * to the TSEs (engine_db, see engine.h): organizations, API keys (secrets
 * stored as SHA-256 of 256-bit random values), TSS and client records, the
 * links between TSSs, and each transaction's latest revision with the
 * answer it produced (for idempotent replays). Values are JSON objects
 * under these namespaces:
 *
 *   org           key = id            {name, time_creation}          ord = id
 *   apikey        key = api key       {id, org_id, secret_hash, revoked, time_creation}
 *                 idx = org id        ord = time_creation
 *   tss           key = tss id        {org_id, description, deployed, time_creation}
 *                 idx = org id        ord = time_creation
 *   client/<tss>  key = client id     {serial_number, state, time_creation}   idx = state
 *   tx/<tss>      key = tx id         {number, client_id, state, revision, result}
 *                 idx = state         ord = number
 *   tsslink       key = predecessor   {successor, time_creation}     idx = successor
 *
 * A record that belongs to a signed log is committed with it (rec_attach),
 * so the two are durable together or not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

int rec_get(srv *s, const char *ns, const char *key, json_t **out)
{
    char *text = NULL;
    *out = NULL;
    tse_err e = engine_record_get(s->db, ns, key, &text);
    if (e == TSE_ERR_NOT_FOUND)
        return 0;
    if (e)
        return -1;
    *out = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    return json_is_object(*out) ? 1 : -1;
}

bool rec_batch_add(rec_batch *b, engine_record_op op, const char *ns, const char *key, const char *idx, int64_t ord,
                   json_t *value)
{
    if (b->n == REC_BATCH_MAX)
        return false;
    char *text = value ? json_text(value) : NULL;
    if (value && !text)
        return false;
    return rec_batch_add_text(b, op, ns, key, idx, ord, text);
}

bool rec_batch_add_text(rec_batch *b, engine_record_op op, const char *ns, const char *key, const char *idx,
                        int64_t ord, char *text)
{
    if (b->n == REC_BATCH_MAX) {
        free(text);
        return false;
    }
    size_t i = b->n;
    snprintf(b->ns[i], sizeof b->ns[i], "%s", ns);
    snprintf(b->key[i], sizeof b->key[i], "%s", key);
    snprintf(b->idx[i], sizeof b->idx[i], "%s", idx ? idx : "");
    b->text[i] = text;
    b->r[i] = (engine_record){.op = op, .ns = b->ns[i], .key = b->key[i], .idx = idx ? b->idx[i] : NULL,
                              .ord = ord, .value = text};
    b->n++;
    return true;
}

void rec_batch_free(rec_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->text[i]);
    b->n = 0;
}

int rec_commit(srv *s, rec_batch *b)
{
    tse_err e = engine_records_commit(s->db, b->r, b->n);
    rec_batch_free(b);
    return e == TSE_OK ? 0 : e == TSE_ERR_ALREADY_EXISTS ? 1 : -1;
}

int rec_put(srv *s, engine_record_op op, const char *ns, const char *key, const char *idx, int64_t ord, json_t *v)
{
    rec_batch b = {0};
    if (!rec_batch_add(&b, op, ns, key, idx, ord, v)) {
        rec_batch_free(&b);
        return -1;
    }
    return rec_commit(s, &b);
}

static tse_err hand_over(void *ctx, const tse_result *res, const engine_record **recs, size_t *n)
{
    (void)res;
    rec_batch *b = ctx;
    *recs = b->r;
    *n = b->n;
    return TSE_OK;
}

void rec_attach(rec_batch *b)
{
    engine_records_attach(hand_over, b);
}

typedef struct list_ctx {
    json_t *data;
    int failed;
} list_ctx;

static int list_one(void *ctx, const char *key, const char *value)
{
    list_ctx *l = ctx;
    json_t *v = json_loads(value, 0, NULL);
    if (!v || json_object_set_new(v, "_key", json_string(key)) || json_array_append_new(l->data, v)) {
        l->failed = 1;
        return 1;
    }
    return 0;
}

json_t *rec_list(srv *s, const char *ns, const char *idx, long offset, long limit)
{
    list_ctx l = {.data = json_array()};
    if (!l.data)
        return NULL;
    tse_err e = engine_record_each(s->db, ns, idx, offset > 0 ? (uint64_t)offset : 0, limit > 0 ? (uint64_t)limit : 0,
                                   list_one, &l);
    if (e || l.failed) {
        json_decref(l.data);
        return NULL;
    }
    return l.data;
}

int rec_count(srv *s, const char *ns, const char *idx, uint64_t *n)
{
    return engine_record_count(s->db, ns, idx, n) == TSE_OK ? 0 : -1;
}

const char *rec_ns(char out[REC_NS_LEN], const char *kind, const char *tss_id)
{
    snprintf(out, REC_NS_LEN, "%s/%s", kind, tss_id);
    return out;
}
