/* ev_load.c - keys and certificates by URI or path through OSSL_STORE, so pkcs11: URIs (any
 * provider with a store for the scheme) and PEM/DER files are the same to every caller. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/store.h>

#include "attfresh/err.h"
#include "evidence/ev_local.h"

/* Visits the objects at uri of type want until take() keeps one (returns 1) or fails (-1). */
static int store_each(const char *uri, int want, OSSL_LIB_CTX *libctx, const char *propq,
                      int (*take)(OSSL_STORE_INFO *info, void *arg), void *arg)
{
    OSSL_STORE_CTX *st;
    int r = 0;

    st = OSSL_STORE_open_ex(uri, libctx, propq, NULL, NULL, NULL, NULL, NULL);
    if (st == NULL)
        return -1;
    if (want != 0)
        OSSL_STORE_expect(st, want);
    while (r == 0 && !OSSL_STORE_eof(st)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(st);

        if (info == NULL) {
            if (OSSL_STORE_error(st))
                break;
            continue;
        }
        r = take(info, arg);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    return r;
}

typedef struct {
    int want_private;
    EVP_PKEY *key;
} key_arg;

static int take_key(OSSL_STORE_INFO *info, void *arg)
{
    key_arg *ka = arg;
    int t = OSSL_STORE_INFO_get_type(info);

    if (t == OSSL_STORE_INFO_PKEY)
        ka->key = OSSL_STORE_INFO_get1_PKEY(info);
    else if (!ka->want_private && t == OSSL_STORE_INFO_PUBKEY)
        ka->key = OSSL_STORE_INFO_get1_PUBKEY(info);
    else if (!ka->want_private && t == OSSL_STORE_INFO_CERT) {
        EVP_PKEY *k = X509_get0_pubkey(OSSL_STORE_INFO_get0_CERT(info));

        if (k != NULL && EVP_PKEY_up_ref(k))
            ka->key = k;
    }
    return ka->key != NULL ? 1 : 0;
}

EVP_PKEY *af_load_key(const char *uri, int want_private, OSSL_LIB_CTX *libctx, const char *propq)
{
    key_arg ka = {want_private, NULL};
    int r;

    if (uri == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no key given");
        return NULL;
    }
    r = store_each(uri, want_private ? OSSL_STORE_INFO_PKEY : 0, libctx, propq, take_key, &ka);
    if (ka.key == NULL) {
        char why[512];

        if (r < 0 || ERR_peek_error() != 0) {
            af_err_line(why, sizeof(why));
            AF_ERR(AF_R_IO, "cannot load %s key from %s: %s", want_private ? "a private" : "a", uri,
                   why);
        } else {
            AF_ERR(AF_R_IO, "no %s key found at %s", want_private ? "private" : "public", uri);
        }
    }
    return ka.key;
}

typedef struct {
    STACK_OF(X509) * certs;
    int first_only;
} cert_arg;

static int take_cert(OSSL_STORE_INFO *info, void *arg)
{
    cert_arg *ca = arg;
    X509 *x;

    if (OSSL_STORE_INFO_get_type(info) != OSSL_STORE_INFO_CERT)
        return 0;
    if ((x = OSSL_STORE_INFO_get1_CERT(info)) == NULL || !sk_X509_push(ca->certs, x)) {
        X509_free(x);
        return -1;
    }
    if (sk_X509_num(ca->certs) > AF_BUNDLE_MAX_CERTS * 4)
        return -1;
    return ca->first_only ? 1 : 0;
}

static STACK_OF(X509) *
    load_certs(const char *uri, int first_only, OSSL_LIB_CTX *libctx, const char *propq)
{
    cert_arg ca = {NULL, first_only};
    int r;

    if (uri == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no certificate file given");
        return NULL;
    }
    if ((ca.certs = sk_X509_new_null()) == NULL) {
        AF_ERR(AF_R_MALLOC, "certificates");
        return NULL;
    }
    r = store_each(uri, OSSL_STORE_INFO_CERT, libctx, propq, take_cert, &ca);
    if (r < 0 || sk_X509_num(ca.certs) == 0) {
        char why[512] = "no certificate in it";

        if (ERR_peek_error() != 0)
            af_err_line(why, sizeof(why));
        AF_ERR(AF_R_IO, "cannot load certificates from %s: %s", uri, why);
        sk_X509_pop_free(ca.certs, X509_free);
        return NULL;
    }
    return ca.certs;
}

X509 *af_load_cert(const char *uri, OSSL_LIB_CTX *libctx, const char *propq)
{
    STACK_OF(X509) *sk = load_certs(uri, 1, libctx, propq);
    X509 *x;

    if (sk == NULL)
        return NULL;
    x = sk_X509_shift(sk);
    sk_X509_pop_free(sk, X509_free);
    return x;
}

STACK_OF(X509) * af_load_certs(const char *path, OSSL_LIB_CTX *libctx, const char *propq)
{
    return load_certs(path, 0, libctx, propq);
}
