/* ev_local.h - what the evidence/ files share: the ASN.1 structures behind AF_EVIDENCE and
 * AF_BUNDLE (templates in ev_asn1.c) and small helpers. Not installed. */
#ifndef AF_EV_LOCAL_H
#define AF_EV_LOCAL_H

#include <openssl/asn1t.h>
#include <openssl/x509.h>

#include "attfresh/evidence.h"
#include "attfresh/oids.h"

/* ---- PKIX Evidence (EXPLICIT TAGS) ---------------------------------------------------------- */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_TYPE *value; /* OPTIONAL */
} AF_EV_CLAIM;
DEFINE_STACK_OF(AF_EV_CLAIM)

typedef struct {
    ASN1_OBJECT *type;
    STACK_OF(AF_EV_CLAIM) * claims;
} AF_EV_ELEMENT;
DEFINE_STACK_OF(AF_EV_ELEMENT)

typedef struct {
    ASN1_INTEGER *version;
    STACK_OF(AF_EV_ELEMENT) * elements;
} AF_EV_TBS;

typedef struct {
    ASN1_OCTET_STRING *keyid; /* [0] */
    X509_PUBKEY *spki;        /* [1] */
    X509 *cert;               /* [2] */
} AF_EV_SID;

typedef struct {
    AF_EV_SID *sid;
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *value;
} AF_EV_SIGBLOCK;
DEFINE_STACK_OF(AF_EV_SIGBLOCK)

struct af_evidence_st {
    AF_EV_TBS *tbs;
    STACK_OF(AF_EV_SIGBLOCK) * sigs;
    STACK_OF(X509) * intermediates; /* [0] OPTIONAL: read (both tag forms), never written */
};

/* The same Evidence with each sid.certificate kept as its bytes (the whole Certificate TLV): the
 * verifier's decode, which does not decode again a certificate it already holds (OpenSSL 3.0
 * decodes every certificate's public key through a new OSSL_DECODER_CTX). */
typedef struct {
    ASN1_OCTET_STRING *keyid;
    X509_PUBKEY *spki;
    ASN1_STRING *cert; /* V_ASN1_SEQUENCE, the TLV as received */
} AF_EV_SID_RAW;

typedef struct {
    AF_EV_SID_RAW *sid;
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *value;
} AF_EV_SIGBLOCK_RAW;
DEFINE_STACK_OF(AF_EV_SIGBLOCK_RAW)

typedef struct {
    AF_EV_TBS *tbs;
    STACK_OF(AF_EV_SIGBLOCK_RAW) * sigs;
    STACK_OF(X509) * intermediates;
} AF_EVIDENCE_RAW;

DECLARE_ASN1_FUNCTIONS(AF_EV_CLAIM)
DECLARE_ASN1_FUNCTIONS(AF_EV_ELEMENT)
DECLARE_ASN1_FUNCTIONS(AF_EV_TBS)
DECLARE_ASN1_FUNCTIONS(AF_EV_SID)
DECLARE_ASN1_FUNCTIONS(AF_EV_SIGBLOCK)
DECLARE_ASN1_ITEM(AF_EVIDENCE)
DECLARE_ASN1_ITEM(AF_EVIDENCE_IMP)
DECLARE_ASN1_ITEM(AF_EV_SID_RAW)
DECLARE_ASN1_ITEM(AF_EV_SIGBLOCK_RAW)
DECLARE_ASN1_ITEM(AF_EVIDENCE_RAW)

/* ---- csr-attestation (IMPLICIT TAGS) -------------------------------------------------------- */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_TYPE *stmt;
} AF_ATT_STATEMENT;
DEFINE_STACK_OF(AF_ATT_STATEMENT)

typedef struct {
    ASN1_OBJECT *type;
    ASN1_TYPE *value;
} AF_OTHER_CERT;

typedef struct {
    int type; /* 0 certificate, 1 other [3] */
    union {
        X509 *cert;
        AF_OTHER_CERT *other;
    } d;
} AF_CERT_CHOICE;
DEFINE_STACK_OF(AF_CERT_CHOICE)

struct af_bundle_st {
    STACK_OF(AF_ATT_STATEMENT) * statements;
    STACK_OF(AF_CERT_CHOICE) * certs; /* OPTIONAL */
};

DECLARE_ASN1_FUNCTIONS(AF_ATT_STATEMENT)
DECLARE_ASN1_FUNCTIONS(AF_CERT_CHOICE)
DECLARE_ASN1_ITEM(AF_BUNDLE)

/* ---- earlier csr-attestation layouts (decode only) ------------------------------------------ */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_TYPE *stmt;
    ASN1_UTF8STRING *hint; /* OPTIONAL */
} AF_OLD_STATEMENT;
DEFINE_STACK_OF(AF_OLD_STATEMENT)

typedef struct {
    STACK_OF(AF_OLD_STATEMENT) * statements;
    STACK_OF(AF_CERT_CHOICE) * certs;
} AF_OLD_BUNDLE;
DEFINE_STACK_OF(AF_OLD_BUNDLE)

typedef STACK_OF(AF_OLD_BUNDLE) AF_OLD_BUNDLES;

DECLARE_ASN1_FUNCTIONS(AF_OLD_STATEMENT)
DECLARE_ASN1_FUNCTIONS(AF_OLD_BUNDLE)
DECLARE_ASN1_FUNCTIONS(AF_OLD_BUNDLES)

/* KeyPurposes ::= SEQUENCE OF OBJECT IDENTIFIER (a claim value), and a SEQUENCE OF ANY used to
 * re-read a CRMF CertTemplate (OpenSSL 3.0 has no getter for its public key). */
typedef STACK_OF(ASN1_OBJECT) AF_EV_PURPOSES;
typedef STACK_OF(ASN1_TYPE) AF_ANY_SEQ;
DECLARE_ASN1_ITEM(AF_EV_PURPOSES)
DECLARE_ASN1_ITEM(AF_ANY_SEQ)

/* ---- helpers (ev_asn1.c) -------------------------------------------------------------------- */
/* An OBJECT for an OID table id (new object; ASN1_OBJECT_free). */
ASN1_OBJECT *af_ev_obj(af_oid_id id);
/* 1 when obj is the OID of table id id. */
int af_ev_obj_is(const ASN1_OBJECT *obj, af_oid_id id);
/* The table id of obj, or -1. */
int af_ev_obj_id(const ASN1_OBJECT *obj);
/* Decodes [der, der+len) with item strictly: no trailing bytes and re-encoding gives the same
 * bytes (DER). Returns the value or NULL with AF_R_EVIDENCE_DECODE raised naming what. */
ASN1_VALUE *af_ev_d2i_strict(const ASN1_ITEM *it, const unsigned char *der, size_t len,
                             const char *what);

/* KeyPurposes claim value <-> AF_CAP_* bits (ev_evidence.c). decode returns 0 when v is not a
 * SEQUENCE OF OBJECT IDENTIFIER; unknown OIDs are skipped. */
int af_ev_purposes_decode(const ASN1_TYPE *v, unsigned int *caps);
ASN1_TYPE *af_ev_purposes_encode(unsigned int caps);

/* Policy helpers (ev_policy.c). af_policy_check writes the reason into why on failure. */
AF_POLICY *af_policy_dup(const AF_POLICY *p);
int af_policy_check(const AF_POLICY *p, const AF_KEY_CLAIMS *kc, char *why, size_t whysize);

/* The verifier's Evidence and bundle decode (ev_evidence.c, ev_bundle.c): find (may be NULL)
 * returns a new reference to a certificate it holds whose DER is exactly [der, der+len), else
 * NULL; any other certificate is decoded. Same result and errors as af_evidence_from_der and
 * af_bundle_from_der. */
typedef X509 *(*af_ev_cert_find)(const unsigned char *der, size_t len, void *arg);
AF_EVIDENCE *af_ev_from_der_find(const unsigned char *der, size_t len, af_ev_cert_find find,
                                 void *arg);
AF_EVIDENCE *af_ev_bundle_get1_evidence_find(const AF_BUNDLE *b, size_t i, af_ev_cert_find find,
                                             void *arg);
AF_BUNDLE *af_ev_bundle_from_der_find(const unsigned char *der, size_t len, af_ev_cert_find find,
                                      void *arg);

/* SubjectPublicKeyInfo helpers (ev_spki.c), cheap for EC named-curve and RSA keys of any
 * provider. af_ev_spki_der: the DER SPKI of key (new buffer), the same bytes as i2d_PUBKEY.
 * af_ev_get1_public: a new reference to a key with key's public part (a built-in copy when
 * there is a cheap route, else key itself) for X509_REQ_set_pubkey and the CRMF template. */
int af_ev_spki_der(EVP_PKEY *key, unsigned char **der, size_t *len);
EVP_PKEY *af_ev_get1_public(EVP_PKEY *key);

#endif
