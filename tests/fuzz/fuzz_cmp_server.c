/* fuzz_cmp_server.c - libFuzzer target: the RA's CMP responder (af_ra_cmp_handle) on arbitrary
 * request bodies, through both the PBM fast path and OpenSSL's server path. The RA draws nonces
 * from the software DRBG, has a MAC secret, no rate limit. Property: the responder always answers
 * (returns 1) with a known status, and a 200 carries one DER PKIMessage of type genp or error.
 * Seeds: tests/fuzz/corpus/cmp_server/ (PBM genm with and without infoValue, other requests). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cmp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the secret of the seed messages */
#define SECRET "fuzz-mac-secret"

static AF_RA *ra;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    AF_RA_CONFIG cfg;

    af_ra_config_init(&cfg);
    cfg.soft_rand = 1;
    cfg.ratelimit = 0;
    cfg.store.max_per_requester = 1000000;
    if ((ra = af_ra_new(&cfg)) == NULL ||
        !af_ra_set1_cmp_secret(ra, (const unsigned char *)SECRET, strlen(SECRET)))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const profiles[] = {"draft-08", "siemens-ra"};
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs;
    size_t i;

    for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        memset(&rq, 0, sizeof(rq));
        memset(&rs, 0, sizeof(rs));
        rq.method = "POST";
        rq.path = "/.well-known/cmp";
        rq.profile = profiles[i];
        rq.content_type = "application/pkixcmp";
        rq.body = data;
        rq.body_len = size;
        rq.requester = (const unsigned char *)"fuzz";
        rq.requester_len = 4;
        if (af_ra_cmp_handle(ra, &rq, &rs) != 1)
            abort();
        if (rs.status == 200) {
            const unsigned char *p = rs.body;
            OSSL_CMP_MSG *m = d2i_OSSL_CMP_MSG(NULL, &p, (long)rs.body_len);
            int bt = m == NULL ? -1 : OSSL_CMP_MSG_get_bodytype(m);

            /* genp 22, error 23; ip/cp 1/3 and pkiconf 19 for certification requests */
            if (m == NULL || p != rs.body + rs.body_len ||
                (bt != 22 && bt != 23 && bt != 1 && bt != 3 && bt != 19))
                abort();
            OSSL_CMP_MSG_free(m);
        } else if (rs.status != 400 && rs.status != 413 && rs.status != 500) {
            abort();
        }
        OPENSSL_free(rs.body);
        ERR_clear_error();
    }
    return 0;
}
