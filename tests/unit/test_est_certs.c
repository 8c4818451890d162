/* test_est_certs.c - the station's reading of an EST /simpleenroll answer (proto_station.h,
 * enroll_client.c): a certs-only PKCS#7 made here with OpenSSL's PKCS7 API, certificates kept as
 * DER until asked for. The certificate for the key is found wherever it sits (CA first here) and
 * is the same object in the whole chain later; another key finds none (AF_R_PROTO_BINDING); a
 * chain certificate that does not decode does not stop the enrollment's own certificate but
 * fails the chain (AF_R_NONCE_DECODE); a ContentInfo that is not SignedData, or garbage, is no
 * answer. Software keys, no token. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "attfresh/err.h"
#include "proto/proto_station.h"
#include "testutil.h"

static EVP_PKEY *ca_key, *dev_key, *other_key;
static X509 *ca_cert, *dev_cert;

/* A certificate for key's public part named cn, signed by signer (self-signed when NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *signer)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();

    if (x == NULL || n == NULL || !X509_set_version(x, 2) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), issuer == NULL ? 1 : 2) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3600) || !X509_set_pubkey(x, key) ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_subject_name(x, n) ||
        !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n) ||
        !X509_sign(x, signer != NULL ? signer : key, EVP_sha256())) {
        X509_free(x);
        x = NULL;
    }
    X509_NAME_free(n);
    return x;
}

static int setup(void)
{
    ca_key = EVP_EC_gen("P-256");
    dev_key = EVP_EC_gen("P-256");
    other_key = EVP_EC_gen("P-256");
    if (ca_key == NULL || dev_key == NULL || other_key == NULL)
        return 1;
    ca_cert = make_cert(ca_key, "test RA CA", NULL, NULL);
    dev_cert = ca_cert != NULL ? make_cert(dev_key, "device", ca_cert, ca_key) : NULL;
    return dev_cert == NULL;
}

static int teardown(void)
{
    X509_free(ca_cert);
    X509_free(dev_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(dev_key);
    EVP_PKEY_free(other_key);
    return 0;
}

/* DER of a certs-only PKCS#7 (degenerate SignedData) with the CA first, as some RAs send it. */
static int certs_only(unsigned char **der)
{
    PKCS7 *p7 = PKCS7_new();
    int n = 0;

    *der = NULL;
    if (p7 != NULL && PKCS7_set_type(p7, NID_pkcs7_signed) &&
        PKCS7_content_new(p7, NID_pkcs7_data) && PKCS7_add_certificate(p7, ca_cert) &&
        PKCS7_add_certificate(p7, dev_cert))
        n = i2d_PKCS7(p7, der);
    PKCS7_free(p7);
    return n;
}

static int last_reason(void)
{
    int r = ERR_GET_REASON(ERR_peek_last_error());

    ERR_clear_error();
    return r;
}

static void test_finds_own_and_chain(void)
{
    unsigned char *der = NULL;
    int n = certs_only(&der);
    AF_EST_CERTS *c;
    X509 *mine, *again;
    STACK_OF(X509) * chain;

    CU_ASSERT_FATAL(n > 0);
    c = af_est_certs_d2i(der, (size_t)n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    mine = af_est_certs_get1_for(c, dev_key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
    CU_ASSERT_EQUAL(X509_cmp(mine, dev_cert), 0);
    /* asked again: the same object, nothing decoded twice */
    again = af_est_certs_get1_for(c, dev_key);
    CU_ASSERT_PTR_EQUAL(again, mine);
    X509_free(again);
    chain = af_est_certs_get1_all(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(chain);
    CU_ASSERT_EQUAL(sk_X509_num(chain), 2);
    CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(chain, 0), ca_cert), 0);
    CU_ASSERT_PTR_EQUAL(sk_X509_value(chain, 1), mine);
    /* another key has no certificate here */
    CU_ASSERT_PTR_NULL(af_est_certs_get1_for(c, other_key));
    CU_ASSERT_EQUAL(last_reason(), AF_R_PROTO_BINDING);
    sk_X509_pop_free(chain, X509_free);
    X509_free(mine);
    af_est_certs_free(c);
    OPENSSL_free(der);
}

static void test_bad_chain_cert(void)
{
    unsigned char *der = NULL, *ca = NULL;
    int n = certs_only(&der), calen = i2d_X509(ca_cert, &ca), i, at = -1;
    AF_EST_CERTS *c;
    X509 *mine;

    CU_ASSERT_FATAL(n > 0 && calen > 8);
    for (i = 0; i + calen <= n && at < 0; i++)
        if (memcmp(der + i, ca, (size_t)calen) == 0)
            at = i;
    CU_ASSERT_FATAL(at >= 0);
    /* the CA's TBSCertificate SEQUENCE becomes a SET: its TLV still parses, the certificate
     * does not decode */
    CU_ASSERT_EQUAL_FATAL(der[at + 4], 0x30);
    der[at + 4] = 0x31;
    c = af_est_certs_d2i(der, (size_t)n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    mine = af_est_certs_get1_for(c, dev_key);
    CU_ASSERT_PTR_NOT_NULL(mine);
    CU_ASSERT_EQUAL(X509_cmp(mine, dev_cert), 0);
    CU_ASSERT_PTR_NULL(af_est_certs_get1_all(c));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_DECODE);
    X509_free(mine);
    af_est_certs_free(c);
    OPENSSL_free(ca);
    OPENSSL_free(der);
}

static void test_not_an_answer(void)
{
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    PKCS7 *p7 = PKCS7_new();
    unsigned char *der = NULL;
    int n = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(p7);
    if (PKCS7_set_type(p7, NID_pkcs7_data))
        n = i2d_PKCS7(p7, &der);
    CU_ASSERT_FATAL(n > 0);
    CU_ASSERT_PTR_NULL(af_est_certs_d2i(der, (size_t)n));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_DECODE);
    CU_ASSERT_PTR_NULL(af_est_certs_d2i(junk, sizeof(junk)));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_DECODE);
    CU_ASSERT_PTR_NULL(af_est_certs_d2i(NULL, 0));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_DECODE);
    PKCS7_free(p7);
    OPENSSL_free(der);
}

AF_TEST_MAIN("est_certs", setup, teardown,
             {"own certificate found, chain decoded later", test_finds_own_and_chain},
             {"a chain certificate that does not decode", test_bad_chain_cert},
             {"not a certs-only PKCS#7", test_not_an_answer})
