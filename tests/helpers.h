/*
 * helpers.h - shared test helpers: temporary directories, files, and
 * verification of our signatures by the `openssl` command line (an
 * implementation we did not write).
 */
#ifndef OPENTSE_TEST_HELPERS_H
#define OPENTSE_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/logmsg.h"
#include "opentse/opentse.h"

/* A new empty directory for this test process (under $OPENTSE_TEST_TMP or /tmp). */
const char *th_tmpdir(void);
/* th_tmpdir()/name into a malloc'd string. */
char *th_path(const char *name);
int th_write_file(const char *path, const void *data, size_t len);
/* A tse_export_write_fn writing to the FILE * in ctx. */
int th_to_file(void *ctx, const uint8_t *data, size_t len);
/* malloc'd contents (NUL-terminated beyond len), NULL on error. */
uint8_t *th_read_file(const char *path, size_t *len);
/* Creates a master key file with mode 0600 in the temp dir; returns its path (static per process). */
const char *th_master_key(void);
/* Fixture path: $OPENTSE_FIXTURES/rel into a malloc'd string. */
char *th_fixture(const char *rel);

/* Verifies an ecdsa-plain signature (r||s) over `msg` with the `openssl`
 * command line: converts the point to a PEM public key and r||s to DER, then
 * runs `openssl dgst -<hash> -verify`. Returns 0 when openssl prints
 * "Verified OK", 1 when it rejects, -1 on a setup error. */
int th_openssl_verify(tse_curve curve, tse_hash hash, const uint8_t *point, size_t point_len,
                      const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len);

/* One regular file of a tar archive, read into memory. */
typedef struct th_tar_entry {
    char *name;
    uint8_t *data;
    size_t len;
} th_tar_entry;

/* Reads every regular file of a tar archive (libarchive), in archive order.
 * Returns 0, or -1 on error. Free with th_tar_free(). */
int th_tar_read(const char *path, th_tar_entry **entries, size_t *count);
void th_tar_free(th_tar_entry *entries, size_t count);

/* A parsed log's fields again, ready for logmsg_encode_tbs: text fields
 * copied NUL-terminated into `rb`, processData flattened (BER
 * indefinite-length segments joined). false if a field does not fit. */
typedef struct th_rebuilt {
    char op[128], client[256], ptype[128];
    uint8_t pd[4096];
} th_rebuilt;
bool th_fields_from(const logmsg *m, th_rebuilt *rb, logmsg_fields *f);

/* An update package (docs/se-api.md): `manifest` signed with the private
 * key in the PEM file `key` by `openssl dgst -sha256`, the signature
 * appended as its PEM block; its bytes (malloc'd) and length, NULL if
 * openssl failed. */
uint8_t *th_update_package(const char *manifest, const char *key, size_t *len);

/* tamper.c: alters one byte of the stored log `counter` in the SQLite file
 * of a closed TSE at `path`, past the triggers that keep the logs
 * append-only, as someone with file access could; the same call again
 * restores it. 0, or -1 if no such log. */
int th_tamper_log(const char *path, uint64_t counter);

#endif
