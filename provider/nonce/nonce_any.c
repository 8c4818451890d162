/* nonce_any.c - opaque values (reqInfo, respInfo, seed value) across encodings: the conversion
 * rule documented at the top of attfresh/nonce.h (DER <-> JSON/CBOR via base64url / byte string,
 * JSON <-> CBOR via the RFC 8949 section 6 data model). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "nonce_local.h"

/* DER tag + definite length + content, as a new buffer */
static int der_wrap(unsigned char tag, const unsigned char *c, size_t clen, unsigned char **out,
                    size_t *outlen)
{
    unsigned char hdr[6];
    size_t h = 0, n = clen, i;
    unsigned char *buf;

    hdr[h++] = tag;
    if (clen < 0x80) {
        hdr[h++] = (unsigned char)clen;
    } else {
        size_t nb = 0;

        while (n > 0) {
            nb++;
            n >>= 8;
        }
        hdr[h++] = (unsigned char)(0x80 | nb);
        for (i = nb; i > 0; i--)
            hdr[h++] = (unsigned char)(clen >> (8 * (i - 1)));
    }
    if ((buf = OPENSSL_malloc(h + clen + 1)) == NULL) {
        AF_ERR(AF_R_MALLOC, "DER value");
        return 0;
    }
    memcpy(buf, hdr, h);
    if (clen > 0)
        memcpy(buf + h, c, clen);
    *out = buf;
    *outlen = h + clen;
    return 1;
}

static int from_libc(unsigned char *buf, size_t n, unsigned char **out, size_t *outlen)
{
    *out = n > 0 ? OPENSSL_memdup(buf, n) : NULL;
    free(buf);
    if (*out == NULL) {
        AF_ERR(AF_R_MALLOC, "value");
        return 0;
    }
    *outlen = n;
    return 1;
}

/* ---- JSON <-> CBOR --------------------------------------------------------------------------- */

static cbor_item_t *json_to_cbor_item(const json_t *v)
{
    cbor_item_t *c = NULL;

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *m;

        if ((c = cbor_new_definite_map(json_object_size(v))) == NULL)
            return NULL;
        json_object_foreach((json_t *)v, k, m)
        {
            cbor_item_t *kk = cbor_build_stringn(k, strlen(k)), *vv = json_to_cbor_item(m);

            if (kk == NULL || vv == NULL ||
                !cbor_map_add(c, (struct cbor_pair){.key = kk, .value = vv})) {
                if (kk != NULL)
                    cbor_decref(&kk);
                if (vv != NULL)
                    cbor_decref(&vv);
                cbor_decref(&c);
                return NULL;
            }
            cbor_decref(&kk);
            cbor_decref(&vv);
        }
        return c;
    }
    case JSON_ARRAY: {
        size_t i;

        if ((c = cbor_new_definite_array(json_array_size(v))) == NULL)
            return NULL;
        for (i = 0; i < json_array_size(v); i++) {
            cbor_item_t *e = json_to_cbor_item(json_array_get(v, i));

            if (e == NULL || !cbor_array_push(c, e)) {
                if (e != NULL)
                    cbor_decref(&e);
                cbor_decref(&c);
                return NULL;
            }
            cbor_decref(&e);
        }
        return c;
    }
    case JSON_STRING:
        return cbor_build_stringn(json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        uint64_t u = i >= 0 ? (uint64_t)i : (uint64_t)(-(i + 1));

        if (u <= 0xff)
            return i >= 0 ? cbor_build_uint8((uint8_t)u) : cbor_build_negint8((uint8_t)u);
        if (u <= 0xffff)
            return i >= 0 ? cbor_build_uint16((uint16_t)u) : cbor_build_negint16((uint16_t)u);
        if (u <= 0xffffffffu)
            return i >= 0 ? cbor_build_uint32((uint32_t)u) : cbor_build_negint32((uint32_t)u);
        return i >= 0 ? cbor_build_uint64(u) : cbor_build_negint64(u);
    }
    case JSON_REAL:
        return cbor_build_float8(json_real_value(v));
    case JSON_TRUE:
        return cbor_build_bool(true);
    case JSON_FALSE:
        return cbor_build_bool(false);
    case JSON_NULL:
        return cbor_new_null();
    }
    return NULL;
}

int af_any_json_to_cbor(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen)
{
    json_t *v = json_loadb((const char *)in, len, JSON_DECODE_ANY, NULL);
    cbor_item_t *c;
    unsigned char *buf = NULL;
    size_t size = 0, n;

    if (v == NULL) {
        AF_ERR(AF_R_NONCE_DECODE, "opaque JSON value does not parse");
        return 0;
    }
    c = json_to_cbor_item(v);
    json_decref(v);
    if (c == NULL) {
        AF_ERR(AF_R_MALLOC, "CBOR form of a JSON value");
        return 0;
    }
    n = cbor_serialize_alloc(c, &buf, &size);
    cbor_decref(&c);
    if (n == 0) {
        free(buf);
        AF_ERR(AF_R_MALLOC, "CBOR form of a JSON value");
        return 0;
    }
    return from_libc(buf, n, out, outlen);
}

static json_t *cbor_to_json_item(const cbor_item_t *c)
{
    size_t i;

    switch (cbor_typeof(c)) {
    case CBOR_TYPE_UINT:
        if (cbor_get_int(c) > (uint64_t)INT64_MAX)
            break;
        return json_integer((json_int_t)cbor_get_int(c));
    case CBOR_TYPE_NEGINT:
        if (cbor_get_int(c) > (uint64_t)INT64_MAX)
            break;
        return json_integer(-(json_int_t)cbor_get_int(c) - 1);
    case CBOR_TYPE_BYTESTRING: {
        char *s;
        json_t *j;

        if (!cbor_bytestring_is_definite(c))
            break;
        if ((s = af_b64_encode(cbor_bytestring_handle(c), cbor_bytestring_length(c), AF_B64_URL)) ==
            NULL)
            return NULL;
        j = json_string(s);
        OPENSSL_free(s);
        return j;
    }
    case CBOR_TYPE_STRING:
        if (!cbor_string_is_definite(c))
            break;
        return json_stringn((const char *)cbor_string_handle(c), cbor_string_length(c));
    case CBOR_TYPE_ARRAY: {
        json_t *a = json_array();

        for (i = 0; a != NULL && i < cbor_array_size(c); i++) {
            json_t *e = cbor_to_json_item(cbor_array_handle(c)[i]);

            if (e == NULL || json_array_append_new(a, e) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case CBOR_TYPE_MAP: {
        json_t *o = json_object();
        struct cbor_pair *p = cbor_map_handle(c);

        for (i = 0; o != NULL && i < cbor_map_size(c); i++) {
            json_t *e;
            char *k;

            if (!cbor_isa_string(p[i].key) || !cbor_string_is_definite(p[i].key)) {
                json_decref(o);
                return NULL;
            }
            k = OPENSSL_strndup((const char *)cbor_string_handle(p[i].key),
                                cbor_string_length(p[i].key));
            e = cbor_to_json_item(p[i].value);
            if (k == NULL || e == NULL || json_object_set_new(o, k, e) != 0) {
                if (k == NULL)
                    json_decref(e);
                OPENSSL_free(k);
                json_decref(o);
                return NULL;
            }
            OPENSSL_free(k);
        }
        return o;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        /* floats first: libcbor 0.8 asserts when cbor_is_bool/cbor_is_null see a float */
        if (!cbor_float_ctrl_is_ctrl(c))
            return json_real(cbor_float_get_float(c));
        if (cbor_is_bool(c))
            return json_boolean(cbor_get_bool(c));
        if (cbor_is_null(c))
            return json_null();
        break;
    default:
        break;
    }
    return NULL;
}

int af_any_cbor_to_json(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen)
{
    struct cbor_load_result res;
    cbor_item_t *c = cbor_load(in, len, &res);
    json_t *v;
    char *s;
    int ok;

    if (c == NULL) {
        AF_ERR(AF_R_NONCE_DECODE, "opaque CBOR value does not parse");
        return 0;
    }
    v = cbor_to_json_item(c);
    cbor_decref(&c);
    if (v == NULL) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "opaque CBOR value has no JSON form (tag, undefined, simple "
                                    "value, non-text map key, or integer beyond 2^63)");
        return 0;
    }
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    if (s == NULL) {
        AF_ERR(AF_R_NONCE_BAD_TYPE,
               "opaque CBOR value has no JSON form (a float that is not finite)");
        return 0;
    }
    ok = from_libc((unsigned char *)s, strlen(s), out, outlen);
    return ok;
}

/* ---- DER <-> JSON / CBOR --------------------------------------------------------------------- */

static int der_to_json(const unsigned char *der, size_t len, unsigned char **out, size_t *outlen)
{
    char *b = af_b64_encode(der, len, AF_B64_URL);
    size_t n;
    unsigned char *buf;

    if (b == NULL)
        return 0;
    n = strlen(b);
    if ((buf = OPENSSL_malloc(n + 3)) == NULL) {
        OPENSSL_free(b);
        AF_ERR(AF_R_MALLOC, "JSON value");
        return 0;
    }
    buf[0] = '"';
    memcpy(buf + 1, b, n);
    buf[n + 1] = '"';
    buf[n + 2] = '\0';
    OPENSSL_free(b);
    *out = buf;
    *outlen = n + 2;
    return 1;
}

static int der_to_cbor(const unsigned char *der, size_t len, unsigned char **out, size_t *outlen)
{
    cbor_item_t *c = cbor_build_bytestring(der, len);
    unsigned char *buf = NULL;
    size_t size = 0, n;

    if (c == NULL) {
        AF_ERR(AF_R_MALLOC, "CBOR value");
        return 0;
    }
    n = cbor_serialize_alloc(c, &buf, &size);
    cbor_decref(&c);
    if (n == 0) {
        free(buf);
        AF_ERR(AF_R_MALLOC, "CBOR value");
        return 0;
    }
    return from_libc(buf, n, out, outlen);
}

static int json_to_der(const unsigned char *text, size_t len, unsigned char **out, size_t *outlen)
{
    json_t *v = json_loadb((const char *)text, len, JSON_DECODE_ANY, NULL);
    int done = 0;

    if (v == NULL) {
        AF_ERR(AF_R_NONCE_DECODE, "opaque JSON value does not parse");
        return 0;
    }
    if (json_is_string(v)) {
        unsigned char *der = NULL;
        size_t dlen = 0;
        int other = 1;

        if (af_b64_decode(json_string_value(v), json_string_length(v), AF_B64_URL, &der, &dlen,
                          &other)) {
            if (!other && af_der_is_one(der, dlen)) {
                *out = der;
                *outlen = dlen;
                done = 1;
            } else {
                OPENSSL_free(der);
            }
        }
    }
    json_decref(v);
    if (done)
        return 1;
    return der_wrap(0x0c, text, len, out, outlen); /* UTF8String of the JSON text */
}

static int cbor_to_der(const unsigned char *in, size_t len, unsigned char **out, size_t *outlen)
{
    struct cbor_load_result res;
    cbor_item_t *c = cbor_load(in, len, &res);
    int done = 0;

    if (c == NULL) {
        AF_ERR(AF_R_NONCE_DECODE, "opaque CBOR value does not parse");
        return 0;
    }
    if (cbor_isa_bytestring(c) && cbor_bytestring_is_definite(c) &&
        af_der_is_one(cbor_bytestring_handle(c), cbor_bytestring_length(c))) {
        *out = OPENSSL_memdup(cbor_bytestring_handle(c), cbor_bytestring_length(c));
        *outlen = cbor_bytestring_length(c);
        done = *out != NULL ? 1 : -1;
    }
    cbor_decref(&c);
    if (done == 1)
        return 1;
    if (done < 0) {
        AF_ERR(AF_R_MALLOC, "DER value");
        return 0;
    }
    return der_wrap(0x04, in, len, out, outlen); /* OCTET STRING of the CBOR item */
}

int af_any_get_as(const af_any *a, int kind, unsigned char **out, size_t *outlen)
{
    if (a->kind == 0) {
        AF_ERR(AF_R_INTERNAL, "no opaque value");
        return 0;
    }
    if (a->kind == kind) {
        if ((*out = OPENSSL_memdup(a->data, a->len == 0 ? 1 : a->len)) == NULL) {
            AF_ERR(AF_R_MALLOC, "opaque value");
            return 0;
        }
        *outlen = a->len;
        return 1;
    }
    switch (a->kind * 10 + kind) {
    case AF_NONCE_ANY_DER * 10 + AF_NONCE_ANY_JSON:
        return der_to_json(a->data, a->len, out, outlen);
    case AF_NONCE_ANY_DER * 10 + AF_NONCE_ANY_CBOR:
        return der_to_cbor(a->data, a->len, out, outlen);
    case AF_NONCE_ANY_JSON * 10 + AF_NONCE_ANY_DER:
        return json_to_der(a->data, a->len, out, outlen);
    case AF_NONCE_ANY_JSON * 10 + AF_NONCE_ANY_CBOR:
        return af_any_json_to_cbor(a->data, a->len, out, outlen);
    case AF_NONCE_ANY_CBOR * 10 + AF_NONCE_ANY_DER:
        return cbor_to_der(a->data, a->len, out, outlen);
    case AF_NONCE_ANY_CBOR * 10 + AF_NONCE_ANY_JSON:
        return af_any_cbor_to_json(a->data, a->len, out, outlen);
    }
    AF_ERR(AF_R_INVALID_ARGUMENT, "opaque value kind %d", kind);
    return 0;
}

int af_nonce_any_convert(int from_kind, const unsigned char *in, size_t inlen, int to_kind,
                         unsigned char **out, size_t *outlen)
{
    af_any a = {0, NULL, 0};
    int ok;

    if (out == NULL || outlen == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no output");
        return 0;
    }
    if (!af_any_set(&a, from_kind, in, inlen))
        return 0;
    ok = af_any_get_as(&a, to_kind, out, outlen);
    af_any_clear(&a);
    return ok;
}
