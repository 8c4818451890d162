/* bench_evidence.c - the cost of the Evidence layer next to the token's own signing time (issue 5):
 * per operation, `attest` (Evidence about one key, signed by the AK), `csr` (bundle + PKCS#10
 * signed by the subject key) on the station and `verify` (DER in, af_csr_verify with a prepared
 * verifier) on the RA; with the AK and subject key in the token through attfresh.so and, as the
 * reference, with software keys. Each row is split into the signing (the key's own EVP_DigestSign,
 * timed in the same repeat) and the rest. See docs/evidence.md ("Performance") and
 * bench/evidence.sh. Not part of the tests; it measures, it asserts only that what it measures
 * verifies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "attfresh/evidence.h"
#include "attfresh/oids.h"
#include "attfresh/params.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_TOGGLE_COLLECT
#define RUNNING_ON_VALGRIND 0
#endif

#define SUBJECT "/CN=bench-device/O=attfresh"
#define MSG_LEN 600 /* about the size of a TbsEvidence / CSR tbs with one key */

static const unsigned char NONCE[32] = "bench-nonce-0123456789abcdef012";

typedef enum {
    OP_SIGN,
    OP_VERIFY_SIG,
    OP_ATTEST,
    OP_CSR,
    OP_RA_VERIFY,
    OP_RA_VERIFY_FROM,
    OP_RA_VERIFY_NEW,
    OP__COUNT
} op_id;
static const char *const op_names[OP__COUNT] = {"sign",   "sigverify",   "attest",    "csr",
                                                "verify", "verify-from", "verify-new"};

typedef struct {
    const char *name; /* "token" or "soft" */
    EVP_PKEY *ak, *key;
    X509 *ak_cert;
    AF_EVIDENCE *ev;        /* one Evidence, input of the csr row */
    unsigned char *csr_der; /* one CSR, input of the verify row */
    size_t csr_len;
    double t[OP__COUNT][64]; /* seconds per operation, per repeat */
} SET;

static EVP_PKEY *ca_key;
static X509 *ca_cert;
static AF_VERIFY *verifier; /* prepared once, as an RA keeps it */
static AF_POLICY *policy;
static AF_EXPECTED_NONCE expected = {NONCE, sizeof(NONCE)};

static void die(const char *what)
{
    fprintf(stderr, "bench_evidence: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- setup ---------------------------------------------------------------------------------- */
static EVP_PKEY *token_key(const char *label)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", AF_PROPQ);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[3];

    params[0] = OSSL_PARAM_construct_utf8_string("group", (char *)"P-256", 0);
    params[1] = OSSL_PARAM_construct_utf8_string(AF_PARAM_GEN_LABEL, (char *)label, 0);
    params[2] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 || !EVP_PKEY_CTX_set_params(ctx, params) ||
        EVP_PKEY_generate(ctx, &pkey) <= 0)
        die("cannot generate a key in the token (is attfresh configured in --conf?)");
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static X509 *cert_for(EVP_PKEY *pub, const char *cn, int serial, int ca)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    const char *exts[3][2] = {{"critical,CA:TRUE", NULL}, {NULL, NULL}, {NULL, NULL}};
    int nids[3] = {NID_basic_constraints, NID_key_usage, NID_ext_key_usage}, i;

    if (!ca) {
        exts[0][0] = "critical,CA:FALSE";
        exts[1][0] = "critical,digitalSignature";
        exts[2][0] = af_oid_text(AF_OID_KP_ATTESTATION_KEY);
    }
    if (x == NULL || n == NULL ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
        !X509_set_subject_name(x, n) ||
        !X509_set_issuer_name(x, ca ? n : X509_get_subject_name(ca_cert)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400) || !X509_set_pubkey(x, pub))
        die("certificate");
    X509V3_set_ctx(&ctx, ca ? x : ca_cert, x, NULL, NULL, 0);
    for (i = 0; i < 3; i++) {
        if (exts[i][0] == NULL)
            continue;
        if ((e = X509V3_EXT_nconf_nid(NULL, &ctx, nids[i], exts[i][0])) == NULL ||
            !X509_add_ext(x, e, -1))
            die("certificate extension");
        X509_EXTENSION_free(e);
    }
    if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
        die("certificate signature");
    X509_NAME_free(n);
    return x;
}

/* ---- the operations (each one as a station or an RA does it) -------------------------------- */
static unsigned char msg[MSG_LEN];
static unsigned char sigbuf[256];
static size_t siglen;

static void op_sign(SET *s)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();

    siglen = sizeof(sigbuf);
    if (m == NULL || EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, s->key, NULL) <= 0 ||
        EVP_DigestSign(m, sigbuf, &siglen, msg, sizeof(msg)) <= 0)
        die("signature");
    EVP_MD_CTX_free(m);
}

/* What one RA-side ECDSA verification costs in software (the verify row makes three: the CSR's
 * self-signature, the Evidence signature, the AK certificate's signature by its CA). */
static EVP_PKEY *soft_pub;
static unsigned char soft_sig[256];
static size_t soft_siglen;

static void op_verify_sig(SET *s)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();

    (void)s;
    if (m == NULL || EVP_DigestVerifyInit_ex(m, NULL, "SHA256", NULL, NULL, soft_pub, NULL) <= 0 ||
        EVP_DigestVerify(m, soft_sig, soft_siglen, msg, sizeof(msg)) <= 0)
        die("signature verification");
    EVP_MD_CTX_free(m);
}

static AF_EVIDENCE *attest(SET *s)
{
    AF_ATTEST *at = af_attest_new(NULL, NULL);
    AF_EVIDENCE *ev;

    if (at == NULL || !af_attest_set1_nonce(at, NONCE, sizeof(NONCE)) ||
        !af_attest_add_key(at, s->key, "bench-key", NULL) ||
        !af_attest_set1_ak(at, s->ak, s->ak_cert) || (ev = af_attest_sign(at)) == NULL)
        die("attest");
    af_attest_free(at);
    return ev;
}

static void op_attest(SET *s)
{
    af_evidence_free(attest(s));
}

static int csr_der(SET *s, const AF_EVIDENCE *ev, unsigned char **der)
{
    AF_BUNDLE *b = af_bundle_new();
    X509_REQ *req;
    int n;

    if (b == NULL || !af_bundle_add_evidence(b, ev) ||
        (req = af_csr_new(s->key, SUBJECT, NULL, b, NULL, NULL)) == NULL)
        die("csr");
    *der = NULL;
    if ((n = i2d_X509_REQ(req, der)) <= 0)
        die("csr encoding");
    X509_REQ_free(req);
    af_bundle_free(b);
    return n;
}

static void op_csr(SET *s)
{
    unsigned char *der;

    csr_der(s, s->ev, &der);
    OPENSSL_free(der);
}

static void ra_verify(SET *s, AF_VERIFY *v)
{
    const unsigned char *p = s->csr_der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)s->csr_len);
    AF_CHECKS *c = af_checks_new();

    if (req == NULL || c == NULL || !af_csr_verify(v, req, c))
        die("verify");
    af_checks_free(c);
    X509_REQ_free(req);
}

/* the RA keeps one verifier (trust store, policy, proven-AK cache) */
static void op_ra_verify(SET *s)
{
    ra_verify(s, verifier);
}

/* a verifier per request made from the kept prototype (shares store and cache) */
static void op_ra_verify_from(SET *s)
{
    AF_VERIFY *v = af_verify_new_from(verifier);

    if (v == NULL)
        die("af_verify_new_from");
    af_verify_set_nonce_cb(v, af_nonce_cb_expected, &expected);
    ra_verify(s, v);
    af_verify_free(v);
}

/* a verifier built from scratch per request (trust store, policy): nothing carried over */
static void op_ra_verify_new(SET *s)
{
    AF_VERIFY *v = af_verify_new(NULL, NULL);

    if (v == NULL || !af_verify_add1_trust(v, ca_cert) || !af_verify_set_policy(v, policy))
        die("af_verify_new");
    af_verify_set_nonce_cb(v, af_nonce_cb_expected, &expected);
    ra_verify(s, v);
    af_verify_free(v);
}

static void (*const ops[OP__COUNT])(SET *) = {
    op_sign, op_verify_sig, op_attest, op_csr, op_ra_verify, op_ra_verify_from, op_ra_verify_new};

/* ---- timing --------------------------------------------------------------------------------- */
static double run(SET *s, op_id op, int n)
{
    double t0;
    int i;

    for (i = 0; i < 5; i++) /* warm-up: caches, fetches, the token's session pool */
        ops[op](s);
    CALLGRIND_TOGGLE_COLLECT;
    t0 = now_s();
    for (i = 0; i < n; i++)
        ops[op](s);
    t0 = now_s() - t0;
    CALLGRIND_TOGGLE_COLLECT;
    return t0 / n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double c[64];

    memcpy(c, v, (size_t)n * sizeof(*v));
    qsort(c, (size_t)n, sizeof(*c), cmp_double);
    return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

/* Median over repeats of (row - k * sign of the same repeat): paired, so a drift cancels. */
static double median_rest(const SET *s, op_id op, int k, int repeat)
{
    double d[64];
    int r;

    for (r = 0; r < repeat; r++)
        d[r] = s->t[op][r] - k * s->t[OP_SIGN][r];
    return median(d, repeat);
}

static void prepare(SET *s)
{
    AF_CHECKS *c = af_checks_new();
    const unsigned char *p;
    X509_REQ *req;

    s->ev = attest(s);
    s->csr_len = (size_t)csr_der(s, s->ev, &s->csr_der);
    p = s->csr_der;
    if ((req = d2i_X509_REQ(NULL, &p, (long)s->csr_len)) == NULL || c == NULL ||
        !af_csr_verify(verifier, req, c)) {
        if (c != NULL)
            af_checks_print(BIO_new_fp(stderr, BIO_NOCLOSE | BIO_FP_TEXT), c);
        die("the CSR made for the verify row does not verify");
    }
    X509_REQ_free(req);
    af_checks_free(c);
}

static void usage(void)
{
    fputs(
        "usage: bench_evidence [--conf FILE] [--n N] [--repeat R] [--soft-only]\n"
        "                      [--only sign|sigverify|attest|csr|verify|verify-from|verify-new]\n"
        "                      [--set token|soft]\n"
        "  --conf FILE  OpenSSL configuration loading attfresh (token and PIN source); the AK and\n"
        "               the subject key are generated in that token (EC P-256)\n"
        "  --only OP    time only that row (for callgrind: instructions are collected only\n"
        "               inside the timed loops, so Ir / N is the cost of one operation)\n",
        stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *conf = NULL, *only = NULL, *only_set = NULL;
    int n = 200, repeat = 7, soft_only = 0, i, r, nsets;
    SET sets[2];
    char label[64];

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--soft-only") == 0) {
            soft_only = 1;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--conf") == 0)
            conf = v;
        else if (strcmp(a, "--n") == 0)
            n = atoi(v);
        else if (strcmp(a, "--repeat") == 0)
            repeat = atoi(v);
        else if (strcmp(a, "--only") == 0)
            only = v;
        else if (strcmp(a, "--set") == 0)
            only_set = v;
        else
            usage();
    }
    if (n < 1 || repeat < 1 || repeat > 64 || (conf == NULL && !soft_only))
        usage();
    if (conf != NULL && !OSSL_LIB_CTX_load_config(NULL, conf))
        die("cannot load --conf");
    memset(msg, 0x5a, sizeof(msg));
    memset(sets, 0, sizeof(sets));

    if ((ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
        die("CA key");
    ca_cert = cert_for(ca_key, "bench AK CA", 1, 1);
    if ((verifier = af_verify_new(NULL, NULL)) == NULL || !af_verify_add1_trust(verifier, ca_cert))
        die("verifier");
    af_verify_set_nonce_cb(verifier, af_nonce_cb_expected, &expected);
    {
        /* software keys have no PKCS#11 claims: the default policy would refuse them */
        static const char pol[] = "missing = accept\n";

        if ((policy = af_policy_new()) == NULL || !af_policy_parse(policy, pol, sizeof(pol) - 1) ||
            !af_verify_set_policy(verifier, policy))
            die("policy");
    }

    nsets = 0;
    if (!soft_only && (only_set == NULL || strcmp(only_set, "token") == 0)) {
        SET *s = &sets[nsets++];

        s->name = "token";
        snprintf(label, sizeof(label), "bench-ak-%ld", (long)time(NULL));
        s->ak = token_key(label);
        snprintf(label, sizeof(label), "bench-key-%ld", (long)time(NULL));
        s->key = token_key(label);
    }
    if (only_set == NULL || strcmp(only_set, "soft") == 0) {
        SET *s = &sets[nsets++];

        s->name = "soft";
        if ((s->ak = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
            (s->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
            die("software keys");
    }
    if (nsets == 0)
        usage();
    for (i = 0; i < nsets; i++) {
        sets[i].ak_cert = cert_for(sets[i].ak, "bench AK", 2 + i, 0);
        prepare(&sets[i]);
    }
    /* the sigverify row verifies a software signature with a software public key */
    {
        SET ref;

        memset(&ref, 0, sizeof(ref));
        if ((soft_pub = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
            die("software key");
        ref.key = soft_pub;
        op_sign(&ref);
        memcpy(soft_sig, sigbuf, siglen);
        soft_siglen = siglen;
    }

    {
        FILE *f = fopen("/proc/loadavg", "r");
        char load[64] = "?";

        if (f != NULL) {
            if (fgets(load, sizeof(load), f) == NULL)
                strcpy(load, "?");
            fclose(f);
        }
        printf("bench_evidence: %d operations x %d interleaved repeats, EC P-256 / SHA-256, "
               "load average at start %.14s\n",
               n, repeat, load);
    }

    for (r = 0; r < repeat; r++)
        for (i = 0; i < nsets; i++) {
            op_id op;

            for (op = 0; op < OP__COUNT; op++)
                if (only == NULL || strcmp(only, op_names[op]) == 0)
                    sets[i].t[op][r] = run(&sets[i], op, n);
        }
    if (only != NULL) {
        for (i = 0; i < nsets; i++)
            for (r = 0; r < OP__COUNT; r++)
                if (strcmp(only, op_names[r]) == 0)
                    printf("%-5s %-9s %8.1f us/op (median)\n", sets[i].name, op_names[r],
                           1e6 * median(sets[i].t[r], repeat));
        return 0;
    }

    printf("\n%-6s %-34s %10s %10s %10s %8s\n", "keys", "operation", "total us", "signing us",
           "rest us", "rest/sig");
    for (i = 0; i < nsets; i++) {
        const SET *s = &sets[i];
        double sign = median(s->t[OP_SIGN], repeat), sv = median(s->t[OP_VERIFY_SIG], repeat);
        double at = median(s->t[OP_ATTEST], repeat), csr = median(s->t[OP_CSR], repeat);
        double ver = median(s->t[OP_RA_VERIFY], repeat);
        double ver_from = median(s->t[OP_RA_VERIFY_FROM], repeat);
        double ver_new = median(s->t[OP_RA_VERIFY_NEW], repeat);
        double at_rest = median_rest(s, OP_ATTEST, 1, repeat);
        double csr_rest = median_rest(s, OP_CSR, 1, repeat);

        printf("%-6s %-34s %10.1f %10.1f %10s %8s\n", s->name, "EVP_DigestSign (the key's own)",
               1e6 * sign, 1e6 * sign, "-", "-");
        printf("%-6s %-34s %10.1f %10.1f %10.1f %8.2f\n", s->name, "attest (1 signature)", 1e6 * at,
               1e6 * sign, 1e6 * at_rest, at_rest / sign);
        printf("%-6s %-34s %10.1f %10.1f %10.1f %8.2f\n", s->name, "csr (1 signature)", 1e6 * csr,
               1e6 * sign, 1e6 * csr_rest, csr_rest / sign);
        printf("%-6s %-34s %10.1f %10.1f %10.1f %8.2f   <- station target: rest/sig <= 1\n",
               s->name, "station: attest + csr", 1e6 * (at + csr), 2e6 * sign,
               1e6 * (at_rest + csr_rest), (at_rest + csr_rest) / (2 * sign));
        printf("%-6s %-34s %10.1f %10s %10.1f %8.2f   <- RA target: verify <= the 2 signatures\n",
               s->name, "RA: d2i + af_csr_verify", 1e6 * ver, "(none)", 1e6 * ver,
               ver / (2 * sign));
        printf("%-6s %-34s %10.1f %10s %10.1f %8.2f\n", s->name,
               "RA: same, verifier from prototype", 1e6 * ver_from, "(none)", 1e6 * ver_from,
               ver_from / (2 * sign));
        printf("%-6s %-34s %10.1f %10s %10.1f %8.2f   (first-time AK: + the chain)\n", s->name,
               "RA: same, new verifier per request", 1e6 * ver_new, "(none)", 1e6 * ver_new,
               ver_new / (2 * sign));
        printf("%-6s %-34s %10s %10s %10.1f %8s   (one ECDSA verification: %.1f us)\n", s->name,
               "  software ECDSA P-256 verify", "", "", 1e6 * sv, "", 1e6 * sv);
    }
    for (i = 0; i < nsets; i++) {
        EVP_PKEY_free(sets[i].ak);
        EVP_PKEY_free(sets[i].key);
        X509_free(sets[i].ak_cert);
        af_evidence_free(sets[i].ev);
        OPENSSL_free(sets[i].csr_der);
    }
    af_verify_free(verifier);
    af_policy_free(policy);
    EVP_PKEY_free(soft_pub);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    return 0;
}
