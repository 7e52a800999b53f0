/*
 * fuzz_verify.c - libFuzzer harness of the auditor's archive check
 * (verify_archive, verify/): the input is written to a file and verified as
 * a TAR export archive with one thread; the text, JSON and HTML reports are
 * made of the result.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_tse.h"
#include "verify/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/opentse-fuzz-verify-%ld.tar", (long)getpid());
    if (fuzz_write(path, data, size) != 0)
        abort();
    verify_options o = {.threads = 1, .max_findings_per_code = 4, .keep_finishes = true};
    verify_result r;
    memset(&r, 0, sizeof r);
    (void)verify_archive(path, &o, &r);
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        (void)verify_report_text(&r, null, false);
        const verify_result *one = &r;
        (void)verify_report_html(&one, 1, null);
        fclose(null);
    }
    json_decref(verify_report_json(&r));
    verify_result_free(&r);
    unlink(path);
    return 0;
}
