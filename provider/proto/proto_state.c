/* proto_state.c - the transaction state a nonce exchange leaves for the enrollment that follows
 * (attfresh/proto.h): the object, its deterministic JSON form (jansson, fixed member order) and
 * the state file (written atomically, mode 0600; read bounded and strictly). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "attfresh/err.h"
#include "attfresh/proto.h"

#define STATE_VERSION 1

typedef struct {
    unsigned char *data;
    size_t len;
} bytes;

struct af_proto_state_st {
    af_proto proto;
    char *url;
    char *profile;
    bytes txid;
    bytes server_nonce;
    bytes sender_nonce;
    char *cookie;
    char *tls_version;
    bytes tls_cert_sha256;
    bytes tls_session_id;
    int64_t created;
    int64_t expiry;
    AF_NONCE_RESP *resp;
};

AF_PROTO_STATE *af_proto_state_new(void)
{
    AF_PROTO_STATE *st = OPENSSL_zalloc(sizeof(*st));

    if (st == NULL)
        AF_ERR(AF_R_MALLOC, "transaction state");
    return st;
}

static void bytes_clear(bytes *b)
{
    OPENSSL_free(b->data);
    b->data = NULL;
    b->len = 0;
}

void af_proto_state_free(AF_PROTO_STATE *st)
{
    if (st == NULL)
        return;
    OPENSSL_free(st->url);
    OPENSSL_free(st->profile);
    bytes_clear(&st->txid);
    bytes_clear(&st->server_nonce);
    bytes_clear(&st->sender_nonce);
    /* the cookie is a session handle: do not leave it in freed memory */
    if (st->cookie != NULL)
        OPENSSL_clear_free(st->cookie, strlen(st->cookie));
    OPENSSL_free(st->tls_version);
    bytes_clear(&st->tls_cert_sha256);
    bytes_clear(&st->tls_session_id);
    af_nonce_resp_free(st->resp);
    OPENSSL_free(st);
}

static int set_bytes(bytes *b, const unsigned char *d, size_t len, const char *what)
{
    unsigned char *n = NULL;

    if (len > AF_PROTO_MAX_BINDING || (d == NULL && len != 0)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "%s: 0..%d bytes", what, AF_PROTO_MAX_BINDING);
        return 0;
    }
    if (d != NULL && len > 0 && (n = OPENSSL_memdup(d, len)) == NULL) {
        AF_ERR(AF_R_MALLOC, "%s", what);
        return 0;
    }
    bytes_clear(b);
    b->data = n;
    b->len = n == NULL ? 0 : len;
    return 1;
}

static const unsigned char *get_bytes(const bytes *b, size_t *len)
{
    if (len != NULL)
        *len = b->len;
    return b->data;
}

static int set_text(char **dst, const char *src, const char *what)
{
    char *n = NULL;

    if (src != NULL && strlen(src) > AF_PROTO_MAX_BINDING * 4) {
        AF_ERR(AF_R_TOO_LARGE, "%s too long", what);
        return 0;
    }
    if (src != NULL && (n = OPENSSL_strdup(src)) == NULL) {
        AF_ERR(AF_R_MALLOC, "%s", what);
        return 0;
    }
    OPENSSL_free(*dst);
    *dst = n;
    return 1;
}

#define CHECK_ST(st)                                                                               \
    do {                                                                                           \
        if ((st) == NULL) {                                                                        \
            AF_ERR(AF_R_INVALID_ARGUMENT, "no transaction state");                                 \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)

int af_proto_state_set_protocol(AF_PROTO_STATE *st, af_proto proto)
{
    CHECK_ST(st);
    if (af_proto_name(proto) == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "unknown protocol");
        return 0;
    }
    st->proto = proto;
    return 1;
}

af_proto af_proto_state_get_protocol(const AF_PROTO_STATE *st)
{
    return st == NULL ? AF_PROTO_NONE : st->proto;
}

int af_proto_state_set1_url(AF_PROTO_STATE *st, const char *url)
{
    CHECK_ST(st);
    return set_text(&st->url, url, "URL");
}

const char *af_proto_state_get0_url(const AF_PROTO_STATE *st)
{
    return st == NULL ? NULL : st->url;
}

int af_proto_state_set1_profile(AF_PROTO_STATE *st, const char *name)
{
    CHECK_ST(st);
    if (name != NULL && af_profile_def(name) == NULL) {
        AF_ERR(AF_R_UNKNOWN_PROFILE, "profile '%s'", name);
        return 0;
    }
    return set_text(&st->profile, name, "profile");
}

const char *af_proto_state_get0_profile(const AF_PROTO_STATE *st)
{
    return st == NULL ? NULL : st->profile;
}

int af_proto_state_set1_transaction_id(AF_PROTO_STATE *st, const unsigned char *id, size_t len)
{
    CHECK_ST(st);
    return set_bytes(&st->txid, id, len, "transaction id");
}

const unsigned char *af_proto_state_get0_transaction_id(const AF_PROTO_STATE *st, size_t *len)
{
    if (st == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return get_bytes(&st->txid, len);
}

int af_proto_state_set1_server_nonce(AF_PROTO_STATE *st, const unsigned char *n, size_t len)
{
    CHECK_ST(st);
    return set_bytes(&st->server_nonce, n, len, "server nonce");
}

const unsigned char *af_proto_state_get0_server_nonce(const AF_PROTO_STATE *st, size_t *len)
{
    if (st == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return get_bytes(&st->server_nonce, len);
}

int af_proto_state_set1_sender_nonce(AF_PROTO_STATE *st, const unsigned char *n, size_t len)
{
    CHECK_ST(st);
    return set_bytes(&st->sender_nonce, n, len, "sender nonce");
}

const unsigned char *af_proto_state_get0_sender_nonce(const AF_PROTO_STATE *st, size_t *len)
{
    if (st == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return get_bytes(&st->sender_nonce, len);
}

int af_proto_state_set1_cookie(AF_PROTO_STATE *st, const char *cookie)
{
    char *old;

    CHECK_ST(st);
    old = st->cookie;
    st->cookie = NULL;
    if (!set_text(&st->cookie, cookie, "cookie")) {
        st->cookie = old;
        return 0;
    }
    if (old != NULL)
        OPENSSL_clear_free(old, strlen(old));
    return 1;
}

const char *af_proto_state_get0_cookie(const AF_PROTO_STATE *st)
{
    return st == NULL ? NULL : st->cookie;
}

int af_proto_state_set1_tls_version(AF_PROTO_STATE *st, const char *version)
{
    CHECK_ST(st);
    return set_text(&st->tls_version, version, "TLS version");
}

const char *af_proto_state_get0_tls_version(const AF_PROTO_STATE *st)
{
    return st == NULL ? NULL : st->tls_version;
}

int af_proto_state_set1_tls_server_cert_sha256(AF_PROTO_STATE *st, const unsigned char *dgst,
                                               size_t len)
{
    CHECK_ST(st);
    if (dgst != NULL && len != 32) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "server certificate SHA-256 must be 32 bytes");
        return 0;
    }
    return set_bytes(&st->tls_cert_sha256, dgst, len, "server certificate SHA-256");
}

const unsigned char *af_proto_state_get0_tls_server_cert_sha256(const AF_PROTO_STATE *st,
                                                                size_t *len)
{
    if (st == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return get_bytes(&st->tls_cert_sha256, len);
}

int af_proto_state_set1_tls_session_id(AF_PROTO_STATE *st, const unsigned char *id, size_t len)
{
    CHECK_ST(st);
    return set_bytes(&st->tls_session_id, id, len, "TLS session id");
}

const unsigned char *af_proto_state_get0_tls_session_id(const AF_PROTO_STATE *st, size_t *len)
{
    if (st == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return get_bytes(&st->tls_session_id, len);
}

int af_proto_state_set_created(AF_PROTO_STATE *st, int64_t epoch)
{
    CHECK_ST(st);
    if (epoch < 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "negative creation time");
        return 0;
    }
    st->created = epoch;
    return 1;
}

int64_t af_proto_state_get_created(const AF_PROTO_STATE *st)
{
    return st == NULL ? 0 : st->created;
}

int af_proto_state_set_expiry(AF_PROTO_STATE *st, int64_t epoch)
{
    CHECK_ST(st);
    if (epoch < 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "negative expiry time");
        return 0;
    }
    st->expiry = epoch;
    return 1;
}

int64_t af_proto_state_get_expiry(const AF_PROTO_STATE *st)
{
    return st == NULL ? 0 : st->expiry;
}

int af_proto_state_set1_response(AF_PROTO_STATE *st, const AF_NONCE_RESP *resp)
{
    AF_NONCE_RESP *r = NULL;

    CHECK_ST(st);
    if (resp != NULL && (r = af_nonce_resp_dup(resp)) == NULL)
        return 0;
    af_nonce_resp_free(st->resp);
    st->resp = r;
    return 1;
}

const AF_NONCE_RESP *af_proto_state_get0_response(const AF_PROTO_STATE *st)
{
    return st == NULL ? NULL : st->resp;
}

AF_PROTO_STATE *af_proto_state_dup(const AF_PROTO_STATE *st)
{
    AF_PROTO_STATE *d;

    if (st == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no transaction state");
        return NULL;
    }
    if ((d = af_proto_state_new()) == NULL)
        return NULL;
    d->proto = st->proto;
    d->created = st->created;
    d->expiry = st->expiry;
    if (!set_text(&d->url, st->url, "URL") || !set_text(&d->profile, st->profile, "profile") ||
        !set_bytes(&d->txid, st->txid.data, st->txid.len, "transaction id") ||
        !set_bytes(&d->server_nonce, st->server_nonce.data, st->server_nonce.len, "nonce") ||
        !set_bytes(&d->sender_nonce, st->sender_nonce.data, st->sender_nonce.len, "nonce") ||
        !set_text(&d->cookie, st->cookie, "cookie") ||
        !set_text(&d->tls_version, st->tls_version, "TLS version") ||
        !set_bytes(&d->tls_cert_sha256, st->tls_cert_sha256.data, st->tls_cert_sha256.len,
                   "digest") ||
        !set_bytes(&d->tls_session_id, st->tls_session_id.data, st->tls_session_id.len,
                   "session id") ||
        !af_proto_state_set1_response(d, st->resp)) {
        af_proto_state_free(d);
        return NULL;
    }
    return d;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static char *hex_new(const unsigned char *d, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = OPENSSL_malloc(len * 2 + 1);
    size_t i;

    if (s == NULL) {
        AF_ERR(AF_R_MALLOC, "hex text");
        return NULL;
    }
    for (i = 0; i < len; i++) {
        s[2 * i] = digits[d[i] >> 4];
        s[2 * i + 1] = digits[d[i] & 15];
    }
    s[2 * len] = '\0';
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is refused: the file is ours and always lower case */
}

/* Strict lowercase hex, 1..max bytes. */
static unsigned char *unhex(const char *s, size_t max, size_t *len, const char *member)
{
    size_t n = strlen(s), i;
    unsigned char *d;

    if (n == 0 || n % 2 != 0 || n / 2 > max) {
        AF_ERR(AF_R_NONCE_DECODE, "state member \"%s\": want 1..%zu bytes of hex", member, max);
        return NULL;
    }
    if ((d = OPENSSL_malloc(n / 2)) == NULL) {
        AF_ERR(AF_R_MALLOC, "state member \"%s\"", member);
        return NULL;
    }
    for (i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            OPENSSL_free(d);
            AF_ERR(AF_R_NONCE_DECODE, "state member \"%s\": not lowercase hex", member);
            return NULL;
        }
        d[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return d;
}

static int put_hex(json_t *o, const char *key, const bytes *b)
{
    char *h;
    int ok;

    if (b->len == 0)
        return 1;
    if ((h = hex_new(b->data, b->len)) == NULL)
        return 0;
    ok = json_object_set_new(o, key, json_string(h)) == 0;
    OPENSSL_free(h);
    return ok;
}

static int put_text(json_t *o, const char *key, const char *s)
{
    return s == NULL || json_object_set_new(o, key, json_string(s)) == 0;
}

static int put_int(json_t *o, const char *key, int64_t v)
{
    return v == 0 || json_object_set_new(o, key, json_integer((json_int_t)v)) == 0;
}

static int encode_response(const AF_PROTO_STATE *st, unsigned char **der, size_t *derlen)
{
    AF_NONCE_PROFILE *prof = af_nonce_profile_new(st->profile);
    AF_NONCE_CODEC *codec = af_nonce_codec_new();
    int ok = 0;

    if (prof != NULL && codec != NULL) {
        /* the DER expiry is seconds; anchor it at the state's creation for a stable file */
        af_nonce_codec_set_now(codec, st->created);
        ok = af_nonce_resp_encode(st->resp, prof, AF_NONCE_FMT_DER, codec, der, derlen);
    }
    af_nonce_profile_free(prof);
    af_nonce_codec_free(codec);
    return ok;
}

int af_proto_state_to_json(const AF_PROTO_STATE *st, char **out, size_t *outlen)
{
    json_t *o = NULL, *tls = NULL;
    char *text = NULL, *res;
    unsigned char *der = NULL;
    size_t derlen = 0, n;
    int ok = 0;

    if (st == NULL || out == NULL || af_proto_name(st->proto) == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "state without a protocol");
        return 0;
    }
    if ((o = json_object()) == NULL)
        goto mem;
    if (json_object_set_new(o, "version", json_integer(STATE_VERSION)) != 0 ||
        !put_text(o, "protocol", af_proto_name(st->proto)) || !put_text(o, "url", st->url) ||
        !put_text(o, "profile", st->profile) || !put_int(o, "created", st->created) ||
        !put_int(o, "expiry", st->expiry) || !put_hex(o, "transactionID", &st->txid) ||
        !put_hex(o, "senderNonce", &st->sender_nonce) ||
        !put_hex(o, "serverNonce", &st->server_nonce) || !put_text(o, "cookie", st->cookie))
        goto mem;
    if (st->tls_version != NULL || st->tls_cert_sha256.len > 0 || st->tls_session_id.len > 0) {
        if ((tls = json_object()) == NULL || !put_text(tls, "version", st->tls_version) ||
            !put_hex(tls, "serverCertSha256", &st->tls_cert_sha256) ||
            !put_hex(tls, "sessionId", &st->tls_session_id) || json_object_set(o, "tls", tls) != 0)
            goto mem;
    }
    if (st->resp != NULL) {
        const AF_NONCE_RESP_ITEM *it = af_nonce_resp_get0_item(st->resp, 0);
        const unsigned char *nonce;
        size_t nlen;
        bytes b;

        if (st->profile == NULL) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "state with a response but no profile");
            goto end;
        }
        af_nonce_resp_item_get0_nonce(it, &nonce, &nlen);
        /* the empty nonce ("no freshness proof needed") is written as "" */
        if (nlen == 0) {
            if (json_object_set_new(o, "nonce", json_string("")) != 0)
                goto mem;
        } else {
            b.data = (unsigned char *)nonce;
            b.len = nlen;
            if (!put_hex(o, "nonce", &b))
                goto mem;
        }
        if (!encode_response(st, &der, &derlen))
            goto end;
        if ((text = hex_new(der, derlen)) == NULL ||
            json_object_set_new(o, "response", json_string(text)) != 0)
            goto mem;
        OPENSSL_free(text);
        text = NULL;
    }
    if ((text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
        goto mem;
    n = strlen(text);
    if ((res = OPENSSL_malloc(n + 2)) == NULL)
        goto mem;
    memcpy(res, text, n);
    res[n] = '\n';
    res[n + 1] = '\0';
    *out = res;
    if (outlen != NULL)
        *outlen = n + 1;
    ok = 1;
    goto end;
mem:
    AF_ERR(AF_R_MALLOC, "state JSON");
end:
    if (text != NULL) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    OPENSSL_free(der);
    json_decref(tls);
    json_decref(o);
    return ok;
}

/* Member getters for the parser: absent is fine, a wrong type is an error. */
static int get_str(json_t *o, const char *key, const char **s)
{
    json_t *v = json_object_get(o, key);

    *s = NULL;
    if (v == NULL)
        return 1;
    if (!json_is_string(v)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "state member \"%s\" must be a string", key);
        return 0;
    }
    *s = json_string_value(v);
    return 1;
}

static int get_hex(json_t *o, const char *key, bytes *b, size_t max)
{
    const char *s;
    unsigned char *d;
    size_t len;

    if (!get_str(o, key, &s))
        return 0;
    if (s == NULL)
        return 1;
    if ((d = unhex(s, max, &len, key)) == NULL)
        return 0;
    bytes_clear(b);
    b->data = d;
    b->len = len;
    return 1;
}

static int get_time(json_t *o, const char *key, int64_t *t)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL)
        return 1;
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "state member \"%s\" must be a positive integer", key);
        return 0;
    }
    *t = (int64_t)json_integer_value(v);
    return 1;
}

static int only_members(json_t *o, const char *const *known, const char *where)
{
    const char *k;
    json_t *v;
    size_t i;

    json_object_foreach(o, k, v)
    {
        for (i = 0; known[i] != NULL; i++)
            if (strcmp(k, known[i]) == 0)
                break;
        if (known[i] == NULL) {
            AF_ERR(AF_R_NONCE_UNKNOWN, "unknown member \"%s\" in %s", k, where);
            return 0;
        }
    }
    return 1;
}

AF_PROTO_STATE *af_proto_state_from_json(const char *in, size_t inlen)
{
    static const char *const top[] = {
        "version",     "protocol",    "url",    "profile", "created", "expiry",   "transactionID",
        "senderNonce", "serverNonce", "cookie", "tls",     "nonce",   "response", NULL};
    static const char *const tlsm[] = {"version", "serverCertSha256", "sessionId", NULL};
    json_error_t e;
    json_t *o, *v, *tls;
    AF_PROTO_STATE *st = NULL;
    const char *s, *nonce_hex = NULL;
    bytes der = {NULL, 0};

    if (in == NULL || inlen == 0 || inlen > AF_NONCE_MAX_INPUT) {
        AF_ERR(AF_R_NONCE_DECODE, "state: empty or larger than %d bytes", AF_NONCE_MAX_INPUT);
        return NULL;
    }
    o = json_loadb(in, inlen, JSON_REJECT_DUPLICATES, &e);
    if (o == NULL) {
        AF_ERR(json_error_code(&e) == json_error_duplicate_key ? AF_R_NONCE_DUPLICATE
                                                               : AF_R_NONCE_DECODE,
               "state JSON at byte %d: %s", e.position, e.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "state must be a JSON object");
        goto err;
    }
    if (!only_members(o, top, "state"))
        goto err;
    v = json_object_get(o, "version");
    if (!json_is_integer(v) || json_integer_value(v) != STATE_VERSION) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "state \"version\" must be %d", STATE_VERSION);
        goto err;
    }
    if ((st = af_proto_state_new()) == NULL)
        goto err;
    if (!get_str(o, "protocol", &s))
        goto err;
    if (s == NULL || (st->proto = af_proto_from_name(s)) == AF_PROTO_NONE) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "state \"protocol\" must be cmp, est or cmc");
        goto err;
    }
    if (!get_str(o, "url", &s) || !set_text(&st->url, s, "URL") || !get_str(o, "profile", &s) ||
        !af_proto_state_set1_profile(st, s) || !get_time(o, "created", &st->created) ||
        !get_time(o, "expiry", &st->expiry) ||
        !get_hex(o, "transactionID", &st->txid, AF_PROTO_MAX_BINDING) ||
        !get_hex(o, "senderNonce", &st->sender_nonce, AF_PROTO_MAX_BINDING) ||
        !get_hex(o, "serverNonce", &st->server_nonce, AF_PROTO_MAX_BINDING) ||
        !get_str(o, "cookie", &s) || !af_proto_state_set1_cookie(st, s))
        goto err;
    if ((tls = json_object_get(o, "tls")) != NULL) {
        if (!json_is_object(tls)) {
            AF_ERR(AF_R_NONCE_BAD_TYPE, "state member \"tls\" must be an object");
            goto err;
        }
        if (!only_members(tls, tlsm, "state \"tls\"") || !get_str(tls, "version", &s) ||
            !set_text(&st->tls_version, s, "TLS version") ||
            !get_hex(tls, "serverCertSha256", &st->tls_cert_sha256, 32) ||
            !get_hex(tls, "sessionId", &st->tls_session_id, AF_PROTO_MAX_BINDING))
            goto err;
        if (st->tls_cert_sha256.len != 0 && st->tls_cert_sha256.len != 32) {
            AF_ERR(AF_R_NONCE_DECODE, "state \"serverCertSha256\" must be 32 bytes");
            goto err;
        }
    }
    if (!get_str(o, "nonce", &nonce_hex) || !get_hex(o, "response", &der, AF_NONCE_MAX_INPUT))
        goto err;
    if ((der.len != 0) != (nonce_hex != NULL)) {
        AF_ERR(AF_R_NONCE_MISSING, "state has \"nonce\" and \"response\" only together");
        goto err;
    }
    if (der.len != 0) {
        AF_NONCE_PROFILE *prof;
        AF_NONCE_CODEC *codec;
        const unsigned char *n;
        size_t nlen;
        char *h;
        int ok;

        if (st->profile == NULL) {
            AF_ERR(AF_R_NONCE_MISSING, "state has a \"response\" but no \"profile\"");
            goto err;
        }
        prof = af_nonce_profile_new(st->profile);
        codec = af_nonce_codec_new();
        ok = prof != NULL && codec != NULL;
        if (ok) {
            af_nonce_codec_set_now(codec, st->created);
            ok = af_nonce_resp_decode(&st->resp, prof, AF_NONCE_FMT_DER, codec, der.data, der.len);
        }
        af_nonce_profile_free(prof);
        af_nonce_codec_free(codec);
        if (!ok)
            goto err;
        af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(st->resp, 0), &n, &nlen);
        if ((h = hex_new(n, nlen)) == NULL)
            goto err;
        ok = strcmp(h, nonce_hex) == 0;
        OPENSSL_free(h);
        if (!ok) {
            AF_ERR(AF_R_NONCE_BAD_NONCE, "state \"nonce\" differs from the nonce in \"response\"");
            goto err;
        }
    }
    bytes_clear(&der);
    json_decref(o);
    return st;
err:
    bytes_clear(&der);
    af_proto_state_free(st);
    json_decref(o);
    return NULL;
}

/* ---- file -------------------------------------------------------------------------------------
 */

int af_proto_state_save(const AF_PROTO_STATE *st, const char *path)
{
    char *json = NULL, *tmp = NULL;
    size_t len = 0, off = 0, plen;
    int fd = -1, ok = 0, made = 0;

    if (path == NULL || *path == '\0') {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no state file name");
        return 0;
    }
    if (!af_proto_state_to_json(st, &json, &len))
        return 0;
    plen = strlen(path);
    if ((tmp = OPENSSL_malloc(plen + 8)) == NULL) {
        AF_ERR(AF_R_MALLOC, "state file name");
        goto end;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    /* mkstemp creates the file 0600 in the target's directory, so rename() is atomic */
    if ((fd = mkstemp(tmp)) < 0) {
        AF_ERR(AF_R_IO, "cannot create a temporary file next to %s: %s", path, strerror(errno));
        goto end;
    }
    made = 1;
    if (fchmod(fd, 0600) != 0) {
        AF_ERR(AF_R_IO, "chmod %s: %s", tmp, strerror(errno));
        goto end;
    }
    while (off < len) {
        ssize_t w = write(fd, json + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            AF_ERR(AF_R_IO, "writing %s: %s", tmp, strerror(errno));
            goto end;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        AF_ERR(AF_R_IO, "fsync %s: %s", tmp, strerror(errno));
        goto end;
    }
    if (close(fd) != 0) {
        fd = -1;
        AF_ERR(AF_R_IO, "closing %s: %s", tmp, strerror(errno));
        goto end;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        AF_ERR(AF_R_IO, "cannot write state file %s: %s", path, strerror(errno));
        goto end;
    }
    ok = 1;
end:
    if (fd >= 0)
        close(fd);
    if (!ok && made)
        (void)unlink(tmp);
    OPENSSL_free(tmp);
    if (json != NULL)
        OPENSSL_clear_free(json, len);
    return ok;
}

AF_PROTO_STATE *af_proto_state_load(const char *path)
{
    AF_PROTO_STATE *st;
    char *buf;
    FILE *f;
    size_t n;

    if (path == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no state file name");
        return NULL;
    }
    if ((f = fopen(path, "rb")) == NULL) {
        AF_ERR(AF_R_IO, "cannot open state file %s: %s", path, strerror(errno));
        return NULL;
    }
    if ((buf = OPENSSL_malloc(AF_NONCE_MAX_INPUT + 1)) == NULL) {
        fclose(f);
        AF_ERR(AF_R_MALLOC, "state file");
        return NULL;
    }
    n = fread(buf, 1, AF_NONCE_MAX_INPUT + 1, f);
    if (ferror(f)) {
        AF_ERR(AF_R_IO, "reading state file %s", path);
        st = NULL;
    } else if (n > AF_NONCE_MAX_INPUT) {
        AF_ERR(AF_R_TOO_LARGE, "state file %s is larger than %d bytes", path, AF_NONCE_MAX_INPUT);
        st = NULL;
    } else {
        st = af_proto_state_from_json(buf, n);
    }
    fclose(f);
    OPENSSL_clear_free(buf, AF_NONCE_MAX_INPUT + 1);
    return st;
}
