/* est_enroll.c - EST /simpleenroll (RFC 7030 4.2, 8951): a base64 PKCS#10 (application/pkcs10)
 * in, the issued certificate as base64 certs-only PKCS#7 (application/pkcs7-mime;
 * smime-type=certs-only) out. The CSR is bound to its nonce (nonce-protocol.md 5.2) by the cookie
 * the /nonce answer set (on any connection) or, without a cookie, by the TLS connection: the
 * binding value the server derives from this connection's tls-exporter is the one /nonce put in
 * the cookie when it came over the same connection. Neither: the request is not fresh. Refusals
 * carry one text/plain line naming the failed check: 400 (malformed, bad POP), 403 (attestation,
 * nonce, policy), 501 (no CA). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"

#define EST_CSR_MEDIA_TYPE "application/pkcs10"
#define EST_CERTS_MEDIA_TYPE "application/pkcs7-mime; smime-type=certs-only"
/* the verifier's words for a nonce recorded under another binding (enroll_ra.c) */
#define EST_WRONG_TX "nonce issued for another transaction"
#define EST_UNBOUND "nonce: the request is not bound to a transaction that got a nonce"

static int media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    if (ct == NULL)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* A status with a one-line text/plain body (the failed check and why), for the client to show. */
static int refuse(AF_RA_HTTP_RESP *rs, int status, const char *line)
{
    size_t n = strlen(line);

    rs->status = status;
    rs->body = OPENSSL_malloc(n + 1);
    if (rs->body != NULL) {
        memcpy(rs->body, line, n);
        rs->body[n] = '\n';
        rs->body_len = n + 1;
        snprintf(rs->content_type, sizeof(rs->content_type), "text/plain; charset=utf-8");
    }
    snprintf(rs->log, sizeof(rs->log), "est simpleenroll: %d %s", status, line);
    return 1;
}

/* base64 (line breaks allowed, RFC 7030 4.2.1) -> new DER buffer */
static unsigned char *unbase64(const unsigned char *in, size_t len, int *outlen)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    unsigned char *out = OPENSSL_malloc(len / 4 * 3 + 4);
    int n = 0, m = 0, ok = 0;

    if (ctx != NULL && out != NULL && len <= INT32_MAX) {
        EVP_DecodeInit(ctx);
        if (EVP_DecodeUpdate(ctx, out, &n, in, (int)len) >= 0 &&
            EVP_DecodeFinal(ctx, out + n, &m) > 0)
            ok = n + m > 0;
    }
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        OPENSSL_free(out);
        return NULL;
    }
    *outlen = n + m;
    return out;
}

/* certs-only SignedData (no signers) holding cert and, when wanted, the CA certificate, in
 * base64 with 64-column lines. */
static int certs_only_b64(X509 *cert, X509 *ca, unsigned char **out, size_t *outlen)
{
    PKCS7 *p7 = PKCS7_new();
    unsigned char *der = NULL, *b64 = NULL;
    EVP_ENCODE_CTX *ectx = NULL;
    int dlen = 0, n = 0, m = 0, ok = 0;

    if (p7 == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
        !PKCS7_content_new(p7, NID_pkcs7_data) || !PKCS7_add_certificate(p7, cert) ||
        (ca != NULL && !PKCS7_add_certificate(p7, ca)) || (dlen = i2d_PKCS7(p7, &der)) <= 0)
        goto done;
    if ((ectx = EVP_ENCODE_CTX_new()) == NULL ||
        (b64 = OPENSSL_malloc((size_t)dlen / 3 * 4 + (size_t)dlen / 48 + 8)) == NULL)
        goto done;
    EVP_EncodeInit(ectx);
    if (!EVP_EncodeUpdate(ectx, b64, &n, der, dlen))
        goto done;
    EVP_EncodeFinal(ectx, b64 + n, &m);
    *out = b64;
    *outlen = (size_t)(n + m);
    b64 = NULL;
    ok = 1;
done:
    EVP_ENCODE_CTX_free(ectx);
    OPENSSL_free(b64);
    OPENSSL_free(der);
    PKCS7_free(p7);
    return ok;
}

int af_ra_est_enroll_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs)
{
    AF_RA_ENROLL *e;
    AF_ENROLL_RESULT res;
    X509_REQ *req = NULL;
    X509 *cert = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    const char *binding, *how;
    char subj[120];
    int dlen = 0;

    if (ra == NULL || rq == NULL || rs == NULL)
        return 0;
    memset(rs, 0, sizeof(*rs));
    ERR_clear_error();
    if (rq->method == NULL || strcmp(rq->method, "POST") != 0) {
        snprintf(rs->allow, sizeof(rs->allow), "POST");
        rs->status = 405;
        snprintf(rs->log, sizeof(rs->log), "est simpleenroll: %s instead of POST",
                 rq->method != NULL ? rq->method : "?");
        return 1;
    }
    e = af_ra_get0_enroll(ra);
    if (e == NULL || af_ra_enroll_get0_ca(e) == NULL)
        return refuse(rs, 501, "config: this RA has no CA (attfresh serve --ca-cert/--ca-key)");
    if (!media_type_is(rq->content_type, EST_CSR_MEDIA_TYPE))
        return refuse(rs, 415, "request: Content-Type must be " EST_CSR_MEDIA_TYPE);
    if ((der = unbase64(rq->body, rq->body_len, &dlen)) == NULL)
        return refuse(rs, 400, "request: the body is not base64");
    p = der;
    req = d2i_X509_REQ(NULL, &p, dlen);
    if (req == NULL || p != der + dlen) {
        OPENSSL_free(der);
        X509_REQ_free(req);
        ERR_clear_error();
        return refuse(rs, 400, "request: the body is not one DER PKCS#10 request");
    }
    OPENSSL_free(der);
    /* the cookie value is exactly the binding the /nonce answer recorded; without one, the
     * binding value of this TLS connection is what /nonce recorded on the same connection */
    if (rq->cookie != NULL && rq->cookie[0] != '\0') {
        binding = rq->cookie;
        how = "the cookie";
    } else if (rq->tls_binding != NULL) {
        binding = rq->tls_binding;
        how = "the TLS connection";
    } else {
        X509_REQ_free(req);
        return refuse(rs, 403,
                      EST_UNBOUND ": no binding cookie and no TLS session binding"
                                  " (plain HTTP, or TLS 1.2 without extended master secret)");
    }
    cert = af_ra_enroll(ra, req, NULL, (const unsigned char *)binding, strlen(binding), &res, NULL);
    X509_REQ_free(req);
    if (cert == NULL && binding == rq->tls_binding && strcmp(res.check, AF_CHECK_NONCE) == 0 &&
        strcmp(res.why, AF_CHECK_NONCE ": " EST_WRONG_TX) == 0)
        /* a nonce from another connection: it was the cookie that would have bound it */
        return refuse(rs, 403,
                      EST_UNBOUND ": no binding cookie, and the nonce was not issued on"
                                  " this TLS connection");
    if (cert == NULL) {
        switch (res.cls) {
        case AF_ENROLL_NOT_AUTHORIZED:
            return refuse(rs, 403, res.why);
        case AF_ENROLL_NOT_CONFIGURED:
            return refuse(rs, 501, res.why);
        case AF_ENROLL_INTERNAL:
            return refuse(rs, 500, res.why);
        default:
            return refuse(rs, 400, res.why);
        }
    }
    if (!certs_only_b64(
            cert, af_ra_enroll_get_send_ca(e) ? af_ca_get0_cert(af_ra_enroll_get0_ca(e)) : NULL,
            &rs->body, &rs->body_len)) {
        X509_free(cert);
        return refuse(rs, 500, "ca: cannot encode the certificate");
    }
    rs->status = 200;
    snprintf(rs->content_type, sizeof(rs->content_type), "%s", EST_CERTS_MEDIA_TYPE);
    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
    snprintf(rs->log, sizeof(rs->log), "est simpleenroll: issued %s (bound by %s)", subj, how);
    X509_free(cert);
    return 1;
}
