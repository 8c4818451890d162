/* test_nonce_vectors.c - golden vectors of nonce messages (tests/vectors/nonce): every shape x
 * encoding decodes, re-encodes to the same bytes, and our encoder reproduces the DER built
 * independently with `openssl asn1parse -genconf` (and the hand-built JSON/CBOR) byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/nonce.h"
#include "testutil.h"

#define REQ 0
#define RESP 1

typedef struct {
    const char *file; /* under tests/vectors/nonce; *.cbor.hex are hex text */
    int kind;
    const char *profile;
    af_nonce_format fmt;
    int lenient;
    const char *reencoded;  /* file the re-encoding must equal; NULL = the input itself */
    unsigned int tolerated; /* AF_NONCE_TOL_* bits the lenient decode must report */
} vector;

static const vector vectors[] = {
    {"cur_req_full.der", REQ, "draft-08", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"cur_req_len.der", REQ, "draft-08", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"cur_req_type.der", REQ, "draft-08", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"cur_req_full.itav.der", REQ, "draft-08", AF_NONCE_FMT_ITAV, 0, NULL, 0},
    {"cur_req_empty.itav.der", REQ, "draft-08", AF_NONCE_FMT_ITAV, 0, NULL, 0},
    {"cur_req_novalue.itav.der", REQ, "draft-08", AF_NONCE_FMT_ITAV, 1, "cur_req_empty.itav.der",
     AF_NONCE_TOL_ITAV_ABSENT_VALUE},
    {"cur_req_full.cmc.der", REQ, "draft-08", AF_NONCE_FMT_CMC, 0, NULL, 0},
    {"cur_resp_full.der", RESP, "draft-08", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"cur_resp_empty.der", RESP, "draft-08", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"cur_resp_64.der", RESP, "draft-08", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"cur_resp_full.itav.der", RESP, "draft-08", AF_NONCE_FMT_ITAV, 0, NULL, 0},
    {"cur_resp_full.cmc.der", RESP, "draft-08", AF_NONCE_FMT_CMC, 0, NULL, 0},
    {"rat_req.itav.der", REQ, "rat-e2e", AF_NONCE_FMT_ITAV, 0, NULL, 0},
    {"rat_resp.itav.der", RESP, "rat-e2e", AF_NONCE_FMT_ITAV, 0, NULL, 0},
    {"seed_req_slides.der", REQ, "draft-06", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"seed_req_slides.itav.der", REQ, "draft-06", AF_NONCE_FMT_ITAV, 0, NULL, 0},
    {"seed_req_two.der", REQ, "draft-06", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"seed_req_value.der", REQ, "draft-06", AF_NONCE_FMT_DER, 1, NULL, AF_NONCE_TOL_VALUE},
    {"seed_resp_slides.der", RESP, "draft-06", AF_NONCE_FMT_DER, 0, NULL, 0},
    {"siemens_req.itav.der", REQ, "siemens-ra", AF_NONCE_FMT_ITAV, 0, NULL, 0},
    {"siemens_resp.itav.der", RESP, "siemens-ra", AF_NONCE_FMT_ITAV, 0, NULL, 0},
    {"cur_req_full.json", REQ, "draft-08", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"cur_req_empty.json", REQ, "draft-08", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"cur_req_len.json", REQ, "rat-e2e", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"cur_resp_full.json", RESP, "draft-08", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"cur_resp_empty.json", RESP, "draft-08", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"seed_req_slides.json", REQ, "draft-06", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"seed_req_two.json", REQ, "draft-06", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"seed_req_value.json", REQ, "draft-06", AF_NONCE_FMT_JSON, 1, NULL, AF_NONCE_TOL_VALUE},
    {"seed_resp_slides.json", RESP, "draft-06", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"siemens_req.json", REQ, "siemens-ra", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"siemens_resp.json", RESP, "siemens-ra", AF_NONCE_FMT_JSON, 0, NULL, 0},
    {"cur_req_full.cbor.hex", REQ, "draft-08", AF_NONCE_FMT_CBOR, 0, NULL, 0},
    {"cur_req_empty.cbor.hex", REQ, "draft-08", AF_NONCE_FMT_CBOR, 0, NULL, 0},
    {"cur_req_len.cbor.hex", REQ, "rat-e2e", AF_NONCE_FMT_CBOR, 0, NULL, 0},
    {"cur_resp_full.cbor.hex", RESP, "draft-08", AF_NONCE_FMT_CBOR, 0, NULL, 0},
    {"cur_resp_empty.cbor.hex", RESP, "draft-08", AF_NONCE_FMT_CBOR, 0, NULL, 0},
    {"seed_req_slides.cbor.hex", REQ, "draft-06", AF_NONCE_FMT_CBOR, 0, NULL, 0},
    {"seed_resp_slides.cbor.hex", RESP, "draft-06", AF_NONCE_FMT_CBOR, 0, NULL, 0},
    {"siemens_resp.cbor.hex", RESP, "siemens-ra", AF_NONCE_FMT_CBOR, 0, NULL, 0},
};

static unsigned char *load(const char *name, size_t *len)
{
    char rel[256];
    unsigned char *raw, *bin;
    size_t n = 0;

    snprintf(rel, sizeof(rel), "tests/vectors/nonce/%s", name);
    raw = af_test_read_file(af_test_src_path(rel), &n);
    if (raw == NULL) {
        fprintf(stderr, "cannot read %s\n", af_test_src_path(rel));
        return NULL;
    }
    if (strstr(name, ".hex") == NULL) {
        *len = n;
        return raw;
    }
    bin = af_test_unhex((const char *)raw, len);
    free(raw);
    return bin;
}

static void print_error(const char *what)
{
    char line[512];

    fprintf(stderr, "%s: %s\n", what, af_err_line(line, sizeof(line)));
}

static int same(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static void test_roundtrip_all(void)
{
    size_t i;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const vector *v = &vectors[i];
        AF_NONCE_PROFILE *prof = af_nonce_profile_new(v->profile);
        AF_NONCE_CODEC *codec = af_nonce_codec_new();
        unsigned char *in = NULL, *want = NULL, *out = NULL;
        size_t inlen = 0, wantlen = 0, outlen = 0;
        AF_NONCE_REQ *req = NULL;
        AF_NONCE_RESP *resp = NULL;
        int ok;

        CU_ASSERT_PTR_NOT_NULL_FATAL(prof);
        CU_ASSERT_PTR_NOT_NULL_FATAL(codec);
        in = load(v->file, &inlen);
        want = v->reencoded != NULL ? load(v->reencoded, &wantlen) : NULL;
        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        af_nonce_codec_set_lenient(codec, v->lenient);
        ok = v->kind == REQ ? af_nonce_req_decode(&req, prof, v->fmt, codec, in, inlen)
                            : af_nonce_resp_decode(&resp, prof, v->fmt, codec, in, inlen);
        if (!ok)
            print_error(v->file);
        CU_ASSERT_TRUE(ok);
        CU_ASSERT_EQUAL(af_nonce_codec_get_tolerated(codec), v->tolerated);
        if (ok) {
            /* a CMC re-encoding carries the bodyPartID that was read */
            if (v->fmt == AF_NONCE_FMT_CMC)
                CU_ASSERT_TRUE(
                    af_nonce_codec_set_body_part_id(codec, af_nonce_codec_get_body_part_id(codec)));
            ok = v->kind == REQ ? af_nonce_req_encode(req, prof, v->fmt, codec, &out, &outlen)
                                : af_nonce_resp_encode(resp, prof, v->fmt, codec, &out, &outlen);
            if (!ok)
                print_error(v->file);
            CU_ASSERT_TRUE(ok);
            if (ok && !same(out, outlen, want != NULL ? want : in, want != NULL ? wantlen : inlen))
                fprintf(stderr, "%s: re-encoding differs\n", v->file);
            CU_ASSERT_TRUE(
                ok && same(out, outlen, want != NULL ? want : in, want != NULL ? wantlen : inlen));
        }
        if (v->lenient) {
            /* the same bytes fail strictly, with a reason */
            AF_NONCE_REQ *r2 = NULL;
            AF_NONCE_RESP *s2 = NULL;

            ok = v->kind == REQ ? af_nonce_req_decode(&r2, prof, v->fmt, NULL, in, inlen)
                                : af_nonce_resp_decode(&s2, prof, v->fmt, NULL, in, inlen);
            CU_ASSERT_FALSE(ok);
            CU_ASSERT_NOT_EQUAL(ERR_peek_error(), 0);
            ERR_clear_error();
        }
        OPENSSL_free(out);
        free(in);
        free(want);
        af_nonce_req_free(req);
        af_nonce_resp_free(resp);
        af_nonce_codec_free(codec);
        af_nonce_profile_free(prof);
    }
}

/* ---- our encoder against the independent vectors ----------------------------------------------
 */

static const unsigned char nonce32[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                          11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                          22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const unsigned char nonce8[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static void expect_encoding(const AF_NONCE_REQ *req, const AF_NONCE_RESP *resp, const char *profile,
                            af_nonce_format fmt, AF_NONCE_CODEC *codec, const char *file)
{
    AF_NONCE_PROFILE *prof = af_nonce_profile_new(profile);
    unsigned char *out = NULL, *want;
    size_t outlen = 0, wantlen = 0;
    int ok;

    CU_ASSERT_PTR_NOT_NULL_FATAL(prof);
    want = load(file, &wantlen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    ok = req != NULL ? af_nonce_req_encode(req, prof, fmt, codec, &out, &outlen)
                     : af_nonce_resp_encode(resp, prof, fmt, codec, &out, &outlen);
    if (!ok)
        print_error(file);
    CU_ASSERT_TRUE(ok);
    if (ok && !same(out, outlen, want, wantlen))
        fprintf(stderr, "%s: our encoding differs\n", file);
    CU_ASSERT_TRUE(ok && same(out, outlen, want, wantlen));
    OPENSSL_free(out);
    free(want);
    af_nonce_profile_free(prof);
}

static void test_encoder_current(void)
{
    static const unsigned char info[] = {0x30, 0x06, 0x02, 0x01, 0x00, 0x04, 0x01, 0x07};
    static const char jinfo[] = "{\"pcrs\": [0,1,2,3,4,5,6,7], \"hash\": \"sha256\"}";
    static const unsigned char cinfo[] = {0xa1, 0x64, 'p', 'c', 'r', 's', 0x83, 0, 1, 2};
    static const unsigned char rinfo[] = {0x0c, 0x07, 'p', 'c', 'r', '-', '0', '-', '7'};
    AF_NONCE_REQ *req = af_nonce_req_new();
    AF_NONCE_RESP *resp = af_nonce_resp_new();
    AF_NONCE_REQ_ITEM *it = af_nonce_req_add0_item(req);
    AF_NONCE_RESP_ITEM *rt = af_nonce_resp_add0_item(resp);
    AF_NONCE_CODEC *codec = af_nonce_codec_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(it);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    CU_ASSERT_TRUE(af_nonce_req_item_set_len(it, 32));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_type(it, "1.2.3.4.5"));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_info(it, AF_NONCE_ANY_DER, info, sizeof(info)));
    expect_encoding(req, NULL, "draft-08", AF_NONCE_FMT_DER, NULL, "cur_req_full.der");
    expect_encoding(req, NULL, "draft-08", AF_NONCE_FMT_ITAV, NULL, "cur_req_full.itav.der");
    CU_ASSERT_TRUE(af_nonce_codec_set_body_part_id(codec, 103));
    expect_encoding(req, NULL, "draft-08", AF_NONCE_FMT_CMC, codec, "cur_req_full.cmc.der");
    CU_ASSERT_TRUE(af_nonce_req_item_set1_info(it, AF_NONCE_ANY_JSON, (const unsigned char *)jinfo,
                                               strlen(jinfo)));
    expect_encoding(req, NULL, "draft-08", AF_NONCE_FMT_JSON, NULL, "cur_req_full.json");
    CU_ASSERT_TRUE(af_nonce_req_item_set1_info(it, AF_NONCE_ANY_CBOR, cinfo, sizeof(cinfo)));
    expect_encoding(req, NULL, "draft-08", AF_NONCE_FMT_CBOR, NULL, "cur_req_full.cbor.hex");

    CU_ASSERT_TRUE(af_nonce_resp_item_set1_nonce(rt, nonce32, sizeof(nonce32)));
    CU_ASSERT_TRUE(af_nonce_resp_item_set_expiry_seconds(rt, 600));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_type(rt, "1.2.3.4.5"));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_info(rt, AF_NONCE_ANY_DER, rinfo, sizeof(rinfo)));
    expect_encoding(NULL, resp, "draft-08", AF_NONCE_FMT_DER, NULL, "cur_resp_full.der");
    expect_encoding(NULL, resp, "draft-08", AF_NONCE_FMT_ITAV, NULL, "cur_resp_full.itav.der");
    CU_ASSERT_TRUE(af_nonce_codec_set_body_part_id(codec, 104));
    expect_encoding(NULL, resp, "draft-08", AF_NONCE_FMT_CMC, codec, "cur_resp_full.cmc.der");
    /* the JSON string "pcr-0-7" as respInfo: JSON -> DER is a UTF8String of the JSON text, so
     * set it in JSON form for the JSON/CBOR vectors */
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_info(rt, AF_NONCE_ANY_JSON,
                                                (const unsigned char *)"\"pcr-0-7\"", 9));
    expect_encoding(NULL, resp, "draft-08", AF_NONCE_FMT_JSON, NULL, "cur_resp_full.json");
    expect_encoding(NULL, resp, "draft-08", AF_NONCE_FMT_CBOR, NULL, "cur_resp_full.cbor.hex");

    af_nonce_codec_free(codec);
    af_nonce_req_free(req);
    af_nonce_resp_free(resp);
}

static void test_encoder_seed(void)
{
    static const unsigned char vx[] = {0xca, 0xfe};
    AF_NONCE_REQ *req = af_nonce_req_new();
    AF_NONCE_RESP *resp = af_nonce_resp_new();
    AF_NONCE_REQ_ITEM *it = af_nonce_req_add0_item(req);
    AF_NONCE_RESP_ITEM *rt = af_nonce_resp_add0_item(resp);
    AF_NONCE_CODEC *codec = af_nonce_codec_new();

    CU_ASSERT_PTR_NOT_NULL_FATAL(it);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    /* the seed slides' EST example */
    CU_ASSERT_TRUE(af_nonce_req_item_set_len(it, 8));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_type(it, "1.2.3.4.5"));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_hint(it, "https://example.com"));
    expect_encoding(req, NULL, "draft-06", AF_NONCE_FMT_DER, NULL, "seed_req_slides.der");
    expect_encoding(req, NULL, "draft-06", AF_NONCE_FMT_ITAV, NULL, "seed_req_slides.itav.der");
    expect_encoding(req, NULL, "draft-06", AF_NONCE_FMT_JSON, NULL, "seed_req_slides.json");
    expect_encoding(req, NULL, "draft-06", AF_NONCE_FMT_CBOR, NULL, "seed_req_slides.cbor.hex");

    /* its response: RFC 3339 expiry in JSON/CBOR, seconds in DER (time base fixed) */
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_nonce(rt, nonce8, sizeof(nonce8)));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_expiry_time(rt, "2031-10-12T07:20:50.52Z"));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_type(rt, "1.2.3.4.5"));
    CU_ASSERT_TRUE(af_nonce_resp_item_set1_hint(rt, "https://example.com"));
    expect_encoding(NULL, resp, "draft-06", AF_NONCE_FMT_JSON, NULL, "seed_resp_slides.json");
    expect_encoding(NULL, resp, "draft-06", AF_NONCE_FMT_CBOR, NULL, "seed_resp_slides.cbor.hex");
    af_nonce_codec_set_now(codec, 1949556050 - 600);
    expect_encoding(NULL, resp, "draft-06", AF_NONCE_FMT_DER, codec, "seed_resp_slides.der");

    /* siemens-ra with vendorextension */
    CU_ASSERT_TRUE(af_nonce_req_item_set_len(it, 32));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_hint(it, NULL));
    CU_ASSERT_TRUE(af_nonce_req_item_set1_vendorext(it, vx, sizeof(vx)));
    expect_encoding(req, NULL, "siemens-ra", AF_NONCE_FMT_ITAV, NULL, "siemens_req.itav.der");
    expect_encoding(req, NULL, "siemens-ra", AF_NONCE_FMT_JSON, NULL, "siemens_req.json");

    af_nonce_codec_free(codec);
    af_nonce_req_free(req);
    af_nonce_resp_free(resp);
}

/* decoded fields of the draft and slides examples, not only their bytes */
static void test_fields(void)
{
    AF_NONCE_PROFILE *prof = af_nonce_profile_new("draft-06");
    AF_NONCE_RESP *resp = NULL;
    AF_NONCE_REQ *req = NULL;
    const AF_NONCE_RESP_ITEM *rt;
    const AF_NONCE_REQ_ITEM *it;
    const unsigned char *n;
    size_t nlen = 0;
    int64_t epoch = 0;
    unsigned char *in;
    size_t inlen = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(prof);
    in = load("seed_resp_slides.json", &inlen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_TRUE_FATAL(af_nonce_resp_decode(&resp, prof, AF_NONCE_FMT_JSON, NULL, in, inlen));
    free(in);
    CU_ASSERT_EQUAL(af_nonce_resp_get_count(resp), 1);
    rt = af_nonce_resp_get0_item(resp, 0);
    af_nonce_resp_item_get0_nonce(rt, &n, &nlen);
    CU_ASSERT_TRUE(nlen == 8 && memcmp(n, nonce8, 8) == 0);
    CU_ASSERT_EQUAL(af_nonce_resp_item_get_expiry_kind(rt), AF_NONCE_EXPIRY_TIME);
    CU_ASSERT_TRUE(af_nonce_resp_item_get_expiry_epoch(rt, NULL, &epoch));
    CU_ASSERT_EQUAL(epoch, 1949556050); /* 2031-10-12T07:20:50Z */
    CU_ASSERT_STRING_EQUAL(af_nonce_resp_item_get0_hint(rt), "https://example.com");
    CU_ASSERT_STRING_EQUAL(af_nonce_resp_item_get0_type(rt), "1.2.3.4.5");
    af_nonce_resp_free(resp);

    in = load("seed_req_two.der", &inlen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_TRUE_FATAL(af_nonce_req_decode(&req, prof, AF_NONCE_FMT_DER, NULL, in, inlen));
    free(in);
    CU_ASSERT_EQUAL(af_nonce_req_get_count(req), 2);
    it = af_nonce_req_get0_item(req, 0);
    CU_ASSERT_EQUAL(af_nonce_req_item_get_len(it), 32);
    CU_ASSERT_PTR_NULL(af_nonce_req_item_get0_hint(it));
    it = af_nonce_req_get0_item(req, 1);
    CU_ASSERT_EQUAL(af_nonce_req_item_get_len(it), 0);
    CU_ASSERT_PTR_NULL(af_nonce_req_item_get0_type(it));
    CU_ASSERT_STRING_EQUAL(af_nonce_req_item_get0_hint(it), "https://verifier.example");
    af_nonce_req_free(req);
    af_nonce_profile_free(prof);
}

AF_TEST_MAIN("nonce_vectors", NULL, NULL, {"roundtrip every vector", test_roundtrip_all},
             {"encoder = independent DER/JSON/CBOR, current shape", test_encoder_current},
             {"encoder = independent DER/JSON/CBOR, seed shape", test_encoder_seed},
             {"decoded fields of the examples", test_fields})
