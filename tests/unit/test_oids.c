/* test_oids.c - the one OID table: every entry well-formed and unique, lookups by every name,
 * and the wire-profile defaults pointing at real entries. */
#include <string.h>

#include <openssl/objects.h>

#include "attfresh/oids.h"
#include "testutil.h"

static void test_table_shape(void)
{
    size_t n = 0, i;
    const AF_OID_ENTRY *t = af_oid_table(&n);

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(n, (size_t)AF_OID__COUNT);
    for (i = 0; i < n; i++) {
        ASN1_OBJECT *o;

        /* in id order, so af_oid_entry can index */
        CU_ASSERT_EQUAL(t[i].id, (af_oid_id)i);
        CU_ASSERT_PTR_NOT_NULL(t[i].sn);
        CU_ASSERT_PTR_NOT_NULL(t[i].ln);
        CU_ASSERT(t[i].sn != NULL && strncmp(t[i].sn, "id-", 3) == 0);
        /* dotted text only, and DER-encodable */
        o = OBJ_txt2obj(t[i].oid, 1);
        CU_ASSERT_PTR_NOT_NULL(o);
        ASN1_OBJECT_free(o);
    }
}

static void test_unique(void)
{
    size_t n = 0, i, j;
    const AF_OID_ENTRY *t = af_oid_table(&n);

    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            CU_ASSERT(strcmp(t[i].oid, t[j].oid) != 0);
            CU_ASSERT(strcmp(t[i].sn, t[j].sn) != 0);
            CU_ASSERT(strcmp(t[i].ln, t[j].ln) != 0);
        }
    }
}

static void test_no_clash_with_openssl(void)
{
    size_t n = 0, i;
    const AF_OID_ENTRY *t = af_oid_table(&n);

    /* Our names must not already mean something else to OpenSSL, or registration would be
     * refused and asn1parse would print another name. */
    for (i = 0; i < n; i++) {
        int nid = OBJ_sn2nid(t[i].sn), nid2 = OBJ_txt2nid(t[i].oid);
        char buf[128];

        if (nid != NID_undef) {
            OBJ_obj2txt(buf, sizeof(buf), OBJ_nid2obj(nid), 1);
            CU_ASSERT_STRING_EQUAL(buf, t[i].oid);
        }
        /* an OID OpenSSL knows must carry our short name, or asn1parse prints another one */
        if (nid2 != NID_undef)
            CU_ASSERT_STRING_EQUAL(OBJ_nid2sn(nid2), t[i].sn);
    }
}

static void test_lookup(void)
{
    CU_ASSERT_EQUAL(af_oid_lookup("id-it-nonceRequest"), AF_OID_IT_NONCE_REQUEST);
    CU_ASSERT_EQUAL(af_oid_lookup("1.3.6.1.5.5.7.4.99"), AF_OID_IT_NONCE_RESPONSE);
    CU_ASSERT_EQUAL(af_oid_lookup(af_oid_entry(AF_OID_EV_KEY_SPKI)->ln), AF_OID_EV_KEY_SPKI);
    CU_ASSERT_EQUAL(af_oid_lookup("1.3.6.1.5.5.7.4.9"), -1);
    CU_ASSERT_EQUAL(af_oid_lookup(""), -1);
    CU_ASSERT_EQUAL(af_oid_lookup(NULL), -1);
    CU_ASSERT_PTR_NULL(af_oid_entry(AF_OID__COUNT));
    CU_ASSERT_PTR_NULL(af_oid_entry((af_oid_id)-1));
    CU_ASSERT_STRING_EQUAL(af_oid_text(AF_OID_CMC_NONCE_REQ), "1.3.6.1.5.5.7.7.98");
    CU_ASSERT_PTR_NULL(af_oid_text(AF_OID__COUNT));
}

static void test_profiles(void)
{
    size_t n = 0, i;
    const AF_PROFILE_DEF *p = af_profile_table(&n);
    const AF_PROFILE_DEF *d = af_profile_def(NULL);

    CU_ASSERT_FATAL(n >= 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_STRING_EQUAL(d->name, AF_PROFILE_DEFAULT);
    CU_ASSERT_PTR_NULL(af_profile_def("draft-99"));
    for (i = 0; i < n; i++) {
        CU_ASSERT_PTR_EQUAL(af_profile_def(p[i].name), &p[i]);
        CU_ASSERT(p[i].shape == AF_SHAPE_CURRENT || p[i].shape == AF_SHAPE_SEED);
        CU_ASSERT_PTR_NOT_NULL(af_oid_entry(p[i].cmp_request));
        CU_ASSERT_PTR_NOT_NULL(af_oid_entry(p[i].cmp_response));
        CU_ASSERT_PTR_NOT_NULL(af_oid_entry(p[i].cmc_request));
        CU_ASSERT_PTR_NOT_NULL(af_oid_entry(p[i].cmc_response));
        CU_ASSERT(p[i].cmp_request != p[i].cmp_response);
        CU_ASSERT_PTR_NOT_NULL(p[i].json_media_type);
    }
    /* the dialects differ where the spec says they do (nonce-protocol.md section 4) */
    CU_ASSERT_EQUAL(af_profile_def("draft-08")->cmp_request, AF_OID_IT_NONCE_REQUEST);
    CU_ASSERT_EQUAL(af_profile_def("siemens-ra")->cmp_request, AF_OID_IT_NONCE_RESPONSE);
    CU_ASSERT_EQUAL(af_profile_def("siemens-ra")->vendor_extension, 1);
    CU_ASSERT_EQUAL(af_profile_def("draft-06")->shape, AF_SHAPE_SEED);
}

AF_TEST_MAIN("oids", NULL, NULL, {"table shape", test_table_shape}, {"unique", test_unique},
             {"no clash with OpenSSL names", test_no_clash_with_openssl}, {"lookup", test_lookup},
             {"profiles", test_profiles})
