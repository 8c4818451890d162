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

#include <openssl/err.h>
#include <openssl/evp.h>

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

int main(int argc, char **argv)
{
    const char *conf = NULL, *ca_cert = NULL, *ca_key = NULL, *ak_trust = NULL, *ak_uri = NULL;
    const char *ak_cert_path = NULL, *key_uri = NULL, *tls_cert = NULL, *tls_key = NULL;
    const char *count_module = NULL, *only = NULL;
    int count = 200, i, p;
    AF_RA_CONFIG rcfg;
    AF_RA_SERVER_CONFIG scfg;
    AF_RA *ra;
    AF_RA_SERVER *srv;
    AF_RA_ENROLL *e;
    AF_CA *ca;
    EVP_PKEY *key, *ak;
    X509 *akc;
    FILE *devnull;
    double sign_s, sign_cpu;
    static const unsigned char secret[] = "bench-mac-secret";
    static const struct {
        const char *name;
        af_proto proto;
        int crmf;
    } protos[] = {{"CMP p10cr", AF_PROTO_CMP, 0},
                  {"CMP ir", AF_PROTO_CMP, 1},
                  {"EST", AF_PROTO_EST, 0},
                  {"CMC", AF_PROTO_CMC, 0}};
    int all_ok = 1;

    for (i = 1; i + 1 < argc; i += 2) {
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
        die("usage: bench_enroll --conf F --ca-cert F --ca-key URI --ak-trust F --ak URI "
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

    printf("enrollments through the whole flow, %d each, sequential (RA and station in one "
           "process; keys, AK, CA key and nonces in the token)\n",
           count);
    printf("token signing (EVP_DigestSign ECDSA P-256 with a token key): %.3f ms/signature wall, "
           "%.3f ms CPU\n",
           sign_s * 1e3, sign_cpu * 1e3);
    printf("cpu columns: process CPU time per enrollment (both sides, the token in-process); "
           "rest/tok and the target are judged on CPU\n\n");
    printf("%-10s %9s %10s %9s %8s %8s %9s %9s %9s %8s %s\n", "protocol", "enroll/s", "ms/enroll",
           "nonce ms", "p11/en", "C_Sign", "cpu ms", "tok cpu", "rest cpu", "rest/tok", "target");
    for (p = 0; p < (int)(sizeof(protos) / sizeof(protos[0])); p++) {
        AF_PROTO_OPTS *o = af_proto_opts_new();
        char url[128];
        unsigned long s0, s1, a0 = 0, a1;
        double t0, t, c0 = 0, cpu, per, signs, tok, nonce_s;

        if (only != NULL && strcasecmp(only, protos[p].name) != 0) {
            af_proto_opts_free(o);
            continue;
        }
        if (protos[p].proto == AF_PROTO_CMP)
            snprintf(url, sizeof(url), "http://127.0.0.1:%d/.well-known/cmp",
                     af_ra_server_get_port(srv, 0));
        else if (protos[p].proto == AF_PROTO_EST)
            snprintf(url, sizeof(url), "https://127.0.0.1:%d", af_ra_server_get_port(srv, 1));
        else
            snprintf(url, sizeof(url), "http://127.0.0.1:%d/cmc", af_ra_server_get_port(srv, 0));
        if (o == NULL || !af_proto_opts_set_protocol(o, protos[p].proto) ||
            !af_proto_opts_set1_url(o, url) ||
            (protos[p].proto == AF_PROTO_CMP &&
             (!af_proto_opts_set1_secret(o, secret, sizeof(secret) - 1) ||
              !af_proto_opts_set1_ref(o, "bench"))) ||
            (protos[p].proto == AF_PROTO_EST && !af_proto_opts_set1_cafile(o, tls_cert)))
            die("options");
        /* the nonce exchange alone, for the split of the rest */
        for (i = -5; i < count; i++) {
            AF_NONCE_RESP *r = NULL;

            if (i == 0)
                t0 = now_s();
            if (!af_proto_get_nonce(o, &r, NULL))
                die("nonce exchange");
            af_nonce_resp_free(r);
        }
        nonce_s = (now_s() - t0) / count;
        s0 = 0;
        t0 = 0;
        for (i = -5; i < count; i++) {
            AF_ENROLL *en = af_enroll_new(o);
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
        }
        t = now_s() - t0;
        cpu = (cpu_s() - c0) / count;
        s1 = count_of("C_Sign");
        a1 = count_of(NULL);
        per = t / count;
        signs = cnt_get != NULL ? (double)(s1 - s0) / count : 0;
        tok = signs * sign_cpu;
        if (cnt_get != NULL) {
            printf("%-10s %9.1f %10.3f %9.3f %8.1f %8.2f %9.3f %9.3f %9.3f %8.2f %s\n",
                   protos[p].name, count / t, per * 1e3, nonce_s * 1e3, (double)(a1 - a0) / count,
                   signs, cpu * 1e3, tok * 1e3, (cpu - tok) * 1e3, tok > 0 ? (cpu - tok) / tok : 0,
                   cpu - tok <= tok ? "ok" : "MISS");
            all_ok &= cpu - tok <= tok;
        } else {
            printf("%-10s %9.1f %10.3f %9.3f %8s %8s %9.3f %9s %9s %8s %s\n", protos[p].name,
                   count / t, per * 1e3, nonce_s * 1e3, "-", "-", cpu * 1e3, "-", "-", "-",
                   "(no p11count.so)");
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
