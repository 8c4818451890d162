/* prov.c - attfresh.so's provider core: init (core upcalls, child libctx, configuration),
 * operation queries, provider params, reason strings, error raising and the debug log. Nothing
 * here touches the PKCS#11 module: that opens on first use (p11/p11_module.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#include <openssl/conf.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "attfresh/params.h"
#include "module/prov_local.h"
#include "p11/p11_ctl.h"

int af_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx);

struct af_prov_ctx_st {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx;
    AF_PROV_CONFIG cfg;
    AF_P11 *p11;
    pthread_mutex_t log_lock;
    FILE *log; /* opened on the first message */
    int log_failed;
};

/* The core's functions are the same for every instance in the process. */
static OSSL_FUNC_core_get_params_fn *c_get_params;
static OSSL_FUNC_core_new_error_fn *c_new_error;
static OSSL_FUNC_core_set_error_debug_fn *c_set_error_debug;
static OSSL_FUNC_core_vset_error_fn *c_vset_error;
static OSSL_FUNC_core_obj_create_fn *c_obj_create;
static OSSL_FUNC_core_obj_add_sigid_fn *c_obj_add_sigid;

static OSSL_FUNC_provider_teardown_fn prov_teardown;
static OSSL_FUNC_provider_gettable_params_fn prov_gettable_params;
static OSSL_FUNC_provider_get_params_fn prov_get_params;
static OSSL_FUNC_provider_query_operation_fn prov_query;
static OSSL_FUNC_provider_get_reason_strings_fn prov_reason_strings;

static const OSSL_ITEM reason_strings[] = {
    {AF_PR_INTERNAL, "internal error"},
    {AF_PR_MALLOC, "out of memory"},
    {AF_PR_CONFIG, "bad provider configuration"},
    {AF_PR_MODULE_LOAD, "PKCS#11 module load failed"},
    {AF_PR_TOKEN_NOT_FOUND, "token not found"},
    {AF_PR_LOGIN, "token login failed"},
    {AF_PR_PIN_SOURCE, "PIN unavailable"},
    {AF_PR_URI, "malformed pkcs11 URI"},
    {AF_PR_OBJECT_NOT_FOUND, "object not found"},
    {AF_PR_MECHANISM, "mechanism not supported by the token"},
    {AF_PR_KEY_TYPE, "key type mismatch"},
    {AF_PR_SIGN, "signing in the token failed"},
    {AF_PR_VERIFY, "verification failed"},
    {AF_PR_KEYGEN, "key generation in the token failed"},
    {AF_PR_RANDOM, "token random generation failed"},
    {AF_PR_SESSION, "token session failed"},
    {AF_PR_ATTRIBUTE, "reading a token attribute failed"},
    {AF_PR_BAD_PARAM, "bad parameter"},
    {AF_PR_OPERATION, "operation not supported for this key"},
    {AF_PR_ENCODING, "key reference encoding failed"},
    {AF_PR_CERT_STORE, "storing a certificate in the token failed"},
    {0, NULL},
};

const OSSL_ITEM *af_prov_reason_strings(void)
{
    return reason_strings;
}

/* ---- accessors -------------------------------------------------------------------------- */

OSSL_LIB_CTX *af_prov_libctx(const AF_PROV_CTX *pc)
{
    return pc != NULL ? pc->libctx : NULL;
}

const OSSL_CORE_HANDLE *af_prov_handle(const AF_PROV_CTX *pc)
{
    return pc != NULL ? pc->handle : NULL;
}

AF_P11 *af_prov_p11(const AF_PROV_CTX *pc)
{
    return pc != NULL ? pc->p11 : NULL;
}

const AF_PROV_CONFIG *af_prov_config(const AF_PROV_CTX *pc)
{
    return pc != NULL ? &pc->cfg : NULL;
}

int af_prov_obj_create(const AF_PROV_CTX *pc, const char *oid, const char *sn, const char *ln)
{
    if (pc == NULL || c_obj_create == NULL)
        return 0;
    return c_obj_create(pc->handle, oid, sn, ln);
}

/* ---- debug log -------------------------------------------------------------------------- */

static const char *const level_tag[] = {"", "error", "info", "debug", "trace"};

static void log_v(AF_PROV_CTX *pc, int level, const char *fmt, va_list ap)
{
    FILE *f;

    pthread_mutex_lock(&pc->log_lock);
    if (pc->log == NULL && !pc->log_failed) {
        if (strcmp(pc->cfg.debug_log, "stderr") == 0) {
            pc->log = stderr;
        } else if ((pc->log = fopen(pc->cfg.debug_log, "a")) == NULL) {
            pc->log_failed = 1;
            fprintf(stderr, "attfresh: cannot open debug-log '%s'; logging to stderr\n",
                    pc->cfg.debug_log);
        }
    }
    f = pc->log != NULL ? pc->log : stderr;
    fprintf(f, "attfresh[%ld] %s: ", (long)getpid(), level_tag[level]);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&pc->log_lock);
}

void af_prov_log(const AF_PROV_CTX *pc, int level, const char *fmt, ...)
{
    va_list ap;

    if (pc == NULL || pc->cfg.debug_log == NULL || level > pc->cfg.debug_level ||
        level < AF_LOG_ERROR)
        return;
    va_start(ap, fmt);
    log_v((AF_PROV_CTX *)pc, level, fmt, ap);
    va_end(ap);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void raise_core(const AF_PROV_CTX *pc, int reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (pc != NULL && c_new_error != NULL) {
        c_new_error(pc->handle);
        c_set_error_debug(pc->handle, NULL, 0, NULL);
        c_vset_error(pc->handle, (uint32_t)reason, fmt, ap);
    } else {
        /* Before init has a handle: OpenSSL's own queue, so the text is not lost. */
        ERR_new();
        ERR_set_debug(NULL, 0, NULL);
        ERR_vset_error(ERR_LIB_PROV, ERR_R_INTERNAL_ERROR, fmt, ap);
    }
    va_end(ap);
}

static void raise_msg(const AF_PROV_CTX *pc, int reason, const char *msg, const char *rvname)
{
    if (rvname != NULL)
        raise_core(pc, reason, "%s (%s)", msg, rvname);
    else
        raise_core(pc, reason, "%s", msg);
    af_prov_log(pc, AF_LOG_ERROR, "%s%s%s%s", msg, rvname != NULL ? " (" : "",
                rvname != NULL ? rvname : "", rvname != NULL ? ")" : "");
}

void af_prov_raise(const AF_PROV_CTX *pc, int reason, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    raise_msg(pc, reason, msg, NULL);
}

void af_prov_raise_rv(const AF_PROV_CTX *pc, int reason, CK_RV rv, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    raise_msg(pc, reason, msg, af_ckr_name(rv));
}

/* ---- provider functions ----------------------------------------------------------------- */

static void ctx_free(AF_PROV_CTX *pc)
{
    if (pc == NULL)
        return;
    af_p11_free(pc->p11);
    OSSL_LIB_CTX_free(pc->libctx);
    if (pc->log != NULL && pc->log != stderr)
        fclose(pc->log);
    af_config_clear(&pc->cfg);
    pthread_mutex_destroy(&pc->log_lock);
    OPENSSL_free(pc);
}

static void prov_teardown(void *provctx)
{
    ctx_free(provctx);
}

static const OSSL_PARAM gettable[] = {
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
    OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *prov_gettable_params(void *provctx)
{
    return gettable;
}

static int prov_get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "attfresh PKCS#11 provider"))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, AF_VERSION))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
    if (p != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, "attfresh " AF_VERSION " (" OPENSSL_VERSION_TEXT ", p11-kit)"))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != NULL && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

static const OSSL_ALGORITHM *prov_query(void *provctx, int operation_id, int *no_cache)
{
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_RAND:
        return af_rand_algorithms;
    case OSSL_OP_STORE:
        return af_store_algorithms;
    case OSSL_OP_KEYMGMT:
        return af_keymgmt_algorithms;
    case OSSL_OP_SIGNATURE:
        return af_signature_algorithms;
    case OSSL_OP_ENCODER:
        return af_encoder_algorithms;
    case OSSL_OP_DECODER:
        return af_decoder_algorithms;
    default:
        return NULL;
    }
}

static const OSSL_ITEM *prov_reason_strings(void *provctx)
{
    return reason_strings;
}

static const OSSL_DISPATCH prov_dispatch[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))prov_teardown},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))prov_gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))prov_get_params},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))prov_reason_strings},
    {0, NULL},
};

static void take_core_functions(const OSSL_DISPATCH *in)
{
    for (; in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
            c_get_params = OSSL_FUNC_core_get_params(in);
            break;
        case OSSL_FUNC_CORE_NEW_ERROR:
            c_new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            c_set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            c_vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        case OSSL_FUNC_CORE_OBJ_CREATE:
            c_obj_create = OSSL_FUNC_core_obj_create(in);
            break;
        case OSSL_FUNC_CORE_OBJ_ADD_SIGID:
            c_obj_add_sigid = OSSL_FUNC_core_obj_add_sigid(in);
            break;
        default:
            break;
        }
    }
}

/* OpenSSL 3.0 discards the error queue of a provider that fails to activate from openssl.cnf
 * (even with config_diagnostics), so a configuration mistake is also written to stderr: one
 * line, naming the key, never a PIN. */
static void config_error(AF_PROV_CTX *pc, const char *err)
{
    af_prov_raise(pc, AF_PR_CONFIG, "attfresh provider configuration: %s", err);
    fprintf(stderr, "attfresh: provider not loaded: configuration: %s\n", err);
}

/* Reads our keys from the provider's config section through the core. Returns 1/0 (raised). */
static int load_config(AF_PROV_CTX *pc)
{
    enum { NKEYS = 7 };
    const char *vals[NKEYS] = {NULL};
    const char *name = NULL, *module = NULL, *activate = NULL;
    OSSL_PARAM params[NKEYS + 4];
    char err[512];
    char *conf_file = NULL;
    int i, from_config = 0;

    for (i = 0; i < NKEYS; i++)
        params[i] = OSSL_PARAM_construct_utf8_ptr((char *)af_config_keys[i], (char **)&vals[i], 0);
    params[NKEYS] =
        OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_CORE_PROV_NAME, (char **)&name, 0);
    params[NKEYS + 1] = OSSL_PARAM_construct_utf8_ptr("module", (char **)&module, 0);
    params[NKEYS + 2] = OSSL_PARAM_construct_utf8_ptr("activate", (char **)&activate, 0);
    params[NKEYS + 3] = OSSL_PARAM_construct_end();
    if (c_get_params == NULL || !c_get_params(pc->handle, params)) {
        af_prov_raise(pc, AF_PR_CONFIG, "attfresh: cannot read the provider configuration");
        return 0;
    }
    for (i = 0; i < NKEYS; i++) {
        if (vals[i] == NULL)
            continue;
        from_config = 1;
        if (!af_config_set(&pc->cfg, af_config_keys[i], vals[i], err, sizeof(err))) {
            config_error(pc, err);
            return 0;
        }
    }
    if (!af_config_finish(&pc->cfg, err, sizeof(err))) {
        config_error(pc, err);
        return 0;
    }
    /* OpenSSL 3.0 hands providers only the keys they ask for, so a misspelt key would pass
     * silently: read the section ourselves, but only when a config section loaded us. */
    if (from_config || module != NULL || activate != NULL) {
        const char *env = getenv("OPENSSL_CONF");

        conf_file = env != NULL ? OPENSSL_strdup(env) : CONF_get1_default_config_file();
        if (conf_file != NULL &&
            !af_config_check_file(conf_file, name != NULL ? name : AF_PROVIDER_NAME, err,
                                  sizeof(err))) {
            config_error(pc, err);
            OPENSSL_free(conf_file);
            return 0;
        }
        OPENSSL_free(conf_file);
    }
    return 1;
}

int af_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                     const OSSL_DISPATCH **out, void **provctx)
{
    AF_PROV_CTX *pc;
    AF_P11_CONF pconf;
    char *desc;

    take_core_functions(in);
    pc = OPENSSL_zalloc(sizeof(*pc));
    if (pc == NULL)
        return 0;
    pc->handle = handle;
    pthread_mutex_init(&pc->log_lock, NULL);
    af_config_init(&pc->cfg);
    if (!load_config(pc))
        goto err;
    if (pc->cfg.log_config && (desc = af_config_describe(&pc->cfg)) != NULL) {
        af_prov_log(pc, AF_LOG_INFO, "configuration: %s", desc);
        OPENSSL_free(desc);
    }
    if (pc->cfg.pin != NULL)
        af_prov_log(pc, AF_LOG_ERROR,
                    "warning: literal 'pin' in openssl.cnf; prefer "
                    "pin-source = file:/path or env:NAME");
    pconf.module = pc->cfg.pkcs11_module;
    pconf.token = pc->cfg.token;
    pconf.pin_source = pc->cfg.pin_source;
    pconf.pin = pc->cfg.pin;
    if ((pc->p11 = af_p11_new(pc, &pconf)) == NULL)
        goto err;
    /* Our own code fetches digests etc. from whatever providers the application loaded. */
    if ((pc->libctx = OSSL_LIB_CTX_new_child(handle, in)) == NULL) {
        af_prov_raise(pc, AF_PR_INTERNAL, "attfresh: cannot create the child library context");
        goto err;
    }
    if (!af_objects_register(pc))
        goto err;
    *out = prov_dispatch;
    *provctx = pc;
    return 1;
err:
    ctx_free(pc);
    return 0;
}
