/* ecdsa_der.c - ECDSA signature encodings: the token's r||s <-> DER Ecdsa-Sig-Value, and the
 * size of r and s per curve. No token needed, so the unit tests reach these directly. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include "module/key.h"

size_t af_ecdsa_half_len(int nid)
{
    switch (nid) {
    case NID_X9_62_prime256v1:
        return 32;
    case NID_secp384r1:
        return 48;
    case NID_secp521r1:
        return 66;
    default:
        return 0;
    }
}

/* ---- ECDSA signature encodings --------------------------------------------------------------- */

/* Writes INTEGER v (big-endian, len bytes, unsigned) minimally; returns bytes written. */
static size_t der_uint(unsigned char *out, const unsigned char *v, size_t len)
{
    size_t o = 0;

    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    out[o++] = 0x02;
    out[o++] = (unsigned char)(len + (v[0] & 0x80 ? 1 : 0));
    if (v[0] & 0x80)
        out[o++] = 0x00;
    memcpy(out + o, v, len);
    return o + len;
}

int af_ecdsa_rs_to_der(const unsigned char *rs, size_t rslen, unsigned char *der, size_t dersize,
                       size_t *derlen)
{
    /* Hand-written on purpose: ECDSA_SIG/BIGNUM would cost three allocations per signature.
     * Halves up to 66 bytes (P-521) keep every length below 128 except the SEQUENCE's. */
    unsigned char body[2 * (2 + 1 + 66)];
    size_t half = rslen / 2, blen, hdr;

    if (rslen == 0 || rslen % 2 != 0 || half > 66)
        return 0;
    blen = der_uint(body, rs, half);
    blen += der_uint(body + blen, rs + half, half);
    hdr = blen < 128 ? 2 : 3;
    if (dersize < hdr + blen)
        return 0;
    der[0] = 0x30;
    if (hdr == 2) {
        der[1] = (unsigned char)blen;
    } else {
        der[1] = 0x81;
        der[2] = (unsigned char)blen;
    }
    memcpy(der + hdr, body, blen);
    *derlen = hdr + blen;
    return 1;
}

int af_ecdsa_der_to_rs(const unsigned char *der, size_t derlen, size_t half, unsigned char *rs)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig;
    const BIGNUM *r, *s;
    unsigned char *re = NULL;
    int relen, ok = 0;

    if (derlen == 0 || derlen > 2 * (half + 8) || half == 0 || half > 66)
        return 0;
    ERR_set_mark(); /* bad input is answered with 0, not with queued errors */
    sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    if (sig == NULL)
        goto end;
    ECDSA_SIG_get0(sig, &r, &s);
    /* d2i accepts some BER; re-encoding must give back the same bytes for strict DER. */
    relen = i2d_ECDSA_SIG(sig, &re);
    if (p != der + derlen || relen != (int)derlen || memcmp(re, der, derlen) != 0)
        goto end;
    if (BN_is_negative(r) || BN_is_negative(s) || BN_num_bytes(r) > (int)half ||
        BN_num_bytes(s) > (int)half)
        goto end;
    ok = BN_bn2binpad(r, rs, (int)half) == (int)half &&
         BN_bn2binpad(s, rs + half, (int)half) == (int)half;
end:
    OPENSSL_free(re);
    ECDSA_SIG_free(sig);
    ERR_pop_to_mark();
    return ok;
}
