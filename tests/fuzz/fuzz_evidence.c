/* fuzz_evidence.c - libFuzzer target for the attestation decoders: PKIX Evidence (both readings of
 * intermediateCertificates), AttestationBundle, the earlier EvidenceBundle layouts, and the
 * verifier's rules over whatever decodes. What decodes must re-encode to the same bytes and
 * decode again, and the verifier's readings of Evidence and bundle (certificates taken as bytes
 * first) must accept and give exactly what the ordinary readings do. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "attfresh/evidence.h"
#include "evidence/ev_local.h"

static BIO *sink;
static AF_VERIFY *verifier;

static int nonce_any(const unsigned char *nonce, size_t len, void *arg, char *why, size_t n)
{
    (void)nonce;
    (void)len;
    (void)arg;
    (void)why;
    (void)n;
    return 1;
}

static void exercise_evidence(const AF_EVIDENCE *ev)
{
    unsigned char *der = NULL;
    size_t len = 0, i, nlen = 0;
    AF_EVIDENCE *again;
    AF_CHECKS *c;
    char buf[256];

    if (!af_evidence_to_der(ev, &der, &len))
        abort();
    again = af_evidence_from_der(der, len);
    if (again == NULL)
        abort(); /* what we encode we must read back */
    af_evidence_free(again);
    OPENSSL_free(der);
    af_evidence_print(sink, ev);
    (void)af_evidence_get0_nonce(ev, &nlen);
    (void)af_evidence_get_platform(ev, 0, buf, sizeof(buf));
    for (i = 0; i < af_evidence_key_count(ev); i++) {
        AF_KEY_CLAIMS kc;

        if (af_evidence_get_key(ev, i, &kc))
            af_key_claims_clear(&kc);
    }
    c = af_checks_new();
    af_evidence_verify(verifier, ev, NULL, (const unsigned char *)"\x30\x00", 2, c);
    af_checks_free(c);
}

/* the verifier's reading with nothing cached: every certificate decoded from its bytes */
static X509 *find_none(const unsigned char *der, size_t len, void *arg)
{
    (void)der;
    (void)len;
    (void)arg;
    return NULL;
}

static void same_as_ordinary(const AF_EVIDENCE *ev, const uint8_t *data, size_t size)
{
    AF_EVIDENCE *ev2 = af_ev_from_der_find(data, size, find_none, NULL);
    unsigned char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;

    if ((ev == NULL) != (ev2 == NULL))
        abort();
    if (ev != NULL && (!af_evidence_to_der(ev, &a, &alen) || !af_evidence_to_der(ev2, &b, &blen) ||
                       alen != blen || memcmp(a, b, alen) != 0))
        abort();
    OPENSSL_free(a);
    OPENSSL_free(b);
    af_evidence_free(ev2);
}

/* the same for the verifier's bundle reading (certificates as bytes first) */
static void bundle_same_as_ordinary(const AF_BUNDLE *b, const uint8_t *data, size_t size)
{
    AF_BUNDLE *b2 = af_ev_bundle_from_der_find(data, size, find_none, NULL);
    unsigned char *der = NULL;
    size_t len = 0;

    if ((b == NULL) != (b2 == NULL))
        abort();
    if (b2 != NULL &&
        (!af_bundle_to_der(b2, &der, &len) || len != size || memcmp(der, data, size) != 0))
        abort();
    OPENSSL_free(der);
    af_bundle_free(b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AF_EVIDENCE *ev;
    AF_BUNDLE *b;
    char desc[640];

    if (sink == NULL) {
        sink = BIO_new(BIO_s_null());
        verifier = af_verify_new(NULL, NULL);
        af_verify_set_nonce_cb(verifier, nonce_any, NULL);
    }
    ev = af_evidence_from_der(data, size);
    same_as_ordinary(ev, data, size);
    if (ev != NULL) {
        exercise_evidence(ev);
        af_evidence_free(ev);
    }
    b = af_bundle_from_der(data, size);
    bundle_same_as_ordinary(b, data, size);
    if (b != NULL) {
        unsigned char *der = NULL;
        size_t len = 0, i;
        STACK_OF(X509) * certs;

        if (!af_bundle_to_der(b, &der, &len) || len != size || memcmp(der, data, size) != 0)
            abort();
        OPENSSL_free(der);
        for (i = 0; i < af_bundle_statement_count(b); i++) {
            AF_EVIDENCE *e = af_bundle_get1_evidence(b, i);

            if (e != NULL) {
                exercise_evidence(e);
                af_evidence_free(e);
            }
        }
        certs = af_bundle_get1_certs(b);
        sk_X509_pop_free(certs, X509_free);
        af_bundle_free(b);
    }
    (void)af_bundle_describe_layout(data, size, desc, sizeof(desc));
    ERR_clear_error();
    return 0;
}
