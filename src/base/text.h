/*
 * text.h - small text helpers every part uses: UUIDs, ISO 8601 UTC times
 * and strict decimal numbers.
 */
#ifndef OPENTSE_BASE_TEXT_H
#define OPENTSE_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True for a UUID in its canonical text form: 8-4-4-4-12 hex digits. */
bool uuid_valid(const char *s);

/* Room for "YYYY-MM-DDTHH:MM:SS.mmmZ" and its NUL. */
#define TIME_ISO_LEN 25

/* How time_iso() writes a time. */
typedef enum time_iso_style {
    TIME_ISO_SECONDS,      /* 2024-03-01T12:00:00Z */
    TIME_ISO_MILLIS,       /* 2024-03-01T12:00:00.000Z */
    TIME_ISO_LOCAL_NAIVE,  /* 2024-03-01T12:00:00 (UTC, no zone letter) */
} time_iso_style;

/* Writes the UTC time `t` (seconds since the epoch) into out (cap bytes,
 * at least TIME_ISO_LEN); returns false, with out = "", for times before
 * 1970 or after year 9999 or a too small buffer. */
bool time_iso(int64_t t, time_iso_style style, char *out, size_t cap);

/* Parses a decimal number of digits only (no sign, no space, no "+") of at
 * most `max`; `len` characters of `s` (strlen when len is (size_t)-1).
 * Returns false for anything else, including overflow. */
bool parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);

#endif /* OPENTSE_BASE_TEXT_H */
