/* cmd_nonce_get.c - `attfresh nonce get`: asks an RA/CA for a nonce over CMP, EST or CMC
 * (attfresh/proto.h), prints the nonce and its expiry, and writes the transaction state file the
 * enrollment continues from. MAC secrets come from a file or an environment variable only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "apps.h"
#include "attfresh/err.h"
#include "attfresh/nonce.h"
#include "attfresh/proto.h"

int af_cmd_nonce_get(int argc, char **argv);

static void help(FILE *out)
{
    fputs(
        "usage: attfresh nonce get (--cmp URL | --est URL | --cmc URL) [options]\n"
        "\n"
        "Asks an RA/CA for an attestation-freshness nonce and prints it (hex) with its expiry.\n"
        "\n"
        "  --cmp URL            CMP genm/genp over HTTP, e.g.\n"
        "                       http://127.0.0.1:8080/.well-known/cmp/getnonce\n"
        "  --est URL            EST over HTTPS, e.g. https://127.0.0.1:8443 (…/.well-known/est\n"
        "                       [/<label>]/nonce is completed)\n"
        "  --cmc URL            CMC Full PKI Request over HTTP, e.g. http://127.0.0.1:8080/cmc\n"
        "  --profile P          wire profile: draft-08 (default), rat-e2e, draft-06, siemens-ra;\n"
        "                       without it, a profile named in the URL path (p/<name>, EST\n"
        "                       <label>) is used\n"
        "  --len N              wanted nonce length in bytes (8..64)\n"
        "  --type OID           request type (reqTypeInfo.type / seed type)\n"
        "  --info FILE          reqInfo: one DER element (CMP, CMC) or JSON value (EST)\n"
        "  --info-kind K        der, json or cbor: the encoding of --info when it differs\n"
        "  --hint TEXT          Verifier hint (seed profiles)\n"
        "  --request-file FILE  send this already encoded NonceRequest (DER for CMP, JSON for\n"
        "                       EST) as it is, instead of building one (interop tests)\n"
        "  --secret-file F      CMP MAC (PBM) secret: the first line of F\n"
        "  --secret-env VAR     CMP MAC (PBM) secret: the value of environment variable VAR\n"
        "  --ref NAME           CMP MAC reference (senderKID)\n"
        "  --key URI            CMP signing key / EST TLS client key: file or pkcs11: URI\n"
        "  --cert FILE          its certificate (PEM; further certs in the file are sent along)\n"
        "  --trusted FILE       CMP: trusted certificates for a signature-protected genp\n"
        "  --cafile FILE        EST: CA certificates for the TLS server\n"
        "  --timeout S          whole exchange timeout in seconds (default 30)\n"
        "  --state FILE         write the transaction state (JSON, mode 0600) for the enrollment\n"
        "  --json               print one JSON object instead of text\n"
        "\n"
        "examples:\n"
        "  attfresh nonce get --cmp http://127.0.0.1:8080/.well-known/cmp/getnonce \\\n"
        "      --secret-file mac.txt --ref station1 --len 32 --state tx.json\n"
        "  attfresh nonce get --est https://127.0.0.1:8443 --cafile ca.pem --state tx.json\n",
        out);
}

typedef struct {
    const char *url, *profile, *len, *type, *info, *info_kind, *hint, *request_file;
    const char *secret_file, *secret_env, *ref, *key, *cert, *trusted, *cafile, *timeout;
    const char *state;
    af_proto proto;
    int json;
} get_opts;

static int parse(int argc, char **argv, get_opts *g)
{
    int i;

    memset(g, 0, sizeof(*g));
    for (i = 1; i < argc; i++) {
        static const char *const names[] = {
            "--cmp",         "--est",        "--cmc",       "--profile", "--len",
            "--type",        "--info",       "--info-kind", "--hint",    "--request-file",
            "--secret-file", "--secret-env", "--ref",       "--key",     "--cert",
            "--trusted",     "--cafile",     "--timeout",   "--state"};
        const char **dst[] = {&g->url,    &g->url,          &g->url,         &g->profile,
                              &g->len,    &g->type,         &g->info,        &g->info_kind,
                              &g->hint,   &g->request_file, &g->secret_file, &g->secret_env,
                              &g->ref,    &g->key,          &g->cert,        &g->trusted,
                              &g->cafile, &g->timeout,      &g->state};
        const char *a = argv[i];
        size_t k, n;

        if (strcmp(a, "--json") == 0) {
            g->json = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help(stdout);
            return -1;
        }
        if (strcmp(a, "--secret") == 0 || strncmp(a, "--secret=", 9) == 0)
            return af_app_usage("nonce get: secrets never go on the command line; use "
                                "--secret-file or --secret-env");
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            n = strlen(names[k]);
            if (strncmp(a, names[k], n) == 0 && (a[n] == '\0' || a[n] == '='))
                break;
        }
        if (k == sizeof(names) / sizeof(names[0]))
            return af_app_usage("nonce get: unknown option '%s' (see --help)", a);
        if (a[n] == '=') {
            *dst[k] = a + n + 1;
        } else {
            if (i + 1 >= argc)
                return af_app_usage("nonce get: %s needs a value", names[k]);
            *dst[k] = argv[++i];
        }
        if (k <= 2) {
            if (g->proto != AF_PROTO_NONE)
                return af_app_usage("nonce get: give one of --cmp, --est, --cmc");
            g->proto = k == 0 ? AF_PROTO_CMP : k == 1 ? AF_PROTO_EST : AF_PROTO_CMC;
        }
    }
    if (g->proto == AF_PROTO_NONE)
        return af_app_usage("nonce get: give one of --cmp URL, --est URL, --cmc URL");
    if (g->secret_file != NULL && g->secret_env != NULL)
        return af_app_usage("nonce get: --secret-file or --secret-env, not both");
    if ((g->key == NULL) != (g->cert == NULL))
        return af_app_usage("nonce get: --key and --cert go together");
    if (g->request_file != NULL && (g->len || g->type || g->info || g->hint))
        return af_app_usage("nonce get: --request-file replaces --len, --type, --info, --hint");
    return AF_EXIT_OK;
}

static int build_request(const get_opts *g, AF_PROTO_OPTS *o)
{
    AF_NONCE_REQ *req;
    AF_NONCE_REQ_ITEM *it;
    unsigned char *info = NULL;
    size_t ilen = 0;
    int ok = 0, kind;

    if (g->request_file != NULL) {
        unsigned char *raw = af_app_read(g->request_file, &ilen);

        if (raw == NULL)
            return af_app_fail("nonce get: --request-file");
        ok = af_proto_opts_set1_request_encoded(o, raw, ilen);
        OPENSSL_free(raw);
        return ok ? AF_EXIT_OK : af_app_fail("nonce get: --request-file %s", g->request_file);
    }
    if (g->len == NULL && g->type == NULL && g->info == NULL && g->hint == NULL)
        return AF_EXIT_OK; /* the empty request */
    if ((req = af_nonce_req_new()) == NULL || (it = af_nonce_req_add0_item(req)) == NULL) {
        af_nonce_req_free(req);
        return af_app_fail("nonce get");
    }
    if (g->len != NULL) {
        char *end;
        long n = strtol(g->len, &end, 10);

        if (*g->len == '\0' || *end != '\0' || n < 0 || n > 100000) {
            af_nonce_req_free(req);
            return af_app_usage("nonce get: --len '%s' is not a number", g->len);
        }
        if (!af_nonce_req_item_set_len(it, (int)n))
            goto fail;
    }
    if (g->type != NULL && !af_nonce_req_item_set1_type(it, g->type))
        goto fail;
    if (g->hint != NULL && !af_nonce_req_item_set1_hint(it, g->hint))
        goto fail;
    if (g->info != NULL) {
        const char *k = g->info_kind != NULL       ? g->info_kind
                        : g->proto == AF_PROTO_EST ? "json"
                                                   : "der";

        kind = strcmp(k, "der") == 0    ? AF_NONCE_ANY_DER
               : strcmp(k, "json") == 0 ? AF_NONCE_ANY_JSON
               : strcmp(k, "cbor") == 0 ? AF_NONCE_ANY_CBOR
                                        : 0;
        if (kind == 0) {
            af_nonce_req_free(req);
            return af_app_usage("nonce get: unknown --info-kind '%s' (der, json, cbor)", k);
        }
        if ((info = af_app_read(g->info, &ilen)) == NULL ||
            !af_nonce_req_item_set1_info(it, kind, info, ilen))
            goto fail;
    }
    ok = af_proto_opts_set1_request(o, req);
fail:
    OPENSSL_free(info);
    af_nonce_req_free(req);
    return ok ? AF_EXIT_OK : af_app_fail("nonce get: request");
}

/* The profile a URL names, as the RA routes it: CMP/CMC ".../p/<profile>/...", EST
 * ".../.well-known/est/<label>/..." with a label that is a profile name. NULL when none. */
static const char *profile_of_url(const char *url, char *buf, size_t n)
{
    const char *p = strstr(url, "/p/"), *e;

    if (p != NULL)
        p += 3;
    else if ((p = strstr(url, "/.well-known/est/")) != NULL)
        p += 17;
    else
        return NULL;
    e = strchr(p, '/');
    if (e == NULL)
        e = p + strlen(p);
    if ((size_t)(e - p) >= n)
        return NULL;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return af_profile_def(buf) != NULL ? buf : NULL;
}

static int set_options(const get_opts *g, AF_PROTO_OPTS *o)
{
    char pbuf[64];
    const char *prof = g->profile != NULL ? g->profile : profile_of_url(g->url, pbuf, sizeof(pbuf));
    int r;

    if (!af_proto_opts_set_protocol(o, g->proto) || !af_proto_opts_set1_url(o, g->url))
        return af_app_fail("nonce get");
    if (prof != NULL && !af_proto_opts_set_profile_name(o, prof))
        return af_app_fail("nonce get: --profile");
    if ((r = build_request(g, o)) != AF_EXIT_OK)
        return r;
    if (g->secret_file != NULL && !af_proto_opts_load_secret_file(o, g->secret_file))
        return af_app_fail("nonce get: --secret-file");
    if (g->secret_env != NULL && !af_proto_opts_load_secret_env(o, g->secret_env))
        return af_app_fail("nonce get: --secret-env");
    if (g->ref != NULL && !af_proto_opts_set1_ref(o, g->ref))
        return af_app_fail("nonce get: --ref");
    if (g->key != NULL && !af_proto_opts_load_key(o, g->key))
        return af_app_fail("nonce get: --key");
    if (g->cert != NULL && !af_proto_opts_load_cert(o, g->cert))
        return af_app_fail("nonce get: --cert");
    if (g->trusted != NULL && !af_proto_opts_load_trusted(o, g->trusted))
        return af_app_fail("nonce get: --trusted");
    if (g->cafile != NULL && !af_proto_opts_set1_cafile(o, g->cafile))
        return af_app_fail("nonce get: --cafile");
    if (g->timeout != NULL) {
        char *end;
        long t = strtol(g->timeout, &end, 10);

        if (*g->timeout == '\0' || *end != '\0' || t < 1 || t > 3600)
            return af_app_usage("nonce get: --timeout must be 1..3600 seconds");
        if (!af_proto_opts_set_timeouts(o,
                                        (int)t < AF_PROTO_DEFAULT_CONNECT_TIMEOUT
                                            ? (int)t
                                            : AF_PROTO_DEFAULT_CONNECT_TIMEOUT,
                                        (int)t))
            return af_app_fail("nonce get: --timeout");
    }
    return AF_EXIT_OK;
}

static void utc_text(int64_t epoch, char *buf, size_t n)
{
    time_t t = (time_t)epoch;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "?");
}

static int print_result(const get_opts *g, const AF_NONCE_RESP *resp, const AF_PROTO_STATE *st)
{
    size_t i, n = af_nonce_resp_get_count(resp), len;
    int64_t created = af_proto_state_get_created(st);
    json_t *root = NULL, *arr = NULL;
    AF_NONCE_CODEC *codec = af_nonce_codec_new();
    int ok = 0;

    if (codec == NULL)
        return af_app_fail("nonce get");
    af_nonce_codec_set_now(codec, created);
    if (g->json && ((root = json_object()) == NULL || (arr = json_array()) == NULL))
        goto end;
    for (i = 0; i < n; i++) {
        const AF_NONCE_RESP_ITEM *it = af_nonce_resp_get0_item(resp, i);
        const unsigned char *nonce;
        char *hex, when[32];
        int64_t secs = -1, epoch = 0;

        af_nonce_resp_item_get0_nonce(it, &nonce, &len);
        if ((hex = af_app_hex(nonce, len)) == NULL)
            goto end;
        if (af_nonce_resp_item_get_expiry_kind(it) != AF_NONCE_EXPIRY_NONE) {
            (void)af_nonce_resp_item_get_expiry_seconds(it, codec, &secs);
            (void)af_nonce_resp_item_get_expiry_epoch(it, codec, &epoch);
        }
        if (g->json) {
            json_t *o = json_object();

            json_object_set_new(o, "nonce", json_string(hex));
            json_object_set_new(o, "length", json_integer((json_int_t)len));
            if (secs >= 0) {
                json_object_set_new(o, "expiry", json_integer((json_int_t)secs));
                json_object_set_new(o, "expiresAt", json_integer((json_int_t)epoch));
            }
            if (af_nonce_resp_item_get0_type(it) != NULL)
                json_object_set_new(o, "type", json_string(af_nonce_resp_item_get0_type(it)));
            json_array_append_new(arr, o);
        } else {
            printf("nonce: %s\n", len == 0 ? "(empty: no freshness proof needed)" : hex);
            if (secs >= 0) {
                utc_text(epoch, when, sizeof(when));
                printf("expiry: %lld s (until %s)\n", (long long)secs, when);
            } else {
                printf("expiry: none given\n");
            }
        }
        OPENSSL_free(hex);
    }
    if (g->json) {
        const unsigned char *tid;
        size_t tlen;
        char *s;

        json_object_set_new(root, "protocol", json_string(af_proto_name(g->proto)));
        json_object_set_new(root, "url", json_string(af_proto_state_get0_url(st)));
        json_object_set_new(root, "profile", json_string(af_proto_state_get0_profile(st)));
        json_object_set_new(root, "nonces", arr);
        arr = NULL;
        tid = af_proto_state_get0_transaction_id(st, &tlen);
        if (tid != NULL) {
            char *h = af_app_hex(tid, tlen);

            json_object_set_new(root, "transactionID", json_string(h != NULL ? h : ""));
            OPENSSL_free(h);
        }
        if (af_proto_state_get0_cookie(st) != NULL)
            json_object_set_new(root, "cookie", json_true()); /* kept in the state file only */
        if (g->state != NULL)
            json_object_set_new(root, "state", json_string(g->state));
        if ((s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
            goto end;
        printf("%s\n", s);
        free(s);
    }
    ok = 1;
end:
    json_decref(arr);
    json_decref(root);
    af_nonce_codec_free(codec);
    return ok ? AF_EXIT_OK : af_app_fail("nonce get: printing the result");
}

int af_cmd_nonce_get(int argc, char **argv)
{
    get_opts g;
    AF_PROTO_OPTS *o = NULL;
    AF_NONCE_RESP *resp = NULL;
    AF_PROTO_STATE *st = NULL;
    int r;

    if ((r = parse(argc, argv, &g)) != AF_EXIT_OK)
        return r < 0 ? AF_EXIT_OK : r;
    if ((o = af_proto_opts_new()) == NULL)
        return af_app_fail("nonce get");
    if ((r = set_options(&g, o)) != AF_EXIT_OK)
        goto end;
    if (!af_proto_get_nonce(o, &resp, &st)) {
        r = af_app_fail("nonce get: %s", af_proto_name(g.proto));
        goto end;
    }
    if (g.state != NULL && !af_proto_state_save(st, g.state)) {
        r = af_app_fail("nonce get: --state %s", g.state);
        goto end;
    }
    r = print_result(&g, resp, st);
end:
    af_nonce_resp_free(resp);
    af_proto_state_free(st);
    af_proto_opts_free(o);
    return r;
}
