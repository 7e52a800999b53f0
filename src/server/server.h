/*
 * server.h - shared declarations of opentsed, the cloud TSE over HTTP: the
 * process configuration, the records it keeps in the deployment's store, the registry of
 * open TSSs (one engine each), authentication, metrics and the
 * request/response helpers the route handlers use.
 *
 * Ownership: json_t values handed to resp_json() belong to the response;
 * strings returned by the helpers below are malloc'd and owned by the caller
 * unless stated otherwise.
 */
#ifndef OPENTSE_SERVER_H
#define OPENTSE_SERVER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/encode.h"
#include "base/text.h"
#include "engine/engine.h"

/* ------------------------------------------------------------ config */

typedef struct srv_config {
    char data_dir[1024];
    char store[1024];             /* --store: sqlite:[PATH] or postgresql://... */
    char advertise[256];          /* --advertise: this node's URL for the other nodes */
    char listen[300];          /* HOST:PORT */
    char tls_cert[1024], tls_key[1024];
    int demo;
    long long max_body;        /* bytes */
    double rate_limit;         /* requests per second per API key; 0 = off */
    long long token_ttl;       /* seconds */
    long long max_connections;
    long long per_ip_connections; /* of one client address; 0 = no limit */
    long long header_timeout;  /* seconds for a request's head (and the idle limit) */
    long long body_timeout;    /* seconds for a request's body after its head */
    int access_log;            /* 1: one JSON line per request on stderr */
    long long shutdown_grace;  /* seconds to wait for in-flight requests */
    long long cert_validity;   /* seconds; certificates of new TSSs (built-in CA) */
    long long log_format;      /* log message format of new TSSs: 2 or 3 */
    char bsi_certification_id[64]; /* the deployment's BSI certification id (report.c) */
    char device_info[1024];    /* --device-info: the components info.csv names (export/device_info.c) */
    char update_key[1024];     /* --update-key: the public key of update packages (engine/update.c) */
} srv_config;

/* Defaults, then --config FILE, then OPENTSED_* environment variables, then
 * flags. Returns 0, 1 after --help/--version (exit 0), -1 on a bad setting
 * (message printed). */
int config_load(srv_config *c, int argc, char **argv);

/* ------------------------------------------------------------ records */

typedef struct srv srv;

/* The server's records in the deployment's database (records.c says which
 * namespaces hold what). */

/* Reads ns/key as a JSON object: 1 found, 0 none, -1 error. */
int rec_get(srv *s, const char *ns, const char *key, json_t **out);
/* Records to commit together, their texts owned. */
#define REC_BATCH_MAX 4
#define REC_NS_LEN 80
typedef struct rec_batch {
    engine_record r[REC_BATCH_MAX];
    char *text[REC_BATCH_MAX];
    char ns[REC_BATCH_MAX][REC_NS_LEN], key[REC_BATCH_MAX][REC_NS_LEN], idx[REC_BATCH_MAX][REC_NS_LEN];
    size_t n;
} rec_batch;
/* Adds a record (value NULL for a delete); false when full or out of memory. */
bool rec_batch_add(rec_batch *b, engine_record_op op, const char *ns, const char *key, const char *idx, int64_t ord,
                   json_t *value);
/* rec_batch_add with the value already as JSON text (malloc'd, owned by the
 * batch from here on, also when false is returned). */
bool rec_batch_add_text(rec_batch *b, engine_record_op op, const char *ns, const char *key, const char *idx,
                        int64_t ord, char *text);
void rec_batch_free(rec_batch *b);
/* Commits the batch alone and frees it: 0 ok, 1 an INSERT found its record, -1 error. */
int rec_commit(srv *s, rec_batch *b);
/* One record, committed alone (as rec_commit). */
int rec_put(srv *s, engine_record_op op, const char *ns, const char *key, const char *idx, int64_t ord, json_t *v);
/* The batch commits with this thread's next engine operation (see
 * engine_records_attach); clear with engine_records_attach(NULL, NULL). */
void rec_attach(rec_batch *b);
/* The values of ns (idx == idx unless NULL) in their order, each with its
 * key as "_key"; NULL on error. limit 0: all. */
json_t *rec_list(srv *s, const char *ns, const char *idx, long offset, long limit);
int rec_count(srv *s, const char *ns, const char *idx, uint64_t *n);
/* "<kind>/<tss_id>" */
const char *rec_ns(char out[REC_NS_LEN], const char *kind, const char *tss_id);

/* ------------------------------------------------------------ identity */

typedef struct srv_principal {
    int64_t key_id;
    int64_t org_id;   /* 0 for the operator */
    int operator_role;
    char env[5];      /* the API key's environment: "TEST" or "LIVE" */
} srv_principal;

/* ------------------------------------------------------------ TSS registry */

typedef struct srv_tss {
    char id[40];
    int64_t org_id;
    engine *e;
    /* fixed for the TSS's life, cached at open */
    char env[5];                 /* "TEST" or "LIVE" (the TSS record's env; LIVE when it has none) */
    tse_curve curve;
    char serial_hex[2 * TSE_SERIAL_LEN + 1];
    char alg[32];
    tse_time_format tf;
    int log_format;              /* 2 or 3: names of the operations in responses */
    const char *time_format;     /* its name, e.g. "unixTime" */
    uint8_t point[133];          /* public key 04||X||Y */
    size_t point_len;
    char *pub_b64;
    _Atomic int64_t warned_day;  /* day (epoch days) of the last end-of-usage log line */
    struct srv_tss *next;
} srv_tss;

/* ------------------------------------------------------------ metrics */

#define METRIC_ROUTES 32
#define METRIC_BUCKETS 12
typedef struct srv_metrics {
    pthread_mutex_t mu;
    struct route_metric {
        const char *route;     /* static string */
        uint64_t by_status[6]; /* index status/100 */
        uint64_t buckets[METRIC_BUCKETS + 1];
        double sum;
        uint64_t count;
    } routes[METRIC_ROUTES];
    int n_routes;
} srv_metrics;

void metrics_observe(srv_metrics *m, const char *route, int status, double seconds);

/* ------------------------------------------------------------ server */

typedef struct srv {
    srv_config cfg;
    engine_db *db;              /* every TSS and the records (records.c) */
    char master_key_path[1100];
    uint8_t token_key[32];
    pthread_mutex_t tss_mu;     /* guards tss_list */
    pthread_mutex_t create_mu;  /* serializes TSS creation */
    srv_tss *tss_list;
    struct srv_away *away;      /* TSSs other nodes sign for (registry.c) */
    char node_id[17];           /* this node in a shared store ("" on sqlite:) */
    srv_metrics metrics;
    pthread_mutex_t id_locks[256];  /* see id_lock() */
    pthread_mutex_t rate_mu;
    struct rate_bucket *rate;
    pthread_mutex_t log_mu;
    atomic_int in_flight;
    atomic_int stopping;
    atomic_int starting;  /* 1 while main.c creates the operator key and --demo after binding: 503 */
} srv;

/* http.c: the daemon options against slow clients (per-address limit,
 * idle timeout, the head and body deadlines of header-timeout and
 * body-timeout); starts their watchdog thread on the first call. */
struct MHD_OptionItem;
const struct MHD_OptionItem *http_options(srv *s);

/* A request as the routes see it. */
typedef struct srv_req {
    srv *s;
    const char *method;
    const char *path;
    struct MHD_Connection *conn;
    const char *body;
    size_t body_len;
    srv_principal who;
    int authenticated;
    const char *route;  /* metric label, static string */
} srv_req;

/* A response: status and JSON body, or a plain text body (both owned). */
typedef struct srv_resp {
    int status;
    json_t *json;
    char *text;
    const char *content_type;
    int retry_after;
    struct MHD_Response *stream;  /* a streamed body (export.c), sent as is */
    const char *headers[9];       /* extra header name, value pairs (static strings), NULL-ended */
} srv_resp;

/* reqresp.c: reading the request, writing the response. */

/* Error response {status_code, error, code, message}. */
void resp_error(srv_resp *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Error response for an engine error: HTTP status by class, `code` the
 * market API's code (E_TSS_DISABLED, E_CLIENT_NOT_FOUND, ...), `tse_error`
 * the TR-03151 name, message the engine's detail. */
void resp_tse_error(srv_resp *r, tse_err rc);
/* Adds the TR-03151 name `tse_error` to the error response in r. */
void resp_tse_name(srv_resp *r, const char *name);
/* The market API's code for an engine error (static string). */
const char *tse_market_code(tse_err rc);
/* Takes ownership of j; NULL j gives a 500. */
void resp_json(srv_resp *r, int status, json_t *j);
/* A JSON body already written out as text (malloc'd; ownership taken). */
void resp_json_text(srv_resp *r, int status, char *text);

/* Query parameter or NULL. */
const char *req_query(srv_req *q, const char *name);
const char *req_header(srv_req *q, const char *name);
/* Every value of a repeated query parameter (e.g. "states[]"), up to max. */
int req_query_all(srv_req *q, const char *name, const char **out, int max);
/* Parses the body as a JSON object; on failure fills r with 400 and returns NULL. */
json_t *req_json(srv_req *q, srv_resp *r);
/* req_json for a body that may say nothing: an empty body or [] is {}. */
json_t *req_json_create(srv_req *q, srv_resp *r);
/* The body's optional `metadata` member: an object of at most
 * REQ_METADATA_MAX_KEYS string values, keys of 1..REQ_METADATA_MAX_KEY and
 * values of up to REQ_METADATA_MAX_VALUE characters, all valid UTF-8 (a
 * number or boolean value is taken as its text, 123 as "123"). 0 with *out
 * the checked metadata, a new object (NULL when absent); -1 and a 400
 * naming the problem. */
#define REQ_METADATA_MAX_KEYS 20
#define REQ_METADATA_MAX_KEY 40
#define REQ_METADATA_MAX_VALUE 500
int req_metadata(srv_resp *r, json_t *body, json_t **out);
/* current (NULL: none) with the metadata patch applied as a JSON merge
 * patch (a key with null is removed), checked as req_metadata: 0 with *out
 * the new metadata (a new reference), or -1 and a 400. */
int req_metadata_patch(srv_resp *r, json_t *patch, json_t *current, json_t **out);
/* The metadata a PATCH .../metadata body gives: the body itself, or its
 * member metadata when that is its only one and an object (borrowed). */
json_t *req_metadata_body(json_t *body);
/* The `states` filter of a list: states[]=X, states[0]=X.. and repeated
 * states=X (or state=X), each one of `allowed` (NULL-ended). Up to max into out; the
 * number found, or -1 and a 400 naming an unknown state. */
int req_states(srv_req *q, srv_resp *r, const char *const *allowed, const char **out, int max);
/* limit (1..100, default 100) and offset (>= 0) query parameters; -1 and a
 * 400 in r when malformed. */
int req_page(srv_req *q, srv_resp *r, long *limit, long *offset);

/* A number of digits only (no sign, space or "+") from min to max, from the
 * query, path or body parameter `name`; -1 and a 400 `code` naming it. */
int req_u64(srv_resp *r, const char *code, const char *name, const char *v, uint64_t min, uint64_t max,
            uint64_t *out);
/* 0 when obj has no member `name` or it is of `type`; else -1 and a 400
 * naming the field (`where` prefixes it, e.g. "schema.raw."). */
int req_type(srv_resp *r, json_t *obj, const char *where, const char *name, json_type type);
/* True for valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool utf8_valid(const char *s);
/* s with every byte >= 0x80 written as %XX (printable in a log); malloc'd or NULL. */
char *utf8_escape(const char *s);
/* j (an object or array) as compact JSON text, byte for byte what
 * json_dumps(j, JSON_COMPACT) writes; malloc'd, NULL without memory
 * (json_text.c). */
char *json_text(const json_t *j);
/* The largest number a JSON reader holds exactly (2^53 - 1): the bound of
 * revisions and other counters clients send. */
#define REQ_MAX_JSON_INT 9007199254740991ull

/* routes.c */
void routes_handle(srv_req *q, srv_resp *r);

/* A sub-resource of one TSS: /api/v2/tss/{id}/<name>[/...]. seg[0] = "tss",
 * seg[1] = id, seg[2] = name; the TSS exists and belongs to the caller. */
typedef void tss_route_fn(srv_req *q, srv_resp *r, srv_tss *x, char **seg, int nseg);

/* auth.c */
int auth_init(srv *s);
void routes_auth(srv_req *q, srv_resp *r, char **seg, int nseg);
/* Checks the Bearer token and the rate limit; fills r with 401/429 and
 * returns -1 on failure. */
int auth_require(srv_req *q, srv_resp *r);
/* Marks a key revoked for this process: its tokens answer 401 at once. */
int auth_revoke(srv *s, int64_t key_id);
void auth_free(srv *s);

/* orgs.c: organizations and API keys, for the operator. */
/* New API key of org_id (0 = operator); writes the key and the secret
 * (shown this once, stored hashed). */
int auth_create_key(srv *s, int64_t org_id, char key_out[33], char secret_out[65]);
/* The same in environment env ("TEST" or "LIVE"; auth_create_key: LIVE):
 * its tokens see only the TSSs of that environment. */
int auth_create_key_env(srv *s, int64_t org_id, const char *env, char key_out[33], char secret_out[65]);
int64_t auth_create_org(srv *s, const char *name);
/* Revokes API key `key` of org_id: 0 done, 1 no such key there, -1 error. */
int auth_revoke_key(srv *s, const char *key, int64_t org_id);
void routes_org(srv_req *q, srv_resp *r, char **seg, int nseg);

/* registry.c */
int tss_load_all(srv *s);
void tss_close_all(srv *s);
srv_tss *tss_find(srv *s, const char *id, int64_t org_id);
/* tss_find for the caller: a TSS of its organization and of its key's
 * environment (one of the other environment is not found). */
srv_tss *tss_find_for(srv *s, const char *id, const srv_principal *who);
/* Whether another node of the deployment signs for TSS id now (tss_find gave NULL for it). */
int tss_elsewhere(srv *s, const char *id, int64_t org_id);
/* 503 with Retry-After: TSS id is signed by another node now. */
void resp_elsewhere(srv_resp *r, const char *id);
/* proxy.c: records where this node listens; passes a request for a TSS
 * another node signs for on to it (1: answered, 0: it cannot be reached). */
int proxy_register(srv *s, const char *url);
int proxy_pass(srv_req *q, srv_resp *r, const char *tss_id);
/* The TSS of any organization (for refusing a taken id), or NULL. */
srv_tss *tss_find_any(srv *s, const char *id);
/* Creates TSS `id` of org_id; PUK to puk. Returns TSE_OK or an engine code. */
tse_err tss_create(srv *s, const char *id, int64_t org_id, char puk[TSE_PUK_LEN + 1], srv_tss **out);
/* The same in environment env ("TEST" or "LIVE"), kept for the TSS's life. */
tse_err tss_create_env(srv *s, const char *id, int64_t org_id, const char *env, char puk[TSE_PUK_LEN + 1],
                       srv_tss **out);
/* The same with the TSS's metadata (NULL: none) in its record. */
tse_err tss_create_meta(srv *s, const char *id, int64_t org_id, const char *env, json_t *metadata,
                        char puk[TSE_PUK_LEN + 1], srv_tss **out);
/* A successor of `from` (same organization and environment) with admin PIN
 * `pin` and the link record `link` (tsslink from -> id), all in the one
 * commit that creates it. */
tse_err tss_create_linked(srv *s, const char *id, const srv_tss *from, const char *pin, json_t *link,
                          char puk[TSE_PUK_LEN + 1], srv_tss **out);

/* tss.c */
void routes_tss(srv_req *q, srv_resp *r, char **seg, int nseg);
tss_route_fn routes_admin;
/* GET/PATCH /api/v2/tss/{id}/metadata */
tss_route_fn routes_tss_metadata;
/* Replaces the TSS record's metadata; 0 ok. */
int tss_set_metadata(srv *s, const char *id, json_t *meta);

/* client.c */
tss_route_fn routes_client;
/* GET /api/v2/client: the clients of all the caller's TSSs (of its environment) */
void routes_client_all(srv_req *q, srv_resp *r, char **seg, int nseg);
/* Registers client_id (UUID) with serial number `serial` in the TSE and the
 * state db. Returns TSE_OK or an engine code. */
tse_err client_put(srv *s, srv_tss *x, const char *client_id, const char *serial);
/* Client record: serial number and state ("REGISTERED"/"DEREGISTERED");
 * returns 0 if found. */
int client_lookup(srv *s, const char *tss_id, const char *client_id, char serial[TSE_MAX_CLIENT_ID_LEN + 1],
                  char state[16]);

/* tx.c */
tss_route_fn routes_tx;
/* GET /api/v2/tx: the transactions of every TSS of the caller's organization. */
void routes_tx_all(srv_req *q, srv_resp *r, char **seg, int nseg);
/* GET /api/v2/tss/{tss_id}/client/{client_id}/tx: one client's transactions. */
void routes_client_tx(srv_req *q, srv_resp *r, srv_tss *x, const char *client_id);

/* export.c: TR-03151 export archives, as jobs and streamed incrementally */
tss_route_fn routes_export;
/* export_jobs.c: GET /api/v2/export, the export jobs of every TSS of the organization */
void routes_export_list(srv_req *q, srv_resp *r, char **seg, int nseg);
/* The mark of info.csv's description in x's archives: TEST TSSs say so
 * ("TEST (not for production use)"); NULL for LIVE ones. */
const char *export_mark(const srv_tss *x);

/* ext.c: OpenTSE extensions for the SE API calls the market API lacks */
tss_route_fn routes_ext;

/* The TSS answer (GET /api/v2/tss/{id}); NULL on a read failure. */
json_t *tss_answer(srv *s, srv_tss *x);

/* successor.c: a successor TSS in one step (POST .../successor) */
tss_route_fn routes_successor;
/* Starts the watchers that retire a TSS by itself once the last open
 * transaction of a retirement its admin authorized has finished (at start);
 * successor_watch_stop waits for them to end (after `stopping` is set). */
void successor_watch_all(srv *s);
void successor_watch_stop(void);
/* The same for TSS x (taken over from another node). */
void successor_watch(srv *s, srv_tss *x);

/* registry.c: the links between TSSs and their successors. Creates their
 * table; the linked TSS of `id` (want_successor: its successor, else its
 * predecessor) into out, 1 when there is one; "successor" and "predecessor"
 * (ids; left out when there is none) set in a TSS answer. */
int tss_linked(srv *s, const char *id, int want_successor, char out[40]);
/* Sets the TSS record's description (unless NULL) and deployed (unless < 0); 0 ok. */
int tss_set_record(srv *s, const char *id, const char *desc, int deployed);
void successor_links_json(srv *s, srv_tss *x, json_t *j);

/* report.c: the Section 146a (4) AO report of a TSS (JSON or CSV) */
tss_route_fn routes_report;

/* expiry.c: the end of usage of a TSS's certificate chain */
/* {time, unix, days_left, certificate ("TSS"/"CA"), chain_index, warning_days} */
json_t *expiry_json(srv_tss *x);
/* The warning due for x (from 180 days before the end of usage), written to
 * out; also to the server log once a day. Returns 1 when there is one. */
int expiry_warning(srv_tss *x, char *out, size_t cap);
/* Adds that warning, if any, to the "warnings" array of j. */
void expiry_add_warning(srv_tss *x, json_t *j);

/* console.c: the operator's web console, static files under /ui/ (and / as a
 * redirect to it). `seg` are the path segments after "ui"; nseg -1 for "/". */
void console_serve(srv_req *q, srv_resp *r, char **seg, int nseg);
/* GET /api/v2/openapi.json: the OpenAPI document of the HTTP API (openapi.c). */
void openapi_serve(srv_req *q, srv_resp *r);

/* metrics.c: Prometheus text exposition; malloc'd or NULL. */
char *metrics_render(srv *s);

/* migrate.c: a data directory of the layout before the one store (server.db,
* tss/UUID.db) becomes dbpath once; 0 also when there is nothing to migrate. */
int migrate_legacy(srv *s, const char *dbpath);
/* With a PostgreSQL store (s->db open): the deployment in the sqlite: file
 * dbpath, if there, is copied into the store when that is empty, then the
 * file is moved into DATA_DIR/pre-store-backup/; 0 also with no file. */
int migrate_to_pg(srv *s, const char *dbpath);

/* demo.c: --demo setup on a fresh data directory (prints and writes demo.json). */
int demo_setup(srv *s, int fresh, const char *host);

/* util.c */
/* The version the market API names in its answers' `_version`. */
#define SRV_API_VERSION "2.0.0"
/* Sets the resource envelope of j: _type, _id (unless NULL), _env (x's
 * environment, "LIVE" when x is NULL) and _version. */
void res_envelope(json_t *j, const char *type, const char *id, const srv_tss *x);
/* The same with the environment given (e.g. the caller's, q->who.env, on a
 * list across TSSs); NULL or "" is LIVE. */
void res_envelope_env(json_t *j, const char *type, const char *id, const char *env);
void random_hex(char *out, size_t nbytes);
/* A new random (version 4) UUID. */
void uuid_new(char out[37]);
void sha256_hex(const char *s, char out[65]);
int64_t now_s(void);
double now_mono(void);
int ct_streq(const char *a, const char *b);
/* The lock serializing requests on one resource (e.g. TSS id + tx id);
 * different resources may share a lock. */
pthread_mutex_t *id_lock(srv *s, const char *a, const char *b);

#endif
