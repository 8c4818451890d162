/* bench_cmp.c - a bounded CMP load generator: builds one PBM-protected genm (nonce request ITAV of
 * a profile, MAC secret from a file) with OpenSSL's CMP client, then sends it REQUESTS times over
 * CONNECTIONS HTTP/1.1 keep-alive connections to 127.0.0.1:PORT/PATH and reports requests/s.
 * Every answer must be HTTP 200 with a genp body (not an error body); the first answer on each
 * connection is also decoded in full by OpenSSL. Used by bench/cmp_vs_openssl.sh.
 *
 *   bench_cmp PORT PATH SECRET_FILE REQUESTS CONNECTIONS [MAX_SECONDS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/cmp.h>
#include <openssl/err.h>

#include "attfresh/nonce.h"

#define PKIBODY_GENP 22

static int port;
static char req_head[512];
static size_t req_head_len;
static unsigned char *genm;
static int genm_len;
static long per_conn, max_seconds;
static double t_start;

typedef struct {
    long done, http_errors, not_genp;
    int failed;
} worker;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Captures the genm OpenSSL built and protected; returns no answer (the session then fails). */
static OSSL_CMP_MSG *capture(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
    genm_len = i2d_OSSL_CMP_MSG((OSSL_CMP_MSG *)req, &genm);
    return NULL;
}

static int build_genm(const char *secret_file)
{
    char secret[256] = "";
    FILE *f = fopen(secret_file, "r");
    OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
    AF_NONCE_PROFILE *prof = af_nonce_profile_new(NULL);
    AF_NONCE_REQ *req = af_nonce_req_new();
    OSSL_CMP_ITAV *itav = NULL;
    STACK_OF(OSSL_CMP_ITAV) * r;

    if (f == NULL || fgets(secret, sizeof(secret), f) == NULL) {
        fprintf(stderr, "bench_cmp: cannot read %s\n", secret_file);
        return 0;
    }
    fclose(f);
    secret[strcspn(secret, "\r\n")] = '\0';
    if (ctx == NULL || prof == NULL || req == NULL || af_nonce_req_add0_item(req) == NULL ||
        (itav = af_nonce_req_to_itav(req, prof, NULL)) == NULL ||
        !OSSL_CMP_CTX_push0_genm_ITAV(ctx, itav) ||
        !OSSL_CMP_CTX_set1_secretValue(ctx, (unsigned char *)secret, (int)strlen(secret)) ||
        !OSSL_CMP_CTX_set1_referenceValue(ctx, (unsigned char *)"bench", 5) ||
        !OSSL_CMP_CTX_set1_server(ctx, "127.0.0.1") || !OSSL_CMP_CTX_set_transfer_cb(ctx, capture))
        return 0;
    r = OSSL_CMP_exec_GENM_ses(ctx); /* fails after capture: no answer */
    sk_OSSL_CMP_ITAV_pop_free(r, OSSL_CMP_ITAV_free);
    ERR_clear_error();
    OPENSSL_cleanse(secret, sizeof(secret));
    OSSL_CMP_CTX_free(ctx);
    af_nonce_req_free(req);
    af_nonce_profile_free(prof);
    return genm_len > 0;
}

static int connect_server(void)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

        if (w <= 0)
            return 0;
        c += w;
        n -= (size_t)w;
    }
    return 1;
}

/* Reads one response: status, body (into buf), whether the server will close. 0 on I/O error. */
static int read_response(int fd, char *buf, size_t cap, int *status, size_t *body_off,
                         size_t *body_len, int *closing)
{
    size_t n = 0, hdr = 0, clen = 0;
    char *p;

    for (;;) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);

        if (r <= 0)
            return 0;
        n += (size_t)r;
        buf[n] = '\0';
        if (hdr == 0 && (p = strstr(buf, "\r\n\r\n")) != NULL) {
            char *cl = strcasestr(buf, "\nContent-Length:");

            hdr = (size_t)(p - buf) + 4;
            if (cl == NULL || cl > p)
                return 0;
            clen = strtoul(cl + 16, NULL, 10);
            *status = atoi(buf + 9);
            *closing = strcasestr(buf, "\nConnection: close") != NULL &&
                       strcasestr(buf, "\nConnection: close") < p;
            if (hdr + clen >= cap)
                return 0;
        }
        if (hdr != 0 && n >= hdr + clen) {
            *body_off = hdr;
            *body_len = clen;
            return 1;
        }
        if (n >= cap - 1)
            return 0;
    }
}

/* The PKIBody choice of a DER PKIMessage (the tag after the header), cheaply; -1 if unreadable. */
static int body_type(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    long l;
    int tag, cls;

    if ((ASN1_get_object(&p, &l, &tag, &cls, (long)len) & 0x80) != 0 || tag != V_ASN1_SEQUENCE)
        return -1;
    if ((ASN1_get_object(&p, &l, &tag, &cls, (long)(der + len - p)) & 0x80) != 0)
        return -1;
    p += l; /* skip the header */
    if ((ASN1_get_object(&p, &l, &tag, &cls, (long)(der + len - p)) & 0x80) != 0 ||
        cls != V_ASN1_CONTEXT_SPECIFIC)
        return -1;
    return tag;
}

static void *run(void *arg)
{
    worker *w = arg;
    static _Thread_local char buf[1 << 16];
    int fd = -1, first = 1;
    long i;

    for (i = 0; i < per_conn; i++) {
        int status = 0, closing = 0;
        size_t off = 0, len = 0;

        if (now_s() - t_start > max_seconds) {
            w->failed = 1;
            break;
        }
        if (fd < 0 && (fd = connect_server()) < 0) {
            w->failed = 1;
            break;
        }
        if (!send_all(fd, req_head, req_head_len) || !send_all(fd, genm, (size_t)genm_len) ||
            !read_response(fd, buf, sizeof(buf), &status, &off, &len, &closing)) {
            /* the server may close an idle keep-alive connection: one retry on a new one */
            close(fd);
            if ((fd = connect_server()) < 0 || !send_all(fd, req_head, req_head_len) ||
                !send_all(fd, genm, (size_t)genm_len) ||
                !read_response(fd, buf, sizeof(buf), &status, &off, &len, &closing)) {
                w->failed = 1;
                break;
            }
        }
        if (status != 200)
            w->http_errors++;
        if (first) {
            /* the first answer in full, through OpenSSL's decoder */
            const unsigned char *p = (unsigned char *)buf + off;
            OSSL_CMP_MSG *m = d2i_OSSL_CMP_MSG(NULL, &p, (long)len);

            if (m == NULL || OSSL_CMP_MSG_get_bodytype(m) != PKIBODY_GENP)
                w->not_genp++;
            OSSL_CMP_MSG_free(m);
            first = 0;
        } else if (body_type((unsigned char *)buf + off, len) != PKIBODY_GENP) {
            w->not_genp++; /* e.g. an error body: the bench would measure refusals */
        }
        w->done++;
        if (closing) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    long total, conns, i, done = 0, errs = 0, bad = 0;
    pthread_t *th;
    worker *w;
    double t;
    int failed = 0;

    if (argc < 6) {
        fprintf(stderr, "usage: bench_cmp PORT PATH SECRET_FILE REQUESTS CONNECTIONS "
                        "[MAX_SECONDS]\n");
        return 2;
    }
    port = atoi(argv[1]);
    total = atol(argv[4]);
    conns = atol(argv[5]);
    max_seconds = argc > 6 ? atol(argv[6]) : 60;
    if (port <= 0 || port > 65535 || total < 1 || total > 10000000 || conns < 1 || conns > 256 ||
        max_seconds < 1 || max_seconds > 600) {
        fprintf(stderr, "bench_cmp: bad arguments\n");
        return 2;
    }
    if (!build_genm(argv[3])) {
        fprintf(stderr, "bench_cmp: cannot build the genm\n");
        return 1;
    }
    per_conn = (total + conns - 1) / conns;
    req_head_len = (size_t)snprintf(req_head, sizeof(req_head),
                                    "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                                    "Content-Type: application/pkixcmp\r\n"
                                    "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n",
                                    argv[2], port, genm_len);
    th = calloc((size_t)conns, sizeof(*th));
    w = calloc((size_t)conns, sizeof(*w));
    if (th == NULL || w == NULL)
        return 1;
    t_start = now_s();
    for (i = 0; i < conns; i++)
        pthread_create(&th[i], NULL, run, &w[i]);
    for (i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        done += w[i].done;
        errs += w[i].http_errors;
        bad += w[i].not_genp;
        failed |= w[i].failed;
    }
    t = now_s() - t_start;
    printf("requests %ld  seconds %.3f  requests/s %.1f  http_errors %ld  not_genp %ld%s\n", done,
           t, done / t, errs, bad,
           failed ? "  (INCOMPLETE: connection failure or time limit)" : "");
    free(th);
    free(w);
    OPENSSL_free(genm);
    return failed || errs > 0 || bad > 0;
}
