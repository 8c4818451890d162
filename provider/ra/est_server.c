/* est_server.c - the EST nonce responder (nonce-protocol.md 5.2): GET or POST
 * /.well-known/est[/<label>]/nonce with the profile's JSON media type; 200 with the JSON response
 * (also for the empty nonce) and an HttpOnly, Secure binding cookie; 400 without a body for a
 * bad request; 503 (with Retry-After) when the RA cannot or will not give a nonce. The cookie
 * value is the store binding: over TLS with a channel binding it is the connection's binding
 * value (the server derives it from the tls-exporter), so /simpleenroll on the same connection
 * is bound even without the cookie; otherwise (plain HTTP, TLS 1.2 without EMS) it is random. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "attfresh/err.h"
#include "attfresh/server.h"

#define EST_COOKIE_BYTES AF_RA_EST_BINDING_BYTES
#define EST_RETRY_AFTER_S 1

/* type/subtype of a Content-Type equal (case-insensitive) to want; parameters are ignored. */
static int media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    if (ct == NULL)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static void set_log(AF_RA_HTTP_RESP *rs, const char *fmt, const char *a, const char *b)
{
    snprintf(rs->log, sizeof(rs->log), fmt, a, b);
}

/* Status without a body; the reason (from the error queue, or given) goes to the log only. */
static int answer_error(AF_RA_HTTP_RESP *rs, int status, const char *what)
{
    char why[200];

    af_err_line(why, sizeof(why));
    rs->status = status;
    rs->content_type[0] = '\0';
    set_log(rs, "est: %s: %s", what, why);
    return 1;
}

static void hexify(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int count_nonces(const AF_NONCE_RESP *resp)
{
    size_t i, n = af_nonce_resp_get_count(resp);
    int issued = 0;

    for (i = 0; i < n; i++) {
        const unsigned char *nonce;
        size_t len;

        af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, i), &nonce, &len);
        issued += len > 0;
    }
    return issued;
}

int af_ra_est_nonce_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs)
{
    const AF_NONCE_PROFILE *prof;
    AF_NONCE_CODEC *codec = NULL;
    AF_NONCE_REQ *req = NULL;
    AF_NONCE_RESP *resp = NULL;
    AF_NONCE_RESULT r;
    unsigned char cookie_raw[EST_COOKIE_BYTES];
    char cookie[2 * EST_COOKIE_BYTES + 1];
    const unsigned char *requester = rq->requester;
    size_t requester_len = rq->requester_len;
    unsigned long e;
    int ok = 0;

    if (ra == NULL || rq == NULL || rs == NULL)
        return 0;
    memset(rs, 0, sizeof(*rs));
    ERR_clear_error();
    if ((prof = af_ra_get0_profile(ra, rq->profile)) == NULL)
        return answer_error(rs, 404, "unknown profile");
    if (rq->method == NULL || (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0)) {
        snprintf(rs->allow, sizeof(rs->allow), "GET, POST");
        rs->status = 405;
        set_log(rs, "est: method %s not allowed%s", rq->method != NULL ? rq->method : "?", "");
        return 1;
    }
    if ((codec = af_nonce_codec_new()) == NULL)
        goto done;
    af_nonce_codec_set_lenient(codec, af_ra_get_lenient(ra));
    if (strcmp(rq->method, "GET") == 0) {
        /* GET means "no content": the empty request. */
        if (rq->body_len != 0) {
            ok = answer_error(rs, 400, "GET with a body");
            goto done;
        }
        if ((req = af_nonce_req_new()) == NULL || af_nonce_req_add0_item(req) == NULL)
            goto done;
    } else {
        if (!media_type_is(rq->content_type, af_nonce_profile_get0_media_type(prof))) {
            AF_ERR(AF_R_PROTO_MEDIA_TYPE, "Content-Type '%.60s', want %s",
                   rq->content_type != NULL ? rq->content_type : "(none)",
                   af_nonce_profile_get0_media_type(prof));
            ok = answer_error(rs, 400, "bad request");
            goto done;
        }
        if (!af_nonce_req_decode(&req, prof, AF_NONCE_FMT_JSON, codec, rq->body, rq->body_len)) {
            ok = answer_error(rs, 400, "bad request");
            goto done;
        }
    }

    if (rq->tls_binding != NULL && strlen(rq->tls_binding) == 2 * EST_COOKIE_BYTES) {
        /* the connection is the transaction; the cookie still works on other connections */
        memcpy(cookie, rq->tls_binding, sizeof(cookie));
    } else {
        if (!af_ra_random(ra, cookie_raw, sizeof(cookie_raw))) {
            ok = answer_error(rs, 503, "no binding cookie");
            goto done;
        }
        hexify(cookie_raw, sizeof(cookie_raw), cookie);
        OPENSSL_cleanse(cookie_raw, sizeof(cookie_raw));
    }
    if (requester == NULL || requester_len == 0) {
        requester = (const unsigned char *)"-";
        requester_len = 1;
    }
    r = af_ra_issue_ex(ra, prof, rq->label, req, (const unsigned char *)cookie, strlen(cookie),
                       requester, requester_len, &resp);
    if (r != AF_NONCE_OK) {
        e = ERR_peek_last_error();
        if (r == AF_NONCE_ERROR && ERR_GET_LIB(e) == af_err_lib() &&
            ERR_GET_REASON(e) == AF_R_NONCE_BAD_LEN) {
            ok = answer_error(rs, 400, "bad request");
        } else {
            /* Store full, rate limit hit, RNG or store failure: the RA won't give a nonce now. */
            rs->retry_after = EST_RETRY_AFTER_S;
            ok = answer_error(rs, 503, "no nonce");
        }
        goto done;
    }
    if (!af_nonce_resp_encode(resp, prof, AF_NONCE_FMT_JSON, codec, &rs->body, &rs->body_len)) {
        ok = answer_error(rs, 500, "encoding the response");
        goto done;
    }
    rs->status = 200;
    snprintf(rs->content_type, sizeof(rs->content_type), "%s",
             af_nonce_profile_get0_media_type(prof));
    snprintf(rs->set_cookie, sizeof(rs->set_cookie),
             "%s=%s; Path=/.well-known/est; Max-Age=%u; HttpOnly; Secure; SameSite=Strict",
             AF_RA_EST_COOKIE, cookie, (unsigned)af_ra_get_expiry(ra));
    snprintf(rs->log, sizeof(rs->log), "est %s: %d of %zu nonce(s) issued%s%s",
             af_nonce_profile_get0_name(prof), count_nonces(resp), af_nonce_resp_get_count(resp),
             count_nonces(resp) == 0 ? " (empty nonce by policy)" : "",
             rq->tls_binding != NULL ? ", bound to the TLS connection and the cookie"
                                     : ", bound to the cookie");
    ok = 1;
done:
    OPENSSL_cleanse(cookie, sizeof(cookie));
    af_nonce_req_free(req);
    af_nonce_resp_free(resp);
    af_nonce_codec_free(codec);
    if (!ok) {
        OPENSSL_free(rs->body);
        rs->body = NULL;
        rs->body_len = 0;
        answer_error(rs, 500, "internal error");
        return 0;
    }
    return 1;
}
