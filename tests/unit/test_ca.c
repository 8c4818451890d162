/* test_ca.c - the RA's local CA and enrollment decision with software keys: what an issued
 * certificate holds (subject, SAN, KU/EKU, random serial, chain), CRMF templates, refused CA
 * material; then af_ra_enroll on attested CSRs with the nonce consumed from the RA's store for
 * the transaction: accepted once, and refused by name and class for a changed nonce, a nonce of
 * another transaction, an expired nonce, a nonce used twice, Evidence about another key, an
 * untrusted AK, an AK certificate without the EKU, a key the default policy refuses, a CSR without
 * attestation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "attfresh/enroll.h"
#include "attfresh/oids.h"
#include "attfresh/server.h"
#include "testutil.h"

static EVP_PKEY *ca_key, *ak_key, *dev_key, *other_key, *rogue_key;
static X509 *ca_cert, *ak_cert, *rogue_ak_cert, *plain_ak_cert;
static uint64_t now_ms = 1800000000000ULL;
static char policy_path[64];

static uint64_t fake_clock(void *arg)
{
    (void)arg;
    return now_ms;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *v)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    int ok;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, v);
    ok = e != NULL && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int ca,
                       int ak)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();

    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_free(name);
    if (ca) {
        add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(x, x, NID_subject_key_identifier, "hash");
    }
    if (ak) {
        add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, issuer, NID_ext_key_usage, af_oid_text(AF_OID_KP_ATTESTATION_KEY));
    }
    X509_sign(x, issuer_key, EVP_sha256());
    return x;
}

static int setup(void)
{
    FILE *f;

    ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ak_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    dev_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    rogue_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (ca_key == NULL || ak_key == NULL || dev_key == NULL || other_key == NULL ||
        rogue_key == NULL)
        return 1;
    ca_cert = make_cert("test RA CA", ca_key, NULL, ca_key, 1, 0);
    ak_cert = make_cert("test AK", ak_key, ca_cert, ca_key, 0, 1);
    /* an AK certified by a CA the RA does not trust (self-made) */
    rogue_ak_cert = make_cert("rogue AK", ak_key, NULL, rogue_key, 0, 1);
    /* the right CA, but no id-kp-attestationKey: not an AK certificate */
    plain_ak_cert = make_cert("AK without the EKU", ak_key, ca_cert, ca_key, 0, 0);
    /* software keys have no PKCS#11 facts: a policy that does not ask for them */
    snprintf(policy_path, sizeof(policy_path), "/tmp/af-test-ca-policy-%ld", (long)getpid());
    if ((f = fopen(policy_path, "w")) == NULL)
        return 1;
    fputs("sensitive = any\nnever-extractable = any\nlocal = any\nextractable = any\n", f);
    fclose(f);
    return ca_cert == NULL || ak_cert == NULL || rogue_ak_cert == NULL || plain_ak_cert == NULL;
}

static int teardown(void)
{
    unlink(policy_path);
    X509_free(ca_cert);
    X509_free(ak_cert);
    X509_free(rogue_ak_cert);
    X509_free(plain_ak_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(ak_key);
    EVP_PKEY_free(dev_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(rogue_key);
    return 0;
}

static AF_CA *new_ca(void)
{
    AF_CA *ca = af_ca_new(NULL, NULL);

    CU_ASSERT_FATAL(ca != NULL);
    CU_ASSERT_FATAL(af_ca_set1(ca, ca_cert, ca_key));
    return ca;
}

/* A plain CSR (no attestation) with a SAN and a basicConstraints CA:TRUE the CA must ignore. */
static X509_REQ *plain_csr(EVP_PKEY *key)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();

    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"device-1", -1, -1,
                               0);
    X509_REQ_set_subject_name(req, name);
    X509_REQ_set_pubkey(req, key);
    sk_X509_EXTENSION_push(
        exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:device-1.example"));
    sk_X509_EXTENSION_push(
        exts, X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE"));
    X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_sign(req, key, EVP_sha256());
    X509_NAME_free(name);
    return req;
}

static int chain_ok(X509 *x)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok;

    X509_STORE_add_cert(st, ca_cert);
    X509_STORE_CTX_init(ctx, st, x, NULL);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    ok = X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return ok;
}

/* 1 when x's SubjectPublicKeyInfo is exactly spki (the request's bytes), and x read back from
 * its DER holds key. */
static int same_spki(X509 *x, const X509_PUBKEY *spki, EVP_PKEY *key)
{
    unsigned char *a = NULL, *b = NULL, *der = NULL;
    const unsigned char *p;
    int na = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &a);
    int nb = i2d_X509_PUBKEY(spki, &b), nd = i2d_X509(x, &der), ok;
    X509 *back;

    p = der;
    back = nd > 0 ? d2i_X509(NULL, &p, nd) : NULL;
    ok = na > 0 && na == nb && memcmp(a, b, (size_t)na) == 0 && back != NULL &&
         EVP_PKEY_eq(X509_get0_pubkey(back), key) == 1;
    X509_free(back);
    OPENSSL_free(a);
    OPENSSL_free(b);
    OPENSSL_free(der);
    return ok;
}

static void test_issue_from_csr(void)
{
    AF_CA *ca = new_ca();
    X509_REQ *req = plain_csr(dev_key);
    X509 *x = af_ca_issue_req(ca, req), *y = af_ca_issue_req(ca, req);
    const ASN1_INTEGER *sn;
    GENERAL_NAMES *san;
    BASIC_CONSTRAINTS *bc;

    CU_ASSERT_FATAL(x != NULL && y != NULL);
    CU_ASSERT(X509_NAME_cmp(X509_get_subject_name(x), X509_REQ_get_subject_name(req)) == 0);
    CU_ASSERT(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca_cert)) == 0);
    CU_ASSERT(EVP_PKEY_eq(X509_get0_pubkey(x), dev_key) == 1);
    CU_ASSERT(same_spki(x, X509_REQ_get_X509_PUBKEY(req), dev_key));
    CU_ASSERT(X509_verify(x, ca_key) == 1);
    CU_ASSERT(chain_ok(x));
    /* 128-bit positive random serials, different each time */
    sn = X509_get0_serialNumber(x);
    CU_ASSERT(ASN1_STRING_length(sn) == 16 && ASN1_STRING_type(sn) == V_ASN1_INTEGER);
    CU_ASSERT(ASN1_INTEGER_cmp(sn, X509_get0_serialNumber(y)) != 0);
    /* SAN copied; CA:TRUE asked for but the CA decides: CA:FALSE */
    san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    CU_ASSERT(san != NULL && sk_GENERAL_NAME_num(san) == 1);
    GENERAL_NAMES_free(san);
    bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    CU_ASSERT(bc != NULL && bc->ca == 0);
    BASIC_CONSTRAINTS_free(bc);
    CU_ASSERT(X509_check_ca(x) == 0);
    CU_ASSERT((X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE) != 0);
    CU_ASSERT((X509_get_key_usage(x) & KU_KEY_CERT_SIGN) == 0);
    CU_ASSERT((X509_get_extended_key_usage(x) & XKU_SSL_CLIENT) != 0);
    X509_free(x);
    X509_free(y);
    /* server profile: serverAuth instead */
    CU_ASSERT(af_ca_set_profile_name(ca, "server"));
    x = af_ca_issue_req(ca, req);
    CU_ASSERT(x != NULL && (X509_get_extended_key_usage(x) & XKU_SSL_SERVER) != 0 &&
              (X509_get_extended_key_usage(x) & XKU_SSL_CLIENT) == 0);
    X509_free(x);
    CU_ASSERT(!af_ca_set_profile_name(ca, "nonsense"));
    CU_ASSERT(!af_ca_set_days(ca, 0));
    ERR_clear_error();
    X509_REQ_free(req);
    af_ca_free(ca);
}

static void test_issue_from_crmf(void)
{
    AF_CA *ca = new_ca();
    OSSL_CRMF_MSG *msg = OSSL_CRMF_MSG_new();
    X509_NAME *name = X509_NAME_new();
    EVP_PKEY *pub;
    X509 *x, *y;

    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"crmf-dev", -1, -1,
                               0);
    CU_ASSERT_FATAL(
        OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(msg), dev_key, name, NULL, NULL));
    pub = af_crmf_get1_template_pubkey(msg, NULL, NULL);
    CU_ASSERT(pub != NULL && EVP_PKEY_eq(pub, dev_key) == 1);
    EVP_PKEY_free(pub);
    x = af_ca_issue_crmf(ca, msg);
    CU_ASSERT(x != NULL && X509_NAME_cmp(X509_get_subject_name(x), name) == 0 &&
              EVP_PKEY_eq(X509_get0_pubkey(x), dev_key) == 1 && chain_ok(x));
    y = make_cert("spki", dev_key, NULL, dev_key, 0, 0);
    CU_ASSERT(x != NULL && y != NULL && same_spki(x, X509_get_X509_PUBKEY(y), dev_key));
    X509_free(y);
    X509_free(x);
    X509_NAME_free(name);
    OSSL_CRMF_MSG_free(msg);
    af_ca_free(ca);
}

/* The certificate's key is the request's SubjectPublicKeyInfo, byte for byte, from every way in
 * (PKCS#10, CRMF, a key object), and the certificate object holds that key; an RSA key also gets
 * keyEncipherment; a template whose key does not decode is refused. */
static void test_issue_keeps_spki(void)
{
    /* CertReqMsg { certReq { certReqId 0, certTemplate { publicKey [6] { {1.2.3.4}, '000102'H
     * } } } }: a key nobody can decode */
    static const unsigned char bogus[] = {0x30, 0x15, 0x30, 0x13, 0x02, 0x01, 0x00, 0x30,
                                          0x0e, 0xa6, 0x0c, 0x30, 0x05, 0x06, 0x03, 0x2a,
                                          0x03, 0x04, 0x03, 0x03, 0x00, 0x01, 0x02};
    const unsigned char *p = bogus;
    AF_CA *ca = new_ca();
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    X509_REQ *req = rsa != NULL ? plain_csr(rsa) : NULL;
    X509_PUBKEY *xpk = NULL;
    X509_NAME *name = X509_NAME_new();
    OSSL_CRMF_MSG *msg;
    X509 *x;

    CU_ASSERT_FATAL(req != NULL && name != NULL);
    x = af_ca_issue_req(ca, req);
    CU_ASSERT(x != NULL && same_spki(x, X509_REQ_get_X509_PUBKEY(req), rsa) && chain_ok(x));
    CU_ASSERT(x != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), rsa) == 1);
    CU_ASSERT(x != NULL && (X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT) != 0);
    X509_free(x);
    /* from a key object */
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"key-object", -1,
                               -1, 0);
    CU_ASSERT_FATAL(X509_PUBKEY_set(&xpk, dev_key));
    x = af_ca_issue(ca, name, dev_key, NULL);
    CU_ASSERT(x != NULL && same_spki(x, xpk, dev_key) && chain_ok(x));
    CU_ASSERT(x != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), dev_key) == 1);
    CU_ASSERT(x != NULL && (X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT) == 0);
    X509_free(x);
    /* an undecodable template key */
    msg = d2i_OSSL_CRMF_MSG(NULL, &p, sizeof(bogus));
    CU_ASSERT_FATAL(msg != NULL);
    ERR_clear_error();
    CU_ASSERT(af_ca_issue_crmf(ca, msg) == NULL);
    CU_ASSERT(ERR_peek_error() != 0);
    ERR_clear_error();
    OSSL_CRMF_MSG_free(msg);
    X509_PUBKEY_free(xpk);
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(rsa);
    af_ca_free(ca);
}

static void test_bad_ca_material(void)
{
    AF_CA *ca = af_ca_new(NULL, NULL);
    X509_REQ *req = plain_csr(dev_key);

    CU_ASSERT(!af_ca_set1(ca, ca_cert, other_key)); /* key of another certificate */
    CU_ASSERT(!af_ca_set1(ca, ak_cert, ak_key));    /* not a CA certificate */
    ERR_clear_error();
    CU_ASSERT(af_ca_issue_req(ca, req) == NULL); /* nothing configured */
    ERR_clear_error();
    X509_REQ_free(req);
    af_ca_free(ca);
}

/* ---- the decision ---------------------------------------------------------------------------- */

static AF_RA *new_ra(int with_enroll)
{
    AF_RA_CONFIG cfg;
    AF_RA *ra;
    AF_RA_ENROLL *e;

    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.ratelimit = 0;
    cfg.store.clock = fake_clock;
    ra = af_ra_new(&cfg);
    CU_ASSERT_FATAL(ra != NULL);
    if (with_enroll) {
        e = af_ra_enroll_new(NULL, NULL);
        CU_ASSERT_FATAL(e != NULL);
        CU_ASSERT_FATAL(af_ra_enroll_set0_ca(e, new_ca()));
        CU_ASSERT_FATAL(af_ra_enroll_add1_trust(e, ca_cert));
        CU_ASSERT_FATAL(af_ra_enroll_load_policy(e, policy_path));
        CU_ASSERT_FATAL(af_ra_set0_enroll(ra, e));
        CU_ASSERT(af_ra_get0_enroll(ra) == e);
    }
    return ra;
}

static void free_ra(AF_RA *ra)
{
    CU_ASSERT(af_ra_set0_enroll(ra, NULL));
    CU_ASSERT(af_ra_get0_enroll(ra) == NULL);
    af_ra_free(ra);
}

static void issue(AF_RA *ra, const unsigned char *nonce, const char *binding, uint32_t ttl)
{
    CU_ASSERT_FATAL(af_nonce_store_issue(af_ra_get0_store(ra), nonce, 16,
                                         (const unsigned char *)binding, strlen(binding),
                                         (const unsigned char *)"client", 6, ttl,
                                         NULL) == AF_NONCE_OK);
}

/* An attested CSR for key, with Evidence about described (normally key) signed by the AK. */
static X509_REQ *attested_csr(EVP_PKEY *key, EVP_PKEY *described, X509 *akc,
                              const unsigned char *nonce)
{
    AF_ATTEST *at = af_attest_new(NULL, NULL);
    AF_EVIDENCE *ev;
    AF_BUNDLE *b = af_bundle_new();
    X509_REQ *req = NULL;

    CU_ASSERT_FATAL(at != NULL && b != NULL);
    CU_ASSERT_FATAL(af_attest_set1_nonce(at, nonce, 16));
    CU_ASSERT_FATAL(af_attest_add_key(at, described, "soft:device-key", NULL));
    CU_ASSERT_FATAL(af_attest_set1_ak(at, ak_key, akc));
    ev = af_attest_sign(at);
    CU_ASSERT_FATAL(ev != NULL);
    CU_ASSERT_FATAL(af_bundle_add_evidence(b, ev));
    if (X509_self_signed(akc, 0) != 1)
        CU_ASSERT_FATAL(af_bundle_add1_cert(b, akc));
    req = af_csr_new(key, "/CN=device-1", "DNS:device-1.example", b, NULL, NULL);
    CU_ASSERT_FATAL(req != NULL);
    af_bundle_free(b);
    af_evidence_free(ev);
    af_attest_free(at);
    return req;
}

/* Runs the decision and checks the outcome: NULL check = accepted. */
static void expect(AF_RA *ra, X509_REQ *req, const char *binding, const char *check,
                   af_enroll_class cls, const char *why_part)
{
    AF_ENROLL_RESULT res;
    X509 *x = af_ra_enroll(ra, req, NULL, (const unsigned char *)binding,
                           binding != NULL ? strlen(binding) : 0, &res, NULL);

    if (check == NULL) {
        CU_ASSERT(x != NULL && res.cls == AF_ENROLL_OK);
        CU_ASSERT(x != NULL && chain_ok(x));
        if (x == NULL)
            fprintf(stderr, "unexpected refusal: %s\n", res.why);
    } else {
        CU_ASSERT(x == NULL);
        CU_ASSERT(strcmp(res.check, check) == 0);
        CU_ASSERT(res.cls == cls);
        CU_ASSERT(why_part == NULL || strstr(res.why, why_part) != NULL);
        if (x != NULL || strcmp(res.check, check) != 0 || res.cls != cls ||
            (why_part != NULL && strstr(res.why, why_part) == NULL))
            fprintf(stderr, "want %s/%s (%s), got %s/%s: %s\n", check, af_enroll_class_str(cls),
                    why_part != NULL ? why_part : "-", res.check, af_enroll_class_str(res.cls),
                    res.why);
    }
    CU_ASSERT(ERR_peek_error() == 0);
    X509_free(x);
}

static void test_enroll_accept_once(void)
{
    AF_RA *ra = new_ra(1);
    const unsigned char n1[16] = "nonce-0000000001";
    X509_REQ *req = attested_csr(dev_key, dev_key, ak_cert, n1);

    issue(ra, n1, "tx-1", 300);
    expect(ra, req, "tx-1", NULL, AF_ENROLL_OK, NULL);
    /* the same CSR again: the nonce is used up */
    expect(ra, req, "tx-1", AF_CHECK_NONCE, AF_ENROLL_NOT_AUTHORIZED, "already used");
    X509_REQ_free(req);
    free_ra(ra);
}

static void test_enroll_nonce_refusals(void)
{
    AF_RA *ra = new_ra(1);
    const unsigned char n2[16] = "nonce-0000000002", n3[16] = "nonce-0000000003";
    const unsigned char changed[16] = "nonce-000000000X";
    X509_REQ *req;

    issue(ra, n2, "tx-2", 300);
    /* a nonce the RA never issued (changed on the way) */
    req = attested_csr(dev_key, dev_key, ak_cert, changed);
    expect(ra, req, "tx-2", AF_CHECK_NONCE, AF_ENROLL_NOT_AUTHORIZED, "not issued");
    X509_REQ_free(req);
    /* the right nonce in another transaction: refused, and not used up by that */
    req = attested_csr(dev_key, dev_key, ak_cert, n2);
    expect(ra, req, "tx-other", AF_CHECK_NONCE, AF_ENROLL_NOT_AUTHORIZED, "another transaction");
    /* no binding at all (EST without the cookie) */
    expect(ra, req, NULL, AF_CHECK_NONCE, AF_ENROLL_NOT_AUTHORIZED, "not bound");
    expect(ra, req, "tx-2", NULL, AF_ENROLL_OK, NULL);
    X509_REQ_free(req);
    /* expired: the clock moves past the expiry */
    issue(ra, n3, "tx-3", 60);
    req = attested_csr(dev_key, dev_key, ak_cert, n3);
    now_ms += 61 * 1000;
    expect(ra, req, "tx-3", AF_CHECK_NONCE, AF_ENROLL_NOT_AUTHORIZED, "expired");
    X509_REQ_free(req);
    free_ra(ra);
}

static void test_enroll_evidence_refusals(void)
{
    AF_RA *ra = new_ra(1), *bare = new_ra(0);
    const unsigned char n4[16] = "nonce-0000000004", n5[16] = "nonce-0000000005";
    X509_REQ *req;
    AF_RA_ENROLL *e;

    issue(ra, n4, "tx-4", 300);
    /* Evidence about another key than the CSR's */
    req = attested_csr(dev_key, other_key, ak_cert, n4);
    expect(ra, req, "tx-4", AF_CHECK_KEY_BINDING, AF_ENROLL_BAD_REQUEST, NULL);
    X509_REQ_free(req);
    /* an AK the RA does not trust */
    req = attested_csr(dev_key, dev_key, rogue_ak_cert, n4);
    expect(ra, req, "tx-4", AF_CHECK_AK_CHAIN, AF_ENROLL_NOT_AUTHORIZED, NULL);
    X509_REQ_free(req);
    /* an AK certificate without the EKU */
    req = attested_csr(dev_key, dev_key, plain_ak_cert, n4);
    expect(ra, req, "tx-4", AF_CHECK_AK_USAGE, AF_ENROLL_NOT_AUTHORIZED, NULL);
    X509_REQ_free(req);
    /* the CSR's key swapped after signing: its self-signature no longer verifies */
    req = attested_csr(dev_key, dev_key, ak_cert, n4);
    CU_ASSERT_FATAL(X509_REQ_set_pubkey(req, other_key));
    expect(ra, req, "tx-4", AF_CHECK_CSR_SIGNATURE, AF_ENROLL_BAD_POP, NULL);
    X509_REQ_free(req);
    /* a CSR without attestation */
    req = plain_csr(dev_key);
    expect(ra, req, "tx-4", AF_CHECK_ATTRIBUTE, AF_ENROLL_BAD_REQUEST, NULL);
    /* an RA without a CA */
    expect(bare, req, "tx-4", "config", AF_ENROLL_NOT_CONFIGURED, "no CA");
    X509_REQ_free(req);
    /* none of the refusals used the nonce up: it still enrolls */
    req = attested_csr(dev_key, dev_key, ak_cert, n4);
    expect(ra, req, "tx-4", NULL, AF_ENROLL_OK, NULL);
    X509_REQ_free(req);
    free_ra(ra);
    /* the default policy wants PKCS#11 facts a software key cannot give */
    ra = new_ra(0);
    e = af_ra_enroll_new(NULL, NULL);
    CU_ASSERT_FATAL(e != NULL && af_ra_enroll_set0_ca(e, new_ca()) &&
                    af_ra_enroll_add1_trust(e, ca_cert) && af_ra_set0_enroll(ra, e));
    issue(ra, n5, "tx-5", 300);
    req = attested_csr(dev_key, dev_key, ak_cert, n5);
    expect(ra, req, "tx-5", AF_CHECK_POLICY, AF_ENROLL_NOT_AUTHORIZED, NULL);
    X509_REQ_free(req);
    free_ra(ra);
    free_ra(bare);
}

AF_TEST_MAIN("ca", setup, teardown, {"issue from a PKCS#10", test_issue_from_csr},
             {"issue from a CRMF template", test_issue_from_crmf},
             {"issued key is the request's SPKI", test_issue_keeps_spki},
             {"refused CA material", test_bad_ca_material},
             {"enroll: accepted once", test_enroll_accept_once},
             {"enroll: nonce refusals", test_enroll_nonce_refusals},
             {"enroll: Evidence and policy refusals", test_enroll_evidence_refusals})
