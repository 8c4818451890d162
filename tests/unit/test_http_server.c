/* test_http_server.c - the RA's HTTPS listener in this process (so the sanitizer pass covers it):
 * a libssl client against af_ra_server on 127.0.0.1 free ports with certificates made here: EST over TLS
 * with a client certificate from the configured CA (200, cookie), without one (403), with one
 * from another CA (refused), EST on the plain listener (404), an oversize body (413), unknown
 * profile (404), one log line per request. Software RNG (no token in the unit tier). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attfresh/server.h"
#include "testutil.h"

static char dir[] = "/tmp/af-http-test-XXXXXX";
static AF_RA *ra;
static AF_RA_SERVER *srv;
static FILE *req_log;

static char *path_of(const char *name)
{
    static char buf[4][256];
    static int i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

/* A P-256 certificate for cn, signed by issuer (self-signed when issuer is NULL), written with
 * its key to <name>.pem / <name>.key. */
static int make_cert(const char *name, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                     X509 **cert_out, EVP_PKEY **key_out)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext = NULL;
    FILE *f;
    char file[64];
    int ok = 0;

    if (key == NULL || x == NULL || n == NULL || !X509_set_version(x, 2)
        || !ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(rand() & 0x7fffffff))
        || !X509_gmtime_adj(X509_getm_notBefore(x), -60)
        || !X509_gmtime_adj(X509_getm_notAfter(x), 3600) || !X509_set_pubkey(x, key)
        || !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0)
        || !X509_set_subject_name(x, n)
        || !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n))
        goto done;
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, issuer == NULL ? NID_basic_constraints : NID_subject_alt_name,
                              issuer == NULL ? "critical,CA:TRUE" : "IP:127.0.0.1");
    if (ext == NULL || !X509_add_ext(x, ext, -1)
        || !X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()))
        goto done;
    snprintf(file, sizeof(file), "%s.pem", name);
    if ((f = fopen(path_of(file), "w")) == NULL)
        goto done;
    ok = PEM_write_X509(f, x);
    fclose(f);
    snprintf(file, sizeof(file), "%s.key", name);
    if (!ok || (f = fopen(path_of(file), "w")) == NULL)
        goto done;
    ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    if (ok) {
        *cert_out = x;
        *key_out = key;
        x = NULL;
        key = NULL;
    }
done:
    X509_EXTENSION_free(ext);
    X509_NAME_free(n);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

static int setup(void)
{
    AF_RA_CONFIG cfg;
    AF_RA_SERVER_CONFIG scfg;
    X509 *ca = NULL, *c = NULL;
    EVP_PKEY *cakey = NULL, *k = NULL;
    int ok;

    if (mkdtemp(dir) == NULL)
        return 1;
    /* server: self-signed with SAN 127.0.0.1 (issuer = itself as CA is fine for curl's CAINFO) */
    ok = make_cert("ca", "test client CA", NULL, NULL, &ca, &cakey)
         && make_cert("client", "station", ca, cakey, &c, &k);
    X509_free(c);
    EVP_PKEY_free(k);
    c = NULL;
    k = NULL;
    ok = ok && make_cert("srvca", "server CA", NULL, NULL, &c, &k);
    if (ok) {
        X509 *s = NULL;
        EVP_PKEY *sk = NULL;

        ok = make_cert("server", "127.0.0.1", c, k, &s, &sk);
        X509_free(s);
        EVP_PKEY_free(sk);
    }
    X509_free(c);
    EVP_PKEY_free(k);
    c = NULL;
    k = NULL;
    ok = ok && make_cert("other", "stranger CA", NULL, NULL, &c, &k);
    if (ok) {
        X509 *s = NULL;
        EVP_PKEY *sk = NULL;

        ok = make_cert("stranger", "stranger", c, k, &s, &sk);
        X509_free(s);
        EVP_PKEY_free(sk);
    }
    X509_free(c);
    EVP_PKEY_free(k);
    X509_free(ca);
    EVP_PKEY_free(cakey);
    if (!ok) {
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
    scfg.client_ca = path_of("ca.pem");
    scfg.max_body = 1024;
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
    static const char *const files[] = {"ca.pem",     "ca.key",     "client.pem",   "client.key",
                                        "srvca.pem",  "srvca.key",  "server.pem",   "server.key",
                                        "other.pem",  "other.key",  "stranger.pem", "stranger.key",
                                        "requests.log"};
    size_t i;

    af_ra_server_free(srv);
    af_ra_free(ra);
    if (req_log != NULL)
        fclose(req_log);
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(path_of(files[i]));
    rmdir(dir);
    return 0;
}

typedef struct {
    char cookie[256];
    char body[512];
    size_t body_len;
} got;

/* One HTTP/1.1 request over a fresh connection (TLS through libssl, verifying the server against
 * srvca.pem, optional client certificate); returns the status, 0 when the connection or the
 * handshake failed. The RA server is the thing under test, so the client is kept minimal. */
static long fetch(int tls, const char *path, const char *cert, const char *post, got *g)
{
    SSL_CTX *ctx = NULL;
    BIO *b = NULL;
    char host[64], req[4096], resp[8192], certf[64], keyf[64];
    size_t n = 0;
    long status = 0;
    int r;
    const char *hdr_end, *ck;

    memset(g, 0, sizeof(*g));
    snprintf(host, sizeof(host), "127.0.0.1:%d", af_ra_server_get_port(srv, tls));
    if (tls) {
        if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL
            || SSL_CTX_load_verify_locations(ctx, path_of("srvca.pem"), NULL) != 1)
            goto done;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (cert != NULL) {
            snprintf(certf, sizeof(certf), "%s.pem", cert);
            snprintf(keyf, sizeof(keyf), "%s.key", cert);
            if (SSL_CTX_use_certificate_file(ctx, path_of(certf), SSL_FILETYPE_PEM) != 1
                || SSL_CTX_use_PrivateKey_file(ctx, path_of(keyf), SSL_FILETYPE_PEM) != 1)
                goto done;
        }
        b = BIO_new_ssl_connect(ctx);
        if (b != NULL)
            BIO_set_conn_hostname(b, host);
    } else {
        b = BIO_new_connect(host);
    }
    if (b == NULL || BIO_do_connect(b) != 1)
        goto done;
    if (post != NULL)
        snprintf(req, sizeof(req),
                 "POST %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                 "Content-Type: application/est-attestation-freshness+json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 path, host, strlen(post), post);
    else
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                 path, host);
    if (BIO_write(b, req, (int)strlen(req)) <= 0)
        goto done;
    while (n < sizeof(resp) - 1 && (r = BIO_read(b, resp + n, (int)(sizeof(resp) - 1 - n))) > 0)
        n += (size_t)r;
    resp[n] = '\0';
    if (sscanf(resp, "HTTP/1.1 %ld", &status) != 1)
        status = 0;
    if ((ck = strstr(resp, "\r\nSet-Cookie: ")) != NULL)
        snprintf(g->cookie, sizeof(g->cookie), "%.*s", (int)strcspn(ck + 14, "\r"), ck + 14);
    if ((hdr_end = strstr(resp, "\r\n\r\n")) != NULL) {
        snprintf(g->body, sizeof(g->body), "%s", hdr_end + 4);
        g->body_len = strlen(g->body);
    }
done:
    ERR_clear_error();
    BIO_free_all(b);
    SSL_CTX_free(ctx);
    return status;
}

static void test_est_with_client_cert(void)
{
    got g;

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    CU_ASSERT_EQUAL(fetch(1, "/.well-known/est/nonce", "client", NULL, &g), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(g.body, "\"nonce\":\""));
    CU_ASSERT_EQUAL(strncmp(g.cookie, AF_RA_EST_COOKIE "=", strlen(AF_RA_EST_COOKIE) + 1), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(g.cookie, "HttpOnly"));
    CU_ASSERT_EQUAL(fetch(1, "/.well-known/est/nonce", "client", "{\"len\":8}", &g), 200);
    CU_ASSERT_EQUAL(fetch(1, "/.well-known/est/nonce", "client", "{\"len\":99}", &g), 400);
    CU_ASSERT_EQUAL(g.body_len, 0);
}

static void test_refusals(void)
{
    got g;
    char big[2048];
    long s;

    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    CU_ASSERT_EQUAL(fetch(1, "/.well-known/est/nonce", NULL, NULL, &g), 403);
    s = fetch(1, "/.well-known/est/nonce", "stranger", NULL, &g);
    CU_ASSERT(s == 403 || s == 0); /* refused at the handshake or by the check */
    CU_ASSERT_EQUAL(fetch(0, "/.well-known/est/nonce", NULL, NULL, &g), 404);
    CU_ASSERT_EQUAL(fetch(0, "/cmc/p/no-such", NULL, NULL, &g), 404);
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CU_ASSERT_EQUAL(fetch(1, "/.well-known/est/nonce", "client", big, &g), 413);
}

static void test_log_lines(void)
{
    char line[512];
    int n = 0, est200 = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(req_log);
    fflush(req_log);
    rewind(req_log);
    while (fgets(line, sizeof(line), req_log) != NULL) {
        n++;
        est200 += strstr(line, " GET /.well-known/est/nonce 200 est draft-08") != NULL;
    }
    /* 3 + 5 requests above; the stranger may have been refused before any request was read */
    CU_ASSERT(n == 8 || n == 7);
    CU_ASSERT_EQUAL(est200, 1);
}

AF_TEST_MAIN("http_server", setup, teardown, {"EST over TLS with a client cert", test_est_with_client_cert},
             {"403, 404, 413", test_refusals}, {"one log line per request", test_log_lines})
