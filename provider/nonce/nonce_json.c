/* nonce_json.c - JSON codec (jansson) of nonce requests and responses: the current form
 * (application/est-attestation-freshness+json: objects, unpadded base64url nonce, expiry in
 * seconds) and the seed form (application/json: arrays, padded base64, RFC 3339 expiry).
 * Output is compact with members in a fixed order; input rejects duplicate keys, wrong member
 * types, unknown members (strict), and nesting deeper than AF_NONCE_MAX_DEPTH. */
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "nonce_local.h"

/* ---- parsing --------------------------------------------------------------------------------- */

static int depth_ok(const json_t *v, int depth)
{
    size_t i;
    const char *k;
    json_t *m;

    if (depth > AF_NONCE_MAX_DEPTH)
        return 0;
    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            if (!depth_ok(json_array_get(v, i), depth + 1))
                return 0;
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m) if (!depth_ok(m, depth + 1)) return 0;
    }
    return 1;
}

static json_t *parse(const unsigned char *in, size_t len)
{
    json_error_t e;
    json_t *root;

    if (len == 0) {
        AF_ERR(AF_R_NONCE_DECODE, "empty JSON input");
        return NULL;
    }
    root = json_loadb((const char *)in, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (root == NULL) {
        int reason;

        switch (json_error_code(&e)) {
        case json_error_duplicate_key:
            reason = AF_R_NONCE_DUPLICATE;
            break;
        case json_error_end_of_input_expected:
            reason = AF_R_NONCE_TRAILING;
            break;
        case json_error_stack_overflow:
            reason = AF_R_NONCE_DEPTH;
            break;
        case json_error_out_of_memory:
            reason = AF_R_MALLOC;
            break;
        default:
            reason = AF_R_NONCE_DECODE;
        }
        AF_ERR(reason, "JSON at byte %d: %s", e.position, e.text);
        return NULL;
    }
    if (!depth_ok(root, 0)) {
        json_decref(root);
        AF_ERR(AF_R_NONCE_DEPTH, "JSON nested deeper than %d", AF_NONCE_MAX_DEPTH);
        return NULL;
    }
    return root;
}

int af_json_value_check(const unsigned char *text, size_t len, unsigned char **canon,
                        size_t *canonlen)
{
    json_t *v = parse(text, len);
    char *s;

    if (v == NULL)
        return 0;
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    if (s == NULL || (*canon = (unsigned char *)OPENSSL_strdup(s)) == NULL) {
        free(s);
        AF_ERR(AF_R_MALLOC, "JSON value");
        return 0;
    }
    *canonlen = strlen(s);
    free(s);
    return 1;
}

/* ---- member helpers ------------------------------------------------------------------------- */

static int members_known(json_t *obj, const char *const *known, AF_NONCE_CODEC *codec,
                         const char *where)
{
    const char *k;
    json_t *m;

    json_object_foreach(obj, k, m)
    {
        const char *const *p;
        char detail[160], name[48];

        for (p = known; *p != NULL && strcmp(*p, k) != 0; p++)
            ;
        if (*p != NULL)
            continue;
        snprintf(detail, sizeof(detail), "member '%s' in %s",
                 af_nonce_printable(k, strlen(k), name, sizeof(name)), where);
        if (!af_nonce_tolerate(codec, AF_NONCE_TOL_UNKNOWN_MEMBER, AF_R_NONCE_UNKNOWN, detail))
            return 0;
    }
    return 1;
}

static int want_object(const json_t *v, const char *what)
{
    if (!json_is_object(v)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not a JSON object", what);
        return 0;
    }
    return 1;
}

static const char *want_string(const json_t *v, const char *what)
{
    if (!json_is_string(v)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not a string", what);
        return NULL;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s contains NUL", what);
        return NULL;
    }
    return json_string_value(v);
}

static int want_integer(const json_t *v, const char *what, json_int_t *out)
{
    if (!json_is_integer(v)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not an integer", what);
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

static int get_len(const json_t *v, int *len)
{
    json_int_t n;

    if (!want_integer(v, "len", &n))
        return 0;
    if (n < AF_NONCE_LEN_MIN || n > AF_NONCE_LEN_MAX) {
        AF_ERR(AF_R_NONCE_BAD_LEN, "len %lld outside %d..%d", (long long)n, AF_NONCE_LEN_MIN,
               AF_NONCE_LEN_MAX);
        return 0;
    }
    *len = (int)n;
    return 1;
}

static int get_type(const json_t *v, char **type)
{
    const char *s = want_string(v, "type");

    if (s == NULL)
        return 0;
    OPENSSL_free(*type);
    return (*type = af_nonce_oid_canon(s)) != NULL;
}

static int get_any(const json_t *v, af_any *a)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    int ok;

    if (s == NULL) {
        AF_ERR(AF_R_MALLOC, "JSON value");
        return 0;
    }
    ok = af_any_set(a, AF_NONCE_ANY_JSON, (unsigned char *)s, strlen(s));
    free(s);
    return ok;
}

static int get_hint(const json_t *v, char **hint)
{
    const char *s = want_string(v, "hint");
    char *c;

    if (s == NULL)
        return 0;
    if ((c = OPENSSL_strdup(s)) == NULL) {
        AF_ERR(AF_R_MALLOC, "hint");
        return 0;
    }
    OPENSSL_free(*hint);
    *hint = c;
    return 1;
}

/* base64 member: form is the shape's (AF_B64_*); the other form is a lenient tolerance */
static int get_b64(const json_t *v, const char *what, int form, int reason, AF_NONCE_CODEC *codec,
                   unsigned char **out, size_t *outlen)
{
    const char *s = want_string(v, what);
    int other = 0;
    char detail[96];

    if (s == NULL)
        return 0;
    if (!af_b64_decode(s, strlen(s), form, out, outlen, &other)) {
        AF_ERR(reason, "%s is not %s", what,
               (form & AF_B64_URL) ? "unpadded base64url" : "padded base64");
        return 0;
    }
    snprintf(detail, sizeof(detail), "%s not in %s", what,
             (form & AF_B64_URL) ? "unpadded base64url" : "padded base64");
    if (other && !af_nonce_tolerate(codec, AF_NONCE_TOL_BASE64_FORM, reason, detail)) {
        OPENSSL_free(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

static int get_vx(const json_t *v, af_octets *vx, const AF_NONCE_PROFILE *prof,
                  AF_NONCE_CODEC *codec)
{
    unsigned char *b = NULL;
    size_t n = 0;
    int ok;

    if (!prof->def->vendor_extension &&
        !af_nonce_tolerate(codec, AF_NONCE_TOL_VENDOREXT, AF_R_NONCE_UNKNOWN,
                           "vendorextension outside the siemens-ra profile"))
        return 0;
    if (!get_b64(v, "vendorextension", AF_B64_PAD, AF_R_NONCE_BAD_TYPE, codec, &b, &n))
        return 0;
    ok = af_octets_set(vx, b, n);
    OPENSSL_free(b);
    return ok;
}

static int get_nonce(const json_t *v, AF_NONCE_RESP_ITEM *it, int form, AF_NONCE_CODEC *codec)
{
    unsigned char *b = NULL;
    size_t n = 0;
    int ok;

    if (!get_b64(v, "nonce", form, AF_R_NONCE_BAD_NONCE, codec, &b, &n))
        return 0;
    ok = af_nonce_resp_item_set1_nonce(it, b, n);
    OPENSSL_clear_free(b, n);
    return ok;
}

/* ---- current form ---------------------------------------------------------------------------- */

static const char *const cur_req_members[] = {"len", "reqTypeInfo", NULL};
static const char *const cur_resp_members[] = {"nonce", "expiry", "respTypeInfo", NULL};
static const char *const req_ti_members[] = {"type", "reqInfo", NULL};
static const char *const resp_ti_members[] = {"type", "respInfo", NULL};

static int typeinfo_decode(json_t *ti, const char *name, const char *info_name,
                           const char *const *known, char **type, af_any *info,
                           AF_NONCE_CODEC *codec)
{
    json_t *v;

    if (!want_object(ti, name) || !members_known(ti, known, codec, name))
        return 0;
    if ((v = json_object_get(ti, "type")) == NULL) {
        AF_ERR(AF_R_NONCE_MISSING, "%s without type", name);
        return 0;
    }
    if (!get_type(v, type))
        return 0;
    if ((v = json_object_get(ti, info_name)) != NULL && !get_any(v, info))
        return 0;
    return 1;
}

static int cur_req_decode(json_t *root, AF_NONCE_REQ *req, AF_NONCE_CODEC *codec)
{
    AF_NONCE_REQ_ITEM *it;
    json_t *v;

    if (!want_object(root, "nonce request") ||
        !members_known(root, cur_req_members, codec, "the nonce request") ||
        (it = af_nonce_req_add0_item(req)) == NULL)
        return 0;
    if ((v = json_object_get(root, "len")) != NULL && !get_len(v, &it->len))
        return 0;
    if ((v = json_object_get(root, "reqTypeInfo")) != NULL &&
        !typeinfo_decode(v, "reqTypeInfo", "reqInfo", req_ti_members, &it->type, &it->info, codec))
        return 0;
    return 1;
}

static int get_expiry_seconds(const json_t *v, AF_NONCE_RESP_ITEM *it)
{
    json_int_t n;

    if (!want_integer(v, "expiry", &n))
        return 0;
    if (n < 0) {
        AF_ERR(AF_R_NONCE_EXPIRY, "negative expiry %lld", (long long)n);
        return 0;
    }
    return af_nonce_resp_item_set_expiry_seconds(it, (int64_t)n);
}

static int cur_resp_decode(json_t *root, AF_NONCE_RESP *resp, AF_NONCE_CODEC *codec)
{
    AF_NONCE_RESP_ITEM *it;
    json_t *v;

    if (!want_object(root, "nonce response") ||
        !members_known(root, cur_resp_members, codec, "the nonce response") ||
        (it = af_nonce_resp_add0_item(resp)) == NULL)
        return 0;
    if ((v = json_object_get(root, "nonce")) == NULL) {
        AF_ERR(AF_R_NONCE_MISSING, "nonce response without nonce");
        return 0;
    }
    if (!get_nonce(v, it, AF_B64_URL, codec))
        return 0;
    if ((v = json_object_get(root, "expiry")) != NULL && !get_expiry_seconds(v, it))
        return 0;
    if ((v = json_object_get(root, "respTypeInfo")) != NULL &&
        !typeinfo_decode(v, "respTypeInfo", "respInfo", resp_ti_members, &it->type, &it->info,
                         codec))
        return 0;
    return 1;
}

/* ---- seed form ------------------------------------------------------------------------------- */

static const char *const seed_req_members[] = {"len", "type", "value", "hint", "vendorextension",
                                               NULL};
static const char *const seed_resp_members[] = {"nonce", "expiry",          "type",
                                                "hint",  "vendorextension", NULL};

static int want_list(const json_t *root, const char *what)
{
    if (!json_is_array(root)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not a JSON array (profile has the list shape)", what);
        return 0;
    }
    if (json_array_size(root) == 0) {
        AF_ERR(AF_R_NONCE_MISSING, "empty %s list (at least one item is required)", what);
        return 0;
    }
    if (json_array_size(root) > AF_NONCE_MAX_ITEMS) {
        AF_ERR(AF_R_TOO_LARGE, "%s list of more than %d items", what, AF_NONCE_MAX_ITEMS);
        return 0;
    }
    return 1;
}

static int seed_req_decode(json_t *root, AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                           AF_NONCE_CODEC *codec)
{
    size_t i;

    if (!want_list(root, "nonce request"))
        return 0;
    for (i = 0; i < json_array_size(root); i++) {
        json_t *o = json_array_get(root, i), *v;
        AF_NONCE_REQ_ITEM *it;

        if (!want_object(o, "request item") ||
            !members_known(o, seed_req_members, codec, "an item") ||
            (it = af_nonce_req_add0_item(req)) == NULL)
            return 0;
        if ((v = json_object_get(o, "len")) != NULL && !get_len(v, &it->len))
            return 0;
        if ((v = json_object_get(o, "type")) != NULL && !get_type(v, &it->type))
            return 0;
        if ((v = json_object_get(o, "value")) != NULL &&
            (!af_nonce_tolerate(codec, AF_NONCE_TOL_VALUE, AF_R_NONCE_UNKNOWN,
                                "seed 'value' payload") ||
             !get_any(v, &it->info)))
            return 0;
        if ((v = json_object_get(o, "hint")) != NULL && !get_hint(v, &it->hint))
            return 0;
        if ((v = json_object_get(o, "vendorextension")) != NULL && !get_vx(v, &it->vx, prof, codec))
            return 0;
    }
    return 1;
}

static int seed_expiry(const json_t *v, AF_NONCE_RESP_ITEM *it, AF_NONCE_CODEC *codec)
{
    const char *s;

    if (json_is_integer(v)) {
        if (!af_nonce_tolerate(codec, AF_NONCE_TOL_EXPIRY_FORM, AF_R_NONCE_EXPIRY,
                               "expiry in seconds (the seed form has an RFC 3339 time)"))
            return 0;
        return get_expiry_seconds(v, it);
    }
    if ((s = want_string(v, "expiry")) == NULL)
        return 0;
    return af_nonce_resp_item_set1_expiry_time(it, s);
}

static int seed_resp_decode(json_t *root, AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                            AF_NONCE_CODEC *codec)
{
    size_t i;

    if (!want_list(root, "nonce response"))
        return 0;
    for (i = 0; i < json_array_size(root); i++) {
        json_t *o = json_array_get(root, i), *v;
        AF_NONCE_RESP_ITEM *it;

        if (!want_object(o, "response item") ||
            !members_known(o, seed_resp_members, codec, "an item") ||
            (it = af_nonce_resp_add0_item(resp)) == NULL)
            return 0;
        if ((v = json_object_get(o, "nonce")) == NULL) {
            AF_ERR(AF_R_NONCE_MISSING, "response item %zu without nonce", i);
            return 0;
        }
        if (!get_nonce(v, it, AF_B64_PAD, codec))
            return 0;
        if ((v = json_object_get(o, "expiry")) != NULL && !seed_expiry(v, it, codec))
            return 0;
        if ((v = json_object_get(o, "type")) != NULL && !get_type(v, &it->type))
            return 0;
        if ((v = json_object_get(o, "hint")) != NULL && !get_hint(v, &it->hint))
            return 0;
        if ((v = json_object_get(o, "vendorextension")) != NULL && !get_vx(v, &it->vx, prof, codec))
            return 0;
    }
    return 1;
}

int af_nonce_json_req_decode(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof,
                             AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen)
{
    json_t *root = parse(in, inlen);
    AF_NONCE_REQ *req = NULL;
    int ok;

    if (root == NULL || (req = af_nonce_req_new()) == NULL) {
        json_decref(root);
        return 0;
    }
    ok = prof->def->shape == AF_SHAPE_CURRENT ? cur_req_decode(root, req, codec)
                                              : seed_req_decode(root, req, prof, codec);
    json_decref(root);
    if (!ok) {
        af_nonce_req_free(req);
        return 0;
    }
    *out = req;
    return 1;
}

int af_nonce_json_resp_decode(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof,
                              AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen)
{
    json_t *root = parse(in, inlen);
    AF_NONCE_RESP *resp = NULL;
    int ok;

    if (root == NULL || (resp = af_nonce_resp_new()) == NULL) {
        json_decref(root);
        return 0;
    }
    ok = prof->def->shape == AF_SHAPE_CURRENT ? cur_resp_decode(root, resp, codec)
                                              : seed_resp_decode(root, resp, prof, codec);
    json_decref(root);
    if (!ok) {
        af_nonce_resp_free(resp);
        return 0;
    }
    *out = resp;
    return 1;
}

/* ---- encoding -------------------------------------------------------------------------------- */

/* adds a member, taking v; fails on a NULL v (allocation or conversion failed) */
static int put(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0) {
        AF_ERR(AF_R_MALLOC, "JSON member %s", key);
        return 0;
    }
    return 1;
}

static json_t *any_json(const af_any *a)
{
    unsigned char *text = NULL;
    size_t len = 0;
    json_t *v;

    if (!af_any_get_as(a, AF_NONCE_ANY_JSON, &text, &len))
        return NULL;
    v = json_loadb((const char *)text, len, JSON_DECODE_ANY, NULL);
    OPENSSL_free(text);
    if (v == NULL)
        AF_ERR(AF_R_INTERNAL, "opaque value has no JSON form");
    return v;
}

static json_t *b64_json(const unsigned char *data, size_t len, int form)
{
    char *s = af_b64_encode(data, len, form);
    json_t *v;

    if (s == NULL)
        return NULL;
    v = json_string(s);
    OPENSSL_free(s);
    return v;
}

static int put_any(json_t *obj, const char *key, const af_any *a)
{
    json_t *v = any_json(a);

    return v != NULL && put(obj, key, v);
}

static int put_typeinfo(json_t *obj, const char *name, const char *info_name, const char *type,
                        const af_any *info)
{
    json_t *ti = json_object();

    if (ti == NULL || !put(ti, "type", json_string(type)) ||
        (info->kind != 0 && !put_any(ti, info_name, info))) {
        json_decref(ti);
        return ti != NULL ? 0 : put(obj, name, NULL);
    }
    return put(obj, name, ti);
}

static int dump(json_t *root, unsigned char **out, size_t *outlen)
{
    char *s = json_dumps(root, JSON_COMPACT);

    json_decref(root);
    if (s == NULL || (*out = (unsigned char *)OPENSSL_strdup(s)) == NULL) {
        free(s);
        AF_ERR(AF_R_MALLOC, "JSON text");
        return 0;
    }
    *outlen = strlen(s);
    free(s);
    return 1;
}

static int put_hint_vx(json_t *o, const char *hint, const af_octets *vx)
{
    if (hint != NULL && !put(o, "hint", json_string(hint)))
        return 0;
    if (vx->present && !put(o, "vendorextension", b64_json(vx->data, vx->len, AF_B64_PAD)))
        return 0;
    return 1;
}

int af_nonce_json_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                             const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen)
{
    json_t *root;
    size_t i;

    (void)codec;
    if (prof->def->shape == AF_SHAPE_CURRENT) {
        const AF_NONCE_REQ_ITEM *it = req->items[0];

        if ((root = json_object()) == NULL)
            return put(NULL, "root", NULL);
        if ((it->len != 0 && !put(root, "len", json_integer(it->len))) ||
            (it->type != NULL &&
             !put_typeinfo(root, "reqTypeInfo", "reqInfo", it->type, &it->info))) {
            json_decref(root);
            return 0;
        }
        return dump(root, out, outlen);
    }
    if ((root = json_array()) == NULL)
        return put(NULL, "root", NULL);
    for (i = 0; i < req->n; i++) {
        const AF_NONCE_REQ_ITEM *it = req->items[i];
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(root, o) != 0 ||
            (it->len != 0 && !put(o, "len", json_integer(it->len))) ||
            (it->type != NULL && !put(o, "type", json_string(it->type))) ||
            (it->info.kind != 0 && !put_any(o, "value", &it->info)) ||
            !put_hint_vx(o, it->hint, &it->vx)) {
            json_decref(root);
            if (o == NULL)
                AF_ERR(AF_R_MALLOC, "JSON item");
            return 0;
        }
    }
    return dump(root, out, outlen);
}

static json_t *expiry_time_json(const AF_NONCE_RESP_ITEM *it, const AF_NONCE_CODEC *codec)
{
    int64_t epoch;
    char buf[40];

    if (it->expiry_kind == AF_NONCE_EXPIRY_TIME)
        return json_string(it->expiry_text);
    if (!af_nonce_resp_item_get_expiry_epoch(it, codec, &epoch))
        return NULL;
    if (!af_rfc3339_format(epoch, buf, sizeof(buf))) {
        AF_ERR(AF_R_NONCE_EXPIRY, "expiry beyond year 9999");
        return NULL;
    }
    return json_string(buf);
}

int af_nonce_json_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                              const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen)
{
    json_t *root;
    size_t i;

    if (prof->def->shape == AF_SHAPE_CURRENT) {
        const AF_NONCE_RESP_ITEM *it = resp->items[0];
        int64_t secs;

        if ((root = json_object()) == NULL)
            return put(NULL, "root", NULL);
        if (!put(root, "nonce", b64_json(it->nonce, it->nonce_len, AF_B64_URL)) ||
            (af_nonce_resp_item_get_expiry_seconds(it, codec, &secs) &&
             !put(root, "expiry", json_integer(secs))) ||
            (it->type != NULL &&
             !put_typeinfo(root, "respTypeInfo", "respInfo", it->type, &it->info))) {
            json_decref(root);
            return 0;
        }
        return dump(root, out, outlen);
    }
    if ((root = json_array()) == NULL)
        return put(NULL, "root", NULL);
    for (i = 0; i < resp->n; i++) {
        const AF_NONCE_RESP_ITEM *it = resp->items[i];
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(root, o) != 0 ||
            !put(o, "nonce", b64_json(it->nonce, it->nonce_len, AF_B64_PAD)) ||
            (it->expiry_kind != AF_NONCE_EXPIRY_NONE &&
             !put(o, "expiry", expiry_time_json(it, codec))) ||
            (it->type != NULL && !put(o, "type", json_string(it->type))) ||
            !put_hint_vx(o, it->hint, &it->vx)) {
            json_decref(root);
            if (o == NULL)
                AF_ERR(AF_R_MALLOC, "JSON item");
            return 0;
        }
    }
    return dump(root, out, outlen);
}
