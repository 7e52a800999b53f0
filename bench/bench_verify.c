/*
 * bench_verify.c - verification speed and memory on a big archive.
 *
 *   bench_verify ARCHIVE.tar CURVE LOGS   -> writes a signed export archive
 *   bench_verify ARCHIVE.tar              -> "verify_logs_per_s N peak_rss_kb M logs L"
 *
 * The archive holds LOGS transaction logs (Start/Finish pairs) of one new
 * key on CURVE (p256 or bp384) under the built-in CA's chain, named and laid
 * out as an export. Verifying it checks every signature; the peak resident
 * memory of the process shows that memory stays at a small record per log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "verify/verify.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_verify: %s\n", what);
    exit(1);
}

static void put(struct archive *a, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        die("out of memory");
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, time(NULL), 0);
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        archive_write_data(a, data, len) != (la_ssize_t)len)
        die(archive_error_string(a));
    archive_entry_free(e);
}

static void generate(const char *path, tse_curve curve, unsigned long logs)
{
    csp_key *k;
    char *pem, hex[65];
    uint8_t point[200], serial[32];
    size_t point_len;
    if (csp_key_generate(curve, &k, NULL) || csp_key_public(k, point, sizeof point, &point_len, NULL) ||
        csp_ca_issue(k, "bench", 3600L * 24 * 365 * 20, &pem, NULL))
        die("cannot make a key and its certificate");
    csp_serial(point, point_len, serial);
    tse_hash h = csp_default_hash(curve);
    struct archive *a = archive_write_new();
    if (!a || archive_write_set_format_ustar(a) != ARCHIVE_OK ||
        archive_write_open_filename(a, path) != ARCHIVE_OK)
        die("cannot write the archive");
    const char *info = "\"description:\",\"bench\",\"manufacturer:\",\"OpenTSE\",\"version:\",\"0\"\n";
    put(a, "info.csv", info, strlen(info));
    csp_cert *certs;
    size_t n_certs;
    if (csp_chain_split(pem, &certs, &n_certs, NULL))
        die("cannot split the chain");
    for (size_t i = 0; i < n_certs; i++) {
        char name[100];
        for (int j = 0; j < 32; j++)
            snprintf(hex + 2 * j, 3, "%02x", certs[i].key_serial[j]);
        snprintf(name, sizeof name, "%s_X509.der", hex);
        put(a, name, certs[i].der, certs[i].der_len);
    }
    csp_certs_free(certs, n_certs);
    free(pem);
    const char *pd = "Beleg^3.70_0.00_0.00_0.00_0.00^3.70:Bar";
    /* after the certificate was issued and, within the 5 minutes the check
     * allows for clocks, not after the check */
    int64_t t0 = (int64_t)time(NULL);
    for (unsigned long c = 1; c <= logs; c++) {
        logmsg_fields f = {
            .kind = LOGMSG_TRANSACTION,
            .operation = c % 2 ? "StartTransaction" : "FinishTransaction",
            .client_id = "BENCH-01",
            .process_data = {(const uint8_t *)pd, c % 2 ? 0 : strlen(pd)},
            .process_type = "Kassenbeleg-V1",
            .transaction_number = (c + 1) / 2,
            .serial_number = serial,
            .signature_algorithm_oid = csp_sigalg_oid(h),
            .signature_counter = c,
            .time_format = LOGMSG_TIME_UNIX,
            .log_time = t0 + (int64_t)(c / 100000),
        };
        uint8_t tbs[1024], sig[200], msg[1400];
        size_t sig_len;
        char name[256];
        der_w w = der_w_init(tbs, sizeof tbs);
        if (!logmsg_encode_tbs(&w, &f) || !der_w_ok(&w) ||
            csp_sign(k, h, tbs, w.len, sig, sizeof sig, &sig_len, NULL))
            die("cannot sign");
        der_w m = der_w_init(msg, sizeof msg);
        logmsg_encode(&m, tbs, w.len, sig, sig_len);
        if (!der_w_ok(&m) || !logmsg_filename_fields(&f, 0, name, sizeof name))
            die("cannot encode");
        put(a, name, msg, m.len);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        die("cannot finish the archive");
    archive_write_free(a);
    csp_key_free(k);
}

int main(int argc, char **argv)
{
    if (argc == 4) {
        tse_curve c = !strcmp(argv[2], "bp384") ? TSE_CURVE_BRAINPOOL_P384R1 : TSE_CURVE_P256;
        generate(argv[1], c, strtoul(argv[3], NULL, 10));
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: bench_verify ARCHIVE [CURVE LOGS]\n");
        return 2;
    }
    verify_result r;
    double t = now_s();
    int rc = verify_archive(argv[1], NULL, &r);
    t = now_s() - t;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (rc != 0 || r.errors || r.counts.signatures_valid != r.counts.logs) {
        verify_report_text(&r, stderr, true);
        die("the archive does not verify");
    }
    /* Logs per second of CPU time (all threads): held against one `openssl
     * speed` process's verifies per CPU second, whatever others run. */
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    printf("verify_logs_per_s %.0f peak_rss_kb %ld logs %zu cpu_logs_per_s %.0f\n", (double)r.counts.logs / t,
           ru.ru_maxrss, r.counts.logs, cpu > 0 ? (double)r.counts.logs / cpu : 0);
    verify_result_free(&r);
    return 0;
}
