/* attfresh/err.h - libattfresh reports errors on OpenSSL's error queue, under a library code it
 * registers once ("attfresh library"), with the reasons below. Every failing public function
 * returns 0 (or NULL) after raising one error whose data says what and why. */
#ifndef ATTFRESH_ERR_H
#define ATTFRESH_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Reason codes, grouped by layer. Keep af_err.c's string table in step. */
enum {
    /* general 1..99 */
    AF_R_INTERNAL = 1,
    AF_R_MALLOC = 2,
    AF_R_INVALID_ARGUMENT = 3,
    AF_R_IO = 4,
    AF_R_TOO_LARGE = 5,
    AF_R_UNKNOWN_PROFILE = 6,
    AF_R_BAD_OID = 7,
    AF_R_CRYPTO = 8,
    /* nonce messages 100..199 */
    AF_R_NONCE_DECODE = 100,     /* malformed encoding (DER/JSON/CBOR syntax) */
    AF_R_NONCE_TRAILING = 101,   /* bytes after the message */
    AF_R_NONCE_BAD_LEN = 102,    /* len outside 8..64 */
    AF_R_NONCE_BAD_NONCE = 103,  /* nonce length not 0 or 8..64, or bad base64 */
    AF_R_NONCE_BAD_TYPE = 104,   /* wrong member type / universal tag */
    AF_R_NONCE_MISSING = 105,    /* required member absent (info without type, empty list) */
    AF_R_NONCE_DUPLICATE = 106,  /* duplicate JSON/CBOR key */
    AF_R_NONCE_UNKNOWN = 107,    /* unknown member in strict mode */
    AF_R_NONCE_EXPIRY = 108,     /* bad expiry value */
    AF_R_NONCE_DEPTH = 109,      /* nesting too deep */
    AF_R_NONCE_NOT_DER = 110,    /* BER that is not DER: indefinite length, non-minimal */
    AF_R_NONCE_SHAPE = 111,      /* message does not fit the profile's shape */
    AF_R_NONCE_NONCANONICAL = 112, /* CBOR not definite-length / shortest form */
    /* protocol bindings 200..299 */
    AF_R_PROTO_TRANSPORT = 200,
    AF_R_PROTO_HTTP_STATUS = 201,
    AF_R_PROTO_PKISTATUS = 202,
    AF_R_PROTO_NO_NONCE = 203,
    AF_R_PROTO_BINDING = 204,    /* wrong transactionID / recipNonce / cookie */
    AF_R_PROTO_PROTECTION = 205,
    AF_R_PROTO_MEDIA_TYPE = 206,
    /* evidence 300..399 */
    AF_R_EVIDENCE_DECODE = 300,
    AF_R_EVIDENCE_RULE = 301,
    AF_R_EVIDENCE_SIGNATURE = 302,
    AF_R_EVIDENCE_TRUST = 303,
    AF_R_EVIDENCE_KEY_MISMATCH = 304,
    AF_R_EVIDENCE_POLICY = 305,
    /* RA 400..499 */
    AF_R_RA_UNKNOWN_NONCE = 400,
    AF_R_RA_EXPIRED = 401,
    AF_R_RA_REUSED = 402,
    AF_R_RA_FULL = 403,
    AF_R_RA_RATE_LIMIT = 404,
    AF_R_RA_WRONG_TRANSACTION = 405,
    AF_R_RA_STORE = 406
};

/* The ERR library code of libattfresh (registers it and its strings on first call). */
int af_err_lib(void);
/* Text of a reason code, or NULL. */
const char *af_err_reason_text(int reason);

/* Formats the oldest error on this thread's queue as one line "what: why (detail)" into buf and
 * clears the queue; returns buf. Usable for errors from any library (OpenSSL's, the provider's). */
char *af_err_line(char *buf, unsigned long bufsize);

/* Raises an error with printf-style detail. Internal helpers for libattfresh layers. */
void af_err_raise(int reason, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define AF_ERR(reason, ...) af_err_raise((reason), __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
