/*
 * fixed.c - ECDSA verification for a key that signs a whole archive, on the
 * brainpool curves, with fixed-base tables: u1*G + u2*Q is a sum of table
 * points (one per 4 bits of each scalar) instead of a double-and-add over
 * the scalars' bits, about twice as fast as OpenSSL's generic verification
 * for these curves (it has optimized code only for the NIST curves). The
 * tables (for G and for the key's point Q, all points affine) are made once
 * per worker and key; the arithmetic is OpenSSL's EC_POINT and BIGNUM.
 *
 * A signature this path does not accept is checked by csp_verify (batch.c),
 * which decides and says why; the test holds both against each other.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include "internal.h"

#define FIXED_BITS 4                     /* scalar bits per table row */
#define FIXED_COLS ((1 << FIXED_BITS) - 1)  /* multiples 1..15 per row */

struct vfixed {
    EC_GROUP *group;
    BN_CTX *ctx;
    const BIGNUM *order;
    int order_bits;
    size_t rows;                 /* per table */
    EC_POINT **g, **q;           /* rows * FIXED_COLS each: j * 2^(4i) * base */
    EC_POINT *sum;
};

static void free_table(EC_POINT **t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        EC_POINT_free(t[i]);
    free(t);
}

void vfixed_free(vfixed *f)
{
    if (!f)
        return;
    free_table(f->g, f->rows * FIXED_COLS);
    free_table(f->q, f->rows * FIXED_COLS);
    EC_POINT_free(f->sum);
    BN_CTX_free(f->ctx);
    EC_GROUP_free(f->group);
    free(f);
}

/* t[i * 15 + j - 1] = j * 2^(4i) * base, affine. */
static EC_POINT **make_table(vfixed *f, const EC_POINT *base)
{
    size_t n = f->rows * FIXED_COLS;
    EC_POINT **t = calloc(n, sizeof *t);
    BIGNUM *x = BN_CTX_get(f->ctx), *y = BN_CTX_get(f->ctx);
    if (!t || !y)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!(t[i] = EC_POINT_new(f->group)))
            goto fail;
    for (size_t r = 0; r < f->rows; r++) {
        EC_POINT **row = t + r * FIXED_COLS;
        if (r == 0 ? !EC_POINT_copy(row[0], base) : !EC_POINT_copy(row[0], t[(r - 1) * FIXED_COLS]))
            goto fail;
        for (int k = 0; r > 0 && k < FIXED_BITS; k++)
            if (!EC_POINT_dbl(f->group, row[0], row[0], f->ctx))
                goto fail;
        for (int j = 1; j < FIXED_COLS; j++)
            if (!EC_POINT_add(f->group, row[j], row[j - 1], row[0], f->ctx))
                goto fail;
        /* affine (Z = 1): the additions of a verification are then the cheaper mixed ones */
        for (int j = 0; j < FIXED_COLS; j++)
            if (!EC_POINT_is_at_infinity(f->group, row[j]) &&
                (!EC_POINT_get_affine_coordinates(f->group, row[j], x, y, f->ctx) ||
                 !EC_POINT_set_affine_coordinates(f->group, row[j], x, y, f->ctx)))
                goto fail;
    }
    return t;
fail:
    free_table(t, n);
    return NULL;
}

vfixed *vfixed_new(EVP_PKEY *pub)
{
    char name[64];
    uint8_t point[2 * 66 + 1];
    size_t point_len = 0;
    if (EVP_PKEY_get_group_name(pub, name, sizeof name, NULL) != 1 || strncmp(name, "brainpool", 9) != 0 ||
        EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &point_len) != 1) {
        ERR_clear_error();
        return NULL;
    }
    vfixed *f = calloc(1, sizeof *f);
    EC_POINT *q = NULL;
    if (!f || !(f->group = EC_GROUP_new_by_curve_name(OBJ_txt2nid(name))) || !(f->ctx = BN_CTX_new()) ||
        !(q = EC_POINT_new(f->group)) || EC_POINT_oct2point(f->group, q, point, point_len, f->ctx) != 1 ||
        !(f->sum = EC_POINT_new(f->group)))
        goto fail;
    f->order = EC_GROUP_get0_order(f->group);
    f->order_bits = BN_num_bits(f->order);
    f->rows = ((size_t)f->order_bits + FIXED_BITS - 1) / FIXED_BITS;
    BN_CTX_start(f->ctx);
    f->g = make_table(f, EC_GROUP_get0_generator(f->group));
    f->q = f->g ? make_table(f, q) : NULL;
    BN_CTX_end(f->ctx);
    if (!f->q)
        goto fail;
    EC_POINT_free(q);
    return f;
fail:
    EC_POINT_free(q);
    vfixed_free(f);
    ERR_clear_error();
    return NULL;
}

/* sum += u * base through the table t. */
static bool add_multiple(vfixed *f, EC_POINT **t, const BIGNUM *u, bool *first)
{
    uint8_t be[80];
    size_t len = ((size_t)f->order_bits + 7) / 8;
    if (len > sizeof be || BN_bn2binpad(u, be, (int)len) != (int)len)
        return false;
    for (size_t r = 0; r < f->rows; r++) {
        unsigned d = (be[len - 1 - r / 2] >> (4 * (r % 2))) & 0xf;
        if (!d)
            continue;
        const EC_POINT *p = t[r * FIXED_COLS + d - 1];
        if (*first ? !EC_POINT_copy(f->sum, p) : !EC_POINT_add(f->group, f->sum, f->sum, p, f->ctx))
            return false;
        *first = false;
    }
    return true;
}

bool vfixed_verify(vfixed *f, const uint8_t *digest, size_t dlen, const uint8_t *sig, size_t sig_len)
{
    size_t half = ((size_t)f->order_bits + 7) / 8;
    if (sig_len != 2 * half)
        return false;
    BN_CTX_start(f->ctx);
    BIGNUM *r = BN_CTX_get(f->ctx), *s = BN_CTX_get(f->ctx), *e = BN_CTX_get(f->ctx),
           *w = BN_CTX_get(f->ctx), *u1 = BN_CTX_get(f->ctx), *u2 = BN_CTX_get(f->ctx),
           *x = BN_CTX_get(f->ctx);
    bool ok = false, first = true;
    if (!x || !BN_bin2bn(sig, (int)half, r) || !BN_bin2bn(sig + half, (int)half, s))
        goto done;
    /* 0 < r, s < n */
    if (BN_is_zero(r) || BN_is_zero(s) || BN_ucmp(r, f->order) >= 0 || BN_ucmp(s, f->order) >= 0)
        goto done;
    /* e: the digest's leftmost bits, as many as the order has (SEC 1, 4.1.4) */
    int bits = f->order_bits;
    if (8 * dlen > (size_t)bits)
        dlen = ((size_t)bits + 7) / 8;
    if (!BN_bin2bn(digest, (int)dlen, e) || (8 * dlen > (size_t)bits && !BN_rshift(e, e, 8 - (bits & 7))))
        goto done;
    /* w = s^-1, u1 = e w, u2 = r w (mod n); the point u1 G + u2 Q */
    if (!BN_mod_inverse(w, s, f->order, f->ctx) || !BN_mod_mul(u1, e, w, f->order, f->ctx) ||
        !BN_mod_mul(u2, r, w, f->order, f->ctx) || !add_multiple(f, f->g, u1, &first) ||
        !add_multiple(f, f->q, u2, &first))
        goto done;
    /* valid when the point is not at infinity and its x mod n is r */
    if (first || EC_POINT_is_at_infinity(f->group, f->sum) ||
        !EC_POINT_get_affine_coordinates(f->group, f->sum, x, NULL, f->ctx) ||
        !BN_nnmod(x, x, f->order, f->ctx))
        goto done;
    ok = BN_cmp(x, r) == 0;
done:
    BN_CTX_end(f->ctx);
    ERR_clear_error();
    return ok;
}
