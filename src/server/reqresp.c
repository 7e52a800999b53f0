/*
 * reqresp.c - what every handler of opentsed uses to read its request and
 * write its response: query values, headers, paging, the JSON body, JSON
 * answers and errors (HTTP status, the market API's code, the TR-03151
 * name and message), the metadata of a resource and the states filter of a
 * list.
 */
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

void resp_json(srv_resp *r, int status, json_t *j)
{
    if (r->json)
        json_decref(r->json);
    r->json = NULL;
    if (!j) {
        resp_error(r, 500, "E_INTERNAL", "no memory for the response");
        return;
    }
    r->status = status;
    r->json = j;
}

void resp_json_text(srv_resp *r, int status, char *text)
{
    json_decref(r->json);
    r->json = NULL;
    free(r->text);
    r->text = text;
    r->status = status;
}

static const char *status_text(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void resp_error(srv_resp *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->json)
        json_decref(r->json);
    r->status = status;
    if (status == 503 && r->retry_after <= 0)
        r->retry_after = 1;   /* the store is back in a moment, or another node has the TSS */
    if (!utf8_valid(msg)) {   /* a hostile path or value quoted in the message */
        char *clean = utf8_escape(msg);
        snprintf(msg, sizeof msg, "%s", clean ? clean : "(not valid UTF-8)");
        free(clean);
    }
    r->json = json_pack("{s:i, s:s, s:s, s:s}", "status_code", status, "error", status_text(status), "code",
                        code ? code : "E_ERROR", "message", msg);
}

bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : 9;
        if (n == 9 || (n == 1 && *p < 0xc2) || (n == 3 && *p > 0xf4))
            return false;
        uint32_t c = n ? *p & (0x3f >> n) : *p;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (n == 3 && (c < 0x10000 || c > 0x10ffff)))
            return false;
        p += n + 1;
    }
    return true;
}

char *utf8_escape(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(3 * len + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80)
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = 0;
    return out;
}

int req_u64(srv_resp *r, const char *code, const char *name, const char *v, uint64_t min, uint64_t max,
            uint64_t *out)
{
    if (parse_u64(v, (size_t)-1, max, out) && *out >= min)
        return 0;
    resp_error(r, 400, code, "%s must be a whole number from %" PRIu64 " to %" PRIu64 " (digits only)", name, min,
               max);
    return -1;
}

int req_type(srv_resp *r, json_t *obj, const char *where, const char *name, json_type type)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_typeof(v) == type)
        return 0;
    static const char *const names[] = {
        [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
        [JSON_INTEGER] = "an integer", [JSON_REAL] = "a number", [JSON_TRUE] = "a boolean",
        [JSON_FALSE] = "a boolean", [JSON_NULL] = "null"};
    resp_error(r, 400, "E_BAD_REQUEST", "%s%s must be %s", where ? where : "", name, names[type]);
    return -1;
}

static int tse_status(tse_err rc)
{
    switch (rc) {
    case TSE_ERR_AUTHENTICATION_FAILED:
    case TSE_ERR_UNBLOCK_FAILED:
        return 401;
    case TSE_ERR_USER_NOT_AUTHORIZED:
    case TSE_ERR_USER_NOT_AUTHENTICATED:
    case TSE_ERR_USER_ID_NOT_AUTHENTICATED:
    case TSE_ERR_PIN_BLOCKED:
        return 403;
    case TSE_ERR_ID_NOT_FOUND:
    case TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND:
    case TSE_ERR_NO_TRANSACTION:
    case TSE_ERR_NOT_FOUND:
    case TSE_ERR_NO_DATA_AVAILABLE:
    case TSE_ERR_NO_LOG_MESSAGE:
        return 404;
    case TSE_ERR_INVALID_ARGUMENT:
    case TSE_ERR_PARAMETER_MISMATCH:
    case TSE_ERR_CLIENT_NOT_REGISTERED:   /* the market API: 400 E_CLIENT_NOT_FOUND */
    case TSE_ERR_SECURE_ELEMENT_DISABLED: /* and 400 E_TSS_DISABLED */
    case TSE_ERR_INVALID_TIME:
    case TSE_ERR_USER_ID_NOT_MANAGED:
        return 400;
    case TSE_ERR_TOO_LARGE:
        return 413;
    case TSE_ERR_STORAGE_FAILURE:
    case TSE_ERR_STORE_IN_USE:
    case TSE_ERR_KEY_UNAVAILABLE:
    case TSE_ERR_SELF_TEST_FAILED:
    case TSE_ERR_UNREACHABLE:
        return 503;
    case TSE_ERR_NO_MEMORY:
    case TSE_ERR_INTERNAL:
        return 500;
    default:
        return 409; /* wrong state, disabled, limits, expired certificate, ... */
    }
}

/* The market API's code of an engine error; those it has no own code for
 * get the general one of their HTTP status. */
const char *tse_market_code(tse_err rc)
{
    switch (rc) {
    case TSE_ERR_SECURE_ELEMENT_DISABLED: return "E_TSS_DISABLED";
    case TSE_ERR_SE_API_NOT_INITIALIZED: return "E_TSS_NOT_INITIALIZED";
    case TSE_ERR_WRONG_STATE: return "E_TSS_INVALID_STATE";
    case TSE_ERR_NOT_FOUND: return "E_TSS_NOT_FOUND";
    case TSE_ERR_CERTIFICATE_EXPIRED: return "E_TSS_CERTIFICATE_EXPIRED";
    case TSE_ERR_TIME_NOT_SET: return "E_TSS_TIME_NOT_SET";
    case TSE_ERR_SELF_TEST_FAILED: return "E_TSS_SELF_TEST_FAILED";
    case TSE_ERR_CLIENT_NOT_REGISTERED:
    case TSE_ERR_ID_NOT_FOUND:
    case TSE_ERR_USER_ID_NOT_MANAGED: return "E_CLIENT_NOT_FOUND";
    case TSE_ERR_TOO_MANY_CLIENTS: return "E_CLIENT_LIMIT_REACHED";
    case TSE_ERR_TRANSACTION_NUMBER_NOT_FOUND:
    case TSE_ERR_NO_TRANSACTION: return "E_TX_NOT_FOUND";
    case TSE_ERR_TOO_MANY_TRANSACTIONS: return "E_TX_LIMIT_REACHED";
    case TSE_ERR_START_TRANSACTION_FAILED:
    case TSE_ERR_UPDATE_TRANSACTION_FAILED:
    case TSE_ERR_FINISH_TRANSACTION_FAILED: return "E_TX_UPSERT";
    case TSE_ERR_AUTHENTICATION_FAILED: return "E_PIN_INVALID";
    case TSE_ERR_UNBLOCK_FAILED: return "E_PUK_INVALID";
    case TSE_ERR_PIN_BLOCKED: return "E_ADMIN_PIN_BLOCKED";
    case TSE_ERR_USER_NOT_AUTHENTICATED:
    case TSE_ERR_USER_ID_NOT_AUTHENTICATED: return "E_ADMIN_NOT_AUTHENTICATED";
    case TSE_ERR_TOO_LARGE: return "E_PAYLOAD_TOO_LARGE";
    default:
        break;
    }
    switch (tse_status(rc)) {
    case 400: return "E_BAD_REQUEST";
    case 401: return "E_UNAUTHORIZED";
    case 403: return "E_FORBIDDEN";
    case 404: return "E_NOT_FOUND";
    case 413: return "E_PAYLOAD_TOO_LARGE";
    case 500: return "E_INTERNAL";
    case 503: return "E_SERVICE_UNAVAILABLE";
    default: return "E_CONFLICT";
    }
}

void resp_tse_error(srv_resp *r, tse_err rc)
{
    /* The engine's detail for this thread, if it is about this code; the
     * server's own refusals carry the code's general text. */
    const tse_error *e = error_last();
    if (e->code == (int)rc && e->message[0])
        resp_error(r, tse_status(rc), tse_market_code(rc), "%s: %s", tse_errname(rc), e->message);
    else
        resp_error(r, tse_status(rc), tse_market_code(rc), "%s", tse_strerror(rc));
    resp_tse_name(r, tse_errname(rc));
}

void resp_tse_name(srv_resp *r, const char *name)
{
    if (r->json)
        json_object_set_new(r->json, "tse_error", json_string(name));
}

/* The characters (code points) of valid UTF-8 s. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

int req_metadata(srv_resp *r, json_t *body, json_t **out)
{
    *out = NULL;
    json_t *m = json_object_get(body, "metadata"), *v;
    const char *k;
    if (!m)
        return 0;
    if (!json_is_object(m)) {
        resp_error(r, 400, "E_BAD_REQUEST", "metadata must be an object of string values");
        return -1;
    }
    if (json_object_size(m) > REQ_METADATA_MAX_KEYS) {
        resp_error(r, 400, "E_BAD_REQUEST", "metadata has %zu keys; at most %d are allowed", json_object_size(m),
                   REQ_METADATA_MAX_KEYS);
        return -1;
    }
    json_t *copy = json_object();
    json_object_foreach(m, k, v) {
        /* a number or boolean is kept as its text: metadata values are strings */
        char num[64];
        const char *sv = json_string_value(v);
        if (json_is_integer(v))
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
        else if (json_is_boolean(v))
            snprintf(num, sizeof num, "%s", json_is_true(v) ? "true" : "false");
        if (json_is_number(v) || json_is_boolean(v))
            sv = num;
        if (!*k || !utf8_valid(k) || utf8_chars(k) > REQ_METADATA_MAX_KEY) {
            resp_error(r, 400, "E_BAD_REQUEST", "metadata keys must be 1 to %d characters of valid UTF-8",
                       REQ_METADATA_MAX_KEY);
        } else if (!sv) {
            resp_error(r, 400, "E_BAD_REQUEST", "metadata.%s must be a string", k);
        } else if ((sv != num && strlen(sv) != json_string_length(v)) || !utf8_valid(sv) ||
                   utf8_chars(sv) > REQ_METADATA_MAX_VALUE) {
            resp_error(r, 400, "E_BAD_REQUEST", "metadata.%s must be up to %d characters of valid UTF-8 (no NUL)", k,
                       REQ_METADATA_MAX_VALUE);
        } else if (json_object_set_new(copy, k, json_string(sv)) == 0) {
            continue;
        } else {
            resp_error(r, 500, "E_INTERNAL", "no memory for the metadata");
        }
        json_decref(copy);
        return -1;
    }
    *out = copy;
    return 0;
}

json_t *req_metadata_body(json_t *body)
{
    json_t *m = json_object_get(body, "metadata");
    return json_object_size(body) == 1 && json_is_object(m) ? m : body;
}

int req_metadata_patch(srv_resp *r, json_t *patch, json_t *current, json_t **out)
{
    *out = NULL;
    if (!json_is_object(patch)) {
        resp_error(r, 400, "E_BAD_REQUEST", "metadata must be an object of string values");
        return -1;
    }
    json_t *merged = json_is_object(current) ? json_deep_copy(current) : json_object(), *v;
    const char *k;
    json_object_foreach(patch, k, v) {
        if (json_is_null(v))
            json_object_del(merged, k);
        else
            json_object_set(merged, k, v);
    }
    json_t *wrap = json_pack("{s:o}", "metadata", merged);
    int rc = wrap ? req_metadata(r, wrap, out) : -1;
    if (!wrap)
        resp_error(r, 500, "E_INTERNAL", "no memory");
    json_decref(wrap);
    return rc;
}

typedef struct states_read {
    const char *const *allowed;
    const char **out;
    int n, max;
    const char *bad, *bad_key;
} states_read;

/* states, states[] or states[N] (and state, as some clients spell it) */
static bool states_key(const char *key)
{
    if (strcmp(key, "state") == 0)
        return true;
    if (strncmp(key, "states", 6) != 0)
        return false;
    key += 6;
    if (!*key)
        return true;
    if (*key++ != '[')
        return false;
    while (*key >= '0' && *key <= '9')
        key++;
    return strcmp(key, "]") == 0;
}

static enum MHD_Result state_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    states_read *a = cls;
    if (!key || !states_key(key) || a->bad)
        return MHD_YES;
    int known = 0;
    for (int i = 0; value && a->allowed[i]; i++)
        known |= strcmp(value, a->allowed[i]) == 0;
    if (!known) {
        a->bad = value ? value : "";
        a->bad_key = key;
        return MHD_YES;
    }
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->out[i], value) == 0)
            return MHD_YES;
    if (a->n < a->max)
        a->out[a->n++] = value;
    return MHD_YES;
}

int req_states(srv_req *q, srv_resp *r, const char *const *allowed, const char **out, int max)
{
    states_read a = {allowed, out, 0, max, NULL, NULL};
    MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, state_value, &a);
    if (a.bad) {
        char list[256] = "";
        for (int i = 0; allowed[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", allowed[i]);
        resp_error(r, 400, "E_BAD_REQUEST", "unknown state \"%s\" in %s; give %s", a.bad, a.bad_key, list);
        return -1;
    }
    return a.n;
}

const char *req_query(srv_req *q, const char *name)
{
    const char *v = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(q->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, &len) != MHD_YES)
        return NULL;
    /* A NUL (%00) inside a value would cut it short unseen: such a value is
     * passed on as a text no parameter accepts. */
    return v && strlen(v) != len ? "%00" : v;
}

typedef struct query_all {
    const char *name;
    const char **out;
    int n, max;
} query_all;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    query_all *a = cls;
    if (key && value && strcmp(key, a->name) == 0 && a->n < a->max)
        a->out[a->n++] = value;
    return MHD_YES;
}

int req_query_all(srv_req *q, const char *name, const char **out, int max)
{
    query_all a = {name, out, 0, max};
    MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, collect, &a);
    return a.n;
}

const char *req_header(srv_req *q, const char *name)
{
    return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

int req_page(srv_req *q, srv_resp *r, long *limit, long *offset)
{
    const char *names[2] = {"limit", "offset"};
    long *vals[2] = {limit, offset};
    *limit = 100;
    *offset = 0;
    for (int i = 0; i < 2; i++) {
        const char *v = req_query(q, names[i]);
        uint64_t n;
        if (!v)
            continue;
        if (req_u64(r, "E_BAD_REQUEST", names[i], v, i ? 0 : 1, i ? 1000000000 : 100, &n))
            return -1;
        *vals[i] = (long)n;
    }
    return 0;
}

json_t *req_json_create(srv_req *q, srv_resp *r)
{
    const char *p = q->body, *end = q->body + q->body_len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p == end)
        return json_object();
    json_error_t e;
    json_t *j = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, &e);
    if (json_is_array(j) && json_array_size(j) == 0) {   /* what some clients send for "nothing" */
        json_decref(j);
        return json_object();
    }
    json_decref(j);
    return req_json(q, r);
}

json_t *req_json(srv_req *q, srv_resp *r)
{
    json_error_t e;
    json_t *j = q->body_len ? json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!j) {
        resp_error(r, 400, "E_BAD_REQUEST", "malformed JSON body%s%s", q->body_len ? ": " : " (empty)",
                   q->body_len ? e.text : "");
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        resp_error(r, 400, "E_BAD_REQUEST", "the body must be a JSON object");
        return NULL;
    }
    return j;
}
