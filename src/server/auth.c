/*
 * auth.c - API keys, access tokens and per-key rate limits.
 *
 * POST /api/v2/auth exchanges {api_key, api_secret} (or {refresh_token}) for
 * a bearer token. Tokens are stateless: "<kind>.<key_id>.<org_id>.<expiry>.
 * <env>.<HMAC-SHA256 hex>" keyed with a secret derived from the master key, so
 * they survive restarts and cost no lookup; env is the key's environment
 * (TEST or LIVE; a token of the form before environments is LIVE). Each key
 * has a token bucket (rate and burst = --rate-limit requests per second) and
 * a revoked flag, so a revoked key's tokens stop working at once.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct rate_bucket {
    int64_t key_id;
    double tokens;
    double last;
    int revoked;
    struct rate_bucket *next;
};

/* The bucket of key_id, made on first use; under rate_mu. NULL: no memory. */
static struct rate_bucket *bucket(srv *s, int64_t key_id)
{
    struct rate_bucket *b = s->rate;
    while (b && b->key_id != key_id)
        b = b->next;
    if (!b && (b = calloc(1, sizeof *b))) {
        b->key_id = key_id;
        b->tokens = s->cfg.rate_limit;
        b->last = now_mono();
        b->next = s->rate;
        s->rate = b;
    }
    return b;
}

int auth_revoke(srv *s, int64_t key_id)
{
    pthread_mutex_lock(&s->rate_mu);
    struct rate_bucket *b = bucket(s, key_id);
    if (b)
        b->revoked = 1;
    pthread_mutex_unlock(&s->rate_mu);
    return b ? 0 : -1;
}

void auth_free(srv *s)
{
    while (s->rate) {
        struct rate_bucket *n = s->rate->next;
        free(s->rate);
        s->rate = n;
    }
}

int auth_init(srv *s)
{
    FILE *f = fopen(s->master_key_path, "r");
    if (!f)
        return -1;
    char buf[200];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unsigned len = 0;
    static const char label[] = "opentsed access tokens";
    int ok = HMAC(EVP_sha256(), buf, (int)n, (const unsigned char *)label, sizeof label - 1, s->token_key, &len) != NULL;
    OPENSSL_cleanse(buf, sizeof buf);
    if (!ok || len != 32)
        return -1;
    /* Revoked keys stay revoked across restarts. */
    json_t *keys = rec_list(s, "apikey", NULL, 0, 0), *k;
    size_t i;
    int rc = keys ? 0 : -1;
    json_array_foreach(keys, i, k) {
        if (!rc && json_integer_value(json_object_get(k, "revoked")) != 0)
            rc = auth_revoke(s, json_integer_value(json_object_get(k, "id")));
    }
    json_decref(keys);
    return rc;
}

static void token_mac(srv *s, const char *body, char out[65])
{
    uint8_t mac[32];
    unsigned len = 0;
    if (!HMAC(EVP_sha256(), s->token_key, 32, (const unsigned char *)body, strlen(body), mac, &len))
        memset(mac, 0, sizeof mac);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

static void token_make(srv *s, const char *kind, const srv_principal *who, int64_t exp, char *out, size_t cap)
{
    char body[128], mac[65];
    snprintf(body, sizeof body, "%s.%" PRId64 ".%" PRId64 ".%" PRId64 ".%s", kind, who->key_id, who->org_id, exp,
             strcmp(who->env, "TEST") == 0 ? "TEST" : "LIVE");
    token_mac(s, body, mac);
    snprintf(out, cap, "%s.%s", body, mac);
}

/* 0 ok, -1 malformed or forged, -2 expired. */
static int token_check(srv *s, const char *tok, const char *kind, srv_principal *who)
{
    char copy[256];
    if (strlen(tok) >= sizeof copy)
        return -1;
    snprintf(copy, sizeof copy, "%s", tok);
    char *dot = strrchr(copy, '.');
    if (!dot)
        return -1;
    *dot = 0;
    char mac[65];
    token_mac(s, copy, mac);
    if (!ct_streq(mac, dot + 1))
        return -1;
    char k[16], env[8] = "LIVE";
    int64_t key_id, org_id, exp;
    int n = sscanf(copy, "%15[a-z].%" SCNd64 ".%" SCNd64 ".%" SCNd64 ".%7[A-Z]", k, &key_id, &org_id, &exp, env);
    if (n < 4 || strcmp(k, kind) != 0 || (strcmp(env, "TEST") != 0 && strcmp(env, "LIVE") != 0))
        return -1;
    if (exp < now_s())
        return -2;
    who->key_id = key_id;
    who->org_id = org_id;
    who->operator_role = org_id == 0;
    snprintf(who->env, sizeof who->env, "%s", env);
    return 0;
}

/* 0 ok, -1 rate-limited (*retry_after set), -2 revoked. */
static int rate_take(srv *s, int64_t key_id, int *retry_after)
{
    double rate = s->cfg.rate_limit, now = now_mono();
    int rc = 0;
    pthread_mutex_lock(&s->rate_mu);
    struct rate_bucket *b = bucket(s, key_id);
    if (b && b->revoked) {
        rc = -2;
    } else if (b && rate > 0) {
        b->tokens = fmin(rate, b->tokens + (now - b->last) * rate);
        b->last = now;
        if (b->tokens >= 1) {
            b->tokens -= 1;
        } else {
            rc = -1;
            *retry_after = (int)ceil((1 - b->tokens) / rate);
            if (*retry_after < 1)
                *retry_after = 1;
        }
    }
    pthread_mutex_unlock(&s->rate_mu);
    return rc;
}

int auth_require(srv_req *q, srv_resp *r)
{
    const char *h = req_header(q, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0) {
        resp_error(r, 401, "E_UNAUTHORIZED", "missing Authorization: Bearer <access_token>");
        return -1;
    }
    int rc = token_check(q->s, h + 7, "a", &q->who);
    if (rc == -2) {
        resp_error(r, 401, "E_TOKEN_EXPIRED", "the access token has expired; POST /api/v2/auth again");
        return -1;
    }
    if (rc) {
        resp_error(r, 401, "E_UNAUTHORIZED", "invalid access token");
        return -1;
    }
    int retry = 1;
    rc = rate_take(q->s, q->who.key_id, &retry);
    if (rc == -2) {
        resp_error(r, 401, "E_UNAUTHORIZED", "the API key of this token has been revoked");
        return -1;
    }
    if (rc) {
        resp_error(r, 429, "E_RATE_LIMITED", "more than %.0f requests per second for this API key",
                   q->s->cfg.rate_limit);
        r->retry_after = retry;
        return -1;
    }
    q->authenticated = 1;
    return 0;
}

/* What the token says, as the market API's access_token_claims: the
 * environment and the organization (its id as a string, and its name). */
static json_t *token_claims(srv *s, const srv_principal *who)
{
    char org[24];
    snprintf(org, sizeof org, "%" PRId64, who->org_id);
    json_t *c = json_pack("{s:s, s:s}", "env", who->env, "organization_id", org), *o = NULL;
    if (c && who->org_id && rec_get(s, "org", org, &o) == 1 && json_is_string(json_object_get(o, "name")))
        json_object_set(c, "organization_name", json_object_get(o, "name"));
    json_decref(o);
    return c;
}

static json_t *token_response(srv *s, srv_principal *who)
{
    int64_t now = now_s();
    char at[256], rt[256];
    token_make(s, "a", who, now + s->cfg.token_ttl, at, sizeof at);
    token_make(s, "r", who, now + 86400, rt, sizeof rt);
    return json_pack("{s:s, s:o, s:I, s:I, s:s, s:I, s:I, s:s, s:I, s:s}", "access_token", at,
                     "access_token_claims", token_claims(s, who), "access_token_expires_in",
                     (json_int_t)s->cfg.token_ttl, "access_token_expires_at", (json_int_t)(now + s->cfg.token_ttl),
                     "refresh_token", rt, "refresh_token_expires_in", (json_int_t)86400,
                     "refresh_token_expires_at", (json_int_t)(now + 86400), "role",
                     who->org_id == 0 ? "OPERATOR" : "ORGANIZATION", "organization_id", (json_int_t)who->org_id,
                     "env", who->env);
}

/* POST /api/v2/auth */
void routes_auth(srv_req *q, srv_resp *r, char **seg, int nseg)
{
    (void)seg;
    if (nseg != 1 || strcmp(q->method, "POST") != 0) {
        resp_error(r, 404, "E_NOT_FOUND", "use POST /api/v2/auth");
        return;
    }
    json_t *j = req_json(q, r);
    if (!j)
        return;
    const char *key = json_string_value(json_object_get(j, "api_key"));
    const char *secret = json_string_value(json_object_get(j, "api_secret"));
    const char *refresh = json_string_value(json_object_get(j, "refresh_token"));
    srv_principal who = {0};
    if (refresh) {
        int retry = 0;
        if (token_check(q->s, refresh, "r", &who) || rate_take(q->s, who.key_id, &retry) == -2) {
            resp_error(r, 401, "E_UNAUTHORIZED", "invalid or expired refresh token");
            json_decref(j);
            return;
        }
    } else if (key && secret) {
        char want[65], have[65] = "";
        sha256_hex(secret, want);
        json_t *k = NULL;
        int found = rec_get(q->s, "apikey", key, &k) == 1 && !json_integer_value(json_object_get(k, "revoked")) != 0;
        if (found) {
            who.key_id = json_integer_value(json_object_get(k, "id"));
            who.org_id = json_integer_value(json_object_get(k, "org_id"));
            const char *env = json_string_value(json_object_get(k, "env"));   /* none: a key of before, LIVE */
            snprintf(who.env, sizeof who.env, "%s", env && strcmp(env, "TEST") == 0 ? "TEST" : "LIVE");
            snprintf(have, sizeof have, "%s", json_string_value(json_object_get(k, "secret_hash")) ?: "");
        }
        json_decref(k);
        if (!found || !ct_streq(want, have)) {
            resp_error(r, 401, "E_UNAUTHORIZED", "unknown api_key or wrong api_secret");
            json_decref(j);
            return;
        }
    } else {
        resp_error(r, 400, "E_BAD_REQUEST", "give api_key and api_secret, or refresh_token");
        json_decref(j);
        return;
    }
    resp_json(r, 200, token_response(q->s, &who));
    json_decref(j);
}
