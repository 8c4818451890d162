/* test_nonce_malformed.c - malformed nonce messages across DER, the CMP/CMC wrappers, JSON and
 * CBOR: each one is rejected with its specific reason code (and lenient mode accepts exactly the
 * tolerated ones, saying so). */
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
    const char *name;
    int kind;
    const char *profile;
    af_nonce_format fmt;
    const char *input; /* hex for DER/ITAV/CMC/CBOR, text for JSON */
    int reason;
} bad;

/* a NonceResponse nonce of n bytes: "04 n 00.."; built at run time where long */
static const bad cases[] = {
    /* ---- DER, current shape ---- */
    {"der truncated", REQ, "draft-08", AF_NONCE_FMT_DER, "3005020120", AF_R_NONCE_DECODE},
    {"der truncated header", REQ, "draft-08", AF_NONCE_FMT_DER, "30", AF_R_NONCE_DECODE},
    {"der trailing byte", REQ, "draft-08", AF_NONCE_FMT_DER, "300000", AF_R_NONCE_TRAILING},
    {"der indefinite length", REQ, "draft-08", AF_NONCE_FMT_DER, "30800000", AF_R_NONCE_NOT_DER},
    {"der long-form short length", REQ, "draft-08", AF_NONCE_FMT_DER, "3081030201 20",
     AF_R_NONCE_NOT_DER},
    {"der padded INTEGER", REQ, "draft-08", AF_NONCE_FMT_DER, "3004020200 20", AF_R_NONCE_NOT_DER},
    {"der len 0", REQ, "draft-08", AF_NONCE_FMT_DER, "3003020100", AF_R_NONCE_BAD_LEN},
    {"der len 7", REQ, "draft-08", AF_NONCE_FMT_DER, "3003020107", AF_R_NONCE_BAD_LEN},
    {"der len 65", REQ, "draft-08", AF_NONCE_FMT_DER, "3003020141", AF_R_NONCE_BAD_LEN},
    {"der len -1", REQ, "draft-08", AF_NONCE_FMT_DER, "30030201ff", AF_R_NONCE_BAD_LEN},
    {"der len huge", REQ, "draft-08", AF_NONCE_FMT_DER, "300b0209010000000000000000",
     AF_R_NONCE_BAD_LEN},
    {"der len as OCTET STRING", REQ, "draft-08", AF_NONCE_FMT_DER, "3003040120",
     AF_R_NONCE_BAD_TYPE},
    {"der SET instead of SEQUENCE", REQ, "draft-08", AF_NONCE_FMT_DER, "3100", AF_R_NONCE_BAD_TYPE},
    {"der reqTypeInfo without type", REQ, "draft-08", AF_NONCE_FMT_DER, "3005300302 0105",
     AF_R_NONCE_MISSING},
    {"der non-DER BOOLEAN in reqInfo", REQ, "draft-08", AF_NONCE_FMT_DER,
     "300b3009 06042a030405 010101", AF_R_NONCE_NOT_DER},
    {"der empty input", REQ, "draft-08", AF_NONCE_FMT_DER, "", AF_R_NONCE_DECODE},
    {"der nonce 7 bytes", RESP, "draft-08", AF_NONCE_FMT_DER, "3009 0407 01020304050607",
     AF_R_NONCE_BAD_NONCE},
    {"der negative expiry", RESP, "draft-08", AF_NONCE_FMT_DER, "300d 0408 0102030405060708 0201ff",
     AF_R_NONCE_EXPIRY},
    {"der constructed OCTET STRING nonce", RESP, "draft-08", AF_NONCE_FMT_DER,
     "300c 240a 0408 0102030405060708", AF_R_NONCE_NOT_DER},
    {"der response without nonce", RESP, "draft-08", AF_NONCE_FMT_DER, "3003020105",
     AF_R_NONCE_BAD_TYPE},
    {"der respTypeInfo without type", RESP, "draft-08", AF_NONCE_FMT_DER, "3006 0400 30020500",
     AF_R_NONCE_MISSING},
    /* ---- wrappers ---- */
    {"itav wrong infoType", REQ, "draft-08", AF_NONCE_FMT_ITAV, "3007 06032a0304 3000",
     AF_R_NONCE_SHAPE},
    {"itav value not a SEQUENCE", REQ, "draft-08", AF_NONCE_FMT_ITAV,
     "300d 06082b06010505070462 040100", AF_R_NONCE_BAD_TYPE},
    {"itav without value (strict)", REQ, "draft-08", AF_NONCE_FMT_ITAV, "300a 06082b06010505070462",
     AF_R_NONCE_MISSING},
    {"itav response without value", RESP, "draft-08", AF_NONCE_FMT_ITAV,
     "300a 06082b06010505070463", AF_R_NONCE_MISSING},
    {"itav trailing bytes", REQ, "draft-08", AF_NONCE_FMT_ITAV, "300c 06082b06010505070462 3000 00",
     AF_R_NONCE_TRAILING},
    {"cmc two values", REQ, "draft-08", AF_NONCE_FMT_CMC,
     "3013 020101 06082b06010505070762 3104 3000 3000", AF_R_NONCE_SHAPE},
    {"cmc no value", REQ, "draft-08", AF_NONCE_FMT_CMC, "300f 020101 06082b06010505070762 3100",
     AF_R_NONCE_MISSING},
    {"cmc wrong control", REQ, "draft-08", AF_NONCE_FMT_CMC,
     "3011 020101 06082b06010505070763 31023000", AF_R_NONCE_SHAPE},
    {"cmc negative bodyPartID", REQ, "draft-08", AF_NONCE_FMT_CMC,
     "3011 0201ff 06082b06010505070762 31023000", AF_R_NONCE_BAD_TYPE},
    /* ---- DER, seed shape ---- */
    {"seed empty list", REQ, "draft-06", AF_NONCE_FMT_DER, "3000", AF_R_NONCE_MISSING},
    {"seed item not a SEQUENCE", REQ, "draft-06", AF_NONCE_FMT_DER, "3003020108",
     AF_R_NONCE_BAD_TYPE},
    {"seed value without type", REQ, "draft-06", AF_NONCE_FMT_DER, "3007 3005 020108 0500",
     AF_R_NONCE_BAD_TYPE},
    {"seed value strict", REQ, "draft-06", AF_NONCE_FMT_DER, "300b 3009 06042a030405 020101",
     AF_R_NONCE_UNKNOWN},
    {"seed vendorextension outside siemens-ra", REQ, "draft-06", AF_NONCE_FMT_DER,
     "3006 3004 0402cafe", AF_R_NONCE_UNKNOWN},
    {"seed len 65", REQ, "draft-06", AF_NONCE_FMT_DER, "3005 3003 020141", AF_R_NONCE_BAD_LEN},
    {"seed response nonce 7 bytes", RESP, "draft-06", AF_NONCE_FMT_DER,
     "300b 3009 0407 01020304050607", AF_R_NONCE_BAD_NONCE},
    {"seed response without nonce", RESP, "draft-06", AF_NONCE_FMT_DER, "3005 3003 020108",
     AF_R_NONCE_BAD_TYPE},
    {"seed hint not UTF-8", REQ, "draft-06", AF_NONCE_FMT_DER, "3004 3002 0c ff",
     AF_R_NONCE_DECODE},
    {"seed hint invalid UTF-8", REQ, "draft-06", AF_NONCE_FMT_DER, "3005 3003 0c01ff",
     AF_R_NONCE_BAD_TYPE},
    /* ---- JSON ---- */
    {"json duplicate key", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":8,\"len\":8}",
     AF_R_NONCE_DUPLICATE},
    {"json trailing garbage", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":8} x",
     AF_R_NONCE_TRAILING},
    {"json truncated", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":8", AF_R_NONCE_DECODE},
    {"json not JSON", REQ, "draft-08", AF_NONCE_FMT_JSON, "hello", AF_R_NONCE_DECODE},
    {"json len string", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":\"8\"}", AF_R_NONCE_BAD_TYPE},
    {"json len real", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":8.0}", AF_R_NONCE_BAD_TYPE},
    {"json len 0", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":0}", AF_R_NONCE_BAD_LEN},
    {"json len 7", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":7}", AF_R_NONCE_BAD_LEN},
    {"json len 65", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":65}", AF_R_NONCE_BAD_LEN},
    {"json len -1", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":-1}", AF_R_NONCE_BAD_LEN},
    {"json len huge", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":4294967296}",
     AF_R_NONCE_BAD_LEN},
    {"json unknown member", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":8,\"foo\":1}",
     AF_R_NONCE_UNKNOWN},
    {"json reqInfo without type", REQ, "draft-08", AF_NONCE_FMT_JSON,
     "{\"reqTypeInfo\":{\"reqInfo\":1}}", AF_R_NONCE_MISSING},
    {"json type not an OID", REQ, "draft-08", AF_NONCE_FMT_JSON,
     "{\"reqTypeInfo\":{\"type\":\"abc\"}}", AF_R_BAD_OID},
    {"json reqTypeInfo not an object", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"reqTypeInfo\":[]}",
     AF_R_NONCE_BAD_TYPE},
    {"json array in current profile", REQ, "draft-08", AF_NONCE_FMT_JSON, "[{\"len\":8}]",
     AF_R_NONCE_BAD_TYPE},
    {"json deep nesting", REQ, "draft-08", AF_NONCE_FMT_JSON, NULL /* built */, AF_R_NONCE_DEPTH},
    {"json invalid UTF-8", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":8,\"\xff\":1}",
     AF_R_NONCE_DECODE},
    {"json nonce bad base64", RESP, "draft-08", AF_NONCE_FMT_JSON, "{\"nonce\":\"!!!!!!!!!!!\"}",
     AF_R_NONCE_BAD_NONCE},
    {"json nonce padded (strict)", RESP, "draft-08", AF_NONCE_FMT_JSON,
     "{\"nonce\":\"AQIDBAUGBwg=\"}", AF_R_NONCE_BAD_NONCE},
    {"json nonce 7 bytes", RESP, "draft-08", AF_NONCE_FMT_JSON, "{\"nonce\":\"AQIDBAUGBw\"}",
     AF_R_NONCE_BAD_NONCE},
    {"json nonce 65 bytes", RESP, "draft-08", AF_NONCE_FMT_JSON,
     "{\"nonce\":"
     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
     AF_R_NONCE_BAD_NONCE},
    {"json nonce non-zero pad bits", RESP, "draft-08", AF_NONCE_FMT_JSON,
     "{\"nonce\":\"AQIDBAUGBwh\"}", AF_R_NONCE_BAD_NONCE},
    {"json nonce missing", RESP, "draft-08", AF_NONCE_FMT_JSON, "{\"expiry\":5}",
     AF_R_NONCE_MISSING},
    {"json nonce number", RESP, "draft-08", AF_NONCE_FMT_JSON, "{\"nonce\":5}",
     AF_R_NONCE_BAD_TYPE},
    {"json expiry -1", RESP, "draft-08", AF_NONCE_FMT_JSON, "{\"nonce\":\"\",\"expiry\":-1}",
     AF_R_NONCE_EXPIRY},
    {"json seed empty list", REQ, "draft-06", AF_NONCE_FMT_JSON, "[]", AF_R_NONCE_MISSING},
    {"json seed object not list", REQ, "draft-06", AF_NONCE_FMT_JSON, "{\"len\":8}",
     AF_R_NONCE_BAD_TYPE},
    {"json seed value (strict)", REQ, "draft-06", AF_NONCE_FMT_JSON,
     "[{\"type\":\"1.2.3\",\"value\":1}]", AF_R_NONCE_UNKNOWN},
    {"json seed value without type", REQ, "draft-06", AF_NONCE_FMT_JSON, "[{\"value\":1}]",
     AF_R_NONCE_UNKNOWN},
    {"json seed expiry not RFC 3339", RESP, "draft-06", AF_NONCE_FMT_JSON,
     "[{\"nonce\":\"AQIDBAUGBwg=\",\"expiry\":\"2031-13-12T07:20:50Z\"}]", AF_R_NONCE_EXPIRY},
    {"json seed expiry seconds (strict)", RESP, "draft-06", AF_NONCE_FMT_JSON,
     "[{\"nonce\":\"AQIDBAUGBwg=\",\"expiry\":600}]", AF_R_NONCE_EXPIRY},
    {"json seed nonce unpadded (strict)", RESP, "draft-06", AF_NONCE_FMT_JSON,
     "[{\"nonce\":\"AQIDBAUGBwg\"}]", AF_R_NONCE_BAD_NONCE},
    {"json seed vendorextension bad base64", REQ, "siemens-ra", AF_NONCE_FMT_JSON,
     "[{\"vendorextension\":\"*\"}]", AF_R_NONCE_BAD_TYPE},
    /* ---- CBOR ---- */
    {"cbor truncated", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a1636c65", AF_R_NONCE_DECODE},
    {"cbor trailing byte", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a000", AF_R_NONCE_TRAILING},
    {"cbor indefinite map", REQ, "draft-08", AF_NONCE_FMT_CBOR, "bfff", AF_R_NONCE_NONCANONICAL},
    {"cbor non-minimal int", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a1636c656e1808",
     AF_R_NONCE_NONCANONICAL},
    {"cbor non-minimal int16", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a1636c656e190008",
     AF_R_NONCE_NONCANONICAL},
    {"cbor duplicate key", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a2636c656e08636c656e08",
     AF_R_NONCE_DUPLICATE},
    {"cbor len 7", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a1636c656e07", AF_R_NONCE_BAD_LEN},
    {"cbor len -1", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a1636c656e20", AF_R_NONCE_BAD_LEN},
    {"cbor len huge", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a1636c656e1b0000000100000000",
     AF_R_NONCE_BAD_LEN},
    {"cbor len text", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a1636c656e6138", AF_R_NONCE_BAD_TYPE},
    {"cbor non-text key", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a10102", AF_R_NONCE_BAD_TYPE},
    {"cbor unknown member", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a163666f6f01", AF_R_NONCE_UNKNOWN},
    {"cbor huge declared array", REQ, "draft-08", AF_NONCE_FMT_CBOR, "9b00000000ffffffff",
     AF_R_NONCE_DECODE},
    {"cbor deep nesting", REQ, "draft-08", AF_NONCE_FMT_CBOR, NULL /* built */, AF_R_NONCE_DEPTH},
    {"cbor nonce 7 bytes", RESP, "draft-08", AF_NONCE_FMT_CBOR, "a1656e6f6e63654701020304050607",
     AF_R_NONCE_BAD_NONCE},
    {"cbor nonce as text", RESP, "draft-08", AF_NONCE_FMT_CBOR, "a1656e6f6e63656141",
     AF_R_NONCE_BAD_NONCE},
    {"cbor seed empty list", REQ, "draft-06", AF_NONCE_FMT_CBOR, "80", AF_R_NONCE_MISSING},
    {"cbor reqTypeInfo without type", REQ, "draft-08", AF_NONCE_FMT_CBOR,
     "a16b72657154797065496e666fa0", AF_R_NONCE_MISSING},
};

static int reason_of_error(void)
{
    unsigned long e = ERR_peek_error();

    if (e == 0 || ERR_GET_LIB(e) != af_err_lib())
        return -1;
    return ERR_GET_REASON(e);
}

static unsigned char *build_input(const bad *b, size_t *len)
{
    unsigned char *buf;
    size_t i, n = 0;

    if (b->input != NULL) {
        if (b->fmt == AF_NONCE_FMT_JSON) {
            *len = strlen(b->input);
            return (unsigned char *)strdup(b->input);
        }
        return af_test_unhex(b->input, len);
    }
    /* nesting 40 levels deep inside the opaque reqInfo */
    if ((buf = malloc(512)) == NULL)
        return NULL;
    if (b->fmt == AF_NONCE_FMT_JSON) {
        n = (size_t)sprintf((char *)buf, "{\"reqTypeInfo\":{\"type\":\"1.2.3\",\"reqInfo\":");
        for (i = 0; i < 40; i++)
            buf[n++] = '[';
        for (i = 0; i < 40; i++)
            buf[n++] = ']';
        buf[n++] = '}';
        buf[n++] = '}';
    } else {
        for (i = 0; i < 40; i++)
            buf[n++] = 0x81;
        buf[n++] = 0x00;
    }
    *len = n;
    return buf;
}

static void test_malformed(void)
{
    size_t i, count = 0;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bad *b = &cases[i];
        AF_NONCE_PROFILE *prof = af_nonce_profile_new(b->profile);
        AF_NONCE_REQ *req = NULL;
        AF_NONCE_RESP *resp = NULL;
        unsigned char *in;
        size_t inlen = 0;
        int ok, reason;

        CU_ASSERT_PTR_NOT_NULL_FATAL(prof);
        in = build_input(b, &inlen);
        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        ERR_clear_error();
        ok = b->kind == REQ ? af_nonce_req_decode(&req, prof, b->fmt, NULL, in, inlen)
                            : af_nonce_resp_decode(&resp, prof, b->fmt, NULL, in, inlen);
        reason = reason_of_error();
        if (ok || reason != b->reason) {
            char line[512];

            fprintf(stderr, "case '%s': ok=%d reason=%d, want %d (%s)\n", b->name, ok, reason,
                    b->reason, af_err_line(line, sizeof(line)));
        }
        CU_ASSERT_FALSE(ok);
        CU_ASSERT_EQUAL(reason, b->reason);
        CU_ASSERT_PTR_NULL(req);
        CU_ASSERT_PTR_NULL(resp);
        ERR_clear_error();
        free(in);
        af_nonce_profile_free(prof);
        count++;
    }
    CU_ASSERT_TRUE(count >= 40);
}

static void test_oversize(void)
{
    AF_NONCE_PROFILE *prof = af_nonce_profile_new(NULL);
    size_t n = AF_NONCE_MAX_INPUT + 1;
    unsigned char *big = calloc(1, n);
    AF_NONCE_REQ *req = NULL;
    af_nonce_format f[] = {AF_NONCE_FMT_DER, AF_NONCE_FMT_JSON, AF_NONCE_FMT_CBOR};
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    big[0] = '{';
    for (i = 0; i < 3; i++) {
        CU_ASSERT_FALSE(af_nonce_req_decode(&req, prof, f[i], NULL, big, n));
        CU_ASSERT_EQUAL(reason_of_error(), AF_R_TOO_LARGE);
        ERR_clear_error();
    }
    free(big);
    af_nonce_profile_free(prof);
}

/* lenient mode accepts each deployed-peer quirk and reports exactly that one */
typedef struct {
    const char *name;
    int kind;
    const char *profile;
    af_nonce_format fmt;
    const char *input;
    unsigned int tolerated;
} quirk;

static const quirk quirks[] = {
    {"absent infoValue", REQ, "draft-08", AF_NONCE_FMT_ITAV, "300a06082b06010505070462",
     AF_NONCE_TOL_ITAV_ABSENT_VALUE},
    {"padded base64url nonce", RESP, "draft-08", AF_NONCE_FMT_JSON, "{\"nonce\":\"AQIDBAUGBwg=\"}",
     AF_NONCE_TOL_BASE64_FORM},
    {"standard alphabet nonce", RESP, "draft-08", AF_NONCE_FMT_JSON, "{\"nonce\":\"+/+/+/+/+/8\"}",
     AF_NONCE_TOL_BASE64_FORM},
    {"unknown member", REQ, "draft-08", AF_NONCE_FMT_JSON, "{\"len\":8,\"x\":1}",
     AF_NONCE_TOL_UNKNOWN_MEMBER},
    {"unknown CBOR member", REQ, "draft-08", AF_NONCE_FMT_CBOR, "a163666f6f01",
     AF_NONCE_TOL_UNKNOWN_MEMBER},
    {"seed value", REQ, "draft-06", AF_NONCE_FMT_JSON, "[{\"type\":\"1.2.3\",\"value\":1}]",
     AF_NONCE_TOL_VALUE},
    {"vendorextension in draft-06", REQ, "draft-06", AF_NONCE_FMT_DER, "300630040402cafe",
     AF_NONCE_TOL_VENDOREXT},
    {"seed expiry seconds", RESP, "draft-06", AF_NONCE_FMT_JSON,
     "[{\"nonce\":\"AQIDBAUGBwg=\",\"expiry\":600}]", AF_NONCE_TOL_EXPIRY_FORM},
    {"seed unpadded nonce", RESP, "draft-06", AF_NONCE_FMT_JSON, "[{\"nonce\":\"AQIDBAUGBwg\"}]",
     AF_NONCE_TOL_BASE64_FORM},
};

static void test_lenient(void)
{
    size_t i;

    for (i = 0; i < sizeof(quirks) / sizeof(quirks[0]); i++) {
        const quirk *q = &quirks[i];
        AF_NONCE_PROFILE *prof = af_nonce_profile_new(q->profile);
        AF_NONCE_CODEC *codec = af_nonce_codec_new();
        AF_NONCE_REQ *req = NULL;
        AF_NONCE_RESP *resp = NULL;
        unsigned char *in;
        size_t inlen = 0;
        int ok;

        CU_ASSERT_PTR_NOT_NULL_FATAL(prof);
        CU_ASSERT_PTR_NOT_NULL_FATAL(codec);
        if (q->fmt == AF_NONCE_FMT_JSON) {
            in = (unsigned char *)strdup(q->input);
            inlen = strlen(q->input);
        } else {
            in = af_test_unhex(q->input, &inlen);
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        /* strict: refused */
        ok = q->kind == REQ ? af_nonce_req_decode(&req, prof, q->fmt, codec, in, inlen)
                            : af_nonce_resp_decode(&resp, prof, q->fmt, codec, in, inlen);
        CU_ASSERT_FALSE(ok);
        ERR_clear_error();
        /* lenient: accepted, and says what it tolerated */
        af_nonce_codec_set_lenient(codec, 1);
        ok = q->kind == REQ ? af_nonce_req_decode(&req, prof, q->fmt, codec, in, inlen)
                            : af_nonce_resp_decode(&resp, prof, q->fmt, codec, in, inlen);
        if (!ok) {
            char line[512];

            fprintf(stderr, "quirk '%s': %s\n", q->name, af_err_line(line, sizeof(line)));
        }
        CU_ASSERT_TRUE(ok);
        CU_ASSERT_EQUAL(af_nonce_codec_get_tolerated(codec), q->tolerated);
        CU_ASSERT_PTR_NOT_NULL(af_nonce_tolerated_text(q->tolerated));
        free(in);
        af_nonce_req_free(req);
        af_nonce_resp_free(resp);
        af_nonce_codec_free(codec);
        af_nonce_profile_free(prof);
    }
}

AF_TEST_MAIN("nonce_malformed", NULL, NULL, {"malformed inputs: specific reasons", test_malformed},
             {"oversize input in every encoding", test_oversize},
             {"lenient mode accepts and reports each quirk", test_lenient})
