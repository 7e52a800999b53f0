/*
 * update.c - the device's components and TR-03151-1 v1.1.1 updateDevice.
 *
 * The components are the deployment's (export/device_info.c) with the
 * versions applied update packages recorded in the TSE's meta record
 * "updated_components" (CSV lines as the device information file's);
 * getComponentVersions, tse_get_device_info and info.csv all read them
 * from engine_components().
 *
 * An update package (docs/se-api.md "Update packages") is a manifest, its
 * first line "OpenTSE update package 2" followed by "sequence: N" (and
 * optionally "tse: SERIAL", the one TSE it is for), or "OpenTSE update
 * package 1" without them, then one CSV line per component
 * (component,manufacturer,model,version,certification-id), followed by a
 * PEM block "OPENTSE UPDATE SIGNATURE" holding the signature over every
 * byte before the block, made with the deployment's update key (the PEM
 * public key in the file OPENTSE_UPDATE_KEY names; SHA-256 with an EC or
 * RSA key, or Ed25519). OpenTSE is software installed by a package
 * manager: applying a package records the versions it names; it installs
 * nothing. Each attempt writes the updateDevice log (the components
 * before) and the updateDeviceCompleted log (the outcome, the reason of a
 * refusal, the components after). A TSE keeps the highest sequence number
 * it applied (meta "update_sequence") and refuses a package whose number is
 * not higher, and every package without one once it has applied one: a
 * signed package cannot be applied again, nor an older one after it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/encode.h"
#include "export/export.h"
#include "internal.h"

#define META_UPDATED_COMPONENTS "updated_components"
#define META_LOGGED_COMPONENTS "logged_components"   /* as the last updateDeviceCompleted log named them */
#define META_UPDATE_SEQUENCE "update_sequence"   /* the highest sequence applied */
#define UPDATE_MAGIC "OpenTSE update package 1"
#define UPDATE_MAGIC2 "OpenTSE update package 2"
#define UPDATE_PEM_NAME "OPENTSE UPDATE SIGNATURE"
#define UPDATE_BEGIN "-----BEGIN " UPDATE_PEM_NAME "-----"

/* The OpenSSL reason of the last failure, or `dflt`. */
static const char *ssl_reason(const char *dflt)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : dflt;
}

/* Components from CSV lines (the meta record or the manifest's lines after
 * the first); 0, or INVALID_ARGUMENT naming `what` and the line. */
static int parse_lines(const char *text, size_t len, const char *what, int first_no, export_device *out,
                       tse_error *err)
{
    *out = (export_device){0};
    char line[4 * EXPORT_VALUE_MAX];
    int no = first_no;
    for (size_t i = 0; i < len; no++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = (nl ? (size_t)(nl - text) : len) - i;
        if (n >= sizeof line)
            return error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s line %d is too long", what, no);
        memcpy(line, text + i, n);
        line[n] = 0;
        i += n + 1;
        if (n && line[n - 1] == '\r')
            line[--n] = 0;
        if (!n || line[0] == '#')
            continue;
        if (memchr(line, 0, n))
            return error_set(err, TSE_ERR_INVALID_ARGUMENT, "%s line %d holds a NUL byte", what, no);
        int rc = export_device_add_line(out, line, what, no, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* The components applied updates recorded (none: n == 0); under mu. */
static tse_err read_applied(engine *t, export_device *out)
{
    *out = (export_device){0};
    uint8_t *v = NULL;
    size_t n = 0;
    tse_err rc = engine_meta_read_now(t, META_UPDATED_COMPONENTS, &v, &n);
    if (rc == TSE_ERR_NOT_FOUND)
        return TSE_OK;
    tse_error err = {0};
    if (!rc && parse_lines((const char *)v, n, "of the applied updates", 1, out, &err) != 0)
        rc = engine_fail(TSE_ERR_STORAGE_FAILURE, "%s", err.message);
    free(v);
    return rc;
}

tse_err engine_components(engine *t, export_device *out)
{
    ENGINE_ASSERT_LOCKED(t);
    const export_device *dep = NULL;
    tse_error err = {0};
    if (export_device_get(&dep, &err) != 0)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "%s", err.message);
    *out = *dep;
    export_device *upd = malloc(sizeof *upd);
    tse_err rc = upd ? read_applied(t, upd) : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    if (!rc && export_device_merge(out, upd, &err) != 0)
        rc = engine_fail(TSE_ERR_STORAGE_FAILURE, "%s", err.message);
    free(upd);
    return rc;
}

/* The update key: the PEM public key in the file OPENTSE_UPDATE_KEY names. */
static EVP_PKEY *load_key(const char *path, char *why, size_t cap)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(why, cap, "the update key %s cannot be opened: %s", path, strerror(errno));
        return NULL;
    }
    ERR_clear_error();
    EVP_PKEY *k = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!k)
        snprintf(why, cap, "the update key %s is not a PEM public key (%s)", path, ssl_reason("unreadable"));
    return k;
}

tse_err engine_update_key_check(const char *path)
{
    char why[TSE_ERROR_MSGLEN];
    EVP_PKEY *k = load_key(path, why, sizeof why);
    EVP_PKEY_free(k);
    return k ? TSE_OK : engine_fail(TSE_ERR_INVALID_ARGUMENT, "%s", why);
}

/* Whether `sig` over `data` verifies with the key. */
static bool verify(EVP_PKEY *k, const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len)
{
    int id = EVP_PKEY_get_base_id(k);
    const EVP_MD *md = id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? NULL : EVP_sha256();
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c && EVP_DigestVerifyInit(c, NULL, md, NULL, k) == 1 &&
              EVP_DigestVerify(c, sig, sig_len, data, len) == 1;
    EVP_MD_CTX_free(c);
    return ok;
}

/* What a package names besides its components. */
typedef struct package_head {
    uint64_t sequence;               /* 0: a package of format 1, without one */
    bool has_tse;
    uint8_t tse[TSE_SERIAL_LEN];     /* the serial number of the one TSE it is for */
} package_head;

/* Format 2's header lines ("sequence: N", then optionally "tse: SERIAL")
 * from `p`; true and the offset of the first component line in *off, or
 * false and why. */
static bool parse_head(const char *p, size_t len, package_head *h, size_t *off, char *why, size_t cap)
{
    size_t at = 0;
    for (int line = 2; at < len; line++) {
        const char *nl = memchr(p + at, '\n', len - at);
        size_t n = (nl ? (size_t)(nl - p) : len) - at;
        char text[100];
        if (n >= sizeof text)
            n = sizeof text - 1;
        memcpy(text, p + at, n);
        text[n] = 0;
        if (n && text[n - 1] == '\r')
            text[--n] = 0;
        char *end = NULL;
        if (line == 2) {
            unsigned long long v = 0;
            if (strncmp(text, "sequence: ", 10) == 0 && text[10] >= '1' && text[10] <= '9') {
                errno = 0;
                v = strtoull(text + 10, &end, 10);
            }
            if (!v || !end || *end || errno == ERANGE || v > INT64_MAX) {
                snprintf(why, cap, "the update package is malformed: line 2 is not \"sequence: N\" (N from 1)");
                return false;
            }
            h->sequence = v;
        } else if (line == 3 && strncmp(text, "tse: ", 5) == 0) {
            if (strlen(text + 5) != 2 * TSE_SERIAL_LEN || hex_decode(h->tse, TSE_SERIAL_LEN, text + 5) != 0) {
                snprintf(why, cap, "the update package is malformed: line 3 is not \"tse: \" and 64 hex digits");
                return false;
            }
            h->has_tse = true;
        } else {
            break;
        }
        at += (nl ? (size_t)(nl - (p + at)) + 1 : len - at);
    }
    if (!h->sequence) {
        snprintf(why, cap, "the update package is malformed: line 2 is not \"sequence: N\" (N from 1)");
        return false;
    }
    *off = at;
    return true;
}

/* Checks a package: 0 and its components in *upd and what else it names in
 * *h, or -1 and why in `why`. */
static int check_package(const uint8_t *pkg, size_t len, export_device *upd, package_head *h, char *why, size_t cap)
{
    *h = (package_head){0};
    const char *path = getenv("OPENTSE_UPDATE_KEY");
    if (!path || !*path) {
        snprintf(why, cap, "no update key is configured (OPENTSE_UPDATE_KEY, opentsed --update-key)");
        return -1;
    }
    /* the signature block starts a line; everything before it is signed */
    size_t body = 0;
    const size_t bl = strlen(UPDATE_BEGIN);
    while (body + bl <= len && (memcmp(pkg + body, UPDATE_BEGIN, bl) != 0 || (body && pkg[body - 1] != '\n')))
        body++;
    if (body + bl > len) {
        snprintf(why, cap, "the update package is malformed: no \"%s\" line", UPDATE_BEGIN);
        return -1;
    }
    char *name = NULL, *header = NULL;
    unsigned char *sig = NULL;
    long sig_len = 0;
    ERR_clear_error();
    BIO *b = BIO_new_mem_buf(pkg + body, (int)(len - body));
    int pem = b && PEM_read_bio(b, &name, &header, &sig, &sig_len) == 1 && strcmp(name, UPDATE_PEM_NAME) == 0;
    char rest[256];
    for (int got; pem && (got = BIO_read(b, rest, sizeof rest)) > 0;)   /* only line ends may follow */
        for (int i = 0; i < got; i++)
            if (rest[i] != '\n' && rest[i] != '\r' && rest[i] != ' ')
                pem = 0;
    BIO_free(b);
    OPENSSL_free(name);
    OPENSSL_free(header);
    int rc = -1;
    EVP_PKEY *k = NULL;
    tse_error err = {0};
    if (!pem)
        snprintf(why, cap, "the update package is malformed: its signature block is not one PEM block");
    else if (!(k = load_key(path, why, cap)))
        ;
    else if (!verify(k, pkg, body, sig, (size_t)sig_len))
        snprintf(why, cap, "the signature of the update package was not made with the update key");
    else {
        const size_t ml = strlen(UPDATE_MAGIC) + 1;   /* both magics are as long */
        bool v2 = body >= ml && memcmp(pkg, UPDATE_MAGIC2 "\n", ml) == 0;
        const char *lines = (const char *)pkg + ml;
        size_t head = 0;
        if (!v2 && (body < ml || memcmp(pkg, UPDATE_MAGIC "\n", ml) != 0))
            snprintf(why, cap, "the update package is malformed: its first line is not \"%s\" or \"%s\"",
                     UPDATE_MAGIC2, UPDATE_MAGIC);
        else if (v2 && !parse_head(lines, body - ml, h, &head, why, cap))
            ;   /* why is set */
        else if (parse_lines(lines + head, body - ml - head, "of the update package", 2 + (h->has_tse ? 2 : h->sequence ? 1 : 0),
                             upd, &err) != 0)
            snprintf(why, cap, "the update package is malformed: %.200s", err.message);
        else if (!upd->n)
            snprintf(why, cap, "the update package is malformed: it names no component");
        else
            rc = 0;
    }
    EVP_PKEY_free(k);
    OPENSSL_free(sig);
    return rc;
}

/* The components as the logs carry them: PrintableString copies. */
typedef struct printable_set {
    char v[EXPORT_MAX_COMPONENTS][EXPORT_COMPONENT_FIELDS][EXPORT_VALUE_MAX];
    logmsg_component c[EXPORT_MAX_COMPONENTS];
    size_t n;
} printable_set;

static void printable(const export_device *d, printable_set *p)
{
    p->n = (size_t)d->n;
    for (int i = 0; i < d->n; i++) {
        for (int f = 0; f < EXPORT_COMPONENT_FIELDS; f++)
            logmsg_printable_copy(p->v[i][f], EXPORT_VALUE_MAX, d->c[i].v[f]);
        p->c[i] = (logmsg_component){p->v[i][0], p->v[i][1], p->v[i][2], p->v[i][3], p->v[i][4]};
    }
}

/* Under mu: the two logs of an attempt; on success the meta record of the
 * applied versions commits with the second. */
static tse_err log_attempt(engine *t, const export_device *before, const export_device *upd, uint64_t sequence,
                           char *why_buf, size_t cap, bool *refused, engine_commit **first, engine_commit **second)
{
    const char *why = *refused ? why_buf : NULL;
    printable_set *pb = malloc(sizeof *pb), *pa = malloc(sizeof *pa);
    export_device *after = malloc(sizeof *after), *applied = malloc(sizeof *applied);
    char *csv = NULL;
    tse_err rc = pb && pa && after && applied ? TSE_OK : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    tse_error err = {0};
    store_change ch = {.kind = STORE_PUT_META, .key = META_UPDATED_COMPONENTS};
    if (!rc) {
        *after = *before;
        if (!why && export_device_merge(after, upd, &err) != 0) {   /* more components than a device holds */
            snprintf(why_buf, cap, "the update package is malformed: %.200s", err.message);
            why = why_buf;
            *refused = true;
        }
    }
    if (!rc && !why) {   /* the record: the earlier updates with this one */
        rc = read_applied(t, applied);
        if (!rc && export_device_merge(applied, upd, &err) != 0)
            rc = engine_fail(TSE_ERR_STORAGE_FAILURE, "%s", err.message);
        size_t need = rc ? 0 : export_device_csv(applied, NULL, 0);
        if (!rc && !(csv = malloc(need)))
            rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
        if (!rc) {
            export_device_csv(applied, csv, need);
            ch.value = csv;
            ch.value_len = need;
        }
    }
    if (!rc) {
        printable(before, pb);
        printable(why ? before : after, pa);
        engine_event ev = {.kind = EV_UPDATE_DEVICE, .components = pb->c, .n_components = pb->n,
                           .roles = 1u << USER_ADMIN};
        rc = engine_event_log(t, &ev, NULL, 0, first);
    }
    char reason[TSE_ERROR_MSGLEN];
    logmsg_printable_copy(reason, sizeof reason, why);
    if (!rc) {
        engine_event ev = {.kind = EV_UPDATE_DEVICE_COMPLETED, .success = !why, .text = why ? reason : NULL,
                           .components = pa->c, .n_components = pa->n, .roles = 1u << USER_ADMIN};
        char *logged = NULL;
        size_t need = why ? 0 : export_device_csv(after, NULL, 0);
        char seq[24];
        store_change chs[3] = {ch, {.kind = STORE_PUT_META, .key = META_LOGGED_COMPONENTS}};
        engine_meta_int(&chs[2], META_UPDATE_SEQUENCE, (int64_t)sequence, seq);
        if (!why && !(logged = malloc(need)))
            rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
        if (!rc && logged) {
            export_device_csv(after, logged, need);
            chs[1].value = logged;
            chs[1].value_len = need;
        }
        if (!rc)
            rc = engine_event_log(t, &ev, why ? NULL : chs, why ? 0 : sequence ? 3 : 2, second);
        free(logged);
    }
    free(csv);
    free(applied);
    free(after);
    free(pa);
    free(pb);
    return rc;
}

/* Under mu: whether this TSE may apply a package naming `h` (0), or why
 * not (-1, `why`); the store failing: its error in *rc. */
static int check_sequence(engine *t, const package_head *h, char *why, size_t cap, tse_err *rc)
{
    char mine[2 * TSE_SERIAL_LEN + 1], theirs[2 * TSE_SERIAL_LEN + 1];
    if (h->has_tse && memcmp(h->tse, t->serial, TSE_SERIAL_LEN) != 0) {
        hex_encode(mine, sizeof mine, t->serial, TSE_SERIAL_LEN);
        hex_encode(theirs, sizeof theirs, h->tse, TSE_SERIAL_LEN);
        snprintf(why, cap, "the update package is for the TSE %.16s..., not for this one (%.16s...)", theirs, mine);
        return -1;
    }
    uint8_t *v = NULL;
    size_t n = 0;
    tse_err found = engine_meta_read_now(t, META_UPDATE_SEQUENCE, &v, &n);
    char text[24] = "0";
    if (found == TSE_OK)
        snprintf(text, sizeof text, "%.*s", (int)(n < 20 ? n : 20), (const char *)v);
    free(v);
    if (found != TSE_OK && found != TSE_ERR_NOT_FOUND) {
        *rc = found;
        return -1;
    }
    unsigned long long last = strtoull(text, NULL, 10);
    if (!h->sequence && last) {
        snprintf(why, cap, "the update package has no sequence number, and this TSE applied the one of sequence %llu: "
                           "an older package could be applied again", last);
        return -1;
    }
    if (h->sequence && h->sequence <= last) {
        snprintf(why, cap, "the update package's sequence %llu is not above %llu, the last this TSE applied: "
                           "it was applied already or is older", (unsigned long long)h->sequence, last);
        return -1;
    }
    return 0;
}

tse_err engine_update_device(engine *t, const uint8_t *package, size_t len)
{
    if (!t || !package || !len)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "%s", !t ? "no TSE handle" : "the update package is empty");
    if (len > TSE_MAX_UPDATE_PACKAGE)
        return engine_fail(TSE_ERR_TOO_LARGE, "the update package is larger than %d bytes", TSE_MAX_UPDATE_PACKAGE);
    export_device *upd = malloc(sizeof *upd), *before = malloc(sizeof *before);
    if (!upd || !before) {
        free(upd);
        free(before);
        return engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    }
    char why[TSE_ERROR_MSGLEN] = "";
    package_head head;
    bool refused = check_package(package, len, upd, &head, why, sizeof why) != 0;   /* before the lock: file and CPU */

    engine_commit *timeout = NULL, *first = NULL, *second = NULL;
    int version = 0;
    pthread_mutex_lock(&t->mu);
    tse_err rc = engine_require_signing(t);
    if (!rc)
        rc = engine_log_format(t, &version);
    if (!rc && version == LOGMSG_VERSION_2)
        rc = engine_fail(TSE_ERR_NOT_SUPPORTED, "a TSE of log format 2 (TR-03151 v1.0.1) has no updateDevice");
    if (!rc && t->n_txs)
        rc = engine_fail(TSE_ERR_OPEN_TRANSACTION_FOUND, "%zu transactions are open (e.g. %llu); finish them first",
                         t->n_txs, (unsigned long long)t->txs[0].number);
    if (!rc && !t->time_set)
        rc = engine_fail(TSE_ERR_TIME_NOT_SET, "set the time with tse_update_time first");
    if (!rc)
        rc = engine_require_role(t, 1u << USER_ADMIN, &timeout);
    if (!rc)
        rc = engine_components(t, before);
    if (!rc && !refused)
        refused = check_sequence(t, &head, why, sizeof why, &rc) != 0;
    if (!rc)
        rc = log_attempt(t, before, upd, refused ? 0 : head.sequence, why, sizeof why, &refused, &first, &second);
    pthread_mutex_unlock(&t->mu);
    rc = engine_finish_after_timeout(t, timeout, rc, first);
    tse_err fin = engine_finish_commit(t, second);
    if (!rc)
        rc = fin;
    free(upd);
    free(before);
    if (!rc && refused)
        rc = engine_fail(TSE_ERR_UPDATE_DEVICE_FAILED, "%s", why);
    return rc;
}

/* TR-03153-1 v1.1.1 9.10: an update made outside updateDevice (a new
 * release installed by the package manager, another device list of the
 * deployment) gets its updateDeviceCompleted log, made by the TSE itself,
 * at the first opening after it. The components a log last named are kept
 * in the meta record "logged_components"; a TSE without one yet (made by an
 * earlier release, or just initialized) records them without a log. Only
 * an initialized TSE of log format 3 whose time is set and whose key is
 * there logs. */
tse_err engine_log_outside_update(engine *t)
{
    export_device *now = malloc(sizeof *now);
    printable_set *pa = malloc(sizeof *pa);
    char *csv = NULL;
    uint8_t *was = NULL;
    size_t was_len = 0;
    engine_commit *ticket = NULL;
    int version = 0;
    tse_err rc = now && pa ? TSE_OK : engine_fail(TSE_ERR_NO_MEMORY, "no memory");
    pthread_mutex_lock(&t->mu);
    if (rc || engine_log_format(t, &version) || version != LOGMSG_VERSION_3 || t->state != TSE_STATE_INITIALIZED ||
        !t->time_set || !t->key)
        goto out;
    if ((rc = engine_components(t, now)))
        goto out;
    size_t need = export_device_csv(now, NULL, 0);
    if (!(csv = malloc(need))) {
        rc = engine_fail(TSE_ERR_NO_MEMORY, "no memory");
        goto out;
    }
    export_device_csv(now, csv, need);
    tse_err found = engine_meta_read_now(t, META_LOGGED_COMPONENTS, &was, &was_len);
    if (found && found != TSE_ERR_NOT_FOUND) {
        rc = found;
        goto out;
    }
    store_change ch = {.kind = STORE_PUT_META, .key = META_LOGGED_COMPONENTS, .value = csv, .value_len = need};
    if (found == TSE_ERR_NOT_FOUND) {
        rc = engine_submit_state(t, &ch, 1, &ticket);
    } else if (was_len != need || memcmp(was, csv, need) != 0) {
        printable(now, pa);
        engine_event ev = {.kind = EV_UPDATE_DEVICE_COMPLETED, .success = true, .components = pa->c,
                           .n_components = pa->n, .by_tse = true};
        rc = engine_event_log(t, &ev, &ch, 1, &ticket);
    }
out:
    pthread_mutex_unlock(&t->mu);
    if (!rc)
        rc = engine_finish_commit(t, ticket);
    free(was);
    free(csv);
    free(pa);
    free(now);
    return rc;
}
