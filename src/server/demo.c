/*
 * demo.c - `opentsed --demo`: on a fresh data directory creates a demo
 * organization with an API key, a TSS taken to INITIALIZED (admin PIN set
 * with the PUK) and a registered client, all of the TEST environment, and
 * writes DATA_DIR/demo.json {api_key, api_secret, tss_id, client_id,
 * client_serial, admin_pin, env} (mode 0600). The client's UUID is the one every face derives from its serial
 * number (engine_client_uuid), so the CLI, libopentse and curl all reach it.
 * demo_print shows them, with a curl and an `opentse` example, once the
 * service listens; every start prints the saved demo.json again.
 */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

static const char demo_serial[] = "DEMO-KASSE-01";

static const char *field(json_t *d, const char *name)
{
    const char *v = json_string_value(json_object_get(d, name));
    return v ? v : "";
}

/* `host` is HOST:PORT as it listens (the real port when --listen said 0). */
static void print_demo(srv *s, json_t *d, const char *host)
{
    const char *scheme = s->cfg.tls_cert[0] ? "https" : "http";
    const char *serial = json_object_get(d, "client_serial") ? field(d, "client_serial") : demo_serial;
    printf("\ndemo organization ready (saved in %s/demo.json):\n", s->cfg.data_dir);
    printf("  api_key       %s\n  api_secret    %s\n  tss_id        %s\n  client_id     %s\n"
           "  client_serial %s\n  admin_pin     %s\n\n",
           field(d, "api_key"), field(d, "api_secret"), field(d, "tss_id"), field(d, "client_id"), serial,
           field(d, "admin_pin"));
    printf("try it (a receipt: start, then finish):\n"
           "  TOKEN=$(curl -s -X POST %s://%s/api/v2/auth -H 'Content-Type: application/json' \\\n"
           "    -d '{\"api_key\":\"%s\",\"api_secret\":\"%s\"}' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n"
           "  TX=$(cat /proc/sys/kernel/random/uuid)\n"
           "  curl -s -X PUT \"%s://%s/api/v2/tss/%s/tx/$TX?tx_revision=1\" -H \"Authorization: Bearer $TOKEN\" \\\n"
           "    -d '{\"state\":\"ACTIVE\",\"client_id\":\"%s\"}'\n"
           "  curl -s -X PUT \"%s://%s/api/v2/tss/%s/tx/$TX?tx_revision=2\" -H \"Authorization: Bearer $TOKEN\" \\\n"
           "    -d '{\"state\":\"FINISHED\",\"client_id\":\"%s\",\"schema\":{\"standard_v1\":{\"receipt\":"
           "{\"receipt_type\":\"RECEIPT\",\"amounts_per_vat_rate\":[{\"vat_rate\":\"NORMAL\",\"amount\":\"21.42\"}],"
           "\"amounts_per_payment_type\":[{\"payment_type\":\"CASH\",\"amount\":\"21.42\"}]}}}}'\n\n",
           scheme, host, field(d, "api_key"), field(d, "api_secret"), scheme, host, field(d, "tss_id"),
           field(d, "client_id"), scheme, host, field(d, "tss_id"), field(d, "client_id"));
    printf("or with the command line (libopentse takes the same URL, key and secret):\n"
           "  export OPENTSE_URL=%s://%s/tss/%s OPENTSE_API_KEY=%s OPENTSE_API_SECRET=%s\n"
           "  N=$(opentse --json tx start --client %s | sed -n 's/.*\"transaction_number\": \\([0-9]*\\).*/\\1/p')\n"
           "  opentse tx finish $N --client %s --data 'Beleg^21.42_0.00_0.00_0.00_0.00^21.42:Bar'\n\n",
           scheme, host, field(d, "tss_id"), field(d, "api_key"), field(d, "api_secret"), serial, serial);
}

static int save(const char *path, json_t *d)
{
    char *text = json_dumps(d, JSON_INDENT(2));
    int fd = text ? open(path, O_WRONLY | O_CREAT | O_EXCL, 0600) : -1;
    size_t n = text ? strlen(text) : 0;
    int ok = fd >= 0 && write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (text)
        OPENSSL_cleanse(text, n);
    free(text);
    return ok ? 0 : -1;
}

static tse_err make_tss(srv *s, int64_t org, const char *tss_id, const char *client_id, const char *pin)
{
    char puk[TSE_PUK_LEN + 1];
    srv_tss *x = NULL;
    tse_err e = tss_create_env(s, tss_id, org, "TEST", puk, &x);   /* demo data: never mistaken for production */
    if (!e)
        e = engine_set_admin_pin(x->e, puk, pin);
    OPENSSL_cleanse(puk, sizeof puk);
    if (!e)
        e = engine_authenticate_user(x->e, TSE_USER_ADMIN, pin, NULL, NULL);
    if (!e)
        e = engine_initialize(x->e, "OpenTSE demo");
    if (!e)
        e = client_put(s, x, client_id, demo_serial);
    if (!e)
        e = engine_logout(x->e, TSE_USER_ADMIN);
    return e;
}

int demo_setup(srv *s, int fresh, const char *host)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/demo.json", s->cfg.data_dir);
    json_t *d = NULL;
    /* another node of the deployment made it: the same demo here */
    if (!fresh && rec_get(s, "demo", "demo", &d) == 1) {
        if (access(path, F_OK) != 0 && save(path, d)) {
            fprintf(stderr, "opentsed: --demo: cannot write %s\n", path);
            json_decref(d);
            return -1;
        }
        print_demo(s, d, host);
        json_decref(d);
        return 0;
    }
    if (!fresh) {
        if (!(d = json_load_file(path, 0, NULL))) {
            fprintf(stderr, "opentsed: --demo: %s is not a fresh data directory and has no demo.json; "
                            "starting without a demo\n", s->cfg.data_dir);
            return 0;
        }
        print_demo(s, d, host);
        json_decref(d);
        return 0;
    }
    char key[33], secret[65], tss_id[37], client_id[37], pin[9];
    int64_t org = auth_create_org(s, "demo");
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        abort(); /* as random_hex: no guessable ids */
    engine_uuid_format(b, 4, tss_id);
    engine_client_uuid(demo_serial, client_id);
    random_hex(pin, 4);
    for (int i = 0; i < 8; i++)
        pin[i] = (char)('0' + (unsigned char)pin[i] % 10);
    tse_err e = TSE_OK;
    if (org < 0 || auth_create_key_env(s, org, "TEST", key, secret) ||
        (e = make_tss(s, org, tss_id, client_id, pin))) {
        fprintf(stderr, "opentsed: --demo failed: %s %s\n", e ? tse_errname(e) : "cannot store the organization",
                e ? tse_last_error_message() : "");
        return -1;
    }
    d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "api_key", key, "api_secret", secret, "tss_id", tss_id,
                  "client_id", client_id, "client_serial", demo_serial, "admin_pin", pin, "env", "TEST");
    OPENSSL_cleanse(secret, sizeof secret);
    /* kept for the other nodes of the deployment (demo data only) */
    if (!d || rec_put(s, ENGINE_RECORD_PUT, "demo", "demo", NULL, 0, d) || save(path, d)) {
        fprintf(stderr, "opentsed: --demo: cannot write %s\n", path);
        json_decref(d);
        return -1;
    }
    print_demo(s, d, host);
    json_decref(d);
    return 0;
}
