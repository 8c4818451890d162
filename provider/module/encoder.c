/* encoder.c - encoder of the key-reference PEM/DER (refers to a token key, never key material). */
#include "module/prov.h"

const OSSL_ALGORITHM af_encoder_algorithms[] = {
    {NULL, NULL, NULL, NULL},
};
