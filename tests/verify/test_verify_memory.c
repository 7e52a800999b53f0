/*
 * test_verify_memory.c - the cross-checks of `opentse verify --dsfinvk` and
 * `opentse qr verify --archive` hold the Finish logs in bounded memory.
 *
 * Two archives of our own TSE, N and 10 N logs (gen_signed_logs: real
 * signatures of the TSE's key, see tests/export/gen_logs.h), each with the
 * DSFinV-K tables `opentse dsfinvk` writes from it and the receipt QR code of
 * its first transaction. A child process verifies an archive with the Finish
 * logs kept, holds the tables against it and finds the receipt's Finish log
 * (as `opentse qr verify --archive` does),
 * with a records chunk of 256 (the default is 65,536: the archives here are
 * as much larger than the chunk as a 16-million-log archive is than the
 * default one); it reports the growth of its resident set over the check
 * (VmHWM, reset before). 10 times the logs must not grow it more than 1.5
 * times (in a build without AddressSanitizer, whose allocator the resident
 * set would measure), and every check must still come out right. Without a temporary
 * file the Finish logs stay in memory, with a note that says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../export/gen_logs.h"
#include "base/encode.h"
#include "csp/csp.h"
#include "opentse/receipt.h"
#include "ready_tse.h"
#include "verify/verify.h"

#define N_SMALL 2000
#define CHUNK 256

/* Under AddressSanitizer freed memory waits in a quarantine (256 MB by
 * default); keep it small so that the peak measures what the check holds. */
const char *__asan_default_options(void) __attribute__((visibility("default")));
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=4";
}

typedef struct case_ {
    char *archive, *dir, *qr;
    char serial[65];
    uint64_t receipt_tx;     /* the transaction of the receipt */
    uint8_t signature[132];
    size_t signature_len;
    uint64_t transactions;
} case_;

static int write_chunk(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* Our TSE with `logs` generated logs and one receipt's transaction after
 * them, its export and the DSFinV-K tables of it. */
static void make_case(const char *stem, uint64_t logs, case_ *c)
{
    char *db = NULL;
    tse *t = ready_tse(stem, NULL, &db);
    static const uint8_t pd[] = "Beleg^7.00_0.00_0.00_0.00_0.00^7.00:Bar";
    tse_result s, f;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &s), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, s.transaction_number, pd, sizeof pd - 1,
                                            "Kassenbeleg-V1", NULL, 0, &f), TSE_OK);
    c->receipt_tx = f.transaction_number;
    assert_int_equal(tse_receipt_qr_from_finish(t, &f, READY_CLIENT, "Kassenbeleg-V1", pd, sizeof pd - 1, &c->qr),
                     TSE_OK);
    memcpy(c->signature, f.signature, f.signature_len);
    c->signature_len = f.signature_len;
    uint8_t *point = NULL, serial[32];
    size_t point_len = 0;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    csp_serial(point, point_len, serial);
    hex_encode(c->serial, sizeof c->serial, serial, 32);
    tse_free(point);
    tse_close(t);
    /* the generated transactions follow the receipt's */
    assert_int_equal(gen_signed_logs(db, th_master_key(), READY_CLIENT, logs, 2), 0);
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(db, &oo, &t), TSE_OK);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    c->transactions = info.transaction_counter;

    char name[64];
    snprintf(name, sizeof name, "%s.tar", stem);
    c->archive = th_path(name);
    FILE *out = fopen(c->archive, "wb");
    assert_non_null(out);
    assert_int_equal(tse_export_data(t, NULL, write_chunk, out, NULL), TSE_OK);
    assert_int_equal(fclose(out), 0);
    tse_close(t);
    free(db);

    snprintf(name, sizeof name, "%s-dsfinvk", stem);
    c->dir = th_path(name);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && '%s' dsfinvk '%s' --out '%s' >/dev/null", c->dir, getenv("OPENTSE_CLI"),
             c->archive, c->dir);
    assert_int_equal(system(cmd), 0);
}

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0)
            kb = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* What one check found. */
typedef struct outcome {
    long grown_kb;           /* peak resident set over the check less the one before */
    int verdict, dsfinvk_verdict;
    size_t finishes, rows, in_memory_notes;
    int found;               /* verify_find_finish of the receipt's transaction */
    bool signature_matches;
} outcome;

/* The check itself, in this process. */
static void check(const case_ *c, outcome *o)
{
    verify_options opts = {.keep_finishes = true, .spill_records = CHUNK};
    verify_result r, d;
    memset(o, 0, sizeof *o);
    assert_int_equal(verify_archive(c->archive, &opts, &r), 0);
    const verify_result *list = &r;
    assert_int_equal(verify_dsfinvk(c->dir, &list, 1, &opts, &d), 0);
    o->verdict = (int)verify_verdict_of(&r);
    o->dsfinvk_verdict = (int)verify_verdict_of(&d);
    o->finishes = r.n_finishes;
    o->rows = d.dsfinvk_rows;
    o->in_memory_notes = verify_count(&r, "verify-in-memory");
    verify_finish f;
    o->found = verify_find_finish(&r, c->serial, c->receipt_tx, &f);
    if (o->found == 1) {
        o->signature_matches = f.signature_len == c->signature_len &&
                               memcmp(f.signature, c->signature, c->signature_len) == 0 &&
                               strcmp(f.process_type, "Kassenbeleg-V1") == 0;
        verify_finish_free(&f);
    }
    if (o->verdict || o->dsfinvk_verdict) {
        verify_report_text(&r, stderr, true);
        verify_report_text(&d, stderr, true);
    }
    verify_result_free(&d);
    verify_result_free(&r);
}

/* The check in a child process, which measures its own peak. */
static void check_in_child(const case_ *c, outcome *o)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        int clear = open("/proc/self/clear_refs", O_WRONLY);
        if (clear < 0 || write(clear, "5", 1) != 1)   /* resets VmHWM */
            _exit(3);
        close(clear);
        long before = status_kb("VmRSS:");
        check(c, o);
        o->grown_kb = status_kb("VmHWM:") - before;
        if (write(p[1], o, sizeof *o) != (ssize_t)sizeof *o)
            _exit(4);
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(read(p[0], o, sizeof *o), (ssize_t)sizeof *o);
    close(p[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void expect_right(const case_ *c, const outcome *o, size_t notes)
{
    assert_int_equal(o->verdict, 0);
    assert_int_equal(o->dsfinvk_verdict, 0);
    assert_int_equal(o->finishes, c->transactions);   /* every transaction finished */
    assert_int_equal(o->rows, c->transactions);
    assert_int_equal(o->found, 1);
    assert_true(o->signature_matches);
    assert_int_equal(o->in_memory_notes, notes);
}

static void test_bounded(void **state)
{
    (void)state;
    case_ small, big;
    make_case("mem-small", N_SMALL, &small);
    make_case("mem-big", 10 * N_SMALL, &big);
    outcome a, b;
    check_in_child(&small, &a);
    check_in_child(&big, &b);
    print_message("cross-check of %llu transactions: grew %ld kB; of %llu: grew %ld kB\n",
                  (unsigned long long)small.transactions, a.grown_kb, (unsigned long long)big.transactions,
                  b.grown_kb);
    expect_right(&small, &a, 0);
    expect_right(&big, &b, 0);
    /* the commands themselves agree */
    char cmd[16800];
    snprintf(cmd, sizeof cmd, "'%s' verify --quiet --dsfinvk '%s' '%s' >/dev/null && '%s' qr verify --archive '%s' '%s' >/dev/null",
             getenv("OPENTSE_CLI"), big.dir, big.archive, getenv("OPENTSE_CLI"), big.archive, big.qr);
    assert_int_equal(system(cmd), 0);
    assert_true(a.grown_kb > 0);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer's allocator keeps pools per size and thread beside
     * shadow memory: the resident set measures it, not the check (it grows
     * so even for a verification without cross-checks). The bound holds in
     * the plain build. */
    print_message("AddressSanitizer build: the resident-set bound is checked in the plain build\n");
#else
    assert_true(b.grown_kb * 2 <= a.grown_kb * 3);
#endif

    /* A transaction that is not there; a table row changed. */
    verify_options opts = {.keep_finishes = true, .spill_records = CHUNK};
    verify_result r, d;
    assert_int_equal(verify_archive(big.archive, &opts, &r), 0);
    verify_finish f;
    assert_int_equal(verify_find_finish(&r, big.serial, big.transactions + 1, &f), 0);
    assert_int_equal(verify_find_finish(&r, "00", big.receipt_tx, &f), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/transactions_tse.csv", big.dir);
    /* the first row's transaction number to one the archive does not hold */
    snprintf(cmd, sizeof cmd, "awk -F';' -v OFS=';' 'NR == 2 { $6 = 999999 } 1' '%s' > '%s.new' && mv '%s.new' '%s'",
             path, path, path, path);
    assert_int_equal(system(cmd), 0);
    const verify_result *list = &r;
    assert_int_equal(verify_dsfinvk(big.dir, &list, 1, &opts, &d), 0);
    assert_int_equal(verify_count(&d, "dsfinvk-not-in-archive"), 1);
    assert_int_equal(verify_count(&d, "dsfinvk-missing-row"), 1);
    assert_int_equal(verify_count(&d, "dsfinvk-mismatch"), 0);
    verify_result_free(&d);
    verify_result_free(&r);

    /* No temporary file: the same results, kept in memory, and a note. */
    setenv("TMPDIR", "/nonexistent/opentse-no-such-dir", 1);
    outcome m;
    check(&small, &m);
    unsetenv("TMPDIR");
    assert_int_equal(m.verdict, 0);
    assert_int_equal(m.finishes, small.transactions);
    assert_int_equal(m.found, 1);
    assert_true(m.signature_matches);
    assert_true(m.in_memory_notes >= 1);
    tse_free(small.qr);
    tse_free(big.qr);
    free(small.archive);
    free(small.dir);
    free(big.archive);
    free(big.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
