/* enroll_local.h - inside libattfresh only: the CMC enrollment messages (ra/cmc_enroll.c), shared
 * by the RA endpoint and the station's client (proto/enroll_client.c). */
#ifndef AF_RA_ENROLL_LOCAL_H
#define AF_RA_ENROLL_LOCAL_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* bodyPartID of the one TaggedCertificationRequest (after the controls' 1, 2, ...) */
#define AF_CMC_TCR_BODY_PART 100

/* Full PKI Request: ContentInfo id-data { PKIData { {transactionId, senderNonce}, {tcr {100,
 * req}}, {}, {} } } into a new buffer. Returns 1/0. */
int af_cmc_enroll_request_encode(const unsigned char *txid, size_t txid_len,
                                 const unsigned char *sender_nonce, size_t sn_len,
                                 const X509_REQ *req, unsigned char **out, size_t *outlen);

/* What the station reads from the RA's answer. */
typedef struct {
    int status;     /* CMCStatus; -1 = no status control */
    long fail_info; /* -1 = none */
    char status_string[200];
    unsigned char *txid; /* transactionId content octets (OPENSSL_free) */
    size_t txid_len;
    unsigned char *recip_nonce; /* recipientNonce (OPENSSL_free) */
    size_t recip_nonce_len;
    X509 *cert;             /* success: the certificate for key (new reference) */
    STACK_OF(X509) * certs; /* success: every certificate of the SignedData (new) */
    X509 *signer;           /* SignedData: the certificate whose signature was checked (new) */
} AF_CMC_ENROLL_RESP;

void af_cmc_enroll_resp_cleanup(AF_CMC_ENROLL_RESP *r);
/* Decodes a Full PKI Response (SignedData, eContentType id-cct-PKIResponse, signature checked
 * against the signer certificate it carries, which is handed back in r->signer: whether that
 * certificate is trusted is the caller's decision) or a failure (ContentInfo id-data PKIResponse);
 * picks the certificate whose public key is key. Returns 1 when decodable (status says the
 * outcome), 0 with an error otherwise. */
int af_cmc_enroll_response_decode(const unsigned char *in, size_t len, EVP_PKEY *key,
                                  AF_CMC_ENROLL_RESP *r);

#endif
