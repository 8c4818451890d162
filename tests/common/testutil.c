/* testutil.c - the CUnit runner and small helpers shared by the test programs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "testutil.h"

int af_test_run(const char *suite, const af_test *tests, int (*setup)(void), int (*teardown)(void))
{
    CU_pSuite s;
    unsigned int failures, asserts;
    const af_test *t;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite(suite, setup, teardown);
    if (s == NULL)
        return 2;
    for (t = tests; t->name != NULL; t++)
        if (CU_add_test(s, t->name, t->fn) == NULL)
            return 2;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed() +
               CU_get_number_of_tests_failed();
    asserts = CU_get_number_of_asserts();
    CU_cleanup_registry();
    if (asserts == 0) {
        fprintf(stderr, "%s: no assertion ran\n", suite);
        return 1;
    }
    return failures == 0 ? 0 : 1;
}

unsigned char *af_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto done;
    buf = malloc((size_t)n + 1);
    if (buf == NULL)
        goto done;
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
        goto done;
    }
    buf[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
done:
    fclose(f);
    return buf;
}

const char *af_test_src_path(const char *rel)
{
    static char buf[4096];
    const char *src = getenv("AF_TEST_SRC");

    snprintf(buf, sizeof(buf), "%s/%s", src != NULL ? src : ".", rel);
    return buf;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

unsigned char *af_test_unhex(const char *hex, size_t *len)
{
    size_t n = 0, cap = strlen(hex) / 2 + 1;
    unsigned char *out = malloc(cap);
    int hi = -1;

    if (out == NULL)
        return NULL;
    for (; *hex != '\0'; hex++) {
        int v;

        if (*hex == ' ' || *hex == '\n' || *hex == '\t' || *hex == ':')
            continue;
        if ((v = hexval((unsigned char)*hex)) < 0) {
            free(out);
            return NULL;
        }
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) {
        free(out);
        return NULL;
    }
    *len = n;
    return out;
}

const char *af_test_token_dir(void)
{
    const char *d = getenv("AF_TEST_TOKEN_DIR");

    return d != NULL ? d : "testtoken";
}

const char *af_test_token_label(void)
{
    const char *l = getenv("AF_TEST_TOKEN_LABEL");

    return l != NULL ? l : "attfresh-test";
}

const char *af_test_token_pin(void)
{
    static char pin[128];
    char path[4096];
    unsigned char *buf;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/pin", af_test_token_dir());
    buf = af_test_read_file(path, &n);
    if (buf == NULL)
        return NULL;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n >= sizeof(pin))
        n = sizeof(pin) - 1;
    memcpy(pin, buf, n);
    pin[n] = '\0';
    free(buf);
    return pin;
}

const char *af_test_openssl_cnf(void)
{
    static char path[4096];

    snprintf(path, sizeof(path), "%s/openssl.cnf", af_test_token_dir());
    return path;
}

const char *af_test_path(const char *dir, const char *name)
{
    static char buf[4][512];
    static int i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

X509 *af_test_make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                        const char *const *exts)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    int ok;

    ok = x != NULL && n != NULL && X509_set_version(x, 2) &&
         ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(getpid() & 0xffff) + 1) &&
         X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
         X509_set_subject_name(x, n) &&
         X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n) &&
         X509_gmtime_adj(X509_getm_notBefore(x), -60) &&
         X509_gmtime_adj(X509_getm_notAfter(x), 86400) && X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    for (; ok && exts != NULL && exts[0] != NULL; exts += 2) {
        e = X509V3_EXT_nconf(NULL, &ctx, exts[0], exts[1]);
        ok = e != NULL && X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    ok = ok && X509_sign(x, issuer_key, EVP_sha256()) > 0;
    X509_NAME_free(n);
    if (!ok) {
        ERR_print_errors_fp(stderr);
        X509_free(x);
        return NULL;
    }
    return x;
}

int af_test_write_tls_identity(const char *cert_path, const char *key_path)
{
    static const char *const exts[] = {"basicConstraints", "critical,CA:TRUE", "subjectAltName",
                                       "IP:127.0.0.1", NULL};
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = key != NULL ? af_test_make_cert("127.0.0.1", key, NULL, key, exts) : NULL;
    FILE *f = NULL;
    int ok = 0;

    if (x == NULL || (f = fopen(cert_path, "w")) == NULL || !PEM_write_X509(f, x))
        goto done;
    fclose(f);
    if ((f = fopen(key_path, "w")) == NULL ||
        !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
        goto done;
    ok = 1;
done:
    if (f != NULL)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}
