/*
 * cmd_outage.c - `opentse outage report`: what the taxpayer keeps about
 * the times the TSE could not be reached, from the outage journal
 * (--journal FILE or $OPENTSE_JOURNAL): each outage with start, end, cause,
 * affected clients and the operations recorded without a TSE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *outage_usage =
    "usage: opentse --url URL outage report [--journal FILE]\n"
    "\n"
    "The outage journal is the file the register was opened with\n"
    "(tse_open_options.journal_path, $OPENTSE_JOURNAL).\n";

static void print_text(json_t *doc)
{
    json_t *outages = json_object_get(doc, "outages");
    printf("outage journal %s: %zu outage%s\n", json_string_value(json_object_get(doc, "journal")),
           json_array_size(outages), json_array_size(outages) == 1 ? "" : "s");
    size_t i;
    json_t *o;
    json_array_foreach(outages, i, o) {
        const char *end = json_string_value(json_object_get(o, "end"));
        printf("\n%s .. %s  %s\n  cause: %s\n  clients:", json_string_value(json_object_get(o, "start")),
               end ? end : "(still unreachable)", json_string_value(json_object_get(o, "tss")),
               json_string_value(json_object_get(o, "cause")));
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(o, "clients"), k, c) printf(" %s", json_string_value(c));
        printf("\n  operations without TSE:\n");
        json_array_foreach(json_object_get(o, "operations"), k, c) {
            json_int_t n = json_integer_value(json_object_get(c, "transaction_number"));
            printf("    %s  %-18s %s", json_string_value(json_object_get(c, "time")),
                   json_string_value(json_object_get(c, "operation")),
                   json_is_string(json_object_get(c, "client_id")) ? json_string_value(json_object_get(c, "client_id"))
                                                                   : "-");
            if (n)
                printf("  transaction %lld", (long long)n);
            printf("\n");
        }
    }
}

int cmd_outage(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(outage_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "report"))
        return cli_fail(ctx, CLI_USAGE, "unknown outage command '%s' (see opentse outage --help)", argv[1]);
    const char *journal = cli_opt(argc, argv, "--journal");
    if (journal)
        setenv("OPENTSE_JOURNAL", journal, 1);
    if (!getenv("OPENTSE_JOURNAL"))
        return cli_fail(ctx, CLI_USAGE, "no outage journal: give --journal FILE or set OPENTSE_JOURNAL");
    tse *t = NULL;
    int ec = cli_open(ctx, &t);
    if (ec)
        return ec;
    char *text = NULL;
    tse_err rc = tse_outage_report(t, &text);
    tse_close(t);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the outage journal");
    json_t *doc = json_loads(text, 0, NULL);
    tse_free(text);
    if (!doc)
        return cli_fail(ctx, CLI_INTERNAL, "the outage report is not JSON");
    if (ctx->json)
        cli_print_json(doc);
    else {
        print_text(doc);
        json_decref(doc);
    }
    return CLI_OK;
}
