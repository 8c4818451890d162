/* attfresh/server.h - the RA side of the nonce exchange: an RA context (nonce store, HSM random,
 * rate limits, protocol secrets) and one transport-independent responder per protocol, which the
 * HTTP(S) server (`attfresh serve`) calls for its paths. A responder never fails silently: it
 * always fills the response (status, body, log line), also for bad requests. */
#ifndef ATTFRESH_SERVER_H
#define ATTFRESH_SERVER_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attfresh/nonce.h"
#include "attfresh/ra.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct af_ra_st AF_RA;

/* One HTTP request as the server hands it to a responder. All pointers borrowed. */
typedef struct {
    const char *method;           /* "GET", "POST" */
    const char *path;             /* full request path */
    const char *profile;          /* wire profile chosen by the path; never NULL */
    const char *label;            /* EST <label> / CMP p/<name> segment, or NULL */
    const char *content_type;     /* request Content-Type, or NULL */
    const char *cookie;           /* value of the RA's binding cookie, or NULL */
    const unsigned char *body;    /* request body (bounded by the server) */
    size_t body_len;
    const unsigned char *requester; /* client identity: address, or TLS client cert digest */
    size_t requester_len;
    int tls;                      /* 1 on the HTTPS listener */
} AF_RA_HTTP_REQ;

/* What the responder answers; the server sends it and frees body with OPENSSL_free. */
typedef struct {
    int status;               /* HTTP status */
    char content_type[96];    /* empty: no Content-Type (e.g. 400 without body) */
    unsigned char *body;
    size_t body_len;
    char set_cookie[256];     /* full Set-Cookie value, or empty */
    char log[256];            /* one-line outcome for the request log; never secrets */
} AF_RA_HTTP_RESP;

/* Responders (each returns 1 when it produced a response, 0 only on internal failure). */
int af_ra_cmp_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs);
int af_ra_est_nonce_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs);
int af_ra_cmc_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs);

/* Answers a decoded nonce request for the RA: per-client rate limit, nonce length (len or the
 * default), fresh nonces from the RA's RNG (the HSM through the provider by default), each recorded
 * in the store bound to binding (CMP transactionID, CMC transactionId, EST cookie) for requester,
 * expiry set. On failure returns the store result (AF_NONCE_FULL, ...) or AF_NONCE_ERROR with the
 * reason on the error queue (AF_R_RA_RATE_LIMIT, AF_R_NONCE_BAD_LEN, ...). */
AF_NONCE_RESULT af_ra_issue(AF_RA *ra, const AF_NONCE_PROFILE *prof, const AF_NONCE_REQ *req,
                            const unsigned char *binding, size_t binding_len,
                            const unsigned char *requester, size_t requester_len,
                            AF_NONCE_RESP **resp);

/* Borrowed parts of the RA context that responders need. */
AF_NONCE_STORE *af_ra_get0_store(const AF_RA *ra);
OSSL_LIB_CTX *af_ra_get0_libctx(const AF_RA *ra);
/* CMP protection: the PBM secret (NULL when none configured) and the signer (NULL when none). */
const unsigned char *af_ra_get0_cmp_secret(const AF_RA *ra, size_t *len);
EVP_PKEY *af_ra_get0_cmp_key(const AF_RA *ra);
X509 *af_ra_get0_cmp_cert(const AF_RA *ra);
/* Trusted certs for verifying signature-protected CMP requests (NULL when none). */
X509_STORE *af_ra_get0_cmp_trust(const AF_RA *ra);

#ifdef __cplusplus
}
#endif
#endif
