/*
 * report.c - what a taxpayer reports for each cash register and its TSE
 * (Section 146a (4) AO, through ELSTER): the TSE's serial number, its BSI
 * certification id (configured per deployment: --bsi-certification-id),
 * the start and end of its use, and the registers (clients) it served with
 * the data the TSS has about them. GET /api/v2/tss/{id}/report answers JSON;
 * ?format=csv one line per register for a spreadsheet or an import.
 * Everything comes from the TSS's own records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static json_t *time_json(int64_t t)
{
    char iso[40];
    if (!t)
        return json_null();
    time_iso(t, TIME_ISO_MILLIS, iso, sizeof iso);
    return json_string(iso);
}

/* Every client of the TSS: {client_id, serial_number, state, time_registration}. */
static json_t *registers(srv *s, srv_tss *x)
{
    char ns[REC_NS_LEN];
    json_t *recs = rec_list(s, rec_ns(ns, "client", x->id), NULL, 0, 0), *v;
    json_t *list = recs ? json_array() : NULL;
    size_t i;
    json_array_foreach(recs, i, v) {
        json_array_append_new(list, json_pack("{s:O, s:O, s:O, s:o}", "client_id", json_object_get(v, "_key"),
                                              "serial_number", json_object_get(v, "serial_number"), "state",
                                              json_object_get(v, "state"), "time_registration",
                                              time_json(json_integer_value(json_object_get(v, "time_creation")))));
    }
    json_decref(recs);
    return list;
}

static json_t *report_json(srv *s, srv_tss *x)
{
    json_t *t = tss_answer(s, x);
    if (!t)
        return NULL;
    const char *cert_id = s->cfg.bsi_certification_id;
    json_t *tse = json_pack("{s:s, s:s*, s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "serial_number", x->serial_hex,
                            "bsi_certification_id", *cert_id ? cert_id : NULL, "tss_id", x->id, "description",
                            json_object_get(t, "description"), "state", json_object_get(t, "state"),
                            "signature_algorithm", json_object_get(t, "signature_algorithm"), "public_key",
                            json_object_get(t, "public_key"), "end_of_usage", json_object_get(t, "end_of_usage"),
                            "successor", json_object_get(t, "successor") ?: json_null(), "predecessor",
                            json_object_get(t, "predecessor") ?: json_null(), "certificate", json_object_get(t, "certificate"));
    json_t *ti = json_object_get(t, "time_init"), *td = json_object_get(t, "time_disable");
    if (tse) {
        json_object_set_new(tse, "time_start_of_use", time_json(json_integer_value(ti)));
        json_object_set_new(tse, "time_end_of_use", time_json(json_integer_value(td)));
    }
    json_decref(t);
    json_t *rep = json_pack("{s:s, s:o, s:o*, s:o}", "_type", "TSE_REPORT", "time_generated", time_json(now_s()),
                            "tse", tse, "registers", registers(s, x));
    res_envelope(rep, "TSE_REPORT", NULL, x);   /* _env: a TEST TSS is not one to report */
    return rep;
}

/* A CSV field: quoted when it holds the separator, a quote or a line break. */
static void csv_field(FILE *f, const char *v, int last)
{
    v = v ? v : "";
    if (strpbrk(v, ";\"\r\n")) {
        fputc('"', f);
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    } else {
        fputs(v, f);
    }
    fputs(last ? "\r\n" : ";", f);
}

static char *report_csv(json_t *rep)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    static const char *const head[] = {"register_serial_number", "register_client_id", "register_state",
                                       "register_since", "tse_serial_number", "tse_bsi_certification_id",
                                       "tse_start_of_use", "tse_end_of_use", "tss_id"};
    enum { N = sizeof head / sizeof head[0] };
    for (int i = 0; i < N; i++)
        csv_field(f, head[i], i == N - 1);
    json_t *tse = json_object_get(rep, "tse"), *reg;
    size_t i;
    json_array_foreach(json_object_get(rep, "registers"), i, reg)
    {
        const char *v[N] = {
            json_string_value(json_object_get(reg, "serial_number")),
            json_string_value(json_object_get(reg, "client_id")),
            json_string_value(json_object_get(reg, "state")),
            json_string_value(json_object_get(reg, "time_registration")),
            json_string_value(json_object_get(tse, "serial_number")),
            json_string_value(json_object_get(tse, "bsi_certification_id")),
            json_string_value(json_object_get(tse, "time_start_of_use")),
            json_string_value(json_object_get(tse, "time_end_of_use")),
            json_string_value(json_object_get(tse, "tss_id")),
        };
        for (int k = 0; k < N; k++)
            csv_field(f, v[k], k == N - 1);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* GET .../report[?format=json|csv] */
void routes_report(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg)
{
    (void)seg;
    const char *format = req_query(q, "format");
    if (nseg != 3 || strcmp(q->method, "GET") != 0) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s (use GET .../report)", q->method, q->path);
        return;
    }
    if (format && strcmp(format, "json") && strcmp(format, "csv")) {
        resp_error(r, 400, "E_BAD_REQUEST", "format must be json or csv, not \"%s\"", format);
        return;
    }
    json_t *rep = report_json(q->s, x);
    if (!rep) {
        resp_error(r, 503, tse_market_code(TSE_ERR_STORAGE_FAILURE), "cannot read the TSS");
        resp_tse_name(r, "STORAGE_FAILURE");
        return;
    }
    if (!format || !strcmp(format, "json")) {
        resp_json(r, 200, rep);
        return;
    }
    r->text = report_csv(rep);
    json_decref(rep);
    if (!r->text) {
        resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    r->status = 200;
    r->content_type = "text/csv; charset=utf-8";
    r->headers[0] = "Content-Disposition";
    r->headers[1] = "attachment; filename=\"tse-report.csv\"";
}
