/* ev_bundle.c - AttestationBundle (csr-attestation): building, strict decoding (also the
 * verifier's reading, which takes certificates it already holds instead of decoding them again),
 * and telling the earlier EvidenceBundle layouts apart so a verifier can say what it was given. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "attfresh/err.h"
#include "evidence/ev_local.h"

AF_BUNDLE *af_bundle_new(void)
{
    AF_BUNDLE *b = (AF_BUNDLE *)ASN1_item_new(ASN1_ITEM_rptr(AF_BUNDLE));

    if (b == NULL)
        AF_ERR(AF_R_MALLOC, "attestation bundle");
    return b;
}

void af_bundle_free(AF_BUNDLE *b)
{
    ASN1_item_free((ASN1_VALUE *)b, ASN1_ITEM_rptr(AF_BUNDLE));
}

int af_bundle_add_evidence(AF_BUNDLE *b, const AF_EVIDENCE *ev)
{
    AF_ATT_STATEMENT *st = NULL;
    ASN1_STRING *seq = NULL;
    unsigned char *der = NULL;
    size_t len = 0;

    if (b == NULL || !af_evidence_to_der(ev, &der, &len))
        return 0;
    if (sk_AF_ATT_STATEMENT_num(b->statements) >= AF_BUNDLE_MAX_STATEMENTS) {
        AF_ERR(AF_R_TOO_LARGE, "at most %d statements per bundle", AF_BUNDLE_MAX_STATEMENTS);
        goto err;
    }
    /* stmt ANY holds the Evidence SEQUENCE as it is: V_ASN1_SEQUENCE keeps the whole TLV. */
    if ((st = AF_ATT_STATEMENT_new()) == NULL || (st->type = af_ev_obj(AF_OID_EVIDENCE)) == NULL ||
        (seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) == NULL ||
        !ASN1_STRING_set(seq, der, (int)len)) {
        AF_ERR(AF_R_MALLOC, "attestation statement");
        goto err;
    }
    ASN1_TYPE_set(st->stmt, V_ASN1_SEQUENCE, seq);
    seq = NULL;
    if (!sk_AF_ATT_STATEMENT_push(b->statements, st)) {
        AF_ERR(AF_R_MALLOC, "attestation statement");
        goto err;
    }
    OPENSSL_free(der);
    return 1;
err:
    ASN1_STRING_free(seq);
    AF_ATT_STATEMENT_free(st);
    OPENSSL_free(der);
    return 0;
}

int af_bundle_add1_cert(AF_BUNDLE *b, X509 *cert)
{
    AF_CERT_CHOICE *c;

    if (b == NULL || cert == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no certificate");
        return 0;
    }
    if (b->certs == NULL && (b->certs = sk_AF_CERT_CHOICE_new_null()) == NULL)
        goto oom;
    if (sk_AF_CERT_CHOICE_num(b->certs) >= AF_BUNDLE_MAX_CERTS) {
        AF_ERR(AF_R_TOO_LARGE, "at most %d certificates per bundle", AF_BUNDLE_MAX_CERTS);
        return 0;
    }
    if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL)
        goto oom;
    c->type = 0;
    if (!X509_up_ref(cert)) {
        OPENSSL_free(c);
        goto oom;
    }
    c->d.cert = cert;
    if (!sk_AF_CERT_CHOICE_push(b->certs, c)) {
        AF_CERT_CHOICE_free(c);
        goto oom;
    }
    return 1;
oom:
    AF_ERR(AF_R_MALLOC, "bundle certificate");
    return 0;
}

int af_bundle_to_der(const AF_BUNDLE *b, unsigned char **der, size_t *len)
{
    int n;

    *der = NULL;
    if (b == NULL || sk_AF_ATT_STATEMENT_num(b->statements) == 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "an attestation bundle needs at least one statement");
        return 0;
    }
    n = ASN1_item_i2d((const ASN1_VALUE *)b, der, ASN1_ITEM_rptr(AF_BUNDLE));
    if (n <= 0) {
        AF_ERR(AF_R_INTERNAL, "cannot encode the attestation bundle");
        return 0;
    }
    *len = (size_t)n;
    return 1;
}

static int count_ok(const AF_BUNDLE *b)
{
    int n = sk_AF_ATT_STATEMENT_num(b->statements);

    if (n < 1 || n > AF_BUNDLE_MAX_STATEMENTS) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "bundle has %d statements (1..%d)", n,
               AF_BUNDLE_MAX_STATEMENTS);
        return 0;
    }
    if (b->certs != NULL && (sk_AF_CERT_CHOICE_num(b->certs) < 1 ||
                             sk_AF_CERT_CHOICE_num(b->certs) > AF_BUNDLE_MAX_CERTS)) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "bundle has %d certificates (1..%d)",
               sk_AF_CERT_CHOICE_num(b->certs), AF_BUNDLE_MAX_CERTS);
        return 0;
    }
    return 1;
}

/* Hints of an earlier-layout statement list, appended to desc. */
static void add_statements(char *desc, size_t size, const STACK_OF(AF_OLD_STATEMENT) * sts,
                           int *nstmt, int *nhint)
{
    int i;

    for (i = 0; i < sk_AF_OLD_STATEMENT_num(sts); i++) {
        const AF_OLD_STATEMENT *s = sk_AF_OLD_STATEMENT_value(sts, i);
        char oid[80];
        size_t o = strlen(desc);

        (*nstmt)++;
        OBJ_obj2txt(oid, sizeof(oid), s->type, 1);
        if (o + 1 >= size)
            return;
        if (s->hint != NULL) {
            (*nhint)++;
            snprintf(desc + o, size - o, "%s%s hint '%.*s'", *nstmt > 1 ? "; " : ": ", oid,
                     ASN1_STRING_length(s->hint) > 64 ? 64 : ASN1_STRING_length(s->hint),
                     (const char *)ASN1_STRING_get0_data(s->hint));
        } else {
            snprintf(desc + o, size - o, "%s%s", *nstmt > 1 ? "; " : ": ", oid);
        }
    }
}

/* The earlier layouts, with their SIZE (1..MAX) constraints. */
static AF_OLD_BUNDLE *old_bundle(const unsigned char *der, size_t len)
{
    AF_OLD_BUNDLE *ob =
        (AF_OLD_BUNDLE *)af_ev_d2i_strict(ASN1_ITEM_rptr(AF_OLD_BUNDLE), der, len, "bundle");

    if (ob != NULL && (sk_AF_OLD_STATEMENT_num(ob->statements) < 1 ||
                       (ob->certs != NULL && sk_AF_CERT_CHOICE_num(ob->certs) < 1))) {
        AF_OLD_BUNDLE_free(ob);
        ob = NULL;
    }
    return ob;
}

static AF_OLD_BUNDLES *old_bundles(const unsigned char *der, size_t len)
{
    AF_OLD_BUNDLES *obs =
        (AF_OLD_BUNDLES *)af_ev_d2i_strict(ASN1_ITEM_rptr(AF_OLD_BUNDLES), der, len, "bundle");
    int i, ok = obs != NULL && sk_AF_OLD_BUNDLE_num(obs) >= 1;

    for (i = 0; ok && i < sk_AF_OLD_BUNDLE_num(obs); i++) {
        const AF_OLD_BUNDLE *ob = sk_AF_OLD_BUNDLE_value(obs, i);

        ok = sk_AF_OLD_STATEMENT_num(ob->statements) >= 1 &&
             (ob->certs == NULL || sk_AF_CERT_CHOICE_num(ob->certs) >= 1);
    }
    if (!ok) {
        AF_OLD_BUNDLES_free(obs);
        obs = NULL;
    }
    return obs;
}

int af_bundle_describe_layout(const unsigned char *der, size_t len, char *desc, size_t descsize)
{
    AF_BUNDLE *b;
    AF_OLD_BUNDLE *ob;
    AF_OLD_BUNDLES *obs;
    char list[512] = "";
    int nstmt = 0, nhint = 0, i, layout = 0;

    ERR_set_mark();
    b = (AF_BUNDLE *)af_ev_d2i_strict(ASN1_ITEM_rptr(AF_BUNDLE), der, len, "bundle");
    if (b != NULL && !count_ok(b)) {
        af_bundle_free(b);
        b = NULL;
    }
    if (b != NULL) {
        snprintf(desc, descsize,
                 "AttestationBundle (current csr-attestation layout): %d "
                 "statement(s), %d certificate(s)",
                 sk_AF_ATT_STATEMENT_num(b->statements),
                 b->certs != NULL ? sk_AF_CERT_CHOICE_num(b->certs) : 0);
        af_bundle_free(b);
        layout = AF_LAYOUT_BUNDLE;
    } else if ((ob = old_bundle(der, len)) != NULL) {
        add_statements(list, sizeof(list), ob->statements, &nstmt, &nhint);
        snprintf(desc, descsize,
                 "EvidenceBundle (earlier csr-attestation layout, statements with hints): %d "
                 "statement(s), %d hint(s)%s",
                 nstmt, nhint, list);
        AF_OLD_BUNDLE_free(ob);
        layout = AF_LAYOUT_EVIDENCE_BUNDLE;
    } else if ((obs = old_bundles(der, len)) != NULL) {
        for (i = 0; i < sk_AF_OLD_BUNDLE_num(obs); i++)
            add_statements(list, sizeof(list), sk_AF_OLD_BUNDLE_value(obs, i)->statements, &nstmt,
                           &nhint);
        snprintf(desc, descsize,
                 "EvidenceBundles (earlier csr-attestation layout): %d bundle(s), %d "
                 "statement(s), %d hint(s)%s",
                 sk_AF_OLD_BUNDLE_num(obs), nstmt, nhint, list);
        AF_OLD_BUNDLES_free(obs);
        layout = AF_LAYOUT_EVIDENCE_BUNDLES;
    } else {
        snprintf(desc, descsize, "not an AttestationBundle nor an earlier EvidenceBundle layout");
    }
    ERR_pop_to_mark();
    return layout;
}

AF_BUNDLE *af_bundle_from_der(const unsigned char *der, size_t len)
{
    AF_BUNDLE *b;
    char desc[640];
    int layout;

    if (len > AF_BUNDLE_MAX_DER) {
        AF_ERR(AF_R_TOO_LARGE, "attestation bundle of %zu bytes (at most %d)", len,
               AF_BUNDLE_MAX_DER);
        return NULL;
    }
    b = (AF_BUNDLE *)af_ev_d2i_strict(ASN1_ITEM_rptr(AF_BUNDLE), der, len, "attestation bundle");
    if (b != NULL) {
        if (!count_ok(b)) {
            af_bundle_free(b);
            return NULL;
        }
        return b;
    }
    /* Not the current layout: say what it is when we can. */
    ERR_set_mark();
    layout = af_bundle_describe_layout(der, len, desc, sizeof(desc));
    if (layout == AF_LAYOUT_EVIDENCE_BUNDLE || layout == AF_LAYOUT_EVIDENCE_BUNDLES) {
        ERR_clear_last_mark();
        ERR_clear_error();
        AF_ERR(AF_R_EVIDENCE_DECODE, "%s; not supported, ask for a current-layout CSR", desc);
    } else {
        ERR_pop_to_mark();
    }
    return NULL;
}

/* ---- the verifier's reading: certificates as bytes first ----------------------------------- *
 * OpenSSL 3.0 decodes every certificate's public key through a new OSSL_DECODER_CTX (about 0.1
 * ms); an RA sees the same AK certificate in every bundle of a station. So the bundle is read with
 * each certificate kept as its TLV, and a certificate the caller already holds with exactly these
 * bytes is taken from it (find); the others are decoded, DER only, as the ordinary reading does.
 * Anything unusual (an "other" certificate format, too many certificates, a certificate that does
 * not decode) takes the ordinary path, which reports why. */
typedef struct {
    STACK_OF(AF_ATT_STATEMENT) * statements;
    STACK_OF(ASN1_STRING) * certs; /* OPTIONAL; each Certificate TLV as received */
} BUNDLE_RAW;
static const ASN1_ITEM *BUNDLE_RAW_it(void); /* template at the end of the file */

/* One certificate: the holder's object for these exact bytes, or the bytes decoded - DER only
 * (re-encoding gives them back) and nothing after it. NULL when they are no certificate. */
static X509 *cert_of(const ASN1_STRING *raw, af_ev_cert_find find, void *arg)
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

/* The raw reading turned into an AF_BUNDLE (statements moved out of raw); NULL on anything the
 * ordinary path should judge. */
static AF_BUNDLE *bundle_from_raw(BUNDLE_RAW *raw, af_ev_cert_find find, void *arg)
{
    AF_BUNDLE *b;
    int i;

    if (raw->certs != NULL && sk_ASN1_STRING_num(raw->certs) > AF_BUNDLE_MAX_CERTS)
        return NULL;
    if ((b = (AF_BUNDLE *)ASN1_item_new(ASN1_ITEM_rptr(AF_BUNDLE))) == NULL)
        return NULL;
    sk_AF_ATT_STATEMENT_pop_free(b->statements, AF_ATT_STATEMENT_free);
    b->statements = raw->statements;
    raw->statements = NULL;
    if (raw->certs != NULL && (b->certs = sk_AF_CERT_CHOICE_new_null()) == NULL)
        goto err;
    for (i = 0; i < sk_ASN1_STRING_num(raw->certs); i++) {
        AF_CERT_CHOICE *c = OPENSSL_zalloc(sizeof(*c));

        if (c == NULL ||
            (c->d.cert = cert_of(sk_ASN1_STRING_value(raw->certs, i), find, arg)) == NULL) {
            OPENSSL_free(c);
            goto err;
        }
        c->type = 0;
        if (!sk_AF_CERT_CHOICE_push(b->certs, c)) {
            AF_CERT_CHOICE_free(c);
            goto err;
        }
    }
    return b;
err:
    af_bundle_free(b);
    return NULL;
}

AF_BUNDLE *af_ev_bundle_from_der_find(const unsigned char *der, size_t len, af_ev_cert_find find,
                                      void *arg)
{
    BUNDLE_RAW *raw;
    AF_BUNDLE *b = NULL;

    if (find == NULL || len > AF_BUNDLE_MAX_DER)
        return af_bundle_from_der(der, len);
    ERR_set_mark();
    raw =
        (BUNDLE_RAW *)af_ev_d2i_strict(ASN1_ITEM_rptr(BUNDLE_RAW), der, len, "attestation bundle");
    if (raw != NULL)
        b = bundle_from_raw(raw, find, arg);
    ASN1_item_free((ASN1_VALUE *)raw, ASN1_ITEM_rptr(BUNDLE_RAW));
    ERR_pop_to_mark();
    if (b == NULL)
        return af_bundle_from_der(der, len);
    if (!count_ok(b)) {
        af_bundle_free(b);
        return NULL;
    }
    return b;
}

size_t af_bundle_statement_count(const AF_BUNDLE *b)
{
    return b == NULL ? 0 : (size_t)sk_AF_ATT_STATEMENT_num(b->statements);
}

int af_bundle_statement_type(const AF_BUNDLE *b, size_t i)
{
    if (b == NULL || i >= (size_t)sk_AF_ATT_STATEMENT_num(b->statements))
        return -1;
    return af_ev_obj_id(sk_AF_ATT_STATEMENT_value(b->statements, (int)i)->type);
}

AF_EVIDENCE *af_bundle_get1_evidence(const AF_BUNDLE *b, size_t i)
{
    return af_ev_bundle_get1_evidence_find(b, i, NULL, NULL);
}

AF_EVIDENCE *af_ev_bundle_get1_evidence_find(const AF_BUNDLE *b, size_t i, af_ev_cert_find find,
                                             void *arg)
{
    const AF_ATT_STATEMENT *st;

    if (b == NULL || i >= (size_t)sk_AF_ATT_STATEMENT_num(b->statements)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no statement %zu", i);
        return NULL;
    }
    st = sk_AF_ATT_STATEMENT_value(b->statements, (int)i);
    if (!af_ev_obj_is(st->type, AF_OID_EVIDENCE)) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "statement %zu is not PKIX Evidence", i);
        return NULL;
    }
    if (st->stmt == NULL || st->stmt->type != V_ASN1_SEQUENCE) {
        AF_ERR(AF_R_EVIDENCE_DECODE, "statement %zu: Evidence is not a SEQUENCE", i);
        return NULL;
    }
    return af_ev_from_der_find(ASN1_STRING_get0_data(st->stmt->value.sequence),
                               (size_t)ASN1_STRING_length(st->stmt->value.sequence), find, arg);
}

STACK_OF(X509) * af_bundle_get1_certs(const AF_BUNDLE *b)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    int i;

    if (sk == NULL)
        goto oom;
    for (i = 0; b != NULL && i < sk_AF_CERT_CHOICE_num(b->certs); i++) {
        const AF_CERT_CHOICE *c = sk_AF_CERT_CHOICE_value(b->certs, i);

        if (c->type != 0)
            continue; /* other certificate formats cannot be AK chain links */
        if (!X509_add_cert(sk, c->d.cert, X509_ADD_FLAG_UP_REF))
            goto oom;
    }
    return sk;
oom:
    sk_X509_pop_free(sk, X509_free);
    AF_ERR(AF_R_MALLOC, "bundle certificates");
    return NULL;
}

/* The template macros read best one field per line. */
// clang-format off
ASN1_SEQUENCE(BUNDLE_RAW) = {
    ASN1_SEQUENCE_OF(BUNDLE_RAW, statements, AF_ATT_STATEMENT),
    ASN1_SEQUENCE_OF_OPT(BUNDLE_RAW, certs, ASN1_SEQUENCE),
} static_ASN1_SEQUENCE_END(BUNDLE_RAW)
