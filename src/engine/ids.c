/*
 * ids.c - the names both HTTP faces must agree on: a client's UUID in
 * opentsed's API is derived from its serial number (so libopentse, the CLI
 * and opentsed --demo name the same cash register the same way), and the
 * UUID text format they share.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"
#include "engine/engine.h"

void engine_uuid_format(uint8_t b[16], uint8_t version, char out[37])
{
    b[6] = (uint8_t)((b[6] & 0x0f) | (version << 4));
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char hex[33];
    tse_hex(b, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

void engine_client_uuid(const char *client_id, char out[37])
{
    if (uuid_valid(client_id)) { /* already the client's UUID */
        memcpy(out, client_id, 37);
        return;
    }
    uint8_t md[32];
    char in[TSE_MAX_CLIENT_ID_LEN + 32];
    snprintf(in, sizeof in, "opentse-client:%s", client_id ? client_id : "");
    EVP_Digest(in, strlen(in), md, NULL, EVP_sha256(), NULL);
    engine_uuid_format(md, 5, out);
}
