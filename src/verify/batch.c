/*
 * batch.c - signature checks in batches on every core. The archive is read
 * by one thread; the messages of up to VBATCH_JOBS logs are copied into an
 * arena and their signatures checked in parallel, each result in its own
 * slot, so findings are reported in archive order and memory stays at two
 * batches: one checked in the background while the next is read.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void *work(void *arg)
{
    vbatch *b = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->n)
            return NULL;
        vjob *j = &b->jobs[i];
        j->ok = csp_verify(j->pub, j->hash, j->tbs, j->tbs_len, j->sig, j->sig_len, &j->err) == 0;
    }
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
