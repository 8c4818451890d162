/* proto_opts.c - station-side exchange options (attfresh/proto.h): URL, profile, request, MAC
 * secret (file or environment only, cleansed), signing/TLS key through OSSL_STORE (so `pkcs11:`
 * URIs reach attfresh.so), certificates, trust, timeouts; the per-protocol dispatcher; and the pool
 * of libcurl handles (proto_station.h) through which every EST/CMC request made with the same
 * options reuses live connections, TLS sessions and the loaded CA file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509.h>

#include "attfresh/err.h"
#include "attfresh/proto.h"
#include "proto_local.h"
#include "proto_station.h"

/* Longest MAC secret we read; PBM secrets are short shared passwords. */
#define SECRET_MAX 1024
/* libcurl handles kept per options: one per thread enrolling concurrently with them. */
#define HTTP_POOL 8

struct af_proto_opts_st {
    af_proto proto;
    char *url;
    AF_NONCE_PROFILE *prof;
    AF_NONCE_REQ *req;
    unsigned char *req_enc;
    size_t req_enc_len;
    unsigned char *secret;
    size_t secret_len;
    char *ref;
    EVP_PKEY *key;
    X509 *cert;
    STACK_OF(X509) * extra;
    X509_STORE *trusted;
    char *cafile;
    int connect_timeout;
    int total_timeout;
    OSSL_LIB_CTX *libctx;
    char *propq;
    /* Idle libcurl handles: a cache behind const options, guarded by http_lock. A handle keeps
     * its connections (HTTP keep-alive, TLS session), its TLS session cache and the CA store
     * curl loaded, so a second request costs no handshake and no CA file parsing. */
    CRYPTO_RWLOCK *http_lock;
    CURL *http_pool[HTTP_POOL];
    int http_n;
    long http_connects; /* connections opened by requests with these options */
};

af_proto af_proto_from_name(const char *name)
{
    if (name == NULL)
        return AF_PROTO_NONE;
    if (strcmp(name, "cmp") == 0)
        return AF_PROTO_CMP;
    if (strcmp(name, "est") == 0)
        return AF_PROTO_EST;
    if (strcmp(name, "cmc") == 0)
        return AF_PROTO_CMC;
    return AF_PROTO_NONE;
}

const char *af_proto_name(af_proto proto)
{
    switch (proto) {
    case AF_PROTO_CMP:
        return "cmp";
    case AF_PROTO_EST:
        return "est";
    case AF_PROTO_CMC:
        return "cmc";
    default:
        return NULL;
    }
}

AF_PROTO_OPTS *af_proto_opts_new(void)
{
    AF_PROTO_OPTS *o = OPENSSL_zalloc(sizeof(*o));

    if (o == NULL) {
        AF_ERR(AF_R_MALLOC, "exchange options");
        return NULL;
    }
    o->prof = af_nonce_profile_new(NULL);
    if (o->prof == NULL) {
        OPENSSL_free(o);
        return NULL;
    }
    o->connect_timeout = AF_PROTO_DEFAULT_CONNECT_TIMEOUT;
    o->total_timeout = AF_PROTO_DEFAULT_TOTAL_TIMEOUT;
    if ((o->http_lock = CRYPTO_THREAD_lock_new()) == NULL) {
        AF_ERR(AF_R_MALLOC, "exchange options");
        af_nonce_profile_free(o->prof);
        OPENSSL_free(o);
        return NULL;
    }
    return o;
}

/* Closes the kept connections: they were made with a key, certificate or CA file that is being
 * replaced, and libcurl would otherwise reuse them as they are. */
static void http_flush(AF_PROTO_OPTS *o)
{
    CURL *pool[HTTP_POOL];
    int i, n;

    if (o->http_lock == NULL || !CRYPTO_THREAD_write_lock(o->http_lock))
        return;
    n = o->http_n;
    memcpy(pool, o->http_pool, sizeof(pool));
    o->http_n = 0;
    CRYPTO_THREAD_unlock(o->http_lock);
    for (i = 0; i < n; i++)
        curl_easy_cleanup(pool[i]);
}

CURL *af_proto_http_get(const AF_PROTO_OPTS *opts)
{
    AF_PROTO_OPTS *o = (AF_PROTO_OPTS *)opts; /* only the pool changes */
    CURL *c = NULL;

    if (o != NULL && CRYPTO_THREAD_write_lock(o->http_lock)) {
        if (o->http_n > 0)
            c = o->http_pool[--o->http_n];
        CRYPTO_THREAD_unlock(o->http_lock);
    }
    /* a pooled handle was reset when it came back: options at defaults, connections kept */
    if (c == NULL && (c = curl_easy_init()) == NULL)
        AF_ERR(AF_R_INTERNAL, "cannot start libcurl");
    return c;
}

long af_proto_http_connects(const AF_PROTO_OPTS *opts)
{
    AF_PROTO_OPTS *o = (AF_PROTO_OPTS *)opts;
    long n = 0;

    if (o != NULL && CRYPTO_THREAD_read_lock(o->http_lock)) {
        n = o->http_connects;
        CRYPTO_THREAD_unlock(o->http_lock);
    }
    return n;
}

void af_proto_http_put(const AF_PROTO_OPTS *opts, CURL *curl)
{
    AF_PROTO_OPTS *o = (AF_PROTO_OPTS *)opts; /* only the pool changes */

    long n = 0;

    if (curl == NULL)
        return;
    if (curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &n) != CURLE_OK)
        n = 0;
    /* the request's pointers (headers, buffers, callback data) die with the request */
    curl_easy_reset(curl);
    if (o != NULL && CRYPTO_THREAD_write_lock(o->http_lock)) {
        o->http_connects += n;
        if (o->http_n < HTTP_POOL) {
            o->http_pool[o->http_n++] = curl;
            curl = NULL;
        }
        CRYPTO_THREAD_unlock(o->http_lock);
    }
    curl_easy_cleanup(curl);
}

void af_proto_opts_free(AF_PROTO_OPTS *o)
{
    if (o == NULL)
        return;
    http_flush(o);
    CRYPTO_THREAD_lock_free(o->http_lock);
    OPENSSL_free(o->url);
    af_nonce_profile_free(o->prof);
    af_nonce_req_free(o->req);
    OPENSSL_free(o->req_enc);
    OPENSSL_clear_free(o->secret, o->secret_len);
    OPENSSL_free(o->ref);
    EVP_PKEY_free(o->key);
    X509_free(o->cert);
    sk_X509_pop_free(o->extra, X509_free);
    X509_STORE_free(o->trusted);
    OPENSSL_free(o->cafile);
    OPENSSL_free(o->propq);
    OPENSSL_free(o);
}

static int set_str(char **dst, const char *src, const char *what)
{
    char *d = NULL;

    if (src != NULL && (d = OPENSSL_strdup(src)) == NULL) {
        AF_ERR(AF_R_MALLOC, "%s", what);
        return 0;
    }
    OPENSSL_free(*dst);
    *dst = d;
    return 1;
}

int af_proto_opts_set_protocol(AF_PROTO_OPTS *o, af_proto proto)
{
    if (o == NULL || af_proto_name(proto) == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "unknown protocol");
        return 0;
    }
    o->proto = proto;
    return 1;
}

af_proto af_proto_opts_get_protocol(const AF_PROTO_OPTS *o)
{
    return o == NULL ? AF_PROTO_NONE : o->proto;
}

int af_proto_opts_set1_url(AF_PROTO_OPTS *o, const char *url)
{
    if (o == NULL || url == NULL || *url == '\0') {
        AF_ERR(AF_R_INVALID_ARGUMENT, "empty server URL");
        return 0;
    }
    return set_str(&o->url, url, "server URL");
}

const char *af_proto_opts_get0_url(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->url;
}

int af_proto_opts_set_profile_name(AF_PROTO_OPTS *o, const char *name)
{
    AF_NONCE_PROFILE *p;

    if (o == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no options");
        return 0;
    }
    if ((p = af_nonce_profile_new(name)) == NULL)
        return 0;
    af_nonce_profile_free(o->prof);
    o->prof = p;
    return 1;
}

int af_proto_opts_set1_profile(AF_PROTO_OPTS *o, const AF_NONCE_PROFILE *prof)
{
    AF_NONCE_PROFILE *p;

    if (o == NULL || prof == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no profile");
        return 0;
    }
    if ((p = af_nonce_profile_dup(prof)) == NULL)
        return 0;
    af_nonce_profile_free(o->prof);
    o->prof = p;
    return 1;
}

const AF_NONCE_PROFILE *af_proto_opts_get0_profile(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->prof;
}

int af_proto_opts_set1_request(AF_PROTO_OPTS *o, const AF_NONCE_REQ *req)
{
    AF_NONCE_REQ *r = NULL;

    if (o == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no options");
        return 0;
    }
    if (req != NULL && (r = af_nonce_req_dup(req)) == NULL)
        return 0;
    af_nonce_req_free(o->req);
    o->req = r;
    return 1;
}

const AF_NONCE_REQ *af_proto_opts_get0_request(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->req;
}

int af_proto_opts_set1_request_encoded(AF_PROTO_OPTS *o, const unsigned char *der, size_t len)
{
    unsigned char *d = NULL;

    if (o == NULL || (der != NULL && (len == 0 || len > AF_NONCE_MAX_INPUT))) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "encoded request must be 1..%d bytes", AF_NONCE_MAX_INPUT);
        return 0;
    }
    if (der != NULL && (d = OPENSSL_memdup(der, len)) == NULL) {
        AF_ERR(AF_R_MALLOC, "encoded request");
        return 0;
    }
    OPENSSL_free(o->req_enc);
    o->req_enc = d;
    o->req_enc_len = d == NULL ? 0 : len;
    return 1;
}

const unsigned char *af_proto_opts_get0_request_encoded(const AF_PROTO_OPTS *o, size_t *len)
{
    if (len != NULL)
        *len = o == NULL ? 0 : o->req_enc_len;
    return o == NULL ? NULL : o->req_enc;
}

int af_proto_opts_set1_secret(AF_PROTO_OPTS *o, const unsigned char *secret, size_t len)
{
    unsigned char *s;

    if (o == NULL || secret == NULL || len == 0 || len > SECRET_MAX) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "MAC secret must be 1..%d bytes", SECRET_MAX);
        return 0;
    }
    if ((s = OPENSSL_memdup(secret, len)) == NULL) {
        AF_ERR(AF_R_MALLOC, "MAC secret");
        return 0;
    }
    OPENSSL_clear_free(o->secret, o->secret_len);
    o->secret = s;
    o->secret_len = len;
    return 1;
}

/* First line without CR/LF; the buffer is cleansed by the callers. */
static size_t first_line(const unsigned char *buf, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] == '\r')
            break;
    return i;
}

int af_proto_opts_load_secret_file(AF_PROTO_OPTS *o, const char *path)
{
    unsigned char buf[SECRET_MAX + 2];
    FILE *f;
    size_t n, len;
    int ret = 0;

    if (o == NULL || path == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no secret file");
        return 0;
    }
    if ((f = fopen(path, "rb")) == NULL) {
        AF_ERR(AF_R_IO, "cannot open MAC secret file %s: %s", path, strerror(errno));
        return 0;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    len = first_line(buf, n);
    if (len == 0)
        AF_ERR(AF_R_IO, "MAC secret file %s: first line is empty", path);
    else if (len > SECRET_MAX)
        AF_ERR(AF_R_TOO_LARGE, "MAC secret file %s: secret longer than %d bytes", path, SECRET_MAX);
    else
        ret = af_proto_opts_set1_secret(o, buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return ret;
}

int af_proto_opts_load_secret_env(AF_PROTO_OPTS *o, const char *var)
{
    const char *v;

    if (o == NULL || var == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no secret variable");
        return 0;
    }
    v = getenv(var);
    if (v == NULL || *v == '\0') {
        AF_ERR(AF_R_IO, "MAC secret variable %s is not set or empty", var);
        return 0;
    }
    return af_proto_opts_set1_secret(o, (const unsigned char *)v, strlen(v));
}

const unsigned char *af_proto_opts_get0_secret(const AF_PROTO_OPTS *o, size_t *len)
{
    if (len != NULL)
        *len = o == NULL ? 0 : o->secret_len;
    return o == NULL ? NULL : o->secret;
}

int af_proto_opts_set1_ref(AF_PROTO_OPTS *o, const char *ref)
{
    if (o == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no options");
        return 0;
    }
    return set_str(&o->ref, ref, "reference");
}

const char *af_proto_opts_get0_ref(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->ref;
}

int af_proto_opts_load_key(AF_PROTO_OPTS *o, const char *uri)
{
    OSSL_STORE_CTX *sc;
    OSSL_STORE_INFO *info;
    EVP_PKEY *key = NULL;

    if (o == NULL || uri == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no key");
        return 0;
    }
    /* No UI method: a key needing a passphrase fails instead of prompting; token PINs come from
     * the provider's configuration. */
    sc = OSSL_STORE_open_ex(uri, o->libctx, o->propq, UI_null(), NULL, NULL, NULL, NULL);
    if (sc == NULL) {
        AF_ERR(AF_R_CRYPTO, "cannot open key %s", uri);
        return 0;
    }
    OSSL_STORE_expect(sc, OSSL_STORE_INFO_PKEY);
    while (key == NULL && !OSSL_STORE_eof(sc)) {
        info = OSSL_STORE_load(sc);
        if (info == NULL)
            continue;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
        if (OSSL_STORE_error(sc))
            break;
    }
    OSSL_STORE_close(sc);
    if (key == NULL) {
        AF_ERR(AF_R_CRYPTO, "no private key found at %s", uri);
        return 0;
    }
    ERR_clear_error();
    http_flush(o);
    EVP_PKEY_free(o->key);
    o->key = key;
    return 1;
}

int af_proto_opts_set1_key(AF_PROTO_OPTS *o, EVP_PKEY *key)
{
    if (o == NULL || key == NULL || !EVP_PKEY_up_ref(key)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no key");
        return 0;
    }
    http_flush(o);
    EVP_PKEY_free(o->key);
    o->key = key;
    return 1;
}

EVP_PKEY *af_proto_opts_get0_key(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->key;
}

int af_proto_load_certs(const char *path, STACK_OF(X509) * *out)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *b;
    X509 *x;
    int err;

    *out = NULL;
    if (sk == NULL) {
        AF_ERR(AF_R_MALLOC, "certificates");
        return 0;
    }
    ERR_set_mark();
    b = BIO_new_file(path, "rb");
    err = errno;
    ERR_pop_to_mark(); /* our line below says it */
    if (b == NULL) {
        AF_ERR(AF_R_IO, "cannot open certificate file %s: %s", path, strerror(err));
        sk_X509_free(sk);
        return 0;
    }
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            break;
        }
    if (sk_X509_num(sk) == 0) {
        /* one DER certificate */
        (void)BIO_reset(b);
        if ((x = d2i_X509_bio(b, NULL)) != NULL && !sk_X509_push(sk, x))
            X509_free(x);
    }
    BIO_free(b);
    ERR_clear_error();
    if (sk_X509_num(sk) == 0) {
        AF_ERR(AF_R_CRYPTO, "no certificate in %s", path);
        sk_X509_free(sk);
        return 0;
    }
    *out = sk;
    return 1;
}

int af_proto_opts_load_cert(AF_PROTO_OPTS *o, const char *path)
{
    STACK_OF(X509) * sk;

    if (o == NULL || path == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no certificate");
        return 0;
    }
    if (!af_proto_load_certs(path, &sk))
        return 0;
    http_flush(o);
    X509_free(o->cert);
    o->cert = sk_X509_shift(sk);
    sk_X509_pop_free(o->extra, X509_free);
    o->extra = sk;
    return 1;
}

int af_proto_opts_set1_cert(AF_PROTO_OPTS *o, X509 *cert)
{
    if (o == NULL || cert == NULL || !X509_up_ref(cert)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no certificate");
        return 0;
    }
    http_flush(o);
    X509_free(o->cert);
    o->cert = cert;
    return 1;
}

X509 *af_proto_opts_get0_cert(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->cert;
}

STACK_OF(X509) * af_proto_opts_get0_extra_certs(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->extra;
}

int af_proto_opts_load_trusted(AF_PROTO_OPTS *o, const char *path)
{
    STACK_OF(X509) * sk;
    X509_STORE *st;
    int i, ok = 1;

    if (o == NULL || path == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no trusted certificates");
        return 0;
    }
    if (!af_proto_load_certs(path, &sk))
        return 0;
    if ((st = X509_STORE_new()) == NULL) {
        AF_ERR(AF_R_MALLOC, "trust store");
        sk_X509_pop_free(sk, X509_free);
        return 0;
    }
    for (i = 0; ok && i < sk_X509_num(sk); i++)
        ok = X509_STORE_add_cert(st, sk_X509_value(sk, i));
    sk_X509_pop_free(sk, X509_free);
    if (!ok) {
        AF_ERR(AF_R_CRYPTO, "cannot add the certificates of %s to the trust store", path);
        X509_STORE_free(st);
        return 0;
    }
    X509_STORE_free(o->trusted);
    o->trusted = st;
    return 1;
}

X509_STORE *af_proto_opts_get0_trusted(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->trusted;
}

int af_proto_opts_set1_cafile(AF_PROTO_OPTS *o, const char *path)
{
    if (o == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no options");
        return 0;
    }
    http_flush(o);
    return set_str(&o->cafile, path, "CA file");
}

const char *af_proto_opts_get0_cafile(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->cafile;
}

int af_proto_opts_set_timeouts(AF_PROTO_OPTS *o, int connect_s, int total_s)
{
    if (o == NULL || connect_s < 1 || connect_s > 3600 || total_s < 1 || total_s > 3600) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "timeouts must be 1..3600 seconds");
        return 0;
    }
    o->connect_timeout = connect_s;
    o->total_timeout = total_s;
    return 1;
}

int af_proto_opts_get_connect_timeout(const AF_PROTO_OPTS *o)
{
    return o == NULL ? AF_PROTO_DEFAULT_CONNECT_TIMEOUT : o->connect_timeout;
}

int af_proto_opts_get_total_timeout(const AF_PROTO_OPTS *o)
{
    return o == NULL ? AF_PROTO_DEFAULT_TOTAL_TIMEOUT : o->total_timeout;
}

void af_proto_opts_set0_libctx(AF_PROTO_OPTS *o, OSSL_LIB_CTX *libctx, const char *propq)
{
    if (o == NULL)
        return;
    o->libctx = libctx;
    OPENSSL_free(o->propq);
    o->propq = propq == NULL ? NULL : OPENSSL_strdup(propq);
}

OSSL_LIB_CTX *af_proto_opts_get0_libctx(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->libctx;
}

const char *af_proto_opts_get0_propq(const AF_PROTO_OPTS *o)
{
    return o == NULL ? NULL : o->propq;
}

/* The CMC client lives in cmc_client.c (another owner); weak so the library links without it. */
#pragma weak af_cmc_get_nonce

int af_proto_get_nonce(const AF_PROTO_OPTS *o, AF_NONCE_RESP **resp, AF_PROTO_STATE **state)
{
    switch (af_proto_opts_get_protocol(o)) {
    case AF_PROTO_CMP:
        return af_cmp_get_nonce(o, resp, state);
    case AF_PROTO_EST:
        return af_est_get_nonce(o, resp, state);
    case AF_PROTO_CMC:
        if (af_cmc_get_nonce == NULL) {
            AF_ERR(AF_R_INTERNAL, "this build has no CMC client");
            return 0;
        }
        return af_cmc_get_nonce(o, resp, state);
    default:
        AF_ERR(AF_R_INVALID_ARGUMENT, "no protocol chosen (cmp, est or cmc)");
        return 0;
    }
}

/* ---- helpers shared by the clients ------------------------------------------------------------
 */

AF_NONCE_REQ *af_proto_request_or_empty(const AF_PROTO_OPTS *o)
{
    AF_NONCE_REQ *r;

    if (o->req != NULL)
        return af_nonce_req_dup(o->req);
    if ((r = af_nonce_req_new()) == NULL)
        return NULL;
    if (af_nonce_req_add0_item(r) == NULL) {
        af_nonce_req_free(r);
        return NULL;
    }
    return r;
}

int af_proto_state_fill(AF_PROTO_STATE *st, const AF_PROTO_OPTS *o, const char *url,
                        const AF_NONCE_RESP *resp)
{
    const AF_NONCE_RESP_ITEM *it;
    AF_NONCE_CODEC *codec;
    int64_t now = (int64_t)time(NULL), exp = 0;

    if (!af_proto_state_set_protocol(st, o->proto) || !af_proto_state_set1_url(st, url) ||
        !af_proto_state_set1_profile(st, af_nonce_profile_get0_name(o->prof)) ||
        !af_proto_state_set_created(st, now) || !af_proto_state_set1_response(st, resp))
        return 0;
    it = af_nonce_resp_get0_item(resp, 0);
    if ((codec = af_nonce_codec_new()) == NULL)
        return 0;
    af_nonce_codec_set_now(codec, now);
    if (it != NULL && af_nonce_resp_item_get_expiry_epoch(it, codec, &exp))
        (void)af_proto_state_set_expiry(st, exp);
    af_nonce_codec_free(codec);
    return 1;
}
