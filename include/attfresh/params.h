/* attfresh/params.h - names of the parameters attfresh.so exports and accepts: PKCS#11 key facts
 * (gettable on every token key, read by the Evidence layer through EVP_PKEY_get_params), key
 * generation options (settable on the keygen context, i.e. `-pkeyopt name:value`), and the
 * algorithm names of the provider's RAND and store. A key from another provider simply lacks
 * these params; callers must treat a failed get as "fact unknown". */
#ifndef ATTFRESH_PARAMS_H
#define ATTFRESH_PARAMS_H

/* Provider name as used in openssl.cnf and -provider, and the property to select it. */
#define AF_PROVIDER_NAME "attfresh"
#define AF_PROPQ "provider=attfresh"

/* ---- key facts (OSSL_PARAM gettable on a token key) ---------------------------------------- */
/* int (0/1): CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL of the private key
 * (of the public key when the object is a public key only) */
#define AF_PARAM_KEY_SENSITIVE "attfresh-sensitive"
#define AF_PARAM_KEY_EXTRACTABLE "attfresh-extractable"
#define AF_PARAM_KEY_NEVER_EXTRACTABLE "attfresh-never-extractable"
#define AF_PARAM_KEY_LOCAL "attfresh-local"
/* utf8 string: CKA_LABEL */
#define AF_PARAM_KEY_LABEL "attfresh-label"
/* octet string: CKA_ID */
#define AF_PARAM_KEY_ID "attfresh-id"
/* utf8 string: the object's full RFC 7512 URI (token, manufacturer, serial, model, object, id,
 * type), never with a PIN */
#define AF_PARAM_KEY_URI "attfresh-uri"
/* octet string, settable only (EVP_PKEY_set_params on a token key): the DER of an X.509
 * certificate of the key, written into the token next to it (CKO_CERTIFICATE with the key's
 * CKA_ID and CKA_LABEL). Refused when the certificate's public key is not the key's. The same
 * certificate again changes nothing; another one for the key replaces the older ones after it
 * was stored. See docs/keys.md. */
#define AF_PARAM_KEY_STORE_CERT "attfresh-store-certificate"
/* unsigned int: bit mask of AF_CAP_* built from CKA_ENCRYPT, CKA_DECRYPT, ... of the key pair */
#define AF_PARAM_KEY_CAPABILITIES "attfresh-capabilities"
/* utf8 strings from CK_TOKEN_INFO, padding trimmed; versions as "major.minor" */
#define AF_PARAM_TOKEN_LABEL "attfresh-token-label"
#define AF_PARAM_TOKEN_MANUFACTURER "attfresh-token-manufacturer"
#define AF_PARAM_TOKEN_MODEL "attfresh-token-model"
#define AF_PARAM_TOKEN_SERIAL "attfresh-token-serial"
#define AF_PARAM_TOKEN_HW_VERSION "attfresh-token-hw-version"
#define AF_PARAM_TOKEN_FW_VERSION "attfresh-token-fw-version"

/* Capability bits; bit n is Evidence capability E.2.n (evidence.md) */
#define AF_CAP_ENCRYPT (1u << 0)
#define AF_CAP_DECRYPT (1u << 1)
#define AF_CAP_WRAP (1u << 2)
#define AF_CAP_UNWRAP (1u << 3)
#define AF_CAP_SIGN (1u << 4)
#define AF_CAP_SIGN_RECOVER (1u << 5)
#define AF_CAP_VERIFY (1u << 6)
#define AF_CAP_VERIFY_RECOVER (1u << 7)
#define AF_CAP_DERIVE (1u << 8)

/* ---- key generation in the token (settable on the keygen ctx: -pkeyopt name:value) ---------- */
/* utf8: token label or pkcs11: URI selecting the token (default: the configured token) */
#define AF_PARAM_GEN_TOKEN "token"
/* utf8: CKA_LABEL of the new pair (required) */
#define AF_PARAM_GEN_LABEL "label"
/* utf8 hex: CKA_ID of the new pair (default: derived from the public key) */
#define AF_PARAM_GEN_ID "id"

/* ---- algorithm names ------------------------------------------------------------------------ */
/* EVP_RAND backed by C_GenerateRandom */
#define AF_RAND_NAME "ATTFRESH-RAND"
/* gettable on the RAND ctx: unsigned long long, C_GenerateRandom calls this process made */
#define AF_PARAM_RAND_HSM_CALLS "attfresh-hsm-calls"

#endif
