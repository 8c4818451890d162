/* ev_build.c - building TbsEvidence from keys (PKCS#11 facts read as attfresh key params when the
 * key has them) and signing it with the Attestation Key; af_sign_data, the one signing routine of
 * this layer (Evidence and CSR self-signatures). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "attfresh/err.h"
#include "attfresh/params.h"
#include "evidence/ev_local.h"

#define MAX_NONCE 1024
#define MAX_PARAM_TEXT 1024

struct af_attest_st {
    OSSL_LIB_CTX *libctx;
    char *propq;
    unsigned char *nonce;
    size_t nonce_len;
    time_t when;
    int when_set;
    STACK_OF(AF_EV_ELEMENT) * keys;
    AF_EV_ELEMENT *platform; /* from the first key (or AK) with token info */
    EVP_PKEY *ak;
    X509 *ak_cert;
    unsigned char *ak_spki; /* DER SPKI of the AK, encoded once (OpenSSL 3.0 encoders are slow) */
    size_t ak_spki_len;
    char *mdname;
    int pss;
};

/* ---- signing -------------------------------------------------------------------------------- */
static const char *default_md(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "EC")) {
        int bits = EVP_PKEY_get_bits(key);

        return bits > 384 ? "SHA512" : bits > 256 ? "SHA384" : "SHA256";
    }
    return "SHA256";
}

/* hashAlgorithm / MGF1 parameters: SHA-2 with absent parameters (RFC 4055 section 2.1). */
static X509_ALGOR *md_algor(int md_nid)
{
    X509_ALGOR *a = X509_ALGOR_new();

    if (a != NULL && !X509_ALGOR_set0(a, OBJ_nid2obj(md_nid), V_ASN1_UNDEF, NULL)) {
        X509_ALGOR_free(a);
        a = NULL;
    }
    return a;
}

static int pss_algor(X509_ALGOR *alg, int md_nid, int saltlen)
{
    RSA_PSS_PARAMS *pp = RSA_PSS_PARAMS_new();
    X509_ALGOR *mgfmd = NULL;
    ASN1_STRING *mgfparam = NULL, *params = NULL;
    int ok = 0;

    if (pp == NULL || (pp->hashAlgorithm = md_algor(md_nid)) == NULL ||
        (mgfmd = md_algor(md_nid)) == NULL || (pp->maskGenAlgorithm = X509_ALGOR_new()) == NULL ||
        ASN1_item_pack(mgfmd, ASN1_ITEM_rptr(X509_ALGOR), &mgfparam) == NULL ||
        !X509_ALGOR_set0(pp->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mgfparam))
        goto done;
    mgfparam = NULL;
    if ((pp->saltLength = ASN1_INTEGER_new()) == NULL ||
        !ASN1_INTEGER_set(pp->saltLength, saltlen) ||
        ASN1_item_pack(pp, ASN1_ITEM_rptr(RSA_PSS_PARAMS), &params) == NULL ||
        !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params))
        goto done;
    params = NULL;
    ok = 1;
done:
    ASN1_STRING_free(mgfparam);
    ASN1_STRING_free(params);
    X509_ALGOR_free(mgfmd);
    RSA_PSS_PARAMS_free(pp);
    return ok;
}

int af_sign_data(EVP_PKEY *key, const char *mdname, int pss, OSSL_LIB_CTX *libctx,
                 const char *propq, const unsigned char *data, size_t len, X509_ALGOR **alg,
                 unsigned char **sig, size_t *siglen)
{
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD *md = NULL;
    X509_ALGOR *a = NULL;
    unsigned char *s = NULL;
    size_t slen = 0;
    int ed = 0, ok = 0, md_nid = NID_undef, sig_nid = NID_undef;

    *alg = NULL;
    *sig = NULL;
    if (key == NULL || data == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "nothing to sign or no key");
        return 0;
    }
    if (EVP_PKEY_is_a(key, "ED25519")) {
        ed = 1;
        sig_nid = NID_ED25519;
    } else if (EVP_PKEY_is_a(key, "EC") || EVP_PKEY_is_a(key, "RSA") ||
               EVP_PKEY_is_a(key, "RSA-PSS")) {
        if (mdname == NULL)
            mdname = default_md(key);
        if ((md = EVP_MD_fetch(libctx, mdname, propq)) == NULL) {
            ERR_clear_error();
            AF_ERR(AF_R_CRYPTO, "digest %s is not available", mdname);
            goto done;
        }
        md_nid = EVP_MD_get_type(md);
        if (EVP_PKEY_is_a(key, "RSA-PSS"))
            pss = 1;
        if (!EVP_PKEY_is_a(key, "EC") && pss)
            sig_nid = NID_rsassaPss;
        else if (!OBJ_find_sigid_by_algs(&sig_nid, md_nid,
                                         EVP_PKEY_is_a(key, "EC") ? NID_X9_62_id_ecPublicKey
                                                                  : NID_rsaEncryption)) {
            AF_ERR(AF_R_CRYPTO, "no signature algorithm for %s with this key type", mdname);
            goto done;
        }
    } else {
        AF_ERR(AF_R_CRYPTO, "unsupported key type %s (EC, RSA, RSA-PSS or Ed25519)",
               EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key) : "?");
        goto done;
    }
    if ((a = X509_ALGOR_new()) == NULL || (mctx = EVP_MD_CTX_new()) == NULL) {
        AF_ERR(AF_R_MALLOC, "signing");
        goto done;
    }
    if (sig_nid == NID_rsassaPss) {
        if (!pss_algor(a, md_nid, EVP_MD_get_size(md))) {
            AF_ERR(AF_R_MALLOC, "RSASSA-PSS parameters");
            goto done;
        }
    } else if (!X509_ALGOR_set0(a, OBJ_nid2obj(sig_nid),
                                EVP_PKEY_is_a(key, "RSA") ? V_ASN1_NULL : V_ASN1_UNDEF, NULL)) {
        AF_ERR(AF_R_MALLOC, "signature algorithm");
        goto done;
    }
    if (EVP_DigestSignInit_ex(mctx, &pctx, ed ? NULL : mdname, libctx, propq, key, NULL) <= 0)
        goto crypto;
    if (sig_nid == NID_rsassaPss &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, mdname, NULL) <= 0 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EVP_MD_get_size(md)) <= 0))
        goto crypto;
    if (EVP_DigestSign(mctx, NULL, &slen, data, len) <= 0)
        goto crypto;
    if ((s = OPENSSL_malloc(slen)) == NULL) {
        AF_ERR(AF_R_MALLOC, "signature buffer");
        goto done;
    }
    if (EVP_DigestSign(mctx, s, &slen, data, len) <= 0)
        goto crypto;
    *alg = a;
    *sig = s;
    *siglen = slen;
    a = NULL;
    s = NULL;
    ok = 1;
    goto done;
crypto:
    /* Keep the provider's own error (it names the CKR_ code) as the root cause. */
    AF_ERR(AF_R_CRYPTO, "signing with the %s key failed",
           EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key) : "?");
done:
    OPENSSL_free(s);
    X509_ALGOR_free(a);
    EVP_MD_CTX_free(mctx);
    EVP_MD_free(md);
    return ok;
}

/* ---- claims --------------------------------------------------------------------------------- */
static AF_EV_CLAIM *claim_new(af_oid_id id, ASN1_TYPE *value)
{
    AF_EV_CLAIM *c = AF_EV_CLAIM_new();

    if (c == NULL || (c->type = af_ev_obj(id)) == NULL) {
        AF_EV_CLAIM_free(c);
        ASN1_TYPE_free(value);
        return NULL;
    }
    c->value = value;
    return c;
}

static int push_claim(AF_EV_ELEMENT *e, af_oid_id id, ASN1_TYPE *value)
{
    AF_EV_CLAIM *c;

    if (value == NULL) {
        AF_ERR(AF_R_MALLOC, "claim value");
        return 0;
    }
    if ((c = claim_new(id, value)) == NULL)
        return 0;
    if (!sk_AF_EV_CLAIM_push(e->claims, c)) {
        AF_EV_CLAIM_free(c);
        AF_ERR(AF_R_MALLOC, "claim");
        return 0;
    }
    return 1;
}

static ASN1_TYPE *string_value(int type, const unsigned char *d, size_t len)
{
    ASN1_STRING *s = ASN1_STRING_type_new(type);
    ASN1_TYPE *t = ASN1_TYPE_new();

    if (s == NULL || t == NULL || !ASN1_STRING_set(s, d, (int)len)) {
        ASN1_STRING_free(s);
        ASN1_TYPE_free(t);
        return NULL;
    }
    ASN1_TYPE_set(t, type, s);
    return t;
}

static ASN1_TYPE *bool_value(int b)
{
    ASN1_TYPE *t = ASN1_TYPE_new();

    if (t != NULL)
        ASN1_TYPE_set(t, V_ASN1_BOOLEAN, (void *)(b ? (char *)1 : NULL));
    return t;
}

static ASN1_TYPE *time_value(time_t when)
{
    ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_adj(NULL, when, 0, 0);
    ASN1_TYPE *t = ASN1_TYPE_new();

    if (g == NULL || t == NULL) {
        ASN1_GENERALIZEDTIME_free(g);
        ASN1_TYPE_free(t);
        return NULL;
    }
    ASN1_TYPE_set(t, V_ASN1_GENERALIZEDTIME, g);
    return t;
}

static AF_EV_ELEMENT *element_new(af_oid_id type)
{
    AF_EV_ELEMENT *e = AF_EV_ELEMENT_new();

    if (e == NULL || (e->type = af_ev_obj(type)) == NULL) {
        AF_EV_ELEMENT_free(e);
        AF_ERR(AF_R_MALLOC, "reported element");
        return NULL;
    }
    return e;
}

/* ---- key params (a key without them simply lacks the fact) ---------------------------------- */
static int get_int_param(EVP_PKEY *k, const char *name, int *v)
{
    OSSL_PARAM p[2];
    int ok;

    p[0] = OSSL_PARAM_construct_int(name, v);
    p[1] = OSSL_PARAM_construct_end();
    ERR_set_mark();
    ok = EVP_PKEY_get_params(k, p) > 0 && OSSL_PARAM_modified(p);
    ERR_pop_to_mark();
    return ok;
}

static int get_uint_param(EVP_PKEY *k, const char *name, unsigned int *v)
{
    OSSL_PARAM p[2];
    int ok;

    p[0] = OSSL_PARAM_construct_uint(name, v);
    p[1] = OSSL_PARAM_construct_end();
    ERR_set_mark();
    ok = EVP_PKEY_get_params(k, p) > 0 && OSSL_PARAM_modified(p);
    ERR_pop_to_mark();
    return ok;
}

static int get_text_param(EVP_PKEY *k, const char *name, char *buf, size_t bufsize)
{
    OSSL_PARAM p[2];
    int ok;

    buf[0] = '\0';
    p[0] = OSSL_PARAM_construct_utf8_string(name, buf, bufsize);
    p[1] = OSSL_PARAM_construct_end();
    ERR_set_mark();
    ok = EVP_PKEY_get_params(k, p) > 0 && OSSL_PARAM_modified(p) && buf[0] != '\0';
    ERR_pop_to_mark();
    return ok;
}

/* Platform element from the token info of key; NULL (no error) when the key has none. */
static AF_EV_ELEMENT *platform_from_key(EVP_PKEY *key, int *failed)
{
    static const struct {
        const char *param;
        af_oid_id claim;
        int type;
    } map[] = {
        {AF_PARAM_TOKEN_MANUFACTURER, AF_OID_EV_PF_VENDOR, V_ASN1_UTF8STRING},
        {AF_PARAM_TOKEN_MODEL, AF_OID_EV_PF_HWMODEL, V_ASN1_OCTET_STRING},
        {AF_PARAM_TOKEN_HW_VERSION, AF_OID_EV_PF_HWVERSION, V_ASN1_UTF8STRING},
        {AF_PARAM_TOKEN_SERIAL, AF_OID_EV_PF_HWSERIAL, V_ASN1_UTF8STRING},
        {AF_PARAM_TOKEN_FW_VERSION, AF_OID_EV_PF_SWVERSION, V_ASN1_UTF8STRING},
    };
    AF_EV_ELEMENT *e = NULL;
    char buf[MAX_PARAM_TEXT];
    size_t i;

    *failed = 0;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (!get_text_param(key, map[i].param, buf, sizeof(buf)))
            continue;
        if (e == NULL && (e = element_new(AF_OID_EV_ELEM_PLATFORM)) == NULL)
            goto err;
        if (!push_claim(e, map[i].claim,
                        string_value(map[i].type, (const unsigned char *)buf, strlen(buf))))
            goto err;
    }
    return e;
err:
    AF_EV_ELEMENT_free(e);
    *failed = 1;
    return NULL;
}

/* ---- the builder ---------------------------------------------------------------------------- */
AF_ATTEST *af_attest_new(OSSL_LIB_CTX *libctx, const char *propq)
{
    AF_ATTEST *at = OPENSSL_zalloc(sizeof(*at));

    if (at == NULL || (at->keys = sk_AF_EV_ELEMENT_new_null()) == NULL ||
        (propq != NULL && (at->propq = OPENSSL_strdup(propq)) == NULL)) {
        af_attest_free(at);
        AF_ERR(AF_R_MALLOC, "attestation builder");
        return NULL;
    }
    at->libctx = libctx;
    return at;
}

void af_attest_free(AF_ATTEST *at)
{
    if (at == NULL)
        return;
    OPENSSL_free(at->propq);
    OPENSSL_free(at->nonce);
    OPENSSL_free(at->mdname);
    sk_AF_EV_ELEMENT_pop_free(at->keys, AF_EV_ELEMENT_free);
    AF_EV_ELEMENT_free(at->platform);
    EVP_PKEY_free(at->ak);
    X509_free(at->ak_cert);
    OPENSSL_free(at->ak_spki);
    OPENSSL_free(at);
}

int af_attest_set1_nonce(AF_ATTEST *at, const unsigned char *nonce, size_t len)
{
    unsigned char *n;

    if (nonce == NULL || len == 0 || len > MAX_NONCE) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "nonce of %zu bytes (1..%d)", len, MAX_NONCE);
        return 0;
    }
    if ((n = OPENSSL_memdup(nonce, len)) == NULL) {
        AF_ERR(AF_R_MALLOC, "nonce");
        return 0;
    }
    OPENSSL_free(at->nonce);
    at->nonce = n;
    at->nonce_len = len;
    return 1;
}

int af_attest_set_time(AF_ATTEST *at, time_t t)
{
    at->when = t;
    at->when_set = 1;
    return 1;
}

int af_attest_set_digest(AF_ATTEST *at, const char *mdname)
{
    char *d = NULL;

    if (mdname != NULL && (d = OPENSSL_strdup(mdname)) == NULL) {
        AF_ERR(AF_R_MALLOC, "digest name");
        return 0;
    }
    OPENSSL_free(at->mdname);
    at->mdname = d;
    return 1;
}

int af_attest_set_rsa_pss(AF_ATTEST *at, int pss)
{
    at->pss = pss != 0;
    return 1;
}

static void maybe_platform(AF_ATTEST *at, EVP_PKEY *key, unsigned int *facts, int *failed)
{
    AF_EV_ELEMENT *pf = platform_from_key(key, failed);

    if (pf == NULL)
        return;
    *facts |= AF_FACT_TOKEN;
    if (at->platform == NULL)
        at->platform = pf;
    else
        AF_EV_ELEMENT_free(pf);
}

int af_attest_add_key(AF_ATTEST *at, EVP_PKEY *key, const char *name, unsigned int *facts)
{
    static const struct {
        const char *param;
        af_oid_id claim;
    } bools[] = {
        {AF_PARAM_KEY_EXTRACTABLE, AF_OID_EV_KEY_EXTRACTABLE},
        {AF_PARAM_KEY_SENSITIVE, AF_OID_EV_KEY_SENSITIVE},
        {AF_PARAM_KEY_NEVER_EXTRACTABLE, AF_OID_EV_KEY_NEVER_EXTRACTABLE},
        {AF_PARAM_KEY_LOCAL, AF_OID_EV_KEY_LOCAL},
    };
    AF_EV_ELEMENT *e = NULL;
    char uri[MAX_PARAM_TEXT];
    const char *ident;
    unsigned char *spki = NULL;
    size_t spki_len = 0, i, nbools = 0;
    unsigned int f = 0, caps = 0;
    int failed = 0;

    if (facts != NULL)
        *facts = 0;
    if (at == NULL || key == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no key to describe");
        return 0;
    }
    if (sk_AF_EV_ELEMENT_num(at->keys) >= AF_EVIDENCE_MAX_ELEMENTS - 2) {
        AF_ERR(AF_R_TOO_LARGE, "too many keys for one Evidence");
        return 0;
    }
    if (get_text_param(key, AF_PARAM_KEY_URI, uri, sizeof(uri))) {
        ident = uri;
        f |= AF_FACT_URI;
    } else if (name != NULL && *name != '\0') {
        ident = name;
    } else {
        AF_ERR(AF_R_INVALID_ARGUMENT,
               "the key has no %s parameter (not a token key): give it a name", AF_PARAM_KEY_URI);
        return 0;
    }
    if (!af_ev_spki_der(key, &spki, &spki_len) || (e = element_new(AF_OID_EV_ELEM_KEY)) == NULL ||
        !push_claim(e, AF_OID_EV_KEY_IDENTIFIER,
                    string_value(V_ASN1_UTF8STRING, (const unsigned char *)ident, strlen(ident))) ||
        !push_claim(e, AF_OID_EV_KEY_SPKI, string_value(V_ASN1_OCTET_STRING, spki, spki_len)))
        goto err;
    for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        int v = 0;

        if (!get_int_param(key, bools[i].param, &v))
            continue;
        nbools++;
        if (!push_claim(e, bools[i].claim, bool_value(v)))
            goto err;
    }
    if (nbools == sizeof(bools) / sizeof(bools[0]))
        f |= AF_FACT_ATTRIBUTES;
    if (get_uint_param(key, AF_PARAM_KEY_CAPABILITIES, &caps)) {
        f |= AF_FACT_CAPABILITIES;
        if (!push_claim(e, AF_OID_EV_KEY_PURPOSE, af_ev_purposes_encode(caps)))
            goto err;
    }
    maybe_platform(at, key, &f, &failed);
    if (failed)
        goto err;
    if (!sk_AF_EV_ELEMENT_push(at->keys, e)) {
        AF_ERR(AF_R_MALLOC, "key element");
        goto err;
    }
    OPENSSL_free(spki);
    if (facts != NULL)
        *facts = f;
    return 1;
err:
    OPENSSL_free(spki);
    AF_EV_ELEMENT_free(e);
    return 0;
}

int af_attest_set1_ak(AF_ATTEST *at, EVP_PKEY *ak, X509 *ak_cert)
{
    unsigned char *a = NULL, *c = NULL;
    size_t alen = 0;
    int clen, same;

    if (at == NULL || ak == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no attestation key");
        return 0;
    }
    if (!af_ev_spki_der(ak, &a, &alen))
        return 0;
    if (ak_cert != NULL) {
        /* Comparing encodings works for any provider's key, no private-key operation needed. */
        clen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ak_cert), &c);
        same = clen > 0 && (size_t)clen == alen && memcmp(a, c, alen) == 0;
        OPENSSL_free(c);
        if (!same) {
            OPENSSL_free(a);
            AF_ERR(AF_R_INVALID_ARGUMENT, "the AK certificate is for another key than the AK");
            return 0;
        }
    }
    if (!EVP_PKEY_up_ref(ak) || (ak_cert != NULL && !X509_up_ref(ak_cert))) {
        OPENSSL_free(a);
        AF_ERR(AF_R_INTERNAL, "AK reference");
        return 0;
    }
    EVP_PKEY_free(at->ak);
    X509_free(at->ak_cert);
    OPENSSL_free(at->ak_spki);
    at->ak = ak;
    at->ak_cert = ak_cert;
    at->ak_spki = a;
    at->ak_spki_len = alen;
    if (at->platform == NULL) {
        unsigned int f = 0;
        int failed = 0;

        maybe_platform(at, ak, &f, &failed);
        if (failed)
            return 0;
    }
    return 1;
}

static AF_EV_ELEMENT *transaction_element(AF_ATTEST *at)
{
    AF_EV_ELEMENT *e = element_new(AF_OID_EV_ELEM_TRANSACTION);

    if (e == NULL ||
        !push_claim(e, AF_OID_EV_TX_NONCE,
                    string_value(V_ASN1_OCTET_STRING, at->nonce, at->nonce_len)) ||
        !push_claim(e, AF_OID_EV_TX_TIMESTAMP, time_value(at->when_set ? at->when : time(NULL))) ||
        !push_claim(e, AF_OID_EV_TX_AK_SPKI,
                    string_value(V_ASN1_OCTET_STRING, at->ak_spki, at->ak_spki_len))) {
        AF_EV_ELEMENT_free(e);
        return NULL;
    }
    return e;
}

static int push_dup_element(STACK_OF(AF_EV_ELEMENT) * sk, const AF_EV_ELEMENT *e)
{
    AF_EV_ELEMENT *d = ASN1_item_dup(ASN1_ITEM_rptr(AF_EV_ELEMENT), e);

    if (d == NULL || !sk_AF_EV_ELEMENT_push(sk, d)) {
        AF_EV_ELEMENT_free(d);
        AF_ERR(AF_R_MALLOC, "element");
        return 0;
    }
    return 1;
}

AF_EVIDENCE *af_attest_sign(AF_ATTEST *at)
{
    AF_EVIDENCE *ev = NULL;
    AF_EV_ELEMENT *tx = NULL;
    AF_EV_SIGBLOCK *sb = NULL;
    unsigned char *tbs = NULL, *sig = NULL;
    size_t siglen = 0;
    int tbslen, i;

    if (at == NULL || at->nonce == NULL || at->ak == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "Evidence needs a nonce and an attestation key");
        return NULL;
    }
    if (sk_AF_EV_ELEMENT_num(at->keys) == 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "Evidence needs at least one key to describe");
        return NULL;
    }
    ev = (AF_EVIDENCE *)ASN1_item_new(ASN1_ITEM_rptr(AF_EVIDENCE));
    if (ev == NULL || !ASN1_INTEGER_set(ev->tbs->version, 1)) {
        AF_ERR(AF_R_MALLOC, "Evidence");
        goto err;
    }
    if ((tx = transaction_element(at)) == NULL || !sk_AF_EV_ELEMENT_push(ev->tbs->elements, tx))
        goto err;
    tx = NULL;
    if (at->platform != NULL && !push_dup_element(ev->tbs->elements, at->platform))
        goto err;
    for (i = 0; i < sk_AF_EV_ELEMENT_num(at->keys); i++)
        if (!push_dup_element(ev->tbs->elements, sk_AF_EV_ELEMENT_value(at->keys, i)))
            goto err;

    tbslen = i2d_AF_EV_TBS(ev->tbs, &tbs);
    if (tbslen <= 0) {
        AF_ERR(AF_R_INTERNAL, "cannot encode TbsEvidence");
        goto err;
    }
    if ((sb = AF_EV_SIGBLOCK_new()) == NULL) {
        AF_ERR(AF_R_MALLOC, "signature block");
        goto err;
    }
    X509_ALGOR_free(sb->alg);
    sb->alg = NULL;
    if (!af_sign_data(at->ak, at->mdname, at->pss, at->libctx, at->propq, tbs, (size_t)tbslen,
                      &sb->alg, &sig, &siglen))
        goto err;
    if (!ASN1_OCTET_STRING_set(sb->value, sig, (int)siglen)) {
        AF_ERR(AF_R_MALLOC, "signature value");
        goto err;
    }
    if (at->ak_cert != NULL) {
        if (!X509_up_ref(at->ak_cert))
            goto err;
        sb->sid->cert = at->ak_cert;
    } else if (!X509_PUBKEY_set(&sb->sid->spki, at->ak)) {
        ERR_clear_error();
        AF_ERR(AF_R_CRYPTO, "cannot encode the AK public key");
        goto err;
    }
    if (!sk_AF_EV_SIGBLOCK_push(ev->sigs, sb)) {
        AF_ERR(AF_R_MALLOC, "signature block");
        goto err;
    }
    OPENSSL_free(tbs);
    OPENSSL_free(sig);
    return ev;
err:
    AF_EV_SIGBLOCK_free(sb);
    AF_EV_ELEMENT_free(tx);
    OPENSSL_free(tbs);
    OPENSSL_free(sig);
    af_evidence_free(ev);
    return NULL;
}
