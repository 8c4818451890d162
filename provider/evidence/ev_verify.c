/* ev_verify.c - what an RA checks before it believes an attested request: Evidence rules, every
 * signature and its signer (certificate chain to the AK trust anchors, EKU and KeyUsage), the key
 * binding to the request's public key, the nonce (through the caller's callback) and the key-claim
 * policy; for PKCS#10 CSRs and CRMF CertReqMsgs. Every check lands in an AF_CHECKS by name. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "attfresh/err.h"
#include "evidence/ev_local.h"

/* AK certificates already proven to chain to an anchor, by their exact DER, with the chain that
 * proved it: an RA sees the same AK in every enrollment of a station, and re-verifying its chain
 * (an ECDSA verification plus path building) costs more than a token signature. An entry is used
 * only while every certificate of its chain is within its validity at the verification time;
 * anchors are only ever added, so a proven chain stays proven. Shared (reference-counted, locked)
 * between a prototype verifier and those made from it with af_verify_new_from. */
#define AK_CACHE_MAX 256

typedef struct {
    unsigned char *der;
    size_t len;
    STACK_OF(X509) * chain;
} AK_PROVEN;

typedef struct {
    CRYPTO_RWLOCK *lock;
    int refs;
    size_t n;
    AK_PROVEN ent[AK_CACHE_MAX];
} AK_CACHE;

struct af_verify_st {
    OSSL_LIB_CTX *libctx;
    char *propq;
    STACK_OF(X509) * anchors;
    X509_STORE *store; /* the anchors, built as they are added: shared by every verification */
    AK_CACHE *cache;
    int derived; /* made by af_verify_new_from: anchors belong to the prototype */
    af_nonce_cb nonce_cb;
    void *nonce_arg;
    af_keyid_cb keyid_cb;
    void *keyid_arg;
    AF_POLICY *policy;
    time_t when;
};

int af_nonce_cb_expected(const unsigned char *nonce, size_t len, void *arg, char *why,
                         size_t whysize)
{
    const AF_EXPECTED_NONCE *want = arg;

    if (want == NULL || want->nonce == NULL) {
        snprintf(why, whysize, "no expected nonce configured");
        return 0;
    }
    if (len != want->len || CRYPTO_memcmp(nonce, want->nonce, len) != 0) {
        snprintf(why, whysize,
                 "nonce in the Evidence (%zu bytes) differs from the expected one "
                 "(%zu bytes)",
                 len, want->len);
        return 0;
    }
    return 1;
}

static AK_CACHE *ak_cache_new(void)
{
    AK_CACHE *c = OPENSSL_zalloc(sizeof(*c));

    if (c != NULL && (c->lock = CRYPTO_THREAD_lock_new()) == NULL) {
        OPENSSL_free(c);
        return NULL;
    }
    if (c != NULL)
        c->refs = 1;
    return c;
}

static void ak_cache_free(AK_CACHE *c)
{
    int left = 0;
    size_t i;

    if (c == NULL || !CRYPTO_atomic_add(&c->refs, -1, &left, c->lock) || left > 0)
        return;
    for (i = 0; i < c->n; i++) {
        OPENSSL_free(c->ent[i].der);
        sk_X509_pop_free(c->ent[i].chain, X509_free);
    }
    CRYPTO_THREAD_lock_free(c->lock);
    OPENSSL_free(c);
}

/* 1 when cert has been proven and every certificate of that chain is valid at when. */
static int ak_cache_hit(AK_CACHE *c, const unsigned char *der, size_t len, time_t when)
{
    size_t i;
    int j, hit = 0;

    if (!CRYPTO_THREAD_read_lock(c->lock))
        return 0;
    for (i = 0; i < c->n && !hit; i++) {
        const AK_PROVEN *e = &c->ent[i];

        if (e->len != len || memcmp(e->der, der, len) != 0)
            continue;
        hit = 1;
        for (j = 0; j < sk_X509_num(e->chain); j++) {
            X509 *x = sk_X509_value(e->chain, j);

            if (X509_cmp_time(X509_get0_notBefore(x), &when) >= 0 ||
                X509_cmp_time(X509_get0_notAfter(x), &when) <= 0)
                hit = 0;
        }
    }
    CRYPTO_THREAD_unlock(c->lock);
    return hit;
}

/* af_ev_cert_find over the cache: the certificate object decoded when it was proven. */
static X509 *ak_cache_find(const unsigned char *der, size_t len, void *arg)
{
    AK_CACHE *c = arg;
    X509 *x = NULL;
    size_t i;

    if (!CRYPTO_THREAD_read_lock(c->lock))
        return NULL;
    for (i = 0; i < c->n && x == NULL; i++)
        if (c->ent[i].len == len && memcmp(c->ent[i].der, der, len) == 0) {
            x = sk_X509_value(c->ent[i].chain, 0);
            if (x != NULL && !X509_up_ref(x))
                x = NULL;
        }
    CRYPTO_THREAD_unlock(c->lock);
    return x;
}

/* Remembers a proven chain (references taken); a full cache keeps what it has. */
static void ak_cache_add(AK_CACHE *c, const unsigned char *der, size_t len, STACK_OF(X509) * chain)
{
    AK_PROVEN e = {NULL, len, NULL};
    size_t i;

    if ((e.der = OPENSSL_memdup(der, len)) == NULL ||
        (e.chain = X509_chain_up_ref(chain)) == NULL || !CRYPTO_THREAD_write_lock(c->lock)) {
        OPENSSL_free(e.der);
        sk_X509_pop_free(e.chain, X509_free);
        return;
    }
    for (i = 0; i < c->n; i++)
        if (c->ent[i].len == len && memcmp(c->ent[i].der, der, len) == 0)
            break;
    if (i == c->n && c->n < AK_CACHE_MAX) {
        c->ent[c->n++] = e;
        e.der = NULL;
        e.chain = NULL;
    }
    CRYPTO_THREAD_unlock(c->lock);
    OPENSSL_free(e.der);
    sk_X509_pop_free(e.chain, X509_free);
}

AF_VERIFY *af_verify_new(OSSL_LIB_CTX *libctx, const char *propq)
{
    AF_VERIFY *v = OPENSSL_zalloc(sizeof(*v));

    if (v == NULL || (v->anchors = sk_X509_new_null()) == NULL ||
        (v->store = X509_STORE_new()) == NULL || (v->policy = af_policy_new()) == NULL ||
        (v->cache = ak_cache_new()) == NULL ||
        (propq != NULL && (v->propq = OPENSSL_strdup(propq)) == NULL)) {
        af_verify_free(v);
        AF_ERR(AF_R_MALLOC, "verifier");
        return NULL;
    }
    v->libctx = libctx;
    return v;
}

AF_VERIFY *af_verify_new_from(const AF_VERIFY *proto)
{
    AF_VERIFY *v;
    int left = 0;

    if (proto == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no prototype verifier");
        return NULL;
    }
    if ((v = OPENSSL_zalloc(sizeof(*v))) == NULL ||
        (v->anchors = X509_chain_up_ref(proto->anchors)) == NULL ||
        (v->policy = af_policy_dup(proto->policy)) == NULL ||
        (proto->propq != NULL && (v->propq = OPENSSL_strdup(proto->propq)) == NULL) ||
        !X509_STORE_up_ref(proto->store)) {
        af_verify_free(v);
        AF_ERR(AF_R_MALLOC, "verifier");
        return NULL;
    }
    v->store = proto->store;
    if (!CRYPTO_atomic_add(&proto->cache->refs, 1, &left, proto->cache->lock)) {
        af_verify_free(v);
        AF_ERR(AF_R_INTERNAL, "verifier cache reference");
        return NULL;
    }
    v->cache = proto->cache;
    v->libctx = proto->libctx;
    v->keyid_cb = proto->keyid_cb;
    v->keyid_arg = proto->keyid_arg;
    v->when = proto->when;
    v->derived = 1;
    return v;
}

void af_verify_free(AF_VERIFY *v)
{
    if (v == NULL)
        return;
    ak_cache_free(v->cache);
    sk_X509_pop_free(v->anchors, X509_free);
    X509_STORE_free(v->store);
    af_policy_free(v->policy);
    OPENSSL_free(v->propq);
    OPENSSL_free(v);
}

int af_verify_add1_trust(AF_VERIFY *v, X509 *anchor)
{
    if (v != NULL && v->derived) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "a verifier made from a prototype shares its anchors: add "
                                      "trust to the prototype");
        return 0;
    }
    if (v == NULL || anchor == NULL || !X509_add_cert(v->anchors, anchor, X509_ADD_FLAG_UP_REF) ||
        !X509_STORE_add_cert(v->store, anchor)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "cannot add the trust anchor");
        return 0;
    }
    return 1;
}

int af_verify_load_trust(AF_VERIFY *v, const char *path)
{
    STACK_OF(X509) *sk = af_load_certs(path, v->libctx, v->propq);
    int i, ok = sk != NULL;

    for (i = 0; ok && i < sk_X509_num(sk); i++)
        ok = af_verify_add1_trust(v, sk_X509_value(sk, i));
    sk_X509_pop_free(sk, X509_free);
    return ok;
}

void af_verify_set_nonce_cb(AF_VERIFY *v, af_nonce_cb cb, void *arg)
{
    v->nonce_cb = cb;
    v->nonce_arg = arg;
}

void af_verify_set_keyid_cb(AF_VERIFY *v, af_keyid_cb cb, void *arg)
{
    v->keyid_cb = cb;
    v->keyid_arg = arg;
}

void af_verify_set_time(AF_VERIFY *v, time_t t)
{
    v->when = t;
}

int af_verify_set_policy(AF_VERIFY *v, const AF_POLICY *p)
{
    AF_POLICY *n = p != NULL ? af_policy_dup(p) : af_policy_new();

    if (n == NULL)
        return 0;
    af_policy_free(v->policy);
    v->policy = n;
    return 1;
}

/* ---- Evidence rules ------------------------------------------------------------------------- */
/* Expected universal tag of a known claim (0: unknown claim, ignored). */
static int claim_tag(int id)
{
    switch (id) {
    case AF_OID_EV_TX_NONCE:
    case AF_OID_EV_TX_AK_SPKI:
    case AF_OID_EV_PF_OEMID:
    case AF_OID_EV_PF_HWMODEL:
    case AF_OID_EV_KEY_SPKI:
        return V_ASN1_OCTET_STRING;
    case AF_OID_EV_TX_TIMESTAMP:
    case AF_OID_EV_KEY_EXPIRY:
        return V_ASN1_GENERALIZEDTIME;
    case AF_OID_EV_PF_VENDOR:
    case AF_OID_EV_PF_HWVERSION:
    case AF_OID_EV_PF_HWSERIAL:
    case AF_OID_EV_PF_SWNAME:
    case AF_OID_EV_PF_SWVERSION:
    case AF_OID_EV_PF_FIPSVER:
    case AF_OID_EV_PF_FIPSMODULE:
    case AF_OID_EV_KEY_IDENTIFIER:
        return V_ASN1_UTF8STRING;
    case AF_OID_EV_PF_DEBUGSTAT:
    case AF_OID_EV_PF_UPTIME:
    case AF_OID_EV_PF_BOOTCOUNT:
    case AF_OID_EV_PF_FIPSLEVEL:
        return V_ASN1_INTEGER;
    case AF_OID_EV_PF_FIPSBOOT:
    case AF_OID_EV_KEY_EXTRACTABLE:
    case AF_OID_EV_KEY_SENSITIVE:
    case AF_OID_EV_KEY_NEVER_EXTRACTABLE:
    case AF_OID_EV_KEY_LOCAL:
        return V_ASN1_BOOLEAN;
    case AF_OID_EV_KEY_PURPOSE:
        return V_ASN1_SEQUENCE;
    default:
        return 0;
    }
}

/* The claims each known element may carry: [first, last] of the table ids. */
static int claim_belongs(int elem, int id)
{
    if (elem == AF_OID_EV_ELEM_TRANSACTION)
        return id >= AF_OID_EV_TX_NONCE && id <= AF_OID_EV_TX_AK_SPKI;
    if (elem == AF_OID_EV_ELEM_PLATFORM)
        return id >= AF_OID_EV_PF_VENDOR && id <= AF_OID_EV_PF_FIPSMODULE;
    return id >= AF_OID_EV_KEY_IDENTIFIER && id <= AF_OID_EV_KEY_PURPOSE;
}

static const char *sn(int id)
{
    return af_oid_entry((af_oid_id)id)->sn;
}

static int element_rules(const AF_EV_ELEMENT *e, int elem, int idx, char *why, size_t whysize)
{
    int seen[AF_OID__COUNT] = {0};
    int j;

    for (j = 0; j < sk_AF_EV_CLAIM_num(e->claims); j++) {
        const AF_EV_CLAIM *c = sk_AF_EV_CLAIM_value(e->claims, j);
        int id = af_ev_obj_id(c->type), tag;

        if (id < 0 || !claim_belongs(elem, id))
            continue; /* unknown claims are ignored */
        if (id != AF_OID_EV_TX_AK_SPKI && seen[id]++) {
            snprintf(why, whysize, "element %d repeats the single-valued claim %s", idx, sn(id));
            return 0;
        }
        tag = claim_tag(id);
        if (c->value == NULL || c->value->type != tag) {
            snprintf(why, whysize, "element %d: claim %s %s (expected %s)", idx, sn(id),
                     c->value == NULL ? "has no value" : "has the wrong type", ASN1_tag2str(tag));
            return 0;
        }
        if (tag == V_ASN1_GENERALIZEDTIME &&
            (ASN1_STRING_length(c->value->value.generalizedtime) != 15 ||
             !ASN1_GENERALIZEDTIME_check(c->value->value.generalizedtime))) {
            snprintf(why, whysize, "element %d: claim %s is not a YYYYMMDDHHMMSSZ time", idx,
                     sn(id));
            return 0;
        }
        if (id == AF_OID_EV_PF_FIPSLEVEL) {
            int64_t l = 0;

            if (!ASN1_INTEGER_get_int64(&l, c->value->value.integer) || l < 1 || l > 4) {
                ERR_clear_error();
                snprintf(why, whysize, "element %d: fipslevel outside 1..4", idx);
                return 0;
            }
        }
        if (id == AF_OID_EV_KEY_PURPOSE) {
            unsigned int caps;

            if (!af_ev_purposes_decode(c->value, &caps)) {
                snprintf(why, whysize, "element %d: purpose is not a SEQUENCE OF OID", idx);
                return 0;
            }
        }
    }
    if (elem == AF_OID_EV_ELEM_KEY && !seen[AF_OID_EV_KEY_IDENTIFIER]) {
        snprintf(why, whysize, "key element %d has no identifier", idx);
        return 0;
    }
    return 1;
}

static const ASN1_STRING *claim_string(const AF_EV_ELEMENT *e, af_oid_id id)
{
    int j;

    for (j = 0; j < sk_AF_EV_CLAIM_num(e->claims); j++) {
        const AF_EV_CLAIM *c = sk_AF_EV_CLAIM_value(e->claims, j);

        if (af_ev_obj_is(c->type, id) && c->value != NULL && c->value->type != V_ASN1_BOOLEAN &&
            c->value->type != V_ASN1_NULL && c->value->type != V_ASN1_OBJECT)
            return c->value->value.asn1_string;
    }
    return NULL;
}

static int evidence_rules(const AF_EVIDENCE *ev, char *why, size_t whysize)
{
    int64_t version = 0;
    int i, j, ntx = 0, npf = 0, nkeys = 0;

    if (!ASN1_INTEGER_get_int64(&version, ev->tbs->version) || version != 1) {
        ERR_clear_error();
        snprintf(why, whysize, "version is not 1");
        return 0;
    }
    if (sk_AF_EV_ELEMENT_num(ev->tbs->elements) < 1) {
        snprintf(why, whysize, "no reported elements");
        return 0;
    }
    for (i = 0; i < sk_AF_EV_ELEMENT_num(ev->tbs->elements); i++) {
        const AF_EV_ELEMENT *e = sk_AF_EV_ELEMENT_value(ev->tbs->elements, i);
        int elem = af_ev_obj_id(e->type);

        if (sk_AF_EV_CLAIM_num(e->claims) < 1) {
            snprintf(why, whysize, "element %d has no claims", i);
            return 0;
        }
        if (elem == AF_OID_EV_ELEM_TRANSACTION)
            ntx++;
        else if (elem == AF_OID_EV_ELEM_PLATFORM)
            npf++;
        else if (elem == AF_OID_EV_ELEM_KEY)
            nkeys++;
        else
            continue; /* unknown elements are ignored */
        if (!element_rules(e, elem, i, why, whysize))
            return 0;
    }
    if (ntx > 1 || npf > 1) {
        snprintf(why, whysize, "%d transaction and %d platform elements (at most one each)", ntx,
                 npf);
        return 0;
    }
    /* key identifiers are unique */
    for (i = 0; i < sk_AF_EV_ELEMENT_num(ev->tbs->elements); i++) {
        const AF_EV_ELEMENT *a = sk_AF_EV_ELEMENT_value(ev->tbs->elements, i);
        const ASN1_STRING *ia;

        if (!af_ev_obj_is(a->type, AF_OID_EV_ELEM_KEY) ||
            (ia = claim_string(a, AF_OID_EV_KEY_IDENTIFIER)) == NULL)
            continue;
        for (j = i + 1; j < sk_AF_EV_ELEMENT_num(ev->tbs->elements); j++) {
            const AF_EV_ELEMENT *b = sk_AF_EV_ELEMENT_value(ev->tbs->elements, j);
            const ASN1_STRING *ib;

            if (af_ev_obj_is(b->type, AF_OID_EV_ELEM_KEY) &&
                (ib = claim_string(b, AF_OID_EV_KEY_IDENTIFIER)) != NULL &&
                ASN1_STRING_cmp(ia, ib) == 0) {
                snprintf(why, whysize, "key elements %d and %d share the identifier '%.*s'", i, j,
                         ASN1_STRING_length(ia) > 80 ? 80 : ASN1_STRING_length(ia),
                         (const char *)ASN1_STRING_get0_data(ia));
                return 0;
            }
        }
    }
    snprintf(why, whysize, "version 1, %d transaction, %d platform, %d key element(s)", ntx, npf,
             nkeys);
    return 1;
}

/* ---- signatures and signers ----------------------------------------------------------------- */
static const AF_EV_ELEMENT *transaction(const AF_EVIDENCE *ev)
{
    int i;

    for (i = 0; i < sk_AF_EV_ELEMENT_num(ev->tbs->elements); i++) {
        const AF_EV_ELEMENT *e = sk_AF_EV_ELEMENT_value(ev->tbs->elements, i);

        if (af_ev_obj_is(e->type, AF_OID_EV_ELEM_TRANSACTION))
            return e;
    }
    return NULL;
}

/* 1 when the signer's SPKI is one of the transaction's ak-spki claims, or there are none. The
 * SPKI is taken as the bytes the signer was given by (certificate or sid.spki): re-encoding the
 * decoded key would run OpenSSL 3.0's encoder for nothing. */
static int ak_listed(const AF_EVIDENCE *ev, const AF_EV_SIGBLOCK *sb, EVP_PKEY *signer)
{
    const AF_EV_ELEMENT *tx = transaction(ev);
    const X509_PUBKEY *xpk =
        sb->sid->cert != NULL ? X509_get_X509_PUBKEY(sb->sid->cert) : sb->sid->spki;
    unsigned char *spki = NULL;
    size_t len = 0;
    int j, n, listed = 0, any = 0;

    if (tx == NULL)
        return 1;
    if (xpk != NULL) {
        if ((n = i2d_X509_PUBKEY(xpk, &spki)) <= 0) {
            ERR_clear_error();
            return 0;
        }
        len = (size_t)n;
    } else if (!af_ev_spki_der(signer, &spki, &len)) {
        ERR_clear_error();
        return 0;
    }
    for (j = 0; j < sk_AF_EV_CLAIM_num(tx->claims); j++) {
        const AF_EV_CLAIM *c = sk_AF_EV_CLAIM_value(tx->claims, j);

        if (!af_ev_obj_is(c->type, AF_OID_EV_TX_AK_SPKI) || c->value == NULL ||
            c->value->type != V_ASN1_OCTET_STRING)
            continue;
        any = 1;
        if ((size_t)ASN1_STRING_length(c->value->value.octet_string) == len &&
            memcmp(ASN1_STRING_get0_data(c->value->value.octet_string), spki, len) == 0)
            listed = 1;
    }
    OPENSSL_free(spki);
    return listed || !any;
}

static int has_eku(X509 *x, af_oid_id kp)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    int i, found = 0;

    for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
        if (af_ev_obj_is(sk_ASN1_OBJECT_value(eku, i), kp))
            found = 1;
    EXTENDED_KEY_USAGE_free(eku);
    return found;
}

static void subject_text(X509 *x, char *buf, size_t size)
{
    if (X509_NAME_oneline(X509_get_subject_name(x), buf, (int)size) == NULL)
        snprintf(buf, size, "?");
}

static int chain_ok(AF_VERIFY *v, X509 *cert, STACK_OF(X509) * untrusted,
                    STACK_OF(X509) * intermediates, char *why, size_t whysize)
{
    X509_STORE_CTX *sctx = NULL;
    STACK_OF(X509) *chain = NULL;
    unsigned char *der = NULL;
    time_t when = v->when != 0 ? v->when : time(NULL);
    int ok = 0, dlen;

    if (sk_X509_num(v->anchors) == 0) {
        snprintf(why, whysize, "no AK trust anchors configured");
        return 0;
    }
    /* the certificate's bytes as received (a decoded X509 keeps them) */
    if ((dlen = i2d_X509(cert, &der)) > 0 && ak_cache_hit(v->cache, der, (size_t)dlen, when)) {
        OPENSSL_free(der);
        return 1;
    }
    if ((sctx = X509_STORE_CTX_new_ex(v->libctx, v->propq)) == NULL ||
        (chain = sk_X509_new_null()) == NULL ||
        !X509_add_certs(chain, untrusted, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP) ||
        !X509_add_certs(chain, intermediates, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP) ||
        !X509_STORE_CTX_init(sctx, v->store, cert, chain)) {
        snprintf(why, whysize, "out of memory building the chain");
        goto done;
    }
    /* Purpose "any": OpenSSL has no attestation purpose, the EKU is checked by ak-usage. A
     * configured anchor is trusted as such, even when it is an intermediate CA. */
    X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_ANY);
    X509_STORE_CTX_set_flags(sctx, X509_V_FLAG_PARTIAL_CHAIN);
    if (v->when != 0)
        X509_STORE_CTX_set_time(sctx, 0, v->when);
    if (X509_verify_cert(sctx) > 0) {
        ok = 1;
        if (dlen > 0)
            ak_cache_add(v->cache, der, (size_t)dlen, X509_STORE_CTX_get0_chain(sctx));
    } else {
        int err = X509_STORE_CTX_get_error(sctx);

        snprintf(why, whysize, "%s (depth %d)", X509_verify_cert_error_string(err),
                 X509_STORE_CTX_get_error_depth(sctx));
    }
done:
    ERR_clear_error();
    OPENSSL_free(der);
    sk_X509_pop_free(chain, X509_free);
    X509_STORE_CTX_free(sctx);
    return ok;
}

/* 1 when pkey equals the public key of one of the anchors (a signer given by spki alone). */
static int spki_is_anchor(AF_VERIFY *v, EVP_PKEY *pkey)
{
    int i;

    for (i = 0; i < sk_X509_num(v->anchors); i++)
        if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(v->anchors, i)), pkey) == 1)
            return 1;
    ERR_clear_error();
    return 0;
}

static int verify_tbs(AF_VERIFY *v, const AF_EVIDENCE *ev, const AF_EV_SIGBLOCK *sb, EVP_PKEY *pkey)
{
    ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
    int ok;

    if (bs == NULL || !ASN1_BIT_STRING_set(bs, (unsigned char *)ASN1_STRING_get0_data(sb->value),
                                           ASN1_STRING_length(sb->value))) {
        ASN1_BIT_STRING_free(bs);
        return 0;
    }
    bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    /* The decoder made sure the tbs re-encodes to the received bytes, so this is what was signed.
     */
    ok = ASN1_item_verify_ex(ASN1_ITEM_rptr(AF_EV_TBS), sb->alg, bs, ev->tbs, NULL, pkey, v->libctx,
                             v->propq) > 0;
    ASN1_BIT_STRING_free(bs);
    ERR_clear_error();
    return ok;
}

/* Checks every signature; adds evidence-signature, ak-chain and ak-usage results. Returns 1 when
 * all signatures verified and every signer is trusted. */
static int signatures(AF_VERIFY *v, const AF_EVIDENCE *ev, STACK_OF(X509) * untrusted,
                      AF_CHECKS *out)
{
    int i, nsig = sk_AF_EV_SIGBLOCK_num(ev->sigs), all = 1;
    char why[512], who[256];

    if (nsig == 0) {
        af_checks_add(out, AF_CHECK_EVIDENCE_SIGNATURE, AF_CHECK_FAIL,
                      "the Evidence is unsigned (never relied on)");
        af_checks_add(out, AF_CHECK_AK_CHAIN, AF_CHECK_SKIP, "no signer");
        return 0;
    }
    for (i = 0; i < nsig; i++) {
        const AF_EV_SIGBLOCK *sb = sk_AF_EV_SIGBLOCK_value(ev->sigs, i);
        EVP_PKEY *pkey = NULL;
        X509 *cert = sb->sid->cert;
        char alg[80];
        int sig_ok;

        OBJ_obj2txt(alg, sizeof(alg), sb->alg->algorithm, 0);
        if (cert != NULL) {
            subject_text(cert, who, sizeof(who));
            if ((pkey = X509_get_pubkey(cert)) == NULL)
                ERR_clear_error();
        } else if (sb->sid->spki != NULL) {
            snprintf(who, sizeof(who), "subjectPublicKeyInfo");
            if ((pkey = X509_PUBKEY_get(sb->sid->spki)) == NULL)
                ERR_clear_error();
        } else if (sb->sid->keyid != NULL) {
            snprintf(who, sizeof(who), "keyId");
            if (v->keyid_cb != NULL)
                pkey = v->keyid_cb(ASN1_STRING_get0_data(sb->sid->keyid),
                                   (size_t)ASN1_STRING_length(sb->sid->keyid), v->keyid_arg);
            if (pkey == NULL) {
                af_checks_add(out, AF_CHECK_EVIDENCE_SIGNATURE, AF_CHECK_FAIL,
                              "signature %d: signer given only by keyId, which cannot be resolved",
                              i + 1);
                all = 0;
                continue;
            }
        } else {
            af_checks_add(out, AF_CHECK_EVIDENCE_SIGNATURE, AF_CHECK_FAIL,
                          "signature %d: SignerIdentifier is empty", i + 1);
            all = 0;
            continue;
        }
        if (pkey == NULL) {
            af_checks_add(out, AF_CHECK_EVIDENCE_SIGNATURE, AF_CHECK_FAIL,
                          "signature %d: the signer's public key cannot be used", i + 1);
            all = 0;
            continue;
        }
        sig_ok = verify_tbs(v, ev, sb, pkey);
        if (!sig_ok) {
            af_checks_add(out, AF_CHECK_EVIDENCE_SIGNATURE, AF_CHECK_FAIL,
                          "signature %d (%s by %s) does not verify over the TbsEvidence", i + 1,
                          alg, who);
            all = 0;
        } else if (!ak_listed(ev, sb, pkey)) {
            af_checks_add(out, AF_CHECK_EVIDENCE_SIGNATURE, AF_CHECK_FAIL,
                          "signature %d: the signer is not among the transaction's ak-spki "
                          "claims",
                          i + 1);
            all = 0;
        } else {
            af_checks_add(out, AF_CHECK_EVIDENCE_SIGNATURE, AF_CHECK_PASS, "signature %d: %s by %s",
                          i + 1, alg, who);
        }
        /* Trust of the signer. */
        if (cert != NULL) {
            if (chain_ok(v, cert, untrusted, ev->intermediates, why, sizeof(why)))
                af_checks_add(out, AF_CHECK_AK_CHAIN, AF_CHECK_PASS,
                              "AK certificate %s chains to a trust anchor", who);
            else {
                af_checks_add(out, AF_CHECK_AK_CHAIN, AF_CHECK_FAIL,
                              "AK certificate %s is not trusted: %s", who, why);
                all = 0;
            }
            if (!has_eku(cert, AF_OID_KP_ATTESTATION_KEY)) {
                af_checks_add(out, AF_CHECK_AK_USAGE, AF_CHECK_FAIL,
                              "AK certificate %s lacks ExtendedKeyUsage id-kp-attestationKey", who);
                all = 0;
            } else if (!(X509_get_extension_flags(cert) & EXFLAG_KUSAGE) ||
                       !(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE)) {
                af_checks_add(out, AF_CHECK_AK_USAGE, AF_CHECK_FAIL,
                              "AK certificate %s lacks KeyUsage digitalSignature", who);
                all = 0;
            } else {
                af_checks_add(out, AF_CHECK_AK_USAGE, AF_CHECK_PASS,
                              "id-kp-attestationKey and digitalSignature");
            }
        } else if (sb->sid->spki != NULL) {
            if (spki_is_anchor(v, pkey)) {
                af_checks_add(out, AF_CHECK_AK_CHAIN, AF_CHECK_PASS,
                              "signer's key is a configured trust anchor's key");
            } else {
                af_checks_add(out, AF_CHECK_AK_CHAIN, AF_CHECK_FAIL,
                              "signer given by subjectPublicKeyInfo only and not a configured "
                              "trust anchor");
                all = 0;
            }
        } else {
            af_checks_add(out, AF_CHECK_AK_CHAIN, AF_CHECK_PASS,
                          "signer resolved from keyId by the caller");
        }
        EVP_PKEY_free(pkey);
    }
    return all;
}

/* ---- the whole Evidence --------------------------------------------------------------------- */
static const AF_EV_ELEMENT *bound_key(const AF_EVIDENCE *ev, const unsigned char *spki,
                                      size_t spki_len, int *index)
{
    int i, k = 0;

    for (i = 0; i < sk_AF_EV_ELEMENT_num(ev->tbs->elements); i++) {
        const AF_EV_ELEMENT *e = sk_AF_EV_ELEMENT_value(ev->tbs->elements, i);
        const ASN1_STRING *s;

        if (!af_ev_obj_is(e->type, AF_OID_EV_ELEM_KEY))
            continue;
        s = claim_string(e, AF_OID_EV_KEY_SPKI);
        if (s != NULL && (size_t)ASN1_STRING_length(s) == spki_len &&
            memcmp(ASN1_STRING_get0_data(s), spki, spki_len) == 0) {
            *index = k;
            return e;
        }
        k++;
    }
    return NULL;
}

/* prior_ok: the caller's own checks (the request's signature) passed. The policy is decided and
 * the nonce consumed only when everything else passed: a forged or refused request must not burn
 * the RA's nonce for the honest requester. Results keep the documented order. */
static int evidence_verify(AF_VERIFY *v, const AF_EVIDENCE *ev, STACK_OF(X509) * untrusted,
                           const unsigned char *spki, size_t spki_len, int prior_ok, AF_CHECKS *out)
{
    char why[512], pol_why[512] = "";
    const unsigned char *nonce;
    size_t nonce_len = 0;
    int rules_ok, trusted, keyidx = -1, ok = 1, pol_ok = 1;
    const AF_EV_ELEMENT *key = NULL;

    if (v == NULL || ev == NULL || out == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "nothing to verify");
        return 0;
    }
    rules_ok = evidence_rules(ev, why, sizeof(why));
    af_checks_add(out, AF_CHECK_EVIDENCE_RULES, rules_ok ? AF_CHECK_PASS : AF_CHECK_FAIL, "%s",
                  why);
    trusted = signatures(v, ev, untrusted, out);
    ok = rules_ok && trusted;

    if (spki != NULL) {
        key = bound_key(ev, spki, spki_len, &keyidx);
        if (key == NULL) {
            af_checks_add(out, AF_CHECK_KEY_BINDING, AF_CHECK_FAIL,
                          "no key element's spki equals the request's SubjectPublicKeyInfo "
                          "(Evidence about another key)");
            ok = 0;
        } else {
            const ASN1_STRING *id = claim_string(key, AF_OID_EV_KEY_IDENTIFIER);

            af_checks_add(out, AF_CHECK_KEY_BINDING, AF_CHECK_PASS, "key element %d '%.*s'", keyidx,
                          id != NULL ? (ASN1_STRING_length(id) > 200 ? 200 : ASN1_STRING_length(id))
                                     : 0,
                          id != NULL ? (const char *)ASN1_STRING_get0_data(id) : "");
        }
    }

    if (key != NULL) {
        AF_KEY_CLAIMS kc;

        if (!af_evidence_get_key(ev, (size_t)keyidx, &kc)) {
            ERR_clear_error();
            pol_ok = 0;
            snprintf(pol_why, sizeof(pol_why), "cannot read the key claims");
        } else {
            pol_ok = af_policy_check(v->policy, &kc, pol_why, sizeof(pol_why));
            if (pol_ok)
                snprintf(pol_why, sizeof(pol_why),
                         "sensitive=%d never-extractable=%d local=%d extractable=%d", kc.sensitive,
                         kc.never_extractable, kc.local, kc.extractable);
            af_key_claims_clear(&kc);
        }
    }
    nonce = af_evidence_get0_nonce(ev, &nonce_len);
    if (nonce == NULL) {
        af_checks_add(out, AF_CHECK_NONCE, AF_CHECK_FAIL, "the Evidence carries no nonce claim");
        ok = 0;
    } else if (!ok || !prior_ok || !pol_ok) {
        af_checks_add(out, AF_CHECK_NONCE, AF_CHECK_SKIP,
                      "not checked (and not consumed): another check failed");
    } else if (v->nonce_cb == NULL) {
        af_checks_add(out, AF_CHECK_NONCE, AF_CHECK_FAIL,
                      "no nonce expected by the verifier (freshness cannot be established)");
        ok = 0;
    } else {
        why[0] = '\0';
        if (v->nonce_cb(nonce, nonce_len, v->nonce_arg, why, sizeof(why))) {
            af_checks_add(out, AF_CHECK_NONCE, AF_CHECK_PASS, "%zu-byte nonce accepted", nonce_len);
        } else {
            af_checks_add(out, AF_CHECK_NONCE, AF_CHECK_FAIL, "%s",
                          why[0] != '\0' ? why : "nonce rejected");
            ok = 0;
        }
    }
    if (key != NULL) {
        af_checks_add(out, AF_CHECK_POLICY, pol_ok ? AF_CHECK_PASS : AF_CHECK_FAIL, "%s", pol_why);
        if (!pol_ok)
            ok = 0;
    } else if (spki != NULL) {
        af_checks_add(out, AF_CHECK_POLICY, AF_CHECK_SKIP, "no key element for the request key");
    }
    return ok && prior_ok;
}

int af_evidence_verify(AF_VERIFY *v, const AF_EVIDENCE *ev, STACK_OF(X509) * untrusted,
                       const unsigned char *spki, size_t spki_len, AF_CHECKS *out)
{
    return evidence_verify(v, ev, untrusted, spki, spki_len, 1, out);
}

/* ---- requests ------------------------------------------------------------------------------- */
static void error_detail(char *why, size_t size)
{
    af_err_line(why, size);
}

/* Bundle bytes -> Evidence checks; shared by the CSR and CRMF paths. */
static int check_bundle(AF_VERIFY *v, const unsigned char *der, size_t len,
                        const unsigned char *spki, size_t spki_len, int prior_ok, AF_CHECKS *out)
{
    AF_BUNDLE *b;
    AF_EVIDENCE *ev = NULL;
    STACK_OF(X509) *certs = NULL;
    char why[768];
    size_t i, nev = 0, evidx = 0;
    int ok = 0;

    /* AK certificates proven before are taken from the cache, not decoded again */
    if ((b = af_ev_bundle_from_der_find(der, len, ak_cache_find, v->cache)) == NULL) {
        error_detail(why, sizeof(why));
        af_checks_add(out, AF_CHECK_BUNDLE, AF_CHECK_FAIL, "%s", why);
        return 0;
    }
    for (i = 0; i < af_bundle_statement_count(b); i++)
        if (af_bundle_statement_type(b, i) == AF_OID_EVIDENCE) {
            if (nev++ == 0)
                evidx = i;
        }
    if (nev != 1) {
        af_checks_add(out, AF_CHECK_BUNDLE, AF_CHECK_FAIL,
                      "%zu PKIX Evidence statements among %zu (exactly one is supported)", nev,
                      af_bundle_statement_count(b));
        goto done;
    }
    af_checks_add(out, AF_CHECK_BUNDLE, AF_CHECK_PASS, "%zu statement(s), %d certificate(s)",
                  af_bundle_statement_count(b),
                  b->certs != NULL ? sk_AF_CERT_CHOICE_num(b->certs) : 0);
    /* an AK certificate proven before is taken from the cache, not decoded again */
    if ((ev = af_ev_bundle_get1_evidence_find(b, evidx, ak_cache_find, v->cache)) == NULL) {
        error_detail(why, sizeof(why));
        af_checks_add(out, AF_CHECK_EVIDENCE_DECODE, AF_CHECK_FAIL, "%s", why);
        goto done;
    }
    af_checks_add(out, AF_CHECK_EVIDENCE_DECODE, AF_CHECK_PASS, "statement %zu", evidx);
    if ((certs = af_bundle_get1_certs(b)) == NULL)
        goto done;
    ok = evidence_verify(v, ev, certs, spki, spki_len, prior_ok, out);
done:
    sk_X509_pop_free(certs, X509_free);
    af_evidence_free(ev);
    af_bundle_free(b);
    return ok;
}

int af_csr_verify(AF_VERIFY *v, X509_REQ *req, AF_CHECKS *out)
{
    ASN1_OBJECT *obj = NULL;
    EVP_PKEY *pk;
    unsigned char *spki = NULL;
    char why[512];
    int n, i, idx = -1, ok = 1, spki_len;
    const ASN1_TYPE *val = NULL;

    if (v == NULL || req == NULL || out == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "nothing to verify");
        return 0;
    }
    pk = X509_REQ_get0_pubkey(req);
    if (pk == NULL || X509_REQ_verify_ex(req, pk, v->libctx, v->propq) <= 0) {
        if (ERR_peek_error() != 0)
            error_detail(why, sizeof(why));
        else
            snprintf(why, sizeof(why), "no usable public key");
        af_checks_add(out, AF_CHECK_CSR_SIGNATURE, AF_CHECK_FAIL, "%s", why);
        ok = 0;
    } else {
        af_checks_add(out, AF_CHECK_CSR_SIGNATURE, AF_CHECK_PASS, "self-signature verifies");
    }
    if ((obj = af_ev_obj(AF_OID_AA_ATTESTATION)) == NULL)
        return 0;
    for (n = 0, i = X509_REQ_get_attr_by_OBJ(req, obj, -1); i >= 0;
         i = X509_REQ_get_attr_by_OBJ(req, obj, i))
        if (n++ == 0)
            idx = i;
    ASN1_OBJECT_free(obj);
    if (n != 1) {
        af_checks_add(out, AF_CHECK_ATTRIBUTE, AF_CHECK_FAIL,
                      n == 0 ? "the CSR has no id-aa-attestation attribute"
                             : "the CSR has more than one id-aa-attestation attribute");
        return 0;
    }
    {
        X509_ATTRIBUTE *attr = X509_REQ_get_attr(req, idx);

        if (X509_ATTRIBUTE_count(attr) != 1 || (val = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL ||
            val->type != V_ASN1_SEQUENCE) {
            af_checks_add(out, AF_CHECK_ATTRIBUTE, AF_CHECK_FAIL,
                          "the id-aa-attestation attribute must hold exactly one "
                          "AttestationBundle SEQUENCE");
            return 0;
        }
    }
    af_checks_add(out, AF_CHECK_ATTRIBUTE, AF_CHECK_PASS, "one id-aa-attestation attribute");
    spki_len = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &spki);
    if (spki_len <= 0) {
        ERR_clear_error();
        af_checks_add(out, AF_CHECK_KEY_BINDING, AF_CHECK_FAIL,
                      "the CSR's SubjectPublicKeyInfo cannot be encoded");
        return 0;
    }
    if (!check_bundle(v, ASN1_STRING_get0_data(val->value.sequence),
                      (size_t)ASN1_STRING_length(val->value.sequence), spki, (size_t)spki_len, ok,
                      out))
        ok = 0;
    OPENSSL_free(spki);
    return ok && af_checks_passed(out);
}

static int template_spki(const OSSL_CRMF_MSG *msg, unsigned char **spki, size_t *len)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    AF_ANY_SEQ *seq = NULL;
    int n, i, ok = 0;

    *spki = NULL;
    n = i2d_OSSL_CRMF_CERTTEMPLATE(OSSL_CRMF_MSG_get0_tmpl(msg), &der);
    if (n <= 0)
        goto done;
    p = der;
    if ((seq = (AF_ANY_SEQ *)ASN1_item_d2i(NULL, &p, n, ASN1_ITEM_rptr(AF_ANY_SEQ))) == NULL)
        goto done;
    for (i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
        const unsigned char *d;

        if (t->type != V_ASN1_OTHER || ASN1_STRING_length(t->value.asn1_string) < 2)
            continue;
        d = ASN1_STRING_get0_data(t->value.asn1_string);
        if (d[0] != 0xa6)
            continue;
        *len = (size_t)ASN1_STRING_length(t->value.asn1_string);
        if ((*spki = OPENSSL_memdup(d, *len)) == NULL)
            goto done;
        (*spki)[0] = 0x30;
        ok = 1;
        break;
    }
done:
    ERR_clear_error();
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    OPENSSL_free(der);
    return ok;
}

int af_crmf_verify(AF_VERIFY *v, const OSSL_CRMF_MSG *msg, AF_CHECKS *out)
{
    OSSL_CRMF_MSGS *msgs = NULL;
    const STACK_OF(X509_EXTENSION) * exts;
    const ASN1_OCTET_STRING *val = NULL;
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    char why[512];
    int i, n = 0, ok = 1;

    if (v == NULL || msg == NULL || out == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "nothing to verify");
        return 0;
    }
    if ((msgs = sk_OSSL_CRMF_MSG_new_null()) == NULL ||
        !sk_OSSL_CRMF_MSG_push(msgs, (OSSL_CRMF_MSG *)msg)) {
        sk_OSSL_CRMF_MSG_free(msgs);
        AF_ERR(AF_R_MALLOC, "verifying");
        return 0;
    }
    if (OSSL_CRMF_MSGS_verify_popo(msgs, OSSL_CRMF_MSG_get_certReqId(msg), 0, v->libctx,
                                   v->propq)) {
        af_checks_add(out, AF_CHECK_CSR_SIGNATURE, AF_CHECK_PASS, "POPO signature verifies");
    } else {
        error_detail(why, sizeof(why));
        af_checks_add(out, AF_CHECK_CSR_SIGNATURE, AF_CHECK_FAIL, "POPO: %s", why);
        ok = 0;
    }
    sk_OSSL_CRMF_MSG_free(msgs);
    exts = OSSL_CRMF_CERTTEMPLATE_get0_extensions(OSSL_CRMF_MSG_get0_tmpl(msg));
    for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);

        if (af_ev_obj_is(X509_EXTENSION_get_object(e), AF_OID_AA_ATTESTATION)) {
            n++;
            val = X509_EXTENSION_get_data(e);
        }
    }
    if (n != 1) {
        af_checks_add(out, AF_CHECK_ATTRIBUTE, AF_CHECK_FAIL,
                      "the CertTemplate has %d id-aa-attestation extensions (exactly one)", n);
        return 0;
    }
    af_checks_add(out, AF_CHECK_ATTRIBUTE, AF_CHECK_PASS, "one id-aa-attestation extension");
    if (!template_spki(msg, &spki, &spki_len)) {
        af_checks_add(out, AF_CHECK_KEY_BINDING, AF_CHECK_FAIL,
                      "the CertTemplate has no public key");
        return 0;
    }
    if (!check_bundle(v, ASN1_STRING_get0_data(val), (size_t)ASN1_STRING_length(val), spki,
                      spki_len, ok, out))
        ok = 0;
    OPENSSL_free(spki);
    return ok && af_checks_passed(out);
}
