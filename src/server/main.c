/*
 * main.c - opentsed: the cloud TSE over HTTP. Reads the settings, prepares
 * the data directory (master key, opentse.db: every TSS and the records, migrated
 * once from the older layout), opens every TSS, serves
 * HTTP(S) on libmicrohttpd with a thread per connection, and only then, with
 * the service really up, creates and prints the operator key (first start)
 * and the --demo organization. On SIGTERM/SIGINT stops accepting, lets the
 * requests in flight finish, closes every engine (which flushes) and exits 0.
 *
 * `opentsed new-operator-key --data-dir DIR` (service stopped) revokes the
 * operator keys and prints a new one: the way back from a lost key, and on
 * a fresh directory the way to see the first one on a terminal, not in the
 * service's journal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/export.h"
#include "server.h"
#ifdef OPENTSE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
static int sd_notify(int unset, const char *state)
{
    (void)unset;
    (void)state;
    return 0;
}
#endif

/* http.c */
enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_size, void **con_cls);
void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe);

/* BSI TR-02102-2: TLS 1.2 and 1.3 only; (EC)DHE key exchange; AES-GCM/CCM
 * (and AES-CBC with SHA-2 on TLS 1.2); SHA-2; NIST and brainpool curves. */
static const char tls_priorities[] =
    "NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:"
    "+AES-256-GCM:+AES-128-GCM:+AES-256-CCM:+AES-128-CCM:+AES-256-CBC:+AES-128-CBC:"
    "+AEAD:+SHA384:+SHA256:+COMP-NULL:"
    "+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-FFDHE3072:+GROUP-FFDHE4096:"
    "+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-ECDSA-SECP521R1-SHA512:"
    "+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384:+SIGN-RSA-PSS-RSAE-SHA512:"
    "+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:+SIGN-RSA-SHA512:+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SHA384:"
    "+SIGN-ECDSA-SHA512:+CTYPE-X509:%SAFE_RENEGOTIATION";

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = len + 4096 + 1 + cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

/* DATA_DIR/master.key: 32 random bytes as hex, mode 0600, made once. */
static int master_key(srv *s, int fresh, int *made)
{
    snprintf(s->master_key_path, sizeof s->master_key_path, "%s/master.key", s->cfg.data_dir);
    *made = 0;
    if (access(s->master_key_path, F_OK) == 0)
        return 0;
    if (!fresh) {   /* another node made the deployment: its key, not a new one */
        fprintf(stderr, "opentsed: %s is missing; the store %s already holds a deployment: copy its master.key "
                        "(mode 0600) from the node that made it\n", s->master_key_path,
                s->cfg.store[0] ? s->cfg.store : "opentse.db");
        return -1;
    }
    if (tse_create_master_key(s->master_key_path) != TSE_OK) {
        fprintf(stderr, "opentsed: %s\n", tse_last_error_detail());
        return -1;
    }
    *made = 1;
    return 0;
}

/* The deployment is its store together with the master key that made it.
 * The first start records a check value derived from its master key,
 * insert-only: of nodes starting at once on an empty store exactly one
 * makes the deployment (*fresh stays 1 for it alone, also when its first
 * start ended early; the others get -1: the operator key and the demo are
 * the first one's), and every node whose master key is not the
 * deployment's refuses to start (a key it has just made is removed). */
static int deployment_key(srv *s, int *fresh, int made_key)
{
    static const char label[] = "opentsed deployment";
    uint8_t mac[32];
    unsigned len = 0;
    char check[65];
    if (!HMAC(EVP_sha256(), s->token_key, 32, (const unsigned char *)label, sizeof label - 1, mac, &len))
        return -1;
    tse_hex(mac, sizeof mac, check);
    json_t *v = json_pack("{s:s, s:s, s:I}", "check", check, "node", s->node_id, "time", (json_int_t)now_s()),
           *had = NULL;
    int rc = v ? rec_put(s, ENGINE_RECORD_INSERT, "deployment", "key", NULL, 0, v) : -1;
    json_decref(v);
    if (rc == 0)
        return 0;   /* the first start of this deployment, or of this build on it */
    if (rc < 0 || rec_get(s, "deployment", "key", &had) != 1) {
        fprintf(stderr, "opentsed: cannot read the deployment's record: %s\n", tse_last_error_message());
        json_decref(had);
        return -1;
    }
    int same = !strcmp(json_string_value(json_object_get(had, "check")) ?: "", check);
    int ours = !strcmp(json_string_value(json_object_get(had, "node")) ?: "", s->node_id);
    json_decref(had);
    if (*fresh && !ours)
        *fresh = -1;   /* another node is making it: its operator key and demo */
    if (same)
        return 0;
    fprintf(stderr, "opentsed: %s is not the master key of the deployment in %s%s: copy master.key (mode 0600) "
                    "from the node that made it\n", s->master_key_path, s->cfg.store[0] ? s->cfg.store : "opentse.db",
            made_key ? " (another node made it first; the key just made is removed)" : "");
    if (made_key)
        unlink(s->master_key_path);
    return -1;
}

/* The data directory holds keys, PIN records and logs: owner only, also
 * for files an older release made readable by others. */
static void owner_only(const char *dir)
{
    if (chmod(dir, 0700) != 0)
        fprintf(stderr, "opentsed: cannot chmod %s: %s\n", dir, strerror(errno));
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[1400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || lstat(path, &st) != 0 || (st.st_mode & 077) == 0)
            continue;
        if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) && chmod(path, st.st_mode & 0700) == 0)
            fprintf(stderr, "opentsed: %s was readable by others; now owner only\n", path);
    }
    if (d)
        closedir(d);
}

/* One opentsed per data directory: an exclusive lock held until exit. */
static int lock_data_dir(srv *s)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/opentsed.lock", s->cfg.data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "opentsed: %s is in use by another opentsed (%s)\n", s->cfg.data_dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return 0; /* the descriptor stays open: the lock lives as long as the process */
}

/* The operator key is created on the first start, once the service listens,
 * and printed this once; `renew` revokes the existing ones first. */
static int operator_key(srv *s, int renew)
{
    json_t *keys = rec_list(s, "apikey", "0", 0, 0), *k;
    size_t i;
    int live = 0, failed = !keys;
    json_array_foreach(keys, i, k) {
        if (json_integer_value(json_object_get(k, "revoked")))
            continue;
        if (renew)
            failed |= auth_revoke_key(s, json_string_value(json_object_get(k, "_key")), 0) != 0;
        else
            live++;
    }
    json_decref(keys);
    if (failed)
        return -1;
    if (live > 0)
        return 0;
    char key[33], secret[65];
    if (auth_create_key(s, 0, key, secret))
        return -1;
    printf("operator api_key:    %s\noperator api_secret: %s\n"
           "(shown once: it manages organizations and their API keys; if it is lost, stop the service and run\n"
           " opentsed new-operator-key --data-dir %s)\n",
           key, secret, s->cfg.data_dir);
    OPENSSL_cleanse(secret, sizeof secret);
    return 0;
}

/* As root, the recovery command works as the owner of the data directory,
 * so the files it touches stay the service's. */
static int become_owner(const char *dir)
{
    struct stat st;
    if (geteuid() != 0 || stat(dir, &st) != 0 || st.st_uid == 0)
        return 0;
    if (setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0) {
        fprintf(stderr, "opentsed: cannot switch to the owner of %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1] || (size_t)(colon - listen) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    char *h = host;
    size_t hl = strlen(h);
    if (h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = 0;
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    if (getaddrinfo(h, colon + 1, &hints, &ai) != 0)
        return -1;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* Serves on --listen; writes the address it really listens on ("HOST:PORT",
 * the port chosen by the system for port 0) to `bound`. */
static struct MHD_Daemon *start_http(srv *s, char **tls_cert, char **tls_key, char *bound, size_t bound_cap)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (parse_listen(s->cfg.listen, &ss, &sslen)) {
        fprintf(stderr, "opentsed: --listen %s: expected HOST:PORT\n", s->cfg.listen);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    int tls = s->cfg.tls_cert[0] != 0;
    if (tls) {
        *tls_cert = read_text(s->cfg.tls_cert);
        *tls_key = read_text(s->cfg.tls_key);
        if (!*tls_cert || !*tls_key) {
            fprintf(stderr, "opentsed: cannot read %s\n", *tls_cert ? s->cfg.tls_key : s->cfg.tls_cert);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, *tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, *tls_key},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
    uint16_t port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, port, NULL, NULL, http_handler, s, MHD_OPTION_ARRAY, http_options(s), MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, http_completed, s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->cfg.max_connections, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_ARRAY, tls ? tls_opts : none, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "opentsed: cannot listen on %s%s\n", s->cfg.listen,
                tls ? " (or the TLS certificate/key is unusable)" : "");
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(bound, bound_cap, "%s://%.*s:%u", tls ? "https" : "http",
             (int)(strrchr(s->cfg.listen, ':') - s->cfg.listen), s->cfg.listen, info ? info->port : port);
    return d;
}

/* SIGTERM: no new connections, no new requests on open ones (503), wait for
 * the requests in flight, then stop the daemon. */
static void drain(srv *s, struct MHD_Daemon *d)
{
    atomic_store(&s->stopping, 1);
    MHD_socket lfd = MHD_quiesce_daemon(d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    double deadline = now_mono() + (double)s->cfg.shutdown_grace;
    while (atomic_load(&s->in_flight) > 0 && now_mono() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d);
}

/* This node's name among the nodes of a shared store: DATA_DIR/node-id,
 * made on the first start, so that a restarted node takes its TSSs back
 * at once (the data directory's lock keeps two processes from sharing it). */
static int node_name(srv *s, char out[17])
{
    char path[1100];
    snprintf(path, sizeof path, "%s/node-id", s->cfg.data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        int ok = fscanf(f, "%16[0-9a-f]", out) == 1 && strlen(out) == 16;
        fclose(f);
        if (ok)
            return 0;
        fprintf(stderr, "opentsed: %s is not a node id (16 hex digits)\n", path);
        return -1;
    }
    random_hex(out, 8);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, out, 16) == 16 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok)
        fprintf(stderr, "opentsed: cannot write %s: %s\n", path, strerror(errno));
    return ok ? 0 : -1;
}

/* The deployment's database (--store): migrated from the old layout once,
 * then opened; sets *fresh when it holds nothing yet. */
static int open_store(srv *s, const char *dbpath, int *fresh)
{
    const char *url = s->cfg.store;
    bool local = !*url || !strcmp(url, "sqlite:");
    if (local)
        url = dbpath;
    if (!local && node_name(s, s->node_id))
        return -1;
    /* the old layout becomes dbpath; with PostgreSQL, dbpath then moves into it */
    if (migrate_legacy(s, dbpath) || engine_db_open_as(url, local ? NULL : s->node_id, &s->db) != TSE_OK) {
        if (s->db == NULL)
            fprintf(stderr, "opentsed: cannot open the store %s: %s\n", url, tse_last_error_message());
        return -1;
    }
    if (!local && migrate_to_pg(s, dbpath))
        return -1;
    uint64_t orgs = 0, keys = 0;
    if (rec_count(s, "org", NULL, &orgs) || rec_count(s, "apikey", NULL, &keys)) {
        fprintf(stderr, "opentsed: cannot read the store %s: %s\n", url, tse_last_error_message());
        return -1;
    }
    *fresh = orgs == 0 && keys == 0;
    return 0;
}

static int init_locks(srv *s)
{
    int rc = pthread_mutex_init(&s->tss_mu, NULL) | pthread_mutex_init(&s->create_mu, NULL) | pthread_mutex_init(&s->rate_mu, NULL) |
             pthread_mutex_init(&s->log_mu, NULL) | pthread_mutex_init(&s->metrics.mu, NULL);
    for (size_t i = 0; i < sizeof s->id_locks / sizeof s->id_locks[0]; i++)
        rc |= pthread_mutex_init(&s->id_locks[i], NULL);
    return rc ? -1 : 0;
}

/* Exports read the components of info.csv from OPENTSE_DEVICE_INFO and the
 * SMAERS line's certification id from OPENTSE_BSI_CERTIFICATION_ID: set
 * from the configuration before any thread runs. A malformed file stops
 * the start here rather than failing each export. */
static int device_info(const srv_config *c)
{
    if (c->bsi_certification_id[0] && setenv("OPENTSE_BSI_CERTIFICATION_ID", c->bsi_certification_id, 1) != 0)
        return 1;
    if (c->update_key[0] && engine_update_key_check(c->update_key) != TSE_OK) {
        fprintf(stderr, "opentsed: --update-key: %s\n", tse_last_error_detail());
        return 1;
    }
    if (c->update_key[0] && setenv("OPENTSE_UPDATE_KEY", c->update_key, 1) != 0)
        return 1;
    if (!c->device_info[0])
        return 0;
    tse_error err = {0};
    if (export_device_check(c->device_info, &err) != 0) {
        fprintf(stderr, "opentsed: --device-info: %s\n", err.message);
        return 1;
    }
    return setenv("OPENTSE_DEVICE_INFO", c->device_info, 1) != 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    srv *s = calloc(1, sizeof *s);
    if (!s)
        return 1;
    int renew = argc > 1 && strcmp(argv[1], "new-operator-key") == 0;
    if (renew) { /* the command's options are opentsed's: --data-dir, --config */
        argc--;
        argv++;
    }
    int rc = config_load(&s->cfg, argc, argv);
    if (rc) {
        free(s);
        return rc > 0 ? 0 : 2;
    }
    if (init_locks(s) || device_info(&s->cfg))
        return 1;
    umask(077);   /* the data directory holds keys, PIN records and logs: owner only */
    if (mkdir(s->cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "opentsed: cannot create %s: %s\n", s->cfg.data_dir, strerror(errno));
        return 1;
    }
    if ((renew && become_owner(s->cfg.data_dir)) || lock_data_dir(s))
        return 1;
    owner_only(s->cfg.data_dir);
    char dbpath[1100];
    snprintf(dbpath, sizeof dbpath, "%s/opentse.db", s->cfg.data_dir);
    int fresh = 0;

    /* Signals go to sigwait() below, not to the connection threads. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int made_key = 0;
    if (renew) { /* on a fresh directory: the first key, before the first start */
        rc = open_store(s, dbpath, &fresh) || master_key(s, fresh, &made_key) || auth_init(s) ||
             deployment_key(s, &fresh, made_key) || operator_key(s, fresh <= 0);
        if (rc)
            fprintf(stderr, "opentsed: no new operator key\n");
        engine_db_close(s->db);
        auth_free(s);   /* the revoked keys' buckets */
        free(s);
        return rc ? 1 : 0;
    }
    if (open_store(s, dbpath, &fresh) || master_key(s, fresh, &made_key) || auth_init(s) ||
        deployment_key(s, &fresh, made_key) || tss_load_all(s)) {
        fprintf(stderr, "opentsed: start-up failed\n");
        tss_close_all(s);
        engine_db_close(s->db);
        auth_free(s);
        return 1;
    }
    char *tls_cert = NULL, *tls_key = NULL, bound[330];
    atomic_store(&s->starting, 1);
    struct MHD_Daemon *d = start_http(s, &tls_cert, &tls_key, bound, sizeof bound);
    /* Secrets only now: a service that could not start shows none. */
    if (d && s->node_id[0] && proxy_register(s, s->cfg.advertise[0] ? s->cfg.advertise : bound)) {
        fprintf(stderr, "opentsed: cannot record this node in the store\n");
        MHD_stop_daemon(d);
        d = NULL;
    }
    if (!d || (fresh >= 0 && operator_key(s, 0)) ||
        (s->cfg.demo && demo_setup(s, fresh > 0, strstr(bound, "://") + 3))) {
        if (d) {
            fprintf(stderr, "opentsed: start-up failed\n");
            MHD_stop_daemon(d);
        }
        tss_close_all(s);
        engine_db_close(s->db);
        auth_free(s);
        return 1;
    }
    atomic_store(&s->starting, 0);
    successor_watch_all(s);
    printf("opentsed listening on %s\n", bound);
    sd_notify(0, "READY=1"); /* systemd's Type=notify: up, and every secret shown */
    int sig = 0;
    sigwait(&set, &sig);
    sd_notify(0, "STOPPING=1");
    fprintf(stderr, "opentsed: %s, finishing requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    drain(s, d);
    successor_watch_stop();
    tss_close_all(s);
    engine_db_close(s->db);
    auth_free(s);
    if (tls_key)
        OPENSSL_cleanse(tls_key, strlen(tls_key));
    free(tls_cert);
    free(tls_key);
    fprintf(stderr, "opentsed: stopped\n");
    free(s);
    return 0;
}
