/*
 * receipt.h - DSFinV-K for cash registers and auditors (TSE-FORMATS.md
 * section 5): processData builders for Kassenbeleg-V1 and Bestellung-V1, the
 * receipt QR string (build, parse, verify against the signature it carries),
 * QR images (PNG, SVG), and the TSE tables tse.csv / transactions_tse.csv.
 *
 * Conventions: every function that can fail writes a message naming the
 * problem into `err` (a tse_error; may be NULL) and produces no
 * output then. Returned strings and buffers are malloc'd and owned by the
 * caller, who releases them with free(). Amounts are integers in cents.
 */
#ifndef OPENTSE_SRC_RECEIPT_H
#define OPENTSE_SRC_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "opentse/opentse.h"
#include "opentse/receipt.h"

#define RECEIPT_MAX_CENTS TSE_RECEIPT_MAX_CENTS

/* ---------------------------------------------------------- amounts */

/* "12.3", "-4.50", "7" -> cents. At most two decimals, '.' as separator, no
 * sign other than a leading '-', |amount| <= RECEIPT_MAX_CENTS. */
bool receipt_amount_parse(const char *s, int64_t *cents);
/* The same with up to five decimals ("12.34567", as registers send them to
 * the HTTP API; zeros past the fifth do not count), rounded half away from
 * zero to cents: "0.005" -> 1, "-2.34500" -> -235, "11.9000000" -> 1190,
 * "-2.344999" refused (six places). */
bool receipt_amount_parse_rounded(const char *s, int64_t *cents);
/* cents -> "12.30", "-4.50" into out (cap >= 24). */
void receipt_amount_format(int64_t cents, char *out, size_t cap);

/* ---------------------------------------------------- Kassenbeleg-V1 */

/* The inputs are libopentse's (opentse/receipt.h): tse_receipt_vat indexes
 * the gross amounts. */
typedef tse_receipt_payment receipt_payment;
typedef tse_receipt_kassenbeleg receipt_kassenbeleg;

/* Builds "<Vorgangstyp>^<a>_<b>_<c>_<d>_<e>^<payments>". Payments of the same
 * kind and currency are added up, zero sums are omitted, and the rest are
 * put in DSFinV-K order (Bar before Unbar; EUR first, then the other
 * currencies alphabetically). Refused: an unknown Vorgangstyp, an amount or
 * sum beyond RECEIPT_MAX_CENTS, a currency that is not three capital letters.
 * Returns the processData text or NULL. */
char *receipt_kassenbeleg_build(const receipt_kassenbeleg *in, tse_error *err);

/* Checks processData text against Kassenbeleg-V1 exactly as the builder
 * writes it (known Vorgangstyp, five amounts with two decimals, payments in
 * DSFinV-K order without duplicates or zero amounts, EUR not written out).
 * Returns true if it conforms. */
bool receipt_kassenbeleg_check(const char *pd, size_t len, tse_error *err);

/* Names of the HTTP API (fiskaly standard_v1 receipt): receipt_type RECEIPT,
 * TRAINING, TRANSFER, ORDER, CANCELLATION, ABORT, BENEFIT_IN_KIND, INVOICE,
 * OTHER -> Vorgangstyp (NULL if unknown); vat_rate NORMAL, REDUCED_1,
 * SPECIAL_RATE_1, SPECIAL_RATE_2, NULL or a percentage ("19", "7", "10.7",
 * "5.5", "0", with up to two decimals; also the rates of earlier years:
 * "16", "5", and "9.5", "9", "8.4", "7.8" for SPECIAL_RATE_1) ->
 * tse_receipt_vat (-1 if unknown);
 * payment_type CASH / NON_CASH -> non_cash 0 / 1 (-1 if unknown). */
const char *receipt_vorgangstyp_from_api(const char *receipt_type);
int receipt_vat_from_api(const char *vat_rate);
int receipt_payment_type_from_api(const char *payment_type);

/* ----------------------------------------------------- Bestellung-V1 */

typedef tse_receipt_item receipt_item;

/* Builds one line per item, `<quantity>;"<name>";<unit price>`, lines
 * separated by CR (DSFinV-K Anhang I). Refused: no items, an empty name or
 * one with control characters or invalid UTF-8, quantity 0, amounts beyond
 * RECEIPT_MAX_CENTS. */
char *receipt_bestellung_build(const receipt_item *items, size_t n, tse_error *err);
/* A quantity "2", "0.5", "-1.125" (up to three decimals) in thousandths. */
bool receipt_quantity_parse(const char *s, int64_t *milli);

/* ------------------------------------------------------ receipt QR code */

/* Fields of the DSFinV-K receipt QR code
 * "V0;clientId;processType;processData;txNumber;sigCounter;start;finish;
 *  sigAlg;timeFormat;signature-base64;publicKey-base64". */
typedef struct receipt_qr {
    const char *client_id;
    const char *process_type;
    const uint8_t *process_data;
    size_t process_data_len;
    uint64_t transaction_number;
    uint64_t signature_counter;     /* of the Finish log */
    int64_t start_time;             /* logTime of the Start log, epoch seconds */
    int64_t finish_time;            /* logTime of the Finish log */
    const char *signature_algorithm;/* "ecdsa-plain-SHA256" */
    tse_time_format time_format;
    const uint8_t *signature;       /* plain r||s of the Finish log */
    size_t signature_len;
    const uint8_t *public_key;      /* uncompressed point 04||X||Y */
    size_t public_key_len;
    int log_version;                /* of the Finish log: 3, or 0/2 for version 2 (the
                                       QR code does not say: verifying tries both) */
} receipt_qr;

/* The QR string of `q`. Refused: missing fields, ';' in clientId or
 * processType, a time before 1970, an unknown algorithm. */
char *receipt_qr_string(const receipt_qr *q, tse_error *err);

/* The QR string of a finished transaction: `finish` is the tse_result of
 * tse_finish_transaction; client id, process type and data are the ones
 * given to it (the signed values); algorithm and time format from
 * tse_get_info (info.signature_algorithm, info.time_format); public key from
 * tse_public_key. */
char *receipt_qr_from_result(const tse_result *finish, const char *client_id, const char *process_type,
                             const uint8_t *process_data, size_t process_data_len,
                             const char *signature_algorithm, tse_time_format time_format,
                             const uint8_t *public_key, size_t public_key_len, tse_error *err);

/* The QR string of a stored Finish log message (DER, e.g. from
 * tse_read_log_by_counter with the finish result's signature counter): its
 * clientId, processType, processData, numbers, time and algorithm are the
 * signed ones, including data that unsigned updates prepended. `start_time`
 * is the logTime of the transaction's Start log (tse_result.start_time);
 * `public_key` the TSE's uncompressed point. Refused: not a FinishTransaction
 * log, or a key whose SHA-256 is not the log's serial number. */
char *receipt_qr_from_log(const uint8_t *finish_log, size_t len, int64_t start_time, const uint8_t *public_key,
                          size_t public_key_len, tse_error *err);

/* A parsed QR string: text fields point into `text` (a private copy),
 * signature and public key are decoded. Free with receipt_qr_parsed_free. */
typedef struct receipt_qr_parsed {
    receipt_qr q;
    int start_millis, finish_millis;
    char *text;
    uint8_t *signature;
    uint8_t *public_key;
} receipt_qr_parsed;

/* Splits and decodes a QR string (processData may itself hold ';': the
 * first three and the last eight fields are fixed). Returns false if it is
 * not a V0 receipt QR code. */
bool receipt_qr_parse(const char *s, receipt_qr_parsed *out, tse_error *err);
void receipt_qr_parsed_free(receipt_qr_parsed *p);

typedef enum receipt_qr_result {
    RECEIPT_QR_VALID = 0,        /* the signature verifies over the rebuilt Finish log */
    RECEIPT_QR_BAD_SIGNATURE = 1,/* well-formed, but the signature does not verify */
    RECEIPT_QR_MALFORMED = 2,    /* not a readable receipt QR code */
    RECEIPT_QR_UNSUPPORTED = 3,  /* algorithm, curve or time format we cannot rebuild */
} receipt_qr_result;

/* What verification found, for reports. */
typedef struct receipt_qr_check {
    char curve[24];              /* e.g. "prime256v1"; empty if unknown */
    uint8_t serial[32];          /* SHA-256 of the public key: the TSE serial */
    size_t signed_len;           /* length of the rebuilt signed bytes */
    bool indefinite_process_data;/* signed with processData BER indefinite-length (D-Trust) */
    bool process_type_omitted;   /* the code's empty processType was absent from the log */
} receipt_qr_check;

/* Verifies any vendor's receipt QR code: rebuilds the Finish log's signed
 * bytes from its fields (codec) and checks its signature with the public key
 * it carries (csp). processData is tried in DER and, failing that, as the
 * one-segment BER indefinite-length form some TSEs sign; an empty
 * processType also as absent. `check` may be NULL; err says why it is not
 * VALID. */
receipt_qr_result receipt_qr_verify(const char *s, receipt_qr_check *check, tse_error *err);

/* Rebuilds the signed bytes of the Finish log a QR code describes. Returns
 * a malloc'd buffer and its length, or NULL. */
uint8_t *receipt_qr_signed_bytes(const receipt_qr *q, size_t *len, tse_error *err);

/* The TSE lines of a printed receipt (KassenSichV section 6), one
 * "Name: value" per line: register serial (clientId), TSE serial, transaction
 * number, start, end, signature counter, signature. With q == NULL, when the
 * TSE could not sign, the block is "TSE ausgefallen[: <outage_reason>]". */
char *receipt_tse_block(const receipt_qr *q, const char *outage_reason, tse_error *err);

/* --------------------------------------------------------- QR images */

/* QR symbol of `text` (error correction M, 4 modules quiet zone).
 * `scale` pixels per module (1..64). PNG: 1-bit grayscale. */
int receipt_qr_png(const char *text, int scale, uint8_t **png, size_t *png_len, tse_error *err);
/* SVG document, one path for all dark modules; `scale` user units per module. */
char *receipt_qr_svg(const char *text, int scale, tse_error *err);

#endif /* OPENTSE_SRC_RECEIPT_H */
