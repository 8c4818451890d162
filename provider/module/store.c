/* store.c - OSSL_STORE for pkcs11: URIs (RFC 7512, parsed by p11-kit): private keys by reference
 * (they never leave the token), public keys, certificates (DER). Also the URI fetch the key
 * reference decoder uses. Logs in only when private objects are asked for. */
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "attfresh/params.h"
#include "module/key.h"
#include "module/prov.h"

/* Upper bound of objects one URI may return (a store is not an inventory tool). */
#define AF_STORE_MAX_OBJECTS 64

typedef struct {
    int type; /* OSSL_OBJECT_PKEY / OSSL_OBJECT_CERT */
    AF_KEY *key;
    unsigned char *der;
    size_t derlen;
} AF_STORE_ITEM;

typedef struct {
    AF_PROV_CTX *pc;
    P11KitUri *uri;
    char *masked; /* the URI as given, pin-value masked: safe for messages */
    int expect;   /* OSSL_STORE_INFO_* or 0 */
    int loaded;   /* objects gathered (on the first load call) */
    int failed;
    AF_STORE_ITEM items[AF_STORE_MAX_OBJECTS];
    size_t nitems, next;
} AF_STORE_CTX;

static OSSL_FUNC_store_open_fn store_open;
static OSSL_FUNC_store_settable_ctx_params_fn store_settable_ctx_params;
static OSSL_FUNC_store_set_ctx_params_fn store_set_ctx_params;
static OSSL_FUNC_store_load_fn store_load;
static OSSL_FUNC_store_eof_fn store_eof;
static OSSL_FUNC_store_close_fn store_close;

/* The URI with the value of any pin-value attribute replaced by "***". */
static char *mask_uri(const char *uri)
{
    size_t n = strlen(uri);
    char *out = OPENSSL_malloc(n + 4), *o = out;
    const char *p = uri;

    if (out == NULL)
        return NULL;
    while (*p != '\0') {
        if (strncmp(p, "pin-value=", 10) == 0 &&
            (p == uri || p[-1] == ';' || p[-1] == '?' || p[-1] == '&' || p[-1] == ':')) {
            memcpy(o, "pin-value=***", 13);
            o += 13;
            p += 10;
            while (*p != '\0' && *p != ';' && *p != '&')
                p++;
            continue;
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}

static void store_ctx_free(AF_STORE_CTX *ctx)
{
    size_t i;

    if (ctx == NULL)
        return;
    for (i = 0; i < ctx->nitems; i++) {
        af_key_free(ctx->items[i].key);
        OPENSSL_free(ctx->items[i].der);
    }
    p11_kit_uri_free(ctx->uri);
    OPENSSL_free(ctx->masked);
    OPENSSL_free(ctx);
}

/* p11-kit's parser result by name: a malformed URI never reaches the token, so this code is
 * the one the error line can name. */
static const char *uri_rc_name(int rc)
{
    switch (rc) {
    case P11_KIT_URI_BAD_SCHEME:
        return "P11_KIT_URI_BAD_SCHEME";
    case P11_KIT_URI_BAD_ENCODING:
        return "P11_KIT_URI_BAD_ENCODING";
    case P11_KIT_URI_BAD_SYNTAX:
        return "P11_KIT_URI_BAD_SYNTAX";
    case P11_KIT_URI_BAD_VERSION:
        return "P11_KIT_URI_BAD_VERSION";
    case P11_KIT_URI_NOT_FOUND:
        return "P11_KIT_URI_NOT_FOUND";
    default:
        return "P11_KIT_URI_UNEXPECTED";
    }
}

static AF_STORE_CTX *store_ctx_new(AF_PROV_CTX *pc, const char *uri)
{
    AF_STORE_CTX *ctx = OPENSSL_zalloc(sizeof(*ctx));
    int rc;

    if (ctx == NULL || (ctx->masked = mask_uri(uri)) == NULL ||
        (ctx->uri = p11_kit_uri_new()) == NULL) {
        af_prov_raise(pc, AF_PR_MALLOC, "store context");
        store_ctx_free(ctx);
        return NULL;
    }
    ctx->pc = pc;
    rc = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, ctx->uri);
    if (rc != P11_KIT_URI_OK) {
        af_prov_raise(pc, AF_PR_URI, "malformed PKCS#11 URI '%s': %s (%s; no PKCS#11 call made)",
                      ctx->masked, p11_kit_uri_message(rc), uri_rc_name(rc));
        store_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

static void *store_open(void *provctx, const char *uri)
{
    if (uri == NULL || strncmp(uri, "pkcs11:", 7) != 0)
        return NULL;
    return store_ctx_new(provctx, uri);
}

static const OSSL_PARAM *store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_END,
    };

    return settable;
}

static int store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
    AF_STORE_CTX *ctx = loaderctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);

    return p == NULL || OSSL_PARAM_get_int(p, &ctx->expect);
}

/* Which object classes to look for, in emission order; returns how many. */
static size_t wanted_classes(const AF_STORE_CTX *ctx, CK_OBJECT_CLASS out[3])
{
    CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(ctx->uri, CKA_CLASS);
    size_t n = 0;

    if (a != NULL && a->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
        memcpy(&out[0], a->pValue, sizeof(CK_OBJECT_CLASS));
        return 1;
    }
    if (ctx->expect == 0 || ctx->expect == OSSL_STORE_INFO_PKEY)
        out[n++] = CKO_PRIVATE_KEY;
    if (ctx->expect == 0 || ctx->expect == OSSL_STORE_INFO_PKEY ||
        ctx->expect == OSSL_STORE_INFO_PUBKEY)
        out[n++] = CKO_PUBLIC_KEY;
    if (ctx->expect == 0 || ctx->expect == OSSL_STORE_INFO_CERT)
        out[n++] = CKO_CERTIFICATE;
    return n;
}

/* A public key is not listed again when its private half already is. */
static int have_pair(const AF_STORE_CTX *ctx, const AF_KEY *pub)
{
    size_t i;

    for (i = 0; i < ctx->nitems; i++)
        if (ctx->items[i].key != NULL && af_key_has_private(ctx->items[i].key) &&
            af_key_get0_token(ctx->items[i].key) == af_key_get0_token(pub) &&
            af_key_match_public(ctx->items[i].key, pub))
            return 1;
    return 0;
}

static int gather_token(AF_STORE_CTX *ctx, AF_P11_TOKEN *tok, const CK_OBJECT_CLASS *classes,
                        size_t nclasses)
{
    CK_SESSION_HANDLE s;
    CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(ctx->uri, CKA_LABEL);
    CK_ATTRIBUTE *id = p11_kit_uri_get_attribute(ctx->uri, CKA_ID);
    size_t c;
    int ok = 1;

    if (!af_p11_session_get(tok, &s))
        return 0;
    for (c = 0; c < nclasses && ok; c++) {
        CK_OBJECT_CLASS cls = classes[c];
        CK_ATTRIBUTE t[3];
        CK_ULONG n = 0, found = 0, i;
        CK_OBJECT_HANDLE h[AF_STORE_MAX_OBJECTS];

        if (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY && cls != CKO_CERTIFICATE)
            continue;
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
        if (label != NULL)
            t[n++] = *label;
        if (id != NULL)
            t[n++] = *id;
        if (!af_p11_find(tok, s, t, n, h, AF_STORE_MAX_OBJECTS - ctx->nitems, &found)) {
            ok = 0;
            break;
        }
        for (i = 0; i < found && ctx->nitems < AF_STORE_MAX_OBJECTS; i++) {
            AF_STORE_ITEM *it = &ctx->items[ctx->nitems];

            if (cls == CKO_CERTIFICATE) {
                unsigned char *v = NULL;
                CK_ULONG len = 0;
                CK_RV rv = CKR_OK;

                if (!af_p11_attr(tok, s, h[i], CKA_VALUE, &v, &len, &rv))
                    continue;
                it->type = OSSL_OBJECT_CERT;
                it->der = v;
                it->derlen = len;
                ctx->nitems++;
                continue;
            }
            it->key = cls == CKO_PRIVATE_KEY
                          ? af_key_load(ctx->pc, tok, s, h[i], CK_INVALID_HANDLE)
                          : af_key_load(ctx->pc, tok, s, CK_INVALID_HANDLE, h[i]);
            if (it->key == NULL) {
                ok = 0; /* an object we cannot use: say so rather than skip silently */
                break;
            }
            if (cls == CKO_PUBLIC_KEY && have_pair(ctx, it->key)) {
                af_key_free(it->key);
                it->key = NULL;
                continue;
            }
            it->type = OSSL_OBJECT_PKEY;
            ctx->nitems++;
        }
    }
    af_p11_session_put(tok, s, 1);
    return ok;
}

static int gather(AF_STORE_CTX *ctx, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    AF_P11 *p11 = af_prov_p11(ctx->pc);
    AF_P11_TOKEN *tok = NULL;
    CK_OBJECT_CLASS classes[3];
    size_t nclasses = wanted_classes(ctx, classes), c;
    int need_login = 0, ntokens = 0;

    for (c = 0; c < nclasses; c++)
        need_login |= classes[c] == CKO_PRIVATE_KEY;
    if (!af_p11_ready(p11))
        return 0;
    while ((tok = af_p11_token_next(p11, ctx->uri, tok)) != NULL) {
        ntokens++;
        if (need_login &&
            !af_p11_token_login_for(tok, ctx->masked, p11_kit_uri_get_pin_value(ctx->uri),
                                    p11_kit_uri_get_pin_source(ctx->uri), pw_cb, pw_cbarg))
            return 0;
        if (!gather_token(ctx, tok, classes, nclasses))
            return 0;
    }
    if (ntokens == 0) {
        af_prov_raise_rv(ctx->pc, AF_PR_TOKEN_NOT_FOUND, CKR_TOKEN_NOT_PRESENT,
                         "no token matches %s", ctx->masked);
        return 0;
    }
    if (ctx->nitems == 0) {
        /* C_FindObjects succeeded and found nothing: say so rather than invent a CKR_ code */
        af_prov_raise(ctx->pc, AF_PR_OBJECT_NOT_FOUND,
                      "no object matches %s (C_FindObjects: CKR_OK, 0 objects)", ctx->masked);
        return 0;
    }
    return 1;
}

static int emit(AF_STORE_CTX *ctx, const AF_STORE_ITEM *it, OSSL_CALLBACK *cb, void *cbarg)
{
    OSSL_PARAM params[4];
    int type = it->type;
    size_t n = 0;

    params[n++] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
    if (it->type == OSSL_OBJECT_CERT) {
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, it->der, it->derlen);
    } else {
        AF_KEY *const *ref = &it->key;

        params[n++] = OSSL_PARAM_construct_utf8_string(
            OSSL_OBJECT_PARAM_DATA_TYPE, (char *)af_key_type_name(af_key_type(it->key)), 0);
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, (void *)ref,
                                                        sizeof(*ref));
    }
    params[n] = OSSL_PARAM_construct_end();
    return cb(params, cbarg);
}

static int store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    AF_STORE_CTX *ctx = loaderctx;

    if (!ctx->loaded) {
        ctx->loaded = 1;
        if (!gather(ctx, pw_cb, pw_cbarg)) {
            ctx->failed = 1;
            return 0;
        }
    }
    if (ctx->next >= ctx->nitems)
        return 0;
    return emit(ctx, &ctx->items[ctx->next++], object_cb, object_cbarg);
}

static int store_eof(void *loaderctx)
{
    const AF_STORE_CTX *ctx = loaderctx;

    return ctx->failed || (ctx->loaded && ctx->next >= ctx->nitems);
}

static int store_close(void *loaderctx)
{
    store_ctx_free(loaderctx);
    return 1;
}

int af_store_fetch(AF_PROV_CTX *pc, const char *uri, int expect, OSSL_CALLBACK *cb, void *cbarg,
                   OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    AF_STORE_CTX *ctx = store_ctx_new(pc, uri);
    int ok = 0;

    if (ctx == NULL)
        return 0;
    ctx->expect = expect;
    while (!store_eof(ctx))
        if (store_load(ctx, cb, cbarg, pw_cb, pw_cbarg))
            ok = 1;
    store_ctx_free(ctx);
    return ok;
}

static const OSSL_DISPATCH store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {0, NULL},
};

const OSSL_ALGORITHM af_store_algorithms[] = {
    {"pkcs11", "provider=" AF_PROVIDER_NAME, store_functions, "PKCS#11 token objects (RFC 7512)"},
    {NULL, NULL, NULL, NULL},
};
