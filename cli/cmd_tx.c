/*
 * cmd_tx.c - `opentse tx start|update|finish|list-open`: transactions by
 * hand (integration tests, support). Process data from --data TEXT or
 * --data-file FILE; the result shows the transaction number, signature
 * counter, log time and the signature (base64).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char *tx_usage =
    "usage: opentse --url URL tx COMMAND [OPTIONS]\n"
    "\n"
    "  start --client ID [--type T] [--data TEXT | --data-file FILE]\n"
    "  update NUMBER --client ID [--type T] [--data TEXT | --data-file FILE]\n"
    "  finish NUMBER --client ID [--type T] [--data TEXT | --data-file FILE]\n"
    "  list-open          open transactions, oldest update first\n"
    "\n"
    "--type defaults to Kassenbeleg-V1. On a TSE whose logger has a PIN\n"
    "(opentse se logger-pin), start, update and finish log the logger in\n"
    "first with $OPENTSE_LOGGER_PIN or --logger-pin-file FILE.\n";

/* Seconds since 1970 as YYYY-MM-DDThh:mm:ssZ (UTC). */
static void iso_utc(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "%lld", (long long)t);
}

static json_t *result_json(const char *op, const tse_result *r)
{
    char serial[2 * TSE_SERIAL_LEN + 1];
    tse_hex(r->serial_number, TSE_SERIAL_LEN, serial);
    char sig[4 * ((TSE_MAX_SIGNATURE_LEN + 2) / 3) + 1];
    EVP_EncodeBlock((unsigned char *)sig, r->signature, (int)r->signature_len);
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:s}", "operation", op, "transaction_number",
                     (json_int_t)r->transaction_number, "signature_counter", (json_int_t)r->signature_counter,
                     "log_time", (json_int_t)r->log_time, "start_time", (json_int_t)r->start_time, "serial_number",
                     serial, "signature", sig);
}

/* The call's log; before it, `kept` when the call first signed data kept
 * by unsigned updates in an update log of its own (its counter not 0;
 * TR-03151-1 3.7.1.4, 3.7.6.5 step 9): in JSON as "kept_log". */
static int print_result(cli_ctx *ctx, const char *op, const tse_result *r, const tse_result *kept)
{
    bool has_kept = kept && kept->signature_counter;
    if (ctx->json) {
        json_t *j = result_json(op, r);
        if (j && has_kept)
            json_object_set_new(j, "kept_log", result_json("updateTransaction", kept));
        cli_print_json(j);
    } else {
        if (has_kept)
            print_result(ctx, "updateTransaction (the kept data)", kept, NULL);
        char sig[4 * ((TSE_MAX_SIGNATURE_LEN + 2) / 3) + 1];
        EVP_EncodeBlock((unsigned char *)sig, r->signature, (int)r->signature_len);
        char log_time[32], start_time[32];
        iso_utc(r->log_time, log_time, sizeof log_time);
        iso_utc(r->start_time, start_time, sizeof start_time);
        printf("%s transaction %llu\n  signature counter %llu\n  start time        %s\n  log time          %s\n"
               "  signature         %s\n",
               op, (unsigned long long)r->transaction_number, (unsigned long long)r->signature_counter, start_time,
               log_time, sig);
    }
    return CLI_OK;
}

static int list_open(cli_ctx *ctx, tse *t)
{
    tse_open_transaction *list = NULL;
    size_t n = 0;
    tse_err rc = tse_list_open_transactions(t, &list, &n);
    if (rc)
        return cli_tse_error(ctx, rc, "cannot list open transactions");
    json_t *arr = ctx->json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        const tse_open_transaction *o = &list[i];
        if (arr)
            json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:I, s:I, s:b}", "transaction_number",
                                                 (json_int_t)o->transaction_number, "client_id", o->client_id,
                                                 "start_time", (json_int_t)o->start_time, "last_update",
                                                 (json_int_t)o->last_update, "age_seconds",
                                                 (json_int_t)o->age_seconds, "overdue", o->overdue));
        else
        {
            char started[32];
            iso_utc(o->start_time, started, sizeof started);
            printf("%llu  %s  started %s  %lld s since the last update%s\n", (unsigned long long)o->transaction_number,
                   o->client_id, started, (long long)o->age_seconds, o->overdue ? "  OVERDUE" : "");
        }
    }
    tse_free(list);
    if (arr)
        cli_print_json(json_pack("{s:o}", "open_transactions", arr));
    return CLI_OK;
}

/* Process data: --data or --data-file (malloc'd, length to *n). */
static int read_data(cli_ctx *ctx, int argc, char **argv, uint8_t **out, size_t *n)
{
    const char *text = cli_opt(argc, argv, "--data"), *file = cli_opt(argc, argv, "--data-file");
    *out = NULL;
    *n = 0;
    if (text && file)
        return cli_fail(ctx, CLI_USAGE, "give --data or --data-file, not both");
    if (text) {
        *n = strlen(text);
        *out = (uint8_t *)strdup(text);
    } else if (file) {
        FILE *f = fopen(file, "rb");
        if (!f)
            return cli_fail(ctx, CLI_USAGE, "cannot read %s", file);
        size_t cap = 4096;
        *out = malloc(cap);
        size_t got;
        while (*out && (got = fread(*out + *n, 1, cap - *n, f)) > 0) {
            *n += got;
            if (*n == cap) {
                uint8_t *bigger = *n > TSE_MAX_PROCESS_DATA_LEN ? NULL : realloc(*out, cap *= 2);
                if (!bigger) {
                    free(*out);
                    *out = NULL;
                }
                else
                    *out = bigger;
            }
        }
        fclose(f);
        if (!*out)
            return cli_fail(ctx, CLI_USAGE, "%s is larger than %u bytes", file, TSE_MAX_PROCESS_DATA_LEN);
    } else {
        *out = (uint8_t *)strdup("");
    }
    return *out ? 0 : cli_fail(ctx, CLI_INTERNAL, "no memory");
}

/* TR-03153-1 v1.1.1 table 9: a logger with a PIN signs only when logged
 * in; without a PIN given here nothing is done (a logger without a PIN
 * needs none). */
static int logger_login(cli_ctx *ctx, tse *t, int argc, char **argv)
{
    char *pin = cli_secret("OPENTSE_LOGGER_PIN", cli_opt(argc, argv, "--logger-pin-file"));
    if (!pin)
        return 0;
    tse_err rc = tse_authenticate_user(t, TSE_USER_LOGGER, pin, NULL, NULL);
    explicit_bzero(pin, strlen(pin));
    free(pin);
    return rc ? cli_tse_error(ctx, rc, "logger login failed") : 0;
}

int cmd_tx(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(tx_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    int bad = cli_no_secrets(ctx, argc, argv);
    if (bad)
        return bad;
    bool start = !strcmp(sub, "start"), update = !strcmp(sub, "update"), finish = !strcmp(sub, "finish");
    if (!start && !update && !finish && strcmp(sub, "list-open"))
        return cli_fail(ctx, CLI_USAGE, "unknown tx command '%s' (see opentse tx --help)", sub);
    const char *client = cli_opt(argc, argv, "--client");
    const char *type = cli_opt(argc, argv, "--type");
    unsigned long long number = 0;
    if ((start || update || finish) && !client)
        return cli_fail(ctx, CLI_USAGE, "tx %s needs --client ID", sub);
    if (update || finish) {
        char *end = NULL;
        number = argc > 2 ? strtoull(argv[2], &end, 10) : 0;
        if (!number || *end)
            return cli_fail(ctx, CLI_USAGE, "tx %s needs the transaction NUMBER first", sub);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int ec = start || update || finish ? read_data(ctx, argc, argv, &data, &len) : 0;
    tse *t = NULL;
    if (!ec)
        ec = cli_open(ctx, &t);
    if (!ec && (start || update || finish))
        ec = logger_login(ctx, t, argc, argv);
    if (!ec && !start && !update && !finish) {
        ec = list_open(ctx, t);
    } else if (!ec) {
        tse_result r, kept = {0};
        const char *pt = type ? type : "Kassenbeleg-V1";
        tse_err rc = start    ? tse_start_transaction(t, client, data, len, pt, NULL, 0, &r)
                     : update ? tse_update_transaction_logs(t, client, number, data, len, pt, TSE_UPDATE_SIGNED, &kept, &r)
                              : tse_finish_transaction_logs(t, client, number, data, len, pt, NULL, 0, &kept, &r);
        ec = rc ? cli_tse_error(ctx, rc, start ? "cannot start the transaction"
                                         : update ? "cannot update the transaction"
                                                  : "cannot finish the transaction")
                : print_result(ctx, start ? "startTransaction" : update ? "updateTransaction" : "finishTransaction",
                               &r, &kept);
    }
    free(data);
    tse_close(t);
    return ec;
}
