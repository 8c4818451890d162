/* test_evidence.c - nonce-bound Evidence and attested CSRs with software keys: build/sign/verify
 * round trips for every AK algorithm, DER round trips, and each rejection the RA must make
 * (named by its check), plus the earlier csr-attestation layouts and the policy file format. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "attfresh/err.h"
#include "attfresh/evidence.h"
#include "attfresh/oids.h"
#include "attfresh/ra.h"
#include "evidence/ev_local.h"
#include "testutil.h"

static const unsigned char NONCE[16] = {0x6e, 0x6f, 0x6e, 0x63, 0x65, 0x2d, 0x30, 0x31,
                                        0x02, 0x03, 0x05, 0x07, 0x0b, 0x0d, 0x11, 0x13};
static const unsigned char OTHER_NONCE[16] = {0x6e, 0x6f, 0x6e, 0x63, 0x65, 0x2d, 0x30, 0x32,
                                              0x02, 0x03, 0x05, 0x07, 0x0b, 0x0d, 0x11, 0x13};

static EVP_PKEY *ca_key, *ca2_key, *ak_key, *subj_key, *other_key;
static X509 *ca_cert, *ca2_cert, *ak_cert, *ak_cert_noeku, *ak_cert_ca2;

/* ---- fixtures ------------------------------------------------------------------------------- */
static EVP_PKEY *gen(const char *alg)
{
    if (strcmp(alg, "P-256") == 0 || strcmp(alg, "P-384") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", alg);
    if (strcmp(alg, "RSA") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    return EVP_PKEY_Q_keygen(NULL, NULL, alg);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    int ok;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if ((e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
        return 0;
    ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

/* A certificate for key signed by issuer (self-signed when issuer is NULL). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int ca,
                       int eku, int ku)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    static long serial = 1;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    if (ca) {
        add_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer != NULL ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        if (ku)
            add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        if (eku)
            add_ext(x, issuer, NID_ext_key_usage, af_oid_text(AF_OID_KP_ATTESTATION_KEY));
    }
    X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256());
    X509_NAME_free(n);
    return x;
}

static int setup(void)
{
    ca_key = gen("P-256");
    ca2_key = gen("P-256");
    ak_key = gen("P-256");
    subj_key = gen("P-256");
    other_key = gen("P-256");
    ca_cert = make_cert("Test AK CA", ca_key, NULL, NULL, 1, 0, 0);
    ca2_cert = make_cert("Other CA", ca2_key, NULL, NULL, 1, 0, 0);
    ak_cert = make_cert("Test AK", ak_key, ca_cert, ca_key, 0, 1, 1);
    ak_cert_noeku = make_cert("Test AK without EKU", ak_key, ca_cert, ca_key, 0, 0, 1);
    ak_cert_ca2 = make_cert("Test AK of other CA", ak_key, ca2_cert, ca2_key, 0, 1, 1);
    return ca_cert != NULL && ca2_cert != NULL && ak_cert != NULL && ak_cert_noeku != NULL &&
                   ak_cert_ca2 != NULL && subj_key != NULL && other_key != NULL
               ? 0
               : 1;
}

static int teardown(void)
{
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(ca2_key);
    EVP_PKEY_free(ak_key);
    EVP_PKEY_free(subj_key);
    EVP_PKEY_free(other_key);
    X509_free(ca_cert);
    X509_free(ca2_cert);
    X509_free(ak_cert);
    X509_free(ak_cert_noeku);
    X509_free(ak_cert_ca2);
    return 0;
}

static AF_EVIDENCE *make_evidence(EVP_PKEY *ak, X509 *akc, EVP_PKEY *key, const unsigned char *n)
{
    AF_ATTEST *at = af_attest_new(NULL, NULL);
    AF_EVIDENCE *ev = NULL;
    unsigned int facts = 0xff;

    if (at != NULL && af_attest_set1_nonce(at, n, sizeof(NONCE)) &&
        af_attest_add_key(at, key, "subject-key", &facts) && af_attest_set1_ak(at, ak, akc))
        ev = af_attest_sign(at);
    /* A software key has none of the PKCS#11 facts, and the API says so. */
    CU_ASSERT_EQUAL(facts, 0);
    af_attest_free(at);
    return ev;
}

static AF_BUNDLE *make_bundle(const AF_EVIDENCE *ev)
{
    AF_BUNDLE *b = af_bundle_new();

    if (b != NULL && !af_bundle_add_evidence(b, ev)) {
        af_bundle_free(b);
        return NULL;
    }
    return b;
}

static X509_REQ *make_csr(EVP_PKEY *key, const AF_EVIDENCE *ev)
{
    AF_BUNDLE *b = make_bundle(ev);
    X509_REQ *req = b != NULL ? af_csr_new(key, "/CN=device-1/O=attfresh test",
                                           "DNS:device-1.example", b, NULL, NULL)
                              : NULL;

    af_bundle_free(b);
    return req;
}

/* Re-signs a mutated tbs with the AK so only the mutation can make verification fail. */
static int resign(AF_EVIDENCE *ev, EVP_PKEY *ak)
{
    AF_EV_SIGBLOCK *sb = sk_AF_EV_SIGBLOCK_value(ev->sigs, 0);
    unsigned char *tbs = NULL, *sig = NULL;
    size_t siglen = 0;
    X509_ALGOR *alg = NULL;
    int n = i2d_AF_EV_TBS(ev->tbs, &tbs), ok;

    ok = n > 0 && af_sign_data(ak, NULL, 0, NULL, NULL, tbs, (size_t)n, &alg, &sig, &siglen) &&
         ASN1_OCTET_STRING_set(sb->value, sig, (int)siglen);
    if (ok) {
        X509_ALGOR_free(sb->alg);
        sb->alg = alg;
        alg = NULL;
    }
    X509_ALGOR_free(alg);
    OPENSSL_free(sig);
    OPENSSL_free(tbs);
    return ok;
}

/* Runs the CSR verifier; returns the checks (caller frees). */
static AF_CHECKS *verify_csr(X509_REQ *req, X509 *trust, const unsigned char *nonce,
                             const AF_POLICY *policy)
{
    AF_VERIFY *v = af_verify_new(NULL, NULL);
    AF_CHECKS *c = af_checks_new();
    AF_EXPECTED_NONCE want = {nonce, sizeof(NONCE)};
    AF_POLICY *relaxed = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    if (trust != NULL)
        CU_ASSERT_TRUE(af_verify_add1_trust(v, trust));
    af_verify_set_nonce_cb(v, af_nonce_cb_expected, &want);
    if (policy == NULL) {
        /* Software keys carry no PKCS#11 claims: accept their absence unless a test says not. */
        relaxed = af_policy_new();
        CU_ASSERT_TRUE(af_policy_parse(relaxed, "missing = accept\n", 17));
        policy = relaxed;
    }
    CU_ASSERT_TRUE(af_verify_set_policy(v, policy));
    af_csr_verify(v, req, c);
    af_policy_free(relaxed);
    af_verify_free(v);
    return c;
}

/* Status of the first result named name (FAIL wins over PASS when several carry the name). */
static int status_of(const AF_CHECKS *c, const char *name)
{
    size_t i;
    int st = -1;

    for (i = 0; i < af_checks_count(c); i++)
        if (strcmp(af_checks_name(c, i), name) == 0) {
            if (af_checks_status(c, i) == AF_CHECK_FAIL)
                return AF_CHECK_FAIL;
            st = (int)af_checks_status(c, i);
        }
    return st;
}

static const char *detail_of(const AF_CHECKS *c, const char *name)
{
    size_t i;

    for (i = 0; i < af_checks_count(c); i++)
        if (strcmp(af_checks_name(c, i), name) == 0 && af_checks_status(c, i) == AF_CHECK_FAIL)
            return af_checks_detail(c, i);
    return "";
}

/* Verifies a CSR made from ev (subject key subj_key) and expects check name to fail with a
 * detail containing what; everything before it must not have failed for another reason. */
static void expect_failure(const AF_EVIDENCE *ev, X509 *trust, const unsigned char *nonce,
                           const AF_POLICY *policy, const char *name, const char *what)
{
    X509_REQ *req = make_csr(subj_key, ev);
    AF_CHECKS *c;

    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    c = verify_csr(req, trust, nonce, policy);
    CU_ASSERT_FALSE(af_checks_passed(c));
    CU_ASSERT_EQUAL(status_of(c, name), AF_CHECK_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail_of(c, name), what));
    if (status_of(c, name) != AF_CHECK_FAIL || strstr(detail_of(c, name), what) == NULL) {
        BIO *err = BIO_new_fp(stderr, BIO_NOCLOSE);

        fprintf(stderr, "\nexpected %s to fail with '%s'; got:\n", name, what);
        af_checks_print(err, c);
        BIO_free(err);
    }
    af_checks_free(c);
    X509_REQ_free(req);
}

/* ---- round trips ---------------------------------------------------------------------------- */
static void test_roundtrip(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE), *ev2;
    unsigned char *der = NULL, *der2 = NULL, *spki = NULL;
    size_t len = 0, len2 = 0, nlen = 0;
    const unsigned char *n;
    AF_KEY_CLAIMS kc;
    X509_REQ *req;
    AF_CHECKS *c;
    int spki_len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_TRUE_FATAL(af_evidence_to_der(ev, &der, &len));
    ev2 = af_evidence_from_der(der, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev2);
    CU_ASSERT_TRUE(af_evidence_to_der(ev2, &der2, &len2));
    CU_ASSERT_EQUAL(len, len2);
    CU_ASSERT_EQUAL(memcmp(der, der2, len), 0);
    /* the nonce exactly as given, the key element about the subject key */
    n = af_evidence_get0_nonce(ev2, &nlen);
    CU_ASSERT_EQUAL(nlen, sizeof(NONCE));
    CU_ASSERT_TRUE(n != NULL && memcmp(n, NONCE, sizeof(NONCE)) == 0);
    CU_ASSERT_EQUAL(af_evidence_key_count(ev2), 1);
    CU_ASSERT_EQUAL(af_evidence_signature_count(ev2), 1);
    CU_ASSERT_TRUE_FATAL(af_evidence_get_key(ev2, 0, &kc));
    CU_ASSERT_STRING_EQUAL(kc.identifier, "subject-key");
    spki_len = i2d_PUBKEY(subj_key, &spki);
    CU_ASSERT_TRUE(kc.spki_len == (size_t)spki_len && memcmp(kc.spki, spki, kc.spki_len) == 0);
    CU_ASSERT_EQUAL(kc.sensitive, -1);
    CU_ASSERT_EQUAL(kc.extractable, -1);
    CU_ASSERT_FALSE(kc.has_purpose);
    af_key_claims_clear(&kc);
    /* never intermediateCertificates */
    CU_ASSERT_PTR_NULL(ev2->intermediates);

    req = make_csr(subj_key, ev);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    c = verify_csr(req, ca_cert, NONCE, NULL);
    if (!af_checks_passed(c)) {
        BIO *err = BIO_new_fp(stderr, BIO_NOCLOSE);

        af_checks_print(err, c);
        BIO_free(err);
    }
    CU_ASSERT_TRUE(af_checks_passed(c));
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_CSR_SIGNATURE), AF_CHECK_PASS);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_EVIDENCE_SIGNATURE), AF_CHECK_PASS);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_AK_CHAIN), AF_CHECK_PASS);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_AK_USAGE), AF_CHECK_PASS);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_KEY_BINDING), AF_CHECK_PASS);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_NONCE), AF_CHECK_PASS);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_POLICY), AF_CHECK_PASS);
    af_checks_free(c);

    /* DER round trip of the whole CSR, then verify the decoded one. */
    {
        unsigned char *rd = NULL;
        const unsigned char *p;
        int rl = i2d_X509_REQ(req, &rd);
        X509_REQ *req2;

        p = rd;
        req2 = d2i_X509_REQ(NULL, &p, rl);
        CU_ASSERT_PTR_NOT_NULL_FATAL(req2);
        c = verify_csr(req2, ca_cert, NONCE, NULL);
        CU_ASSERT_TRUE(af_checks_passed(c));
        af_checks_free(c);
        X509_REQ_free(req2);
        OPENSSL_free(rd);
    }
    X509_REQ_free(req);
    OPENSSL_free(spki);
    OPENSSL_free(der);
    OPENSSL_free(der2);
    af_evidence_free(ev);
    af_evidence_free(ev2);
}

static void test_pem_and_print(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE), *ev2;
    BIO *mem = BIO_new(BIO_s_mem());
    char *data;
    long n;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_TRUE(af_evidence_write_pem(mem, ev));
    n = BIO_get_mem_data(mem, &data);
    CU_ASSERT_PTR_NOT_NULL(strstr(data, "-----BEGIN PKIX EVIDENCE-----"));
    ev2 = af_evidence_from_bytes((const unsigned char *)data, (size_t)n);
    CU_ASSERT_PTR_NOT_NULL(ev2);
    /* a PEM block of another type is refused by name */
    CU_ASSERT_PTR_NULL(
        af_evidence_from_pem((const unsigned char *)"-----BEGIN CERTIFICATE-----\n"
                                                    "MAA=\n-----END CERTIFICATE-----\n",
                             60));
    ERR_clear_error();
    BIO_reset(mem);
    CU_ASSERT_TRUE(af_evidence_print(mem, ev));
    BIO_write(mem, "", 1);
    BIO_get_mem_data(mem, &data);
    CU_ASSERT_PTR_NOT_NULL(strstr(data, "id-ev-tx-nonce: 6e6f6e63652d30310203"));
    CU_ASSERT_PTR_NOT_NULL(strstr(data, "id-ev-key-identifier: subject-key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(data, "by certificate /CN=Test AK"));
    BIO_free(mem);
    af_evidence_free(ev);
    af_evidence_free(ev2);
}

static void one_algorithm(const char *alg, int pss)
{
    EVP_PKEY *ak = gen(alg);
    X509 *akc = make_cert("AK alg", ak, ca_cert, ca_key, 0, 1, 1);
    AF_ATTEST *at = af_attest_new(NULL, NULL);
    AF_EVIDENCE *ev = NULL;
    X509_REQ *req;
    AF_CHECKS *c;
    char an[64] = "";

    CU_ASSERT_PTR_NOT_NULL_FATAL(ak);
    CU_ASSERT_PTR_NOT_NULL_FATAL(akc);
    CU_ASSERT_TRUE(af_attest_set1_nonce(at, NONCE, sizeof(NONCE)));
    CU_ASSERT_TRUE(af_attest_add_key(at, subj_key, "k", NULL));
    CU_ASSERT_TRUE(af_attest_set1_ak(at, ak, akc));
    CU_ASSERT_TRUE(af_attest_set_rsa_pss(at, pss));
    ev = af_attest_sign(at);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    OBJ_obj2txt(an, sizeof(an), sk_AF_EV_SIGBLOCK_value(ev->sigs, 0)->alg->algorithm, 0);
    if (strcmp(alg, "P-256") == 0)
        CU_ASSERT_STRING_EQUAL(an, "ecdsa-with-SHA256");
    if (strcmp(alg, "P-384") == 0)
        CU_ASSERT_STRING_EQUAL(an, "ecdsa-with-SHA384");
    if (strcmp(alg, "RSA") == 0)
        CU_ASSERT_STRING_EQUAL(an, pss ? "rsassaPss" : "sha256WithRSAEncryption");
    if (strcmp(alg, "ED25519") == 0)
        CU_ASSERT_STRING_EQUAL(an, "ED25519");
    if (pss) /* explicit parameters */
        CU_ASSERT_EQUAL(sk_AF_EV_SIGBLOCK_value(ev->sigs, 0)->alg->parameter->type,
                        V_ASN1_SEQUENCE);
    req = make_csr(subj_key, ev);
    c = verify_csr(req, ca_cert, NONCE, NULL);
    CU_ASSERT_TRUE(af_checks_passed(c));
    af_checks_free(c);
    X509_REQ_free(req);
    af_evidence_free(ev);
    af_attest_free(at);
    X509_free(akc);
    EVP_PKEY_free(ak);
}

static void test_algorithms(void)
{
    one_algorithm("P-256", 0);
    one_algorithm("P-384", 0);
    one_algorithm("RSA", 0);
    one_algorithm("RSA", 1);
    one_algorithm("ED25519", 0);
}

static void test_subject_key_types(void)
{
    /* The CSR self-signature works for every subject key type too. */
    const char *algs[] = {"P-384", "RSA", "ED25519"};
    size_t i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        EVP_PKEY *k = gen(algs[i]);
        AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, k, NONCE);
        X509_REQ *req = make_csr(k, ev);
        AF_CHECKS *c = verify_csr(req, ca_cert, NONCE, NULL);

        CU_ASSERT_TRUE(af_checks_passed(c));
        af_checks_free(c);
        X509_REQ_free(req);
        af_evidence_free(ev);
        EVP_PKEY_free(k);
    }
}

/* The SPKI the Evidence claims and the CSR carries is built without OpenSSL's encoders for EC
 * named curves and RSA (ev_spki.c): it must be byte for byte what i2d_PUBKEY gives, for every
 * key shape, and the CSR's public key must be the key's own. */
static EVP_PKEY *spki_case(int i, const char **what)
{
    EVP_PKEY *k = NULL;

    switch (i) {
    case 0:
        *what = "EC P-256";
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    case 1:
        *what = "EC P-384";
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    case 2:
        *what = "EC P-521";
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    case 3:
        *what = "EC P-256, compressed point";
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (k != NULL && !EVP_PKEY_set_utf8_string_param(k, "point-format", "compressed")) {
            EVP_PKEY_free(k);
            k = NULL;
        }
        return k;
    case 4:
        *what = "EC P-256, explicit parameters";
        {
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
            OSSL_PARAM prm[3];

            prm[0] = OSSL_PARAM_construct_utf8_string("group", (char *)"P-256", 0);
            prm[1] = OSSL_PARAM_construct_utf8_string("encoding", (char *)"explicit", 0);
            prm[2] = OSSL_PARAM_construct_end();
            if (ctx != NULL && EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_CTX_set_params(ctx, prm))
                EVP_PKEY_generate(ctx, &k);
            EVP_PKEY_CTX_free(ctx);
        }
        return k;
    case 5:
        *what = "EC secp256k1";
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    case 6:
        *what = "RSA 2048";
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    case 7:
        *what = "RSA 1024, e = 3";
        {
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
            unsigned int e = 3;
            size_t bits = 1024;
            OSSL_PARAM prm[3];

            prm[0] = OSSL_PARAM_construct_uint("e", &e);
            prm[1] = OSSL_PARAM_construct_size_t("bits", &bits);
            prm[2] = OSSL_PARAM_construct_end();
            if (ctx != NULL && EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_CTX_set_params(ctx, prm))
                EVP_PKEY_generate(ctx, &k);
            EVP_PKEY_CTX_free(ctx);
        }
        return k;
    case 8:
        *what = "RSA-PSS";
        {
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);

            if (ctx != NULL && EVP_PKEY_keygen_init(ctx) > 0 &&
                EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) > 0)
                EVP_PKEY_generate(ctx, &k);
            EVP_PKEY_CTX_free(ctx);
        }
        return k;
    case 9:
        *what = "Ed25519";
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    default:
        return NULL;
    }
}

static void test_spki_without_encoder(void)
{
    int i;

    for (i = 0; i < 10; i++) {
        const char *what = "?";
        EVP_PKEY *k = spki_case(i, &what), *pub;
        unsigned char *want = NULL, *got = NULL, *inreq = NULL;
        size_t got_len = 0;
        int want_len, req_len;
        AF_EVIDENCE *ev;
        AF_BUNDLE *b;
        X509_REQ *req;

        if (k == NULL)
            fprintf(stderr, "cannot make the %s key\n", what);
        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        want_len = i2d_PUBKEY(k, &want);
        CU_ASSERT_FATAL(want_len > 0);
        CU_ASSERT_TRUE(af_ev_spki_der(k, &got, &got_len));
        CU_ASSERT_TRUE(got_len == (size_t)want_len && memcmp(got, want, got_len) == 0);
        if (got_len != (size_t)want_len || memcmp(got, want, got_len) != 0)
            fprintf(stderr, "SPKI differs from i2d_PUBKEY for %s\n", what);
        pub = af_ev_get1_public(k);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
        CU_ASSERT_EQUAL(EVP_PKEY_eq(pub, k), 1);
        /* the key element's spki claim and the CSR's SubjectPublicKeyInfo are those bytes */
        ev = make_evidence(ak_key, ak_cert, k, NONCE);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
        CU_ASSERT_EQUAL(af_evidence_describes(ev, k), 1);
        b = make_bundle(ev);
        req = af_csr_new(k, "/CN=spki", NULL, b, NULL, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(req);
        req_len = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &inreq);
        CU_ASSERT_TRUE(req_len == want_len && memcmp(inreq, want, (size_t)want_len) == 0);
        CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), k), 1);
        CU_ASSERT_EQUAL(X509_REQ_verify(req, k), 1);
        ERR_clear_error();
        OPENSSL_free(inreq);
        X509_REQ_free(req);
        af_bundle_free(b);
        af_evidence_free(ev);
        EVP_PKEY_free(pub);
        OPENSSL_free(got);
        OPENSSL_free(want);
        EVP_PKEY_free(k);
    }
}

/* One verification with v; returns the ak-chain status. */
static af_check_status ak_chain_with(AF_VERIFY *v, X509 *akc)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, akc, subj_key, NONCE);
    X509_REQ *req = make_csr(subj_key, ev);
    AF_CHECKS *c = af_checks_new();
    AF_EXPECTED_NONCE want = {NONCE, sizeof(NONCE)};
    af_check_status st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    af_verify_set_nonce_cb(v, af_nonce_cb_expected, &want);
    af_csr_verify(v, req, c);
    st = status_of(c, AF_CHECK_AK_CHAIN);
    af_checks_free(c);
    X509_REQ_free(req);
    af_evidence_free(ev);
    return st;
}

/* The prototype verifier an RA keeps, the verifiers made from it per request, and their shared
 * cache of proven AK chains: a proven AK passes again, another AK is still refused, and an AK
 * whose certificate has expired since is refused (the cache never outlives validity). */
static void test_verifier_prototype(void)
{
    AF_VERIFY *proto = af_verify_new(NULL, NULL), *v1, *v2;
    AF_POLICY *p = af_policy_new();
    time_t later = time(NULL) + 2 * 86400; /* after ak_cert's notAfter */

    CU_ASSERT_PTR_NOT_NULL_FATAL(proto);
    CU_ASSERT_TRUE(af_policy_parse(p, "missing=accept", 14));
    CU_ASSERT_TRUE(af_verify_set_policy(proto, p));
    CU_ASSERT_TRUE(af_verify_add1_trust(proto, ca_cert));
    v1 = af_verify_new_from(proto);
    v2 = af_verify_new_from(proto);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v2);
    /* anchors belong to the prototype */
    CU_ASSERT_FALSE(af_verify_add1_trust(v1, ca2_cert));
    ERR_clear_error();
    CU_ASSERT_EQUAL(ak_chain_with(v1, ak_cert), AF_CHECK_PASS);
    /* v2 finds it proven; the prototype's policy came along (software keys pass) */
    CU_ASSERT_EQUAL(ak_chain_with(v2, ak_cert), AF_CHECK_PASS);
    CU_ASSERT_EQUAL(ak_chain_with(proto, ak_cert), AF_CHECK_PASS);
    /* an AK of another CA is not trusted because some AK was */
    CU_ASSERT_EQUAL(ak_chain_with(v2, ak_cert_ca2), AF_CHECK_FAIL);
    /* a proven AK certificate does not vouch for a signature it did not make */
    {
        AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
        ASN1_OCTET_STRING *sig = sk_AF_EV_SIGBLOCK_value(ev->sigs, 0)->value;
        X509_REQ *req;
        AF_CHECKS *c = af_checks_new();
        AF_EXPECTED_NONCE want = {NONCE, sizeof(NONCE)};

        sig->data[sig->length - 1] ^= 0x01;
        req = make_csr(subj_key, ev);
        af_verify_set_nonce_cb(v2, af_nonce_cb_expected, &want);
        CU_ASSERT_FALSE(af_csr_verify(v2, req, c));
        CU_ASSERT_EQUAL(status_of(c, AF_CHECK_EVIDENCE_SIGNATURE), AF_CHECK_FAIL);
        af_checks_free(c);
        X509_REQ_free(req);
        af_evidence_free(ev);
    }
    /* expired since it was proven */
    af_verify_set_time(v1, later);
    CU_ASSERT_EQUAL(ak_chain_with(v1, ak_cert), AF_CHECK_FAIL);
    af_verify_free(proto); /* derived verifiers outlive their prototype */
    CU_ASSERT_EQUAL(ak_chain_with(v2, ak_cert), AF_CHECK_PASS);
    CU_ASSERT_PTR_NULL(af_verify_new_from(NULL));
    ERR_clear_error();
    af_verify_free(v1);
    af_verify_free(v2);
    af_policy_free(p);
}

/* The verifier's Evidence reading (certificates first taken as bytes, then from its cache or
 * decoded) gives the very Evidence the ordinary reading gives, and takes the cached object. */
static X509 *find_none(const unsigned char *der, size_t len, void *arg)
{
    (void)der;
    (void)len;
    (void)arg;
    return NULL;
}

static X509 *find_ak(const unsigned char *der, size_t len, void *arg)
{
    unsigned char *mine = NULL;
    int n = i2d_X509(ak_cert, &mine), same = n > 0 && (size_t)n == len && !memcmp(mine, der, len);

    OPENSSL_free(mine);
    (*(int *)arg)++;
    return same && X509_up_ref(ak_cert) ? ak_cert : NULL;
}

static void test_verifier_reading(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE), *a, *b, *c;
    unsigned char *der = NULL, *da = NULL, *db = NULL;
    size_t len = 0, la = 0, lb = 0;
    int asked = 0;

    CU_ASSERT_FATAL(ev != NULL && af_evidence_to_der(ev, &der, &len));
    a = af_evidence_from_der(der, len);
    b = af_ev_from_der_find(der, len, find_none, NULL);
    c = af_ev_from_der_find(der, len, find_ak, &asked);
    CU_ASSERT_FATAL(a != NULL && b != NULL && c != NULL);
    CU_ASSERT_TRUE(af_evidence_to_der(a, &da, &la) && af_evidence_to_der(b, &db, &lb));
    CU_ASSERT_TRUE(la == lb && memcmp(da, db, la) == 0 && la == len && !memcmp(da, der, len));
    CU_ASSERT_EQUAL(asked, 1);
    CU_ASSERT_PTR_EQUAL(sk_AF_EV_SIGBLOCK_value(c->sigs, 0)->sid->cert, ak_cert);
    /* damaged input: both readings refuse it */
    der[len / 2] ^= 0xff;
    af_evidence_free(a);
    af_evidence_free(b);
    a = af_evidence_from_der(der, len);
    b = af_ev_from_der_find(der, len, find_none, NULL);
    CU_ASSERT_TRUE((b == NULL) == (a == NULL));
    ERR_clear_error();
    OPENSSL_free(der);
    OPENSSL_free(da);
    OPENSSL_free(db);
    af_evidence_free(a);
    af_evidence_free(b);
    af_evidence_free(c);
    af_evidence_free(ev);
}

/* The verifier's bundle reading (certificates first taken as bytes, then from its cache or
 * decoded) gives the very bundle the ordinary reading gives and takes the cached object; a damaged
 * certificate, an "other" certificate format and too many certificates end as the ordinary
 * reading ends. */
static void test_verifier_bundle_reading(void)
{
    /* OtherCertificateFormat [3] { 1.2.3.4, NULL } */
    static const unsigned char other[] = {0xa3, 0x07, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x05, 0x00};
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_BUNDLE *b = make_bundle(ev), *a = NULL, *r = NULL, *c = NULL;
    unsigned char *der = NULL, *da = NULL, *dr = NULL, *cd = NULL, *hit;
    const unsigned char *p = other;
    size_t len = 0, la = 0, lr = 0;
    int asked = 0, i, n;
    AF_CERT_CHOICE *oc;
    char line[256];

    CU_ASSERT_FATAL(b != NULL && af_bundle_add1_cert(b, ak_cert) &&
                    af_bundle_add1_cert(b, ca2_cert));
    CU_ASSERT_FATAL(af_bundle_to_der(b, &der, &len));
    a = af_bundle_from_der(der, len);
    r = af_ev_bundle_from_der_find(der, len, find_none, NULL);
    c = af_ev_bundle_from_der_find(der, len, find_ak, &asked);
    CU_ASSERT_FATAL(a != NULL && r != NULL && c != NULL);
    CU_ASSERT_TRUE(af_bundle_to_der(a, &da, &la) && af_bundle_to_der(r, &dr, &lr));
    CU_ASSERT_TRUE(la == len && lr == len && !memcmp(da, der, len) && !memcmp(dr, der, len));
    CU_ASSERT_EQUAL(asked, 2);
    CU_ASSERT_PTR_EQUAL(sk_AF_CERT_CHOICE_value(c->certs, 0)->d.cert, ak_cert);
    CU_ASSERT_EQUAL(X509_cmp(sk_AF_CERT_CHOICE_value(c->certs, 1)->d.cert, ca2_cert), 0);
    af_bundle_free(a);
    af_bundle_free(r);
    af_bundle_free(c);
    /* the second certificate's tag damaged: both readings refuse it */
    n = i2d_X509(ca2_cert, &cd);
    hit = NULL;
    for (i = 0; n > 0 && (size_t)i + (size_t)n <= len && hit == NULL; i++)
        if (memcmp(der + i, cd, (size_t)n) == 0)
            hit = der + i;
    CU_ASSERT_PTR_NOT_NULL_FATAL(hit);
    *hit = 0x31;
    a = af_bundle_from_der(der, len);
    r = af_ev_bundle_from_der_find(der, len, find_ak, &asked);
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_PTR_NULL(r);
    ERR_clear_error();
    OPENSSL_free(der);
    der = NULL;
    /* an "other" certificate: the ordinary reading decides, and keeps it */
    oc = d2i_AF_CERT_CHOICE(NULL, &p, sizeof(other));
    CU_ASSERT_FATAL(oc != NULL && sk_AF_CERT_CHOICE_push(b->certs, oc));
    CU_ASSERT_FATAL(af_bundle_to_der(b, &der, &len));
    r = af_ev_bundle_from_der_find(der, len, find_ak, &asked);
    CU_ASSERT_TRUE(r != NULL && sk_AF_CERT_CHOICE_num(r->certs) == 3 &&
                   sk_AF_CERT_CHOICE_value(r->certs, 2)->type == 1);
    af_bundle_free(r);
    OPENSSL_free(der);
    der = NULL;
    /* more certificates than a bundle may carry */
    while (sk_AF_CERT_CHOICE_num(b->certs) <= AF_BUNDLE_MAX_CERTS) {
        AF_CERT_CHOICE *x = OPENSSL_zalloc(sizeof(*x));

        CU_ASSERT_FATAL(x != NULL && X509_up_ref(ca2_cert));
        x->d.cert = ca2_cert;
        CU_ASSERT_FATAL(sk_AF_CERT_CHOICE_push(b->certs, x));
    }
    CU_ASSERT_FATAL(af_bundle_to_der(b, &der, &len));
    CU_ASSERT_PTR_NULL(af_ev_bundle_from_der_find(der, len, find_ak, &asked));
    af_err_line(line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "certificates"));
    ERR_clear_error();
    OPENSSL_free(der);
    OPENSSL_free(da);
    OPENSSL_free(dr);
    OPENSSL_free(cd);
    af_bundle_free(b);
    af_evidence_free(ev);
}

static void test_crmf(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_BUNDLE *b = make_bundle(ev);
    OSSL_CRMF_MSG *msg = af_crmf_new(subj_key, "/CN=crmf", "DNS:crmf.example", b, NULL, NULL);
    AF_VERIFY *v = af_verify_new(NULL, NULL);
    AF_CHECKS *c = af_checks_new(), *c2 = af_checks_new();
    AF_EXPECTED_NONCE want = {NONCE, sizeof(NONCE)};
    AF_POLICY *p = af_policy_new();
    OSSL_CRMF_MSG *other;
    AF_EVIDENCE *ev_other = make_evidence(ak_key, ak_cert, other_key, NONCE);
    AF_BUNDLE *b_other = make_bundle(ev_other);

    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    CU_ASSERT_TRUE(af_policy_parse(p, "missing=accept", 14));
    CU_ASSERT_TRUE(af_verify_set_policy(v, p));
    CU_ASSERT_TRUE(af_verify_add1_trust(v, ca_cert));
    af_verify_set_nonce_cb(v, af_nonce_cb_expected, &want);
    CU_ASSERT_TRUE(af_crmf_verify(v, msg, c));
    CU_ASSERT_TRUE(af_checks_passed(c));
    /* Evidence about another key in the CertTemplate of subj_key */
    other = af_crmf_new(subj_key, "/CN=crmf", NULL, b_other, NULL, NULL);
    CU_ASSERT_FALSE(af_crmf_verify(v, other, c2));
    CU_ASSERT_EQUAL(status_of(c2, AF_CHECK_KEY_BINDING), AF_CHECK_FAIL);
    OSSL_CRMF_MSG_free(other);
    af_checks_free(c);
    af_checks_free(c2);
    af_verify_free(v);
    af_policy_free(p);
    OSSL_CRMF_MSG_free(msg);
    af_bundle_free(b);
    af_bundle_free(b_other);
    af_evidence_free(ev);
    af_evidence_free(ev_other);
}

/* ---- rejections ----------------------------------------------------------------------------- */
static void test_flipped_signature(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    ASN1_OCTET_STRING *s = sk_AF_EV_SIGBLOCK_value(ev->sigs, 0)->value;

    /* the last byte of an ECDSA DER value is inside s; flipping it keeps the DER valid */
    s->data[s->length - 1] ^= 0x01;
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_SIGNATURE, "does not verify");
    af_evidence_free(ev);
}

static void test_changed_nonce(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);

    expect_failure(ev, ca_cert, OTHER_NONCE, NULL, AF_CHECK_NONCE, "differs from the expected");
    af_evidence_free(ev);
}

static void test_no_nonce_callback(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    X509_REQ *req = make_csr(subj_key, ev);
    AF_VERIFY *v = af_verify_new(NULL, NULL);
    AF_CHECKS *c = af_checks_new();
    AF_POLICY *p = af_policy_new();

    CU_ASSERT_TRUE(af_policy_parse(p, "missing = accept", 16));
    CU_ASSERT_TRUE(af_verify_set_policy(v, p));
    CU_ASSERT_TRUE(af_verify_add1_trust(v, ca_cert));
    CU_ASSERT_FALSE(af_csr_verify(v, req, c));
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_NONCE), AF_CHECK_FAIL);
    af_policy_free(p);
    af_checks_free(c);
    af_verify_free(v);
    X509_REQ_free(req);
    af_evidence_free(ev);
}

static void test_other_key(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, other_key, NONCE);

    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_KEY_BINDING, "another key");
    af_evidence_free(ev);
}

static void test_ak_without_eku(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert_noeku, subj_key, NONCE);

    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_AK_USAGE, "id-kp-attestationKey");
    af_evidence_free(ev);
}

static void test_untrusted_ak(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert_ca2, subj_key, NONCE);

    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_AK_CHAIN, "not trusted");
    af_evidence_free(ev);
    /* and no trust anchors at all */
    ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    expect_failure(ev, NULL, NONCE, NULL, AF_CHECK_AK_CHAIN, "no AK trust anchors");
    af_evidence_free(ev);
}

static void test_spki_signer(void)
{
    /* sid with subjectPublicKeyInfo only: trusted only when the key is an anchor's key */
    AF_EVIDENCE *ev = make_evidence(ak_key, NULL, subj_key, NONCE);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_PTR_NOT_NULL(sk_AF_EV_SIGBLOCK_value(ev->sigs, 0)->sid->spki);
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_AK_CHAIN, "subjectPublicKeyInfo only");
    af_evidence_free(ev);
}

static void test_keyid_signer(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_EV_SID *sid = sk_AF_EV_SIGBLOCK_value(ev->sigs, 0)->sid;

    X509_free(sid->cert);
    sid->cert = NULL;
    sid->keyid = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(sid->keyid, (const unsigned char *)"\x01\x02", 2);
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_SIGNATURE, "cannot be resolved");
    af_evidence_free(ev);
}

static void test_unsigned(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);

    sk_AF_EV_SIGBLOCK_pop_free(ev->sigs, AF_EV_SIGBLOCK_free);
    ev->sigs = sk_AF_EV_SIGBLOCK_new_null();
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_SIGNATURE, "unsigned");
    af_evidence_free(ev);
}

static AF_EV_ELEMENT *element(AF_EVIDENCE *ev, af_oid_id type)
{
    int i;

    for (i = 0; i < sk_AF_EV_ELEMENT_num(ev->tbs->elements); i++)
        if (af_ev_obj_is(sk_AF_EV_ELEMENT_value(ev->tbs->elements, i)->type, type))
            return sk_AF_EV_ELEMENT_value(ev->tbs->elements, i);
    return NULL;
}

static void test_two_transactions(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_EV_ELEMENT *tx = element(ev, AF_OID_EV_ELEM_TRANSACTION);

    CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
    sk_AF_EV_ELEMENT_push(ev->tbs->elements,
                          (AF_EV_ELEMENT *)ASN1_item_dup(ASN1_ITEM_rptr(AF_EV_ELEMENT), tx));
    CU_ASSERT_TRUE(resign(ev, ak_key));
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_RULES, "2 transaction");
    af_evidence_free(ev);
}

static void test_key_without_identifier(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_EV_ELEMENT *key = element(ev, AF_OID_EV_ELEM_KEY);

    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
    CU_ASSERT_TRUE(
        af_ev_obj_is(sk_AF_EV_CLAIM_value(key->claims, 0)->type, AF_OID_EV_KEY_IDENTIFIER));
    AF_EV_CLAIM_free(sk_AF_EV_CLAIM_delete(key->claims, 0));
    CU_ASSERT_TRUE(resign(ev, ak_key));
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_RULES, "has no identifier");
    af_evidence_free(ev);
}

static void test_duplicate_identifier(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);

    sk_AF_EV_ELEMENT_push(ev->tbs->elements,
                          (AF_EV_ELEMENT *)ASN1_item_dup(ASN1_ITEM_rptr(AF_EV_ELEMENT),
                                                         element(ev, AF_OID_EV_ELEM_KEY)));
    CU_ASSERT_TRUE(resign(ev, ak_key));
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_RULES, "share the identifier");
    af_evidence_free(ev);
}

static void test_repeated_claim(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_EV_ELEMENT *key = element(ev, AF_OID_EV_ELEM_KEY);

    sk_AF_EV_CLAIM_push(key->claims,
                        (AF_EV_CLAIM *)ASN1_item_dup(ASN1_ITEM_rptr(AF_EV_CLAIM),
                                                     sk_AF_EV_CLAIM_value(key->claims, 1)));
    CU_ASSERT_TRUE(resign(ev, ak_key));
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_RULES,
                   "repeats the single-valued claim id-ev-key-spki");
    af_evidence_free(ev);
}

static void test_bad_timestamp(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_EV_ELEMENT *tx = element(ev, AF_OID_EV_ELEM_TRANSACTION);
    AF_EV_CLAIM *ts = sk_AF_EV_CLAIM_value(tx->claims, 1);

    CU_ASSERT_TRUE_FATAL(af_ev_obj_is(ts->type, AF_OID_EV_TX_TIMESTAMP));
    /* fractional seconds: a valid GeneralizedTime, but not the profile's form */
    CU_ASSERT_TRUE(ASN1_STRING_set(ts->value->value.generalizedtime, "20260101120000.5Z", -1));
    CU_ASSERT_TRUE(resign(ev, ak_key));
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_RULES, "YYYYMMDDHHMMSSZ");
    af_evidence_free(ev);
}

static void test_wrong_version(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);

    ASN1_INTEGER_set(ev->tbs->version, 2);
    CU_ASSERT_TRUE(resign(ev, ak_key));
    expect_failure(ev, ca_cert, NONCE, NULL, AF_CHECK_EVIDENCE_RULES, "version is not 1");
    af_evidence_free(ev);
}

static int parse(AF_POLICY *p, const char *text)
{
    return af_policy_parse(p, text, strlen(text));
}

static void add_bool(AF_EV_ELEMENT *e, af_oid_id id, int v)
{
    AF_EV_CLAIM *c = AF_EV_CLAIM_new();

    c->type = af_ev_obj(id);
    c->value = ASN1_TYPE_new();
    ASN1_TYPE_set(c->value, V_ASN1_BOOLEAN, v ? (void *)1 : NULL);
    sk_AF_EV_CLAIM_push(e->claims, c);
}

static void test_policy(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_EV_ELEMENT *key = element(ev, AF_OID_EV_ELEM_KEY);
    AF_POLICY *def = af_policy_new(), *any = af_policy_new();
    X509_REQ *req;
    AF_CHECKS *c;

    /* a key the token would let out: extractable, not never-extractable */
    add_bool(key, AF_OID_EV_KEY_EXTRACTABLE, 1);
    add_bool(key, AF_OID_EV_KEY_SENSITIVE, 1);
    add_bool(key, AF_OID_EV_KEY_NEVER_EXTRACTABLE, 0);
    add_bool(key, AF_OID_EV_KEY_LOCAL, 1);
    CU_ASSERT_TRUE(resign(ev, ak_key));
    expect_failure(ev, ca_cert, NONCE, def, AF_CHECK_POLICY, "never-extractable is false");
    /* the same Evidence passes a policy that allows it: the check is what failed above */
    CU_ASSERT_TRUE(parse(any, "# lab keys\nnever-extractable = any\nextractable=any\n"));
    req = make_csr(subj_key, ev);
    c = verify_csr(req, ca_cert, NONCE, any);
    CU_ASSERT_TRUE(af_checks_passed(c));
    af_checks_free(c);
    X509_REQ_free(req);
    /* extractable alone */
    CU_ASSERT_TRUE(parse(any, "never-extractable = false\nextractable=false\n"));
    expect_failure(ev, ca_cert, NONCE, any, AF_CHECK_POLICY, "extractable is true");
    af_evidence_free(ev);
    /* software key, default policy: the claims are absent and that is rejected */
    ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    expect_failure(ev, ca_cert, NONCE, def, AF_CHECK_POLICY, "does not state sensitive");
    af_evidence_free(ev);
    af_policy_free(def);
    af_policy_free(any);
}

static void test_policy_file_errors(void)
{
    AF_POLICY *p = af_policy_new();
    static const char *bad[] = {"sensitive = yes", "colour = blue", "just words",
                                "require-purpose = sign,fly", "missing = maybe"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[256];

        CU_ASSERT_FALSE(af_policy_parse(p, bad[i], strlen(bad[i])));
        af_err_line(line, sizeof(line));
        CU_ASSERT_PTR_NOT_NULL(strstr(line, "policy line 1"));
    }
    CU_ASSERT_TRUE(parse(p, "require-purpose = sign\nforbid-purpose = decrypt,wrap\n"));
    af_policy_free(p);
}

static void test_two_attributes(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    X509_REQ *req = make_csr(subj_key, ev), *req2;
    AF_BUNDLE *b = make_bundle(ev);
    unsigned char *der = NULL, *csr = NULL, *p;
    const unsigned char *cp;
    size_t len = 0;
    /* OpenSSL refuses a second attribute of the same type, so add it as .2.58 (same length)
     * and patch the last OID byte in the encoding */
    ASN1_OBJECT *near = OBJ_txt2obj("1.2.840.113549.1.9.16.2.58", 1);
    static const unsigned char oid58[] = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                          0x0d, 0x01, 0x09, 0x10, 0x02, 0x3a};
    int n, i, patched = 0;
    AF_CHECKS *c;

    CU_ASSERT_TRUE(af_bundle_to_der(b, &der, &len));
    CU_ASSERT_TRUE(X509_REQ_add1_attr_by_OBJ(req, near, V_ASN1_SEQUENCE, der, (int)len));
    n = i2d_X509_REQ(req, &csr);
    for (p = csr, i = 0; i + (int)sizeof(oid58) <= n; i++)
        if (memcmp(p + i, oid58, sizeof(oid58)) == 0) {
            p[i + sizeof(oid58) - 1] = 0x3b;
            patched++;
        }
    CU_ASSERT_EQUAL(patched, 1);
    cp = csr;
    req2 = d2i_X509_REQ(NULL, &cp, n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req2);
    /* re-sign so that only the second attribute is wrong */
    CU_ASSERT_TRUE(X509_REQ_sign(req2, subj_key, EVP_sha256()) > 0);
    c = verify_csr(req2, ca_cert, NONCE, NULL);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_CSR_SIGNATURE), AF_CHECK_PASS);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_ATTRIBUTE), AF_CHECK_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail_of(c, AF_CHECK_ATTRIBUTE), "more than one"));
    CU_ASSERT_FALSE(af_checks_passed(c));
    af_checks_free(c);
    ASN1_OBJECT_free(near);
    OPENSSL_free(der);
    OPENSSL_free(csr);
    af_bundle_free(b);
    X509_REQ_free(req);
    X509_REQ_free(req2);
    af_evidence_free(ev);
}

static void test_tampered_csr(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    X509_REQ *req = make_csr(subj_key, ev);
    X509_NAME *n = X509_NAME_new();
    AF_CHECKS *c;

    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"mallory", -1, -1, 0);
    X509_REQ_set_subject_name(req, n);
    c = verify_csr(req, ca_cert, NONCE, NULL);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_CSR_SIGNATURE), AF_CHECK_FAIL);
    CU_ASSERT_FALSE(af_checks_passed(c));
    af_checks_free(c);
    X509_NAME_free(n);
    X509_REQ_free(req);
    af_evidence_free(ev);
}

static void test_truncated_bundle(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_BUNDLE *b = make_bundle(ev), *b2;
    unsigned char *der = NULL;
    size_t len = 0, cut;
    X509_REQ *req;
    ASN1_OBJECT *obj = af_ev_obj(AF_OID_AA_ATTESTATION);
    AF_CHECKS *c;
    char line[512];

    CU_ASSERT_TRUE_FATAL(af_bundle_to_der(b, &der, &len));
    for (cut = 1; cut < len; cut += 37) {
        b2 = af_bundle_from_der(der, len - cut);
        CU_ASSERT_PTR_NULL(b2);
        af_bundle_free(b2);
        ERR_clear_error();
    }
    /* a CSR whose attribute holds a truncated bundle: a well-formed SEQUENCE whose content is
     * the bundle's content cut 10 bytes short (OpenSSL itself refuses a cut TLV) */
    CU_ASSERT_EQUAL_FATAL(der[1], 0x82);
    {
        size_t clen = len - 4 - 10;
        unsigned char *t = OPENSSL_malloc(clen + 4);

        t[0] = 0x30;
        t[1] = 0x82;
        t[2] = (unsigned char)(clen >> 8);
        t[3] = (unsigned char)clen;
        memcpy(t + 4, der + 4, clen);
        req = X509_REQ_new();
        X509_REQ_set_pubkey(req, subj_key);
        CU_ASSERT_TRUE(X509_REQ_add1_attr_by_OBJ(req, obj, V_ASN1_SEQUENCE, t, (int)clen + 4));
        OPENSSL_free(t);
    }
    CU_ASSERT_TRUE(X509_REQ_sign(req, subj_key, EVP_sha256()) > 0);
    c = verify_csr(req, ca_cert, NONCE, NULL);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_BUNDLE), AF_CHECK_FAIL);
    CU_ASSERT_FALSE(af_checks_passed(c));
    af_checks_free(c);
    /* trailing bytes and BER are refused too */
    {
        unsigned char *longer = OPENSSL_malloc(len + 2);

        memcpy(longer, der, len);
        longer[len] = 0;
        longer[len + 1] = 0;
        ERR_clear_error();
        CU_ASSERT_PTR_NULL(af_bundle_from_der(longer, len + 2));
        af_err_line(line, sizeof(line));
        CU_ASSERT_PTR_NOT_NULL(strstr(line, "trailing"));
        if (strstr(line, "trailing") == NULL)
            fprintf(stderr, "\n%s\n", line);
        OPENSSL_free(longer);
    }
    X509_REQ_free(req);
    ASN1_OBJECT_free(obj);
    OPENSSL_free(der);
    af_bundle_free(b);
    af_evidence_free(ev);
}

static void test_not_der(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    unsigned char *der = NULL, *ber;
    size_t len = 0;
    char line[512];

    CU_ASSERT_TRUE_FATAL(af_evidence_to_der(ev, &der, &len));
    /* long-form outer length (0x30 0x82 hi lo -> 0x30 0x83 0 hi lo): BER, not DER */
    CU_ASSERT_EQUAL_FATAL(der[1], 0x82);
    ber = OPENSSL_malloc(len + 1);
    ber[0] = 0x30;
    ber[1] = 0x83;
    ber[2] = 0;
    memcpy(ber + 3, der + 2, len - 2);
    CU_ASSERT_PTR_NULL(af_evidence_from_der(ber, len + 1));
    af_err_line(line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "not DER"));
    /* oversize input is refused before parsing */
    CU_ASSERT_PTR_NULL(af_evidence_from_der(der, AF_EVIDENCE_MAX_DER + 1));
    af_err_line(line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "at most"));
    OPENSSL_free(ber);
    OPENSSL_free(der);
    af_evidence_free(ev);
}

/* intermediateCertificates: the module's EXPLICIT [0] and the reference code's IMPLICIT [0]. */
static void test_intermediates_both_forms(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE), *e1, *e2;
    unsigned char *exp = NULL, *imp = NULL;
    int elen, ilen;

    ev->intermediates = sk_X509_new_null();
    X509_up_ref(ca_cert);
    sk_X509_push(ev->intermediates, ca_cert);
    elen = ASN1_item_i2d((ASN1_VALUE *)ev, &exp, ASN1_ITEM_rptr(AF_EVIDENCE));
    ilen = ASN1_item_i2d((ASN1_VALUE *)ev, &imp, ASN1_ITEM_rptr(AF_EVIDENCE_IMP));
    CU_ASSERT_TRUE_FATAL(elen > 0 && ilen > 0);
    CU_ASSERT_NOT_EQUAL(elen, ilen);
    e1 = af_evidence_from_der(exp, (size_t)elen);
    e2 = af_evidence_from_der(imp, (size_t)ilen);
    CU_ASSERT_PTR_NOT_NULL(e1);
    CU_ASSERT_PTR_NOT_NULL(e2);
    CU_ASSERT_EQUAL(e1 != NULL ? sk_X509_num(e1->intermediates) : -1, 1);
    CU_ASSERT_EQUAL(e2 != NULL ? sk_X509_num(e2->intermediates) : -1, 1);
    af_evidence_free(e1);
    af_evidence_free(e2);
    OPENSSL_free(exp);
    OPENSSL_free(imp);
    af_evidence_free(ev);
}

static void test_earlier_layout(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_OLD_BUNDLES *obs = sk_AF_OLD_BUNDLE_new_null();
    AF_OLD_BUNDLE *ob = AF_OLD_BUNDLE_new();
    AF_OLD_STATEMENT *st = AF_OLD_STATEMENT_new();
    unsigned char *der = NULL, *evder = NULL, *one = NULL;
    size_t evlen = 0;
    int len, onelen;
    ASN1_STRING *seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
    char desc[512], line[768];
    X509_REQ *req;
    ASN1_OBJECT *obj = af_ev_obj(AF_OID_AA_ATTESTATION);
    AF_CHECKS *c;

    CU_ASSERT_TRUE(af_evidence_to_der(ev, &evder, &evlen));
    ASN1_STRING_set(seq, evder, (int)evlen);
    st->type = af_ev_obj(AF_OID_EVIDENCE);
    ASN1_TYPE_set(st->stmt, V_ASN1_SEQUENCE, seq);
    st->hint = ASN1_UTF8STRING_new();
    ASN1_STRING_set(st->hint, "hsm.example.com", -1);
    sk_AF_OLD_STATEMENT_push(ob->statements, st);
    onelen = i2d_AF_OLD_BUNDLE(ob, &one);
    sk_AF_OLD_BUNDLE_push(obs, ob);
    len = i2d_AF_OLD_BUNDLES(obs, &der);
    CU_ASSERT_TRUE_FATAL(len > 0 && onelen > 0);

    CU_ASSERT_EQUAL(af_bundle_describe_layout(der, (size_t)len, desc, sizeof(desc)),
                    AF_LAYOUT_EVIDENCE_BUNDLES);
    CU_ASSERT_PTR_NOT_NULL(strstr(desc, "hsm.example.com"));
    CU_ASSERT_EQUAL(af_bundle_describe_layout(one, (size_t)onelen, desc, sizeof(desc)),
                    AF_LAYOUT_EVIDENCE_BUNDLE);
    CU_ASSERT_PTR_NULL(af_bundle_from_der(der, (size_t)len));
    af_err_line(line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "earlier csr-attestation layout"));
    CU_ASSERT_EQUAL(
        af_bundle_describe_layout((const unsigned char *)"\x30\x00", 2, desc, sizeof(desc)), 0);

    /* in a CSR, the verifier names the layout in bundle-decode */
    req = X509_REQ_new();
    X509_REQ_set_pubkey(req, subj_key);
    X509_REQ_add1_attr_by_OBJ(req, obj, V_ASN1_SEQUENCE, der, len);
    X509_REQ_sign(req, subj_key, EVP_sha256());
    c = verify_csr(req, ca_cert, NONCE, NULL);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_BUNDLE), AF_CHECK_FAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail_of(c, AF_CHECK_BUNDLE), "EvidenceBundles"));
    af_checks_free(c);
    X509_REQ_free(req);
    ASN1_OBJECT_free(obj);
    OPENSSL_free(der);
    OPENSSL_free(one);
    OPENSSL_free(evder);
    AF_OLD_BUNDLES_free(obs);
    af_evidence_free(ev);
}

static int consumed;

static int counting_nonce(const unsigned char *nonce, size_t len, void *arg, char *why,
                          size_t whysize)
{
    consumed++;
    return af_nonce_cb_expected(nonce, len, arg, why, whysize);
}

/* The RA's nonce is consumed only when everything else passed. */
static void test_nonce_consumed_last(void)
{
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    X509_REQ *req = make_csr(subj_key, ev);
    AF_VERIFY *v = af_verify_new(NULL, NULL);
    AF_EXPECTED_NONCE want = {NONCE, sizeof(NONCE)};
    AF_POLICY *relaxed = af_policy_new();
    X509_NAME *n = X509_NAME_new();
    AF_CHECKS *c;

    CU_ASSERT_TRUE(af_verify_add1_trust(v, ca_cert));
    af_verify_set_nonce_cb(v, counting_nonce, &want);
    /* default policy: the software key's claims are absent -> key-policy fails, nonce untouched */
    consumed = 0;
    c = af_checks_new();
    CU_ASSERT_FALSE(af_csr_verify(v, req, c));
    CU_ASSERT_EQUAL(consumed, 0);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_NONCE), AF_CHECK_SKIP);
    af_checks_free(c);
    /* with a policy that passes, the nonce is consumed exactly once */
    CU_ASSERT_TRUE(parse(relaxed, "missing = accept"));
    CU_ASSERT_TRUE(af_verify_set_policy(v, relaxed));
    c = af_checks_new();
    CU_ASSERT_TRUE(af_csr_verify(v, req, c));
    CU_ASSERT_EQUAL(consumed, 1);
    af_checks_free(c);
    /* a CSR whose self-signature fails does not consume it either */
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"mallory", -1, -1, 0);
    X509_REQ_set_subject_name(req, n);
    consumed = 0;
    c = af_checks_new();
    CU_ASSERT_FALSE(af_csr_verify(v, req, c));
    CU_ASSERT_EQUAL(consumed, 0);
    CU_ASSERT_EQUAL(status_of(c, AF_CHECK_CSR_SIGNATURE), AF_CHECK_FAIL);
    af_checks_free(c);
    X509_NAME_free(n);
    af_policy_free(relaxed);
    af_verify_free(v);
    X509_REQ_free(req);
    af_evidence_free(ev);
}

/* The RA's glue: the verifier's nonce callback consumes from the real nonce store (memory
 * backend, test clock), bound to this transaction. */
typedef struct {
    AF_NONCE_STORE *store;
    const char *binding;
} ra_nonce;

static uint64_t test_now_ms;

static uint64_t test_clock(void *arg)
{
    (void)arg;
    return test_now_ms;
}

static int ra_consume(const unsigned char *nonce, size_t len, void *arg, char *why, size_t size)
{
    ra_nonce *ra = arg;

    if (af_nonce_store_consume(ra->store, nonce, len, (const unsigned char *)ra->binding,
                               strlen(ra->binding)) == AF_NONCE_OK)
        return 1;
    af_err_line(why, (unsigned long)size);
    return 0;
}

static void expect_nonce(X509_REQ *req, ra_nonce *ra, const char *what)
{
    AF_VERIFY *v = af_verify_new(NULL, NULL);
    AF_POLICY *p = af_policy_new();
    AF_CHECKS *c = af_checks_new();

    CU_ASSERT_TRUE(af_verify_add1_trust(v, ca_cert));
    CU_ASSERT_TRUE(parse(p, "missing = accept"));
    CU_ASSERT_TRUE(af_verify_set_policy(v, p));
    af_verify_set_nonce_cb(v, ra_consume, ra);
    af_csr_verify(v, req, c);
    if (what == NULL) {
        CU_ASSERT_TRUE(af_checks_passed(c));
    } else {
        CU_ASSERT_FALSE(af_checks_passed(c));
        CU_ASSERT_EQUAL(status_of(c, AF_CHECK_NONCE), AF_CHECK_FAIL);
        CU_ASSERT_PTR_NOT_NULL(strstr(detail_of(c, AF_CHECK_NONCE), what));
        if (strstr(detail_of(c, AF_CHECK_NONCE), what) == NULL)
            fprintf(stderr, "\nexpected '%s', got '%s'\n", what, detail_of(c, AF_CHECK_NONCE));
    }
    af_checks_free(c);
    af_policy_free(p);
    af_verify_free(v);
}

static void test_ra_nonce_store(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *store;
    ra_nonce tx1 = {NULL, "transaction-1"}, tx2 = {NULL, "transaction-2"};
    AF_EVIDENCE *ev = make_evidence(ak_key, ak_cert, subj_key, NONCE);
    AF_EVIDENCE *ev2 = make_evidence(ak_key, ak_cert, subj_key, OTHER_NONCE);
    X509_REQ *req = make_csr(subj_key, ev), *req2 = make_csr(subj_key, ev2);

    test_now_ms = 1700000000000ull;
    af_nonce_store_config_init(&cfg);
    cfg.clock = test_clock;
    store = af_nonce_store_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(store);
    tx1.store = tx2.store = store;
    CU_ASSERT_EQUAL(af_nonce_store_issue(store, NONCE, sizeof(NONCE),
                                         (const unsigned char *)tx1.binding, strlen(tx1.binding),
                                         (const unsigned char *)"client", 6, 300, NULL),
                    AF_NONCE_OK);
    /* nonce from another transaction: refused, and not used up */
    expect_nonce(req, &tx2, "another transaction");
    /* the right transaction: accepted once */
    expect_nonce(req, &tx1, NULL);
    /* used twice */
    expect_nonce(req, &tx1, "already used");
    /* a nonce this RA never issued */
    expect_nonce(req2, &tx1, "not issued");
    /* expired */
    CU_ASSERT_EQUAL(af_nonce_store_issue(store, OTHER_NONCE, sizeof(OTHER_NONCE),
                                         (const unsigned char *)tx1.binding, strlen(tx1.binding),
                                         (const unsigned char *)"client", 6, 300, NULL),
                    AF_NONCE_OK);
    test_now_ms += 301 * 1000;
    expect_nonce(req2, &tx1, "expired");
    ERR_clear_error();
    af_nonce_store_free(store);
    X509_REQ_free(req);
    X509_REQ_free(req2);
    af_evidence_free(ev);
    af_evidence_free(ev2);
}

static void test_checks_json(void)
{
    AF_CHECKS *c = af_checks_new();
    char *j;

    af_checks_add(c, "one", AF_CHECK_PASS, "fine");
    af_checks_add(c, "two", AF_CHECK_FAIL, "bad \"quoted\" \x01 byte");
    j = af_checks_to_json(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(j, "{\"passed\":false,\"checks\":[{\"name\":\"one\",\"status\":\"pass\","
                              "\"detail\":\"fine\"},{\"name\":\"two\",\"status\":\"fail\","
                              "\"detail\":\"bad \\\"quoted\\\" ? byte\"}]}\n");
    CU_ASSERT_EQUAL(af_checks_first_failure(c), 1);
    OPENSSL_free(j);
    af_checks_free(c);
    /* an empty list is not a pass */
    c = af_checks_new();
    CU_ASSERT_FALSE(af_checks_passed(c));
    af_checks_free(c);
}

static void test_builder_arguments(void)
{
    AF_ATTEST *at = af_attest_new(NULL, NULL);

    /* no nonce, no key, wrong AK certificate */
    CU_ASSERT_FALSE(af_attest_set1_nonce(at, NONCE, 0));
    CU_ASSERT_PTR_NULL(af_attest_sign(at));
    CU_ASSERT_FALSE(af_attest_add_key(at, subj_key, NULL, NULL));
    CU_ASSERT_FALSE(af_attest_set1_ak(at, subj_key, ak_cert));
    ERR_clear_error();
    af_attest_free(at);
}

AF_TEST_MAIN(
    "evidence", setup, teardown, {"round trip: build, sign, DER, CSR, verify", test_roundtrip},
    {"PEM and print", test_pem_and_print},
    {"AK algorithms: P-256, P-384, RSA, RSA-PSS, Ed25519", test_algorithms},
    {"subject key types", test_subject_key_types},
    {"SPKI without encoders equals i2d_PUBKEY (EC, RSA, fallbacks)", test_spki_without_encoder},
    {"verifier prototype, per-request verifiers, proven-AK cache", test_verifier_prototype},
    {"verifier's Evidence reading equals the ordinary one", test_verifier_reading},
    {"verifier's bundle reading equals the ordinary one", test_verifier_bundle_reading},
    {"CRMF CertReqMsg", test_crmf}, {"reject: flipped signature byte", test_flipped_signature},
    {"reject: changed nonce", test_changed_nonce},
    {"reject: no nonce expected", test_no_nonce_callback},
    {"reject: Evidence about another key", test_other_key},
    {"reject: AK certificate without the EKU", test_ak_without_eku},
    {"reject: untrusted AK", test_untrusted_ak},
    {"reject: spki-only signer not an anchor", test_spki_signer},
    {"reject: keyId signer unresolvable", test_keyid_signer},
    {"reject: unsigned Evidence", test_unsigned},
    {"reject: two transaction elements", test_two_transactions},
    {"reject: key element without identifier", test_key_without_identifier},
    {"reject: duplicate key identifier", test_duplicate_identifier},
    {"reject: repeated claim", test_repeated_claim},
    {"reject: timestamp not YYYYMMDDHHMMSSZ", test_bad_timestamp},
    {"reject: version 2", test_wrong_version},
    {"policy: extractable key under the default policy", test_policy},
    {"policy file errors", test_policy_file_errors},
    {"reject: CSR with two attestation attributes", test_two_attributes},
    {"reject: tampered CSR", test_tampered_csr},
    {"reject: truncated bundle", test_truncated_bundle}, {"reject: BER and oversize", test_not_der},
    {"intermediateCertificates EXPLICIT and IMPLICIT", test_intermediates_both_forms},
    {"earlier layout reported", test_earlier_layout},
    {"nonce consumed only when all else passed", test_nonce_consumed_last},
    {"RA nonce store: other transaction, used twice, unknown, expired", test_ra_nonce_store},
    {"check list JSON", test_checks_json}, {"builder argument errors", test_builder_arguments})
