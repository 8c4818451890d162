/* test_keys.c - token keys through attfresh.so on the fixture's SoftHSM2 token: generation in the
 * token for every algorithm, signing with the provider and verifying with the default provider,
 * key facts compared with what the token itself reports (our own PKCS#11 session), the key
 * reference PEM, the pkcs11: store, many threads, and fork. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "attfresh/params.h"
#include "p11test.h"
#include "testutil.h"

/* Under ASan: SoftHSM2 leaks in C_SignInit for Ed25519 (tests/lsan.supp names it), but libcrypto
 * has no frame pointers, so the default fast unwinder stops before libsofthsm2.so and the
 * suppression cannot match. Full unwinding lets it. Unused without sanitizers. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

static OSSL_LIB_CTX *libctx;
static CK_FUNCTION_LIST *fl; /* our own view of the token */
static CK_SESSION_HANDLE sess;
static CK_SLOT_ID slot;
static char prefix[32]; /* labels unique to this run: tests share the fixture token */
static EVP_PKEY *ec256; /* kept for the param/thread/fork tests */
static char ec256_label[64];

static int setup(void)
{
    snprintf(prefix, sizeof(prefix), "tk%ld", (long)getpid());
    libctx = OSSL_LIB_CTX_new();
    if (libctx == NULL || !OSSL_LIB_CTX_load_config(libctx, af_test_openssl_cnf())) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    return !af_test_p11_open(&fl, &slot, &sess);
}

static int teardown(void)
{
    EVP_PKEY_free(ec256);
    if (fl != NULL)
        fl->C_CloseSession(sess);
    OSSL_LIB_CTX_free(libctx);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static EVP_PKEY *gen(const char *alg, const char *opt_name, const char *opt_value, char *label,
                     size_t labelsize, const char *tag)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(libctx, alg, AF_PROPQ);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[3], *p = params;
    size_t bits = 0;

    snprintf(label, labelsize, "%s-%s", prefix, tag);
    if (opt_name != NULL && strcmp(opt_name, OSSL_PKEY_PARAM_RSA_BITS) == 0) {
        bits = (size_t)atoi(opt_value);
        *p++ = OSSL_PARAM_construct_size_t(opt_name, &bits);
    } else if (opt_name != NULL) {
        *p++ = OSSL_PARAM_construct_utf8_string(opt_name, (char *)opt_value, 0);
    }
    *p++ = OSSL_PARAM_construct_utf8_string(AF_PARAM_GEN_LABEL, label, 0);
    *p = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 || !EVP_PKEY_CTX_set_params(ctx, params) ||
        EVP_PKEY_generate(ctx, &pkey) <= 0)
        ERR_print_errors_fp(stderr);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* The public key in the default provider, through our SubjectPublicKeyInfo encoder. */
static EVP_PKEY *software_public(EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int len = i2d_PUBKEY(pkey, &der);
    EVP_PKEY *pub;

    if (len <= 0)
        return NULL;
    p = der;
    pub = d2i_PUBKEY_ex(NULL, &p, len, libctx, "provider=default");
    if (pub != NULL) { /* our SPKI is byte for byte what the default provider writes */
        unsigned char *again = NULL;
        int len2 = i2d_PUBKEY(pub, &again);

        CU_ASSERT(len2 == len && memcmp(again, der, (size_t)len) == 0);
        OPENSSL_free(again);
    }
    OPENSSL_free(der);
    return pub;
}

/* pad: 0 = key default, else RSA padding for both sides. */
static int sign_msg(EVP_PKEY *pkey, const char *md, int pad, const unsigned char *msg, size_t n,
                    unsigned char *sig, size_t *siglen)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = mctx != NULL &&
             EVP_DigestSignInit_ex(mctx, &pctx, md, libctx, NULL, pkey, NULL) == 1 &&
             (pad == 0 || EVP_PKEY_CTX_set_rsa_padding(pctx, pad) > 0) &&
             EVP_DigestSign(mctx, sig, siglen, msg, n) == 1;

    if (!ok)
        ERR_print_errors_fp(stderr);
    EVP_MD_CTX_free(mctx);
    return ok;
}

static int verify_msg(EVP_PKEY *pub, const char *md, int pad, const unsigned char *msg, size_t n,
                      const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = mctx != NULL &&
             EVP_DigestVerifyInit_ex(mctx, &pctx, md, libctx, "provider=default", pub, NULL) == 1 &&
             (pad == 0 || EVP_PKEY_CTX_set_rsa_padding(pctx, pad) > 0) &&
             EVP_DigestVerify(mctx, sig, siglen, msg, n) == 1;

    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return ok;
}

/* Sign with the token key, verify in software; a changed message must not verify. */
static void sign_and_verify(EVP_PKEY *pkey, const char *md, int pad)
{
    unsigned char msg[100], sig[1024];
    size_t siglen = sizeof(sig);
    EVP_PKEY *pub = software_public(pkey);

    CU_ASSERT_FATAL(pub != NULL);
    memset(msg, 'm', sizeof(msg));
    CU_ASSERT_FATAL(sign_msg(pkey, md, pad, msg, sizeof(msg), sig, &siglen));
    CU_ASSERT(verify_msg(pub, md, pad, msg, sizeof(msg), sig, siglen));
    msg[0] ^= 1;
    CU_ASSERT_FALSE(verify_msg(pub, md, pad, msg, sizeof(msg), sig, siglen));
    EVP_PKEY_free(pub);
}

/* ---- generation + signatures per algorithm --------------------------------------------------- */

static void test_ec_p256(void)
{
    ec256 =
        gen("EC", OSSL_PKEY_PARAM_GROUP_NAME, "P-256", ec256_label, sizeof(ec256_label), "ec256");
    CU_ASSERT_FATAL(ec256 != NULL);
    CU_ASSERT(EVP_PKEY_is_a(ec256, "EC"));
    CU_ASSERT_EQUAL(EVP_PKEY_get_bits(ec256), 256);
    { /* what SSL_CTX_use_PrivateKey and X509_check_private_key rely on */
        EVP_PKEY *pub = software_public(ec256),
                 *other = EVP_PKEY_Q_keygen(libctx, NULL, "EC", "P-256");

        CU_ASSERT(pub != NULL && EVP_PKEY_eq(pub, ec256) == 1 && EVP_PKEY_eq(ec256, pub) == 1);
        CU_ASSERT(other != NULL && EVP_PKEY_eq(other, ec256) != 1);
        EVP_PKEY_free(pub);
        EVP_PKEY_free(other);
        ERR_clear_error();
    }
    {
        EVP_PKEY *dup = EVP_PKEY_dup(ec256);

        CU_ASSERT_FATAL(dup != NULL);
        sign_and_verify(dup, "SHA256", 0);
        EVP_PKEY_free(dup);
    }
    sign_and_verify(ec256, "SHA256", 0);
    sign_and_verify(ec256, "SHA384", 0);
    sign_and_verify(ec256, "SHA512", 0);
}

static void test_ec_p384_p521(void)
{
    static const char *curves[] = {"P-384", "P-521"};
    size_t i;

    for (i = 0; i < 2; i++) {
        char label[64];
        EVP_PKEY *k =
            gen("EC", OSSL_PKEY_PARAM_GROUP_NAME, curves[i], label, sizeof(label), curves[i]);

        CU_ASSERT_FATAL(k != NULL);
        CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), i == 0 ? 384 : 521);
        sign_and_verify(k, i == 0 ? "SHA384" : "SHA512", 0);
        EVP_PKEY_free(k);
    }
}

static void test_rsa2048_pkcs1_pss(void)
{
    char label[64];
    EVP_PKEY *k = gen("RSA", OSSL_PKEY_PARAM_RSA_BITS, "2048", label, sizeof(label), "rsa");

    CU_ASSERT_FATAL(k != NULL);
    CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), 2048);
    sign_and_verify(k, "SHA256", RSA_PKCS1_PADDING);
    sign_and_verify(k, "SHA384", RSA_PKCS1_PADDING);
    sign_and_verify(k, "SHA256", RSA_PKCS1_PSS_PADDING);
    sign_and_verify(k, "SHA512", RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_free(k);
}

static void test_ed25519(void)
{
    char label[64];
    EVP_PKEY *k;
    CK_MECHANISM_INFO mi;

    if (fl->C_GetMechanismInfo(slot, CKM_EDDSA, &mi) != CKR_OK) {
        fprintf(stderr, "token has no CKM_EDDSA: Ed25519 not tested\n");
        CU_PASS("no CKM_EDDSA");
        return;
    }
    k = gen("ED25519", NULL, NULL, label, sizeof(label), "ed");
    CU_ASSERT_FATAL(k != NULL);
    CU_ASSERT(EVP_PKEY_is_a(k, "ED25519"));
    sign_and_verify(k, NULL, 0);
    EVP_PKEY_free(k);
}

/* An Ed25519 pair made outside the provider with CKA_EC_PARAMS as the PrintableString
 * "edwards25519" (PKCS#11 3.0 allows it; SoftHSM2 reports it back as given): load and sign. */
static void test_ed25519_printable_params(void)
{
    static const unsigned char params[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                           'd',  's',  '2', '5', '5', '1', '9'};
    CK_MECHANISM mech = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL t = CK_TRUE;
    CK_MECHANISM_INFO mi;
    CK_OBJECT_HANDLE pub, priv;
    char label[64], uri[160];
    unsigned char id[2] = {0xed, 0x02};
    OSSL_STORE_CTX *st;
    OSSL_STORE_INFO *info;
    EVP_PKEY *k = NULL;
    CK_RV rv;

    if (fl->C_GetMechanismInfo(slot, CKM_EDDSA, &mi) != CKR_OK) {
        CU_PASS("no CKM_EDDSA");
        return;
    }
    snprintf(label, sizeof(label), "%s-edps", prefix);
    {
        CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &t, sizeof(t)},
                             {CKA_VERIFY, &t, sizeof(t)},
                             {CKA_LABEL, label, strlen(label)},
                             {CKA_ID, id, sizeof(id)},
                             {CKA_EC_PARAMS, (void *)params, sizeof(params)}};
        CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &t, sizeof(t)},        {CKA_PRIVATE, &t, sizeof(t)},
                             {CKA_SENSITIVE, &t, sizeof(t)},    {CKA_SIGN, &t, sizeof(t)},
                             {CKA_LABEL, label, strlen(label)}, {CKA_ID, id, sizeof(id)}};

        rv = fl->C_GenerateKeyPair(sess, &mech, pt, 5, kt, 6, &pub, &priv);
    }
    CU_ASSERT_FATAL(rv == CKR_OK);
    { /* the token keeps the string form: the case under test */
        unsigned char back[32];
        CK_ATTRIBUTE a = {CKA_EC_PARAMS, back, sizeof(back)};

        CU_ASSERT_FATAL(fl->C_GetAttributeValue(sess, priv, &a, 1) == CKR_OK);
        CU_ASSERT(a.ulValueLen == sizeof(params) && back[0] == 0x13);
    }
    snprintf(uri, sizeof(uri), "pkcs11:object=%s;type=private", label);
    st = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    CU_ASSERT_FATAL(st != NULL);
    while ((info = OSSL_STORE_load(st)) != NULL) {
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY && k == NULL)
            k = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    CU_ASSERT_FATAL(k != NULL);
    CU_ASSERT(EVP_PKEY_is_a(k, "ED25519"));
    sign_and_verify(k, NULL, 0);
    EVP_PKEY_free(k);
}

static void test_gen_needs_label(void)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(libctx, "EC", AF_PROPQ);
    EVP_PKEY *k = NULL;
    const char *data = NULL;

    CU_ASSERT_FATAL(ctx != NULL && EVP_PKEY_keygen_init(ctx) > 0);
    CU_ASSERT(EVP_PKEY_generate(ctx, &k) <= 0);
    CU_ASSERT_PTR_NULL(k);
    CU_ASSERT(ERR_peek_last_error_data(&data, NULL) != 0);
    CU_ASSERT(data != NULL && strstr(data, "needs a label") != NULL);
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
}

/* ---- key facts against the token ------------------------------------------------------------- */

static CK_OBJECT_HANDLE find_by_label(const char *label, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG found = 0;

    if (fl->C_FindObjectsInit(sess, t, 2) == CKR_OK) {
        fl->C_FindObjects(sess, &h, 1, &found);
        fl->C_FindObjectsFinal(sess);
    }
    return found == 1 ? h : CK_INVALID_HANDLE;
}

static int token_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE a = {type, &b, sizeof(b)};

    return fl->C_GetAttributeValue(sess, h, &a, 1) == CKR_OK ? b == CK_TRUE : -1;
}

static void trimmed(char *dst, const CK_UTF8CHAR *src, size_t n)
{
    memcpy(dst, src, n);
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

static void test_key_facts(void)
{
    CK_OBJECT_HANDLE priv, pub;
    int sens = -1, ext = -1, never = -1, local = -1;
    unsigned int caps = 0;
    char label[64] = "", uri[512] = "", tlabel[40] = "", tmanuf[40] = "", tmodel[20] = "",
         tserial[20] = "", hw[16] = "", fw[16] = "", want[96];
    unsigned char id[64], tid[64];
    size_t idlen = 0;
    CK_ATTRIBUTE ida;
    CK_TOKEN_INFO ti;
    OSSL_PARAM params[] = {
        OSSL_PARAM_int(AF_PARAM_KEY_SENSITIVE, &sens),
        OSSL_PARAM_int(AF_PARAM_KEY_EXTRACTABLE, &ext),
        OSSL_PARAM_int(AF_PARAM_KEY_NEVER_EXTRACTABLE, &never),
        OSSL_PARAM_int(AF_PARAM_KEY_LOCAL, &local),
        OSSL_PARAM_uint(AF_PARAM_KEY_CAPABILITIES, &caps),
        OSSL_PARAM_utf8_string(AF_PARAM_KEY_LABEL, label, sizeof(label)),
        OSSL_PARAM_octet_string(AF_PARAM_KEY_ID, id, sizeof(id)),
        OSSL_PARAM_utf8_string(AF_PARAM_KEY_URI, uri, sizeof(uri)),
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_LABEL, tlabel, sizeof(tlabel)),
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_MANUFACTURER, tmanuf, sizeof(tmanuf)),
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_MODEL, tmodel, sizeof(tmodel)),
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_SERIAL, tserial, sizeof(tserial)),
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_HW_VERSION, hw, sizeof(hw)),
        OSSL_PARAM_utf8_string(AF_PARAM_TOKEN_FW_VERSION, fw, sizeof(fw)),
        OSSL_PARAM_END,
    };

    CU_ASSERT_FATAL(ec256 != NULL);
    CU_ASSERT_FATAL(EVP_PKEY_get_params(ec256, params));
    idlen = params[6].return_size;
    priv = find_by_label(ec256_label, CKO_PRIVATE_KEY);
    pub = find_by_label(ec256_label, CKO_PUBLIC_KEY);
    CU_ASSERT_FATAL(priv != CK_INVALID_HANDLE && pub != CK_INVALID_HANDLE);

    CU_ASSERT_EQUAL(sens, token_bool(priv, CKA_SENSITIVE));
    CU_ASSERT_EQUAL(ext, token_bool(priv, CKA_EXTRACTABLE));
    CU_ASSERT_EQUAL(never, token_bool(priv, CKA_NEVER_EXTRACTABLE));
    CU_ASSERT_EQUAL(local, token_bool(priv, CKA_LOCAL));
    CU_ASSERT_EQUAL(sens, 1); /* what generation asked for */
    CU_ASSERT_EQUAL(ext, 0);
    CU_ASSERT_EQUAL(caps, AF_CAP_SIGN | AF_CAP_VERIFY); /* a signing key and nothing else */
    CU_ASSERT_EQUAL((caps & AF_CAP_SIGN) != 0, token_bool(priv, CKA_SIGN) == 1);
    CU_ASSERT_EQUAL((caps & AF_CAP_VERIFY) != 0, token_bool(pub, CKA_VERIFY) == 1);
    CU_ASSERT_EQUAL((caps & AF_CAP_DECRYPT) != 0, token_bool(priv, CKA_DECRYPT) == 1);
    CU_ASSERT_STRING_EQUAL(label, ec256_label);

    ida = (CK_ATTRIBUTE){CKA_ID, tid, sizeof(tid)};
    CU_ASSERT_FATAL(fl->C_GetAttributeValue(sess, priv, &ida, 1) == CKR_OK);
    CU_ASSERT_EQUAL(idlen, ida.ulValueLen);
    CU_ASSERT(idlen > 0 && memcmp(id, tid, idlen) == 0);

    CU_ASSERT(strncmp(uri, "pkcs11:", 7) == 0);
    snprintf(want, sizeof(want), "object=%s", ec256_label);
    CU_ASSERT_PTR_NOT_NULL(strstr(uri, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(uri, "type=private"));
    CU_ASSERT_PTR_NULL(strstr(uri, "pin"));

    CU_ASSERT_FATAL(fl->C_GetTokenInfo(slot, &ti) == CKR_OK);
    trimmed(want, ti.label, sizeof(ti.label));
    CU_ASSERT_STRING_EQUAL(tlabel, want);
    trimmed(want, ti.manufacturerID, sizeof(ti.manufacturerID));
    CU_ASSERT_STRING_EQUAL(tmanuf, want);
    trimmed(want, ti.model, sizeof(ti.model));
    CU_ASSERT_STRING_EQUAL(tmodel, want);
    trimmed(want, ti.serialNumber, sizeof(ti.serialNumber));
    CU_ASSERT_STRING_EQUAL(tserial, want);
    snprintf(want, sizeof(want), "%u.%u", ti.hardwareVersion.major, ti.hardwareVersion.minor);
    CU_ASSERT_STRING_EQUAL(hw, want);
    snprintf(want, sizeof(want), "%u.%u", ti.firmwareVersion.major, ti.firmwareVersion.minor);
    CU_ASSERT_STRING_EQUAL(fw, want);
}

/* ---- key reference file and store ------------------------------------------------------------ */

static void test_key_reference_pem(void)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *data = NULL, *text;
    long len;
    EVP_PKEY *back = NULL;

    CU_ASSERT_FATAL(ec256 != NULL && mem != NULL);
    CU_ASSERT_FATAL(PEM_write_bio_PrivateKey(mem, ec256, NULL, NULL, 0, NULL, NULL) == 1);
    len = BIO_get_mem_data(mem, &data);
    CU_ASSERT_FATAL(len > 0);
    text = OPENSSL_strndup(data, (size_t)len); /* mem BIO data is not NUL-terminated */
    CU_ASSERT_FATAL(text != NULL);
    CU_ASSERT(strstr(text, "-----BEGIN ATTFRESH PKCS11 KEY URI-----") == text);
    CU_ASSERT_PTR_NULL(strstr(text, "PRIVATE KEY"));
    OPENSSL_free(text);
    back = PEM_read_bio_PrivateKey_ex(mem, NULL, NULL, NULL, libctx, NULL);
    CU_ASSERT_FATAL(back != NULL);
    CU_ASSERT(EVP_PKEY_eq(back, ec256) == 1);
    sign_and_verify(back, "SHA256", 0);
    EVP_PKEY_free(back);
    BIO_free(mem);
}

static void test_store_public_and_missing(void)
{
    char uri[160];
    OSSL_STORE_CTX *st;
    OSSL_STORE_INFO *info;
    EVP_PKEY *pub = NULL;
    unsigned long err;

    snprintf(uri, sizeof(uri), "pkcs11:object=%s;type=public", ec256_label);
    st = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    CU_ASSERT_FATAL(st != NULL);
    while ((info = OSSL_STORE_load(st)) != NULL) {
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PUBKEY && pub == NULL)
            pub = OSSL_STORE_INFO_get1_PUBKEY(info);
        else if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY && pub == NULL)
            pub = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    CU_ASSERT_FATAL(pub != NULL);
    CU_ASSERT(EVP_PKEY_eq(pub, ec256) == 1);
    EVP_PKEY_free(pub);

    ERR_clear_error();
    snprintf(uri, sizeof(uri), "pkcs11:object=%s-nothere", prefix);
    st = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    CU_ASSERT_FATAL(st != NULL);
    CU_ASSERT_PTR_NULL(OSSL_STORE_load(st));
    OSSL_STORE_close(st);
    err = ERR_peek_last_error();
    CU_ASSERT(err != 0);
    {
        char buf[512];

        ERR_error_string_n(err, buf, sizeof(buf));
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, "object not found"));
    }
    ERR_clear_error();
}

/* A certificate put into the token (our own session) comes back through the store as DER. */
static void test_store_certificate(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(libctx, "provider=default", "EC", "P-256");
    X509 *crt = X509_new_ex(libctx, NULL), *back = NULL;
    unsigned char *der = NULL, *subj = NULL;
    int derlen, subjlen;
    char label[64], uri[160];
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL t = CK_TRUE;
    CK_OBJECT_HANDLE h;
    OSSL_STORE_CTX *st;
    OSSL_STORE_INFO *info;

    CU_ASSERT_FATAL(k != NULL && crt != NULL);
    snprintf(label, sizeof(label), "%s-cert", prefix);
    CU_ASSERT_FATAL(X509_set_pubkey(crt, k) && ASN1_INTEGER_set(X509_get_serialNumber(crt), 7) &&
                    X509_gmtime_adj(X509_getm_notBefore(crt), 0) &&
                    X509_gmtime_adj(X509_getm_notAfter(crt), 3600) &&
                    X509_NAME_add_entry_by_txt(X509_get_subject_name(crt), "CN", MBSTRING_ASC,
                                               (const unsigned char *)label, -1, -1, 0) &&
                    X509_set_issuer_name(crt, X509_get_subject_name(crt)) &&
                    X509_sign(crt, k, EVP_sha256()) > 0);
    derlen = i2d_X509(crt, &der);
    subjlen = i2d_X509_NAME(X509_get_subject_name(crt), &subj);
    CU_ASSERT_FATAL(derlen > 0 && subjlen > 0);
    {
        CK_ATTRIBUTE tmpl[] = {
            {CKA_CLASS, &cls, sizeof(cls)},
            {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
            {CKA_TOKEN, &t, sizeof(t)},
            {CKA_LABEL, label, strlen(label)},
            {CKA_SUBJECT, subj, (CK_ULONG)subjlen},
            {CKA_VALUE, der, (CK_ULONG)derlen},
        };
        CK_RV rv = fl->C_CreateObject(sess, tmpl, 6, &h);

        if (rv != CKR_OK)
            fprintf(stderr, "C_CreateObject: 0x%lx\n", (unsigned long)rv);
        CU_ASSERT_FATAL(rv == CKR_OK);
    }
    snprintf(uri, sizeof(uri), "pkcs11:object=%s;type=cert", label);
    st = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    CU_ASSERT_FATAL(st != NULL);
    while ((info = OSSL_STORE_load(st)) != NULL) {
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT && back == NULL)
            back = OSSL_STORE_INFO_get1_CERT(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    CU_ASSERT_FATAL(back != NULL);
    CU_ASSERT_EQUAL(X509_cmp(back, crt), 0);
    X509_free(back);
    X509_free(crt);
    OPENSSL_free(der);
    OPENSSL_free(subj);
    EVP_PKEY_free(k);
}

/* ---- threads and fork ------------------------------------------------------------------------ */

#define NTHREADS 4
#define NSIGS 50

static void *thread_main(void *arg)
{
    EVP_PKEY *pub = arg;
    unsigned char msg[32], sig[128];
    long good = 0;
    int i;

    for (i = 0; i < NSIGS; i++) {
        size_t siglen = sizeof(sig);

        memset(msg, i, sizeof(msg));
        if (sign_msg(ec256, "SHA256", 0, msg, sizeof(msg), sig, &siglen) &&
            verify_msg(pub, "SHA256", 0, msg, sizeof(msg), sig, siglen))
            good++;
    }
    return (void *)good;
}

static void test_threads(void)
{
    pthread_t th[NTHREADS];
    EVP_PKEY *pub = software_public(ec256);
    long total = 0;
    int i;

    CU_ASSERT_FATAL(pub != NULL);
    for (i = 0; i < NTHREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, thread_main, pub) == 0);
    for (i = 0; i < NTHREADS; i++) {
        void *r = NULL;

        pthread_join(th[i], &r);
        total += (long)r;
    }
    CU_ASSERT_EQUAL(total, NTHREADS * NSIGS);
    EVP_PKEY_free(pub);
}

static int sign_verify_once(EVP_PKEY *pub)
{
    unsigned char msg[32] = "fork", sig[128];
    size_t siglen = sizeof(sig);

    return sign_msg(ec256, "SHA256", 0, msg, sizeof(msg), sig, &siglen) &&
           verify_msg(pub, "SHA256", 0, msg, sizeof(msg), sig, siglen);
}

static void test_fork(void)
{
    EVP_PKEY *pub = software_public(ec256);
    pid_t pid;
    int status = -1;

    CU_ASSERT_FATAL(pub != NULL);
    CU_ASSERT_FATAL(sign_verify_once(pub));
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int ok = sign_verify_once(pub) && sign_verify_once(pub);

        if (!ok)
            ERR_print_errors_fp(stderr);
        _exit(ok ? 0 : 3); /* no atexit handlers: the parent owns the token state */
    }
    CU_ASSERT(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT(sign_verify_once(pub));
    EVP_PKEY_free(pub);
}

AF_TEST_MAIN("keys", setup, teardown, {"ec_p256", test_ec_p256},
             {"ec_p384_p521", test_ec_p384_p521}, {"rsa2048_pkcs1_pss", test_rsa2048_pkcs1_pss},
             {"ed25519", test_ed25519}, {"ed25519_printable_params", test_ed25519_printable_params},
             {"gen_needs_label", test_gen_needs_label}, {"key_facts", test_key_facts},
             {"key_reference_pem", test_key_reference_pem},
             {"store_public_and_missing", test_store_public_and_missing},
             {"store_certificate", test_store_certificate}, {"threads", test_threads},
             {"fork", test_fork})
