/*
 * remote_impl.h - what the files of the "http(s):" transport share: the
 * handle (session, TSS id, the transaction number -> tx id/revision map) and
 * small JSON and encoding helpers.
 */
#ifndef OPENTSE_CLIENT_REMOTE_IMPL_H
#define OPENTSE_CLIENT_REMOTE_IMPL_H

#include <jansson.h>
#include <pthread.h>

#include "base/encode.h"
#include "base/text.h"
#include "client/http.h"
#include "client/remote.h"

/* A transaction this handle knows: its id and last revision on the server. */
typedef struct remote_tx {
    uint64_t number;
    char id[37];
    uint32_t revision;
    bool unsure;      /* the last request's answer was lost: ask the server */
} remote_tx;

struct remote {
    http *h;
    char tss[37];
    char tss_path[48];          /* "/tss/<uuid>": read it with TSS_PATH() */
    pthread_mutex_t mu;         /* guards txs, tss and tss_path */
    remote_tx *txs;
    size_t n_txs, cap_txs;
    /* The last operation whose answer never came (pend_rev 0: none), to
     * repeat it with the same tx id and revision. Guarded by mu. */
    uint8_t pend_digest[32];
    uint64_t pend_number;       /* 0: a start */
    char pend_id[37];
    uint32_t pend_rev;
};

/* A copy of tss_path taken under mu, into buf: a successor may switch the
 * handle to another TSS from another thread while a request is made. */
const char *remote_tss_path(remote *r, char buf[48]);
#define TSS_PATH(r) remote_tss_path((r), (char[48]){0})

/* A new random UUID (v4) into out. */
void remote_random_uuid(char out[37]);
/* The client's UUID on the server, derived from its id (serial_number). */
void remote_client_uuid(const char *client_id, char out[37]);
/* base64 of bytes (malloc'd) / bytes of base64 (malloc'd, length in *n). */
uint8_t *remote_unb64(const char *s, size_t *n);
/* Seconds since the epoch of a JSON time: an integer or "YYYY-MM-DDThh:mm:ss...Z". */
int64_t remote_json_time(json_t *v);
/* GET /tss/{id}. */
tse_err remote_get_tss(remote *r, json_t **out);

#endif /* OPENTSE_CLIENT_REMOTE_IMPL_H */
