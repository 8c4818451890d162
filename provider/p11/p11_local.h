/* p11_local.h - the PKCS#11 layer's private structures, shared by p11_module.c (loading, fork,
 * exit), p11_token.c (tokens, login, session pool) and p11_object.c (lookup, attributes, URIs). */
#ifndef ATTFRESH_P11_LOCAL_H
#define ATTFRESH_P11_LOCAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "p11/p11_ctl.h"

/* Bound of the idle-session stack per token; more concurrent users still work, the surplus
 * sessions are closed when returned. */
#define AF_P11_POOL_MAX 64

/* One loaded PKCS#11 module, shared by every provider instance that names the same path. */
typedef struct af_p11_module_st {
    char *path;
    void *dl;
    CK_FUNCTION_LIST *fl;
    unsigned int refs;
    unsigned int init_gen; /* fork generation of our successful C_Initialize; 0: none */
    int we_initialized;    /* C_Initialize returned CKR_OK (not ALREADY_INITIALIZED) */
    struct af_p11_module_st *next;
} AF_P11_MODULE;

struct af_p11_token_st {
    AF_P11 *owner;
    CK_SLOT_ID slot;
    CK_TOKEN_INFO info;
    pthread_mutex_t lock; /* pool, mechanism cache */
    CK_SESSION_HANDLE idle[AF_P11_POOL_MAX];
    size_t nidle;
    unsigned int pool_gen;
    int mechs_loaded;
    CK_MECHANISM_TYPE *mechs;
    CK_MECHANISM_INFO *mech_info;
    CK_ULONG nmechs;
    pthread_mutex_t login_lock;         /* one login attempt at a time */
    _Atomic unsigned int logged_in_gen; /* generation in which the user is logged in; 0: not */
    CK_SESSION_HANDLE login_session;    /* kept open so the login outlives pooled sessions */
};

struct af_p11_st {
    AF_PROV_CTX *pc;
    char *module_path;
    char *token_label;    /* configured token as a label, or NULL */
    P11KitUri *token_uri; /* configured token as a URI, or NULL */
    char *pin_source;
    char *pin;
    pthread_mutex_t lock; /* setup */
    _Atomic unsigned int ready_gen;
    AF_P11_MODULE *mod;
    AF_P11_TOKEN **tokens;
    size_t ntokens;
    struct af_p11_st *next_live; /* every live instance, for the fork handler */
};

/* Current fork generation (starts at 1). */
unsigned int af_p11_gen_now(void);

/* p11_token.c */
AF_P11_TOKEN *af_p11_token_new(AF_P11 *p11, CK_SLOT_ID slot);
void af_p11_token_free(AF_P11_TOKEN *tok, int close_sessions);
/* Forgets sessions and login (in a forked child: the handles belong to the parent). */
void af_p11_token_reset(AF_P11_TOKEN *tok);

#endif
