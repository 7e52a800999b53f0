/*
 * spill.c - the per-log records of a verification in sorted order with
 * bounded memory (an external merge sort). Records are collected in a chunk
 * of fixed size; a full chunk is sorted and written to a temporary file (in
 * TMPDIR, removed at once) as one run; reading merges the runs, at most
 * VSORT_FANIN at a time (more are merged into longer runs first). Small
 * archives never touch the disk: one chunk is sorted in memory. When no
 * temporary file can be made at all, the records stay in memory (the chunk
 * grows) and s->in_memory says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define VSORT_CHUNK 65536u   /* records in memory: 2.5 MiB */
#define VSORT_FANIN 32u      /* runs merged at once */
#define VSORT_READ 256u      /* records read ahead per run */

int vsort_init(vsort *s, int (*cmp)(const void *, const void *), size_t chunk)
{
    memset(s, 0, sizeof *s);
    s->cmp = cmp;
    s->cap = chunk ? chunk : VSORT_CHUNK;
    s->buf = malloc(s->cap * sizeof *s->buf);
    return s->buf ? 0 : -1;
}

FILE *vtemp_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/opentse-verify-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    FILE *f = fdopen(fd, "w+b");
    if (!f)
        close(fd);
    return f;
}

/* Appends run (sorted records) to the file. -1: cannot write. */
static int put_run(vsort *s, const vrec *recs, size_t n)
{
    if (!s->tmp && !(s->tmp = vtemp_file()))
        return -1;
    if (vr_grow(&s->runs, &s->cap_runs, s->n_runs, sizeof *s->runs) != 0)
        return -1;
    if (fseeko(s->tmp, 0, SEEK_END) != 0)
        return -1;
    off_t off = ftello(s->tmp);
    if (off < 0 || fwrite(recs, sizeof *recs, n, s->tmp) != n)
        return -1;
    s->runs[s->n_runs++] = (vrun){off, n};
    return 0;
}

int vsort_add(vsort *s, const vrec *r)
{
    if (s->n == s->cap && !s->tmp && !s->in_memory && !(s->tmp = vtemp_file())) {
        s->in_memory = true;
        s->spill_errno = errno;
    }
    if (s->n == s->cap && s->in_memory) {
        vrec *b = realloc(s->buf, 2 * s->cap * sizeof *b);
        if (!b)
            return -1;
        s->buf = b;
        s->cap *= 2;
    }
    if (s->n == s->cap) {
        qsort(s->buf, s->n, sizeof *s->buf, s->cmp);
        if (put_run(s, s->buf, s->n) != 0)
            return -1;
        s->n = 0;
    }
    s->buf[s->n++] = *r;
    s->total++;
    return 0;
}

/* ------------------------------------------------------------ merging */

typedef struct vcursor {
    vrec buf[VSORT_READ];
    size_t pos, len;
    off_t off;               /* where the next records of the run are */
    size_t left;             /* records of the run not yet read into buf */
} vcursor;

/* Refills a cursor. 0: records in buf (or the run is done), -1: read error. */
static int refill(vsort *s, vcursor *c)
{
    if (c->pos < c->len || !c->left)
        return 0;
    size_t k = c->left < VSORT_READ ? c->left : VSORT_READ;
    if (fseeko(s->tmp, c->off, SEEK_SET) != 0 || fread(c->buf, sizeof *c->buf, k, s->tmp) != k)
        return -1;
    c->pos = 0;
    c->len = k;
    c->left -= k;
    c->off += (off_t)(k * sizeof *c->buf);
    return 0;
}

/* Cursors on runs [first, first + n). -1: out of memory or read error. */
static int open_cursors(vsort *s, size_t first, size_t n)
{
    free(s->cur);
    s->n_cur = 0;
    if (!(s->cur = calloc(n ? n : 1, sizeof *s->cur)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        s->cur[i].off = s->runs[first + i].off;
        s->cur[i].left = s->runs[first + i].n;
        if (refill(s, &s->cur[i]) != 0)
            return -1;
    }
    s->n_cur = n;
    return 0;
}

/* The smallest head of the open cursors into *out: 1, 0 when all are done,
 * -1 on a read error. */
static int merge_next(vsort *s, vrec *out)
{
    vcursor *best = NULL;
    for (size_t i = 0; i < s->n_cur; i++) {
        vcursor *c = &s->cur[i];
        if (c->pos < c->len && (!best || s->cmp(&c->buf[c->pos], &best->buf[best->pos]) < 0))
            best = c;
    }
    if (!best)
        return 0;
    *out = best->buf[best->pos++];
    return refill(s, best) == 0 ? 1 : -1;
}

/* Writes n records of the chunk buffer at the end of the file. */
static int put_tail(vsort *s, size_t n)
{
    return fseeko(s->tmp, 0, SEEK_END) == 0 && fwrite(s->buf, sizeof *s->buf, n, s->tmp) == n ? 0 : -1;
}

/* Merges runs [0, VSORT_FANIN) into one run at the end of the file (the
 * chunk buffer, free while reading, holds the output on its way). */
static int merge_front(vsort *s)
{
    if (fseeko(s->tmp, 0, SEEK_END) != 0)
        return -1;
    off_t start = ftello(s->tmp);
    if (start < 0 || open_cursors(s, 0, VSORT_FANIN) != 0)
        return -1;
    size_t n = 0, total = 0;
    int got;
    vrec r;
    while ((got = merge_next(s, &r)) == 1) {
        if (n == s->cap && put_tail(s, n) != 0)
            return -1;
        if (n == s->cap)
            n = 0;
        s->buf[n++] = r;
        total++;
    }
    if (got < 0 || put_tail(s, n) != 0)
        return -1;
    memmove(s->runs, s->runs + VSORT_FANIN, (s->n_runs - VSORT_FANIN) * sizeof *s->runs);
    s->n_runs -= VSORT_FANIN;
    s->runs[s->n_runs++] = (vrun){start, total};
    return 0;
}

int vsort_begin(vsort *s)
{
    qsort(s->buf, s->n, sizeof *s->buf, s->cmp);
    s->pos = 0;
    if (!s->n_runs)
        return 0;   /* everything in memory */
    if (s->n && put_run(s, s->buf, s->n) != 0)
        return -1;
    s->n = 0;
    while (s->n_runs > VSORT_FANIN)
        if (merge_front(s) != 0)
            return -1;
    return open_cursors(s, 0, s->n_runs);
}

int vsort_next(vsort *s, vrec *out)
{
    if (!s->n_runs) {
        if (s->pos >= s->n)
            return 0;
        *out = s->buf[s->pos++];
        return 1;
    }
    return merge_next(s, out);
}

void vsort_free(vsort *s)
{
    if (s->tmp)
        fclose(s->tmp);
    free(s->buf);
    free(s->runs);
    free(s->cur);
    memset(s, 0, sizeof *s);
}
