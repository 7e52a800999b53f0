/*
 * config.c - opentsed's settings: one table of options read, in rising
 * precedence, from the defaults, a config file (--config FILE, lines
 * "name = value", '#' comments), OPENTSED_<NAME> environment variables and
 * command-line flags (getopt_long: --name value, --name=value, bare --demo).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

enum opt_type { OPT_STR, OPT_INT, OPT_DOUBLE, OPT_BOOL };

typedef struct opt {
    const char *name;
    enum opt_type type;
    size_t off, size;
    const char *help;
} opt;

#define STR(f) OPT_STR, offsetof(srv_config, f), sizeof(((srv_config *)0)->f)
#define NUM(t, f) t, offsetof(srv_config, f), 0

static const opt opts[] = {
    {"data-dir", STR(data_dir), "directory of opentse.db (every TSS and the records) and master.key (required)"},
    {"store", STR(store),
     "where every TSS and the records live: sqlite: (default: DATA_DIR/opentse.db), sqlite:PATH, or "
     "postgresql://USER@HOST:PORT/DB shared by several opentsed nodes"},
    {"advertise", STR(advertise),
     "with a postgresql:// store: the URL the other nodes reach this one at (default: the listening address)"},
    {"listen", STR(listen), "HOST:PORT to listen on (default 127.0.0.1:8080)"},
    {"demo", NUM(OPT_BOOL, demo), "on a fresh data directory create a demo organization, TSS and client"},
    {"tls-cert", STR(tls_cert), "PEM certificate chain: serve HTTPS (TLS 1.2/1.3, TR-02102-2 suites)"},
    {"tls-key", STR(tls_key), "PEM private key for --tls-cert"},
    {"max-body", NUM(OPT_INT, max_body), "largest request body in bytes (default 2097152)"},
    {"rate-limit", NUM(OPT_DOUBLE, rate_limit), "requests per second per API key, 0 = off (default 10000)"},
    {"token-ttl", NUM(OPT_INT, token_ttl), "access token lifetime in seconds (default 3600)"},
    {"max-connections", NUM(OPT_INT, max_connections), "concurrent connections (default 1024)"},
    {"per-ip-connections", NUM(OPT_INT, per_ip_connections),
     "concurrent connections from one client address, below max-connections; 0 = no limit (default 32)"},
    {"header-timeout", NUM(OPT_INT, header_timeout),
     "seconds a connection has for a request's line and headers, from its opening or its previous request's end; "
     "also how long it may stay silent (default 10)"},
    {"body-timeout", NUM(OPT_INT, body_timeout), "seconds a request's body may take after its headers (default 30)"},
    {"access-log", NUM(OPT_BOOL, access_log), "JSON access log on stderr, 0 or 1 (default 1)"},
    {"shutdown-grace", NUM(OPT_INT, shutdown_grace), "seconds SIGTERM waits for requests in flight (default 30)"},
    {"cert-validity", NUM(OPT_INT, cert_validity),
     "seconds the built-in CA's certificate of a new TSS is valid (default 315360000, 10 years)"},
    {"log-format", NUM(OPT_INT, log_format),
     "log message format of a new TSS for its whole life: 3 (TR-03151-1 v1.1.1) or 2 (v1.0.1) (default 3)"},
    {"bsi-certification-id", STR(bsi_certification_id),
     "the BSI certification id of this deployment's TSE, for the Section 146a AO report and the SMAERS line of "
     "info.csv (default: none)"},
    {"device-info", STR(device_info),
     "CSV file of the components info.csv names in exports: component,manufacturer,model,version,certification-id "
     "per line (default: this build and its OpenSSL)"},
    {"update-key", STR(update_key),
     "PEM public key that signs update packages (updateDevice, POST .../update-device); without it every update "
     "is refused (default: none)"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static const opt *find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

static int bool_word(const char *v)
{
    static const char *words[] = {"0", "1", "true", "false", "yes", "no", "on", "off"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(v, words[i]) == 0)
            return 1;
    return 0;
}

static int set(srv_config *c, const opt *o, const char *v, const char *where)
{
    char *p = (char *)c + o->off, *end = NULL;
    errno = 0;
    switch (o->type) {
    case OPT_STR:
        if (strlen(v) >= o->size)
            break;
        strcpy(p, v);
        return 0;
    case OPT_INT: {
        uint64_t n;
        if (!parse_u64(v, (size_t)-1, INT64_MAX, &n))
            break;
        *(long long *)p = (long long)n;
        return 0;
    }
    case OPT_DOUBLE: {
        double d = strtod(v, &end);
        if (errno || end == v || *end || d < 0)
            break;
        *(double *)p = d;
        return 0;
    }
    case OPT_BOOL:
        if (!bool_word(v))
            break;
        *(int *)p = strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0;
        return 0;
    }
    fprintf(stderr, "opentsed: %s: bad value \"%s\" for %s\n", where, v, o->name);
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static int load_file(srv_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "opentsed: cannot read config %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[2048], where[1100];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "opentsed: %s: expected name = value\n", where);
            rc = -1;
            break;
        }
        *eq = 0;
        char *name = trim(s);
        const opt *o = find(name, strlen(name));
        if (!o) {
            fprintf(stderr, "opentsed: %s: unknown setting \"%s\"\n", where, name);
            rc = -1;
            break;
        }
        rc = set(c, o, trim(eq + 1), where);
    }
    fclose(f);
    return rc;
}

/* The command line, through getopt_long: every setting of the table as
 * --name VALUE or --name=VALUE; a boolean also bare or followed by a boolean
 * word. --config was read before, --help answered before. */
static int parse_flags(srv_config *c, int argc, char **argv)
{
    struct option longopts[N_OPTS + 3];
    for (size_t i = 0; i < N_OPTS; i++)
        longopts[i] = (struct option){opts[i].name, opts[i].type == OPT_BOOL ? optional_argument : required_argument,
                                      NULL, (int)i};
    longopts[N_OPTS] = (struct option){"config", required_argument, NULL, 'c'};
    longopts[N_OPTS + 1] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[N_OPTS + 2] = (struct option){0};
    optind = 1;
    opterr = 0;
    for (;;) {
        int prev = optind, k = getopt_long(argc, argv, "+:h", longopts, NULL);
        if (k == -1)
            break;
        if (k == 'c' || k == 'h')
            continue;
        if (k == '?' || k == ':') {
            const char *a = prev < argc ? argv[prev] : "";
            fprintf(stderr, "opentsed: %s %.*s (see --help)\n", k == ':' ? "a value is needed for" : "unknown option",
                    (int)strcspn(a, "="), a);
            return -1;
        }
        const opt *o = &opts[k];
        const char *v = optarg;
        if (!v) /* bare --flag, or --flag 0|1|true|false|... */
            v = optind < argc && bool_word(argv[optind]) ? argv[optind++] : "1";
        if (set(c, o, v, "command line"))
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "opentsed: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    printf("usage: opentsed --data-dir DIR [--listen HOST:PORT] [--demo] [--config FILE] [options]\n"
           "       opentsed new-operator-key --data-dir DIR   (service stopped: revoke the operator keys, print a new one)\n"
           "       opentsed --version\n\n");
    for (size_t i = 0; i < N_OPTS; i++)
        printf("  --%-16s %s\n", opts[i].name, opts[i].help);
    printf("  --%-16s %s\n", "config", "file of \"name = value\" lines with the settings above");
    printf("\nEvery setting can also be given as OPENTSED_<NAME> (e.g. OPENTSED_DATA_DIR,\n"
           "OPENTSED_RATE_LIMIT); flags win over the environment, which wins over the file.\n");
}

int config_load(srv_config *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
    c->max_body = 2 * 1024 * 1024;
    c->rate_limit = 10000;
    c->token_ttl = 3600;
    c->max_connections = 1024;
    c->per_ip_connections = 32;
    c->header_timeout = 10;
    c->body_timeout = 30;
    c->access_log = 1;
    c->shutdown_grace = 30;
    c->cert_validity = 315360000;
    c->log_format = 3;

    const char *file = getenv("OPENTSED_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("opentsed %s\n", OPENTSE_VERSION);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && load_file(c, file))
        return -1;

    for (size_t i = 0; i < N_OPTS; i++) {
        char env[64] = "OPENTSED_";
        for (size_t k = 0; opts[i].name[k] && k < 40; k++)
            env[9 + k] = opts[i].name[k] == '-' ? '_' : (char)toupper((unsigned char)opts[i].name[k]);
        const char *v = getenv(env);
        if (v && set(c, &opts[i], v, env))
            return -1;
    }

    if (parse_flags(c, argc, argv))
        return -1;
    if (!c->data_dir[0]) {
        fprintf(stderr, "opentsed: --data-dir DIR is required (see --help)\n");
        return -1;
    }
    if (c->log_format != 2 && c->log_format != 3) {
        fprintf(stderr, "opentsed: --log-format %lld: 2 or 3\n", c->log_format);
        return -1;
    }
    if (!c->tls_cert[0] != !c->tls_key[0]) {
        fprintf(stderr, "opentsed: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (c->max_body < 1024 || c->max_connections < 1) {
        fprintf(stderr, "opentsed: max-body must be at least 1024 and max-connections at least 1\n");
        return -1;
    }
    if (c->per_ip_connections >= c->max_connections) { /* one address must leave room for the others */
        fprintf(stderr, "opentsed: per-ip-connections (%lld) must be below max-connections (%lld), or 0 for no limit\n",
                c->per_ip_connections, c->max_connections);
        return -1;
    }
    if (c->header_timeout < 1 || c->header_timeout > 86400 || c->body_timeout < 1 || c->body_timeout > 86400) {
        fprintf(stderr, "opentsed: header-timeout and body-timeout must be 1 to 86400 seconds\n");
        return -1;
    }
    return 0;
}
