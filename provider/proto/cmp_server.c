/* cmp_server.c - the RA's CMP nonce responder (nonce-protocol.md 5.1, RFC 9810 genm/genp over
 * RFC 9811 HTTP): OpenSSL's OSSL_CMP_SRV_CTX checks the request (protection, header) and answers a
 * genm carrying the profile's nonce request ITAV with a genp carrying the nonce response, issued by
 * af_ra_issue_ex bound to the genm's transactionID. An absent infoValue is the empty request (what
 * stock `openssl cmp -cmd genm -infotype nonceRequest` sends). Errors are CMP error bodies with
 * PKIStatusInfo rejection and the failInfo the failure deserves (OpenSSL's server always says
 * badRequest, so the body is rewritten and the message protected again). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/cmp.h>
#include <openssl/cmperr.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "attfresh/err.h"
#include "attfresh/server.h"
#include "proto_local.h"

#define CMP_MEDIA_TYPE "application/pkixcmp"
/* PKIBody choice numbers (RFC 9810 5.1.2); OpenSSL 3.0 keeps its names private */
#define PKIBODY_ERROR 23
/* senderKID of PBM-protected answers */
#define RA_REFERENCE "attfresh-ra"

/* What one request needs inside the genm callback, and what it reports back. */
typedef struct {
    AF_RA *ra;
    const AF_RA_HTTP_REQ *rq;
    const AF_NONCE_PROFILE *prof;
    int fail_bit; /* OSSL_CMP_PKIFAILUREINFO_* to answer, -1 = none chosen */
    char why[200];
    char first_error[160]; /* first error OpenSSL's server logged */
    size_t issued; /* nonce length of the first item, for the log */
} cmp_call;

/* The call being served on this thread: OpenSSL's server prints (and so clears) the errors it met
 * through the log callback, which has no argument, so the first one is caught here. */
static _Thread_local cmp_call *current_call;

static int log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level,
                  const char *msg)
{
    cmp_call *c = current_call;

    if (c != NULL && level <= OSSL_CMP_LOG_ERR && c->first_error[0] == '\0')
        snprintf(c->first_error, sizeof(c->first_error), "%s", msg);
    return 1; /* the request log line says what happened; OpenSSL's own lines would go to stdout */
}

/* Text of the newest error ("reason (detail)") without clearing the queue, so the caller's
 * ERR mark still holds. */
static void last_error_text(char *buf, size_t n)
{
    const char *data = NULL, *reason;
    int flags = 0;
    unsigned long e = ERR_peek_last_error_data(&data, &flags);

    reason = e == 0 ? NULL : ERR_reason_error_string(e);
    if ((flags & ERR_TXT_STRING) == 0 || data == NULL)
        data = "";
    snprintf(buf, n, "%s%s%s%s", reason != NULL ? reason : "unknown error",
             *data != '\0' ? " (" : "", data, *data != '\0' ? ")" : "");
}

static void call_fail(cmp_call *c, int fail_bit, const char *what)
{
    char reason[128];

    c->fail_bit = fail_bit;
    last_error_text(reason, sizeof(reason));
    snprintf(c->why, sizeof(c->why), "%s: %s", what, reason);
}

static const char *fail_name(int bit)
{
    switch (bit) {
    case OSSL_CMP_PKIFAILUREINFO_badRequest:
        return "badRequest";
    case OSSL_CMP_PKIFAILUREINFO_badDataFormat:
        return "badDataFormat";
    case OSSL_CMP_PKIFAILUREINFO_systemUnavail:
        return "systemUnavail";
    case OSSL_CMP_PKIFAILUREINFO_badMessageCheck:
        return "badMessageCheck";
    case OSSL_CMP_PKIFAILUREINFO_systemFailure:
        return "systemFailure";
    default:
        return "rejected";
    }
}

/* failInfo for a nonce codec or RA failure, from the reason on the error queue. */
static int fail_bit_for(unsigned long e)
{
    if (ERR_GET_LIB(e) != af_err_lib())
        return OSSL_CMP_PKIFAILUREINFO_systemFailure;
    switch (ERR_GET_REASON(e)) {
    case AF_R_NONCE_BAD_LEN:
    case AF_R_NONCE_MISSING:
    case AF_R_NONCE_SHAPE:
    case AF_R_NONCE_UNKNOWN:
    case AF_R_BAD_OID:
        return OSSL_CMP_PKIFAILUREINFO_badRequest;
    case AF_R_RA_FULL:
    case AF_R_RA_RATE_LIMIT:
    case AF_R_RA_STORE:
        return OSSL_CMP_PKIFAILUREINFO_systemUnavail;
    case AF_R_INTERNAL:
    case AF_R_MALLOC:
    case AF_R_CRYPTO:
        return OSSL_CMP_PKIFAILUREINFO_systemFailure;
    default:
        /* the remaining AF_R_NONCE_* are encoding faults */
        return OSSL_CMP_PKIFAILUREINFO_badDataFormat;
    }
}

static AF_NONCE_REQ *empty_request(void)
{
    AF_NONCE_REQ *r = af_nonce_req_new();

    if (r != NULL && af_nonce_req_add0_item(r) == NULL) {
        af_nonce_req_free(r);
        r = NULL;
    }
    return r;
}

static int genm_cb(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *genm,
                   const STACK_OF(OSSL_CMP_ITAV) *in, STACK_OF(OSSL_CMP_ITAV) **out)
{
    cmp_call *c = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv_ctx);
    const char *want = af_nonce_profile_get0_oid(c->prof, AF_NONCE_OID_CMP_REQUEST);
    ASN1_OBJECT *want_obj = OBJ_txt2obj(want, 1);
    const OSSL_CMP_ITAV *itav = NULL;
    const ASN1_OCTET_STRING *tid;
    AF_NONCE_CODEC *codec = NULL;
    AF_NONCE_REQ *req = NULL;
    AF_NONCE_RESP *resp = NULL;
    OSSL_CMP_ITAV *ritav = NULL;
    AF_NONCE_RESULT r;
    int i, ok = 0;

    *out = NULL;
    for (i = 0; want_obj != NULL && i < sk_OSSL_CMP_ITAV_num(in); i++)
        if (OBJ_cmp(OSSL_CMP_ITAV_get0_type(sk_OSSL_CMP_ITAV_value(in, i)), want_obj) == 0) {
            if (itav != NULL) {
                AF_ERR(AF_R_NONCE_SHAPE, "more than one %s ITAV", want);
                call_fail(c, OSSL_CMP_PKIFAILUREINFO_badRequest, "genm");
                goto end;
            }
            itav = sk_OSSL_CMP_ITAV_value(in, i);
        }
    if (itav == NULL) {
        AF_ERR(AF_R_NONCE_MISSING, "genm carries no nonce request (infoType %s, profile %s)",
               want, af_nonce_profile_get0_name(c->prof));
        call_fail(c, OSSL_CMP_PKIFAILUREINFO_badRequest, "genm");
        goto end;
    }
    tid = OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(genm));
    if (tid == NULL || ASN1_STRING_length(tid) <= 0) {
        AF_ERR(AF_R_PROTO_BINDING, "genm without transactionID");
        call_fail(c, OSSL_CMP_PKIFAILUREINFO_badRequest, "genm");
        goto end;
    }
    if (OSSL_CMP_ITAV_get0_value(itav) == NULL) {
        /* nonce-protocol.md 5.1: stock `openssl cmp -infotype` sends no value: empty request */
        req = empty_request();
    } else {
        if ((codec = af_nonce_codec_new()) == NULL)
            goto fail;
        af_nonce_codec_set_lenient(codec, af_ra_get_lenient(c->ra));
        if (!af_nonce_req_from_itav(&req, c->prof, codec, itav)) {
            call_fail(c, fail_bit_for(ERR_peek_last_error()), "nonce request");
            goto end;
        }
    }
    if (req == NULL)
        goto fail;
    r = af_ra_issue_ex(c->ra, c->prof, c->rq->label, req, ASN1_STRING_get0_data(tid),
                       (size_t)ASN1_STRING_length(tid), c->rq->requester, c->rq->requester_len,
                       &resp);
    if (r != AF_NONCE_OK) {
        call_fail(c, r == AF_NONCE_FULL ? OSSL_CMP_PKIFAILUREINFO_systemUnavail
                                        : fail_bit_for(ERR_peek_last_error()),
                  "no nonce issued");
        goto end;
    }
    if ((ritav = af_nonce_resp_to_itav(resp, c->prof, NULL)) == NULL
        || (*out = sk_OSSL_CMP_ITAV_new_null()) == NULL || !sk_OSSL_CMP_ITAV_push(*out, ritav))
        goto fail;
    ritav = NULL;
    {
        const unsigned char *n;

        af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &n, &c->issued);
    }
    ok = 1;
    goto end;
fail:
    call_fail(c, OSSL_CMP_PKIFAILUREINFO_systemFailure, "genp");
end:
    if (!ok) {
        sk_OSSL_CMP_ITAV_free(*out);
        *out = NULL;
        /* OpenSSL's server wants a reason on the queue to build its error body */
        ERR_raise_data(ERR_LIB_CMP, CMP_R_ERROR_PROCESSING_MESSAGE, "%s", c->why);
    }
    OSSL_CMP_ITAV_free(ritav);
    af_nonce_resp_free(resp);
    af_nonce_req_free(req);
    af_nonce_codec_free(codec);
    ASN1_OBJECT_free(want_obj);
    return ok;
}

/* failInfo for a failure OpenSSL's server found before our callback ran, from the first error it
 * logged ("<reason>[:<detail>]"). */
static void fail_for_cmp(cmp_call *c)
{
    static const int protection[] = {CMP_R_WRONG_PBM_VALUE, CMP_R_MISSING_PROTECTION,
                                     CMP_R_ERROR_VALIDATING_PROTECTION,
                                     CMP_R_ERROR_VALIDATING_SIGNATURE,
                                     CMP_R_NO_SUITABLE_SENDER_CERT, CMP_R_MISSING_TRUST_STORE,
                                     CMP_R_WRONG_ALGORITHM_OID,
                                     CMP_R_MISSING_KEY_USAGE_DIGITALSIGNATURE};
    size_t i;

    c->fail_bit = OSSL_CMP_PKIFAILUREINFO_badRequest;
    for (i = 0; i < sizeof(protection) / sizeof(protection[0]); i++) {
        const char *r = ERR_reason_error_string(ERR_PACK(ERR_LIB_CMP, 0, protection[i]));

        if (r != NULL && strncmp(c->first_error, r, strlen(r)) == 0) {
            c->fail_bit = OSSL_CMP_PKIFAILUREINFO_badMessageCheck;
            break;
        }
    }
    snprintf(c->why, sizeof(c->why), "request refused: %s",
             c->first_error[0] != '\0' ? c->first_error : "no reason given");
}

static void answer_http(AF_RA_HTTP_RESP *rs, int status, const char *fmt, const char *detail)
{
    rs->status = status;
    rs->content_type[0] = '\0';
    rs->body = NULL;
    rs->body_len = 0;
    snprintf(rs->log, sizeof(rs->log), fmt, detail);
}

static int media_type_ok(const char *ct)
{
    size_t n = strlen(CMP_MEDIA_TYPE);

    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, CMP_MEDIA_TYPE, n) == 0
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int configure(OSSL_CMP_SRV_CTX *srv, AF_RA *ra, cmp_call *c)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
    const unsigned char *secret;
    size_t slen;
    EVP_PKEY *key = af_ra_get0_cmp_key(ra);
    X509 *cert = af_ra_get0_cmp_cert(ra);
    X509_STORE *trust = af_ra_get0_cmp_trust(ra);

    if (!OSSL_CMP_SRV_CTX_init(srv, c, NULL, NULL, genm_cb, NULL, NULL, NULL)
        || !OSSL_CMP_CTX_set_log_cb(ctx, log_cb))
        return 0;
    secret = af_ra_get0_cmp_secret(ra, &slen);
    /* PBM-protected answers need a sender identity; without a certificate that is the senderKID */
    if (secret != NULL
        && (!OSSL_CMP_CTX_set1_secretValue(ctx, secret, (int)slen)
            || !OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)RA_REFERENCE,
                                                 (int)strlen(RA_REFERENCE))))
        return 0;
    if (key != NULL && cert != NULL
        && (!OSSL_CMP_CTX_set1_cert(ctx, cert) || !OSSL_CMP_CTX_set1_pkey(ctx, key)))
        return 0;
    if (trust != NULL) {
        if (!X509_STORE_up_ref(trust))
            return 0;
        if (!OSSL_CMP_CTX_set0_trustedStore(ctx, trust)) {
            X509_STORE_free(trust);
            return 0;
        }
    }
    /* an RA without any CMP credentials answers unprotected; clients decide whether to accept */
    if (secret == NULL && (key == NULL || cert == NULL)
        && !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1))
        return 0;
    return 1;
}

/* Replaces the error body OpenSSL built with our failInfo and reason, and protects it again. */
static OSSL_CMP_MSG *rewrite_error(OSSL_CMP_SRV_CTX *srv, const OSSL_CMP_MSG *req,
                                   OSSL_CMP_MSG *rsp, cmp_call *c)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
    const ASN1_OCTET_STRING *tid = OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req));
    AF_CMP_MSG_VIEW *v;
    OSSL_CMP_MSG *m = NULL;

    /* without a transactionID to repeat, re-protecting would invent one: keep OpenSSL's body */
    if (tid == NULL)
        return rsp;
    if ((v = af_cmp_view_new(rsp)) == NULL)
        return rsp;
    if (af_cmp_view_set_error_body(v, c->fail_bit, c->why)
        && (m = af_cmp_view_to_msg(v)) != NULL
        && OSSL_CMP_CTX_set1_transactionID(ctx, tid)
        && (v->header->protectionAlg == NULL || OSSL_CMP_MSG_update_transactionID(ctx, m))) {
        OSSL_CMP_MSG_free(rsp);
        rsp = m;
        m = NULL;
    }
    OSSL_CMP_MSG_free(m);
    af_cmp_view_free(v);
    return rsp;
}

int af_ra_cmp_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs)
{
    cmp_call c;
    OSSL_CMP_SRV_CTX *srv = NULL;
    OSSL_CMP_MSG *req = NULL, *rsp = NULL;
    const unsigned char *p;
    unsigned char *der = NULL;
    int len;

    if (ra == NULL || rq == NULL || rs == NULL)
        return 0;
    memset(&c, 0, sizeof(c));
    c.ra = ra;
    c.rq = rq;
    c.fail_bit = -1;
    ERR_set_mark();
    if (rq->method == NULL || strcmp(rq->method, "POST") != 0) {
        answer_http(rs, 405, "cmp: %s instead of POST", rq->method == NULL ? "?" : rq->method);
        goto done;
    }
    if (!media_type_ok(rq->content_type)) {
        answer_http(rs, 415, "cmp: Content-Type %s, want " CMP_MEDIA_TYPE,
                    rq->content_type == NULL ? "(none)" : rq->content_type);
        goto done;
    }
    if ((c.prof = af_ra_get0_profile(ra, rq->profile)) == NULL) {
        answer_http(rs, 404, "cmp: unknown profile %s", rq->profile);
        goto done;
    }
    if (rq->body_len == 0 || rq->body_len > AF_NONCE_MAX_INPUT) {
        answer_http(rs, rq->body_len == 0 ? 400 : 413, "cmp: %s body",
                    rq->body_len == 0 ? "empty" : "oversize");
        goto done;
    }
    p = rq->body;
    req = d2i_OSSL_CMP_MSG(NULL, &p, (long)rq->body_len);
    if (req == NULL || p != rq->body + rq->body_len) {
        answer_http(rs, 400, "cmp: %s", req == NULL ? "body is not a PKIMessage"
                                                    : "bytes after the PKIMessage");
        goto done;
    }
    if ((srv = OSSL_CMP_SRV_CTX_new(af_ra_get0_libctx(ra), NULL)) == NULL
        || !configure(srv, ra, &c)) {
        answer_http(rs, 500, "cmp: %s", "cannot set up the CMP server context");
        goto done;
    }
    current_call = &c;
    rsp = OSSL_CMP_SRV_process_request(srv, req);
    current_call = NULL;
    if (rsp == NULL) {
        char why[160];

        last_error_text(why, sizeof(why));
        answer_http(rs, 400, "cmp: no answer possible: %s",
                    c.first_error[0] != '\0' ? c.first_error : why);
        goto done;
    }
    if (OSSL_CMP_MSG_get_bodytype(rsp) == PKIBODY_ERROR) {
        if (c.fail_bit < 0)
            fail_for_cmp(&c);
        rsp = rewrite_error(srv, req, rsp, &c);
        snprintf(rs->log, sizeof(rs->log), "cmp %s: error %s: %s",
                 af_nonce_profile_get0_name(c.prof), fail_name(c.fail_bit), c.why);
    } else {
        snprintf(rs->log, sizeof(rs->log), "cmp %s: genp, nonce of %zu bytes",
                 af_nonce_profile_get0_name(c.prof), c.issued);
    }
    if ((len = i2d_OSSL_CMP_MSG(rsp, &der)) <= 0) {
        answer_http(rs, 500, "cmp: %s", "cannot encode the response");
        goto done;
    }
    rs->status = 200;
    snprintf(rs->content_type, sizeof(rs->content_type), "%s", CMP_MEDIA_TYPE);
    rs->body = der;
    rs->body_len = (size_t)len;
done:
    /* what went wrong is in the log line; leave the thread's queue as we found it */
    ERR_pop_to_mark();
    OSSL_CMP_MSG_free(req);
    OSSL_CMP_MSG_free(rsp);
    OSSL_CMP_SRV_CTX_free(srv);
    return 1;
}
