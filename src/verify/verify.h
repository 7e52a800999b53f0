/*
 * verify.h - the auditor's side: checks any vendor's TR-03151 export archive
 * (or one log message) and reports what it finds.
 *
 * An archive is read twice with libarchive: the first pass loads info.csv and
 * the certificates, the second checks every log message as it streams by
 * (parse, file name; signatures in batches on every core) and keeps only a
 * small record per log (32 bytes). After the second pass the records are
 * sorted to check signature counters (duplicates, gaps), log time order and
 * the transactions (one Start, Updates, one Finish, in counter order), and
 * the certificate chains (issuer signatures, validity at the log times).
 *
 * For tests: verify_archive(path, NULL, &r), then r.errors and
 * verify_count(&r, "counter-gap") etc., then verify_result_free(&r).
 *
 * Everything found becomes a finding with a severity and a stable code
 * (docs/verify.md lists them). The severities give the verdict: an error
 * means integrity is broken (verdict 1), a warning that the archive is
 * intact but incomplete or implausible (verdict 3: an auditor needs an
 * explanation), notes change nothing (verdict 0: intact and complete).
 *
 * Depends on codec/ and on csp/ signature verification only.
 */
#ifndef OPENTSE_VERIFY_H
#define OPENTSE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum verify_severity {
    VERIFY_NOTE = 0,      /* worth knowing, not a problem */
    VERIFY_WARNING = 1,   /* intact, but incomplete or implausible: needs an explanation */
    VERIFY_ERROR = 2,     /* integrity broken: the archive does not prove what it should */
} verify_severity;

/* The verdict on one input, also the exit code of `opentse verify`. */
typedef enum verify_verdict {
    VERIFY_INTACT = 0,        /* intact and complete */
    VERIFY_BROKEN = 1,        /* integrity broken (some finding of severity error) */
    VERIFY_INCOMPLETE = 3,    /* intact, but incomplete or implausible (warnings) */
} verify_verdict;

/* One finding. Strings are owned by the result. `file` is NULL when the
 * finding is not about one file (counter gaps, transactions, info). */
typedef struct verify_finding {
    verify_severity severity;
    const char *code;     /* static string, e.g. "signature-invalid" */
    char *file;
    char *message;
} verify_finding;

/* Findings of one code: how many were listed, how many only counted. */
typedef struct verify_tally {
    const char *code;
    size_t listed;
    size_t unlisted;
} verify_tally;

typedef struct verify_counts {
    size_t files;              /* regular files in the archive */
    size_t logs;               /* .log files */
    size_t transaction_logs, system_logs, audit_logs;
    size_t format2_logs, format3_logs; /* by log message version (TR-03151 v1.0.1 / v1.1.1) */
    size_t starts, updates, finishes;
    size_t signatures_valid;   /* logs whose signature verified */
    size_t transactions;       /* distinct transaction numbers seen */
    size_t open_transactions;  /* started in the archive, not finished */
    size_t certificates;
    size_t tses;               /* distinct serial numbers (signing keys) */
} verify_counts;

/* One log next to a counter gap, as the record kept of it tells. */
typedef struct verify_gap_log {
    uint64_t counter;
    int64_t time;
    const char *kind;         /* static: "transaction", "system", "audit" */
    char *operation;          /* operationType as written */
    uint64_t transaction;     /* transaction logs only, else 0 */
    char *client;             /* transaction logs only, else NULL */
} verify_gap_log;

/* Signature counters missing between two logs of one TSE. */
typedef struct verify_gap {
    size_t tse;               /* index into tses */
    uint64_t first, last;     /* the missing counters, inclusive */
    verify_gap_log before, after;
} verify_gap;

/* A point of a TSE's timeline (for the HTML report): a sample of its
 * signature counter over time, a time set back, the Start of an open
 * transaction. */
typedef enum verify_mark_kind { VERIFY_MARK_SAMPLE, VERIFY_MARK_SET_BACK, VERIFY_MARK_OPEN } verify_mark_kind;

typedef struct verify_mark {
    size_t tse;               /* index into tses */
    verify_mark_kind kind;
    uint64_t counter;
    int64_t time;
} verify_mark;

/* A certificate of the archive or a given root, as the chain check saw it. */
typedef struct verify_cert {
    char *file;
    char *subject;            /* one-line subject, or NULL when OpenSSL cannot decode it */
    bool has_validity;
    int64_t not_before, not_after;
    bool signs_logs, in_chain, given_root;
    bool used;                /* logs were signed under it, from use_min to use_max */
    int64_t use_min, use_max;
} verify_cert;

/* A transaction as its Finish log signed it, kept for the cross-checks
 * with DSFinV-K tables and receipt QR codes (verify_options.keep_finishes)
 * and read back with verify_find_finish into a verify_finish of the
 * caller's. */
typedef struct verify_finish {
    size_t tse;               /* index into tses */
    uint64_t transaction, counter;
    int64_t time;             /* of the Finish log */
    bool has_start;
    int64_t start_time;       /* of the Start log, when in the archive */
    char *client;
    char *process_type;       /* "" when absent */
    uint8_t *process_data;    /* flattened; NUL-terminated beyond its length */
    size_t process_data_len;
    uint8_t signature[132];
    size_t signature_len;
    char *file;
} verify_finish;

/* One signing key (TSE) seen in the logs. */
typedef struct verify_tse {
    char serial_hex[65];
    char signature_algorithm[40];  /* name, or dotted OID when unknown */
    bool has_certificate;
    uint64_t first_counter, last_counter;
    int64_t first_time, last_time;
    size_t logs;
} verify_tse;

typedef struct verify_result {
    char *source;                  /* archive path or log file name */
    verify_finding *findings;
    size_t n_findings, cap_findings;
    verify_tally *tallies;         /* one per code found */
    size_t n_tallies;
    size_t errors, warnings, notes;   /* all findings, listed or not */
    verify_counts counts;
    verify_tse *tses;
    size_t n_tses;
    char *info_description, *info_manufacturer, *info_version;  /* NULL if absent */
    bool io_failed;                /* the input could not be read to its end */
    bool anchored;                 /* every chain ends in a root given in the options */
    bool revocation_checked;       /* every certificate below a root had an accepted CRL */
    verify_gap *gaps;              /* every counter gap (up to the findings limit) */
    size_t n_gaps, cap_gaps;
    verify_mark *marks;            /* timeline: samples, set-backs, open transactions */
    size_t n_marks, cap_marks;
    verify_cert *certs;            /* the archive's certificates, then the given roots */
    size_t n_certs;
    size_t dsfinvk_rows;           /* a verify_dsfinvk result: rows of transactions_tse.csv; */
    bool dsfinvk;                  /* (then no archive counts) */
    struct verify_finishes *finishes;  /* with keep_finishes: their table, in temporary files */
    size_t n_finishes;             /* (memory stays bounded whatever their number) */
} verify_result;

/* Progress of the second pass: bytes of the archive read so far out of
 * `total` (0 when unknown), logs checked out of `total_logs` (counted by the
 * first pass; 0 when it could not read the archive to its end). */
typedef void (*verify_progress_fn)(void *ctx, uint64_t done, uint64_t total, size_t logs,
                                   size_t total_logs);

/* A file the auditor gives (a root certificate, a CRL), DER or PEM. */
typedef struct verify_input {
    const uint8_t *data;
    size_t len;
    const char *name;         /* for findings, e.g. the file name */
} verify_input;

typedef struct verify_options {
    /* Listed findings per code; further ones are only counted. 0: 100. */
    size_t max_findings_per_code;
    verify_progress_fn progress;
    void *progress_ctx;
    /* Threads checking signatures. 0: one per core. */
    unsigned threads;
    /* Trust anchors (TR-03153-1 v1.1.1 section 10.2.1): every chain must end
     * in one of them, byte for byte. None: the chain is only checked to be
     * consistent up to a self-signed root ("chain-not-anchored"). */
    const verify_input *roots;
    size_t n_roots;
    /* Certificate revocation lists (section 10.2.3), each checked (issuer in
     * the chain, signature, thisUpdate less than 24 hours before `now`,
     * nextUpdate after it) before it is used. None: "revocation-unchecked". */
    const verify_input *crls;
    size_t n_crls;
    /* The time of the check, seconds since the epoch. 0: now. */
    int64_t now;
    /* Keep every Finish log's data in the result (finishes), for
     * verify_dsfinvk and receipt checks. */
    bool keep_finishes;
    /* Per-log records kept in memory before they are sorted into a
     * temporary file (TMPDIR) for the checks across logs; memory stays at
     * this many records whatever the archive's size. 0: 65536. */
    size_t spill_records;
    /* Read the archive with libarchive even when it is plain ustar, which
     * is otherwise read over large buffers to the same findings (for
     * holding the two readers against each other). */
    bool libarchive_only;
} verify_options;

/* Verifies one archive. `opts` may be NULL. Fills `out` (free it with
 * verify_result_free even on failure). Returns 0 when the archive was read
 * completely (look at out->errors), -1 when it could not be read to its end
 * (a finding "archive-unreadable" says why, out->io_failed is set, and what
 * could be read is still checked) or memory ran out. */
int verify_archive(const char *path, const verify_options *opts, verify_result *out);
/* The same for an archive split into parts (FILE.tar.001 ... in order,
 * TR-03151-1 v1.1.1 section 2.5.2), read as their concatenation; the
 * report's source names the first part and their number. */
int verify_archive_parts(const char *const *paths, size_t n, const verify_options *opts, verify_result *out);

/* Verifies one log message named `name` (a base name, checked against its
 * content). With a certificate (`cert`, DER or PEM, may be NULL) the
 * signature and the validity at log time are checked; without one the
 * finding "signature-unchecked" says so. Returns 0, or -1 when out of memory. */
int verify_log(const uint8_t *data, size_t len, const char *name,
               const uint8_t *cert, size_t cert_len, const char *cert_name,
               const verify_options *opts, verify_result *out);

/* Whether `in` is a usable root certificate (`crl` false) or CRL (`crl`
 * true), DER or PEM: 0, or -1 with the reason in err. For checking what a
 * user gives before verifying anything. */
int verify_input_check(const verify_input *in, bool crl, char *err, size_t errlen);

void verify_result_free(verify_result *r);

/* Number of findings of `code` (listed or not), e.g. verify_count(r,
 * "counter-gap"); 0 when there is none. */
size_t verify_count(const verify_result *r, const char *code);

/* The verdict from the findings: 1 with any error, 3 with any warning, else 0. */
verify_verdict verify_verdict_of(const verify_result *r);
/* "intact and complete", "integrity broken", "intact but incomplete or implausible". */
const char *verify_verdict_text(verify_verdict v);
/* The worse of two verdicts (1 over 3 over 0): of several inputs. */
verify_verdict verify_verdict_worse(verify_verdict a, verify_verdict b);

const char *verify_severity_name(verify_severity s);

/* Human report to `out`. `quiet`: only the summary line and errors.
 * Returns 0, -1 on a write error. */
int verify_report_text(const verify_result *r, FILE *out, bool quiet);

/* One self-contained HTML page for the results of several inputs: the
 * verdict, per TSE a timeline of signature counter over time (gaps, times
 * set back and open transactions marked), the certificates with validity
 * bars and the times they were used, the findings as a table. Returns 0, -1
 * on a write error. */
int verify_report_html(const verify_result *const *results, size_t n, FILE *out);

/* The kept Finish log of transaction `tx` of the TSE with key serial
 * `serial_hex` (64 hex digits, any case) into *out: 1 (free it with
 * verify_finish_free), 0 when there is none, -1 when the temporary file
 * cannot be read or memory ran out. */
int verify_find_finish(const verify_result *r, const char *serial_hex, uint64_t tx, verify_finish *out);
void verify_finish_free(verify_finish *f);

/* Cross-checks a DSFinV-K export in `dir` (transactions_tse.csv, tse.csv)
 * against the verified archives (`results`, verified with keep_finishes):
 * every row's signature, counter, times, processType and processData
 * against the Finish log it names, and the transactions that are in one but
 * not the other. Fills `out` (source: the directory; free it with
 * verify_result_free), whose verdict is that of the match. Returns 0, -1
 * when out of memory. */
int verify_dsfinvk(const char *dir, const verify_result *const *results, size_t n,
                   const verify_options *opts, verify_result *out);

/* JSON object for one result (format in docs/verify.md), as a jansson
 * json_t *; declared as void * so that this header does not need jansson.
 * Caller json_decref()s. NULL when out of memory. */
void *verify_report_json(const verify_result *r);

#endif
