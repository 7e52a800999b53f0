/*
 * harness.h - integration test harness for opentsed: starts the real binary
 * on a free port with a temporary data directory, talks HTTP(S) to it with
 * libcurl and JSON with jansson, and rebuilds signed log bytes from response
 * fields so the `openssl` command line can check the signatures.
 */
#ifndef OPENTSE_TEST_SERVER_HARNESS_H
#define OPENTSE_TEST_SERVER_HARNESS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct srv_proc {
    pid_t pid;
    char data_dir[512];
    char base[128];        /* http://127.0.0.1:PORT */
    char op_key[64], op_secret[96]; /* printed on first start, else empty */
} srv_proc;

/* Starts opentsed with the data directory `data_dir` and extra arguments
 * (NULL-terminated); waits for "listening". Asserts on failure. */
void hs_start(srv_proc *p, const char *data_dir, const char *const *extra);
/* Starts opentsed --demo on a fresh data_dir; returns its demo.json (api_key,
 * api_secret, tss_id, client_id, admin_pin) and an access token (malloc'd). */
json_t *hs_start_demo(srv_proc *p, const char *data_dir, char **token);
/* Sends `sig`, waits; returns the exit status (-1 if it did not exit normally). */
int hs_signal(srv_proc *p, int sig);
/* hs_signal(p, SIGTERM). */
int hs_stop(srv_proc *p);

/* One HTTP exchange. body may be NULL; token may be NULL. Returns the status;
 * *out gets the parsed JSON (or NULL) when out is non-NULL. `headers_out`
 * (optional) receives the raw response headers, malloc'd. */
long hs_call(const char *base, const char *method, const char *path, const char *token, const char *body,
             size_t body_len, json_t **out, char **headers_out);
/* Same with a JSON body built by json_pack-style `fmt`; asserts the status. */
json_t *hs_json(const char *base, const char *method, const char *path, const char *token, long want_status,
                const char *fmt, ...);

/* Checks an error body {status_code, error, code, message} (code NULL: any)
 * and frees it. code "E_X/NAME": code E_X and tse_error NAME (the TR-03151
 * name of an engine error). */
void hs_expect_error(json_t *e, long status, const char *code);

/* POST /api/v2/auth -> access token (malloc'd). */
char *hs_token(const char *base, const char *key, const char *secret);
/* Operator creates an organization and an API key; writes key and secret. */
void hs_org_key(const char *base, const char *op_token, const char *name, char key[64], char secret[96]);
/* Creates a TSS (tss_id) taken to INITIALIZED with admin PIN `pin`, registers
 * a client (client_id, serial) and logs the admin out. */
void hs_ready_tss(const char *base, const char *token, const char *tss_id, const char *pin, const char *client_id,
                  const char *serial);
void hs_uuid(char out[37]);

/* Rebuilds the signed bytes of a transaction log (TSE-FORMATS.md section 1)
 * for a P-256 / ecdsa-plain-SHA256 / unixTime TSS and verifies the signature
 * with the openssl command line. process_type NULL = omitted. Returns 0 ok. */
int hs_verify_tx_log(const char *operation, const char *client_serial, const uint8_t *pd, size_t pd_len,
                     const char *process_type, uint64_t tx_number, const char *serial_hex, uint64_t counter,
                     int64_t log_time, const char *sig_b64, const char *pub_b64);
/* Verifies a transaction response's log signature from its own fields. */
int hs_verify_tx_response(json_t *tx);

uint8_t *hs_b64_decode(const char *s, size_t *len);

/* An export job of all of TSS tss, waited for (COMPLETED asserted), its
 * archive downloaded to `file`. */
void hs_export_all(const char *base, const char *token, const char *tss, const char *file);
/* GET path (with token, unless NULL) into `file`; returns the status. The
 * response headers into headers (cap bytes, NUL-ended) unless NULL. */
long hs_download(const char *base, const char *path, const char *token, const char *file, char *headers, size_t cap);

#endif
