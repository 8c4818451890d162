/* test_rand.c - ATTFRESH-RAND on the fixture token: fetched and used directly (the HSM call
 * counter proves C_GenerateRandom ran), shared by many threads, and as OpenSSL's primary
 * generator from openssl.cnf in a fresh process, where SoftHSM2 calls back into OpenSSL's RNG
 * (must neither recurse nor deadlock). The seed-source role must fail with one clear line. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "attfresh/params.h"
#include "testutil.h"

#define NTHREADS 8
#define NITER 200
#define CHILD_ENV "AF_TEST_RAND_CHILD"

static char tmpdir[] = "/tmp/af-rand-XXXXXX";
static OSSL_LIB_CTX *lc;
static EVP_RAND_CTX *shared;

static uint64_t hsm_calls(EVP_RAND_CTX *ctx)
{
    uint64_t n = 0;
    OSSL_PARAM p[2];

    p[0] = OSSL_PARAM_construct_uint64(AF_PARAM_RAND_HSM_CALLS, &n);
    p[1] = OSSL_PARAM_construct_end();
    if (!EVP_RAND_CTX_get_params(ctx, p))
        return 0;
    return n;
}

/* ---- child mode: a fresh process whose OPENSSL_CONF makes ATTFRESH-RAND the process RNG ---- */

static void *child_thread(void *arg)
{
    unsigned char buf[48];
    int i;

    for (i = 0; i < 50; i++)
        if (RAND_bytes(buf, sizeof(buf)) != 1)
            return NULL;
    return arg;
}

static int child_primary(void)
{
    unsigned char a[32], b[32];
    EVP_RAND_CTX *pub;
    pthread_t th[4];
    static int tag[4];
    void *ret;
    uint64_t calls;
    int i;

    if (RAND_bytes(a, sizeof(a)) != 1 || RAND_priv_bytes(b, sizeof(b)) != 1)
        return 10;
    if (memcmp(a, b, sizeof(a)) == 0)
        return 11;
    pub = RAND_get0_public(NULL);
    if (pub == NULL || strcmp(EVP_RAND_get0_name(EVP_RAND_CTX_get0_rand(pub)), AF_RAND_NAME) != 0)
        return 12;
    calls = hsm_calls(pub);
    if (calls < 2)
        return 13;
    for (i = 0; i < 4; i++)
        if (pthread_create(&th[i], NULL, child_thread, &tag[i]) != 0)
            return 14;
    for (i = 0; i < 4; i++)
        if (pthread_join(th[i], &ret) != 0 || ret == NULL)
            return 15;
    if (hsm_calls(pub) < calls + 200)
        return 16;
    return 0;
}

static int child_seed(void)
{
    unsigned char a[32];
    const char *data = NULL;
    int flags = 0, found = 0;

    /* Must fail, not hang: OpenSSL holds its global RNG lock while it asks the seed source,
     * and SoftHSM2's C_GenerateRandom needs that RNG. The reason names the fix. */
    if (RAND_bytes(a, sizeof(a)) == 1)
        return 20;
    while (ERR_get_error_all(NULL, NULL, NULL, &data, &flags) != 0)
        if (data != NULL && strstr(data, "as a seed source") != NULL &&
            strstr(data, "random = ATTFRESH-RAND") != NULL)
            found = 1;
    return found ? 0 : 21;
}

__attribute__((constructor)) static void child_mode(void)
{
    const char *mode = getenv(CHILD_ENV);

    if (mode == NULL)
        return;
    if (strcmp(mode, "primary") == 0)
        exit(child_primary());
    if (strcmp(mode, "seed") == 0)
        exit(child_seed());
    exit(99);
}

/* Runs this program again with OPENSSL_CONF = conf and the child mode; returns its exit code,
 * or -1 when it did not exit normally (crash). stderr goes to errpath. */
static int run_child(const char *mode, const char *conf, const char *errpath)
{
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -2;
    if (pid == 0) {
        if (freopen(errpath, "w", stderr) == NULL)
            _exit(98);
        setenv(CHILD_ENV, mode, 1);
        setenv("OPENSSL_CONF", conf, 1);
        execl("/proc/self/exe", "test_rand", (char *)NULL);
        _exit(97);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* The fixture's openssl.cnf plus a [random] section with the given lines. */
static const char *random_conf(const char *name, const char *lines)
{
    static char path[256];
    unsigned char *base = af_test_read_file(af_test_openssl_cnf(), NULL);
    const char *anchor = "providers = provider_sect\n";
    char *at;
    FILE *f;

    if (base == NULL || (at = strstr((char *)base, anchor)) == NULL) {
        free(base);
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s.cnf", tmpdir, name);
    if ((f = fopen(path, "w")) == NULL) {
        free(base);
        return NULL;
    }
    at += strlen(anchor);
    fwrite(base, 1, (size_t)(at - (char *)base), f);
    fputs("random = random_sect\n", f);
    fputs(at, f);
    fprintf(f, "\n[random_sect]\n%s\n", lines);
    fclose(f);
    free(base);
    return path;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static int setup(void)
{
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    lc = OSSL_LIB_CTX_new();
    return lc == NULL || !OSSL_LIB_CTX_load_config(lc, af_test_openssl_cnf());
}

static int teardown(void)
{
    char cmd[128];

    EVP_RAND_CTX_free(shared);
    OSSL_LIB_CTX_free(lc);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) != 0;
}

static void test_fetch_generate(void)
{
    EVP_RAND *r = EVP_RAND_fetch(lc, AF_RAND_NAME, AF_PROPQ);
    unsigned char a[64], b[64], zero[64] = {0};
    unsigned char *big;
    uint64_t before, after;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    shared = EVP_RAND_CTX_new(r, NULL);
    EVP_RAND_free(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(shared);
    CU_ASSERT_FATAL(EVP_RAND_instantiate(shared, 256, 0, NULL, 0, NULL));
    CU_ASSERT_EQUAL(EVP_RAND_get_state(shared), EVP_RAND_STATE_READY);
    CU_ASSERT_EQUAL(EVP_RAND_get_strength(shared), 256);

    before = hsm_calls(shared);
    CU_ASSERT(EVP_RAND_generate(shared, a, sizeof(a), 256, 0, NULL, 0));
    CU_ASSERT(EVP_RAND_generate(shared, b, sizeof(b), 0, 1, NULL, 0));
    after = hsm_calls(shared);
    CU_ASSERT_EQUAL(after, before + 2); /* one C_GenerateRandom per request */
    CU_ASSERT(memcmp(a, zero, sizeof(a)) != 0);
    CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);

    /* larger than one request: OpenSSL splits it by our max_request */
    big = malloc(200000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    before = hsm_calls(shared);
    CU_ASSERT(EVP_RAND_generate(shared, big, 200000, 0, 0, NULL, 0));
    CU_ASSERT(hsm_calls(shared) >= before + 4);
    free(big);
}

static void test_strength_limit(void)
{
    EVP_RAND *r = EVP_RAND_fetch(lc, AF_RAND_NAME, AF_PROPQ);
    EVP_RAND_CTX *c;

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    c = EVP_RAND_CTX_new(r, NULL);
    EVP_RAND_free(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(EVP_RAND_instantiate(c, 512, 0, NULL, 0, NULL), 0);
    ERR_clear_error();
    EVP_RAND_CTX_free(c);
}

/* A DRBG of the default provider seeded by ATTFRESH-RAND (our get_seed/nonce) outside any
 * OpenSSL-internal lock: works, and its seed came from the token. */
static void test_as_parent(void)
{
    EVP_RAND *ctr = EVP_RAND_fetch(lc, "CTR-DRBG", "provider=default");
    EVP_RAND_CTX *c;
    OSSL_PARAM p[2];
    unsigned char out[32];
    uint64_t before = hsm_calls(shared);

    CU_ASSERT_PTR_NOT_NULL_FATAL(ctr);
    c = EVP_RAND_CTX_new(ctr, shared);
    EVP_RAND_free(ctr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    p[0] = OSSL_PARAM_construct_utf8_string("cipher", "AES-256-CTR", 0);
    p[1] = OSSL_PARAM_construct_end();
    CU_ASSERT(EVP_RAND_instantiate(c, 256, 0, NULL, 0, p));
    CU_ASSERT(EVP_RAND_generate(c, out, sizeof(out), 256, 0, NULL, 0));
    CU_ASSERT(hsm_calls(shared) > before);
    EVP_RAND_CTX_free(c);
}

struct worker {
    int ok;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    unsigned char buf[32];
    int i;

    for (i = 0; i < NITER; i++)
        if (EVP_RAND_generate(shared, buf, sizeof(buf), 0, 0, NULL, 0))
            w->ok++;
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    uint64_t before = hsm_calls(shared);
    int i;

    memset(w, 0, sizeof(w));
    for (i = 0; i < NTHREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, work, &w[i]) == 0);
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(w[i].ok, NITER);
    }
    CU_ASSERT_EQUAL(hsm_calls(shared), before + (uint64_t)NTHREADS * NITER);
}

/* A forked child re-initialises the module on first use and draws from the token itself. */
static void test_fork(void)
{
    unsigned char a[16], b[16];
    int status = 0;
    pid_t pid;

    CU_ASSERT_FATAL(EVP_RAND_generate(shared, a, sizeof(a), 0, 0, NULL, 0));
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        uint64_t before = hsm_calls(shared);

        if (!EVP_RAND_generate(shared, b, sizeof(b), 0, 0, NULL, 0))
            _exit(1);
        if (hsm_calls(shared) != before + 1)
            _exit(2);
        _exit(memcmp(a, b, sizeof(a)) == 0 ? 3 : 0);
    }
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    CU_ASSERT(EVP_RAND_generate(shared, b, sizeof(b), 0, 0, NULL, 0));
}

static void test_primary_generator(void)
{
    char errpath[300];
    const char *conf = random_conf("primary", "random = " AF_RAND_NAME "\n"
                                              "properties = " AF_PROPQ);
    int rc;

    CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
    snprintf(errpath, sizeof(errpath), "%s/primary.err", tmpdir);
    rc = run_child("primary", conf, errpath);
    /* 0: RAND_bytes/RAND_priv_bytes from the HSM, from 4 threads, and a clean exit */
    CU_ASSERT_EQUAL(rc, 0);
}

static void test_seed_source_fails_cleanly(void)
{
    char errpath[300];
    const char *conf = random_conf("seed", "seed = " AF_RAND_NAME "\n"
                                           "seed_properties = " AF_PROPQ);
    int rc;

    CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
    snprintf(errpath, sizeof(errpath), "%s/seed.err", tmpdir);
    rc = run_child("seed", conf, errpath);
    CU_ASSERT_EQUAL(rc, 0); /* returned (no deadlock, no crash) and RAND_bytes failed */
}

AF_TEST_MAIN("rand", setup, teardown, {"fetch and generate", test_fetch_generate},
             {"strength limit", test_strength_limit}, {"parent of a DRBG", test_as_parent},
             {"threads", test_threads}, {"fork", test_fork},
             {"primary generator (openssl.cnf)", test_primary_generator},
             {"seed source fails cleanly", test_seed_source_fails_cleanly})
