/* keymgmt.c - key management for token keys: EC, RSA, RSA-PSS, ED25519, generation in the token. */
#include "module/prov.h"

const OSSL_ALGORITHM af_keymgmt_algorithms[] = {
    {NULL, NULL, NULL, NULL},
};
