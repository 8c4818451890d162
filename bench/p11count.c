/* p11count.c - a counting PKCS#11 module for the benchmarks: it loads the real module (path in
 * P11COUNT_MODULE, default the p11-kit proxy), hands out the real function list with every entry
 * wrapped to count its calls, and exports p11count_get() so a benchmark in the same process can
 * read the counts. Used by bench_sign to report PKCS#11 calls per signature; never for timing.
 * With P11COUNT_REPORT set, the counts are also printed to stderr when the process exits (e.g. the
 * calls of one `openssl` command, with pkcs11-module = p11count.so in its configuration). */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#define P11COUNT_EXPORT __attribute__((visibility("default")))

/* Every function of CK_FUNCTION_LIST (PKCS#11 2.40), in list order. */
/* clang-format off */
#define P11COUNT_FUNCS(X) \
    X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList)               \
    X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_WaitForSlotEvent) X(C_GetMechanismList)                 \
    X(C_GetMechanismInfo) X(C_InitToken) X(C_InitPIN) X(C_SetPIN) X(C_OpenSession)                 \
    X(C_CloseSession) X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState)             \
    X(C_SetOperationState) X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject)                \
    X(C_DestroyObject) X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue)            \
    X(C_FindObjectsInit) X(C_FindObjects) X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt)      \
    X(C_EncryptUpdate) X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate)          \
    X(C_DecryptFinal) X(C_DigestInit) X(C_Digest) X(C_DigestUpdate) X(C_DigestKey)                 \
    X(C_DigestFinal) X(C_SignInit) X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit)   \
    X(C_SignRecover) X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal)                \
    X(C_VerifyRecoverInit) X(C_VerifyRecover) X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate)    \
    X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate) X(C_GenerateKey) X(C_GenerateKeyPair)          \
    X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey) X(C_SeedRandom) X(C_GenerateRandom)                 \
    X(C_GetFunctionStatus) X(C_CancelFunction)
/* clang-format on */

#define P11COUNT_ENUM(name) IX_##name,
enum { P11COUNT_FUNCS(P11COUNT_ENUM) P11COUNT_N };
#define P11COUNT_NAME(name) #name,
static const char *const names[P11COUNT_N] = {P11COUNT_FUNCS(P11COUNT_NAME)};

/* Relaxed: the counts are read only between measured phases, never used for ordering. */
static atomic_ulong counts[P11COUNT_N];
static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST wrapped;

#define COUNT(name) atomic_fetch_add_explicit(&counts[IX_##name], 1, memory_order_relaxed)
#define WRAP(name, params, args)                                                                   \
    static CK_RV w_##name params                                                                   \
    {                                                                                              \
        COUNT(name);                                                                               \
        return real->name args;                                                                    \
    }

WRAP(C_Initialize, (void *init_args), (init_args))
WRAP(C_Finalize, (void *reserved), (reserved))
WRAP(C_GetInfo, (CK_INFO * info), (info))
WRAP(C_GetSlotList, (CK_BBOOL token_present, CK_SLOT_ID *slot_list, CK_ULONG *count),
     (token_present, slot_list, count))
WRAP(C_GetSlotInfo, (CK_SLOT_ID slot_id, CK_SLOT_INFO *info), (slot_id, info))
WRAP(C_GetTokenInfo, (CK_SLOT_ID slot_id, CK_TOKEN_INFO *info), (slot_id, info))
WRAP(C_WaitForSlotEvent, (CK_FLAGS flags, CK_SLOT_ID *slot, void *reserved),
     (flags, slot, reserved))
WRAP(C_GetMechanismList, (CK_SLOT_ID slot_id, CK_MECHANISM_TYPE *mechanism_list, CK_ULONG *count),
     (slot_id, mechanism_list, count))
WRAP(C_GetMechanismInfo, (CK_SLOT_ID slot_id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info),
     (slot_id, type, info))
WRAP(C_InitToken, (CK_SLOT_ID slot_id, CK_BYTE *pin, CK_ULONG pin_len, CK_BYTE *label),
     (slot_id, pin, pin_len, label))
WRAP(C_InitPIN, (CK_SESSION_HANDLE session, CK_BYTE *pin, CK_ULONG pin_len),
     (session, pin, pin_len))
WRAP(C_SetPIN,
     (CK_SESSION_HANDLE session, CK_BYTE *old_pin, CK_ULONG old_len, CK_BYTE *new_pin,
      CK_ULONG new_len),
     (session, old_pin, old_len, new_pin, new_len))
WRAP(C_OpenSession,
     (CK_SLOT_ID slot_id, CK_FLAGS flags, void *application, CK_NOTIFY notify,
      CK_SESSION_HANDLE *session),
     (slot_id, flags, application, notify, session))
WRAP(C_CloseSession, (CK_SESSION_HANDLE session), (session))
WRAP(C_CloseAllSessions, (CK_SLOT_ID slot_id), (slot_id))
WRAP(C_GetSessionInfo, (CK_SESSION_HANDLE session, CK_SESSION_INFO *info), (session, info))
WRAP(C_GetOperationState,
     (CK_SESSION_HANDLE session, CK_BYTE *operation_state, CK_ULONG *operation_state_len),
     (session, operation_state, operation_state_len))
WRAP(C_SetOperationState,
     (CK_SESSION_HANDLE session, CK_BYTE *operation_state, CK_ULONG operation_state_len,
      CK_OBJECT_HANDLE encryption_key, CK_OBJECT_HANDLE authentiation_key),
     (session, operation_state, operation_state_len, encryption_key, authentiation_key))
WRAP(C_Login, (CK_SESSION_HANDLE session, CK_USER_TYPE user_type, CK_BYTE *pin, CK_ULONG pin_len),
     (session, user_type, pin, pin_len))
WRAP(C_Logout, (CK_SESSION_HANDLE session), (session))
WRAP(C_CreateObject,
     (CK_SESSION_HANDLE session, CK_ATTRIBUTE *templ, CK_ULONG count, CK_OBJECT_HANDLE *object),
     (session, templ, count, object))
WRAP(C_CopyObject,
     (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE *templ, CK_ULONG count,
      CK_OBJECT_HANDLE *new_object),
     (session, object, templ, count, new_object))
WRAP(C_DestroyObject, (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object), (session, object))
WRAP(C_GetObjectSize, (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG *size),
     (session, object, size))
WRAP(C_GetAttributeValue,
     (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE *templ, CK_ULONG count),
     (session, object, templ, count))
WRAP(C_SetAttributeValue,
     (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE *templ, CK_ULONG count),
     (session, object, templ, count))
WRAP(C_FindObjectsInit, (CK_SESSION_HANDLE session, CK_ATTRIBUTE *templ, CK_ULONG count),
     (session, templ, count))
WRAP(C_FindObjects,
     (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *object, CK_ULONG max_object_count,
      CK_ULONG *object_count),
     (session, object, max_object_count, object_count))
WRAP(C_FindObjectsFinal, (CK_SESSION_HANDLE session), (session))
WRAP(C_EncryptInit, (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key),
     (session, mechanism, key))
WRAP(C_Encrypt,
     (CK_SESSION_HANDLE session, CK_BYTE *data, CK_ULONG data_len, CK_BYTE *encrypted_data,
      CK_ULONG *encrypted_data_len),
     (session, data, data_len, encrypted_data, encrypted_data_len))
WRAP(C_EncryptUpdate,
     (CK_SESSION_HANDLE session, CK_BYTE *part, CK_ULONG part_len, CK_BYTE *encrypted_part,
      CK_ULONG *encrypted_part_len),
     (session, part, part_len, encrypted_part, encrypted_part_len))
WRAP(C_EncryptFinal,
     (CK_SESSION_HANDLE session, CK_BYTE *last_encrypted_part, CK_ULONG *last_encrypted_part_len),
     (session, last_encrypted_part, last_encrypted_part_len))
WRAP(C_DecryptInit, (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key),
     (session, mechanism, key))
WRAP(C_Decrypt,
     (CK_SESSION_HANDLE session, CK_BYTE *encrypted_data, CK_ULONG encrypted_data_len,
      CK_BYTE *data, CK_ULONG *data_len),
     (session, encrypted_data, encrypted_data_len, data, data_len))
WRAP(C_DecryptUpdate,
     (CK_SESSION_HANDLE session, CK_BYTE *encrypted_part, CK_ULONG encrypted_part_len,
      CK_BYTE *part, CK_ULONG *part_len),
     (session, encrypted_part, encrypted_part_len, part, part_len))
WRAP(C_DecryptFinal, (CK_SESSION_HANDLE session, CK_BYTE *last_part, CK_ULONG *last_part_len),
     (session, last_part, last_part_len))
WRAP(C_DigestInit, (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism), (session, mechanism))
WRAP(C_Digest,
     (CK_SESSION_HANDLE session, CK_BYTE *data, CK_ULONG data_len, CK_BYTE *digest,
      CK_ULONG *digest_len),
     (session, data, data_len, digest, digest_len))
WRAP(C_DigestUpdate, (CK_SESSION_HANDLE session, CK_BYTE *part, CK_ULONG part_len),
     (session, part, part_len))
WRAP(C_DigestKey, (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key), (session, key))
WRAP(C_DigestFinal, (CK_SESSION_HANDLE session, CK_BYTE *digest, CK_ULONG *digest_len),
     (session, digest, digest_len))
WRAP(C_SignInit, (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key),
     (session, mechanism, key))
WRAP(C_Sign,
     (CK_SESSION_HANDLE session, CK_BYTE *data, CK_ULONG data_len, CK_BYTE *signature,
      CK_ULONG *signature_len),
     (session, data, data_len, signature, signature_len))
WRAP(C_SignUpdate, (CK_SESSION_HANDLE session, CK_BYTE *part, CK_ULONG part_len),
     (session, part, part_len))
WRAP(C_SignFinal, (CK_SESSION_HANDLE session, CK_BYTE *signature, CK_ULONG *signature_len),
     (session, signature, signature_len))
WRAP(C_SignRecoverInit, (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key),
     (session, mechanism, key))
WRAP(C_SignRecover,
     (CK_SESSION_HANDLE session, CK_BYTE *data, CK_ULONG data_len, CK_BYTE *signature,
      CK_ULONG *signature_len),
     (session, data, data_len, signature, signature_len))
WRAP(C_VerifyInit, (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key),
     (session, mechanism, key))
WRAP(C_Verify,
     (CK_SESSION_HANDLE session, CK_BYTE *data, CK_ULONG data_len, CK_BYTE *signature,
      CK_ULONG signature_len),
     (session, data, data_len, signature, signature_len))
WRAP(C_VerifyUpdate, (CK_SESSION_HANDLE session, CK_BYTE *part, CK_ULONG part_len),
     (session, part, part_len))
WRAP(C_VerifyFinal, (CK_SESSION_HANDLE session, CK_BYTE *signature, CK_ULONG signature_len),
     (session, signature, signature_len))
WRAP(C_VerifyRecoverInit,
     (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key),
     (session, mechanism, key))
WRAP(C_VerifyRecover,
     (CK_SESSION_HANDLE session, CK_BYTE *signature, CK_ULONG signature_len, CK_BYTE *data,
      CK_ULONG *data_len),
     (session, signature, signature_len, data, data_len))
WRAP(C_DigestEncryptUpdate,
     (CK_SESSION_HANDLE session, CK_BYTE *part, CK_ULONG part_len, CK_BYTE *encrypted_part,
      CK_ULONG *encrypted_part_len),
     (session, part, part_len, encrypted_part, encrypted_part_len))
WRAP(C_DecryptDigestUpdate,
     (CK_SESSION_HANDLE session, CK_BYTE *encrypted_part, CK_ULONG encrypted_part_len,
      CK_BYTE *part, CK_ULONG *part_len),
     (session, encrypted_part, encrypted_part_len, part, part_len))
WRAP(C_SignEncryptUpdate,
     (CK_SESSION_HANDLE session, CK_BYTE *part, CK_ULONG part_len, CK_BYTE *encrypted_part,
      CK_ULONG *encrypted_part_len),
     (session, part, part_len, encrypted_part, encrypted_part_len))
WRAP(C_DecryptVerifyUpdate,
     (CK_SESSION_HANDLE session, CK_BYTE *encrypted_part, CK_ULONG encrypted_part_len,
      CK_BYTE *part, CK_ULONG *part_len),
     (session, encrypted_part, encrypted_part_len, part, part_len))
WRAP(C_GenerateKey,
     (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_ATTRIBUTE *templ, CK_ULONG count,
      CK_OBJECT_HANDLE *key),
     (session, mechanism, templ, count, key))
WRAP(C_GenerateKeyPair,
     (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_ATTRIBUTE *public_key_template,
      CK_ULONG public_key_attribute_count, CK_ATTRIBUTE *private_key_template,
      CK_ULONG private_key_attribute_count, CK_OBJECT_HANDLE *public_key,
      CK_OBJECT_HANDLE *private_key),
     (session, mechanism, public_key_template, public_key_attribute_count, private_key_template,
      private_key_attribute_count, public_key, private_key))
WRAP(C_WrapKey,
     (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE wrapping_key,
      CK_OBJECT_HANDLE key, CK_BYTE *wrapped_key, CK_ULONG *wrapped_key_len),
     (session, mechanism, wrapping_key, key, wrapped_key, wrapped_key_len))
WRAP(C_UnwrapKey,
     (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE unwrapping_key,
      CK_BYTE *wrapped_key, CK_ULONG wrapped_key_len, CK_ATTRIBUTE *templ, CK_ULONG attribute_count,
      CK_OBJECT_HANDLE *key),
     (session, mechanism, unwrapping_key, wrapped_key, wrapped_key_len, templ, attribute_count,
      key))
WRAP(C_DeriveKey,
     (CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE base_key,
      CK_ATTRIBUTE *templ, CK_ULONG attribute_count, CK_OBJECT_HANDLE *key),
     (session, mechanism, base_key, templ, attribute_count, key))
WRAP(C_SeedRandom, (CK_SESSION_HANDLE session, CK_BYTE *seed, CK_ULONG seed_len),
     (session, seed, seed_len))
WRAP(C_GenerateRandom, (CK_SESSION_HANDLE session, CK_BYTE *random_data, CK_ULONG random_len),
     (session, random_data, random_len))
WRAP(C_GetFunctionStatus, (CK_SESSION_HANDLE session), (session))
WRAP(C_CancelFunction, (CK_SESSION_HANDLE session), (session))

/* Through the list too, a module may be asked for its list again. */
static CK_RV w_C_GetFunctionList(CK_FUNCTION_LIST **list)
{
    return C_GetFunctionList(list);
}

/* Number of functions counted; names[i] and counts[i] for i < that number. */
P11COUNT_EXPORT size_t p11count_n(void)
{
    return P11COUNT_N;
}

P11COUNT_EXPORT const char *p11count_name(size_t i)
{
    return i < P11COUNT_N ? names[i] : NULL;
}

/* Copies up to n current counts into out; returns how many were copied. */
P11COUNT_EXPORT size_t p11count_get(unsigned long *out, size_t n)
{
    size_t i;

    for (i = 0; i < n && i < P11COUNT_N; i++)
        out[i] = atomic_load_explicit(&counts[i], memory_order_relaxed);
    return i;
}

static CK_RV load_real(void)
{
    const char *path = getenv("P11COUNT_MODULE");
    void *h;
    CK_C_GetFunctionList get;

    if (real != NULL)
        return CKR_OK;
    if (path == NULL || *path == '\0')
        path = AF_P11KIT_PROXY;
    /* Kept loaded for the life of the process: the benchmark exits with _exit(). */
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "p11count: cannot load %s: %s\n", path, dlerror());
        return CKR_GENERAL_ERROR;
    }
    *(void **)&get = dlsym(h, "C_GetFunctionList");
    if (get == NULL || get(&real) != CKR_OK || real == NULL) {
        fprintf(stderr, "p11count: %s has no usable C_GetFunctionList\n", path);
        real = NULL;
        return CKR_GENERAL_ERROR;
    }
    wrapped = *real;
#define P11COUNT_SET(name) wrapped.name = real->name != NULL ? w_##name : NULL;
    P11COUNT_FUNCS(P11COUNT_SET)
    return CKR_OK;
}

P11COUNT_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list)
{
    CK_RV rv;

    COUNT(C_GetFunctionList);
    if (list == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = load_real();
    if (rv != CKR_OK)
        return rv;
    *list = &wrapped;
    return CKR_OK;
}

/* Runs at exit (or unload): the counts of a whole process, e.g. one `openssl` command. */
__attribute__((destructor)) static void report_at_exit(void)
{
    size_t i;
    int any = 0;

    if (getenv("P11COUNT_REPORT") == NULL)
        return;
    for (i = 0; i < P11COUNT_N; i++) {
        unsigned long n = atomic_load_explicit(&counts[i], memory_order_relaxed);

        if (n == 0)
            continue;
        fprintf(stderr, "%s %s %lu", any ? "," : "p11count: PKCS#11 calls:", names[i], n);
        any = 1;
    }
    fprintf(stderr, any ? "\n" : "p11count: no PKCS#11 calls\n");
}
