/*
 * cli.h - what the subcommands of `opentse` share: global options, opening
 * the TSE named by --url, printing results (human or --json), errors with
 * documented exit codes, reading secrets, and a progress bar on a terminal.
 *
 * Each subcommand lives in its own cmd_<name>.c and is listed in main.c.
 */
#ifndef OPENTSE_CLI_H
#define OPENTSE_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "opentse/opentse.h"

/* Exit codes, the same for every subcommand (docs/cli.md). */
enum {
    CLI_OK = 0,
    CLI_FAILED = 1,       /* the check ran and found problems (verify, qr verify) */
    CLI_USAGE = 2,        /* bad command line */
    CLI_REFUSED = 3,      /* the TSE refused the operation (a TR-03151 error) */
    CLI_UNREACHABLE = 4,  /* the TSE could not be reached */
    CLI_INTERNAL = 5,     /* anything else: I/O, memory */
};

/* Global options, given before or after the subcommand name. */
typedef struct cli_ctx {
    const char *prog;         /* "opentse <command>" for messages */
    const char *url;          /* --url, else $OPENTSE_URL */
    const char *master_key;   /* --master-key FILE, else $OPENTSE_MASTER_KEY */
    bool json;                /* --json */
    bool recovery;            /* open an embedded TSE for recovery (restore --recovery) */
} cli_ctx;

typedef struct cli_command {
    const char *name;
    int (*run)(cli_ctx *ctx, int argc, char **argv);   /* argv[0] = name */
    const char *summary;
} cli_command;

/* Opens the TSE named by ctx->url. On failure prints the error and returns
 * the exit code; 0 on success. */
int cli_open(cli_ctx *ctx, tse **out);

/* Prints a TSE error (code name, message, last error detail) as text on
 * stderr or as JSON {"error","code","message"} on stdout with --json, and
 * returns the matching exit code. */
int cli_tse_error(cli_ctx *ctx, tse_err rc, const char *what);

/* Prints a usage or other error (not from the TSE) and returns `code`. */
int cli_fail(cli_ctx *ctx, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prints `obj` as one JSON document on stdout and takes ownership of it. */
void cli_print_json(json_t *obj);

/* Reads a secret: the value of environment variable `env` if set, else the
 * first line of file `file` if given; never from the command line itself.
 * Returns a malloc'ed string (wipe and free it) or NULL. */
char *cli_secret(const char *env, const char *file);

/* Progress bar on stderr, only when stderr is a terminal and not --json.
 * cli_progress(ctx, done, total) redraws at most a few times a second;
 * total 0 means unknown; cli_progress_end finishes the line. */
void cli_progress(const cli_ctx *ctx, uint64_t done, uint64_t total);
void cli_progress_end(const cli_ctx *ctx);

/* A progress line (progress.c) for work that counts `unit`s ("logs"):
 * "[####   ] done/total unit  rate unit/s  size MiB  ETA m:ss", without the
 * bar and ETA when total is 0 (unknown). Drawn on stderr only on a terminal
 * and without --json; updates at most ten times a second; cli_meter_end
 * draws the final state (a full bar) and ends the line. */
typedef struct cli_meter {
    const char *unit;
    uint64_t total;
    double t0, last;
    bool on, drawn;
} cli_meter;
void cli_meter_start(cli_meter *m, const cli_ctx *ctx, const char *unit, uint64_t total);
void cli_meter_update(cli_meter *m, uint64_t done, uint64_t bytes);
void cli_meter_end(cli_meter *m, uint64_t done, uint64_t bytes);

/* true when argv[i] is "--help" or "-h" in the subcommand's arguments. */
bool cli_wants_help(int argc, char **argv);

/* Subcommands (cmd_<name>.c). */
int cmd_verify(cli_ctx *ctx, int argc, char **argv);
int cmd_verify_log(cli_ctx *ctx, int argc, char **argv);
int cmd_qr(cli_ctx *ctx, int argc, char **argv);
int cmd_dsfinvk(cli_ctx *ctx, int argc, char **argv);
int cmd_tss(cli_ctx *ctx, int argc, char **argv);
/* `tss report` (cmd_report.c) on an open TSE. */
int cli_tss_report(cli_ctx *ctx, tse *t, int argc, char **argv);
int cmd_client(cli_ctx *ctx, int argc, char **argv);
int cmd_tx(cli_ctx *ctx, int argc, char **argv);
int cmd_outage(cli_ctx *ctx, int argc, char **argv);
int cmd_export(cli_ctx *ctx, int argc, char **argv);
int cmd_delete_stored_data(cli_ctx *ctx, int argc, char **argv);
int cmd_restore(cli_ctx *ctx, int argc, char **argv);
int cmd_keygen(cli_ctx *ctx, int argc, char **argv);
int cmd_se(cli_ctx *ctx, int argc, char **argv);

/* main.c: the value of option `name` ("--name VALUE" or "--name=VALUE")
 * among argv[1..], or NULL; whether a flag is present. */
const char *cli_opt(int argc, char **argv, const char *name);
bool cli_flag(int argc, char **argv, const char *name);

/* Helpers of the TSE commands (cmd_tss.c): logging in as admin with the PIN
 * from $OPENTSE_ADMIN_PIN or --pin-file (0, or the exit code after printing
 * the error). cli_no_secrets refuses --pin, --puk, --api-secret and the
 * like: secrets come from the environment or files (0, or the usage exit
 * code after the message). */
int cli_no_secrets(cli_ctx *ctx, int argc, char **argv);
int cli_admin_login(cli_ctx *ctx, tse *t, int argc, char **argv);

#endif /* OPENTSE_CLI_H */
