/* fuzz_nonce_cbor.c - libFuzzer target: the CBOR nonce request/response decoders, strict and
 * lenient, every wire profile; see fuzz_nonce_common.h for the byte layout and the properties
 * checked. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_nonce_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_one(AF_NONCE_FMT_CBOR, data, size);
    return 0;
}
