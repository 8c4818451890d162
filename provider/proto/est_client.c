/* est_client.c - the station's EST nonce exchange (nonce-protocol.md 5.2) with libcurl: GET (no
 * request content) or POST of the profile's JSON to /.well-known/est[/<label>]/nonce, the server
 * verified against a CA file, an optional TLS client certificate whose key may live in the HSM
 * (given to curl's OpenSSL backend as an EVP_PKEY), the binding cookie and TLS details kept in the
 * state for /simpleenroll, 400/503 and a wrong Content-Type reported as such. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "attfresh/err.h"
#include "attfresh/proto.h"
#include "proto_local.h"
#include "proto_station.h"

#define MAX_COOKIE 1024

typedef struct {
    const AF_PROTO_OPTS *opts;
    unsigned char *body;
    size_t body_len;
    int too_big;
    char cookie[MAX_COOKIE];
    int cookie_too_big;
    char retry_after[32];
    /* TLS details, read while the connection is up */
    int tls_seen;
    char tls_version[32];
    unsigned char cert_sha256[32];
    int have_cert_sha256;
    unsigned char session_id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    unsigned int session_id_len;
    CURL *curl;
} est_call;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    est_call *c = arg;
    size_t n = size * nmemb;
    unsigned char *b;

    if (c->body_len + n > AF_PROTO_MAX_RESPONSE) {
        c->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if ((b = OPENSSL_realloc(c->body, c->body_len + n + 1)) == NULL)
        return 0;
    memcpy(b + c->body_len, data, n);
    c->body = b;
    c->body_len += n;
    return n;
}

static void read_tls(est_call *c)
{
    const struct curl_tlssessioninfo *ti = NULL;
    SSL *ssl;
    X509 *peer;
    SSL_SESSION *sess;
    const unsigned char *id;
    unsigned int dlen = 0;

    c->tls_seen = 1;
    if (curl_easy_getinfo(c->curl, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
        ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
        return;
    ssl = ti->internals;
    snprintf(c->tls_version, sizeof(c->tls_version), "%s", SSL_get_version(ssl));
    if ((peer = SSL_get1_peer_certificate(ssl)) != NULL) {
        c->have_cert_sha256 = X509_digest(peer, EVP_sha256(), c->cert_sha256, &dlen) && dlen == 32;
        X509_free(peer);
    }
    if ((sess = SSL_get_session(ssl)) != NULL) {
        id = SSL_SESSION_get_id(sess, &c->session_id_len);
        if (c->session_id_len > sizeof(c->session_id))
            c->session_id_len = 0;
        else if (c->session_id_len > 0)
            memcpy(c->session_id, id, c->session_id_len);
    }
}

/* Keeps "name=value" of every Set-Cookie, and Retry-After; reads TLS details once. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    est_call *c = arg;
    size_t n = size * nmemb, k, used;
    const char *v;

    if (!c->tls_seen)
        read_tls(c);
    if (n > 11 && strncasecmp(data, "Set-Cookie:", 11) == 0) {
        v = data + 11;
        while (v < data + n && (*v == ' ' || *v == '\t'))
            v++;
        for (k = 0; v + k < data + n && v[k] != ';' && v[k] != '\r' && v[k] != '\n'; k++)
            ;
        used = strlen(c->cookie);
        if (k == 0) {
            /* nothing */
        } else if (used + k + 3 > sizeof(c->cookie)) {
            c->cookie_too_big = 1;
        } else {
            if (used > 0) {
                memcpy(c->cookie + used, "; ", 2);
                used += 2;
            }
            memcpy(c->cookie + used, v, k);
            c->cookie[used + k] = '\0';
        }
    } else if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        v = data + 12;
        while (v < data + n && *v == ' ')
            v++;
        for (k = 0;
             v + k < data + n && k + 1 < sizeof(c->retry_after) && v[k] != '\r' && v[k] != '\n';
             k++)
            c->retry_after[k] = v[k];
        c->retry_after[k] = '\0';
    }
    return n;
}

/* curl (OpenSSL backend) hands us its SSL_CTX: give it our client certificate and key, which may
 * be a token key (attfresh.so signs in the HSM). */
static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
    const AF_PROTO_OPTS *o = arg;
    SSL_CTX *ctx = sslctx;
    STACK_OF(X509) *extra = af_proto_opts_get0_extra_certs(o);
    int i;

    if (af_proto_opts_get0_cert(o) == NULL)
        return CURLE_OK;
    if (SSL_CTX_use_certificate(ctx, af_proto_opts_get0_cert(o)) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, af_proto_opts_get0_key(o)) != 1)
        return CURLE_SSL_CERTPROBLEM;
    for (i = 0; extra != NULL && i < sk_X509_num(extra); i++)
        if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(extra, i)) != 1)
            return CURLE_SSL_CERTPROBLEM;
    return CURLE_OK;
}

/* base URL -> .../nonce: "https://h:p" -> "https://h:p/.well-known/est/nonce";
 * ".../.well-known/est[/<label>]" -> ".../nonce"; a URL ending in "/nonce" is kept. */
static char *nonce_url(const char *url)
{
    size_t n = strlen(url), extra = sizeof("/.well-known/est/nonce");
    const char *scheme_end = strstr(url, "://");
    char *u;

    if ((u = OPENSSL_malloc(n + extra)) == NULL) {
        AF_ERR(AF_R_MALLOC, "EST URL");
        return NULL;
    }
    memcpy(u, url, n + 1);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
    if (n >= 6 && strcmp(u + n - 6, "/nonce") == 0)
        return u;
    if (strstr(u, "/.well-known/est") != NULL)
        strcat(u, "/nonce");
    else if (scheme_end != NULL && strchr(scheme_end + 3, '/') == NULL)
        strcat(u, "/.well-known/est/nonce");
    else {
        AF_ERR(AF_R_INVALID_ARGUMENT,
               "EST URL %s: want https://HOST[:PORT][/.well-known/est"
               "[/<label>][/nonce]]",
               url);
        OPENSSL_free(u);
        return NULL;
    }
    return u;
}

/* type/subtype equal (case-insensitive), parameters ignored */
static int media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, want, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* The request body, or NULL (and *len 0) for a GET. */
static int request_body(const AF_PROTO_OPTS *o, unsigned char **body, size_t *len)
{
    const unsigned char *enc = af_proto_opts_get0_request_encoded(o, len);
    const AF_NONCE_REQ *req = af_proto_opts_get0_request(o);

    *body = NULL;
    if (enc != NULL) {
        if ((*body = OPENSSL_memdup(enc, *len)) == NULL) {
            AF_ERR(AF_R_MALLOC, "EST request");
            return 0;
        }
        return 1;
    }
    *len = 0;
    if (req == NULL)
        return 1;
    return af_nonce_req_encode(req, af_proto_opts_get0_profile(o), AF_NONCE_FMT_JSON, NULL, body,
                               len);
}

static int check_status(const est_call *c, long code, const char *ct, const char *url,
                        const char *media)
{
    switch (code) {
    case 200:
        if (!media_type_is(ct, media)) {
            AF_ERR(AF_R_PROTO_MEDIA_TYPE, "EST %s: Content-Type %s, want %s", url,
                   ct != NULL ? ct : "(none)", media);
            return 0;
        }
        return 1;
    case 400:
        AF_ERR(AF_R_PROTO_HTTP_STATUS,
               "EST %s: HTTP 400 Bad Request (the RA refused the request:"
               " JSON, media type or len)",
               url);
        return 0;
    case 503:
        AF_ERR(AF_R_PROTO_HTTP_STATUS,
               "EST %s: HTTP 503 Service Unavailable (the RA gives no "
               "nonce now%s%s%s)",
               url, c->retry_after[0] ? "; Retry-After: " : "", c->retry_after,
               c->retry_after[0] ? " s" : "");
        return 0;
    case 401:
    case 403:
        AF_ERR(AF_R_PROTO_HTTP_STATUS,
               "EST %s: HTTP %ld (the RA wants client authentication: "
               "--key and --cert)",
               url, code);
        return 0;
    default:
        AF_ERR(AF_R_PROTO_HTTP_STATUS, "EST %s: HTTP %ld", url, code);
        return 0;
    }
}

int af_est_get_nonce(const AF_PROTO_OPTS *opts, AF_NONCE_RESP **resp, AF_PROTO_STATE **state)
{
    const AF_NONCE_PROFILE *prof = af_proto_opts_get0_profile(opts);
    const char *media = af_nonce_profile_get0_media_type(prof), *ct = NULL;
    char *url = NULL, errbuf[CURL_ERROR_SIZE] = "", hdr_ct[160], hdr_accept[160];
    struct curl_slist *hdrs = NULL;
    unsigned char *body = NULL;
    size_t body_len = 0;
    AF_NONCE_RESP *r = NULL;
    AF_PROTO_STATE *st = NULL;
    est_call c;
    CURLcode cr;
    long code = 0;
    int ok = 0;

    if (resp == NULL || opts == NULL || af_proto_opts_get0_url(opts) == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "EST: no URL or no place for the response");
        return 0;
    }
    *resp = NULL;
    if (state != NULL)
        *state = NULL;
    memset(&c, 0, sizeof(c));
    c.opts = opts;
    if ((url = nonce_url(af_proto_opts_get0_url(opts))) == NULL ||
        !request_body(opts, &body, &body_len))
        goto end;
    /* the options' handle: /simpleenroll then goes over this connection and TLS session */
    if ((c.curl = af_proto_http_get(opts)) == NULL)
        goto end;
    snprintf(hdr_accept, sizeof(hdr_accept), "Accept: %s", media);
    snprintf(hdr_ct, sizeof(hdr_ct), "Content-Type: %s", media);
    if ((hdrs = curl_slist_append(NULL, hdr_accept)) == NULL ||
        (body != NULL && curl_slist_append(hdrs, hdr_ct) == NULL)) {
        AF_ERR(AF_R_MALLOC, "EST headers");
        goto end;
    }
    curl_easy_setopt(c.curl, CURLOPT_URL, url);
    curl_easy_setopt(c.curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c.curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c.curl, CURLOPT_CONNECTTIMEOUT, (long)af_proto_opts_get_connect_timeout(opts));
    curl_easy_setopt(c.curl, CURLOPT_TIMEOUT, (long)af_proto_opts_get_total_timeout(opts));
    curl_easy_setopt(c.curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.curl, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(c.curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.curl, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(c.curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c.curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (af_proto_opts_get0_cafile(opts) != NULL)
        curl_easy_setopt(c.curl, CURLOPT_CAINFO, af_proto_opts_get0_cafile(opts));
    if (af_proto_opts_get0_cert(opts) != NULL) {
        if (af_proto_opts_get0_key(opts) == NULL) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "EST: a TLS client certificate needs its key");
            goto end;
        }
        if (curl_easy_setopt(c.curl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK) {
            AF_ERR(AF_R_INTERNAL, "EST: this libcurl cannot take a client key object (needs the "
                                  "OpenSSL backend)");
            goto end;
        }
        curl_easy_setopt(c.curl, CURLOPT_SSL_CTX_DATA, (void *)opts);
    }
    if (body != NULL) {
        curl_easy_setopt(c.curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c.curl, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(c.curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    /* curl's OpenSSL backend leaves its own errors on our queue; our one line says it all */
    ERR_set_mark();
    cr = curl_easy_perform(c.curl);
    ERR_pop_to_mark();
    if (c.too_big) {
        AF_ERR(AF_R_TOO_LARGE, "EST %s: response larger than %d bytes", url, AF_PROTO_MAX_RESPONSE);
        goto end;
    }
    if (cr != CURLE_OK) {
        AF_ERR(AF_R_PROTO_TRANSPORT, "EST %s: %s%s%s", url, curl_easy_strerror(cr),
               errbuf[0] ? ": " : "", errbuf);
        goto end;
    }
    curl_easy_getinfo(c.curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c.curl, CURLINFO_CONTENT_TYPE, &ct);
    if (!check_status(&c, code, ct, url, media))
        goto end;
    if (c.cookie_too_big) {
        AF_ERR(AF_R_TOO_LARGE, "EST %s: cookies longer than %d bytes", url, MAX_COOKIE);
        goto end;
    }
    if (!af_nonce_resp_decode(&r, prof, AF_NONCE_FMT_JSON, NULL, c.body, c.body_len))
        goto end;
    if (state != NULL) {
        if ((st = af_proto_state_new()) == NULL || !af_proto_state_fill(st, opts, url, r) ||
            (c.cookie[0] != '\0' && !af_proto_state_set1_cookie(st, c.cookie)) ||
            (c.tls_version[0] != '\0' && !af_proto_state_set1_tls_version(st, c.tls_version)) ||
            (c.have_cert_sha256 &&
             !af_proto_state_set1_tls_server_cert_sha256(st, c.cert_sha256, 32)) ||
            (c.session_id_len > 0 &&
             !af_proto_state_set1_tls_session_id(st, c.session_id, c.session_id_len)))
            goto end;
        *state = st;
        st = NULL;
    }
    *resp = r;
    r = NULL;
    ok = 1;
end:
    af_proto_http_put(opts, c.curl);
    curl_slist_free_all(hdrs);
    OPENSSL_free(c.body);
    OPENSSL_cleanse(c.cookie, sizeof(c.cookie));
    OPENSSL_free(body);
    OPENSSL_free(url);
    af_nonce_resp_free(r);
    af_proto_state_free(st);
    return ok;
}
