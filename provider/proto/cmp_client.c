/* cmp_client.c - the station's CMP nonce exchange (nonce-protocol.md 5.1) on OpenSSL's OSSL_CMP
 * client over HTTP: genm with the profile's nonce request ITAV -> genp with the nonce response
 * ITAV, PBM or signature protection, the genp checked by OpenSSL (protection, transactionID,
 * recipNonce); a transfer callback records the header values the following ir/cr/p10cr needs
 * (transactionID, genp senderNonce). Also continues such a transaction in another OSSL_CMP_CTX, and
 * for the station's enrollment keeps one HTTP connection for the genm and the request after it. */
#include <stdio.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <openssl/cmp.h>
#include <openssl/cmperr.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/httperr.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "attfresh/err.h"
#include "attfresh/proto.h"
#include "proto_local.h"
#include "proto_station.h"

#define NONCE_BUF 128

/* What the transfer callback saw of the exchange. */
typedef struct {
    unsigned char txid[NONCE_BUF];
    size_t txid_len;
    unsigned char our_nonce[NONCE_BUF];
    size_t our_nonce_len;
    unsigned char srv_nonce[NONCE_BUF];
    size_t srv_nonce_len;
    int got_response;
    AF_CMP_LINK *link; /* NULL: OpenSSL's own HTTP transfer */
} cmp_seen;

/* One HTTP connection for the messages of a transaction. OSSL_CMP_MSG_http_perform asks for a
 * persistent connection only for requests that may be followed by more (ir, cr, p10cr, kur,
 * pollReq), never for a genm, so the nonce request and the certification request would each
 * open (and the RA accept) a connection of their own. */
struct af_cmp_link_st {
    OSSL_HTTP_REQ_CTX *rctx; /* the open connection, NULL before the first message */
    int fd;                  /* its socket */
    char *host;
    char *port;
    char *path;
    const AF_PROTO_STATE *st; /* the transaction being continued (af_cmp_ctx_continue_link) */
};

AF_CMP_LINK *af_cmp_link_new(const AF_PROTO_OPTS *opts)
{
    const char *url = af_proto_opts_get0_url(opts);
    AF_CMP_LINK *l;
    int use_ssl = 0;

    if (url == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: no server URL");
        return NULL;
    }
    if ((l = OPENSSL_zalloc(sizeof(*l))) == NULL) {
        AF_ERR(AF_R_MALLOC, "CMP connection");
        return NULL;
    }
    if (!OSSL_HTTP_parse_url(url, &use_ssl, NULL, &l->host, &l->port, NULL, &l->path, NULL, NULL) ||
        use_ssl) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: cannot use URL %s (want http://HOST[:PORT]/PATH)", url);
        af_cmp_link_free(l);
        return NULL;
    }
    l->fd = -1;
    return l;
}

void af_cmp_link_free(AF_CMP_LINK *l)
{
    if (l == NULL)
        return;
    if (l->rctx != NULL)
        (void)OSSL_HTTP_close(l->rctx, 1);
    OPENSSL_free(l->host);
    OPENSSL_free(l->port);
    OPENSSL_free(l->path);
    OPENSSL_free(l);
}

/* Remembers the new connection's socket (link_check_alive) and sets TCP_NODELAY: OpenSSL writes
 * the HTTP header and body of a request separately, and on a kept connection Nagle's algorithm
 * would hold the body back until the RA's delayed ACK (40 ms) comes. */
static BIO *link_connected(BIO *bio, void *arg, int connect, int detail)
{
    AF_CMP_LINK *l = arg;
    int fd = -1, on = 1;

    (void)detail;
    if (!connect) {
        l->fd = -1;
    } else if (BIO_get_fd(bio, &fd) > 0 && fd >= 0) {
        l->fd = fd;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    return bio;
}

/* An idle HTTP connection has nothing to read unless the RA closed it; writing to a closed one
 * could end in SIGPIPE, so such a connection is given up before anything is sent. */
static void link_check_alive(AF_CMP_LINK *l)
{
    struct pollfd pfd;

    if (l->rctx == NULL || l->fd < 0)
        return;
    pfd.fd = l->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) != 0) {
        (void)OSSL_HTTP_close(l->rctx, 0);
        l->rctx = NULL;
        l->fd = -1;
    }
}

/* What OSSL_CMP_MSG_http_perform does (POST application/pkixcmp, Pragma: no-cache, the answer
 * read as a PKIMessage, within the message timeout OpenSSL has cut to what is left of the total
 * one), over the link's connection, which is asked to stay open. */
static OSSL_CMP_MSG *link_transfer(AF_CMP_LINK *l, OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
    static const char ct[] = "application/pkixcmp";
    STACK_OF(CONF_VALUE) *hdrs = NULL;
    BIO *req_mem = NULL, *rsp = NULL;
    OSSL_CMP_MSG *res = NULL;

    if (!X509V3_add_value("Pragma", "no-cache", &hdrs) ||
        (req_mem = ASN1_item_i2d_mem_bio(ASN1_ITEM_rptr(OSSL_CMP_MSG), (const ASN1_VALUE *)req)) ==
            NULL)
        goto end;
    /* a kept connection is reused as it is; OpenSSL closes it (and sets rctx NULL) on failure or
     * when the server does not keep it */
    link_check_alive(l);
    rsp = OSSL_HTTP_transfer(&l->rctx, l->host, l->port, l->path, 0, NULL, NULL, NULL, NULL,
                             link_connected, l, 0, hdrs, ct, req_mem, ct, 1,
                             OSSL_HTTP_DEFAULT_MAX_RESP_LEN,
                             OSSL_CMP_CTX_get_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT), 1);
    if (l->rctx == NULL)
        l->fd = -1;
    if (rsp != NULL)
        res = (OSSL_CMP_MSG *)ASN1_item_d2i_bio(ASN1_ITEM_rptr(OSSL_CMP_MSG), rsp, NULL);
end:
    BIO_free(rsp);
    BIO_free(req_mem);
    sk_CONF_VALUE_pop_free(hdrs, X509V3_conf_free);
    return res;
}

static int quiet_log(const char *func, const char *file, int line, OSSL_CMP_severity level,
                     const char *msg)
{
    return 1; /* failures reach the caller through the error queue */
}

static void copy_octets(const ASN1_OCTET_STRING *o, unsigned char *buf, size_t *len)
{
    *len = 0;
    if (o != NULL && ASN1_STRING_length(o) > 0 && ASN1_STRING_length(o) <= NONCE_BUF) {
        *len = (size_t)ASN1_STRING_length(o);
        memcpy(buf, ASN1_STRING_get0_data(o), *len);
    }
}

static OSSL_CMP_MSG *seen_transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
    cmp_seen *s = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
    OSSL_CMP_MSG *rsp;

    copy_octets(OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req)), s->txid,
                &s->txid_len);
    (void)af_cmp_msg_get_sender_nonce(req, s->our_nonce, sizeof(s->our_nonce), &s->our_nonce_len);
    rsp = s->link != NULL ? link_transfer(s->link, ctx, req) : OSSL_CMP_MSG_http_perform(ctx, req);
    if (rsp != NULL) {
        s->got_response = 1;
        (void)af_cmp_msg_get_sender_nonce(rsp, s->srv_nonce, sizeof(s->srv_nonce),
                                          &s->srv_nonce_len);
    }
    return rsp;
}

int af_cmp_ctx_setup(OSSL_CMP_CTX *ctx, const AF_PROTO_OPTS *opts)
{
    const char *url = af_proto_opts_get0_url(opts);
    char *host = NULL, *path = NULL, *port = NULL;
    int use_ssl = 0, portnum = 0, ok = 0, t = af_proto_opts_get_total_timeout(opts);
    const unsigned char *secret;
    size_t slen;
    const char *ref = af_proto_opts_get0_ref(opts);
    EVP_PKEY *key = af_proto_opts_get0_key(opts);
    X509 *cert = af_proto_opts_get0_cert(opts);
    X509_STORE *trusted = af_proto_opts_get0_trusted(opts);
    STACK_OF(X509) *extra = af_proto_opts_get0_extra_certs(opts);

    if (ctx == NULL || url == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: no server URL");
        return 0;
    }
    if (!OSSL_HTTP_parse_url(url, &use_ssl, NULL, &host, &port, &portnum, &path, NULL, NULL)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: cannot parse URL %s", url);
        goto end;
    }
    if (use_ssl) {
        AF_ERR(AF_R_INVALID_ARGUMENT,
               "CMP: %s: only http:// is supported (RFC 9811 over plain "
               "HTTP; messages are protected end to end)",
               url);
        goto end;
    }
    if (!OSSL_CMP_CTX_set_log_cb(ctx, quiet_log) || !OSSL_CMP_CTX_set1_server(ctx, host) ||
        !OSSL_CMP_CTX_set_serverPort(ctx, portnum) || !OSSL_CMP_CTX_set1_serverPath(ctx, path) ||
        !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT, t) ||
        !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_TOTAL_TIMEOUT, t)) {
        AF_ERR(AF_R_INTERNAL, "CMP: cannot set up the client context");
        goto end;
    }
    secret = af_proto_opts_get0_secret(opts, &slen);
    if (secret != NULL) {
        if (ref == NULL && cert == NULL) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: MAC protection needs a reference (--ref)");
            goto end;
        }
        if (!OSSL_CMP_CTX_set1_secretValue(ctx, secret, (int)slen) ||
            (ref != NULL && !OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)ref,
                                                              (int)strlen(ref)))) {
            AF_ERR(AF_R_INTERNAL, "CMP: cannot set the MAC secret");
            goto end;
        }
    }
    if (key != NULL || cert != NULL) {
        if (key == NULL || cert == NULL) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: signature protection needs both key and cert");
            goto end;
        }
        if (!OSSL_CMP_CTX_set1_cert(ctx, cert) || !OSSL_CMP_CTX_set1_pkey(ctx, key) ||
            (extra != NULL && sk_X509_num(extra) > 0 && !OSSL_CMP_CTX_set1_untrusted(ctx, extra))) {
            AF_ERR(AF_R_CRYPTO, "CMP: key and certificate do not fit together");
            goto end;
        }
    }
    if (secret == NULL && key == NULL) {
        /* RFC 9483 wants genm protected, and OpenSSL needs a sender identity anyway */
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: no protection: give a MAC secret (--secret-file or "
                                      "--secret-env) with --ref, or --key with --cert");
        goto end;
    }
    if (trusted != NULL) {
        if (!X509_STORE_up_ref(trusted))
            goto end;
        if (!OSSL_CMP_CTX_set0_trustedStore(ctx, trusted)) {
            X509_STORE_free(trusted);
            goto end;
        }
    }
    ok = 1;
end:
    OPENSSL_free(host);
    OPENSSL_free(port);
    OPENSSL_free(path);
    return ok;
}

/* Turns what OSSL_CMP left on the error queue into one AF_R_PROTO_* error. */
static void raise_exchange_error(OSSL_CMP_CTX *ctx, const char *url)
{
    unsigned long e, first = 0;
    const char *data;
    int flags, reason = AF_R_PROTO_TRANSPORT, rank = 0;
    char detail[200] = "", buf[OSSL_CMP_PKISI_BUFLEN];

    /* The queue holds a cause and its consequences; keep the most telling one. */
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        int lib = ERR_GET_LIB(e), r = ERR_GET_REASON(e), rr = 0, rk = 0;

        if ((flags & ERR_TXT_STRING) == 0 || data == NULL)
            data = "";
        if (first == 0) {
            first = e;
            snprintf(detail, sizeof(detail), "%s%s%s",
                     ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) : "error",
                     *data != '\0' ? ": " : "", data);
        }
        if (lib == ERR_LIB_HTTP && r == HTTP_R_RECEIVED_ERROR) {
            rr = AF_R_PROTO_HTTP_STATUS;
            rk = 5;
        } else if (lib == ERR_LIB_HTTP &&
                   (r == HTTP_R_UNEXPECTED_CONTENT_TYPE || r == HTTP_R_MISSING_CONTENT_TYPE)) {
            rr = AF_R_PROTO_MEDIA_TYPE;
            rk = 5;
        } else if (lib == ERR_LIB_CMP && r == CMP_R_RECEIVED_ERROR) {
            rr = AF_R_PROTO_PKISTATUS;
            rk = 6;
        } else if (lib == ERR_LIB_CMP &&
                   (r == CMP_R_RECIPNONCE_UNMATCHED || r == CMP_R_TRANSACTIONID_UNMATCHED)) {
            rr = AF_R_PROTO_BINDING;
            rk = 7;
        } else if (lib == ERR_LIB_CMP &&
                   (r == CMP_R_WRONG_PBM_VALUE || r == CMP_R_MISSING_PROTECTION ||
                    r == CMP_R_ERROR_VALIDATING_PROTECTION ||
                    r == CMP_R_ERROR_VALIDATING_SIGNATURE || r == CMP_R_NO_SUITABLE_SENDER_CERT ||
                    r == CMP_R_MISSING_TRUST_STORE)) {
            rr = AF_R_PROTO_PROTECTION;
            rk = 4;
        } else if (lib == ERR_LIB_HTTP || lib == ERR_LIB_BIO || lib == ERR_LIB_SYS) {
            rr = AF_R_PROTO_TRANSPORT;
            rk = 2;
        }
        if (rk > rank) {
            rank = rk;
            reason = rr;
            snprintf(detail, sizeof(detail), "%s%s%s",
                     ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) : "error",
                     *data != '\0' ? ": " : "", data);
        }
    }
    if (reason == AF_R_PROTO_PKISTATUS &&
        OSSL_CMP_CTX_snprint_PKIStatus(ctx, buf, sizeof(buf)) != NULL) {
        /* "PKIStatus: rejection; PKIFailureInfo: badRequest; StatusString: ..." on one line */
        char *nl;

        while ((nl = strchr(buf, '\n')) != NULL)
            *nl = ' ';
        AF_ERR(reason, "CMP %s: error response: %s", url, buf);
        return;
    }
    switch (reason) {
    case AF_R_PROTO_HTTP_STATUS:
        AF_ERR(reason, "CMP %s: HTTP error (%s)", url, detail);
        break;
    case AF_R_PROTO_MEDIA_TYPE:
        AF_ERR(reason, "CMP %s: not a CMP response (%s)", url, detail);
        break;
    case AF_R_PROTO_BINDING:
        AF_ERR(reason, "CMP %s: genp not bound to our genm (%s)", url, detail);
        break;
    case AF_R_PROTO_PROTECTION:
        AF_ERR(reason, "CMP %s: genp protection not accepted (%s)", url, detail);
        break;
    default:
        AF_ERR(reason, "CMP %s: exchange failed (%s)", url, detail[0] ? detail : "no detail");
    }
}

/* The nonce response ITAV of the profile among those of the genp. */
static int pick_response(const STACK_OF(OSSL_CMP_ITAV) * itavs, const AF_NONCE_PROFILE *prof,
                         const char *url, const OSSL_CMP_ITAV **out)
{
    const char *want = af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMP_RESPONSE);
    ASN1_OBJECT *obj = OBJ_txt2obj(want, 1);
    char seen[160] = "", t[64];
    int i, n = 0;

    *out = NULL;
    for (i = 0; obj != NULL && i < sk_OSSL_CMP_ITAV_num(itavs); i++) {
        const OSSL_CMP_ITAV *it = sk_OSSL_CMP_ITAV_value(itavs, i);

        if (OBJ_cmp(OSSL_CMP_ITAV_get0_type(it), obj) == 0) {
            *out = it;
            n++;
        } else if (strlen(seen) < sizeof(seen) - 70) {
            OBJ_obj2txt(t, sizeof(t), OSSL_CMP_ITAV_get0_type(it), 1);
            strcat(seen, seen[0] ? ", " : "");
            strcat(seen, t);
        }
    }
    ASN1_OBJECT_free(obj);
    if (n == 1)
        return 1;
    if (n > 1)
        AF_ERR(AF_R_PROTO_NO_NONCE, "CMP %s: genp carries %d nonce responses", url, n);
    else
        AF_ERR(AF_R_PROTO_NO_NONCE,
               "CMP %s: no nonce response (%s) in the genp; it carries %s (a stock openssl cmp "
               "server echoes the request)",
               url, want, seen[0] ? seen : "nothing");
    *out = NULL;
    return 0;
}

/* The genm ITAV: the model encoded by the profile, or the caller's pre-encoded infoValue. */
static OSSL_CMP_ITAV *make_itav(const AF_PROTO_OPTS *opts, const AF_NONCE_REQ *req,
                                const AF_NONCE_PROFILE *prof)
{
    size_t len;
    const unsigned char *der = af_proto_opts_get0_request_encoded(opts, &len), *p = der;
    ASN1_OBJECT *type;
    ASN1_TYPE *val;
    OSSL_CMP_ITAV *itav;

    if (der == NULL)
        return af_nonce_req_to_itav(req, prof, NULL);
    val = d2i_ASN1_TYPE(NULL, &p, (long)len);
    if (val == NULL || p != der + len) {
        ASN1_TYPE_free(val);
        AF_ERR(AF_R_NONCE_DECODE, "CMP: the encoded request is not one DER element");
        return NULL;
    }
    type = OBJ_txt2obj(af_nonce_profile_get0_oid(prof, AF_NONCE_OID_CMP_REQUEST), 1);
    if (type == NULL || (itav = OSSL_CMP_ITAV_create(type, val)) == NULL) {
        ASN1_OBJECT_free(type);
        ASN1_TYPE_free(val);
        AF_ERR(AF_R_INTERNAL, "CMP: cannot build the request ITAV");
        return NULL;
    }
    return itav;
}

int af_cmp_get_nonce_ctx(OSSL_CMP_CTX *ctx, const AF_PROTO_OPTS *opts, AF_CMP_LINK *link,
                         AF_NONCE_RESP **resp, AF_PROTO_STATE **state)
{
    const AF_NONCE_PROFILE *prof = af_proto_opts_get0_profile(opts);
    const char *url = af_proto_opts_get0_url(opts);
    AF_NONCE_REQ *req = NULL;
    AF_NONCE_RESP *r = NULL;
    AF_PROTO_STATE *st = NULL;
    OSSL_CMP_ITAV *itav = NULL;
    STACK_OF(OSSL_CMP_ITAV) *got = NULL;
    const OSSL_CMP_ITAV *ritav;
    cmp_seen seen;
    int ok = 0;

    if (ctx == NULL || resp == NULL || opts == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: no options or no place for the response");
        return 0;
    }
    *resp = NULL;
    if (state != NULL)
        *state = NULL;
    memset(&seen, 0, sizeof(seen));
    seen.link = link;
    if ((req = af_proto_request_or_empty(opts)) == NULL ||
        (itav = make_itav(opts, req, prof)) == NULL)
        goto end;
    if (!OSSL_CMP_CTX_push0_genm_ITAV(ctx, itav)) {
        AF_ERR(AF_R_INTERNAL, "CMP: cannot add the nonce request");
        goto end;
    }
    itav = NULL;
    if (!OSSL_CMP_CTX_set_transfer_cb(ctx, seen_transfer) ||
        !OSSL_CMP_CTX_set_transfer_cb_arg(ctx, &seen))
        goto end;
    ERR_set_mark();
    got = OSSL_CMP_exec_GENM_ses(ctx);
    if (got == NULL) {
        /* keep the errors of the exchange only; they become one line below */
        ERR_clear_last_mark();
        raise_exchange_error(ctx, url);
        goto end;
    }
    ERR_pop_to_mark();
    if (!pick_response(got, prof, url, &ritav))
        goto end;
    if (!af_nonce_resp_from_itav(&r, prof, NULL, ritav))
        goto end;
    if (af_nonce_profile_get_shape(prof) == AF_SHAPE_SEED &&
        af_nonce_resp_get_count(r) != af_nonce_req_get_count(req)) {
        AF_ERR(AF_R_NONCE_SHAPE, "CMP %s: %zu nonce responses for %zu requests", url,
               af_nonce_resp_get_count(r), af_nonce_req_get_count(req));
        goto end;
    }
    if (state != NULL) {
        if ((st = af_proto_state_new()) == NULL || !af_proto_state_fill(st, opts, url, r) ||
            !af_proto_state_set1_transaction_id(st, seen.txid, seen.txid_len) ||
            !af_proto_state_set1_sender_nonce(st, seen.our_nonce, seen.our_nonce_len) ||
            !af_proto_state_set1_server_nonce(st, seen.srv_nonce, seen.srv_nonce_len))
            goto end;
        *state = st;
        st = NULL;
    }
    *resp = r;
    r = NULL;
    ok = 1;
end:
    /* seen lives on this stack: the context must not call back into it later */
    (void)OSSL_CMP_CTX_set_transfer_cb(ctx, NULL);
    (void)OSSL_CMP_CTX_set_transfer_cb_arg(ctx, NULL);
    sk_OSSL_CMP_ITAV_pop_free(got, OSSL_CMP_ITAV_free);
    OSSL_CMP_ITAV_free(itav);
    af_nonce_req_free(req);
    af_nonce_resp_free(r);
    af_proto_state_free(st);
    return ok;
}

int af_cmp_get_nonce(const AF_PROTO_OPTS *opts, AF_NONCE_RESP **resp, AF_PROTO_STATE **state)
{
    OSSL_CMP_CTX *ctx;
    int ok;

    if (resp == NULL || opts == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: no options or no place for the response");
        return 0;
    }
    *resp = NULL;
    if (state != NULL)
        *state = NULL;
    if ((ctx = OSSL_CMP_CTX_new(af_proto_opts_get0_libctx(opts), af_proto_opts_get0_propq(opts))) ==
        NULL) {
        AF_ERR(AF_R_MALLOC, "CMP client context");
        return 0;
    }
    ok = af_cmp_ctx_setup(ctx, opts) && af_cmp_get_nonce_ctx(ctx, opts, NULL, resp, state);
    OSSL_CMP_CTX_free(ctx);
    return ok;
}

/* ---- continuing the transaction ------------------------------------------------------------- */

/* req with recipNonce = the genp's senderNonce when OpenSSL left it empty (a fresh context knows
 * no previous message), protected again after the change: *out is the new message, or NULL when
 * req goes out as it is. */
static int continue_msg(OSSL_CMP_CTX *ctx, const AF_PROTO_STATE *st, const OSSL_CMP_MSG *req,
                        OSSL_CMP_MSG **out)
{
    const unsigned char *n;
    size_t nlen;
    AF_CMP_MSG_VIEW *v;
    OSSL_CMP_MSG *m = NULL;

    *out = NULL;
    n = af_proto_state_get0_server_nonce(st, &nlen);
    if (n == NULL || OSSL_CMP_HDR_get0_recipNonce(OSSL_CMP_MSG_get0_header(req)) != NULL)
        return 1;
    if ((v = af_cmp_view_new(req)) == NULL)
        return 0;
    if (!af_cmp_view_set1_octets(&v->header->recipNonce, n, nlen) ||
        (m = af_cmp_view_to_msg(v)) == NULL ||
        (v->header->protectionAlg != NULL && !OSSL_CMP_MSG_update_transactionID(ctx, m))) {
        AF_ERR(AF_R_CRYPTO, "CMP: cannot set recipNonce of the continuing request");
        af_cmp_view_free(v);
        OSSL_CMP_MSG_free(m);
        return 0;
    }
    af_cmp_view_free(v);
    *out = m;
    return 1;
}

static OSSL_CMP_MSG *continue_transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
    OSSL_CMP_MSG *m, *rsp;

    if (!continue_msg(ctx, OSSL_CMP_CTX_get_transfer_cb_arg(ctx), req, &m))
        return NULL;
    rsp = OSSL_CMP_MSG_http_perform(ctx, m != NULL ? m : req);
    OSSL_CMP_MSG_free(m);
    return rsp;
}

static OSSL_CMP_MSG *continue_link_transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
    AF_CMP_LINK *l = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
    OSSL_CMP_MSG *m, *rsp;

    if (!continue_msg(ctx, l->st, req, &m))
        return NULL;
    rsp = link_transfer(l, ctx, m != NULL ? m : req);
    OSSL_CMP_MSG_free(m);
    return rsp;
}

/* The transactionID of st into ctx. */
static int continue_txid(OSSL_CMP_CTX *ctx, const AF_PROTO_STATE *st)
{
    const unsigned char *tid;
    size_t tlen;
    ASN1_OCTET_STRING *o;
    int ok;

    if (ctx == NULL || st == NULL || af_proto_state_get_protocol(st) != AF_PROTO_CMP) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "CMP: no CMP transaction state to continue");
        return 0;
    }
    tid = af_proto_state_get0_transaction_id(st, &tlen);
    if (tid == NULL) {
        AF_ERR(AF_R_PROTO_BINDING, "CMP: the state has no transactionID");
        return 0;
    }
    if ((o = ASN1_OCTET_STRING_new()) == NULL || !ASN1_OCTET_STRING_set(o, tid, (int)tlen)) {
        ASN1_OCTET_STRING_free(o);
        AF_ERR(AF_R_MALLOC, "transactionID");
        return 0;
    }
    ok = OSSL_CMP_CTX_set1_transactionID(ctx, o);
    ASN1_OCTET_STRING_free(o);
    if (!ok)
        AF_ERR(AF_R_INTERNAL, "CMP: cannot continue the transaction");
    return ok;
}

int af_cmp_ctx_continue(OSSL_CMP_CTX *ctx, const AF_PROTO_STATE *st)
{
    if (!continue_txid(ctx, st))
        return 0;
    if (!OSSL_CMP_CTX_set_transfer_cb(ctx, continue_transfer) ||
        !OSSL_CMP_CTX_set_transfer_cb_arg(ctx, (void *)st)) {
        AF_ERR(AF_R_INTERNAL, "CMP: cannot continue the transaction");
        return 0;
    }
    return 1;
}

int af_cmp_ctx_continue_link(OSSL_CMP_CTX *ctx, const AF_PROTO_STATE *st, AF_CMP_LINK *link)
{
    if (link == NULL)
        return af_cmp_ctx_continue(ctx, st);
    if (!continue_txid(ctx, st))
        return 0;
    link->st = st;
    if (!OSSL_CMP_CTX_set_transfer_cb(ctx, continue_link_transfer) ||
        !OSSL_CMP_CTX_set_transfer_cb_arg(ctx, link)) {
        AF_ERR(AF_R_INTERNAL, "CMP: cannot continue the transaction");
        return 0;
    }
    return 1;
}
