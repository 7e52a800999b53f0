/*
 * cmd_qr.c - `opentse qr verify QR` checks any vendor's DSFinV-K receipt QR
 * code against the signature it carries; `opentse qr render --png FILE |
 * --svg FILE QR` draws it (QR is the code's text, or '-' to read it from
 * standard input); `opentse --url URL qr make --counter N` makes the code of
 * the transaction whose Finish log has signature counter N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec/logmsg.h"
#include "receipt/receipt.h"

static const char usage_text[] =
    "usage: opentse qr verify QR\n"
    "       opentse qr render (--png FILE | --svg FILE) [--scale N] QR\n"
    "       opentse --url URL qr make --counter N\n"
    "\n"
    "QR is the text of a DSFinV-K receipt QR code (V0;...), or - to read it from stdin.\n"
    "verify rebuilds the Finish log from the code's fields and checks its signature\n"
    "with the public key in the code: exit 0 valid, 1 not valid, 2 usage.\n"
    "render writes the code as PNG or SVG; --scale pixels per module (default 4).\n"
    "make prints the code of the transaction whose Finish log has signature\n"
    "counter N (as `tx finish` reports it), read from the TSE.\n";

/* The QR text: the argument or, for "-", the first line of stdin (caller frees). */
static char *qr_text(const char *arg)
{
    if (strcmp(arg, "-") != 0)
        return strdup(arg);
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, stdin) < 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = 0;
    return line;
}

static const char *result_name(receipt_qr_result r)
{
    switch (r) {
    case RECEIPT_QR_VALID: return "valid";
    case RECEIPT_QR_BAD_SIGNATURE: return "bad_signature";
    case RECEIPT_QR_MALFORMED: return "malformed";
    case RECEIPT_QR_UNSUPPORTED: return "unsupported";
    }
    return "unknown";
}

/* The code's fields as JSON, or JSON null when it does not parse. */
static json_t *fields_json(const char *text)
{
    receipt_qr_parsed p;
    if (!receipt_qr_parse(text, &p, NULL))
        return json_null();
    const receipt_qr *q = &p.q;
    json_t *j = json_pack("{s:s, s:s, s:s%, s:I, s:I, s:I, s:I, s:s}", "client_id", q->client_id,
                          "process_type", q->process_type, "process_data", (const char *)q->process_data,
                          q->process_data_len, "transaction_number", (json_int_t)q->transaction_number,
                          "signature_counter", (json_int_t)q->signature_counter, "start_time",
                          (json_int_t)q->start_time, "finish_time", (json_int_t)q->finish_time,
                          "signature_algorithm", q->signature_algorithm);
    receipt_qr_parsed_free(&p);
    return j ? j : json_null();
}

static int qr_verify(cli_ctx *ctx, const char *arg)
{
    char *text = qr_text(arg);
    if (!text)
        return cli_fail(ctx, CLI_USAGE, "no QR code text on standard input");
    tse_error err = {0};
    receipt_qr_check chk;
    receipt_qr_result r = receipt_qr_verify(text, &chk, &err);
    char serial[2 * 32 + 1] = "";
    if (chk.signed_len)
        tse_hex(chk.serial, 32, serial);
    if (ctx->json) {
        json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:s, s:o}", "valid", r == RECEIPT_QR_VALID, "result",
                              result_name(r), "message", r == RECEIPT_QR_VALID ? "signature verifies" : err.message,
                              "curve", chk.curve, "tse_serial", serial, "fields", fields_json(text));
        if (!j) {
            free(text);
            return cli_fail(ctx, CLI_INTERNAL, "out of memory");
        }
        cli_print_json(j);
    } else if (r == RECEIPT_QR_VALID) {
        printf("valid: the signature verifies over the Finish log (curve %s, TSE serial %s)\n", chk.curve, serial);
    } else {
        printf("NOT VALID (%s): %s\n", result_name(r), err.message);
    }
    free(text);
    return r == RECEIPT_QR_VALID ? CLI_OK : CLI_FAILED;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

static int qr_render(cli_ctx *ctx, int argc, char **argv)
{
    const char *png = NULL, *svg = NULL, *arg = NULL;
    int scale = 4;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--png") && i + 1 < argc)
            png = argv[++i];
        else if (!strcmp(argv[i], "--svg") && i + 1 < argc)
            svg = argv[++i];
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 64)
                return cli_fail(ctx, CLI_USAGE, "--scale needs a number from 1 to 64");
            scale = (int)v;
        } else if (argv[i][0] == '-' && argv[i][1])
            return cli_fail(ctx, CLI_USAGE, "unknown option %s (see --help)", argv[i]);
        else if (arg)
            return cli_fail(ctx, CLI_USAGE, "one QR code at a time (quote it: it holds ';')");
        else
            arg = argv[i];
    }
    if (!arg || (!png == !svg))
        return cli_fail(ctx, CLI_USAGE, "give the QR text and exactly one of --png FILE or --svg FILE");
    char *text = qr_text(arg);
    if (!text)
        return cli_fail(ctx, CLI_USAGE, "no QR code text on standard input");
    tse_error err = {0};
    uint8_t *data = NULL;
    size_t len = 0;
    if (png) {
        if (receipt_qr_png(text, scale, &data, &len, &err) != TSE_OK)
            data = NULL;
    } else {
        data = (uint8_t *)receipt_qr_svg(text, scale, &err);
        len = data ? strlen((char *)data) : 0;
    }
    free(text);
    if (!data)
        return cli_fail(ctx, CLI_FAILED, "%s", err.message);
    const char *path = png ? png : svg;
    int rc = write_file(path, data, len);
    free(data);
    if (rc != 0)
        return cli_fail(ctx, CLI_INTERNAL, "cannot write %s", path);
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:s, s:I}", "file", path, "format", png ? "png" : "svg", "bytes",
                                 (json_int_t)len));
    else
        printf("wrote %s (%zu bytes)\n", path, len);
    return CLI_OK;
}

/* The logTime of the Start log of transaction `tx`, searched from counter
 * `below` - 1 downwards. */
static bool find_start(tse *t, uint64_t tx, uint64_t below, int64_t *start)
{
    for (uint64_t c = below - 1; c >= 1; c--) {
        uint8_t *msg = NULL;
        size_t len = 0;
        if (tse_read_log_by_counter(t, c, &msg, &len) != TSE_OK)
            continue;
        logmsg m;
        bool found = logmsg_parse(msg, len, &m, NULL) && m.kind == LOGMSG_TRANSACTION &&
                     m.transaction_number == tx && m.operation.n == 16 &&
                     memcmp(m.operation.p, "StartTransaction", 16) == 0;
        if (found)
            *start = m.log_time;
        tse_free(msg);
        if (found)
            return true;
    }
    return false;
}

static int qr_make(cli_ctx *ctx, int argc, char **argv)
{
    uint64_t counter = 0;
    for (int i = 2; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--counter") && i + 1 < argc && argv[i + 1][0] != '-')
            counter = strtoull(argv[++i], &end, 10);
        if (!end || *end || counter == 0)
            return cli_fail(ctx, CLI_USAGE, "qr make takes --counter N (N > 0, see --help)");
    }
    if (!counter)
        return cli_fail(ctx, CLI_USAGE, "qr make takes --counter N (see --help)");
    tse *t = NULL;
    int rc = cli_open(ctx, &t);
    if (rc)
        return rc;
    uint8_t *msg = NULL, *point = NULL;
    size_t len = 0, point_len = 0;
    tse_err e = tse_read_log_by_counter(t, counter, &msg, &len);
    if (e == TSE_OK)
        e = tse_public_key(t, &point, &point_len);
    if (e != TSE_OK) {
        rc = cli_tse_error(ctx, e, "cannot read the Finish log");
        goto out;
    }
    logmsg m;
    tse_error err = {0};
    int64_t start = 0;
    if (!logmsg_parse(msg, len, &m, &err) || m.kind != LOGMSG_TRANSACTION ||
        m.operation.n != 17 || memcmp(m.operation.p, "FinishTransaction", 17) != 0) {
        rc = cli_fail(ctx, CLI_FAILED, "log %llu is not a FinishTransaction log", (unsigned long long)counter);
        goto out;
    }
    if (!find_start(t, m.transaction_number, counter, &start)) {
        rc = cli_fail(ctx, CLI_FAILED, "the Start log of transaction %llu is not stored",
                      (unsigned long long)m.transaction_number);
        goto out;
    }
    char *qr = receipt_qr_from_log(msg, len, start, point, point_len, &err);
    if (!qr) {
        rc = cli_fail(ctx, CLI_FAILED, "%s", err.message);
        goto out;
    }
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:I, s:I}", "qr", qr, "transaction_number",
                                 (json_int_t)m.transaction_number, "signature_counter", (json_int_t)counter));
    else
        printf("%s\n", qr);
    free(qr);
out:
    tse_free(msg);
    tse_free(point);
    tse_close(t);
    return rc;
}

int cmd_qr(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    if (argc >= 2 && !strcmp(argv[1], "verify")) {
        if (argc != 3)
            return cli_fail(ctx, CLI_USAGE, "qr verify takes one QR code (quote it: it holds ';')");
        return qr_verify(ctx, argv[2]);
    }
    if (argc >= 2 && !strcmp(argv[1], "render"))
        return qr_render(ctx, argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "make"))
        return qr_make(ctx, argc, argv);
    fputs(usage_text, stderr);
    return CLI_USAGE;
}
