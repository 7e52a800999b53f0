/*
 * text.c - UUID syntax, ISO 8601 UTC times and strict decimal numbers.
 */
#include <string.h>
#include <time.h>

#include "base/text.h"

bool uuid_valid(const char *s)
{
    if (!s || strnlen(s, 37) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

bool time_iso(int64_t t, time_iso_style style, char *out, size_t cap)
{
    static const char *const formats[] = {
        [TIME_ISO_SECONDS] = "%Y-%m-%dT%H:%M:%SZ",
        [TIME_ISO_MILLIS] = "%Y-%m-%dT%H:%M:%S.000Z",
        [TIME_ISO_LOCAL_NAIVE] = "%Y-%m-%dT%H:%M:%S",
    };
    if (!out || cap == 0)
        return false;
    out[0] = 0;
    time_t tt = (time_t)t;
    struct tm tm;
    if (t < 0 || t > 253402300799 /* 9999-12-31T23:59:59Z */ || (unsigned)style > TIME_ISO_LOCAL_NAIVE ||
        !gmtime_r(&tt, &tm) || !strftime(out, cap, formats[style], &tm)) {
        out[0] = 0;
        return false;
    }
    return true;
}

bool parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (!s)
        return false;
    if (len == (size_t)-1)
        len = strlen(s);
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}
