/*
 * tx.c - transactions of a TSS: PUT /api/v2/tss/{tss_id}/tx/{tx_id_or_number}
 * ?tx_revision=N starts (revision 1, ACTIVE), updates (later ACTIVE
 * revisions, signed) or finishes (FINISHED/CANCELLED) a transaction; GET
 * reads one (?tx_revision=N: that revision's answer), .../metadata reads and
 * PATCHes its metadata, .../log lists its log messages; the lists: GET
 * .../tx?states[]=... of a TSS, GET /api/v2/tx of the organization's TSSs,
 * GET .../client/{client_id}/tx of one client (paged).
 *
 * Each transaction's latest response is kept in the store: sending the
 * latest revision again answers it without signing again, an older revision
 * is a conflict. Every earlier revision's answer is kept beside it (txrev),
 * and each transaction's number leads to its id (txnum, also the index of a
 * client's transactions). Requests on one transaction are serialized
 * (id_lock).
 */
#include <inttypes.h>
#include <stdarg.h>
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
    json_t *metadata;           /* owned, may be NULL */
    char *process_data;         /* malloc'd, may hold NUL bytes */
    size_t process_data_len;
    const char *process_type;   /* "" without a schema */
    uint8_t *additional_data;   /* extension: malloc'd, NULL if none */
    size_t additional_data_len;
    tse_update_variant variant; /* extension: update_variant, SIGNED unless asked */
    bool any_client;            /* extension: any registered client may go on with it */
} tx_req;

/* The stored row of a transaction. */
typedef struct tx_row {
    uint64_t number;
    char client_id[40];
    char state[16];
    long long revision;
    json_t *result;             /* owned; NULL when only result_text was read (row_load_head) */
    char *result_text;          /* owned: result as stored, read by row_load_head */
    json_t *metadata;           /* owned: the result's metadata, read by row_load_head */
    bool found;
} tx_row;

/* 503 when the records cannot be read or written: the market API's code,
 * the TR-03151 name beside it in tse_error. */
static void storage_failure(srv_resp *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp_error(r, 503, "E_SERVICE_UNAVAILABLE", "%s", msg);
    resp_tse_name(r, "STORAGE_FAILURE");
}

/* Members that are null (answers stored by earlier versions had time_end
 * and qr_code_data null) are left out: a field without a value is absent. */
static json_t *without_nulls(json_t *j)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(j, tmp, k, v) {
        if (json_is_null(v))
            json_object_del(j, k);
        else if (json_is_object(v))
            without_nulls(v);
    }
    return j;
}

/* A stored answer as the API answers it today: nulls left out, the
 * envelope of the TSS's environment `env`, and the metadata and schema that
 * answers of earlier versions lacked (the schema: the raw values signed). */
static json_t *as_answered(json_t *j, const char *env)
{
    if (!json_is_object(j))
        return j;
    without_nulls(j);
    res_envelope_env(j, "TRANSACTION", NULL, env);
    if (!json_is_object(json_object_get(j, "metadata")))
        json_object_set_new(j, "metadata", json_object());
    if (!json_is_object(json_object_get(j, "schema")))
        json_object_set_new(j, "schema", json_pack("{s:{s:O, s:O}}", "raw", "process_type",
                                                   json_object_get(j, "process_type"), "process_data",
                                                   json_object_get(j, "process_data")));
    return j;
}

/* 1 found, 0 none, -1 error. */
static int row_load(srv *s, const srv_tss *x, const char *tx_id, tx_row *row)
{
    const char *tss_id = x->id;
    char ns[REC_NS_LEN];
    json_t *v = NULL;
    int found = rec_get(s, rec_ns(ns, "tx", tss_id), tx_id, &v);
    if (found == 1) {
        row->number = (uint64_t)json_integer_value(json_object_get(v, "number"));
        snprintf(row->client_id, sizeof row->client_id, "%s", json_string_value(json_object_get(v, "client_id")) ?: "");
        snprintf(row->state, sizeof row->state, "%s", json_string_value(json_object_get(v, "state")) ?: "");
        row->revision = json_integer_value(json_object_get(v, "revision"));
        row->result = as_answered(json_incref(json_object_get(v, "result")), x->env);
        found = json_is_object(row->result) ? 1 : -1;
    }
    json_decref(v);
    return found;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* After the JSON string at p ('"'), or NULL. */
static const char *skip_string(const char *p)
{
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && !*++p)
            return NULL;
    return *p ? p + 1 : NULL;
}

/* After the JSON value at p, or NULL when its strings, brackets and
 * members do not close; numbers and literals are taken as they are. If
 * `name` is given and the value is an object, the value of its member
 * `name` is put in *at and *len. */
static const char *skip_value(const char *p, int depth, const char *name, const char **at, size_t *len)
{
    p = skip_ws(p);
    if (*p == '"')
        return skip_string(p);
    if (*p != '{' && *p != '[') {
        const char *q = p;
        while (*q && !strchr(",}] \t\n\r", *q))
            q++;
        return q > p ? q : NULL;
    }
    if (depth > 64)
        return NULL;
    char close = *p == '{' ? '}' : ']';
    p = skip_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {   /* "key": */
            const char *key = p, *end = *p == '"' ? skip_string(p) : NULL;
            if (!end || *(p = skip_ws(end)) != ':')
                return NULL;
            const char *v = skip_ws(p + 1);
            if (!(p = skip_value(v, depth + 1, NULL, NULL, NULL)))
                return NULL;
            if (name && (size_t)(end - key) == strlen(name) + 2 && !memcmp(key + 1, name, strlen(name))) {
                *at = v;
                *len = (size_t)(p - v);
            }
        } else if (!(p = skip_value(p, depth + 1, NULL, NULL, NULL))) {
            return NULL;
        }
        p = skip_ws(p);
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1);
    }
}

/* For a revision that goes on from the stored one: the row's fields, the
 * result's text and its metadata, without reading the whole result into
 * objects (row->result stays NULL; row_result() reads it when needed).
 * Records it cannot take apart are read whole, as by row_load. */
static int row_load_head(srv *s, const srv_tss *x, const char *tx_id, tx_row *row)
{
    char ns[REC_NS_LEN], *text = NULL;
    tse_err e = engine_record_get(s->db, rec_ns(ns, "tx", x->id), tx_id, &text);
    if (e == TSE_ERR_NOT_FOUND)
        return 0;
    if (e)
        return -1;
    static const char member[] = ",\"result\":";
    /* A quote in a JSON string is always escaped, so the first `,"result":`
     * ends a member (the top level's when the head before it is an object) */
    char *comma = strstr(text, member);
    const char *res = NULL, *meta = NULL, *end = NULL;
    size_t meta_len = 0, len = strlen(text);
    json_t *head = NULL;
    if (comma && text[len - 1] == '}') {   /* head: the members before result, closed */
        res = comma + sizeof member - 1;
        *comma = '}';
        head = json_loadb(text, (size_t)(comma - text) + 1, 0, NULL);
        *comma = ',';
        end = *skip_ws(res) == '{' ? skip_value(res, 0, "metadata", &meta, &meta_len) : NULL;
    }
    json_t *number = json_object_get(head, "number"), *revision = json_object_get(head, "revision");
    const char *client = json_string_value(json_object_get(head, "client_id"));
    const char *state = json_string_value(json_object_get(head, "state"));
    json_t *metadata = meta ? json_loadb(meta, meta_len, 0, NULL) : NULL;
    bool whole = json_object_size(head) == 4 && json_is_integer(number) && json_is_integer(revision) && client &&
                 state && end == text + len - 1 && json_is_object(metadata);
    if (whole) {
        row->number = (uint64_t)json_integer_value(number);
        snprintf(row->client_id, sizeof row->client_id, "%s", client);
        snprintf(row->state, sizeof row->state, "%s", state);
        row->revision = json_integer_value(revision);
        row->result_text = strndup(res, (size_t)(end - res));
        row->metadata = without_nulls(metadata);
        row->found = row->result_text != NULL;
    } else {
        json_decref(metadata);
    }
    json_decref(head);
    free(text);
    if (whole)
        return row->found ? 1 : -1;
    int found = row_load(s, x, tx_id, row);   /* result_text stays NULL */
    row->found = found == 1;
    return found;
}

/* The stored result as answered (NULL when it cannot be read). */
static json_t *row_result(const srv_tss *x, tx_row *row)
{
    if (!row->result && row->result_text)
        row->result = as_answered(json_loads(row->result_text, 0, NULL), x->env);
    return json_is_object(row->result) ? row->result : NULL;
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
    char *head = v ? json_text(v) : NULL;   /* {...}: ends in '}' */
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

/* The record leading from a transaction's number to its id, the index of a
 * client's transactions too: txnum/<tss> key = number, idx = client id. */
static bool txnum_record(rec_batch *b, const char *tss_id, uint64_t number, const char *client_id, const char *tx_id)
{
    char ns[REC_NS_LEN], key[24];
    snprintf(key, sizeof key, "%" PRIu64, number);
    json_t *v = json_pack("{s:s}", "tx_id", tx_id);
    bool ok = v && rec_batch_add(b, ENGINE_RECORD_PUT, rec_ns(ns, "txnum", tss_id), key, client_id, (int64_t)number, v);
    json_decref(v);
    return ok;
}

/* The answer of a revision that the next one supersedes: txrev/<tss> key =
 * "<tx id>/<revision>", idx = tx id, ord = revision. `text` is the answer as
 * stored, kept as it is (readers answer it through as_answered), or NULL to
 * write `answer` out. */
static bool txrev_record(rec_batch *b, const char *tss_id, const char *tx_id, long long rev, json_t *answer,
                         const char *text)
{
    char ns[REC_NS_LEN], key[REC_NS_LEN];
    snprintf(key, sizeof key, "%s/%lld", tx_id, rev);
    if (!text)
        return rec_batch_add(b, ENGINE_RECORD_PUT, rec_ns(ns, "txrev", tss_id), key, tx_id, (int64_t)rev, answer);
    char *copy = strdup(text);
    return copy && rec_batch_add_text(b, ENGINE_RECORD_PUT, rec_ns(ns, "txrev", tss_id), key, tx_id, (int64_t)rev, copy);
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
static const field_type order_fields[] = {{"line_items", JSON_ARRAY}, {NULL, 0}};
static const field_type item_fields[] = {{"text", JSON_STRING}, {NULL, 0}};
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
        if (k < 0 || !amount || !receipt_amount_parse_rounded(amount, &cents)) {
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "amounts_per_vat_rate[%zu]: vat_rate must be NORMAL, REDUCED_1, SPECIAL_RATE_1, "
                                  "SPECIAL_RATE_2, NULL or a percentage (19, 7, 10.7, 5.5, 0) and amount a decimal "
                                  "string with up to 5 places", i);
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
        if (non_cash < 0 || !amount || !receipt_amount_parse_rounded(amount, &p[i].cents)) {
            free(p);
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "amounts_per_payment_type[%zu]: payment_type must be CASH or NON_CASH and amount "
                                  "a decimal string with up to 5 places", i);
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

/* A decimal given as a string or a JSON number (printed with `places`
 * decimals) into out; false when it is neither. */
static bool decimal_text(json_t *v, int places, char out[64])
{
    if (json_is_string(v))
        return snprintf(out, 64, "%s", json_string_value(v)) < 64;
    if (json_is_integer(v))
        return snprintf(out, 64, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 64;
    return json_is_real(v) && snprintf(out, 64, "%.*f", places, json_real_value(v)) < 64;
}

/* Bestellung-V1 processData of a standard_v1 order {line_items[{quantity,
 * text, price_per_unit}]}: quantity and price as decimal strings (or
 * numbers), the price with up to 5 places rounded to cents. */
static char *bestellung(json_t *order, tse_error *err)
{
    if (!field_types(order, "", order_fields, err))
        return NULL;
    json_t *items = json_object_get(order, "line_items"), *e;
    size_t i, n = json_array_size(items);
    if (!n) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "line_items must hold at least one item");
        return NULL;
    }
    receipt_item *it = calloc(n, sizeof *it);
    if (!it) {
        error_set(err, TSE_ERR_NO_MEMORY, "no memory");
        return NULL;
    }
    char *pd = NULL;
    json_array_foreach(items, i, e) {
        char where[48], qty[64], price[64];
        snprintf(where, sizeof where, "line_items[%zu].", i);
        if (!field_types(e, where, item_fields, err))
            break;
        it[i].name = json_string_value(json_object_get(e, "text"));
        if (!it[i].name || !decimal_text(json_object_get(e, "quantity"), 3, qty) ||
            !receipt_quantity_parse(qty, &it[i].quantity_milli) ||
            !decimal_text(json_object_get(e, "price_per_unit"), 5, price) ||
            !receipt_amount_parse_rounded(price, &it[i].unit_price)) {
            error_set(err, TSE_ERR_INVALID_ARGUMENT, "line_items[%zu] needs text, quantity (a decimal with up to 3 "
                      "places) and price_per_unit (a decimal with up to 5 places)", i);
            break;
        }
    }
    if (i == n)
        pd = receipt_bestellung_build(it, n, err);
    free(it);
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
    json_t *receipt = json_object_get(std, "receipt"), *order = json_object_get(std, "order");
    if (!json_is_object(std) || !!receipt == !!order || !json_is_object(receipt ? receipt : order)) {
        resp_error(r, 400, "E_BAD_REQUEST", "schema.standard_v1 needs exactly one of a receipt or an order object");
        return -1;
    }
    if (!(t->process_data = receipt ? kassenbeleg(receipt, t->state, &err) : bestellung(order, &err))) {
        resp_error(r, 400, "E_BAD_REQUEST", "schema.standard_v1.%s: %s", receipt ? "receipt" : "order", err.message);
        return -1;
    }
    t->process_data_len = strlen(t->process_data);
    t->process_type = receipt ? "Kassenbeleg-V1" : "Bestellung-V1";
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
    if (req_metadata(r, body, &t->metadata))
        return -1;
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
    json_t *any = json_object_get(body, "any_client");
    if (any && !json_is_boolean(any)) {
        resp_error(r, 400, "E_BAD_REQUEST", "any_client must be a boolean");
        return -1;
    }
    t->any_client = json_is_true(any);
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
    return j;
}

/* What the commit hook needs to make the answer and its record. */
typedef struct tx_answer {
    srv_tss *x;
    const char *tx_id;
    const tx_req *t;
    const tx_row *row;  /* the latest revision before, NULL for a start */
    const char *serial;
    const char *op;
    const tse_result *kept;   /* the log that secured kept data first (counter 0: none) */
    json_t *json;       /* the answer, made once the result is signed */
    char *text;         /* and as JSON text */
    rec_batch records;
} tx_answer;

/* The answer of a signed (or unsigned-update) result. Fields without a value
 * (time_end and qr_code_data of an ACTIVE revision) are left out. */
static json_t *answer_json(tx_answer *a, const tse_result *res)
{
    const tx_req *t = a->t;
    srv_tss *x = a->x;
    const uint8_t *pd = (const uint8_t *)t->process_data;
    int done = strcmp(t->state, "ACTIVE") != 0;
    char *pd_b64 = base64_encode_alloc(pd ? pd : (const uint8_t *)"", t->process_data_len);
    /* without a schema the log signs an empty processType and processData:
     * the answer says so as a raw schema */
    json_t *schema = t->schema ? json_incref(t->schema)
                               : json_pack("{s:{s:s, s:s}}", "raw", "process_type", "", "process_data", "");
    /* the metadata so far with the request's members set over it */
    json_t *stored = !a->row ? NULL : a->row->metadata ? a->row->metadata : json_object_get(a->row->result, "metadata");
    json_t *metadata = json_is_object(stored) ? json_deep_copy(stored) : json_object();
    if (t->metadata)
        json_object_update(metadata, t->metadata);
    json_t *j = pd_b64 ? json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:o, s:o, s:s, s:s}",
                                   "tss_id", x->id,
                                   "client_id", t->client_id, "client_serial_number", a->serial,
                                   "tss_serial_number", x->serial_hex, "number", (json_int_t)res->transaction_number,
                                   "state", t->state, "revision", (json_int_t)t->revision, "latest_revision",
                                   (json_int_t)t->revision, "time_start", (json_int_t)res->start_time, "schema",
                                   schema, "metadata",
                                   metadata,
                                   "process_type", t->process_type, "process_data", pd_b64)
                           : (json_decref(schema), json_decref(metadata), NULL);
    free(pd_b64);
    if (!j)
        return NULL;
    res_envelope(j, "TRANSACTION", a->tx_id, x);
    put_result_fields(j, x, res, a->op);
    if (a->kept && a->kept->signature_counter) {
        /* extension: the update log that first secured data kept under
         * another client or processType (TR-03151-1 3.7.6.5 step 9) */
        json_t *k = json_object();
        if (!k) {
            json_decref(j);
            return NULL;
        }
        put_result_fields(k, x, a->kept, "UpdateTransaction");
        json_object_set_new(j, "kept_log", k);
    }
    if (done) {
        json_object_set_new(j, "time_end", json_integer(res->log_time));
        json_t *qr = qr_code(x, a->serial, t, res);
        if (qr)
            json_object_set_new(j, "qr_code_data", qr);
    }
    return j;
}

/* The commit hook: the answer and the transaction's record, stored with its
 * log; with a start the record of its number, with a later revision the
 * answer of the one before. */
static tse_err answer_hook(void *ctx, const tse_result *res, const engine_record **recs, size_t *n)
{
    tx_answer *a = ctx;
    if (!res || !(a->json = answer_json(a, res)) || !(a->text = json_text(a->json)) ||
        !row_record(&a->records, a->x->id, a->tx_id, a->json, a->text) ||
        !(a->row ? txrev_record(&a->records, a->x->id, a->tx_id, a->row->revision, a->row->result, a->row->result_text)
                 : txnum_record(&a->records, a->x->id, res->transaction_number, a->t->client_id, a->tx_id)))
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
    tse_result res, kept = {0};
    const uint8_t *pd = (const uint8_t *)t->process_data;
    tse_err e;
    if (t->variant == TSE_UPDATE_UNSIGNED && (!row || strcmp(t->state, "ACTIVE") != 0))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "update_variant UNSIGNED goes with an update (state ACTIVE)");
    if (t->additional_data_len && row && strcmp(t->state, "ACTIVE") == 0)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "additional_data goes with a start or a finish, not an update");
    tx_answer a = {.x = x, .tx_id = tx_id, .t = t, .row = row, .serial = serial, .kept = &kept,
                   .op = !row ? "StartTransaction" : strcmp(t->state, "ACTIVE") == 0 ? "UpdateTransaction"
                                                                                     : "FinishTransaction"};
    engine_records_attach(answer_hook, &a);
    if (!row)
        e = engine_start_transaction(x->e, serial, pd, t->process_data_len, t->process_type, t->additional_data,
                                     t->additional_data_len, &res);
    else if (strcmp(t->state, "ACTIVE") == 0)
        e = engine_update_transaction_logs(x->e, serial, row->number, pd, t->process_data_len, t->process_type,
                                           t->variant, &kept, &res);
    else
        e = engine_finish_transaction_logs(x->e, serial, row->number, pd, t->process_data_len, t->process_type,
                                           t->additional_data, t->additional_data_len, &kept, &res);
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
static int check_row(srv_resp *r, const srv_tss *x, const tx_req *t, tx_row *row, const char *tx_id)
{
    if (!row->found) {
        if (t->revision != 1) {
            resp_error(r, 404, "E_TX_NOT_FOUND", "no transaction %s; start it with tx_revision=1", tx_id);
            return 1;
        }
        if (strcmp(t->state, "ACTIVE") != 0) {
            resp_error(r, 409, "E_TX_UPSERT", "transaction %s does not exist yet: start it with state ACTIVE first",
                       tx_id);
            return 1;
        }
        return 0;
    }
    if (t->revision == row->revision) {
        json_t *result = row_result(x, row);
        if (result)
            resp_json(r, 200, json_incref(result));
        else
            storage_failure(r, "cannot read transaction %s", tx_id);
        return 1;
    }
    if (t->revision < row->revision) {
        resp_error(r, 409, "E_TX_UPSERT", "tx_revision %lld is older than the latest revision %lld of "
                   "transaction %s; the next one is %lld", t->revision, row->revision, tx_id, row->revision + 1);
        return 1;
    }
    if (strcmp(row->state, "ACTIVE") != 0) {
        resp_error(r, 409, "E_TX_UPSERT", "%s: transaction %s is already %s (revision %lld)",
                   tse_errname(TSE_ERR_NO_TRANSACTION), tx_id, row->state, row->revision);
        resp_tse_name(r, tse_errname(TSE_ERR_NO_TRANSACTION));
        return 1;
    }
    if (!t->any_client && strcmp(row->client_id, t->client_id) != 0) {
        resp_error(r, 409, "E_TX_UPSERT", "%s: transaction %s belongs to client %s",
                   tse_errname(TSE_ERR_PARAMETER_MISMATCH), tx_id, row->client_id);
        resp_tse_name(r, tse_errname(TSE_ERR_PARAMETER_MISMATCH));
        return 1;
    }
    return 0;
}

/* Numbers of transactions before the txnum records existed get theirs. */
static int txnum_backfill(srv *s, const char *tss_id)
{
    char ns[REC_NS_LEN], nums[REC_NS_LEN];
    uint64_t n_tx = 0, n_num = 0;
    rec_ns(ns, "tx", tss_id);
    rec_ns(nums, "txnum", tss_id);
    if (rec_count(s, ns, NULL, &n_tx) || rec_count(s, nums, NULL, &n_num))
        return -1;
    if (n_num >= n_tx)
        return 0;
    json_t *all = rec_list(s, ns, NULL, 0, 0), *v;
    size_t i;
    int rc = all ? 0 : -1;
    rec_batch b = {0};
    json_array_foreach(all, i, v) {
        if (rc)
            break;
        if (!txnum_record(&b, tss_id, (uint64_t)json_integer_value(json_object_get(v, "number")),
                          json_string_value(json_object_get(v, "client_id")), json_string_value(json_object_get(v, "_key"))) ||
            (b.n == REC_BATCH_MAX && rec_commit(s, &b)))
            rc = -1;
    }
    if (!rc && b.n && rec_commit(s, &b))
        rc = -1;
    rec_batch_free(&b);
    json_decref(all);
    return rc;
}

/* The transaction id of {tx_id_or_number}: a UUID as it is, digits only
 * (a UUID always has '-') as the transaction number. 0 and the id in out,
 * else -1 with the answer in r. */
static int tx_resolve(srv *s, srv_resp *r, srv_tss *x, const char *ref, char out[37])
{
    if (uuid_valid(ref)) {
        snprintf(out, 37, "%s", ref);
        return 0;
    }
    uint64_t number;
    if (!parse_u64(ref, strlen(ref), INT64_MAX, &number) || number == 0) {
        resp_error(r, 400, "E_BAD_REQUEST", "the transaction must be given by its id (a UUID) or its number "
                   "(digits only, from 1)");
        return -1;
    }
    char ns[REC_NS_LEN], key[24];
    snprintf(key, sizeof key, "%" PRIu64, number);
    rec_ns(ns, "txnum", x->id);
    json_t *v = NULL;
    int found = rec_get(s, ns, key, &v);
    if (found == 0 && txnum_backfill(s, x->id) == 0)
        found = rec_get(s, ns, key, &v);
    const char *id = json_string_value(json_object_get(v, "tx_id"));
    if (found == 1 && id && uuid_valid(id))
        snprintf(out, 37, "%s", id);
    else if (found == 0)
        resp_error(r, 404, "E_TX_NOT_FOUND", "no transaction number %s in TSS %s", ref, x->id);
    else
        storage_failure(r, "cannot read transaction number %s", ref);
    json_decref(v);
    return found == 1 && id ? 0 : -1;
}

/* A client the TSS does not know: the TSE's state first, as the engine
 * checks it (not initialized, disabled), else 400 E_CLIENT_NOT_FOUND. */
static void unknown_client(srv_resp *r, srv_tss *x, const char *client_id)
{
    tse_info info;
    tse_err e = engine_get_info(x->e, &info);
    if (!e && info.state == TSE_STATE_DISABLED)
        e = engine_fail(TSE_ERR_SECURE_ELEMENT_DISABLED, "TSS %s is disabled", x->id);
    else if (!e && info.state != TSE_STATE_INITIALIZED)
        e = engine_fail(TSE_ERR_SE_API_NOT_INITIALIZED, "TSS %s is not initialized", x->id);
    if (e) {
        resp_tse_error(r, e);
        return;
    }
    resp_error(r, 400, "E_CLIENT_NOT_FOUND", "%s: no client %s in TSS %s", tse_errname(TSE_ERR_CLIENT_NOT_REGISTERED),
               client_id, x->id);
    resp_tse_name(r, tse_errname(TSE_ERR_CLIENT_NOT_REGISTERED));
}

static void put_tx(srv_req *q, srv_resp *r, srv_tss *x, const char *ref)
{
    char tx_id[37];
    json_t *body = req_json(q, r);
    if (!body)
        return;
    if (tx_resolve(q->s, r, x, ref, tx_id)) {
        json_decref(body);
        return;
    }
    tx_req t = {0};
    tx_row row = {0};
    char serial[TSE_MAX_CLIENT_ID_LEN + 1], cstate[16];
    pthread_mutex_t *lock = id_lock(q->s, x->id, tx_id);
    pthread_mutex_lock(lock);
    int found = parse_request(q, r, body, &t) ? -2 : row_load_head(q->s, x, tx_id, &row);
    if (found == -1) {
        storage_failure(r, "cannot read transaction %s: %s", tx_id, tse_last_error_message());
    } else if (found >= 0 && client_lookup(q->s, x->id, t.client_id, serial, cstate)) {
        unknown_client(r, x, t.client_id);
    } else if (found >= 0 && !check_row(r, x, &t, &row, tx_id)) {
        json_t *out = NULL;
        char *text = NULL;
        tse_err e = TSE_OK;
        if ((e = sign(x, tx_id, &t, found ? &row : NULL, serial, &out, &text)))
            resp_tse_error(r, e);
        else if (text)
            resp_json_text(r, 200, text);
        else
            resp_json(r, 200, json_incref(out));
        json_decref(out);
    }
    pthread_mutex_unlock(lock);
    json_decref(row.result);
    json_decref(row.metadata);
    free(row.result_text);
    free(t.process_data);
    free(t.additional_data);
    json_decref(t.metadata);
    json_decref(body);
}

static int by_number(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "number"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "number"));
    return (x > y) - (x < y);
}

/* The answers of the transactions in `states` (none: all), by number, paged. */
static json_t *tx_page(srv *s, const char *tss_id, const char *env, const char *const *states, int ns, long offset,
                       long limit)
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
        json_array_append(data, as_answered(json_object_get(v[i], "result"), env));
    free(v);
    json_decref(rows);
    if (n && !v) {
        json_decref(data);
        return NULL;
    }
    return data;
}

/* The states filter of a list (req_states), each state once. */
static int states_filter(srv_req *q, srv_resp *r, const char *states[3], int *ns)
{
    static const char *const allowed[] = {"ACTIVE", "FINISHED", "CANCELLED", NULL};
    const char *v[16];
    int n = req_states(q, r, allowed, v, 16);
    *ns = 0;
    for (int i = 0; i < n; i++) {
        bool again = false;
        for (int k = 0; k < *ns; k++)
            again |= strcmp(states[k], v[i]) == 0;
        if (!again)
            states[(*ns)++] = v[i];
    }
    return n < 0 ? -1 : 0;
}

static void list_answer(srv_resp *r, json_t *data, const char *env)
{
    json_t *l = data ? json_pack("{s:o, s:I}", "data", data, "count", (json_int_t)json_array_size(data)) : NULL;
    res_envelope_env(l, "TRANSACTION_LIST", NULL, env);
    if (!data)
        storage_failure(r, "cannot list transactions");
    else
        resp_json(r, 200, l);
}

static void list_tx(srv_req *q, srv_resp *r, srv_tss *x)
{
    long limit, offset;
    const char *states[3];
    int ns;
    if (req_page(q, r, &limit, &offset) || states_filter(q, r, states, &ns))
        return;
    list_answer(r, tx_page(q->s, x->id, x->env, states, ns, offset, limit), x->env);
}

/* Lists that gather more than one page's worth stop at this offset. */
#define LIST_MAX_OFFSET 100000

static bool state_in(json_t *tx, const char *const *states, int ns)
{
    const char *st = json_string_value(json_object_get(tx, "state"));
    for (int i = 0; st && i < ns; i++)
        if (strcmp(st, states[i]) == 0)
            return true;
    return ns == 0;
}

/* GET .../client/{client_id}/tx: the client's transactions by number, from
 * the txnum index (idx = client id), read in chunks until the page is full. */
void routes_client_tx(srv_req *q, srv_resp *r, srv_tss *x, const char *client_id)
{
    long limit, offset;
    const char *states[3];
    int ns;
    char serial[TSE_MAX_CLIENT_ID_LEN + 1], cstate[16], nums[REC_NS_LEN];
    if (strcmp(q->method, "GET") != 0) {
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET");
        return;
    }
    if (req_page(q, r, &limit, &offset) || states_filter(q, r, states, &ns))
        return;
    if (client_lookup(q->s, x->id, client_id, serial, cstate)) {
        resp_error(r, 404, "E_CLIENT_NOT_FOUND", "no client %s in TSS %s", client_id, x->id);
        return;
    }
    if (txnum_backfill(q->s, x->id)) {
        list_answer(r, NULL, x->env);
        return;
    }
    rec_ns(nums, "txnum", x->id);
    json_t *data = json_array();
    long skipped = 0, from = ns ? 0 : offset;
    for (bool more = true; data && more && (long)json_array_size(data) < limit;) {
        long chunk = ns ? 200 : limit;
        json_t *keys = rec_list(q->s, nums, client_id, from, chunk), *k;
        size_t i;
        more = keys && (long)json_array_size(keys) == chunk;
        from += chunk;
        json_array_foreach(keys, i, k) {
            tx_row row = {0};
            int found = row_load(q->s, x, json_string_value(json_object_get(k, "tx_id")), &row);
            if (found == 1 && state_in(row.result, states, ns) && skipped++ >= (ns ? offset : 0) &&
                (long)json_array_size(data) < limit)
                json_array_append(data, row.result);
            json_decref(row.result);
            if (found < 0) {
                json_decref(keys);
                keys = NULL;
                break;
            }
        }
        if (!keys) {
            json_decref(data);
            data = NULL;
        }
        json_decref(keys);
    }
    list_answer(r, data, x->env);
}

/* GET /api/v2/tx: the transactions of every TSS of the organization, each
 * TSS's in number order, merged by time_start (then TSS id). */
static void list_org_tx(srv_req *q, srv_resp *r)
{
    long limit, offset;
    const char *states[3];
    int ns;
    if (req_page(q, r, &limit, &offset) || states_filter(q, r, states, &ns))
        return;
    if (offset > LIST_MAX_OFFSET) {
        resp_error(r, 400, "E_BAD_REQUEST", "offset of the organization's transactions must be at most %d; "
                   "list one TSS's (GET /api/v2/tss/{tss_id}/tx) beyond that", LIST_MAX_OFFSET);
        return;
    }
    char org[24];
    snprintf(org, sizeof org, "%" PRId64, q->who.org_id);
    json_t *tsss = rec_list(q->s, "tss", org, 0, 0), *t;
    size_t n = json_array_size(tsss), i;
    json_t **lists = n ? calloc(n, sizeof *lists) : NULL;
    size_t *head = n ? calloc(n, sizeof *head) : NULL;
    json_t *data = tsss && (!n || (lists && head)) ? json_array() : NULL;
    json_array_foreach(tsss, i, t) {
        if (data && !(lists[i] = tx_page(q->s, json_string_value(json_object_get(t, "_key")),
                                         json_string_value(json_object_get(t, "env")), states, ns, 0,
                                         offset + limit))) {
            json_decref(data);
            data = NULL;
        }
    }
    for (long taken = 0; data && taken < offset + limit; taken++) {
        size_t best = n;
        for (size_t k = 0; k < n; k++) {
            json_t *c = json_array_get(lists[k], head[k]);
            if (!c)
                continue;
            json_t *b = best < n ? json_array_get(lists[best], head[best]) : NULL;
            json_int_t tc = json_integer_value(json_object_get(c, "time_start"));
            if (!b || tc < json_integer_value(json_object_get(b, "time_start")))
                best = k;
        }
        if (best == n)
            break;
        if (taken >= offset)
            json_array_append(data, json_array_get(lists[best], head[best]));
        head[best]++;
    }
    for (i = 0; lists && i < n; i++)
        json_decref(lists[i]);
    free(lists);
    free(head);
    json_decref(tsss);
    list_answer(r, data, q->who.env);
}

void routes_tx_all(srv_req *q, srv_resp *r, char **seg, int nseg)
{
    (void)seg;
    if (nseg != 1)
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
    else if (strcmp(q->method, "GET") != 0)
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET");
    else if (q->who.operator_role)
        resp_error(r, 403, "E_FORBIDDEN", "the operator key manages organizations, not TSSs");
    else
        list_org_tx(q, r);
}

/* GET .../tx/{tx}[?tx_revision=N]: the latest answer, or that of revision N. */
static void get_tx(srv_req *q, srv_resp *r, srv_tss *x, const char *tx_id)
{
    tx_row row = {0};
    const char *rev = req_query(q, "tx_revision");
    uint64_t want = 0;
    if (rev && req_u64(r, "E_BAD_REQUEST", "tx_revision", rev, 1, REQ_MAX_JSON_INT, &want))
        return;
    int found = row_load(q->s, x, tx_id, &row);
    if (found == 1 && want && (long long)want != row.revision) {
        char ns[REC_NS_LEN], key[REC_NS_LEN];
        json_t *v = NULL;
        snprintf(key, sizeof key, "%s/%" PRIu64, tx_id, want);
        int got = (long long)want < row.revision ? rec_get(q->s, rec_ns(ns, "txrev", x->id), key, &v) : 0;
        if (got == 1) {   /* that revision as answered; latest_revision says where it stands now */
            json_object_set_new(as_answered(v, x->env), "latest_revision", json_integer(row.revision));
            resp_json(r, 200, v);
        }
        else if (got == 0)
            resp_error(r, 404, "E_TX_NOT_FOUND", "transaction %s has no stored revision %" PRIu64 " (its latest is "
                       "%lld)", tx_id, want, row.revision);
        else
            storage_failure(r, "cannot read transaction %s", tx_id);
        if (got != 1)
            json_decref(v);
        json_decref(row.result);
    } else if (found == 1) {
        resp_json(r, 200, row.result);
    } else if (found == 0) {
        resp_error(r, 404, "E_TX_NOT_FOUND", "no transaction %s in TSS %s", tx_id, x->id);
    } else {
        storage_failure(r, "cannot read transaction %s", tx_id);
    }
}

/* GET/PATCH .../tx/{tx}/metadata. PATCH sets the given members (null
 * removes one) on the latest answer's metadata; nothing is signed. */
static void tx_metadata(srv_req *q, srv_resp *r, srv_tss *x, const char *tx_id)
{
    bool patch = strcmp(q->method, "PATCH") == 0;
    if (!patch && strcmp(q->method, "GET") != 0) {
        resp_error(r, 405, "E_METHOD_NOT_ALLOWED", "use GET or PATCH");
        return;
    }
    json_t *body = patch ? req_json(q, r) : NULL;
    if (patch && !body)
        return;
    tx_row row = {0};
    pthread_mutex_t *lock = id_lock(q->s, x->id, tx_id);
    pthread_mutex_lock(lock);
    int found = row_load(q->s, x, tx_id, &row);
    if (found == 0) {
        resp_error(r, 404, "E_TX_NOT_FOUND", "no transaction %s in TSS %s", tx_id, x->id);
    } else if (found < 0) {
        storage_failure(r, "cannot read transaction %s", tx_id);
    } else if (!patch) {
        json_t *m = json_object_get(row.result, "metadata");
        resp_json(r, 200, json_is_object(m) ? json_incref(m) : json_object());
    } else {
        json_t *m = NULL;
        rec_batch b = {0};
        char *text = NULL;
        /* the metadata object itself, or wrapped as {"metadata": {...}} */
        if (req_metadata_patch(r, req_metadata_body(body), json_object_get(row.result, "metadata"), &m) == 0) {
            json_object_set(row.result, "metadata", m);
            if (!(text = json_text(row.result)) || !row_record(&b, x->id, tx_id, row.result, text) ||
                rec_commit(q->s, &b))
                storage_failure(r, "cannot store the metadata of transaction %s", tx_id);
            else
                resp_json(r, 200, json_incref(m));
        }
        rec_batch_free(&b);
        free(text);
        json_decref(m);
    }
    pthread_mutex_unlock(lock);
    json_decref(row.result);
    json_decref(body);
}

/* One entry of .../tx/{tx}/log: what a revision's answer says of its log,
 * and the log message itself (DER, base64) read back from the TSE. */
static json_t *log_entry(srv_tss *x, json_t *answer)
{
    json_t *sig = json_object_get(answer, "signature"), *log = json_object_get(answer, "log");
    json_int_t counter = json_integer_value(json_object_get(sig, "counter"));
    json_t *e = json_pack("{s:O, s:O, s:O, s:O, s:O, s:I}", "revision", json_object_get(answer, "revision"),
                          "state", json_object_get(answer, "state"), "operation", json_object_get(log, "operation"),
                          "timestamp", json_object_get(log, "timestamp"), "timestamp_format",
                          json_object_get(log, "timestamp_format"), "signature_counter", counter);
    uint8_t *msg = NULL;
    size_t len = 0;
    if (e && counter > 0 && engine_read_log_by_counter(x->e, (uint64_t)counter, &msg, &len) == TSE_OK) {
        char *b64 = base64_encode_alloc(msg, len);
        if (b64)
            json_object_set_new(e, "log_message", json_string(b64));
        free(b64);
        tse_free(msg);
    }
    if (e && json_string_value(json_object_get(sig, "value")) && counter > 0)
        json_object_set(e, "signature", json_object_get(sig, "value"));
    return e;
}

/* GET .../tx/{tx}/log: every revision's log message, oldest first. Unsigned
 * updates have none (no signature_counter, no log_message); deleted logs
 * (deleteStoredData) keep their entry without log_message. */
static void tx_log(srv_req *q, srv_resp *r, srv_tss *x, const char *tx_id)
{
    tx_row row = {0};
    int found = row_load(q->s, x, tx_id, &row);
    if (found <= 0) {
        if (found == 0)
            resp_error(r, 404, "E_TX_NOT_FOUND", "no transaction %s in TSS %s", tx_id, x->id);
        else
            storage_failure(r, "cannot read transaction %s", tx_id);
        return;
    }
    char ns[REC_NS_LEN];
    json_t *older = rec_list(q->s, rec_ns(ns, "txrev", x->id), tx_id, 0, 0), *v;
    json_t *data = older ? json_array() : NULL;
    size_t i;
    json_array_foreach(older, i, v)
        json_array_append_new(data, log_entry(x, v));
    if (data)
        json_array_append_new(data, log_entry(x, row.result));
    json_decref(older);
    json_decref(row.result);
    if (!data)
        storage_failure(r, "cannot read the revisions of transaction %s", tx_id);
    else
        resp_json(r, 200, json_pack("{s:o, s:I, s:s}", "data", data, "count", (json_int_t)json_array_size(data),
                                    "_type", "TRANSACTION_LOG_LIST"));
}

/* seg: tss {id} tx [{tx_id_or_number} [metadata | log]] */
void routes_tx(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    const char *m = q->method;
    char tx_id[37];
    if (nseg == 3 && strcmp(m, "GET") == 0) {
        list_tx(q, r, x);
    } else if (nseg == 4 && strcmp(m, "PUT") == 0) {
        put_tx(q, r, x, seg[3]);
    } else if (nseg == 4 && strcmp(m, "GET") == 0) {
        if (!tx_resolve(q->s, r, x, seg[3], tx_id))
            get_tx(q, r, x, tx_id);
    } else if (nseg == 5 && strcmp(seg[4], "metadata") == 0) {
        if (!tx_resolve(q->s, r, x, seg[3], tx_id))
            tx_metadata(q, r, x, tx_id);
    } else if (nseg == 5 && strcmp(seg[4], "log") == 0 && strcmp(m, "GET") == 0) {
        if (!tx_resolve(q->s, r, x, seg[3], tx_id))
            tx_log(q, r, x, tx_id);
    } else {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", m, q->path);
    }
}
