/* util.c - what the files of receipt/ share (see internal.h): the UTF-8 text
 * check and the decimal numbers of amounts and quantities. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

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

bool rc_decimal_parse(const char *s, size_t n, bool exact, int places, int64_t max, int64_t *units)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    int64_t v = 0;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (++digits > 13)
            return false;
        v = v * 10 + (s[i++] - '0');
    }
    if (digits == 0)
        return false;
    int decimals = 0;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9' && decimals < places) {
            v = v * 10 + (s[i++] - '0');
            decimals++;
        }
        if (decimals == 0)
            return false;
    }
    if (i != n || (exact && decimals != places))
        return false;
    /* the processData form is canonical: no leading zeros, no "-0.00" */
    if (exact && ((digits > 1 && s[neg] == '0') || (neg && v == 0)))
        return false;
    for (; decimals < places; decimals++)
        v *= 10;
    if (v > max)
        return false;
    *units = neg ? -v : v;
    return true;
}
