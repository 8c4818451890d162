/* cmc_server.c - the CMC nonce responder (nonce-protocol.md 5.3): POST of a Full PKI Request
 * (ContentInfo id-data, PKIData with transactionId, senderNonce and the profile's nonce request
 * control, RFC 5273 media type) -> PKIResponse with transactionId, a fresh senderNonce,
 * recipientNonce = the request's senderNonce, and the nonce response control, or on failure a
 * CMCStatusInfoV2 (failed + failInfo) in its place. The nonce is recorded under the
 * transactionId. Transport problems (method, media type, undecodable body) are HTTP statuses
 * without a body; everything after that is answered in CMC with HTTP 200. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"
#include "attfresh/server.h"
#include "proto/cmc.h"

#define CMC_SENDER_NONCE_BYTES 16
#define CMC_NONCE_CTL_BODY_PART 4 /* after transactionId, senderNonce, recipientNonce */

static int http_error(AF_RA_HTTP_RESP *rs, int status, const char *what)
{
    char why[200] = "";

    if (ERR_peek_error() != 0)
        af_err_line(why, sizeof(why));
    rs->status = status;
    snprintf(rs->log, sizeof(rs->log), "cmc: %s%s%s", what, why[0] != '\0' ? ": " : "", why);
    return 1;
}

/* application/pkcs7-mime, and when smime-type is given it must be CMC-request. */
static int cmc_media_type_ok(const char *ct)
{
    const char *p;
    size_t n = strlen(AF_CMC_MEDIA_TYPE);

    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, AF_CMC_MEDIA_TYPE, n) != 0 ||
        (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' '))
        return 0;
    for (p = ct + n; (p = strchr(p, ';')) != NULL;) {
        p++;
        while (*p == ' ')
            p++;
        if (strncasecmp(p, "smime-type=", 11) == 0) {
            p += 11;
            if (*p == '"')
                p++;
            return strncasecmp(p, "CMC-request", 11) == 0 &&
                   (p[11] == '\0' || p[11] == '"' || p[11] == ';' || p[11] == ' ');
        }
    }
    return 1;
}

/* Fills the failure part of out (status failed, failInfo, text) from the error queue. */
static void set_failure(AF_CMC_MSG *out, long fail_info, const char *what, char *log,
                        size_t logsize)
{
    char why[200], name[32];

    af_err_line(why, sizeof(why));
    out->status = AF_CMC_STATUS_FAILED;
    out->fail_info = fail_info;
    OPENSSL_free(out->status_string);
    out->status_string = OPENSSL_strdup(what);
    snprintf(log, logsize, "cmc: failed %s: %s: %s",
             af_cmc_fail_info_name(fail_info, name, sizeof(name)), what, why);
}

int af_ra_cmc_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs)
{
    const AF_NONCE_PROFILE *prof;
    AF_CMC_MSG in, out;
    AF_NONCE_CODEC *codec = NULL;
    AF_NONCE_REQ *req = NULL;
    AF_NONCE_RESP *resp = NULL;
    AF_NONCE_RESULT r;
    unsigned char sn[CMC_SENDER_NONCE_BYTES];
    const unsigned char *requester = rq->requester;
    size_t requester_len = rq->requester_len;
    unsigned long e;
    int ok = 0;

    if (ra == NULL || rq == NULL || rs == NULL)
        return 0;
    memset(rs, 0, sizeof(*rs));
    af_cmc_msg_init(&in);
    af_cmc_msg_init(&out);
    ERR_clear_error();
    if ((prof = af_ra_get0_profile(ra, rq->profile)) == NULL)
        return http_error(rs, 404, "unknown profile");
    if (rq->method == NULL || strcmp(rq->method, "POST") != 0) {
        snprintf(rs->allow, sizeof(rs->allow), "POST");
        return http_error(rs, 405, "method not allowed");
    }
    if (!cmc_media_type_ok(rq->content_type)) {
        AF_ERR(AF_R_PROTO_MEDIA_TYPE, "Content-Type '%.60s', want %s",
               rq->content_type != NULL ? rq->content_type : "(none)", AF_CMC_REQUEST_CT);
        return http_error(rs, 415, "unsupported media type");
    }
    /* enroll: a Full PKI Request with a certification request is an enrollment (cmc_enroll.c) */
    if (af_ra_cmc_is_enroll(rq->body, rq->body_len))
        return af_ra_cmc_enroll_handle(ra, rq, rs);
    if (!af_cmc_msg_decode(&in, 0, af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMC_REQUEST),
                           rq->body, rq->body_len))
        return http_error(rs, 400, "bad request");

    /* From here on the answer is a PKIResponse. */
    if (!af_ra_random(ra, sn, sizeof(sn)) ||
        !af_cmc_msg_set1(&out.sender_nonce, &out.sender_nonce_len, sn, sizeof(sn)) ||
        (in.txid != NULL && !af_cmc_msg_set1(&out.txid, &out.txid_len, in.txid, in.txid_len)) ||
        (in.sender_nonce != NULL && !af_cmc_msg_set1(&out.recip_nonce, &out.recip_nonce_len,
                                                     in.sender_nonce, in.sender_nonce_len)))
        goto done;
    if ((codec = af_nonce_codec_new()) == NULL)
        goto done;
    af_nonce_codec_set_lenient(codec, af_ra_get_lenient(ra));
    if (in.txid == NULL) {
        AF_ERR(AF_R_PROTO_BINDING, "the request has no transactionId control");
        set_failure(&out, AF_CMC_FAIL_BAD_REQUEST, "no transactionId control", rs->log,
                    sizeof(rs->log));
    } else if (in.nonce_ctl == NULL) {
        AF_ERR(AF_R_NONCE_MISSING, "no %s control",
               af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMC_REQUEST));
        set_failure(&out, AF_CMC_FAIL_BAD_REQUEST, "no nonce request control", rs->log,
                    sizeof(rs->log));
    } else if (!af_nonce_req_decode(&req, prof, AF_NONCE_FMT_CMC, codec, in.nonce_ctl,
                                    in.nonce_ctl_len)) {
        out.status_body_part = af_nonce_codec_get_body_part_id(codec);
        set_failure(&out, AF_CMC_FAIL_BAD_REQUEST, "malformed nonce request", rs->log,
                    sizeof(rs->log));
    } else {
        long req_part = (long)af_nonce_codec_get_body_part_id(codec);

        if (requester == NULL || requester_len == 0) {
            requester = (const unsigned char *)"-";
            requester_len = 1;
        }
        r = af_ra_issue_ex(ra, prof, rq->label, req, in.txid, in.txid_len, requester, requester_len,
                           &resp);
        if (r == AF_NONCE_OK) {
            af_nonce_codec_set_body_part_id(codec, CMC_NONCE_CTL_BODY_PART);
            if (!af_nonce_resp_encode(resp, prof, AF_NONCE_FMT_CMC, codec, &out.nonce_ctl,
                                      &out.nonce_ctl_len))
                goto done;
            snprintf(rs->log, sizeof(rs->log), "cmc %s: %zu nonce response item(s)",
                     af_nonce_profile_get0_name(prof), af_nonce_resp_get_count(resp));
        } else {
            e = ERR_peek_last_error();
            out.status_body_part = req_part;
            if (r == AF_NONCE_ERROR && ERR_GET_LIB(e) == af_err_lib() &&
                ERR_GET_REASON(e) == AF_R_NONCE_BAD_LEN)
                set_failure(&out, AF_CMC_FAIL_BAD_REQUEST, "nonce length out of range", rs->log,
                            sizeof(rs->log));
            else if (r == AF_NONCE_FULL ||
                     (ERR_GET_LIB(e) == af_err_lib() && ERR_GET_REASON(e) == AF_R_RA_RATE_LIMIT))
                set_failure(&out, AF_CMC_FAIL_TRY_LATER, "no nonce available now", rs->log,
                            sizeof(rs->log));
            else if (r == AF_NONCE_REUSED)
                set_failure(&out, AF_CMC_FAIL_INTERNAL_CA_ERROR, "nonce generation failed", rs->log,
                            sizeof(rs->log));
            else
                set_failure(&out, AF_CMC_FAIL_INTERNAL_CA_ERROR, "cannot issue a nonce", rs->log,
                            sizeof(rs->log));
        }
    }
    if (!af_cmc_msg_encode(&out, 1, &rs->body, &rs->body_len))
        goto done;
    rs->status = 200;
    snprintf(rs->content_type, sizeof(rs->content_type), "%s", AF_CMC_RESPONSE_CT);
    ok = 1;
done:
    OPENSSL_cleanse(sn, sizeof(sn));
    af_cmc_msg_cleanup(&in);
    af_cmc_msg_cleanup(&out);
    af_nonce_req_free(req);
    af_nonce_resp_free(resp);
    af_nonce_codec_free(codec);
    if (!ok) {
        OPENSSL_free(rs->body);
        rs->body = NULL;
        rs->body_len = 0;
        rs->content_type[0] = '\0';
        http_error(rs, 500, "internal error");
        return 0;
    }
    return 1;
}
