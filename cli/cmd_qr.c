/*
 * cmd_qr.c - `opentse qr verify QR` checks any vendor's DSFinV-K receipt QR
 * code against the signature it carries, and with `--archive ARCHIVE QR...`
 * each code against the Finish log of the TSE's export archive (signature,
 * counter, times, processType, processData); `opentse qr render --png FILE |
 * --svg FILE QR` draws it (QR is the code's text, or '-' to read it from
 * standard input); `opentse --url URL qr make --counter N` makes the code of
 * the transaction whose Finish log has signature counter N.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"
#include "base/text.h"
#include "cli.h"
#include "codec/logmsg.h"
#include "receipt/receipt.h"
#include "verify/verify.h"

static const char usage_text[] =
    "usage: opentse qr verify QR\n"
    "       opentse qr verify --archive ARCHIVE QR...\n"
    "       opentse qr render (--png FILE | --svg FILE) [--scale N] QR\n"
    "       opentse --url URL qr make --counter N\n"
    "\n"
    "QR is the text of a DSFinV-K receipt QR code (V0;...), or - to read it from stdin.\n"
    "verify rebuilds the Finish log from the code's fields and checks its signature\n"
    "with the public key in the code: exit 0 valid, 1 not valid, 2 usage.\n"
    "With --archive every code must also be the transaction of a Finish log of\n"
    "the (verified) export archive: same signature, counter, start and end time,\n"
    "clientId, processType and processData; exit 0 only when all match.\n"
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

/* The fields of a QR code that differ from the Finish log `f` (and its
 * Start log), as a comma-separated list in `out`; "" when all match. */
static void differences(const receipt_qr *q, const verify_finish *f, char *out, size_t cap)
{
    struct {
        const char *name;
        bool differs;
    } fields[] = {
        {"signature", q->signature_len != f->signature_len ||
                          memcmp(q->signature, f->signature, f->signature_len) != 0},
        {"signature counter", q->signature_counter != f->counter},
        {"finish time", q->finish_time != f->time},
        {"start time", f->has_start && q->start_time != f->start_time},
        {"clientId", strcmp(q->client_id, f->client) != 0},
        {"processType", strcmp(q->process_type, f->process_type) != 0},
        {"processData", q->process_data_len != f->process_data_len ||
                            memcmp(q->process_data, f->process_data, f->process_data_len) != 0},
    };
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].differs)
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "", fields[i].name);
}

/* One code against the archive: 1 when it verifies and matches its Finish log. */
static int match_one(cli_ctx *ctx, const char *text, const verify_result *r, json_t *list)
{
    tse_error err = {0};
    char serial[65] = "", diff[160] = "";
    receipt_qr_check chk;
    receipt_qr_parsed p;
    receipt_qr_result v = receipt_qr_verify(text, &chk, &err);
    verify_finish found, *f = NULL;
    bool parsed = receipt_qr_parse(text, &p, NULL);
    if (chk.signed_len)
        hex_encode(serial, sizeof serial, chk.serial, 32);
    if (parsed && v == RECEIPT_QR_VALID) {
        int got = verify_find_finish(r, serial, p.q.transaction_number, &found);
        if (got < 0) {
            receipt_qr_parsed_free(&p);
            return -1;
        }
        if (got > 0) {
            f = &found;
            differences(&p.q, f, diff, sizeof diff);
        }
    }
    int ok = v == RECEIPT_QR_VALID && f && !diff[0];
    char msg[400];
    if (v != RECEIPT_QR_VALID)
        snprintf(msg, sizeof msg, "the code's signature: %s", err.message);
    else if (!f)
        snprintf(msg, sizeof msg, "transaction %llu of TSE %.16s... has no Finish log in %s",
                 parsed ? (unsigned long long)p.q.transaction_number : 0ULL, serial, r->source);
    else if (diff[0])
        snprintf(msg, sizeof msg, "differs from the Finish log %s in: %s", f->file, diff);
    else
        snprintf(msg, sizeof msg, "matches the Finish log %s", f->file);
    if (parsed)
        receipt_qr_parsed_free(&p);
    if (ctx->json) {
        json_t *j = json_pack("{s:b, s:s, s:b, s:s?, s:s, s:s}", "valid", ok, "result", result_name(v),
                              "in_archive", f != NULL, "log", f ? f->file : NULL, "differences", diff,
                              "message", msg);
        if (!j || json_array_append_new(list, j) != 0)
            ok = -1;
    } else {
        printf("%s: %s\n", ok ? "valid" : "NOT VALID", msg);
    }
    if (f)
        verify_finish_free(f);
    return ok;
}

/* qr verify --archive ARCHIVE QR...: the archive is verified first; its
 * verdict is reported with the codes. */
static int qr_verify_archive(cli_ctx *ctx, const char *archive, char **qrs, int n)
{
    verify_options o = {.keep_finishes = true};
    verify_result r;
    if (verify_archive(archive, &o, &r) != 0 && !r.io_failed) {
        verify_result_free(&r);
        return cli_fail(ctx, CLI_INTERNAL, "out of memory, or the temporary file (TMPDIR) could not be written");
    }
    verify_verdict verdict = verify_verdict_of(&r);
    json_t *list = json_array();
    int matched = 0, rc = list ? 0 : -1;
    if (!ctx->json)
        printf("%s: verdict %d, %s\n", archive, (int)verdict, verify_verdict_text(verdict));
    for (int i = 0; i < n && rc == 0; i++) {
        char *text = qr_text(qrs[i]);
        int m = text ? match_one(ctx, text, &r, list) : -2;
        free(text);
        if (m == -2)
            rc = cli_fail(ctx, CLI_USAGE, "no QR code text on standard input");
        else if (m < 0)
            rc = -1;
        matched += m > 0;
    }
    bool all = rc == 0 && matched == n && verdict != VERIFY_BROKEN;
    if (rc == 0 && ctx->json)
        cli_print_json(json_pack("{s:b, s:{s:s, s:i, s:s}, s:O}", "valid", all, "archive", "source",
                                 archive, "verdict", (int)verdict, "verdict_text",
                                 verify_verdict_text(verdict), "codes", list));
    json_decref(list);
    verify_result_free(&r);
    if (rc < 0)
        return cli_fail(ctx, CLI_INTERNAL, "out of memory, or the temporary file (TMPDIR) could not be read");
    return rc ? rc : all ? CLI_OK : CLI_FAILED;
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
    static const struct option render_opts[] = {{"png", required_argument, NULL, 'p'},
                                                {"svg", required_argument, NULL, 's'},
                                                {"scale", required_argument, NULL, 'x'}, {0}};
    optind = 1;
    opterr = 0;
    argc--, argv++;   /* argv[0] is now "render" */
    for (int prev = optind, k; (k = getopt_long(argc, argv, ":", render_opts, NULL)) != -1; prev = optind) {
        uint64_t v;
        if (k == 'p')
            png = optarg;
        else if (k == 's')
            svg = optarg;
        else if (k == 'x' && parse_u64(optarg, (size_t)-1, 64, &v) && v >= 1)
            scale = (int)v;
        else if (k == 'x')
            return cli_fail(ctx, CLI_USAGE, "--scale needs a number from 1 to 64");
        else
            return cli_fail(ctx, CLI_USAGE, "%s %s (see --help)", k == ':' ? "a value is needed for" : "unknown option",
                            argv[prev]);
    }
    if (argc - optind > 1)
        return cli_fail(ctx, CLI_USAGE, "one QR code at a time (quote it: it holds ';')");
    arg = optind < argc ? argv[optind] : NULL;
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
                     m.transaction_number == tx && m.tx_op == LOGMSG_TX_START;
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
    static const struct option make_opts[] = {{"counter", required_argument, NULL, 'c'}, {0}};
    optind = 1;
    opterr = 0;
    for (int k; (k = getopt_long(argc - 1, argv + 1, ":", make_opts, NULL)) != -1;)
        if (k != 'c' || !parse_u64(optarg, (size_t)-1, UINT64_MAX, &counter) || counter == 0)
            return cli_fail(ctx, CLI_USAGE, "qr make takes --counter N (N > 0, see --help)");
    if (optind < argc - 1)
        return cli_fail(ctx, CLI_USAGE, "qr make takes --counter N (see --help)");
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
    if (!logmsg_parse(msg, len, &m, &err) || m.kind != LOGMSG_TRANSACTION || m.tx_op != LOGMSG_TX_FINISH) {
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
    if (argc >= 2 && !strcmp(argv[1], "verify") && argc >= 3 && !strcmp(argv[2], "--archive")) {
        if (argc < 5)
            return cli_fail(ctx, CLI_USAGE, "qr verify --archive needs an archive and QR codes");
        return qr_verify_archive(ctx, argv[3], argv + 4, argc - 4);
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
