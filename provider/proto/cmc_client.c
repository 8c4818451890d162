/* cmc_client.c - the station's CMC nonce exchange (nonce-protocol.md 5.3): a Full PKI Request
 * (ContentInfo id-data, PKIData {transactionId, senderNonce, nonce request control}) POSTed with
 * libcurl under the RFC 5273 media type; the PKIResponse must echo the transactionId and carry
 * recipientNonce = our senderNonce, then either the nonce response control or a CMCStatusInfoV2
 * failure, which is reported with its failInfo. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "attfresh/err.h"
#include "attfresh/proto.h"
#include "proto/cmc.h"
#include "proto_local.h"
#include "proto_station.h"

#define CMC_TXID_BYTES 8
#define CMC_SENDER_NONCE_BYTES 16
#define CMC_REQ_BODY_PART 3 /* after transactionId and senderNonce */

typedef struct {
    unsigned char *data;
    size_t len;
    int too_large;
} cmc_buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    cmc_buf *b = arg;
    size_t n = size * nmemb;
    unsigned char *nd;

    if (b->len + n > AF_PROTO_MAX_RESPONSE) {
        b->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if ((nd = OPENSSL_realloc(b->data, b->len + n + 1)) == NULL)
        return 0;
    b->data = nd;
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

/* POSTs body to url; on HTTP 200 gives the response body and its Content-Type. */
static int post(const AF_PROTO_OPTS *opts, const char *url, const unsigned char *body, size_t len,
                cmc_buf *out, char *ctype, size_t ctsize)
{
    /* the options' handle: the enrollment's POST reuses this connection (HTTP keep-alive) */
    CURL *c = af_proto_http_get(opts);
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    const char *ct = NULL;
    long status = 0;
    CURLcode rc;
    int ok = 0;

    if (c == NULL)
        return 0;
    hdrs = curl_slist_append(hdrs, "Content-Type: " AF_CMC_REQUEST_CT);
    hdrs = curl_slist_append(hdrs, "Accept: " AF_CMC_MEDIA_TYPE);
    if (hdrs == NULL) {
        AF_ERR(AF_R_MALLOC, "HTTP headers");
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)af_proto_opts_get_connect_timeout(opts));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)af_proto_opts_get_total_timeout(opts));
    if (af_proto_opts_get0_cafile(opts) != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, af_proto_opts_get0_cafile(opts));
    rc = curl_easy_perform(c);
    if (out->too_large) {
        AF_ERR(AF_R_TOO_LARGE, "the CMC response from %s is larger than %d bytes", url,
               AF_PROTO_MAX_RESPONSE);
        goto done;
    }
    if (rc != CURLE_OK) {
        AF_ERR(AF_R_PROTO_TRANSPORT, "%s: %s", url,
               errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        AF_ERR(AF_R_PROTO_HTTP_STATUS, "HTTP %ld from %s", status, url);
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(ctype, ctsize, "%s", ct != NULL ? ct : "");
    ok = 1;
done:
    curl_slist_free_all(hdrs);
    af_proto_http_put(opts, c);
    return ok;
}

static int media_type_ok(const char *ct)
{
    size_t n = strlen(AF_CMC_MEDIA_TYPE);

    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, AF_CMC_MEDIA_TYPE, n) != 0 ||
        (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' '))
        return 0;
    /* An smime-type other than CMC-response is not an answer to us. */
    ct = strstr(ct, "smime-type=");
    return ct == NULL || strncasecmp(ct + 11, "CMC-response", 12) == 0 ||
           strncasecmp(ct + 11, "\"CMC-response\"", 14) == 0;
}

int af_cmc_get_nonce(const AF_PROTO_OPTS *opts, AF_NONCE_RESP **resp, AF_PROTO_STATE **state)
{
    const char *url = opts != NULL ? af_proto_opts_get0_url(opts) : NULL;
    const AF_NONCE_PROFILE *prof = opts != NULL ? af_proto_opts_get0_profile(opts) : NULL;
    OSSL_LIB_CTX *libctx = opts != NULL ? af_proto_opts_get0_libctx(opts) : NULL;
    AF_NONCE_REQ *req = NULL;
    AF_NONCE_RESP *got = NULL;
    AF_NONCE_CODEC *codec = NULL;
    AF_PROTO_STATE *st = NULL;
    AF_CMC_MSG m, r;
    unsigned char txid[CMC_TXID_BYTES], sn[CMC_SENDER_NONCE_BYTES], *der = NULL;
    size_t derlen;
    cmc_buf body = {NULL, 0, 0};
    char ctype[128], name[32];
    int ok = 0;

    af_cmc_msg_init(&m);
    af_cmc_msg_init(&r);
    if (resp != NULL)
        *resp = NULL;
    if (state != NULL)
        *state = NULL;
    if (url == NULL || prof == NULL || resp == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMC: no server URL or profile");
        return 0;
    }
    if ((req = af_proto_request_or_empty(opts)) == NULL || (codec = af_nonce_codec_new()) == NULL)
        goto done;
    if (RAND_bytes_ex(libctx, txid, sizeof(txid), 0) != 1 ||
        RAND_bytes_ex(libctx, sn, sizeof(sn), 0) != 1) {
        AF_ERR(AF_R_CRYPTO, "no random transactionId/senderNonce");
        goto done;
    }
    /* A positive INTEGER of exactly 8 content octets (no sign padding needed). */
    txid[0] = (unsigned char)((txid[0] & 0x7f) | 0x40);
    af_nonce_codec_set_body_part_id(codec, CMC_REQ_BODY_PART);
    if (!af_cmc_msg_set1(&m.txid, &m.txid_len, txid, sizeof(txid)) ||
        !af_cmc_msg_set1(&m.sender_nonce, &m.sender_nonce_len, sn, sizeof(sn)) ||
        !af_nonce_req_encode(req, prof, AF_NONCE_FMT_CMC, codec, &m.nonce_ctl, &m.nonce_ctl_len) ||
        !af_cmc_msg_encode(&m, 0, &der, &derlen))
        goto done;
    if (!post(opts, url, der, derlen, &body, ctype, sizeof(ctype)))
        goto done;
    if (!media_type_ok(ctype)) {
        AF_ERR(AF_R_PROTO_MEDIA_TYPE, "CMC response from %s has Content-Type '%.60s', want %s", url,
               ctype, AF_CMC_RESPONSE_CT);
        goto done;
    }
    if (!af_cmc_msg_decode(&r, 1, af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMC_RESPONSE),
                           body.data, body.len))
        goto done;
    if (r.txid == NULL || r.txid_len != sizeof(txid) || memcmp(r.txid, txid, sizeof(txid)) != 0) {
        AF_ERR(AF_R_PROTO_BINDING, "the CMC response from %s %s our transactionId", url,
               r.txid == NULL ? "lacks" : "does not echo");
        goto done;
    }
    if (r.recip_nonce == NULL || r.recip_nonce_len != sizeof(sn) ||
        CRYPTO_memcmp(r.recip_nonce, sn, sizeof(sn)) != 0) {
        AF_ERR(AF_R_PROTO_BINDING, "the CMC response from %s has %s recipientNonce", url,
               r.recip_nonce == NULL ? "no" : "the wrong");
        goto done;
    }
    if (r.status >= 0 && r.status != AF_CMC_STATUS_SUCCESS) {
        AF_ERR(AF_R_PROTO_PKISTATUS, "CMC status %s%s%s%s%s",
               r.status == AF_CMC_STATUS_FAILED ? "failed" : "not success",
               r.fail_info >= 0 ? ", " : "",
               r.fail_info >= 0 ? af_cmc_fail_info_name(r.fail_info, name, sizeof(name)) : "",
               r.status_string != NULL ? ": " : "", r.status_string != NULL ? r.status_string : "");
        goto done;
    }
    if (r.nonce_ctl == NULL) {
        AF_ERR(AF_R_PROTO_NO_NONCE, "the CMC response from %s has no %s control", url,
               af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMC_RESPONSE));
        goto done;
    }
    if (!af_nonce_resp_decode(&got, prof, AF_NONCE_FMT_CMC, codec, r.nonce_ctl, r.nonce_ctl_len))
        goto done;
    if (state != NULL) {
        if ((st = af_proto_state_new()) == NULL || !af_proto_state_fill(st, opts, url, got) ||
            !af_proto_state_set1_transaction_id(st, txid, sizeof(txid)) ||
            !af_proto_state_set1_sender_nonce(st, sn, sizeof(sn)) ||
            (r.sender_nonce != NULL &&
             !af_proto_state_set1_server_nonce(st, r.sender_nonce, r.sender_nonce_len)))
            goto done;
        *state = st;
        st = NULL;
    }
    *resp = got;
    got = NULL;
    ok = 1;
done:
    OPENSSL_cleanse(sn, sizeof(sn));
    af_cmc_msg_cleanup(&m);
    af_cmc_msg_cleanup(&r);
    OPENSSL_free(der);
    OPENSSL_free(body.data);
    af_nonce_req_free(req);
    af_nonce_resp_free(got);
    af_nonce_codec_free(codec);
    af_proto_state_free(st);
    return ok;
}
