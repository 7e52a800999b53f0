/*
 * openapi.c - serves GET /api/v2/openapi.json: the OpenAPI 3.1 description of
 * the whole HTTP API (docs/openapi.json, compiled in by scripts/embed_files.py
 * as `openapi_files`). No token is needed: it describes, it opens nothing.
 */
#include <string.h>

#include "server.h"
#include "server/console_files.h"

extern const console_file openapi_files[];

void openapi_serve(srv_req *q, srv_resp *r)
{
    (void)q;
    const console_file *f = &openapi_files[0];
    if (!(r->text = strndup((const char *)f->data, f->len))) {   /* JSON text: no NUL inside */
        resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    r->status = 200;
    r->content_type = "application/json";
    static const char *const headers[] = {"Cache-Control", "no-cache", "X-Content-Type-Options", "nosniff"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        r->headers[i] = headers[i];
}
