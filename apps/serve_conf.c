/* serve_conf.c - `attfresh serve`'s settings (serve_conf.h): the key table, the config file
 * reader ("key = value" lines, line-bounded) and the checks that turn the values into the RA and
 * server configurations. Every value is untrusted text: numbers are whole and in range, yes/no
 * words are exact, and the message names the key and the file line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "serve_conf.h"

const AF_SERVE_KEY af_serve_keys[K__COUNT] = {
    {"http", 0, "ADDR:PORT", "plain HTTP listener (CMP, CMC); port 0 = any free port"},
    {"https", 0, "ADDR:PORT", "HTTPS listener (EST, and CMP, CMC)"},
    {"tls-cert", 0, "FILE", "server certificate (PEM, chain after it)"},
    {"tls-key", 0, "FILE|URI", "server key: PEM file or pkcs11: URI"},
    {"tls-pin-file", 0, "F", "PIN for a pkcs11: TLS key / password of an encrypted PEM key"},
    {"client-ca", 0, "FILE", "require TLS client certificates issued by these CAs (PEM)"},
    {"cmp-secret-file", 0, "F", "CMP MAC (PBM) secret: the first line of F"},
    {"cmp-key", 0, "FILE|URI", "CMP signer key (PEM file or pkcs11: URI)"},
    {"cmp-cert", 0, "FILE", "CMP signer certificate"},
    {"cmp-trust", 0, "FILE", "trusted certificates for signature-protected CMP requests"},
    {"profile", 0, "NAME", "profile of paths without p/<name> (draft-08)"},
    {"nonce-len", 0, "N", "nonce length when the request names none, 8..64 (32)"},
    {"expiry", 0, "S", "nonce lifetime in seconds (300)"},
    {"soft-rand", 1, "", "nonces from OpenSSL's software DRBG, not the HSM"},
    {"rand", 0, "NAME", "EVP_RAND of the nonces (ATTFRESH-RAND)"},
    {"rand-propq", 0, "Q", "its property query (provider=attfresh)"},
    {"redis", 0, "HOST:PORT", "share the nonce store through Redis (default: in memory)"},
    {"redis-prefix", 0, "P", "Redis key prefix (attfresh)"},
    {"redis-password-file", 0, "F", "Redis AUTH password: the first line of F"},
    {"max-outstanding", 0, "N", "outstanding nonces in all (1000000)"},
    {"max-per-client", 0, "N", "outstanding nonces per client (16)"},
    {"remember", 0, "S", "answer replays as used/expired for S s after expiry (60)"},
    {"rate-limit", 1, "", "per-client rate limit on (yes); rate-limit = no turns it off"},
    {"rate", 0, "R", "requests per second per client (5)"},
    {"burst", 0, "B", "burst per client (20)"},
    {"empty-nonce-types", 0, "L", "comma list of request type OIDs answered with the empty nonce"},
    {"empty-nonce-labels", 0, "L", "comma list of path labels answered with the empty nonce"},
    {"lenient", 1, "", "decode requests leniently (absent CMP infoValue, ...)"},
    {"max-body", 0, "N", "largest request body in bytes (65536); larger: 413"},
    {"threads", 0, "N", "threads per listener (2)"},
    {"timeout", 0, "S", "idle connection timeout in seconds (30)"},
    {"est-on-http", 1, "", "also serve EST on the plain listener (tests, benchmarks)"},
    {"log", 0, "FILE", "request log (standard error)"},
    {"openssl-conf", 0, "F", "load this OpenSSL config (providers) before starting"},
    /* enrollment: the local CA issues only when the attested CSR passes every check */
    {"ca-cert", 0, "FILE", "enrollment: the CA certificate that issues (PEM)"},
    {"ca-key", 0, "FILE|URI", "enrollment: its key, PEM file or pkcs11: URI"},
    {"ak-trust", 0, "FILE", "enrollment: trust anchors of AK certificates (PEM)"},
    {"policy", 0, "FILE",
     "enrollment: key-claim policy (default: sensitive, never-extractable, local)"},
    {"cert-days", 0, "N", "enrollment: validity of issued certificates in days (365)"},
    {"cert-profile", 0, "P", "enrollment: client, server or device (client)"},
};

static const struct {
    const char *name;
    af_nonce_oid_role role;
} oid_roles[] = {
    {"cmp-request", AF_NONCE_OID_CMP_REQUEST},
    {"cmp-response", AF_NONCE_OID_CMP_RESPONSE},
    {"cmc-request", AF_NONCE_OID_CMC_REQUEST},
    {"cmc-response", AF_NONCE_OID_CMC_RESPONSE},
};

void af_serve_settings_free(serve_settings *s)
{
    size_t i;

    for (i = 0; i < K__COUNT; i++)
        OPENSSL_free(s->val[i]);
    for (i = 0; i < s->noids; i++) {
        OPENSSL_free(s->oid_key[i]);
        OPENSSL_free(s->oid_val[i]);
    }
}

int af_serve_set_key(serve_settings *s, const char *key, const char *val, const char *where)
{
    size_t i;

    for (i = 0; i < K__COUNT; i++)
        if (strcmp(af_serve_keys[i].name, key) == 0) {
            OPENSSL_free(s->val[i]);
            if ((s->val[i] = OPENSSL_strdup(val)) == NULL)
                return af_app_usage("out of memory");
            return 0;
        }
    if (strncmp(key, "oid.", 4) == 0) {
        if (s->noids == SERVE_MAX_OIDS)
            return af_app_usage("%s: more than %d oid.* settings", where, SERVE_MAX_OIDS);
        if ((s->oid_key[s->noids] = OPENSSL_strdup(key + 4)) == NULL ||
            (s->oid_val[s->noids] = OPENSSL_strdup(val)) == NULL)
            return af_app_usage("out of memory");
        s->noids++;
        return 0;
    }
    return af_app_usage("%s: unknown setting '%s' (attfresh serve --help lists them)", where, key);
}

static char *trim(char *p)
{
    char *e;

    while (*p == ' ' || *p == '\t')
        p++;
    e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return p;
}

int af_serve_read_config(serve_settings *s, FILE *f, const char *name)
{
    char line[SERVE_MAX_LINE + 2], where[SERVE_MAX_LINE + 64];
    int lineno = 0, rc = 0;

    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *p, *eq;

        lineno++;
        snprintf(where, sizeof(where), "%.*s:%d", SERVE_MAX_LINE, name, lineno);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = af_app_usage("%s: line longer than %d characters", where, SERVE_MAX_LINE);
            break;
        }
        p = trim(line);
        if (*p == '\0' || *p == '#')
            continue;
        if ((eq = strchr(p, '=')) == NULL) {
            rc = af_app_usage("%s: want \"key = value\"", where);
            break;
        }
        *eq = '\0';
        rc = af_serve_set_key(s, trim(p), trim(eq + 1), where);
    }
    return rc;
}

int af_serve_read_config_file(serve_settings *s, const char *path)
{
    FILE *f = fopen(path, "r");
    int rc;

    if (f == NULL)
        return af_app_usage("cannot open the config file %s: %s", path, strerror(errno));
    rc = af_serve_read_config(s, f, path);
    fclose(f);
    return rc;
}

int af_serve_is_bool_word(const char *v)
{
    static const char *const words[] = {"yes", "no", "true", "false", "on", "off", "1", "0"};
    size_t i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(v, words[i]) == 0)
            return 1;
    return 0;
}

static int parse_bool(const char *v, int *out, const char *key)
{
    if (v == NULL)
        return 1;
    if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
        strcmp(v, "on") == 0)
        *out = 1;
    else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
             strcmp(v, "off") == 0)
        *out = 0;
    else
        return af_app_usage("%s: want yes or no, not '%s'", key, v) == 0;
    return 1;
}

static int parse_num(const char *v, unsigned long long min, unsigned long long max,
                     unsigned long long *out, const char *key)
{
    char *end;
    unsigned long long n;

    if (v == NULL)
        return 1;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (*v == '\0' || *v == '-' || *end != '\0' || errno != 0 || n < min || n > max) {
        af_app_usage("%s: want a whole number %llu..%llu, not '%s'", key, min, max, v);
        return 0;
    }
    *out = n;
    return 1;
}

static int parse_real(const char *v, double *out, const char *key)
{
    char *end;
    double d;

    if (v == NULL)
        return 1;
    errno = 0;
    d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || errno != 0 || !(d > 0) || d > 1e9) {
        af_app_usage("%s: want a positive number, not '%s'", key, v);
        return 0;
    }
    *out = d;
    return 1;
}

int af_serve_apply(const serve_settings *s, AF_RA_CONFIG *ra, AF_RA_SERVER_CONFIG *srv,
                   char *redis_host, size_t redis_host_size)
{
    unsigned long long n;
    const char *v;

    af_ra_config_init(ra);
    af_ra_server_config_init(srv);
    srv->http_addr = s->val[K_HTTP];
    srv->https_addr = s->val[K_HTTPS];
    srv->tls_cert = s->val[K_TLS_CERT];
    srv->tls_key = s->val[K_TLS_KEY];
    srv->tls_pin_file = s->val[K_TLS_PIN_FILE];
    srv->client_ca = s->val[K_CLIENT_CA];
    ra->cmp_secret_file = s->val[K_CMP_SECRET_FILE];
    ra->cmp_key = s->val[K_CMP_KEY];
    ra->cmp_cert = s->val[K_CMP_CERT];
    ra->cmp_trust = s->val[K_CMP_TRUST];
    if (s->val[K_PROFILE] != NULL)
        ra->default_profile = s->val[K_PROFILE];
    if (s->val[K_RAND] != NULL)
        ra->rand_name = s->val[K_RAND];
    if (s->val[K_RAND_PROPQ] != NULL)
        ra->rand_propq = s->val[K_RAND_PROPQ];
    ra->empty_types = s->val[K_EMPTY_TYPES];
    ra->empty_labels = s->val[K_EMPTY_LABELS];
    if (!parse_bool(s->val[K_SOFT_RAND], &ra->soft_rand, "soft-rand") ||
        !parse_bool(s->val[K_RATE_LIMIT], &ra->ratelimit, "rate-limit") ||
        !parse_bool(s->val[K_LENIENT], &ra->lenient, "lenient") ||
        !parse_bool(s->val[K_EST_ON_HTTP], &srv->est_on_http, "est-on-http"))
        return 0;
    n = (unsigned long long)ra->nonce_len;
    if (!parse_num(s->val[K_NONCE_LEN], AF_NONCE_LEN_MIN, AF_NONCE_LEN_MAX, &n, "nonce-len"))
        return 0;
    ra->nonce_len = (int)n;
    n = ra->expiry_s;
    if (!parse_num(s->val[K_EXPIRY], 1, 86400, &n, "expiry"))
        return 0;
    ra->expiry_s = (uint32_t)n;
    n = ra->store.max_total;
    if (!parse_num(s->val[K_MAX_OUTSTANDING], 1, 0x3fffffff, &n, "max-outstanding"))
        return 0;
    ra->store.max_total = (size_t)n;
    n = ra->store.max_per_requester;
    if (!parse_num(s->val[K_MAX_PER_CLIENT], 1, 0x3fffffff, &n, "max-per-client"))
        return 0;
    ra->store.max_per_requester = (size_t)n;
    n = ra->store.remember_s;
    if (!parse_num(s->val[K_REMEMBER], 0, 86400, &n, "remember"))
        return 0;
    ra->store.remember_s = (uint32_t)n;
    if (!parse_real(s->val[K_RATE], &ra->rl.rate_per_s, "rate") ||
        !parse_real(s->val[K_BURST], &ra->rl.burst, "burst"))
        return 0;
    if ((v = s->val[K_REDIS]) != NULL) {
        const char *colon = strrchr(v, ':');

        ra->store.backend = AF_NONCE_STORE_REDIS;
        if (v[0] == '/' || colon == NULL) {
            snprintf(redis_host, redis_host_size, "%s", v);
        } else {
            n = 6379;
            if ((size_t)(colon - v) >= redis_host_size ||
                !parse_num(colon + 1, 1, 65535, &n, "redis"))
                return 0;
            memcpy(redis_host, v, (size_t)(colon - v));
            redis_host[colon - v] = '\0';
            ra->store.redis_port = (int)n;
        }
        ra->store.redis_host = redis_host;
    }
    if (s->val[K_REDIS_PREFIX] != NULL)
        ra->store.redis_prefix = s->val[K_REDIS_PREFIX];
    ra->store.redis_password_file = s->val[K_REDIS_PASSWORD_FILE];
    n = srv->max_body;
    if (!parse_num(s->val[K_MAX_BODY], 1, 16 * 1024 * 1024, &n, "max-body"))
        return 0;
    srv->max_body = (size_t)n;
    n = srv->threads;
    if (!parse_num(s->val[K_THREADS], 1, 256, &n, "threads"))
        return 0;
    srv->threads = (unsigned int)n;
    n = srv->timeout_s;
    if (!parse_num(s->val[K_TIMEOUT], 1, 3600, &n, "timeout"))
        return 0;
    srv->timeout_s = (unsigned int)n;
    /* the CA takes it later (cmd_serve.c); a whole number here, so "30x" is no 30 */
    n = 365;
    if (!parse_num(s->val[K_CERT_DAYS], 1, 7300, &n, "cert-days"))
        return 0;
    if (srv->http_addr == NULL && srv->https_addr == NULL) {
        af_app_usage("serve: give --http ADDR:PORT and/or --https ADDR:PORT");
        return 0;
    }
    if (srv->https_addr != NULL && (srv->tls_cert == NULL || srv->tls_key == NULL)) {
        af_app_usage("serve: --https needs --tls-cert and --tls-key");
        return 0;
    }
    return 1;
}

int af_serve_oid_split(const char *key, char *prof, size_t prof_size, af_nonce_oid_role *role)
{
    const char *dot = strrchr(key, '.');
    size_t j;

    if (dot == NULL || dot == key || (size_t)(dot - key) >= prof_size) {
        af_app_usage("oid.%s: want oid.<profile>.<role>", key);
        return 0;
    }
    memcpy(prof, key, (size_t)(dot - key));
    prof[dot - key] = '\0';
    for (j = 0; j < sizeof(oid_roles) / sizeof(oid_roles[0]); j++)
        if (strcmp(oid_roles[j].name, dot + 1) == 0) {
            *role = oid_roles[j].role;
            return 1;
        }
    af_app_usage("oid.%s: role must be cmp-request, cmp-response, cmc-request or cmc-response",
                 key);
    return 0;
}
