/*
 * internal.h - what the files of export/ share.
 */
#ifndef OPENTSE_EXPORT_INTERNAL_H
#define OPENTSE_EXPORT_INTERNAL_H

#include "base/encode.h"
#include "export/export.h"

/* Writes the message into err (may be NULL); returns code. */
int export_fail(tse_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Checks `f` against the store and turns it into one selection whose upper
 * counter is pinned to the last stored log. Fails with the TR-03151 error
 * when the filter contradicts itself, names an unknown transaction or
 * client, selects nothing, or more than maximum_number_records logs. */
int export_select(store *st, const tse_export_filter *f, store_log_filter *sel, tse_error *err);

#endif
