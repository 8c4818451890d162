/* test_prov_config.c - the provider's openssl.cnf keys: every key with good and bad values,
 * unknown keys (in our parser and in a real config file), the PIN never shown, and the provider
 * itself refusing to load on a bad value or an unknown key. No token involved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/provider.h>

#include "module/config.h"
#include "module/prov_local.h"
#include "testutil.h"

int af_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx);

static char tmpdir[] = "/tmp/af-cfg-XXXXXX";

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

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_good_values(void)
{
    AF_PROV_CONFIG c;
    char err[256];

    af_config_init(&c);
    CU_ASSERT_EQUAL(c.debug_level, AF_LOG_ERROR);
    CU_ASSERT(
        af_config_set(&c, "pkcs11-module", "/usr/lib/softhsm/libsofthsm2.so", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "token", "my token", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "token", "pkcs11:token=my%20token;serial=1234", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "pin-source", "file:/etc/attfresh/pin", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "pin-source", "env:AF_PIN", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "pin-source", "prompt", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "debug-log", "stderr", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "debug-level", "trace", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "log-config", "yes", err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(c.token, "pkcs11:token=my%20token;serial=1234");
    CU_ASSERT_STRING_EQUAL(c.pin_source, "prompt");
    CU_ASSERT_EQUAL(c.debug_level, AF_LOG_TRACE);
    CU_ASSERT_EQUAL(c.log_config, 1);
    CU_ASSERT(af_config_finish(&c, err, sizeof(err)));
    af_config_clear(&c);
    CU_ASSERT_PTR_NULL(c.token);
}

/* Each bad value fails and the message names the key. */
static void expect_bad(const char *key, const char *value)
{
    AF_PROV_CONFIG c;
    char err[256], quoted[64];

    af_config_init(&c);
    err[0] = '\0';
    CU_ASSERT_EQUAL(af_config_set(&c, key, value, err, sizeof(err)), 0);
    snprintf(quoted, sizeof(quoted), "'%s'", key);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, quoted));
    af_config_clear(&c);
}

static void test_bad_values(void)
{
    expect_bad("debug-level", "loud");
    expect_bad("debug-level", "");
    expect_bad("log-config", "maybe");
    expect_bad("log-config", "1");
    expect_bad("pin-source", "pinfile");
    expect_bad("pin-source", "file:");
    expect_bad("pin-source", "env:1BAD");
    expect_bad("pin-source", "env:A-B");
    expect_bad("token", "a label that is much longer than thirty-two characters");
    expect_bad("token", "pkcs11:token=%zz");
    expect_bad("pkcs11-module", "");
    expect_bad("pin", "");
    expect_bad("tokn", "x");  /* unknown key */
    expect_bad("Token", "x"); /* keys are case-sensitive */
}

static void test_combination(void)
{
    AF_PROV_CONFIG c;
    char err[256];

    af_config_init(&c);
    CU_ASSERT(af_config_set(&c, "pin", "123456", err, sizeof(err)));
    CU_ASSERT(af_config_set(&c, "pin-source", "env:AF_PIN", err, sizeof(err)));
    CU_ASSERT_EQUAL(af_config_finish(&c, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'pin'"));
    CU_ASSERT_PTR_NULL(strstr(err, "123456"));
    af_config_clear(&c);
}

static void test_pin_masked(void)
{
    AF_PROV_CONFIG c;
    char err[256], *d;

    af_config_init(&c);
    CU_ASSERT(af_config_set(&c, "pin", "s3cr3t-PIN", err, sizeof(err)));
    d = af_config_describe(&c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_PTR_NULL(strstr(d, "s3cr3t-PIN"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "pin=****"));
    /* defaults are spelled out */
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "pkcs11-module=" AF_P11KIT_PROXY));
    CU_ASSERT_PTR_NOT_NULL(strstr(d, "debug-level=error"));
    OPENSSL_free(d);
    af_config_clear(&c);
}

static void test_known_keys(void)
{
    int i;

    for (i = 0; af_config_keys[i] != NULL; i++)
        CU_ASSERT(af_config_key_known(af_config_keys[i]));
    CU_ASSERT(af_config_key_known("module"));
    CU_ASSERT(af_config_key_known("activate"));
    CU_ASSERT(af_config_key_known("identity"));
    CU_ASSERT_FALSE(af_config_key_known("pin-sauce"));
    CU_ASSERT_FALSE(af_config_key_known(NULL));
}

static const char *conf_head = "openssl_conf = init\n"
                               "[init]\nproviders = provs\n"
                               "[provs]\ndefault = dflt\n%s = af\n"
                               "[dflt]\nactivate = 1\nwhatever = 1\n"
                               "[af]\nactivate = 1\n%s\n";

static const char *conf_with(const char *name, const char *provname, const char *lines)
{
    char text[2048];

    snprintf(text, sizeof(text), conf_head, provname, lines);
    return write_file(name, text);
}

static void test_check_file(void)
{
    char err[512];
    const char *p;

    p = conf_with("ok.cnf", "attfresh", "token = x\npin-source = env:X\nlog-config = no");
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT(af_config_check_file(p, "attfresh", err, sizeof(err)));

    p = conf_with("unk.cnf", "attfresh", "token = x\npin-sorce = env:X");
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT_EQUAL(af_config_check_file(p, "attfresh", err, sizeof(err)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'pin-sorce'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[af]"));
    /* another provider's section is none of our business */
    CU_ASSERT(af_config_check_file(p, "other", err, sizeof(err)));

    /* a section found through identity = attfresh */
    p = conf_with("ident.cnf", "hsm", "identity = attfresh\nbogus = 1");
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT_EQUAL(af_config_check_file(p, "attfresh", err, sizeof(err)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'bogus'"));

    /* no openssl_conf, or a missing file: nothing to check */
    p = write_file("plain.cnf", "[req]\nbogus = 1\n");
    CU_ASSERT(af_config_check_file(p, "attfresh", err, sizeof(err)));
    CU_ASSERT(af_config_check_file("/nonexistent/openssl.cnf", "attfresh", err, sizeof(err)));
}

/* Loads the linked-in provider from a config file into a fresh library context. OPENSSL_CONF
 * points at the same file, as it would for an application. */
static OSSL_LIB_CTX *load_from(const char *path, int *available)
{
    OSSL_LIB_CTX *lc = OSSL_LIB_CTX_new();

    if (lc == NULL)
        return NULL;
    setenv("OPENSSL_CONF", path, 1);
    OSSL_PROVIDER_add_builtin(lc, "attfresh", af_provider_init);
    (void)OSSL_LIB_CTX_load_config(lc, path);
    *available = OSSL_PROVIDER_available(lc, "attfresh");
    unsetenv("OPENSSL_CONF");
    return lc;
}

static void test_provider_load(void)
{
    OSSL_LIB_CTX *lc;
    OSSL_PROVIDER *prov;
    const AF_PROV_CONFIG *cfg;
    char lines[512], logpath[300];
    unsigned char *log;
    const char *p;
    int avail = -1;

    snprintf(logpath, sizeof(logpath), "%s/debug.log", tmpdir);
    snprintf(lines, sizeof(lines),
             "token = attfresh-test\npin = 99887766\ndebug-log = %s\ndebug-level = info\n"
             "log-config = yes\npkcs11-module = /nonexistent/module.so",
             logpath);
    p = conf_with("good.cnf", "attfresh", lines);
    lc = load_from(p, &avail);
    CU_ASSERT_FATAL(lc != NULL);
    /* loads although the module path does not exist: nothing is opened at load time */
    CU_ASSERT_EQUAL(avail, 1);
    prov = OSSL_PROVIDER_load(lc, "attfresh");
    CU_ASSERT_FATAL(prov != NULL);
    cfg = af_prov_config(OSSL_PROVIDER_get0_provider_ctx(prov));
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->token, "attfresh-test");
    CU_ASSERT_STRING_EQUAL(cfg->pkcs11_module, "/nonexistent/module.so");
    CU_ASSERT_EQUAL(cfg->debug_level, AF_LOG_INFO);
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(lc);
    /* the effective configuration was logged, the PIN masked, the literal PIN warned about */
    log = af_test_read_file(logpath, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)log, "token=attfresh-test"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)log, "pin=****"));
    CU_ASSERT_PTR_NOT_NULL(strstr((char *)log, "warning: literal 'pin'"));
    CU_ASSERT_PTR_NULL(strstr((char *)log, "99887766"));
    free(log);

    p = conf_with("bad.cnf", "attfresh", "debug-level = loud");
    lc = load_from(p, &avail);
    CU_ASSERT_FATAL(lc != NULL);
    CU_ASSERT_EQUAL(avail, 0);
    OSSL_LIB_CTX_free(lc);

    p = conf_with("unknown.cnf", "attfresh", "tokn = attfresh-test");
    lc = load_from(p, &avail);
    CU_ASSERT_FATAL(lc != NULL);
    CU_ASSERT_EQUAL(avail, 0);
    OSSL_LIB_CTX_free(lc);
}

AF_TEST_MAIN("prov_config", setup, teardown, {"good values", test_good_values},
             {"bad values", test_bad_values}, {"pin with pin-source", test_combination},
             {"PIN masked", test_pin_masked}, {"known keys", test_known_keys},
             {"config file check", test_check_file}, {"provider load", test_provider_load})
