/* p11_module.c - loading and initialising PKCS#11 modules (lazily, once per process and fork
 * generation), the fork and exit handlers, and af_p11_ready, the check at every entry point. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "module/prov.h"
#include "p11/p11_local.h"

/* SoftHSM2 makes the rdrand ENGINE the default RAND method in C_Initialize. OpenSSL 3.0 fixes its
 * default RAND method at the first RAND_get_rand_method() call, so asking for it before the
 * module initialises keeps RAND_bytes on the providers (and on ATTFRESH-RAND when configured).
 * The function is deprecated, hence declared here rather than through <openssl/rand.h>. */
const struct rand_meth_st *RAND_get_rand_method(void);

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static AF_P11_MODULE *modules; /* never shrinks: modules stay mapped until the process ends */
static AF_P11 *live;           /* every AF_P11, under modules_lock */
static _Atomic unsigned int fork_gen = 1;
static _Atomic int exiting;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static _Thread_local int nest_depth;

/* The child has one thread; a lock that another parent thread held at fork() would stay locked
 * forever, so every lock of the layer starts afresh. Handles and logins are dropped lazily by
 * af_p11_ready, which sees the new generation. */
static void on_fork_child(void)
{
    static const pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    AF_P11 *p;
    size_t i;

    atomic_fetch_add(&fork_gen, 1);
    modules_lock = fresh;
    for (p = live; p != NULL; p = p->next_live) {
        p->lock = fresh;
        for (i = 0; i < p->ntokens; i++) {
            p->tokens[i]->lock = fresh;
            p->tokens[i]->login_lock = fresh;
        }
    }
}

static void install_fork_handler(void)
{
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

static void on_exit_mark(void)
{
    atomic_store(&exiting, 1);
}

/* Registered on the first module load, i.e. after OpenSSL registered its own atexit cleanup:
 * handlers run in reverse order, so ours marks the exit before OpenSSL tears the provider down. */
static void install_exit_handler(void)
{
    (void)atexit(on_exit_mark);
}

int af_p11_exiting(void)
{
    return atomic_load(&exiting);
}

unsigned int af_p11_gen_now(void)
{
    return atomic_load(&fork_gen);
}

unsigned int af_p11_generation(const AF_P11 *p11)
{
    (void)p11;
    return atomic_load(&fork_gen);
}

void af_p11_nest_enter(void)
{
    nest_depth++;
}

void af_p11_nest_leave(void)
{
    nest_depth--;
}

int af_p11_nested(void)
{
    return nest_depth > 0;
}

int *af_p11_nest_depth(void)
{
    return &nest_depth;
}

CK_FUNCTION_LIST *af_p11_fl(const AF_P11 *p11)
{
    return p11->mod != NULL ? p11->mod->fl : NULL;
}

AF_P11 *af_p11_new(AF_PROV_CTX *pc, const AF_P11_CONF *conf)
{
    AF_P11 *p11 = OPENSSL_zalloc(sizeof(*p11));

    if (p11 == NULL)
        return NULL;
    p11->pc = pc;
    pthread_mutex_init(&p11->lock, NULL);
    p11->module_path =
        OPENSSL_strdup(conf != NULL && conf->module != NULL ? conf->module : AF_P11KIT_PROXY);
    if (p11->module_path == NULL)
        goto err;
    if (conf != NULL && conf->token != NULL) {
        if (strncmp(conf->token, "pkcs11:", 7) == 0) {
            p11->token_uri = p11_kit_uri_new();
            if (p11->token_uri == NULL || p11_kit_uri_parse(conf->token, P11_KIT_URI_FOR_TOKEN,
                                                            p11->token_uri) != P11_KIT_URI_OK) {
                af_prov_raise(pc, AF_PR_CONFIG, "token: malformed pkcs11: URI '%s'", conf->token);
                goto err;
            }
        } else if ((p11->token_label = OPENSSL_strdup(conf->token)) == NULL) {
            goto err;
        }
    }
    if (conf != NULL && conf->pin_source != NULL &&
        (p11->pin_source = OPENSSL_strdup(conf->pin_source)) == NULL)
        goto err;
    if (conf != NULL && conf->pin != NULL && (p11->pin = OPENSSL_strdup(conf->pin)) == NULL)
        goto err;
    pthread_once(&handlers_once, install_fork_handler);
    pthread_mutex_lock(&modules_lock);
    p11->next_live = live;
    live = p11;
    pthread_mutex_unlock(&modules_lock);
    return p11;
err:
    af_p11_free(p11);
    return NULL;
}

/* Finds or loads the module; refs++ (under modules_lock). */
static AF_P11_MODULE *module_get(AF_P11 *p11)
{
    AF_P11_MODULE *m;
    CK_C_GetFunctionList getfl;
    CK_RV rv;
    const char *why;

    pthread_mutex_lock(&modules_lock);
    for (m = modules; m != NULL; m = m->next)
        if (strcmp(m->path, p11->module_path) == 0)
            break;
    if (m == NULL) {
        void *dl;

        pthread_once(&exit_once, install_exit_handler);
        dl = dlopen(p11->module_path, RTLD_NOW | RTLD_LOCAL);
        if (dl == NULL) {
            why = dlerror();
            af_prov_raise(p11->pc, AF_PR_MODULE_LOAD, "cannot load PKCS#11 module '%s': %s",
                          p11->module_path, why != NULL ? why : "dlopen failed");
            goto out;
        }
        getfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
        if (getfl == NULL) {
            af_prov_raise(p11->pc, AF_PR_MODULE_LOAD,
                          "'%s' is not a PKCS#11 module: no C_GetFunctionList", p11->module_path);
            dlclose(dl);
            goto out;
        }
        m = OPENSSL_zalloc(sizeof(*m));
        if (m == NULL || (m->path = OPENSSL_strdup(p11->module_path)) == NULL) {
            OPENSSL_free(m);
            m = NULL;
            dlclose(dl);
            af_prov_raise(p11->pc, AF_PR_MALLOC, "out of memory loading '%s'", p11->module_path);
            goto out;
        }
        rv = getfl(&m->fl);
        if (rv != CKR_OK || m->fl == NULL) {
            af_prov_raise_rv(p11->pc, AF_PR_MODULE_LOAD, rv,
                             "C_GetFunctionList of PKCS#11 module '%s' failed", p11->module_path);
            OPENSSL_free(m->path);
            OPENSSL_free(m);
            m = NULL;
            dlclose(dl);
            goto out;
        }
        m->dl = dl;
        m->next = modules;
        modules = m;
        af_prov_log(p11->pc, AF_LOG_DEBUG, "loaded PKCS#11 module %s (cryptoki %u.%u)", m->path,
                    m->fl->version.major, m->fl->version.minor);
    }
    m->refs++;
out:
    pthread_mutex_unlock(&modules_lock);
    return m;
}

/* C_Initialize once per fork generation (under modules_lock). */
static int module_init(AF_P11 *p11, AF_P11_MODULE *m, unsigned int gen)
{
    CK_C_INITIALIZE_ARGS args;
    CK_RV rv;
    int ok = 1;

    pthread_mutex_lock(&modules_lock);
    if (m->init_gen != gen) {
        memset(&args, 0, sizeof(args));
        args.flags = CKF_OS_LOCKING_OK;
        (void)RAND_get_rand_method();
        /* Modules leave their own noise on the queue (SoftHSM2: a missing rdrand ENGINE). */
        ERR_set_mark();
        rv = m->fl->C_Initialize(&args);
        ERR_pop_to_mark();
        if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
            if (rv == CKR_OK)
                m->we_initialized = 1;
            m->init_gen = gen;
            af_prov_log(p11->pc, AF_LOG_DEBUG, "C_Initialize(%s): %s", m->path, af_ckr_name(rv));
        } else {
            af_prov_raise_rv(p11->pc, AF_PR_MODULE_LOAD, rv,
                             "C_Initialize of PKCS#11 module '%s' failed", m->path);
            ok = 0;
        }
    }
    pthread_mutex_unlock(&modules_lock);
    return ok;
}

static int build_tokens(AF_P11 *p11)
{
    CK_FUNCTION_LIST *fl = p11->mod->fl;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0, i;
    CK_RV rv;
    int ok = 0;

    rv = fl->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK) {
        af_prov_raise_rv(p11->pc, AF_PR_TOKEN_NOT_FOUND, rv, "C_GetSlotList of '%s' failed",
                         p11->module_path);
        return 0;
    }
    if (n == 0)
        return 1; /* no token now; af_p11_token_next finds none and the caller says so */
    slots = OPENSSL_malloc(n * sizeof(*slots));
    if (slots == NULL)
        return 0;
    rv = fl->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        af_prov_raise_rv(p11->pc, AF_PR_TOKEN_NOT_FOUND, rv, "C_GetSlotList of '%s' failed",
                         p11->module_path);
        goto out;
    }
    p11->tokens = OPENSSL_zalloc(n * sizeof(*p11->tokens));
    if (p11->tokens == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        AF_P11_TOKEN *tok = af_p11_token_new(p11, slots[i]);

        if (tok == NULL)
            goto out;
        rv = fl->C_GetTokenInfo(slots[i], &tok->info);
        if (rv != CKR_OK) {
            /* A slot that lost its token between the two calls is simply skipped. */
            af_prov_log(p11->pc, AF_LOG_INFO, "C_GetTokenInfo(slot %lu): %s", slots[i],
                        af_ckr_name(rv));
            af_p11_token_free(tok, 0);
            continue;
        }
        p11->tokens[p11->ntokens++] = tok;
        {
            int len = (int)sizeof(tok->info.label);

            while (len > 0 && tok->info.label[len - 1] == ' ')
                len--;
            af_prov_log(p11->pc, AF_LOG_DEBUG, "slot %lu: token '%.*s'%s", slots[i], len,
                        (const char *)tok->info.label,
                        tok->info.flags & CKF_TOKEN_INITIALIZED ? "" : " (not initialised)");
        }
    }
    ok = 1;
out:
    OPENSSL_free(slots);
    return ok;
}

static int setup(AF_P11 *p11, unsigned int gen)
{
    size_t i;

    if (p11->mod == NULL && (p11->mod = module_get(p11)) == NULL)
        return 0;
    if (!module_init(p11, p11->mod, gen))
        return 0;
    if (p11->tokens == NULL)
        return build_tokens(p11);
    /* A forked child: the parent's sessions and login are not ours; token structs stay (keys
     * hold pointers to them), their info is refreshed. */
    for (i = 0; i < p11->ntokens; i++) {
        af_p11_token_reset(p11->tokens[i]);
        (void)p11->mod->fl->C_GetTokenInfo(p11->tokens[i]->slot, &p11->tokens[i]->info);
    }
    return 1;
}

int af_p11_ready(AF_P11 *p11)
{
    unsigned int gen = atomic_load(&fork_gen);
    int ok;

    if (p11 == NULL)
        return 0;
    if (atomic_load_explicit(&p11->ready_gen, memory_order_acquire) == gen)
        return 1;
    pthread_mutex_lock(&p11->lock);
    if (atomic_load(&p11->ready_gen) == gen) {
        pthread_mutex_unlock(&p11->lock);
        return 1;
    }
    /* SoftHSM2's C_Initialize touches OpenSSL's RNG; with ATTFRESH-RAND as the process RNG
     * that must not come back here (we hold p11->lock). */
    af_p11_nest_enter();
    ok = setup(p11, gen);
    af_p11_nest_leave();
    if (ok)
        atomic_store_explicit(&p11->ready_gen, gen, memory_order_release);
    pthread_mutex_unlock(&p11->lock);
    return ok;
}

void af_p11_free(AF_P11 *p11)
{
    AF_P11 **pp;
    size_t i;
    int owned;

    if (p11 == NULL)
        return;
    pthread_mutex_lock(&modules_lock);
    for (pp = &live; *pp != NULL; pp = &(*pp)->next_live) {
        if (*pp == p11) {
            *pp = p11->next_live;
            break;
        }
    }
    pthread_mutex_unlock(&modules_lock);
    /* Sessions are closed only by the process that opened them, and never during exit. */
    owned = !af_p11_exiting() && p11->mod != NULL &&
            atomic_load(&p11->ready_gen) == atomic_load(&fork_gen);
    for (i = 0; i < p11->ntokens; i++)
        af_p11_token_free(p11->tokens[i], owned);
    OPENSSL_free(p11->tokens);
    if (p11->mod != NULL) {
        pthread_mutex_lock(&modules_lock);
        if (--p11->mod->refs == 0 && owned && p11->mod->we_initialized &&
            p11->mod->init_gen == atomic_load(&fork_gen)) {
            (void)p11->mod->fl->C_Finalize(NULL);
            p11->mod->init_gen = 0;
            p11->mod->we_initialized = 0;
        }
        pthread_mutex_unlock(&modules_lock);
    }
    OPENSSL_free(p11->module_path);
    OPENSSL_free(p11->token_label);
    if (p11->token_uri != NULL)
        p11_kit_uri_free(p11->token_uri);
    OPENSSL_free(p11->pin_source);
    OPENSSL_clear_free(p11->pin, p11->pin != NULL ? strlen(p11->pin) : 0);
    pthread_mutex_destroy(&p11->lock);
    OPENSSL_free(p11);
}
