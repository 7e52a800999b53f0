/*
 * finishes.c - the transactions of an archive as their Finish logs signed
 * them (with the time of their Start log), kept when a cross-check needs
 * them: DSFinV-K tables (dsfinvk_check.c) and receipt QR codes
 * (`opentse qr verify --archive`).
 *
 * Memory stays bounded whatever the archive's size: each Finish log's data
 * goes into a byte store (a temporary file once past the memory of a
 * records chunk), and a record of each Start and Finish into a sorter
 * (spill.c); at the end the sorted records become a table of fixed-size
 * rows by TSE and transaction number in a second store, in which a
 * transaction is found by binary search.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

/* ------------------------------------------------------------ store */

void vstore_init(vstore *s, size_t mem)
{
    memset(s, 0, sizeof *s);
    s->mem_max = mem;
}

int vstore_put(vstore *s, const void *p, size_t n, uint64_t *off)
{
    if (off)
        *off = s->size;
    if (!s->f && !s->in_memory && s->len + n > s->mem_max) {
        /* past the memory allowed: everything so far into a temporary file */
        if (!(s->f = vtemp_file())) {
            s->in_memory = true;
            s->spill_errno = errno;
        } else if (s->len && fwrite(s->mem, 1, s->len, s->f) != s->len) {
            return -1;
        } else {
            free(s->mem);
            s->mem = NULL;
            s->len = s->cap = 0;
        }
    }
    if (s->f) {
        if (n && fwrite(p, 1, n, s->f) != n)
            return -1;
        s->dirty = true;
    } else {
        if (s->len + n > s->cap) {
            size_t cap = s->cap ? s->cap : 4096;
            while (cap < s->len + n)
                cap *= 2;
            uint8_t *m = realloc(s->mem, cap);
            if (!m)
                return -1;
            s->mem = m;
            s->cap = cap;
        }
        if (n)
            memcpy(s->mem + s->len, p, n);
        s->len += n;
    }
    s->size += n;
    return 0;
}

int vstore_get(vstore *s, uint64_t off, void *p, size_t n)
{
    if (off > s->size || n > s->size - off)
        return -1;
    if (!s->f) {
        memcpy(p, s->mem + off, n);
        return 0;
    }
    if (s->dirty && fflush(s->f) != 0)
        return -1;
    s->dirty = false;
    uint8_t *q = p;
    while (n) {
        ssize_t got = pread(fileno(s->f), q, n, (off_t)off);
        if (got <= 0)
            return -1;
        q += got;
        off += (uint64_t)got;
        n -= (size_t)got;
    }
    return 0;
}

void vstore_free(vstore *s)
{
    if (s->f)
        fclose(s->f);
    free(s->mem);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------- keeping */

/* A row of the table: one Finish log. */
typedef struct vfinrow {
    uint64_t tx;
    uint64_t off;            /* its data in the heap */
    int64_t time, start_time;
    uint32_t tse;
    uint32_t len;            /* bytes of its data */
    uint8_t has_start;
    uint8_t pad[7];
} vfinrow;

struct verify_finishes {
    vstore heap;             /* per Finish log: counter, signature, client, processType, processData, file */
    vstore table;            /* vfinrow, by TSE and transaction number */
};

/* Start and Finish records by key, transaction number, Start before Finish,
 * then archive order. A Finish's record holds the offset of its data in the
 * heap in `counter`, their length in `digest`. */
static int by_key_tx_op(const void *a, const void *b)
{
    const vrec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->txno != y->txno)
        return x->txno < y->txno ? -1 : 1;
    if (x->op != y->op)
        return x->op < y->op ? -1 : 1;
    return x->counter < y->counter ? -1 : x->counter > y->counter;
}

int vfin_init(vctx *x)
{
    if (!(x->r->finishes = calloc(1, sizeof *x->r->finishes)) ||
        vsort_init(&x->fins, by_key_tx_op, x->o->spill_records) != 0)
        return -1;
    size_t mem = x->fins.cap * sizeof(vrec);
    vstore_init(&x->r->finishes->heap, mem);
    vstore_init(&x->r->finishes->table, mem);
    return 0;
}

static int put_field(vstore *s, const void *p, uint32_t n)
{
    return vstore_put(s, &n, sizeof n, NULL) == 0 && vstore_put(s, p, n, NULL) == 0 ? 0 : -1;
}

int vfin_keep(vctx *x, const logmsg *m, const char *name, uint16_t key, uint8_t op)
{
    vrec rec = {.key = key, .txno = m->transaction_number, .time = m->log_time, .op = op,
                .counter = m->signature_counter};
    if (op == VOP_START)
        return vsort_add(&x->fins, &rec);
    if (op != VOP_FINISH || m->signature.n > sizeof ((verify_finish *)0)->signature)
        return 0;
    vstore *h = &x->r->finishes->heap;
    /* processData flattened: a constructed OCTET STRING's parts in one */
    size_t pd_len = 0;
    if (m->has_process_data && !der_get_octets(&m->process_data, NULL, 0, &pd_len))
        pd_len = 0;
    uint8_t *pd = malloc(pd_len + 1);
    if (!pd)
        return -1;
    if (pd_len)
        der_get_octets(&m->process_data, pd, pd_len, &pd_len);
    uint64_t start = h->size;
    logmsg_bytes none = {NULL, 0}, type = m->has_process_type ? m->process_type : none;
    int rc = vstore_put(h, &m->signature_counter, sizeof m->signature_counter, &rec.counter) == 0 &&
                     put_field(h, m->signature.p, (uint32_t)m->signature.n) == 0 &&
                     put_field(h, m->client_id.p, (uint32_t)m->client_id.n) == 0 &&
                     put_field(h, type.p, (uint32_t)type.n) == 0 && put_field(h, pd, (uint32_t)pd_len) == 0 &&
                     put_field(h, name, (uint32_t)strlen(name)) == 0
                 ? 0
                 : -1;
    free(pd);
    if (rc == 0 && h->size - start > UINT32_MAX)
        return 0;   /* not kept: cannot be one row */
    rec.digest = (uint32_t)(h->size - start);   /* the length of its data */
    return rc == 0 ? vsort_add(&x->fins, &rec) : -1;
}

int vfin_finish(vctx *x)
{
    verify_result *r = x->r;
    if (!r->finishes)
        return 0;
    if (vsort_begin(&x->fins) != 0)
        return -1;
    vrec c;
    int got;
    bool have_start = false;
    vrec start = {0};
    while ((got = vsort_next(&x->fins, &c)) == 1) {
        if (c.op == VOP_START) {
            if (!have_start || start.key != c.key || start.txno != c.txno) {
                start = c;
                have_start = true;
            }
            continue;
        }
        vfinrow row = {.tx = c.txno, .off = c.counter, .time = c.time, .tse = c.key, .len = c.digest};
        if (have_start && start.key == c.key && start.txno == c.txno) {
            row.has_start = 1;
            row.start_time = start.time;
        }
        if (vstore_put(&r->finishes->table, &row, sizeof row, NULL) != 0)
            return -1;
        r->n_finishes++;
    }
    if (got < 0)
        return -1;
    const vstore *h = &r->finishes->heap;
    bool in_memory = h->in_memory || x->fins.in_memory;
    int e = h->in_memory ? h->spill_errno : x->fins.spill_errno;
    vsort_free(&x->fins);
    const char *tmp = getenv("TMPDIR");
    if (in_memory &&
        vr_add(r, x->o, VERIFY_NOTE, "verify-in-memory", NULL,
               "no temporary file could be made in %s (%s): the %zu Finish logs kept for the "
               "cross-check were kept in memory",
               tmp && *tmp ? tmp : "/tmp", strerror(e), r->n_finishes) != 0)
        return -1;
    return 0;
}

void vfin_free(verify_result *r)
{
    if (r->finishes) {
        vstore_free(&r->finishes->heap);
        vstore_free(&r->finishes->table);
        free(r->finishes);
    }
    r->finishes = NULL;
    r->n_finishes = 0;
}

/* ------------------------------------------------------------ reading */

static char *take_field(const uint8_t **p, const uint8_t *end, size_t *len)
{
    uint32_t n;
    if ((size_t)(end - *p) < sizeof n)
        return NULL;
    memcpy(&n, *p, sizeof n);
    *p += sizeof n;
    if ((size_t)(end - *p) < n)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, *p, n);
        s[n] = 0;
    }
    *p += n;
    if (len)
        *len = n;
    return s;
}

int vfin_at(const verify_result *r, size_t i, verify_finish *out)
{
    memset(out, 0, sizeof *out);
    vfinrow row;
    if (!r->finishes || i >= r->n_finishes ||
        vstore_get(&r->finishes->table, (uint64_t)i * sizeof row, &row, sizeof row) != 0)
        return -1;
    uint8_t *data = malloc(row.len ? row.len : 1);
    if (!data)
        return -1;
    if (vstore_get(&r->finishes->heap, row.off, data, row.len) != 0) {
        free(data);
        return -1;
    }
    out->tse = row.tse;
    out->transaction = row.tx;
    out->time = row.time;
    out->has_start = row.has_start;
    out->start_time = row.start_time;
    const uint8_t *p = data + sizeof out->counter, *end = data + row.len;
    memcpy(&out->counter, data, sizeof out->counter);
    size_t sig_len = 0;
    char *sig = take_field(&p, end, &sig_len);
    if (sig && sig_len <= sizeof out->signature) {
        memcpy(out->signature, sig, sig_len);
        out->signature_len = sig_len;
    }
    out->client = take_field(&p, end, NULL);
    out->process_type = take_field(&p, end, NULL);
    out->process_data = (uint8_t *)take_field(&p, end, &out->process_data_len);
    out->file = take_field(&p, end, NULL);
    free(sig);
    free(data);
    if (!sig || !out->client || !out->process_type || !out->process_data || !out->file) {
        verify_finish_free(out);
        return -1;
    }
    return 0;
}

int vfin_find(const verify_result *r, size_t tse, uint64_t tx, size_t *index)
{
    /* the first row at or after (tse, tx) */
    size_t lo = 0, hi = r->n_finishes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        vfinrow row;
        if (vstore_get(&r->finishes->table, (uint64_t)mid * sizeof row, &row, sizeof row) != 0)
            return -1;
        if (row.tse < tse || (row.tse == tse && row.tx < tx))
            lo = mid + 1;
        else
            hi = mid;
    }
    vfinrow row;
    if (lo == r->n_finishes)
        return 0;
    if (vstore_get(&r->finishes->table, (uint64_t)lo * sizeof row, &row, sizeof row) != 0)
        return -1;
    if (row.tse != tse || row.tx != tx)
        return 0;
    *index = lo;
    return 1;
}

int verify_find_finish(const verify_result *r, const char *serial_hex, uint64_t tx, verify_finish *out)
{
    memset(out, 0, sizeof *out);
    for (size_t k = 0; k < r->n_tses; k++) {
        if (strcasecmp(r->tses[k].serial_hex, serial_hex) != 0)
            continue;
        size_t i;
        int found = r->finishes ? vfin_find(r, k, tx, &i) : 0;
        if (found <= 0)
            return found;
        return vfin_at(r, i, out) == 0 ? 1 : -1;
    }
    return 0;
}

void verify_finish_free(verify_finish *f)
{
    free(f->client);
    free(f->process_type);
    free(f->process_data);
    free(f->file);
    memset(f, 0, sizeof *f);
}
