/* test_cmp_answer_pbm.c - answers of the RA's CMP responder that go through OpenSSL's server and
 * are protected by PBM: the server context answers unprotected and the responder protects the
 * answer with its cached PBM key (cmp_server.c). An OpenSSL client (its transfer callback calls
 * af_ra_cmp_handle directly) must accept the answer's protection, OSSL_CMP_validate_msg must
 * accept it with the secret and refuse it with another, and two answers carry the same cached
 * PBMParameter with the RA's senderKID. The p10cr goes to an RA without a CA: the answer is a
 * protected rejection. */
#include <string.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "attfresh/server.h"
#include "proto/proto_local.h"
#include "testutil.h"

#define SECRET "unit-cmp-mac-secret"

static AF_RA *ra;
static EVP_PKEY *key;
static X509_REQ *csr;
static unsigned char *last_der; /* the last answer as it came from the responder */
static size_t last_len;
static int last_status;

static int setup(void)
{
    AF_RA_CONFIG cfg;
    X509_NAME *name = X509_NAME_new();

    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.ratelimit = 0;
    if ((ra = af_ra_new(&cfg)) == NULL ||
        !af_ra_set1_cmp_secret(ra, (const unsigned char *)SECRET, strlen(SECRET)) ||
        (key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
        (csr = X509_REQ_new()) == NULL || name == NULL ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"unit", -1, -1,
                                    0) ||
        !X509_REQ_set_subject_name(csr, name) || !X509_REQ_set_pubkey(csr, key) ||
        X509_REQ_sign(csr, key, EVP_sha256()) <= 0) {
        X509_NAME_free(name);
        return 1;
    }
    X509_NAME_free(name);
    return 0;
}

static int teardown(void)
{
    OPENSSL_free(last_der);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    af_ra_free(ra);
    return 0;
}

/* The client's transport: the request straight into the responder, its answer back. */
static OSSL_CMP_MSG *transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs;
    unsigned char *der = NULL;
    const unsigned char *p;
    OSSL_CMP_MSG *rsp = NULL;
    int n = i2d_OSSL_CMP_MSG(req, &der);

    (void)ctx;
    memset(&rq, 0, sizeof(rq));
    memset(&rs, 0, sizeof(rs));
    rq.method = "POST";
    rq.path = "/.well-known/cmp";
    rq.content_type = "application/pkixcmp";
    rq.body = der;
    rq.body_len = n > 0 ? (size_t)n : 0;
    rq.requester = (const unsigned char *)"unit";
    rq.requester_len = 4;
    if (n > 0 && af_ra_cmp_handle(ra, &rq, &rs) == 1) {
        last_status = rs.status;
        OPENSSL_free(last_der);
        last_der = rs.body;
        last_len = rs.body_len;
        rs.body = NULL;
        p = last_der;
        if (rs.status == 200)
            rsp = d2i_OSSL_CMP_MSG(NULL, &p, (long)last_len);
    }
    OPENSSL_free(rs.body);
    OPENSSL_free(der);
    return rsp;
}

static OSSL_CMP_CTX *client(const char *secret)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);

    if (ctx == NULL ||
        !OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)secret, (int)strlen(secret)) ||
        !OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)"unit", 4) ||
        !OSSL_CMP_CTX_set_transfer_cb(ctx, transfer) || !OSSL_CMP_CTX_set1_p10CSR(ctx, csr)) {
        OSSL_CMP_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The last answer's header (a view), or NULL. */
static AF_CMP_HDR_VIEW *last_header(void)
{
    const unsigned char *p = last_der, *q;
    long len;
    int tag, cls;

    if (last_der == NULL || (ASN1_get_object(&p, &len, &tag, &cls, (long)last_len) & 0x80) != 0 ||
        tag != V_ASN1_SEQUENCE)
        return NULL;
    q = p;
    if ((ASN1_get_object(&q, &len, &tag, &cls, (long)(last_len - (size_t)(p - last_der))) & 0x80) !=
        0)
        return NULL;
    return af_cmp_hdr_view_d2i(p, (size_t)(q - p) + (size_t)len);
}

/* DER of the answer header's protectionAlg parameters (new buffer), 0 when none. */
static int pbm_params(unsigned char **der)
{
    AF_CMP_HDR_VIEW *h = last_header();
    const ASN1_OBJECT *obj = NULL;
    const void *pval = NULL;
    int ptype = 0, n = 0;

    *der = NULL;
    if (h != NULL && h->protectionAlg != NULL) {
        X509_ALGOR_get0(&obj, &ptype, &pval, h->protectionAlg);
        if (OBJ_obj2nid(obj) == NID_id_PasswordBasedMAC && ptype == V_ASN1_SEQUENCE &&
            h->senderKID != NULL && ASN1_STRING_length(h->senderKID) == 11 &&
            memcmp(ASN1_STRING_get0_data(h->senderKID), "attfresh-ra", 11) == 0 &&
            (*der = OPENSSL_memdup(ASN1_STRING_get0_data(pval),
                                   (size_t)ASN1_STRING_length(pval))) != NULL)
            n = ASN1_STRING_length(pval);
    }
    af_cmp_hdr_view_free(h);
    return n;
}

static int validates(const char *secret)
{
    OSSL_CMP_CTX *ctx = client(secret);
    const unsigned char *p = last_der;
    OSSL_CMP_MSG *m = d2i_OSSL_CMP_MSG(NULL, &p, (long)last_len);
    int ok = ctx != NULL && m != NULL && OSSL_CMP_validate_msg(ctx, m) == 1;

    OSSL_CMP_MSG_free(m);
    OSSL_CMP_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static void test_answer_protected_with_cached_key(void)
{
    OSSL_CMP_CTX *ctx = client(SECRET);
    unsigned char *first = NULL, *second = NULL;
    int n1, n2;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    /* the client checks the answer's protection before it reads the rejection */
    CU_ASSERT_PTR_NULL(OSSL_CMP_exec_P10CR_ses(ctx));
    CU_ASSERT_EQUAL(last_status, 200);
    CU_ASSERT_EQUAL(OSSL_CMP_CTX_get_status(ctx), OSSL_CMP_PKISTATUS_rejection);
    CU_ASSERT_TRUE(validates(SECRET));
    CU_ASSERT_FALSE(validates("another-secret"));
    n1 = pbm_params(&first);
    CU_ASSERT_TRUE(n1 > 0);
    OSSL_CMP_CTX_free(ctx);
    ERR_clear_error();
    /* a second transaction: the same cached PBMParameter, still valid */
    ctx = client(SECRET);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    CU_ASSERT_PTR_NULL(OSSL_CMP_exec_P10CR_ses(ctx));
    CU_ASSERT_EQUAL(OSSL_CMP_CTX_get_status(ctx), OSSL_CMP_PKISTATUS_rejection);
    CU_ASSERT_TRUE(validates(SECRET));
    n2 = pbm_params(&second);
    CU_ASSERT_TRUE(n2 > 0 && n1 == n2 && memcmp(first, second, (size_t)n1) == 0);
    OSSL_CMP_CTX_free(ctx);
    OPENSSL_free(first);
    OPENSSL_free(second);
    ERR_clear_error();
}

AF_TEST_MAIN("cmp_answer_pbm", setup, teardown,
             {"OpenSSL-path answer protected with the cached PBM key",
              test_answer_protected_with_cached_key})
