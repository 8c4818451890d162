/* p11_names.c - names of PKCS#11 return values and mechanisms for error lines and logs. */
#include <stdio.h>

#include "p11/p11.h"

#define N(x)                                                                                       \
    {                                                                                              \
        x, #x                                                                                      \
    }

static const struct {
    CK_RV rv;
    const char *name;
} ckr_names[] = {
    N(CKR_OK),
    N(CKR_CANCEL),
    N(CKR_HOST_MEMORY),
    N(CKR_SLOT_ID_INVALID),
    N(CKR_GENERAL_ERROR),
    N(CKR_FUNCTION_FAILED),
    N(CKR_ARGUMENTS_BAD),
    N(CKR_NO_EVENT),
    N(CKR_NEED_TO_CREATE_THREADS),
    N(CKR_CANT_LOCK),
    N(CKR_ATTRIBUTE_READ_ONLY),
    N(CKR_ATTRIBUTE_SENSITIVE),
    N(CKR_ATTRIBUTE_TYPE_INVALID),
    N(CKR_ATTRIBUTE_VALUE_INVALID),
    N(CKR_ACTION_PROHIBITED),
    N(CKR_DATA_INVALID),
    N(CKR_DATA_LEN_RANGE),
    N(CKR_DEVICE_ERROR),
    N(CKR_DEVICE_MEMORY),
    N(CKR_DEVICE_REMOVED),
    N(CKR_ENCRYPTED_DATA_INVALID),
    N(CKR_ENCRYPTED_DATA_LEN_RANGE),
    N(CKR_FUNCTION_CANCELED),
    N(CKR_FUNCTION_NOT_PARALLEL),
    N(CKR_FUNCTION_NOT_SUPPORTED),
    N(CKR_KEY_HANDLE_INVALID),
    N(CKR_KEY_SIZE_RANGE),
    N(CKR_KEY_TYPE_INCONSISTENT),
    N(CKR_KEY_NOT_NEEDED),
    N(CKR_KEY_CHANGED),
    N(CKR_KEY_NEEDED),
    N(CKR_KEY_INDIGESTIBLE),
    N(CKR_KEY_FUNCTION_NOT_PERMITTED),
    N(CKR_KEY_NOT_WRAPPABLE),
    N(CKR_KEY_UNEXTRACTABLE),
    N(CKR_MECHANISM_INVALID),
    N(CKR_MECHANISM_PARAM_INVALID),
    N(CKR_OBJECT_HANDLE_INVALID),
    N(CKR_OPERATION_ACTIVE),
    N(CKR_OPERATION_NOT_INITIALIZED),
    N(CKR_PIN_INCORRECT),
    N(CKR_PIN_INVALID),
    N(CKR_PIN_LEN_RANGE),
    N(CKR_PIN_EXPIRED),
    N(CKR_PIN_LOCKED),
    N(CKR_SESSION_CLOSED),
    N(CKR_SESSION_COUNT),
    N(CKR_SESSION_HANDLE_INVALID),
    N(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    N(CKR_SESSION_READ_ONLY),
    N(CKR_SESSION_EXISTS),
    N(CKR_SESSION_READ_ONLY_EXISTS),
    N(CKR_SESSION_READ_WRITE_SO_EXISTS),
    N(CKR_SIGNATURE_INVALID),
    N(CKR_SIGNATURE_LEN_RANGE),
    N(CKR_TEMPLATE_INCOMPLETE),
    N(CKR_TEMPLATE_INCONSISTENT),
    N(CKR_TOKEN_NOT_PRESENT),
    N(CKR_TOKEN_NOT_RECOGNIZED),
    N(CKR_TOKEN_WRITE_PROTECTED),
    N(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    N(CKR_USER_ALREADY_LOGGED_IN),
    N(CKR_USER_NOT_LOGGED_IN),
    N(CKR_USER_PIN_NOT_INITIALIZED),
    N(CKR_USER_TYPE_INVALID),
    N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    N(CKR_USER_TOO_MANY_TYPES),
    N(CKR_WRAPPED_KEY_INVALID),
    N(CKR_WRAPPED_KEY_LEN_RANGE),
    N(CKR_WRAPPING_KEY_HANDLE_INVALID),
    N(CKR_WRAPPING_KEY_SIZE_RANGE),
    N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    N(CKR_RANDOM_SEED_NOT_SUPPORTED),
    N(CKR_RANDOM_NO_RNG),
    N(CKR_DOMAIN_PARAMS_INVALID),
    N(CKR_CURVE_NOT_SUPPORTED),
    N(CKR_BUFFER_TOO_SMALL),
    N(CKR_SAVED_STATE_INVALID),
    N(CKR_INFORMATION_SENSITIVE),
    N(CKR_STATE_UNSAVEABLE),
    N(CKR_CRYPTOKI_NOT_INITIALIZED),
    N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    N(CKR_MUTEX_BAD),
    N(CKR_MUTEX_NOT_LOCKED),
    N(CKR_NEW_PIN_MODE),
    N(CKR_NEXT_OTP),
    N(CKR_EXCEEDED_MAX_ITERATIONS),
    N(CKR_FIPS_SELF_TEST_FAILED),
    N(CKR_LIBRARY_LOAD_FAILED),
    N(CKR_PIN_TOO_WEAK),
    N(CKR_PUBLIC_KEY_INVALID),
    N(CKR_FUNCTION_REJECTED),
};

static const struct {
    CK_MECHANISM_TYPE mech;
    const char *name;
} ckm_names[] = {
    N(CKM_RSA_PKCS_KEY_PAIR_GEN),
    N(CKM_RSA_PKCS),
    N(CKM_RSA_X_509),
    N(CKM_RSA_PKCS_OAEP),
    N(CKM_RSA_PKCS_PSS),
    N(CKM_SHA1_RSA_PKCS),
    N(CKM_SHA224_RSA_PKCS),
    N(CKM_SHA256_RSA_PKCS),
    N(CKM_SHA384_RSA_PKCS),
    N(CKM_SHA512_RSA_PKCS),
    N(CKM_SHA1_RSA_PKCS_PSS),
    N(CKM_SHA224_RSA_PKCS_PSS),
    N(CKM_SHA256_RSA_PKCS_PSS),
    N(CKM_SHA384_RSA_PKCS_PSS),
    N(CKM_SHA512_RSA_PKCS_PSS),
    N(CKM_EC_KEY_PAIR_GEN),
    N(CKM_ECDSA),
    N(CKM_ECDSA_SHA1),
    N(CKM_ECDSA_SHA224),
    N(CKM_ECDSA_SHA256),
    N(CKM_ECDSA_SHA384),
    N(CKM_ECDSA_SHA512),
    N(CKM_ECDH1_DERIVE),
    N(CKM_ECDH1_COFACTOR_DERIVE),
    N(CKM_EC_EDWARDS_KEY_PAIR_GEN),
    N(CKM_EDDSA),
    N(CKM_SHA_1),
    N(CKM_SHA224),
    N(CKM_SHA256),
    N(CKM_SHA384),
    N(CKM_SHA512),
    N(CKM_SHA_1_HMAC),
    N(CKM_SHA224_HMAC),
    N(CKM_SHA256_HMAC),
    N(CKM_SHA384_HMAC),
    N(CKM_SHA512_HMAC),
    N(CKM_GENERIC_SECRET_KEY_GEN),
    N(CKM_AES_KEY_GEN),
    N(CKM_AES_ECB),
    N(CKM_AES_CBC),
    N(CKM_AES_CBC_PAD),
    N(CKM_AES_CTR),
    N(CKM_AES_GCM),
    N(CKM_AES_KEY_WRAP),
    N(CKM_AES_KEY_WRAP_PAD),
    N(CKM_AES_CMAC),
    N(CKM_DES3_KEY_GEN),
    N(CKM_DES3_CBC),
};

const char *af_ckr_name(CK_RV rv)
{
    static _Thread_local char buf[48];
    size_t i;

    for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
        if (ckr_names[i].rv == rv)
            return ckr_names[i].name;
    if (rv >= CKR_VENDOR_DEFINED)
        snprintf(buf, sizeof(buf), "CKR_VENDOR_DEFINED+0x%lx", rv - CKR_VENDOR_DEFINED);
    else
        snprintf(buf, sizeof(buf), "CKR_0x%lx", rv);
    return buf;
}

const char *af_ckm_name(CK_MECHANISM_TYPE mech)
{
    size_t i;

    for (i = 0; i < sizeof(ckm_names) / sizeof(ckm_names[0]); i++)
        if (ckm_names[i].mech == mech)
            return ckm_names[i].name;
    return NULL;
}
