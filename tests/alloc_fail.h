/*
 * alloc_fail.h - test helper: allocation-failure injection in SQLite's way.
 * While armed with n, the n-th allocation fails (returns NULL) and every
 * other one succeeds. Counted are the allocations of our own code (malloc,
 * calloc, realloc, strdup, strndup and asprintf, redirected with the
 * linker's --wrap, see tests/meson.build), of SQLite (SQLITE_CONFIG_MALLOC)
 * and of OpenSSL (CRYPTO_set_mem_functions). Works in the normal build and
 * under AddressSanitizer: the wrappers call the real allocator, which ASan
 * intercepts as usual, so leaks of a failure path are reported by LSan.
 * With ALLOC_FAIL_TRACE set in the environment, the failing allocation's
 * call stack goes to stderr.
 */
#ifndef OPENTSE_TEST_ALLOC_FAIL_H
#define OPENTSE_TEST_ALLOC_FAIL_H

#include <stdbool.h>

/* Installs the SQLite and OpenSSL hooks: call first thing in main(),
 * before either library allocates. Returns false if a hook was refused. */
bool af_init(void);
/* From now on, the n-th allocation (counting from 1) fails. */
void af_arm(long n);
/* The same, and every allocation after the n-th fails too (memory that
 * stays exhausted), until af_disarm(). */
void af_arm_persistent(long n);
/* Stops counting; returns how many allocations were seen since af_arm(). */
long af_disarm(void);
/* Whether the armed allocation came (and failed) since af_arm(). */
bool af_hit(void);

#endif
