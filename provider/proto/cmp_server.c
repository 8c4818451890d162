/* cmp_server.c - the RA's CMP nonce responder (nonce-protocol.md 5.1, RFC 9810 genm/genp over
 * RFC 9811 HTTP): OpenSSL's OSSL_CMP_SRV_CTX checks the request (protection, header) and answers a
 * genm carrying the profile's nonce request ITAV with a genp carrying the nonce response, issued by
 * af_ra_issue_ex bound to the genm's transactionID. An absent infoValue is the empty request (what
 * stock `openssl cmp -cmd genm -infotype nonceRequest` sends). Errors are CMP error bodies with
 * PKIStatusInfo rejection and the failInfo the failure deserves (OpenSSL's server always says
 * badRequest, so the body is rewritten and the message protected again). A PBM-protected genm takes
 * a faster path of its own (see "the fast path" below), and the answers of OpenSSL's path that it
 * would protect with PBM are protected with that path's cached key. ir/cr/p10cr go to the RA's
 * enrollment. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1t.h>
#include <openssl/cmp.h>
#include <openssl/cmperr.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"
#include "attfresh/server.h"
#include "proto_local.h"

#define CMP_MEDIA_TYPE "application/pkixcmp"
/* PKIBody choice numbers (RFC 9810 5.1.2); OpenSSL 3.0 keeps its names private */
#define PKIBODY_ERROR 23
#define PKIBODY_CERTCONF 24
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
    char enroll_log[200];  /* outcome of an ir/cr/p10cr or certConf */
    size_t issued;         /* nonce length of the first item, for the log */
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

/* Issues the nonces of req bound to the transactionID; on failure says why in c. */
static int issue(cmp_call *c, const AF_NONCE_REQ *req, const unsigned char *tid, size_t tlen,
                 AF_NONCE_RESP **resp)
{
    AF_NONCE_RESULT r = af_ra_issue_ex(c->ra, c->prof, c->rq->label, req, tid, tlen,
                                       c->rq->requester, c->rq->requester_len, resp);
    const unsigned char *n;

    if (r != AF_NONCE_OK) {
        call_fail(c,
                  r == AF_NONCE_FULL ? OSSL_CMP_PKIFAILUREINFO_systemUnavail
                                     : fail_bit_for(ERR_peek_last_error()),
                  "no nonce issued");
        return 0;
    }
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(*resp, 0), &n, &c->issued);
    return 1;
}

static int genm_cb(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *genm,
                   const STACK_OF(OSSL_CMP_ITAV) * in, STACK_OF(OSSL_CMP_ITAV) * *out)
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
        AF_ERR(AF_R_NONCE_MISSING, "genm carries no nonce request (infoType %s, profile %s)", want,
               af_nonce_profile_get0_name(c->prof));
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
    if (!issue(c, req, ASN1_STRING_get0_data(tid), (size_t)ASN1_STRING_length(tid), &resp))
        goto end;
    if ((ritav = af_nonce_resp_to_itav(resp, c->prof, NULL)) == NULL ||
        (*out = sk_OSSL_CMP_ITAV_new_null()) == NULL || !sk_OSSL_CMP_ITAV_push(*out, ritav))
        goto fail;
    ritav = NULL;
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

/* ir/cr/p10cr carrying the Evidence: the RA's enrollment decides (provider/ra/cmp_enroll.c). */
static OSSL_CMP_PKISI *cert_request_cb(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *req,
                                       int certReqId, const OSSL_CRMF_MSG *crm,
                                       const X509_REQ *p10cr, X509 **certOut,
                                       STACK_OF(X509) * *chainOut, STACK_OF(X509) * *caPubs)
{
    cmp_call *c = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv_ctx);

    if (chainOut != NULL)
        *chainOut = NULL;
    return af_ra_cmp_cert_request(c->ra, req, crm, p10cr, certOut, caPubs, c->enroll_log,
                                  sizeof(c->enroll_log));
}

/* A certConf arrives in its own HTTP request, so the server keeps nothing to check it against;
 * it is acknowledged (stations ask for implicit confirmation, which the RA grants). */
static int cert_conf_cb(OSSL_CMP_SRV_CTX *srv_ctx, const OSSL_CMP_MSG *req, int certReqId,
                        const ASN1_OCTET_STRING *certHash, const OSSL_CMP_PKISI *si)
{
    cmp_call *c = OSSL_CMP_SRV_CTX_get0_custom_ctx(srv_ctx);

    snprintf(c->enroll_log, sizeof(c->enroll_log), "cmp certConf: acknowledged");
    return 1;
}

/* failInfo for a failure OpenSSL's server found before our callback ran, from the first error it
 * logged ("<reason>[:<detail>]"). */
static void fail_for_cmp(cmp_call *c)
{
    static const int protection[] = {CMP_R_WRONG_PBM_VALUE,
                                     CMP_R_MISSING_PROTECTION,
                                     CMP_R_ERROR_VALIDATING_PROTECTION,
                                     CMP_R_ERROR_VALIDATING_SIGNATURE,
                                     CMP_R_NO_SUITABLE_SENDER_CERT,
                                     CMP_R_MISSING_TRUST_STORE,
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
    return strncasecmp(ct, CMP_MEDIA_TYPE, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int configure(OSSL_CMP_SRV_CTX *srv, AF_RA *ra, cmp_call *c)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
    const unsigned char *secret;
    size_t slen;
    EVP_PKEY *key = af_ra_get0_cmp_key(ra);
    X509 *cert = af_ra_get0_cmp_cert(ra);
    X509_STORE *trust = af_ra_get0_cmp_trust(ra);

    if (!OSSL_CMP_SRV_CTX_init(srv, c, cert_request_cb, NULL, genm_cb, NULL, cert_conf_cb, NULL) ||
        !OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv, 1) ||
        !OSSL_CMP_CTX_set_log_cb(ctx, log_cb))
        return 0;
    secret = af_ra_get0_cmp_secret(ra, &slen);
    /* PBM-protected answers need a sender identity; without a certificate that is the senderKID */
    if (secret != NULL &&
        (!OSSL_CMP_CTX_set1_secretValue(ctx, secret, (int)slen) ||
         !OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)RA_REFERENCE,
                                           (int)strlen(RA_REFERENCE))))
        return 0;
    if (key != NULL && cert != NULL &&
        (!OSSL_CMP_CTX_set1_cert(ctx, cert) || !OSSL_CMP_CTX_set1_pkey(ctx, key)))
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
    if (secret == NULL && (key == NULL || cert == NULL) &&
        !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1))
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
    if (af_cmp_view_set_error_body(v, c->fail_bit, c->why) && (m = af_cmp_view_to_msg(v)) != NULL &&
        OSSL_CMP_CTX_set1_transactionID(ctx, tid) &&
        (v->header->protectionAlg == NULL || OSSL_CMP_MSG_update_transactionID(ctx, m))) {
        OSSL_CMP_MSG_free(rsp);
        rsp = m;
        m = NULL;
    }
    OSSL_CMP_MSG_free(m);
    af_cmp_view_free(v);
    return rsp;
}

/* ---- the fast path: a PBM-protected genm answered without OpenSSL's server context ------------ *
 * OSSL_CMP_SRV_process_request spends most of a genm/genp exchange in two PBM computations (the
 * request's, the answer's: 500 hashes each) and in setting up a CMP context. Here the request's
 * MAC is checked with OSSL_CRMF_pbm_new as OpenSSL does, but the answer is protected with a PBM
 * key derived once per salt and reused for a while: the salt is the RA's choice, and reusing it
 * gives an attacker nothing (an offline guess at the shared secret costs the same 500 hashes per
 * guess either way; no precomputation is possible for a salt drawn at run time). Each derived key
 * is checked once against OSSL_CRMF_pbm_new. Anything this path does not handle (signature
 * protection, other bodies, odd headers) goes to the OpenSSL server path unchanged. */

#define PBM_ITERATIONS 500
#define PBM_SALT_LEN 16
#define PBM_KEY_MAX_AGE_S 600
#define PBM_KEY_MAX_USES 1000000UL
#define SENDER_NONCE_LEN 16
#define PKIBODY_GENM 21
#define PKIBODY_GENP 22

typedef struct {
    unsigned char secret_id[32]; /* SHA-256 of the secret the key belongs to */
    unsigned char key[32];       /* SHA-256^500(secret || salt) */
    unsigned char params[96];    /* DER PBMParameter */
    size_t params_len;
    time_t born;
    unsigned long uses;
    int valid;
} pbm_key;

/* One key for the process: RAs with different secrets in one process would take turns. */
static pthread_mutex_t pbm_lock = PTHREAD_MUTEX_INITIALIZER;
static pbm_key pbm_cache;

/* PBMParameter ::= SEQUENCE { salt, owf AlgorithmIdentifier, iterationCount, mac } */
typedef struct {
    ASN1_OCTET_STRING *salt;
    X509_ALGOR *owf;
    ASN1_INTEGER *iter;
    X509_ALGOR *mac;
} AF_PBMP;

static const ASN1_ITEM *AF_PBMP_it(void); /* template at the end of this file */

static int hmac_sha256(OSSL_LIB_CTX *libctx, const unsigned char *key, const unsigned char *data,
                       size_t len, unsigned char out[32])
{
    size_t outlen = 0;

    return EVP_Q_mac(libctx, "HMAC", NULL, "SHA256", NULL, key, 32, data, len, out, 32, &outlen) !=
               NULL &&
           outlen == 32;
}

/* A new salt, its key, and a check of both against OpenSSL's own PBM. */
static int pbm_key_new(OSSL_LIB_CTX *libctx, const unsigned char *secret, size_t slen, pbm_key *k)
{
    static const unsigned char probe[] = "attfresh PBM self-check";
    unsigned char salt[PBM_SALT_LEN], mine[32], *theirs = NULL, *der = NULL;
    const unsigned char *p;
    EVP_MD *md = EVP_MD_fetch(libctx, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    AF_PBMP *pp = (AF_PBMP *)ASN1_item_new(ASN1_ITEM_rptr(AF_PBMP));
    OSSL_CRMF_PBMPARAMETER *ossl = NULL;
    size_t theirs_len = 0;
    unsigned int n;
    int i, len, ok = 0;

    if (md == NULL || ctx == NULL || pp == NULL ||
        RAND_bytes_ex(libctx, salt, sizeof(salt), 0) <= 0 || !EVP_DigestInit_ex2(ctx, md, NULL) ||
        !EVP_DigestUpdate(ctx, secret, slen) || !EVP_DigestUpdate(ctx, salt, sizeof(salt)) ||
        !EVP_DigestFinal_ex(ctx, k->key, &n))
        goto end;
    for (i = 1; i < PBM_ITERATIONS; i++)
        if (!EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, k->key, 32) ||
            !EVP_DigestFinal_ex(ctx, k->key, &n))
            goto end;
    if (!ASN1_OCTET_STRING_set(pp->salt, salt, sizeof(salt)) ||
        !X509_ALGOR_set0(pp->owf, OBJ_nid2obj(NID_sha256), V_ASN1_UNDEF, NULL) ||
        !ASN1_INTEGER_set(pp->iter, PBM_ITERATIONS) ||
        !X509_ALGOR_set0(pp->mac, OBJ_nid2obj(NID_hmacWithSHA256), V_ASN1_UNDEF, NULL) ||
        (len = ASN1_item_i2d((ASN1_VALUE *)pp, &der, ASN1_ITEM_rptr(AF_PBMP))) <= 0 ||
        (size_t)len > sizeof(k->params))
        goto end;
    memcpy(k->params, der, (size_t)len);
    k->params_len = (size_t)len;
    p = der;
    if ((ossl = d2i_OSSL_CRMF_PBMPARAMETER(NULL, &p, len)) == NULL ||
        !OSSL_CRMF_pbm_new(libctx, NULL, ossl, probe, sizeof(probe), secret, slen, &theirs,
                           &theirs_len) ||
        !hmac_sha256(libctx, k->key, probe, sizeof(probe), mine) || theirs_len != 32 ||
        CRYPTO_memcmp(mine, theirs, 32) != 0)
        goto end;
    if (!EVP_Digest(secret, slen, k->secret_id, &n, md, NULL))
        goto end;
    k->born = time(NULL);
    k->uses = 0;
    k->valid = 1;
    ok = 1;
end:
    if (!ok)
        OPENSSL_cleanse(k, sizeof(*k));
    OPENSSL_cleanse(salt, sizeof(salt));
    OPENSSL_free(theirs);
    OPENSSL_free(der);
    OSSL_CRMF_PBMPARAMETER_free(ossl);
    ASN1_item_free((ASN1_VALUE *)pp, ASN1_ITEM_rptr(AF_PBMP));
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return ok;
}

/* A copy of the current key for this secret (a new one when none, old, or worn). */
static int pbm_key_get(OSSL_LIB_CTX *libctx, const unsigned char *secret, size_t slen, pbm_key *out)
{
    unsigned char id[32];
    unsigned int n;
    int ok = 1;

    if (!EVP_Digest(secret, slen, id, &n, EVP_sha256(), NULL))
        return 0;
    pthread_mutex_lock(&pbm_lock);
    if (!pbm_cache.valid || memcmp(pbm_cache.secret_id, id, 32) != 0 ||
        time(NULL) - pbm_cache.born > PBM_KEY_MAX_AGE_S || pbm_cache.uses >= PBM_KEY_MAX_USES)
        ok = pbm_key_new(libctx, secret, slen, &pbm_cache);
    if (ok) {
        pbm_cache.uses++;
        *out = pbm_cache;
    }
    pthread_mutex_unlock(&pbm_lock);
    return ok;
}

/* One TLV at *p (left bytes): tag, class, content; advances *p. Definite lengths only. */
static int tlv(const unsigned char **p, size_t *left, int *tag, int *cls,
               const unsigned char **content, size_t *clen)
{
    const unsigned char *q = *p;
    long len;
    int r = ASN1_get_object(&q, &len, tag, cls, (long)*left);

    if ((r & 0x80) != 0 || (r & 1) != 0 || (size_t)(q - *p) + (size_t)len > *left)
        return 0;
    *content = q;
    *clen = (size_t)len;
    *left -= (size_t)(q - *p) + (size_t)len;
    *p = q + len;
    return 1;
}

/* Appends a TLV header for len content bytes. */
static unsigned char *put_head(unsigned char *p, int constructed, int len, int tag, int cls)
{
    ASN1_put_object(&p, constructed, len, tag, cls);
    return p;
}

/* DER SEQUENCE { a, b } (the ProtectedPart) into a new buffer. */
static unsigned char *seq2(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
                           size_t *outlen)
{
    int n = (int)(alen + blen), total = ASN1_object_size(1, n, V_ASN1_SEQUENCE);
    unsigned char *buf, *p;

    if (total <= 0 || (buf = OPENSSL_malloc((size_t)total)) == NULL)
        return NULL;
    p = put_head(buf, 1, n, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    memcpy(p, a, alen);
    memcpy(p + alen, b, blen);
    *outlen = (size_t)total;
    return buf;
}

typedef struct {
    AF_CMP_HDR_VIEW *hdr;
    const unsigned char *hdr_der, *body_der, *itavs;
    size_t hdr_len, body_len, itavs_len;
    ASN1_BIT_STRING *protection;
    OSSL_CRMF_PBMPARAMETER *pbmp;
} fast_req;

static void fast_req_clear(fast_req *f)
{
    af_cmp_hdr_view_free(f->hdr);
    ASN1_BIT_STRING_free(f->protection);
    OSSL_CRMF_PBMPARAMETER_free(f->pbmp);
}

/* Splits a PBM-protected genm; 0 when it is anything else (then OpenSSL's path decides). */
static int fast_parse(const unsigned char *in, size_t inlen, fast_req *f)
{
    const unsigned char *p = in, *msg, *c;
    size_t left = inlen, mlen, clen;
    int tag, cls;
    const ASN1_OBJECT *aoid;
    const void *pval;
    int ptype;
    long pvno;

    memset(f, 0, sizeof(*f));
    if (!tlv(&p, &left, &tag, &cls, &msg, &mlen) || left != 0 || tag != V_ASN1_SEQUENCE)
        return 0;
    p = msg;
    left = mlen;
    f->hdr_der = p;
    if (!tlv(&p, &left, &tag, &cls, &c, &clen) || tag != V_ASN1_SEQUENCE)
        return 0;
    f->hdr_len = (size_t)(p - f->hdr_der);
    f->body_der = p;
    if (!tlv(&p, &left, &tag, &cls, &c, &clen) || cls != V_ASN1_CONTEXT_SPECIFIC ||
        tag != PKIBODY_GENM)
        return 0;
    f->body_len = (size_t)(p - f->body_der);
    /* genm content: SEQUENCE OF InfoTypeAndValue */
    if (!tlv(&c, &clen, &tag, &cls, &f->itavs, &f->itavs_len) || clen != 0 ||
        tag != V_ASN1_SEQUENCE)
        return 0;
    /* protection [0] BIT STRING; extraCerts [1] may follow and are not looked at */
    if (!tlv(&p, &left, &tag, &cls, &c, &clen) || cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0 ||
        (f->protection = d2i_ASN1_BIT_STRING(NULL, &c, (long)clen)) == NULL)
        return 0;
    if ((f->hdr = af_cmp_hdr_view_d2i(f->hdr_der, f->hdr_len)) == NULL)
        return 0;
    pvno = ASN1_INTEGER_get(f->hdr->pvno);
    if ((pvno != 2 && pvno != 3) || f->hdr->protectionAlg == NULL ||
        f->hdr->transactionID == NULL || ASN1_STRING_length(f->hdr->transactionID) <= 0 ||
        f->hdr->senderNonce == NULL || ASN1_STRING_length(f->hdr->senderNonce) <= 0)
        return 0;
    X509_ALGOR_get0(&aoid, &ptype, &pval, f->hdr->protectionAlg);
    if (OBJ_obj2nid(aoid) != NID_id_PasswordBasedMAC || ptype != V_ASN1_SEQUENCE)
        return 0;
    f->pbmp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(OSSL_CRMF_PBMPARAMETER),
                                        f->hdr->protectionAlg->parameter);
    return f->pbmp != NULL;
}

/* The nonce request among the genm's ITAVs: 1 found (req set), 0 failure (c says why). */
static int fast_request(cmp_call *c, const fast_req *f, AF_NONCE_REQ **req)
{
    const char *want = af_nonce_profile_get0_oid(c->prof, AF_NONCE_OID_CMP_REQUEST);
    ASN1_OBJECT *want_obj = OBJ_txt2obj(want, 1), *type = NULL;
    const unsigned char *p = f->itavs, *item = NULL, *q, *ic;
    size_t left = f->itavs_len, item_len = 0, iclen;
    AF_NONCE_CODEC *codec = NULL;
    int tag, cls, found = 0, ok = 0;

    *req = NULL;
    while (want_obj != NULL && left > 0) {
        const unsigned char *start = p;

        if (!tlv(&p, &left, &tag, &cls, &ic, &iclen) || tag != V_ASN1_SEQUENCE) {
            AF_ERR(AF_R_NONCE_DECODE, "genm: malformed InfoTypeAndValue");
            call_fail(c, OSSL_CMP_PKIFAILUREINFO_badDataFormat, "genm");
            goto end;
        }
        q = ic;
        if ((type = d2i_ASN1_OBJECT(NULL, &q, (long)iclen)) == NULL) {
            AF_ERR(AF_R_NONCE_DECODE, "genm: InfoTypeAndValue without infoType");
            call_fail(c, OSSL_CMP_PKIFAILUREINFO_badDataFormat, "genm");
            goto end;
        }
        if (OBJ_cmp(type, want_obj) == 0) {
            if (found++) {
                AF_ERR(AF_R_NONCE_SHAPE, "more than one %s ITAV", want);
                call_fail(c, OSSL_CMP_PKIFAILUREINFO_badRequest, "genm");
                goto end;
            }
            item = start;
            item_len = (size_t)(p - start);
            if (q == ic + iclen) /* no infoValue: the empty request (5.1) */
                item = NULL;
        }
        ASN1_OBJECT_free(type);
        type = NULL;
    }
    if (!found) {
        AF_ERR(AF_R_NONCE_MISSING, "genm carries no nonce request (infoType %s, profile %s)", want,
               af_nonce_profile_get0_name(c->prof));
        call_fail(c, OSSL_CMP_PKIFAILUREINFO_badRequest, "genm");
        goto end;
    }
    if (item == NULL) {
        ok = (*req = empty_request()) != NULL;
        if (!ok)
            call_fail(c, OSSL_CMP_PKIFAILUREINFO_systemFailure, "genm");
        goto end;
    }
    if ((codec = af_nonce_codec_new()) == NULL) {
        call_fail(c, OSSL_CMP_PKIFAILUREINFO_systemFailure, "genm");
        goto end;
    }
    af_nonce_codec_set_lenient(codec, af_ra_get_lenient(c->ra));
    if (!af_nonce_req_decode(req, c->prof, AF_NONCE_FMT_ITAV, codec, item, item_len)) {
        call_fail(c, fail_bit_for(ERR_peek_last_error()), "nonce request");
        goto end;
    }
    ok = 1;
end:
    ASN1_OBJECT_free(type);
    ASN1_OBJECT_free(want_obj);
    af_nonce_codec_free(codec);
    return ok;
}

/* protectionAlg := PBM with the cached key's parameters (the PBMParameter SEQUENCE itself), and
 * senderKID := the RA's reference. */
static int pbm_header(AF_CMP_HDR_VIEW *h, const pbm_key *k)
{
    ASN1_STRING *params = ASN1_STRING_new();

    X509_ALGOR_free(h->protectionAlg);
    if ((h->protectionAlg = X509_ALGOR_new()) == NULL || params == NULL ||
        !ASN1_STRING_set(params, k->params, (int)k->params_len) ||
        !X509_ALGOR_set0(h->protectionAlg, OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_SEQUENCE,
                         params)) {
        ASN1_STRING_free(params);
        return 0;
    }
    return af_cmp_view_set1_octets(&h->senderKID, (const unsigned char *)RA_REFERENCE,
                                   strlen(RA_REFERENCE));
}

/* PKIMessage ::= SEQUENCE { header h, body, [0] BIT STRING (the MAC over {header, body} with the
 * cached key, no unused bits), rest (extraCerts [1] as they were, or nothing) } into a new
 * buffer. */
static int pbm_message(OSSL_LIB_CTX *libctx, const pbm_key *k, const AF_CMP_HDR_VIEW *h,
                       const unsigned char *body, size_t blen, const unsigned char *rest,
                       size_t rest_len, unsigned char **out, size_t *outlen)
{
    unsigned char mac[32], *hder = NULL, *pp = NULL, *w;
    size_t hlen = 0, pplen = 0;
    int ok = 0, prot_len, msg_len, total;

    *out = NULL;
    if ((hlen = af_cmp_hdr_view_i2d(h, &hder)) == 0 ||
        (pp = seq2(hder, hlen, body, blen, &pplen)) == NULL ||
        !hmac_sha256(libctx, k->key, pp, pplen, mac))
        goto end;
    prot_len = ASN1_object_size(1, ASN1_object_size(0, 1 + (int)sizeof(mac), V_ASN1_BIT_STRING), 0);
    msg_len = (int)(hlen + blen + rest_len) + prot_len;
    total = ASN1_object_size(1, msg_len, V_ASN1_SEQUENCE);
    if ((*out = OPENSSL_malloc((size_t)total)) == NULL)
        goto end;
    w = put_head(*out, 1, msg_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    memcpy(w, hder, hlen);
    w += hlen;
    memcpy(w, body, blen);
    w += blen;
    w = put_head(w, 1, ASN1_object_size(0, 1 + (int)sizeof(mac), V_ASN1_BIT_STRING), 0,
                 V_ASN1_CONTEXT_SPECIFIC);
    w = put_head(w, 0, 1 + (int)sizeof(mac), V_ASN1_BIT_STRING, V_ASN1_UNIVERSAL);
    *w++ = 0;
    memcpy(w, mac, sizeof(mac));
    w += sizeof(mac);
    if (rest_len > 0)
        memcpy(w, rest, rest_len);
    *outlen = (size_t)total;
    ok = 1;
end:
    OPENSSL_free(hder);
    OPENSSL_free(pp);
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok;
}

/* The answer: header (ours, bound to the request), body, PBM protection with the cached key. */
static int fast_answer(cmp_call *c, const fast_req *f, const unsigned char *body, size_t blen,
                       const pbm_key *k, AF_RA_HTTP_RESP *rs)
{
    static const unsigned char null_dn[] = {0xa4, 0x02, 0x30, 0x00}; /* directoryName, NULL-DN */
    AF_CMP_HDR_VIEW *h = af_cmp_hdr_view_new();
    unsigned char nonce[SENDER_NONCE_LEN], *out = NULL;
    size_t total = 0;
    ASN1_STRING *raw = NULL;
    int ok = 0;

    if (h == NULL || RAND_bytes_ex(af_ra_get0_libctx(c->ra), nonce, sizeof(nonce), 0) <= 0)
        goto end;
    if (!ASN1_INTEGER_set(h->pvno, ASN1_INTEGER_get(f->hdr->pvno)) ||
        (raw = ASN1_STRING_type_new(V_ASN1_OTHER)) == NULL ||
        !ASN1_STRING_set(raw, null_dn, sizeof(null_dn)))
        goto end;
    ASN1_TYPE_set(h->sender, V_ASN1_OTHER, raw);
    raw = NULL;
    ASN1_TYPE_free(h->recipient);
    if ((h->recipient = ASN1_TYPE_new()) == NULL ||
        !ASN1_TYPE_set1(h->recipient, f->hdr->sender->type, f->hdr->sender->value.ptr))
        goto end;
    if ((h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL))) == NULL || !pbm_header(h, k))
        goto end;
    if (!af_cmp_view_set1_octets(&h->transactionID, ASN1_STRING_get0_data(f->hdr->transactionID),
                                 (size_t)ASN1_STRING_length(f->hdr->transactionID)) ||
        !af_cmp_view_set1_octets(&h->senderNonce, nonce, sizeof(nonce)) ||
        !af_cmp_view_set1_octets(&h->recipNonce, ASN1_STRING_get0_data(f->hdr->senderNonce),
                                 (size_t)ASN1_STRING_length(f->hdr->senderNonce)))
        goto end;
    if (!pbm_message(af_ra_get0_libctx(c->ra), k, h, body, blen, NULL, 0, &out, &total))
        goto end;
    rs->status = 200;
    snprintf(rs->content_type, sizeof(rs->content_type), "%s", CMP_MEDIA_TYPE);
    rs->body = out;
    rs->body_len = total;
    ok = 1;
end:
    ASN1_STRING_free(raw);
    af_cmp_hdr_view_free(h);
    return ok;
}

/* 1 when the request was answered here (genp or error), 0 to take OpenSSL's path. */
static int fast_genm(cmp_call *c, AF_RA_HTTP_RESP *rs)
{
    const AF_RA_HTTP_REQ *rq = c->rq;
    size_t slen, pplen = 0, blen = 0, mlen = 0;
    const unsigned char *secret = af_ra_get0_cmp_secret(c->ra, &slen);
    OSSL_LIB_CTX *libctx = af_ra_get0_libctx(c->ra);
    unsigned char *pp = NULL, *mac = NULL, *body = NULL, *itav = NULL;
    AF_NONCE_REQ *req = NULL;
    AF_NONCE_RESP *resp = NULL;
    fast_req f;
    pbm_key k;
    int handled = 0, good;

    memset(&f, 0, sizeof(f));
    if (secret == NULL || !fast_parse(rq->body, rq->body_len, &f))
        goto end;
    /* only what OpenSSL itself reads as one PKIMessage is answered here (the view above keeps
     * some fields as ANY; the answer copies the sender) */
    {
        const unsigned char *q = rq->body;
        OSSL_CMP_MSG *m = d2i_OSSL_CMP_MSG(NULL, &q, (long)rq->body_len);
        int whole = m != NULL && q == rq->body + rq->body_len;

        OSSL_CMP_MSG_free(m);
        if (!whole)
            goto end;
    }
    if (!pbm_key_get(libctx, secret, slen, &k))
        goto end;
    /* the request's MAC, computed as OpenSSL computes it */
    if ((pp = seq2(f.hdr_der, f.hdr_len, f.body_der, f.body_len, &pplen)) == NULL ||
        !OSSL_CRMF_pbm_new(libctx, NULL, f.pbmp, pp, pplen, secret, slen, &mac, &mlen))
        goto end; /* e.g. an unsupported MAC algorithm: OpenSSL's path explains */
    handled = 1;
    good = (size_t)ASN1_STRING_length(f.protection) == mlen &&
           CRYPTO_memcmp(ASN1_STRING_get0_data(f.protection), mac, mlen) == 0;
    if (!good) {
        c->fail_bit = OSSL_CMP_PKIFAILUREINFO_badMessageCheck;
        snprintf(c->why, sizeof(c->why), "request refused: wrong pbm value");
    } else if (fast_request(c, &f, &req) &&
               issue(c, req, ASN1_STRING_get0_data(f.hdr->transactionID),
                     (size_t)ASN1_STRING_length(f.hdr->transactionID), &resp)) {
        size_t ilen;
        int n;
        unsigned char *w;

        if (!af_nonce_resp_encode(resp, c->prof, AF_NONCE_FMT_ITAV, NULL, &itav, &ilen)) {
            call_fail(c, OSSL_CMP_PKIFAILUREINFO_systemFailure, "genp");
        } else {
            /* genp [22] { SEQUENCE OF InfoTypeAndValue } */
            n = ASN1_object_size(1, (int)ilen, V_ASN1_SEQUENCE);
            blen = (size_t)ASN1_object_size(1, n, PKIBODY_GENP);
            if ((body = OPENSSL_malloc(blen)) != NULL) {
                w = put_head(body, 1, n, PKIBODY_GENP, V_ASN1_CONTEXT_SPECIFIC);
                w = put_head(w, 1, (int)ilen, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
                memcpy(w, itav, ilen);
            } else {
                call_fail(c, OSSL_CMP_PKIFAILUREINFO_systemFailure, "genp");
            }
        }
    }
    if (body == NULL && (blen = af_cmp_error_body_der(c->fail_bit, c->why, &body)) == 0) {
        handled = 0; /* cannot even say why: let OpenSSL's path answer */
        goto end;
    }
    if (!fast_answer(c, &f, body, blen, &k, rs)) {
        handled = 0;
        goto end;
    }
    if (c->fail_bit >= 0)
        snprintf(rs->log, sizeof(rs->log), "cmp %s: error %s: %s",
                 af_nonce_profile_get0_name(c->prof), fail_name(c->fail_bit), c->why);
    else
        snprintf(rs->log, sizeof(rs->log), "cmp %s: genp, nonce of %zu bytes",
                 af_nonce_profile_get0_name(c->prof), c->issued);
end:
    if (!handled)
        c->fail_bit = -1;
    OPENSSL_cleanse(&k, sizeof(k));
    fast_req_clear(&f);
    OPENSSL_free(pp);
    OPENSSL_free(mac);
    OPENSSL_free(body);
    OPENSSL_free(itav);
    af_nonce_req_free(req);
    af_nonce_resp_free(resp);
    return handled;
}

/* ---- answers of OpenSSL's path under PBM ------------------------------------------------------ *
 * OpenSSL's server protects each PBM answer with a key derived for a fresh salt (500 hashes, about
 * 0.06 ms per answer: an ip/cp on every CMP enrollment). When it would answer with PBM, it is told
 * to answer unprotected instead, and the answer is protected here with the cached key of the fast
 * path, for the reasons given there; everything else of the answer is OpenSSL's, byte for byte. */

/* The request's PKIHeader (a view), or NULL when the body is not a PKIMessage. */
static AF_CMP_HDR_VIEW *request_header(const unsigned char *in, size_t len)
{
    const unsigned char *p = in, *msg, *c, *hdr;
    size_t left = len, mlen, clen;
    int tag, cls;

    if (!tlv(&p, &left, &tag, &cls, &msg, &mlen) || tag != V_ASN1_SEQUENCE)
        return NULL;
    p = hdr = msg;
    left = mlen;
    if (!tlv(&p, &left, &tag, &cls, &c, &clen) || tag != V_ASN1_SEQUENCE)
        return NULL;
    return af_cmp_hdr_view_d2i(hdr, (size_t)(p - hdr));
}

/* 1 when OpenSSL's server would protect its answer with PBM: the RA has a MAC secret, and either
 * no signing credentials or a PBM-protected request (OSSL_CMP_SRV_process_request's choice). */
static int pbm_answer(AF_RA *ra, const AF_RA_HTTP_REQ *rq)
{
    size_t slen;
    AF_CMP_HDR_VIEW *h;
    const ASN1_OBJECT *aoid = NULL;
    int pbm;

    if (af_ra_get0_cmp_secret(ra, &slen) == NULL)
        return 0;
    if (af_ra_get0_cmp_key(ra) == NULL || af_ra_get0_cmp_cert(ra) == NULL)
        return 1;
    if ((h = request_header(rq->body, rq->body_len)) == NULL)
        return 0;
    if (h->protectionAlg != NULL)
        X509_ALGOR_get0(&aoid, NULL, NULL, h->protectionAlg);
    pbm = aoid != NULL && OBJ_obj2nid(aoid) == NID_id_PasswordBasedMAC;
    af_cmp_hdr_view_free(h);
    return pbm;
}

/* The unprotected answer der protected with k (new buffer *out); 0 when it is not an unprotected
 * PKIMessage. */
static int protect_answer(OSSL_LIB_CTX *libctx, const pbm_key *k, const unsigned char *der,
                          size_t len, unsigned char **out, size_t *outlen)
{
    const unsigned char *p = der, *msg, *c, *hdr, *body;
    size_t left = len, mlen, clen, hlen, blen;
    AF_CMP_HDR_VIEW *h;
    int tag, cls, ok;

    if (!tlv(&p, &left, &tag, &cls, &msg, &mlen) || left != 0 || tag != V_ASN1_SEQUENCE)
        return 0;
    p = hdr = msg;
    left = mlen;
    if (!tlv(&p, &left, &tag, &cls, &c, &clen) || tag != V_ASN1_SEQUENCE)
        return 0;
    hlen = (size_t)(p - hdr);
    body = p;
    if (!tlv(&p, &left, &tag, &cls, &c, &clen) || cls != V_ASN1_CONTEXT_SPECIFIC)
        return 0;
    blen = (size_t)(p - body);
    /* what may follow is extraCerts [1], kept as it is; never a protection [0] */
    if (left > 0) {
        const unsigned char *q = p;
        size_t l = left;

        if (!tlv(&q, &l, &tag, &cls, &c, &clen) || cls != V_ASN1_CONTEXT_SPECIFIC || tag != 1 ||
            l != 0)
            return 0;
    }
    if ((h = af_cmp_hdr_view_d2i(hdr, hlen)) == NULL)
        return 0;
    ok = h->protectionAlg == NULL && pbm_header(h, k) &&
         pbm_message(libctx, k, h, body, blen, p, left, out, outlen);
    af_cmp_hdr_view_free(h);
    return ok;
}

int af_ra_cmp_handle(AF_RA *ra, const AF_RA_HTTP_REQ *rq, AF_RA_HTTP_RESP *rs)
{
    cmp_call c;
    OSSL_CMP_SRV_CTX *srv = NULL;
    OSSL_CMP_MSG *req = NULL, *rsp = NULL;
    const unsigned char *p, *secret;
    unsigned char *der = NULL, *prot = NULL;
    size_t slen = 0, prot_len = 0;
    pbm_key k;
    int len, pbm = 0;

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
    if (fast_genm(&c, rs))
        goto done;
    p = rq->body;
    req = d2i_OSSL_CMP_MSG(NULL, &p, (long)rq->body_len);
    if (req == NULL || p != rq->body + rq->body_len) {
        answer_http(rs, 400, "cmp: %s",
                    req == NULL ? "body is not a PKIMessage" : "bytes after the PKIMessage");
        goto done;
    }
    if ((srv = OSSL_CMP_SRV_CTX_new(af_ra_get0_libctx(ra), NULL)) == NULL ||
        !configure(srv, ra, &c)) {
        answer_http(rs, 500, "cmp: %s", "cannot set up the CMP server context");
        goto done;
    }
    /* an answer OpenSSL would protect with PBM is protected with the cached key instead */
    if (pbm_answer(ra, rq) && (secret = af_ra_get0_cmp_secret(ra, &slen)) != NULL &&
        pbm_key_get(af_ra_get0_libctx(ra), secret, slen, &k) &&
        OSSL_CMP_CTX_set_option(OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv), OSSL_CMP_OPT_UNPROTECTED_SEND,
                                1))
        pbm = 1;
    if (OSSL_CMP_MSG_get_bodytype(req) == PKIBODY_CERTCONF) {
        /* stateless: continue the request's own transaction (see cert_conf_cb) */
        const ASN1_OCTET_STRING *tid =
            OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req));

        if (tid != NULL &&
            !OSSL_CMP_CTX_set1_transactionID(OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv), tid)) {
            answer_http(rs, 500, "cmp: %s", "cannot set up the CMP server context");
            goto done;
        }
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
    } else if (c.enroll_log[0] != '\0') {
        snprintf(rs->log, sizeof(rs->log), "%s", c.enroll_log);
    } else {
        snprintf(rs->log, sizeof(rs->log), "cmp %s: genp, nonce of %zu bytes",
                 af_nonce_profile_get0_name(c.prof), c.issued);
    }
    if ((len = i2d_OSSL_CMP_MSG(rsp, &der)) <= 0) {
        answer_http(rs, 500, "cmp: %s", "cannot encode the response");
        goto done;
    }
    if (pbm) {
        if (!protect_answer(af_ra_get0_libctx(ra), &k, der, (size_t)len, &prot, &prot_len)) {
            answer_http(rs, 500, "cmp: %s", "cannot protect the response");
            goto done;
        }
        OPENSSL_free(der);
        der = prot;
        len = (int)prot_len;
    }
    rs->status = 200;
    snprintf(rs->content_type, sizeof(rs->content_type), "%s", CMP_MEDIA_TYPE);
    rs->body = der;
    rs->body_len = (size_t)len;
    der = NULL;
done:
    OPENSSL_free(der);
    if (pbm)
        OPENSSL_cleanse(&k, sizeof(k));
    /* what went wrong is in the log line; leave the thread's queue as we found it */
    ERR_pop_to_mark();
    OSSL_CMP_MSG_free(req);
    OSSL_CMP_MSG_free(rsp);
    OSSL_CMP_SRV_CTX_free(srv);
    return 1;
}

/* clang-format off */
ASN1_SEQUENCE(AF_PBMP) = {
    ASN1_SIMPLE(AF_PBMP, salt, ASN1_OCTET_STRING),
    ASN1_SIMPLE(AF_PBMP, owf, X509_ALGOR),
    ASN1_SIMPLE(AF_PBMP, iter, ASN1_INTEGER),
    ASN1_SIMPLE(AF_PBMP, mac, X509_ALGOR),
} static_ASN1_SEQUENCE_END(AF_PBMP)
