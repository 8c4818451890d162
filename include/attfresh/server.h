/* attfresh/server.h - the RA side of the nonce exchange: an RA context (nonce store, HSM random,
 * rate limits, protocol secrets) and one transport-independent responder per protocol, which the
 * HTTP(S) server (`attfresh serve`) calls for its paths. A responder never fails silently: it
 * always fills the response (status, body, log line), also for bad requests. */
#ifndef ATTFRESH_SERVER_H
#define ATTFRESH_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attfresh/nonce.h"
#include "attfresh/ra.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct af_ra_st AF_RA;

/* ---- the RA context ------------------------------------------------------------------------- */

/* Configuration of an RA (af_ra_config_init gives the defaults named here). Strings are copied by
 * af_ra_new. */
typedef struct {
    OSSL_LIB_CTX *libctx;        /* NULL: the default context (the one openssl.cnf configures) */
    int soft_rand;               /* 0 (default): nonces from the EVP_RAND below (the HSM);
                                  * 1: RAND_bytes_ex(libctx), OpenSSL's software DRBG */
    const char *rand_name;       /* "ATTFRESH-RAND" */
    const char *rand_propq;      /* "provider=attfresh" */
    int nonce_len;               /* length when the request names none: 32 (8..64) */
    uint32_t expiry_s;           /* lifetime of an issued nonce: 300 s (1..86400) */
    int lenient;                 /* 0 (default): requests decoded strictly */
    int ratelimit;               /* 1 (default): per-client token bucket (rl) on */
    AF_RATELIMIT_CONFIG rl;      /* af_ratelimit_config_init defaults */
    AF_NONCE_STORE_CONFIG store; /* af_nonce_store_config_init defaults */
    const char *empty_types;     /* comma list of request types (dotted OIDs or table names) that
                                  * are answered with the empty nonce ("no freshness needed") */
    const char *empty_labels; /* comma list of path labels (EST <label>, CMP p/<name>) likewise */
    const char *default_profile; /* profile of paths without p/<name>: AF_PROFILE_DEFAULT */
    /* CMP protection (all optional) */
    const char *cmp_secret_file; /* PBM secret: the first line of this file */
    const char *cmp_key;         /* signer key: PEM file or pkcs11: URI (through OSSL_STORE) */
    const char *cmp_cert;        /* signer certificate (PEM file) */
    const char *cmp_trust;       /* PEM file of trusted certs for signature-protected requests */
} AF_RA_CONFIG;

void af_ra_config_init(AF_RA_CONFIG *cfg);
/* A new RA: fetches the RNG (fails with a clear error when ATTFRESH-RAND is not available and
 * soft_rand is off), creates the nonce store and the rate limiter, reads the CMP secret/key/certs.
 * cfg NULL = defaults. */
AF_RA *af_ra_new(const AF_RA_CONFIG *cfg);
void af_ra_free(AF_RA *ra);

/* Overrides one OID of one of the RA's profiles (configuration "oid.<profile>.<role>"). */
int af_ra_set_profile_oid(AF_RA *ra, const char *profile, af_nonce_oid_role role, const char *oid);
/* The RA's profile by name (NULL = the configured default profile), with the RA's OID overrides;
 * NULL when unknown (AF_R_UNKNOWN_PROFILE raised). Borrowed, lives as long as the RA. */
const AF_NONCE_PROFILE *af_ra_get0_profile(const AF_RA *ra, const char *name);
/* Replaces the CMP PBM secret (copied; NULL clears). */
int af_ra_set1_cmp_secret(AF_RA *ra, const unsigned char *secret, size_t len);
/* Random bytes for protocol values that are not nonces (EST cookie, CMC senderNonce). */
int af_ra_random(AF_RA *ra, unsigned char *buf, size_t len);
uint32_t af_ra_get_expiry(const AF_RA *ra);
int af_ra_get_nonce_len(const AF_RA *ra);
int af_ra_get_lenient(const AF_RA *ra);
/* 1 when policy answers the empty nonce for this path label or request type (either may be
 * NULL). */
int af_ra_policy_empty(const AF_RA *ra, const char *label, const char *type);

/* Name of the cookie that binds an EST nonce to the later /simpleenroll (its value is the store
 * binding); the server hands its value to the responder as AF_RA_HTTP_REQ.cookie. */
#define AF_RA_EST_COOKIE "attfresh-est"
/* Bytes of an EST binding value; the cookie carries them as lowercase hex (twice as many
 * characters). Over TLS with a channel binding the value is derived from the connection
 * (AF_RA_HTTP_REQ.tls_binding), else random. */
#define AF_RA_EST_BINDING_BYTES 16

/* One HTTP request as the server hands it to a responder. All pointers borrowed. */
typedef struct {
    const char *method;        /* "GET", "POST" */
    const char *path;          /* full request path */
    const char *profile;       /* wire profile chosen by the path; never NULL */
    const char *label;         /* EST <label> / CMP p/<name> segment, or NULL */
    const char *content_type;  /* request Content-Type, or NULL */
    const char *cookie;        /* value of the RA's binding cookie, or NULL */
    const unsigned char *body; /* request body (bounded by the server) */
    size_t body_len;
    const unsigned char *requester; /* client identity: address, or TLS client cert digest */
    size_t requester_len;
    int tls; /* 1 on the HTTPS listener */
    /* EST over TLS 1.3 (or 1.2 with extended master secret): the binding value of THIS
     * connection, lowercase hex of AF_RA_EST_BINDING_BYTES = HMAC-SHA256(the server's random
     * key, "attfresh est binding" || tls-exporter (RFC 9266)) truncated; the same for every
     * request on the connection, another on any other connection. NULL when the connection has
     * no channel binding (plain HTTP, TLS 1.2 without EMS) and for the other protocols. Not a
     * secret to the client (it is the cookie value /nonce sets), but never logged. */
    const char *tls_binding;
} AF_RA_HTTP_REQ;

/* What the responder answers; the server sends it and frees body with OPENSSL_free. */
typedef struct {
    int status;            /* HTTP status */
    char content_type[96]; /* empty: no Content-Type (e.g. 400 without body) */
    unsigned char *body;
    size_t body_len;
    char set_cookie[256]; /* full Set-Cookie value, or empty */
    char log[256];        /* one-line outcome for the request log; never secrets */
    int retry_after;      /* > 0: send Retry-After with this many seconds (503) */
    char allow[32];       /* 405: the methods the path allows, for the Allow header */
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

/* af_ra_issue with the request's path label, for the empty-nonce policy by label. */
AF_NONCE_RESULT af_ra_issue_ex(AF_RA *ra, const AF_NONCE_PROFILE *prof, const char *label,
                               const AF_NONCE_REQ *req, const unsigned char *binding,
                               size_t binding_len, const unsigned char *requester,
                               size_t requester_len, AF_NONCE_RESP **resp);

/* Borrowed parts of the RA context that responders need. */
AF_NONCE_STORE *af_ra_get0_store(const AF_RA *ra);
OSSL_LIB_CTX *af_ra_get0_libctx(const AF_RA *ra);
/* CMP protection: the PBM secret (NULL when none configured) and the signer (NULL when none). */
const unsigned char *af_ra_get0_cmp_secret(const AF_RA *ra, size_t *len);
EVP_PKEY *af_ra_get0_cmp_key(const AF_RA *ra);
X509 *af_ra_get0_cmp_cert(const AF_RA *ra);
/* Trusted certs for verifying signature-protected CMP requests (NULL when none). */
X509_STORE *af_ra_get0_cmp_trust(const AF_RA *ra);

/* ---- the HTTP(S) server (libmicrohttpd; http_server.c) -------------------------------------- *
 * Paths: CMP POST /.well-known/cmp[/getnonce] and /.well-known/cmp/p/<profile>[/getnonce];
 * CMC POST /cmc and /cmc/p/<profile>; EST /.well-known/est[/<label>]/nonce on the HTTPS listener
 * (a <label> that names a profile selects it). Unknown paths and profiles: 404. Bodies beyond
 * max_body: 413. One log line per request. */

typedef struct af_ra_server_st AF_RA_SERVER;

typedef struct {
    const char *http_addr;    /* "ADDR:PORT" ("[v6]:PORT"), port 0 = any free port; NULL = none */
    const char *https_addr;   /* likewise, for TLS (needs tls_cert and tls_key) */
    const char *tls_cert;     /* PEM file: server certificate (and chain) */
    const char *tls_key;      /* PEM file, or a pkcs11: URI (through GnuTLS's PKCS#11 support) */
    const char *tls_pin_file; /* PIN of the pkcs11: key / password of an encrypted PEM key */
    const char *client_ca;    /* PEM CA file: HTTPS clients must present a certificate it issued */
    size_t max_body;          /* 65536 */
    unsigned int threads;     /* listener threads per listener: 2 */
    unsigned int timeout_s;   /* idle connection timeout: 30 */
    int est_on_http;          /* 0 (default); 1 also serves EST on the plain listener (tests) */
    FILE *log;                /* request log: stderr; NULL = stderr */
} AF_RA_SERVER_CONFIG;

void af_ra_server_config_init(AF_RA_SERVER_CONFIG *cfg);
/* Starts the listeners (threads of their own) for ra, which must outlive the server. Also sweeps
 * the nonce store of expired entries in the background. */
AF_RA_SERVER *af_ra_server_new(AF_RA *ra, const AF_RA_SERVER_CONFIG *cfg);
/* The bound port of the plain (tls 0) or TLS (tls 1) listener; 0 when there is none. */
int af_ra_server_get_port(const AF_RA_SERVER *srv, int tls);
/* Stops the listeners (in-flight requests finish) and frees the server. */
void af_ra_server_free(AF_RA_SERVER *srv);

#ifdef __cplusplus
}
#endif
#endif
