/*
 * export.h - TR-03151 export archives (TSE-FORMATS.md section 4) streamed
 * from the store, and restoreFromBackup from such archives.
 *
 * export/ knows the store, the codec and the csp; it never calls the
 * engine. The engine hands in what only it knows (description, certificate
 * chain, the TSE's key) and keeps the state (the export mark, the roles).
 *
 * Functions return 0 or a negative tse_err code and write a message into
 * `err` (a tse_error, may be NULL).
 */
#ifndef OPENTSE_EXPORT_H
#define OPENTSE_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/error.h"
#include "opentse/opentse.h"
#include "store/store.h"

#define EXPORT_MANUFACTURER "OpenTSE"

/* true when the filter selects every log above its cursor (a complete or
 * incremental export, the kind that makes deleteStoredData possible). */
bool export_filter_is_complete(const tse_export_filter *f);

/* What goes into the archive beside the logs. */
typedef struct export_source {
    store *st;
    const char *description;       /* info.csv description */
    const char *cert_pem;          /* the whole chain, TSE certificate first */
    int64_t mtime;                 /* the archive's creation time */
} export_source;

/* Checks the filter and the selection (the errors of TR-03151) before
 * anything is written, then streams the archive through `write` in constant
 * memory. `out` gets the cursor (the highest counter in the archive), the
 * number of logs and bytes; out->cursor is set before the first chunk is
 * written (for a complete export it is final then). A complete export (export_filter_is_complete)
 * holds exactly the logs with counters in (f->cursor, out->cursor].
 * Errors: PARAMETER_MISMATCH, ID_NOT_FOUND, TRANSACTION_NUMBER_NOT_FOUND,
 * NO_DATA_AVAILABLE, TOO_MANY_RECORDS, EXPORT_CERT_FAILED, STORAGE_FAILURE,
 * NO_MEMORY, or the callback's non-zero return (a negative tse_err is
 * returned as is, other values become STORAGE_FAILURE). */
int export_archive(const export_source *src, const tse_export_filter *f, tse_export_write_fn write, void *ctx,
                   tse_export_result *out, tse_error *err);

/* The checks export_archive makes before it writes anything (the same
 * errors but those of writing), without writing: 0 when an export with f
 * would start now. */
int export_check(store *st, const tse_export_filter *f, tse_error *err);

/* What a restored log must match: the TSE's public key, hash and serial,
 * and its certificate chain. */
typedef struct export_restore_key {
    EVP_PKEY *pub;
    tse_hash hash;
    const char *sigalg_oid;        /* dotted, as in every log of this TSE */
    const uint8_t *serial;         /* 32 bytes */
    const char *cert_pem;          /* the TSE's chain */
} export_restore_key;

/* Reads the TAR archives at `paths` and adds every log the store misses, in
 * one store transaction: each log must parse, carry the TSE's serial and
 * signature algorithm, verify with the key, be named as the format says,
 * match a log already stored under its counter byte for byte, and leave the
 * stored counters without gaps; each certificate must be one of the TSE's
 * chain or a certificate of its key, named by its key's serial; info.csv is
 * not checked; anything else is refused. Any failure stores nothing
 * (RESTORE_FAILED with the reason naming file and archive). `*added` (may be
 * NULL) gets the number of logs added. */
int export_restore(store *st, const export_restore_key *key, const char *const *paths, size_t n_paths,
                   uint64_t *added, tse_error *err);

#endif
