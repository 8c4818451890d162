/* store.c - OSSL_STORE for pkcs11: URIs (keys stay in the token). */
#include "module/prov.h"

const OSSL_ALGORITHM af_store_algorithms[] = {
    {NULL, NULL, NULL, NULL},
};
