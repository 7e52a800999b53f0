/*
 * bestellung.c - Bestellung-V1 processData (DSFinV-K Anhang I): one line per
 * ordered item, `<quantity>;"<name>";<unit gross price>`, quotes in names
 * doubled, lines separated by CR.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "receipt.h"

#define MAX_QUANTITY_MILLI (1000LL * 1000 * 1000 * 1000)

/* 1500 -> "1.5", 2000 -> "2", -250 -> "-0.25" */
static int quantity_text(int64_t milli, char *out, size_t cap)
{
    uint64_t a = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
    int n = snprintf(out, cap, "%s%" PRIu64, milli < 0 ? "-" : "", a / 1000);
    unsigned frac = (unsigned)(a % 1000);
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%03u", frac);
        for (int i = 2; i > 0 && f[i] == '0'; i--)
            f[i] = 0;
        n += snprintf(out + n, cap - (size_t)n, ".%s", f);
    }
    return n;
}

bool receipt_quantity_parse(const char *s, int64_t *milli)
{
    return s && rc_decimal_parse(s, strlen(s), false, 3, MAX_QUANTITY_MILLI, milli);
}

static char *item_fail(tse_error *err, size_t i, const char *msg)
{
    error_set(err, TSE_ERR_INVALID_ARGUMENT, "Bestellung-V1: item %zu: %s", i, msg);
    return NULL;
}

char *receipt_bestellung_build(const receipt_item *items, size_t n, tse_error *err)
{
    if (!items || n == 0) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "Bestellung-V1: no items");
        return NULL;
    }
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        const receipt_item *it = &items[i];
        if (!it->name || !*it->name)
            return item_fail(err, i, "empty name");
        if (!rc_utf8_text((const uint8_t *)it->name, strlen(it->name), false))
            return item_fail(err, i, "name is not UTF-8 text without control characters");
        if (it->quantity_milli == 0 || it->quantity_milli > MAX_QUANTITY_MILLI ||
            it->quantity_milli < -MAX_QUANTITY_MILLI)
            return item_fail(err, i, "quantity is zero or out of range");
        if (it->unit_price > RECEIPT_MAX_CENTS || it->unit_price < -RECEIPT_MAX_CENTS)
            return item_fail(err, i, "unit price out of range");
        size_t nl = strlen(it->name);
        if (nl > TSE_MAX_PROCESS_DATA_LEN / 2)
            return item_fail(err, i, "name too long");
        cap += 2 * nl + 64;
    }
    if (cap > TSE_MAX_PROCESS_DATA_LEN) {
        error_set(err, TSE_ERR_INVALID_ARGUMENT, "Bestellung-V1: more than %u bytes", TSE_MAX_PROCESS_DATA_LEN);
        return NULL;
    }
    char *out = malloc(cap);
    if (!out) {
        error_set(err, TSE_ERR_NO_MEMORY, "Bestellung-V1: out of memory");
        return NULL;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            out[len++] = '\r';
        len += (size_t)quantity_text(items[i].quantity_milli, out + len, cap - len);
        out[len++] = ';';
        out[len++] = '"';
        for (const char *c = items[i].name; *c; c++) {
            if (*c == '"')
                out[len++] = '"';
            out[len++] = *c;
        }
        out[len++] = '"';
        out[len++] = ';';
        receipt_amount_format(items[i].unit_price, out + len, cap - len);
        len += strlen(out + len);
    }
    out[len] = 0;
    return out;
}
