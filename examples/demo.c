/*
 * demo.c - a cash register's first receipt with an embedded OpenTSE.
 *
 * Creates a TSE in a fresh file under DIR (with a master key DIR/master.key),
 * takes it through its lifecycle (admin PIN set with the PUK, initialize,
 * time, one client), records one receipt (start, update, finish) and prints
 * every log message the TSE wrote and the receipt's signature data.
 *
 * Usage: opentse-demo DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "codec/logmsg.h"
#include "opentse/opentse.h"

#define CLIENT "KASSE-001"
#define PIN "246810"

static int check(tse_err rc, const char *what)
{
    if (rc != TSE_OK && rc != TSE_ERR_CERTIFICATE_EXPIRED) {
        fprintf(stderr, "%s failed: %s\n  %s\n", what, tse_strerror(rc), tse_last_error_message());
        exit(1);
    }
    return rc;
}

static void iso_time(int64_t t, char out[32]);

/* processData as one line: newlines, quotes and other bytes outside
 * printable ASCII escaped as in C, so every log stays one entry. */
static void print_escaped(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n')
            fputs("\\n", stdout);
        else if (p[i] == '"' || p[i] == '\\')
            printf("\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] >= 0x7f)
            printf("\\x%02x", p[i]);
        else
            putchar(p[i]);
    }
}

static void print_log(const uint8_t *msg, size_t len)
{
    logmsg m;
    tse_error err = {0};
    char name[512];
    if (!logmsg_parse(msg, len, &m, &err)) {
        printf("  (unparsable log: %s)\n", err.message);
        return;
    }
    logmsg_filename(&m, 0, name, sizeof name);
    printf("  %s  (%zu bytes)\n", name, len);
    if (m.kind == LOGMSG_TRANSACTION) {
        uint8_t pd[512];
        size_t pd_len = 0;
        der_get_octets(&m.process_data, pd, sizeof pd, &pd_len);
        printf("    %.*s #%llu client %.*s processType %.*s processData \"", (int)m.operation.n,
               (const char *)m.operation.p, (unsigned long long)m.transaction_number, (int)m.client_id.n,
               (const char *)m.client_id.p, (int)m.process_type.n, (const char *)m.process_type.p);
        print_escaped(pd, pd_len < sizeof pd ? pd_len : sizeof pd);
        printf("\"\n");
    }
    char hex[2 * 132 + 1], when[32];
    tse_hex(m.signature.p, m.signature.n < 132 ? m.signature.n : 132, hex);
    iso_time(m.log_time, when);
    printf("    counter %llu  logTime %s  signature %.32s...\n", (unsigned long long)m.signature_counter, when, hex);
}

static void iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static void base64(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char key_path[4096], db_path[4096], puk[TSE_PUK_LEN + 1];
    mkdir(dir, 0700);
    snprintf(key_path, sizeof key_path, "%s/master.key", dir);
    snprintf(db_path, sizeof db_path, "%s/demo-tse-%lld.db", dir, (long long)time(NULL));
    if (access(key_path, F_OK) != 0) /* the operator's master key, readable by the owner only */
        check(tse_create_master_key(key_path), "create the master key");

    tse_create_options co = {.master_key_path = key_path};
    check(tse_create(db_path, &co, puk), "create");
    printf("Created TSE %s\n  PUK (shown once): %s\n", db_path, puk);
    tse_open_options oo = {.master_key_path = key_path};
    tse *t = NULL;
    check(tse_open(db_path, &oo, &t), "open");
    check(tse_set_admin_pin(t, puk, PIN), "set admin PIN");
    check(tse_authenticate_user(t, TSE_USER_ADMIN, PIN, NULL, NULL), "authenticate admin");
    check(tse_initialize(t, "OpenTSE demo"), "initialize");
    check(tse_update_time(t, (int64_t)time(NULL)), "update time");
    check(tse_register_client(t, CLIENT), "register client");

    const char *pt = "Kassenbeleg-V1";
    const char *order = "1;\"Kaffee\";2.50\n1;\"Brezel\";1.20";
    const char *receipt = "Beleg^3.70_0.00_0.00_0.00_0.00^3.70:Bar";
    tse_result start, update, finish;
    check(tse_start_transaction(t, CLIENT, NULL, 0, pt, NULL, 0, &start), "start transaction");
    check(tse_update_transaction(t, CLIENT, start.transaction_number, (const uint8_t *)order, strlen(order),
                                 "Bestellung-V1", TSE_UPDATE_SIGNED, &update), "update transaction");
    check(tse_finish_transaction(t, CLIENT, start.transaction_number, (const uint8_t *)receipt, strlen(receipt), pt,
                                 NULL, 0, &finish), "finish transaction");

    tse_info info;
    check(tse_get_info(t, &info), "info");
    printf("\nLog messages (%llu):\n", (unsigned long long)info.signature_counter);
    for (uint64_t c = 1; c <= info.signature_counter; c++) {
        uint8_t *msg = NULL;
        size_t len = 0;
        check(tse_read_log_by_counter(t, c, &msg, &len), "read log");
        print_log(msg, len);
        tse_free(msg);
    }

    uint8_t *point = NULL;
    size_t point_len = 0;
    check(tse_public_key(t, &point, &point_len), "public key");
    char serial[65], t_start[32], t_end[32], sig_b64[200], pub_b64[200];
    tse_hex(info.serial_number, 32, serial);
    iso_time(finish.start_time, t_start);
    iso_time(finish.log_time, t_end);
    base64(finish.signature, finish.signature_len, sig_b64);
    base64(point, point_len, pub_b64);
    printf("\nReceipt signature data:\n");
    printf("  TSE serial number   %s\n", serial);
    printf("  signature algorithm %s\n", info.signature_algorithm);
    printf("  transaction number  %llu\n", (unsigned long long)finish.transaction_number);
    printf("  signature counter   %llu\n", (unsigned long long)finish.signature_counter);
    printf("  start / finish      %s / %s\n", t_start, t_end);
    printf("  signature           %s\n", sig_b64);
    printf("  QR code             V0;%s;%s;%s;%llu;%llu;%s;%s;%s;unixTime;%s;%s\n", CLIENT, pt, receipt,
           (unsigned long long)finish.transaction_number, (unsigned long long)finish.signature_counter, t_start,
           t_end, info.signature_algorithm, sig_b64, pub_b64);
    printf("  certificate expires in %d days\n", info.cert_days_left);
    tse_free(point);
    tse_close(t);
    return 0;
}
