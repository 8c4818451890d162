/* ev_evidence.c - AF_EVIDENCE as bytes (strict DER decode, DER/PEM encode) and read access to
 * its claims for reports and tests. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "attfresh/err.h"
#include "attfresh/params.h"
#include "evidence/ev_local.h"

#define PEM_LABEL "PKIX EVIDENCE"

void af_evidence_free(AF_EVIDENCE *ev)
{
    ASN1_item_free((ASN1_VALUE *)ev, ASN1_ITEM_rptr(AF_EVIDENCE));
}

static int within_bounds(const AF_EVIDENCE *ev)
{
    int i;

    if (sk_AF_EV_ELEMENT_num(ev->tbs->elements) > AF_EVIDENCE_MAX_ELEMENTS) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "more than %d reported elements", AF_EVIDENCE_MAX_ELEMENTS);
        return 0;
    }
    for (i = 0; i < sk_AF_EV_ELEMENT_num(ev->tbs->elements); i++)
        if (sk_AF_EV_CLAIM_num(sk_AF_EV_ELEMENT_value(ev->tbs->elements, i)->claims) >
            AF_EVIDENCE_MAX_CLAIMS) {
            AF_ERR(AF_R_EVIDENCE_DECODE, "element %d has more than %d claims", i,
                   AF_EVIDENCE_MAX_CLAIMS);
            return 0;
        }
    if (sk_AF_EV_SIGBLOCK_num(ev->sigs) > AF_EVIDENCE_MAX_SIGNATURES) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "more than %d signatures", AF_EVIDENCE_MAX_SIGNATURES);
        return 0;
    }
    return 1;
}

AF_EVIDENCE *af_evidence_from_der(const unsigned char *der, size_t len)
{
    AF_EVIDENCE *ev;

    if (len > AF_EVIDENCE_MAX_DER) {
        AF_ERR(AF_R_TOO_LARGE, "Evidence of %zu bytes (at most %d)", len, AF_EVIDENCE_MAX_DER);
        return NULL;
    }
    /* The module's EXPLICIT [0] reading first, then the IMPLICIT one of the reference code (see
     * the template comment); when both fail, the first attempt's error is the one reported. */
    ERR_set_mark();
    ev = (AF_EVIDENCE *)af_ev_d2i_strict(ASN1_ITEM_rptr(AF_EVIDENCE), der, len, "Evidence");
    if (ev == NULL) {
        ERR_set_mark();
        ev = (AF_EVIDENCE *)af_ev_d2i_strict(ASN1_ITEM_rptr(AF_EVIDENCE_IMP), der, len, "Evidence");
        ERR_pop_to_mark();
        if (ev == NULL) {
            ERR_clear_last_mark();
            return NULL;
        }
    }
    ERR_pop_to_mark();
    if (!within_bounds(ev)) {
        af_evidence_free(ev);
        return NULL;
    }
    return ev;
}

/* One sid.certificate: the holder's object for these exact bytes, or the bytes decoded - DER only
 * (re-encoding gives them back) and nothing after it. NULL when they are no certificate. */
static X509 *sid_cert(const ASN1_STRING *raw, af_ev_cert_find find, void *arg)
{
    const unsigned char *der = ASN1_STRING_get0_data(raw), *p = der;
    size_t len = (size_t)ASN1_STRING_length(raw);
    unsigned char *re = NULL;
    X509 *x;
    int n;

    if ((x = find(der, len, arg)) != NULL)
        return x;
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || (size_t)(p - der) != len ||
        (n = i2d_X509(x, &re)) <= 0 || (size_t)n != len || memcmp(re, der, len) != 0) {
        X509_free(x);
        x = NULL;
    }
    OPENSSL_free(re);
    return x;
}

/* The raw reading turned into an AF_EVIDENCE (fields moved out of raw). NULL when a certificate
 * does not decode: the caller then takes the ordinary path, which reports why. */
static AF_EVIDENCE *from_raw(AF_EVIDENCE_RAW *raw, af_ev_cert_find find, void *arg)
{
    AF_EVIDENCE *ev = (AF_EVIDENCE *)ASN1_item_new(ASN1_ITEM_rptr(AF_EVIDENCE));
    int i;

    if (ev == NULL)
        return NULL;
    AF_EV_TBS_free(ev->tbs);
    ev->tbs = raw->tbs;
    raw->tbs = NULL;
    ev->intermediates = raw->intermediates;
    raw->intermediates = NULL;
    for (i = 0; i < sk_AF_EV_SIGBLOCK_RAW_num(raw->sigs); i++) {
        AF_EV_SIGBLOCK_RAW *r = sk_AF_EV_SIGBLOCK_RAW_value(raw->sigs, i);
        AF_EV_SIGBLOCK *sb = AF_EV_SIGBLOCK_new();

        if (sb == NULL || !sk_AF_EV_SIGBLOCK_push(ev->sigs, sb)) {
            AF_EV_SIGBLOCK_free(sb);
            goto err;
        }
        if (r->sid->cert != NULL && (sb->sid->cert = sid_cert(r->sid->cert, find, arg)) == NULL)
            goto err;
        sb->sid->keyid = r->sid->keyid;
        r->sid->keyid = NULL;
        sb->sid->spki = r->sid->spki;
        r->sid->spki = NULL;
        X509_ALGOR_free(sb->alg);
        sb->alg = r->alg;
        r->alg = NULL;
        ASN1_OCTET_STRING_free(sb->value);
        sb->value = r->value;
        r->value = NULL;
    }
    return ev;
err:
    af_evidence_free(ev);
    return NULL;
}

AF_EVIDENCE *af_ev_from_der_find(const unsigned char *der, size_t len, af_ev_cert_find find,
                                 void *arg)
{
    AF_EVIDENCE_RAW *raw;
    AF_EVIDENCE *ev = NULL;

    if (find == NULL || len > AF_EVIDENCE_MAX_DER)
        return af_evidence_from_der(der, len);
    /* The same strict reading with the certificates as bytes; anything unusual (the IMPLICIT
     * [0] form, a decode error, a certificate that does not decode) takes the ordinary path. */
    ERR_set_mark();
    raw =
        (AF_EVIDENCE_RAW *)af_ev_d2i_strict(ASN1_ITEM_rptr(AF_EVIDENCE_RAW), der, len, "Evidence");
    if (raw != NULL)
        ev = from_raw(raw, find, arg);
    ASN1_item_free((ASN1_VALUE *)raw, ASN1_ITEM_rptr(AF_EVIDENCE_RAW));
    ERR_pop_to_mark();
    if (ev == NULL)
        return af_evidence_from_der(der, len);
    if (!within_bounds(ev)) {
        af_evidence_free(ev);
        return NULL;
    }
    return ev;
}

int af_evidence_to_der(const AF_EVIDENCE *ev, unsigned char **der, size_t *len)
{
    int n;

    *der = NULL;
    if (ev == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no Evidence to encode");
        return 0;
    }
    n = ASN1_item_i2d((const ASN1_VALUE *)ev, der, ASN1_ITEM_rptr(AF_EVIDENCE));
    if (n <= 0) {
        AF_ERR(AF_R_INTERNAL, "cannot encode Evidence");
        return 0;
    }
    *len = (size_t)n;
    return 1;
}

int af_evidence_write_pem(BIO *out, const AF_EVIDENCE *ev)
{
    unsigned char *der = NULL;
    size_t len = 0;
    int ok;

    if (!af_evidence_to_der(ev, &der, &len))
        return 0;
    ok = PEM_write_bio(out, PEM_LABEL, "", der, (long)len) > 0;
    OPENSSL_free(der);
    if (!ok)
        AF_ERR(AF_R_IO, "cannot write PEM Evidence");
    return ok;
}

AF_EVIDENCE *af_evidence_from_pem(const unsigned char *pem, size_t len)
{
    BIO *bio;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long dlen = 0;
    AF_EVIDENCE *ev = NULL;

    if (len > 2 * AF_EVIDENCE_MAX_DER) {
        AF_ERR(AF_R_TOO_LARGE, "PEM Evidence of %zu bytes", len);
        return NULL;
    }
    if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
        AF_ERR(AF_R_MALLOC, "reading PEM Evidence");
        return NULL;
    }
    if (!PEM_read_bio(bio, &name, &header, &der, &dlen)) {
        ERR_clear_error();
        AF_ERR(AF_R_EVIDENCE_DECODE, "no PEM block found");
    } else if (strcmp(name, PEM_LABEL) != 0) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "PEM block is '%s', expected '%s'", name, PEM_LABEL);
    } else {
        ev = af_evidence_from_der(der, (size_t)dlen);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    return ev;
}

AF_EVIDENCE *af_evidence_from_bytes(const unsigned char *data, size_t len)
{
    if (data != NULL && len > 0 && data[0] == '-')
        return af_evidence_from_pem(data, len);
    return af_evidence_from_der(data, len);
}

size_t af_evidence_signature_count(const AF_EVIDENCE *ev)
{
    return ev == NULL ? 0 : (size_t)sk_AF_EV_SIGBLOCK_num(ev->sigs);
}

/* First element of type elem (or NULL) and first claim of type claim in it. */
static const AF_EV_ELEMENT *find_element(const AF_EVIDENCE *ev, af_oid_id elem, int nth)
{
    int i;

    for (i = 0; ev != NULL && i < sk_AF_EV_ELEMENT_num(ev->tbs->elements); i++) {
        const AF_EV_ELEMENT *e = sk_AF_EV_ELEMENT_value(ev->tbs->elements, i);

        if (af_ev_obj_is(e->type, elem) && nth-- == 0)
            return e;
    }
    return NULL;
}

static const ASN1_TYPE *find_claim(const AF_EV_ELEMENT *e, af_oid_id claim)
{
    int i;

    for (i = 0; e != NULL && i < sk_AF_EV_CLAIM_num(e->claims); i++) {
        const AF_EV_CLAIM *c = sk_AF_EV_CLAIM_value(e->claims, i);

        if (af_ev_obj_is(c->type, claim))
            return c->value;
    }
    return NULL;
}

const unsigned char *af_evidence_get0_nonce(const AF_EVIDENCE *ev, size_t *len)
{
    const ASN1_TYPE *v =
        find_claim(find_element(ev, AF_OID_EV_ELEM_TRANSACTION, 0), AF_OID_EV_TX_NONCE);

    if (v == NULL || v->type != V_ASN1_OCTET_STRING)
        return NULL;
    *len = (size_t)ASN1_STRING_length(v->value.octet_string);
    return ASN1_STRING_get0_data(v->value.octet_string);
}

/* A claim value as one line of text. */
static int value_text(const ASN1_TYPE *v, char *buf, size_t bufsize)
{
    int64_t l;

    if (v == NULL || bufsize == 0)
        return 0;
    switch (v->type) {
    case V_ASN1_UTF8STRING:
    case V_ASN1_OCTET_STRING:
    case V_ASN1_GENERALIZEDTIME: {
        const ASN1_STRING *s = v->value.asn1_string;
        int n = ASN1_STRING_length(s), i, printable = 1;
        const unsigned char *d = ASN1_STRING_get0_data(s);
        size_t o = 0;

        for (i = 0; i < n; i++)
            if (d[i] < 0x20 || d[i] > 0x7e)
                printable = 0;
        if (v->type == V_ASN1_OCTET_STRING && !printable) {
            for (i = 0; i < n && o + 3 < bufsize; i++)
                o += (size_t)snprintf(buf + o, bufsize - o, "%02x", d[i]);
            buf[o] = '\0';
        } else {
            snprintf(buf, bufsize, "%.*s", n, (const char *)d);
        }
        return 1;
    }
    case V_ASN1_INTEGER:
        if (!ASN1_INTEGER_get_int64(&l, v->value.integer)) {
            ERR_clear_error();
            snprintf(buf, bufsize, "(large integer)");
        } else {
            snprintf(buf, bufsize, "%lld", (long long)l);
        }
        return 1;
    case V_ASN1_BOOLEAN:
        snprintf(buf, bufsize, "%s", v->value.boolean ? "true" : "false");
        return 1;
    default:
        snprintf(buf, bufsize, "(%s)", ASN1_tag2str(v->type));
        return 1;
    }
}

int af_evidence_get_platform(const AF_EVIDENCE *ev, int claim, char *buf, size_t bufsize)
{
    const ASN1_TYPE *v = find_claim(find_element(ev, AF_OID_EV_ELEM_PLATFORM, 0), (af_oid_id)claim);

    return v != NULL && value_text(v, buf, bufsize);
}

size_t af_evidence_key_count(const AF_EVIDENCE *ev)
{
    size_t n = 0;

    while (find_element(ev, AF_OID_EV_ELEM_KEY, (int)n) != NULL)
        n++;
    return n;
}

static int bool_claim(const AF_EV_ELEMENT *e, af_oid_id id)
{
    const ASN1_TYPE *v = find_claim(e, id);

    if (v == NULL || v->type != V_ASN1_BOOLEAN)
        return -1;
    return v->value.boolean ? 1 : 0;
}

int af_ev_purposes_decode(const ASN1_TYPE *v, unsigned int *caps)
{
    AF_EV_PURPOSES *objs;
    const unsigned char *p;
    int i, len;

    *caps = 0;
    if (v == NULL || v->type != V_ASN1_SEQUENCE)
        return 0;
    p = ASN1_STRING_get0_data(v->value.sequence);
    len = ASN1_STRING_length(v->value.sequence);
    objs = (AF_EV_PURPOSES *)ASN1_item_d2i(NULL, &p, len, ASN1_ITEM_rptr(AF_EV_PURPOSES));
    if (objs == NULL) {
        ERR_clear_error();
        return 0;
    }
    for (i = 0; i < sk_ASN1_OBJECT_num(objs); i++) {
        int id = af_ev_obj_id(sk_ASN1_OBJECT_value(objs, i));

        if (id >= AF_OID_EV_CAP_ENCRYPT && id <= AF_OID_EV_CAP_DERIVE)
            *caps |= 1u << (id - AF_OID_EV_CAP_ENCRYPT);
    }
    sk_ASN1_OBJECT_pop_free(objs, ASN1_OBJECT_free);
    return 1;
}

ASN1_TYPE *af_ev_purposes_encode(unsigned int caps)
{
    AF_EV_PURPOSES *objs = sk_ASN1_OBJECT_new_null();
    ASN1_TYPE *t = NULL;
    ASN1_STRING *s = NULL;
    unsigned char *der = NULL;
    int i, n;

    if (objs == NULL)
        goto err;
    for (i = 0; i <= AF_OID_EV_CAP_DERIVE - AF_OID_EV_CAP_ENCRYPT; i++) {
        ASN1_OBJECT *o;

        if (!(caps & (1u << i)))
            continue;
        if ((o = af_ev_obj((af_oid_id)(AF_OID_EV_CAP_ENCRYPT + i))) == NULL ||
            !sk_ASN1_OBJECT_push(objs, o)) {
            ASN1_OBJECT_free(o);
            goto err;
        }
    }
    n = ASN1_item_i2d((ASN1_VALUE *)objs, &der, ASN1_ITEM_rptr(AF_EV_PURPOSES));
    if (n <= 0 || (s = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) == NULL ||
        !ASN1_STRING_set(s, der, n) || (t = ASN1_TYPE_new()) == NULL)
        goto err;
    ASN1_TYPE_set(t, V_ASN1_SEQUENCE, s);
    s = NULL;
err:
    if (t == NULL)
        AF_ERR(AF_R_MALLOC, "encoding the purpose claim");
    ASN1_STRING_free(s);
    OPENSSL_free(der);
    sk_ASN1_OBJECT_pop_free(objs, ASN1_OBJECT_free);
    return t;
}

int af_evidence_get_key(const AF_EVIDENCE *ev, size_t i, AF_KEY_CLAIMS *kc)
{
    const AF_EV_ELEMENT *e = find_element(ev, AF_OID_EV_ELEM_KEY, (int)i);
    const ASN1_TYPE *v;

    memset(kc, 0, sizeof(*kc));
    kc->extractable = kc->sensitive = kc->never_extractable = kc->local = -1;
    if (e == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no key element %zu", i);
        return 0;
    }
    v = find_claim(e, AF_OID_EV_KEY_IDENTIFIER);
    if (v != NULL && v->type == V_ASN1_UTF8STRING) {
        kc->identifier = OPENSSL_strndup((const char *)ASN1_STRING_get0_data(v->value.asn1_string),
                                         (size_t)ASN1_STRING_length(v->value.asn1_string));
        if (kc->identifier == NULL)
            goto oom;
    }
    v = find_claim(e, AF_OID_EV_KEY_SPKI);
    if (v != NULL && v->type == V_ASN1_OCTET_STRING) {
        kc->spki_len = (size_t)ASN1_STRING_length(v->value.octet_string);
        kc->spki = OPENSSL_memdup(ASN1_STRING_get0_data(v->value.octet_string),
                                  kc->spki_len == 0 ? 1 : kc->spki_len);
        if (kc->spki == NULL)
            goto oom;
    }
    kc->extractable = bool_claim(e, AF_OID_EV_KEY_EXTRACTABLE);
    kc->sensitive = bool_claim(e, AF_OID_EV_KEY_SENSITIVE);
    kc->never_extractable = bool_claim(e, AF_OID_EV_KEY_NEVER_EXTRACTABLE);
    kc->local = bool_claim(e, AF_OID_EV_KEY_LOCAL);
    kc->has_purpose = af_ev_purposes_decode(find_claim(e, AF_OID_EV_KEY_PURPOSE), &kc->purpose);
    return 1;
oom:
    af_key_claims_clear(kc);
    AF_ERR(AF_R_MALLOC, "reading key claims");
    return 0;
}

void af_key_claims_clear(AF_KEY_CLAIMS *kc)
{
    if (kc == NULL)
        return;
    OPENSSL_free(kc->identifier);
    OPENSSL_free(kc->spki);
    memset(kc, 0, sizeof(*kc));
}

static const char *oid_name(const ASN1_OBJECT *o, char *buf, size_t bufsize)
{
    int id = af_ev_obj_id(o);

    if (id >= 0)
        return af_oid_entry((af_oid_id)id)->sn;
    OBJ_obj2txt(buf, (int)bufsize, o, 1);
    return buf;
}

int af_evidence_print(BIO *out, const AF_EVIDENCE *ev)
{
    int i, j;
    int64_t version = -1;
    char nb[128], vb[512];

    if (ev == NULL)
        return 0;
    if (!ASN1_INTEGER_get_int64(&version, ev->tbs->version))
        ERR_clear_error();
    BIO_printf(out, "PKIX Evidence version %lld, %d element(s), %d signature(s)\n",
               (long long)version, sk_AF_EV_ELEMENT_num(ev->tbs->elements),
               sk_AF_EV_SIGBLOCK_num(ev->sigs));
    for (i = 0; i < sk_AF_EV_ELEMENT_num(ev->tbs->elements); i++) {
        const AF_EV_ELEMENT *e = sk_AF_EV_ELEMENT_value(ev->tbs->elements, i);

        BIO_printf(out, "  %s\n", oid_name(e->type, nb, sizeof(nb)));
        for (j = 0; j < sk_AF_EV_CLAIM_num(e->claims); j++) {
            const AF_EV_CLAIM *c = sk_AF_EV_CLAIM_value(e->claims, j);
            unsigned int caps;

            if (af_ev_obj_is(c->type, AF_OID_EV_KEY_PURPOSE) &&
                af_ev_purposes_decode(c->value, &caps)) {
                int k, first = 1;

                BIO_printf(out, "    %s:", oid_name(c->type, nb, sizeof(nb)));
                for (k = 0; k <= AF_OID_EV_CAP_DERIVE - AF_OID_EV_CAP_ENCRYPT; k++)
                    if (caps & (1u << k)) {
                        BIO_printf(out, "%s%s", first ? " " : ",",
                                   af_oid_entry((af_oid_id)(AF_OID_EV_CAP_ENCRYPT + k))->sn +
                                       strlen("id-ev-cap-"));
                        first = 0;
                    }
                BIO_printf(out, "\n");
                continue;
            }
            if (c->value == NULL)
                snprintf(vb, sizeof(vb), "(no value)");
            else
                value_text(c->value, vb, sizeof(vb));
            BIO_printf(out, "    %s: %s\n", oid_name(c->type, nb, sizeof(nb)), vb);
        }
    }
    for (i = 0; i < sk_AF_EV_SIGBLOCK_num(ev->sigs); i++) {
        const AF_EV_SIGBLOCK *s = sk_AF_EV_SIGBLOCK_value(ev->sigs, i);
        char an[80];

        OBJ_obj2txt(an, sizeof(an), s->alg->algorithm, 0);
        BIO_printf(out, "  signature %d: %s by %s", i, an,
                   s->sid->cert != NULL    ? "certificate"
                   : s->sid->spki != NULL  ? "spki"
                   : s->sid->keyid != NULL ? "keyId"
                                           : "nobody");
        if (s->sid->cert != NULL) {
            char *subj = X509_NAME_oneline(X509_get_subject_name(s->sid->cert), NULL, 0);

            BIO_printf(out, " %s", subj != NULL ? subj : "");
            OPENSSL_free(subj);
        }
        BIO_printf(out, "\n");
    }
    return 1;
}

int af_evidence_describes(const AF_EVIDENCE *ev, EVP_PKEY *key)
{
    unsigned char *spki = NULL;
    size_t len = 0, i, n = af_evidence_key_count(ev);
    int found = 0;

    if (key == NULL || !af_ev_spki_der(key, &spki, &len))
        return 0;
    for (i = 0; !found && i < n; i++) {
        const ASN1_TYPE *v =
            find_claim(find_element(ev, AF_OID_EV_ELEM_KEY, (int)i), AF_OID_EV_KEY_SPKI);

        found = v != NULL && v->type == V_ASN1_OCTET_STRING &&
                (size_t)ASN1_STRING_length(v->value.octet_string) == len &&
                memcmp(ASN1_STRING_get0_data(v->value.octet_string), spki, len) == 0;
    }
    OPENSSL_free(spki);
    return found;
}

STACK_OF(X509) * af_evidence_get1_signer_certs(const AF_EVIDENCE *ev)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    int i;

    for (i = 0; sk != NULL && ev != NULL && i < sk_AF_EV_SIGBLOCK_num(ev->sigs); i++) {
        X509 *c = sk_AF_EV_SIGBLOCK_value(ev->sigs, i)->sid->cert;

        if (c != NULL && !X509_add_cert(sk, c, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP)) {
            sk_X509_pop_free(sk, X509_free);
            sk = NULL;
        }
    }
    if (sk == NULL)
        AF_ERR(AF_R_MALLOC, "signer certificates");
    return sk;
}
