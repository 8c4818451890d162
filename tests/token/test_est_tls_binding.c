/* test_est_tls_binding.c - the station's EST enrollment bound by the TLS connection: our RA
 * server in this process (HTTPS on a free 127.0.0.1 port, a software CA, the AK CA as trust
 * anchor), the AK and the device key in the fixture's token, and af_enroll_run with a state
 * whose binding cookie was taken out:
 *  - on the options' kept connection (the one of the nonce exchange) -> a certificate, one
 *    connection counted by libcurl for both requests;
 *  - with other options (no connection of the nonce exchange) -> refused before sending, the
 *    nonce not used: the state with its cookie then enrolls over those other options;
 *  - after the kept connection was closed (new CA file) -> libcurl opens a new connection, the
 *    RA refuses (403) and the one error line names the binding and the new connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"
#include "attfresh/oids.h"
#include "attfresh/params.h"
#include "attfresh/proto.h"
#include "attfresh/server.h"
#include "proto/proto_station.h"
#include "testutil.h"

static char dir[] = "/tmp/af-esttls-test-XXXXXX";
static OSSL_LIB_CTX *libctx;
static EVP_PKEY *ca_key, *ak, *dev;
static X509 *ca_cert, *ak_cert;
static AF_RA *ra;
static AF_RA_SERVER *srv;
static FILE *req_log;

#define path_of(name) af_test_path(dir, (name))

/* A key in the token through attfresh.so, labelled label. */
static EVP_PKEY *token_key(const char *label)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(libctx, "EC", AF_PROPQ);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[3];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    params[1] = OSSL_PARAM_construct_utf8_string(AF_PARAM_GEN_LABEL, (char *)label, 0);
    params[2] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 || !EVP_PKEY_CTX_set_params(ctx, params) ||
        EVP_PKEY_generate(ctx, &pkey) <= 0)
        ERR_print_errors_fp(stderr);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static int setup(void)
{
    static const char *const ca_exts[] = {"basicConstraints",
                                          "critical,CA:TRUE",
                                          "keyUsage",
                                          "critical,keyCertSign",
                                          "subjectKeyIdentifier",
                                          "hash",
                                          NULL};
    const char *ak_exts[] = {"keyUsage", "critical,digitalSignature", "extendedKeyUsage",
                             af_oid_text(AF_OID_KP_ATTESTATION_KEY), NULL};
    AF_RA_CONFIG cfg;
    AF_RA_SERVER_CONFIG scfg;
    AF_RA_ENROLL *e;
    AF_CA *ca;
    char label[64];

    libctx = OSSL_LIB_CTX_new();
    if (mkdtemp(dir) == NULL ||
        !af_test_write_tls_identity(path_of("server.pem"), path_of("server.key")) ||
        libctx == NULL || !OSSL_LIB_CTX_load_config(libctx, af_test_openssl_cnf())) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    /* one software CA: the AK certificates' issuer (the RA's AK trust) and the RA's issuing CA */
    if ((ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
        (ca_cert = af_test_make_cert("esttls test CA", ca_key, NULL, ca_key, ca_exts)) == NULL)
        return 1;
    snprintf(label, sizeof(label), "esttls%ld-ak", (long)getpid());
    if ((ak = token_key(label)) == NULL ||
        (ak_cert = af_test_make_cert("esttls AK", ak, ca_cert, ca_key, ak_exts)) == NULL)
        return 1;
    snprintf(label, sizeof(label), "esttls%ld-dev", (long)getpid());
    if ((dev = token_key(label)) == NULL)
        return 1;

    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.rl.burst = 1000;
    if ((ra = af_ra_new(&cfg)) == NULL || (e = af_ra_enroll_new(libctx, NULL)) == NULL)
        return 1;
    if ((ca = af_ca_new(NULL, NULL)) == NULL || !af_ca_set1(ca, ca_cert, ca_key) ||
        !af_ra_enroll_set0_ca(e, ca) || !af_ra_enroll_add1_trust(e, ca_cert) ||
        !af_ra_set0_enroll(ra, e)) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    af_ra_server_config_init(&scfg);
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
    af_ra_set0_enroll(ra, NULL);
    af_ra_free(ra);
    if (req_log != NULL)
        fclose(req_log);
    X509_free(ca_cert);
    X509_free(ak_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(dev);
    OSSL_LIB_CTX_free(libctx);
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
    af_proto_opts_set0_libctx(o, libctx, NULL);
    return o;
}

/* A nonce exchange over o; the state (with its cookie) into *with, a copy without it into
 * *without. */
static int nonce_states(const AF_PROTO_OPTS *o, AF_PROTO_STATE **with, AF_PROTO_STATE **without)
{
    AF_NONCE_RESP *r = NULL;
    int ok = af_proto_get_nonce(o, &r, with);

    af_nonce_resp_free(r);
    if (!ok) {
        ERR_print_errors_fp(stderr);
        return 0;
    }
    *without = af_proto_state_dup(*with);
    return *without != NULL && af_proto_state_get0_cookie(*with) != NULL &&
           af_proto_state_set1_cookie(*without, NULL) &&
           af_proto_state_get0_cookie(*without) == NULL;
}

/* af_enroll_run over o from st; the certificate, or NULL with the error line in why. */
static X509 *enroll(const AF_PROTO_OPTS *o, const AF_PROTO_STATE *st, const char *cn, char *why,
                    size_t whysize)
{
    AF_ENROLL *en = af_enroll_new(o);
    X509 *cert = NULL;
    char subj[64];

    snprintf(subj, sizeof(subj), "/CN=%s", cn);
    why[0] = '\0';
    ERR_clear_error();
    if (en != NULL && af_enroll_set1_key(en, dev, "esttls device key") &&
        af_enroll_set1_ak(en, ak, ak_cert) && af_enroll_set1_subject(en, subj, NULL) &&
        af_enroll_set1_state(en, st))
        cert = af_enroll_run(en, NULL);
    if (cert == NULL)
        af_err_line(why, whysize);
    ERR_clear_error();
    af_enroll_free(en);
    return cert;
}

/* The request log holds line (fflush'ed by the server after every request). */
static int log_has(const char *text)
{
    char line[512];
    int found = 0;

    fflush(req_log);
    rewind(req_log);
    while (!found && fgets(line, sizeof(line), req_log) != NULL)
        found = strstr(line, text) != NULL;
    fseek(req_log, 0, SEEK_END);
    return found;
}

static int certifies_dev(X509 *cert)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);

    return pub != NULL && EVP_PKEY_eq(pub, dev) == 1 &&
           X509_check_issued(ca_cert, cert) == X509_V_OK;
}

static void test_same_connection_without_cookie(void)
{
    AF_PROTO_OPTS *o;
    AF_PROTO_STATE *with = NULL, *without = NULL;
    X509 *cert;
    char why[512];

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o = est_opts());
    CU_ASSERT_FATAL(nonce_states(o, &with, &without));
    cert = enroll(o, without, "same-connection", why, sizeof(why));
    if (cert == NULL)
        fprintf(stderr, "enroll: %s\n", why);
    CU_ASSERT_PTR_NOT_NULL(cert);
    CU_ASSERT_TRUE(cert != NULL && certifies_dev(cert));
    /* /nonce and /simpleenroll: one connection */
    CU_ASSERT_EQUAL(af_proto_http_connects(o), 1);
    CU_ASSERT_TRUE(log_has("CN=same-connection (bound by the TLS connection)"));
    X509_free(cert);
    af_proto_state_free(with);
    af_proto_state_free(without);
    af_proto_opts_free(o);
}

static void test_other_options_refused_before_sending(void)
{
    AF_PROTO_OPTS *o, *o2;
    AF_PROTO_STATE *with = NULL, *without = NULL;
    X509 *cert;
    char why[512];

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o = est_opts());
    CU_ASSERT_PTR_NOT_NULL_FATAL(o2 = est_opts());
    CU_ASSERT_FATAL(nonce_states(o, &with, &without));
    cert = enroll(o2, without, "other-options", why, sizeof(why));
    CU_ASSERT_PTR_NULL(cert);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "EST: no binding cookie from the nonce exchange, and its "
                                       "TLS connection is not here to continue on"));
    /* nothing went out */
    CU_ASSERT_EQUAL(af_proto_http_connects(o2), 0);
    CU_ASSERT_FALSE(log_has("CN=other-options"));
    X509_free(cert);
    /* the nonce is still good: with its cookie (derived from o's connection) over o2's own */
    cert = enroll(o2, with, "other-options-cookie", why, sizeof(why));
    if (cert == NULL)
        fprintf(stderr, "enroll: %s\n", why);
    CU_ASSERT_TRUE(cert != NULL && certifies_dev(cert));
    CU_ASSERT_EQUAL(af_proto_http_connects(o2), 1);
    CU_ASSERT_TRUE(log_has("CN=other-options-cookie (bound by the cookie)"));
    X509_free(cert);
    af_proto_state_free(with);
    af_proto_state_free(without);
    af_proto_opts_free(o);
    af_proto_opts_free(o2);
}

static void test_new_connection_refused_by_the_ra(void)
{
    AF_PROTO_OPTS *o;
    AF_PROTO_STATE *with = NULL, *without = NULL;
    X509 *cert;
    char why[512];

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o = est_opts());
    CU_ASSERT_FATAL(nonce_states(o, &with, &without));
    /* a new CA file closes the kept connection: /simpleenroll needs a new one */
    CU_ASSERT_TRUE(af_proto_opts_set1_cafile(o, path_of("server.pem")));
    cert = enroll(o, without, "new-connection", why, sizeof(why));
    CU_ASSERT_PTR_NULL(cert);
    CU_ASSERT_EQUAL(af_proto_http_connects(o), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "EST simpleenroll: HTTP 403: nonce: the request is not "
                                       "bound to a transaction that got a nonce: no binding "
                                       "cookie, and the nonce was not issued on this TLS "
                                       "connection (no binding cookie, and the request went out "
                                       "on a new TLS connection, not the nonce exchange's)"));
    if (cert == NULL && strstr(why, "new TLS connection") == NULL)
        fprintf(stderr, "enroll: %s\n", why);
    X509_free(cert);
    af_proto_state_free(with);
    af_proto_state_free(without);
    af_proto_opts_free(o);
}

AF_TEST_MAIN("est_tls_binding", setup, teardown,
             {"EST without the cookie on the kept TLS connection: issued",
              test_same_connection_without_cookie},
             {"EST without the cookie, other options: refused before sending",
              test_other_options_refused_before_sending},
             {"EST without the cookie on a new connection: the RA refuses, the line says why",
              test_new_connection_refused_by_the_ra})
