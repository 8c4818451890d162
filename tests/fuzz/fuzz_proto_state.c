/* fuzz_proto_state.c - libFuzzer target: the transaction state file reader
 * (af_proto_state_from_json). Property: whatever it accepts writes back without failing, and that
 * JSON reads again and writes the same bytes (deterministic output). Seeds:
 * tests/fuzz/corpus/proto_state/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AF_PROTO_STATE *st = af_proto_state_from_json((const char *)data, size), *again;
    char *j1 = NULL, *j2 = NULL;
    size_t l1 = 0, l2 = 0;

    if (st == NULL) {
        ERR_clear_error();
        return 0;
    }
    if (!af_proto_state_to_json(st, &j1, &l1))
        abort();
    if ((again = af_proto_state_from_json(j1, l1)) == NULL)
        abort();
    if (!af_proto_state_to_json(again, &j2, &l2) || l1 != l2 || memcmp(j1, j2, l1) != 0)
        abort();
    OPENSSL_free(j1);
    OPENSSL_free(j2);
    af_proto_state_free(again);
    af_proto_state_free(st);
    return 0;
}
