/* p11_token.c - tokens of a module: selection (p11-kit URI matching plus the configured token),
 * the cached mechanism list, login once per token with the PIN sources, and the session pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/ui.h>

#include "module/prov.h"
#include "p11/p11_local.h"

#define PIN_MAX 256
/* mech_info[i].flags before C_GetMechanismInfo ran for it (no token sets every flag bit) */
#define MECH_INFO_UNREAD (~(CK_FLAGS)0)

/* The token label without its blank padding, for messages. */
static void token_label(const CK_TOKEN_INFO *info, char out[33])
{
    size_t n = sizeof(info->label);

    memcpy(out, info->label, n);
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
        n--;
    out[n] = '\0';
}

AF_P11_TOKEN *af_p11_token_new(AF_P11 *p11, CK_SLOT_ID slot)
{
    AF_P11_TOKEN *tok = OPENSSL_zalloc(sizeof(*tok));

    if (tok == NULL)
        return NULL;
    tok->owner = p11;
    tok->slot = slot;
    tok->pool_gen = af_p11_gen_now();
    tok->login_session = CK_INVALID_HANDLE;
    pthread_mutex_init(&tok->lock, NULL);
    pthread_mutex_init(&tok->login_lock, NULL);
    return tok;
}

void af_p11_token_free(AF_P11_TOKEN *tok, int close_sessions)
{
    size_t i;

    if (tok == NULL)
        return;
    if (close_sessions && tok->pool_gen == af_p11_gen_now()) {
        CK_FUNCTION_LIST *fl = af_p11_fl(tok->owner);

        for (i = 0; i < tok->nidle; i++)
            (void)fl->C_CloseSession(tok->idle[i]);
        if (tok->login_session != CK_INVALID_HANDLE &&
            atomic_load(&tok->logged_in_gen) == af_p11_gen_now())
            (void)fl->C_CloseSession(tok->login_session);
    }
    OPENSSL_free(tok->mechs);
    OPENSSL_free(tok->mech_info);
    pthread_mutex_destroy(&tok->lock);
    pthread_mutex_destroy(&tok->login_lock);
    OPENSSL_free(tok);
}

void af_p11_token_reset(AF_P11_TOKEN *tok)
{
    pthread_mutex_lock(&tok->lock);
    tok->nidle = 0;
    tok->pool_gen = af_p11_gen_now();
    pthread_mutex_unlock(&tok->lock);
    atomic_store(&tok->logged_in_gen, 0);
    tok->login_session = CK_INVALID_HANDLE;
}

const CK_TOKEN_INFO *af_p11_token_info(const AF_P11_TOKEN *tok)
{
    return &tok->info;
}

CK_SLOT_ID af_p11_token_slot(const AF_P11_TOKEN *tok)
{
    return tok->slot;
}

AF_P11 *af_p11_token_owner(const AF_P11_TOKEN *tok)
{
    return tok->owner;
}

static int token_configured(const AF_P11 *p11, const AF_P11_TOKEN *tok)
{
    char label[33];

    if (p11->token_uri != NULL)
        return p11_kit_uri_match_token_info(p11->token_uri, &tok->info) == 1;
    if (p11->token_label != NULL) {
        token_label(&tok->info, label);
        return strcmp(label, p11->token_label) == 0;
    }
    return 1;
}

AF_P11_TOKEN *af_p11_token_next(AF_P11 *p11, P11KitUri *uri, AF_P11_TOKEN *prev)
{
    size_t i = 0;

    if (p11 == NULL || !af_p11_ready(p11))
        return NULL;
    if (prev != NULL) {
        while (i < p11->ntokens && p11->tokens[i] != prev)
            i++;
        i++;
    }
    for (; i < p11->ntokens; i++) {
        AF_P11_TOKEN *tok = p11->tokens[i];

        /* SoftHSM2 always offers one empty slot; an uninitialised token holds nothing. */
        if (!(tok->info.flags & CKF_TOKEN_INITIALIZED) || !token_configured(p11, tok))
            continue;
        if (uri != NULL && p11_kit_uri_match_token_info(uri, &tok->info) != 1)
            continue;
        return tok;
    }
    return NULL;
}

static int load_mechs(AF_P11_TOKEN *tok)
{
    CK_FUNCTION_LIST *fl = af_p11_fl(tok->owner);
    CK_ULONG n = 0, i;
    CK_RV rv;

    rv = fl->C_GetMechanismList(tok->slot, NULL, &n);
    if (rv != CKR_OK)
        goto fail;
    if (n > 0) {
        tok->mechs = OPENSSL_malloc(n * sizeof(*tok->mechs));
        tok->mech_info = OPENSSL_zalloc(n * sizeof(*tok->mech_info));
        if (tok->mechs == NULL || tok->mech_info == NULL)
            return 0;
        rv = fl->C_GetMechanismList(tok->slot, tok->mechs, &n);
        if (rv != CKR_OK)
            goto fail;
        /* C_GetMechanismInfo waits until someone asks about that mechanism: a process signs
         * with one or two of the token's ~60 (see af_p11_token_mech). */
        for (i = 0; i < n; i++)
            tok->mech_info[i].flags = MECH_INFO_UNREAD;
    }
    tok->nmechs = n;
    tok->mechs_loaded = 1;
    return 1;
fail:
    af_prov_raise_rv(tok->owner->pc, AF_PR_MECHANISM, rv, "C_GetMechanismList(slot %lu) failed",
                     tok->slot);
    return 0;
}

int af_p11_token_mech(AF_P11_TOKEN *tok, CK_MECHANISM_TYPE mech, CK_MECHANISM_INFO *info)
{
    CK_ULONG i;
    int found = 0;

    if (tok == NULL || !af_p11_ready(tok->owner))
        return 0;
    pthread_mutex_lock(&tok->lock);
    if (tok->mechs_loaded || load_mechs(tok)) {
        for (i = 0; i < tok->nmechs; i++) {
            if (tok->mechs[i] == mech) {
                if (info != NULL && tok->mech_info[i].flags == MECH_INFO_UNREAD &&
                    af_p11_fl(tok->owner)->C_GetMechanismInfo(tok->slot, mech,
                                                             &tok->mech_info[i]) != CKR_OK)
                    memset(&tok->mech_info[i], 0, sizeof(tok->mech_info[i]));
                if (info != NULL)
                    *info = tok->mech_info[i];
                found = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&tok->lock);
    return found;
}

/* ---- PIN sources ------------------------------------------------------------------------ */

static int pin_from_file(AF_P11_TOKEN *tok, const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        af_prov_raise(tok->owner->pc, AF_PR_PIN_SOURCE, "cannot read PIN file '%s'", path);
        return 0;
    }
    if (fgets(buf, (int)size, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    n = strlen(buf);
    if (n == size - 1 && buf[n - 1] != '\n') {
        OPENSSL_cleanse(buf, size);
        af_prov_raise(tok->owner->pc, AF_PR_PIN_SOURCE, "PIN file '%s': first line too long", path);
        return 0;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n == 0) {
        af_prov_raise(tok->owner->pc, AF_PR_PIN_SOURCE, "PIN file '%s' is empty", path);
        return 0;
    }
    return 1;
}

static int pin_from_prompt(AF_P11_TOKEN *tok, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg,
                           char *buf, size_t size)
{
    char label[33], info[80];
    size_t len = 0;

    token_label(&tok->info, label);
    snprintf(info, sizeof(info), "PIN for token '%s'", label);
    if (pw_cb != NULL) {
        OSSL_PARAM params[2];

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PASSPHRASE_PARAM_INFO, info, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (!pw_cb(buf, size - 1, &len, params, pw_cbarg) || len == 0) {
            af_prov_raise(tok->owner->pc, AF_PR_PIN_SOURCE, "no PIN entered for token '%s'", label);
            return 0;
        }
        buf[len] = '\0';
        return 1;
    }
    /* No callback from the application (e.g. the PIN is needed outside a key load): ask on the
     * terminal through OpenSSL's UI. */
    strcat(info, ": ");
    if (UI_UTIL_read_pw_string(buf, (int)size, info, 0) != 0 || buf[0] == '\0') {
        af_prov_raise(tok->owner->pc, AF_PR_PIN_SOURCE, "no PIN entered for token '%s'", label);
        return 0;
    }
    return 1;
}

/* One PIN source: "file:/path", "/path", "env:NAME" or "prompt". */
static int pin_from_source(AF_P11_TOKEN *tok, const char *src, OSSL_PASSPHRASE_CALLBACK *pw_cb,
                           void *pw_cbarg, char *buf, size_t size)
{
    if (strncmp(src, "file:", 5) == 0)
        return pin_from_file(tok, src + 5, buf, size);
    if (src[0] == '/')
        return pin_from_file(tok, src, buf, size);
    if (strncmp(src, "env:", 4) == 0) {
        const char *v = getenv(src + 4);

        if (v == NULL || *v == '\0' || strlen(v) >= size) {
            af_prov_raise(tok->owner->pc, AF_PR_PIN_SOURCE,
                          "PIN environment variable '%s' is unset, empty or too long", src + 4);
            return 0;
        }
        strcpy(buf, v);
        return 1;
    }
    if (strcmp(src, "prompt") == 0)
        return pin_from_prompt(tok, pw_cb, pw_cbarg, buf, size);
    af_prov_raise(tok->owner->pc, AF_PR_PIN_SOURCE,
                  "unsupported PIN source '%s' (use file:, env: or prompt)", src);
    return 0;
}

static int get_pin(AF_P11_TOKEN *tok, const char *pin_value, const char *pin_source,
                   OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg, char *buf, size_t size)
{
    const AF_P11 *p11 = tok->owner;
    char label[33];

    if (pin_value != NULL) {
        if (strlen(pin_value) >= size) {
            af_prov_raise(p11->pc, AF_PR_PIN_SOURCE, "pin-value too long");
            return 0;
        }
        strcpy(buf, pin_value);
        return 1;
    }
    if (pin_source != NULL)
        return pin_from_source(tok, pin_source, pw_cb, pw_cbarg, buf, size);
    if (p11->pin_source != NULL)
        return pin_from_source(tok, p11->pin_source, pw_cb, pw_cbarg, buf, size);
    if (p11->pin != NULL) {
        if (strlen(p11->pin) >= size) {
            af_prov_raise(p11->pc, AF_PR_PIN_SOURCE, "configured pin too long");
            return 0;
        }
        strcpy(buf, p11->pin);
        return 1;
    }
    if (pw_cb != NULL)
        return pin_from_prompt(tok, pw_cb, pw_cbarg, buf, size);
    token_label(&tok->info, label);
    af_prov_raise(p11->pc, AF_PR_PIN_SOURCE,
                  "token '%s' needs a PIN: set pin-source in openssl.cnf or pin-source/pin-value "
                  "in the pkcs11: URI",
                  label);
    return 0;
}

int af_p11_token_login(AF_P11_TOKEN *tok, const char *pin_value, const char *pin_source,
                       OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    return af_p11_token_login_for(tok, NULL, pin_value, pin_source, pw_cb, pw_cbarg);
}

int af_p11_token_login_for(AF_P11_TOKEN *tok, const char *what, const char *pin_value,
                           const char *pin_source, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    /* " for <uri>" in messages, so the line says which key needed the login */
    const char *for_ = what != NULL ? " for " : "", *w = what != NULL ? what : "";
    CK_FUNCTION_LIST *fl;
    unsigned int gen;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    char pin[PIN_MAX], label[33];
    CK_RV rv;
    int ok = 0;

    if (tok == NULL || !af_p11_ready(tok->owner))
        return 0;
    if (!(tok->info.flags & CKF_LOGIN_REQUIRED))
        return 1;
    gen = af_p11_gen_now();
    if (atomic_load(&tok->logged_in_gen) == gen)
        return 1;
    pthread_mutex_lock(&tok->login_lock);
    if (atomic_load(&tok->logged_in_gen) == gen) {
        pthread_mutex_unlock(&tok->login_lock);
        return 1;
    }
    fl = af_p11_fl(tok->owner);
    token_label(&tok->info, label);
    pin[0] = '\0';
    /* This session stays open for the life of the login: closing a token's last session logs
     * the user out, and the pool may close all of its own. */
    rv = fl->C_OpenSession(tok->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        af_prov_raise_rv(tok->owner->pc, AF_PR_SESSION, rv,
                         "C_OpenSession on token '%s'%s%s failed", label, for_, w);
        goto out;
    }
    if (tok->info.flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
        rv = fl->C_Login(s, CKU_USER, NULL, 0);
    } else {
        if (!get_pin(tok, pin_value, pin_source, pw_cb, pw_cbarg, pin, sizeof(pin)))
            goto out;
        af_p11_nest_enter();
        rv = fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
        af_p11_nest_leave();
    }
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        af_prov_raise_rv(tok->owner->pc, AF_PR_LOGIN, rv, "login to token '%s'%s%s failed%s",
                         label, for_, w,
                         rv == CKR_PIN_INCORRECT  ? ": wrong PIN"
                         : rv == CKR_PIN_LOCKED   ? ": PIN locked"
                         : rv == CKR_PIN_EXPIRED  ? ": PIN expired"
                         : rv == CKR_PIN_LEN_RANGE ? ": PIN length out of range"
                                                  : "");
        goto out;
    }
    tok->login_session = s;
    s = CK_INVALID_HANDLE;
    atomic_store(&tok->logged_in_gen, gen);
    af_prov_log(tok->owner->pc, AF_LOG_DEBUG, "logged in to token '%s'", label);
    ok = 1;
out:
    if (s != CK_INVALID_HANDLE)
        (void)fl->C_CloseSession(s);
    OPENSSL_cleanse(pin, sizeof(pin));
    pthread_mutex_unlock(&tok->login_lock);
    return ok;
}

/* ---- session pool ----------------------------------------------------------------------- */

int af_p11_session_get(AF_P11_TOKEN *tok, CK_SESSION_HANDLE *out)
{
    unsigned int gen = af_p11_gen_now();
    char label[33];
    CK_RV rv;

    if (tok == NULL || out == NULL || !af_p11_ready(tok->owner))
        return 0;
    pthread_mutex_lock(&tok->lock);
    if (tok->pool_gen != gen) { /* handles of the parent process: forget them */
        tok->nidle = 0;
        tok->pool_gen = gen;
    }
    if (tok->nidle > 0) {
        *out = tok->idle[--tok->nidle];
        pthread_mutex_unlock(&tok->lock);
        return 1;
    }
    pthread_mutex_unlock(&tok->lock);
    rv = af_p11_fl(tok->owner)
             ->C_OpenSession(tok->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, out);
    if (rv == CKR_TOKEN_WRITE_PROTECTED)
        rv = af_p11_fl(tok->owner)->C_OpenSession(tok->slot, CKF_SERIAL_SESSION, NULL, NULL, out);
    if (rv != CKR_OK) {
        token_label(&tok->info, label);
        af_prov_raise_rv(tok->owner->pc, AF_PR_SESSION, rv, "C_OpenSession on token '%s' failed",
                         label);
        return 0;
    }
    return 1;
}

void af_p11_session_put(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, int reusable)
{
    unsigned int gen = af_p11_gen_now();

    if (tok == NULL || s == CK_INVALID_HANDLE)
        return;
    if (reusable) {
        pthread_mutex_lock(&tok->lock);
        if (tok->pool_gen == gen && tok->nidle < AF_P11_POOL_MAX) {
            tok->idle[tok->nidle++] = s;
            pthread_mutex_unlock(&tok->lock);
            return;
        }
        pthread_mutex_unlock(&tok->lock);
    }
    if (!af_p11_exiting() && tok->pool_gen == gen)
        (void)af_p11_fl(tok->owner)->C_CloseSession(s);
}
