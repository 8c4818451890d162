/* p11_ctl.h - what only the provider core (prov.c, rand.c) uses of the PKCS#11 layer: creating
 * and freeing the per-instance state, and the per-thread "inside the token" guard that breaks
 * the token -> OpenSSL RNG -> ATTFRESH-RAND -> token cycle. The contract for operations is p11.h.
 */
#ifndef ATTFRESH_P11_CTL_H
#define ATTFRESH_P11_CTL_H

#include "p11/p11.h"

/* What the provider configuration tells the PKCS#11 layer; strings are copied. */
typedef struct {
    const char *module;     /* NULL: the p11-kit proxy (AF_P11KIT_PROXY) */
    const char *token;      /* NULL: any token; a label or a pkcs11: URI */
    const char *pin_source; /* NULL, "prompt", "file:/path" or "env:NAME" */
    const char *pin;        /* NULL or a literal PIN (cleansed on free) */
} AF_P11_CONF;

/* Cheap: copies the configuration, registers the fork handler; touches no module. */
AF_P11 *af_p11_new(AF_PROV_CTX *pc, const AF_P11_CONF *conf);
/* Closes pooled sessions and finalises the module when this was its last user, except while
 * the process is exiting (SoftHSM2 crashes in C_CloseSession/C_Finalize then). NULL is fine. */
void af_p11_free(AF_P11 *p11);

/* Nesting guard. enter/leave bracket every call into the module that may call back into
 * OpenSSL's RNG; nested() tells ATTFRESH-RAND to serve OS entropy instead of the token. */
void af_p11_nest_enter(void);
void af_p11_nest_leave(void);
int af_p11_nested(void);
/* This thread's nesting depth, for callers on a hot path (one TLS lookup instead of three). */
int *af_p11_nest_depth(void);

/* 1 once the process is running its atexit handlers (see af_p11_free). */
int af_p11_exiting(void);

#endif
