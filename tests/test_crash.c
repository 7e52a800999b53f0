/*
 * test_crash.c - kill -9 at random moments. A child process records
 * transactions from two threads and reports every acknowledged signature
 * counter through a pipe; the parent kills it with SIGKILL, 20 times. After
 * each kill the reopened TSE holds every acknowledged log, its counters run
 * 1..N with no gap or duplicate, every signature verifies, and the next
 * counter is N + 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ready_tse.h"

#define ROUNDS 20
#define MAX_ACKS 200000

static tse *child_tse;
static int child_fd;

static void *child_worker(void *arg)
{
    (void)arg;
    for (;;) {
        tse_result r;
        if (tse_start_transaction(child_tse, READY_CLIENT, (const uint8_t *)"x", 1, "Kassenbeleg-V1", NULL, 0, &r))
            _exit(3);
        if (write(child_fd, &r.signature_counter, sizeof r.signature_counter) != sizeof r.signature_counter)
            _exit(4);
        if (tse_finish_transaction(child_tse, READY_CLIENT, r.transaction_number, (const uint8_t *)"Beleg", 5,
                                   "Kassenbeleg-V1", NULL, 0, &r))
            _exit(5);
        if (write(child_fd, &r.signature_counter, sizeof r.signature_counter) != sizeof r.signature_counter)
            _exit(6);
    }
    return NULL;
}

static void child(const char *path, int fd)
{
    tse_open_options oo = {.master_key_path = th_master_key()};
    if (tse_open(path, &oo, &child_tse) != TSE_OK)
        _exit(2);
    child_fd = fd;
    uint64_t ready = 0;
    if (write(fd, &ready, sizeof ready) != sizeof ready)
        _exit(4);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, child_worker, NULL);
    pthread_join(th[0], NULL);
    _exit(0);
}

static void test_kill_9(void **state)
{
    (void)state;
    tse_create_options o = {.trust_system_clock = 1};
    char *path = NULL;
    tse *t = ready_tse("crash", &o, &path);
    tse_close(t);
    uint64_t *acks = malloc(MAX_ACKS * sizeof *acks);
    assert_non_null(acks);
    srand((unsigned)time(NULL));
    uint64_t total_acked = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child(path, p[1]);
        }
        close(p[1]);
        uint64_t v;
        assert_int_equal(read(p[0], &v, sizeof v), sizeof v); /* child is running */
        usleep(20000 + (useconds_t)(rand() % 400000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        size_t n = 0;
        ssize_t k;
        while (n < MAX_ACKS && (k = read(p[0], &acks[n], sizeof acks[n])) == sizeof acks[n])
            n++;
        close(p[0]);
        total_acked += n;

        tse_open_options oo = {.master_key_path = th_master_key()};
        assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
        tse_info info;
        assert_int_equal(tse_get_info(t, &info), TSE_OK);
        assert_true(info.self_test_ok);
        uint64_t highest = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t *msg = NULL;
            size_t len = 0;
            assert_int_equal(tse_read_log_by_counter(t, acks[i], &msg, &len), TSE_OK);
            tse_free(msg);
            if (acks[i] > highest)
                highest = acks[i];
        }
        /* the reopen's selfTest log is the last; everything before it is contiguous and verifies */
        assert_true(info.signature_counter > highest);
        assert_int_equal(ready_check_all_logs(t), info.signature_counter);
        char op[32];
        ready_log_operation(t, info.signature_counter, op, sizeof op);
        assert_string_equal(op, "selfTest");
        tse_close(t);
    }
    printf("crash test: %d kills, %llu acknowledged logs, all present\n", ROUNDS, (unsigned long long)total_acked);
    assert_true(total_acked > 0);
    free(acks);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill_9)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
