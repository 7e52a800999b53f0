/*
 * bench_qr.c - receipt QR codes checked per second on one core (parse,
 * rebuild the Finish log, verify the signature), and QR strings plus PNG
 * images made per second.
 *
 *   bench_qr QR_FILE SECONDS   -> "verify_per_s N build_per_s N png_per_s N"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "receipt/receipt.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_qr QR_FILE SECONDS\n");
        return 2;
    }
    char qr[4096];
    FILE *f = fopen(argv[1], "r");
    if (!f || !fgets(qr, sizeof qr, f)) {
        fprintf(stderr, "bench_qr: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    qr[strcspn(qr, "\r\n")] = 0;
    double secs = atof(argv[2]) / 3, until = now_s() + secs;
    unsigned long verified = 0, built = 0, images = 0;
    tse_error err = {0};
    while (now_s() < until) {
        if (receipt_qr_verify(qr, NULL, &err) != RECEIPT_QR_VALID) {
            fprintf(stderr, "bench_qr: %s\n", err.message);
            return 1;
        }
        verified++;
    }
    receipt_qr_parsed p;
    if (!receipt_qr_parse(qr, &p, &err)) {
        fprintf(stderr, "bench_qr: %s\n", err.message);
        return 1;
    }
    for (until = now_s() + secs; now_s() < until; built++)
        free(receipt_qr_string(&p.q, &err));
    for (until = now_s() + secs; now_s() < until; images++) {
        uint8_t *png;
        size_t len;
        if (receipt_qr_png(qr, 4, &png, &len, &err) != 0) {
            fprintf(stderr, "bench_qr: %s\n", err.message);
            return 1;
        }
        free(png);
    }
    receipt_qr_parsed_free(&p);
    printf("verify_per_s %.0f build_per_s %.0f png_per_s %.0f\n", verified / secs, built / secs, images / secs);
    return 0;
}
