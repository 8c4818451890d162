/* cmd_csr.c - `attfresh csr`: a PKCS#10 CSR (or a CRMF CertReqMsg) signed by the subject key and
 * carrying one id-aa-attestation AttestationBundle: the Evidence, made here or read from a file,
 * and the AK chain. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "apps.h"
#include "attfresh/err.h"
#include "attfresh/evidence.h"

static void help(FILE *out)
{
    fputs(
        "usage: attfresh csr --key URI --subj DN [--san LIST]\n"
        "                    (--evidence FILE | --attest --ak URI --ak-cert FILE\n"
        "                                       (--nonce HEX | --state FILE) [--pss])\n"
        "                    [--chain FILE] [--crmf] [--der] --out FILE\n\n"
        "Makes a CSR signed by --key (in the HSM for a pkcs11: URI) with one id-aa-attestation\n"
        "attribute: an AttestationBundle holding the PKIX Evidence statement and the AK chain\n"
        "(the AK certificate and --chain) in `certs`. The nonce is only inside the Evidence.\n\n"
        "  --key URI        the subject key (pkcs11: URI or key file)\n"
        "  --subj DN        subject, e.g. '/CN=device-1/O=Example'\n"
        "  --san LIST       subjectAltName, e.g. 'DNS:device-1.example,IP:192.0.2.1'\n"
        "  --evidence FILE  Evidence made by `attfresh attest` (DER or PEM); must describe --key\n"
        "  --attest         or make the Evidence now (about --key only), with:\n"
        "  --ak URI, --ak-cert FILE, --nonce HEX | --state FILE, --pss   as for attest\n"
        "  --chain FILE     more certificates of the AK chain (intermediate CAs)\n"
        "  --crmf           write a CRMF CertReqMsg (DER) for CMP ir/cr instead: the bundle is "
        "the\n"
        "                   CertTemplate extension id-aa-attestation\n"
        "  --der            PKCS#10 in DER (default PEM)\n"
        "  --out FILE       output\n\n"
        "example:\n"
        "  attfresh csr --key 'pkcs11:token=demo;object=device-key' --subj /CN=device-1 \\\n"
        "      --attest --ak 'pkcs11:token=demo;object=ak' --ak-cert ak.pem \\\n"
        "      --nonce 0123456789abcdef0123456789abcdef --out device.csr\n"
        "  openssl req -verify -noout -in device.csr\n",
        out);
}

static AF_EVIDENCE *make_evidence(EVP_PKEY *key, const char *key_uri, const char *ak_uri,
                                  const char *ak_cert_path, const char *hex, const char *state,
                                  int pss)
{
    EVP_PKEY *ak = NULL;
    X509 *akc = NULL;
    AF_ATTEST *at = NULL;
    AF_EVIDENCE *ev = NULL;
    unsigned char *nonce = NULL;
    size_t nlen = 0;
    unsigned int facts = 0;

    if ((nonce = af_nonce_load(hex, state, &nlen)) == NULL) {
        af_app_fail("cannot read the nonce");
        return NULL;
    }
    if ((ak = af_load_key(ak_uri, 1, NULL, NULL)) == NULL)
        af_app_fail("cannot load the attestation key");
    else if ((akc = af_load_cert(ak_cert_path, NULL, NULL)) == NULL)
        af_app_fail("cannot load the AK certificate");
    else if ((at = af_attest_new(NULL, NULL)) == NULL || !af_attest_set1_nonce(at, nonce, nlen) ||
             !af_attest_set_rsa_pss(at, pss) || !af_attest_add_key(at, key, key_uri, &facts) ||
             !af_attest_set1_ak(at, ak, akc))
        af_app_fail("attest");
    else if ((ev = af_attest_sign(at)) == NULL)
        af_app_fail("cannot sign the Evidence with %s", ak_uri);
    else if (!(facts & AF_FACT_ATTRIBUTES))
        fprintf(stderr,
                "attfresh: note: %s has no PKCS#11 facts (not a token key through "
                "attfresh.so): the Evidence states only its identifier and spki\n",
                key_uri);
    af_attest_free(at);
    X509_free(akc);
    EVP_PKEY_free(ak);
    OPENSSL_free(nonce);
    return ev;
}

/* Adds the signer certificates and --chain to the bundle, leaving out self-signed roots (the
 * verifier has its own anchors). */
static int add_chain(AF_BUNDLE *b, const AF_EVIDENCE *ev, const char *chain)
{
    STACK_OF(X509) *sk = af_evidence_get1_signer_certs(ev), *more = NULL;
    int i, ok = sk != NULL;

    if (ok && chain != NULL) {
        if ((more = af_load_certs(chain, NULL, NULL)) == NULL)
            ok = 0;
        else
            ok = X509_add_certs(sk, more, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP);
    }
    for (i = 0; ok && i < sk_X509_num(sk); i++) {
        X509 *x = sk_X509_value(sk, i);

        if (X509_self_signed(x, 0) == 1)
            continue;
        ok = af_bundle_add1_cert(b, x);
    }
    sk_X509_pop_free(sk, X509_free);
    sk_X509_pop_free(more, X509_free);
    return ok;
}

int af_cmd_csr(int argc, char **argv)
{
    const char *key_uri = NULL, *subj = NULL, *san = NULL, *evfile = NULL, *ak = NULL;
    const char *akc = NULL, *hex = NULL, *state = NULL, *chain = NULL, *out = NULL;
    int attest = 0, crmf = 0, der = 0, pss = 0, rc = AF_EXIT_FAIL;
    EVP_PKEY *key = NULL;
    AF_EVIDENCE *ev = NULL;
    AF_BUNDLE *b = NULL;
    X509_REQ *req = NULL;
    OSSL_CRMF_MSG *msg = NULL;
    unsigned char *data = NULL, *enc = NULL;
    size_t dlen = 0;
    int elen = 0;
    const AF_APP_OPT opts[] = {
        {"--attest", &attest, NULL, NULL, 0},
        {"--crmf", &crmf, NULL, NULL, 0},
        {"--der", &der, NULL, NULL, 0},
        {"--pss", &pss, NULL, NULL, 0},
        {"--key", NULL, &key_uri, NULL, 0},
        {"--subj", NULL, &subj, NULL, 0},
        {"--san", NULL, &san, NULL, 0},
        {"--evidence", NULL, &evfile, NULL, 0},
        {"--ak", NULL, &ak, NULL, 0},
        {"--ak-cert", NULL, &akc, NULL, 0},
        {"--nonce", NULL, &hex, NULL, 0},
        {"--state", NULL, &state, NULL, 0},
        {"--chain", NULL, &chain, NULL, 0},
        {"--out", NULL, &out, NULL, 0},
        {NULL, NULL, NULL, NULL, 0},
    };

    if (!af_app_opts("csr", argc, argv, opts, help, &rc))
        return rc;
    if (key_uri == NULL || subj == NULL || out == NULL) {
        return af_app_usage("csr: --key, --subj and --out are required");
    }
    if ((evfile != NULL) == attest)
        return af_app_usage("csr: give exactly one of --evidence FILE and --attest");
    if (attest && (ak == NULL || akc == NULL || (hex == NULL) == (state == NULL)))
        return af_app_usage("csr: --attest needs --ak, --ak-cert and one of --nonce, --state");

    if ((key = af_load_key(key_uri, 1, NULL, NULL)) == NULL)
        return af_app_fail("cannot load the subject key");
    if (attest) {
        if ((ev = make_evidence(key, key_uri, ak, akc, hex, state, pss)) == NULL)
            goto done;
    } else {
        if ((data = af_app_read(evfile, &dlen)) == NULL) {
            rc = af_app_fail("cannot read the Evidence");
            goto done;
        }
        if ((ev = af_evidence_from_bytes(data, dlen)) == NULL) {
            rc = af_app_fail("%s", evfile);
            goto done;
        }
        if (!af_evidence_describes(ev, key)) {
            fprintf(stderr,
                    "attfresh: %s: no key element describes %s (Evidence about another "
                    "key)\n",
                    evfile, key_uri);
            goto done;
        }
    }
    if ((b = af_bundle_new()) == NULL || !af_bundle_add_evidence(b, ev) ||
        !add_chain(b, ev, chain)) {
        rc = af_app_fail("cannot build the attestation bundle");
        goto done;
    }
    if (crmf) {
        if ((msg = af_crmf_new(key, subj, san, b, NULL, NULL)) == NULL) {
            rc = af_app_fail("cannot make the CRMF request");
            goto done;
        }
        elen = i2d_OSSL_CRMF_MSG(msg, &enc);
    } else {
        if ((req = af_csr_new(key, subj, san, b, NULL, NULL)) == NULL) {
            rc = af_app_fail("cannot make the CSR");
            goto done;
        }
        if (der) {
            elen = i2d_X509_REQ(req, &enc);
        } else {
            BIO *mem = BIO_new(BIO_s_mem());
            char *p = NULL;

            if (mem != NULL && PEM_write_bio_X509_REQ(mem, req)) {
                elen = (int)BIO_get_mem_data(mem, &p);
                enc = OPENSSL_memdup(p, (size_t)elen);
            }
            BIO_free(mem);
        }
    }
    if (elen <= 0 || enc == NULL) {
        AF_ERR(AF_R_INTERNAL, "encoding");
        rc = af_app_fail("cannot encode the request");
        goto done;
    }
    if (!af_app_write(out, enc, (size_t)elen, 0644)) {
        rc = af_app_fail("cannot write the request");
        goto done;
    }
    rc = AF_EXIT_OK;
done:
    OPENSSL_free(enc);
    OPENSSL_free(data);
    OSSL_CRMF_MSG_free(msg);
    X509_REQ_free(req);
    af_bundle_free(b);
    af_evidence_free(ev);
    EVP_PKEY_free(key);
    return rc;
}
