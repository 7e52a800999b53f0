/*
 * seq.c - checks across log messages, on the small records kept per log:
 * signature counters per key (copies, duplicates, gaps with the logs around
 * them), log time never decreasing with the counter, and transactions (one
 * Start, Updates, one Finish, in counter order, one client), transaction
 * numbers without holes and log times not after the check.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/logmsg.h"
#include "internal.h"

/* Log times this far after the time of the check pass as clock skew. */
#define VSEQ_CLOCK_SLACK 300
/* Timeline samples per TSE, and marks in all, for the HTML report. */
#define VSEQ_SAMPLES 400
#define VSEQ_MAX_MARKS 20000

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

/* Evenly spread samples of one key's records [b, e), sorted by counter,
 * the first and the last among them. */
static int sample(const vrec *rec, size_t b, size_t e, verify_result *r)
{
    size_t n = e - b, k = n < VSEQ_SAMPLES ? n : VSEQ_SAMPLES;
    for (size_t j = 0; j < k; j++) {
        const vrec *c = &rec[b + (k > 1 ? j * (n - 1) / (k - 1) : 0)];
        if (vr_mark(r, c->key, VERIFY_MARK_SAMPLE, c->counter, c->time) != 0)
            return -1;
    }
    return 0;
}

static const char *kind_name(uint8_t kind)
{
    return kind == LOGMSG_TRANSACTION ? "transaction" : kind == LOGMSG_SYSTEM ? "system" : "audit";
}

/* "counter 634 (FinishTransaction of transaction 17, client "K1",
 * 2021-08-31T10:00:00Z)" or "counter 7 (system log updateTime, ...)". */
static void describe(const vrec *c, char **strings, char *buf, size_t cap)
{
    char t[32];
    vr_time(c->time, t, sizeof t);
    if (c->kind == LOGMSG_TRANSACTION)
        snprintf(buf, cap, "counter %llu (%s of transaction %llu, client \"%s\", %s)",
                 (unsigned long long)c->counter, strings[c->opname],
                 (unsigned long long)c->txno, strings[c->client], t);
    else
        snprintf(buf, cap, "counter %llu (%s log%s%s, %s)", (unsigned long long)c->counter,
                 kind_name(c->kind), strings[c->opname][0] ? " " : "", strings[c->opname], t);
}

static int gap_log(verify_gap_log *g, const vrec *c, char **strings)
{
    g->counter = c->counter;
    g->time = c->time;
    g->kind = kind_name(c->kind);
    g->transaction = c->kind == LOGMSG_TRANSACTION ? c->txno : 0;
    g->operation = strdup(strings[c->opname]);
    g->client = c->kind == LOGMSG_TRANSACTION ? strdup(strings[c->client]) : NULL;
    return g->operation && (c->kind != LOGMSG_TRANSACTION || g->client) ? 0 : -1;
}

/* Counters p->counter + 1 .. c->counter - 1 are missing: a finding naming
 * the range and the logs around it, and the gap in r->gaps. */
static int add_gap(const vrec *p, const vrec *c, const char *serial, char **strings,
                   verify_result *r, const verify_options *o)
{
    char before[600], after[600];
    unsigned long long first = p->counter + 1, last = c->counter - 1;
    describe(p, strings, before, sizeof before);
    describe(c, strings, after, sizeof after);
    int rc = first == last
                 ? vr_add(r, o, VERIFY_WARNING, "counter-gap", NULL,
                          "TSE %.16s...: signature counter %llu is missing, between %s and %s",
                          serial, first, before, after)
                 : vr_add(r, o, VERIFY_WARNING, "counter-gap", NULL,
                          "TSE %.16s...: signature counters %llu..%llu are missing (%llu logs), "
                          "between %s and %s",
                          serial, first, last, last - first + 1, before, after);
    if (rc != 0)
        return -1;
    if (r->n_gaps >= vr_limit(o))
        return 0;
    if (vr_grow(&r->gaps, &r->cap_gaps, r->n_gaps, sizeof *r->gaps) != 0)
        return -1;
    verify_gap *g = &r->gaps[r->n_gaps];
    memset(g, 0, sizeof *g);
    g->tse = c->key;
    g->first = first;
    g->last = last;
    r->n_gaps++;   /* counted before filling in, so that a partial one is freed */
    return gap_log(&g->before, p, strings) == 0 && gap_log(&g->after, c, strings) == 0 ? 0 : -1;
}

/* Two logs with one counter: the same log twice (a copy in the archive) or
 * two different logs, which no TSE may sign. */
static int add_duplicate(const vrec *p, const vrec *c, const char *serial, verify_result *r,
                         const verify_options *o)
{
    bool copy = p->digest == c->digest && p->time == c->time && p->txno == c->txno &&
                p->opname == c->opname && p->client == c->client && p->kind == c->kind;
    if (copy)
        return vr_add(r, o, VERIFY_WARNING, "log-duplicate", NULL,
                      "TSE %.16s...: the log with signature counter %llu is in the archive "
                      "more than once (identical copies)",
                      serial, (unsigned long long)c->counter);
    return vr_add(r, o, VERIFY_ERROR, "counter-duplicate", NULL,
                  "TSE %.16s...: signature counter %llu appears in more than one log, with "
                  "different content",
                  serial, (unsigned long long)c->counter);
}

/* Counters and time of one key's records [b, e), sorted by counter. */
static int check_counters(const vrec *rec, size_t b, size_t e, const vkey *k, char **strings,
                          verify_result *r, const verify_options *o)
{
    char serial[65];
    hex_encode(serial, sizeof serial, k->serial, 32);
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
            rc = add_duplicate(p, c, serial, r, o);
        else if (c->counter != p->counter + 1)
            rc = add_gap(p, c, serial, strings, r, o);
        if (rc != 0)
            return -1;
        if (c->time < p->time) {
            if (r->n_marks < VSEQ_MAX_MARKS && vr_mark(r, c->key, VERIFY_MARK_SET_BACK, c->counter, c->time) != 0)
                return -1;
            /* Setting the clock back is logged by updateTime. */
            bool set_back = p->op == VOP_UPDATE_TIME || c->op == VOP_UPDATE_TIME;
            char ct[32], pt[32];
            rc = vr_add(r, o, VERIFY_WARNING, set_back ? "time-set-back" : "time-order", NULL,
                        "TSE %.16s...: log time of counter %llu (%s) is before that of "
                        "counter %llu (%s)%s",
                        serial, (unsigned long long)c->counter, vr_time(c->time, ct, sizeof ct),
                        (unsigned long long)p->counter, vr_time(p->time, pt, sizeof pt),
                        set_back ? " after updateTime" : " with no updateTime between them");
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
            rc = vr_add(r, o, VERIFY_NOTE, "transaction-client", NULL,
                        "transaction %llu: counter %llu is from client \"%s\", the transaction's "
                        "first log from \"%s\"",
                        no, ctr, clients[c->client], clients[rec[b].client]);
        if (rc == 0 && i == b && c->op != VOP_START) {
            /* A filtered export may begin after the Start. */
            bool filtered = first_counter > 1;
            rc = vr_add(r, o, VERIFY_WARNING, "transaction-no-start",
                        NULL, "transaction %llu begins with %s (counter %llu)%s", no,
                        op_name(c->op), ctr,
                        filtered ? "; its Start may precede the archive" : "");
        } else if (rc == 0 && i > b && c->op == VOP_START)
            rc = vr_add(r, o, VERIFY_WARNING, "transaction-order", NULL,
                        "transaction %llu: a second Start (counter %llu)", no, ctr);
        if (rc == 0 && finished)
            rc = vr_add(r, o, VERIFY_WARNING, "transaction-order", NULL,
                        "transaction %llu: %s (counter %llu) after its Finish", no,
                        op_name(c->op), ctr);
        if (rc != 0)
            return -1;
        if (c->op == VOP_FINISH)
            finished = true;
    }
    if (!finished) {
        /* Registers abandon transactions and exports catch them open. */
        r->counts.open_transactions++;
        if (r->n_marks < VSEQ_MAX_MARKS &&
            vr_mark(r, rec[b].key, VERIFY_MARK_OPEN, rec[b].counter, rec[b].time) != 0)
            return -1;
        if (vr_add(r, o, VERIFY_NOTE, "transaction-open", NULL,
                   "transaction %llu (client \"%s\", started at counter %llu) has no Finish "
                   "in the archive",
                   no, clients[rec[b].client], (unsigned long long)rec[b].counter) != 0)
            return -1;
    }
    return 0;
}

/* Transaction numbers of one key's transactions, seen in increasing order:
 * a number skipped while the archive holds the transactions on both sides
 * (section 10.3: plausibility of the transaction counter). */
static int check_number_gap(uint64_t prev, uint64_t cur, const vkey *k, verify_result *r,
                            const verify_options *o)
{
    if (cur <= prev + 1)
        return 0;
    char serial[65];
    hex_encode(serial, sizeof serial, k->serial, 32);
    unsigned long long a = prev + 1, b = cur - 1;
    return a == b ? vr_add(r, o, VERIFY_WARNING, "transaction-number-gap", NULL,
                           "TSE %.16s...: no log of transaction %llu, between transactions %llu "
                           "and %llu",
                           serial, a, (unsigned long long)prev, (unsigned long long)cur)
                  : vr_add(r, o, VERIFY_WARNING, "transaction-number-gap", NULL,
                           "TSE %.16s...: no log of transactions %llu..%llu, between "
                           "transactions %llu and %llu",
                           serial, a, b, (unsigned long long)prev, (unsigned long long)cur);
}

/* Log times after the time of the check: the TSE's clock ran ahead. */
static int check_future(const vkey *k, const verify_options *o, verify_result *r)
{
    int64_t now = o && o->now ? o->now : (int64_t)time(NULL);
    if (!k->logs || k->max_time <= now + VSEQ_CLOCK_SLACK)
        return 0;
    char serial[65], a[32], b[32];
    hex_encode(serial, sizeof serial, k->serial, 32);
    return vr_add(r, o, VERIFY_WARNING, "time-in-future", NULL,
                  "TSE %.16s...: logs signed as late as %s, after the time of the check (%s)",
                  serial, vr_time(k->max_time, a, sizeof a), vr_time(now, b, sizeof b));
}

int vseq_check(vrec *rec, size_t n, const vkey *keys, size_t n_keys, char **clients,
               verify_result *r, const verify_options *o)
{
    for (size_t i = 0; i < n_keys; i++)
        if (check_future(&keys[i], o, r) != 0)
            return -1;
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
        if (sample(rec, b, e, r) != 0) {
            free(first);
            return -1;
        }
        verify_tse *t = &r->tses[rec[b].key];
        t->first_counter = rec[b].counter;
        t->last_counter = rec[e - 1].counter;
        if (check_counters(rec, b, e, &keys[rec[b].key], clients, r, o) != 0) {
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
        if (b > 0 && rec[b - 1].kind == LOGMSG_TRANSACTION && rec[b - 1].key == rec[b].key &&
            check_number_gap(rec[b - 1].txno, rec[b].txno, &keys[rec[b].key], r, o) != 0) {
            free(first);
            return -1;
        }
        if (check_transaction(rec, b, e, first[rec[b].key], clients, r, o) != 0) {
            free(first);
            return -1;
        }
        /* Transaction numbers increase with the counters of their Starts. */
        if (rec[b].key != prev_key)
            prev_start = 0;
        if (rec[b].op == VOP_START) {
            /* TSEs that allocate numbers concurrently (D-Trust's cloud
             * TSE) sign a higher number's Start first. */
            if (rec[b].counter < prev_start &&
                vr_add(r, o, VERIFY_NOTE, "transaction-number-order", NULL,
                       "transaction %llu started (counter %llu) before a lower-numbered one "
                       "(counter %llu): numbers allocated concurrently",
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
