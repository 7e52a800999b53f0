/*
 * seq.c - checks across log messages, on the small records kept per log:
 * signature counters per key (duplicates, gaps), log time never decreasing
 * with the counter, and transactions (one Start, Updates, one Finish, in
 * counter order, one client).
 */
#include <stdlib.h>
#include <string.h>

#include "codec/logmsg.h"
#include "internal.h"

static int by_key_counter(const void *a, const void *b)
{
    const vrec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->counter != y->counter)
        return x->counter < y->counter ? -1 : 1;
    return 0;
}

/* Transaction logs first, by key, transaction number, counter. */
static int by_key_tx_counter(const void *a, const void *b)
{
    const vrec *x = a, *y = b;
    bool tx = x->kind == LOGMSG_TRANSACTION, ty = y->kind == LOGMSG_TRANSACTION;
    if (tx != ty)
        return tx ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->txno != y->txno)
        return x->txno < y->txno ? -1 : 1;
    if (x->counter != y->counter)
        return x->counter < y->counter ? -1 : 1;
    return 0;
}

static const char *op_name(uint8_t op)
{
    switch (op) {
    case VOP_START: return "Start";
    case VOP_UPDATE: return "Update";
    case VOP_FINISH: return "Finish";
    }
    return "system";
}

/* Counters and time of one key's records [b, e), sorted by counter. */
static int check_counters(const vrec *rec, size_t b, size_t e, const vkey *k,
                          verify_result *r, const verify_options *o)
{
    char serial[65];
    vr_hex(k->serial, 32, serial);
    if (rec[b].counter > 1 &&
        vr_add(r, o, VERIFY_NOTE, "counter-start", NULL,
               "TSE %.16s...: the first signature counter is %llu (a filtered or "
               "incremental export, or earlier data deleted)",
               serial, (unsigned long long)rec[b].counter) != 0)
        return -1;
    for (size_t i = b + 1; i < e; i++) {
        const vrec *p = &rec[i - 1], *c = &rec[i];
        int rc = 0;
        if (c->counter == p->counter)
            rc = vr_add(r, o, VERIFY_ERROR, "counter-duplicate", NULL,
                        "TSE %.16s...: signature counter %llu appears more than once", serial,
                        (unsigned long long)c->counter);
        else if (c->counter != p->counter + 1) {
            if (c->counter == p->counter + 2)
                rc = vr_add(r, o, VERIFY_ERROR, "counter-gap", NULL,
                            "TSE %.16s...: signature counter %llu is missing", serial,
                            (unsigned long long)(p->counter + 1));
            else
                rc = vr_add(r, o, VERIFY_ERROR, "counter-gap", NULL,
                            "TSE %.16s...: signature counters %llu..%llu are missing (%llu logs)",
                            serial, (unsigned long long)(p->counter + 1),
                            (unsigned long long)(c->counter - 1),
                            (unsigned long long)(c->counter - p->counter - 1));
        }
        if (rc != 0)
            return -1;
        if (c->time < p->time) {
            /* Setting the clock back is logged by updateTime. */
            bool set_back = p->op == VOP_UPDATE_TIME || c->op == VOP_UPDATE_TIME;
            char ct[32], pt[32];
            rc = vr_add(r, o, set_back ? VERIFY_WARNING : VERIFY_ERROR,
                        set_back ? "time-set-back" : "time-order", NULL,
                        "TSE %.16s...: log time of counter %llu (%s) is before that of "
                        "counter %llu (%s)%s",
                        serial, (unsigned long long)c->counter, vr_time(c->time, ct, sizeof ct),
                        (unsigned long long)p->counter, vr_time(p->time, pt, sizeof pt),
                        set_back ? " after updateTime" : "");
            if (rc != 0)
                return -1;
        }
    }
    return 0;
}

/* One transaction: records [b, e) of one key and number, by counter.
 * `first_counter` is the key's first counter in the archive. */
static int check_transaction(const vrec *rec, size_t b, size_t e, uint64_t first_counter,
                             char **clients, verify_result *r, const verify_options *o)
{
    unsigned long long no = (unsigned long long)rec[b].txno;
    bool finished = false;
    for (size_t i = b; i < e; i++) {
        const vrec *c = &rec[i];
        int rc = 0;
        unsigned long long ctr = (unsigned long long)c->counter;
        /* Deployed TSEs let another client finish a transaction. */
        if (c->client != rec[b].client)
            rc = vr_add(r, o, VERIFY_WARNING, "transaction-client", NULL,
                        "transaction %llu: counter %llu is from client \"%s\", the transaction's "
                        "first log from \"%s\"",
                        no, ctr, clients[c->client], clients[rec[b].client]);
        if (rc == 0 && i == b && c->op != VOP_START) {
            /* A filtered export may begin after the Start. */
            bool filtered = first_counter > 1;
            rc = vr_add(r, o, filtered ? VERIFY_WARNING : VERIFY_ERROR, "transaction-no-start",
                        NULL, "transaction %llu begins with %s (counter %llu)%s", no,
                        op_name(c->op), ctr,
                        filtered ? "; its Start may precede the archive" : "");
        } else if (rc == 0 && i > b && c->op == VOP_START)
            rc = vr_add(r, o, VERIFY_ERROR, "transaction-order", NULL,
                        "transaction %llu: a second Start (counter %llu)", no, ctr);
        if (rc == 0 && finished)
            rc = vr_add(r, o, VERIFY_ERROR, "transaction-order", NULL,
                        "transaction %llu: %s (counter %llu) after its Finish", no,
                        op_name(c->op), ctr);
        if (rc != 0)
            return -1;
        if (c->op == VOP_FINISH)
            finished = true;
    }
    if (!finished) {
        r->counts.open_transactions++;
        if (vr_add(r, o, VERIFY_WARNING, "transaction-open", NULL,
                   "transaction %llu (client \"%s\") has no Finish in the archive", no,
                   clients[rec[b].client]) != 0)
            return -1;
    }
    return 0;
}

int vseq_check(vrec *rec, size_t n, const vkey *keys, size_t n_keys, char **clients,
               verify_result *r, const verify_options *o)
{
    (void)n_keys;
    if (n == 0)
        return 0;
    qsort(rec, n, sizeof *rec, by_key_counter);
    /* First counter per key, for the transaction check. */
    uint64_t *first = calloc(n_keys ? n_keys : 1, sizeof *first);
    if (!first)
        return -1;
    for (size_t b = 0, e; b < n; b = e) {
        for (e = b + 1; e < n && rec[e].key == rec[b].key; e++)
            ;
        first[rec[b].key] = rec[b].counter;
        verify_tse *t = &r->tses[rec[b].key];
        t->first_counter = rec[b].counter;
        t->last_counter = rec[e - 1].counter;
        if (check_counters(rec, b, e, &keys[rec[b].key], r, o) != 0) {
            free(first);
            return -1;
        }
    }
    qsort(rec, n, sizeof *rec, by_key_tx_counter);
    uint64_t prev_start = 0;
    uint16_t prev_key = UINT16_MAX;
    for (size_t b = 0, e; b < n && rec[b].kind == LOGMSG_TRANSACTION; b = e) {
        for (e = b + 1; e < n && rec[e].kind == LOGMSG_TRANSACTION && rec[e].key == rec[b].key &&
                        rec[e].txno == rec[b].txno;
             e++)
            ;
        r->counts.transactions++;
        if (check_transaction(rec, b, e, first[rec[b].key], clients, r, o) != 0) {
            free(first);
            return -1;
        }
        /* Transaction numbers increase with the counters of their Starts. */
        if (rec[b].key != prev_key)
            prev_start = 0;
        if (rec[b].op == VOP_START) {
            if (rec[b].counter < prev_start &&
                vr_add(r, o, VERIFY_ERROR, "transaction-number-order", NULL,
                       "transaction %llu started (counter %llu) before a lower-numbered one "
                       "(counter %llu)",
                       (unsigned long long)rec[b].txno, (unsigned long long)rec[b].counter,
                       (unsigned long long)prev_start) != 0) {
                free(first);
                return -1;
            }
            prev_start = rec[b].counter;
        }
        prev_key = rec[b].key;
    }
    free(first);
    return 0;
}
