/*
 * csp.h - the cryptographic service provider: the only code that touches a
 * private key.
 *
 * Keys on the six TR-03116-5 curves, ecdsa-plain (r||s) signing and
 * verification, the key serial number (SHA-256 of the uncompressed point),
 * private keys sealed with AES-256-GCM under an operator's master key file,
 * PIN/PUK hashing with a slow KDF, a built-in CA for development, CSRs and
 * import of externally issued certificates, and certificate expiry.
 *
 * Every function returns 0 on success or a negative tse_err code, and on
 * failure writes a message naming the problem into `err` (may be NULL).
 */
#ifndef OPENTSE_CSP_H
#define OPENTSE_CSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "opentse/opentse.h"

#define CSP_MASTER_KEY_LEN 32

typedef struct csp_key csp_key;   /* a private key in memory (wiped on free) */

/* Curve of a tse_curve as an OpenSSL group name, e.g. "brainpoolP384r1". */
const char *csp_curve_group(tse_curve c);
/* Order size in bytes: 32, 48, 66 (P-521), 64 (bp512). Signature = 2x that. */
size_t csp_curve_order_len(tse_curve c);
/* TSE_HASH_DEFAULT resolved for a curve. */
tse_hash csp_default_hash(tse_curve c);
/* OID and name of ecdsa-plain-<hash>; NULL for TSE_HASH_DEFAULT or an unknown
 * hash (resolve the default with csp_default_hash first). */
const char *csp_sigalg_oid(tse_hash h);
const char *csp_sigalg_name(tse_hash h);

/* Master key file: 32 raw bytes or 64 hex digits (+ optional newline). Refused
 * when missing, of another size, or readable/writable by group or others. */
int csp_master_key_load(const char *path, uint8_t key[CSP_MASTER_KEY_LEN], tse_error *err);
/* Writes a new random master key file (hex) with mode 0600; refuses to overwrite. */
int csp_master_key_create(const char *path, tse_error *err);

int csp_key_generate(tse_curve c, csp_key **out, tse_error *err);
void csp_key_free(csp_key *k);
tse_curve csp_key_curve(const csp_key *k);
/* Seals the private key: AES-256-GCM, random 96-bit nonce, `aad` bound in
 * (use the TSE serial). The blob is self-describing (version, curve). Caller
 * frees *blob with free(). */
int csp_key_seal(const csp_key *k, const uint8_t mk[CSP_MASTER_KEY_LEN],
                 const uint8_t *aad, size_t aad_len, uint8_t **blob, size_t *blob_len, tse_error *err);
/* Wrong master key or modified blob: TSE_ERR_KEY_UNAVAILABLE. */
int csp_key_unseal(const uint8_t *blob, size_t blob_len, const uint8_t mk[CSP_MASTER_KEY_LEN],
                   const uint8_t *aad, size_t aad_len, csp_key **out, tse_error *err);
/* Uncompressed point 04||X||Y into out (cap >= 133), length to *len. */
int csp_key_public(const csp_key *k, uint8_t *out, size_t cap, size_t *len, tse_error *err);
/* SHA-256 over the uncompressed point. */
void csp_serial(const uint8_t *point, size_t len, uint8_t out[32]);

/* ecdsa-plain: hash `msg` with `h` once, sign, write r||s (2 * order len). */
int csp_sign(const csp_key *k, tse_hash h, const uint8_t *msg, size_t msg_len,
             uint8_t *sig, size_t cap, size_t *sig_len, tse_error *err);
/* Verifies ecdsa-plain r||s with any EC public key. Returns 0 if valid,
 * TSE_ERR_INVALID_ARGUMENT if the signature does not verify or is malformed. */
int csp_verify(EVP_PKEY *pub, tse_hash h, const uint8_t *msg, size_t msg_len,
               const uint8_t *sig, size_t sig_len, tse_error *err);
/* Converts plain r||s to DER ECDSA-Sig-Value (for other tools). Caller frees. */
int csp_plain_to_der(const uint8_t *sig, size_t sig_len, uint8_t **der, size_t *der_len);

/* Public key from an uncompressed point on a curve. Caller EVP_PKEY_free()s. */
EVP_PKEY *csp_pubkey_from_point(tse_curve c, const uint8_t *point, size_t len);
/* Uncompressed point of any EC public key (for certificates). */
int csp_pubkey_point(EVP_PKEY *pub, uint8_t *out, size_t cap, size_t *len);

/* PIN/PUK: scrypt with a random salt; the record is self-describing. */
#define CSP_SECRET_HASH_LEN 64
int csp_secret_hash(const char *secret, uint8_t out[CSP_SECRET_HASH_LEN], tse_error *err);
/* Constant-time check; true if `secret` matches. */
bool csp_secret_check(const char *secret, const uint8_t rec[CSP_SECRET_HASH_LEN]);
/* The same check telling a mismatch (AUTHENTICATION_FAILED) from a check
 * that could not run (NO_MEMORY, INTERNAL): 0 if `secret` matches. */
int csp_secret_verify(const char *secret, const uint8_t rec[CSP_SECRET_HASH_LEN], tse_error *err);
/* Random decimal digits (PUK). */
int csp_random_digits(char *out, size_t n_digits);
int csp_random_bytes(uint8_t *out, size_t n);

/* Built-in CA for development and CI: a new P-384 root (self-signed,
 * ecdsa-with-SHA384) issues the TSE certificate for `k`. Validity from now for
 * `validity_seconds`. Writes a PEM chain (TSE cert first, root last); the root
 * key is discarded. Caller frees *pem. */
int csp_ca_issue(const csp_key *k, const char *subject_cn, int64_t validity_seconds,
                 char **pem, tse_error *err);
/* PEM CSR for `k` (ecdsa-with-SHA256/384 matched to the curve). */
int csp_csr(const csp_key *k, const char *subject_cn, char **pem, tse_error *err);
/* Parses a PEM chain; checks that the first certificate carries the public key
 * of `point` and that each certificate is signed by the next. Returns
 * TSE_ERR_CERTIFICATE_INVALID with a message otherwise. */
int csp_chain_check(const char *pem, const uint8_t *point, size_t point_len, tse_error *err);
/* notAfter of the first certificate of a PEM chain. */
int csp_chain_not_after(const char *pem, int64_t *not_after, tse_error *err);
/* End of usage (TR-03151 getEndOfUsageDate): the earliest notAfter of any
 * certificate of a PEM chain, and that certificate's index (0 = the TSE's
 * own, 1.. = the CA certificates above it). */
int csp_chain_end_of_usage(const char *pem, int64_t *end, size_t *which, tse_error *err);
/* Each certificate of a PEM chain as DER, with the serial (SHA-256 of its
 * key's point) used for export file names. Caller frees with csp_certs_free. */
typedef struct csp_cert {
    uint8_t *der;
    size_t der_len;
    uint8_t key_serial[32];
} csp_cert;
int csp_chain_split(const char *pem, csp_cert **certs, size_t *count, tse_error *err);
void csp_certs_free(csp_cert *certs, size_t count);

#endif
