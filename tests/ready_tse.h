/*
 * ready_tse.h - test helper: a TSE in a new file taken through the whole
 * lifecycle (created, admin PIN set with the PUK, admin logged in,
 * initialized, time set, one client registered), ready for transactions.
 */
#ifndef OPENTSE_TEST_READY_TSE_H
#define OPENTSE_TEST_READY_TSE_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "helpers.h"
#include "opentse/opentse.h"

#define READY_PIN "123456"
#define READY_CLIENT "KASSE-01"

static inline char *ready_path(const char *stem)
{
    static int seq;
    char name[128];
    snprintf(name, sizeof name, "%s-%d.db", stem, seq++);
    return th_path(name);
}

/* Creates and opens a TSE with `opts` (master key filled in); PUK to `puk`.
 * `validity_seconds` > 0: the built-in CA's certificate is valid that long
 * (engine_create_with_validity, not a public option); 0: tse_create. */
static inline tse *ready_created_valid_for(const char *stem, tse_create_options *opts, int64_t validity_seconds,
                                           char puk[TSE_PUK_LEN + 1], char **path_out)
{
    tse_create_options dflt = {0};
    if (!opts)
        opts = &dflt;
    opts->master_key_path = th_master_key();
    char *path = ready_path(stem);
    assert_int_equal(validity_seconds ? engine_create_with_validity(path, opts, validity_seconds, puk)
                                      : tse_create(path, opts, puk),
                     TSE_OK);
    tse_open_options oo = {.master_key_path = th_master_key()};
    tse *t = NULL;
    assert_int_equal(tse_open(path, &oo, &t), TSE_OK);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return t;
}

static inline tse *ready_created(const char *stem, tse_create_options *opts, char puk[TSE_PUK_LEN + 1],
                                 char **path_out)
{
    return ready_created_valid_for(stem, opts, 0, puk, path_out);
}

/* ready_created_valid_for, then the lifecycle up to a registered client. */
static inline tse *ready_tse_valid_for(const char *stem, tse_create_options *opts, int64_t validity_seconds,
                                       char **path_out)
{
    char puk[TSE_PUK_LEN + 1];
    tse *t = ready_created_valid_for(stem, opts, validity_seconds, puk, path_out);
    assert_int_equal(tse_set_admin_pin(t, puk, READY_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_initialize(t, "OpenTSE test"), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    assert_int_equal(tse_register_client(t, READY_CLIENT), TSE_OK);
    return t;
}

static inline tse *ready_tse(const char *stem, tse_create_options *opts, char **path_out)
{
    return ready_tse_valid_for(stem, opts, 0, path_out);
}

#endif

#include <string.h>

#include "codec/logmsg.h"
#include "csp/csp.h"

/* The stored log `counter` of t, parsed into *m; its bytes (free with
 * tse_free), which *m points into. */
static inline uint8_t *ready_log(tse *t, uint64_t counter, logmsg *m)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, counter, &msg, &len), TSE_OK);
    tse_error err = {0};
    if (!logmsg_parse(msg, len, m, &err))
        fail_msg("log %llu: %s", (unsigned long long)counter, err.message);
    return msg;
}

/* Reads every log 1..counter, checks counter order and each signature with
 * the TSE's public key; returns the number of logs. */
static inline uint64_t ready_check_all_logs(tse *t)
{
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    uint8_t *point = NULL;
    size_t point_len = 0;
    assert_int_equal(tse_public_key(t, &point, &point_len), TSE_OK);
    EVP_PKEY *pub = csp_pubkey_from_point(info.curve, point, point_len);
    assert_non_null(pub);
    for (uint64_t c = 1; c <= info.signature_counter; c++) {
        logmsg m;
        uint8_t *msg = ready_log(t, c, &m);
        assert_int_equal(m.signature_counter, c);
        assert_int_equal(m.serial_number.n, 32);
        assert_memory_equal(m.serial_number.p, info.serial_number, 32);
        assert_int_equal(csp_verify(pub, info.hash, m.signed_bytes.p, m.signed_bytes.n, m.signature.p,
                                    m.signature.n, NULL), 0);
        tse_free(msg);
    }
    EVP_PKEY_free(pub);
    tse_free(point);
    return info.signature_counter;
}

/* The operation name of log `counter` into out. */
static inline void ready_log_operation(tse *t, uint64_t counter, char *out, size_t cap)
{
    uint8_t *msg = NULL;
    size_t len = 0;
    assert_int_equal(tse_read_log_by_counter(t, counter, &msg, &len), TSE_OK);
    logmsg m;
    tse_error err = {0};
    assert_true(logmsg_parse(msg, len, &m, &err));
    snprintf(out, cap, "%.*s", (int)m.operation.n, (const char *)m.operation.p);
    tse_free(msg);
}

/* From a created TSE (state CREATED, its PUK) every operation that writes
 * a log, once (a wrong PUK and PIN first): unblock, authenticate,
 * initialize, updateTime, two clients, a transaction with a signed update
 * and additional data, one without processType or data, deregistering. The
 * admin stays logged in. */
static inline void ready_every_operation(tse *t, const char *puk)
{
    tse_result r;
    assert_int_equal(tse_set_admin_pin(t, "1111111111", READY_PIN), TSE_ERR_UNBLOCK_FAILED);
    assert_int_equal(tse_set_admin_pin(t, puk, READY_PIN), TSE_OK);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, "999999", NULL, NULL), TSE_ERR_AUTHENTICATION_FAILED);
    assert_int_equal(tse_authenticate_user(t, TSE_USER_ADMIN, READY_PIN, NULL, NULL), TSE_OK);
    assert_int_equal(tse_initialize(t, "OpenTSE openssl check"), TSE_OK);
    assert_int_equal(tse_update_time(t, (int64_t)time(NULL)), TSE_OK);
    assert_int_equal(tse_register_client(t, READY_CLIENT), TSE_OK);
    assert_int_equal(tse_register_client(t, "Kasse 2 (Bar)"), TSE_OK);
    const uint8_t pd[] = "Beleg^75.33_7.99_0.00_0.00_0.00^10.00:Bar_5.00:Bar:CHF_5.00:Bar:USD_64.30:Unbar";
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &r), TSE_OK);
    assert_int_equal(tse_update_transaction(t, READY_CLIENT, r.transaction_number, (const uint8_t *)"1;\"Bier\";3.50",
                                            14, "Bestellung-V1", TSE_UPDATE_SIGNED, &r), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, r.transaction_number, pd, sizeof pd - 1,
                                            "Kassenbeleg-V1", (const uint8_t *)"ext", 3, &r), TSE_OK);
    assert_int_equal(tse_start_transaction(t, "Kasse 2 (Bar)", NULL, 0, NULL, NULL, 0, &r), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, "Kasse 2 (Bar)", r.transaction_number, NULL, 0, NULL, NULL, 0, &r),
                     TSE_OK);
    assert_int_equal(tse_deregister_client(t, "Kasse 2 (Bar)"), TSE_OK);
}
