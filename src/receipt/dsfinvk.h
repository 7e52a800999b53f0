/*
 * dsfinvk.h - the DSFinV-K tables a TSE's logs fill: tse.csv (Stamm_TSE)
 * and transactions_tse.csv (TSE_Transaktionen), from an export archive or
 * from log messages handed in one by one (e.g. read from an embedded TSE by
 * signature counter).
 *
 * Usage: dsfinvk_new(); dsfinvk_add_archive() or dsfinvk_add_log() +
 * dsfinvk_add_certificate(); dsfinvk_write(); dsfinvk_free(). Functions
 * return 0 or a negative tse_err and write a message naming the problem into
 * err (a tse_error, may be NULL).
 */
#ifndef OPENTSE_RECEIPT_DSFINVK_H
#define OPENTSE_RECEIPT_DSFINVK_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct dsfinvk dsfinvk;

/* The cash-point closing the rows belong to (DSFinV-K key fields). */
typedef struct dsfinvk_options {
    const char *kasse_id;   /* Z_KASSE_ID; NULL: each transaction's clientId */
    uint64_t z_nr;          /* Z_NR; 0 means 1 */
    int64_t z_erstellung;   /* Z_ERSTELLUNG, epoch seconds; 0: the last Finish log time */
    uint64_t first_tse_id;  /* TSE_ID of the first TSE (key) found; 0 means 1 */
} dsfinvk_options;

typedef struct dsfinvk_summary {
    size_t tse_rows;            /* rows of tse.csv */
    size_t transaction_rows;    /* rows of transactions_tse.csv (finished transactions) */
    size_t without_start;       /* finished, but the Start log is not in the data */
    size_t unfinished;          /* started, no Finish log in the data (no row) */
} dsfinvk_summary;

/* NULL when out of memory. */
dsfinvk *dsfinvk_new(void);
void dsfinvk_free(dsfinvk *d);

/* One log message (DER). Transaction logs are kept; system and audit logs
 * are checked for form and skipped. */
int dsfinvk_add_log(dsfinvk *d, const uint8_t *msg, size_t len, tse_error *err);
/* One certificate (DER or PEM); it belongs to the TSE whose serial is the
 * SHA-256 of its key. Certificates of keys that sign no log are ignored. */
int dsfinvk_add_certificate(dsfinvk *d, const uint8_t *cert, size_t len, tse_error *err);
/* Every .log and *_X509.* file of a TR-03151 export archive (tar). */
int dsfinvk_add_archive(dsfinvk *d, const char *path, tse_error *err);

/* Writes DIR/tse.csv and DIR/transactions_tse.csv (DIR is created if
 * missing). Each file appears complete or not at all. Refused when no
 * transaction log was added, or a TSE's certificate is missing. */
int dsfinvk_write(dsfinvk *d, const dsfinvk_options *o, const char *dir, dsfinvk_summary *sum, tse_error *err);

#endif
