/* nonce_model.c - the nonce message model: wire profiles with OID overrides, codec options,
 * request/response items and their accessors, shape checks, the encode/decode entry points and
 * nonce generation. */
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include "nonce_local.h"

/* ---- profiles ------------------------------------------------------------------------------ */

AF_NONCE_PROFILE *af_nonce_profile_new(const char *name)
{
    const AF_PROFILE_DEF *def = af_profile_def(name);
    AF_NONCE_PROFILE *prof;

    if (def == NULL) {
        size_t n, i;
        const AF_PROFILE_DEF *t = af_profile_table(&n);
        char known[128] = "";

        for (i = 0; i < n; i++) {
            if (i > 0)
                strncat(known, ", ", sizeof(known) - strlen(known) - 1);
            strncat(known, t[i].name, sizeof(known) - strlen(known) - 1);
        }
        AF_ERR(AF_R_UNKNOWN_PROFILE, "'%s' (known: %s)", name, known);
        return NULL;
    }
    if ((prof = OPENSSL_zalloc(sizeof(*prof))) == NULL) {
        AF_ERR(AF_R_MALLOC, "profile");
        return NULL;
    }
    prof->def = def;
    return prof;
}

void af_nonce_profile_free(AF_NONCE_PROFILE *prof)
{
    int i;

    if (prof == NULL)
        return;
    for (i = 0; i < AF_NONCE_OID__COUNT; i++)
        OPENSSL_free(prof->oid[i]);
    OPENSSL_free(prof);
}

AF_NONCE_PROFILE *af_nonce_profile_dup(const AF_NONCE_PROFILE *prof)
{
    AF_NONCE_PROFILE *d;
    int i;

    if (prof == NULL || (d = af_nonce_profile_new(prof->def->name)) == NULL)
        return NULL;
    for (i = 0; i < AF_NONCE_OID__COUNT; i++)
        if (prof->oid[i] != NULL && (d->oid[i] = OPENSSL_strdup(prof->oid[i])) == NULL) {
            AF_ERR(AF_R_MALLOC, "profile");
            af_nonce_profile_free(d);
            return NULL;
        }
    return d;
}

const char *af_nonce_profile_get0_name(const AF_NONCE_PROFILE *prof)
{
    return prof->def->name;
}

af_shape af_nonce_profile_get_shape(const AF_NONCE_PROFILE *prof)
{
    return prof->def->shape;
}

int af_nonce_profile_get_vendor_extension(const AF_NONCE_PROFILE *prof)
{
    return prof->def->vendor_extension;
}

const char *af_nonce_profile_get0_media_type(const AF_NONCE_PROFILE *prof)
{
    return prof->def->json_media_type;
}

char *af_nonce_oid_canon(const char *oid)
{
    int id;
    ASN1_OBJECT *obj;
    char *out = NULL;
    int n;

    if (oid == NULL || *oid == '\0') {
        AF_ERR(AF_R_BAD_OID, "empty object identifier");
        return NULL;
    }
    if ((id = af_oid_lookup(oid)) >= 0)
        oid = af_oid_text((af_oid_id)id);
    /* Dotted text only (no_name = 1): names other than ours are not part of any wire profile. */
    if ((obj = OBJ_txt2obj(oid, 1)) == NULL || OBJ_length(obj) == 0) {
        ERR_clear_error();
        ASN1_OBJECT_free(obj);
        AF_ERR(AF_R_BAD_OID, "'%.80s' is not a dotted OID or a known OID name", oid);
        return NULL;
    }
    n = OBJ_obj2txt(NULL, 0, obj, 1);
    if (n <= 0 || (out = OPENSSL_malloc((size_t)n + 1)) == NULL ||
        OBJ_obj2txt(out, n + 1, obj, 1) != n) {
        OPENSSL_free(out);
        out = NULL;
        AF_ERR(AF_R_BAD_OID, "cannot render '%.80s'", oid);
    }
    ASN1_OBJECT_free(obj);
    return out;
}

int af_nonce_profile_set_oid(AF_NONCE_PROFILE *prof, af_nonce_oid_role role, const char *oid)
{
    char *c;

    if (prof == NULL || (int)role < 0 || role >= AF_NONCE_OID__COUNT) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "OID role %d", (int)role);
        return 0;
    }
    if ((c = af_nonce_oid_canon(oid)) == NULL)
        return 0;
    OPENSSL_free(prof->oid[role]);
    prof->oid[role] = c;
    return 1;
}

const char *af_nonce_profile_get0_oid(const AF_NONCE_PROFILE *prof, af_nonce_oid_role role)
{
    if (prof == NULL || (int)role < 0 || role >= AF_NONCE_OID__COUNT)
        return NULL;
    if (prof->oid[role] != NULL)
        return prof->oid[role];
    switch (role) {
    case AF_NONCE_OID_CMP_REQUEST:
        return af_oid_text(prof->def->cmp_request);
    case AF_NONCE_OID_CMP_RESPONSE:
        return af_oid_text(prof->def->cmp_response);
    case AF_NONCE_OID_CMC_REQUEST:
        return af_oid_text(prof->def->cmc_request);
    case AF_NONCE_OID_CMC_RESPONSE:
        return af_oid_text(prof->def->cmc_response);
    default:
        return NULL;
    }
}

/* ---- codec --------------------------------------------------------------------------------- */

static const struct {
    unsigned int bit;
    const char *text;
} tolerated_texts[] = {
    {AF_NONCE_TOL_ITAV_ABSENT_VALUE, "absent CMP infoValue read as an empty request"},
    {AF_NONCE_TOL_BASE64_FORM, "base64 alphabet or padding of the other shape"},
    {AF_NONCE_TOL_UNKNOWN_MEMBER, "unknown member ignored"},
    {AF_NONCE_TOL_VALUE, "seed 'value' payload"},
    {AF_NONCE_TOL_VENDOREXT, "vendorextension outside the siemens-ra profile"},
    {AF_NONCE_TOL_EXPIRY_FORM, "expiry in seconds where an RFC 3339 time is expected"},
};

AF_NONCE_CODEC *af_nonce_codec_new(void)
{
    AF_NONCE_CODEC *c = OPENSSL_zalloc(sizeof(*c));

    if (c == NULL) {
        AF_ERR(AF_R_MALLOC, "codec");
        return NULL;
    }
    c->body_part_id = 1;
    c->body_part_id_read = -1;
    return c;
}

void af_nonce_codec_free(AF_NONCE_CODEC *codec)
{
    OPENSSL_free(codec);
}

void af_nonce_codec_set_lenient(AF_NONCE_CODEC *codec, int lenient)
{
    if (codec != NULL)
        codec->lenient = lenient != 0;
}

int af_nonce_codec_get_lenient(const AF_NONCE_CODEC *codec)
{
    return codec != NULL && codec->lenient;
}

void af_nonce_codec_set_now(AF_NONCE_CODEC *codec, int64_t now)
{
    if (codec != NULL)
        codec->now = now;
}

int af_nonce_codec_set_body_part_id(AF_NONCE_CODEC *codec, int64_t id)
{
    if (codec == NULL || id < 0 || id > 4294967295LL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "bodyPartID %lld outside 0..4294967295", (long long)id);
        return 0;
    }
    codec->body_part_id = id;
    return 1;
}

int64_t af_nonce_codec_get_body_part_id(const AF_NONCE_CODEC *codec)
{
    return codec == NULL                   ? 1
           : codec->body_part_id_read >= 0 ? codec->body_part_id_read
                                           : codec->body_part_id;
}

unsigned int af_nonce_codec_get_tolerated(const AF_NONCE_CODEC *codec)
{
    return codec == NULL ? 0 : codec->tolerated;
}

const char *af_nonce_tolerated_text(unsigned int bit)
{
    size_t i;

    for (i = 0; i < sizeof(tolerated_texts) / sizeof(tolerated_texts[0]); i++)
        if (tolerated_texts[i].bit == bit)
            return tolerated_texts[i].text;
    return NULL;
}

int af_nonce_lenient(const AF_NONCE_CODEC *codec)
{
    return codec != NULL && codec->lenient;
}

int af_nonce_tolerate(AF_NONCE_CODEC *codec, unsigned int bit, int reason, const char *detail)
{
    if (codec == NULL || !codec->lenient) {
        AF_ERR(reason, "%s (accepted only in lenient mode)", detail);
        return 0;
    }
    codec->tolerated |= bit;
    return 1;
}

int64_t af_nonce_now(const AF_NONCE_CODEC *codec)
{
    if (codec != NULL && codec->now != 0)
        return codec->now;
    return (int64_t)time(NULL);
}

/* ---- opaque values and octets ---------------------------------------------------------------- */

void af_any_clear(af_any *a)
{
    OPENSSL_free(a->data);
    a->data = NULL;
    a->len = 0;
    a->kind = 0;
}

int af_any_set(af_any *a, int kind, const unsigned char *data, size_t len)
{
    unsigned char *copy = NULL;
    size_t clen = 0;

    if (data == NULL) {
        af_any_clear(a);
        return 1;
    }
    if (len > AF_NONCE_MAX_INPUT) {
        AF_ERR(AF_R_TOO_LARGE, "opaque value of %zu bytes (limit %d)", len, AF_NONCE_MAX_INPUT);
        return 0;
    }
    switch (kind) {
    case AF_NONCE_ANY_DER: {
        size_t used;

        if (!af_der_walk(data, len, &used))
            return 0;
        if (used != len) {
            AF_ERR(AF_R_NONCE_TRAILING, "%zu bytes after the opaque DER value", len - used);
            return 0;
        }
        break;
    }
    case AF_NONCE_ANY_JSON:
        /* kept in compact form so that the same value always encodes to the same bytes */
        if (!af_json_value_check(data, len, &copy, &clen))
            return 0;
        break;
    case AF_NONCE_ANY_CBOR:
        if (!af_cbor_item_check(data, len))
            return 0;
        break;
    default:
        AF_ERR(AF_R_INVALID_ARGUMENT, "opaque value kind %d", kind);
        return 0;
    }
    if (copy == NULL) {
        if ((copy = OPENSSL_memdup(data, len == 0 ? 1 : len)) == NULL) {
            AF_ERR(AF_R_MALLOC, "opaque value");
            return 0;
        }
        clen = len;
    }
    af_any_clear(a);
    a->kind = kind;
    a->data = copy;
    a->len = clen;
    return 1;
}

const char *af_nonce_printable(const char *s, size_t len, char *buf, size_t buflen)
{
    size_t i;

    if (buflen == 0)
        return "";
    if (len > 40)
        len = 40;
    if (len > buflen - 1)
        len = buflen - 1;
    for (i = 0; i < len; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    buf[len] = '\0';
    return buf;
}

void af_octets_clear(af_octets *o)
{
    OPENSSL_free(o->data);
    o->data = NULL;
    o->len = 0;
    o->present = 0;
}

int af_octets_set(af_octets *o, const unsigned char *data, size_t len)
{
    unsigned char *copy;

    if (data == NULL) {
        af_octets_clear(o);
        return 1;
    }
    if (len > AF_NONCE_MAX_INPUT) {
        AF_ERR(AF_R_TOO_LARGE, "vendorextension of %zu bytes", len);
        return 0;
    }
    if ((copy = OPENSSL_malloc(len == 0 ? 1 : len)) == NULL) {
        AF_ERR(AF_R_MALLOC, "vendorextension");
        return 0;
    }
    if (len > 0)
        memcpy(copy, data, len);
    af_octets_clear(o);
    o->present = 1;
    o->data = copy;
    o->len = len;
    return 1;
}

static int set_text(char **dst, const char *src, const char *what)
{
    char *c = NULL;

    if (src != NULL && (c = OPENSSL_strdup(src)) == NULL) {
        AF_ERR(AF_R_MALLOC, "%s", what);
        return 0;
    }
    OPENSSL_free(*dst);
    *dst = c;
    return 1;
}

static int set_type(char **dst, const char *oid)
{
    char *c = NULL;

    if (oid != NULL && (c = af_nonce_oid_canon(oid)) == NULL)
        return 0;
    OPENSSL_free(*dst);
    *dst = c;
    return 1;
}

static int get_any(const af_any *a, int *kind, const unsigned char **data, size_t *len)
{
    if (a->kind == 0)
        return 0;
    if (kind != NULL)
        *kind = a->kind;
    if (data != NULL)
        *data = a->data;
    if (len != NULL)
        *len = a->len;
    return 1;
}

static int get_octets(const af_octets *o, const unsigned char **data, size_t *len)
{
    if (!o->present)
        return 0;
    if (data != NULL)
        *data = o->data;
    if (len != NULL)
        *len = o->len;
    return 1;
}

int af_utf8_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;

    while (len > 0) {
        unsigned long v;
        int n = UTF8_getc(p, (int)(len > 8 ? 8 : len), &v);

        if (n <= 0 || v == 0 || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
            return 0;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

static int hint_ok(const char *hint)
{
    if (hint != NULL && strlen(hint) > AF_NONCE_MAX_INPUT) {
        AF_ERR(AF_R_TOO_LARGE, "hint");
        return 0;
    }
    if (hint != NULL && !af_utf8_ok(hint, strlen(hint))) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "hint is not UTF-8 text");
        return 0;
    }
    return 1;
}

/* ---- requests ------------------------------------------------------------------------------ */

static void req_item_free(AF_NONCE_REQ_ITEM *it)
{
    if (it == NULL)
        return;
    OPENSSL_free(it->type);
    af_any_clear(&it->info);
    OPENSSL_free(it->hint);
    af_octets_clear(&it->vx);
    OPENSSL_free(it);
}

AF_NONCE_REQ *af_nonce_req_new(void)
{
    AF_NONCE_REQ *r = OPENSSL_zalloc(sizeof(*r));

    if (r == NULL)
        AF_ERR(AF_R_MALLOC, "nonce request");
    return r;
}

void af_nonce_req_free(AF_NONCE_REQ *req)
{
    size_t i;

    if (req == NULL)
        return;
    for (i = 0; i < req->n; i++)
        req_item_free(req->items[i]);
    OPENSSL_free(req->items);
    OPENSSL_free(req);
}

size_t af_nonce_req_get_count(const AF_NONCE_REQ *req)
{
    return req == NULL ? 0 : req->n;
}

AF_NONCE_REQ_ITEM *af_nonce_req_get0_item(const AF_NONCE_REQ *req, size_t i)
{
    return req == NULL || i >= req->n ? NULL : req->items[i];
}

AF_NONCE_REQ_ITEM *af_nonce_req_add0_item(AF_NONCE_REQ *req)
{
    AF_NONCE_REQ_ITEM *it, **items;

    if (req->n >= AF_NONCE_MAX_ITEMS) {
        AF_ERR(AF_R_TOO_LARGE, "more than %d items in a nonce request", AF_NONCE_MAX_ITEMS);
        return NULL;
    }
    if ((it = OPENSSL_zalloc(sizeof(*it))) == NULL ||
        (items = OPENSSL_realloc(req->items, (req->n + 1) * sizeof(*items))) == NULL) {
        OPENSSL_free(it);
        AF_ERR(AF_R_MALLOC, "nonce request item");
        return NULL;
    }
    req->items = items;
    req->items[req->n++] = it;
    return it;
}

AF_NONCE_REQ *af_nonce_req_dup(const AF_NONCE_REQ *req)
{
    AF_NONCE_REQ *d;
    size_t i;

    if (req == NULL || (d = af_nonce_req_new()) == NULL)
        return NULL;
    for (i = 0; i < req->n; i++) {
        const AF_NONCE_REQ_ITEM *s = req->items[i];
        AF_NONCE_REQ_ITEM *t = af_nonce_req_add0_item(d);

        if (t == NULL || !af_nonce_req_item_set_len(t, s->len) ||
            !set_text(&t->type, s->type, "type") ||
            (s->info.kind != 0 && !af_any_set(&t->info, s->info.kind, s->info.data, s->info.len)) ||
            !set_text(&t->hint, s->hint, "hint") ||
            (s->vx.present && !af_octets_set(&t->vx, s->vx.data, s->vx.len))) {
            af_nonce_req_free(d);
            return NULL;
        }
    }
    return d;
}

int af_nonce_req_item_set_len(AF_NONCE_REQ_ITEM *item, int len)
{
    if (len != 0 && (len < AF_NONCE_LEN_MIN || len > AF_NONCE_LEN_MAX)) {
        AF_ERR(AF_R_NONCE_BAD_LEN, "len %d outside %d..%d", len, AF_NONCE_LEN_MIN,
               AF_NONCE_LEN_MAX);
        return 0;
    }
    item->len = len;
    return 1;
}

int af_nonce_req_item_get_len(const AF_NONCE_REQ_ITEM *item)
{
    return item->len;
}

int af_nonce_req_item_set1_type(AF_NONCE_REQ_ITEM *item, const char *oid)
{
    return set_type(&item->type, oid);
}

const char *af_nonce_req_item_get0_type(const AF_NONCE_REQ_ITEM *item)
{
    return item->type;
}

int af_nonce_req_item_set1_info(AF_NONCE_REQ_ITEM *item, int kind, const unsigned char *data,
                                size_t len)
{
    return af_any_set(&item->info, kind, data, len);
}

int af_nonce_req_item_get0_info(const AF_NONCE_REQ_ITEM *item, int *kind,
                                const unsigned char **data, size_t *len)
{
    return get_any(&item->info, kind, data, len);
}

int af_nonce_req_item_set1_hint(AF_NONCE_REQ_ITEM *item, const char *hint)
{
    return hint_ok(hint) && set_text(&item->hint, hint, "hint");
}

const char *af_nonce_req_item_get0_hint(const AF_NONCE_REQ_ITEM *item)
{
    return item->hint;
}

int af_nonce_req_item_set1_vendorext(AF_NONCE_REQ_ITEM *item, const unsigned char *data, size_t len)
{
    return af_octets_set(&item->vx, data, len);
}

int af_nonce_req_item_get0_vendorext(const AF_NONCE_REQ_ITEM *item, const unsigned char **data,
                                     size_t *len)
{
    return get_octets(&item->vx, data, len);
}

static int check_count(size_t n, const AF_NONCE_PROFILE *prof, const char *what)
{
    if (n == 0) {
        AF_ERR(AF_R_NONCE_MISSING, "%s has no items (a list needs at least one)", what);
        return 0;
    }
    if (prof->def->shape == AF_SHAPE_CURRENT && n != 1) {
        AF_ERR(AF_R_NONCE_SHAPE, "%s has %zu items; profile %s carries exactly one", what, n,
               prof->def->name);
        return 0;
    }
    if (n > AF_NONCE_MAX_ITEMS) {
        AF_ERR(AF_R_TOO_LARGE, "%s has more than %d items", what, AF_NONCE_MAX_ITEMS);
        return 0;
    }
    return 1;
}

int af_nonce_req_check(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                       const AF_NONCE_CODEC *codec)
{
    size_t i;

    if (req == NULL || prof == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no request or no profile");
        return 0;
    }
    if (!check_count(req->n, prof, "nonce request"))
        return 0;
    for (i = 0; i < req->n; i++) {
        const AF_NONCE_REQ_ITEM *it = req->items[i];

        if (it->info.kind != 0 && it->type == NULL) {
            AF_ERR(AF_R_NONCE_MISSING, "item %zu: %s without type", i,
                   prof->def->shape == AF_SHAPE_CURRENT ? "reqInfo" : "value");
            return 0;
        }
        if (prof->def->shape == AF_SHAPE_CURRENT && (it->hint != NULL || it->vx.present)) {
            AF_ERR(AF_R_NONCE_SHAPE, "%s in profile %s (current shape has none)",
                   it->hint != NULL ? "hint" : "vendorextension", prof->def->name);
            return 0;
        }
    }
    return 1;
}

/* ---- responses ----------------------------------------------------------------------------- */

static void resp_item_free(AF_NONCE_RESP_ITEM *it)
{
    if (it == NULL)
        return;
    OPENSSL_cleanse(it->nonce, sizeof(it->nonce));
    OPENSSL_free(it->expiry_text);
    OPENSSL_free(it->type);
    af_any_clear(&it->info);
    OPENSSL_free(it->hint);
    af_octets_clear(&it->vx);
    OPENSSL_free(it);
}

AF_NONCE_RESP *af_nonce_resp_new(void)
{
    AF_NONCE_RESP *r = OPENSSL_zalloc(sizeof(*r));

    if (r == NULL)
        AF_ERR(AF_R_MALLOC, "nonce response");
    return r;
}

void af_nonce_resp_free(AF_NONCE_RESP *resp)
{
    size_t i;

    if (resp == NULL)
        return;
    for (i = 0; i < resp->n; i++)
        resp_item_free(resp->items[i]);
    OPENSSL_free(resp->items);
    OPENSSL_free(resp);
}

size_t af_nonce_resp_get_count(const AF_NONCE_RESP *resp)
{
    return resp == NULL ? 0 : resp->n;
}

AF_NONCE_RESP_ITEM *af_nonce_resp_get0_item(const AF_NONCE_RESP *resp, size_t i)
{
    return resp == NULL || i >= resp->n ? NULL : resp->items[i];
}

AF_NONCE_RESP_ITEM *af_nonce_resp_add0_item(AF_NONCE_RESP *resp)
{
    AF_NONCE_RESP_ITEM *it, **items;

    if (resp->n >= AF_NONCE_MAX_ITEMS) {
        AF_ERR(AF_R_TOO_LARGE, "more than %d items in a nonce response", AF_NONCE_MAX_ITEMS);
        return NULL;
    }
    if ((it = OPENSSL_zalloc(sizeof(*it))) == NULL ||
        (items = OPENSSL_realloc(resp->items, (resp->n + 1) * sizeof(*items))) == NULL) {
        OPENSSL_free(it);
        AF_ERR(AF_R_MALLOC, "nonce response item");
        return NULL;
    }
    resp->items = items;
    resp->items[resp->n++] = it;
    return it;
}

AF_NONCE_RESP *af_nonce_resp_dup(const AF_NONCE_RESP *resp)
{
    AF_NONCE_RESP *d;
    size_t i;

    if (resp == NULL || (d = af_nonce_resp_new()) == NULL)
        return NULL;
    for (i = 0; i < resp->n; i++) {
        const AF_NONCE_RESP_ITEM *s = resp->items[i];
        AF_NONCE_RESP_ITEM *t = af_nonce_resp_add0_item(d);

        if (t == NULL || !set_text(&t->expiry_text, s->expiry_text, "expiry") ||
            !set_text(&t->type, s->type, "type") ||
            (s->info.kind != 0 && !af_any_set(&t->info, s->info.kind, s->info.data, s->info.len)) ||
            !set_text(&t->hint, s->hint, "hint") ||
            (s->vx.present && !af_octets_set(&t->vx, s->vx.data, s->vx.len))) {
            af_nonce_resp_free(d);
            return NULL;
        }
        memcpy(t->nonce, s->nonce, s->nonce_len);
        t->nonce_len = s->nonce_len;
        t->expiry_kind = s->expiry_kind;
        t->expiry_seconds = s->expiry_seconds;
        t->expiry_epoch = s->expiry_epoch;
    }
    return d;
}

int af_nonce_resp_item_set1_nonce(AF_NONCE_RESP_ITEM *item, const unsigned char *nonce, size_t len)
{
    if (len != 0 && (len < AF_NONCE_LEN_MIN || len > AF_NONCE_LEN_MAX)) {
        AF_ERR(AF_R_NONCE_BAD_NONCE, "nonce of %zu bytes (must be empty or %d..%d)", len,
               AF_NONCE_LEN_MIN, AF_NONCE_LEN_MAX);
        return 0;
    }
    if (len > 0 && nonce == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no nonce bytes");
        return 0;
    }
    OPENSSL_cleanse(item->nonce, sizeof(item->nonce));
    if (len > 0)
        memcpy(item->nonce, nonce, len);
    item->nonce_len = len;
    return 1;
}

void af_nonce_resp_item_get0_nonce(const AF_NONCE_RESP_ITEM *item, const unsigned char **nonce,
                                   size_t *len)
{
    if (nonce != NULL)
        *nonce = item->nonce;
    if (len != NULL)
        *len = item->nonce_len;
}

int af_nonce_generate(unsigned char *buf, size_t len, EVP_RAND_CTX *rand, OSSL_LIB_CTX *libctx)
{
    int ok;

    if (buf == NULL || len < AF_NONCE_LEN_MIN || len > AF_NONCE_LEN_MAX) {
        AF_ERR(AF_R_NONCE_BAD_LEN, "nonce length %zu outside %d..%d", len, AF_NONCE_LEN_MIN,
               AF_NONCE_LEN_MAX);
        return 0;
    }
    /* strength 0: a provider RAND that does not report its strength must still work; the
     * >= 64-bit entropy rule is met by the length bound above and a cryptographic source. */
    if (rand != NULL)
        ok = EVP_RAND_generate(rand, buf, len, 0, 0, NULL, 0);
    else
        ok = RAND_bytes_ex(libctx, buf, len, 0);
    if (ok != 1) {
        unsigned long e = ERR_peek_last_error();
        char why[160] = "no detail";

        if (e != 0)
            ERR_error_string_n(e, why, sizeof(why));
        ERR_clear_error();
        OPENSSL_cleanse(buf, len);
        AF_ERR(AF_R_CRYPTO, "random generator failed to give %zu bytes: %s", len, why);
        return 0;
    }
    return 1;
}

int af_nonce_resp_item_generate(AF_NONCE_RESP_ITEM *item, size_t len, EVP_RAND_CTX *rand,
                                OSSL_LIB_CTX *libctx)
{
    unsigned char buf[AF_NONCE_LEN_MAX];
    int ok;

    if (len < AF_NONCE_LEN_MIN || len > AF_NONCE_LEN_MAX) {
        AF_ERR(AF_R_NONCE_BAD_LEN, "nonce length %zu outside %d..%d", len, AF_NONCE_LEN_MIN,
               AF_NONCE_LEN_MAX);
        return 0;
    }
    ok = af_nonce_generate(buf, len, rand, libctx) && af_nonce_resp_item_set1_nonce(item, buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok;
}

int af_nonce_resp_item_get_expiry_kind(const AF_NONCE_RESP_ITEM *item)
{
    return item->expiry_kind;
}

int af_nonce_resp_item_set_expiry_seconds(AF_NONCE_RESP_ITEM *item, int64_t seconds)
{
    if (seconds < 0) {
        AF_ERR(AF_R_NONCE_EXPIRY, "negative expiry %lld", (long long)seconds);
        return 0;
    }
    OPENSSL_free(item->expiry_text);
    item->expiry_text = NULL;
    item->expiry_kind = AF_NONCE_EXPIRY_SECONDS;
    item->expiry_seconds = seconds;
    return 1;
}

int af_nonce_resp_item_set1_expiry_time(AF_NONCE_RESP_ITEM *item, const char *rfc3339)
{
    int64_t epoch;
    char *c;

    if (rfc3339 == NULL) {
        OPENSSL_free(item->expiry_text);
        item->expiry_text = NULL;
        item->expiry_kind = AF_NONCE_EXPIRY_NONE;
        return 1;
    }
    if (!af_rfc3339_parse(rfc3339, &epoch)) {
        AF_ERR(AF_R_NONCE_EXPIRY, "'%.40s' is not an RFC 3339 date-time", rfc3339);
        return 0;
    }
    if ((c = OPENSSL_strdup(rfc3339)) == NULL) {
        AF_ERR(AF_R_MALLOC, "expiry");
        return 0;
    }
    OPENSSL_free(item->expiry_text);
    item->expiry_text = c;
    item->expiry_kind = AF_NONCE_EXPIRY_TIME;
    item->expiry_epoch = epoch;
    return 1;
}

int af_nonce_resp_item_set_expiry_epoch(AF_NONCE_RESP_ITEM *item, int64_t epoch)
{
    char buf[40];

    if (!af_rfc3339_format(epoch, buf, sizeof(buf))) {
        AF_ERR(AF_R_NONCE_EXPIRY, "time %lld out of range", (long long)epoch);
        return 0;
    }
    return af_nonce_resp_item_set1_expiry_time(item, buf);
}

int af_nonce_resp_item_get_expiry_seconds(const AF_NONCE_RESP_ITEM *item,
                                          const AF_NONCE_CODEC *codec, int64_t *seconds)
{
    int64_t s;

    switch (item->expiry_kind) {
    case AF_NONCE_EXPIRY_SECONDS:
        s = item->expiry_seconds;
        break;
    case AF_NONCE_EXPIRY_TIME: {
        int64_t now = af_nonce_now(codec);

        s = item->expiry_epoch > now ? item->expiry_epoch - now : 0;
        break;
    }
    default:
        return 0;
    }
    if (seconds != NULL)
        *seconds = s;
    return 1;
}

int af_nonce_resp_item_get_expiry_epoch(const AF_NONCE_RESP_ITEM *item, const AF_NONCE_CODEC *codec,
                                        int64_t *epoch)
{
    int64_t e;

    switch (item->expiry_kind) {
    case AF_NONCE_EXPIRY_SECONDS: {
        int64_t now = af_nonce_now(codec);

        if (item->expiry_seconds > INT64_MAX - now) {
            AF_ERR(AF_R_NONCE_EXPIRY, "expiry %lld s out of range",
                   (long long)item->expiry_seconds);
            return 0;
        }
        e = now + item->expiry_seconds;
        break;
    }
    case AF_NONCE_EXPIRY_TIME:
        e = item->expiry_epoch;
        break;
    default:
        return 0;
    }
    if (epoch != NULL)
        *epoch = e;
    return 1;
}

const char *af_nonce_resp_item_get0_expiry_time(const AF_NONCE_RESP_ITEM *item)
{
    return item->expiry_kind == AF_NONCE_EXPIRY_TIME ? item->expiry_text : NULL;
}

int af_nonce_resp_item_set1_type(AF_NONCE_RESP_ITEM *item, const char *oid)
{
    return set_type(&item->type, oid);
}

const char *af_nonce_resp_item_get0_type(const AF_NONCE_RESP_ITEM *item)
{
    return item->type;
}

int af_nonce_resp_item_set1_info(AF_NONCE_RESP_ITEM *item, int kind, const unsigned char *data,
                                 size_t len)
{
    return af_any_set(&item->info, kind, data, len);
}

int af_nonce_resp_item_get0_info(const AF_NONCE_RESP_ITEM *item, int *kind,
                                 const unsigned char **data, size_t *len)
{
    return get_any(&item->info, kind, data, len);
}

int af_nonce_resp_item_set1_hint(AF_NONCE_RESP_ITEM *item, const char *hint)
{
    return hint_ok(hint) && set_text(&item->hint, hint, "hint");
}

const char *af_nonce_resp_item_get0_hint(const AF_NONCE_RESP_ITEM *item)
{
    return item->hint;
}

int af_nonce_resp_item_set1_vendorext(AF_NONCE_RESP_ITEM *item, const unsigned char *data,
                                      size_t len)
{
    return af_octets_set(&item->vx, data, len);
}

int af_nonce_resp_item_get0_vendorext(const AF_NONCE_RESP_ITEM *item, const unsigned char **data,
                                      size_t *len)
{
    return get_octets(&item->vx, data, len);
}

int af_nonce_resp_check(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                        const AF_NONCE_CODEC *codec)
{
    size_t i;

    if (resp == NULL || prof == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no response or no profile");
        return 0;
    }
    if (!check_count(resp->n, prof, "nonce response"))
        return 0;
    for (i = 0; i < resp->n; i++) {
        const AF_NONCE_RESP_ITEM *it = resp->items[i];

        if (it->info.kind != 0 && it->type == NULL) {
            AF_ERR(AF_R_NONCE_MISSING, "item %zu: respInfo without type", i);
            return 0;
        }
        if (prof->def->shape == AF_SHAPE_CURRENT && (it->hint != NULL || it->vx.present)) {
            AF_ERR(AF_R_NONCE_SHAPE, "%s in profile %s (current shape has none)",
                   it->hint != NULL ? "hint" : "vendorextension", prof->def->name);
            return 0;
        }
        if (prof->def->shape == AF_SHAPE_SEED && it->info.kind != 0) {
            AF_ERR(AF_R_NONCE_SHAPE, "item %zu: respInfo in profile %s (seed responses have none)",
                   i, prof->def->name);
            return 0;
        }
    }
    return 1;
}

/* ---- entry points -------------------------------------------------------------------------- */

static int input_ok(const void *out, const AF_NONCE_PROFILE *prof, const unsigned char *in,
                    size_t inlen)
{
    if (out == NULL || prof == NULL || (in == NULL && inlen > 0)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "decode without output, profile or input");
        return 0;
    }
    if (inlen > AF_NONCE_MAX_INPUT) {
        AF_ERR(AF_R_TOO_LARGE, "message of %zu bytes (limit %d)", inlen, AF_NONCE_MAX_INPUT);
        return 0;
    }
    return 1;
}

static int bad_format(af_nonce_format fmt)
{
    AF_ERR(AF_R_INVALID_ARGUMENT, "unknown encoding %d", (int)fmt);
    return 0;
}

int af_nonce_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                        const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen)
{
    if (out == NULL || outlen == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "encode without output");
        return 0;
    }
    if (!af_nonce_req_check(req, prof, codec))
        return 0;
    switch (fmt) {
    case AF_NONCE_FMT_DER:
    case AF_NONCE_FMT_ITAV:
    case AF_NONCE_FMT_CMC:
        return af_nonce_der_req_encode(req, prof, fmt, codec, out, outlen);
    case AF_NONCE_FMT_JSON:
        return af_nonce_json_req_encode(req, prof, codec, out, outlen);
    case AF_NONCE_FMT_CBOR:
        return af_nonce_cbor_req_encode(req, prof, codec, out, outlen);
    }
    return bad_format(fmt);
}

int af_nonce_req_decode(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                        AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen)
{
    AF_NONCE_REQ *r = NULL;
    int ok = 0;

    if (!input_ok(out, prof, in, inlen))
        return 0;
    if (codec != NULL) {
        codec->tolerated = 0;
        codec->body_part_id_read = -1;
    }
    switch (fmt) {
    case AF_NONCE_FMT_DER:
    case AF_NONCE_FMT_ITAV:
    case AF_NONCE_FMT_CMC:
        ok = af_nonce_der_req_decode(&r, prof, fmt, codec, in, inlen);
        break;
    case AF_NONCE_FMT_JSON:
        ok = af_nonce_json_req_decode(&r, prof, codec, in, inlen);
        break;
    case AF_NONCE_FMT_CBOR:
        ok = af_nonce_cbor_req_decode(&r, prof, codec, in, inlen);
        break;
    default:
        return bad_format(fmt);
    }
    if (ok && !af_nonce_req_check(r, prof, codec))
        ok = 0;
    if (!ok) {
        af_nonce_req_free(r);
        return 0;
    }
    *out = r;
    return 1;
}

int af_nonce_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                         af_nonce_format fmt, const AF_NONCE_CODEC *codec, unsigned char **out,
                         size_t *outlen)
{
    if (out == NULL || outlen == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "encode without output");
        return 0;
    }
    if (!af_nonce_resp_check(resp, prof, codec))
        return 0;
    switch (fmt) {
    case AF_NONCE_FMT_DER:
    case AF_NONCE_FMT_ITAV:
    case AF_NONCE_FMT_CMC:
        return af_nonce_der_resp_encode(resp, prof, fmt, codec, out, outlen);
    case AF_NONCE_FMT_JSON:
        return af_nonce_json_resp_encode(resp, prof, codec, out, outlen);
    case AF_NONCE_FMT_CBOR:
        return af_nonce_cbor_resp_encode(resp, prof, codec, out, outlen);
    }
    return bad_format(fmt);
}

int af_nonce_resp_decode(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof, af_nonce_format fmt,
                         AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen)
{
    AF_NONCE_RESP *r = NULL;
    int ok = 0;

    if (!input_ok(out, prof, in, inlen))
        return 0;
    if (codec != NULL) {
        codec->tolerated = 0;
        codec->body_part_id_read = -1;
    }
    switch (fmt) {
    case AF_NONCE_FMT_DER:
    case AF_NONCE_FMT_ITAV:
    case AF_NONCE_FMT_CMC:
        ok = af_nonce_der_resp_decode(&r, prof, fmt, codec, in, inlen);
        break;
    case AF_NONCE_FMT_JSON:
        ok = af_nonce_json_resp_decode(&r, prof, codec, in, inlen);
        break;
    case AF_NONCE_FMT_CBOR:
        ok = af_nonce_cbor_resp_decode(&r, prof, codec, in, inlen);
        break;
    default:
        return bad_format(fmt);
    }
    if (ok && !af_nonce_resp_check(r, prof, codec))
        ok = 0;
    if (!ok) {
        af_nonce_resp_free(r);
        return 0;
    }
    *out = r;
    return 1;
}

static const struct {
    af_nonce_format fmt;
    const char *name;
} format_names[] = {
    {AF_NONCE_FMT_DER, "der"},   {AF_NONCE_FMT_ITAV, "itav"}, {AF_NONCE_FMT_CMC, "cmc"},
    {AF_NONCE_FMT_JSON, "json"}, {AF_NONCE_FMT_CBOR, "cbor"},
};

af_nonce_format af_nonce_format_from_name(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (strcmp(name, format_names[i].name) == 0)
            return format_names[i].fmt;
    return (af_nonce_format)0;
}

const char *af_nonce_format_name(af_nonce_format fmt)
{
    size_t i;

    for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (format_names[i].fmt == fmt)
            return format_names[i].name;
    return NULL;
}
