/* cmd_cert.c - `attfresh cert store`: writes a certificate obtained any way (enroll --out, another
 * CA, a renewal) into the token next to its key, through attfresh.so. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "apps.h"
#include "attfresh/evidence.h"
#include "attfresh/params.h"

static void help(FILE *out)
{
    fputs("usage: attfresh cert store --key URI --in FILE\n\n"
          "Writes the certificate in FILE (PEM or DER) into the token next to the key --key: a\n"
          "certificate object with the key's CKA_ID and CKA_LABEL, readable without a login\n"
          "(e.g. `openssl storeutl -certs 'pkcs11:token=T;object=LABEL;type=cert'`). The\n"
          "certificate must certify that key. The same certificate again changes nothing; a new\n"
          "one (a renewal) is stored first, then the key's older certificates are removed.\n\n"
          "  --key URI   the key in the token (pkcs11: URI, through the attfresh provider)\n"
          "  --in FILE   the certificate (PEM or DER)\n\n"
          "example:\n"
          "  attfresh cert store --key 'pkcs11:token=demo;object=device-key' --in device.pem\n",
          out);
}

static int cert_store(int argc, char **argv)
{
    const char *key_uri = NULL, *in = NULL;
    const AF_APP_OPT opts[] = {
        {"--key", NULL, &key_uri, NULL, 0},
        {"--in", NULL, &in, NULL, 0},
        {NULL, NULL, NULL, NULL, 0},
    };
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char subj[256], uri[1024] = "";
    char *serial = NULL;
    int rc = AF_EXIT_FAIL;

    if (!af_app_opts("cert store", argc, argv, opts, help, &rc))
        return rc;
    if (key_uri == NULL || in == NULL)
        return af_app_usage("cert store: --key and --in are required");
    rc = AF_EXIT_FAIL;
    /* a public-key URI is enough: the certificate is a public object */
    if ((key = af_load_key(key_uri, 0, NULL, NULL)) == NULL) {
        af_app_fail("cert store: cannot load the key");
        goto done;
    }
    if (!af_key_in_token(key)) {
        af_app_fail("cert store: --key");
        goto done;
    }
    if ((cert = af_load_cert(in, NULL, NULL)) == NULL) {
        af_app_fail("cert store: --in");
        goto done;
    }
    if (!af_store_cert_in_token(key, cert)) {
        af_app_fail("cert store");
        goto done;
    }
    /* the provider's URI of the key: never a PIN, unlike what the user may have typed */
    if (!EVP_PKEY_get_utf8_string_param(key, AF_PARAM_KEY_URI, uri, sizeof(uri), NULL))
        snprintf(uri, sizeof(uri), "the key");
    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
    serial = i2s_ASN1_INTEGER(NULL, X509_get0_serialNumber(cert));
    printf("certificate %s, serial %s in the token next to %s\n", subj,
           serial != NULL ? serial : "?", uri);
    rc = AF_EXIT_OK;
done:
    OPENSSL_free(serial);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int af_cmd_cert(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "store") == 0)
        return cert_store(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        help(stdout);
        return AF_EXIT_OK;
    }
    return af_app_usage("cert: expected 'cert store' (see attfresh cert --help)");
}
