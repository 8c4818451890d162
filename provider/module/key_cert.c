/* key_cert.c - a token key's certificate written into the token next to it (keymgmt set_params
 * AF_PARAM_KEY_STORE_CERT): a CKO_CERTIFICATE with the key's CKA_ID and CKA_LABEL, replacing
 * the key's older certificates only once the new one is stored. */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attfresh/params.h"
#include "module/key.h"
#include "module/prov.h"

/* Certificates one key may already have next to it that are looked at (more are left alone). */
#define AF_CERT_MAX_PRESENT 32

/* 1 when x certifies key: the same SubjectPublicKeyInfo bytes, or (another encoding of the
 * same key, e.g. a compressed EC point) the same key once decoded. */
static int cert_matches_key(AF_KEY *key, X509 *x, const unsigned char *spki, int spkilen)
{
    unsigned char *d = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &d), eq;
    EVP_PKEY *a, *b;

    eq = n > 0 && n == spkilen && memcmp(d, spki, (size_t)n) == 0;
    OPENSSL_free(d);
    if (eq)
        return 1;
    ERR_set_mark(); /* an undecodable key in the certificate is simply not ours */
    a = X509_get0_pubkey(x);
    b = af_key_get0_verify_pkey(key);
    eq = a != NULL && b != NULL && EVP_PKEY_eq(a, b) == 1;
    ERR_pop_to_mark();
    return eq;
}

static X509 *cert_parse(AF_PROV_CTX *pc, const unsigned char *der, size_t len)
{
    X509 *x = X509_new_ex(af_prov_libctx(pc), NULL);
    const unsigned char *p = der;

    if (x == NULL)
        return NULL;
    ERR_set_mark(); /* the caller says what was wrong, in one line */
    if (len > LONG_MAX || d2i_X509(&x, &p, (long)len) == NULL || p != der + len) {
        ERR_pop_to_mark();
        X509_free(x);
        return NULL;
    }
    ERR_pop_to_mark();
    return x;
}

/* The key's certificates already in the token (same CKA_ID, or CKA_LABEL for a key without
 * one): *same = the one whose CKA_VALUE is der; older[] = the others that certify this key.
 * Certificates of other keys that happen to share the CKA_ID are not touched. */
static int find_present(AF_KEY *key, AF_P11_TOKEN *tok, CK_SESSION_HANDLE s,
                        const unsigned char *der, size_t len, const unsigned char *spki,
                        int spkilen, CK_OBJECT_HANDLE *same, CK_OBJECT_HANDLE *older,
                        CK_ULONG *nolder)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE t[2];
    CK_OBJECT_HANDLE h[AF_CERT_MAX_PRESENT];
    CK_ULONG found = 0, i;
    size_t idlen = 0;
    const unsigned char *id = af_key_get0_id(key, &idlen);
    const char *label = af_key_get0_label(key);

    *same = CK_INVALID_HANDLE;
    *nolder = 0;
    t[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    if (id != NULL)
        t[1] = (CK_ATTRIBUTE){CKA_ID, (void *)id, (CK_ULONG)idlen};
    else
        t[1] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)};
    if (!af_p11_find(tok, s, t, 2, h, AF_CERT_MAX_PRESENT, &found))
        return 0;
    for (i = 0; i < found; i++) {
        unsigned char *v = NULL;
        CK_ULONG vlen = 0;
        CK_RV rv = CKR_OK;
        X509 *x;

        if (!af_p11_attr(tok, s, h[i], CKA_VALUE, &v, &vlen, &rv)) {
            if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE)
                continue; /* not an X.509 certificate with a value: not ours to judge */
            return 0;
        }
        if (vlen == len && memcmp(v, der, len) == 0) {
            *same = h[i];
        } else if ((x = cert_parse(af_key_get0_provctx(key), v, vlen)) != NULL) {
            if (cert_matches_key(key, x, spki, spkilen))
                older[(*nolder)++] = h[i];
            X509_free(x);
        }
        OPENSSL_free(v);
    }
    return 1;
}

/* Creates the certificate object; CKA_PRIVATE false so that it can be read without a login, as
 * certificates usually are. */
static int create_cert(AF_KEY *key, AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, X509 *x,
                       const unsigned char *der, size_t len, CK_OBJECT_HANDLE *out)
{
    CK_FUNCTION_LIST *fl = af_p11_fl(af_p11_token_owner(tok));
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[11];
    CK_ULONG n = 0;
    unsigned char *subj = NULL, *iss = NULL, *ser = NULL;
    int subjlen = i2d_X509_NAME(X509_get_subject_name(x), &subj);
    int isslen = i2d_X509_NAME(X509_get_issuer_name(x), &iss);
    int serlen = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &ser);
    size_t idlen = 0;
    const unsigned char *id = af_key_get0_id(key, &idlen);
    const char *label = af_key_get0_label(key);
    CK_RV rv = CKR_HOST_MEMORY;
    int ok = 0;

    if (subjlen <= 0 || isslen <= 0 || serlen <= 0) {
        af_prov_raise(af_key_get0_provctx(key), AF_PR_MALLOC, "encoding the certificate's names");
        goto end;
    }
    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &t, sizeof(t)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_PRIVATE, &f, sizeof(f)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_SUBJECT, subj, (CK_ULONG)subjlen};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_ISSUER, iss, (CK_ULONG)isslen};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_SERIAL_NUMBER, ser, (CK_ULONG)serlen};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_VALUE, (void *)der, (CK_ULONG)len};
    if (id != NULL)
        tmpl[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)id, (CK_ULONG)idlen};
    if (label != NULL)
        tmpl[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)};
    rv = fl->C_CreateObject(s, tmpl, n, out);
    if (rv != CKR_OK)
        af_prov_raise_rv(af_key_get0_provctx(key), AF_PR_CERT_STORE, rv,
                         "C_CreateObject of the certificate next to %s failed",
                         af_key_get0_uri(key));
    ok = rv == CKR_OK;
end:
    OPENSSL_free(subj);
    OPENSSL_free(iss);
    OPENSSL_free(ser);
    return ok;
}

int af_key_store_cert(AF_KEY *key, const unsigned char *der, size_t len)
{
    AF_PROV_CTX *pc = af_key_get0_provctx(key);
    AF_P11_TOKEN *tok = af_key_get0_token(key);
    const char *uri = af_key_get0_uri(key);
    size_t idlen = 0;
    X509 *x = NULL;
    unsigned char *spki = NULL;
    int spkilen, ok = 0;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE same, created = CK_INVALID_HANDLE, older[AF_CERT_MAX_PRESENT];
    CK_ULONG nolder = 0, i;
    CK_FUNCTION_LIST *fl;

    if (tok == NULL) {
        af_prov_raise(pc, AF_PR_OPERATION,
                      "key is not in a token (an imported public key): no certificate can be"
                      " stored next to it");
        return 0;
    }
    if (af_key_get0_id(key, &idlen) == NULL && af_key_get0_label(key) == NULL) {
        af_prov_raise(pc, AF_PR_OPERATION,
                      "%s has neither CKA_ID nor CKA_LABEL: a certificate stored next to it could"
                      " not be found again",
                      uri);
        return 0;
    }
    if ((x = cert_parse(pc, der, len)) == NULL) {
        af_prov_raise(pc, AF_PR_BAD_PARAM, "%s: the value is not one DER X.509 certificate",
                      AF_PARAM_KEY_STORE_CERT);
        return 0;
    }
    if ((spkilen = af_key_spki_der(key, &spki)) <= 0) {
        af_prov_raise(pc, AF_PR_CERT_STORE,
                      "cannot check the certificate against %s: the token holds no public half",
                      uri);
        goto end;
    }
    if (!cert_matches_key(key, x, spki, spkilen)) {
        char subj[256];

        X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
        af_prov_raise(pc, AF_PR_CERT_STORE,
                      "the certificate %s is for another key than %s; nothing written", subj, uri);
        goto end;
    }

    /* A key with a private half was loaded with a login: after a fork, log in again. A public
     * key only may write a public object without one. */
    if (!af_p11_ready(af_p11_token_owner(tok)) ||
        (af_key_has_private(key) && !af_p11_token_login_for(tok, uri, NULL, NULL, NULL, NULL)) ||
        !af_p11_session_get(tok, &s))
        goto end;
    fl = af_p11_fl(af_p11_token_owner(tok));
    if (!find_present(key, tok, s, der, len, spki, spkilen, &same, older, &nolder))
        goto end;
    if (same == CK_INVALID_HANDLE && !create_cert(key, tok, s, x, der, len, &created))
        goto end;
    /* Only now that the new certificate is in the token may the older ones go (renewal). */
    for (i = 0; i < nolder; i++) {
        CK_RV rv = fl->C_DestroyObject(s, older[i]);

        if (rv == CKR_OK)
            continue;
        if (i == 0 && created != CK_INVALID_HANDLE && fl->C_DestroyObject(s, created) == CKR_OK)
            af_prov_raise_rv(pc, AF_PR_CERT_STORE, rv,
                             "cannot replace the older certificate next to %s, nothing changed:"
                             " C_DestroyObject failed",
                             uri);
        else
            af_prov_raise_rv(pc, AF_PR_CERT_STORE, rv,
                             "the certificate is stored next to %s, but %lu older one(s) could"
                             " not be removed: C_DestroyObject failed",
                             uri, (unsigned long)(nolder - i));
        goto end;
    }
    af_prov_log(pc, AF_LOG_INFO, "certificate %s next to %s (%lu older removed)",
                same != CK_INVALID_HANDLE ? "already" : "stored", uri, (unsigned long)nolder);
    ok = 1;
end:
    if (s != CK_INVALID_HANDLE)
        af_p11_session_put(tok, s, 1);
    OPENSSL_free(spki);
    X509_free(x);
    return ok;
}
