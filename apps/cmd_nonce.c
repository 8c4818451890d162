/* cmd_nonce.c - `attfresh nonce`: a dispatcher over make (build and encode a nonce request or
 * response), show (decode, validate, print) and, when linked in, get (ask an RA; lives in its
 * own file as af_cmd_nonce_get). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "apps.h"
#include "attfresh/err.h"
#include "attfresh/nonce.h"

/* Provided by the file that implements `attfresh nonce get`, if linked. */
int af_cmd_nonce_get(int argc, char **argv) __attribute__((weak));

/* ---- option parsing -------------------------------------------------------------------------- */

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past the value. Returns 1 on a match with
 * *val set, 0 when argv[*i] is another option, -1 when the value is missing. */
static int opt_val(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

static int parse_format(const char *fmt, const char *wrap, af_nonce_format *out)
{
    af_nonce_format f = af_nonce_format_from_name(fmt == NULL ? "der" : fmt);

    if (f != AF_NONCE_FMT_DER && f != AF_NONCE_FMT_JSON && f != AF_NONCE_FMT_CBOR) {
        af_app_usage("unknown --format '%s' (der, json, cbor)", fmt);
        return 0;
    }
    if (wrap != NULL) {
        if (f != AF_NONCE_FMT_DER) {
            af_app_usage("--wrap goes with --format der only");
            return 0;
        }
        if (strcmp(wrap, "itav") == 0)
            f = AF_NONCE_FMT_ITAV;
        else if (strcmp(wrap, "cmc") == 0)
            f = AF_NONCE_FMT_CMC;
        else if (strcmp(wrap, "none") != 0) {
            af_app_usage("unknown --wrap '%s' (itav, cmc, none)", wrap);
            return 0;
        }
    }
    *out = f;
    return 1;
}

static int any_kind(af_nonce_format f)
{
    return f == AF_NONCE_FMT_JSON   ? AF_NONCE_ANY_JSON
           : f == AF_NONCE_FMT_CBOR ? AF_NONCE_ANY_CBOR
                                    : AF_NONCE_ANY_DER;
}

static int parse_int64(const char *s, int64_t *v)
{
    char *end;
    long long n;

    errno = 0;
    if (s == NULL || !isdigit((unsigned char)*s))
        return 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    *v = n;
    return 1;
}

/* profile + OID overrides: --oid-request/--oid-response set the role of the wrap in use (CMP for
 * itav, CMC for cmc, both otherwise) */
static AF_NONCE_PROFILE *make_profile(const char *name, const char *oid_req, const char *oid_resp,
                                      af_nonce_format f)
{
    AF_NONCE_PROFILE *prof = af_nonce_profile_new(name);
    int cmp = f != AF_NONCE_FMT_CMC, cmc = f != AF_NONCE_FMT_ITAV;

    if (prof == NULL)
        return NULL;
    if ((oid_req != NULL &&
         ((cmp && !af_nonce_profile_set_oid(prof, AF_NONCE_OID_CMP_REQUEST, oid_req)) ||
          (cmc && !af_nonce_profile_set_oid(prof, AF_NONCE_OID_CMC_REQUEST, oid_req)))) ||
        (oid_resp != NULL &&
         ((cmp && !af_nonce_profile_set_oid(prof, AF_NONCE_OID_CMP_RESPONSE, oid_resp)) ||
          (cmc && !af_nonce_profile_set_oid(prof, AF_NONCE_OID_CMC_RESPONSE, oid_resp))))) {
        af_nonce_profile_free(prof);
        return NULL;
    }
    return prof;
}

static const char *profile_names(void)
{
    return "draft-08 (default), rat-e2e, draft-06, siemens-ra";
}

/* ---- make ------------------------------------------------------------------------------------ */

static void make_help(FILE *out)
{
    fprintf(
        out,
        "usage: attfresh nonce make --request|--response [OPTIONS] [--item ITEM-OPTIONS]...\n"
        "\n"
        "Builds a nonce request or response and writes it encoded (atomically with --out).\n"
        "\n"
        "message options:\n"
        "  --profile P          wire profile: %s\n"
        "  --format F           der (default), json, cbor\n"
        "  --wrap W             with der: itav (CMP InfoTypeAndValue) or cmc (CMC "
        "TaggedAttribute)\n"
        "  --oid-request OID    override the request infoType / CMC control of the profile\n"
        "  --oid-response OID   override the response infoType / CMC control of the profile\n"
        "  --body-part-id N     CMC bodyPartID (default 1)\n"
        "  --now EPOCH          time base for converting expiry seconds <-> RFC 3339 (default: "
        "now)\n"
        "  --lenient            accept what only lenient decoders read back (not needed to "
        "encode)\n"
        "  --out FILE           output file (default: standard output)\n"
        "item options (the list shapes of draft-06/siemens-ra take several items; --item starts "
        "the\n"
        "next one):\n"
        "  --len N              request: wanted nonce length 8..64\n"
        "  --type OID           reqTypeInfo/respTypeInfo type (current shape) or item type (seed)\n"
        "  --info FILE          reqInfo/respInfo (or the seed 'value'): one DER element with "
        "--format\n"
        "                       der, a JSON value with json, a CBOR item with cbor (see "
        "--info-kind)\n"
        "  --value FILE         same as --info (the seed shape's name)\n"
        "  --info-kind K        der, json or cbor: the encoding of the --info file, when it "
        "differs\n"
        "  --hint TEXT          seed shape: Verifier hint\n"
        "  --vendorext HEX      siemens-ra: vendorextension octets\n"
        "  --nonce HEX          response: the nonce ('' for the empty nonce)\n"
        "  --nonce-len N        response: N random bytes (default 32 when --nonce is not given)\n"
        "  --expiry E           response: seconds, or an RFC 3339 time (seed JSON/CBOR form)\n"
        "\n"
        "examples:\n"
        "  attfresh nonce make --request --len 32 --type 1.2.3.4.5 --format json\n"
        "  attfresh nonce make --request --len 32 --wrap itav --out req.der\n"
        "  attfresh nonce make --response --nonce 0102030405060708 --expiry 600 --format json\n"
        "  attfresh nonce make --request --profile draft-06 --format json --len 8 --type 1.2.3.4.5 "
        "\\\n"
        "      --hint https://example.com --item --len 16\n"
        "  attfresh nonce make --response --profile siemens-ra --nonce-len 16 --vendorext 0a0b "
        "--wrap cmc\n",
        profile_names());
}

typedef struct {
    int response;
    const char *profile, *format, *wrap, *oid_req, *oid_resp, *out;
    int64_t bpid, now;
    int lenient;
} make_opts;

static int read_info(const char *path, const char *kindname, af_nonce_format f, int *kind,
                     unsigned char **data, size_t *len)
{
    if (kindname != NULL) {
        if (strcmp(kindname, "der") == 0)
            *kind = AF_NONCE_ANY_DER;
        else if (strcmp(kindname, "json") == 0)
            *kind = AF_NONCE_ANY_JSON;
        else if (strcmp(kindname, "cbor") == 0)
            *kind = AF_NONCE_ANY_CBOR;
        else {
            return af_app_usage("unknown --info-kind '%s' (der, json, cbor)", kindname);
        }
    } else {
        *kind = any_kind(f);
    }
    if ((*data = af_app_read(path, len)) == NULL)
        return af_app_fail("nonce make: reading %s", path);
    return AF_EXIT_OK;
}

/* Applies one item's options (argv[*i] .. up to the next --item or the end); returns the exit
 * code (AF_EXIT_OK to go on). */
static int make_item(int argc, char **argv, int *i, const make_opts *mo, af_nonce_format f,
                     AF_NONCE_REQ *req, AF_NONCE_RESP *resp)
{
    AF_NONCE_REQ_ITEM *rq = NULL;
    AF_NONCE_RESP_ITEM *rs = NULL;
    const char *len = NULL, *type = NULL, *info = NULL, *kind = NULL, *hint = NULL, *vx = NULL,
               *nonce = NULL, *nonce_len = NULL, *expiry = NULL, *v;
    int r, ok = 0;
    unsigned char *buf = NULL;
    size_t blen = 0;

    for (; *i < argc && strcmp(argv[*i], "--item") != 0; (*i)++) {
        const char *names[] = {"--len",  "--type",      "--info",  "--value",     "--info-kind",
                               "--hint", "--vendorext", "--nonce", "--nonce-len", "--expiry"};
        const char **dst[] = {&len,  &type, &info,  &info,      &kind,
                              &hint, &vx,   &nonce, &nonce_len, &expiry};
        size_t k;

        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            if ((r = opt_val(argc, argv, i, names[k], &v)) < 0)
                return af_app_usage("%s needs a value", names[k]);
            if (r > 0) {
                *dst[k] = v;
                break;
            }
        }
        if (k == sizeof(names) / sizeof(names[0]))
            return af_app_usage("nonce make: unknown option '%s' (see --help)", argv[*i]);
    }
    if (!mo->response) {
        if (nonce != NULL || nonce_len != NULL || expiry != NULL)
            return af_app_usage("--nonce, --nonce-len and --expiry belong to --response");
        if ((rq = af_nonce_req_add0_item(req)) == NULL)
            return af_app_fail("nonce make");
    } else {
        if (len != NULL)
            return af_app_usage("--len belongs to --request (use --nonce-len for a response)");
        if ((rs = af_nonce_resp_add0_item(resp)) == NULL)
            return af_app_fail("nonce make");
    }
    if (len != NULL) {
        int64_t n;

        if (!parse_int64(len, &n) || n > 1000)
            return af_app_usage("--len '%s' is not a number", len);
        if (!af_nonce_req_item_set_len(rq, (int)n))
            return af_app_fail("nonce make: --len");
    }
    if (type != NULL && !(rq != NULL ? af_nonce_req_item_set1_type(rq, type)
                                     : af_nonce_resp_item_set1_type(rs, type)))
        return af_app_fail("nonce make: --type");
    if (info != NULL) {
        int k = 0;

        if ((r = read_info(info, kind, f, &k, &buf, &blen)) != AF_EXIT_OK)
            return r;
        if (!(rq != NULL ? af_nonce_req_item_set1_info(rq, k, buf, blen)
                         : af_nonce_resp_item_set1_info(rs, k, buf, blen))) {
            OPENSSL_free(buf);
            return af_app_fail("nonce make: %s", info);
        }
        OPENSSL_free(buf);
        buf = NULL;
    }
    if (hint != NULL && !(rq != NULL ? af_nonce_req_item_set1_hint(rq, hint)
                                     : af_nonce_resp_item_set1_hint(rs, hint)))
        return af_app_fail("nonce make: --hint");
    if (vx != NULL) {
        if (*vx == '\0')
            ok = rq != NULL ? af_nonce_req_item_set1_vendorext(rq, (const unsigned char *)"", 0)
                            : af_nonce_resp_item_set1_vendorext(rs, (const unsigned char *)"", 0);
        else if ((buf = af_app_unhex(vx, &blen)) != NULL)
            ok = rq != NULL ? af_nonce_req_item_set1_vendorext(rq, buf, blen)
                            : af_nonce_resp_item_set1_vendorext(rs, buf, blen);
        OPENSSL_free(buf);
        buf = NULL;
        if (!ok)
            return af_app_fail("nonce make: --vendorext");
    }
    if (rs != NULL) {
        if (nonce != NULL && nonce_len != NULL)
            return af_app_usage("give --nonce or --nonce-len, not both");
        if (nonce != NULL && *nonce != '\0') {
            if ((buf = af_app_unhex(nonce, &blen)) == NULL)
                return af_app_fail("nonce make: --nonce");
            ok = af_nonce_resp_item_set1_nonce(rs, buf, blen);
            OPENSSL_clear_free(buf, blen);
            if (!ok)
                return af_app_fail("nonce make: --nonce");
        } else if (nonce == NULL) {
            int64_t n = 32;

            if (nonce_len != NULL && !parse_int64(nonce_len, &n))
                return af_app_usage("--nonce-len '%s' is not a number", nonce_len);
            if (!af_nonce_resp_item_generate(rs, (size_t)(n > 1000 ? 1000 : n), NULL, NULL))
                return af_app_fail("nonce make: --nonce-len");
        }
        if (expiry != NULL) {
            int64_t s;

            if (parse_int64(expiry, &s))
                ok = af_nonce_resp_item_set_expiry_seconds(rs, s);
            else
                ok = af_nonce_resp_item_set1_expiry_time(rs, expiry);
            if (!ok)
                return af_app_fail("nonce make: --expiry");
        }
    }
    return AF_EXIT_OK;
}

static int cmd_make(int argc, char **argv)
{
    make_opts mo;
    int i, r, rc = AF_EXIT_FAIL, have_dir = 0;
    const char *v;
    af_nonce_format f;
    AF_NONCE_PROFILE *prof = NULL;
    AF_NONCE_CODEC *codec = NULL;
    AF_NONCE_REQ *req = NULL;
    AF_NONCE_RESP *resp = NULL;
    unsigned char *out = NULL;
    size_t outlen = 0;
    char **iargv;
    int iargc = 0;

    memset(&mo, 0, sizeof(mo));
    mo.bpid = 1;
    /* Message options may appear anywhere; everything else is an item option and goes, in order,
     * to iargv for make_item (--item separates the items). */
    if ((iargv = OPENSSL_zalloc(sizeof(*iargv) * ((size_t)argc + 1))) == NULL)
        return af_app_fail("nonce make");
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *names[] = {"--profile",      "--format", "--wrap",         "--oid-request",
                               "--oid-response", "--out",    "--body-part-id", "--now"};
        const char **dst[] = {&mo.profile,  &mo.format, &mo.wrap, &mo.oid_req,
                              &mo.oid_resp, &mo.out,    NULL,     NULL};
        size_t k;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            make_help(stdout);
            OPENSSL_free(iargv);
            return AF_EXIT_OK;
        }
        if (strcmp(a, "--request") == 0 || strcmp(a, "--response") == 0) {
            mo.response = a[4] == 's';
            have_dir = 1;
            continue;
        }
        if (strcmp(a, "--lenient") == 0) {
            mo.lenient = 1;
            continue;
        }
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            if ((r = opt_val(argc, argv, &i, names[k], &v)) < 0) {
                OPENSSL_free(iargv);
                return af_app_usage("%s needs a value", names[k]);
            }
            if (r == 0)
                continue;
            if (dst[k] != NULL) {
                *dst[k] = v;
            } else if (!parse_int64(v, k == 6 ? &mo.bpid : &mo.now)) {
                OPENSSL_free(iargv);
                return af_app_usage("%s '%s' is not a number", names[k], v);
            }
            break;
        }
        if (k < sizeof(names) / sizeof(names[0]))
            continue;
        iargv[iargc++] = argv[i];
        /* item options other than --item take a value ("--opt VALUE" or "--opt=VALUE") */
        if (strcmp(a, "--item") != 0 && strchr(a, '=') == NULL && i + 1 < argc)
            iargv[iargc++] = argv[++i];
    }
    if (!have_dir) {
        OPENSSL_free(iargv);
        make_help(stderr);
        return af_app_usage("nonce make: say --request or --response");
    }
    if (!parse_format(mo.format, mo.wrap, &f)) {
        OPENSSL_free(iargv);
        return AF_EXIT_USAGE;
    }
    if ((prof = make_profile(mo.profile, mo.oid_req, mo.oid_resp, f)) == NULL) {
        OPENSSL_free(iargv);
        return af_app_fail("nonce make: --profile/--oid");
    }
    if ((codec = af_nonce_codec_new()) == NULL)
        goto fail;
    af_nonce_codec_set_lenient(codec, mo.lenient);
    af_nonce_codec_set_now(codec, mo.now);
    if (!af_nonce_codec_set_body_part_id(codec, mo.bpid))
        goto fail;
    if ((mo.response ? (void *)(resp = af_nonce_resp_new()) : (void *)(req = af_nonce_req_new())) ==
        NULL)
        goto fail;
    i = 0;
    if (iargc > 0 && strcmp(iargv[0], "--item") == 0)
        i++;
    for (;;) {
        if ((rc = make_item(iargc, iargv, &i, &mo, f, req, resp)) != AF_EXIT_OK)
            goto done_quiet;
        if (i >= iargc)
            break;
        i++; /* --item */
    }
    if (!(mo.response ? af_nonce_resp_encode(resp, prof, f, codec, &out, &outlen)
                      : af_nonce_req_encode(req, prof, f, codec, &out, &outlen)))
        goto fail;
    if (!af_app_write(mo.out, out, outlen, 0644))
        goto fail;
    rc = AF_EXIT_OK;
    goto done_quiet;
fail:
    rc = af_app_fail("nonce make: cannot encode the %s", mo.response ? "response" : "request");
done_quiet:
    OPENSSL_free(iargv);
    OPENSSL_free(out);
    af_nonce_req_free(req);
    af_nonce_resp_free(resp);
    af_nonce_codec_free(codec);
    af_nonce_profile_free(prof);
    return rc;
}

/* ---- show ------------------------------------------------------------------------------------ */

static void show_help(FILE *out)
{
    fprintf(out,
            "usage: attfresh nonce show [--request|--response] [OPTIONS] FILE|-\n"
            "\n"
            "Decodes and validates a nonce request (default) or response and prints its fields. "
            "Exit 0 when\n"
            "valid; otherwise 1 with one line naming the reason.\n"
            "\n"
            "options:\n"
            "  --profile P          wire profile: %s\n"
            "  --format F           der (default), json, cbor\n"
            "  --wrap W             with der: itav or cmc (the input is wrapped)\n"
            "  --oid-request OID    --oid-response OID   override the profile's OIDs\n"
            "  --lenient            accept what deployed peers send and list what was tolerated\n"
            "  --json               print the fields as JSON for scripts\n"
            "  --now EPOCH          time base for showing expiry seconds <-> times (default: now)\n"
            "\n"
            "examples:\n"
            "  attfresh nonce make --request --len 32 | attfresh nonce show -\n"
            "  attfresh nonce make --response --nonce 0102030405060708 --format json | \\\n"
            "      attfresh nonce show --response --format json --json -\n"
            "  echo '[{\"len\":8,\"type\":\"1.2.3.4.5\",\"hint\":\"https://example.com\"}]' | \\\n"
            "      attfresh nonce show --profile draft-06 --format json -\n",
            profile_names());
}

static const char *kind_name(int kind)
{
    return kind == AF_NONCE_ANY_DER ? "der" : kind == AF_NONCE_ANY_JSON ? "json" : "cbor";
}

/* JSON rendering of one opaque value: {"der": hex} / {"json": value} / {"cbor": hex} */
static json_t *info_json(int kind, const unsigned char *d, size_t n)
{
    json_t *o = json_object();

    if (kind == AF_NONCE_ANY_JSON) {
        json_object_set_new(o, "json", json_loadb((const char *)d, n, JSON_DECODE_ANY, NULL));
    } else {
        char *h = af_app_hex(d, n);

        json_object_set_new(o, kind_name(kind), json_string(h != NULL ? h : ""));
        OPENSSL_free(h);
    }
    return o;
}

static void put_hex(json_t *o, const char *key, const unsigned char *d, size_t n)
{
    char *h = n > 0 ? af_app_hex(d, n) : NULL;

    json_object_set_new(o, key, json_string(h != NULL ? h : ""));
    OPENSSL_free(h);
}

static json_t *describe(const AF_NONCE_REQ *req, const AF_NONCE_RESP *resp,
                        const AF_NONCE_PROFILE *prof, af_nonce_format f,
                        const AF_NONCE_CODEC *codec)
{
    json_t *root = json_object(), *items = json_array(), *tol = json_array();
    size_t i, n = req != NULL ? af_nonce_req_get_count(req) : af_nonce_resp_get_count(resp);
    unsigned int bits = af_nonce_codec_get_tolerated(codec), b;

    json_object_set_new(root, "message", json_string(req != NULL ? "request" : "response"));
    json_object_set_new(root, "profile", json_string(af_nonce_profile_get0_name(prof)));
    json_object_set_new(
        root, "shape",
        json_string(af_nonce_profile_get_shape(prof) == AF_SHAPE_CURRENT ? "current" : "seed"));
    json_object_set_new(root, "format", json_string(af_nonce_format_name(f)));
    if (f == AF_NONCE_FMT_CMC)
        json_object_set_new(root, "bodyPartID",
                            json_integer((json_int_t)af_nonce_codec_get_body_part_id(codec)));
    for (i = 0; i < n; i++) {
        json_t *o = json_object();
        const unsigned char *d;
        size_t dl;
        int kind;
        const char *type, *hint;

        if (req != NULL) {
            const AF_NONCE_REQ_ITEM *it = af_nonce_req_get0_item(req, i);

            if (af_nonce_req_item_get_len(it) != 0)
                json_object_set_new(o, "len", json_integer(af_nonce_req_item_get_len(it)));
            type = af_nonce_req_item_get0_type(it);
            hint = af_nonce_req_item_get0_hint(it);
            if (type != NULL)
                json_object_set_new(o, "type", json_string(type));
            if (af_nonce_req_item_get0_info(it, &kind, &d, &dl))
                json_object_set_new(o, "info", info_json(kind, d, dl));
            if (hint != NULL)
                json_object_set_new(o, "hint", json_string(hint));
            if (af_nonce_req_item_get0_vendorext(it, &d, &dl))
                put_hex(o, "vendorextension", d, dl);
        } else {
            const AF_NONCE_RESP_ITEM *it = af_nonce_resp_get0_item(resp, i);
            int64_t s;

            af_nonce_resp_item_get0_nonce(it, &d, &dl);
            put_hex(o, "nonce", d, dl);
            json_object_set_new(o, "nonceLength", json_integer((json_int_t)dl));
            if (af_nonce_resp_item_get_expiry_kind(it) == AF_NONCE_EXPIRY_SECONDS &&
                af_nonce_resp_item_get_expiry_seconds(it, codec, &s))
                json_object_set_new(o, "expirySeconds", json_integer((json_int_t)s));
            if (af_nonce_resp_item_get0_expiry_time(it) != NULL) {
                json_object_set_new(o, "expiryTime",
                                    json_string(af_nonce_resp_item_get0_expiry_time(it)));
                if (af_nonce_resp_item_get_expiry_epoch(it, codec, &s))
                    json_object_set_new(o, "expiryEpoch", json_integer((json_int_t)s));
            }
            type = af_nonce_resp_item_get0_type(it);
            hint = af_nonce_resp_item_get0_hint(it);
            if (type != NULL)
                json_object_set_new(o, "type", json_string(type));
            if (af_nonce_resp_item_get0_info(it, &kind, &d, &dl))
                json_object_set_new(o, "info", info_json(kind, d, dl));
            if (hint != NULL)
                json_object_set_new(o, "hint", json_string(hint));
            if (af_nonce_resp_item_get0_vendorext(it, &d, &dl))
                put_hex(o, "vendorextension", d, dl);
        }
        json_array_append_new(items, o);
    }
    json_object_set_new(root, "items", items);
    for (b = 1; b != 0; b <<= 1)
        if ((bits & b) && af_nonce_tolerated_text(b) != NULL)
            json_array_append_new(tol, json_string(af_nonce_tolerated_text(b)));
    json_object_set_new(root, "tolerated", tol);
    return root;
}

/* prints text from the message with control characters replaced: it is untrusted input */
static void print_field(const char *k, const char *v)
{
    printf("  %-16s ", k);
    for (; *v != '\0'; v++)
        putchar((unsigned char)*v < 0x20 || *v == 0x7f ? '?' : *v);
    putchar('\n');
}

static void print_human(const json_t *d)
{
    size_t i;
    json_t *it, *t;
    const char *k;
    json_t *v;

    printf("nonce %s, profile %s (%s shape), %s\n",
           json_string_value(json_object_get(d, "message")),
           json_string_value(json_object_get(d, "profile")),
           json_string_value(json_object_get(d, "shape")),
           json_string_value(json_object_get(d, "format")));
    if ((t = json_object_get(d, "bodyPartID")) != NULL)
        printf("bodyPartID: %lld\n", (long long)json_integer_value(t));
    json_array_foreach(json_object_get(d, "items"), i, it)
    {
        printf("item %zu:\n", i + 1);
        if (json_object_size(it) == 0)
            printf("  (empty)\n");
        json_object_foreach(it, k, v)
        {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

            if (json_is_string(v))
                print_field(k, json_string_value(v));
            else
                print_field(k, s != NULL ? s : "?");
            free(s);
        }
    }
    json_array_foreach(json_object_get(d, "tolerated"), i, t)
        printf("tolerated: %s\n", json_string_value(t));
}

static int cmd_show(int argc, char **argv)
{
    const char *profile = NULL, *format = NULL, *wrap = NULL, *oid_req = NULL, *oid_resp = NULL,
               *file = NULL, *v;
    int i, r, response = 0, lenient = 0, as_json = 0, rc = AF_EXIT_FAIL;
    int64_t now = 0;
    af_nonce_format f;
    AF_NONCE_PROFILE *prof = NULL;
    AF_NONCE_CODEC *codec = NULL;
    AF_NONCE_REQ *req = NULL;
    AF_NONCE_RESP *resp = NULL;
    unsigned char *in = NULL;
    size_t inlen = 0;
    json_t *d = NULL;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *names[] = {"--profile",     "--format",       "--wrap",
                               "--oid-request", "--oid-response", "--now"};
        const char **dst[] = {&profile, &format, &wrap, &oid_req, &oid_resp, NULL};
        size_t k;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            show_help(stdout);
            return AF_EXIT_OK;
        }
        if (strcmp(a, "--request") == 0 || strcmp(a, "--response") == 0) {
            response = a[4] == 's';
            continue;
        }
        if (strcmp(a, "--lenient") == 0 || strcmp(a, "--json") == 0) {
            *(a[2] == 'l' ? &lenient : &as_json) = 1;
            continue;
        }
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            if ((r = opt_val(argc, argv, &i, names[k], &v)) < 0)
                return af_app_usage("%s needs a value", names[k]);
            if (r == 0)
                continue;
            if (dst[k] != NULL)
                *dst[k] = v;
            else if (!parse_int64(v, &now))
                return af_app_usage("--now '%s' is not a number", v);
            break;
        }
        if (k < sizeof(names) / sizeof(names[0]))
            continue;
        if (a[0] == '-' && a[1] != '\0')
            return af_app_usage("nonce show: unknown option '%s' (see --help)", a);
        if (file != NULL)
            return af_app_usage("nonce show: one input file only");
        file = a;
    }
    if (file == NULL) {
        show_help(stderr);
        return af_app_usage("nonce show: name a FILE or - for standard input");
    }
    if (!parse_format(format, wrap, &f))
        return AF_EXIT_USAGE;
    if ((prof = make_profile(profile, oid_req, oid_resp, f)) == NULL)
        return af_app_fail("nonce show: --profile/--oid");
    if ((codec = af_nonce_codec_new()) == NULL || (in = af_app_read(file, &inlen)) == NULL) {
        rc = af_app_fail("nonce show: %s", file);
        goto done;
    }
    af_nonce_codec_set_lenient(codec, lenient);
    af_nonce_codec_set_now(codec, now);
    if (!(response ? af_nonce_resp_decode(&resp, prof, f, codec, in, inlen)
                   : af_nonce_req_decode(&req, prof, f, codec, in, inlen))) {
        rc = af_app_fail("nonce show: %s is not a valid %s nonce %s", file,
                         af_nonce_profile_get0_name(prof), response ? "response" : "request");
        goto done;
    }
    if ((d = describe(req, resp, prof, f, codec)) == NULL) {
        rc = af_app_fail("nonce show");
        goto done;
    }
    if (as_json) {
        char *s = json_dumps(d, JSON_COMPACT);

        printf("%s\n", s != NULL ? s : "{}");
        free(s);
    } else {
        print_human(d);
    }
    rc = AF_EXIT_OK;
done:
    json_decref(d);
    OPENSSL_free(in);
    af_nonce_req_free(req);
    af_nonce_resp_free(resp);
    af_nonce_codec_free(codec);
    af_nonce_profile_free(prof);
    return rc;
}

/* ---- dispatcher ------------------------------------------------------------------------------ */

static void nonce_help(FILE *out)
{
    fprintf(out, "usage: attfresh nonce SUBCOMMAND [OPTIONS]   (SUBCOMMAND --help for details)\n\n"
                 "subcommands:\n"
                 "  make     build and encode a nonce request or response\n"
                 "  show     decode, validate and print a nonce request or response\n");
    if (af_cmd_nonce_get != NULL)
        fprintf(out, "  get      ask an RA/CA for a nonce\n");
}

int af_cmd_nonce(int argc, char **argv)
{
    if (argc < 2) {
        nonce_help(stderr);
        return AF_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        nonce_help(stdout);
        return AF_EXIT_OK;
    }
    if (strcmp(argv[1], "make") == 0)
        return cmd_make(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "get") == 0 && af_cmd_nonce_get != NULL)
        return af_cmd_nonce_get(argc - 1, argv + 1);
    fprintf(stderr, "attfresh: nonce: unknown subcommand '%s'\n", argv[1]);
    nonce_help(stderr);
    return AF_EXIT_USAGE;
}
