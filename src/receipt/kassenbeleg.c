/*
 * kassenbeleg.c - Kassenbeleg-V1 processData (DSFinV-K Anhang I, TSE-FORMATS.md
 * section 5): "<Vorgangstyp>^<five gross amounts>^<payments>", its checker,
 * amounts in cents, and the names the HTTP API uses for receipt types, VAT
 * rates and payment types.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "receipt.h"

static const char *const vorgangstypen[] = {
    "Beleg", "AVTransfer", "AVBestellung", "AVTraining", "AVBelegstorno",
    "AVBelegabbruch", "AVSachbezug", "AVSonstige", "AVRechnung",
};
#define N_VORGANGSTYPEN (sizeof vorgangstypen / sizeof vorgangstypen[0])

static bool known_vorgangstyp(const char *s, size_t n)
{
    for (size_t i = 0; i < N_VORGANGSTYPEN; i++)
        if (strlen(vorgangstypen[i]) == n && memcmp(vorgangstypen[i], s, n) == 0)
            return true;
    return false;
}

static void set_err(tse_error *err, const char *fmt, const char *arg)
{
    if (err) {
        err->code = TSE_ERR_INVALID_ARGUMENT;
        snprintf(err->message, sizeof err->message, fmt, arg);
    }
}

/* An amount from s[0..n) in units of 10^-places (see rc_decimal_parse),
 * at most RECEIPT_MAX_CENTS in cents. */
static bool amount_parse_n(const char *s, size_t n, bool exact, int places, int64_t *units)
{
    int64_t max = RECEIPT_MAX_CENTS;
    for (int d = 2; d < places; d++)
        max *= 10;
    return rc_decimal_parse(s, n, exact, places, max, units);
}

bool receipt_amount_parse(const char *s, int64_t *cents)
{
    return s && amount_parse_n(s, strlen(s), false, 2, cents);
}

bool receipt_amount_parse_rounded(const char *s, int64_t *cents)
{
    int64_t e5;
    size_t n = s ? strlen(s) : 0;
    const char *dot = s ? strchr(s, '.') : NULL;
    /* zeros past the fifth place say nothing ("11.9000000" from a decimal
     * type's scale) */
    while (dot && n > (size_t)(dot - s) + 6 && s[n - 1] == '0')
        n--;
    if (!s || !amount_parse_n(s, n, false, 5, &e5))
        return false;
    /* half away from zero: 0.005 -> 0.01, -0.005 -> -0.01 */
    int64_t a = e5 < 0 ? -e5 : e5, c = (a + 500) / 1000;
    if (c > RECEIPT_MAX_CENTS)
        return false;
    *cents = e5 < 0 ? -c : c;
    return true;
}

void receipt_amount_format(int64_t cents, char *out, size_t cap)
{
    uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(out, cap, "%s%" PRIu64 ".%02" PRIu64, cents < 0 ? "-" : "", a / 100, a % 100);
}

static bool valid_currency(const char *c)
{
    return strlen(c) == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' && c[2] >= 'A' &&
           c[2] <= 'Z';
}

typedef struct pay_sum {
    bool non_cash;
    char currency[4];
    int64_t cents;
} pay_sum;

/* DSFinV-K order: Bar before Unbar; EUR first, then alphabetically. */
static int pay_order(bool a_unbar, const char *a_cur, bool b_unbar, const char *b_cur)
{
    if (a_unbar != b_unbar)
        return a_unbar ? 1 : -1;
    bool ae = strcmp(a_cur, "EUR") == 0, be = strcmp(b_cur, "EUR") == 0;
    if (ae != be)
        return ae ? -1 : 1;
    return strcmp(a_cur, b_cur);
}

static int pay_cmp(const void *a, const void *b)
{
    const pay_sum *x = a, *y = b;
    return pay_order(x->non_cash, x->currency, y->non_cash, y->currency);
}

char *receipt_kassenbeleg_build(const receipt_kassenbeleg *in, tse_error *err)
{
    if (!in || !in->vorgangstyp || (in->n_payments && !in->payments)) {
        set_err(err, "%s", "Kassenbeleg-V1: the input, its Vorgangstyp or its payments are missing");
        return NULL;
    }
    if (!known_vorgangstyp(in->vorgangstyp, strlen(in->vorgangstyp))) {
        set_err(err,
                "Kassenbeleg-V1: unknown Vorgangstyp '%.60s' (Beleg, AVTransfer, AVBestellung, AVTraining, "
                "AVBelegstorno, AVBelegabbruch, AVSachbezug, AVSonstige, AVRechnung)",
                in->vorgangstyp);
        return NULL;
    }
    for (int k = 0; k < TSE_RECEIPT_VAT_COUNT; k++) {
        if (in->gross[k] > RECEIPT_MAX_CENTS || in->gross[k] < -RECEIPT_MAX_CENTS) {
            set_err(err, "Kassenbeleg-V1: gross amount of VAT rate %s is out of range",
                    (const char *[]){"NORMAL", "REDUCED", "AVERAGE_3", "AVERAGE_1", "ZERO"}[k]);
            return NULL;
        }
    }
    pay_sum *sums = calloc(in->n_payments + 1, sizeof *sums);
    if (!sums) {
        set_err(err, "%s", "Kassenbeleg-V1: out of memory");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < in->n_payments; i++) {
        const receipt_payment *p = &in->payments[i];
        const char *cur = p->currency ? p->currency : "EUR";
        if (!valid_currency(cur)) {
            free(sums);
            set_err(err, "Kassenbeleg-V1: currency '%.20s' is not an ISO 4217 code (three capital letters)",
                    cur);
            return NULL;
        }
        size_t k = 0;
        while (k < n && !(sums[k].non_cash == p->non_cash && strcmp(sums[k].currency, cur) == 0))
            k++;
        if (k == n) {
            sums[n].non_cash = p->non_cash;
            memcpy(sums[n].currency, cur, 4);
            n++;
        }
        sums[k].cents += p->cents;
        if (p->cents > RECEIPT_MAX_CENTS || p->cents < -RECEIPT_MAX_CENTS || sums[k].cents > RECEIPT_MAX_CENTS ||
            sums[k].cents < -RECEIPT_MAX_CENTS) {
            free(sums);
            set_err(err, "Kassenbeleg-V1: payment in %s is out of range", cur);
            return NULL;
        }
    }
    qsort(sums, n, sizeof *sums, pay_cmp);
    /* Vorgangstyp (<= 14) + 5 * 17 + per payment 17 + ":Unbar:XXX" + separators */
    size_t cap = 32 + TSE_RECEIPT_VAT_COUNT * 24 + n * 40;
    char *out = malloc(cap);
    if (!out) {
        free(sums);
        set_err(err, "%s", "Kassenbeleg-V1: out of memory");
        return NULL;
    }
    size_t len = (size_t)snprintf(out, cap, "%s^", in->vorgangstyp);
    for (int k = 0; k < TSE_RECEIPT_VAT_COUNT; k++) {
        if (k)
            out[len++] = '_';
        receipt_amount_format(in->gross[k], out + len, cap - len);
        len += strlen(out + len);
    }
    out[len++] = '^';
    out[len] = 0;
    bool first = true;
    for (size_t k = 0; k < n; k++) {
        if (sums[k].cents == 0)
            continue;
        if (!first)
            out[len++] = '_';
        first = false;
        receipt_amount_format(sums[k].cents, out + len, cap - len);
        len += strlen(out + len);
        len += (size_t)snprintf(out + len, cap - len, ":%s", sums[k].non_cash ? "Unbar" : "Bar");
        if (strcmp(sums[k].currency, "EUR") != 0)
            len += (size_t)snprintf(out + len, cap - len, ":%s", sums[k].currency);
    }
    free(sums);
    return out;
}

/* The next field of s[*pos..n) up to `sep` (or the end). */
static size_t field(const char *s, size_t n, size_t *pos, char sep, const char **start)
{
    *start = s + *pos;
    size_t i = *pos;
    while (i < n && s[i] != sep)
        i++;
    size_t len = i - *pos;
    *pos = i < n ? i + 1 : n + 1;
    return len;
}

static bool fail(tse_error *err, const char *msg, const char *s, size_t n)
{
    error_set(err, TSE_ERR_INVALID_ARGUMENT, "Kassenbeleg-V1: %s: '%.*s'", msg, (int)(n > 60 ? 60 : n), s);
    return false;
}

bool receipt_kassenbeleg_check(const char *pd, size_t n, tse_error *err)
{
    if (!pd)
        return fail(err, "no processData", "", 0);
    size_t pos = 0;
    const char *f;
    size_t fl = field(pd, n, &pos, '^', &f);
    if (!known_vorgangstyp(f, fl))
        return fail(err, "unknown Vorgangstyp", f, fl);
    if (pos > n)
        return fail(err, "missing '^' after the Vorgangstyp", pd, n);
    const char *amounts;
    size_t al = field(pd, n, &pos, '^', &amounts);
    if (pos > n)
        return fail(err, "missing '^' after the amounts", pd, n);
    size_t apos = 0;
    for (int k = 0; k < TSE_RECEIPT_VAT_COUNT; k++) {
        if (apos > al)
            return fail(err, "fewer than five gross amounts", amounts, al);
        int64_t c;
        fl = field(amounts, al, &apos, '_', &f);
        if (!amount_parse_n(f, fl, true, 2, &c))
            return fail(err, "gross amount is not a number with two decimals and no leading zeros", f, fl);
    }
    if (apos <= al)
        return fail(err, "more than five gross amounts", amounts, al);
    const char *pays;
    size_t pl = field(pd, n, &pos, '^', &pays);
    if (pos <= n)
        return fail(err, "more than three '^'-separated parts", pd, n);
    bool have_prev = false, prev_unbar = false;
    char prev_cur[4] = "";
    for (size_t ppos = 0; pl > 0 && ppos <= pl;) {
        const char *p;
        size_t plen = field(pays, pl, &ppos, '_', &p);
        size_t q = 0;
        const char *amt = "", *kind = "", *cur = "";
        size_t amt_l = field(p, plen, &q, ':', &amt);
        size_t kind_l = q <= plen ? field(p, plen, &q, ':', &kind) : 0;
        bool has_cur = q <= plen;
        size_t cur_l = has_cur ? field(p, plen, &q, ':', &cur) : 0;
        int64_t c;
        if (!amount_parse_n(amt, amt_l, true, 2, &c))
            return fail(err, "payment amount is not a number with two decimals and no leading zeros", p, plen);
        if (c == 0)
            return fail(err, "zero payments are omitted", p, plen);
        bool unbar;
        if (kind_l == 3 && memcmp(kind, "Bar", 3) == 0)
            unbar = false;
        else if (kind_l == 5 && memcmp(kind, "Unbar", 5) == 0)
            unbar = true;
        else
            return fail(err, "payment type is neither Bar nor Unbar", p, plen);
        if (q <= plen)
            return fail(err, "payment has more than three ':'-separated parts", p, plen);
        char cbuf[4] = "EUR";
        if (has_cur) {
            if (cur_l != 3)
                return fail(err, "currency is not three capital letters", p, plen);
            memcpy(cbuf, cur, 3);
            if (!valid_currency(cbuf))
                return fail(err, "currency is not three capital letters", p, plen);
            if (strcmp(cbuf, "EUR") == 0)
                return fail(err, "EUR is not written out", p, plen);
        }
        if (have_prev) {
            int o = pay_order(prev_unbar, prev_cur, unbar, cbuf);
            if (o == 0)
                return fail(err, "the same payment type and currency twice", p, plen);
            if (o > 0)
                return fail(err, "payments out of order (Bar before Unbar, EUR first, then currencies "
                                         "alphabetically)", p, plen);
        }
        have_prev = true;
        prev_unbar = unbar;
        memcpy(prev_cur, cbuf, 4);
    }
    return true;
}

const char *receipt_vorgangstyp_from_api(const char *receipt_type)
{
    static const char *const map[][2] = {
        {"RECEIPT", "Beleg"},         {"TRAINING", "AVTraining"},          {"TRANSFER", "AVTransfer"},
        {"ORDER", "AVBestellung"},    {"CANCELLATION", "AVBelegstorno"},   {"ABORT", "AVBelegabbruch"},
        {"BENEFIT_IN_KIND", "AVSachbezug"}, {"INVOICE", "AVRechnung"},    {"OTHER", "AVSonstige"},
    };
    for (size_t i = 0; receipt_type && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(receipt_type, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

int receipt_vat_from_api(const char *vat_rate)
{
    static const char *const names[TSE_RECEIPT_VAT_COUNT] = {"NORMAL", "REDUCED_1", "SPECIAL_RATE_1",
                                                         "SPECIAL_RATE_2", "NULL"};
    for (int k = 0; vat_rate && k < TSE_RECEIPT_VAT_COUNT; k++)
        if (strcmp(vat_rate, names[k]) == 0)
            return k;
    /* a percentage, in hundredths: the rates of each field of Kassenbeleg-V1,
     * the current one first (UStG 12 and 24 (1); 16 and 5 of the second half
     * of 2020; the average rate of 24 (1) no. 3 over the years) */
    static const struct {
        int64_t rate;
        int k;
    } rates[] = {{1900, TSE_RECEIPT_VAT_NORMAL},      {700, TSE_RECEIPT_VAT_REDUCED},
                 {1070, TSE_RECEIPT_VAT_AVERAGE_3},   {550, TSE_RECEIPT_VAT_AVERAGE_1},
                 {0, TSE_RECEIPT_VAT_ZERO},           {1600, TSE_RECEIPT_VAT_NORMAL},
                 {500, TSE_RECEIPT_VAT_REDUCED},      {950, TSE_RECEIPT_VAT_AVERAGE_3},
                 {900, TSE_RECEIPT_VAT_AVERAGE_3},    {840, TSE_RECEIPT_VAT_AVERAGE_3},
                 {780, TSE_RECEIPT_VAT_AVERAGE_3}};
    int64_t h;
    if (!vat_rate || vat_rate[0] == '-' || !amount_parse_n(vat_rate, strlen(vat_rate), false, 2, &h))
        return -1;
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i].rate == h)
            return rates[i].k;
    return -1;
}

int receipt_payment_type_from_api(const char *payment_type)
{
    if (payment_type && strcmp(payment_type, "CASH") == 0)
        return 0;
    if (payment_type && strcmp(payment_type, "NON_CASH") == 0)
        return 1;
    return -1;
}
