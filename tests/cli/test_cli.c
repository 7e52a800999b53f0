/*
 * test_cli.c - `opentse` tss/client/tx/qr/export/delete-stored-data/restore/
 * outage/se over both transports
 * (argv[1]: file or http): runs the real binary, parses its --json output
 * with jansson and checks results, counters, exit codes, --help on every
 * command, and that secrets are neither accepted on the command line nor
 * printed.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "../client/transport.h"
#include "helpers.h"

#define PIN "246810"

typedef struct run {
    int code;
    char *out, *err;
    json_t *json;
} run;

/* Runs `opentse --json ARGS` (a shell word list) with the given URL. */
static run cli(const char *url, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out = th_path("cli.out"), *err = th_path("cli.err");
    snprintf(cmd, sizeof cmd, "'%s' --url '%s' %s >'%s' 2>'%s'", getenv("OPENTSE_CLI"), url, args, out, err);
    int st = system(cmd);
    run r = {.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1};
    size_t n;
    r.out = (char *)th_read_file(out, &n);
    r.err = (char *)th_read_file(err, &n);
    r.json = r.out ? json_loads(r.out, 0, NULL) : NULL;
    free(out);
    free(err);
    return r;
}

static void done(run *r)
{
    free(r->out);
    free(r->err);
    json_decref(r->json);
}

static json_int_t jint(run *r, const char *k)
{
    json_t *v = json_object_get(r->json, k);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static const char *jstr(run *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r->json, k));
    assert_non_null(s);
    return s;
}

static void test_lifecycle_and_transactions(void **state)
{
    (void)state;
    char *url = tt_new_url("cli");
    run r = cli(url, "--json tss create");
    assert_int_equal(r.code, 0);
    char puk[TSE_PUK_LEN + 1];
    snprintf(puk, sizeof puk, "%s", jstr(&r, "puk"));
    assert_int_equal(strlen(puk), TSE_PUK_LEN);
    done(&r);

    /* no PIN: usage error; PIN on the command line: refused */
    unsetenv("OPENTSE_ADMIN_PIN");
    setenv("OPENTSE_PUK", puk, 1);
    r = cli(url, "--json tss init");
    assert_int_equal(r.code, 2);
    assert_string_equal(jstr(&r, "error"), "usage");
    done(&r);
    r = cli(url, "--json tss init --pin " PIN);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(jstr(&r, "message"), "secrets"));
    done(&r);

    /* the PIN from a file, the PUK from the environment */
    char *pin_file = th_path("pin");
    assert_int_equal(th_write_file(pin_file, PIN "\n", strlen(PIN) + 1), 0);
    r = cli(url, "--json tss init --description 'CLI test' --pin-file '%s'", pin_file);
    assert_int_equal(r.code, 0);
    assert_string_equal(jstr(&r, "state"), "INITIALIZED");
    assert_string_equal(jstr(&r, "description"), "CLI test");
    assert_null(strstr(r.out, PIN));
    assert_null(strstr(r.out, puk));
    assert_null(strstr(r.err, PIN));
    done(&r);
    setenv("OPENTSE_ADMIN_PIN", PIN, 1);
    unsetenv("OPENTSE_PUK");

    r = cli(url, "--json client add KASSE-7");
    assert_int_equal(r.code, 0);
    assert_string_equal(jstr(&r, "state"), "REGISTERED");
    done(&r);
    r = cli(url, "--json client add KASSE-7");
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "ALREADY_EXISTS");
    done(&r);
    r = cli(url, "--json client list");
    assert_int_equal(r.code, 0);
    json_t *clients = json_object_get(r.json, "clients");
    assert_int_equal(json_array_size(clients), 1);
    assert_string_equal(json_string_value(json_array_get(clients, 0)), "KASSE-7");
    done(&r);

    r = cli(url, "--json tss info");
    assert_int_equal(r.code, 0);
    json_int_t counter = jint(&r, "signature_counter");
    done(&r);

    r = cli(url, "--json tx start --client KASSE-7");
    assert_int_equal(r.code, 0);
    json_int_t number = jint(&r, "transaction_number");
    json_int_t c1 = jint(&r, "signature_counter");
    assert_true(c1 > counter);
    assert_string_equal(jstr(&r, "operation"), "startTransaction");
    assert_true(strlen(jstr(&r, "signature")) >= 88);   /* 64 bytes base64 */
    done(&r);

    r = cli(url, "--json tx list-open");
    assert_int_equal(r.code, 0);
    json_t *open = json_object_get(r.json, "open_transactions");
    assert_int_equal(json_array_size(open), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(open, 0), "transaction_number")), number);
    done(&r);

    r = cli(url, "--json tx update %lld --client KASSE-7 --data 'Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar'",
            (long long)number);
    assert_int_equal(r.code, 0);
    assert_int_equal(jint(&r, "transaction_number"), number);
    json_int_t c2 = jint(&r, "signature_counter");
    assert_true(c2 > c1);
    done(&r);
    r = cli(url, "--json tx finish %lld --client KASSE-7 --data 'Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar'",
            (long long)number);
    assert_int_equal(r.code, 0);
    assert_true(jint(&r, "signature_counter") > c2);
    assert_string_equal(jstr(&r, "operation"), "finishTransaction");
    done(&r);
    r = cli(url, "--json tx finish %lld --client KASSE-7", (long long)number);
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "NO_TRANSACTION");
    done(&r);
    r = cli(url, "--json tx list-open");
    assert_int_equal(json_array_size(json_object_get(r.json, "open_transactions")), 0);
    done(&r);

    /* data kept by another program's unsigned update: the finish signs it
     * in an update log first, and prints both logs */
    r = cli(url, "--json tx start --client KASSE-7");
    assert_int_equal(r.code, 0);
    number = jint(&r, "transaction_number");
    done(&r);
    tse *t = tt_open(url);
    tse_result u;
    assert_int_equal(tse_update_transaction(t, "KASSE-7", (uint64_t)number, (const uint8_t *)"kept", 4,
                                            "Kassenbeleg-V1", TSE_UPDATE_UNSIGNED, &u),
                     TSE_OK);
    tse_close(t);
    r = cli(url, "--json tx finish %lld --client KASSE-7 --data 'Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar'",
            (long long)number);
    assert_int_equal(r.code, 0);
    json_t *kept = json_object_get(r.json, "kept_log");
    assert_non_null(kept);
    assert_string_equal(json_string_value(json_object_get(kept, "operation")), "updateTransaction");
    assert_int_equal(json_integer_value(json_object_get(kept, "transaction_number")), number);
    assert_int_equal(json_integer_value(json_object_get(kept, "signature_counter")) + 1,
                     jint(&r, "signature_counter"));
    done(&r);

    /* the logger's PIN (the admin's): from then on tx logs the logger in */
    char *logger_file = th_path("logger-pin");
    assert_int_equal(th_write_file(logger_file, "97531086\n", 9), 0);
    r = cli(url, "--json se logger-pin --pin-file '%s'", pin_file);
    assert_int_equal(r.code, 2);   /* no new PIN */
    done(&r);
    r = cli(url, "--json se logger-pin --new-pin-file '%s' --pin-file '%s'", logger_file, pin_file);
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json tx start --client KASSE-7");
    assert_int_equal(r.code, 3);   /* nobody (file:) or the admin (http:) is logged in */
    assert_true(!strcmp(jstr(&r, "code"), "USER_NOT_AUTHENTICATED") || !strcmp(jstr(&r, "code"), "USER_NOT_AUTHORIZED"));
    done(&r);
    r = cli(url, "--json tx start --client KASSE-7 --logger-pin-file '%s'", pin_file);   /* the admin's PIN */
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "AUTHENTICATION_FAILED");
    done(&r);
    setenv("OPENTSE_LOGGER_PIN", "97531086", 1);
    r = cli(url, "--json tx start --client KASSE-7");
    assert_int_equal(r.code, 0);
    number = jint(&r, "transaction_number");
    done(&r);
    r = cli(url, "--json tx finish %lld --client KASSE-7 --data 'Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar'",
            (long long)number);
    assert_int_equal(r.code, 0);
    done(&r);
    free(logger_file);

    r = cli(url, "--json client remove KASSE-7");
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json tx start --client KASSE-7");
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "CLIENT_NOT_REGISTERED");
    done(&r);

    r = cli(url, "--json tss disable");
    assert_int_equal(r.code, 0);
    assert_string_equal(jstr(&r, "state"), "DISABLED");
    done(&r);
    unsetenv("OPENTSE_LOGGER_PIN");
    free(pin_file);
    free(url);
}

/* The admin operations that need OpenTSE's extension endpoints over http:
 * time, reading logs (qr make), deleteStoredData and restore. */
static void test_admin_operations(void **state)
{
    (void)state;
    char *url = tt_new_url("cli-admin");
    run r = cli(url, "--json tss create");
    assert_int_equal(r.code, 0);
    setenv("OPENTSE_PUK", jstr(&r, "puk"), 1);
    done(&r);
    setenv("OPENTSE_ADMIN_PIN", PIN, 1);
    char *pin_file = th_path("pin");
    assert_int_equal(th_write_file(pin_file, PIN "\n", strlen(PIN) + 1), 0);
    r = cli(url, "--json tss init");
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "DESCRIPTION_NOT_SET_BY_MANUFACTURER");
    done(&r);
    r = cli(url, "--json tss init --description Kasse --pin-file '%s'", pin_file);
    assert_int_equal(r.code, 0);
    done(&r);
    unsetenv("OPENTSE_PUK");
    r = cli(url, "--json client add KASSE-8");
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json tx start --client KASSE-8");
    assert_int_equal(r.code, 0);
    json_int_t number = jint(&r, "transaction_number");
    done(&r);
    r = cli(url, "--json tx finish %lld --client KASSE-8 --data 'Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar'",
            (long long)number);
    assert_int_equal(r.code, 0);
    json_int_t finish = jint(&r, "signature_counter");
    done(&r);

    /* time: one updateTime log; a malformed time is a usage error */
    r = cli(url, "--json tss time --set %lld", (long long)time(NULL));
    assert_int_equal(r.code, 0);
    assert_true(jint(&r, "signature_counter") > finish); /* file: opening adds a selfTest log */
    done(&r);
    r = cli(url, "--json tss time --set soon");
    assert_int_equal(r.code, 2);
    done(&r);

    /* the receipt QR code rebuilt from the stored Finish log verifies */
    r = cli(url, "--json qr make --counter %lld", (long long)finish);
    assert_int_equal(r.code, 0);
    assert_int_equal(jint(&r, "transaction_number"), number);
    char qr[2048];
    snprintf(qr, sizeof qr, "%s", jstr(&r, "qr"));
    done(&r);
    r = cli(url, "qr verify '%s'", qr);
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json qr make --counter %lld", (long long)finish + 1);
    assert_int_equal(r.code, 1);
    done(&r);

    /* DSFinV-K tables from the TSE's logs: one finished transaction */
    char *out_dir = th_path("dsfinvk");
    r = cli(url, "--json dsfinvk --out '%s'", out_dir);
    assert_int_equal(r.code, 0);
    assert_int_equal(jint(&r, "transaction_rows"), 1);
    assert_int_equal(jint(&r, "unfinished"), 0);
    done(&r);
    free(out_dir);

    /* export, delete what was exported, restore it from the archive */
    char *archive = th_path("cli-admin.tar");
    r = cli(url, "--json delete-stored-data");
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "UNEXPORTED_STORED_DATA");
    done(&r);
    r = cli(url, "--json export --out '%s'", archive);
    assert_int_equal(r.code, 0);
    json_int_t logs = jint(&r, "logs");
    assert_true(logs > finish);
    json_int_t cursor = jint(&r, "cursor");
    done(&r);
    /* this command's own logs (the selfTest of every opening, the login) are not exported: refused, nothing
     * deleted */
    r = cli(url, "--json delete-stored-data");
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "UNEXPORTED_STORED_DATA");
    /* its login, and on a file: the selfTest of its opening */
    assert_non_null(strstr(jstr(&r, "message"), tt_http() ? "1 log is not exported yet" : "2 logs are not exported yet"));
    assert_non_null(strstr(jstr(&r, "error"), "--out FILE"));
    done(&r);
    r = cli(url, "--json qr make --counter %lld", (long long)finish);
    assert_int_equal(r.code, 0);
    done(&r);
    /* --out writes the rest since the export (its own login too) after the login, then deletes */
    char *rest = th_path("cli-admin-rest.tar");
    r = cli(url, "--json delete-stored-data --out '%s' --cursor %lld", rest, (long long)cursor);
    assert_int_equal(r.code, 0);
    assert_true(json_is_true(json_object_get(r.json, "deleted")));
    json_int_t rest_logs = jint(&r, "logs"), deleted_at = jint(&r, "signature_counter");
    assert_int_equal(jint(&r, "cursor"), deleted_at - 1);   /* everything but the delete's own log */
    assert_int_equal(rest_logs, deleted_at - 1 - cursor);
    /* the logins of two deletes; on a file also the selfTest of their openings and of qr make's */
    assert_int_equal(rest_logs, tt_http() ? 2 : 5);
    done(&r);
    r = cli(url, "--json verify '%s'", rest);
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json qr make --counter %lld", (long long)finish);
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "NO_LOG_MESSAGE");
    done(&r);
    r = cli(url, "--json delete-stored-data --cursor 5");
    assert_int_equal(r.code, 2);
    done(&r);
    r = cli(url, "--json restore '%s' '%s'", archive, rest);
    assert_int_equal(r.code, 0);
    assert_int_equal(jint(&r, "restored"), logs + rest_logs);
    done(&r);
    free(rest);
    r = cli(url, "--json qr make --counter %lld", (long long)finish);
    assert_int_equal(r.code, 0);
    assert_string_equal(jstr(&r, "qr"), qr);
    done(&r);
    free(archive);
    free(pin_file);
    free(url);
}

static void test_usage_and_help(void **state)
{
    (void)state;
    char *url = tt_new_url("cli-help");
    const char *cmds[] = {"tss", "client", "tx", "outage"};
    for (size_t i = 0; i < 4; i++) {
        run r = cli(url, "%s --help", cmds[i]);
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "usage: opentse"));
        done(&r);
        r = cli(url, "--json %s bogus", cmds[i]);
        assert_int_equal(r.code, 2);
        assert_string_equal(jstr(&r, "error"), "usage");
        done(&r);
    }
    run r = cli(url, "--json tx start");
    assert_int_equal(r.code, 2);
    done(&r);
    r = cli(url, "--json tx finish abc --client K");
    assert_int_equal(r.code, 2);
    done(&r);
    free(url);
}

/* `opentse se`: the TR-03151-1 v1.1.1 functions on the command line. */
static void test_se_command(void **state)
{
    (void)state;
    char *url = NULL;
    tse_close(tt_ready("cli-se", &url));
    setenv("OPENTSE_ADMIN_PIN", TT_PIN, 1);
    run r = cli(url, "se --help");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: opentse se"));
    done(&r);
    r = cli(url, "--json se bogus");
    assert_int_equal(r.code, 2);
    done(&r);
    r = cli(url, "--json se device");
    assert_int_equal(r.code, 0);
    assert_true(jint(&r, "used_memory") > 4096);
    assert_int_equal(json_array_size(json_object_get(r.json, "components")), 2);   /* info.csv's: SMAERS, CSP */
    done(&r);
    r = cli(url, "--json se set-description 'Kasse 5'");
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json se description");
    assert_string_equal(jstr(&r, "description"), "Kasse 5");
    done(&r);
    r = cli(url, "--json se lock");
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json tx start --client " TT_CLIENT);
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "TRANSACTION_LOGGING_LOCKED");
    done(&r);
    r = cli(url, "--json se unlock");
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json se unlock");
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "TRANSACTION_LOGGING_NOT_LOCKED");
    done(&r);
    r = cli(url, "--json tx start --client " TT_CLIENT " --data abc");
    assert_int_equal(r.code, 0);
    json_int_t n = jint(&r, "transaction_number");
    done(&r);
    r = cli(url, "--json se tx-state %lld", (long long)n);
    assert_int_equal(r.code, 0);
    assert_string_equal(jstr(&r, "state"), "started");
    done(&r);
    r = cli(url, "--json se tx-state abc");
    assert_int_equal(r.code, 2);
    done(&r);
    r = cli(url, "--json se tx-state %lld", (long long)n + 9);
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "TRANSACTION_NUMBER_NOT_FOUND");
    done(&r);
    r = cli(url, "--json se open-transactions");
    assert_int_equal(r.code, 0);
    json_t *nums = json_object_get(r.json, "transaction_numbers");
    assert_int_equal(json_array_size(nums), 1);
    assert_int_equal(json_integer_value(json_array_get(nums, 0)), n);
    done(&r);
    char *file = th_path("last.log");
    r = cli(url, "--json se last-log --any-transaction --out '%s'", file);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(jstr(&r, "file_name"), "_Start_Client-" TT_CLIENT ".log"));
    size_t len = 0, flen = 0;
    unsigned char *msg = tt_unb64(jstr(&r, "log_message"), &len);
    uint8_t *stored = th_read_file(file, &flen);
    assert_int_equal(len, flen);
    assert_memory_equal(msg, stored, len);
    free(msg);
    free(stored);
    done(&r);
    r = cli(url, "--json se last-log --transaction 0");
    assert_int_equal(r.code, 2);
    done(&r);
    r = cli(url, "--json se counters");
    assert_int_equal(jint(&r, "transaction_counter"), n);
    done(&r);
    r = cli(url, "--json se health");
    assert_int_equal(r.code, 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "components")), 3);
    done(&r);
    char *tar = th_path("certs.tar");
    r = cli(url, "--json se certificates --out '%s'", tar);
    assert_int_equal(r.code, 0);
    th_tar_entry *e = NULL;
    size_t ne = 0;
    assert_int_equal(th_tar_read(tar, &e, &ne), 0);
    assert_true(ne >= 2 && strstr(e[0].name, "_X509.der") != NULL);
    th_tar_free(e, ne);
    done(&r);
    r = cli(url, "--json se configure-logging SMA selfTest off");
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "LOGGING_OF_EVENT_NOT_CONFIGURABLE");
    done(&r);
    r = cli(url, "--json se configure-logging SMA");
    assert_int_equal(r.code, 2);
    done(&r);
    r = cli(url, "--json se time");
    assert_true(jint(&r, "unix_time") > 1700000000);
    done(&r);
    free(tar);
    free(file);
    free(url);
}

/* `tss create --log-format`: an embedded TSE keeps the format it was
 * created with and `tss info` names it; a bad value is a usage error; a
 * remote TSE has the server's format, so the option is refused there. The
 * export of a format-3 TSE, and one log of it, pass `verify` and
 * `verify-log`, which name the format. */
static void test_log_format(void **state)
{
    (void)state;
    char *url = tt_new_url("cli-format");
    run r = cli(url, "--json tss create --log-format 4");
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(jstr(&r, "message"), "2 or 3"));
    done(&r);
    r = cli(url, "--json tss create --log-format 2");
    if (tt_http()) {
        assert_int_equal(r.code, 3);
        assert_non_null(strstr(jstr(&r, "message"), "opentsed --log-format"));
        done(&r);
        free(url);
        return;
    }
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json tss info");
    assert_int_equal(r.code, 0);
    assert_int_equal(jint(&r, "log_format"), 2);
    done(&r);
    r = cli(url, "tss info");
    assert_non_null(strstr(r.out, "log format           2 (TR-03151 v1.0.1)"));
    done(&r);
    free(url);
    url = tt_new_url("cli-format3");
    r = cli(url, "--json tss create");
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json tss info");
    assert_int_equal(jint(&r, "log_format"), 3);
    done(&r);

    /* its export and one of its logs read by `verify` and `verify-log` */
    char *dir = th_path("cli-format3"), *tar = th_path("cli-format3.tar"), *pin = th_path("cli-format3.pin"), cmd[3000];
    assert_int_equal(th_write_file(pin, PIN "\n", strlen(PIN) + 1), 0);
    free(url);
    url = tt_new_url("cli-format3b");
    r = cli(url, "--json tss create");
    assert_int_equal(r.code, 0);
    setenv("OPENTSE_PUK", jstr(&r, "puk"), 1);
    done(&r);
    r = cli(url, "tss init --description 'format 3' --pin-file '%s'", pin);
    assert_int_equal(r.code, 0);
    done(&r);
    unsetenv("OPENTSE_PUK");
    r = cli(url, "--json tss info");
    char serial[65];
    snprintf(serial, sizeof serial, "%s", jstr(&r, "serial_number"));
    done(&r);
    r = cli(url, "export --out '%s'", tar);
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "verify '%s'", tar);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "log format: version 3"));
    done(&r);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && tar -xf '%s' -C '%s'", dir, dir, tar, dir);
    assert_int_equal(system(cmd), 0);
    r = cli(url, "verify-log --cert '%s/%s_X509.der' '%s'/*_Log-Sys_initialize.log", dir, serial, dir);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "log format: version 3"));
    done(&r);
    free(dir);
    free(tar);
    free(pin);
    free(url);
}

/* A TSE that cannot be reached: exit code 4, the journal keeps the operation. */
static void test_unreachable(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/tss/5b0f3c1e-8d2a-4e7b-9c6d-1a2b3c4d5e6f", tt_free_port());
    char *journal = th_path("cli.journal");
    setenv("OPENTSE_JOURNAL", journal, 1);
    setenv("OPENTSE_API_KEY", "k", 0);
    setenv("OPENTSE_API_SECRET", "s", 0);
    run r = cli(url, "--json tx start --client KASSE-9 --data sale");
    assert_int_equal(r.code, 4);
    assert_string_equal(jstr(&r, "code"), "UNREACHABLE");
    done(&r);
    unsetenv("OPENTSE_JOURNAL");
    r = cli(url, "--json outage report --journal '%s'", journal);
    assert_int_equal(r.code, 0);
    json_t *outages = json_object_get(r.json, "outages");
    assert_int_equal(json_array_size(outages), 1);
    json_t *ops = json_object_get(json_array_get(outages, 0), "operations");
    assert_int_equal(json_array_size(ops), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "client_id")), "KASSE-9");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "process_data")), "c2FsZQ==");
    done(&r);
    r = cli(url, "outage report --journal '%s'", journal);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "still unreachable"));
    assert_non_null(strstr(r.out, "KASSE-9"));
    done(&r);
    free(journal);
}

/* `opentse se update-device`: a package signed with the update key by the
 * openssl command line is applied (its version in `se device`); one with
 * its manifest changed after signing, and a missing file, are refused. */
static void test_update_device_command(void **state)
{
    (void)state;
    char *url = NULL;
    tse_close(tt_ready("cli-upd", &url));
    setenv("OPENTSE_ADMIN_PIN", TT_PIN, 1);
    char *m = th_path("cli-upd.manifest"), *key = th_path("update.key"), cmd[4096];
    const char *manifest = "OpenTSE update package 1\nSMAERS,OpenTSE,libopentse,7.0.1,\n";
    assert_int_equal(th_write_file(m, manifest, strlen(manifest)), 0);
    snprintf(cmd, sizeof cmd,
             "openssl dgst -sha256 -sign '%s' -out '%s.sig' '%s' && { cat '%s'; echo '-----BEGIN OPENTSE UPDATE "
             "SIGNATURE-----'; openssl base64 -in '%s.sig'; echo '-----END OPENTSE UPDATE SIGNATURE-----'; } > "
             "'%s.pkg' && sed 's/7.0.1/6.0.1/' '%s.pkg' > '%s.forged'",
             key, m, m, m, m, m, m, m);
    assert_int_equal(system(cmd), 0);
    run r = cli(url, "--json se update-device '%s.forged'", m);
    assert_int_equal(r.code, 3);
    assert_string_equal(jstr(&r, "code"), "UPDATE_DEVICE_FAILED");
    done(&r);
    r = cli(url, "--json se update-device '%s.pkg'", m);
    assert_int_equal(r.code, 0);
    done(&r);
    r = cli(url, "--json se device");
    json_t *c0 = json_array_get(json_object_get(r.json, "components"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "version")), "7.0.1");
    done(&r);
    r = cli(url, "--json se update-device '%s.missing'", m);
    assert_int_equal(r.code, 2);
    done(&r);
    r = cli(url, "--json se update-device");
    assert_int_equal(r.code, 2);
    done(&r);
    free(key);
    free(m);
    free(url);
}

int main(int argc, char **argv)
{
    /* the update key, before the server starts: opentsed reads it too */
    char *key = th_path("update.key"), *pub = th_path("update.pub"), cmd[2048];
    snprintf(cmd, sizeof cmd,
             "openssl ecparam -name prime256v1 -genkey -noout -out '%s' && openssl pkey -in '%s' -pubout -out '%s'",
             key, key, pub);
    if (system(cmd) != 0)
        return 1;
    setenv("OPENTSE_UPDATE_KEY", pub, 1);
    free(key);
    free(pub);
    tt_init(argc > 1 ? argv[1] : "file");
    setenv("OPENTSE_MASTER_KEY", th_master_key(), 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_and_transactions),
        cmocka_unit_test(test_admin_operations),
        cmocka_unit_test(test_usage_and_help),
        cmocka_unit_test(test_log_format),
        cmocka_unit_test(test_se_command),
        cmocka_unit_test(test_update_device_command),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests_name(tt_http() ? "cli_http" : "cli_file", tests, NULL, NULL);
}
