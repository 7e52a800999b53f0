/*
 * cmd_dsfinvk.c - `opentse dsfinvk` writes the DSFinV-K tables tse.csv and
 * transactions_tse.csv from a TSE's logs: from export archives of any TSE,
 * or (with --url and no archive) from a TSE read log by log by signature
 * counter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "receipt/dsfinvk.h"
#include "receipt/receipt.h"

static const char usage_text[] =
    "usage: opentse dsfinvk ARCHIVE... --out DIR [OPTIONS]\n"
    "       opentse --url URL dsfinvk --out DIR [--first N] [--last N] [OPTIONS]\n"
    "\n"
    "Writes DIR/tse.csv (Stamm_TSE) and DIR/transactions_tse.csv (TSE_Transaktionen)\n"
    "of DSFinV-K from the logs of TR-03151 export archives, or of the TSE at URL\n"
    "(signature counters N..N, default all).\n"
    "\n"
    "  --kasse-id ID        Z_KASSE_ID (default: each transaction's clientId)\n"
    "  --z-nr N             Z_NR, number of the cash-point closing (default 1)\n"
    "  --z-erstellung TIME  Z_ERSTELLUNG, YYYY-MM-DDThh:mm:ss (UTC) or epoch seconds\n"
    "                       (default: time of the last Finish log)\n"
    "  --tse-id N           TSE_ID of the first TSE key found (default 1)\n";

typedef struct dsfinvk_args {
    const char *out;
    uint64_t first, last;
    dsfinvk_options opts;
    int n_archives;
    char **archives;
} dsfinvk_args;

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long x = strtoull(s, &end, 10);
    *v = x;
    return *end == 0;
}

static bool parse_time(const char *s, int64_t *t)
{
    uint64_t v;
    if (parse_u64(s, &v)) {
        *t = (int64_t)v;
        return v > 0 && v < (1ull << 40);
    }
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || (*end && strcmp(end, "Z") != 0))
        return false;
    *t = (int64_t)timegm(&tm);
    return *t > 0;
}

static int parse_args(cli_ctx *ctx, int argc, char **argv, dsfinvk_args *a)
{
    memset(a, 0, sizeof *a);
    a->archives = calloc((size_t)argc, sizeof *a->archives);
    if (!a->archives)
        return cli_fail(ctx, CLI_INTERNAL, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (o[0] != '-') {
            a->archives[a->n_archives++] = argv[i];
            continue;
        }
        if (!v)
            return cli_fail(ctx, CLI_USAGE, "%s needs a value (see --help)", o);
        i++;
        if (!strcmp(o, "--out"))
            a->out = v;
        else if (!strcmp(o, "--kasse-id"))
            a->opts.kasse_id = v;
        else if (!strcmp(o, "--z-nr"))
            ok = parse_u64(v, &a->opts.z_nr) && a->opts.z_nr > 0;
        else if (!strcmp(o, "--z-erstellung"))
            ok = parse_time(v, &a->opts.z_erstellung);
        else if (!strcmp(o, "--tse-id"))
            ok = parse_u64(v, &a->opts.first_tse_id) && a->opts.first_tse_id > 0;
        else if (!strcmp(o, "--first"))
            ok = parse_u64(v, &a->first) && a->first > 0;
        else if (!strcmp(o, "--last"))
            ok = parse_u64(v, &a->last) && a->last > 0;
        else
            return cli_fail(ctx, CLI_USAGE, "unknown option %s (see --help)", o);
        if (!ok)
            return cli_fail(ctx, CLI_USAGE, "%s: invalid value '%s'", o, v);
    }
    if (!a->out)
        return cli_fail(ctx, CLI_USAGE, "--out DIR is required");
    if (a->n_archives && (a->first || a->last))
        return cli_fail(ctx, CLI_USAGE, "--first/--last select logs of a TSE, not of archives");
    if (!a->n_archives && !ctx->url)
        return cli_fail(ctx, CLI_USAGE, "give export archives, or the TSE with --url (see --help)");
    if (a->first && a->last && a->first > a->last)
        return cli_fail(ctx, CLI_USAGE, "--first is after --last");
    return 0;
}

/* Feeds logs first..last and the TSE's certificate from an open TSE. */
static int from_tse(cli_ctx *ctx, dsfinvk *d, const dsfinvk_args *a, size_t *missing)
{
    tse *t = NULL;
    int rc = cli_open(ctx, &t);
    if (rc)
        return rc;
    tse_info info;
    char *pem = NULL;
    tse_err e = tse_get_info(t, &info);
    if (e == TSE_OK)
        e = tse_export_certificates(t, &pem);
    if (e != TSE_OK) {
        rc = cli_tse_error(ctx, e, "cannot read the TSE");
        tse_close(t);
        return rc;
    }
    tse_error err = {0};
    if (dsfinvk_add_certificate(d, (const uint8_t *)pem, strlen(pem), &err) != 0)
        rc = cli_fail(ctx, CLI_FAILED, "the TSE's certificate: %s", err.message);
    tse_free(pem);
    uint64_t first = a->first ? a->first : 1, last = a->last ? a->last : info.signature_counter;
    for (uint64_t c = first; rc == 0 && c <= last; c++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        e = tse_read_log_by_counter(t, c, &msg, &len);
        if (e == TSE_ERR_NO_LOG_MESSAGE) { /* deleted after an export */
            (*missing)++;
            continue;
        }
        if (e != TSE_OK) {
            rc = cli_tse_error(ctx, e, "cannot read a log message");
            break;
        }
        if (dsfinvk_add_log(d, msg, len, &err) != 0)
            rc = cli_fail(ctx, CLI_FAILED, "log %llu: %s", (unsigned long long)c, err.message);
        tse_free(msg);
        cli_progress(ctx, c - first + 1, last - first + 1);
    }
    cli_progress_end(ctx);
    tse_close(t);
    return rc;
}

int cmd_dsfinvk(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    dsfinvk_args a;
    int rc = parse_args(ctx, argc, argv, &a);
    dsfinvk *d = rc ? NULL : dsfinvk_new();
    if (!rc && !d)
        rc = cli_fail(ctx, CLI_INTERNAL, "out of memory");
    tse_error err = {0};
    size_t missing = 0;
    for (int i = 0; !rc && i < a.n_archives; i++)
        if (dsfinvk_add_archive(d, a.archives[i], &err) != 0)
            rc = cli_fail(ctx, CLI_FAILED, "%s", err.message);
    if (!rc && !a.n_archives)
        rc = from_tse(ctx, d, &a, &missing);
    dsfinvk_summary sum;
    if (!rc) {
        int w = dsfinvk_write(d, &a.opts, a.out, &sum, &err);
        if (w != 0)
            rc = cli_fail(ctx, w == TSE_ERR_STORAGE_FAILURE || w == TSE_ERR_NO_MEMORY ? CLI_INTERNAL : CLI_FAILED,
                          "%s", err.message);
    }
    if (!rc) {
        if (ctx->json)
            cli_print_json(json_pack("{s:s, s:[s,s], s:I, s:I, s:I, s:I, s:I}", "out", a.out, "files", "tse.csv",
                                     "transactions_tse.csv", "tse_rows", (json_int_t)sum.tse_rows,
                                     "transaction_rows", (json_int_t)sum.transaction_rows, "without_start",
                                     (json_int_t)sum.without_start, "unfinished", (json_int_t)sum.unfinished,
                                     "missing_logs", (json_int_t)missing));
        else
            printf("wrote %s/tse.csv (%zu row%s) and %s/transactions_tse.csv (%zu row%s); %zu without Start "
                   "log, %zu unfinished, %zu log%s missing\n",
                   a.out, sum.tse_rows, sum.tse_rows == 1 ? "" : "s", a.out, sum.transaction_rows,
                   sum.transaction_rows == 1 ? "" : "s", sum.without_start, sum.unfinished, missing,
                   missing == 1 ? "" : "s");
    }
    dsfinvk_free(d);
    free(a.archives);
    return rc;
}
