/*
 * console.c - serves the operator's web console: the static files of web/
 * (compiled in, see console_files.h) under /ui/, "/" and "/ui" redirect to
 * it. The console uses only the public HTTP API; this file only hands out
 * its files, with a Content-Security-Policy that lets the page talk to this
 * origin alone and run no inline script.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "server/console_files.h"

static const char *type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static void redirect(srv_resp *r, const char *to)
{
    resp_error(r, 301, "E_MOVED", "the console is at %s", to);
    r->headers[0] = "Location";
    r->headers[1] = to;
}

void console_serve(srv_req *q, srv_resp *r, char **seg, int nseg)
{
    if (nseg < 0) {
        redirect(r, "ui/");
        return;
    }
    size_t plen = strlen(q->path);
    if (nseg == 0 && (plen == 0 || q->path[plen - 1] != '/')) {
        redirect(r, "ui/");
        return;
    }
    const char *name = nseg == 0 ? "index.html" : seg[0];
    const console_file *f = NULL;
    for (const console_file *c = console_files; nseg <= 1 && c->name; c++)
        if (strcmp(c->name, name) == 0)
            f = c;
    if (!f) {
        resp_error(r, 404, "E_NOT_FOUND", "no such file in the console: %s", q->path);
        return;
    }
    r->text = malloc(f->len + 1);
    if (!r->text) {
        resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    memcpy(r->text, f->data, f->len + 1);
    r->status = 200;
    r->content_type = type_of(f->name);
    static const char *const headers[] = {
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options", "nosniff",
        "Referrer-Policy", "no-referrer",
        "Cache-Control", "no-cache",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        r->headers[i] = headers[i];
}
