/*
 * test_threads.c - many threads on one TSE and on several TSEs at once:
 * every transaction gets its own number, every log its own counter, and the
 * stored logs run 1..N without a gap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ready_tse.h"

#define PER_THREAD 100

typedef struct worker {
    tse *t;
    uint64_t numbers[PER_THREAD];
    int failures;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        tse_result r;
        if (tse_start_transaction(w->t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &r) != TSE_OK ||
            tse_update_transaction(w->t, READY_CLIENT, r.transaction_number, (const uint8_t *)"u", 1, NULL,
                                   TSE_UPDATE_UNSIGNED, &r) != TSE_OK ||
            tse_finish_transaction(w->t, READY_CLIENT, r.transaction_number, (const uint8_t *)"f", 1,
                                   "Kassenbeleg-V1", NULL, 0, &r) != TSE_OK)
            w->failures++;
        w->numbers[i] = r.transaction_number;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void run_threads(int n_tse, int threads_per_tse)
{
    tse *tses[8];
    uint64_t base[8];
    worker *w = calloc((size_t)(n_tse * threads_per_tse), sizeof *w);
    pthread_t th[64];
    for (int i = 0; i < n_tse; i++) {
        tses[i] = ready_tse("threads", NULL, NULL);
        tse_info info;
        assert_int_equal(tse_get_info(tses[i], &info), TSE_OK);
        base[i] = info.signature_counter;
    }
    for (int i = 0; i < n_tse * threads_per_tse; i++) {
        w[i].t = tses[i % n_tse];
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    for (int i = 0; i < n_tse * threads_per_tse; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    for (int i = 0; i < n_tse; i++) {
        /* transaction numbers 1..threads*PER_THREAD, each once */
        size_t n = (size_t)threads_per_tse * PER_THREAD, k = 0;
        uint64_t *all = malloc(n * sizeof *all);
        for (int j = i; j < n_tse * threads_per_tse; j += n_tse)
            for (int x = 0; x < PER_THREAD; x++)
                all[k++] = w[j].numbers[x];
        qsort(all, n, sizeof *all, cmp_u64);
        for (size_t x = 0; x < n; x++)
            assert_int_equal(all[x], x + 1);
        free(all);
        /* start, the kept update's own log, finish (TR-03151-1 3.7.1.4) */
        assert_int_equal(ready_check_all_logs(tses[i]), base[i] + 3 * n);
        uint32_t open = 1;
        assert_int_equal(tse_get_current_number_of_transactions(tses[i], &open), TSE_OK);
        assert_int_equal(open, 0);
        tse_close(tses[i]);
    }
    free(w);
}

static void test_one_tse_eight_threads(void **state) { (void)state; run_threads(1, 8); }
static void test_four_tses_two_threads_each(void **state) { (void)state; run_threads(4, 2); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_tse_eight_threads),
        cmocka_unit_test(test_four_tses_two_threads_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
