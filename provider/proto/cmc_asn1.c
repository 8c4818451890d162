/* cmc_asn1.c - CMC ASN.1 templates (ContentInfo, PKIData, PKIResponse, TaggedAttribute, OtherMsg,
 * CMCStatusInfoV2) and the strict encoder/decoder of the flat nonce-exchange view (cmc.h). */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "attfresh/err.h"
#include "attfresh/oids.h"
#include "proto/cmc.h"

#define CMC_MAX_TXID 64
#define CMC_MAX_NONCE 1024
#define CMC_MAX_STATUS_STRING 256

/* ---- the flat view -------------------------------------------------------------------------- */

void af_cmc_msg_init(AF_CMC_MSG *m)
{
    memset(m, 0, sizeof(*m));
    m->status = -1;
    m->fail_info = -1;
    m->status_body_part = -1;
}

void af_cmc_msg_cleanup(AF_CMC_MSG *m)
{
    if (m == NULL)
        return;
    OPENSSL_free(m->txid);
    OPENSSL_free(m->sender_nonce);
    OPENSSL_free(m->recip_nonce);
    OPENSSL_free(m->nonce_ctl);
    OPENSSL_free(m->status_string);
    af_cmc_msg_init(m);
}

int af_cmc_msg_set1(unsigned char **field, size_t *field_len, const unsigned char *data, size_t len)
{
    unsigned char *c = NULL;

    if (data != NULL && (c = OPENSSL_memdup(data, len > 0 ? len : 1)) == NULL) {
        AF_ERR(AF_R_MALLOC, "CMC message");
        return 0;
    }
    OPENSSL_free(*field);
    *field = c;
    *field_len = data != NULL ? len : 0;
    return 1;
}

const char *af_cmc_fail_info_name(long fail_info, char *buf, size_t bufsize)
{
    static const char *const names[] = {
        "badAlg",         "badMessageCheck", "badRequest",  "badTime",     "badCertId",
        "unsupportedExt", "mustArchiveKeys", "badIdentity", "popRequired", "popFailed",
        "noKeyReuse",     "internalCAError", "tryLater",    "authDataFail"};

    if (fail_info >= 0 && (size_t)fail_info < sizeof(names) / sizeof(names[0]))
        snprintf(buf, bufsize, "%s", names[fail_info]);
    else
        snprintf(buf, bufsize, "failInfo %ld", fail_info);
    return buf;
}

/* Pushes {id, type, {value}}; takes value (freed on failure too). */
static int push_control(STACK_OF(AF_CMC_TAGGED_ATTR) * sk, long id, ASN1_OBJECT *type,
                        ASN1_TYPE *value)
{
    AF_CMC_TAGGED_ATTR *a = AF_CMC_TAGGED_ATTR_new();

    if (a == NULL || type == NULL || value == NULL || !ASN1_INTEGER_set(a->bodyPartID, id)) {
        ASN1_OBJECT_free(type);
        ASN1_TYPE_free(value);
        goto err;
    }
    ASN1_OBJECT_free(a->attrType);
    a->attrType = type;
    if (!sk_ASN1_TYPE_push(a->attrValues, value)) {
        ASN1_TYPE_free(value);
        goto err;
    }
    if (!sk_AF_CMC_TAGGED_ATTR_push(sk, a))
        goto err;
    return 1;
err:
    AF_CMC_TAGGED_ATTR_free(a);
    AF_ERR(AF_R_MALLOC, "CMC control");
    return 0;
}

static ASN1_TYPE *octets_value(const unsigned char *data, size_t len)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();

    if (t == NULL || os == NULL || !ASN1_OCTET_STRING_set(os, data, (int)len)) {
        ASN1_TYPE_free(t);
        ASN1_OCTET_STRING_free(os);
        return NULL;
    }
    ASN1_TYPE_set(t, V_ASN1_OCTET_STRING, os);
    return t;
}

/* INTEGER from its content octets (must be minimal two's complement, as DER wants). */
static ASN1_TYPE *integer_value(const unsigned char *content, size_t len)
{
    unsigned char der[CMC_MAX_TXID + 4], *p = der;
    const unsigned char *q = der;
    ASN1_INTEGER *i;
    ASN1_TYPE *t;

    if (len == 0 || len > CMC_MAX_TXID) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "transactionId of %zu bytes (1..%d)", len, CMC_MAX_TXID);
        return NULL;
    }
    ASN1_put_object(&p, 0, (int)len, V_ASN1_INTEGER, V_ASN1_UNIVERSAL);
    memcpy(p, content, len);
    p += len;
    if ((i = d2i_ASN1_INTEGER(NULL, &q, p - der)) == NULL || q != p) {
        ASN1_INTEGER_free(i);
        ERR_clear_error();
        AF_ERR(AF_R_INVALID_ARGUMENT, "transactionId is not a minimal INTEGER");
        return NULL;
    }
    if ((t = ASN1_TYPE_new()) == NULL) {
        ASN1_INTEGER_free(i);
        return NULL;
    }
    ASN1_TYPE_set(t, V_ASN1_INTEGER, i);
    return t;
}

static ASN1_TYPE *status_value(const AF_CMC_MSG *m, long id_of_ctl)
{
    AF_CMC_STATUS_INFO_V2 *si = AF_CMC_STATUS_INFO_V2_new();
    ASN1_TYPE *ref = ASN1_TYPE_new(), *t = NULL;
    ASN1_INTEGER *refint = ASN1_INTEGER_new();

    if (si == NULL || ref == NULL || refint == NULL ||
        !ASN1_INTEGER_set(si->cMCStatus, m->status) ||
        !ASN1_INTEGER_set(refint, m->status_body_part >= 0 ? m->status_body_part : id_of_ctl))
        goto done;
    ASN1_TYPE_set(ref, V_ASN1_INTEGER, refint);
    refint = NULL;
    if (!sk_ASN1_TYPE_push(si->bodyList, ref))
        goto done;
    ref = NULL;
    if (m->status_string != NULL && ((si->statusString = ASN1_UTF8STRING_new()) == NULL ||
                                     !ASN1_STRING_set(si->statusString, m->status_string, -1)))
        goto done;
    if (m->fail_info >= 0) {
        ASN1_INTEGER *fi = ASN1_INTEGER_new();

        if (fi == NULL || (si->otherInfo = ASN1_TYPE_new()) == NULL ||
            !ASN1_INTEGER_set(fi, m->fail_info)) {
            ASN1_INTEGER_free(fi);
            goto done;
        }
        ASN1_TYPE_set(si->otherInfo, V_ASN1_INTEGER, fi);
    }
    t = ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(AF_CMC_STATUS_INFO_V2), si, NULL);
done:
    AF_CMC_STATUS_INFO_V2_free(si);
    ASN1_TYPE_free(ref);
    ASN1_INTEGER_free(refint);
    return t;
}

static ASN1_OBJECT *obj_of(af_oid_id id)
{
    return OBJ_txt2obj(af_oid_text(id), 1);
}

int af_cmc_msg_encode(const AF_CMC_MSG *m, int response, unsigned char **out, size_t *outlen)
{
    AF_CMC_PKIDATA *pd = NULL;
    AF_CMC_PKIRESPONSE *pr = NULL;
    AF_CMC_CONTENT_INFO *ci = NULL;
    STACK_OF(AF_CMC_TAGGED_ATTR) * ctl;
    ASN1_OCTET_STRING *os = NULL;
    unsigned char *inner = NULL, *der = NULL;
    int innerlen, derlen, ok = 0;
    long id = 1;

    *out = NULL;
    if (response) {
        if ((pr = AF_CMC_PKIRESPONSE_new()) == NULL)
            goto err;
        ctl = pr->controlSequence;
    } else {
        if ((pd = AF_CMC_PKIDATA_new()) == NULL)
            goto err;
        ctl = pd->controlSequence;
    }
    if (m->txid != NULL && !push_control(ctl, id++, OBJ_nid2obj(NID_id_cmc_transactionId),
                                         integer_value(m->txid, m->txid_len)))
        goto err;
    if (m->sender_nonce != NULL &&
        !push_control(ctl, id++, OBJ_nid2obj(NID_id_cmc_senderNonce),
                      octets_value(m->sender_nonce, m->sender_nonce_len)))
        goto err;
    if (m->recip_nonce != NULL && !push_control(ctl, id++, OBJ_nid2obj(NID_id_cmc_recipientNonce),
                                                octets_value(m->recip_nonce, m->recip_nonce_len)))
        goto err;
    if (m->nonce_ctl != NULL) {
        const unsigned char *p = m->nonce_ctl;
        AF_CMC_TAGGED_ATTR *a = d2i_AF_CMC_TAGGED_ATTR(NULL, &p, (long)m->nonce_ctl_len);

        if (a == NULL || p != m->nonce_ctl + m->nonce_ctl_len) {
            AF_CMC_TAGGED_ATTR_free(a);
            ERR_clear_error();
            AF_ERR(AF_R_INVALID_ARGUMENT, "the nonce control is not one TaggedAttribute");
            goto done;
        }
        if (!sk_AF_CMC_TAGGED_ATTR_push(ctl, a)) {
            AF_CMC_TAGGED_ATTR_free(a);
            goto err;
        }
        id++;
    }
    if (m->status >= 0 &&
        !push_control(ctl, id, obj_of(AF_OID_CMC_STATUS_INFO_V2), status_value(m, id)))
        goto err;

    innerlen = response ? i2d_AF_CMC_PKIRESPONSE(pr, &inner) : i2d_AF_CMC_PKIDATA(pd, &inner);
    if (innerlen <= 0 || (ci = AF_CMC_CONTENT_INFO_new()) == NULL ||
        (os = ASN1_OCTET_STRING_new()) == NULL)
        goto err;
    ASN1_STRING_set0(os, inner, innerlen);
    inner = NULL;
    ASN1_OBJECT_free(ci->contentType);
    ci->contentType = OBJ_nid2obj(NID_pkcs7_data);
    ASN1_TYPE_set(ci->content, V_ASN1_OCTET_STRING, os);
    os = NULL;
    if ((derlen = i2d_AF_CMC_CONTENT_INFO(ci, &der)) <= 0)
        goto err;
    *out = der;
    *outlen = (size_t)derlen;
    ok = 1;
    goto done;
err:
    ERR_clear_error();
    AF_ERR(AF_R_MALLOC, "encoding the CMC %s", response ? "response" : "request");
done:
    AF_CMC_PKIDATA_free(pd);
    AF_CMC_PKIRESPONSE_free(pr);
    AF_CMC_CONTENT_INFO_free(ci);
    ASN1_OCTET_STRING_free(os);
    OPENSSL_free(inner);
    return ok;
}

/* d2i of item from in[0..len), which must be exactly one DER element: anything the decoder
 * accepts that does not re-encode to the same bytes (BER) is refused. */
static void *strict_d2i(const ASN1_ITEM *it, const unsigned char *in, size_t len, const char *what)
{
    const unsigned char *p = in;
    unsigned char *re = NULL;
    void *v;
    int relen;

    if (len == 0 || len > AF_CMC_MAX_MESSAGE) {
        AF_ERR(AF_R_NONCE_DECODE, "%s of %zu bytes (1..%d)", what, len, AF_CMC_MAX_MESSAGE);
        return NULL;
    }
    if ((v = ASN1_item_d2i(NULL, &p, (long)len, it)) == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_NONCE_DECODE, "%s is not valid DER", what);
        return NULL;
    }
    if (p != in + len) {
        ASN1_item_free(v, it);
        AF_ERR(AF_R_NONCE_TRAILING, "%zu bytes after the %s", (size_t)(in + len - p), what);
        return NULL;
    }
    relen = ASN1_item_i2d(v, &re, it);
    if (relen < 0 || (size_t)relen != len || memcmp(re, in, len) != 0) {
        OPENSSL_free(re);
        ASN1_item_free(v, it);
        ERR_clear_error();
        AF_ERR(AF_R_NONCE_NOT_DER, "%s is BER, not DER", what);
        return NULL;
    }
    OPENSSL_free(re);
    return v;
}

static int obj_is(const ASN1_OBJECT *obj, const char *dotted)
{
    char buf[128];

    return dotted != NULL && OBJ_obj2txt(buf, sizeof(buf), obj, 1) > 0 && strcmp(buf, dotted) == 0;
}

/* The one value of a known control, of the wanted universal type. */
static const ASN1_TYPE *one_value(const AF_CMC_TAGGED_ATTR *a, int type, const char *name)
{
    const ASN1_TYPE *t;

    if (sk_ASN1_TYPE_num(a->attrValues) != 1) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "the %s control has %d values, want 1", name,
               sk_ASN1_TYPE_num(a->attrValues));
        return NULL;
    }
    t = sk_ASN1_TYPE_value(a->attrValues, 0);
    if (ASN1_TYPE_get(t) != type) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "the %s control holds the wrong type", name);
        return NULL;
    }
    return t;
}

static int take_octets(const AF_CMC_TAGGED_ATTR *a, const char *name, unsigned char **field,
                       size_t *len)
{
    const ASN1_TYPE *t = one_value(a, V_ASN1_OCTET_STRING, name);
    int n;

    if (t == NULL)
        return 0;
    if (*field != NULL) {
        AF_ERR(AF_R_NONCE_DUPLICATE, "two %s controls", name);
        return 0;
    }
    n = ASN1_STRING_length(t->value.octet_string);
    if (n > CMC_MAX_NONCE) {
        AF_ERR(AF_R_TOO_LARGE, "%s of %d bytes (at most %d)", name, n, CMC_MAX_NONCE);
        return 0;
    }
    return af_cmc_msg_set1(field, len, ASN1_STRING_get0_data(t->value.octet_string), (size_t)n);
}

static int take_txid(const AF_CMC_TAGGED_ATTR *a, AF_CMC_MSG *m)
{
    const ASN1_TYPE *t = one_value(a, V_ASN1_INTEGER, "transactionId");
    unsigned char *der = NULL;
    const unsigned char *p;
    long clen;
    int derlen, tag, xclass, ok;

    if (t == NULL)
        return 0;
    if (m->txid != NULL) {
        AF_ERR(AF_R_NONCE_DUPLICATE, "two transactionId controls");
        return 0;
    }
    if ((derlen = i2d_ASN1_INTEGER(t->value.integer, &der)) <= 0)
        return 0;
    p = der;
    ASN1_get_object(&p, &clen, &tag, &xclass, derlen);
    if (clen < 1 || clen > CMC_MAX_TXID) {
        OPENSSL_free(der);
        AF_ERR(AF_R_NONCE_BAD_TYPE, "transactionId of %ld bytes (1..%d)", clen, CMC_MAX_TXID);
        return 0;
    }
    ok = af_cmc_msg_set1(&m->txid, &m->txid_len, p, (size_t)clen);
    OPENSSL_free(der);
    return ok;
}

static int take_status(const AF_CMC_TAGGED_ATTR *a, AF_CMC_MSG *m)
{
    const ASN1_TYPE *t = one_value(a, V_ASN1_SEQUENCE, "CMCStatusInfoV2");
    AF_CMC_STATUS_INFO_V2 *si;
    const ASN1_TYPE *ref;
    int ok = 0;

    if (t == NULL)
        return 0;
    if (m->status >= 0) {
        AF_ERR(AF_R_NONCE_DUPLICATE, "two CMCStatusInfoV2 controls");
        return 0;
    }
    si = strict_d2i(ASN1_ITEM_rptr(AF_CMC_STATUS_INFO_V2), ASN1_STRING_get0_data(t->value.sequence),
                    (size_t)ASN1_STRING_length(t->value.sequence), "CMCStatusInfoV2");
    if (si == NULL)
        return 0;
    m->status = (int)ASN1_INTEGER_get(si->cMCStatus);
    if (m->status < 0 || sk_ASN1_TYPE_num(si->bodyList) < 1) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "CMCStatusInfoV2 with a bad status or an empty bodyList");
        goto done;
    }
    ref = sk_ASN1_TYPE_value(si->bodyList, 0);
    if (ASN1_TYPE_get(ref) == V_ASN1_INTEGER)
        m->status_body_part = ASN1_INTEGER_get(ref->value.integer);
    if (si->statusString != NULL) {
        int n = ASN1_STRING_length(si->statusString);

        if (n > CMC_MAX_STATUS_STRING)
            n = CMC_MAX_STATUS_STRING;
        if ((m->status_string = OPENSSL_strndup(
                 (const char *)ASN1_STRING_get0_data(si->statusString), (size_t)n)) == NULL)
            goto done;
    }
    if (si->otherInfo != NULL && ASN1_TYPE_get(si->otherInfo) == V_ASN1_INTEGER) {
        int64_t fi;

        /* CMCFailInfo is a small non-negative enumeration; a negative or huge value is no
         * failInfo we could report (and -1 is our "absent"), so the message is malformed. */
        if (!ASN1_INTEGER_get_int64(&fi, si->otherInfo->value.integer) || fi < 0
            || fi > INT32_MAX) {
            ERR_clear_error();
            AF_ERR(AF_R_NONCE_BAD_TYPE, "CMCStatusInfoV2 failInfo out of range");
            goto done;
        }
        m->fail_info = (long)fi;
    }
    ok = 1;
done:
    AF_CMC_STATUS_INFO_V2_free(si);
    return ok;
}

int af_cmc_msg_decode(AF_CMC_MSG *m, int response, const char *nonce_oid, const unsigned char *in,
                      size_t inlen)
{
    AF_CMC_CONTENT_INFO *ci;
    void *body = NULL;
    STACK_OF(AF_CMC_TAGGED_ATTR) * ctl;
    const ASN1_ITEM *it =
        response ? ASN1_ITEM_rptr(AF_CMC_PKIRESPONSE) : ASN1_ITEM_rptr(AF_CMC_PKIDATA);
    const char *what = response ? "PKIResponse" : "PKIData";
    int i, ok = 0;

    af_cmc_msg_init(m);
    if ((ci = strict_d2i(ASN1_ITEM_rptr(AF_CMC_CONTENT_INFO), in, inlen, "CMC ContentInfo")) ==
        NULL)
        return 0;
    if (OBJ_obj2nid(ci->contentType) != NID_pkcs7_data ||
        ASN1_TYPE_get(ci->content) != V_ASN1_OCTET_STRING) {
        char buf[80] = "?";

        OBJ_obj2txt(buf, sizeof(buf), ci->contentType, 0);
        AF_ERR(AF_R_NONCE_BAD_TYPE, "CMC ContentInfo of type %s, want id-data", buf);
        goto done;
    }
    body = strict_d2i(it, ASN1_STRING_get0_data(ci->content->value.octet_string),
                      (size_t)ASN1_STRING_length(ci->content->value.octet_string), what);
    if (body == NULL)
        goto done;
    ctl = response ? ((AF_CMC_PKIRESPONSE *)body)->controlSequence
                   : ((AF_CMC_PKIDATA *)body)->controlSequence;
    for (i = 0; i < sk_AF_CMC_TAGGED_ATTR_num(ctl); i++) {
        const AF_CMC_TAGGED_ATTR *a = sk_AF_CMC_TAGGED_ATTR_value(ctl, i);
        int nid = OBJ_obj2nid(a->attrType);

        if (nid == NID_id_cmc_transactionId) {
            if (!take_txid(a, m))
                goto done;
        } else if (nid == NID_id_cmc_senderNonce) {
            if (!take_octets(a, "senderNonce", &m->sender_nonce, &m->sender_nonce_len))
                goto done;
        } else if (nid == NID_id_cmc_recipientNonce) {
            if (!take_octets(a, "recipientNonce", &m->recip_nonce, &m->recip_nonce_len))
                goto done;
        } else if (obj_is(a->attrType, af_oid_text(AF_OID_CMC_STATUS_INFO_V2))) {
            if (!take_status(a, m))
                goto done;
        } else if (obj_is(a->attrType, nonce_oid)) {
            int n;

            if (m->nonce_ctl != NULL) {
                AF_ERR(AF_R_NONCE_DUPLICATE, "two nonce controls");
                goto done;
            }
            if ((n = i2d_AF_CMC_TAGGED_ATTR((AF_CMC_TAGGED_ATTR *)a, &m->nonce_ctl)) <= 0)
                goto done;
            m->nonce_ctl_len = (size_t)n;
        }
        /* other controls: not part of the nonce exchange, ignored */
    }
    ok = 1;
done:
    if (body != NULL)
        ASN1_item_free(body, it);
    AF_CMC_CONTENT_INFO_free(ci);
    if (!ok)
        af_cmc_msg_cleanup(m);
    return ok;
}

/* ---- templates (declared in cmc.h); the macros read best one field per line --------------- */
/* clang-format off */
ASN1_SEQUENCE(AF_CMC_TAGGED_ATTR) = {
    ASN1_SIMPLE(AF_CMC_TAGGED_ATTR, bodyPartID, ASN1_INTEGER),
    ASN1_SIMPLE(AF_CMC_TAGGED_ATTR, attrType, ASN1_OBJECT),
    ASN1_SET_OF(AF_CMC_TAGGED_ATTR, attrValues, ASN1_ANY)
} ASN1_SEQUENCE_END(AF_CMC_TAGGED_ATTR)
IMPLEMENT_ASN1_FUNCTIONS(AF_CMC_TAGGED_ATTR)
IMPLEMENT_ASN1_DUP_FUNCTION(AF_CMC_TAGGED_ATTR)

ASN1_SEQUENCE(AF_CMC_OTHER_MSG) = {
    ASN1_SIMPLE(AF_CMC_OTHER_MSG, bodyPartID, ASN1_INTEGER),
    ASN1_SIMPLE(AF_CMC_OTHER_MSG, otherMsgType, ASN1_OBJECT),
    ASN1_SIMPLE(AF_CMC_OTHER_MSG, otherMsgValue, ASN1_ANY)
} ASN1_SEQUENCE_END(AF_CMC_OTHER_MSG)
IMPLEMENT_ASN1_FUNCTIONS(AF_CMC_OTHER_MSG)

ASN1_SEQUENCE(AF_CMC_PKIDATA) = {
    ASN1_SEQUENCE_OF(AF_CMC_PKIDATA, controlSequence, AF_CMC_TAGGED_ATTR),
    ASN1_SEQUENCE_OF(AF_CMC_PKIDATA, reqSequence, ASN1_ANY),
    ASN1_SEQUENCE_OF(AF_CMC_PKIDATA, cmsSequence, ASN1_ANY),
    ASN1_SEQUENCE_OF(AF_CMC_PKIDATA, otherMsgSequence, AF_CMC_OTHER_MSG)
} ASN1_SEQUENCE_END(AF_CMC_PKIDATA)
IMPLEMENT_ASN1_FUNCTIONS(AF_CMC_PKIDATA)

ASN1_SEQUENCE(AF_CMC_PKIRESPONSE) = {
    ASN1_SEQUENCE_OF(AF_CMC_PKIRESPONSE, controlSequence, AF_CMC_TAGGED_ATTR),
    ASN1_SEQUENCE_OF(AF_CMC_PKIRESPONSE, cmsSequence, ASN1_ANY),
    ASN1_SEQUENCE_OF(AF_CMC_PKIRESPONSE, otherMsgSequence, AF_CMC_OTHER_MSG)
} ASN1_SEQUENCE_END(AF_CMC_PKIRESPONSE)
IMPLEMENT_ASN1_FUNCTIONS(AF_CMC_PKIRESPONSE)

ASN1_SEQUENCE(AF_CMC_STATUS_INFO_V2) = {
    ASN1_SIMPLE(AF_CMC_STATUS_INFO_V2, cMCStatus, ASN1_INTEGER),
    ASN1_SEQUENCE_OF(AF_CMC_STATUS_INFO_V2, bodyList, ASN1_ANY),
    ASN1_OPT(AF_CMC_STATUS_INFO_V2, statusString, ASN1_UTF8STRING),
    ASN1_OPT(AF_CMC_STATUS_INFO_V2, otherInfo, ASN1_ANY)
} ASN1_SEQUENCE_END(AF_CMC_STATUS_INFO_V2)
IMPLEMENT_ASN1_FUNCTIONS(AF_CMC_STATUS_INFO_V2)

ASN1_SEQUENCE(AF_CMC_CONTENT_INFO) = {
    ASN1_SIMPLE(AF_CMC_CONTENT_INFO, contentType, ASN1_OBJECT),
    ASN1_EXP(AF_CMC_CONTENT_INFO, content, ASN1_ANY, 0)
} ASN1_SEQUENCE_END(AF_CMC_CONTENT_INFO)
IMPLEMENT_ASN1_FUNCTIONS(AF_CMC_CONTENT_INFO)
