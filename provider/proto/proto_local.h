/* proto_local.h - what the station-side protocol clients share inside libattfresh (not public):
 * certificate file loading, the request to send, filling the state after a successful exchange,
 * and the minimal CMP header view used to read/patch fields OpenSSL 3.0 has no accessor for. */
#ifndef AF_PROTO_LOCAL_H
#define AF_PROTO_LOCAL_H

#include <openssl/cmp.h>
#include <openssl/asn1t.h>
#include <openssl/x509.h>

#include "attfresh/proto.h"

/* All certificates of a PEM file (or one DER certificate) into a new stack. */
int af_proto_load_certs(const char *path, STACK_OF(X509) * *out);
/* A copy of the options' request, or a new request with one empty item. */
AF_NONCE_REQ *af_proto_request_or_empty(const AF_PROTO_OPTS *opts);
/* Sets protocol, URL, profile, created, response and expiry of st from a successful exchange. */
int af_proto_state_fill(AF_PROTO_STATE *st, const AF_PROTO_OPTS *opts, const char *url,
                        const AF_NONCE_RESP *resp);

/* ---- CMP message view (cmp_view.c) ------------------------------------------------------------
 * OpenSSL 3.0 gives no public access to a PKIHeader's senderNonce nor a setter for recipNonce, and
 * its server always answers errors with failInfo badRequest. This ASN.1 view of PKIMessage
 * (RFC 9810 5.1) reads and rewrites those header fields and the body; every element it does not
 * name is kept byte-exact (ANY), so decode -> encode gives the same DER. After a change the
 * caller re-protects the message with OSSL_CMP_MSG_update_transactionID(ctx, msg). */
typedef struct af_cmp_hdr_view_st {
    ASN1_INTEGER *pvno;
    ASN1_TYPE *sender;    /* GeneralName, kept as is */
    ASN1_TYPE *recipient; /* GeneralName, kept as is */
    ASN1_GENERALIZEDTIME *messageTime;
    X509_ALGOR *protectionAlg;
    ASN1_OCTET_STRING *senderKID;
    ASN1_OCTET_STRING *recipKID;
    ASN1_OCTET_STRING *transactionID;
    ASN1_OCTET_STRING *senderNonce;
    ASN1_OCTET_STRING *recipNonce;
    ASN1_TYPE *freeText;
    ASN1_TYPE *generalInfo;
} AF_CMP_HDR_VIEW;

typedef struct af_cmp_msg_view_st {
    AF_CMP_HDR_VIEW *header;
    ASN1_TYPE *body; /* the [n] EXPLICIT PKIBody choice, whole TLV */
    ASN1_BIT_STRING *protection;
    ASN1_TYPE *extraCerts;
} AF_CMP_MSG_VIEW;

/* A view of msg (decoded from its DER); NULL with an error raised. */
AF_CMP_MSG_VIEW *af_cmp_view_new(const OSSL_CMP_MSG *msg);
void af_cmp_view_free(AF_CMP_MSG_VIEW *v);
/* The message the view describes now (protection unchanged, so re-protect it). */
OSSL_CMP_MSG *af_cmp_view_to_msg(const AF_CMP_MSG_VIEW *v);
/* Replaces an octet string field (data NULL removes it). */
int af_cmp_view_set1_octets(ASN1_OCTET_STRING **field, const unsigned char *data, size_t len);
/* Replaces the body with error [23] {PKIStatusInfo {rejection, statusString text, failInfo bit}}.
 */
int af_cmp_view_set_error_body(AF_CMP_MSG_VIEW *v, int fail_bit, const char *text);
/* The header alone (the server's fast path builds and reads headers without a whole message). */
AF_CMP_HDR_VIEW *af_cmp_hdr_view_new(void);
void af_cmp_hdr_view_free(AF_CMP_HDR_VIEW *h);
AF_CMP_HDR_VIEW *af_cmp_hdr_view_d2i(const unsigned char *der, size_t len);
/* DER of the header into a new buffer *out (OPENSSL_free); returns the length, 0 on error. */
size_t af_cmp_hdr_view_i2d(const AF_CMP_HDR_VIEW *h, unsigned char **out);
/* DER of an error body [23] ErrorMsgContent {rejection, text, failInfo bit}; length, 0 on error. */
size_t af_cmp_error_body_der(int fail_bit, const char *text, unsigned char **out);
/* An OSSL_CMP_MSG's senderNonce (copied into buf, at most bufsize bytes); 0 when absent. */
int af_cmp_msg_get_sender_nonce(const OSSL_CMP_MSG *msg, unsigned char *buf, size_t bufsize,
                                size_t *len);
#endif
