/*
 * cmd_se.c - `opentse se`: the TR-03151-1 v1.1.1 functions the other
 * commands do not cover, one subcommand each: setDescription /
 * getDescription, lock/unlockTransactionLogging, the device information
 * (memory, time sync variant, component versions), getDeviceHealth,
 * getCurrentSeTime, the counters, getLastLogMessage /
 * getLastTransactionLogMessage, getTransactionState, getOpenTransactions,
 * exportLoggingCertificates, configureLogging and updateDevice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"
#include "cli.h"
#include "codec/der.h"

static const char se_usage[] =
    "usage: opentse se COMMAND [ARGS]  (--url, --json as for every command)\n"
    "\n"
    "  description                       getDescription\n"
    "  set-description TEXT              setDescription (admin; up to 64 characters)\n"
    "  lock | unlock                     lock/unlockTransactionLogging (admin)\n"
    "  device                            memory, time sync variant, lock, components\n"
    "                                    (getTotalMemory, getUsedMemory, getFreeMemory,\n"
    "                                    getTimeSyncVariant, getComponentVersions)\n"
    "  health                            getDeviceHealth\n"
    "  time                              getCurrentSeTime\n"
    "  counters                          getCurrentTransactionCounter,\n"
    "                                    getCurrentLoggingSignatureCounters\n"
    "  last-log [--transaction N|--any-transaction] [--out FILE]\n"
    "                                    getLastLogMessage / getLastTransactionLogMessage\n"
    "  tx-state N                        getTransactionState\n"
    "  open-transactions                 getOpenTransactions (TransactionInfoSet)\n"
    "  certificates --out FILE           exportLoggingCertificates (a TAR archive)\n"
    "  configure-logging COMPONENT EVENT on|off\n"
    "                                    configureLogging\n"
    "  update-device FILE                updateDevice (admin): apply the signed update\n"
    "                                    package FILE (docs/se-api.md)\n"
    "  logger-pin                        sets the logger's PIN (admin) from\n"
    "                                    $OPENTSE_NEW_LOGGER_PIN or --new-pin-file FILE:\n"
    "                                    from then on transactions need the logger\n"
    "                                    logged in (TR-03153-1 table 9; opentse tx)\n"
    "\n"
    "The admin's PIN comes from $OPENTSE_ADMIN_PIN or --pin-file FILE.\n";

static char *hex_of(const uint8_t *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (h)
        tse_hex(p, n, h);
    return h;
}

/* Prints `j` (taken) with --json, else `text`. */
static int show(cli_ctx *ctx, json_t *j, const char *text)
{
    if (ctx->json)
        cli_print_json(j);
    else {
        fputs(text, stdout);
        json_decref(j);
    }
    return CLI_OK;
}

static int device(cli_ctx *ctx, tse *t)
{
    tse_device_info d;
    tse_err rc = tse_get_device_info(t, &d);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the device information");
    static const char *const sync[] = {"automaticSync", "manualSync", "automaticAndManualSync"};
    json_t *comps = json_array();
    char text[2048], fm[40] = "not reported by the store";
    if (d.free_memory_known)
        snprintf(fm, sizeof fm, "%llu bytes", (unsigned long long)d.free_memory);
    int n = snprintf(text, sizeof text,
                     "total memory         %llu bytes\nused memory          %llu bytes\nfree memory          %s\n"
                     "time sync variant    %s\ntransaction logging  %s\ncomponents:\n",
                     (unsigned long long)d.total_memory, (unsigned long long)d.used_memory, fm,
                     sync[d.time_sync_variant], d.transaction_logging_locked ? "locked" : "unlocked");
    for (size_t i = 0; i < d.n_components; i++) {
        const tse_component *c = &d.components[i];
        json_array_append_new(comps, json_pack("{s:s, s:s, s:s, s:s, s:s}", "component", c->name, "manufacturer",
                                               c->manufacturer, "model", c->model, "version", c->version,
                                               "certification_id", c->certification_id));
        if (n > 0 && (size_t)n < sizeof text)
            n += snprintf(text + n, sizeof text - (size_t)n, "  %-22s %s, %s %s\n", c->name, c->manufacturer,
                          c->model, c->version);
    }
    json_t *j = json_pack("{s:I, s:I, s:o, s:s, s:b, s:o}", "total_memory", (json_int_t)d.total_memory,
                          "used_memory", (json_int_t)d.used_memory, "free_memory",
                          d.free_memory_known ? json_integer((json_int_t)d.free_memory) : json_null(),
                          "time_sync_variant", sync[d.time_sync_variant], "transaction_logging_locked",
                          d.transaction_logging_locked, "components", comps);
    return show(ctx, j, text);
}

static int health(cli_ctx *ctx, tse *t)
{
    uint8_t *der = NULL;
    size_t len = 0;
    tse_err rc = tse_get_device_health(t, &der, &len);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the device health");
    static const char *const level[] = {"ok", "warning", "error", "fatal"};
    json_t *recs = json_array();
    char text[2048] = "";
    size_t n = 0;
    der_r top = der_r_init(der, len), set;
    der_tlv seq, rec, f;
    if (der_read(&top, &seq)) {
        set = der_r_init(seq.content, seq.content_len);
        while (der_read(&set, &rec)) {
            der_r r = der_r_init(rec.content, rec.content_len);
            char name[64] = "", why[256] = "";
            uint64_t lv = 0;
            if (der_read(&r, &f))
                snprintf(name, sizeof name, "%.*s", (int)f.content_len, (const char *)f.content);
            if (der_read(&r, &f))
                der_get_uint(&f, &lv);
            if (der_read(&r, &f))
                snprintf(why, sizeof why, "%.*s", (int)f.content_len, (const char *)f.content);
            const char *lname = lv < 4 ? level[lv] : "unknown";
            json_array_append_new(recs, json_pack("{s:s, s:s, s:s?}", "component", name, "health", lname,
                                                  "description", why[0] ? why : NULL));
            if (n < sizeof text)
                n += (size_t)snprintf(text + n, sizeof text - n, "%-22s %-8s %s\n", name, lname, why);
        }
    }
    char *hex = hex_of(der, len);
    tse_free(der);
    int ec = show(ctx, json_pack("{s:o, s:s}", "components", recs, "der", hex ? hex : ""), text);
    free(hex);
    return ec;
}

static int counters(cli_ctx *ctx, tse *t)
{
    uint64_t tx = 0;
    uint8_t *der = NULL;
    size_t len = 0;
    tse_info info;
    tse_err rc = tse_get_current_transaction_counter(t, &tx);
    if (!rc)
        rc = tse_get_current_logging_signature_counters(t, &der, &len);
    if (!rc)
        rc = tse_get_info(t, &info);
    if (rc) {
        tse_free(der);
        return cli_tse_error(ctx, rc, "cannot read the counters");
    }
    char serial[2 * TSE_SERIAL_LEN + 1], text[300];
    tse_hex(info.serial_number, TSE_SERIAL_LEN, serial);
    char *hex = hex_of(der, len);
    tse_free(der);
    snprintf(text, sizeof text, "transaction counter  %llu\nsignature counter    %llu (key %s)\n",
             (unsigned long long)tx, (unsigned long long)info.signature_counter, serial);
    int ec = show(ctx,
                  json_pack("{s:I, s:[{s:s, s:I}], s:s}", "transaction_counter", (json_int_t)tx,
                            "signature_counters", "key_serial_number", serial, "counter",
                            (json_int_t)info.signature_counter, "der", hex ? hex : ""),
                  text);
    free(hex);
    return ec;
}

static int write_file(cli_ctx *ctx, const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(p, 1, n, f) == n;
    if (f)
        ok = fclose(f) == 0 && ok;
    return ok ? 0 : cli_fail(ctx, CLI_INTERNAL, "cannot write %s", path);
}

static bool parse_number(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    *out = v;
    return !*end && v > 0;
}

static int last_log(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    const char *num = cli_opt(argc, argv, "--transaction");
    bool any = cli_flag(argc, argv, "--any-transaction");
    uint64_t n = 0;
    if (num && (any || !parse_number(num, &n)))
        return cli_fail(ctx, CLI_USAGE, "--transaction needs a transaction number from 1 (without --any-transaction)");
    char name[TSE_MAX_LOG_FILE_NAME];
    uint8_t *msg = NULL;
    size_t len = 0;
    tse_err rc = num || any ? tse_get_last_transaction_log_message(t, n, name, &msg, &len)
                            : tse_get_last_log_message(t, name, &msg, &len);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the log message");
    const char *out = cli_opt(argc, argv, "--out");
    int ec = out ? write_file(ctx, out, msg, len) : 0;
    char *b64 = ec ? NULL : base64_encode_alloc(msg, len);
    tse_free(msg);
    if (ec || !b64) {
        free(b64);
        return ec ? ec : cli_fail(ctx, CLI_INTERNAL, "out of memory");
    }
    char text[TSE_MAX_LOG_FILE_NAME + 64];
    snprintf(text, sizeof text, "%s (%zu bytes)\n", name, len);
    ec = show(ctx, json_pack("{s:s, s:I, s:s}", "file_name", name, "size", (json_int_t)len, "log_message", b64),
              text);
    free(b64);
    return ec;
}

static int tx_state(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    uint64_t n = 0;
    if (argc < 2 || !parse_number(argv[1], &n))
        return cli_fail(ctx, CLI_USAGE, "tx-state needs a transaction number from 1");
    tse_transaction_state s;
    tse_err rc = tse_get_transaction_state(t, n, &s);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the transaction's state");
    static const char *const names[] = {"started", "updated", "updatedWithUnprotectedData", "finished",
                                        "abandoned"};
    char text[80];
    snprintf(text, sizeof text, "%s\n", names[s]);
    return show(ctx, json_pack("{s:I, s:s}", "transaction_number", (json_int_t)n, "state", names[s]), text);
}

static int open_transactions(cli_ctx *ctx, tse *t)
{
    uint8_t *der = NULL;
    size_t len = 0;
    tse_err rc = tse_get_open_transactions(t, &der, &len);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the open transactions");
    json_t *list = json_array();
    char text[4096] = "";
    size_t n = 0;
    der_r top = der_r_init(der, len);
    der_tlv seq, rec, f;
    if (der_read(&top, &seq)) {
        der_r set = der_r_init(seq.content, seq.content_len);
        while (der_read(&set, &rec)) {
            der_r r = der_r_init(rec.content, rec.content_len);
            uint64_t num = 0;
            if (der_read(&r, &f))
                der_get_uint(&f, &num);
            json_array_append_new(list, json_integer((json_int_t)num));
            if (n < sizeof text)
                n += (size_t)snprintf(text + n, sizeof text - n, "%llu\n", (unsigned long long)num);
        }
    }
    char *hex = hex_of(der, len);
    tse_free(der);
    int ec = show(ctx, json_pack("{s:o, s:s}", "transaction_numbers", list, "der", hex ? hex : ""), text);
    free(hex);
    return ec;
}

static int to_file(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : TSE_ERR_STORAGE_FAILURE;
}

static int certificates(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    const char *out = cli_opt(argc, argv, "--out");
    if (!out)
        return cli_fail(ctx, CLI_USAGE, "certificates needs --out FILE");
    FILE *f = fopen(out, "wb");
    if (!f)
        return cli_fail(ctx, CLI_INTERNAL, "cannot create %s", out);
    tse_err rc = tse_export_logging_certificates(t, to_file, f);
    if (fclose(f) != 0 && !rc)
        rc = TSE_ERR_STORAGE_FAILURE;
    if (rc) {
        remove(out);
        return cli_tse_error(ctx, rc, "cannot export the certificates");
    }
    char text[1100];
    snprintf(text, sizeof text, "certificates written to %s\n", out);
    return show(ctx, json_pack("{s:s}", "file", out), text);
}

/* update-device FILE: the package read whole (at most TSE_MAX_UPDATE_PACKAGE bytes). */
static int update_device(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        return cli_fail(ctx, CLI_USAGE, "update-device needs the update package FILE");
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return cli_fail(ctx, CLI_USAGE, "cannot open %s", argv[1]);
    uint8_t *pkg = malloc(TSE_MAX_UPDATE_PACKAGE + 1);
    size_t n = pkg ? fread(pkg, 1, TSE_MAX_UPDATE_PACKAGE + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!pkg || bad) {
        free(pkg);
        return cli_fail(ctx, CLI_INTERNAL, "cannot read %s", argv[1]);
    }
    if (n > TSE_MAX_UPDATE_PACKAGE) {
        free(pkg);
        return cli_fail(ctx, CLI_USAGE, "%s is larger than %d bytes: not an update package", argv[1],
                        TSE_MAX_UPDATE_PACKAGE);
    }
    int ec = cli_admin_login(ctx, t, argc, argv);
    tse_err rc = ec ? TSE_OK : tse_update_device(t, pkg, n);
    free(pkg);
    if (ec)
        return ec;
    if (rc)
        return cli_tse_error(ctx, rc, "the update was not applied");
    return show(ctx, json_pack("{s:b}", "ok", 1), "update applied\n");
}

/* The logger's PIN, set by the admin (tse_set_user_pin). */
static int logger_pin(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    char *pin = cli_secret("OPENTSE_NEW_LOGGER_PIN", cli_opt(argc, argv, "--new-pin-file"));
    if (!pin)
        return cli_fail(ctx, CLI_USAGE, "the new PIN is needed: set OPENTSE_NEW_LOGGER_PIN or give --new-pin-file FILE");
    int ec = cli_admin_login(ctx, t, argc, argv);
    tse_err rc = ec ? TSE_OK : tse_set_user_pin(t, TSE_USER_LOGGER, pin);
    explicit_bzero(pin, strlen(pin));
    free(pin);
    if (ec)
        return ec;
    if (rc)
        return cli_tse_error(ctx, rc, "cannot set the logger's PIN");
    return show(ctx, json_pack("{s:b}", "ok", 1), "the logger's PIN is set: transactions need the logger logged in\n");
}

static int admin_op(cli_ctx *ctx, tse *t, int argc, char **argv, const char *sub)
{
    const char *desc = NULL;
    if (!strcmp(sub, "set-description")) {
        if (argc < 2 || argv[1][0] == '-')
            return cli_fail(ctx, CLI_USAGE, "set-description needs the description");
        desc = argv[1];
    }
    int ec = cli_admin_login(ctx, t, argc, argv);
    if (ec)
        return ec;
    tse_err rc = desc ? tse_set_description(t, desc)
                 : !strcmp(sub, "lock") ? tse_lock_transaction_logging(t)
                                        : tse_unlock_transaction_logging(t);
    if (rc)
        return cli_tse_error(ctx, rc, desc ? "cannot set the description" : "cannot change the lock");
    char text[160];
    snprintf(text, sizeof text, "%s\n", desc ? "description set" : !strcmp(sub, "lock") ? "transaction logging locked"
                                                                                          : "transaction logging unlocked");
    return show(ctx, json_pack("{s:b}", "ok", 1), text);
}

int cmd_se(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(se_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    static const char *const known[] = {"description", "set-description", "lock", "unlock", "device", "health",
                                        "time", "counters", "last-log", "tx-state", "open-transactions",
                                        "certificates", "configure-logging", "update-device", "logger-pin"};
    bool found = false;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        found = found || !strcmp(sub, known[i]);
    if (!found)
        return cli_fail(ctx, CLI_USAGE, "unknown se command '%s' (see opentse se --help)", sub);
    int bad = cli_no_secrets(ctx, argc, argv);
    if (bad)
        return bad;
    if (!strcmp(sub, "configure-logging") &&
        (argc != 5 || (strcmp(argv[4], "on") && strcmp(argv[4], "off"))))
        return cli_fail(ctx, CLI_USAGE, "configure-logging needs COMPONENT EVENT on|off");
    tse *t = NULL;
    int ec = cli_open(ctx, &t);
    if (ec)
        return ec;
    argc--;
    argv++;
    if (!strcmp(sub, "device"))
        ec = device(ctx, t);
    else if (!strcmp(sub, "health"))
        ec = health(ctx, t);
    else if (!strcmp(sub, "counters"))
        ec = counters(ctx, t);
    else if (!strcmp(sub, "last-log"))
        ec = last_log(ctx, t, argc, argv);
    else if (!strcmp(sub, "tx-state"))
        ec = tx_state(ctx, t, argc, argv);
    else if (!strcmp(sub, "open-transactions"))
        ec = open_transactions(ctx, t);
    else if (!strcmp(sub, "certificates"))
        ec = certificates(ctx, t, argc, argv);
    else if (!strcmp(sub, "set-description") || !strcmp(sub, "lock") || !strcmp(sub, "unlock"))
        ec = admin_op(ctx, t, argc, argv, sub);
    else if (!strcmp(sub, "update-device"))
        ec = update_device(ctx, t, argc, argv);
    else if (!strcmp(sub, "logger-pin"))
        ec = logger_pin(ctx, t, argc, argv);
    else if (!strcmp(sub, "configure-logging")) {
        tse_err rc = tse_configure_logging(t, argv[1], argv[2], !strcmp(argv[3], "on"));
        ec = rc ? cli_tse_error(ctx, rc, "cannot configure the logging") : show(ctx, json_pack("{s:b}", "ok", 1), "ok\n");
    } else if (!strcmp(sub, "description")) {
        char d[TSE_MAX_DESCRIPTION_LEN + 1], text[TSE_MAX_DESCRIPTION_LEN + 2];
        tse_err rc = tse_get_description(t, d);
        snprintf(text, sizeof text, "%s\n", d);
        ec = rc ? cli_tse_error(ctx, rc, "cannot read the description")
                : show(ctx, json_pack("{s:s}", "description", d), text);
    } else {   /* time */
        int64_t now = 0;
        tse_err rc = tse_get_current_se_time(t, &now);
        char text[64];
        snprintf(text, sizeof text, "%lld\n", (long long)now);
        ec = rc ? cli_tse_error(ctx, rc, "cannot read the TSE's time")
                : show(ctx, json_pack("{s:I}", "unix_time", (json_int_t)now), text);
    }
    tse_close(t);
    return ec;
}
