/*
 * json_text.c - a JSON value written out as compact text, byte for byte
 * what json_dumps(value, JSON_COMPACT) writes, in one pass into one buffer:
 * every answer and record is written out on the request's path, and
 * jansson's writer pays a formatted key and a table entry for each object
 * and array it enters (its loop check). Values with reals or with strings
 * beyond ASCII are left to json_dumps, whose number format and UTF-8 check
 * are then used as they are.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

typedef struct out {
    char *p;
    size_t len, cap;
    bool fail;     /* no memory */
    bool other;    /* a value for json_dumps */
} out;

static char *room(out *o, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        if (cap < 2048)
            cap = 2048;   /* an answer with its record fits */
        char *np = realloc(o->p, cap);
        if (!np) {
            o->fail = true;
            return NULL;
        }
        o->p = np;
        o->cap = cap;
    }
    return o->p + o->len;
}

static void put(out *o, const char *s, size_t n)
{
    char *w = room(o, n);
    if (w) {
        memcpy(w, s, n);
        o->len += n;
    }
}

/* As jansson escapes: quote, backslash and the five short forms, other
 * bytes below 0x20 as \u00XX (upper-case hex). */
static void put_string(out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char *w = room(o, 6 * n + 2);
    if (!w)
        return;
    char *start = w;
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char brief = c == '"' ? '"' : c == '\\' ? '\\' : c == '\b' ? 'b' : c == '\f' ? 'f' : c == '\n' ? 'n'
                   : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
        if (c >= 0x80) {
            o->other = true;
            return;
        } else if (brief) {
            *w++ = '\\';
            *w++ = brief;
        } else if (c < 0x20) {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
        } else {
            *w++ = (char)c;
        }
    }
    *w++ = '"';
    o->len += (size_t)(w - start);
}

static void put_integer(out *o, json_int_t v)
{
    char buf[24], *e = buf + sizeof buf, *p = e;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    put(o, p, (size_t)(e - p));
}

static void put_value(out *o, const json_t *j, int depth)
{
    if (o->fail || o->other)
        return;
    if (depth > 2048) {   /* as deep as jansson goes */
        o->other = true;
        return;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        put(o, "{", 1);
        int first = 1;
        for (void *it = json_object_iter((json_t *)j); it && !o->fail && !o->other;
             it = json_object_iter_next((json_t *)j, it)) {
            if (!first)
                put(o, ",", 1);
            first = 0;
            put_string(o, json_object_iter_key(it), json_object_iter_key_len(it));
            put(o, ":", 1);
            put_value(o, json_object_iter_value(it), depth + 1);
        }
        put(o, "}", 1);
        break;
    }
    case JSON_ARRAY: {
        put(o, "[", 1);
        for (size_t i = 0, n = json_array_size(j); i < n && !o->fail && !o->other; i++) {
            if (i)
                put(o, ",", 1);
            put_value(o, json_array_get(j, i), depth + 1);
        }
        put(o, "]", 1);
        break;
    }
    case JSON_STRING:
        put_string(o, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        put_integer(o, json_integer_value(j));
        break;
    case JSON_TRUE:
        put(o, "true", 4);
        break;
    case JSON_FALSE:
        put(o, "false", 5);
        break;
    case JSON_NULL:
        put(o, "null", 4);
        break;
    default:   /* JSON_REAL */
        o->other = true;
    }
}

char *json_text(const json_t *j)
{
    if (!json_is_object(j) && !json_is_array(j))
        return j ? json_dumps(j, JSON_COMPACT) : NULL;   /* which refuses them */
    out o = {0};
    put_value(&o, j, 0);
    if (o.other || o.fail) {
        free(o.p);
        return o.fail ? NULL : json_dumps(j, JSON_COMPACT);
    }
    o.p[o.len] = 0;
    return o.p;
}
