/*
 * util.c - small helpers of opentsed: ids, randomness, base64, time text,
 * hashing, constant-time comparison and the per-resource locks.
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

int uuid_ok(const char *s)
{
    return engine_is_uuid(s);
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

char *b64_encode(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

uint8_t *b64_decode(const char *s, size_t *n)
{
    size_t len = strlen(s);
    if (len % 4)
        return NULL;
    uint8_t *out = malloc(len / 4 * 3 + 1);
    if (!out)
        return NULL;
    int r = len ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)len) : 0;
    if (r < 0) {
        free(out);
        return NULL;
    }
    size_t pad = 0;
    if (len && s[len - 1] == '=')
        pad++;
    if (len > 1 && s[len - 2] == '=')
        pad++;
    *n = (size_t)r - pad;
    return out;
}

void time_iso(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm))
        snprintf(out, cap, "1970-01-01T00:00:00.000Z");
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
