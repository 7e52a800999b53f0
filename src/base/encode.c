/*
 * encode.c - base64 (RFC 4648, standard alphabet, padded) and lower-case
 * hex with caller-sized outputs and strict decoders.
 */
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long base64_encode(char *out, size_t cap, const uint8_t *in, size_t n)
{
    size_t need = BASE64_LEN(n);
    if (!out || n > (SIZE_MAX - 4) / 4 * 3 || cap < need + 1)
        return -1;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return (long)need;
}

char *base64_encode_alloc(const uint8_t *in, size_t n)
{
    if (n > (SIZE_MAX - 4) / 4 * 3)
        return NULL;
    char *out = malloc(BASE64_LEN(n) + 1);
    if (out)
        base64_encode(out, BASE64_LEN(n) + 1, in, n);
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* The decoded size of canonical text of `len` characters, or -1. */
static long b64_decoded_len(const char *in, size_t len)
{
    if (len % 4)
        return -1;
    if (!len)
        return 0;
    size_t pad = in[len - 1] == '=' ? (in[len - 2] == '=' ? 2 : 1) : 0;
    return (long)(len / 4 * 3 - pad);
}

int base64_decode(uint8_t *out, size_t cap, const char *in, size_t len, size_t *out_len)
{
    long n = in ? b64_decoded_len(in, len) : -1;
    if (n < 0 || (size_t)n > cap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = b64_value(in[i + k]);
            if (v[k] < 0 && !(last && in[i + k] == '=' && k >= 2 && (k == 3 || in[i + 3] == '=')))
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
        if (v[2] >= 0)
            w |= (uint32_t)v[2] << 6;
        if (v[3] >= 0)
            w |= (uint32_t)v[3];
        if (v[2] < 0 && (w & 0xffff)) /* "xy==": the unused bits of y must be 0 */
            return -1;
        if (v[2] >= 0 && v[3] < 0 && (w & 0xff))
            return -1;
        out[o++] = (uint8_t)(w >> 16);
        if (v[2] >= 0)
            out[o++] = (uint8_t)(w >> 8);
        if (v[3] >= 0)
            out[o++] = (uint8_t)w;
    }
    if (out_len)
        *out_len = o;
    return 0;
}

uint8_t *base64_decode_alloc(const char *in, size_t len, size_t max, size_t *out_len)
{
    long n = in ? b64_decoded_len(in, len) : -1;
    if (n < 0 || (size_t)n > max)
        return NULL;
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf && base64_decode(buf, (size_t)n, in, len, out_len) != 0) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

long hex_encode(char *out, size_t cap, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (!out || n > (SIZE_MAX - 1) / 2 || cap < 2 * n + 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
    return (long)(2 * n);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(uint8_t *out, size_t n, const char *in)
{
    if (!in || strnlen(in, 2 * n + 1) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
