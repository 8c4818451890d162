/* signature.c - signatures made in the token: ECDSA, RSA PKCS#1 v1.5 / PSS, Ed25519. */
#include "module/prov.h"

const OSSL_ALGORITHM af_signature_algorithms[] = {
    {NULL, NULL, NULL, NULL},
};
