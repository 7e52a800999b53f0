/*
 * test_verify.c - verify/ against real exports and their tampered copies:
 * every archive in $OPENTSE_FIXTURES/exports passes with every signature
 * checked; copies made here with one byte flipped in one log, one log
 * removed, one log renamed, one certificate replaced by another TSE's (and
 * info.csv missing, a stranger file, a log twice) are each rejected with the
 * finding that names the change. Single logs through verify_log; archives
 * of our own TSE written by tse_export_data (complete, incremental, one
 * transaction) pass and their tampered copies fail the same way; the
 * `opentse verify` command line's exit codes and JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <dirent.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <jansson.h>
#include <png.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "helpers.h"
#include "opentse/receipt.h"
#include "ready_tse.h"
#include "verify/verify.h"

/* ------------------------------------------------------------ helpers */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The fixture archives (file names under exports/), sorted. */
static size_t list_exports(char names[][256], size_t cap)
{
    char *dir = th_fixture("exports");
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (ends_with(de->d_name, ".tar") && n < cap)
            snprintf(names[n++], 256, "%s", de->d_name);
    closedir(d);
    free(dir);
    qsort(names, n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

static void load_export(const char *file, th_tar_entry **e, size_t *n)
{
    char rel[256];
    snprintf(rel, sizeof rel, "exports/%s", file);
    char *path = th_fixture(rel);
    assert_int_equal(th_tar_read(path, e, n), 0);
    free(path);
}

/* Writes entries as a ustar archive; entries with data == NULL are left out. */
static char *write_tar(const char *name, const th_tar_entry *e, size_t n)
{
    char *path = th_path(name);
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        if (!e[i].data)
            continue;
        struct archive_entry *ae = archive_entry_new();
        assert_non_null(ae);
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_size(ae, (la_int64_t)e[i].len);
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, 0644);
        archive_entry_set_mtime(ae, 1700000000, 0);
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, e[i].data, e[i].len), (la_ssize_t)e[i].len);
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

/* A copy of the entries (names and data duplicated) to modify. */
static th_tar_entry *copy_entries(const th_tar_entry *e, size_t n, size_t extra)
{
    th_tar_entry *c = calloc(n + extra, sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++) {
        c[i].name = strdup(e[i].name);
        c[i].data = malloc(e[i].len + 1);
        assert_non_null(c[i].name);
        assert_non_null(c[i].data);
        memcpy(c[i].data, e[i].data, e[i].len);
        c[i].len = e[i].len;
    }
    return c;
}

static void free_entries(th_tar_entry *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].data);
    }
    free(c);
}

static void parse(const th_tar_entry *e, logmsg *m)
{
    tse_error err = {0};
    if (!logmsg_parse(e->data, e->len, m, &err))
        fail_msg("%s: %s", e->name, err);
}

/* Index of the log with the median signature counter. */
static size_t middle_log(const th_tar_entry *e, size_t n)
{
    uint64_t counters[1024];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ends_with(e[i].name, ".log")) {
            logmsg m;
            parse(&e[i], &m);
            assert_true(k < 1024);
            counters[k++] = m.signature_counter;
        }
    assert_true(k >= 3);
    /* The k/2-th smallest counter. */
    uint64_t want = 0;
    for (size_t i = 0; i < k; i++) {
        size_t below = 0;
        for (size_t j = 0; j < k; j++)
            below += counters[j] < counters[i];
        if (below == k / 2)
            want = counters[i];
    }
    for (size_t i = 0; i < n; i++)
        if (ends_with(e[i].name, ".log")) {
            logmsg m;
            parse(&e[i], &m);
            if (m.signature_counter == want)
                return i;
        }
    fail_msg("no middle log");
    return 0;
}

static size_t count_suffix(const th_tar_entry *e, size_t n, const char *suffix)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ends_with(e[i].name, suffix);
    return k;
}

/* The certificate named by the serial of the archive's logs. */
static size_t leaf_cert(const th_tar_entry *e, size_t n)
{
    logmsg m;
    parse(&e[middle_log(e, n)], &m);
    char hex[65];
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[m.serial_number.p[i] >> 4];
        hex[2 * i + 1] = digits[m.serial_number.p[i] & 15];
    }
    hex[64] = 0;
    for (size_t i = 0; i < n; i++)
        if (strncasecmp(e[i].name, hex, 64) == 0 && strstr(e[i].name, "_X509."))
            return i;
    fail_msg("no leaf certificate");
    return 0;
}

static void verify_path(const char *path, verify_result *r)
{
    verify_options o = {0};
    assert_int_equal(verify_archive(path, &o, r), 0);
}

static void print_findings(const verify_result *r)
{
    for (size_t i = 0; i < r->n_findings; i++)
        print_message("    %s %s: %s%s%s\n", verify_severity_name(r->findings[i].severity),
                      r->findings[i].code, r->findings[i].file ? r->findings[i].file : "",
                      r->findings[i].file ? ": " : "", r->findings[i].message);
}

/* A tampered copy must get the verdict `v` (never 0) with a finding `code`. */
static void expect_rejected(const char *what, const th_tar_entry *e, size_t n, const char *code,
                            verify_verdict v)
{
    char name[256];
    snprintf(name, sizeof name, "%s.tar", what);
    char *path = write_tar(name, e, n);
    verify_result r;
    verify_path(path, &r);
    assert_int_not_equal(v, VERIFY_INTACT);
    if (verify_verdict_of(&r) != v || verify_count(&r, code) == 0) {
        print_findings(&r);
        fail_msg("%s: expected verdict %d with %s, got verdict %d", what, (int)v, code,
                 (int)verify_verdict_of(&r));
    }
    verify_result_free(&r);
    free(path);
}

/* A finding of `code` whose message holds `text`. */
static bool has_message(const verify_result *r, const char *code, const char *text)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (!strcmp(r->findings[i].code, code) && strstr(r->findings[i].message, text))
            return true;
    return false;
}

/* ----------------------------------------------------- real exports */

static void test_fixtures_pass(void **state)
{
    (void)state;
    char names[16][256];
    size_t n = list_exports(names, 16);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        th_tar_entry *e;
        size_t count;
        load_export(names[i], &e, &count);
        char *path;
        char rel[256];
        snprintf(rel, sizeof rel, "exports/%s", names[i]);
        path = th_fixture(rel);
        verify_result r;
        verify_path(path, &r);
        size_t logs = count_suffix(e, count, ".log");
        print_message("%s: %zu logs, %zu valid, %zu warnings, %zu notes\n", names[i],
                      r.counts.logs, r.counts.signatures_valid, r.warnings, r.notes);
        if (r.errors)
            print_findings(&r);
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.warnings, 0);
        assert_int_equal(verify_verdict_of(&r), VERIFY_INTACT);
        assert_true(logs > 0);
        assert_int_equal(r.counts.logs, logs);
        assert_int_equal(r.counts.signatures_valid, logs);
        assert_int_equal(r.counts.files, count);
        assert_int_equal(r.counts.certificates, count_suffix(e, count, "_X509.der") +
                                                    count_suffix(e, count, "_X509.crt") +
                                                    count_suffix(e, count, "_X509.pem") +
                                                    count_suffix(e, count, "_X509.cer"));
        assert_int_equal(r.counts.tses, 1);
        assert_true(r.tses[0].has_certificate);
        assert_non_null(r.info_manufacturer);
        assert_false(r.io_failed);
        verify_result_free(&r);
        free(path);
        th_tar_free(e, count);
    }
}

/* The same archive rewritten by us is still clean: nothing depends on
 * the original tar's own layout. */
static void test_rewritten_copy_passes(void **state)
{
    (void)state;
    th_tar_entry *e;
    size_t n;
    load_export("dtrust-indefinite-length.tar", &e, &n);
    char *path = write_tar("copy.tar", e, n);
    verify_result r;
    verify_path(path, &r);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.counts.signatures_valid, 14);
    verify_result_free(&r);
    free(path);
    th_tar_free(e, n);
}

/* Tampered copies of the archive at `path` (called `file` in names). */
static void tamper_one(const char *file, const char *path)
{
    th_tar_entry *e;
    size_t n;
    char what[256];
    assert_int_equal(th_tar_read(path, &e, &n), 0);
    size_t mid = middle_log(e, n);
    logmsg m;
    parse(&e[mid], &m);

    /* A byte of the signature flipped. */
    th_tar_entry *c = copy_entries(e, n, 0);
    c[mid].data[(m.signature.p - e[mid].data) + m.signature.n / 2] ^= 0x01;
    snprintf(what, sizeof what, "flip-signature-%s", file);
    expect_rejected(what, c, n, "signature-invalid", VERIFY_BROKEN);
    free_entries(c, n);

    /* A byte of the signed data flipped: the serial number now names a key
     * the archive has no certificate for, and the true key misses a log. */
    c = copy_entries(e, n, 0);
    c[mid].data[(m.serial_number.p - e[mid].data) + 5] ^= 0x40;
    snprintf(what, sizeof what, "flip-serial-%s", file);
    expect_rejected(what, c, n, "certificate-missing", VERIFY_BROKEN);
    expect_rejected(what, c, n, "counter-gap", VERIFY_BROKEN);
    free_entries(c, n);

    /* One log removed from the middle: its counter is reported missing,
     * with the logs around it; intact but incomplete, never clean. */
    c = copy_entries(e, n, 0);
    free(c[mid].data);
    c[mid].data = NULL;
    snprintf(what, sizeof what, "remove-%s", file);
    char *removed = write_tar(what, c, n);
    verify_result r;
    verify_path(removed, &r);
    char text[64];
    snprintf(text, sizeof text, "counter %llu is missing, between counter %llu (",
             (unsigned long long)m.signature_counter, (unsigned long long)m.signature_counter - 1);
    if (!has_message(&r, "counter-gap", text)) {
        print_findings(&r);
        fail_msg("%s: no counter-gap naming %llu", what, (unsigned long long)m.signature_counter);
    }
    assert_int_equal(verify_count(&r, "counter-gap"), 1);
    assert_int_equal(verify_verdict_of(&r), VERIFY_INCOMPLETE);
    assert_int_equal(r.n_gaps, 1);
    assert_int_equal(r.gaps[0].first, m.signature_counter);
    assert_int_equal(r.gaps[0].last, m.signature_counter);
    assert_int_equal(r.gaps[0].before.counter, m.signature_counter - 1);
    assert_int_equal(r.gaps[0].after.counter, m.signature_counter + 1);
    assert_int_equal(r.counts.signatures_valid, count_suffix(e, n, ".log") - 1);
    verify_result_free(&r);
    free(removed);
    free_entries(c, n);

    /* One log renamed (another counter in its name). */
    c = copy_entries(e, n, 0);
    char *sig = strstr(c[mid].name, "_Sig-");
    assert_non_null(sig);
    sig[5] = sig[5] == '9' ? '8' : '9';
    snprintf(what, sizeof what, "rename-%s", file);
    expect_rejected(what, c, n, "file-name-mismatch", VERIFY_BROKEN);
    free_entries(c, n);

    /* The TSE's certificate replaced by another TSE's, under the same name. */
    th_tar_entry *o;
    size_t on;
    load_export(strncmp(file, "dtrust", 6) == 0 ? "fiskaly-v2-unixt-b.tar" : "dtrust-a.tar", &o, &on);
    size_t leaf = leaf_cert(e, n), other = leaf_cert(o, on);
    c = copy_entries(e, n, 0);
    free(c[leaf].data);
    c[leaf].data = malloc(o[other].len);
    assert_non_null(c[leaf].data);
    memcpy(c[leaf].data, o[other].data, o[other].len);
    c[leaf].len = o[other].len;
    snprintf(what, sizeof what, "cert-%s", file);
    expect_rejected(what, c, n, "certificate-missing", VERIFY_BROKEN);
    expect_rejected(what, c, n, "certificate-key-mismatch", VERIFY_BROKEN);
    free_entries(c, n);
    th_tar_free(o, on);

    /* info.csv missing. */
    c = copy_entries(e, n, 0);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(c[i].name, "info.csv")) {
            free(c[i].data);
            c[i].data = NULL;
        }
    snprintf(what, sizeof what, "noinfo-%s", file);
    expect_rejected(what, c, n, "info-missing", VERIFY_INCOMPLETE);
    free_entries(c, n);

    /* A stranger file, the same log twice, the TSE's certificate twice. */
    c = copy_entries(e, n, 3);
    size_t stem = strstr(e[leaf].name, "_X509.") - e[leaf].name;
    assert_int_not_equal(asprintf(&c[n + 2].name, "%.*s_X509.%s", (int)stem, e[leaf].name,
                                  ends_with(e[leaf].name, ".cer") ? "crt" : "cer"), -1);
    c[n + 2].data = malloc(e[leaf].len);
    assert_non_null(c[n + 2].data);
    memcpy(c[n + 2].data, e[leaf].data, e[leaf].len);
    c[n + 2].len = e[leaf].len;
    c[n].name = strdup("notes.txt");
    c[n].data = (uint8_t *)strdup("hello");
    c[n].len = 5;
    c[n + 1].name = strdup(e[mid].name);
    c[n + 1].data = malloc(e[mid].len);
    assert_non_null(c[n + 1].data);
    memcpy(c[n + 1].data, e[mid].data, e[mid].len);
    c[n + 1].len = e[mid].len;
    snprintf(what, sizeof what, "extra-%s", file);
    expect_rejected(what, c, n + 3, "file-unexpected", VERIFY_INCOMPLETE);
    expect_rejected(what, c, n + 3, "log-duplicate", VERIFY_INCOMPLETE);
    expect_rejected(what, c, n + 3, "file-duplicate", VERIFY_INCOMPLETE);
    free_entries(c, n + 3);

    th_tar_free(e, n);
}

static void test_tampered_copies_rejected(void **state)
{
    (void)state;
    char names[16][256];
    size_t n = list_exports(names, 16);
    for (size_t i = 0; i < n; i++) {
        char rel[300];
        snprintf(rel, sizeof rel, "exports/%s", names[i]);
        char *path = th_fixture(rel);
        tamper_one(names[i], path);
        free(path);
    }
}

/* A truncated archive and a file that is no archive at all. */
static void test_unreadable(void **state)
{
    (void)state;
    th_tar_entry *e;
    size_t n;
    load_export("fiskaly-v2-unixt-a.tar", &e, &n);
    char *path = write_tar("truncated.tar", e, n);
    size_t len;
    uint8_t *data = th_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(th_write_file(path, data, 3000), 0);
    verify_result r;
    verify_options o = {0};
    assert_int_equal(verify_archive(path, &o, &r), -1);
    assert_true(r.io_failed);
    assert_int_equal(verify_count(&r, "archive-unreadable"), 1);
    assert_true(r.errors > 0);
    verify_result_free(&r);

    /* Truncated within the logs: what was read is still checked. */
    assert_int_equal(th_write_file(path, data, len - 3000), 0);
    assert_int_equal(verify_archive(path, &o, &r), -1);
    assert_int_equal(verify_count(&r, "archive-unreadable"), 1);
    assert_true(r.counts.signatures_valid > 0);
    assert_int_equal(r.counts.signatures_valid, r.counts.logs);
    verify_result_free(&r);

    assert_int_equal(th_write_file(path, "not an archive", 14), 0);
    assert_int_equal(verify_archive(path, &o, &r), -1);
    assert_int_equal(verify_count(&r, "archive-unreadable"), 1);
    verify_result_free(&r);

    char *missing = th_path("does-not-exist.tar");
    assert_int_equal(verify_archive(missing, NULL, &r), -1);
    assert_int_equal(verify_count(&r, "archive-unreadable"), 1);
    verify_result_free(&r);
    free(missing);
    free(data);
    free(path);
    th_tar_free(e, n);
}

typedef struct progress_seen {
    size_t calls, logs, total_logs;
    uint64_t done, total;
    bool backwards;
} progress_seen;

static void on_progress(void *ctx, uint64_t done, uint64_t total, size_t logs, size_t total_logs)
{
    progress_seen *p = ctx;
    p->total_logs = total_logs;
    p->backwards = p->backwards || done < p->done || logs < p->logs;
    p->calls++;
    p->done = done;
    p->total = total;
    p->logs = logs;
}

/* Progress goes forward to the archive's size, one call per entry; a limit
 * of one listed finding per code still counts them all. */
static void test_progress_and_limits(void **state)
{
    (void)state;
    char *path = th_fixture("exports/fiskaly-v1-utc.tar");
    size_t size;
    uint8_t *data = th_read_file(path, &size);
    assert_non_null(data);
    progress_seen p = {0};
    verify_options o = {.progress = on_progress, .progress_ctx = &p, .max_findings_per_code = 1,
                        .threads = 2};
    verify_result r;
    assert_int_equal(verify_archive(path, &o, &r), 0);
    assert_false(p.backwards);
    assert_int_equal(p.calls, r.counts.files);
    assert_int_equal(p.total, size);
    assert_true(p.done <= size && p.done >= size - 10240);
    assert_int_equal(p.logs, 155);
    assert_int_equal(p.total_logs, 155);   /* known from the first pass */
    assert_int_equal(verify_count(&r, "transaction-open"), 3);
    size_t listed = 0;
    for (size_t i = 0; i < r.n_findings; i++)
        listed += !strcmp(r.findings[i].code, "transaction-open");
    assert_int_equal(listed, 1);
    assert_int_equal(r.warnings, 0);
    /* info.csv unquoted, 3 open transactions, one finished by another
     * client, the chain not anchored (a self-signed TSE certificate:
     * nothing to revoke below a root) */
    assert_int_equal(r.notes, 6);
    assert_int_equal(verify_count(&r, "revocation-unchecked"), 0);
    verify_result_free(&r);
    free(data);
    free(path);
}

/* --------------------------------------------------------- single logs */

static void test_verify_log(void **state)
{
    (void)state;
    /* The single fixture logs: no certificate, so only structure and name. */
    char *dir = th_fixture("logs");
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t logs = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (!ends_with(de->d_name, ".log"))
            continue;
        char path[1024];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        uint8_t *data = th_read_file(path, &len);
        assert_non_null(data);
        verify_result r;
        assert_int_equal(verify_log(data, len, de->d_name, NULL, 0, NULL, NULL, &r), 0);
        assert_int_equal(r.errors, 0);
        assert_int_equal(verify_count(&r, "signature-unchecked"), 1);
        assert_int_equal(r.counts.signatures_valid, 0);
        verify_result_free(&r);
        /* Under another name it is rejected. */
        assert_int_equal(verify_log(data, len, "Unixt_1_Sig-1_Log-Aud.log", NULL, 0, NULL, NULL, &r), 0);
        assert_int_equal(verify_count(&r, "file-name-mismatch"), 1);
        verify_result_free(&r);
        free(data);
        logs++;
    }
    closedir(d);
    free(dir);
    assert_int_equal(logs, 6);

    /* A log of an archive with its certificate: verified; with another
     * TSE's certificate or one flipped bit: rejected. */
    th_tar_entry *e, *o;
    size_t n, on;
    load_export("dtrust-indefinite-length.tar", &e, &n);
    load_export("fiskaly-v2-unixt-a.tar", &o, &on);
    size_t mid = middle_log(e, n), leaf = leaf_cert(e, n), other = leaf_cert(o, on);
    verify_result r;
    assert_int_equal(verify_log(e[mid].data, e[mid].len, e[mid].name, e[leaf].data, e[leaf].len,
                                e[leaf].name, NULL, &r), 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.counts.signatures_valid, 1);
    verify_result_free(&r);
    assert_int_equal(verify_log(e[mid].data, e[mid].len, e[mid].name, o[other].data, o[other].len,
                                o[other].name, NULL, &r), 0);
    assert_int_equal(verify_count(&r, "certificate-key-mismatch"), 1);
    assert_int_equal(r.counts.signatures_valid, 0);
    verify_result_free(&r);
    e[mid].data[e[mid].len - 3] ^= 0x01;
    assert_int_equal(verify_log(e[mid].data, e[mid].len, e[mid].name, e[leaf].data, e[leaf].len,
                                e[leaf].name, NULL, &r), 0);
    assert_int_equal(verify_count(&r, "signature-invalid"), 1);
    verify_result_free(&r);
    /* Not a log message at all. */
    assert_int_equal(verify_log((const uint8_t *)"hello", 5, "x.log", NULL, 0, NULL, NULL, &r), 0);
    assert_int_equal(verify_count(&r, "log-malformed"), 1);
    verify_result_free(&r);
    th_tar_free(e, n);
    th_tar_free(o, on);
}

/* ---------------------------------------------------------- our TSE */

/* Our own TSE with 3 transactions (Start, signed Update, Finish each), its
 * logs in `format` (2 or 3). */
static tse *own_tse(int format)
{
    tse_create_options opts = {.log_format_version = format};
    tse *t = ready_tse(format == 2 ? "verify-v2" : "verify", &opts, NULL);
    static const uint8_t pd[] = "Beleg^10.00_0.00_0.00_0.00_0.00^10.00:Bar";
    for (int i = 0; i < 3; i++) {
        tse_result s, u, f;
        assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), TSE_OK);
        assert_int_equal(tse_update_transaction(t, READY_CLIENT, s.transaction_number, pd, sizeof pd - 1,
                                                "Kassenbeleg-V1", TSE_UPDATE_SIGNED, &u), TSE_OK);
        assert_int_equal(tse_finish_transaction(t, READY_CLIENT, s.transaction_number, pd, sizeof pd - 1,
                                                "Kassenbeleg-V1", NULL, 0, &f), TSE_OK);
    }
    return t;
}

static int write_chunk(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* tse_export_data with `filter` into the temp file `name`. */
static char *own_export(tse *t, const tse_export_filter *filter, const char *name, tse_export_result *res)
{
    char *path = th_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(tse_export_data(t, filter, write_chunk, f, res), TSE_OK);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Our archives of formats 2 and 3 in one: two TSEs, each clean. */
static void own_mixed(const char *v2, const char *v3)
{
    th_tar_entry *a, *b;
    size_t na, nb;
    assert_int_equal(th_tar_read(v2, &a, &na), 0);
    assert_int_equal(th_tar_read(v3, &b, &nb), 0);
    th_tar_entry *c = copy_entries(a, na, nb);
    for (size_t i = 0; i < nb; i++) {
        c[na + i].name = strdup(b[i].name);
        c[na + i].data = malloc(b[i].len);
        assert_non_null(c[na + i].data);
        memcpy(c[na + i].data, b[i].data, b[i].len);
        c[na + i].len = b[i].len;
        if (!strcmp(b[i].name, "info.csv")) {   /* one info.csv */
            free(c[na + i].data);
            c[na + i].data = NULL;
        }
    }
    char *mixed = write_tar("own-mixed.tar", c, na + nb);
    verify_result r;
    verify_path(mixed, &r);
    if (r.errors || r.warnings)
        print_findings(&r);
    assert_int_equal(verify_verdict_of(&r), VERIFY_INTACT);
    assert_int_equal(r.counts.tses, 2);
    assert_int_equal(r.counts.format2_logs, count_suffix(a, na, ".log"));
    assert_int_equal(r.counts.format3_logs, count_suffix(b, nb, ".log"));
    assert_int_equal(r.counts.signatures_valid, r.counts.logs);
    verify_result_free(&r);
    free(mixed);
    free_entries(c, na + nb);
    th_tar_free(a, na);
    th_tar_free(b, nb);
}

/* Our own archive in log format 2: clean, and its tampered copies fail. */
static char *own_archive_v2(void)
{
    tse *t = own_tse(2);
    tse_export_result res;
    char *path = own_export(t, NULL, "own-v2.tar", &res);
    tse_close(t);
    verify_result r;
    verify_path(path, &r);
    if (r.errors || r.warnings)
        print_findings(&r);
    assert_int_equal(verify_verdict_of(&r), VERIFY_INTACT);
    assert_int_equal(r.counts.format2_logs, res.logs);
    assert_int_equal(r.counts.format3_logs, 0);
    assert_int_equal(r.counts.signatures_valid, r.counts.logs);
    verify_result_free(&r);
    tamper_one("own-v2.tar", path);
    return path;
}

static void test_own_archive(void **state)
{
    (void)state;
    char *v2 = own_archive_v2();
    tse *t = own_tse(3);
    tse_export_result res;
    char *path = own_export(t, NULL, "own.tar", &res);
    own_mixed(v2, path);
    free(v2);
    verify_result r;
    verify_path(path, &r);
    assert_int_equal(r.counts.format3_logs, res.logs);
    if (r.errors || r.warnings)
        print_findings(&r);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.warnings, 0);
    assert_int_equal(r.counts.logs, res.logs);
    assert_int_equal(r.counts.starts, 3);
    assert_int_equal(r.counts.updates, 3);
    assert_int_equal(r.counts.finishes, 3);
    assert_int_equal(r.counts.transactions, 3);
    assert_true(r.counts.system_logs > 0);
    assert_int_equal(r.counts.signatures_valid, r.counts.logs);
    assert_int_equal(r.tses[0].first_counter, 1);
    assert_int_equal(r.tses[0].last_counter, res.cursor);
    assert_string_equal(r.info_manufacturer, "OpenTSE");
    verify_result_free(&r);
    tamper_one("own.tar", path);

    th_tar_entry *e;
    size_t n;
    assert_int_equal(th_tar_read(path, &e, &n), 0);
    /* Ours are read strictly: unquoted values are an error, not a note. */
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].name, "info.csv")) {
            free(e[i].data);
            e[i].data = (uint8_t *)strdup(
                "\"description:\", OpenTSE test, \"manufacturer:\", OpenTSE, \"version:\", 0.1.0\n");
            e[i].len = strlen((char *)e[i].data);
        }
    char *bad = write_tar("own-unquoted.tar", e, n);
    verify_path(bad, &r);
    assert_int_equal(verify_count(&r, "info-not-strict"), 1);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.warnings, 1);
    assert_int_equal(verify_verdict_of(&r), VERIFY_INCOMPLETE);
    verify_result_free(&r);
    free(bad);
    th_tar_free(e, n);

    /* An incremental export after two more transactions starts above 1
     * and is clean; so is the export of one transaction. */
    tse_result s, f;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), TSE_OK);
        assert_int_equal(tse_finish_transaction(t, READY_CLIENT, s.transaction_number, NULL, 0,
                                                "Kassenbeleg-V1", NULL, 0, &f), TSE_OK);
    }
    tse_export_filter inc = {.cursor = res.cursor};
    tse_export_result res2;
    char *next = own_export(t, &inc, "own-next.tar", &res2);
    verify_path(next, &r);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.counts.transactions, 2);
    assert_int_equal(r.tses[0].first_counter, res.cursor + 1);
    assert_int_equal(r.tses[0].last_counter, res2.cursor);
    assert_int_equal(verify_count(&r, "counter-start"), 1);
    assert_int_equal(verify_verdict_of(&r), VERIFY_INTACT);
    verify_result_free(&r);
    tse_export_filter one = {.transaction_number = 2};
    char *single = own_export(t, &one, "own-tx2.tar", NULL);
    verify_path(single, &r);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.counts.transactions, 1);
    assert_int_equal(r.counts.transaction_logs, 3);
    verify_result_free(&r);
    free(single);
    free(next);
    free(path);
    tse_close(t);
}

/* ---------------------------------------------------- command line */

/* Everything a command writes to the pipe `p` (at most 4 MiB), NUL-terminated. */
static char *read_pipe(FILE *p)
{
    size_t cap = 4 << 20, n = 0, got;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((got = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    buf[n] = 0;
    return buf;
}

/* Runs the CLI with arguments; stdout into *out (malloc'd). Returns the
 * exit code. */
static int run_cli(char **out, const char *fmt, ...)
{
    const char *cli = getenv("OPENTSE_CLI");
    assert_non_null(cli);
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", cli, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *buf = read_pipe(p);
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    *out = buf;
    return WEXITSTATUS(st);
}

static json_t *parse_json(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %.200s", err.text, text);
    return j;
}

static void test_cli(void **state)
{
    (void)state;
    char *out, *a = th_fixture("exports/fiskaly-v1-utc.tar"), *b = th_fixture("exports/dtrust-a.tar");

    assert_int_equal(run_cli(&out, "verify '%s' '%s'", a, b), 0);
    assert_non_null(strstr(out, "fiskaly-v1-utc.tar: OK, intact and complete (verdict 0"));
    assert_non_null(strstr(out, "dtrust-a.tar: OK, intact and complete (verdict 0"));
    free(out);

    assert_int_equal(run_cli(&out, "--json verify --threads 1 '%s' '%s'", a, b), 0);
    json_t *j = parse_json(out), *results = json_object_get(j, "results");
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "verdict")), 0);
    assert_int_equal(json_array_size(results), 2);
    json_t *first = json_array_get(results, 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(first, "counts"), "logs")), 155);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(first, "counts"),
                                                        "signatures_valid")), 155);
    assert_int_equal(json_integer_value(json_object_get(first, "errors")), 0);
    json_decref(j);
    free(out);

    /* A log removed, among clean archives: exit 3, the gap in JSON. */
    th_tar_entry *e;
    size_t n;
    load_export("fiskaly-v2-unixt-b.tar", &e, &n);
    size_t mid = middle_log(e, n);
    free(e[mid].data);
    e[mid].data = NULL;
    char *bad = write_tar("cli-removed.tar", e, n);
    th_tar_free(e, n);
    assert_int_equal(run_cli(&out, "verify --json '%s' '%s'", a, bad), 3);
    j = parse_json(out);
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "verdict")), 3);
    json_t *second = json_array_get(json_object_get(j, "results"), 1);
    assert_true(json_is_false(json_object_get(second, "ok")));
    assert_true(json_is_true(json_object_get(second, "intact")));
    assert_int_equal(json_integer_value(json_object_get(second, "verdict")), 3);
    assert_string_equal(json_string_value(json_object_get(second, "verdict_text")),
                        "intact but incomplete or implausible");
    json_t *gaps = json_object_get(second, "gaps");
    assert_int_equal(json_array_size(gaps), 1);
    json_t *g0 = json_array_get(gaps, 0);
    json_int_t missing = json_integer_value(json_object_get(g0, "first"));
    assert_int_equal(json_integer_value(json_object_get(g0, "last")), missing);
    assert_int_equal(json_integer_value(json_object_get(g0, "count")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(g0, "before"), "counter")), missing - 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(g0, "after"), "counter")), missing + 1);
    assert_non_null(json_string_value(json_object_get(json_object_get(g0, "after"), "operation")));
    json_t *findings = json_object_get(second, "findings");
    bool gap = false;
    for (size_t i = 0; i < json_array_size(findings); i++) {
        json_t *f = json_array_get(findings, i);
        if (!strcmp(json_string_value(json_object_get(f, "code")), "counter-gap")) {
            gap = true;
            assert_string_equal(json_string_value(json_object_get(f, "severity")), "warning");
        }
    }
    assert_true(gap);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(second, "codes"), "counter-gap")), 1);
    json_decref(j);
    free(out);
    assert_int_equal(run_cli(&out, "verify '%s'", bad), 3);
    assert_non_null(strstr(out, ": INCOMPLETE, intact but incomplete or implausible (verdict 3"));
    assert_non_null(strstr(out, "warning counter-gap: "));
    free(out);

    /* A byte flipped: integrity broken, exit 1 whatever else is given. */
    load_export("fiskaly-v2-unixt-b.tar", &e, &n);
    mid = middle_log(e, n);
    e[mid].data[e[mid].len - 3] ^= 0x10;
    char *flipped = write_tar("cli-flipped.tar", e, n);
    th_tar_free(e, n);
    assert_int_equal(run_cli(&out, "verify '%s' '%s' '%s'", a, bad, flipped), 1);
    assert_non_null(strstr(out, "cli-flipped.tar: FAILED, integrity broken (verdict 1"));
    free(out);
    assert_int_equal(run_cli(&out, "--json verify '%s' '%s'", flipped, a), 1);
    j = parse_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "verdict")), 1);
    assert_true(json_is_false(json_object_get(json_array_get(json_object_get(j, "results"), 0), "intact")));
    json_decref(j);
    free(out);
    free(flipped);

    /* verify-log: a fixture log without a certificate is intact but its
     * signature unchecked (a warning, verdict 3). */
    char *log = th_fixture("logs/Unixt_1607348284_Sig-2_Log-Aud.log");
    assert_int_equal(run_cli(&out, "--json verify-log '%s'", log), 3);
    j = parse_json(out);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "results"), 0),
                                                        "warnings")), 1);
    json_decref(j);
    free(out);

    /* --root: D-Trust's own root anchors its export; another root is a
     * chain to a root that is not the one given. */
    load_export("dtrust-a.tar", &e, &n);
    char *root = th_path("dtrust-root.crt"), *other = th_path("fiskaly-v1.pem");
    for (size_t i = 0; i < n; i++)
        if (!strncmp(e[i].name, "34E9DBDEA9FADF71", 16))
            assert_int_equal(th_write_file(root, e[i].data, e[i].len), 0);
    th_tar_free(e, n);
    load_export("fiskaly-v1-utc.tar", &e, &n);
    for (size_t i = 0; i < n; i++)
        if (ends_with(e[i].name, "_X509.pem"))
            assert_int_equal(th_write_file(other, e[i].data, e[i].len), 0);
    th_tar_free(e, n);
    assert_int_equal(run_cli(&out, "verify --root '%s' '%s'", root, b), 0);
    assert_non_null(strstr(out, "certificate chain: anchored in the given root"));
    assert_null(strstr(out, "chain-not-anchored"));
    free(out);
    assert_int_equal(run_cli(&out, "--json verify --root '%s' '%s'", root, b), 0);
    j = parse_json(out);
    assert_true(json_is_true(json_object_get(json_array_get(json_object_get(j, "results"), 0), "anchored")));
    json_decref(j);
    free(out);
    assert_int_equal(run_cli(&out, "verify '%s'", b), 0);
    assert_non_null(strstr(out, "consistent but not anchored"));
    assert_non_null(strstr(out, "note chain-not-anchored"));
    free(out);
    assert_int_equal(run_cli(&out, "verify --root '%s' '%s'", other, b), 1);
    assert_non_null(strstr(out, "error chain-root-mismatch"));
    free(out);
    assert_int_equal(run_cli(&out, "verify --root '%s' '%s'", a, b), 2);
    free(out);
    assert_int_equal(run_cli(&out, "verify --crl '%s' '%s'", root, b), 2);
    free(out);
    assert_int_equal(run_cli(&out, "verify --crl /nonexistent.crl '%s'", b), 2);
    free(out);
    free(root);
    free(other);

    /* Progress on a terminal only: logs checked of the total the first pass
     * counted (run under script(1) for a terminal). */
    char cmd[2048], line[4096];
    snprintf(cmd, sizeof cmd, "script -qfec \"%s verify --quiet '%s'\" /dev/null", getenv("OPENTSE_CLI"), a);
    FILE *tty = popen(cmd, "r");
    assert_non_null(tty);
    size_t got = fread(line, 1, sizeof line - 1, tty);
    line[got] = 0;
    assert_int_equal(pclose(tty), 0);
    assert_non_null(strstr(line, "] 155/155 logs, "));
    snprintf(cmd, sizeof cmd, "%s verify --quiet '%s' 2>&1", getenv("OPENTSE_CLI"), a);
    FILE *pipe = popen(cmd, "r");
    assert_non_null(pipe);
    got = fread(line, 1, sizeof line - 1, pipe);
    line[got] = 0;
    assert_int_equal(pclose(pipe), 0);
    assert_null(strstr(line, "155/155 logs"));

    /* Usage errors and unreadable input. */
    assert_int_equal(run_cli(&out, "verify"), 2);
    free(out);
    assert_int_equal(run_cli(&out, "verify --bogus '%s'", a), 2);
    free(out);
    assert_int_equal(run_cli(&out, "verify --threads 0 '%s'", a), 2);
    free(out);
    assert_int_equal(run_cli(&out, "verify-log --cert /nonexistent/cert.der '%s'", log), 2);
    free(out);
    assert_int_equal(run_cli(&out, "verify /nonexistent/archive.tar"), 1);
    assert_non_null(strstr(out, "archive-unreadable"));
    free(out);
    free(log);
    free(bad);
    free(a);
    free(b);
}


/* ------------------------------------------------------ HTML report */

static size_t count_text(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Runs headless Chromium (Debian's `chromium`) on `html` with `what`
 * (--dump-dom or --screenshot=FILE); its stdout into *out when not NULL. */
static void chromium(const char *html, const char *what, char **out)
{
    char *profile = th_path("chromium-profile"), cmd[3000];
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && timeout 120 chromium --headless --no-sandbox --disable-gpu "
             "--disable-quic --no-first-run --disable-background-networking "
             "--disable-component-update --disable-sync --user-data-dir='%s' "
             "--window-size=1100,4000 %s 'file://%s' 2>/dev/null",
             profile, profile, what, html);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *buf = read_pipe(p);
    assert_int_equal(pclose(p), 0);
    if (out)
        *out = buf;
    else
        free(buf);
    free(profile);
}

/* Pixels of the screenshot `png` with exactly the colour rgb. */
static size_t pixels_of(const png_image *img, const uint8_t *px, uint32_t rgb)
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)img->width * img->height; i++)
        n += px[3 * i] == (rgb >> 16) && px[3 * i + 1] == ((rgb >> 8) & 0xff) &&
             px[3 * i + 2] == (rgb & 0xff);
    return n;
}

/* `opentse verify --html`: an archive with two counter gaps and open
 * transactions next to a clean one, the page opened in headless Chromium:
 * the DOM shows the verdicts, the gaps in the timeline and in their table,
 * every finding, every certificate, archive names escaped; the screenshot
 * shows the verdict colours and the gap marks. */
static void test_html(void **state)
{
    (void)state;
    th_tar_entry *e;
    size_t n;
    load_export("fiskaly-v1-utc.tar", &e, &n);
    /* A stranger whose name is markup: shown as text, never as markup. */
    th_tar_entry *c = copy_entries(e, n, 1);
    for (size_t i = 0; i < n; i++) {
        if (!ends_with(e[i].name, ".log"))
            continue;
        logmsg m;
        parse(&e[i], &m);
        if ((m.signature_counter >= 50 && m.signature_counter <= 52) || m.signature_counter == 90) {
            free(c[i].data);
            c[i].data = NULL;
        }
    }
    c[n].name = strdup("<b>bold</b>.txt");
    c[n].data = (uint8_t *)strdup("x");
    c[n].len = 1;
    char *gappy = write_tar("html-gaps.tar", c, n + 1);
    free_entries(c, n + 1);
    th_tar_free(e, n);
    char *clean = th_fixture("exports/dtrust-a.tar"), *html = th_path("report.html"),
         *png = th_path("report.png"), *out;

    assert_int_equal(run_cli(&out, "--json verify --html '%s' '%s' '%s'", html, gappy, clean), 3);
    json_t *j = parse_json(out), *res = json_object_get(j, "results");
    size_t findings = json_array_size(json_object_get(json_array_get(res, 0), "findings")) +
                      json_array_size(json_object_get(json_array_get(res, 1), "findings"));
    size_t certs = (size_t)json_integer_value(json_object_get(
                       json_object_get(json_array_get(res, 0), "counts"), "certificates")) +
                   (size_t)json_integer_value(json_object_get(
                       json_object_get(json_array_get(res, 1), "counts"), "certificates"));
    json_decref(j);
    free(out);
    size_t len;
    char *page = (char *)th_read_file(html, &len);
    assert_non_null(page);
    assert_null(strstr(page, "http://"));   /* self-contained: nothing to fetch */
    assert_null(strstr(page, "https://"));
    assert_null(strstr(page, "<script"));
    free(page);

    char *dom;
    chromium(html, "--dump-dom", &dom);
    assert_non_null(strstr(dom, "id=\"overall\" data-verdict=\"3\""));
    assert_non_null(strstr(dom, "2 inputs: verdict 3, intact but incomplete or implausible"));
    assert_non_null(strstr(dom, "data-verdict=\"3\">Verdict 3: intact but incomplete or implausible</div>"));
    assert_non_null(strstr(dom, "data-verdict=\"0\">Verdict 0: intact and complete</div>"));
    /* The gaps, in the timeline and in their table, exactly. */
    assert_int_equal(count_text(dom, "class=\"gap\""), 2);
    assert_non_null(strstr(dom, "class=\"gap\" data-first=\"50\" data-last=\"52\""));
    assert_non_null(strstr(dom, "class=\"gap\" data-first=\"90\" data-last=\"90\""));
    assert_int_equal(count_text(dom, "class=\"gap-row\""), 2);
    assert_non_null(strstr(dom, "<td>50..52</td><td>3</td><td>49: transaction FinishTransaction"));
    /* Three open transactions, two timelines, one per TSE. */
    assert_int_equal(count_text(dom, "class=\"open\""), 3);
    assert_int_equal(count_text(dom, "<svg class=\"timeline\""), 2);
    assert_int_equal(count_text(dom, "<tr class=\"finding "), findings);
    assert_int_equal(count_text(dom, "<g class=\"cert\""), certs);
    assert_int_equal(count_text(dom, "class=\"validity\""), certs);
    assert_non_null(strstr(dom, "data-code=\"counter-gap\""));
    /* The stranger's name as text: the DOM has no <b> element. */
    assert_non_null(strstr(dom, "&lt;b&gt;bold&lt;/b&gt;.txt"));
    assert_null(strstr(dom, "<b>"));
    free(dom);

    char what[600];
    snprintf(what, sizeof what, "--screenshot='%s'", png);
    chromium(html, what, NULL);
    png_image img = {.version = PNG_IMAGE_VERSION};
    assert_int_equal(png_image_begin_read_from_file(&img, png), 1);
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    assert_non_null(px);
    assert_int_equal(png_image_finish_read(&img, NULL, px, 0, NULL), 1);
    assert_int_equal(img.width, 1100);
    assert_int_equal(img.height, 4000);
    /* Verdict 3 banners (amber), the verdict 0 banner (green), the gap
     * marks (red) and the open transactions (blue) are on screen. */
    print_message("amber %zu green %zu red %zu blue %zu\n", pixels_of(&img, px, 0xf0ad4e),
                  pixels_of(&img, px, 0x2e7d32), pixels_of(&img, px, 0xd62728),
                  pixels_of(&img, px, 0x1f77b4));
    assert_true(pixels_of(&img, px, 0xf0ad4e) > 2 * 600 * 30);
    assert_true(pixels_of(&img, px, 0x2e7d32) > 600 * 30);
    assert_true(pixels_of(&img, px, 0xd62728) > 2 * 30);
    assert_true(pixels_of(&img, px, 0x1f77b4) > 3 * 20);
    free(px);
    png_image_free(&img);

    /* A report that cannot be written: exit 5, nothing left behind. */
    assert_int_equal(run_cli(&out, "verify --html /nonexistent/dir/report.html '%s'", clean), 5);
    free(out);
    free(gappy);
    free(clean);
    free(html);
    free(png);
}


/* ------------------------------------------------ DSFinV-K cross-check */

/* Replaces the first `old` in the file at `path` by `new` (which must be there). */
static void replace_in_file(const char *path, const char *old, const char *new)
{
    size_t len;
    char *text = (char *)th_read_file(path, &len);
    assert_non_null(text);
    char *at = strstr(text, old);
    assert_non_null(at);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(new, f);
    fputs(at + strlen(old), f);
    assert_int_equal(fclose(f), 0);
    free(text);
}

/* The JSON result of `opentse --json verify --dsfinvk DIR ARCHIVE`, which
 * must exit `code`: the cross-check's result (the last) into *d. */
static json_t *dsfinvk_run(const char *dir, const char *archive, int code, json_t **d)
{
    char *out;
    assert_int_equal(run_cli(&out, "--json verify --dsfinvk '%s' '%s'", dir, archive), code);
    json_t *j = parse_json(out);
    free(out);
    json_t *res = json_object_get(j, "results");
    assert_int_equal(json_array_size(res), 2);
    *d = json_array_get(res, 1);
    assert_string_equal(json_string_value(json_object_get(*d, "kind")), "dsfinvk");
    return j;
}

/* The finding of `code` in a JSON result whose message holds `text`. */
static bool json_finding(json_t *r, const char *code, const char *text)
{
    json_t *f = json_object_get(r, "findings");
    for (size_t i = 0; i < json_array_size(f); i++) {
        json_t *x = json_array_get(f, i);
        if (!strcmp(json_string_value(json_object_get(x, "code")), code) &&
            strstr(json_string_value(json_object_get(x, "message")), text))
            return true;
    }
    return false;
}

/* `opentse verify --dsfinvk`: the tables `opentse dsfinvk` writes from a
 * real export match it row for row; each changed copy of them (a
 * signature, a counter, a time, a row left out or added, another public
 * key) is found and named, and so is a Finish log missing from the archive. */
static void test_dsfinvk_cross_check(void **state)
{
    (void)state;
    char *archive = th_fixture("exports/dtrust-a.tar"), *dir = th_path("dk"), *out, cmd[4096];
    json_t *d, *j;
    assert_int_equal(run_cli(&out, "dsfinvk '%s' --out '%s'", archive, dir), 0);
    free(out);
    char tx[512], tse[512], copy[600];
    snprintf(tx, sizeof tx, "%s/transactions_tse.csv", dir);
    snprintf(tse, sizeof tse, "%s/tse.csv", dir);
    snprintf(copy, sizeof copy, "%s.orig", tx);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s' '%s.orig'", tx, copy, tse, tse);
    assert_int_equal(system(cmd), 0);

    j = dsfinvk_run(dir, archive, 0, &d);
    assert_int_equal(json_integer_value(json_object_get(d, "rows")), 6);
    assert_int_equal(json_integer_value(json_object_get(d, "verdict")), 0);
    assert_int_equal(json_array_size(json_object_get(d, "findings")), 0);
    json_decref(j);

    /* Our archive of a format-2 and a format-3 TSE (test_own_archive wrote
     * it): the tables of both match, 3 transactions each. */
    char *mixed = th_path("own-mixed.tar"), *mdir = th_path("dk-mixed");
    assert_int_equal(run_cli(&out, "dsfinvk '%s' --out '%s'", mixed, mdir), 0);
    free(out);
    j = dsfinvk_run(mdir, mixed, 0, &d);
    assert_int_equal(json_integer_value(json_object_get(d, "rows")), 6);
    assert_int_equal(json_integer_value(json_object_get(d, "verdict")), 0);
    json_decref(j);
    free(mixed);
    free(mdir);

    /* restores both tables */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s.orig' '%s'", copy, tx, tse, tse);

    /* Changed copies of the tables: each found and named (the tables are
     * restored after each). */
    static const struct {
        bool tse_table;
        const char *old, *new;
        int exit_code;
        const char *code, *text;
    } changes[] = {
        {false, ";630;\"o/x5", ";630;\"A/x5", 1, "dsfinvk-mismatch", "TSE_TA_SIG is \"A/x5"},
        {false, ";630;\"o/x5", ";631;\"o/x5", 1, "dsfinvk-mismatch", "TSE_TA_SIGZ is \"631\""},
        {false, "\"2021-08-31T11:10:36.000Z\";\"Kassenbeleg-V1\";630",
         "\"2021-08-31T11:11:36.000Z\";\"Kassenbeleg-V1\";630", 1, "dsfinvk-mismatch",
         "TSE_TA_ENDE is \"2021-08-31T11:11:36.000Z\""},
        /* the same time in another zone is the same time */
        {false, "\"2021-08-31T11:10:36.000Z\";\"Kassenbeleg-V1\";630",
         "\"2021-08-31T13:10:36+02:00\";\"Kassenbeleg-V1\";630", 0, NULL, NULL},
        /* a row for another transaction: 218 left out, 9999 unknown */
        {false, "\"137741-0009\";\"2021-08-31T11:15:02\";1;\"218\";1;218;", "\"x\";\"y\";1;\"218\";1;9999;", 3,
         "dsfinvk-missing-row", "transaction 218 (TSE bf47cee340ba72a9..."},
        {false, "\"137741-0009\";\"2021-08-31T11:15:02\";1;\"218\";1;218;", "\"x\";\"y\";1;\"218\";1;9999;", 3,
         "dsfinvk-not-in-archive", "transaction 9999 of TSE bf47cee340ba72a9..."},
        {true, ";\"BHrv", ";\"BHrw", 1, "dsfinvk-tse-key-mismatch", "does not hash to TSE_SERIAL bf47"},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        replace_in_file(changes[i].tse_table ? tse : tx, changes[i].old, changes[i].new);
        j = dsfinvk_run(dir, archive, changes[i].exit_code, &d);
        if (changes[i].code && !json_finding(d, changes[i].code, changes[i].text))
            fail_msg("change %zu: no %s \"%s\"", i, changes[i].code, changes[i].text);
        json_decref(j);
        assert_int_equal(system(cmd), 0);
    }

    /* The cross-check in the HTML report, next to the archive. */
    char *html = th_path("dk.html");
    replace_in_file(tx, ";630;\"o/x5", ";630;\"A/x5");
    assert_int_equal(run_cli(&out, "verify --html '%s' --dsfinvk '%s' '%s'", html, dir, archive), 1);
    free(out);
    size_t len;
    char *page = (char *)th_read_file(html, &len);
    assert_non_null(page);
    assert_non_null(strstr(page, "DSFinV-K export: 6 rows of transactions_tse.csv"));
    assert_non_null(strstr(page, "data-code=\"dsfinvk-mismatch\""));
    assert_int_equal(count_text(page, "<svg class=\"timeline\""), 1);   /* the archive's TSE only */
    free(page);
    free(html);
    assert_int_equal(system(cmd), 0);

    /* The archive without one Finish log: that row has none (and the
     * archive a gap). */
    th_tar_entry *e;
    size_t n;
    load_export("dtrust-a.tar", &e, &n);
    for (size_t i = 0; i < n; i++)
        if (strstr(e[i].name, "_Sig-630_")) {
            free(e[i].data);
            e[i].data = NULL;
        }
    char *cut = write_tar("dk-cut.tar", e, n);
    th_tar_free(e, n);
    j = dsfinvk_run(dir, cut, 3, &d);
    assert_true(json_finding(d, "dsfinvk-not-in-archive", "transaction 218 of TSE"));
    json_decref(j);

    /* No such directory, and a table without its columns. */
    assert_int_equal(run_cli(&out, "--json verify --dsfinvk /nonexistent '%s'", archive), 1);
    assert_non_null(strstr(out, "dsfinvk-unreadable"));
    free(out);
    replace_in_file(tx, "TSE_TA_SIGZ", "TSE_TA_SIGNATURZAEHLER");
    j = dsfinvk_run(dir, archive, 1, &d);
    assert_true(json_finding(d, "dsfinvk-unreadable", "the header has no column TSE_TA_SIGZ"));
    json_decref(j);
    free(cut);
    free(archive);
    free(dir);
}


/* --------------------------------------------- receipts against an archive */

/* `opentse qr verify --archive`: receipts of our own TSE against its
 * export. Each matches its Finish log; a code with a changed amount fails
 * its own signature; one whose start time was changed (the Finish log does
 * not sign it) still verifies alone but not against the archive; a receipt
 * whose transaction the archive does not hold is named. */
static void test_qr_against_archive(void **state)
{
    (void)state;
    tse *t = ready_tse("qr-archive", NULL, NULL);
    static const uint8_t pd[] = "Beleg^12.50_0.00_0.00_0.00_0.00^12.50:Bar";
    char *qr[2];
    for (int i = 0; i < 2; i++) {
        tse_result s, f;
        assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), TSE_OK);
        assert_int_equal(tse_finish_transaction(t, READY_CLIENT, s.transaction_number, pd, sizeof pd - 1,
                                                "Kassenbeleg-V1", NULL, 0, &f), TSE_OK);
        assert_int_equal(tse_receipt_qr_from_finish(t, &f, READY_CLIENT, "Kassenbeleg-V1", pd, sizeof pd - 1,
                                                    &qr[i]), TSE_OK);
    }
    char *all = own_export(t, NULL, "qr-all.tar", NULL);
    tse_export_filter first = {.transaction_number = 1};
    char *only1 = own_export(t, &first, "qr-tx1.tar", NULL);
    char *out;

    assert_int_equal(run_cli(&out, "qr verify --archive '%s' '%s' '%s'", all, qr[0], qr[1]), 0);
    assert_int_equal(count_text(out, "valid: matches the Finish log Unixt_"), 2);
    assert_non_null(strstr(out, ": verdict 0, intact and complete"));
    free(out);
    assert_int_equal(run_cli(&out, "--json qr verify --archive '%s' '%s'", all, qr[1]), 0);
    json_t *j = parse_json(out), *c0 = json_array_get(json_object_get(j, "codes"), 0);
    assert_true(json_is_true(json_object_get(j, "valid")));
    assert_true(json_is_true(json_object_get(c0, "in_archive")));
    assert_non_null(strstr(json_string_value(json_object_get(c0, "log")), "_Log-Tra_No-2_Finish_"));
    json_decref(j);
    free(out);

    /* The amount changed: the code's own signature fails. */
    char *changed = strdup(qr[0]), *at = strstr(changed, "12.50:Bar");
    assert_non_null(at);
    at[1] = '3';
    assert_int_equal(run_cli(&out, "qr verify --archive '%s' '%s'", all, changed), 1);
    assert_non_null(strstr(out, "NOT VALID: the code's signature"));
    free(out);
    free(changed);
    /* The start time a year earlier: only the archive shows it. */
    char *moved = strdup(qr[0]);
    char *start = strchr(strstr(moved, "Kassenbeleg-V1;Beleg"), ';');
    for (int k = 0; k < 3; k++)
        start = strchr(start + 1, ';');
    assert_true(start[1] == '2' && start[2] == '0');
    start[4] = start[4] == '0' ? '1' : (char)(start[4] - 1);   /* another year */
    assert_int_equal(run_cli(&out, "qr verify '%s'", moved), 0);
    free(out);
    assert_int_equal(run_cli(&out, "qr verify --archive '%s' '%s'", all, moved), 1);
    assert_non_null(strstr(out, "NOT VALID: differs from the Finish log"));
    assert_non_null(strstr(out, "in: start time"));
    free(out);
    free(moved);
    /* Transaction 2 is not in the export of transaction 1. */
    assert_int_equal(run_cli(&out, "qr verify --archive '%s' '%s' '%s'", only1, qr[0], qr[1]), 1);
    assert_non_null(strstr(out, "valid: matches the Finish log"));
    assert_non_null(strstr(out, "NOT VALID: transaction 2 of TSE"));
    free(out);
    assert_int_equal(run_cli(&out, "qr verify --archive '%s'", all), 2);
    free(out);
    tse_free(qr[0]);
    tse_free(qr[1]);
    free(all);
    free(only1);
    tse_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_pass),
        cmocka_unit_test(test_rewritten_copy_passes),
        cmocka_unit_test(test_tampered_copies_rejected),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_progress_and_limits),
        cmocka_unit_test(test_verify_log),
        cmocka_unit_test(test_own_archive),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_dsfinvk_cross_check),
        cmocka_unit_test(test_qr_against_archive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
