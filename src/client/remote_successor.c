/*
 * remote_successor.c - successor TSSs over "http(s):": creating one in one
 * step (POST /tss/{id}/successor) and following the link. When the TSS a
 * handle names has been disabled for its successor, a new transaction goes
 * to the successor (GET /tss/{id} names it in `successor`), so a register
 * keeps signing without a configuration change; transactions already open
 * finish on the old TSS, which is disabled only after they have.
 */
#include <stdio.h>
#include <string.h>

#include "client/remote_impl.h"
#include "engine/engine.h"

static void switch_to(remote *r, const char *id)
{
    pthread_mutex_lock(&r->mu);
    snprintf(r->tss, sizeof r->tss, "%s", id);
    snprintf(r->tss_path, sizeof r->tss_path, "/tss/%s", id);
    r->n_txs = 0;   /* numbers start again on the successor */
    pthread_mutex_unlock(&r->mu);
}

tse_err remote_create_successor(remote *r, const char *admin_pin, char successor_id[37], char puk_out[TSE_PUK_LEN + 1])
{
    if (!admin_pin || !successor_id || !puk_out)
        return engine_fail(TSE_ERR_INVALID_ARGUMENT, "admin_pin, successor_id and puk_out are required");
    char path[80];
    snprintf(path, sizeof path, "%s/successor", TSS_PATH(r));
    json_t *body = json_pack("{s:s}", "admin_pin", admin_pin), *resp = NULL;
    tse_err rc = body ? http_call(r->h, "POST", path, body, false, &resp) : TSE_ERR_NO_MEMORY;
    json_decref(body);
    if (rc)
        return rc;
    const char *id = json_string_value(json_object_get(resp, "_id"));
    const char *puk = json_string_value(json_object_get(resp, "admin_puk"));
    if (!id || strlen(id) != 36) {
        json_decref(resp);
        return engine_fail(TSE_ERR_INTERNAL, "the server's answer names no successor");
    }
    snprintf(successor_id, 37, "%s", id);
    snprintf(puk_out, TSE_PUK_LEN + 1, "%s", puk ? puk : "");
    json_decref(resp);
    return TSE_OK;
}

bool remote_follow_successor(remote *r)
{
    json_t *j = NULL;
    if (remote_get_tss(r, &j) != TSE_OK)
        return false;
    const char *state = json_string_value(json_object_get(j, "state"));
    const char *next = json_string_value(json_object_get(j, "successor"));
    bool moved = state && !strcmp(state, "DISABLED") && next && strlen(next) == 36;
    if (moved)
        switch_to(r, next);
    json_decref(j);
    return moved;
}
