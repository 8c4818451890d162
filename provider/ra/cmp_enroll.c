/* cmp_enroll.c - the RA's CMP certification requests (ir/cr with the CRMF id-aa-attestation
 * extension, p10cr with the attested PKCS#10): the body of OSSL_CMP_SRV_CTX's
 * process_cert_request callback. OpenSSL's server has checked protection and the POPO by then; the
 * transaction binding for the nonce is the request's transactionID, i.e. the genm's
 * (nonce-protocol.md 5.1). A refusal is a PKIStatusInfo rejection whose failInfo follows the
 * class of the failed check and whose statusString names it. */
#include <stdio.h>
#include <string.h>

#include <openssl/cmp.h>
#include <openssl/err.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"

static int fail_bit(af_enroll_class c)
{
    switch (c) {
    case AF_ENROLL_BAD_POP:
        return OSSL_CMP_PKIFAILUREINFO_badPOP;
    case AF_ENROLL_NOT_AUTHORIZED:
        return OSSL_CMP_PKIFAILUREINFO_notAuthorized;
    case AF_ENROLL_BAD_REQUEST:
        return OSSL_CMP_PKIFAILUREINFO_badRequest;
    case AF_ENROLL_NOT_CONFIGURED:
        return OSSL_CMP_PKIFAILUREINFO_badRequest;
    default:
        return OSSL_CMP_PKIFAILUREINFO_systemFailure;
    }
}

OSSL_CMP_PKISI *af_ra_cmp_cert_request(AF_RA *ra, const OSSL_CMP_MSG *req, const OSSL_CRMF_MSG *crm,
                                       const X509_REQ *p10cr, X509 **certOut,
                                       STACK_OF(X509) * *caPubs, char *log, size_t logsize)
{
    const ASN1_OCTET_STRING *tid;
    AF_ENROLL_RESULT res;
    X509 *cert;
    AF_RA_ENROLL *e = af_ra_get0_enroll(ra);
    const char *kind = p10cr != NULL ? "p10cr" : "ir/cr";

    if (certOut == NULL || req == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP certification request");
        return NULL;
    }
    *certOut = NULL;
    tid = OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req));
    cert = af_ra_enroll(ra, p10cr, p10cr != NULL ? NULL : crm,
                        tid != NULL ? ASN1_STRING_get0_data(tid) : NULL,
                        tid != NULL ? (size_t)ASN1_STRING_length(tid) : 0, &res, NULL);
    if (cert == NULL) {
        if (log != NULL)
            snprintf(log, logsize, "cmp %s: rejection %s: %s", kind, af_enroll_class_str(res.cls),
                     res.why);
        return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_bit(res.cls),
                                       res.why);
    }
    if (caPubs != NULL && af_ra_enroll_get_send_ca(e)) {
        X509 *ca = af_ca_get0_cert(af_ra_enroll_get0_ca(e));

        if ((*caPubs = sk_X509_new_null()) == NULL || !sk_X509_push(*caPubs, ca)) {
            sk_X509_free(*caPubs);
            *caPubs = NULL;
        } else {
            X509_up_ref(ca);
        }
    }
    *certOut = cert;
    if (log != NULL) {
        char subj[120];

        X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
        snprintf(log, logsize, "cmp %s: accepted, issued %s", kind, subj);
    }
    return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}
