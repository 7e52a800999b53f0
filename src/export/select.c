/*
 * select.c - the filters of TR-03151 exportData (TSE-FORMATS.md section 4)
 * turned into one store selection: parameters that contradict each other,
 * unknown transactions and clients, no data, too many records.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "export/internal.h"

bool export_filter_is_complete(const tse_export_filter *f)
{
    return !f || (!f->transaction_number && !f->start_transaction_number && !f->end_transaction_number &&
                  !f->start_date && !f->end_date && !f->client_id && !f->start_signature_counter &&
                  !f->end_signature_counter);
}

/* Parameters that cannot hold together. */
static int check_params(const tse_export_filter *f, tse_error *err)
{
    bool by_tx = f->transaction_number, by_range = f->start_transaction_number || f->end_transaction_number,
         by_date = f->start_date || f->end_date;
    if (f->cursor && !export_filter_is_complete(f))
        return error_set(err, TSE_ERR_PARAMETER_MISMATCH,
                    "an incremental export (cursor) takes no filter but maximumNumberRecords");
    if (by_tx && by_range)
        return error_set(err, TSE_ERR_PARAMETER_MISMATCH,
                    "transactionNumber and a transaction number range cannot be combined");
    if ((by_tx || by_range) && by_date)
        return error_set(err, TSE_ERR_PARAMETER_MISMATCH, "transaction number and date filters cannot be combined");
    if (f->start_transaction_number && f->end_transaction_number &&
        f->start_transaction_number > f->end_transaction_number)
        return error_set(err, TSE_ERR_PARAMETER_MISMATCH, "startTransactionNumber %llu is above endTransactionNumber %llu",
                    (unsigned long long)f->start_transaction_number, (unsigned long long)f->end_transaction_number);
    if (f->start_signature_counter && f->end_signature_counter && f->start_signature_counter > f->end_signature_counter)
        return error_set(err, TSE_ERR_PARAMETER_MISMATCH, "start signature counter %llu is above the end %llu",
                    (unsigned long long)f->start_signature_counter, (unsigned long long)f->end_signature_counter);
    if (f->start_date < 0 || f->end_date < 0)
        return error_set(err, TSE_ERR_PARAMETER_MISMATCH, "dates before 1970 are not valid");
    if (f->start_date && f->end_date && f->start_date > f->end_date)
        return error_set(err, TSE_ERR_PARAMETER_MISMATCH, "startDate %lld is after endDate %lld",
                    (long long)f->start_date, (long long)f->end_date);
    if (f->client_id && (!f->client_id[0] || strlen(f->client_id) > TSE_MAX_CLIENT_ID_LEN))
        return error_set(err, TSE_ERR_PARAMETER_MISMATCH, "clientId must have 1..%d characters", TSE_MAX_CLIENT_ID_LEN);
    return 0;
}

static int store_error(int rc, const tse_error *serr, tse_error *err)
{
    return error_set(err, rc == TSE_ERR_NO_MEMORY ? rc : TSE_ERR_STORAGE_FAILURE, "%s", serr->message);
}

/* Counter span of the transaction logs numbered [from, to] (of the client). */
static int tx_span(store *st, const tse_export_filter *f, uint64_t from, uint64_t to, uint64_t *lo, uint64_t *hi,
                   tse_error *err)
{
    tse_error serr = {0};
    store_log_filter s = {.tx_from = from, .tx_to = to, .client_id = f->client_id};
    int rc = store_log_span(st, &s, lo, hi, &serr);
    return rc ? store_error(rc, &serr, err) : 0;
}

int export_select(store *st, const tse_export_filter *f, store_log_filter *sel, tse_error *err)
{
    tse_error serr = {0};
    int rc = check_params(f, err);
    if (rc)
        return rc;
    if (f->client_id) {
        bool known = false;
        if ((rc = store_client_known(st, f->client_id, &known, &serr)) != 0)
            return store_error(rc, &serr, err);
        if (!known)
            return error_set(err, TSE_ERR_ID_NOT_FOUND, "client \"%s\" is not known to this TSE", f->client_id);
    }
    /* Pin the end: logs written while the archive streams belong to the next one. */
    uint64_t last = 0;
    if ((rc = store_last_log(st, &last, NULL, NULL, &serr)) != 0)
        return store_error(rc, &serr, err);
    *sel = (store_log_filter){.from = f->cursor + 1, .to = last, .client_id = f->client_id};
    if (last <= f->cursor)
        return error_set(err, TSE_ERR_NO_DATA_AVAILABLE, "no log was written after cursor %llu",
                    (unsigned long long)f->cursor);

    if (f->transaction_number) {
        uint64_t lo, hi;
        if ((rc = tx_span(st, f, f->transaction_number, f->transaction_number, &lo, &hi, err)) != 0)
            return rc;
        if (!lo)
            return error_set(err, TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND, "no stored log of transaction %llu%s%s",
                        (unsigned long long)f->transaction_number, f->client_id ? " of client " : "",
                        f->client_id ? f->client_id : "");
        sel->from = lo;
        sel->to = hi;
        sel->tx_from = sel->tx_to = f->transaction_number;
        sel->tx_and_others = true;
    } else if (f->start_transaction_number || f->end_transaction_number) {
        uint64_t lo, hi, from = f->start_transaction_number ? f->start_transaction_number : 1,
                         to = f->end_transaction_number ? f->end_transaction_number : INT64_MAX;
        if ((rc = tx_span(st, f, from, to, &lo, &hi, err)) != 0)
            return rc;
        if (!lo)
            return error_set(err, TSE_ERR_NO_DATA_AVAILABLE, "no stored transaction log numbered %llu..%llu",
                        (unsigned long long)from, (unsigned long long)to);
        sel->from = lo;
        sel->to = hi;
    } else if (f->start_date || f->end_date) {
        sel->by_time = true;
        sel->time_from = f->start_date ? f->start_date : INT64_MIN;
        sel->time_to = f->end_date ? f->end_date : INT64_MAX;
    }

    /* a signature counter range narrows what the other filters chose */
    if (f->start_signature_counter > sel->from)
        sel->from = f->start_signature_counter;
    if (f->end_signature_counter && f->end_signature_counter < sel->to)
        sel->to = f->end_signature_counter;
    if (sel->from > sel->to)
        return error_set(err, TSE_ERR_NO_DATA_AVAILABLE, "no stored log matches the filter in signature counters %llu..%llu",
                    (unsigned long long)f->start_signature_counter, (unsigned long long)f->end_signature_counter);

    uint64_t max = f->maximum_number_records, n = 0;
    if ((rc = store_count_logs(st, sel, max ? max : 1, &n, &serr)) != 0)
        return store_error(rc, &serr, err);
    if (!n)
        return error_set(err, TSE_ERR_NO_DATA_AVAILABLE, "no stored log matches the filter");
    if (max && n > max)
        return error_set(err, TSE_ERR_TOO_MANY_RECORDS, "more than maximumNumberRecords = %llu logs match the filter",
                    (unsigned long long)max);
    return 0;
}

int export_check(store *st, const tse_export_filter *f, tse_error *err)
{
    tse_export_filter none = {0};
    store_log_filter sel;
    return export_select(st, f ? f : &none, &sel, err);
}
