/* ca.c - the RA's small local CA: a CA certificate and its key (a file or a pkcs11: URI through
 * OSSL_STORE), random 128-bit serials, a validity, subject and subjectAltName from the request,
 * KeyUsage/ExtendedKeyUsage from a fixed profile, signed through EVP so that a token key works.
 * The subject's key is read from the request's bytes by the ASN.1 code where it can (cert_key).
 * It issues what it is given: the RA verifies the request first (enroll_ra.c). */
#include <limits.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"
#include "evidence/ev_local.h"

#define CA_DEFAULT_DAYS 365
#define CA_MAX_DAYS 7300
#define CA_SERIAL_BYTES 16
/* tolerate station clocks a little behind ours */
#define CA_BACKDATE_S (5 * 60)

struct af_ca_st {
    OSSL_LIB_CTX *libctx;
    char *propq;
    X509 *cert;
    EVP_PKEY *key;
    int days;
    af_ca_profile profile;
};

AF_CA *af_ca_new(OSSL_LIB_CTX *libctx, const char *propq)
{
    AF_CA *ca = OPENSSL_zalloc(sizeof(*ca));

    if (ca == NULL) {
        AF_ERR(AF_R_MALLOC, "CA");
        return NULL;
    }
    ca->libctx = libctx;
    if (propq != NULL && (ca->propq = OPENSSL_strdup(propq)) == NULL) {
        OPENSSL_free(ca);
        AF_ERR(AF_R_MALLOC, "CA");
        return NULL;
    }
    ca->days = CA_DEFAULT_DAYS;
    ca->profile = AF_CA_PROFILE_CLIENT;
    return ca;
}

void af_ca_free(AF_CA *ca)
{
    if (ca == NULL)
        return;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    OPENSSL_free(ca->propq);
    OPENSSL_free(ca);
}

int af_ca_set1(AF_CA *ca, X509 *cert, EVP_PKEY *key)
{
    if (ca == NULL || cert == NULL || key == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CA certificate and key are required");
        return 0;
    }
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        AF_ERR(AF_R_INVALID_ARGUMENT, "the CA key does not match the CA certificate");
        return 0;
    }
    if (X509_check_ca(cert) == 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the CA certificate is not a CA certificate "
                                      "(basicConstraints CA:TRUE / keyCertSign missing)");
        return 0;
    }
    if (!X509_up_ref(cert))
        return 0;
    if (!EVP_PKEY_up_ref(key)) {
        X509_free(cert);
        return 0;
    }
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    ca->cert = cert;
    ca->key = key;
    return 1;
}

int af_ca_load(AF_CA *ca, const char *cert_path, const char *key_uri)
{
    X509 *cert;
    EVP_PKEY *key = NULL;
    int ok = 0;

    if (ca == NULL || cert_path == NULL || key_uri == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CA certificate and key are required");
        return 0;
    }
    if ((cert = af_load_cert(cert_path, ca->libctx, ca->propq)) != NULL &&
        (key = af_load_key(key_uri, 1, ca->libctx, ca->propq)) != NULL)
        ok = af_ca_set1(ca, cert, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

int af_ca_set_days(AF_CA *ca, int days)
{
    if (ca == NULL || days < 1 || days > CA_MAX_DAYS) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "validity of %d days (1..%d)", days, CA_MAX_DAYS);
        return 0;
    }
    ca->days = days;
    return 1;
}

int af_ca_set_profile(AF_CA *ca, af_ca_profile profile)
{
    if (ca == NULL || profile < AF_CA_PROFILE_CLIENT || profile > AF_CA_PROFILE_DEVICE) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "unknown certificate profile");
        return 0;
    }
    ca->profile = profile;
    return 1;
}

int af_ca_set_profile_name(AF_CA *ca, const char *name)
{
    static const struct {
        const char *name;
        af_ca_profile p;
    } names[] = {{"client", AF_CA_PROFILE_CLIENT},
                 {"server", AF_CA_PROFILE_SERVER},
                 {"device", AF_CA_PROFILE_DEVICE}};
    size_t i;

    for (i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i].name) == 0)
            return af_ca_set_profile(ca, names[i].p);
    AF_ERR(AF_R_INVALID_ARGUMENT, "certificate profile '%s' (client, server or device)",
           name != NULL ? name : "(none)");
    return 0;
}

X509 *af_ca_get0_cert(const AF_CA *ca)
{
    return ca != NULL ? ca->cert : NULL;
}

EVP_PKEY *af_ca_get0_key(const AF_CA *ca)
{
    return ca != NULL ? ca->key : NULL;
}

/* A positive serial of CA_SERIAL_BYTES random bytes (RFC 5280: at most 20 octets, unique). */
static int set_random_serial(AF_CA *ca, X509 *x)
{
    unsigned char buf[CA_SERIAL_BYTES];
    BIGNUM *bn = NULL;
    int ok = 0;

    if (RAND_bytes_ex(ca->libctx, buf, sizeof(buf), 0) <= 0)
        return 0;
    buf[0] &= 0x7f; /* positive without a leading zero octet */
    buf[0] |= 0x01; /* and never a short encoding */
    if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) != NULL &&
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
        ok = 1;
    BN_free(bn);
    return ok;
}

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1);

    X509_EXTENSION_free(e);
    return ok;
}

static int add_profile_exts(AF_CA *ca, X509 *x, EVP_PKEY *pub)
{
    X509V3_CTX v3;
    const char *ku = "critical,digitalSignature";

    X509V3_set_ctx(&v3, ca->cert, x, NULL, NULL, 0);
    if (EVP_PKEY_is_a(pub, "RSA") && ca->profile != AF_CA_PROFILE_DEVICE)
        ku = "critical,digitalSignature,keyEncipherment";
    if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, &v3, NID_key_usage, ku) ||
        !add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
        !add_ext(x, &v3, NID_authority_key_identifier, "keyid:always"))
        return 0;
    if (ca->profile == AF_CA_PROFILE_CLIENT)
        return add_ext(x, &v3, NID_ext_key_usage, "clientAuth");
    if (ca->profile == AF_CA_PROFILE_SERVER)
        return add_ext(x, &v3, NID_ext_key_usage, "serverAuth");
    return 1;
}

/* Of the requested extensions only subjectAltName is honoured (copied as it came). */
static int copy_san(X509 *x, const STACK_OF(X509_EXTENSION) * req_exts)
{
    int i = X509v3_get_ext_by_NID(req_exts, NID_subject_alt_name, -1);

    if (i < 0)
        return 1;
    return X509_add_ext(x, X509v3_get_ext(req_exts, i), -1);
}

/* The CA signs like its key wants: ECDSA/RSA with SHA-256 (SHA-384 for P-384 and up), Ed25519
 * without a digest. */
static const char *sign_digest(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
        return NULL;
    return EVP_PKEY_get_bits(key) >= 384 && EVP_PKEY_is_a(key, "EC") ? "SHA384" : "SHA256";
}

/* The certificate for pub, which X509_set_pubkey encodes as it is (see cert_key). */
static X509 *issue(AF_CA *ca, const X509_NAME *subject, EVP_PKEY *pub,
                   const STACK_OF(X509_EXTENSION) * req_exts)
{
    X509 *x = NULL;
    EVP_MD_CTX *mctx = NULL;
    time_t now = time(NULL);

    if (X509_NAME_entry_count(subject) == 0 &&
        X509v3_get_ext_by_NID(req_exts, NID_subject_alt_name, -1) < 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "empty subject and no subjectAltName");
        return NULL;
    }
    if ((x = X509_new_ex(ca->libctx, ca->propq)) == NULL || !X509_set_version(x, X509_VERSION_3) ||
        !set_random_serial(ca, x) || !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
        !X509_set_subject_name(x, subject) || !X509_set_pubkey(x, pub) ||
        X509_time_adj_ex(X509_getm_notBefore(x), 0, -CA_BACKDATE_S, &now) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), ca->days, 0, &now) == NULL ||
        !add_profile_exts(ca, x, pub) || !copy_san(x, req_exts))
        goto err;
    if ((mctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit_ex(mctx, NULL, sign_digest(ca->key), ca->libctx, ca->propq, ca->key,
                              NULL) <= 0 ||
        X509_sign_ctx(x, mctx) <= 0)
        goto err;
    EVP_MD_CTX_free(mctx);
    return x;
err : {
    char why[200];

    af_err_line(why, sizeof(why));
    AF_ERR(AF_R_CRYPTO, "the CA cannot issue the certificate: %s", why);
}
    EVP_MD_CTX_free(mctx);
    X509_free(x);
    return NULL;
}

static int ready(const AF_CA *ca)
{
    if (ca == NULL || ca->cert == NULL || ca->key == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the RA has no CA configured");
        return 0;
    }
    return 1;
}

X509 *af_ca_issue(AF_CA *ca, const X509_NAME *subject, EVP_PKEY *pub,
                  const STACK_OF(X509_EXTENSION) * req_exts)
{
    EVP_PKEY *key;
    X509 *x;

    if (!ready(ca))
        return NULL;
    if (subject == NULL || pub == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "a certificate needs a subject and a public key");
        return NULL;
    }
    /* a built-in public copy where there is one (ev_spki.c), for the reason of cert_key */
    if ((key = af_ev_get1_public(pub)) == NULL)
        return NULL;
    x = issue(ca, subject, key, req_exts);
    EVP_PKEY_free(key);
    return x;
}

/* SubjectPublicKeyInfo as its two fields, the key kept as its BIT STRING (template at the end of
 * the file). */
typedef struct {
    X509_ALGOR *alg;
    ASN1_BIT_STRING *key;
} CA_SPKI;
static const ASN1_ITEM *CA_SPKI_it(void);

/* The key of a request's DER SubjectPublicKeyInfo as the certificate will hold it. OpenSSL 3.0's
 * X509_set_pubkey runs an OSSL_ENCODER and then an OSSL_DECODER for a provider's key (about 0.2
 * ms, more than the CA's signature); for a built-in (legacy) key it encodes with the ASN.1 code
 * and keeps the key. So an EC key on a named curve and an rsaEncryption key are read by the ASN.1
 * code alone (d2i_KeyParams, d2i_PublicKey: the point is checked to be on the curve, the RSA key
 * to parse), which also decides that the key is usable, and encode back to the same bytes (DER
 * with the usual parameters; the decoders' route would re-encode the same way). Other keys take
 * OpenSSL's decoders: the caller's decoded key when given, else decoded here. NULL with an error
 * when the key is not usable. */
static EVP_PKEY *cert_key(const AF_CA *ca, const unsigned char *spki, size_t len, EVP_PKEY *decoded)
{
    const unsigned char *p = spki;
    const ASN1_OBJECT *aobj = NULL;
    const void *pval = NULL;
    CA_SPKI *s = NULL;
    EVP_PKEY *key = NULL;
    int ptype = V_ASN1_UNDEF, nid, builtin = 0;

    if (len > 0 && len <= LONG_MAX)
        s = (CA_SPKI *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(CA_SPKI));
    if (s == NULL || p != spki + len || (s->key->flags & 0x07) != 0)
        goto done;
    X509_ALGOR_get0(&aobj, &ptype, &pval, s->alg);
    nid = OBJ_obj2nid(aobj);
    p = ASN1_STRING_get0_data(s->key);
    if (nid == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT) {
        unsigned char params[64], *pp = params;
        const unsigned char *q = params;
        int n = i2d_ASN1_OBJECT(pval, NULL);

        builtin = 1;
        if (n > 0 && (size_t)n <= sizeof(params) && i2d_ASN1_OBJECT(pval, &pp) == n &&
            (key = d2i_KeyParams(EVP_PKEY_EC, NULL, &q, n)) != NULL &&
            d2i_PublicKey(EVP_PKEY_EC, &key, &p, ASN1_STRING_length(s->key)) == NULL) {
            EVP_PKEY_free(key);
            key = NULL;
        }
    } else if (nid == NID_rsaEncryption && (ptype == V_ASN1_NULL || ptype == V_ASN1_UNDEF)) {
        builtin = 1;
        key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, ASN1_STRING_length(s->key));
        if (key != NULL && p != ASN1_STRING_get0_data(s->key) + ASN1_STRING_length(s->key)) {
            EVP_PKEY_free(key);
            key = NULL;
        }
    }
done:
    ASN1_item_free((ASN1_VALUE *)s, ASN1_ITEM_rptr(CA_SPKI));
    if (!builtin && decoded != NULL && EVP_PKEY_up_ref(decoded)) {
        key = decoded;
    } else if (!builtin) {
        p = spki;
        if ((key = d2i_PUBKEY_ex(NULL, &p, (long)len, ca->libctx, ca->propq)) != NULL &&
            p != spki + len) {
            EVP_PKEY_free(key);
            key = NULL;
        }
    }
    if (key == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_INVALID_ARGUMENT, "the request's public key cannot be decoded");
    }
    return key;
}

X509 *af_ca_issue_req(AF_CA *ca, const X509_REQ *req)
{
    STACK_OF(X509_EXTENSION) * exts;
    unsigned char *spki = NULL;
    EVP_PKEY *pub, *key = NULL;
    X509 *x = NULL;
    int n;

    if (req == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no request");
        return NULL;
    }
    if (!ready(ca))
        return NULL;
    if ((pub = X509_REQ_get0_pubkey((X509_REQ *)req)) == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the request's public key cannot be decoded");
        return NULL;
    }
    if ((n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY((X509_REQ *)req), &spki)) <= 0 ||
        (key = cert_key(ca, spki, (size_t)n, pub)) == NULL) {
        OPENSSL_free(spki);
        return NULL;
    }
    exts = X509_REQ_get_extensions((X509_REQ *)req);
    x = issue(ca, X509_REQ_get_subject_name(req), key, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    EVP_PKEY_free(key);
    OPENSSL_free(spki);
    return x;
}

/* The template's publicKey [6] IMPLICIT SubjectPublicKeyInfo, which OpenSSL 3.0 does not expose,
 * as DER (new buffer), found by reading the CertTemplate as a SEQUENCE of ANY; 0 when it has
 * none. */
static int template_spki(const OSSL_CRMF_MSG *crm, unsigned char **spki, size_t *len)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    AF_ANY_SEQ *seq = NULL;
    int n, i, l;

    *spki = NULL;
    if (crm == NULL || (n = i2d_OSSL_CRMF_CERTTEMPLATE(OSSL_CRMF_MSG_get0_tmpl(crm), &der)) <= 0)
        goto done;
    p = der;
    seq = (AF_ANY_SEQ *)ASN1_item_d2i(NULL, &p, n, ASN1_ITEM_rptr(AF_ANY_SEQ));
    for (i = 0; seq != NULL && i < sk_ASN1_TYPE_num(seq); i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);

        if (t->type != V_ASN1_OTHER || (l = ASN1_STRING_length(t->value.asn1_string)) < 2 ||
            ASN1_STRING_get0_data(t->value.asn1_string)[0] != 0xa6)
            continue;
        if ((*spki = OPENSSL_memdup(ASN1_STRING_get0_data(t->value.asn1_string), (size_t)l)) !=
            NULL) {
            (*spki)[0] = 0x30; /* [6] IMPLICIT constructed -> SEQUENCE */
            *len = (size_t)l;
        }
        break;
    }
done:
    ERR_clear_error();
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    OPENSSL_free(der);
    return *spki != NULL;
}

EVP_PKEY *af_crmf_get1_template_pubkey(const OSSL_CRMF_MSG *crm, OSSL_LIB_CTX *libctx,
                                       const char *propq)
{
    unsigned char *spki = NULL;
    const unsigned char *p;
    size_t len = 0;
    EVP_PKEY *pub = NULL;

    if (template_spki(crm, &spki, &len)) {
        p = spki;
        pub = d2i_PUBKEY_ex(NULL, &p, (long)len, libctx, propq);
    }
    if (pub == NULL)
        AF_ERR(AF_R_INVALID_ARGUMENT, "the CertTemplate has no decodable publicKey");
    OPENSSL_free(spki);
    return pub;
}

X509 *af_ca_issue_crmf(AF_CA *ca, const OSSL_CRMF_MSG *crm)
{
    OSSL_CRMF_CERTTEMPLATE *tmpl;
    const X509_NAME *subject;
    X509_NAME *empty = NULL;
    unsigned char *spki = NULL;
    size_t len = 0;
    EVP_PKEY *key = NULL;
    X509 *x = NULL;

    if (ca == NULL || crm == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no request");
        return NULL;
    }
    if (!ready(ca))
        return NULL;
    tmpl = OSSL_CRMF_MSG_get0_tmpl(crm);
    if (!template_spki(crm, &spki, &len)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the CertTemplate has no decodable publicKey");
        return NULL;
    }
    if ((key = cert_key(ca, spki, len, NULL)) != NULL) {
        if ((subject = OSSL_CRMF_CERTTEMPLATE_get0_subject(tmpl)) == NULL)
            subject = empty = X509_NAME_new();
        if (subject != NULL)
            x = issue(ca, subject, key, OSSL_CRMF_CERTTEMPLATE_get0_extensions(tmpl));
    }
    X509_NAME_free(empty);
    EVP_PKEY_free(key);
    OPENSSL_free(spki);
    return x;
}

/* The template macros read best one field per line. */
// clang-format off
ASN1_SEQUENCE(CA_SPKI) = {
    ASN1_SIMPLE(CA_SPKI, alg, X509_ALGOR),
    ASN1_SIMPLE(CA_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CA_SPKI)
