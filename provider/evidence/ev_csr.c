/* ev_csr.c - attested certification requests: a PKCS#10 CSR with one id-aa-attestation attribute,
 * the CRMF CertReqMsg with the id-aa-attestation CertTemplate extension, and the small pieces
 * both need (subject DN and SAN parsing, the self-signature through af_sign_data). */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "attfresh/err.h"
#include "evidence/ev_local.h"

#define MAX_DN 4096

/* "/CN=a/O=b" (OpenSSL command form, '\' escapes) or "CN=a,O=b". */
X509_NAME *af_parse_dn(const char *dn)
{
    X509_NAME *n = X509_NAME_new();
    char *buf = NULL, *o, *type = NULL;
    const char *p;
    char sep;

    if (n == NULL || dn == NULL || *dn == '\0' || strlen(dn) > MAX_DN) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "subject DN missing or too long");
        goto err;
    }
    sep = dn[0] == '/' ? '/' : ',';
    p = dn[0] == '/' ? dn + 1 : dn;
    if ((buf = OPENSSL_malloc(strlen(p) + 1)) == NULL) {
        AF_ERR(AF_R_MALLOC, "subject");
        goto err;
    }
    o = buf;
    type = buf;
    for (;; p++) {
        if (*p == '\\' && p[1] != '\0') {
            *o++ = *++p;
            continue;
        }
        if (*p == sep || *p == '\0') {
            char *eq;

            *o = '\0';
            while (*type == ' ')
                type++;
            if (*type != '\0') {
                if ((eq = strchr(type, '=')) == NULL || eq == type || eq[1] == '\0') {
                    AF_ERR(AF_R_INVALID_ARGUMENT, "subject DN: '%.40s' is not type=value", type);
                    goto err;
                }
                *eq = '\0';
                if (!X509_NAME_add_entry_by_txt(n, type, MBSTRING_UTF8,
                                                (const unsigned char *)eq + 1, -1, -1, 0)) {
                    ERR_clear_error();
                    AF_ERR(AF_R_INVALID_ARGUMENT, "subject DN: unknown attribute type '%.40s'",
                           type);
                    goto err;
                }
            }
            if (*p == '\0')
                break;
            o = buf;
            type = buf;
            continue;
        }
        *o++ = *p;
    }
    if (X509_NAME_entry_count(n) == 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "subject DN is empty");
        goto err;
    }
    OPENSSL_free(buf);
    return n;
err:
    OPENSSL_free(buf);
    X509_NAME_free(n);
    return NULL;
}

static X509_EXTENSION *san_ext(const char *sans)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, NULL, NID_subject_alt_name, sans);

    if (ext == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_INVALID_ARGUMENT, "bad subjectAltName '%.80s' (use DNS:x,IP:a.b.c.d,...)",
               sans);
    }
    return ext;
}

X509_EXTENSION *af_attestation_extension_new(const AF_BUNDLE *b)
{
    ASN1_OBJECT *obj = af_ev_obj(AF_OID_AA_ATTESTATION);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    unsigned char *der = NULL;
    size_t len = 0;

    if (obj == NULL || os == NULL || !af_bundle_to_der(b, &der, &len))
        goto done;
    if (!ASN1_OCTET_STRING_set(os, der, (int)len) ||
        (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL)
        AF_ERR(AF_R_MALLOC, "attestation extension");
done:
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ext;
}

X509_REQ *af_csr_new(EVP_PKEY *key, const char *subject, const char *sans, const AF_BUNDLE *b,
                     OSSL_LIB_CTX *libctx, const char *propq)
{
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext = NULL;
    ASN1_OBJECT *obj = NULL;
    ASN1_BIT_STRING *bs = NULL;
    X509_ALGOR *alg = NULL;
    EVP_PKEY *pub = NULL;
    unsigned char *der = NULL, *tbs = NULL, *sig = NULL;
    size_t len = 0, siglen = 0;
    int tbslen;

    if (key == NULL || b == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "a CSR needs a key and an attestation bundle");
        return NULL;
    }
    if ((name = af_parse_dn(subject)) == NULL || !af_bundle_to_der(b, &der, &len))
        goto err;
    if ((req = X509_REQ_new_ex(libctx, propq)) == NULL || !X509_REQ_set_version(req, 0) ||
        !X509_REQ_set_subject_name(req, name)) {
        AF_ERR(AF_R_MALLOC, "CSR");
        goto err;
    }
    /* A public copy: X509_REQ_set_pubkey on a provider key runs an encoder and a decoder. */
    if ((pub = af_ev_get1_public(key)) == NULL || !X509_REQ_set_pubkey(req, pub)) {
        ERR_clear_error();
        AF_ERR(AF_R_CRYPTO, "cannot put the key's public part into the CSR");
        goto err;
    }
    if (sans != NULL && *sans != '\0') {
        if ((ext = san_ext(sans)) == NULL)
            goto err;
        if ((exts = sk_X509_EXTENSION_new_null()) == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
            AF_ERR(AF_R_MALLOC, "CSR extensions");
            goto err;
        }
        ext = NULL;
        if (!X509_REQ_add_extensions(req, exts)) {
            AF_ERR(AF_R_MALLOC, "CSR extensions");
            goto err;
        }
    }
    /* V_ASN1_SEQUENCE with a length: the attribute value is the bundle TLV as it is. */
    if ((obj = af_ev_obj(AF_OID_AA_ATTESTATION)) == NULL ||
        !X509_REQ_add1_attr_by_OBJ(req, obj, V_ASN1_SEQUENCE, der, (int)len)) {
        AF_ERR(AF_R_MALLOC, "attestation attribute");
        goto err;
    }
    tbslen = i2d_re_X509_REQ_tbs(req, &tbs);
    if (tbslen <= 0) {
        AF_ERR(AF_R_INTERNAL, "cannot encode the CSR");
        goto err;
    }
    if (!af_sign_data(key, NULL, 0, libctx, propq, tbs, (size_t)tbslen, &alg, &sig, &siglen))
        goto err;
    if ((bs = ASN1_BIT_STRING_new()) == NULL || !ASN1_BIT_STRING_set(bs, sig, (int)siglen) ||
        !X509_REQ_set1_signature_algo(req, alg)) {
        AF_ERR(AF_R_MALLOC, "CSR signature");
        goto err;
    }
    bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req, bs);
    bs = NULL;
    goto done;
err:
    X509_REQ_free(req);
    req = NULL;
done:
    ASN1_BIT_STRING_free(bs);
    X509_ALGOR_free(alg);
    OPENSSL_free(sig);
    OPENSSL_free(tbs);
    OPENSSL_free(der);
    ASN1_OBJECT_free(obj);
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    EVP_PKEY_free(pub);
    return req;
}

static const char *crmf_digest(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
        return NULL;
    if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 256)
        return EVP_PKEY_get_bits(key) > 384 ? "SHA512" : "SHA384";
    return "SHA256";
}

OSSL_CRMF_MSG *af_crmf_new(EVP_PKEY *key, const char *subject, const char *sans, const AF_BUNDLE *b,
                           OSSL_LIB_CTX *libctx, const char *propq)
{
    OSSL_CRMF_MSG *msg = NULL;
    X509_NAME *name = NULL;
    X509_EXTENSION *ext = NULL;
    EVP_MD *md = NULL;
    EVP_PKEY *pub = NULL;
    const char *mdname;

    if (key == NULL || b == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "a request needs a key and an attestation bundle");
        return NULL;
    }
    if ((name = af_parse_dn(subject)) == NULL)
        goto err;
    if ((pub = af_ev_get1_public(key)) == NULL || (msg = OSSL_CRMF_MSG_new()) == NULL ||
        !OSSL_CRMF_MSG_set_certReqId(msg, 0) ||
        !OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(msg), pub, name, NULL, NULL)) {
        AF_ERR(AF_R_CRYPTO, "cannot fill the CertTemplate");
        goto err;
    }
    if (sans != NULL && *sans != '\0') {
        if ((ext = san_ext(sans)) == NULL)
            goto err;
        if (!OSSL_CRMF_MSG_push0_extension(msg, ext)) {
            AF_ERR(AF_R_MALLOC, "CertTemplate extension");
            goto err;
        }
        ext = NULL;
    }
    if ((ext = af_attestation_extension_new(b)) == NULL)
        goto err;
    if (!OSSL_CRMF_MSG_push0_extension(msg, ext)) {
        AF_ERR(AF_R_MALLOC, "CertTemplate extension");
        goto err;
    }
    ext = NULL;
    if ((mdname = crmf_digest(key)) != NULL && (md = EVP_MD_fetch(libctx, mdname, propq)) == NULL)
        goto crypto;
    if (!OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_SIGNATURE, msg, key, md, libctx, propq))
        goto crypto;
    goto done;
crypto:
    AF_ERR(AF_R_CRYPTO, "cannot sign the proof of possession");
err:
    OSSL_CRMF_MSG_free(msg);
    msg = NULL;
done:
    EVP_MD_free(md);
    EVP_PKEY_free(pub);
    X509_EXTENSION_free(ext);
    X509_NAME_free(name);
    return msg;
}
