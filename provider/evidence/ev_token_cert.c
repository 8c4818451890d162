/* ev_token_cert.c - a key's certificate written into its token next to it. The library never
 * opens PKCS#11 itself: it hands the certificate to the key's provider (attfresh.so) as a key
 * param, and the provider writes the object. */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "attfresh/err.h"
#include "attfresh/params.h"
#include "evidence/ev_local.h"

/* A token key of attfresh.so accepts the param and knows its pkcs11: URI; a key of another
 * provider (a file key, or a public key imported into attfresh's keymgmt) does not. */
static int token_key(EVP_PKEY *key)
{
    const OSSL_PARAM *settable = EVP_PKEY_settable_params(key);
    char uri[2048];
    int ok;

    if (settable == NULL || OSSL_PARAM_locate_const(settable, AF_PARAM_KEY_STORE_CERT) == NULL)
        return 0;
    ERR_set_mark(); /* a key without the URI param is simply not a token key */
    ok = EVP_PKEY_get_utf8_string_param(key, AF_PARAM_KEY_URI, uri, sizeof(uri), NULL);
    ERR_pop_to_mark();
    return ok;
}

int af_key_in_token(EVP_PKEY *key)
{
    if (key == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no key given");
        return 0;
    }
    if (!token_key(key)) {
        AF_ERR(AF_R_INVALID_ARGUMENT,
               "key is not in a token: only a pkcs11: key of the %s provider can keep its"
               " certificate next to it",
               AF_PROVIDER_NAME);
        return 0;
    }
    return 1;
}

int af_store_cert_in_token(EVP_PKEY *key, X509 *cert)
{
    unsigned char *der = NULL;
    int len, ok;
    OSSL_PARAM params[2];

    if (cert == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no certificate given");
        return 0;
    }
    if (!af_key_in_token(key))
        return 0;
    if ((len = i2d_X509(cert, &der)) <= 0) {
        AF_ERR(AF_R_CRYPTO, "cannot encode the certificate");
        return 0;
    }
    params[0] = OSSL_PARAM_construct_octet_string(AF_PARAM_KEY_STORE_CERT, der, (size_t)len);
    params[1] = OSSL_PARAM_construct_end();
    ok = EVP_PKEY_set_params(key, params);
    OPENSSL_free(der);
    if (!ok) {
        char why[512] = "the provider refused without saying why";

        /* The provider's line (with the CKR_ code) is the cause; one error carries it up. */
        if (ERR_peek_error() != 0)
            af_err_line(why, sizeof(why));
        AF_ERR(AF_R_IO, "cannot store the certificate in the token: %s", why);
        return 0;
    }
    return 1;
}
