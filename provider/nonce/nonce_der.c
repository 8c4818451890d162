/* nonce_der.c - DER codec of nonce requests and responses in both shapes (ASN.1 templates), bare
 * or wrapped as a CMP InfoTypeAndValue or a CMC TaggedAttribute, with a strict DER check on input:
 * a TLV walk first (specific reasons for truncation, indefinite or non-minimal lengths, padded
 * INTEGERs, constructed strings, depth), then the template decode, then re-encode-and-compare.
 *
 * Seed-shape items are decoded as SEQUENCE OF ANY and their fields assigned by universal tag
 * (nonce-protocol.md 2.2): [INTEGER len] [OBJECT IDENTIFIER type] [value] [UTF8String hint]
 * [OCTET STRING vendorextension]; the optional tail is read from the end (vendorextension, then
 * hint), and what is left after type is the value. So a lone UTF8String after type is the hint,
 * a last OCTET STRING is the vendorextension, and the encoder refuses a value the decoder would
 * read as either (a UTF8String value without a hint, an OCTET STRING value with nothing after). */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "nonce_local.h"

/* ---- templates ------------------------------------------------------------------------------ */

typedef struct {
    ASN1_OBJECT *type;
    ASN1_TYPE *info;
} AF_TYPEINFO;

ASN1_SEQUENCE(AF_TYPEINFO) = {
    ASN1_SIMPLE(AF_TYPEINFO, type, ASN1_OBJECT),
    ASN1_OPT(AF_TYPEINFO, info, ASN1_ANY),
} static_ASN1_SEQUENCE_END(AF_TYPEINFO);

typedef struct {
    ASN1_INTEGER *len;
    AF_TYPEINFO *ti;
} AF_CUR_REQ;

ASN1_SEQUENCE(AF_CUR_REQ) = {
    ASN1_OPT(AF_CUR_REQ, len, ASN1_INTEGER),
    ASN1_OPT(AF_CUR_REQ, ti, AF_TYPEINFO),
} static_ASN1_SEQUENCE_END(AF_CUR_REQ);

typedef struct {
    ASN1_OCTET_STRING *nonce;
    ASN1_INTEGER *expiry;
    AF_TYPEINFO *ti;
} AF_CUR_RESP;

ASN1_SEQUENCE(AF_CUR_RESP) = {
    ASN1_SIMPLE(AF_CUR_RESP, nonce, ASN1_OCTET_STRING),
    ASN1_OPT(AF_CUR_RESP, expiry, ASN1_INTEGER),
    ASN1_OPT(AF_CUR_RESP, ti, AF_TYPEINFO),
} static_ASN1_SEQUENCE_END(AF_CUR_RESP);

/* CMP InfoTypeAndValue (RFC 9810) with the value as ANY: OpenSSL 3.0 has no public i2d/d2i for
 * OSSL_CMP_ITAV, and we need the bytes. */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_TYPE *value;
} AF_ITAV;

ASN1_SEQUENCE(AF_ITAV) = {
    ASN1_SIMPLE(AF_ITAV, type, ASN1_OBJECT),
    ASN1_OPT(AF_ITAV, value, ASN1_ANY),
} static_ASN1_SEQUENCE_END(AF_ITAV);

/* CMC TaggedAttribute (RFC 5272 3.2.1.1) */
typedef struct {
    ASN1_INTEGER *body_part_id;
    ASN1_OBJECT *type;
    STACK_OF(ASN1_TYPE) * values;
} AF_TAGGED_ATTR;

ASN1_SEQUENCE(AF_TAGGED_ATTR) = {
    ASN1_SIMPLE(AF_TAGGED_ATTR, body_part_id, ASN1_INTEGER),
    ASN1_SIMPLE(AF_TAGGED_ATTR, type, ASN1_OBJECT),
    ASN1_SET_OF(AF_TAGGED_ATTR, values, ASN1_ANY),
} static_ASN1_SEQUENCE_END(AF_TAGGED_ATTR);

/* ---- strict DER walk --------------------------------------------------------------------------
 */

static int walk(const unsigned char *in, size_t len, size_t *used, int depth)
{
    size_t p = 0, clen = 0, tagnum;
    unsigned char id;
    int constructed, universal;

    if (depth > AF_NONCE_MAX_DEPTH) {
        AF_ERR(AF_R_NONCE_DEPTH, "DER nested deeper than %d", AF_NONCE_MAX_DEPTH);
        return 0;
    }
    if (len < 2) {
        AF_ERR(AF_R_NONCE_DECODE, "DER truncated (%zu bytes where a header is expected)", len);
        return 0;
    }
    id = in[p++];
    constructed = (id & 0x20) != 0;
    universal = (id & 0xc0) == 0;
    tagnum = id & 0x1f;
    if (tagnum == 0x1f) {
        size_t n = 0;

        tagnum = 0;
        do {
            if (p >= len) {
                AF_ERR(AF_R_NONCE_DECODE, "DER truncated in a tag");
                return 0;
            }
            if (n == 0 && in[p] == 0x80) {
                AF_ERR(AF_R_NONCE_NOT_DER, "tag number with a leading zero septet");
                return 0;
            }
            if (++n > 4) {
                AF_ERR(AF_R_NONCE_DECODE, "tag number too large");
                return 0;
            }
            tagnum = (tagnum << 7) | (in[p] & 0x7f);
        } while (in[p++] & 0x80);
        if (tagnum < 31) {
            AF_ERR(AF_R_NONCE_NOT_DER, "tag %zu in the long form", tagnum);
            return 0;
        }
    }
    if (universal && tagnum == 0) {
        AF_ERR(AF_R_NONCE_NOT_DER, "end-of-contents octets (indefinite length)");
        return 0;
    }
    if (p >= len) {
        AF_ERR(AF_R_NONCE_DECODE, "DER truncated before a length");
        return 0;
    }
    if (in[p] < 0x80) {
        clen = in[p++];
    } else if (in[p] == 0x80) {
        AF_ERR(AF_R_NONCE_NOT_DER, "indefinite length");
        return 0;
    } else {
        size_t nb = in[p++] & 0x7f, i;

        if (nb > 4) {
            AF_ERR(AF_R_NONCE_DECODE, "length of %zu octets", nb);
            return 0;
        }
        if (p + nb > len) {
            AF_ERR(AF_R_NONCE_DECODE, "DER truncated in a length");
            return 0;
        }
        if (in[p] == 0) {
            AF_ERR(AF_R_NONCE_NOT_DER, "length with a leading zero octet");
            return 0;
        }
        for (i = 0; i < nb; i++)
            clen = (clen << 8) | in[p++];
        if (clen < 0x80) {
            AF_ERR(AF_R_NONCE_NOT_DER, "length %zu in the long form", clen);
            return 0;
        }
    }
    if (clen > len - p) {
        AF_ERR(AF_R_NONCE_DECODE, "DER truncated: element of %zu bytes, %zu left", clen, len - p);
        return 0;
    }
    if (universal) {
        int must_construct = tagnum == 16 || tagnum == 17;

        if (must_construct && !constructed) {
            AF_ERR(AF_R_NONCE_DECODE, "primitive SEQUENCE/SET");
            return 0;
        }
        if (!must_construct && constructed) {
            AF_ERR(AF_R_NONCE_NOT_DER, "constructed form of universal tag %zu", tagnum);
            return 0;
        }
        if (tagnum == 2 || tagnum == 10) { /* INTEGER, ENUMERATED */
            if (clen == 0) {
                AF_ERR(AF_R_NONCE_DECODE, "empty INTEGER");
                return 0;
            }
            if (clen > 1 &&
                ((in[p] == 0x00 && !(in[p + 1] & 0x80)) || (in[p] == 0xff && (in[p + 1] & 0x80)))) {
                AF_ERR(AF_R_NONCE_NOT_DER, "INTEGER with non-minimal (padded) encoding");
                return 0;
            }
        }
        if (tagnum == 1 && (clen != 1 || (in[p] != 0 && in[p] != 0xff))) {
            AF_ERR(AF_R_NONCE_NOT_DER, "BOOLEAN not encoded as 00 or FF");
            return 0;
        }
        if (tagnum == 5 && clen != 0) {
            AF_ERR(AF_R_NONCE_DECODE, "NULL with content");
            return 0;
        }
    }
    if (constructed) {
        size_t off = 0;

        while (off < clen) {
            size_t u;

            if (!walk(in + p + off, clen - off, &u, depth + 1))
                return 0;
            off += u;
        }
    }
    *used = p + clen;
    return 1;
}

int af_der_walk(const unsigned char *in, size_t len, size_t *used)
{
    if (len == 0) {
        AF_ERR(AF_R_NONCE_DECODE, "empty input");
        return 0;
    }
    return walk(in, len, used, 0);
}

int af_der_is_one(const unsigned char *in, size_t len)
{
    size_t used;
    int ok;

    ERR_set_mark();
    ok = len > 0 && walk(in, len, &used, 0) && used == len;
    ERR_pop_to_mark();
    return ok;
}

/* Whole-input check: one element, nothing after it. */
static int der_whole(const unsigned char *in, size_t len, const char *what)
{
    size_t used;

    if (!af_der_walk(in, len, &used))
        return 0;
    if (used != len) {
        AF_ERR(AF_R_NONCE_TRAILING, "%zu bytes after the %s", len - used, what);
        return 0;
    }
    return 1;
}

/* Template decode of a walked input, then re-encode and compare (catches what the walk does not:
 * SET OF order, and anything the template would normalise). */
static void *der_item_decode(const ASN1_ITEM *it, const unsigned char *in, size_t len,
                             const char *what)
{
    const unsigned char *p = in;
    ASN1_VALUE *v;
    unsigned char *re = NULL;
    int relen;

    ERR_set_mark();
    v = ASN1_item_d2i(NULL, &p, (long)len, it);
    ERR_pop_to_mark();
    if (v == NULL) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "does not match %s (wrong member type or order)", what);
        return NULL;
    }
    relen = ASN1_item_i2d(v, &re, it);
    if (relen < 0 || (size_t)relen != len || memcmp(re, in, len) != 0) {
        OPENSSL_free(re);
        ASN1_item_free(v, it);
        AF_ERR(AF_R_NONCE_NOT_DER, "%s is BER, not DER", what);
        return NULL;
    }
    OPENSSL_free(re);
    return v;
}

static int der_item_encode(const ASN1_ITEM *it, const void *v, unsigned char **out, size_t *outlen,
                           const char *what)
{
    unsigned char *buf = NULL;
    int n = ASN1_item_i2d((const ASN1_VALUE *)v, &buf, it);

    if (n <= 0) {
        ERR_clear_error();
        AF_ERR(AF_R_INTERNAL, "cannot encode %s", what);
        return 0;
    }
    *out = buf;
    *outlen = (size_t)n;
    return 1;
}

/* ---- field helpers --------------------------------------------------------------------------- */

static ASN1_OBJECT *oid_obj(const char *dotted)
{
    ASN1_OBJECT *o = OBJ_txt2obj(dotted, 1);

    if (o == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_BAD_OID, "'%.80s'", dotted);
    }
    return o;
}

static char *obj_text(const ASN1_OBJECT *o)
{
    int n = OBJ_obj2txt(NULL, 0, o, 1);
    char *s;

    if (n <= 0 || (s = OPENSSL_malloc((size_t)n + 1)) == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_BAD_OID, "cannot render an OID");
        return NULL;
    }
    OBJ_obj2txt(s, n + 1, o, 1);
    return s;
}

static int int_get(const ASN1_INTEGER *ai, int64_t *v)
{
    int ok;

    ERR_set_mark();
    ok = ASN1_INTEGER_get_int64(v, ai);
    ERR_pop_to_mark();
    return ok;
}

static ASN1_INTEGER *int_new(int64_t v)
{
    ASN1_INTEGER *ai = ASN1_INTEGER_new();

    if (ai == NULL || !ASN1_INTEGER_set_int64(ai, v)) {
        ASN1_INTEGER_free(ai);
        AF_ERR(AF_R_MALLOC, "INTEGER");
        return NULL;
    }
    return ai;
}

static int set_len(int *dst, const ASN1_INTEGER *ai)
{
    int64_t v;

    if (!int_get(ai, &v) || v < AF_NONCE_LEN_MIN || v > AF_NONCE_LEN_MAX) {
        AF_ERR(AF_R_NONCE_BAD_LEN, "len outside %d..%d", AF_NONCE_LEN_MIN, AF_NONCE_LEN_MAX);
        return 0;
    }
    *dst = (int)v;
    return 1;
}

static int set_expiry(AF_NONCE_RESP_ITEM *it, const ASN1_INTEGER *ai)
{
    int64_t v;

    if (!int_get(ai, &v) || v < 0) {
        AF_ERR(AF_R_NONCE_EXPIRY, "expiry is negative or larger than 2^63-1 seconds");
        return 0;
    }
    return af_nonce_resp_item_set_expiry_seconds(it, v);
}

static int set_nonce(AF_NONCE_RESP_ITEM *it, const ASN1_OCTET_STRING *os)
{
    return af_nonce_resp_item_set1_nonce(it, ASN1_STRING_get0_data(os),
                                         (size_t)ASN1_STRING_length(os));
}

/* ASN1_TYPE -> DER bytes in an af_any */
static int any_from_type(af_any *a, const ASN1_TYPE *t)
{
    unsigned char *der = NULL;
    int n = i2d_ASN1_TYPE(t, &der);
    int ok;

    if (n <= 0) {
        ERR_clear_error();
        AF_ERR(AF_R_NONCE_DECODE, "cannot re-encode an opaque value");
        return 0;
    }
    ok = af_any_set(a, AF_NONCE_ANY_DER, der, (size_t)n);
    OPENSSL_free(der);
    return ok;
}

static ASN1_TYPE *type_from_der(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    ASN1_TYPE *t;

    ERR_set_mark();
    t = d2i_ASN1_TYPE(NULL, &p, (long)len);
    ERR_pop_to_mark();
    if (t == NULL || p != der + len) {
        ASN1_TYPE_free(t);
        AF_ERR(AF_R_NONCE_DECODE, "opaque value is not one DER element");
        return NULL;
    }
    return t;
}

static ASN1_TYPE *any_to_type(const af_any *a)
{
    unsigned char *der = NULL;
    size_t len = 0;
    ASN1_TYPE *t;

    if (!af_any_get_as(a, AF_NONCE_ANY_DER, &der, &len))
        return NULL;
    t = type_from_der(der, len);
    OPENSSL_free(der);
    return t;
}

/* ASN1_TYPE holding the given complete DER of a SEQUENCE (as ANY keeps it) */
static ASN1_TYPE *seq_type(const unsigned char *der, size_t len)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_STRING *s = ASN1_STRING_new();

    if (t == NULL || s == NULL || !ASN1_STRING_set(s, der, (int)len)) {
        ASN1_TYPE_free(t);
        ASN1_STRING_free(s);
        AF_ERR(AF_R_MALLOC, "SEQUENCE value");
        return NULL;
    }
    ASN1_TYPE_set(t, V_ASN1_SEQUENCE, s);
    return t;
}

static ASN1_TYPE *string_type(int type, const unsigned char *data, size_t len)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_STRING *s = ASN1_STRING_type_new(type);

    if (t == NULL || s == NULL || !ASN1_STRING_set(s, data, (int)len)) {
        ASN1_TYPE_free(t);
        ASN1_STRING_free(s);
        AF_ERR(AF_R_MALLOC, "string value");
        return NULL;
    }
    ASN1_TYPE_set(t, type, s);
    return t;
}

static int push_type(STACK_OF(ASN1_TYPE) * sk, ASN1_TYPE *t)
{
    if (t == NULL)
        return 0;
    if (!sk_ASN1_TYPE_push(sk, t)) {
        ASN1_TYPE_free(t);
        AF_ERR(AF_R_MALLOC, "sequence");
        return 0;
    }
    return 1;
}

static int utf8_field(char **dst, const ASN1_TYPE *t, const char *what)
{
    const ASN1_STRING *s = t->value.utf8string;
    size_t n = (size_t)ASN1_STRING_length(s);
    char *c;

    if (!af_utf8_ok((const char *)ASN1_STRING_get0_data(s), n)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not UTF-8 text", what);
        return 0;
    }
    if ((c = OPENSSL_strndup((const char *)ASN1_STRING_get0_data(s), n)) == NULL) {
        AF_ERR(AF_R_MALLOC, "%s", what);
        return 0;
    }
    OPENSSL_free(*dst);
    *dst = c;
    return 1;
}

static int octets_field(af_octets *o, const ASN1_TYPE *t)
{
    return af_octets_set(o, ASN1_STRING_get0_data(t->value.octet_string),
                         (size_t)ASN1_STRING_length(t->value.octet_string));
}

static int is_int(const ASN1_TYPE *t)
{
    return t->type == V_ASN1_INTEGER || t->type == V_ASN1_NEG_INTEGER;
}

/* ---- current shape --------------------------------------------------------------------------- */

/* The template only says "does not match" for a reqTypeInfo/respTypeInfo without its type; find
 * that case to name it (1 = a typeInfo SEQUENCE that does not start with an OID is present). */
static int typeinfo_without_type(const unsigned char *in, size_t len)
{
    const unsigned char *p = in;
    STACK_OF(ASN1_TYPE) * outer, *ti = NULL;
    int i, found = 0;

    ERR_set_mark();
    outer = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len);
    for (i = 0; outer != NULL && i < sk_ASN1_TYPE_num(outer) && !found; i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(outer, i);
        const unsigned char *q;

        if (t->type != V_ASN1_SEQUENCE)
            continue;
        q = ASN1_STRING_get0_data(t->value.sequence);
        ti = d2i_ASN1_SEQUENCE_ANY(NULL, &q, ASN1_STRING_length(t->value.sequence));
        found = ti != NULL &&
                (sk_ASN1_TYPE_num(ti) == 0 || sk_ASN1_TYPE_value(ti, 0)->type != V_ASN1_OBJECT);
        sk_ASN1_TYPE_pop_free(ti, ASN1_TYPE_free);
    }
    sk_ASN1_TYPE_pop_free(outer, ASN1_TYPE_free);
    ERR_pop_to_mark();
    return found;
}

static void *cur_decode(const ASN1_ITEM *it, const unsigned char *in, size_t len, const char *what,
                        const char *ti_name)
{
    if (typeinfo_without_type(in, len)) {
        AF_ERR(AF_R_NONCE_MISSING, "%s without type", ti_name);
        return NULL;
    }
    return der_item_decode(it, in, len, what);
}

static int cur_req_decode(AF_NONCE_REQ *req, const unsigned char *in, size_t len)
{
    AF_CUR_REQ *r = cur_decode(ASN1_ITEM_rptr(AF_CUR_REQ), in, len, "NonceRequest", "reqTypeInfo");
    AF_NONCE_REQ_ITEM *it;
    int ok = 0;

    if (r == NULL)
        return 0;
    if ((it = af_nonce_req_add0_item(req)) == NULL)
        goto done;
    if (r->len != NULL && !set_len(&it->len, r->len))
        goto done;
    if (r->ti != NULL) {
        if ((it->type = obj_text(r->ti->type)) == NULL)
            goto done;
        if (r->ti->info != NULL && !any_from_type(&it->info, r->ti->info))
            goto done;
    }
    ok = 1;
done:
    ASN1_item_free((ASN1_VALUE *)r, ASN1_ITEM_rptr(AF_CUR_REQ));
    return ok;
}

static AF_TYPEINFO *typeinfo_new(const char *type, const af_any *info)
{
    AF_TYPEINFO *ti;

    if (type == NULL)
        return NULL;
    if ((ti = (AF_TYPEINFO *)ASN1_item_new(ASN1_ITEM_rptr(AF_TYPEINFO))) == NULL) {
        AF_ERR(AF_R_MALLOC, "typeInfo");
        return NULL;
    }
    ASN1_OBJECT_free(ti->type);
    if ((ti->type = oid_obj(type)) == NULL ||
        (info->kind != 0 && (ti->info = any_to_type(info)) == NULL)) {
        ASN1_item_free((ASN1_VALUE *)ti, ASN1_ITEM_rptr(AF_TYPEINFO));
        return NULL;
    }
    return ti;
}

static int cur_req_encode(const AF_NONCE_REQ_ITEM *it, unsigned char **out, size_t *outlen)
{
    AF_CUR_REQ *r = (AF_CUR_REQ *)ASN1_item_new(ASN1_ITEM_rptr(AF_CUR_REQ));
    int ok = 0;

    if (r == NULL) {
        AF_ERR(AF_R_MALLOC, "NonceRequest");
        return 0;
    }
    if (it->len != 0 && (r->len = int_new(it->len)) == NULL)
        goto done;
    if (it->type != NULL && (r->ti = typeinfo_new(it->type, &it->info)) == NULL)
        goto done;
    ok = der_item_encode(ASN1_ITEM_rptr(AF_CUR_REQ), r, out, outlen, "NonceRequest");
done:
    ASN1_item_free((ASN1_VALUE *)r, ASN1_ITEM_rptr(AF_CUR_REQ));
    return ok;
}

static int cur_resp_decode(AF_NONCE_RESP *resp, const unsigned char *in, size_t len)
{
    AF_CUR_RESP *r =
        cur_decode(ASN1_ITEM_rptr(AF_CUR_RESP), in, len, "NonceResponse", "respTypeInfo");
    AF_NONCE_RESP_ITEM *it;
    int ok = 0;

    if (r == NULL)
        return 0;
    if ((it = af_nonce_resp_add0_item(resp)) == NULL || !set_nonce(it, r->nonce))
        goto done;
    if (r->expiry != NULL && !set_expiry(it, r->expiry))
        goto done;
    if (r->ti != NULL) {
        if ((it->type = obj_text(r->ti->type)) == NULL)
            goto done;
        if (r->ti->info != NULL && !any_from_type(&it->info, r->ti->info))
            goto done;
    }
    ok = 1;
done:
    ASN1_item_free((ASN1_VALUE *)r, ASN1_ITEM_rptr(AF_CUR_RESP));
    return ok;
}

static int cur_resp_encode(const AF_NONCE_RESP_ITEM *it, const AF_NONCE_CODEC *codec,
                           unsigned char **out, size_t *outlen)
{
    AF_CUR_RESP *r = (AF_CUR_RESP *)ASN1_item_new(ASN1_ITEM_rptr(AF_CUR_RESP));
    int64_t secs;
    int ok = 0;

    if (r == NULL) {
        AF_ERR(AF_R_MALLOC, "NonceResponse");
        return 0;
    }
    if (!ASN1_OCTET_STRING_set(r->nonce, it->nonce, (int)it->nonce_len)) {
        AF_ERR(AF_R_MALLOC, "nonce");
        goto done;
    }
    if (af_nonce_resp_item_get_expiry_seconds(it, codec, &secs) &&
        (r->expiry = int_new(secs)) == NULL)
        goto done;
    if (it->type != NULL && (r->ti = typeinfo_new(it->type, &it->info)) == NULL)
        goto done;
    ok = der_item_encode(ASN1_ITEM_rptr(AF_CUR_RESP), r, out, outlen, "NonceResponse");
done:
    ASN1_item_free((ASN1_VALUE *)r, ASN1_ITEM_rptr(AF_CUR_RESP));
    return ok;
}

/* ---- seed shape ------------------------------------------------------------------------------ */

/* Splits the optional tail of a seed item (see the file comment). i: first unread field; *j gets
 * the end of what is left for `value`. */
static int seed_tail(STACK_OF(ASN1_TYPE) * f, int i, int *j, char **hint, af_octets *vx,
                     const AF_NONCE_PROFILE *prof, AF_NONCE_CODEC *codec)
{
    int k = sk_ASN1_TYPE_num(f);

    if (k > i && sk_ASN1_TYPE_value(f, k - 1)->type == V_ASN1_OCTET_STRING) {
        if (!prof->def->vendor_extension &&
            !af_nonce_tolerate(codec, AF_NONCE_TOL_VENDOREXT, AF_R_NONCE_UNKNOWN,
                               "vendorextension outside the siemens-ra profile"))
            return 0;
        if (!octets_field(vx, sk_ASN1_TYPE_value(f, k - 1)))
            return 0;
        k--;
    }
    if (k > i && sk_ASN1_TYPE_value(f, k - 1)->type == V_ASN1_UTF8STRING) {
        if (!utf8_field(hint, sk_ASN1_TYPE_value(f, k - 1), "hint"))
            return 0;
        k--;
    }
    *j = k;
    return 1;
}

static STACK_OF(ASN1_TYPE) * seq_any(const unsigned char *in, size_t len, const char *what)
{
    const unsigned char *p = in;
    STACK_OF(ASN1_TYPE) * sk;
    unsigned char *re = NULL;
    int relen;

    ERR_set_mark();
    sk = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len);
    ERR_pop_to_mark();
    if (sk == NULL || p != in + len) {
        sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not a SEQUENCE", what);
        return NULL;
    }
    relen = i2d_ASN1_SEQUENCE_ANY(sk, &re);
    if (relen < 0 || (size_t)relen != len || memcmp(re, in, len) != 0) {
        OPENSSL_free(re);
        sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
        AF_ERR(AF_R_NONCE_NOT_DER, "%s is BER, not DER", what);
        return NULL;
    }
    OPENSSL_free(re);
    return sk;
}

static int seed_req_item(AF_NONCE_REQ_ITEM *it, STACK_OF(ASN1_TYPE) * f,
                         const AF_NONCE_PROFILE *prof, AF_NONCE_CODEC *codec, int idx)
{
    int i = 0, j;
    const ASN1_TYPE *t;

    if (i < sk_ASN1_TYPE_num(f) && is_int(sk_ASN1_TYPE_value(f, i))) {
        ASN1_INTEGER *ai = sk_ASN1_TYPE_value(f, i)->value.integer;

        if (!set_len(&it->len, ai))
            return 0;
        i++;
    }
    if (i < sk_ASN1_TYPE_num(f) && sk_ASN1_TYPE_value(f, i)->type == V_ASN1_OBJECT) {
        if ((it->type = obj_text(sk_ASN1_TYPE_value(f, i)->value.object)) == NULL)
            return 0;
        i++;
    }
    if (!seed_tail(f, i, &j, &it->hint, &it->vx, prof, codec))
        return 0;
    if (j == i)
        return 1;
    t = sk_ASN1_TYPE_value(f, i);
    if (it->type == NULL || j - i > 1) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "item %d: unexpected element with tag %d %s", idx, t->type,
               it->type == NULL ? "(a value needs a type before it)" : "after the value");
        return 0;
    }
    if (!af_nonce_tolerate(codec, AF_NONCE_TOL_VALUE, AF_R_NONCE_UNKNOWN, "seed 'value' payload"))
        return 0;
    return any_from_type(&it->info, t);
}

static int seed_resp_item(AF_NONCE_RESP_ITEM *it, STACK_OF(ASN1_TYPE) * f,
                          const AF_NONCE_PROFILE *prof, AF_NONCE_CODEC *codec, int idx)
{
    int i = 0, j;

    if (sk_ASN1_TYPE_num(f) == 0 || sk_ASN1_TYPE_value(f, 0)->type != V_ASN1_OCTET_STRING) {
        AF_ERR(sk_ASN1_TYPE_num(f) == 0 ? AF_R_NONCE_MISSING : AF_R_NONCE_BAD_TYPE,
               "item %d: nonce OCTET STRING %s", idx,
               sk_ASN1_TYPE_num(f) == 0 ? "missing" : "expected first");
        return 0;
    }
    if (!af_nonce_resp_item_set1_nonce(
            it, ASN1_STRING_get0_data(sk_ASN1_TYPE_value(f, 0)->value.octet_string),
            (size_t)ASN1_STRING_length(sk_ASN1_TYPE_value(f, 0)->value.octet_string)))
        return 0;
    i = 1;
    if (i < sk_ASN1_TYPE_num(f) && is_int(sk_ASN1_TYPE_value(f, i))) {
        if (!set_expiry(it, sk_ASN1_TYPE_value(f, i)->value.integer))
            return 0;
        i++;
    }
    if (i < sk_ASN1_TYPE_num(f) && sk_ASN1_TYPE_value(f, i)->type == V_ASN1_OBJECT) {
        if ((it->type = obj_text(sk_ASN1_TYPE_value(f, i)->value.object)) == NULL)
            return 0;
        i++;
    }
    if (!seed_tail(f, i, &j, &it->hint, &it->vx, prof, codec))
        return 0;
    if (j != i) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "item %d: unexpected element with tag %d", idx,
               sk_ASN1_TYPE_value(f, i)->type);
        return 0;
    }
    return 1;
}

/* outer SEQUENCE OF: each element's complete DER */
static int seed_list(const unsigned char *in, size_t len, STACK_OF(ASN1_TYPE) * *out)
{
    STACK_OF(ASN1_TYPE) *sk = seq_any(in, len, "the list");
    int i;

    if (sk == NULL)
        return 0;
    if (sk_ASN1_TYPE_num(sk) == 0) {
        sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
        AF_ERR(AF_R_NONCE_MISSING, "empty list (at least one item is required)");
        return 0;
    }
    if (sk_ASN1_TYPE_num(sk) > AF_NONCE_MAX_ITEMS) {
        sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
        AF_ERR(AF_R_TOO_LARGE, "more than %d items", AF_NONCE_MAX_ITEMS);
        return 0;
    }
    for (i = 0; i < sk_ASN1_TYPE_num(sk); i++)
        if (sk_ASN1_TYPE_value(sk, i)->type != V_ASN1_SEQUENCE) {
            AF_ERR(AF_R_NONCE_BAD_TYPE, "item %d is not a SEQUENCE (tag %d)", i,
                   sk_ASN1_TYPE_value(sk, i)->type);
            sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
            return 0;
        }
    *out = sk;
    return 1;
}

static int seed_req_decode(AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof, AF_NONCE_CODEC *codec,
                           const unsigned char *in, size_t len)
{
    STACK_OF(ASN1_TYPE) *list = NULL, *f = NULL;
    int i, ok = 0;

    if (!seed_list(in, len, &list))
        return 0;
    for (i = 0; i < sk_ASN1_TYPE_num(list); i++) {
        const ASN1_STRING *s = sk_ASN1_TYPE_value(list, i)->value.sequence;
        AF_NONCE_REQ_ITEM *it;

        if ((f = seq_any(ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), "item")) ==
                NULL ||
            (it = af_nonce_req_add0_item(req)) == NULL || !seed_req_item(it, f, prof, codec, i))
            goto done;
        sk_ASN1_TYPE_pop_free(f, ASN1_TYPE_free);
        f = NULL;
    }
    ok = 1;
done:
    sk_ASN1_TYPE_pop_free(f, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
    return ok;
}

static int seed_resp_decode(AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                            AF_NONCE_CODEC *codec, const unsigned char *in, size_t len)
{
    STACK_OF(ASN1_TYPE) *list = NULL, *f = NULL;
    int i, ok = 0;

    if (!seed_list(in, len, &list))
        return 0;
    for (i = 0; i < sk_ASN1_TYPE_num(list); i++) {
        const ASN1_STRING *s = sk_ASN1_TYPE_value(list, i)->value.sequence;
        AF_NONCE_RESP_ITEM *it;

        if ((f = seq_any(ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), "item")) ==
                NULL ||
            (it = af_nonce_resp_add0_item(resp)) == NULL || !seed_resp_item(it, f, prof, codec, i))
            goto done;
        sk_ASN1_TYPE_pop_free(f, ASN1_TYPE_free);
        f = NULL;
    }
    ok = 1;
done:
    sk_ASN1_TYPE_pop_free(f, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
    return ok;
}

static int seq_any_encode(STACK_OF(ASN1_TYPE) * sk, unsigned char **out, size_t *outlen)
{
    unsigned char *buf = NULL;
    int n = i2d_ASN1_SEQUENCE_ANY(sk, &buf);

    if (n <= 0) {
        ERR_clear_error();
        AF_ERR(AF_R_INTERNAL, "cannot encode a SEQUENCE");
        return 0;
    }
    *out = buf;
    *outlen = (size_t)n;
    return 1;
}

/* the common tail [value] [hint] [vendorextension] of a seed item */
static int seed_tail_encode(STACK_OF(ASN1_TYPE) * f, const af_any *value, const char *hint,
                            const af_octets *vx, const AF_NONCE_PROFILE *prof, size_t idx)
{
    if (value->kind != 0) {
        ASN1_TYPE *t = any_to_type(value);

        if (t == NULL)
            return 0;
        if (t->type == V_ASN1_UTF8STRING && hint == NULL) {
            ASN1_TYPE_free(t);
            AF_ERR(AF_R_NONCE_SHAPE,
                   "item %zu: a UTF8String value without a hint after it would "
                   "be read as the hint",
                   idx);
            return 0;
        }
        if (t->type == V_ASN1_OCTET_STRING && !vx->present && hint == NULL) {
            ASN1_TYPE_free(t);
            AF_ERR(AF_R_NONCE_SHAPE,
                   "item %zu: an OCTET STRING value with nothing after it would "
                   "be read as the vendorextension",
                   idx);
            return 0;
        }
        if (!push_type(f, t))
            return 0;
    }
    if (hint != NULL &&
        !push_type(f, string_type(V_ASN1_UTF8STRING, (const unsigned char *)hint, strlen(hint))))
        return 0;
    if (vx->present && !push_type(f, string_type(V_ASN1_OCTET_STRING, vx->data, vx->len)))
        return 0;
    (void)prof;
    return 1;
}

static ASN1_TYPE *int_type(int64_t v)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_INTEGER *ai = int_new(v);

    if (t == NULL || ai == NULL) {
        ASN1_TYPE_free(t);
        ASN1_INTEGER_free(ai);
        AF_ERR(AF_R_MALLOC, "INTEGER");
        return NULL;
    }
    ASN1_TYPE_set(t, V_ASN1_INTEGER, ai);
    return t;
}

static ASN1_TYPE *oid_type(const char *dotted)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_OBJECT *o = oid_obj(dotted);

    if (t == NULL || o == NULL) {
        ASN1_TYPE_free(t);
        ASN1_OBJECT_free(o);
        return NULL;
    }
    ASN1_TYPE_set(t, V_ASN1_OBJECT, o);
    return t;
}

/* wraps each item's DER into the outer SEQUENCE OF */
static int seed_list_add(STACK_OF(ASN1_TYPE) * list, STACK_OF(ASN1_TYPE) * f)
{
    unsigned char *der = NULL;
    size_t len = 0;
    int ok;

    if (!seq_any_encode(f, &der, &len))
        return 0;
    ok = push_type(list, seq_type(der, len));
    OPENSSL_free(der);
    return ok;
}

static int seed_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                           unsigned char **out, size_t *outlen)
{
    STACK_OF(ASN1_TYPE) *list = sk_ASN1_TYPE_new_null(), *f = NULL;
    size_t i;
    int ok = 0;

    if (list == NULL) {
        AF_ERR(AF_R_MALLOC, "list");
        return 0;
    }
    for (i = 0; i < req->n; i++) {
        const AF_NONCE_REQ_ITEM *it = req->items[i];

        if ((f = sk_ASN1_TYPE_new_null()) == NULL) {
            AF_ERR(AF_R_MALLOC, "item");
            goto done;
        }
        if ((it->len != 0 && !push_type(f, int_type(it->len))) ||
            (it->type != NULL && !push_type(f, oid_type(it->type))) ||
            !seed_tail_encode(f, &it->info, it->hint, &it->vx, prof, i) || !seed_list_add(list, f))
            goto done;
        sk_ASN1_TYPE_pop_free(f, ASN1_TYPE_free);
        f = NULL;
    }
    ok = seq_any_encode(list, out, outlen);
done:
    sk_ASN1_TYPE_pop_free(f, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
    return ok;
}

static int seed_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                            const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen)
{
    STACK_OF(ASN1_TYPE) *list = sk_ASN1_TYPE_new_null(), *f = NULL;
    size_t i;
    int ok = 0;
    af_any none = {0, NULL, 0};

    if (list == NULL) {
        AF_ERR(AF_R_MALLOC, "list");
        return 0;
    }
    for (i = 0; i < resp->n; i++) {
        const AF_NONCE_RESP_ITEM *it = resp->items[i];
        int64_t secs;

        if ((f = sk_ASN1_TYPE_new_null()) == NULL) {
            AF_ERR(AF_R_MALLOC, "item");
            goto done;
        }
        if (!push_type(f, string_type(V_ASN1_OCTET_STRING, it->nonce, it->nonce_len)) ||
            (af_nonce_resp_item_get_expiry_seconds(it, codec, &secs) &&
             !push_type(f, int_type(secs))) ||
            (it->type != NULL && !push_type(f, oid_type(it->type))) ||
            !seed_tail_encode(f, &none, it->hint, &it->vx, prof, i) || !seed_list_add(list, f))
            goto done;
        sk_ASN1_TYPE_pop_free(f, ASN1_TYPE_free);
        f = NULL;
    }
    ok = seq_any_encode(list, out, outlen);
done:
    sk_ASN1_TYPE_pop_free(f, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
    return ok;
}

/* ---- wrappers -------------------------------------------------------------------------------- */

static int same_oid(const ASN1_OBJECT *got, const char *want_dotted, const char *what)
{
    ASN1_OBJECT *want = oid_obj(want_dotted);
    int same;

    if (want == NULL)
        return 0;
    same = OBJ_cmp(got, want) == 0;
    ASN1_OBJECT_free(want);
    if (!same) {
        char g[128];

        OBJ_obj2txt(g, sizeof(g), got, 1);
        AF_ERR(AF_R_NONCE_SHAPE, "%s %s is not the profile's %s", what, g, want_dotted);
    }
    return same;
}

static int wrap(af_nonce_format fmt, const char *oid, const AF_NONCE_CODEC *codec,
                unsigned char *bare, size_t barelen, unsigned char **out, size_t *outlen)
{
    int ok = 0;

    if (fmt == AF_NONCE_FMT_DER) {
        *out = bare;
        *outlen = barelen;
        return 1;
    }
    if (fmt == AF_NONCE_FMT_ITAV) {
        AF_ITAV *w = (AF_ITAV *)ASN1_item_new(ASN1_ITEM_rptr(AF_ITAV));

        if (w != NULL) {
            ASN1_OBJECT_free(w->type);
            if ((w->type = oid_obj(oid)) != NULL && (w->value = seq_type(bare, barelen)) != NULL)
                ok = der_item_encode(ASN1_ITEM_rptr(AF_ITAV), w, out, outlen, "InfoTypeAndValue");
        } else {
            AF_ERR(AF_R_MALLOC, "InfoTypeAndValue");
        }
        ASN1_item_free((ASN1_VALUE *)w, ASN1_ITEM_rptr(AF_ITAV));
    } else {
        AF_TAGGED_ATTR *w = (AF_TAGGED_ATTR *)ASN1_item_new(ASN1_ITEM_rptr(AF_TAGGED_ATTR));
        int64_t bpid = codec != NULL ? codec->body_part_id : 1;

        if (w != NULL) {
            ASN1_OBJECT_free(w->type);
            if ((w->type = oid_obj(oid)) != NULL && ASN1_INTEGER_set_int64(w->body_part_id, bpid) &&
                push_type(w->values, seq_type(bare, barelen)))
                ok = der_item_encode(ASN1_ITEM_rptr(AF_TAGGED_ATTR), w, out, outlen,
                                     "TaggedAttribute");
        } else {
            AF_ERR(AF_R_MALLOC, "TaggedAttribute");
        }
        ASN1_item_free((ASN1_VALUE *)w, ASN1_ITEM_rptr(AF_TAGGED_ATTR));
    }
    OPENSSL_free(bare);
    return ok;
}

/* Unwraps in to the bare message bytes (a pointer into *holder, freed by the caller with
 * free_holder), or *bare = NULL for an ITAV without a value. */
typedef struct {
    AF_ITAV *itav;
    AF_TAGGED_ATTR *attr;
} holder;

static void holder_free(holder *h)
{
    ASN1_item_free((ASN1_VALUE *)h->itav, ASN1_ITEM_rptr(AF_ITAV));
    ASN1_item_free((ASN1_VALUE *)h->attr, ASN1_ITEM_rptr(AF_TAGGED_ATTR));
}

static int seq_bytes(const ASN1_TYPE *t, const unsigned char **bare, size_t *barelen,
                     const char *what)
{
    if (t->type != V_ASN1_SEQUENCE) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not a SEQUENCE (tag %d)", what, t->type);
        return 0;
    }
    *bare = ASN1_STRING_get0_data(t->value.sequence);
    *barelen = (size_t)ASN1_STRING_length(t->value.sequence);
    return 1;
}

static int unwrap(af_nonce_format fmt, const char *oid, AF_NONCE_CODEC *codec,
                  const unsigned char *in, size_t inlen, holder *h, const unsigned char **bare,
                  size_t *barelen)
{
    *bare = in;
    *barelen = inlen;
    if (fmt == AF_NONCE_FMT_DER)
        return 1;
    if (fmt == AF_NONCE_FMT_ITAV) {
        if ((h->itav = der_item_decode(ASN1_ITEM_rptr(AF_ITAV), in, inlen, "InfoTypeAndValue")) ==
                NULL ||
            !same_oid(h->itav->type, oid, "infoType"))
            return 0;
        if (h->itav->value == NULL) {
            *bare = NULL;
            return 1;
        }
        return seq_bytes(h->itav->value, bare, barelen, "infoValue");
    }
    if ((h->attr = der_item_decode(ASN1_ITEM_rptr(AF_TAGGED_ATTR), in, inlen, "TaggedAttribute")) ==
            NULL ||
        !same_oid(h->attr->type, oid, "attrType"))
        return 0;
    {
        int64_t bpid;

        if (!int_get(h->attr->body_part_id, &bpid) || bpid < 0 || bpid > 4294967295LL) {
            AF_ERR(AF_R_NONCE_BAD_TYPE, "bodyPartID outside 0..4294967295");
            return 0;
        }
        if (codec != NULL)
            codec->body_part_id_read = bpid;
    }
    if (sk_ASN1_TYPE_num(h->attr->values) != 1) {
        AF_ERR(sk_ASN1_TYPE_num(h->attr->values) == 0 ? AF_R_NONCE_MISSING : AF_R_NONCE_SHAPE,
               "attrValues holds %d values (one expected)", sk_ASN1_TYPE_num(h->attr->values));
        return 0;
    }
    return seq_bytes(sk_ASN1_TYPE_value(h->attr->values, 0), bare, barelen, "attrValues");
}

static const char *role_oid(const AF_NONCE_PROFILE *prof, af_nonce_format fmt, int response)
{
    if (fmt == AF_NONCE_FMT_ITAV)
        return af_nonce_profile_get0_oid(prof, response ? AF_NONCE_OID_CMP_RESPONSE
                                                        : AF_NONCE_OID_CMP_REQUEST);
    return af_nonce_profile_get0_oid(prof, response ? AF_NONCE_OID_CMC_RESPONSE
                                                    : AF_NONCE_OID_CMC_REQUEST);
}

/* ---- entry points ---------------------------------------------------------------------------- */

int af_nonce_der_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                            af_nonce_format fmt, const AF_NONCE_CODEC *codec, unsigned char **out,
                            size_t *outlen)
{
    unsigned char *bare = NULL;
    size_t barelen = 0;
    int ok = prof->def->shape == AF_SHAPE_CURRENT ? cur_req_encode(req->items[0], &bare, &barelen)
                                                  : seed_req_encode(req, prof, &bare, &barelen);

    if (!ok)
        return 0;
    return wrap(fmt, role_oid(prof, fmt, 0), codec, bare, barelen, out, outlen);
}

static int req_decode_bare(AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof, AF_NONCE_CODEC *codec,
                           const unsigned char *bare, size_t barelen)
{
    if (bare == NULL) {
        /* stock `openssl cmp -infotype` sends no infoValue: read as the empty request */
        if (!af_nonce_tolerate(codec, AF_NONCE_TOL_ITAV_ABSENT_VALUE, AF_R_NONCE_MISSING,
                               "InfoTypeAndValue without infoValue"))
            return 0;
        return af_nonce_req_add0_item(req) != NULL;
    }
    if (!der_whole(bare, barelen, "nonce request"))
        return 0;
    if (prof->def->shape == AF_SHAPE_CURRENT)
        return cur_req_decode(req, bare, barelen);
    return seed_req_decode(req, prof, codec, bare, barelen);
}

int af_nonce_der_req_decode(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                            AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen)
{
    holder h = {NULL, NULL};
    const unsigned char *bare;
    size_t barelen;
    AF_NONCE_REQ *req = NULL;
    int ok = 0;

    if (fmt != AF_NONCE_FMT_DER && !der_whole(in, inlen, "message"))
        return 0;
    if (!unwrap(fmt, role_oid(prof, fmt, 0), codec, in, inlen, &h, &bare, &barelen) ||
        (req = af_nonce_req_new()) == NULL || !req_decode_bare(req, prof, codec, bare, barelen))
        goto done;
    *out = req;
    req = NULL;
    ok = 1;
done:
    af_nonce_req_free(req);
    holder_free(&h);
    return ok;
}

int af_nonce_der_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                             af_nonce_format fmt, const AF_NONCE_CODEC *codec, unsigned char **out,
                             size_t *outlen)
{
    unsigned char *bare = NULL;
    size_t barelen = 0;
    int ok = prof->def->shape == AF_SHAPE_CURRENT
                 ? cur_resp_encode(resp->items[0], codec, &bare, &barelen)
                 : seed_resp_encode(resp, prof, codec, &bare, &barelen);

    if (!ok)
        return 0;
    return wrap(fmt, role_oid(prof, fmt, 1), codec, bare, barelen, out, outlen);
}

static int resp_decode_bare(AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                            AF_NONCE_CODEC *codec, const unsigned char *bare, size_t barelen)
{
    if (bare == NULL) {
        AF_ERR(AF_R_NONCE_MISSING, "InfoTypeAndValue without infoValue (a response needs one)");
        return 0;
    }
    if (!der_whole(bare, barelen, "nonce response"))
        return 0;
    if (prof->def->shape == AF_SHAPE_CURRENT)
        return cur_resp_decode(resp, bare, barelen);
    return seed_resp_decode(resp, prof, codec, bare, barelen);
}

int af_nonce_der_resp_decode(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                             AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen)
{
    holder h = {NULL, NULL};
    const unsigned char *bare;
    size_t barelen;
    AF_NONCE_RESP *resp = NULL;
    int ok = 0;

    if (fmt != AF_NONCE_FMT_DER && !der_whole(in, inlen, "message"))
        return 0;
    if (!unwrap(fmt, role_oid(prof, fmt, 1), codec, in, inlen, &h, &bare, &barelen) ||
        (resp = af_nonce_resp_new()) == NULL || !resp_decode_bare(resp, prof, codec, bare, barelen))
        goto done;
    *out = resp;
    resp = NULL;
    ok = 1;
done:
    af_nonce_resp_free(resp);
    holder_free(&h);
    return ok;
}

/* ---- OSSL_CMP_ITAV helpers (the CMP binding builds genm/genp from these) --------------------- */

static OSSL_CMP_ITAV *itav_make(const char *oid, unsigned char *bare, size_t barelen)
{
    ASN1_OBJECT *o = oid_obj(oid);
    ASN1_TYPE *t = o != NULL ? seq_type(bare, barelen) : NULL;
    OSSL_CMP_ITAV *itav = NULL;

    OPENSSL_free(bare);
    if (t != NULL && (itav = OSSL_CMP_ITAV_create(o, t)) == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_MALLOC, "InfoTypeAndValue");
    }
    if (itav == NULL) {
        ASN1_OBJECT_free(o);
        ASN1_TYPE_free(t);
    }
    return itav;
}

OSSL_CMP_ITAV *af_nonce_req_to_itav(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                                    const AF_NONCE_CODEC *codec)
{
    unsigned char *bare = NULL;
    size_t barelen = 0;

    if (!af_nonce_req_encode(req, prof, AF_NONCE_FMT_DER, codec, &bare, &barelen))
        return NULL;
    return itav_make(af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMP_REQUEST), bare, barelen);
}

OSSL_CMP_ITAV *af_nonce_resp_to_itav(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                                     const AF_NONCE_CODEC *codec)
{
    unsigned char *bare = NULL;
    size_t barelen = 0;

    if (!af_nonce_resp_encode(resp, prof, AF_NONCE_FMT_DER, codec, &bare, &barelen))
        return NULL;
    return itav_make(af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMP_RESPONSE), bare, barelen);
}

static int itav_parts(const OSSL_CMP_ITAV *itav, const char *oid, const unsigned char **bare,
                      size_t *barelen)
{
    const ASN1_TYPE *v;

    if (itav == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no InfoTypeAndValue");
        return 0;
    }
    if (!same_oid(OSSL_CMP_ITAV_get0_type(itav), oid, "infoType"))
        return 0;
    if ((v = OSSL_CMP_ITAV_get0_value(itav)) == NULL) {
        *bare = NULL;
        *barelen = 0;
        return 1;
    }
    return seq_bytes(v, bare, barelen, "infoValue");
}

int af_nonce_req_from_itav(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof, AF_NONCE_CODEC *codec,
                           const OSSL_CMP_ITAV *itav)
{
    const unsigned char *bare;
    size_t barelen;

    if (!itav_parts(itav, af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMP_REQUEST), &bare,
                    &barelen))
        return 0;
    if (bare == NULL) {
        AF_NONCE_REQ *req;

        if (codec != NULL)
            codec->tolerated = 0;
        if (!af_nonce_tolerate(codec, AF_NONCE_TOL_ITAV_ABSENT_VALUE, AF_R_NONCE_MISSING,
                               "InfoTypeAndValue without infoValue"))
            return 0;
        if ((req = af_nonce_req_new()) == NULL || af_nonce_req_add0_item(req) == NULL) {
            af_nonce_req_free(req);
            return 0;
        }
        *out = req;
        return 1;
    }
    return af_nonce_req_decode(out, prof, AF_NONCE_FMT_DER, codec, bare, barelen);
}

int af_nonce_resp_from_itav(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof,
                            AF_NONCE_CODEC *codec, const OSSL_CMP_ITAV *itav)
{
    const unsigned char *bare;
    size_t barelen;

    if (!itav_parts(itav, af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMP_RESPONSE), &bare,
                    &barelen))
        return 0;
    if (bare == NULL) {
        AF_ERR(AF_R_NONCE_MISSING, "InfoTypeAndValue without infoValue (a response needs one)");
        return 0;
    }
    return af_nonce_resp_decode(out, prof, AF_NONCE_FMT_DER, codec, bare, barelen);
}
