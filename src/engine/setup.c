/*
 * setup.c - what comes before the first TSE: the library's release and a
 * new master key file (the key every private key is sealed under).
 */
#include <string.h>

#include "engine/internal.h"

const char *tse_version(void)
{
    return OPENTSE_VERSION;
}

tse_err tse_create_master_key(const char *path)
{
    tse_error err = {0};
    return csp_master_key_create(path, &err) ? engine_fail_with(&err) : TSE_OK;
}
