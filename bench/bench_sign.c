/* bench_sign.c - provider benchmark: signatures/s (ECDSA P-256, RSA-2048 PKCS#1 v1.5; 1..N threads)
 * through attfresh.so (OSSL_STORE-loaded token key; EVP_PKEY_sign of a digest and EVP_DigestSign)
 * side by side with raw C_SignInit+C_Sign on the same token key (the token's limit) and OpenSSL's
 * default provider with a software key; 32-byte random through ATTFRESH-RAND vs raw
 * C_GenerateRandom; PKCS#11 calls per operation, counted through bench/p11count.so.
 * Rows are repeated interleaved; medians, and ratios paired with the raw row of the same repeat.
 * See bench/README.md; bench/provider.sh makes the token, keys and configs and runs this. */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "attfresh/params.h"

#define MAX_THREADS 16
#define MAX_REPEAT 31
#define MAX_ROWS 64
#define WARMUP_OPS 10
#define SIG_MAX 1024

enum alg { ALG_EC, ALG_RSA, ALG_NONE };
enum kind {
    K_RAW_SIGN,     /* C_SignInit + C_Sign, token key, one session per thread */
    K_PKEY_SIGN,    /* attfresh: fresh EVP_PKEY_CTX + EVP_PKEY_sign of a SHA-256 digest */
    K_DIGEST_SIGN,  /* attfresh: fresh EVP_MD_CTX + EVP_DigestSign of a short message */
    K_SOFT_SIGN,    /* default provider, in-memory key, as K_PKEY_SIGN */
    K_RAW_RAND,     /* C_GenerateRandom(32), one session per thread */
    K_PROV_RAND,    /* EVP_RAND_generate(32) on a per-thread ATTFRESH-RAND ctx */
    K_DEFAULT_RAND, /* RAND_bytes(32), default DRBG */
};

static const char *const kind_names[] = {
    "raw C_SignInit+C_Sign",      "attfresh EVP_PKEY_sign",   "attfresh EVP_DigestSign",
    "default provider, soft key", "raw C_GenerateRandom(32)", "attfresh EVP_RAND_generate(32)",
    "default RAND_bytes(32)",
};

typedef struct row_st {
    enum kind kind;
    enum alg alg;
    int threads;
    long count; /* total operations, split across threads */
    double ops[MAX_REPEAT];
    int nrep;
    long failures;
} ROW;

/* ---- PKCS#11, raw ---------------------------------------------------------------------------- */
typedef struct raw_st {
    CK_FUNCTION_LIST *fl;
    CK_SLOT_ID slot;
    CK_OBJECT_HANDLE key[2]; /* per alg */
} RAW;

/* ---- everything a worker needs ----------------------------------------------------------------
 */
typedef struct bench_st {
    OSSL_LIB_CTX *libctx; /* attfresh + default, from --conf */
    EVP_PKEY *tok[2];     /* token keys through the provider, per alg */
    EVP_PKEY *soft[2];    /* software keys, default provider */
    EVP_RAND *rand;       /* ATTFRESH-RAND */
    RAW raw;
    unsigned char digest[32];
    unsigned char digestinfo[19 + 32];
} BENCH;

static BENCH B;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

static const unsigned char sha256_prefix[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                0x01, 0x05, 0x00, 0x04, 0x20};
static const unsigned char message[] = "attfresh bench: a short message to sign";

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_sign: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static const char *alg_name(enum alg a)
{
    return a == ALG_EC ? "ECDSA P-256" : a == ALG_RSA ? "RSA-2048 PKCS#1 v1.5" : "random 32 bytes";
}

/* ---- raw PKCS#11 ------------------------------------------------------------------------------
 */
static int raw_open(RAW *r, const char *module, const char *token)
{
    void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get;
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64, i;
    CK_RV rv;
    char want[32];
    size_t tl = strlen(token);

    if (h == NULL) {
        fprintf(stderr, "bench_sign: cannot load %s: %s\n", module, dlerror());
        return 0;
    }
    *(void **)&get = dlsym(h, "C_GetFunctionList");
    if (get == NULL || get(&r->fl) != CKR_OK)
        return 0;
    rv = r->fl->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        fprintf(stderr, "bench_sign: C_Initialize: 0x%lx\n", rv);
        return 0;
    }
    if (tl > sizeof(want))
        return 0;
    memset(want, ' ', sizeof(want));
    memcpy(want, token, tl);
    if (r->fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return 0;
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;

        if (r->fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            memcmp(ti.label, want, sizeof(want)) == 0) {
            r->slot = slots[i];
            return 1;
        }
    }
    fprintf(stderr, "bench_sign: no token labelled '%s' in %s\n", token, module);
    return 0;
}

static int raw_session(RAW *r, CK_SESSION_HANDLE *s)
{
    return r->fl->C_OpenSession(r->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s) ==
           CKR_OK;
}

/* Logs in (login state is per token and process) and finds the private keys by label. */
static int raw_login_find(RAW *r, const char *pin, const char *labels[2])
{
    CK_SESSION_HANDLE s;
    CK_RV rv;
    int a, ok = 0;

    if (!raw_session(r, &s))
        return 0;
    rv = r->fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        fprintf(stderr, "bench_sign: C_Login: 0x%lx\n", rv);
        goto end;
    }
    for (a = 0; a < 2; a++) {
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof(cls)},
                             {CKA_LABEL, (void *)labels[a], strlen(labels[a])}};
        CK_ULONG found = 0;

        if (r->fl->C_FindObjectsInit(s, t, 2) != CKR_OK)
            goto end;
        rv = r->fl->C_FindObjects(s, &r->key[a], 1, &found);
        r->fl->C_FindObjectsFinal(s);
        if (rv != CKR_OK || found != 1) {
            fprintf(stderr, "bench_sign: no private key labelled '%s'\n", labels[a]);
            goto end;
        }
    }
    ok = 1;
end:
    /* Closing the last session would log out: keep this one for the life of the process. */
    return ok;
}

/* ---- provider ---------------------------------------------------------------------------------
 */
static EVP_PKEY *store_load(OSSL_LIB_CTX *libctx, const char *uri)
{
    OSSL_STORE_CTX *sc = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    EVP_PKEY *pk = NULL;

    if (sc == NULL)
        return NULL;
    while (pk == NULL && !OSSL_STORE_eof(sc)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(sc);

        if (info == NULL)
            continue;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            pk = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(sc);
    return pk;
}

static int pkey_sign(OSSL_LIB_CTX *libctx, EVP_PKEY *pk, enum alg a, unsigned char *sig,
                     size_t *siglen)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(libctx, pk, NULL);
    int ok = c != NULL && EVP_PKEY_sign_init(c) > 0 &&
             (a != ALG_RSA || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0) &&
             EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0 &&
             EVP_PKEY_sign(c, sig, siglen, B.digest, sizeof(B.digest)) > 0;

    EVP_PKEY_CTX_free(c);
    return ok;
}

static int digest_sign(OSSL_LIB_CTX *libctx, EVP_PKEY *pk, unsigned char *sig, size_t *siglen)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_DigestSignInit_ex(m, NULL, "SHA256", libctx, NULL, pk, NULL) > 0 &&
             EVP_DigestSign(m, sig, siglen, message, sizeof(message) - 1) > 0;

    EVP_MD_CTX_free(m);
    return ok;
}

/* Verifies in software (default provider) with the public key exported from pk. */
static int soft_verify(EVP_PKEY *pk, enum alg a, const unsigned char *sig, size_t siglen,
                       int digested)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int len = i2d_PUBKEY(pk, &der), ok = 0;
    EVP_PKEY *pub = NULL;
    EVP_PKEY_CTX *c = NULL;
    EVP_MD_CTX *m = NULL;

    if (len <= 0)
        return 0;
    p = der;
    pub = d2i_PUBKEY_ex(NULL, &p, len, NULL, "provider=default");
    if (pub == NULL)
        goto end;
    if (digested) {
        ok = (c = EVP_PKEY_CTX_new_from_pkey(NULL, pub, "provider=default")) != NULL &&
             EVP_PKEY_verify_init(c) > 0 &&
             (a != ALG_RSA || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0) &&
             EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0 &&
             EVP_PKEY_verify(c, sig, siglen, B.digest, sizeof(B.digest)) == 1;
    } else {
        ok = (m = EVP_MD_CTX_new()) != NULL &&
             EVP_DigestVerifyInit_ex(m, NULL, "SHA256", NULL, "provider=default", pub, NULL) > 0 &&
             EVP_DigestVerify(m, sig, siglen, message, sizeof(message) - 1) == 1;
    }
end:
    EVP_MD_CTX_free(m);
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(pub);
    OPENSSL_free(der);
    return ok;
}

/* ---- workers ----------------------------------------------------------------------------------
 */
typedef struct worker_st {
    ROW *row;
    long n;
    long failures;
    CK_SESSION_HANDLE sess;
    EVP_RAND_CTX *rctx;
    pthread_barrier_t *start, *done;
} WORKER;

static void note_failure(WORKER *w, const char *what, CK_RV rv)
{
    if (w->failures++ > 0)
        return;
    pthread_mutex_lock(&err_lock);
    fprintf(stderr, "bench_sign: %s / %s: %s failed", kind_names[w->row->kind],
            alg_name(w->row->alg), what);
    if (rv != CKR_OK)
        fprintf(stderr, " (CK_RV 0x%lx)", rv);
    fputc('\n', stderr);
    ERR_print_errors_fp(stderr);
    pthread_mutex_unlock(&err_lock);
}

static void one_op(WORKER *w)
{
    unsigned char sig[SIG_MAX];
    size_t siglen = sizeof(sig);
    CK_ULONG cklen = sizeof(sig);
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_RV rv;
    enum alg a = w->row->alg;

    switch (w->row->kind) {
    case K_RAW_SIGN:
        if (a == ALG_RSA)
            mech.mechanism = CKM_RSA_PKCS;
        rv = B.raw.fl->C_SignInit(w->sess, &mech, B.raw.key[a]);
        if (rv == CKR_OK)
            rv = B.raw.fl->C_Sign(w->sess, a == ALG_RSA ? B.digestinfo : B.digest,
                                  a == ALG_RSA ? sizeof(B.digestinfo) : sizeof(B.digest), sig,
                                  &cklen);
        if (rv != CKR_OK)
            note_failure(w, "C_Sign", rv);
        break;
    case K_PKEY_SIGN:
        if (!pkey_sign(B.libctx, B.tok[a], a, sig, &siglen))
            note_failure(w, "EVP_PKEY_sign", CKR_OK);
        break;
    case K_DIGEST_SIGN:
        if (!digest_sign(B.libctx, B.tok[a], sig, &siglen))
            note_failure(w, "EVP_DigestSign", CKR_OK);
        break;
    case K_SOFT_SIGN:
        if (!pkey_sign(NULL, B.soft[a], a, sig, &siglen))
            note_failure(w, "EVP_PKEY_sign", CKR_OK);
        break;
    case K_RAW_RAND:
        rv = B.raw.fl->C_GenerateRandom(w->sess, sig, 32);
        if (rv != CKR_OK)
            note_failure(w, "C_GenerateRandom", rv);
        break;
    case K_PROV_RAND:
        if (!EVP_RAND_generate(w->rctx, sig, 32, 0, 0, NULL, 0))
            note_failure(w, "EVP_RAND_generate", CKR_OK);
        break;
    case K_DEFAULT_RAND:
        if (RAND_bytes(sig, 32) != 1)
            note_failure(w, "RAND_bytes", CKR_OK);
        break;
    }
}

static int worker_setup(WORKER *w)
{
    switch (w->row->kind) {
    case K_RAW_SIGN:
    case K_RAW_RAND:
        return raw_session(&B.raw, &w->sess);
    case K_PROV_RAND:
        w->rctx = EVP_RAND_CTX_new(B.rand, NULL);
        return w->rctx != NULL && EVP_RAND_instantiate(w->rctx, 0, 0, NULL, 0, NULL);
    default:
        return 1;
    }
}

static void worker_teardown(WORKER *w)
{
    if (w->sess != CK_INVALID_HANDLE)
        B.raw.fl->C_CloseSession(w->sess);
    EVP_RAND_CTX_free(w->rctx);
}

static void *worker_main(void *arg)
{
    WORKER *w = arg;
    int ready = worker_setup(w);
    long i;

    if (!ready)
        note_failure(w, "setup", CKR_OK);
    for (i = 0; ready && i < WARMUP_OPS; i++)
        one_op(w);
    pthread_barrier_wait(w->start);
    for (i = 0; ready && i < w->n; i++)
        one_op(w);
    pthread_barrier_wait(w->done);
    if (!ready)
        w->failures += w->n;
    worker_teardown(w);
    return NULL;
}

/* One timed run of row: returns ops/s, 0 when any operation failed. */
static double run_row(ROW *row)
{
    WORKER w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    pthread_barrier_t start, done;
    double t0, t1;
    long fails = 0;
    int t;

    pthread_barrier_init(&start, NULL, row->threads + 1);
    pthread_barrier_init(&done, NULL, row->threads + 1);
    for (t = 0; t < row->threads; t++) {
        w[t] = (WORKER){.row = row,
                        .n = row->count / row->threads,
                        .sess = CK_INVALID_HANDLE,
                        .start = &start,
                        .done = &done};
        if (pthread_create(&th[t], NULL, worker_main, &w[t]) != 0)
            die("pthread_create");
    }
    pthread_barrier_wait(&start);
    t0 = now();
    pthread_barrier_wait(&done);
    t1 = now();
    for (t = 0; t < row->threads; t++) {
        pthread_join(th[t], NULL);
        fails += w[t].failures;
    }
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
    row->failures += fails;
    return fails ? 0.0 : (double)(row->count / row->threads * row->threads) / (t1 - t0);
}

/* ---- PKCS#11 call counting through p11count.so ----------------------------------------------- */
typedef struct counter_st {
    size_t (*n)(void);
    const char *(*name)(size_t);
    size_t (*get)(unsigned long *, size_t);
    size_t nfun;
} COUNTER;

static int counter_open(COUNTER *c, const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

    if (h == NULL) {
        fprintf(stderr, "bench_sign: the provider did not load the counting module %s\n", path);
        return 0;
    }
    *(void **)&c->n = dlsym(h, "p11count_n");
    *(void **)&c->name = dlsym(h, "p11count_name");
    *(void **)&c->get = dlsym(h, "p11count_get");
    if (c->n == NULL || c->name == NULL || c->get == NULL)
        return 0;
    c->nfun = c->n();
    return 1;
}

/* Prints per-operation PKCS#11 calls: total and per function; returns the total per op. */
static double counter_report(const COUNTER *c, const unsigned long *before,
                             const unsigned long *after, long ops, const char *what)
{
    unsigned long total = 0;
    size_t i;

    for (i = 0; i < c->nfun; i++)
        total += after[i] - before[i];
    printf("  %-44s %6.2f  (", what, (double)total / (double)ops);
    for (i = 0; i < c->nfun; i++)
        if (after[i] != before[i])
            printf(" %s %.2f", c->name(i), (double)(after[i] - before[i]) / (double)ops);
    printf(" )\n");
    return (double)total / (double)ops;
}

typedef struct countrun_st {
    const char *what;
    enum kind kind;
    enum alg alg;
} COUNTRUN;

/* Counts PKCS#11 calls per operation through a second provider instance whose module is
 * p11count.so; returns the worst steady-state calls per signature (ECDSA and RSA, both modes). */
static double count_calls(const char *conf, const char *countso, const char *uris[2])
{
    OSSL_LIB_CTX *lc = OSSL_LIB_CTX_new();
    EVP_PKEY *pk[2] = {NULL, NULL};
    EVP_RAND *rand = NULL;
    EVP_RAND_CTX *rctx = NULL;
    COUNTER c;
    unsigned long before[128], after[128];
    static const COUNTRUN runs[] = {
        {"ECDSA P-256, EVP_PKEY_sign", K_PKEY_SIGN, ALG_EC},
        {"ECDSA P-256, EVP_DigestSign", K_DIGEST_SIGN, ALG_EC},
        {"RSA-2048, EVP_PKEY_sign", K_PKEY_SIGN, ALG_RSA},
        {"RSA-2048, EVP_DigestSign", K_DIGEST_SIGN, ALG_RSA},
    };
    const long n = 200;
    double worst = 0.0, per;
    size_t r;
    int a;
    long i;

    if (lc == NULL || !OSSL_LIB_CTX_load_config(lc, conf))
        die("cannot load the counting configuration");
    printf("\nPKCS#11 calls per operation (steady state: after %d warm-up operations, mean over "
           "%ld; counted by p11count.so)\n",
           WARMUP_OPS, n);
    for (a = 0; a < 2; a++) {
        /* Key loading is counted only once the module is up (the first load initialises it). */
        if ((pk[a] = store_load(lc, uris[a])) == NULL)
            die("cannot load the token key through the counting provider");
    }
    if (!counter_open(&c, countso) || c.nfun > 128)
        die("cannot read the counting module");
    c.get(before, c.nfun);
    EVP_PKEY_free(store_load(lc, uris[0]));
    c.get(after, c.nfun);
    counter_report(&c, before, after, 1, "OSSL_STORE load of a token key");
    for (r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        unsigned char sig[SIG_MAX];
        size_t siglen;

        for (i = 0; i < WARMUP_OPS + n; i++) {
            if (i == WARMUP_OPS)
                c.get(before, c.nfun);
            siglen = sizeof(sig);
            if (runs[r].kind == K_PKEY_SIGN
                    ? !pkey_sign(lc, pk[runs[r].alg], runs[r].alg, sig, &siglen)
                    : !digest_sign(lc, pk[runs[r].alg], sig, &siglen))
                die("signature through the counting provider failed");
        }
        c.get(after, c.nfun);
        per = counter_report(&c, before, after, n, runs[r].what);
        if (per > worst)
            worst = per;
    }
    rand = EVP_RAND_fetch(lc, AF_RAND_NAME, AF_PROPQ);
    if (rand != NULL && (rctx = EVP_RAND_CTX_new(rand, NULL)) != NULL &&
        EVP_RAND_instantiate(rctx, 0, 0, NULL, 0, NULL)) {
        unsigned char buf[32];

        for (i = 0; i < WARMUP_OPS + 10 * n; i++) {
            if (i == WARMUP_OPS)
                c.get(before, c.nfun);
            if (!EVP_RAND_generate(rctx, buf, sizeof(buf), 0, 0, NULL, 0))
                die("EVP_RAND_generate through the counting provider failed");
        }
        c.get(after, c.nfun);
        counter_report(&c, before, after, 10 * n, "ATTFRESH-RAND, 32 bytes");
    } else {
        printf("  ATTFRESH-RAND: not available (%s)\n", "fetch or instantiate failed");
        ERR_clear_error();
    }
    EVP_RAND_CTX_free(rctx);
    EVP_RAND_free(rand);
    EVP_PKEY_free(pk[0]);
    EVP_PKEY_free(pk[1]);
    OSSL_LIB_CTX_free(lc);
    return worst;
}

/* Time of one C_Login on the token (SoftHSM2 derives a key from the PIN: the fixed cost every new
 * process pays once, e.g. `openssl req` with a token key). Logs out and in n times; the token is
 * logged in again at the end. Returns ms per login, or -1. */
static double login_ms(RAW *r, const char *pin, int n)
{
    CK_SESSION_HANDLE s;
    double t0, total = 0.0;
    int i, ok = 1;

    if (!raw_session(r, &s))
        return -1.0;
    for (i = 0; i < n && ok; i++) {
        r->fl->C_Logout(s);
        t0 = now();
        ok = r->fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin)) == CKR_OK;
        total += now() - t0;
    }
    r->fl->C_CloseSession(s);
    return ok ? total * 1e3 / n : -1.0;
}

/* ---- report -----------------------------------------------------------------------------------
 */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Median of v[0..n-1] (n >= 1); the smallest and largest value in *lo, *hi. */
static double median_of(const double *v, int n, double *lo, double *hi)
{
    double s[MAX_REPEAT];

    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    *lo = s[0];
    *hi = s[n - 1];
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Paired comparison with the raw row: repeat k of both ran back to back, so the per-repeat ratio
 * and added time cancel the machine's drift better than a ratio of medians. */
typedef struct cmp_st {
    double med, best, lo, hi; /* ops/s */
    double ratio;             /* median of ops/raw ops per repeat */
    double added_us;          /* median of (1/ops - 1/raw ops) per repeat, one thread's view */
} CMP;

static CMP compare(const ROW *r, const ROW *raw)
{
    CMP c;
    double ratio[MAX_REPEAT], added[MAX_REPEAT], lo, hi;
    int k;

    c.med = median_of(r->ops, r->nrep, &c.lo, &c.hi);
    c.best = c.hi;
    c.ratio = c.added_us = 0.0;
    if (raw == NULL)
        return c;
    for (k = 0; k < r->nrep; k++) {
        ratio[k] = r->ops[k] / raw->ops[k];
        added[k] = (1e6 / r->ops[k] - 1e6 / raw->ops[k]) * r->threads;
    }
    c.ratio = median_of(ratio, r->nrep, &lo, &hi);
    c.added_us = median_of(added, r->nrep, &lo, &hi);
    return c;
}

static int targets_failed;

static void check(const char *what, int ok, const char *fmt, double v)
{
    printf("  %-4s %-58s ", ok ? "ok" : "MISS", what);
    printf(fmt, v);
    putchar('\n');
    if (!ok)
        targets_failed++;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: bench_sign --conf FILE --token LABEL --pin-file FILE --ec-label L --rsa-label L\n"
        "                  [--module PATH] [--count-conf FILE --count-module PATH]\n"
        "                  [--threads N,N] [--repeat N] [--ec-count N] [--rsa-count N]\n"
        "                  [--rand-count N]\n"
        "  --conf         OpenSSL config that activates attfresh (and default)\n"
        "  --module       PKCS#11 module for the raw rows (default: the p11-kit proxy,\n"
        "                 which is also attfresh's default)\n"
        "  --count-conf   the same config with pkcs11-module = p11count.so (call counts)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"conf", required_argument, NULL, 'c'},
        {"token", required_argument, NULL, 't'},
        {"pin-file", required_argument, NULL, 'p'},
        {"ec-label", required_argument, NULL, 'e'},
        {"rsa-label", required_argument, NULL, 'r'},
        {"module", required_argument, NULL, 'm'},
        {"count-conf", required_argument, NULL, 'C'},
        {"count-module", required_argument, NULL, 'M'},
        {"threads", required_argument, NULL, 'T'},
        {"repeat", required_argument, NULL, 'R'},
        {"ec-count", required_argument, NULL, 'E'},
        {"rsa-count", required_argument, NULL, 'S'},
        {"rand-count", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    const char *conf = NULL, *token = NULL, *pinfile = NULL, *labels[2] = {NULL, NULL};
    const char *module = AF_P11KIT_PROXY, *countconf = NULL, *countso = NULL;
    const char *threads_arg = "1,2";
    int repeat = 7, nthreads = 0, threads[MAX_THREADS], o, t, a, rep;
    long ec_count = 4000, rsa_count = 600, rand_count = 100000;
    char uri[2][512], pin[256] = "", *tok;
    const char *uris[2];
    ROW rows[MAX_ROWS];
    int nrows = 0, i, bad_sig = 0;
    double calls = -1.0;
    char threads_buf[64];
    FILE *f;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            conf = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'p':
            pinfile = optarg;
            break;
        case 'e':
            labels[ALG_EC] = optarg;
            break;
        case 'r':
            labels[ALG_RSA] = optarg;
            break;
        case 'm':
            module = optarg;
            break;
        case 'C':
            countconf = optarg;
            break;
        case 'M':
            countso = optarg;
            break;
        case 'T':
            threads_arg = optarg;
            break;
        case 'R':
            repeat = atoi(optarg);
            break;
        case 'E':
            ec_count = atol(optarg);
            break;
        case 'S':
            rsa_count = atol(optarg);
            break;
        case 'N':
            rand_count = atol(optarg);
            break;
        default:
            usage();
        }
    }
    if (conf == NULL || token == NULL || pinfile == NULL || labels[0] == NULL ||
        labels[1] == NULL || repeat < 1 || repeat > MAX_REPEAT || ec_count < 1 || rsa_count < 1 ||
        rand_count < 1 || (countconf == NULL) != (countso == NULL))
        usage();
    snprintf(threads_buf, sizeof(threads_buf), "%s", threads_arg);
    for (tok = strtok(threads_buf, ", "); tok != NULL && nthreads < MAX_THREADS;
         tok = strtok(NULL, ", ")) {
        threads[nthreads] = atoi(tok);
        if (threads[nthreads] < 1 || threads[nthreads] > MAX_THREADS)
            usage();
        nthreads++;
    }

    /* The default library context stays plain (no OPENSSL_CONF): SoftHSM2 uses it for its own
     * crypto, and the software-key rows use it as the reference. */
    if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL))
        die("OPENSSL_init_crypto");
    if ((f = fopen(pinfile, "r")) == NULL || fgets(pin, sizeof(pin), f) == NULL)
        die("cannot read the PIN file");
    fclose(f);
    pin[strcspn(pin, "\r\n")] = '\0';

    /* Provider first (its own library context), then the raw module in the same process. */
    if ((B.libctx = OSSL_LIB_CTX_new()) == NULL || !OSSL_LIB_CTX_load_config(B.libctx, conf))
        die("cannot load the provider configuration");
    if (!OSSL_PROVIDER_available(B.libctx, AF_PROVIDER_NAME))
        die("the configuration does not activate attfresh");
    for (a = 0; a < 2; a++) {
        snprintf(uri[a], sizeof(uri[a]), "pkcs11:token=%s;object=%s;type=private", token,
                 labels[a]);
        uris[a] = uri[a];
        if ((B.tok[a] = store_load(B.libctx, uri[a])) == NULL) {
            fprintf(stderr, "bench_sign: cannot load %s through attfresh\n", uri[a]);
            die("store");
        }
    }
    B.soft[ALG_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    B.soft[ALG_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (B.soft[0] == NULL || B.soft[1] == NULL)
        die("software key generation");
    B.rand = EVP_RAND_fetch(B.libctx, AF_RAND_NAME, AF_PROPQ);
    if (B.rand == NULL) {
        fprintf(stderr, "bench_sign: %s not available; its rows are skipped\n", AF_RAND_NAME);
        ERR_clear_error();
    }
    if (!raw_open(&B.raw, module, token) || !raw_login_find(&B.raw, pin, labels))
        die("raw PKCS#11 set-up failed");
    if (!EVP_Digest(message, sizeof(message) - 1, B.digest, NULL, EVP_sha256(), NULL))
        die("SHA-256");
    memcpy(B.digestinfo, sha256_prefix, sizeof(sha256_prefix));
    memcpy(B.digestinfo + sizeof(sha256_prefix), B.digest, sizeof(B.digest));

    /* Every provider signature kind verifies in software before anything is timed. */
    printf("attfresh bench_sign: module %s, token '%s', %d interleaved repeats\n", module, token,
           repeat);
    for (a = 0; a < 2; a++) {
        unsigned char sig[SIG_MAX];
        size_t siglen = sizeof(sig);
        int ok1 = pkey_sign(B.libctx, B.tok[a], (enum alg)a, sig, &siglen) &&
                  soft_verify(B.tok[a], (enum alg)a, sig, siglen, 1);
        int ok2;

        siglen = sizeof(sig);
        ok2 = digest_sign(B.libctx, B.tok[a], sig, &siglen) &&
              soft_verify(B.tok[a], (enum alg)a, sig, siglen, 0);
        printf("verify in software: %-22s EVP_PKEY_sign %s, EVP_DigestSign %s\n",
               alg_name((enum alg)a), ok1 ? "ok" : "FAILED", ok2 ? "ok" : "FAILED");
        if (!ok1 || !ok2) {
            ERR_print_errors_fp(stderr);
            bad_sig = 1;
        }
    }

    for (t = 0; t < nthreads; t++) {
        for (a = 0; a < 2; a++) {
            static const enum kind kinds[] = {K_RAW_SIGN, K_PKEY_SIGN, K_DIGEST_SIGN, K_SOFT_SIGN};
            size_t k;

            for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
                rows[nrows++] = (ROW){.kind = kinds[k],
                                      .alg = (enum alg)a,
                                      .threads = threads[t],
                                      .count = a == ALG_EC ? ec_count : rsa_count};
        }
        rows[nrows++] =
            (ROW){.kind = K_RAW_RAND, .alg = ALG_NONE, .threads = threads[t], .count = rand_count};
        if (B.rand != NULL)
            rows[nrows++] = (ROW){
                .kind = K_PROV_RAND, .alg = ALG_NONE, .threads = threads[t], .count = rand_count};
        rows[nrows++] = (ROW){
            .kind = K_DEFAULT_RAND, .alg = ALG_NONE, .threads = threads[t], .count = rand_count};
    }
    /* Interleaved repeats: a slow drift of the machine hits every row alike. */
    for (rep = 0; rep < repeat; rep++) {
        for (i = 0; i < nrows; i++)
            rows[i].ops[rows[i].nrep++] = run_row(&rows[i]);
        fprintf(stderr, "bench_sign: repeat %d/%d done\n", rep + 1, repeat);
    }

    {
        CMP ec1 = {0}, rand1 = {0};
        int have_ec1 = 0, have_rand1 = 0;
        const ROW *raw = NULL;

        for (i = 0; i < nrows; i++) {
            ROW *r = &rows[i];
            CMP c;

            if (i == 0 || r->alg != rows[i - 1].alg || r->threads != rows[i - 1].threads) {
                printf("\n%s, %d thread%s%*s %10s %10s %9s %8s %10s %7s\n", alg_name(r->alg),
                       r->threads, r->threads > 1 ? "s" : " ", (int)(30 - strlen(alg_name(r->alg))),
                       "", "ops/s", "best ops/s", "us/op", "vs raw", "+us vs raw", "spread");
                raw = NULL;
            }
            if (r->kind == K_RAW_SIGN || r->kind == K_RAW_RAND)
                raw = r->failures ? NULL : r;
            if (r->failures) {
                printf("  %-44s FAILED (%ld failed operations)\n", kind_names[r->kind],
                       r->failures);
                continue;
            }
            c = compare(r, raw);
            printf("  %-44s %10.0f %10.0f %9.2f %7.1f%% %10.2f %6.1f%%\n", kind_names[r->kind],
                   c.med, c.best, 1e6 / c.med * r->threads, 100.0 * c.ratio, c.added_us,
                   100.0 * (c.hi - c.lo) / c.med);
            if (r->threads == 1 && r->alg == ALG_EC && r->kind == K_PKEY_SIGN && raw != NULL) {
                ec1 = c;
                have_ec1 = 1;
            }
            if (r->threads == 1 && r->kind == K_PROV_RAND && raw != NULL) {
                rand1 = c;
                have_rand1 = 1;
            }
        }
        printf(
            "\n(ops/s: median of the repeats, all threads together; us/op: per operation per "
            "thread;\n vs raw and +us vs raw: median over the repeats of the row against the raw "
            "row run just before it)\n");

        if (countconf != NULL)
            calls = count_calls(countconf, countso, uris);
        /* Last: logging out and in again must not disturb any timed row. */
        printf("\nC_Login on the token (once per process; SoftHSM2 derives a key from the PIN): "
               "%.2f ms\n",
               login_ms(&B.raw, pin, 10));
        OPENSSL_cleanse(pin, sizeof(pin));

        printf("\nTargets (issue 2), ECDSA P-256 and random on 1 thread (paired medians):\n");
        if (have_ec1) {
            check("EVP_PKEY_sign overhead over raw C_Sign <= 3 us", ec1.added_us <= 3.0, "%.2f us",
                  ec1.added_us);
            check("EVP_PKEY_sign >= 93 % of raw", ec1.ratio >= 0.93, "%.1f %%", 100.0 * ec1.ratio);
        } else {
            check("ECDSA P-256 rows ran", 0, "%.0f", 0.0);
        }
        if (calls >= 0)
            check("PKCS#11 calls per signature <= 2 (worst of the four)", calls <= 2.0 + 1e-9,
                  "%.2f", calls);
        if (have_rand1)
            check("ATTFRESH-RAND >= 95 % of raw C_GenerateRandom", rand1.ratio >= 0.95, "%.1f %%",
                  100.0 * rand1.ratio);
        else
            check("random rows ran", 0, "%.0f", 0.0);
    }

    fflush(stdout);
    for (a = 0; a < 2; a++) {
        EVP_PKEY_free(B.tok[a]);
        EVP_PKEY_free(B.soft[a]);
    }
    EVP_RAND_free(B.rand);
    OSSL_LIB_CTX_free(B.libctx);
    B.raw.fl->C_Finalize(NULL);
    if (bad_sig)
        return 1;
    return targets_failed ? 3 : 0;
}
