/* fuzz_nonce_common.h - the body shared by the nonce decoder fuzz targets: the first input byte
 * picks request/response, strict/lenient, the wire profile and (DER) the wrapper; the rest is the
 * message. Whatever decodes must re-encode, decode again, and re-encode to the same bytes; a
 * strictly decoded DER message must re-encode to exactly its input; encoding it in the other
 * formats (the opaque-value conversion rule) must give bytes or one error of ours. */
#ifndef AF_FUZZ_NONCE_COMMON_H
#define AF_FUZZ_NONCE_COMMON_H

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/nonce.h"

static const char *const fuzz_profiles[4] = {"draft-08", "rat-e2e", "draft-06", "siemens-ra"};

/* encode failures allowed after a successful decode: none but an expiry the other form cannot
 * express (seconds beyond year 9999 as an RFC 3339 time) */
static int fuzz_encode_failure_ok(void)
{
    unsigned long e = ERR_peek_error();

    return ERR_GET_LIB(e) == af_err_lib() && ERR_GET_REASON(e) == AF_R_NONCE_EXPIRY;
}

static void fuzz_one(af_nonce_format base, const unsigned char *data, size_t size)
{
    static AF_NONCE_PROFILE *profs[4];
    AF_NONCE_CODEC *codec;
    AF_NONCE_REQ *req = NULL, *req2 = NULL;
    AF_NONCE_RESP *resp = NULL, *resp2 = NULL;
    unsigned char *a = NULL, *b = NULL, sel;
    size_t alen = 0, blen = 0;
    af_nonce_format fmt = base;
    int response, lenient, ok;
    const AF_NONCE_PROFILE *prof;

    if (size < 1)
        return;
    sel = data[0];
    data++;
    size--;
    if (profs[0] == NULL)
        for (int i = 0; i < 4; i++)
            profs[i] = af_nonce_profile_new(fuzz_profiles[i]);
    response = sel & 1;
    lenient = (sel >> 1) & 1;
    prof = profs[(sel >> 2) & 3];
    if (base == AF_NONCE_FMT_DER)
        fmt = ((sel >> 4) & 3) == 1   ? AF_NONCE_FMT_ITAV
              : ((sel >> 4) & 3) == 2 ? AF_NONCE_FMT_CMC
                                      : AF_NONCE_FMT_DER;
    codec = af_nonce_codec_new();
    af_nonce_codec_set_lenient(codec, lenient);
    af_nonce_codec_set_now(codec, 1800000000);

    ok = response ? af_nonce_resp_decode(&resp, prof, fmt, codec, data, size)
                  : af_nonce_req_decode(&req, prof, fmt, codec, data, size);
    if (!ok) {
        /* every rejection names a reason of ours */
        unsigned long e = ERR_peek_error();

        if (e == 0 || ERR_GET_LIB(e) != af_err_lib())
            abort();
        goto done;
    }
    if (fmt == AF_NONCE_FMT_CMC)
        af_nonce_codec_set_body_part_id(codec, af_nonce_codec_get_body_part_id(codec));
    ok = response ? af_nonce_resp_encode(resp, prof, fmt, codec, &a, &alen)
                  : af_nonce_req_encode(req, prof, fmt, codec, &a, &alen);
    if (!ok) {
        if (!fuzz_encode_failure_ok())
            abort();
        goto done;
    }
    if (!lenient && base == AF_NONCE_FMT_DER && (alen != size || memcmp(a, data, size) != 0))
        abort();
    ok = response ? af_nonce_resp_decode(&resp2, prof, fmt, codec, a, alen)
                  : af_nonce_req_decode(&req2, prof, fmt, codec, a, alen);
    if (!ok)
        abort();
    ok = response ? af_nonce_resp_encode(resp2, prof, fmt, codec, &b, &blen)
                  : af_nonce_req_encode(req2, prof, fmt, codec, &b, &blen);
    if (!ok || blen != alen || memcmp(a, b, alen) != 0)
        abort();
    /* every other encoding: either bytes or one error of ours (an opaque value without a form
     * there, an expiry beyond year 9999, a seed value the DER field rule cannot carry) */
    for (int f = AF_NONCE_FMT_DER; f <= AF_NONCE_FMT_CBOR; f++) {
        unsigned char *c = NULL;
        size_t clen = 0;

        ERR_clear_error();
        ok = response ? af_nonce_resp_encode(resp, prof, (af_nonce_format)f, codec, &c, &clen)
                      : af_nonce_req_encode(req, prof, (af_nonce_format)f, codec, &c, &clen);
        if (!ok && ERR_GET_LIB(ERR_peek_error()) != af_err_lib())
            abort();
        OPENSSL_free(c);
    }
done:
    ERR_clear_error();
    OPENSSL_free(a);
    OPENSSL_free(b);
    af_nonce_req_free(req);
    af_nonce_req_free(req2);
    af_nonce_resp_free(resp);
    af_nonce_resp_free(resp2);
    af_nonce_codec_free(codec);
}

#endif
