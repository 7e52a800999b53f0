/*
 * io_fail.c - I/O-failure injection in SQLite's way: a VFS that wraps the
 * default one and, while armed with n, fails the n-th write, sync or
 * truncate of any database, journal or WAL file (SQLITE_IOERR_WRITE,
 * _FSYNC, _TRUNCATE); every other call goes through unchanged. Registered
 * as the default VFS, so every store connection of the test uses it.
 */
#include <stdatomic.h>
#include <string.h>

#include <sqlite3.h>

#include "io_fail.h"

static sqlite3_vfs *real;
static sqlite3_vfs vfs;
static atomic_long armed, seen;
static atomic_bool hit, persistent;

typedef struct io_file {
    sqlite3_file base;       /* our methods */
    sqlite3_file *inner;     /* the real file, right after this struct */
} io_file;

/* Whether this call is the armed one (or later, when persistent). */
static bool fails(void)
{
    long n = atomic_load(&armed);
    if (!n)
        return false;
    long k = atomic_fetch_add(&seen, 1) + 1;
    if (k == n || (atomic_load(&persistent) && k > n)) {
        atomic_store(&hit, true);
        return true;
    }
    return false;
}

#define INNER(f) (((io_file *)(f))->inner)

static int x_close(sqlite3_file *f)
{
    return INNER(f)->pMethods->xClose(INNER(f));
}
static int x_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return INNER(f)->pMethods->xRead(INNER(f), p, n, off);
}
static int x_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    return fails() ? SQLITE_IOERR_WRITE : INNER(f)->pMethods->xWrite(INNER(f), p, n, off);
}
static int x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return fails() ? SQLITE_IOERR_TRUNCATE : INNER(f)->pMethods->xTruncate(INNER(f), size);
}
static int x_sync(sqlite3_file *f, int flags)
{
    return fails() ? SQLITE_IOERR_FSYNC : INNER(f)->pMethods->xSync(INNER(f), flags);
}
static int x_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return INNER(f)->pMethods->xFileSize(INNER(f), size);
}
static int x_lock(sqlite3_file *f, int l)
{
    return INNER(f)->pMethods->xLock(INNER(f), l);
}
static int x_unlock(sqlite3_file *f, int l)
{
    return INNER(f)->pMethods->xUnlock(INNER(f), l);
}
static int x_check(sqlite3_file *f, int *out)
{
    return INNER(f)->pMethods->xCheckReservedLock(INNER(f), out);
}
static int x_fcntl(sqlite3_file *f, int op, void *arg)
{
    return INNER(f)->pMethods->xFileControl(INNER(f), op, arg);
}
static int x_sector(sqlite3_file *f)
{
    return INNER(f)->pMethods->xSectorSize(INNER(f));
}
static int x_caps(sqlite3_file *f)
{
    return INNER(f)->pMethods->xDeviceCharacteristics(INNER(f));
}
static int x_shm_map(sqlite3_file *f, int pg, int size, int extend, void volatile **p)
{
    return INNER(f)->pMethods->xShmMap(INNER(f), pg, size, extend, p);
}
static int x_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return INNER(f)->pMethods->xShmLock(INNER(f), off, n, flags);
}
static void x_shm_barrier(sqlite3_file *f)
{
    INNER(f)->pMethods->xShmBarrier(INNER(f));
}
static int x_shm_unmap(sqlite3_file *f, int del)
{
    return INNER(f)->pMethods->xShmUnmap(INNER(f), del);
}
static int x_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
    return INNER(f)->pMethods->xFetch(INNER(f), off, n, p);
}
static int x_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return INNER(f)->pMethods->xUnfetch(INNER(f), off, p);
}

static const sqlite3_io_methods methods = {
    3,          x_close,   x_read,    x_write,   x_truncate,    x_sync,      x_size,   x_lock,  x_unlock,
    x_check,    x_fcntl,   x_sector,  x_caps,    x_shm_map,     x_shm_lock,  x_shm_barrier, x_shm_unmap,
    x_fetch,    x_unfetch,
};

static int x_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)v;
    io_file *w = (io_file *)f;
    w->inner = (sqlite3_file *)(w + 1);
    int rc = real->xOpen(real, name, w->inner, flags, out_flags);
    w->base.pMethods = rc == SQLITE_OK && w->inner->pMethods ? &methods : NULL;
    return rc;
}

static int x_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return real->xDelete(real, name, sync);
}
static int x_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real->xAccess(real, name, flags, out);
}
static int x_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real->xFullPathname(real, name, n, out);
}
static int x_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real->xRandomness(real, n, out);
}
static int x_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real->xSleep(real, us);
}
static int x_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return real->xCurrentTime(real, out);
}
static int x_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real->xGetLastError ? real->xGetLastError(real, n, out) : 0;
}
static int x_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return real->xCurrentTimeInt64(real, out);
}

bool io_init(void)
{
    real = sqlite3_vfs_find(NULL);
    if (!real)
        return false;
    vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(io_file) + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = "io_fail",
        .xOpen = x_open,
        .xDelete = x_delete,
        .xAccess = x_access,
        .xFullPathname = x_full,
        .xRandomness = x_random,
        .xSleep = x_sleep,
        .xCurrentTime = x_time,
        .xGetLastError = x_last_error,
        .xCurrentTimeInt64 = x_time64,
    };
    return sqlite3_vfs_register(&vfs, 1) == SQLITE_OK;
}

bool io_fail_here(void)
{
    return fails();
}

void io_arm(long n)
{
    atomic_store(&seen, 0);
    atomic_store(&hit, false);
    atomic_store(&persistent, false);
    atomic_store(&armed, n);
}

void io_arm_persistent(long n)
{
    io_arm(n);
    atomic_store(&persistent, true);
}

long io_disarm(void)
{
    atomic_store(&armed, 0);
    return atomic_load(&seen);
}

bool io_hit(void)
{
    return atomic_load(&hit);
}
