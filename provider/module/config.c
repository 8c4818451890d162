/* config.c - parsing and checking the provider's openssl.cnf keys (see config.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <p11-kit/uri.h>

#include "module/config.h"
#include "module/prov.h"

#define TOKEN_LABEL_MAX 32

const char *const af_config_keys[] = {"pkcs11-module", "token",       "pin-source", "pin",
                                      "debug-log",     "debug-level", "log-config", NULL};

/* Keys OpenSSL's provider loader reads from the same section. */
static const char *const openssl_keys[] = {"module", "activate", "identity", "soft_load", NULL};

static const char *const level_names[] = {NULL, "error", "info", "debug", "trace"};

void af_config_init(AF_PROV_CONFIG *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->debug_level = AF_LOG_ERROR;
}

static void clear_str(char **s, int secret)
{
    if (*s != NULL && secret)
        OPENSSL_clear_free(*s, strlen(*s));
    else
        OPENSSL_free(*s);
    *s = NULL;
}

void af_config_clear(AF_PROV_CONFIG *cfg)
{
    if (cfg == NULL)
        return;
    clear_str(&cfg->pkcs11_module, 0);
    clear_str(&cfg->token, 0);
    clear_str(&cfg->pin_source, 0);
    clear_str(&cfg->pin, 1);
    clear_str(&cfg->debug_log, 0);
    af_config_init(cfg);
}

static int in_list(const char *const *list, const char *key)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, key) == 0)
            return 1;
    return 0;
}

int af_config_key_known(const char *key)
{
    return key != NULL && (in_list(af_config_keys, key) || in_list(openssl_keys, key));
}

static int bad(char *err, size_t errlen, const char *key, const char *value, const char *why)
{
    if (err != NULL && errlen > 0) {
        if (value != NULL)
            snprintf(err, errlen, "bad value '%s' for key '%s': %s", value, key, why);
        else
            snprintf(err, errlen, "bad value for key '%s': %s", key, why);
    }
    return 0;
}

static int set_str(char **dst, const char *value, int secret)
{
    char *v = OPENSSL_strdup(value);

    if (v == NULL)
        return 0;
    clear_str(dst, secret);
    *dst = v;
    return 1;
}

static int env_name_ok(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int token_ok(const char *v, char *err, size_t errlen)
{
    if (strncmp(v, "pkcs11:", 7) == 0) {
        P11KitUri *uri = p11_kit_uri_new();
        int r = uri != NULL ? p11_kit_uri_parse(v, P11_KIT_URI_FOR_TOKEN, uri) : -1;

        if (uri != NULL)
            p11_kit_uri_free(uri);
        if (r != P11_KIT_URI_OK)
            return bad(err, errlen, "token", v, r == -1 ? "out of memory" : p11_kit_uri_message(r));
        return 1;
    }
    if (strlen(v) > TOKEN_LABEL_MAX)
        return bad(err, errlen, "token", v, "a token label has at most 32 characters");
    return 1;
}

int af_config_set(AF_PROV_CONFIG *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    int i;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (key == NULL)
        return bad(err, errlen, "(null)", NULL, "no key");
    if (!in_list(af_config_keys, key)) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "unknown key '%s'", key);
        return 0;
    }
    if (value == NULL || *value == '\0')
        return bad(err, errlen, key, NULL, "empty");
    if (strcmp(key, "pkcs11-module") == 0)
        return set_str(&cfg->pkcs11_module, value, 0);
    if (strcmp(key, "token") == 0)
        return token_ok(value, err, errlen) && set_str(&cfg->token, value, 0);
    if (strcmp(key, "pin-source") == 0) {
        if (strcmp(value, "prompt") != 0 &&
            !(strncmp(value, "file:", 5) == 0 && value[5] != '\0') &&
            !(strncmp(value, "env:", 4) == 0 && env_name_ok(value + 4)))
            return bad(err, errlen, key, value, "expected file:/path, env:NAME or prompt");
        return set_str(&cfg->pin_source, value, 0);
    }
    if (strcmp(key, "pin") == 0)
        return set_str(&cfg->pin, value, 1);
    if (strcmp(key, "debug-log") == 0)
        return set_str(&cfg->debug_log, value, 0);
    if (strcmp(key, "debug-level") == 0) {
        for (i = AF_LOG_ERROR; i <= AF_LOG_TRACE; i++) {
            if (strcmp(value, level_names[i]) == 0) {
                cfg->debug_level = i;
                return 1;
            }
        }
        return bad(err, errlen, key, value, "expected error, info, debug or trace");
    }
    /* log-config */
    if (strcmp(value, "yes") == 0)
        cfg->log_config = 1;
    else if (strcmp(value, "no") == 0)
        cfg->log_config = 0;
    else
        return bad(err, errlen, key, value, "expected yes or no");
    return 1;
}

int af_config_finish(const AF_PROV_CONFIG *cfg, char *err, size_t errlen)
{
    if (cfg->pin != NULL && cfg->pin_source != NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "keys 'pin' and 'pin-source' exclude each other: set one");
        return 0;
    }
    return 1;
}

int af_config_check_file(const char *conf_path, const char *prov_name, char *err, size_t errlen)
{
    CONF *conf;
    const char *init, *provs, *ident;
    STACK_OF(CONF_VALUE) * sk, *keys;
    int i, j, ok = 1;

    if (conf_path == NULL || prov_name == NULL)
        return 1;
    ERR_set_mark();
    conf = NCONF_new(NULL);
    if (conf == NULL || NCONF_load(conf, conf_path, NULL) <= 0)
        goto out; /* OpenSSL reports an unreadable config itself */
    if ((init = NCONF_get_string(conf, NULL, "openssl_conf")) == NULL ||
        (provs = NCONF_get_string(conf, init, "providers")) == NULL ||
        (sk = NCONF_get_section(conf, provs)) == NULL)
        goto out;
    for (i = 0; i < sk_CONF_VALUE_num(sk); i++) {
        CONF_VALUE *cv = sk_CONF_VALUE_value(sk, i);

        ident = NCONF_get_string(conf, cv->value, "identity");
        if (strcmp(ident != NULL ? ident : cv->name, prov_name) != 0)
            continue;
        if ((keys = NCONF_get_section(conf, cv->value)) == NULL)
            continue;
        for (j = 0; j < sk_CONF_VALUE_num(keys); j++) {
            CONF_VALUE *kv = sk_CONF_VALUE_value(keys, j);

            if (!af_config_key_known(kv->name)) {
                if (err != NULL && errlen > 0)
                    snprintf(err, errlen, "unknown key '%s' in section [%s] of %s", kv->name,
                             cv->value, conf_path);
                ok = 0;
                goto out;
            }
        }
    }
out:
    NCONF_free(conf);
    ERR_pop_to_mark();
    return ok;
}

char *af_config_describe(const AF_PROV_CONFIG *cfg)
{
    char buf[2048];

    snprintf(buf, sizeof(buf),
             "pkcs11-module=%s token=%s pin-source=%s pin=%s debug-log=%s debug-level=%s "
             "log-config=%s",
             cfg->pkcs11_module != NULL ? cfg->pkcs11_module : AF_P11KIT_PROXY,
             cfg->token != NULL ? cfg->token : "(any)",
             cfg->pin_source != NULL ? cfg->pin_source : "(none)",
             cfg->pin != NULL ? "****" : "(none)",
             cfg->debug_log != NULL ? cfg->debug_log : "(none)", level_names[cfg->debug_level],
             cfg->log_config ? "yes" : "no");
    return OPENSSL_strdup(buf);
}
