/* fuzz_prov_config.c - libFuzzer target: the provider's configuration parser (af_config_set and
 * af_config_finish), fed "key = value" lines as openssl.cnf would hand them over. Property: every
 * value is accepted or refused with a message naming the key, the PIN never appears in a message
 * or in the described configuration, nothing crashes or leaks. Seeds: tests/fuzz/corpus/prov_config/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "module/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PIN_MARK "S3cr3tP1N"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AF_PROV_CONFIG cfg;
    char err[512], *text, *line, *save = NULL, *desc;

    /* Inputs that spell the mark themselves (in a non-PIN key) cannot tell a leak apart. */
    if (size > 4096 || memmem(data, size, PIN_MARK, strlen(PIN_MARK)) != NULL
        || (text = OPENSSL_strndup((const char *)data, size)) == NULL)
        return 0;
    af_config_init(&cfg);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '='), *key = line, *val;

        if (eq == NULL)
            continue;
        *eq = '\0';
        val = eq + 1;
        err[0] = '\0';
        if (!af_config_set(&cfg, key, val, err, sizeof(err)) && err[0] == '\0')
            abort(); /* a refusal names the key */
        if (strstr(err, PIN_MARK) != NULL)
            abort();
    }
    /* a literal PIN must never be shown */
    err[0] = '\0';
    (void)af_config_set(&cfg, "pin", PIN_MARK, err, sizeof(err));
    if (strstr(err, PIN_MARK) != NULL)
        abort();
    (void)af_config_finish(&cfg, err, sizeof(err));
    if (strstr(err, PIN_MARK) != NULL)
        abort();
    if ((desc = af_config_describe(&cfg)) != NULL) {
        if (strstr(desc, PIN_MARK) != NULL)
            abort();
        OPENSSL_free(desc);
    }
    af_config_clear(&cfg);
    OPENSSL_free(text);
    return 0;
}
