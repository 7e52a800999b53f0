/*
 * keepalive.h - opt-in keep-alive: a background thread that sends a signed
 * update (empty process data) for every transaction opened through a handle
 * before TSE_MAX_UPDATE_DELAY_SECONDS pass without one.
 */
#ifndef OPENTSE_CLIENT_KEEPALIVE_H
#define OPENTSE_CLIENT_KEEPALIVE_H

#include <stdint.h>

#include "opentse/opentse.h"

typedef struct keepalive keepalive;

/* How the thread sends its signed update of transaction `number`. */
typedef tse_err keepalive_update_fn(void *ctx, const char *client_id, uint64_t number, const char *process_type);

/* Starts the thread; it calls update(ctx, ...) for every transaction
 * untouched for `seconds` (1..44). */
tse_err keepalive_start(keepalive_update_fn *update, void *ctx, uint32_t seconds, keepalive **out);
/* Stops and joins the thread. NULL is fine. */
void keepalive_stop(keepalive *k);
/* A start or update of `number` succeeded. */
void keepalive_touch(keepalive *k, uint64_t number, const char *client_id, const char *process_type);
/* `number` was finished (or is gone). */
void keepalive_forget(keepalive *k, uint64_t number);

#endif /* OPENTSE_CLIENT_KEEPALIVE_H */
