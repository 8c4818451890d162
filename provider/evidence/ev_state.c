/* ev_state.c - the nonce an attester must put into its Evidence, read from what the requester
 * kept of the RA's answer: the transaction state file of `attfresh nonce get --state` (proto.h),
 * a NonceResponse in any encoding and profile attfresh speaks (DER, ITAV, CMC, JSON, CBOR), or
 * plain hex text. */
#include <ctype.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/nonce.h"
#include "attfresh/proto.h"
#include "evidence/ev_local.h"

#define MAX_STATE (64 * 1024)

static unsigned char *first_nonce(const AF_NONCE_RESP *resp, size_t *out_len);

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

            ERR_set_mark();
            if (af_nonce_resp_decode(&resp, prof, fmts[f], codec, data, len))
                buf = first_nonce(resp, out_len);
            ERR_pop_to_mark();
            af_nonce_resp_free(resp);
        }
        af_nonce_profile_free(prof);
        af_nonce_codec_free(codec);
    }
    return buf;
}

static unsigned char *first_nonce(const AF_NONCE_RESP *resp, size_t *out_len)
{
    const unsigned char *n = NULL;
    size_t nlen = 0;
    unsigned char *buf = NULL;

    if (resp == NULL || af_nonce_resp_get_count(resp) == 0)
        return NULL;
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &n, &nlen);
    if (n != NULL && nlen > 0 && (buf = OPENSSL_memdup(n, nlen)) != NULL)
        *out_len = nlen;
    return buf;
}

/* The transaction state JSON of a nonce exchange. */
static unsigned char *from_proto_state(const unsigned char *data, size_t len, size_t *out_len)
{
    AF_PROTO_STATE *st;
    unsigned char *buf;

    if (len == 0 || data[0] != '{')
        return NULL;
    ERR_set_mark();
    st = af_proto_state_from_json((const char *)data, len);
    ERR_pop_to_mark();
    buf = st != NULL ? first_nonce(af_proto_state_get0_response(st), out_len) : NULL;
    af_proto_state_free(st);
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
    if ((buf = from_proto_state(data, len, nonce_len)) == NULL &&
        (buf = from_response(data, len, nonce_len)) == NULL &&
        (memchr(data, '\0', len) != NULL ||
         (buf = from_hex((const char *)data, len, nonce_len)) == NULL)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no nonce found: expected a transaction state file, a "
                                      "NonceResponse (DER, ITAV, CMC, JSON or CBOR) or hex text");
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
        AF_ERR(AF_R_TOO_LARGE, "the nonce state %s is larger than %d bytes", state_path, MAX_STATE);
    else if (!af_nonce_from_state(data, r > 0 ? (size_t)r : 0, &n, len))
        n = NULL;
    OPENSSL_free(data);
    return n;
}
