/* util.c - DSFinV-K time text and base64 for receipt/ (see internal.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "internal.h"

bool rc_time_text(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t < 0 || !gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999)
        return false;
    return strftime(out, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm) > 0;
}

char *rc_base64(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

uint8_t *rc_unbase64(const char *s, size_t n, size_t *len)
{
    if (n == 0 || n % 4 || n > (1u << 20))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '/' || (c == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '='));
        if (!ok)
            return NULL;
    }
    uint8_t *out = malloc(n / 4 * 3 + 1);
    if (!out)
        return NULL;
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(out);
        return NULL;
    }
    *len = (size_t)r - (s[n - 1] == '=') - (s[n - 2] == '=');
    /* canonical only: unused bits of the last character must be zero, so
     * that one byte string has exactly one text */
    char *again = rc_base64(out, *len);
    if (!again || memcmp(again, s, n) != 0) {
        free(again);
        free(out);
        return NULL;
    }
    free(again);
    return out;
}

bool rc_utf8_text(const uint8_t *s, size_t n, bool allow_line_breaks)
{
    const uint8_t *end = s + n;
    while (s < end) {
        unsigned c = *s;
        int more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        bool line_break = allow_line_breaks && (c == '\r' || c == '\n' || c == '\t');
        if (more < 0 || (c < 0x20 && !line_break) || c == 0x7f || c == 0xc0 || c == 0xc1 || c > 0xf4 ||
            end - s <= more)
            return false;
        uint32_t cp = more == 0 ? c : c & (0x3fu >> more);
        for (int i = 1; i <= more; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (more == 3 && cp < 0x10000) ||
            (cp >= 0x80 && cp < 0xa0) || cp > 0x10ffff)
            return false;
        s += more + 1;
    }
    return true;
}
