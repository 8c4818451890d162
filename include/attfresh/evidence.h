/* attfresh/evidence.h - nonce-bound PKIX Evidence (draft-ietf-rats-pkix-key-attestation) and
 * attested CSRs (draft-ietf-lamps-csr-attestation): build and sign Evidence about keys, put it
 * into a PKCS#10 attribute or a CRMF CertTemplate extension, and verify all of it the way an RA
 * does, with every check reported by name. Keys are reached only through EVP/OSSL_STORE, so a
 * token key (attfresh.so), another provider's key or a PEM file all work; PKCS#11 facts come
 * from the key params of attfresh/params.h when the key has them. Spec: evidence.md. */
#ifndef ATTFRESH_EVIDENCE_H
#define ATTFRESH_EVIDENCE_H

#include <stddef.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crmf.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds every decoder enforces (a bigger input is rejected before it is parsed). */
#define AF_EVIDENCE_MAX_DER (64 * 1024) /* one Evidence */
#define AF_BUNDLE_MAX_DER (256 * 1024)  /* one AttestationBundle with its certificates */
#define AF_EVIDENCE_MAX_ELEMENTS 64
#define AF_EVIDENCE_MAX_CLAIMS 64 /* per element */
#define AF_EVIDENCE_MAX_SIGNATURES 8
#define AF_BUNDLE_MAX_STATEMENTS 8
#define AF_BUNDLE_MAX_CERTS 16

/* ==== Evidence (opaque; the decoded ASN.1 structure) ========================================= */
typedef struct af_evidence_st AF_EVIDENCE;

void af_evidence_free(AF_EVIDENCE *ev);
/* Strict decode: at most AF_EVIDENCE_MAX_DER bytes, DER only (the input must re-encode to the
 * same bytes), no trailing bytes, counts within the bounds above. intermediateCertificates is
 * accepted both as EXPLICIT [0] (the module) and IMPLICIT [0] (what the reference code reads).
 * Structural rules (version, element counts, claims) are checked by af_evidence_verify. */
AF_EVIDENCE *af_evidence_from_der(const unsigned char *der, size_t len);
/* DER of the whole Evidence into a new buffer (OPENSSL_free). Returns 1/0. */
int af_evidence_to_der(const AF_EVIDENCE *ev, unsigned char **der, size_t *len);
/* PEM with label "PKIX EVIDENCE" (af_evidence_from_pem accepts only that label). */
int af_evidence_write_pem(BIO *out, const AF_EVIDENCE *ev);
AF_EVIDENCE *af_evidence_from_pem(const unsigned char *pem, size_t len);
/* DER or PEM, told apart by the first byte. */
AF_EVIDENCE *af_evidence_from_bytes(const unsigned char *data, size_t len);

/* Readers for callers that want the claims (tests, reports). They do not verify anything. */
size_t af_evidence_signature_count(const AF_EVIDENCE *ev);
/* The transaction nonce (a borrowed pointer into ev) or NULL when absent/not an OCTET STRING. */
const unsigned char *af_evidence_get0_nonce(const AF_EVIDENCE *ev, size_t *len);
/* A platform claim as text (UTF8String and OCTET STRING claims; INTEGER and BOOLEAN as decimal)
 * into buf; returns 1 when present. claim is one of AF_OID_EV_PF_*. */
int af_evidence_get_platform(const AF_EVIDENCE *ev, int claim, char *buf, size_t bufsize);

/* One key element, read into plain fields. A boolean claim that is absent reads -1. */
typedef struct {
    char *identifier;    /* NULL when absent */
    unsigned char *spki; /* DER SubjectPublicKeyInfo, NULL when absent */
    size_t spki_len;
    int extractable, sensitive, never_extractable, local;
    int has_purpose;
    unsigned int purpose; /* AF_CAP_* bits (params.h); unknown capability OIDs are skipped */
} AF_KEY_CLAIMS;

size_t af_evidence_key_count(const AF_EVIDENCE *ev);
/* Fills *kc from the i-th key element (0-based); release with af_key_claims_clear. Returns 1/0. */
int af_evidence_get_key(const AF_EVIDENCE *ev, size_t i, AF_KEY_CLAIMS *kc);
void af_key_claims_clear(AF_KEY_CLAIMS *kc);

/* 1 when a key element's spki claim equals key's SubjectPublicKeyInfo byte for byte. */
int af_evidence_describes(const AF_EVIDENCE *ev, EVP_PKEY *key);
/* The certificates of the signers (sid.certificate), new stack of new references. */
STACK_OF(X509) * af_evidence_get1_signer_certs(const AF_EVIDENCE *ev);

/* Human-readable dump of all elements and claims (names from the OID table). */
int af_evidence_print(BIO *out, const AF_EVIDENCE *ev);

/* ==== Building and signing Evidence ========================================================== */
typedef struct af_attest_st AF_ATTEST;

/* Facts af_attest_add_key found on a key; what it did not find is not claimed. A key from a
 * provider without the attfresh params (a PEM file, the default provider) gets only the
 * identifier (the caller's name) and spki claims: af_attest_add_key returns 0 facts for it. */
#define AF_FACT_URI 0x01          /* AF_PARAM_KEY_URI: used as the identifier */
#define AF_FACT_ATTRIBUTES 0x02   /* all four of extractable, sensitive, never-extractable, local */
#define AF_FACT_CAPABILITIES 0x04 /* purpose claim */
#define AF_FACT_TOKEN 0x08        /* token info, usable for the platform element */

/* libctx/propq are used to fetch digests and signature algorithms (NULL = default). */
AF_ATTEST *af_attest_new(OSSL_LIB_CTX *libctx, const char *propq);
void af_attest_free(AF_ATTEST *at);
/* The nonce exactly as received from the RA (1..1024 bytes; the RA decides what is fresh). */
int af_attest_set1_nonce(AF_ATTEST *at, const unsigned char *nonce, size_t len);
/* Timestamp claim (default: the time of af_attest_sign). */
int af_attest_set_time(AF_ATTEST *at, time_t t);
/* Adds one key element. identifier = the key's AF_PARAM_KEY_URI when it has one, else name (which
 * is then required). *facts (may be NULL) receives the AF_FACT_* bits found. The first key (or AK)
 * with token info also supplies the platform element. Returns 1/0. */
int af_attest_add_key(AF_ATTEST *at, EVP_PKEY *key, const char *name, unsigned int *facts);
/* The Attestation Key and its certificate (the certificate goes into sid.certificate; without
 * one, sid carries the AK's subjectPublicKeyInfo). Only one AK; the reference is kept. */
int af_attest_set1_ak(AF_ATTEST *at, EVP_PKEY *ak, X509 *ak_cert);
/* Digest for ECDSA/RSA AKs: NULL = SHA-256 (SHA-384 for P-384, SHA-512 for P-521). */
int af_attest_set_digest(AF_ATTEST *at, const char *mdname);
/* RSA AKs: 1 = RSASSA-PSS (salt = digest length, MGF1 with the same digest), 0 = PKCS#1 v1.5. */
int af_attest_set_rsa_pss(AF_ATTEST *at, int pss);
/* Builds TbsEvidence (transaction, platform, keys) and signs its DER with the AK. New Evidence
 * or NULL with an error raised. Never emits intermediateCertificates. */
AF_EVIDENCE *af_attest_sign(AF_ATTEST *at);

/* Signs data with key (EVP_DigestSign through the key's provider) and gives the matching
 * AlgorithmIdentifier (ecdsa-with-SHA*, sha*WithRSAEncryption, RSASSA-PSS with explicit
 * parameters, Ed25519). mdname NULL picks the default above; pss selects PSS for RSA keys.
 * Used for Evidence and the CSR self-signature alike. Returns 1/0. */
int af_sign_data(EVP_PKEY *key, const char *mdname, int pss, OSSL_LIB_CTX *libctx,
                 const char *propq, const unsigned char *data, size_t len, X509_ALGOR **alg,
                 unsigned char **sig, size_t *siglen);

/* ==== AttestationBundle ====================================================================== */
typedef struct af_bundle_st AF_BUNDLE;

/* What the id-aa-attestation attribute value turned out to be. */
typedef enum {
    AF_LAYOUT_BUNDLE = 1,      /* current: AttestationBundle {attestations, certs} */
    AF_LAYOUT_EVIDENCE_BUNDLE, /* earlier: one EvidenceBundle, statements with hints */
    AF_LAYOUT_EVIDENCE_BUNDLES /* earlier: SEQUENCE OF EvidenceBundle */
} af_bundle_layout;

AF_BUNDLE *af_bundle_new(void);
void af_bundle_free(AF_BUNDLE *b);
/* Adds a statement of type AF_OID_EVIDENCE whose stmt is the Evidence DER. */
int af_bundle_add_evidence(AF_BUNDLE *b, const AF_EVIDENCE *ev);
/* Adds certificates for the AK chain (references kept). Self-signed roots should not be added. */
int af_bundle_add1_cert(AF_BUNDLE *b, X509 *cert);
int af_bundle_to_der(const AF_BUNDLE *b, unsigned char **der, size_t *len);
/* Strict decode of the current layout. When the bytes are an earlier layout, returns NULL and
 * raises AF_R_EVIDENCE_DECODE naming the layout (see af_bundle_describe_layout). */
AF_BUNDLE *af_bundle_from_der(const unsigned char *der, size_t len);
/* Classifies der as one of the layouts above; 0 when none decodes. desc receives one line such
 * as "EvidenceBundles (earlier csr-attestation layout): 1 bundle, 2 statements, hints: ...". */
int af_bundle_describe_layout(const unsigned char *der, size_t len, char *desc, size_t descsize);
size_t af_bundle_statement_count(const AF_BUNDLE *b);
/* The i-th statement's type as af_oid_id (-1 unknown); the Evidence of an AF_OID_EVIDENCE
 * statement decoded strictly (new object) or NULL with an error. */
int af_bundle_statement_type(const AF_BUNDLE *b, size_t i);
AF_EVIDENCE *af_bundle_get1_evidence(const AF_BUNDLE *b, size_t i);
/* The bundle's certificates as a new stack of new references (sk_X509_pop_free); never NULL
 * unless out of memory. */
STACK_OF(X509) * af_bundle_get1_certs(const AF_BUNDLE *b);

/* ==== Attested CSR (PKCS#10) and CRMF ======================================================== */
/* A new X509_REQ: subject DN (OpenSSL "/CN=x/O=y" form), optional SANs (comma-separated
 * "DNS:a,IP:1.2.3.4,email:x@y,URI:u"; NULL for none), one id-aa-attestation attribute carrying
 * the bundle; self-signed with key (any provider). Returns NULL with an error raised. */
X509_REQ *af_csr_new(EVP_PKEY *key, const char *subject, const char *sans, const AF_BUNDLE *b,
                     OSSL_LIB_CTX *libctx, const char *propq);
/* A CRMF CertReqMsg for CMP ir/cr: CertTemplate with subject, public key, SANs and the extension
 * id-aa-attestation (extnValue = bundle DER), POPO signed by key. */
OSSL_CRMF_MSG *af_crmf_new(EVP_PKEY *key, const char *subject, const char *sans, const AF_BUNDLE *b,
                           OSSL_LIB_CTX *libctx, const char *propq);
/* A distinguished name from "/CN=a/O=b" (OpenSSL command form, '\\' escapes) or "CN=a,O=b". */
X509_NAME *af_parse_dn(const char *dn);
/* The X509_EXTENSION alone, for callers that build their own CertTemplate. */
X509_EXTENSION *af_attestation_extension_new(const AF_BUNDLE *b);

/* ==== Verification results =================================================================== */
typedef enum { AF_CHECK_PASS = 0, AF_CHECK_FAIL = 1, AF_CHECK_SKIP = 2 } af_check_status;
typedef struct af_checks_st AF_CHECKS;

/* Check names (stable; the JSON output and the RA's rejections use them). */
#define AF_CHECK_CSR_SIGNATURE "csr-signature"
#define AF_CHECK_ATTRIBUTE "attestation-attribute"
#define AF_CHECK_BUNDLE "bundle-decode"
#define AF_CHECK_EVIDENCE_DECODE "evidence-decode"
#define AF_CHECK_EVIDENCE_RULES "evidence-rules"
#define AF_CHECK_EVIDENCE_SIGNATURE "evidence-signature"
#define AF_CHECK_AK_CHAIN "ak-chain"
#define AF_CHECK_AK_USAGE "ak-usage"
#define AF_CHECK_KEY_BINDING "key-binding"
#define AF_CHECK_NONCE "nonce"
#define AF_CHECK_POLICY "key-policy"

AF_CHECKS *af_checks_new(void);
void af_checks_free(AF_CHECKS *c);
/* Appends one result (detail may be NULL). Returns 1/0. */
int af_checks_add(AF_CHECKS *c, const char *name, af_check_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
size_t af_checks_count(const AF_CHECKS *c);
const char *af_checks_name(const AF_CHECKS *c, size_t i);
af_check_status af_checks_status(const AF_CHECKS *c, size_t i);
const char *af_checks_detail(const AF_CHECKS *c, size_t i);
/* 1 when there is at least one result and none failed (skipped ones do not count as passed:
 * a required check that was skipped is recorded as failed by the verifier). */
int af_checks_passed(const AF_CHECKS *c);
/* Index of the first failed check, or -1. */
int af_checks_first_failure(const AF_CHECKS *c);
/* "PASS name: detail" lines, or one JSON object {"passed":bool,"checks":[{"name","status",
 * "detail"}]} (fixed key order, compact, newline-terminated). */
int af_checks_print(BIO *out, const AF_CHECKS *c);
char *af_checks_to_json(const AF_CHECKS *c); /* OPENSSL_free */

/* ==== Key-claim policy ======================================================================= */
typedef struct af_policy_st AF_POLICY;

/* Default: sensitive, never-extractable and local must be true, extractable false; a required
 * claim that is absent fails. */
AF_POLICY *af_policy_new(void);
void af_policy_free(AF_POLICY *p);
/* Policy text, one "name = value" per line, '#' comments:
 *   sensitive | never-extractable | local | extractable = true | false | any
 *   missing = reject | accept          (a required claim absent from the Evidence)
 *   require-purpose = sign,decrypt,... (capabilities the purpose claim must include; "" none)
 *   forbid-purpose  = wrap,...         (capabilities it must not include)
 * Unknown names and bad values are errors (AF_R_INVALID_ARGUMENT naming the line). */
int af_policy_parse(AF_POLICY *p, const char *text, size_t len);
int af_policy_load(AF_POLICY *p, const char *path);

/* ==== Verifying ============================================================================== */
typedef struct af_verify_st AF_VERIFY;

/* The nonce check the caller plugs in: returns 1 when nonce is acceptable (the RA consumes it
 * from its store here: issued for this transaction, unexpired, unused -> marked used), else 0
 * after writing one line of reason into why. */
typedef int (*af_nonce_cb)(const unsigned char *nonce, size_t len, void *arg, char *why,
                           size_t whysize);
/* A ready checker for af_nonce_cb: arg is an AF_EXPECTED_NONCE (the nonce must equal it). */
typedef struct {
    const unsigned char *nonce;
    size_t len;
} AF_EXPECTED_NONCE;
int af_nonce_cb_expected(const unsigned char *nonce, size_t len, void *arg, char *why,
                         size_t whysize);

AF_VERIFY *af_verify_new(OSSL_LIB_CTX *libctx, const char *propq);
void af_verify_free(AF_VERIFY *v);
/* For an RA that verifies many requests: configure one prototype (anchors, policy, keyId
 * callback) once, then make a verifier per request from it - cheap, and it shares the
 * prototype's trust store and its cache of AK certificates already proven to chain to an anchor
 * (by their exact bytes; used only while every certificate of that chain is valid, so the chain
 * verification runs once per AK instead of once per request). The nonce callback is not copied:
 * set it per request. Trust must be added to the prototype (a derived verifier refuses it);
 * prototype and derived verifiers may be freed in any order and used from different threads. */
AF_VERIFY *af_verify_new_from(const AF_VERIFY *proto);
/* AK trust anchors (references kept); a PEM file may hold several certificates. */
int af_verify_add1_trust(AF_VERIFY *v, X509 *anchor);
int af_verify_load_trust(AF_VERIFY *v, const char *path);
/* Without a nonce callback the nonce check fails ("no nonce expected"): a CSR is never accepted
 * without freshness. */
void af_verify_set_nonce_cb(AF_VERIFY *v, af_nonce_cb cb, void *arg);
/* The policy is copied; NULL restores the default. */
int af_verify_set_policy(AF_VERIFY *v, const AF_POLICY *p);
/* Resolves a signer given only by keyId (sid.keyId): return a new reference or NULL. */
typedef EVP_PKEY *(*af_keyid_cb)(const unsigned char *keyid, size_t len, void *arg);
void af_verify_set_keyid_cb(AF_VERIFY *v, af_keyid_cb cb, void *arg);
/* Fixed verification time (tests); 0 = now. */
void af_verify_set_time(AF_VERIFY *v, time_t t);

/* Evidence checks alone: rules, each signature, AK chain/usage (untrusted = extra chain certs,
 * may be NULL), nonce; and, when spki is given, key binding and policy for the key element
 * whose spki equals it. Results are appended to out. Returns 1 when all passed. */
int af_evidence_verify(AF_VERIFY *v, const AF_EVIDENCE *ev, STACK_OF(X509) * untrusted,
                       const unsigned char *spki, size_t spki_len, AF_CHECKS *out);
/* Everything for a PKCS#10 CSR: self-signature, exactly one attestation attribute, bundle, every
 * Evidence statement as above, key binding to the CSR's SubjectPublicKeyInfo, nonce, policy. */
int af_csr_verify(AF_VERIFY *v, X509_REQ *req, AF_CHECKS *out);
/* The same for a CRMF CertReqMsg (POPO signature instead of the self-signature). */
int af_crmf_verify(AF_VERIFY *v, const OSSL_CRMF_MSG *msg, AF_CHECKS *out);

/* ==== The nonce to attest ==================================================================== */
/* The nonce kept from the RA's answer (what `--state FILE` reads): the transaction state JSON of
 * `attfresh nonce get --state` (proto.h), a NonceResponse in any profile and encoding (its first
 * item, decoded leniently), or hex text. New buffer
 * (OPENSSL_free) or 0 with an error. */
int af_nonce_from_state(const unsigned char *data, size_t len, unsigned char **nonce,
                        size_t *nonce_len);
/* Exactly one of hex (the nonce as hex, ':' and spaces allowed) and state_path (a file as above,
 * at most 64 KiB). New buffer or NULL with an error. */
unsigned char *af_nonce_load(const char *hex, const char *state_path, size_t *len);

/* ==== Loading keys and certificates (OSSL_STORE: pkcs11: URIs, files) ======================== */
/* First private key (want_private) or public key at uri; NULL with an error naming uri. */
EVP_PKEY *af_load_key(const char *uri, int want_private, OSSL_LIB_CTX *libctx, const char *propq);
/* First certificate at uri/path. */
X509 *af_load_cert(const char *uri, OSSL_LIB_CTX *libctx, const char *propq);
/* Every certificate in a PEM/DER file, as a new stack (at least one, else NULL). */
STACK_OF(X509) * af_load_certs(const char *path, OSSL_LIB_CTX *libctx, const char *propq);

/* ==== A key's certificate into its token (provider/evidence/ev_token_cert.c) ================ */
/* 1 when key is a token key of attfresh.so (one that can keep a certificate next to it); else 0
 * with the error "key is not in a token". Cheap: no PKCS#11 call. */
int af_key_in_token(EVP_PKEY *key);
/* Writes cert into key's token next to it (a CKO_CERTIFICATE with the key's CKA_ID and
 * CKA_LABEL), through the provider (AF_PARAM_KEY_STORE_CERT of attfresh/params.h): refused when
 * cert does not certify key; the same certificate again changes nothing; another certificate
 * of the key is stored first and then the older ones are removed (renewal). Returns 1/0 with one
 * error (the token's CKR_ code when it refused). */
int af_store_cert_in_token(EVP_PKEY *key, X509 *cert);

#ifdef __cplusplus
}
#endif
#endif
