/*
 * fuzz_tse.h - a real TSE for the fuzz harnesses that need one (restore,
 * export filters) and for the seed maker: a new file in a new temporary
 * directory, taken to a registered client, with finished transactions.
 */
#ifndef OPENTSE_FUZZ_TSE_H
#define OPENTSE_FUZZ_TSE_H

#include <stddef.h>
#include <stdint.h>

#include "opentse/opentse.h"

#define FUZZ_CLIENT "KASSE-FUZZ"

/* The TSE (aborts on failure); *dir_out and *db_out (malloc'd) name its
 * directory and store file, *key_out its master key. `n_tx` transactions
 * with a Kassenbeleg-V1 receipt each; their Finish results go to
 * `finishes` (may be NULL, else n_tx entries). */
tse *fuzz_tse(int n_tx, tse_result *finishes, char **dir_out, char **db_out, char **key_out);

/* The receipt of transaction i (processData of its Finish), static. */
const char *fuzz_receipt(int i);

/* Writes len bytes to path; 0 or -1. */
int fuzz_write(const char *path, const void *data, size_t len);

#endif
