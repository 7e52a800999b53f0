/*
 * cmd_export.c - `opentse export` writes a TR-03151 export archive (every
 * filter of exportData, incremental by --cursor) to a file or stdout;
 * `opentse delete-stored-data` and `opentse restore ARCHIVE...` are
 * deleteStoredData and restoreFromBackup (admin).
 */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/text.h"
#include "cli.h"
#include "codec/logmsg.h"

static const char export_usage[] =
    "usage: opentse export [--out FILE | --dir DIR] [--split-size BYTES] [FILTER...] [--cursor N]\n"
    "\n"
    "Writes the TSE's logs as a TR-03151 export archive (TAR: info.csv, the\n"
    "certificate chain, one file per log). Without --out or --dir the archive goes\n"
    "to stdout when that is not a terminal. A failed export leaves no file.\n"
    "  --out FILE                 write the archive to FILE\n"
    "  --dir DIR                  write it to DIR under its TR-03151-1 name,\n"
    "                             Export_<Unixt|Utc|Gent>_<time>.tar\n"
    "  --split-size BYTES         an archive larger than BYTES goes into parts of\n"
    "                             BYTES each, FILE.001 to FILE.999, whose\n"
    "                             concatenation is the archive (restore and verify\n"
    "                             read the parts given in order)\n"
    "  --transaction N            transaction N and the system logs during it\n"
    "  --start-transaction N      transactions from N (with --end-transaction: up to M)\n"
    "  --end-transaction M\n"
    "  --start-date T             logs from T and/or up to T (inclusive); T is\n"
    "  --end-date T               seconds since 1970 or YYYY-MM-DDThh:mm:ssZ (UTC)\n"
    "  --client ID                only this cash register's transactions\n"
    "  --max-records N            refuse (TOO_MANY_RECORDS) when more than N logs match\n"
    "  --cursor N                 incremental: every log written since the export that\n"
    "                             printed cursor N (no other filter)\n"
    "An unfiltered or --cursor export counts as exported for delete-stored-data.\n"
    "--json prints {\"file\", \"files\", \"logs\", \"bytes\", \"cursor\"}; a progress bar shows on a terminal.\n";

static const char delete_usage[] =
    "usage: opentse delete-stored-data [--pin-file FILE] [--out FILE [--cursor N]]\n"
    "\n"
    "TR-03151 deleteStoredData: deletes every stored log, once all of them went out\n"
    "in unfiltered or incremental exports; while any log is not exported (but those\n"
    "of open transactions) it refuses with UNEXPORTED_STORED_DATA and deletes\n"
    "nothing. The admin login this command makes is such a log: with --out FILE it\n"
    "first writes, after the login, the logs since the export that printed cursor N\n"
    "(--cursor; without: every stored log) to the archive FILE, then deletes.\n"
    "Writes the system log deleteStoredData (deleteLogMessages in log format 3).\n"
    "Admin PIN from $OPENTSE_ADMIN_PIN or --pin-file.\n"
    "--json prints {\"deleted\", \"signature_counter\"} and with --out {\"file\", \"logs\", \"cursor\"}.\n";

static const char restore_usage[] =
    "usage: opentse restore [--pin-file FILE | --recovery] ARCHIVE...\n"
    "\n"
    "TR-03151 restoreFromBackup: adds the logs of this TSE's export archives that the\n"
    "store misses. Every signature, counter, name and certificate is checked first;\n"
    "any problem (RESTORE_FAILED) changes nothing. Admin PIN from $OPENTSE_ADMIN_PIN\n"
    "or --pin-file.\n"
    "--recovery (embedded TSE whose store file was replaced by an older copy): opens\n"
    "it without signing anything, so no counter of the lost logs is used again, and\n"
    "restores without an admin login; holding the file and its master key suffices.\n";

/* A number above 0 of digits only for option `opt`. */
static int number_arg(cli_ctx *ctx, const char *opt, const char *s, uint64_t *out)
{
    if (!parse_u64(s, (size_t)-1, UINT64_MAX, out) || *out == 0)
        return cli_fail(ctx, CLI_USAGE, "%s needs a number above 0", opt);
    return 0;
}

/* Seconds since 1970, or YYYY-MM-DDThh:mm:ss[Z] in UTC. */
static int parse_time(cli_ctx *ctx, const char *opt, const char *s, int64_t *out)
{
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (end && (!*end || !strcmp(end, "Z"))) {
        *out = (int64_t)timegm(&tm);
        if (*out > 0)
            return 0;
    }
    uint64_t v;
    if (s && parse_u64(s, (size_t)-1, INT64_MAX - 1, &v) && v > 0) {
        *out = (int64_t)v;
        return 0;
    }
    return cli_fail(ctx, CLI_USAGE, "%s needs seconds since 1970 or YYYY-MM-DDThh:mm:ssZ", opt);
}

typedef struct sink {
    const cli_ctx *ctx;
    FILE *f;
    uint64_t bytes;
    /* a file (out) written as out.part, or split parts out.NNN.part */
    const char *out;
    uint64_t split, in_part;       /* split: bytes per part, 0 = one file */
    unsigned parts;
    int werr;                      /* errno of a failed write */
    const tse_export_filter *filter;
    const tse_export_result *res;  /* its cursor is known at the first chunk */
    cli_meter meter;
    /* counting the logs in the TAR stream as it passes: where the next
     * 512-byte header starts, and that header as far as it came */
    uint64_t next_header, logs;
    uint8_t header[512];
} sink;

static bool ends_with(const char *s, size_t n, const char *tail)
{
    size_t t = strlen(tail);
    return n >= t && !memcmp(s + n - t, tail, t);
}

/* A complete header: a regular file that is neither info.csv nor a
 * certificate is a log; the next header follows its data. */
static void tar_header(sink *s)
{
    const uint8_t *h = s->header;
    if (!h[0]) /* the end-of-archive blocks */
        return;
    char field[13] = {0};
    memcpy(field, h + 124, 12);
    uint64_t size = strtoull(field, NULL, 8);
    s->next_header += (size + 511) / 512 * 512;
    size_t n = strnlen((const char *)h, 100);
    if ((h[156] == '0' || h[156] == 0) && !ends_with((const char *)h, n, "info.csv") &&
        !ends_with((const char *)h, n, "_X509.der"))
        s->logs++;
}

static void count_logs(sink *s, const uint8_t *data, size_t len)
{
    uint64_t pos = s->bytes;
    while (len) {
        if (pos < s->next_header) {
            uint64_t skip = s->next_header - pos < len ? s->next_header - pos : len;
            pos += skip;
            data += skip;
            len -= (size_t)skip;
            continue;
        }
        size_t off = (size_t)(pos - s->next_header), take = 512 - off < len ? 512 - off : len;
        memcpy(s->header + off, data, take);
        pos += take;
        data += take;
        len -= take;
        if (off + take == 512) {
            s->next_header = pos;
            tar_header(s);
        }
    }
}

/* The name of part n (1..) while it is written, or once done. */
static char *part_name(const sink *s, unsigned n, bool done)
{
    char *name = NULL;
    int rc = s->split ? asprintf(&name, "%s.%03u%s", s->out, n, done ? "" : ".part")
                      : asprintf(&name, "%s%s", s->out, done ? "" : ".part");
    return rc < 0 ? NULL : name;
}

/* Opens the next part (the file itself when not split). */
static int next_part(sink *s)
{
    if (s->f && fclose(s->f) != 0) {
        s->f = NULL;
        return s->werr = errno, TSE_ERR_STORAGE_FAILURE;
    }
    s->f = NULL;
    if (s->parts == ARCHIVE_MAX_PARTS)
        return s->werr = EFBIG, TSE_ERR_STORAGE_FAILURE;
    char *name = part_name(s, ++s->parts, false);
    s->f = name ? fopen(name, "wb") : NULL;
    if (!s->f)
        s->werr = name ? errno : ENOMEM;
    free(name);
    s->in_part = 0;
    return s->f ? 0 : TSE_ERR_STORAGE_FAILURE;
}

static int write_parts(sink *s, const uint8_t *data, size_t len)
{
    while (len) {
        if (!s->f || (s->split && s->in_part == s->split)) {
            int rc = next_part(s);
            if (rc)
                return rc;
        }
        size_t take = s->split && s->split - s->in_part < len ? (size_t)(s->split - s->in_part) : len;
        if (fwrite(data, 1, take, s->f) != take)
            return s->werr = errno, TSE_ERR_STORAGE_FAILURE;
        s->in_part += take;
        data += take;
        len -= take;
    }
    return 0;
}

/* Ends the parts: renamed to their names when ok (an archive that fitted
 * into one part is the file itself, without a number), else removed. The
 * names go to `files`. */
static int finish_parts(sink *s, bool ok, json_t *files)
{
    if (s->f && fclose(s->f) != 0 && ok) {
        s->werr = errno;
        ok = false;
    }
    s->f = NULL;
    bool whole = s->parts == 1;
    for (unsigned n = 1; n <= s->parts; n++) {
        char *from = part_name(s, n, false), *to = whole ? strdup(s->out) : part_name(s, n, true);
        if (!from || !to || !ok || rename(from, to) != 0) {
            if (ok)
                s->werr = from && to ? errno : ENOMEM;
            ok = false;
            if (from)
                unlink(from);
        } else
            json_array_append_new(files, json_string(to));
        free(from);
        free(to);
    }
    if (!ok) { /* parts already renamed go too */
        for (size_t i = 0; i < json_array_size(files); i++)
            unlink(json_string_value(json_array_get(files, i)));
        json_array_clear(files);
    }
    return ok ? 0 : -1;
}

static int to_sink(void *p, const uint8_t *data, size_t len)
{
    sink *s = p;
    if (s->out ? write_parts(s, data, len) != 0 : fwrite(data, 1, len, s->f) != len)
        return TSE_ERR_STORAGE_FAILURE;
    if (!s->bytes) { /* the logs to come: known for an unfiltered or incremental export */
        const tse_export_filter *f = s->filter;
        bool whole = !f->transaction_number && !f->start_transaction_number && !f->end_transaction_number &&
                     !f->start_date && !f->end_date && !f->client_id;
        cli_meter_start(&s->meter, s->ctx, "logs",
                        whole && s->res->cursor > f->cursor ? s->res->cursor - f->cursor : 0);
    }
    count_logs(s, data, len);
    s->bytes += len;
    cli_meter_update(&s->meter, s->logs, s->bytes);
    return 0;
}

/* The export's options, through getopt_long ("--name VALUE", "--name=VALUE"). */
typedef struct export_args {
    const char *out, *dir;
    uint64_t split;
} export_args;

static int parse_filter(cli_ctx *ctx, int argc, char **argv, tse_export_filter *f, export_args *out)
{
    enum { O_OUT = 1, O_CLIENT, O_TX, O_START_TX, O_END_TX, O_MAX, O_CURSOR, O_START_DATE, O_END_DATE, O_DIR,
           O_SPLIT };
    static const struct option opts[] = {
        {"out", required_argument, NULL, O_OUT},
        {"dir", required_argument, NULL, O_DIR},
        {"split-size", required_argument, NULL, O_SPLIT},
        {"client", required_argument, NULL, O_CLIENT},
        {"transaction", required_argument, NULL, O_TX},
        {"start-transaction", required_argument, NULL, O_START_TX},
        {"end-transaction", required_argument, NULL, O_END_TX},
        {"max-records", required_argument, NULL, O_MAX},
        {"cursor", required_argument, NULL, O_CURSOR},
        {"start-date", required_argument, NULL, O_START_DATE},
        {"end-date", required_argument, NULL, O_END_DATE},
        {0}};
    memset(f, 0, sizeof *f);
    *out = (export_args){0};
    optind = 1;
    opterr = 0;
    for (int prev = optind, k; (k = getopt_long(argc, argv, ":", opts, NULL)) != -1; prev = optind) {
        int rc = 0;
        switch (k) {
        case O_OUT: out->out = optarg; break;
        case O_DIR: out->dir = optarg; break;
        case O_SPLIT:
            rc = number_arg(ctx, "--split-size", optarg, &out->split);
            if (!rc && out->split < 512)
                rc = cli_fail(ctx, CLI_USAGE, "--split-size needs at least 512 bytes (one TAR block)");
            break;
        case O_CLIENT: f->client_id = optarg; break;
        case O_TX: rc = number_arg(ctx, "--transaction", optarg, &f->transaction_number); break;
        case O_START_TX: rc = number_arg(ctx, "--start-transaction", optarg, &f->start_transaction_number); break;
        case O_END_TX: rc = number_arg(ctx, "--end-transaction", optarg, &f->end_transaction_number); break;
        case O_MAX: rc = number_arg(ctx, "--max-records", optarg, &f->maximum_number_records); break;
        case O_CURSOR: /* 0: from the first log */
            rc = !strcmp(optarg, "0") ? 0 : number_arg(ctx, "--cursor", optarg, &f->cursor);
            break;
        case O_START_DATE: rc = parse_time(ctx, "--start-date", optarg, &f->start_date); break;
        case O_END_DATE: rc = parse_time(ctx, "--end-date", optarg, &f->end_date); break;
        case ':': return cli_fail(ctx, CLI_USAGE, "%s needs a value (see --help)", argv[prev]);
        default: return cli_fail(ctx, CLI_USAGE, "unknown option %s (see --help)", argv[prev]);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return cli_fail(ctx, CLI_USAGE, "unexpected argument %s (see --help)", argv[optind]);
    if (out->out && out->dir)
        return cli_fail(ctx, CLI_USAGE, "give --out FILE or --dir DIR, not both");
    if (out->split && !out->out && !out->dir)
        return cli_fail(ctx, CLI_USAGE, "--split-size needs --out FILE or --dir DIR");
    return 0;
}

int cmd_export(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(export_usage, stdout);
        return CLI_OK;
    }
    tse_export_filter f;
    export_args a;
    int ec = parse_filter(ctx, argc, argv, &f, &a);
    if (ec)
        return ec;
    bool to_stdout = !a.dir && (!a.out || !strcmp(a.out, "-"));
    if (to_stdout && (ctx->json || isatty(STDOUT_FILENO)))
        return cli_fail(ctx, CLI_USAGE,
                        "give --out FILE or --dir DIR (the archive does not go to a terminal or beside --json)");
    tse_export_result res = {0};
    sink s = {.ctx = ctx, .f = to_stdout ? stdout : NULL, .filter = &f, .res = &res, .split = a.split};
    json_t *files = json_array();
    char *named = NULL;
    tse *t = NULL;
    tse_err rc = TSE_OK;
    if (!files)
        return cli_fail(ctx, CLI_INTERNAL, "out of memory");
    if (!(ec = cli_open(ctx, &t))) {
        tse_info info;
        char name[128];
        if (a.dir && (rc = tse_get_info(t, &info)) != TSE_OK)
            ec = cli_tse_error(ctx, rc, "the export failed");
        else if (a.dir && (!archive_name("Export", (logmsg_time_format)info.time_format, (int64_t)time(NULL), 0, name,
                                         sizeof name) ||
                           asprintf(&named, "%s/%s", a.dir, name) < 0))
            ec = cli_fail(ctx, CLI_INTERNAL, "out of memory");
        s.out = to_stdout ? NULL : a.dir ? named : a.out;
        if (!ec) {
            rc = tse_export_data(t, &f, to_sink, &s, &res);
            if (s.bytes)
                cli_meter_end(&s.meter, s.logs, s.bytes);
            if (rc)
                ec = s.werr ? cli_fail(ctx, CLI_INTERNAL, "cannot write the archive%s%s: %s", s.out ? " " : "",
                                       s.out ? s.out : "", strerror(s.werr))
                            : cli_tse_error(ctx, rc, "the export failed");
        }
        tse_close(t);
    }
    if (to_stdout && fflush(stdout) != 0 && !ec)
        ec = cli_fail(ctx, CLI_INTERNAL, "cannot write stdout: %s", strerror(errno));
    if (!to_stdout && s.out && finish_parts(&s, !ec, files) != 0 && !ec)
        ec = cli_fail(ctx, CLI_INTERNAL, "cannot write %s: %s", s.out, strerror(s.werr));
    if (!ec && !to_stdout && !s.parts)
        ec = cli_fail(ctx, CLI_INTERNAL, "the export wrote nothing");
    if (!ec) {
        const char *first = to_stdout ? "-" : json_string_value(json_array_get(files, 0));
        if (ctx->json)
            cli_print_json(json_pack("{s:s, s:O, s:I, s:I, s:I}", "file", first, "files", files, "logs",
                                     (json_int_t)res.logs, "bytes", (json_int_t)res.bytes, "cursor",
                                     (json_int_t)res.cursor));
        else {
            fprintf(stderr, "%llu log%s, %llu bytes%s%s", (unsigned long long)res.logs, res.logs == 1 ? "" : "s",
                    (unsigned long long)res.bytes, to_stdout ? "" : " to ", to_stdout ? "" : first);
            if (json_array_size(files) > 1)
                fprintf(stderr, " ... %s (%zu parts)", json_string_value(json_array_get(files, json_array_size(files) - 1)),
                        json_array_size(files));
            fprintf(stderr, "; next incremental export: --cursor %llu\n", (unsigned long long)res.cursor);
        }
    }
    json_decref(files);
    free(named);
    return ec;
}

int cmd_delete_stored_data(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(delete_usage, stdout);
        return CLI_OK;
    }
    static const struct option delete_opts[] = {{"pin-file", required_argument, NULL, 'p'},
                                                {"out", required_argument, NULL, 'o'},
                                                {"cursor", required_argument, NULL, 'c'}, {0}};
    tse_export_filter f = {0};
    const char *out = NULL;
    optind = 1;
    opterr = 0;
    for (int prev = optind, k; (k = getopt_long(argc, argv, ":", delete_opts, NULL)) != -1; prev = optind) {
        int rc = 0;
        if (k == 'o')
            out = optarg;
        else if (k == 'c')
            rc = !strcmp(optarg, "0") ? 0 : number_arg(ctx, "--cursor", optarg, &f.cursor);
        else if (k != 'p')
            return cli_fail(ctx, CLI_USAGE, "%s %s (see --help)", k == ':' ? "a value is needed for" : "unknown option",
                            argv[prev]);
        if (rc)
            return rc;
    }
    if (optind < argc)
        return cli_fail(ctx, CLI_USAGE, "unexpected argument %s (see --help)", argv[optind]);
    if (f.cursor && !out)
        return cli_fail(ctx, CLI_USAGE, "--cursor needs --out FILE");
    tse *t = NULL;
    int ec = cli_open(ctx, &t);
    if (ec)
        return ec;
    tse_export_result res = {0};
    sink s = {.ctx = ctx, .filter = &f, .res = &res, .out = out};
    json_t *files = json_array();
    if (!files)
        ec = cli_fail(ctx, CLI_INTERNAL, "out of memory");
    if (!ec && !(ec = cli_admin_login(ctx, t, argc, argv)) && out) {
        tse_err rc = tse_export_data(t, &f, to_sink, &s, &res);
        if (s.bytes)
            cli_meter_end(&s.meter, s.logs, s.bytes);
        if (rc)
            ec = s.werr ? cli_fail(ctx, CLI_INTERNAL, "cannot write the archive %s: %s", out, strerror(s.werr))
                        : cli_tse_error(ctx, rc, "the export before the delete failed; nothing was deleted");
        if (finish_parts(&s, !ec, files) != 0 && !ec)
            ec = cli_fail(ctx, CLI_INTERNAL, "cannot write %s: %s; nothing was deleted", out, strerror(s.werr));
    }
    if (!ec) {
        tse_err rc = tse_delete_stored_data(t);
        if (rc)
            ec = cli_tse_error(ctx, rc, out ? "the stored data was not deleted (the archive was written)"
                                            : "the stored data was not deleted (--out FILE exports the rest first)");
    }
    tse_info info;
    if (!ec && tse_get_info(t, &info) == TSE_OK) {
        if (ctx->json && out)
            cli_print_json(json_pack("{s:b, s:I, s:s, s:I, s:I}", "deleted", 1, "signature_counter",
                                     (json_int_t)info.signature_counter, "file", out, "logs", (json_int_t)res.logs,
                                     "cursor", (json_int_t)res.cursor));
        else if (ctx->json)
            cli_print_json(json_pack("{s:b, s:I}", "deleted", 1, "signature_counter",
                                     (json_int_t)info.signature_counter));
        else
            printf("%s%s%sstored logs deleted; the system log of the delete has counter %llu\n", out ? "the rest went to " : "",
                   out ? out : "", out ? "; " : "", (unsigned long long)info.signature_counter);
    }
    json_decref(files);
    tse_close(t);
    return ec;
}

int cmd_restore(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(restore_usage, stdout);
        return CLI_OK;
    }
    static const struct option restore_opts[] = {
        {"pin-file", required_argument, NULL, 'p'}, {"recovery", no_argument, NULL, 'r'}, {0}};
    optind = 1;
    opterr = 0;
    for (int prev = optind, k; (k = getopt_long(argc, argv, ":", restore_opts, NULL)) != -1; prev = optind) {
        if (k == 'r')
            ctx->recovery = true;
        else if (k != 'p')
            return cli_fail(ctx, CLI_USAGE, "%s %s (see --help)", k == ':' ? "a value is needed for" : "unknown option",
                            argv[prev]);
    }
    int first = optind;   /* getopt_long put the archives last */
    if (first >= argc)
        return cli_fail(ctx, CLI_USAGE, "no archive given (see --help)");
    tse *t = NULL;
    int ec = cli_open(ctx, &t);
    if (ec)
        return ec;
    uint64_t added = 0;
    if (ctx->recovery || !(ec = cli_admin_login(ctx, t, argc, argv))) {
        tse_err rc = tse_restore_from_backup(t, (const char *const *)argv + first, (size_t)(argc - first), &added);
        if (rc)
            ec = cli_tse_error(ctx, rc, "nothing was restored");
    }
    if (!ec) {
        if (ctx->json)
            cli_print_json(json_pack("{s:I}", "restored", (json_int_t)added));
        else
            printf("%llu log%s restored\n", (unsigned long long)added, added == 1 ? "" : "s");
    }
    tse_close(t);
    return ec;
}
