/* test_ra_redis.c - the nonce store's Redis backend against a real, private redis-server (started
 * by tests/scripts/redis-fixture.sh): the shared semantic cases, two store handles as two RA nodes
 * sharing state, key hygiene (hashed names, TTLs), and clear errors when Redis is unreachable. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ra_store_cases.h"

static int redis_port;
static unsigned int prefix_seq;

static int setup(void)
{
    char path[4096];
    const char *bin = getenv("AF_TEST_BIN");
    FILE *f;

    snprintf(path, sizeof(path), "%s/testredis/port", bin != NULL ? bin : ".");
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "no Redis fixture: %s missing (run through ctest)\n", path);
        return 1;
    }
    if (fscanf(f, "%d", &redis_port) != 1)
        redis_port = 0;
    fclose(f);
    return redis_port > 0 ? 0 : 1;
}

/* A fresh key prefix per store: cases never see each other's keys. */
static const char *fresh_prefix(void)
{
    static char buf[64];

    snprintf(buf, sizeof(buf), "t%ld-%u", (long)getpid(), ++prefix_seq);
    return buf;
}

static void redis_cfg(AF_NONCE_STORE_CONFIG *cfg, const char *prefix)
{
    cfg->backend = AF_NONCE_STORE_REDIS;
    cfg->redis_host = "127.0.0.1";
    cfg->redis_port = redis_port;
    cfg->redis_prefix = prefix;
}

static AF_NONCE_STORE *ra_make_store(AF_NONCE_STORE_CONFIG *cfg)
{
    redis_cfg(cfg, fresh_prefix());
    return af_nonce_store_new(cfg);
}

/* Output of a redis-cli command against the fixture, first line; "" on failure. */
static const char *cli(const char *args)
{
    static char out[4096];
    char cmd[1024];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d %s", redis_port, args);
    out[0] = '\0';
    p = popen(cmd, "r");
    if (p == NULL)
        return out;
    if (fgets(out, sizeof(out), p) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
    return out;
}

static void test_two_nodes_share_state(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *a, *b;
    const char *prefix = fresh_prefix();
    unsigned char n[3][32];
    int i;

    ra_cfg(&cfg, 100, 2);
    redis_cfg(&cfg, prefix);
    a = af_nonce_store_new(&cfg);
    b = af_nonce_store_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    for (i = 0; i < 3; i++)
        ra_nonce(n[i], 32);
    /* Issued by node A, checked by node B, replayed at A. */
    CU_ASSERT_EQUAL(af_nonce_store_issue(a, n[0], 32, TX("tx"), TX("dev-1"), 60, NULL),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(b, n[0], 32, TX("other")), AF_NONCE_WRONG_TRANSACTION);
    ra_expect_reason(AF_R_RA_WRONG_TRANSACTION);
    CU_ASSERT_EQUAL(af_nonce_store_consume(b, n[0], 32, TX("tx")), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(a, n[0], 32, TX("tx")), AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    /* The per-requester cap counts across nodes. */
    CU_ASSERT_EQUAL(af_nonce_store_issue(a, n[1], 32, TX("tx1"), TX("dev-2"), 60, NULL),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(b, n[2], 32, TX("tx2"), TX("dev-2"), 60, NULL),
                    AF_NONCE_OK);
    ra_nonce(n[0], 32);
    CU_ASSERT_EQUAL(af_nonce_store_issue(a, n[0], 32, TX("tx3"), TX("dev-2"), 60, NULL),
                    AF_NONCE_FULL);
    ra_expect_reason(AF_R_RA_FULL);
    /* A nonce issued at one node is never issued again at another. */
    CU_ASSERT_EQUAL(af_nonce_store_issue(b, n[1], 32, TX("tx1"), TX("dev-3"), 60, NULL),
                    AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    af_nonce_store_free(a);
    af_nonce_store_free(b);
}

typedef struct {
    AF_NONCE_STORE *s;
    pthread_barrier_t *bar;
    const unsigned char *nonce;
    AF_NONCE_RESULT res;
} node_racer;

static void *node_race(void *arg)
{
    node_racer *r = arg;

    pthread_barrier_wait(r->bar);
    r->res = af_nonce_store_consume(r->s, r->nonce, 16, TX("tx"));
    ERR_clear_error();
    OPENSSL_thread_stop();
    return NULL;
}

static void test_two_nodes_race(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *node[2];
    const char *prefix = fresh_prefix();
    unsigned char n[16];
    pthread_t th[8];
    node_racer r[8];
    pthread_barrier_t bar;
    int round, i, ok_total = 0, bad = 0;

    ra_cfg(&cfg, 1000, 1000);
    cfg.redis_max_connections = 4;
    redis_cfg(&cfg, prefix);
    node[0] = af_nonce_store_new(&cfg);
    node[1] = af_nonce_store_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(node[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(node[1]);
    for (round = 0; round < 30; round++) {
        int ok = 0;

        ra_nonce(n, sizeof(n));
        CU_ASSERT_EQUAL(af_nonce_store_issue(node[round & 1], n, 16, TX("tx"), TX("d"), 60, NULL),
                        AF_NONCE_OK);
        CU_ASSERT_FATAL(pthread_barrier_init(&bar, NULL, 8) == 0);
        for (i = 0; i < 8; i++) {
            r[i].s = node[i & 1];
            r[i].bar = &bar;
            r[i].nonce = n;
            r[i].res = AF_NONCE_ERROR;
            CU_ASSERT_FATAL(pthread_create(&th[i], NULL, node_race, &r[i]) == 0);
        }
        for (i = 0; i < 8; i++) {
            pthread_join(th[i], NULL);
            if (r[i].res == AF_NONCE_OK)
                ok++;
            else if (r[i].res != AF_NONCE_REUSED)
                bad++;
        }
        pthread_barrier_destroy(&bar);
        CU_ASSERT_EQUAL(ok, 1);
        ok_total += ok;
    }
    CU_ASSERT_EQUAL(ok_total, 30);
    CU_ASSERT_EQUAL(bad, 0);
    af_nonce_store_free(node[0]);
    af_nonce_store_free(node[1]);
}

static void test_keys_hashed_with_ttl(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    const char *prefix = fresh_prefix();
    unsigned char n[16];
    char args[512], hex[33], key[256];
    int i;
    long ttl;

    ra_cfg(&cfg, 100, 10);
    cfg.remember_s = 60;
    redis_cfg(&cfg, prefix);
    s = af_nonce_store_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(n, sizeof(n));
    for (i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", n[i]);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 16, TX("tx-secret-id"), TX("dev"), 100, NULL),
                    AF_NONCE_OK);
    snprintf(args, sizeof(args), "--scan --pattern '{%s}:n:*'", prefix);
    snprintf(key, sizeof(key), "%s", cli(args));
    CU_ASSERT_EQUAL(strncmp(key, "{", 1), 0);
    CU_ASSERT_PTR_NULL(strstr(key, hex)); /* the raw nonce is not the key */
    snprintf(args, sizeof(args), "GET '%s'", key);
    CU_ASSERT_PTR_NULL(strstr(cli(args), "tx-secret-id")); /* nor is the binding stored */
    snprintf(args, sizeof(args), "TTL '%s'", key);
    ttl = strtol(cli(args), NULL, 10);
    /* Expiry (100 s, rounded up, from the fake clock) + 60 s remembering. */
    CU_ASSERT(ttl > 150 && ttl <= 161);
    af_nonce_store_free(s);
}

static void test_redis_down(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    char line[512];

    /* Port 1 on loopback: nothing listens there. */
    ra_cfg(&cfg, 100, 10);
    redis_cfg(&cfg, fresh_prefix());
    cfg.redis_port = 1;
    s = af_nonce_store_new(&cfg);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(ERR_GET_REASON(ERR_peek_error()), AF_R_RA_STORE);
    af_err_line(line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "127.0.0.1:1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "refused"));
    af_nonce_store_free(s);
}

static void test_reconnects_after_drop(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[16];
    char line[512];
    AF_NONCE_RESULT r;

    ra_cfg(&cfg, 100, 10);
    cfg.redis_max_connections = 1;
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(n, sizeof(n));
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 16, TX("tx"), TX("d"), 60, NULL), AF_NONCE_OK);
    /* Redis drops every client (as on a restart or failover). */
    CU_ASSERT_STRING_NOT_EQUAL(cli("CLIENT KILL TYPE normal"), "");
    /* The dead connection is noticed and reported as a store failure, in Redis's words ... */
    r = af_nonce_store_consume(s, n, 16, TX("tx"));
    CU_ASSERT_EQUAL(r, AF_NONCE_ERROR);
    CU_ASSERT_EQUAL(ERR_GET_REASON(ERR_peek_error()), AF_R_RA_STORE);
    af_err_line(line, sizeof(line));
    fprintf(stderr, "  (reported: %s)\n", line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "Redis at 127.0.0.1:"));
    /* ... and the next call reconnects; the nonce was not used by the failed call. */
    r = af_nonce_store_consume(s, n, 16, TX("tx"));
    CU_ASSERT_EQUAL(r, AF_NONCE_OK);
    af_nonce_store_free(s);
}

static void test_timeout(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[16];
    char line[512];

    ra_cfg(&cfg, 100, 10);
    cfg.redis_timeout_ms = 200;
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(n, sizeof(n));
    /* Redis stops answering for 1.5 s (as when it is overloaded or a failover is in progress):
     * the call gives up after 200 ms with a store error instead of hanging. */
    CU_ASSERT_STRING_EQUAL(cli("CLIENT PAUSE 1500 ALL"), "OK");
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 16, TX("tx"), TX("d"), 60, NULL), AF_NONCE_ERROR);
    CU_ASSERT_EQUAL(ERR_GET_REASON(ERR_peek_error()), AF_R_RA_STORE);
    af_err_line(line, sizeof(line));
    fprintf(stderr, "  (reported: %s)\n", line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "no answer within 200 ms"));
    /* redis-cli waits out the pause; then the store works again on a new connection. */
    CU_ASSERT_STRING_EQUAL(cli("PING"), "PONG");
    ra_nonce(n, sizeof(n));
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 16, TX("tx"), TX("d"), 60, NULL), AF_NONCE_OK);
    af_nonce_store_free(s);
}

AF_TEST_MAIN("ra_redis", setup, NULL, RA_COMMON_CASES,
             {"two RA nodes share state", test_two_nodes_share_state},
             {"two RA nodes race on one nonce", test_two_nodes_race},
             {"keys hashed, TTL set", test_keys_hashed_with_ttl},
             {"Redis unreachable", test_redis_down},
             {"reconnect after Redis drops clients", test_reconnects_after_drop},
             {"command timeout", test_timeout})
