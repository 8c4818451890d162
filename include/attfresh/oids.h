/* attfresh/oids.h - the one table of every OID attfresh speaks: wire-profile infoTypes, CMC
 * controls, csr-attestation and PKIX Evidence placeholders. The provider registers names from it,
 * the codecs take OIDs from it; nothing else spells an OID. */
#ifndef ATTFRESH_OIDS_H
#define ATTFRESH_OIDS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    /* CMP InfoTypeAndValue types (nonce-protocol.md section 4) */
    AF_OID_IT_NONCE_REQUEST = 0,      /* 1.3.6.1.5.5.7.4.98  draft-08 request */
    AF_OID_IT_NONCE_RESPONSE,         /* 1.3.6.1.5.5.7.4.99  draft-08 response, siemens-ra request */
    AF_OID_IT_SIEMENS_NONCE_RESPONSE, /* 1.3.6.1.5.5.7.4.100 siemens-ra response */
    AF_OID_IT_RAT_NONCE_REQUEST,      /* 1.2.840.113549.1.9.16.2.8888 rat-e2e, draft-06 request */
    AF_OID_IT_RAT_NONCE_RESPONSE,     /* 1.2.840.113549.1.9.16.2.8889 rat-e2e, draft-06 response */
    /* CMC controls */
    AF_OID_CMC_NONCE_REQ,  /* 1.3.6.1.5.5.7.7.98 */
    AF_OID_CMC_NONCE_RESP, /* 1.3.6.1.5.5.7.7.99 */
    /* csr-attestation */
    AF_OID_AA_ATTESTATION,     /* 1.2.840.113549.1.9.16.2.59 */
    AF_OID_EVIDENCE,           /* 1.3.6.1.5.5.999 arc root; also the statement type placeholder */
    AF_OID_KP_ATTESTATION_KEY, /* 1.3.6.1.5.5.7.3.999 */
    /* PKIX Evidence elements E.0.x */
    AF_OID_EV_ELEM_TRANSACTION,
    AF_OID_EV_ELEM_PLATFORM,
    AF_OID_EV_ELEM_KEY,
    /* transaction claims E.1.0.x */
    AF_OID_EV_TX_NONCE,
    AF_OID_EV_TX_TIMESTAMP,
    AF_OID_EV_TX_AK_SPKI,
    /* platform claims E.1.1.x */
    AF_OID_EV_PF_VENDOR,
    AF_OID_EV_PF_OEMID,
    AF_OID_EV_PF_HWMODEL,
    AF_OID_EV_PF_HWVERSION,
    AF_OID_EV_PF_HWSERIAL,
    AF_OID_EV_PF_SWNAME,
    AF_OID_EV_PF_SWVERSION,
    AF_OID_EV_PF_DEBUGSTAT,
    AF_OID_EV_PF_UPTIME,
    AF_OID_EV_PF_BOOTCOUNT,
    AF_OID_EV_PF_FIPSBOOT,
    AF_OID_EV_PF_FIPSVER,
    AF_OID_EV_PF_FIPSLEVEL,
    AF_OID_EV_PF_FIPSMODULE,
    /* key claims E.1.2.x */
    AF_OID_EV_KEY_IDENTIFIER,
    AF_OID_EV_KEY_SPKI,
    AF_OID_EV_KEY_EXTRACTABLE,
    AF_OID_EV_KEY_SENSITIVE,
    AF_OID_EV_KEY_NEVER_EXTRACTABLE,
    AF_OID_EV_KEY_LOCAL,
    AF_OID_EV_KEY_EXPIRY,
    AF_OID_EV_KEY_PURPOSE,
    /* key capabilities E.2.x (values of the purpose claim) */
    AF_OID_EV_CAP_ENCRYPT,
    AF_OID_EV_CAP_DECRYPT,
    AF_OID_EV_CAP_WRAP,
    AF_OID_EV_CAP_UNWRAP,
    AF_OID_EV_CAP_SIGN,
    AF_OID_EV_CAP_SIGN_RECOVER,
    AF_OID_EV_CAP_VERIFY,
    AF_OID_EV_CAP_VERIFY_RECOVER,
    AF_OID_EV_CAP_DERIVE,
    /* RFC 6402 CMC Status Info V2 (not in OpenSSL 3.0's object table) */
    AF_OID_CMC_STATUS_INFO_V2, /* 1.3.6.1.5.5.7.7.25 */
    AF_OID__COUNT
} af_oid_id;

typedef struct {
    af_oid_id id;
    const char *oid; /* dotted text, the default (placeholder) value */
    const char *sn;  /* OpenSSL short name */
    const char *ln;  /* OpenSSL long name */
} AF_OID_ENTRY;

/* The whole table, in af_oid_id order; *count receives AF_OID__COUNT. */
const AF_OID_ENTRY *af_oid_table(size_t *count);
/* One entry; NULL for an id out of range. */
const AF_OID_ENTRY *af_oid_entry(af_oid_id id);
/* Dotted text of an id (the table default); NULL for an id out of range. */
const char *af_oid_text(af_oid_id id);
/* Looks an id up by short name, long name or dotted text; -1 when none matches. */
int af_oid_lookup(const char *name);

/* Message shapes (nonce-protocol.md section 2); never guessed from bytes. */
typedef enum {
    AF_SHAPE_CURRENT = 1, /* -07/-08: one NonceRequest, one NonceResponse */
    AF_SHAPE_SEED = 2     /* -05/-06: SEQUENCE OF, with type/value/hint */
} af_shape;

/* Defaults of a wire profile: shape and OIDs. Every OID can be overridden one by one by the
 * layer that uses the profile; this is only where the defaults live. */
typedef struct {
    const char *name;            /* "draft-08", "rat-e2e", "draft-06", "siemens-ra" */
    af_shape shape;
    int vendor_extension;        /* 1: seed shape plus trailing vendorextension OCTET STRING */
    af_oid_id cmp_request;       /* genm infoType */
    af_oid_id cmp_response;      /* genp infoType */
    af_oid_id cmc_request;       /* CMC control carrying the request */
    af_oid_id cmc_response;      /* CMC control carrying the response */
    const char *json_media_type; /* EST media type of this shape */
} AF_PROFILE_DEF;

#define AF_PROFILE_DEFAULT "draft-08"

const AF_PROFILE_DEF *af_profile_table(size_t *count);
/* Looks a profile up by name; NULL names the default profile; NULL when unknown. */
const AF_PROFILE_DEF *af_profile_def(const char *name);

#ifdef __cplusplus
}
#endif
#endif
