/*
 * test_update_device.c - updateDevice (tse_update_device) over both
 * transports: `file` and `http` (the real opentsed, which reads the same
 * OPENTSE_UPDATE_KEY). The update keys and the packages' signatures are
 * made with the openssl command line. A good package's versions show in
 * tse_get_device_info, getComponentVersions and info.csv, also after the
 * TSE is opened again; forged, other-key and malformed packages, and a
 * deployment without update key, are refused with UPDATE_DEVICE_FAILED,
 * each attempt leaving its updateDevice and updateDeviceCompleted logs
 * (signatures checked by openssl, eventData read by `openssl asn1parse`)
 * and nothing else changed. RSA and Ed25519 update keys work as EC ones.
 * Packages with sequence numbers apply once each, in rising order, and only
 * to the TSE they name.
 * Refusals before the attempt (no login, open
 * transaction, empty package) write nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/logmsg.h"
#include "helpers.h"
#include "transport.h"

static char *g_key, *g_pub, *g_other;

/* Runs a shell command; asserts it succeeds. */
static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

/* An update package of `manifest` signed with `key` (helpers.c). */
static uint8_t *package(const char *manifest, const char *key, size_t *len)
{
    uint8_t *p = th_update_package(manifest, key, len);
    assert_non_null(p);
    return p;
}

static uint64_t counter(tse *t)
{
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    return info.signature_counter;
}

/* Log `c`: a version-3 system log `event` by the admin, its signature
 * verified by openssl; returns `openssl asn1parse` of its eventData
 * (wrapped in a SEQUENCE), malloc'd. */
static char *system_log(tse *t, uint64_t c, const char *event)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, c, &msg, &len), TSE_OK);
    logmsg m;
    assert_true(logmsg_parse(msg, len, &m, NULL));
    assert_int_equal(m.version, 3);
    assert_int_equal(m.kind, LOGMSG_SYSTEM);
    assert_int_equal(m.operation.n, strlen(event));
    assert_memory_equal(m.operation.p, event, m.operation.n);
    assert_true(m.has_event_triggered_by_user && m.event_triggered_by_user.n == 5);
    assert_memory_equal(m.event_triggered_by_user.p, "admin", 5);
    tt_check_signature(t, &m);
    uint8_t *seq = malloc(m.event_data.n + 8);
    der_w w = der_w_init(seq, m.event_data.n + 8);
    der_put_tlv(&w, DER_SEQUENCE, m.event_data.p, m.event_data.n);
    assert_true(der_w_ok(&w));
    char *parsed = tt_asn1parse(seq, w.len);
    free(seq);
    tse_free(msg);
    return parsed;
}

/* info.csv of a complete export (malloc'd, NUL-terminated). */
static char *info_csv(tse *t)
{
    char *path = th_path("export.tar");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(tse_export_data(t, NULL, th_to_file, f, NULL), TSE_OK);
    assert_int_equal(fclose(f), 0);
    th_tar_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(th_tar_read(path, &e, &n), 0);
    char *info = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, "info.csv") == 0) {
            info = calloc(1, e[i].len + 1);
            memcpy(info, e[i].data, e[i].len);
        }
    th_tar_free(e, n);
    free(path);
    assert_non_null(info);
    return info;
}

/* The components in getComponentVersions, tse_get_device_info and info.csv
 * agree: each name and version is in all three. */
static void check_agree(tse *t, const char *name, const char *version)
{
    tse_device_info d;
    assert_int_equal(tse_get_device_info(t, &d), TSE_OK);
    size_t i = 0;
    while (i < d.n_components && strcmp(d.components[i].name, name) != 0)
        i++;
    assert_true(i < d.n_components);
    assert_string_equal(d.components[i].version, version);
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(tse_get_component_versions(t, &der, &len), TSE_OK);
    char *parsed = tt_asn1parse(der, len), want[300];
    snprintf(want, sizeof want, "PRINTABLESTRING   :%s\n", version);
    assert_non_null(strstr(parsed, want));
    char *info = info_csv(t);
    for (size_t k = 0; k < d.n_components; k++) {   /* every component with its values, quoted as RFC 4180 */
        char line[2600], q[4][600];
        const char *v[4] = {d.components[k].name, d.components[k].manufacturer, d.components[k].model,
                            d.components[k].version};
        for (int f = 0; f < 4; f++) {
            size_t o = 0;
            for (const char *p = v[f]; *p && o + 2 < sizeof q[f]; p++) {
                if (*p == '"')
                    q[f][o++] = '"';
                q[f][o++] = *p;
            }
            q[f][o] = 0;
        }
        snprintf(line, sizeof line, "\"component:\",\"%s\",\"manufacturer:\",\"%s\",\"model:\",\"%s\",\"version:\",\"%s\"",
                 q[0], q[1], q[2], q[3]);
        assert_non_null(strstr(info, line));
    }
    assert_non_null(strstr(info, "\"component:\""));
    free(info);
    free(parsed);
    tse_free(der);
}

#define GOOD "OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,9.9.9,BSI-K-TR-0000-2026\n"

static void test_applied(void **state)
{
    (void)state;
    char *url = NULL;
    tse *t = tt_ready("upd", &url);
    size_t len = 0;
    uint8_t *pkg = package(GOOD, g_key, &len);
    uint64_t c = counter(t);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_OK);
    assert_int_equal(counter(t), c + 2);
    char *before = system_log(t, c + 1, "updateDevice");
    assert_non_null(strstr(before, ":SMAERS"));
    assert_non_null(strstr(before, ":libopentse"));
    assert_null(strstr(before, ":9.9.9"));   /* the components before the update */
    char *after = system_log(t, c + 2, "updateDeviceCompleted");
    assert_non_null(strstr(after, "ENUMERATED        :00"));   /* success */
    assert_non_null(strstr(after, ":9.9.9"));
    assert_non_null(strstr(after, ":BSI-K-TR-0000-2026"));
    assert_non_null(strstr(after, ":CSP"));   /* the components the package does not name stay */
    free(before);
    free(after);
    check_agree(t, "SMAERS", "9.9.9");
    /* the versions are the TSE's: a new handle reads them from the store */
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    tse_close(t);
    t = tt_open(url);
    check_agree(t, "SMAERS", "9.9.9");
    /* a second package adds a component and keeps the first one's version */
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    free(pkg);
    pkg = package("OpenTSE update package 1\n# the register's add-on\n\"Add,on\",\"Vendor \"\"X\"\"\",m,1.2,\n", g_key,
                  &len);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_OK);
    check_agree(t, "Add,on", "1.2");
    check_agree(t, "SMAERS", "9.9.9");
    free(pkg);
    tse_close(t);
    free(url);
}

/* A refused package: UPDATE_DEVICE_FAILED naming `why`, both logs written
 * (failed, with the reason), the components unchanged. */
static void refused(tse *t, const uint8_t *pkg, size_t len, const char *why)
{
    uint64_t c = counter(t);
    tse_device_info d0, d1;
    assert_int_equal(tse_get_device_info(t, &d0), TSE_OK);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_ERR_UPDATE_DEVICE_FAILED);
    assert_non_null(strstr(tse_last_error_message(), why));
    assert_int_equal(counter(t), c + 2);
    char *before = system_log(t, c + 1, "updateDevice");
    char *after = system_log(t, c + 2, "updateDeviceCompleted");
    assert_non_null(strstr(after, "ENUMERATED        :01"));   /* failed */
    char reason[200], printable[41];
    logmsg_printable_copy(printable, sizeof printable, why);   /* as the log carries it */
    snprintf(reason, sizeof reason, "PRINTABLESTRING   :%s", printable);
    if (!strstr(after, reason)) fail_msg("%s not in %s", reason, after);
    assert_null(strstr(after, ":6.6.6"));
    assert_int_equal(tse_get_device_info(t, &d1), TSE_OK);
    assert_int_equal(d1.n_components, d0.n_components);
    assert_memory_equal(d1.components, d0.components, d0.n_components * sizeof d0.components[0]);
    free(before);
    free(after);
}

static void test_refused(void **state)
{
    (void)state;
    tse *t = tt_ready("upd-bad", NULL);
    size_t len = 0;
    /* forged: the manifest changed after it was signed */
    uint8_t *pkg = package("OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,9.9.8,\n", g_key, &len);
    char *v = memmem(pkg, len, "9.9.8", 5);
    assert_non_null(v);
    memcpy(v, "6.6.6", 5);
    refused(t, pkg, len, "the signature of the update package was not made with the update key");
    free(pkg);
    /* signed with another key */
    pkg = package("OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,6.6.6,\n", g_other, &len);
    refused(t, pkg, len, "the signature of the update package was not made with the update key");
    free(pkg);
    /* malformed, yet signed with the update key */
    pkg = package("OpenTSE update 2\nSMAERS,OpenTSE,libopentse,6.6.6,\n", g_key, &len);
    refused(t, pkg, len, "the update package is malformed: its first line");
    free(pkg);
    pkg = package("OpenTSE update package 1\nSMAERS,OpenTSE,6.6.6\n", g_key, &len);
    refused(t, pkg, len, "the update package is malformed: device information of the update package line 2");
    free(pkg);
    pkg = package("OpenTSE update package 1\n\n", g_key, &len);
    refused(t, pkg, len, "the update package is malformed: it names no component");
    free(pkg);
    const char *unsigned_pkg = "OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,6.6.6,\n";
    refused(t, (const uint8_t *)unsigned_pkg, strlen(unsigned_pkg), "the update package is malformed: no \"-----BEGIN");
    const char *broken = "OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,6.6.6,\n"
                         "-----BEGIN OPENTSE UPDATE SIGNATURE-----\n!!!!\n-----END OPENTSE UPDATE SIGNATURE-----\n";
    refused(t, (const uint8_t *)broken, strlen(broken), "the update package is malformed: its signature block");
    /* a good package with something after its signature block */
    pkg = package("OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,6.6.6,\n", g_key, &len);
    uint8_t *longer = malloc(len + 300);
    memcpy(longer, pkg, len);
    memset(longer + len, '\n', 299);
    longer[len + 299] = 'x';
    refused(t, longer, len + 300, "the update package is malformed: its signature block");
    free(longer);
    free(pkg);

    /* refused before the attempt: nothing written */
    pkg = package(GOOD, g_key, &len);
    uint64_t c = counter(t);
    assert_int_equal(tse_update_device(t, pkg, 0), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(tse_update_device(t, NULL, len), TSE_ERR_INVALID_ARGUMENT);
    tse_result r;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, (const uint8_t *)"a", 1, "Kassenbeleg-V1", NULL, 0, &r),
                     TSE_OK);
    c = counter(t);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_ERR_OPEN_TRANSACTION_FOUND);
    assert_int_equal(counter(t), c);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, r.transaction_number, (const uint8_t *)"z", 1,
                                            "Kassenbeleg-V1", NULL, 0, &r),
                     TSE_OK);
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    c = counter(t);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_ERR_USER_NOT_AUTHENTICATED);
    assert_int_equal(counter(t), c);
    check_agree(t, "SMAERS", tse_version());   /* none of the refused packages was applied */
    free(pkg);
    tse_close(t);
}

/* A package of format 2: sequence `seq`, for the TSE `serial` (hex; NULL:
 * any), setting the SMAERS version to `version`; signed with the update key. */
static uint8_t *sequenced(unsigned long long seq, const char *serial, const char *version, size_t *len)
{
    char m[400];
    snprintf(m, sizeof m, "OpenTSE update package 2\nsequence: %llu\n%s%s%sSMAERS,OpenTSE,libopentse,%s,\n", seq,
             serial ? "tse: " : "", serial ? serial : "", serial ? "\n" : "", version);
    return package(m, g_key, len);
}

/* Packages with sequence numbers: each applies once and only above the
 * last one the TSE applied, a package for another TSE and one without a
 * number (once a numbered one was applied) are refused, logged; the number
 * is the TSE's, in its store, so a new handle refuses the replay too. */
static void test_sequence(void **state)
{
    (void)state;
    char *url = NULL;
    tse *t = tt_ready("upd-seq", &url);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    char mine[65], other[65];
    for (int i = 0; i < 32; i++) {
        snprintf(mine + 2 * i, 3, "%02x", info.serial_number[i]);
        snprintf(other + 2 * i, 3, "%02x", info.serial_number[i] ^ 0x5a);
    }
    size_t len = 0;
    /* before any numbered package, one without a number still applies */
    uint8_t *pkg = package("OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,9.0.1,\n", g_key, &len);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_OK);
    uint8_t *old = pkg;
    size_t old_len = len;
    pkg = sequenced(5, NULL, "9.0.5", &len);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_OK);
    check_agree(t, "SMAERS", "9.0.5");
    refused(t, pkg, len, "the update package's sequence 5 is not above 5, the last this TSE applied");
    free(pkg);
    pkg = sequenced(3, NULL, "6.6.6", &len);
    refused(t, pkg, len, "the update package's sequence 3 is not above 5");
    free(pkg);
    refused(t, old, old_len, "the update package has no sequence number, and this TSE applied the one of sequence 5");
    free(old);
    pkg = sequenced(6, other, "6.6.6", &len);
    refused(t, pkg, len, "the update package is for the TSE ");
    free(pkg);
    /* malformed header lines */
    pkg = package("OpenTSE update package 2\nsequence: 0\nSMAERS,OpenTSE,libopentse,6.6.6,\n", g_key, &len);
    refused(t, pkg, len, "the update package is malformed: line 2 is not \"sequence: N\"");
    free(pkg);
    pkg = package("OpenTSE update package 2\nsequence: 99999999999999999999\nSMAERS,OpenTSE,libopentse,6.6.6,\n",
                  g_key, &len);
    refused(t, pkg, len, "the update package is malformed: line 2 is not \"sequence: N\"");
    free(pkg);
    pkg = package("OpenTSE update package 2\nSMAERS,OpenTSE,libopentse,6.6.6,\n", g_key, &len);
    refused(t, pkg, len, "the update package is malformed: line 2 is not \"sequence: N\"");
    free(pkg);
    pkg = package("OpenTSE update package 2\nsequence: 7\ntse: 12zz\nSMAERS,OpenTSE,libopentse,6.6.6,\n", g_key, &len);
    refused(t, pkg, len, "the update package is malformed: line 3 is not \"tse: \" and 64 hex digits");
    free(pkg);
    pkg = package("OpenTSE update package 2\nsequence: 7\nSMAERS,OpenTSE,6.6.6\n", g_key, &len);
    refused(t, pkg, len, "the update package is malformed: device information of the update package line 3");
    free(pkg);
    /* for this TSE, the next number */
    pkg = sequenced(6, mine, "9.0.6", &len);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_OK);
    check_agree(t, "SMAERS", "9.0.6");
    assert_int_equal(tse_logout(t, TSE_USER_ADMIN), TSE_OK);
    tse_close(t);
    t = tt_open(url);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, TT_PIN, NULL, NULL), TSE_OK);
    refused(t, pkg, len, "the update package's sequence 6 is not above 6");
    check_agree(t, "SMAERS", "9.0.6");
    free(pkg);
    tse_close(t);
    free(url);
}

/* RSA and Ed25519 update keys, signed by `openssl dgst -sha256` and
 * `openssl pkeyutl -rawin`. The key is read at each call: an embedded TSE
 * (file:) takes a new OPENTSE_UPDATE_KEY at once; opentsed's is fixed at
 * its start, so this runs in-process only. */
static void test_key_types(void **state)
{
    (void)state;
    if (tt_http())
        skip();
    tse *t = tt_ready("upd-keys", NULL);
    char *rsa = th_path("rsa.key"), *rsa_pub = th_path("rsa.pub"), *ed = th_path("ed.key"), *ed_pub = th_path("ed.pub");
    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s' 2>/dev/null && "
       "openssl pkey -in '%s' -pubout -out '%s' && openssl genpkey -algorithm ED25519 -out '%s' && "
       "openssl pkey -in '%s' -pubout -out '%s'",
       rsa, rsa, rsa_pub, ed, ed, ed_pub);
    setenv("OPENTSE_UPDATE_KEY", rsa_pub, 1);
    size_t len = 0;
    uint8_t *pkg = package("OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,8.0.0-rsa,\n", rsa, &len);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_OK);
    check_agree(t, "SMAERS", "8.0.0-rsa");
    free(pkg);
    /* the EC update key's package is no good under the RSA key */
    pkg = package("OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,6.6.6,\n", g_key, &len);
    refused(t, pkg, len, "the signature of the update package was not made with the update key");
    free(pkg);

    setenv("OPENTSE_UPDATE_KEY", ed_pub, 1);
    char *m = th_path("ed.manifest"), *sig = th_path("ed.sig"), *out = th_path("ed.pkg");
    const char *manifest = "OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,8.0.1-ed,\n";
    assert_int_equal(th_write_file(m, manifest, strlen(manifest)), 0);
    sh("openssl pkeyutl -sign -inkey '%s' -rawin -in '%s' -out '%s' && { cat '%s'; "
       "echo '-----BEGIN OPENTSE UPDATE SIGNATURE-----'; openssl base64 -in '%s'; "
       "echo '-----END OPENTSE UPDATE SIGNATURE-----'; } > '%s'",
       ed, m, sig, m, sig, out);
    pkg = th_read_file(out, &len);
    assert_non_null(pkg);
    assert_int_equal(tse_update_device(t, pkg, len), TSE_OK);
    check_agree(t, "SMAERS", "8.0.1-ed");
    free(pkg);
    setenv("OPENTSE_UPDATE_KEY", g_pub, 1);
    free(m);
    free(sig);
    free(out);
    free(rsa);
    free(rsa_pub);
    free(ed);
    free(ed_pub);
    tse_close(t);
}

/* A deployment without an update key refuses every package, logged. */
static void test_no_key(void **state)
{
    (void)state;
    tt_server own;
    char *url = NULL;
    unsetenv("OPENTSE_UPDATE_KEY");
    if (tt_http()) {   /* a server of its own, started without the key */
        char *dir = th_path("nokey-server");
        tt_server_start(&own, dir, 0);
        url = tt_tss_url(own.base);
        free(dir);
    } else {
        url = tt_new_url("nokey");
    }
    tse *t = tt_ready_at(url);
    size_t len = 0;
    uint8_t *pkg = package(GOOD, g_key, &len);
    refused(t, pkg, len, "no update key is configured");
    free(pkg);
    tse_close(t);
    if (tt_http())
        tt_server_stop(&own, false);
    setenv("OPENTSE_UPDATE_KEY", g_pub, 1);
    free(url);
}

/* opentsed refuses to start with an --update-key that is no public key,
 * naming it, and leaves no data directory behind. */
static void test_server_key_checked(void **state)
{
    (void)state;
    const char *bin = getenv("OPENTSED");
    assert_non_null(bin);
    char *dir = th_path("badkey-srv"), *notkey = th_path("not-a-key.pem"), cmd[3000], out[2048];
    assert_int_equal(th_write_file(notkey, "hello\n", 6), 0);
    const char *keys[] = {notkey, "/nonexistent/update.pub"};
    const char *why[] = {"is not a PEM public key", "cannot be opened"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "'%s' --data-dir '%s' --listen 127.0.0.1:0 --update-key '%s' 2>&1; echo \"exit $?\"; "
                 "test -e '%s' && echo exists",
                 bin, dir, keys[i], dir);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
        if (!strstr(out, "--update-key") || !strstr(out, why[i]) || !strstr(out, "exit 1") || strstr(out, "exists"))
            fail_msg("opentsed with --update-key %s: %s", keys[i], out);
    }
    free(dir);
    free(notkey);
}

int main(int argc, char **argv)
{
    g_key = th_path("update.key");
    g_pub = th_path("update.pub");
    g_other = th_path("other.key");
    sh("openssl ecparam -name prime256v1 -genkey -noout -out '%s' && openssl pkey -in '%s' -pubout -out '%s' && "
       "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '%s'",
       g_key, g_key, g_pub, g_other);
    setenv("OPENTSE_UPDATE_KEY", g_pub, 1);   /* before the server starts: opentsed reads it too */
    tt_init(argc > 1 ? argv[1] : "file");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_applied),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_server_key_checked),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(g_key);
    free(g_pub);
    free(g_other);
    return rc;
}
