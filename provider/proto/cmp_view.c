/* cmp_view.c - an ASN.1 template view of a CMP PKIMessage (RFC 9810 section 5.1) for the header
 * fields OpenSSL 3.0 keeps private (senderNonce read, recipNonce and transactionID rewrite) and for
 * replacing an error body's PKIStatusInfo. Unnamed elements are kept byte-exact as ANY. */
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cmp.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "proto_local.h"

/* ErrorMsgContent ::= SEQUENCE { pKIStatusInfo, errorCode INTEGER OPTIONAL,
 *                                errorDetails PKIFreeText OPTIONAL }; we only write the first. */
typedef struct {
    OSSL_CMP_PKISI *status;
} AF_CMP_ERRMSG;
typedef AF_CMP_ERRMSG AF_CMP_ERRBODY;

/* The templates are at the end of this file. */
static const ASN1_ITEM *AF_CMP_HDR_VIEW_it(void);
static const ASN1_ITEM *AF_CMP_MSG_VIEW_it(void);
static const ASN1_ITEM *AF_CMP_ERRMSG_it(void);
static const ASN1_ITEM *AF_CMP_ERRBODY_it(void);
static AF_CMP_MSG_VIEW *d2i_AF_CMP_MSG_VIEW(AF_CMP_MSG_VIEW **a, const unsigned char **in,
                                            long len);
static int i2d_AF_CMP_MSG_VIEW(const AF_CMP_MSG_VIEW *a, unsigned char **out);
static AF_CMP_ERRMSG *AF_CMP_ERRMSG_new(void);
static void AF_CMP_ERRMSG_free(AF_CMP_ERRMSG *a);

AF_CMP_MSG_VIEW *af_cmp_view_new(const OSSL_CMP_MSG *msg)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int len = i2d_OSSL_CMP_MSG((OSSL_CMP_MSG *)msg, &der);
    AF_CMP_MSG_VIEW *v = NULL;

    if (len <= 0) {
        AF_ERR(AF_R_INTERNAL, "cannot encode the CMP message");
        return NULL;
    }
    p = der;
    v = d2i_AF_CMP_MSG_VIEW(NULL, &p, len);
    if (v == NULL || p != der + len) {
        ASN1_item_free((ASN1_VALUE *)v, ASN1_ITEM_rptr(AF_CMP_MSG_VIEW));
        v = NULL;
        AF_ERR(AF_R_INTERNAL, "cannot read the CMP message header");
    }
    OPENSSL_free(der);
    return v;
}

void af_cmp_view_free(AF_CMP_MSG_VIEW *v)
{
    ASN1_item_free((ASN1_VALUE *)v, ASN1_ITEM_rptr(AF_CMP_MSG_VIEW));
}

OSSL_CMP_MSG *af_cmp_view_to_msg(const AF_CMP_MSG_VIEW *v)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int len = i2d_AF_CMP_MSG_VIEW((AF_CMP_MSG_VIEW *)v, &der);
    OSSL_CMP_MSG *m = NULL;

    if (len > 0) {
        p = der;
        m = d2i_OSSL_CMP_MSG(NULL, &p, len);
    }
    OPENSSL_free(der);
    if (m == NULL)
        AF_ERR(AF_R_INTERNAL, "cannot rebuild the CMP message");
    return m;
}

int af_cmp_view_set1_octets(ASN1_OCTET_STRING **field, const unsigned char *data, size_t len)
{
    ASN1_OCTET_STRING *o = NULL;

    if (data != NULL) {
        if ((o = ASN1_OCTET_STRING_new()) == NULL || !ASN1_OCTET_STRING_set(o, data, (int)len)) {
            ASN1_OCTET_STRING_free(o);
            AF_ERR(AF_R_MALLOC, "CMP header field");
            return 0;
        }
    }
    ASN1_OCTET_STRING_free(*field);
    *field = o;
    return 1;
}

size_t af_cmp_error_body_der(int fail_bit, const char *text, unsigned char **out)
{
    AF_CMP_ERRMSG *em = AF_CMP_ERRMSG_new();
    int len = 0;

    *out = NULL;
    if (em != NULL) {
        OSSL_CMP_PKISI_free(em->status);
        em->status = OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit, text);
        if (em->status != NULL)
            len = ASN1_item_i2d((ASN1_VALUE *)em, out, ASN1_ITEM_rptr(AF_CMP_ERRBODY));
    }
    AF_CMP_ERRMSG_free(em);
    if (len <= 0) {
        AF_ERR(AF_R_INTERNAL, "cannot build the CMP error body");
        return 0;
    }
    return (size_t)len;
}

int af_cmp_view_set_error_body(AF_CMP_MSG_VIEW *v, int fail_bit, const char *text)
{
    unsigned char *der = NULL;
    size_t len = af_cmp_error_body_der(fail_bit, text, &der);
    ASN1_STRING *raw;

    if (len == 0)
        return 0;
    if ((raw = ASN1_STRING_type_new(V_ASN1_OTHER)) == NULL) {
        OPENSSL_free(der);
        AF_ERR(AF_R_MALLOC, "CMP error body");
        return 0;
    }
    ASN1_STRING_set0(raw, der, (int)len);
    ASN1_TYPE_set(v->body, V_ASN1_OTHER, raw);
    return 1;
}

AF_CMP_HDR_VIEW *af_cmp_hdr_view_new(void)
{
    return (AF_CMP_HDR_VIEW *)ASN1_item_new(ASN1_ITEM_rptr(AF_CMP_HDR_VIEW));
}

void af_cmp_hdr_view_free(AF_CMP_HDR_VIEW *h)
{
    ASN1_item_free((ASN1_VALUE *)h, ASN1_ITEM_rptr(AF_CMP_HDR_VIEW));
}

AF_CMP_HDR_VIEW *af_cmp_hdr_view_d2i(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    AF_CMP_HDR_VIEW *h;

    h = (AF_CMP_HDR_VIEW *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(AF_CMP_HDR_VIEW));
    if (h != NULL && p != der + len) {
        af_cmp_hdr_view_free(h);
        h = NULL;
    }
    return h;
}

size_t af_cmp_hdr_view_i2d(const AF_CMP_HDR_VIEW *h, unsigned char **out)
{
    int len;

    *out = NULL;
    len = ASN1_item_i2d((ASN1_VALUE *)h, out, ASN1_ITEM_rptr(AF_CMP_HDR_VIEW));
    return len > 0 ? (size_t)len : 0;
}

int af_cmp_msg_get_sender_nonce(const OSSL_CMP_MSG *msg, unsigned char *buf, size_t bufsize,
                                size_t *len)
{
    AF_CMP_MSG_VIEW *v = af_cmp_view_new(msg);
    const ASN1_OCTET_STRING *n;
    int ok = 0;

    *len = 0;
    if (v == NULL)
        return 0;
    n = v->header->senderNonce;
    if (n != NULL && (size_t)ASN1_STRING_length(n) <= bufsize) {
        memcpy(buf, ASN1_STRING_get0_data(n), (size_t)ASN1_STRING_length(n));
        *len = (size_t)ASN1_STRING_length(n);
        ok = 1;
    }
    af_cmp_view_free(v);
    return ok;
}

/* ---- templates (the macros read best one field per line) --------------------------------- */
/* clang-format off */
/* PKIHeader: pvno, sender, recipient, then [0]..[8] EXPLICIT OPTIONAL */
ASN1_SEQUENCE(AF_CMP_HDR_VIEW) = {
    ASN1_SIMPLE(AF_CMP_HDR_VIEW, pvno, ASN1_INTEGER),
    ASN1_SIMPLE(AF_CMP_HDR_VIEW, sender, ASN1_ANY),
    ASN1_SIMPLE(AF_CMP_HDR_VIEW, recipient, ASN1_ANY),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, messageTime, ASN1_GENERALIZEDTIME, 0),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, protectionAlg, X509_ALGOR, 1),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, senderKID, ASN1_OCTET_STRING, 2),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, recipKID, ASN1_OCTET_STRING, 3),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, transactionID, ASN1_OCTET_STRING, 4),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, senderNonce, ASN1_OCTET_STRING, 5),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, recipNonce, ASN1_OCTET_STRING, 6),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, freeText, ASN1_ANY, 7),
    ASN1_EXP_OPT(AF_CMP_HDR_VIEW, generalInfo, ASN1_ANY, 8),
} static_ASN1_SEQUENCE_END(AF_CMP_HDR_VIEW)

ASN1_SEQUENCE(AF_CMP_MSG_VIEW) = {
    ASN1_SIMPLE(AF_CMP_MSG_VIEW, header, AF_CMP_HDR_VIEW),
    ASN1_SIMPLE(AF_CMP_MSG_VIEW, body, ASN1_ANY),
    ASN1_EXP_OPT(AF_CMP_MSG_VIEW, protection, ASN1_BIT_STRING, 0),
    ASN1_EXP_OPT(AF_CMP_MSG_VIEW, extraCerts, ASN1_ANY, 1),
} static_ASN1_SEQUENCE_END(AF_CMP_MSG_VIEW)


ASN1_SEQUENCE(AF_CMP_ERRMSG) = {
    ASN1_SIMPLE(AF_CMP_ERRMSG, status, OSSL_CMP_PKISI),
} static_ASN1_SEQUENCE_END(AF_CMP_ERRMSG)

/* PKIBody error choice: [23] EXPLICIT ErrorMsgContent */
ASN1_ITEM_TEMPLATE(AF_CMP_ERRBODY) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_EXPLICIT, 23, AF_CMP_ERRBODY, AF_CMP_ERRMSG)
static_ASN1_ITEM_TEMPLATE_END(AF_CMP_ERRBODY)

IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(AF_CMP_MSG_VIEW)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(AF_CMP_ERRMSG)
