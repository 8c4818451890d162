/* cmd_enroll.c - `attfresh enroll`: the whole enrollment in one transaction (nonce request,
 * Evidence signed by the AK in the HSM, attested CSR signed by the key, certification request
 * over CMP, EST or CMC) and the issued certificate written atomically, and/or into the token next
 * to the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "apps.h"
#include "attfresh/enroll.h"
#include "attfresh/err.h"

static void help(FILE *out)
{
    fputs(
        "usage: attfresh enroll (--cmp URL --secret-file F --ref NAME | --est URL --cafile F |\n"
        "                        --cmc URL) --key URI --ak URI --ak-cert F --subj DN\n"
        "                       [--san LIST] [--chain F] [--crmf] [--state F] [--profile P]\n"
        "                       [--save-state F] [--trusted F] [--out cert.pem] "
        "[--store-in-token]\n"
        "\n"
        "Asks the RA for a nonce, has the AK sign Evidence about --key that carries it, puts the\n"
        "Evidence into a CSR signed by --key, sends the CSR in the same transaction and writes\n"
        "the certificate the RA issued (PEM) to --out and/or into the token next to --key.\n"
        "\n"
        "  --cmp URL          CMP over HTTP (genm/genp, then p10cr or ir), e.g.\n"
        "                     http://127.0.0.1:8080/.well-known/cmp\n"
        "  --secret-file F    CMP MAC (PBM) secret: the first line of F\n"
        "  --secret-env VAR   or from an environment variable\n"
        "  --ref NAME         CMP MAC reference (senderKID)\n"
        "  --crmf             CMP: ir with the CRMF id-aa-attestation extension instead of p10cr\n"
        "  --est URL          EST over HTTPS (/nonce, then /simpleenroll with the cookie), e.g.\n"
        "                     https://127.0.0.1:8443\n"
        "  --cafile F         EST: CA certificates for the TLS server\n"
        "  --cmc URL          CMC over HTTP (Full PKI Requests), e.g. http://127.0.0.1:8080/cmc\n"
        "  --trusted F        the RA's CA certificates (PEM): the issued certificate must chain\n"
        "                     to them, and so must the signer of a CMC Full PKI Response or of\n"
        "                     a signature-protected CMP answer (without it, check the\n"
        "                     certificate yourself: openssl verify -CAfile ...)\n"
        "  --profile P        wire profile of the nonce exchange (default draft-08)\n"
        "  --key URI          the key to certify (pkcs11: URI or key file)\n"
        "  --ak URI           the Attestation Key (pkcs11: URI)\n"
        "  --ak-cert F        its certificate (PEM)\n"
        "  --chain F          more AK chain certificates (intermediate CAs) for the bundle\n"
        "  --subj DN          subject, e.g. '/CN=device-1/O=Example'\n"
        "  --san LIST         subjectAltName, e.g. 'DNS:device-1.example,IP:192.0.2.1'\n"
        "  --state F          continue from the state of `attfresh nonce get --state F`\n"
        "                     instead of asking for a nonce here\n"
        "  --save-state F     write the transaction state used (JSON, mode 0600)\n"
        "  --timeout S        timeout of each exchange in seconds (default 30)\n"
        "  --out F            the issued certificate (PEM), written atomically\n"
        "  --store-in-token   also write it into the token next to --key (same CKA_ID and\n"
        "                     label; replaces the key's older certificates once stored)\n"
        "\n"
        "example:\n"
        "  attfresh enroll --cmp http://127.0.0.1:8080/.well-known/cmp --secret-file mac.txt \\\n"
        "      --ref station1 --key 'pkcs11:token=demo;object=device-key' \\\n"
        "      --ak 'pkcs11:token=demo;object=ak' --ak-cert ak.pem --subj /CN=device-1 \\\n"
        "      --out device.pem\n",
        out);
}

typedef struct {
    const char *url, *secret_file, *secret_env, *ref, *cafile, *profile, *key, *ak, *ak_cert;
    const char *chain, *subj, *san, *state, *save_state, *timeout, *out, *trusted;
    af_proto proto;
    int crmf, store;
} enroll_args;

static int parse(int argc, char **argv, enroll_args *g)
{
    static const char *const names[] = {"--cmp",        "--est", "--cmc",     "--secret-file",
                                        "--secret-env", "--ref", "--cafile",  "--profile",
                                        "--key",        "--ak",  "--ak-cert", "--chain",
                                        "--subj",       "--san", "--state",   "--save-state",
                                        "--timeout",    "--out", "--trusted"};
    int i;
    size_t k;

    memset(g, 0, sizeof(*g));
    for (i = 1; i < argc; i++) {
        const char **dst[] = {&g->url,        &g->url, &g->url,     &g->secret_file,
                              &g->secret_env, &g->ref, &g->cafile,  &g->profile,
                              &g->key,        &g->ak,  &g->ak_cert, &g->chain,
                              &g->subj,       &g->san, &g->state,   &g->save_state,
                              &g->timeout,    &g->out, &g->trusted};

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return -1;
        }
        if (strcmp(argv[i], "--crmf") == 0) {
            g->crmf = 1;
            continue;
        }
        if (strcmp(argv[i], "--store-in-token") == 0) {
            g->store = 1;
            continue;
        }
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (strcmp(argv[i], names[k]) == 0)
                break;
        if (k == sizeof(names) / sizeof(names[0]))
            return af_app_usage("enroll: unknown option '%s' (see --help)", argv[i]);
        if (++i == argc)
            return af_app_usage("enroll: %s needs a value", argv[i - 1]);
        if (k < 3) {
            if (g->proto != AF_PROTO_NONE)
                return af_app_usage("enroll: give exactly one of --cmp, --est, --cmc");
            g->proto = k == 0 ? AF_PROTO_CMP : k == 1 ? AF_PROTO_EST : AF_PROTO_CMC;
        }
        *dst[k] = argv[i];
    }
    if (g->proto == AF_PROTO_NONE)
        return af_app_usage("enroll: give one of --cmp, --est, --cmc");
    if (g->key == NULL || g->ak == NULL || g->ak_cert == NULL || g->subj == NULL ||
        (g->out == NULL && !g->store))
        return af_app_usage(
            "enroll: --key, --ak, --ak-cert, --subj and --out (or --store-in-token) are required");
    if (g->crmf && g->proto != AF_PROTO_CMP)
        return af_app_usage("enroll: --crmf is for CMP only");
    return 0;
}

static int setup_opts(const enroll_args *g, AF_PROTO_OPTS *o)
{
    if (!af_proto_opts_set_protocol(o, g->proto) || !af_proto_opts_set1_url(o, g->url))
        return af_app_fail("enroll: URL");
    if (g->profile != NULL && !af_proto_opts_set_profile_name(o, g->profile))
        return af_app_fail("enroll: --profile");
    if (g->secret_file != NULL && !af_proto_opts_load_secret_file(o, g->secret_file))
        return af_app_fail("enroll: --secret-file");
    if (g->secret_env != NULL && !af_proto_opts_load_secret_env(o, g->secret_env))
        return af_app_fail("enroll: --secret-env");
    if (g->ref != NULL && !af_proto_opts_set1_ref(o, g->ref))
        return af_app_fail("enroll: --ref");
    if (g->cafile != NULL && !af_proto_opts_set1_cafile(o, g->cafile))
        return af_app_fail("enroll: --cafile");
    if (g->trusted != NULL && !af_proto_opts_load_trusted(o, g->trusted))
        return af_app_fail("enroll: --trusted");
    if (g->timeout != NULL) {
        char *end;
        long t = strtol(g->timeout, &end, 10);

        if (*end != '\0' || t < 1 || t > 3600)
            return af_app_usage("enroll: --timeout wants 1..3600 seconds");
        if (!af_proto_opts_set_timeouts(
                o, t < AF_PROTO_DEFAULT_CONNECT_TIMEOUT ? (int)t : AF_PROTO_DEFAULT_CONNECT_TIMEOUT,
                (int)t))
            return af_app_fail("enroll: --timeout");
    }
    return AF_EXIT_OK;
}

static int write_cert(const char *path, X509 *cert)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;
    int ok = 0;

    if (mem != NULL && PEM_write_bio_X509(mem, cert) && (n = BIO_get_mem_data(mem, &p)) > 0)
        ok = af_app_write(path, (const unsigned char *)p, (size_t)n, 0644);
    BIO_free(mem);
    return ok;
}

int af_cmd_enroll(int argc, char **argv)
{
    enroll_args g;
    AF_PROTO_OPTS *o = NULL;
    AF_PROTO_STATE *st = NULL, *used = NULL;
    AF_ENROLL *en = NULL;
    EVP_PKEY *key = NULL, *ak = NULL;
    X509 *akc = NULL, *cert = NULL;
    STACK_OF(X509) *chain = NULL;
    char subj[256], issuer[256], *serial = NULL;
    int rc;

    if ((rc = parse(argc, argv, &g)) != 0)
        return rc < 0 ? AF_EXIT_OK : rc;
    rc = AF_EXIT_FAIL;
    if ((o = af_proto_opts_new()) == NULL) {
        rc = af_app_fail("enroll");
        goto done;
    }
    if ((rc = setup_opts(&g, o)) != AF_EXIT_OK)
        goto done;
    rc = AF_EXIT_FAIL;
    if ((key = af_load_key(g.key, 1, NULL, NULL)) == NULL) {
        af_app_fail("enroll: cannot load the key to certify");
        goto done;
    }
    /* Before the RA spends a nonce and a certificate on a request whose result has nowhere to go */
    if (g.store && !af_key_in_token(key)) {
        af_app_fail("enroll: --store-in-token");
        goto done;
    }
    if ((ak = af_load_key(g.ak, 1, NULL, NULL)) == NULL) {
        af_app_fail("enroll: cannot load the attestation key");
        goto done;
    }
    if ((akc = af_load_cert(g.ak_cert, NULL, NULL)) == NULL) {
        af_app_fail("enroll: cannot load the AK certificate");
        goto done;
    }
    if (g.chain != NULL && (chain = af_load_certs(g.chain, NULL, NULL)) == NULL) {
        af_app_fail("enroll: --chain");
        goto done;
    }
    if (g.state != NULL && (st = af_proto_state_load(g.state)) == NULL) {
        af_app_fail("enroll: --state %s", g.state);
        goto done;
    }
    if ((en = af_enroll_new(o)) == NULL || !af_enroll_set1_key(en, key, g.key) ||
        !af_enroll_set1_ak(en, ak, akc) || !af_enroll_set1_chain(en, chain) ||
        !af_enroll_set1_subject(en, g.subj, g.san) ||
        (st != NULL && !af_enroll_set1_state(en, st))) {
        af_app_fail("enroll");
        goto done;
    }
    af_enroll_set_crmf(en, g.crmf);
    if ((cert = af_enroll_run(en, &used)) == NULL) {
        af_app_fail("enroll over %s", af_proto_name(g.proto));
        goto done;
    }
    if (g.save_state != NULL && !af_proto_state_save(used, g.save_state)) {
        af_app_fail("enroll: --save-state %s", g.save_state);
        goto done;
    }
    /* The file first: a certificate the token refuses is then still kept. */
    if (g.out != NULL && !write_cert(g.out, cert)) {
        af_app_fail("enroll: cannot write %s", g.out);
        goto done;
    }
    serial = i2s_ASN1_INTEGER(NULL, X509_get0_serialNumber(cert));
    if (g.store && !af_store_cert_in_token(key, cert)) {
        if (g.out != NULL)
            af_app_fail("enroll: --store-in-token: the certificate is in %s (attfresh cert store"
                        " --key URI --in %s puts it in the token later)",
                        g.out, g.out);
        else
            af_app_fail("enroll: --store-in-token: the issued certificate (serial %s) was not kept",
                        serial != NULL ? serial : "?");
        goto done;
    }
    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
    X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof(issuer));
    printf("enrolled over %s: %s, serial %s, issued by %s -> %s%s%s\n", af_proto_name(g.proto),
           subj, serial != NULL ? serial : "?", issuer, g.out != NULL ? g.out : "",
           g.out != NULL && g.store ? " and " : "", g.store ? "the token, next to the key" : "");
    rc = AF_EXIT_OK;
done:
    OPENSSL_free(serial);
    X509_free(cert);
    af_enroll_free(en);
    af_proto_state_free(st);
    af_proto_state_free(used);
    sk_X509_pop_free(chain, X509_free);
    X509_free(akc);
    EVP_PKEY_free(ak);
    EVP_PKEY_free(key);
    af_proto_opts_free(o);
    return rc;
}
