/* http_server.c - the RA's HTTP and HTTPS listeners (libmicrohttpd; TLS through its GnuTLS):
 * bounded request bodies (413), routing of the CMP, CMC and EST paths to the responders of
 * server.h, profile by path (404 when unknown), optional TLS client-certificate authentication,
 * a TLS server key from a PEM file or a pkcs11: URI, one log line per request, a background
 * sweep of expired nonces, and for EST over TLS the connection's binding value (from its
 * tls-exporter channel binding, once per connection) that lets /simpleenroll without the cookie
 * prove it continues the /nonce of the same TLS connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "attfresh/enroll.h"
#include "attfresh/err.h"
#include "attfresh/server.h"

#define SRV_DEFAULT_MAX_BODY 65536
#define SRV_MAX_PEM (256 * 1024)
#define SRV_MAX_SEGMENT 64
#define SRV_SWEEP_INTERVAL_MS 200
#define SRV_SWEEP_WORK 65536
#define SRV_MAX_CHAIN 8
#define SRV_CONN_MEMORY (16 * 1024)
#define SRV_BIND_KEY_BYTES 32
#define SRV_BIND_LABEL "attfresh est binding"

typedef struct af_ra_listener_st {
    AF_RA_SERVER *srv;
    int tls;
    struct MHD_Daemon *d;
    int port;
} AF_RA_LISTENER;

struct af_ra_server_st {
    AF_RA *ra;
    AF_RA_SERVER_CONFIG cfg;
    FILE *log;
    AF_RA_LISTENER http, https;
    pthread_t sweeper;
    int sweeper_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
    /* HMAC key for the EST binding values derived from TLS connections: random per server, so a
     * value means nothing to another server (or after a restart) and reveals nothing of the
     * exporter. */
    unsigned char bind_key[SRV_BIND_KEY_BYTES];
};

/* Per TLS connection (MHD's socket context): its EST binding value, worked out at its first EST
 * request. */
typedef struct {
    int done;                                      /* looked at the session */
    char binding[2 * AF_RA_EST_BINDING_BYTES + 1]; /* "" when the session has no channel binding */
} AF_RA_TLS_CONN;

/* Per request: the body collected so far. */
typedef struct {
    unsigned char *body;
    size_t len;
    int too_large;
} AF_RA_CONN;

/* ---- TLS server key in a token -----------------------------------------------------------------
 * * MHD's certificate callback has no user argument, so the pkcs11: key is process-wide: one HTTPS
 * listener with a token key per process (af_ra_server_new refuses a second). */
static struct {
    gnutls_pcert_st pcert[SRV_MAX_CHAIN];
    unsigned int npcert;
    gnutls_privkey_t key;
    char pin[256];
    int in_use;
} tls_p11;
static pthread_mutex_t tls_p11_lock = PTHREAD_MUTEX_INITIALIZER;

static int tls_p11_pin_cb(void *userdata, int attempt, const char *token_url,
                          const char *token_label, unsigned int flags, char *pin, size_t pin_max)
{
    size_t n = strlen(tls_p11.pin);

    /* A wrong PIN is not retried: the token would lock after a few attempts. */
    if (attempt > 0 || n == 0 || n >= pin_max)
        return -1;
    memcpy(pin, tls_p11.pin, n + 1);
    return 0;
}

static int tls_p11_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                           const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                           gnutls_pcert_st **pcert, unsigned int *pcert_length,
                           gnutls_privkey_t *pkey)
{
    *pcert = tls_p11.pcert;
    *pcert_length = tls_p11.npcert;
    *pkey = tls_p11.key;
    return 0;
}

static void tls_p11_release(void)
{
    unsigned int i;

    for (i = 0; i < tls_p11.npcert; i++)
        gnutls_pcert_deinit(&tls_p11.pcert[i]);
    tls_p11.npcert = 0;
    if (tls_p11.key != NULL)
        gnutls_privkey_deinit(tls_p11.key);
    tls_p11.key = NULL;
    OPENSSL_cleanse(tls_p11.pin, sizeof(tls_p11.pin));
    tls_p11.in_use = 0;
}

/* ---- files ---------------------------------------------------------------------------------- */

/* Whole file, NUL-terminated, at most SRV_MAX_PEM bytes; *len without the NUL. */
static char *read_text(const char *path, size_t *len, const char *what)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL) {
        AF_ERR(AF_R_IO, "cannot open the %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if ((buf = OPENSSL_zalloc(SRV_MAX_PEM + 1)) == NULL) {
        fclose(f);
        AF_ERR(AF_R_MALLOC, "%s", what);
        return NULL;
    }
    n = fread(buf, 1, SRV_MAX_PEM, f);
    if (ferror(f) || !feof(f)) {
        fclose(f);
        OPENSSL_clear_free(buf, SRV_MAX_PEM + 1);
        AF_ERR(AF_R_IO, "cannot read the %s %s (at most %d bytes)", what, path, SRV_MAX_PEM);
        return NULL;
    }
    fclose(f);
    if (len != NULL)
        *len = n;
    return buf;
}

static int read_pin(const char *path, char *pin, size_t pinsize)
{
    char *buf;
    size_t n, i;

    if ((buf = read_text(path, &n, "PIN file")) == NULL)
        return 0;
    for (i = 0; i < n && buf[i] != '\n' && buf[i] != '\r'; i++)
        continue;
    if (i == 0 || i >= pinsize) {
        OPENSSL_clear_free(buf, SRV_MAX_PEM + 1);
        AF_ERR(AF_R_INVALID_ARGUMENT, "the PIN file %s: first line empty or too long", path);
        return 0;
    }
    memcpy(pin, buf, i);
    pin[i] = '\0';
    OPENSSL_clear_free(buf, SRV_MAX_PEM + 1);
    return 1;
}

static int tls_p11_load(const AF_RA_SERVER_CONFIG *cfg)
{
    char *pem = NULL;
    size_t pemlen;
    gnutls_datum_t d;
    int rv;

    pthread_mutex_lock(&tls_p11_lock);
    if (tls_p11.in_use) {
        pthread_mutex_unlock(&tls_p11_lock);
        AF_ERR(AF_R_INVALID_ARGUMENT, "only one HTTPS listener per process can use a pkcs11: key");
        return 0;
    }
    tls_p11.in_use = 1;
    pthread_mutex_unlock(&tls_p11_lock);
    if (cfg->tls_pin_file != NULL && !read_pin(cfg->tls_pin_file, tls_p11.pin, sizeof(tls_p11.pin)))
        goto err;
    if ((pem = read_text(cfg->tls_cert, &pemlen, "TLS certificate")) == NULL)
        goto err;
    d.data = (unsigned char *)pem;
    d.size = (unsigned int)pemlen;
    tls_p11.npcert = SRV_MAX_CHAIN;
    rv = gnutls_pcert_list_import_x509_raw(tls_p11.pcert, &tls_p11.npcert, &d, GNUTLS_X509_FMT_PEM,
                                           0);
    if (rv < 0) {
        tls_p11.npcert = 0;
        AF_ERR(AF_R_IO, "cannot read the TLS certificate %s: %s", cfg->tls_cert,
               gnutls_strerror(rv));
        goto err;
    }
    if ((rv = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_AUTO, NULL)) < 0 ||
        (rv = gnutls_privkey_init(&tls_p11.key)) < 0) {
        AF_ERR(AF_R_CRYPTO, "GnuTLS PKCS#11: %s", gnutls_strerror(rv));
        goto err;
    }
    gnutls_privkey_set_pin_function(tls_p11.key, tls_p11_pin_cb, NULL);
    if ((rv = gnutls_privkey_import_url(tls_p11.key, cfg->tls_key, 0)) < 0) {
        AF_ERR(AF_R_IO, "cannot use the TLS key %s: %s", cfg->tls_key, gnutls_strerror(rv));
        goto err;
    }
    /* One signature now, so a wrong PIN or a missing key stops the server at start rather than
     * failing every handshake later. */
    {
        gnutls_datum_t probe = {(unsigned char *)"attfresh", 8}, sig = {NULL, 0};

        if ((rv = gnutls_privkey_sign_data(tls_p11.key, GNUTLS_DIG_SHA256, 0, &probe, &sig)) < 0) {
            AF_ERR(AF_R_CRYPTO, "the TLS key %s cannot sign (PIN from %s): %s", cfg->tls_key,
                   cfg->tls_pin_file != NULL ? cfg->tls_pin_file : "nowhere", gnutls_strerror(rv));
            goto err;
        }
        gnutls_free(sig.data);
    }
    OPENSSL_free(pem);
    return 1;
err:
    OPENSSL_free(pem);
    tls_p11_release();
    return 0;
}

/* ---- requests ------------------------------------------------------------------------------- */

typedef enum { ROUTE_NONE = 0, ROUTE_CMP, ROUTE_CMC, ROUTE_EST, ROUTE_EST_ENROLL } af_route;

/* One path segment [A-Za-z0-9._-]{1,64} at p, copied to out; returns the end or NULL. */
static const char *segment(const char *p, char *out)
{
    size_t n = 0;

    while (p[n] != '\0' && p[n] != '/') {
        char c = p[n];

        if (n == SRV_MAX_SEGMENT || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return NULL;
        out[n] = c;
        n++;
    }
    if (n == 0)
        return NULL;
    out[n] = '\0';
    return p + n;
}

/* Maps a path to a responder, its profile segment (CMP/CMC p/<name>) and EST label. */
static af_route route(const char *url, char *profile, char *label)
{
    const char *p;

    profile[0] = label[0] = '\0';
    if (strncmp(url, "/.well-known/cmp", 16) == 0) {
        p = url + 16;
        if (strncmp(p, "/p/", 3) == 0) {
            if ((p = segment(p + 3, profile)) == NULL)
                return ROUTE_NONE;
            strcpy(label, profile);
        }
        if (*p == '\0' || strcmp(p, "/getnonce") == 0)
            return ROUTE_CMP;
        return ROUTE_NONE;
    }
    if (strncmp(url, "/cmc", 4) == 0) {
        p = url + 4;
        if (strncmp(p, "/p/", 3) == 0 && (p = segment(p + 3, profile)) == NULL)
            return ROUTE_NONE;
        return *p == '\0' ? ROUTE_CMC : ROUTE_NONE;
    }
    if (strncmp(url, "/.well-known/est/", 17) == 0) {
        p = url + 17;
        if (strcmp(p, "nonce") == 0)
            return ROUTE_EST;
        /* enroll: /simpleenroll carries the attested CSR (est_enroll.c) */
        if (strcmp(p, "simpleenroll") == 0)
            return ROUTE_EST_ENROLL;
        if ((p = segment(p, label)) == NULL ||
            (strcmp(p, "/nonce") != 0 && strcmp(p, "/simpleenroll") != 0))
            return ROUTE_NONE;
        /* A label that names a wire profile selects it (e.g. /.well-known/est/draft-06/nonce). */
        if (af_profile_def(label) != NULL)
            strcpy(profile, label);
        return strcmp(p, "/nonce") == 0 ? ROUTE_EST : ROUTE_EST_ENROLL;
    }
    return ROUTE_NONE;
}

/* Printable copy for the log: MHD has already %-decoded the path, so a client could otherwise
 * write line breaks or terminal escapes into our log. */
static const char *printable(const char *in, char *buf, size_t bufsize)
{
    size_t i;

    for (i = 0; in[i] != '\0' && i + 1 < bufsize; i++)
        buf[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
    buf[i] = '\0';
    return buf;
}

static void log_request(AF_RA_SERVER *srv, const char *client, const char *method, const char *url,
                        int status, const char *outcome)
{
    struct timespec ts;
    struct tm tm;
    char when[40], m[16], u[200], o[300];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    /* One fprintf per line: stdio's stream lock keeps lines of concurrent requests whole. */
    fprintf(srv->log, "%s.%03ldZ %s %s %s %d %s\n", when, ts.tv_nsec / 1000000, client,
            printable(method, m, sizeof(m)), printable(url, u, sizeof(u)), status,
            printable(outcome, o, sizeof(o)));
    fflush(srv->log);
}

static void free_body(void *p)
{
    OPENSSL_free(p);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, AF_RA_HTTP_RESP *rs)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char num[16];

    if (rs->body != NULL && rs->body_len > 0) {
        r = MHD_create_response_from_buffer_with_free_callback(rs->body_len, rs->body, free_body);
        if (r == NULL)
            OPENSSL_free(rs->body);
    } else {
        OPENSSL_free(rs->body);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    rs->body = NULL;
    if (r == NULL)
        return MHD_NO;
    if (rs->content_type[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    if (rs->set_cookie[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, rs->set_cookie);
    if (rs->retry_after > 0) {
        snprintf(num, sizeof(num), "%d", rs->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    if (rs->allow[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rs->allow);
    /* Nonces are single-use: nothing on the way may cache an answer. */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, (unsigned int)rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void client_text(struct MHD_Connection *conn, char *out, size_t outsize)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

    snprintf(out, outsize, "-");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)outsize);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)outsize);
}

/* With client_ca set: the client certificate must verify; the requester becomes its SHA-256
 * ("cert:<hex>") so limits follow the client, not its address. */
static int check_client_cert(struct MHD_Connection *conn, char *requester, size_t reqsize,
                             char *why, size_t whysize)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t sess = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
    const gnutls_datum_t *peers;
    unsigned int status = 0, n = 0, i;
    unsigned char md[32];
    int rv;

    if (sess == NULL) {
        snprintf(why, whysize, "client certificate: no TLS session");
        return 0;
    }
    peers = gnutls_certificate_get_peers(sess, &n);
    if (peers == NULL || n == 0) {
        snprintf(why, whysize, "client certificate: none presented");
        return 0;
    }
    if ((rv = gnutls_certificate_verify_peers2(sess, &status)) < 0 || status != 0) {
        gnutls_datum_t txt = {NULL, 0};

        if (rv >= 0 &&
            gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt, 0) >= 0) {
            snprintf(why, whysize, "client certificate: %s", (const char *)txt.data);
            gnutls_free(txt.data);
        } else {
            snprintf(why, whysize, "client certificate: %s", gnutls_strerror(rv));
        }
        return 0;
    }
    if (!EVP_Digest(peers[0].data, peers[0].size, md, NULL, EVP_sha256(), NULL) ||
        reqsize < 5 + 2 * sizeof(md) + 1) {
        ERR_clear_error();
        snprintf(why, whysize, "client certificate: cannot hash it");
        return 0;
    }
    memcpy(requester, "cert:", 5);
    for (i = 0; i < sizeof(md); i++)
        snprintf(requester + 5 + 2 * i, 3, "%02x", md[i]);
    return 1;
}

/* The EST binding value of this TLS connection into out (2 * AF_RA_EST_BINDING_BYTES + 1 chars):
 * hex of HMAC-SHA256(bind_key, SRV_BIND_LABEL || tls-exporter) truncated. The exporter is the
 * RFC 9266 channel binding: unique per connection (a resumed session gets another), and GnuTLS
 * gives it only for TLS 1.3 or TLS 1.2 with extended master secret, where it cannot be forced
 * equal on two connections (triple handshake). Returns 0 (out "") when there is none. */
static int derive_binding(AF_RA_SERVER *srv, struct MHD_Connection *conn, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t sess = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
    gnutls_datum_t cb = {NULL, 0};
    unsigned char msg[sizeof(SRV_BIND_LABEL) - 1 + 64], mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0, i;
    int ok = 0;

    out[0] = '\0';
    if (sess == NULL || gnutls_session_channel_binding(sess, GNUTLS_CB_TLS_EXPORTER, &cb) < 0)
        return 0;
    if (cb.size > 0 && cb.size <= sizeof(msg) - (sizeof(SRV_BIND_LABEL) - 1)) {
        memcpy(msg, SRV_BIND_LABEL, sizeof(SRV_BIND_LABEL) - 1);
        memcpy(msg + sizeof(SRV_BIND_LABEL) - 1, cb.data, cb.size);
        ok =
            EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, srv->bind_key, sizeof(srv->bind_key), msg,
                      sizeof(SRV_BIND_LABEL) - 1 + cb.size, mac, sizeof(mac), &maclen) != NULL &&
            maclen >= AF_RA_EST_BINDING_BYTES;
        OPENSSL_cleanse(msg, sizeof(msg));
    }
    OPENSSL_cleanse(cb.data, cb.size);
    gnutls_free(cb.data);
    if (!ok) {
        ERR_clear_error();
        return 0;
    }
    for (i = 0; i < AF_RA_EST_BINDING_BYTES; i++) {
        out[2 * i] = digits[mac[i] >> 4];
        out[2 * i + 1] = digits[mac[i] & 15];
    }
    out[2 * AF_RA_EST_BINDING_BYTES] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));
    return 1;
}

/* The connection's binding value (NULL when none): from the socket context when MHD gave us one
 * (worked out once per connection), else into buf for this request. */
static const char *tls_binding(AF_RA_SERVER *srv, struct MHD_Connection *conn, char *buf)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    AF_RA_TLS_CONN *tc = ci != NULL ? ci->socket_context : NULL;

    if (tc == NULL)
        return derive_binding(srv, conn, buf) ? buf : NULL;
    if (!tc->done) {
        derive_binding(srv, conn, tc->binding);
        tc->done = 1;
    }
    return tc->binding[0] != '\0' ? tc->binding : NULL;
}

/* The TLS listener's connections get an AF_RA_TLS_CONN (NULL when out of memory: the binding is
 * then worked out per request). */
static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = OPENSSL_zalloc(sizeof(AF_RA_TLS_CONN));
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        OPENSSL_clear_free(*socket_context, sizeof(AF_RA_TLS_CONN));
        *socket_context = NULL;
    }
}

static enum MHD_Result status_only(AF_RA_SERVER *srv, struct MHD_Connection *conn,
                                   const char *client, const char *method, const char *url,
                                   int status, const char *outcome)
{
    AF_RA_HTTP_RESP rs;

    memset(&rs, 0, sizeof(rs));
    rs.status = status;
    log_request(srv, client, method, url, status, outcome);
    return send_response(conn, &rs);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    AF_RA_LISTENER *l = cls;
    AF_RA_SERVER *srv = l->srv;
    AF_RA_CONN *c = *con_cls;
    AF_RA_HTTP_REQ rq;
    AF_RA_HTTP_RESP rs;
    char client[INET6_ADDRSTRLEN + 1], requester[80], why[200], profile[SRV_MAX_SEGMENT + 1];
    char label[SRV_MAX_SEGMENT + 1], msg[96], binding[2 * AF_RA_EST_BINDING_BYTES + 1];
    af_route rt;
    int ok;

    client_text(conn, client, sizeof(client));
    if (c == NULL) {
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

        /* Refuse an announced oversize body before reading it. */
        if (cl != NULL && strtoull(cl, NULL, 10) > srv->cfg.max_body) {
            snprintf(msg, sizeof(msg), "body of %.20s bytes refused (limit %zu)", cl,
                     srv->cfg.max_body);
            return status_only(srv, conn, client, method, url, 413, msg);
        }
        if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL)
            return MHD_NO;
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!c->too_large && c->len + *upload_data_size <= srv->cfg.max_body) {
            unsigned char *nb = OPENSSL_realloc(c->body, c->len + *upload_data_size);

            if (nb == NULL)
                return MHD_NO;
            c->body = nb;
            memcpy(c->body + c->len, upload_data, *upload_data_size);
            c->len += *upload_data_size;
        } else {
            c->too_large = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->too_large) {
        snprintf(msg, sizeof(msg), "body larger than %zu bytes", srv->cfg.max_body);
        return status_only(srv, conn, client, method, url, 413, msg);
    }

    rt = route(url, profile, label);
    if (rt == ROUTE_NONE ||
        ((rt == ROUTE_EST || rt == ROUTE_EST_ENROLL) && !l->tls && !srv->cfg.est_on_http))
        return status_only(srv, conn, client, method, url, 404, "no such path");
    if (profile[0] != '\0' && af_profile_def(profile) == NULL)
        return status_only(srv, conn, client, method, url, 404, "unknown profile");

    snprintf(requester, sizeof(requester), "%s", client);
    if (l->tls && srv->cfg.client_ca != NULL &&
        !check_client_cert(conn, requester, sizeof(requester), why, sizeof(why)))
        return status_only(srv, conn, client, method, url, 403, why);

    memset(&rq, 0, sizeof(rq));
    memset(&rs, 0, sizeof(rs));
    rq.method = method;
    rq.path = url;
    rq.profile = profile[0] != '\0' ? profile
                                    : af_nonce_profile_get0_name(af_ra_get0_profile(srv->ra, NULL));
    rq.label = label[0] != '\0' ? label : NULL;
    rq.content_type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    rq.cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, AF_RA_EST_COOKIE);
    rq.body = c->body != NULL ? c->body : (const unsigned char *)"";
    rq.body_len = c->len;
    rq.requester = (const unsigned char *)requester;
    rq.requester_len = strlen(requester);
    rq.tls = l->tls;
    if (l->tls && (rt == ROUTE_EST || rt == ROUTE_EST_ENROLL))
        rq.tls_binding = tls_binding(srv, conn, binding);

    switch (rt) {
    case ROUTE_CMP:
        ok = af_ra_cmp_handle(srv->ra, &rq, &rs);
        break;
    case ROUTE_CMC:
        ok = af_ra_cmc_handle(srv->ra, &rq, &rs);
        break;
    case ROUTE_EST_ENROLL:
        ok = af_ra_est_enroll_handle(srv->ra, &rq, &rs);
        break;
    default:
        ok = af_ra_est_nonce_handle(srv->ra, &rq, &rs);
        break;
    }
    OPENSSL_cleanse(binding, sizeof(binding));
    ERR_clear_error();
    if (!ok && rs.status == 0)
        rs.status = 500;
    log_request(srv, client, method, url, rs.status, rs.log[0] != '\0' ? rs.log : "-");
    return send_response(conn, &rs);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    AF_RA_CONN *c = *con_cls;

    if (c != NULL) {
        OPENSSL_free(c->body);
        OPENSSL_free(c);
        *con_cls = NULL;
    }
}

/* ---- listeners ------------------------------------------------------------------------------ */

static int parse_addr(const char *text, struct sockaddr_storage *ss, const char *what)
{
    char host[64];
    const char *colon, *hs = text;
    size_t hl;
    char *end;
    unsigned long port;

    memset(ss, 0, sizeof(*ss));
    if (text[0] == '[') {
        const char *rb = strchr(text, ']');

        if (rb == NULL || rb[1] != ':')
            goto bad;
        hs = text + 1;
        hl = (size_t)(rb - hs);
        colon = rb + 1;
    } else {
        if ((colon = strrchr(text, ':')) == NULL)
            goto bad;
        hl = (size_t)(colon - text);
    }
    if (hl == 0 || hl >= sizeof(host))
        goto bad;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535)
        goto bad;
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        return 1;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        return 1;
    }
bad:
    AF_ERR(AF_R_INVALID_ARGUMENT, "%s '%s': want IPv4ADDR:PORT or [IPv6ADDR]:PORT", what, text);
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    AF_RA_SERVER *srv = cls;
    char line[512];

    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    fprintf(srv->log, "libmicrohttpd: %s\n", line);
    fflush(srv->log);
}

static int start_listener(AF_RA_SERVER *srv, AF_RA_LISTENER *l, const char *addr, int tls)
{
    struct sockaddr_storage ss;
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    char *cert = NULL, *key = NULL, *trust = NULL;
    char pass[256] = "";
    size_t keylen = 0;
    int p11 = 0, ok = 0;
    const union MHD_DaemonInfo *di;
    struct MHD_OptionItem ops[15];
    size_t nops = 0;

#define OPT(o, v, p)                                                                               \
    ops[nops++] = (struct MHD_OptionItem)                                                          \
    {                                                                                              \
        (o), (intptr_t)(v), (p)                                                                    \
    }
    if (!parse_addr(addr, &ss, tls ? "--https" : "--http"))
        return 0;
    l->srv = srv;
    l->tls = tls;
    if (tls) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "this libmicrohttpd has no TLS support");
            return 0;
        }
        if (srv->cfg.tls_cert == NULL || srv->cfg.tls_key == NULL) {
            AF_ERR(AF_R_INVALID_ARGUMENT, "HTTPS needs a TLS certificate and key");
            return 0;
        }
        flags |= MHD_USE_TLS;
        p11 = strncmp(srv->cfg.tls_key, "pkcs11:", 7) == 0;
        if (p11) {
            if (!tls_p11_load(&srv->cfg))
                return 0;
        } else {
            if ((cert = read_text(srv->cfg.tls_cert, NULL, "TLS certificate")) == NULL ||
                (key = read_text(srv->cfg.tls_key, &keylen, "TLS key")) == NULL)
                goto done;
            if (srv->cfg.tls_pin_file != NULL &&
                !read_pin(srv->cfg.tls_pin_file, pass, sizeof(pass)))
                goto done;
        }
        if (srv->cfg.client_ca != NULL &&
            (trust = read_text(srv->cfg.client_ca, NULL, "client CA file")) == NULL)
            goto done;
    }
    /* Options as an array: which TLS options apply depends on the listener. Two-pointer options
     * (callback + argument) put the callback in value, as MHD_OptionItem documents. */
    OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv); /* first, or MHD logs on its own */
    OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
    OPT(MHD_OPTION_THREAD_POOL_SIZE, srv->cfg.threads, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.timeout_s, NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, l);
    /* MHD clears a connection's whole pool between requests; our requests and answers are small,
     * so 16 KiB (headers; bodies go through the upload callback) instead of its 32 KiB. */
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SRV_CONN_MEMORY, NULL);
    if (tls && p11) {
        OPT(MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_p11_cert_cb);
    } else if (tls) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, key);
        if (pass[0] != '\0')
            OPT(MHD_OPTION_HTTPS_KEY_PASSWORD, 0, pass);
    }
    if (trust != NULL)
        OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, trust);
    if (tls)
        OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, NULL);
    OPT(MHD_OPTION_END, 0, NULL);
    l->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, l, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (l->d == NULL) {
        AF_ERR(AF_R_IO,
               "cannot listen on %s%s (address in use, or the TLS files are wrong; see "
               "the log above)",
               tls ? "https://" : "http://", addr);
        goto done;
    }
    di = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
    l->port = di != NULL ? di->port : 0;
    ok = 1;
done:
    OPENSSL_free(cert);
    OPENSSL_clear_free(key, SRV_MAX_PEM + 1);
    OPENSSL_free(trust);
    OPENSSL_cleanse(pass, sizeof(pass));
    if (!ok && p11)
        tls_p11_release();
    return ok;
#undef OPT
}

static void *sweeper(void *arg)
{
    AF_RA_SERVER *srv = arg;
    struct timespec until;

    pthread_mutex_lock(&srv->lock);
    while (!srv->stopping) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SRV_SWEEP_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->cond, &srv->lock, &until);
        if (srv->stopping)
            break;
        pthread_mutex_unlock(&srv->lock);
        if (af_nonce_store_sweep(af_ra_get0_store(srv->ra), SRV_SWEEP_WORK) < 0)
            ERR_clear_error(); /* a store hiccup (Redis) is retried at the next tick */
        pthread_mutex_lock(&srv->lock);
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

void af_ra_server_config_init(AF_RA_SERVER_CONFIG *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_body = SRV_DEFAULT_MAX_BODY;
    cfg->threads = 2;
    cfg->timeout_s = 30;
}

AF_RA_SERVER *af_ra_server_new(AF_RA *ra, const AF_RA_SERVER_CONFIG *cfg)
{
    AF_RA_SERVER *srv;
    AF_RA_SERVER_CONFIG def;

    if (cfg == NULL) {
        af_ra_server_config_init(&def);
        cfg = &def;
    }
    if (ra == NULL || (cfg->http_addr == NULL && cfg->https_addr == NULL)) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "the RA server needs an RA and at least one listener");
        return NULL;
    }
    if ((srv = OPENSSL_zalloc(sizeof(*srv))) == NULL) {
        AF_ERR(AF_R_MALLOC, "RA server");
        return NULL;
    }
    srv->ra = ra;
    srv->cfg = *cfg;
    if (srv->cfg.max_body == 0)
        srv->cfg.max_body = SRV_DEFAULT_MAX_BODY;
    if (srv->cfg.threads == 0)
        srv->cfg.threads = 1;
    srv->log = cfg->log != NULL ? cfg->log : stderr;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    if (cfg->https_addr != NULL && !af_ra_random(ra, srv->bind_key, sizeof(srv->bind_key))) {
        AF_ERR(AF_R_INTERNAL, "cannot make the EST binding key");
        goto err;
    }
    if (cfg->http_addr != NULL && !start_listener(srv, &srv->http, cfg->http_addr, 0))
        goto err;
    if (cfg->https_addr != NULL && !start_listener(srv, &srv->https, cfg->https_addr, 1))
        goto err;
    if (pthread_create(&srv->sweeper, NULL, sweeper, srv) != 0) {
        AF_ERR(AF_R_INTERNAL, "cannot start the nonce sweeper thread");
        goto err;
    }
    srv->sweeper_started = 1;
    return srv;
err:
    af_ra_server_free(srv);
    return NULL;
}

int af_ra_server_get_port(const AF_RA_SERVER *srv, int tls)
{
    if (srv == NULL)
        return 0;
    return tls ? srv->https.port : srv->http.port;
}

void af_ra_server_free(AF_RA_SERVER *srv)
{
    int p11;

    if (srv == NULL)
        return;
    p11 = srv->https.d != NULL && srv->cfg.tls_key != NULL &&
          strncmp(srv->cfg.tls_key, "pkcs11:", 7) == 0;
    if (srv->http.d != NULL)
        MHD_stop_daemon(srv->http.d);
    if (srv->https.d != NULL)
        MHD_stop_daemon(srv->https.d);
    if (p11)
        tls_p11_release();
    if (srv->sweeper_started) {
        pthread_mutex_lock(&srv->lock);
        srv->stopping = 1;
        pthread_cond_signal(&srv->cond);
        pthread_mutex_unlock(&srv->lock);
        pthread_join(srv->sweeper, NULL);
    }
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    OPENSSL_clear_free(srv, sizeof(*srv)); /* the binding key */
}
