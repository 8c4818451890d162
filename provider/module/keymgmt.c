/* keymgmt.c - key management for token keys (EC P-256/384/521, RSA 2048-4096, ED25519): load by
 * reference from store/decoder, params (standard + the attfresh-* key facts; settable: the
 * certificate to store next to the key), public export and import, and key-pair generation IN
 * the token (C_GenerateKeyPair, sensitive, non-extractable). */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "attfresh/params.h"
#include "module/key.h"
#include "module/prov.h"

#ifndef CKM_EC_EDWARDS_KEY_PAIR_GEN
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL
#endif

static OSSL_FUNC_keymgmt_free_fn km_free;
static OSSL_FUNC_keymgmt_load_fn km_load;
static OSSL_FUNC_keymgmt_has_fn km_has;
static OSSL_FUNC_keymgmt_dup_fn km_dup;
static OSSL_FUNC_keymgmt_match_fn km_match;
static OSSL_FUNC_keymgmt_get_params_fn km_get_params;
static OSSL_FUNC_keymgmt_set_params_fn km_set_params;
static OSSL_FUNC_keymgmt_settable_params_fn km_settable_params;
static OSSL_FUNC_keymgmt_export_fn km_export;
static OSSL_FUNC_keymgmt_import_fn km_import;
static OSSL_FUNC_keymgmt_gen_set_params_fn km_gen_set_params;
static OSSL_FUNC_keymgmt_gen_settable_params_fn km_gen_settable_params;
static OSSL_FUNC_keymgmt_gen_fn km_gen;
static OSSL_FUNC_keymgmt_gen_cleanup_fn km_gen_cleanup;

static void km_free(void *keydata)
{
    af_key_free(keydata);
}

/* The reference is the AF_KEY pointer the store/decoder handed out in this process. */
static void *km_load(const void *reference, size_t reference_sz)
{
    AF_KEY *key;

    if (reference == NULL || reference_sz != sizeof(AF_KEY *))
        return NULL;
    memcpy(&key, reference, sizeof(key)); /* the bytes may have been copied to any alignment */
    af_key_up_ref(key);
    return key;
}

/* The key object is immutable (its caches are thread-safe), so a duplicate can share it:
 * EVP_PKEY_dup of a token key must not need an export its private half refuses. */
static void *km_dup(const void *keydata, int selection)
{
    AF_KEY *key = (AF_KEY *)keydata;

    if (key == NULL || !af_key_up_ref(key))
        return NULL;
    return key;
}

static int km_has(const void *keydata, int selection)
{
    const AF_KEY *key = keydata;

    if (key == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && !af_key_has_private(key))
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && !af_key_has_public(key))
        return 0;
    return 1;
}

static int km_match(const void *k1, const void *k2, int selection)
{
    const AF_KEY *a = k1, *b = k2;

    if (af_key_type(a) != af_key_type(b))
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0)
        return af_key_match_public(a, b);
    if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0)
        return af_key_curve_nid(a) == af_key_curve_nid(b);
    return 1;
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
    return keydata != NULL && af_key_get_params(keydata, params);
}

#define AF_FACT_PARAMS                                                                             \
    OSSL_PARAM_int(AF_PARAM_KEY_SENSITIVE, NULL), OSSL_PARAM_int(AF_PARAM_KEY_EXTRACTABLE, NULL),  \
        OSSL_PARAM_int(AF_PARAM_KEY_NEVER_EXTRACTABLE, NULL),                                      \
        OSSL_PARAM_int(AF_PARAM_KEY_LOCAL, NULL),                                                  \
        OSSL_PARAM_utf8_string(AF_PARAM_KEY_LABEL, NULL, 0),                                       \
        OSSL_PARAM_octet_string(AF_PARAM_KEY_ID, NULL, 0),                                         \
        OSSL_PARAM_utf8_string(AF_PARAM_KEY_URI, NULL, 0),                                         \
        OSSL_PARAM_uint(AF_PARAM_KEY_CAPABILITIES, NULL),                                          \
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_LABEL, NULL, 0),                                     \
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_MANUFACTURER, NULL, 0),                              \
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_MODEL, NULL, 0),                                     \
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_SERIAL, NULL, 0),                                    \
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_HW_VERSION, NULL, 0),                                \
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_FW_VERSION, NULL, 0)

static const OSSL_PARAM ec_gettable_tbl[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    AF_FACT_PARAMS,
    OSSL_PARAM_END,
};

static const OSSL_PARAM rsa_gettable_tbl[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    AF_FACT_PARAMS,
    OSSL_PARAM_END,
};

static const OSSL_PARAM ed_gettable_tbl[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    AF_FACT_PARAMS,
    OSSL_PARAM_END,
};

/* The one settable param is an action on the token, not a change of the key: the key object
 * stays immutable (and shared by duplicates). Other names are ignored, as the API asks. */
static int km_set_params(void *keydata, const OSSL_PARAM params[])
{
    const OSSL_PARAM *p;
    const void *der = NULL;
    size_t len = 0;

    if (keydata == NULL)
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, AF_PARAM_KEY_STORE_CERT)) == NULL)
        return 1;
    if (!OSSL_PARAM_get_octet_string_ptr(p, &der, &len) || der == NULL || len == 0) {
        af_prov_raise(af_key_get0_provctx(keydata), AF_PR_BAD_PARAM,
                      "%s wants the DER of a certificate (octet string)", AF_PARAM_KEY_STORE_CERT);
        return 0;
    }
    return af_key_store_cert(keydata, der, len);
}

static const OSSL_PARAM *km_settable_params(void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_octet_string(AF_PARAM_KEY_STORE_CERT, NULL, 0),
        OSSL_PARAM_END,
    };

    return settable;
}

static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    /* Only the public half exists outside the token. A request that includes the private key
     * must fail: OpenSSL 3.0 first tries the default provider's signature with whatever export
     * gives it, and only a failed export makes it come back to ours. */
    if (keydata == NULL || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && af_key_has_private(keydata))
        return 0;
    return af_key_export_public(keydata, cb, cbarg);
}

static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    if (keydata == NULL || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
        return 0; /* a private key is never imported into a token object this way */
    return af_key_import_public(keydata, params);
}

static const OSSL_PARAM ec_types_tbl[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM rsa_types_tbl[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM ed_types_tbl[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

/* ---- key generation in the token ------------------------------------------------------------- */

typedef struct {
    AF_PROV_CTX *pc;
    int type;
    int nid;     /* EC */
    size_t bits; /* RSA */
    BIGNUM *e;   /* RSA public exponent */
    char *token; /* label or pkcs11: URI */
    char *label;
    unsigned char *id;
    size_t idlen;
} AF_GEN_CTX;

static void *gen_init(void *provctx, int type, int selection, const OSSL_PARAM params[])
{
    AF_GEN_CTX *g;

    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return NULL;
    g = OPENSSL_zalloc(sizeof(*g));
    if (g == NULL)
        return NULL;
    g->pc = provctx;
    g->type = type;
    g->nid = NID_X9_62_prime256v1;
    g->bits = 2048;
    if (!km_gen_set_params(g, params)) {
        km_gen_cleanup(g);
        return NULL;
    }
    return g;
}

static int set_str_param(const OSSL_PARAM params[], const char *name, char **dst)
{
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, name);
    char *v = NULL;

    if (p == NULL)
        return 1;
    if (!OSSL_PARAM_get_utf8_string(p, &v, 0))
        return 0;
    OPENSSL_free(*dst);
    *dst = v;
    return 1;
}

static int km_gen_set_params(void *genctx, const OSSL_PARAM params[])
{
    AF_GEN_CTX *g = genctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME)) != NULL) {
        const char *name = NULL;
        int nid;

        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
            return 0;
        nid = EC_curve_nist2nid(name);
        if (nid == NID_undef)
            nid = OBJ_sn2nid(name);
        if (nid == NID_undef)
            nid = OBJ_ln2nid(name);
        if (af_ecdsa_half_len(nid) == 0) {
            af_prov_raise(g->pc, AF_PR_BAD_PARAM,
                          "unsupported curve '%s' (use P-256, P-384 or P-521)", name);
            return 0;
        }
        g->nid = nid;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_BITS)) != NULL) {
        if (!OSSL_PARAM_get_size_t(p, &g->bits))
            return 0;
        if (g->bits < 2048 || g->bits > 4096) {
            af_prov_raise(g->pc, AF_PR_BAD_PARAM, "RSA key size %zu outside 2048..4096", g->bits);
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E)) != NULL &&
        !OSSL_PARAM_get_BN(p, &g->e))
        return 0;
    if (!set_str_param(params, AF_PARAM_GEN_TOKEN, &g->token) ||
        !set_str_param(params, AF_PARAM_GEN_LABEL, &g->label))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, AF_PARAM_GEN_ID)) != NULL) {
        const char *hex = NULL;
        long len = 0;

        if (!OSSL_PARAM_get_utf8_string_ptr(p, &hex))
            return 0;
        OPENSSL_free(g->id);
        g->id = OPENSSL_hexstr2buf(hex, &len);
        if (g->id == NULL || len <= 0) {
            af_prov_raise(g->pc, AF_PR_BAD_PARAM, "id '%s' is not hex", hex);
            return 0;
        }
        g->idlen = (size_t)len;
    }
    return 1;
}

static const OSSL_PARAM ec_gen_settable[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_TOKEN, NULL, 0),
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_LABEL, NULL, 0),
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_ID, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM rsa_gen_settable[] = {
    OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_BITS, NULL),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_TOKEN, NULL, 0),
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_LABEL, NULL, 0),
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_ID, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM ed_gen_settable[] = {
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_TOKEN, NULL, 0),
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_LABEL, NULL, 0),
    OSSL_PARAM_utf8_string(AF_PARAM_GEN_ID, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *km_gen_settable_params(void *genctx, void *provctx)
{
    const AF_GEN_CTX *g = genctx;

    if (g == NULL)
        return ec_gen_settable;
    return g->type == AF_KEY_RSA       ? rsa_gen_settable
           : g->type == AF_KEY_ED25519 ? ed_gen_settable
                                       : ec_gen_settable;
}

static void km_gen_cleanup(void *genctx)
{
    AF_GEN_CTX *g = genctx;

    if (g == NULL)
        return;
    BN_free(g->e);
    OPENSSL_free(g->token);
    OPENSSL_free(g->label);
    OPENSSL_free(g->id);
    OPENSSL_free(g);
}

/* The token named by a label or a pkcs11: URI; NULL: the configured (or first) token. */
static AF_P11_TOKEN *gen_token(AF_GEN_CTX *g, AF_P11 *p11)
{
    P11KitUri *uri = NULL;
    AF_P11_TOKEN *tok;

    if (g->token != NULL) {
        uri = p11_kit_uri_new();
        if (uri == NULL)
            return NULL;
        if (strncmp(g->token, "pkcs11:", 7) == 0) {
            if (p11_kit_uri_parse(g->token, P11_KIT_URI_FOR_TOKEN, uri) != P11_KIT_URI_OK) {
                af_prov_raise(g->pc, AF_PR_URI, "malformed token URI '%s'", g->token);
                p11_kit_uri_free(uri);
                return NULL;
            }
        } else {
            CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(uri);
            size_t n = strlen(g->token);

            if (n > sizeof(ti->label)) {
                af_prov_raise(g->pc, AF_PR_BAD_PARAM, "token label '%s' longer than 32 bytes",
                              g->token);
                p11_kit_uri_free(uri);
                return NULL;
            }
            memset(ti->label, ' ', sizeof(ti->label));
            memcpy(ti->label, g->token, n);
        }
    }
    tok = af_p11_token_next(p11, uri, NULL);
    if (tok == NULL)
        af_prov_raise_rv(g->pc, AF_PR_TOKEN_NOT_FOUND, CKR_TOKEN_NOT_PRESENT,
                         "no token matches '%s'",
                         g->token != NULL ? g->token : "(configured token)");
    p11_kit_uri_free(uri);
    return tok;
}

/* Default CKA_ID: SHA-1 of the public key's encoding, as many tools do (stable, unique). */
static int default_id(CK_FUNCTION_LIST *fl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, int type,
                      unsigned char id[SHA_DIGEST_LENGTH])
{
    CK_ATTRIBUTE a = {type == AF_KEY_RSA ? CKA_MODULUS : CKA_EC_POINT, NULL, 0};
    int ok;

    if (fl->C_GetAttributeValue(s, pub, &a, 1) != CKR_OK || a.ulValueLen == 0 ||
        a.ulValueLen > 4096)
        return 0;
    a.pValue = OPENSSL_malloc(a.ulValueLen);
    ok = a.pValue != NULL && fl->C_GetAttributeValue(s, pub, &a, 1) == CKR_OK &&
         SHA1(a.pValue, a.ulValueLen, id) != NULL;
    OPENSSL_free(a.pValue);
    return ok;
}

static void *km_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
    AF_GEN_CTX *g = genctx;
    AF_P11 *p11 = af_prov_p11(g->pc);
    AF_P11_TOKEN *tok;
    CK_FUNCTION_LIST *fl;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[12], kt[14];
    CK_ULONG np = 0, nk = 0, modbits = (CK_ULONG)g->bits;
    unsigned char *ecparams = NULL, ebuf[16], idbuf[SHA_DIGEST_LENGTH];
    int eplen = 0, elen = 0;
    CK_RV rv;
    AF_KEY *key = NULL;

    if (g->label == NULL || g->label[0] == '\0') {
        af_prov_raise(g->pc, AF_PR_BAD_PARAM,
                      "key generation in the token needs a label (-pkeyopt label:NAME)");
        return NULL;
    }
    if (!af_p11_ready(p11) || (tok = gen_token(g, p11)) == NULL)
        return NULL;
    fl = af_p11_fl(p11);
    if (g->type == AF_KEY_RSA) {
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
    } else if (g->type == AF_KEY_ED25519) {
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
    }
    if (!af_p11_token_mech(tok, mech.mechanism, NULL)) {
        af_prov_raise_rv(g->pc, AF_PR_MECHANISM, CKR_MECHANISM_INVALID, "token %s lacks %s",
                         g->token != NULL ? g->token : "(configured token)",
                         af_ckm_name(mech.mechanism) ? af_ckm_name(mech.mechanism) : "?");
        return NULL;
    }
    if (!af_p11_token_login(tok, NULL, NULL, NULL, NULL) || !af_p11_session_get(tok, &s))
        return NULL;

    { /* one label, one key: a second pair with the same label would make URIs ambiguous */
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE ft[2] = {{CKA_CLASS, &cls, sizeof(cls)},
                              {CKA_LABEL, g->label, strlen(g->label)}};
        CK_OBJECT_HANDLE h;
        CK_ULONG found = 0;

        if (!af_p11_find(tok, s, ft, 2, &h, 1, &found))
            goto end;
        if (found > 0) {
            af_prov_raise(g->pc, AF_PR_KEYGEN, "a key labelled '%s' already exists in the token",
                          g->label);
            goto end;
        }
    }

    /* A signing key and nothing else: tokens default other usages to true (SoftHSM2 does). */
    pt[np++] = (CK_ATTRIBUTE){CKA_TOKEN, &t, sizeof(t)};
    pt[np++] = (CK_ATTRIBUTE){CKA_VERIFY, &t, sizeof(t)};
    pt[np++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &f, sizeof(f)};
    pt[np++] = (CK_ATTRIBUTE){CKA_WRAP, &f, sizeof(f)};
    pt[np++] = (CK_ATTRIBUTE){CKA_VERIFY_RECOVER, &f, sizeof(f)};
    pt[np++] = (CK_ATTRIBUTE){CKA_LABEL, g->label, strlen(g->label)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_TOKEN, &t, sizeof(t)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_PRIVATE, &t, sizeof(t)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &t, sizeof(t)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &f, sizeof(f)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_SIGN, &t, sizeof(t)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_DECRYPT, &f, sizeof(f)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_UNWRAP, &f, sizeof(f)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_SIGN_RECOVER, &f, sizeof(f)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_DERIVE, &f, sizeof(f)};
    kt[nk++] = (CK_ATTRIBUTE){CKA_LABEL, g->label, strlen(g->label)};
    if (g->id != NULL) {
        pt[np++] = (CK_ATTRIBUTE){CKA_ID, g->id, g->idlen};
        kt[nk++] = (CK_ATTRIBUTE){CKA_ID, g->id, g->idlen};
    }
    if (g->type == AF_KEY_RSA) {
        pt[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &modbits, sizeof(modbits)};
        if (g->e != NULL) {
            elen = BN_bn2bin(g->e, ebuf);
            if (elen <= 0 || elen > (int)sizeof(ebuf))
                goto end;
        } else {
            ebuf[0] = 0x01, ebuf[1] = 0x00, ebuf[2] = 0x01, elen = 3;
        }
        pt[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, ebuf, (CK_ULONG)elen};
    } else {
        ASN1_OBJECT *obj = OBJ_nid2obj(g->type == AF_KEY_ED25519 ? NID_ED25519 : g->nid);

        eplen = i2d_ASN1_OBJECT(obj, &ecparams);
        if (eplen <= 0)
            goto end;
        pt[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, ecparams, (CK_ULONG)eplen};
    }
    rv = fl->C_GenerateKeyPair(s, &mech, pt, np, kt, nk, &pub, &priv);
    if (rv != CKR_OK) {
        af_prov_raise_rv(g->pc, AF_PR_KEYGEN, rv, "C_GenerateKeyPair (%s, label '%s')",
                         af_ckm_name(mech.mechanism) ? af_ckm_name(mech.mechanism) : "?", g->label);
        goto end;
    }
    if (g->id == NULL) {
        CK_ATTRIBUTE ida = {CKA_ID, idbuf, sizeof(idbuf)};

        if (!default_id(fl, s, pub, g->type, idbuf) ||
            (rv = fl->C_SetAttributeValue(s, pub, &ida, 1)) != CKR_OK ||
            (rv = fl->C_SetAttributeValue(s, priv, &ida, 1)) != CKR_OK) {
            af_prov_raise_rv(g->pc, AF_PR_KEYGEN, rv, "setting CKA_ID of the new pair '%s'",
                             g->label);
            goto end;
        }
    }
    key = af_key_load(g->pc, tok, s, priv, pub);
end:
    if (key == NULL && priv != CK_INVALID_HANDLE) {
        /* no half-made pairs left behind */
        fl->C_DestroyObject(s, priv);
        fl->C_DestroyObject(s, pub);
    }
    OPENSSL_free(ecparams);
    if (s != CK_INVALID_HANDLE)
        af_p11_session_put(tok, s, 1);
    return key;
}

/* ---- per-type entry points ------------------------------------------------------------------- */

/* Our own signature names (signature.c): OpenSSL 3.0 fetches the operation by this name first
 * from any provider; a name only we offer makes it pick ours at once instead of trying the
 * default provider's ECDSA, failing to export the private key, and fetching again. */
static const char *ec_query_name(int op)
{
    return op == OSSL_OP_SIGNATURE ? AF_SIG_NAME_ECDSA : NULL;
}
static const char *rsa_query_name(int op)
{
    return op == OSSL_OP_SIGNATURE ? AF_SIG_NAME_RSA : NULL;
}
static const char *ed_query_name(int op)
{
    return op == OSSL_OP_SIGNATURE ? AF_SIG_NAME_ED25519 : NULL;
}

#define AF_KM_TYPED(pfx, TYPE)                                                                     \
    static void *pfx##_new(void *provctx)                                                          \
    {                                                                                              \
        return af_key_new_public(provctx, TYPE);                                                   \
    }                                                                                              \
    static void *pfx##_gen_init(void *provctx, int selection, const OSSL_PARAM params[])           \
    {                                                                                              \
        return gen_init(provctx, TYPE, selection, params);                                         \
    }                                                                                              \
    static const OSSL_PARAM *pfx##_gettable(void *provctx)                                         \
    {                                                                                              \
        return pfx##_gettable_tbl;                                                                 \
    }                                                                                              \
    static const OSSL_PARAM *pfx##_types(int selection)                                            \
    {                                                                                              \
        return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ? pfx##_types_tbl : NULL;              \
    }                                                                                              \
    static const OSSL_DISPATCH pfx##_keymgmt_functions[] = {                                       \
        {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))pfx##_new},                                        \
        {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},                                         \
        {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load},                                         \
        {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},                                           \
        {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup},                                           \
        {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},                                       \
        {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},                             \
        {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))pfx##_gettable},                       \
        {OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))km_set_params},                             \
        {OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS, (void (*)(void))km_settable_params},                   \
        {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},                                     \
        {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))pfx##_types},                             \
        {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},                                     \
        {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))pfx##_types},                             \
        {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))pfx##_query_name},                \
        {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))pfx##_gen_init},                              \
        {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))km_gen_set_params},                     \
        {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))km_gen_settable_params},           \
        {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))km_gen},                                           \
        {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))km_gen_cleanup},                           \
        {0, NULL},                                                                                 \
    };

AF_KM_TYPED(ec, AF_KEY_EC)
AF_KM_TYPED(rsa, AF_KEY_RSA)
AF_KM_TYPED(ed, AF_KEY_ED25519)

const OSSL_ALGORITHM af_keymgmt_algorithms[] = {
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", "provider=" AF_PROVIDER_NAME, ec_keymgmt_functions,
     "EC keys in a PKCS#11 token"},
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", "provider=" AF_PROVIDER_NAME, rsa_keymgmt_functions,
     "RSA keys in a PKCS#11 token"},
    {"ED25519:1.3.101.112", "provider=" AF_PROVIDER_NAME, ed_keymgmt_functions,
     "Ed25519 keys in a PKCS#11 token"},
    {NULL, NULL, NULL, NULL},
};
