/* nonce_b64.c - strict base64 in both alphabets: base64url without padding (current JSON form,
 * RFC 4648 section 5) and standard base64 with padding (seed JSON form). OpenSSL's EVP_Encode has
 * no url alphabet and its decoder tolerates whitespace and sloppy padding, hence this small one. */
#include <string.h>

#include <openssl/crypto.h>

#include "nonce_local.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *af_b64_encode(const unsigned char *in, size_t len, int form)
{
    const char *a = (form & AF_B64_URL) ? url_alpha : std_alpha;
    size_t olen = (len + 2) / 3 * 4 + 1, i, o = 0;
    char *out;

    if ((out = OPENSSL_malloc(olen)) == NULL) {
        AF_ERR(AF_R_MALLOC, "base64");
        return NULL;
    }
    for (i = 0; i + 2 < len; i += 3) {
        unsigned long v =
            ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];

        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (i < len) {
        unsigned long v = (unsigned long)in[i] << 16;

        if (i + 1 < len)
            v |= (unsigned long)in[i + 1] << 8;
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = a[(v >> 6) & 63];
        else if (form & AF_B64_PAD)
            out[o++] = '=';
        if (form & AF_B64_PAD)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

/* 0..63, or -1; *alpha gets 1 for std-only characters, 2 for url-only ones */
static int b64_value(char c, int *alpha)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '/') {
        *alpha |= 1;
        return c == '+' ? 62 : 63;
    }
    if (c == '-' || c == '_') {
        *alpha |= 2;
        return c == '-' ? 62 : 63;
    }
    return -1;
}

int af_b64_decode(const char *text, size_t tlen, int want, unsigned char **out, size_t *outlen,
                  int *other_form)
{
    size_t pad = 0, n, i, o = 0;
    int alpha = 0;
    unsigned char *buf;
    unsigned long acc = 0;
    int bits = 0;

    while (pad < 2 && pad < tlen && text[tlen - 1 - pad] == '=')
        pad++;
    n = tlen - pad;
    if (pad > 0 && tlen % 4 != 0)
        return 0;
    if (n % 4 == 1)
        return 0;
    if (pad > 0 && pad != (4 - n % 4) % 4)
        return 0;
    if ((buf = OPENSSL_malloc(n * 3 / 4 + 1)) == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        int v = b64_value(text[i], &alpha);

        if (v < 0 || alpha == 3) {
            OPENSSL_free(buf);
            return 0;
        }
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1ul << bits) - 1;
        }
    }
    /* leftover bits must be zero, or two texts would decode to the same bytes */
    if (acc != 0) {
        OPENSSL_free(buf);
        return 0;
    }
    if (other_form != NULL) {
        int url = (want & AF_B64_URL) != 0;

        *other_form = (url && (alpha & 1)) || (!url && (alpha & 2)) ||
                      (!(want & AF_B64_PAD) && pad > 0) ||
                      ((want & AF_B64_PAD) && n % 4 != 0 && pad == 0);
    }
    *out = buf;
    *outlen = o;
    return 1;
}
