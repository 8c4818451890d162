/* ra.c - the RA context (AF_RA): configuration, the nonce RNG (the HSM's ATTFRESH-RAND through the
 * provider by default), the nonce store, the per-client rate limiter, the profiles with their OID
 * overrides, the empty-nonce policy, CMP protection material, and af_ra_issue, which turns a
 * decoded nonce request into a recorded, bound nonce response for every protocol responder. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "attfresh/err.h"
#include "attfresh/server.h"

#define RA_DEFAULT_NONCE_LEN 32
#define RA_DEFAULT_EXPIRY_S 300u
#define RA_MAX_EXPIRY_S 86400u
#define RA_MAX_POLICY_ITEMS 64
#define RA_MAX_SECRET 1024

struct af_ra_st {
    OSSL_LIB_CTX *libctx;
    EVP_RAND_CTX *rand; /* NULL with soft_rand: RAND_bytes_ex(libctx) */
    AF_NONCE_STORE *store;
    AF_RATELIMIT *rl; /* NULL when rate limiting is off */
    int nonce_len;
    uint32_t expiry_s;
    int lenient;
    AF_NONCE_PROFILE **profiles; /* one per profile table entry, same order */
    size_t nprofiles;
    const AF_NONCE_PROFILE *default_profile;
    char *empty_types[RA_MAX_POLICY_ITEMS]; /* dotted OIDs */
    size_t n_empty_types;
    char *empty_labels[RA_MAX_POLICY_ITEMS];
    size_t n_empty_labels;
    unsigned char *cmp_secret;
    size_t cmp_secret_len;
    EVP_PKEY *cmp_key;
    X509 *cmp_cert;
    X509_STORE *cmp_trust;
};

void af_ra_config_init(AF_RA_CONFIG *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->rand_name = "ATTFRESH-RAND";
    cfg->rand_propq = "provider=attfresh";
    cfg->nonce_len = RA_DEFAULT_NONCE_LEN;
    cfg->expiry_s = RA_DEFAULT_EXPIRY_S;
    cfg->ratelimit = 1;
    af_ratelimit_config_init(&cfg->rl);
    af_nonce_store_config_init(&cfg->store);
    cfg->default_profile = AF_PROFILE_DEFAULT;
}

/* Splits a comma list into trimmed copies; each item is passed through norm (may be NULL). */
static int split_list(const char *list, char **out, size_t *n, const char *what,
                      int (*norm)(const char *in, char *buf, size_t bufsize))
{
    const char *p = list;

    *n = 0;
    if (list == NULL)
        return 1;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char item[256], normed[256];

        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len >= sizeof(item)) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "%s: item longer than %zu characters", what,
                   sizeof(item) - 1);
            return 0;
        }
        if (len > 0) {
            if (*n == RA_MAX_POLICY_ITEMS) {
                AF_ERR(AF_R_INVALID_ARGUMENT, "%s: more than %d items", what, RA_MAX_POLICY_ITEMS);
                return 0;
            }
            memcpy(item, p, len);
            item[len] = '\0';
            if (norm != NULL) {
                if (!norm(item, normed, sizeof(normed))) {
                    AF_ERR(AF_R_BAD_OID, "%s: '%s' is neither a dotted OID nor a known name", what,
                           item);
                    return 0;
                }
            } else {
                memcpy(normed, item, len + 1);
            }
            if ((out[*n] = OPENSSL_strdup(normed)) == NULL) {
                AF_ERR(AF_R_MALLOC, "%s", what);
                return 0;
            }
            (*n)++;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 1;
}

/* A type from the OID table by name, or any dotted OID, as canonical dotted text. */
static int norm_oid(const char *in, char *buf, size_t bufsize)
{
    int id = af_oid_lookup(in);
    ASN1_OBJECT *obj;
    int ok;

    if (id >= 0) {
        snprintf(buf, bufsize, "%s", af_oid_text((af_oid_id)id));
        return 1;
    }
    if ((obj = OBJ_txt2obj(in, 1)) == NULL) {
        ERR_clear_error();
        return 0;
    }
    ok = OBJ_obj2txt(buf, (int)bufsize, obj, 1) > 0;
    ASN1_OBJECT_free(obj);
    return ok;
}

/* The first line of path, without its line end; the caller clears and frees it. */
static unsigned char *read_secret_line(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t n;

    if (f == NULL) {
        AF_ERR(AF_R_IO, "cannot open the CMP secret file %s: %s", path, strerror(errno));
        return NULL;
    }
    if ((buf = OPENSSL_zalloc(RA_MAX_SECRET + 2)) == NULL) {
        fclose(f);
        AF_ERR(AF_R_MALLOC, "CMP secret");
        return NULL;
    }
    n = fread(buf, 1, RA_MAX_SECRET + 1, f);
    fclose(f);
    if (n > RA_MAX_SECRET) {
        OPENSSL_clear_free(buf, RA_MAX_SECRET + 2);
        AF_ERR(AF_R_TOO_LARGE, "the CMP secret file %s is larger than %d bytes", path,
               RA_MAX_SECRET);
        return NULL;
    }
    for (*len = 0; *len < n && buf[*len] != '\n' && buf[*len] != '\r'; (*len)++)
        continue;
    OPENSSL_cleanse(buf + *len, RA_MAX_SECRET + 2 - *len);
    if (*len == 0) {
        OPENSSL_clear_free(buf, RA_MAX_SECRET + 2);
        AF_ERR(AF_R_INVALID_ARGUMENT, "the CMP secret file %s has an empty first line", path);
        return NULL;
    }
    return buf;
}

/* The first object of the wanted type at uri (a file path or pkcs11: URI) through OSSL_STORE. */
static OSSL_STORE_INFO *store_load_one(OSSL_LIB_CTX *libctx, const char *uri, int type,
                                       const char *what)
{
    OSSL_STORE_CTX *st = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info = NULL;
    char why[256];

    if (st == NULL) {
        af_err_line(why, sizeof(why));
        AF_ERR(AF_R_IO, "cannot open the %s %s: %s", what, uri, why);
        return NULL;
    }
    OSSL_STORE_expect(st, type);
    while (info == NULL && !OSSL_STORE_eof(st)) {
        info = OSSL_STORE_load(st);
        if (info != NULL && OSSL_STORE_INFO_get_type(info) != type) {
            OSSL_STORE_INFO_free(info);
            info = NULL;
        }
        if (info == NULL && OSSL_STORE_error(st))
            break;
    }
    OSSL_STORE_close(st);
    if (info == NULL) {
        if (ERR_peek_error() != 0)
            af_err_line(why, sizeof(why));
        else
            snprintf(why, sizeof(why), "nothing of that kind there");
        AF_ERR(AF_R_IO, "cannot load the %s from %s: %s", what, uri, why);
    }
    return info;
}

static int load_cmp_material(AF_RA *ra, const AF_RA_CONFIG *cfg)
{
    OSSL_STORE_INFO *info;

    if (cfg->cmp_secret_file != NULL &&
        (ra->cmp_secret = read_secret_line(cfg->cmp_secret_file, &ra->cmp_secret_len)) == NULL)
        return 0;
    if (cfg->cmp_key != NULL) {
        if ((info = store_load_one(ra->libctx, cfg->cmp_key, OSSL_STORE_INFO_PKEY,
                                   "CMP signer key")) == NULL)
            return 0;
        ra->cmp_key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
        if (ra->cmp_key == NULL)
            return 0;
    }
    if (cfg->cmp_cert != NULL) {
        if ((info = store_load_one(ra->libctx, cfg->cmp_cert, OSSL_STORE_INFO_CERT,
                                   "CMP signer certificate")) == NULL)
            return 0;
        ra->cmp_cert = OSSL_STORE_INFO_get1_CERT(info);
        OSSL_STORE_INFO_free(info);
        if (ra->cmp_cert == NULL)
            return 0;
    }
    if ((ra->cmp_key == NULL) != (ra->cmp_cert == NULL)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the CMP signer needs both a key and a certificate");
        return 0;
    }
    if (ra->cmp_key != NULL && X509_check_private_key(ra->cmp_cert, ra->cmp_key) != 1) {
        ERR_clear_error();
        AF_ERR(AF_R_INVALID_ARGUMENT, "the CMP signer certificate does not match its key");
        return 0;
    }
    if (cfg->cmp_trust != NULL) {
        if ((ra->cmp_trust = X509_STORE_new()) == NULL ||
            X509_STORE_load_file_ex(ra->cmp_trust, cfg->cmp_trust, ra->libctx, NULL) != 1) {
            char why[256];

            af_err_line(why, sizeof(why));
            AF_ERR(AF_R_IO, "cannot load the CMP trusted certificates %s: %s", cfg->cmp_trust, why);
            return 0;
        }
    }
    return 1;
}

static int init_rand(AF_RA *ra, const AF_RA_CONFIG *cfg)
{
    const char *name = cfg->rand_name != NULL ? cfg->rand_name : "ATTFRESH-RAND";
    const char *propq = cfg->rand_propq != NULL ? cfg->rand_propq : "provider=attfresh";
    EVP_RAND *r;
    unsigned char probe[AF_NONCE_LEN_MIN];
    char why[256];

    if (cfg->soft_rand)
        return 1;
    if ((r = EVP_RAND_fetch(ra->libctx, name, propq)) == NULL) {
        ERR_clear_error();
        AF_ERR(AF_R_CRYPTO,
               "the HSM random generator %s (%s) is not available: load the attfresh provider "
               "(openssl.cnf) or choose the software generator (--soft-rand)",
               name, propq);
        return 0;
    }
    ra->rand = EVP_RAND_CTX_new(r, NULL);
    EVP_RAND_free(r);
    if (ra->rand == NULL || !EVP_RAND_instantiate(ra->rand, 0, 0, NULL, 0, NULL) ||
        !EVP_RAND_enable_locking(ra->rand)) {
        af_err_line(why, sizeof(why));
        AF_ERR(AF_R_CRYPTO, "cannot start the random generator %s: %s", name, why);
        return 0;
    }
    /* Draw once now so a missing token or wrong PIN stops the RA at start, not at the first
     * client. The oldest error is the provider's own reason (token, PIN, CKR_); EVP's generic
     * "generate error" comes after it. */
    ERR_clear_error();
    if (EVP_RAND_generate(ra->rand, probe, sizeof(probe), 0, 0, NULL, 0) != 1) {
        af_err_line(why, sizeof(why));
        AF_ERR(AF_R_CRYPTO, "the random generator %s cannot draw: %s", name, why);
        return 0;
    }
    OPENSSL_cleanse(probe, sizeof(probe));
    return 1;
}

AF_RA *af_ra_new(const AF_RA_CONFIG *cfg)
{
    AF_RA_CONFIG def;
    AF_RA *ra;
    const AF_PROFILE_DEF *table;
    size_t i;

    if (cfg == NULL) {
        af_ra_config_init(&def);
        cfg = &def;
    }
    if (cfg->nonce_len < AF_NONCE_LEN_MIN || cfg->nonce_len > AF_NONCE_LEN_MAX) {
        AF_ERR(AF_R_NONCE_BAD_LEN, "default nonce length %d outside %d..%d", cfg->nonce_len,
               AF_NONCE_LEN_MIN, AF_NONCE_LEN_MAX);
        return NULL;
    }
    if (cfg->expiry_s == 0 || cfg->expiry_s > RA_MAX_EXPIRY_S) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "nonce expiry %u s outside 1..%u", (unsigned)cfg->expiry_s,
               RA_MAX_EXPIRY_S);
        return NULL;
    }
    if ((ra = OPENSSL_zalloc(sizeof(*ra))) == NULL) {
        AF_ERR(AF_R_MALLOC, "RA context");
        return NULL;
    }
    ra->libctx = cfg->libctx;
    ra->nonce_len = cfg->nonce_len;
    ra->expiry_s = cfg->expiry_s;
    ra->lenient = cfg->lenient;

    table = af_profile_table(&ra->nprofiles);
    if ((ra->profiles = OPENSSL_zalloc(ra->nprofiles * sizeof(*ra->profiles))) == NULL) {
        AF_ERR(AF_R_MALLOC, "RA profiles");
        goto err;
    }
    for (i = 0; i < ra->nprofiles; i++)
        if ((ra->profiles[i] = af_nonce_profile_new(table[i].name)) == NULL)
            goto err;
    ra->default_profile = af_ra_get0_profile(ra, cfg->default_profile != NULL ? cfg->default_profile
                                                                              : AF_PROFILE_DEFAULT);
    if (ra->default_profile == NULL)
        goto err;
    if (!split_list(cfg->empty_types, ra->empty_types, &ra->n_empty_types, "empty-nonce types",
                    norm_oid) ||
        !split_list(cfg->empty_labels, ra->empty_labels, &ra->n_empty_labels, "empty-nonce labels",
                    NULL))
        goto err;
    if (!init_rand(ra, cfg))
        goto err;
    if ((ra->store = af_nonce_store_new(&cfg->store)) == NULL)
        goto err;
    if (cfg->ratelimit && (ra->rl = af_ratelimit_new(&cfg->rl)) == NULL)
        goto err;
    if (!load_cmp_material(ra, cfg))
        goto err;
    return ra;
err:
    af_ra_free(ra);
    return NULL;
}

void af_ra_free(AF_RA *ra)
{
    size_t i;

    if (ra == NULL)
        return;
    for (i = 0; ra->profiles != NULL && i < ra->nprofiles; i++)
        af_nonce_profile_free(ra->profiles[i]);
    OPENSSL_free(ra->profiles);
    for (i = 0; i < ra->n_empty_types; i++)
        OPENSSL_free(ra->empty_types[i]);
    for (i = 0; i < ra->n_empty_labels; i++)
        OPENSSL_free(ra->empty_labels[i]);
    EVP_RAND_CTX_free(ra->rand);
    af_nonce_store_free(ra->store);
    af_ratelimit_free(ra->rl);
    OPENSSL_clear_free(ra->cmp_secret, RA_MAX_SECRET + 2);
    EVP_PKEY_free(ra->cmp_key);
    X509_free(ra->cmp_cert);
    X509_STORE_free(ra->cmp_trust);
    OPENSSL_free(ra);
}

const AF_NONCE_PROFILE *af_ra_get0_profile(const AF_RA *ra, const char *name)
{
    size_t i;

    if (ra == NULL)
        return NULL;
    if (name == NULL)
        return ra->default_profile;
    for (i = 0; i < ra->nprofiles; i++)
        if (strcmp(af_nonce_profile_get0_name(ra->profiles[i]), name) == 0)
            return ra->profiles[i];
    AF_ERR(AF_R_UNKNOWN_PROFILE, "'%s' is not a wire profile of this RA", name);
    return NULL;
}

int af_ra_set_profile_oid(AF_RA *ra, const char *profile, af_nonce_oid_role role, const char *oid)
{
    AF_NONCE_PROFILE *p = (AF_NONCE_PROFILE *)af_ra_get0_profile(ra, profile);

    return p != NULL && af_nonce_profile_set_oid(p, role, oid);
}

int af_ra_set1_cmp_secret(AF_RA *ra, const unsigned char *secret, size_t len)
{
    if (ra == NULL || (secret != NULL && (len == 0 || len > RA_MAX_SECRET))) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP secret of 1..%d bytes", RA_MAX_SECRET);
        return 0;
    }
    OPENSSL_clear_free(ra->cmp_secret, RA_MAX_SECRET + 2);
    ra->cmp_secret = NULL;
    ra->cmp_secret_len = 0;
    if (secret == NULL)
        return 1;
    /* Same allocation size everywhere so one clear_free size fits all. */
    if ((ra->cmp_secret = OPENSSL_zalloc(RA_MAX_SECRET + 2)) == NULL) {
        AF_ERR(AF_R_MALLOC, "CMP secret");
        return 0;
    }
    memcpy(ra->cmp_secret, secret, len);
    ra->cmp_secret_len = len;
    return 1;
}

int af_ra_random(AF_RA *ra, unsigned char *buf, size_t len)
{
    /* Protocol values that are not nonces come from OpenSSL's DRBG: no token round trip. */
    if (RAND_bytes_ex(ra != NULL ? ra->libctx : NULL, buf, len, 0) != 1) {
        char why[256];

        af_err_line(why, sizeof(why));
        AF_ERR(AF_R_CRYPTO, "random generator failed: %s", why);
        return 0;
    }
    return 1;
}

uint32_t af_ra_get_expiry(const AF_RA *ra)
{
    return ra->expiry_s;
}

int af_ra_get_nonce_len(const AF_RA *ra)
{
    return ra->nonce_len;
}

int af_ra_get_lenient(const AF_RA *ra)
{
    return ra->lenient;
}

int af_ra_policy_empty(const AF_RA *ra, const char *label, const char *type)
{
    size_t i;

    if (label != NULL)
        for (i = 0; i < ra->n_empty_labels; i++)
            if (strcmp(ra->empty_labels[i], label) == 0)
                return 1;
    if (type != NULL)
        for (i = 0; i < ra->n_empty_types; i++)
            if (strcmp(ra->empty_types[i], type) == 0)
                return 1;
    return 0;
}

AF_NONCE_RESULT af_ra_issue_ex(AF_RA *ra, const AF_NONCE_PROFILE *prof, const char *label,
                               const AF_NONCE_REQ *req, const unsigned char *binding,
                               size_t binding_len, const unsigned char *requester,
                               size_t requester_len, AF_NONCE_RESP **resp)
{
    AF_NONCE_RESP *out = NULL;
    AF_NONCE_RESULT r = AF_NONCE_ERROR;
    unsigned char buf[AF_NONCE_LEN_MAX];
    size_t i, n;
    int seed;

    if (resp != NULL)
        *resp = NULL;
    if (ra == NULL || prof == NULL || req == NULL || resp == NULL || binding == NULL ||
        binding_len == 0 || requester == NULL || requester_len == 0) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "af_ra_issue: missing request, binding or requester");
        return AF_NONCE_ERROR;
    }
    n = af_nonce_req_get_count(req);
    if (n == 0 || n > AF_NONCE_MAX_ITEMS) {
        AF_ERR(AF_R_NONCE_MISSING, "nonce request with %zu items (1..%d)", n, AF_NONCE_MAX_ITEMS);
        return AF_NONCE_ERROR;
    }
    if (ra->rl != NULL && !af_ratelimit_allow(ra->rl, requester, requester_len))
        return AF_NONCE_ERROR;
    seed = af_nonce_profile_get_shape(prof) == AF_SHAPE_SEED;
    if ((out = af_nonce_resp_new()) == NULL)
        return AF_NONCE_ERROR;
    for (i = 0; i < n; i++) {
        const AF_NONCE_REQ_ITEM *it = af_nonce_req_get0_item(req, i);
        AF_NONCE_RESP_ITEM *ri = af_nonce_resp_add0_item(out);
        const char *type = af_nonce_req_item_get0_type(it);
        const char *hint = af_nonce_req_item_get0_hint(it);
        int len = af_nonce_req_item_get_len(it);

        if (ri == NULL)
            goto done;
        /* The seed text lets the response echo type and hint; the current shape's respTypeInfo
         * names the syntax of respInfo, which we answer in the request's terms. */
        if (type != NULL && !af_nonce_resp_item_set1_type(ri, type))
            goto done;
        if (seed && hint != NULL && !af_nonce_resp_item_set1_hint(ri, hint))
            goto done;
        if (af_ra_policy_empty(ra, label, type))
            continue; /* the empty nonce: no freshness proof needed, nothing to record */
        if (len == 0)
            len = ra->nonce_len;
        if (len < AF_NONCE_LEN_MIN || len > AF_NONCE_LEN_MAX) {
            AF_ERR(AF_R_NONCE_BAD_LEN, "len %d outside %d..%d", len, AF_NONCE_LEN_MIN,
                   AF_NONCE_LEN_MAX);
            goto done;
        }
        if (!af_nonce_generate(buf, (size_t)len, ra->rand, ra->libctx))
            goto done;
        r = af_nonce_store_issue(ra->store, buf, (size_t)len, binding, binding_len, requester,
                                 requester_len, ra->expiry_s, NULL);
        if (r != AF_NONCE_OK)
            goto done;
        r = AF_NONCE_ERROR;
        if (!af_nonce_resp_item_set1_nonce(ri, buf, (size_t)len) ||
            !af_nonce_resp_item_set_expiry_seconds(ri, ra->expiry_s))
            goto done;
    }
    *resp = out;
    out = NULL;
    r = AF_NONCE_OK;
done:
    OPENSSL_cleanse(buf, sizeof(buf));
    af_nonce_resp_free(out);
    return r;
}

AF_NONCE_RESULT af_ra_issue(AF_RA *ra, const AF_NONCE_PROFILE *prof, const AF_NONCE_REQ *req,
                            const unsigned char *binding, size_t binding_len,
                            const unsigned char *requester, size_t requester_len,
                            AF_NONCE_RESP **resp)
{
    return af_ra_issue_ex(ra, prof, NULL, req, binding, binding_len, requester, requester_len,
                          resp);
}

AF_NONCE_STORE *af_ra_get0_store(const AF_RA *ra)
{
    return ra->store;
}

OSSL_LIB_CTX *af_ra_get0_libctx(const AF_RA *ra)
{
    return ra->libctx;
}

const unsigned char *af_ra_get0_cmp_secret(const AF_RA *ra, size_t *len)
{
    if (len != NULL)
        *len = ra->cmp_secret_len;
    return ra->cmp_secret;
}

EVP_PKEY *af_ra_get0_cmp_key(const AF_RA *ra)
{
    return ra->cmp_key;
}

X509 *af_ra_get0_cmp_cert(const AF_RA *ra)
{
    return ra->cmp_cert;
}

X509_STORE *af_ra_get0_cmp_trust(const AF_RA *ra)
{
    return ra->cmp_trust;
}
