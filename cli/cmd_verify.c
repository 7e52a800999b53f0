/*
 * cmd_verify.c - `opentse verify ARCHIVE...` checks export archives of any
 * TSE, `opentse verify-log [--cert FILE] FILE.log...` single log messages.
 * Human report by default, one JSON document with --json; the exit code is
 * the verdict: 0 intact and complete, 3 intact but incomplete or
 * implausible, 1 integrity broken (docs/verify.md lists the findings).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/text.h"
#include "cli.h"
#include "codec/logmsg.h"
#include "verify/verify.h"

#define MAX_ANCHOR_FILES 16

typedef struct verify_args {
    bool quiet;
    size_t max_findings;
    unsigned threads;
    const char *cert;
    const char *html;   /* --html FILE */
    const char *dsfinvk;   /* --dsfinvk DIR */
    const char *roots[MAX_ANCHOR_FILES], *crls[MAX_ANCHOR_FILES];
    size_t n_roots, n_crls;
    int first;          /* index of the first file in argv */
} verify_args;

/* The options before the files, through getopt_long: "--name VALUE" and
 * "--name=VALUE"; verify-log takes --cert, verify the anchors and reports. */
static int parse_args(cli_ctx *ctx, int argc, char **argv, bool with_cert, verify_args *a)
{
    enum { O_MAX = 1, O_THREADS, O_CERT, O_HTML, O_DSFINVK, O_ROOT, O_CRL };
    static const struct option verify_opts[] = {
        {"quiet", no_argument, NULL, 'q'},          {"max-findings", required_argument, NULL, O_MAX},
        {"threads", required_argument, NULL, O_THREADS}, {"html", required_argument, NULL, O_HTML},
        {"dsfinvk", required_argument, NULL, O_DSFINVK}, {"root", required_argument, NULL, O_ROOT},
        {"crl", required_argument, NULL, O_CRL},     {0}};
    static const struct option log_opts[] = {
        {"quiet", no_argument, NULL, 'q'},          {"max-findings", required_argument, NULL, O_MAX},
        {"threads", required_argument, NULL, O_THREADS}, {"cert", required_argument, NULL, O_CERT},
        {0}};
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    for (;;) {
        int prev = optind, k = getopt_long(argc, argv, "+:q", with_cert ? log_opts : verify_opts, NULL);
        if (k == -1)
            break;
        uint64_t v = 0;
        switch (k) {
        case 'q':
            a->quiet = true;
            break;
        case O_MAX:
            if (!parse_u64(optarg, (size_t)-1, SIZE_MAX, &v) || v == 0)
                return cli_fail(ctx, CLI_USAGE, "--max-findings needs a number above 0");
            a->max_findings = (size_t)v;
            break;
        case O_THREADS:
            if (!parse_u64(optarg, (size_t)-1, 1024, &v) || v == 0)
                return cli_fail(ctx, CLI_USAGE, "--threads needs a number from 1 to 1024");
            a->threads = (unsigned)v;
            break;
        case O_CERT:
            a->cert = optarg;
            break;
        case O_HTML:
            a->html = optarg;
            break;
        case O_DSFINVK:
            a->dsfinvk = optarg;
            break;
        case O_ROOT:
        case O_CRL: {
            size_t *n = k == O_ROOT ? &a->n_roots : &a->n_crls;
            if (*n == MAX_ANCHOR_FILES)
                return cli_fail(ctx, CLI_USAGE, "at most %d %s files", MAX_ANCHOR_FILES,
                                k == O_ROOT ? "--root" : "--crl");
            (k == O_ROOT ? a->roots : a->crls)[(*n)++] = optarg;
            break;
        }
        case ':':
            return cli_fail(ctx, CLI_USAGE, "%s needs a value (see --help)", argv[prev]);
        default:
            return cli_fail(ctx, CLI_USAGE, "unknown option %s (see --help)", argv[prev]);
        }
    }
    if (optind >= argc)
        return cli_fail(ctx, CLI_USAGE, "no file given (see --help)");
    a->first = optind;
    return 0;
}

/* The whole file into a malloc'd buffer (caller frees), NULL on error. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *b = cap < (64u << 20) ? realloc(buf, cap ? 2 * cap : 4096) : NULL;
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
            cap = cap ? 2 * cap : 4096;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The progress line on a terminal: logs checked of the total the first
 * pass counted, time so far and the time left at the rate so far. */
typedef struct progress {
    cli_ctx *ctx;
    struct timespec start, last;
    bool shown;
} progress;

static double seconds(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void on_progress(void *arg, uint64_t done, uint64_t total, size_t logs, size_t total_logs)
{
    progress *p = arg;
    if (p->ctx->json || !isatty(STDERR_FILENO))
        return;
    if (!total_logs) {   /* count unknown: bytes as far as known */
        cli_progress(p->ctx, done, total);
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (p->shown && logs != total_logs && seconds(&p->last, &now) < 0.2)
        return;
    p->last = now;
    p->shown = true;
    double spent = seconds(&p->start, &now);
    int width = 30, fill = (int)((double)logs * width / (double)total_logs);
    fprintf(stderr, "\r[%-*.*s] %zu/%zu logs, %.0f s", width, fill,
            "##############################", logs, total_logs, spent);
    if (logs && logs < total_logs)
        fprintf(stderr, ", ETA %.0f s  ", spent * (double)(total_logs - logs) / (double)logs);
    else
        fputs("         ", stderr);
    fflush(stderr);
}

/* Prints or collects one result; returns its verdict, -1 when the report
 * could not be written. With --html the result is kept in `kept` (moved). */
static int emit(cli_ctx *ctx, const verify_args *a, verify_result *r, json_t *results,
                verify_result *kept)
{
    int verdict = (int)verify_verdict_of(r);
    if (ctx->json) {
        json_t *j = verify_report_json(r);
        if (!j || json_array_append_new(results, j) != 0)
            verdict = -1;
    } else if (verify_report_text(r, stdout, a->quiet) != 0) {
        verdict = -1;
    }
    if (kept)
        *kept = *r;
    else
        verify_result_free(r);
    return verdict;
}

/* Writes the HTML report of `n` results to `path` (replaced whole, or not
 * at all). Returns 0 or CLI_INTERNAL. */
static int write_html(cli_ctx *ctx, const char *path, verify_result *kept, size_t n)
{
    const verify_result **list = calloc(n ? n : 1, sizeof *list);
    char *tmp = NULL;
    if (!list || asprintf(&tmp, "%s.tmp", path) < 0) {
        free(list);
        return cli_fail(ctx, CLI_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        list[i] = &kept[i];
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f || verify_report_html(list, n, f) != 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        rc = cli_fail(ctx, CLI_INTERNAL, "cannot write the report %s", path);
        remove(tmp);
    }
    free(tmp);
    free(list);
    return rc;
}

/* Verifies one archive (n files: the parts of a split one) or log into r.
 * Returns 0, CLI_USAGE when the log cannot be read, CLI_INTERNAL when
 * memory ran out or the temporary file failed. */
static int verify_one(cli_ctx *ctx, char *const *files, size_t n, bool log, const uint8_t *cert,
                      size_t cert_len, const char *cert_name, const verify_options *o,
                      verify_result *r)
{
    const char *file = files[0];
    if (!log) {
        int ok = verify_archive_parts((const char *const *)files, n, o, r);
        cli_progress_end(ctx);
        return ok == 0 || r->io_failed ? 0 : CLI_INTERNAL;
    }
    size_t len = 0;
    uint8_t *data = slurp(file, &len);
    if (!data)
        return cli_fail(ctx, CLI_USAGE, "cannot read %s", file);
    const char *base = strrchr(file, '/');
    int ok = verify_log(data, len, base ? base + 1 : file, cert, cert_len, cert_name, o, r);
    free(data);
    return ok == 0 ? 0 : CLI_INTERNAL;
}

/* Reads the files of --root or --crl into `in`; a CLI_USAGE failure names
 * the one that cannot be read or is no certificate (CRL). */
static int read_inputs(cli_ctx *ctx, const char *const *files, size_t n, bool crl,
                       verify_input *in)
{
    const char *what = crl ? "CRL" : "root certificate";
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        char err[160];
        uint8_t *data = slurp(files[i], &len);
        if (!data)
            return cli_fail(ctx, CLI_USAGE, "cannot read the %s %s", what, files[i]);
        in[i] = (verify_input){.data = data, .len = len, .name = files[i]};
        if (verify_input_check(&in[i], crl, err, sizeof err) != 0)
            return cli_fail(ctx, CLI_USAGE, "%s %s: %s", crl ? "--crl" : "--root", files[i], err);
    }
    return 0;
}

static void free_inputs(verify_input *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)in[i].data);
}

/* Verifies every file given (archives, or logs when `log`) and reports. */
static int run(cli_ctx *ctx, int argc, char **argv, bool log)
{
    verify_args a;
    int rc = parse_args(ctx, argc, argv, log, &a);
    if (rc)
        return rc;
    size_t cert_len = 0;
    uint8_t *cert = NULL;
    if (a.cert && !(cert = slurp(a.cert, &cert_len)))
        return cli_fail(ctx, CLI_USAGE, "cannot read the certificate %s", a.cert);
    verify_input roots[MAX_ANCHOR_FILES] = {0}, crls[MAX_ANCHOR_FILES] = {0};
    if ((rc = read_inputs(ctx, a.roots, a.n_roots, false, roots)) != 0 ||
        (rc = read_inputs(ctx, a.crls, a.n_crls, true, crls)) != 0) {
        free_inputs(roots, a.n_roots);
        free_inputs(crls, a.n_crls);
        return rc;
    }
    json_t *results = json_array();
    progress shown = {.ctx = ctx};
    clock_gettime(CLOCK_MONOTONIC, &shown.start);
    verify_options o = {.max_findings_per_code = a.max_findings, .progress = on_progress,
                        .progress_ctx = &shown, .threads = a.threads, .roots = roots,
                        .n_roots = a.n_roots, .crls = crls, .n_crls = a.n_crls};
    o.keep_finishes = a.dsfinvk != NULL;
    verify_verdict worst = VERIFY_INTACT;
    size_t n_kept = 0;
    bool keep = a.html || a.dsfinvk;
    verify_result *kept = keep ? calloc((size_t)(argc - a.first) + 1, sizeof *kept) : NULL;
    if (keep && !kept)
        rc = CLI_INTERNAL;
    for (int i = a.first, k = 1; i < argc && results && !rc; i += k) {
        verify_result r = {0};
        char why[1200] = "";
        /* the parts of a split archive, given in order, are one archive */
        k = log ? 1 : (int)archive_group((const char *const *)argv + i, (size_t)(argc - i), why, sizeof why);
        if (!k) {
            rc = cli_fail(ctx, CLI_USAGE, "%s", why);
            break;
        }
        rc = verify_one(ctx, argv + i, (size_t)k, log, cert, cert_len, a.cert, &o, &r);
        int v = rc ? 0 : emit(ctx, &a, &r, results, kept ? &kept[n_kept++] : NULL);
        if (rc)
            verify_result_free(&r);
        else if (v < 0)
            rc = CLI_INTERNAL;
        else
            worst = verify_verdict_worse(worst, (verify_verdict)v);
    }
    free(cert);
    free_inputs(roots, a.n_roots);
    free_inputs(crls, a.n_crls);
    if (!rc && a.dsfinvk && results) {
        /* The DSFinV-K export against the archives: one more result. */
        const verify_result **list = calloc(n_kept + 1, sizeof *list);
        verify_result *d = &kept[n_kept];
        for (size_t i = 0; list && i < n_kept; i++)
            list[i] = &kept[i];
        int v = !list || verify_dsfinvk(a.dsfinvk, list, n_kept, &o, d) != 0
                    ? -1
                    : emit(ctx, &a, d, results, d);
        n_kept++;
        free(list);
        if (v < 0)
            rc = CLI_INTERNAL;
        else
            worst = verify_verdict_worse(worst, (verify_verdict)v);
    }
    int html_rc = !rc && a.html && results ? write_html(ctx, a.html, kept, n_kept) : 0;
    for (size_t i = 0; i < n_kept; i++)
        verify_result_free(&kept[i]);
    free(kept);
    if (!results || rc == CLI_INTERNAL)
        rc = cli_fail(ctx, CLI_INTERNAL, "out of memory, the temporary file (TMPDIR) could not be written, or "
                                         "the report could not be written");
    if (!rc)
        rc = html_rc;
    if (rc) {
        json_decref(results);
        return rc;
    }
    if (ctx->json)
        cli_print_json(json_pack("{s:b, s:i, s:s, s:o}", "ok", worst == VERIFY_INTACT, "verdict",
                                 (int)worst, "verdict_text", verify_verdict_text(worst),
                                 "results", results));
    else
        json_decref(results);
    /* The verdict is the exit code: 0 intact and complete, 1 integrity
     * broken, 3 intact but incomplete or implausible. */
    return (int)worst;
}

int cmd_verify(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: opentse verify [--root FILE]... [--crl FILE]... [--html FILE]\n"
               "                      [--dsfinvk DIR] [--quiet] [--max-findings N] [--threads N]\n"
               "                      ARCHIVE...\n"
               "\n"
               "Checks TR-03151 export archives of any TSE: every log parses and verifies\n"
               "against the certificate of its serial number, the certificate chain,\n"
               "signature counters (duplicates, gaps), file names, info.csv, transactions\n"
               "and log time order. The exit code is the verdict: 0 intact and complete,\n"
               "3 intact but incomplete or implausible (counter gaps, time set back,\n"
               "transactions without Start...), 1 integrity broken; 2 bad command line.\n"
               "  --root FILE       the trust anchor (the BSI/BMF root in production, DER or\n"
               "                    PEM): every chain must end in it; without one the chain\n"
               "                    is consistent but not anchored\n"
               "  --crl FILE        a CRL of a CA of the chain (DER or PEM); refused when\n"
               "                    issued more than 24 hours ago or past its nextUpdate\n"
               "  --html FILE       also write a self-contained HTML report: verdict,\n"
               "                    timeline per TSE, certificates, findings\n"
               "  --dsfinvk DIR     hold a DSFinV-K export's transactions_tse.csv and tse.csv\n"
               "                    against the archives: each row against its Finish log,\n"
               "                    transactions in one but not the other listed\n"
               "  --quiet           only the summary line and errors\n"
               "  --max-findings N  list at most N findings of each kind (default 100)\n"
               "  --threads N       threads checking signatures (default: one per core)\n");
        return CLI_OK;
    }
    return run(ctx, argc, argv, false);
}

int cmd_verify_log(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: opentse verify-log [--cert FILE] [--quiet] FILE.log...\n"
               "\n"
               "Checks single log messages: structure, file name against content and,\n"
               "with --cert (the TSE's certificate, DER or PEM), the signature and the\n"
               "certificate's validity at log time. Exit 0 intact, 3 unchecked (no --cert),\n"
               "1 integrity broken.\n");
        return CLI_OK;
    }
    return run(ctx, argc, argv, true);
}
