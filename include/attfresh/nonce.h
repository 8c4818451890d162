/* attfresh/nonce.h - nonce request and response messages (draft-ietf-lamps-attestation-freshness):
 * one model for both message shapes, wire profiles with per-OID overrides, and the DER (bare, CMP
 * InfoTypeAndValue, CMC TaggedAttribute), JSON and CBOR codecs. See docs/nonce.md and
 * /work/shared/spec/nonce-protocol.md sections 2-4.
 *
 * THE MODEL
 *   A request (AF_NONCE_REQ) is a list of 1..n items (AF_NONCE_REQ_ITEM); a response
 *   (AF_NONCE_RESP) a list of 1..n items (AF_NONCE_RESP_ITEM). The current shape (-07/-08)
 *   carries exactly one item; the seed shape (-05/-06) a SEQUENCE OF them, response i answering
 *   request i. Field mapping:
 *
 *     model field   current request         seed request      current response    seed response
 *     len           len                     len               -                   -
 *     type          reqTypeInfo.type        type              respTypeInfo.type   type
 *     info (ANY)    reqTypeInfo.reqInfo     value (lenient)   respTypeInfo.respInfo  (not allowed)
 *     hint          (not allowed)           hint              (not allowed)       hint
 *     vendorext     (not allowed)           vendorextension   (not allowed)       vendorextension
 *     nonce         -                       -                 nonce               nonce
 *     expiry        -                       -                 expiry seconds      DER: seconds,
 *                                                                                 JSON/CBOR: RFC
 * 3339 The empty current request `30 00` / `{}` is one item with nothing set. `vendorextension` is
 * part of the `siemens-ra` profile; other seed profiles accept it only in lenient mode. Seed
 * `value` (the "optional payload" proposal) is accepted only in lenient mode.
 *
 * OPAQUE "ANY" VALUES (info)
 *   info is kept byte-exact in the encoding it came from, with a kind:
 *     AF_NONCE_ANY_DER   one DER element (TLV);
 *     AF_NONCE_ANY_JSON  one JSON value as compact text (jansson, member order kept);
 *     AF_NONCE_ANY_CBOR  one encoded CBOR data item.
 *   Encoding into the same family writes it unchanged, so decode -> encode gives the same bytes.
 *   Across families the rule is:
 *     DER  -> JSON: a string, the unpadded base64url of the DER element;
 *     DER  -> CBOR: a byte string holding the DER element;
 *     JSON -> DER:  a string that is unpadded base64url of exactly one DER element becomes that
 *                   element (inverse of the line above, so DER -> JSON -> DER is lossless); any
 *                   other JSON value becomes a UTF8String holding its compact JSON text;
 *     CBOR -> DER:  a byte string holding exactly one DER element becomes that element; any other
 *                   item becomes an OCTET STRING holding the item's CBOR encoding;
 *     JSON <-> CBOR: the RFC 8949 section 6 data-model mapping (object <-> map with text keys,
 *                   array, text string, integer, float, true/false/null); a CBOR byte string
 *                   becomes an unpadded base64url string; tags and other simple values have no
 *                   JSON form (AF_R_NONCE_BAD_TYPE).
 *
 * SEED SHAPE FIELD RULE (DER; nonce-protocol.md 2.2)
 *   Fields are recognised by universal tag, in order: INTEGER len, OBJECT IDENTIFIER type, then
 *   from the end: OCTET STRING vendorextension (strict only in siemens-ra, else lenient),
 *   UTF8String hint;
 *   what remains between type and those (at most one element) is `value`. `value` may only follow
 *   `type`; a lone UTF8String after `type` is therefore the hint, and a UTF8String value needs a
 *   hint after it; likewise a last OCTET STRING is the vendorextension, so an OCTET STRING value
 *   needs a hint or a vendorextension after it.
 *   The encoder refuses (AF_R_NONCE_SHAPE) a model that would not decode back to itself.
 *
 * ERRORS: every function returning int gives 1 on success, 0 on failure; pointer returns are NULL
 * on failure. A failure raises one error on OpenSSL's queue with a reason from attfresh/err.h
 * (AF_R_NONCE_* for message problems) and a detail naming the member. */
#ifndef ATTFRESH_NONCE_H
#define ATTFRESH_NONCE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/cmp.h>
#include <openssl/evp.h>

#include "attfresh/oids.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits (nonce-protocol.md 2.1) */
#define AF_NONCE_LEN_MIN 8
#define AF_NONCE_LEN_MAX 64
/* Largest encoded message any decoder accepts, and the deepest nesting of JSON/CBOR/DER inside an
 * opaque value. */
#define AF_NONCE_MAX_INPUT (64 * 1024)
#define AF_NONCE_MAX_DEPTH 32
/* Most items in a seed-shape list. */
#define AF_NONCE_MAX_ITEMS 64

typedef struct af_nonce_profile_st AF_NONCE_PROFILE;
typedef struct af_nonce_codec_st AF_NONCE_CODEC;
typedef struct af_nonce_req_st AF_NONCE_REQ;
typedef struct af_nonce_req_item_st AF_NONCE_REQ_ITEM;
typedef struct af_nonce_resp_st AF_NONCE_RESP;
typedef struct af_nonce_resp_item_st AF_NONCE_RESP_ITEM;

/* ---- wire profiles ------------------------------------------------------------------------- */

/* The OIDs a profile names; each can be overridden one by one. */
typedef enum {
    AF_NONCE_OID_CMP_REQUEST = 0, /* genm InfoTypeAndValue infoType */
    AF_NONCE_OID_CMP_RESPONSE,    /* genp InfoTypeAndValue infoType */
    AF_NONCE_OID_CMC_REQUEST,     /* CMC control (TaggedAttribute attrType) carrying the request */
    AF_NONCE_OID_CMC_RESPONSE,    /* CMC control carrying the response */
    AF_NONCE_OID__COUNT
} af_nonce_oid_role;

/* A profile from the table (af_profile_def); name NULL = AF_PROFILE_DEFAULT. Unknown name:
 * NULL, AF_R_UNKNOWN_PROFILE. */
AF_NONCE_PROFILE *af_nonce_profile_new(const char *name);
void af_nonce_profile_free(AF_NONCE_PROFILE *prof);
AF_NONCE_PROFILE *af_nonce_profile_dup(const AF_NONCE_PROFILE *prof);
const char *af_nonce_profile_get0_name(const AF_NONCE_PROFILE *prof);
af_shape af_nonce_profile_get_shape(const AF_NONCE_PROFILE *prof);
/* 1 when the profile carries the siemens-ra vendorextension */
int af_nonce_profile_get_vendor_extension(const AF_NONCE_PROFILE *prof);
/* EST media type of the profile's JSON form */
const char *af_nonce_profile_get0_media_type(const AF_NONCE_PROFILE *prof);
/* Overrides one OID; oid is dotted text or a name from the OID table (af_oid_lookup).
 * AF_R_BAD_OID when it is neither. */
int af_nonce_profile_set_oid(AF_NONCE_PROFILE *prof, af_nonce_oid_role role, const char *oid);
/* Effective OID of a role as dotted text (override or profile default). */
const char *af_nonce_profile_get0_oid(const AF_NONCE_PROFILE *prof, af_nonce_oid_role role);

/* ---- codec options and results --------------------------------------------------------------- */

/* Encodings. ITAV and CMC are DER wrapped as a CMP InfoTypeAndValue {infoType, infoValue} and as
 * a CMC TaggedAttribute {bodyPartID, attrType, attrValues SET OF (one value)}; the OIDs come from
 * the profile (request or response role by message). */
typedef enum {
    AF_NONCE_FMT_DER = 1,
    AF_NONCE_FMT_ITAV,
    AF_NONCE_FMT_CMC,
    AF_NONCE_FMT_JSON,
    AF_NONCE_FMT_CBOR
} af_nonce_format;

/* Parses "der", "itav", "cmc", "json", "cbor"; 0 when unknown. */
af_nonce_format af_nonce_format_from_name(const char *name);
const char *af_nonce_format_name(af_nonce_format fmt);

/* What a lenient decode accepted that strict mode rejects (bits of af_nonce_codec_get_tolerated) */
#define AF_NONCE_TOL_ITAV_ABSENT_VALUE (1u << 0) /* CMP ITAV without infoValue: empty request */
#define AF_NONCE_TOL_BASE64_FORM                                                                   \
    (1u << 1)                                 /* nonce/vendorext in the other base64 alphabet      \
                                               * or padding than the shape's form */
#define AF_NONCE_TOL_UNKNOWN_MEMBER (1u << 2) /* unknown JSON/CBOR member ignored */
#define AF_NONCE_TOL_VALUE (1u << 3)          /* seed `value` payload */
#define AF_NONCE_TOL_VENDOREXT (1u << 4)      /* vendorextension outside siemens-ra */
#define AF_NONCE_TOL_EXPIRY_FORM (1u << 5)    /* seed JSON/CBOR expiry as seconds, not RFC 3339 */

/* Codec options (input) and results of the last decode (output). Defaults: strict, time base =
 * the clock at the call, CMC bodyPartID 1. A NULL codec means all defaults. */
AF_NONCE_CODEC *af_nonce_codec_new(void);
void af_nonce_codec_free(AF_NONCE_CODEC *codec);
void af_nonce_codec_set_lenient(AF_NONCE_CODEC *codec, int lenient);
int af_nonce_codec_get_lenient(const AF_NONCE_CODEC *codec);
/* Time base (seconds since the epoch) used to convert an expiry between seconds-from-now and an
 * absolute RFC 3339 time; 0 = time(NULL) at each call. Set it for deterministic output. */
void af_nonce_codec_set_now(AF_NONCE_CODEC *codec, int64_t now);
/* CMC TaggedAttribute bodyPartID written on encode (0..4294967295); after a CMC decode, get
 * returns the one read. */
int af_nonce_codec_set_body_part_id(AF_NONCE_CODEC *codec, int64_t id);
int64_t af_nonce_codec_get_body_part_id(const AF_NONCE_CODEC *codec);
/* AF_NONCE_TOL_* bits of the last decode through this codec (0 after a strict decode) */
unsigned int af_nonce_codec_get_tolerated(const AF_NONCE_CODEC *codec);
/* Short text of one AF_NONCE_TOL_* bit, e.g. "absent CMP infoValue read as empty request" */
const char *af_nonce_tolerated_text(unsigned int bit);

/* ---- opaque values -----------------------------------------------------------------------------
 */

#define AF_NONCE_ANY_DER 1
#define AF_NONCE_ANY_JSON 2
#define AF_NONCE_ANY_CBOR 3

/* Converts an opaque value between kinds by the rule at the top of this file. *out is new
 * (OPENSSL_free). Validates the input value (one complete element of its kind). */
int af_nonce_any_convert(int from_kind, const unsigned char *in, size_t inlen, int to_kind,
                         unsigned char **out, size_t *outlen);

/* ---- requests ----------------------------------------------------------------------------------
 */

/* A new request has no items; the current shape needs exactly one (add one even for `30 00`). */
AF_NONCE_REQ *af_nonce_req_new(void);
void af_nonce_req_free(AF_NONCE_REQ *req);
AF_NONCE_REQ *af_nonce_req_dup(const AF_NONCE_REQ *req);
size_t af_nonce_req_get_count(const AF_NONCE_REQ *req);
/* Borrowed item i, NULL when out of range. */
AF_NONCE_REQ_ITEM *af_nonce_req_get0_item(const AF_NONCE_REQ *req, size_t i);
/* Appends an empty item and returns it (borrowed, owned by req). */
AF_NONCE_REQ_ITEM *af_nonce_req_add0_item(AF_NONCE_REQ *req);

/* len: 0 = absent, else 8..64 (AF_R_NONCE_BAD_LEN) */
int af_nonce_req_item_set_len(AF_NONCE_REQ_ITEM *item, int len);
int af_nonce_req_item_get_len(const AF_NONCE_REQ_ITEM *item);
/* type: dotted OID text or a name from the OID table; NULL clears. get0 gives dotted text. */
int af_nonce_req_item_set1_type(AF_NONCE_REQ_ITEM *item, const char *oid);
const char *af_nonce_req_item_get0_type(const AF_NONCE_REQ_ITEM *item);
/* info (reqInfo / seed value): kind AF_NONCE_ANY_*, data one value of that kind (validated);
 * data NULL clears. get0 returns 0 when absent (no error raised). */
int af_nonce_req_item_set1_info(AF_NONCE_REQ_ITEM *item, int kind, const unsigned char *data,
                                size_t len);
int af_nonce_req_item_get0_info(const AF_NONCE_REQ_ITEM *item, int *kind,
                                const unsigned char **data, size_t *len);
/* hint: UTF-8 text (a Verifier URI); NULL clears */
int af_nonce_req_item_set1_hint(AF_NONCE_REQ_ITEM *item, const char *hint);
const char *af_nonce_req_item_get0_hint(const AF_NONCE_REQ_ITEM *item);
/* vendorextension octets; data NULL clears; get0 returns 0 when absent */
int af_nonce_req_item_set1_vendorext(AF_NONCE_REQ_ITEM *item, const unsigned char *data,
                                     size_t len);
int af_nonce_req_item_get0_vendorext(const AF_NONCE_REQ_ITEM *item, const unsigned char **data,
                                     size_t *len);

/* Checks the request against the profile's shape and the protocol limits (what encode checks). */
int af_nonce_req_check(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                       const AF_NONCE_CODEC *codec);

/* Encodes to a new buffer *out (OPENSSL_free). Deterministic: same model, same bytes. */
int af_nonce_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                        const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen);
/* Decodes and validates in[0..inlen) as the profile's shape; *out receives a new request. codec
 * may be NULL (strict); its results (tolerated bits, bodyPartID) are updated. */
int af_nonce_req_decode(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                        AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen);
/* CMP binding helpers: ITAV {profile's CMP request OID, NonceRequest(Value)} and back. from_itav
 * checks the infoType; an absent infoValue is an empty request in lenient mode. */
OSSL_CMP_ITAV *af_nonce_req_to_itav(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                                    const AF_NONCE_CODEC *codec);
int af_nonce_req_from_itav(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof, AF_NONCE_CODEC *codec,
                           const OSSL_CMP_ITAV *itav);

/* ---- responses ---------------------------------------------------------------------------------
 */

AF_NONCE_RESP *af_nonce_resp_new(void);
void af_nonce_resp_free(AF_NONCE_RESP *resp);
AF_NONCE_RESP *af_nonce_resp_dup(const AF_NONCE_RESP *resp);
size_t af_nonce_resp_get_count(const AF_NONCE_RESP *resp);
AF_NONCE_RESP_ITEM *af_nonce_resp_get0_item(const AF_NONCE_RESP *resp, size_t i);
AF_NONCE_RESP_ITEM *af_nonce_resp_add0_item(AF_NONCE_RESP *resp);

/* nonce: len 0 (empty: no freshness proof needed) or 8..64 bytes (AF_R_NONCE_BAD_NONCE).
 * A new item has the empty nonce. */
int af_nonce_resp_item_set1_nonce(AF_NONCE_RESP_ITEM *item, const unsigned char *nonce, size_t len);
void af_nonce_resp_item_get0_nonce(const AF_NONCE_RESP_ITEM *item, const unsigned char **nonce,
                                   size_t *len);
/* Fills the nonce with len fresh random bytes (8..64) from rand when given (e.g. the provider's
 * HSM-backed EVP_RAND), else from RAND_bytes_ex(libctx) (libctx NULL = default). */
int af_nonce_resp_item_generate(AF_NONCE_RESP_ITEM *item, size_t len, EVP_RAND_CTX *rand,
                                OSSL_LIB_CTX *libctx);
/* Low-level form of the above into a caller buffer. */
int af_nonce_generate(unsigned char *buf, size_t len, EVP_RAND_CTX *rand, OSSL_LIB_CTX *libctx);

/* expiry: absent, seconds the nonce stays valid, or an absolute time (seed JSON/CBOR) kept as the
 * RFC 3339 text it came in (so it re-encodes byte-exact) plus its value. The encoder converts
 * between the two with the codec's time base when the encoding needs the other form. */
#define AF_NONCE_EXPIRY_NONE 0
#define AF_NONCE_EXPIRY_SECONDS 1
#define AF_NONCE_EXPIRY_TIME 2
int af_nonce_resp_item_get_expiry_kind(const AF_NONCE_RESP_ITEM *item);
/* seconds >= 0 (AF_R_NONCE_EXPIRY otherwise) */
int af_nonce_resp_item_set_expiry_seconds(AF_NONCE_RESP_ITEM *item, int64_t seconds);
/* RFC 3339 date-time (Z or +hh:mm offset, optional fraction); NULL = absent */
int af_nonce_resp_item_set1_expiry_time(AF_NONCE_RESP_ITEM *item, const char *rfc3339);
/* Absolute expiry as epoch seconds. */
int af_nonce_resp_item_set_expiry_epoch(AF_NONCE_RESP_ITEM *item, int64_t epoch);
/* Seconds form: the stored seconds, or for a TIME expiry max(0, time - now) with now from codec.
 * Returns 0 (no error) when absent. */
int af_nonce_resp_item_get_expiry_seconds(const AF_NONCE_RESP_ITEM *item,
                                          const AF_NONCE_CODEC *codec, int64_t *seconds);
/* Absolute form as epoch seconds (now + seconds for a SECONDS expiry); 0 when absent. */
int af_nonce_resp_item_get_expiry_epoch(const AF_NONCE_RESP_ITEM *item, const AF_NONCE_CODEC *codec,
                                        int64_t *epoch);
/* The RFC 3339 text of a TIME expiry, NULL otherwise. */
const char *af_nonce_resp_item_get0_expiry_time(const AF_NONCE_RESP_ITEM *item);

/* type, info (respInfo; current shape only), hint, vendorext: as for requests */
int af_nonce_resp_item_set1_type(AF_NONCE_RESP_ITEM *item, const char *oid);
const char *af_nonce_resp_item_get0_type(const AF_NONCE_RESP_ITEM *item);
int af_nonce_resp_item_set1_info(AF_NONCE_RESP_ITEM *item, int kind, const unsigned char *data,
                                 size_t len);
int af_nonce_resp_item_get0_info(const AF_NONCE_RESP_ITEM *item, int *kind,
                                 const unsigned char **data, size_t *len);
int af_nonce_resp_item_set1_hint(AF_NONCE_RESP_ITEM *item, const char *hint);
const char *af_nonce_resp_item_get0_hint(const AF_NONCE_RESP_ITEM *item);
int af_nonce_resp_item_set1_vendorext(AF_NONCE_RESP_ITEM *item, const unsigned char *data,
                                      size_t len);
int af_nonce_resp_item_get0_vendorext(const AF_NONCE_RESP_ITEM *item, const unsigned char **data,
                                      size_t *len);

int af_nonce_resp_check(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                        const AF_NONCE_CODEC *codec);
int af_nonce_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                         af_nonce_format fmt, const AF_NONCE_CODEC *codec, unsigned char **out,
                         size_t *outlen);
int af_nonce_resp_decode(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                         AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen);
OSSL_CMP_ITAV *af_nonce_resp_to_itav(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                                     const AF_NONCE_CODEC *codec);
int af_nonce_resp_from_itav(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof,
                            AF_NONCE_CODEC *codec, const OSSL_CMP_ITAV *itav);

#ifdef __cplusplus
}
#endif
#endif
