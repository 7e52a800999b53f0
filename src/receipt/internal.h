/*
 * internal.h - what the files of receipt/ share: DSFinV-K time text and
 * base64.
 */
#ifndef OPENTSE_RECEIPT_INTERNAL_H
#define OPENTSE_RECEIPT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Epoch seconds as "YYYY-MM-DDThh:mm:ss.000Z" (DSFinV-K), cap >= 25.
 * False for times before 1970 or after 9999. */
bool rc_time_text(int64_t t, char *out, size_t cap);
/* Base64 without line breaks, malloc'd (caller frees); NULL if out of memory. */
char *rc_base64(const uint8_t *p, size_t n);
/* Strict, canonical base64 with padding of s[0..n) into a new buffer; NULL
 * if malformed. */
uint8_t *rc_unbase64(const char *s, size_t n, size_t *len);
/* Valid UTF-8 without control characters (C0, DEL, C1); CR, LF and TAB
 * pass when allow_line_breaks. */
bool rc_utf8_text(const uint8_t *s, size_t n, bool allow_line_breaks);

#endif
