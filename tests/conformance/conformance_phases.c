/*
 * conformance_phases.c - TR-03153-1-TS v1.1.1 6.1.1, 6.2.2, 6.2.3 and
 * 6.2.4: the phase sequences of the storage (STO_FUN), concatenation
 * (SM_CON), time (SM_TME) and signature counter (SM_SIG) cases of profile
 * SM_AGG: several updates without a protection step, parallel transactions
 * with staggered phases, updates until a protection step, updateTime
 * between the phases, a TSE's life from initialize to disableSecureElement
 * and the user phases of table 24; and ErrorCertificateExpired of the
 * transaction functions (II_ERR_04).
 *
 * A run records what each call returned and which log it must have made
 * (by signature counter); then every log is read back through
 * exportLogMessages, its structure read by `openssl asn1parse` (not our
 * parser): the elements from version to the log time, contiguous, are the
 * bytes `openssl dgst` verifies the signatureValue over, and the content
 * of each element is the one the calls passed, aggregated as SM_AGG does.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../client/transport.h"
#include "helpers.h"

/* ------------------------------------------------ a log read by asn1parse */

/* An element of depth 1 of a log as `openssl asn1parse` shows it. */
typedef struct a1_el {
    size_t off, hl, len;
    bool cons;
    char tag[40];
} a1_el;

/* A log read by asn1parse: its elements, what it is, counter and time. */
typedef struct a1_log {
    const uint8_t *der;
    a1_el el[24];
    size_t n;
    bool tx;          /* certifiedDataType transaction log, else system or audit log */
    bool audit;       /* the CSP's audit log: no eventType, seAuditData after signatureAlgorithm */
    char op[64];      /* operationType or eventType */
    uint64_t counter;
    int64_t time;
} a1_log;

static const uint8_t *a1_content(const a1_log *l, size_t i)
{
    return l->der + l->el[i].off + l->el[i].hl;
}

static bool a1_is(const a1_log *l, size_t i, const char *s)
{
    return l->el[i].len == strlen(s) && memcmp(a1_content(l, i), s, l->el[i].len) == 0;
}

static uint64_t a1_uint(const a1_log *l, size_t i)
{
    assert_string_equal(l->el[i].tag, "INTEGER");
    assert_true(l->el[i].len >= 1 && l->el[i].len <= 9 && !(a1_content(l, i)[0] & 0x80));
    uint64_t v = 0;
    for (size_t k = 0; k < l->el[i].len; k++)
        v = v << 8 | a1_content(l, i)[k];
    return v;
}

static const char *time_tag(void)
{
    return cf.info.time_format == TSE_TIME_UTC ? "UTCTIME"
           : cf.info.time_format == TSE_TIME_GENERALIZED ? "GENERALIZEDTIME"
                                                          : "INTEGER";
}

static int64_t a1_time(const a1_log *l, size_t i)
{
    assert_string_equal(l->el[i].tag, time_tag());
    if (cf.info.time_format == TSE_TIME_UNIX)
        return (int64_t)a1_uint(l, i);
    char s[20] = "";
    assert_true(l->el[i].len < sizeof s);
    memcpy(s, a1_content(l, i), l->el[i].len);
    struct tm tm = {0};
    const char *end = strptime(s, cf.info.time_format == TSE_TIME_UTC ? "%y%m%d%H%M%SZ" : "%Y%m%d%H%M%SZ", &tm);
    assert_true(end && !*end);
    return (int64_t)timegm(&tm);
}

/* Reads the log `der` with `openssl asn1parse`: one SEQUENCE over all of
 * it, its elements contiguous, version 3, a transaction, system or audit log,
 * then serialNumber (the TSE's), signatureAlgorithm, signatureCounter, the
 * log time in the TSE's format and signatureValue, which `openssl dgst`
 * verifies over the bytes from version to the log time. */
static void a1_read(const uint8_t *der, size_t len, a1_log *l)
{
    static int seq;
    memset(l, 0, sizeof *l);
    l->der = der;
    char path[600], cmd[800], line[1024];
    snprintf(path, sizeof path, "%s/a1-%d.der", th_tmpdir(), seq++);
    assert_int_equal(th_write_file(path, der, len), 0);
    snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in '%s' 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t top = 0;
    while (fgets(line, sizeof line, p)) {
        long off, n;
        int depth, hl;
        char kind[8];
        if (sscanf(line, " %ld:d=%d hl=%d l=%ld %7s", &off, &depth, &hl, &n, kind) != 5 ||
            (strcmp(kind, "cons:") && strcmp(kind, "prim:")))
            fail_msg("asn1parse: %s", line);
        if (depth == 0) {
            assert_true(top++ == 0 && off == 0 && (size_t)(hl + n) == len && !strcmp(kind, "cons:"));
            continue;
        }
        if (depth != 1)
            continue;
        assert_true(l->n < sizeof l->el / sizeof l->el[0]);
        a1_el *e = &l->el[l->n++];
        e->off = (size_t)off;
        e->hl = (size_t)hl;
        e->len = (size_t)n;
        e->cons = kind[0] == 'c';
        const char *t = strstr(line, kind) + strlen(kind);
        while (*t == ' ')
            t++;
        size_t tl = strcspn(t, ":\n");
        const char *gap = strstr(t, "  ");   /* "OCTET STRING      [HEX DUMP]:..." */
        if (gap && (size_t)(gap - t) < tl)
            tl = (size_t)(gap - t);
        while (tl && t[tl - 1] == ' ')
            tl--;
        snprintf(e->tag, sizeof e->tag, "%.*s", (int)tl, t);
    }
    assert_int_equal(pclose(p), 0);
    unlink(path);
    assert_int_equal(top, 1);
    assert_true(l->n >= 8);
    for (size_t i = 0; i < l->n; i++)   /* contiguous, from the SEQUENCE's content to its end */
        assert_int_equal(l->el[i].off, i ? l->el[i - 1].off + l->el[i - 1].hl + l->el[i - 1].len : l->el[0].off);
    assert_int_equal(l->el[l->n - 1].off + l->el[l->n - 1].hl + l->el[l->n - 1].len, len);

    assert_true(!strcmp(l->el[0].tag, "INTEGER") && a1_uint(l, 0) == 3);
    assert_string_equal(l->el[1].tag, "OBJECT");
    static const uint8_t oid_tx[] = {0x04, 0x00, 0x7f, 0x00, 0x07, 0x03, 0x07, 0x01, 0x01};   /* 0.4.0.127.0.7.3.7.1.1 */
    assert_true(l->el[1].len == sizeof oid_tx && !memcmp(a1_content(l, 1), oid_tx, sizeof oid_tx - 1));
    uint8_t last = a1_content(l, 1)[sizeof oid_tx - 1];
    assert_true(last >= 1 && last <= 3);   /* a transaction, system or audit log */
    l->tx = last == 1;
    l->audit = last == 3;
    if (!l->audit) {
        assert_true(!strcmp(l->el[2].tag, "cont [ 0 ]") && !l->el[2].cons && l->el[2].len < sizeof l->op);
        memcpy(l->op, a1_content(l, 2), l->el[2].len);
    }

    /* serialNumber, signatureAlgorithm, [seAuditData,] counter, time, signatureValue */
    size_t k = l->audit ? 2 : l->n - 5, d = l->audit;
    if (l->audit) {
        assert_int_equal(l->n, 8);
        assert_string_equal(l->el[k + 2].tag, "OCTET STRING");
    }
    assert_true(!strcmp(l->el[k].tag, "OCTET STRING") && l->el[k].len == TSE_SERIAL_LEN);
    assert_memory_equal(a1_content(l, k), cf.info.serial_number, TSE_SERIAL_LEN);
    assert_true(!strcmp(l->el[k + 1].tag, "SEQUENCE") && l->el[k + 1].cons);
    l->counter = a1_uint(l, k + 2 + d);
    l->time = a1_time(l, k + 3 + d);
    assert_string_equal(l->el[k + 4 + d].tag, "OCTET STRING");
    size_t from = l->el[0].off, to = l->el[k + 4 + d].off;
    assert_int_equal(th_openssl_verify(cf.info.curve, cf.info.hash, cf.point, cf.point_len, der + from, to - from,
                                       a1_content(l, k + 4 + d), l->el[k + 4 + d].len),
                     0);
}

/* ---------------------------------------------------- a run of phases */

/* The log a call made: a transaction log of (op, client, number, processData)
 * or a system log of event `op`; its signature and time as returned. */
typedef struct want_log {
    bool set, tx;
    char op[40];
    const char *client;
    unsigned long int number;
    char pd[512];
    unsigned char sig[200];
    unsigned long int sig_len;
    int64_t time;   /* -1: not returned */
} want_log;

/* An open transaction of a run and the update data it keeps. */
typedef struct ptx {
    const char *client;
    unsigned long int n;
    char kept[512];
} ptx;

enum { MAX_LOGS = 160 };
static struct {
    want_log w[MAX_LOGS];
    unsigned long int counter;   /* the signature counter now */
    time_t t0;                   /* before the TSE was made */
    bool watch_time;             /* SM_TME: getCurrentSeTime after each log */
} run;

static void run_begin(cf_stage stage)
{
    memset(&run, 0, sizeof run);
    run.t0 = time(NULL);
    cf_fresh(stage);
    run.counter = cf_signature_counter();
}

/* The call made log run.counter + 1: it is the next one, and recorded. */
static want_log *expect_next(const cf_signed *s)
{
    assert_int_equal(s->counter, ++run.counter);
    assert_true(run.counter < MAX_LOGS && s->sig_len <= sizeof run.w[0].sig);
    want_log *w = &run.w[run.counter];
    w->set = true;
    memcpy(w->sig, s->sig, s->sig_len);
    w->sig_len = s->sig_len;
    w->time = timegm((struct tm *)&s->time);
    if (run.watch_time) {   /* the secure element's time is not behind its last log */
        struct tm se;
        OK(getCurrentSeTime(&se));
        assert_true(timegm(&se) >= w->time && timegm(&se) <= time(NULL) + 1);
    }
    return w;
}

static void expect_tx(const cf_signed *s, logmsg_tx_op op, const ptx *p, const char *pd)
{
    want_log *w = expect_next(s);
    w->tx = true;
    snprintf(w->op, sizeof w->op, "%s", logmsg_tx_operation(3, op));
    w->client = p->client;
    w->number = p->n;
    snprintf(w->pd, sizeof w->pd, "%s", pd);
}

/* A system call made exactly one log, of `event` (read back with
 * getLastLogMessage, its signature checked there). */
static void expect_system(short int rc, const char *event)
{
    OK(rc);
    cf_log l;
    cf_last_log(&l);
    cf_signed s = {.counter = (unsigned long int)l.m.signature_counter};
    assert_true(l.m.signature.n <= sizeof s.sig);
    memcpy(s.sig, l.m.signature.p, l.m.signature.n);
    s.sig_len = l.m.signature.n;
    time_t t = (time_t)l.m.log_time;
    gmtime_r(&t, &s.time);
    want_log *w = expect_next(&s);
    snprintf(w->op, sizeof w->op, "%s", event);
    assert_int_equal(cf_signature_counter(), run.counter);
}

/* A system call made one log of `event` that the caller may not read
 * (table 9): its content is checked by run_verify's export, its signature
 * and time are not known here. */
static void expect_unread(short int rc, const char *event)
{
    OK(rc);
    assert_true(++run.counter < MAX_LOGS);
    want_log *w = &run.w[run.counter];
    w->set = true;
    w->time = -1;
    snprintf(w->op, sizeof w->op, "%s", event);
}

static void p_start(ptx *p, const char *client, const char *pd)
{
    memset(p, 0, sizeof *p);
    p->client = client;
    cf_signed s;
    p->n = cf_start(client, CF_TYPE, pd, &s, EXECUTION_OK);
    expect_tx(&s, LOGMSG_TX_START, p, pd);
}

/* updateTransaction: without forceSignature the data is kept (no log, no
 * counter); with it the kept data and this call's are signed in one log. */
static void p_update(ptx *p, const char *pd, bool force)
{
    UpdateProtectionVariants v = (UpdateProtectionVariants)-1;
    cf_signed s;
    OK(cf_update(p->client, p->n, CF_TYPE, pd, force, &v, &s));
    bool prev = p->kept[0] != 0;
    assert_true(strlen(p->kept) + strlen(pd) < sizeof p->kept);
    strcat(p->kept, pd);
    if (!force) {
        assert_int_equal(v, prev ? UpdateProtectionVariants_prevAndPassedInMem
                                 : UpdateProtectionVariants_noPrevPassedInMem);
        assert_int_equal(s.counter, 0);
        assert_int_equal(s.sig_len, 0);
    } else {
        assert_int_equal(v, prev ? UpdateProtectionVariants_prevAndPassedProtected
                                 : UpdateProtectionVariants_noPrevPassedProtected);
        expect_tx(&s, LOGMSG_TX_UPDATE, p, p->kept);
        p->kept[0] = 0;
    }
    assert_int_equal(cf_signature_counter(), run.counter);
}

/* finishTransaction: kept data first in an update log of its own. */
static void p_finish(ptx *p, const char *pd)
{
    FinishProtectionVariants v = (FinishProtectionVariants)-1;
    cf_signed first, second;
    OK(cf_finish(p->client, p->n, CF_TYPE, pd, &v, &first, &second));
    if (p->kept[0]) {
        assert_int_equal(v, FinishProtectionVariants_updateLogCreated);
        expect_tx(&first, LOGMSG_TX_UPDATE, p, p->kept);
        expect_tx(&second, LOGMSG_TX_FINISH, p, pd);
    } else {
        assert_int_equal(v, FinishProtectionVariants_updateLogNotCreated);
        assert_int_equal(second.sig_len, 0);
        expect_tx(&first, LOGMSG_TX_FINISH, p, pd);
    }
    p->kept[0] = 0;
    assert_int_equal(cf_signature_counter(), run.counter);
}

/* updateTime with the host's time now (the admin or time admin logged in). */
static void p_update_time(void)
{
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    expect_system(updateTime(&utc), "updateTime");
}

/* A transaction log read by asn1parse is what `w` says: operationType,
 * clientId, processData (aggregated), processType, transactionNumber; no
 * additionalExternalData or additionalInternalData. */
static void expect_tx_content(const a1_log *l, const want_log *w)
{
    static const char *const tags[] = {"cont [ 0 ]", "cont [ 1 ]", "cont [ 2 ]", "cont [ 3 ]", "cont [ 5 ]"};
    assert_int_equal(l->n, 2 + 5 + 5);
    for (size_t i = 0; i < 5; i++)
        assert_true(!strcmp(l->el[2 + i].tag, tags[i]) && !l->el[2 + i].cons);
    if (!a1_is(l, 3, w->client) || !a1_is(l, 4, w->pd) || !a1_is(l, 5, CF_TYPE))
        fail_msg("log %llu: clientId %.*s, processData \"%.*s\", processType %.*s; expected %s, \"%s\", %s",
                 (unsigned long long)l->counter, (int)l->el[3].len, a1_content(l, 3), (int)l->el[4].len,
                 a1_content(l, 4), (int)l->el[5].len, a1_content(l, 5), w->client, w->pd, CF_TYPE);
    /* transactionNumber: a [5] IMPLICIT INTEGER, minimal */
    const uint8_t *c = a1_content(l, 6);
    size_t n = l->el[6].len;
    assert_true(n >= 1 && n <= 8 && !(c[0] & 0x80) && (n == 1 || c[0] || (c[1] & 0x80)));
    unsigned long int number = 0;
    for (size_t i = 0; i < n; i++)
        number = number << 8 | c[i];
    assert_int_equal(number, w->number);
}

/* Every log of the TSE, read back with exportLogMessages and each read by
 * asn1parse and verified by openssl: one signature counter from 1 without
 * a gap (SM_SIG), a time that runs on and lies between the start of the
 * run and now (SM_TME), and each log a call made stored with the content,
 * signature and time the call passed and returned (STO_FUN, SM_CON).
 * Returns the number of logs. */
static size_t run_verify(void)
{
    time_t t1 = time(NULL);
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    uint64_t counter = 0;
    int64_t last = 0;
    size_t found = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (!a.e[i].is_log)
            continue;
        a1_log l;
        a1_read(a.e[i].data, a.e[i].len, &l);
        assert_int_equal(l.counter, ++counter);
        if (l.time < last || l.time < run.t0 - 1 || l.time > t1 + 1)
            fail_msg("log %llu has the time %lld, after %lld, in %lld..%lld", (unsigned long long)l.counter,
                     (long long)l.time, (long long)last, (long long)run.t0, (long long)t1);
        last = l.time;
        const want_log *w = l.counter < MAX_LOGS ? &run.w[l.counter] : NULL;
        if (!w || !w->set)
            continue;
        found++;
        if (strcmp(l.op, w->op) != 0 || l.tx != w->tx)
            fail_msg("log %llu is %s, expected %s", (unsigned long long)l.counter, l.op, w->op);
        const a1_el *sig = &l.el[l.n - 1];
        if (w->time != -1) {   /* returned by the call */
            assert_true(sig->len == w->sig_len && !memcmp(a1_content(&l, l.n - 1), w->sig, w->sig_len));
            assert_int_equal(l.time, w->time);
        }
        if (w->tx)
            expect_tx_content(&l, w);
    }
    size_t want = 0;
    for (size_t c = 0; c < MAX_LOGS; c++)
        want += run.w[c].set;
    assert_int_equal(found, want);
    assert_int_equal(counter, cf_signature_counter());
    assert_int_equal(counter, run.counter);
    cf_archive_free(&a);
    return (size_t)counter;
}

/* exportFilteredTransactionLogs of p's number holds exactly the logs the
 * run made for it, with their signatures. */
static void stored_of(const ptx *p)
{
    cf_archive a;
    OK(cf_export(2, &(cf_filter){.number = p->n}, &a));
    size_t want = 0, got = 0;
    for (size_t c = 0; c < MAX_LOGS; c++)
        want += run.w[c].set && run.w[c].tx && run.w[c].number == p->n;
    for (size_t i = 0; i < a.n; i++) {
        if (!a.e[i].is_log || a.e[i].m.kind != LOGMSG_TRANSACTION)
            continue;
        a1_log l;
        a1_read(a.e[i].data, a.e[i].len, &l);
        assert_true(l.tx && l.counter < MAX_LOGS && run.w[l.counter].set);
        const want_log *w = &run.w[l.counter];
        assert_int_equal(w->number, p->n);
        assert_true(l.el[l.n - 1].len == w->sig_len && !memcmp(a1_content(&l, l.n - 1), w->sig, w->sig_len));
        expect_tx_content(&l, w);
        got++;
    }
    assert_int_equal(got, want);
    cf_archive_free(&a);
}

/* ------------------------------------------- storage (6.1.1, STO_FUN) */

/* STO_FUN_03: start, several updates, finish: every protection step is
 * stored; the updates without forceSignature in the update log the finish
 * makes first. */
static void T_STO_FUN_03(void **state)
{
    (void)state;
    run_begin(CF_READY);
    ptx p;
    p_start(&p, CF_CLIENT, "");
    p_update(&p, "1 Kaffee;", false);
    p_update(&p, "1 Tee;", false);
    p_update(&p, "1 Kuchen;", false);
    p_finish(&p, "Beleg^4.50_0.00_0.00_0.00_0.00^4.50:Bar");
    stored_of(&p);
    run_verify();
}

/* STO_FUN_05: several transactions at once, their phases staggered. */
static void T_STO_FUN_05(void **state)
{
    (void)state;
    run_begin(CF_READY);
    OK(registerClient(S("KASSE-02")));
    run.counter = cf_signature_counter();
    ptx a, b, c;
    p_start(&a, CF_CLIENT, "");
    p_update(&a, "A1;", false);
    p_start(&b, "KASSE-02", "");
    p_update(&a, "A2;", false);
    p_update(&b, "B1;", false);
    p_start(&c, CF_CLIENT, "");
    p_update(&c, "C1;", false);
    p_update(&b, "B2;", false);
    p_finish(&a, "Summe A");
    p_update(&c, "C2;", false);
    p_finish(&c, "Summe C");
    p_update(&b, "B3;", false);
    p_finish(&b, "Summe B");
    stored_of(&a);
    stored_of(&b);
    stored_of(&c);
    run_verify();
}

/* STO_FUN_07: a protection step after updateTime. */
static void T_STO_FUN_07(void **state)
{
    (void)state;
    run_begin(CF_READY);
    p_update_time();
    ptx p;
    p_start(&p, CF_CLIENT, "");
    p_finish(&p, "Beleg");
    stored_of(&p);
    run_verify();
}

/* STO_FUN_08: updateTime several times during a transaction (II_UPDATETIME:
 * by the admin, whom table 9 lets read the logs and counters the run checks
 * after each call, unlike the time admin), protection steps between them. */
static void T_STO_FUN_08(void **state)
{
    (void)state;
    run_begin(CF_READY);
    ptx p;
    p_start(&p, CF_CLIENT, "");
    p_update_time();
    p_update(&p, "1 Kaffee;", true);
    p_update_time();
    p_update(&p, "1 Tee;", false);
    p_update_time();
    p_finish(&p, "Summe");
    p_update_time();
    stored_of(&p);
    run_verify();
}

/* ------------------------------ concatenation and signing (6.2.2, SM_CON)
 * Every transaction passes processData at its start and its finish. */

/* SM_CON_04: one transaction, several updates, none protected. */
static void T_SM_CON_04(void **state)
{
    (void)state;
    run_begin(CF_READY);
    ptx p;
    p_start(&p, CF_CLIENT, "Bestellung 17");
    p_update(&p, "1 Kaffee;", false);
    p_update(&p, "1 Tee;", false);
    p_update(&p, "2 Kuchen;", false);
    p_finish(&p, "Beleg^7.40_0.00_0.00_0.00_0.00^7.40:Bar");
    run_verify();
}

/* SM_CON_05: updates kept until one is protected (forceSignature): it
 * signs the kept data and its own in one log; the next kept ones go into
 * the finish's update log. */
static void T_SM_CON_05(void **state)
{
    (void)state;
    run_begin(CF_READY);
    ptx p;
    p_start(&p, CF_CLIENT, "Bestellung 18");
    p_update(&p, "1 Kaffee;", false);
    p_update(&p, "1 Tee;", false);
    p_update(&p, "1 Wasser;", true);
    p_update(&p, "1 Kuchen;", false);
    p_update(&p, "1 Eis;", true);
    p_update(&p, "1 Saft;", false);
    p_finish(&p, "Beleg^9.90_0.00_0.00_0.00_0.00^9.90:Bar");
    run_verify();
}

/* SM_CON_07: several transactions at once, staggered, one update each, none protected. */
static void T_SM_CON_07(void **state)
{
    (void)state;
    run_begin(CF_READY);
    OK(registerClient(S("KASSE-02")));
    OK(registerClient(S("KASSE-03")));
    run.counter = cf_signature_counter();
    ptx a, b, c;
    p_start(&a, CF_CLIENT, "Tisch 1");
    p_start(&b, "KASSE-02", "Tisch 2");
    p_update(&a, "1 Kaffee;", false);
    p_start(&c, "KASSE-03", "Tisch 3");
    p_update(&b, "1 Tee;", false);
    p_finish(&a, "Summe 1");
    p_update(&c, "1 Kuchen;", false);
    p_finish(&b, "Summe 2");
    p_finish(&c, "Summe 3");
    run_verify();
}

/* SM_CON_10: several transactions at once, staggered, several updates each
 * kept until one is protected. */
static void T_SM_CON_10(void **state)
{
    (void)state;
    run_begin(CF_READY);
    OK(registerClient(S("KASSE-02")));
    run.counter = cf_signature_counter();
    ptx a, b, c;
    p_start(&a, CF_CLIENT, "Tisch 1");
    p_update(&a, "A1;", false);
    p_start(&b, "KASSE-02", "Tisch 2");
    p_update(&b, "B1;", false);
    p_update(&a, "A2;", false);
    p_start(&c, CF_CLIENT, "Tisch 3");
    p_update(&b, "B2;", false);
    p_update(&c, "C1;", false);
    p_update(&a, "A3;", true);
    p_update(&c, "C2;", false);
    p_update(&b, "B3;", true);
    p_update(&a, "A4;", false);
    p_update(&c, "C3;", true);
    p_finish(&b, "Summe 2");
    p_finish(&a, "Summe 1");
    p_finish(&c, "Summe 3");
    run_verify();
}

/* SM_CON_11: several transactions at once, updates unprotected, updateTime
 * between the phases. */
static void T_SM_CON_11(void **state)
{
    (void)state;
    run_begin(CF_READY);
    OK(registerClient(S("KASSE-02")));
    run.counter = cf_signature_counter();
    ptx a, b;
    p_start(&a, CF_CLIENT, "Tisch 1");
    p_update_time();
    p_start(&b, "KASSE-02", "Tisch 2");
    p_update(&a, "A1;", false);
    p_update_time();
    p_update(&b, "B1;", false);
    p_update(&a, "A2;", false);
    p_update_time();
    p_finish(&a, "Summe 1");
    p_update(&b, "B2;", false);
    p_update_time();
    p_finish(&b, "Summe 2");
    run_verify();
}

/* ------------------------------- the time and the counter (SM_TME, SM_SIG) */

/* SM_TME_07, SM_SIG_07: initialize, updateTime several times, a
 * transaction with an update without a protection step, the secure
 * element's own data (the CSP's keyGenerated audit log, written when the
 * TSE was first opened, and the selfTest's log), disableSecureElement. */
static void life_of_a_tse(bool watch_time)
{
    run_begin(CF_ADMIN);
    run.watch_time = watch_time;
    expect_system(initialize(), "initialize");
    for (int i = 0; i < 3; i++)
        p_update_time();
    expect_system(registerClient(S(CF_CLIENT)), "registerClient");
    ptx p;
    p_start(&p, CF_CLIENT, "");
    p_update(&p, "1 Kaffee;", false);
    p_finish(&p, "Beleg^2.20_0.00_0.00_0.00_0.00^2.20:Bar");
    unsigned char r[2048];
    unsigned long int rn = 0;
    expect_system(selfTest(sizeof r, r, &rn), "selfTest");
    run.watch_time = false;   /* a disabled secure element tells no time */
    expect_system(disableSecureElement(), "disableSecureElement");
    size_t logs = run_verify();
    assert_int_equal(logs, run.counter);
}

static void T_SM_TME_07(void **state)
{
    (void)state;
    life_of_a_tse(true);
}

static void T_SM_SIG_07(void **state)
{
    (void)state;
    life_of_a_tse(false);
}

/* SM_TME_08, SM_SIG_08 (_A logger, _B admin, _C timeadmin of table 24):
 * unblockPin, authenticateUser and logOut of each user, one log each. */
static void user_phases(bool watch_time)
{
    run_begin(CF_INITIALIZED);
    run.watch_time = watch_time;
    expect_system(logOut(S("admin")), "logOut");
    static const struct {
        const char *user, *pin;
    } users[] = {{"logger", CF_LOGGER_PIN}, {"admin", CF_PIN}, {"timeadmin", CF_TIME_PIN}};
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        expect_system(unblockPin(S(users[i].user), S(cf.puk), S(users[i].pin)), "unblockPin");
        if (strcmp(users[i].user, "timeadmin") == 0) {
            /* table 9: the time admin reads no logs; its login's log is read from the export */
            expect_unread(authenticateUser(S(users[i].user), S(users[i].pin)), "authenticateUser");
        } else {
            expect_system(authenticateUser(S(users[i].user), S(users[i].pin)), "authenticateUser");
            cf_expect_system_log("authenticateUser", NULL);
        }
        expect_system(logOut(S(users[i].user)), "logOut");
        cf_expect_system_log("logOut", users[i].user);
    }
    run_verify();
}

static void T_SM_TME_08(void **state)
{
    (void)state;
    user_phases(true);
}

static void T_SM_SIG_08(void **state)
{
    (void)state;
    user_phases(false);
}

/* SM_SIG_04: several transactions at once, several updates each, none
 * protected: the counter moves by the logs made only, one after another. */
static void T_SM_SIG_04(void **state)
{
    (void)state;
    run_begin(CF_READY);
    OK(registerClient(S("KASSE-02")));
    run.counter = cf_signature_counter();
    ptx x[4];
    for (int i = 0; i < 4; i++)
        p_start(&x[i], i % 2 ? "KASSE-02" : CF_CLIENT, "");
    char pd[32];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 4; i++) {
            snprintf(pd, sizeof pd, "T%d-%d;", i, round);
            p_update(&x[i], pd, false);
        }
    for (int i = 3; i >= 0; i--)
        p_finish(&x[i], "Summe");
    assert_int_equal(run_verify(), run.counter);
}

/* ---------------------------------------- an expired certificate (II_ERR_04) */

/* The TSE's certificate replaced by one that openssl's own CA issued for
 * its key (the CSR of tse_export_csr) and that ended in 2024. */
static void expired_certificate(void)
{
    OK(seApiClose());
    tse *t = tt_open(cf.url);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, CF_PIN, NULL, NULL), TSE_OK);
    char *csr = NULL, *dir = th_path("expired-ca"), cmd[2400], path[600];
    assert_int_equal(tse_export_csr(t, &csr), TSE_OK);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/csr.pem", dir);
    assert_int_equal(th_write_file(path, csr, strlen(csr)), 0);
    tse_free(csr);
    snprintf(path, sizeof path, "%s/ca.cnf", dir);
    static const char cnf[] = "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
                              "serial = serial\ndefault_md = sha384\npolicy = p\n[p]\ncommonName = supplied\n";
    assert_int_equal(th_write_file(path, cnf, strlen(cnf)), 0);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && : > index.txt && echo 01 > serial && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout ca.key -out ca.pem "
             "-subj /CN=ExpiredCA -days 3650 -sha384 2>/dev/null && "
             "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in csr.pem -out tse.pem -notext "
             "-startdate 20240101000000Z -enddate 20240102000000Z 2>/dev/null && "
             "openssl x509 -in tse.pem -noout -checkend 0 >/dev/null; test $? -eq 1 && cat tse.pem ca.pem > chain.pem",
             dir);
    assert_int_equal(system(cmd), 0);   /* openssl itself calls it expired */
    snprintf(path, sizeof path, "%s/chain.pem", dir);
    size_t n = 0;
    char *chain = (char *)th_read_file(path, &n);
    assert_non_null(chain);
    assert_int_equal(tse_import_certificate(t, chain), TSE_OK);
    free(chain);
    int64_t not_after = 0;
    assert_int_equal(tse_certificate_expiry(t, &not_after, NULL), TSE_OK);
    assert_int_equal(not_after, 1704153600);   /* 2024-01-02T00:00:00Z */
    tse_close(t);
    free(dir);
    OK(seApiOpen(cf.url, tt_http() ? NULL : th_master_key(), NULL, NULL));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
}

/* The log a call that answered ErrorCertificateExpired made: stored, the
 * next counter, its signature the one returned; read by asn1parse and
 * verified by openssl. */
static void expired_but_stored(unsigned long int before, const cf_signed *s, logmsg_tx_op op, const ptx *p,
                               const char *pd)
{
    assert_int_equal(cf_signature_counter(), before + 1);
    assert_int_equal(s->counter, before + 1);
    cf_log l;
    cf_last_log(&l);
    assert_true(l.m.signature.n == s->sig_len && !memcmp(l.m.signature.p, s->sig, s->sig_len));
    a1_log a;
    a1_read(l.der, l.len, &a);
    want_log w = {.tx = true, .client = p->client, .number = p->n};
    snprintf(w.op, sizeof w.op, "%s", logmsg_tx_operation(3, op));
    snprintf(w.pd, sizeof w.pd, "%s", pd);
    assert_string_equal(a.op, w.op);
    assert_int_equal(a.counter, before + 1);
    assert_int_equal(a.time, timegm((struct tm *)&s->time));
    expect_tx_content(&a, &w);
}

/* II_ERR_04: with the certificate expired, startTransaction,
 * updateTransaction with a protection step and finishTransaction (_S, _T,
 * _U) answer ErrorCertificateExpired after their log is stored and fill
 * their outputs (TR-03151-1 3.1.2.4); the transaction runs its course and
 * the export holds the logs. So do the functions that sign a system log:
 * setDescription, registerClient, deregisterClient, lock and unlock,
 * updateTime, selfTest. */
static void T_II_ERR_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    expired_certificate();
    ptx p = {.client = CF_CLIENT};
    cf_signed s;
    unsigned long int before = cf_signature_counter();
    EXPECT(startTransaction(S(CF_CLIENT), (const unsigned char *)"Beginn", 6, S(CF_TYPE), &p.n, &s.time,
                            sizeof s.serial, s.serial, &s.serial_len, &s.counter, sizeof s.sig, s.sig, &s.sig_len),
           ERROR_CERTIFICATE_EXPIRED);                                                            /* _S */
    assert_true(p.n > 0 && s.serial_len == TSE_SERIAL_LEN);
    assert_memory_equal(s.serial, cf.info.serial_number, TSE_SERIAL_LEN);
    expired_but_stored(before, &s, LOGMSG_TX_START, &p, "Beginn");

    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, p.n, CF_TYPE, "1 Kaffee;", false, &v, &s));   /* kept: no log, nothing signed */
    before = cf_signature_counter();
    EXPECT(cf_update(CF_CLIENT, p.n, CF_TYPE, "1 Tee;", true, &v, &s), ERROR_CERTIFICATE_EXPIRED);   /* _T */
    assert_int_equal(v, UpdateProtectionVariants_prevAndPassedProtected);
    expired_but_stored(before, &s, LOGMSG_TX_UPDATE, &p, "1 Kaffee;1 Tee;");

    before = cf_signature_counter();
    cf_signed second;
    FinishProtectionVariants fv;
    EXPECT(cf_finish(CF_CLIENT, p.n, CF_TYPE, "Summe", &fv, &s, &second), ERROR_CERTIFICATE_EXPIRED);   /* _U */
    assert_int_equal(fv, FinishProtectionVariants_updateLogNotCreated);
    expired_but_stored(before, &s, LOGMSG_TX_FINISH, &p, "Summe");

    /* the functions that sign a system log answer it too, after their log
     * is stored (read back and checked by openssl) */
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    unsigned char r[2048];
    unsigned long int rn = 0;
    static const char *const events[] = {"setDescription", "registerClient", "deregisterClient",
                                         "lockTransactionLogging", "unlockTransactionLogging", "updateTime",
                                         "selfTest"};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        before = cf_signature_counter();
        short int got = i == 0   ? setDescription(S("Filiale 9"))
                        : i == 1 ? registerClient(S("KASSE-09"))
                        : i == 2 ? deregisterClient(S("KASSE-09"))
                        : i == 3 ? lockTransactionLogging()
                        : i == 4 ? unlockTransactionLogging()
                        : i == 5 ? updateTime(&utc)
                                 : selfTest(sizeof r, r, &rn);
        EXPECT(got, ERROR_CERTIFICATE_EXPIRED);
        assert_int_equal(cf_signature_counter(), before + 1);
        cf_expect_system_log(events[i], NULL);
    }
    /* a function that signs nothing does not */
    OK(getCurrentNumberOfTransactions(&(unsigned long int){0}));
    unsigned long int open = 99;
    OK(getCurrentNumberOfTransactions(&open));
    assert_int_equal(open, 0);

    cf_archive a;
    OK(cf_export(2, &(cf_filter){.number = p.n}, &a));   /* each log verified by openssl */
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 3);
    cf_archive_free(&a);
}

const struct CMUnitTest cf_phases[] = {
    cmocka_unit_test(T_STO_FUN_03), cmocka_unit_test(T_STO_FUN_05), cmocka_unit_test(T_STO_FUN_07),
    cmocka_unit_test(T_STO_FUN_08), cmocka_unit_test(T_SM_CON_04),  cmocka_unit_test(T_SM_CON_05),
    cmocka_unit_test(T_SM_CON_07),  cmocka_unit_test(T_SM_CON_10),  cmocka_unit_test(T_SM_CON_11),
    cmocka_unit_test(T_SM_TME_07),  cmocka_unit_test(T_SM_TME_08),  cmocka_unit_test(T_SM_SIG_04),
    cmocka_unit_test(T_SM_SIG_07),  cmocka_unit_test(T_SM_SIG_08),  cmocka_unit_test(T_II_ERR_04),
};
const size_t cf_phases_n = sizeof cf_phases / sizeof cf_phases[0];
