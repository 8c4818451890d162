/* attfresh/proto.h - the station side of the nonce exchange (nonce-protocol.md section 5): options
 * for asking an RA/CA for a nonce over CMP (genm/genp), EST (HTTPS /nonce) or CMC (Full PKI
 * Request), one entry point per protocol, and the transaction state the later enrollment (ir/cr/
 * p10cr, /simpleenroll, CMC with the CSR) continues from, saved as a JSON file.
 *
 * ERRORS: functions returning int give 1 on success, 0 on failure; pointer returns are NULL on
 * failure. A failure leaves one error on OpenSSL's queue with a reason from attfresh/err.h
 * (AF_R_PROTO_* for the exchange) whose detail says what and why, including the HTTP status,
 * PKIStatus/failInfo or CMC status where there is one.
 *
 * SECRETS: the MAC (PBM) secret is read from a file or an environment variable, kept in cleansed
 * memory, never written to the state, never in an error. */
#ifndef ATTFRESH_PROTO_H
#define ATTFRESH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/cmp.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attfresh/nonce.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    AF_PROTO_NONE = 0,
    AF_PROTO_CMP = 1, /* genm/genp over HTTP (RFC 9810, 9811) */
    AF_PROTO_EST = 2, /* GET/POST /.well-known/est[/<label>]/nonce over HTTPS (RFC 7030) */
    AF_PROTO_CMC = 3  /* PKIData/PKIResponse in ContentInfo id-data over HTTP (RFC 5273) */
} af_proto;

/* "cmp", "est", "cmc"; AF_PROTO_NONE / NULL when unknown. */
af_proto af_proto_from_name(const char *name);
const char *af_proto_name(af_proto proto);

/* Default timeouts in seconds. */
#define AF_PROTO_DEFAULT_CONNECT_TIMEOUT 10
#define AF_PROTO_DEFAULT_TOTAL_TIMEOUT 30
/* Largest response body any client accepts. */
#define AF_PROTO_MAX_RESPONSE (64 * 1024)
/* Longest binding value kept (transactionID, nonces, cookie). */
#define AF_PROTO_MAX_BINDING 1024

typedef struct af_proto_opts_st AF_PROTO_OPTS;
typedef struct af_proto_state_st AF_PROTO_STATE;

/* ---- options ------------------------------------------------------------------------------- */

/* New options: protocol NONE, profile AF_PROFILE_DEFAULT, no request (= one empty item), default
 * timeouts, default library context. */
AF_PROTO_OPTS *af_proto_opts_new(void);
/* Frees and cleanses the secret; NULL is fine. */
void af_proto_opts_free(AF_PROTO_OPTS *opts);

int af_proto_opts_set_protocol(AF_PROTO_OPTS *opts, af_proto proto);
af_proto af_proto_opts_get_protocol(const AF_PROTO_OPTS *opts);
/* Server URL: CMP "http://host:port/.well-known/cmp[/p/<label>][/getnonce]"; EST
 * "https://host:port[/.well-known/est[/<label>]]" (the client appends what is missing up to
 * "/nonce"); CMC "http://host:port/cmc". */
int af_proto_opts_set1_url(AF_PROTO_OPTS *opts, const char *url);
const char *af_proto_opts_get0_url(const AF_PROTO_OPTS *opts);
/* Wire profile by name (AF_R_UNKNOWN_PROFILE), or a copy of a profile with OID overrides. */
int af_proto_opts_set_profile_name(AF_PROTO_OPTS *opts, const char *name);
int af_proto_opts_set1_profile(AF_PROTO_OPTS *opts, const AF_NONCE_PROFILE *prof);
const AF_NONCE_PROFILE *af_proto_opts_get0_profile(const AF_PROTO_OPTS *opts);
/* The nonce request to send (copied); NULL = one empty item ("30 00", "{}", GET for EST). */
int af_proto_opts_set1_request(AF_PROTO_OPTS *opts, const AF_NONCE_REQ *req);
/* The request, or NULL when none was set (callers then send the empty request). */
const AF_NONCE_REQ *af_proto_opts_get0_request(const AF_PROTO_OPTS *opts);
/* Sends these bytes as the encoded request instead of encoding a model (interop and negative
 * tests): CMP the infoValue DER (one element), EST the JSON body, CMC the control's value DER.
 * Takes precedence over set1_request. get0 returns NULL when none was set. */
int af_proto_opts_set1_request_encoded(AF_PROTO_OPTS *opts, const unsigned char *der, size_t len);
const unsigned char *af_proto_opts_get0_request_encoded(const AF_PROTO_OPTS *opts, size_t *len);

/* MAC (PBM) protection for CMP: the secret from the first line of a file (trailing CR/LF removed)
 * or from an environment variable; the reference (CMP senderKID) as text. The secret is never
 * taken from argv. AF_R_IO when the file/variable is missing or empty. */
int af_proto_opts_load_secret_file(AF_PROTO_OPTS *opts, const char *path);
int af_proto_opts_load_secret_env(AF_PROTO_OPTS *opts, const char *var);
int af_proto_opts_set1_secret(AF_PROTO_OPTS *opts, const unsigned char *secret, size_t len);
const unsigned char *af_proto_opts_get0_secret(const AF_PROTO_OPTS *opts, size_t *len);
int af_proto_opts_set1_ref(AF_PROTO_OPTS *opts, const char *ref);
const char *af_proto_opts_get0_ref(const AF_PROTO_OPTS *opts);

/* Signing key / TLS client key and its certificate. load_key takes a file path or any URI
 * OSSL_STORE knows (a `pkcs11:` URI through attfresh.so); load_cert a PEM/DER file (first cert;
 * further certs in the file become extra certs for CMP). */
int af_proto_opts_load_key(AF_PROTO_OPTS *opts, const char *uri);
int af_proto_opts_set1_key(AF_PROTO_OPTS *opts, EVP_PKEY *key);
EVP_PKEY *af_proto_opts_get0_key(const AF_PROTO_OPTS *opts);
int af_proto_opts_load_cert(AF_PROTO_OPTS *opts, const char *path);
int af_proto_opts_set1_cert(AF_PROTO_OPTS *opts, X509 *cert);
X509 *af_proto_opts_get0_cert(const AF_PROTO_OPTS *opts);
/* Certificates after the first one in the --cert file (may be NULL). */
STACK_OF(X509) * af_proto_opts_get0_extra_certs(const AF_PROTO_OPTS *opts);

/* Server authentication. Trusted certs (PEM file): CMP, for a signature-protected genp; in an
 * enrollment (enroll.h), the issued certificate and a CMC Full PKI Response's signer must chain to
 * them. The CA file: EST, for the TLS server certificate (libcurl CURLOPT_CAINFO). */
int af_proto_opts_load_trusted(AF_PROTO_OPTS *opts, const char *path);
X509_STORE *af_proto_opts_get0_trusted(const AF_PROTO_OPTS *opts);
int af_proto_opts_set1_cafile(AF_PROTO_OPTS *opts, const char *path);
const char *af_proto_opts_get0_cafile(const AF_PROTO_OPTS *opts);

/* Connect timeout and whole-exchange timeout in seconds (1..3600). */
int af_proto_opts_set_timeouts(AF_PROTO_OPTS *opts, int connect_s, int total_s);
int af_proto_opts_get_connect_timeout(const AF_PROTO_OPTS *opts);
int af_proto_opts_get_total_timeout(const AF_PROTO_OPTS *opts);

/* Library context and property query for keys, stores and crypto (NULL = default). Borrowed. */
void af_proto_opts_set0_libctx(AF_PROTO_OPTS *opts, OSSL_LIB_CTX *libctx, const char *propq);
OSSL_LIB_CTX *af_proto_opts_get0_libctx(const AF_PROTO_OPTS *opts);
const char *af_proto_opts_get0_propq(const AF_PROTO_OPTS *opts);

/* ---- transaction state ----------------------------------------------------------------------- *
 * What the following enrollment needs to stay in the same transaction. Byte fields are kept as
 * bytes and written as lowercase hex. Nothing secret is kept (the EST cookie is a session handle,
 * hence the 0600 file mode). */

AF_PROTO_STATE *af_proto_state_new(void);
void af_proto_state_free(AF_PROTO_STATE *st);
AF_PROTO_STATE *af_proto_state_dup(const AF_PROTO_STATE *st);

int af_proto_state_set_protocol(AF_PROTO_STATE *st, af_proto proto);
af_proto af_proto_state_get_protocol(const AF_PROTO_STATE *st);
int af_proto_state_set1_url(AF_PROTO_STATE *st, const char *url);
const char *af_proto_state_get0_url(const AF_PROTO_STATE *st);
int af_proto_state_set1_profile(AF_PROTO_STATE *st, const char *name);
const char *af_proto_state_get0_profile(const AF_PROTO_STATE *st);

/* CMP transactionID / CMC transactionId (the CMC one as its INTEGER content octets, big-endian). */
int af_proto_state_set1_transaction_id(AF_PROTO_STATE *st, const unsigned char *id, size_t len);
const unsigned char *af_proto_state_get0_transaction_id(const AF_PROTO_STATE *st, size_t *len);
/* The server's senderNonce (CMP genp header, CMC response senderNonce control): the next request's
 * recipNonce / recipientNonce. */
int af_proto_state_set1_server_nonce(AF_PROTO_STATE *st, const unsigned char *n, size_t len);
const unsigned char *af_proto_state_get0_server_nonce(const AF_PROTO_STATE *st, size_t *len);
/* Our senderNonce in the nonce request (CMP genm header, CMC senderNonce control). */
int af_proto_state_set1_sender_nonce(AF_PROTO_STATE *st, const unsigned char *n, size_t len);
const unsigned char *af_proto_state_get0_sender_nonce(const AF_PROTO_STATE *st, size_t *len);

/* EST binding cookie(s) as the Cookie header value to send back ("name=value[; name2=value2]"). */
int af_proto_state_set1_cookie(AF_PROTO_STATE *st, const char *cookie);
const char *af_proto_state_get0_cookie(const AF_PROTO_STATE *st);
/* TLS details of the EST connection (informational; for a TLS-session binding check): protocol
 * version ("TLSv1.3"), SHA-256 of the server certificate (32 bytes), TLS session id. */
int af_proto_state_set1_tls_version(AF_PROTO_STATE *st, const char *version);
const char *af_proto_state_get0_tls_version(const AF_PROTO_STATE *st);
int af_proto_state_set1_tls_server_cert_sha256(AF_PROTO_STATE *st, const unsigned char *dgst,
                                               size_t len);
const unsigned char *af_proto_state_get0_tls_server_cert_sha256(const AF_PROTO_STATE *st,
                                                                size_t *len);
int af_proto_state_set1_tls_session_id(AF_PROTO_STATE *st, const unsigned char *id, size_t len);
const unsigned char *af_proto_state_get0_tls_session_id(const AF_PROTO_STATE *st, size_t *len);

/* When the state was made and when the (first) nonce expires, epoch seconds; 0 = unknown/none. */
int af_proto_state_set_created(AF_PROTO_STATE *st, int64_t epoch);
int64_t af_proto_state_get_created(const AF_PROTO_STATE *st);
int af_proto_state_set_expiry(AF_PROTO_STATE *st, int64_t epoch);
int64_t af_proto_state_get_expiry(const AF_PROTO_STATE *st);

/* The nonce response received (copied); kept in the state file as the profile's DER, and its
 * first nonce also in hex for people and scripts. */
int af_proto_state_set1_response(AF_PROTO_STATE *st, const AF_NONCE_RESP *resp);
const AF_NONCE_RESP *af_proto_state_get0_response(const AF_PROTO_STATE *st);

/* JSON form: one object, fixed member order, compact plus a final newline, members absent when
 * unset. docs/nonce-exchange.md describes it. *out is new (OPENSSL_free). */
int af_proto_state_to_json(const AF_PROTO_STATE *st, char **out, size_t *outlen);
/* Strict: unknown members, wrong types, bad hex, unknown protocol/profile are errors. */
AF_PROTO_STATE *af_proto_state_from_json(const char *in, size_t inlen);
/* Writes the JSON atomically (temp file in the same directory, fsync, rename) with mode 0600. */
int af_proto_state_save(const AF_PROTO_STATE *st, const char *path);
/* Reads at most AF_NONCE_MAX_INPUT bytes. */
AF_PROTO_STATE *af_proto_state_load(const char *path);

/* ---- the exchanges -----------------------------------------------------------------------------
 * * Each sends the options' request to the options' URL with the options' profile and, on success,
 * gives a new response (*resp) and a new state (*state, may be NULL if not wanted) filled with
 * protocol, URL, profile, created, expiry, the response and the protocol's binding. On failure
 * nothing is returned and one error says why: AF_R_PROTO_TRANSPORT (connect, TLS, timeout),
 * AF_R_PROTO_HTTP_STATUS (e.g. "HTTP 503"), AF_R_PROTO_PKISTATUS (CMP error body / CMC failed,
 * with the status and failInfo text), AF_R_PROTO_NO_NONCE (answer without the nonce response, e.g.
 * a stock `openssl cmp` server echoing the genm), AF_R_PROTO_BINDING (wrong transactionID,
 * recipNonce, recipientNonce), AF_R_PROTO_PROTECTION (bad MAC/signature, untrusted signer),
 * AF_R_PROTO_MEDIA_TYPE (wrong Content-Type), or the nonce codec's AF_R_NONCE_* for a malformed
 * nonce response. */

/* genm {request ITAV} -> genp {response ITAV}, PBM (secret + ref) or signature (key + cert)
 * protection, genp checked against trusted certs or the same secret. */
int af_cmp_get_nonce(const AF_PROTO_OPTS *opts, AF_NONCE_RESP **resp, AF_PROTO_STATE **state);
/* EST: GET (empty request) or POST of the profile's JSON to .../nonce, CA file verification,
 * optional TLS client key/cert; keeps the Set-Cookie for /simpleenroll. */
int af_est_get_nonce(const AF_PROTO_OPTS *opts, AF_NONCE_RESP **resp, AF_PROTO_STATE **state);
/* CMC (provider/proto/cmc_client.c): PKIData {transactionId, senderNonce, nonce request control}
 * -> PKIResponse checked for transactionId and recipientNonce; CMC Status Info (V2) failure
 * reported with its failInfo. */
int af_cmc_get_nonce(const AF_PROTO_OPTS *opts, AF_NONCE_RESP **resp, AF_PROTO_STATE **state);
/* Dispatches on af_proto_opts_get_protocol(). */
int af_proto_get_nonce(const AF_PROTO_OPTS *opts, AF_NONCE_RESP **resp, AF_PROTO_STATE **state);

/* ---- continuing a CMP transaction -------------------------------------------------------------
 */

/* af_cmp_ctx_setup prepares ctx as af_cmp_get_nonce does (server, path, timeouts, PBM or
 * signature protection, trusted certs) from the options. af_cmp_ctx_continue then puts ctx in the
 * transaction of a state: the genm's transactionID, and the genp's senderNonce as recipNonce of the
 * next request (ir/cr/p10cr), so OSSL_CMP_exec_*_ses continues the transaction. OpenSSL 3.0 has
 * no recipNonce setter, so af_cmp_ctx_continue installs its own transfer callback (HTTP) that sets
 * it in the first request and protects that again; st is borrowed and must outlive the exchange. */
int af_cmp_ctx_setup(OSSL_CMP_CTX *ctx, const AF_PROTO_OPTS *opts);
int af_cmp_ctx_continue(OSSL_CMP_CTX *ctx, const AF_PROTO_STATE *st);

#ifdef __cplusplus
}
#endif
#endif
