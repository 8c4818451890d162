/* enroll_ra.c - the RA's enrollment decision: an attested CSR (PKCS#10 or CRMF) is verified with
 * the nonce check bound to the transaction it arrived in (the RA's nonce store consumes the nonce
 * for exactly that binding), the AK trust anchors and the key-claim policy; only when every check
 * passed does the local CA issue. A refusal names the failed check and a protocol-neutral class
 * that each protocol turns into its own answer. Also keeps each RA's enrollment settings. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"

struct af_ra_enroll_st {
    OSSL_LIB_CTX *libctx;
    char *propq;
    AF_CA *ca;
    STACK_OF(X509) * trust;
    AF_POLICY *policy; /* NULL = the default policy */
    /* Trust and policy prepared once; each request derives a cheap verifier from it that shares
     * the trust store and the cache of proven AK chains (af_verify_new_from). Rebuilt whenever
     * trust or policy change, which happens only while the RA is being configured. */
    AF_VERIFY *proto;
    int send_ca;
};

static void rebuild_proto(AF_RA_ENROLL *e)
{
    AF_VERIFY *v;
    int i, ok;

    af_verify_free(e->proto);
    e->proto = NULL;
    if ((v = af_verify_new(e->libctx, e->propq)) == NULL)
        goto fallback;
    for (ok = 1, i = 0; ok && i < sk_X509_num(e->trust); i++)
        ok = af_verify_add1_trust(v, sk_X509_value(e->trust, i));
    if (!ok || (e->policy != NULL && !af_verify_set_policy(v, e->policy))) {
        af_verify_free(v);
        goto fallback;
    }
    e->proto = v;
    return;
fallback:
    /* Requests then build their verifier from the settings each time: slower, same result. */
    ERR_clear_error();
}

AF_RA_ENROLL *af_ra_enroll_new(OSSL_LIB_CTX *libctx, const char *propq)
{
    AF_RA_ENROLL *e = OPENSSL_zalloc(sizeof(*e));

    if (e == NULL || (e->trust = sk_X509_new_null()) == NULL ||
        (propq != NULL && (e->propq = OPENSSL_strdup(propq)) == NULL)) {
        af_ra_enroll_free(e);
        AF_ERR(AF_R_MALLOC, "RA enrollment settings");
        return NULL;
    }
    e->libctx = libctx;
    e->send_ca = 1;
    return e;
}

void af_ra_enroll_free(AF_RA_ENROLL *e)
{
    if (e == NULL)
        return;
    af_ca_free(e->ca);
    af_verify_free(e->proto);
    sk_X509_pop_free(e->trust, X509_free);
    af_policy_free(e->policy);
    OPENSSL_free(e->propq);
    OPENSSL_free(e);
}

int af_ra_enroll_set0_ca(AF_RA_ENROLL *e, AF_CA *ca)
{
    if (e == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no RA enrollment settings");
        return 0;
    }
    af_ca_free(e->ca);
    e->ca = ca;
    return 1;
}

AF_CA *af_ra_enroll_get0_ca(const AF_RA_ENROLL *e)
{
    return e != NULL ? e->ca : NULL;
}

int af_ra_enroll_add1_trust(AF_RA_ENROLL *e, X509 *anchor)
{
    if (e == NULL || anchor == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no trust anchor");
        return 0;
    }
    if (!sk_X509_push(e->trust, anchor)) {
        AF_ERR(AF_R_MALLOC, "trust anchors");
        return 0;
    }
    X509_up_ref(anchor);
    rebuild_proto(e);
    return 1;
}

int af_ra_enroll_load_trust(AF_RA_ENROLL *e, const char *path)
{
    STACK_OF(X509) * sk;
    int i, ok = 1;

    if (e == NULL || path == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no AK trust file");
        return 0;
    }
    if ((sk = af_load_certs(path, e->libctx, e->propq)) == NULL)
        return 0;
    for (i = 0; ok && i < sk_X509_num(sk); i++)
        ok = af_ra_enroll_add1_trust(e, sk_X509_value(sk, i));
    sk_X509_pop_free(sk, X509_free);
    return ok;
}

int af_ra_enroll_load_policy(AF_RA_ENROLL *e, const char *path)
{
    AF_POLICY *p;

    if (e == NULL || path == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no policy file");
        return 0;
    }
    if ((p = af_policy_new()) == NULL)
        return 0;
    if (!af_policy_load(p, path)) {
        af_policy_free(p);
        return 0;
    }
    af_policy_free(e->policy);
    e->policy = p;
    rebuild_proto(e);
    return 1;
}

void af_ra_enroll_set_send_ca(AF_RA_ENROLL *e, int on)
{
    if (e != NULL)
        e->send_ca = on != 0;
}

int af_ra_enroll_get_send_ca(const AF_RA_ENROLL *e)
{
    return e != NULL && e->send_ca;
}

/* ---- attachment to an RA ---------------------------------------------------------------------
 * A handful of RAs per process at most (one per `attfresh serve`, a few in tests): a small table
 * under a lock is enough, and it spares the RA context a field it would only carry around. */
#define ENROLL_MAX_RAS 64

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const AF_RA *ra;
    AF_RA_ENROLL *e;
} attached[ENROLL_MAX_RAS];

int af_ra_set0_enroll(AF_RA *ra, AF_RA_ENROLL *e)
{
    AF_RA_ENROLL *old = NULL;
    int i, slot = -1, ok = 1;

    if (ra == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no RA");
        return 0;
    }
    pthread_mutex_lock(&attach_lock);
    for (i = 0; i < ENROLL_MAX_RAS; i++) {
        if (attached[i].ra == ra) {
            slot = i;
            break;
        }
        if (slot < 0 && attached[i].ra == NULL)
            slot = i;
    }
    if (slot < 0) {
        ok = 0;
    } else {
        old = attached[slot].ra == ra ? attached[slot].e : NULL;
        attached[slot].ra = e != NULL ? ra : NULL;
        attached[slot].e = e;
    }
    pthread_mutex_unlock(&attach_lock);
    af_ra_enroll_free(old);
    if (!ok)
        AF_ERR(AF_R_INTERNAL, "more than %d RAs with enrollment in one process", ENROLL_MAX_RAS);
    return ok;
}

AF_RA_ENROLL *af_ra_get0_enroll(const AF_RA *ra)
{
    AF_RA_ENROLL *e = NULL;
    int i;

    if (ra == NULL)
        return NULL;
    pthread_mutex_lock(&attach_lock);
    for (i = 0; i < ENROLL_MAX_RAS; i++)
        if (attached[i].ra == ra) {
            e = attached[i].e;
            break;
        }
    pthread_mutex_unlock(&attach_lock);
    return e;
}

/* ---- the decision ------------------------------------------------------------------------- */

const char *af_enroll_class_str(af_enroll_class c)
{
    switch (c) {
    case AF_ENROLL_OK:
        return "accepted";
    case AF_ENROLL_BAD_REQUEST:
        return "badRequest";
    case AF_ENROLL_BAD_POP:
        return "badPOP";
    case AF_ENROLL_NOT_AUTHORIZED:
        return "notAuthorized";
    case AF_ENROLL_NOT_CONFIGURED:
        return "notSupported";
    default:
        return "systemFailure";
    }
}

/* Which class a failed check belongs to: the request's form (badRequest), its proof of
 * possession (badPOP), or whether this key may be certified at all (notAuthorized). */
static af_enroll_class class_of(const char *check)
{
    static const char *const authz[] = {AF_CHECK_EVIDENCE_SIGNATURE, AF_CHECK_AK_CHAIN,
                                        AF_CHECK_AK_USAGE, AF_CHECK_NONCE, AF_CHECK_POLICY};
    size_t i;

    if (strcmp(check, AF_CHECK_CSR_SIGNATURE) == 0)
        return AF_ENROLL_BAD_POP;
    for (i = 0; i < sizeof(authz) / sizeof(authz[0]); i++)
        if (strcmp(check, authz[i]) == 0)
            return AF_ENROLL_NOT_AUTHORIZED;
    return AF_ENROLL_BAD_REQUEST;
}

static void result_set(AF_ENROLL_RESULT *res, af_enroll_class cls, const char *check,
                       const char *detail)
{
    res->cls = cls;
    snprintf(res->check, sizeof(res->check), "%s", check);
    snprintf(res->why, sizeof(res->why), "%s: %s", check, detail != NULL ? detail : "failed");
}

/* What the verifier's nonce check calls: the nonce must have been issued by this RA for this
 * very transaction, be unexpired and unused; consuming it marks it used. */
typedef struct {
    AF_NONCE_STORE *store;
    const unsigned char *binding;
    size_t binding_len;
} nonce_arg;

static int consume_cb(const unsigned char *nonce, size_t len, void *arg, char *why, size_t whysize)
{
    nonce_arg *a = arg;
    AF_NONCE_RESULT r;

    r = af_nonce_store_consume(a->store, nonce, len, a->binding, a->binding_len);
    if (r == AF_NONCE_OK) {
        ERR_clear_error();
        return 1;
    }
    switch (r) {
    case AF_NONCE_UNKNOWN:
        snprintf(why, whysize, "nonce not issued by this RA (or forgotten)");
        break;
    case AF_NONCE_EXPIRED:
        snprintf(why, whysize, "nonce expired");
        break;
    case AF_NONCE_REUSED:
        snprintf(why, whysize, "nonce already used");
        break;
    case AF_NONCE_WRONG_TRANSACTION:
        snprintf(why, whysize, "nonce issued for another transaction");
        break;
    default: {
        char line[160];

        af_err_line(line, sizeof(line));
        snprintf(why, whysize, "nonce store: %s", line);
        break;
    }
    }
    ERR_clear_error();
    return 0;
}

X509 *af_ra_enroll(AF_RA *ra, const X509_REQ *req, const OSSL_CRMF_MSG *crm,
                   const unsigned char *binding, size_t binding_len, AF_ENROLL_RESULT *res,
                   AF_CHECKS *checks)
{
    AF_ENROLL_RESULT unused_result;
    AF_RA_ENROLL *e = af_ra_get0_enroll(ra);
    AF_CHECKS *own = NULL;
    AF_VERIFY *v = NULL;
    nonce_arg na;
    X509 *cert = NULL;
    char line[200];
    int i, passed, fail;

    if (res == NULL)
        res = &unused_result;
    memset(res, 0, sizeof(*res));
    if (e == NULL || e->ca == NULL) {
        result_set(res, AF_ENROLL_NOT_CONFIGURED, "config", "this RA has no CA");
        return NULL;
    }
    if ((req == NULL) == (crm == NULL)) {
        result_set(res, AF_ENROLL_BAD_REQUEST, "config", "no certification request");
        return NULL;
    }
    if (binding == NULL || binding_len == 0) {
        /* nonce-protocol.md 5.2: a CSR the server cannot associate is not treated as fresh */
        result_set(res, AF_ENROLL_NOT_AUTHORIZED, AF_CHECK_NONCE,
                   "the request is not bound to a transaction that got a nonce");
        return NULL;
    }
    if (checks == NULL && (checks = own = af_checks_new()) == NULL)
        goto internal;
    if (e->proto != NULL) {
        if ((v = af_verify_new_from(e->proto)) == NULL)
            goto internal;
    } else {
        if ((v = af_verify_new(e->libctx, e->propq)) == NULL)
            goto internal;
        for (i = 0; i < sk_X509_num(e->trust); i++)
            if (!af_verify_add1_trust(v, sk_X509_value(e->trust, i)))
                goto internal;
        if (e->policy != NULL && !af_verify_set_policy(v, e->policy))
            goto internal;
    }
    na.store = af_ra_get0_store(ra);
    na.binding = binding;
    na.binding_len = binding_len;
    af_verify_set_nonce_cb(v, consume_cb, &na);

    passed =
        req != NULL ? af_csr_verify(v, (X509_REQ *)req, checks) : af_crmf_verify(v, crm, checks);
    if (!passed || !af_checks_passed(checks)) {
        ERR_clear_error();
        fail = af_checks_first_failure(checks);
        if (fail < 0) {
            result_set(res, AF_ENROLL_BAD_REQUEST, "verify", "the request could not be verified");
        } else {
            const char *name = af_checks_name(checks, (size_t)fail);

            result_set(res, class_of(name), name, af_checks_detail(checks, (size_t)fail));
        }
        goto done;
    }
    cert = req != NULL ? af_ca_issue_req(e->ca, req) : af_ca_issue_crmf(e->ca, crm);
    if (cert == NULL) {
        af_err_line(line, sizeof(line));
        result_set(res, AF_ENROLL_INTERNAL, "ca", line);
        goto done;
    }
    res->cls = AF_ENROLL_OK;
    goto done;
internal:
    af_err_line(line, sizeof(line));
    result_set(res, AF_ENROLL_INTERNAL, "verify", line);
done:
    ERR_clear_error();
    af_verify_free(v);
    af_checks_free(own);
    return cert;
}
