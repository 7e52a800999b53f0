/*
 * logmsg.h - TR-03151 log messages, versions 2 (TR-03151 v1.0.1) and 3
 * (TR-03151-1 v1.1.1 section 2): build, parse, signed bytes, export file
 * names, time encodings, and the eventData of version-3 system logs
 * (docs/log-format-3.md).
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

#define LOGMSG_VERSION_2 2
#define LOGMSG_VERSION_3 3

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

/* Phase of a transaction log. */
typedef enum logmsg_tx_op {
    LOGMSG_TX_NONE = 0,
    LOGMSG_TX_START = 1,
    LOGMSG_TX_UPDATE = 2,
    LOGMSG_TX_FINISH = 3,
} logmsg_tx_op;

/* The operationType of a transaction log: "StartTransaction" .. in version
 * 2, "startTransaction" .. in version 3; NULL for anything else. */
const char *logmsg_tx_operation(int version, logmsg_tx_op op);
/* The phase named by operationType text op[0..n) in that version. */
logmsg_tx_op logmsg_tx_op_of(int version, const uint8_t *op, size_t n);

typedef struct logmsg_bytes {
    const uint8_t *p;
    size_t n;
} logmsg_bytes;

/* Input for building. Strings are NUL-terminated PrintableStrings; byte
 * fields with p == NULL are absent (processData and systemOperationData,
 * which are mandatory, are then written empty: 82 00 / 81 00). */
typedef struct logmsg_fields {
    logmsg_kind kind;
    int version;                    /* 0 or 2: version 2; 3: version 3 */
    /* transaction log */
    const char *operation;          /* logmsg_tx_operation() of the version,
                                       or the system operation / eventType (lowerCamel) */
    const char *client_id;
    logmsg_bytes process_data;
    const char *process_type;       /* NULL: omitted */
    logmsg_bytes additional_external_data;
    uint64_t transaction_number;
    logmsg_bytes additional_internal_data;
    /* system log, version 2: content of systemOperationData (already TLV-encoded) */
    logmsg_bytes system_operation_data;
    /* system log, version 3: eventOrigin and eventTriggeredByUser (NULL:
     * absent), the content of eventData [3] (the elements of its SEQUENCE,
     * already DER-encoded, e.g. by the logmsg_event_* writers below; may be
     * empty). additional_internal_data is refused (RFU). */
    const char *event_origin;
    const char *event_triggered_by_user;
    logmsg_bytes event_data;
    /* common */
    const uint8_t *serial_number;   /* 32 bytes */
    const char *signature_algorithm_oid; /* dotted */
    logmsg_bytes se_audit_data;     /* audit logs */
    uint64_t signature_counter;
    logmsg_time_format time_format;
    int64_t log_time;               /* seconds since the epoch */
} logmsg_fields;

/* Writes the signed bytes. Returns false for invalid fields (a version other
 * than 2 or 3, missing required values, characters outside PrintableString,
 * a transaction operation not of logmsg_tx_operation() for the version, a
 * signature algorithm not known to logmsg_sigalg_name(), time out of range,
 * additionalInternalData in version 3); nothing is written then. Version 3
 * writes processType always (empty when NULL: it is mandatory there). */
bool logmsg_encode_tbs(der_w *w, const logmsg_fields *f);
/* Writes SEQUENCE { tbs, OCTET STRING signature }. */
void logmsg_encode(der_w *w, const uint8_t *tbs, size_t tbs_len,
                   const uint8_t *sig, size_t sig_len);

/* A parsed message. Slices point into the buffer given to logmsg_parse. */
typedef struct logmsg {
    int version;                      /* 2 or 3 */
    logmsg_kind kind;
    char certified_data_type[32];     /* dotted OID */
    logmsg_bytes operation;           /* transaction operationType / system operationType or eventType */
    logmsg_tx_op tx_op;               /* transaction logs: the phase */
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
    logmsg_bytes system_operation_data;  /* version 2: content of the [1] OCTET STRING */
    logmsg_bytes event_origin;           /* version 3 system logs */
    bool has_event_origin;
    logmsg_bytes event_triggered_by_user;
    bool has_event_triggered_by_user;
    logmsg_bytes event_data;             /* content of eventData [3] (constructed) */
    logmsg_bytes serial_number;
    char signature_algorithm_oid[32];
    logmsg_bytes signature_algorithm_params;  /* raw TLV, n == 0 if absent */
    logmsg_bytes se_audit_data;
    bool has_se_audit_data;
    uint64_t signature_counter;
    logmsg_time_format time_format;
    int64_t log_time;                  /* logTime (2) / signatureCreationTime (3) */
    logmsg_bytes time_text;            /* UTCTime/GeneralizedTime content as written */
    logmsg_bytes signed_bytes;         /* version .. logTime, exactly as in the message */
    logmsg_bytes signature;
} logmsg;

/* Parses one complete message (trailing bytes are an error). On failure writes
 * a message naming the problem into err (may be NULL). String fields are not
 * checked against the PrintableString alphabet (deployed TSEs stray from it);
 * everything else is: version 2 or 3, known certifiedDataType, the
 * transaction operations of that version, the layout of that version (a
 * version-3 system log's eventData constructed, processType present),
 * minimal DER except for BER indefinite-length processData, a 32-byte
 * serialNumber. */
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
/* archive_name.c: names of export archives (TR-03151-1 v1.1.1 2.5.2). */
#define ARCHIVE_MAX_PARTS 999
/* "<prefix>_<Utc|Gent|Unixt>_<DATE>.tar", with ".NNN" for part > 0 (1..999);
 * prefix "Export" or "CertificateExport". False when it does not fit. */
bool archive_name(const char *prefix, logmsg_time_format fmt, int64_t t, unsigned part, char *out, size_t cap);
/* The part number (1..999) of a path ending in ".tar.NNN", else 0;
 * *stem_len (may be NULL) gets the length up to and with ".tar". */
unsigned archive_part(const char *path, size_t *stem_len);
/* How many of paths[0..n) form one archive: 1 for a whole archive, k for
 * its parts .001 to .k given in order; 0 with `why` set when paths[0] is a
 * part not preceded by part 001, or a part of the same archive is out of
 * order or missing. */
size_t archive_group(const char *const *paths, size_t n, char *why, size_t cap);

bool logmsg_time_from_text(logmsg_time_format fmt, const uint8_t *s, size_t n, int64_t *t);

/* Time as a universal-tagged Time CHOICE (INTEGER / UTCTime /
 * GeneralizedTime), as signatureCreationTime and the times inside eventData
 * are written. False if the time cannot be written in that format. */
bool logmsg_put_time(der_w *w, logmsg_time_format fmt, int64_t t);

/* ---- eventData of version-3 system logs (TR-03151-1 v1.1.1 section 3,
 * Appendix E.3): each writes the elements of the event's SEQUENCE, to be
 * passed as logmsg_fields.event_data (the [3] tag replaces the SEQUENCE's).
 * Events whose SEQUENCE is empty (initialize, disableSecureElement,
 * deleteLogMessages, lockTransactionLogging, unlockTransactionLogging) have
 * nothing to write: pass an empty event_data. Strings must be
 * PrintableString (the caller checks); false if not. */
typedef enum logmsg_pin_result {   /* PinAuthenticationResult */
    LOGMSG_PIN_SUCCESS = 0,
    LOGMSG_PIN_UNKNOWN_USER_ID = 1,
    LOGMSG_PIN_INCORRECT_PIN = 2,
    LOGMSG_PIN_BLOCKED = 3,
} logmsg_pin_result;
typedef enum logmsg_logout_cause {  /* LogOutCause */
    LOGMSG_LOGOUT_USER_CALLED = 0,
    LOGMSG_LOGOUT_DIFFERENT_USER = 1,
    LOGMSG_LOGOUT_TIMEOUT = 2,
} logmsg_logout_cause;
typedef enum logmsg_unblock_result { /* UnblockResult */
    LOGMSG_UNBLOCK_SUCCESS = 0,
    LOGMSG_UNBLOCK_UNKNOWN_USER_ID = 1,
    LOGMSG_UNBLOCK_INCORRECT_PUK = 2,
    LOGMSG_UNBLOCK_TEMPORARILY_BLOCKED = 3,
    LOGMSG_UNBLOCK_RESETTING_ERROR = 4,
    LOGMSG_UNBLOCK_SETTING_PIN_FAILED = 5,
    LOGMSG_UNBLOCK_RESETTING_COUNTER_FAILED = 6,
} logmsg_unblock_result;

/* AuthenticateUserEventData { userId, role, authenticationResult, remainingRetries } */
bool logmsg_event_authenticate(der_w *w, const char *user_id, const char *role, logmsg_pin_result result,
                               unsigned remaining_retries);
/* LogOutEventData { loggedOutUserId, logOutCause } */
bool logmsg_event_logout(der_w *w, const char *user_id, logmsg_logout_cause cause);
/* UnblockPinEventData { userToUnblock, unblockResult } */
bool logmsg_event_unblock(der_w *w, const char *user_id, logmsg_unblock_result result);
/* UpdateTimeEventData { seTimeBeforeUpdate, seTimeAfterUpdate } (no slewing) */
bool logmsg_event_update_time(der_w *w, logmsg_time_format fmt, int64_t before, int64_t after);
/* RegisterClientEventData / DeregisterClientEventData { clientId };
 * SetDescriptionEventData { newDeviceDescription } (at most 64 characters):
 * a single PrintableString. */
bool logmsg_event_string(der_w *w, const char *s);
/* SelfTestEventData { selfTestResults SEQUENCE OF SelfTestResult, allTestsArePositive } */
typedef struct logmsg_self_test_result {
    const char *component;          /* "device", "storage", "CSP", "SMA", ... */
    bool positive;
    const char *error_message;      /* NULL: absent (required when !positive) */
} logmsg_self_test_result;
bool logmsg_event_self_test(der_w *w, const logmsg_self_test_result *r, size_t n);

/* DeviceInformationSet (SEQUENCE OF ComponentInformationSet {componentName,
 * manufacturer, model, version, certificationId OPTIONAL}), as
 * getComponentVersions answers and the update logs carry it. */
typedef struct logmsg_component {
    const char *name, *manufacturer, *model, *version;
    const char *certification_id;   /* NULL or "": absent (not certified) */
} logmsg_component;
typedef enum logmsg_update_outcome { /* UpdateOutcome */
    LOGMSG_UPDATE_SUCCESS = 0,
    LOGMSG_UPDATE_FAILED = 1,
    LOGMSG_UPDATE_PARTLY_FAILED = 2,
} logmsg_update_outcome;
/* The whole DeviceInformationSet (a SEQUENCE with its tag). */
bool logmsg_device_information(der_w *w, const logmsg_component *c, size_t n);
/* UpdateDeviceEventData { deviceInformationBeforeUpdate } */
bool logmsg_event_update_device(der_w *w, const logmsg_component *before, size_t n);
/* UpdateDeviceCompletedEventData { updateOutcome, reasonForFailure OPTIONAL
 * (NULL: absent; not allowed on success), deviceInformationAfterUpdate } */
bool logmsg_event_update_device_completed(der_w *w, logmsg_update_outcome outcome, const char *reason,
                                          const logmsg_component *after, size_t n);
/* Copies s into out (cap bytes, truncated, NUL-terminated) with every
 * character outside the PrintableString alphabet replaced by '?'. */
void logmsg_printable_copy(char *out, size_t cap, const char *s);

/* Checks the PrintableString alphabet (A-Z a-z 0-9 space ' ( ) + , - . / : = ?). */
bool logmsg_printable(const char *s, size_t n);

#endif
