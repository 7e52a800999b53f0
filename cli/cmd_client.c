/*
 * cmd_client.c - `opentse client add|remove|list`: the cash registers
 * (clients) registered with a TSE. Adding and removing need the admin PIN
 * (OPENTSE_ADMIN_PIN or --pin-file).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *client_usage =
    "usage: opentse --url URL client COMMAND\n"
    "\n"
    "  add CLIENT_ID      register a cash register (its serial number)\n"
    "  remove CLIENT_ID   deregister it\n"
    "  list               the registered clients\n"
    "\n"
    "add and remove log in as admin: $OPENTSE_ADMIN_PIN or --pin-file FILE.\n";

static int list(cli_ctx *ctx, tse *t)
{
    char **ids = NULL;
    size_t n = 0;
    tse_err rc = tse_list_clients(t, &ids, &n);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot list the clients");
    json_t *arr = ctx->json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (arr)
            json_array_append_new(arr, json_string(ids[i]));
        else
            printf("%s\n", ids[i]);
    }
    tse_free_strings(ids, n);
    if (arr)
        cli_print_json(json_pack("{s:o}", "clients", arr));
    return CLI_OK;
}

int cmd_client(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(client_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    int bad = cli_no_secrets(ctx, argc, argv);
    if (bad)
        return bad;
    bool change = !strcmp(sub, "add") || !strcmp(sub, "remove");
    if (!change && strcmp(sub, "list"))
        return cli_fail(ctx, CLI_USAGE, "unknown client command '%s' (see opentse client --help)", sub);
    if (change && (argc < 3 || argv[2][0] == '-'))
        return cli_fail(ctx, CLI_USAGE, "client %s needs a CLIENT_ID", sub);
    tse *t = NULL;
    int ec = cli_open(ctx, &t);
    if (ec)
        return ec;
    if (!change) {
        ec = list(ctx, t);
    } else if (!(ec = cli_admin_login(ctx, t, argc - 1, argv + 1))) {
        const char *id = argv[2];
        tse_err rc = !strcmp(sub, "add") ? tse_register_client(t, id) : tse_deregister_client(t, id);
        if (rc)
            ec = cli_tse_error(ctx, rc, !strcmp(sub, "add") ? "cannot register the client"
                                                           : "cannot deregister the client");
        else if (ctx->json)
            cli_print_json(json_pack("{s:s, s:s}", "client_id", id, "state",
                                     !strcmp(sub, "add") ? "REGISTERED" : "DEREGISTERED"));
        else
            printf("%s %s\n", id, !strcmp(sub, "add") ? "registered" : "deregistered");
    }
    tse_close(t);
    return ec;
}
