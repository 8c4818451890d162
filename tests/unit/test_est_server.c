/* test_est_server.c - the EST nonce responder called directly (no HTTP): statuses, media types,
 * the binding cookie (and that the nonce is recorded under it), len out of range, store full and
 * rate limit -> 503, the empty-nonce policy by label and by type, the seed profile's JSON. The
 * RA uses the software RNG here; the HSM RNG is covered by tests/cli/test_serve_est.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/server.h"
#include "testutil.h"

#define MT_CURRENT "application/est-attestation-freshness+json"

static AF_RA *make_ra(size_t max_total, double burst, const char *empty_labels,
                      const char *empty_types)
{
    AF_RA_CONFIG cfg;
    AF_RA *ra;

    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.store.max_total = max_total;
    cfg.store.max_per_requester = max_total;
    cfg.rl.burst = burst;
    cfg.rl.rate_per_s = 0.0001; /* no refill within a test run */
    cfg.empty_labels = empty_labels;
    cfg.empty_types = empty_types;
    ra = af_ra_new(&cfg);
    if (ra == NULL)
        ERR_print_errors_fp(stderr);
    return ra;
}

static void req_init(AF_RA_HTTP_REQ *rq, const char *method, const char *profile,
                     const char *content_type, const char *body)
{
    memset(rq, 0, sizeof(*rq));
    rq->method = method;
    rq->path = "/.well-known/est/nonce";
    rq->profile = profile;
    rq->content_type = content_type;
    rq->body = (const unsigned char *)body;
    rq->body_len = body != NULL ? strlen(body) : 0;
    rq->requester = (const unsigned char *)"127.0.0.1";
    rq->requester_len = 9;
    rq->tls = 1;
}

static void resp_clear(AF_RA_HTTP_RESP *rs)
{
    OPENSSL_free(rs->body);
    memset(rs, 0, sizeof(*rs));
}

/* The cookie value of a Set-Cookie header into out (33 bytes). */
static int cookie_value(const char *set_cookie, char *out)
{
    const char *p = strstr(set_cookie, AF_RA_EST_COOKIE "=");
    size_t n;

    if (p != set_cookie)
        return 0;
    p += strlen(AF_RA_EST_COOKIE "=");
    n = strcspn(p, ";");
    if (n != 32)
        return 0;
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

static AF_NONCE_RESP *decode_body(const AF_RA_HTTP_RESP *rs, const char *profile)
{
    AF_NONCE_PROFILE *prof = af_nonce_profile_new(profile);
    AF_NONCE_RESP *resp = NULL;

    if (prof == NULL ||
        !af_nonce_resp_decode(&resp, prof, AF_NONCE_FMT_JSON, NULL, rs->body, rs->body_len))
        resp = NULL;
    af_nonce_profile_free(prof);
    return resp;
}

static void test_get_issues_bound_nonce(void)
{
    AF_RA *ra = make_ra(100, 100, NULL, NULL);
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs = {0};
    AF_NONCE_RESP *resp;
    const unsigned char *nonce;
    size_t len;
    int64_t exp;
    char cookie[33];

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    req_init(&rq, "GET", "draft-08", NULL, NULL);
    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 200);
    CU_ASSERT_STRING_EQUAL(rs.content_type, MT_CURRENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(rs.set_cookie, "; HttpOnly"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rs.set_cookie, "; Secure"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rs.set_cookie, "; SameSite=Strict"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rs.set_cookie, "; Path=/.well-known/est"));
    CU_ASSERT_FATAL(cookie_value(rs.set_cookie, cookie));
    resp = decode_body(&rs, "draft-08");
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL(af_nonce_resp_get_count(resp), 1);
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &nonce, &len);
    CU_ASSERT_EQUAL(len, 32); /* the default length */
    CU_ASSERT_EQUAL(
        af_nonce_resp_item_get_expiry_seconds(af_nonce_resp_get0_item(resp, 0), NULL, &exp), 1);
    CU_ASSERT_EQUAL(exp, 300);
    /* Recorded under the cookie: another binding is refused, the cookie's works exactly once. */
    CU_ASSERT_EQUAL(af_nonce_store_consume(af_ra_get0_store(ra), nonce, len,
                                           (const unsigned char *)"someone-else", 12),
                    AF_NONCE_WRONG_TRANSACTION);
    CU_ASSERT_EQUAL(af_nonce_store_consume(af_ra_get0_store(ra), nonce, len,
                                           (const unsigned char *)cookie, strlen(cookie)),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(af_ra_get0_store(ra), nonce, len,
                                           (const unsigned char *)cookie, strlen(cookie)),
                    AF_NONCE_REUSED);
    ERR_clear_error();
    af_nonce_resp_free(resp);
    resp_clear(&rs);

    /* Every response gets a new cookie. */
    {
        char cookie2[33];

        CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
        CU_ASSERT_FATAL(cookie_value(rs.set_cookie, cookie2));
        CU_ASSERT_STRING_NOT_EQUAL(cookie, cookie2);
        resp_clear(&rs);
    }
    af_ra_free(ra);
}

static void test_post_len(void)
{
    AF_RA *ra = make_ra(100, 100, NULL, NULL);
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs = {0};
    AF_NONCE_RESP *resp;
    const unsigned char *nonce;
    size_t len;
    static const int lens[] = {8, 32, 48, 64};
    size_t i;
    char body[64];

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        snprintf(body, sizeof(body), "{\"len\":%d}", lens[i]);
        /* media type parameters and case do not matter */
        req_init(&rq, "POST", "draft-08",
                 "Application/EST-attestation-freshness+json; charset=utf-8", body);
        CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
        CU_ASSERT_EQUAL(rs.status, 200);
        resp = decode_body(&rs, "draft-08");
        CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
        af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &nonce, &len);
        CU_ASSERT_EQUAL(len, (size_t)lens[i]);
        af_nonce_resp_free(resp);
        resp_clear(&rs);
    }
    af_ra_free(ra);
}

/* Each case: 400 (or the given status), no body, no Content-Type, no cookie, nothing stored. */
static void expect_refused(AF_RA *ra, const char *method, const char *profile, const char *ct,
                           const char *body, int status)
{
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs = {0};
    AF_NONCE_STORE_STATS st;

    req_init(&rq, method, profile, ct, body);
    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, status);
    if (rs.status != status)
        fprintf(stderr, "  %s %s '%s': got %d (%s)\n", method, ct ? ct : "-", body ? body : "",
                rs.status, rs.log);
    CU_ASSERT_PTR_NULL(rs.body);
    CU_ASSERT_EQUAL(rs.body_len, 0);
    CU_ASSERT_EQUAL(rs.content_type[0], '\0');
    CU_ASSERT_EQUAL(rs.set_cookie[0], '\0');
    CU_ASSERT_NOT_EQUAL(rs.log[0], '\0');
    CU_ASSERT_FATAL(af_nonce_store_get_stats(af_ra_get0_store(ra), &st));
    CU_ASSERT_EQUAL(st.outstanding, 0);
    resp_clear(&rs);
}

static void test_bad_requests(void)
{
    AF_RA *ra = make_ra(100, 1000, NULL, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    expect_refused(ra, "POST", "draft-08", MT_CURRENT, "{\"len\":7}", 400);
    expect_refused(ra, "POST", "draft-08", MT_CURRENT, "{\"len\":65}", 400);
    expect_refused(ra, "POST", "draft-08", MT_CURRENT, "{\"len\":-1}", 400);
    expect_refused(ra, "POST", "draft-08", MT_CURRENT, "{\"len\":", 400);
    expect_refused(ra, "POST", "draft-08", MT_CURRENT, "not json", 400);
    expect_refused(ra, "POST", "draft-08", MT_CURRENT, "{\"len\":8,\"len\":9}", 400);
    expect_refused(ra, "POST", "draft-08", MT_CURRENT, "{\"bogus\":1}", 400);
    expect_refused(ra, "POST", "draft-08", MT_CURRENT, "", 400);
    expect_refused(ra, "POST", "draft-08", "application/json", "{\"len\":8}", 400);
    expect_refused(ra, "POST", "draft-08", "application/est-attestation-freshness+jsonx",
                   "{\"len\":8}", 400);
    expect_refused(ra, "POST", "draft-08", NULL, "{\"len\":8}", 400);
    expect_refused(ra, "GET", "draft-08", NULL, "{}", 400);
    expect_refused(ra, "PUT", "draft-08", MT_CURRENT, "{}", 405);
    expect_refused(ra, "GET", "no-such-profile", NULL, NULL, 404);
    /* the seed profile wants application/json and an array */
    expect_refused(ra, "POST", "draft-06", MT_CURRENT, "[{\"len\":8}]", 400);
    expect_refused(ra, "POST", "draft-06", "application/json", "{\"len\":8}", 400);
    af_ra_free(ra);
}

static void test_method_allow_header(void)
{
    AF_RA *ra = make_ra(100, 100, NULL, NULL);
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs = {0};

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    req_init(&rq, "DELETE", "draft-08", NULL, NULL);
    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 405);
    CU_ASSERT_STRING_EQUAL(rs.allow, "GET, POST");
    resp_clear(&rs);
    af_ra_free(ra);
}

static void test_store_full_503(void)
{
    AF_RA *ra = make_ra(2, 100, NULL, NULL);
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs = {0};
    int i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    req_init(&rq, "GET", "draft-08", NULL, NULL);
    for (i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
        CU_ASSERT_EQUAL(rs.status, 200);
        resp_clear(&rs);
    }
    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 503);
    CU_ASSERT_PTR_NULL(rs.body);
    CU_ASSERT_EQUAL(rs.set_cookie[0], '\0');
    CU_ASSERT(rs.retry_after > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(rs.log, "full"));
    resp_clear(&rs);
    af_ra_free(ra);
}

static void test_rate_limit_503(void)
{
    AF_RA *ra = make_ra(100, 3, NULL, NULL);
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs = {0};
    int i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    req_init(&rq, "GET", "draft-08", NULL, NULL);
    for (i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
        CU_ASSERT_EQUAL(rs.status, 200);
        resp_clear(&rs);
    }
    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 503);
    CU_ASSERT_PTR_NOT_NULL(strstr(rs.log, "rate limit"));
    resp_clear(&rs);
    /* another client still gets its nonce */
    rq.requester = (const unsigned char *)"127.0.0.2";
    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 200);
    resp_clear(&rs);
    af_ra_free(ra);
}

static void expect_empty_nonce(AF_RA *ra, AF_RA_HTTP_REQ *rq)
{
    AF_RA_HTTP_RESP rs = {0};
    AF_NONCE_RESP *resp;
    AF_NONCE_STORE_STATS st;
    const unsigned char *nonce;
    size_t len = 99;

    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 200);
    CU_ASSERT_PTR_NOT_NULL(rs.body);
    resp = decode_body(&rs, rq->profile);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &nonce, &len);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_FATAL(af_nonce_store_get_stats(af_ra_get0_store(ra), &st));
    CU_ASSERT_EQUAL(st.outstanding, 0);
    af_nonce_resp_free(resp);
    resp_clear(&rs);
}

static void test_empty_nonce_policy(void)
{
    AF_RA *ra = make_ra(100, 100, "legacy, nofresh", "1.2.3.4.5");
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs = {0};
    AF_NONCE_STORE_STATS st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    req_init(&rq, "GET", "draft-08", NULL, NULL);
    rq.label = "nofresh";
    expect_empty_nonce(ra, &rq);
    req_init(&rq, "POST", "draft-08", MT_CURRENT, "{\"reqTypeInfo\":{\"type\":\"1.2.3.4.5\"}}");
    expect_empty_nonce(ra, &rq);
    /* another label and another type get a real nonce */
    req_init(&rq, "POST", "draft-08", MT_CURRENT, "{\"reqTypeInfo\":{\"type\":\"1.2.3.4.6\"}}");
    rq.label = "tpm";
    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 200);
    CU_ASSERT_FATAL(af_nonce_store_get_stats(af_ra_get0_store(ra), &st));
    CU_ASSERT_EQUAL(st.outstanding, 1);
    resp_clear(&rs);
    af_ra_free(ra);
}

static void test_bad_policy_config(void)
{
    AF_RA_CONFIG cfg;
    AF_RA *ra;

    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.empty_types = "not-an-oid";
    ra = af_ra_new(&cfg);
    CU_ASSERT_PTR_NULL(ra);
    CU_ASSERT_EQUAL(ERR_GET_REASON(ERR_peek_last_error()), AF_R_BAD_OID);
    ERR_clear_error();
    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.nonce_len = 7;
    CU_ASSERT_PTR_NULL(af_ra_new(&cfg));
    ERR_clear_error();
    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.default_profile = "nope";
    CU_ASSERT_PTR_NULL(af_ra_new(&cfg));
    ERR_clear_error();
}

/* The seed's EST example: an array with len, type and hint; type and hint echoed, an absolute
 * RFC 3339 expiry. */
static void test_seed_profile(void)
{
    AF_RA *ra = make_ra(100, 100, NULL, NULL);
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs = {0};
    AF_NONCE_RESP *resp;
    AF_NONCE_RESP_ITEM *it;
    const unsigned char *nonce;
    size_t len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ra);
    req_init(&rq, "POST", "draft-06", "application/json",
             "[{\"len\":8,\"type\":\"1.2.3.4.5\",\"hint\":\"https://example.com\"},{\"len\":16}]");
    CU_ASSERT_EQUAL(af_ra_est_nonce_handle(ra, &rq, &rs), 1);
    CU_ASSERT_EQUAL(rs.status, 200);
    CU_ASSERT_STRING_EQUAL(rs.content_type, "application/json");
    resp = decode_body(&rs, "draft-06");
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    CU_ASSERT_EQUAL_FATAL(af_nonce_resp_get_count(resp), 2);
    it = af_nonce_resp_get0_item(resp, 0);
    af_nonce_resp_item_get0_nonce(it, &nonce, &len);
    CU_ASSERT_EQUAL(len, 8);
    CU_ASSERT_STRING_EQUAL(af_nonce_resp_item_get0_type(it), "1.2.3.4.5");
    CU_ASSERT_STRING_EQUAL(af_nonce_resp_item_get0_hint(it), "https://example.com");
    CU_ASSERT_EQUAL(af_nonce_resp_item_get_expiry_kind(it), AF_NONCE_EXPIRY_TIME);
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 1), &nonce, &len);
    CU_ASSERT_EQUAL(len, 16);
    af_nonce_resp_free(resp);
    resp_clear(&rs);
    af_ra_free(ra);
}

static void test_hsm_rand_missing_is_clear(void)
{
    AF_RA_CONFIG cfg;
    char line[512];

    /* No provider loaded in this program's default context: the RA must say so and stop. */
    af_ra_config_init(&cfg);
    cfg.rand_propq = "provider=attfresh-not-loaded";
    CU_ASSERT_PTR_NULL(af_ra_new(&cfg));
    af_err_line(line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "--soft-rand"));
}

AF_TEST_MAIN("est_server", NULL, NULL,
             {"GET issues a cookie-bound nonce", test_get_issues_bound_nonce},
             {"POST len 8/32/48/64", test_post_len},
             {"bad requests: 400/404/405", test_bad_requests},
             {"405 names the allowed methods", test_method_allow_header},
             {"store full: 503", test_store_full_503}, {"rate limit: 503", test_rate_limit_503},
             {"empty-nonce policy by label and type", test_empty_nonce_policy},
             {"bad RA configuration refused", test_bad_policy_config},
             {"seed profile JSON (draft-06)", test_seed_profile},
             {"missing HSM RNG: clear error", test_hsm_rand_missing_is_clear})
