/* rand.c - EVP_RAND "ATTFRESH-RAND": every output comes from C_GenerateRandom on the configured
 * token. Built so that it can be OpenSSL's primary generator even though SoftHSM2 itself calls
 * OpenSSL's RNG (see docs/rng.md):
 *  - instantiate touches no token, so creating OpenSSL's DRBG chain never calls the module;
 *  - a per-thread guard (p11_ctl.h) makes a call that comes back from inside the token (the token
 *    asking OpenSSL's RNG, which is us) serve OS entropy instead of recursing into the token;
 *  - there is no lock of ours for OpenSSL to hold across a nested call: enable_locking/lock are
 *    no-ops, the token and our session pool do their own locking. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "attfresh/params.h"
#include "module/prov_local.h"
#include "p11/p11_ctl.h"

#define RAND_STRENGTH 256
#define RAND_MAX_REQUEST 65536

static OSSL_FUNC_rand_newctx_fn rand_newctx;
static OSSL_FUNC_rand_freectx_fn rand_freectx;
static OSSL_FUNC_rand_instantiate_fn rand_instantiate;
static OSSL_FUNC_rand_uninstantiate_fn rand_uninstantiate;
static OSSL_FUNC_rand_generate_fn rand_generate;
static OSSL_FUNC_rand_reseed_fn rand_reseed;
static OSSL_FUNC_rand_nonce_fn rand_nonce;
static OSSL_FUNC_rand_get_seed_fn rand_get_seed;
static OSSL_FUNC_rand_clear_seed_fn rand_clear_seed;
static OSSL_FUNC_rand_enable_locking_fn rand_enable_locking;
static OSSL_FUNC_rand_lock_fn rand_lock;
static OSSL_FUNC_rand_unlock_fn rand_unlock;
static OSSL_FUNC_rand_gettable_ctx_params_fn rand_gettable_ctx_params;
static OSSL_FUNC_rand_get_ctx_params_fn rand_get_ctx_params;
static OSSL_FUNC_rand_settable_ctx_params_fn rand_settable_ctx_params;
static OSSL_FUNC_rand_set_ctx_params_fn rand_set_ctx_params;
static OSSL_FUNC_rand_verify_zeroization_fn rand_verify_zeroization;

typedef struct {
    AF_PROV_CTX *pc;
    _Atomic int state;
    AF_P11_TOKEN *_Atomic tok; /* resolved on first use; tokens live as long as AF_P11 */
    _Atomic int is_parent;     /* has served get_seed: another DRBG draws from us */
    /* The hot path: one session claimed by this generator, so a call costs one atomic exchange
     * instead of two pool lock pairs. A PKCS#11 session serves one thread at a time: whoever
     * finds the claim taken (another thread on a shared ctx) borrows from the pool instead. */
    atomic_flag claimed;
    CK_SESSION_HANDLE sess; /* CK_INVALID_HANDLE: none yet; only touched under claimed */
    unsigned int sess_gen;  /* fork generation sess belongs to */
    CK_FUNCTION_LIST *fl;   /* set with tok */
    int trace;              /* debug-level trace: log every call (decided once, not per call) */
} AF_RAND;

/* C_GenerateRandom calls of this process (the HSM really was asked). */
static _Atomic unsigned long long hsm_calls;

static void *rand_newctx(void *provctx, void *parent, const OSSL_DISPATCH *parent_dispatch)
{
    AF_RAND *r = OPENSSL_zalloc(sizeof(*r));
    const AF_PROV_CONFIG *cfg = af_prov_config(provctx);

    /* A parent is accepted and ignored: every byte comes from the token. */
    if (r == NULL)
        return NULL;
    r->pc = provctx;
    r->trace = cfg->debug_log != NULL && cfg->debug_level >= AF_LOG_TRACE;
    atomic_store(&r->state, EVP_RAND_STATE_UNINITIALISED);
    atomic_flag_clear(&r->claimed);
    r->sess = CK_INVALID_HANDLE;
    return r;
}

/* Gives the claimed session back to the pool (which drops it if it belongs to the parent of a
 * forked child). Called with the claim held or when no other thread can hold it. */
static void release_session(AF_RAND *r)
{
    if (r->sess != CK_INVALID_HANDLE && r->sess_gen == af_p11_generation(af_prov_p11(r->pc)))
        af_p11_session_put(atomic_load(&r->tok), r->sess, 1);
    r->sess = CK_INVALID_HANDLE;
}

static void rand_freectx(void *vctx)
{
    AF_RAND *r = vctx;

    if (r == NULL)
        return;
    release_session(r);
    OPENSSL_free(r);
}

static int rand_instantiate(void *vctx, unsigned int strength, int prediction_resistance,
                            const unsigned char *pstr, size_t pstr_len, const OSSL_PARAM params[])
{
    AF_RAND *r = vctx;

    if (strength > RAND_STRENGTH) {
        af_prov_raise(r->pc, AF_PR_BAD_PARAM, "ATTFRESH-RAND offers at most %d bits of strength",
                      RAND_STRENGTH);
        return 0;
    }
    atomic_store(&r->state, EVP_RAND_STATE_READY);
    return 1;
}

static int rand_uninstantiate(void *vctx)
{
    AF_RAND *r = vctx;

    atomic_store(&r->state, EVP_RAND_STATE_UNINITIALISED);
    if (!atomic_flag_test_and_set(&r->claimed)) {
        release_session(r);
        atomic_flag_clear(&r->claimed);
    }
    return 1;
}

static int os_entropy(unsigned char *out, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(out, len, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        out += n;
        len -= (size_t)n;
    }
    return 1;
}

static AF_P11_TOKEN *rand_token(AF_RAND *r)
{
    AF_P11_TOKEN *tok = atomic_load(&r->tok);
    const AF_PROV_CONFIG *cfg;

    if (tok != NULL)
        return tok;
    if (!af_p11_ready(af_prov_p11(r->pc)))
        return NULL; /* raised: module could not load */
    tok = af_p11_token_next(af_prov_p11(r->pc), NULL, NULL);
    if (tok == NULL) {
        cfg = af_prov_config(r->pc);
        af_prov_raise_rv(r->pc, AF_PR_TOKEN_NOT_FOUND, CKR_TOKEN_NOT_PRESENT,
                         "ATTFRESH-RAND: no token%s%s%s", cfg->token != NULL ? " matches '" : " present",
                         cfg->token != NULL ? cfg->token : "", cfg->token != NULL ? "'" : "");
        return NULL;
    }
    r->fl = af_p11_fl(af_prov_p11(r->pc));
    atomic_store(&r->tok, tok);
    return tok;
}

/* C_GenerateRandom in chunks the token accepts. */
static CK_RV generate_on(AF_RAND *r, CK_SESSION_HANDLE s, unsigned char *out, size_t outlen)
{
    CK_RV rv = CKR_OK;

    while (outlen > 0) {
        CK_ULONG n = outlen > RAND_MAX_REQUEST ? RAND_MAX_REQUEST : (CK_ULONG)outlen;

        if (r->trace)
            af_prov_log(r->pc, AF_LOG_TRACE, "C_GenerateRandom(%lu bytes)", n);
        rv = r->fl->C_GenerateRandom(s, out, n);
        atomic_fetch_add_explicit(&hsm_calls, 1, memory_order_relaxed);
        if (rv != CKR_OK)
            break;
        out += n;
        outlen -= n;
    }
    return rv;
}

/* The shared-ctx case: another thread holds the claimed session, borrow one from the pool. */
static CK_RV generate_pooled(AF_RAND *r, AF_P11_TOKEN *tok, unsigned char *out, size_t outlen,
                             int *raised)
{
    CK_SESSION_HANDLE s;
    CK_RV rv;

    if (!af_p11_session_get(tok, &s)) {
        *raised = 1;
        return CKR_GENERAL_ERROR;
    }
    rv = generate_on(r, s, out, outlen);
    af_p11_session_put(tok, s, rv == CKR_OK);
    return rv;
}

static int token_random(AF_RAND *r, unsigned char *out, size_t outlen)
{
    AF_P11_TOKEN *tok = atomic_load_explicit(&r->tok, memory_order_acquire);
    unsigned int gen;
    CK_RV rv;
    int raised = 0;

    if (tok == NULL && (tok = rand_token(r)) == NULL)
        return 0;
    /* A forked child re-initialises the module (and learns its new generation) here. */
    if (!af_p11_ready(af_prov_p11(r->pc)))
        return 0;
    if (atomic_flag_test_and_set_explicit(&r->claimed, memory_order_acquire)) {
        rv = generate_pooled(r, tok, out, outlen, &raised);
    } else {
        gen = af_p11_generation(af_prov_p11(r->pc));
        if (r->sess != CK_INVALID_HANDLE && r->sess_gen != gen)
            r->sess = CK_INVALID_HANDLE; /* the parent's handle: not ours to use or close */
        if (r->sess == CK_INVALID_HANDLE) {
            if (af_p11_session_get(tok, &r->sess)) {
                r->sess_gen = gen;
            } else {
                r->sess = CK_INVALID_HANDLE;
                raised = 1;
            }
        }
        rv = raised ? CKR_GENERAL_ERROR : generate_on(r, r->sess, out, outlen);
        if (rv != CKR_OK && r->sess != CK_INVALID_HANDLE) {
            /* state unknown after a failure: the pool closes it */
            af_p11_session_put(tok, r->sess, 0);
            r->sess = CK_INVALID_HANDLE;
        }
        atomic_flag_clear_explicit(&r->claimed, memory_order_release);
    }
    if (rv == CKR_OK)
        return 1;
    if (raised)
        return 0;
    if (r->is_parent)
        af_prov_raise_rv(r->pc, AF_PR_RANDOM, rv,
                         "ATTFRESH-RAND as a seed source: C_GenerateRandom failed; the token "
                         "uses OpenSSL's RNG, which is busy building its DRBGs - configure "
                         "'random = ATTFRESH-RAND' instead of 'seed' (docs/rng.md)");
    else
        af_prov_raise_rv(r->pc, AF_PR_RANDOM, rv, "ATTFRESH-RAND: C_GenerateRandom failed");
    return 0;
}

static int rand_generate(void *vctx, unsigned char *out, size_t outlen, unsigned int strength,
                         int prediction_resistance, const unsigned char *adin, size_t adin_len)
{
    AF_RAND *r = vctx;
    int *depth, ok;

    if (atomic_load(&r->state) != EVP_RAND_STATE_READY) {
        af_prov_raise(r->pc, AF_PR_RANDOM, "ATTFRESH-RAND: generator not instantiated");
        return 0;
    }
    if (strength > RAND_STRENGTH) {
        af_prov_raise(r->pc, AF_PR_BAD_PARAM, "ATTFRESH-RAND offers at most %d bits of strength",
                      RAND_STRENGTH);
        return 0;
    }
    /* Called back from inside the token (SoftHSM2 asks OpenSSL's RNG, i.e. us): the token is
     * busy on this thread, so serve the OS source the token would have mixed in anyway. */
    depth = af_p11_nest_depth();
    if (*depth > 0)
        return os_entropy(out, outlen);
    ++*depth;
    ok = token_random(r, out, outlen);
    --*depth;
    return ok;
}

static int rand_reseed(void *vctx, int prediction_resistance, const unsigned char *ent,
                       size_t ent_len, const unsigned char *adin, size_t adin_len)
{
    /* Nothing to reseed: no state of ours, every output is fresh from the token. */
    return atomic_load(&((AF_RAND *)vctx)->state) == EVP_RAND_STATE_READY;
}

static size_t rand_nonce(void *vctx, unsigned char *out, unsigned int strength, size_t min_len,
                         size_t max_len)
{
    if (out == NULL)
        return min_len;
    ((AF_RAND *)vctx)->is_parent = 1; /* only a child DRBG asks its parent for a nonce */
    return rand_generate(vctx, out, min_len, 0, 0, NULL, 0) ? min_len : 0;
}

static size_t rand_get_seed(void *vctx, unsigned char **pout, int entropy, size_t min_len,
                            size_t max_len, int prediction_resistance, const unsigned char *adin,
                            size_t adin_len)
{
    AF_RAND *r = vctx;
    size_t need = entropy > 0 ? ((size_t)entropy + 7) / 8 : 0;
    unsigned char *p;

    if (need < min_len)
        need = min_len;
    if (need > max_len) {
        af_prov_raise(r->pc, AF_PR_BAD_PARAM, "ATTFRESH-RAND: seed of %zu bytes exceeds %zu", need,
                      max_len);
        return 0;
    }
    if ((p = OPENSSL_secure_malloc(need > 0 ? need : 1)) == NULL)
        return 0;
    r->is_parent = 1;
    if (!rand_generate(r, p, need, 0, prediction_resistance, NULL, 0)) {
        OPENSSL_secure_clear_free(p, need > 0 ? need : 1);
        return 0;
    }
    *pout = p;
    return need;
}

static void rand_clear_seed(void *vctx, unsigned char *out, size_t outlen)
{
    OPENSSL_secure_clear_free(out, outlen > 0 ? outlen : 1);
}

/* OpenSSL enables locking on its primary generator. Reporting success without a lock is what
 * keeps OpenSSL from holding anything of ours across a call that the token turns into a nested
 * RAND request; our own state is atomics and the session pool's mutex. */
static int rand_enable_locking(void *vctx)
{
    return 1;
}

static int rand_lock(void *vctx)
{
    return 1;
}

static void rand_unlock(void *vctx)
{
}

static const OSSL_PARAM *rand_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, NULL),
        OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, NULL),
        OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, NULL),
        OSSL_PARAM_uint64(AF_PARAM_RAND_HSM_CALLS, NULL),
        OSSL_PARAM_END,
    };

    return gettable;
}

static int rand_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    AF_RAND *r = vctx;
    OSSL_PARAM *p;

    /* EVP_RAND_generate asks for max_request alone before every request: answer that without
     * walking the whole list (it is a measurable share of a ~1 us token call). */
    if (params != NULL && params[0].key != NULL && params[1].key == NULL &&
        strcmp(params[0].key, OSSL_RAND_PARAM_MAX_REQUEST) == 0)
        return OSSL_PARAM_set_size_t(&params[0], RAND_MAX_REQUEST);
    p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE);
    if (p != NULL && !OSSL_PARAM_set_int(p, atomic_load(&r->state)))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH);
    if (p != NULL && !OSSL_PARAM_set_uint(p, RAND_STRENGTH))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST);
    if (p != NULL && !OSSL_PARAM_set_size_t(p, RAND_MAX_REQUEST))
        return 0;
    p = OSSL_PARAM_locate(params, AF_PARAM_RAND_HSM_CALLS);
    if (p != NULL && !OSSL_PARAM_set_uint64(p, atomic_load(&hsm_calls)))
        return 0;
    return 1;
}

static const OSSL_PARAM *rand_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM settable[] = {OSSL_PARAM_END};

    return settable;
}

static int rand_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    return 1;
}

static int rand_verify_zeroization(void *vctx)
{
    return 1;
}

static const OSSL_DISPATCH rand_functions[] = {
    {OSSL_FUNC_RAND_NEWCTX, (void (*)(void))rand_newctx},
    {OSSL_FUNC_RAND_FREECTX, (void (*)(void))rand_freectx},
    {OSSL_FUNC_RAND_INSTANTIATE, (void (*)(void))rand_instantiate},
    {OSSL_FUNC_RAND_UNINSTANTIATE, (void (*)(void))rand_uninstantiate},
    {OSSL_FUNC_RAND_GENERATE, (void (*)(void))rand_generate},
    {OSSL_FUNC_RAND_RESEED, (void (*)(void))rand_reseed},
    {OSSL_FUNC_RAND_NONCE, (void (*)(void))rand_nonce},
    {OSSL_FUNC_RAND_GET_SEED, (void (*)(void))rand_get_seed},
    {OSSL_FUNC_RAND_CLEAR_SEED, (void (*)(void))rand_clear_seed},
    {OSSL_FUNC_RAND_ENABLE_LOCKING, (void (*)(void))rand_enable_locking},
    {OSSL_FUNC_RAND_LOCK, (void (*)(void))rand_lock},
    {OSSL_FUNC_RAND_UNLOCK, (void (*)(void))rand_unlock},
    {OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS, (void (*)(void))rand_gettable_ctx_params},
    {OSSL_FUNC_RAND_GET_CTX_PARAMS, (void (*)(void))rand_get_ctx_params},
    {OSSL_FUNC_RAND_SETTABLE_CTX_PARAMS, (void (*)(void))rand_settable_ctx_params},
    {OSSL_FUNC_RAND_SET_CTX_PARAMS, (void (*)(void))rand_set_ctx_params},
    {OSSL_FUNC_RAND_VERIFY_ZEROIZATION, (void (*)(void))rand_verify_zeroization},
    {0, NULL},
};

const OSSL_ALGORITHM af_rand_algorithms[] = {
    {AF_RAND_NAME, AF_PROPQ, rand_functions, "HSM random: C_GenerateRandom on the token"},
    {NULL, NULL, NULL, NULL},
};
