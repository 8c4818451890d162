/* decoder.c - decoder of the key-reference PEM/DER. */
#include "module/prov.h"

const OSSL_ALGORITHM af_decoder_algorithms[] = {
    {NULL, NULL, NULL, NULL},
};
