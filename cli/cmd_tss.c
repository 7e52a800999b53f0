/*
 * cmd_tss.c - `opentse tss create|init|disable|time|info`: the lifecycle of
 * a TSE over either transport, and the admin login the other admin
 * commands share. PIN and PUK come from the environment (OPENTSE_ADMIN_PIN,
 * OPENTSE_PUK) or from files (--pin-file, --puk-file), never from the
 * command line, and are never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char *tss_usage =
    "usage: opentse --url URL tss COMMAND [OPTIONS]\n"
    "\n"
    "  create [--curve NAME] [--own-clock]      a new TSE at URL (file: path or\n"
    "         [--log-format 2|3]                http(s)://host:port/tss/<uuid>);\n"
    "                                           prints its PUK once. Its logs are of\n"
    "                                           format 3 (TR-03151-1 v1.1.1) for its\n"
    "                                           whole life, or 2 (v1.0.1) with\n"
    "                                           --log-format 2 (file: only; opentsed\n"
    "                                           has --log-format). An embedded TSE\n"
    "                                           trusts the host clock unless\n"
    "                                           --own-clock (then its time is set per\n"
    "                                           process with tse_update_time)\n"
    "  init [--description TEXT]                set the admin PIN with the PUK (first\n"
    "                                           time), log in, initialize; an embedded\n"
    "                                           TSE also gets the host's time\n"
    "  disable                                  disable the TSE for good\n"
    "  time [--set UNIX_SECONDS]                set the TSE's time (default: now)\n"
    "  info, status                             state, counters, end of usage (the\n"
    "                                           earliest end of the certificate\n"
    "                                           chain) with a warning from 180 days\n"
    "                                           before it\n"
    "  successor                                a successor TSS in one step (remote\n"
    "                                           TSEs): same clients, the admin PIN as\n"
    "                                           its admin PIN; this TSS is exported,\n"
    "                                           verified and disabled once no\n"
    "                                           transaction is open (run it again\n"
    "                                           then). Prints the new URL and PUK\n"
    "  report [--certification-id ID]           the Section 146a (4) AO data of the\n"
    "                                           TSE and its registers: CSV, or JSON\n"
    "                                           with --json (ID also from\n"
    "                                           $OPENTSE_BSI_CERTIFICATION_ID)\n"
    "\n"
    "secrets: admin PIN from $OPENTSE_ADMIN_PIN or --pin-file FILE, PUK from\n"
    "$OPENTSE_PUK or --puk-file FILE. Remote TSEs: $OPENTSE_API_KEY and\n"
    "$OPENTSE_API_SECRET (or $OPENTSE_API_SECRET_FILE).\n";

static void wipe(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

int cli_no_secrets(cli_ctx *ctx, int argc, char **argv)
{
    static const char *secret[] = {"--pin", "--puk", "--api-secret", "--secret", "--admin-pin"};
    for (int i = 1; i < argc; i++)
        for (size_t k = 0; k < sizeof secret / sizeof secret[0]; k++) {
            size_t n = strlen(secret[k]);
            if (!strncmp(argv[i], secret[k], n) && (argv[i][n] == 0 || argv[i][n] == '='))
                return cli_fail(ctx, CLI_USAGE,
                                "%s: secrets are not taken from the command line; use the environment or a "
                                "*-file option (see --help)",
                                secret[k]);
        }
    return 0;
}

int cli_admin_login(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    char *pin = cli_secret("OPENTSE_ADMIN_PIN", cli_opt(argc, argv, "--pin-file"));
    if (!pin)
        return cli_fail(ctx, CLI_USAGE, "the admin PIN is needed: set OPENTSE_ADMIN_PIN or give --pin-file FILE");
    int left = 0;
    tse_err rc = tse_authenticate_user(t, TSE_USER_ADMIN, pin, NULL, &left);
    wipe(pin);
    return rc ? cli_tse_error(ctx, rc, "admin login failed") : 0;
}

static const char *state_name(tse_state s)
{
    static const char *names[] = {"CREATED", "UNINITIALIZED", "INITIALIZED", "DISABLED"};
    return (unsigned)s < 4 ? names[s] : "UNKNOWN";
}

static int print_info(cli_ctx *ctx, tse *t)
{
    tse_info i;
    tse_err rc = tse_get_info(t, &i);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the TSE");
    char serial[2 * TSE_SERIAL_LEN + 1];
    tse_hex(i.serial_number, TSE_SERIAL_LEN, serial);
    char end[32] = "", which[48], warning[300] = "";
    struct tm tm;
    time_t e = (time_t)i.end_of_usage;
    if (gmtime_r(&e, &tm))
        strftime(end, sizeof end, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (i.end_of_usage_certificate)
        snprintf(which, sizeof which, "CA certificate %d of the chain", (int)i.end_of_usage_certificate);
    else
        snprintf(which, sizeof which, "TSE certificate");
    if (i.end_of_usage_warning)
        snprintf(warning, sizeof warning, "%s: the %s %s %s (%d days): renew it or switch to a successor TSS",
                 i.end_of_usage_days_left < 0 ? "CERTIFICATE_EXPIRED" : "CERTIFICATE_EXPIRES_SOON", which,
                 i.end_of_usage_days_left < 0 ? "ended at" : "ends at", end, (int)i.end_of_usage_days_left);
    if (ctx->json) {
        json_t *j = json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:b, s:I, s:I, s:i, s:b, s:s}", "state",
            state_name(i.state), "serial_number", serial, "curve", tse_curve_name(i.curve), "signature_algorithm",
            i.signature_algorithm, "signature_counter", (json_int_t)i.signature_counter, "transaction_counter",
            (json_int_t)i.transaction_counter, "clients", (int)i.current_clients, "max_clients", (int)i.max_clients,
            "open_transactions", (int)i.current_open_transactions, "max_open_transactions",
            (int)i.max_open_transactions, "overdue_open_transactions", (int)i.overdue_open_transactions, "time_set",
            i.time_set, "time", (json_int_t)i.time_now, "certificate_not_after", (json_int_t)i.cert_not_after,
            "certificate_days_left", (int)i.cert_days_left, "self_test_ok", i.self_test_ok, "description",
            i.description);
        if (j)
            json_object_set_new(j, "end_of_usage",
                                json_pack("{s:s, s:I, s:i, s:s, s:i, s:i}", "time", end, "unix",
                                          (json_int_t)i.end_of_usage, "days_left", (int)i.end_of_usage_days_left,
                                          "certificate", i.end_of_usage_certificate ? "CA" : "TSE", "chain_index",
                                          (int)i.end_of_usage_certificate, "warning_days",
                                          (int)i.end_of_usage_warning));
        if (j && i.log_format_version)
            json_object_set_new(j, "log_format", json_integer(i.log_format_version));
        if (j)
            json_object_set_new(j, "warnings", *warning ? json_pack("[s]", warning) : json_array());
        cli_print_json(j);
    } else {
        printf("state                %s\n"
               "serial number        %s\n"
               "signature algorithm  %s (%s)\n"
               "signature counter    %llu\n"
               "transaction counter  %llu\n"
               "clients              %u of %u\n"
               "open transactions    %u of %u (%u past %d s)\n"
               "certificate          %d day%s left\n"
               "end of usage         %s, %d days left (%s)\n"
               "self-test            %s\n"
               "description          %s\n",
               state_name(i.state), serial, i.signature_algorithm, tse_curve_name(i.curve),
               (unsigned long long)i.signature_counter, (unsigned long long)i.transaction_counter, i.current_clients,
               i.max_clients, i.current_open_transactions, i.max_open_transactions, i.overdue_open_transactions,
               TSE_MAX_UPDATE_DELAY_SECONDS, i.cert_days_left, i.cert_days_left == 1 ? "" : "s", end,
               (int)i.end_of_usage_days_left, which, i.self_test_ok ? "passed" : "FAILED", i.description);
        if (i.log_format_version)
            printf("log format           %d (TR-03151%s)\n", i.log_format_version,
                   i.log_format_version == 3 ? "-1 v1.1.1" : " v1.0.1");
        if (*warning)
            printf("warning              %s\n", warning);
    }
    return CLI_OK;
}

static int successor(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    char *pin = cli_secret("OPENTSE_ADMIN_PIN", cli_opt(argc, argv, "--pin-file"));
    if (!pin)
        return cli_fail(ctx, CLI_USAGE, "the admin PIN is needed: set OPENTSE_ADMIN_PIN or give --pin-file FILE");
    char id[37], puk[TSE_PUK_LEN + 1];
    tse_err rc = tse_create_successor(t, pin, id, puk);
    wipe(pin);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot create the successor TSS");
    char url[600];
    const char *cut = strstr(ctx->url, "/tss/");
    snprintf(url, sizeof url, "%.*s/tss/%s", cut ? (int)(cut - ctx->url) : (int)strlen(ctx->url), ctx->url, id);
    tse_info old;
    rc = tse_get_info(t, &old);
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "successor_id", id, "url", url, "puk", puk, "old_state",
                                 rc ? "UNKNOWN" : state_name(old.state)));
    else
        printf("successor %s\nurl %s\nPUK %s  (shown this once: keep it safe)\nthis TSS is %s%s\n", id, url,
               *puk ? puk : "(given before)", rc ? "UNKNOWN" : state_name(old.state),
               !rc && old.state != TSE_STATE_DISABLED
                   ? ": transactions are open; run `tss successor` again once they have finished"
                   : "");
    explicit_bzero(puk, sizeof puk);
    return CLI_OK;
}

static int create(cli_ctx *ctx, int argc, char **argv)
{
    if (!ctx->url)
        return cli_fail(ctx, CLI_USAGE, "no TSE given: use --url URL or set OPENTSE_URL");
    tse_create_options co = {.master_key_path = ctx->master_key,
                             .trust_system_clock = !cli_flag(argc, argv, "--own-clock")};
    const char *curve = cli_opt(argc, argv, "--curve");
    if (curve) {
        bool found = false;
        for (int c = TSE_CURVE_P256; c <= TSE_CURVE_BRAINPOOL_P512R1 && !found; c++)
            if (!strcmp(curve, tse_curve_name((tse_curve)c))) {
                co.curve = (tse_curve)c;
                found = true;
            }
        if (!found)
            return cli_fail(ctx, CLI_USAGE, "unknown curve '%s'", curve);
    }
    const char *format = cli_opt(argc, argv, "--log-format");
    if (format && strcmp(format, "2") && strcmp(format, "3"))
        return cli_fail(ctx, CLI_USAGE, "--log-format '%s': 2 or 3", format);
    co.log_format_version = format ? format[0] - '0' : 0;
    char *api_secret = getenv("OPENTSE_API_SECRET_FILE") ? cli_secret(NULL, getenv("OPENTSE_API_SECRET_FILE")) : NULL;
    tse_open_options remote = {.api_secret = api_secret};
    co.remote = &remote;
    const char *path = strncmp(ctx->url, "file:", 5) == 0 ? ctx->url + 5 : ctx->url;
    char puk[TSE_PUK_LEN + 1];
    tse_err rc = tse_create(path, &co, puk);
    wipe(api_secret);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot create the TSE");
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:s, s:s}", "url", ctx->url, "puk", puk, "state", "CREATED"));
    else
        printf("created %s\nPUK %s  (shown this once: keep it safe)\n", ctx->url, puk);
    explicit_bzero(puk, sizeof puk);
    return CLI_OK;
}

static int init(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    tse_info info;
    tse_err rc = tse_get_info(t, &info);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the TSE");
    if (info.state == TSE_STATE_CREATED) {
        char *puk = cli_secret("OPENTSE_PUK", cli_opt(argc, argv, "--puk-file"));
        char *pin = cli_secret("OPENTSE_ADMIN_PIN", cli_opt(argc, argv, "--pin-file"));
        if (!puk || !pin) {
            wipe(puk);
            wipe(pin);
            return cli_fail(ctx, CLI_USAGE,
                            "the PUK and a new admin PIN are needed: OPENTSE_PUK / --puk-file and OPENTSE_ADMIN_PIN "
                            "/ --pin-file");
        }
        rc = tse_set_admin_pin(t, puk, pin);
        wipe(puk);
        wipe(pin);
        if (rc)
            return cli_tse_error(ctx, rc, "cannot set the admin PIN");
    }
    int ec = cli_admin_login(ctx, t, argc, argv);
    if (ec)
        return ec;
    if (info.state != TSE_STATE_INITIALIZED) {
        rc = tse_initialize(t, cli_opt(argc, argv, "--description"));
        if (rc)
            return cli_tse_error(ctx, rc, "cannot initialize the TSE");
    }
    if (tse_get_info(t, &info) == TSE_OK && !info.time_set &&
        (rc = tse_update_time(t, (int64_t)time(NULL))) != TSE_OK)
        return cli_tse_error(ctx, rc, "cannot set the time");
    return print_info(ctx, t);
}

int cmd_tss(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(tss_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    int bad = cli_no_secrets(ctx, argc, argv);
    if (bad)
        return bad;
    if (!strcmp(sub, "create"))
        return create(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "init") && strcmp(sub, "disable") && strcmp(sub, "time") && strcmp(sub, "info") &&
        strcmp(sub, "status") && strcmp(sub, "successor") &&
        strcmp(sub, "report"))
        return cli_fail(ctx, CLI_USAGE, "unknown tss command '%s' (see opentse tss --help)", sub);
    const char *set = cli_opt(argc, argv, "--set");
    char *end = NULL;
    long long when = set ? strtoll(set, &end, 10) : (long long)time(NULL);
    if (set && (!*set || *end))
        return cli_fail(ctx, CLI_USAGE, "--set needs seconds since the epoch, not '%s'", set);
    tse *t = NULL;
    int ec = cli_open(ctx, &t);
    if (ec)
        return ec;
    tse_err rc = TSE_OK;
    if (!strcmp(sub, "info") || !strcmp(sub, "status"))
        ec = print_info(ctx, t);
    else if (!strcmp(sub, "init"))
        ec = init(ctx, t, argc - 1, argv + 1);
    else if (!strcmp(sub, "report"))
        ec = cli_tss_report(ctx, t, argc - 1, argv + 1);
    else if (!strcmp(sub, "successor"))
        ec = successor(ctx, t, argc - 1, argv + 1);
    else if (!(ec = cli_admin_login(ctx, t, argc - 1, argv + 1))) {
        rc = !strcmp(sub, "disable") ? tse_disable_secure_element(t) : tse_update_time(t, (int64_t)when);
        ec = rc ? cli_tse_error(ctx, rc, !strcmp(sub, "disable") ? "cannot disable the TSE" : "cannot set the time")
                : print_info(ctx, t);
    }
    tse_close(t);
    return ec;
}
