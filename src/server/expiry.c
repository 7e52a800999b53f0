/*
 * expiry.c - the end of usage of a TSS as opentsed reports it. The end of
 * usage (TR-03151 getEndOfUsageDate) is the earliest notAfter of the TSS's
 * certificate chain: its own certificate or a CA certificate above it. From
 * 180 days before it (and again at 90, 30 and 7) the TSS answer, every
 * transaction response of that TSS and the server log carry a warning that
 * names the certificate, the date and what to do; the log line is written
 * once a day per TSS.
 */
#include <stdio.h>
#include <string.h>

#include "server.h"

/* The TSS's end of usage, or -1 when the engine cannot say. */
static int end_of_usage(srv_tss *x, int64_t *end, int32_t *days, int32_t *which)
{
    return engine_end_of_usage(x->e, end, days, which) == TSE_OK ? 0 : -1;
}

static void cert_name(int32_t which, char *out, size_t cap)
{
    if (which == 0)
        snprintf(out, cap, "the TSS certificate");
    else
        snprintf(out, cap, "the CA certificate %d above the TSS certificate in its chain", (int)which);
}

json_t *expiry_json(srv_tss *x)
{
    int64_t end;
    int32_t days, which;
    if (end_of_usage(x, &end, &days, &which))
        return json_null();
    char when[40];
    time_iso(end, TIME_ISO_MILLIS, when, sizeof when);
    return json_pack("{s:s, s:I, s:i, s:s, s:i, s:i}", "time", when, "unix", (json_int_t)end, "days_left",
                     (int)days, "certificate", which ? "CA" : "TSS", "chain_index", (int)which, "warning_days",
                     (int)tse_end_of_usage_warning(days));
}

int expiry_warning(srv_tss *x, char *out, size_t cap)
{
    int64_t end;
    int32_t days, which;
    *out = 0;
    if (end_of_usage(x, &end, &days, &which))
        return 0;
    int32_t level = tse_end_of_usage_warning(days);
    if (!level)
        return 0;
    char when[40], what[80];
    time_iso(end, TIME_ISO_MILLIS, when, sizeof when);
    cert_name(which, what, sizeof what);
    if (days < 0 || end <= now_s())
        snprintf(out, cap,
                 "CERTIFICATE_EXPIRED: %s ended at %s; signatures of TSS %s no longer verify under a valid chain: "
                 "import a renewed chain (PUT .../certificate) or switch to a successor TSS (POST .../successor)",
                 what, when, x->id);
    else
        snprintf(out, cap,
                 "CERTIFICATE_EXPIRES_SOON: %s ends at %s, in %d day%s (warning from %d days); import a renewed "
                 "chain (PUT .../certificate) or create a successor TSS (POST .../successor) before then",
                 what, when, (int)days, days == 1 ? "" : "s", (int)level);
    int64_t today = now_s() / 86400;
    int64_t seen = atomic_load(&x->warned_day);
    if (seen != today && atomic_compare_exchange_strong(&x->warned_day, &seen, today))
        fprintf(stderr, "opentsed: warning: TSS %s: %s\n", x->id, out);
    return 1;
}

void expiry_add_warning(srv_tss *x, json_t *j)
{
    char w[400];
    if (!j || !expiry_warning(x, w, sizeof w))
        return;
    json_t *list = json_object_get(j, "warnings");
    if (!json_is_array(list)) {
        list = json_array();
        if (!list || json_object_set_new(j, "warnings", list))
            return;
    }
    /* the engine's own CERTIFICATE_EXPIRED warning may say it already */
    size_t i, code_len = strcspn(w, ":");
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *have = json_string_value(v);
        if (have && strncmp(have, w, code_len) == 0)
            return;
    }
    json_array_append_new(list, json_string(w));
}
