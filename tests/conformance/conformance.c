/*
 * conformance.c - the runner and shared support of the conformance suite
 * (see conformance.h): `conformance TRANSPORT GROUP` runs one group of test
 * cases of TR-03153-1-TS v1.1.1 on the transport "file" or "http".
 */
#include "conformance.h"

#include <openssl/pem.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../client/transport.h"
#include "csp/csp.h"
#include "export/export_check.h"
#include "helpers.h"

cf_tse cf;
static char pub_pem[600];

void cf_expect(short int got, short int want, const char *what, const char *file, int line)
{
    if (got == want)
        return;
    unsigned char data[512] = "";
    unsigned long int n = 0;
    getLastFunctionCallStatus(sizeof data, data, &n);
    fail_msg("%s:%d: %s gave %d, expected %d (%s)", file, line, what, got, want, n ? (char *)data : "");
}

static void write_pub_pem(void)
{
    static int seq;
    EVP_PKEY *pk = csp_pubkey_from_point(cf.info.curve, cf.point, cf.point_len);
    assert_non_null(pk);
    snprintf(pub_pem, sizeof pub_pem, "%s/pub-%d.pem", th_tmpdir(), seq++);
    FILE *f = fopen(pub_pem, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, pk), 1);
    assert_int_equal(fclose(f), 0);
    EVP_PKEY_free(pk);
}

void cf_fresh_file(cf_stage stage, const tse_create_options *opts)
{
    cf_fresh_at(NULL, stage, opts);
}

void cf_fresh_at(const char *dir, cf_stage stage, const tse_create_options *opts)
{
    static int seq;
    static const tse_create_options defaults = {.trust_system_clock = 1};
    seApiClose();
    free(cf.url);
    free(cf.point);
    memset(&cf, 0, sizeof cf);
    if (dir && !opts)
        opts = &defaults;
    if (opts) {
        assert_false(tt_http());
        if (dir)
            assert_true(asprintf(&cf.url, "file:%s/cf-at-%d.db", dir, seq++) > 0);
        else
            cf.url = tt_new_url("cf");
        tse_create_options co = *opts;
        co.master_key_path = th_master_key();
        co.trust_system_clock = opts->trust_system_clock < 0 ? 0 : 1;   /* -1: a clock set by updateTime only */
        assert_int_equal(tse_create(cf.url + 5, &co, cf.puk), TSE_OK);
    } else {
        cf.url = tt_create("cf", cf.puk);
    }
    tse *t = tt_open(cf.url);
    assert_int_equal(tse_get_info(t, &cf.info), TSE_OK);
    assert_int_equal(tse_public_key(t, &cf.point, &cf.point_len), TSE_OK);
    tse_close(t);
    if (!cf.info.signature_algorithm_oid[0]) {   /* a remote TSE names the algorithm only */
        const char *oid = logmsg_sigalg_oid(cf.info.signature_algorithm);
        assert_non_null(oid);
        snprintf(cf.info.signature_algorithm_oid, sizeof cf.info.signature_algorithm_oid, "%s", oid);
    }
    write_pub_pem();
    OK(seApiOpen(cf.url, tt_http() ? NULL : th_master_key(), NULL, NULL));
    if (stage >= CF_ADMIN) {
        OK(unblockPin(S("admin"), S(cf.puk), S(CF_PIN)));
        OK(authenticateUser(S("admin"), S(CF_PIN)));
    }
    if (stage >= CF_INITIALIZED)
        OK(initialize());
    if (stage >= CF_READY)
        OK(registerClient(S(CF_CLIENT)));
}

void cf_fresh(cf_stage stage)
{
    cf_fresh_file(stage, NULL);
}

void cf_time_admin(void)
{
    /* the time admin's first PIN is set like the admin's: with the PUK */
    OK(unblockPin(S("timeadmin"), S(cf.puk), S(CF_TIME_PIN)));
    OK(authenticateUser(S("timeadmin"), S(CF_TIME_PIN)));
}

void cf_logger(void)
{
    OK(unblockPin(S("logger"), S(cf.puk), S(CF_LOGGER_PIN)));
    OK(authenticateUser(S("logger"), S(CF_LOGGER_PIN)));
}

/* The expected file name of `m`; `got` may carry an "_Fc-N" before ".log". */
static void check_name(const logmsg *m, const char *got)
{
    char want[300];
    assert_true(logmsg_filename(m, 0, want, sizeof want));
    size_t stem = strlen(want) - 4;
    if (strcmp(got, want) == 0)
        return;
    assert_memory_equal(got, want, stem);
    assert_memory_equal(got + stem, "_Fc-", 4);
    assert_string_equal(got + strlen(got) - 4, ".log");
}

static void check_signature(const logmsg *m)
{
    assert_memory_equal(m->serial_number.p, cf.info.serial_number, TSE_SERIAL_LEN);
    assert_string_equal(m->signature_algorithm_oid, cf.info.signature_algorithm_oid);
    assert_int_equal(th_openssl_verify(cf.info.curve, cf.info.hash, cf.point, cf.point_len, m->signed_bytes.p,
                                       m->signed_bytes.n, m->signature.p, m->signature.n),
                     0);
}

void cf_last_log(cf_log *l)
{
    unsigned long int name_len = 0;
    OK(getLastLogMessage(sizeof l->name, (unsigned char *)l->name, &name_len, sizeof l->der, l->der, &l->len));
    assert_int_equal(name_len, strlen(l->name) + 1);
    tse_error err = {0};
    if (!logmsg_parse(l->der, l->len, &l->m, &err))
        fail_msg("the last log does not parse: %s", err.message);
    assert_int_equal(l->m.version, 3);
    check_name(&l->m, l->name);
    check_signature(&l->m);
}

static bool bytes_are(logmsg_bytes b, const char *s)
{
    return s && b.n == strlen(s) && memcmp(b.p, s, b.n) == 0;
}

void cf_expect_system_log(const char *event, const char *user)
{
    cf_log l;
    cf_last_log(&l);
    assert_int_equal(l.m.kind, LOGMSG_SYSTEM);
    if (!bytes_are(l.m.operation, event))
        fail_msg("last log is %.*s, expected %s", (int)l.m.operation.n, l.m.operation.p, event);
    if (user) {
        assert_true(l.m.has_event_triggered_by_user);
        if (!bytes_are(l.m.event_triggered_by_user, user))
            fail_msg("%s was triggered by %.*s, expected %s", event, (int)l.m.event_triggered_by_user.n,
                     l.m.event_triggered_by_user.p, user);
    }
    assert_true(l.m.has_event_origin);
    assert_int_equal(l.m.signature_counter, cf_signature_counter());
}

unsigned long int cf_signature_counter(void)
{
    /* SEQUENCE OF SEQUENCE { serialNumber OCTET STRING (32), signatureCounter INTEGER } */
    unsigned char d[256];
    unsigned long int n = 0;
    OK(getCurrentLoggingSignatureCounters(sizeof d, d, &n));
    size_t h, len;
    assert_true(cf_der(d, n, &h, &len) && d[0] == 0x30 && h + len == n);
    assert_true(cf_der(d + h, n - h, &h, &len) && d[2] == 0x30);
    const unsigned char *r = d + 2 + h;
    assert_true(r[0] == 0x04 && r[1] == 32 && memcmp(r + 2, cf.info.serial_number, 32) == 0);
    assert_int_equal(r[34], 0x02);
    unsigned long int v = 0;
    for (unsigned i = 0; i < r[35]; i++)
        v = v << 8 | r[36 + i];
    return v;
}

unsigned long int cf_start(const char *client, const char *type, const char *pd, cf_signed *s, short int want)
{
    unsigned long int number = 0;
    cf_signed local;
    if (!s)
        s = &local;
    memset(s, 0, sizeof *s);
    EXPECT(startTransaction(S(client), (const unsigned char *)pd, strlen(pd), S(type), &number, &s->time,
                            sizeof s->serial, s->serial, &s->serial_len, &s->counter, sizeof s->sig, s->sig,
                            &s->sig_len),
           want);
    return want == EXECUTION_OK ? number : 0;
}

short int cf_update(const char *client, unsigned long int n, const char *type, const char *pd, bool force,
                    UpdateProtectionVariants *v, cf_signed *s)
{
    cf_signed second, local;
    if (!s)
        s = &local;
    memset(s, 0, sizeof *s);
    return updateTransactionForceSignature(S(client), n, (const unsigned char *)pd, strlen(pd), S(type), force, v,
                                           &s->time, sizeof s->sig, s->sig, &s->sig_len, &s->counter, &second.time,
                                           sizeof second.sig, second.sig, &second.sig_len, &second.counter);
}

short int cf_finish(const char *client, unsigned long int n, const char *type, const char *pd,
                    FinishProtectionVariants *v, cf_signed *first, cf_signed *second)
{
    cf_signed a, b;
    FinishProtectionVariants lv;
    if (!first)
        first = &a;
    if (!second)
        second = &b;
    if (!v)
        v = &lv;
    memset(first, 0, sizeof *first);
    memset(second, 0xff, sizeof *second);
    return finishTransaction(S(client), n, (const unsigned char *)pd, strlen(pd), S(type), v, &first->time,
                             sizeof first->sig, first->sig, &first->sig_len, &first->counter, &second->time,
                             sizeof second->sig, second->sig, &second->sig_len, &second->counter);
}

unsigned long int cf_sale(const char *client, const char *pd)
{
    unsigned long int n = cf_start(client, CF_TYPE, "", NULL, EXECUTION_OK);
    OK(cf_finish(client, n, CF_TYPE, pd, NULL, NULL, NULL));
    return n;
}

size_t cf_process_data(const logmsg *m, uint8_t *buf, size_t cap)
{
    assert_true(m->has_process_data);
    assert_int_equal(m->process_data.tag, 0x82);   /* [2] IMPLICIT OCTET STRING */
    size_t n = 0;
    assert_true(der_get_octets(&m->process_data, buf, cap, &n));
    return n;
}

bool cf_der(const uint8_t *p, size_t n, size_t *hdr, size_t *len)
{
    if (n < 2 || (p[0] & 0x1f) == 0x1f)
        return false;
    if (p[1] < 0x80) {
        *hdr = 2;
        *len = p[1];
    } else {
        unsigned k = p[1] & 0x7f;
        if (k == 0 || k > 4 || n < 2 + k || p[2] == 0)
            return false;   /* indefinite length or not minimal */
        size_t v = 0;
        for (unsigned i = 0; i < k; i++)
            v = v << 8 | p[2 + i];
        if (v < 0x80)
            return false;
        *hdr = 2 + k;
        *len = v;
    }
    return *hdr + *len <= n;
}

short int cf_export(int kind, const cf_filter *f, cf_archive *a)
{
    static int seq;
    memset(a, 0, sizeof *a);
    snprintf(a->file, sizeof a->file, "%s/export-%d.tar", th_tmpdir(), seq++);
    FILE *out = fopen(a->file, "wb");
    assert_non_null(out);
    enum { CHUNK = 16384 };
    unsigned char *buf = malloc(CHUNK);
    assert_non_null(buf);
    unsigned long long int off = 0, got = 0;
    unsigned long int name_len = 0;
    short int first = EXECUTION_OK;
    do {
        short int rc;
        if (kind == 0)
            rc = exportLogMessages(off, CHUNK, buf, &got, sizeof a->name, (unsigned char *)a->name, &name_len);
        else if (kind == 1)
            rc = exportLoggingCertificates(off, CHUNK, buf, &got, sizeof a->name, (unsigned char *)a->name,
                                           &name_len);
        else
            rc = exportFilteredTransactionLogs(f->client ? (const unsigned char *)f->client : NULL,
                                               f->client ? strlen(f->client) + 1 : 0, f->number, f->first, f->last,
                                               f->start, f->end, f->max, off, CHUNK, buf, &got, sizeof a->name,
                                               (unsigned char *)a->name, &name_len);
        if (rc != EXECUTION_OK) {
            if (off == 0)
                first = rc;
            else
                cf_expect(rc, EXECUTION_OK, "export chunk", __FILE__, __LINE__);
            break;
        }
        assert_int_equal(fwrite(buf, 1, got, out), got);
        off += got;
    } while (got == CHUNK);
    free(buf);
    assert_int_equal(fclose(out), 0);
    if (first != EXECUTION_OK)
        return first;
    assert_int_equal(name_len, strlen(a->name) + 1);
    th_tar_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(th_tar_read(a->file, &e, &n), 0);
    a->e = calloc(n ? n : 1, sizeof *a->e);
    a->n = n;
    const uint8_t **logs = calloc(n ? n : 1, sizeof *logs);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        struct cf_entry *x = &a->e[i];
        snprintf(x->path, sizeof x->path, "%s", e[i].name);
        x->data = e[i].data;
        x->len = e[i].len;
        e[i].data = NULL;
        size_t pl = strlen(x->path);
        if (pl > 4 && strcmp(x->path + pl - 4, ".log") == 0) {
            tse_error err = {0};
            if (!logmsg_parse(x->data, x->len, &x->m, &err))
                fail_msg("%s does not parse: %s", x->path, err.message);
            check_name(&x->m, x->path);
            assert_memory_equal(x->m.serial_number.p, cf.info.serial_number, TSE_SERIAL_LEN);
            x->is_log = true;
            logs[a->logs] = x->data;
            lens[a->logs++] = x->len;
        }
    }
    th_tar_free(e, n);
    assert_int_equal(ex_openssl_verify_logs(pub_pem, cf.info.hash, logs, lens, a->logs), a->logs);
    free(logs);
    free(lens);
    return EXECUTION_OK;
}

void cf_archive_free(cf_archive *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->e[i].data);
    free(a->e);
    memset(a, 0, sizeof *a);
}

/* The description the TSE holds, read past the SE API while the admin,
 * whose getDescription is (TR-03153-1 table 9), is not logged in: from a
 * second handle to the TSS, or from the TSE file's store. */
static void description_held(char *out, size_t cap)
{
    if (tt_http()) {
        tse *t = tt_open(cf.url);
        char who[TSE_USER_ID_BUF], d[TSE_MAX_DESCRIPTION_LEN + 1];
        assert_int_equal(tse_logged_in_user(t, who), TSE_OK);
        assert_string_not_equal(who, TSE_USER_ADMIN);   /* the refusal was right */
        assert_int_equal(tse_get_description(t, d), TSE_OK);
        tse_close(t);
        assert_true((size_t)snprintf(out, cap, "%s", d) < cap);
        return;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(cf.url + 5, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'description'", -1, &st, NULL),
                     SQLITE_OK);
    out[0] = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);
        assert_true(n >= 0 && (size_t)n < cap);
        if (n)
            memcpy(out, sqlite3_column_blob(st, 0), (size_t)n);
        out[n] = 0;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

void cf_description(char *out, size_t cap)
{
    unsigned long int n = 0;
    short int rc = getDescription(cap, (unsigned char *)out, &n);
    if (rc == ERROR_USER_NOT_AUTHENTICATED || rc == ERROR_USER_NOT_AUTHORIZED) {
        description_held(out, cap);
        return;
    }
    OK(rc);
    assert_int_equal(n, strlen(out) + 1);
}

void cf_audit_archive(const cf_archive *a)
{
    tse_info info = cf.info;
    char d[TSE_MAX_DESCRIPTION_LEN + 1];
    cf_description(d, sizeof d);
    /* the suite's opentsed runs --demo: its API key is a TEST key, whose
     * TSSs' archives mark info.csv's description (server/export.c) */
    int w = snprintf(info.description, sizeof info.description, "%s%.64s",
                     tt_http() ? "TEST (not for production use): " : "", d);
    assert_true(w > 0 && (size_t)w < sizeof info.description);
    ex_archive *x = calloc(1, sizeof *x);
    assert_non_null(x);
    ex_check_archive_of(&info, a->file, x);
    assert_int_equal(x->n_logs, a->logs);
    free(x);
}

size_t cf_count(const cf_archive *a, logmsg_kind k, const char *op)
{
    size_t c = 0;
    for (size_t i = 0; i < a->n; i++)
        c += a->e[i].is_log && (!k || a->e[i].m.kind == k) && (!op || bytes_are(a->e[i].m.operation, op));
    return c;
}

const struct cf_entry *cf_entry(const cf_archive *a, const char *path)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->e[i].path, path) == 0)
            return &a->e[i];
    return NULL;
}

char *cf_update_key;

const struct CMUnitTest cf_file_only[] = {
    cmocka_unit_test(T_II_LGO_02), cmocka_unit_test(T_II_STA_03), cmocka_unit_test(T_II_GOT_03),
    cmocka_unit_test(T_II_CNT_04), cmocka_unit_test(T_II_REC_03), cmocka_unit_test(T_II_GRC_02),
    cmocka_unit_test(T_II_CNC_04), cmocka_unit_test(T_II_MCU_03), cmocka_unit_test(T_II_GDE_02),
    cmocka_unit_test(T_EXP_INF_03), cmocka_unit_test(T_EXP_INF_06), cmocka_unit_test(T_II_ERR_02),
    cmocka_unit_test(T_SM_LOG_04), cmocka_unit_test(T_SM_LOG_05), cmocka_unit_test(T_SM_LOG_06),
};
const size_t cf_file_only_n = sizeof cf_file_only / sizeof cf_file_only[0];

static int teardown(void **state)
{
    (void)state;
    seApiClose();
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        const struct CMUnitTest *tests;
        const size_t *n;
    } groups[] = {
        {"users", cf_users, &cf_users_n},
        {"device", cf_device, &cf_device_n},
        {"time", cf_time, &cf_time_n},
        {"logging", cf_logging, &cf_logging_n},
        {"clients", cf_clients, &cf_clients_n},
        {"transactions", cf_transactions, &cf_transactions_n},
        {"filtered", cf_filtered, &cf_filtered_n},
        {"export_format", cf_export_format, &cf_export_format_n},
        {"interface", cf_interface, &cf_interface_n},
        {"phases", cf_phases, &cf_phases_n},
        {"faults", cf_faults, &cf_faults_n},
        {"file_only", cf_file_only, &cf_file_only_n},
    };
    if (argc != 3) {
        fprintf(stderr, "usage: conformance file|http GROUP\n");
        return 2;
    }
    /* the deployment's update key, before opentsed starts: it reads it once */
    cf_update_key = th_path("update.key");
    char *pub = th_path("update.pub"), cmd[2000];
    snprintf(cmd, sizeof cmd, "openssl ecparam -name prime256v1 -genkey -noout -out '%s' && "
             "openssl pkey -in '%s' -pubout -out '%s'", cf_update_key, cf_update_key, pub);
    if (system(cmd) != 0) {
        fprintf(stderr, "conformance: openssl could not make the update key\n");
        return 2;
    }
    setenv("OPENTSE_UPDATE_KEY", pub, 1);
    free(pub);
    tt_init(argv[1]);
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (strcmp(argv[2], groups[i].name) == 0) {
            char title[64];
            snprintf(title, sizeof title, "conformance %s over %s", groups[i].name, argv[1]);
            return _cmocka_run_group_tests(title, groups[i].tests, *groups[i].n, NULL, teardown);
        }
    fprintf(stderr, "conformance: no test group \"%s\"\n", argv[2]);
    return 2;
}
