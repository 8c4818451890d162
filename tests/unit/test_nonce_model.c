/* test_nonce_model.c - the nonce model beyond the vectors: wire profiles x shapes, OID overrides
 * one by one, encoder-side checks, the opaque-value conversion rule, expiry conversions, nonce
 * generation, and dup/free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "attfresh/err.h"
#include "attfresh/nonce.h"
#include "testutil.h"

static int reason_of_error(void)
{
    unsigned long e = ERR_peek_error();

    if (e == 0 || ERR_GET_LIB(e) != af_err_lib())
        return -1;
    return ERR_GET_REASON(e);
}

static int fails_with(int ok, int reason)
{
    int r = reason_of_error();

    ERR_clear_error();
    if (ok || r != reason)
        fprintf(stderr, "ok=%d reason=%d, want %d\n", ok, r, reason);
    return !ok && r == reason;
}

static void test_profiles(void)
{
    static const struct {
        const char *name;
        af_shape shape;
        int vx;
        const char *cmp_req, *cmp_resp;
    } want[] = {
        {"draft-08", AF_SHAPE_CURRENT, 0, "1.3.6.1.5.5.7.4.98", "1.3.6.1.5.5.7.4.99"},
        {"rat-e2e", AF_SHAPE_CURRENT, 0, "1.2.840.113549.1.9.16.2.8888",
         "1.2.840.113549.1.9.16.2.8889"},
        {"draft-06", AF_SHAPE_SEED, 0, "1.2.840.113549.1.9.16.2.8888",
         "1.2.840.113549.1.9.16.2.8889"},
        {"siemens-ra", AF_SHAPE_SEED, 1, "1.3.6.1.5.5.7.4.99", "1.3.6.1.5.5.7.4.100"},
    };
    size_t i;
    AF_NONCE_PROFILE *p;

    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        p = af_nonce_profile_new(want[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_name(p), want[i].name);
        CU_ASSERT_EQUAL(af_nonce_profile_get_shape(p), want[i].shape);
        CU_ASSERT_EQUAL(af_nonce_profile_get_vendor_extension(p), want[i].vx);
        CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_oid(p, AF_NONCE_OID_CMP_REQUEST),
                               want[i].cmp_req);
        CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_oid(p, AF_NONCE_OID_CMP_RESPONSE),
                               want[i].cmp_resp);
        CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_oid(p, AF_NONCE_OID_CMC_REQUEST),
                               "1.3.6.1.5.5.7.7.98");
        CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_oid(p, AF_NONCE_OID_CMC_RESPONSE),
                               "1.3.6.1.5.5.7.7.99");
        af_nonce_profile_free(p);
    }
    p = af_nonce_profile_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_name(p), AF_PROFILE_DEFAULT);
    CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_media_type(p),
                           "application/est-attestation-freshness+json");
    af_nonce_profile_free(p);
    CU_ASSERT_TRUE(fails_with(af_nonce_profile_new("draft-99") != NULL, AF_R_UNKNOWN_PROFILE));
    af_nonce_profile_free(NULL);
}

/* each OID can be overridden alone; the others keep the profile default */
static void test_oid_overrides(void)
{
    AF_NONCE_PROFILE *p = af_nonce_profile_new("draft-08"), *d;
    AF_NONCE_REQ *req = af_nonce_req_new(), *back = NULL;
    unsigned char *out = NULL;
    size_t outlen = 0;
    int role;

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(af_nonce_req_add0_item(req));
    for (role = 0; role < AF_NONCE_OID__COUNT; role++) {
        AF_NONCE_PROFILE *q = af_nonce_profile_new("draft-08");
        int other;

        CU_ASSERT_TRUE(af_nonce_profile_set_oid(q, (af_nonce_oid_role)role, "1.2.3.4.99"));
        for (other = 0; other < AF_NONCE_OID__COUNT; other++)
            CU_ASSERT_EQUAL(strcmp(af_nonce_profile_get0_oid(q, (af_nonce_oid_role)other),
                                   af_nonce_profile_get0_oid(p, (af_nonce_oid_role)other)) == 0,
                            other != role);
        af_nonce_profile_free(q);
    }
    /* by table name, and rejected garbage */
    CU_ASSERT_TRUE(af_nonce_profile_set_oid(p, AF_NONCE_OID_CMP_REQUEST, "id-it-ratNonceRequest"));
    CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_oid(p, AF_NONCE_OID_CMP_REQUEST),
                           "1.2.840.113549.1.9.16.2.8888");
    CU_ASSERT_TRUE(fails_with(af_nonce_profile_set_oid(p, AF_NONCE_OID_CMP_REQUEST, "not.an.oid"),
                              AF_R_BAD_OID));
    CU_ASSERT_TRUE(fails_with(af_nonce_profile_set_oid(p, AF_NONCE_OID__COUNT, "1.2.3"),
                              AF_R_INVALID_ARGUMENT));
    /* the override is what goes on the wire, and what the decoder insists on */
    CU_ASSERT_TRUE(af_nonce_profile_set_oid(p, AF_NONCE_OID_CMP_REQUEST, "1.3.6.1.4.1.99999.1"));
    CU_ASSERT_TRUE_FATAL(af_nonce_req_encode(req, p, AF_NONCE_FMT_ITAV, NULL, &out, &outlen));
    CU_ASSERT_TRUE(af_nonce_req_decode(&back, p, AF_NONCE_FMT_ITAV, NULL, out, outlen));
    af_nonce_req_free(back);
    back = NULL;
    d = af_nonce_profile_dup(p);
    CU_ASSERT_STRING_EQUAL(af_nonce_profile_get0_oid(d, AF_NONCE_OID_CMP_REQUEST),
                           "1.3.6.1.4.1.99999.1");
    af_nonce_profile_free(d);
    d = af_nonce_profile_new("draft-08");
    CU_ASSERT_TRUE(fails_with(af_nonce_req_decode(&back, d, AF_NONCE_FMT_ITAV, NULL, out, outlen),
                              AF_R_NONCE_SHAPE));
    af_nonce_profile_free(d);
    OPENSSL_free(out);
    af_nonce_req_free(req);
    af_nonce_profile_free(p);
}

/* every profile x shape x encoding x direction: make, encode, decode, encode again, same bytes */
static void test_profiles_x_encodings(void)
{
    const char *profiles[] = {"draft-08", "rat-e2e", "draft-06", "siemens-ra"};
    af_nonce_format fmts[] = {AF_NONCE_FMT_DER, AF_NONCE_FMT_ITAV, AF_NONCE_FMT_CMC,
                              AF_NONCE_FMT_JSON, AF_NONCE_FMT_CBOR};
    static const unsigned char n16[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    size_t p, f;

    for (p = 0; p < 4; p++) {
        AF_NONCE_PROFILE *prof = af_nonce_profile_new(profiles[p]);
        int seed = af_nonce_profile_get_shape(prof) == AF_SHAPE_SEED;
        AF_NONCE_CODEC *codec = af_nonce_codec_new();
        AF_NONCE_REQ *req = af_nonce_req_new();
        AF_NONCE_RESP *resp = af_nonce_resp_new();
        AF_NONCE_REQ_ITEM *it = af_nonce_req_add0_item(req);
        AF_NONCE_RESP_ITEM *rt = af_nonce_resp_add0_item(resp);

        af_nonce_codec_set_now(codec, 1800000000);
        CU_ASSERT_TRUE(af_nonce_req_item_set_len(it, 16));
        CU_ASSERT_TRUE(af_nonce_req_item_set1_type(it, "1.2.3.4.5"));
        CU_ASSERT_TRUE(af_nonce_resp_item_set1_nonce(rt, n16, sizeof(n16)));
        CU_ASSERT_TRUE(af_nonce_resp_item_set_expiry_seconds(rt, 300));
        if (seed) {
            CU_ASSERT_TRUE(af_nonce_req_item_set1_hint(it, "https://v.example"));
            CU_ASSERT_PTR_NOT_NULL(af_nonce_req_add0_item(req));
            CU_ASSERT_PTR_NOT_NULL(af_nonce_resp_add0_item(resp));
        }
        for (f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
            unsigned char *a = NULL, *b = NULL;
            size_t alen = 0, blen = 0;
            AF_NONCE_REQ *req2 = NULL;
            AF_NONCE_RESP *resp2 = NULL;

            CU_ASSERT_TRUE_FATAL(af_nonce_req_encode(req, prof, fmts[f], codec, &a, &alen));
            CU_ASSERT_TRUE_FATAL(af_nonce_req_decode(&req2, prof, fmts[f], codec, a, alen));
            CU_ASSERT_EQUAL(af_nonce_req_get_count(req2), seed ? 2 : 1);
            CU_ASSERT_EQUAL(af_nonce_req_item_get_len(af_nonce_req_get0_item(req2, 0)), 16);
            CU_ASSERT_TRUE(af_nonce_req_encode(req2, prof, fmts[f], codec, &b, &blen));
            CU_ASSERT_TRUE(alen == blen && memcmp(a, b, alen) == 0);
            OPENSSL_free(a);
            OPENSSL_free(b);
            a = b = NULL;
            CU_ASSERT_TRUE_FATAL(af_nonce_resp_encode(resp, prof, fmts[f], codec, &a, &alen));
            CU_ASSERT_TRUE_FATAL(af_nonce_resp_decode(&resp2, prof, fmts[f], codec, a, alen));
            CU_ASSERT_EQUAL(af_nonce_resp_get_count(resp2), seed ? 2 : 1);
            CU_ASSERT_TRUE(af_nonce_resp_encode(resp2, prof, fmts[f], codec, &b, &blen));
            CU_ASSERT_TRUE(alen == blen && memcmp(a, b, alen) == 0);
            {
                int64_t s = 0;

                /* seconds survive every encoding; seed JSON/CBOR go through an absolute time */
                CU_ASSERT_TRUE(af_nonce_resp_item_get_expiry_seconds(
                    af_nonce_resp_get0_item(resp2, 0), codec, &s));
                CU_ASSERT_EQUAL(s, 300);
            }
            OPENSSL_free(a);
            OPENSSL_free(b);
            af_nonce_req_free(req2);
            af_nonce_resp_free(resp2);
        }
        af_nonce_req_free(req);
        af_nonce_resp_free(resp);
        af_nonce_codec_free(codec);
        af_nonce_profile_free(prof);
    }
}

/* the same bytes mean different things under different profiles: shape comes from the profile */
static void test_shape_not_guessed(void)
{
    /* 30 05 30 03 02 01 08: draft-08 reads a reqTypeInfo without type, draft-06 a list of
     * {len 8} */
    static const unsigned char b[] = {0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x08};
    AF_NONCE_PROFILE *cur = af_nonce_profile_new("draft-08"),
                     *seed = af_nonce_profile_new("draft-06");
    AF_NONCE_REQ *req = NULL;

    CU_ASSERT_TRUE(fails_with(af_nonce_req_decode(&req, cur, AF_NONCE_FMT_DER, NULL, b, sizeof(b)),
                              AF_R_NONCE_MISSING));
    CU_ASSERT_TRUE_FATAL(af_nonce_req_decode(&req, seed, AF_NONCE_FMT_DER, NULL, b, sizeof(b)));
    CU_ASSERT_EQUAL(af_nonce_req_item_get_len(af_nonce_req_get0_item(req, 0)), 8);
    af_nonce_req_free(req);
    af_nonce_profile_free(cur);
    af_nonce_profile_free(seed);
}

static void test_encoder_checks(void)
{
    AF_NONCE_PROFILE *cur = af_nonce_profile_new("draft-08"),
                     *seed = af_nonce_profile_new("draft-06");
    AF_NONCE_REQ *req = af_nonce_req_new();
    AF_NONCE_RESP *resp = af_nonce_resp_new();
    AF_NONCE_REQ_ITEM *it;
    AF_NONCE_RESP_ITEM *rt;
    unsigned char *out = NULL;
    size_t outlen = 0;
    static const unsigned char utf8[] = {0x0c, 0x01, 'x'}, octets[] = {0x04, 0x01, 0x00};
    unsigned char n[65] = {0};

    /* no items */
    CU_ASSERT_TRUE(fails_with(af_nonce_req_encode(req, cur, AF_NONCE_FMT_DER, NULL, &out, &outlen),
                              AF_R_NONCE_MISSING));
    it = af_nonce_req_add0_item(req);
    /* setters refuse out-of-range values */
    CU_ASSERT_TRUE(fails_with(af_nonce_req_item_set_len(it, 7), AF_R_NONCE_BAD_LEN));
    CU_ASSERT_TRUE(fails_with(af_nonce_req_item_set_len(it, 65), AF_R_NONCE_BAD_LEN));
    CU_ASSERT_TRUE(fails_with(af_nonce_req_item_set1_type(it, "x"), AF_R_BAD_OID));
    CU_ASSERT_TRUE(fails_with(af_nonce_req_item_set1_hint(it, "\xff"), AF_R_NONCE_BAD_TYPE));
    CU_ASSERT_TRUE(
        fails_with(af_nonce_req_item_set1_info(it, AF_NONCE_ANY_DER, utf8, 2), AF_R_NONCE_DECODE));
    CU_ASSERT_TRUE(fails_with(
        af_nonce_req_item_set1_info(it, AF_NONCE_ANY_JSON, (const unsigned char *)"{", 1),
        AF_R_NONCE_DECODE));
    /* info without type */
    CU_ASSERT_TRUE(af_nonce_req_item_set1_info(it, AF_NONCE_ANY_DER, utf8, sizeof(utf8)));
    CU_ASSERT_TRUE(fails_with(af_nonce_req_encode(req, cur, AF_NONCE_FMT_DER, NULL, &out, &outlen),
                              AF_R_NONCE_MISSING));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_type(it, "1.2.3"));
    /* a UTF8String seed value without a hint would read back as the hint */
    CU_ASSERT_TRUE(fails_with(af_nonce_req_encode(req, seed, AF_NONCE_FMT_DER, NULL, &out, &outlen),
                              AF_R_NONCE_SHAPE));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_hint(it, "h"));
    CU_ASSERT_TRUE(af_nonce_req_encode(req, seed, AF_NONCE_FMT_DER, NULL, &out, &outlen));
    OPENSSL_free(out);
    out = NULL;
    /* hint does not exist in the current shape */
    CU_ASSERT_TRUE(fails_with(af_nonce_req_encode(req, cur, AF_NONCE_FMT_JSON, NULL, &out, &outlen),
                              AF_R_NONCE_SHAPE));
    /* an OCTET STRING value with nothing after it would read back as the vendorextension */
    {
        AF_NONCE_PROFILE *sie = af_nonce_profile_new("siemens-ra");

        CU_ASSERT_TRUE(af_nonce_req_item_set1_info(it, AF_NONCE_ANY_DER, octets, sizeof(octets)));
        CU_ASSERT_TRUE(af_nonce_req_encode(req, sie, AF_NONCE_FMT_DER, NULL, &out, &outlen));
        OPENSSL_free(out);
        out = NULL;
        CU_ASSERT_TRUE(af_nonce_req_item_set1_hint(it, NULL));
        CU_ASSERT_TRUE(
            fails_with(af_nonce_req_encode(req, sie, AF_NONCE_FMT_DER, NULL, &out, &outlen),
                       AF_R_NONCE_SHAPE));
        af_nonce_profile_free(sie);
    }
    /* two items in the current shape */
    CU_ASSERT_PTR_NOT_NULL(af_nonce_req_add0_item(req));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_hint(it, NULL));
    CU_ASSERT_TRUE(fails_with(af_nonce_req_encode(req, cur, AF_NONCE_FMT_DER, NULL, &out, &outlen),
                              AF_R_NONCE_SHAPE));

    rt = af_nonce_resp_add0_item(resp);
    CU_ASSERT_TRUE(fails_with(af_nonce_resp_item_set1_nonce(rt, n, 7), AF_R_NONCE_BAD_NONCE));
    CU_ASSERT_TRUE(fails_with(af_nonce_resp_item_set1_nonce(rt, n, 65), AF_R_NONCE_BAD_NONCE));
    CU_ASSERT_TRUE(fails_with(af_nonce_resp_item_set_expiry_seconds(rt, -1), AF_R_NONCE_EXPIRY));
    CU_ASSERT_TRUE(fails_with(af_nonce_resp_item_set1_expiry_time(rt, "2031-02-29T00:00:00Z"),
                              AF_R_NONCE_EXPIRY));
    /* respInfo does not exist in the seed shape */
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_type(rt, "1.2.3"));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_info(rt, AF_NONCE_ANY_DER, utf8, sizeof(utf8)));
    CU_ASSERT_TRUE(
        fails_with(af_nonce_resp_encode(resp, seed, AF_NONCE_FMT_JSON, NULL, &out, &outlen),
                   AF_R_NONCE_SHAPE));
    CU_ASSERT_TRUE(af_nonce_resp_encode(resp, cur, AF_NONCE_FMT_JSON, NULL, &out, &outlen));
    OPENSSL_free(out);
    af_nonce_req_free(req);
    af_nonce_resp_free(resp);
    af_nonce_profile_free(cur);
    af_nonce_profile_free(seed);
}

static int convert_eq(int from, const char *in_hex_or_text, int to, const char *want)
{
    unsigned char *in, *out = NULL, *w;
    size_t inlen = 0, outlen = 0, wlen = 0;
    int ok;

    in = from == AF_NONCE_ANY_JSON ? (unsigned char *)strdup(in_hex_or_text)
                                   : af_test_unhex(in_hex_or_text, &inlen);
    if (from == AF_NONCE_ANY_JSON)
        inlen = strlen(in_hex_or_text);
    w = to == AF_NONCE_ANY_JSON ? (unsigned char *)strdup(want) : af_test_unhex(want, &wlen);
    if (to == AF_NONCE_ANY_JSON)
        wlen = strlen(want);
    ok = in != NULL && w != NULL && af_nonce_any_convert(from, in, inlen, to, &out, &outlen) &&
         outlen == wlen && memcmp(out, w, wlen) == 0;
    if (!ok)
        fprintf(stderr, "convert %d->%d of '%s': got %.*s\n", from, to, in_hex_or_text,
                out != NULL ? (int)outlen : 0, out != NULL ? (char *)out : "");
    ERR_clear_error();
    free(in);
    free(w);
    OPENSSL_free(out);
    return ok;
}

static void test_any_rule(void)
{
    /* DER -> JSON: base64url string; and back, lossless */
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_DER, "3003020105", AF_NONCE_ANY_JSON, "\"MAMCAQU\""));
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_JSON, "\"MAMCAQU\"", AF_NONCE_ANY_DER, "3003020105"));
    /* DER -> CBOR: byte string; and back */
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_DER, "3003020105", AF_NONCE_ANY_CBOR, "453003020105"));
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_CBOR, "453003020105", AF_NONCE_ANY_DER, "3003020105"));
    /* other JSON -> UTF8String of the compact text; other CBOR -> OCTET STRING of the item */
    CU_ASSERT_TRUE(
        convert_eq(AF_NONCE_ANY_JSON, "{ \"a\" : 1 }", AF_NONCE_ANY_DER, "0c077b2261223a317d"));
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_JSON, "\"not base64 !\"", AF_NONCE_ANY_DER,
                              "0c0e226e6f7420626173653634202122"));
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_CBOR, "a1616101", AF_NONCE_ANY_DER, "0404a1616101"));
    /* JSON <-> CBOR data model */
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_JSON, "{\"a\":[1,-2,true,null,\"x\"]}",
                              AF_NONCE_ANY_CBOR, "a16161850121f5f66178"));
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_CBOR, "a16161850121f5f66178", AF_NONCE_ANY_JSON,
                              "{\"a\":[1,-2,true,null,\"x\"]}"));
    CU_ASSERT_TRUE(convert_eq(AF_NONCE_ANY_CBOR, "43010203", AF_NONCE_ANY_JSON, "\"AQID\""));
    /* floats next to simple values (fuzzer finding: libcbor asserts on cbor_is_bool(float)) */
    CU_ASSERT_TRUE(
        convert_eq(AF_NONCE_ANY_CBOR, "83f93e00f5f6", AF_NONCE_ANY_JSON, "[1.5,true,null]"));
    /* a tag has no JSON form */
    {
        unsigned char tag[] = {0xc1, 0x01}, *out = NULL;
        size_t outlen = 0;

        CU_ASSERT_TRUE(fails_with(af_nonce_any_convert(AF_NONCE_ANY_CBOR, tag, sizeof(tag),
                                                       AF_NONCE_ANY_JSON, &out, &outlen),
                                  AF_R_NONCE_BAD_TYPE));
    }
}

static void test_expiry_and_time(void)
{
    AF_NONCE_RESP *resp = af_nonce_resp_new();
    AF_NONCE_RESP_ITEM *rt = af_nonce_resp_add0_item(resp);
    AF_NONCE_CODEC *codec = af_nonce_codec_new();
    int64_t v = 0;

    af_nonce_codec_set_now(codec, 1000);
    CU_ASSERT_FALSE(af_nonce_resp_item_get_expiry_seconds(rt, codec, &v));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_expiry_time(rt, "1970-01-01T00:30:00+00:10"));
    CU_ASSERT_TRUE(af_nonce_resp_item_get_expiry_epoch(rt, codec, &v));
    CU_ASSERT_EQUAL(v, 1200);
    CU_ASSERT_TRUE(af_nonce_resp_item_get_expiry_seconds(rt, codec, &v));
    CU_ASSERT_EQUAL(v, 200);
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_expiry_time(rt, "2024-02-29T23:59:60.123z"));
    CU_ASSERT_TRUE(af_nonce_resp_item_set_expiry_epoch(rt, 1949556050));
    CU_ASSERT_STRING_EQUAL(af_nonce_resp_item_get0_expiry_time(rt), "2031-10-12T07:20:50Z");
    CU_ASSERT_TRUE(fails_with(af_nonce_resp_item_set1_expiry_time(rt, "2031-10-12 07:20:50Z"),
                              AF_R_NONCE_EXPIRY));
    CU_ASSERT_TRUE(fails_with(af_nonce_resp_item_set1_expiry_time(rt, "2031-10-12T07:20:50"),
                              AF_R_NONCE_EXPIRY));
    CU_ASSERT_TRUE(af_nonce_resp_item_set_expiry_seconds(rt, 60));
    CU_ASSERT_TRUE(af_nonce_resp_item_get_expiry_epoch(rt, codec, &v));
    CU_ASSERT_EQUAL(v, 1060);
    CU_ASSERT_PTR_NULL(af_nonce_resp_item_get0_expiry_time(rt));
    af_nonce_codec_free(codec);
    af_nonce_resp_free(resp);
}

static void test_generate(void)
{
    AF_NONCE_RESP *resp = af_nonce_resp_new();
    AF_NONCE_RESP_ITEM *rt = af_nonce_resp_add0_item(resp);
    unsigned char a[32], b[32];
    const unsigned char *n;
    size_t nlen = 0;
    EVP_RAND *r = EVP_RAND_fetch(NULL, "CTR-DRBG", NULL);
    EVP_RAND_CTX *ctx = r != NULL ? EVP_RAND_CTX_new(r, NULL) : NULL;
    OSSL_PARAM params[2];

    CU_ASSERT_TRUE(af_nonce_generate(a, sizeof(a), NULL, NULL));
    CU_ASSERT_TRUE(af_nonce_generate(b, sizeof(b), NULL, NULL));
    CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
    CU_ASSERT_TRUE(fails_with(af_nonce_generate(a, 7, NULL, NULL), AF_R_NONCE_BAD_LEN));
    CU_ASSERT_TRUE(fails_with(af_nonce_resp_item_generate(rt, 65, NULL, NULL), AF_R_NONCE_BAD_LEN));
    /* from an explicit EVP_RAND_CTX (the RA passes the provider's HSM-backed one) */
    CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
    params[0] = OSSL_PARAM_construct_utf8_string("cipher", (char *)"AES-256-CTR", 0);
    params[1] = OSSL_PARAM_construct_end();
    CU_ASSERT_TRUE(EVP_RAND_instantiate(ctx, 0, 0, NULL, 0, params));
    CU_ASSERT_TRUE(af_nonce_resp_item_generate(rt, 48, ctx, NULL));
    af_nonce_resp_item_get0_nonce(rt, &n, &nlen);
    CU_ASSERT_EQUAL(nlen, 48);
    /* an uninstantiated generator fails with a reason */
    {
        EVP_RAND_CTX *bad = EVP_RAND_CTX_new(r, NULL);

        CU_ASSERT_TRUE(fails_with(af_nonce_generate(a, 8, bad, NULL), AF_R_CRYPTO));
        EVP_RAND_CTX_free(bad);
    }
    EVP_RAND_CTX_free(ctx);
    EVP_RAND_free(r);
    af_nonce_resp_free(resp);
}

static void test_dup_and_free(void)
{
    AF_NONCE_REQ *req = af_nonce_req_new(), *d;
    AF_NONCE_RESP *resp = af_nonce_resp_new(), *e;
    AF_NONCE_REQ_ITEM *it = af_nonce_req_add0_item(req);
    AF_NONCE_RESP_ITEM *rt = af_nonce_resp_add0_item(resp);
    static const unsigned char vx[] = {1, 2}, n[8] = {7, 7, 7, 7, 7, 7, 7, 7};
    const unsigned char *p;
    size_t len = 0;
    size_t i;

    CU_ASSERT_TRUE(af_nonce_req_item_set_len(it, 9));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_type(it, "1.2.3"));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_hint(it, "h"));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_vendorext(it, vx, sizeof(vx)));
    d = af_nonce_req_dup(req);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    it = af_nonce_req_get0_item(d, 0);
    CU_ASSERT_EQUAL(af_nonce_req_item_get_len(it), 9);
    CU_ASSERT_STRING_EQUAL(af_nonce_req_item_get0_hint(it), "h");
    CU_ASSERT_TRUE(af_nonce_req_item_get0_vendorext(it, &p, &len) && len == 2 && p[1] == 2);
    CU_ASSERT_PTR_NULL(af_nonce_req_get0_item(d, 1));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_nonce(rt, n, sizeof(n)));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_expiry_time(rt, "2030-01-01T00:00:00Z"));
    e = af_nonce_resp_dup(resp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(af_nonce_resp_item_get0_expiry_time(af_nonce_resp_get0_item(e, 0)),
                           "2030-01-01T00:00:00Z");
    /* lists are bounded */
    for (i = 1; i < AF_NONCE_MAX_ITEMS; i++)
        CU_ASSERT_PTR_NOT_NULL(af_nonce_req_add0_item(req));
    CU_ASSERT_TRUE(fails_with(af_nonce_req_add0_item(req) != NULL, AF_R_TOO_LARGE));
    af_nonce_req_free(req);
    af_nonce_req_free(d);
    af_nonce_resp_free(resp);
    af_nonce_resp_free(e);
    af_nonce_req_free(NULL);
    af_nonce_resp_free(NULL);
    af_nonce_codec_free(NULL);
}

static void test_itav_objects(void)
{
    AF_NONCE_PROFILE *prof = af_nonce_profile_new("rat-e2e");
    AF_NONCE_REQ *req = af_nonce_req_new(), *back = NULL;
    AF_NONCE_CODEC *codec = af_nonce_codec_new();
    OSSL_CMP_ITAV *itav, *bare;
    ASN1_OBJECT *o;
    char buf[64];

    CU_ASSERT_TRUE(af_nonce_req_item_set_len(af_nonce_req_add0_item(req), 32));
    itav = af_nonce_req_to_itav(req, prof, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(itav);
    OBJ_obj2txt(buf, sizeof(buf), OSSL_CMP_ITAV_get0_type(itav), 1);
    CU_ASSERT_STRING_EQUAL(buf, "1.2.840.113549.1.9.16.2.8888");
    CU_ASSERT_TRUE_FATAL(af_nonce_req_from_itav(&back, prof, NULL, itav));
    CU_ASSERT_EQUAL(af_nonce_req_item_get_len(af_nonce_req_get0_item(back, 0)), 32);
    af_nonce_req_free(back);
    back = NULL;
    /* what stock `openssl cmp -infotype` builds: no value */
    o = OBJ_txt2obj("1.2.840.113549.1.9.16.2.8888", 1);
    bare = OSSL_CMP_ITAV_create(o, NULL);
    CU_ASSERT_TRUE(
        fails_with(af_nonce_req_from_itav(&back, prof, codec, bare), AF_R_NONCE_MISSING));
    af_nonce_codec_set_lenient(codec, 1);
    CU_ASSERT_TRUE_FATAL(af_nonce_req_from_itav(&back, prof, codec, bare));
    CU_ASSERT_EQUAL(af_nonce_codec_get_tolerated(codec), AF_NONCE_TOL_ITAV_ABSENT_VALUE);
    CU_ASSERT_EQUAL(af_nonce_req_get_count(back), 1);
    af_nonce_req_free(back);
    OSSL_CMP_ITAV_free(bare);
    OSSL_CMP_ITAV_free(itav);
    af_nonce_codec_free(codec);
    af_nonce_req_free(req);
    af_nonce_profile_free(prof);
}

AF_TEST_MAIN("nonce_model", NULL, NULL, {"wire profiles", test_profiles},
             {"OID overrides one by one", test_oid_overrides},
             {"profiles x encodings x directions", test_profiles_x_encodings},
             {"shape comes from the profile", test_shape_not_guessed},
             {"encoder-side checks", test_encoder_checks},
             {"opaque value conversion rule", test_any_rule},
             {"expiry seconds and RFC 3339", test_expiry_and_time},
             {"nonce generation", test_generate}, {"dup and free", test_dup_and_free},
             {"OSSL_CMP_ITAV helpers", test_itav_objects})
