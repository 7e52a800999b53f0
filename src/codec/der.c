/*
 * der.c - DER writer and DER/BER reader behind der.h.
 *
 * The writer never allocates: it appends while the caller's buffer has room
 * and only counts once it has not. The reader checks every length against
 * the bytes that remain, accepts BER indefinite lengths on constructed values
 * only, insists on minimal definite lengths, and walks nested indefinite
 * values to a bounded depth so that hostile input cannot exhaust the stack.
 */
#include "der.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- writer */

void der_put_raw(der_w *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (w->buf && w->len <= w->cap && n <= w->cap - w->len)
        memcpy(w->buf + w->len, p, n);
    if (n > SIZE_MAX - w->len)
        w->len = SIZE_MAX;
    else
        w->len += n;
}

size_t der_header_len(size_t content_len)
{
    size_t k = 0;
    if (content_len < 0x80)
        return 2;
    while (content_len > 0) {
        k++;
        content_len >>= 8;
    }
    return 2 + k;
}

void der_put_header(der_w *w, uint8_t tag, size_t content_len)
{
    uint8_t hdr[2 + sizeof(size_t)];
    size_t n = der_header_len(content_len);
    hdr[0] = tag;
    if (n == 2) {
        hdr[1] = (uint8_t)content_len;
    } else {
        size_t k = n - 2;
        hdr[1] = (uint8_t)(0x80 | k);
        for (size_t i = 0; i < k; i++)
            hdr[2 + i] = (uint8_t)(content_len >> (8 * (k - 1 - i)));
    }
    der_put_raw(w, hdr, n);
}

void der_put_tlv(der_w *w, uint8_t tag, const void *content, size_t n)
{
    der_put_header(w, tag, n);
    der_put_raw(w, content, n);
}

/* Minimal big-endian two's complement of a 65-bit value (sign, bits) into
 * out[9]; returns the length. */
static size_t int_bytes(uint64_t bits, bool negative, uint8_t out[9])
{
    uint8_t be[9];
    be[0] = negative ? 0xff : 0x00;
    for (int i = 0; i < 8; i++)
        be[1 + i] = (uint8_t)(bits >> (8 * (7 - i)));
    size_t start = 0;
    /* Drop a leading byte while it only repeats the sign of the next one. */
    while (start < 8) {
        uint8_t b = be[start], next = be[start + 1];
        if ((b == 0x00 && !(next & 0x80)) || (b == 0xff && (next & 0x80)))
            start++;
        else
            break;
    }
    memcpy(out, be + start, 9 - start);
    return 9 - start;
}

void der_put_uint(der_w *w, uint8_t tag, uint64_t v)
{
    uint8_t b[9];
    size_t n = int_bytes(v, false, b);
    der_put_tlv(w, tag, b, n);
}

void der_put_int(der_w *w, uint8_t tag, int64_t v)
{
    uint8_t b[9];
    size_t n = int_bytes((uint64_t)v, v < 0, b);
    der_put_tlv(w, tag, b, n);
}

void der_put_bool(der_w *w, uint8_t tag, bool v)
{
    uint8_t b = v ? 0xff : 0x00;
    der_put_tlv(w, tag, &b, 1);
}

/* Reads one decimal arc; advances *s. No leading zeros, no overflow. */
static bool parse_arc(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return false;
    if (*p == '0' && p[1] >= '0' && p[1] <= '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    *s = p;
    *out = v;
    return true;
}

/* Base-128 encoding of one arc; returns bytes written or 0 if no room. */
static size_t put_base128(uint64_t v, uint8_t *out, size_t cap)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)(v & 0x7f);
        v >>= 7;
    } while (v > 0);
    if (n > cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(tmp[n - 1 - i] | (i + 1 < n ? 0x80 : 0));
    return n;
}

#define OID_MAX_CONTENT 64

bool der_put_oid(der_w *w, const char *dotted)
{
    uint8_t c[OID_MAX_CONTENT];
    size_t n = 0, k;
    uint64_t first, second, arc;
    const char *s = dotted;
    if (!s || !parse_arc(&s, &first) || *s++ != '.' || !parse_arc(&s, &second))
        return false;
    if (first > 2 || (first < 2 && second > 39) || second > UINT64_MAX - 80)
        return false;
    k = put_base128(first * 40 + second, c, sizeof c);
    if (k == 0)
        return false;
    n = k;
    while (*s) {
        if (*s++ != '.' || !parse_arc(&s, &arc))
            return false;
        k = put_base128(arc, c + n, sizeof c - n);
        if (k == 0)
            return false;
        n += k;
    }
    der_put_tlv(w, DER_OID, c, n);
    return true;
}

/* ---------------------------------------------------------------- reader */

/* Decodes tag and length at p[0..avail). On success fills tag, header length,
 * and either the definite content length or *indef. */
static bool read_header(const uint8_t *p, size_t avail, uint8_t *tag, size_t *hlen,
                        size_t *clen, bool *indef)
{
    if (avail < 2)
        return false;
    *tag = p[0];
    if ((p[0] & 0x1f) == 0x1f)
        return false;                       /* multi-byte tag */
    *indef = false;
    uint8_t b = p[1];
    if (b < 0x80) {
        *hlen = 2;
        *clen = b;
        return true;
    }
    size_t k = b & 0x7f;
    if (k == 0) {
        if (!(p[0] & DER_CONSTRUCTED))
            return false;                   /* indefinite on primitive */
        *indef = true;
        *hlen = 2;
        *clen = 0;
        return true;
    }
    if (k > sizeof(size_t) || k == 0x7f || avail - 2 < k)
        return false;
    if (p[2] == 0)
        return false;                       /* leading zero: not minimal */
    size_t v = 0;
    for (size_t i = 0; i < k; i++)
        v = (v << 8) | p[2 + i];
    if (v < 0x80)
        return false;                       /* long form for a short length */
    *hlen = 2 + k;
    *clen = v;
    return true;
}

/* Finds the end of an indefinite value whose content starts at p. Sets
 * *content_len (up to the end-of-contents octets) and *total (including
 * them). Depth counts nested indefinite values. */
static bool scan_indefinite(const uint8_t *p, size_t avail, int depth,
                            size_t *content_len, size_t *total)
{
    size_t pos = 0;
    if (depth > DER_MAX_DEPTH)
        return false;
    for (;;) {
        uint8_t tag;
        size_t hlen, clen, used;
        bool indef;
        if (avail - pos >= 2 && p[pos] == 0x00 && p[pos + 1] == 0x00) {
            *content_len = pos;
            *total = pos + 2;
            return true;
        }
        if (!read_header(p + pos, avail - pos, &tag, &hlen, &clen, &indef) || tag == 0x00)
            return false;
        if (indef) {
            size_t inner_total;
            if (!scan_indefinite(p + pos + hlen, avail - pos - hlen, depth + 1, &clen,
                                 &inner_total))
                return false;
            used = hlen + inner_total;
        } else {
            if (clen > avail - pos - hlen)
                return false;
            used = hlen + clen;
        }
        pos += used;
    }
}

bool der_read(der_r *r, der_tlv *out)
{
    uint8_t tag;
    size_t hlen, clen, total;
    bool indef;
    if (r->pos >= r->len)
        return false;
    const uint8_t *p = r->p + r->pos;
    size_t avail = r->len - r->pos;
    if (!read_header(p, avail, &tag, &hlen, &clen, &indef) || tag == 0x00)
        return false;
    if (indef) {
        if (!scan_indefinite(p + hlen, avail - hlen, 1, &clen, &total))
            return false;
        total += hlen;
    } else {
        if (clen > avail - hlen)
            return false;
        total = hlen + clen;
    }
    out->tag = tag;
    out->constructed = (tag & DER_CONSTRUCTED) != 0;
    out->indefinite = indef;
    out->start = p;
    out->header_len = hlen;
    out->content = p + hlen;
    out->content_len = clen;
    out->total_len = total;
    r->pos += total;
    return true;
}

uint8_t der_peek_tag(const der_r *r)
{
    if (r->pos >= r->len)
        return 0;
    return r->p[r->pos];
}

/* INTEGER content must be non-empty and minimal (X.690 8.3.2). */
static bool int_minimal(const der_tlv *t)
{
    if (t->constructed || t->content_len == 0)
        return false;
    if (t->content_len == 1)
        return true;
    uint8_t a = t->content[0], b = t->content[1];
    return !((a == 0x00 && !(b & 0x80)) || (a == 0xff && (b & 0x80)));
}

bool der_get_uint(const der_tlv *t, uint64_t *out)
{
    if (!int_minimal(t) || (t->content[0] & 0x80))
        return false;
    const uint8_t *c = t->content;
    size_t n = t->content_len;
    if (n == 9 && c[0] == 0x00) {
        c++;                                /* the 00 before a top-bit value */
        n--;
    }
    if (n > 8)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | c[i];
    *out = v;
    return true;
}

bool der_get_int(const der_tlv *t, int64_t *out)
{
    if (!int_minimal(t) || t->content_len > 8)
        return false;
    uint64_t v = (t->content[0] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = 0; i < t->content_len; i++)
        v = (v << 8) | t->content[i];
    *out = (int64_t)v;
    return true;
}

/* Appends text to out at *pos, keeping room for the NUL. */
static bool append_text(char *out, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap - *pos)
        return false;
    memcpy(out + *pos, s, n + 1);
    *pos += n;
    return true;
}

bool der_get_oid(const der_tlv *t, char *out, size_t cap)
{
    const uint8_t *c = t->content;
    size_t n = t->content_len, i = 0, pos = 0;
    bool first = true;
    if (t->constructed || n == 0 || cap == 0)
        return false;
    out[0] = 0;
    while (i < n) {
        uint64_t v = 0;
        char num[48];
        if (c[i] == 0x80)
            return false;                   /* non-minimal arc */
        do {
            if (i >= n || v > (UINT64_MAX >> 7))
                return false;
            v = (v << 7) | (c[i] & 0x7f);
        } while (c[i++] & 0x80);
        if (first) {
            uint64_t a = v < 40 ? 0 : v < 80 ? 1 : 2;
            snprintf(num, sizeof num, "%llu.%llu", (unsigned long long)a,
                     (unsigned long long)(v - a * 40));
            first = false;
        } else {
            snprintf(num, sizeof num, ".%llu", (unsigned long long)v);
        }
        if (!append_text(out, cap, &pos, num))
            return false;
    }
    return true;
}

/* Flattens the segments of a constructed OCTET STRING; depth-bounded. */
static bool gather_octets(const der_tlv *t, int depth, uint8_t *out, size_t cap, size_t *len)
{
    if (!t->constructed) {
        if (out && *len < cap) {
            size_t room = cap - *len;
            memcpy(out + *len, t->content, t->content_len < room ? t->content_len : room);
        }
        *len += t->content_len;
        return true;
    }
    if (depth > DER_MAX_DEPTH)
        return false;
    der_r r = der_r_init(t->content, t->content_len);
    while (!der_r_done(&r)) {
        der_tlv seg;
        if (!der_read(&r, &seg))
            return false;
        if ((seg.tag & ~DER_CONSTRUCTED) != DER_OCTET_STRING)
            return false;
        if (!gather_octets(&seg, depth + 1, out, cap, len))
            return false;
    }
    return true;
}

bool der_get_octets(const der_tlv *t, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 0;
    if (!gather_octets(t, 0, out, cap, &n))
        return false;
    *len = n;
    return true;
}
