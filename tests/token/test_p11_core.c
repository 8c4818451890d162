/* test_p11_core.c - the PKCS#11 layer against the fixture's SoftHSM2 token through the p11-kit
 * proxy: token matching, login with file and env PIN sources, a wrong PIN reported as
 * CKR_PIN_INCORRECT, session pool reuse under threads, a forked child re-initialising, and a
 * clean exit with sessions still open. The provider is linked in and loaded from a config file
 * into its own library context. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "module/prov.h"
#include "p11/p11.h"
#include "testutil.h"

int af_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx);

#define NTHREADS 8
#define SOFTHSM2_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define NITER 200

static char tmpdir[] = "/tmp/af-p11-XXXXXX";

/* instance A: pin-source file:, loaded once for the whole suite */
static OSSL_LIB_CTX *lc_a;
static OSSL_PROVIDER *prov_a;
static AF_P11 *p11_a;

static int setup(void)
{
    return mkdtemp(tmpdir) == NULL;
}

static int teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) != 0;
}

/* A provider instance configured with extra lines, in a new library context (or in the default
 * one when default_ctx is set: then OpenSSL's atexit cleanup tears it down). */
static AF_P11 *load_instance_in(const char *name, const char *lines, OSSL_LIB_CTX **lc_out,
                                OSSL_PROVIDER **prov_out, int default_ctx)
{
    char path[256];
    FILE *f;
    OSSL_LIB_CTX *lc;
    OSSL_PROVIDER *prov;
    const char *proxy = getenv("AF_P11KIT_PROXY");

    snprintf(path, sizeof(path), "%s/%s.cnf", tmpdir, name);
    if ((f = fopen(path, "w")) == NULL)
        return NULL;
    fprintf(f,
            "openssl_conf = init\n[init]\nproviders = provs\n[provs]\nattfresh = af\n"
            "[af]\nactivate = 1\ntoken = %s\n%s%s\n%s\n",
            af_test_token_label(), proxy != NULL ? "pkcs11-module = " : "",
            proxy != NULL ? proxy : "", lines);
    fclose(f);
    if (default_ctx)
        lc = NULL;
    else if ((lc = OSSL_LIB_CTX_new()) == NULL)
        return NULL;
    OSSL_PROVIDER_add_builtin(lc, "attfresh", af_provider_init);
    if (!OSSL_LIB_CTX_load_config(lc, path) ||
        (prov = OSSL_PROVIDER_load(lc, "attfresh")) == NULL) {
        OSSL_LIB_CTX_free(lc);
        return NULL;
    }
    *lc_out = lc;
    *prov_out = prov;
    return af_prov_p11(OSSL_PROVIDER_get0_provider_ctx(prov));
}

static AF_P11 *load_instance(const char *name, const char *lines, OSSL_LIB_CTX **lc_out,
                             OSSL_PROVIDER **prov_out)
{
    return load_instance_in(name, lines, lc_out, prov_out, 0);
}

static void unload_instance(OSSL_LIB_CTX *lc, OSSL_PROVIDER *prov)
{
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(lc);
}

/* The data text of the last error, or "". */
static const char *last_error_data(void)
{
    static char buf[512];
    const char *data = NULL;
    int flags = 0;

    buf[0] = '\0';
    if (ERR_peek_last_error_data(&data, &flags) != 0 && data != NULL)
        snprintf(buf, sizeof(buf), "%s", data);
    return buf;
}

static int session_state(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_STATE *state)
{
    CK_SESSION_INFO si;

    if (af_p11_fl(af_p11_token_owner(tok))->C_GetSessionInfo(s, &si) != CKR_OK)
        return 0;
    *state = si.state;
    return 1;
}

static void test_load_lazily(void)
{
    char lines[512];

    snprintf(lines, sizeof(lines), "pin-source = file:%s/pin", af_test_token_dir());
    p11_a = load_instance("a", lines, &lc_a, &prov_a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p11_a);
    /* nothing loaded yet: the function list appears on first use */
    CU_ASSERT_PTR_NULL(af_p11_fl(p11_a));
    CU_ASSERT(af_p11_ready(p11_a));
    CU_ASSERT_PTR_NOT_NULL(af_p11_fl(p11_a));
}

static void test_token_match(void)
{
    AF_P11_TOKEN *tok = af_p11_token_next(p11_a, NULL, NULL);
    CK_MECHANISM_INFO info;
    P11KitUri *uri = p11_kit_uri_new();
    char text[128];

    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT_PTR_NOT_NULL_FATAL(uri);
    CU_ASSERT_EQUAL(strncmp((const char *)af_p11_token_info(tok)->label, af_test_token_label(),
                            strlen(af_test_token_label())),
                    0);
    CU_ASSERT_PTR_EQUAL(af_p11_token_owner(tok), p11_a);
    /* the configured token restricts the list to one */
    CU_ASSERT_PTR_NULL(af_p11_token_next(p11_a, NULL, tok));

    snprintf(text, sizeof(text), "pkcs11:token=%s", af_test_token_label());
    CU_ASSERT_EQUAL_FATAL(p11_kit_uri_parse(text, P11_KIT_URI_FOR_TOKEN, uri), P11_KIT_URI_OK);
    CU_ASSERT_PTR_EQUAL(af_p11_token_next(p11_a, uri, NULL), tok);
    CU_ASSERT_EQUAL_FATAL(
        p11_kit_uri_parse("pkcs11:manufacturer=SoftHSM%20project", P11_KIT_URI_FOR_TOKEN, uri),
        P11_KIT_URI_OK);
    CU_ASSERT_PTR_EQUAL(af_p11_token_next(p11_a, uri, NULL), tok);
    CU_ASSERT_EQUAL_FATAL(
        p11_kit_uri_parse("pkcs11:token=no-such-token", P11_KIT_URI_FOR_TOKEN, uri),
        P11_KIT_URI_OK);
    CU_ASSERT_PTR_NULL(af_p11_token_next(p11_a, uri, NULL));
    p11_kit_uri_free(uri);

    CU_ASSERT(af_p11_token_mech(tok, CKM_ECDSA, NULL));
    CU_ASSERT_FALSE(af_p11_token_mech(tok, 0x7ffffff0UL, NULL));
    /* the info is read on demand and is the token's: ECDSA signs, over P-256 at least */
    memset(&info, 0, sizeof(info));
    CU_ASSERT(af_p11_token_mech(tok, CKM_ECDSA, &info));
    CU_ASSERT(info.flags & CKF_SIGN);
    CU_ASSERT(info.ulMinKeySize <= 256 && info.ulMaxKeySize >= 256);
    CU_ASSERT_NOT_EQUAL(info.flags, ~(CK_FLAGS)0);
}

static void test_object_uri(void)
{
    AF_P11_TOKEN *tok = af_p11_token_next(p11_a, NULL, NULL);
    static const unsigned char id[] = {0x01, 0xab};
    char *u;

    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    u = af_p11_object_uri(tok, "my key", id, sizeof(id), CKO_PRIVATE_KEY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    CU_ASSERT_EQUAL(strncmp(u, "pkcs11:", 7), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(u, "token=attfresh-test"));
    CU_ASSERT_PTR_NOT_NULL(strstr(u, "manufacturer=SoftHSM%20project"));
    CU_ASSERT_PTR_NOT_NULL(strstr(u, "object=my%20key"));
    CU_ASSERT(strstr(u, "id=%01%AB") != NULL || strstr(u, "id=%01%ab") != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(u, "type=private"));
    CU_ASSERT_PTR_NULL(strstr(u, "pin"));
    OPENSSL_free(u);
}

/* Must run before any successful login in this process: SoftHSM2 keeps one login state per
 * process, and C_Login then answers CKR_USER_ALREADY_LOGGED_IN whatever the PIN. */
static void test_wrong_pin(void)
{
    AF_P11_TOKEN *tok = af_p11_token_next(p11_a, NULL, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    ERR_clear_error();
    CU_ASSERT_EQUAL(af_p11_token_login(tok, "not-the-pin", NULL, NULL, NULL), 0);
    CU_ASSERT_EQUAL(ERR_GET_REASON(ERR_peek_last_error()), AF_PR_LOGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_error_data(), "(CKR_PIN_INCORRECT)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_error_data(), af_test_token_label()));
    CU_ASSERT_PTR_NULL(strstr(last_error_data(), "not-the-pin"));
    ERR_clear_error();
    /* with what needed the login: the line names it (the caller passes the masked URI) */
    CU_ASSERT_EQUAL(af_p11_token_login_for(tok, "pkcs11:object=k;pin-value=***", "not-the-pin",
                                           NULL, NULL, NULL),
                    0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(last_error_data(), "for pkcs11:object=k;pin-value=*** failed: wrong PIN"));
    CU_ASSERT_PTR_NULL(strstr(last_error_data(), "not-the-pin"));
    ERR_clear_error();
}

static void test_login_file(void)
{
    AF_P11_TOKEN *tok = af_p11_token_next(p11_a, NULL, NULL);
    CK_SESSION_HANDLE s;
    CK_STATE st = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT(af_p11_token_login(tok, NULL, NULL, NULL, NULL));
    CU_ASSERT(af_p11_token_login(tok, NULL, NULL, NULL, NULL)); /* once: a no-op now */
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s));
    CU_ASSERT(session_state(tok, s, &st));
    CU_ASSERT_EQUAL(st, CKS_RW_USER_FUNCTIONS);
    /* log out behind the provider's back, so the env test below logs in for real */
    CU_ASSERT_EQUAL(af_p11_fl(p11_a)->C_Logout(s), CKR_OK);
    af_p11_session_put(tok, s, 1);
}

static void test_login_env(void)
{
    OSSL_LIB_CTX *lc;
    OSSL_PROVIDER *prov;
    AF_P11 *p11;
    AF_P11_TOKEN *tok;
    CK_SESSION_HANDLE s;
    CK_STATE st = 0;

    p11 = load_instance("env", "pin-source = env:AF_TEST_PIN_ENV", &lc, &prov);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p11);
    tok = af_p11_token_next(p11, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);

    unsetenv("AF_TEST_PIN_ENV");
    ERR_clear_error();
    CU_ASSERT_EQUAL(af_p11_token_login(tok, NULL, NULL, NULL, NULL), 0);
    CU_ASSERT_EQUAL(ERR_GET_REASON(ERR_peek_last_error()), AF_PR_PIN_SOURCE);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_error_data(), "AF_TEST_PIN_ENV"));

    setenv("AF_TEST_PIN_ENV", "wrong-pin", 1);
    ERR_clear_error();
    CU_ASSERT_EQUAL(af_p11_token_login(tok, NULL, NULL, NULL, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_error_data(), "(CKR_PIN_INCORRECT)"));

    setenv("AF_TEST_PIN_ENV", af_test_token_pin(), 1);
    ERR_clear_error();
    CU_ASSERT(af_p11_token_login(tok, NULL, NULL, NULL, NULL));
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s));
    CU_ASSERT(session_state(tok, s, &st));
    CU_ASSERT_EQUAL(st, CKS_RW_USER_FUNCTIONS);
    /* logged out again for the passphrase-callback test */
    CU_ASSERT_EQUAL(af_p11_fl(p11)->C_Logout(s), CKR_OK);
    af_p11_session_put(tok, s, 1);
    unsetenv("AF_TEST_PIN_ENV");
    unload_instance(lc, prov);
}

struct pw_arg {
    int calls;
    char info[128];
};

static int pw_cb(char *pass, size_t pass_size, size_t *pass_len, const OSSL_PARAM params[],
                 void *arg)
{
    struct pw_arg *a = arg;
    const char *pin = af_test_token_pin();
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PASSPHRASE_PARAM_INFO);

    a->calls++;
    if (p != NULL && p->data_type == OSSL_PARAM_UTF8_STRING)
        snprintf(a->info, sizeof(a->info), "%s", (const char *)p->data);
    if (pin == NULL || strlen(pin) > pass_size)
        return 0;
    memcpy(pass, pin, strlen(pin));
    *pass_len = strlen(pin);
    return 1;
}

/* pin-source = prompt asks the application's passphrase callback, with a prompt naming the
 * token; and with no PIN source at all the callback is the last resort. */
static void test_login_prompt(void)
{
    OSSL_LIB_CTX *lc;
    OSSL_PROVIDER *prov;
    AF_P11 *p11;
    AF_P11_TOKEN *tok;
    CK_SESSION_HANDLE s;
    CK_STATE st = 0;
    struct pw_arg arg;

    memset(&arg, 0, sizeof(arg));
    p11 = load_instance("prompt", "pin-source = prompt", &lc, &prov);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p11);
    tok = af_p11_token_next(p11, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT(af_p11_token_login(tok, NULL, NULL, pw_cb, &arg));
    CU_ASSERT_EQUAL(arg.calls, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(arg.info, af_test_token_label()));
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s));
    CU_ASSERT(session_state(tok, s, &st));
    CU_ASSERT_EQUAL(st, CKS_RW_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(af_p11_fl(p11)->C_Logout(s), CKR_OK);
    af_p11_session_put(tok, s, 1);
    unload_instance(lc, prov);

    memset(&arg, 0, sizeof(arg));
    p11 = load_instance("nopin", "", &lc, &prov);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p11);
    tok = af_p11_token_next(p11, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    ERR_clear_error();
    /* neither a source nor a callback: a clear error, no prompt */
    CU_ASSERT_EQUAL(af_p11_token_login(tok, NULL, NULL, NULL, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_error_data(), "needs a PIN"));
    ERR_clear_error();
    CU_ASSERT(af_p11_token_login(tok, NULL, NULL, pw_cb, &arg));
    CU_ASSERT_EQUAL(arg.calls, 1);
    unload_instance(lc, prov);
}

static void test_pool_reuse(void)
{
    AF_P11_TOKEN *tok = af_p11_token_next(p11_a, NULL, NULL);
    CK_SESSION_HANDLE s1, s2, s3;
    CK_SESSION_INFO si;

    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s1));
    af_p11_session_put(tok, s1, 1);
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s2));
    CU_ASSERT_EQUAL(s2, s1);        /* the idle session came back, none opened */
    af_p11_session_put(tok, s2, 0); /* state unknown: closed */
    CU_ASSERT_EQUAL(af_p11_fl(p11_a)->C_GetSessionInfo(s2, &si), CKR_SESSION_HANDLE_INVALID);
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s3));
    CU_ASSERT_EQUAL(af_p11_fl(p11_a)->C_GetSessionInfo(s3, &si), CKR_OK);
    af_p11_session_put(tok, s3, 1);
}

/* af_p11_find, af_p11_attr, af_p11_attr_bool on a session data object made for the test. */
static void test_find_and_attributes(void)
{
    AF_P11_TOKEN *tok = af_p11_token_next(p11_a, NULL, NULL);
    CK_FUNCTION_LIST *fl = af_p11_fl(p11_a);
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL no = CK_FALSE;
    char label[] = "af-test-data";
    unsigned char value[] = {1, 2, 3};
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_TOKEN, &no, sizeof(no)},
                           {CKA_LABEL, label, sizeof(label) - 1},
                           {CKA_VALUE, value, sizeof(value)}};
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE, found[4];
    CK_ULONG nfound = 0, len = 0;
    CK_SESSION_HANDLE s;
    unsigned char *v = NULL;
    CK_RV rv = CKR_OK;
    int b = -2;

    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s));
    CU_ASSERT_EQUAL_FATAL(fl->C_CreateObject(s, tmpl, 4, &obj), CKR_OK);

    CU_ASSERT(af_p11_find(tok, s, tmpl + 2, 1, found, 4, &nfound));
    CU_ASSERT_EQUAL(nfound, 1);
    CU_ASSERT_EQUAL(found[0], obj);
    CU_ASSERT(af_p11_find(tok, s, tmpl + 2, 1, NULL, 0, &nfound)); /* max 0: none stored */
    CU_ASSERT_EQUAL(nfound, 0);

    CU_ASSERT(af_p11_attr(tok, s, obj, CKA_LABEL, &v, &len, &rv));
    CU_ASSERT_EQUAL(len, sizeof(label) - 1);
    CU_ASSERT(v != NULL && memcmp(v, label, len) == 0);
    OPENSSL_free(v);
    CU_ASSERT(af_p11_attr(tok, s, obj, CKA_VALUE, &v, &len, &rv));
    CU_ASSERT(len == sizeof(value) && v != NULL && memcmp(v, value, len) == 0);
    OPENSSL_free(v);
    /* an attribute data objects do not have: 0 with the CK_RV, no error raised */
    ERR_clear_error();
    CU_ASSERT_EQUAL(af_p11_attr(tok, s, obj, CKA_MODULUS, &v, &len, &rv), 0);
    CU_ASSERT_EQUAL(rv, CKR_ATTRIBUTE_TYPE_INVALID);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);

    CU_ASSERT(af_p11_attr_bool(tok, s, obj, CKA_TOKEN, &b));
    CU_ASSERT_EQUAL(b, 0);
    CU_ASSERT(af_p11_attr_bool(tok, s, obj, CKA_SENSITIVE, &b));
    CU_ASSERT_EQUAL(b, -1);

    CU_ASSERT_EQUAL(fl->C_DestroyObject(s, obj), CKR_OK);
    CU_ASSERT(af_p11_find(tok, s, tmpl + 2, 1, found, 4, &nfound));
    CU_ASSERT_EQUAL(nfound, 0);
    af_p11_session_put(tok, s, 1);
}

struct worker {
    AF_P11_TOKEN *tok;
    CK_SESSION_HANDLE seen[NITER];
    int ok;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    unsigned char buf[32];
    int i;

    w->ok = 0;
    for (i = 0; i < NITER; i++) {
        CK_SESSION_HANDLE s;

        if (!af_p11_session_get(w->tok, &s))
            return NULL;
        w->seen[i] = s;
        if (af_p11_fl(af_p11_token_owner(w->tok))->C_GenerateRandom(s, buf, sizeof(buf)) !=
            CKR_OK) {
            af_p11_session_put(w->tok, s, 0);
            return NULL;
        }
        af_p11_session_put(w->tok, s, 1);
        w->ok++;
    }
    return NULL;
}

static void test_pool_threads(void)
{
    static struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    CK_SESSION_HANDLE distinct[NTHREADS * NITER];
    size_t ndistinct = 0, k;
    int i, j;

    for (i = 0; i < NTHREADS; i++) {
        w[i].tok = af_p11_token_next(p11_a, NULL, NULL);
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, work, &w[i]) == 0);
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < NTHREADS; i++) {
        CU_ASSERT_EQUAL(w[i].ok, NITER);
        for (j = 0; j < NITER; j++) {
            for (k = 0; k < ndistinct && distinct[k] != w[i].seen[j]; k++)
                ;
            if (k == ndistinct)
                distinct[ndistinct++] = w[i].seen[j];
        }
    }
    /* 1600 operations, but never more sessions than threads using them at once (plus the one
     * idle session left by the previous test): sessions are reused, not opened per call. */
    CU_ASSERT(ndistinct >= 1);
    CU_ASSERT(ndistinct <= NTHREADS + 1);
}

static void test_fork(void)
{
    AF_P11_TOKEN *tok = af_p11_token_next(p11_a, NULL, NULL);
    unsigned int gen = af_p11_generation(p11_a);
    CK_SESSION_HANDLE s;
    unsigned char buf[16];
    int status = 0;
    pid_t pid;

    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT_FATAL(af_p11_token_login(tok, NULL, NULL, NULL, NULL));
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s));
    af_p11_session_put(tok, s, 1);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int code = 0;
        CK_SESSION_HANDLE cs;
        CK_STATE st = 0;

        if (af_p11_generation(p11_a) == gen)
            code |= 1;
        if (!af_p11_session_get(tok, &cs))
            _exit(code | 2);
        if (af_p11_fl(p11_a)->C_GenerateRandom(cs, buf, sizeof(buf)) != CKR_OK)
            code |= 4;
        /* login again in the child, then the session is a user session */
        if (!af_p11_token_login(tok, NULL, NULL, NULL, NULL))
            code |= 8;
        if (!session_state(tok, cs, &st) || st != CKS_RW_USER_FUNCTIONS)
            code |= 16;
        af_p11_session_put(tok, cs, 1);
        _exit(code);
    }
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    /* the parent is unaffected */
    CU_ASSERT_EQUAL(af_p11_generation(p11_a), gen);
    CU_ASSERT_FATAL(af_p11_session_get(tok, &s));
    CU_ASSERT_EQUAL(af_p11_fl(p11_a)->C_GenerateRandom(s, buf, sizeof(buf)), CKR_OK);
    af_p11_session_put(tok, s, 1);
}

/* A process that exits with the provider loaded in the default context, logged in and with
 * sessions open: OpenSSL's atexit cleanup tears the provider down and the exit must be clean.
 * (The SoftHSM2 crash in C_CloseSession/C_Finalize itself shows with the module loaded by
 * openssl.cnf in the `openssl` command: tests/cli/test_openssl_rand.sh.) */
static void exit_clean(const char *module)
{
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        OSSL_LIB_CTX *lc;
        OSSL_PROVIDER *prov;
        AF_P11 *p11;
        AF_P11_TOKEN *tok;
        CK_SESSION_HANDLE s;
        char lines[512];

        snprintf(lines, sizeof(lines), "pin-source = file:%s/pin%s%s", af_test_token_dir(),
                 module != NULL ? "\npkcs11-module = " : "", module != NULL ? module : "");
        p11 = load_instance_in("exit", lines, &lc, &prov, 1);
        if (p11 == NULL || (tok = af_p11_token_next(p11, NULL, NULL)) == NULL ||
            !af_p11_token_login(tok, NULL, NULL, NULL, NULL) || !af_p11_session_get(tok, &s))
            _exit(3);
        af_p11_session_put(tok, s, 1);
        exit(0); /* not _exit: run the atexit handlers, leave lc and prov to OpenSSL */
    }
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}

static void test_exit_clean(void)
{
    exit_clean(NULL);
    if (access(SOFTHSM2_MODULE, R_OK) == 0)
        exit_clean(SOFTHSM2_MODULE);
}

static void test_unload(void)
{
    unload_instance(lc_a, prov_a);
    lc_a = NULL;
    prov_a = NULL;
    CU_ASSERT_PTR_NULL(lc_a);
}

AF_TEST_MAIN("p11_core", setup, teardown, {"load lazily", test_load_lazily},
             {"token match", test_token_match}, {"object URI", test_object_uri},
             {"wrong PIN", test_wrong_pin}, {"login with file: PIN", test_login_file},
             {"login with env: PIN", test_login_env},
             {"login with the passphrase callback", test_login_prompt},
             {"find and attributes", test_find_and_attributes}, {"pool reuse", test_pool_reuse},
             {"pool under threads", test_pool_threads}, {"fork", test_fork},
             {"clean exit", test_exit_clean}, {"unload", test_unload})
