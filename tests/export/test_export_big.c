/*
 * test_export_big.c - a 200,000-log export streams in constant memory.
 *
 * The TSE gets 200,000 correctly signed logs through gen_signed_logs() (see
 * gen_logs.h for why they are real), then a child process exports
 * everything into a pipe while the parent reads the archive from the other
 * end with libarchive and checks every entry (names, counters without gap,
 * one sample in 10,000 signatures by the openssl command line). The child
 * measures its own peak resident set size (VmHWM, reset just before the
 * export) against its size before; the archive is well over 150 MB, the
 * bound is 24 MB.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/logmsg.h"
#include "export_check.h"
#include "gen_logs.h"
#include "ready_tse.h"

#define N_LOGS 200000
#define BOUND_KB (24 * 1024)

/* Under AddressSanitizer freed memory waits in a quarantine (256 MB by
 * default); keep it small so that the peak measures what the export holds.
 * The runtime looks the function up dynamically: it must be visible. */
const char *__asan_default_options(void) __attribute__((visibility("default")));
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=4";
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

static int to_fd(void *ctx, const uint8_t *data, size_t len)
{
    int fd = *(int *)ctx;
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            return TSE_ERR_STORAGE_FAILURE;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Child: opens the TSE, resets the peak, exports into fd, reports
 * "<rss before> <peak after> <logs> <bytes>" on report_fd. */
static void child(const char *db, int fd, int report_fd)
{
    tse_open_options oo = {.master_key_path = th_master_key()};
    tse *t = NULL;
    if (tse_open(db, &oo, &t) != TSE_OK)
        _exit(2);
    int clear = open("/proc/self/clear_refs", O_WRONLY);
    if (clear < 0 || write(clear, "5", 1) != 1)   /* resets VmHWM */
        _exit(3);
    close(clear);
    long before = status_kb("VmRSS:");
    tse_export_result res;
    tse_err rc = tse_export_data(t, NULL, to_fd, &fd, &res);
    long peak = status_kb("VmHWM:");
    close(fd);
    char line[128];
    int n = snprintf(line, sizeof line, "%d %ld %ld %llu %llu\n", rc, before, peak, (unsigned long long)res.logs,
                     (unsigned long long)res.bytes);
    if (write(report_fd, line, (size_t)n) != n)
        _exit(4);
    tse_close(t);
    _exit(0);
}

static void test_big_export(void **state)
{
    (void)state;
    char *db = NULL;
    tse *t = ready_tse("big", NULL, &db);
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint64_t first = info.signature_counter;
    tse_close(t);
    assert_int_equal(gen_signed_logs(db, th_master_key(), READY_CLIENT, N_LOGS, 2), 0);

    /* the engine continues on top of them */
    tse_open_options oo = {.master_key_path = th_master_key()};
    assert_int_equal(tse_open(db, &oo, &t), TSE_OK);
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint64_t total = info.signature_counter;
    assert_true(total >= first + N_LOGS);
    assert_int_equal(info.transaction_counter, N_LOGS / 2);
    tse_close(t);

    int data[2], report[2];
    assert_int_equal(pipe(data), 0);
    assert_int_equal(pipe(report), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(data[0]);
        close(report[0]);
        child(db, data[1], report[1]);
    }
    close(data[1]);
    close(report[1]);

    /* read the archive as it streams */
    struct archive *a = archive_read_new();
    assert_non_null(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_fd(a, data[0], 1 << 16), ARCHIVE_OK);
    struct archive_entry *e;
    uint64_t logs = 0, expect = 1;
    static uint8_t buf[4096];
    const uint8_t *samples[32];
    size_t sample_lens[32], n_samples = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        la_int64_t size = archive_entry_size(e);
        if (!strstr(name, ".log"))
            continue;
        assert_true(size > 0 && size <= (la_int64_t)sizeof buf);
        assert_int_equal(archive_read_data(a, buf, (size_t)size), size);
        logmsg m;
        tse_error err = {0};
    char want[256];
        assert_true(logmsg_parse(buf, (size_t)size, &m, &err));
        assert_int_equal(m.signature_counter, expect);   /* every counter, in order, once */
        assert_true(logmsg_filename(&m, 0, want, sizeof want));
        assert_string_equal(name, want);
        if (expect % 10000 == 0 && n_samples < 32) {
            uint8_t *copy = malloc((size_t)size);
            memcpy(copy, buf, (size_t)size);
            samples[n_samples] = copy;
            sample_lens[n_samples++] = (size_t)size;
        }
        expect++;
        logs++;
    }
    archive_read_free(a);
    close(data[0]);

    char line[128] = "";
    FILE *rf = fdopen(report[0], "r");
    assert_non_null(fgets(line, sizeof line, rf));
    fclose(rf);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int rc = -1;
    long before = 0, peak = 0;
    unsigned long long child_logs = 0, bytes = 0;
    assert_int_equal(sscanf(line, "%d %ld %ld %llu %llu", &rc, &before, &peak, &child_logs, &bytes), 5);
    assert_int_equal(rc, TSE_OK);
    /* everything, plus the self-test log the child's open wrote */
    assert_int_equal(child_logs, total + 1);
    assert_int_equal(logs, child_logs);
    print_message("export of %llu logs, %llu bytes: RSS before %ld kB, peak %ld kB\n", child_logs, bytes, before,
                  peak);
    assert_true(bytes > 150ull * 1024 * 1024);
    assert_true(before > 0 && peak >= before);
    assert_true(peak - before < BOUND_KB);

    /* samples across the archive, by openssl with the certificate's key */
    uint8_t *point = NULL;
    size_t point_len = 0;
    assert_int_equal(tse_open(db, &oo, &t), TSE_OK);
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    for (size_t i = 0; i < n_samples; i++) {
        logmsg m;
        tse_error err = {0};
        assert_true(logmsg_parse(samples[i], sample_lens[i], &m, &err));
        assert_int_equal(th_openssl_verify(info.curve, info.hash, point, point_len, m.signed_bytes.p,
                                           m.signed_bytes.n, m.signature.p, m.signature.n),
                         0);
        free((void *)samples[i]);
    }
    assert_int_equal(n_samples, N_LOGS / 10000);
    tse_free(point);
    tse_close(t);
    free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
