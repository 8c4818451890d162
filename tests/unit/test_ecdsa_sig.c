/* test_ecdsa_sig.c - the ECDSA r||s <-> DER conversions (module/ecdsa_der.c), checked against
 * OpenSSL's own encoder on every curve, with edge values and bad input. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "module/key.h"
#include "testutil.h"

static const int curves[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};

/* OpenSSL's DER for (r, s) given as padded big-endian halves. */
static int ref_der(const unsigned char *rs, size_t half, unsigned char **der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)half, NULL), *s = BN_bin2bn(rs + half, (int)half, NULL);
    int len;

    ECDSA_SIG_set0(sig, r, s);
    *der = NULL;
    len = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    return len;
}

static void check_roundtrip(const unsigned char *rs, size_t half)
{
    unsigned char der[160], back[132], *ref = NULL;
    size_t derlen = 0;
    int reflen = ref_der(rs, half, &ref);

    CU_ASSERT_FATAL(reflen > 0);
    CU_ASSERT_FATAL(af_ecdsa_rs_to_der(rs, 2 * half, der, sizeof(der), &derlen));
    CU_ASSERT_EQUAL(derlen, (size_t)reflen);
    CU_ASSERT(memcmp(der, ref, derlen) == 0);
    memset(back, 0xAA, sizeof(back));
    CU_ASSERT_FATAL(af_ecdsa_der_to_rs(der, derlen, half, back));
    CU_ASSERT(memcmp(back, rs, 2 * half) == 0);
    OPENSSL_free(ref);
}

static void test_half_len(void)
{
    CU_ASSERT_EQUAL(af_ecdsa_half_len(NID_X9_62_prime256v1), 32);
    CU_ASSERT_EQUAL(af_ecdsa_half_len(NID_secp384r1), 48);
    CU_ASSERT_EQUAL(af_ecdsa_half_len(NID_secp521r1), 66);
    CU_ASSERT_EQUAL(af_ecdsa_half_len(NID_secp256k1), 0);
}

/* Real signatures from the default provider: DER -> r||s -> DER gives the same bytes. */
static void test_real_signatures(void)
{
    size_t c;

    for (c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
        size_t half = af_ecdsa_half_len(curves[c]);
        EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(curves[c]));
        int i;

        CU_ASSERT_FATAL(pkey != NULL);
        for (i = 0; i < 64; i++) {
            unsigned char tbs[32], sig[160], rs[132], der[160];
            size_t siglen = sizeof(sig), derlen = 0;
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);

            RAND_bytes(tbs, sizeof(tbs));
            CU_ASSERT_FATAL(ctx != NULL && EVP_PKEY_sign_init(ctx) > 0);
            CU_ASSERT_FATAL(EVP_PKEY_sign(ctx, sig, &siglen, tbs, sizeof(tbs)) > 0);
            EVP_PKEY_CTX_free(ctx);
            CU_ASSERT_FATAL(af_ecdsa_der_to_rs(sig, siglen, half, rs));
            CU_ASSERT_FATAL(af_ecdsa_rs_to_der(rs, 2 * half, der, sizeof(der), &derlen));
            CU_ASSERT_EQUAL(derlen, siglen);
            CU_ASSERT(memcmp(der, sig, siglen) == 0);
        }
        EVP_PKEY_free(pkey);
    }
}

/* Leading zero bytes (shorter INTEGERs), high bits (a 0x00 pad byte), zero, all-ones. */
static void test_edge_values(void)
{
    size_t c;

    for (c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
        size_t half = af_ecdsa_half_len(curves[c]);
        unsigned char rs[132];

        memset(rs, 0, sizeof(rs));
        rs[half - 1] = 1;              /* r = 1 */
        memset(rs + half, 0xFF, half); /* s high bit set */
        check_roundtrip(rs, half);

        memset(rs, 0, 2 * half); /* r = s = 0 */
        check_roundtrip(rs, half);

        memset(rs, 0x80, 2 * half); /* both high bit */
        check_roundtrip(rs, half);

        memset(rs, 0, 2 * half);
        memset(rs + 3, 0x7F, half - 3);        /* r: three leading zero bytes, no pad */
        memset(rs + half + 1, 0x80, half - 1); /* s: one zero byte then high bit */
        check_roundtrip(rs, half);
    }
}

static void test_p521_long_form_length(void)
{
    unsigned char rs[132], der[160];
    size_t derlen = 0;

    memset(rs, 0x01, sizeof(rs));
    rs[0] = 0x01;
    CU_ASSERT_FATAL(af_ecdsa_rs_to_der(rs, 132, der, sizeof(der), &derlen));
    CU_ASSERT_EQUAL(der[0], 0x30);
    CU_ASSERT_EQUAL(der[1], 0x81); /* body of 2 * (2 + 66) = 136 > 127 bytes */
    CU_ASSERT_EQUAL(der[2], 136);
    CU_ASSERT_EQUAL(derlen, 139);
}

static void test_bad_rs(void)
{
    unsigned char rs[140], der[160];
    size_t derlen = 0;

    memset(rs, 0x11, sizeof(rs));
    CU_ASSERT_FALSE(af_ecdsa_rs_to_der(rs, 0, der, sizeof(der), &derlen));
    CU_ASSERT_FALSE(af_ecdsa_rs_to_der(rs, 63, der, sizeof(der), &derlen));  /* odd */
    CU_ASSERT_FALSE(af_ecdsa_rs_to_der(rs, 134, der, sizeof(der), &derlen)); /* > P-521 */
    CU_ASSERT_FALSE(af_ecdsa_rs_to_der(rs, 64, der, 69, &derlen));           /* no room (70) */
    CU_ASSERT_TRUE(af_ecdsa_rs_to_der(rs, 64, der, 70, &derlen));
    CU_ASSERT_EQUAL(derlen, 70);
}

static void test_bad_der(void)
{
    static const struct {
        const char *hex;
        size_t half;
    } bad[] = {
        {"", 32},
        {"3006020101020101 00", 32},   /* trailing byte */
        {"30060201010201", 32},        /* truncated */
        {"3007020200010201 01", 32},   /* non-minimal INTEGER */
        {"3006020181020101", 32},      /* negative r */
        {"308106020101020101", 32},    /* long-form length where short fits */
        {"3008020101020101 0500", 32}, /* extra element */
        {"3106020101020101", 32},      /* SET, not SEQUENCE */
        {"3006020101020101", 0},       /* no half */
        /* r has 33 significant bytes for P-256 */
        {"3027 0222 01"
         "0000000000000000000000000000000000000000000000000000000000000000"
         "020101",
         32},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = 0;
        unsigned char *der = af_test_unhex(bad[i].hex, &len);
        unsigned char rs[132];

        CU_ASSERT_FATAL(der != NULL);
        CU_ASSERT_FALSE(af_ecdsa_der_to_rs(der, len, bad[i].half, rs));
        free(der);
    }
}

AF_TEST_MAIN("ecdsa_sig", NULL, NULL, {"half_len", test_half_len},
             {"real_signatures", test_real_signatures}, {"edge_values", test_edge_values},
             {"p521_long_form_length", test_p521_long_form_length}, {"bad_rs", test_bad_rs},
             {"bad_der", test_bad_der})
