/*
 * io_fail.h - test helper: I/O-failure injection in SQLite's way (see
 * io_fail.c). While armed with n, the n-th write, sync or truncate of a
 * store file fails; the same calls as alloc_fail.h.
 */
#ifndef OPENTSE_TEST_IO_FAIL_H
#define OPENTSE_TEST_IO_FAIL_H

#include <stdbool.h>

/* Makes the failing VFS SQLite's default: call before any store is opened. */
bool io_init(void);
void io_arm(long n);
/* The n-th and every later write, sync or truncate fail (a disk gone bad). */
void io_arm_persistent(long n);
long io_disarm(void);
/* For a write of the test's own (an export's output): whether it fails. */
bool io_fail_here(void);
bool io_hit(void);

#endif
