/* fuzz_est_certs.c - libFuzzer target: the station's reader of an EST /simpleenroll answer (a
 * certs-only CMS SignedData whose certificates stay DER until asked for, proto_station.h).
 * Properties: what af_est_certs_d2i accepts never crashes the lookups; a certificate that
 * af_est_certs_get1_for hands out holds the key it was asked for; af_est_certs_get1_all gives
 * every certificate or none, and each one re-encodes. Seeds: tests/fuzz/corpus/est_certs/ (openssl crl2pkcs7 -nocrl
 * answers with one and two certificates, and with none). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proto/proto_station.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key; /* no answer can hold a certificate for it: a fresh key per run */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AF_EST_CERTS *c;
    STACK_OF(X509) *all;
    X509 *mine;

    if (key == NULL && (key = EVP_EC_gen("P-256")) == NULL)
        abort();
    if ((c = af_est_certs_d2i(data, size)) == NULL) {
        ERR_clear_error();
        return 0;
    }
    if ((mine = af_est_certs_get1_for(c, key)) != NULL) {
        if (EVP_PKEY_eq(X509_get0_pubkey(mine), key) != 1)
            abort();
        X509_free(mine);
    }
    all = af_est_certs_get1_all(c);
    for (int i = 0; i < sk_X509_num(all); i++) {
        unsigned char *der = NULL;

        if (sk_X509_value(all, i) == NULL || i2d_X509(sk_X509_value(all, i), &der) <= 0)
            abort();
        OPENSSL_free(der);
    }
    sk_X509_pop_free(all, X509_free);
    af_est_certs_free(c);
    ERR_clear_error();
    return 0;
}
