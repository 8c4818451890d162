/* cmd_verify.c - `attfresh verify`: checks an attested CSR (PKCS#10, or a CRMF CertReqMsg) the way
 * the RA does and prints every check by name; exit 0 only when all of them pass. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "apps.h"
#include "attfresh/err.h"
#include "attfresh/evidence.h"

static void help(FILE *out)
{
    fputs("usage: attfresh verify --csr FILE --trust FILE [--nonce HEX | --state FILE]\n"
          "                       [--policy FILE] [--json]\n\n"
          "Checks, each reported by name: csr-signature, attestation-attribute, bundle-decode,\n"
          "evidence-decode, evidence-rules, evidence-signature, ak-chain, ak-usage, key-binding,\n"
          "nonce, key-policy. Exit status 0 only when every check passes, 1 otherwise.\n\n"
          "  --csr FILE     PKCS#10 (PEM or DER) or CRMF CertReqMsg (DER)\n"
          "  --trust FILE   AK trust anchors (PEM, one or more CA certificates)\n"
          "  --nonce HEX    the nonce the RA issued for this transaction\n"
          "  --state FILE   or read it from the NonceResponse the RA sent (any encoding)\n"
          "                 (without either, the nonce check fails: no freshness, no pass)\n"
          "  --policy FILE  key-claim policy (default: sensitive, never-extractable and local\n"
          "                 true, extractable false; see docs/evidence.md)\n"
          "  --json         one JSON object instead of text lines\n\n"
          "example:\n"
          "  attfresh verify --csr device.csr --trust ak-ca.pem \\\n"
          "      --nonce 0123456789abcdef0123456789abcdef\n",
          out);
}

int af_cmd_verify(int argc, char **argv)
{
    const char *csr = NULL, *trust = NULL, *hex = NULL, *state = NULL, *policy = NULL;
    int json = 0, rc = AF_EXIT_FAIL;
    unsigned char *data = NULL, *nonce = NULL;
    size_t dlen = 0, nlen = 0;
    X509_REQ *req = NULL;
    OSSL_CRMF_MSG *msg = NULL;
    AF_VERIFY *v = NULL;
    AF_POLICY *pol = NULL;
    AF_CHECKS *c = NULL;
    AF_EXPECTED_NONCE want = {NULL, 0};
    BIO *bio = NULL, *sout = NULL;
    const AF_APP_OPT opts[] = {
        {"--json", &json, NULL, NULL, 0},
        {"--csr", NULL, &csr, NULL, 0},
        {"--trust", NULL, &trust, NULL, 0},
        {"--nonce", NULL, &hex, NULL, 0},
        {"--state", NULL, &state, NULL, 0},
        {"--policy", NULL, &policy, NULL, 0},
        {NULL, NULL, NULL, NULL, 0},
    };

    if (!af_app_opts("verify", argc, argv, opts, help, &rc))
        return rc;
    if (csr == NULL || trust == NULL) {
        return af_app_usage("verify: --csr and --trust are required");
    }
    if (hex != NULL && state != NULL)
        return af_app_usage("verify: give at most one of --nonce and --state");

    if ((v = af_verify_new(NULL, NULL)) == NULL || (c = af_checks_new()) == NULL) {
        rc = af_app_fail("verify");
        goto done;
    }
    if (!af_verify_load_trust(v, trust)) {
        rc = af_app_fail("cannot load the AK trust anchors");
        goto done;
    }
    if (policy != NULL) {
        if ((pol = af_policy_new()) == NULL || !af_policy_load(pol, policy) ||
            !af_verify_set_policy(v, pol)) {
            rc = af_app_fail("%s", policy);
            goto done;
        }
    }
    if (hex != NULL || state != NULL) {
        if ((nonce = af_nonce_load(hex, state, &nlen)) == NULL) {
            rc = af_app_fail("cannot read the nonce");
            goto done;
        }
        want.nonce = nonce;
        want.len = nlen;
        af_verify_set_nonce_cb(v, af_nonce_cb_expected, &want);
    }
    if ((data = af_app_read(csr, &dlen)) == NULL) {
        rc = af_app_fail("cannot read the CSR");
        goto done;
    }
    /* PEM CSR, else DER PKCS#10, else DER CRMF CertReqMsg */
    if ((bio = BIO_new_mem_buf(data, (int)dlen)) == NULL) {
        rc = af_app_fail("verify");
        goto done;
    }
    ERR_set_mark();
    req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    if (req == NULL) {
        const unsigned char *p = data;

        req = d2i_X509_REQ(NULL, &p, (long)dlen);
        if (req != NULL && p != data + dlen) {
            X509_REQ_free(req);
            req = NULL;
        }
    }
    if (req == NULL) {
        const unsigned char *p = data;

        msg = d2i_OSSL_CRMF_MSG(NULL, &p, (long)dlen);
        if (msg != NULL && p != data + dlen) {
            OSSL_CRMF_MSG_free(msg);
            msg = NULL;
        }
    }
    ERR_pop_to_mark();
    if (req == NULL && msg == NULL) {
        fprintf(stderr, "attfresh: %s: neither a PKCS#10 CSR (PEM or DER) nor a CRMF CertReqMsg\n",
                csr);
        goto done;
    }
    if (req != NULL)
        af_csr_verify(v, req, c);
    else
        af_crmf_verify(v, msg, c);
    ERR_clear_error();

    if ((sout = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL)
        goto done;
    if (json) {
        char *j = af_checks_to_json(c);

        if (j == NULL) {
            rc = af_app_fail("verify");
            goto done;
        }
        BIO_puts(sout, j);
        OPENSSL_free(j);
    } else {
        af_checks_print(sout, c);
    }
    if (af_checks_passed(c)) {
        rc = AF_EXIT_OK;
    } else {
        int f = af_checks_first_failure(c);

        if (f >= 0)
            fprintf(stderr, "attfresh: verify: %s failed: %s\n", af_checks_name(c, (size_t)f),
                    af_checks_detail(c, (size_t)f));
        else
            fprintf(stderr, "attfresh: verify: no check ran\n");
    }
done:
    BIO_free(sout);
    BIO_free(bio);
    af_checks_free(c);
    af_policy_free(pol);
    af_verify_free(v);
    X509_REQ_free(req);
    OSSL_CRMF_MSG_free(msg);
    OPENSSL_free(nonce);
    OPENSSL_free(data);
    return rc;
}
