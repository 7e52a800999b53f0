/*
 * internal.h - what the files of export/ share.
 */
#ifndef OPENTSE_EXPORT_INTERNAL_H
#define OPENTSE_EXPORT_INTERNAL_H

#include "base/encode.h"
#include "export/export.h"


/* Checks `f` against the store and turns it into one selection whose upper
 * counter is pinned to the last stored log. Fails with the TR-03151 error
 * when the filter contradicts itself, names an unknown transaction or
 * client, selects nothing, or more than maximum_number_records logs. */
int export_select(store *st, const tse_export_filter *f, store_log_filter *sel, tse_error *err);

/* device_info.c */
int export_device_load(const char *path, export_device *d, tse_error *err);

#endif
