/* cmc_enroll.c - CMC enrollment (RFC 5272/6402 Full PKI Request, nonce-protocol.md 5.3): the
 * request is ContentInfo id-data { PKIData { {transactionId = the nonce exchange's, senderNonce},
 * {tcr {bodyPartID, attested PKCS#10}}, {}, {} } }. The RA answers success with a Full PKI
 * Response: SignedData (signed by the CA, so a token CA key signs it too) whose eContentType is
 * id-cct-PKIResponse {transactionId, senderNonce, recipientNonce, CMCStatusInfoV2 success} and
 * whose certificates hold the issued one; a refusal is ContentInfo id-data PKIResponse with
 * CMCStatusInfoV2 failed, the failInfo of the check's class and the check named in statusString.
 * Also the station's side of the same messages. */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/crmf.h>
#include <openssl/err.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"
#include "enroll_local.h"
#include "proto/cmc.h"

#define CMC_SENDER_NONCE_BYTES 16
#define CMC_FAIL_BAD_IDENTITY 7
#define CMC_FAIL_POP_FAILED 9

/* TaggedCertificationRequest ::= SEQUENCE { bodyPartID, certificationRequest } */
typedef struct {
    ASN1_INTEGER *bodyPartID;
    X509_REQ *certificationRequest;
} AF_CMC_TCR;

ASN1_SEQUENCE(AF_CMC_TCR) = {ASN1_SIMPLE(AF_CMC_TCR, bodyPartID, ASN1_INTEGER),
                             ASN1_SIMPLE(AF_CMC_TCR, certificationRequest,
                                         X509_REQ)} ASN1_SEQUENCE_END(AF_CMC_TCR)

/* TaggedRequest ::= CHOICE { tcr [0], crm [1] CertReqMsg, orm [2] } (module IMPLICIT TAGS) */
#define CMC_TAGGED_TCR 0
    typedef struct {
    int type;
    union {
        AF_CMC_TCR *tcr;
        OSSL_CRMF_MSG *crm;
        STACK_OF(ASN1_TYPE) * orm;
    } value;
} AF_CMC_TAGGED_REQ;

ASN1_CHOICE(AF_CMC_TAGGED_REQ) = {ASN1_IMP(AF_CMC_TAGGED_REQ, value.tcr, AF_CMC_TCR, 0),
                                  ASN1_IMP(AF_CMC_TAGGED_REQ, value.crm, OSSL_CRMF_MSG, 1),
                                  ASN1_IMP_SEQUENCE_OF(AF_CMC_TAGGED_REQ, value.orm, ASN1_ANY,
                                                       2)} ASN1_CHOICE_END(AF_CMC_TAGGED_REQ)

                                     DECLARE_ASN1_FUNCTIONS(AF_CMC_TAGGED_REQ)
                                         IMPLEMENT_ASN1_FUNCTIONS(AF_CMC_TAGGED_REQ)

                                 /* The PKIData inside a ContentInfo id-data (new), or NULL. */
                                 static AF_CMC_PKIDATA
                                 * pkidata_of(const unsigned char *in, size_t len)
{
    const unsigned char *p = in;
    AF_CMC_CONTENT_INFO *ci;
    AF_CMC_PKIDATA *pd = NULL;

    if (len > AF_CMC_MAX_MESSAGE || (ci = d2i_AF_CMC_CONTENT_INFO(NULL, &p, (long)len)) == NULL)
        return NULL;
    if (OBJ_obj2nid(ci->contentType) == NID_pkcs7_data &&
        ASN1_TYPE_get(ci->content) == V_ASN1_OCTET_STRING) {
        p = ASN1_STRING_get0_data(ci->content->value.octet_string);
        pd = d2i_AF_CMC_PKIDATA(NULL, &p, ASN1_STRING_length(ci->content->value.octet_string));
    }
    AF_CMC_CONTENT_INFO_free(ci);
    return pd;
}

int af_ra_cmc_is_enroll(const unsigned char *body, size_t len)
{
    AF_CMC_PKIDATA *pd = pkidata_of(body, len);
    int yes = pd != NULL && sk_ASN1_TYPE_num(pd->reqSequence) > 0;

    AF_CMC_PKIDATA_free(pd);
    ERR_clear_error();
    return yes;
}

/* The one tcr of the reqSequence: its PKCS#10 (new) and bodyPartID. */
static X509_REQ *the_request(const AF_CMC_PKIDATA *pd, long *body_part, char *why, size_t n)
{
    const ASN1_TYPE *t;
    AF_CMC_TAGGED_REQ *tr = NULL;
    X509_REQ *req = NULL;
    const unsigned char *p;

    if (sk_ASN1_TYPE_num(pd->reqSequence) != 1) {
        snprintf(why, n, "request: %d certification requests (exactly one)",
                 sk_ASN1_TYPE_num(pd->reqSequence));
        return NULL;
    }
    t = sk_ASN1_TYPE_value(pd->reqSequence, 0);
    if (t->type != V_ASN1_OTHER) {
        snprintf(why, n, "request: the TaggedRequest is not a context-tagged choice");
        return NULL;
    }
    p = ASN1_STRING_get0_data(t->value.asn1_string);
    tr = d2i_AF_CMC_TAGGED_REQ(NULL, &p, ASN1_STRING_length(t->value.asn1_string));
    if (tr == NULL || tr->type != CMC_TAGGED_TCR) {
        snprintf(why, n, "request: %s",
                 tr == NULL ? "undecodable TaggedRequest"
                            : "only tcr (PKCS#10) requests are served");
    } else {
        *body_part = ASN1_INTEGER_get(tr->value.tcr->bodyPartID);
        req = tr->value.tcr->certificationRequest;
        tr->value.tcr->certificationRequest = NULL;
    }
    AF_CMC_TAGGED_REQ_free(tr);
    ERR_clear_error();
    return req;
}

/* The PKIResponse DER out of the ContentInfo id-data that af_cmc_msg_encode made. */
static int response_der(const AF_CMC_MSG *m, unsigned char **out, int *outlen)
{
    unsigned char *ci_der = NULL;
    size_t ci_len = 0;
    const unsigned char *p;
    AF_CMC_CONTENT_INFO *ci = NULL;
    int ok = 0;

    if (!af_cmc_msg_encode(m, 1, &ci_der, &ci_len))
        return 0;
    p = ci_der;
    if ((ci = d2i_AF_CMC_CONTENT_INFO(NULL, &p, (long)ci_len)) != NULL &&
        ASN1_TYPE_get(ci->content) == V_ASN1_OCTET_STRING) {
        *outlen = ASN1_STRING_length(ci->content->value.octet_string);
        *out =
            OPENSSL_memdup(ASN1_STRING_get0_data(ci->content->value.octet_string), (size_t)*outlen);
        ok = *out != NULL;
    }
    AF_CMC_CONTENT_INFO_free(ci);
    OPENSSL_free(ci_der);
    return ok;
}

/* SignedData { eContentType id-cct-PKIResponse, eContent, certificates: issued + CA } signed
 * by the CA (its certificate always travels along: the station checks the signature with it). */
static int full_response(const AF_CMC_MSG *m, AF_CA *ca, X509 *cert, OSSL_LIB_CTX *libctx,
                         unsigned char **out, size_t *outlen)
{
    unsigned int flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    unsigned char *inner = NULL, *der = NULL;
    int innerlen = 0, derlen, ok = 0;
    CMS_ContentInfo *cms = NULL;
    BIO *bio = NULL;

    if (!response_der(m, &inner, &innerlen))
        return 0;
    if ((cms = CMS_sign_ex(NULL, NULL, NULL, NULL, flags, libctx, NULL)) == NULL ||
        !CMS_set1_eContentType(cms, OBJ_nid2obj(NID_id_cct_PKIResponse)) ||
        CMS_add1_signer(cms, af_ca_get0_cert(ca), af_ca_get0_key(ca), NULL, flags) == NULL ||
        !CMS_add1_cert(cms, cert) || (bio = BIO_new_mem_buf(inner, innerlen)) == NULL ||
        !CMS_final(cms, bio, NULL, flags))
        goto done;
    if ((derlen = i2d_CMS_ContentInfo(cms, &der)) <= 0)
        goto done;
    *out = der;
    *outlen = (size_t)derlen;
    ok = 1;
done:
    BIO_free(bio);
    CMS_ContentInfo_free(cms);
    OPENSSL_free(inner);
    return ok;
}

static long fail_info_of(af_enroll_class c)
{
    switch (c) {
    case AF_ENROLL_BAD_POP:
        return CMC_FAIL_POP_FAILED;
    case AF_ENROLL_NOT_AUTHORIZED:
        return CMC_FAIL_BAD_IDENTITY;
    case AF_ENROLL_INTERNAL:
        return AF_CMC_FAIL_INTERNAL_CA_ERROR;
    default:
        return AF_CMC_FAIL_BAD_REQUEST;
    }
}

int af_ra_cmc_enroll_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs)
{
    const AF_NONCE_PROFILE *prof;
    AF_RA_ENROLL *e;
    AF_CMC_PKIDATA *pd = NULL;
    AF_CMC_MSG in, out;
    AF_ENROLL_RESULT res;
    X509_REQ *req = NULL;
    X509 *cert = NULL;
    unsigned char sn[CMC_SENDER_NONCE_BYTES];
    long part = -1;
    char why[200] = "", name[32], subj[120];
    int ok = 0;

    if (ra == NULL || rq == NULL || rs == NULL)
        return 0;
    memset(rs, 0, sizeof(*rs));
    af_cmc_msg_init(&in);
    af_cmc_msg_init(&out);
    ERR_clear_error();
    if (rq->method == NULL || strcmp(rq->method, "POST") != 0) {
        snprintf(rs->allow, sizeof(rs->allow), "POST");
        rs->status = 405;
        snprintf(rs->log, sizeof(rs->log), "cmc enroll: method not allowed");
        return 1;
    }
    if ((prof = af_ra_get0_profile(ra, rq->profile)) == NULL) {
        rs->status = 404;
        snprintf(rs->log, sizeof(rs->log), "cmc enroll: unknown profile");
        return 1;
    }
    if (!af_cmc_msg_decode(&in, 0, af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMC_REQUEST),
                           rq->body, rq->body_len) ||
        (pd = pkidata_of(rq->body, rq->body_len)) == NULL) {
        af_err_line(why, sizeof(why));
        rs->status = 400;
        snprintf(rs->log, sizeof(rs->log), "cmc enroll: bad request: %s", why);
        goto cleanup;
    }
    /* from here on the answer is CMC */
    if (!af_ra_random(ra, sn, sizeof(sn)) ||
        !af_cmc_msg_set1(&out.sender_nonce, &out.sender_nonce_len, sn, sizeof(sn)) ||
        (in.txid != NULL && !af_cmc_msg_set1(&out.txid, &out.txid_len, in.txid, in.txid_len)) ||
        (in.sender_nonce != NULL && !af_cmc_msg_set1(&out.recip_nonce, &out.recip_nonce_len,
                                                     in.sender_nonce, in.sender_nonce_len)))
        goto done;
    e = af_ra_get0_enroll(ra);
    if ((req = the_request(pd, &part, why, sizeof(why))) == NULL) {
        res.cls = AF_ENROLL_BAD_REQUEST;
        snprintf(res.why, sizeof(res.why), "%s", why);
    } else if (in.txid == NULL) {
        res.cls = AF_ENROLL_BAD_REQUEST;
        snprintf(res.why, sizeof(res.why), "request: no transactionId control");
    } else {
        cert = af_ra_enroll(ra, req, NULL, in.txid, in.txid_len, &res, NULL);
    }
    out.status_body_part = part >= 0 ? part : 0;
    if (cert != NULL) {
        out.status = AF_CMC_STATUS_SUCCESS;
        if (!full_response(&out, af_ra_enroll_get0_ca(e), cert, af_ra_get0_libctx(ra), &rs->body,
                           &rs->body_len))
            goto done;
        X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
        snprintf(rs->log, sizeof(rs->log), "cmc enroll: issued %s", subj);
    } else {
        out.status =
            res.cls == AF_ENROLL_NOT_CONFIGURED ? AF_CMC_STATUS_NO_SUPPORT : AF_CMC_STATUS_FAILED;
        out.fail_info = res.cls == AF_ENROLL_NOT_CONFIGURED ? -1 : fail_info_of(res.cls);
        if ((out.status_string = OPENSSL_strdup(res.why)) == NULL ||
            !af_cmc_msg_encode(&out, 1, &rs->body, &rs->body_len))
            goto done;
        snprintf(rs->log, sizeof(rs->log), "cmc enroll: failed %s: %.180s",
                 out.fail_info >= 0 ? af_cmc_fail_info_name(out.fail_info, name, sizeof(name))
                                    : "noSupport",
                 res.why);
    }
    rs->status = 200;
    snprintf(rs->content_type, sizeof(rs->content_type), "%s", AF_CMC_RESPONSE_CT);
    ok = 1;
done:
    if (!ok) {
        OPENSSL_free(rs->body);
        rs->body = NULL;
        rs->body_len = 0;
        rs->content_type[0] = '\0';
        af_err_line(why, sizeof(why));
        rs->status = 500;
        snprintf(rs->log, sizeof(rs->log), "cmc enroll: internal error: %s", why);
    }
cleanup:
    OPENSSL_cleanse(sn, sizeof(sn));
    X509_free(cert);
    X509_REQ_free(req);
    AF_CMC_PKIDATA_free(pd);
    af_cmc_msg_cleanup(&in);
    af_cmc_msg_cleanup(&out);
    ERR_clear_error();
    return 1;
}

/* ---- the station's side ------------------------------------------------------------------- */

int af_cmc_enroll_request_encode(const unsigned char *txid, size_t txid_len,
                                 const unsigned char *sender_nonce, size_t sn_len,
                                 const X509_REQ *req, unsigned char **out, size_t *outlen)
{
    AF_CMC_MSG m;
    AF_CMC_PKIDATA *pd = NULL;
    AF_CMC_CONTENT_INFO *ci = NULL;
    AF_CMC_TAGGED_REQ *tr = NULL;
    ASN1_TYPE *t = NULL;
    unsigned char *base = NULL, *trder = NULL, *pdder = NULL, *der = NULL;
    const unsigned char *p;
    size_t base_len = 0;
    int n, pdlen, derlen, ok = 0;

    af_cmc_msg_init(&m);
    if (!af_cmc_msg_set1(&m.txid, &m.txid_len, txid, txid_len) ||
        !af_cmc_msg_set1(&m.sender_nonce, &m.sender_nonce_len, sender_nonce, sn_len) ||
        !af_cmc_msg_encode(&m, 0, &base, &base_len))
        goto done;
    if ((pd = pkidata_of(base, base_len)) == NULL)
        goto err;
    /* the tcr, then as ANY (its [0] TLV kept whole) in the reqSequence */
    if ((tr = AF_CMC_TAGGED_REQ_new()) == NULL ||
        (tr->value.tcr = (AF_CMC_TCR *)ASN1_item_new(ASN1_ITEM_rptr(AF_CMC_TCR))) == NULL)
        goto err;
    tr->type = CMC_TAGGED_TCR;
    if (!ASN1_INTEGER_set(tr->value.tcr->bodyPartID, AF_CMC_TCR_BODY_PART))
        goto err;
    /* the caller's request is only encoded here, so it is lent to the template for i2d and taken
     * back before the free (X509_REQ_dup would decode its public key again) */
    X509_REQ_free(tr->value.tcr->certificationRequest);
    tr->value.tcr->certificationRequest = (X509_REQ *)req;
    n = i2d_AF_CMC_TAGGED_REQ(tr, &trder);
    tr->value.tcr->certificationRequest = NULL;
    if (n <= 0)
        goto err;
    p = trder;
    if ((t = d2i_ASN1_TYPE(NULL, &p, n)) == NULL || !sk_ASN1_TYPE_push(pd->reqSequence, t))
        goto err;
    t = NULL;
    if ((pdlen = i2d_AF_CMC_PKIDATA(pd, &pdder)) <= 0)
        goto err;
    p = base;
    if ((ci = d2i_AF_CMC_CONTENT_INFO(NULL, &p, (long)base_len)) == NULL ||
        ASN1_TYPE_get(ci->content) != V_ASN1_OCTET_STRING ||
        !ASN1_OCTET_STRING_set(ci->content->value.octet_string, pdder, pdlen) ||
        (derlen = i2d_AF_CMC_CONTENT_INFO(ci, &der)) <= 0)
        goto err;
    *out = der;
    *outlen = (size_t)derlen;
    ok = 1;
    goto done;
err:
    ERR_clear_error();
    AF_ERR(AF_R_INTERNAL, "cannot encode the CMC Full PKI Request");
done:
    ASN1_TYPE_free(t);
    AF_CMC_TAGGED_REQ_free(tr);
    AF_CMC_PKIDATA_free(pd);
    AF_CMC_CONTENT_INFO_free(ci);
    OPENSSL_free(base);
    OPENSSL_free(trder);
    OPENSSL_free(pdder);
    af_cmc_msg_cleanup(&m);
    return ok;
}

void af_cmc_enroll_resp_cleanup(AF_CMC_ENROLL_RESP *r)
{
    if (r == NULL)
        return;
    OPENSSL_free(r->txid);
    OPENSSL_free(r->recip_nonce);
    X509_free(r->cert);
    X509_free(r->signer);
    sk_X509_pop_free(r->certs, X509_free);
    memset(r, 0, sizeof(*r));
    r->status = -1;
    r->fail_info = -1;
}

/* The flat view of a PKIResponse given as its DER (wrapped back into ContentInfo id-data, the
 * form af_cmc_msg_decode reads). */
static int decode_pkiresponse(const unsigned char *der, int len, AF_CMC_MSG *m)
{
    AF_CMC_CONTENT_INFO *ci = AF_CMC_CONTENT_INFO_new();
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    unsigned char *cider = NULL;
    int cilen = 0, ok = 0;

    if (ci != NULL && os != NULL && ASN1_OCTET_STRING_set(os, der, len)) {
        ASN1_OBJECT_free(ci->contentType);
        ci->contentType = OBJ_nid2obj(NID_pkcs7_data);
        ASN1_TYPE_set(ci->content, V_ASN1_OCTET_STRING, os);
        os = NULL;
        if ((cilen = i2d_AF_CMC_CONTENT_INFO(ci, &cider)) > 0)
            ok = af_cmc_msg_decode(m, 1, af_oid_text(AF_OID_CMC_NONCE_RESP), cider, (size_t)cilen);
    }
    ASN1_OCTET_STRING_free(os);
    AF_CMC_CONTENT_INFO_free(ci);
    OPENSSL_free(cider);
    return ok;
}

int af_cmc_enroll_response_decode(const unsigned char *in, size_t len, EVP_PKEY *key,
                                  AF_CMC_ENROLL_RESP *r)
{
    const unsigned char *p = in;
    AF_CMC_CONTENT_INFO *ci = NULL;
    CMS_ContentInfo *cms = NULL;
    BIO *content = NULL;
    AF_CMC_MSG m;
    char *data;
    long dlen;
    int i, ok = 0, nid;

    memset(r, 0, sizeof(*r));
    r->status = -1;
    r->fail_info = -1;
    af_cmc_msg_init(&m);
    if (len == 0 || len > AF_PROTO_MAX_RESPONSE ||
        (ci = d2i_AF_CMC_CONTENT_INFO(NULL, &p, (long)len)) == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_NONCE_DECODE, "the CMC response is not a ContentInfo");
        goto done;
    }
    nid = OBJ_obj2nid(ci->contentType);
    if (nid == NID_pkcs7_data) {
        if (!af_cmc_msg_decode(&m, 1, af_oid_text(AF_OID_CMC_NONCE_RESP), in, len))
            goto done;
    } else if (nid == NID_pkcs7_signed) {
        p = in;
        if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
            (content = BIO_new(BIO_s_mem())) == NULL) {
            AF_ERR(AF_R_NONCE_DECODE, "the CMC Full PKI Response is not a SignedData");
            goto done;
        }
        if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_id_cct_PKIResponse) {
            AF_ERR(AF_R_NONCE_DECODE, "the SignedData does not hold a PKIResponse");
            goto done;
        }
        /* the signature is checked against the signer certificate the answer carries; whether
         * that signer is trusted is the caller's decision (r->signer) */
        if (!CMS_verify(cms, NULL, NULL, NULL, content, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY)) {
            char why[160];

            af_err_line(why, sizeof(why));
            AF_ERR(AF_R_PROTO_PROTECTION, "the Full PKI Response signature: %s", why);
            goto done;
        }
        {
            STACK_OF(X509) *signers = CMS_get0_signers(cms);
            int nsig = sk_X509_num(signers);

            if (nsig != 1 || !X509_up_ref(sk_X509_value(signers, 0))) {
                sk_X509_free(signers);
                AF_ERR(AF_R_PROTO_PROTECTION, "the Full PKI Response has %d signers, want one",
                       nsig);
                goto done;
            }
            r->signer = sk_X509_value(signers, 0);
            sk_X509_free(signers);
        }
        dlen = BIO_get_mem_data(content, &data);
        if (dlen <= 0 || dlen > INT32_MAX ||
            !decode_pkiresponse((const unsigned char *)data, (int)dlen, &m))
            goto done;
        r->certs = CMS_get1_certs(cms);
        for (i = 0; key != NULL && i < sk_X509_num(r->certs); i++) {
            X509 *x = sk_X509_value(r->certs, i);

            if (EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1) {
                X509_up_ref(x);
                r->cert = x;
                break;
            }
        }
        ERR_clear_error();
    } else {
        AF_ERR(AF_R_NONCE_DECODE, "the CMC response is neither id-data nor SignedData");
        goto done;
    }
    r->status = m.status;
    r->fail_info = m.fail_info;
    if (m.status_string != NULL)
        snprintf(r->status_string, sizeof(r->status_string), "%s", m.status_string);
    r->txid = m.txid;
    r->txid_len = m.txid_len;
    r->recip_nonce = m.recip_nonce;
    r->recip_nonce_len = m.recip_nonce_len;
    m.txid = m.recip_nonce = NULL;
    ok = 1;
done:
    af_cmc_msg_cleanup(&m);
    BIO_free(content);
    CMS_ContentInfo_free(cms);
    AF_CMC_CONTENT_INFO_free(ci);
    return ok;
}
