/* cmd_attest.c - `attfresh attest`: PKIX Evidence about one or more keys, bound to the RA's nonce
 * and signed by the Attestation Key (in the HSM when the AK is a pkcs11: URI). */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "apps.h"
#include "attfresh/err.h"
#include "attfresh/evidence.h"

#define MAX_KEYS 16

static void help(FILE *out)
{
    fputs("usage: attfresh attest --key URI [--key URI ...] --ak URI --ak-cert FILE\n"
          "                       (--nonce HEX | --state FILE) [--out FILE] [--pem]\n"
          "                       [--pss] [--digest NAME] [--show]\n\n"
          "Signs PKIX Evidence (version 1): a transaction element (the nonce exactly as given,\n"
          "a timestamp, the AK's public key), a platform element from the token info, and one\n"
          "key element per --key (its pkcs11: URI, spki, extractable, sensitive,\n"
          "never-extractable, local, purpose) - signed by the AK over the DER of the tbs.\n\n"
          "  --key URI       key to describe (pkcs11: URI or key file); repeatable\n"
          "  --ak URI        the Attestation Key (pkcs11: URI or key file)\n"
          "  --ak-cert FILE  the AK certificate (goes into sid.certificate)\n"
          "  --nonce HEX     the nonce from the RA, hex\n"
          "  --state FILE    or read it from the RA's NonceResponse (DER/ITAV/CMC/JSON/CBOR)\n"
          "                  or a hex text file\n"
          "  --out FILE      output (default: standard output), DER unless --pem\n"
          "  --pss           RSA AK: sign with RSASSA-PSS instead of PKCS#1 v1.5\n"
          "  --digest NAME   SHA256 (default; SHA384 for P-384), SHA384, SHA512\n"
          "  --show          also print the Evidence as text to standard error\n\n"
          "example:\n"
          "  attfresh attest --key 'pkcs11:token=demo;object=device-key' \\\n"
          "      --ak 'pkcs11:token=demo;object=ak' --ak-cert ak.pem \\\n"
          "      --nonce 0123456789abcdef0123456789abcdef --pem --out evidence.pem\n",
          out);
}

int af_cmd_attest(int argc, char **argv)
{
    const char *keys[MAX_KEYS], *ak_uri = NULL, *ak_cert_path = NULL, *hex = NULL, *state = NULL;
    const char *out = NULL, *digest = NULL;
    int nkeys = 0, pem = 0, pss = 0, show = 0, rc = AF_EXIT_FAIL, i;
    EVP_PKEY *ak = NULL;
    X509 *ak_cert = NULL;
    AF_ATTEST *at = NULL;
    AF_EVIDENCE *ev = NULL;
    unsigned char *nonce = NULL, *der = NULL;
    size_t nonce_len = 0, len = 0;
    BIO *mem = NULL;
    const AF_APP_OPT opts[] = {
        {"--pem", &pem, NULL, NULL, 0},
        {"--pss", &pss, NULL, NULL, 0},
        {"--show", &show, NULL, NULL, 0},
        {"--key", NULL, keys, &nkeys, MAX_KEYS},
        {"--ak", NULL, &ak_uri, NULL, 0},
        {"--ak-cert", NULL, &ak_cert_path, NULL, 0},
        {"--nonce", NULL, &hex, NULL, 0},
        {"--state", NULL, &state, NULL, 0},
        {"--out", NULL, &out, NULL, 0},
        {"--digest", NULL, &digest, NULL, 0},
        {NULL, NULL, NULL, NULL, 0},
    };

    if (!af_app_opts("attest", argc, argv, opts, help, &rc))
        return rc;
    if (nkeys == 0 || ak_uri == NULL || ak_cert_path == NULL) {
        return af_app_usage("attest: --key, --ak and --ak-cert are required");
    }
    if ((hex == NULL) == (state == NULL))
        return af_app_usage("attest: give exactly one of --nonce HEX and --state FILE");
    if ((nonce = af_nonce_load(hex, state, &nonce_len)) == NULL)
        return af_app_fail("cannot read the nonce");

    if ((ak = af_load_key(ak_uri, 1, NULL, NULL)) == NULL) {
        rc = af_app_fail("cannot load the attestation key");
        goto done;
    }
    if ((ak_cert = af_load_cert(ak_cert_path, NULL, NULL)) == NULL) {
        rc = af_app_fail("cannot load the AK certificate");
        goto done;
    }
    if ((at = af_attest_new(NULL, NULL)) == NULL || !af_attest_set1_nonce(at, nonce, nonce_len) ||
        !af_attest_set_rsa_pss(at, pss) || !af_attest_set_digest(at, digest)) {
        rc = af_app_fail("attest");
        goto done;
    }
    for (i = 0; i < nkeys; i++) {
        EVP_PKEY *k = af_load_key(keys[i], 0, NULL, NULL);
        unsigned int facts = 0;
        int ok;

        if (k == NULL) {
            rc = af_app_fail("cannot load --key %s", keys[i]);
            goto done;
        }
        ok = af_attest_add_key(at, k, keys[i], &facts);
        EVP_PKEY_free(k);
        if (!ok) {
            rc = af_app_fail("cannot describe --key %s", keys[i]);
            goto done;
        }
        if (!(facts & AF_FACT_ATTRIBUTES))
            fprintf(stderr,
                    "attfresh: note: %s has no PKCS#11 facts (not a token key through attfresh.so):"
                    " the Evidence states only its identifier and spki\n",
                    keys[i]);
    }
    if (!af_attest_set1_ak(at, ak, ak_cert)) {
        rc = af_app_fail("attestation key");
        goto done;
    }
    if ((ev = af_attest_sign(at)) == NULL) {
        rc = af_app_fail("cannot sign the Evidence with %s", ak_uri);
        goto done;
    }
    if (show) {
        BIO *err = BIO_new_fp(stderr, BIO_NOCLOSE);

        af_evidence_print(err, ev);
        BIO_free(err);
    }
    if (pem) {
        char *data = NULL;
        long n;

        if ((mem = BIO_new(BIO_s_mem())) == NULL || !af_evidence_write_pem(mem, ev)) {
            rc = af_app_fail("cannot encode the Evidence");
            goto done;
        }
        n = BIO_get_mem_data(mem, &data);
        if (!af_app_write(out, (const unsigned char *)data, (size_t)n, 0644)) {
            rc = af_app_fail("cannot write the Evidence");
            goto done;
        }
    } else if (!af_evidence_to_der(ev, &der, &len) || !af_app_write(out, der, len, 0644)) {
        rc = af_app_fail("cannot write the Evidence");
        goto done;
    }
    rc = AF_EXIT_OK;
done:
    BIO_free(mem);
    OPENSSL_free(der);
    OPENSSL_free(nonce);
    af_evidence_free(ev);
    af_attest_free(at);
    X509_free(ak_cert);
    EVP_PKEY_free(ak);
    return rc;
}
