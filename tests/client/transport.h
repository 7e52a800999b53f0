/*
 * transport.h - test support for running one SE API suite over both
 * transports: "file" (a TSE file, the engine in-process) or "http" (the real
 * opentsed of this build, started on a free port with a temporary data
 * directory and its demo organization's API key).
 */
#ifndef OPENTSE_TEST_CLIENT_TRANSPORT_H
#define OPENTSE_TEST_CLIENT_TRANSPORT_H

#include <stdbool.h>
#include <sys/types.h>

#include "opentse/opentse.h"

typedef struct tt_server {
    pid_t pid;
    int port;
    char base[64];          /* http(s)://127.0.0.1:PORT */
    const char *ca;         /* https: the certificate to trust */
    char data_dir[512];
    char api_key[128], api_secret[128];
} tt_server;

/* Starts $OPENTSED (the server binary) with --demo on a free port; waits
 * until /health answers; reads the demo API key and secret and exports them
 * as OPENTSE_API_KEY/OPENTSE_API_SECRET. Aborts the test on failure. A
 * second start with the same data_dir (non-empty) reuses it. */
void tt_server_start(tt_server *s, const char *data_dir, int port);
/* The same over HTTPS (--tls-cert/--tls-key); base becomes https://. */
void tt_server_start_tls(tt_server *s, const char *data_dir, const char *cert, const char *key);
/* SIGKILL (hard) or SIGTERM, and waits. */
void tt_server_stop(tt_server *s, bool hard);

/* A free TCP port on 127.0.0.1. */
int tt_free_port(void);

/* The transport under test: "file" or "http" (argv[1] of the test). For
 * http the server is started once on first use. */
void tt_init(const char *transport);
bool tt_http(void);
tt_server *tt_the_server(void);

/* A new TSE URL (malloc'd): file:<tmp>/<stem>-N.db or <base>/tss/<uuid>. */
char *tt_new_url(const char *stem);
/* A new TSS URL on the server at `base` (malloc'd). */
char *tt_tss_url(const char *base);
/* Creates a TSE at a new URL; the PUK to puk; returns the URL (malloc'd). */
char *tt_create(const char *stem, char puk[TSE_PUK_LEN + 1]);
/* Open options for this transport (master key for file:). */
tse_open_options tt_open_options(void);
/* Opens `url` with tt_open_options(); asserts success. */
tse *tt_open(const char *url);
/* Created, admin PIN "123456" set, admin logged in, initialized, client
 * "KASSE-01" registered; URL to *url_out if non-NULL (malloc'd). */
tse *tt_ready(const char *stem, char **url_out);
/* The same at a given URL (e.g. on a server of the test's own). */
tse *tt_ready_at(const char *url);

/* Asserts that the log m (parsed from one of t's) carries a signature the
 * openssl command line verifies with t's public key. */
struct logmsg;
void tt_check_signature(tse *t, const struct logmsg *m);
/* `openssl asn1parse` of DER bytes: its output (malloc'd); asserts it parses. */
char *tt_asn1parse(const uint8_t *der, size_t len);

/* bytes of base64 (malloc'd), length to *n; NULL if invalid. */
unsigned char *tt_unb64(const char *s, size_t *n);

#define TT_PIN "123456"
#define TT_CLIENT "KASSE-01"

#endif
