/*
 * fuzz_seeds.c - writes the seed inputs of the fuzz harnesses that come
 * from our own TSE (the vendor exports, logs and QR code beside them are
 * added from the fixtures by run_fuzz.sh): a TSE with three transactions,
 * its complete export (verify, restore), each log and the certificate
 * chain's DER (der, logmsg), the receipts' QR codes (qr) and a few export
 * filters (export).
 *
 * Usage: fuzz_seeds OUTDIR   (OUTDIR/<harness>/ must exist)
 */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tse.h"
#include "opentse/receipt.h"

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

static int collect(void *ctx, const uint8_t *d, size_t n)
{
    buf *b = ctx;
    uint8_t *np = realloc(b->p, b->n + n);
    if (!np)
        return -1;
    memcpy(np + b->n, d, n);
    b->p = np;
    b->n += n;
    return 0;
}

static void out(const char *dir, const char *sub, const char *name, const void *d, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    if (fuzz_write(path, d, n) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
        return 2;
    }
    const char *o = argv[1];
    tse_result fin[3];
    char *dir, *db, *key, name[64];
    tse *t = fuzz_tse(3, fin, &dir, &db, &key);
    buf tar = {0};
    tse_export_result er;
    if (tse_export_data(t, NULL, collect, &tar, &er) != TSE_OK)
        return 1;
    out(o, "verify", "ours.tar", tar.p, tar.n);
    out(o, "restore", "ours.tar", tar.p, tar.n);
    for (uint64_t c = 1; c <= er.cursor; c++) {
        uint8_t *m = NULL;
        size_t n = 0;
        if (tse_read_log_by_counter(t, c, &m, &n) != TSE_OK)
            return 1;
        snprintf(name, sizeof name, "ours-%llu.log", (unsigned long long)c);
        out(o, "logmsg", name, m, n);
        if (c <= 3)
            out(o, "der", name, m, n);
        tse_free(m);
    }
    char *pem = NULL;
    if (tse_export_certificates(t, &pem) != TSE_OK)
        return 1;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int dl = x ? i2d_X509(x, &der) : -1;
    if (dl <= 0)
        return 1;
    out(o, "der", "ours-cert.der", der, (size_t)dl);
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    tse_free(pem);
    for (int i = 0; i < 3; i++) {
        char *qr = NULL;
        if (tse_receipt_qr_from_finish(t, &fin[i], FUZZ_CLIENT, "Kassenbeleg-V1", (const uint8_t *)fuzz_receipt(i),
                                       strlen(fuzz_receipt(i)), &qr) != TSE_OK)
            return 1;
        snprintf(name, sizeof name, "ours-%d.txt", i);
        out(o, "qr", name, qr, strlen(qr));
        tse_free(qr);
    }
    /* export filters (fuzz_export.c's layout): flags, which fields, values */
    static const uint8_t filters[][18] = {
        {0x00, 0x00},                                       /* everything */
        {0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 2},               /* transaction 2 */
        {0x06, 0x06, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3}, /* transactions 1..3 */
        {0x20, 0x20, 0, 0, 0, 0, 0, 0, 0, 1},               /* at most 1 record */
        {0x40, 0x40, 0, 0, 0, 0, 0, 0, 0, 4},               /* after cursor 4 */
        {0x80, 0x00, 'K', 'A', 'S', 'S', 'E', '-', 'F', 'U', 'Z', 'Z'}, /* the client */
    };
    static const size_t flen[] = {2, 10, 18, 10, 10, 12};
    for (size_t i = 0; i < sizeof flen / sizeof flen[0]; i++) {
        snprintf(name, sizeof name, "ours-%zu.bin", i);
        out(o, "export", name, filters[i], flen[i]);
    }
    free(tar.p);
    tse_close(t);
    free(dir);
    free(db);
    free(key);
    return 0;
}
