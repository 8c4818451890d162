/* encoder.c - the key-reference file: a token key written as PEM ("ATTFRESH PKCS11 KEY URI") or DER
 * holding SEQUENCE { UTF8String description, UTF8String uri } - where the key is, never key
 * material. Written by `openssl genpkey -out`, read back by decoder.c for any `-key FILE`. */
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attfresh/params.h"
#include "module/key.h"
#include "module/prov.h"

typedef struct {
    ASN1_UTF8STRING *desc;
    ASN1_UTF8STRING *uri;
} AF_KEYREF;

ASN1_SEQUENCE(AF_KEYREF) =
    {
        ASN1_SIMPLE(AF_KEYREF, desc, ASN1_UTF8STRING),
        ASN1_SIMPLE(AF_KEYREF, uri, ASN1_UTF8STRING),
} static_ASN1_SEQUENCE_END(AF_KEYREF)

#define AF_KEYREF_DESC_PREFIX "attfresh PKCS#11 key reference "

    /* "attfresh PKCS#11 key reference (EC)": the type lets each decoder skip others' keys cheaply.
     */
    static int keyref_desc(int type, char *buf, size_t size)
{
    const char *name = af_key_type_name(type);

    return name != NULL && BIO_snprintf(buf, size, AF_KEYREF_DESC_PREFIX "(%s)", name) > 0;
}

int af_keyref_encode(int type, const char *uri, unsigned char **der)
{
    AF_KEYREF *ref = (AF_KEYREF *)ASN1_item_new(ASN1_ITEM_rptr(AF_KEYREF));
    char desc[64];
    int len = -1;

    *der = NULL;
    if (ref != NULL && keyref_desc(type, desc, sizeof(desc)) &&
        ASN1_STRING_set(ref->desc, desc, -1) && ASN1_STRING_set(ref->uri, uri, -1))
        len = ASN1_item_i2d((ASN1_VALUE *)ref, der, ASN1_ITEM_rptr(AF_KEYREF));
    ASN1_item_free((ASN1_VALUE *)ref, ASN1_ITEM_rptr(AF_KEYREF));
    return len;
}

char *af_keyref_decode(const unsigned char *der, size_t len, int type)
{
    const unsigned char *p = der;
    AF_KEYREF *ref = (AF_KEYREF *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(AF_KEYREF));
    char desc[64], *uri = NULL;

    if (ref != NULL && p == der + len && keyref_desc(type, desc, sizeof(desc)) &&
        ASN1_STRING_length(ref->desc) == (int)strlen(desc) &&
        memcmp(ASN1_STRING_get0_data(ref->desc), desc, strlen(desc)) == 0 &&
        ASN1_STRING_length(ref->uri) > 7 &&
        memchr(ASN1_STRING_get0_data(ref->uri), '\0', ASN1_STRING_length(ref->uri)) == NULL)
        uri = OPENSSL_strndup((const char *)ASN1_STRING_get0_data(ref->uri),
                              ASN1_STRING_length(ref->uri));
    ASN1_item_free((ASN1_VALUE *)ref, ASN1_ITEM_rptr(AF_KEYREF));
    return uri;
}

/* ---- encoder --------------------------------------------------------------------------------- */

static OSSL_FUNC_encoder_newctx_fn enc_newctx;
static OSSL_FUNC_encoder_freectx_fn enc_freectx;
static OSSL_FUNC_encoder_does_selection_fn enc_does_selection;

static void *enc_newctx(void *provctx)
{
    return provctx; /* stateless: the provider context is all we need */
}

static void enc_freectx(void *ctx)
{
}

static int enc_does_selection(void *ctx, int selection)
{
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

/* Writes len bytes of der (taken over and freed; len <= 0: encoding failed) to the core BIO, as
 * PEM under pem_label or as plain DER when pem_label is NULL. Raises naming what and the key. */
static int write_der(AF_PROV_CTX *pc, OSSL_CORE_BIO *cout, unsigned char *der, int len,
                     const char *pem_label, const char *what, const AF_KEY *key)
{
    BIO *out = BIO_new_from_core_bio(af_prov_libctx(pc), cout);
    int ok = 0;

    if (len > 0 && out != NULL)
        ok = pem_label != NULL ? PEM_write_bio(out, pem_label, "", der, len) > 0
                               : BIO_write(out, der, len) == len;
    if (!ok)
        af_prov_raise(pc, AF_PR_ENCODING, "writing %s of %s", what, af_key_get0_uri(key));
    BIO_free(out);
    OPENSSL_free(der);
    return ok;
}

static int enc_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj,
                      const OSSL_PARAM obj_abstract[], int selection, int pem)
{
    AF_PROV_CTX *pc = vctx;
    const AF_KEY *key = obj;
    unsigned char *der = NULL;
    int len;

    if (key == NULL || obj_abstract != NULL || !af_key_has_private(key) ||
        (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0) {
        af_prov_raise(pc, AF_PR_ENCODING, "only a token private key can be written as a reference");
        return 0;
    }
    len = af_keyref_encode(af_key_type(key), af_key_get0_uri(key), &der);
    return write_der(pc, cout, der, len, pem ? AF_KEYREF_PEM_LABEL : NULL, "the key reference",
                     key);
}

static int enc_encode_pem(void *vctx, OSSL_CORE_BIO *cout, const void *obj,
                          const OSSL_PARAM obj_abstract[], int selection,
                          OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    return enc_encode(vctx, cout, obj, obj_abstract, selection, 1);
}

static int enc_encode_der(void *vctx, OSSL_CORE_BIO *cout, const void *obj,
                          const OSSL_PARAM obj_abstract[], int selection,
                          OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    return enc_encode(vctx, cout, obj, obj_abstract, selection, 0);
}

/* SubjectPublicKeyInfo of a token key: the key will not export its private-inclusive self to
 * another provider, so OpenSSL asks us for the public encoding (CSRs, -pubout). */
static int spki_does_selection(void *ctx, int selection)
{
    return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
}

static int spki_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj,
                       const OSSL_PARAM obj_abstract[], int selection, int pem)
{
    AF_PROV_CTX *pc = vctx;
    const AF_KEY *key = obj;
    unsigned char *der = NULL;
    int len;

    if (key == NULL || obj_abstract != NULL || !af_key_has_public(key))
        return 0;
    len = af_key_spki_der(key, &der);
    return write_der(pc, cout, der, len, pem ? PEM_STRING_PUBLIC : NULL, "the public key", key);
}

static int spki_encode_pem(void *vctx, OSSL_CORE_BIO *cout, const void *obj,
                           const OSSL_PARAM obj_abstract[], int selection,
                           OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    return spki_encode(vctx, cout, obj, obj_abstract, selection, 1);
}

static int spki_encode_der(void *vctx, OSSL_CORE_BIO *cout, const void *obj,
                           const OSSL_PARAM obj_abstract[], int selection,
                           OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    return spki_encode(vctx, cout, obj, obj_abstract, selection, 0);
}

static const OSSL_DISPATCH spki_pem_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))spki_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))spki_encode_pem},
    {0, NULL},
};

static const OSSL_DISPATCH spki_der_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))spki_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))spki_encode_der},
    {0, NULL},
};

/* `openssl pkey -text`: where the key lives and its PKCS#11 facts, then the public key. */
static void print_fact(BIO *out, const char *name, int v)
{
    BIO_printf(out, "%s: %s\n", name, v < 0 ? "(not reported)" : v ? "yes" : "no");
}

static int text_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj,
                       const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
                       void *cbarg)
{
    AF_PROV_CTX *pc = vctx;
    AF_KEY *key = (AF_KEY *)obj;
    BIO *out;
    int sens = -1, ext = -1, never = -1, local = -1;
    unsigned int caps = 0;
    char label[256] = "", tlabel[40] = "", tserial[40] = "";
    unsigned char id[256];
    OSSL_PARAM p[] = {
        OSSL_PARAM_int(AF_PARAM_KEY_SENSITIVE, &sens),
        OSSL_PARAM_int(AF_PARAM_KEY_EXTRACTABLE, &ext),
        OSSL_PARAM_int(AF_PARAM_KEY_NEVER_EXTRACTABLE, &never),
        OSSL_PARAM_int(AF_PARAM_KEY_LOCAL, &local),
        OSSL_PARAM_uint(AF_PARAM_KEY_CAPABILITIES, &caps),
        OSSL_PARAM_utf8_string(AF_PARAM_KEY_LABEL, label, sizeof(label)),
        OSSL_PARAM_octet_string(AF_PARAM_KEY_ID, id, sizeof(id)),
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_LABEL, tlabel, sizeof(tlabel)),
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_SERIAL, tserial, sizeof(tserial)),
        OSSL_PARAM_END,
    };
    EVP_PKEY *pk;
    size_t i;

    if (key == NULL || obj_abstract != NULL ||
        (out = BIO_new_from_core_bio(af_prov_libctx(pc), cout)) == NULL)
        return 0;
    (void)af_key_get_params(key, p);
    BIO_printf(out, "%s %s key in a PKCS#11 token (%d bit)\n", af_key_type_name(af_key_type(key)),
               af_key_has_private(key) ? "private" : "public", af_key_bits(key));
    BIO_printf(out, "URI: %s\n", af_key_get0_uri(key));
    BIO_printf(out, "token: %s (serial %s)\nlabel: %s\nid: ", tlabel, tserial, label);
    for (i = 0; i < p[6].return_size && i < sizeof(id); i++)
        BIO_printf(out, "%02x", id[i]);
    BIO_printf(out, "\n");
    print_fact(out, "sensitive", sens);
    print_fact(out, "extractable", ext);
    print_fact(out, "never extractable", never);
    print_fact(out, "generated in the token (local)", local);
    BIO_printf(out, "capabilities: 0x%x\n", caps);
    if (af_key_has_public(key) && (pk = af_key_get0_verify_pkey(key)) != NULL)
        EVP_PKEY_print_public(out, pk, 0, NULL);
    BIO_free(out);
    return 1;
}

static const OSSL_DISPATCH text_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))text_encode},
    {0, NULL},
};

static const OSSL_DISPATCH pem_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))enc_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))enc_encode_pem},
    {0, NULL},
};

static const OSSL_DISPATCH der_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))enc_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))enc_encode_der},
    {0, NULL},
};

#define AF_ENC_PROPS(out) "provider=" AF_PROVIDER_NAME ",output=" out ",structure=PrivateKeyInfo"

/* Claimed as PrivateKeyInfo, the structure PEM_write_bio_PrivateKey asks for: the reference is
 * what a private key "is" for a key that stays in the token. */
#define AF_SPKI_PROPS(out)                                                                         \
    "provider=" AF_PROVIDER_NAME ",output=" out ",structure=SubjectPublicKeyInfo"
#define AF_ENC_ALL(names)                                                                          \
    {names, AF_ENC_PROPS("pem"), pem_functions, NULL},                                             \
        {names, AF_ENC_PROPS("der"), der_functions, NULL},                                         \
        {names, AF_SPKI_PROPS("pem"), spki_pem_functions, NULL},                                   \
        {names, "provider=" AF_PROVIDER_NAME ",output=text", text_functions, NULL},                \
    {                                                                                              \
        names, AF_SPKI_PROPS("der"), spki_der_functions, NULL                                      \
    }

const OSSL_ALGORITHM af_encoder_algorithms[] = {
    AF_ENC_ALL("EC:id-ecPublicKey:1.2.840.10045.2.1"),
    AF_ENC_ALL("RSA:rsaEncryption:1.2.840.113549.1.1.1"),
    AF_ENC_ALL("ED25519:1.3.101.112"),
    {NULL, NULL, NULL, NULL},
};
