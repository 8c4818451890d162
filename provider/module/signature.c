/* signature.c - signatures made in the token: ECDSA (raw CKM_ECDSA on a digest computed here,
 * r||s turned into DER), RSA PKCS#1 v1.5 (CKM_RSA_PKCS on a DigestInfo) and PSS (CKM_RSA_PKCS_PSS),
 * Ed25519 (CKM_EDDSA, one-shot). Verification runs in software on the key's public half.
 * Steady state per signature: a pooled session, the cached handle, C_SignInit + C_Sign. */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "attfresh/params.h"
#include "module/key.h"
#include "module/prov.h"

#ifndef CKM_EDDSA
#define CKM_EDDSA 0x1057UL
#endif

/* Ed25519 signs the whole message in one call; we keep at most this much. */
#define AF_SIG_MAX_ONESHOT (1024 * 1024)

typedef struct {
    AF_PROV_CTX *pc;
    int type; /* AF_KEY_* the algorithm expects */
    AF_KEY *key;
    int operation; /* EVP_PKEY_OP_SIGN / EVP_PKEY_OP_VERIFY */

    EVP_MD *md; /* NULL: none set (raw input) */
    int mdnid;
    EVP_MD_CTX *mdctx;

    /* RSA */
    int pad; /* RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
    EVP_MD *mgf1md;
    int saltlen; /* >= 0, or RSA_PSS_SALTLEN_DIGEST / _MAX / _AUTO */

    /* Ed25519 one-shot message collected by digest_sign_update */
    unsigned char *msg;
    size_t msglen;
} AF_SIG_CTX;

static OSSL_FUNC_signature_freectx_fn sig_freectx;
static OSSL_FUNC_signature_dupctx_fn sig_dupctx;
static OSSL_FUNC_signature_sign_init_fn sig_sign_init;
static OSSL_FUNC_signature_sign_fn sig_sign;
static OSSL_FUNC_signature_verify_init_fn sig_verify_init;
static OSSL_FUNC_signature_verify_fn sig_verify;
static OSSL_FUNC_signature_digest_sign_init_fn sig_digest_sign_init;
static OSSL_FUNC_signature_digest_sign_update_fn sig_digest_update;
static OSSL_FUNC_signature_digest_sign_final_fn sig_digest_sign_final;
static OSSL_FUNC_signature_digest_sign_fn sig_digest_sign;
static OSSL_FUNC_signature_digest_verify_init_fn sig_digest_verify_init;
static OSSL_FUNC_signature_digest_verify_final_fn sig_digest_verify_final;
static OSSL_FUNC_signature_digest_verify_fn sig_digest_verify;
static OSSL_FUNC_signature_get_ctx_params_fn sig_get_ctx_params;
static OSSL_FUNC_signature_set_ctx_params_fn sig_set_ctx_params;

static void *sig_newctx(void *provctx, int type)
{
    AF_SIG_CTX *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL) {
        af_prov_raise(provctx, AF_PR_MALLOC, "signature context");
        return NULL;
    }
    ctx->pc = provctx;
    ctx->type = type;
    ctx->mdnid = NID_undef;
    ctx->pad = RSA_PKCS1_PADDING;
    ctx->saltlen = RSA_PSS_SALTLEN_DIGEST;
    return ctx;
}

static void sig_freectx(void *vctx)
{
    AF_SIG_CTX *ctx = vctx;

    if (ctx == NULL)
        return;
    af_key_free(ctx->key);
    EVP_MD_free(ctx->md);
    EVP_MD_free(ctx->mgf1md);
    EVP_MD_CTX_free(ctx->mdctx);
    OPENSSL_free(ctx->msg);
    OPENSSL_free(ctx);
}

static void *sig_dupctx(void *vctx)
{
    const AF_SIG_CTX *src = vctx;
    AF_SIG_CTX *dst = OPENSSL_memdup(src, sizeof(*src));

    if (dst == NULL)
        return NULL;
    dst->mdctx = NULL;
    dst->msg = NULL;
    if (dst->key != NULL)
        af_key_up_ref(dst->key);
    if (dst->md != NULL)
        EVP_MD_up_ref(dst->md);
    if (dst->mgf1md != NULL)
        EVP_MD_up_ref(dst->mgf1md);
    if (src->mdctx != NULL &&
        ((dst->mdctx = EVP_MD_CTX_new()) == NULL || !EVP_MD_CTX_copy_ex(dst->mdctx, src->mdctx)))
        goto err;
    if (src->msg != NULL && (dst->msg = OPENSSL_memdup(src->msg, src->msglen)) == NULL)
        goto err;
    return dst;
err:
    sig_freectx(dst);
    return NULL;
}

/* ---- parameters ------------------------------------------------------------------------------ */

/* The digests PKCS#11 signing here supports, with the names OpenSSL may hand us for them; the
 * index is the key's digest cache slot. */
static const struct {
    int nid;
    const char *names[3];
} digests[AF_KEY_MD_SLOTS] = {
    {NID_sha1, {"SHA1", "SHA-1", NULL}},
    {NID_sha224, {"SHA2-224", "SHA224", "SHA-224"}},
    {NID_sha256, {"SHA2-256", "SHA256", "SHA-256"}},
    {NID_sha384, {"SHA2-384", "SHA384", "SHA-384"}},
    {NID_sha512, {"SHA2-512", "SHA512", "SHA-512"}},
};

/* ASCII-only and cheap: OPENSSL_strcasecmp costs more than the rest of a signature's setup. */
static int ascii_casecmp(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char ca = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
        char cb = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;

        if (ca != cb)
            return 1;
    }
    return *a != *b;
}

static int digest_slot(const char *name)
{
    static const int order[AF_KEY_MD_SLOTS] = {2, 3, 4, 1, 0}; /* most used first */
    int i, j;

    for (i = 0; i < AF_KEY_MD_SLOTS; i++)
        for (j = 0; j < 3 && digests[order[i]].names[j] != NULL; j++)
            if (ascii_casecmp(name, digests[order[i]].names[j]) == 0)
                return order[i];
    return -1;
}

static int set_md(AF_SIG_CTX *ctx, const char *name, EVP_MD **dst, int *nid_out)
{
    EVP_MD *md = NULL;
    int nid, slot;

    if (ctx->type == AF_KEY_ED25519) {
        af_prov_raise(ctx->pc, AF_PR_KEY_TYPE, "Ed25519 takes no digest ('%s' given)", name);
        return 0;
    }
    if (*dst != NULL && EVP_MD_is_a(*dst, name))
        return 1; /* unchanged */
    slot = digest_slot(name);
    if (slot >= 0 && ctx->key != NULL && (md = af_key_get0_md(ctx->key, slot, name)) != NULL) {
        /* the common case: a known name, the key's cached fetch */
        EVP_MD_up_ref(md);
    } else if ((md = EVP_MD_fetch(af_prov_libctx(ctx->pc), name, NULL)) == NULL) {
        af_prov_raise(ctx->pc, AF_PR_BAD_PARAM, "unknown digest '%s'", name);
        return 0;
    }
    nid = EVP_MD_get_type(md);
    for (slot = 0; slot < AF_KEY_MD_SLOTS && digests[slot].nid != nid; slot++)
        continue;
    if (slot == AF_KEY_MD_SLOTS) {
        af_prov_raise(ctx->pc, AF_PR_BAD_PARAM, "digest '%s' not supported with token keys", name);
        EVP_MD_free(md);
        return 0;
    }
    EVP_MD_free(*dst);
    *dst = md;
    if (nid_out != NULL)
        *nid_out = nid;
    return 1;
}

static int rsa_only(AF_SIG_CTX *ctx, const char *what)
{
    if (ctx->type == AF_KEY_RSA)
        return 1;
    af_prov_raise_rv(ctx->pc, AF_PR_KEY_TYPE, CKR_KEY_TYPE_INCONSISTENT,
                     "%s is an RSA option, but %s is an %s key", what,
                     ctx->key != NULL ? af_key_get0_uri(ctx->key) : "the key",
                     af_key_type_name(ctx->type));
    return 0;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    AF_SIG_CTX *ctx = vctx;
    const OSSL_PARAM *p;

    if (ctx == NULL)
        return 0;
    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL) {
        const char *name = NULL;

        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || !set_md(ctx, name, &ctx->md, &ctx->mdnid))
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
        int pad = 0;

        if (!rsa_only(ctx, "padding mode"))
            return 0;
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            const char *v = NULL;

            if (!OSSL_PARAM_get_utf8_string_ptr(p, &v))
                return 0;
            if (strcmp(v, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
                pad = RSA_PKCS1_PADDING;
            else if (strcmp(v, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
                pad = RSA_PKCS1_PSS_PADDING;
        } else if (!OSSL_PARAM_get_int(p, &pad)) {
            return 0;
        }
        if (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_PSS_PADDING) {
            af_prov_raise(ctx->pc, AF_PR_BAD_PARAM,
                          "RSA padding mode not supported by the token"
                          " provider (use pkcs1 or pss)");
            return 0;
        }
        ctx->pad = pad;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL) {
        int sl = 0;

        if (!rsa_only(ctx, "PSS salt length"))
            return 0;
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            const char *v = NULL;
            char *end = NULL;
            long n;

            if (!OSSL_PARAM_get_utf8_string_ptr(p, &v))
                return 0;
            if (strcmp(v, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0) {
                sl = RSA_PSS_SALTLEN_DIGEST;
            } else if (strcmp(v, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) == 0) {
                sl = RSA_PSS_SALTLEN_MAX;
            } else if (strcmp(v, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) == 0) {
                sl = RSA_PSS_SALTLEN_AUTO;
            } else {
                n = strtol(v, &end, 10);
                if (end == v || *end != '\0' || n < RSA_PSS_SALTLEN_MAX || n > 1024) {
                    af_prov_raise(ctx->pc, AF_PR_BAD_PARAM, "bad PSS salt length '%s'", v);
                    return 0;
                }
                sl = (int)n;
            }
        } else if (!OSSL_PARAM_get_int(p, &sl)) {
            return 0;
        }
        if (sl < RSA_PSS_SALTLEN_MAX) {
            af_prov_raise(ctx->pc, AF_PR_BAD_PARAM, "bad PSS salt length %d", sl);
            return 0;
        }
        ctx->saltlen = sl;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL) {
        const char *name = NULL;

        if (!rsa_only(ctx, "MGF1 digest") || !OSSL_PARAM_get_utf8_string_ptr(p, &name) ||
            !set_md(ctx, name, &ctx->mgf1md, NULL))
            return 0;
    }
    return 1;
}

static const OSSL_PARAM settable_params[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
    /* RSA options on every key type, so that using them on the wrong key says so plainly */
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *sig_settable_ctx_params(void *vctx, void *provctx)
{
    return settable_params;
}

static const OSSL_PARAM gettable_params[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *sig_gettable_ctx_params(void *vctx, void *provctx)
{
    return gettable_params;
}

static int pss_saltlen(const AF_SIG_CTX *ctx)
{
    int hlen = EVP_MD_get_size(ctx->md);

    if (ctx->saltlen >= 0)
        return ctx->saltlen;
    if (ctx->saltlen == RSA_PSS_SALTLEN_DIGEST)
        return hlen;
    /* MAX / AUTO: emLen - hLen - 2 */
    return (af_key_bits(ctx->key) - 1 + 7) / 8 - hlen - 2;
}

static const EVP_MD *mgf1(const AF_SIG_CTX *ctx)
{
    return ctx->mgf1md != NULL ? ctx->mgf1md : ctx->md;
}

/* AlgorithmIdentifier of RSASSA-PSS with explicit parameters (RFC 4055). */
static X509_ALGOR *pss_algor(const AF_SIG_CTX *ctx)
{
    RSA_PSS_PARAMS *pss = RSA_PSS_PARAMS_new();
    X509_ALGOR *alg = X509_ALGOR_new(), *mgfmd = NULL;
    ASN1_STRING *packed = NULL;
    int ok = 0, saltlen = pss_saltlen(ctx);

    if (pss == NULL || alg == NULL)
        goto end;
    if (EVP_MD_get_type(ctx->md) != NID_sha1) { /* SHA-1 is the DER default: omitted */
        if ((pss->hashAlgorithm = X509_ALGOR_new()) == NULL)
            goto end;
        X509_ALGOR_set_md(pss->hashAlgorithm, ctx->md);
    }
    if (EVP_MD_get_type(mgf1(ctx)) != NID_sha1) {
        if ((mgfmd = X509_ALGOR_new()) == NULL)
            goto end;
        X509_ALGOR_set_md(mgfmd, mgf1(ctx));
        packed = ASN1_item_pack(mgfmd, ASN1_ITEM_rptr(X509_ALGOR), NULL);
        if (packed == NULL || (pss->maskGenAlgorithm = X509_ALGOR_new()) == NULL ||
            !X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, packed))
            goto end;
        packed = NULL;
    }
    if (saltlen != 20) {
        if ((pss->saltLength = ASN1_INTEGER_new()) == NULL ||
            !ASN1_INTEGER_set(pss->saltLength, saltlen))
            goto end;
    }
    packed = ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL);
    if (packed == NULL ||
        !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, packed))
        goto end;
    packed = NULL;
    ok = 1;
end:
    ASN1_STRING_free(packed);
    X509_ALGOR_free(mgfmd);
    RSA_PSS_PARAMS_free(pss);
    if (!ok) {
        X509_ALGOR_free(alg);
        alg = NULL;
    }
    return alg;
}

static int algorithm_id(AF_SIG_CTX *ctx, unsigned char **der)
{
    X509_ALGOR *alg = NULL;
    int len = -1, signid = NID_undef;

    if (ctx->type == AF_KEY_ED25519) {
        signid = NID_ED25519;
    } else if (ctx->md == NULL) {
        return -1;
    } else if (ctx->type == AF_KEY_RSA && ctx->pad == RSA_PKCS1_PSS_PADDING) {
        alg = pss_algor(ctx);
    } else if (!OBJ_find_sigid_by_algs(&signid, ctx->mdnid,
                                       ctx->type == AF_KEY_RSA ? NID_rsaEncryption
                                                               : NID_X9_62_id_ecPublicKey)) {
        return -1;
    }
    if (alg == NULL && signid != NID_undef) {
        alg = X509_ALGOR_new();
        /* ECDSA and EdDSA: parameters absent; RSA PKCS#1: NULL */
        if (alg == NULL ||
            !X509_ALGOR_set0(alg, OBJ_nid2obj(signid),
                             ctx->type == AF_KEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL)) {
            X509_ALGOR_free(alg);
            return -1;
        }
    }
    if (alg != NULL)
        len = i2d_X509_ALGOR(alg, der);
    X509_ALGOR_free(alg);
    return len;
}

static int sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    AF_SIG_CTX *ctx = vctx;
    OSSL_PARAM *p;

    if (ctx == NULL)
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) != NULL) {
        unsigned char *der = NULL;
        int len = algorithm_id(ctx, &der);
        int ok = len > 0 && OSSL_PARAM_set_octet_string(p, der, (size_t)len);

        OPENSSL_free(der);
        if (!ok)
            return 0;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, ctx->md != NULL ? EVP_MD_get0_name(ctx->md) : ""))
        return 0;
    if (ctx->type == AF_KEY_RSA) {
        if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL &&
            !(p->data_type == OSSL_PARAM_INTEGER
                  ? OSSL_PARAM_set_int(p, ctx->pad)
                  : OSSL_PARAM_set_utf8_string(p, ctx->pad == RSA_PKCS1_PSS_PADDING
                                                      ? OSSL_PKEY_RSA_PAD_MODE_PSS
                                                      : OSSL_PKEY_RSA_PAD_MODE_PKCSV15)))
            return 0;
        if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL &&
            ctx->md != NULL && !OSSL_PARAM_set_int(p, pss_saltlen(ctx)))
            return 0;
        if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL &&
            mgf1(ctx) != NULL && !OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(mgf1(ctx))))
            return 0;
    }
    return 1;
}

/* ---- init ------------------------------------------------------------------------------------ */

static CK_MECHANISM_TYPE token_mech(const AF_SIG_CTX *ctx)
{
    switch (ctx->type) {
    case AF_KEY_EC:
        return CKM_ECDSA;
    case AF_KEY_ED25519:
        return CKM_EDDSA;
    default:
        return ctx->pad == RSA_PKCS1_PSS_PADDING ? CKM_RSA_PKCS_PSS : CKM_RSA_PKCS;
    }
}

static int check_mech(AF_SIG_CTX *ctx)
{
    CK_MECHANISM_TYPE m = token_mech(ctx);
    const char *name;

    if (ctx->operation != EVP_PKEY_OP_SIGN || af_key_token_has_mech(ctx->key, m))
        return 1;
    name = af_ckm_name(m);
    af_prov_raise_rv(ctx->pc, AF_PR_MECHANISM, CKR_MECHANISM_INVALID, "the token of %s lacks %s",
                     af_key_get0_uri(ctx->key), name != NULL ? name : "the mechanism");
    return 0;
}

static int sig_init(AF_SIG_CTX *ctx, void *provkey, const OSSL_PARAM params[], int operation)
{
    AF_KEY *key = provkey;

    if (key != NULL) {
        if (af_key_type(key) != ctx->type) {
            af_prov_raise_rv(ctx->pc, AF_PR_KEY_TYPE, CKR_KEY_TYPE_INCONSISTENT,
                             "%s is an %s key, not %s", af_key_get0_uri(key),
                             af_key_type_name(af_key_type(key)), af_key_type_name(ctx->type));
            return 0;
        }
        if (key != ctx->key) {
            af_key_up_ref(key);
            af_key_free(ctx->key);
            ctx->key = key;
        }
    }
    if (ctx->key == NULL)
        return 0;
    ctx->operation = operation;
    if (operation == EVP_PKEY_OP_SIGN) {
        if (!af_key_has_private(ctx->key)) {
            af_prov_raise(ctx->pc, AF_PR_KEY_TYPE, "%s has no private key to sign with",
                          af_key_get0_uri(ctx->key));
            return 0;
        }
        if (!af_p11_ready(af_p11_token_owner(af_key_get0_token(ctx->key))))
            return 0;
    }
    ctx->msglen = 0;
    return sig_set_ctx_params(ctx, params) && check_mech(ctx);
}

static int sig_sign_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
    return sig_init(vctx, provkey, params, EVP_PKEY_OP_SIGN);
}

static int sig_verify_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
    return sig_init(vctx, provkey, params, EVP_PKEY_OP_VERIFY);
}

static int digest_init(AF_SIG_CTX *ctx, const char *mdname, void *provkey,
                       const OSSL_PARAM params[], int operation)
{
    if (!sig_init(ctx, provkey, NULL, operation))
        return 0;
    if (ctx->type == AF_KEY_ED25519) {
        if (mdname != NULL && mdname[0] != '\0') {
            af_prov_raise(ctx->pc, AF_PR_KEY_TYPE, "Ed25519 takes no digest ('%s' given)", mdname);
            return 0;
        }
        return sig_set_ctx_params(ctx, params);
    }
    if (!set_md(ctx, mdname != NULL && mdname[0] != '\0' ? mdname : "SHA256", &ctx->md,
                &ctx->mdnid))
        return 0;
    if (ctx->mdctx == NULL && (ctx->mdctx = EVP_MD_CTX_new()) == NULL)
        return 0;
    if (!EVP_DigestInit_ex2(ctx->mdctx, ctx->md, NULL))
        return 0;
    return sig_set_ctx_params(ctx, params) && check_mech(ctx);
}

static int sig_digest_sign_init(void *vctx, const char *mdname, void *provkey,
                                const OSSL_PARAM params[])
{
    return digest_init(vctx, mdname, provkey, params, EVP_PKEY_OP_SIGN);
}

static int sig_digest_verify_init(void *vctx, const char *mdname, void *provkey,
                                  const OSSL_PARAM params[])
{
    return digest_init(vctx, mdname, provkey, params, EVP_PKEY_OP_VERIFY);
}

/* ---- signing in the token -------------------------------------------------------------------- */

/* DigestInfo prefixes (RFC 8017 section 9.2, note 1) for the digests set_md accepts. */
static const unsigned char di_sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                        0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
static const unsigned char di_sha224[] = {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x04, 0x05, 0x00, 0x04, 0x1c};
static const unsigned char di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};
static const unsigned char di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x02, 0x05, 0x00, 0x04, 0x30};
static const unsigned char di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x03, 0x05, 0x00, 0x04, 0x40};

static const unsigned char *digest_info(int nid, size_t *len)
{
#define DI(n, a)                                                                                   \
    case n:                                                                                        \
        *len = sizeof(a);                                                                          \
        return a
    switch (nid) {
        DI(NID_sha1, di_sha1);
        DI(NID_sha224, di_sha224);
        DI(NID_sha256, di_sha256);
        DI(NID_sha384, di_sha384);
        DI(NID_sha512, di_sha512);
    default:
        return NULL;
    }
#undef DI
}

static CK_MECHANISM_TYPE ckm_of_md(int nid)
{
    switch (nid) {
    case NID_sha1:
        return CKM_SHA_1;
    case NID_sha224:
        return CKM_SHA224;
    case NID_sha384:
        return CKM_SHA384;
    case NID_sha512:
        return CKM_SHA512;
    default:
        return CKM_SHA256;
    }
}

static CK_RSA_PKCS_MGF_TYPE mgf_of_md(int nid)
{
    switch (nid) {
    case NID_sha1:
        return CKG_MGF1_SHA1;
    case NID_sha224:
        return CKG_MGF1_SHA224;
    case NID_sha384:
        return CKG_MGF1_SHA384;
    case NID_sha512:
        return CKG_MGF1_SHA512;
    default:
        return CKG_MGF1_SHA256;
    }
}

/* C_SignInit + C_Sign on a pooled session; out must hold outlen bytes (the exact size). */
static int token_sign(AF_SIG_CTX *ctx, CK_MECHANISM *mech, const unsigned char *in, size_t inlen,
                      unsigned char *out, CK_ULONG *outlen)
{
    AF_P11_TOKEN *tok = af_key_get0_token(ctx->key);
    CK_FUNCTION_LIST *fl = af_p11_fl(af_p11_token_owner(tok));
    CK_OBJECT_HANDLE h;
    CK_SESSION_HANDLE s;
    CK_RV rv;

    if (!af_key_priv_handle(ctx->key, &h) || !af_p11_session_get(tok, &s))
        return 0;
    rv = fl->C_SignInit(s, mech, h);
    if (rv == CKR_OK)
        rv = fl->C_Sign(s, (CK_BYTE_PTR)in, (CK_ULONG)inlen, out, outlen);
    /* A failed C_Sign terminates the operation; anything else leaves the state unknown. */
    af_p11_session_put(
        tok, s, rv == CKR_OK || rv == CKR_MECHANISM_INVALID || rv == CKR_KEY_TYPE_INCONSISTENT);
    if (rv != CKR_OK) {
        const char *mn = af_ckm_name(mech->mechanism);
        int reason = rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID
                         ? AF_PR_MECHANISM
                     : rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_KEY_FUNCTION_NOT_PERMITTED
                         ? AF_PR_KEY_TYPE
                         : AF_PR_SIGN;

        af_prov_raise_rv(ctx->pc, reason, rv, "signing with %s (%s)", af_key_get0_uri(ctx->key),
                         mn != NULL ? mn : "?");
        return 0;
    }
    return 1;
}

/* Signs tbs (a digest, or the message for Ed25519) into sig. */
static int do_sign(AF_SIG_CTX *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                   const unsigned char *tbs, size_t tbslen)
{
    size_t max = (size_t)af_key_max_sig_size(ctx->key);
    CK_MECHANISM mech = {token_mech(ctx), NULL, 0};
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_ULONG outlen;

    if (sig == NULL) {
        *siglen = max;
        return 1;
    }
    if (ctx->operation != EVP_PKEY_OP_SIGN)
        return 0;
    if (ctx->md != NULL && ctx->type != AF_KEY_ED25519 &&
        tbslen != (size_t)EVP_MD_get_size(ctx->md)) {
        af_prov_raise(ctx->pc, AF_PR_BAD_PARAM, "input of %zu bytes is not a %s digest", tbslen,
                      EVP_MD_get0_name(ctx->md));
        return 0;
    }
    switch (ctx->type) {
    case AF_KEY_EC: {
        unsigned char rs[2 * 66];
        size_t half = af_ecdsa_half_len(af_key_curve_nid(ctx->key));

        outlen = 2 * half;
        if (!token_sign(ctx, &mech, tbs, tbslen, rs, &outlen))
            return 0;
        if (outlen != 2 * half || !af_ecdsa_rs_to_der(rs, outlen, sig, sigsize, siglen)) {
            af_prov_raise(ctx->pc, AF_PR_SIGN, "token returned a malformed ECDSA signature");
            return 0;
        }
        return 1;
    }
    case AF_KEY_RSA:
        if (sigsize < max)
            return 0;
        outlen = (CK_ULONG)max;
        if (ctx->pad == RSA_PKCS1_PSS_PADDING) {
            if (ctx->md == NULL) {
                af_prov_raise(ctx->pc, AF_PR_BAD_PARAM, "PSS needs a digest");
                return 0;
            }
            pss.hashAlg = ckm_of_md(ctx->mdnid);
            pss.mgf = mgf_of_md(EVP_MD_get_type(mgf1(ctx)));
            pss.sLen = (CK_ULONG)pss_saltlen(ctx);
            mech.pParameter = &pss;
            mech.ulParameterLen = sizeof(pss);
            if (!token_sign(ctx, &mech, tbs, tbslen, sig, &outlen))
                return 0;
        } else if (ctx->md != NULL) {
            unsigned char di[19 + 64];
            size_t dilen = 0;
            const unsigned char *prefix = digest_info(ctx->mdnid, &dilen);

            memcpy(di, prefix, dilen);
            memcpy(di + dilen, tbs, tbslen);
            if (!token_sign(ctx, &mech, di, dilen + tbslen, sig, &outlen))
                return 0;
        } else if (!token_sign(ctx, &mech, tbs, tbslen, sig, &outlen)) {
            return 0;
        }
        *siglen = outlen;
        return 1;
    default:
        if (sigsize < 64)
            return 0;
        outlen = 64;
        if (!token_sign(ctx, &mech, tbs, tbslen, sig, &outlen))
            return 0;
        *siglen = outlen;
        return 1;
    }
}

static int sig_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen)
{
    return do_sign(vctx, sig, siglen, sigsize, tbs, tbslen);
}

static int sig_digest_update(void *vctx, const unsigned char *data, size_t datalen)
{
    AF_SIG_CTX *ctx = vctx;

    if (ctx->type != AF_KEY_ED25519)
        return ctx->mdctx != NULL && EVP_DigestUpdate(ctx->mdctx, data, datalen);
    /* Ed25519 is one-shot in PKCS#11: collect (bounded) and sign at final. */
    if (datalen > AF_SIG_MAX_ONESHOT - ctx->msglen) {
        af_prov_raise(ctx->pc, AF_PR_BAD_PARAM, "Ed25519 message longer than %d bytes",
                      AF_SIG_MAX_ONESHOT);
        return 0;
    }
    {
        unsigned char *m = OPENSSL_realloc(ctx->msg, ctx->msglen + datalen + 1);

        if (m == NULL)
            return 0;
        memcpy(m + ctx->msglen, data, datalen);
        ctx->msg = m;
        ctx->msglen += datalen;
    }
    return 1;
}

static int sig_digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
    AF_SIG_CTX *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (sig == NULL)
        return do_sign(ctx, NULL, siglen, sigsize, NULL, 0);
    if (ctx->type == AF_KEY_ED25519)
        return do_sign(ctx, sig, siglen, sigsize, ctx->msg != NULL ? ctx->msg : dgst, ctx->msglen);
    if (ctx->mdctx == NULL || !EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen))
        return 0;
    return do_sign(ctx, sig, siglen, sigsize, dgst, dlen);
}

static int sig_digest_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                           const unsigned char *tbs, size_t tbslen)
{
    AF_SIG_CTX *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (sig == NULL)
        return do_sign(ctx, NULL, siglen, sigsize, NULL, 0);
    if (ctx->type == AF_KEY_ED25519)
        return do_sign(ctx, sig, siglen, sigsize, tbs, tbslen);
    /* the digest context digest_init prepared: no allocation on this path */
    if (ctx->mdctx == NULL || !EVP_DigestUpdate(ctx->mdctx, tbs, tbslen) ||
        !EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen))
        return 0;
    return do_sign(ctx, sig, siglen, sigsize, dgst, dlen);
}

/* ---- verification in software ---------------------------------------------------------------- */

static int do_verify(AF_SIG_CTX *ctx, const unsigned char *sig, size_t siglen,
                     const unsigned char *tbs, size_t tbslen)
{
    EVP_PKEY *pk = af_key_get0_verify_pkey(ctx->key);
    EVP_PKEY_CTX *pctx;
    int ok = 0;

    if (pk == NULL)
        return 0;
    pctx = EVP_PKEY_CTX_new_from_pkey(af_prov_libctx(ctx->pc), pk, "provider!=" AF_PROVIDER_NAME);
    if (pctx == NULL || EVP_PKEY_verify_init(pctx) <= 0)
        goto end;
    if (ctx->md != NULL && EVP_PKEY_CTX_set_signature_md(pctx, ctx->md) <= 0)
        goto end;
    if (ctx->type == AF_KEY_RSA) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, ctx->pad) <= 0)
            goto end;
        if (ctx->pad == RSA_PKCS1_PSS_PADDING &&
            (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, ctx->saltlen == RSA_PSS_SALTLEN_DIGEST
                                                        ? RSA_PSS_SALTLEN_DIGEST
                                                    : ctx->saltlen < 0 ? RSA_PSS_SALTLEN_AUTO
                                                                       : ctx->saltlen) <= 0 ||
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1(ctx)) <= 0))
            goto end;
    }
    ok = EVP_PKEY_verify(pctx, sig, siglen, tbs, tbslen) == 1;
end:
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

static int sig_verify(void *vctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                      size_t tbslen)
{
    AF_SIG_CTX *ctx = vctx;

    if (ctx->type == AF_KEY_ED25519)
        return 0; /* Ed25519 verifies whole messages only (digest_verify) */
    return do_verify(ctx, sig, siglen, tbs, tbslen);
}

static int ed_verify(AF_SIG_CTX *ctx, const unsigned char *sig, size_t siglen,
                     const unsigned char *msg, size_t msglen)
{
    EVP_PKEY *pk = af_key_get0_verify_pkey(ctx->key);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    int ok;

    ok = pk != NULL && mctx != NULL &&
         EVP_DigestVerifyInit_ex(mctx, NULL, NULL, af_prov_libctx(ctx->pc),
                                 "provider!=" AF_PROVIDER_NAME, pk, NULL) == 1 &&
         EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1;
    EVP_MD_CTX_free(mctx);
    return ok;
}

static int sig_digest_verify_final(void *vctx, const unsigned char *sig, size_t siglen)
{
    AF_SIG_CTX *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (ctx->type == AF_KEY_ED25519)
        return ed_verify(ctx, sig, siglen, ctx->msg != NULL ? ctx->msg : dgst, ctx->msglen);
    if (ctx->mdctx == NULL || !EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen))
        return 0;
    return do_verify(ctx, sig, siglen, dgst, dlen);
}

static int sig_digest_verify(void *vctx, const unsigned char *sig, size_t siglen,
                             const unsigned char *tbs, size_t tbslen)
{
    AF_SIG_CTX *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (ctx->type == AF_KEY_ED25519)
        return ed_verify(ctx, sig, siglen, tbs, tbslen);
    if (!EVP_Digest(tbs, tbslen, dgst, &dlen, ctx->md, NULL))
        return 0;
    return do_verify(ctx, sig, siglen, dgst, dlen);
}

/* ---- tables ---------------------------------------------------------------------------------- */

static void *ecdsa_newctx(void *provctx, const char *propq)
{
    return sig_newctx(provctx, AF_KEY_EC);
}
static void *rsa_newctx(void *provctx, const char *propq)
{
    return sig_newctx(provctx, AF_KEY_RSA);
}
static void *ed_newctx(void *provctx, const char *propq)
{
    return sig_newctx(provctx, AF_KEY_ED25519);
}

#define AF_SIG_COMMON                                                                              \
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},                                    \
        {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},                                  \
        {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init},                            \
        {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},                                      \
        {OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))sig_verify_init},                        \
        {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify},                                  \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},              \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign},                        \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_verify_init},          \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, (void (*)(void))sig_digest_verify},                    \
        {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params},                  \
        {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params},        \
        {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},                  \
    {                                                                                              \
        OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params           \
    }

#define AF_SIG_STREAMING                                                                           \
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update},                   \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},            \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))sig_digest_update},             \
    {                                                                                              \
        OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))sig_digest_verify_final           \
    }

static const OSSL_DISPATCH ecdsa_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ecdsa_newctx},
    AF_SIG_COMMON,
    AF_SIG_STREAMING,
    {0, NULL}};
static const OSSL_DISPATCH rsa_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))rsa_newctx},
    AF_SIG_COMMON,
    AF_SIG_STREAMING,
    {0, NULL}};
/* Ed25519 streams too (buffered), so tools that use update/final work. */
static const OSSL_DISPATCH ed25519_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ed_newctx},
    AF_SIG_COMMON,
    AF_SIG_STREAMING,
    {0, NULL}};

/* Names only we offer (see keymgmt.c's query_operation_name): never aliases of "ECDSA" etc., which
 * would make them the same algorithm as the default provider's. */
const OSSL_ALGORITHM af_signature_algorithms[] = {
    {AF_SIG_NAME_ECDSA, "provider=" AF_PROVIDER_NAME, ecdsa_functions,
     "ECDSA with a PKCS#11 token key"},
    {AF_SIG_NAME_RSA, "provider=" AF_PROVIDER_NAME, rsa_functions,
     "RSA PKCS#1 v1.5 and PSS with a PKCS#11 token key"},
    {AF_SIG_NAME_ED25519, "provider=" AF_PROVIDER_NAME, ed25519_functions,
     "Ed25519 with a PKCS#11 token key"},
    {NULL, NULL, NULL, NULL},
};
