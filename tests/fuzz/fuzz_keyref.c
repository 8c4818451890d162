/* fuzz_keyref.c - libFuzzer target: the provider's two parsers of outside bytes, the key-reference
 * DER (af_keyref_decode, what any `-key FILE` feeds attfresh's decoder) and the ECDSA DER -> r||s
 * conversion. Properties: a decoded reference re-encodes to exactly the input (strict DER, no
 * trailing bytes); a decoded signature converts back to the same DER. Seeds: corpus/keyref/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include "module/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void keyref(const uint8_t *data, size_t size)
{
    static const int types[] = {AF_KEY_EC, AF_KEY_RSA, AF_KEY_ED25519};
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char *uri = af_keyref_decode(data, size, types[i]);
        unsigned char *der = NULL;
        int len;

        if (uri == NULL)
            continue;
        len = af_keyref_encode(types[i], uri, &der);
        if (len != (int)size || memcmp(der, data, size) != 0)
            abort();
        OPENSSL_free(der);
        OPENSSL_free(uri);
    }
}

static void ecdsa(const uint8_t *data, size_t size)
{
    static const int curves[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
    size_t i;

    for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        size_t half = af_ecdsa_half_len(curves[i]), derlen = 0;
        unsigned char rs[132], der[160];

        if (!af_ecdsa_der_to_rs(data, size, half, rs))
            continue;
        if (!af_ecdsa_rs_to_der(rs, 2 * half, der, sizeof(der), &derlen) || derlen != size
            || memcmp(der, data, size) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keyref(data, size);
    ecdsa(data, size);
    ERR_clear_error();
    return 0;
}
