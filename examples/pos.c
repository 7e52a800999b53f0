/*
 * pos.c - a minimal cash register on libopentse: sells three receipts (the
 * second one is cancelled), prints each with its DSFinV-K QR code, and keeps
 * selling when the TSE cannot be reached: the receipt then says "TSE
 * ausgefallen" and the outage journal records what was sold without a TSE.
 *
 * Usage: opentse-pos URL CLIENT_ID [--journal FILE] [--qr-dir DIR] [--step]
 *   URL        file:/path/tse.db (needs $OPENTSE_MASTER_KEY) or
 *              http(s)://host:port/tss/<uuid> ($OPENTSE_API_KEY/_SECRET)
 *   CLIENT_ID  this register's serial number, registered with the TSE
 *   --qr-dir   also writes receipt-N.svg there
 *   --step     waits for a line on stdin before each receipt
 * Prints one line "receipt N: signed ..." or "receipt N: TSE ausgefallen"
 * per receipt, after the receipt itself, and the QR string as "qr N: ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opentse/opentse.h"
#include "receipt/receipt.h"

typedef struct sale {
    const char *what;
    int64_t cents;        /* gross, 19 % VAT */
    bool cancelled;       /* the customer walked away: Vorgangstyp AVBelegabbruch */
} sale;

static const sale sales[] = {
    {"Kaffee", 320, false},
    {"Kuchen", 450, true},
    {"Kaffee, Kuchen", 770, false},
};

typedef struct register_ctx {
    tse *t;
    const char *client;
    const char *qr_dir;
    tse_info info;
    uint8_t *pub;
    size_t pub_len;
} register_ctx;

/* The signature block (KassenSichV section 6) and the QR code: its string,
 * and the SVG when asked. */
static void print_signature(register_ctx *r, int n, const tse_result *st, const tse_result *f, const char *pd)
{
    receipt_qr q = {
        .client_id = r->client,
        .process_type = "Kassenbeleg-V1",
        .process_data = (const uint8_t *)pd,
        .process_data_len = strlen(pd),
        .transaction_number = f->transaction_number,
        .signature_counter = f->signature_counter,
        .start_time = st->log_time,
        .finish_time = f->log_time,
        .signature = f->signature,
        .signature_len = f->signature_len,
    };
    char err[RECEIPT_ERRLEN];
    /* what the QR codes need, read once (the TSE just answered) */
    if (!r->pub && (tse_get_info(r->t, &r->info) != TSE_OK || tse_public_key(r->t, &r->pub, &r->pub_len) != TSE_OK)) {
        printf("  (no QR code: %s)\n", tse_last_error_message());
        return;
    }
    q.signature_algorithm = r->info.signature_algorithm;
    q.time_format = r->info.time_format;
    q.public_key = r->pub;
    q.public_key_len = r->pub_len;
    char *block = receipt_tse_block(&q, NULL, err, sizeof err);
    char *qr = block ? receipt_qr_string(&q, err, sizeof err) : NULL;
    if (!qr) {
        printf("  (no signature block: %s)\n", err);
        free(block);
        return;
    }
    printf("%s%sqr %d: %s\n", block, *block && block[strlen(block) - 1] == '\n' ? "" : "\n", n, qr);
    if (r->qr_dir) {
        char *svg = receipt_qr_svg(qr, 4, err, sizeof err);
        char path[1024];
        snprintf(path, sizeof path, "%s/receipt-%d.svg", r->qr_dir, n);
        FILE *out = svg ? fopen(path, "w") : NULL;
        if (out) {
            fputs(svg, out);
            fclose(out);
        }
        free(svg);
    }
    free(block);
    free(qr);
}

/* One receipt: start, finish with the Kassenbeleg-V1 data, print. */
static int sell(register_ctx *r, int n, const sale *s)
{
    receipt_payment pay = {.cents = s->cancelled ? 0 : s->cents};
    receipt_kassenbeleg kb = {.vorgangstyp = s->cancelled ? "AVBelegabbruch" : "Beleg",
                              .payments = &pay, .n_payments = s->cancelled ? 0 : 1};
    kb.gross[RECEIPT_VAT_NORMAL] = s->cents;
    char err[RECEIPT_ERRLEN];
    char *pd = receipt_kassenbeleg_build(&kb, err, sizeof err);
    if (!pd) {
        fprintf(stderr, "receipt %d: %s\n", n, err);
        return 1;
    }
    tse_result st, fin;
    tse_err rc = tse_start_transaction(r->t, r->client, (const uint8_t *)"", 0, "Kassenbeleg-V1", NULL, 0, &st);
    if (rc == TSE_OK)
        rc = tse_finish_transaction(r->t, r->client, st.transaction_number, (const uint8_t *)pd, strlen(pd),
                                    "Kassenbeleg-V1", NULL, 0, &fin);
    printf("---- Beleg %d ----\n  %-20s %4lld,%02lld EUR%s\n", n, s->what, (long long)s->cents / 100,
           (long long)s->cents % 100, s->cancelled ? "  STORNIERT" : "");
    int failed = 0;
    if (rc == TSE_OK) {
        print_signature(r, n, &st, &fin, pd);
        printf("receipt %d: signed transaction %llu counter %llu\n", n, (unsigned long long)fin.transaction_number,
               (unsigned long long)fin.signature_counter);
    } else if (rc == TSE_ERR_UNREACHABLE) {
        /* the register keeps selling; the journal holds what happened */
        char *block = receipt_tse_block(NULL, "TSE nicht erreichbar", NULL, 0);
        const char *text = block ? block : "TSE ausgefallen\n";
        printf("%s%sreceipt %d: TSE ausgefallen\n", text, text[strlen(text) - 1] == '\n' ? "" : "\n", n);
        free(block);
    } else {
        fprintf(stderr, "receipt %d: %s\n  %s\n", n, tse_strerror(rc), tse_last_error_message());
        failed = 1;
    }
    free(pd);
    fflush(stdout);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: opentse-pos URL CLIENT_ID [--journal FILE] [--qr-dir DIR] [--step]\n");
        return 2;
    }
    register_ctx r = {.client = argv[2]};
    tse_open_options o = {.master_key_path = getenv("OPENTSE_MASTER_KEY"), .connect_timeout_ms = 1000,
                          .timeout_ms = 5000};
    bool step = false;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--journal") && i + 1 < argc)
            o.journal_path = argv[++i];
        else if (!strcmp(argv[i], "--qr-dir") && i + 1 < argc)
            r.qr_dir = argv[++i];
        else if (!strcmp(argv[i], "--step"))
            step = true;
        else {
            fprintf(stderr, "opentse-pos: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    tse_err rc = tse_open(argv[1], &o, &r.t);
    if (rc) {
        fprintf(stderr, "opentse-pos: cannot open %s: %s\n  %s\n", argv[1], tse_strerror(rc),
                tse_last_error_message());
        return 1;
    }
    int failed = 0;
    char line[64];
    for (size_t i = 0; i < sizeof sales / sizeof sales[0] && !failed; i++) {
        if (step && !fgets(line, sizeof line, stdin))
            break;
        failed = sell(&r, (int)i + 1, &sales[i]);
    }
    tse_free(r.pub);
    tse_close(r.t);
    return failed;
}
