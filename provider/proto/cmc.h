/* cmc.h - CMC (RFC 5272/6402) messages for the nonce exchange, shared by the RA's responder
 * (ra/cmc_server.c) and the station's client (proto/cmc_client.c), inside libattfresh only:
 * OpenSSL ASN.1 templates for ContentInfo, PKIData, PKIResponse, TaggedAttribute, OtherMsg and
 * CMCStatusInfoV2, and a flat view (AF_CMC_MSG) of the controls the exchange uses:
 *   request  = ContentInfo id-data { PKIData { {transactionId, senderNonce, nonce request}, {},
 *              {}, {} } }
 *   response = ContentInfo id-data { PKIResponse { {transactionId, senderNonce, recipientNonce,
 *              nonce response | CMCStatusInfoV2 failed}, {}, {} } }
 * Decoding is strict: DER only (re-encoding must give the input), no trailing bytes, each known
 * control at most once with exactly one value. Unknown controls and non-empty reqSequence,
 * cmsSequence, otherMsgSequence are accepted and ignored by the flat view. */
#ifndef AF_PROTO_CMC_H
#define AF_PROTO_CMC_H

#include <stddef.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/safestack.h>

/* RFC 5273 media types */
#define AF_CMC_MEDIA_TYPE "application/pkcs7-mime"
#define AF_CMC_REQUEST_CT "application/pkcs7-mime; smime-type=CMC-request"
#define AF_CMC_RESPONSE_CT "application/pkcs7-mime; smime-type=CMC-response"

/* CMCStatus (RFC 5272 6.1.1) and CMCFailInfo (6.1.4) values we use or name */
#define AF_CMC_STATUS_SUCCESS 0
#define AF_CMC_STATUS_FAILED 2
#define AF_CMC_STATUS_PENDING 3
#define AF_CMC_STATUS_NO_SUPPORT 4
#define AF_CMC_FAIL_BAD_ALG 0
#define AF_CMC_FAIL_BAD_MESSAGE_CHECK 1
#define AF_CMC_FAIL_BAD_REQUEST 2
#define AF_CMC_FAIL_BAD_TIME 3
#define AF_CMC_FAIL_INTERNAL_CA_ERROR 11
#define AF_CMC_FAIL_TRY_LATER 12

/* Largest message either side decodes. */
#define AF_CMC_MAX_MESSAGE (64 * 1024)

/* clang-format off */
/* ---- templates ------------------------------------------------------------------------------ */

/* TaggedAttribute ::= SEQUENCE { bodyPartID BodyPartID, attrType OID, attrValues SET OF ANY } */
typedef struct {
    ASN1_INTEGER *bodyPartID;
    ASN1_OBJECT *attrType;
    STACK_OF(ASN1_TYPE) *attrValues;
} AF_CMC_TAGGED_ATTR;
DECLARE_ASN1_FUNCTIONS(AF_CMC_TAGGED_ATTR)
DECLARE_ASN1_DUP_FUNCTION(AF_CMC_TAGGED_ATTR)
DEFINE_STACK_OF(AF_CMC_TAGGED_ATTR)

/* OtherMsg ::= SEQUENCE { bodyPartID, otherMsgType OID, otherMsgValue ANY } */
typedef struct {
    ASN1_INTEGER *bodyPartID;
    ASN1_OBJECT *otherMsgType;
    ASN1_TYPE *otherMsgValue;
} AF_CMC_OTHER_MSG;
DECLARE_ASN1_FUNCTIONS(AF_CMC_OTHER_MSG)
DEFINE_STACK_OF(AF_CMC_OTHER_MSG)

/* PKIData ::= SEQUENCE { controlSequence, reqSequence SEQUENCE OF TaggedRequest, cmsSequence
 * SEQUENCE OF TaggedContentInfo, otherMsgSequence }. TaggedRequest and TaggedContentInfo are kept
 * whole (ANY): the nonce exchange carries none, a later enrollment reads them itself. */
typedef struct {
    STACK_OF(AF_CMC_TAGGED_ATTR) *controlSequence;
    STACK_OF(ASN1_TYPE) *reqSequence;
    STACK_OF(ASN1_TYPE) *cmsSequence;
    STACK_OF(AF_CMC_OTHER_MSG) *otherMsgSequence;
} AF_CMC_PKIDATA;
DECLARE_ASN1_FUNCTIONS(AF_CMC_PKIDATA)

/* PKIResponse ::= SEQUENCE { controlSequence, cmsSequence, otherMsgSequence } */
typedef struct {
    STACK_OF(AF_CMC_TAGGED_ATTR) *controlSequence;
    STACK_OF(ASN1_TYPE) *cmsSequence;
    STACK_OF(AF_CMC_OTHER_MSG) *otherMsgSequence;
} AF_CMC_PKIRESPONSE;
DECLARE_ASN1_FUNCTIONS(AF_CMC_PKIRESPONSE)

/* CMCStatusInfoV2 ::= SEQUENCE { cMCStatus INTEGER, bodyList SEQUENCE SIZE (1..MAX) OF
 * BodyPartReference, statusString UTF8String OPTIONAL, otherInfo OtherStatusInfo OPTIONAL }.
 * BodyPartReference (INTEGER or SEQUENCE OF INTEGER) and OtherStatusInfo (failInfo INTEGER,
 * pendInfo or extendedFailInfo, both SEQUENCEs) are untagged CHOICEs: kept as ANY and told apart
 * by their tag. */
typedef struct {
    ASN1_INTEGER *cMCStatus;
    STACK_OF(ASN1_TYPE) *bodyList;
    ASN1_UTF8STRING *statusString;
    ASN1_TYPE *otherInfo;
} AF_CMC_STATUS_INFO_V2;
DECLARE_ASN1_FUNCTIONS(AF_CMC_STATUS_INFO_V2)

/* ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY } */
typedef struct {
    ASN1_OBJECT *contentType;
    ASN1_TYPE *content;
} AF_CMC_CONTENT_INFO;
DECLARE_ASN1_FUNCTIONS(AF_CMC_CONTENT_INFO)
/* clang-format on */

/* ---- the flat view -------------------------------------------------------------------------- */

typedef struct {
    /* transactionId as its INTEGER content octets (two's complement, as in the DER); this is also
     * the binding the RA records the nonce under. NULL = absent. */
    unsigned char *txid;
    size_t txid_len;
    unsigned char *sender_nonce; /* senderNonce OCTET STRING; NULL = absent */
    size_t sender_nonce_len;
    unsigned char *recip_nonce; /* recipientNonce (responses); NULL = absent */
    size_t recip_nonce_len;
    /* The nonce request/response control as a whole DER TaggedAttribute (the nonce codec's
     * AF_NONCE_FMT_CMC form, bodyPartID included); NULL = absent. */
    unsigned char *nonce_ctl;
    size_t nonce_ctl_len;
    /* CMCStatusInfoV2: status -1 = no such control */
    int status;
    long fail_info;        /* -1 = none */
    char *status_string;   /* NULL = none */
    long status_body_part; /* the first BodyPartReference when it is a bodyPartID */
} AF_CMC_MSG;

void af_cmc_msg_init(AF_CMC_MSG *m);
/* Frees and clears every member (accepts a zeroed or initialised view). */
void af_cmc_msg_cleanup(AF_CMC_MSG *m);
/* Copies into the view's byte members (data NULL clears). */
int af_cmc_msg_set1(unsigned char **field, size_t *field_len, const unsigned char *data,
                    size_t len);

/* Encodes m as a request (PKIData) or response (PKIResponse) in a ContentInfo id-data into a new
 * buffer (OPENSSL_free). Controls in this order, bodyPartIDs 1, 2, ...: transactionId,
 * senderNonce, recipientNonce, then the nonce control (its own bodyPartID), then
 * CMCStatusInfoV2 when status >= 0. */
int af_cmc_msg_encode(const AF_CMC_MSG *m, int response, unsigned char **out, size_t *outlen);
/* Decodes strictly into m (initialised here); nonce_oid is the dotted OID of the nonce control to
 * pick out (the profile's CMC request or response OID). AF_R_NONCE_DECODE / AF_R_NONCE_NOT_DER /
 * AF_R_NONCE_TRAILING / AF_R_NONCE_DUPLICATE / AF_R_NONCE_BAD_TYPE on failure. */
int af_cmc_msg_decode(AF_CMC_MSG *m, int response, const char *nonce_oid, const unsigned char *in,
                      size_t inlen);

/* Short name of a CMCFailInfo value ("badRequest", "tryLater", ...; "failInfo <n>" otherwise). */
const char *af_cmc_fail_info_name(long fail_info, char *buf, size_t bufsize);

#endif
