/* attfresh/enroll.h - full enrollment: the RA's small local CA, the RA's decision (verify the
 * attested CSR against the nonce issued for THIS transaction, then issue), the protocol endpoints
 * that carry the certification request (CMP ir/cr/p10cr, EST /simpleenroll, CMC Full PKI Request),
 * and the station side that runs nonce request -> Evidence -> CSR -> certificate in one
 * transaction. Spec: evidence.md, nonce-protocol.md section 5. */
#ifndef ATTFRESH_ENROLL_H
#define ATTFRESH_ENROLL_H

#include <stddef.h>

#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attfresh/evidence.h"
#include "attfresh/proto.h"
#include "attfresh/server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== the local CA (provider/ra/ca.c) ======================================================== */
typedef struct af_ca_st AF_CA;

/* Certificate profiles: what KeyUsage/ExtendedKeyUsage the issued certificate gets. */
typedef enum {
    AF_CA_PROFILE_CLIENT = 0, /* digitalSignature (+keyEncipherment for RSA), clientAuth */
    AF_CA_PROFILE_SERVER,     /* the same KU, serverAuth */
    AF_CA_PROFILE_DEVICE      /* digitalSignature only, no EKU */
} af_ca_profile;

AF_CA *af_ca_new(OSSL_LIB_CTX *libctx, const char *propq);
void af_ca_free(AF_CA *ca);
/* The CA certificate (PEM/DER file) and its private key: a key file or any URI OSSL_STORE
 * knows (a pkcs11: URI through attfresh.so, so the CA key may stay in the HSM). The key must
 * match the certificate. Returns 1/0. */
int af_ca_load(AF_CA *ca, const char *cert_path, const char *key_uri);
/* The same with objects (references kept). */
int af_ca_set1(AF_CA *ca, X509 *cert, EVP_PKEY *key);
/* Validity of issued certificates in days (1..7300, default 365). */
int af_ca_set_days(AF_CA *ca, int days);
int af_ca_set_profile(AF_CA *ca, af_ca_profile profile);
/* "client", "server", "device"; 0 for an unknown name. */
int af_ca_set_profile_name(AF_CA *ca, const char *name);
X509 *af_ca_get0_cert(const AF_CA *ca);
EVP_PKEY *af_ca_get0_key(const AF_CA *ca);

/* Issues a certificate for pub with the given subject: random positive 128-bit serial, notBefore
 * = now - 5 minutes, basicConstraints CA:FALSE, SKI/AKI, KU/EKU by profile, and of the requested
 * extensions only subjectAltName (everything else the CA decides). Signed through EVP, so a token
 * key works. New certificate or NULL with an error. */
X509 *af_ca_issue(AF_CA *ca, const X509_NAME *subject, EVP_PKEY *pub,
                  const STACK_OF(X509_EXTENSION) * req_exts);
/* From a PKCS#10 request (subject, key, extension request) or a CRMF CertReqMsg (template). The
 * request is NOT verified here: the RA does that first (af_ra_enroll). */
X509 *af_ca_issue_req(AF_CA *ca, const X509_REQ *req);
X509 *af_ca_issue_crmf(AF_CA *ca, const OSSL_CRMF_MSG *crm);
/* The public key of a CRMF CertTemplate (OpenSSL 3.0 has no getter). New key or NULL. */
EVP_PKEY *af_crmf_get1_template_pubkey(const OSSL_CRMF_MSG *crm, OSSL_LIB_CTX *libctx,
                                       const char *propq);

/* ==== the RA's enrollment decision (provider/ra/enroll_ra.c) ================================= */
typedef struct af_ra_enroll_st AF_RA_ENROLL;

/* Protocol-neutral class of a refusal; each protocol maps it to its own answer. */
typedef enum {
    AF_ENROLL_OK = 0,
    AF_ENROLL_BAD_REQUEST,    /* undecodable, malformed, Evidence about another key: CMP
                               * badRequest, EST 400, CMC badRequest */
    AF_ENROLL_BAD_POP,        /* CSR self-signature / POPO fails: CMP badPOP, EST 400, CMC
                               * popFailed */
    AF_ENROLL_NOT_AUTHORIZED, /* Evidence signature, AK trust/usage, nonce, key policy: CMP
                               * notAuthorized, EST 403, CMC badIdentity */
    AF_ENROLL_NOT_CONFIGURED, /* the RA has no CA: CMP/EST/CMC "not supported" */
    AF_ENROLL_INTERNAL        /* CA signing or memory failed: CMP systemFailure, EST 500, CMC
                               * internalCAError */
} af_enroll_class;

const char *af_enroll_class_str(af_enroll_class c); /* "badRequest", "badPOP", ... */

/* The outcome of one enrollment. */
typedef struct {
    af_enroll_class cls;
    char check[32]; /* name of the failed check (AF_CHECK_* of evidence.h) or "ca", "config" */
    char why[256];  /* one line: "<check>: <detail>"; never secrets */
} AF_ENROLL_RESULT;

/* The RA's enrollment settings: its CA, the AK trust anchors, the key-claim policy. */
AF_RA_ENROLL *af_ra_enroll_new(OSSL_LIB_CTX *libctx, const char *propq);
void af_ra_enroll_free(AF_RA_ENROLL *e);
/* Takes ownership of ca. */
int af_ra_enroll_set0_ca(AF_RA_ENROLL *e, AF_CA *ca);
AF_CA *af_ra_enroll_get0_ca(const AF_RA_ENROLL *e);
int af_ra_enroll_load_trust(AF_RA_ENROLL *e, const char *path);
int af_ra_enroll_add1_trust(AF_RA_ENROLL *e, X509 *anchor);
/* Policy file (evidence.h af_policy_load syntax); without one the default policy applies. */
int af_ra_enroll_load_policy(AF_RA_ENROLL *e, const char *path);
/* 1 = also send the CA certificate with the issued one (caPubs / certs-only); default 1. */
void af_ra_enroll_set_send_ca(AF_RA_ENROLL *e, int on);
int af_ra_enroll_get_send_ca(const AF_RA_ENROLL *e);

/* Attaches e to ra (ownership passes to the attachment; NULL detaches and frees the old one).
 * The attachment is kept beside the RA, keyed by its address, so that the RA context (ra.c) needs
 * no field for it; call af_ra_set0_enroll(ra, NULL) before af_ra_free(ra). Returns 1/0. */
int af_ra_set0_enroll(AF_RA *ra, AF_RA_ENROLL *e);
AF_RA_ENROLL *af_ra_get0_enroll(const AF_RA *ra);

/* The decision: exactly one of req (PKCS#10) and crm (CRMF CertReqMsg with POPO) is given;
 * binding is the transaction the nonce must have been issued for (CMP transactionID, CMC
 * transactionId content octets, EST cookie value). Runs the evidence verifier with the nonce
 * check = consume from the RA's nonce store for THAT binding, the AK trust anchors and the
 * policy; issues the certificate only when every check passed. Returns the new certificate, or
 * NULL with res filled (res is always filled; checks, may be NULL, receives every check). */
X509 *af_ra_enroll(AF_RA *ra, const X509_REQ *req, const OSSL_CRMF_MSG *crm,
                   const unsigned char *binding, size_t binding_len, AF_ENROLL_RESULT *res,
                   AF_CHECKS *checks);

/* ==== protocol endpoints (server side) ======================================================= */
/* EST POST /.well-known/est[/<label>]/simpleenroll (RFC 7030 4.2): base64 PKCS#10
 * (application/pkcs10) in, the certificate as base64 certs-only PKCS#7
 * (application/pkcs7-mime; smime-type=certs-only) out; bound by the nonce cookie. 400 for a
 * malformed request or a refused POP/format, 403 for a refused attestation/nonce, 501 when the
 * RA has no CA. */
int af_ra_est_enroll_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs);
/* CMP ir/cr/p10cr: the OSSL_CMP_SRV_CTX process_cert_request callback body. The transaction
 * binding is the request's transactionID. Returns the PKIStatusInfo to answer (accepted with
 * *certOut, or rejection with failInfo and the failed check as statusString); log receives one
 * line. NULL only on internal failure. */
OSSL_CMP_PKISI *af_ra_cmp_cert_request(AF_RA *ra, const OSSL_CMP_MSG *req, const OSSL_CRMF_MSG *crm,
                                       const X509_REQ *p10cr, X509 **certOut,
                                       STACK_OF(X509) * *caPubs, char *log, size_t logsize);
/* 1 when a CMC request body carries a certification request (non-empty reqSequence): such a
 * request is an enrollment, handled by af_ra_cmc_enroll_handle. */
int af_ra_cmc_is_enroll(const unsigned char *body, size_t len);
/* CMC Full PKI Request {transactionId, senderNonce; reqSequence: one tcr (PKCS#10)} -> on
 * success a Full PKI Response: SignedData (by the CA) with eContentType id-cct-PKIResponse
 * {transactionId, senderNonce, recipientNonce, CMCStatusInfoV2 success} and the certificate in
 * certificates; on refusal ContentInfo id-data PKIResponse with CMCStatusInfoV2 failed. */
int af_ra_cmc_enroll_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs);

/* ==== station side (provider/proto/enroll_client.c) ========================================== */
typedef struct af_enroll_st AF_ENROLL;

/* opts: the protocol, URL, secret/ref, CA file, timeouts, as for af_proto_get_nonce (borrowed,
 * must outlive the AF_ENROLL). */
AF_ENROLL *af_enroll_new(const AF_PROTO_OPTS *opts);
void af_enroll_free(AF_ENROLL *en);
/* The key to certify and the AK (references kept). */
int af_enroll_set1_key(AF_ENROLL *en, EVP_PKEY *key, const char *key_name);
int af_enroll_set1_ak(AF_ENROLL *en, EVP_PKEY *ak, X509 *ak_cert);
/* More AK chain certificates for the bundle (may be NULL). */
int af_enroll_set1_chain(AF_ENROLL *en, STACK_OF(X509) * chain);
int af_enroll_set1_subject(AF_ENROLL *en, const char *subject, const char *sans);
/* CMP only: 1 = ir with the CRMF CertTemplate extension instead of p10cr (default 0). */
void af_enroll_set_crmf(AF_ENROLL *en, int crmf);
/* Continue from a state of `attfresh nonce get --state` instead of asking for a nonce. */
int af_enroll_set1_state(AF_ENROLL *en, const AF_PROTO_STATE *st);

/* Runs the whole flow: nonce request (unless a state was set), Evidence about the key signed by
 * the AK, attested CSR, certification request in the same transaction. Returns the issued
 * certificate (new) or NULL with one error saying why (the RA's refusal with its check name
 * arrives as AF_R_PROTO_PKISTATUS / AF_R_PROTO_HTTP_STATUS). *state (may be NULL) receives the
 * transaction state used. When the options carry trusted certificates
 * (af_proto_opts_load_trusted: the RA's CA), the issued certificate must chain to them through
 * the certificates the RA sent along, and so must the signer of a CMC Full PKI Response;
 * otherwise AF_R_PROTO_PROTECTION and no certificate. */
X509 *af_enroll_run(AF_ENROLL *en, AF_PROTO_STATE **state);
/* The issued certificate's chain as the RA sent it (borrowed; may be NULL). */
STACK_OF(X509) * af_enroll_get0_extra_certs(const AF_ENROLL *en);

#ifdef __cplusplus
}
#endif
#endif
