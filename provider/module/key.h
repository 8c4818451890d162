/* key.h - the token key object shared by store, keymgmt, signature, encoder and decoder: where
 * the pair lives (token, CKA_ID, label, cached object handles), its public half (for export and
 * software verification) and the PKCS#11 facts exported as key params. Refcounted; immutable
 * after af_key_load except the handle cache, which is refreshed after a fork. */
#ifndef ATTFRESH_KEY_H
#define ATTFRESH_KEY_H

#include <stddef.h>

#include <openssl/evp.h>

#include "module/prov.h"

typedef struct af_key_st AF_KEY;

enum af_key_type { AF_KEY_NONE = 0, AF_KEY_EC, AF_KEY_RSA, AF_KEY_ED25519 };

/* Signature algorithm names of signature.c (what keymgmt's query_operation_name answers). */
#define AF_SIG_NAME_ECDSA "ATTFRESH-ECDSA"
#define AF_SIG_NAME_RSA "ATTFRESH-RSA"
#define AF_SIG_NAME_ED25519 "ATTFRESH-ED25519"

/* Names the keymgmt/decoder/store use for each type ("EC", "RSA", "ED25519"). */
const char *af_key_type_name(int type);

/* Builds a key from the objects of tok with CKA_ID id (and label when id is NULL). priv/pub are
 * the handles already found (CK_INVALID_HANDLE when absent; at least one must be given). Reads
 * everything it will ever need in session s, so later operations touch only C_Sign*. */
AF_KEY *af_key_load(AF_PROV_CTX *pc, AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                    CK_OBJECT_HANDLE pub);
/* A public-only key from OSSL_PARAMs (keymgmt import); not bound to a token. */
AF_KEY *af_key_new_public(AF_PROV_CTX *pc, int type);
int af_key_up_ref(AF_KEY *key);
void af_key_free(AF_KEY *key);

AF_PROV_CTX *af_key_get0_provctx(const AF_KEY *key);
AF_P11_TOKEN *af_key_get0_token(const AF_KEY *key);
int af_key_type(const AF_KEY *key);
int af_key_has_private(const AF_KEY *key);
int af_key_has_public(const AF_KEY *key);
int af_key_bits(const AF_KEY *key);
int af_key_security_bits(const AF_KEY *key);
/* Largest signature in bytes. */
int af_key_max_sig_size(const AF_KEY *key);
/* EC: curve NID (NID_undef otherwise). */
int af_key_curve_nid(const AF_KEY *key);
/* Full pkcs11: URI of the key (never a PIN). */
const char *af_key_get0_uri(const AF_KEY *key);
/* CKA_ID (NULL, *len 0 when the objects have none) and CKA_LABEL (NULL when none). */
const unsigned char *af_key_get0_id(const AF_KEY *key, size_t *len);
const char *af_key_get0_label(const AF_KEY *key);

/* The private key's handle, valid in the current fork generation (looked up again, and the
 * token logged in again, after a fork). Raises and returns 0 when the key has no private half. */
int af_key_priv_handle(AF_KEY *key, CK_OBJECT_HANDLE *out);

/* The digest in slot (0..AF_KEY_MD_SLOTS-1, one per supported digest) fetched by name from the
 * provider's libctx once per key, so signing never fetches. Borrowed; NULL if unavailable. */
#define AF_KEY_MD_SLOTS 5
EVP_MD *af_key_get0_md(AF_KEY *key, int slot, const char *name);

/* 1 when the key's token offers mechanism m (the answer is remembered per key). */
int af_key_token_has_mech(AF_KEY *key, CK_MECHANISM_TYPE m);

/* Software copy of the public key, in the provider's libctx but from another provider (e.g.
 * default), for verification; borrowed, built on first use. NULL (error raised) if unavailable. */
EVP_PKEY *af_key_get0_verify_pkey(AF_KEY *key);

/* DER SubjectPublicKeyInfo of the key's public half into *der (OPENSSL_free); length or -1. */
int af_key_spki_der(const AF_KEY *key, unsigned char **der);

/* key_cert.c: writes the DER certificate der into the key's token next to it (keymgmt set_params
 * AF_PARAM_KEY_STORE_CERT): refused unless it certifies this key; the same certificate again
 * is a no-op; otherwise the new object is created first and only then the older certificates of
 * this key (same CKA_ID, same public key) are destroyed. Returns 1/0 with one error raised. */
int af_key_store_cert(AF_KEY *key, const unsigned char *der, size_t len);

/* keymgmt: fills the gettable params (standard + AF_PARAM_*) present in params. Returns 1/0. */
int af_key_get_params(AF_KEY *key, OSSL_PARAM params[]);
/* keymgmt export: public parts as OSSL_PARAMs for the callback. Returns 1/0. */
int af_key_export_public(const AF_KEY *key, OSSL_CALLBACK *cb, void *cbarg);
/* keymgmt import of public parts. Returns 1/0. */
int af_key_import_public(AF_KEY *key, const OSSL_PARAM params[]);
/* 1 when both keys have the same public key (or refer to the same token objects). */
int af_key_match_public(const AF_KEY *a, const AF_KEY *b);

/* store.c: runs the pkcs11: store over uri (expect: OSSL_STORE_INFO_* or 0) and hands every
 * object to cb as OSSL_OBJECT params (keys by reference). Used by the key-reference decoder.
 * Returns 1 when at least one object was passed on, 0 with an error raised otherwise. */
int af_store_fetch(AF_PROV_CTX *pc, const char *uri, int expect, OSSL_CALLBACK *cb, void *cbarg,
                   OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg);

/* encoder.c: the key-reference file, SEQUENCE { UTF8String description, UTF8String uri } with
 * the description "attfresh PKCS#11 key reference (<TYPE>)". */
#define AF_KEYREF_PEM_LABEL "ATTFRESH PKCS11 KEY URI"
#define AF_KEYREF_STRUCTURE "attfresh-keyref"
/* DER into *der (OPENSSL_free); returns its length or -1. */
int af_keyref_encode(int type, const char *uri, unsigned char **der);
/* The URI of a reference to a key of type, or NULL (not ours, other type, malformed). Strict:
 * no trailing bytes. OPENSSL_free the result. */
char *af_keyref_decode(const unsigned char *der, size_t len, int type);

/* ECDSA signature encodings (kept apart so the unit tests reach them without a token).
 * r||s (each half size bytes, big-endian) -> DER Ecdsa-Sig-Value into der (capacity dersize);
 * allocation-free for the signing path. Returns 1/0. */
int af_ecdsa_rs_to_der(const unsigned char *rs, size_t rslen, unsigned char *der, size_t dersize,
                       size_t *derlen);
/* DER Ecdsa-Sig-Value -> r||s with each half padded to half bytes (rs capacity 2*half).
 * Strict DER; rejects values longer than half. Returns 1/0. */
int af_ecdsa_der_to_rs(const unsigned char *der, size_t derlen, size_t half, unsigned char *rs);
/* Bytes of r (or s) for a curve NID: 32, 48, 66; 0 for unknown curves. */
size_t af_ecdsa_half_len(int nid);

#endif
