/* prov.h - what the parts of attfresh.so share: the provider context, the algorithm tables each
 * operation file exports, error raising with our own reason table, and the debug log.
 * prov.c (init, config, query) owns the context; each operation file owns its table. */
#ifndef ATTFRESH_PROV_H
#define ATTFRESH_PROV_H

#include <stdarg.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include "p11/p11.h"

typedef struct af_prov_ctx_st AF_PROV_CTX;

/* ---- context ---------------------------------------------------------------------------- */
OSSL_LIB_CTX *af_prov_libctx(const AF_PROV_CTX *pc);
const OSSL_CORE_HANDLE *af_prov_handle(const AF_PROV_CTX *pc);
/* The PKCS#11 state of this provider instance (module opens lazily: see af_p11_ready). */
AF_P11 *af_prov_p11(const AF_PROV_CTX *pc);

/* ---- algorithm tables (each NULL-terminated; owned by the file that implements them) ------- */
extern const OSSL_ALGORITHM af_rand_algorithms[];      /* rand.c */
extern const OSSL_ALGORITHM af_store_algorithms[];     /* store.c */
extern const OSSL_ALGORITHM af_keymgmt_algorithms[];   /* keymgmt.c */
extern const OSSL_ALGORITHM af_signature_algorithms[]; /* signature.c */
extern const OSSL_ALGORITHM af_encoder_algorithms[];   /* encoder.c: key reference PEM/DER */
extern const OSSL_ALGORITHM af_decoder_algorithms[];   /* decoder.c: key reference PEM/DER */

/* Registers every OID of include/attfresh/oids.h with the core (objects.c); tolerates names
 * that already exist. Returns 1/0. */
int af_objects_register(AF_PROV_CTX *pc);

/* ---- errors: raised through the core's error upcalls, our library and reason table ---------- */
enum {
    AF_PR_INTERNAL = 1,
    AF_PR_MALLOC,
    AF_PR_CONFIG,            /* bad or unknown configuration key */
    AF_PR_MODULE_LOAD,       /* PKCS#11 module could not be loaded/initialised */
    AF_PR_TOKEN_NOT_FOUND,   /* no token matches */
    AF_PR_LOGIN,             /* C_Login failed (wrong PIN, locked) */
    AF_PR_PIN_SOURCE,        /* PIN source unreadable */
    AF_PR_URI,               /* malformed pkcs11: URI */
    AF_PR_OBJECT_NOT_FOUND,  /* no object matches the URI */
    AF_PR_MECHANISM,         /* token lacks the mechanism */
    AF_PR_KEY_TYPE,          /* key type does not fit the operation */
    AF_PR_SIGN,              /* C_Sign* failed */
    AF_PR_VERIFY,            /* verification failed */
    AF_PR_KEYGEN,            /* C_GenerateKeyPair failed */
    AF_PR_RANDOM,            /* C_GenerateRandom failed */
    AF_PR_SESSION,           /* C_OpenSession / session pool */
    AF_PR_ATTRIBUTE,         /* C_GetAttributeValue failed */
    AF_PR_BAD_PARAM,         /* bad OSSL_PARAM value */
    AF_PR_OPERATION,         /* operation not supported for this key */
    AF_PR_ENCODING,          /* key reference encode/decode */
    AF_PR_CERT_STORE,        /* writing a certificate into the token next to its key */
    AF_PR__MAX
};

const OSSL_ITEM *af_prov_reason_strings(void);

/* Raises reason with printf detail. pc may be NULL only before init finished. */
void af_prov_raise(const AF_PROV_CTX *pc, int reason, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Same, and appends " (CKR_NAME)" for rv. */
void af_prov_raise_rv(const AF_PROV_CTX *pc, int reason, CK_RV rv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- debug log (config: debug-log, debug-level); never given secrets ------------------------- */
enum { AF_LOG_ERROR = 1, AF_LOG_INFO = 2, AF_LOG_DEBUG = 3, AF_LOG_TRACE = 4 };
void af_prov_log(const AF_PROV_CTX *pc, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
