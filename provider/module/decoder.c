/* decoder.c - reads the key-reference file back: PEM "ATTFRESH PKCS11 KEY URI" -> DER (structure
 * attfresh-keyref) -> the token key its URI names, loaded through the pkcs11: store. */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/store.h>

#include "attfresh/params.h"
#include "module/key.h"
#include "module/prov.h"

/* A key reference is a few hundred bytes; anything much larger is not one. */
#define AF_KEYREF_MAX 16384

static OSSL_FUNC_decoder_newctx_fn dec_newctx;
static OSSL_FUNC_decoder_freectx_fn dec_freectx;
static OSSL_FUNC_decoder_decode_fn dec_pem_decode;

static void *dec_newctx(void *provctx)
{
    return provctx;
}

static void dec_freectx(void *ctx)
{
}

/* PEM -> DER, only for our label; anything else is left to the other decoders. */
static int dec_pem_decode(void *vctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *data_cb,
                          void *data_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    AF_PROV_CTX *pc = vctx;
    BIO *in = BIO_new_from_core_bio(af_prov_libctx(pc), cin);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len = 0;
    int ok = 1, rd;

    if (in == NULL)
        return 0;
    /* Not our PEM (or no PEM at all) is no error: the next decoder tries. The mark keeps the
     * errors of the key lookup below, which the user must see. */
    ERR_set_mark();
    rd = PEM_read_bio(in, &name, &header, &der, &len);
    ERR_pop_to_mark();
    if (rd > 0 && strcmp(name, AF_KEYREF_PEM_LABEL) == 0 && len > 0 && len <= AF_KEYREF_MAX) {
        OSSL_PARAM params[3];

        params[0] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der, (size_t)len);
        params[1] = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
                                                     (char *)AF_KEYREF_STRUCTURE, 0);
        params[2] = OSSL_PARAM_construct_end();
        ok = data_cb(params, data_cbarg);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(in);
    return ok;
}

/* Bounded read of the whole DER input. */
static unsigned char *read_all(AF_PROV_CTX *pc, OSSL_CORE_BIO *cin, size_t *len)
{
    BIO *in = BIO_new_from_core_bio(af_prov_libctx(pc), cin);
    unsigned char *buf = OPENSSL_malloc(AF_KEYREF_MAX + 1);
    size_t n = 0, got = 0;

    if (in == NULL || buf == NULL)
        goto err;
    while (n <= AF_KEYREF_MAX && BIO_read_ex(in, buf + n, AF_KEYREF_MAX + 1 - n, &got) && got > 0)
        n += got;
    if (n == 0 || n > AF_KEYREF_MAX)
        goto err;
    BIO_free(in);
    *len = n;
    return buf;
err:
    BIO_free(in);
    OPENSSL_free(buf);
    return NULL;
}

static int dec_der_decode(AF_PROV_CTX *pc, int type, OSSL_CORE_BIO *cin, int selection,
                          OSSL_CALLBACK *object_cb, void *object_cbarg,
                          OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    size_t len = 0;
    unsigned char *der;
    char *uri;
    int ok = 1;

    ERR_set_mark(); /* DER that is not ours is no error */
    der = read_all(pc, cin, &len);
    uri = der != NULL ? af_keyref_decode(der, len, type) : NULL;
    ERR_pop_to_mark();
    if (uri != NULL) {
        /* A reference that no longer resolves is an error (it names the URI), not "not ours". */
        ok = af_store_fetch(
            pc, uri, (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? OSSL_STORE_INFO_PKEY : 0,
            object_cb, object_cbarg, pw_cb, pw_cbarg);
    }
    OPENSSL_free(uri);
    OPENSSL_free(der);
    return ok;
}

#define AF_DEC_TYPED(pfx, TYPE)                                                                    \
    static int pfx##_decode(void *vctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *cb,      \
                            void *cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)          \
    {                                                                                              \
        return dec_der_decode(vctx, TYPE, cin, selection, cb, cbarg, pw_cb, pw_cbarg);             \
    }                                                                                              \
    static const OSSL_DISPATCH pfx##_decoder_functions[] = {                                       \
        {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx},                                    \
        {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},                                  \
        {OSSL_FUNC_DECODER_DECODE, (void (*)(void))pfx##_decode},                                  \
        {0, NULL},                                                                                 \
    };

AF_DEC_TYPED(ec, AF_KEY_EC)
AF_DEC_TYPED(rsa, AF_KEY_RSA)
AF_DEC_TYPED(ed, AF_KEY_ED25519)

static const OSSL_DISPATCH pem_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))dec_pem_decode},
    {0, NULL},
};

#define AF_DEC_PROPS "provider=" AF_PROVIDER_NAME ",input=der,structure=" AF_KEYREF_STRUCTURE

const OSSL_ALGORITHM af_decoder_algorithms[] = {
    {"DER", "provider=" AF_PROVIDER_NAME ",input=pem", pem_decoder_functions, NULL},
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", AF_DEC_PROPS, ec_decoder_functions, NULL},
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", AF_DEC_PROPS, rsa_decoder_functions, NULL},
    {"ED25519:1.3.101.112", AF_DEC_PROPS, ed_decoder_functions, NULL},
    {NULL, NULL, NULL, NULL},
};
