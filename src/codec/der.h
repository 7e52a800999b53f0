/*
 * der.h - a small DER writer and DER/BER reader (tag-length-value).
 *
 * The writer appends to a caller-owned buffer and never allocates: when the
 * buffer is too small it keeps counting, so `w.len` tells the size needed and
 * der_w_ok() reports the overflow. The reader walks a buffer without copying;
 * it accepts BER indefinite lengths (0x80 ... 00 00) for constructed values,
 * as deployed TSEs write them, and otherwise demands minimal DER lengths.
 */
#ifndef OPENTSE_CODEC_DER_H
#define OPENTSE_CODEC_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Universal tags and the context tags log messages use. */
enum {
    DER_BOOLEAN = 0x01,
    DER_INTEGER = 0x02,
    DER_OCTET_STRING = 0x04,
    DER_NULL = 0x05,
    DER_OID = 0x06,
    DER_ENUMERATED = 0x0a,
    DER_PRINTABLE_STRING = 0x13,
    DER_UTC_TIME = 0x17,
    DER_GENERALIZED_TIME = 0x18,
    DER_SEQUENCE = 0x30,
    DER_SET = 0x31,
    DER_CONTEXT = 0x80,      /* | n: [n] IMPLICIT primitive */
    DER_CONSTRUCTED = 0x20,
};

typedef struct der_w {
    uint8_t *buf;   /* may be NULL with cap 0 to measure */
    size_t cap;
    size_t len;     /* bytes written, or needed when len > cap */
} der_w;

static inline der_w der_w_init(uint8_t *buf, size_t cap) { der_w w = {buf, cap, 0}; return w; }
static inline bool der_w_ok(const der_w *w) { return w->len <= w->cap; }

void der_put_raw(der_w *w, const void *p, size_t n);
/* Single-byte tags only (all we need). */
void der_put_header(der_w *w, uint8_t tag, size_t content_len);
void der_put_tlv(der_w *w, uint8_t tag, const void *content, size_t n);
/* Minimal two's-complement INTEGER of a non-negative value. */
void der_put_uint(der_w *w, uint8_t tag, uint64_t v);
/* Signed INTEGER (unixTime may in theory be negative). */
void der_put_int(der_w *w, uint8_t tag, int64_t v);
void der_put_bool(der_w *w, uint8_t tag, bool v);
/* OID from dotted text, e.g. "0.4.0.127.0.7.3.7.1.1". Returns false if malformed. */
bool der_put_oid(der_w *w, const char *dotted);
/* Number of bytes of a header for `content_len`. */
size_t der_header_len(size_t content_len);

/* One decoded TLV. For indefinite-length values `content_len` excludes the
 * end-of-contents octets and `indefinite` is set; `total_len` covers them. */
typedef struct der_tlv {
    uint8_t tag;
    bool constructed;
    bool indefinite;
    const uint8_t *start;     /* first byte of the tag */
    size_t header_len;
    const uint8_t *content;
    size_t content_len;
    size_t total_len;
} der_tlv;

/* Deepest nesting of constructed values the reader follows (indefinite
 * lengths, segmented OCTET STRINGs). */
#define DER_MAX_DEPTH 16

typedef struct der_r {
    const uint8_t *p;
    size_t len;
    size_t pos;
} der_r;

static inline der_r der_r_init(const uint8_t *p, size_t len) { der_r r = {p, len, 0}; return r; }
static inline bool der_r_done(const der_r *r) { return r->pos >= r->len; }

/* Reads the next TLV. Returns false on truncation, multi-byte tags, non-minimal
 * lengths, or indefinite length on a primitive value. Nesting depth is limited. */
bool der_read(der_r *r, der_tlv *out);
/* Peeks the next tag without consuming (0 at end). */
uint8_t der_peek_tag(const der_r *r);
/* Decodes a non-negative INTEGER content that fits 64 bits. */
bool der_get_uint(const der_tlv *t, uint64_t *out);
bool der_get_int(const der_tlv *t, int64_t *out);
/* Dotted text of an OID content into out; false if malformed or too long. */
bool der_get_oid(const der_tlv *t, char *out, size_t cap);
/* Concatenated content of an OCTET STRING given primitive or constructed
 * (DER or BER indefinite, nested segments). Writes up to `cap` bytes to out
 * (out may be NULL to measure) and stores the full length in *len. */
bool der_get_octets(const der_tlv *t, uint8_t *out, size_t cap, size_t *len);

#endif
