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
#include "serve_conf.h"

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

        snprintf(opt, sizeof(opt), "--%s %s", af_serve_keys[i].name, af_serve_keys[i].arg);
        fprintf(out, "  %-28s %s\n", opt, af_serve_keys[i].help);
    }
    fprintf(out, "  (config only) oid.<profile>.<cmp-request|cmp-response|cmc-request|"
                 "cmc-response> = OID\n  --help                       this text\n");
}

static int apply_oids(AF_RA *ra, const serve_settings *s)
{
    size_t i;

    for (i = 0; i < s->noids; i++) {
        char prof[64];
        af_nonce_oid_role role;

        if (!af_serve_oid_split(s->oid_key[i], prof, sizeof(prof), &role))
            return 0;
        if (!af_ra_set_profile_oid(ra, prof, role, s->oid_val[i])) {
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
            if (af_serve_read_config_file(&s, argv[++i]) != 0)
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
            if (strcmp(af_serve_keys[j].name, k + 2) == 0)
                break;
        if (j == K__COUNT) {
            af_app_usage("serve: unknown option '%s' (attfresh serve --help)", k);
            goto done;
        }
        if (af_serve_keys[j].flag) {
            /* "--soft-rand" alone means yes; an explicit yes/no after a flag is taken too, so
             * "--rate-limit no" can turn off what a config file turned on. */
            const char *v = "yes";

            if (i + 1 < argc && af_serve_is_bool_word(argv[i + 1]))
                v = argv[++i];
            if (af_serve_set_key(&s, af_serve_keys[j].name, v, "command line") != 0)
                goto done;
        } else {
            if (i + 1 >= argc) {
                af_app_usage("serve: %s needs a value", k);
                goto done;
            }
            if (af_serve_set_key(&s, af_serve_keys[j].name, argv[++i], "command line") != 0)
                goto done;
        }
    }
    if (!af_serve_apply(&s, &racfg, &srvcfg, redis_host, sizeof(redis_host)))
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
    af_serve_settings_free(&s);
    return rc;
}
