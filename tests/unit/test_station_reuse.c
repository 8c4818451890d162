/* test_station_reuse.c - the station's libcurl handles kept by the options (proto_station.h): two
 * EST nonce requests with the same options go over one TLS connection (one connection counted by
 * libcurl, both nonces good, each with its binding cookie); CMC's POSTs share one
 * HTTP connection; other options open their own connection, and changing the CA file closes the
 * kept one. Our RA server in this process on 127.0.0.1 free ports, software RNG (unit tier). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attfresh/proto.h"
#include "attfresh/server.h"
#include "proto/proto_station.h"
#include "testutil.h"

static char dir[] = "/tmp/af-reuse-test-XXXXXX";
static AF_RA *ra;
static AF_RA_SERVER *srv;
static FILE *req_log;

#define path_of(name) af_test_path(dir, (name))

static int setup(void)
{
    AF_RA_CONFIG cfg;
    AF_RA_SERVER_CONFIG scfg;

    if (mkdtemp(dir) == NULL ||
        !af_test_write_tls_identity(path_of("server.pem"), path_of("server.key"))) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.rl.burst = 1000;
    if ((ra = af_ra_new(&cfg)) == NULL)
        return 1;
    af_ra_server_config_init(&scfg);
    scfg.http_addr = "127.0.0.1:0";
    scfg.https_addr = "127.0.0.1:0";
    scfg.tls_cert = path_of("server.pem");
    scfg.tls_key = path_of("server.key");
    req_log = fopen(path_of("requests.log"), "w+");
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
    unlink(path_of("server.pem"));
    unlink(path_of("server.key"));
    unlink(path_of("requests.log"));
    rmdir(dir);
    return 0;
}

static AF_PROTO_OPTS *est_opts(void)
{
    AF_PROTO_OPTS *o = af_proto_opts_new();
    char url[128];

    snprintf(url, sizeof(url), "https://127.0.0.1:%d", af_ra_server_get_port(srv, 1));
    if (o == NULL || !af_proto_opts_set_protocol(o, AF_PROTO_EST) ||
        !af_proto_opts_set1_url(o, url) || !af_proto_opts_set1_cafile(o, path_of("server.pem"))) {
        af_proto_opts_free(o);
        return NULL;
    }
    return o;
}

/* One EST nonce exchange: a nonce and its binding cookie. */
static int est_nonce(const AF_PROTO_OPTS *o)
{
    AF_NONCE_RESP *r = NULL;
    AF_PROTO_STATE *st = NULL;
    int ok = af_proto_get_nonce(o, &r, &st);

    if (!ok)
        ERR_print_errors_fp(stderr);
    ok = ok && af_nonce_resp_get_count(r) == 1 && af_proto_state_get0_cookie(st) != NULL;
    af_nonce_resp_free(r);
    af_proto_state_free(st);
    return ok;
}

static void test_est_one_connection(void)
{
    AF_PROTO_OPTS *o, *o2;

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    o = est_opts();
    o2 = est_opts();
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o2);
    CU_ASSERT_EQUAL(af_proto_http_connects(o), 0);
    CU_ASSERT_TRUE(est_nonce(o));
    CU_ASSERT_TRUE(est_nonce(o));
    /* the second request found the first one's connection: one handshake, one TLS session (the
     * session id itself is no witness: TLS 1.3 tickets give the client new session objects) */
    CU_ASSERT_EQUAL(af_proto_http_connects(o), 1);
    /* other options: a connection of their own */
    CU_ASSERT_TRUE(est_nonce(o2));
    CU_ASSERT_EQUAL(af_proto_http_connects(o2), 1);
    CU_ASSERT_EQUAL(af_proto_http_connects(o), 1);
    /* a new CA file: the kept connection (verified against the old one) is not used again */
    CU_ASSERT_TRUE(af_proto_opts_set1_cafile(o, path_of("server.pem")));
    CU_ASSERT_TRUE(est_nonce(o));
    CU_ASSERT_EQUAL(af_proto_http_connects(o), 2);
    af_proto_opts_free(o);
    af_proto_opts_free(o2);
}

static void test_cmc_one_connection(void)
{
    AF_PROTO_OPTS *o = af_proto_opts_new();
    AF_NONCE_RESP *r = NULL;
    char url[128];
    int i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/cmc", af_ra_server_get_port(srv, 0));
    CU_ASSERT_FATAL(af_proto_opts_set_protocol(o, AF_PROTO_CMC) && af_proto_opts_set1_url(o, url));
    for (i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(af_proto_get_nonce(o, &r, NULL));
        CU_ASSERT_TRUE(r != NULL && af_nonce_resp_get_count(r) == 1);
        af_nonce_resp_free(r);
        r = NULL;
    }
    CU_ASSERT_EQUAL(af_proto_http_connects(o), 1);
    af_proto_opts_free(o);
}

AF_TEST_MAIN("station_reuse", setup, teardown,
             {"EST: one TLS connection for the options' requests", test_est_one_connection},
             {"CMC: one HTTP connection for the options' requests", test_cmc_one_connection})
