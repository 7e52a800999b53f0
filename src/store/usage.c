/*
 * usage.c - how much storage a store takes and how much is left
 * (TR-03151-1 getTotalMemory / getUsedMemory / getFreeMemory): for the
 * SQLite store the bytes of the database file and its write-ahead log, and
 * the space left for it on their file system; the PostgreSQL store answers
 * through its backend (pg_usage.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "store/sqlite_internal.h"

/* Bytes of the file at `path`, 0 when it does not exist. */
static int file_bytes(const char *path, uint64_t *out, tse_error *err)
{
    struct stat st;
    *out = 0;
    if (stat(path, &st) == 0) {
        *out = (uint64_t)st.st_size;
        return 0;
    }
    return errno == ENOENT ? 0 : error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot stat %s: %s", path, strerror(errno));
}

int store_usage(store *s, store_usage_info *out, tse_error *err)
{
    if (!s || !out)
        return error_set(err, TSE_ERR_INVALID_ARGUMENT, "store_usage: bad argument");
    memset(out, 0, sizeof *out);
    if (s->d->pg)
        return store_pg->usage ? store_pg->usage(s, out, err)
                               : error_set(err, TSE_ERR_NOT_SUPPORTED, "this PostgreSQL store reports no usage");
    snprintf(out->engine, sizeof out->engine, "SQLite");
    snprintf(out->version, sizeof out->version, "%s", sqlite3_libversion());
    char wal[4200];
    if (snprintf(wal, sizeof wal, "%s-wal", s->d->path) >= (int)sizeof wal)
        return error_set(err, TSE_ERR_STORAGE_FAILURE, "store path too long");
    uint64_t db = 0, log = 0;
    int ret = file_bytes(s->d->path, &db, err);
    if (!ret)
        ret = file_bytes(wal, &log, err);
    if (ret)
        return ret;
    struct statvfs fs;
    if (statvfs(s->d->path, &fs) != 0)
        return error_set(err, TSE_ERR_STORAGE_FAILURE, "cannot read the free space of %s's file system: %s",
                         s->d->path, strerror(errno));
    out->used = db + log;
    out->free = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
    out->free_known = true;
    out->total = out->used + out->free;
    return 0;
}
