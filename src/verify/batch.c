/*
 * batch.c - signature checks in batches on every core. The archive is read
 * by one thread; the messages of up to VBATCH_JOBS logs are copied into an
 * arena and their signatures checked in parallel, each result in its own
 * slot, so findings are reported in archive order and memory stays at two
 * batches: one checked in the background while the next is read.
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

#include <openssl/ecdsa.h>
#include <openssl/err.h>

#include "internal.h"

#define VBATCH_ARENA (4u << 20)

int vbatch_init(vbatch *b, unsigned threads)
{
    memset(b, 0, sizeof *b);
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    b->threads = threads > VBATCH_MAX_THREADS ? VBATCH_MAX_THREADS : threads;
    b->size = VBATCH_ARENA;
    b->jobs = calloc(VBATCH_JOBS, sizeof *b->jobs);
    b->arena = malloc(b->size);
    return b->jobs && b->arena ? 0 : -1;
}

void vbatch_free(vbatch *b)
{
    vbatch_wait(b);
    free(b->jobs);
    free(b->arena);
    memset(b, 0, sizeof *b);
}

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
    size_t half;             /* bytes of r and of s: the group order's */
} vprep;

static void prep_free(vprep *p)
{
    EVP_PKEY_CTX_free(p->ctx);
    EVP_MD_free(p->md);
    memset(p, 0, sizeof *p);
}

/* Sets `p` up for the job's key and hash; false when that cannot be done
 * (then csp_verify checks the job). */
static bool prep_for(vprep *p, const vjob *j)
{
    if (p->ctx && p->pub == j->pub && p->hash == j->hash)
        return true;
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
    if (!p->md || !p->ctx || EVP_PKEY_verify_init(p->ctx) != 1) {
        prep_free(p);
        ERR_clear_error();
        return false;
    }
    p->pub = j->pub;
    p->hash = j->hash;
    p->half = ((size_t)bits + 7) / 8;
    return true;
}

/* Whether the job's ecdsa-plain signature (r || s) verifies over `p`. */
static bool prep_verifies(const vprep *p, const vjob *j)
{
    if (j->sig_len != 2 * p->half)
        return false;
    uint8_t digest[EVP_MAX_MD_SIZE], der[2 * 70 + 8];
    unsigned dlen = 0;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(j->sig, (int)p->half, NULL), *s = BN_bin2bn(j->sig + p->half, (int)p->half, NULL);
    bool ok = false;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL;   /* owned by sig */
        unsigned char *q = der;
        int n = i2d_ECDSA_SIG(sig, NULL);
        ok = n > 0 && (size_t)n <= sizeof der && i2d_ECDSA_SIG(sig, &q) == n &&
             EVP_Digest(j->tbs, j->tbs_len, digest, &dlen, p->md, NULL) == 1 &&
             EVP_PKEY_verify(p->ctx, der, (size_t)n, digest, dlen) == 1;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    ERR_clear_error();
    return ok;
}

static void *work(void *arg)
{
    vbatch *b = arg;
    vprep p = {0};
    for (;;) {
        size_t i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->n)
            break;
        vjob *j = &b->jobs[i];
        j->ok = (prep_for(&p, j) && prep_verifies(&p, j)) ||
                csp_verify(j->pub, j->hash, j->tbs, j->tbs_len, j->sig, j->sig_len, &j->err) == 0;
    }
    prep_free(&p);
    return NULL;
}

void vbatch_start(vbatch *b)
{
    b->next = 0;
    b->started = 0;
    /* Threads only pay off for more than a handful of signatures. */
    unsigned want = b->n < 64 ? 1 : b->threads;
    for (unsigned i = 0; i < want; i++)
        if (pthread_create(&b->workers[b->started], NULL, work, b) == 0)
            b->started++;
    if (!b->started)
        work(b);   /* no thread could start: check here */
}

void vbatch_wait(vbatch *b)
{
    for (unsigned i = 0; i < b->started; i++)
        pthread_join(b->workers[i], NULL);
    b->started = 0;
}

void vbatch_run(vbatch *b)
{
    vbatch_start(b);
    vbatch_wait(b);
}

void vbatch_clear(vbatch *b)
{
    b->n = 0;
    b->used = 0;
}
