/* fuzz_cmc.c - libFuzzer target: the strict CMC decoder (ContentInfo id-data with PKIData or
 * PKIResponse, controls, CMCStatusInfoV2), as a request and as a response. Property: whatever
 * decodes re-encodes from the flat view without failing, and that encoding decodes again to the
 * same view (transactionId, nonces, status, nonce control). Seeds: tests/fuzz/corpus/cmc/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "proto/cmc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    return alen == blen && (alen == 0 || (a != NULL && b != NULL && memcmp(a, b, alen) == 0));
}

static void one(const uint8_t *data, size_t size, int response)
{
    const char *oid = response ? "1.3.6.1.5.5.7.7.99" : "1.3.6.1.5.5.7.7.98";
    AF_CMC_MSG m, again;
    unsigned char *out = NULL;
    size_t outlen;

    if (!af_cmc_msg_decode(&m, response, oid, data, size)) {
        ERR_clear_error();
        return;
    }
    if (!af_cmc_msg_encode(&m, response, &out, &outlen))
        abort();
    if (!af_cmc_msg_decode(&again, response, oid, out, outlen))
        abort();
    if (!same(m.txid, m.txid_len, again.txid, again.txid_len) ||
        !same(m.sender_nonce, m.sender_nonce_len, again.sender_nonce, again.sender_nonce_len) ||
        !same(m.recip_nonce, m.recip_nonce_len, again.recip_nonce, again.recip_nonce_len) ||
        !same(m.nonce_ctl, m.nonce_ctl_len, again.nonce_ctl, again.nonce_ctl_len) ||
        m.status != again.status || m.fail_info != again.fail_info)
        abort();
    OPENSSL_free(out);
    af_cmc_msg_cleanup(&m);
    af_cmc_msg_cleanup(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, 0);
    one(data, size, 1);
    return 0;
}
