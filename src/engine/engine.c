/*
 * engine.c - the TSE handle: create, open, close and the self-test. Its
 * state as loaded from the store and its time are in state.c, the path
 * every log takes in log.c, status in status.c; users, administration and
 * transactions live in their own files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"

/* ------------------------------------------------------------ create */

static tse_err create_fail(tse_err code, const tse_error *err)
{
    return engine_fail(code, "%s", err->message);
}

tse_err engine_create(const char *path, const tse_create_options *o, char puk_out[TSE_PUK_LEN + 1])
{
    return engine_create_with_validity(path, o, 0, puk_out);
}

/* Where a new TSE goes: a file of its own (path) or TSE `name` of d. */
typedef struct create_target {
    const char *path;
    engine_db *d;
    const char *name;
    const char *admin_pin;   /* optional: set in the creation's commit */
} create_target;

static int target_open(const create_target *to, store **st, tse_error *err)
{
    return to->d ? store_tse_open(to->d, to->name, STORE_CREATE, st, err) : store_open(to->path, STORE_CREATE, st, err);
}

static tse_err create_at(const create_target *to, const tse_create_options *o, int64_t cert_validity_seconds,
                         char puk_out[TSE_PUK_LEN + 1]);

tse_err engine_create_with_validity(const char *path, const tse_create_options *o, int64_t cert_validity_seconds,
                                    char puk_out[TSE_PUK_LEN + 1])
{
    if (path && strncmp(path, "file:", 5) != 0 && strstr(path, "://"))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "unsupported URL scheme in '%s' (use file:PATH)", path);
    if (!path || !*path)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "path, options, master_key_path and puk_out are required");
    if (!strncmp(path, "file:", 5))
        path += 5;
    create_target to = {.path = path};
    return create_at(&to, o, cert_validity_seconds, puk_out);
}

tse_err engine_create_in(engine_db *d, const char *name, const tse_create_options *o, int64_t cert_validity_seconds,
                         const char *admin_pin, char puk_out[TSE_PUK_LEN + 1])
{
    if (!d || !name)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "a database and a name are required");
    if (admin_pin && !engine_valid_pin(admin_pin))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "the PIN must be %d..%d printable characters without spaces",
                           TSE_MIN_PIN_LEN, TSE_MAX_PIN_LEN);
    create_target to = {.d = d, .name = name, .admin_pin = admin_pin};
    return create_at(&to, o, cert_validity_seconds, puk_out);
}

/* The records' changes after the TSE's own `n` changes, in one array. */
static store_change *realloc_changes(store_change *recs, size_t n_recs, const store_change *own, size_t n)
{
    store_change *all = realloc(recs, (n + n_recs) * sizeof *all);
    if (!all) {
        free(recs);
        return NULL;
    }
    memmove(all + n, all, n_recs * sizeof *all);
    memcpy(all, own, n * sizeof *all);
    return all;
}

static tse_err create_at(const create_target *to, const tse_create_options *o, int64_t cert_validity_seconds,
                         char puk_out[TSE_PUK_LEN + 1])
{
    tse_error err = {0};
    if (!o || !o->master_key_path || !puk_out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "path, options, master_key_path and puk_out are required");
    if ((unsigned)o->curve > TSE_CURVE_BRAINPOOL_P512R1 || (unsigned)o->hash > TSE_HASH_SHA512 ||
        (unsigned)o->time_format > TSE_TIME_GENERALIZED)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "unknown curve, hash or time format");
    if (o->log_format_version && o->log_format_version != 2 && o->log_format_version != 3)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "log format version %d: 2 or 3 (0: 3)", o->log_format_version);
    const char *mdesc = o->manufacturer_description;
    if (mdesc && !engine_valid_text(mdesc, TSE_MAX_DESCRIPTION_LEN, false))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "manufacturer description must be 1..%d printable characters",
                           TSE_MAX_DESCRIPTION_LEN);
    tse_hash hash = o->hash ? o->hash : csp_default_hash(o->curve);

    uint8_t mk[CSP_MASTER_KEY_LEN];
    int rc = csp_master_key_load(o->master_key_path, mk, &err);
    if (rc != 0)
        return create_fail(rc, &err);

    csp_key *key = NULL;
    uint8_t *blob = NULL, point[ENGINE_MAX_POINT], serial[32];
    size_t blob_len = 0, point_len = 0;
    char *pem = NULL, serial_hex[65];
    uint8_t puk_rec[CSP_SECRET_HASH_LEN], pin_rec[CSP_SECRET_HASH_LEN];
    char puk[TSE_PUK_LEN + 1];
    store *st = NULL;
    tse_err res = TSE_OK;

    if ((rc = csp_key_generate(o->curve, &key, &err)) != 0 ||
        (rc = csp_key_public(key, point, sizeof point, &point_len, &err)) != 0) {
        res = create_fail(rc, &err);
        goto out;
    }
    csp_serial(point, point_len, serial);
    tse_hex(serial, 32, serial_hex);
    int64_t validity = cert_validity_seconds > 0 ? cert_validity_seconds
                       : (int64_t)(o->cert_validity_days ? o->cert_validity_days : 3650) * 86400;
    if ((rc = csp_key_seal(key, mk, serial, 32, &blob, &blob_len, &err)) != 0 ||
        (rc = csp_ca_issue(key, serial_hex, validity, &pem, &err)) != 0 ||
        (rc = csp_random_digits(puk, TSE_PUK_LEN)) != 0 ||
        (rc = csp_secret_hash(puk, puk_rec, &err)) != 0 ||
        (to->admin_pin && (rc = csp_secret_hash(to->admin_pin, pin_rec, &err)) != 0)) {
        res = create_fail(rc, &err);
        goto out;
    }
    if ((rc = target_open(to, &st, &err)) != 0) {
        res = create_fail(rc, &err);
        goto out;
    }

    char b_curve[24], b_hash[24], b_tf[24], b_mc[24], b_mt[24], b_tc[24], b_st[24], b_now[24], b_state[24],
        b_ver[24], b_lf[24];
    store_change ch[18];
    size_t n = 0;
    engine_meta_int(&ch[n++], META_VERSION, 1, b_ver);
    engine_meta_int(&ch[n++], META_CURVE, o->curve, b_curve);
    engine_meta_int(&ch[n++], META_HASH, hash, b_hash);
    engine_meta_int(&ch[n++], META_TIME_FORMAT, o->time_format, b_tf);
    engine_meta_int(&ch[n++], META_MAX_CLIENTS, o->max_clients ? o->max_clients : 10000, b_mc);
    engine_meta_int(&ch[n++], META_MAX_TX, o->max_open_transactions ? o->max_open_transactions : 10000, b_mt);
    engine_meta_int(&ch[n++], META_TRUST_CLOCK, o->trust_system_clock ? 1 : 0, b_tc);
    engine_meta_int(&ch[n++], META_SESSION_TIMEOUT, o->session_timeout_seconds ? o->session_timeout_seconds : 900,
                    b_st);
    engine_meta_int(&ch[n++], META_TIME_CREATION, engine_host_time(), b_now);
    engine_meta_int(&ch[n++], META_STATE, to->admin_pin ? TSE_STATE_UNINITIALIZED : TSE_STATE_CREATED, b_state);
    if (to->admin_pin)   /* retries are ENGINE_MAX_RETRIES while unset */
        ch[n++] = (store_change){.kind = STORE_PUT_META, .key = "pin." TSE_USER_ADMIN, .value = pin_rec,
                                 .value_len = sizeof pin_rec};
    engine_meta_int(&ch[n++], META_LOG_FORMAT, o->log_format_version ? o->log_format_version : 3, b_lf);
    ch[n++] = (store_change){.kind = STORE_PUT_META, .key = META_KEY, .value = blob, .value_len = blob_len};
    ch[n++] = (store_change){.kind = STORE_PUT_META, .key = META_POINT, .value = point, .value_len = point_len};
    ch[n++] = (store_change){.kind = STORE_PUT_META, .key = META_CERT, .value = pem, .value_len = strlen(pem)};
    ch[n++] = (store_change){.kind = STORE_PUT_META, .key = META_PUK, .value = puk_rec, .value_len = sizeof puk_rec};
    if (mdesc)
        ch[n++] = (store_change){.kind = STORE_PUT_META, .key = META_MANUFACTURER_DESC, .value = mdesc,
                                 .value_len = strlen(mdesc)};
    /* the caller's records about the new TSE commit with its state */
    void *hook_ctx = NULL;
    engine_record_fn hook = engine_take_hook(&hook_ctx);
    const engine_record *recs = NULL;
    size_t n_recs = 0;
    store_change *all = NULL;
    if (hook && (res = hook(hook_ctx, NULL, &recs, &n_recs)) == TSE_OK &&
        (res = engine_records_to_changes(recs, n_recs, &all)) == TSE_OK && n_recs &&
        !(all = realloc_changes(all, n_recs, ch, n)))
        res = engine_fail(TSE_ERR_NO_MEMORY, "no memory for the records of a new TSE");
    if (res != TSE_OK) {
        free(all);
        store_close(st);
        if (to->path)
            unlink(to->path);
        goto out;
    }
    store_batch b = {.changes = all ? all : ch, .n_changes = n + n_recs};
    rc = store_commit(st, &b, &err);
    free(all);
    if (rc != 0) {
        res = create_fail(rc == TSE_ERR_ALREADY_EXISTS ? rc : TSE_ERR_STORAGE_FAILURE, &err);
        store_close(st);
        if (to->path)
            unlink(to->path);
        goto out;
    }
    store_close(st);
    memcpy(puk_out, puk, sizeof puk);
out:
    OPENSSL_cleanse(mk, sizeof mk);
    OPENSSL_cleanse(puk, sizeof puk);
    OPENSSL_cleanse(pin_rec, sizeof pin_rec);
    csp_key_free(key);
    free(blob);
    free(pem);
    return res;
}

/* ------------------------------------------------------------ open */

static tse_err load_config(engine *t)
{
    uint8_t *v = NULL;
    size_t n = 0;
    t->curve = (tse_curve)engine_meta_read_int(t, META_CURVE, -1);
    t->hash = (tse_hash)engine_meta_read_int(t, META_HASH, 0);
    t->time_format = (tse_time_format)engine_meta_read_int(t, META_TIME_FORMAT, 0);
    t->max_clients = (uint32_t)engine_meta_read_int(t, META_MAX_CLIENTS, 10000);
    t->max_open_tx = (uint32_t)engine_meta_read_int(t, META_MAX_TX, 10000);
    t->trust_clock = engine_meta_read_int(t, META_TRUST_CLOCK, 0) != 0;
    t->session_timeout = (uint32_t)engine_meta_read_int(t, META_SESSION_TIMEOUT, 900);
    engine_meta_read_text(t, META_MANUFACTURER_DESC, t->manufacturer_description, sizeof t->manufacturer_description);
    if (t->load_rc)
        return t->load_rc;
    if ((unsigned)t->curve > TSE_CURVE_BRAINPOOL_P512R1 || !csp_sigalg_oid(t->hash))
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "the store holds no valid TSE configuration");
    if (engine_meta_read(t, META_POINT, &v, &n) != 0 || n > sizeof t->point) {
        free(v);
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "the store holds no public key");
    }
    memcpy(t->point, v, n);
    t->point_len = n;
    free(v);
    csp_serial(t->point, t->point_len, t->serial);
    if (engine_meta_read(t, META_CERT, &v, &n) != 0)
        return engine_fail(TSE_ERR_STORAGE_FAILURE, "the store holds no certificate");
    t->cert_pem = malloc(n + 1);
    if (!t->cert_pem) {
        free(v);
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for the certificate");
    }
    memcpy(t->cert_pem, v, n);
    t->cert_pem[n] = 0;
    free(v);
    tse_error err = {0};
    if (csp_chain_not_after(t->cert_pem, &t->cert_not_after, &err) != 0)
        t->cert_not_after = 0;
    engine_set_end_of_usage(t);
    if (engine_meta_read(t, META_PUK, &v, &n) == 0 && n == CSP_SECRET_HASH_LEN)
        memcpy(t->puk_rec, v, n);
    free(v);
    t->puk_failures = engine_meta_read_int(t, "puk.failures", 0);
    t->puk_until = engine_meta_read_int(t, "puk.until", 0);
    return t->load_rc;
}

static void load_key(engine *t, const char *master_key_path)
{
    uint8_t mk[CSP_MASTER_KEY_LEN], *blob = NULL;
    size_t blob_len = 0;
    tse_error err = {0};
    if (!master_key_path) {
        error_set(&t->key_error, TSE_ERR_KEY_UNAVAILABLE, "no master key file was given: the private key cannot be used");
        return;
    }
    if (csp_master_key_load(master_key_path, mk, &err) != 0) {
        error_copy(&t->key_error, &err);
        return;
    }
    if (engine_meta_read(t, META_KEY, &blob, &blob_len) != 0)
        error_set(&t->key_error, TSE_ERR_KEY_UNAVAILABLE, "the store holds no private key");
    else if (csp_key_unseal(blob, blob_len, mk, t->serial, 32, &t->key, &err) != 0)
        error_copy(&t->key_error, &err);
    OPENSSL_cleanse(mk, sizeof mk);
    free(blob);
}

/* Whether the stored log `msg` is log `counter` of this TSE, signed by its
 * key; why not in `why`. */
static bool stored_log_sound(engine *t, EVP_PKEY *pub, uint64_t counter, const uint8_t *msg, size_t len, char *why,
                             size_t cap)
{
    logmsg m;
    tse_error perr = {0}, err = {0};
    if (!logmsg_parse(msg, len, &m, &perr) || m.signature_counter != counter || m.serial_number.n != 32 ||
        memcmp(m.serial_number.p, t->serial, 32) != 0 ||
        csp_verify(pub, t->hash, m.signed_bytes.p, m.signed_bytes.n, m.signature.p, m.signature.n, &err) != 0) {
        snprintf(why, cap, "%.200s%.200s", perr.message, err.message);
        return false;
    }
    return true;
}

/* Sign/verify round trip, last stored log against the counter, certificate
 * against the key, and the stored log an earlier self-test found altered
 * (t->self_test_bad_log, from the safe state's record): the SMA stays in
 * its safe state until that log is sound again. Under mu. Fills
 * self_test_ok / self_test_error / self_test_bad_log. */
static void run_self_test(engine *t)
{
    tse_error err = {0};
    uint8_t probe[32], sig[TSE_MAX_SIGNATURE_LEN], *msg = NULL;
    size_t sig_len = 0, len = 0;
    uint64_t last = 0;
    EVP_PKEY *pub = NULL;
    char why[420];
    t->self_test_ok = false;
    t->self_test_time = engine_host_time();
    if (!t->key) {
        snprintf(t->self_test_error, sizeof t->self_test_error, "private key unavailable: %s", t->key_error.message);
        return;
    }
    pub = csp_pubkey_from_point(t->curve, t->point, t->point_len);
    if (!pub || csp_random_bytes(probe, sizeof probe) != 0 ||
        csp_sign(t->key, t->hash, probe, sizeof probe, sig, sizeof sig, &sig_len, &err) != 0 ||
        csp_verify(pub, t->hash, probe, sizeof probe, sig, sig_len, &err) != 0) {
        snprintf(t->self_test_error, sizeof t->self_test_error, "sign/verify round trip failed: %s", err.message);
        goto out;
    }
    if (csp_chain_check(t->cert_pem, t->point, t->point_len, &err) != 0) {
        snprintf(t->self_test_error, sizeof t->self_test_error, "certificate check failed: %s", err.message);
        goto out;
    }
    if (store_last_log(t->st, &last, &msg, &len, &err) != 0 || last != t->counter) {
        snprintf(t->self_test_error, sizeof t->self_test_error, "last stored log does not match the counter %llu",
                 (unsigned long long)t->counter);
        goto out;
    }
    if (msg && !stored_log_sound(t, pub, last, msg, len, why, sizeof why)) {
        snprintf(t->self_test_error, sizeof t->self_test_error, "the last stored log (counter %llu) does not verify: %s",
                 (unsigned long long)last, why);
        t->self_test_bad_log = last;
        goto out;
    }
    uint64_t bad = t->self_test_bad_log;
    if (bad && bad != last) {
        free(msg);
        msg = NULL;
        int got = store_get_log(t->st, bad, &msg, &len, &err);
        if (got == 0 && !stored_log_sound(t, pub, bad, msg, len, why, sizeof why)) {
            snprintf(t->self_test_error, sizeof t->self_test_error,
                     "the stored log (counter %llu) still does not verify: %s", (unsigned long long)bad, why);
            goto out;
        }
        if (got != 0 && got != TSE_ERR_NO_LOG_MESSAGE) {   /* deleted after its export: nothing to check */
            snprintf(t->self_test_error, sizeof t->self_test_error, "the stored log (counter %llu) cannot be read: %s",
                     (unsigned long long)bad, err.message);
            goto out;
        }
    }
    t->self_test_bad_log = 0;
    t->self_test_ok = true;
    t->self_test_error[0] = 0;
out:
    free(msg);
    EVP_PKEY_free(pub);
}

tse_err engine_self_test(engine *t)
{
    if (!t)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "no TSE handle");
    pthread_mutex_lock(&t->mu);
    /* TR-03153-1 v1.1.1 table 9: every role but the time admin */
    tse_err refused = engine_refuse_role(t, 1u << USER_TIME_ADMIN, "run a self-test");
    if (refused) {
        pthread_mutex_unlock(&t->mu);
        return refused;
    }
    engine_secure_state_load(t);
    run_self_test(t);
    /* a disabled secure element signs nothing more (TR-03151-1 3.3.6): the test runs, unlogged */
    bool logs = !t->recovery && t->state != TSE_STATE_DISABLED;
    bool ok = t->self_test_ok;
    char why[sizeof t->self_test_error];
    snprintf(why, sizeof why, "%s", t->self_test_error);
    pthread_mutex_unlock(&t->mu);
    /* startAudit (a TSE's first), the CSP's keyGenerated audit log (once),
     * selfTest, then the safe state's logs, each committed before the next
     * is made: a refused commit drains the store's queue, which must not
     * hold another log of this thread unsigned */
    tse_err rc = TSE_OK;
    for (int step = 0; logs && rc == TSE_OK && step < 5; step++) {
        engine_commit *c = NULL;
        pthread_mutex_lock(&t->mu);
        if (step == 0 && t->key && !t->self_tested)
            rc = engine_log_start_audit(t, &c);
        else if (step == 1 && t->key && !t->self_tested)
            rc = engine_log_key_generated(t, &c);
        else if (step == 2 && t->key)
            rc = engine_log_self_test(t, &c);
        else if (step >= 3)   /* a late enterSecureState, then exitSecureState */
            rc = engine_log_secure_state(t, &c);
        pthread_mutex_unlock(&t->mu);
        if (rc == TSE_OK)
            rc = engine_finish_commit(t, c);
    }
    if (rc == TSE_OK && !ok)
        rc = engine_fail(TSE_ERR_SELF_TEST_FAILED, "%s", why);
    return rc;
}

static tse_err open_at(const char *path, engine_db *d, const char *name, const tse_open_options *o, engine **out);

tse_err engine_open(const char *url, const tse_open_options *o, engine **out)
{
    if (!url || !*url || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "url and out are required");
    *out = NULL;
    const char *path = url;
    if (!strncmp(url, "file:", 5))
        path = url + 5;
    else if (strstr(url, "://"))
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "unsupported URL scheme in '%s' (use file:PATH)", url);
    /* file:PATH#NAME: TSE NAME of a deployment's database (opentsed stopped) */
    const char *hash = strchr(path, '#');
    if (!hash)
        return open_at(path, NULL, NULL, o, out);
    char *file = strndup(path, (size_t)(hash - path));
    if (!file)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    tse_err rc = open_at(file, NULL, hash + 1, o, out);
    free(file);
    return rc;
}

tse_err engine_open_in(engine_db *d, const char *name, const tse_open_options *o, engine **out)
{
    if (!d || !name || !out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "a database, a name and out are required");
    *out = NULL;
    return open_at(NULL, d, name, o, out);
}

static tse_err open_at(const char *path, engine_db *d, const char *name, const tse_open_options *o, engine **out)
{
    tse_error err = {0};
    engine *t = calloc(1, sizeof *t);
    if (!t)
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory for a TSE handle");
    pthread_mutex_init(&t->mu, NULL);
    int rc = d ? store_tse_open(d, name, 0, &t->st, &err) : store_open_tse(path, name ? name : "", 0, &t->st, &err);
    if (rc != 0) {
        pthread_mutex_destroy(&t->mu);
        free(t);
        return engine_fail(rc, "%s", err.message);
    }
    pthread_mutex_lock(&t->mu);
    tse_err res = load_config(t);
    if (res == TSE_OK)
        res = engine_reload(t);
    pthread_mutex_unlock(&t->mu);
    if (res == TSE_OK) {
        load_key(t, o ? o->master_key_path : NULL);
        t->recovery = o && o->recovery;
        t->time_set = t->trust_clock;
        t->time_base = 0;
        res = engine_self_test(t);
        /* A failed self-test is reported by status and refuses signing; opening still succeeds
         * so that the logs can be read and exported. */
        if (res == TSE_ERR_SELF_TEST_FAILED)
            res = TSE_OK;
        if (res == TSE_OK && t->self_test_ok)
            res = engine_log_outside_update(t);
    }
    if (res != TSE_OK) {
        engine_close(t); /* keeps this thread's error message */
        return res;
    }
    *out = t;
    return TSE_OK;
}

void engine_close(engine *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    store_close(t->st);
    t->st = NULL;
    csp_key_free(t->key);
    free(t->cert_pem);
    engine_free_lists(t);
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_destroy(&t->mu);
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
}
