/*
 * conformance_export.c - TR-03153-1-TS v1.1.1 6.3.1.32 (II_EXF, the
 * filtered export), 6.4 (EXP_TAR, EXP_INF, EXP_LOG: the export data),
 * 6.3.1.46 (II_ERR, the general exceptions) and 6.3.2 (SDI, the standard
 * interface of TR-03151-2).
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../client/transport.h"
#include "helpers.h"

/* ---------------------------------------------------------------- II_EXF */

/* Transactions 1..5 (1, 3, 5 of CF_CLIENT; 2, 4 of KASSE-02), with the
 * system logs logOut and authenticateUser while 3 was open. Built once for
 * the consecutive tests that read it. */
static char *numbers_url;
static uint64_t sys_in_3;   /* the logOut log's counter */

static void numbers_fixture(void)
{
    if (numbers_url && cf.url && strcmp(numbers_url, cf.url) == 0)
        return;
    cf_fresh(CF_READY);
    OK(registerClient(S("KASSE-02")));
    cf_sale(CF_CLIENT, "eins");
    cf_sale("KASSE-02", "zwei");
    unsigned long int n3 = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    OK(logOut(S("admin")));
    sys_in_3 = cf_signature_counter();
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    OK(cf_finish(CF_CLIENT, n3, CF_TYPE, "drei", NULL, NULL, NULL));
    cf_sale("KASSE-02", "vier");
    cf_sale(CF_CLIENT, "fuenf");
    free(numbers_url);
    numbers_url = strdup(cf.url);
}

static short int filtered(const cf_filter *f, cf_archive *a)
{
    return cf_export(2, f, a);
}

/* The archive's transaction logs are of transactions lo..hi (and `client`
 * if given), every one of them is there, and the system logs are exactly
 * those with counters inside the span of the transaction logs. */
static void expect_numbers(const cf_archive *a, unsigned long int lo, unsigned long int hi, const char *client)
{
    uint64_t cmin = UINT64_MAX, cmax = 0;
    size_t tx = 0;
    for (size_t i = 0; i < a->n; i++) {
        const logmsg *m = &a->e[i].m;
        if (!a->e[i].is_log || m->kind != LOGMSG_TRANSACTION)
            continue;
        if (client && !(m->client_id.n == strlen(client) && memcmp(m->client_id.p, client, m->client_id.n) == 0))
            continue;
        assert_true(m->transaction_number >= lo && m->transaction_number <= hi);
        tx++;
        cmin = m->signature_counter < cmin ? m->signature_counter : cmin;
        cmax = m->signature_counter > cmax ? m->signature_counter : cmax;
    }
    assert_true(tx >= 2);
    for (size_t i = 0; i < a->n; i++) {
        const logmsg *m = &a->e[i].m;
        if (a->e[i].is_log)
            assert_true(m->signature_counter >= cmin && m->signature_counter <= cmax);
    }
    /* every log inside the span is there: counters are consecutive */
    assert_int_equal(a->logs, cmax - cmin + 1);
}

static size_t system_logs(const cf_archive *a)
{
    return cf_count(a, LOGMSG_SYSTEM, NULL);
}

static void T_II_EXF_01(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.number = 2};
    OK(filtered(&f, &a));
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 2);
    assert_int_equal(system_logs(&a), 0);
    expect_numbers(&a, 2, 2, NULL);
    cf_archive_free(&a);
}

static void T_II_EXF_02(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.number = 3};
    OK(filtered(&f, &a));
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 2);
    assert_int_equal(cf_count(&a, LOGMSG_SYSTEM, "logOut"), 1);
    assert_int_equal(cf_count(&a, LOGMSG_SYSTEM, "authenticateUser"), 1);
    cf_archive_free(&a);
}

static void T_II_EXF_03(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.number = 99};
    EXPECT(filtered(&f, &a), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
}

static void T_II_EXF_04(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.number = 1, .client = CF_CLIENT};
    OK(filtered(&f, &a));
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 2);
    assert_int_equal(system_logs(&a), 0);
    cf_archive_free(&a);
}

static void T_II_EXF_05(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.number = 3, .client = CF_CLIENT};
    OK(filtered(&f, &a));
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 2);
    assert_int_equal(system_logs(&a), 2);
    cf_archive_free(&a);
}

static void T_II_EXF_06(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.number = 99, .client = CF_CLIENT};
    EXPECT(filtered(&f, &a), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
}

static void T_II_EXF_07(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.number = 2, .client = CF_CLIENT};   /* 2 is KASSE-02's */
    EXPECT(filtered(&f, &a), ERROR_CLIENT_ID_NOT_FOUND);
    cf_filter g = {.number = 2, .client = "KASSE-77"};
    EXPECT(filtered(&g, &a), ERROR_CLIENT_ID_NOT_FOUND);
}

static void T_II_EXF_08(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.first = 1, .last = 2};
    OK(filtered(&f, &a));
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 4);
    expect_numbers(&a, 1, 2, NULL);
    cf_archive_free(&a);
}

static void T_II_EXF_09(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.first = 2, .last = 4};
    OK(filtered(&f, &a));
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 6);
    assert_int_equal(system_logs(&a), 2);
    expect_numbers(&a, 2, 4, NULL);
    cf_archive_free(&a);
}

/* With a client: its transactions' logs of the interval. */
static void T_II_EXF_10(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.first = 1, .last = 2, .client = "KASSE-02"};
    OK(filtered(&f, &a));
    for (size_t i = 0; i < a.n; i++)
        if (a.e[i].is_log && a.e[i].m.kind == LOGMSG_TRANSACTION)
            assert_int_equal(a.e[i].m.transaction_number, 2);
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 2);
    cf_archive_free(&a);
}

static void T_II_EXF_11(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.first = 3, .last = 5, .client = CF_CLIENT};
    OK(filtered(&f, &a));
    size_t mine = 0;
    for (size_t i = 0; i < a.n; i++) {
        const logmsg *m = &a.e[i].m;
        if (a.e[i].is_log && m->kind == LOGMSG_TRANSACTION && m->client_id.n == strlen(CF_CLIENT) &&
            memcmp(m->client_id.p, CF_CLIENT, m->client_id.n) == 0)
            mine++;
    }
    assert_int_equal(mine, 4);   /* 3 and 5 */
    assert_int_equal(cf_count(&a, LOGMSG_SYSTEM, "logOut"), 1);
    cf_archive_free(&a);
}

static void T_II_EXF_12(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.first = 50, .last = 60};
    EXPECT(filtered(&f, &a), ERROR_TRANSACTION_NUMBER_NOT_FOUND);
}

static void T_II_EXF_13(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.first = 2, .last = 2, .client = CF_CLIENT};
    EXPECT(filtered(&f, &a), ERROR_CLIENT_ID_NOT_FOUND);
}

/* maximumNumberRecords above, equal to and below the number of records found. */
static void max_records(cf_filter f, short int want_below)
{
    cf_archive a;
    OK(filtered(&f, &a));
    long int found = (long int)a.logs;
    cf_archive_free(&a);
    f.max = found + 3;
    OK(filtered(&f, &a));
    assert_int_equal(a.logs, (size_t)found);
    cf_archive_free(&a);
    f.max = found;
    OK(filtered(&f, &a));
    assert_int_equal(a.logs, (size_t)found);
    cf_archive_free(&a);
    f.max = found - 1;
    EXPECT(filtered(&f, &a), want_below);
}

static void T_II_EXF_14(void **state)
{
    (void)state;
    numbers_fixture();
    max_records((cf_filter){.first = 2, .last = 4}, ERROR_TOO_MANY_RECORDS);
}

static void T_II_EXF_15(void **state)
{
    (void)state;
    numbers_fixture();
    max_records((cf_filter){.first = 1, .last = 5}, ERROR_TOO_MANY_RECORDS);
}

static void T_II_EXF_16(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.first = 1, .last = 5, .max = 2};
    EXPECT(filtered(&f, &a), ERROR_TOO_MANY_RECORDS);
}

/* No filter: every log (II_EXF_32: one transaction, II_EXF_33: several). */
static void T_II_EXF_32(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_sale(CF_CLIENT, "x");
    cf_archive a;
    cf_filter f = {0};
    OK(filtered(&f, &a));
    assert_int_equal(a.logs, cf_signature_counter());
    cf_archive_free(&a);
}

static void T_II_EXF_33(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {0};
    OK(filtered(&f, &a));
    assert_int_equal(a.logs, cf_signature_counter());
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 10);
    cf_archive_free(&a);
}

static void T_II_EXF_34(void **state)
{
    (void)state;
    numbers_fixture();
    max_records((cf_filter){0}, ERROR_TOO_MANY_RECORDS);
}

static void T_II_EXF_35(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.max = (long int)cf_signature_counter()};
    OK(filtered(&f, &a));
    assert_int_equal(a.logs, cf_signature_counter());
    cf_archive_free(&a);
}

static void T_II_EXF_36(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    cf_filter f = {.max = 3};
    EXPECT(filtered(&f, &a), ERROR_TOO_MANY_RECORDS);
}

/* Only one of firstTransactionNumber and lastTransactionNumber. */
static void T_II_EXF_37(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.first = 2}, &a), ERROR_PARAMETER_MISMATCH);
    EXPECT(filtered(&(cf_filter){.last = 2}, &a), ERROR_PARAMETER_MISMATCH);
}

/* The archive's name: TR-03151-1 2.5.2, and the same as the whole export's form. */
static void T_II_EXF_38(void **state)
{
    (void)state;
    numbers_fixture();
    cf_archive a;
    OK(filtered(&(cf_filter){.number = 1}, &a));
    size_t n = strlen(a.name);
    assert_true(n > 8 && strcmp(a.name + n - 4, ".tar") == 0 && !strchr(a.name, '/'));
    assert_true(strstr(a.name, "_Unixt_") || strstr(a.name, "_Utc_") || strstr(a.name, "_Gent_"));
    cf_archive_free(&a);
}

static struct tm tm_at(time_t t)
{
    struct tm r;
    gmtime_r(&t, &r);
    return r;
}

/* A transaction number with a date, or an interval with a date: ErrorParameterMismatch. */
static void T_II_EXF_39(void **state)
{
    (void)state;
    numbers_fixture();
    struct tm now = tm_at(time(NULL));
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.number = 1, .start = &now}, &a), ERROR_PARAMETER_MISMATCH);
    EXPECT(filtered(&(cf_filter){.number = 1, .end = &now}, &a), ERROR_PARAMETER_MISMATCH);
}

static void T_II_EXF_40(void **state)
{
    (void)state;
    numbers_fixture();
    struct tm now = tm_at(time(NULL));
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.first = 1, .last = 2, .start = &now}, &a), ERROR_PARAMETER_MISMATCH);
    EXPECT(filtered(&(cf_filter){.first = 1, .last = 2, .end = &now}, &a), ERROR_PARAMETER_MISMATCH);
}

/* After disableSecureElement. */
static void T_II_EXF_43(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_sale(CF_CLIENT, "x");
    OK(disableSecureElement());
    cf_archive a;
    OK(filtered(&(cf_filter){.number = n}, &a));
    assert_int_equal(cf_count(&a, LOGMSG_TRANSACTION, NULL), 2);
    cf_archive_free(&a);
}

/* Three sales two seconds apart: A (CF_CLIENT), B (KASSE-02, with a
 * logOut/authenticateUser inside), C (CF_CLIENT). */
static char *dated_url;
static time_t t_a0, t_a1, t_b0, t_b1, t_c0, t_c1;

static time_t sale_times(const char *client, time_t *t1, bool with_system)
{
    cf_signed s, f;
    unsigned long int n = cf_start(client, CF_TYPE, "", &s, EXECUTION_OK);
    if (with_system) {
        OK(logOut(S("admin")));
        OK(authenticateUser(S("admin"), S(CF_PIN)));
    }
    OK(cf_finish(client, n, CF_TYPE, "x", NULL, &f, NULL));
    *t1 = timegm(&f.time);
    return timegm(&s.time);
}

static void dated_fixture(void)
{
    if (dated_url && cf.url && strcmp(dated_url, cf.url) == 0)
        return;
    cf_fresh(CF_READY);
    OK(registerClient(S("KASSE-02")));
    sleep(2);
    t_a0 = sale_times(CF_CLIENT, &t_a1, false);
    sleep(2);
    t_b0 = sale_times("KASSE-02", &t_b1, true);
    sleep(2);
    t_c0 = sale_times(CF_CLIENT, &t_c1, false);
    assert_true(t_a1 < t_b0 && t_b1 < t_c0);
    free(dated_url);
    dated_url = strdup(cf.url);
}

/* Every log of `a` is of [lo, hi]; the transaction logs are those of the given sales. */
static void expect_period(const cf_archive *a, time_t lo, time_t hi, size_t tx_logs, const char *client)
{
    size_t tx = 0;
    for (size_t i = 0; i < a->n; i++) {
        const logmsg *m = &a->e[i].m;
        if (!a->e[i].is_log)
            continue;
        assert_true(m->log_time >= lo && m->log_time <= hi);
        if (m->kind == LOGMSG_TRANSACTION) {
            tx++;
            if (client)
                assert_true(m->client_id.n == strlen(client) && !memcmp(m->client_id.p, client, m->client_id.n));
        }
    }
    assert_int_equal(tx, tx_logs);
}

static void T_II_EXF_17(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_a0), e = tm_at(t_a1);
    cf_archive a;
    OK(filtered(&(cf_filter){.start = &s, .end = &e}, &a));
    expect_period(&a, t_a0, t_a1, 2, CF_CLIENT);
    assert_int_equal(system_logs(&a), 0);
    cf_archive_free(&a);
}

static void T_II_EXF_18(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_b0), e = tm_at(t_b1);
    cf_archive a;
    OK(filtered(&(cf_filter){.start = &s, .end = &e}, &a));
    expect_period(&a, t_b0, t_b1, 2, "KASSE-02");
    assert_int_equal(cf_count(&a, LOGMSG_SYSTEM, "logOut"), 1);
    cf_archive_free(&a);
}

static void T_II_EXF_19(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_a0), e = tm_at(t_c1);
    cf_archive a;
    OK(filtered(&(cf_filter){.start = &s, .end = &e, .client = "KASSE-02"}, &a));
    expect_period(&a, t_a0, t_c1, 2, "KASSE-02");
    cf_archive_free(&a);
}

static void T_II_EXF_20(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_b0);
    cf_archive a;
    OK(filtered(&(cf_filter){.start = &s}, &a));
    expect_period(&a, t_b0, t_c1, 4, NULL);
    cf_archive_free(&a);
}

static void T_II_EXF_21(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_b0);
    cf_archive a;
    OK(filtered(&(cf_filter){.start = &s, .client = CF_CLIENT}, &a));
    expect_period(&a, t_b0, t_c1, 2, CF_CLIENT);
    cf_archive_free(&a);
}

static void T_II_EXF_22(void **state)
{
    (void)state;
    dated_fixture();
    struct tm e = tm_at(t_b1);
    cf_archive a;
    OK(filtered(&(cf_filter){.end = &e}, &a));
    expect_period(&a, 0, t_b1, 4, NULL);
    cf_archive_free(&a);
}

static void T_II_EXF_23(void **state)
{
    (void)state;
    dated_fixture();
    struct tm e = tm_at(t_b1);
    cf_archive a;
    OK(filtered(&(cf_filter){.end = &e, .client = "KASSE-02"}, &a));
    expect_period(&a, 0, t_b1, 2, "KASSE-02");
    cf_archive_free(&a);
}

static struct tm dated_start, dated_end;

static void T_II_EXF_24(void **state)
{
    (void)state;
    dated_fixture();
    dated_start = tm_at(t_a0);
    dated_end = tm_at(t_b1);
    max_records((cf_filter){.start = &dated_start, .end = &dated_end}, ERROR_TOO_MANY_RECORDS);
}

static void T_II_EXF_25(void **state)
{
    (void)state;
    dated_fixture();
    dated_start = tm_at(t_b0);
    dated_end = tm_at(t_c1);
    cf_archive a;
    OK(filtered(&(cf_filter){.start = &dated_start, .end = &dated_end}, &a));
    long int found = (long int)a.logs;
    cf_archive_free(&a);
    OK(filtered(&(cf_filter){.start = &dated_start, .end = &dated_end, .max = found}, &a));
    assert_int_equal(a.logs, (size_t)found);
    cf_archive_free(&a);
}

static void T_II_EXF_26(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(978307200), e = tm_at(978393600);   /* 2001-01-01..02 */
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.start = &s, .end = &e}, &a), ERROR_NO_DATA_AVAILABLE);
}

static void T_II_EXF_27(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_a0), e = tm_at(t_a1);
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.start = &s, .end = &e, .client = "KASSE-02"}, &a), ERROR_CLIENT_ID_NOT_FOUND);
}

static void T_II_EXF_28(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_a0), e = tm_at(t_c1);
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.start = &s, .end = &e, .max = 2}, &a), ERROR_TOO_MANY_RECORDS);
}

static void T_II_EXF_29(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_c1), e = tm_at(t_a0);
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.start = &s, .end = &e}, &a), ERROR_PARAMETER_MISMATCH);
}

/* A date that is no valid time: month 13, day 0. */
static void T_II_EXF_30(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_a0), e = tm_at(t_c1);
    e.tm_mon = 13;
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.start = &s, .end = &e}, &a), ERROR_PARAMETER_MISMATCH);
}

static void T_II_EXF_31(void **state)
{
    (void)state;
    dated_fixture();
    struct tm s = tm_at(t_a0), e = tm_at(t_c1);
    s.tm_mday = 0;
    cf_archive a;
    EXPECT(filtered(&(cf_filter){.start = &s, .end = &e}, &a), ERROR_PARAMETER_MISMATCH);
}

const struct CMUnitTest cf_filtered[] = {
    cmocka_unit_test(T_II_EXF_01), cmocka_unit_test(T_II_EXF_02), cmocka_unit_test(T_II_EXF_03),
    cmocka_unit_test(T_II_EXF_04), cmocka_unit_test(T_II_EXF_05), cmocka_unit_test(T_II_EXF_06),
    cmocka_unit_test(T_II_EXF_07), cmocka_unit_test(T_II_EXF_08), cmocka_unit_test(T_II_EXF_09),
    cmocka_unit_test(T_II_EXF_10), cmocka_unit_test(T_II_EXF_11), cmocka_unit_test(T_II_EXF_12),
    cmocka_unit_test(T_II_EXF_13), cmocka_unit_test(T_II_EXF_14), cmocka_unit_test(T_II_EXF_15),
    cmocka_unit_test(T_II_EXF_16), cmocka_unit_test(T_II_EXF_33), cmocka_unit_test(T_II_EXF_34),
    cmocka_unit_test(T_II_EXF_35), cmocka_unit_test(T_II_EXF_36), cmocka_unit_test(T_II_EXF_37),
    cmocka_unit_test(T_II_EXF_38), cmocka_unit_test(T_II_EXF_39), cmocka_unit_test(T_II_EXF_40),
    cmocka_unit_test(T_II_EXF_17), cmocka_unit_test(T_II_EXF_18), cmocka_unit_test(T_II_EXF_19),
    cmocka_unit_test(T_II_EXF_20), cmocka_unit_test(T_II_EXF_21), cmocka_unit_test(T_II_EXF_22),
    cmocka_unit_test(T_II_EXF_23), cmocka_unit_test(T_II_EXF_24), cmocka_unit_test(T_II_EXF_25),
    cmocka_unit_test(T_II_EXF_26), cmocka_unit_test(T_II_EXF_27), cmocka_unit_test(T_II_EXF_28),
    cmocka_unit_test(T_II_EXF_29), cmocka_unit_test(T_II_EXF_30), cmocka_unit_test(T_II_EXF_31),
    cmocka_unit_test(T_II_EXF_32), cmocka_unit_test(T_II_EXF_43),
};
const size_t cf_filtered_n = sizeof cf_filtered / sizeof cf_filtered[0];

/* ---------------------------------------------------------- EXP_TAR/INF */

/* A TSE with a bit of everything: transactions (signed and kept updates,
 * several clients) and the system logs of the admin's functions. */
static void busy_day(void)
{
    cf_fresh(CF_READY);
    OK(registerClient(S("KASSE-02")));
    OK(setDescription(S("Filiale 7")));
    unsigned long int a = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    unsigned long int b = cf_start("KASSE-02", CF_TYPE, "", NULL, EXECUTION_OK);
    UpdateProtectionVariants v;
    OK(cf_update(CF_CLIENT, a, CF_TYPE, "1 Kaffee;", false, &v, NULL));
    OK(cf_update("KASSE-02", b, CF_TYPE, "1 Tee;", true, &v, NULL));
    OK(cf_finish(CF_CLIENT, a, CF_TYPE, "Summe", NULL, NULL, NULL));
    OK(cf_finish("KASSE-02", b, CF_TYPE, "Summe", NULL, NULL, NULL));
    uint8_t r[2048];
    unsigned long int n = 0;
    OK(selfTest(sizeof r, r, &n));
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    OK(updateTime(&utc));
    OK(lockTransactionLogging());
    OK(unlockTransactionLogging());
    OK(registerClient(S("KASSE-03")));
    OK(deregisterClient(S("KASSE-03")));
    OK(logOut(S("admin")));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
}

/* The export is a ustar archive (raw 512-byte headers, checked by the
 * export tests' auditor) that tar reads. */
static void T_EXP_TAR_01(void **state)
{
    (void)state;
    busy_day();
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    cf_audit_archive(&a);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tar -tf '%s' >/dev/null 2>&1", a.file);
    assert_int_equal(system(cmd), 0);
    cf_archive_free(&a);
}

/* Only files the TR names: info.csv, the logs, the certificates. */
static void only_known_files(const cf_archive *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const char *p = a->e[i].path;
        size_t n = strlen(p);
        bool known = strcmp(p, "info.csv") == 0 || a->e[i].is_log ||
                     (n > 9 && strcmp(p + n - 9, "_X509.der") == 0 && !strchr(p, '/'));
        if (!known)
            fail_msg("the archive holds %s, which no TR names", p);
    }
}

static void T_EXP_TAR_03(void **state)
{
    (void)state;
    busy_day();
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    only_known_files(&a);
    cf_archive_free(&a);
    OK(cf_export(2, &(cf_filter){.number = 1}, &a));
    only_known_files(&a);
    cf_archive_free(&a);
    OK(cf_export(1, NULL, &a));
    for (size_t i = 0; i < a.n; i++)
        assert_non_null(strstr(a.e[i].path, "_X509.der"));
    cf_archive_free(&a);
}

/* info.csv: its name (EXP_INF_01), its data (the description the user set,
 * EXP_INF_04) and its form (ten quoted values a line, EXP_INF_07). */
static char *info_csv(void)
{
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    const struct cf_entry *e = cf_entry(&a, "info.csv");
    assert_non_null(e);
    char *text = strndup((const char *)e->data, e->len);
    cf_archive_free(&a);
    return text;
}

static void T_EXP_INF_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    free(info_csv());
}

static void T_EXP_INF_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(setDescription(S("Filiale 7 Kasse 2")));
    char d[80], want[160];
    cf_description(d, sizeof d);
    assert_non_null(strstr(d, "Filiale 7 Kasse 2"));
    snprintf(want, sizeof want, "\"description:\",\"%s%.64s\"", tt_http() ? "TEST (not for production use): " : "", d);
    char *t = info_csv();
    assert_non_null(strstr(t, want));
    free(t);
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    cf_audit_archive(&a);
    cf_archive_free(&a);
}

/* Every line: ten comma-separated values, labels ending in ':' quoted. */
static void csv_form(const char *t)
{
    int lines = 0;
    for (const char *p = t; *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int commas = 0;
        bool quoted = false;
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '"')
                quoted = !quoted;
            else if (p[i] == ',' && !quoted)
                commas++;
        }
        assert_false(quoted);
        assert_int_equal(commas, 9);
        assert_true(n > 3 && p[0] == '"');
        lines++;
        p += n + (end ? 1 : 0);
    }
    assert_true(lines >= 2);
}

static void T_EXP_INF_07(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(setDescription(S("Filiale, Nord (2)")));
    char *t = info_csv();
    csv_form(t);
    free(t);
}

/* The manufacturer's description (a TSE made with one), not changed by the user. */
void T_EXP_INF_03(void **state)
{
    (void)state;
    tse_create_options o = {.manufacturer_description = "Kassensystem X"};
    cf_fresh_file(CF_READY, &o);
    char *t = info_csv();
    assert_non_null(strstr(t, "\"description:\",\"Kassensystem X\""));
    free(t);
}

void T_EXP_INF_06(void **state)
{
    (void)state;
    tse_create_options o = {.manufacturer_description = "Kassensystem X"};
    cf_fresh_file(CF_READY, &o);
    char *t = info_csv();
    csv_form(t);
    free(t);
}

/* ---------------------------------------------------------------- EXP_LOG */

/* Every DER element of buf, recursively: definite lengths, minimal, nothing trailing. */
static void strict_der(const uint8_t *p, size_t n, int depth)
{
    assert_true(depth < 16);
    for (size_t i = 0; i < n;) {
        size_t h, len;
        if (!cf_der(p + i, n - i, &h, &len))
            fail_msg("not DER (indefinite or non-minimal length) at byte %zu", i);
        if (p[i] & 0x20)
            strict_der(p + i + h, len, depth + 1);
        i += h + len;
    }
}

/* The system logs of the functions of table 116 are written (EXP_LOG_01),
 * with the common content of TR-03151-1 (EXP_LOG_02), named by 2.5.5
 * (EXP_LOG_03, in cf_export) and nothing but the ASN.1's elements
 * (EXP_LOG_04: our strict parser and openssl asn1parse). */
static const char *const system_events[] = {
    "initialize", "setDescription", "selfTest", "updateTime", "lockTransactionLogging", "unlockTransactionLogging",
    "registerClient", "deregisterClient", "logOut", "authenticateUser", "unblockPin",
};

static void system_export(cf_archive *a)
{
    busy_day();
    OK(unblockPin(S("timeadmin"), S(cf.puk), S(CF_TIME_PIN)));
    OK(cf_export(0, NULL, a));
}

/* Every log of kind k (0: any) of an export after busy_day (system:
 * system_export's, with unblockPin too) passes check. */
static void every_log(bool system, logmsg_kind k, void (*check)(const struct cf_entry *))
{
    cf_archive a;
    if (system)
        system_export(&a);
    else {
        busy_day();
        OK(cf_export(0, NULL, &a));
    }
    size_t n = 0;
    for (size_t i = 0; i < a.n; i++)
        if (a.e[i].is_log && (!k || a.e[i].m.kind == k)) {
            check(&a.e[i]);
            n++;
        }
    assert_true(n > 0);
    cf_archive_free(&a);
}

static void T_EXP_LOG_01(void **state)
{
    (void)state;
    cf_archive a;
    system_export(&a);
    for (size_t i = 0; i < sizeof system_events / sizeof system_events[0]; i++)
        if (!cf_count(&a, LOGMSG_SYSTEM, system_events[i]))
            fail_msg("no %s log in the export", system_events[i]);
    cf_archive_free(&a);
}

static void T_EXP_LOG_02(void **state)
{
    (void)state;
    cf_archive a;
    system_export(&a);
    uint64_t last = 0;
    for (size_t i = 0; i < a.n; i++) {
        const logmsg *m = &a.e[i].m;
        if (!a.e[i].is_log)
            continue;
        assert_int_equal(m->version, 3);
        assert_true(m->signature_counter > last);
        last = m->signature_counter;
        assert_true(m->log_time > 1500000000 && m->log_time <= time(NULL) + 60);
        if (m->kind != LOGMSG_SYSTEM)
            continue;
        assert_string_equal(m->certified_data_type, LOGMSG_OID_SYSTEM);
        assert_true(m->operation.n > 0);   /* eventType; eventOrigin and eventTriggeredByUser are optional */
        assert_string_equal(m->signature_algorithm_oid, cf.info.signature_algorithm_oid);
    }
    cf_archive_free(&a);
}

static void system_log_name(const struct cf_entry *e)
{
    assert_non_null(strstr(e->path, "_Log-Sys_"));   /* and cf_export held it against logmsg_filename */
}

static void T_EXP_LOG_03(void **state)
{
    (void)state;
    every_log(true, LOGMSG_SYSTEM, system_log_name);
}

static void asn1parse_all(const cf_archive *a, logmsg_kind kind)
{
    char dir[600], cmd[1400];
    snprintf(dir, sizeof dir, "%s/asn1-%d", th_tmpdir(), rand());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (!a->e[i].is_log || (kind && a->e[i].m.kind != kind))
            continue;
        strict_der(a->e[i].data, a->e[i].len, 0);
        char path[700];
        snprintf(path, sizeof path, "%s/%zu.der", dir, k++);
        assert_int_equal(th_write_file(path, a->e[i].data, a->e[i].len), 0);
    }
    assert_true(k > 0);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for f in *.der; do openssl asn1parse -inform DER -in $f >/dev/null || exit 1; done", dir);
    assert_int_equal(system(cmd), 0);
}

static void T_EXP_LOG_04(void **state)
{
    (void)state;
    cf_archive a;
    system_export(&a);
    asn1parse_all(&a, LOGMSG_SYSTEM);
    cf_archive_free(&a);
}

/* Transaction logs: common content (EXP_LOG_08), names (EXP_LOG_11) and
 * ASN.1 (EXP_LOG_12) with aggregated updates. */
static void T_EXP_LOG_08(void **state)
{
    (void)state;
    busy_day();
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    size_t tx = 0;
    for (size_t i = 0; i < a.n; i++) {
        const logmsg *m = &a.e[i].m;
        if (!a.e[i].is_log || m->kind != LOGMSG_TRANSACTION)
            continue;
        tx++;
        assert_int_equal(m->version, 3);
        assert_string_equal(m->certified_data_type, LOGMSG_OID_TRANSACTION);
        assert_true(m->tx_op == LOGMSG_TX_START || m->tx_op == LOGMSG_TX_UPDATE || m->tx_op == LOGMSG_TX_FINISH);
        assert_true(m->transaction_number >= 1 && m->client_id.n > 0);
    }
    assert_int_equal(tx, 6);   /* 2 starts, 1 signed update, the kept data's update log, 2 finishes */
    cf_archive_free(&a);
}

static void transaction_log_name(const struct cf_entry *e)
{
    assert_non_null(strstr(e->path, "_Log-Tra_"));
}

static void T_EXP_LOG_11(void **state)
{
    (void)state;
    every_log(false, LOGMSG_TRANSACTION, transaction_log_name);
}

static void T_EXP_LOG_12(void **state)
{
    (void)state;
    busy_day();
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    asn1parse_all(&a, LOGMSG_TRANSACTION);
    cf_archive_free(&a);
}

/* Only log kinds the TRs define: the audit logs are the CSP's. */
static void known_kind(const struct cf_entry *e)
{
    assert_true(e->m.kind == LOGMSG_TRANSACTION || e->m.kind == LOGMSG_SYSTEM || e->m.kind == LOGMSG_AUDIT);
}

/* ------------------------------------------------------------ audit logs */

/* A ready TSE (its keyGenerated audit log written when it was opened)
 * whose own certificate chain is imported again through the tse_* API
 * (the SE API has no import): the certificateImported audit log; the SE
 * API bound again with the admin logged in; the export into *a, the chain
 * (PEM) into *chain if not NULL. */
static void audit_day(cf_archive *a, char **chain)
{
    cf_fresh(CF_READY);
    OK(seApiClose());
    tse *t = tt_open(cf.url);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, CF_PIN, NULL, NULL), TSE_OK);
    char *pem = NULL;
    assert_int_equal(tse_export_certificates(t, &pem), TSE_OK);
    assert_int_equal(tse_import_certificate(t, pem), TSE_OK);
    if (chain)
        *chain = strdup(pem);
    tse_free(pem);
    tse_close(t);
    OK(seApiOpen(cf.url, tt_http() ? NULL : th_master_key(), NULL, NULL));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    cf_sale(CF_CLIENT, "Beleg");
    OK(cf_export(0, NULL, a));   /* each log's name and signature checked (openssl) */
}

/* The audit logs of `a`, at least two: keyGenerated and certificateImported. */
static size_t audit_logs(const cf_archive *a, const struct cf_entry **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->e[i].is_log && a->e[i].m.kind == LOGMSG_AUDIT && n < cap)
            out[n++] = &a->e[i];
    assert_int_equal(n, 2);
    return n;
}

/* audit_day's export into *a and its audit logs into e[4]; their number. */
static size_t audit_export(cf_archive *a, const struct cf_entry **e, char **chain)
{
    audit_day(a, chain);
    return audit_logs(a, e, 4);
}

/* Audit logs: the common content of TR-03151-1 2.3.1.2. */
static void T_EXP_LOG_05(void **state)
{
    (void)state;
    cf_archive a;
    const struct cf_entry *e[4];
    size_t n = audit_export(&a, e, NULL);
    for (size_t i = 0; i < n; i++) {
        const logmsg *m = &e[i]->m;
        assert_int_equal(m->version, 3);
        assert_string_equal(m->certified_data_type, LOGMSG_OID_AUDIT);
        assert_true(m->has_se_audit_data && m->se_audit_data.n > 0);
        assert_int_equal(m->operation.n, 0);   /* no certifiedData */
        assert_false(m->has_event_origin);
        assert_memory_equal(m->serial_number.p, cf.info.serial_number, TSE_SERIAL_LEN);
        assert_string_equal(m->signature_algorithm_oid, cf.info.signature_algorithm_oid);
    }
    assert_int_equal(e[0]->m.signature_counter, 2);   /* right after startAudit */
    cf_archive_free(&a);
}

/* Audit logs: file names of TR-03151-1 2.5.5.2 (and logmsg_filename's,
 * held by cf_export). */
static void T_EXP_LOG_06(void **state)
{
    (void)state;
    cf_archive a;
    const struct cf_entry *e[4];
    size_t n = audit_export(&a, e, NULL);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "_Sig-%llu_Log-Aud", (unsigned long long)e[i]->m.signature_counter);
        assert_non_null(strstr(e[i]->path, want));
        const char *end = strstr(e[i]->path, "_Log-Aud") + 8;
        assert_true(!strcmp(end, ".log") || !strncmp(end, "_Fc-", 4));
    }
    cf_archive_free(&a);
}

/* Audit logs: the ASN.1 of TR-03151-1 2.3.1.1 and nothing else, read by
 * `openssl asn1parse`: version, certifiedDataType, serialNumber,
 * signatureAlgorithm, seAuditData, signatureCounter, signatureCreationTime,
 * signatureValue. */
static void T_EXP_LOG_07(void **state)
{
    (void)state;
    cf_archive a;
    const struct cf_entry *e[4];
    size_t n = audit_export(&a, e, NULL);
    asn1parse_all(&a, LOGMSG_AUDIT);
    for (size_t i = 0; i < n; i++) {
        char path[600], cmd[800], line[512], got[600] = "";
        snprintf(path, sizeof path, "%s/audit-%zu-%d.der", th_tmpdir(), i, rand());
        assert_int_equal(th_write_file(path, e[i]->data, e[i]->len), 0);
        snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in '%s'", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t k = 0;
        while (fgets(line, sizeof line, p)) {
            unsigned d = 0;
            char *dp = strstr(line, "d="), *kind = strstr(line, "prim: ");
            if (!kind)
                kind = strstr(line, "cons: ");
            if (!dp || !kind || sscanf(dp, "d=%u", &d) != 1 || d != 1)
                continue;   /* the top level's elements */
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%.*s", k ? "|" : "",
                                  (int)strcspn(kind + 6, " :\n"), kind + 6);
        }
        assert_int_equal(pclose(p), 0);
        const char *tm = cf.info.time_format == TSE_TIME_UNIX ? "INTEGER"
                         : cf.info.time_format == TSE_TIME_UTC ? "UTCTIME" : "GENERALIZEDTIME";
        char want[200];
        snprintf(want, sizeof want, "INTEGER|OBJECT|OCTET|SEQUENCE|OCTET|INTEGER|%s|OCTET", tm);
        assert_string_equal(got, want);
    }
    cf_archive_free(&a);
}

/* The SHA-256 of the `nth` certificate (0: the TSE's own) of a PEM chain,
 * by the openssl command line; false when there is none. */
static bool openssl_cert_hash(const char *pem, int nth, uint8_t out[32])
{
    const char *c = pem;
    for (int i = 0; c && i <= nth; i++)
        c = strstr(i ? c + 1 : c, "-----BEGIN CERTIFICATE-----");
    if (!c)
        return false;
    const char *end = strstr(c, "-----END CERTIFICATE-----");
    assert_non_null(end);
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/cert-%d-%d.pem", th_tmpdir(), nth, rand());
    assert_int_equal(th_write_file(path, c, (size_t)(end - c) + 25), 0);
    snprintf(cmd, sizeof cmd, "openssl x509 -in '%s' -outform DER | openssl dgst -sha256 -binary > '%s.sha'", path,
             path);
    assert_int_equal(system(cmd), 0);
    char sha[620];
    snprintf(sha, sizeof sha, "%s.sha", path);
    size_t n = 0;
    uint8_t *d = th_read_file(sha, &n);
    assert_non_null(d);
    assert_int_equal(n, 32);
    memcpy(out, d, 32);
    free(d);
    return true;
}

/* seAuditData as OpenTSE documents it (docs/log-format-3.md, "Audit
 * logs"), read by `openssl asn1parse -strparse`: keyGenerated names the
 * TSE's point, certificateImported the SHA-256 of each certificate of the
 * chain exportLoggingCertificates gives, the TSE's first. */
static void T_EXP_LOG_17(void **state)
{
    (void)state;
    cf_archive a;
    char *chain = NULL;
    const struct cf_entry *e[4];
    audit_export(&a, e, &chain);
    const logmsg *key = &e[0]->m, *imp = &e[1]->m;
    int certs = 0;
    uint8_t h[8][32];
    while (certs < 8 && openssl_cert_hash(chain, certs, h[certs]))
        certs++;
    assert_true(certs >= 1);
    char path[600], cmd[900], line[512];
    for (int i = 0; i < 2; i++) {
        const logmsg *m = i ? imp : key;
        snprintf(path, sizeof path, "%s/sad-%d-%d.der", th_tmpdir(), i, rand());
        assert_int_equal(th_write_file(path, m->se_audit_data.p, m->se_audit_data.n), 0);
        snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in '%s'", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        int strings = 0, octets = 0;
        while (fgets(line, sizeof line, p)) {
            const char *v = strrchr(line, ':');
            if (strstr(line, "PRINTABLESTRING")) {
                const char *want = strings++ == 0 ? "CSP" : i ? "certificateImported" : "keyGenerated";
                assert_true(v && !strncmp(v + 1, want, strlen(want)));
            }
            octets += strstr(line, "OCTET STRING") != NULL;
        }
        assert_int_equal(pclose(p), 0);
        assert_int_equal(strings, 2);
        assert_int_equal(octets, i ? certs : 1);   /* a hash for each certificate of the chain */
    }
    /* keyGenerated: the point is publicKey, the last element */
    assert_memory_equal(key->se_audit_data.p + key->se_audit_data.n - cf.point_len, cf.point, cf.point_len);
    /* certificateImported: the hashes are its last OCTET STRINGs of 32 bytes, in the chain's order */
    const uint8_t *end = imp->se_audit_data.p + imp->se_audit_data.n;
    for (int c = 0; c < certs; c++) {
        const uint8_t *at = end - (size_t)(certs - c) * 34;
        assert_memory_equal(at, "\x04\x20", 2);
        assert_memory_equal(at + 2, h[c], 32);
    }
    free(chain);
    cf_archive_free(&a);
}

/* The audit logs are on the medium: after the TSE is bound again they are
 * still exported, byte for byte. */
static void T_STO_FUN_11(void **state)
{
    (void)state;
    cf_archive a, b;
    const struct cf_entry *e[4];
    size_t n = audit_export(&a, e, NULL);
    OK(seApiClose());
    OK(seApiOpen(cf.url, tt_http() ? NULL : th_master_key(), NULL, NULL));
    OK(cf_export(0, NULL, &b));
    for (size_t i = 0; i < n; i++) {
        const struct cf_entry *again = cf_entry(&b, e[i]->path);
        assert_non_null(again);
        assert_int_equal(again->len, e[i]->len);
        assert_memory_equal(again->data, e[i]->data, e[i]->len);
    }
    cf_archive_free(&a);
    cf_archive_free(&b);
}

static void T_EXP_LOG_18(void **state)
{
    (void)state;
    every_log(true, 0, known_kind);
}

/* No additionalInternalData in transaction logs (EXP_LOG_23) nor in
 * system logs (EXP_LOG_26: RFU in version 3); no additionalExternalData
 * when none was passed (EXP_LOG_24). */
static void no_internal_data(const struct cf_entry *e)
{
    assert_false(e->m.has_additional_internal_data);
}

static void no_external_data(const struct cf_entry *e)
{
    assert_false(e->m.has_additional_external_data);
}

static void T_EXP_LOG_23(void **state)
{
    (void)state;
    every_log(false, LOGMSG_TRANSACTION, no_internal_data);
}

static void T_EXP_LOG_24(void **state)
{
    (void)state;
    every_log(false, LOGMSG_TRANSACTION, no_external_data);
}

static void T_EXP_LOG_26(void **state)
{
    (void)state;
    every_log(true, LOGMSG_SYSTEM, no_internal_data);
}

/* No indefinite lengths in any log (EXP_LOG_28); processData is a
 * definite [2] IMPLICIT OCTET STRING in every transaction log (EXP_LOG_29). */
static void definite(const struct cf_entry *e)
{
    strict_der(e->data, e->len, 0);
}

static void process_data_tag(const struct cf_entry *e)
{
    assert_int_equal(e->m.process_data.tag, 0x82);
    assert_false(e->m.process_data.indefinite);
    assert_false(e->m.process_data.constructed);
}

static void T_EXP_LOG_28(void **state)
{
    (void)state;
    every_log(false, 0, definite);
}

static void T_EXP_LOG_29(void **state)
{
    (void)state;
    every_log(false, LOGMSG_TRANSACTION, process_data_tag);
}

const struct CMUnitTest cf_export_format[] = {
    cmocka_unit_test(T_EXP_TAR_01), cmocka_unit_test(T_EXP_TAR_03), cmocka_unit_test(T_EXP_INF_01),
    cmocka_unit_test(T_EXP_INF_04), cmocka_unit_test(T_EXP_INF_07), cmocka_unit_test(T_EXP_LOG_01),
    cmocka_unit_test(T_EXP_LOG_02), cmocka_unit_test(T_EXP_LOG_03), cmocka_unit_test(T_EXP_LOG_04),
    cmocka_unit_test(T_EXP_LOG_08), cmocka_unit_test(T_EXP_LOG_11), cmocka_unit_test(T_EXP_LOG_12),
    cmocka_unit_test(T_EXP_LOG_05), cmocka_unit_test(T_EXP_LOG_06), cmocka_unit_test(T_EXP_LOG_07),
    cmocka_unit_test(T_EXP_LOG_17), cmocka_unit_test(T_STO_FUN_11),
    cmocka_unit_test(T_EXP_LOG_18), cmocka_unit_test(T_EXP_LOG_23), cmocka_unit_test(T_EXP_LOG_24),
    cmocka_unit_test(T_EXP_LOG_26), cmocka_unit_test(T_EXP_LOG_28), cmocka_unit_test(T_EXP_LOG_29),
};
const size_t cf_export_format_n = sizeof cf_export_format / sizeof cf_export_format[0];

/* ---------------------------------------------------------------- II_ERR */

/* Before initialize (table 91): ErrorDeviceNotInitialized. */
static void T_II_ERR_01(void **state)
{
    (void)state;
    cf_fresh(CF_ADMIN);
    unsigned long int before = cf_signature_counter();
    EXPECT(setDescription(S("x")), ERROR_DEVICE_NOT_INITIALIZED);                 /* _A */
    EXPECT(disableSecureElement(), ERROR_DEVICE_NOT_INITIALIZED);                 /* _C */
    EXPECT(deleteLogMessages(), ERROR_DEVICE_NOT_INITIALIZED);                    /* _E */
    EXPECT(registerClient(S(CF_CLIENT)), ERROR_DEVICE_NOT_INITIALIZED);           /* _F */
    EXPECT(deregisterClient(S(CF_CLIENT)), ERROR_DEVICE_NOT_INITIALIZED);         /* _G */
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_DEVICE_NOT_INITIALIZED);         /* _H */
    UpdateProtectionVariants v;
    EXPECT(cf_update(CF_CLIENT, 1, CF_TYPE, "x", true, &v, NULL), ERROR_DEVICE_NOT_INITIALIZED);   /* _I */
    EXPECT(cf_finish(CF_CLIENT, 1, CF_TYPE, "x", NULL, NULL, NULL), ERROR_DEVICE_NOT_INITIALIZED); /* _J */
    EXPECT(lockTransactionLogging(), ERROR_DEVICE_NOT_INITIALIZED);               /* _K */
    EXPECT(unlockTransactionLogging(), ERROR_DEVICE_NOT_INITIALIZED);             /* _L */
    assert_int_equal(cf_signature_counter(), before);
}

/* After disableSecureElement (table 94): ErrorSecureElementDisabled for
 * everything that needs the secure element. */
static void T_II_ERR_05(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    OK(cf_finish(CF_CLIENT, n, CF_TYPE, "x", NULL, NULL, NULL));
    OK(disableSecureElement());
    unsigned long int before = cf_signature_counter();
    EXPECT(authenticateUser(S("admin"), S(CF_PIN)), ERROR_SECURE_ELEMENT_DISABLED);    /* _A */
    EXPECT(unblockPin(S("admin"), S(cf.puk), S(CF_PIN)), ERROR_SECURE_ELEMENT_DISABLED); /* _C */
    EXPECT(initialize(), ERROR_SECURE_ELEMENT_DISABLED);                               /* _D */
    EXPECT(setDescription(S("x")), ERROR_SECURE_ELEMENT_DISABLED);                     /* _E */
    EXPECT(disableSecureElement(), ERROR_SECURE_ELEMENT_DISABLED);                     /* _H */
    struct tm now = tm_at(time(NULL));
    EXPECT(updateTime(&now), ERROR_SECURE_ELEMENT_DISABLED);                           /* _K */
    EXPECT(deleteLogMessages(), ERROR_SECURE_ELEMENT_DISABLED);                        /* _N */
    EXPECT(registerClient(S("KASSE-02")), ERROR_SECURE_ELEMENT_DISABLED);              /* _Q */
    EXPECT(deregisterClient(S(CF_CLIENT)), ERROR_SECURE_ELEMENT_DISABLED);             /* _R */
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_SECURE_ELEMENT_DISABLED);             /* _S */
    UpdateProtectionVariants v;
    EXPECT(cf_update(CF_CLIENT, n, CF_TYPE, "x", true, &v, NULL), ERROR_SECURE_ELEMENT_DISABLED);   /* _T */
    EXPECT(cf_finish(CF_CLIENT, n, CF_TYPE, "x", NULL, NULL, NULL), ERROR_SECURE_ELEMENT_DISABLED); /* _U */
    EXPECT(lockTransactionLogging(), ERROR_SECURE_ELEMENT_DISABLED);                   /* _AF */
    EXPECT(unlockTransactionLogging(), ERROR_SECURE_ELEMENT_DISABLED);                 /* _AG */
    assert_int_equal(cf_signature_counter(), before);
}

/* The time not set since the start (table 92): ErrorTimeNotSet, nothing
 * signed; updateTime with a time sets it. A TSE opened again has lost its
 * time until the next updateTime. */
void T_II_ERR_02(void **state)
{
    (void)state;
    tse_create_options o = {.trust_system_clock = -1};
    cf_fresh_file(CF_ADMIN, &o);
    OK(initialize());   /* _A: TR-03151-1 3.3.1.5 raises no ErrorTimeNotSet for it */
    unsigned long int before = cf_signature_counter();
    EXPECT(setDescription(S("x")), ERROR_TIME_NOT_SET);                        /* _B */
    EXPECT(lockTransactionLogging(), ERROR_TIME_NOT_SET);                      /* _K */
    EXPECT(registerClient(S(CF_CLIENT)), ERROR_TIME_NOT_SET);                  /* _F */
    assert_int_equal(cf_signature_counter(), before);
    cf_start(CF_CLIENT, CF_TYPE, "", NULL, ERROR_CLIENT_NOT_REGISTERED);       /* not registered */
    struct tm now = tm_at(time(NULL));
    OK(updateTime(&now));                                                      /* _E sets it */
    OK(registerClient(S(CF_CLIENT)));
    cf_sale(CF_CLIENT, "x");

    OK(seApiClose());   /* opened again: the time is not set, the session gone */
    OK(seApiOpen(cf.url, th_master_key(), NULL, NULL));
    OK(authenticateUser(S("admin"), S(CF_PIN)));
    before = cf_signature_counter();
    EXPECT(deregisterClient(S(CF_CLIENT)), ERROR_TIME_NOT_SET);                /* _G */
    EXPECT(registerClient(S("KASSE-02")), ERROR_TIME_NOT_SET);
    assert_int_equal(cf_signature_counter(), before);
    now = tm_at(time(NULL));
    OK(updateTime(&now));
    cf_sale(CF_CLIENT, "y");   /* still registered */
    OK(deregisterClient(S(CF_CLIENT)));
    cf_expect_system_log("deregisterClient", "admin");
}

/* Inputs longer than their maximum (table 95): ErrorParameterTooLong. */
static void T_II_ERR_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    char id65[66], pin65[66], desc65[66], type101[102];
    memset(id65, 'K', 65);   /* one more than a clientId's 64 */
    id65[65] = 0;
    memset(pin65, '1', 65);
    pin65[65] = 0;
    memset(desc65, 'd', 65);
    desc65[65] = 0;
    memset(type101, 't', 101);
    type101[101] = 0;
    unsigned long int before = cf_signature_counter();
    EXPECT(authenticateUser(S("admin"), S(pin65)), ERROR_PARAMETER_TOO_LONG);          /* _A */
    EXPECT(unblockPin(S("admin"), S(cf.puk), S(pin65)), ERROR_PARAMETER_TOO_LONG);     /* _B */
    EXPECT(setDescription(S(desc65)), ERROR_PARAMETER_TOO_LONG);                       /* _C */
    EXPECT(registerClient(S(id65)), ERROR_PARAMETER_TOO_LONG);                         /* _F */
    EXPECT(deregisterClient(S(id65)), ERROR_PARAMETER_TOO_LONG);                       /* _G */
    cf_start(id65, CF_TYPE, "", NULL, ERROR_PARAMETER_TOO_LONG);                       /* _H */
    cf_start(CF_CLIENT, type101, "", NULL, ERROR_PARAMETER_TOO_LONG);
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", NULL, EXECUTION_OK);
    before = cf_signature_counter();
    UpdateProtectionVariants v;
    EXPECT(cf_update(id65, n, CF_TYPE, "x", true, &v, NULL), ERROR_PARAMETER_TOO_LONG); /* _I */
    EXPECT(cf_finish(id65, n, CF_TYPE, "x", NULL, NULL, NULL), ERROR_PARAMETER_TOO_LONG); /* _J */
    cf_archive a;
    EXPECT(cf_export(2, &(cf_filter){.client = id65}, &a), ERROR_PARAMETER_TOO_LONG);    /* _K */
    assert_int_equal(cf_signature_counter(), before);
}

/* Wrong syntax (table 96): ErrorParameterSyntax. */
static void T_II_ERR_07(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    EXPECT(authenticateUser(NULL, 0, S(CF_PIN)), ERROR_PARAMETER_SYNTAX);
    EXPECT(unblockPin(S("admin"), NULL, 0, S(CF_PIN)), ERROR_PARAMETER_SYNTAX);
    EXPECT(setDescription(NULL, 0), ERROR_PARAMETER_SYNTAX);
    unsigned char d[64];
    EXPECT(getDescription(sizeof d, d, NULL), ERROR_PARAMETER_SYNTAX);
    EXPECT(registerClient(NULL, 0), ERROR_PARAMETER_SYNTAX);
    EXPECT(deregisterClient(NULL, 0), ERROR_PARAMETER_SYNTAX);
    EXPECT(startTransaction(S(CF_CLIENT), NULL, 0, S(CF_TYPE), NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL),
           ERROR_PARAMETER_SYNTAX);
    EXPECT(getCurrentSeTime(NULL), ERROR_PARAMETER_SYNTAX);
    EXPECT(getTransactionState(1, NULL), ERROR_PARAMETER_SYNTAX);
    EXPECT(restoreLogsFromBackup(NULL, 0), ERROR_PARAMETER_SYNTAX);
    assert_int_equal(cf_signature_counter(), before);
}

/* ------------------------------------------------------------------- SDI */

/* The mapping: every function of the table 106 under its TR name, with
 * the appendix's parameter order and types (SDI_FUN_01, SDI_PAR_01: these
 * typed pointers only compile against prototypes written as the appendix
 * maps TR-03151-1; the calls above run them over both transports). */
typedef short int (*fn_auth)(const unsigned char *, unsigned long int, const unsigned char *, unsigned long int);
typedef short int (*fn_logout)(const unsigned char *, unsigned long int);
typedef short int (*fn_unblock)(const unsigned char *, unsigned long int, const unsigned char *, unsigned long int,
                                const unsigned char *, unsigned long int);
typedef short int (*fn_void)(void);
typedef short int (*fn_text_in)(const unsigned char *, unsigned long int);
typedef short int (*fn_out)(unsigned long int, unsigned char *, unsigned long int *);
typedef short int (*fn_ulong)(unsigned long int *);
typedef short int (*fn_tm_out)(struct tm *);
typedef short int (*fn_tm_in)(const struct tm *);
typedef short int (*fn_export)(unsigned long long int, unsigned long long int, unsigned char *,
                               unsigned long long int *, unsigned long int, unsigned char *, unsigned long int *);
typedef short int (*fn_log)(unsigned long int, unsigned char *, unsigned long int *, unsigned long int,
                            unsigned char *, unsigned long int *);
typedef short int (*fn_start)(const unsigned char *, unsigned long int, const unsigned char *, unsigned long int,
                              const unsigned char *, unsigned long int, unsigned long int *, struct tm *,
                              unsigned long int, unsigned char *, unsigned long int *, unsigned long int *,
                              unsigned long int, unsigned char *, unsigned long int *);

static void T_SDI_FUN_01(void **state)
{
    (void)state;
    const fn_auth auth = authenticateUser;
    const fn_logout lo = logOut;
    const fn_unblock ub = unblockPin;
    const fn_void v[] = {initialize, disableSecureElement, deleteLogMessages, lockTransactionLogging,
                         unlockTransactionLogging};
    const fn_text_in t[] = {setDescription, registerClient, deregisterClient};
    const fn_out o[] = {getDescription, selfTest, getDeviceHealth, getComponentVersions, exportSerialNumbers,
                        getCurrentLoggingSignatureCounters, getRegisteredClients, getOpenTransactions,
                        getLastFunctionCallStatus};
    const fn_ulong u[] = {getTotalMemory, getUsedMemory, getFreeMemory, getCurrentNumberOfClients,
                          getMaxNumberOfClients, getCurrentNumberOfTransactions, getMaxNumberOfTransactions,
                          getCurrentTransactionCounter};
    const fn_tm_out to[] = {getEndOfUsageDate, getCurrentSeTime};
    const fn_tm_in ti = updateTime;
    const fn_export e[] = {exportLogMessages, exportLoggingCertificates};
    const fn_log l[] = {getLastLogMessage, getLastTransactionLogMessage};
    const fn_start s = startTransaction;
    assert_non_null(auth);
    assert_non_null(lo);
    assert_non_null(ub);
    assert_non_null(ti);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_non_null(v[i]);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_non_null(t[i]);
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        assert_non_null(o[i]);
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        assert_non_null(u[i]);
    for (size_t i = 0; i < 2; i++)
        assert_true(to[i] && e[i] && l[i]);
    /* and each answers on a bound TSE (no ERROR_SE_API_NOT_BOUND, no crash) */
    cf_fresh(CF_READY);
    unsigned char buf[4096];
    unsigned long int n;
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        assert_int_not_equal(o[i](sizeof buf, buf, &n), ERROR_SE_API_NOT_BOUND);
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        OK(u[i](&n));
}

/* Output arrays: too small a limit gives MEMORY_ERROR_LIMIT_TOO_LOW with
 * the size needed and nothing written; the strings' lengths count the NUL. */
static void T_SDI_PAR_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    const fn_out o[] = {getDescription, getDeviceHealth, getComponentVersions, exportSerialNumbers,
                        getCurrentLoggingSignatureCounters, getRegisteredClients};
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++) {
        unsigned char buf[4096], tiny[1] = {0x5a};
        unsigned long int need = 0, got = 0;
        EXPECT(o[i](1, tiny, &need), MEMORY_ERROR_LIMIT_TOO_LOW);
        assert_int_equal(tiny[0], 0x5a);
        OK(o[i](sizeof buf, buf, &got));
        assert_int_equal(need, got);
    }
    unsigned char name[200], d[8192];
    unsigned long int nl = 0, dl = 0;
    OK(getLastLogMessage(sizeof name, name, &nl, sizeof d, d, &dl));
    assert_int_equal(nl, strlen((char *)name) + 1);
}

const struct CMUnitTest cf_interface[] = {
    cmocka_unit_test(T_II_ERR_01), cmocka_unit_test(T_II_ERR_05), cmocka_unit_test(T_II_ERR_06),
    cmocka_unit_test(T_II_ERR_07), cmocka_unit_test(T_SDI_FUN_01), cmocka_unit_test(T_SDI_PAR_01),
};
const size_t cf_interface_n = sizeof cf_interface / sizeof cf_interface[0];
