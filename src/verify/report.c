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

size_t vr_limit(const verify_options *o)
{
    return (o && o->max_findings_per_code) ? o->max_findings_per_code : DEFAULT_MAX_PER_CODE;
}

verify_verdict verify_verdict_of(const verify_result *r)
{
    return r->errors ? VERIFY_BROKEN : r->warnings ? VERIFY_INCOMPLETE : VERIFY_INTACT;
}

const char *verify_verdict_text(verify_verdict v)
{
    switch (v) {
    case VERIFY_INTACT: return "intact and complete";
    case VERIFY_BROKEN: return "integrity broken";
    case VERIFY_INCOMPLETE: return "intact but incomplete or implausible";
    }
    return "?";
}

verify_verdict verify_verdict_worse(verify_verdict a, verify_verdict b)
{
    if (a == VERIFY_BROKEN || b == VERIFY_BROKEN)
        return VERIFY_BROKEN;
    return a == VERIFY_INCOMPLETE || b == VERIFY_INCOMPLETE ? VERIFY_INCOMPLETE : VERIFY_INTACT;
}

int vr_mark(verify_result *r, size_t tse, verify_mark_kind kind, uint64_t counter, int64_t time)
{
    if (vr_grow(&r->marks, &r->cap_marks, r->n_marks, sizeof *r->marks) != 0)
        return -1;
    r->marks[r->n_marks++] = (verify_mark){.tse = tse, .kind = kind, .counter = counter, .time = time};
    return 0;
}

int vr_add(verify_result *r, const verify_options *o, verify_severity sev, const char *code,
           const char *file, const char *fmt, ...)
{
    size_t limit = vr_limit(o);
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
    for (size_t i = 0; i < r->n_gaps; i++) {
        free(r->gaps[i].before.operation);
        free(r->gaps[i].before.client);
        free(r->gaps[i].after.operation);
        free(r->gaps[i].after.client);
    }
    free(r->gaps);
    free(r->marks);
    for (size_t i = 0; i < r->n_certs; i++) {
        free(r->certs[i].file);
        free(r->certs[i].subject);
    }
    free(r->certs);
    vfin_free(r);
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

/* "s" for a count of other than one: "1 log", "2 logs". */
static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

int verify_report_text(const verify_result *r, FILE *out, bool quiet)
{
    const verify_counts *c = &r->counts;
    char a[32], b[32];
    verify_verdict v = verify_verdict_of(r);
    fprintf(out, "%s: %s, %s (verdict %d: %zu error%s, %zu warning%s, %zu note%s)\n",
            r->source ? r->source : "?", v == VERIFY_INTACT ? "OK" : v == VERIFY_BROKEN ? "FAILED"
                                                                   : "INCOMPLETE",
            verify_verdict_text(v), (int)v, r->errors, plural(r->errors), r->warnings, plural(r->warnings),
            r->notes, plural(r->notes));
    if (!quiet && r->dsfinvk) {
        fprintf(out, "  DSFinV-K export: %zu rows of transactions_tse.csv held against the Finish "
                     "logs of the archives\n",
                r->dsfinvk_rows);
    } else if (!quiet && !(r->io_failed && !c->files && !c->logs)) { /* no counts of an archive never read */
        if (r->info_manufacturer)
            fprintf(out, "  info.csv: description \"%s\", manufacturer \"%s\", version \"%s\"\n",
                    r->info_description ? r->info_description : "",
                    r->info_manufacturer, r->info_version ? r->info_version : "");
        fprintf(out, "  %zu log%s (%zu transaction: %zu start, %zu update, %zu finish; "
                     "%zu system; %zu audit), %zu signature%s valid\n",
                c->logs, plural(c->logs), c->transaction_logs, c->starts, c->updates, c->finishes,
                c->system_logs, c->audit_logs, c->signatures_valid, plural(c->signatures_valid));
        if (c->format2_logs && c->format3_logs)
            fprintf(out, "  log formats: %zu of version 2, %zu of version 3\n", c->format2_logs, c->format3_logs);
        else if (c->logs)
            fprintf(out, "  log format: version %d\n", c->format3_logs ? 3 : 2);
        fprintf(out, "  %zu transaction%s (%zu open), %zu certificate%s, %zu file%s\n",
                c->transactions, plural(c->transactions), c->open_transactions, c->certificates,
                plural(c->certificates), c->files, plural(c->files));
        if (c->tses)
            fprintf(out, "  certificate chain: %s; revocation %s\n",
                    r->anchored ? "anchored in the given root"
                                : "consistent but not anchored (no matching --root)",
                    r->revocation_checked ? "checked against current CRLs" : "not checked");
        for (size_t i = 0; i < r->n_tses; i++) {
            const verify_tse *t = &r->tses[i];
            fprintf(out, "  TSE %s: %s, %zu log%s, counters %llu..%llu, %s .. %s%s\n",
                    t->serial_hex, t->signature_algorithm, t->logs, plural(t->logs),
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
    put(o, "format2_logs", json_integer((json_int_t)c->format2_logs), ok);
    put(o, "format3_logs", json_integer((json_int_t)c->format3_logs), ok);
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

static json_t *gap_log_json(const verify_gap_log *g, bool *ok)
{
    json_t *j = json_object();
    if (!j) {
        *ok = false;
        return NULL;
    }
    put(j, "counter", json_integer((json_int_t)g->counter), ok);
    put(j, "time", json_integer((json_int_t)g->time), ok);
    put(j, "kind", json_string(g->kind), ok);
    put(j, "operation", jstr(g->operation), ok);
    put(j, "transaction", g->client ? json_integer((json_int_t)g->transaction) : json_null(), ok);
    put(j, "client", str_or_null(g->client), ok);
    return j;
}

/* [{"tse", "first", "last", "count", "before", "after"}] */
static json_t *gaps_json(const verify_result *r, bool *ok)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < r->n_gaps; i++) {
        const verify_gap *g = &r->gaps[i];
        json_t *j = json_object();
        if (!j || json_array_append_new(a, j) != 0) {
            *ok = false;
            break;
        }
        put(j, "tse", json_string(g->tse < r->n_tses ? r->tses[g->tse].serial_hex : ""), ok);
        put(j, "first", json_integer((json_int_t)g->first), ok);
        put(j, "last", json_integer((json_int_t)g->last), ok);
        put(j, "count", json_integer((json_int_t)(g->last - g->first + 1)), ok);
        put(j, "before", gap_log_json(&g->before, ok), ok);
        put(j, "after", gap_log_json(&g->after, ok), ok);
    }
    return a;
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
    verify_verdict v = verify_verdict_of(r);
    put(o, "ok", json_boolean(v == VERIFY_INTACT), &ok);
    put(o, "verdict", json_integer((json_int_t)v), &ok);
    put(o, "verdict_text", json_string(verify_verdict_text(v)), &ok);
    put(o, "intact", json_boolean(r->errors == 0), &ok);
    put(o, "errors", json_integer((json_int_t)r->errors), &ok);
    put(o, "warnings", json_integer((json_int_t)r->warnings), &ok);
    put(o, "notes", json_integer((json_int_t)r->notes), &ok);
    put(o, "complete", json_boolean(!r->io_failed), &ok);
    put(o, "anchored", json_boolean(r->anchored), &ok);
    put(o, "revocation_checked", json_boolean(r->revocation_checked), &ok);
    put(o, "kind", json_string(r->dsfinvk ? "dsfinvk" : "archive"), &ok);
    if (r->dsfinvk)
        put(o, "rows", json_integer((json_int_t)r->dsfinvk_rows), &ok);
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
    put(o, "gaps", gaps_json(r, &ok), &ok);
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
