/*
 * routes.c - maps URLs to handlers: /health, /ready, /metrics, and the
 * fiskaly SIGN DE v2 compatible /api/v2 tree. Two tables, one line per route
 * group: `api_routes` for /api/v2/<name>[/...] and `tss_routes` for the
 * sub-resources /api/v2/tss/{id}/<name>[/...], whose handlers get the TSS
 * already looked up in the caller's organization (another organization's
 * TSS answers 404 before any handler runs).
 */
#include <inttypes.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "server.h"

#define MAX_SEG 10

typedef void api_route_fn(srv_req *q, srv_resp *r, char **seg, int nseg);

/* /api/v2/<name>: `auth` needs no token, the rest a valid bearer token. */
static const struct {
    const char *name;
    api_route_fn *fn;
} api_routes[] = {
    {"auth", routes_auth},
    {"organizations", routes_org},
    {"tss", routes_tss},
    {"export", routes_export_list},
    {"client", routes_client_all},
    {"tx", routes_tx_all},
};

/* /api/v2/tss/{tss_id}/<name>. */
static const struct {
    const char *name;
    tss_route_fn *fn;
} tss_routes[] = {
    {"admin", routes_admin},
    {"metadata", routes_tss_metadata},
    {"client", routes_client},
    {"tx", routes_tx},
    {"export", routes_export},
    /* OpenTSE extensions (docs/api.md) */
    {"incremental-export", routes_export},
    {"time-admin", routes_admin},
    {"logger", routes_admin},
    {"time", routes_ext},
    {"self-test", routes_ext},
    {"log", routes_ext},
    {"csr", routes_ext},
    {"certificate", routes_ext},
    {"delete-stored-data", routes_ext},
    {"restore", routes_ext},
    {"description", routes_ext},
    {"transaction-logging", routes_ext},
    {"device", routes_ext},
    {"transaction-state", routes_ext},
    {"update-device", routes_ext},
    {"authenticate-user", routes_ext},
    {"unblock-pin", routes_ext},
    {"logged-in-user", routes_ext},
    {"successor", routes_successor},
    {"report", routes_report},
};

static int split(char *path, char **seg)
{
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEG)
            return -1;
        seg[n++] = p;
    }
    return n;
}

/* Below this much free space in the data directory a TSS cannot be trusted
 * to store its next logs: /ready sends the balancer elsewhere. */
#define READY_MIN_FREE (1u << 20)

static void ready(srv_req *q, srv_resp *r)
{
    srv *s = q->s;
    char why[300] = "";
    uint64_t n_orgs = 0;
    struct statvfs fs;
    if (atomic_load(&s->stopping))
        snprintf(why, sizeof why, "shutting down");
    else if (access(s->cfg.data_dir, W_OK) != 0)
        snprintf(why, sizeof why, "the data directory is not writable");
    else if (statvfs(s->cfg.data_dir, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < READY_MIN_FREE)
        snprintf(why, sizeof why, "the data directory's disk is full (%" PRIu64 " bytes free)",
                 (uint64_t)fs.f_bavail * fs.f_frsize);
    else if (rec_count(s, "org", NULL, &n_orgs))
        snprintf(why, sizeof why, "the state database cannot be read");
    pthread_mutex_lock(&s->tss_mu);
    for (srv_tss *x = s->tss_list; !why[0] && x; x = x->next) {
        tse_info info;
        if (engine_get_info(x->e, &info) != TSE_OK || !info.self_test_ok)
            snprintf(why, sizeof why, "TSS %s: the self-test failed", x->id);
    }
    pthread_mutex_unlock(&s->tss_mu);
    if (why[0])
        resp_error(r, 503, "E_NOT_READY", "%s", why);
    else
        resp_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

static void tss_sub(srv_req *q, srv_resp *r, char **seg, int nseg)
{
    srv_tss *x = tss_find_for(q->s, seg[1], &q->who);
    if ((!x && tss_elsewhere(q->s, seg[1], q->who.org_id)) || (x && engine_lease_lost(x->e) && engine_reacquire(x->e) != TSE_OK)) {
        (void)(proxy_pass(q, r, seg[1]) || (resp_elsewhere(r, seg[1]), 0));
        return;
    }
    if (!x) {
        resp_error(r, 404, "E_TSS_NOT_FOUND", "no TSS %s", seg[1]);
        return;
    }
    for (size_t i = 0; i < sizeof tss_routes / sizeof tss_routes[0]; i++) {
        if (strcmp(seg[2], tss_routes[i].name) == 0) {
            q->route = tss_routes[i].name;
            tss_routes[i].fn(q, r, x, seg, nseg);
            return;
        }
    }
    resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
}

void routes_handle(srv_req *q, srv_resp *r)
{
    char path[1024];
    char *seg[MAX_SEG];
    q->route = "other";
    int n = strlen(q->path) < sizeof path ? split(strcpy(path, q->path), seg) : -1;
    int get = strcmp(q->method, "GET") == 0;
    if (n == 1 && get && strcmp(seg[0], "health") == 0) {
        q->route = "health";
        resp_json(r, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (n == 1 && get && strcmp(seg[0], "ready") == 0) {
        q->route = "ready";
        ready(q, r);
        return;
    }
    if (n == 1 && get && strcmp(seg[0], "metrics") == 0) {
        q->route = "metrics";
        r->status = 200;
        r->text = metrics_render(q->s);
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
        if (!r->text)
            resp_error(r, 500, "E_INTERNAL", "no memory");
        return;
    }
    if (get && (n == 0 || (n >= 1 && strcmp(seg[0], "ui") == 0))) {
        q->route = "ui";
        console_serve(q, r, n ? seg + 1 : NULL, n ? n - 1 : -1);
        return;
    }
    if (n == 3 && get && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "v2") == 0 && strcmp(seg[2], "openapi.json") == 0) {
        q->route = "openapi";
        openapi_serve(q, r);
        return;
    }
    if (n < 3 || strcmp(seg[0], "api") != 0 || strcmp(seg[1], "v2") != 0) {
        resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
        return;
    }
    char **rest = seg + 2;
    int nrest = n - 2;
    for (size_t i = 0; i < sizeof api_routes / sizeof api_routes[0]; i++) {
        if (strcmp(rest[0], api_routes[i].name) != 0)
            continue;
        q->route = api_routes[i].name;
        if (api_routes[i].fn != routes_auth && auth_require(q, r))
            return;
        if (api_routes[i].fn == routes_tss && nrest >= 3) {
            if (q->who.operator_role)
                resp_error(r, 403, "E_FORBIDDEN", "the operator key manages organizations, not TSSs");
            else
                tss_sub(q, r, rest, nrest);
            return;
        }
        api_routes[i].fn(q, r, rest, nrest);
        return;
    }
    resp_error(r, 404, "E_NOT_FOUND", "no such route: %s %s", q->method, q->path);
}
