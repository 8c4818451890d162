/* cmd_ak.c - `attfresh ak init`: generates an Attestation Key inside the token through attfresh.so
 * and, given a local CA, issues its certificate (EKU id-kp-attestationKey, KU digitalSignature). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "apps.h"
#include "attfresh/err.h"
#include "attfresh/evidence.h"
#include "attfresh/oids.h"
#include "attfresh/params.h"

static void help(FILE *out)
{
    fputs("usage: attfresh ak init --token URI --label NAME\n"
          "                        [--alg ec-p256|ec-p384|rsa2048|rsa-pss|ed25519]\n"
          "                        [--ca-cert FILE --ca-key FILE|URI] [--subj DN] [--days N]\n"
          "                        [--out FILE]\n\n"
          "Generates the Attestation Key IN THE TOKEN (private key sensitive, not extractable)\n"
          "through the attfresh provider, and prints its pkcs11: URI. With --ca-cert/--ca-key it\n"
          "issues the AK certificate (ExtendedKeyUsage id-kp-attestationKey, KeyUsage\n"
          "digitalSignature) and writes it to --out; without a CA, --out gets the AK's public key\n"
          "(PEM) for your CA to certify. That certificate is what RAs trust: a software token\n"
          "(SoftHSM2) proves nothing by itself.\n\n"
          "  --token URI    token label or pkcs11: URI of the token\n"
          "  --label NAME   CKA_LABEL of the new key pair\n"
          "  --alg ALG      ec-p256 (default, ecdsa-with-SHA256), ec-p384, rsa2048, rsa-pss (an\n"
          "                 RSA 2048 key; sign Evidence with `attest --pss`), ed25519\n"
          "  --subj DN      AK certificate subject (default /CN=<label>)\n"
          "  --days N       validity of the AK certificate (default 365)\n\n"
          "example:\n"
          "  scripts/mkca.sh ca            # throw-away CA: ca/ca.pem, ca/ca.key\n"
          "  attfresh ak init --token demo --label ak --ca-cert ca/ca.pem --ca-key ca/ca.key \\\n"
          "      --out ak.pem\n",
          out);
}

/* X509V3 extension by name and value on x, issued by issuer. */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    int ok;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if ((e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
        return 0;
    ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

static X509 *issue(EVP_PKEY *ak, const char *subj, long days, X509 *ca, EVP_PKEY *cakey)
{
    X509 *x = X509_new();
    X509_NAME *n = NULL;
    ASN1_INTEGER *serial = NULL;
    BIGNUM *bn = BN_new();
    const char *mdname = NULL;
    char eku[128];

    if (x == NULL || bn == NULL || !BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || !X509_set_version(x, 2) ||
        !X509_set_serialNumber(x, serial))
        goto err;
    if ((n = subj[0] == '/' || strchr(subj, '=') != NULL ? af_parse_dn(subj) : X509_NAME_new()) ==
        NULL)
        goto fail;
    if (X509_NAME_entry_count(n) == 0 &&
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)subj, -1, -1, 0))
        goto err;
    snprintf(eku, sizeof(eku), "%s", af_oid_text(AF_OID_KP_ATTESTATION_KEY));
    if (!X509_set_subject_name(x, n) || !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
        X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) == NULL ||
        !X509_set_pubkey(x, ak) || !add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, ca, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, ca, NID_ext_key_usage, eku) ||
        !add_ext(x, ca, NID_subject_key_identifier, "hash") ||
        !add_ext(x, ca, NID_authority_key_identifier, "keyid:always"))
        goto err;
    if (!EVP_PKEY_is_a(cakey, "ED25519") && !EVP_PKEY_is_a(cakey, "ED448"))
        mdname = EVP_PKEY_is_a(cakey, "EC") && EVP_PKEY_get_bits(cakey) > 256 ? "SHA384" : "SHA256";
    {
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        int ok = mctx != NULL &&
                 EVP_DigestSignInit_ex(mctx, NULL, mdname, NULL, NULL, cakey, NULL) > 0 &&
                 X509_sign_ctx(x, mctx) > 0;

        EVP_MD_CTX_free(mctx);
        if (!ok) {
            AF_ERR(AF_R_CRYPTO, "the CA key could not sign the AK certificate");
            goto fail;
        }
    }
    X509_NAME_free(n);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return x;
err:
    AF_ERR(AF_R_CRYPTO, "cannot build the AK certificate");
fail:
    X509_NAME_free(n);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    X509_free(x);
    return NULL;
}

static EVP_PKEY *generate(const char *alg, const char *token, const char *label)
{
    const char *type = "EC", *group = NULL;
    size_t bits = 0;
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pk = NULL;
    OSSL_PARAM params[5], *p = params;

    if (strcmp(alg, "ec-p256") == 0) {
        group = "P-256";
    } else if (strcmp(alg, "ec-p384") == 0) {
        group = "P-384";
    } else if (strcmp(alg, "rsa2048") == 0 || strcmp(alg, "rsa-pss") == 0) {
        type = "RSA";
        bits = 2048;
    } else if (strcmp(alg, "ed25519") == 0) {
        type = "ED25519";
    } else {
        AF_ERR(AF_R_INVALID_ARGUMENT,
               "unknown --alg '%s' (ec-p256, ec-p384, rsa2048, rsa-pss, "
               "ed25519)",
               alg);
        return NULL;
    }
    if (group != NULL)
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
    if (bits != 0)
        *p++ = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &bits);
    *p++ = OSSL_PARAM_construct_utf8_string(AF_PARAM_GEN_TOKEN, (char *)token, 0);
    *p++ = OSSL_PARAM_construct_utf8_string(AF_PARAM_GEN_LABEL, (char *)label, 0);
    *p = OSSL_PARAM_construct_end();
    /* In the token, never in software: the property query pins the attfresh provider. */
    if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, AF_PROPQ)) == NULL) {
        AF_ERR(AF_R_CRYPTO,
               "the attfresh provider cannot make %s keys (is it loaded? "
               "OPENSSL_CONF / OPENSSL_MODULES)",
               type);
        return NULL;
    }
    if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_params(ctx, params) <= 0 ||
        EVP_PKEY_generate(ctx, &pk) <= 0) {
        pk = NULL;
        AF_ERR(AF_R_CRYPTO, "key generation in token '%s' failed", token);
    }
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

int af_cmd_ak(int argc, char **argv)
{
    const char *token = NULL, *label = NULL, *alg = "ec-p256", *ca_cert = NULL, *ca_key = NULL;
    const char *out = NULL, *subj = NULL, *days_s = "365";
    int rc = AF_EXIT_FAIL, i;
    long days;
    char *end = NULL, uri[1024] = "";
    EVP_PKEY *ak = NULL, *cakey = NULL;
    X509 *ca = NULL, *cert = NULL;
    BIO *mem = NULL;
    OSSL_PARAM up[2];

    if (argc < 2 || strcmp(argv[1], "init") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            help(stdout);
            return AF_EXIT_OK;
        }
        return af_app_usage("ak: expected 'ak init' (see attfresh ak --help)");
    }
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help(stdout);
            return AF_EXIT_OK;
        } else if (strcmp(a, "--token") == 0) {
            val = &token;
        } else if (strcmp(a, "--label") == 0) {
            val = &label;
        } else if (strcmp(a, "--alg") == 0) {
            val = &alg;
        } else if (strcmp(a, "--ca-cert") == 0) {
            val = &ca_cert;
        } else if (strcmp(a, "--ca-key") == 0) {
            val = &ca_key;
        } else if (strcmp(a, "--subj") == 0) {
            val = &subj;
        } else if (strcmp(a, "--days") == 0) {
            val = &days_s;
        } else if (strcmp(a, "--out") == 0) {
            val = &out;
        } else {
            return af_app_usage("ak init: unknown option '%s'", a);
        }
        if (++i == argc)
            return af_app_usage("ak init: %s needs a value", a);
        *val = argv[i];
    }
    if (token == NULL || label == NULL) {
        return af_app_usage("ak init: --token and --label are required");
    }
    if ((ca_cert == NULL) != (ca_key == NULL))
        return af_app_usage("ak init: --ca-cert and --ca-key go together");
    days = strtol(days_s, &end, 10);
    if (*end != '\0' || days < 1 || days > 36500)
        return af_app_usage("ak init: --days must be 1..36500");

    /* Load the CA first: a wrong CA file should not leave a fresh key behind in the token. */
    if (ca_cert != NULL) {
        if ((ca = af_load_cert(ca_cert, NULL, NULL)) == NULL)
            return af_app_fail("cannot load the CA certificate");
        if ((cakey = af_load_key(ca_key, 1, NULL, NULL)) == NULL) {
            rc = af_app_fail("cannot load the CA key");
            goto done;
        }
    }
    if ((ak = generate(alg, token, label)) == NULL) {
        rc = af_app_fail("cannot generate the attestation key");
        goto done;
    }
    up[0] = OSSL_PARAM_construct_utf8_string(AF_PARAM_KEY_URI, uri, sizeof(uri));
    up[1] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_get_params(ak, up) <= 0 || !OSSL_PARAM_modified(up))
        snprintf(uri, sizeof(uri), "pkcs11:object=%s", label);
    ERR_clear_error();
    printf("%s\n", uri);

    if ((mem = BIO_new(BIO_s_mem())) == NULL)
        goto done;
    if (ca != NULL) {
        if ((cert = issue(ak, subj != NULL ? subj : label, days, ca, cakey)) == NULL) {
            rc = af_app_fail("cannot issue the AK certificate");
            goto done;
        }
        if (!PEM_write_bio_X509(mem, cert))
            goto done;
    } else if (!PEM_write_bio_PUBKEY(mem, ak)) {
        rc = af_app_fail("cannot encode the AK public key");
        goto done;
    }
    if (out != NULL) {
        char *data = NULL;
        long n = BIO_get_mem_data(mem, &data);

        if (!af_app_write(out, (const unsigned char *)data, (size_t)n, 0644)) {
            rc = af_app_fail("cannot write %s", out);
            goto done;
        }
    }
    rc = AF_EXIT_OK;
done:
    BIO_free(mem);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(ak);
    return rc;
}
