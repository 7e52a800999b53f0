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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opentse/opentse.h>
#include <opentse/receipt.h>

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
} register_ctx;

/* The signature block (KassenSichV section 6) and the QR code: its string,
 * and the SVG when asked. */
static void print_signature(register_ctx *r, int n, const tse_result *f, const char *pd)
{
    char *qr = NULL, *block = NULL, *svg = NULL;
    if (tse_receipt_qr_from_finish(r->t, f, r->client, "Kassenbeleg-V1", (const uint8_t *)pd, strlen(pd), &qr) ||
        tse_receipt_tse_block(qr, NULL, &block)) {
        printf("  (no signature block: %s)\n", tse_last_error_message());
        tse_free(qr);
        return;
    }
    printf("%sqr %d: %s\n", block, n, qr);
    if (r->qr_dir && tse_receipt_qr_svg(qr, 4, &svg) == TSE_OK) {
        char path[1024];
        snprintf(path, sizeof path, "%s/receipt-%d.svg", r->qr_dir, n);
        FILE *out = fopen(path, "w");
        if (out) {
            fputs(svg, out);
            fclose(out);
        }
    }
    tse_free(svg);
    tse_free(block);
    tse_free(qr);
}

/* One receipt: start, finish with the Kassenbeleg-V1 data, print. */
static int sell(register_ctx *r, int n, const sale *s)
{
    tse_receipt_payment pay = {.cents = s->cents};
    tse_receipt_kassenbeleg kb = {.vorgangstyp = s->cancelled ? "AVBelegabbruch" : "Beleg",
                                  .payments = &pay, .n_payments = s->cancelled ? 0 : 1};
    kb.gross[TSE_RECEIPT_VAT_NORMAL] = s->cents;
    char *pd = NULL;
    if (tse_receipt_kassenbeleg_build(&kb, &pd) != TSE_OK) {
        fprintf(stderr, "receipt %d: %s\n", n, tse_last_error_message());
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
        print_signature(r, n, &fin, pd);
        printf("receipt %d: signed transaction %llu counter %llu\n", n, (unsigned long long)fin.transaction_number,
               (unsigned long long)fin.signature_counter);
    } else if (rc == TSE_ERR_UNREACHABLE) {
        /* the register keeps selling; the journal holds what happened */
        char *block = NULL;
        tse_err brc = tse_receipt_tse_block(NULL, "TSE nicht erreichbar", &block);
        printf("%sreceipt %d: TSE ausgefallen\n", brc == TSE_OK ? block : "TSE ausgefallen\n", n);
        tse_free(block);
    } else {
        fprintf(stderr, "receipt %d: %s\n  %s\n", n, tse_strerror(rc), tse_last_error_message());
        failed = 1;
    }
    tse_free(pd);
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
    tse_close(r.t);
    return failed;
}
