/* fuzz_serve_config.c - libFuzzer target: `attfresh serve`'s config file reader and the checks
 * that turn its values into the RA and server configurations (apps/serve_conf.c), as the command
 * runs them on a --config file. Properties: whatever is accepted is within the documented ranges
 * (nonce length, expiry, store sizes, body size, threads, timeout), every oid.* key splits into a
 * profile and a role or is refused, every refusal is one line, and nothing leaks. Seeds:
 * tests/fuzz/corpus/serve_config/. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "serve_conf.h"
#include "attfresh/nonce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The command's usage line (apps_common.c prints it): here it is formatted and checked to be one
 * line, not printed, so that a fuzzing run stays readable. */
int af_app_usage(const char *fmt, ...)
{
    char line[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (line[0] == '\0' || strchr(line, '\n') != NULL)
        abort();
    return AF_EXIT_USAGE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    serve_settings s;
    AF_RA_CONFIG ra;
    AF_RA_SERVER_CONFIG srv;
    char redis_host[256];
    FILE *f;
    size_t i;

    if (size == 0 || (f = fmemopen((void *)data, size, "r")) == NULL)
        return 0;
    memset(&s, 0, sizeof(s));
    if (af_serve_read_config(&s, f, "fuzz.conf") == 0 &&
        af_serve_apply(&s, &ra, &srv, redis_host, sizeof(redis_host))) {
        if (ra.nonce_len < AF_NONCE_LEN_MIN || ra.nonce_len > AF_NONCE_LEN_MAX || ra.expiry_s < 1 ||
            ra.expiry_s > 86400 || ra.store.max_total < 1 || ra.store.max_per_requester < 1 ||
            srv.max_body < 1 || srv.max_body > 16 * 1024 * 1024 || srv.threads < 1 ||
            srv.threads > 256 || srv.timeout_s < 1 || srv.timeout_s > 3600 ||
            (srv.http_addr == NULL && srv.https_addr == NULL) ||
            (srv.https_addr != NULL && (srv.tls_cert == NULL || srv.tls_key == NULL)))
            abort();
        if (ra.store.redis_host != NULL && strlen(ra.store.redis_host) >= sizeof(redis_host))
            abort();
        for (i = 0; i < s.noids; i++) {
            char prof[64];
            af_nonce_oid_role role;

            if (af_serve_oid_split(s.oid_key[i], prof, sizeof(prof), &role) &&
                (strlen(prof) == 0 || strlen(prof) >= sizeof(prof)))
                abort();
        }
    }
    af_serve_settings_free(&s);
    fclose(f);
    return 0;
}
