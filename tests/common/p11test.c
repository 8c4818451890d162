/* p11test.c - the token tests' direct PKCS#11 session on the fixture token (see p11test.h). */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "p11test.h"
#include "testutil.h"

int af_test_p11_open(CK_FUNCTION_LIST **fl, CK_SLOT_ID *slot, CK_SESSION_HANDLE *sess)
{
    const char *proxy = getenv("AF_P11KIT_PROXY");
    CK_C_GetFunctionList getfl;
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16, i;
    CK_RV rv;
    void *dl;

    dl = dlopen(proxy != NULL ? proxy : "p11-kit-proxy.so", RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL || (getfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList")) == NULL ||
        getfl(fl) != CKR_OK)
        return 0;
    rv = (*fl)->C_Initialize(NULL);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return 0;
    if ((*fl)->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return 0;
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        size_t len = strlen(af_test_token_label());

        if ((*fl)->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            memcmp(ti.label, af_test_token_label(), len) == 0 &&
            (len == 32 || ti.label[len] == ' ')) {
            *slot = slots[i];
            break;
        }
    }
    if (i == n ||
        (*fl)->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, sess) != CKR_OK)
        return 0;
    rv = (*fl)->C_Login(*sess, CKU_USER, (CK_UTF8CHAR_PTR)af_test_token_pin(),
                        strlen(af_test_token_pin()));
    return rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN;
}
