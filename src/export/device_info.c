/*
 * device_info.c - the components an export's info.csv names
 * (TR-03151-1 v1.1.1 section 2.5.3): one line per component with its
 * manufacturer, model, version and certification ids, then the
 * description.
 *
 * The components are configured per deployment by a CSV file named by
 * OPENTSE_DEVICE_INFO: one component per line, five values
 * (component,manufacturer,model,version,certification-id), quoted as
 * RFC 4180 where needed; empty lines and lines starting with # are
 * skipped. Without it the device is this library and its cryptographic
 * provider, the SMAERS line carrying OPENTSE_BSI_CERTIFICATION_ID if set.
 * The file is read once per process.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/internal.h"

static export_device g_dev;
static tse_error g_err;
static int g_rc;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int add(export_device *d, const char *const v[EXPORT_COMPONENT_FIELDS], tse_error *err, int line)
{
    if (d->n == EXPORT_MAX_COMPONENTS)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "device information: more than %d components",
                         EXPORT_MAX_COMPONENTS);
    for (int i = 0; i < EXPORT_COMPONENT_FIELDS; i++) {
        size_t len = strlen(v[i]);
        if (len >= sizeof d->c[0].v[0])
            return error_set(err, TSE_ERR_INVALID_ARGUMENT, "device information line %d: value %d is longer than %zu bytes",
                             line, i + 1, sizeof d->c[0].v[0] - 1);
        for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return error_set(err, TSE_ERR_INVALID_ARGUMENT,
                                 "device information line %d: value %d holds a control character", line, i + 1);
        memcpy(d->c[d->n].v[i], v[i], len + 1);
    }
    if (!d->c[d->n].v[0][0])
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "device information line %d: the component is empty", line);
    d->n++;
    return 0;
}

/* Splits one line into RFC 4180 fields in place; the count, or -1 when a
 * quote is not closed or stands inside an unquoted value. */
static int split_csv(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *out = p, *start = p;
        if (*p == '"') {
            start = out = ++p;
            for (;;) {
                if (!*p)
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else
                    *out++ = *p++;
            }
            if (*p && *p != ',')
                return -1;
        } else {
            while (*p && *p != ',') {
                if (*p == '"')
                    return -1;
                p++;
            }
            out = p;
        }
        char sep = *p;
        *out = 0;
        if (n == max)
            return max + 1;
        f[n++] = start;
        if (sep != ',')
            return n;
        p++;
    }
}

int export_device_add_line(export_device *d, char *line, const char *what, int no, tse_error *err)
{
    char *f[EXPORT_COMPONENT_FIELDS];
    int n = split_csv(line, f, EXPORT_COMPONENT_FIELDS);
    if (n != EXPORT_COMPONENT_FIELDS)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT,
                         n < 0 ? "device information %s line %d: a quote is misplaced"
                               : "device information %s line %d: expected 5 values "
                                 "(component,manufacturer,model,version,certification-id)",
                         what, no);
    return add(d, (const char *const *)f, err, no);
}

int export_device_load(const char *path, export_device *d, tse_error *err)
{
    *d = (export_device){0};
    FILE *fp = fopen(path, "r");
    if (!fp)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "device information %s: %s", path, strerror(errno));
    char line[4 * EXPORT_VALUE_MAX];
    int no = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, fp)) {
        no++;
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(fp)) {
            rc = error_set(err, TSE_ERR_INVALID_ARGUMENT, "device information %s line %d is too long", path, no);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!len || line[0] == '#')
            continue;
        rc = export_device_add_line(d, line, path, no, err);
    }
    if (!rc && ferror(fp))
        rc = error_set(err, TSE_ERR_INVALID_ARGUMENT, "device information %s cannot be read", path);
    fclose(fp);
    if (!rc && !d->n)
        rc = error_set(err, TSE_ERR_INVALID_ARGUMENT, "device information %s names no component", path);
    return rc;
}

static void load_once(void)
{
    const char *path = getenv("OPENTSE_DEVICE_INFO");
    if (path && *path) {
        g_rc = export_device_load(path, &g_dev, &g_err);
        return;
    }
    const char *cert_id = getenv("OPENTSE_BSI_CERTIFICATION_ID");
    char ossl[32];
    snprintf(ossl, sizeof ossl, "%s", OpenSSL_version(OPENSSL_VERSION_STRING));
    const char *smaers[] = {"SMAERS", EXPORT_MANUFACTURER, "libopentse", OPENTSE_VERSION, cert_id ? cert_id : ""};
    const char *csp[] = {"CSP", "OpenSSL Project", "libcrypto", ossl, ""};
    g_rc = add(&g_dev, smaers, &g_err, 0);
    if (!g_rc)
        g_rc = add(&g_dev, csp, &g_err, 0);
}

int export_device_get(const export_device **out, tse_error *err)
{
    pthread_once(&g_once, load_once);
    if (g_rc)
        return error_set(err, g_rc, "%s", g_err.message);
    *out = &g_dev;
    return 0;
}

int export_device_check(const char *path, tse_error *err)
{
    export_device *d = malloc(sizeof *d);
    if (!d)
        return error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
    int rc = export_device_load(path, d, err);
    free(d);
    return rc;
}

int export_device_merge(export_device *d, const export_device *updated, tse_error *err)
{
    for (int u = 0; u < updated->n; u++) {
        int i = 0;
        while (i < d->n && strcmp(d->c[i].v[0], updated->c[u].v[0]) != 0)
            i++;
        if (i == EXPORT_MAX_COMPONENTS)
            return error_set(err, TSE_ERR_INVALID_ARGUMENT, "device information: more than %d components",
                             EXPORT_MAX_COMPONENTS);
        memcpy(&d->c[i], &updated->c[u], sizeof d->c[i]);
        if (i == d->n)
            d->n++;
    }
    return 0;
}

size_t export_device_csv(const export_device *d, char *out, size_t cap)
{
    size_t n = 0;
    for (int c = 0; c < d->n; c++)
        for (int i = 0; i < EXPORT_COMPONENT_FIELDS; i++) {
            const char *p = d->c[c].v[i];
            if (n < cap)
                out[n] = '"';
            n++;
            for (; *p; p++) {
                if (*p == '"' && ++n <= cap)
                    out[n - 1] = '"';
                if (++n <= cap)
                    out[n - 1] = *p;
            }
            if (++n <= cap)
                out[n - 1] = '"';
            if (++n <= cap)
                out[n - 1] = i == EXPORT_COMPONENT_FIELDS - 1 ? '\n' : ',';
        }
    return n;
}
