/* bench_enroll.c - enrollments per second through the whole flow, per protocol, in one process:
 * an RA (`attfresh serve`'s library: HSM random, local CA whose key is in the token, AK anchors)
 * on 127.0.0.1 free ports, and the station's af_enroll_run (nonce request, Evidence signed by the
 * AK in the token, attested CSR signed by the key in the token, certification request) in a loop.
 * The token's share: C_Sign calls per enrollment (counted through p11count.so when the config
 * loads it) times the token's own signing time (EVP_DigestSign with the token key, timed here).
 * Target (issue 5): the rest costs no more than the token's own signing. Not part of the tests. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "attfresh/enroll.h"
#include "attfresh/evidence.h"
#include "attfresh/proto.h"
#include "attfresh/server.h"

typedef size_t (*count_n_fn)(void);
typedef const char *(*count_name_fn)(size_t);
typedef size_t (*count_get_fn)(unsigned long *, size_t);

static count_n_fn cnt_n;
static count_name_fn cnt_name;
static count_get_fn cnt_get;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Current count of one PKCS#11 function, or of all with fn NULL (0 without p11count.so). */
static unsigned long count_of(const char *fn)
{
    unsigned long c[128], sum = 0;
    size_t i, n;

    if (cnt_get == NULL)
        return 0;
    n = cnt_get(c, sizeof(c) / sizeof(c[0]));
    for (i = 0; i < n; i++) {
        if (fn == NULL)
            sum += c[i];
        else if (strcmp(cnt_name(i), fn) == 0)
            return c[i];
    }
    return sum;
}

/* CPU time of the whole process (RA threads, station, SoftHSM2 in-process): a cost figure that a
 * busy machine distorts much less than wall time. */
static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_enroll: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* The token's own signing time: EVP_DigestSign (SHA-256, ECDSA) with the token key, in s/sig
 * (wall), and its CPU time in *cpu. */
static double token_sign_time(EVP_PKEY *key, int n, double *cpu)
{
    unsigned char sig[256], msg[200];
    size_t siglen;
    double t0 = 0, c0 = 0;
    int i;

    memset(msg, 0x5a, sizeof(msg));
    for (i = -10; i < n; i++) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();

        if (i == 0) {
            t0 = now_s();
            c0 = cpu_s();
        }
        siglen = sizeof(sig);
        if (m == NULL || EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, key, NULL) <= 0 ||
            EVP_DigestSign(m, sig, &siglen, msg, sizeof(msg)) <= 0)
            die("token signature");
        EVP_MD_CTX_free(m);
    }
    *cpu = (cpu_s() - c0) / n;
    return (now_s() - t0) / n;
}

/* ---- the software floor: cryptography a protocol requires outside the token ----------------- */

/* CPU s per ECDSA P-256 verification (SHA-256, default provider), the RA's own work for the CSR's
 * self-signature and the Evidence signature (and the station's for a signed CMC response). */
static double verify_cpu(int n)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char sig[128], msg[600];
    size_t siglen = sizeof(sig);
    double c0 = 0;
    int i;

    memset(msg, 0x3c, sizeof(msg));
    if (k == NULL || m == NULL ||
        EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, k, NULL) <= 0 ||
        EVP_DigestSign(m, sig, &siglen, msg, sizeof(msg)) <= 0)
        die("software signature");
    for (i = -10; i < n; i++) {
        EVP_MD_CTX *v = EVP_MD_CTX_new();

        if (i == 0)
            c0 = cpu_s();
        if (v == NULL || EVP_DigestVerifyInit_ex(v, NULL, "SHA256", NULL, NULL, k, NULL) <= 0 ||
            EVP_DigestVerify(v, sig, siglen, msg, sizeof(msg)) != 1)
            die("software verification");
        EVP_MD_CTX_free(v);
    }
    c0 = (cpu_s() - c0) / n;
    EVP_MD_CTX_free(m);
    EVP_PKEY_free(k);
    return c0;
}

/* CPU s per password-based MAC over a 1 KiB message with OpenSSL's CMP defaults (SHA-256 OWF, 500
 * iterations, HMAC-SHA1, 16-byte salt): each MAC-protected CMP message costs one at the sender and
 * one at the receiver unless a side caches the key derived for a salt it chose. */
static double pbm_cpu(int n, const unsigned char *secret, size_t slen)
{
    unsigned char msg[1024], *mac = NULL;
    size_t maclen = 0;
    double c0 = 0;
    int i;

    memset(msg, 0x42, sizeof(msg));
    for (i = -5; i < n; i++) {
        OSSL_CRMF_PBMPARAMETER *pbm = OSSL_CRMF_pbmp_new(NULL, 16, NID_sha256, 500, NID_hmac_sha1);

        if (i == 0)
            c0 = cpu_s();
        if (pbm == NULL ||
            !OSSL_CRMF_pbm_new(NULL, NULL, pbm, msg, sizeof(msg), secret, slen, &mac, &maclen))
            die("PBM");
        OPENSSL_free(mac);
        OSSL_CRMF_PBMPARAMETER_free(pbm);
    }
    return (cpu_s() - c0) / n;
}

/* Drives a TLS handshake between two in-memory endpoints to its end. */
static int handshake(SSL *c, SSL *s)
{
    int i, cd = 0, sd = 0;

    for (i = 0; i < 100 && !(cd && sd); i++) {
        if (!cd) {
            int r = SSL_do_handshake(c);

            if (r == 1)
                cd = 1;
            else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
                return 0;
        }
        if (!sd) {
            int r = SSL_do_handshake(s);

            if (r == 1)
                sd = 1;
            else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
                return 0;
        }
    }
    return cd && sd;
}

/* CPU s per full TLS 1.3 handshake, both ends in this process over a memory BIO pair (OpenSSL on
 * both sides, the RA's P-256 certificate and key, the station verifying it): the least an EST
 * enrollment pays for its one connection. */
static double tls_cpu(int n, const char *cert, const char *key)
{
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cc = SSL_CTX_new(TLS_client_method());
    double c0 = 0;
    int i;

    if (sc == NULL || cc == NULL || SSL_CTX_use_certificate_chain_file(sc, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(cc, cert, NULL) != 1)
        die("TLS reference contexts");
    SSL_CTX_set_verify(cc, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(cc, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(sc, 0);
    for (i = -5; i < n; i++) {
        SSL *c = SSL_new(cc), *s = SSL_new(sc);
        BIO *bc = NULL, *bs = NULL;

        if (i == 0)
            c0 = cpu_s();
        if (c == NULL || s == NULL || !BIO_new_bio_pair(&bc, 0, &bs, 0))
            die("TLS reference");
        SSL_set_bio(c, bc, bc);
        SSL_set_bio(s, bs, bs);
        SSL_set_connect_state(c);
        SSL_set_accept_state(s);
        if (!SSL_set1_host(c, "127.0.0.1") || !handshake(c, s))
            die("TLS reference handshake");
        SSL_free(c);
        SSL_free(s);
    }
    c0 = (cpu_s() - c0) / n;
    SSL_CTX_free(sc);
    SSL_CTX_free(cc);
    return c0;
}

/* Station options for one protocol: what one `attfresh enroll` run sets up. */
static AF_PROTO_OPTS *make_opts(af_proto proto, const char *url, const unsigned char *secret,
                                size_t slen, const char *cafile)
{
    AF_PROTO_OPTS *o = af_proto_opts_new();

    if (o == NULL || !af_proto_opts_set_protocol(o, proto) || !af_proto_opts_set1_url(o, url) ||
        (proto == AF_PROTO_CMP &&
         (!af_proto_opts_set1_secret(o, secret, slen) || !af_proto_opts_set1_ref(o, "bench"))) ||
        (proto == AF_PROTO_EST && !af_proto_opts_set1_cafile(o, cafile)))
        die("options");
    return o;
}

int main(int argc, char **argv)
{
    const char *conf = NULL, *ca_cert = NULL, *ca_key = NULL, *ak_trust = NULL, *ak_uri = NULL;
    const char *ak_cert_path = NULL, *key_uri = NULL, *tls_cert = NULL, *tls_key = NULL;
    const char *count_module = NULL, *only = NULL;
    int count = 200, i, p, keep_opts = 0;
    AF_RA_CONFIG rcfg;
    AF_RA_SERVER_CONFIG scfg;
    AF_RA *ra;
    AF_RA_SERVER *srv;
    AF_RA_ENROLL *e;
    AF_CA *ca;
    EVP_PKEY *key, *ak;
    X509 *akc;
    FILE *devnull;
    double sign_s, sign_cpu, ver_c, pbm_c, tls_c;
    static const unsigned char secret[] = "bench-mac-secret";
    static const struct {
        const char *name;
        af_proto proto;
        int crmf;
        /* the software floor: ECDSA verifications (RA: CSR or POPO signature, Evidence; CMC
         * station: the signed response), password-based MACs (CMP: the station's two protected
         * requests, the RA's two checks; the MACs on the RA's answers use a key cached per salt),
         * full TLS handshakes (EST: one connection) */
        int verifies, pbms, tls;
    } protos[] = {{"CMP p10cr", AF_PROTO_CMP, 0, 2, 4, 0},
                  {"CMP ir", AF_PROTO_CMP, 1, 2, 4, 0},
                  {"EST", AF_PROTO_EST, 0, 2, 0, 1},
                  {"CMC", AF_PROTO_CMC, 0, 3, 0, 0}};
    int all_ok = 1;

    for (i = 1; i < argc && strcmp(argv[i], "--keep-opts") == 0; i++)
        keep_opts = 1;
    for (; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];

        if (strcmp(a, "--conf") == 0)
            conf = v;
        else if (strcmp(a, "--ca-cert") == 0)
            ca_cert = v;
        else if (strcmp(a, "--ca-key") == 0)
            ca_key = v;
        else if (strcmp(a, "--ak-trust") == 0)
            ak_trust = v;
        else if (strcmp(a, "--ak") == 0)
            ak_uri = v;
        else if (strcmp(a, "--ak-cert") == 0)
            ak_cert_path = v;
        else if (strcmp(a, "--key") == 0)
            key_uri = v;
        else if (strcmp(a, "--tls-cert") == 0)
            tls_cert = v;
        else if (strcmp(a, "--tls-key") == 0)
            tls_key = v;
        else if (strcmp(a, "--count-module") == 0)
            count_module = v;
        else if (strcmp(a, "--count") == 0)
            count = atoi(v);
        else if (strcmp(a, "--only") == 0)
            only = v; /* one protocol row: "CMP p10cr", "CMP ir", "EST" or "CMC" */
        else
            die("unknown option (see bench/enroll.sh)");
    }
    if (conf == NULL || ca_cert == NULL || ca_key == NULL || ak_trust == NULL || ak_uri == NULL ||
        ak_cert_path == NULL || key_uri == NULL || tls_cert == NULL || tls_key == NULL || count < 1)
        die("usage: bench_enroll [--keep-opts] --conf F --ca-cert F --ca-key URI --ak-trust F --ak "
            "URI "
            "--ak-cert F --key URI --tls-cert F --tls-key F [--count-module SO] [--count N]");
    if (!OSSL_LIB_CTX_load_config(NULL, conf))
        die("cannot load the OpenSSL config");
    if (count_module != NULL) {
        /* the same module the provider loaded (dlopen hands back the same handle) */
        void *h = dlopen(count_module, RTLD_NOW | RTLD_LOCAL);

        if (h == NULL)
            die("cannot load the counting module");
        *(void **)&cnt_n = dlsym(h, "p11count_n");
        *(void **)&cnt_name = dlsym(h, "p11count_name");
        *(void **)&cnt_get = dlsym(h, "p11count_get");
        if (cnt_n == NULL || cnt_name == NULL || cnt_get == NULL)
            die("the counting module lacks p11count_get");
    }

    af_ra_config_init(&rcfg);
    rcfg.ratelimit = 0;
    /* every nonce comes from one client here; the nonce-only rows leave theirs outstanding */
    rcfg.store.max_per_requester = 1000000;
    if ((ra = af_ra_new(&rcfg)) == NULL || !af_ra_set1_cmp_secret(ra, secret, sizeof(secret) - 1))
        die("RA");
    if ((e = af_ra_enroll_new(NULL, NULL)) == NULL || (ca = af_ca_new(NULL, NULL)) == NULL ||
        !af_ra_enroll_set0_ca(e, ca) || !af_ca_load(ca, ca_cert, ca_key) ||
        !af_ra_enroll_load_trust(e, ak_trust) || !af_ra_set0_enroll(ra, e))
        die("RA enrollment settings");
    af_ra_server_config_init(&scfg);
    scfg.http_addr = "127.0.0.1:0";
    scfg.https_addr = "127.0.0.1:0";
    scfg.tls_cert = tls_cert;
    scfg.tls_key = tls_key;
    if ((devnull = fopen("/dev/null", "w")) == NULL)
        die("/dev/null");
    scfg.log = devnull;
    if ((srv = af_ra_server_new(ra, &scfg)) == NULL)
        die("server");

    if ((key = af_load_key(key_uri, 1, NULL, NULL)) == NULL ||
        (ak = af_load_key(ak_uri, 1, NULL, NULL)) == NULL ||
        (akc = af_load_cert(ak_cert_path, NULL, NULL)) == NULL)
        die("station keys");
    sign_s = token_sign_time(key, count * 2, &sign_cpu);
    ver_c = verify_cpu(count * 2);
    pbm_c = pbm_cpu(count, secret, sizeof(secret) - 1);
    tls_c = tls_cpu(count, tls_cert, tls_key);

    printf("enrollments through the whole flow, %d each, sequential (RA and station in one "
           "process; keys, AK, CA key and nonces in the token); %s\n",
           count,
           keep_opts ? "one set of station options for all (kept connections, one TLS handshake)"
                     : "new station options per enrollment (a new connection each, like one "
                       "`attfresh enroll` run)");
    printf("token signing (EVP_DigestSign ECDSA P-256 with a token key): %.3f ms/signature wall, "
           "%.3f ms CPU\n",
           sign_s * 1e3, sign_cpu * 1e3);
    printf("software floor, CPU (same run): ECDSA P-256 verify %.3f ms, PBM (500 x SHA-256) %.3f "
           "ms, full TLS 1.3 handshake (both ends) %.3f ms\n",
           ver_c * 1e3, pbm_c * 1e3, tls_c * 1e3);
    printf("cpu columns: process CPU time per enrollment (both sides, the token in-process); "
           "rest/tok and the target are judged on CPU; floor = the software cryptography the "
           "protocol needs outside the token (see protos[] in bench_enroll.c)\n\n");
    printf("%-10s %9s %10s %9s %8s %8s %9s %9s %9s %9s %8s %9s %s\n", "protocol", "enroll/s",
           "ms/enroll", "nonce ms", "p11/en", "C_Sign", "cpu ms", "tok cpu", "rest cpu", "floor",
           "rest/tok", "floor/tok", "target");
    for (p = 0; p < (int)(sizeof(protos) / sizeof(protos[0])); p++) {
        AF_PROTO_OPTS *o;
        char url[128];
        unsigned long s0, s1, a0 = 0, a1;
        double t0, t, c0 = 0, cpu, per, signs, tok, nonce_s, floor_c;

        if (only != NULL && strcasecmp(only, protos[p].name) != 0)
            continue;
        if (protos[p].proto == AF_PROTO_CMP)
            snprintf(url, sizeof(url), "http://127.0.0.1:%d/.well-known/cmp",
                     af_ra_server_get_port(srv, 0));
        else if (protos[p].proto == AF_PROTO_EST)
            snprintf(url, sizeof(url), "https://127.0.0.1:%d", af_ra_server_get_port(srv, 1));
        else
            snprintf(url, sizeof(url), "http://127.0.0.1:%d/cmc", af_ra_server_get_port(srv, 0));
        o = make_opts(protos[p].proto, url, secret, sizeof(secret) - 1, tls_cert);
        /* the nonce exchange alone, for the split of the rest */
        for (i = -5; i < count; i++) {
            AF_NONCE_RESP *r = NULL;
            AF_PROTO_OPTS *no = o;

            if (i == 0)
                t0 = now_s();
            if (!keep_opts)
                no = make_opts(protos[p].proto, url, secret, sizeof(secret) - 1, tls_cert);
            if (!af_proto_get_nonce(no, &r, NULL))
                die("nonce exchange");
            af_nonce_resp_free(r);
            if (no != o)
                af_proto_opts_free(no);
        }
        nonce_s = (now_s() - t0) / count;
        s0 = 0;
        t0 = 0;
        for (i = -5; i < count; i++) {
            /* a station's own run: new options, so a new connection (and TLS handshake), unless
             * --keep-opts shows what one process enrolling many keys pays */
            AF_PROTO_OPTS *eo =
                keep_opts ? o
                          : make_opts(protos[p].proto, url, secret, sizeof(secret) - 1, tls_cert);
            AF_ENROLL *en = af_enroll_new(eo);
            X509 *cert;

            if (i == 0) {
                s0 = count_of("C_Sign");
                a0 = count_of(NULL);
                t0 = now_s();
                c0 = cpu_s();
            }
            if (en == NULL || !af_enroll_set1_key(en, key, key_uri) ||
                !af_enroll_set1_ak(en, ak, akc) ||
                !af_enroll_set1_subject(en, "/CN=bench-device", NULL))
                die("enrollment");
            af_enroll_set_crmf(en, protos[p].crmf);
            if ((cert = af_enroll_run(en, NULL)) == NULL)
                die(protos[p].name);
            X509_free(cert);
            af_enroll_free(en);
            if (eo != o)
                af_proto_opts_free(eo);
        }
        t = now_s() - t0;
        cpu = (cpu_s() - c0) / count;
        s1 = count_of("C_Sign");
        a1 = count_of(NULL);
        per = t / count;
        signs = cnt_get != NULL ? (double)(s1 - s0) / count : 0;
        tok = signs * sign_cpu;
        floor_c = protos[p].verifies * ver_c + protos[p].pbms * pbm_c + protos[p].tls * tls_c;
        if (cnt_get != NULL) {
            printf("%-10s %9.1f %10.3f %9.3f %8.1f %8.2f %9.3f %9.3f %9.3f %9.3f %8.2f %9.2f %s\n",
                   protos[p].name, count / t, per * 1e3, nonce_s * 1e3, (double)(a1 - a0) / count,
                   signs, cpu * 1e3, tok * 1e3, (cpu - tok) * 1e3, floor_c * 1e3,
                   tok > 0 ? (cpu - tok) / tok : 0, tok > 0 ? floor_c / tok : 0,
                   cpu - tok <= tok ? "ok"
                   : floor_c > tok  ? "MISS (floor > tok)"
                                    : "MISS");
            all_ok &= cpu - tok <= tok;
        } else {
            printf("%-10s %9.1f %10.3f %9.3f %8s %8s %9.3f %9s %9s %9.3f %8s %9s %s\n",
                   protos[p].name, count / t, per * 1e3, nonce_s * 1e3, "-", "-", cpu * 1e3, "-",
                   "-", floor_c * 1e3, "-", "-", "(no p11count.so)");
        }
        af_proto_opts_free(o);
    }
    X509_free(akc);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(key);
    af_ra_server_free(srv);
    af_ra_set0_enroll(ra, NULL);
    af_ra_free(ra);
    fclose(devnull);
    return all_ok ? 0 : 3;
}
