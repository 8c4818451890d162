/* fuzz_nonce_der.c - libFuzzer target: the DER nonce request/response decoders (bare, CMP
 * InfoTypeAndValue, CMC TaggedAttribute), strict and lenient, every wire profile; see
 * fuzz_nonce_common.h for the byte layout and the properties checked. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_nonce_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_one(AF_NONCE_FMT_DER, data, size);
    return 0;
}
