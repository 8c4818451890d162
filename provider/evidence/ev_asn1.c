/* ev_asn1.c - ASN.1 templates of PKIX Evidence (EXPLICIT TAGS), AttestationBundle (IMPLICIT
 * TAGS) and the earlier EvidenceBundle layouts; strict DER decoding; OID helpers over the one
 * OID table. */
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "attfresh/err.h"
#include "evidence/ev_local.h"

/* ---- helpers ------------------------------------------------------------------------------ */
/* The table's OIDs as objects, made once: claim types are compared per claim on every verify. */
static ASN1_OBJECT *table_objs[AF_OID__COUNT];
static CRYPTO_ONCE table_once = CRYPTO_ONCE_STATIC_INIT;

static void make_table_objs(void)
{
    size_t i;

    for (i = 0; i < AF_OID__COUNT; i++)
        table_objs[i] = OBJ_txt2obj(af_oid_text((af_oid_id)i), 1);
}

static const ASN1_OBJECT *table_obj(int id)
{
    if (id < 0 || id >= AF_OID__COUNT || !CRYPTO_THREAD_run_once(&table_once, make_table_objs))
        return NULL;
    return table_objs[id];
}

ASN1_OBJECT *af_ev_obj(af_oid_id id)
{
    const ASN1_OBJECT *t = table_obj((int)id);
    ASN1_OBJECT *o = t != NULL ? OBJ_dup(t) : NULL;

    if (o == NULL)
        AF_ERR(AF_R_BAD_OID, "OID table entry %d", (int)id);
    return o;
}

int af_ev_obj_id(const ASN1_OBJECT *obj)
{
    int i;

    for (i = 0; obj != NULL && i < AF_OID__COUNT; i++)
        if (table_obj(i) != NULL && OBJ_cmp(obj, table_obj(i)) == 0)
            return i;
    return -1;
}

int af_ev_obj_is(const ASN1_OBJECT *obj, af_oid_id id)
{
    const ASN1_OBJECT *t = table_obj((int)id);

    return obj != NULL && t != NULL && OBJ_cmp(obj, t) == 0;
}

ASN1_VALUE *af_ev_d2i_strict(const ASN1_ITEM *it, const unsigned char *der, size_t len,
                             const char *what)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    ASN1_VALUE *v;
    int relen;

    if (der == NULL || len == 0) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "%s: empty input", what);
        return NULL;
    }
    if (len > AF_BUNDLE_MAX_DER) {
        AF_ERR(AF_R_TOO_LARGE, "%s: %zu bytes (at most %d)", what, len, AF_BUNDLE_MAX_DER);
        return NULL;
    }
    ERR_set_mark();
    v = ASN1_item_d2i(NULL, &p, (long)len, it);
    ERR_pop_to_mark(); /* OpenSSL's nested-error trail says less than our one line */
    if (v == NULL) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "%s: malformed DER (truncated, wrong tags or types)", what);
        return NULL;
    }
    if ((size_t)(p - der) != len) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "%s: %zu trailing bytes", what, len - (size_t)(p - der));
        goto err;
    }
    /* DER only: what is signed and compared must have one encoding. */
    relen = ASN1_item_i2d(v, &re, it);
    if (relen <= 0 || (size_t)relen != len || memcmp(re, der, len) != 0) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "%s: not DER (BER encoding or non-canonical values)", what);
        goto err;
    }
    OPENSSL_free(re);
    return v;
err:
    OPENSSL_free(re);
    ASN1_item_free(v, it);
    return NULL;
}

/* The template macros read best one field per line. */
// clang-format off
/* ---- PKIX Evidence -------------------------------------------------------------------------- */
ASN1_SEQUENCE(AF_EV_CLAIM) = {
    ASN1_SIMPLE(AF_EV_CLAIM, type, ASN1_OBJECT),
    ASN1_OPT(AF_EV_CLAIM, value, ASN1_ANY),
} ASN1_SEQUENCE_END(AF_EV_CLAIM)
IMPLEMENT_ASN1_FUNCTIONS(AF_EV_CLAIM)

ASN1_SEQUENCE(AF_EV_ELEMENT) = {
    ASN1_SIMPLE(AF_EV_ELEMENT, type, ASN1_OBJECT),
    ASN1_SEQUENCE_OF(AF_EV_ELEMENT, claims, AF_EV_CLAIM),
} ASN1_SEQUENCE_END(AF_EV_ELEMENT)
IMPLEMENT_ASN1_FUNCTIONS(AF_EV_ELEMENT)

ASN1_SEQUENCE(AF_EV_TBS) = {
    ASN1_SIMPLE(AF_EV_TBS, version, ASN1_INTEGER),
    ASN1_SEQUENCE_OF(AF_EV_TBS, elements, AF_EV_ELEMENT),
} ASN1_SEQUENCE_END(AF_EV_TBS)
IMPLEMENT_ASN1_FUNCTIONS(AF_EV_TBS)

ASN1_SEQUENCE(AF_EV_SID) = {
    ASN1_EXP_OPT(AF_EV_SID, keyid, ASN1_OCTET_STRING, 0),
    ASN1_EXP_OPT(AF_EV_SID, spki, X509_PUBKEY, 1),
    ASN1_EXP_OPT(AF_EV_SID, cert, X509, 2),
} ASN1_SEQUENCE_END(AF_EV_SID)
IMPLEMENT_ASN1_FUNCTIONS(AF_EV_SID)

ASN1_SEQUENCE(AF_EV_SIGBLOCK) = {
    ASN1_SIMPLE(AF_EV_SIGBLOCK, sid, AF_EV_SID),
    ASN1_SIMPLE(AF_EV_SIGBLOCK, alg, X509_ALGOR),
    ASN1_SIMPLE(AF_EV_SIGBLOCK, value, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(AF_EV_SIGBLOCK)
IMPLEMENT_ASN1_FUNCTIONS(AF_EV_SIGBLOCK)

/* The module says EXPLICIT [0]; both reference implementations read IMPLICIT [0]. Two templates
 * over one structure let the decoder accept either; the encoder never sets the field. */
ASN1_SEQUENCE(AF_EVIDENCE) = {
    ASN1_SIMPLE(AF_EVIDENCE, tbs, AF_EV_TBS),
    ASN1_SEQUENCE_OF(AF_EVIDENCE, sigs, AF_EV_SIGBLOCK),
    ASN1_EXP_SEQUENCE_OF_OPT(AF_EVIDENCE, intermediates, X509, 0),
} ASN1_SEQUENCE_END(AF_EVIDENCE)

ASN1_SEQUENCE(AF_EVIDENCE_IMP) = {
    ASN1_SIMPLE(AF_EVIDENCE, tbs, AF_EV_TBS),
    ASN1_SEQUENCE_OF(AF_EVIDENCE, sigs, AF_EV_SIGBLOCK),
    ASN1_IMP_SEQUENCE_OF_OPT(AF_EVIDENCE, intermediates, X509, 0),
} ASN1_SEQUENCE_END_name(AF_EVIDENCE, AF_EVIDENCE_IMP)

/* The verifier's reading: certificates in sid kept as bytes (ev_local.h). */
ASN1_SEQUENCE(AF_EV_SID_RAW) = {
    ASN1_EXP_OPT(AF_EV_SID_RAW, keyid, ASN1_OCTET_STRING, 0),
    ASN1_EXP_OPT(AF_EV_SID_RAW, spki, X509_PUBKEY, 1),
    ASN1_EXP_OPT(AF_EV_SID_RAW, cert, ASN1_SEQUENCE, 2),
} ASN1_SEQUENCE_END(AF_EV_SID_RAW)

ASN1_SEQUENCE(AF_EV_SIGBLOCK_RAW) = {
    ASN1_SIMPLE(AF_EV_SIGBLOCK_RAW, sid, AF_EV_SID_RAW),
    ASN1_SIMPLE(AF_EV_SIGBLOCK_RAW, alg, X509_ALGOR),
    ASN1_SIMPLE(AF_EV_SIGBLOCK_RAW, value, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(AF_EV_SIGBLOCK_RAW)

ASN1_SEQUENCE(AF_EVIDENCE_RAW) = {
    ASN1_SIMPLE(AF_EVIDENCE_RAW, tbs, AF_EV_TBS),
    ASN1_SEQUENCE_OF(AF_EVIDENCE_RAW, sigs, AF_EV_SIGBLOCK_RAW),
    ASN1_EXP_SEQUENCE_OF_OPT(AF_EVIDENCE_RAW, intermediates, X509, 0),
} ASN1_SEQUENCE_END(AF_EVIDENCE_RAW)

/* ---- csr-attestation ------------------------------------------------------------------------ */
ASN1_SEQUENCE(AF_ATT_STATEMENT) = {
    ASN1_SIMPLE(AF_ATT_STATEMENT, type, ASN1_OBJECT),
    ASN1_SIMPLE(AF_ATT_STATEMENT, stmt, ASN1_ANY),
} ASN1_SEQUENCE_END(AF_ATT_STATEMENT)
IMPLEMENT_ASN1_FUNCTIONS(AF_ATT_STATEMENT)

ASN1_SEQUENCE(AF_OTHER_CERT) = {
    ASN1_SIMPLE(AF_OTHER_CERT, type, ASN1_OBJECT),
    ASN1_SIMPLE(AF_OTHER_CERT, value, ASN1_ANY),
} ASN1_SEQUENCE_END(AF_OTHER_CERT)

ASN1_CHOICE(AF_CERT_CHOICE) = {
    ASN1_SIMPLE(AF_CERT_CHOICE, d.cert, X509),
    ASN1_IMP(AF_CERT_CHOICE, d.other, AF_OTHER_CERT, 3),
} ASN1_CHOICE_END(AF_CERT_CHOICE)
IMPLEMENT_ASN1_FUNCTIONS(AF_CERT_CHOICE)

ASN1_SEQUENCE(AF_BUNDLE) = {
    ASN1_SEQUENCE_OF(AF_BUNDLE, statements, AF_ATT_STATEMENT),
    ASN1_SEQUENCE_OF_OPT(AF_BUNDLE, certs, AF_CERT_CHOICE),
} ASN1_SEQUENCE_END(AF_BUNDLE)

/* Earlier drafts: EvidenceStatement {type, stmt, hint UTF8String OPTIONAL}, EvidenceBundle
 * {evidences, certs OPTIONAL}, and the attribute value as SEQUENCE OF EvidenceBundle. */
ASN1_SEQUENCE(AF_OLD_STATEMENT) = {
    ASN1_SIMPLE(AF_OLD_STATEMENT, type, ASN1_OBJECT),
    ASN1_SIMPLE(AF_OLD_STATEMENT, stmt, ASN1_ANY),
    ASN1_OPT(AF_OLD_STATEMENT, hint, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(AF_OLD_STATEMENT)
IMPLEMENT_ASN1_FUNCTIONS(AF_OLD_STATEMENT)

ASN1_SEQUENCE(AF_OLD_BUNDLE) = {
    ASN1_SEQUENCE_OF(AF_OLD_BUNDLE, statements, AF_OLD_STATEMENT),
    ASN1_SEQUENCE_OF_OPT(AF_OLD_BUNDLE, certs, AF_CERT_CHOICE),
} ASN1_SEQUENCE_END(AF_OLD_BUNDLE)
IMPLEMENT_ASN1_FUNCTIONS(AF_OLD_BUNDLE)

ASN1_ITEM_TEMPLATE(AF_OLD_BUNDLES) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, AF_OLD_BUNDLES, AF_OLD_BUNDLE)
ASN1_ITEM_TEMPLATE_END(AF_OLD_BUNDLES)
IMPLEMENT_ASN1_FUNCTIONS(AF_OLD_BUNDLES)

ASN1_ITEM_TEMPLATE(AF_EV_PURPOSES) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, AF_EV_PURPOSES, ASN1_OBJECT)
ASN1_ITEM_TEMPLATE_END(AF_EV_PURPOSES)

ASN1_ITEM_TEMPLATE(AF_ANY_SEQ) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, AF_ANY_SEQ, ASN1_ANY)
ASN1_ITEM_TEMPLATE_END(AF_ANY_SEQ)
