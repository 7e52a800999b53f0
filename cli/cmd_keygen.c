/*
 * cmd_keygen.c - `opentse keygen FILE`: a new master key file for embedded
 * TSEs (64 random hex digits, mode 0600), the file `--master-key` and
 * tse_create_options.master_key_path name. An existing file is never
 * overwritten.
 */
#include <stdio.h>

#include "cli.h"

static const char keygen_usage[] =
    "usage: opentse keygen FILE\n"
    "\n"
    "Writes a new random master key to FILE (which must not exist) with mode\n"
    "0600. Every private key of an embedded TSE is sealed under it: keep it\n"
    "beside the TSE's store, back it up apart from it, and give it as\n"
    "--master-key FILE or $OPENTSE_MASTER_KEY.\n";

int cmd_keygen(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(keygen_usage, stdout);
        return CLI_OK;
    }
    if (argc != 2 || argv[1][0] == '-')
        return cli_fail(ctx, CLI_USAGE, "keygen needs exactly one FILE (see opentse keygen --help)");
    tse_err rc = tse_create_master_key(argv[1]);
    if (rc)
        return cli_tse_error(ctx, rc, "no master key written");
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:s}", "file", argv[1], "mode", "0600"));
    else
        printf("master key written to %s (mode 0600)\n", argv[1]);
    return CLI_OK;
}
