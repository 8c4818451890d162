/* key.c - the token key object: loading a key pair's facts and public half from the token once,
 * the fork-aware handle cache, per-key digest and mechanism caches, key params (standard and
 * attfresh-*), public export/import and SubjectPublicKeyInfo. */
#include <stdatomic.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "attfresh/params.h"
#include "module/key.h"

#ifndef CKK_EC_EDWARDS
#define CKK_EC_EDWARDS 0x40UL
#endif
#ifndef CKM_EDDSA
#define CKM_EDDSA 0x1057UL
#endif

struct af_key_st {
    atomic_int refs;
    AF_PROV_CTX *pc;
    AF_P11_TOKEN *tok; /* NULL for an imported public key */
    int type;
    CK_KEY_TYPE ckk;

    /* where the pair lives; handles valid for generation gen only */
    unsigned char *id;
    size_t idlen;
    char *label;
    int has_priv;
    CK_OBJECT_HANDLE priv, pub;
    unsigned int gen;
    CRYPTO_RWLOCK *lock;

    /* public half */
    int nid; /* EC curve */
    int bits;
    unsigned char *point; /* EC: uncompressed point; Ed25519: 32 bytes */
    size_t pointlen;
    BIGNUM *n, *e;                          /* RSA */
    EVP_PKEY *vkey;                         /* software public key, built on first verification */
    _Atomic(EVP_MD *) mds[AF_KEY_MD_SLOTS]; /* digests fetched once for this key's signatures */
    /* token offers CKM_ECDSA, _RSA_PKCS, _RSA_PKCS_PSS, _EDDSA: 0 unknown, 1 yes, 2 no */
    atomic_int mechs[4];

    /* PKCS#11 facts; -1 = the token does not say */
    int sensitive, extractable, never_extractable, local;
    unsigned int caps;
    char *uri;
    char tlabel[33], tmanuf[33], tmodel[17], tserial[17], hwver[16], fwver[16];
};

const char *af_key_type_name(int type)
{
    switch (type) {
    case AF_KEY_EC:
        return "EC";
    case AF_KEY_RSA:
        return "RSA";
    case AF_KEY_ED25519:
        return "ED25519";
    default:
        return NULL;
    }
}

/* CK_TOKEN_INFO strings are blank-padded, not NUL-terminated. */
static void trim_copy(char *dst, size_t dstsize, const CK_UTF8CHAR *src, size_t srclen)
{
    size_t n = srclen < dstsize - 1 ? srclen : dstsize - 1;

    memcpy(dst, src, n);
    while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
        n--;
    dst[n] = '\0';
}

static AF_KEY *key_alloc(AF_PROV_CTX *pc)
{
    AF_KEY *key = OPENSSL_zalloc(sizeof(*key));

    if (key == NULL) {
        af_prov_raise(pc, AF_PR_MALLOC, "key object");
        return NULL;
    }
    key->lock = CRYPTO_THREAD_lock_new();
    if (key->lock == NULL) {
        OPENSSL_free(key);
        af_prov_raise(pc, AF_PR_MALLOC, "key lock");
        return NULL;
    }
    atomic_init(&key->refs, 1);
    key->pc = pc;
    key->priv = key->pub = CK_INVALID_HANDLE;
    key->nid = NID_undef;
    key->sensitive = key->extractable = key->never_extractable = key->local = -1;
    return key;
}

int af_key_up_ref(AF_KEY *key)
{
    atomic_fetch_add(&key->refs, 1);
    return 1;
}

void af_key_free(AF_KEY *key)
{
    if (key == NULL || atomic_fetch_sub(&key->refs, 1) > 1)
        return;
    OPENSSL_free(key->id);
    OPENSSL_free(key->label);
    OPENSSL_free(key->point);
    BN_free(key->n);
    BN_free(key->e);
    EVP_PKEY_free(key->vkey);
    for (int i = 0; i < AF_KEY_MD_SLOTS; i++)
        EVP_MD_free(atomic_load(&key->mds[i]));
    OPENSSL_free(key->uri);
    CRYPTO_THREAD_lock_free(key->lock);
    OPENSSL_free(key);
}

/* ---- reading the token ---------------------------------------------------------------------- */

static int curve_bits(int nid)
{
    return nid == NID_secp521r1 ? 521 : (int)af_ecdsa_half_len(nid) * 8;
}

/* CKA_EC_PARAMS: a namedCurve OID, or (SoftHSM2, Ed25519) the PrintableString "edwards25519". */
static int curve_from_params(const unsigned char *p, CK_ULONG len, int *type, int *nid)
{
    const unsigned char *q = p;
    ASN1_OBJECT *obj;

    ERR_set_mark(); /* the OID parse failing is how the string form is recognised */
    obj = d2i_ASN1_OBJECT(NULL, &q, (long)len);
    ERR_pop_to_mark();

    if (obj != NULL) {
        int n = q == p + len ? OBJ_obj2nid(obj) : NID_undef;

        ASN1_OBJECT_free(obj);
        if (n == NID_ED25519) {
            *type = AF_KEY_ED25519;
            *nid = NID_ED25519;
            return 1;
        }
        if (n == NID_X9_62_prime256v1 || n == NID_secp384r1 || n == NID_secp521r1) {
            *type = AF_KEY_EC;
            *nid = n;
            return 1;
        }
        return 0;
    }
    q = p;
    {
        ASN1_PRINTABLESTRING *s;
        int ok;

        ERR_set_mark();
        s = d2i_ASN1_PRINTABLESTRING(NULL, &q, (long)len);
        ERR_pop_to_mark();
        ok = s != NULL && q == p + len && ASN1_STRING_length(s) == 12 &&
             memcmp(ASN1_STRING_get0_data(s), "edwards25519", 12) == 0;
        ASN1_STRING_free(s);
        if (ok) {
            *type = AF_KEY_ED25519;
            *nid = NID_ED25519;
        }
        return ok;
    }
}

/* CKA_EC_POINT: DER OCTET STRING around the point (PKCS#11 2.40); some tokens give it raw. */
static int set_point(AF_KEY *key, const unsigned char *p, CK_ULONG len)
{
    const unsigned char *q = p;
    ASN1_OCTET_STRING *os;

    ERR_set_mark(); /* not DER-wrapped: taken as the raw point */
    os = d2i_ASN1_OCTET_STRING(NULL, &q, (long)len);
    ERR_pop_to_mark();
    if (os != NULL && q == p + len) {
        key->point = OPENSSL_memdup(ASN1_STRING_get0_data(os), ASN1_STRING_length(os));
        key->pointlen = (size_t)ASN1_STRING_length(os);
    } else {
        key->point = OPENSSL_memdup(p, len);
        key->pointlen = len;
    }
    ASN1_OCTET_STRING_free(os);
    return key->point != NULL;
}

static int read_public(AF_KEY *key, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    unsigned char *v = NULL;
    CK_ULONG len = 0;
    CK_RV rv = CKR_OK;
    int ok = 0;

    if (key->ckk == CKK_RSA) {
        unsigned char *e = NULL;
        CK_ULONG elen = 0;

        if (!af_p11_attr(key->tok, s, obj, CKA_MODULUS, &v, &len, &rv) ||
            !af_p11_attr(key->tok, s, obj, CKA_PUBLIC_EXPONENT, &e, &elen, &rv)) {
            OPENSSL_free(v);
            return 0;
        }
        key->n = BN_bin2bn(v, (int)len, NULL);
        key->e = BN_bin2bn(e, (int)elen, NULL);
        OPENSSL_free(e);
        OPENSSL_free(v);
        if (key->n == NULL || key->e == NULL)
            return 0;
        key->bits = BN_num_bits(key->n);
        return 1;
    }
    /* EC / Ed25519: curve from CKA_EC_PARAMS (on both halves), point on the public half */
    if (!af_p11_attr(key->tok, s, obj, CKA_EC_PARAMS, &v, &len, &rv))
        return 0;
    ok = curve_from_params(v, len, &key->type, &key->nid);
    OPENSSL_free(v);
    if (!ok) {
        af_prov_raise(key->pc, AF_PR_KEY_TYPE, "unsupported curve (CKA_EC_PARAMS) of key %s",
                      key->label != NULL ? key->label : "");
        return 0;
    }
    key->bits = key->type == AF_KEY_ED25519 ? 255 : curve_bits(key->nid);
    if (key->pub == CK_INVALID_HANDLE)
        return 1;
    v = NULL;
    if (!af_p11_attr(key->tok, s, key->pub, CKA_EC_POINT, &v, &len, &rv))
        return 0;
    ok = set_point(key, v, len);
    OPENSSL_free(v);
    return ok;
}

static int read_facts(AF_KEY *key, CK_SESSION_HANDLE s)
{
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        unsigned int cap;
    } capattrs[] = {
        {CKA_ENCRYPT, AF_CAP_ENCRYPT}, {CKA_DECRYPT, AF_CAP_DECRYPT},
        {CKA_WRAP, AF_CAP_WRAP},       {CKA_UNWRAP, AF_CAP_UNWRAP},
        {CKA_SIGN, AF_CAP_SIGN},       {CKA_SIGN_RECOVER, AF_CAP_SIGN_RECOVER},
        {CKA_VERIFY, AF_CAP_VERIFY},   {CKA_VERIFY_RECOVER, AF_CAP_VERIFY_RECOVER},
        {CKA_DERIVE, AF_CAP_DERIVE},
    };
    CK_OBJECT_HANDLE objs[2] = {key->priv, key->pub};
    CK_FUNCTION_LIST *fl = af_p11_fl(af_p11_token_owner(key->tok));
    size_t i, o;

    /* One C_GetAttributeValue per object: absent attributes come back with length -1. */
    for (o = 0; o < 2; o++) {
        CK_BBOOL b[13];
        CK_ATTRIBUTE t[13];
        size_t n = 0;

        if (objs[o] == CK_INVALID_HANDLE)
            continue;
        for (i = 0; i < 9; i++, n++)
            t[n] = (CK_ATTRIBUTE){capattrs[i].type, &b[n], sizeof(CK_BBOOL)};
        t[n] = (CK_ATTRIBUTE){CKA_SENSITIVE, &b[n], sizeof(CK_BBOOL)}, n++;
        t[n] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &b[n], sizeof(CK_BBOOL)}, n++;
        t[n] = (CK_ATTRIBUTE){CKA_NEVER_EXTRACTABLE, &b[n], sizeof(CK_BBOOL)}, n++;
        t[n] = (CK_ATTRIBUTE){CKA_LOCAL, &b[n], sizeof(CK_BBOOL)}, n++;
        (void)fl->C_GetAttributeValue(s, objs[o], t, (CK_ULONG)n);
        for (i = 0; i < 9; i++)
            if (t[i].ulValueLen == sizeof(CK_BBOOL) && b[i] == CK_TRUE)
                key->caps |= capattrs[i].cap;
        /* The facts are those of the private key, of the public key when there is no other. */
        if (o == 0 || objs[0] == CK_INVALID_HANDLE) {
            int *dst[4] = {&key->sensitive, &key->extractable, &key->never_extractable,
                           &key->local};

            for (i = 0; i < 4; i++)
                *dst[i] = t[9 + i].ulValueLen == sizeof(CK_BBOOL) ? (b[9 + i] == CK_TRUE) : -1;
        }
    }
    return 1;
}

static void read_token_info(AF_KEY *key)
{
    const CK_TOKEN_INFO *ti = af_p11_token_info(key->tok);

    if (ti == NULL)
        return;
    trim_copy(key->tlabel, sizeof(key->tlabel), ti->label, sizeof(ti->label));
    trim_copy(key->tmanuf, sizeof(key->tmanuf), ti->manufacturerID, sizeof(ti->manufacturerID));
    trim_copy(key->tmodel, sizeof(key->tmodel), ti->model, sizeof(ti->model));
    trim_copy(key->tserial, sizeof(key->tserial), ti->serialNumber, sizeof(ti->serialNumber));
    BIO_snprintf(key->hwver, sizeof(key->hwver), "%u.%u", ti->hardwareVersion.major,
                 ti->hardwareVersion.minor);
    BIO_snprintf(key->fwver, sizeof(key->fwver), "%u.%u", ti->firmwareVersion.major,
                 ti->firmwareVersion.minor);
}

static int find_one(AF_KEY *key, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[3];
    CK_ULONG n = 0, found = 0;

    t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    t[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &key->ckk, sizeof(key->ckk)};
    if (key->idlen > 0)
        t[n++] = (CK_ATTRIBUTE){CKA_ID, key->id, key->idlen};
    else if (key->label != NULL)
        t[n++] = (CK_ATTRIBUTE){CKA_LABEL, key->label, strlen(key->label)};
    *out = CK_INVALID_HANDLE;
    return af_p11_find(key->tok, s, t, n, out, 1, &found) && found == 1;
}

AF_KEY *af_key_load(AF_PROV_CTX *pc, AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                    CK_OBJECT_HANDLE pub)
{
    AF_KEY *key = key_alloc(pc);
    CK_OBJECT_HANDLE main_obj = priv != CK_INVALID_HANDLE ? priv : pub;
    unsigned char *v = NULL;
    CK_ULONG len = 0;
    CK_RV rv = CKR_OK;

    if (key == NULL)
        return NULL;
    key->tok = tok;
    key->priv = priv;
    key->pub = pub;
    key->has_priv = priv != CK_INVALID_HANDLE;
    key->gen = af_p11_generation(af_p11_token_owner(tok));

    if (!af_p11_attr(tok, s, main_obj, CKA_KEY_TYPE, &v, &len, &rv) || len != sizeof(CK_KEY_TYPE))
        goto err;
    memcpy(&key->ckk, v, sizeof(CK_KEY_TYPE));
    OPENSSL_free(v);
    v = NULL;
    if (key->ckk == CKK_RSA) {
        key->type = AF_KEY_RSA;
    } else if (key->ckk == CKK_EC) {
        key->type = AF_KEY_EC;
    } else if (key->ckk == CKK_EC_EDWARDS) {
        key->type = AF_KEY_ED25519;
    } else {
        af_prov_raise(pc, AF_PR_KEY_TYPE, "unsupported key type CKK 0x%lx",
                      (unsigned long)key->ckk);
        goto err;
    }
    ERR_set_mark(); /* a missing CKA_ID, CKA_LABEL or public object is not an error */
    if (af_p11_attr(tok, s, main_obj, CKA_ID, &v, &len, &rv)) {
        key->id = v;
        key->idlen = len;
        v = NULL;
    }
    if (af_p11_attr(tok, s, main_obj, CKA_LABEL, &v, &len, &rv)) {
        key->label = OPENSSL_strndup((char *)v, len);
        OPENSSL_free(v);
        v = NULL;
    }
    if (key->pub == CK_INVALID_HANDLE && (key->idlen > 0 || key->label != NULL))
        (void)find_one(key, s, CKO_PUBLIC_KEY, &key->pub);
    ERR_pop_to_mark();
    if (!read_public(key, s, key->pub != CK_INVALID_HANDLE ? key->pub : main_obj))
        goto err;
    read_facts(key, s);
    read_token_info(key);
    key->uri = af_p11_object_uri(tok, key->label, key->id, key->idlen,
                                 key->has_priv ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY);
    if (key->uri == NULL)
        goto err;
    return key;
err:
    OPENSSL_free(v);
    af_key_free(key);
    return NULL;
}

AF_KEY *af_key_new_public(AF_PROV_CTX *pc, int type)
{
    AF_KEY *key = key_alloc(pc);

    if (key != NULL)
        key->type = type;
    return key;
}

/* ---- accessors ------------------------------------------------------------------------------ */

AF_PROV_CTX *af_key_get0_provctx(const AF_KEY *key)
{
    return key->pc;
}
AF_P11_TOKEN *af_key_get0_token(const AF_KEY *key)
{
    return key->tok;
}
int af_key_type(const AF_KEY *key)
{
    return key->type;
}
int af_key_has_private(const AF_KEY *key)
{
    return key->has_priv;
}
int af_key_curve_nid(const AF_KEY *key)
{
    return key->nid;
}
const char *af_key_get0_uri(const AF_KEY *key)
{
    return key->uri != NULL ? key->uri : "";
}
const unsigned char *af_key_get0_id(const AF_KEY *key, size_t *len)
{
    *len = key->id != NULL ? key->idlen : 0;
    return *len > 0 ? key->id : NULL;
}
const char *af_key_get0_label(const AF_KEY *key)
{
    return key->label;
}

int af_key_has_public(const AF_KEY *key)
{
    return key->type == AF_KEY_RSA ? key->n != NULL : key->point != NULL;
}

int af_key_bits(const AF_KEY *key)
{
    return key->bits;
}

int af_key_security_bits(const AF_KEY *key)
{
    switch (key->type) {
    case AF_KEY_RSA:
        return BN_security_bits(key->bits, -1);
    case AF_KEY_ED25519:
        return 128;
    default:
        return key->bits >= 512 ? 256 : key->bits / 2;
    }
}

int af_key_max_sig_size(const AF_KEY *key)
{
    switch (key->type) {
    case AF_KEY_RSA:
        return (key->bits + 7) / 8;
    case AF_KEY_ED25519:
        return 64;
    default: {
        /* SEQUENCE { INTEGER r, INTEGER s }, each with a possible leading zero byte */
        int content = 2 * ((int)af_ecdsa_half_len(key->nid) + 3);

        return content + (content < 128 ? 2 : 3);
    }
    }
}

/* ---- handle cache ---------------------------------------------------------------------------- */

int af_key_priv_handle(AF_KEY *key, CK_OBJECT_HANDLE *out)
{
    AF_P11 *p11;
    unsigned int gen;
    CK_SESSION_HANDLE s;
    int ok;

    if (!key->has_priv || key->tok == NULL) {
        af_prov_raise(key->pc, AF_PR_KEY_TYPE, "%s is a public key only", af_key_get0_uri(key));
        return 0;
    }
    p11 = af_p11_token_owner(key->tok);
    gen = af_p11_generation(p11);
    if (!CRYPTO_THREAD_read_lock(key->lock))
        return 0;
    ok = key->gen == gen;
    *out = key->priv;
    CRYPTO_THREAD_unlock(key->lock);
    if (ok)
        return 1;

    /* A forked child: the module was initialised again, handles and login are gone. */
    if (!CRYPTO_THREAD_write_lock(key->lock))
        return 0;
    if (key->gen == gen) {
        *out = key->priv;
        CRYPTO_THREAD_unlock(key->lock);
        return 1;
    }
    ok = af_p11_token_login_for(key->tok, af_key_get0_uri(key), NULL, NULL, NULL, NULL) &&
         af_p11_session_get(key->tok, &s);
    if (ok) {
        ok = find_one(key, s, CKO_PRIVATE_KEY, &key->priv);
        if (key->pub != CK_INVALID_HANDLE && !find_one(key, s, CKO_PUBLIC_KEY, &key->pub))
            key->pub = CK_INVALID_HANDLE;
        af_p11_session_put(key->tok, s, 1);
        if (ok)
            key->gen = gen;
        else
            af_prov_raise(key->pc, AF_PR_OBJECT_NOT_FOUND, "%s not found after fork",
                          af_key_get0_uri(key));
    }
    *out = key->priv;
    CRYPTO_THREAD_unlock(key->lock);
    return ok;
}

EVP_MD *af_key_get0_md(AF_KEY *key, int slot, const char *name)
{
    EVP_MD *md, *expected = NULL;

    if (slot < 0 || slot >= AF_KEY_MD_SLOTS)
        return NULL;
    md = atomic_load(&key->mds[slot]);
    if (md != NULL)
        return md;
    md = EVP_MD_fetch(af_prov_libctx(key->pc), name, NULL);
    if (md == NULL)
        return NULL;
    /* Two threads may race here: the loser frees its copy and uses the winner's. */
    if (!atomic_compare_exchange_strong(&key->mds[slot], &expected, md)) {
        EVP_MD_free(md);
        md = expected;
    }
    return md;
}

int af_key_token_has_mech(AF_KEY *key, CK_MECHANISM_TYPE m)
{
    int slot, v;

    switch (m) {
    case CKM_ECDSA:
        slot = 0;
        break;
    case CKM_RSA_PKCS:
        slot = 1;
        break;
    case CKM_RSA_PKCS_PSS:
        slot = 2;
        break;
    case CKM_EDDSA:
        slot = 3;
        break;
    default:
        return key->tok != NULL && af_p11_token_mech(key->tok, m, NULL);
    }
    if (key->tok == NULL)
        return 0;
    /* A token's mechanism list does not change; remembering the answer spares a lock per sign. */
    v = atomic_load_explicit(&key->mechs[slot], memory_order_relaxed);
    if (v == 0) {
        v = af_p11_token_mech(key->tok, m, NULL) ? 1 : 2;
        atomic_store_explicit(&key->mechs[slot], v, memory_order_relaxed);
    }
    return v == 1;
}

/* ---- public half as OSSL_PARAMs -------------------------------------------------------------- */

static int build_public_params(const AF_KEY *key, OSSL_PARAM_BLD *bld)
{
    switch (key->type) {
    case AF_KEY_RSA:
        return key->n != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, key->n) &&
               OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, key->e);
    case AF_KEY_EC:
        return key->point != NULL &&
               OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                               OBJ_nid2sn(key->nid), 0) &&
               OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, key->point,
                                                key->pointlen);
    case AF_KEY_ED25519:
        return key->point != NULL && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                                                      key->point, key->pointlen);
    default:
        return 0;
    }
}

int af_key_export_public(const AF_KEY *key, OSSL_CALLBACK *cb, void *cbarg)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    int ok = 0;

    if (bld != NULL && build_public_params(key, bld) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
        ok = cb(params, cbarg);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return ok;
}

int af_key_import_public(AF_KEY *key, const OSSL_PARAM params[])
{
    const OSSL_PARAM *p;

    if (key->type == AF_KEY_RSA) {
        const OSSL_PARAM *pe = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E);

        p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_N);
        if (p == NULL || pe == NULL || !OSSL_PARAM_get_BN(p, &key->n) ||
            !OSSL_PARAM_get_BN(pe, &key->e))
            return 0;
        key->bits = BN_num_bits(key->n);
        return 1;
    }
    if (key->type == AF_KEY_EC) {
        const char *name = NULL;

        p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);
        if (p == NULL || !OSSL_PARAM_get_utf8_string_ptr(p, &name))
            return 0;
        key->nid = OBJ_sn2nid(name);
        if (key->nid == NID_undef)
            key->nid = EC_curve_nist2nid(name);
        if (af_ecdsa_half_len(key->nid) == 0)
            return 0;
        key->bits = curve_bits(key->nid);
    } else {
        key->nid = NID_ED25519;
        key->bits = 255;
    }
    p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
    if (p == NULL || p->data_type != OSSL_PARAM_OCTET_STRING || p->data_size == 0)
        return 0;
    OPENSSL_free(key->point);
    key->point = OPENSSL_memdup(p->data, p->data_size);
    key->pointlen = p->data_size;
    return key->point != NULL;
}

int af_key_match_public(const AF_KEY *a, const AF_KEY *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == AF_KEY_RSA)
        return a->n != NULL && b->n != NULL && BN_cmp(a->n, b->n) == 0 && BN_cmp(a->e, b->e) == 0;
    if (a->point != NULL && b->point != NULL)
        return a->nid == b->nid && a->pointlen == b->pointlen &&
               memcmp(a->point, b->point, a->pointlen) == 0;
    /* no public half (EC private key without its public object): same token objects */
    return a->tok != NULL && a->tok == b->tok && a->idlen == b->idlen && a->idlen > 0 &&
           memcmp(a->id, b->id, a->idlen) == 0;
}

/* RSAPublicKey (RFC 8017 A.1.1); OpenSSL's own i2d is deprecated API. */
typedef struct {
    ASN1_INTEGER *n;
    ASN1_INTEGER *e;
} AF_RSA_PUBKEY;

ASN1_SEQUENCE(AF_RSA_PUBKEY) =
    {
        ASN1_SIMPLE(AF_RSA_PUBKEY, n, ASN1_INTEGER),
        ASN1_SIMPLE(AF_RSA_PUBKEY, e, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(AF_RSA_PUBKEY)

        int af_key_spki_der(const AF_KEY *key, unsigned char **der)
{
    /* Built from the cached public half with ASN.1 templates: going through OpenSSL's encoders
     * (an EVP_PKEY in another provider, i2d_PUBKEY) costs more than a whole signature. */
    X509_PUBKEY *pk = X509_PUBKEY_new();
    unsigned char *enc = NULL;
    int enclen = 0, len = -1, ok = 0;

    *der = NULL;
    if (pk == NULL || !af_key_has_public(key))
        goto end;
    if (key->type == AF_KEY_RSA) {
        AF_RSA_PUBKEY *rp = (AF_RSA_PUBKEY *)ASN1_item_new(ASN1_ITEM_rptr(AF_RSA_PUBKEY));

        if (rp != NULL && BN_to_ASN1_INTEGER(key->n, rp->n) != NULL &&
            BN_to_ASN1_INTEGER(key->e, rp->e) != NULL)
            enclen = ASN1_item_i2d((ASN1_VALUE *)rp, &enc, ASN1_ITEM_rptr(AF_RSA_PUBKEY));
        ASN1_item_free((ASN1_VALUE *)rp, ASN1_ITEM_rptr(AF_RSA_PUBKEY));
        ok = enclen > 0 && X509_PUBKEY_set0_param(pk, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL,
                                                  NULL, enc, enclen);
    } else {
        enc = OPENSSL_memdup(key->point, key->pointlen);
        enclen = (int)key->pointlen;
        ok = enc != NULL &&
             (key->type == AF_KEY_EC
                  ? X509_PUBKEY_set0_param(pk, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                                           OBJ_nid2obj(key->nid), enc, enclen)
                  : X509_PUBKEY_set0_param(pk, OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF, NULL, enc,
                                           enclen));
    }
    if (!ok) {
        OPENSSL_free(enc);
        goto end;
    }
    len = i2d_X509_PUBKEY(pk, der);
end:
    X509_PUBKEY_free(pk);
    return len;
}

EVP_PKEY *af_key_get0_verify_pkey(AF_KEY *key)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;

    if (!CRYPTO_THREAD_read_lock(key->lock))
        return NULL;
    pkey = key->vkey;
    CRYPTO_THREAD_unlock(key->lock);
    if (pkey != NULL)
        return pkey;

    /* Any provider but us: verification and export run in software. */
    ctx = EVP_PKEY_CTX_new_from_name(af_prov_libctx(key->pc), af_key_type_name(key->type),
                                     "provider!=" AF_PROVIDER_NAME);
    bld = OSSL_PARAM_BLD_new();
    if (ctx == NULL || bld == NULL || !build_public_params(key, bld) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        af_prov_raise(key->pc, AF_PR_VERIFY,
                      "no software %s implementation for the public key of %s"
                      " (load the default provider too)",
                      af_key_type_name(key->type), af_key_get0_uri(key));
        pkey = NULL;
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    if (pkey == NULL)
        return NULL;
    if (!CRYPTO_THREAD_write_lock(key->lock)) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (key->vkey == NULL) {
        key->vkey = pkey;
    } else {
        EVP_PKEY_free(pkey);
        pkey = key->vkey;
    }
    CRYPTO_THREAD_unlock(key->lock);
    return pkey;
}

/* ---- params ---------------------------------------------------------------------------------- */

static int set_fact(OSSL_PARAM params[], const char *name, int v)
{
    OSSL_PARAM *p = OSSL_PARAM_locate(params, name);

    /* An unknown fact stays unset: callers treat a failed get as "unknown". */
    return p == NULL || v < 0 || OSSL_PARAM_set_int(p, v);
}

static int set_str(OSSL_PARAM params[], const char *name, const char *v)
{
    OSSL_PARAM *p = OSSL_PARAM_locate(params, name);

    return p == NULL || v == NULL || OSSL_PARAM_set_utf8_string(p, v);
}

int af_key_get_params(AF_KEY *key, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, key->bits))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, af_key_security_bits(key)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
        !OSSL_PARAM_set_int(p, af_key_max_sig_size(key)))
        return 0;
    if (key->type != AF_KEY_ED25519) {
        if (!set_str(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST, "SHA256"))
            return 0;
    } else if (!set_str(params, OSSL_PKEY_PARAM_MANDATORY_DIGEST, "")) {
        return 0;
    }
    if (key->type == AF_KEY_EC &&
        !set_str(params, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(key->nid)))
        return 0;
    if (key->type == AF_KEY_RSA) {
        if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_N)) != NULL &&
            (key->n == NULL || !OSSL_PARAM_set_BN(p, key->n)))
            return 0;
        if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_E)) != NULL &&
            (key->e == NULL || !OSSL_PARAM_set_BN(p, key->e)))
            return 0;
    } else if (key->point != NULL) {
        if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY)) != NULL &&
            !OSSL_PARAM_set_octet_string(p, key->point, key->pointlen))
            return 0;
        if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PUB_KEY)) != NULL &&
            !OSSL_PARAM_set_octet_string(p, key->point, key->pointlen))
            return 0;
    }
    if (key->tok == NULL)
        return 1;
    if (!set_fact(params, AF_PARAM_KEY_SENSITIVE, key->sensitive) ||
        !set_fact(params, AF_PARAM_KEY_EXTRACTABLE, key->extractable) ||
        !set_fact(params, AF_PARAM_KEY_NEVER_EXTRACTABLE, key->never_extractable) ||
        !set_fact(params, AF_PARAM_KEY_LOCAL, key->local) ||
        !set_str(params, AF_PARAM_KEY_LABEL, key->label) ||
        !set_str(params, AF_PARAM_KEY_URI, key->uri) ||
        !set_str(params, AF_PARAM_TOKEN_LABEL, key->tlabel) ||
        !set_str(params, AF_PARAM_TOKEN_MANUFACTURER, key->tmanuf) ||
        !set_str(params, AF_PARAM_TOKEN_MODEL, key->tmodel) ||
        !set_str(params, AF_PARAM_TOKEN_SERIAL, key->tserial) ||
        !set_str(params, AF_PARAM_TOKEN_HW_VERSION, key->hwver) ||
        !set_str(params, AF_PARAM_TOKEN_FW_VERSION, key->fwver))
        return 0;
    if ((p = OSSL_PARAM_locate(params, AF_PARAM_KEY_CAPABILITIES)) != NULL &&
        !OSSL_PARAM_set_uint(p, key->caps))
        return 0;
    if ((p = OSSL_PARAM_locate(params, AF_PARAM_KEY_ID)) != NULL && key->id != NULL &&
        !OSSL_PARAM_set_octet_string(p, key->id, key->idlen))
        return 0;
    return 1;
}
