/* proto_station.h - what the station's protocol clients (est_client.c, cmc_client.c,
 * cmp_client.c, enroll_client.c) share inside libattfresh and nobody else needs: the libcurl
 * handles kept by the options (so a transaction's requests reuse one connection, TLS session and
 * loaded CA file), and the CMP nonce exchange on a context the enrollment goes on with. */
#ifndef AF_PROTO_STATION_H
#define AF_PROTO_STATION_H

#include <curl/curl.h>
#include <openssl/cmp.h>
#include <openssl/x509.h>

#include "attfresh/proto.h"

/* A libcurl handle for a request made with opts, all options at their defaults
 * (curl_easy_reset) but its live connections, TLS session cache and cached CA store kept from
 * earlier requests with the same options. Borrowed from the options' pool (a cache, not an
 * option: it is why a const opts is enough) or new when the pool is empty, so concurrent threads
 * each get their own handle. NULL with an error raised. */
CURL *af_proto_http_get(const AF_PROTO_OPTS *opts);
/* Gives the handle back to the pool (cleaned up when the pool is full); NULL is fine. */
void af_proto_http_put(const AF_PROTO_OPTS *opts, CURL *curl);
/* How many connections the requests made with opts have opened (TCP, and TLS for https), as
 * libcurl counted them: what tests use to see that a transaction's requests share one. */
long af_proto_http_connects(const AF_PROTO_OPTS *opts);

/* One HTTP connection (kept alive) for the messages of a CMP transaction, made from the options'
 * URL; freeing it closes the connection. */
typedef struct af_cmp_link_st AF_CMP_LINK;
AF_CMP_LINK *af_cmp_link_new(const AF_PROTO_OPTS *opts);
void af_cmp_link_free(AF_CMP_LINK *link);

/* af_cmp_get_nonce on a context the caller made with af_cmp_ctx_setup and keeps for the
 * following certification request (OpenSSL then puts the same transactionID and the genp's
 * senderNonce as recipNonce into it, so it needs no patching and no second protection); the genm
 * goes over link when not NULL. The context's transfer callback is back at OpenSSL's default
 * afterwards. */
int af_cmp_get_nonce_ctx(OSSL_CMP_CTX *ctx, const AF_PROTO_OPTS *opts, AF_CMP_LINK *link,
                         AF_NONCE_RESP **resp, AF_PROTO_STATE **state);
/* af_cmp_ctx_continue whose messages go over link (NULL: OpenSSL's transfer); st and link are
 * borrowed and must outlive the exchange. */
int af_cmp_ctx_continue_link(OSSL_CMP_CTX *ctx, const AF_PROTO_STATE *st, AF_CMP_LINK *link);

/* An EST /simpleenroll answer (certs-only CMS SignedData) whose certificates stay DER until
 * asked for: d2i_PKCS7 would decode them all, each public key costing an OSSL_DECODER_CTX.
 * af_est_certs_d2i: NULL (AF_R_NONCE_DECODE) unless der is exactly one ContentInfo id-signedData
 * whose CertificateChoices are all certificates. af_est_certs_get1_for: the certificate for key
 * (EVP_PKEY_eq decides; the ones holding key's SubjectPublicKeyInfo bytes are tried first), new
 * reference, AF_R_PROTO_BINDING when none is. af_est_certs_get1_all: all of them in order (new
 * stack; the one get1_for decoded is that object), NULL (AF_R_NONCE_DECODE) when one does not
 * decode. */
typedef struct af_est_certs_st AF_EST_CERTS;
AF_EST_CERTS *af_est_certs_d2i(const unsigned char *der, size_t len);
X509 *af_est_certs_get1_for(AF_EST_CERTS *certs, EVP_PKEY *key);
STACK_OF(X509) * af_est_certs_get1_all(const AF_EST_CERTS *certs);
void af_est_certs_free(AF_EST_CERTS *certs);

#endif
