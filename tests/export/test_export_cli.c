/*
 * test_export_cli.c - `opentse export`, `delete-stored-data` and `restore`
 * run as the real binary on a real TSE file: --json summaries parsed with
 * jansson, the archives checked with the openssl command line, exit codes
 * of refusals and usage errors, no file left behind by a failed export.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "export_check.h"
#include "ready_tse.h"

static ex_archive arch;
static char *db;

/* Runs `opentse --url file:DB --master-key MK ARGS`; output to *out (malloc'd). */
static int cli(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cli(char **out, const char *fmt, ...)
{
    char args[1024], *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    assert_true(asprintf(&cmd, "OPENTSE_ADMIN_PIN=%s '%s' --url 'file:%s' --master-key '%s' %s", READY_PIN,
                         getenv("OPENTSE_CLI"), db, th_master_key(), args) > 0);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = calloc(1, cap);
    for (size_t got; (got = fread(buf + n, 1, cap - 1 - n, p)) > 0;)
        n += got;
    int st = pclose(p);
    free(cmd);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *cli_json(int want_exit, const char *args)
{
    char *out = NULL;
    assert_int_equal(cli(&out, "--json %s", args), want_exit);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    assert_non_null(j);
    free(out);
    return j;
}

static uint64_t jint(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    assert_true(json_is_integer(v));
    return (uint64_t)json_integer_value(v);
}

static void check(const char *path, uint64_t logs)
{
    tse_open_options oo = {.master_key_path = th_master_key()};
    tse *t = NULL;
    assert_int_equal(tse_open(db, &oo, &t), TSE_OK);
    ex_check_archive(t, path, &arch);
    assert_int_equal(arch.n_logs, logs);
    tse_close(t);
}

static void test_cli(void **state)
{
    (void)state;
    assert_non_null(getenv("OPENTSE_CLI"));
    tse_create_options v2 = {.log_format_version = 2};   /* the restoreFromBackup log counted below */
    tse *t = ready_tse("cli", &v2, &db);
    tse_result r, u;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, (const uint8_t *)"x", 1, "Kassenbeleg-V1", NULL, 0, &r),
                     TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, r.transaction_number, (const uint8_t *)"y", 1,
                                            "Kassenbeleg-V1", NULL, 0, &u),
                     TSE_OK);
    tse_close(t);
    char *a = th_path("cli-a.tar"), *b = th_path("cli-b.tar"), *c = th_path("cli-c.tar"), args[1200];

    /* everything, with the summary */
    snprintf(args, sizeof args, "export --out '%s'", a);
    json_t *j = cli_json(0, args);
    assert_string_equal(json_string_value(json_object_get(j, "file")), a);
    size_t len = 0;
    free(th_read_file(a, &len));
    assert_int_equal(jint(j, "bytes"), len);
    uint64_t logs = jint(j, "logs"), cursor = jint(j, "cursor");
    assert_int_equal(cursor, logs);   /* counters 1..cursor */
    json_decref(j);
    check(a, logs);

    /* one transaction */
    snprintf(args, sizeof args, "export --out '%s' --transaction %llu --client %s", b,
             (unsigned long long)r.transaction_number, READY_CLIENT);
    j = cli_json(0, args);
    assert_int_equal(jint(j, "logs"), 2);
    json_decref(j);
    check(b, 2);

    /* refused by the TSE (exit 3, the code in the JSON), no file left */
    unlink(b);
    snprintf(args, sizeof args, "export --out '%s' --transaction 999", b);
    j = cli_json(3, args);
    char *text = json_dumps(j, 0);
    assert_non_null(strstr(text, "TRANSACTION_NUMBER_NOT_FOUND"));
    free(text);
    json_decref(j);
    assert_int_not_equal(access(b, F_OK), 0);
    char part[600];
    snprintf(part, sizeof part, "%s.part", b);
    assert_int_not_equal(access(part, F_OK), 0);
    snprintf(args, sizeof args, "export --out '%s' --transaction 1 --start-date 2020-01-01T00:00:00Z", b);
    assert_int_equal(cli(NULL, "%s 2>/dev/null", args), 3);   /* PARAMETER_MISMATCH */
    /* usage errors: exit 2 */
    assert_int_equal(cli(NULL, "export --out x.tar --end-date yesterday 2>/dev/null"), 2);
    assert_int_equal(cli(NULL, "export --out x.tar --cursor -1 2>/dev/null"), 2);
    assert_int_equal(cli(NULL, "export --bogus 2>/dev/null"), 2);
    assert_int_equal(cli(NULL, "--json export 2>/dev/null"), 2);   /* a TAR beside JSON on stdout */
    char *help = NULL;
    assert_int_equal(cli(&help, "export --help"), 0);
    assert_non_null(strstr(help, "--cursor"));
    free(help);

    /* to stdout, read by tar */
    char *d = th_path("cli-d.tar"), *tar_out = NULL;
    snprintf(args, sizeof args, "export > '%s' 2>/dev/null && tar tf '%s' | grep -c '\\.log$'", d, d);
    assert_int_equal(cli(&tar_out, "%s", args), 0);
    uint64_t all = (uint64_t)atoll(tar_out);
    assert_true(all > logs);   /* the CLI's own opens wrote self-test logs */
    free(tar_out);

    /* delete what was exported, restore it from the archives; the delete's own opening and login came after
     * the export: refused, unless --out exports them first */
    assert_int_equal(cli(NULL, "delete-stored-data 2>/dev/null"), 3);   /* UNEXPORTED_STORED_DATA */
    char *dd = th_path("cli-dd.tar");
    snprintf(args, sizeof args, "delete-stored-data --out '%s'", dd);
    j = cli_json(0, args);
    assert_true(json_is_true(json_object_get(j, "deleted")));
    uint64_t with_delete = jint(j, "logs");
    assert_int_equal(with_delete, all + 4);   /* the selfTest and login of both deletes */
    json_decref(j);
    check(dd, with_delete);
    /* the first archive alone leaves a gap up to what the later exports covered */
    snprintf(args, sizeof args, "restore '%s'", a);
    assert_int_equal(cli(NULL, "%s 2>/dev/null", args), 3);
    snprintf(args, sizeof args, "restore '%s' '%s' '%s'", a, d, dd);
    j = cli_json(0, args);
    assert_int_equal(jint(j, "restored"), with_delete);
    json_decref(j);
    free(dd);
    assert_int_equal(cli(NULL, "restore 2>/dev/null"), 2);

    /* incremental from the first cursor: everything since, nothing before */
    snprintf(args, sizeof args, "export --out '%s' --cursor %llu", c, (unsigned long long)cursor);
    j = cli_json(0, args);
    uint64_t more = jint(j, "logs");
    assert_true(more > 0);
    json_decref(j);
    check(c, more);
    assert_int_equal(arch.counters[0], cursor + 1);

    /* the store file replaced by an older copy of itself: restore --recovery
     * brings back what the copy lacks without signing anything first, and
     * counters go on after the restored ones */
    size_t old_len = 0;
    uint8_t *old = th_read_file(db, &old_len);   /* its last log: at least cursor + more */
    assert_non_null(old);
    char *e = th_path("cli-e.tar");
    snprintf(args, sizeof args, "export --out '%s'", e);
    j = cli_json(0, args);
    uint64_t e_cursor = jint(j, "cursor");
    json_decref(j);
    assert_int_equal(th_write_file(db, old, old_len), 0);
    free(old);
    snprintf(args, sizeof args, "restore --recovery '%s'", e);
    j = cli_json(0, args);
    uint64_t restored = jint(j, "restored");   /* at least the selfTest log of the export's open */
    assert_true(restored >= 1 && restored <= e_cursor - (cursor + more));
    json_decref(j);
    snprintf(args, sizeof args, "export --out '%s'", e);
    j = cli_json(0, args);
    assert_int_equal(jint(j, "cursor"), e_cursor + 2);   /* restoreFromBackup, then this open's selfTest */
    json_decref(j);
    free(e);
    free(a);
    free(b);
    free(c);
    free(d);
    free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
