/* enroll_client.c - the station's whole enrollment in one transaction: the nonce request
 * (proto.h), Evidence about the key signed by the AK and the attested CSR (evidence.h), then the
 * certification request that continues the nonce's transaction: CMP p10cr (or ir with the CRMF
 * extension) with the genm's transactionID and recipNonce = the genp's senderNonce; EST
 * /simpleenroll with the binding cookie; CMC Full PKI Request with the same transactionId. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/asn1t.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"
#include "evidence/ev_local.h"
#include "ra/enroll_local.h"
#include "proto/cmc.h"
#include "proto/proto_station.h"

#define ENROLL_SENDER_NONCE_BYTES 16

struct af_enroll_st {
    const AF_PROTO_OPTS *opts;
    EVP_PKEY *key;
    char *key_name;
    EVP_PKEY *ak;
    X509 *ak_cert;
    STACK_OF(X509) * chain;
    char *subject;
    char *sans;
    int crmf;
    AF_PROTO_STATE *state;   /* given, or from the nonce exchange */
    STACK_OF(X509) * extra;  /* what the RA sent along with the certificate */
    AF_EST_CERTS *extra_der; /* EST: the same, not decoded until asked for */
};

AF_ENROLL *af_enroll_new(const AF_PROTO_OPTS *opts)
{
    AF_ENROLL *en;

    if (opts == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "enrollment without protocol options");
        return NULL;
    }
    if ((en = OPENSSL_zalloc(sizeof(*en))) == NULL) {
        AF_ERR(AF_R_MALLOC, "enrollment");
        return NULL;
    }
    en->opts = opts;
    return en;
}

void af_enroll_free(AF_ENROLL *en)
{
    if (en == NULL)
        return;
    EVP_PKEY_free(en->key);
    EVP_PKEY_free(en->ak);
    X509_free(en->ak_cert);
    sk_X509_pop_free(en->chain, X509_free);
    sk_X509_pop_free(en->extra, X509_free);
    af_est_certs_free(en->extra_der);
    OPENSSL_free(en->key_name);
    OPENSSL_free(en->subject);
    OPENSSL_free(en->sans);
    af_proto_state_free(en->state);
    OPENSSL_free(en);
}

static int set_str(char **field, const char *v)
{
    char *c = NULL;

    if (v != NULL && (c = OPENSSL_strdup(v)) == NULL) {
        AF_ERR(AF_R_MALLOC, "enrollment");
        return 0;
    }
    OPENSSL_free(*field);
    *field = c;
    return 1;
}

int af_enroll_set1_key(AF_ENROLL *en, EVP_PKEY *key, const char *key_name)
{
    if (en == NULL || key == NULL || key_name == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the key to certify and its name are required");
        return 0;
    }
    if (!set_str(&en->key_name, key_name) || !EVP_PKEY_up_ref(key))
        return 0;
    EVP_PKEY_free(en->key);
    en->key = key;
    return 1;
}

int af_enroll_set1_ak(AF_ENROLL *en, EVP_PKEY *ak, X509 *ak_cert)
{
    if (en == NULL || ak == NULL || ak_cert == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the attestation key and its certificate are required");
        return 0;
    }
    if (!EVP_PKEY_up_ref(ak))
        return 0;
    if (!X509_up_ref(ak_cert)) {
        EVP_PKEY_free(ak);
        return 0;
    }
    EVP_PKEY_free(en->ak);
    X509_free(en->ak_cert);
    en->ak = ak;
    en->ak_cert = ak_cert;
    return 1;
}

int af_enroll_set1_chain(AF_ENROLL *en, STACK_OF(X509) * chain)
{
    STACK_OF(X509) *c = NULL;

    if (en == NULL)
        return 0;
    if (chain != NULL && (c = X509_chain_up_ref(chain)) == NULL)
        return 0;
    sk_X509_pop_free(en->chain, X509_free);
    en->chain = c;
    return 1;
}

int af_enroll_set1_subject(AF_ENROLL *en, const char *subject, const char *sans)
{
    if (en == NULL || subject == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "a subject is required");
        return 0;
    }
    return set_str(&en->subject, subject) && set_str(&en->sans, sans);
}

void af_enroll_set_crmf(AF_ENROLL *en, int crmf)
{
    if (en != NULL)
        en->crmf = crmf != 0;
}

int af_enroll_set1_state(AF_ENROLL *en, const AF_PROTO_STATE *st)
{
    AF_PROTO_STATE *d = NULL;

    if (en == NULL)
        return 0;
    if (st != NULL && (d = af_proto_state_dup(st)) == NULL)
        return 0;
    af_proto_state_free(en->state);
    en->state = d;
    return 1;
}

STACK_OF(X509) * af_enroll_get0_extra_certs(const AF_ENROLL *en)
{
    AF_ENROLL *e = (AF_ENROLL *)en; /* the decoded chain is a cache of extra_der */

    if (en == NULL)
        return NULL;
    if (e->extra == NULL && e->extra_der != NULL &&
        (e->extra = af_est_certs_get1_all(e->extra_der)) != NULL) {
        af_est_certs_free(e->extra_der);
        e->extra_der = NULL;
    }
    return e->extra;
}

/* Forgets what an earlier run was sent along. */
static void clear_extra(AF_ENROLL *en)
{
    sk_X509_pop_free(en->extra, X509_free);
    en->extra = NULL;
    af_est_certs_free(en->extra_der);
    en->extra_der = NULL;
}

/* ---- Evidence and bundle ------------------------------------------------------------------- */

/* The nonce to attest: the first item of the RA's answer kept in the state. */
static int state_nonce(const AF_PROTO_STATE *st, const unsigned char **n, size_t *len)
{
    const AF_NONCE_RESP *resp = af_proto_state_get0_response(st);

    *n = NULL;
    *len = 0;
    if (resp != NULL && af_nonce_resp_get_count(resp) > 0)
        af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), n, len);
    if (*n == NULL || *len == 0) {
        AF_ERR(AF_R_PROTO_NO_NONCE, "the RA gave no nonce to attest (empty nonce)");
        return 0;
    }
    return 1;
}

static AF_BUNDLE *make_bundle(AF_ENROLL *en)
{
    OSSL_LIB_CTX *libctx = af_proto_opts_get0_libctx(en->opts);
    const char *propq = af_proto_opts_get0_propq(en->opts);
    const unsigned char *nonce;
    size_t nlen;
    AF_ATTEST *at = NULL;
    AF_EVIDENCE *ev = NULL;
    AF_BUNDLE *b = NULL;
    int i, ok = 0;

    if (!state_nonce(en->state, &nonce, &nlen))
        return NULL;
    if ((at = af_attest_new(libctx, propq)) == NULL || !af_attest_set1_nonce(at, nonce, nlen) ||
        !af_attest_add_key(at, en->key, en->key_name, NULL) ||
        !af_attest_set1_ak(at, en->ak, en->ak_cert) || (ev = af_attest_sign(at)) == NULL ||
        (b = af_bundle_new()) == NULL || !af_bundle_add_evidence(b, ev))
        goto done;
    /* the AK chain without self-signed roots (the RA has its own anchors) */
    if (X509_self_signed(en->ak_cert, 0) != 1 && !af_bundle_add1_cert(b, en->ak_cert))
        goto done;
    for (i = 0; i < sk_X509_num(en->chain); i++) {
        X509 *x = sk_X509_value(en->chain, i);

        if (X509_self_signed(x, 0) != 1 && X509_cmp(x, en->ak_cert) != 0 &&
            !af_bundle_add1_cert(b, x))
            goto done;
    }
    ok = 1;
done:
    if (!ok) {
        af_bundle_free(b);
        b = NULL;
    }
    af_evidence_free(ev);
    af_attest_free(at);
    return b;
}

/* ---- CMP ----------------------------------------------------------------------------------- */

static void cmp_refusal(OSSL_CMP_CTX *ctx, const char *what)
{
    char status[400] = "";
    int st = OSSL_CMP_CTX_get_status(ctx);

    if (st >= 0 && OSSL_CMP_CTX_snprint_PKIStatus(ctx, status, sizeof(status)) != NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_PROTO_PKISTATUS, "CMP %s refused: %s", what, status);
    } else {
        char why[300];

        af_err_line(why, sizeof(why));
        AF_ERR(AF_R_PROTO_TRANSPORT, "CMP %s: %s", what, why);
    }
}

/* A client context for the options. */
static OSSL_CMP_CTX *cmp_ctx_new(const AF_ENROLL *en)
{
    OSSL_CMP_CTX *ctx =
        OSSL_CMP_CTX_new(af_proto_opts_get0_libctx(en->opts), af_proto_opts_get0_propq(en->opts));

    if (ctx == NULL) {
        AF_ERR(AF_R_MALLOC, "CMP client context");
        return NULL;
    }
    if (!af_cmp_ctx_setup(ctx, en->opts)) {
        OSSL_CMP_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* ctx: the context of the nonce request (same transaction, recipNonce already known to OpenSSL),
 * or NULL to continue a saved state in a new one; link: the nonce request's connection, or NULL.
 * Frees ctx. */
static X509 *enroll_cmp(AF_ENROLL *en, const AF_BUNDLE *b, OSSL_CMP_CTX *ctx, AF_CMP_LINK *link)
{
    OSSL_LIB_CTX *libctx = af_proto_opts_get0_libctx(en->opts);
    const char *propq = af_proto_opts_get0_propq(en->opts);
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    OSSL_CRMF_MSG *crm = NULL;
    X509 *cert = NULL;
    const char *what = en->crmf ? "ir" : "p10cr";

    /* On the nonce request's context af_cmp_ctx_continue sets the same transactionID again and
     * its transfer callback finds recipNonce already set, so the request goes out unchanged. */
    if ((ctx == NULL && (ctx = cmp_ctx_new(en)) == NULL) ||
        !af_cmp_ctx_continue_link(ctx, en->state, link)
        /* one round trip: the RA grants implicit confirmation, so no certConf follows */
        || !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, 1))
        goto done;
    if (en->crmf) {
        /* ir: our CertReqMsg (subject, key, SAN, attestation extension, POPO signed in the token):
         * OpenSSL's own template goes from the token key through an encoder and a decoder to the
         * SubjectPublicKeyInfo, ours from the key's public parameters. The context still gets the
         * key (the answer's certificate must be for it) and the subject (the header's sender). */
        if ((crm = af_crmf_new(en->key, en->subject, en->sans, b, libctx, propq)) == NULL ||
            (name = af_parse_dn(en->subject)) == NULL || !EVP_PKEY_up_ref(en->key))
            goto done;
        if (!OSSL_CMP_CTX_set0_newPkey(ctx, 1, en->key)) {
            EVP_PKEY_free(en->key);
            goto done;
        }
        if (!OSSL_CMP_CTX_set1_subjectName(ctx, name))
            goto done;
        cert = OSSL_CMP_exec_certreq(ctx, OSSL_CMP_IR, crm);
    } else {
        if ((req = af_csr_new(en->key, en->subject, en->sans, b, libctx, propq)) == NULL ||
            !OSSL_CMP_CTX_set1_p10CSR(ctx, req))
            goto done;
        cert = OSSL_CMP_exec_P10CR_ses(ctx);
    }
    if (cert == NULL) {
        cmp_refusal(ctx, what);
        goto done;
    }
    if (!X509_up_ref(cert)) {
        cert = NULL;
        goto done;
    }
    clear_extra(en);
    /* caPubs when the RA sent some, else the extraCerts (where RAs put the chain) */
    en->extra = OSSL_CMP_CTX_get1_caPubs(ctx);
    if (sk_X509_num(en->extra) <= 0) {
        sk_X509_pop_free(en->extra, X509_free);
        en->extra = OSSL_CMP_CTX_get1_extraCertsIn(ctx);
    }
done:
    OSSL_CRMF_MSG_free(crm);
    X509_NAME_free(name);
    X509_REQ_free(req);
    OSSL_CMP_CTX_free(ctx);
    return cert;
}

/* ---- HTTP POST (EST over HTTPS, CMC over HTTP) with libcurl -------------------------------- */

typedef struct {
    unsigned char *body;
    size_t len;
    int too_big;
    char content_type[128];
} http_answer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    http_answer *a = arg;
    size_t n = size * nmemb;
    unsigned char *nb;

    if (a->too_big || a->len + n > AF_PROTO_MAX_RESPONSE) {
        a->too_big = 1;
        return n;
    }
    if ((nb = OPENSSL_realloc(a->body, a->len + n + 1)) == NULL)
        return 0;
    memcpy(nb + a->len, data, n);
    a->body = nb;
    a->len += n;
    a->body[a->len] = '\0';
    return n;
}

static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *arg)
{
    const AF_PROTO_OPTS *o = arg;

    (void)curl;
    if (af_proto_opts_get0_cert(o) == NULL || af_proto_opts_get0_key(o) == NULL)
        return CURLE_OK;
    if (SSL_CTX_use_certificate(sslctx, af_proto_opts_get0_cert(o)) != 1 ||
        SSL_CTX_use_PrivateKey(sslctx, af_proto_opts_get0_key(o)) != 1)
        return CURLE_SSL_CERTPROBLEM;
    return CURLE_OK;
}

/* POSTs body; *status gets the HTTP status. Returns 1 when an answer arrived. */
static int http_post(const AF_PROTO_OPTS *o, const char *url, const char *ctype, const char *cookie,
                     const unsigned char *body, size_t len, long *status, http_answer *a)
{
    /* the options' handle: the connection (and TLS session) of the nonce request */
    CURL *curl = af_proto_http_get(o);
    struct curl_slist *hdrs = NULL;
    char ct[160], errbuf[CURL_ERROR_SIZE] = "";
    const char *got = NULL;
    CURLcode rc;

    memset(a, 0, sizeof(*a));
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    /* no "Expect: 100-continue" (libcurl adds it to bodies over 1 KiB): one round trip less */
    if (curl == NULL || (hdrs = curl_slist_append(NULL, ct)) == NULL ||
        curl_slist_append(hdrs, "Expect:") == NULL) {
        curl_slist_free_all(hdrs);
        af_proto_http_put(o, curl);
        AF_ERR(AF_R_MALLOC, "HTTP client");
        return 0;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)af_proto_opts_get_connect_timeout(o));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)af_proto_opts_get_total_timeout(o));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (af_proto_opts_get0_cafile(o) != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, af_proto_opts_get0_cafile(o));
    if (af_proto_opts_get0_cert(o) != NULL) {
        curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, (void *)o);
    }
    if (cookie != NULL)
        curl_easy_setopt(curl, CURLOPT_COOKIE, cookie);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
        if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &got) == CURLE_OK && got != NULL)
            snprintf(a->content_type, sizeof(a->content_type), "%s", got);
    }
    curl_slist_free_all(hdrs);
    af_proto_http_put(o, curl);
    if (rc != CURLE_OK) {
        AF_ERR(AF_R_PROTO_TRANSPORT, "%s: %s", url,
               errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        return 0;
    }
    if (a->too_big) {
        AF_ERR(AF_R_TOO_LARGE, "%s: answer larger than %d bytes", url, AF_PROTO_MAX_RESPONSE);
        return 0;
    }
    return 1;
}

static int media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* ---- EST ----------------------------------------------------------------------------------- */

/* ".../nonce" or ".../.well-known/est[/<label>]" or "https://h:p" -> ".../simpleenroll" */
static char *simpleenroll_url(const char *url)
{
    size_t n = strlen(url);
    const char *scheme_end = strstr(url, "://");
    char *u = OPENSSL_malloc(n + sizeof("/.well-known/est/simpleenroll"));

    if (u == NULL) {
        AF_ERR(AF_R_MALLOC, "EST URL");
        return NULL;
    }
    memcpy(u, url, n + 1);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
    if (n >= 6 && strcmp(u + n - 6, "/nonce") == 0)
        u[n -= 6] = '\0';
    if (strstr(u, "/.well-known/est") != NULL) {
        strcat(u, "/simpleenroll");
    } else if (scheme_end != NULL && strchr(scheme_end + 3, '/') == NULL) {
        strcat(u, "/.well-known/est/simpleenroll");
    } else {
        AF_ERR(AF_R_INVALID_ARGUMENT,
               "EST URL %s: want https://HOST[:PORT][/.well-known/est"
               "[/<label>]]",
               url);
        OPENSSL_free(u);
        return NULL;
    }
    return u;
}

static X509 *enroll_est(AF_ENROLL *en, const AF_BUNDLE *b)
{
    OSSL_LIB_CTX *libctx = af_proto_opts_get0_libctx(en->opts);
    const char *propq = af_proto_opts_get0_propq(en->opts);
    const char *base = af_proto_state_get0_url(en->state);
    X509_REQ *req = NULL;
    unsigned char *der = NULL, *b64 = NULL, *p7der = NULL;
    char *url = NULL;
    http_answer a;
    AF_EST_CERTS *certs = NULL;
    X509 *cert = NULL;
    long status = 0, connects = 0;
    int dlen, n, by_tls = af_proto_state_get0_cookie(en->state) == NULL;

    memset(&a, 0, sizeof(a));
    if (base == NULL)
        base = af_proto_opts_get0_url(en->opts);
    /* nonce-protocol.md 5.2: without a binding the RA cannot treat the CSR as fresh. Without the
     * cookie the RA binds by the TLS connection: the request must go out on the connection the
     * options kept from the nonce exchange (which libcurl reuses when it is still open). */
    if (by_tls && strncasecmp(base, "https://", 8) != 0) {
        AF_ERR(AF_R_PROTO_BINDING, "EST: no binding cookie from the nonce exchange, and over plain "
                                   "HTTP there is no TLS connection the RA could bind by");
        return NULL;
    }
    if (by_tls && (connects = af_proto_http_connects(en->opts)) == 0) {
        AF_ERR(AF_R_PROTO_BINDING,
               "EST: no binding cookie from the nonce exchange, and its TLS connection is not "
               "here to continue on (a saved state?): the RA binds without the cookie only on the "
               "same TLS connection");
        return NULL;
    }
    if ((url = simpleenroll_url(base)) == NULL ||
        (req = af_csr_new(en->key, en->subject, en->sans, b, libctx, propq)) == NULL ||
        (dlen = i2d_X509_REQ(req, &der)) <= 0 ||
        (b64 = OPENSSL_malloc((size_t)dlen / 3 * 4 + 8)) == NULL)
        goto done;
    n = EVP_EncodeBlock(b64, der, dlen);
    if (!http_post(en->opts, url, "application/pkcs10", af_proto_state_get0_cookie(en->state), b64,
                   (size_t)n, &status, &a))
        goto done;
    if (status != 200) {
        /* the RA's one text line names the failed check */
        const char *text = a.body != NULL && media_type_is(a.content_type, "text/plain")
                               ? (const char *)a.body
                               : "";
        size_t tl = strcspn(text, "\r\n");

        AF_ERR(AF_R_PROTO_HTTP_STATUS, "EST simpleenroll: HTTP %ld%s%.*s%s", status,
               tl > 0 ? ": " : "", (int)(tl > 200 ? 200 : tl), text,
               by_tls && af_proto_http_connects(en->opts) != connects
                   ? " (no binding cookie, and the request went out on a new TLS connection, not "
                     "the nonce exchange's)"
                   : "");
        goto done;
    }
    if (!media_type_is(a.content_type, "application/pkcs7-mime")) {
        AF_ERR(AF_R_PROTO_MEDIA_TYPE,
               "EST simpleenroll: Content-Type '%.60s', want "
               "application/pkcs7-mime",
               a.content_type);
        goto done;
    }
    {
        EVP_ENCODE_CTX *ectx = EVP_ENCODE_CTX_new();
        int k = 0, m = 0, ok = 0;

        if (ectx != NULL && (p7der = OPENSSL_malloc(a.len / 4 * 3 + 4)) != NULL) {
            EVP_DecodeInit(ectx);
            ok = EVP_DecodeUpdate(ectx, p7der, &k, a.body, (int)a.len) >= 0 &&
                 EVP_DecodeFinal(ectx, p7der + k, &m) > 0;
        }
        EVP_ENCODE_CTX_free(ectx);
        if (!ok || (certs = af_est_certs_d2i(p7der, (size_t)(k + m))) == NULL) {
            ERR_clear_error();
            AF_ERR(AF_R_NONCE_DECODE, "EST simpleenroll: the answer is not a base64 "
                                      "certs-only PKCS#7");
            goto done;
        }
    }
    if ((cert = af_est_certs_get1_for(certs, en->key)) != NULL) {
        clear_extra(en);
        en->extra_der = certs;
        certs = NULL;
    }
done:
    af_est_certs_free(certs);
    OPENSSL_free(p7der);
    OPENSSL_free(a.body);
    OPENSSL_free(b64);
    OPENSSL_free(der);
    OPENSSL_free(url);
    X509_REQ_free(req);
    return cert;
}

/* ---- EST answer: certificates kept as DER ------------------------------------------------ */

/* An EST answer (RFC 7030 4.2.3: certs-only CMS SignedData) with its certificates kept as DER.
 * d2i_PKCS7 decodes every certificate, and in OpenSSL 3.0 each certificate's public key costs an
 * OSSL_DECODER_CTX (more than a token signature); the station needs only its own certificate
 * now, the rest (the chain) when somebody asks for it. RFC 5652 5.1, fields not looked at kept
 * as ANY. The templates are at the end of the file. */
typedef struct {
    ASN1_INTEGER *version;
    STACK_OF(ASN1_TYPE) * digest_algs;
    ASN1_TYPE *encap;
    STACK_OF(ASN1_TYPE) * certs;
    STACK_OF(ASN1_TYPE) * crls;
    STACK_OF(ASN1_TYPE) * signer_infos;
} AF_EST_SIGNED;

typedef struct {
    ASN1_OBJECT *type;
    AF_EST_SIGNED *signed_data;
} AF_EST_P7;

DECLARE_ASN1_FUNCTIONS(AF_EST_P7)

struct af_est_certs_st {
    AF_EST_P7 *p7;
    X509 *issued;   /* the certificate af_est_certs_get1_for decoded, */
    int issued_idx; /* at this index */
};

void af_est_certs_free(AF_EST_CERTS *c)
{
    if (c == NULL)
        return;
    AF_EST_P7_free(c->p7);
    X509_free(c->issued);
    OPENSSL_free(c);
}

AF_EST_CERTS *af_est_certs_d2i(const unsigned char *der, size_t len)
{
    AF_EST_CERTS *c = OPENSSL_zalloc(sizeof(*c));
    const unsigned char *p = der;
    STACK_OF(ASN1_TYPE) * certs;
    int i, ok;

    if (c == NULL) {
        AF_ERR(AF_R_MALLOC, "EST answer");
        return NULL;
    }
    c->issued_idx = -1;
    ok = der != NULL && len > 0 && len <= AF_PROTO_MAX_RESPONSE &&
         (c->p7 = d2i_AF_EST_P7(NULL, &p, (long)len)) != NULL &&
         OBJ_obj2nid(c->p7->type) == NID_pkcs7_signed;
    /* only certificates (RFC 7030 4.2.3 sends no other CertificateChoices), as d2i_PKCS7 would
     * have insisted */
    certs = ok ? c->p7->signed_data->certs : NULL;
    for (i = 0; ok && i < sk_ASN1_TYPE_num(certs); i++)
        ok = sk_ASN1_TYPE_value(certs, i)->type == V_ASN1_SEQUENCE;
    if (!ok) {
        ERR_clear_error();
        AF_ERR(AF_R_NONCE_DECODE, "EST: the answer is not a certs-only PKCS#7");
        af_est_certs_free(c);
        return NULL;
    }
    return c;
}

/* der[0..len) holds part somewhere. */
static int holds(const unsigned char *der, size_t len, const unsigned char *part, size_t plen)
{
    size_t i;

    for (i = 0; part != NULL && plen > 0 && i + plen <= len; i++)
        if (der[i] == part[0] && memcmp(der + i, part, plen) == 0)
            return 1;
    return 0;
}

X509 *af_est_certs_get1_for(AF_EST_CERTS *c, EVP_PKEY *key)
{
    STACK_OF(ASN1_TYPE) *certs = c != NULL ? c->p7->signed_data->certs : NULL;
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    int pass, i;

    if (c != NULL && c->issued != NULL && EVP_PKEY_eq(X509_get0_pubkey(c->issued), key) == 1)
        return X509_up_ref(c->issued) ? c->issued : NULL;
    if (key == NULL || !af_ev_spki_der(key, &spki, &spki_len))
        ERR_clear_error(); /* then every certificate is tried */
    for (pass = spki == NULL; pass < 2; pass++) {
        for (i = 0; i < sk_ASN1_TYPE_num(certs); i++) {
            const ASN1_TYPE *t = sk_ASN1_TYPE_value(certs, i);
            const unsigned char *der = t->value.sequence->data, *p = der;
            size_t len = (size_t)t->value.sequence->length;
            X509 *x;

            if (holds(der, len, spki, spki_len) != (pass == 0))
                continue;
            if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
                ERR_clear_error();
                continue;
            }
            if (EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1 && X509_up_ref(x)) {
                OPENSSL_free(spki);
                X509_free(c->issued);
                c->issued = x;
                c->issued_idx = i;
                return x;
            }
            X509_free(x);
        }
    }
    OPENSSL_free(spki);
    ERR_clear_error();
    AF_ERR(AF_R_PROTO_BINDING, "the RA's answer holds no certificate for our key");
    return NULL;
}

STACK_OF(X509) * af_est_certs_get1_all(const AF_EST_CERTS *c)
{
    STACK_OF(ASN1_TYPE) *certs = c != NULL ? c->p7->signed_data->certs : NULL;
    STACK_OF(X509) *sk = sk_X509_new_null();
    int i;

    if (sk == NULL) {
        AF_ERR(AF_R_MALLOC, "certificates");
        return NULL;
    }
    for (i = 0; i < sk_ASN1_TYPE_num(certs); i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(certs, i);
        const unsigned char *p = t->value.sequence->data;
        X509 *x = NULL;

        if (i == c->issued_idx && X509_up_ref(c->issued))
            x = c->issued;
        if ((x == NULL && (x = d2i_X509(NULL, &p, t->value.sequence->length)) == NULL) ||
            !sk_X509_push(sk, x)) {
            X509_free(x);
            sk_X509_pop_free(sk, X509_free);
            ERR_clear_error();
            AF_ERR(AF_R_NONCE_DECODE, "EST: certificate %d of the answer does not decode", i + 1);
            return NULL;
        }
    }
    return sk;
}

/* ---- trust in what the RA sent ------------------------------------------------------------ */

/* 1 when x chains to the options' trusted certificates, with untrusted as intermediates; what
 * names x in the error line. Any purpose: the RA's CA signs CMC answers with a certificate made
 * for issuing, and the issued certificate's profile is the RA's choice. */
static int chains_to_trusted(const AF_PROTO_OPTS *o, X509 *x, STACK_OF(X509) * untrusted,
                             const char *what)
{
    X509_STORE_CTX *vc =
        X509_STORE_CTX_new_ex(af_proto_opts_get0_libctx(o), af_proto_opts_get0_propq(o));
    char subject[256] = "";
    int ok = 0, err = X509_V_OK;

    if (vc != NULL && X509_STORE_CTX_init(vc, af_proto_opts_get0_trusted(o), x, untrusted)) {
        X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(vc), X509_PURPOSE_ANY);
        ok = X509_verify_cert(vc) == 1;
        err = X509_STORE_CTX_get_error(vc);
    }
    X509_STORE_CTX_free(vc);
    if (!ok) {
        ERR_clear_error();
        X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
        AF_ERR(AF_R_PROTO_PROTECTION, "%s (%s) does not chain to the trusted certificates: %s",
               what, subject, err != X509_V_OK ? X509_verify_cert_error_string(err) : "error");
    }
    return ok;
}

/* ---- CMC ----------------------------------------------------------------------------------- */

static X509 *enroll_cmc(AF_ENROLL *en, const AF_BUNDLE *b)
{
    OSSL_LIB_CTX *libctx = af_proto_opts_get0_libctx(en->opts);
    const char *propq = af_proto_opts_get0_propq(en->opts);
    const char *url = af_proto_state_get0_url(en->state);
    const unsigned char *txid;
    unsigned char sn[ENROLL_SENDER_NONCE_BYTES], *der = NULL;
    size_t txid_len = 0, dlen = 0;
    X509_REQ *req = NULL;
    http_answer a;
    AF_CMC_ENROLL_RESP r;
    X509 *cert = NULL;
    long status = 0;
    char name[32];

    memset(&a, 0, sizeof(a));
    memset(&r, 0, sizeof(r));
    if (url == NULL)
        url = af_proto_opts_get0_url(en->opts);
    if ((txid = af_proto_state_get0_transaction_id(en->state, &txid_len)) == NULL) {
        AF_ERR(AF_R_PROTO_BINDING, "CMC: no transactionId from the nonce exchange");
        return NULL;
    }
    if (RAND_bytes_ex(libctx, sn, sizeof(sn), 0) <= 0 ||
        (req = af_csr_new(en->key, en->subject, en->sans, b, libctx, propq)) == NULL ||
        !af_cmc_enroll_request_encode(txid, txid_len, sn, sizeof(sn), req, &der, &dlen) ||
        !http_post(en->opts, url, AF_CMC_REQUEST_CT, NULL, der, dlen, &status, &a))
        goto done;
    if (status != 200) {
        AF_ERR(AF_R_PROTO_HTTP_STATUS, "CMC enrollment: HTTP %ld", status);
        goto done;
    }
    if (!media_type_is(a.content_type, AF_CMC_MEDIA_TYPE)) {
        AF_ERR(AF_R_PROTO_MEDIA_TYPE, "CMC: Content-Type '%.60s', want %s", a.content_type,
               AF_CMC_RESPONSE_CT);
        goto done;
    }
    if (!af_cmc_enroll_response_decode(a.body, a.len, en->key, &r))
        goto done;
    if (r.txid == NULL || r.txid_len != txid_len || memcmp(r.txid, txid, txid_len) != 0 ||
        r.recip_nonce == NULL || r.recip_nonce_len != sizeof(sn) ||
        memcmp(r.recip_nonce, sn, sizeof(sn)) != 0) {
        AF_ERR(AF_R_PROTO_BINDING, "CMC: the response %s",
               r.txid == NULL || r.txid_len != txid_len || memcmp(r.txid, txid, txid_len) != 0
                   ? "is for another transactionId"
                   : "does not echo our senderNonce");
        goto done;
    }
    if (r.status != AF_CMC_STATUS_SUCCESS) {
        AF_ERR(AF_R_PROTO_PKISTATUS, "CMC enrollment refused: %s%s%s",
               r.status == AF_CMC_STATUS_NO_SUPPORT ? "noSupport"
               : r.fail_info >= 0 ? af_cmc_fail_info_name(r.fail_info, name, sizeof(name))
                                  : "failed",
               r.status_string[0] != '\0' ? ": " : "", r.status_string);
        goto done;
    }
    if (r.cert == NULL) {
        AF_ERR(AF_R_PROTO_BINDING, "CMC: the response holds no certificate for our key");
        goto done;
    }
    if (af_proto_opts_get0_trusted(en->opts) != NULL && r.signer != NULL &&
        !chains_to_trusted(en->opts, r.signer, r.certs, "CMC: the Full PKI Response's signer"))
        goto done;
    cert = r.cert;
    r.cert = NULL;
    clear_extra(en);
    en->extra = r.certs;
    r.certs = NULL;
done:
    af_cmc_enroll_resp_cleanup(&r);
    OPENSSL_cleanse(sn, sizeof(sn));
    OPENSSL_free(a.body);
    OPENSSL_free(der);
    X509_REQ_free(req);
    return cert;
}

/* ---- the flow ------------------------------------------------------------------------------ */

X509 *af_enroll_run(AF_ENROLL *en, AF_PROTO_STATE **state)
{
    AF_NONCE_RESP *resp = NULL;
    AF_BUNDLE *b = NULL;
    X509 *cert = NULL;
    OSSL_CMP_CTX *cmp = NULL;
    AF_CMP_LINK *link = NULL;
    af_proto proto;

    if (state != NULL)
        *state = NULL;
    if (en == NULL || en->key == NULL || en->ak == NULL || en->subject == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "enrollment needs the key, the AK and a subject");
        return NULL;
    }
    proto = af_proto_opts_get_protocol(en->opts);
    if (en->state == NULL && proto == AF_PROTO_CMP) {
        /* genm and p10cr/ir in one context (no re-protection of the request) and over one
         * connection */
        if ((cmp = cmp_ctx_new(en)) == NULL || (link = af_cmp_link_new(en->opts)) == NULL ||
            !af_cmp_get_nonce_ctx(cmp, en->opts, link, &resp, &en->state)) {
            af_cmp_link_free(link);
            OSSL_CMP_CTX_free(cmp);
            return NULL;
        }
        af_nonce_resp_free(resp);
    } else if (en->state == NULL) {
        if (!af_proto_get_nonce(en->opts, &resp, &en->state))
            return NULL;
        af_nonce_resp_free(resp);
    } else if (af_proto_state_get_protocol(en->state) != proto) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the state is from a %s exchange, not %s",
               af_proto_name(af_proto_state_get_protocol(en->state)), af_proto_name(proto));
        return NULL;
    }
    if ((b = make_bundle(en)) == NULL) {
        af_cmp_link_free(link);
        OSSL_CMP_CTX_free(cmp);
        return NULL;
    }
    switch (proto) {
    case AF_PROTO_CMP:
        cert = enroll_cmp(en, b, cmp, link);
        break;
    case AF_PROTO_EST:
        cert = enroll_est(en, b);
        break;
    case AF_PROTO_CMC:
        cert = enroll_cmc(en, b);
        break;
    default:
        AF_ERR(AF_R_INVALID_ARGUMENT, "no protocol chosen");
        break;
    }
    af_bundle_free(b);
    af_cmp_link_free(link);
    /* with trusted certificates given, the certificate must chain to them through what the RA
     * sent along (caPubs/extraCerts, the PKCS#7's or the SignedData's certificates) */
    if (cert != NULL && af_proto_opts_get0_trusted(en->opts) != NULL &&
        !chains_to_trusted(en->opts, cert, af_enroll_get0_extra_certs(en),
                           "the issued certificate")) {
        X509_free(cert);
        cert = NULL;
    }
    if (cert != NULL && state != NULL)
        *state = af_proto_state_dup(en->state);
    return cert;
}

/* The template macros read best one field per line. */
// clang-format off
ASN1_SEQUENCE(AF_EST_SIGNED) = {
    ASN1_SIMPLE(AF_EST_SIGNED, version, ASN1_INTEGER),
    ASN1_SET_OF(AF_EST_SIGNED, digest_algs, ASN1_ANY),
    ASN1_SIMPLE(AF_EST_SIGNED, encap, ASN1_ANY),
    ASN1_IMP_SET_OF_OPT(AF_EST_SIGNED, certs, ASN1_ANY, 0),
    ASN1_IMP_SET_OF_OPT(AF_EST_SIGNED, crls, ASN1_ANY, 1),
    ASN1_SET_OF(AF_EST_SIGNED, signer_infos, ASN1_ANY),
} ASN1_SEQUENCE_END(AF_EST_SIGNED)

ASN1_SEQUENCE(AF_EST_P7) = {
    ASN1_SIMPLE(AF_EST_P7, type, ASN1_OBJECT),
    ASN1_EXP(AF_EST_P7, signed_data, AF_EST_SIGNED, 0),
} ASN1_SEQUENCE_END(AF_EST_P7)
    // clang-format on

    IMPLEMENT_ASN1_FUNCTIONS(AF_EST_P7)
