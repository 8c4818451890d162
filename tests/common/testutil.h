/* testutil.h - what every CUnit test program shares: a main() that runs the listed tests and
 * returns non-zero on any failure, file and hex helpers, and the token fixture's paths. */
#ifndef AF_TESTUTIL_H
#define AF_TESTUTIL_H

#include <stddef.h>

#include <CUnit/Basic.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} af_test;

/* Runs tests[] (terminated by {NULL, NULL}) as one suite; exit code 0 only when all pass and at
 * least one assertion ran. setup/teardown may be NULL. */
int af_test_run(const char *suite, const af_test *tests, int (*setup)(void), int (*teardown)(void));

#define AF_TEST_MAIN(suite, setup, teardown, ...)                                                  \
    int main(void)                                                                                 \
    {                                                                                              \
        static const af_test tests_[] = {__VA_ARGS__, {NULL, NULL}};                               \
        return af_test_run((suite), tests_, (setup), (teardown));                                  \
    }

/* Reads a whole file (NUL-terminated for convenience); NULL on error. free() the result. */
unsigned char *af_test_read_file(const char *path, size_t *len);
/* Path under the source tree ($AF_TEST_SRC or the compiled-in fallback); static buffer. */
const char *af_test_src_path(const char *rel);
/* Decodes hex (spaces and newlines ignored) into a new buffer; NULL on error. free() it. */
unsigned char *af_test_unhex(const char *hex, size_t *len);

/* dir/name in one of 4 rotating static buffers (so a few can be used in one call). */
const char *af_test_path(const char *dir, const char *name);
/* An X.509 v3 certificate for key with subject CN=cn, valid from a minute ago for a day, signed
 * (SHA-256) by issuer_key under issuer (NULL: self-signed by issuer_key), with the extensions of
 * exts (NULL-terminated name, value pairs as in openssl.cnf, e.g. "keyUsage", "critical,..."). NULL
 * with the OpenSSL errors printed. */
X509 *af_test_make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                        const char *const *exts);
/* A TLS server identity for 127.0.0.1 written as PEM to cert_path and key_path: a fresh P-256 key
 * and a self-signed certificate with CA:TRUE (so the certificate is its own CA file) and
 * subjectAltName IP:127.0.0.1. Returns 1/0. */
int af_test_write_tls_identity(const char *cert_path, const char *key_path);

/* Token fixture (token and cli tiers): directory, token label, user PIN (static buffer). */
const char *af_test_token_dir(void);
const char *af_test_token_label(void);
const char *af_test_token_pin(void);
/* Path of the fixture's openssl.cnf that loads attfresh.so. */
const char *af_test_openssl_cnf(void);

#endif
