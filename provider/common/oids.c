/* oids.c - the one OID table (defaults, OpenSSL names) and the wire-profile defaults.
 * Compiled into both attfresh.so (name registration) and libattfresh (codecs). */
#include <string.h>

#include "attfresh/oids.h"

#define EV "1.3.6.1.5.5.999"

static const AF_OID_ENTRY oid_table[AF_OID__COUNT] = {
    {AF_OID_IT_NONCE_REQUEST, "1.3.6.1.5.5.7.4.98", "id-it-nonceRequest",
     "CMP nonce request (attestation freshness)"},
    {AF_OID_IT_NONCE_RESPONSE, "1.3.6.1.5.5.7.4.99", "id-it-nonceResponse",
     "CMP nonce response (attestation freshness)"},
    {AF_OID_IT_SIEMENS_NONCE_RESPONSE, "1.3.6.1.5.5.7.4.100", "id-it-siemensNonceResponse",
     "CMP nonce response (siemens-ra dialect)"},
    {AF_OID_IT_RAT_NONCE_REQUEST, "1.2.840.113549.1.9.16.2.8888", "id-it-ratNonceRequest",
     "CMP nonce request (rat-e2e and draft-06 dialects)"},
    {AF_OID_IT_RAT_NONCE_RESPONSE, "1.2.840.113549.1.9.16.2.8889", "id-it-ratNonceResponse",
     "CMP nonce response (rat-e2e and draft-06 dialects)"},
    {AF_OID_CMC_NONCE_REQ, "1.3.6.1.5.5.7.7.98", "id-cmc-nonceReq", "CMC nonce request control"},
    {AF_OID_CMC_NONCE_RESP, "1.3.6.1.5.5.7.7.99", "id-cmc-nonceResp", "CMC nonce response control"},
    {AF_OID_AA_ATTESTATION, "1.2.840.113549.1.9.16.2.59", "id-aa-attestation",
     "CSR attestation bundle"},
    {AF_OID_EVIDENCE, EV, "id-pkix-evidence", "PKIX Evidence (placeholder arc)"},
    {AF_OID_KP_ATTESTATION_KEY, "1.3.6.1.5.5.7.3.999", "id-kp-attestationKey",
     "Attestation Key"},
    {AF_OID_EV_ELEM_TRANSACTION, EV ".0.0", "id-ev-transaction", "Evidence transaction element"},
    {AF_OID_EV_ELEM_PLATFORM, EV ".0.1", "id-ev-platform", "Evidence platform element"},
    {AF_OID_EV_ELEM_KEY, EV ".0.2", "id-ev-key", "Evidence key element"},
    {AF_OID_EV_TX_NONCE, EV ".1.0.0", "id-ev-tx-nonce", "Evidence transaction nonce"},
    {AF_OID_EV_TX_TIMESTAMP, EV ".1.0.1", "id-ev-tx-timestamp", "Evidence transaction timestamp"},
    {AF_OID_EV_TX_AK_SPKI, EV ".1.0.2", "id-ev-tx-akSpki", "Evidence attestation key SPKI"},
    {AF_OID_EV_PF_VENDOR, EV ".1.1.0", "id-ev-pf-vendor", "Evidence platform vendor"},
    {AF_OID_EV_PF_OEMID, EV ".1.1.1", "id-ev-pf-oemid", "Evidence platform OEM id"},
    {AF_OID_EV_PF_HWMODEL, EV ".1.1.2", "id-ev-pf-hwmodel", "Evidence platform hardware model"},
    {AF_OID_EV_PF_HWVERSION, EV ".1.1.3", "id-ev-pf-hwversion",
     "Evidence platform hardware version"},
    {AF_OID_EV_PF_HWSERIAL, EV ".1.1.4", "id-ev-pf-hwserial", "Evidence platform hardware serial"},
    {AF_OID_EV_PF_SWNAME, EV ".1.1.5", "id-ev-pf-swname", "Evidence platform software name"},
    {AF_OID_EV_PF_SWVERSION, EV ".1.1.6", "id-ev-pf-swversion",
     "Evidence platform software version"},
    {AF_OID_EV_PF_DEBUGSTAT, EV ".1.1.7", "id-ev-pf-debugstat", "Evidence platform debug status"},
    {AF_OID_EV_PF_UPTIME, EV ".1.1.8", "id-ev-pf-uptime", "Evidence platform uptime"},
    {AF_OID_EV_PF_BOOTCOUNT, EV ".1.1.9", "id-ev-pf-bootcount", "Evidence platform boot count"},
    {AF_OID_EV_PF_FIPSBOOT, EV ".1.1.10", "id-ev-pf-fipsboot", "Evidence platform FIPS boot"},
    {AF_OID_EV_PF_FIPSVER, EV ".1.1.11", "id-ev-pf-fipsver", "Evidence platform FIPS version"},
    {AF_OID_EV_PF_FIPSLEVEL, EV ".1.1.12", "id-ev-pf-fipslevel", "Evidence platform FIPS level"},
    {AF_OID_EV_PF_FIPSMODULE, EV ".1.1.13", "id-ev-pf-fipsmodule",
     "Evidence platform FIPS module"},
    {AF_OID_EV_KEY_IDENTIFIER, EV ".1.2.0", "id-ev-key-identifier", "Evidence key identifier"},
    {AF_OID_EV_KEY_SPKI, EV ".1.2.1", "id-ev-key-spki", "Evidence key SPKI"},
    {AF_OID_EV_KEY_EXTRACTABLE, EV ".1.2.2", "id-ev-key-extractable", "Evidence key extractable"},
    {AF_OID_EV_KEY_SENSITIVE, EV ".1.2.3", "id-ev-key-sensitive", "Evidence key sensitive"},
    {AF_OID_EV_KEY_NEVER_EXTRACTABLE, EV ".1.2.4", "id-ev-key-neverExtractable",
     "Evidence key never extractable"},
    {AF_OID_EV_KEY_LOCAL, EV ".1.2.5", "id-ev-key-local", "Evidence key local"},
    {AF_OID_EV_KEY_EXPIRY, EV ".1.2.6", "id-ev-key-expiry", "Evidence key expiry"},
    {AF_OID_EV_KEY_PURPOSE, EV ".1.2.7", "id-ev-key-purpose", "Evidence key purpose"},
    {AF_OID_EV_CAP_ENCRYPT, EV ".2.0", "id-ev-cap-encrypt", "Evidence key capability encrypt"},
    {AF_OID_EV_CAP_DECRYPT, EV ".2.1", "id-ev-cap-decrypt", "Evidence key capability decrypt"},
    {AF_OID_EV_CAP_WRAP, EV ".2.2", "id-ev-cap-wrap", "Evidence key capability wrap"},
    {AF_OID_EV_CAP_UNWRAP, EV ".2.3", "id-ev-cap-unwrap", "Evidence key capability unwrap"},
    {AF_OID_EV_CAP_SIGN, EV ".2.4", "id-ev-cap-sign", "Evidence key capability sign"},
    {AF_OID_EV_CAP_SIGN_RECOVER, EV ".2.5", "id-ev-cap-signRecover",
     "Evidence key capability sign-recover"},
    {AF_OID_EV_CAP_VERIFY, EV ".2.6", "id-ev-cap-verify", "Evidence key capability verify"},
    {AF_OID_EV_CAP_VERIFY_RECOVER, EV ".2.7", "id-ev-cap-verifyRecover",
     "Evidence key capability verify-recover"},
    {AF_OID_EV_CAP_DERIVE, EV ".2.8", "id-ev-cap-derive", "Evidence key capability derive"},
    {AF_OID_CMC_STATUS_INFO_V2, "1.3.6.1.5.5.7.7.25", "id-cmc-statusInfoV2",
     "CMC Status Info V2"},
};

static const AF_PROFILE_DEF profile_table[] = {
    {"draft-08", AF_SHAPE_CURRENT, 0, AF_OID_IT_NONCE_REQUEST, AF_OID_IT_NONCE_RESPONSE,
     AF_OID_CMC_NONCE_REQ, AF_OID_CMC_NONCE_RESP, "application/est-attestation-freshness+json"},
    {"rat-e2e", AF_SHAPE_CURRENT, 0, AF_OID_IT_RAT_NONCE_REQUEST, AF_OID_IT_RAT_NONCE_RESPONSE,
     AF_OID_CMC_NONCE_REQ, AF_OID_CMC_NONCE_RESP, "application/est-attestation-freshness+json"},
    {"draft-06", AF_SHAPE_SEED, 0, AF_OID_IT_RAT_NONCE_REQUEST, AF_OID_IT_RAT_NONCE_RESPONSE,
     AF_OID_CMC_NONCE_REQ, AF_OID_CMC_NONCE_RESP, "application/json"},
    {"siemens-ra", AF_SHAPE_SEED, 1, AF_OID_IT_NONCE_RESPONSE, AF_OID_IT_SIEMENS_NONCE_RESPONSE,
     AF_OID_CMC_NONCE_REQ, AF_OID_CMC_NONCE_RESP, "application/json"},
};

const AF_OID_ENTRY *af_oid_table(size_t *count)
{
    if (count != NULL)
        *count = AF_OID__COUNT;
    return oid_table;
}

const AF_OID_ENTRY *af_oid_entry(af_oid_id id)
{
    if ((int)id < 0 || id >= AF_OID__COUNT)
        return NULL;
    return &oid_table[id];
}

const char *af_oid_text(af_oid_id id)
{
    const AF_OID_ENTRY *e = af_oid_entry(id);

    return e == NULL ? NULL : e->oid;
}

int af_oid_lookup(const char *name)
{
    size_t i;

    if (name == NULL)
        return -1;
    for (i = 0; i < AF_OID__COUNT; i++) {
        const AF_OID_ENTRY *e = &oid_table[i];

        if (strcmp(name, e->oid) == 0 || strcmp(name, e->sn) == 0 || strcmp(name, e->ln) == 0)
            return (int)e->id;
    }
    return -1;
}

const AF_PROFILE_DEF *af_profile_table(size_t *count)
{
    if (count != NULL)
        *count = sizeof(profile_table) / sizeof(profile_table[0]);
    return profile_table;
}

const AF_PROFILE_DEF *af_profile_def(const char *name)
{
    size_t i;

    if (name == NULL)
        name = AF_PROFILE_DEFAULT;
    for (i = 0; i < sizeof(profile_table) / sizeof(profile_table[0]); i++)
        if (strcmp(profile_table[i].name, name) == 0)
            return &profile_table[i];
    return NULL;
}
