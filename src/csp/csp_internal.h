/*
 * csp_internal.h - what the files of csp/ share and nothing else may see: the
 * layout of a private key in memory and the error helper.
 */
#ifndef OPENTSE_CSP_INTERNAL_H
#define OPENTSE_CSP_INTERNAL_H

#include "csp/csp.h"

struct csp_key {
    tse_curve curve;
    EVP_PKEY *pkey;   /* holds the private scalar; freed with EVP_PKEY_free */
};

/* Writes the formatted message into err, clears OpenSSL's error queue and
 * returns code. csp_fail_ssl also appends the reason of the newest OpenSSL
 * error (for failures inside OpenSSL). */
int csp_fail(tse_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int csp_fail_ssl(tse_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The message digest of a resolved hash (not TSE_HASH_DEFAULT), or NULL. */
const EVP_MD *csp_md(tse_hash h);

/* true if k is an EC key. Unlike EVP_PKEY_is_a() alone it cannot say no
 * because a name lookup ran out of memory. */
bool csp_is_ec(const EVP_PKEY *k);

/* true if c is one of the six supported curves. */
bool csp_curve_valid(tse_curve c);

/* Largest order and point of the curves, and of a DER signature. */
#define MAX_ORDER_LEN 66
#define MAX_POINT_LEN (1 + 2 * MAX_ORDER_LEN)
#define MAX_DER_SIG_LEN 160

/* The private scalar of k, big-endian in `ol` bytes (the order's length). */
int csp_key_scalar(const csp_key *k, uint8_t *out, size_t ol);

/* A key of curve c from its scalar and uncompressed point, or NULL. */
EVP_PKEY *csp_key_from_parts(tse_curve c, const uint8_t *scalar, size_t ol, const uint8_t *point, size_t point_len);

#endif
