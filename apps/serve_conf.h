/* serve_conf.h - `attfresh serve`'s settings: every key (config file "key = value" lines and the
 * same keys as --options), the config file reader and the step that turns the settings into the
 * RA and server configurations. Apart from cmd_serve.c so that the fuzz target
 * tests/fuzz/fuzz_serve_config.c can drive the same code. */
#ifndef AF_APPS_SERVE_CONF_H
#define AF_APPS_SERVE_CONF_H

#include <stdio.h>

#include "attfresh/server.h"

#define SERVE_MAX_LINE 1024
#define SERVE_MAX_OIDS 32

/* Every setting, by its config key; options are "--<key>". A flag (no value) is a yes/no key
 * that an option switches on without an argument. */
enum {
    K_HTTP,
    K_HTTPS,
    K_TLS_CERT,
    K_TLS_KEY,
    K_TLS_PIN_FILE,
    K_CLIENT_CA,
    K_CMP_SECRET_FILE,
    K_CMP_KEY,
    K_CMP_CERT,
    K_CMP_TRUST,
    K_PROFILE,
    K_NONCE_LEN,
    K_EXPIRY,
    K_SOFT_RAND,
    K_RAND,
    K_RAND_PROPQ,
    K_REDIS,
    K_REDIS_PREFIX,
    K_REDIS_PASSWORD_FILE,
    K_MAX_OUTSTANDING,
    K_MAX_PER_CLIENT,
    K_REMEMBER,
    K_RATE_LIMIT,
    K_RATE,
    K_BURST,
    K_EMPTY_TYPES,
    K_EMPTY_LABELS,
    K_LENIENT,
    K_MAX_BODY,
    K_THREADS,
    K_TIMEOUT,
    K_EST_ON_HTTP,
    K_LOG,
    K_OPENSSL_CONF,
    /* enrollment (attfresh/enroll.h) */
    K_CA_CERT,
    K_CA_KEY,
    K_AK_TRUST,
    K_POLICY,
    K_CERT_DAYS,
    K_CERT_PROFILE,
    K__COUNT
};

typedef struct {
    const char *name;
    int flag; /* a yes/no key that an option switches on without an argument */
    const char *arg;
    const char *help;
} AF_SERVE_KEY;

extern const AF_SERVE_KEY af_serve_keys[K__COUNT];

typedef struct {
    char *val[K__COUNT];
    /* oid.<profile>.<role> = OID */
    char *oid_key[SERVE_MAX_OIDS];
    char *oid_val[SERVE_MAX_OIDS];
    size_t noids;
} serve_settings;

/* Frees what the settings hold (not s itself). */
void af_serve_settings_free(serve_settings *s);
/* key = value (a key of af_serve_keys, or oid.<profile>.<role>); where names the source in the
 * usage message. 0 or the usage exit code (message printed). */
int af_serve_set_key(serve_settings *s, const char *key, const char *val, const char *where);
/* "key = value" lines from f ('#' comment lines and blank lines skipped; at most SERVE_MAX_LINE
 * characters a line); name is the file's name for messages. 0 or the usage exit code. */
int af_serve_read_config(serve_settings *s, FILE *f, const char *name);
/* The same from a file. */
int af_serve_read_config_file(serve_settings *s, const char *path);
/* Fills the RA and server configurations from the settings (redis_host: room for the Redis host
 * name the store config points to); 1, or 0 with the usage message printed. */
int af_serve_apply(const serve_settings *s, AF_RA_CONFIG *ra, AF_RA_SERVER_CONFIG *srv,
                   char *redis_host, size_t redis_host_size);
/* 1 when v is a yes/no word (yes no true false on off 1 0): "--rate-limit no" then takes it as
 * the flag's value. */
int af_serve_is_bool_word(const char *v);
/* Splits an oid.* key ("<profile>.<role>", after "oid.") into the profile (into prof) and the
 * role; 1, or 0 with the usage message printed. */
int af_serve_oid_split(const char *key, char *prof, size_t prof_size, af_nonce_oid_role *role);

#endif
