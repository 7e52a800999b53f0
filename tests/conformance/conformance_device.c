/*
 * conformance_device.c - TR-03153-1-TS v1.1.1 6.3.1.4 to 6.3.1.18: the
 * core and device functions (II_INI, II_SDE, II_GDE, II_STE, II_DSE,
 * II_GTM, II_GUM, II_GFM, II_GDH, II_GCV, II_GEU) and the time (II_UDT,
 * II_TSV, II_GCT).
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "helpers.h"

/* The elements of a DER SEQUENCE OF SEQUENCE: each record's content
 * [start, end) to `rec`; their number, -1 if not DER of that shape. */
static int records(const uint8_t *d, size_t n, const uint8_t *rec[], size_t rec_len[], int max)
{
    size_t h, len;
    if (!cf_der(d, n, &h, &len) || d[0] != 0x30 || h + len != n)
        return -1;
    int k = 0;
    for (size_t i = h; i < n; k++) {
        size_t rh, rl;
        if (k >= max || !cf_der(d + i, n - i, &rh, &rl) || d[i] != 0x30)
            return -1;
        rec[k] = d + i + rh;
        rec_len[k] = rl;
        i += rh + rl;
    }
    return k;
}

/* The next element of a record: tag, content and length; false at the end. */
static bool next(const uint8_t **p, size_t *left, uint8_t *tag, const uint8_t **v, size_t *vn)
{
    size_t h, len;
    if (!*left || !cf_der(*p, *left, &h, &len))
        return false;
    *tag = (*p)[0];
    *v = *p + h;
    *vn = len;
    *p += h + len;
    *left -= h + len;
    return true;
}

static bool printable(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?", s[i]) || !s[i])
            return false;
    return true;
}

/* initialize: the TSE works, and the initialize log is written. */
static void T_II_INI_01(void **state)
{
    (void)state;
    cf_fresh(CF_ADMIN);
    EXPECT(registerClient(S(CF_CLIENT)), ERROR_DEVICE_NOT_INITIALIZED);
    OK(initialize());
    cf_expect_system_log("initialize", "admin");
    OK(registerClient(S(CF_CLIENT)));
    cf_sale(CF_CLIENT, "x");
}

/* A second initialize: ErrorDeviceIsInitialized, no log. */
static void T_II_INI_02(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    unsigned long int before = cf_signature_counter();
    EXPECT(initialize(), ERROR_DEVICE_IS_INITIALIZED);
    assert_int_equal(cf_signature_counter(), before);
}


/* setDescription with lengths 1 .. 64: used from then on (getDescription,
 * info.csv), each logged; 65 is refused. */
static void T_II_SDE_01(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    const char *all = "Filiale 7 Kasse 1 - 0123456789 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t lens[] = {1, 2, 17, 63, 64};
    char d[100], got[100];
    for (size_t i = 0; i < 5; i++) {
        snprintf(d, sizeof d, "%.*s", (int)lens[i], all);
        OK(setDescription(S(d)));
        cf_expect_system_log("setDescription", "admin");
        cf_description(got, sizeof got);
        assert_string_equal(got, d);
    }
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    cf_audit_archive(&a);
    cf_archive_free(&a);
    snprintf(d, sizeof d, "%.65s", all);
    EXPECT(setDescription(S(d)), ERROR_PARAMETER_TOO_LONG);
    cf_description(got, sizeof got);
    assert_int_equal(strlen(got), 64);
}

/* getDescription: the user's description of up to 64 characters. */
static void T_II_GDE_01(void **state)
{
    (void)state;
    cf_fresh(CF_INITIALIZED);
    const char *d = "0123456789012345678901234567890123456789012345678901234567890123";
    OK(setDescription(S(d)));
    char got[80];
    cf_description(got, sizeof got);
    assert_string_equal(got, d);
    /* too small a buffer: the size needed */
    unsigned long int n = 0;
    EXPECT(getDescription(10, (unsigned char *)got, &n), MEMORY_ERROR_LIMIT_TOO_LOW);
    assert_int_equal(n, 65);
}

/* The manufacturer's description, not changed by the user. */
void T_II_GDE_02(void **state)
{
    (void)state;
    tse_create_options o = {.manufacturer_description = "Kassensystem X von Hersteller Y"};
    cf_fresh_file(CF_INITIALIZED, &o);
    char got[80];
    cf_description(got, sizeof got);
    assert_string_equal(got, "Kassensystem X von Hersteller Y");
}

/* No description set by anyone: an empty string. */
static void T_II_GDE_03(void **state)
{
    (void)state;
    cf_fresh(CF_ADMIN);
    char got[80] = "?";
    cf_description(got, sizeof got);
    assert_string_equal(got, "");
}

/* selfTest: a DER SelfTestResultSet, every component positive, and a selfTest log. */
static void T_II_STE_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    uint8_t r[2048];
    unsigned long int n = 0;
    OK(selfTest(sizeof r, r, &n));
    const uint8_t *rec[32];
    size_t rl[32];
    int k = records(r, n, rec, rl, 32);
    assert_true(k >= 1);
    for (int i = 0; i < k; i++) {
        const uint8_t *p = rec[i], *v;
        size_t left = rl[i], vn;
        uint8_t tag;
        assert_true(next(&p, &left, &tag, &v, &vn) && tag == 0x13 && vn > 0 && printable(v, vn));
        assert_true(next(&p, &left, &tag, &v, &vn) && tag == 0x01 && vn == 1 && v[0] == 0xff);
    }
    cf_expect_system_log("selfTest", "admin");
}

/* disableSecureElement: logged, then no more signatures, the logs stay readable. */
static void T_II_DSE_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(disableSecureElement());
    cf_expect_system_log("disableSecureElement", "admin");
    cf_start(CF_CLIENT, CF_TYPE, "x", NULL, ERROR_SECURE_ELEMENT_DISABLED);
    EXPECT(disableSecureElement(), ERROR_SECURE_ELEMENT_DISABLED);
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    assert_int_equal(cf_count(&a, LOGMSG_SYSTEM, "disableSecureElement"), 1);
    cf_archive_free(&a);
}

/* Disabled: the audit functions stop, nothing more is signed. */
static void T_II_DSE_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(disableSecureElement());
    unsigned long int after = cf_signature_counter();
    uint8_t r[2048];
    unsigned long int n = 0;
    selfTest(sizeof r, r, &n);
    assert_int_equal(cf_signature_counter(), after);
    authenticateUser(S("admin"), S("999999"));
    assert_int_equal(cf_signature_counter(), after);
    logOut(S("admin"));
    assert_int_equal(cf_signature_counter(), after);
    EXPECT(registerClient(S("KASSE-02")), ERROR_SECURE_ELEMENT_DISABLED);
    assert_int_equal(cf_signature_counter(), after);
}

/* The memory of the store: total = used + free, used grows with logs. */
static void T_II_GTM_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int total = 0, used = 0, free_ = 0;
    OK(getTotalMemory(&total));
    OK(getUsedMemory(&used));
    OK(getFreeMemory(&free_));
    assert_true(used > 0 && free_ > 0);
    /* free space is the file system's: it moves with other writers, so compare within one reading */
    unsigned long int total2 = 0, free2 = 0;
    OK(getFreeMemory(&free2));
    OK(getTotalMemory(&total2));
    assert_true(total2 >= used + free2 - 1024 * 1024 && total2 <= used + free2 + 1024 * 1024);
    EXPECT(getTotalMemory(NULL), ERROR_PARAMETER_SYNTAX);
}

static void T_II_GUM_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = 0, after = 0;
    OK(getUsedMemory(&before));
    for (int i = 0; i < 40; i++)
        cf_sale(CF_CLIENT, "Beleg^19.99_0.00_0.00_0.00_0.00^19.99:Bar 0123456789012345678901234567890123456789");
    OK(getUsedMemory(&after));
    assert_true(after > before);
}

static void T_II_GFM_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int f = 0, total = 0;
    OK(getFreeMemory(&f));
    OK(getTotalMemory(&total));
    assert_true(f > 0 && f < total);
}

/* getDeviceHealth: DER HealthInformationSet of records { componentName,
 * healthLevel, additionalDescription OPTIONAL }. */
static void device_health(int check)
{
    uint8_t d[2048];
    unsigned long int n = 0;
    OK(getDeviceHealth(sizeof d, d, &n));
    const uint8_t *rec[32];
    size_t rl[32];
    int k = records(d, n, rec, rl, 32);
    assert_true(k >= 1);   /* II_GDH_02: DER (definite, minimal lengths) */
    for (int i = 0; i < k && check; i++) {
        const uint8_t *p = rec[i], *v;
        size_t left = rl[i], vn;
        uint8_t tag;
        assert_true(next(&p, &left, &tag, &v, &vn) && tag == 0x13 && vn > 0 && printable(v, vn));
        assert_true(next(&p, &left, &tag, &v, &vn) && tag == 0x0a && vn == 1);   /* HealthLevel ENUMERATED */
        if (check == 3)
            assert_true(v[0] <= 2);
        if (next(&p, &left, &tag, &v, &vn)) {
            assert_int_equal(tag, 0x13);
            assert_true(vn > 3 && printable(v, vn));   /* words a person reads */
        }
        assert_int_equal(left, 0);
    }
}

static void T_II_GDH_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    device_health(1);
}

static void T_II_GDH_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    device_health(0);
}

static void T_II_GDH_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    device_health(3);
}

/* getComponentVersions: a DER DeviceInformationSet of records { componentName,
 * manufacturer, model, version, certificationId OPTIONAL }, PrintableStrings. */
/* getComponentVersions of a ready TSE into d: its records (at least one). */
static int component_records(uint8_t *d, size_t cap, const uint8_t *rec[32], size_t rl[32])
{
    cf_fresh(CF_READY);
    unsigned long int n = 0;
    OK(getComponentVersions(cap, d, &n));
    int k = records(d, n, rec, rl, 32);
    assert_true(k >= 1);
    return k;
}

/* getComponentVersions names the components info.csv names, each with its
 * version, in info.csv's order. */
static void T_II_GCV_01(void **state)
{
    (void)state;
    uint8_t d[4096];
    const uint8_t *rec[32];
    size_t rl[32];
    int k = component_records(d, sizeof d, rec, rl);
    cf_archive a;
    OK(cf_export(0, NULL, &a));
    const struct cf_entry *e = cf_entry(&a, "info.csv");
    assert_non_null(e);
    char *csv = strndup((const char *)e->data, e->len);
    const char *at = csv;
    for (int i = 0; i < k; i++) {
        const uint8_t *p = rec[i], *v;
        size_t left = rl[i], vn;
        uint8_t tag;
        char f[5][300] = {{0}};
        for (int j = 0; j < 5 && next(&p, &left, &tag, &v, &vn); j++)
            snprintf(f[j], sizeof f[j], "%.*s", (int)vn, (const char *)v);
        char want[1300];   /* its line of info.csv, after the one before */
        snprintf(want, sizeof want, "\"component:\",\"%s\",\"manufacturer:\",\"%s\",\"model:\",\"%s\",\"version:\",\"%s\"",
                 f[0], f[1], f[2], f[3]);
        const char *line = strstr(at, want);
        if (!line)
            fail_msg("component %d (%s %s) is not in info.csv after the one before:\n%s", i, f[0], f[3], csv);
        at = line + strlen(want);
    }
    assert_null(strstr(at, "\"component:\""));   /* and info.csv names no other */
    free(csv);
    cf_archive_free(&a);
}

static void T_II_GCV_02(void **state)
{
    (void)state;
    uint8_t d[4096];
    const uint8_t *rec[32];
    size_t rl[32];
    int k = component_records(d, sizeof d, rec, rl);
    for (int i = 0; i < k; i++) {
        const uint8_t *p = rec[i], *v;
        size_t left = rl[i], vn;
        uint8_t tag;
        int fields = 0;
        while (next(&p, &left, &tag, &v, &vn)) {
            assert_int_equal(tag, 0x13);
            assert_true(vn > 0 && printable(v, vn));
            fields++;
        }
        assert_int_equal(left, 0);
        assert_true(fields == 4 || fields == 5);
    }
}

static void T_II_GCV_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    uint8_t d[4096];
    unsigned long int n = 0;
    OK(getComponentVersions(sizeof d, d, &n));
    size_t h, len;
    assert_true(cf_der(d, n, &h, &len) && h + len == n);
    EXPECT(getComponentVersions(4, d, &n), MEMORY_ERROR_LIMIT_TOO_LOW);
    assert_true(n > 4);
}

/* getEndOfUsageDate: a date in the future, not after the certificate's end. */
static void T_II_GEU_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    struct tm e;
    OK(getEndOfUsageDate(&e));
    time_t t = timegm(&e);
    assert_true(t > time(NULL));
    assert_true(t <= cf.info.cert_not_after);
}

static struct tm utc_in(long seconds)
{
    time_t t = time(NULL) + seconds;
    struct tm r;
    gmtime_r(&t, &r);
    return r;
}

/* updateTime with a time: the TSE's time follows, logged by updateTime. */
static void T_II_UDT_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    struct tm now = utc_in(0);
    OK(updateTime(&now));
    cf_expect_system_log("updateTime", "admin");
    struct tm se;
    OK(getCurrentSeTime(&se));
    long d = (long)(timegm(&se) - timegm(&now));
    assert_true(d >= 0 && d < 60);
}

/* Several updateTime: one log each, the signature counter +1 each (SM_TME_02). */
static void T_SM_TME_02(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    for (unsigned long int i = 1; i <= 3; i++) {
        struct tm now = utc_in(0);
        OK(updateTime(&now));
        assert_int_equal(cf_signature_counter(), before + i);
        cf_expect_system_log("updateTime", "admin");
    }
}

/* Wrong values: ErrorInvalidTime (or a syntax error), time unchanged, no log. */
static void T_II_UDT_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    struct tm bad = utc_in(0);
    bad.tm_year = 90;   /* 1990 */
    EXPECT(updateTime(&bad), ERROR_INVALID_TIME);
    bad = utc_in(0);
    bad.tm_mon = 13;
    EXPECT(updateTime(&bad), ERROR_INVALID_TIME);
    bad = utc_in(0);
    bad.tm_mday = 0;
    EXPECT(updateTime(&bad), ERROR_INVALID_TIME);
    assert_int_equal(cf_signature_counter(), before);
    struct tm se;
    OK(getCurrentSeTime(&se));
    assert_true(labs((long)(timegm(&se) - time(NULL))) < 60);
}

/* The mapping's time format is struct tm; a NULL is not a time. */
static void T_II_UDT_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    EXPECT(updateTime(NULL), ERROR_INVALID_TIME);
    assert_int_equal(cf_signature_counter(), before);
}

/* getTimeSyncVariant: these TSEs follow the host's synchronised clock and
 * take updateTime with a time too (automaticAndManualSync), and both work. */
static void T_II_TSV_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    SyncVariants v = (SyncVariants)-1;
    OK(getTimeSyncVariant(&v));
    assert_int_equal(v, SyncVariants_automaticAndManualSync);
    struct tm se;
    OK(getCurrentSeTime(&se));   /* set without any updateTime */
    assert_true(labs((long)(timegm(&se) - time(NULL))) < 60);
    struct tm now = utc_in(0);
    OK(updateTime(&now));
}

/* getCurrentSeTime: the time that stamps the logs. */
static void T_II_GCT_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    struct tm before;
    OK(getCurrentSeTime(&before));
    cf_signed s;
    unsigned long int n = cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    struct tm after;
    OK(getCurrentSeTime(&after));
    assert_true(timegm(&before) <= timegm(&s.time) && timegm(&s.time) <= timegm(&after));
    cf_log l;
    cf_last_log(&l);
    assert_int_equal(l.m.log_time, timegm(&s.time));
    assert_int_equal(l.m.transaction_number, n);
}

/* A system log of the SMA itself: `event`, origin SMA, no triggering user. */
static void expect_sma(const logmsg *m, const char *event)
{
    assert_int_equal(m->kind, LOGMSG_SYSTEM);
    if (m->operation.n != strlen(event) || memcmp(m->operation.p, event, m->operation.n) != 0)
        fail_msg("log %lu is %.*s, not %s", (unsigned long)m->signature_counter, (int)m->operation.n,
                 (const char *)m->operation.p, event);
    assert_true(m->has_event_origin);
    assert_int_equal(m->event_origin.n, 3);
    assert_memory_equal(m->event_origin.p, "SMA", 3);
    assert_false(m->has_event_triggered_by_user);
}

/* The one log of `a` named `event`. */
static const logmsg *only_log(const cf_archive *a, const char *event)
{
    assert_int_equal(cf_count(a, LOGMSG_SYSTEM, event), 1);
    for (size_t i = 0; i < a->n; i++)
        if (a->e[i].is_log && a->e[i].m.operation.n == strlen(event) &&
            !memcmp(a->e[i].m.operation.p, event, strlen(event)))
            return &a->e[i].m;
    fail();
    return NULL;
}

/* SM_LOG_03: the SMA starts its audit function once, before anything else
 * (TR-03153-1 v1.1.1 9.8.2): the first log of a new TSE is startAudit,
 * eventData an empty SEQUENCE; later operations write no other. */
/* selfTest with its result (the DER SelfTestResultSet). */
static short int self_test(void)
{
    unsigned char r[512];
    unsigned long int n = 0;
    return selfTest(sizeof r, r, &n);
}

static void T_SM_LOG_03(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    OK(self_test());
    cf_archive a;
    EXPECT(cf_export(0, NULL, &a), EXECUTION_OK);
    const logmsg *m = only_log(&a, "startAudit");
    assert_int_equal(m->signature_counter, 1);
    expect_sma(m, "startAudit");
    assert_int_equal(m->event_data.n, 0);
    cf_archive_free(&a);
}

/* Unbinds the TSE, alters its last stored log if `tamper` (someone with
 * access to its file), and binds it again, with the master key or without. */
static void rebind(bool tamper, bool with_key)
{
    unsigned long int last = cf_signature_counter();
    OK(seApiClose());
    if (tamper)
        assert_int_equal(th_tamper_log(cf.url + 5, last), 0);
    OK(seApiOpen(cf.url, with_key ? th_master_key() : NULL, NULL, NULL));
}

/* SM_LOG_05: a failed self-test puts the SMA into its safe state, logged at
 * once: enterSecureState after the failed selfTest, without timeOfEvent. */
void T_SM_LOG_05(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int before = cf_signature_counter();
    rebind(true, true);
    cf_log l;
    cf_last_log(&l);
    expect_sma(&l.m, "enterSecureState");
    assert_int_equal(l.m.event_data.n, 0);
    assert_int_equal(l.m.signature_counter, before + 2);   /* the selfTest before it */
    assert_int_equal(cf_signature_counter(), before + 2);
}

/* SM_LOG_06: the SMA stays in its safe state while the altered log is
 * there, and leaves it when the log is as it was signed: exitSecureState,
 * an empty SEQUENCE; the TSE signs transactions again. */
void T_SM_LOG_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int altered = cf_signature_counter();
    rebind(true, true);
    EXPECT(self_test(), ERROR_SELF_TEST_FAILED);   /* newer logs do not hide it */
    OK(seApiClose());
    assert_int_equal(th_tamper_log(cf.url + 5, altered), 0);   /* restored */
    OK(seApiOpen(cf.url, th_master_key(), NULL, NULL));
    cf_log l;
    cf_last_log(&l);
    expect_sma(&l.m, "exitSecureState");
    assert_int_equal(l.m.event_data.n, 0);
    assert_true(cf_sale(CF_CLIENT, "Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar") > 0);
}

/* SM_LOG_04: without its key the TSE fails its self-test and can sign
 * nothing; once the key is back, enterSecureState is written with the time
 * of the event as timeOfEvent, then exitSecureState. */
void T_SM_LOG_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int was = cf_signature_counter();
    time_t before = time(NULL);
    rebind(false, false);
    time_t after = time(NULL);
    rebind(false, true);
    cf_archive a;
    EXPECT(cf_export(0, NULL, &a), EXECUTION_OK);
    const logmsg *enter = only_log(&a, "enterSecureState");
    const logmsg *leave = only_log(&a, "exitSecureState");
    expect_sma(enter, "enterSecureState");
    expect_sma(leave, "exitSecureState");
    assert_int_equal(enter->signature_counter, was + 2);   /* after the passing selfTest */
    assert_int_equal(leave->signature_counter, was + 3);
    size_t hdr = 0, len = 0;
    assert_true(cf_der(enter->event_data.p, enter->event_data.n, &hdr, &len));
    assert_int_equal(hdr + len, enter->event_data.n);   /* one element: timeOfEvent */
    int64_t when = 0;
    const uint8_t *v = enter->event_data.p + hdr;
    if (enter->time_format == LOGMSG_TIME_UNIX) {
        assert_int_equal(enter->event_data.p[0], 0x02);
        for (size_t i = 0; i < len; i++)
            when = (int64_t)((uint64_t)when << 8 | v[i]);
    } else {
        assert_int_equal(enter->event_data.p[0], enter->time_format == LOGMSG_TIME_UTC ? 0x17 : 0x18);
        assert_true(logmsg_time_from_text(enter->time_format, v, len, &when));
    }
    assert_true(when >= before && when <= after);
    assert_true(when <= enter->log_time);
    cf_archive_free(&a);
}

/* updateDevice with a package of sequence `seq` setting the SMAERS's
 * version to `version`, signed with `key` (NULL: the update key). */
static short int update_device(unsigned long long seq, const char *version, const char *key)
{
    char m[300];
    snprintf(m, sizeof m, "OpenTSE update package 2\nsequence: %llu\nSMAERS,OpenTSE,libopentse,%s,\n", seq, version);
    size_t len = 0;
    uint8_t *p = th_update_package(m, key ? key : cf_update_key, &len);
    assert_non_null(p);
    short int rc = updateDevice(p, len);
    free(p);
    return rc;
}

/* Whether getComponentVersions names `version`. */
static bool has_version(const char *version)
{
    unsigned char d[4096];
    unsigned long int n = 0;
    OK(getComponentVersions(sizeof d, d, &n));
    return memmem(d, n, version, strlen(version)) != NULL;
}

/* The updateDevice and updateDeviceCompleted logs of the one update of the
 * TSE, at counters c + 1 and c + 2, by the admin, naming `old` before and
 * `now` after (NULL: the update failed, `old` after too); the outcome (the
 * ENUMERATED that starts updateDeviceCompleted's eventData) into *outcome. */
static void update_logs(unsigned long int c, const char *old, const char *now, int *outcome)
{
    cf_archive a;
    EXPECT(cf_export(0, NULL, &a), EXECUTION_OK);
    const logmsg *before = only_log(&a, "updateDevice"), *after = only_log(&a, "updateDeviceCompleted");
    assert_int_equal(before->signature_counter, c + 1);
    assert_int_equal(after->signature_counter, c + 2);
    for (int i = 0; i < 2; i++) {
        const logmsg *m = i ? after : before;
        assert_true(m->has_event_triggered_by_user && m->event_triggered_by_user.n == 5);
        assert_memory_equal(m->event_triggered_by_user.p, "admin", 5);
    }
    /* updateDevice: the components before; updateDeviceCompleted: after */
    assert_non_null(memmem(before->event_data.p, before->event_data.n, old, strlen(old)));
    assert_non_null(memmem(after->event_data.p, after->event_data.n, now ? now : old, strlen(now ? now : old)));
    if (now)
        assert_null(memmem(before->event_data.p, before->event_data.n, now, strlen(now)));
    assert_true(after->event_data.n > 3 && after->event_data.p[0] == 0x0a && after->event_data.p[1] == 1);
    *outcome = after->event_data.p[2];
    cf_archive_free(&a);
}

/* II_UDD_01: an update through updateDevice: applied, its two logs name the
 * versions before and after. */
static void T_II_UDD_01(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    unsigned long int c = cf_signature_counter();
    OK(update_device(1, "9.1.1", NULL));
    assert_int_equal(cf_signature_counter(), c + 2);
    int outcome = -1;
    update_logs(c, tse_version(), "9.1.1", &outcome);
    assert_int_equal(outcome, 0);   /* success */
    assert_true(has_version("9.1.1"));
}

/* II_UDD_04: an update that fails completely (a package not signed by the
 * update key) is logged, outcome failed with its reason; nothing changes. */
static void T_II_UDD_04(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    char *other = th_path("other-update.key"), cmd[1000];
    snprintf(cmd, sizeof cmd, "openssl ecparam -name prime256v1 -genkey -noout -out '%s'", other);
    assert_int_equal(system(cmd), 0);
    unsigned long int c = cf_signature_counter();
    EXPECT(update_device(1, "6.6.6", other), ERROR_UPDATE_DEVICE_FAILED);
    assert_int_equal(cf_signature_counter(), c + 2);
    int outcome = -1;
    update_logs(c, tse_version(), NULL, &outcome);
    assert_int_equal(outcome, 1);   /* failed */
    cf_log l;
    cf_last_log(&l);
    assert_non_null(memmem(l.m.event_data.p, l.m.event_data.n, "not made with the update key", 28));
    assert_false(has_version("6.6.6"));
    free(other);
}

/* II_UDD_06: an open transaction refuses the update with
 * ErrorOpenTransactionFound, writing nothing. */
static void T_II_UDD_06(void **state)
{
    (void)state;
    cf_fresh(CF_READY);
    cf_signed s;
    cf_start(CF_CLIENT, CF_TYPE, "", &s, EXECUTION_OK);
    unsigned long int c = cf_signature_counter();
    EXPECT(update_device(1, "6.6.6", NULL), ERROR_OPEN_TRANSACTION_FOUND);
    assert_int_equal(cf_signature_counter(), c);
    assert_false(has_version("6.6.6"));
}

const struct CMUnitTest cf_device[] = {
    cmocka_unit_test(T_II_INI_01), cmocka_unit_test(T_II_INI_02), cmocka_unit_test(T_II_SDE_01),
    cmocka_unit_test(T_II_GDE_01), cmocka_unit_test(T_II_GDE_03), cmocka_unit_test(T_II_STE_01),
    cmocka_unit_test(T_II_DSE_01), cmocka_unit_test(T_II_DSE_02), cmocka_unit_test(T_II_GTM_01),
    cmocka_unit_test(T_II_GUM_01), cmocka_unit_test(T_II_GFM_01), cmocka_unit_test(T_II_GDH_01),
    cmocka_unit_test(T_II_GDH_02), cmocka_unit_test(T_II_GDH_03), 
    cmocka_unit_test(T_II_GCV_01), cmocka_unit_test(T_II_GCV_02), cmocka_unit_test(T_II_GCV_03), cmocka_unit_test(T_II_GEU_01),
    cmocka_unit_test(T_SM_LOG_03), cmocka_unit_test(T_II_UDD_01), cmocka_unit_test(T_II_UDD_04),
    cmocka_unit_test(T_II_UDD_06),
};
const size_t cf_device_n = sizeof cf_device / sizeof cf_device[0];

const struct CMUnitTest cf_time[] = {
    cmocka_unit_test(T_II_UDT_01), cmocka_unit_test(T_SM_TME_02), cmocka_unit_test(T_II_UDT_03),
    cmocka_unit_test(T_II_UDT_04), cmocka_unit_test(T_II_TSV_01), cmocka_unit_test(T_II_GCT_01),
};
const size_t cf_time_n = sizeof cf_time / sizeof cf_time[0];
