/*
 * journal.h - the outage journal: a small SQLite file (WAL,
 * synchronous=FULL: a record is on disk before the failed call returns)
 * that records each period in which the TSE could not be reached and every
 * operation the register made without a TSE during it.
 */
#ifndef OPENTSE_CLIENT_JOURNAL_H
#define OPENTSE_CLIENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "opentse/opentse.h"

typedef struct journal journal;

/* Opens (creating if needed) the journal at `path`; `tse_name` names the
 * TSE in its records (the URL without credentials). */
tse_err journal_open(const char *path, const char *tse_name, journal **out);
void journal_close(journal *j);

/* What was attempted without an answer from the TSE. Strings may be NULL;
 * numbers 0 when none. `tx_id`/`tx_revision`: the request a remote TSE may
 * have received (its answer was lost), to match it with the server's
 * records later. */
typedef struct journal_op {
    const char *operation;
    const char *client_id;
    uint64_t tx_number;
    const char *process_type;
    const uint8_t *pd;
    size_t pd_len;
    const char *tx_id;
    uint32_t tx_revision;
} journal_op;

/* The TSE could not be reached for `op`: opens an outage (start now,
 * `cause`) unless one is open, and records the operation in it. */
tse_err journal_record(journal *j, const journal_op *op, const char *cause);

/* Calls fn with the last operation of the open outage, if there is one and
 * it names a request whose answer was lost (tx_id set). */
void journal_last_unanswered(journal *j, void (*fn)(void *ctx, const journal_op *op), void *ctx);

/* The TSE answered: ends the open outage, if any, now. */
tse_err journal_reachable(journal *j);

/* The report of tse_outage_report() (JSON, malloc'd). */
tse_err journal_report(journal *j, char **json);

#endif /* OPENTSE_CLIENT_JOURNAL_H */
