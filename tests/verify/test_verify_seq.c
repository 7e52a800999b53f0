/*
 * test_verify_seq.c - the checks across logs and certificates, on archives
 * forged here with real keys and signatures (csp/, the built-in CA): each
 * archive differs from a clean one by one thing (time going back, a second
 * Start, an Update after the Finish, a missing Start, transaction numbers
 * out of order, a gap of several counters, a reused counter, an open
 * transaction, an expired certificate, a foreign root, two TSEs in one
 * archive), and the verifier must name exactly that. A brainpoolP384r1 TSE
 * whose certificate (made by the `openssl` command line) carries explicit
 * curve parameters, as some deployed TSEs' do, verifies; so does one whose
 * certificate OpenSSL's X.509 decoder refuses (an empty serial number).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "helpers.h"
#include "verify/verify.h"

/* A signing key and its chain (TSE certificate, root) as DER. */
typedef struct forge_tse {
    csp_key *key;
    uint8_t serial[32];
    csp_cert *certs;
    size_t n_certs;
} forge_tse;

static void tse_new(forge_tse *t, int64_t validity)
{
    uint8_t point[200];
    size_t point_len;
    char *pem;
    assert_int_equal(csp_key_generate(TSE_CURVE_P256, &t->key, NULL), 0);
    assert_int_equal(csp_key_public(t->key, point, sizeof point, &point_len, NULL), 0);
    csp_serial(point, point_len, t->serial);
    assert_int_equal(csp_ca_issue(t->key, "forged TSE", validity, &pem, NULL), 0);
    assert_int_equal(csp_chain_split(pem, &t->certs, &t->n_certs, NULL), 0);
    assert_int_equal(t->n_certs, 2);
    free(pem);
}

static void tse_free_(forge_tse *t)
{
    csp_key_free(t->key);
    csp_certs_free(t->certs, t->n_certs);
}

/* One log to forge. op: 'S' 'U' 'F' transaction, 'T' updateTime, 'Y' selfTest. */
typedef struct flog {
    char op;
    uint64_t txno;
    uint64_t counter;
    int64_t dt;            /* log time: now + dt */
    const char *client;    /* NULL: "KASSE-01" */
    const forge_tse *tse;  /* NULL: the archive's first TSE */
} flog;

static void put(struct archive *a, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    assert_non_null(e);
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
}

/* A new archive `file` in the temp dir, info.csv first. */
static struct archive *tar_new(const char *file, char **path)
{
    static const char info[] = "\"description:\",\"forged\",\"manufacturer:\",\"OpenTSE\",\"version:\",\"0\"\n";
    *path = th_path(file);
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, *path), ARCHIVE_OK);
    put(a, "info.csv", info, sizeof info - 1);
    return a;
}

/* Closes the archive, verifies it (it must read completely) and frees path. */
static void tar_close(struct archive *a)
{
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* The same verification with the per-log records spilled to a temporary
 * file every `spill` records (spill.c's merge) finds exactly the same. */
static void same_when_spilled(const char *path, const verify_result *r, size_t spill, int64_t now)
{
    verify_options o = {.spill_records = spill, .now = now};
    verify_result s;
    assert_int_equal(verify_archive(path, &o, &s), 0);
    assert_int_equal(s.n_findings, r->n_findings);
    for (size_t i = 0; i < r->n_findings; i++) {
        assert_string_equal(s.findings[i].code, r->findings[i].code);
        assert_string_equal(s.findings[i].message, r->findings[i].message);
    }
    assert_int_equal(s.n_gaps, r->n_gaps);
    assert_int_equal(s.n_marks, r->n_marks);
    assert_int_equal(s.counts.transactions, r->counts.transactions);
    assert_int_equal(s.counts.open_transactions, r->counts.open_transactions);
    for (size_t i = 0; i < r->n_tses; i++) {
        assert_int_equal(s.tses[i].first_counter, r->tses[i].first_counter);
        assert_int_equal(s.tses[i].last_counter, r->tses[i].last_counter);
    }
    verify_result_free(&s);
}

static verify_result tar_verify(struct archive *a, char *path)
{
    tar_close(a);
    verify_result r;
    /* one time of the check for both (messages name it) */
    verify_options o = {.now = (int64_t)time(NULL)};
    assert_int_equal(verify_archive(path, &o, &r), 0);
    same_when_spilled(path, &r, 2, o.now);
    free(path);
    return r;
}

/* "<serial hex>_X509.<ext>" of a key serial. */
static void cert_name(const uint8_t serial[32], const char *ext, char out[80])
{
    for (int k = 0; k < 32; k++)
        snprintf(out + 2 * k, 3, "%02x", serial[k]);
    snprintf(out + 64, 16, "_X509.%s", ext);
}

static void put_chain(struct archive *a, const forge_tse *t, size_t skip_root)
{
    for (size_t i = 0; i + skip_root < t->n_certs; i++) {
        char name[80];
        cert_name(t->certs[i].key_serial, "der", name);
        put(a, name, t->certs[i].der, t->certs[i].der_len);
    }
}

/* The log format forged logs are written in (2 or 3); -1: 2 and 3 by turns. */
static int forge_version = 2;
static size_t forged;

static void put_log(struct archive *a, const forge_tse *t, const flog *l, int64_t now)
{
    static const char pd[] = "Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar";
    bool tx = l->op == 'S' || l->op == 'U' || l->op == 'F';
    int version = forge_version > 0 ? forge_version : 2 + (int)(forged++ % 2);
    logmsg_tx_op op = l->op == 'S' ? LOGMSG_TX_START : l->op == 'U' ? LOGMSG_TX_UPDATE : LOGMSG_TX_FINISH;
    /* version 3 system logs carry their event's data */
    uint8_t ev[256];
    der_w evw = der_w_init(ev, sizeof ev);
    const logmsg_self_test_result ok[] = {{"SMA", true, NULL}};
    if (version == 3 && !tx)
        assert_true(l->op == 'T' ? logmsg_event_update_time(&evw, LOGMSG_TIME_UNIX, now + l->dt - 60, now + l->dt)
                                 : logmsg_event_self_test(&evw, ok, 1));
    logmsg_fields f = {
        .kind = tx ? LOGMSG_TRANSACTION : LOGMSG_SYSTEM,
        .version = version,
        .event_origin = version == 3 && !tx ? "SMA" : NULL,
        .event_data = {ev, version == 3 && !tx ? evw.len : 0},
        .operation = tx ? logmsg_tx_operation(version, op) : l->op == 'T' ? "updateTime" : "selfTest",
        .client_id = l->client ? l->client : "KASSE-01",
        .process_data = {(const uint8_t *)pd, l->op == 'S' ? 0 : sizeof pd - 1},
        .process_type = tx ? "Kassenbeleg-V1" : NULL,
        .transaction_number = l->txno,
        .serial_number = t->serial,
        .signature_algorithm_oid = csp_sigalg_oid(TSE_HASH_SHA256),
        .signature_counter = l->counter,
        .time_format = LOGMSG_TIME_UNIX,
        .log_time = now + l->dt,
    };
    uint8_t tbs[1024], sig[132], msg[1300];
    size_t sig_len;
    char name[256];
    der_w w = der_w_init(tbs, sizeof tbs);
    assert_true(logmsg_encode_tbs(&w, &f));
    assert_true(der_w_ok(&w));
    assert_int_equal(csp_sign(t->key, TSE_HASH_SHA256, tbs, w.len, sig, sizeof sig, &sig_len, NULL), 0);
    der_w m = der_w_init(msg, sizeof msg);
    logmsg_encode(&m, tbs, w.len, sig, sig_len);
    assert_true(der_w_ok(&m));
    assert_true(logmsg_filename_fields(&f, 0, name, sizeof name));
    put(a, name, msg, m.len);
}

/* Writes an archive of `logs` (info.csv and each TSE's chain first),
 * verifies it and returns the result (free it). */
static verify_result forge(const char *file, const forge_tse *const *tses, size_t n_tses,
                           const flog *logs, size_t n)
{
    char *path;
    struct archive *a = tar_new(file, &path);
    for (size_t i = 0; i < n_tses; i++)
        put_chain(a, tses[i], 0);
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++)
        put_log(a, logs[i].tse ? logs[i].tse : tses[0], &logs[i], now);
    return tar_verify(a, path);
}

static forge_tse tse_a, tse_b, tse_expired;

static int setup(void **state)
{
    (void)state;
    tse_new(&tse_a, 3600L * 24 * 365);
    tse_new(&tse_b, 3600L * 24 * 365);
    tse_new(&tse_expired, -3600);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tse_free_(&tse_a);
    tse_free_(&tse_b);
    tse_free_(&tse_expired);
    return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void show(const verify_result *r)
{
    for (size_t i = 0; i < r->n_findings; i++)
        print_message("    %s %s: %s\n", verify_severity_name(r->findings[i].severity),
                      r->findings[i].code, r->findings[i].message);
}

/* Exactly `errors` errors and `warnings` warnings, `code` among them. */
static void expect(const verify_result *r, size_t errors, size_t warnings, const char *code)
{
    if (r->errors != errors || r->warnings != warnings || (code && !verify_count(r, code))) {
        show(r);
        fail_msg("expected %zu errors, %zu warnings, %s; got %zu, %zu", errors, warnings,
                 code ? code : "-", r->errors, r->warnings);
    }
}

static bool has_message(const verify_result *r, const char *code, const char *text)
{
    for (size_t i = 0; i < r->n_findings; i++)
        /* case aside: operation names are "FinishTransaction" in format 2,
         * "finishTransaction" in format 3 */
        if (!strcmp(r->findings[i].code, code) && strcasestr(r->findings[i].message, text))
            return true;
    return false;
}

static const forge_tse *only_a[] = {&tse_a};

static void test_clean(void **state)
{
    (void)state;
    const flog logs[] = {
        {'Y', 0, 1, 0}, {'S', 1, 2, 1}, {'U', 1, 3, 2}, {'S', 2, 4, 2}, {'F', 1, 5, 3},
        {'U', 2, 6, 3}, {'T', 0, 7, 4}, {'F', 2, 8, 4},
    };
    verify_result r = forge("clean.tar", only_a, 1, logs, N(logs));
    expect(&r, 0, 0, NULL);
    assert_int_equal(r.counts.signatures_valid, 8);
    assert_int_equal(r.counts.transactions, 2);
    assert_int_equal(r.counts.open_transactions, 0);
    assert_int_equal(r.counts.system_logs, 2);
    assert_int_equal(r.tses[0].first_counter, 1);
    assert_int_equal(r.tses[0].last_counter, 8);
    verify_result_free(&r);
}

static void test_time(void **state)
{
    (void)state;
    const flog back[] = {{'S', 1, 1, 10}, {'F', 1, 2, 5}};
    verify_result r = forge("time-back.tar", only_a, 1, back, N(back));
    expect(&r, 0, 1, "time-order");
    assert_int_equal(verify_verdict_of(&r), VERIFY_INCOMPLETE);
    verify_result_free(&r);
    /* After updateTime the clock may have been set back: a warning. */
    const flog set_back[] = {{'S', 1, 1, 10}, {'T', 0, 2, 5}, {'F', 1, 3, 6}};
    r = forge("time-set-back.tar", only_a, 1, set_back, N(set_back));
    expect(&r, 0, 1, "time-set-back");
    /* The HTML report marks it on the timeline, at the updateTime log. */
    char *html = th_path("set-back.html");
    FILE *f = fopen(html, "w");
    assert_non_null(f);
    const verify_result *one[] = {&r};
    assert_int_equal(verify_report_html(one, 1, f), 0);
    assert_int_equal(fclose(f), 0);
    size_t len;
    char *page = (char *)th_read_file(html, &len);
    assert_non_null(page);
    assert_non_null(strstr(page, "<polygon class=\"set-back\" data-counter=\"2\""));
    assert_non_null(strstr(page, "data-verdict=\"3\">Verdict 3: intact but incomplete or implausible"));
    assert_null(strstr(page, "class=\"gap\""));
    free(page);
    free(html);
    verify_result_free(&r);
}

static void test_transactions(void **state)
{
    (void)state;
    const flog two_starts[] = {{'S', 1, 1, 0}, {'S', 1, 2, 0}, {'F', 1, 3, 0}};
    verify_result r = forge("two-starts.tar", only_a, 1, two_starts, N(two_starts));
    expect(&r, 0, 1, "transaction-order");
    verify_result_free(&r);

    const flog after_finish[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0}, {'U', 1, 3, 0}};
    r = forge("after-finish.tar", only_a, 1, after_finish, N(after_finish));
    expect(&r, 0, 1, "transaction-order");
    verify_result_free(&r);

    /* A transaction without Start: incomplete (verdict 3), also in an
     * export that begins later, where its Start may precede it. */
    const flog no_start[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0}, {'F', 2, 3, 0}};
    r = forge("no-start.tar", only_a, 1, no_start, N(no_start));
    expect(&r, 0, 1, "transaction-no-start");
    assert_true(has_message(&r, "transaction-no-start", "transaction 2 begins with Finish (counter 3)"));
    verify_result_free(&r);
    const flog filtered[] = {{'U', 7, 40, 0}, {'F', 7, 41, 0}, {'S', 8, 42, 0}, {'F', 8, 43, 0}};
    r = forge("filtered.tar", only_a, 1, filtered, N(filtered));
    expect(&r, 0, 1, "transaction-no-start");
    assert_int_equal(verify_count(&r, "counter-start"), 1);
    verify_result_free(&r);

    /* Concurrent Starts whose numbers and counters cross (D-Trust's cloud
     * TSE): intact and complete, with a note. */
    const flog numbers[] = {{'S', 2, 1, 0}, {'S', 1, 2, 0}, {'F', 2, 3, 0}, {'F', 1, 4, 0},
                            {'S', 4, 5, 1}, {'S', 3, 6, 1}, {'F', 3, 7, 1}, {'F', 4, 8, 2}};
    r = forge("numbers.tar", only_a, 1, numbers, N(numbers));
    expect(&r, 0, 0, "transaction-number-order");
    assert_int_equal(verify_count(&r, "transaction-number-order"), 2);
    assert_int_equal(r.notes, 4);   /* and chain-not-anchored, revocation-unchecked */
    assert_int_equal(verify_verdict_of(&r), VERIFY_INTACT);
    assert_true(has_message(&r, "transaction-number-order",
                            "transaction 2 started (counter 1) before a lower-numbered one (counter 2)"));
    assert_true(has_message(&r, "transaction-number-order",
                            "transaction 4 started (counter 5) before a lower-numbered one (counter 6)"));
    verify_result_free(&r);

    /* Plausibility (TR-03153-1 10.3): a transaction number skipped while
     * the counters run on, and log times after the check. */
    const flog skipped[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0}, {'S', 3, 3, 0}, {'F', 3, 4, 0}};
    r = forge("number-gap.tar", only_a, 1, skipped, N(skipped));
    expect(&r, 0, 1, "transaction-number-gap");
    assert_true(has_message(&r, "transaction-number-gap", "no log of transaction 2, between transactions 1 and 3"));
    verify_result_free(&r);
    const flog future[] = {{'S', 1, 1, 0}, {'F', 1, 2, 7200}};
    r = forge("future.tar", only_a, 1, future, N(future));
    expect(&r, 0, 1, "time-in-future");
    verify_result_free(&r);

    const flog open[] = {{'S', 1, 1, 0}, {'S', 2, 2, 0}, {'F', 2, 3, 0}};
    r = forge("open.tar", only_a, 1, open, N(open));
    expect(&r, 0, 0, "transaction-open");
    assert_true(has_message(&r, "transaction-open", "transaction 1 (client \"KASSE-01\", started at counter 1)"));
    assert_int_equal(r.counts.open_transactions, 1);
    verify_result_free(&r);

    const flog client[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0, "KASSE-02"}};
    r = forge("client.tar", only_a, 1, client, N(client));
    expect(&r, 0, 0, "transaction-client");
    verify_result_free(&r);
}

static void test_counters(void **state)
{
    (void)state;
    const flog gap[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0}, {'S', 2, 6, 0}, {'F', 2, 7, 0}};
    verify_result r = forge("gap.tar", only_a, 1, gap, N(gap));
    expect(&r, 0, 1, "counter-gap");
    assert_int_equal(verify_verdict_of(&r), VERIFY_INCOMPLETE);
    assert_true(has_message(&r, "counter-gap",
                            "counters 3..5 are missing (3 logs), between counter 2 (FinishTransaction "
                            "of transaction 1, client \"KASSE-01\", "));
    assert_true(has_message(&r, "counter-gap", "and counter 6 (StartTransaction of transaction 2"));
    assert_int_equal(r.n_gaps, 1);
    assert_int_equal(r.gaps[0].first, 3);
    assert_int_equal(r.gaps[0].last, 5);
    assert_int_equal(r.gaps[0].before.counter, 2);
    assert_int_equal(strcasecmp(r.gaps[0].before.operation, "FinishTransaction"), 0);
    assert_int_equal(r.gaps[0].before.transaction, 1);
    assert_int_equal(r.gaps[0].after.counter, 6);
    assert_int_equal(strcasecmp(r.gaps[0].after.operation, "StartTransaction"), 0);
    assert_string_equal(r.gaps[0].after.client, "KASSE-01");
    verify_result_free(&r);

    /* Five ranges missing, one of them next to a system log (a hardware
     * TSE's export): each listed exactly, the verdict still 3. */
    const flog gaps[] = {{'Y', 0, 1, 0}, {'S', 1, 3, 0}, {'F', 1, 4, 0}, {'T', 0, 9, 0},
                         {'S', 2, 10, 0}, {'F', 2, 12, 0}, {'S', 3, 20, 0}, {'F', 3, 21, 0},
                         {'Y', 0, 23, 0}};
    r = forge("gaps.tar", only_a, 1, gaps, N(gaps));
    expect(&r, 0, 5, "counter-gap");
    assert_int_equal(r.n_gaps, 5);
    static const uint64_t want[5][2] = {{2, 2}, {5, 8}, {11, 11}, {13, 19}, {22, 22}};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(r.gaps[i].first, want[i][0]);
        assert_int_equal(r.gaps[i].last, want[i][1]);
    }
    assert_true(has_message(&r, "counter-gap", "counter 2 is missing, between counter 1 (system log selfTest, "));
    assert_true(has_message(&r, "counter-gap", "and counter 9 (system log updateTime, "));
    assert_string_equal(r.gaps[1].after.kind, "system");
    assert_null(r.gaps[1].after.client);
    verify_result_free(&r);

    /* The same counter signed twice (different content, so two files). */
    const flog dup[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0}, {'S', 2, 2, 0}, {'F', 2, 3, 0}};
    r = forge("dup.tar", only_a, 1, dup, N(dup));
    expect(&r, 1, 0, "counter-duplicate");
    assert_int_equal(verify_verdict_of(&r), VERIFY_BROKEN);
    assert_true(has_message(&r, "counter-duplicate", "counter 2 appears in more than one log, with different content"));
    verify_result_free(&r);

    /* Two TSEs in one archive: each has its own counters. */
    const forge_tse *both[] = {&tse_a, &tse_b};
    const flog two[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0}, {'S', 1, 1, 0, NULL, &tse_b},
                        {'F', 1, 2, 0, NULL, &tse_b}};
    r = forge("two-tses.tar", both, 2, two, N(two));
    expect(&r, 0, 0, NULL);
    assert_int_equal(r.counts.tses, 2);
    assert_int_equal(r.counts.signatures_valid, 4);
    verify_result_free(&r);
}

static void test_certificates(void **state)
{
    (void)state;
    const forge_tse *expired[] = {&tse_expired};
    const flog logs[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0}};
    verify_result r = forge("expired.tar", expired, 1, logs, N(logs));
    expect(&r, 1, 0, "certificate-not-valid-at-log-time");
    assert_int_equal(r.counts.signatures_valid, 2);
    verify_result_free(&r);

    /* Logs of a TSE whose certificate is not in the archive. */
    const flog foreign[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0, NULL, &tse_b}, {'F', 1, 2, 0}};
    r = forge("foreign.tar", only_a, 1, foreign, N(foreign));
    assert_int_equal(verify_count(&r, "certificate-missing"), 1);
    assert_int_equal(r.counts.signatures_valid, 2);
    verify_result_free(&r);

    /* TSE a's root replaced by TSE b's (same name, another key). */
    char *path, name[80];
    struct archive *a = tar_new("foreign-root.tar", &path);
    put_chain(a, &tse_a, 1);
    cert_name(tse_b.certs[1].key_serial, "der", name);
    put(a, name, tse_b.certs[1].der, tse_b.certs[1].der_len);
    int64_t now = (int64_t)time(NULL);
    put_log(a, &tse_a, &logs[0], now);
    put_log(a, &tse_a, &logs[1], now);
    r = tar_verify(a, path);
    /* Its key identifiers do not match: the real issuer is missing. */
    assert_int_equal(verify_count(&r, "chain-incomplete"), 1);
    assert_int_equal(verify_verdict_of(&r), VERIFY_BROKEN);
    assert_int_equal(verify_count(&r, "certificate-unused"), 1);
    assert_int_equal(r.counts.signatures_valid, 2);
    verify_result_free(&r);
}

/* Signs `tbs` with `md` by `priv` (any EC key) as plain r||s of `half`-byte
 * halves; returns the length. */
static size_t sign_plain(EVP_PKEY *priv, const EVP_MD *md, int half, const uint8_t *tbs, size_t len,
                         uint8_t *out)
{
    uint8_t der[160];
    size_t der_len = sizeof der;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    assert_non_null(m);
    assert_int_equal(EVP_DigestSignInit(m, NULL, md, NULL, priv), 1);
    assert_int_equal(EVP_DigestSign(m, der, &der_len, tbs, len), 1);
    EVP_MD_CTX_free(m);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    assert_non_null(es);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), out, half), half);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), out + half, half), half);
    ECDSA_SIG_free(es);
    return 2 * (size_t)half;
}

/* Signs the log of `fl` with `priv` and puts it under its name. */
static void put_signed(struct archive *a, EVP_PKEY *priv, const EVP_MD *md, int half,
                       const logmsg_fields *fl)
{
    uint8_t tbs[512], sig[160], msg[700];
    char name[256];
    der_w w = der_w_init(tbs, sizeof tbs);
    assert_true(logmsg_encode_tbs(&w, fl));
    size_t sig_len = sign_plain(priv, md, half, tbs, w.len, sig);
    der_w m = der_w_init(msg, sizeof msg);
    logmsg_encode(&m, tbs, w.len, sig, sig_len);
    assert_true(der_w_ok(&m));
    assert_true(logmsg_filename_fields(fl, 0, name, sizeof name));
    put(a, name, msg, m.len);
}

/* Transaction 1 (Start, counter 1, and Finish, counter 2) of the key
 * `serial` signed by `priv` with `hash` (`half`-byte signature halves). */
static void put_transaction(struct archive *a, EVP_PKEY *priv, tse_hash hash, int half,
                            const uint8_t serial[32], logmsg_time_format fmt, int64_t t)
{
    for (uint64_t c = 1; c <= 2; c++) {
        logmsg_fields fl = {
            .kind = LOGMSG_TRANSACTION,
            .operation = c == 1 ? "StartTransaction" : "FinishTransaction",
            .client_id = "KASSE-01",
            .transaction_number = 1,
            .serial_number = serial,
            .signature_algorithm_oid = csp_sigalg_oid(hash),
            .signature_counter = c,
            .time_format = fmt,
            .log_time = t,
        };
        put_signed(a, priv, hash == TSE_HASH_SHA384 ? EVP_sha384() : EVP_sha256(), half, &fl);
    }
}

static void test_explicit_curve_parameters(void **state)
{
    (void)state;
    char *key = th_path("explicit.key"), *crt = th_path("explicit.pem"), *cmd = NULL;
    assert_int_not_equal(asprintf(&cmd,
                                  "openssl ecparam -name brainpoolP384r1 -param_enc explicit -genkey "
                                  "-noout -out %s && openssl req -new -x509 -key %s -subj /CN=explicit "
                                  "-days 30 -sha384 -out %s 2>/dev/null",
                                  key, key, crt), -1);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    size_t len;
    uint8_t *pem = th_read_file(crt, &len);
    assert_non_null(pem);
    FILE *f = fopen(key, "r");
    assert_non_null(f);
    EVP_PKEY *priv = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(priv);
    uint8_t point[200], serial[32];
    size_t point_len;
    assert_int_equal(csp_pubkey_point(priv, point, sizeof point, &point_len), 0);
    assert_int_equal(point_len, 97);
    csp_serial(point, point_len, serial);

    char *path, name[256];
    struct archive *a = tar_new("explicit.tar", &path);
    for (int k = 0; k < 32; k++)
        snprintf(name + 2 * k, 3, "%02X", serial[k]);   /* upper case, as D-Trust names */
    strcat(name, "_X509.pem");
    put(a, name, pem, len);
    put_transaction(a, priv, TSE_HASH_SHA384, 48, serial, LOGMSG_TIME_UTC, (int64_t)time(NULL));
    verify_result r = tar_verify(a, path);
    expect(&r, 0, 0, NULL);
    assert_int_equal(r.counts.signatures_valid, 2);
    assert_string_equal(r.tses[0].signature_algorithm, "ecdsa-plain-SHA384");
    verify_result_free(&r);
    EVP_PKEY_free(priv);
    free(pem);
    free(key);
    free(crt);
}

/* A self-signed certificate of `priv` that d2i_X509 refuses: the serial
 * number of an OpenSSL-made certificate replaced by an empty INTEGER, the
 * tbsCertificate signed again (ecdsa-with-SHA256). Caller frees. */
static uint8_t *odd_certificate(EVP_PKEY *priv, size_t *len)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    X509_NAME *name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"odd", -1, -1, 0), 1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 30));
    assert_int_equal(X509_set_pubkey(x, priv), 1);
    assert_true(X509_sign(x, priv, EVP_sha256()) > 0);
    uint8_t *der = NULL;
    int n = i2d_X509(x, &der);
    assert_true(n > 0);
    X509_free(x);

    der_r r = der_r_init(der, (size_t)n);
    der_tlv cert, tbs, alg;
    assert_true(der_read(&r, &cert));
    r = der_r_init(cert.content, cert.content_len);
    assert_true(der_read(&r, &tbs));
    assert_true(der_read(&r, &alg));
    der_r t = der_r_init(tbs.content, tbs.content_len);
    der_tlv version, serial;
    assert_true(der_read(&t, &version));
    assert_true(der_read(&t, &serial));
    assert_int_equal(serial.tag, DER_INTEGER);
    size_t rest = tbs.content_len - t.pos;
    uint8_t body[2048], out[2400], sig[160];
    der_w b = der_w_init(body, sizeof body);
    der_put_raw(&b, version.start, version.total_len);
    der_put_tlv(&b, DER_INTEGER, NULL, 0);
    der_put_raw(&b, tbs.content + t.pos, rest);
    der_w tw = der_w_init(out, sizeof out);
    der_put_header(&tw, DER_SEQUENCE, b.len);
    der_put_raw(&tw, body, b.len);
    assert_true(der_w_ok(&tw));
    size_t sig_len = sizeof sig - 1;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    assert_non_null(m);
    sig[0] = 0;   /* BIT STRING: no unused bits */
    assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, priv), 1);
    assert_int_equal(EVP_DigestSign(m, sig + 1, &sig_len, out, tw.len), 1);
    EVP_MD_CTX_free(m);
    uint8_t inner[2400];
    der_w iw = der_w_init(inner, sizeof inner);
    der_put_raw(&iw, out, tw.len);
    der_put_raw(&iw, alg.start, alg.total_len);
    der_put_tlv(&iw, 0x03, sig, sig_len + 1);
    assert_true(der_w_ok(&iw));
    uint8_t *res = malloc(iw.len + 8);
    assert_non_null(res);
    der_w cw = der_w_init(res, iw.len + 8);
    der_put_header(&cw, DER_SEQUENCE, iw.len);
    der_put_raw(&cw, inner, iw.len);
    assert_true(der_w_ok(&cw));
    OPENSSL_free(der);
    *len = cw.len;
    return res;
}

static void test_certificate_openssl_refuses(void **state)
{
    (void)state;
    EVP_PKEY *priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(priv);
    size_t len;
    uint8_t *cert = odd_certificate(priv, &len);
    const unsigned char *p = cert;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    assert_null(x);   /* the point of this test */
    uint8_t point[200], serial[32];
    size_t point_len;
    assert_int_equal(csp_pubkey_point(priv, point, sizeof point, &point_len), 0);
    csp_serial(point, point_len, serial);

    logmsg_fields fl = {
        .kind = LOGMSG_SYSTEM,
        .operation = "selfTest",
        .serial_number = serial,
        .signature_algorithm_oid = csp_sigalg_oid(TSE_HASH_SHA256),
        .signature_counter = 1,
        .time_format = LOGMSG_TIME_UNIX,
        .log_time = (int64_t)time(NULL),
    };
    uint8_t tbs[512], sig[64], msg[700];
    der_w w = der_w_init(tbs, sizeof tbs);
    assert_true(logmsg_encode_tbs(&w, &fl));
    sign_plain(priv, EVP_sha256(), 32, tbs, w.len, sig);
    der_w mw = der_w_init(msg, sizeof msg);
    logmsg_encode(&mw, tbs, w.len, sig, sizeof sig);
    char name[256];
    assert_true(logmsg_filename_fields(&fl, 0, name, sizeof name));

    /* Signature and self-signature check through the DER walk. */
    verify_result r;
    assert_int_equal(verify_log(msg, mw.len, name, cert, len, "odd.der", NULL, &r), 0);
    expect(&r, 0, 0, NULL);
    assert_int_equal(r.counts.signatures_valid, 1);
    verify_result_free(&r);
    char cname[80], *path;
    cert_name(serial, "der", cname);
    struct archive *a = tar_new("odd.tar", &path);
    put(a, cname, cert, len);
    put(a, name, msg, mw.len);
    r = tar_verify(a, path);
    expect(&r, 0, 0, NULL);
    assert_int_equal(r.counts.signatures_valid, 1);
    verify_result_free(&r);

    /* A flipped bit in its self-signature is found without OpenSSL's decoder too. */
    cert[len - 2] ^= 0x01;
    a = tar_new("odd-flipped.tar", &path);
    put(a, cname, cert, len);
    put(a, name, msg, mw.len);
    r = tar_verify(a, path);
    expect(&r, 1, 0, "certificate-signature-invalid");
    verify_result_free(&r);
    free(cert);
    EVP_PKEY_free(priv);
}


/* ------------------------------------------------ roots and CRLs */

/* Verifies `path` with the roots and CRLs given; the result must be read. */
static verify_result verify_with(const char *path, const verify_input *roots, size_t n_roots,
                                 const verify_input *crls, size_t n_crls)
{
    verify_options o = {.roots = roots, .n_roots = n_roots, .crls = crls, .n_crls = n_crls};
    verify_result r;
    assert_int_equal(verify_archive(path, &o, &r), 0);
    return r;
}

static verify_input cert_input(const csp_cert *c, const char *name)
{
    return (verify_input){.data = c->der, .len = c->der_len, .name = name};
}

/* TR-03153-1 10.2.1: the chain anchored in the root given, byte for byte. */
static void test_roots(void **state)
{
    (void)state;
    const flog logs[] = {{'S', 1, 1, 0}, {'F', 1, 2, 0}};
    int64_t now = (int64_t)time(NULL);
    char *full, *noroot;
    struct archive *a = tar_new("anchor.tar", &full);
    put_chain(a, &tse_a, 0);
    put_log(a, &tse_a, &logs[0], now);
    put_log(a, &tse_a, &logs[1], now);
    tar_close(a);
    a = tar_new("anchor-noroot.tar", &noroot);
    put_chain(a, &tse_a, 1);
    put_log(a, &tse_a, &logs[0], now);
    put_log(a, &tse_a, &logs[1], now);
    tar_close(a);
    verify_input root_a = cert_input(&tse_a.certs[1], "root-a.der"),
                 root_b = cert_input(&tse_b.certs[1], "root-b.der");

    /* Without a root: consistent, not anchored, verdict 0 with a note. */
    verify_result r = verify_with(full, NULL, 0, NULL, 0);
    expect(&r, 0, 0, "chain-not-anchored");
    assert_false(r.anchored);
    verify_result_free(&r);

    r = verify_with(full, &root_a, 1, NULL, 0);
    expect(&r, 0, 0, NULL);
    assert_true(r.anchored);
    assert_int_equal(verify_count(&r, "chain-not-anchored"), 0);
    verify_result_free(&r);

    /* A chain to a root that is not the one given: integrity broken. */
    r = verify_with(full, &root_b, 1, NULL, 0);
    expect(&r, 1, 0, "chain-root-mismatch");
    assert_int_equal(verify_verdict_of(&r), VERIFY_BROKEN);
    assert_false(r.anchored);
    assert_true(has_message(&r, "chain-root-mismatch", "which is not the root given (root-b.der)"));
    verify_result_free(&r);
    /* Among several roots, the right one anchors it. */
    verify_input both[] = {root_b, root_a};
    r = verify_with(full, both, 2, NULL, 0);
    expect(&r, 0, 0, NULL);
    assert_true(r.anchored);
    verify_result_free(&r);

    /* The archive leaves out the root: the given one completes the chain. */
    r = verify_with(noroot, &root_a, 1, NULL, 0);
    expect(&r, 0, 0, NULL);
    assert_true(r.anchored);
    verify_result_free(&r);
    r = verify_with(noroot, &root_b, 1, NULL, 0);
    expect(&r, 1, 0, "chain-incomplete");
    assert_false(r.anchored);
    verify_result_free(&r);

    /* A root that is no certificate. */
    verify_input junk = {.data = (const uint8_t *)"junk", .len = 4, .name = "junk.der"};
    char err[160];
    assert_int_equal(verify_input_check(&junk, false, err, sizeof err), -1);
    assert_string_equal(err, "not a DER certificate");
    assert_int_equal(verify_input_check(&root_a, false, err, sizeof err), 0);
    assert_int_equal(verify_input_check(&root_a, true, err, sizeof err), -1);
    r = verify_with(full, &junk, 1, NULL, 0);
    assert_int_equal(verify_count(&r, "root-unreadable"), 1);
    assert_int_equal(verify_verdict_of(&r), VERIFY_BROKEN);
    verify_result_free(&r);
    free(full);
    free(noroot);
}

/* The key serial of the public key of the certificate `pem` (a file). */
static void pem_key_serial(const char *pem, uint8_t serial[32])
{
    FILE *f = fopen(pem, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    uint8_t point[200];
    size_t point_len;
    assert_int_equal(csp_pubkey_point(X509_get0_pubkey(x), point, sizeof point, &point_len), 0);
    csp_serial(point, point_len, serial);
    X509_free(x);
}

static verify_input file_input(const char *dir, const char *file, uint8_t **data)
{
    char path[600];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    assert_non_null(*data = th_read_file(path, &len));
    return (verify_input){.data = *data, .len = len, .name = file};
}

/* An archive of the openssl-made TSE (key tse.key, certificate tse.pem
 * under root.pem) with one transaction signed at now + dt. */
static char *pki_archive(const char *dir, const char *file, int64_t dt)
{
    char path[600], name[80], *out;
    uint8_t tse_serial[32], root_serial[32];
    snprintf(path, sizeof path, "%s/tse.pem", dir);
    pem_key_serial(path, tse_serial);
    snprintf(path, sizeof path, "%s/root.pem", dir);
    pem_key_serial(path, root_serial);
    struct archive *a = tar_new(file, &out);
    uint8_t *pem;
    verify_input in = file_input(dir, "tse.pem", &pem);
    cert_name(tse_serial, "pem", name);
    put(a, name, in.data, in.len);
    free(pem);
    in = file_input(dir, "root.pem", &pem);
    cert_name(root_serial, "pem", name);
    put(a, name, in.data, in.len);
    free(pem);
    snprintf(path, sizeof path, "%s/tse.key", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    EVP_PKEY *priv = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(priv);
    put_transaction(a, priv, TSE_HASH_SHA256, 32, tse_serial, LOGMSG_TIME_UNIX, (int64_t)time(NULL) + dt);
    EVP_PKEY_free(priv);
    tar_close(a);
    return out;
}

/* TR-03153-1 10.2.3 with a PKI made by the openssl command line: a current
 * CRL is used, an old or forged one refused, a revocation counts from its
 * date against the times of the signatures (hybrid model). */
static void test_crls(void **state)
{
    (void)state;
    char *dir = th_path("pki"), *cmd;
    assert_int_not_equal(asprintf(&cmd,
        "rm -rf '%s' && mkdir -p '%s/ca' && cd '%s' && : > ca/index.txt && echo 01 > ca/crlnumber && "
        "printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=ca/index.txt\\ncrlnumber=ca/crlnumber\\n"
        "default_md=sha384\\ndefault_crl_days=7\\n' > ca.cnf && "
        "openssl ecparam -name prime256v1 -genkey -noout -out root.key && "
        "openssl req -new -x509 -key root.key -subj /CN=PKI-Root -days 3650 -sha384 -out root.pem && "
        "openssl ecparam -name prime256v1 -genkey -noout -out tse.key && "
        "openssl req -new -key tse.key -subj /CN=PKI-TSE -out tse.csr && "
        "openssl x509 -req -in tse.csr -CA root.pem -CAkey root.key -set_serial 4660 -days 365 "
        "-sha384 -out tse.pem && "
        "C='openssl ca -config ca.cnf -keyfile root.key -cert root.pem' && "
        "$C -gencrl -out empty.crl && "
        "$C -gencrl -crl_lastupdate 20200101000000Z -crl_nextupdate 20200108000000Z -out old.crl",
        dir, dir, dir), -1);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    /* Logs, then a second later the revocation, a second later more logs. */
    char *before = pki_archive(dir, "pki-before.tar", 0);
    sleep(1);
    assert_int_not_equal(asprintf(&cmd,
        "cd '%s' && C='openssl ca -config ca.cnf -keyfile root.key -cert root.pem' && "
        "$C -revoke tse.pem 2>/dev/null && $C -gencrl -out revoked.crl 2>/dev/null && "
        "openssl crl -in revoked.crl -outform DER -out revoked.der", dir), -1);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    sleep(1);
    char *after = pki_archive(dir, "pki-after.tar", 0);
    uint8_t *root_pem, *empty, *old, *revoked, *der;
    verify_input root = file_input(dir, "root.pem", &root_pem);
    verify_input crl_empty = file_input(dir, "empty.crl", &empty),
                 crl_old = file_input(dir, "old.crl", &old),
                 crl_revoked = file_input(dir, "revoked.crl", &revoked),
                 crl_forged = file_input(dir, "revoked.der", &der);
    der[crl_forged.len - 1] ^= 0x01;   /* the last byte of the signature */

    verify_result r = verify_with(after, &root, 1, &crl_empty, 1);
    expect(&r, 0, 0, NULL);
    assert_true(r.anchored);
    assert_true(r.revocation_checked);
    assert_int_equal(verify_count(&r, "revocation-unchecked"), 0);
    verify_result_free(&r);

    /* Issued in 2020: older than the 24 hours TR-03153-1 10.1 allows. */
    r = verify_with(after, &root, 1, &crl_old, 1);
    expect(&r, 0, 1, "crl-too-old");
    assert_true(has_message(&r, "crl-too-old", "issued 2020-01-01T00:00:00Z, more than 24 hours"));
    assert_false(r.revocation_checked);
    assert_int_equal(verify_count(&r, "revocation-unchecked"), 1);
    verify_result_free(&r);

    r = verify_with(after, &root, 1, &crl_forged, 1);
    expect(&r, 0, 1, "crl-signature-invalid");
    assert_false(r.revocation_checked);
    verify_result_free(&r);

    /* Revoked after the logs were signed: they stay valid. */
    r = verify_with(before, &root, 1, &crl_revoked, 1);
    expect(&r, 0, 0, "certificate-revoked-later");
    assert_true(r.revocation_checked);
    verify_result_free(&r);
    /* Logs signed after the revocation: integrity broken. */
    r = verify_with(after, &root, 1, &crl_revoked, 1);
    expect(&r, 1, 0, "certificate-revoked");
    assert_int_equal(verify_verdict_of(&r), VERIFY_BROKEN);
    verify_result_free(&r);

    /* A CRL that is not one, and no CRL at all. */
    char err[160];
    assert_int_equal(verify_input_check(&root, true, err, sizeof err), -1);
    assert_int_equal(verify_input_check(&crl_revoked, true, err, sizeof err), 0);
    r = verify_with(after, &root, 1, &root, 1);
    expect(&r, 0, 1, "crl-unreadable");
    verify_result_free(&r);
    r = verify_with(after, &root, 1, NULL, 0);
    expect(&r, 0, 0, "revocation-unchecked");
    assert_false(r.revocation_checked);
    verify_result_free(&r);

    free(root_pem);
    free(empty);
    free(old);
    free(revoked);
    free(der);
    free(before);
    free(after);
    free(dir);
}

/* Many more records than the spill holds: runs merged in several rounds
 * (more than the merge's fan-in), the findings as in memory. */
static void test_spilled(void **state)
{
    (void)state;
    flog logs[300];
    size_t n = 0;
    for (uint64_t t = 1; t <= 150; t++) {
        if (t == 40)
            continue;   /* counters 79, 80 and number 40 missing */
        logs[n++] = (flog){'S', t, 2 * t - 1, (int64_t)t};
        if (t != 77)    /* transaction 77 stays open */
            logs[n++] = (flog){'F', t, 2 * t, (int64_t)t};
    }
    verify_result r = forge("spilled.tar", only_a, 1, logs, n);
    expect(&r, 0, 3, "counter-gap");
    assert_int_equal(r.n_gaps, 2);
    assert_int_equal(r.gaps[0].first, 79);
    assert_int_equal(r.gaps[0].last, 80);
    assert_int_equal(r.gaps[1].first, 154);
    assert_int_equal(r.gaps[1].last, 154);
    assert_int_equal(verify_count(&r, "transaction-number-gap"), 1);
    assert_int_equal(r.counts.open_transactions, 1);
    assert_int_equal(r.counts.transactions, 149);
    char *path = th_path("spilled.tar");
    same_when_spilled(path, &r, 1, 0);
    same_when_spilled(path, &r, 3, 0);
    /* No temporary file can be made: the records stay in memory, the
     * findings are the same and a note says why. */
    const char *tmp = getenv("TMPDIR");
    char *saved = tmp ? strdup(tmp) : NULL;
    setenv("TMPDIR", "/nonexistent/dir", 1);
    verify_options o = {.spill_records = 2};
    verify_result m;
    assert_int_equal(verify_archive(path, &o, &m), 0);
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    assert_int_equal(m.n_findings, r.n_findings + 1);
    assert_int_equal(m.errors, r.errors);
    assert_int_equal(m.warnings, r.warnings);
    assert_true(has_message(&m, "verify-in-memory",
                            "no temporary file could be made in /nonexistent/dir (No such file or directory): "
                            "the records of the 297 logs were kept in memory"));
    verify_result_free(&m);
    free(path);
    verify_result_free(&r);
}

/* The same archives in log format 3, and with formats 2 and 3 by turns in
 * one archive: the same findings (the scenario tests run again). */
static void test_format3(void **state)
{
    void (*const scenarios[])(void **) = {test_clean, test_time, test_transactions, test_counters,
                                          test_certificates, test_spilled, test_roots};
    for (int v = 3; v >= -1; v -= 4) {
        forge_version = v;
        for (size_t i = 0; i < N(scenarios); i++)
            scenarios[i](state);
    }
    forge_version = 2;
    /* the archives are of that format: counted so */
    const flog logs[] = {{'Y', 0, 1, 0}, {'S', 1, 2, 0}, {'F', 1, 3, 0}, {'T', 0, 4, 0}};
    forge_version = 3;
    verify_result r = forge("format3.tar", only_a, 1, logs, N(logs));
    expect(&r, 0, 0, NULL);
    assert_int_equal(r.counts.format3_logs, 4);
    assert_int_equal(r.counts.format2_logs, 0);
    verify_result_free(&r);
    forge_version = -1;
    forged = 0;
    r = forge("mixed.tar", only_a, 1, logs, N(logs));
    expect(&r, 0, 0, NULL);
    assert_int_equal(r.counts.format3_logs, 2);
    assert_int_equal(r.counts.format2_logs, 2);
    verify_result_free(&r);
    forge_version = 2;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_spilled),
        cmocka_unit_test(test_format3),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_explicit_curve_parameters),
        cmocka_unit_test(test_certificate_openssl_refuses),
        cmocka_unit_test(test_roots),
        cmocka_unit_test(test_crls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
