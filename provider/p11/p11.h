/* p11.h - the provider's PKCS#11 layer: module loading (p11-kit proxy by default), tokens,
 * login, the per-token session pool, fork generation, object lookup, attribute reads, CKR names.
 * Everything here is lazy: nothing touches the module until the first operation needs it. */
#ifndef ATTFRESH_P11_H
#define ATTFRESH_P11_H

#include <stddef.h>

#include <openssl/core.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

typedef struct af_prov_ctx_st AF_PROV_CTX;
typedef struct af_p11_st AF_P11;             /* module state of one provider instance */
typedef struct af_p11_token_st AF_P11_TOKEN; /* one slot with a token; lives as long as AF_P11 */

/* Loads and initialises the module on first call, and again in a forked child. Raises an error
 * (with the CKR_ name) and returns 0 on failure. Call at every entry point that needs the token. */
int af_p11_ready(AF_P11 *p11);
/* The module's function list (valid after af_p11_ready). */
CK_FUNCTION_LIST *af_p11_fl(const AF_P11 *p11);
/* Increments in a forked child; objects that cache handles compare it and look up again. */
unsigned int af_p11_generation(const AF_P11 *p11);

/* Token selection. Returns the first token after prev (NULL: from the start) whose CK_TOKEN_INFO
 * matches the token attributes of uri (NULL or no token attributes: any) and the token configured
 * in openssl.cnf (if any). Borrowed pointer. No error raised when none matches. */
AF_P11_TOKEN *af_p11_token_next(AF_P11 *p11, P11KitUri *uri, AF_P11_TOKEN *prev);
const CK_TOKEN_INFO *af_p11_token_info(const AF_P11_TOKEN *tok);
CK_SLOT_ID af_p11_token_slot(const AF_P11_TOKEN *tok);
AF_P11 *af_p11_token_owner(const AF_P11_TOKEN *tok);
/* 1 when the token offers mech (info copied to *info when not NULL). Cached per token. */
int af_p11_token_mech(AF_P11_TOKEN *tok, CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info);

/* Logs the user in once per token (a no-op when the token needs no login or is logged in).
 * PIN precedence: pin_value, pin_source (both from the URI, may be NULL), the configured PIN
 * source, then the passphrase callback. The PIN is cleansed after use and never logged. */
int af_p11_token_login(AF_P11_TOKEN *tok, const char *pin_value, const char *pin_source,
                       OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg);
/* Same; what (a URI with any PIN masked, or NULL) names in error lines what needed the login. */
int af_p11_token_login_for(AF_P11_TOKEN *tok, const char *what, const char *pin_value,
                           const char *pin_source, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg);

/* Borrows an R/W session of the token from its pool (opens one if none is idle). One operation
 * at a time per session; return it with af_p11_session_put, reusable = 0 when its state is
 * unknown (an operation failed half-way): it is then closed. */
int af_p11_session_get(AF_P11_TOKEN *tok, CK_SESSION_HANDLE *out);
void af_p11_session_put(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, int reusable);

/* C_FindObjects* over tmpl; stores up to max handles, *found = how many. Returns 1/0. */
int af_p11_find(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *found);
/* Reads one attribute into a new buffer (*val freed with OPENSSL_free; a 0-length value gives a
 * non-NULL 1-byte buffer). Returns 1/0; 0 with rv in *rv_out for CKR_ATTRIBUTE_TYPE_INVALID etc. */
int af_p11_attr(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len, CK_RV *rv_out);
/* Reads a CK_BBOOL attribute; *out = -1 when the token does not have it. Returns 1/0. */
int af_p11_attr_bool(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, int *out);

/* Full RFC 7512 URI of an object of tok (token, manufacturer, serial, model, object, id, type;
 * never a PIN). type is CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE or (CK_ULONG)-1.
 * Returns a new string (OPENSSL_free) or NULL. */
char *af_p11_object_uri(const AF_P11_TOKEN *tok, const char *label, const unsigned char *id,
                        size_t idlen, CK_OBJECT_CLASS type);

/* Name of a CK_RV ("CKR_PIN_INCORRECT"), or "CKR_0x%lx" text in a static buffer per thread. */
const char *af_ckr_name(CK_RV rv);
/* Name of a mechanism ("CKM_ECDSA") or NULL. */
const char *af_ckm_name(CK_MECHANISM_TYPE mech);

#endif
