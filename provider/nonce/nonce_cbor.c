/* nonce_cbor.c - CBOR codec (libcbor) of nonce requests and responses for EST over CoAP: the same
 * members as the JSON forms as text-string map keys, the nonce and vendorextension as byte strings.
 * Output is definite-length with minimal heads and members in a fixed order. Input is scanned with
 * libcbor's streaming decoder first (nesting depth, declared sizes against the bytes present,
 * indefinite lengths) before anything is built, then loaded and required to re-encode to the same
 * bytes; duplicate map keys are rejected in every map. */
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/crypto.h>

#include "nonce_local.h"

/* ---- bounded scan ---------------------------------------------------------------------------- */

typedef struct {
    size_t left[AF_NONCE_MAX_DEPTH + 1]; /* items still expected at each open level */
    int sp;
    int done;
    int reason;   /* first problem, 0 = none */
    size_t avail; /* bytes left in the input at the current head */
} scan_st;

static void scan_leaf(scan_st *s)
{
    while (s->sp > 0) {
        if (--s->left[s->sp - 1] > 0)
            return;
        s->sp--;
    }
    s->done = 1;
}

static void scan_open(scan_st *s, size_t n)
{
    if (n == 0) {
        scan_leaf(s);
        return;
    }
    if (s->sp >= AF_NONCE_MAX_DEPTH) {
        if (s->reason == 0)
            s->reason = AF_R_NONCE_DEPTH;
        return;
    }
    s->left[s->sp++] = n;
}

static void cb_leaf(void *ctx)
{
    scan_leaf(ctx);
}
static void cb_u8(void *ctx, uint8_t v)
{
    (void)v;
    scan_leaf(ctx);
}
static void cb_u16(void *ctx, uint16_t v)
{
    (void)v;
    scan_leaf(ctx);
}
static void cb_u32(void *ctx, uint32_t v)
{
    (void)v;
    scan_leaf(ctx);
}
static void cb_u64(void *ctx, uint64_t v)
{
    (void)v;
    scan_leaf(ctx);
}
static void cb_str(void *ctx, cbor_data d, size_t n)
{
    (void)d;
    (void)n;
    scan_leaf(ctx);
}
static void cb_float(void *ctx, float v)
{
    (void)v;
    scan_leaf(ctx);
}
static void cb_double(void *ctx, double v)
{
    (void)v;
    scan_leaf(ctx);
}
static void cb_bool(void *ctx, bool v)
{
    (void)v;
    scan_leaf(ctx);
}
static void cb_indefinite(void *ctx)
{
    scan_st *s = ctx;

    if (s->reason == 0)
        s->reason = AF_R_NONCE_NONCANONICAL;
}
static void cb_array(void *ctx, size_t n)
{
    scan_st *s = ctx;

    /* every element takes at least one byte: refuse declared sizes the input cannot hold before
     * libcbor allocates for them */
    if (n > s->avail) {
        if (s->reason == 0)
            s->reason = AF_R_NONCE_DECODE;
        return;
    }
    scan_open(s, n);
}
static void cb_map(void *ctx, size_t n)
{
    scan_st *s = ctx;

    if (n > s->avail / 2) {
        if (s->reason == 0)
            s->reason = AF_R_NONCE_DECODE;
        return;
    }
    scan_open(s, n * 2);
}
static void cb_tag(void *ctx, uint64_t v)
{
    (void)v;
    scan_open(ctx, 1);
}

static struct cbor_callbacks scan_callbacks(void)
{
    struct cbor_callbacks cb = cbor_empty_callbacks;

    cb.uint8 = cb.negint8 = cb_u8;
    cb.uint16 = cb.negint16 = cb_u16;
    cb.uint32 = cb.negint32 = cb_u32;
    cb.uint64 = cb.negint64 = cb_u64;
    cb.byte_string = cb.string = cb_str;
    cb.byte_string_start = cb.string_start = cb.indef_array_start = cb.indef_map_start =
        cb.indef_break = cb_indefinite;
    cb.array_start = cb_array;
    cb.map_start = cb_map;
    cb.tag = cb_tag;
    cb.float2 = cb.float4 = cb_float;
    cb.float8 = cb_double;
    cb.undefined = cb.null = cb_leaf;
    cb.boolean = cb_bool;
    return cb;
}

/* Scans the first item of in; *used gets its size. */
static int scan(const unsigned char *in, size_t len, size_t *used)
{
    struct cbor_callbacks cb = scan_callbacks();
    scan_st s;
    size_t off = 0;

    memset(&s, 0, sizeof(s));
    if (len == 0) {
        AF_ERR(AF_R_NONCE_DECODE, "empty CBOR input");
        return 0;
    }
    while (!s.done) {
        struct cbor_decoder_result r;

        if (off >= len) {
            AF_ERR(AF_R_NONCE_DECODE, "CBOR truncated");
            return 0;
        }
        s.avail = len - off;
        r = cbor_stream_decode(in + off, len - off, &cb, &s);
        if (r.status == CBOR_DECODER_NEDATA) {
            AF_ERR(AF_R_NONCE_DECODE, "CBOR truncated");
            return 0;
        }
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0) {
            AF_ERR(AF_R_NONCE_DECODE, "malformed CBOR at byte %zu", off);
            return 0;
        }
        off += r.read;
        if (s.reason != 0) {
            AF_ERR(s.reason, "%s",
                   s.reason == AF_R_NONCE_DEPTH ? "CBOR nested too deep"
                   : s.reason == AF_R_NONCE_NONCANONICAL
                       ? "CBOR indefinite length (definite lengths only)"
                       : "CBOR declares more items than the input holds");
            return 0;
        }
    }
    *used = off;
    return 1;
}

static int key_cmp(const void *a, const void *b)
{
    const af_octets *x = a, *y = b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->data, y->data, x->len);
}

/* canonical ints and no duplicate keys anywhere below item */
static int tree_check(const cbor_item_t *item)
{
    size_t i, n;

    switch (cbor_typeof(item)) {
    case CBOR_TYPE_UINT:
    case CBOR_TYPE_NEGINT: {
        uint64_t v = cbor_get_int(item);
        cbor_int_width w = cbor_int_get_width(item), need;

        need = v <= 0xff          ? CBOR_INT_8
               : v <= 0xffff      ? CBOR_INT_16
               : v <= 0xffffffffu ? CBOR_INT_32
                                  : CBOR_INT_64;
        if (w != need) {
            AF_ERR(AF_R_NONCE_NONCANONICAL, "CBOR integer %llu not in its shortest form",
                   (unsigned long long)v);
            return 0;
        }
        return 1;
    }
    case CBOR_TYPE_ARRAY:
        n = cbor_array_size(item);
        for (i = 0; i < n; i++)
            if (!tree_check(cbor_array_handle(item)[i]))
                return 0;
        return 1;
    case CBOR_TYPE_MAP: {
        struct cbor_pair *p = cbor_map_handle(item);
        af_octets *keys;
        int ok = 1;

        n = cbor_map_size(item);
        if (n == 0)
            return 1;
        if ((keys = OPENSSL_zalloc(n * sizeof(*keys))) == NULL) {
            AF_ERR(AF_R_MALLOC, "CBOR keys");
            return 0;
        }
        for (i = 0; ok && i < n; i++) {
            unsigned char *buf = NULL;
            size_t bufsize = 0;

            ok = tree_check(p[i].key) && tree_check(p[i].value);
            if (ok && (keys[i].len = cbor_serialize_alloc(p[i].key, &buf, &bufsize)) == 0) {
                AF_ERR(AF_R_MALLOC, "CBOR key");
                ok = 0;
            }
            keys[i].data = buf;
        }
        if (ok) {
            qsort(keys, n, sizeof(*keys), key_cmp);
            for (i = 1; i < n; i++)
                if (key_cmp(&keys[i - 1], &keys[i]) == 0) {
                    AF_ERR(AF_R_NONCE_DUPLICATE, "duplicate key in a CBOR map");
                    ok = 0;
                    break;
                }
        }
        for (i = 0; i < n; i++)
            free(keys[i].data);
        OPENSSL_free(keys);
        return ok;
    }
    case CBOR_TYPE_TAG: {
        cbor_item_t *t = cbor_tag_item(item);
        int ok = tree_check(t);

        cbor_decref(&t);
        return ok;
    }
    default:
        return 1;
    }
}

/* Loads exactly one canonical item from in[0..len); trailing bytes are an error. */
static cbor_item_t *load(const unsigned char *in, size_t len)
{
    struct cbor_load_result res;
    cbor_item_t *item;
    size_t used;
    unsigned char *re = NULL;
    size_t resize = 0, relen;

    if (!scan(in, len, &used))
        return NULL;
    if (used != len) {
        AF_ERR(AF_R_NONCE_TRAILING, "%zu bytes after the CBOR item", len - used);
        return NULL;
    }
    item = cbor_load(in, len, &res);
    if (item == NULL || res.error.code != CBOR_ERR_NONE) {
        if (item != NULL)
            cbor_decref(&item);
        AF_ERR(res.error.code == CBOR_ERR_MEMERROR ? AF_R_MALLOC : AF_R_NONCE_DECODE,
               "malformed CBOR at byte %zu", res.error.position);
        return NULL;
    }
    if (!tree_check(item)) {
        cbor_decref(&item);
        return NULL;
    }
    relen = cbor_serialize_alloc(item, &re, &resize);
    if (relen != len || memcmp(re, in, len) != 0) {
        free(re);
        cbor_decref(&item);
        AF_ERR(AF_R_NONCE_NONCANONICAL, "CBOR lengths or integers not in their shortest form");
        return NULL;
    }
    free(re);
    return item;
}

int af_cbor_item_check(const unsigned char *in, size_t len)
{
    cbor_item_t *item = load(in, len);

    if (item == NULL)
        return 0;
    cbor_decref(&item);
    return 1;
}

/* ---- member helpers -------------------------------------------------------------------------- */

/* text of a definite text string, as a new C string; NULL with an error otherwise */
static char *text_of(const cbor_item_t *v, const char *what)
{
    char *s;
    size_t n;

    if (!cbor_isa_string(v) || !cbor_string_is_definite(v)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not a text string", what);
        return NULL;
    }
    n = cbor_string_length(v);
    if (!af_utf8_ok((const char *)cbor_string_handle(v), n)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not UTF-8 text without NUL", what);
        return NULL;
    }
    if ((s = OPENSSL_strndup((const char *)cbor_string_handle(v), n)) == NULL)
        AF_ERR(AF_R_MALLOC, "%s", what);
    return s;
}

static int uint_of(const cbor_item_t *v, const char *what, int neg_reason, uint64_t *out)
{
    if (cbor_isa_negint(v)) {
        AF_ERR(neg_reason, "%s is negative", what);
        return 0;
    }
    if (!cbor_isa_uint(v)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not an unsigned integer", what);
        return 0;
    }
    *out = cbor_get_int(v);
    return 1;
}

static int bytes_of(const cbor_item_t *v, const char *what, int reason, const unsigned char **data,
                    size_t *len)
{
    if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v)) {
        AF_ERR(reason, "%s is not a byte string", what);
        return 0;
    }
    *data = cbor_bytestring_handle(v);
    *len = cbor_bytestring_length(v);
    return 1;
}

/* Looks up known members of map m; unknown ones are refused (strict) or ignored (lenient).
 * vals[i] receives the value of known[i] or NULL. */
static int members(const cbor_item_t *m, const char *const *known, const cbor_item_t **vals,
                   AF_NONCE_CODEC *codec, const char *where)
{
    struct cbor_pair *p;
    size_t i, n, k;

    if (!cbor_isa_map(m)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not a CBOR map", where);
        return 0;
    }
    for (k = 0; known[k] != NULL; k++)
        vals[k] = NULL;
    p = cbor_map_handle(m);
    n = cbor_map_size(m);
    for (i = 0; i < n; i++) {
        const cbor_item_t *key = p[i].key;
        size_t klen;
        char detail[160], name[48];

        if (!cbor_isa_string(key) || !cbor_string_is_definite(key)) {
            AF_ERR(AF_R_NONCE_BAD_TYPE, "a key in %s is not a text string", where);
            return 0;
        }
        klen = cbor_string_length(key);
        for (k = 0; known[k] != NULL; k++)
            if (strlen(known[k]) == klen && memcmp(known[k], cbor_string_handle(key), klen) == 0)
                break;
        if (known[k] != NULL) {
            vals[k] = p[i].value;
            continue;
        }
        snprintf(
            detail, sizeof(detail), "member '%s' in %s",
            af_nonce_printable((const char *)cbor_string_handle(key), klen, name, sizeof(name)),
            where);
        if (!af_nonce_tolerate(codec, AF_NONCE_TOL_UNKNOWN_MEMBER, AF_R_NONCE_UNKNOWN, detail))
            return 0;
    }
    return 1;
}

static int get_len(const cbor_item_t *v, int *len)
{
    uint64_t n;

    if (!uint_of(v, "len", AF_R_NONCE_BAD_LEN, &n))
        return 0;
    if (n < AF_NONCE_LEN_MIN || n > AF_NONCE_LEN_MAX) {
        AF_ERR(AF_R_NONCE_BAD_LEN, "len %llu outside %d..%d", (unsigned long long)n,
               AF_NONCE_LEN_MIN, AF_NONCE_LEN_MAX);
        return 0;
    }
    *len = (int)n;
    return 1;
}

static int get_type(const cbor_item_t *v, char **type)
{
    char *s = text_of(v, "type");

    if (s == NULL)
        return 0;
    OPENSSL_free(*type);
    *type = af_nonce_oid_canon(s);
    OPENSSL_free(s);
    return *type != NULL;
}

static int get_any(const cbor_item_t *v, af_any *a)
{
    unsigned char *buf = NULL;
    size_t size = 0, n = cbor_serialize_alloc(v, &buf, &size);
    int ok;

    if (n == 0) {
        AF_ERR(AF_R_MALLOC, "CBOR value");
        return 0;
    }
    ok = af_any_set(a, AF_NONCE_ANY_CBOR, buf, n);
    free(buf);
    return ok;
}

static int get_hint(const cbor_item_t *v, char **hint)
{
    char *s = text_of(v, "hint");

    if (s == NULL)
        return 0;
    OPENSSL_free(*hint);
    *hint = s;
    return 1;
}

static int get_vx(const cbor_item_t *v, af_octets *vx, const AF_NONCE_PROFILE *prof,
                  AF_NONCE_CODEC *codec)
{
    const unsigned char *d;
    size_t n;

    if (!prof->def->vendor_extension &&
        !af_nonce_tolerate(codec, AF_NONCE_TOL_VENDOREXT, AF_R_NONCE_UNKNOWN,
                           "vendorextension outside the siemens-ra profile"))
        return 0;
    return bytes_of(v, "vendorextension", AF_R_NONCE_BAD_TYPE, &d, &n) && af_octets_set(vx, d, n);
}

static int get_nonce(const cbor_item_t *v, AF_NONCE_RESP_ITEM *it)
{
    const unsigned char *d;
    size_t n;

    return bytes_of(v, "nonce", AF_R_NONCE_BAD_NONCE, &d, &n) &&
           af_nonce_resp_item_set1_nonce(it, d, n);
}

static int get_expiry(const cbor_item_t *v, AF_NONCE_RESP_ITEM *it, int seed, AF_NONCE_CODEC *codec)
{
    uint64_t n;
    char *s;
    int ok;

    if (seed && cbor_isa_string(v)) {
        if ((s = text_of(v, "expiry")) == NULL)
            return 0;
        ok = af_nonce_resp_item_set1_expiry_time(it, s);
        OPENSSL_free(s);
        return ok;
    }
    if (seed && (cbor_isa_uint(v) || cbor_isa_negint(v)) &&
        !af_nonce_tolerate(codec, AF_NONCE_TOL_EXPIRY_FORM, AF_R_NONCE_EXPIRY,
                           "expiry in seconds (the seed form has an RFC 3339 time)"))
        return 0;
    if (!uint_of(v, "expiry", AF_R_NONCE_EXPIRY, &n))
        return 0;
    if (n > INT64_MAX) {
        AF_ERR(AF_R_NONCE_EXPIRY, "expiry larger than 2^63-1 seconds");
        return 0;
    }
    return af_nonce_resp_item_set_expiry_seconds(it, (int64_t)n);
}

static int want_list(const cbor_item_t *root, const char *what)
{
    if (!cbor_isa_array(root)) {
        AF_ERR(AF_R_NONCE_BAD_TYPE, "%s is not a CBOR array (profile has the list shape)", what);
        return 0;
    }
    if (cbor_array_size(root) == 0) {
        AF_ERR(AF_R_NONCE_MISSING, "empty %s list (at least one item is required)", what);
        return 0;
    }
    if (cbor_array_size(root) > AF_NONCE_MAX_ITEMS) {
        AF_ERR(AF_R_TOO_LARGE, "%s list of more than %d items", what, AF_NONCE_MAX_ITEMS);
        return 0;
    }
    return 1;
}

/* ---- decoding -------------------------------------------------------------------------------- */

enum { R_LEN, R_TI, R__N };
static const char *const cur_req_keys[] = {"len", "reqTypeInfo", NULL};
enum { P_NONCE, P_EXPIRY, P_TI, P__N };
static const char *const cur_resp_keys[] = {"nonce", "expiry", "respTypeInfo", NULL};
static const char *const req_ti_keys[] = {"type", "reqInfo", NULL};
static const char *const resp_ti_keys[] = {"type", "respInfo", NULL};
enum { S_LEN, S_TYPE, S_VALUE, S_HINT, S_VX, S__N };
static const char *const seed_req_keys[] = {"len", "type", "value", "hint", "vendorextension",
                                            NULL};
enum { Q_NONCE, Q_EXPIRY, Q_TYPE, Q_HINT, Q_VX, Q__N };
static const char *const seed_resp_keys[] = {"nonce", "expiry",          "type",
                                             "hint",  "vendorextension", NULL};

static int typeinfo(const cbor_item_t *ti, const char *name, const char *const *keys, char **type,
                    af_any *info, AF_NONCE_CODEC *codec)
{
    const cbor_item_t *v[2];

    if (!members(ti, keys, v, codec, name))
        return 0;
    if (v[0] == NULL) {
        AF_ERR(AF_R_NONCE_MISSING, "%s without type", name);
        return 0;
    }
    return get_type(v[0], type) && (v[1] == NULL || get_any(v[1], info));
}

static int req_decode(const cbor_item_t *root, AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                      AF_NONCE_CODEC *codec)
{
    size_t i;

    if (prof->def->shape == AF_SHAPE_CURRENT) {
        const cbor_item_t *v[R__N];
        AF_NONCE_REQ_ITEM *it;

        if (!members(root, cur_req_keys, v, codec, "the nonce request") ||
            (it = af_nonce_req_add0_item(req)) == NULL)
            return 0;
        return (v[R_LEN] == NULL || get_len(v[R_LEN], &it->len)) &&
               (v[R_TI] == NULL ||
                typeinfo(v[R_TI], "reqTypeInfo", req_ti_keys, &it->type, &it->info, codec));
    }
    if (!want_list(root, "nonce request"))
        return 0;
    for (i = 0; i < cbor_array_size(root); i++) {
        const cbor_item_t *v[S__N];
        AF_NONCE_REQ_ITEM *it;

        if (!members(cbor_array_handle(root)[i], seed_req_keys, v, codec, "an item") ||
            (it = af_nonce_req_add0_item(req)) == NULL)
            return 0;
        if ((v[S_LEN] != NULL && !get_len(v[S_LEN], &it->len)) ||
            (v[S_TYPE] != NULL && !get_type(v[S_TYPE], &it->type)) ||
            (v[S_VALUE] != NULL &&
             (!af_nonce_tolerate(codec, AF_NONCE_TOL_VALUE, AF_R_NONCE_UNKNOWN,
                                 "seed 'value' payload") ||
              !get_any(v[S_VALUE], &it->info))) ||
            (v[S_HINT] != NULL && !get_hint(v[S_HINT], &it->hint)) ||
            (v[S_VX] != NULL && !get_vx(v[S_VX], &it->vx, prof, codec)))
            return 0;
    }
    return 1;
}

static int resp_decode(const cbor_item_t *root, AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                       AF_NONCE_CODEC *codec)
{
    size_t i;

    if (prof->def->shape == AF_SHAPE_CURRENT) {
        const cbor_item_t *v[P__N];
        AF_NONCE_RESP_ITEM *it;

        if (!members(root, cur_resp_keys, v, codec, "the nonce response") ||
            (it = af_nonce_resp_add0_item(resp)) == NULL)
            return 0;
        if (v[P_NONCE] == NULL) {
            AF_ERR(AF_R_NONCE_MISSING, "nonce response without nonce");
            return 0;
        }
        return get_nonce(v[P_NONCE], it) &&
               (v[P_EXPIRY] == NULL || get_expiry(v[P_EXPIRY], it, 0, codec)) &&
               (v[P_TI] == NULL ||
                typeinfo(v[P_TI], "respTypeInfo", resp_ti_keys, &it->type, &it->info, codec));
    }
    if (!want_list(root, "nonce response"))
        return 0;
    for (i = 0; i < cbor_array_size(root); i++) {
        const cbor_item_t *v[Q__N];
        AF_NONCE_RESP_ITEM *it;

        if (!members(cbor_array_handle(root)[i], seed_resp_keys, v, codec, "an item") ||
            (it = af_nonce_resp_add0_item(resp)) == NULL)
            return 0;
        if (v[Q_NONCE] == NULL) {
            AF_ERR(AF_R_NONCE_MISSING, "response item %zu without nonce", i);
            return 0;
        }
        if (!get_nonce(v[Q_NONCE], it) ||
            (v[Q_EXPIRY] != NULL && !get_expiry(v[Q_EXPIRY], it, 1, codec)) ||
            (v[Q_TYPE] != NULL && !get_type(v[Q_TYPE], &it->type)) ||
            (v[Q_HINT] != NULL && !get_hint(v[Q_HINT], &it->hint)) ||
            (v[Q_VX] != NULL && !get_vx(v[Q_VX], &it->vx, prof, codec)))
            return 0;
    }
    return 1;
}

int af_nonce_cbor_req_decode(AF_NONCE_REQ **out, const AF_NONCE_PROFILE *prof,
                             AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen)
{
    cbor_item_t *root = load(in, inlen);
    AF_NONCE_REQ *req = NULL;
    int ok = 0;

    if (root != NULL && (req = af_nonce_req_new()) != NULL)
        ok = req_decode(root, req, prof, codec);
    if (root != NULL)
        cbor_decref(&root);
    if (!ok) {
        af_nonce_req_free(req);
        return 0;
    }
    *out = req;
    return 1;
}

int af_nonce_cbor_resp_decode(AF_NONCE_RESP **out, const AF_NONCE_PROFILE *prof,
                              AF_NONCE_CODEC *codec, const unsigned char *in, size_t inlen)
{
    cbor_item_t *root = load(in, inlen);
    AF_NONCE_RESP *resp = NULL;
    int ok = 0;

    if (root != NULL && (resp = af_nonce_resp_new()) != NULL)
        ok = resp_decode(root, resp, prof, codec);
    if (root != NULL)
        cbor_decref(&root);
    if (!ok) {
        af_nonce_resp_free(resp);
        return 0;
    }
    *out = resp;
    return 1;
}

/* ---- encoding -------------------------------------------------------------------------------- */

static cbor_item_t *build_uint(uint64_t v)
{
    if (v <= 0xff)
        return cbor_build_uint8((uint8_t)v);
    if (v <= 0xffff)
        return cbor_build_uint16((uint16_t)v);
    if (v <= 0xffffffffu)
        return cbor_build_uint32((uint32_t)v);
    return cbor_build_uint64(v);
}

static cbor_item_t *build_text(const char *s)
{
    return cbor_build_stringn(s, strlen(s));
}

static cbor_item_t *build_any(const af_any *a)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    struct cbor_load_result res;
    cbor_item_t *item;

    if (!af_any_get_as(a, AF_NONCE_ANY_CBOR, &buf, &len))
        return NULL;
    item = cbor_load(buf, len, &res);
    OPENSSL_free(buf);
    if (item == NULL)
        AF_ERR(AF_R_INTERNAL, "opaque value has no CBOR form");
    return item;
}

/* adds key -> v to map m, taking v; a NULL v is an error (already raised, or allocation) */
static int put(cbor_item_t *m, const char *key, cbor_item_t *v)
{
    cbor_item_t *k;
    bool ok;

    if (v == NULL) {
        AF_ERR(AF_R_MALLOC, "CBOR member %s", key);
        return 0;
    }
    if ((k = build_text(key)) == NULL) {
        cbor_decref(&v);
        AF_ERR(AF_R_MALLOC, "CBOR key");
        return 0;
    }
    ok = cbor_map_add(m, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(v)});
    if (!ok) {
        AF_ERR(AF_R_MALLOC, "CBOR member %s", key);
        return 0;
    }
    return 1;
}

static cbor_item_t *typeinfo_build(const char *type, const char *info_name, const af_any *info)
{
    cbor_item_t *m = cbor_new_definite_map(info->kind != 0 ? 2 : 1);

    if (m == NULL)
        return NULL;
    if (!put(m, "type", build_text(type)) ||
        (info->kind != 0 && !put(m, info_name, build_any(info)))) {
        cbor_decref(&m);
        return NULL;
    }
    return m;
}

static int finish(cbor_item_t *root, unsigned char **out, size_t *outlen)
{
    unsigned char *buf = NULL;
    size_t size = 0, n = cbor_serialize_alloc(root, &buf, &size);

    cbor_decref(&root);
    if (n == 0 || (*out = OPENSSL_memdup(buf, n)) == NULL) {
        free(buf);
        AF_ERR(AF_R_MALLOC, "CBOR output");
        return 0;
    }
    free(buf);
    *outlen = n;
    return 1;
}

static size_t count_req(const AF_NONCE_REQ_ITEM *it, int seed)
{
    if (!seed)
        return (it->len != 0) + (it->type != NULL);
    return (it->len != 0) + (it->type != NULL) + (it->info.kind != 0) + (it->hint != NULL) +
           it->vx.present;
}

int af_nonce_cbor_req_encode(const AF_NONCE_REQ *req, const AF_NONCE_PROFILE *prof,
                             const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen)
{
    cbor_item_t *root;
    size_t i;

    (void)codec;
    if (prof->def->shape == AF_SHAPE_CURRENT) {
        const AF_NONCE_REQ_ITEM *it = req->items[0];

        if ((root = cbor_new_definite_map(count_req(it, 0))) == NULL)
            return put(NULL, "root", NULL);
        if ((it->len != 0 && !put(root, "len", build_uint((uint64_t)it->len))) ||
            (it->type != NULL &&
             !put(root, "reqTypeInfo", typeinfo_build(it->type, "reqInfo", &it->info)))) {
            cbor_decref(&root);
            return 0;
        }
        return finish(root, out, outlen);
    }
    if ((root = cbor_new_definite_array(req->n)) == NULL)
        return put(NULL, "root", NULL);
    for (i = 0; i < req->n; i++) {
        const AF_NONCE_REQ_ITEM *it = req->items[i];
        cbor_item_t *m = cbor_new_definite_map(count_req(it, 1));

        if (m == NULL || !cbor_array_push(root, m)) {
            if (m != NULL)
                cbor_decref(&m);
            cbor_decref(&root);
            return put(NULL, "item", NULL);
        }
        cbor_decref(&m); /* the array holds it now */
        m = cbor_array_handle(root)[i];
        if ((it->len != 0 && !put(m, "len", build_uint((uint64_t)it->len))) ||
            (it->type != NULL && !put(m, "type", build_text(it->type))) ||
            (it->info.kind != 0 && !put(m, "value", build_any(&it->info))) ||
            (it->hint != NULL && !put(m, "hint", build_text(it->hint))) ||
            (it->vx.present &&
             !put(m, "vendorextension", cbor_build_bytestring(it->vx.data, it->vx.len)))) {
            cbor_decref(&root);
            return 0;
        }
    }
    return finish(root, out, outlen);
}

static cbor_item_t *expiry_time_build(const AF_NONCE_RESP_ITEM *it, const AF_NONCE_CODEC *codec)
{
    int64_t epoch;
    char buf[40];

    if (it->expiry_kind == AF_NONCE_EXPIRY_TIME)
        return build_text(it->expiry_text);
    if (!af_nonce_resp_item_get_expiry_epoch(it, codec, &epoch))
        return NULL;
    if (!af_rfc3339_format(epoch, buf, sizeof(buf))) {
        AF_ERR(AF_R_NONCE_EXPIRY, "expiry beyond year 9999");
        return NULL;
    }
    return build_text(buf);
}

int af_nonce_cbor_resp_encode(const AF_NONCE_RESP *resp, const AF_NONCE_PROFILE *prof,
                              const AF_NONCE_CODEC *codec, unsigned char **out, size_t *outlen)
{
    cbor_item_t *root;
    size_t i;

    if (prof->def->shape == AF_SHAPE_CURRENT) {
        const AF_NONCE_RESP_ITEM *it = resp->items[0];
        int64_t secs = 0;
        int has_exp = af_nonce_resp_item_get_expiry_seconds(it, codec, &secs);

        if ((root = cbor_new_definite_map(1 + (size_t)has_exp + (it->type != NULL))) == NULL)
            return put(NULL, "root", NULL);
        if (!put(root, "nonce", cbor_build_bytestring(it->nonce, it->nonce_len)) ||
            (has_exp && !put(root, "expiry", build_uint((uint64_t)secs))) ||
            (it->type != NULL &&
             !put(root, "respTypeInfo", typeinfo_build(it->type, "respInfo", &it->info)))) {
            cbor_decref(&root);
            return 0;
        }
        return finish(root, out, outlen);
    }
    if ((root = cbor_new_definite_array(resp->n)) == NULL)
        return put(NULL, "root", NULL);
    for (i = 0; i < resp->n; i++) {
        const AF_NONCE_RESP_ITEM *it = resp->items[i];
        size_t n = 1 + (it->expiry_kind != AF_NONCE_EXPIRY_NONE) + (it->type != NULL) +
                   (it->hint != NULL) + it->vx.present;
        cbor_item_t *m = cbor_new_definite_map(n);

        if (m == NULL || !cbor_array_push(root, m)) {
            if (m != NULL)
                cbor_decref(&m);
            cbor_decref(&root);
            return put(NULL, "item", NULL);
        }
        cbor_decref(&m);
        m = cbor_array_handle(root)[i];
        if (!put(m, "nonce", cbor_build_bytestring(it->nonce, it->nonce_len)) ||
            (it->expiry_kind != AF_NONCE_EXPIRY_NONE &&
             !put(m, "expiry", expiry_time_build(it, codec))) ||
            (it->type != NULL && !put(m, "type", build_text(it->type))) ||
            (it->hint != NULL && !put(m, "hint", build_text(it->hint))) ||
            (it->vx.present &&
             !put(m, "vendorextension", cbor_build_bytestring(it->vx.data, it->vx.len)))) {
            cbor_decref(&root);
            return 0;
        }
    }
    return finish(root, out, outlen);
}
