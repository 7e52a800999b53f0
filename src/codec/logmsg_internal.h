/*
 * logmsg_internal.h - what the log message files of codec/ share: the
 * message's constants and the field checks both the builder and the parser
 * use.
 */
#ifndef OPENTSE_CODEC_LOGMSG_INTERNAL_H
#define OPENTSE_CODEC_LOGMSG_INTERNAL_H

#include "logmsg.h"

#define SERIAL_LEN 32
#define TAG_CTX(n) ((uint8_t)(DER_CONTEXT | (n)))
#define TAG_CTX_CONS(n) ((uint8_t)(DER_CONTEXT | DER_CONSTRUCTED | (n)))

#endif
