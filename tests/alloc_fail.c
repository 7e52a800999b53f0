/*
 * alloc_fail.c - test helper: fails the n-th allocation of our code, of
 * SQLite and of OpenSSL (see alloc_fail.h). Linked only into the
 * allocation-failure test, with -Wl,--wrap for the libc allocators.
 */
#include <execinfo.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "alloc_fail.h"

static atomic_long fail_at;   /* 0: not armed */
static atomic_long seen;
static atomic_bool hit;
static atomic_bool persistent;   /* every allocation after fail_at fails too */

/* Counts one allocation when armed; true when it is the one to fail. */
static bool fail_now(void)
{
    long at = atomic_load(&fail_at);
    if (!at)
        return false;
    long n = atomic_fetch_add(&seen, 1) + 1;
    if (n > at && atomic_load(&persistent))
        return true;
    if (n != at)
        return false;
    atomic_store(&hit, true);
    if (getenv("ALLOC_FAIL_TRACE")) {   /* where the failing allocation comes from */
        void *frames[32];
        fprintf(stderr, "allocation %ld fails here:\n", at);
        backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    }
    return true;
}

void af_arm(long n)
{
    atomic_store(&seen, 0);
    atomic_store(&hit, false);
    atomic_store(&persistent, false);
    atomic_store(&fail_at, n);
}

void af_arm_persistent(long n)
{
    af_arm(0);
    atomic_store(&persistent, true);
    atomic_store(&fail_at, n);
}

long af_disarm(void)
{
    atomic_store(&fail_at, 0);
    return atomic_load(&seen);
}

bool af_hit(void)
{
    return atomic_load(&hit);
}

/* ---- libc, through the linker's --wrap ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **out, const char *fmt, ...);

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
    if (fail_now())
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(out, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- OpenSSL ---- */

static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return fail_now() ? NULL : __real_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return fail_now() ? NULL : __real_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

/* ---- SQLite: its own allocator, with the failure in front ---- */

static sqlite3_mem_methods sqlite_orig;

static void *sq_malloc(int n)
{
    return fail_now() ? NULL : sqlite_orig.xMalloc(n);
}

static void *sq_realloc(void *p, int n)
{
    return fail_now() ? NULL : sqlite_orig.xRealloc(p, n);
}

bool af_init(void)
{
    if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
        return false;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_orig) != SQLITE_OK)
        return false;
    sqlite3_mem_methods m = sqlite_orig;
    m.xMalloc = sq_malloc;
    m.xRealloc = sq_realloc;
    return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK;
}
