/*
 * receipt.c - turns a fiskaly standard_v1 receipt into DSFinV-K
 * Kassenbeleg-V1 processData "<Vorgangstyp>^<5 gross amounts>^<payments>"
 * (TSE-FORMATS.md section 5): amounts per VAT rate NORMAL, REDUCED_1,
 * SPECIAL_RATE_1, SPECIAL_RATE_2, NULL; payments CASH/NON_CASH as Bar/Unbar,
 * Bar before Unbar, EUR first then other currencies alphabetically, zero
 * payments omitted.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const char *vorgangstyp(const char *receipt_type)
{
    static const char *map[][2] = {
        {"RECEIPT", "Beleg"},           {"TRAINING", "AVTraining"},       {"TRANSFER", "AVTransfer"},
        {"ORDER", "AVBestellung"},      {"CANCELLATION", "AVBelegstorno"}, {"ABORT", "AVBelegabbruch"},
        {"BENEFIT_IN_KIND", "AVSachbezug"}, {"INVOICE", "AVRechnung"},   {"OTHER", "AVSonstige"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(receipt_type, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

/* "12.3", "-4.50", "7" -> cents. Returns -1 if malformed. */
static int parse_amount(const char *s, int64_t *cents)
{
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (!isdigit((unsigned char)*s))
        return -1;
    int64_t v = 0;
    int digits = 0;
    while (isdigit((unsigned char)*s)) {
        if (++digits > 13)
            return -1;
        v = v * 10 + (*s++ - '0');
    }
    int frac = 0, nf = 0;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            if (++nf > 2)
                return -1;
            frac = frac * 10 + (*s++ - '0');
        }
        if (nf == 0)
            return -1;
    }
    if (*s)
        return -1;
    if (nf == 1)
        frac *= 10;
    v = v * 100 + frac;
    *cents = neg ? -v : v;
    return 0;
}

static int fmt_amount(char *out, size_t cap, int64_t c)
{
    int64_t a = c < 0 ? -c : c;
    return snprintf(out, cap, "%s%" PRId64 ".%02" PRId64, c < 0 ? "-" : "", a / 100, a % 100);
}

typedef struct pay {
    int unbar;
    char cur[4];
    int64_t cents;
} pay;

static int pay_cmp(const void *a, const void *b)
{
    const pay *x = a, *y = b;
    if (x->unbar != y->unbar)
        return x->unbar - y->unbar;
    int xe = strcmp(x->cur, "EUR") == 0, ye = strcmp(y->cur, "EUR") == 0;
    if (xe != ye)
        return ye - xe;
    return strcmp(x->cur, y->cur);
}

static const char *amount_text(json_t *v)
{
    return json_string_value(v);
}

char *receipt_process_data(json_t *receipt, const char *state, char *err, size_t errlen)
{
    if (!json_is_object(receipt)) {
        snprintf(err, errlen, "schema.standard_v1.receipt must be an object");
        return NULL;
    }
    const char *rt = json_string_value(json_object_get(receipt, "receipt_type"));
    const char *vt = rt ? vorgangstyp(rt) : NULL;
    if (!vt) {
        snprintf(err, errlen, "receipt_type must be one of RECEIPT, TRAINING, TRANSFER, ORDER, CANCELLATION, ABORT, "
                              "BENEFIT_IN_KIND, INVOICE, OTHER");
        return NULL;
    }
    if (state && strcmp(state, "CANCELLED") == 0 && strcmp(rt, "RECEIPT") == 0)
        vt = "AVBelegabbruch";
    static const char *rates[5] = {"NORMAL", "REDUCED_1", "SPECIAL_RATE_1", "SPECIAL_RATE_2", "NULL"};
    int64_t vat[5] = {0};
    json_t *arr = json_object_get(receipt, "amounts_per_vat_rate");
    if (arr && !json_is_array(arr)) {
        snprintf(err, errlen, "amounts_per_vat_rate must be an array");
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *rate = json_string_value(json_object_get(e, "vat_rate"));
        const char *amt = amount_text(json_object_get(e, "amount"));
        int k = -1;
        for (int r = 0; rate && r < 5; r++)
            if (strcmp(rate, rates[r]) == 0)
                k = r;
        int64_t c;
        if (k < 0 || !amt || parse_amount(amt, &c)) {
            snprintf(err, errlen, "amounts_per_vat_rate[%zu]: vat_rate must be NORMAL, REDUCED_1, SPECIAL_RATE_1, "
                                  "SPECIAL_RATE_2 or NULL and amount a decimal string with up to 2 places", i);
            return NULL;
        }
        vat[k] += c;
    }
    json_t *parr = json_object_get(receipt, "amounts_per_payment_type");
    if (parr && !json_is_array(parr)) {
        snprintf(err, errlen, "amounts_per_payment_type must be an array");
        return NULL;
    }
    size_t np = json_array_size(parr);
    pay *p = calloc(np + 1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "no memory");
        return NULL;
    }
    size_t n = 0;
    json_array_foreach(parr, i, e) {
        const char *type = json_string_value(json_object_get(e, "payment_type"));
        const char *amt = amount_text(json_object_get(e, "amount"));
        const char *cur = json_string_value(json_object_get(e, "currency_code"));
        int64_t c;
        int unbar = type && strcmp(type, "NON_CASH") == 0;
        int ok = type && (unbar || strcmp(type, "CASH") == 0) && amt && !parse_amount(amt, &c);
        if (ok && cur)
            ok = strlen(cur) == 3 && isupper((unsigned char)cur[0]) && isupper((unsigned char)cur[1]) &&
                 isupper((unsigned char)cur[2]);
        if (!ok) {
            free(p);
            snprintf(err, errlen, "amounts_per_payment_type[%zu]: payment_type must be CASH or NON_CASH, amount a "
                                  "decimal string with up to 2 places, currency_code 3 capital letters", i);
            return NULL;
        }
        if (!cur)
            cur = "EUR";
        size_t k = 0;
        while (k < n && !(p[k].unbar == unbar && strcmp(p[k].cur, cur) == 0))
            k++;
        if (k == n) {
            p[n].unbar = unbar;
            snprintf(p[n].cur, sizeof p[n].cur, "%s", cur);
            n++;
        }
        p[k].cents += c;
    }
    qsort(p, n, sizeof *p, pay_cmp);
    size_t cap = 64 + 5 * 20 + n * 40;
    char *out = malloc(cap);
    if (!out) {
        free(p);
        snprintf(err, errlen, "no memory");
        return NULL;
    }
    size_t len = (size_t)snprintf(out, cap, "%s^", vt);
    for (int k = 0; k < 5; k++) {
        if (k)
            out[len++] = '_';
        len += (size_t)fmt_amount(out + len, cap - len, vat[k]);
    }
    out[len++] = '^';
    out[len] = 0;
    int first = 1;
    for (size_t k = 0; k < n; k++) {
        if (p[k].cents == 0)
            continue;
        if (!first)
            out[len++] = '_';
        first = 0;
        len += (size_t)fmt_amount(out + len, cap - len, p[k].cents);
        len += (size_t)snprintf(out + len, cap - len, ":%s", p[k].unbar ? "Unbar" : "Bar");
        if (strcmp(p[k].cur, "EUR") != 0)
            len += (size_t)snprintf(out + len, cap - len, ":%s", p[k].cur);
    }
    free(p);
    return out;
}
