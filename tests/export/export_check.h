/*
 * export_check.h - what the export tests share: collecting an archive into a
 * file, checking it as an auditor would with tools we did not write (the
 * `openssl` command line for every signature and the certificate chain,
 * libarchive and the raw ustar bytes for the container), and rewriting
 * archives to tamper with them.
 */
#ifndef OPENTSE_TEST_EXPORT_CHECK_H
#define OPENTSE_TEST_EXPORT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "helpers.h"
#include "opentse/opentse.h"

/* Exports with `f` into the file `path`; returns the TSE's code. */
tse_err ex_export_file(tse *t, const tse_export_filter *f, const char *path, tse_export_result *res);

/* What an archive holds, as read back by ex_check_archive. */
typedef struct ex_archive {
    size_t n_logs;
    uint64_t counters[4096];       /* in archive order */
    uint64_t tx_numbers[4096];     /* 0 for system logs */
    char clients[4096][TSE_MAX_CLIENT_ID_LEN + 1];
    int64_t times[4096];
} ex_archive;

/* Checks the archive at `path` of the TSE `t`: raw ustar structure (512-byte
 * headers with magic "ustar", typeflag '0', mode 0644, two zero blocks at
 * the end), info.csv, the certificate chain (openssl verify), each log's
 * file name against its content and every signature with `openssl dgst`.
 * Fails the test on any problem; fills `out`. */
void ex_check_archive(tse *t, const char *path, ex_archive *out);
/* Same for a TSE known by its info (serial, curve, hash, description). Also
 * runs our own verifier (verify/) over the archive: no error. */
void ex_check_archive_of(const tse_info *info, const char *path, ex_archive *out);

/* true when `a` holds counter c. */
bool ex_has(const ex_archive *a, uint64_t c);

/* Writes entries as a ustar archive (libarchive); 0 on success. */
int ex_write_tar(const char *path, const th_tar_entry *entries, size_t n);

/* Verifies the signatures of logs (DER messages) with `openssl dgst` in one
 * shell run, against the public key in `pub_pem`. Returns the number that
 * printed "Verified OK". */
size_t ex_openssl_verify_logs(const char *pub_pem, tse_hash hash, const uint8_t *const *logs,
                              const size_t *lens, size_t n);

#endif
