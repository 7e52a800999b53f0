/*
 * logmsg.h - TR-03151 log messages, version 2: build, parse, signed bytes,
 * export file names, and time encodings (../spec TSE-FORMATS.md sections 1 and 4).
 *
 * Building is two steps so that signing stays outside the codec:
 *   1. logmsg_encode_tbs()  writes the signed bytes (version .. logTime);
 *   2. logmsg_encode()      wraps them with the signature into the message.
 * Parsing never copies: every field of `logmsg` points into the input buffer.
 */
#ifndef OPENTSE_CODEC_LOGMSG_H
#define OPENTSE_CODEC_LOGMSG_H

#include "base/error.h"
#include "der.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGMSG_OID_TRANSACTION "0.4.0.127.0.7.3.7.1.1"
#define LOGMSG_OID_SYSTEM "0.4.0.127.0.7.3.7.1.2"
#define LOGMSG_OID_AUDIT "0.4.0.127.0.7.3.7.1.3"

typedef enum logmsg_kind {
    LOGMSG_TRANSACTION = 1,
    LOGMSG_SYSTEM = 2,
    LOGMSG_AUDIT = 3,
} logmsg_kind;

/* Same numbering as tse_time_format in opentse.h. */
typedef enum logmsg_time_format {
    LOGMSG_TIME_UNIX = 0,
    LOGMSG_TIME_UTC = 1,
    LOGMSG_TIME_GENERALIZED = 2,
} logmsg_time_format;

typedef struct logmsg_bytes {
    const uint8_t *p;
    size_t n;
} logmsg_bytes;

/* Input for building. Strings are NUL-terminated PrintableStrings; byte
 * fields with p == NULL are absent (processData and systemOperationData,
 * which are mandatory, are then written empty: 82 00 / 81 00). */
typedef struct logmsg_fields {
    logmsg_kind kind;
    /* transaction log */
    const char *operation;          /* StartTransaction | UpdateTransaction | FinishTransaction,
                                       or the system operation (lowerCamel) */
    const char *client_id;
    logmsg_bytes process_data;
    const char *process_type;       /* NULL: omitted */
    logmsg_bytes additional_external_data;
    uint64_t transaction_number;
    logmsg_bytes additional_internal_data;
    /* system log: content of systemOperationData (already TLV-encoded) */
    logmsg_bytes system_operation_data;
    /* common */
    const uint8_t *serial_number;   /* 32 bytes */
    const char *signature_algorithm_oid; /* dotted */
    logmsg_bytes se_audit_data;     /* audit logs */
    uint64_t signature_counter;
    logmsg_time_format time_format;
    int64_t log_time;               /* seconds since the epoch */
} logmsg_fields;

/* Writes the signed bytes. Returns false for invalid fields (missing required
 * values, characters outside PrintableString, a transaction operation other
 * than Start/Update/FinishTransaction, a signature algorithm not known to
 * logmsg_sigalg_name(), time out of range); nothing is written then. */
bool logmsg_encode_tbs(der_w *w, const logmsg_fields *f);
/* Writes SEQUENCE { tbs, OCTET STRING signature }. */
void logmsg_encode(der_w *w, const uint8_t *tbs, size_t tbs_len,
                   const uint8_t *sig, size_t sig_len);

/* A parsed message. Slices point into the buffer given to logmsg_parse. */
typedef struct logmsg {
    int version;
    logmsg_kind kind;
    char certified_data_type[32];     /* dotted OID */
    logmsg_bytes operation;           /* transaction / system operationType */
    logmsg_bytes client_id;
    der_tlv process_data;             /* raw TLV, DER or BER indefinite; flatten with der_get_octets */
    bool has_process_data;
    logmsg_bytes process_type;
    bool has_process_type;
    logmsg_bytes additional_external_data;
    bool has_additional_external_data;
    uint64_t transaction_number;
    logmsg_bytes additional_internal_data;
    bool has_additional_internal_data;
    logmsg_bytes system_operation_data;  /* content of the [1] OCTET STRING */
    logmsg_bytes serial_number;
    char signature_algorithm_oid[32];
    logmsg_bytes signature_algorithm_params;  /* raw TLV, n == 0 if absent */
    logmsg_bytes se_audit_data;
    bool has_se_audit_data;
    uint64_t signature_counter;
    logmsg_time_format time_format;
    int64_t log_time;
    logmsg_bytes time_text;            /* UTCTime/GeneralizedTime content as written */
    logmsg_bytes signed_bytes;         /* version .. logTime, exactly as in the message */
    logmsg_bytes signature;
} logmsg;

/* Parses one complete message (trailing bytes are an error). On failure writes
 * a message naming the problem into err (may be NULL). String fields are not
 * checked against the PrintableString alphabet (deployed TSEs stray from it);
 * everything else is: version 2, known certifiedDataType, transaction
 * operations Start/Update/FinishTransaction, minimal DER except for BER
 * indefinite-length processData, a 32-byte serialNumber. */
bool logmsg_parse(const uint8_t *buf, size_t len, logmsg *out, tse_error *err);

/* Signature algorithm OID <-> name ("ecdsa-plain-SHA256"); NULL if unknown. */
const char *logmsg_sigalg_name(const char *oid);
const char *logmsg_sigalg_oid(const char *name);
/* Hash of a signature algorithm: 256, 384, 512 (SHA-2), 3256.. for SHA3-256..,
 * 0 if unknown. */
int logmsg_sigalg_hash_bits(const char *oid, bool *sha3);

/* Export file name (TSE-FORMATS.md section 4) without any _Fc-n suffix, e.g.
 * "Unixt_1632729177_Sig-26_Log-Tra_No-1_Start_Client-abc.log". Returns false if
 * it does not fit, or if the clientId / system operation is empty or holds a
 * path separator ('/' '\\') or a control character. `fc` > 0 inserts
 * "_Fc-<fc>" before ".log". A parsed UTCTime/GeneralizedTime is used as written. */
bool logmsg_filename(const logmsg *m, unsigned fc, char *out, size_t cap);
/* Same, from build fields. */
bool logmsg_filename_fields(const logmsg_fields *f, unsigned fc, char *out, size_t cap);

/* Time text: UTCTime "YYMMDDhhmmssZ" (years 1950..2049) / GeneralizedTime
 * "YYYYMMDDhhmmssZ" (years 0000..9999; reading also accepts fractional
 * seconds, which are dropped); LOGMSG_TIME_UNIX is decimal seconds.
 * Return false if malformed, out of range, or `out` is too small. */
bool logmsg_time_to_text(logmsg_time_format fmt, int64_t t, char *out, size_t cap);
bool logmsg_time_from_text(logmsg_time_format fmt, const uint8_t *s, size_t n, int64_t *t);

/* Checks the PrintableString alphabet (A-Z a-z 0-9 space ' ( ) + , - . / : = ?). */
bool logmsg_printable(const char *s, size_t n);

#endif
