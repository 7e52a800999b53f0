/*
 * main.c - `opentse`: one binary, one subcommand per job. Parses the global
 * options, finds the subcommand and runs it; the shared helpers of cli.h
 * live here too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Subcommands: each is defined in its own cmd_<name>.c. */
static const cli_command commands[] = {
    {"verify", cmd_verify, "check export archives of any TSE"},
    {"verify-log", cmd_verify_log, "check single log messages"},
    {"qr", cmd_qr, "verify or render a DSFinV-K receipt QR code"},
    {"dsfinvk", cmd_dsfinvk, "DSFinV-K tse.csv and transactions_tse.csv from a TSE's logs"},
    {"tss", cmd_tss, "create, initialize, disable a TSE; its time and status"},
    {"client", cmd_client, "register, deregister and list cash registers"},
    {"tx", cmd_tx, "start, update, finish and list transactions"},
    {"outage", cmd_outage, "report the outages in the outage journal"},
    {"export", cmd_export, "write a TR-03151 export archive (filters, incremental --cursor)"},
    {"delete-stored-data", cmd_delete_stored_data, "delete logs that were exported (admin)"},
    {"restore", cmd_restore, "restore lost logs from export archives (admin)"},
    {"se", cmd_se, "the other TR-03151-1 functions: description, lock, device, health, logs"},
    {"keygen", cmd_keygen, "write a new master key file for embedded TSEs (mode 0600)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: opentse [--url URL] [--master-key FILE] [--json] COMMAND [ARGS]\n"
            "       opentse --version\n"
            "\n"
            "  --url URL          the TSE: file:/path/tse.db or http(s)://host:port/tss/<uuid>\n"
            "                     ($OPENTSE_URL)\n"
            "  --master-key FILE  master key of an embedded TSE ($OPENTSE_MASTER_KEY)\n"
            "  --json             machine-readable output on stdout\n"
            "\n"
            "commands:\n");
    for (const cli_command *c = commands; c->name; c++)
        fprintf(f, "  %-14s %s\n", c->name, c->summary);
    fprintf(f,
            "\n"
            "`opentse COMMAND --help` describes each command.\n"
            "exit codes: 0 ok, 1 check found problems, 2 usage, 3 refused by the TSE,\n"
            "            4 TSE unreachable, 5 other error\n");
}

int cli_open(cli_ctx *ctx, tse **out)
{
    if (!ctx->url)
        return cli_fail(ctx, CLI_USAGE, "no TSE given: use --url URL or set OPENTSE_URL");
    /* a remote TSE's API secret may come from a file */
    const char *secret_file = getenv("OPENTSE_API_SECRET_FILE");
    char *secret = secret_file ? cli_secret(NULL, secret_file) : NULL;
    if (secret_file && !secret)
        return cli_fail(ctx, CLI_USAGE, "cannot read OPENTSE_API_SECRET_FILE %s", secret_file);
    tse_open_options o = {.master_key_path = ctx->master_key, .api_secret = secret,
                          .recovery = ctx->recovery};
    tse_err rc = tse_open(ctx->url, &o, out);
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    return rc == TSE_OK ? 0 : cli_tse_error(ctx, rc, "cannot open the TSE");
}

int cli_tse_error(cli_ctx *ctx, tse_err rc, const char *what)
{
    const char *detail = tse_last_error_message();
    if (!detail || !*detail)
        detail = tse_strerror(rc);
    /* the detail names the code already ("NAME: message"): print it once */
    size_t nl = strlen(tse_errname(rc));
    bool named = !strncmp(detail, tse_errname(rc), nl) && detail[nl] == ':';
    if (ctx->json) {
        cli_print_json(json_pack("{s:s, s:s, s:i, s:s}", "error", what, "code", tse_errname(rc),
                                 "code_value", (int)rc, "message", detail));
    } else {
        fprintf(stderr, "%s: %s: %s%s%s%s\n", ctx->prog, what, detail, named ? "" : " (", named ? "" : tse_errname(rc),
                named ? "" : ")");
    }
    return rc == TSE_ERR_UNREACHABLE ? CLI_UNREACHABLE
           : (rc == TSE_ERR_NO_MEMORY || rc == TSE_ERR_INTERNAL) ? CLI_INTERNAL
                                                                  : CLI_REFUSED;
}

/* Value of option `name` in argv (removed from view by the caller), or NULL. */
const char *cli_opt(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], name) && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], name, n) && argv[i][n] == '=')
            return argv[i] + n + 1;
    }
    return NULL;
}

bool cli_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return true;
    return false;
}

int cli_fail(cli_ctx *ctx, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:s}", "error", code == CLI_USAGE ? "usage" : "failed", "message", msg));
    else
        fprintf(stderr, "%s: %s\n", ctx->prog, msg);
    return code;
}

void cli_print_json(json_t *obj)
{
    if (!obj)
        return;
    json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', stdout);
    json_decref(obj);
}

char *cli_secret(const char *env, const char *file)
{
    const char *v = env ? getenv(env) : NULL;
    if (v && *v)
        return strdup(v);
    if (!file)
        return NULL;
    FILE *f = fopen(file, "r");
    if (!f)
        return NULL;
    char buf[1024];
    char *s = fgets(buf, sizeof buf, f) ? strdup(buf) : NULL;
    fclose(f);
    if (s)
        s[strcspn(s, "\r\n")] = 0;
    explicit_bzero(buf, sizeof buf);
    return s;
}

static struct timespec progress_last;

void cli_progress(const cli_ctx *ctx, uint64_t done, uint64_t total)
{
    if (ctx->json || !isatty(STDERR_FILENO))
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (done != total && now.tv_sec * 10 + now.tv_nsec / 100000000 ==
                             progress_last.tv_sec * 10 + progress_last.tv_nsec / 100000000)
        return;
    progress_last = now;
    if (total) {
        int width = 40, fill = (int)(done * width / (total ? total : 1));
        fprintf(stderr, "\r[%-*.*s] %llu/%llu", width, fill, "########################################",
                (unsigned long long)done, (unsigned long long)total);
    } else {
        fprintf(stderr, "\r%llu", (unsigned long long)done);
    }
    fflush(stderr);
}

void cli_progress_end(const cli_ctx *ctx)
{
    if (!ctx->json && isatty(STDERR_FILENO))
        fputc('\n', stderr);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {.prog = "opentse", .url = getenv("OPENTSE_URL"),
                   .master_key = getenv("OPENTSE_MASTER_KEY")};
    /* Global options may come before the command; the command's own
     * arguments are passed on with the global ones removed. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return CLI_INTERNAL;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            ctx.json = true;
        else if (!strcmp(argv[i], "--url") || !strcmp(argv[i], "--master-key")) {
            if (i + 1 >= argc) {
                free(rest);
                return cli_fail(&ctx, CLI_USAGE, "%s needs a value", argv[i]);
            }
            if (!strcmp(argv[i], "--url"))
                ctx.url = argv[++i];
            else
                ctx.master_key = argv[++i];
        } else if (!strncmp(argv[i], "--url=", 6))
            ctx.url = argv[i] + 6;
        else if (!strncmp(argv[i], "--master-key=", 13))
            ctx.master_key = argv[i] + 13;
        else
            rest[n++] = argv[i];
    }
    int rc;
    if (n == 0 || !strcmp(rest[0], "--help") || !strcmp(rest[0], "-h") || !strcmp(rest[0], "help")) {
        usage(n == 0 ? stderr : stdout);
        rc = n == 0 ? CLI_USAGE : CLI_OK;
    } else if (!strcmp(rest[0], "--version") || !strcmp(rest[0], "version")) {
        printf("opentse %s (libopentse %s)\n", OPENTSE_VERSION, tse_version());
        rc = CLI_OK;
    } else {
        const cli_command *c = commands;
        while (c->name && strcmp(c->name, rest[0]))
            c++;
        if (!c->name) {
            rc = cli_fail(&ctx, CLI_USAGE, "unknown command '%s' (see opentse --help)", rest[0]);
        } else {
            char prog[64];
            snprintf(prog, sizeof prog, "opentse %s", c->name);
            ctx.prog = prog;
            rc = c->run(&ctx, n, rest);
        }
    }
    free(rest);
    return rc;
}
