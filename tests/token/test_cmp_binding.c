/* test_cmp_binding.c - the CMP client's binding checks against a real server: `attfresh serve`
 * answers, a small HTTP proxy in this test passes the genp through or changes its transactionID
 * or recipNonce (protecting it again with the shared MAC secret, so only the binding is wrong),
 * and af_cmp_get_nonce must accept the first and refuse the others with AF_R_PROTO_BINDING. Also
 * continues a transaction: af_cmp_ctx_continue puts the genm's transactionID and the genp's
 * senderNonce (as recipNonce) into the next request, as the proxy sees it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "attfresh/err.h"
#include "attfresh/proto.h"
#include "proto/proto_local.h"
#include "testutil.h"

#define SECRET "binding-test-secret"

enum { MODE_PASS, MODE_TXID, MODE_RECIP };

static pid_t server_pid = -1;
static int server_port;
static int proxy_fd = -1;
static int proxy_port;
static volatile int proxy_mode;
static pthread_t proxy_thread;
static char dir[64];
/* what the proxy saw in the last request it forwarded */
static unsigned char seen_txid[64], seen_recip[64];
static size_t seen_txid_len, seen_recip_len;
static int seen_bodytype;

static OSSL_CMP_CTX *forward_ctx(void)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);

    if (ctx == NULL || !OSSL_CMP_CTX_set1_server(ctx, "127.0.0.1") ||
        !OSSL_CMP_CTX_set_serverPort(ctx, server_port) ||
        !OSSL_CMP_CTX_set1_serverPath(ctx, "/.well-known/cmp") ||
        !OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)SECRET, strlen(SECRET)) ||
        !OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)"proxy", 5)) {
        OSSL_CMP_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void copy_os(const ASN1_OCTET_STRING *o, unsigned char *buf, size_t *len)
{
    *len = 0;
    if (o != NULL && ASN1_STRING_length(o) <= 64) {
        *len = (size_t)ASN1_STRING_length(o);
        memcpy(buf, ASN1_STRING_get0_data(o), *len);
    }
}

/* Forwards one request to the server and changes the answer as the mode says. */
static OSSL_CMP_MSG *forward(const OSSL_CMP_MSG *req)
{
    OSSL_CMP_CTX *ctx = forward_ctx();
    OSSL_CMP_MSG *rsp = NULL, *m;
    AF_CMP_MSG_VIEW *v;
    unsigned char junk[16];
    ASN1_OCTET_STRING *tid = NULL;

    seen_bodytype = OSSL_CMP_MSG_get_bodytype(req);
    copy_os(OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req)), seen_txid,
            &seen_txid_len);
    copy_os(OSSL_CMP_HDR_get0_recipNonce(OSSL_CMP_MSG_get0_header(req)), seen_recip,
            &seen_recip_len);
    if (ctx == NULL || (rsp = OSSL_CMP_MSG_http_perform(ctx, req)) == NULL)
        goto end;
    RAND_bytes(junk, sizeof(junk));
    if (proxy_mode == MODE_TXID) {
        /* a transactionID of our own, protected again with the shared secret */
        tid = ASN1_OCTET_STRING_new();
        if (tid == NULL || !ASN1_OCTET_STRING_set(tid, junk, sizeof(junk)) ||
            !OSSL_CMP_CTX_set1_transactionID(ctx, tid) ||
            !OSSL_CMP_MSG_update_transactionID(ctx, rsp)) {
            OSSL_CMP_MSG_free(rsp);
            rsp = NULL;
        }
    } else if (proxy_mode == MODE_RECIP) {
        v = af_cmp_view_new(rsp);
        m = NULL;
        tid = ASN1_OCTET_STRING_dup(OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(rsp)));
        if (v != NULL && tid != NULL && af_cmp_view_set1_octets(&v->header->recipNonce, junk, 16) &&
            (m = af_cmp_view_to_msg(v)) != NULL && OSSL_CMP_CTX_set1_transactionID(ctx, tid) &&
            OSSL_CMP_MSG_update_transactionID(ctx, m)) {
            OSSL_CMP_MSG_free(rsp);
            rsp = m;
        } else {
            OSSL_CMP_MSG_free(m);
            OSSL_CMP_MSG_free(rsp);
            rsp = NULL;
        }
        af_cmp_view_free(v);
    }
end:
    ASN1_OCTET_STRING_free(tid);
    OSSL_CMP_CTX_free(ctx);
    return rsp;
}

static int read_request(int fd, unsigned char **body, size_t *len)
{
    char buf[70000];
    size_t n = 0, hdr_end = 0, clen = 0;
    ssize_t r;
    char *p;

    while (n < sizeof(buf) - 1) {
        if ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) <= 0)
            return 0;
        n += (size_t)r;
        buf[n] = '\0';
        if (hdr_end == 0 && (p = strstr(buf, "\r\n\r\n")) != NULL) {
            char *cl = strcasestr(buf, "Content-Length:");

            hdr_end = (size_t)(p - buf) + 4;
            if (cl == NULL || cl > p)
                return 0;
            clen = strtoul(cl + 15, NULL, 10);
        }
        if (hdr_end != 0 && n >= hdr_end + clen)
            break;
    }
    if (hdr_end == 0 || (*body = malloc(clen)) == NULL)
        return 0;
    memcpy(*body, buf + hdr_end, clen);
    *len = clen;
    return 1;
}

static void *proxy_main(void *arg)
{
    int c;

    while ((c = accept(proxy_fd, NULL, NULL)) >= 0) {
        unsigned char *body = NULL, *out = NULL;
        const unsigned char *p;
        size_t len = 0;
        OSSL_CMP_MSG *req = NULL, *rsp = NULL;
        int olen = 0;
        char head[160];

        if (read_request(c, &body, &len)) {
            p = body;
            req = d2i_OSSL_CMP_MSG(NULL, &p, (long)len);
            rsp = req != NULL ? forward(req) : NULL;
            olen = rsp != NULL ? i2d_OSSL_CMP_MSG(rsp, &out) : 0;
        }
        if (olen > 0) {
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/pkixcmp\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n",
                     olen);
            if (write(c, head, strlen(head)) < 0 || write(c, out, (size_t)olen) < 0)
                fprintf(stderr, "proxy: write: %s\n", strerror(errno));
        } else {
            static const char e[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                                    "Connection: close\r\n\r\n";

            if (write(c, e, sizeof(e) - 1) < 0)
                fprintf(stderr, "proxy: write: %s\n", strerror(errno));
        }
        ERR_clear_error();
        OPENSSL_free(out);
        OSSL_CMP_MSG_free(req);
        OSSL_CMP_MSG_free(rsp);
        free(body);
        close(c);
    }
    return NULL;
}

static int start_server(void)
{
    int out[2];
    char secret_path[128], line[128] = "", *cmd = getenv("AF_CMD");
    FILE *f;

    snprintf(secret_path, sizeof(secret_path), "%s/mac.txt", dir);
    if (cmd == NULL || (f = fopen(secret_path, "w")) == NULL)
        return 0;
    fprintf(f, "%s\n", SECRET);
    fclose(f);
    if (pipe(out) != 0)
        return 0;
    if ((server_pid = fork()) == 0) {
        char log[128];
        FILE *lf;

        snprintf(log, sizeof(log), "%s/serve.log", dir);
        if ((lf = fopen(log, "w")) != NULL)
            dup2(fileno(lf), 2); /* the request log stays out of the test report */
        dup2(out[1], 1);
        close(out[0]);
        execl(cmd, "attfresh", "serve", "--http", "127.0.0.1:0", "--soft-rand", "--cmp-secret-file",
              secret_path, "--rate", "1000", "--burst", "1000", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    f = fdopen(out[0], "r");
    if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
        sscanf(line, "http://127.0.0.1:%d/", &server_port) != 1) {
        if (f != NULL)
            fclose(f);
        return 0;
    }
    fclose(f);
    return 1;
}

static int start_proxy(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((proxy_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        bind(proxy_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(proxy_fd, 8) != 0 ||
        getsockname(proxy_fd, (struct sockaddr *)&a, &alen) != 0)
        return 0;
    proxy_port = ntohs(a.sin_port);
    return pthread_create(&proxy_thread, NULL, proxy_main, NULL) == 0;
}

static int setup(void)
{
    strcpy(dir, "/tmp/af-binding-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return !start_server() || !start_proxy();
}

static int teardown(void)
{
    char cmd[128];

    if (proxy_fd >= 0) {
        shutdown(proxy_fd, SHUT_RDWR);
        close(proxy_fd);
        pthread_join(proxy_thread, NULL);
    }
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) != 0;
}

static AF_PROTO_OPTS *opts_via_proxy(void)
{
    AF_PROTO_OPTS *o = af_proto_opts_new();
    char url[96];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/.well-known/cmp", proxy_port);
    if (o == NULL || !af_proto_opts_set_protocol(o, AF_PROTO_CMP) ||
        !af_proto_opts_set1_url(o, url) ||
        !af_proto_opts_set1_secret(o, (const unsigned char *)SECRET, strlen(SECRET)) ||
        !af_proto_opts_set1_ref(o, "station") || !af_proto_opts_set_timeouts(o, 5, 10)) {
        af_proto_opts_free(o);
        return NULL;
    }
    return o;
}

static void expect_binding_error(int mode, const char *what)
{
    AF_PROTO_OPTS *o = opts_via_proxy();
    AF_NONCE_RESP *resp = NULL;
    AF_PROTO_STATE *st = NULL;
    unsigned long e;

    CU_ASSERT_FATAL(o != NULL);
    proxy_mode = mode;
    CU_ASSERT(!af_cmp_get_nonce(o, &resp, &st));
    CU_ASSERT(resp == NULL && st == NULL);
    e = ERR_peek_error();
    CU_ASSERT(ERR_GET_LIB(e) == af_err_lib() && ERR_GET_REASON(e) == AF_R_PROTO_BINDING);
    if (ERR_GET_REASON(e) != AF_R_PROTO_BINDING) {
        char line[300];

        fprintf(stderr, "%s: %s\n", what, af_err_line(line, sizeof(line)));
    }
    ERR_clear_error();
    af_proto_opts_free(o);
}

static void test_pass_through(void)
{
    AF_PROTO_OPTS *o = opts_via_proxy();
    AF_NONCE_RESP *resp = NULL;
    AF_PROTO_STATE *st = NULL;
    const unsigned char *tid, *n;
    size_t tlen, nlen;

    CU_ASSERT_FATAL(o != NULL);
    proxy_mode = MODE_PASS;
    CU_ASSERT_FATAL(af_cmp_get_nonce(o, &resp, &st));
    af_nonce_resp_item_get0_nonce(af_nonce_resp_get0_item(resp, 0), &n, &nlen);
    CU_ASSERT(nlen == 32);
    tid = af_proto_state_get0_transaction_id(st, &tlen);
    CU_ASSERT(tid != NULL && tlen == seen_txid_len && memcmp(tid, seen_txid, tlen) == 0);
    CU_ASSERT(seen_recip_len == 0); /* a genm starts the transaction */
    af_proto_state_get0_server_nonce(st, &nlen);
    CU_ASSERT(nlen == 16);
    af_nonce_resp_free(resp);
    af_proto_state_free(st);
    af_proto_opts_free(o);
}

static void test_wrong_transaction_id(void)
{
    expect_binding_error(MODE_TXID, "transactionID");
}

static void test_wrong_recip_nonce(void)
{
    expect_binding_error(MODE_RECIP, "recipNonce");
}

/* A second context continues the transaction: the next request (here another genm, which the
 * server answers too) carries the genm's transactionID and recipNonce = the genp's senderNonce. */
static void test_continue(void)
{
    AF_PROTO_OPTS *o = opts_via_proxy();
    AF_NONCE_RESP *resp = NULL;
    AF_PROTO_STATE *st = NULL, *loaded;
    OSSL_CMP_CTX *ctx;
    STACK_OF(OSSL_CMP_ITAV) * itavs;
    const unsigned char *tid, *sn;
    size_t tlen, snlen;
    char *json = NULL;
    size_t jlen;

    CU_ASSERT_FATAL(o != NULL);
    proxy_mode = MODE_PASS;
    CU_ASSERT_FATAL(af_cmp_get_nonce(o, &resp, &st));
    /* as the enrollment would: through the state file's JSON */
    CU_ASSERT_FATAL(af_proto_state_to_json(st, &json, &jlen));
    loaded = af_proto_state_from_json(json, jlen);
    CU_ASSERT_FATAL(loaded != NULL);
    ctx = OSSL_CMP_CTX_new(NULL, NULL);
    CU_ASSERT_FATAL(ctx != NULL);
    CU_ASSERT(af_cmp_ctx_setup(ctx, o));
    CU_ASSERT(af_cmp_ctx_continue(ctx, loaded));
    CU_ASSERT(OSSL_CMP_CTX_push0_genm_ITAV(
        ctx, OSSL_CMP_ITAV_create(OBJ_txt2obj("1.3.6.1.5.5.7.4.98", 1), NULL)));
    itavs = OSSL_CMP_exec_GENM_ses(ctx);
    CU_ASSERT(itavs != NULL);
    tid = af_proto_state_get0_transaction_id(loaded, &tlen);
    sn = af_proto_state_get0_server_nonce(loaded, &snlen);
    CU_ASSERT(seen_txid_len == tlen && memcmp(seen_txid, tid, tlen) == 0);
    CU_ASSERT(seen_recip_len == snlen && snlen > 0 && memcmp(seen_recip, sn, snlen) == 0);
    sk_OSSL_CMP_ITAV_pop_free(itavs, OSSL_CMP_ITAV_free);
    ERR_clear_error();
    OSSL_CMP_CTX_free(ctx);
    OPENSSL_free(json);
    af_proto_state_free(loaded);
    af_nonce_resp_free(resp);
    af_proto_state_free(st);
    af_proto_opts_free(o);
}

AF_TEST_MAIN("cmp_binding", setup, teardown,
             {"genp passed through: accepted, binding recorded", test_pass_through},
             {"genp with another transactionID: refused", test_wrong_transaction_id},
             {"genp with another recipNonce: refused", test_wrong_recip_nonce},
             {"transaction continued in a new context", test_continue})
