/*
 * gen_logs.h - fills a TSE's store with many correctly signed transaction
 * logs fast, for the large-export test and the export benchmark.
 *
 * Why this is still a real TSE: the logs are built by the codec and signed
 * with the TSE's own private key (unsealed from its store with the master
 * key, exactly as the engine does) with the next counters and transaction
 * numbers, and they enter the store through its bulk path, which checks that
 * the counters stay one run without gaps. The engine, reopened, continues on
 * top of them. What it skips is only the per-log fsync of group commit,
 * which an export never sees.
 */
#ifndef OPENTSE_TEST_GEN_LOGS_H
#define OPENTSE_TEST_GEN_LOGS_H

#include <stdint.h>

/* Appends `n` logs (n / 2 transactions of client `client`: Start, Finish)
 * to the closed TSE at `path`; signs on `threads` threads. Returns 0, or -1
 * with a message on stderr. */
int gen_signed_logs(const char *path, const char *master_key_path, const char *client, uint64_t n, int threads);

#endif
