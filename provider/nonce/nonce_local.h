/* nonce_local.h - internals shared by the nonce message sources: the model's structs and the
 * helpers (base64, RFC 3339, DER walker, opaque-value conversion) the codecs use. */
#ifndef AF_NONCE_LOCAL_H
#define AF_NONCE_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "attfresh/err.h"
#include "attfresh/nonce.h"

typedef struct {
    int kind; /* 0 = absent, else AF_NONCE_ANY_* */
    unsigned char *data;
    size_t len;
} af_any;

typedef struct {
    int present;
    unsigned char *data;
    size_t len;
} af_octets;

struct af_nonce_profile_st {
    const AF_PROFILE_DEF *def;
    char *oid[AF_NONCE_OID__COUNT]; /* dotted overrides; NULL = profile default */
};

struct af_nonce_codec_st {
    int lenient;
    int64_t now;
    int64_t body_part_id;
    int64_t body_part_id_read;
    unsigned int tolerated;
};

struct af_nonce_req_item_st {
    int len; /* 0 = absent */
    char *type;
    af_any info;
    char *hint;
    af_octets vx;
};

struct af_nonce_resp_item_st {
    unsigned char nonce[AF_NONCE_LEN_MAX];
    size_t nonce_len;
    int expiry_kind;
    int64_t expiry_seconds; /* SECONDS */
    int64_t expiry_epoch;   /* TIME */
    char *expiry_text;      /* TIME: the RFC 3339 text */
    char *type;
    af_any info;
    char *hint;
    af_octets vx;
};

struct af_nonce_req_st {
    AF_NONCE_REQ_ITEM **items;
    size_t n;
};

struct af_nonce_resp_st {
    AF_NONCE_RESP_ITEM **items;
    size_t n;
};

/* ---- model helpers (nonce_model.c) ---- */
int af_nonce_lenient(const AF_NONCE_CODEC *codec);
/* In lenient mode records bit and returns 1; in strict mode raises reason with detail, returns 0 */
int af_nonce_tolerate(AF_NONCE_CODEC *codec, unsigned int bit, int reason, const char *detail);
int64_t af_nonce_now(const AF_NONCE_CODEC *codec);
/* Canonical dotted text of an OID given as dotted text or table name; NULL + AF_R_BAD_OID. */
char *af_nonce_oid_canon(const char *oid);
int af_any_set(af_any *a, int kind, const unsigned char *data, size_t len);
void af_any_clear(af_any *a);
/* a's value as kind `kind` (converted by the rule in nonce.h): new buffer */
int af_any_get_as(const af_any *a, int kind, unsigned char **out, size_t *outlen);
/* 1 when s[0..len) is valid UTF-8 without NUL; no error raised */
int af_utf8_ok(const char *s, size_t len);
/* Copies at most 40 bytes of an untrusted name into buf for an error detail, with anything but
 * printable ASCII replaced by '?' (no terminal control sequences in error lines). */
const char *af_nonce_printable(const char *s, size_t len, char *buf, size_t buflen);
int af_octets_set(af_octets *o, const unsigned char *data, size_t len);
void af_octets_clear(af_octets *o);

/* ---- base64 (nonce_b64.c): OpenSSL has no base64url, and its EVP_Decode accepts whitespace and
 * sloppy padding; these are strict. ---- */
#define AF_B64_URL 1 /* alphabet -_ instead of +/ */
#define AF_B64_PAD 2 /* '=' padding */
char *af_b64_encode(const unsigned char *in, size_t len, int form);
/* Decodes text: either alphabet (not mixed), '=' padding optional but canonical when present, no
 * whitespace, unused bits zero. *other_form is set to 1 when the text is not exactly in the form
 * `want` (the other alphabet, padding where none is wanted, or missing padding where it is).
 * Returns 0 (no error raised) when text is not base64. *out is new (OPENSSL_free). */
int af_b64_decode(const char *text, size_t tlen, int want, unsigned char **out, size_t *outlen,
                  int *other_form);

/* ---- RFC 3339 (nonce_time.c) ---- */
int af_rfc3339_parse(const char *text, int64_t *epoch);
/* "YYYY-MM-DDTHH:MM:SSZ" into buf (>= 32 bytes); 0 when out of years 0000..9999 */
int af_rfc3339_format(int64_t epoch, char *buf, size_t buflen);

/* ---- DER (nonce_der.c) ---- */
/* Checks that in starts with one well-formed DER element (definite minimal lengths, minimal
 * INTEGERs, primitive strings, depth <= AF_NONCE_MAX_DEPTH); *used gets its size. On failure
 * raises AF_R_NONCE_DECODE / _NOT_DER / _DEPTH and returns 0. */
int af_der_walk(const unsigned char *in, size_t len, size_t *used);
/* 1 when in[0..len) is exactly one DER element; no error raised */
int af_der_is_one(const unsigned char *in, size_t len);
int af_nonce_der_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                            af_nonce_format fmt, const AF_NONCE_CODEC *codec, unsigned char **out,
                            size_t *outlen);
int af_nonce_der_req_decode(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                            AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen);
int af_nonce_der_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                             af_nonce_format fmt, const AF_NONCE_CODEC *codec, unsigned char **out,
                             size_t *outlen);
int af_nonce_der_resp_decode(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                             AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen);

/* ---- JSON (nonce_json.c) ---- */
int af_json_value_check(const unsigned char *text, size_t len, unsigned char **canon,
                        size_t *canonlen);
int af_nonce_json_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                             const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen);
int af_nonce_json_req_decode(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof,
                             AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen);
int af_nonce_json_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                              const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen);
int af_nonce_json_resp_decode(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof,
                              AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen);

/* ---- CBOR (nonce_cbor.c) ---- */
int af_cbor_item_check(const unsigned char *in, size_t len);
int af_nonce_cbor_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                             const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen);
int af_nonce_cbor_req_decode(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof,
                             AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen);
int af_nonce_cbor_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                              const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen);
int af_nonce_cbor_resp_decode(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof,
                              AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen);

/* ---- cross-family conversion of opaque values (nonce_any.c) ---- */
int af_any_json_to_cbor(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen);
int af_any_cbor_to_json(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen);

#endif
