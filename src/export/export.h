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

/* The components info.csv names (device_info.c): component, manufacturer,
 * model, version, certification ids. */
#define EXPORT_COMPONENT_FIELDS 5
#define EXPORT_MAX_COMPONENTS 16
#define EXPORT_VALUE_MAX 256
typedef struct export_device {
    struct {
        char v[EXPORT_COMPONENT_FIELDS][EXPORT_VALUE_MAX];
    } c[EXPORT_MAX_COMPONENTS];
    int n;
} export_device;

/* Checks the device information file at `path` as an export would read it
 * (OPENTSE_DEVICE_INFO): 0, or INVALID_ARGUMENT with the line at fault. */
int export_device_check(const char *path, tse_error *err);
/* The deployment's components (OPENTSE_DEVICE_INFO or the built-in ones),
 * read once per process; an unreadable or malformed file fails every call. */
int export_device_get(const export_device **out, tse_error *err);
/* Adds one line of five CSV values (RFC 4180 quoting; split in place) to
 * d; INVALID_ARGUMENT naming `what` and line `no` when it is malformed. */
int export_device_add_line(export_device *d, char *line, const char *what, int no, tse_error *err);
/* Puts the components of `updated` into d: each replaces d's component of
 * the same name, or is added after d's. */
int export_device_merge(export_device *d, const export_device *updated, tse_error *err);
/* d as CSV lines that export_device_add_line reads back (every value
 * quoted), into out (cap bytes, not NUL-terminated); the length it needs. */
size_t export_device_csv(const export_device *d, char *out, size_t cap);

/* What goes into the archive beside the logs. */
typedef struct export_source {
    store *st;
    int info_format;               /* info.csv: 3 (TR-03151-1 v1.1.1, components) or 2 (v1.0.1, one line) */
    const char *description;       /* info.csv description */
    const char *cert_pem;          /* the whole chain, TSE certificate first */
    const export_device *device;   /* info.csv's components (format 3); NULL: export_device_get's */
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
