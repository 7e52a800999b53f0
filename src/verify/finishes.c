/*
 * finishes.c - the transactions of an archive as their Finish logs signed
 * them (with the time of their Start log), kept when a cross-check needs
 * them: DSFinV-K tables (dsfinvk_check.c) and receipt QR codes
 * (`opentse qr verify --archive`).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static char *dup_bytes(logmsg_bytes b)
{
    char *s = malloc(b.n + 1);
    if (s) {
        if (b.n)
            memcpy(s, b.p, b.n);
        s[b.n] = 0;
    }
    return s;
}

int vfin_keep(vctx *x, const logmsg *m, const char *name, uint16_t key, uint8_t op)
{
    verify_result *r = x->r;
    if (op == VOP_START) {
        if (vr_grow(&x->starts, &x->cap_starts, x->n_starts, sizeof *x->starts) != 0)
            return -1;
        x->starts[x->n_starts++] = (struct vstart){key, m->transaction_number, m->log_time};
        return 0;
    }
    if (op != VOP_FINISH || m->signature.n > sizeof r->finishes->signature)
        return 0;
    if (vr_grow(&r->finishes, &r->cap_finishes, r->n_finishes, sizeof *r->finishes) != 0)
        return -1;
    verify_finish *f = &r->finishes[r->n_finishes++];   /* counted first: freed if partial */
    memset(f, 0, sizeof *f);
    f->tse = key;
    f->transaction = m->transaction_number;
    f->counter = m->signature_counter;
    f->time = m->log_time;
    memcpy(f->signature, m->signature.p, m->signature.n);
    f->signature_len = m->signature.n;
    size_t len = 0;
    if (m->has_process_data && !der_get_octets(&m->process_data, NULL, 0, &len))
        len = 0;
    if (!(f->process_data = malloc(len + 1)))
        return -1;
    if (len)
        der_get_octets(&m->process_data, f->process_data, len, &len);
    f->process_data[len] = 0;
    f->process_data_len = len;
    logmsg_bytes none = {NULL, 0};
    return (f->client = dup_bytes(m->client_id)) &&
                   (f->process_type = dup_bytes(m->has_process_type ? m->process_type : none)) &&
                   (f->file = strdup(name))
               ? 0
               : -1;
}

static int by_tse_tx(const void *a, const void *b)
{
    const verify_finish *x = a, *y = b;
    if (x->tse != y->tse)
        return x->tse < y->tse ? -1 : 1;
    return x->transaction < y->transaction ? -1 : x->transaction > y->transaction;
}

static int start_by_key_tx(const void *a, const void *b)
{
    const struct vstart *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->tx < y->tx ? -1 : x->tx > y->tx;
}

void vfin_finish(vctx *x)
{
    verify_result *r = x->r;
    if (x->n_starts)
        qsort(x->starts, x->n_starts, sizeof *x->starts, start_by_key_tx);
    for (size_t i = 0; i < r->n_finishes; i++) {
        verify_finish *f = &r->finishes[i];
        struct vstart probe = {(uint16_t)f->tse, f->transaction, 0};
        const struct vstart *s = x->n_starts ? bsearch(&probe, x->starts, x->n_starts,
                                                       sizeof *x->starts, start_by_key_tx)
                                             : NULL;
        f->has_start = s != NULL;
        f->start_time = s ? s->time : 0;
    }
    if (r->n_finishes)
        qsort(r->finishes, r->n_finishes, sizeof *r->finishes, by_tse_tx);
}

const verify_finish *verify_find_finish(const verify_result *r, const char *serial_hex, uint64_t tx)
{
    for (size_t k = 0; k < r->n_tses; k++) {
        if (strcasecmp(r->tses[k].serial_hex, serial_hex) != 0)
            continue;
        verify_finish probe = {.tse = k, .transaction = tx};
        return r->n_finishes ? bsearch(&probe, r->finishes, r->n_finishes, sizeof *r->finishes,
                                       by_tse_tx)
                             : NULL;
    }
    return NULL;
}
