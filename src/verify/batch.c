/*
 * batch.c - signature checks on every core. The archive is read by one
 * thread; the messages of up to VBATCH_JOBS logs are copied into a batch's
 * arena and handed to a pool of worker threads that live as long as the
 * verification. The pool holds VPOOL_BATCHES batches: the workers check the
 * oldest ones job by job while the reader fills the next, so they never wait
 * for one another at a batch's end; each result goes into its job's slot and
 * a batch is taken back, checked, in archive order. Memory stays at the
 * pool's batches.
 *
 * Each worker sets up the verification of a key once (an EVP_PKEY_CTX, the
 * hash fetched) and checks its signatures over it: OpenSSL's per-call setup
 * would otherwise cost a fifth of the time. A signature that does not
 * verify that way goes through csp_verify, which decides the same and says
 * why, so findings do not depend on the path.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "internal.h"

#define VBATCH_ARENA (4u << 20)

/* Fewer signatures than this in all are checked by the caller itself:
 * threads only pay off for more than a handful. */
#define VPOOL_INLINE 64

bool vbatch_fits(const vbatch *b, size_t len, const char *name)
{
    return b->n < VBATCH_JOBS && b->used + len + strlen(name) + 1 <= b->size;
}

vjob *vbatch_add(vbatch *b, const uint8_t *data, size_t len, const char *name, const uint8_t **copy)
{
    vjob *j = &b->jobs[b->n++];
    memset(j, 0, sizeof *j);
    uint8_t *p = b->arena + b->used;
    memcpy(p, data, len);
    memcpy(p + len, name, strlen(name) + 1);
    j->name = (const char *)p + len;
    b->used += len + strlen(name) + 1;
    *copy = p;
    return j;
}

/* A worker's verification set up for one key and hash. */
typedef struct vprep {
    EVP_PKEY *pub;
    tse_hash hash;
    EVP_PKEY_CTX *ctx;
    EVP_MD *md;
    EVP_MD_CTX *mdctx;       /* the digest of each message, reused */
    size_t half;             /* bytes of r and of s: the group order's */
    size_t uses;             /* signatures of the key checked in a row */
    vfixed *fixed;           /* its tables (fixed.c), once it signed VPREP_FIXED in a row */
} vprep;

/* Signatures of one key in a row after which its tables pay off. */
#define VPREP_FIXED 64

static void prep_free(vprep *p)
{
    EVP_PKEY_CTX_free(p->ctx);
    EVP_MD_free(p->md);
    EVP_MD_CTX_free(p->mdctx);
    vfixed_free(p->fixed);
    memset(p, 0, sizeof *p);
}

/* Sets `p` up for the job's key and hash; false when that cannot be done
 * (then csp_verify checks the job). */
static bool prep_for(vprep *p, const vjob *j)
{
    if (p->ctx && p->pub == j->pub && p->hash == j->hash) {
        if (++p->uses == VPREP_FIXED)
            p->fixed = vfixed_new(p->pub);   /* NULL: not a curve it serves */
        return true;
    }
    prep_free(p);
    const char *md = j->hash == TSE_HASH_SHA256   ? "SHA256"
                     : j->hash == TSE_HASH_SHA384 ? "SHA384"
                     : j->hash == TSE_HASH_SHA512 ? "SHA512"
                                                  : NULL;
    int bits = EVP_PKEY_get_bits(j->pub);
    if (!md || bits <= 0)
        return false;
    p->md = EVP_MD_fetch(NULL, md, NULL);
    p->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, j->pub, NULL);
    p->mdctx = EVP_MD_CTX_new();
    if (!p->md || !p->ctx || !p->mdctx || EVP_PKEY_verify_init(p->ctx) != 1) {
        prep_free(p);
        ERR_clear_error();
        return false;
    }
    p->pub = j->pub;
    p->hash = j->hash;
    p->half = ((size_t)bits + 7) / 8;
    return true;
}

size_t vsig_der(const uint8_t *sig, size_t half, uint8_t *der, size_t cap)
{
    uint8_t body[2 * (VSIG_HALF_MAX + 3)];
    size_t n = 0;
    if (half == 0 || half > VSIG_HALF_MAX)
        return 0;
    for (int i = 0; i < 2; i++) {
        const uint8_t *v = sig + (size_t)i * half;
        size_t len = half;
        while (len > 1 && v[0] == 0) {   /* minimal: no leading zero octets */
            v++;
            len--;
        }
        bool pad = v[0] & 0x80;          /* a positive INTEGER */
        body[n++] = 0x02;
        body[n++] = (uint8_t)(len + pad);
        if (pad)
            body[n++] = 0;
        memcpy(body + n, v, len);
        n += len;
    }
    size_t head = n < 0x80 ? 2 : 3;
    if (head + n > cap)
        return 0;
    der[0] = 0x30;
    if (head == 3)
        der[1] = 0x81;
    der[head - 1] = (uint8_t)n;
    memcpy(der + head, body, n);
    return head + n;
}

/* Whether the job's ecdsa-plain signature (r || s) verifies over `p`. */
static bool prep_verifies(const vprep *p, const vjob *j)
{
    if (j->sig_len != 2 * p->half)
        return false;
    uint8_t digest[EVP_MAX_MD_SIZE], der[2 * (VSIG_HALF_MAX + 3) + 3];
    unsigned dlen = 0;
    if (EVP_DigestInit_ex(p->mdctx, p->md, NULL) != 1 || EVP_DigestUpdate(p->mdctx, j->tbs, j->tbs_len) != 1 ||
        EVP_DigestFinal_ex(p->mdctx, digest, &dlen) != 1) {
        ERR_clear_error();
        return false;
    }
    if (p->fixed)
        return vfixed_verify(p->fixed, digest, dlen, j->sig, j->sig_len);
    size_t n = vsig_der(j->sig, p->half, der, sizeof der);
    bool ok = n && EVP_PKEY_verify(p->ctx, der, n, digest, dlen) == 1;
    ERR_clear_error();
    return ok;
}

static void check_job(vprep *p, vjob *j)
{
    j->ok = (prep_for(p, j) && prep_verifies(p, j)) ||
            csp_verify(j->pub, j->hash, j->tbs, j->tbs_len, j->sig, j->sig_len, &j->err) == 0;
}

/* ------------------------------------------------------------- pool */

int vpool_init(vpool *p, unsigned threads)
{
    memset(p, 0, sizeof *p);
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    p->threads = threads > VBATCH_MAX_THREADS ? VBATCH_MAX_THREADS : threads;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&p->work, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return -1;
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->mu);
        return -1;
    }
    p->ready = true;
    for (size_t i = 0; i < VPOOL_BATCHES; i++) {
        vbatch *b = &p->ring[i];
        b->size = VBATCH_ARENA;
        if (!(b->jobs = calloc(VBATCH_JOBS, sizeof *b->jobs)) || !(b->arena = malloc(b->size)))
            return -1;
    }
    return 0;
}

void vpool_free(vpool *p)
{
    if (p->ready) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        for (unsigned i = 0; i < p->started; i++)
            pthread_join(p->workers[i], NULL);
        pthread_cond_destroy(&p->done);
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->mu);
    }
    for (size_t i = 0; i < VPOOL_BATCHES; i++) {
        free(p->ring[i].jobs);
        free(p->ring[i].arena);
    }
    memset(p, 0, sizeof *p);
}

vbatch *vpool_filling(vpool *p)
{
    return &p->ring[(p->head + p->queued) % VPOOL_BATCHES];
}

/* A worker: takes the next unchecked job of the oldest batch that has one,
 * until the pool stops. */
static void *work(void *arg)
{
    vpool *p = arg;
    vprep prep = {0};
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        vbatch *b = NULL;
        for (size_t i = 0; i < p->queued && !b; i++) {
            vbatch *c = &p->ring[(p->head + i) % VPOOL_BATCHES];
            if (c->next < c->n)
                b = c;
        }
        if (!b) {
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        vjob *j = &b->jobs[b->next++];
        pthread_mutex_unlock(&p->mu);
        check_job(&prep, j);
        pthread_mutex_lock(&p->mu);
        if (++b->done == b->n)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    prep_free(&prep);
    return NULL;
}

/* Checks the jobs of `b` not yet taken, here (no worker runs). */
static void check_here(vbatch *b)
{
    vprep prep = {0};
    for (; b->next < b->n; b->next++, b->done++)
        check_job(&prep, &b->jobs[b->next]);
    prep_free(&prep);
}

/* Starts the workers not yet running; p->failed when one cannot start. */
static void start_workers(vpool *p)
{
    while (p->started < p->threads && !p->failed) {
        if (pthread_create(&p->workers[p->started], NULL, work, p) == 0)
            p->started++;
        else
            p->failed = true;
    }
}

void vpool_submit(vpool *p, bool last)
{
    vbatch *b = vpool_filling(p);
    if (!b->n)
        return;
    if (!p->started && last && !p->queued && b->n < VPOOL_INLINE)
        check_here(b);   /* a handful of signatures in all */
    else
        start_workers(p);
    pthread_mutex_lock(&p->mu);
    p->queued++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

vbatch *vpool_take(vpool *p, bool all)
{
    if (!p->queued || (!all && p->queued < VPOOL_BATCHES))
        return NULL;
    vbatch *b = &p->ring[p->head];
    if (!p->started)
        check_here(b);   /* no thread could start */
    pthread_mutex_lock(&p->mu);
    while (b->done < b->n)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return b;
}

void vpool_release(vpool *p)
{
    vbatch *b = &p->ring[p->head];
    pthread_mutex_lock(&p->mu);
    b->n = b->used = b->next = b->done = 0;
    p->head = (p->head + 1) % VPOOL_BATCHES;
    p->queued--;
    pthread_mutex_unlock(&p->mu);
}
