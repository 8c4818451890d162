/* test_cmc_client.c - our CMC client against our RA server, both real and in this process: the
 * server listens on 127.0.0.1 (a free port) through libmicrohttpd, the client POSTs with libcurl.
 * All four wire profiles; the nonce is bound in the RA's store to the transactionId the client
 * keeps in its state; a full store comes back as a CMC failure (tryLater), a bad path as HTTP
 * 404, a closed port as a transport error. Software RNG (no token in the unit tier). */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/proto.h"
#include "attfresh/server.h"
#include "testutil.h"

static AF_RA *ra;
static AF_RA_SERVER *srv;
static FILE *req_log;

static int setup(void)
{
    AF_RA_CONFIG cfg;
    AF_RA_SERVER_CONFIG scfg;

    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.store.max_total = 6; /* four profiles + one more, then full */
    cfg.store.max_per_requester = 6;
    cfg.rl.burst = 1000;
    if ((ra = af_ra_new(&cfg)) == NULL)
        return 1;
    af_ra_server_config_init(&scfg);
    scfg.http_addr = "127.0.0.1:0";
    req_log = tmpfile();
    scfg.log = req_log;
    if ((srv = af_ra_server_new(ra, &scfg)) == NULL) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    return 0;
}

static int teardown(void)
{
    af_ra_server_free(srv);
    af_ra_free(ra);
    if (req_log != NULL)
        fclose(req_log);
    return 0;
}

static AF_PROTO_OPTS *opts_for(const char *path, const char *profile, int len)
{
    AF_PROTO_OPTS *o = af_proto_opts_new();
    char url[128];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", af_ra_server_get_port(srv, 0), path);
    if (o == NULL || !af_proto_opts_set_protocol(o, AF_PROTO_CMC) ||
        !af_proto_opts_set1_url(o, url) || !af_proto_opts_set_profile_name(o, profile) ||
        !af_proto_opts_set_timeouts(o, 5, 10)) {
        af_proto_opts_free(o);
        return NULL;
    }
    if (len > 0) {
        AF_NONCE_REQ *req = af_nonce_req_new();
        AF_NONCE_REQ_ITEM *it = req != NULL ? af_nonce_req_add0_item(req) : NULL;
        int ok =
            it != NULL && af_nonce_req_item_set_len(it, len) && af_proto_opts_set1_request(o, req);

        af_nonce_req_free(req);
        if (!ok) {
            af_proto_opts_free(o);
            return NULL;
        }
    }
    return o;
}

static void test_all_profiles(void)
{
    static const char *const profiles[] = {"draft-08", "rat-e2e", "draft-06", "siemens-ra"};
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    for (i = 0; i < 4; i++) {
        char path[64];
        AF_PROTO_OPTS *o;
        AF_NONCE_RESP *resp = NULL;
        AF_PROTO_STATE *st = NULL;
        const unsigned char *nonce, *txid, *sn;
        size_t nlen, txlen, snlen;

        snprintf(path, sizeof(path), "/cmc/p/%s", profiles[i]);
        o = opts_for(path, profiles[i], 16 + 8 * (int)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        CU_ASSERT_EQUAL(af_cmc_get_nonce(o, &resp, &st), 1);
        if (resp == NULL) {
            ERR_print_errors_fp(stderr);
            af_proto_opts_free(o);
            continue;
        }
        af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &nonce, &nlen);
        CU_ASSERT_EQUAL(nlen, (size_t)(16 + 8 * i));
        CU_ASSERT_PTR_NOT_NULL_FATAL(st);
        CU_ASSERT_EQUAL(af_proto_state_get_protocol(st), AF_PROTO_CMC);
        CU_ASSERT_STRING_EQUAL(af_proto_state_get0_profile(st), profiles[i]);
        txid = af_proto_state_get0_transaction_id(st, &txlen);
        sn = af_proto_state_get0_server_nonce(st, &snlen);
        CU_ASSERT_EQUAL(txlen, 8);
        CU_ASSERT_EQUAL(snlen, 16);
        CU_ASSERT_PTR_NOT_NULL(sn);
        CU_ASSERT(af_proto_state_get_expiry(st) > 0);
        /* the RA recorded the nonce under the transactionId the station keeps */
        CU_ASSERT_EQUAL(af_nonce_store_consume(af_ra_get0_store(ra), nonce, nlen, txid, txlen),
                        AF_NONCE_OK);
        CU_ASSERT_EQUAL(af_nonce_store_consume(af_ra_get0_store(ra), nonce, nlen, txid, txlen),
                        AF_NONCE_REUSED);
        ERR_clear_error();
        af_nonce_resp_free(resp);
        af_proto_state_free(st);
        af_proto_opts_free(o);
    }
}

static void expect_error(const char *path, const char *profile, int reason, const char *text)
{
    AF_PROTO_OPTS *o = opts_for(path, profile, 0);
    AF_NONCE_RESP *resp = NULL;
    char line[512];

    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(af_cmc_get_nonce(o, &resp, NULL), 0);
    CU_ASSERT_PTR_NULL(resp);
    CU_ASSERT_EQUAL(ERR_GET_REASON(ERR_peek_last_error()), reason);
    af_err_line(line, sizeof(line));
    if (strstr(line, text) == NULL)
        fprintf(stderr, "  error line: %s\n", line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, text));
    af_proto_opts_free(o);
}

static void test_errors(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    expect_error("/cmc/p/no-such-profile", "draft-08", AF_R_PROTO_HTTP_STATUS, "HTTP 404");
    expect_error("/not-cmc", "draft-08", AF_R_PROTO_HTTP_STATUS, "HTTP 404");
    /* the store holds 6 outstanding nonces (those consumed above no longer count) */
    {
        AF_PROTO_OPTS *o = opts_for("/cmc", "draft-08", 0);
        AF_NONCE_RESP *resp = NULL;
        int i;

        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        for (i = 0; i < 10; i++) {
            if (!af_cmc_get_nonce(o, &resp, NULL))
                break;
            af_nonce_resp_free(resp);
            resp = NULL;
        }
        CU_ASSERT_EQUAL(i, 6);
        ERR_clear_error();
        af_proto_opts_free(o);
    }
    expect_error("/cmc", "draft-08", AF_R_PROTO_PKISTATUS, "tryLater");
}

static void test_closed_port(void)
{
    AF_PROTO_OPTS *o = af_proto_opts_new();
    AF_NONCE_RESP *resp = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    /* port 1 on loopback: nothing listens there */
    CU_ASSERT_FATAL(af_proto_opts_set1_url(o, "http://127.0.0.1:1/cmc"));
    CU_ASSERT_FATAL(af_proto_opts_set_timeouts(o, 2, 4));
    CU_ASSERT_EQUAL(af_cmc_get_nonce(o, &resp, NULL), 0);
    CU_ASSERT_EQUAL(ERR_GET_REASON(ERR_peek_last_error()), AF_R_PROTO_TRANSPORT);
    ERR_clear_error();
    af_proto_opts_free(o);
}

AF_TEST_MAIN("cmc_client", setup, teardown, {"all four profiles", test_all_profiles},
             {"404, store full", test_errors}, {"closed port", test_closed_port})
