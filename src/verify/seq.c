/*
 * seq.c - checks across log messages, on the small records kept per log:
 * signature counters per key (copies, duplicates, gaps with the logs around
 * them), log time never decreasing with the counter, and transactions (one
 * Start, Updates, one Finish, in counter order, one client), transaction
 * numbers without holes and log times not after the check.
 *
 * The records come sorted out of spill.c, one at a time: every check keeps
 * only the record before and a few numbers per key or transaction, so memory
 * does not grow with the archive.
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

int vrec_by_key_counter(const void *a, const void *b)
{
    const vrec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
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

/* Evenly spread samples of one key's `n` records, the first and the last
 * among them: record `i` (by counter) is sampled when it is the next of the
 * VSEQ_SAMPLES evenly spread indexes; `*next` counts the samples taken. */
static int sample(const vrec *c, size_t i, size_t n, size_t *next, verify_result *r)
{
    size_t k = n < VSEQ_SAMPLES ? n : VSEQ_SAMPLES;
    if (*next >= k || i != (k > 1 ? *next * (n - 1) / (k - 1) : 0))
        return 0;
    ++*next;
    return vr_mark(r, c->key, VERIFY_MARK_SAMPLE, c->counter, c->time);
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

/* The first record of a key (by counter). */
static int first_counter(const vrec *c, const vkey *k, verify_result *r, const verify_options *o)
{
    char serial[65];
    hex_encode(serial, sizeof serial, k->serial, 32);
    if (c->counter <= 1)
        return 0;
    return vr_add(r, o, VERIFY_NOTE, "counter-start", NULL,
                  "TSE %.16s...: the first signature counter is %llu (a filtered or "
                  "incremental export, or earlier data deleted)",
                  serial, (unsigned long long)c->counter);
}

/* Counters and time of two records of one key next to each other by counter. */
static int check_pair(const vrec *p, const vrec *c, const vkey *k, char **strings,
                      verify_result *r, const verify_options *o)
{
    char serial[65];
    hex_encode(serial, sizeof serial, k->serial, 32);
    int rc = 0;
    if (c->counter == p->counter)
        rc = add_duplicate(p, c, serial, r, o);
    else if (c->counter != p->counter + 1)
        rc = add_gap(p, c, serial, strings, r, o);
    if (rc != 0)
        return -1;
    if (c->time >= p->time)
        return 0;
    if (r->n_marks < VSEQ_MAX_MARKS && vr_mark(r, c->key, VERIFY_MARK_SET_BACK, c->counter, c->time) != 0)
        return -1;
    /* Setting the clock back is logged by updateTime. */
    bool set_back = p->op == VOP_UPDATE_TIME || c->op == VOP_UPDATE_TIME;
    char ct[32], pt[32];
    return vr_add(r, o, VERIFY_WARNING, set_back ? "time-set-back" : "time-order", NULL,
                  "TSE %.16s...: log time of counter %llu (%s) is before that of "
                  "counter %llu (%s)%s",
                  serial, (unsigned long long)c->counter, vr_time(c->time, ct, sizeof ct),
                  (unsigned long long)p->counter, vr_time(p->time, pt, sizeof pt),
                  set_back ? " after updateTime" : " with no updateTime between them");
}

/* One transaction while its records come by counter: the first, whether
 * its Finish was seen. */
typedef struct vtx {
    vrec first;
    bool finished;
} vtx;

/* Record `c` of transaction `t` (`first`: it is the transaction's first).
 * `first_counter` is the key's first counter in the archive. */
static int tx_record(vtx *t, const vrec *c, bool first, uint64_t first_counter, char **clients,
                     verify_result *r, const verify_options *o)
{
    unsigned long long no = (unsigned long long)c->txno, ctr = (unsigned long long)c->counter;
    int rc = 0;
    if (first)
        *t = (vtx){*c, false};
    /* Deployed TSEs let another client finish a transaction. */
    if (c->client != t->first.client)
        rc = vr_add(r, o, VERIFY_NOTE, "transaction-client", NULL,
                    "transaction %llu: counter %llu is from client \"%s\", the transaction's "
                    "first log from \"%s\"",
                    no, ctr, clients[c->client], clients[t->first.client]);
    if (rc == 0 && first && c->op != VOP_START) {
        /* A filtered export may begin after the Start. */
        bool filtered = first_counter > 1;
        rc = vr_add(r, o, VERIFY_WARNING, "transaction-no-start", NULL,
                    "transaction %llu begins with %s (counter %llu)%s", no, op_name(c->op), ctr,
                    filtered ? "; its Start may precede the archive" : "");
    } else if (rc == 0 && !first && c->op == VOP_START)
        rc = vr_add(r, o, VERIFY_WARNING, "transaction-order", NULL,
                    "transaction %llu: a second Start (counter %llu)", no, ctr);
    if (rc == 0 && t->finished)
        rc = vr_add(r, o, VERIFY_WARNING, "transaction-order", NULL,
                    "transaction %llu: %s (counter %llu) after its Finish", no, op_name(c->op), ctr);
    if (c->op == VOP_FINISH)
        t->finished = true;
    return rc;
}

/* After the last record of a transaction. */
static int tx_end(const vtx *t, char **clients, verify_result *r, const verify_options *o)
{
    if (t->finished)
        return 0;
    /* Registers abandon transactions and exports catch them open. */
    r->counts.open_transactions++;
    if (r->n_marks < VSEQ_MAX_MARKS &&
        vr_mark(r, t->first.key, VERIFY_MARK_OPEN, t->first.counter, t->first.time) != 0)
        return -1;
    return vr_add(r, o, VERIFY_NOTE, "transaction-open", NULL,
                  "transaction %llu (client \"%s\", started at counter %llu) has no Finish "
                  "in the archive",
                  (unsigned long long)t->first.txno, clients[t->first.client],
                  (unsigned long long)t->first.counter);
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

/* Pass 1, records by key and counter: counters, times, the timeline's
 * samples, each key's first and last counter; transaction records go on to
 * `txs` for pass 2. */
static int by_counter(vsort *recs, vsort *txs, const vkey *keys, char **strings, uint64_t *first,
                      verify_result *r, const verify_options *o)
{
    vrec p = {0}, c;
    int got;
    size_t i = 0, next = 0;
    bool have = false;
    while ((got = vsort_next(recs, &c)) == 1) {
        bool new_key = !have || c.key != p.key;
        if (new_key) {
            i = next = 0;
            first[c.key] = c.counter;
            r->tses[c.key].first_counter = c.counter;
            if (first_counter(&c, &keys[c.key], r, o) != 0)
                return -1;
        } else if (check_pair(&p, &c, &keys[c.key], strings, r, o) != 0) {
            return -1;
        }
        r->tses[c.key].last_counter = c.counter;
        if (sample(&c, i++, keys[c.key].logs, &next, r) != 0)
            return -1;
        if (c.kind == LOGMSG_TRANSACTION && vsort_add(txs, &c) != 0)
            return -1;
        p = c;
        have = true;
    }
    return got;
}

/* Pass 2, transaction records by key, number and counter. */
static int by_transaction(vsort *txs, const vkey *keys, char **clients, const uint64_t *first,
                          verify_result *r, const verify_options *o)
{
    vrec p = {0}, c;
    vtx t = {0};
    int got;
    bool have = false;
    uint64_t prev_start = 0;
    while ((got = vsort_next(txs, &c)) == 1) {
        bool same_key = have && c.key == p.key, new_tx = !same_key || c.txno != p.txno;
        if (new_tx) {
            if (have && tx_end(&t, clients, r, o) != 0)
                return -1;
            r->counts.transactions++;
            if (same_key && check_number_gap(p.txno, c.txno, &keys[c.key], r, o) != 0)
                return -1;
            /* Transaction numbers increase with the counters of their
             * Starts; TSEs that allocate numbers concurrently (D-Trust's
             * cloud TSE) sign a higher number's Start first. */
            if (!same_key)
                prev_start = 0;
            if (c.op == VOP_START) {
                if (c.counter < prev_start &&
                    vr_add(r, o, VERIFY_NOTE, "transaction-number-order", NULL,
                           "transaction %llu started (counter %llu) before a lower-numbered one "
                           "(counter %llu): numbers allocated concurrently",
                           (unsigned long long)c.txno, (unsigned long long)c.counter,
                           (unsigned long long)prev_start) != 0)
                    return -1;
                prev_start = c.counter;
            }
        }
        if (tx_record(&t, &c, new_tx, first[c.key], clients, r, o) != 0)
            return -1;
        p = c;
        have = true;
    }
    if (got < 0 || (have && tx_end(&t, clients, r, o) != 0))
        return -1;
    return 0;
}

/* Transaction logs by key, transaction number, counter. */
static int by_key_tx_counter(const void *a, const void *b)
{
    const vrec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->txno != y->txno)
        return x->txno < y->txno ? -1 : 1;
    if (x->counter != y->counter)
        return x->counter < y->counter ? -1 : 1;
    return 0;
}

int vseq_check(vsort *recs, const vkey *keys, size_t n_keys, char **clients, verify_result *r,
               const verify_options *o)
{
    for (size_t i = 0; i < n_keys; i++)
        if (check_future(&keys[i], o, r) != 0)
            return -1;
    if (recs->total == 0)
        return 0;
    /* First counter per key, for the transaction check. */
    uint64_t *first = calloc(n_keys ? n_keys : 1, sizeof *first);
    vsort txs;
    if (!first || vsort_init(&txs, by_key_tx_counter, recs->cap) != 0) {
        free(first);
        return -1;
    }
    int rc = vsort_begin(recs) != 0 || by_counter(recs, &txs, keys, clients, first, r, o) != 0 ||
                     vsort_begin(&txs) != 0 || by_transaction(&txs, keys, clients, first, r, o) != 0
                 ? -1
                 : 0;
    /* The same checks, but memory grew with the archive: say so. */
    const char *tmp = getenv("TMPDIR");
    if (rc == 0 && (recs->in_memory || txs.in_memory) &&
        vr_add(r, o, VERIFY_NOTE, "verify-in-memory", NULL,
               "no temporary file could be made in %s (%s): the records of the %zu logs were "
               "kept in memory",
               tmp && *tmp ? tmp : "/tmp", strerror(recs->in_memory ? recs->spill_errno : txs.spill_errno),
               recs->total) != 0)
        rc = -1;
    vsort_free(&txs);
    free(first);
    return rc;
}
