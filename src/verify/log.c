/*
 * log.c - one verification's state and the checks of one log message: it
 * parses, carries the file name its content gives, verifies against the
 * certificate of its serial number; then the small record kept per log. At
 * the end (vctx_finish) the certificate chains and the sequence checks run
 * over what was kept.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/logmsg.h"
#include "csp/csp.h"
#include "internal.h"

/* ------------------------------------------------------ certificates */

int vctx_add_cert(vctx *x, const char *name, const uint8_t *data, size_t len)
{
    if (vr_grow(&x->certs, &x->cap_certs, x->n_certs, sizeof *x->certs) != 0)
        return -1;
    char err[160];
    vcert *c = &x->certs[x->n_certs];
    if (vcert_load(c, name, data, len, err, sizeof err) != 0) {
        vcert_free(c);
        return vr_add(x->r, x->o, VERIFY_ERROR, "certificate-unreadable", name, "%s", err);
    }
    x->n_certs++;
    x->r->counts.certificates++;
    return 0;
}

/* ----------------------------------------------------------- clients */

static uint32_t hash_bytes(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int grow_slots(vctx *x)
{
    size_t n = x->n_slots ? 2 * x->n_slots : 64;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < x->n_clients; i++) {
        const char *c = x->clients[i];
        size_t j = hash_bytes((const uint8_t *)c, strlen(c)) & (n - 1);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(x->slots);
    x->slots = s;
    x->n_slots = n;
    return 0;
}

/* Index of an interned string (a client id or an operation name), added
 * when new; -1 when out of memory. */
static int64_t intern_client(vctx *x, logmsg_bytes id)
{
    if (!id.n)
        id.p = (const uint8_t *)"";
    if (2 * (x->n_clients + 1) > x->n_slots && grow_slots(x) != 0)
        return -1;
    size_t j = hash_bytes(id.p, id.n) & (x->n_slots - 1);
    for (; x->slots[j]; j = (j + 1) & (x->n_slots - 1)) {
        const char *c = x->clients[x->slots[j] - 1];
        if (strlen(c) == id.n && memcmp(c, id.p, id.n) == 0)
            return x->slots[j] - 1;
    }
    if (x->n_clients >= UINT32_MAX - 1)
        return -1;
    char **cl = realloc(x->clients, (x->n_clients + 1) * sizeof *cl);
    if (!cl)
        return -1;
    x->clients = cl;
    if (!(cl[x->n_clients] = strndup((const char *)id.p, id.n)))
        return -1;
    x->slots[j] = (uint32_t)++x->n_clients;
    return (int64_t)x->n_clients - 1;
}

/* -------------------------------------------------------------- keys */

/* Index of the key of a serial number, added when new; -1 when out of memory. */
static int64_t key_index(vctx *x, const logmsg *m)
{
    if (x->n_keys && memcmp(x->keys[x->last_key].serial, m->serial_number.p, 32) == 0)
        return (int64_t)x->last_key;
    for (size_t i = 0; i < x->n_keys; i++)
        if (memcmp(x->keys[i].serial, m->serial_number.p, 32) == 0)
            return (int64_t)(x->last_key = i);
    if (x->n_keys >= UINT16_MAX)
        return -1;
    vkey *k = realloc(x->keys, (x->n_keys + 1) * sizeof *k);
    if (!k)
        return -1;
    x->keys = k;
    k = &x->keys[x->n_keys];
    memset(k, 0, sizeof *k);
    memcpy(k->serial, m->serial_number.p, 32);
    k->cert = vcert_find(x->certs, x->n_certs, k->serial);
    k->pub = k->cert ? k->cert->key : NULL;
    k->min_time = k->max_time = m->log_time;
    snprintf(k->sigalg, sizeof k->sigalg, "%s", m->signature_algorithm_oid);
    return (int64_t)(x->last_key = x->n_keys++);
}

/* The hash of an ecdsa-plain algorithm csp_verify supports, else DEFAULT. */
static tse_hash hash_of(const char *oid)
{
    bool sha3;
    const char *name = logmsg_sigalg_name(oid);
    int bits = logmsg_sigalg_hash_bits(oid, &sha3);
    if (!name || strncmp(name, "ecdsa-plain-", 12) != 0 || sha3)
        return TSE_HASH_DEFAULT;
    return bits == 256 ? TSE_HASH_SHA256
           : bits == 384 ? TSE_HASH_SHA384
           : bits == 512 ? TSE_HASH_SHA512
                         : TSE_HASH_DEFAULT;
}

/* -------------------------------------------------------- one log */

/* The name must be the one the content gives, with "_Fc-<n>" only where the
 * archive needed it. */
static int check_name(vctx *x, const char *name, const logmsg *m)
{
    char ours[512], numbered[512];
    if (!logmsg_filename(m, 0, ours, sizeof ours))
        return vr_add(x->r, x->o, VERIFY_ERROR, "file-name-mismatch", name,
                      "the content gives no valid file name (empty clientId or operation, or "
                      "one with a path separator or control character)");
    if (strcmp(name, ours) == 0)
        return 0;
    const char *fc = strstr(name, "_Fc-");
    if (fc) {
        unsigned long n = strtoul(fc + 4, NULL, 10);
        if (n > 0 && n < 1000000 && logmsg_filename(m, (unsigned)n, numbered, sizeof numbered) &&
            strcmp(name, numbered) == 0)
            return 0;
    }
    return vr_add(x->r, x->o, VERIFY_ERROR, "file-name-mismatch", name,
                  "the content gives the name %s", ours);
}

/* The results of a checked batch, in archive order. */
static int report(vctx *x, const vbatch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const vjob *j = &b->jobs[i];
        if (j->ok)
            x->r->counts.signatures_valid++;
        else if (vr_add(x->r, x->o, VERIFY_ERROR, "signature-invalid", j->name,
                        "%s with the key of %s", j->err.message, j->cert_file) != 0)
            return -1;
    }
    return 0;
}

/* Signatures are checked by the pool's workers (batch.c) while the next
 * batch is read: the full batch is handed over, and the results of the
 * batches checked are taken in archive order when no batch is free to fill.
 * `last`: every batch, after waiting for it. */
static int flush(vctx *x, bool last)
{
    vpool_submit(&x->sigs, last);
    vbatch *b;
    while ((b = vpool_take(&x->sigs, last)) != NULL) {
        int rc = report(x, b);
        vpool_release(&x->sigs);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int check_signature(vctx *x, const char *name, const uint8_t *data, size_t len,
                           const logmsg *m, vkey *k)
{
    if (!k->pub)
        return 0;   /* one finding per key: certificate-missing */
    tse_hash h = hash_of(m->signature_algorithm_oid);
    if (h == TSE_HASH_DEFAULT) {
        const char *alg = logmsg_sigalg_name(m->signature_algorithm_oid);
        return vr_add(x->r, x->o, VERIFY_ERROR, "signature-algorithm-unsupported", name,
                      "%s cannot be checked", alg ? alg : m->signature_algorithm_oid);
    }
    if (!vbatch_fits(vpool_filling(&x->sigs), len, name) && flush(x, false) != 0)
        return -1;
    const uint8_t *copy;
    vjob *j = vbatch_add(vpool_filling(&x->sigs), data, len, name, &copy);
    j->pub = k->pub;
    j->hash = h;
    j->cert_file = k->cert->file;
    j->tbs = copy + (m->signed_bytes.p - data);
    j->tbs_len = m->signed_bytes.n;
    j->sig = copy + (m->signature.p - data);
    j->sig_len = m->signature.n;
    return 0;
}

static uint8_t op_of(const logmsg *m)
{
    /* the transaction phases by the parser's reading of either version */
    static const uint8_t tx[] = {[LOGMSG_TX_START] = VOP_START, [LOGMSG_TX_UPDATE] = VOP_UPDATE,
                                 [LOGMSG_TX_FINISH] = VOP_FINISH};
    if (m->kind == LOGMSG_TRANSACTION && m->tx_op != LOGMSG_TX_NONE)
        return tx[m->tx_op];
    if (m->kind == LOGMSG_SYSTEM && m->operation.n == 10 && !memcmp(m->operation.p, "updateTime", 10))
        return VOP_UPDATE_TIME;
    return VOP_OTHER;
}

static int keep(vctx *x, const vrec *rec)
{
    return vsort_add(&x->recs, rec);
}

int vctx_check_log(vctx *x, const char *name, const uint8_t *data, size_t len)
{
    verify_counts *c = &x->r->counts;
    tse_error err = {0};
    logmsg m;
    c->logs++;
    if (!logmsg_parse(data, len, &m, &err))
        return vr_add(x->r, x->o, VERIFY_ERROR, "log-malformed", name, "%s", err.message);
    vrec rec = {.counter = m.signature_counter, .time = m.log_time, .kind = (uint8_t)m.kind,
                .op = op_of(&m)};
    c->format2_logs += m.version == LOGMSG_VERSION_2;
    c->format3_logs += m.version == LOGMSG_VERSION_3;
    if (m.kind == LOGMSG_TRANSACTION) {
        c->transaction_logs++;
        c->starts += rec.op == VOP_START;
        c->updates += rec.op == VOP_UPDATE;
        c->finishes += rec.op == VOP_FINISH;
        int64_t client = intern_client(x, m.client_id);
        if (client < 0)
            return -1;
        rec.client = (uint32_t)client;
        rec.txno = m.transaction_number;
    } else if (m.kind == LOGMSG_SYSTEM) {
        c->system_logs++;
    } else {
        c->audit_logs++;
    }
    int64_t opname = intern_client(x, m.operation);
    if (opname < 0)
        return -1;
    rec.opname = (uint32_t)opname;
    rec.digest = hash_bytes(data, len);
    int64_t ki = key_index(x, &m);
    if (ki < 0)
        return -1;
    vkey *k = &x->keys[ki];
    rec.key = (uint16_t)ki;
    k->logs++;
    if (m.log_time < k->min_time)
        k->min_time = m.log_time;
    if (m.log_time > k->max_time)
        k->max_time = m.log_time;
    if (strcmp(k->sigalg, m.signature_algorithm_oid) != 0 &&
        vr_add(x->r, x->o, VERIFY_ERROR, "signature-algorithm-changed", name,
               "signed with %s, earlier logs of the same key with %s", m.signature_algorithm_oid,
               k->sigalg) != 0)
        return -1;
    if (check_name(x, name, &m) != 0 || check_signature(x, name, data, len, &m, k) != 0)
        return -1;
    if (x->r->finishes && m.kind == LOGMSG_TRANSACTION &&
        vfin_keep(x, &m, name, rec.key, rec.op) != 0)
        return -1;
    return keep(x, &rec);
}

/* ------------------------------------------------------------ finish */

static int summarize_keys(vctx *x)
{
    verify_result *r = x->r;
    if (x->n_keys && !(r->tses = calloc(x->n_keys, sizeof *r->tses)))
        return -1;
    r->n_tses = x->n_keys;
    r->counts.tses = x->n_keys;
    for (size_t i = 0; i < x->n_keys; i++) {
        const vkey *k = &x->keys[i];
        verify_tse *t = &r->tses[i];
        const char *alg = logmsg_sigalg_name(k->sigalg);
        hex_encode(t->serial_hex, sizeof t->serial_hex, k->serial, 32);
        snprintf(t->signature_algorithm, sizeof t->signature_algorithm, "%s", alg ? alg : k->sigalg);
        t->has_certificate = k->cert != NULL;
        t->first_time = k->min_time;
        t->last_time = k->max_time;
        t->logs = k->logs;
        int rc = 0;
        if (!k->cert && x->single && x->n_certs)
            rc = vr_add(r, x->o, VERIFY_ERROR, "certificate-key-mismatch", x->certs[0].file,
                        "holds key %s, but the log was signed by TSE %s", x->certs[0].key_hex,
                        t->serial_hex);
        else if (!k->cert && x->single)
            rc = vr_add(r, x->o, VERIFY_WARNING, "signature-unchecked", NULL,
                        "no certificate given for TSE %s: the signature was not checked",
                        t->serial_hex);
        else if (!k->cert)
            rc = vr_add(r, x->o, VERIFY_ERROR, "certificate-missing", NULL,
                        "no certificate in the archive holds the key of TSE %s: the signatures "
                        "of its %zu logs cannot be checked",
                        t->serial_hex, k->logs);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int verify_input_check(const verify_input *in, bool crl, char *err, size_t errlen)
{
    if (crl) {
        X509_CRL *c = vcrl_load(in);
        if (!c)
            snprintf(err, errlen, "not a DER or PEM certificate revocation list");
        X509_CRL_free(c);
        return c ? 0 : -1;
    }
    vcert c;
    int rc = vcert_load(&c, in->name ? in->name : "root", in->data, in->len, err, errlen);
    vcert_free(&c);
    return rc;
}

/* The trust anchors of the options; an unreadable one is a finding. */
static int load_roots(vctx *x)
{
    size_t n = x->o ? x->o->n_roots : 0;
    if (!n)
        return 0;
    if (!(x->roots = calloc(n, sizeof *x->roots)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const verify_input *in = &x->o->roots[i];
        const char *name = in->name ? in->name : "root";
        char err[160];
        vcert *c = &x->roots[x->n_roots];
        if (vcert_load(c, name, in->data, in->len, err, sizeof err) != 0) {
            vcert_free(c);
            if (vr_add(x->r, x->o, VERIFY_ERROR, "root-unreadable", name, "%s", err) != 0)
                return -1;
            continue;
        }
        x->n_roots++;
    }
    return 0;
}

int vctx_init(vctx *x, verify_result *r, const verify_options *o, bool single)
{
    memset(x, 0, sizeof *x);
    x->r = r;
    x->o = o;
    x->single = single;
    if (vpool_init(&x->sigs, o ? o->threads : 0) != 0 ||
        vsort_init(&x->recs, vrec_by_key_counter, o ? o->spill_records : 0) != 0 ||
        (o && o->keep_finishes && !single && vfin_init(x) != 0))
        return -1;
    return single ? 0 : load_roots(x);
}

int vctx_finish(vctx *x)
{
    if (flush(x, true) != 0 || summarize_keys(x) != 0)
        return -1;
    if (vcert_check(x->certs, x->n_certs, x->roots, x->n_roots, x->keys, x->n_keys, !x->single,
                    x->r, x->o) != 0)
        return -1;
    if (x->single) { /* no sequence to check; the counters seen still go in the summary */
        vrec rec;
        if (vsort_begin(&x->recs) != 0)
            return -1;
        while (vsort_next(&x->recs, &rec) == 1) {
            verify_tse *t = &x->r->tses[rec.key];
            uint64_t c = rec.counter;
            if (!t->first_counter || c < t->first_counter)
                t->first_counter = c;
            if (c > t->last_counter)
                t->last_counter = c;
        }
        return 0;
    }
    if (vcrl_check(x->certs, x->n_certs, x->roots, x->n_roots, x->r, x->o) != 0 ||
        vcert_summarize(x->certs, x->n_certs, x->roots, x->n_roots, x->r) != 0)
        return -1;
    if (vfin_finish(x) != 0)
        return -1;
    return vseq_check(&x->recs, x->keys, x->n_keys, x->clients, x->r, x->o);
}

void vctx_free(vctx *x)
{
    for (size_t i = 0; i < x->n_certs; i++)
        vcert_free(&x->certs[i]);
    free(x->certs);
    for (size_t i = 0; i < x->n_roots; i++)
        vcert_free(&x->roots[i]);
    free(x->roots);
    vsort_free(&x->fins);
    free(x->keys);
    vsort_free(&x->recs);
    for (size_t i = 0; i < x->n_clients; i++)
        free(x->clients[i]);
    free(x->clients);
    free(x->slots);
    vpool_free(&x->sigs);
    memset(x, 0, sizeof *x);
}
