/*
 * tar.c - a reader of plain ustar archives over large read() buffers, the
 * verifier's fast path (archive.c). It takes only what it reads exactly as
 * libarchive does: POSIX ustar headers ("ustar\0" "00") of regular files
 * with a short printable ASCII name and no prefix, octal sizes and a right
 * checksum, up to an end mark followed by nothing but zero bytes. Anything
 * else (a compressed archive, pax or GNU headers, other file types, a
 * damaged, cut or padded-out archive) it declines, and the archive is then
 * read with libarchive as before, so what the verifier reports does not
 * depend on the path taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define VTAR_BLOCK 512u
/* Read at once; the buffer holds one more entry of VTAR_MAX_DATA bytes. */
#define VTAR_CHUNK (1u << 20)

int vtar_open(vtar *t, const char *const *paths, size_t n)
{
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->paths = paths;
    t->n_paths = n;
    t->cap = VTAR_MAX_DATA + VTAR_BLOCK + VTAR_CHUNK;
    if (!(t->buf = malloc(t->cap)))
        return -1;
    return 0;
}

void vtar_close(vtar *t)
{
    if (t->fd >= 0)
        close(t->fd);
    free(t->buf);
    memset(t, 0, sizeof *t);
    t->fd = -1;
}

/* Opens the next part; false at the end of the parts or when it is not a
 * regular file that opens (t->declined then). */
static bool next_part(vtar *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    if (t->part >= t->n_paths)
        return false;
    struct stat st;
    int fd = open(t->paths[t->part++], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        t->declined = true;   /* libarchive says why */
        return false;
    }
    t->fd = fd;
    return true;
}

/* Makes `need` bytes (at most the buffer) stand from t->start on. false
 * at the stream's end or a read error (t->declined). */
static bool fill(vtar *t, size_t need)
{
    if (t->end - t->start >= need)
        return true;
    if (need > t->cap)
        return false;
    memmove(t->buf, t->buf + t->start, t->end - t->start);
    t->end -= t->start;
    t->start = 0;
    while (t->end < need) {
        if (t->fd < 0 && (t->eof || !next_part(t))) {
            t->eof = true;
            return false;
        }
        ssize_t got = read(t->fd, t->buf + t->end, t->cap - t->end);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            t->declined = true;
            t->eof = true;
            return false;
        }
        if (got == 0) {
            close(t->fd);
            t->fd = -1;
            continue;
        }
        t->end += (size_t)got;
    }
    return true;
}

static void consume(vtar *t, size_t n)
{
    t->start += n;
    t->pos += n;
}

/* An octal number of a header field: spaces, at least one digit, then
 * spaces or NULs to the field's end. */
static bool octal(const uint8_t *f, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && f[i] == ' ')
        i++;
    size_t digits = i;
    while (i < n && f[i] >= '0' && f[i] <= '7')
        v = v * 8 + (uint64_t)(f[i++] - '0');
    if (i == digits)
        return false;
    while (i < n && (f[i] == ' ' || f[i] == 0))
        i++;
    *out = v;
    return i == n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* A number field libarchive takes as octal: all NULs, or an octal number. */
static bool number_field(const uint8_t *f, size_t n)
{
    uint64_t v;
    return all_zero(f, n) || octal(f, n, &v);
}

/* A header of the kind this reader takes, into *e. */
static bool plain_header(const uint8_t *h, bool first, vtar_entry *e)
{
    if (memcmp(h + 257, "ustar\0" "00", 8) != 0 || (h[156] != '0' && h[156] != 0) || h[345] != 0)
        return false;
    /* mode, uid, gid, mtime, devmajor, devminor */
    static const uint16_t fields[][2] = {{100, 8}, {108, 8}, {116, 8}, {136, 12}, {329, 8}, {337, 8}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!number_field(h + fields[i][0], fields[i][1]))
            return false;
    /* the checksum field counts as eight spaces */
    uint32_t sum = 8 * ' ';
    for (size_t i = 0; i < VTAR_BLOCK; i++)
        sum += h[i];
    for (size_t i = 148; i < 156; i++)
        sum -= h[i];
    uint64_t want;
    if (!octal(h + 148, 8, &want) || want != sum || !octal(h + 124, 12, &e->size))
        return false;
    size_t len = 0;
    while (len < 100 && h[len]) {
        if (h[len] < 0x20 || h[len] > 0x7e)
            return false;
        len++;
    }
    if (!len || h[len - 1] == '/')
        return false;
    /* a first name libarchive's filters could take for their own stream */
    static const char *const magics[] = {"BZh", "begin", "LZIP", "LRZI", "]"};
    for (size_t i = 0; first && i < sizeof magics / sizeof magics[0]; i++)
        if (!strncmp((const char *)h, magics[i], strlen(magics[i])))
            return false;
    memcpy(e->name, h, len);
    e->name[len] = 0;
    return true;
}

/* Consumes the rest of the current entry's data and padding. */
static bool skip_pending(vtar *t)
{
    while (t->pending) {
        if (t->start == t->end && !fill(t, 1))
            return false;
        size_t n = t->end - t->start < t->pending ? t->end - t->start : (size_t)t->pending;
        consume(t, n);
        t->pending -= n;
    }
    return true;
}

int vtar_next(vtar *t, vtar_entry *e)
{
    if (t->declined || !skip_pending(t) || !fill(t, VTAR_BLOCK)) {
        t->declined = true;
        return 2;
    }
    const uint8_t *h = t->buf + t->start;
    if (all_zero(h, VTAR_BLOCK)) {
        /* the end mark: only zero bytes may follow */
        t->end_mark = t->pos;
        consume(t, VTAR_BLOCK);
        while (fill(t, 1)) {
            if (!all_zero(t->buf + t->start, t->end - t->start)) {
                t->declined = t->trailing = true;
                return 2;
            }
            consume(t, t->end - t->start);
        }
        return t->declined ? 2 : 0;
    }
    if (!plain_header(h, t->pos == 0, e)) {
        t->declined = true;
        return 2;
    }
    consume(t, VTAR_BLOCK);
    e->offset = t->pos;
    t->pending = (e->size + VTAR_BLOCK - 1) / VTAR_BLOCK * VTAR_BLOCK;
    return 1;
}

const uint8_t *vtar_data(vtar *t, const vtar_entry *e)
{
    if (e->size > VTAR_MAX_DATA || t->pos != e->offset || !fill(t, (size_t)t->pending)) {
        t->declined = true;
        return NULL;
    }
    const uint8_t *p = t->buf + t->start;
    consume(t, (size_t)t->pending);
    t->pending = 0;
    return p;
}
