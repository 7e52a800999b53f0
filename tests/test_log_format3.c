/*
 * test_log_format3.c - log format version 3 (TR-03151-1 v1.1.1 section 2)
 * against implementations we did not write: every kind of log the engine
 * writes, on every curve of TR-03116-5, has its signature checked by the
 * `openssl` command line and its structure read by `openssl asn1parse`
 * against the ASN.1 of section 2 (tags, order, eventData); the export's
 * file names are read with `tar`. A TSE created with version 2 stays
 * version 2 across reopening, and an archive holding both verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ready_tse.h"
#include "verify/verify.h"

/* ------------------------------------------------ asn1parse, normalized */

/* `openssl asn1parse` of msg as one line per element, "D cons|prim TAG"
 * with ":value" for strings, booleans, enumerations, version and eventData
 * integers (times and counters vary: no value). */
static char *asn1_shape(const uint8_t *msg, size_t len, bool inner_ints)
{
    char *path = th_path("shape.der"), cmd[600], line[1024];
    assert_int_equal(th_write_file(path, msg, len), 0);
    snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 8192, n = 0;
    char *out = calloc(1, cap);
    int lines = 0;
    while (fgets(line, sizeof line, p)) {
        int depth = -1;
        char *d = strstr(line, "d="), *kind = strstr(line, "cons: ");
        if (!kind)
            kind = strstr(line, "prim: ");
        if (!d || !kind || sscanf(d, "d=%d", &depth) != 1)
            fail_msg("asn1parse: %s", line);
        char tag[64] = "", *colon = strchr(kind + 6, ':');
        size_t tl = colon ? (size_t)(colon - (kind + 6)) : strcspn(kind + 6, "\n");
        snprintf(tag, sizeof tag, "%.*s", (int)tl, kind + 6);
        char *gap = strstr(tag, "  ");   /* "OCTET STRING      [HEX DUMP]" */
        if (gap)
            *gap = 0;
        for (size_t k = strlen(tag); k && tag[k - 1] == ' '; k--)
            tag[k - 1] = 0;
        char value[256] = "";
        bool keep = !strcmp(tag, "PRINTABLESTRING") || !strcmp(tag, "BOOLEAN") || !strcmp(tag, "ENUMERATED") ||
                    (!strcmp(tag, "OBJECT") && depth == 1) || (!strcmp(tag, "INTEGER") && (lines == 1 || (depth >= 2 && inner_ints)));
        if (keep && colon)
            snprintf(value, sizeof value, "%.*s", (int)strcspn(colon, "\n"), colon);
        n += (size_t)snprintf(out + n, cap - n, "%s%d %.4s %s%s", n ? "|" : "", depth, kind, tag, value);
        assert_true(n < cap);
        lines++;
    }
    assert_int_equal(pclose(p), 0);
    free(path);
    return out;
}

static const char *time_tag(tse_time_format f)
{
    return f == TSE_TIME_UTC ? "UTCTIME" : f == TSE_TIME_GENERALIZED ? "GENERALIZEDTIME" : "INTEGER";
}

/* The elements after the certified data, the same for every log. */
static void tail(char *out, size_t cap, tse_time_format f)
{
    snprintf(out, cap, "1 prim OCTET STRING|1 cons SEQUENCE|2 prim OBJECT|1 prim INTEGER|1 prim %s|1 prim OCTET STRING",
             time_tag(f));
}

/* Expected shape of a version-3 system log: eventType [0], eventOrigin [1],
 * eventTriggeredByUser [2] when `user`, eventData [3] constructed with `data`. */
static void expect_system(const uint8_t *msg, size_t len, bool user, const char *data, tse_time_format f,
                          bool inner_ints)
{
    char want[4096], t[256];
    tail(t, sizeof t, f);
    snprintf(want, sizeof want, "0 cons SEQUENCE|1 prim INTEGER:03|1 prim OBJECT:0.4.0.127.0.7.3.7.1.2|"
                                "1 prim cont [ 0 ]|1 prim cont [ 1 ]|%s1 cons cont [ 3 ]%s%s|%s",
             user ? "1 prim cont [ 2 ]|" : "", *data ? "|" : "", data, t);
    char *got = asn1_shape(msg, len, inner_ints);
    assert_string_equal(got, want);
    free(got);
}

static void expect_transaction(const uint8_t *msg, size_t len, bool external, tse_time_format f)
{
    char want[2048], t[256];
    tail(t, sizeof t, f);
    snprintf(want, sizeof want, "0 cons SEQUENCE|1 prim INTEGER:03|1 prim OBJECT:0.4.0.127.0.7.3.7.1.1|"
                                "1 prim cont [ 0 ]|1 prim cont [ 1 ]|1 prim cont [ 2 ]|1 prim cont [ 3 ]|%s"
                                "1 prim cont [ 5 ]|%s",
             external ? "1 prim cont [ 4 ]|" : "", t);
    char *got = asn1_shape(msg, len, false);
    assert_string_equal(got, want);
    free(got);
}

/* ------------------------------------------------ driving every log kind */

static char *export_to(tse *t, const char *name)
{
    char *path = th_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(tse_export_data(t, NULL, th_to_file, f, NULL), TSE_OK);
    assert_int_equal(fclose(f), 0);
    return path;
}

static bool slice_is(logmsg_bytes b, const char *s)
{
    return b.n == strlen(s) && !memcmp(b.p, s, b.n);
}

/* Expected per signature counter of the run below: eventType or
 * operationType, eventTriggeredByUser (NULL: absent, by the TSE itself),
 * and the eventData as asn1parse shows it. */
typedef struct want_log {
    const char *op;
    const char *origin;
    const char *user;
    const char *data;    /* system logs; NULL for transaction logs */
    bool external;       /* transaction log with additionalExternalData */
} want_log;

#define SELF_TEST_OK "2 cons SEQUENCE|3 cons SEQUENCE|4 prim PRINTABLESTRING:CSP|4 prim BOOLEAN:255|" \
                     "3 cons SEQUENCE|4 prim PRINTABLESTRING:storage|4 prim BOOLEAN:255|2 prim BOOLEAN:255"
#define IF "integration-interface"

/* seAuditData of the CSP's keyGenerated audit log (docs/log-format-3.md) */
#define KEY_GENERATED "0 cons SEQUENCE|1 prim PRINTABLESTRING:CSP|1 prim PRINTABLESTRING:keyGenerated|" \
                      "1 cons SEQUENCE|2 prim %s|2 prim OBJECT|2 prim OCTET STRING"
#define AUDIT "audit"

static const want_log run[] = {
    {"startAudit", "SMA", NULL, "", false},   /* TR-03153-1 v1.1.1 9.8.2: the first log of a TSE */
    {"keyGenerated", AUDIT, NULL, NULL, false},   /* the CSP's audit log of the key, once */
    {"selfTest", "SMA", NULL, SELF_TEST_OK, false},
    {"unblockPin", IF, "unauthenticated", "2 prim PRINTABLESTRING:admin|2 prim ENUMERATED:02", false},
    {"unblockPin", IF, "unauthenticated", "2 prim PRINTABLESTRING:admin|2 prim ENUMERATED:00", false},
    {"authenticateUser", IF, "unauthenticated",
     "2 prim PRINTABLESTRING:admin|2 prim PRINTABLESTRING:admin|2 prim ENUMERATED:02|2 prim INTEGER:02", false},
    {"authenticateUser", IF, "unauthenticated",
     "2 prim PRINTABLESTRING:admin|2 prim PRINTABLESTRING:admin|2 prim ENUMERATED:00|2 prim INTEGER:03", false},
    {"initialize", IF, "admin", "", false},
    {"updateTime", IF, "admin", NULL, false},   /* data: two times, checked apart */
    {"registerClient", IF, "admin", "2 prim PRINTABLESTRING:" READY_CLIENT, false},
    {"registerClient", IF, "admin", "2 prim PRINTABLESTRING:Kasse 2 (Bar)", false},
    {"startTransaction", NULL, NULL, NULL, false},
    {"updateTransaction", NULL, NULL, NULL, false},
    {"finishTransaction", NULL, NULL, NULL, true},
    {"startTransaction", NULL, NULL, NULL, false},
    {"finishTransaction", NULL, NULL, NULL, false},
    {"deregisterClient", IF, "admin", "2 prim PRINTABLESTRING:Kasse 2 (Bar)", false},
    {"selfTest", IF, "admin", SELF_TEST_OK, false},
    {"deleteLogMessages", IF, "admin", "", false},
    {"logOut", IF, "admin", "2 prim PRINTABLESTRING:admin|2 prim ENUMERATED:00", false},
    {"authenticateUser", IF, "unauthenticated",
     "2 prim PRINTABLESTRING:admin|2 prim PRINTABLESTRING:admin|2 prim ENUMERATED:00|2 prim INTEGER:03", false},
    {"disableSecureElement", IF, "admin", "", false},
};
#define N_RUN (sizeof run / sizeof run[0])

static bool is_audit(const want_log *w)
{
    return w->origin && !strcmp(w->origin, AUDIT);
}

static bool is_system(const want_log *w)
{
    return w->origin != NULL && !is_audit(w);
}

/* The values of the OBJECT IDENTIFIERs `openssl asn1parse` shows in msg. */
static void objects(const uint8_t *msg, size_t len, char *out, size_t cap)
{
    char *path = th_path("objects.der"), cmd[600], line[1024];
    assert_int_equal(th_write_file(path, msg, len), 0);
    snprintf(cmd, sizeof cmd, "openssl asn1parse -inform DER -in %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    out[0] = 0;
    while (fgets(line, sizeof line, p)) {
        char *v = strstr(line, "prim: OBJECT");
        v = v ? strchr(v, ':') : NULL;
        v = v ? strchr(v + 1, ':') : NULL;
        if (v)
            n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? "|" : "", (int)strcspn(v + 1, "\n"), v + 1);
        assert_true(n < cap);
    }
    assert_int_equal(pclose(p), 0);
    free(path);
}

/* The keyGenerated audit log: the elements of TR-03151-1 2.3.1.1 and no
 * others, its seAuditData as documented, the TSE's own key and algorithm. */
static void expect_key_generated(const uint8_t *msg, size_t len, const logmsg *m, tse_time_format f,
                                 const uint8_t *point, size_t point_len)
{
    char want[1024];
    /* version, certifiedDataType, serialNumber, signatureAlgorithm, seAuditData, counter, time, signature */
    snprintf(want, sizeof want, "0 cons SEQUENCE|1 prim INTEGER:03|1 prim OBJECT:0.4.0.127.0.7.3.7.1.3|"
                                "1 prim OCTET STRING|1 cons SEQUENCE|2 prim OBJECT|1 prim OCTET STRING|"
                                "1 prim INTEGER|1 prim %s|1 prim OCTET STRING", time_tag(f));
    char *got = asn1_shape(msg, len, false);
    assert_string_equal(got, want);
    free(got);
    assert_int_equal(m->kind, LOGMSG_AUDIT);
    assert_true(m->has_se_audit_data);
    snprintf(want, sizeof want, KEY_GENERATED, time_tag(f));
    got = asn1_shape(m->se_audit_data.p, m->se_audit_data.n, false);
    assert_string_equal(got, want);
    free(got);
    /* publicKey, the last element, is the TSE's point; the algorithm is the log's */
    assert_true(m->se_audit_data.n > point_len);
    assert_memory_equal(m->se_audit_data.p + m->se_audit_data.n - point_len, point, point_len);
    char in_log[256], in_audit[256], *sig;
    objects(msg, len, in_log, sizeof in_log);
    objects(m->se_audit_data.p, m->se_audit_data.n, in_audit, sizeof in_audit);
    sig = strchr(in_log, '|');
    assert_non_null(sig);
    assert_string_equal(in_audit, sig + 1);
}

/* The signature counter of the `nth` (1, 2, ...) log of `op` in run[]. */
static uint64_t counter_of(const char *op, int nth)
{
    for (size_t i = 0; i < N_RUN; i++)
        if (!strcmp(run[i].op, op) && --nth == 0)
            return i + 1;
    fail();
    return 0;
}

/* Drives one version-3 TSE through every operation that writes a log. */
static tse *every_log_kind(tse_curve curve, tse_time_format fmt, char **archive)
{
    tse_create_options o = {.curve = curve, .time_format = fmt};   /* version 3 by default */
    char puk[TSE_PUK_LEN + 1];
    tse *t = ready_created("v3", &o, puk, NULL);
    ready_every_operation(t, puk);
    assert_int_equal(tse_self_test(t), TSE_OK);
    *archive = export_to(t, "v3-before-delete.tar");
    assert_int_equal(tse_delete_stored_data(t), TSE_OK);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_disable_secure_element(t), TSE_OK);
    return t;
}

/* updateTime's eventData: two Times of the TSE's format, no slewSettings. */
static void expect_update_time(const uint8_t *msg, size_t len, tse_time_format f)
{
    char data[128];
    snprintf(data, sizeof data, "2 prim %s|2 prim %s", time_tag(f), time_tag(f));
    expect_system(msg, len, true, data, f, false);   /* times: no values */
}

/* The names `tar -t` lists, in the archive's order, each on a line. */
static char *tar_names(const char *archive)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "tar -tf '%s'", archive);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 1 << 16);
    size_t n = fread(out, 1, (1 << 16) - 1, p);
    out[n] = 0;
    assert_int_equal(pclose(p), 0);
    return out;
}

static void check_name(const char *names, const logmsg *m, const want_log *w)
{
    char date[40], want[300];
    if (m->time_format == LOGMSG_TIME_UNIX)
        snprintf(date, sizeof date, "Unixt_%lld", (long long)m->log_time);
    else
        snprintf(date, sizeof date, "%s_%.*s", m->time_format == LOGMSG_TIME_UTC ? "Utc" : "Gent",
                 (int)m->time_text.n, (const char *)m->time_text.p);
    if (is_audit(w)) {
        snprintf(want, sizeof want, "%s_Sig-%llu_Log-Aud.log\n", date, (unsigned long long)m->signature_counter);
    } else if (is_system(w)) {
        snprintf(want, sizeof want, "%s_Sig-%llu_Log-Sys_%s.log\n", date, (unsigned long long)m->signature_counter,
                 w->op);
    } else {
        /* TYPE stays Start / Update / Finish in version 3 */
        const char *type = w->op[0] == 's' ? "Start" : w->op[0] == 'u' ? "Update" : "Finish";
        snprintf(want, sizeof want, "%s_Sig-%llu_Log-Tra_No-%llu_%s_Client-%.*s.log\n", date,
                 (unsigned long long)m->signature_counter, (unsigned long long)m->transaction_number, type,
                 (int)m->client_id.n, (const char *)m->client_id.p);
    }
    if (!strstr(names, want))
        fail_msg("%s not in the archive:\n%s", want, names);
}

static void check_v3(tse_curve curve, tse_time_format fmt)
{
    char *archive = NULL;
    tse *t = every_log_kind(curve, fmt, &archive);
    char *names = tar_names(archive);
    th_tar_entry *entries = NULL;
    size_t n_entries = 0;
    assert_int_equal(th_tar_read(archive, &entries, &n_entries), 0);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.signature_counter, N_RUN);
    uint8_t *point = NULL;
    size_t point_len = 0;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    const uint64_t deleted = counter_of("deleteLogMessages", 1);   /* it and the logs before are gone */
    const uint64_t no_type = counter_of("startTransaction", 2);    /* started without a processType */
    for (uint64_t c = 1; c <= N_RUN; c++) {
        const want_log *w = &run[c - 1];
        uint8_t *msg = NULL;
        size_t len = 0;
        /* deleteLogMessages removed the exported logs: those come from the archive */
        bool stored = tse_read_log_by_counter(t, c, &msg, &len) == TSE_OK;
        if (!stored) {
            char key[40];
            assert_true(c < deleted);
            snprintf(key, sizeof key, "_Sig-%llu_", (unsigned long long)c);
            for (size_t i = 0; i < n_entries && !msg; i++)
                if (strstr(entries[i].name, key)) {
                    msg = entries[i].data;
                    len = entries[i].len;
                }
            assert_non_null(msg);
        }
        logmsg m;
        tse_error err = {0};
        if (!logmsg_parse(msg, len, &m, &err))
            fail_msg("counter %llu: %s", (unsigned long long)c, err.message);
        assert_int_equal(m.version, 3);
        assert_true(is_audit(w) ? m.operation.n == 0 : slice_is(m.operation, w->op));
        assert_int_equal(th_openssl_verify(curve, info.hash, point, point_len, m.signed_bytes.p, m.signed_bytes.n,
                                           m.signature.p, m.signature.n), 0);
        if (is_audit(w)) {
            expect_key_generated(msg, len, &m, fmt, point, point_len);
        } else if (is_system(w)) {
            assert_true(m.has_event_origin && slice_is(m.event_origin, w->origin));
            assert_int_equal(m.has_event_triggered_by_user, w->user != NULL);
            if (w->user)
                assert_true(slice_is(m.event_triggered_by_user, w->user));
            if (w->data)
                expect_system(msg, len, w->user != NULL, w->data, fmt, true);
            else
                expect_update_time(msg, len, fmt);
        } else {
            expect_transaction(msg, len, w->external, fmt);
            assert_true(m.has_process_type);   /* mandatory in version 3, empty when not given */
            if (c == no_type)
                assert_int_equal(m.process_type.n, 0);
        }
        if (c < deleted)
            check_name(names, &m, w);
        if (c == N_RUN) {
            /* openssl must refuse a changed byte */
            uint8_t *copy = malloc(m.signed_bytes.n);
            memcpy(copy, m.signed_bytes.p, m.signed_bytes.n);
            copy[m.signed_bytes.n - 1] ^= 1;
            assert_int_equal(th_openssl_verify(curve, info.hash, point, point_len, copy, m.signed_bytes.n,
                                               m.signature.p, m.signature.n), 1);
            free(copy);
        }
        if (stored)
            tse_free(msg);
    }
    th_tar_free(entries, n_entries);
    free(names);
    free(archive);
    tse_free(point);
    tse_close(t);
}

static void test_p256_unix(void **state) { (void)state; check_v3(TSE_CURVE_P256, TSE_TIME_UNIX); }
static void test_p384_gent(void **state) { (void)state; check_v3(TSE_CURVE_P384, TSE_TIME_GENERALIZED); }
static void test_p521_utc(void **state) { (void)state; check_v3(TSE_CURVE_P521, TSE_TIME_UTC); }
static void test_bp256(void **state) { (void)state; check_v3(TSE_CURVE_BRAINPOOL_P256R1, TSE_TIME_UNIX); }
static void test_bp384_utc(void **state) { (void)state; check_v3(TSE_CURVE_BRAINPOOL_P384R1, TSE_TIME_UTC); }
static void test_bp512(void **state) { (void)state; check_v3(TSE_CURVE_BRAINPOOL_P512R1, TSE_TIME_UNIX); }

/* ------------------------------------------------ version 2 stays version 2 */

static int count_version(tse *t, int version)
{
    tse_info info;
    int n = 0;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    for (uint64_t c = 1; c <= info.signature_counter; c++) {
        uint8_t *msg;
        size_t len;
        logmsg m;
        assert_int_equal(tse_read_log_by_counter(t, c, &msg, &len), TSE_OK);
        assert_true(logmsg_parse(msg, len, &m, NULL));
        n += m.version == version;
        tse_free(msg);
    }
    return n;
}

/* TR-03151-1 v1.1.1 3.2.3.5 step 5: the time admin's login logs the admin
 * out first, a logOut by the TSE itself (eventOrigin SMA, no
 * eventTriggeredByUser) with logOutCause differentUserLoggedIn (1), as
 * asn1parse reads it. Log format 2 keeps both sessions. */
static void test_login_logs_other_user_out(void **state)
{
    (void)state;
    tse *t = ready_tse("v3-other", NULL, NULL);
    assert_int_equal(tse_set_time_admin_pin(t, "654321"), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint64_t before = info.signature_counter;
    assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "654321", NULL, NULL), TSE_OK);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.signature_counter, before + 2);
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, before + 1, &msg, &len), TSE_OK);
    logmsg m;
    assert_true(logmsg_parse(msg, len, &m, NULL));
    assert_true(slice_is(m.operation, "logOut") && slice_is(m.event_origin, "SMA"));
    assert_false(m.has_event_triggered_by_user);
    expect_system(msg, len, false, "2 prim PRINTABLESTRING:admin|2 prim ENUMERATED:01", info.time_format, false);
    tse_free(msg);
    char op[64];
    ready_log_operation(t, before + 2, op, sizeof op);
    assert_string_equal(op, "authenticateUser");
    assert_int_equal(tse_register_client(t, "KASSE-09"), TSE_ERR_USER_NOT_AUTHORIZED);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_ERR_USER_ID_NOT_AUTHENTICATED);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    tse_close(t);

    tse_create_options v2 = {.log_format_version = 2};
    t = ready_tse("v2-other", &v2, NULL);
    assert_int_equal(tse_set_time_admin_pin(t, "654321"), TSE_OK);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    before = info.signature_counter;
    assert_int_equal(tse_authenticate_user(t, TSE_USER_TIME_ADMIN, "654321", NULL, NULL), TSE_OK);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.signature_counter, before + 1);   /* the login only */
    assert_int_equal(tse_register_client(t, "KASSE-09"), TSE_OK);   /* the admin still */
    assert_int_equal(tse_logout(t, TSE_USER_TIME_ADMIN), TSE_OK);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    tse_close(t);
}

static void test_v2_stays_v2(void **state)
{
    (void)state;
    char *path = NULL;
    tse_create_options o = {.log_format_version = 2, .trust_system_clock = 1};
    tse *t = ready_tse("v2", &o, &path);
    tse_result r;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &r), TSE_OK);
    tse_close(t);
    /* reopened (a selfTest log), then more logs: all of version 2 */
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, r.transaction_number, NULL, 0, NULL, NULL, 0, &r),
                     TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(count_version(t, 2), (int)info.signature_counter);
    assert_int_equal(count_version(t, 3), 0);
    char op[64];
    ready_log_operation(t, info.signature_counter, op, sizeof op);
    assert_string_equal(op, "FinishTransaction");
    /* the system logs of version 2 as before, byte for byte: operationType,
     * systemOperationData (context-tagged fields in an OCTET STRING) */
    static const struct {
        uint64_t counter;
        const char *op;
        const char *data;
        size_t len;
    } v2[] = {
        {2, "unblockUser", "\x81\x05" "admin" "\x82\x01\x00", 10},
        {3, "authenticateUser", "\x81\x05" "admin" "\x82\x01\x00\x83\x01\xff", 13},
        {4, "initialize", "\x81\x0c" "OpenTSE test", 14},
        {6, "registerClient", "\x81\x08" READY_CLIENT, 2 + sizeof READY_CLIENT - 1},
    };
    for (size_t i = 0; i < sizeof v2 / sizeof v2[0]; i++) {
        uint8_t *msg;
        size_t len;
        logmsg m;
        assert_int_equal(tse_read_log_by_counter(t, v2[i].counter, &msg, &len), TSE_OK);
        assert_true(logmsg_parse(msg, len, &m, NULL));
        assert_true(slice_is(m.operation, v2[i].op));
        assert_int_equal(m.system_operation_data.n, v2[i].len);
        assert_memory_equal(m.system_operation_data.p, v2[i].data, v2[i].len);
        assert_false(m.has_event_origin);
        tse_free(msg);
    }
    tse_close(t);
    free(path);

    /* a bad version is refused and creates nothing */
    tse_create_options bad = {.master_key_path = th_master_key(), .log_format_version = 4};
    char puk[TSE_PUK_LEN + 1], *p = th_path("v4.db");
    assert_int_equal(tse_create(p, &bad, puk), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tse_last_error_message(), "2 or 3"));
    assert_int_not_equal(access(p, F_OK), 0);
    free(p);
}

/* restoreLogsFromBackup has no log in version 3 (section 2.4: no other
 * logs): the restored logs come back, the counter stays. */
static void test_v3_restore_writes_no_log(void **state)
{
    (void)state;
    tse *t = ready_tse("v3-restore", NULL, NULL);
    char *archive = export_to(t, "v3-restore.tar");
    assert_int_equal(tse_delete_stored_data(t), TSE_OK);
    uint8_t *msg;
    size_t len;
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_ERR_NO_LOG_MESSAGE);
    tse_info before, after;
    assert_int_equal(tse_get_info(t, &before), TSE_OK);
    uint64_t added = 0;
    const char *paths[] = {archive};
    assert_int_equal(tse_restore_from_backup(t, paths, 1, &added), TSE_OK);
    assert_true(added > 0);
    assert_int_equal(tse_get_info(t, &after), TSE_OK);
    assert_int_equal(after.signature_counter, before.signature_counter);
    assert_int_equal(tse_read_log_by_counter(t, 1, &msg, &len), TSE_OK);
    tse_free(msg);
    char op[64];
    ready_log_operation(t, after.signature_counter, op, sizeof op);
    assert_string_equal(op, "deleteLogMessages");
    tse_close(t);
    free(archive);
}

/* A TSE of each version, their exports in one archive's worth: `opentse
 * verify` reads both archives together without a finding, and counts
 * each version. */
static void test_mixed_archives_verify(void **state)
{
    (void)state;
    /* different time formats: no two file names alike (Utc_ / Unixt_) */
    tse_create_options o2 = {.log_format_version = 2, .time_format = TSE_TIME_UTC}, o3 = {0};
    tse *t2 = ready_tse("mix2", &o2, NULL), *t3 = ready_tse("mix3", &o3, NULL);
    tse_result r;
    for (int i = 0; i < 2; i++) {
        tse *t = i ? t3 : t2;
        assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &r), TSE_OK);
        assert_int_equal(tse_finish_transaction(t, READY_CLIENT, r.transaction_number, (const uint8_t *)"x", 1,
                                                "Kassenbeleg-V1", NULL, 0, &r), TSE_OK);
    }
    char *a2 = export_to(t2, "mix2.tar"), *a3 = export_to(t3, "mix3.tar");
    tse_info i2, i3;
    assert_int_equal(tse_get_info(t2, &i2), TSE_OK);
    assert_int_equal(tse_get_info(t3, &i3), TSE_OK);
    /* one archive of both: the logs and certificates of each, one info.csv */
    char *dir = th_path("mixdir"), *both = th_path("mixed.tar"), cmd[4000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && tar -xf '%s' -C '%s' && tar -xf '%s' -C '%s' "
             "--exclude info.csv && cd '%s' && tar --format=ustar -cf '%s' *", dir, dir, a2, dir, a3, dir, dir, both);
    assert_int_equal(system(cmd), 0);
    verify_result res;
    assert_int_equal(verify_archive(both, NULL, &res), 0);
    if (res.errors || res.warnings)
        verify_report_text(&res, stderr, false);
    assert_int_equal(res.errors, 0);
    assert_int_equal(res.warnings, 0);
    assert_int_equal(res.counts.tses, 2);
    assert_int_equal(res.counts.format2_logs, i2.signature_counter);
    assert_int_equal(res.counts.format3_logs, i3.signature_counter);
    assert_int_equal(res.counts.signatures_valid, i2.signature_counter + i3.signature_counter);
    assert_int_equal(res.counts.finishes, 2);
    verify_result_free(&res);

    free(dir);
    free(both);
    tse_close(t2);
    tse_close(t3);
    free(a2);
    free(a3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256_unix), cmocka_unit_test(test_p384_gent), cmocka_unit_test(test_p521_utc),
        cmocka_unit_test(test_bp256),     cmocka_unit_test(test_bp384_utc), cmocka_unit_test(test_bp512),
        cmocka_unit_test(test_login_logs_other_user_out), cmocka_unit_test(test_v2_stays_v2), cmocka_unit_test(test_v3_restore_writes_no_log),
        cmocka_unit_test(test_mixed_archives_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
