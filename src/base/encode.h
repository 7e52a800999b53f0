/*
 * encode.h - base64 and hex, in libsodium's style: the caller gives the
 * output buffer and its size, nothing is written past it, and the decoders
 * are strict (canonical text only: no whitespace, correct padding, no
 * stray bits), so one text decodes to one value and back.
 */
#ifndef OPENTSE_BASE_ENCODE_H
#define OPENTSE_BASE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Characters (without the NUL) the base64 text of n bytes has. */
#define BASE64_LEN(n) (4 * (((size_t)(n) + 2) / 3))

/* Writes the base64 text of in[0..n) and a NUL into out; returns its length,
 * or -1 (out untouched) when cap < BASE64_LEN(n) + 1. */
long base64_encode(char *out, size_t cap, const uint8_t *in, size_t n);

/* The same into a new buffer (free with free()); NULL when out of memory. */
char *base64_encode_alloc(const uint8_t *in, size_t n);

/* Decodes canonical base64 text in[0..len) into out (cap bytes); writes the
 * byte count to *out_len. Returns 0, or -1 for text that is not canonical
 * base64 or does not fit. The empty text is valid and decodes to nothing. */
int base64_decode(uint8_t *out, size_t cap, const char *in, size_t len, size_t *out_len);

/* The same into a new buffer of at most `max` bytes (free with free(); not
 * NULL for the empty text either). NULL for text that is not canonical
 * base64, decodes to more than `max` bytes, or when out of memory. */
uint8_t *base64_decode_alloc(const char *in, size_t len, size_t max, size_t *out_len);

/* Lower-case hex of in[0..n) and a NUL; returns its length, or -1 (out
 * untouched) when cap < 2n + 1. */
long hex_encode(char *out, size_t cap, const uint8_t *in, size_t n);

/* Decodes exactly 2*n hex digits (either case) of `in` into out[0..n);
 * returns 0, or -1 when `in` is not 2*n hex digits. */
int hex_decode(uint8_t *out, size_t n, const char *in);

#endif /* OPENTSE_BASE_ENCODE_H */
