/* test_p11_names.c - CKR_/CKM_ names and the provider's error mapping: a CK_RV raised through
 * the core upcalls reaches the error queue as our reason text plus " (CKR_NAME)". */
#include <string.h>

#include <openssl/err.h>
#include <openssl/provider.h>

#include "module/prov.h"
#include "p11/p11.h"
#include "testutil.h"

int af_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx);

#define CHECK_CKR(x) CU_ASSERT_STRING_EQUAL(af_ckr_name(x), #x)

static void test_ckr_names(void)
{
    CHECK_CKR(CKR_OK);
    CHECK_CKR(CKR_PIN_INCORRECT);
    CHECK_CKR(CKR_PIN_LOCKED);
    CHECK_CKR(CKR_TOKEN_NOT_PRESENT);
    CHECK_CKR(CKR_MECHANISM_INVALID);
    CHECK_CKR(CKR_KEY_TYPE_INCONSISTENT);
    CHECK_CKR(CKR_USER_NOT_LOGGED_IN);
    CHECK_CKR(CKR_SESSION_HANDLE_INVALID);
    CHECK_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CHECK_CKR(CKR_BUFFER_TOO_SMALL);
    CHECK_CKR(CKR_FUNCTION_REJECTED);
    CHECK_CKR(CKR_GENERAL_ERROR);
    CHECK_CKR(CKR_ATTRIBUTE_SENSITIVE);
    CHECK_CKR(CKR_DEVICE_REMOVED);
    CHECK_CKR(CKR_RANDOM_NO_RNG);
}

static void test_ckr_unknown(void)
{
    CU_ASSERT_STRING_EQUAL(af_ckr_name(0x4242UL), "CKR_0x4242");
    CU_ASSERT_STRING_EQUAL(af_ckr_name(CKR_VENDOR_DEFINED + 5), "CKR_VENDOR_DEFINED+0x5");
}

static void test_ckr_all_distinct(void)
{
    static const char *names[512];
    CK_RV rv;
    int named = 0, i, j;

    /* The standard values up to CKR_FUNCTION_REJECTED: at least the 90-odd of pkcs11.h named,
     * and no name given to two values. */
    for (rv = 0; rv <= CKR_FUNCTION_REJECTED; rv++) {
        const char *n = af_ckr_name(rv);

        CU_ASSERT_FATAL(n != NULL);
        if (strncmp(n, "CKR_0x", 6) != 0 && named < 512)
            names[named++] = n;
    }
    CU_ASSERT(named >= 90);
    for (i = 0; i < named; i++)
        for (j = i + 1; j < named; j++)
            CU_ASSERT(strcmp(names[i], names[j]) != 0);
}

static void test_ckm_names(void)
{
    CU_ASSERT_STRING_EQUAL(af_ckm_name(CKM_ECDSA), "CKM_ECDSA");
    CU_ASSERT_STRING_EQUAL(af_ckm_name(CKM_RSA_PKCS_PSS), "CKM_RSA_PKCS_PSS");
    CU_ASSERT_STRING_EQUAL(af_ckm_name(CKM_EDDSA), "CKM_EDDSA");
    CU_ASSERT_STRING_EQUAL(af_ckm_name(CKM_SHA256_RSA_PKCS), "CKM_SHA256_RSA_PKCS");
    CU_ASSERT_STRING_EQUAL(af_ckm_name(CKM_EC_KEY_PAIR_GEN), "CKM_EC_KEY_PAIR_GEN");
    CU_ASSERT_PTR_NULL(af_ckm_name(0x7fffffffUL));
}

/* The provider, linked in and loaded into its own library context: init touches no token. */
static void test_error_mapping(void)
{
    OSSL_LIB_CTX *lc = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *prov;
    AF_PROV_CTX *pc;
    const char *data = NULL;
    int flags = 0;
    unsigned long e;

    CU_ASSERT_FATAL(lc != NULL);
    CU_ASSERT_FATAL(OSSL_PROVIDER_add_builtin(lc, "attfresh", af_provider_init) == 1);
    prov = OSSL_PROVIDER_load(lc, "attfresh");
    CU_ASSERT_FATAL(prov != NULL);
    pc = OSSL_PROVIDER_get0_provider_ctx(prov);
    CU_ASSERT_FATAL(pc != NULL);

    ERR_clear_error();
    af_prov_raise_rv(pc, AF_PR_LOGIN, CKR_PIN_INCORRECT, "login to token '%s' failed", "t1");
    e = ERR_peek_last_error_data(&data, &flags);
    CU_ASSERT(e != 0);
    CU_ASSERT_EQUAL(ERR_GET_REASON(e), AF_PR_LOGIN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    CU_ASSERT_STRING_EQUAL(data, "login to token 't1' failed (CKR_PIN_INCORRECT)");
    CU_ASSERT_PTR_NOT_NULL(ERR_reason_error_string(e));
    if (ERR_reason_error_string(e) != NULL)
        CU_ASSERT_STRING_EQUAL(ERR_reason_error_string(e), "token login failed");
    ERR_clear_error();

    af_prov_raise(pc, AF_PR_MECHANISM, "token lacks %s", af_ckm_name(CKM_EDDSA));
    e = ERR_peek_last_error_data(&data, &flags);
    CU_ASSERT_EQUAL(ERR_GET_REASON(e), AF_PR_MECHANISM);
    CU_ASSERT_STRING_EQUAL(data, "token lacks CKM_EDDSA");
    ERR_clear_error();

    /* every reason has a text */
    {
        const OSSL_ITEM *it = af_prov_reason_strings();
        int r;

        for (r = AF_PR_INTERNAL; r < AF_PR__MAX; r++) {
            const OSSL_ITEM *j = it;

            while (j->ptr != NULL && (int)j->id != r)
                j++;
            CU_ASSERT_PTR_NOT_NULL(j->ptr);
        }
    }
    OSSL_PROVIDER_unload(prov);
    OSSL_LIB_CTX_free(lc);
}

AF_TEST_MAIN("p11_names", NULL, NULL, {"CKR names", test_ckr_names},
             {"unknown CKR", test_ckr_unknown}, {"CKR names distinct", test_ckr_all_distinct},
             {"CKM names", test_ckm_names}, {"error mapping", test_error_mapping})
