/* helpers.c - implementation of the shared test helpers (see helpers.h). */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/pem.h>

#include "csp/csp.h"

static char tmpdir[512];

const char *th_tmpdir(void)
{
    if (tmpdir[0])
        return tmpdir;
    const char *base = getenv("OPENTSE_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof tmpdir, "%s/opentse-test-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        abort();
    }
    return tmpdir;
}

char *th_path(const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", th_tmpdir(), name) < 0)
        abort();
    return p;
}

char *th_fixture(const char *rel)
{
    const char *base = getenv("OPENTSE_FIXTURES");
    char *p = NULL;
    if (!base || asprintf(&p, "%s/%s", base, rel) < 0)
        abort();
    return p;
}

int th_to_file(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : TSE_ERR_STORAGE_FAILURE;
}

int th_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

uint8_t *th_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}

const char *th_master_key(void)
{
    static char *path;
    if (path)
        return path;
    path = th_path("master.key");
    if (access(path, F_OK) != 0 && csp_master_key_create(path, NULL) != 0)
        abort();
    return path;
}

static const char *hash_flag(tse_curve c, tse_hash h)
{
    if (h == TSE_HASH_DEFAULT)
        h = csp_default_hash(c);
    return h == TSE_HASH_SHA256 ? "-sha256" : h == TSE_HASH_SHA384 ? "-sha384" : "-sha512";
}

int th_openssl_verify(tse_curve curve, tse_hash hash, const uint8_t *point, size_t point_len,
                      const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    static int seq;
    char *pub_path = NULL, *sig_path = NULL, *msg_path = NULL, *cmd = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    int rc = -1, n = __atomic_fetch_add(&seq, 1, __ATOMIC_SEQ_CST);
    EVP_PKEY *pk = csp_pubkey_from_point(curve, point, point_len);
    if (!pk)
        return -1;
    if (asprintf(&pub_path, "%s/ossl-%d-pub.pem", th_tmpdir(), n) < 0 ||
        asprintf(&sig_path, "%s/ossl-%d-sig.der", th_tmpdir(), n) < 0 ||
        asprintf(&msg_path, "%s/ossl-%d-msg.bin", th_tmpdir(), n) < 0)
        goto out;
    FILE *f = fopen(pub_path, "w");
    if (!f || !PEM_write_PUBKEY(f, pk)) {
        if (f)
            fclose(f);
        goto out;
    }
    fclose(f);
    if (csp_plain_to_der(sig, sig_len, &der, &der_len) != 0 ||
        th_write_file(sig_path, der, der_len) != 0 || th_write_file(msg_path, msg, msg_len) != 0)
        goto out;
    if (asprintf(&cmd, "openssl dgst %s -verify %s -signature %s %s 2>&1", hash_flag(curve, hash),
                 pub_path, sig_path, msg_path) < 0)
        goto out;
    FILE *p = popen(cmd, "r");
    if (!p)
        goto out;
    char line[256] = "";
    int ok = 0;
    while (fgets(line, sizeof line, p))
        if (strncmp(line, "Verified OK", 11) == 0)
            ok = 1;
    int st = pclose(p);
    rc = (ok && st == 0) ? 0 : 1;
out:
    EVP_PKEY_free(pk);
    free(der);
    if (pub_path) unlink(pub_path);
    if (sig_path) unlink(sig_path);
    if (msg_path) unlink(msg_path);
    free(pub_path);
    free(sig_path);
    free(msg_path);
    free(cmd);
    return rc;
}

static int tar_append(th_tar_entry **entries, size_t *count, struct archive *a,
                      struct archive_entry *e)
{
    la_int64_t size = archive_entry_size(e);
    const char *name = archive_entry_pathname(e);
    if (size < 0 || !name)
        return -1;
    th_tar_entry *grown = realloc(*entries, (*count + 1) * sizeof **entries);
    if (!grown)
        return -1;
    *entries = grown;
    th_tar_entry *t = &grown[*count];
    t->name = strdup(name);
    t->data = malloc((size_t)size + 1);
    t->len = (size_t)size;
    if (!t->name || !t->data ||
        (size > 0 && archive_read_data(a, t->data, (size_t)size) != (la_ssize_t)size)) {
        free(t->name);
        free(t->data);
        return -1;
    }
    t->data[size] = 0;
    (*count)++;
    return 0;
}

int th_tar_read(const char *path, th_tar_entry **entries, size_t *count)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int rc = 0, r;
    *entries = NULL;
    *count = 0;
    if (!a)
        return -1;
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 10240) != ARCHIVE_OK) {
        archive_read_free(a);
        return -1;
    }
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        if (tar_append(entries, count, a, e) != 0) {
            rc = -1;
            break;
        }
    }
    if (r != ARCHIVE_EOF && r != ARCHIVE_OK)
        rc = -1;
    archive_read_free(a);
    if (rc != 0) {
        th_tar_free(*entries, *count);
        *entries = NULL;
        *count = 0;
    }
    return rc;
}

void th_tar_free(th_tar_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(entries[i].name);
        free(entries[i].data);
    }
    free(entries);
}

static bool copy_text(char *out, size_t cap, logmsg_bytes b)
{
    if (b.n >= cap)
        return false;
    if (b.n)
        memcpy(out, b.p, b.n);
    out[b.n] = 0;
    return true;
}

bool th_fields_from(const logmsg *m, th_rebuilt *rb, logmsg_fields *f)
{
    *f = (logmsg_fields){0};
    size_t n = 0;
    if (!copy_text(rb->op, sizeof rb->op, m->operation) || !copy_text(rb->client, sizeof rb->client, m->client_id) ||
        !copy_text(rb->ptype, sizeof rb->ptype, m->process_type))
        return false;
    f->kind = m->kind;
    f->operation = rb->op;
    f->client_id = rb->client;
    if (m->has_process_data) {
        if (!der_get_octets(&m->process_data, rb->pd, sizeof rb->pd, &n) || n > sizeof rb->pd)
            return false;
        f->process_data.p = rb->pd;
        f->process_data.n = n;
    }
    f->process_type = m->has_process_type ? rb->ptype : NULL;
    if (m->has_additional_external_data)
        f->additional_external_data = m->additional_external_data;
    f->transaction_number = m->transaction_number;
    if (m->has_additional_internal_data)
        f->additional_internal_data = m->additional_internal_data;
    f->system_operation_data = m->system_operation_data;
    f->serial_number = m->serial_number.p;
    f->signature_algorithm_oid = m->signature_algorithm_oid;
    if (m->has_se_audit_data)
        f->se_audit_data = m->se_audit_data;
    f->signature_counter = m->signature_counter;
    f->time_format = m->time_format;
    f->log_time = m->log_time;
    return true;
}

uint8_t *th_update_package(const char *manifest, const char *key, size_t *len)
{
    static int n;
    char name[64], cmd[4000];
    snprintf(name, sizeof name, "pkg-%d-%d", (int)getpid(), ++n);
    char *m = th_path(name);
    snprintf(cmd, sizeof cmd,
             "openssl dgst -sha256 -sign '%s' -out '%s.sig' '%s.manifest' && { cat '%s.manifest'; "
             "echo '-----BEGIN OPENTSE UPDATE SIGNATURE-----'; openssl base64 -in '%s.sig'; "
             "echo '-----END OPENTSE UPDATE SIGNATURE-----'; } > '%s.pkg'",
             key, m, m, m, m, m);
    char mf[600], pkg[600];
    snprintf(mf, sizeof mf, "%s.manifest", m);
    snprintf(pkg, sizeof pkg, "%s.pkg", m);
    uint8_t *p = th_write_file(mf, manifest, strlen(manifest)) == 0 && system(cmd) == 0 ? th_read_file(pkg, len) : NULL;
    free(m);
    return p;
}
