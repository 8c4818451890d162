/* cmd_serve.c - `attfresh serve`: the RA responder (CMP, EST, CMC) from a config file of
 * "key = value" lines and the same keys as --options (options win); prints the bound URLs, then
 * serves until SIGTERM or SIGINT and shuts down cleanly. docs/ra-server.md lists every key. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "apps.h"
#include "attfresh/enroll.h"
#include "attfresh/err.h"
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

static const struct {
    const char *name;
    int flag;
    const char *arg;
    const char *help;
} keys[K__COUNT] = {
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

typedef struct {
    char *val[K__COUNT];
    /* oid.<profile>.<role> = OID */
    char *oid_key[SERVE_MAX_OIDS];
    char *oid_val[SERVE_MAX_OIDS];
    size_t noids;
} serve_settings;

static void usage(FILE *out)
{
    size_t i;

    fprintf(out,
            "usage: attfresh serve --http ADDR:PORT [--https ADDR:PORT --tls-cert F --tls-key "
            "F|URI] [--config F] [OPTIONS]\n\n"
            "Runs the RA nonce responder: CMP POST /.well-known/cmp[/p/<profile>][/getnonce],\n"
            "CMC POST /cmc[/p/<profile>], EST /.well-known/est[/<label>]/nonce (HTTPS).\n"
            "Prints the bound URLs, serves until SIGTERM/SIGINT. See docs/ra-server.md.\n\n"
            "  --config FILE                settings as \"key = value\" lines (keys as below)\n");
    for (i = 0; i < K__COUNT; i++) {
        char opt[48];

        snprintf(opt, sizeof(opt), "--%s %s", keys[i].name, keys[i].arg);
        fprintf(out, "  %-28s %s\n", opt, keys[i].help);
    }
    fprintf(out, "  (config only) oid.<profile>.<cmp-request|cmp-response|cmc-request|"
                 "cmc-response> = OID\n  --help                       this text\n");
}

static void settings_free(serve_settings *s)
{
    size_t i;

    for (i = 0; i < K__COUNT; i++)
        OPENSSL_free(s->val[i]);
    for (i = 0; i < s->noids; i++) {
        OPENSSL_free(s->oid_key[i]);
        OPENSSL_free(s->oid_val[i]);
    }
}

static int set_key(serve_settings *s, const char *key, const char *val, const char *where)
{
    size_t i;

    for (i = 0; i < K__COUNT; i++)
        if (strcmp(keys[i].name, key) == 0) {
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

/* "key = value" lines; '#' starts a comment line; blank lines are skipped. */
static int read_config(serve_settings *s, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[SERVE_MAX_LINE + 2], where[SERVE_MAX_LINE + 64];
    int lineno = 0, rc = 0;

    if (f == NULL)
        return af_app_usage("cannot open the config file %s: %s", path, strerror(errno));
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *p, *eq;

        lineno++;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
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
        rc = set_key(s, trim(p), trim(eq + 1), where);
    }
    fclose(f);
    return rc;
}

static int is_bool_word(const char *v)
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

/* Fills the RA and server configurations from the settings; 1/0 (usage message printed). */
static int apply(const serve_settings *s, AF_RA_CONFIG *ra, AF_RA_SERVER_CONFIG *srv,
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

static int apply_oids(AF_RA *ra, const serve_settings *s)
{
    size_t i, j;

    for (i = 0; i < s->noids; i++) {
        char prof[64];
        const char *dot = strrchr(s->oid_key[i], '.');

        if (dot == NULL || (size_t)(dot - s->oid_key[i]) >= sizeof(prof)) {
            af_app_usage("oid.%s: want oid.<profile>.<role>", s->oid_key[i]);
            return 0;
        }
        memcpy(prof, s->oid_key[i], (size_t)(dot - s->oid_key[i]));
        prof[dot - s->oid_key[i]] = '\0';
        for (j = 0; j < sizeof(oid_roles) / sizeof(oid_roles[0]); j++)
            if (strcmp(oid_roles[j].name, dot + 1) == 0)
                break;
        if (j == sizeof(oid_roles) / sizeof(oid_roles[0])) {
            af_app_usage("oid.%s: role must be cmp-request, cmp-response, cmc-request or "
                         "cmc-response",
                         s->oid_key[i]);
            return 0;
        }
        if (!af_ra_set_profile_oid(ra, prof, oid_roles[j].role, s->oid_val[i])) {
            af_app_fail("oid.%s", s->oid_key[i]);
            return 0;
        }
    }
    return 1;
}

/* "http://127.0.0.1:8080/" with the port actually bound (the option may have said 0). Scripts
 * read these lines to find the server. */
static void print_url(const char *scheme, const char *addr, int port)
{
    const char *colon;

    if (addr == NULL || port == 0)
        return;
    colon = strrchr(addr, ':');
    printf("%s://%.*s:%d/\n", scheme, (int)(colon - addr), addr, port);
}

/* Enrollment settings (attfresh/enroll.h): a CA with --ca-cert and --ca-key, AK anchors, policy.
 * Without a CA the RA only hands out nonces and refuses certification requests. */
static int setup_enroll(AF_RA *ra, const serve_settings *s)
{
    AF_RA_ENROLL *e;
    AF_CA *ca;

    if (s->val[K_CA_CERT] == NULL && s->val[K_CA_KEY] == NULL)
        return 1;
    if (s->val[K_CA_CERT] == NULL || s->val[K_CA_KEY] == NULL || s->val[K_AK_TRUST] == NULL) {
        af_app_usage("serve: --ca-cert, --ca-key and --ak-trust go together");
        return 0;
    }
    if ((e = af_ra_enroll_new(af_ra_get0_libctx(ra), NULL)) == NULL ||
        (ca = af_ca_new(af_ra_get0_libctx(ra), NULL)) == NULL) {
        af_ra_enroll_free(e);
        af_app_fail("serve: enrollment");
        return 0;
    }
    if (!af_ra_enroll_set0_ca(e, ca)) {
        af_ca_free(ca);
        af_ra_enroll_free(e);
        af_app_fail("serve: enrollment");
        return 0;
    }
    if (!af_ca_load(ca, s->val[K_CA_CERT], s->val[K_CA_KEY]))
        af_app_fail("serve: the CA (--ca-cert %s, --ca-key)", s->val[K_CA_CERT]);
    else if (s->val[K_CERT_DAYS] != NULL && !af_ca_set_days(ca, atoi(s->val[K_CERT_DAYS])))
        af_app_fail("serve: --cert-days");
    else if (s->val[K_CERT_PROFILE] != NULL && !af_ca_set_profile_name(ca, s->val[K_CERT_PROFILE]))
        af_app_fail("serve: --cert-profile");
    else if (!af_ra_enroll_load_trust(e, s->val[K_AK_TRUST]))
        af_app_fail("serve: --ak-trust %s", s->val[K_AK_TRUST]);
    else if (s->val[K_POLICY] != NULL && !af_ra_enroll_load_policy(e, s->val[K_POLICY]))
        af_app_fail("serve: --policy %s", s->val[K_POLICY]);
    else if (af_ra_set0_enroll(ra, e))
        return 1;
    else
        af_app_fail("serve: enrollment");
    af_ra_enroll_free(e);
    return 0;
}

int af_cmd_serve(int argc, char **argv)
{
    serve_settings s;
    AF_RA_CONFIG racfg;
    AF_RA_SERVER_CONFIG srvcfg;
    AF_RA *ra = NULL;
    AF_RA_SERVER *srv = NULL;
    FILE *log = NULL;
    char redis_host[256];
    sigset_t sigs;
    int i, sig = 0, rc = AF_EXIT_USAGE;

    memset(&s, 0, sizeof(s));
    /* The config file first, so that options given on the command line win. */
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return AF_EXIT_OK;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return af_app_usage("--config needs a file");
            if (read_config(&s, argv[++i]) != 0)
                goto done;
        }
    }
    for (i = 1; i < argc; i++) {
        const char *k = argv[i];
        size_t j;

        if (strcmp(k, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(k, "--", 2) != 0) {
            af_app_usage("serve: unexpected argument '%s'", k);
            goto done;
        }
        for (j = 0; j < K__COUNT; j++)
            if (strcmp(keys[j].name, k + 2) == 0)
                break;
        if (j == K__COUNT) {
            af_app_usage("serve: unknown option '%s' (attfresh serve --help)", k);
            goto done;
        }
        if (keys[j].flag) {
            /* "--soft-rand" alone means yes; an explicit yes/no after a flag is taken too, so
             * "--rate-limit no" can turn off what a config file turned on. */
            const char *v = "yes";

            if (i + 1 < argc && is_bool_word(argv[i + 1]))
                v = argv[++i];
            if (set_key(&s, keys[j].name, v, "command line") != 0)
                goto done;
        } else {
            if (i + 1 >= argc) {
                af_app_usage("serve: %s needs a value", k);
                goto done;
            }
            if (set_key(&s, keys[j].name, argv[++i], "command line") != 0)
                goto done;
        }
    }
    if (!apply(&s, &racfg, &srvcfg, redis_host, sizeof(redis_host)))
        goto done;

    rc = AF_EXIT_FAIL;
    /* Block the stop signals in every thread (MHD's, the sweeper, the token's) before any is
     * created; the main thread then waits for them with sigwait. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (s.val[K_LOG] != NULL && strcmp(s.val[K_LOG], "-") != 0) {
        if ((log = fopen(s.val[K_LOG], "a")) == NULL) {
            fprintf(stderr, "attfresh: cannot open the log %s: %s\n", s.val[K_LOG],
                    strerror(errno));
            goto done;
        }
        srvcfg.log = log;
    }
    if (s.val[K_OPENSSL_CONF] != NULL && !OSSL_LIB_CTX_load_config(NULL, s.val[K_OPENSSL_CONF])) {
        af_app_fail("cannot load the OpenSSL config %s", s.val[K_OPENSSL_CONF]);
        goto done;
    }
    if ((ra = af_ra_new(&racfg)) == NULL) {
        af_app_fail("cannot start the RA");
        goto done;
    }
    if (!apply_oids(ra, &s))
        goto done;
    if (!setup_enroll(ra, &s))
        goto done;
    if ((srv = af_ra_server_new(ra, &srvcfg)) == NULL) {
        af_app_fail("cannot start the server");
        goto done;
    }
    fprintf(srvcfg.log != NULL ? srvcfg.log : stderr,
            "attfresh serve: profile %s, nonces of %d bytes from %s, expiry %u s, store %s, "
            "rate limit %s\n",
            af_nonce_profile_get0_name(af_ra_get0_profile(ra, NULL)), racfg.nonce_len,
            racfg.soft_rand ? "the software DRBG" : racfg.rand_name, (unsigned)racfg.expiry_s,
            racfg.store.backend == AF_NONCE_STORE_REDIS ? "redis" : "memory",
            racfg.ratelimit ? "on" : "off");
    print_url("http", srvcfg.http_addr, af_ra_server_get_port(srv, 0));
    print_url("https", srvcfg.https_addr, af_ra_server_get_port(srv, 1));
    fflush(stdout);

    while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
        continue;
    fprintf(srvcfg.log != NULL ? srvcfg.log : stderr, "attfresh serve: %s, shutting down\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = AF_EXIT_OK;
done:
    af_ra_server_free(srv);
    if (ra != NULL)
        af_ra_set0_enroll(ra, NULL);
    af_ra_free(ra);
    if (log != NULL)
        fclose(log);
    settings_free(&s);
    return rc;
}
