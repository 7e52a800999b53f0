/*
 * internal.h - what the files of verify/ share: adding findings, loaded
 * certificates and their chain check, per-log records and the sequence
 * checks over them.
 */
#ifndef OPENTSE_VERIFY_INTERNAL_H
#define OPENTSE_VERIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/encode.h"
#include "codec/logmsg.h"
#include "csp/csp.h"
#include "verify.h"

/* The manufacturer our own info.csv names; its exports are read strictly. */
#define VERIFY_OUR_MANUFACTURER "OpenTSE"

/* ---------------------------------------------------------- findings */

/* Adds a finding (listed while its code has fewer than the options' limit,
 * otherwise only counted). `code` must be a static string. Returns -1 only
 * when out of memory. */
int vr_add(verify_result *r, const verify_options *o, verify_severity sev, const char *code,
           const char *file, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Adds a timeline mark; bounded per kind and TSE by the caller. -1: out of memory. */
int vr_mark(verify_result *r, size_t tse, verify_mark_kind kind, uint64_t counter, int64_t time);

/* ----------------------------------------------- kept Finish logs */

/* Bytes appended and read back at their offset: in memory up to `mem_max`
 * bytes, then in a temporary file (TMPDIR, removed at once); when none can
 * be made, in memory all the same (in_memory, spill_errno). */
typedef struct vstore {
    FILE *f;
    uint8_t *mem;
    size_t len, cap, mem_max;
    uint64_t size;           /* bytes appended */
    bool dirty;              /* written to f since the last read */
    bool in_memory;
    int spill_errno;
} vstore;

void vstore_init(vstore *s, size_t mem_max);
/* Appends n bytes; their offset in *off (may be NULL). -1: out of memory or
 * the temporary file cannot be written. */
int vstore_put(vstore *s, const void *p, size_t n, uint64_t *off);
/* Reads n bytes at off. -1: not there, or a read error. */
int vstore_get(vstore *s, uint64_t off, void *p, size_t n);
void vstore_free(vstore *s);

/* A new temporary file in TMPDIR, already removed; NULL (errno) when none
 * can be made. */
FILE *vtemp_file(void);

struct vctx;
/* Starts keeping Finish logs (options' keep_finishes) into r->finishes. -1:
 * out of memory. */
int vfin_init(struct vctx *x);
/* Keeps the Finish log `m` (named `name`) or the time of the Start log `m`
 * for the cross-checks. -1: out of memory or the temporary file failed. */
int vfin_keep(struct vctx *x, const logmsg *m, const char *name, uint16_t key, uint8_t op);
/* Joins the Start times to the kept finishes and writes their table, by TSE
 * and transaction number (r->n_finishes rows). -1 as above. */
int vfin_finish(struct vctx *x);
/* Frees what r->finishes holds. */
void vfin_free(verify_result *r);
/* Row i of the table into *out (free with verify_finish_free). -1: read
 * error or out of memory. */
int vfin_at(const verify_result *r, size_t i, verify_finish *out);
/* The first row of TSE index `tse` and transaction `tx`: 1 (its row in
 * *index), 0 when there is none, -1 on a read error. */
int vfin_find(const verify_result *r, size_t tse, uint64_t tx, size_t *index);

/* Findings listed per code (the options' limit or the default). */
size_t vr_limit(const verify_options *o);

/* Makes room for element n of *arr (capacity *cap, doubled as needed).
 * Returns -1 when out of memory (*arr unchanged). */
int vr_grow(void *arr, size_t *cap, size_t n, size_t elem);

/* A log time as "YYYY-MM-DDThh:mm:ssZ" in buf (cap >= 32); returns buf. */
const char *vr_time(int64_t t, char *buf, size_t cap);


/* ------------------------------------------------------ certificates */

typedef struct vslice {
    const uint8_t *p;
    size_t n;
} vslice;

/* A certificate file of the archive. Slices point into `der`. */
typedef struct vcert {
    char *file;
    char name_hex[65];       /* the file name's serial, lower case; "" if not 64 hex digits */
    uint8_t *der;
    size_t der_len;
    vslice tbs;              /* complete TLV of tbsCertificate */
    vslice issuer, subject;  /* complete TLVs of the Names */
    vslice ski, aki;         /* key identifiers (content), n == 0 if absent */
    char sig_oid[64];
    vslice sig;              /* signature BIT STRING content without the unused-bits byte */
    int64_t not_before, not_after;
    bool has_validity;
    EVP_PKEY *key;
    uint8_t key_serial[32];
    char key_hex[65];
    X509 *x509;              /* NULL when OpenSSL's decoder refuses the encoding */
    bool signs_logs;         /* some log's serial number is this key's */
    bool in_chain;           /* issuer (directly or not) of a certificate that signs logs */
    vslice serial;           /* complete TLV of the certificate's serialNumber */
    bool used;               /* in the chain of some log's key: */
    int64_t use_min, use_max;   /* the first and last time of those logs */
} vcert;

/* Loads a certificate file (DER or PEM). On failure writes why into err. */
int vcert_load(vcert *c, const char *file, const uint8_t *data, size_t len, char *err,
               size_t errlen);
void vcert_free(vcert *c);
/* The certificate whose key serial is `serial`, or NULL. */
vcert *vcert_find(vcert *certs, size_t n, const uint8_t serial[32]);

/* Per signing key: what the chain check needs to know about its logs. */
typedef struct vkey {
    uint8_t serial[32];
    vcert *cert;             /* NULL: no certificate in the archive */
    EVP_PKEY *pub;           /* borrowed from cert */
    int64_t min_time, max_time;
    size_t logs;
    char sigalg[32];         /* dotted OID of the first log */
} vkey;

/* Checks validity of every certificate against the logs' keys and, with
 * `chain`, names, issuer signatures, the anchoring in one of the given
 * `roots` (r->anchored) and unused certificates. Returns -1 only when out of
 * memory. */
int vcert_check(vcert *certs, size_t n_certs, vcert *roots, size_t n_roots, const vkey *keys,
                size_t n_keys, bool chain, verify_result *r, const verify_options *o);

/* Copies what the report shows of the certificates and roots into r->certs.
 * -1: out of memory. */
int vcert_summarize(const vcert *certs, size_t n_certs, const vcert *roots, size_t n_roots,
                    verify_result *r);

/* A CRL (DER or PEM), or NULL when it does not decode. */
X509_CRL *vcrl_load(const verify_input *in);

/* Checks the CRLs of the options (section 10.2.3) and every certificate of
 * the chains (certs and roots walked by vcert_check) against the accepted
 * ones, at the times of the logs (r->revocation_checked). -1: out of memory. */
int vcrl_check(vcert *certs, size_t n_certs, vcert *roots, size_t n_roots, verify_result *r,
               const verify_options *o);

/* ------------------------------------------------------ log records */

enum { VOP_OTHER = 0, VOP_START, VOP_UPDATE, VOP_FINISH, VOP_UPDATE_TIME };

/* What is kept of each log after it is checked (40 bytes). */
typedef struct vrec {
    uint64_t counter;
    int64_t time;
    uint64_t txno;
    uint32_t client;         /* index into the interned strings: the client id */
    uint32_t opname;         /* index into the interned strings: operationType */
    uint32_t digest;         /* hash of the whole message: tells copies from other logs */
    uint16_t key;            /* index into the keys */
    uint8_t kind;            /* logmsg_kind */
    uint8_t op;              /* VOP_* */
} vrec;

/* Records in sorted order with bounded memory (spill.c): a chunk of
 * `chunk` records (0: the default) in memory, full chunks sorted into runs
 * of a temporary file, merged when read. */
typedef struct vrun {
    off_t off;
    size_t n;
} vrun;
struct vcursor;
typedef struct vsort {
    int (*cmp)(const void *, const void *);
    vrec *buf;               /* the chunk being filled; when nothing was spilled, all records */
    size_t n, cap, pos;
    size_t total;            /* records added */
    FILE *tmp;
    vrun *runs;
    size_t n_runs, cap_runs;
    struct vcursor *cur;     /* one per run being merged */
    size_t n_cur;
    bool in_memory;          /* no temporary file could be made: all in buf */
    int spill_errno;         /* why */
} vsort;

int vsort_init(vsort *s, int (*cmp)(const void *, const void *), size_t chunk);
/* -1: out of memory or the temporary file cannot be written. */
int vsort_add(vsort *s, const vrec *r);
/* Ends adding; the records come out of vsort_next in order. -1 as above. */
int vsort_begin(vsort *s);
/* The next record: 1, 0 at the end, -1 on a read error. */
int vsort_next(vsort *s, vrec *out);
void vsort_free(vsort *s);

/* Records by key and counter (the order vseq_check wants them in). */
int vrec_by_key_counter(const void *a, const void *b);

/* Counter, time and transaction checks over all records, added to `recs`
 * (sorted by vrec_by_key_counter) in any order; the transaction checks sort
 * the transaction records again, with the same bounded memory. `strings`
 * are the interned client ids and operation names the records point to.
 * Returns -1 when out of memory or the temporary file failed. */
int vseq_check(vsort *recs, const vkey *keys, size_t n_keys, char **strings, verify_result *r,
               const verify_options *o);

/* ---------------------------------------------- batched signatures */

#define VBATCH_JOBS 1024

/* One signature to check; the slices point into the batch's arena. */
typedef struct vjob {
    EVP_PKEY *pub;
    tse_hash hash;
    const uint8_t *tbs, *sig;
    size_t tbs_len, sig_len;
    const char *name;        /* the log's file name, in the arena */
    const char *cert_file;
    bool ok;
    tse_error err;
} vjob;

#define VBATCH_MAX_THREADS 16

/* ECDSA verification with fixed-base tables for one key (fixed.c): for
 * brainpool keys, NULL for others or when out of memory. One thread's. */
typedef struct vfixed vfixed;
vfixed *vfixed_new(EVP_PKEY *pub);
/* Whether the ecdsa-plain signature (r || s) verifies over the digest. */
bool vfixed_verify(vfixed *f, const uint8_t *digest, size_t dlen, const uint8_t *sig, size_t sig_len);
void vfixed_free(vfixed *f);

/* The DER ECDSA-Sig-Value of an ecdsa-plain signature r || s (`half`
 * bytes each, at most VSIG_HALF_MAX) into der: its length, 0 when it does
 * not fit in `cap`. As i2d_ECDSA_SIG writes it. */
#define VSIG_HALF_MAX 66
size_t vsig_der(const uint8_t *sig, size_t half, uint8_t *der, size_t cap);

/* Up to VBATCH_JOBS signatures whose messages are copied into the arena. */
typedef struct vbatch {
    vjob *jobs;
    size_t n;
    uint8_t *arena;
    size_t used, size;
    size_t next;             /* the next job a worker takes (under the pool's lock) */
    size_t done;             /* jobs checked (under the pool's lock) */
} vbatch;

/* Whether a message of `len` bytes named `name` fits in the batch. */
bool vbatch_fits(const vbatch *b, size_t len, const char *name);
/* A new job with a copy of the message (its address in *copy) and name;
 * the caller fills in key and slices. Only after vbatch_fits. */
vjob *vbatch_add(vbatch *b, const uint8_t *data, size_t len, const char *name, const uint8_t **copy);

/* Worker threads checking the jobs of a ring of batches: the oldest
 * `queued` from `head` on are the workers'; the one after them is filled by
 * the caller. The workers start with the first batch handed over and stop
 * with vpool_free. */
#define VPOOL_BATCHES 4
typedef struct vpool {
    vbatch ring[VPOOL_BATCHES];
    size_t head, queued;
    unsigned threads;
    pthread_t workers[VBATCH_MAX_THREADS];
    unsigned started;        /* workers running */
    bool failed;             /* a worker could not start: no more tried */
    bool stop;
    bool ready;              /* the lock and conditions exist */
    pthread_mutex_t mu;
    pthread_cond_t work;     /* to the workers: a batch handed over, or stop */
    pthread_cond_t done;     /* to the caller: a batch is checked */
} vpool;

/* `threads` 0: one per core. -1 when out of memory. */
int vpool_init(vpool *p, unsigned threads);
/* Stops the workers (unchecked jobs are left) and frees the batches. */
void vpool_free(vpool *p);
/* The batch the caller fills. */
vbatch *vpool_filling(vpool *p);
/* Hands the batch being filled to the workers (nothing when it is empty).
 * `last`: no more follow; a handful of signatures in all are then checked
 * at once, without threads. */
void vpool_submit(vpool *p, bool last);
/* The oldest batch handed over, once checked (ok / err set in its jobs),
 * when no batch is free to fill or `all`; NULL otherwise and when none is
 * handed over. The caller reads it, then gives it back with vpool_release. */
vbatch *vpool_take(vpool *p, bool all);
void vpool_release(vpool *p);

/* -------------------------------------------- plain ustar reader */

/* A plain ustar archive read over large buffers (tar.c): what it does not
 * take exactly as libarchive does, it declines, and libarchive reads the
 * archive instead. */
#define VTAR_MAX_DATA (1u << 20)
typedef struct vtar {
    const char *const *paths;
    size_t n_paths, part;
    int fd;                  /* the part being read, -1 between parts */
    uint8_t *buf;
    size_t cap, start, end;  /* buf[start..end): read, not consumed */
    uint64_t pos;            /* stream offset of buf[start] */
    uint64_t pending;        /* data and padding of the current entry left */
    bool eof;
    bool declined;           /* not plain ustar, cut short or unreadable here */
    bool trailing;           /* declined for bytes after the end mark */
    uint64_t end_mark;       /* where that end mark stands */
} vtar;

typedef struct vtar_entry {
    char name[101];
    uint64_t size;
    uint64_t offset;         /* of its data in the stream */
} vtar_entry;

/* Reads the parts as one stream. -1: out of memory. */
int vtar_open(vtar *t, const char *const *paths, size_t n);
void vtar_close(vtar *t);
/* The next entry, a regular file: 1; 0 after the end mark; 2 declined
 * (t->declined; t->trailing when only what follows the end mark is not
 * zero). */
int vtar_next(vtar *t, vtar_entry *e);
/* The content of the entry vtar_next gave last (at most VTAR_MAX_DATA
 * bytes), valid until the next call; NULL when declined (cut short). */
const uint8_t *vtar_data(vtar *t, const vtar_entry *e);

/* ------------------------------------------------- one verification */

/* State of one verification: the certificates, the signing keys seen, one
 * record per log, the interned client ids. */
typedef struct vctx {
    verify_result *r;
    const verify_options *o;
    vcert *certs;
    size_t n_certs, cap_certs;
    vcert *roots;            /* the trust anchors of the options */
    size_t n_roots;
    vkey *keys;
    size_t n_keys, last_key;
    vsort recs;              /* one record per log, sorted by key and counter */
    char **clients;
    size_t n_clients;
    uint32_t *slots;        /* open-addressing table of client indexes + 1 */
    size_t n_slots;
    bool single;            /* one log (verify_log): no chain or sequence checks */
    size_t expected_logs;   /* .log entries the first pass saw */
    vsort fins;             /* keep_finishes: Start and Finish records (finishes.c) */
    vpool sigs;             /* signatures being checked */
} vctx;

/* Starts a verification writing into `r`. -1 when out of memory. */
int vctx_init(vctx *x, verify_result *r, const verify_options *o, bool single);

/* Loads a certificate file; an unreadable one becomes a finding. -1: out of memory. */
int vctx_add_cert(vctx *x, const char *name, const uint8_t *data, size_t len);
/* Checks one log file (all per-log checks) and keeps its record. -1: out of memory. */
int vctx_check_log(vctx *x, const char *name, const uint8_t *data, size_t len);
/* Checks the pending signatures, then chain, counter and transaction
 * checks; fills the per-TSE summary. */
int vctx_finish(vctx *x);
void vctx_free(vctx *x);

#endif
