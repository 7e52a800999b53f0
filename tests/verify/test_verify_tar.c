/*
 * test_verify_tar.c - the plain ustar reader of verify/ (tar.c) against
 * libarchive: every fixture archive and our own exports (formats 2 and 3,
 * whole and split into parts at odd places) are read through by it to the
 * same entries th_tar_read (libarchive) gives, and verify to the same
 * report as with libarchive_only. Damaged archives (a header cut short, a
 * wrong checksum, sizes that are not octal, too big or in base 256, a name
 * without NUL, the data cut short, zero blocks in the middle, bytes after
 * the end mark, a directory, pax headers, gzip, an empty file, a missing
 * file, logs and certificates over the size limits, and a few hundred
 * random changes of header bytes and lengths) are either declined by it
 * and read by libarchive as before, or read by both to the same report;
 * bytes after the end mark are named by the warning archive-trailing-data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <jansson.h>

#include "helpers.h"
#include "ready_tse.h"
#include "verify/internal.h"
#include "verify/verify.h"

static const char *const fixtures[] = {"dtrust-a.tar", "dtrust-indefinite-length.tar", "fiskaly-v1-utc.tar",
                                       "fiskaly-v2-unixt-a.tar", "fiskaly-v2-unixt-b.tar"};
#define N_FIXTURES (sizeof fixtures / sizeof fixtures[0])

static uint8_t *fixture_bytes(const char *file, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "exports/%s", file);
    char *path = th_fixture(rel);
    uint8_t *d = th_read_file(path, len);
    assert_non_null(d);
    free(path);
    return d;
}

/* The report of `paths` as JSON text; `skip`: findings of that code left
 * out, and with them the totals they count in. */
static char *report_of(const char *const *paths, size_t n, bool libarchive_only, const char *skip,
                       bool *has_skip)
{
    verify_options o = {.libarchive_only = libarchive_only, .threads = 2};
    verify_result r;
    verify_archive_parts(paths, n, &o, &r);
    json_t *j = verify_report_json(&r);
    assert_non_null(j);
    if (has_skip)
        *has_skip = false;
    json_t *findings = json_object_get(j, "findings");
    for (size_t i = 0; skip && i < json_array_size(findings);) {
        const char *code = json_string_value(json_object_get(json_array_get(findings, i), "code"));
        if (code && !strcmp(code, skip)) {
            json_array_remove(findings, i);
            if (has_skip)
                *has_skip = true;
        } else {
            i++;
        }
    }
    if (skip)
        for (const char *const *k = (const char *const[]){"ok", "verdict", "verdict_text", "warnings", "codes", NULL};
             *k; k++)
            json_object_del(j, *k);
    char *s = json_dumps(j, JSON_SORT_KEYS);
    assert_non_null(s);
    json_decref(j);
    verify_result_free(&r);
    return s;
}

/* How tar.c reads `paths`: 1 through to the end (entries counted in
 * *entries), 2 declined. Each entry's data is read when it is small. */
static int vtar_reads(const char *const *paths, size_t n, size_t *entries, th_tar_entry *want, size_t n_want)
{
    vtar t;
    vtar_entry e;
    int rc;
    assert_int_equal(vtar_open(&t, paths, n), 0);
    *entries = 0;
    while ((rc = vtar_next(&t, &e)) == 1) {
        if (e.size <= VTAR_MAX_DATA) {
            const uint8_t *d = vtar_data(&t, &e);
            if (!d) {
                rc = 2;
                break;
            }
            if (want && *entries < n_want) {
                assert_string_equal(e.name, want[*entries].name);
                assert_int_equal(e.size, want[*entries].len);
                assert_memory_equal(d, want[*entries].data, want[*entries].len);
            }
        }
        ++*entries;
    }
    if (rc == 2)
        assert_true(t.declined);
    vtar_close(&t);
    return rc == 0 ? 1 : rc;
}

/* Both readers give the same report of `path`; tar.c reads it through
 * (`through`) or declines it. Returns whether the report's verdict is 0. */
static bool same_report(const char *path, bool through)
{
    size_t entries;
    int how = vtar_reads(&path, 1, &entries, NULL, 0);
    if (how != (through ? 1 : 2))
        fail_msg("%s: tar.c %s", path, how == 1 ? "read it through" : "declined it");
    char *fast = report_of(&path, 1, false, NULL, NULL), *slow = report_of(&path, 1, true, NULL, NULL);
    if (strcmp(fast, slow) != 0)
        fail_msg("%s: the reports differ:\n%s\n%s", path, fast, slow);
    json_t *j = json_loads(fast, 0, NULL);
    bool ok = json_integer_value(json_object_get(j, "verdict")) == 0;
    json_decref(j);
    free(fast);
    free(slow);
    return ok;
}

static bool has_finding(const char *path, const char *code, const char *text)
{
    verify_result r;
    verify_archive(path, NULL, &r);
    bool found = false;
    for (size_t i = 0; i < r.n_findings; i++)
        found |= !strcmp(r.findings[i].code, code) && (!text || strstr(r.findings[i].message, text));
    verify_result_free(&r);
    return found;
}

/* ----------------------------------------------------- raw headers */

static uint64_t octal_at(const uint8_t *f, size_t n)
{
    char s[16] = {0};
    memcpy(s, f, n);
    return strtoull(s, NULL, 8);
}

static void set_checksum(uint8_t *h)
{
    unsigned sum = 0;
    memset(h + 148, ' ', 8);
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

/* Offsets of the headers of `d` (up to the end mark), their number. */
static size_t headers(const uint8_t *d, size_t len, size_t *off, size_t cap)
{
    size_t n = 0;
    for (size_t o = 0; o + 512 <= len && d[o] && n < cap;) {
        off[n++] = o;
        o += 512 + (octal_at(d + o + 124, 12) + 511) / 512 * 512;
    }
    return n;
}

static char *write_bytes(const char *name, const uint8_t *d, size_t len)
{
    char *path = th_path(name);
    assert_int_equal(th_write_file(path, d, len), 0);
    return path;
}

/* ------------------------------------------------------------ tests */

/* tar.c reads `path` through to libarchive's entries (into *want) and
 * the same report. */
static void read_through(const char *path, th_tar_entry **want, size_t *n_want)
{
    size_t entries;
    assert_int_equal(th_tar_read(path, want, n_want), 0);
    assert_int_equal(vtar_reads(&path, 1, &entries, *want, *n_want), 1);
    assert_int_equal(entries, *n_want);
    assert_true(same_report(path, true));
}

static void test_fixtures_and_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_FIXTURES; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "exports/%s", fixtures[i]);
        char *path = th_fixture(rel);
        th_tar_entry *want;
        size_t n_want, entries;
        read_through(path, &want, &n_want);
        /* in three parts cut inside a header and inside a log's data */
        size_t len;
        uint8_t *d = th_read_file(path, &len);
        size_t cuts[] = {0, 777, len / 2 + 3, len};
        char *parts[3];
        for (int k = 0; k < 3; k++) {
            char name[64];
            snprintf(name, sizeof name, "split-%zu.tar.%03d", i, k + 1);
            parts[k] = write_bytes(name, d + cuts[k], cuts[k + 1] - cuts[k]);
        }
        const char *pp[3] = {parts[0], parts[1], parts[2]};
        assert_int_equal(vtar_reads(pp, 3, &entries, want, n_want), 1);
        assert_int_equal(entries, n_want);
        char *fast = report_of(pp, 3, false, NULL, NULL), *slow = report_of(pp, 3, true, NULL, NULL);
        assert_string_equal(fast, slow);
        assert_non_null(strstr(fast, "\"verdict\": 0"));
        free(fast);
        free(slow);
        for (int k = 0; k < 3; k++)
            free(parts[k]);
        free(d);
        th_tar_free(want, n_want);
        free(path);
    }
}

static int write_chunk(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

static void test_own_exports(void **state)
{
    (void)state;
    for (int format = 2; format <= 3; format++) {
        tse_create_options opts = {.log_format_version = format};
        tse *t = ready_tse(format == 2 ? "tar-v2" : "tar-v3", &opts, NULL);
        static const uint8_t pd[] = "Beleg^10.00_0.00_0.00_0.00_0.00^10.00:Bar";
        for (int i = 0; i < 5; i++) {
            tse_result s, f;
            assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), TSE_OK);
            assert_int_equal(tse_finish_transaction(t, READY_CLIENT, s.transaction_number, pd, sizeof pd - 1,
                                                    "Kassenbeleg-V1", NULL, 0, &f), TSE_OK);
        }
        char *path = th_path(format == 2 ? "tar-own-v2.tar" : "tar-own-v3.tar");
        FILE *out = fopen(path, "wb");
        assert_non_null(out);
        tse_export_result res;
        assert_int_equal(tse_export_data(t, NULL, write_chunk, out, &res), TSE_OK);
        assert_int_equal(fclose(out), 0);
        tse_close(t);
        th_tar_entry *want;
        size_t n_want;
        read_through(path, &want, &n_want);
        th_tar_free(want, n_want);
        free(path);
    }
}

/* A damaged copy of fiskaly-v2-unixt-a.tar (13 entries: info.csv, two
 * certificates, logs) from `change`, checked against libarchive. */
typedef void (*change_fn)(uint8_t *d, size_t *len, const size_t *off, size_t n);

/* Bytes written over a header's field (its checksum made right again). */
typedef struct patch {
    size_t entry, at;
    const char *bytes;
    size_t n;
} patch;

static void damaged(const char *name, change_fn change, const patch *p, bool through, bool verdict0,
                    const char *code)
{
    size_t len, off[64];
    uint8_t *src = fixture_bytes("fiskaly-v2-unixt-a.tar", &len);
    uint8_t *d = calloc(1, len + (4u << 20));
    assert_non_null(d);
    memcpy(d, src, len);
    size_t n = headers(d, len, off, 64);
    assert_int_equal(n, 13);
    if (change)
        change(d, &len, off, n);
    if (p) {
        memcpy(d + off[p->entry] + p->at, p->bytes, p->n);
        set_checksum(d + off[p->entry]);
    }
    char *path = write_bytes(name, d, len);
    bool ok = same_report(path, through);
    if (ok != verdict0)
        fail_msg("%s: verdict %s0", name, ok ? "" : "not ");
    if (code && !has_finding(path, code, NULL))
        fail_msg("%s: no finding %s", name, code);
    free(path);
    free(d);
    free(src);
}

static void cut_header(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)d;
    (void)n;
    *len = off[5] + 100;
}

static void bad_checksum(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)len;
    (void)n;
    d[off[4] + 10] ^= 1;
}

static void size_base256(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)len;
    (void)n;
    uint8_t *h = d + off[6];
    uint64_t size = octal_at(h + 124, 12);
    memset(h + 124, 0, 12);
    h[124] = 0x80;
    for (int i = 0; i < 8; i++)
        h[135 - i] = (uint8_t)(size >> (8 * i));
    set_checksum(h);
}

static void name_without_nul(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)len;
    (void)n;
    memset(d + off[7], 'x', 100);
    set_checksum(d + off[7]);
}

static void data_cut(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)d;
    *len = off[n - 1] + 512 + 40;
}

static void zero_blocks_middle(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)n;
    memmove(d + off[8] + 1024, d + off[8], *len - off[8]);
    memset(d + off[8], 0, 1024);
    *len += 1024;
}

static void one_zero_block_middle(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)n;
    memmove(d + off[8] + 512, d + off[8], *len - off[8]);
    memset(d + off[8], 0, 512);
    *len += 512;
}

static void bytes_after_end(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)off;
    (void)n;
    memcpy(d + *len, "not an archive", 14);
    *len += 512;
}

static void empty_file(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)d;
    (void)off;
    (void)n;
    *len = 0;
}

/* A log and a certificate over the size limits, as the last entries. */
static void too_large(uint8_t *d, size_t *len, const size_t *off, size_t n)
{
    (void)off;
    (void)n;
    size_t at = *len;
    while (at >= 512 && !d[at - 512])
        at -= 512;   /* the end mark */
    struct {
        const char *name;
        size_t size;
    } big[] = {{"Unixt_1_Sig-999_Log-Tra_No-9_Start_Client-X.log", VTAR_MAX_DATA + 1},
               {"aa_X509.der", (1u << 16) + 1}};
    for (size_t i = 0; i < 2; i++) {
        uint8_t *h = d + at;
        memset(h, 0, 512);
        strcpy((char *)h, big[i].name);
        memcpy(h + 100, "0000644", 8);
        snprintf((char *)h + 124, 12, "%011zo", big[i].size);
        memcpy(h + 136, "14000000000", 12);
        h[156] = '0';
        memcpy(h + 257, "ustar\0" "00", 8);
        set_checksum(h);
        memset(h + 512, 'A', big[i].size);
        at += 512 + (big[i].size + 511) / 512 * 512;
    }
    memset(d + at, 0, 1024);
    *len = at + 1024;
}

static void test_damaged(void **state)
{
    (void)state;
    /* declined by tar.c: libarchive decides as before */
    damaged("cut-header.tar", cut_header, NULL, false, false, "archive-unreadable");
    damaged("bad-checksum.tar", bad_checksum, NULL, false, false, "archive-unreadable");
    damaged("size-not-octal.tar", NULL, &(patch){6, 124, "0000000x123", 12}, false, false, NULL);
    damaged("size-too-big.tar", NULL, &(patch){6, 124, "77777777777", 12}, false, false, "archive-unreadable");
    damaged("size-base256.tar", size_base256, NULL, false, true, NULL);
    damaged("data-cut.tar", data_cut, NULL, false, false, "archive-unreadable");
    damaged("directory.tar", NULL, &(patch){3, 156, "5", 1}, false, false, "file-unexpected");
    damaged("old-gnu.tar", NULL, &(patch){2, 257, "ustar  ", 8}, false, true, NULL);
    damaged("prefix.tar", NULL, &(patch){9, 345, "folder", 6}, false, false, "file-unexpected");
    damaged("empty.tar", empty_file, NULL, false, false, NULL);
    /* read by tar.c to the same report */
    damaged("name-without-nul.tar", name_without_nul, NULL, true, false, "file-unexpected");
    damaged("too-large.tar", too_large, NULL, true, false, "log-malformed");
    char *large = th_path("too-large.tar");
    assert_true(has_finding(large, "certificate-unreadable", "larger than 65536 bytes"));
    free(large);
    /* a missing file */
    const char *missing = "/nonexistent/archive.tar";
    char *fast = report_of(&missing, 1, false, NULL, NULL), *slow = report_of(&missing, 1, true, NULL, NULL);
    assert_string_equal(fast, slow);
    assert_non_null(strstr(fast, "archive-unreadable"));
    free(fast);
    free(slow);
}

/* Bytes after the end mark: libarchive stops at the mark, so do the
 * findings; the warning archive-trailing-data names the mark's offset. */
static void trailing(const char *name, change_fn change, uint64_t mark_of_entry)
{
    size_t len, off[64];
    uint8_t *src = fixture_bytes("fiskaly-v2-unixt-a.tar", &len);
    uint8_t *d = calloc(1, len + 4096);
    assert_non_null(d);
    memcpy(d, src, len);
    size_t n = headers(d, len, off, 64);
    change(d, &len, off, n);
    char *path = write_bytes(name, d, len);
    bool had;
    const char *p = path;
    char *fast = report_of(&p, 1, false, "archive-trailing-data", &had);
    char *slow = report_of(&p, 1, true, "archive-trailing-data", NULL);
    assert_true(had);
    assert_string_equal(fast, slow);
    char text[64];
    size_t mark = mark_of_entry ? off[mark_of_entry]
                                : off[n - 1] + 512 + (octal_at(src + off[n - 1] + 124, 12) + 511) / 512 * 512;
    snprintf(text, sizeof text, "at byte %zu:", mark);
    if (!has_finding(path, "archive-trailing-data", text))
        fail_msg("%s: no archive-trailing-data %s", name, text);
    verify_result r;
    verify_archive(path, NULL, &r);
    assert_int_equal(verify_verdict_of(&r) == VERIFY_INTACT, false);
    verify_result_free(&r);
    free(fast);
    free(slow);
    free(path);
    free(d);
    free(src);
}

static void test_trailing(void **state)
{
    (void)state;
    trailing("zero-middle.tar", zero_blocks_middle, 8);
    trailing("one-zero-middle.tar", one_zero_block_middle, 8);
    trailing("after-end.tar", bytes_after_end, 0);
}

/* pax headers (a long name) and gzip: declined, read by libarchive. */
static void test_pax_and_gzip(void **state)
{
    (void)state;
    char rel[] = "exports/fiskaly-v2-unixt-a.tar";
    char *src = th_fixture(rel);
    th_tar_entry *e;
    size_t n;
    assert_int_equal(th_tar_read(src, &e, &n), 0);
    for (int gz = 0; gz <= 1; gz++) {
        char *path = th_path(gz ? "fixture.tar.gz" : "pax.tar");
        struct archive *a = archive_write_new();
        assert_non_null(a);
        assert_int_equal(gz ? archive_write_set_format_ustar(a) : archive_write_set_format_pax(a), ARCHIVE_OK);
        if (gz)
            assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; i < n + !gz; i++) {
            char longname[200];
            memset(longname, 'n', 150);
            strcpy(longname + 150, ".txt");
            struct archive_entry *ae = archive_entry_new();
            archive_entry_set_pathname(ae, i < n ? e[i].name : longname);
            archive_entry_set_size(ae, i < n ? (la_int64_t)e[i].len : 3);
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
            assert_int_equal(archive_write_data(a, i < n ? e[i].data : (const void *)"abc", i < n ? e[i].len : 3),
                             i < n ? (la_ssize_t)e[i].len : 3);
            archive_entry_free(ae);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        assert_int_equal(same_report(path, false), gz);
        if (!gz)
            assert_true(has_finding(path, "file-unexpected", NULL));
        free(path);
    }
    th_tar_free(e, n);
    free(src);
}

/* Random changes of header bytes and of the length: both readers agree
 * every time (reports compared without archive-trailing-data, which only
 * tar.c sees), and nothing crashes. */
static void test_random_damage(void **state)
{
    (void)state;
    size_t len0, off[64];
    uint8_t *src = fixture_bytes("fiskaly-v2-unixt-b.tar", &len0);
    size_t n = headers(src, len0, off, 64);
    uint8_t *d = malloc(len0);
    assert_non_null(d);
    srand(13);
    static const uint8_t values[] = {0, ' ', '0', '7', '8', 'x', 0x80, 0xff, '/', '\n'};
    for (int round = 0; round < 300; round++) {
        memcpy(d, src, len0);
        size_t len = len0;
        size_t h = off[(size_t)rand() % n];
        int changes = 1 + rand() % 3;
        for (int c = 0; c < changes; c++)
            d[h + (size_t)rand() % 512] = values[(size_t)rand() % sizeof values];
        if (rand() % 2)
            set_checksum(d + h);
        if (rand() % 5 == 0)
            len = (size_t)rand() % len0;
        char *path = write_bytes("random.tar", d, len);
        const char *p = path;
        char *fast = report_of(&p, 1, false, "archive-trailing-data", NULL);
        char *slow = report_of(&p, 1, true, "archive-trailing-data", NULL);
        if (strcmp(fast, slow) != 0)
            fail_msg("round %d: the reports differ:\n%s\n%s", round, fast, slow);
        free(fast);
        free(slow);
        free(path);
    }
    free(d);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_and_split),
        cmocka_unit_test(test_own_exports),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_pax_and_gzip),
        cmocka_unit_test(test_random_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
