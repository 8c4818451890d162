/* p11test.h - the token tests' own direct PKCS#11 view of the fixture token (through the p11-kit
 * proxy, not through attfresh.so): used to compare what the provider says with what the token
 * itself reports. */
#ifndef AF_P11TEST_H
#define AF_P11TEST_H

#include <p11-kit/pkcs11.h>

/* Loads the p11-kit proxy ($AF_P11KIT_PROXY or p11-kit-proxy.so), initializes it, finds the
 * fixture token's slot by label, opens a R/W session and logs the user in (already logged in is
 * fine). Sets *fl, *slot, *sess; returns 1 on success, 0 on any failure. The module stays loaded
 * for the life of the process; the caller closes the session. */
int af_test_p11_open(CK_FUNCTION_LIST **fl, CK_SLOT_ID *slot, CK_SESSION_HANDLE *sess);

#endif
