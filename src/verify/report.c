/*
 * report.c - findings of a verification and the two ways of showing them: a
 * human report and a JSON object (jansson).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "internal.h"

#define DEFAULT_MAX_PER_CODE 100

const char *verify_severity_name(verify_severity s)
{
    switch (s) {
    case VERIFY_ERROR: return "error";
    case VERIFY_WARNING: return "warning";
    case VERIFY_NOTE: return "note";
    }
    return "?";
}

int vr_grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    void *old, *grown;
    memcpy(&old, arr, sizeof old);   /* `arr` is the address of a T *, any T */
    size_t c = *cap ? 2 * *cap : 16;
    if (c >= SIZE_MAX / elem || !(grown = realloc(old, c * elem)))
        return -1;
    memcpy(arr, &grown, sizeof grown);
    *cap = c;
    return 0;
}

void vr_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

/* The tally of a code, created on first use. */
static verify_tally *tally(verify_result *r, const char *code)
{
    for (size_t i = 0; i < r->n_tallies; i++)
        if (strcmp(r->tallies[i].code, code) == 0)
            return &r->tallies[i];
    verify_tally *s = realloc(r->tallies, (r->n_tallies + 1) * sizeof *s);
    if (!s)
        return NULL;
    r->tallies = s;
    s = &r->tallies[r->n_tallies++];
    s->code = code;
    s->listed = 0;
    s->unlisted = 0;
    return s;
}

size_t verify_count(const verify_result *r, const char *code)
{
    for (size_t i = 0; i < r->n_tallies; i++)
        if (strcmp(r->tallies[i].code, code) == 0)
            return r->tallies[i].listed + r->tallies[i].unlisted;
    return 0;
}

int vr_add(verify_result *r, const verify_options *o, verify_severity sev, const char *code,
           const char *file, const char *fmt, ...)
{
    size_t limit = (o && o->max_findings_per_code) ? o->max_findings_per_code
                                                   : DEFAULT_MAX_PER_CODE;
    verify_tally *t = tally(r, code);
    if (!t)
        return -1;
    if (sev == VERIFY_ERROR)
        r->errors++;
    else if (sev == VERIFY_WARNING)
        r->warnings++;
    else
        r->notes++;
    if (t->listed >= limit) {
        t->unlisted++;
        return 0;
    }
    if (vr_grow(&r->findings, &r->cap_findings, r->n_findings, sizeof *r->findings) != 0)
        return -1;
    verify_finding *f = &r->findings[r->n_findings];
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&f->message, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    f->file = NULL;
    if (file && !(f->file = strdup(file))) {
        free(f->message);
        return -1;
    }
    /* Names and texts come from the archive: no control characters out. */
    for (char *p = f->message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    for (char *p = f->file; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    f->severity = sev;
    f->code = code;
    r->n_findings++;
    t->listed++;
    return 0;
}

void verify_result_free(verify_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_findings; i++) {
        free(r->findings[i].file);
        free(r->findings[i].message);
    }
    free(r->findings);
    free(r->tallies);
    free(r->tses);
    free(r->source);
    free(r->info_description);
    free(r->info_manufacturer);
    free(r->info_version);
    memset(r, 0, sizeof *r);
}

const char *vr_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%lld", (long long)t);
    return buf;
}

int verify_report_text(const verify_result *r, FILE *out, bool quiet)
{
    const verify_counts *c = &r->counts;
    char a[32], b[32];
    fprintf(out, "%s: %s (%zu errors, %zu warnings)\n", r->source ? r->source : "?",
            r->errors ? "FAILED" : "OK", r->errors, r->warnings);
    if (!quiet && !(r->io_failed && !c->files && !c->logs)) { /* no counts of an archive never read */
        if (r->info_manufacturer)
            fprintf(out, "  info.csv: description \"%s\", manufacturer \"%s\", version \"%s\"\n",
                    r->info_description ? r->info_description : "",
                    r->info_manufacturer, r->info_version ? r->info_version : "");
        fprintf(out, "  %zu logs (%zu transaction: %zu start, %zu update, %zu finish; "
                     "%zu system; %zu audit), %zu signatures valid\n",
                c->logs, c->transaction_logs, c->starts, c->updates, c->finishes,
                c->system_logs, c->audit_logs, c->signatures_valid);
        fprintf(out, "  %zu transactions (%zu open), %zu certificates, %zu files\n",
                c->transactions, c->open_transactions, c->certificates, c->files);
        for (size_t i = 0; i < r->n_tses; i++) {
            const verify_tse *t = &r->tses[i];
            fprintf(out, "  TSE %s: %s, %zu logs, counters %llu..%llu, %s .. %s%s\n",
                    t->serial_hex, t->signature_algorithm, t->logs,
                    (unsigned long long)t->first_counter, (unsigned long long)t->last_counter,
                    vr_time(t->first_time, a, sizeof a), vr_time(t->last_time, b, sizeof b),
                    t->has_certificate ? "" : ", NO CERTIFICATE");
        }
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        const verify_finding *f = &r->findings[i];
        if (quiet && f->severity != VERIFY_ERROR)
            continue;
        fprintf(out, "  %s %s: %s%s%s\n", verify_severity_name(f->severity), f->code,
                f->file ? f->file : "", f->file ? ": " : "", f->message);
    }
    for (size_t i = 0; i < r->n_tallies; i++)
        if (r->tallies[i].unlisted)
            fprintf(out, "  ... and %zu more %s findings not listed\n",
                    r->tallies[i].unlisted, r->tallies[i].code);
    return ferror(out) ? -1 : 0;
}

/* json_object_set_new that remembers a failure. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

/* A JSON string of text that may not be UTF-8 (names from an archive):
 * bytes that do not form UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *str_or_null(const char *s)
{
    return s ? jstr(s) : json_null();
}

static json_t *counts_json(const verify_counts *c, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "files", json_integer((json_int_t)c->files), ok);
    put(o, "logs", json_integer((json_int_t)c->logs), ok);
    put(o, "transaction_logs", json_integer((json_int_t)c->transaction_logs), ok);
    put(o, "system_logs", json_integer((json_int_t)c->system_logs), ok);
    put(o, "audit_logs", json_integer((json_int_t)c->audit_logs), ok);
    put(o, "starts", json_integer((json_int_t)c->starts), ok);
    put(o, "updates", json_integer((json_int_t)c->updates), ok);
    put(o, "finishes", json_integer((json_int_t)c->finishes), ok);
    put(o, "signatures_valid", json_integer((json_int_t)c->signatures_valid), ok);
    put(o, "transactions", json_integer((json_int_t)c->transactions), ok);
    put(o, "open_transactions", json_integer((json_int_t)c->open_transactions), ok);
    put(o, "certificates", json_integer((json_int_t)c->certificates), ok);
    put(o, "tses", json_integer((json_int_t)c->tses), ok);
    return o;
}

void *verify_report_json(const verify_result *r)
{
    bool ok = true;
    json_t *o = json_object(), *findings = json_array(), *tses = json_array(),
           *sup = json_object(), *info = json_null();
    if (r->info_manufacturer) {
        info = json_object();
        if (info) {
            put(info, "description", str_or_null(r->info_description), &ok);
            put(info, "manufacturer", str_or_null(r->info_manufacturer), &ok);
            put(info, "version", str_or_null(r->info_version), &ok);
        }
    }
    if (!o || !findings || !tses || !sup || !info) {
        json_decref(o);
        json_decref(findings);
        json_decref(tses);
        json_decref(sup);
        json_decref(info);
        return NULL;
    }
    put(o, "source", str_or_null(r->source), &ok);
    put(o, "ok", json_boolean(r->errors == 0), &ok);
    put(o, "errors", json_integer((json_int_t)r->errors), &ok);
    put(o, "warnings", json_integer((json_int_t)r->warnings), &ok);
    put(o, "notes", json_integer((json_int_t)r->notes), &ok);
    put(o, "complete", json_boolean(!r->io_failed), &ok);
    put(o, "counts", counts_json(&r->counts, &ok), &ok);
    put(o, "info", info, &ok);
    for (size_t i = 0; i < r->n_tses; i++) {
        const verify_tse *t = &r->tses[i];
        json_t *j = json_object();
        if (!j || json_array_append_new(tses, j) != 0) {
            ok = false;
            break;
        }
        put(j, "serial", json_string(t->serial_hex), &ok);
        put(j, "signature_algorithm", json_string(t->signature_algorithm), &ok);
        put(j, "has_certificate", json_boolean(t->has_certificate), &ok);
        put(j, "logs", json_integer((json_int_t)t->logs), &ok);
        put(j, "first_counter", json_integer((json_int_t)t->first_counter), &ok);
        put(j, "last_counter", json_integer((json_int_t)t->last_counter), &ok);
        put(j, "first_time", json_integer((json_int_t)t->first_time), &ok);
        put(j, "last_time", json_integer((json_int_t)t->last_time), &ok);
    }
    put(o, "tses", tses, &ok);
    for (size_t i = 0; i < r->n_findings; i++) {
        const verify_finding *f = &r->findings[i];
        json_t *j = json_object();
        if (!j || json_array_append_new(findings, j) != 0) {
            ok = false;
            break;
        }
        put(j, "severity", json_string(verify_severity_name(f->severity)), &ok);
        put(j, "code", json_string(f->code), &ok);
        put(j, "file", str_or_null(f->file), &ok);
        put(j, "message", jstr(f->message), &ok);
    }
    put(o, "findings", findings, &ok);
    json_t *codes = json_object();
    for (size_t i = 0; i < r->n_tallies; i++) {
        const verify_tally *t = &r->tallies[i];
        if (t->unlisted)
            put(sup, t->code, json_integer((json_int_t)t->unlisted), &ok);
        if (codes)
            put(codes, t->code, json_integer((json_int_t)(t->listed + t->unlisted)), &ok);
    }
    put(o, "unlisted", sup, &ok);
    put(o, "codes", codes, &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
