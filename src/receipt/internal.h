/*
 * internal.h - what the files of receipt/ share: the UTF-8 text check and
 * decimal numbers.
 */
#ifndef OPENTSE_RECEIPT_INTERNAL_H
#define OPENTSE_RECEIPT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/encode.h"
#include "base/text.h"

/* Valid UTF-8 without control characters (C0, DEL, C1); CR, LF and TAB
 * pass when allow_line_breaks. */
bool rc_utf8_text(const uint8_t *s, size_t n, bool allow_line_breaks);

/* A decimal number in s[0..n): an optional leading '-', 1 to 13 digits, and
 * up to `places` decimals after a '.', as an integer in units of
 * 10^-places, |value| <= max. `exact` demands exactly `places` decimals and
 * the canonical form (no leading zeros, no negative zero). */
bool rc_decimal_parse(const char *s, size_t n, bool exact, int places, int64_t max, int64_t *units);

#endif
