/* test_cert_store.c - a key's certificate written into the fixture's SoftHSM2 token next to the
 * key through attfresh.so (af_store_cert_in_token): found again by the pkcs11: store with the same
 * bytes, the object's attributes as the token itself reports them (our own PKCS#11 session),
 * storing again keeps exactly one object, a renewal replaces the old one, a certificate of another
 * key is refused with nothing written, another key's certificate under the same CKA_ID is left
 * alone, an older certificate the token will not destroy makes the renewal undo itself with the
 * CKR_ code, Ed25519 keys work the same, and a software key is refused. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "attfresh/err.h"
#include "attfresh/evidence.h"
#include "attfresh/params.h"
#include "p11test.h"
#include "testutil.h"

static OSSL_LIB_CTX *libctx;
static CK_FUNCTION_LIST *fl; /* our own view of the token */
static CK_SESSION_HANDLE sess;
static CK_SLOT_ID slot;
static char prefix[32]; /* labels unique to this run: tests share the fixture token */

/* A key pair generated in the token for the tests: label <prefix>-<tag>, its CKA_ID. */
typedef struct {
    char label[64];
    unsigned char id[64];
    size_t idlen;
    EVP_PKEY *pkey;
} test_key;

static test_key dev;     /* EC P-256, shared by the ordered tests */
static EVP_PKEY *soft;   /* a software key */
static EVP_PKEY *ca_key; /* a software CA */

static int gen_key(test_key *t, const char *alg, const char *tag);

static int setup(void)
{
    snprintf(prefix, sizeof(prefix), "cs%ld", (long)getpid());
    libctx = OSSL_LIB_CTX_new();
    if (libctx == NULL || !OSSL_LIB_CTX_load_config(libctx, af_test_openssl_cnf())) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    if (!af_test_p11_open(&fl, &slot, &sess))
        return 1;
    if (!gen_key(&dev, "EC", "dev"))
        return 1;
    soft = EVP_PKEY_Q_keygen(libctx, "provider=default", "EC", "P-256");
    ca_key = EVP_PKEY_Q_keygen(libctx, "provider=default", "EC", "P-256");
    return soft == NULL || ca_key == NULL;
}

static int teardown(void)
{
    EVP_PKEY_free(dev.pkey);
    EVP_PKEY_free(soft);
    EVP_PKEY_free(ca_key);
    if (fl != NULL)
        fl->C_CloseSession(sess);
    OSSL_LIB_CTX_free(libctx);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* Through attfresh.so, as `openssl genpkey -pkeyopt label:...` does. Returns 1/0. */
static int gen_key(test_key *t, const char *alg, const char *tag)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(libctx, alg, AF_PROPQ);
    OSSL_PARAM params[2];

    snprintf(t->label, sizeof(t->label), "%s-%s", prefix, tag);
    params[0] = OSSL_PARAM_construct_utf8_string(AF_PARAM_GEN_LABEL, t->label, 0);
    params[1] = OSSL_PARAM_construct_end();
    t->pkey = NULL;
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 || !EVP_PKEY_CTX_set_params(ctx, params) ||
        EVP_PKEY_generate(ctx, &t->pkey) <= 0 ||
        !EVP_PKEY_get_octet_string_param(t->pkey, AF_PARAM_KEY_ID, t->id, sizeof(t->id),
                                         &t->idlen)) {
        ERR_print_errors_fp(stderr);
        EVP_PKEY_free(t->pkey);
        t->pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return t->pkey != NULL;
}

/* A certificate for pub issued by the software CA; serial tells renewals apart. */
static X509 *issue(EVP_PKEY *pub, long serial, const char *cn)
{
    X509 *x = X509_new_ex(libctx, NULL);
    X509_NAME *issuer = X509_NAME_new();
    int ok;

    ok = x != NULL && issuer != NULL && X509_set_version(x, 2) &&
         ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
         X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
         X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
         X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                    (const unsigned char *)cn, -1, -1, 0) &&
         X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"cert store test CA", -1, -1, 0) &&
         X509_set_issuer_name(x, issuer) && X509_set_pubkey(x, pub) &&
         X509_sign(x, ca_key, EVP_sha256()) > 0;
    X509_NAME_free(issuer);
    if (!ok) {
        ERR_print_errors_fp(stderr);
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Certificate objects the token holds under k's CKA_ID (our own session); the first in *first. */
static CK_ULONG count_certs_of(const test_key *k, CK_OBJECT_HANDLE *first)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof(cls)},
                         {CKA_ID, (void *)k->id, (CK_ULONG)k->idlen}};
    CK_OBJECT_HANDLE h[16];
    CK_ULONG n = 0;

    if (fl->C_FindObjectsInit(sess, t, 2) != CKR_OK)
        return (CK_ULONG)-1;
    if (fl->C_FindObjects(sess, h, 16, &n) != CKR_OK)
        n = (CK_ULONG)-1;
    fl->C_FindObjectsFinal(sess);
    if (first != NULL && n > 0 && n != (CK_ULONG)-1)
        *first = h[0];
    return n;
}

static CK_ULONG count_certs(CK_OBJECT_HANDLE *first)
{
    return count_certs_of(&dev, first);
}

/* A certificate object put in by our own session under k's CKA_ID (SoftHSM2 wants
 * CKA_SUBJECT); destroyable 0 makes the token refuse C_DestroyObject on it. */
static CK_RV put_cert(X509 *x, const test_key *k, int destroyable, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL t = CK_TRUE, d = destroyable ? CK_TRUE : CK_FALSE;
    unsigned char *der = NULL, *subj = NULL;
    int derlen = i2d_X509(x, &der), subjlen = i2d_X509_NAME(X509_get_subject_name(x), &subj);
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},     {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
        {CKA_TOKEN, &t, sizeof(t)},         {CKA_ID, (void *)k->id, (CK_ULONG)k->idlen},
        {CKA_VALUE, der, (CK_ULONG)derlen}, {CKA_SUBJECT, subj, (CK_ULONG)subjlen},
        {CKA_DESTROYABLE, &d, sizeof(d)},
    };
    CK_RV rv = derlen > 0 && subjlen > 0 ? fl->C_CreateObject(sess, tmpl, 7, out) : CKR_HOST_MEMORY;

    OPENSSL_free(der);
    OPENSSL_free(subj);
    return rv;
}

/* The certificates the pkcs11: store finds for dev's label, type=cert, through attfresh.so. */
static int store_certs(X509 **out, int max)
{
    char uri[160];
    OSSL_STORE_CTX *st;
    OSSL_STORE_INFO *info;
    int n = 0;

    snprintf(uri, sizeof(uri), "pkcs11:object=%s;type=cert", dev.label);
    st = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    if (st == NULL)
        return -1;
    while ((info = OSSL_STORE_load(st)) != NULL) {
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT) {
            if (n < max)
                out[n] = OSSL_STORE_INFO_get1_CERT(info);
            n++;
        }
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    ERR_clear_error();
    return n;
}

/* Exactly one certificate in the token for the dev.pkey, with the DER of want. */
static void assert_only(X509 *want)
{
    X509 *got[4] = {NULL};
    unsigned char *a = NULL, *b = NULL;
    int n = store_certs(got, 4), alen, blen;

    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(count_certs(NULL), 1);
    if (n >= 1 && got[0] != NULL) {
        alen = i2d_X509(got[0], &a);
        blen = i2d_X509(want, &b);
        CU_ASSERT(alen > 0 && alen == blen && memcmp(a, b, (size_t)alen) == 0);
    }
    OPENSSL_free(a);
    OPENSSL_free(b);
    for (n = 0; n < 4; n++)
        X509_free(got[n]);
}

/* The error line af_store_cert_in_token left contains want. */
static void assert_error(const char *want)
{
    char line[1024];

    af_err_line(line, sizeof(line));
    if (strstr(line, want) == NULL)
        fprintf(stderr, "error line: %s\n  want: %s\n", line, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, want));
}

static X509 *c1, *c2; /* kept between the ordered tests */

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_store_and_find(void)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_BBOOL priv = CK_TRUE, tok = CK_FALSE;
    CK_CERTIFICATE_TYPE ct = (CK_ULONG)-1;
    unsigned char lbl[64], subj[256], ser[32];
    CK_ATTRIBUTE a[6] = {
        {CKA_PRIVATE, &priv, sizeof(priv)},      {CKA_TOKEN, &tok, sizeof(tok)},
        {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)}, {CKA_LABEL, lbl, sizeof(lbl)},
        {CKA_SUBJECT, subj, sizeof(subj)},       {CKA_SERIAL_NUMBER, ser, sizeof(ser)},
    };
    unsigned char *want_subj = NULL, *want_ser = NULL;
    int subjlen, serlen;

    CU_ASSERT_EQUAL_FATAL(count_certs(NULL), 0);
    CU_ASSERT_EQUAL(af_key_in_token(dev.pkey), 1);
    c1 = issue(dev.pkey, 1001, dev.label);
    CU_ASSERT_FATAL(c1 != NULL);
    if (!af_store_cert_in_token(dev.pkey, c1))
        ERR_print_errors_fp(stderr);
    assert_only(c1);

    /* what the token itself says about the object */
    CU_ASSERT_EQUAL_FATAL(count_certs(&h), 1);
    CU_ASSERT_EQUAL_FATAL(fl->C_GetAttributeValue(sess, h, a, 6), CKR_OK);
    CU_ASSERT_EQUAL(priv, CK_FALSE);
    CU_ASSERT_EQUAL(tok, CK_TRUE);
    CU_ASSERT_EQUAL(ct, CKC_X_509);
    CU_ASSERT(a[3].ulValueLen == strlen(dev.label) &&
              memcmp(lbl, dev.label, strlen(dev.label)) == 0);
    subjlen = i2d_X509_NAME(X509_get_subject_name(c1), &want_subj);
    serlen = i2d_ASN1_INTEGER(X509_get0_serialNumber(c1), &want_ser);
    CU_ASSERT(a[4].ulValueLen == (CK_ULONG)subjlen && memcmp(subj, want_subj, subjlen) == 0);
    CU_ASSERT(a[5].ulValueLen == (CK_ULONG)serlen && memcmp(ser, want_ser, serlen) == 0);
    OPENSSL_free(want_subj);
    OPENSSL_free(want_ser);
}

static void test_store_again_is_noop(void)
{
    CK_OBJECT_HANDLE before = CK_INVALID_HANDLE, after = CK_INVALID_HANDLE;

    CU_ASSERT_FATAL(c1 != NULL);
    CU_ASSERT_EQUAL(count_certs(&before), 1);
    CU_ASSERT_EQUAL(af_store_cert_in_token(dev.pkey, c1), 1);
    assert_only(c1);
    CU_ASSERT_EQUAL(count_certs(&after), 1);
    CU_ASSERT_EQUAL(before, after); /* the very same object, not a copy */
}

static void test_renewal_replaces(void)
{
    CU_ASSERT_FATAL(c1 != NULL);
    c2 = issue(dev.pkey, 1002, dev.label);
    CU_ASSERT_FATAL(c2 != NULL);
    CU_ASSERT_EQUAL(af_store_cert_in_token(dev.pkey, c2), 1);
    assert_only(c2);
}

static void test_other_key_refused(void)
{
    X509 *other = issue(soft, 2001, "another key");

    CU_ASSERT_FATAL(other != NULL && c2 != NULL);
    ERR_clear_error();
    CU_ASSERT_EQUAL(af_store_cert_in_token(dev.pkey, other), 0);
    assert_error("is for another key than pkcs11:");
    assert_only(c2); /* nothing written, nothing removed */
    X509_free(other);
}

static void test_software_key_refused(void)
{
    X509 *own = issue(soft, 3001, "software");

    CU_ASSERT_FATAL(own != NULL);
    ERR_clear_error();
    CU_ASSERT_EQUAL(af_key_in_token(soft), 0);
    assert_error("key is not in a token");
    CU_ASSERT_EQUAL(af_store_cert_in_token(soft, own), 0);
    assert_error("key is not in a token");
    X509_free(own);
}

static void test_not_a_certificate(void)
{
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    OSSL_PARAM p[2];

    ERR_clear_error();
    p[0] = OSSL_PARAM_construct_octet_string(AF_PARAM_KEY_STORE_CERT, (void *)junk, sizeof(junk));
    p[1] = OSSL_PARAM_construct_end();
    CU_ASSERT_EQUAL(EVP_PKEY_set_params(dev.pkey, p), 0);
    assert_error("not one DER X.509 certificate");
    assert_only(c2);
}

/* The key loaded by its public object (no login needed) may store too; renewal back to c1. */
static void test_public_key_uri(void)
{
    char uri[160];
    EVP_PKEY *pub;

    snprintf(uri, sizeof(uri), "pkcs11:object=%s;type=public", dev.label);
    pub = af_load_key(uri, 0, libctx, NULL);
    CU_ASSERT_FATAL(pub != NULL);
    CU_ASSERT_EQUAL(af_store_cert_in_token(pub, c1), 1);
    assert_only(c1);
    EVP_PKEY_free(pub);
}

/* A certificate of another key that happens to carry the same CKA_ID is not the key's older
 * certificate: a renewal leaves it alone. */
static void test_foreign_cert_same_id_kept(void)
{
    X509 *foreign = issue(soft, 4001, "foreign");
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_OBJECT_HANDLE fh = CK_INVALID_HANDLE, h[8];
    CK_ULONG n = 0, i;
    int seen_foreign = 0;

    CU_ASSERT_FATAL(foreign != NULL && c2 != NULL);
    CU_ASSERT_EQUAL_FATAL(put_cert(foreign, &dev, 1, &fh), CKR_OK);
    CU_ASSERT_EQUAL(count_certs(NULL), 2);
    CU_ASSERT_EQUAL(af_store_cert_in_token(dev.pkey, c2), 1); /* renews c1 -> c2 */
    CU_ASSERT_EQUAL(count_certs(NULL), 2);
    {
        CK_ATTRIBUTE t2[2] = {{CKA_CLASS, &cls, sizeof(cls)},
                              {CKA_ID, dev.id, (CK_ULONG)dev.idlen}};

        CU_ASSERT_EQUAL_FATAL(fl->C_FindObjectsInit(sess, t2, 2), CKR_OK);
        CU_ASSERT_EQUAL(fl->C_FindObjects(sess, h, 8, &n), CKR_OK);
        fl->C_FindObjectsFinal(sess);
    }
    for (i = 0; i < n; i++)
        seen_foreign |= h[i] == fh;
    CU_ASSERT(seen_foreign);
    CU_ASSERT_EQUAL(fl->C_DestroyObject(sess, fh), CKR_OK);
    assert_only(c2);
    X509_free(foreign);
    X509_free(c1);
    X509_free(c2);
    c1 = c2 = NULL;
}

/* The token will not destroy the key's older certificate: the new one is taken out again, the
 * error names the CKR_ code and says nothing changed. A key of its own (the object stays). */
static void test_renewal_undone_when_old_stays(void)
{
    test_key k;
    X509 *old = NULL, *renewed = NULL;
    CK_OBJECT_HANDLE oh = CK_INVALID_HANDLE, h = CK_INVALID_HANDLE;

    CU_ASSERT_FATAL(gen_key(&k, "EC", "stuck"));
    old = issue(k.pkey, 5001, k.label);
    renewed = issue(k.pkey, 5002, k.label);
    CU_ASSERT_FATAL(old != NULL && renewed != NULL);
    CU_ASSERT_EQUAL_FATAL(put_cert(old, &k, 0, &oh), CKR_OK);
    ERR_clear_error();
    CU_ASSERT_EQUAL(af_store_cert_in_token(k.pkey, renewed), 0);
    {
        char line[1024];

        af_err_line(line, sizeof(line));
        CU_ASSERT_PTR_NOT_NULL(strstr(line, "CKR_ACTION_PROHIBITED"));
        CU_ASSERT_PTR_NOT_NULL(strstr(line, "nothing changed: C_DestroyObject failed"));
    }
    CU_ASSERT_EQUAL(count_certs_of(&k, &h), 1);
    CU_ASSERT_EQUAL(h, oh); /* only the old one, as before */
    X509_free(old);
    X509_free(renewed);
    EVP_PKEY_free(k.pkey);
}

static void test_ed25519(void)
{
    test_key k;
    X509 *x, *other;

    CU_ASSERT_FATAL(gen_key(&k, "ED25519", "ed"));
    x = issue(k.pkey, 6001, k.label);
    other = issue(soft, 6002, k.label);
    CU_ASSERT_FATAL(x != NULL && other != NULL);
    CU_ASSERT_EQUAL(af_store_cert_in_token(k.pkey, x), 1);
    CU_ASSERT_EQUAL(af_store_cert_in_token(k.pkey, x), 1);
    CU_ASSERT_EQUAL(count_certs_of(&k, NULL), 1);
    ERR_clear_error();
    CU_ASSERT_EQUAL(af_store_cert_in_token(k.pkey, other), 0);
    assert_error("is for another key");
    CU_ASSERT_EQUAL(count_certs_of(&k, NULL), 1);
    X509_free(x);
    X509_free(other);
    EVP_PKEY_free(k.pkey);
}

AF_TEST_MAIN("cert_store", setup, teardown, {"store_and_find", test_store_and_find},
             {"store_again_is_noop", test_store_again_is_noop},
             {"renewal_replaces", test_renewal_replaces},
             {"other_key_refused", test_other_key_refused},
             {"software_key_refused", test_software_key_refused},
             {"not_a_certificate", test_not_a_certificate}, {"public_key_uri", test_public_key_uri},
             {"foreign_cert_same_id_kept", test_foreign_cert_same_id_kept},
             {"renewal_undone_when_old_stays", test_renewal_undone_when_old_stays},
             {"ed25519", test_ed25519})
