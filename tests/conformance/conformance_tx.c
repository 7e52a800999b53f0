/*
 * conformance_tx.c - TR-03153-1-TS v1.1.1 6.3.1.29 to 6.3.1.31 and
 * 6.3.1.33 to 6.3.1.45: transactions (II_STA, II_UPD, II_FIN), their
 * counts and states (II_UTV, II_CNT, II_MNT, II_GTS, II_GOT, II_CTC), the
 * last transaction log (II_GLT), the logging lock (II_LTL, II_UTL) and
 * several clients at once (II_MCU). OpenTSE's secure element aggregates
 * updates (profile SM_AGG): without forceSignature an update is kept for
 * the transaction's next log.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "helpers.h"

/* The last log is the transaction log of `op` for (client, n, type, pd),
 * with the returned signature and counter. */
static void expect_tx_log(logmsg_tx_op op, const char *client, unsigned long int n, const char *type, const char *pd,
                          const cf_signed *s)
{
    cf_log l;
    cf_last_log(&l);
    assert_int_equal(l.m.kind, LOGMSG_TRANSACTION);
    assert_int_equal(l.m.tx_op, op);
    assert_int_equal(l.m.transaction_number, n);
    assert_true(l.m.client_id.n == strlen(client) && memcmp(l.m.client_id.p, client, l.m.client_id.n) == 0);
    assert_true(l.m.has_process_type && l.m.process_type.n == strlen(type) &&
                memcmp(l.m.process_type.p, type, l.m.process_type.n) == 0);
    if (pd) {
        uint8_t pdv[4096];
        size_t pdn = cf_process_data(&l.m, pdv, sizeof pdv);
        assert_true(pdn == strlen(pd) && memcmp(pdv, pd, pdn) == 0);
    }
    assert_false(l.m.has_additional_internal_data);
    if (s) {
        assert_int_equal(l.m.signature_counter, s->counter);
        assert_int_equal(l.m.log_time, timegm((struct tm *)&s->time));
        assert_true(l.m.signature.n == s->sig_len && memcmp(l.m.signature.p, s->sig, s->sig_len) == 0);
    }
}

/* startTransaction: number, time, serial (the key's hash), counter and
 * signature returned; the start log holds what was passed. */
static void T_II_STA_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "Beleg 1", &s, EXECUTION_OK);
    assert_int_equal(n, 1);
    assert_int_equal(s.counter, before + 1);
    assert_int_equal(s.serial_len, 32);
    assert_memory_equal(s.serial, cf.info.serial_number, 32);
    assert_true(labs((long)(timegm(&s.time) - time(NULL))) < 60);
    expect_tx_log(LOGMSG_TX_START, CF_CLIENT, n, CF_TYPE, "Beleg 1", &s);
}

/* A process type of up to 100 characters (101 refused) in start, update, finish. */
static const char type100[] =
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789";

static void T_II_STA_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, type100, "x", &s, EXECUTION_OK);
    expect_tx_log(LOGMSG_TX_START, CF_CLIENT, n, type100, "x", &s);
    char t101[102];
    snprintf(t101, sizeof t101, "%sX", type100);
    cf_start(CF_CLIENT, t101, "x", NULL, ERROR_PARAMETER_TOO_LONG);
}

/* The limit of open transactions (a TSE made with a limit of 3). */
void T_II_STA_03(void **state)
{
    (void)state;
    tse_create_options o = {.max_open_transactions = 3};
    cf_fresh_file(CF_READY, &o);
    unsigned long int max = 0;
    OK(getMaxNumberOfTransactions(&max));
    assert_int_equal(max, 3);
    for (int i = 0; i < 3; i++)
        cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int before = cf_signature_counter();
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_LIMIT_OF_SIMULTANEOUS_OPEN_TRANSACTIONS_REACHED);
    assert_int_equal(cf_signature_counter(), before);
}

/* A client never registered cannot start (II_STA_04), update (II_UPD_09) or finish (II_FIN_06). */
static void T_II_STA_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    cf_start("KASSE-99", CF_TYPE, "", NULL, ERROR_CLIENT_NOT_REGISTERED);
    assert_int_equal(cf_signature_counter(), before);
}

static void T_II_UPD_09(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    EXPECT(cf_update("KASSE-99", n, CF_TYPE, "x", true, &v, NULL), ERROR_CLIENT_NOT_REGISTERED);
    EXPECT(cf_update("KASSE-99", n, CF_TYPE, "x", false, &v, NULL), ERROR_CLIENT_NOT_REGISTERED);
}

static void T_II_FIN_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    EXPECT(cf_finish("KASSE-99", n, CF_TYPE, "x", NULL, NULL, NULL), ERROR_CLIENT_NOT_REGISTERED);
}

/* updateTransaction with a protection step (forceSignature): time,
 * signature and counter of the update log. */
static void T_II_UPD_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s, u;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "1 Kaffee", true, &v, &u));
    assert_int_equal(v, UpdateProtectionVariants_noPrevPassedProtected);
    assert_int_equal(u.counter, s.counter + 1);
    expect_tx_log(LOGMSG_TX_UPDATE, CF_CLIENT, n, CF_TYPE, "1 Kaffee", &u);
}

/* Without a protection step: no time, counter or signature comes back. */
static void T_II_UPD_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s, u;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "1 Kaffee", false, &v, &u));
    assert_int_equal(v, UpdateProtectionVariants_noPrevPassedInMem);
    assert_int_equal(u.counter, 0);
    assert_int_equal(u.sig_len, 0);
    assert_int_equal(cf_signature_counter(), s.counter);
}

/* A forced protection step signs what was kept with the new data, in one log. */
static void T_II_UPD_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s, u;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "1 Kaffee;", false, &v, NULL));
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "1 Kuchen;", true, &v, &u));
    assert_int_equal(v, UpdateProtectionVariants_prevAndPassedProtected);
    assert_int_equal(u.counter, s.counter + 1);
    expect_tx_log(LOGMSG_TX_UPDATE, CF_CLIENT, n, CF_TYPE, "1 Kaffee;1 Kuchen;", &u);
}

static void T_II_UPD_05(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed u;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, type100, "x", true, &v, &u));
    expect_tx_log(LOGMSG_TX_UPDATE, CF_CLIENT, n, type100, "x", &u);
    char t101[102];
    snprintf(t101, sizeof t101, "%sX", type100);
    EXPECT(cf_update(CF_CLIENT, n, t101, "x", true, &v, &u), ERROR_PARAMETER_TOO_LONG);
}

/* updateTransaction with both logs' outputs. */
static short int update2(const char *client, unsigned long int n, const char *type, const char *pd, bool force,
                         UpdateProtectionVariants *v, cf_signed *first, cf_signed *second)
{
    memset(first, 0, sizeof *first);
    memset(second, 0xff, sizeof *second);
    return updateTransactionForceSignature(S(client), n, (const unsigned char *)pd, strlen(pd), S(type), force, v,
                                           &first->time, sizeof first->sig, first->sig, &first->sig_len,
                                           &first->counter, &second->time, sizeof second->sig, second->sig,
                                           &second->sig_len, &second->counter);
}

/* The transaction log of counter `s->counter` in the export of transaction
 * n (every log's name and signature checked by openssl there) is the
 * update log of (client, type, pd) with the returned time and signature. */
static void expect_exported_update(unsigned long int n, const char *client, const char *type, const char *pd,
                                   const cf_signed *s)
{
    cf_archive a;
    OK(cf_export(2, &(cf_filter){.number = n}, &a));
    cf_audit_archive(&a);
    const logmsg *m = NULL;
    for (size_t i = 0; i < a.n && !m; i++)
        if (a.e[i].is_log && a.e[i].m.kind == LOGMSG_TRANSACTION && a.e[i].m.signature_counter == s->counter)
            m = &a.e[i].m;
    assert_non_null(m);
    assert_int_equal(m->tx_op, LOGMSG_TX_UPDATE);
    assert_int_equal(m->transaction_number, n);
    assert_true(m->client_id.n == strlen(client) && memcmp(m->client_id.p, client, m->client_id.n) == 0);
    assert_true(m->has_process_type && m->process_type.n == strlen(type) &&
                memcmp(m->process_type.p, type, m->process_type.n) == 0);
    uint8_t d[4096];
    size_t dn = cf_process_data(m, d, sizeof d);
    assert_true(dn == strlen(pd) && memcmp(d, pd, dn) == 0);
    assert_int_equal(m->log_time, timegm((struct tm *)&s->time));
    assert_true(m->signature.n == s->sig_len && memcmp(m->signature.p, s->sig, s->sig_len) == 0);
    cf_archive_free(&a);
}

/* finishTransaction "Summe" of transaction n (started with log *s) whose
 * data `kept` is kept: an update log of its own first (updateLogCreated,
 * TR-03151-1 3.7.1.4), then the finish log with the finish's data alone. */
static void finish_secures(const char *client, unsigned long int n, const char *type, const char *kept,
                           const cf_signed *s)
{
    cf_signed first, second;
    FinishProtectionVariants fv;
    OK(cf_finish(client, n, type, "Summe", &fv, &first, &second));
    assert_int_equal(fv, FinishProtectionVariants_updateLogCreated);
    assert_int_equal(first.counter, s->counter + 1);
    assert_int_equal(second.counter, s->counter + 2);
    expect_exported_update(n, client, type, kept, &first);
    expect_tx_log(LOGMSG_TX_FINISH, client, n, type, "Summe", &second);
}

/* Kept updates are secured under their own clientId and processType before
 * an update of another client (II_UPD_06) or processType (II_UPD_07) is
 * handled: with forceSignature two logs (prevProtectedPassedProtected),
 * without it the kept data's log only (prevProtectedPassedInMem); a finish
 * of another client or processType first signs the kept data in an update
 * log (updateLogCreated). Each log carries its own call's clientId. */
static void kept_secured(const char *c2, const char *t2)
{
    cf_signed s, first, second;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    UpdateProtectionVariants v = UpdateProtectionVariants_prevAndPassedInMem;
    OK(update2(CF_CLIENT, n, CF_TYPE, "1 Kaffee;", false, &v, &first, &second));
    assert_int_equal(v, UpdateProtectionVariants_noPrevPassedInMem);
    OK(update2(CF_CLIENT, n, CF_TYPE, "1 Tee;", false, &v, &first, &second));
    assert_int_equal(v, UpdateProtectionVariants_prevAndPassedInMem);
    assert_int_equal(cf_signature_counter(), s.counter);

    /* forced: the kept data under CF_CLIENT/CF_TYPE, then this call's */
    OK(update2(c2, n, t2, "1 Kuchen;", true, &v, &first, &second));
    assert_int_equal(v, UpdateProtectionVariants_prevProtectedPassedProtected);
    assert_int_equal(first.counter, s.counter + 1);
    assert_int_equal(second.counter, s.counter + 2);
    assert_true(first.sig_len >= 64 && second.sig_len == first.sig_len);
    expect_tx_log(LOGMSG_TX_UPDATE, c2, n, t2, "1 Kuchen;", &second);
    expect_exported_update(n, CF_CLIENT, CF_TYPE, "1 Kaffee;1 Tee;", &first);

    /* unforced: c2's kept data is signed before CF_CLIENT's is kept */
    OK(update2(c2, n, t2, "2 Kuchen;", false, &v, &first, &second));
    assert_int_equal(v, UpdateProtectionVariants_noPrevPassedInMem);
    OK(update2(CF_CLIENT, n, CF_TYPE, "1 Wasser;", false, &v, &first, &second));
    assert_int_equal(v, UpdateProtectionVariants_prevProtectedPassedInMem);
    assert_int_equal(first.counter, s.counter + 3);
    assert_int_equal(second.counter, 0);
    assert_int_equal(second.sig_len, 0);
    assert_int_equal(cf_signature_counter(), s.counter + 3);
    expect_tx_log(LOGMSG_TX_UPDATE, c2, n, t2, "2 Kuchen;", &first);

    /* the finish by c2: CF_CLIENT's kept data in an update log first */
    FinishProtectionVariants fv = FinishProtectionVariants_updateLogNotCreated;
    OK(cf_finish(c2, n, t2, "Summe", &fv, &first, &second));
    assert_int_equal(fv, FinishProtectionVariants_updateLogCreated);
    assert_int_equal(first.counter, s.counter + 4);
    assert_int_equal(second.counter, s.counter + 5);
    expect_tx_log(LOGMSG_TX_FINISH, c2, n, t2, "Summe", &second);
    expect_exported_update(n, CF_CLIENT, CF_TYPE, "1 Wasser;", &first);

    /* kept data of the same client and type: its own update log too, as at
     * every finish (3.7.1.4) */
    n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    OK(update2(c2, n, t2, "3 Kuchen;", false, &v, &first, &second));
    finish_secures(c2, n, t2, "3 Kuchen;", &s);
}

static void T_II_UPD_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(registerClient(S("KASSE-02")));
    kept_secured("KASSE-02", CF_TYPE);
}

static void T_II_UPD_07(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    kept_secured(CF_CLIENT, "Bestellung-V1");
}

/* finishTransaction: no update log was made, the finish log's outputs only. */
static void T_II_FIN_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s, f, second;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    FinishProtectionVariants v = FinishProtectionVariants_updateLogCreated;
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "Beleg^1.00^1.00:Bar", &v, &f, &second));
    assert_int_equal(v, FinishProtectionVariants_updateLogNotCreated);
    assert_int_equal(f.counter, s.counter + 1);
    assert_int_equal(second.sig_len, 0);
    assert_int_equal(second.counter, 0);
    expect_tx_log(LOGMSG_TX_FINISH, CF_CLIENT, n, CF_TYPE, "Beleg^1.00^1.00:Bar", &f);
}

/* Kept updates are secured by the finish (TR-03151-1 3.7.1.4): an update
 * log of their own first (updateLogCreated), then the finish log with the
 * finish's data alone; none is lost. */
static void T_II_FIN_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    UpdateProtectionVariants uv;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "1 Kaffee;", false, &uv, NULL));
    finish_secures(CF_CLIENT, n, CF_TYPE, "1 Kaffee;", &s);
}

static void T_II_FIN_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed f;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    char t101[102];
    snprintf(t101, sizeof t101, "%sX", type100);
    EXPECT(cf_finish(CF_CLIENT, n, t101, "x", NULL, &f, NULL), ERROR_PARAMETER_TOO_LONG);
    OK(cf_finish(CF_CLIENT, n, type100, "x", NULL, &f, NULL));
    expect_tx_log(LOGMSG_TX_FINISH, CF_CLIENT, n, type100, "x", &f);
}

/* A number never given (II_FIN_04) or of a finished transaction (II_FIN_05). */
static void T_II_FIN_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int before = cf_signature_counter();
    EXPECT(cf_finish(CF_CLIENT, n + 1, CF_TYPE, "x", NULL, NULL, NULL), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    assert_int_equal(cf_signature_counter(), before);
}

static void T_II_FIN_05(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_sale(CF_CLIENT, "x");
    unsigned long int before = cf_signature_counter();
    EXPECT(cf_finish(CF_CLIENT, n, CF_TYPE, "x", NULL, NULL, NULL), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    UpdateProtectionVariants v;
    EXPECT(cf_update(CF_CLIENT, n, CF_TYPE, "x", true, &v, NULL), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    assert_int_equal(cf_signature_counter(), before);
}

/* getSupportedTransactionUpdateVariants: signed and unsigned updates, as they behave. */
static void T_II_UTV_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    UpdateVariants uv = (UpdateVariants)-1;
    OK(getSupportedTransactionUpdateVariants(&uv));
    assert_int_equal(uv, UpdateVariants_alwaysSignedAndAggregating);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "a", false, &v, NULL));
    assert_int_equal(v, UpdateProtectionVariants_noPrevPassedInMem);
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "b", true, &v, NULL));
    assert_int_equal(v, UpdateProtectionVariants_prevAndPassedProtected);
}

static unsigned long int open_now(void)
{
    unsigned long int n = 99;
    OK(getCurrentNumberOfTransactions(&n));
    return n;
}

/* getCurrentNumberOfTransactions with none, one and several open. */
static void T_II_CNT_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    assert_int_equal(open_now(), 0);
    cf_sale(CF_CLIENT, "x");
    assert_int_equal(open_now(), 0);
}

static void T_II_CNT_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(open_now(), 1);
}

static void T_II_CNT_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int a = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    for (int i = 0; i < 4; i++)
        cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(open_now(), 5);
    OK(cf_finish(CF_CLIENT, a, CF_TYPE, "x", NULL, NULL, NULL));
    assert_int_equal(open_now(), 4);
}

/* As many open as the limit (a TSE made with a limit of 4). */
void T_II_CNT_04(void **state)
{
    (void)state;
    tse_create_options o = {.max_open_transactions = 4};
    cf_fresh_file(CF_READY, &o);
    for (int i = 0; i < 4; i++)
        cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(open_now(), 4);
}

/* getMaxNumberOfTransactions: the limit startTransaction enforces (II_STA_03). */
static void T_II_MNT_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int max = 0;
    OK(getMaxNumberOfTransactions(&max));
    assert_int_equal(max, cf.info.max_open_transactions);
    assert_true(max >= 1);
}

/* getTransactionState through a transaction's life. */
static TransactionState state_of(unsigned long int n)
{
    TransactionState s = (TransactionState)-1;
    OK(getTransactionState(n, &s));
    return s;
}

static void T_II_GTS_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(state_of(n), TransactionState_started);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "a", false, &v, NULL));
    assert_int_equal(state_of(n), TransactionState_updatedWithUnprotectedData);
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "b", true, &v, NULL));
    assert_int_equal(state_of(n), TransactionState_updated);
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "c", NULL, NULL, NULL));
    assert_int_equal(state_of(n), TransactionState_finished);
}

static void T_II_GTS_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_sale(CF_CLIENT, "x");
    TransactionState s;
    EXPECT(getTransactionState(n + 1, &s), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    EXPECT(getTransactionState(0, &s), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
}

/* getOpenTransactions: DER TransactionInfoSet of the open numbers. */
static int open_list(unsigned long int *out, int cap)
{
    uint8_t d[16384];
    unsigned long int n = 0;
    OK(getOpenTransactions(sizeof d, d, &n));
    size_t h, len;
    assert_true(cf_der(d, n, &h, &len) && d[0] == 0x30 && h + len == n);
    int k = 0;
    for (size_t i = h; i < n; k++) {
        size_t rh, rl, ih, il;
        assert_true(k < cap && cf_der(d + i, n - i, &rh, &rl) && d[i] == 0x30);
        assert_true(cf_der(d + i + rh, rl, &ih, &il) && d[i + rh] == 0x02 && il >= 1 && il <= 8);
        unsigned long int v = 0;
        for (size_t j = 0; j < il; j++)
            v = v << 8 | d[i + rh + ih + j];
        out[k] = v;
        i += rh + rl;
    }
    return k;
}

static void T_II_GOT_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int a = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int b = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int c = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    OK(cf_finish(CF_CLIENT, b, CF_TYPE, "x", NULL, NULL, NULL));
    unsigned long int got[8];
    assert_int_equal(open_list(got, 8), 2);
    assert_true((got[0] == a && got[1] == c) || (got[0] == c && got[1] == a));
}

static void T_II_GOT_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int a = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int got[8];
    assert_int_equal(open_list(got, 8), 1);
    assert_int_equal(got[0], a);
}

void T_II_GOT_03(void **state)
{
    (void)state;
    tse_create_options o = {.max_open_transactions = 5};
    cf_fresh_file(CF_READY, &o);
    unsigned long int want[5], got[8];
    for (int i = 0; i < 5; i++)
        want[i] = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    assert_int_equal(open_list(got, 8), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(got[i], want[i]);
}

static void T_II_GOT_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    unsigned long int got[8];
    assert_int_equal(open_list(got, 8), 0);
}

/* getCurrentTransactionCounter: 0 before any start, then the last number given. */
static void T_II_CTC_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int c = 99;
    OK(getCurrentTransactionCounter(&c));
    assert_int_equal(c, 0);
}

static void T_II_CTC_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int last = 0;
    for (int i = 0; i < 3; i++)
        last = cf_sale(CF_CLIENT, "x");
    unsigned long int open = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int c = 0;
    OK(getCurrentTransactionCounter(&c));
    assert_int_equal(c, open);
    assert_int_equal(open, last + 1);
}

/* getLastTransactionLogMessage, without (II_GLT_02) and with (II_GLT_04) a number. */
static void last_tx(unsigned long int number, bool with_number, cf_log *l)
{
    unsigned long int nl = 0;
    if (with_number)
        OK(getLastTransactionLogMessageTransactionNumber(number, sizeof l->name, (unsigned char *)l->name, &nl,
                                                          sizeof l->der, l->der, &l->len));
    else
        OK(getLastTransactionLogMessage(sizeof l->name, (unsigned char *)l->name, &nl, sizeof l->der, l->der,
                                        &l->len));
    assert_int_equal(nl, strlen(l->name) + 1);
    tse_error err = {0};
    assert_true(logmsg_parse(l->der, l->len, &l->m, &err));
    char want[300];
    assert_true(logmsg_filename(&l->m, 0, want, sizeof want));
    assert_string_equal(l->name, want);
    assert_int_equal(l->m.kind, LOGMSG_TRANSACTION);
    assert_int_equal(th_openssl_verify(cf.info.curve, cf.info.hash, cf.point, cf.point_len, l->m.signed_bytes.p,
                                       l->m.signed_bytes.n, l->m.signature.p, l->m.signature.n),
                     0);
}

static void T_II_GLT_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "kept", false, &v, NULL));   /* no log */
    OK(logOut(S("admin")));                                            /* a system log after it */
    cf_log l;
    last_tx(0, false, &l);
    assert_int_equal(l.m.signature_counter, s.counter);
    assert_int_equal(l.m.tx_op, LOGMSG_TX_START);
}

static void T_II_GLT_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed u;
    unsigned long int a = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, a, CF_TYPE, "a", true, &v, &u));
    cf_sale(CF_CLIENT, "other");
    cf_log l;
    last_tx(a, true, &l);
    assert_int_equal(l.m.transaction_number, a);
    assert_int_equal(l.m.tx_op, LOGMSG_TX_UPDATE);
    assert_int_equal(l.m.signature_counter, u.counter);
}

static void T_II_GLT_05(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_sale(CF_CLIENT, "x");
    unsigned char name[300], d[4096];
    unsigned long int nl = 0, dl = 0;
    EXPECT(getLastTransactionLogMessageTransactionNumber(n + 1, sizeof name, name, &nl, sizeof d, d, &dl),
           ERROR_NO_LOG_MESSAGE_FOUND);
}

static void T_II_GLT_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned char name[300], d[4096];
    unsigned long int nl = 0, dl = 0;
    EXPECT(getLastTransactionLogMessage(sizeof name, name, &nl, sizeof d, d, &dl), ERROR_NO_LOG_MESSAGE_FOUND);
}

/* lockTransactionLogging: start, update, finish refused; logged. */
static void T_II_LTL_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_sale(CF_CLIENT, "x");
    OK(lockTransactionLogging());
    cf_expect_system_log("lockTransactionLogging", "admin");
    unsigned long int before = cf_signature_counter();
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_TRANSACTION_LOGGING_LOCKED);
    UpdateProtectionVariants v;
    EXPECT(cf_update(CF_CLIENT, n, CF_TYPE, "x", true, &v, NULL), ERROR_TRANSACTION_LOGGING_LOCKED);
    EXPECT(cf_finish(CF_CLIENT, n, CF_TYPE, "x", NULL, NULL, NULL), ERROR_TRANSACTION_LOGGING_LOCKED);
    assert_int_equal(cf_signature_counter(), before);
}

/* Not while transactions are open. */
static void T_II_LTL_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    EXPECT(lockTransactionLogging(), ERROR_OPEN_TRANSACTION_FOUND);
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "x", NULL, NULL, NULL));
    OK(lockTransactionLogging());
}

/* unlockTransactionLogging: transactions work again; logged. */
static void T_II_UTL_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(lockTransactionLogging());
    OK(unlockTransactionLogging());
    cf_expect_system_log("unlockTransactionLogging", "admin");
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "x", true, &v, NULL));
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "x", NULL, NULL, NULL));
}

static void T_II_UTL_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    EXPECT(unlockTransactionLogging(), ERROR_TRANSACTION_LOGGING_NOT_LOCKED);
    assert_int_equal(cf_signature_counter(), before);
}

/* Several clients, each with its own transaction at the same time:
 * start, one update with (II_MCU_01) or without (II_MCU_02) a protection
 * step, finish; every log holds its own client's data. */
static void several_clients(int clients, bool force)
{
    unsigned long int n[16];
    char id[16][16], pd[64];
    for (int i = 0; i < clients; i++) {
        snprintf(id[i], sizeof id[i], "KASSE-%02d", i + 2);
        OK(registerClient(S(id[i])));
    }
    for (int i = 0; i < clients; i++)
        n[i] = cf_start(id[i], CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    for (int i = 0; i < clients; i++) {
        snprintf(pd, sizeof pd, "Artikel von %.15s;", id[i]);
        OK(cf_update(id[i], n[i], CF_TYPE, pd, force, &v, NULL));
    }
    for (int i = 0; i < clients; i++) {
        cf_signed f, second;
        OK(cf_finish(id[i], n[i], CF_TYPE, "Summe", NULL, &f, &second));
        if (!force) {   /* the kept data's update log, then the finish's */
            snprintf(pd, sizeof pd, "Artikel von %.15s;", id[i]);
            expect_exported_update(n[i], id[i], CF_TYPE, pd, &f);
            expect_tx_log(LOGMSG_TX_FINISH, id[i], n[i], CF_TYPE, "Summe", &second);
        }
    }
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    for (size_t i = 0; i < a.n; i++) {
        const logmsg *m = &a.e[i].m;
        if (!a.e[i].is_log || m->kind != LOGMSG_TRANSACTION || m->tx_op == LOGMSG_TX_START)
            continue;
        uint8_t d[4096];
        size_t dn = cf_process_data(m, d, sizeof d);
        char want[40];
        snprintf(want, sizeof want, "Artikel von %.*s;", (int)m->client_id.n, m->client_id.p);
        if (m->tx_op == LOGMSG_TX_UPDATE)
            assert_true(dn >= strlen(want) && memcmp(d, want, strlen(want)) == 0);
    }
    cf_archive_free(&a);
}

static void T_II_MCU_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    several_clients(5, true);
}

static void T_II_MCU_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    several_clients(5, false);
}

/* As many clients as the TSE takes (a TSE made with a limit of 4). */
void T_II_MCU_03(void **state)
{
    (void)state;
    tse_create_options o = {.max_clients = 4};
    cf_fresh_file(CF_INITIALIZED, &o);
    several_clients(4, true);
    EXPECT(registerClient(S("KASSE-99")), ERROR_CLIENT_LIMIT_REACHED);
}

/* ------------------------------------------- the secure element (SM, STO) */

/* Transaction numbers one after another without gaps, sequential (SM_TRA_01). */
static void T_SM_TRA_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    for (unsigned long int i = 1; i <= 5; i++)
        assert_int_equal(cf_sale(CF_CLIENT, "x"), i);
}

/* Parallel: numbers without gaps while none is finished (SM_TRA_02). */
static void T_SM_TRA_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int first = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    for (unsigned long int i = 1; i < 8; i++)
        assert_int_equal(cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK), first + i);
    unsigned long int c = 0;
    OK(getCurrentTransactionCounter(&c));
    assert_int_equal(c, first + 7);
}

/* An update of a number never started (SM_TRA_04), of a finished
 * transaction (SM_TRA_05), a second finish (SM_TRA_06): refused, nothing signed. */
static void T_SM_TRA_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int before = cf_signature_counter();
    UpdateProtectionVariants v;
    EXPECT(cf_update(CF_CLIENT, n + 1, CF_TYPE, "x", true, &v, NULL), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    EXPECT(cf_update(CF_CLIENT, n + 1, CF_TYPE, "x", false, &v, NULL), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    assert_int_equal(cf_signature_counter(), before);
}

static void T_SM_TRA_05(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_sale(CF_CLIENT, "x");
    UpdateProtectionVariants v;
    EXPECT(cf_update(CF_CLIENT, n, CF_TYPE, "x", true, &v, NULL), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    EXPECT(cf_update(CF_CLIENT, n, CF_TYPE, "x", false, &v, NULL), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
}

static void T_SM_TRA_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_sale(CF_CLIENT, "x");
    unsigned long int before = cf_signature_counter();
    EXPECT(cf_finish(CF_CLIENT, n, CF_TYPE, "x", NULL, NULL, NULL), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
    assert_int_equal(cf_signature_counter(), before);
}

/* One signature counter over every log, +1 each, with kept and signed
 * updates of sequential transactions (SM_SIG_02). */
static void T_SM_SIG_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    for (int i = 0; i < 3; i++) {
        unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
        UpdateProtectionVariants v;
        OK(cf_update(CF_CLIENT, n, CF_TYPE, "a;", false, &v, NULL));
        OK(cf_update(CF_CLIENT, n, CF_TYPE, "b;", true, &v, NULL));
        OK(cf_update(CF_CLIENT, n, CF_TYPE, "c;", false, &v, NULL));
        OK(cf_finish(CF_CLIENT, n, CF_TYPE, "Summe", NULL, NULL, NULL));
    }
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    uint64_t want = 1;
    for (size_t i = 0; i < a.n; i++)
        if (a.e[i].is_log)
            assert_int_equal(a.e[i].m.signature_counter, want++);
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 12);   /* start, update, kept's update, finish */
    cf_archive_free(&a);
}

/* The time of the logs runs on, never back (SM_TME_04 with parallel
 * transactions and kept updates) and in one time format (SM_TME_11). */
static void T_SM_TME_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int a = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int b = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, a, CF_TYPE, "a", true, &v, NULL));
    OK(cf_update(CF_CLIENT, b, CF_TYPE, "b", false, &v, NULL));
    OK(cf_finish(CF_CLIENT, b, CF_TYPE, "b", NULL, NULL, NULL));
    OK(cf_finish(CF_CLIENT, a, CF_TYPE, "a", NULL, NULL, NULL));
    cf_archive x;
    OK(cf_export(0, NULL, &x));
    int64_t last = 0;
    for (size_t i = 0; i < x.n; i++)
        if (x.e[i].is_log) {
            assert_true(x.e[i].m.log_time >= last);
            last = x.e[i].m.log_time;
        }
    cf_archive_free(&x);
}

static void T_SM_TME_11(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    OK(logOut(S("admin")));
    cf_archive x;
    OK(cf_export(0, NULL, &x));
    for (size_t i = 0; i < x.n; i++)
        if (x.e[i].is_log)
            assert_int_equal(x.e[i].m.time_format, cf.info.time_format);
    cf_archive_free(&x);
}

/* The serial number is the SHA-256 of the public key of the certificate
 * (SM_KRY_03), and every signature verifies with openssl under the
 * algorithm the logs name (SM_KRY_02). */
static void T_SM_KRY_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    cf_archive x;
    OK(cf_export(0, NULL, &x));   /* every log through openssl dgst -verify */
    for (size_t i = 0; i < x.n; i++)
        if (x.e[i].is_log)
            assert_non_null(logmsg_sigalg_name(x.e[i].m.signature_algorithm_oid));
    cf_archive_free(&x);
}

/* Every protected step of a transaction is stored: start, signed update,
 * finish (STO_FUN_01), initialize (STO_FUN_09) and disableSecureElement
 * (STO_FUN_10) are in the export, with the values returned. */
static void T_STO_FUN_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s, u, f;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, n, CF_TYPE, "a", true, &v, &u));
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "b", NULL, &f, NULL));
    cf_archive x;
    OK(cf_export(0, NULL, &x));
    const cf_signed *want[] = {&s, &u, &f};
    size_t found = 0;
    for (size_t i = 0; i < x.n; i++)
        for (int k = 0; k < 3; k++)
            if (x.e[i].is_log && x.e[i].m.signature_counter == want[k]->counter) {
                assert_true(x.e[i].m.signature.n == want[k]->sig_len &&
                            !memcmp(x.e[i].m.signature.p, want[k]->sig, want[k]->sig_len));
                found++;
            }
    assert_int_equal(found, 3);
    cf_archive_free(&x);
}

static void T_STO_FUN_10(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(disableSecureElement());
    cf_archive x;
    OK(cf_export(0, NULL, &x));
    assert_int_equal(cf_count(&x, LOGMSG_SYSTEM, "initialize"), 1);            /* STO_FUN_09 too */
    assert_int_equal(cf_count(&x, LOGMSG_SYSTEM, "disableSecureElement"), 1);
    cf_archive_free(&x);
}

const struct CMUnitTest cf_transactions[] = {
    cmocka_unit_test(T_II_STA_01), cmocka_unit_test(T_II_STA_02), cmocka_unit_test(T_II_STA_04),
    cmocka_unit_test(T_II_UPD_01), cmocka_unit_test(T_II_UPD_02), cmocka_unit_test(T_II_UPD_04),
    cmocka_unit_test(T_II_UPD_05), cmocka_unit_test(T_II_UPD_06), cmocka_unit_test(T_II_UPD_07),
    cmocka_unit_test(T_II_UPD_09), cmocka_unit_test(T_II_FIN_01),
    cmocka_unit_test(T_II_FIN_02), cmocka_unit_test(T_II_FIN_03), cmocka_unit_test(T_II_FIN_04),
    cmocka_unit_test(T_II_FIN_05), cmocka_unit_test(T_II_FIN_06), cmocka_unit_test(T_II_UTV_01),
    cmocka_unit_test(T_II_CNT_01), cmocka_unit_test(T_II_CNT_02), cmocka_unit_test(T_II_CNT_03),
    cmocka_unit_test(T_II_MNT_01), cmocka_unit_test(T_II_GTS_01), cmocka_unit_test(T_II_GTS_02),
    cmocka_unit_test(T_II_GOT_01), cmocka_unit_test(T_II_GOT_02), cmocka_unit_test(T_II_GOT_04),
    cmocka_unit_test(T_II_CTC_01), cmocka_unit_test(T_II_CTC_02), cmocka_unit_test(T_II_GLT_02),
    cmocka_unit_test(T_II_GLT_04), cmocka_unit_test(T_II_GLT_05), cmocka_unit_test(T_II_GLT_06),
    cmocka_unit_test(T_II_LTL_01), cmocka_unit_test(T_II_LTL_02), cmocka_unit_test(T_II_UTL_01),
    cmocka_unit_test(T_II_UTL_02), cmocka_unit_test(T_II_MCU_01), cmocka_unit_test(T_II_MCU_02),
    cmocka_unit_test(T_SM_TRA_01), cmocka_unit_test(T_SM_TRA_02), cmocka_unit_test(T_SM_TRA_04),
    cmocka_unit_test(T_SM_TRA_05), cmocka_unit_test(T_SM_TRA_06), cmocka_unit_test(T_SM_SIG_02),
    cmocka_unit_test(T_SM_TME_04), cmocka_unit_test(T_SM_TME_11), cmocka_unit_test(T_SM_KRY_02),
    cmocka_unit_test(T_STO_FUN_01), cmocka_unit_test(T_STO_FUN_10),
};
const size_t cf_transactions_n = sizeof cf_transactions / sizeof cf_transactions[0];
