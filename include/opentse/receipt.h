/*
 * receipt.h - DSFinV-K receipts for cash registers, part of libopentse:
 * the processData of Kassenbeleg-V1 and Bestellung-V1, the receipt QR code
 * (string, verification, PNG and SVG images) and the TSE lines of a printed
 * receipt (KassenSichV section 6).
 *
 * Errors as in opentse.h: every function returns a tse_err, TSE_OK (0) or a
 * negative code; invalid input gives TSE_ERR_INVALID_ARGUMENT and
 * tse_last_error_message() names the problem. On failure nothing is
 * returned (`*out` is set to NULL).
 *
 * Ownership: pointers passed in are borrowed for the duration of the call.
 * Strings and buffers returned through `**out` parameters are owned by the
 * caller and released with tse_free().
 *
 * Amounts are integers in cents. Every function may be called from many
 * threads at once.
 */
#ifndef OPENTSE_RECEIPT_H
#define OPENTSE_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opentse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest amount accepted, in cents (one trillion euro). */
#define TSE_RECEIPT_MAX_CENTS 100000000000000LL

/* ---------------------------------------------------- Kassenbeleg-V1 */

/* The five gross amounts, in the order processData lists them. */
typedef enum tse_receipt_vat {
    TSE_RECEIPT_VAT_NORMAL = 0,    /* general rate (19 %) */
    TSE_RECEIPT_VAT_REDUCED,       /* reduced rate (7 %) */
    TSE_RECEIPT_VAT_AVERAGE_3,     /* average rate, section 24(1) no. 3 UStG */
    TSE_RECEIPT_VAT_AVERAGE_1,     /* average rate, section 24(1) no. 1 UStG */
    TSE_RECEIPT_VAT_ZERO,          /* 0 % */
    TSE_RECEIPT_VAT_COUNT
} tse_receipt_vat;

typedef struct tse_receipt_payment {
    int64_t cents;             /* may be negative (refunds, cancellations) */
    bool non_cash;             /* false: Bar, true: Unbar */
    const char *currency;      /* ISO 4217, three capital letters; NULL = EUR */
} tse_receipt_payment;

typedef struct tse_receipt_kassenbeleg {
    const char *vorgangstyp;   /* Beleg, AVTransfer, AVBestellung, AVTraining, AVBelegstorno,
                                  AVBelegabbruch, AVSachbezug, AVSonstige, AVRechnung */
    int64_t gross[TSE_RECEIPT_VAT_COUNT]; /* indexed by tse_receipt_vat */
    const tse_receipt_payment *payments;
    size_t n_payments;
} tse_receipt_kassenbeleg;

/* Kassenbeleg-V1 processData "<Vorgangstyp>^<a>_<b>_<c>_<d>_<e>^<payments>"
 * into `*process_data` (NUL-terminated; pass strlen() of it to
 * tse_finish_transaction). Payments of the same kind and currency are added
 * up, zero sums left out, the rest put in DSFinV-K order (Bar before Unbar;
 * EUR first, then the other currencies alphabetically). Refused: an unknown
 * Vorgangstyp, an amount or sum beyond TSE_RECEIPT_MAX_CENTS, a currency
 * that is not three capital letters. */
TSE_API TSE_NODISCARD tse_err tse_receipt_kassenbeleg_build(const tse_receipt_kassenbeleg *in, char **process_data);

/* ----------------------------------------------------- Bestellung-V1 */

typedef struct tse_receipt_item {
    int64_t quantity_milli;    /* quantity in thousandths: 2000 = "2", 1500 = "1.5" */
    const char *name;          /* UTF-8, no control characters; quotes are doubled */
    int64_t unit_price;        /* gross unit price in cents */
} tse_receipt_item;

/* Bestellung-V1 processData: one line `<quantity>;"<name>";<unit price>`
 * per item, lines separated by CR (DSFinV-K Anhang I). Refused: no items,
 * an empty name or one with control characters or invalid UTF-8, quantity
 * 0, amounts beyond TSE_RECEIPT_MAX_CENTS; the message names the item. */
TSE_API TSE_NODISCARD tse_err tse_receipt_bestellung_build(const tse_receipt_item *items, size_t n,
                                                           char **process_data);

/* ------------------------------------------------------ receipt QR code */

/* The DSFinV-K receipt QR string "V0;clientId;processType;processData;
 * txNumber;sigCounter;start;finish;sigAlg;timeFormat;signature;publicKey"
 * of a finished transaction into `*qr`. `finish` is the result of
 * tse_finish_transaction on `t`; `client_id`, `process_type` and
 * `process_data` are what the register passed to it. Algorithm, time format
 * and public key are read from `t`. The QR code is made from the stored
 * Finish log (tse_read_log_by_counter), so data of unsigned updates, which
 * the Finish log signs in front of the finish data, is included; only when
 * `t` cannot read that log (TSE_ERR_NOT_SUPPORTED, TSE_ERR_NO_LOG_MESSAGE)
 * from the given values, which then must be all the transaction's data.
 * Errors of `t` (e.g. TSE_ERR_UNREACHABLE) are passed on. */
TSE_API TSE_NODISCARD tse_err tse_receipt_qr_from_finish(tse *t, const tse_result *finish, const char *client_id,
                                                         const char *process_type, const uint8_t *process_data,
                                                         size_t process_data_len, char **qr);

/* What tse_receipt_qr_verify found. */
typedef enum tse_receipt_qr_status {
    TSE_RECEIPT_QR_VALID = 0,         /* the signature verifies over the rebuilt Finish log */
    TSE_RECEIPT_QR_BAD_SIGNATURE = 1, /* well-formed, but the signature does not verify */
    TSE_RECEIPT_QR_MALFORMED = 2,     /* not a readable receipt QR code */
    TSE_RECEIPT_QR_UNSUPPORTED = 3,   /* algorithm, curve or time format not supported */
} tse_receipt_qr_status;

/* Verifies any vendor's receipt QR code: rebuilds the signed bytes of the
 * Finish log from its fields and checks the signature with the public key
 * it carries. Needs no TSE. Returns TSE_OK if the signature verifies;
 * TSE_ERR_INVALID_ARGUMENT if the code is malformed or its signature does
 * not verify, TSE_ERR_NOT_SUPPORTED for an algorithm it cannot check; the
 * message says why. `status` (may be NULL) gets the verdict. */
TSE_API TSE_NODISCARD tse_err tse_receipt_qr_verify(const char *qr, tse_receipt_qr_status *status);

/* The QR symbol of `text` (error correction M, quiet zone of 4 modules),
 * `scale` pixels per module (1..64), as a one-bit grayscale PNG into
 * `*png` / `*png_len`. Refused: empty text, text longer than a QR code
 * holds, a scale outside 1..64. */
TSE_API TSE_NODISCARD tse_err tse_receipt_qr_png(const char *text, int scale, uint8_t **png, size_t *png_len);

/* The same symbol as an SVG document (one path for all dark modules),
 * `scale` user units per module, into `*svg`. */
TSE_API TSE_NODISCARD tse_err tse_receipt_qr_svg(const char *text, int scale, char **svg);

/* ------------------------------------------------------- printed receipt */

/* The TSE lines of a printed receipt (KassenSichV section 6), one
 * "Name: value" line each, from the receipt's QR string: register serial
 * (clientId), TSE serial (SHA-256 of the public key), transaction number,
 * start, end, signature counter, signature. With `qr` NULL, when the TSE
 * could not sign, the block is "TSE ausgefallen[: <outage_reason>]"
 * (`outage_reason` may be NULL; one line of up to 200 bytes). */
TSE_API TSE_NODISCARD tse_err tse_receipt_tse_block(const char *qr, const char *outage_reason, char **block);

#ifdef __cplusplus
}
#endif
#endif /* OPENTSE_RECEIPT_H */
