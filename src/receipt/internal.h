/*
 * internal.h - what the files of receipt/ share: the UTF-8 text check.
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

#endif
