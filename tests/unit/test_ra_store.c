/* test_ra_store.c - the in-memory nonce store (the shared semantic cases plus memory-only ones:
 * remembering window, requester table, eviction of remembered entries, a randomised comparison
 * against a plain model), its SipHash against OpenSSL's, and the per-client rate limiter. */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "ra/nonce_store_local.h"
#include "ra_store_cases.h"

static AF_NONCE_STORE *ra_make_store(AF_NONCE_STORE_CONFIG *cfg)
{
    cfg->backend = AF_NONCE_STORE_MEMORY;
    return af_nonce_store_new(cfg);
}

static void test_siphash_matches_openssl(void)
{
    unsigned char key[16], in[64], mac[16], ours[16];
    uint64_t out[2];
    size_t len, maclen, i;
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "SIPHASH", NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(alg);
    for (i = 0; i < 16; i++)
        key[i] = (unsigned char)i;
    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)i;
    /* Every tail length 0..7 and several block counts. */
    for (len = 0; len <= sizeof(in); len++) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
        size_t sz = 16;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &sz),
                               OSSL_PARAM_construct_end()};

        CU_ASSERT_FATAL(ctx != NULL && EVP_MAC_init(ctx, key, sizeof(key), params) == 1);
        CU_ASSERT_FATAL(EVP_MAC_update(ctx, in, len) == 1);
        CU_ASSERT_FATAL(EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen == 16);
        EVP_MAC_CTX_free(ctx);
        af_siphash128(key, in, len, out);
        for (i = 0; i < 8; i++) {
            ours[i] = (unsigned char)(out[0] >> (8 * i));
            ours[8 + i] = (unsigned char)(out[1] >> (8 * i));
        }
        CU_ASSERT_EQUAL(memcmp(ours, mac, 16), 0);
    }
    EVP_MAC_free(alg);
}

static void test_result_names(void)
{
    CU_ASSERT_STRING_EQUAL(af_nonce_result_str(AF_NONCE_OK), "ok");
    CU_ASSERT_STRING_EQUAL(af_nonce_result_str(AF_NONCE_UNKNOWN), "unknown");
    CU_ASSERT_STRING_EQUAL(af_nonce_result_str(AF_NONCE_EXPIRED), "expired");
    CU_ASSERT_STRING_EQUAL(af_nonce_result_str(AF_NONCE_REUSED), "already used");
    CU_ASSERT_STRING_EQUAL(af_nonce_result_str(AF_NONCE_WRONG_TRANSACTION), "wrong transaction");
    CU_ASSERT_STRING_EQUAL(af_nonce_result_str(AF_NONCE_FULL), "store full");
    CU_ASSERT_STRING_EQUAL(af_nonce_result_str(AF_NONCE_ERROR), "error");
}

static void test_bad_config(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_RATELIMIT_CONFIG rcfg;

    ra_cfg(&cfg, 0, 10);
    CU_ASSERT_PTR_NULL(ra_make_store(&cfg));
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    ra_cfg(&cfg, 10, 0);
    CU_ASSERT_PTR_NULL(ra_make_store(&cfg));
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    af_ratelimit_config_init(&rcfg);
    rcfg.rate_per_s = 0;
    CU_ASSERT_PTR_NULL(af_ratelimit_new(&rcfg));
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
}

static void test_memory_budget(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    AF_NONCE_STORE_STATS st;

    /* The tables a 1 000 000-nonce store allocates, even with one distinct requester per nonce. */
    ra_cfg(&cfg, 1000000, 16);
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_FATAL(af_nonce_store_get_stats(s, &st) == 1);
    CU_ASSERT_EQUAL(st.capacity, (size_t)1 << 21);
    CU_ASSERT(st.table_bytes / cfg.max_total <= 128);
    af_nonce_store_free(s);
}

static void test_remember_then_forget(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    AF_NONCE_STORE_STATS st;
    unsigned char a[16], b[16];

    ra_cfg(&cfg, 100, 10);
    cfg.remember_s = 30;
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ra_nonce(a, sizeof(a));
    ra_nonce(b, sizeof(b));
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, a, 16, TX("tx"), TX("r"), 10, NULL), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, b, 16, TX("tx"), TX("r"), 10, NULL), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, a, 16, TX("tx")), AF_NONCE_OK);
    ra_fake_ms += 20000; /* expired, inside the remembering window */
    CU_ASSERT(af_nonce_store_sweep(s, 0) >= 1);
    CU_ASSERT_FATAL(af_nonce_store_get_stats(s, &st) == 1);
    CU_ASSERT_EQUAL(st.outstanding, 0);
    CU_ASSERT_EQUAL(st.remembered, 2);
    CU_ASSERT_EQUAL(st.requesters, 0);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, a, 16, TX("tx")), AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, b, 16, TX("tx")), AF_NONCE_EXPIRED);
    ra_expect_reason(AF_R_RA_EXPIRED);
    ra_fake_ms += 25000; /* past expiry + 30 s */
    CU_ASSERT_EQUAL(af_nonce_store_sweep(s, 0), 2);
    CU_ASSERT_FATAL(af_nonce_store_get_stats(s, &st) == 1);
    CU_ASSERT_EQUAL(st.remembered, 0);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, a, 16, TX("tx")), AF_NONCE_UNKNOWN);
    ra_expect_reason(AF_R_RA_UNKNOWN_NONCE);
    af_nonce_store_free(s);
}

static void test_requester_table_full(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    unsigned char n[4][16];
    int i;

    ra_cfg(&cfg, 100, 10);
    cfg.max_requesters = 2;
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (i = 0; i < 4; i++)
        ra_nonce(n[i], 16);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[0], 16, TX("t"), TX("a"), 10, NULL), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[1], 16, TX("t"), TX("b"), 10, NULL), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[2], 16, TX("t"), TX("c"), 10, NULL), AF_NONCE_FULL);
    ra_expect_reason(AF_R_RA_FULL);
    /* A known requester still gets nonces; a requester with none left frees its record. */
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[3], 16, TX("t"), TX("a"), 10, NULL), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n[1], 16, TX("t")), AF_NONCE_OK);
    CU_ASSERT_EQUAL(af_nonce_store_issue(s, n[2], 16, TX("t"), TX("c"), 10, NULL), AF_NONCE_OK);
    af_nonce_store_free(s);
}

static void test_remembered_make_room(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    AF_NONCE_STORE_STATS st;
    unsigned char n[16];
    int i;

    /* 40 outstanding max: a 64-slot table holding at most 52. Using nonces over and over must keep
     * working, by forgetting the oldest remembered ones. */
    ra_cfg(&cfg, 40, 1000);
    cfg.remember_s = 3600;
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (i = 0; i < 500; i++) {
        ra_nonce(n, sizeof(n));
        CU_ASSERT_EQUAL(af_nonce_store_issue(s, n, 16, TX("t"), TX("a"), 600, NULL), AF_NONCE_OK);
        CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, 16, TX("t")), AF_NONCE_OK);
    }
    CU_ASSERT_FATAL(af_nonce_store_get_stats(s, &st) == 1);
    CU_ASSERT_EQUAL(st.capacity, 64);
    CU_ASSERT_EQUAL(st.outstanding, 0);
    CU_ASSERT(st.remembered <= 52 && st.remembered >= 40);
    /* The most recent one is still remembered precisely. */
    CU_ASSERT_EQUAL(af_nonce_store_consume(s, n, 16, TX("t")), AF_NONCE_REUSED);
    ra_expect_reason(AF_R_RA_REUSED);
    af_nonce_store_free(s);
}

/* ---- randomised: the store against a plain array model -------------------------------------- */

#define M_MAX 3000
#define M_TOTAL 60
#define M_PER_REQ 9
#define M_REMEMBER 4

typedef struct {
    unsigned char nonce[8];
    uint64_t expiry_s;
    int req, tx, used;
} m_entry;

static size_t model_live(const m_entry *m, size_t n, uint64_t now, int req)
{
    size_t i, c = 0;

    for (i = 0; i < n; i++)
        if (!m[i].used && now < m[i].expiry_s && (req < 0 || m[i].req == req))
            c++;
    return c;
}

static void test_random_against_model(void)
{
    AF_NONCE_STORE_CONFIG cfg;
    AF_NONCE_STORE *s;
    static m_entry m[M_MAX];
    size_t n = 0;
    unsigned int seed = 12345;
    int step, mismatches = 0;
    char rq[8], tx[8];

    ra_cfg(&cfg, M_TOTAL, M_PER_REQ);
    cfg.remember_s = M_REMEMBER;
    s = ra_make_store(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (step = 0; step < 20000 && n < M_MAX; step++) {
        int op = rand_r(&seed) % 10;
        uint64_t now = ra_fake_ms / 1000;

        if (op < 4) { /* issue */
            m_entry *e = &m[n];
            AF_NONCE_RESULT want, got;
            uint32_t ttl = 1 + (uint32_t)(rand_r(&seed) % 20);

            ra_nonce(e->nonce, sizeof(e->nonce));
            e->req = rand_r(&seed) % 12;
            e->tx = rand_r(&seed) % 1000;
            e->used = 0;
            e->expiry_s = (ra_fake_ms + 999) / 1000 + ttl;
            snprintf(rq, sizeof(rq), "r%d", e->req);
            snprintf(tx, sizeof(tx), "t%d", e->tx);
            want =
                model_live(m, n, now, -1) >= M_TOTAL || model_live(m, n, now, e->req) >= M_PER_REQ
                    ? AF_NONCE_FULL
                    : AF_NONCE_OK;
            got = af_nonce_store_issue(s, e->nonce, 8, TX(tx), TX(rq), ttl, NULL);
            if (got != want)
                mismatches++;
            if (got == AF_NONCE_OK)
                n++;
        } else if (op < 9 && n > 0) { /* consume a known one, sometimes with the wrong binding */
            m_entry *e = &m[(size_t)rand_r(&seed) % n];
            int wrong = rand_r(&seed) % 5 == 0;
            AF_NONCE_RESULT got;

            snprintf(tx, sizeof(tx), "t%d", wrong ? e->tx + 1 : e->tx);
            got = af_nonce_store_consume(s, e->nonce, 8, TX(tx));
            if (e->used) {
                /* Remembered until expiry + window, then (or if evicted) unknown. */
                if (!(got == AF_NONCE_REUSED || (got == AF_NONCE_UNKNOWN && now >= e->expiry_s)))
                    mismatches++;
            } else if (now >= e->expiry_s) {
                if (!(got == AF_NONCE_EXPIRED ||
                      (got == AF_NONCE_UNKNOWN && now >= e->expiry_s + M_REMEMBER)))
                    mismatches++;
            } else if (wrong) {
                if (got != AF_NONCE_WRONG_TRANSACTION)
                    mismatches++;
            } else {
                if (got != AF_NONCE_OK)
                    mismatches++;
                e->used = 1;
            }
        } else { /* time passes */
            ra_fake_ms += (uint64_t)(rand_r(&seed) % 1500);
        }
        ERR_clear_error();
    }
    CU_ASSERT(n > 1000); /* the run did exercise the store */
    CU_ASSERT_EQUAL(mismatches, 0);
    af_nonce_store_free(s);
}

/* ---- rate limiter --------------------------------------------------------------------------- */

static void test_ratelimit_bucket(void)
{
    AF_RATELIMIT_CONFIG cfg;
    AF_RATELIMIT *rl;
    int i;

    af_ratelimit_config_init(&cfg);
    cfg.rate_per_s = 2;
    cfg.burst = 3;
    cfg.clock = ra_fake_clock;
    rl = af_ratelimit_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rl);
    for (i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("192.0.2.1")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("192.0.2.1")), 0);
    ra_expect_reason(AF_R_RA_RATE_LIMIT);
    /* Someone else is not affected. */
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("192.0.2.2")), 1);
    /* 2/s: after 499 ms still nothing, at 500 ms one token. */
    ra_fake_ms += 499;
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("192.0.2.1")), 0);
    ra_expect_reason(AF_R_RA_RATE_LIMIT);
    ra_fake_ms += 1;
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("192.0.2.1")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("192.0.2.1")), 0);
    ra_expect_reason(AF_R_RA_RATE_LIMIT);
    /* A long pause refills to the burst, no more. */
    ra_fake_ms += 3600000;
    for (i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("192.0.2.1")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("192.0.2.1")), 0);
    ra_expect_reason(AF_R_RA_RATE_LIMIT);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, NULL, 0), 0);
    ra_expect_reason(AF_R_INVALID_ARGUMENT);
    af_ratelimit_free(rl);
    af_ratelimit_free(NULL);
}

static void test_ratelimit_bounded_table(void)
{
    AF_RATELIMIT_CONFIG cfg;
    AF_RATELIMIT *rl;
    char id[32];
    int i, j, denied = 0;

    af_ratelimit_config_init(&cfg);
    cfg.rate_per_s = 1;
    cfg.burst = 2;
    cfg.max_clients = 8; /* one window: every newcomer must evict */
    cfg.clock = ra_fake_clock;
    rl = af_ratelimit_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rl);
    /* Exhaust 8 clients, then 1000 more arrive: each is admitted (a new bucket), the table stays at
     * 8 slots, and a client that is still tracked stays limited. */
    for (i = 0; i < 8; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        for (j = 0; j < 2; j++)
            CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX(id)), 1);
    }
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("c7")), 0);
    ra_expect_reason(AF_R_RA_RATE_LIMIT);
    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "new%d", i);
        if (af_ratelimit_allow(rl, TX(id)) != 1)
            denied++;
        ra_fake_ms += 1;
    }
    CU_ASSERT_EQUAL(denied, 0);
    ERR_clear_error();
    /* The most recent newcomer is still tracked: its second and third requests. */
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("new999")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("new999")), 0);
    ra_expect_reason(AF_R_RA_RATE_LIMIT);
    af_ratelimit_free(rl);
}

static void test_ratelimit_prefers_idle_victim(void)
{
    AF_RATELIMIT_CONFIG cfg;
    AF_RATELIMIT *rl;
    char id[32];
    int i;

    af_ratelimit_config_init(&cfg);
    cfg.rate_per_s = 1;
    cfg.burst = 2;
    cfg.max_clients = 8;
    cfg.clock = ra_fake_clock;
    rl = af_ratelimit_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rl);
    /* "old" is seen first but refills; c0..c6 arrive later and stay exhausted. */
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("busy")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("busy")), 1);
    ra_fake_ms += 10;
    for (i = 0; i < 7; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX(id)), 1);
    }
    ra_fake_ms += 10;
    /* busy (oldest, but exhausted: not idle); c0..c6 have one token left each, not idle either.
     * So the newcomer evicts the least recently seen: busy. */
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("newcomer")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("busy")), 1); /* forgotten: a fresh bucket */
    ERR_clear_error();
    /* Now c0..c6 spent nothing more for 5 s: full again, idle; newcomer2 takes an idle slot and
     * "busy" (most recent) keeps its nearly empty bucket. */
    ra_fake_ms += 5000;
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("busy")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("busy")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("newcomer2")), 1);
    CU_ASSERT_EQUAL(af_ratelimit_allow(rl, TX("busy")), 0);
    ra_expect_reason(AF_R_RA_RATE_LIMIT);
    af_ratelimit_free(rl);
}

AF_TEST_MAIN("ra_store", NULL, NULL, RA_COMMON_CASES,
             {"siphash-2-4-128 equals OpenSSL SIPHASH", test_siphash_matches_openssl},
             {"result names", test_result_names}, {"bad configuration", test_bad_config},
             {"memory budget for 1e6 nonces", test_memory_budget},
             {"remembering window, then forgotten", test_remember_then_forget},
             {"requester table full", test_requester_table_full},
             {"remembered entries make room", test_remembered_make_room},
             {"random operations against a model", test_random_against_model},
             {"rate limit: token bucket", test_ratelimit_bucket},
             {"rate limit: bounded table", test_ratelimit_bounded_table},
             {"rate limit: idle clients evicted first", test_ratelimit_prefers_idle_victim})
