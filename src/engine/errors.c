/*
 * errors.c - the SE API's last error on this thread: engine_fail() sets its
 * code and message (kept apart in base/error.c's tse_error), and
 * tse_last_error_message() shows them as "<code name>: <message>". Also the
 * public free helpers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

const char *tse_last_error_message(void)
{
    static _Thread_local char text[TSE_ERROR_MSGLEN + 48];
    const tse_error *e = error_last();
    if (!e->code && !e->message[0])
        return "";
    snprintf(text, sizeof text, "%s: %s", tse_errname(e->code), e->message);
    return text;
}

tse_err tse_last_error_code(void)
{
    return (tse_err)error_last()->code;
}

const char *tse_last_error_detail(void)
{
    return error_last()->message;
}

tse_err engine_fail(tse_err code, const char *fmt, ...)
{
    char msg[TSE_ERROR_MSGLEN]; /* fmt's arguments may point into the last error itself */
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = 0;
    va_end(ap);
    return (tse_err)error_set(error_last(), code, "%s", msg);
}

tse_err engine_fail_with(const tse_error *err)
{
    return (tse_err)error_copy(error_last(), err);
}

void tse_free(void *p)
{
    free(p);
}

void tse_free_strings(char **strings, size_t count)
{
    if (!strings)
        return;
    for (size_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}
