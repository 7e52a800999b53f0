/*
 * fuzz_logmsg.c - libFuzzer harness of the log message parser
 * (codec/logmsg_parse.c) and what reads a parsed message: its file name,
 * its time as text, the flattened processData; then a message that parses
 * through verify_log (verify/log.c) without a certificate.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/logmsg.h"
#include "verify/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    logmsg m;
    tse_error err;
    char name[256] = "x.log", text[64];
    if (logmsg_parse(copy, size, &m, &err)) {
        for (unsigned fc = 0; fc < 3; fc++)
            (void)logmsg_filename(&m, fc, name, sizeof name);
        (void)logmsg_time_to_text(m.time_format, m.log_time, text, sizeof text);
        size_t n = 0;
        if (m.has_process_data && der_get_octets(&m.process_data, NULL, 0, &n) && n <= 1 << 20) {
            uint8_t *pd = malloc(n ? n : 1);
            if (pd)
                (void)der_get_octets(&m.process_data, pd, n, &n);
            free(pd);
        }
        (void)logmsg_filename(&m, 0, name, sizeof name);
        verify_options o = {.threads = 1, .max_findings_per_code = 4};
        verify_result r;
        memset(&r, 0, sizeof r);
        (void)verify_log(copy, size, name, NULL, 0, NULL, &o, &r);
        verify_result_free(&r);
    }
    free(copy);
    return 0;
}
