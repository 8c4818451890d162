/* ev_spki.c - a key's SubjectPublicKeyInfo and a public-only copy of it, made without OpenSSL
 * 3.0's encoder/decoder machinery: i2d_PUBKEY and X509_PUBKEY_set on a provider key build a fresh
 * OSSL_ENCODER_CTX (and X509_PUBKEY_set an OSSL_DECODER_CTX) per call, which costs more than the
 * token's own signature (bench/bench_evidence.c). EC named-curve and RSA keys take the cheap route:
 * their public parameters, read as key params, are encoded by the ASN.1 templates (the SPKI) or
 * rebuilt as a built-in public key (for X509_REQ_set_pubkey and CRMF); anything else falls back to
 * the encoders. The bytes are the same either way (test_evidence compares them). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "attfresh/err.h"
#include "evidence/ev_local.h"

#define MAX_POINT 256 /* P-521 uncompressed: 133 bytes */

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1); the
 * template is at the end of the file. */
typedef struct {
    BIGNUM *n;
    BIGNUM *e;
} AF_RSA_PUB;
DECLARE_ASN1_ITEM(AF_RSA_PUB)

/* The curve (NID) and uncompressed point of an EC key, when it takes the cheap route: named
 * curves and uncompressed points only (what keys have unless told otherwise): the encoder honours
 * the other forms, and the point param is not always in the key's form. */
static int ec_facts(EVP_PKEY *key, int *nid, unsigned char *point, size_t *plen)
{
    char group[64], enc[32];

    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc), NULL) &&
        strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
        return 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, enc,
                                       sizeof(enc), NULL) &&
        strcmp(enc, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 0)
        return 0;
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        NULL) ||
        !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, MAX_POINT,
                                         plen) ||
        *plen == 0 || point[0] != POINT_CONVERSION_UNCOMPRESSED)
        return 0;
    if ((*nid = OBJ_sn2nid(group)) == NID_undef && (*nid = EC_curve_nist2nid(group)) == NID_undef)
        return 0;
    return 1;
}

static EVP_PKEY *ec_public(EVP_PKEY *key)
{
    unsigned char point[MAX_POINT], params[32], *pp = params;
    const unsigned char *p;
    size_t plen = 0;
    int nid, n;
    EVP_PKEY *pub;

    if (!ec_facts(key, &nid, point, &plen))
        return NULL;
    /* ECParameters (the curve's OID), then the point: a built-in EC key whose SPKI and
     * X509_PUBKEY are made by the ASN.1 code alone. */
    if ((n = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), NULL)) <= 0 || (size_t)n > sizeof(params) ||
        i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &pp) != n)
        return NULL;
    p = params;
    if ((pub = d2i_KeyParams(EVP_PKEY_EC, NULL, &p, n)) == NULL)
        return NULL;
    p = point;
    if (d2i_PublicKey(EVP_PKEY_EC, &pub, &p, (long)plen) == NULL) {
        EVP_PKEY_free(pub);
        return NULL;
    }
    return pub;
}

/* RSAPublicKey DER of an RSA key (new buffer), 0 when the key does not give n and e. */
static int rsa_public_der(EVP_PKEY *key, unsigned char **der)
{
    AF_RSA_PUB rp = {NULL, NULL};
    int n = 0;

    *der = NULL;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &rp.n) &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &rp.e))
        n = ASN1_item_i2d((ASN1_VALUE *)&rp, der, ASN1_ITEM_rptr(AF_RSA_PUB));
    BN_free(rp.n);
    BN_free(rp.e);
    return n > 0 ? n : 0;
}

static EVP_PKEY *rsa_public(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    EVP_PKEY *pub = NULL;
    int n;

    if ((n = rsa_public_der(key, &der)) > 0) {
        p = der;
        pub = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, n);
    }
    OPENSSL_free(der);
    return pub;
}

/* The SPKI DER straight from the public parameters: no key object (an EC group costs more than
 * the encoding). 0 with no error left when there is no cheap route. */
static int spki_from_params(EVP_PKEY *key, unsigned char **der, size_t *len)
{
    X509_PUBKEY *xpk = X509_PUBKEY_new();
    unsigned char point[MAX_POINT], *enc = NULL;
    size_t plen = 0;
    int nid, n = 0, ok = 0;

    ERR_set_mark();
    if (xpk == NULL)
        goto done;
    if (EVP_PKEY_is_a(key, "EC")) {
        if (!ec_facts(key, &nid, point, &plen) || (enc = OPENSSL_memdup(point, plen)) == NULL ||
            !X509_PUBKEY_set0_param(xpk, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                                    OBJ_nid2obj(nid), enc, (int)plen))
            goto done;
    } else if (EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "RSA-PSS")) {
        if ((n = rsa_public_der(key, &enc)) <= 0 ||
            !X509_PUBKEY_set0_param(xpk, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL, NULL, enc, n))
            goto done;
    } else {
        goto done;
    }
    enc = NULL; /* owned by xpk now */
    *der = NULL;
    if ((n = i2d_X509_PUBKEY(xpk, der)) > 0) {
        *len = (size_t)n;
        ok = 1;
    }
done:
    ERR_pop_to_mark();
    OPENSSL_free(enc);
    X509_PUBKEY_free(xpk);
    return ok;
}

/* A new key holding key's public part, or NULL (no error left) when there is no cheap route. */
static EVP_PKEY *public_copy(EVP_PKEY *key)
{
    EVP_PKEY *pub = NULL;

    ERR_set_mark();
    if (EVP_PKEY_is_a(key, "EC"))
        pub = ec_public(key);
    else if (EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "RSA-PSS"))
        pub = rsa_public(key);
    ERR_pop_to_mark();
    return pub;
}

EVP_PKEY *af_ev_get1_public(EVP_PKEY *key)
{
    EVP_PKEY *pub;

    if (key == NULL)
        return NULL;
    if ((pub = public_copy(key)) != NULL)
        return pub;
    return EVP_PKEY_up_ref(key) ? key : NULL;
}

int af_ev_spki_der(EVP_PKEY *key, unsigned char **der, size_t *len)
{
    int n;

    if (spki_from_params(key, der, len))
        return 1;
    *der = NULL;
    n = i2d_PUBKEY(key, der);
    if (n <= 0) {
        ERR_clear_error();
        AF_ERR(AF_R_CRYPTO, "cannot encode the public key (SubjectPublicKeyInfo)");
        return 0;
    }
    *len = (size_t)n;
    return 1;
}

/* The template macros read best one field per line. */
// clang-format off
ASN1_SEQUENCE(AF_RSA_PUB) = {
    ASN1_SIMPLE(AF_RSA_PUB, n, BIGNUM),
    ASN1_SIMPLE(AF_RSA_PUB, e, BIGNUM),
} ASN1_SEQUENCE_END(AF_RSA_PUB)
