/*
 * remote_read.c - reading a remote TSS: GET /tss/{id} turned into tse_info
 * and the counts, public key, certificate and serial numbers; the client
 * list; log messages, CSR and certificate import through the extension
 * endpoints.
 */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/remote_impl.h"
#include "engine/engine.h"

/* --------------------------------------------------------- reading */

tse_err remote_get_tss(remote *r, json_t **out)
{
    return http_call(r->h, "GET", TSS_PATH(r), NULL, true, out);
}

static tse_state state_from(const char *s)
{
    if (!s || !strcmp(s, "CREATED"))
        return TSE_STATE_CREATED;
    if (!strcmp(s, "UNINITIALIZED"))
        return TSE_STATE_UNINITIALIZED;
    if (!strcmp(s, "INITIALIZED"))
        return TSE_STATE_INITIALIZED;
    return TSE_STATE_DISABLED;
}

/* Curve of the certificate's key. */
static tse_curve curve_of(const char *pem)
{
    static const struct { const char *name; tse_curve c; } map[] = {
        {"prime256v1", TSE_CURVE_P256}, {"secp384r1", TSE_CURVE_P384}, {"secp521r1", TSE_CURVE_P521},
        {"brainpoolP256r1", TSE_CURVE_BRAINPOOL_P256R1}, {"brainpoolP384r1", TSE_CURVE_BRAINPOOL_P384R1},
        {"brainpoolP512r1", TSE_CURVE_BRAINPOOL_P512R1},
    };
    tse_curve c = TSE_CURVE_P256;
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
    char name[64];
    size_t n = 0;
    if (k && EVP_PKEY_get_group_name(k, name, sizeof name, &n) == 1)
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (!strcmp(map[i].name, name))
                c = map[i].c;
    X509_free(x);
    BIO_free(b);
    return c;
}

static tse_time_format format_from(const char *s)
{
    return s && !strcmp(s, "utcTime") ? TSE_TIME_UTC : s && !strcmp(s, "generalizedTime") ? TSE_TIME_GENERALIZED
                                                                                         : TSE_TIME_UNIX;
}

static uint64_t u64(json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));
    return v > 0 ? (uint64_t)v : 0;
}

tse_err remote_get_info(void *backend, tse_info *out)
{
    remote *r = backend;
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    json_t *j = NULL;
    tse_err rc = remote_get_tss(r, &j);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->state = state_from(json_string_value(json_object_get(j, "state")));
    out->curve = curve_of(json_string_value(json_object_get(j, "certificate")));
    const char *alg = json_string_value(json_object_get(j, "signature_algorithm"));
    snprintf(out->signature_algorithm, sizeof out->signature_algorithm, "%s", alg ? alg : "");
    out->hash = alg && strstr(alg, "SHA512") ? TSE_HASH_SHA512 : alg && strstr(alg, "SHA384") ? TSE_HASH_SHA384
                                                                                          : TSE_HASH_SHA256;
    out->time_format = format_from(json_string_value(json_object_get(j, "signature_timestamp_format")));
    const char *serial = json_string_value(json_object_get(j, "serial_number"));
    for (size_t i = 0; serial && strlen(serial) == 2 * TSE_SERIAL_LEN && i < TSE_SERIAL_LEN; i++) {
        unsigned v = 0;
        sscanf(serial + 2 * i, "%2x", &v);
        out->serial_number[i] = (uint8_t)v;
    }
    out->log_format_version = (int)u64(j, "log_format_version");   /* 0 from a server that does not say */
    out->signature_counter = u64(j, "signature_counter");
    out->transaction_counter = u64(j, "transaction_counter");
    out->max_clients = (uint32_t)u64(j, "max_number_registered_clients");
    out->current_clients = (uint32_t)u64(j, "number_registered_clients");
    out->max_open_transactions = (uint32_t)u64(j, "max_number_active_transactions");
    out->current_open_transactions = (uint32_t)u64(j, "number_active_transactions");
    out->overdue_open_transactions = (uint32_t)u64(j, "overdue_active_transactions");
    out->time_set = 1;
    out->time_now = (int64_t)time(NULL);
    json_t *exp = json_object_get(j, "certificate_expiry");
    out->cert_not_after = (int64_t)u64(exp, "unix");
    out->cert_days_left = (int32_t)json_integer_value(json_object_get(exp, "days_left"));
    json_t *eou = json_object_get(j, "end_of_usage");
    out->end_of_usage = eou ? (int64_t)u64(eou, "unix") : out->cert_not_after;
    out->end_of_usage_days_left =
        eou ? (int32_t)json_integer_value(json_object_get(eou, "days_left")) : out->cert_days_left;
    out->end_of_usage_certificate = (int32_t)json_integer_value(json_object_get(eou, "chain_index"));
    out->end_of_usage_warning = tse_end_of_usage_warning(out->end_of_usage_days_left);
    json_t *st = json_object_get(j, "self_test");
    out->self_test_time = (int64_t)u64(st, "unix");
    out->self_test_ok = json_is_true(json_object_get(st, "passed"));
    out->time_creation = remote_json_time(json_object_get(j, "time_creation"));
    out->time_init = remote_json_time(json_object_get(j, "time_init"));
    out->time_disable = remote_json_time(json_object_get(j, "time_disable"));
    const char *desc = json_string_value(json_object_get(j, "description"));
    snprintf(out->description, sizeof out->description, "%s", desc ? desc : "");
    json_decref(j);
    return TSE_OK;
}

/* One count of GET /tss/{id}: the uint32_t at `offset` of its tse_info. */
static tse_err info_count(void *backend, uint32_t *out, size_t offset)
{
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    tse_info info;
    tse_err rc = remote_get_info(backend, &info);
    if (!rc)
        memcpy(out, (const char *)&info + offset, sizeof *out);
    return rc;
}

tse_err remote_get_max_number_of_clients(void *backend, uint32_t *out)
{
    return info_count(backend, out, offsetof(tse_info, max_clients));
}

/* TR-03151-1 v1.1.1 3.7.9.2: the distinct clients of the open transactions. */
tse_err remote_get_current_number_of_clients(void *backend, uint32_t *out)
{
    tse_open_transaction *open = NULL;
    size_t n = 0;
    tse_err rc = remote_list_open_transactions(backend, &open, &n);
    if (rc)
        return rc;
    uint32_t clients = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && strcmp(open[j].client_id, open[i].client_id) != 0)
            j++;
        clients += j == i;
    }
    tse_free(open);
    *out = clients;
    return TSE_OK;
}

tse_err remote_get_max_number_of_transactions(void *backend, uint32_t *out)
{
    return info_count(backend, out, offsetof(tse_info, max_open_transactions));
}

tse_err remote_get_current_number_of_transactions(void *backend, uint32_t *out)
{
    return info_count(backend, out, offsetof(tse_info, current_open_transactions));
}

tse_err remote_certificate_expiry(void *backend, int64_t *not_after, int32_t *days_left)
{
    remote *r = backend;
    tse_info info;
    tse_err rc = remote_get_info(r, &info);
    if (!rc && not_after)
        *not_after = info.cert_not_after;
    if (!rc && days_left)
        *days_left = info.cert_days_left;
    return rc;
}

tse_err remote_get_supported_transaction_update_variants(void *backend, tse_update_variant *out)
{
    (void)backend;
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "out is required");
    *out = TSE_UPDATE_SIGNED_AND_UNSIGNED;
    return TSE_OK;
}

/* GET .../log/<which>: one log message (DER) of the extension endpoint. */
static tse_err read_log(remote *r, const char *which, uint8_t **msg, size_t *len)
{
    if (!msg || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "msg and len are required");
    char path[96];
    snprintf(path, sizeof path, "%s/log/%s", TSS_PATH(r), which);
    json_t *j = NULL;
    tse_err rc = http_call(r->h, "GET", path, NULL, true, &j);
    if (!rc && !(*msg = remote_unb64(json_string_value(json_object_get(j, "log_message")), len)))
        rc = engine_fail(TSE_ERR_INTERNAL, "the server's log_message is not base64");
    json_decref(j);
    return rc;
}

tse_err remote_read_log_message(void *backend, uint8_t **msg, size_t *len)
{
    remote *r = backend;
    return read_log(r, "last", msg, len);
}

tse_err remote_read_log_by_counter(void *backend, uint64_t counter, uint8_t **msg, size_t *len)
{
    remote *r = backend;
    char which[24];
    snprintf(which, sizeof which, "%llu", (unsigned long long)counter);
    return read_log(r, which, msg, len);
}

tse_err remote_export_serial_numbers(void *backend, uint8_t **der, size_t *len)
{
    remote *r = backend;
    if (!der || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "der and len are required");
    tse_info info;
    tse_err rc = remote_get_info(r, &info);
    if (rc)
        return rc;
    /* SEQUENCE OF SEQUENCE { OCTET STRING serial, SEQUENCE { three BOOLEANs TRUE } }, as the
     * engine writes it: untagged for log format 3, [0] [1] [2] for 2 */
    static const uint8_t head[] = {0x30, 47, 0x30, 45, 0x04, TSE_SERIAL_LEN};
    uint8_t tail[] = {0x30, 9, 0x80, 1, 0xff, 0x81, 1, 0xff, 0x82, 1, 0xff};
    for (int i = 0; i < 3 && info.log_format_version != 2; i++)   /* 0: an older server, version 3 */
        tail[2 + 3 * i] = 0x01;
    uint8_t *out = malloc(sizeof head + TSE_SERIAL_LEN + sizeof tail);
    if (!out)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    memcpy(out, head, sizeof head);
    memcpy(out + sizeof head, info.serial_number, TSE_SERIAL_LEN);
    memcpy(out + sizeof head + TSE_SERIAL_LEN, tail, sizeof tail);
    *der = out;
    *len = sizeof head + TSE_SERIAL_LEN + sizeof tail;
    return TSE_OK;
}

/* GET `sub` below the TSS and a copy (malloc'd) of its text field `field`. */
static tse_err get_text(remote *r, const char *sub, const char *field, tse_err missing, char **out)
{
    if (!out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "pem is required");
    char path[80];
    snprintf(path, sizeof path, "%s%s", TSS_PATH(r), sub);
    json_t *j = NULL;
    tse_err rc = http_call(r->h, "GET", path, NULL, true, &j);
    const char *text = json_string_value(json_object_get(j, field));
    if (!rc && !text)
        rc = engine_fail(missing, "the server sent no %s", field);
    if (!rc && !(*out = strdup(text)))
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    json_decref(j);
    return rc;
}

tse_err remote_export_certificates(void *backend, char **pem)
{
    remote *r = backend;
    return get_text(r, "/certificate", "certificate", TSE_ERR_EXPORT_CERT_FAILED, pem);
}

tse_err remote_public_key(void *backend, uint8_t **point, size_t *len)
{
    remote *r = backend;
    if (!point || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "point and len are required");
    json_t *j = NULL;
    tse_err rc = remote_get_tss(r, &j);
    if (!rc && !(*point = remote_unb64(json_string_value(json_object_get(j, "public_key")), len)))
        rc = engine_fail(TSE_ERR_INTERNAL, "the server's public_key is not base64");
    json_decref(j);
    return rc;
}

tse_err remote_export_csr(void *backend, char **pem)
{
    remote *r = backend;
    return get_text(r, "/csr", "csr", TSE_ERR_INTERNAL, pem);
}

tse_err remote_import_certificate(void *backend, const char *pem_chain)
{
    remote *r = backend;
    if (!pem_chain)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "pem_chain is required");
    char path[80];
    snprintf(path, sizeof path, "%s/certificate", TSS_PATH(r));
    json_t *body = json_pack("{s:s}", "certificate", pem_chain);
    tse_err rc = body ? http_call(r->h, "PUT", path, body, false, NULL) : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    json_decref(body);
    return rc;
}

tse_err remote_list_clients(void *backend, char ***ids, size_t *count)
{
    remote *r = backend;
    if (!ids || !count)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "ids and count are required");
    size_t n = 0, cap = 16;
    char **list = malloc(cap * sizeof *list);
    tse_err rc = list ? TSE_OK : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    for (size_t offset = 0; !rc;) {
        char path[128];
        snprintf(path, sizeof path, "%s/client?limit=100&offset=%zu", TSS_PATH(r), offset);
        json_t *j = NULL;
        rc = http_call(r->h, "GET", path, NULL, true, &j);
        json_t *data = json_object_get(j, "data");
        size_t got = json_array_size(data);
        for (size_t i = 0; !rc && i < got; i++) {
            json_t *c = json_array_get(data, i);
            const char *sn = json_string_value(json_object_get(c, "serial_number"));
            const char *st = json_string_value(json_object_get(c, "state"));
            if (!sn || !st || strcmp(st, "REGISTERED") != 0)
                continue;
            if (n == cap) {
                char **nl = realloc(list, 2 * cap * sizeof *list);
                if (!nl) {
                    rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
                    break;
                }
                list = nl;
                cap *= 2;
            }
            if (!(list[n] = strdup(sn)))
                rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
            else
                n++;
        }
        json_decref(j);
        if (got < 100)
            break;
        offset += got;
    }
    if (rc) {
        tse_free_strings(list, n);
        return rc;
    }
    *ids = list;
    *count = n;
    return TSE_OK;
}



