/* test_cmc_asn1.c - CMC messages of the nonce exchange: golden vectors made by
 * `openssl asn1parse -genconf` (the .cnf files in tests/vectors/cmc) decode to the expected fields
 * and encode back to the same bytes, also when built from scratch; strictness (trailing bytes, BER,
 * wrong content type, duplicate controls); and the CMC responder called directly (recipientNonce,
 * transactionId binding in the store, failure controls, HTTP-level refusals). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/server.h"
#include "proto/cmc.h"
#include "testutil.h"

static const unsigned char txid[] = {0x23, 0xff, 0xe5, 0x72,
                                     0xcc, 0xaf, 0x09}; /* 10132985123483401 */
static const unsigned char req_sn[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const unsigned char rsp_sn[] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                       0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

static unsigned char *vector(const char *name, size_t *len)
{
    char rel[128];
    unsigned char *v;

    snprintf(rel, sizeof(rel), "tests/vectors/cmc/%s", name);
    v = af_test_read_file(af_test_src_path(rel), len);
    if (v == NULL)
        fprintf(stderr, "cannot read %s\n", af_test_src_path(rel));
    return v;
}

static int bytes_eq(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    return a != NULL && b != NULL && alen == blen && memcmp(a, b, alen) == 0;
}

static AF_NONCE_PROFILE *prof08(void)
{
    return af_nonce_profile_new("draft-08");
}

static void test_request_vector(void)
{
    size_t len, outlen, ctl_len;
    unsigned char *der = vector("request.der", &len), *out = NULL, *ctl = NULL;
    AF_NONCE_PROFILE *prof = prof08();
    AF_NONCE_CODEC *codec = af_nonce_codec_new();
    AF_NONCE_REQ *req = NULL, *mine;
    AF_CMC_MSG m, built;

    CU_ASSERT_PTR_NOT_NULL_FATAL(der);
    CU_ASSERT_PTR_NOT_NULL_FATAL(prof);
    CU_ASSERT_FATAL(af_cmc_msg_decode(&m, 0, "1.3.6.1.5.5.7.7.98", der, len));
    CU_ASSERT(bytes_eq(m.txid, m.txid_len, txid, sizeof(txid)));
    CU_ASSERT(bytes_eq(m.sender_nonce, m.sender_nonce_len, req_sn, sizeof(req_sn)));
    CU_ASSERT_PTR_NULL(m.recip_nonce);
    CU_ASSERT_EQUAL(m.status, -1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.nonce_ctl);
    CU_ASSERT_FATAL(
        af_nonce_req_decode(&req, prof, AF_NONCE_FMT_CMC, codec, m.nonce_ctl, m.nonce_ctl_len));
    CU_ASSERT_EQUAL(af_nonce_req_item_get_len(af_nonce_req_get0_item(req, 0)), 32);
    CU_ASSERT_EQUAL(af_nonce_codec_get_body_part_id(codec), 3);
    /* decode -> encode: same bytes */
    CU_ASSERT_FATAL(af_cmc_msg_encode(&m, 0, &out, &outlen));
    CU_ASSERT(bytes_eq(out, outlen, der, len));
    OPENSSL_free(out);
    out = NULL;

    /* from scratch, as the station builds it */
    mine = af_nonce_req_new();
    CU_ASSERT_FATAL(mine != NULL && af_nonce_req_add0_item(mine) != NULL);
    CU_ASSERT_FATAL(af_nonce_req_item_set_len(af_nonce_req_get0_item(mine, 0), 32));
    CU_ASSERT_FATAL(af_nonce_codec_set_body_part_id(codec, 3));
    CU_ASSERT_FATAL(af_nonce_req_encode(mine, prof, AF_NONCE_FMT_CMC, codec, &ctl, &ctl_len));
    af_cmc_msg_init(&built);
    CU_ASSERT_FATAL(af_cmc_msg_set1(&built.txid, &built.txid_len, txid, sizeof(txid)));
    CU_ASSERT_FATAL(
        af_cmc_msg_set1(&built.sender_nonce, &built.sender_nonce_len, req_sn, sizeof(req_sn)));
    CU_ASSERT_FATAL(af_cmc_msg_set1(&built.nonce_ctl, &built.nonce_ctl_len, ctl, ctl_len));
    CU_ASSERT_FATAL(af_cmc_msg_encode(&built, 0, &out, &outlen));
    CU_ASSERT(bytes_eq(out, outlen, der, len));
    OPENSSL_free(out);
    OPENSSL_free(ctl);
    af_cmc_msg_cleanup(&built);
    af_cmc_msg_cleanup(&m);
    af_nonce_req_free(req);
    af_nonce_req_free(mine);
    af_nonce_codec_free(codec);
    af_nonce_profile_free(prof);
    free(der);
}

static void test_response_vector(void)
{
    size_t len, outlen, nlen;
    unsigned char *der = vector("response.der", &len), *out = NULL;
    AF_NONCE_PROFILE *prof = prof08();
    AF_NONCE_RESP *resp = NULL;
    const unsigned char *nonce;
    int64_t exp;
    AF_CMC_MSG m;
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(der);
    CU_ASSERT_FATAL(af_cmc_msg_decode(&m, 1, "1.3.6.1.5.5.7.7.99", der, len));
    CU_ASSERT(bytes_eq(m.txid, m.txid_len, txid, sizeof(txid)));
    CU_ASSERT(bytes_eq(m.sender_nonce, m.sender_nonce_len, rsp_sn, sizeof(rsp_sn)));
    CU_ASSERT(bytes_eq(m.recip_nonce, m.recip_nonce_len, req_sn, sizeof(req_sn)));
    CU_ASSERT_EQUAL(m.status, -1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.nonce_ctl);
    CU_ASSERT_FATAL(
        af_nonce_resp_decode(&resp, prof, AF_NONCE_FMT_CMC, NULL, m.nonce_ctl, m.nonce_ctl_len));
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &nonce, &nlen);
    CU_ASSERT_EQUAL_FATAL(nlen, 32);
    for (i = 0; i < nlen; i++)
        CU_ASSERT_EQUAL(nonce[i], i);
    CU_ASSERT(af_nonce_resp_item_get_expiry_seconds(af_nonce_resp_get0_item(resp, 0), NULL, &exp) &&
              exp == 300);
    CU_ASSERT_FATAL(af_cmc_msg_encode(&m, 1, &out, &outlen));
    CU_ASSERT(bytes_eq(out, outlen, der, len));
    /* the request's nonce OID does not pick out the response control */
    af_cmc_msg_cleanup(&m);
    CU_ASSERT_FATAL(af_cmc_msg_decode(&m, 1, "1.3.6.1.5.5.7.7.98", der, len));
    CU_ASSERT_PTR_NULL(m.nonce_ctl);
    OPENSSL_free(out);
    af_cmc_msg_cleanup(&m);
    af_nonce_resp_free(resp);
    af_nonce_profile_free(prof);
    free(der);
}

static void test_failure_vector(void)
{
    size_t len, outlen;
    unsigned char *der = vector("failure.der", &len), *out = NULL;
    AF_CMC_MSG m, built;
    char name[32];

    CU_ASSERT_PTR_NOT_NULL_FATAL(der);
    CU_ASSERT_FATAL(af_cmc_msg_decode(&m, 1, "1.3.6.1.5.5.7.7.99", der, len));
    CU_ASSERT_EQUAL(m.status, AF_CMC_STATUS_FAILED);
    CU_ASSERT_EQUAL(m.fail_info, AF_CMC_FAIL_TRY_LATER);
    CU_ASSERT_EQUAL(m.status_body_part, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.status_string);
    CU_ASSERT_STRING_EQUAL(m.status_string, "no nonce available now");
    CU_ASSERT_PTR_NULL(m.nonce_ctl);
    CU_ASSERT_STRING_EQUAL(af_cmc_fail_info_name(m.fail_info, name, sizeof(name)), "tryLater");
    CU_ASSERT_FATAL(af_cmc_msg_encode(&m, 1, &out, &outlen));
    CU_ASSERT(bytes_eq(out, outlen, der, len));
    OPENSSL_free(out);
    out = NULL;
    /* from scratch, as the responder builds it */
    af_cmc_msg_init(&built);
    CU_ASSERT_FATAL(af_cmc_msg_set1(&built.txid, &built.txid_len, txid, sizeof(txid)));
    CU_ASSERT_FATAL(
        af_cmc_msg_set1(&built.sender_nonce, &built.sender_nonce_len, rsp_sn, sizeof(rsp_sn)));
    CU_ASSERT_FATAL(
        af_cmc_msg_set1(&built.recip_nonce, &built.recip_nonce_len, req_sn, sizeof(req_sn)));
    built.status = AF_CMC_STATUS_FAILED;
    built.fail_info = AF_CMC_FAIL_TRY_LATER;
    built.status_body_part = 3;
    built.status_string = OPENSSL_strdup("no nonce available now");
    CU_ASSERT_FATAL(af_cmc_msg_encode(&built, 1, &out, &outlen));
    CU_ASSERT(bytes_eq(out, outlen, der, len));
    OPENSSL_free(out);
    af_cmc_msg_cleanup(&built);
    af_cmc_msg_cleanup(&m);
    free(der);
}

static int last_reason(void)
{
    int r = ERR_GET_REASON(ERR_peek_last_error());

    ERR_clear_error();
    return r;
}

static void test_strict_decoding(void)
{
    size_t len;
    unsigned char *der = vector("request.der", &len), *buf;
    AF_CMC_MSG m;

    CU_ASSERT_PTR_NOT_NULL_FATAL(der);
    buf = OPENSSL_malloc(len + 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    /* trailing byte */
    memcpy(buf, der, len);
    buf[len] = 0;
    CU_ASSERT_FALSE(af_cmc_msg_decode(&m, 0, NULL, buf, len + 1));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_TRAILING);
    /* truncated */
    CU_ASSERT_FALSE(af_cmc_msg_decode(&m, 0, NULL, der, len - 1));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_DECODE);
    /* BER: the outer length in long form (81 6c instead of 6c) */
    buf[0] = 0x30;
    buf[1] = 0x81;
    memcpy(buf + 2, der + 1, len - 1);
    CU_ASSERT_FALSE(af_cmc_msg_decode(&m, 0, NULL, buf, len + 1));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_NOT_DER);
    /* not id-data: pkcs7-signedData (1.2.840.113549.1.7.2) */
    memcpy(buf, der, len);
    CU_ASSERT_EQUAL_FATAL(buf[12], 0x01); /* last OID byte of 1.2.840.113549.1.7.1 */
    buf[12] = 0x02;
    CU_ASSERT_FALSE(af_cmc_msg_decode(&m, 0, NULL, buf, len));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_BAD_TYPE);
    /* a request parsed as a response: PKIResponse has three members, PKIData four */
    CU_ASSERT_FALSE(af_cmc_msg_decode(&m, 1, NULL, der, len));
    ERR_clear_error();
    OPENSSL_free(buf);
    free(der);
}

static void test_duplicate_control(void)
{
    AF_CMC_MSG m, in;
    unsigned char *out = NULL;
    size_t outlen;
    AF_CMC_PKIDATA *pd;
    AF_CMC_TAGGED_ATTR *dup;
    const unsigned char *p;

    /* Build {txid} and add a second transactionId control by hand. */
    af_cmc_msg_init(&m);
    CU_ASSERT_FATAL(af_cmc_msg_set1(&m.txid, &m.txid_len, txid, sizeof(txid)));
    CU_ASSERT_FATAL(af_cmc_msg_encode(&m, 0, &out, &outlen));
    af_cmc_msg_cleanup(&m);
    {
        AF_CMC_CONTENT_INFO *ci;
        ASN1_OCTET_STRING *os;
        unsigned char *inner = NULL;
        int n;

        p = out;
        ci = d2i_AF_CMC_CONTENT_INFO(NULL, &p, (long)outlen);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ci);
        os = ci->content->value.octet_string;
        p = ASN1_STRING_get0_data(os);
        pd = d2i_AF_CMC_PKIDATA(NULL, &p, ASN1_STRING_length(os));
        CU_ASSERT_PTR_NOT_NULL_FATAL(pd);
        dup = AF_CMC_TAGGED_ATTR_dup(sk_AF_CMC_TAGGED_ATTR_value(pd->controlSequence, 0));
        CU_ASSERT_FATAL(dup != NULL && sk_AF_CMC_TAGGED_ATTR_push(pd->controlSequence, dup) > 0);
        n = i2d_AF_CMC_PKIDATA(pd, &inner);
        CU_ASSERT_FATAL(n > 0);
        ASN1_STRING_set0(os, inner, n);
        OPENSSL_free(out);
        out = NULL;
        n = i2d_AF_CMC_CONTENT_INFO(ci, &out);
        CU_ASSERT_FATAL(n > 0);
        outlen = (size_t)n;
        AF_CMC_PKIDATA_free(pd);
        AF_CMC_CONTENT_INFO_free(ci);
    }
    CU_ASSERT_FALSE(af_cmc_msg_decode(&in, 0, NULL, out, outlen));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_DUPLICATE);
    OPENSSL_free(out);
}

/* ---- the responder ----------------------------------------------------------------------------
 */

static AF_RA *make_ra(size_t max_total)
{
    AF_RA_CONFIG cfg;

    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.store.max_total = max_total;
    cfg.store.max_per_requester = max_total;
    cfg.rl.burst = 1000;
    return af_ra_new(&cfg);
}

static int call(AF_RA *ra, const char *method, const char *ct, const unsigned char *body,
                size_t len, AF_RA_HTTP_RESP *rs)
{
    AF_RA_HTTP_REQ rq;

    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.path = "/cmc";
    rq.profile = "draft-08";
    rq.content_type = ct;
    rq.body = body;
    rq.body_len = len;
    rq.requester = (const unsigned char *)"127.0.0.1";
    rq.requester_len = 9;
    return af_ra_cmc_handle(ra, &rq, rs);
}

static void test_responder_issues_bound_nonce(void)
{
    AF_RA *ra = make_ra(10);
    size_t len, nlen;
    unsigned char *der = vector("request.der", &len);
    AF_RA_HTTP_RESP rs = {0};
    AF_CMC_MSG m;
    AF_NONCE_PROFILE *prof = prof08();
    AF_NONCE_RESP *resp = NULL;
    const unsigned char *nonce;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    CU_ASSERT_PTR_NOT_NULL_FATAL(der);
    CU_ASSERT_EQUAL(call(ra, "POST", AF_CMC_REQUEST_CT, der, len, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 200);
    CU_ASSERT_STRING_EQUAL(rs.content_type, AF_CMC_RESPONSE_CT);
    CU_ASSERT_FATAL(af_cmc_msg_decode(&m, 1, "1.3.6.1.5.5.7.7.99", rs.body, rs.body_len));
    CU_ASSERT(bytes_eq(m.txid, m.txid_len, txid, sizeof(txid)));
    CU_ASSERT(bytes_eq(m.recip_nonce, m.recip_nonce_len, req_sn, sizeof(req_sn)));
    CU_ASSERT_EQUAL(m.sender_nonce_len, 16);
    CU_ASSERT_EQUAL(m.status, -1);
    CU_ASSERT_FATAL(
        af_nonce_resp_decode(&resp, prof, AF_NONCE_FMT_CMC, NULL, m.nonce_ctl, m.nonce_ctl_len));
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &nonce, &nlen);
    CU_ASSERT_EQUAL(nlen, 32);
    /* recorded under the transactionId */
    CU_ASSERT_EQUAL(
        af_nonce_store_consume(af_ra_get0_store(ra), nonce, nlen, req_sn, sizeof(req_sn)),
        AF_NONCE_WRONG_TRANSACTION);
    CU_ASSERT_EQUAL(af_nonce_store_consume(af_ra_get0_store(ra), nonce, nlen, txid, sizeof(txid)),
                    AF_NONCE_OK);
    ERR_clear_error();
    af_nonce_resp_free(resp);
    af_cmc_msg_cleanup(&m);
    OPENSSL_free(rs.body);
    af_nonce_profile_free(prof);
    af_ra_free(ra);
    free(der);
}

/* A request of the given parts, answered with a failed status and this failInfo. */
static void expect_cmc_failure(AF_RA *ra, int with_txid, int with_nonce_ctl, int len,
                               long fail_info)
{
    AF_CMC_MSG m, r;
    AF_NONCE_PROFILE *prof = prof08();
    AF_NONCE_REQ *req = af_nonce_req_new();
    AF_NONCE_CODEC *codec = af_nonce_codec_new();
    AF_RA_HTTP_RESP rs = {0};
    unsigned char *der = NULL;
    size_t derlen;

    CU_ASSERT_FATAL(req != NULL && af_nonce_req_add0_item(req) != NULL);
    af_cmc_msg_init(&m);
    if (len > 0)
        CU_ASSERT_FATAL(af_nonce_req_item_set_len(af_nonce_req_get0_item(req, 0), len));
    if (with_txid)
        CU_ASSERT_FATAL(af_cmc_msg_set1(&m.txid, &m.txid_len, txid, sizeof(txid)));
    CU_ASSERT_FATAL(af_cmc_msg_set1(&m.sender_nonce, &m.sender_nonce_len, req_sn, sizeof(req_sn)));
    af_nonce_codec_set_body_part_id(codec, 3);
    if (with_nonce_ctl)
        CU_ASSERT_FATAL(af_nonce_req_encode(req, prof, AF_NONCE_FMT_CMC, codec, &m.nonce_ctl,
                                            &m.nonce_ctl_len));
    CU_ASSERT_FATAL(af_cmc_msg_encode(&m, 0, &der, &derlen));
    CU_ASSERT_EQUAL(call(ra, "POST", "application/pkcs7-mime", der, derlen, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 200);
    CU_ASSERT_FATAL(af_cmc_msg_decode(&r, 1, "1.3.6.1.5.5.7.7.99", rs.body, rs.body_len));
    CU_ASSERT_EQUAL(r.status, AF_CMC_STATUS_FAILED);
    CU_ASSERT_EQUAL(r.fail_info, fail_info);
    CU_ASSERT_PTR_NOT_NULL(r.status_string);
    CU_ASSERT_PTR_NULL(r.nonce_ctl);
    CU_ASSERT(bytes_eq(r.recip_nonce, r.recip_nonce_len, req_sn, sizeof(req_sn)));
    af_cmc_msg_cleanup(&r);
    af_cmc_msg_cleanup(&m);
    OPENSSL_free(rs.body);
    OPENSSL_free(der);
    af_nonce_codec_free(codec);
    af_nonce_req_free(req);
    af_nonce_profile_free(prof);
}

static void test_responder_failures(void)
{
    AF_RA *ra = make_ra(1);
    size_t len;
    unsigned char *der = vector("request.der", &len);
    AF_RA_HTTP_RESP rs = {0};

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    CU_ASSERT_PTR_NOT_NULL_FATAL(der);
    expect_cmc_failure(ra, 0, 1, 0, AF_CMC_FAIL_BAD_REQUEST); /* no transactionId */
    expect_cmc_failure(ra, 1, 0, 0, AF_CMC_FAIL_BAD_REQUEST); /* no nonce request control */
    /* the store holds one nonce: the first request gets it, the second is told to try later */
    CU_ASSERT_EQUAL(call(ra, "POST", AF_CMC_REQUEST_CT, der, len, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 200);
    OPENSSL_free(rs.body);
    expect_cmc_failure(ra, 1, 1, 8, AF_CMC_FAIL_TRY_LATER);

    /* HTTP-level refusals: no body, no CMC */
    memset(&rs, 0, sizeof(rs));
    CU_ASSERT_EQUAL(call(ra, "GET", NULL, NULL, 0, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 405);
    CU_ASSERT_STRING_EQUAL(rs.allow, "POST");
    CU_ASSERT_EQUAL(call(ra, "POST", "application/json", der, len, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 415);
    CU_ASSERT_PTR_NULL(rs.body);
    CU_ASSERT_EQUAL(
        call(ra, "POST", "application/pkcs7-mime; smime-type=CMC-response", der, len, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 415);
    CU_ASSERT_EQUAL(call(ra, "POST", AF_CMC_REQUEST_CT, der, len - 3, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 400);
    CU_ASSERT_PTR_NULL(rs.body);
    CU_ASSERT_NOT_EQUAL(rs.log[0], '\0');
    af_ra_free(ra);
    free(der);
}

/* Fuzzer finding: a CMCStatusInfoV2 with a negative failInfo decoded, then re-encoded without it
 * (negative is our "absent"). Such a failInfo is malformed and must be refused. */
static void test_negative_fail_info(void)
{
    size_t len = 0;
    unsigned char *der =
        af_test_read_file(af_test_src_path("tests/fuzz/corpus/cmc/regress-negative-failinfo.der"), &len);
    AF_CMC_MSG m;

    CU_ASSERT_PTR_NOT_NULL_FATAL(der);
    CU_ASSERT_FALSE(af_cmc_msg_decode(&m, 1, "1.3.6.1.5.5.7.7.99", der, len));
    CU_ASSERT_EQUAL(last_reason(), AF_R_NONCE_BAD_TYPE);
    ERR_clear_error();
    free(der);
}

AF_TEST_MAIN("cmc_asn1", NULL, NULL, {"request vector round trip", test_request_vector},
             {"response vector round trip", test_response_vector},
             {"failure vector round trip", test_failure_vector},
             {"strict decoding", test_strict_decoding},
             {"negative failInfo refused", test_negative_fail_info},
             {"duplicate control refused", test_duplicate_control},
             {"responder issues a transactionId-bound nonce", test_responder_issues_bound_nonce},
             {"responder failures and refusals", test_responder_failures})
