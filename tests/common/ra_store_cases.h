/* ra_store_cases.h - the nonce store's semantic tests, written once and run against each backend:
 * tests/unit/test_ra_store.c (memory) and tests/token/test_ra_redis.c (a private redis-server).
 * The including file defines ra_make_store(), which picks the backend and its settings. */
#ifndef AF_RA_STORE_CASES_H
#define AF_RA_STORE_CASES_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "attfresh/err.h"
#include "attfresh/ra.h"
#include "testutil.h"

/* Provided by the including test: completes cfg (backend, connection) and makes the store. */
static AF_NONCE_STORE *ra_make_store(AF_NONCE_STORE_CONFIG *cfg);

/* The injectable clock: tests move time by hand. */
static uint64_t ra_fake_ms = 1800000000000ULL;

static uint64_t ra_fake_clock(void *arg)
{
    (void)arg;
    return ra_fake_ms;
}

static void ra_cfg(AF_NONCE_STORE_CONFIG *cfg, size_t max_total, size_t per_req)
{
    af_nonce_store_config_init(cfg);
    cfg->max_total = max_total;
    cfg->max_per_requester = per_req;
    cfg->clock = ra_fake_clock;
}

/* Asserts that the oldest queued error is libattfresh's `reason`, then empties the queue. */
static void ra_expect_reason(int reason)
{
    unsigned long e = ERR_peek_error();

    CU_ASSERT_EQUAL(ERR_GET_LIB(e), af_err_lib());
    CU_ASSERT_EQUAL(ERR_GET_REASON(e), reason);
    ERR_clear_error();
}

static void ra_nonce(unsigned char *n, size_t len)
{
    CU_ASSERT_FATAL(RAND_bytes(n, (int)len) == 1);
}

#define TX(s) (const unsigned char *)(s), strlen(s)

static void case_issue_consume_once(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[32];
    uint64_t exp_ms = 0;

    ra_cfg(&cfg, 100, 10);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(n, sizeof(n));
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, sizeof(n), TX("tx-1"), TX("10.0.0.1"), 300, &exp_ms),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(exp_ms, (ra_fake_ms / 1000 + 300) * 1000);
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, sizeof(n), TX("tx-1")), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, sizeof(n), TX("tx-1")), AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    /* A replay under another binding is still "used", not a hint about the transaction. */
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, sizeof(n), TX("tx-2")), AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    af_nonce_store_free(s);
}

static void case_unknown(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[16], other[16];

    ra_cfg(&cfg, 100, 10);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(n, sizeof(n));
    memcpy(other, n, sizeof(n));
    other[15] ^= 1;
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, sizeof(n), TX("tx"), TX("req"), 60, NULL),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, other, sizeof(other), TX("tx")), AF_NONCE_UNKNOWN);
    ra_expect_reason(AF_R_RA_UNKNOWN_NONCE);
    /* Same bytes, shorter: a different nonce. */
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, 8, TX("tx")), AF_NONCE_UNKNOWN);
    ra_expect_reason(AF_R_RA_UNKNOWN_NONCE);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, sizeof(n), TX("tx")), AF_NONCE_OK);
    af_nonce_store_free(s);
}

static void case_wrong_transaction(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[8];

    ra_cfg(&cfg, 100, 10);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(n, sizeof(n));
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, sizeof(n), TX("tx-A"), TX("req"), 60, NULL),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, sizeof(n), TX("tx-B")),
                    AF_NONCE_WRONG_TRANSACTION);
    ra_expect_reason(AF_R_RA_WRONG_TRANSACTION);
    /* The wrong attempt did not burn it. */
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, sizeof(n), TX("tx-A")), AF_NONCE_OK);
    af_nonce_store_free(s);
}

static void case_expired(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char a[20], b[20];

    ra_cfg(&cfg, 100, 10);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(a, sizeof(a));
    ra_nonce(b, sizeof(b));
    ra_fake_ms = (ra_fake_ms / 1000 + 1) * 1000; /* on a second boundary */
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, a, sizeof(a), TX("tx"), TX("req"), 10, NULL),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, b, sizeof(b), TX("tx"), TX("req"), 10, NULL),
                    AF_NONCE_OK);
    ra_fake_ms += 9999; /* last moment of validity */
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, a, sizeof(a), TX("tx")), AF_NONCE_OK);
    ra_fake_ms += 1;
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, b, sizeof(b), TX("tx")), AF_NONCE_EXPIRED);
    ra_expect_reason(AF_R_RA_EXPIRED);
    /* Remembered: a replay is told "expired" / "used", not "unknown". */
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, b, sizeof(b), TX("tx")), AF_NONCE_EXPIRED);
    ra_expect_reason(AF_R_RA_EXPIRED);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, a, sizeof(a), TX("tx")), AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    af_nonce_store_free(s);
}

static void case_duplicate_issue(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[64];

    ra_cfg(&cfg, 100, 10);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(n, sizeof(n));
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, sizeof(n), TX("tx"), TX("req"), 60, NULL),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, sizeof(n), TX("tx2"), TX("req2"), 60, NULL),
                    AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, sizeof(n), TX("tx")), AF_NONCE_OK);
    /* Used nonces are never issued again either. */
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, sizeof(n), TX("tx"), TX("req"), 60, NULL),
                    AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    af_nonce_store_free(s);
}

static void case_bad_arguments(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[65];

    ra_cfg(&cfg, 100, 10);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(n, sizeof(n));
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 7, TX("tx"), TX("req"), 60, NULL), AF_NONCE_ERROR);
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 65, TX("tx"), TX("req"), 60, NULL), AF_NONCE_ERROR);
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 8, NULL, 0, TX("req"), 60, NULL), AF_NONCE_ERROR);
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 8, TX("tx"), TX("req"), 0, NULL), AF_NONCE_ERROR);
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, 0, TX("tx")), AF_NONCE_ERROR);
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(af_nonce_store_consume(NULL, n, 8, TX("tx")), AF_NONCE_ERROR);
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    af_nonce_store_free(s);
    af_nonce_store_free(NULL);
}

static void case_total_cap(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[6][16];
    char req[16];
    int i;

    ra_cfg(&cfg, 5, 10);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (i = 0; i < 6; i++) {
        ra_nonce(n[i], 16);
        snprintf(req, sizeof(req), "req-%d", i); /* distinct requesters: only the total cap bites */
        CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[i], 16, TX("tx"), TX(req), 60, NULL),
                        i < 5 ? AF_NONCE_OK : AF_NONCE_FULL);
    }
    ra_expect_reason(AF_R_RA_FULL);
    /* Using one frees its place. */
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n[0], 16, TX("tx")), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[5], 16, TX("tx"), TX("req-5"), 60, NULL),
                    AF_NONCE_OK);
    /* Expiry frees every place, promptly, without a sweep call. */
    ra_nonce(n[0], 16);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[0], 16, TX("tx"), TX("req-x"), 60, NULL),
                    AF_NONCE_FULL);
    ra_expect_reason(AF_R_RA_FULL);
    ra_fake_ms += 62000;
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[0], 16, TX("tx"), TX("req-x"), 60, NULL),
                    AF_NONCE_OK);
    af_nonce_store_free(s);
}

static void case_requester_cap(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[4][16];
    int i;

    ra_cfg(&cfg, 100, 2);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (i = 0; i < 4; i++)
        ra_nonce(n[i], 16);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[0], 16, TX("tx0"), TX("alice"), 60, NULL),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[1], 16, TX("tx1"), TX("alice"), 60, NULL),
                    AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[2], 16, TX("tx2"), TX("alice"), 60, NULL),
                    AF_NONCE_FULL);
    ra_expect_reason(AF_R_RA_FULL);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[3], 16, TX("tx3"), TX("bob"), 60, NULL), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n[1], 16, TX("tx1")), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[2], 16, TX("tx2"), TX("alice"), 60, NULL),
                    AF_NONCE_OK);
    af_nonce_store_free(s);
}

static void case_sweep(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    AF_NONCE_STORE_STATS st;
    unsigned char n[16];
    char tx[16];
    int i;

    ra_cfg(&cfg, 1000, 1000);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (i = 0; i < 200; i++) {
        ra_nonce(n, sizeof(n));
        snprintf(tx, sizeof(tx), "tx-%d", i);
        CU_ASSERT_EQUAL(
            af_nonce_store_issue(s, n, sizeof(n), TX(tx), TX("req"), i < 150 ? 5 : 500, NULL),
            AF_NONCE_OK);
    }
    CU_ASSERT_FATAL(af_nonce_store_get_stats(s, &st) == 1);
    CU_ASSERT_EQUAL(st.outstanding, 200);
    ra_fake_ms += 7000;
    CU_ASSERT(af_nonce_store_sweep(s, 0) >= 150);
    CU_ASSERT_FATAL(af_nonce_store_get_stats(s, &st) == 1);
    CU_ASSERT_EQUAL(st.outstanding, 50);
    af_nonce_store_free(s);
}

/* ---- many threads, one nonce: exactly one winner ------------------------------------------ */

#define RA_THREADS 8
#define RA_ROUNDS 100

typedef struct {
    AF_NONCE_STORE *s;
    pthread_barrier_t *bar;
    const unsigned char (*nonces)[16];
    int ok, reused, other;
} ra_racer;

static void *ra_race(void *arg)
{
    ra_racer *r = arg;
    int i;

    for (i = 0; i < RA_ROUNDS; i++) {
        AF_NONCE_RESULT res;

        pthread_barrier_wait(r->bar);
        res = af_nonce_store_consume(r->s, r->nonces[i], 16, TX("tx"));
        if (res == AF_NONCE_OK)
            r->ok++;
        else if (res == AF_NONCE_REUSED)
            r->reused++;
        else
            r->other++;
        ERR_clear_error();
    }
    OPENSSL_thread_stop();
    return NULL;
}

static void case_threads_one_winner(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    static unsigned char nonces[RA_ROUNDS][16];
    pthread_t th[RA_THREADS];
    ra_racer r[RA_THREADS];
    pthread_barrier_t bar;
    int i, ok = 0, reused = 0, other = 0;

    ra_cfg(&cfg, 1000, 1000);
    cfg.redis_max_connections = RA_THREADS;
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (i = 0; i < RA_ROUNDS; i++) {
        ra_nonce(nonces[i], 16);
        CU_ASSERT_EQUAL(af_nonce_store_issue(s, nonces[i], 16, TX("tx"), TX("req"), 60, NULL),
                        AF_NONCE_OK);
    }
    CU_ASSERT_FATAL(pthread_barrier_init(&bar, NULL, RA_THREADS) == 0);
    for (i = 0; i < RA_THREADS; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].s = s;
        r[i].bar = &bar;
        r[i].nonces = (const unsigned char(*)[16])nonces;
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, ra_race, &r[i]) == 0);
    }
    for (i = 0; i < RA_THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].ok;
        reused += r[i].reused;
        other += r[i].other;
    }
    pthread_barrier_destroy(&bar);
    CU_ASSERT_EQUAL(ok, RA_ROUNDS);
    CU_ASSERT_EQUAL(reused, RA_ROUNDS * (RA_THREADS - 1));
    CU_ASSERT_EQUAL(other, 0);
    af_nonce_store_free(s);
}

#define RA_COMMON_CASES                                                                            \
    {"issue, consume once", case_issue_consume_once}, {"unknown nonce", case_unknown},             \
        {"wrong transaction", case_wrong_transaction}, {"expired", case_expired},                  \
        {"duplicate issue", case_duplicate_issue}, {"bad arguments", case_bad_arguments},          \
        {"total cap", case_total_cap}, {"per-requester cap", case_requester_cap},                  \
        {"sweep", case_sweep},                                                                     \
    {                                                                                              \
        "threads: one winner per nonce", case_threads_one_winner                                   \
    }

#endif
