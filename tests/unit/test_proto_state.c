/* test_proto_state.c - the station's transaction state (attfresh/proto.h): JSON round trip with
 * every member, deterministic bytes, the state file (atomic write, mode 0600, load), and the
 * rejection of bad files (syntax, unknown members, wrong types, bad hex, mismatched nonce, size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/proto.h"
#include "testutil.h"

static const unsigned char TXID[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                       0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
static const unsigned char SNONCE[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                         0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const unsigned char RNONCE[16] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
                                         0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
static const unsigned char NONCE[32] = {0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,  7,
                                        8,    9,    10,   11,   12, 13, 14, 15, 16, 17, 18,
                                        19,   20,   21,   22,   23, 24, 25, 26, 27, 28};

static AF_NONCE_RESP *make_resp(void)
{
    AF_NONCE_RESP *r = af_nonce_resp_new();
    AF_NONCE_RESP_ITEM *it = r == NULL ? NULL : af_nonce_resp_add0_item(r);

    if (it == NULL || !af_nonce_resp_item_set1_nonce(it, NONCE, sizeof(NONCE)) ||
        !af_nonce_resp_item_set_expiry_seconds(it, 600)) {
        af_nonce_resp_free(r);
        return NULL;
    }
    return r;
}

static AF_PROTO_STATE *make_state(void)
{
    static const unsigned char dgst[32] = {7};
    AF_PROTO_STATE *st = af_proto_state_new();
    AF_NONCE_RESP *r = make_resp();
    int ok = st != NULL && r != NULL && af_proto_state_set_protocol(st, AF_PROTO_EST) &&
             af_proto_state_set1_url(st, "https://127.0.0.1:8443/.well-known/est/nonce") &&
             af_proto_state_set1_profile(st, "draft-08") &&
             af_proto_state_set_created(st, 1800000000) &&
             af_proto_state_set_expiry(st, 1800000600) &&
             af_proto_state_set1_transaction_id(st, TXID, sizeof(TXID)) &&
             af_proto_state_set1_sender_nonce(st, SNONCE, sizeof(SNONCE)) &&
             af_proto_state_set1_server_nonce(st, RNONCE, sizeof(RNONCE)) &&
             af_proto_state_set1_cookie(st, "af-nonce=abc123") &&
             af_proto_state_set1_tls_version(st, "TLSv1.3") &&
             af_proto_state_set1_tls_server_cert_sha256(st, dgst, sizeof(dgst)) &&
             af_proto_state_set1_tls_session_id(st, TXID, 8) && af_proto_state_set1_response(st, r);

    af_nonce_resp_free(r);
    if (!ok) {
        af_proto_state_free(st);
        return NULL;
    }
    return st;
}

static void test_json_round_trip(void)
{
    AF_PROTO_STATE *st = make_state(), *back;
    char *j1 = NULL, *j2 = NULL;
    size_t l1 = 0, l2 = 0, len;
    const unsigned char *p, *n;

    CU_ASSERT_FATAL(st != NULL);
    CU_ASSERT_FATAL(af_proto_state_to_json(st, &j1, &l1));
    /* fixed member order: protocol first after version, response last */
    {
        static const char head[] = "{\"version\":1,\"protocol\":\"est\",\"url\":";

        CU_ASSERT(strncmp(j1, head, sizeof(head) - 1) == 0);
    }
    CU_ASSERT(strstr(j1, "\"transactionID\":\"0102030405060708090a0b0c0d0e0f10\"") != NULL);
    CU_ASSERT(strstr(j1, "\"nonce\":\"deadbeef0102") != NULL);
    CU_ASSERT(strstr(j1, "\"tls\":{\"version\":\"TLSv1.3\",\"serverCertSha256\":\"07") != NULL);
    CU_ASSERT(j1[l1 - 1] == '\n');
    back = af_proto_state_from_json(j1, l1);
    CU_ASSERT_FATAL(back != NULL);
    CU_ASSERT(af_proto_state_get_protocol(back) == AF_PROTO_EST);
    CU_ASSERT_STRING_EQUAL(af_proto_state_get0_profile(back), "draft-08");
    CU_ASSERT_STRING_EQUAL(af_proto_state_get0_cookie(back), "af-nonce=abc123");
    CU_ASSERT(af_proto_state_get_expiry(back) == 1800000600);
    p = af_proto_state_get0_server_nonce(back, &len);
    CU_ASSERT(len == sizeof(RNONCE) && memcmp(p, RNONCE, len) == 0);
    p = af_proto_state_get0_sender_nonce(back, &len);
    CU_ASSERT(len == sizeof(SNONCE) && memcmp(p, SNONCE, len) == 0);
    p = af_proto_state_get0_tls_session_id(back, &len);
    CU_ASSERT(len == 8 && memcmp(p, TXID, 8) == 0);
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(af_proto_state_get0_response(back), 0),
                                  &n, &len);
    CU_ASSERT(len == sizeof(NONCE) && memcmp(n, NONCE, len) == 0);
    /* deterministic: the same state gives the same bytes */
    CU_ASSERT_FATAL(af_proto_state_to_json(back, &j2, &l2));
    CU_ASSERT(l1 == l2 && memcmp(j1, j2, l1) == 0);
    OPENSSL_free(j1);
    OPENSSL_free(j2);
    af_proto_state_free(back);
    af_proto_state_free(st);
}

static void test_minimal_and_dup(void)
{
    AF_PROTO_STATE *st = af_proto_state_new(), *d;
    char *j = NULL;
    size_t l = 0;

    CU_ASSERT_FATAL(st != NULL);
    /* a state without protocol cannot be written */
    CU_ASSERT(!af_proto_state_to_json(st, &j, &l));
    ERR_clear_error();
    CU_ASSERT(af_proto_state_set_protocol(st, AF_PROTO_CMP));
    CU_ASSERT(af_proto_state_to_json(st, &j, &l));
    CU_ASSERT_STRING_EQUAL(j, "{\"version\":1,\"protocol\":\"cmp\"}\n");
    OPENSSL_free(j);
    d = af_proto_state_dup(st);
    CU_ASSERT(d != NULL && af_proto_state_get_protocol(d) == AF_PROTO_CMP);
    af_proto_state_free(d);
    /* setters refuse what the file could not hold */
    CU_ASSERT(!af_proto_state_set1_profile(st, "no-such-profile"));
    CU_ASSERT(ERR_GET_REASON(ERR_peek_last_error()) == AF_R_UNKNOWN_PROFILE);
    ERR_clear_error();
    CU_ASSERT(!af_proto_state_set1_tls_server_cert_sha256(st, TXID, sizeof(TXID)));
    ERR_clear_error();
    af_proto_state_free(st);
    af_proto_state_free(NULL);
}

static char tmpdir[64];

static int setup(void)
{
    strcpy(tmpdir, "/tmp/af-state-XXXXXX");
    return mkdtemp(tmpdir) == NULL;
}

static int teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) != 0;
}

static void test_file_round_trip(void)
{
    AF_PROTO_STATE *st = make_state(), *back;
    char path[128], *j1 = NULL, *j2 = NULL;
    size_t l1, l2;
    struct stat sb;
    FILE *f;

    CU_ASSERT_FATAL(st != NULL);
    snprintf(path, sizeof(path), "%s/state.json", tmpdir);
    /* an older, world-readable file is replaced by a 0600 one */
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("old", f);
    fclose(f);
    chmod(path, 0644);
    CU_ASSERT_FATAL(af_proto_state_save(st, path));
    CU_ASSERT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    back = af_proto_state_load(path);
    CU_ASSERT_FATAL(back != NULL);
    CU_ASSERT(af_proto_state_to_json(st, &j1, &l1) && af_proto_state_to_json(back, &j2, &l2));
    CU_ASSERT(l1 == l2 && memcmp(j1, j2, l1) == 0);
    OPENSSL_free(j1);
    OPENSSL_free(j2);
    af_proto_state_free(back);
    /* a directory that does not exist: an error, nothing left behind */
    snprintf(path, sizeof(path), "%s/missing/state.json", tmpdir);
    CU_ASSERT(!af_proto_state_save(st, path));
    CU_ASSERT(ERR_GET_REASON(ERR_peek_last_error()) == AF_R_IO);
    ERR_clear_error();
    CU_ASSERT(af_proto_state_load(path) == NULL);
    CU_ASSERT(ERR_GET_REASON(ERR_peek_last_error()) == AF_R_IO);
    ERR_clear_error();
    af_proto_state_free(st);
}

static void expect_bad(const char *json, int reason)
{
    AF_PROTO_STATE *st = af_proto_state_from_json(json, strlen(json));
    unsigned long e = ERR_peek_last_error();

    CU_ASSERT(st == NULL);
    if (st != NULL)
        fprintf(stderr, "accepted: %s\n", json);
    else if (ERR_GET_REASON(e) != reason)
        fprintf(stderr, "reason %d, want %d: %s\n", ERR_GET_REASON(e), reason, json);
    CU_ASSERT(ERR_GET_REASON(e) == reason);
    af_proto_state_free(st);
    ERR_clear_error();
}

static void test_bad_json(void)
{
    expect_bad("", AF_R_NONCE_DECODE);
    expect_bad("{", AF_R_NONCE_DECODE);
    expect_bad("[]", AF_R_NONCE_BAD_TYPE);
    expect_bad("{\"version\":2,\"protocol\":\"cmp\"}", AF_R_NONCE_BAD_TYPE);
    expect_bad("{\"version\":1}", AF_R_NONCE_BAD_TYPE);
    expect_bad("{\"version\":1,\"protocol\":\"scep\"}", AF_R_NONCE_BAD_TYPE);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"pin\":\"1234\"}", AF_R_NONCE_UNKNOWN);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"protocol\":\"est\"}", AF_R_NONCE_DUPLICATE);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"url\":5}", AF_R_NONCE_BAD_TYPE);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"profile\":\"x\"}", AF_R_UNKNOWN_PROFILE);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"created\":-4}", AF_R_NONCE_BAD_TYPE);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"transactionID\":\"abc\"}", AF_R_NONCE_DECODE);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"transactionID\":\"ABCD\"}",
               AF_R_NONCE_DECODE);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"transactionID\":\"zz\"}", AF_R_NONCE_DECODE);
    expect_bad("{\"version\":1,\"protocol\":\"est\",\"tls\":[]}", AF_R_NONCE_BAD_TYPE);
    expect_bad("{\"version\":1,\"protocol\":\"est\",\"tls\":{\"cipher\":\"x\"}}",
               AF_R_NONCE_UNKNOWN);
    expect_bad("{\"version\":1,\"protocol\":\"est\",\"tls\":{\"serverCertSha256\":\"0102\"}}",
               AF_R_NONCE_DECODE);
    /* the response: nonce and response together, with a profile, and agreeing */
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"nonce\":\"0102030405060708\"}",
               AF_R_NONCE_MISSING);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"nonce\":\"0102030405060708\","
               "\"response\":\"300a04080102030405060708\"}",
               AF_R_NONCE_MISSING);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"profile\":\"draft-08\","
               "\"nonce\":\"0102030405060709\",\"response\":\"300a04080102030405060708\"}",
               AF_R_NONCE_BAD_NONCE);
    expect_bad("{\"version\":1,\"protocol\":\"cmp\",\"profile\":\"draft-08\","
               "\"nonce\":\"0102030405060708\",\"response\":\"300a0408010203040506070800\"}",
               AF_R_NONCE_TRAILING);
}

static void test_good_minimal_response(void)
{
    static const char j[] =
        "{\"version\":1,\"protocol\":\"cmp\",\"profile\":\"draft-08\","
        "\"nonce\":\"0102030405060708\",\"response\":\"300a04080102030405060708\"}";
    AF_PROTO_STATE *st = af_proto_state_from_json(j, strlen(j));
    const unsigned char *n;
    size_t len;

    CU_ASSERT_FATAL(st != NULL);
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(af_proto_state_get0_response(st), 0), &n,
                                  &len);
    CU_ASSERT(len == 8 && n[0] == 1 && n[7] == 8);
    af_proto_state_free(st);
}

static void test_oversize_file(void)
{
    char path[128];
    FILE *f;
    size_t i;

    snprintf(path, sizeof(path), "%s/big.json", tmpdir);
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    for (i = 0; i < AF_NONCE_MAX_INPUT + 10; i++)
        fputc(' ', f);
    fclose(f);
    CU_ASSERT(af_proto_state_load(path) == NULL);
    CU_ASSERT(ERR_GET_REASON(ERR_peek_last_error()) == AF_R_TOO_LARGE);
    ERR_clear_error();
}

AF_TEST_MAIN("proto_state", setup, teardown,
             {"json round trip, every member, deterministic", test_json_round_trip},
             {"minimal state, dup, refused setters", test_minimal_and_dup},
             {"state file: atomic 0600 write and load", test_file_round_trip},
             {"bad state JSON rejected with its reason", test_bad_json},
             {"minimal response state accepted", test_good_minimal_response},
             {"oversize state file rejected", test_oversize_file})
