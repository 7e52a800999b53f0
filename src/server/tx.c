/*
 * tx.c - transactions of a TSS: PUT /api/v2/tss/{tss_id}/tx/{tx_id}
 * ?tx_revision=N starts (revision 1, ACTIVE), updates (later ACTIVE
 * revisions, signed) or finishes (FINISHED/CANCELLED) a transaction; GET
 * reads one; GET .../tx?states[]=... lists them (paged).
 *
 * Each transaction's latest response is kept in the state db: sending the
 * latest revision again answers it without signing again, an older revision
 * is a conflict. Requests on one transaction are serialized (id_lock).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "receipt/receipt.h"
#include "server.h"

/* What a request asks for, parsed and checked before any engine call. */
typedef struct tx_req {
    long long revision;
    const char *state;          /* ACTIVE, FINISHED, CANCELLED */
    const char *client_id;
    json_t *schema;             /* borrowed from the body, may be NULL */
    char *process_data;         /* malloc'd, may hold NUL bytes */
    size_t process_data_len;
    const char *process_type;   /* "" without a schema */
    uint8_t *additional_data;   /* extension: malloc'd, NULL if none */
    size_t additional_data_len;
    tse_update_variant variant; /* extension: update_variant, SIGNED unless asked */
} tx_req;

/* The stored row of a transaction. */
typedef struct tx_row {
    uint64_t number;
    char client_id[40];
    char state[16];
    long long revision;
    json_t *result;             /* owned */
} tx_row;

/* 1 found, 0 none, -1 error. */
static int row_load(srv *s, const char *tss_id, const char *tx_id, tx_row *row)
{
    char ns[REC_NS_LEN];
    json_t *v = NULL;
    int found = rec_get(s, rec_ns(ns, "tx", tss_id), tx_id, &v);
    if (found == 1) {
        row->number = (uint64_t)json_integer_value(json_object_get(v, "number"));
        snprintf(row->client_id, sizeof row->client_id, "%s", json_string_value(json_object_get(v, "client_id")) ?: "");
        snprintf(row->state, sizeof row->state, "%s", json_string_value(json_object_get(v, "state")) ?: "");
        row->revision = json_integer_value(json_object_get(v, "revision"));
        row->result = json_incref(json_object_get(v, "result"));
        found = json_is_object(row->result) ? 1 : -1;
    }
    json_decref(v);
    return found;
}

/* The record of a transaction's latest answer, for `b`: {number, client_id,
 * state, revision, result}, with result given as its JSON text too (so an
 * answer is written out once, for its record and its response). */
static bool row_record(rec_batch *b, const char *tss_id, const char *tx_id, json_t *result, const char *result_text)
{
    static const char member[] = ",\"result\":";
    char ns[REC_NS_LEN];
    json_int_t number = json_integer_value(json_object_get(result, "number"));
    const char *state = json_string_value(json_object_get(result, "state"));
    json_t *v = json_pack("{s:I, s:O, s:s, s:O}", "number", number, "client_id", json_object_get(result, "client_id"),
                          "state", state, "revision", json_object_get(result, "revision"));
    char *head = v ? json_dumps(v, JSON_COMPACT) : NULL;   /* {...}: ends in '}' */
    json_decref(v);
    size_t hl = head ? strlen(head) : 0, rl = strlen(result_text);
    char *text = hl > 2 ? malloc(hl + rl + sizeof member) : NULL;
    if (text) {   /* head without its '}', then "result":RESULT} */
        char *p = text;
        memcpy(p, head, hl - 1);
        p += hl - 1;
        memcpy(p, member, sizeof member - 1);
        p += sizeof member - 1;
        memcpy(p, result_text, rl);
        memcpy(p + rl, "}", 2);
    }
    free(head);
    return text && rec_batch_add_text(b, ENGINE_RECORD_PUT, rec_ns(ns, "tx", tss_id), tx_id, state, number, text);
}

/* A member of a body object and the JSON type it must have when given. */
typedef struct field_type {
    const char *name;
    json_type type;
} field_type;

static const field_type receipt_fields[] = {{"receipt_type", JSON_STRING},
                                            {"amounts_per_vat_rate", JSON_ARRAY},
                                            {"amounts_per_payment_type", JSON_ARRAY},
                                            {NULL, 0}};
static const field_type vat_fields[] = {{"vat_rate", JSON_STRING}, {"amount", JSON_STRING}, {NULL, 0}};
static const field_type payment_fields[] = {
    {"payment_type", JSON_STRING}, {"amount", JSON_STRING}, {"currency_code", JSON_STRING}, {NULL, 0}};
static const field_type body_fields[] = {{"state", JSON_STRING},          {"client_id", JSON_STRING},
                                         {"schema", JSON_OBJECT},         {"additional_data", JSON_STRING},
                                         {"update_variant", JSON_STRING}, {NULL, 0}};
static const field_type raw_fields[] = {{"process_type", JSON_STRING}, {"process_data", JSON_STRING}, {NULL, 0}};

/* False, with err naming the field, when `obj` is not an object or one of
 * `fields` is there with another type (null included). */
static bool field_types(json_t *obj, const char *where, const field_type *fields, tse_error *err)
{
    srv_resp r = {0};
    bool ok = json_is_object(obj);
    if (!ok)
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "%.*s must be an object", (int)strlen(where) - 1, where);
    for (const field_type *f = fields; ok && f->name; f++) {
        if (req_type(&r, obj, where, f->name, f->type)) {
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s", json_string_value(json_object_get(r.json, "message")));
            ok = false;
        }
    }
    json_decref(r.json);
    return ok;
}

/* Kassenbeleg-V1 processData of a fiskaly standard_v1 receipt
 * {receipt_type, amounts_per_vat_rate[{vat_rate, amount}],
 *  amounts_per_payment_type[{payment_type, amount, currency_code?}]}.
 * A cancelled RECEIPT is recorded as AVBelegabbruch. */
static char *kassenbeleg(json_t *receipt, const char *state, tse_error *err)
{
    if (!field_types(receipt, "", receipt_fields, err))
        return NULL;
    const char *rt = json_string_value(json_object_get(receipt, "receipt_type"));
    receipt_kassenbeleg kb = {.vorgangstyp = rt ? receipt_vorgangstyp_from_api(rt) : NULL};
    if (!kb.vorgangstyp) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "receipt_type must be RECEIPT, TRAINING, TRANSFER, ORDER, CANCELLATION, ABORT, "
                              "BENEFIT_IN_KIND, INVOICE or OTHER");
        return NULL;
    }
    if (strcmp(state, "CANCELLED") == 0 && strcmp(rt, "RECEIPT") == 0)
        kb.vorgangstyp = "AVBelegabbruch";
    json_t *vats = json_object_get(receipt, "amounts_per_vat_rate");
    json_t *pays = json_object_get(receipt, "amounts_per_payment_type");
    if ((vats && !json_is_array(vats)) || (pays && !json_is_array(pays))) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "amounts_per_vat_rate and amounts_per_payment_type must be arrays");
        return NULL;
    }
    size_t i;
    json_t *e;
    int64_t cents;
    json_array_foreach(vats, i, e) {
        char where[64];
        snprintf(where, sizeof where, "amounts_per_vat_rate[%zu].", i);
        if (!field_types(e, where, vat_fields, err))
            return NULL;
        int k = receipt_vat_from_api(json_string_value(json_object_get(e, "vat_rate")));
        const char *amount = json_string_value(json_object_get(e, "amount"));
        if (k < 0 || !amount || !receipt_amount_parse(amount, &cents)) {
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "amounts_per_vat_rate[%zu]: vat_rate must be NORMAL, REDUCED_1, SPECIAL_RATE_1, "
                                  "SPECIAL_RATE_2 or NULL and amount a decimal string with up to 2 places", i);
            return NULL;
        }
        kb.gross[k] += cents;
    }
    receipt_payment *p = calloc(json_array_size(pays) + 1, sizeof *p);
    if (!p) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "no memory");
        return NULL;
    }
    json_array_foreach(pays, i, e) {
        char where[64];
        snprintf(where, sizeof where, "amounts_per_payment_type[%zu].", i);
        if (!field_types(e, where, payment_fields, err)) {
            free(p);
            return NULL;
        }
        int non_cash = receipt_payment_type_from_api(json_string_value(json_object_get(e, "payment_type")));
        const char *amount = json_string_value(json_object_get(e, "amount"));
        if (non_cash < 0 || !amount || !receipt_amount_parse(amount, &p[i].cents)) {
            free(p);
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "amounts_per_payment_type[%zu]: payment_type must be CASH or NON_CASH and amount "
                                  "a decimal string with up to 2 places", i);
            return NULL;
        }
        p[i].non_cash = non_cash == 1;
        p[i].currency = json_string_value(json_object_get(e, "currency_code"));
    }
    kb.payments = p;
    kb.n_payments = json_array_size(pays);
    char *pd = receipt_kassenbeleg_build(&kb, err);
    free(p);
    return pd;
}

/* Fills t->process_data/type from the schema; 400 in r on bad input. */
static int parse_schema(tx_req *t, srv_resp *r)
{
    t->process_type = "";
    if (!t->schema)
        return 0;
    json_t *raw = json_object_get(t->schema, "raw"), *std = json_object_get(t->schema, "standard_v1");
    if (!json_is_object(t->schema) || !!raw == !!std) {
        resp_error(r, 400, "E_BAD_REQUEST", "schema must hold exactly one of raw or standard_v1");
        return -1;
    }
    tse_error err = {0};
    if (raw && !field_types(raw, "schema.raw.", raw_fields, &err)) {
        resp_error(r, 400, "E_BAD_REQUEST", "%s", err.message);
        return -1;
    }
    if (raw) {
        const char *pt = json_string_value(json_object_get(raw, "process_type"));
        const char *pd = json_string_value(json_object_get(raw, "process_data"));
        if (!json_is_object(raw) || !pt || !pd) {
            resp_error(r, 400, "E_BAD_REQUEST", "schema.raw needs process_type and process_data (base64)");
            return -1;
        }
        if (!(t->process_data = (char *)base64_decode_alloc(pd, strlen(pd), SIZE_MAX, &t->process_data_len))) {
            resp_error(r, 400, "E_BAD_REQUEST", "schema.raw.process_data is not valid base64");
            return -1;
        }
        t->process_type = pt;
        return 0;
    }
    json_t *receipt = json_object_get(std, "receipt");
    if (!json_is_object(receipt)) {
        resp_error(r, 400, "E_BAD_REQUEST", "schema.standard_v1 needs a receipt object");
        return -1;
    }
    if (!(t->process_data = kassenbeleg(receipt, t->state, &err))) {
        resp_error(r, 400, "E_BAD_REQUEST", "schema.standard_v1.receipt: %s", err.message);
        return -1;
    }
    t->process_data_len = strlen(t->process_data);
    t->process_type = "Kassenbeleg-V1";
    return 0;
}

static int parse_request(srv_req *q, srv_resp *r, json_t *body, tx_req *t)
{
    const char *rev = req_query(q, "tx_revision");
    uint64_t revision;
    if (!rev) {
        resp_error(r, 400, "E_BAD_REQUEST", "the query parameter tx_revision (an integer >= 1) is required");
        return -1;
    }
    if (req_u64(r, "E_BAD_REQUEST", "tx_revision", rev, 1, REQ_MAX_JSON_INT, &revision))
        return -1;
    t->revision = (long long)revision;
    tse_error err = {0};
    if (!field_types(body, "", body_fields, &err)) {
        resp_error(r, 400, "E_BAD_REQUEST", "%s", err.message);
        return -1;
    }
    t->state = json_string_value(json_object_get(body, "state"));
    if (t->state && strcmp(t->state, "ACTIVE") == 0 && revision == REQ_MAX_JSON_INT) {
        /* the transaction could never be finished: no revision is left above it */
        resp_error(r, 400, "E_BAD_REQUEST", "tx_revision %llu of an ACTIVE transaction leaves no revision to finish it "
                                            "with; the largest is %llu", (unsigned long long)revision,
                   (unsigned long long)REQ_MAX_JSON_INT - 1);
        return -1;
    }
    t->client_id = json_string_value(json_object_get(body, "client_id"));
    t->schema = json_object_get(body, "schema");
    if (!t->state ||
        (strcmp(t->state, "ACTIVE") && strcmp(t->state, "FINISHED") && strcmp(t->state, "CANCELLED"))) {
        resp_error(r, 400, "E_BAD_REQUEST", "state must be ACTIVE, FINISHED or CANCELLED");
        return -1;
    }
    if (!uuid_valid(t->client_id)) {
        resp_error(r, 400, "E_BAD_REQUEST", "client_id (a UUID) is required");
        return -1;
    }
    json_t *ad = json_object_get(body, "additional_data");
    const char *ad_b64 = json_string_value(ad);
    if (ad && (!ad_b64 || !(t->additional_data = base64_decode_alloc(ad_b64, strlen(ad_b64), SIZE_MAX, &t->additional_data_len)))) {
        resp_error(r, 400, "E_BAD_REQUEST", "additional_data must be base64");
        return -1;
    }
    const char *variant = json_string_value(json_object_get(body, "update_variant"));
    t->variant = variant && strcmp(variant, "UNSIGNED") == 0 ? TSE_UPDATE_UNSIGNED : TSE_UPDATE_SIGNED;
    if (json_object_get(body, "update_variant") &&
        (!variant || (strcmp(variant, "SIGNED") && strcmp(variant, "UNSIGNED")))) {
        resp_error(r, 400, "E_BAD_REQUEST", "update_variant must be SIGNED or UNSIGNED");
        return -1;
    }
    return parse_schema(t, r);
}

static void put_result_fields(json_t *j, srv_tss *x, const tse_result *res, const char *op)
{
    char *sig = base64_encode_alloc(res->signature, res->signature_len), v3[24];
    if (x->log_format == 3 && snprintf(v3, sizeof v3, "%c%s", op[0] - 'A' + 'a', op + 1) > 0)
        op = v3;   /* the log's own operationType: startTransaction, ... */
    json_object_set_new(j, "log",
                        json_pack("{s:s, s:I, s:s}", "operation", op, "timestamp", (json_int_t)res->log_time,
                                  "timestamp_format", x->time_format));
    json_object_set_new(j, "signature",
                        json_pack("{s:s*, s:s, s:I, s:s}", "value", sig, "algorithm", x->alg, "counter",
                                  (json_int_t)res->signature_counter, "public_key", x->pub_b64));
    free(sig);
}

/* DSFinV-K receipt QR string of a finished transaction. */
static json_t *qr_code(srv_tss *x, const char *serial, const tx_req *t, const tse_result *res)
{
    tse_error err = {0};
    char *qr = receipt_qr_from_result(res, serial, t->process_type,
                                      (const uint8_t *)t->process_data, t->process_data_len, x->alg, x->tf,
                                      x->point, x->point_len, &err);
    json_t *j = qr ? json_string(qr) : NULL;
    free(qr);
    return j ? j : json_null();
}

/* What the commit hook needs to make the answer and its record. */
typedef struct tx_answer {
    srv_tss *x;
    const char *tx_id;
    const tx_req *t;
    const char *serial;
    const char *op;
    json_t *json;       /* the answer, made once the result is signed */
    char *text;         /* and as JSON text */
    rec_batch records;
} tx_answer;

/* The answer of a signed (or unsigned-update) result. */
static json_t *answer_json(tx_answer *a, const tse_result *res)
{
    const tx_req *t = a->t;
    srv_tss *x = a->x;
    const uint8_t *pd = (const uint8_t *)t->process_data;
    int done = strcmp(t->state, "ACTIVE") != 0;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:o, s:O?}", "_id", a->tx_id,
                          "_type", "TRANSACTION", "_env", "PROD", "tss_id", x->id, "client_id", t->client_id,
                          "client_serial_number", a->serial, "tss_serial_number", x->serial_hex, "number",
                          (json_int_t)res->transaction_number, "state", t->state, "revision", (json_int_t)t->revision,
                          "latest_revision", (json_int_t)t->revision, "time_start", (json_int_t)res->start_time,
                          "time_end", done ? json_integer(res->log_time) : json_null(), "schema", t->schema);
    if (!j)
        return NULL;
    put_result_fields(j, x, res, a->op);
    char *pd_b64 = base64_encode_alloc(pd ? pd : (const uint8_t *)"", t->process_data_len);
    json_object_set_new(j, "process_type", json_string(t->process_type));
    json_object_set_new(j, "process_data", pd_b64 ? json_string(pd_b64) : json_null());
    free(pd_b64);
    json_object_set_new(j, "qr_code_data", done ? qr_code(x, a->serial, t, res) : json_null());
    return j;
}

/* The commit hook: the answer and the transaction's record, stored with its log. */
static tse_err answer_hook(void *ctx, const tse_result *res, const engine_record **recs, size_t *n)
{
    tx_answer *a = ctx;
    if (!res || !(a->json = answer_json(a, res)) || !(a->text = json_dumps(a->json, JSON_COMPACT)) ||
        !row_record(&a->records, a->x->id, a->tx_id, a->json, a->text))
        return TSE_ERR_NO_MEMORY;
    *recs = a->records.r;
    *n = a->records.n;
    return TSE_OK;
}

/* Runs the engine operation the request asks for; the answer and the
 * transaction's record are committed with its log. *out_text is the answer
 * as JSON text, or NULL when it has to be written out from *out. */
static tse_err sign(srv_tss *x, const char *tx_id, const tx_req *t, const tx_row *row, const char *serial,
                    json_t **out, char **out_text)
{
    tse_result res;
    const uint8_t *pd = (const uint8_t *)t->process_data;
    tse_err e;
    if (t->variant == TSE_UPDATE_UNSIGNED && (!row || strcmp(t->state, "ACTIVE") != 0))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "update_variant UNSIGNED goes with an update (state ACTIVE)");
    if (t->additional_data_len && row && strcmp(t->state, "ACTIVE") == 0)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "additional_data goes with a start or a finish, not an update");
    tx_answer a = {.x = x, .tx_id = tx_id, .t = t, .serial = serial,
                   .op = !row ? "StartTransaction" : strcmp(t->state, "ACTIVE") == 0 ? "UpdateTransaction"
                                                                                     : "FinishTransaction"};
    engine_records_attach(answer_hook, &a);
    if (!row)
        e = engine_start_transaction(x->e, serial, pd, t->process_data_len, t->process_type, t->additional_data,
                                     t->additional_data_len, &res);
    else if (strcmp(t->state, "ACTIVE") == 0)
        e = engine_update_transaction(x->e, serial, row->number, pd, t->process_data_len, t->process_type,
                                      t->variant, &res);
    else
        e = engine_finish_transaction(x->e, serial, row->number, pd, t->process_data_len, t->process_type,
                                      t->additional_data, t->additional_data_len, &res);
    engine_records_attach(NULL, NULL);
    rec_batch_free(&a.records);
    /* An expired certificate does not stop the register: the log is signed
     * and stored, the answer is the transaction with a warning. */
    char warning[300] = "";
    if (e == TSE_ERR_CERTIFICATE_EXPIRED)
        snprintf(warning, sizeof warning, "%s", tse_last_error_message());
    else if (e) {
        json_decref(a.json);
        free(a.text);
        return e;
    }
    if (!a.json) {
        free(a.text);
        return engine_fail(TSE_ERR_INTERNAL, "the answer was not made");
    }
    if (*warning)
        json_object_set_new(a.json, "warnings", json_pack("[s]", warning));
    expiry_add_warning(x, a.json);
    if (json_object_get(a.json, "warnings")) {   /* the response has more than the record */
        free(a.text);
        a.text = NULL;
    }
    *out = a.json;
    *out_text = a.text;
    return TSE_OK;
}

/* Checks the stored row against the request; 0 to go on, 1 answered. */
static int check_row(srv_resp *r, const tx_req *t, const tx_row *row, const char *tx_id)
{
    if (!row->result) {
        if (t->revision != 1) {
            resp_error(r, 404, "E_TX_NOT_FOUND", "no transaction %s; start it with tx_revision=1", tx_id);
            return 1;
        }
        if (strcmp(t->state, "ACTIVE") != 0) {
            resp_error(r, 409, "E_TX_NOT_STARTED", "start transaction %s with state ACTIVE first", tx_id);
            return 1;
        }
        return 0;
    }
    if (t->revision == row->revision) {
        resp_json(r, 200, json_incref(row->result));
        return 1;
    }
    if (t->revision < row->revision) {
        resp_error(r, 409, "E_TX_REVISION_CONFLICT", "tx_revision %lld is older than the latest revision %lld",
                   t->revision, row->revision);
        return 1;
    }
    if (strcmp(row->state, "ACTIVE") != 0) {
        resp_error(r, 409, tse_errname(TSE_ERR_NO_TRANSACTION), "transaction %s is already %s", tx_id, row->state);
        return 1;
    }
    if (strcmp(row->client_id, t->client_id) != 0) {
        resp_error(r, 409, tse_errname(TSE_ERR_PARAMETER_MISMATCH), "transaction %s belongs to client %s", tx_id,
                   row->client_id);
        return 1;
    }
    return 0;
}

static void put_tx(srv_req *q, srv_resp *r, srv_tss *x, const char *tx_id)
{
    if (!uuid_valid(tx_id)) {
        resp_error(r, 400, "E_BAD_REQUEST", "tx_id must be a UUID");
        return;
    }
    json_t *body = req_json(q, r);
    if (!body)
        return;
    tx_req t = {0};
    tx_row row = {0};
    char serial[TSE_MAX_CLIENT_ID_LEN + 1], cstate[16];
    pthread_mutex_t *lock = id_lock(q->s, x->id, tx_id);
    pthread_mutex_lock(lock);
    int found = parse_request(q, r, body, &t) ? -2 : row_load(q->s, x->id, tx_id, &row);
    if (found == -1) {
        resp_error(r, 503, "STORAGE_FAILURE", "cannot read transaction %s: %s", tx_id, tse_last_error_message());
    } else if (found >= 0 && !check_row(r, &t, &row, tx_id)) {
        json_t *out = NULL;
        char *text = NULL;
        tse_err e = TSE_OK;
        if (client_lookup(q->s, x->id, t.client_id, serial, cstate))
            resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", t.client_id, x->id);
        else if ((e = sign(x, tx_id, &t, found ? &row : NULL, serial, &out, &text)))
            resp_tse_error(r, e);
        else if (text)
            resp_json_text(r, 200, text);
        else
            resp_json(r, 200, json_incref(out));
        json_decref(out);
    }
    pthread_mutex_unlock(lock);
    json_decref(row.result);
    free(t.process_data);
    free(t.additional_data);
    json_decref(body);
}

static int by_number(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "number"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "number"));
    return (x > y) - (x < y);
}

/* The answers of the transactions in `states` (none: all), by number, paged. */
static json_t *tx_page(srv *s, const char *tss_id, const char *const *states, int ns, long offset, long limit)
{
    char name[REC_NS_LEN];
    rec_ns(name, "tx", tss_id);
    /* every state named (or none): no filter */
    bool all = ns == 0 || (ns == 3 && strcmp(states[0], states[1]) && strcmp(states[1], states[2]) &&
                           strcmp(states[0], states[2]));
    json_t *rows = json_array();
    for (int i = 0; rows && i < (all ? 1 : ns); i++) {
        bool again = false;
        for (int k = 0; k < i; k++)
            again |= strcmp(states[k], states[i]) == 0;
        if (again)
            continue;
        json_t *part = rec_list(s, name, all ? NULL : states[i], all ? offset : 0, all ? limit : offset + limit);
        if (!part || json_array_extend(rows, part)) {
            json_decref(part);
            json_decref(rows);
            return NULL;
        }
        json_decref(part);
    }
    size_t n = json_array_size(rows), from = all ? 0 : (size_t)offset;
    json_t **v = n ? malloc(n * sizeof *v) : NULL;
    json_t *data = json_array();
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_array_get(rows, i);
    if (v)
        qsort(v, n, sizeof *v, by_number);
    for (size_t i = from; v && data && i < n && i < from + (size_t)limit; i++)
        json_array_append(data, json_object_get(v[i], "result"));
    free(v);
    json_decref(rows);
    if (n && !v) {
        json_decref(data);
        return NULL;
    }
    return data;
}

static void list_tx(srv_req *q, srv_resp *r, srv_tss *x)
{
    long limit, offset;
    if (req_page(q, r, &limit, &offset))
        return;
    const char *states[4];
    int ns = req_query_all(q, "states[]", states, 4);
    ns += req_query_all(q, "states", states + ns, 4 - ns);
    for (int i = 0; i < ns; i++) {
        if (strcmp(states[i], "ACTIVE") && strcmp(states[i], "FINISHED") && strcmp(states[i], "CANCELLED")) {
            resp_error(r, 400, "E_BAD_REQUEST", "states[] must be ACTIVE, FINISHED or CANCELLED");
            return;
        }
    }
    if (ns > 3)
        ns = 3;
    json_t *data = tx_page(q->s, x->id, states, ns, offset, limit);
    if (!data) {
        resp_error(r, 503, "STORAGE_FAILURE", "cannot list transactions");
        return;
    }
    resp_json(r, 200,
              json_pack("{s:o, s:i, s:s}", "data", data, "count", (int)json_array_size(data), "_type", "TRANSACTION_LIST"));
}

void routes_tx(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    const char *m = q->method;
    if (nseg == 3 && strcmp(m, "GET") == 0) {
        list_tx(q, r, x);
    } else if (nseg == 4 && strcmp(m, "PUT") == 0) {
        put_tx(q, r, x, seg[3]);
    } else if (nseg == 4 && strcmp(m, "GET") == 0) {
        tx_row row = {0};
        int found = row_load(q->s, x->id, seg[3], &row);
        if (found == 1)
            resp_json(r, 200, row.result);
        else if (found == 0)
            resp_error(r, 404, "E_TX_NOT_FOUND", "no transaction %s in TSS %s", seg[3], x->id);
        else
            resp_error(r, 503, "STORAGE_FAILURE", "cannot read transaction %s", seg[3]);
    } else {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", m, q->path);
    }
}
