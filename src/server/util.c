/*
 * util.c - small helpers of opentsed: randomness, hashing, constant-time
 * comparison, the per-resource locks and the envelope of every resource
 * answer (_type, _id, _env, _version).
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

void uuid_new(char out[37])
{
    char h[33];
    random_hex(h, 16);
    h[12] = '4';
    h[16] = "89ab"[h[16] % 4];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

void random_hex(char *out, size_t nbytes)
{
    uint8_t buf[64];
    if (nbytes > sizeof buf)
        nbytes = sizeof buf;
    if (RAND_bytes(buf, (int)nbytes) != 1)
        abort(); /* no randomness: refuse to hand out guessable secrets */
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", buf[i]);
    OPENSSL_cleanse(buf, sizeof buf);
}

void sha256_hex(const char *s, char out[65])
{
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), h);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int ct_streq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

pthread_mutex_t *id_lock(srv *s, const char *a, const char *b)
{
    uint32_t h = 2166136261u; /* FNV-1a over both ids */
    for (const char *p = a; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (const char *p = b; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return &s->id_locks[h % (sizeof s->id_locks / sizeof s->id_locks[0])];
}

void res_envelope_env(json_t *j, const char *type, const char *id, const char *env)
{
    if (!j)
        return;
    json_object_set_new(j, "_type", json_string(type));
    if (id)
        json_object_set_new(j, "_id", json_string(id));
    json_object_set_new(j, "_env", json_string(env && strcmp(env, "TEST") == 0 ? "TEST" : "LIVE"));
    json_object_set_new(j, "_version", json_string(SRV_API_VERSION));
}

void res_envelope(json_t *j, const char *type, const char *id, const srv_tss *x)
{
    res_envelope_env(j, type, id, x ? x->env : NULL);
}
