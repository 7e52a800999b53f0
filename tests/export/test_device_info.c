/*
 * test_device_info.c - the components an export's info.csv names
 * (TR-03151-1 v1.1.1 section 2.5.3), configured per deployment with a CSV
 * file (OPENTSE_DEVICE_INFO, opentsed --device-info): what a configured
 * archive holds, read back with Python's csv module; each malformed file
 * refused with the line at fault, by the loader and by opentsed at start;
 * a changed list logged once by updateDeviceCompleted (TR-03153-1 9.10).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "export/export.h"
#include "export/internal.h"
#include "export_check.h"
#include "ready_tse.h"

static char *write_tmp(const char *name, const char *text)
{
    char *p = th_path(name);
    assert_int_equal(th_write_file(p, text, strlen(text)), 0);
    return p;
}

/* Every line of a command's output, joined by "/" (at most cap bytes). */
static void run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void run(char *out, size_t cap, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&cmd, fmt, ap) > 0);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    int c;
    while ((c = fgetc(p)) != EOF && n + 1 < cap)
        out[n++] = c == '\n' ? '/' : (char)c;
    while (n && out[n - 1] == '/')
        n--;
    out[n] = 0;
    pclose(p);
    free(cmd);
}

/* info.csv of a fresh TSE's complete export as Python's csv module reads
 * it: rows joined by "/", values by "|". */
static void exported_info(int log_format, char *out, size_t cap, char desc[TSE_MAX_DESCRIPTION_LEN + 1])
{
    tse_create_options o = {.log_format_version = log_format};
    char *path = NULL;
    tse *t = ready_tse(log_format == 2 ? "devinfo-v2" : "devinfo-v3", &o, &path);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    assert_int_equal(info.log_format_version, log_format);
    snprintf(desc, TSE_MAX_DESCRIPTION_LEN + 1, "%s", info.description);
    char *tar = th_path(log_format == 2 ? "devinfo-v2.tar" : "devinfo-v3.tar");
    assert_int_equal(ex_export_file(t, NULL, tar, NULL), TSE_OK);
    th_tar_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(th_tar_read(tar, &e, &n), 0);
    char *csv = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, "info.csv") == 0) {
            csv = write_tmp(log_format == 2 ? "devinfo-v2.csv" : "devinfo-v3.csv", (const char *)e[i].data);
            assert_null(memchr(e[i].data, '\r', e[i].len));
        }
    assert_non_null(csv);
    run(out, cap,
        "python3 -c 'import csv,sys\n"
        "for r in csv.reader(open(sys.argv[1], newline=\"\")): print(\"|\".join(r))' '%s'",
        csv);
    th_tar_free(e, n);
    tse_close(t);
    free(csv);
    free(tar);
    free(path);
}

static void test_configured(void **state)
{
    (void)state;
    char *conf = write_tmp("device-info.csv",
                           "# component,manufacturer,model,version,certification-id\n"
                           "\n"
                           "SMAERS,Example Cloud GmbH,\"OpenTSE, hosted\",2.1,BSI-K-TR-0000-2026\r\n"
                           "\"CSP\",\"Example HSM AG\",\"Model \"\"X\"\"\",4.0.1,\"BSI-DSZ-CC-0001-2025, BSI-DSZ-CC-0002\"\n"
                           "Storage,PostgreSQL Global Development Group,PostgreSQL,15,\n");
    assert_int_equal(setenv("OPENTSE_DEVICE_INFO", conf, 1), 0);
    char rows[4096], want[4096], desc[TSE_MAX_DESCRIPTION_LEN + 1];
    exported_info(3, rows, sizeof rows, desc);
    snprintf(want, sizeof want, "component:|SMAERS|manufacturer:|Example Cloud GmbH|model:|OpenTSE, hosted|version:|2.1|"
                              "certification-id:|BSI-K-TR-0000-2026/"
                              "component:|CSP|manufacturer:|Example HSM AG|model:|Model \"X\"|version:|4.0.1|"
                              "certification-id:|BSI-DSZ-CC-0001-2025, BSI-DSZ-CC-0002/"
                              "component:|Storage|manufacturer:|PostgreSQL Global Development Group|model:|PostgreSQL|"
                              "version:|15|certification-id:|/"
                              "description:|%s||||||||", desc);
    assert_string_equal(rows, want);
    /* a TSE of log format 2 keeps the one line of TR-03151 v1.0.1 */
    exported_info(2, rows, sizeof rows, desc);
    snprintf(want, sizeof want, "description:|%s|manufacturer:|OpenTSE|version:|%s", desc, OPENTSE_VERSION);
    assert_string_equal(rows, want);
    free(conf);
}

/* The system logs named updateDeviceCompleted (those whose bytes hold
 * `needle`, if given) in a complete export of the file: TSE `db` after
 * `opentse tss time` and `export` with OPENTSE_DEVICE_INFO=conf (NULL:
 * unset). */
static size_t outside_updates(const char *db, const char *conf, const char *needle)
{
    char *tar = th_path("devinfo-upd.tar"), out[4096], env[700];
    snprintf(env, sizeof env, "%s%s%s OPENTSE_ADMIN_PIN=%s", conf ? "OPENTSE_DEVICE_INFO='" : "env -u OPENTSE_DEVICE_INFO",
             conf ? conf : "", conf ? "'" : "", READY_PIN);
    /* a process that sets the TSE's time (the TSE does not trust the host's
     * clock), then one that exports */
    run(out, sizeof out, "%s '%s' --url 'file:%s' --master-key '%s' tss time >/dev/null 2>&1 && "
                         "%s '%s' --url 'file:%s' --master-key '%s' export --out '%s' >/dev/null 2>&1; echo $?",
        env, getenv("OPENTSE_CLI"), db, th_master_key(), env, getenv("OPENTSE_CLI"), db, th_master_key(), tar);
    assert_string_equal(out, "0");
    th_tar_entry *e = NULL;
    size_t n = 0, found = 0;
    assert_int_equal(th_tar_read(tar, &e, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (strstr(e[i].name, "_Log-Sys_updateDeviceCompleted"))
            found += !needle || memmem(e[i].data, e[i].len, needle, strlen(needle));
    th_tar_free(e, n);
    free(tar);
    return found;
}

/* TR-03153-1 9.10: a component changed outside updateDevice (another
 * device list, a new release) is logged by the TSE at its first opening
 * after the change, once. */
static void test_outside_update(void **state)
{
    (void)state;
    char *path = NULL;
    tse *t = ready_tse("devinfo-upd", NULL, &path);   /* its time set: this process's list is recorded */
    tse_close(t);
    char *v1 = write_tmp("devinfo-v1.csv", "SMAERS,Example Cloud GmbH,OpenTSE,7.1,\nCSP,Example HSM AG,X,4.0,\n");
    char *v2 = write_tmp("devinfo-v2.csv", "SMAERS,Example Cloud GmbH,OpenTSE,7.2,\nCSP,Example HSM AG,X,4.0,\n");
    assert_int_equal(outside_updates(path, v1, NULL), 1);    /* another list: logged */
    assert_int_equal(outside_updates(path, v1, "7.1"), 1);   /* naming the new version */
    assert_int_equal(outside_updates(path, v1, NULL), 1);    /* unchanged: nothing more */
    assert_int_equal(outside_updates(path, v2, NULL), 2);    /* changed again: one more */
    assert_int_equal(outside_updates(path, v2, "7.2"), 1);
    assert_int_equal(outside_updates(path, NULL, NULL), 3);  /* back to the built-in list: this release */
    assert_int_equal(outside_updates(path, NULL, OPENTSE_VERSION), 1);
    assert_int_equal(outside_updates(path, NULL, NULL), 3);
    free(v1);
    free(v2);
    free(path);
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"SMAERS,OpenTSE,m,1,\nCSP,OpenSSL,libcrypto,3\n", "line 2: expected 5 values"},
        {"SMAERS,OpenTSE,m,1,,extra\n", "line 1: expected 5 values"},
        {"# only a comment\n\n", "names no component"},
        {"SMAERS,\"Open\"TSE,m,1,\n", "line 1: a quote is misplaced"},
        {"SMAERS,Open\"TSE,m,1,\n", "line 1: a quote is misplaced"},
        {"SMAERS,\"OpenTSE,m,1,\n", "line 1: a quote is misplaced"},
        {"\n,OpenTSE,m,1,\n", "line 2: the component is empty"},
        {"SMAERS,Open\tTSE,m,1,\n", "line 1: value 2 holds a control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[40];
        snprintf(name, sizeof name, "bad-%zu.csv", i);
        char *p = write_tmp(name, bad[i].text);
        export_device d;
        tse_error err = {0};
        assert_int_equal(export_device_load(p, &d, &err), TSE_ERR_INVALID_ARGUMENT);
        if (!strstr(err.message, bad[i].why))
            fail_msg("%s: \"%s\" does not say \"%s\"", name, err.message, bad[i].why);
        free(p);
    }
    /* a value longer than a field holds */
    char longv[EXPORT_VALUE_MAX + 40];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    char text[sizeof longv + 40];
    snprintf(text, sizeof text, "SMAERS,OpenTSE,%s,1,\n", longv);
    char *p = write_tmp("bad-long.csv", text);
    tse_error err = {0};
    assert_int_equal(export_device_check(p, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "line 1: value 3 is longer than"));
    assert_int_equal(export_device_check("/nonexistent/device.csv", &err), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "No such file"));

    /* opentsed refuses to start with it, naming the line, and leaves no data directory behind */
    const char *bin = getenv("OPENTSED_BIN");
    if (bin) {
        char out[2048];
        char *dir = th_path("devinfo-srv");
        char *bad2 = write_tmp("bad-srv.csv", bad[0].text);
        run(out, sizeof out, "'%s' --data-dir '%s' --listen 127.0.0.1:0 --device-info '%s' 2>&1; echo \"exit $?\"; "
            "test -e '%s' && echo exists", bin, dir, bad2, dir);
        if (!strstr(out, "--device-info") || !strstr(out, "line 2: expected 5 values") || !strstr(out, "exit 1") ||
            strstr(out, "exists"))
            fail_msg("opentsed with a malformed --device-info: %s", out);
        free(dir);
        free(bad2);
    }
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_configured),
        cmocka_unit_test(test_outside_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
