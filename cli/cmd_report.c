/*
 * cmd_report.c - `opentse tss report`: what a taxpayer reports for each
 * cash register and its TSE (Section 146a (4) AO, through ELSTER): the
 * TSE's serial number, its BSI certification id (--certification-id or
 * $OPENTSE_BSI_CERTIFICATION_ID), the start and end of its use, and the
 * registers (clients) registered in it. From the TSE's own records over
 * either transport; CSV (one line per register, the columns of opentsed's
 * GET .../report?format=csv) or JSON with --json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void iso(int64_t t, char out[32])
{
    struct tm tm;
    time_t v = (time_t)t;
    out[0] = 0;
    if (t && gmtime_r(&v, &tm))
        strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static void csv(const char *v, int last)
{
    v = v ? v : "";
    if (strpbrk(v, ";\"\r\n")) {
        putchar('"');
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                putchar('"');
            putchar(*p);
        }
        putchar('"');
    } else {
        fputs(v, stdout);
    }
    fputs(last ? "\r\n" : ";", stdout);
}

int cli_tss_report(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    const char *cert_id = cli_opt(argc, argv, "--certification-id");
    if (!cert_id)
        cert_id = getenv("OPENTSE_BSI_CERTIFICATION_ID");
    tse_info i;
    tse_err rc = tse_get_info(t, &i);
    char **ids = NULL;
    size_t n = 0;
    if (!rc)
        rc = tse_list_clients(t, &ids, &n);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot read the TSE");
    char serial[2 * TSE_SERIAL_LEN + 1], start[32], end[32];
    tse_hex(i.serial_number, TSE_SERIAL_LEN, serial);
    iso(i.time_init, start);
    iso(i.state == TSE_STATE_DISABLED ? i.time_disable : 0, end);
    if (ctx->json) {
        json_t *regs = json_array();
        for (size_t k = 0; regs && k < n; k++)
            json_array_append_new(regs, json_pack("{s:s, s:s}", "serial_number", ids[k], "state", "REGISTERED"));
        cli_print_json(json_pack("{s:s, s:{s:s, s:s*, s:s, s:s?, s:s?, s:s}, s:o*}", "_type", "TSE_REPORT", "tse",
                                 "serial_number", serial, "bsi_certification_id", cert_id, "description",
                                 i.description, "time_start_of_use", *start ? start : NULL, "time_end_of_use",
                                 *end ? end : NULL, "signature_algorithm", i.signature_algorithm, "registers",
                                 regs));
    } else {
        static const char *const head[] = {"register_serial_number", "register_client_id", "register_state",
                                           "register_since", "tse_serial_number", "tse_bsi_certification_id",
                                           "tse_start_of_use", "tse_end_of_use", "tss_id"};
        enum { N = sizeof head / sizeof head[0] };
        for (int k = 0; k < N; k++)
            csv(head[k], k == N - 1);
        const char *tss = ctx->url ? strstr(ctx->url, "/tss/") : NULL;
        for (size_t k = 0; k < n; k++) {
            const char *v[N] = {ids[k], "", "REGISTERED", "", serial, cert_id, start, end, tss ? tss + 5 : ""};
            for (int c = 0; c < N; c++)
                csv(v[c], c == N - 1);
        }
    }
    tse_free_strings(ids, n);
    return CLI_OK;
}
