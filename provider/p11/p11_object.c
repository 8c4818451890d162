/* p11_object.c - object lookup (C_FindObjects*), attribute reads, and the RFC 7512 URI of an
 * object (formatted by p11-kit, never with a PIN). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "module/prov.h"
#include "p11/p11_local.h"

int af_p11_find(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *found)
{
    CK_FUNCTION_LIST *fl;
    CK_RV rv, rv2;
    CK_ULONG got = 0;

    if (tok == NULL || found == NULL || (max > 0 && out == NULL))
        return 0;
    *found = 0;
    fl = af_p11_fl(tok->owner);
    rv = fl->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK) {
        af_prov_raise_rv(tok->owner->pc, AF_PR_OBJECT_NOT_FOUND, rv, "C_FindObjectsInit failed");
        return 0;
    }
    if (max > 0)
        rv = fl->C_FindObjects(s, out, max, &got);
    rv2 = fl->C_FindObjectsFinal(s);
    if (rv != CKR_OK || rv2 != CKR_OK) {
        af_prov_raise_rv(tok->owner->pc, AF_PR_OBJECT_NOT_FOUND, rv != CKR_OK ? rv : rv2,
                         "C_FindObjects failed");
        return 0;
    }
    *found = got;
    return 1;
}

int af_p11_attr(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len, CK_RV *rv_out)
{
    CK_FUNCTION_LIST *fl;
    CK_ATTRIBUTE a = {type, NULL, 0};
    CK_RV rv;

    if (rv_out != NULL)
        *rv_out = CKR_OK;
    if (tok == NULL || val == NULL || len == NULL)
        return 0;
    *val = NULL;
    *len = 0;
    fl = af_p11_fl(tok->owner);
    rv = fl->C_GetAttributeValue(s, obj, &a, 1);
    if (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        rv = CKR_ATTRIBUTE_TYPE_INVALID;
    if (rv == CKR_OK) {
        a.pValue = OPENSSL_malloc(a.ulValueLen > 0 ? a.ulValueLen : 1);
        if (a.pValue == NULL)
            return 0;
        rv = fl->C_GetAttributeValue(s, obj, &a, 1);
        if (rv != CKR_OK) {
            OPENSSL_free(a.pValue);
            a.pValue = NULL;
        }
    }
    if (rv != CKR_OK) {
        if (rv_out != NULL)
            *rv_out = rv;
        /* Absent or sensitive attributes are an answer, not a failure of the token. */
        if (rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
            af_prov_raise_rv(tok->owner->pc, AF_PR_ATTRIBUTE, rv,
                             "C_GetAttributeValue(0x%lx) failed", type);
        return 0;
    }
    *val = a.pValue;
    *len = a.ulValueLen;
    return 1;
}

int af_p11_attr_bool(AF_P11_TOKEN *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, int *out)
{
    unsigned char *v = NULL;
    CK_ULONG len = 0;
    CK_RV rv = CKR_OK;

    if (out == NULL)
        return 0;
    *out = -1;
    if (!af_p11_attr(tok, s, obj, type, &v, &len, &rv))
        return rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE;
    if (len == sizeof(CK_BBOOL))
        *out = *(CK_BBOOL *)v ? 1 : 0;
    OPENSSL_free(v);
    return 1;
}

char *af_p11_object_uri(const AF_P11_TOKEN *tok, const char *label, const unsigned char *id,
                        size_t idlen, CK_OBJECT_CLASS type)
{
    P11KitUri *uri;
    CK_TOKEN_INFO *ti;
    CK_ATTRIBUTE a;
    char *s = NULL, *ret = NULL;

    if (tok == NULL || (uri = p11_kit_uri_new()) == NULL)
        return NULL;
    ti = p11_kit_uri_get_token_info(uri);
    memcpy(ti->label, tok->info.label, sizeof(ti->label));
    memcpy(ti->manufacturerID, tok->info.manufacturerID, sizeof(ti->manufacturerID));
    memcpy(ti->model, tok->info.model, sizeof(ti->model));
    memcpy(ti->serialNumber, tok->info.serialNumber, sizeof(ti->serialNumber));
    if (label != NULL) {
        a.type = CKA_LABEL;
        a.pValue = (void *)label;
        a.ulValueLen = (CK_ULONG)strlen(label);
        if (p11_kit_uri_set_attribute(uri, &a) != P11_KIT_URI_OK)
            goto out;
    }
    if (id != NULL && idlen > 0) {
        a.type = CKA_ID;
        a.pValue = (void *)id;
        a.ulValueLen = (CK_ULONG)idlen;
        if (p11_kit_uri_set_attribute(uri, &a) != P11_KIT_URI_OK)
            goto out;
    }
    if (type == CKO_PRIVATE_KEY || type == CKO_PUBLIC_KEY || type == CKO_CERTIFICATE) {
        a.type = CKA_CLASS;
        a.pValue = &type;
        a.ulValueLen = sizeof(type);
        if (p11_kit_uri_set_attribute(uri, &a) != P11_KIT_URI_OK)
            goto out;
    }
    if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) != P11_KIT_URI_OK)
        goto out;
    ret = OPENSSL_strdup(s);
out:
    free(s);
    p11_kit_uri_free(uri);
    return ret;
}
