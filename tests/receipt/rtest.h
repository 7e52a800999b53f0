/*
 * rtest.h - helpers of the receipt tests: the fixture receipt QR code, QR
 * images decoded by zbarimg (an SVG drawn into a PGM first), and a strict
 * reader of DSFinV-K CSV files (';' between fields, CR LF after rows, text
 * in double quotes with quotes doubled), so a table that breaks the form
 * fails the test.
 */
#ifndef OPENTSE_TEST_RTEST_H
#define OPENTSE_TEST_RTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

/* The receipt QR code of the fixtures, one line (malloc'd). */
static inline char *rt_fixture_qr(void)
{
    char *path = th_fixture("qr-p256.txt");
    size_t len;
    char *s = (char *)th_read_file(path, &len);
    assert_non_null(s);
    s[strcspn(s, "\r\n")] = 0;
    free(path);
    return s;
}

/* The text zbarimg decodes from an image file (malloc'd), NULL if none.
 * Only QR codes are looked for: the modules of a QR code can also read as a
 * line barcode (zbarimg once found an "I2/5" one inside a receipt's code),
 * whose text would be joined to the QR code's. */
static inline char *rt_zbar_decode(const char *path)
{
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "zbarimg --quiet --raw -Sdisable -Sqrcode.enable -Sbinary '%s' 2>/dev/null", path) >
                0);
    FILE *f = popen(cmd, "r");
    free(cmd);
    assert_non_null(f);
    char *buf = calloc(1, 8192);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 8191, f);
    if (pclose(f) != 0) {
        free(buf);
        return NULL;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    return buf;
}

/* The PNG, written to `path`, decodes (zbarimg) to `text`. */
static inline void rt_png_decodes(const char *path, const uint8_t *png, size_t len, const char *text)
{
    assert_int_equal(th_write_file(path, png, len), 0);
    char *decoded = rt_zbar_decode(path);
    assert_non_null(decoded);
    assert_string_equal(decoded, text);
    free(decoded);
}

/* The SVG is well-formed XML (xmllint), and its path, drawn module by
 * module into a PGM image, decodes (zbarimg) to `text`. */
static inline void rt_svg_decodes(const char *svg, const char *text)
{
    char *path = th_path("qr.svg");
    assert_int_equal(th_write_file(path, svg, strlen(svg)), 0);
    char *cmd;
    assert_true(asprintf(&cmd, "xmllint --noout '%s'", path) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    int w = 0;
    const char *vb = strstr(svg, "viewBox=\"0 0 ");
    assert_non_null(vb);
    assert_int_equal(sscanf(vb, "viewBox=\"0 0 %d", &w), 1);
    assert_true(w > 20 && w < 200);
    const int px = 4;
    size_t side = (size_t)w * px;
    uint8_t *img = malloc(side * side);
    memset(img, 255, side * side);
    const char *d = strstr(svg, " d=\"");
    assert_non_null(d);
    d += 4;
    int x, y, run, back, n;
    size_t rects = 0;
    while (sscanf(d, "M%d,%dh%dv1h-%dz%n", &x, &y, &run, &back, &n) == 4) {
        assert_int_equal(run, back);
        assert_true(x >= 0 && y >= 0 && run > 0 && x + run <= w && y < w);
        for (int yy = y * px; yy < (y + 1) * px; yy++)
            memset(img + (size_t)yy * side + (size_t)x * px, 0, (size_t)run * px);
        d += n;
        rects++;
    }
    assert_true(rects > 50);
    assert_int_equal(*d, '"');   /* the whole path was read */
    char *pgm = th_path("qr-from-svg.pgm");
    FILE *f = fopen(pgm, "wb");
    assert_non_null(f);
    fprintf(f, "P5 %zu %zu 255\n", side, side);
    assert_int_equal(fwrite(img, 1, side * side, f), side * side);
    assert_int_equal(fclose(f), 0);
    char *decoded = rt_zbar_decode(pgm);
    assert_non_null(decoded);
    assert_string_equal(decoded, text);
    free(decoded);
    free(pgm);
    free(img);
    free(path);
}

typedef struct csv_table {
    size_t rows, cols;       /* rows without the header */
    char **header;           /* cols names */
    char ***cell;            /* cell[row][col] */
} csv_table;

/* Splits one field at *p; returns a malloc'd value, advances *p past the
 * separator or row end (sets *row_end). */
static inline char *csv_field(const char **p, const char *end, bool *row_end)
{
    const char *s = *p;
    char *out = calloc(1, (size_t)(end - s) + 1);
    size_t n = 0;
    assert_non_null(out);
    if (s < end && *s == '"') {
        s++;
        for (;;) {
            assert_true(s < end);   /* unterminated quote */
            if (*s == '"') {
                if (s + 1 < end && s[1] == '"') {
                    out[n++] = '"';
                    s += 2;
                    continue;
                }
                s++;
                break;
            }
            out[n++] = *s++;
        }
    } else {
        while (s < end && *s != ';' && *s != '\r') {
            assert_true(*s != '"' && *s != '\n');
            out[n++] = *s++;
        }
    }
    if (s < end && *s == ';') {
        *row_end = false;
        s++;
    } else {
        assert_true(s + 2 <= end && s[0] == '\r' && s[1] == '\n');   /* rows end with CR LF */
        *row_end = true;
        s += 2;
    }
    *p = s;
    return out;
}

static inline csv_table csv_read(const char *path)
{
    size_t len;
    char *text = (char *)th_read_file(path, &len);
    assert_non_null(text);
    csv_table t = {0};
    const char *p = text, *end = text + len;
    char ***rows = NULL;
    size_t n_rows = 0;
    while (p < end) {
        char **row = NULL;
        size_t n = 0;
        bool row_end = false;
        while (!row_end) {
            row = realloc(row, (n + 1) * sizeof *row);
            assert_non_null(row);
            row[n++] = csv_field(&p, end, &row_end);
        }
        if (n_rows == 0)
            t.cols = n;
        else if (n != t.cols)
            fail_msg("%s: row %zu has %zu fields, the header %zu", path, n_rows, n, t.cols);
        rows = realloc(rows, (n_rows + 1) * sizeof *rows);
        assert_non_null(rows);
        rows[n_rows++] = row;
    }
    free(text);
    assert_true(n_rows >= 1);
    t.header = rows[0];
    t.cell = rows + 1;
    t.rows = n_rows - 1;
    return t;
}

/* Column index by name; fails the test if absent. */
static inline size_t csv_col(const csv_table *t, const char *name)
{
    for (size_t i = 0; i < t->cols; i++)
        if (strcmp(t->header[i], name) == 0)
            return i;
    fail_msg("no column %s", name);
    return 0;
}

static inline void csv_free(csv_table *t)
{
    char ***rows = t->cell - 1;
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++)
            free(rows[r][c]);
        free(rows[r]);
    }
    free(rows);
}

#endif
