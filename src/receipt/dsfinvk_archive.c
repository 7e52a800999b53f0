/*
 * dsfinvk_archive.c - feeds the log messages and certificates of a TR-03151
 * export archive (tar, read with libarchive) into the DSFinV-K tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "dsfinvk.h"
#include "receipt.h"

#define MAX_ENTRY (16u << 20)   /* no log or certificate comes near this */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int dsfinvk_add_archive(dsfinvk *d, const char *path, tse_error *err)
{
    struct archive *a = archive_read_new();
    if (!a) {
        error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
        return TSE_ERR_NO_MEMORY;
    }
    int rc = 0;
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s: %s", path, archive_error_string(a));
        archive_read_free(a);
        return TSE_ERR_INVALID_ARGUMENT;
    }
    struct archive_entry *e;
    size_t logs = 0;
    uint8_t *buf = NULL;
    int r = ARCHIVE_OK;
    while (rc == 0 && ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
        const char *name = archive_entry_pathname(e);
        const char *base = name ? strrchr(name, '/') : NULL;
        base = base ? base + 1 : name;
        bool is_log = base && ends_with(base, ".log");
        bool is_cert = base && strstr(base, "_X509.");
        if (archive_entry_filetype(e) != AE_IFREG || (!is_log && !is_cert))
            continue;
        la_int64_t size = archive_entry_size(e);
        if (size <= 0 || size > MAX_ENTRY) {
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s: %s is empty or larger than %u bytes", path, base, MAX_ENTRY);
            rc = TSE_ERR_INVALID_ARGUMENT;
            break;
        }
        free(buf);
        buf = malloc((size_t)size);
        if (!buf) {
            rc = TSE_ERR_NO_MEMORY;
            error_set(err, TSE_ERR_NO_MEMORY, "out of memory");
            break;
        }
        if (archive_read_data(a, buf, (size_t)size) != size) {
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s: cannot read %s: %s", path, base, archive_error_string(a));
            rc = TSE_ERR_INVALID_ARGUMENT;
            break;
        }
        tse_error why = {0};
        rc = is_log ? dsfinvk_add_log(d, buf, (size_t)size, &why)
                    : dsfinvk_add_certificate(d, buf, (size_t)size, &why);
        if (rc != 0)
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s: %s: %s", path, base, why.message);
        logs += is_log;
    }
    if (rc == 0 && r != ARCHIVE_EOF) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s: not a readable tar archive: %s", path, archive_error_string(a));
        rc = TSE_ERR_INVALID_ARGUMENT;
    }
    if (rc == 0 && logs == 0) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s: no log messages in the archive", path);
        rc = TSE_ERR_NO_DATA_AVAILABLE;
    }
    free(buf);
    archive_read_free(a);
    return rc;
}
