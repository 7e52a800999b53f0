/*
 * qr_image.c - the receipt QR code as an image: the symbol from libqrencode
 * (byte mode, error correction M, quiet zone of 4 modules), written as a
 * one-bit grayscale PNG with libpng or as an SVG path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>

#include "receipt.h"

#define QUIET 4

static QRcode *encode(const char *text, int scale, tse_error *err)
{
    if (!text || !*text || scale < 1 || scale > 64) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "QR image: empty text or scale outside 1..64");
        return NULL;
    }
    QRcode *qr = QRcode_encodeData((int)strlen(text), (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (!qr)
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "QR image: cannot encode %zu bytes: %s", strlen(text),
                 errno == ERANGE ? "too long for a QR code" : strerror(errno));
    return qr;
}

static bool dark(const QRcode *qr, int x, int y)
{
    return x >= 0 && y >= 0 && x < qr->width && y < qr->width && (qr->data[y * qr->width + x] & 1);
}

typedef struct membuf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
} membuf;

static void png_write_mem(png_structp png, png_bytep data, png_size_t n)
{
    membuf *b = png_get_io_ptr(png);
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 4096) + n;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void png_flush_mem(png_structp png)
{
    (void)png;
}

int receipt_qr_png(const char *text, int scale, uint8_t **png_out, size_t *png_len, tse_error *err)
{
    QRcode *qr = encode(text, scale, err);
    if (!qr)
        return TSE_ERR_INVALID_ARGUMENT;
    int size = (qr->width + 2 * QUIET) * scale;
    membuf buf = {0};
    uint8_t *row = malloc((size_t)size / 8 + 1);
    png_structp png = row ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = TSE_ERR_NO_MEMORY;
    if (!info)
        goto out;
    if (setjmp(png_jmpbuf(png))) {
        rc = TSE_ERR_INTERNAL;
        goto out;
    }
    png_set_write_fn(png, &buf, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)size, (png_uint_32)size, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < size; y++) {
        /* one bit per pixel, 1 = white, most significant bit first */
        memset(row, 0, (size_t)size / 8 + 1);
        for (int x = 0; x < size; x++)
            if (!dark(qr, x / scale - QUIET, y / scale - QUIET))
                row[x / 8] |= (uint8_t)(0x80 >> (x % 8));
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    rc = buf.failed ? TSE_ERR_NO_MEMORY : TSE_OK;
out:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(row);
    QRcode_free(qr);
    if (rc == TSE_OK) {
        *png_out = buf.p;
        *png_len = buf.len;
    } else {
        free(buf.p);
        error_set(err, TSE_ERR_NO_MEMORY, "QR image: %s", rc == TSE_ERR_NO_MEMORY ? "out of memory" : "PNG encoding failed");
    }
    return rc;
}

char *receipt_qr_svg(const char *text, int scale, tse_error *err)
{
    QRcode *qr = encode(text, scale, err);
    if (!qr)
        return NULL;
    int w = qr->width + 2 * QUIET;
    /* worst case one run per module: "M123,123h1v1h-1z" */
    size_t cap = 512 + (size_t)qr->width * (size_t)qr->width * 24;
    char *out = malloc(cap);
    if (!out) {
        QRcode_free(qr);
        error_set(err, TSE_ERR_NO_MEMORY, "QR image: out of memory");
        return NULL;
    }
    size_t len = (size_t)snprintf(out, cap,
                                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                  "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                                  "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">\n"
                                  "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n<path fill=\"#000000\" d=\"",
                                  w * scale, w * scale, w, w, w, w);
    for (int y = 0; y < qr->width; y++) {
        for (int x = 0; x < qr->width;) {
            if (!dark(qr, x, y)) {
                x++;
                continue;
            }
            int run = 0;
            while (dark(qr, x + run, y))
                run++;
            len += (size_t)snprintf(out + len, cap - len, "M%d,%dh%dv1h-%dz", x + QUIET, y + QUIET, run, run);
            x += run;
        }
    }
    snprintf(out + len, cap - len, "\"/>\n</svg>\n");
    QRcode_free(qr);
    return out;
}
