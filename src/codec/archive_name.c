/*
 * archive_name.c - the names of export archives (TR-03151-1 v1.1.1
 * section 2.5.2): Export_<FORMAT>_<DATE>.tar, CertificateExport_... for
 * certificate exports, and .tar.001 ... .tar.999 for an archive split into
 * parts whose concatenation is the archive; and which of the paths a user
 * names are the parts of one archive.
 */
#include <stdio.h>
#include <string.h>

#include "codec/logmsg.h"

bool archive_name(const char *prefix, logmsg_time_format fmt, int64_t t, unsigned part, char *out, size_t cap)
{
    static const char *const fmt_names[] = {[LOGMSG_TIME_UNIX] = "Unixt", [LOGMSG_TIME_UTC] = "Utc", [LOGMSG_TIME_GENERALIZED] = "Gent"};
    char date[40];
    if ((unsigned)fmt > 2 || part > ARCHIVE_MAX_PARTS || !logmsg_time_to_text(fmt, t, date, sizeof date))
        return false;
    int n = part ? snprintf(out, cap, "%s_%s_%s.tar.%03u", prefix, fmt_names[fmt], date, part)
                 : snprintf(out, cap, "%s_%s_%s.tar", prefix, fmt_names[fmt], date);
    return n > 0 && (size_t)n < cap;
}

unsigned archive_part(const char *path, size_t *stem_len)
{
    size_t n = strlen(path);
    if (n < 8 || memcmp(path + n - 8, ".tar.", 5) != 0)
        return 0;
    unsigned v = 0;
    for (size_t i = n - 3; i < n; i++) {
        if (path[i] < '0' || path[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(path[i] - '0');
    }
    if (stem_len)
        *stem_len = n - 4;   /* up to and with ".tar" */
    return v;
}

size_t archive_group(const char *const *paths, size_t n, char *why, size_t cap)
{
    size_t stem = 0;
    unsigned first = n ? archive_part(paths[0], &stem) : 0;
    if (!first)
        return n ? 1 : 0;
    if (first != 1) {
        snprintf(why, cap, "part %03u of a split archive comes without part 001 before it: %s", first, paths[0]);
        return 0;
    }
    size_t k = 1;
    for (; k < n; k++) {
        size_t s = 0;
        unsigned p = archive_part(paths[k], &s);
        if (!p || s != stem || memcmp(paths[k], paths[0], stem) != 0)
            break;
        if (p != k + 1) {
            snprintf(why, cap, "the parts of a split archive must be given in order, without a gap: %s follows part %03zu",
                     paths[k], k);
            return 0;
        }
    }
    return k;
}
