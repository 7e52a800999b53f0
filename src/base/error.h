/*
 * error.h - the one error value every part of OpenTSE passes: a tse_err
 * code and, kept apart from it, the message that names the problem.
 *
 * A function that can fail returns its code (0 or a negative tse_err) and,
 * when given a non-NULL `tse_error *`, fills it. Nothing parses a message
 * back into a code: the code travels as a number from where the problem is
 * found to the face that shows it.
 */
#ifndef OPENTSE_BASE_ERROR_H
#define OPENTSE_BASE_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#include "opentse/opentse.h"

#define TSE_ERROR_MSGLEN 256

typedef struct tse_error {
    int code;                       /* 0 or a negative tse_err */
    char message[TSE_ERROR_MSGLEN]; /* the problem, without the code's name */
} tse_error;

/* Fills `e` (may be NULL) with `code` and the formatted message; returns
 * `code`. A message longer than the buffer is cut, never overrun. */
int error_set(tse_error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Copies `from` into `e` (either may be NULL); returns from's code. */
int error_copy(tse_error *e, const tse_error *from);

/* This thread's last error of the SE API (set by the engine and the
 * transports, read by tse_last_error_message() and the faces). */
tse_error *error_last(void);

/* The code named `name[0..len)` ("PIN_BLOCKED"), as the HTTP API writes
 * codes and warnings; false for a name that is not a tse_err's. */
bool error_lookup(const char *name, size_t len, int *code);

/* The code's constant name ("PIN_BLOCKED") and constant explanation; NULL
 * for a code that is not a tse_err. */
const char *error_name(int code);
const char *error_text(int code);

#endif /* OPENTSE_BASE_ERROR_H */
