/* fuzz_policy.c - libFuzzer target: the key-claim policy parser (af_policy_parse), the one text
 * format the RA reads besides the wire formats. Property: it accepts or refuses with an error on
 * the queue, never crashes, and an accepted policy is usable by a verifier. Seeds:
 * tests/fuzz/corpus/policy/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "attfresh/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AF_POLICY *p = af_policy_new();
    AF_VERIFY *v;

    if (p == NULL)
        abort();
    if (af_policy_parse(p, (const char *)data, size)) {
        if ((v = af_verify_new(NULL, NULL)) == NULL || !af_verify_set_policy(v, p))
            abort();
        af_verify_free(v);
    } else if (ERR_peek_error() == 0) {
        abort(); /* a refusal must say why */
    }
    ERR_clear_error();
    af_policy_free(p);
    return 0;
}
