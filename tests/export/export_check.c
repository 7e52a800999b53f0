/*
 * export_check.c - checks of export archives for the export tests; see
 * export_check.h.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <openssl/sha.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "export_check.h"
#include "verify/verify.h"

tse_err ex_export_file(tse *t, const tse_export_filter *f, const char *path, tse_export_result *res)
{
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    tse_err rc = tse_export_data(t, f, th_to_file, out, res);
    assert_int_equal(fclose(out), 0);
    return rc;
}

/* Runs a shell command, returns its first output line (static) or "". */
static const char *sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *sh(const char *fmt, ...)
{
    static char line[512];
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&cmd, fmt, ap) > 0);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    line[0] = 0;
    if (!fgets(line, sizeof line, p))
        line[0] = 0;
    char rest[256];
    while (fgets(rest, sizeof rest, p))
        ;
    pclose(p);
    free(cmd);
    line[strcspn(line, "\n")] = 0;
    return line;
}

static const char *hash_flag(tse_hash h)
{
    return h == TSE_HASH_SHA384 ? "-sha384" : h == TSE_HASH_SHA512 ? "-sha512" : "-sha256";
}

/* Logs openssl verified already in this process (SHA-256 of their bytes):
 * the tests export the same logs many times, openssl checks each once. */
static uint8_t verified[16384][32];
static size_t n_verified;

static bool was_verified(const uint8_t digest[32])
{
    for (size_t i = 0; i < n_verified; i++)
        if (memcmp(verified[i], digest, 32) == 0)
            return true;
    return false;
}

size_t ex_openssl_verify_logs(const char *pub_pem, tse_hash hash, const uint8_t *const *logs,
                              const size_t *lens, size_t n)
{
    static int seq;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ossl-%d", th_tmpdir(), seq++);
    assert_string_equal(sh("mkdir -p '%s' && echo ok", dir), "ok");
    size_t known = 0, todo = 0;
    uint8_t (*digests)[32] = calloc(n ? n : 1, 32);
    assert_non_null(digests);
    for (size_t i = 0; i < n; i++) {
        logmsg m;
        tse_error err = {0};
    char path[600];
        SHA256(logs[i], lens[i], digests[todo]);
        if (was_verified(digests[todo])) {
            known++;
            continue;
        }
        size_t k = todo++;
        assert_true(logmsg_parse(logs[i], lens[i], &m, &err));
        uint8_t *der = NULL;
        size_t der_len = 0;
        assert_int_equal(csp_plain_to_der(m.signature.p, m.signature.n, &der, &der_len), 0);
        snprintf(path, sizeof path, "%s/%zu.sig", dir, k);
        assert_int_equal(th_write_file(path, der, der_len), 0);
        free(der);
        snprintf(path, sizeof path, "%s/%zu.tbs", dir, k);
        assert_int_equal(th_write_file(path, m.signed_bytes.p, m.signed_bytes.n), 0);
    }
    const char *count = sh("cd '%s' && i=0; while [ $i -lt %zu ]; do openssl dgst %s -verify '%s' -signature $i.sig "
                           "$i.tbs; i=$((i+1)); done 2>&1 | grep -c '^Verified OK'; rm -rf '%s'",
                           dir, todo, hash_flag(hash), pub_pem, dir);
    size_t ok = (size_t)strtoull(count, NULL, 10);
    if (ok == todo)
        for (size_t i = 0; i < todo && n_verified < 16384; i++)
            memcpy(verified[n_verified++], digests[i], 32);
    free(digests);
    return known + ok;
}

/* The raw ustar structure, read without libarchive. */
static void check_ustar(const uint8_t *buf, size_t len)
{
    assert_true(len >= 1024 && len % 512 == 0);
    size_t o = 0;
    static const uint8_t zero[512];
    while (o + 512 <= len) {
        const uint8_t *h = buf + o;
        if (memcmp(h, zero, 512) == 0) {
            /* the end: exactly two zero blocks */
            assert_int_equal(o + 1024, len);
            assert_memory_equal(buf + o + 512, zero, 512);
            return;
        }
        assert_memory_equal(h + 257, "ustar\0" "00", 8);
        /* regular files, or a pax header for a name longer than ustar's */
        assert_true(h[156] == '0' || h[156] == 'x');
        if (h[156] == '0')
            assert_memory_equal(h + 100, "000644 ", 7);
        char size[13] = {0};
        memcpy(size, h + 124, 12);
        size_t n = (size_t)strtoull(size, NULL, 8);
        o += 512 + (n + 511) / 512 * 512;
    }
    fail_msg("no end-of-archive blocks");
}

bool ex_has(const ex_archive *a, uint64_t c)
{
    for (size_t i = 0; i < a->n_logs; i++)
        if (a->counters[i] == c)
            return true;
    return false;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void ex_check_archive(tse *t, const char *path, ex_archive *out)
{
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    ex_check_archive_of(&info, path, out);
}

/* info.csv as Python's csv module reads it: for log format 3 the lines of
 * TR-03151-1 v1.1.1 section 2.5.3 (this library, then the OpenSSL the
 * openssl command line names, then the description padded to ten values),
 * for format 2 the one line of v1.0.1; LF line ends, every value quoted. */
static void check_info_csv(const tse_info *info, const char *dir, const char *text, size_t len)
{
    char file[600], want[2048];
    snprintf(file, sizeof file, "%s/info.csv", dir);
    assert_int_equal(th_write_file(file, text, len), 0);
    assert_null(memchr(text, '\r', len));
    assert_true(len && text[len - 1] == '\n');
    for (const char *l = text; l < text + len; l = strchr(l, '\n') + 1)
        assert_int_equal(*l, '"');
    char ossl[64];
    snprintf(ossl, sizeof ossl, "%s", sh("openssl version -v | cut -d' ' -f2"));
    /* one line: the rows joined by "/" */
    const char *rows = sh("python3 -c 'import csv,sys\n"
                          "print(\"/\".join(\"|\".join(r) for r in csv.reader(open(sys.argv[1], newline=\"\"))))' '%s'",
                          file);
    if (info->log_format_version == 2) {
        snprintf(want, sizeof want, "description:|%s|manufacturer:|OpenTSE|version:|%s", info->description,
                 OPENTSE_VERSION);
    } else {
        snprintf(want, sizeof want,
                 "component:|SMAERS|manufacturer:|OpenTSE|model:|libopentse|version:|%s|certification-id:|/"
                 "component:|CSP|manufacturer:|OpenSSL Project|model:|libcrypto|version:|%s|certification-id:|/"
                 "description:|%s||||||||",
                 OPENTSE_VERSION, ossl, info->description);
    }
    assert_string_equal(rows, want);
}

void ex_check_archive_of(const tse_info *ip, const char *path, ex_archive *out)
{
    tse_info info = *ip;
    char serial[65];
    tse_hex(info.serial_number, 32, serial);
    memset(out, 0, sizeof *out);

    size_t len = 0;
    uint8_t *raw = th_read_file(path, &len);
    assert_non_null(raw);
    check_ustar(raw, len);
    free(raw);

    th_tar_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(th_tar_read(path, &e, &n), 0);
    char dir[512];
    static int seq;
    snprintf(dir, sizeof dir, "%s/arch-%d", th_tmpdir(), seq++);
    assert_string_equal(sh("mkdir -p '%s' && echo ok", dir), "ok");

    bool info_seen = false, tse_cert = false;
    const uint8_t **logs = calloc(n, sizeof *logs);
    size_t *lens = calloc(n, sizeof *lens);
    assert_true(logs && lens);
    for (size_t i = 0; i < n; i++) {
        char file[1024];
        if (strcmp(e[i].name, "info.csv") == 0) {
            check_info_csv(&info, dir, (const char *)e[i].data, e[i].len);
            info_seen = true;
        } else if (ends_with(e[i].name, "_X509.der")) {
            /* openssl reads the certificate; the TSE's is named by the key serial */
            snprintf(file, sizeof file, "%s/%s", dir, e[i].name);
            assert_int_equal(th_write_file(file, e[i].data, e[i].len), 0);
            bool is_tse = strncmp(e[i].name, serial, 64) == 0;
            assert_string_equal(sh("openssl x509 -inform DER -in '%s' -out '%s/%s.pem' && echo ok", file, dir,
                                   is_tse ? "tse" : "chain-part"),
                                "ok");
            if (!is_tse)
                sh("cat '%s/chain-part.pem' >> '%s/chain.pem'", dir, dir);
            tse_cert |= is_tse;
        } else {
            assert_true(ends_with(e[i].name, ".log"));
            logmsg m;
            tse_error err = {0};
    char name[512];
            assert_true(logmsg_parse(e[i].data, e[i].len, &m, &err));
            assert_true(logmsg_filename(&m, 0, name, sizeof name));
            assert_string_equal(name, e[i].name);
            assert_memory_equal(m.serial_number.p, info.serial_number, 32);
            assert_true(out->n_logs < 4096);
            out->counters[out->n_logs] = m.signature_counter;
            out->tx_numbers[out->n_logs] = m.kind == LOGMSG_TRANSACTION ? m.transaction_number : 0;
            if (m.kind == LOGMSG_TRANSACTION)
                snprintf(out->clients[out->n_logs], TSE_MAX_CLIENT_ID_LEN + 1, "%.*s", (int)m.client_id.n,
                         (const char *)m.client_id.p);
            out->times[out->n_logs] = m.log_time;
            logs[out->n_logs] = e[i].data;
            lens[out->n_logs] = e[i].len;
            if (out->n_logs)   /* counter order */
                assert_true(m.signature_counter > out->counters[out->n_logs - 1]);
            out->n_logs++;
        }
    }
    assert_true(info_seen);
    assert_true(tse_cert);
    /* the chain, and the key serial of the TSE certificate, by openssl */
    assert_string_equal(sh("openssl verify -CAfile '%s/chain.pem' '%s/tse.pem' 2>&1", dir, dir),
                        sh("echo '%s/tse.pem: OK'", dir));
    char pub[600];
    snprintf(pub, sizeof pub, "%s/pub.pem", dir);
    assert_string_equal(sh("openssl x509 -in '%s/tse.pem' -pubkey -noout > '%s' && echo ok", dir, pub), "ok");
    size_t point_len = 1 + 2 * csp_curve_order_len(info.curve);
    char want[80];
    snprintf(want, sizeof want, "%s", serial);
    assert_string_equal(sh("openssl pkey -pubin -in '%s' -outform DER | tail -c %zu | openssl dgst -sha256 -r | cut "
                           "-d' ' -f1",
                           pub, point_len),
                        want);
    tse_hash h = info.hash == TSE_HASH_DEFAULT ? csp_default_hash(info.curve) : info.hash;
    assert_int_equal(ex_openssl_verify_logs(pub, h, logs, lens, out->n_logs), out->n_logs);
    sh("rm -rf '%s'", dir);
    /* and our own verifier finds nothing wrong */
    verify_result vr;
    assert_int_equal(verify_archive(path, NULL, &vr), 0);
    /* a filtered archive skips counters on purpose; the verifier calls that a gap */
    bool contiguous = true;
    for (size_t i = 1; i < out->n_logs; i++)
        contiguous &= out->counters[i] == out->counters[i - 1] + 1;
    size_t gaps = verify_count(&vr, "counter-gap");
    if (vr.errors || contiguous != (gaps == 0))
        verify_report_text(&vr, stderr, true);
    assert_int_equal(vr.errors, 0);
    assert_int_equal(contiguous, gaps == 0);
    assert_int_equal(vr.counts.logs, out->n_logs);
    assert_int_equal(vr.counts.signatures_valid, out->n_logs);
    verify_result_free(&vr);
    free(logs);
    free(lens);
    th_tar_free(e, n);
}

int ex_write_tar(const char *path, const th_tar_entry *entries, size_t n)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int rc = (!a || !e || archive_write_set_format_ustar(a) != ARCHIVE_OK ||
              archive_write_open_filename(a, path) != ARCHIVE_OK)
                 ? -1
                 : 0;
    for (size_t i = 0; !rc && i < n; i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, entries[i].name);
        archive_entry_set_size(e, (la_int64_t)entries[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            archive_write_data(a, entries[i].data, entries[i].len) != (la_ssize_t)entries[i].len)
            rc = -1;
    }
    if (a && archive_write_close(a) != ARCHIVE_OK)
        rc = -1;
    archive_write_free(a);
    archive_entry_free(e);
    return rc;
}
