/* test_evidence_token.c - Evidence and attested CSRs with the AK and the subject key in the
 * fixture's SoftHSM2 token through attfresh.so: the claims equal what the token itself reports
 * (our own PKCS#11 session), the CSR made with token keys verifies under the default policy, every
 * AK algorithm the token offers works, and a key the token lets out is refused by the policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <p11-kit/pkcs11.h>

#include "attfresh/evidence.h"
#include "attfresh/oids.h"
#include "attfresh/params.h"
#include "p11test.h"
#include "testutil.h"

static OSSL_LIB_CTX *libctx;
static CK_FUNCTION_LIST *fl; /* our own view of the token */
static CK_SESSION_HANDLE sess;
static CK_SLOT_ID slot;
static char prefix[32];
static EVP_PKEY *ca_key;
static X509 *ca_cert;
static const unsigned char NONCE[20] = "fresh-nonce-0123456";

static int setup(void)
{
    X509_NAME *name;

    snprintf(prefix, sizeof(prefix), "ev%ld", (long)getpid());
    libctx = OSSL_LIB_CTX_new();
    if (libctx == NULL || !OSSL_LIB_CTX_load_config(libctx, af_test_openssl_cnf())) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    if (!af_test_p11_open(&fl, &slot, &sess))
        return 1;
    /* a software CA for the AK certificates: the trust the operator provisions */
    ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ca_cert = X509_new();
    name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"token test CA", -1,
                               -1, 0);
    X509_set_version(ca_cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(ca_cert), 1);
    X509_set_subject_name(ca_cert, name);
    X509_set_issuer_name(ca_cert, name);
    X509_gmtime_adj(X509_getm_notBefore(ca_cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(ca_cert), 86400);
    X509_set_pubkey(ca_cert, ca_key);
    X509_NAME_free(name);
    {
        X509V3_CTX ctx;
        X509_EXTENSION *e;

        X509V3_set_ctx(&ctx, ca_cert, ca_cert, NULL, NULL, 0);
        e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        X509_add_ext(ca_cert, e, -1);
        X509_EXTENSION_free(e);
    }
    return X509_sign(ca_cert, ca_key, EVP_sha256()) > 0 ? 0 : 1;
}

static int teardown(void)
{
    if (fl != NULL)
        fl->C_CloseSession(sess);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    OSSL_LIB_CTX_free(libctx);
    return 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */
static EVP_PKEY *gen(const char *alg, const char *group, size_t bits, const char *label)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(libctx, alg, AF_PROPQ);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[4], *p = params;

    if (group != NULL)
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
    if (bits != 0)
        *p++ = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &bits);
    *p++ = OSSL_PARAM_construct_utf8_string(AF_PARAM_GEN_LABEL, (char *)label, 0);
    *p = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 || !EVP_PKEY_CTX_set_params(ctx, params) ||
        EVP_PKEY_generate(ctx, &pkey) <= 0)
        ERR_print_errors_fp(stderr);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static X509 *ak_cert_for(EVP_PKEY *ak)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"token AK", -1, -1, 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 2);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, ak);
    X509V3_set_ctx(&ctx, ca_cert, x, NULL, NULL, 0);
    e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_key_usage, "critical,digitalSignature");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_ext_key_usage, af_oid_text(AF_OID_KP_ATTESTATION_KEY));
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    X509_sign(x, ca_key, EVP_sha256());
    X509_NAME_free(n);
    return x;
}

/* A CK_BBOOL attribute of the private key labelled label, read by our own session; -1 on error. */
static int token_bool(const char *label, CK_ATTRIBUTE_TYPE type)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h;
    CK_ULONG n = 0;
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE get = {type, &b, sizeof(b)};

    if (fl->C_FindObjectsInit(sess, find, 2) != CKR_OK)
        return -1;
    if (fl->C_FindObjects(sess, &h, 1, &n) != CKR_OK || n != 1) {
        fl->C_FindObjectsFinal(sess);
        return -1;
    }
    fl->C_FindObjectsFinal(sess);
    if (fl->C_GetAttributeValue(sess, h, &get, 1) != CKR_OK)
        return -1;
    return b == CK_TRUE;
}

static void trimmed(const CK_UTF8CHAR *s, size_t len, char *out)
{
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\0'))
        len--;
    memcpy(out, s, len);
    out[len] = '\0';
}

static AF_CHECKS *verify(X509_REQ *req, const AF_POLICY *policy)
{
    AF_VERIFY *v = af_verify_new(libctx, NULL);
    AF_CHECKS *c = af_checks_new();
    AF_EXPECTED_NONCE want = {NONCE, sizeof(NONCE)};

    CU_ASSERT_TRUE(af_verify_add1_trust(v, ca_cert));
    af_verify_set_nonce_cb(v, af_nonce_cb_expected, &want);
    if (policy != NULL)
        CU_ASSERT_TRUE(af_verify_set_policy(v, policy));
    af_csr_verify(v, req, c);
    if (!af_checks_passed(c)) {
        BIO *err = BIO_new_fp(stderr, BIO_NOCLOSE);

        af_checks_print(err, c);
        BIO_free(err);
    }
    af_verify_free(v);
    return c;
}

static int failed(const AF_CHECKS *c, const char *name)
{
    size_t i;

    for (i = 0; i < af_checks_count(c); i++)
        if (strcmp(af_checks_name(c, i), name) == 0 && af_checks_status(c, i) == AF_CHECK_FAIL)
            return 1;
    return 0;
}

/* Evidence about key (AK ak) and a CSR for key with it. */
static X509_REQ *attested_csr(EVP_PKEY *key, EVP_PKEY *ak, X509 *akc, int pss, unsigned int *facts,
                              AF_EVIDENCE **evout)
{
    AF_ATTEST *at = af_attest_new(libctx, NULL);
    AF_EVIDENCE *ev = NULL;
    AF_BUNDLE *b = af_bundle_new();
    X509_REQ *req = NULL;

    if (af_attest_set1_nonce(at, NONCE, sizeof(NONCE)) && af_attest_add_key(at, key, "k", facts) &&
        af_attest_set1_ak(at, ak, akc) && af_attest_set_rsa_pss(at, pss))
        ev = af_attest_sign(at);
    CU_ASSERT_PTR_NOT_NULL(ev);
    if (ev != NULL && af_bundle_add_evidence(b, ev))
        req = af_csr_new(key, "/CN=token device", NULL, b, libctx, NULL);
    if (req == NULL)
        ERR_print_errors_fp(stderr);
    CU_ASSERT_PTR_NOT_NULL(req);
    af_bundle_free(b);
    af_attest_free(at);
    if (evout != NULL)
        *evout = ev;
    else
        af_evidence_free(ev);
    return req;
}

/* ---- tests ---------------------------------------------------------------------------------- */
static void test_claims_equal_token_facts(void)
{
    char ak_label[64], key_label[64], uri[1024], buf[256], want[64];
    EVP_PKEY *ak, *key, *byuri;
    X509 *akc;
    X509_REQ *req;
    AF_EVIDENCE *ev = NULL;
    AF_KEY_CLAIMS kc;
    AF_CHECKS *c;
    CK_TOKEN_INFO ti;
    unsigned int facts = 0;
    unsigned char *spki = NULL;
    int spki_len;
    OSSL_PARAM up[2];

    snprintf(ak_label, sizeof(ak_label), "%s-ak", prefix);
    snprintf(key_label, sizeof(key_label), "%s-key", prefix);
    ak = gen("EC", "P-256", 0, ak_label);
    key = gen("EC", "P-256", 0, key_label);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ak);
    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
    /* the subject key as the commands load it: by its pkcs11: URI through OSSL_STORE */
    snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private", af_test_token_label(),
             key_label);
    byuri = af_load_key(uri, 1, libctx, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(byuri);
    akc = ak_cert_for(ak);

    req = attested_csr(byuri, ak, akc, 0, &facts, &ev);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_EQUAL(facts, AF_FACT_URI | AF_FACT_ATTRIBUTES | AF_FACT_CAPABILITIES | AF_FACT_TOKEN);

    CU_ASSERT_TRUE_FATAL(af_evidence_get_key(ev, 0, &kc));
    /* identifier: the key's own URI param */
    up[0] = OSSL_PARAM_construct_utf8_string(AF_PARAM_KEY_URI, buf, sizeof(buf));
    up[1] = OSSL_PARAM_construct_end();
    CU_ASSERT_TRUE(EVP_PKEY_get_params(byuri, up) > 0);
    CU_ASSERT_STRING_EQUAL(kc.identifier, buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(kc.identifier, key_label));
    /* spki: the key's SubjectPublicKeyInfo */
    spki_len = i2d_PUBKEY(byuri, &spki);
    CU_ASSERT_TRUE(spki_len > 0 && kc.spki_len == (size_t)spki_len &&
                   memcmp(kc.spki, spki, kc.spki_len) == 0);
    /* the four booleans: what the token says about the private key */
    CU_ASSERT_EQUAL(kc.sensitive, token_bool(key_label, CKA_SENSITIVE));
    CU_ASSERT_EQUAL(kc.extractable, token_bool(key_label, CKA_EXTRACTABLE));
    CU_ASSERT_EQUAL(kc.never_extractable, token_bool(key_label, CKA_NEVER_EXTRACTABLE));
    CU_ASSERT_EQUAL(kc.local, token_bool(key_label, CKA_LOCAL));
    CU_ASSERT_EQUAL(kc.sensitive, 1);
    CU_ASSERT_EQUAL(kc.extractable, 0);
    /* purpose: sign as the token says */
    CU_ASSERT_TRUE(kc.has_purpose);
    CU_ASSERT_EQUAL((kc.purpose & AF_CAP_SIGN) != 0, token_bool(key_label, CKA_SIGN) == 1);
    CU_ASSERT_EQUAL((kc.purpose & AF_CAP_DERIVE) != 0, token_bool(key_label, CKA_DERIVE) == 1);
    af_key_claims_clear(&kc);
    /* platform: CK_TOKEN_INFO */
    CU_ASSERT_FATAL(fl->C_GetTokenInfo(slot, &ti) == CKR_OK);
    trimmed(ti.manufacturerID, sizeof(ti.manufacturerID), want);
    CU_ASSERT_TRUE(af_evidence_get_platform(ev, AF_OID_EV_PF_VENDOR, buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, want);
    trimmed(ti.model, sizeof(ti.model), want);
    CU_ASSERT_TRUE(af_evidence_get_platform(ev, AF_OID_EV_PF_HWMODEL, buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, want);
    trimmed(ti.serialNumber, sizeof(ti.serialNumber), want);
    CU_ASSERT_TRUE(af_evidence_get_platform(ev, AF_OID_EV_PF_HWSERIAL, buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, want);
    snprintf(want, sizeof(want), "%u.%u", ti.firmwareVersion.major, ti.firmwareVersion.minor);
    CU_ASSERT_TRUE(af_evidence_get_platform(ev, AF_OID_EV_PF_SWVERSION, buf, sizeof(buf)));
    CU_ASSERT_STRING_EQUAL(buf, want);

    /* the CSR made with token keys passes the DEFAULT policy: the token's facts satisfy it */
    c = verify(req, NULL);
    CU_ASSERT_TRUE(af_checks_passed(c));
    af_checks_free(c);

    OPENSSL_free(spki);
    X509_REQ_free(req);
    af_evidence_free(ev);
    X509_free(akc);
    EVP_PKEY_free(byuri);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ak);
}

/* Token subject keys of each type: the spki claim and the CSR's SubjectPublicKeyInfo (made from
 * the key params, without OpenSSL's encoders) are the bytes i2d_PUBKEY gives through attfresh's
 * encoder path, and the CSR's public key is the token key's. */
static void test_subject_spki(void)
{
    static const struct {
        const char *alg, *group;
        size_t bits;
        const char *tag;
    } keys[] = {{"EC", "P-256", 0, "p256"},
                {"EC", "P-384", 0, "p384"},
                {"RSA", NULL, 2048, "rsa"},
                {"ED25519", NULL, 0, "ed"}};
    char label[64];
    EVP_PKEY *ak;
    X509 *akc;
    size_t i;

    snprintf(label, sizeof(label), "%s-spki-ak", prefix);
    ak = gen("EC", "P-256", 0, label);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ak);
    akc = ak_cert_for(ak);
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        EVP_PKEY *key;
        AF_EVIDENCE *ev = NULL;
        AF_KEY_CLAIMS kc;
        X509_REQ *req;
        unsigned char *want = NULL, *inreq = NULL;
        int want_len, req_len;

        snprintf(label, sizeof(label), "%s-spki-%s", prefix, keys[i].tag);
        key = gen(keys[i].alg, keys[i].group, keys[i].bits, label);
        CU_ASSERT_PTR_NOT_NULL(key);
        if (key == NULL)
            continue;
        want_len = i2d_PUBKEY(key, &want);
        CU_ASSERT_FATAL(want_len > 0);
        req = attested_csr(key, ak, akc, 0, NULL, &ev);
        CU_ASSERT_FATAL(req != NULL && ev != NULL);
        CU_ASSERT_FATAL(af_evidence_get_key(ev, 0, &kc));
        CU_ASSERT_TRUE(kc.spki_len == (size_t)want_len &&
                       memcmp(kc.spki, want, (size_t)want_len) == 0);
        req_len = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &inreq);
        CU_ASSERT_TRUE(req_len == want_len && memcmp(inreq, want, (size_t)want_len) == 0);
        CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key), 1);
        CU_ASSERT_EQUAL(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
        ERR_clear_error();
        af_key_claims_clear(&kc);
        OPENSSL_free(inreq);
        OPENSSL_free(want);
        X509_REQ_free(req);
        af_evidence_free(ev);
        EVP_PKEY_free(key);
    }
    X509_free(akc);
    EVP_PKEY_free(ak);
}

static void test_ak_algorithms(void)
{
    static const struct {
        const char *alg, *group;
        size_t bits;
        int pss;
        const char *tag;
    } algs[] = {
        {"EC", "P-384", 0, 0, "p384"},
        {"RSA", NULL, 2048, 0, "rsa"},
        {"RSA", NULL, 2048, 1, "pss"},
        {"ED25519", NULL, 0, 0, "ed"},
    };
    char label[64];
    EVP_PKEY *key;
    size_t i;

    snprintf(label, sizeof(label), "%s-subj", prefix);
    key = gen("EC", "P-256", 0, label);
    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        EVP_PKEY *ak;
        X509 *akc;
        X509_REQ *req;
        AF_CHECKS *c;

        snprintf(label, sizeof(label), "%s-ak-%s", prefix, algs[i].tag);
        ak = gen(algs[i].alg, algs[i].group, algs[i].bits, label);
        CU_ASSERT_PTR_NOT_NULL(ak);
        if (ak == NULL)
            continue;
        akc = ak_cert_for(ak);
        req = attested_csr(key, ak, akc, algs[i].pss, NULL, NULL);
        c = verify(req, NULL);
        CU_ASSERT_TRUE(af_checks_passed(c));
        if (!af_checks_passed(c))
            fprintf(stderr, "AK %s failed\n", algs[i].tag);
        af_checks_free(c);
        X509_REQ_free(req);
        X509_free(akc);
        EVP_PKEY_free(ak);
    }
    EVP_PKEY_free(key);
}

/* A key made outside the provider with CKA_EXTRACTABLE=true: the Evidence says so (the token's
 * own word) and the default policy refuses it. */
static void test_extractable_token_key(void)
{
    static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    char label[64], uri[256], ak_label[64];
    CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, sizeof(yes)},
                          {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
                          {CKA_VERIFY, &yes, sizeof(yes)},
                          {CKA_LABEL, label, 0}};
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, sizeof(yes)},       {CKA_PRIVATE, &yes, sizeof(yes)},
                           {CKA_SIGN, &yes, sizeof(yes)},        {CKA_SENSITIVE, &no, sizeof(no)},
                           {CKA_EXTRACTABLE, &yes, sizeof(yes)}, {CKA_LABEL, label, 0}};
    CK_OBJECT_HANDLE hpub, hpriv;
    EVP_PKEY *key, *ak;
    X509 *akc;
    X509_REQ *req;
    AF_EVIDENCE *ev = NULL;
    AF_KEY_CLAIMS kc;
    AF_CHECKS *c;
    AF_POLICY *lab = af_policy_new();

    snprintf(label, sizeof(label), "%s-exportable", prefix);
    pub[3].ulValueLen = priv[5].ulValueLen = strlen(label);
    CU_ASSERT_FATAL(fl->C_GenerateKeyPair(sess, &mech, pub, 4, priv, 6, &hpub, &hpriv) == CKR_OK);
    snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private", af_test_token_label(),
             label);
    key = af_load_key(uri, 1, libctx, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(key);
    snprintf(ak_label, sizeof(ak_label), "%s-ak2", prefix);
    ak = gen("EC", "P-256", 0, ak_label);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ak);
    akc = ak_cert_for(ak);
    req = attested_csr(key, ak, akc, 0, NULL, &ev);
    CU_ASSERT_TRUE_FATAL(ev != NULL && af_evidence_get_key(ev, 0, &kc));
    CU_ASSERT_EQUAL(kc.extractable, 1);
    CU_ASSERT_EQUAL(kc.sensitive, 0);
    CU_ASSERT_EQUAL(kc.never_extractable, 0);
    af_key_claims_clear(&kc);
    c = verify(req, NULL);
    CU_ASSERT_FALSE(af_checks_passed(c));
    CU_ASSERT_TRUE(failed(c, AF_CHECK_POLICY));
    CU_ASSERT_FALSE(failed(c, AF_CHECK_EVIDENCE_SIGNATURE));
    af_checks_free(c);
    /* a lab policy that allows it: then everything passes, so the policy was the only reason */
    CU_ASSERT_TRUE(
        af_policy_parse(lab, "sensitive=any\nextractable=any\nnever-extractable=any\n",
                        strlen("sensitive=any\nextractable=any\nnever-extractable=any\n")));
    c = verify(req, lab);
    CU_ASSERT_TRUE(af_checks_passed(c));
    af_checks_free(c);
    af_policy_free(lab);
    X509_REQ_free(req);
    af_evidence_free(ev);
    X509_free(akc);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(key);
}

AF_TEST_MAIN("evidence-token", setup, teardown,
             {"claims equal the token's facts; default policy passes",
              test_claims_equal_token_facts},
             {"AK algorithms in the token", test_ak_algorithms},
             {"subject key SPKI (EC, RSA, Ed25519) equals the encoder's", test_subject_spki},
             {"extractable token key refused by the default policy", test_extractable_token_key})
