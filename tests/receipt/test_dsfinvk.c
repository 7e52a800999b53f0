/*
 * test_dsfinvk.c - DSFinV-K tse.csv and transactions_tse.csv from every
 * vendor export in the fixtures and from our own TSE: the exact columns, one
 * row per Finish log, and every row's signature checked against the archive's
 * log (openssl command line) and as a receipt QR code rebuilt from the two
 * tables; refusals leave no files behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/logmsg.h"
#include "helpers.h"
#include "ready_tse.h"
#include "receipt/dsfinvk.h"
#include "receipt/receipt.h"
#include "rtest.h"

/* The two tables as DSFinV-K 2.4's index.xml declares them (tables
 * TSE_Transaktionen and Stamm_TSE): names in order, AlphaNumeric columns with
 * their MaxLength, Numeric ones without decimals. 'A' text of at most `max`
 * characters, 'N' an integer, 'T' a log time YYYY-MM-DDThh:mm:ss.fffZ,
 * 'L' Z_ERSTELLUNG, ISO 8601 local time YYYY-MM-DDThh:mm:ss. index.xml holds
 * TSE_ZERTIFIKAT_I and _II; further parts (_III ..) only where a certificate
 * needs them. */
typedef struct col24 {
    const char *name;
    char kind;
    size_t max;
} col24;
static const col24 tx_cols[] = {
    {"Z_KASSE_ID", 'A', 50}, {"Z_ERSTELLUNG", 'L', 30}, {"Z_NR", 'N', 0}, {"BON_ID", 'A', 40},
    {"TSE_ID", 'N', 0}, {"TSE_TANR", 'N', 0}, {"TSE_TA_START", 'T', 30}, {"TSE_TA_ENDE", 'T', 30},
    {"TSE_TA_VORGANGSART", 'A', 30}, {"TSE_TA_SIGZ", 'N', 0}, {"TSE_TA_SIG", 'A', 512},
    {"TSE_TA_FEHLER", 'A', 200}, {"TSE_VORGANGSDATEN", 'A', 1000}};
static const col24 tse_cols[] = {
    {"Z_KASSE_ID", 'A', 50}, {"Z_ERSTELLUNG", 'L', 30}, {"Z_NR", 'N', 0}, {"TSE_ID", 'N', 0},
    {"TSE_SERIAL", 'A', 68}, {"TSE_SIG_ALGO", 'A', 21}, {"TSE_ZEITFORMAT", 'A', 31},
    {"TSE_PD_ENCODING", 'A', 5}, {"TSE_PUBLIC_KEY", 'A', 512}, {"TSE_ZERTIFIKAT_I", 'A', 1000},
    {"TSE_ZERTIFIKAT_II", 'A', 1000}};
static const char *const cert_parts[] = {"III", "IV", "V", "VI", "VII"};

/* Characters of UTF-8 text s. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* One cell against its column's declaration. */
static void check_cell(const char *file, size_t row, const col24 *c, const char *v)
{
    size_t n = strlen(v);
    bool ok = utf8_chars(v) <= (c->max ? c->max : 20);
    if (c->kind == 'N')
        ok = ok && n > 0 && strspn(v, "0123456789") == n;
    if (c->kind == 'T' && n) {   /* empty: no Start log in the data */
        int y, mo, d, h, mi, se, ms;
        char z = 0;
        ok = ok && n == 24 && sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &se, &ms, &z) == 8 &&
             z == 'Z';
    }
    if (c->kind == 'L') {
        int y, mo, d, h, mi, se;
        ok = ok && n == 19 && sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) == 6;
    }
    if (!ok)
        fail_msg("%s row %zu: %s \"%s\" is not what DSFinV-K 2.4 declares", file, row + 1, c->name, v);
}

static char *out_dir(const char *name)
{
    return th_path(name);
}

static bool exists(const char *dir, const char *file)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, file) > 0);
    bool e = access(p, F_OK) == 0;
    free(p);
    return e;
}

/* Reads a table and holds it against the 2.4 declaration: the columns by
 * name and order, then (tse.csv) further certificate parts only when the
 * parts before are full, every cell's length and form. */
static csv_table read_table(const char *dir, const char *file, const col24 *cols, size_t n_cols)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, file) > 0);
    csv_table t = csv_read(p);
    free(p);
    assert_true(t.cols >= n_cols);
    for (size_t i = 0; i < n_cols; i++)
        assert_string_equal(t.header[i], cols[i].name);
    for (size_t i = n_cols; i < t.cols; i++) {
        char name[32];
        assert_true(cols == tse_cols && i - n_cols < sizeof cert_parts / sizeof *cert_parts);
        snprintf(name, sizeof name, "TSE_ZERTIFIKAT_%s", cert_parts[i - n_cols]);
        assert_string_equal(t.header[i], name);
        bool needed = false;
        for (size_t r = 0; r < t.rows; r++)
            needed = needed || strlen(t.cell[r][i - 1]) == 1000;
        assert_true(needed);
    }
    for (size_t r = 0; r < t.rows; r++)
        for (size_t i = 0; i < t.cols; i++)
            check_cell(file, r, i < n_cols ? &cols[i] : &cols[n_cols - 1], t.cell[r][i]);
    return t;
}

static uint8_t *unb64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(n + 1);
    assert_non_null(out);
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    assert_true(r >= 0);
    *len = (size_t)r - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=');
    return out;
}

/* Checks the two tables in `dir` against each other: every transaction row
 * rebuilt as a receipt QR code verifies with the key of its tse.csv row.
 * Returns the number of transaction rows. */
static size_t check_tables_verify(const char *dir, csv_table *tx, csv_table *tse)
{
    *tx = read_table(dir, "transactions_tse.csv", tx_cols, sizeof tx_cols / sizeof *tx_cols);
    *tse = read_table(dir, "tse.csv", tse_cols, sizeof tse_cols / sizeof *tse_cols);
    for (size_t r = 0; r < tx->rows; r++) {
        char **row = tx->cell[r];
        const char *tse_id = row[csv_col(tx, "TSE_ID")];
        char **key = NULL;
        for (size_t k = 0; k < tse->rows && !key; k++)
            if (strcmp(tse->cell[k][csv_col(tse, "TSE_ID")], tse_id) == 0)
                key = tse->cell[k];
        assert_non_null(key);
        const char *start = row[csv_col(tx, "TSE_TA_START")];
        char *qr;
        assert_true(asprintf(&qr, "V0;%s;%s;%s;%s;%s;%s;%s;%s;%s;%s;%s", row[csv_col(tx, "Z_KASSE_ID")],
                             row[csv_col(tx, "TSE_TA_VORGANGSART")], row[csv_col(tx, "TSE_VORGANGSDATEN")],
                             row[csv_col(tx, "TSE_TANR")], row[csv_col(tx, "TSE_TA_SIGZ")],
                             *start ? start : row[csv_col(tx, "TSE_TA_ENDE")], row[csv_col(tx, "TSE_TA_ENDE")],
                             key[csv_col(tse, "TSE_SIG_ALGO")], key[csv_col(tse, "TSE_ZEITFORMAT")],
                             row[csv_col(tx, "TSE_TA_SIG")], key[csv_col(tse, "TSE_PUBLIC_KEY")]) > 0);
        tse_error err = {0};
        receipt_qr_check chk;
        if (receipt_qr_verify(qr, &chk, &err) != RECEIPT_QR_VALID)
            fail_msg("%s row %zu: %s\n%s", dir, r, err, qr);
        /* TSE_SERIAL is the SHA-256 of TSE_PUBLIC_KEY */
        char hex[65];
        tse_hex(chk.serial, 32, hex);
        assert_string_equal(hex, key[csv_col(tse, "TSE_SERIAL")]);
        free(qr);
    }
    return tx->rows;
}

/* Every vendor export: rows against the archive's own files. */
static void fixture_exports(void **state)
{
    (void)state;
    static const char *const names[] = {"fiskaly-v2-unixt-a", "fiskaly-v2-unixt-b", "fiskaly-v1-utc", "dtrust-a",
                                        "dtrust-indefinite-length"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "exports/%s.tar", names[i]);
        char *path = th_fixture(rel), *dir = out_dir(names[i]);
        dsfinvk *d = dsfinvk_new();
        tse_error err = {0};
        if (dsfinvk_add_archive(d, path, &err) != 0)
            fail_msg("%s: %s", names[i], err);
        dsfinvk_summary sum;
        assert_int_equal(dsfinvk_write(d, NULL, dir, &sum, &err), 0);
        dsfinvk_free(d);

        th_tar_entry *e;
        size_t n;
        assert_int_equal(th_tar_read(path, &e, &n), 0);
        csv_table tx, tse;
        check_tables_verify(dir, &tx, &tse);
        assert_int_equal(tx.rows, sum.transaction_rows);
        assert_int_equal(tse.rows, sum.tse_rows);
        /* one row per Finish log of the archive, each carrying that log's
         * signature, which openssl verifies with the row's TSE key */
        size_t finishes = 0;
        for (size_t k = 0; k < n; k++) {
            if (!strstr(e[k].name, "_Finish_"))
                continue;
            finishes++;
            logmsg m;
            assert_true(logmsg_parse(e[k].data, e[k].len, &m, &err));
            char ctr[24];
            snprintf(ctr, sizeof ctr, "%llu", (unsigned long long)m.signature_counter);
            char **row = NULL;
            for (size_t r = 0; r < tx.rows && !row; r++)
                if (strcmp(tx.cell[r][csv_col(&tx, "TSE_TA_SIGZ")], ctr) == 0)
                    row = tx.cell[r];
            if (!row)
                fail_msg("%s: no row for %s", names[i], e[k].name);
            size_t sig_len, key_len;
            uint8_t *sig = unb64(row[csv_col(&tx, "TSE_TA_SIG")], &sig_len);
            assert_int_equal(sig_len, m.signature.n);
            assert_memory_equal(sig, m.signature.p, sig_len);
            char num[24];
            snprintf(num, sizeof num, "%llu", (unsigned long long)m.transaction_number);
            assert_string_equal(row[csv_col(&tx, "TSE_TANR")], num);
            /* Z_KASSE_ID defaults to the clientId */
            assert_int_equal(strlen(row[csv_col(&tx, "Z_KASSE_ID")]), m.client_id.n);
            assert_memory_equal(row[csv_col(&tx, "Z_KASSE_ID")], m.client_id.p, m.client_id.n);
            char **key = tse.cell[0];
            for (size_t r = 0; r < tse.rows; r++)
                if (strcmp(tse.cell[r][csv_col(&tse, "TSE_ID")], row[csv_col(&tx, "TSE_ID")]) == 0)
                    key = tse.cell[r];
            uint8_t *point = unb64(key[csv_col(&tse, "TSE_PUBLIC_KEY")], &key_len);
            tse_curve c = key_len == 65 ? TSE_CURVE_P256 : TSE_CURVE_P384;
            assert_int_equal(th_openssl_verify(c, TSE_HASH_DEFAULT, point, key_len, m.signed_bytes.p,
                                               m.signed_bytes.n, sig, sig_len), 0);
            free(sig);
            free(point);
        }
        assert_int_equal(finishes, tx.rows);
        /* algorithm and time format as the vendor's logs carry them; the
         * closing time defaults to the last Finish */
        bool dtrust = strncmp(names[i], "dtrust", 6) == 0, utc = strstr(names[i], "utc") != NULL;
        assert_string_equal(tse.cell[0][csv_col(&tse, "TSE_SIG_ALGO")],
                            dtrust ? "ecdsa-plain-SHA384" : "ecdsa-plain-SHA256");
        assert_string_equal(tse.cell[0][csv_col(&tse, "TSE_ZEITFORMAT")], utc ? "utcTimeWithSeconds" : "unixTime");
        char last[32] = "";
        for (size_t r = 0; r < tx.rows; r++)
            if (strcmp(tx.cell[r][csv_col(&tx, "TSE_TA_ENDE")], last) > 0)
                snprintf(last, sizeof last, "%s", tx.cell[r][csv_col(&tx, "TSE_TA_ENDE")]);
        assert_memory_equal(tx.cell[0][csv_col(&tx, "Z_ERSTELLUNG")], last, 19);
        /* the certificate columns joined are the archive's certificate file */
        for (size_t r = 0; r < tse.rows; r++) {
            char cert[8000] = "";
            for (size_t c = csv_col(&tse, "TSE_ZERTIFIKAT_I"); c < tse.cols; c++) {
                assert_true(strlen(tse.cell[r][c]) <= 1000);
                strcat(cert, tse.cell[r][c]);
            }
            size_t der_len;
            uint8_t *der = unb64(cert, &der_len);
            const char *serial = tse.cell[r][csv_col(&tse, "TSE_SERIAL")];
            bool found = false;
            for (size_t k = 0; k < n && !found; k++) {
                if (strncasecmp(e[k].name, serial, 64) != 0)
                    continue;
                found = true;
                /* DER files match byte for byte; PEM files hold the same base64 */
                if (e[k].data[0] == 0x30) {
                    assert_int_equal(e[k].len, der_len);
                    assert_memory_equal(e[k].data, der, der_len);
                } else {
                    assert_non_null(strstr((char *)e[k].data, "BEGIN CERTIFICATE"));
                }
            }
            assert_true(found);
            free(der);
        }
        csv_free(&tx);
        csv_free(&tse);
        th_tar_free(e, n);
        free(path);
        free(dir);
    }
}

/* Our own TSE read log by log, with the closing's key fields set. */
static void own_tse(void **state)
{
    (void)state;
    tse *t = ready_tse("dsfinvk", NULL, NULL);
    assert_int_equal(tse_register_client(t, "KASSE 02"), TSE_OK);
    tse_error err = {0};
    receipt_item items[] = {{.quantity_milli = 2000, .name = "Eisbecher \"Himbeere\"; gro\xc3\x9f", .unit_price = 399}};
    char *order = receipt_bestellung_build(items, 1, &err);
    receipt_payment pay = {.cents = 798};
    receipt_kassenbeleg kb = {.vorgangstyp = "Beleg", .gross = {0, 798}, .payments = &pay, .n_payments = 1};
    char *beleg = receipt_kassenbeleg_build(&kb, &err);
    tse_result st, fin;
    const struct { const char *client, *type, *pd; bool finish; } txs[] = {
        {READY_CLIENT, "Bestellung-V1", order, true},
        {"KASSE 02", "Kassenbeleg-V1", beleg, true},
        {READY_CLIENT, "Kassenbeleg-V1", "", false},     /* stays open */
        {READY_CLIENT, "SonstigerVorgang", "", true},
    };
    for (size_t i = 0; i < sizeof txs / sizeof *txs; i++) {
        assert_int_equal(tse_start_transaction(t, txs[i].client, NULL, 0, txs[i].type, NULL, 0, &st), TSE_OK);
        if (txs[i].finish)
            assert_int_equal(tse_finish_transaction(t, txs[i].client, st.transaction_number,
                                                    (const uint8_t *)txs[i].pd, strlen(txs[i].pd), txs[i].type,
                                                    NULL, 0, &fin), TSE_OK);
    }
    tse_info info;
    assert_int_equal(tse_get_info(t, &info), TSE_OK);
    dsfinvk *d = dsfinvk_new();
    char *pem;
    assert_int_equal(tse_export_certificates(t, &pem), TSE_OK);
    assert_int_equal(dsfinvk_add_certificate(d, (uint8_t *)pem, strlen(pem), &err), 0);
    tse_free(pem);
    for (uint64_t c = 1; c <= info.signature_counter; c++) {
        uint8_t *msg;
        size_t len;
        assert_int_equal(tse_read_log_by_counter(t, c, &msg, &len), TSE_OK);
        assert_int_equal(dsfinvk_add_log(d, msg, len, &err), 0);
        tse_free(msg);
    }
    char *dir = out_dir("own");
    dsfinvk_summary sum;
    dsfinvk_options o = {.z_nr = 7, .z_erstellung = 1700000000, .first_tse_id = 3};
    assert_int_equal(dsfinvk_write(d, &o, dir, &sum, &err), 0);
    assert_int_equal(sum.transaction_rows, 3);
    assert_int_equal(sum.tse_rows, 2);   /* one per register */
    assert_int_equal(sum.unfinished, 1);
    assert_int_equal(sum.without_start, 0);
    csv_table tx, tse;
    check_tables_verify(dir, &tx, &tse);
    assert_string_equal(tx.cell[0][csv_col(&tx, "TSE_VORGANGSDATEN")], order);
    assert_string_equal(tx.cell[0][csv_col(&tx, "Z_KASSE_ID")], READY_CLIENT);
    assert_string_equal(tx.cell[1][csv_col(&tx, "Z_KASSE_ID")], "KASSE 02");
    assert_string_equal(tx.cell[1][csv_col(&tx, "TSE_VORGANGSDATEN")], beleg);
    assert_string_equal(tx.cell[2][csv_col(&tx, "TSE_TA_VORGANGSART")], "SonstigerVorgang");
    assert_string_equal(tx.cell[0][csv_col(&tx, "Z_ERSTELLUNG")], "2023-11-14T22:13:20");
    assert_string_equal(tx.cell[0][csv_col(&tx, "Z_NR")], "7");
    assert_string_equal(tx.cell[0][csv_col(&tx, "TSE_ID")], "3");
    assert_string_equal(tse.cell[0][csv_col(&tse, "TSE_SIG_ALGO")], info.signature_algorithm);
    assert_string_equal(tse.cell[0][csv_col(&tse, "TSE_ZEITFORMAT")], "unixTime");
    assert_string_equal(tse.cell[0][csv_col(&tse, "TSE_PD_ENCODING")], "UTF-8");
    char serial[65];
    tse_hex(info.serial_number, 32, serial);
    assert_string_equal(tse.cell[1][csv_col(&tse, "TSE_SERIAL")], serial);
    csv_free(&tx);
    csv_free(&tse);

    /* one closing register for all */
    o.kasse_id = "FILIALE-1";
    assert_int_equal(dsfinvk_write(d, &o, dir, &sum, &err), 0);
    assert_int_equal(sum.tse_rows, 1);
    tx = read_table(dir, "transactions_tse.csv", tx_cols, sizeof tx_cols / sizeof *tx_cols);
    for (size_t r = 0; r < tx.rows; r++)
        assert_string_equal(tx.cell[r][0], "FILIALE-1");
    csv_free(&tx);
    dsfinvk_free(d);
    free(dir);
    free(order);
    free(beleg);
    tse_close(t);
}

/* Overlapping exports (here one archive twice) give each row once; two
 * different logs under one counter are refused. */
static void overlapping_exports(void **state)
{
    (void)state;
    char *path = th_fixture("exports/fiskaly-v2-unixt-a.tar"), *dir = out_dir("twice");
    tse_error err = {0};
    dsfinvk_summary once, twice;
    dsfinvk *d = dsfinvk_new();
    assert_int_equal(dsfinvk_add_archive(d, path, &err), 0);
    assert_int_equal(dsfinvk_write(d, NULL, dir, &once, &err), 0);
    assert_int_equal(dsfinvk_add_archive(d, path, &err), 0);
    assert_int_equal(dsfinvk_write(d, NULL, dir, &twice, &err), 0);
    assert_int_equal(twice.transaction_rows, once.transaction_rows);
    assert_int_equal(twice.tse_rows, once.tse_rows);
    assert_int_equal(twice.unfinished, once.unfinished);
    dsfinvk_free(d);

    /* a Finish log with a forged signature under a counter already seen */
    th_tar_entry *e;
    size_t n;
    assert_int_equal(th_tar_read(path, &e, &n), 0);
    d = dsfinvk_new();
    assert_int_equal(dsfinvk_add_archive(d, path, &err), 0);
    for (size_t k = 0; k < n; k++)
        if (strstr(e[k].name, "_Finish_")) {
            e[k].data[e[k].len - 1] ^= 1;   /* last byte of the signature */
            assert_int_equal(dsfinvk_add_log(d, e[k].data, e[k].len, &err), 0);
            break;
        }
    char *dir2 = out_dir("conflict");
    assert_int_equal(dsfinvk_write(d, NULL, dir2, &twice, &err), TSE_ERR_PARAMETER_MISMATCH);
    assert_non_null(strstr(err.message, "two different FinishTransaction logs"));
    assert_false(exists(dir2, "transactions_tse.csv"));
    dsfinvk_free(d);
    th_tar_free(e, n);
    free(dir2);
    free(dir);
    free(path);
}

static void refusals(void **state)
{
    (void)state;
    tse_error err = {0};
    dsfinvk_summary sum;
    char *dir = out_dir("refused");

    /* nothing finished */
    dsfinvk *d = dsfinvk_new();
    assert_int_equal(dsfinvk_write(d, NULL, dir, &sum, &err), TSE_ERR_NO_DATA_AVAILABLE);
    assert_non_null(strstr(err.message, "no FinishTransaction"));
    assert_false(exists(dir, "tse.csv") || exists(dir, "transactions_tse.csv"));

    /* a log without its certificate */
    tse *t = ready_tse("dsfinvk-refused", NULL, NULL);
    tse_result st, fin;
    assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, "Kassenbeleg-V1", NULL, 0, &st), TSE_OK);
    assert_int_equal(tse_finish_transaction(t, READY_CLIENT, st.transaction_number, (const uint8_t *)"x", 1,
                                            "Kassenbeleg-V1", NULL, 0, &fin), TSE_OK);
    uint8_t *msg;
    size_t len;
    assert_int_equal(tse_read_log_by_counter(t, fin.signature_counter, &msg, &len), TSE_OK);
    assert_int_equal(dsfinvk_add_log(d, msg, len, &err), 0);
    assert_int_equal(dsfinvk_write(d, NULL, dir, &sum, &err), TSE_ERR_CERTIFICATE_INVALID);
    assert_non_null(strstr(err.message, "no certificate for the TSE key"));
    assert_false(exists(dir, "tse.csv") || exists(dir, "transactions_tse.csv"));

    /* broken input */
    msg[len / 2] ^= 0xff;
    msg[1] ^= 0x01;
    assert_int_equal(dsfinvk_add_log(d, msg, len, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "not a log message"));
    assert_int_equal(dsfinvk_add_certificate(d, msg, len, &err), TSE_ERR_CERTIFICATE_INVALID);
    tse_free(msg);
    char *pem;
    assert_int_equal(tse_export_certificates(t, &pem), TSE_OK);
    assert_int_equal(dsfinvk_add_certificate(d, (uint8_t *)pem, strlen(pem), &err), 0);
    tse_free(pem);
    dsfinvk_options o = {.kasse_id = "this Z_KASSE_ID is much longer than the fifty characters allowed"};
    assert_int_equal(dsfinvk_write(d, &o, dir, &sum, &err), TSE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "Z_KASSE_ID"));
    /* the output directory is a file */
    char *file = th_path("a-file");
    assert_int_equal(th_write_file(file, "x", 1), 0);
    char *below;
    assert_true(asprintf(&below, "%s/sub", file) > 0);
    assert_int_equal(dsfinvk_write(d, NULL, below, &sum, &err), TSE_ERR_STORAGE_FAILURE);
    assert_int_equal(dsfinvk_write(d, NULL, file, &sum, &err), TSE_ERR_STORAGE_FAILURE);
    /* and then it works */
    assert_int_equal(dsfinvk_write(d, NULL, dir, &sum, &err), 0);
    assert_true(exists(dir, "tse.csv") && exists(dir, "transactions_tse.csv"));
    dsfinvk_free(d);

    /* DSFinV-K 2.4's lengths: a processType longer than TSE_TA_VORGANGSART's
     * 30 characters is refused; processData longer than TSE_VORGANGSDATEN's
     * 1000 is left out of the optional column */
    static const char long_type[] = "Kassenbeleg-V1-and-31-character";
    static char long_data[1002];
    memset(long_data, 'x', sizeof long_data - 1);
    const struct { const char *type, *data; int rc; } lengths[] = {
        {long_type, "x", TSE_ERR_INVALID_ARGUMENT}, {"Kassenbeleg-V1", long_data, 0}};
    char *pem2;
    assert_int_equal(tse_export_certificates(t, &pem2), TSE_OK);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(strlen(long_type), 31);
        assert_int_equal(tse_start_transaction(t, READY_CLIENT, NULL, 0, lengths[i].type, NULL, 0, &st), TSE_OK);
        assert_int_equal(tse_finish_transaction(t, READY_CLIENT, st.transaction_number,
                                                (const uint8_t *)lengths[i].data, strlen(lengths[i].data),
                                                lengths[i].type, NULL, 0, &fin), TSE_OK);
        assert_int_equal(tse_read_log_by_counter(t, fin.signature_counter, &msg, &len), TSE_OK);
        d = dsfinvk_new();
        assert_int_equal(dsfinvk_add_log(d, msg, len, &err), 0);
        assert_int_equal(dsfinvk_add_certificate(d, (uint8_t *)pem2, strlen(pem2), &err), 0);
        tse_free(msg);
        char *ldir = out_dir(i ? "long-data" : "long-type");
        assert_int_equal(dsfinvk_write(d, NULL, ldir, &sum, &err), lengths[i].rc);
        if (lengths[i].rc) {
            assert_non_null(strstr(err.message, "longer than the 30 characters of TSE_TA_VORGANGSART"));
            assert_false(exists(ldir, "tse.csv") || exists(ldir, "transactions_tse.csv"));
        } else {
            csv_table tx = read_table(ldir, "transactions_tse.csv", tx_cols, sizeof tx_cols / sizeof *tx_cols);
            assert_int_equal(tx.rows, 1);
            assert_string_equal(tx.cell[0][csv_col(&tx, "TSE_VORGANGSDATEN")], "");
            csv_free(&tx);
        }
        dsfinvk_free(d);
        free(ldir);
    }
    tse_free(pem2);

    /* archives: missing, not a tar, a tar without logs */
    d = dsfinvk_new();
    assert_int_equal(dsfinvk_add_archive(d, "/nonexistent/x.tar", &err), TSE_ERR_INVALID_ARGUMENT);
    assert_int_equal(dsfinvk_add_archive(d, file, &err), TSE_ERR_INVALID_ARGUMENT);
    char *empty_tar = th_path("empty.tar");
    uint8_t zeros[1024] = {0};
    assert_int_equal(th_write_file(empty_tar, zeros, sizeof zeros), 0);
    assert_int_equal(dsfinvk_add_archive(d, empty_tar, &err), TSE_ERR_NO_DATA_AVAILABLE);
    assert_non_null(strstr(err.message, "no log messages"));
    dsfinvk_free(d);
    free(empty_tar);
    free(below);
    free(file);
    free(dir);
    tse_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_exports),
        cmocka_unit_test(own_tse),
        cmocka_unit_test(overlapping_exports),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
