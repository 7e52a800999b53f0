/*
 * receipt_api.c - libopentse's receipt functions (<opentse/receipt.h>): each
 * calls receipt/ and reports its refusals the way the SE API does, as a
 * tse_err with the message behind tse_last_error_message().
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "opentse/receipt.h"
#include "receipt/receipt.h"

_Static_assert(TSE_RECEIPT_QR_VALID == (int)RECEIPT_QR_VALID && TSE_RECEIPT_QR_BAD_SIGNATURE == (int)RECEIPT_QR_BAD_SIGNATURE &&
                   TSE_RECEIPT_QR_MALFORMED == (int)RECEIPT_QR_MALFORMED &&
                   TSE_RECEIPT_QR_UNSUPPORTED == (int)RECEIPT_QR_UNSUPPORTED,
               "tse_receipt_qr_status mirrors receipt_qr_result");

/* receipt/ refused, `err` says why. */
static tse_err refused(const tse_error *err)
{
    return engine_fail(err->code ? (tse_err)err->code : TSE_ERR_INVALID_ARGUMENT, "%s", err->message);
}

/* Clears the out parameter `p`, or refuses it as missing. */
#define OUT_REQUIRED(p)                                                                    \
    do {                                                                                   \
        if (!(p))                                                                          \
            return engine_fail(TSE_ERR_INVALID_ARGUMENT, "%s is required", #p);            \
        *(p) = NULL;                                                                       \
    } while (0)

tse_err tse_receipt_kassenbeleg_build(const tse_receipt_kassenbeleg *in, char **process_data)
{
    OUT_REQUIRED(process_data);
    tse_error err = {0};
    *process_data = receipt_kassenbeleg_build(in, &err);
    return *process_data ? TSE_OK : refused(&err);
}

tse_err tse_receipt_bestellung_build(const tse_receipt_item *items, size_t n, char **process_data)
{
    OUT_REQUIRED(process_data);
    tse_error err = {0};
    *process_data = receipt_bestellung_build(items, n, &err);
    return *process_data ? TSE_OK : refused(&err);
}

tse_err tse_receipt_qr_from_finish(tse *t, const tse_result *finish, const char *client_id,
                                   const char *process_type, const uint8_t *process_data, size_t process_data_len,
                                   char **qr)
{
    OUT_REQUIRED(qr);
    if (!finish)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "receipt QR: no finish result");
    tse_info info;
    uint8_t *point = NULL, *log = NULL;
    size_t point_len = 0, log_len = 0;
    tse_err rc = tse_get_info(t, &info);
    if (rc == TSE_OK)
        rc = tse_public_key(t, &point, &point_len);
    if (rc == TSE_OK)
        rc = tse_read_log_by_counter(t, finish->signature_counter, &log, &log_len);
    tse_error err = {0};
    if (rc == TSE_OK) {
        /* the signed values, with what unsigned updates added */
        *qr = receipt_qr_from_log(log, log_len, finish->start_time, point, point_len, &err);
    } else if (rc == TSE_ERR_NOT_SUPPORTED || rc == TSE_ERR_NO_LOG_MESSAGE) {
        /* a transport without log reading, or a log deleted after its export */
        *qr = receipt_qr_from_result(finish, client_id, process_type, process_data, process_data_len,
                                     info.signature_algorithm, info.time_format, point, point_len, &err);
    }
    if (rc == TSE_OK || rc == TSE_ERR_NOT_SUPPORTED || rc == TSE_ERR_NO_LOG_MESSAGE)
        rc = *qr ? TSE_OK : refused(&err);
    tse_free(log);
    tse_free(point);
    return rc;
}

tse_err tse_receipt_qr_verify(const char *qr, tse_receipt_qr_status *status)
{
    tse_error err = {0};
    receipt_qr_result r = receipt_qr_verify(qr, NULL, &err);
    if (status)
        *status = (tse_receipt_qr_status)r;
    if (r == RECEIPT_QR_VALID)
        return TSE_OK;
    return engine_fail(r == RECEIPT_QR_UNSUPPORTED ? TSE_ERR_NOT_SUPPORTED : TSE_ERR_INVALID_ARGUMENT, "%s", err.message);
}

tse_err tse_receipt_qr_png(const char *text, int scale, uint8_t **png, size_t *png_len)
{
    OUT_REQUIRED(png);
    if (!png_len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "png_len is required");
    tse_error err = {0};
    tse_err rc = receipt_qr_png(text, scale, png, png_len, &err);
    return rc == TSE_OK ? rc : engine_fail(rc, "%s", err.message);
}

tse_err tse_receipt_qr_svg(const char *text, int scale, char **svg)
{
    OUT_REQUIRED(svg);
    tse_error err = {0};
    *svg = receipt_qr_svg(text, scale, &err);
    return *svg ? TSE_OK : refused(&err);
}

tse_err tse_receipt_tse_block(const char *qr, const char *outage_reason, char **block)
{
    OUT_REQUIRED(block);
    tse_error err = {0};
    receipt_qr_parsed p;
    if (qr && !receipt_qr_parse(qr, &p, &err))
        return refused(&err);
    *block = receipt_tse_block(qr ? &p.q : NULL, outage_reason, &err);
    if (qr)
        receipt_qr_parsed_free(&p);
    return *block ? TSE_OK : refused(&err);
}
