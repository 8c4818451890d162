/* ev_state.c - the nonce an attester must put into its Evidence, read from what the requester
 * kept of the RA's answer: a NonceResponse in any encoding and profile attfresh speaks (DER, ITAV,
 * CMC, JSON, CBOR), a JSON object {"nonce": "<hex or base64url>"}, or plain hex text. */
#include <ctype.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/nonce.h"
#include "evidence/ev_local.h"

#define MAX_STATE (64 * 1024)

static unsigned char *from_hex(const char *txt, size_t len, size_t *out_len)
{
    char *s = OPENSSL_strndup(txt, len);
    unsigned char *buf = NULL;
    long n = 0;
    size_t i, o = 0;

    if (s == NULL)
        return NULL;
    for (i = 0; s[i] != '\0'; i++) /* whitespace and ':' allowed between digits */
        if (!isspace((unsigned char)s[i]) && s[i] != ':')
            s[o++] = s[i];
    s[o] = '\0';
    if (o >= 2 && o % 2 == 0) {
        ERR_set_mark();
        buf = OPENSSL_hexstr2buf(s, &n);
        ERR_pop_to_mark();
    }
    OPENSSL_free(s);
    if (buf != NULL)
        *out_len = (size_t)n;
    return buf;
}

static int b64url_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* base64 or base64url, padding optional. */
static unsigned char *from_b64(const char *s, size_t *out_len)
{
    size_t len = strlen(s), i, o = 0;
    unsigned char *buf;
    unsigned int acc = 0;
    int bits = 0;

    while (len > 0 && s[len - 1] == '=')
        len--;
    if ((buf = OPENSSL_malloc(len * 3 / 4 + 1)) == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        int v = b64url_val((unsigned char)s[i]);

        if (v < 0) {
            OPENSSL_free(buf);
            return NULL;
        }
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = o;
    return buf;
}

static unsigned char *from_json(const unsigned char *data, size_t len, size_t *out_len)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *s;
    unsigned char *buf = NULL;

    if (root == NULL)
        return NULL;
    if (json_is_object(root) && (s = json_string_value(json_object_get(root, "nonce"))) != NULL) {
        if ((buf = from_hex(s, strlen(s), out_len)) == NULL)
            buf = from_b64(s, out_len);
    }
    json_decref(root);
    return buf;
}

/* The first nonce of a NonceResponse in any profile and encoding. */
static unsigned char *from_response(const unsigned char *data, size_t len, size_t *out_len)
{
    static const af_nonce_format fmts[] = {AF_NONCE_FMT_DER, AF_NONCE_FMT_ITAV, AF_NONCE_FMT_CMC,
                                           AF_NONCE_FMT_JSON, AF_NONCE_FMT_CBOR};
    size_t nprof = 0, p, f;
    const AF_PROFILE_DEF *profs = af_profile_table(&nprof);
    unsigned char *buf = NULL;

    for (p = 0; buf == NULL && p < nprof; p++) {
        AF_NONCE_PROFILE *prof = af_nonce_profile_new(profs[p].name);
        AF_NONCE_CODEC *codec = af_nonce_codec_new();

        if (prof == NULL || codec == NULL) {
            af_nonce_profile_free(prof);
            af_nonce_codec_free(codec);
            break;
        }
        af_nonce_codec_set_lenient(codec, 1);
        for (f = 0; buf == NULL && f < sizeof(fmts) / sizeof(fmts[0]); f++) {
            AF_NONCE_RESP *resp = NULL;
            const unsigned char *n = NULL;
            size_t nlen = 0;

            ERR_set_mark();
            if (af_nonce_resp_decode(&resp, prof, fmts[f], codec, data, len)
                && af_nonce_resp_get_count(resp) > 0) {
                af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &n, &nlen);
                if (n != NULL && nlen > 0 && (buf = OPENSSL_memdup(n, nlen)) != NULL)
                    *out_len = nlen;
            }
            ERR_pop_to_mark();
            af_nonce_resp_free(resp);
        }
        af_nonce_profile_free(prof);
        af_nonce_codec_free(codec);
    }
    return buf;
}

int af_nonce_from_state(const unsigned char *data, size_t len, unsigned char **nonce,
                        size_t *nonce_len)
{
    unsigned char *buf = NULL;

    *nonce = NULL;
    if (data == NULL || len == 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "empty nonce state");
        return 0;
    }
    if (len > MAX_STATE) {
        AF_ERR(AF_R_TOO_LARGE, "nonce state of %zu bytes", len);
        return 0;
    }
    if ((buf = from_response(data, len, nonce_len)) == NULL
        && (buf = from_json(data, len, nonce_len)) == NULL
        && (memchr(data, '\0', len) != NULL
            || (buf = from_hex((const char *)data, len, nonce_len)) == NULL)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no nonce found: expected a NonceResponse (DER, ITAV, CMC, "
                                      "JSON or CBOR), {\"nonce\": ...} or hex text");
        return 0;
    }
    if (*nonce_len == 0) {
        OPENSSL_free(buf);
        AF_ERR(AF_R_INVALID_ARGUMENT, "the nonce state holds an empty nonce");
        return 0;
    }
    *nonce = buf;
    return 1;
}

unsigned char *af_nonce_load(const char *hex, const char *state_path, size_t *len)
{
    unsigned char *n = NULL, *data = NULL;
    BIO *b;
    int r;

    if ((hex == NULL) == (state_path == NULL)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "give exactly one of a hex nonce and a nonce state file");
        return NULL;
    }
    if (hex != NULL) {
        if ((n = from_hex(hex, strlen(hex), len)) == NULL)
            AF_ERR(AF_R_INVALID_ARGUMENT, "the nonce '%.40s' is not hex", hex);
        return n;
    }
    if ((b = BIO_new_file(state_path, "rb")) == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_IO, "cannot open the nonce state %s", state_path);
        return NULL;
    }
    if ((data = OPENSSL_malloc(MAX_STATE + 1)) == NULL) {
        BIO_free(b);
        AF_ERR(AF_R_MALLOC, "nonce state");
        return NULL;
    }
    r = BIO_read(b, data, MAX_STATE + 1);
    BIO_free(b);
    if (r > MAX_STATE)
        AF_ERR(AF_R_TOO_LARGE, "the nonce state %s is larger than %d bytes", state_path,
               MAX_STATE);
    else if (!af_nonce_from_state(data, r > 0 ? (size_t)r : 0, &n, len))
        n = NULL;
    OPENSSL_free(data);
    return n;
}
