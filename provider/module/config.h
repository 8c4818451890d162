/* config.h - the provider's openssl.cnf keys: strict parsing of each value, the check for
 * unknown keys in the provider's section, and the masked description of the effective
 * configuration. Pure functions (no token, no core), so unit tests call them directly. */
#ifndef ATTFRESH_CONFIG_H
#define ATTFRESH_CONFIG_H

#include <stddef.h>

typedef struct {
    char *pkcs11_module; /* NULL: p11-kit proxy */
    char *token;         /* NULL: any; label or pkcs11: URI */
    char *pin_source;    /* NULL, "prompt", "file:/path", "env:NAME" */
    char *pin;           /* literal PIN (discouraged); cleansed by af_config_clear */
    char *debug_log;     /* NULL: no log; "stderr" or a file path */
    int debug_level;     /* AF_LOG_* (prov.h); default AF_LOG_ERROR */
    int log_config;      /* 1: log the effective configuration at info level */
} AF_PROV_CONFIG;

/* Our keys, in the order they are documented. */
extern const char *const af_config_keys[];

void af_config_init(AF_PROV_CONFIG *cfg);
void af_config_clear(AF_PROV_CONFIG *cfg);
/* Sets key to value after checking it. On a bad value or an unknown key returns 0 and writes
 * one line naming the key (never the value of pin) to err. */
int af_config_set(AF_PROV_CONFIG *cfg, const char *key, const char *value, char *err,
                  size_t errlen);
/* Checks combinations once all keys are set. Returns 1/0 with err as above. */
int af_config_finish(const AF_PROV_CONFIG *cfg, char *err, size_t errlen);
/* 1 when key is ours or one OpenSSL's provider loader handles itself (module, activate, ...). */
int af_config_key_known(const char *key);
/* Reads the config file conf_path and checks every key of the section that loads provider
 * prov_name. Returns 1 when all keys are known or no such section exists, 0 with err set. */
int af_config_check_file(const char *conf_path, const char *prov_name, char *err, size_t errlen);
/* "pkcs11-module=... token=... pin-source=... pin=**** ..." (new string, OPENSSL_free). */
char *af_config_describe(const AF_PROV_CONFIG *cfg);

#endif
