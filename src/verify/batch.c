/*
 * batch.c - signature checks in batches on every core. The archive is read
 * by one thread; the messages of up to VBATCH_JOBS logs are copied into an
 * arena and their signatures checked in parallel, each result in its own
 * slot, so findings are reported in archive order and memory stays at one
 * batch.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define VBATCH_ARENA (4u << 20)
#define VBATCH_MAX_THREADS 16

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

typedef struct worker {
    vbatch *b;
    size_t next;    /* shared, taken atomically */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED);
        if (i >= w->b->n)
            return NULL;
        vjob *j = &w->b->jobs[i];
        j->ok = csp_verify(j->pub, j->hash, j->tbs, j->tbs_len, j->sig, j->sig_len, &j->err) == 0;
    }
}

void vbatch_run(vbatch *b)
{
    worker w = {b, 0};
    pthread_t t[VBATCH_MAX_THREADS];
    unsigned started = 0;
    /* Threads only pay off for more than a handful of signatures. */
    unsigned want = b->n < 64 ? 1 : b->threads;
    for (unsigned i = 1; i < want; i++)
        if (pthread_create(&t[started], NULL, work, &w) == 0)
            started++;
    work(&w);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
}

void vbatch_clear(vbatch *b)
{
    b->n = 0;
    b->used = 0;
}
