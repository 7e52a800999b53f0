/*
 * html.c - the report people look at: one self-contained HTML page (inline
 * CSS and SVG, nothing fetched) for the results of several inputs. Per input
 * the verdict, per TSE a timeline of signature counter over time with the
 * counter gaps, times set back and open transactions marked, the
 * certificates with validity bars and the span of the logs signed under
 * each, the gaps and the findings as tables. Every text from an archive is
 * escaped.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define CHART_W 900
#define CHART_H 280
#define PAD_L 80
#define PAD_R 20
#define PAD_T 16
#define PAD_B 44

static void esc(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

static const char *verdict_class(verify_verdict v)
{
    return v == VERIFY_INTACT ? "v0" : v == VERIFY_BROKEN ? "v1" : "v3";
}

static const char style[] =
    "body{font:14px/1.4 sans-serif;margin:24px;color:#222;max-width:1000px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:32px}h3{font-size:15px}"
    ".verdict{padding:12px 16px;border-radius:6px;font-weight:bold;font-size:17px;margin:8px 0}"
    ".v0{background:#2e7d32;color:#fff}.v3{background:#f0ad4e;color:#000}"
    ".v1{background:#c62828;color:#fff}"
    "table{border-collapse:collapse;width:100%;margin:8px 0}"
    "td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}"
    "th{background:#eee}.sev-error td:first-child{color:#c62828;font-weight:bold}"
    ".sev-warning td:first-child{color:#b26a00;font-weight:bold}.sev-note td:first-child{color:#555}"
    "svg{background:#fafafa;border:1px solid #ddd}.legend span{margin-right:16px}"
    ".sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}"
    "code{font-size:12px;word-break:break-all}";

/* Linear map of v in [a, b] onto [lo, hi]. */
static double scale(double v, double a, double b, double lo, double hi)
{
    return b > a ? lo + (v - a) * (hi - lo) / (b - a) : (lo + hi) / 2;
}

typedef struct frame {
    int64_t t0, t1;
    uint64_t c0, c1;
} frame;

static double fx(const frame *f, int64_t t)
{
    return scale((double)t, (double)f->t0, (double)f->t1, PAD_L, CHART_W - PAD_R);
}

static double fy(const frame *f, uint64_t c)
{
    return scale((double)c, (double)f->c0, (double)f->c1, CHART_H - PAD_B, PAD_T);
}

static void widen(frame *f, uint64_t c, int64_t t)
{
    if (t < f->t0)
        f->t0 = t;
    if (t > f->t1)
        f->t1 = t;
    if (c < f->c0)
        f->c0 = c;
    if (c > f->c1)
        f->c1 = c;
}

/* The timeline of TSE `k`: counter over time, gaps, set-backs, open starts. */
static void timeline(const verify_result *r, size_t k, FILE *out)
{
    const verify_tse *t = &r->tses[k];
    frame f = {t->first_time, t->last_time, t->first_counter, t->last_counter};
    for (size_t i = 0; i < r->n_marks; i++)
        if (r->marks[i].tse == k)
            widen(&f, r->marks[i].counter, r->marks[i].time);
    char a[32], b[32];
    fprintf(out, "<svg class=\"timeline\" data-tse=\"%s\" width=\"%d\" height=\"%d\" "
                 "viewBox=\"0 0 %d %d\" role=\"img\">",
            t->serial_hex, CHART_W, CHART_H, CHART_W, CHART_H);
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>"
                 "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>",
            PAD_L, CHART_H - PAD_B, CHART_W - PAD_R, CHART_H - PAD_B, PAD_L, PAD_T, PAD_L,
            CHART_H - PAD_B);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>"
                 "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%s</text>"
                 "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%llu</text>"
                 "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%llu</text>"
                 "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">log time (UTC)"
                 "</text><text x=\"14\" y=\"%d\" font-size=\"11\" transform=\"rotate(-90 14 %d)\" "
                 "text-anchor=\"middle\">signature counter</text>",
            PAD_L, CHART_H - PAD_B + 16, vr_time(f.t0, a, sizeof a), CHART_W - PAD_R,
            CHART_H - PAD_B + 16, vr_time(f.t1, b, sizeof b), PAD_L - 6, CHART_H - PAD_B,
            (unsigned long long)f.c0, PAD_L - 6, PAD_T + 10, (unsigned long long)f.c1,
            (PAD_L + CHART_W - PAD_R) / 2, CHART_H - 8, CHART_H / 2, CHART_H / 2);
    fputs("<polyline class=\"counter-line\" fill=\"none\" stroke=\"#444\" stroke-width=\"1.5\" "
          "points=\"", out);
    for (size_t i = 0; i < r->n_marks; i++) {
        const verify_mark *m = &r->marks[i];
        if (m->tse == k && m->kind == VERIFY_MARK_SAMPLE)
            fprintf(out, "%.1f,%.1f ", fx(&f, m->time), fy(&f, m->counter));
    }
    fputs("\"/>", out);
    for (size_t i = 0; i < r->n_gaps; i++) {
        const verify_gap *g = &r->gaps[i];
        if (g->tse != k)
            continue;
        double x0 = fx(&f, g->before.time), x1 = fx(&f, g->after.time);
        double y0 = fy(&f, g->last), y1 = fy(&f, g->first);
        double w = x1 - x0 < 8 ? 8 : x1 - x0, h = y1 - y0 < 8 ? 8 : y1 - y0;
        fprintf(out, "<rect class=\"gap\" data-first=\"%llu\" data-last=\"%llu\" x=\"%.1f\" "
                     "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#d62728\">"
                     "<title>signature counters %llu..%llu missing</title></rect>",
                (unsigned long long)g->first, (unsigned long long)g->last,
                x1 - x0 < 8 ? x0 - 4 : x0, y1 - y0 < 8 ? y0 - 4 : y0, w, h,
                (unsigned long long)g->first, (unsigned long long)g->last);
    }
    for (size_t i = 0; i < r->n_marks; i++) {
        const verify_mark *m = &r->marks[i];
        if (m->tse != k || m->kind == VERIFY_MARK_SAMPLE)
            continue;
        double x = fx(&f, m->time), y = fy(&f, m->counter);
        if (m->kind == VERIFY_MARK_SET_BACK)
            fprintf(out, "<polygon class=\"set-back\" data-counter=\"%llu\" fill=\"#ff7f0e\" "
                         "points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"><title>time set back at "
                         "counter %llu</title></polygon>",
                    (unsigned long long)m->counter, x, y - 7, x - 7, y + 6, x + 7, y + 6,
                    (unsigned long long)m->counter);
        else
            fprintf(out, "<circle class=\"open\" data-counter=\"%llu\" cx=\"%.1f\" cy=\"%.1f\" "
                         "r=\"5\" fill=\"#1f77b4\"><title>transaction open since counter %llu"
                         "</title></circle>",
                    (unsigned long long)m->counter, x, y, (unsigned long long)m->counter);
    }
    fputs("</svg>\n", out);
}

/* Validity bars of the certificates on one time axis, with the span of
 * the logs signed under each. */
static void cert_bars(const verify_result *r, FILE *out)
{
    if (!r->n_certs)
        return;
    frame f = {INT64_MAX, INT64_MIN, 0, 1};
    for (size_t i = 0; i < r->n_certs; i++) {
        const verify_cert *c = &r->certs[i];
        if (c->has_validity) {
            widen(&f, 0, c->not_before);
            widen(&f, 0, c->not_after);
        }
        if (c->used) {
            widen(&f, 0, c->use_min);
            widen(&f, 0, c->use_max);
        }
    }
    if (f.t0 > f.t1)
        f.t0 = f.t1 = 0;
    int row = 34, h = (int)r->n_certs * row + 30;
    char a[32], b[32];
    fprintf(out, "<svg class=\"certs\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">",
            CHART_W, h, CHART_W, h);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text><text x=\"%d\" y=\"%d\" "
                 "font-size=\"11\" text-anchor=\"end\">%s</text>",
            PAD_L, h - 8, vr_time(f.t0, a, sizeof a), CHART_W - PAD_R, h - 8,
            vr_time(f.t1, b, sizeof b));
    for (size_t i = 0; i < r->n_certs; i++) {
        const verify_cert *c = &r->certs[i];
        int y = (int)i * row + 6;
        fprintf(out, "<g class=\"cert\" data-file=\"");
        esc(out, c->file);
        fprintf(out, "\"><text x=\"4\" y=\"%d\" font-size=\"11\">", y + 10);
        esc(out, c->given_root ? "given root" : c->signs_logs ? "TSE" : c->in_chain ? "CA" : "unused");
        fputs("</text>", out);
        if (c->has_validity) {
            double x0 = fx(&f, c->not_before), x1 = fx(&f, c->not_after);
            fprintf(out, "<rect class=\"validity\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" "
                         "fill=\"#9ecae1\"><title>valid %s..%s</title></rect>",
                    x0, y, x1 - x0 < 1 ? 1 : x1 - x0, vr_time(c->not_before, a, sizeof a),
                    vr_time(c->not_after, b, sizeof b));
        }
        if (c->used) {
            double x0 = fx(&f, c->use_min), x1 = fx(&f, c->use_max);
            bool outside = c->has_validity &&
                           (c->use_min < c->not_before || c->use_max > c->not_after);
            fprintf(out, "<rect class=\"use%s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"6\" "
                         "fill=\"%s\"><title>logs signed %s..%s</title></rect>",
                    outside ? " outside" : "", x0 - (x1 - x0 < 3 ? 1.5 : 0), y + 4,
                    x1 - x0 < 3 ? 3 : x1 - x0, outside ? "#c62828" : "#08519c",
                    vr_time(c->use_min, a, sizeof a), vr_time(c->use_max, b, sizeof b));
        }
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#555\">", PAD_L, y + 26);
        esc(out, c->file);
        if (c->subject) {
            fputs(" ", out);
            esc(out, c->subject);
        }
        fputs("</text></g>", out);
    }
    fputs("</svg>\n<div class=\"legend\"><span><i class=\"sw\" style=\"background:#9ecae1\"></i>"
          "validity</span><span><i class=\"sw\" style=\"background:#08519c\"></i>logs signed"
          "</span><span><i class=\"sw\" style=\"background:#c62828\"></i>logs outside the "
          "validity</span></div>\n", out);
}

static void gap_log(const verify_gap_log *g, FILE *out)
{
    char t[32];
    fprintf(out, "<td>%llu: %s ", (unsigned long long)g->counter, g->kind);
    esc(out, g->operation);
    if (g->client) {
        fprintf(out, ", transaction %llu, client ", (unsigned long long)g->transaction);
        esc(out, g->client);
    }
    fprintf(out, ", %s</td>", vr_time(g->time, t, sizeof t));
}

/* Every finding as a table row, then what was only counted. */
static void findings_table(const verify_result *r, FILE *out)
{
    fputs("<h3>Findings</h3><table class=\"findings\"><tr><th>severity</th><th>code</th>"
          "<th>file</th><th>message</th></tr>\n", out);
    for (size_t i = 0; i < r->n_findings; i++) {
        const verify_finding *f = &r->findings[i];
        const char *sev = verify_severity_name(f->severity);
        fprintf(out, "<tr class=\"finding sev-%s\" data-code=\"%s\"><td>%s</td><td>%s</td><td>",
                sev, f->code, sev, f->code);
        esc(out, f->file);
        fputs("</td><td>", out);
        esc(out, f->message);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
    for (size_t i = 0; i < r->n_tallies; i++)
        if (r->tallies[i].unlisted)
            fprintf(out, "<p class=\"unlisted\">... and %zu more %s findings not listed</p>\n",
                    r->tallies[i].unlisted, r->tallies[i].code);
}

static void one(const verify_result *r, size_t idx, FILE *out)
{
    verify_verdict v = verify_verdict_of(r);
    fprintf(out, "<section class=\"result\" id=\"result-%zu\"><h2>", idx);
    esc(out, r->source);
    fprintf(out, "</h2>\n<div class=\"verdict %s\" data-verdict=\"%d\">Verdict %d: %s</div>\n",
            verdict_class(v), (int)v, (int)v, verify_verdict_text(v));
    const verify_counts *c = &r->counts;
    if (r->dsfinvk) {
        fprintf(out, "<p class=\"summary\">DSFinV-K export: %zu rows of transactions_tse.csv held "
                     "against the Finish logs of the archives; %zu errors, %zu warnings.</p>\n",
                r->dsfinvk_rows, r->errors, r->warnings);
        findings_table(r, out);
        fputs("</section>\n", out);
        return;
    }
    fprintf(out, "<p class=\"summary\">%zu logs, %zu signatures valid, %zu transactions (%zu "
                 "open), %zu certificates; %zu errors, %zu warnings, %zu notes. Certificate "
                 "chain: %s; revocation %s.</p>\n",
            c->logs, c->signatures_valid, c->transactions, c->open_transactions, c->certificates,
            r->errors, r->warnings, r->notes,
            r->anchored ? "anchored in the given root" : "consistent but not anchored",
            r->revocation_checked ? "checked against current CRLs" : "not checked");
    if (r->info_manufacturer) {
        fputs("<p class=\"info\">info.csv: ", out);
        esc(out, r->info_description);
        fputs(" &middot; ", out);
        esc(out, r->info_manufacturer);
        fputs(" &middot; version ", out);
        esc(out, r->info_version);
        fputs("</p>\n", out);
    }
    for (size_t k = 0; k < r->n_tses; k++) {
        const verify_tse *t = &r->tses[k];
        fprintf(out, "<h3>TSE <code>%s</code></h3><p>%s, %zu logs, counters %llu..%llu%s</p>\n",
                t->serial_hex, t->signature_algorithm, t->logs,
                (unsigned long long)t->first_counter, (unsigned long long)t->last_counter,
                t->has_certificate ? "" : ", no certificate");
        timeline(r, k, out);
    }
    fputs("<div class=\"legend\"><span><i class=\"sw\" style=\"background:#444\"></i>counter "
          "over time</span><span><i class=\"sw\" style=\"background:#d62728\"></i>counter gap"
          "</span><span><i class=\"sw\" style=\"background:#ff7f0e\"></i>time set back</span>"
          "<span><i class=\"sw\" style=\"background:#1f77b4\"></i>open transaction</span></div>\n",
          out);
    fputs("<h3>Certificates</h3>\n", out);
    cert_bars(r, out);
    if (r->n_gaps) {
        fputs("<h3>Counter gaps</h3><table class=\"gaps\"><tr><th>missing</th><th>count</th>"
              "<th>log before</th><th>log after</th></tr>\n", out);
        for (size_t i = 0; i < r->n_gaps; i++) {
            const verify_gap *g = &r->gaps[i];
            fprintf(out, "<tr class=\"gap-row\"><td>%llu..%llu</td><td>%llu</td>",
                    (unsigned long long)g->first, (unsigned long long)g->last,
                    (unsigned long long)(g->last - g->first + 1));
            gap_log(&g->before, out);
            gap_log(&g->after, out);
            fputs("</tr>\n", out);
        }
        fputs("</table>\n", out);
    }
    findings_table(r, out);
    fputs("</section>\n", out);
}

int verify_report_html(const verify_result *const *results, size_t n, FILE *out)
{
    verify_verdict worst = VERIFY_INTACT;
    for (size_t i = 0; i < n; i++)
        worst = verify_verdict_worse(worst, verify_verdict_of(results[i]));
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<title>OpenTSE verification report</title><style>%s</style></head><body>\n"
                 "<h1>TSE export verification</h1>\n"
                 "<div class=\"verdict %s\" id=\"overall\" data-verdict=\"%d\">%zu input%s: "
                 "verdict %d, %s</div>\n",
            style, verdict_class(worst), (int)worst, n, n == 1 ? "" : "s", (int)worst,
            verify_verdict_text(worst));
    for (size_t i = 0; i < n; i++)
        one(results[i], i, out);
    fputs("</body></html>\n", out);
    return ferror(out) ? -1 : 0;
}
