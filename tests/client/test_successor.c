/*
 * test_successor.c - a successor TSS while the old one's certificate runs
 * out, through libopentse against a real opentsed whose built-in CA issues
 * 20-second certificates: a register signs in a loop; with a transaction
 * still open, tse_create_successor makes the successor (the old TSS waits);
 * the open transaction finishes on the old TSS, and the server exports,
 * verifies and disables it by itself; the same handle then signs on the successor by
 * itself, counting from 1 with the successor's own key, until well past the
 * old certificate's end. No transaction fails; the old TSS's final export
 * passes the verifier. Wrong PIN and an embedded TSE are refused.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "transport.h"
#include "verify/verify.h"

#define VALIDITY "20"

static void sign_one(tse *t, tse_result *start)
{
    tse_result fin;
    const uint8_t pd[] = "Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar";
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, start), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, start->transaction_number, pd, sizeof pd - 1,
                                            "Kassenbeleg-V1", NULL, 0, &fin),
                     TSE_OK);
    assert_int_equal(fin.signature_counter, start->signature_counter + 1);
}

/* The one final export archive of TSS `id` in the server's data directory. */
static char *final_archive(const char *data_dir, const char *id)
{
    char dir[1200], *found = NULL;
    snprintf(dir, sizeof dir, "%s/exports/%s", data_dir, id);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".tar")) {
            assert_null(found);
            assert_true(asprintf(&found, "%s/%s", dir, e->d_name) > 0);
        }
    }
    closedir(d);
    assert_non_null(found);
    return found;
}

static void successor_through_expiry(void **state)
{
    (void)state;
    tt_server srv;
    char *dir = th_path("successor-server");
    setenv("OPENTSED_CERT_VALIDITY", VALIDITY, 1);
    tt_server_start(&srv, dir, 0);
    unsetenv("OPENTSED_CERT_VALIDITY");
    char *url = tt_tss_url(srv.base);
    tse *t = tt_ready_at(url);   /* the register's handle, never reopened */
    tse_info old;
    assert_int_equal(tse_get_info(t, &old), TSE_OK);
    int64_t old_end = old.end_of_usage;
    assert_true(old_end > (int64_t)time(NULL));
    assert_int_equal(old.end_of_usage_warning, 7);

    tse_result r;
    int64_t t0 = (int64_t)time(NULL);
    while ((int64_t)time(NULL) < t0 + 3)   /* the successor's certificate must outlast the old one by seconds */
        sign_one(t, &r);
    /* an open transaction when the successor is made */
    tse_result open;
    assert_int_equal(tse_start_transaction(t, TT_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &open), TSE_OK);

    tse *admin = tt_open(url);
    char id[37], puk[TSE_PUK_LEN + 1], id2[37], puk2[TSE_PUK_LEN + 1];
    assert_int_equal(tse_create_successor(admin, "999999", id, puk), TSE_ERR_AUTHENTICATION_FAILED);
    assert_int_equal(tse_create_successor(admin, TT_PIN, id, puk), TSE_OK);
    assert_int_equal(strlen(puk), TSE_PUK_LEN);
    tse_info mid;
    assert_int_equal(tse_get_info(admin, &mid), TSE_OK);
    assert_int_equal(mid.state, TSE_STATE_INITIALIZED);   /* waits for the open transaction */

    /* the register goes on on the old TSS meanwhile */
    sign_one(t, &r);
    tse_result fin;
    assert_int_equal(tse_finish_transaction(t, TT_CLIENT, open.transaction_number, NULL, 0, "Kassenbeleg-V1", NULL, 0,
                                            &fin),
                     TSE_OK);
    /* the old TSS retires by itself once that was its last open transaction */
    for (int i = 0; i < 300 && mid.state != TSE_STATE_DISABLED; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        assert_int_equal(tse_get_info(admin, &mid), TSE_OK);
    }
    assert_int_equal(mid.state, TSE_STATE_DISABLED);
    /* again: the same successor, no new PUK */
    assert_int_equal(tse_create_successor(admin, TT_PIN, id2, puk2), TSE_OK);
    assert_string_equal(id2, id);
    assert_string_equal(puk2, "");
    tse_close(admin);

    /* the old TSS's final export passes the verifier: every log, no error */
    char *tar = final_archive(srv.data_dir, url + strlen(url) - 36);
    verify_result vr = {0};
    assert_int_equal(verify_archive(tar, NULL, &vr), 0);
    assert_int_equal(vr.errors, 0);
    assert_int_equal(vr.counts.logs, mid.signature_counter);
    verify_result_free(&vr);
    free(tar);

    /* the same handle follows the link: numbers from 1, the successor's key */
    sign_one(t, &r);
    assert_int_equal(r.transaction_number, 1);
    tse_info now;
    assert_int_equal(tse_get_info(t, &now), TSE_OK);
    assert_int_equal(now.state, TSE_STATE_INITIALIZED);
    assert_memory_not_equal(now.serial_number, old.serial_number, TSE_SERIAL_LEN);
    uint64_t n = 1;
    while ((int64_t)time(NULL) <= old_end + 1) {   /* well past the old certificate's end */
        sign_one(t, &r);
        assert_int_equal(r.transaction_number, ++n);
    }
    assert_true(now.end_of_usage > old_end);
    tse_close(t);
    free(url);

    /* an embedded TSE has no successor */
    char *file = NULL;
    assert_true(asprintf(&file, "file:%s/successor.db", th_tmpdir()) > 0);
    tse *f = tt_ready_at(file);
    free(file);
    assert_int_equal(tse_create_successor(f, TT_PIN, id, puk), TSE_ERR_NOT_SUPPORTED);
    tse_close(f);
    tt_server_stop(&srv, false);
    free(dir);
}

int main(void)
{
    tt_init("file");   /* the test starts its own server */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(successor_through_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
