/* ratelimit.c - per-client token buckets for the RA, in a fixed table: a client id hashes to a
 * window of WINDOW slots; a newcomer takes a free slot there, else the slot of an idle client
 * (whose bucket has refilled: forgetting it changes nothing), else the least recently seen one. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "attfresh/err.h"
#include "nonce_store_local.h"

#define WINDOW 8

typedef struct {
    uint64_t h;       /* keyed hash of the client id, 0 = free slot */
    uint64_t last_ms; /* when the bucket was last refilled */
    double tokens;
} rl_slot;

struct af_ratelimit_st {
    pthread_mutex_t mu;
    unsigned char key[16];
    rl_slot *slots;
    size_t mask;
    double rate_per_ms, burst;
    af_clock_fn clock;
    void *clock_arg;
};

void af_ratelimit_config_init(AF_RATELIMIT_CONFIG *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->rate_per_s = 5;
    cfg->burst = 20;
    cfg->max_clients = 65536;
    cfg->clock = af_clock_realtime_ms;
}

AF_RATELIMIT *af_ratelimit_new(const AF_RATELIMIT_CONFIG *cfg)
{
    AF_RATELIMIT *rl;
    AF_RATELIMIT_CONFIG def;
    size_t n = WINDOW;

    if (cfg == NULL) {
        af_ratelimit_config_init(&def);
        cfg = &def;
    }
    if (!(cfg->rate_per_s > 0) || !(cfg->burst >= 1) || cfg->max_clients == 0 ||
        cfg->max_clients > ((size_t)1 << 30)) {
        AF_ERR(AF_R_INVALID_ARGUMENT,
               "rate limit: rate_per_s > 0, burst >= 1, max_clients 1..1073741824");
        return NULL;
    }
    rl = OPENSSL_zalloc(sizeof(*rl));
    if (rl == NULL) {
        AF_ERR(AF_R_MALLOC, "rate limiter");
        return NULL;
    }
    while (n < cfg->max_clients)
        n <<= 1;
    rl->mask = n - 1;
    rl->rate_per_ms = cfg->rate_per_s / 1000.0;
    rl->burst = cfg->burst;
    rl->clock = cfg->clock != NULL ? cfg->clock : af_clock_realtime_ms;
    rl->clock_arg = cfg->clock != NULL ? cfg->clock_arg : NULL;
    if (pthread_mutex_init(&rl->mu, NULL) != 0) {
        OPENSSL_free(rl);
        AF_ERR(AF_R_INTERNAL, "rate limiter mutex");
        return NULL;
    }
    rl->slots = calloc(n, sizeof(rl_slot));
    if (rl->slots == NULL) {
        AF_ERR(AF_R_MALLOC, "rate limiter table for %zu clients", cfg->max_clients);
        af_ratelimit_free(rl);
        return NULL;
    }
    if (RAND_bytes(rl->key, sizeof(rl->key)) != 1) {
        AF_ERR(AF_R_CRYPTO, "no random bytes for the rate limiter's hash key");
        af_ratelimit_free(rl);
        return NULL;
    }
    return rl;
}

void af_ratelimit_free(AF_RATELIMIT *rl)
{
    if (rl == NULL)
        return;
    free(rl->slots);
    pthread_mutex_destroy(&rl->mu);
    OPENSSL_cleanse(rl->key, sizeof(rl->key));
    OPENSSL_free(rl);
}

static double refilled(const AF_RATELIMIT *rl, const rl_slot *s, uint64_t now)
{
    /* A clock that steps back refills nothing rather than going negative. */
    double t = s->tokens + (now > s->last_ms ? (double)(now - s->last_ms) * rl->rate_per_ms : 0.0);

    return t > rl->burst ? rl->burst : t;
}

int af_ratelimit_allow(AF_RATELIMIT *rl, const unsigned char *client, size_t client_len)
{
    uint64_t h[2], now;
    size_t i, base, victim = 0;
    rl_slot *s = NULL;
    int ok;

    if (rl == NULL || client == NULL || client_len == 0 || client_len > 1024) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "rate limiter: client id must be 1..1024 bytes");
        return 0;
    }
    af_siphash128(rl->key, client, client_len, h);
    if (h[0] == 0)
        h[0] = 1;
    now = rl->clock(rl->clock_arg);
    base = (size_t)h[0] & rl->mask;

    pthread_mutex_lock(&rl->mu);
    for (i = 0; i < WINDOW; i++) {
        rl_slot *c = &rl->slots[(base + i) & rl->mask];

        if (c->h == h[0]) {
            s = c;
            break;
        }
    }
    if (s == NULL) {
        int best = -1; /* 2: free, 1: idle (full bucket), 0: oldest */

        for (i = 0; i < WINDOW; i++) {
            size_t j = (base + i) & rl->mask;
            rl_slot *c = &rl->slots[j];
            int rank = c->h == 0 ? 2 : refilled(rl, c, now) >= rl->burst ? 1 : 0;

            if (rank > best ||
                (rank == best && rank == 0 && c->last_ms < rl->slots[victim].last_ms)) {
                best = rank;
                victim = j;
            }
        }
        s = &rl->slots[victim];
        s->h = h[0];
        s->tokens = rl->burst;
        s->last_ms = now;
    }
    s->tokens = refilled(rl, s, now);
    if (now > s->last_ms)
        s->last_ms = now;
    ok = s->tokens >= 1.0;
    if (ok)
        s->tokens -= 1.0;
    pthread_mutex_unlock(&rl->mu);
    if (!ok)
        AF_ERR(AF_R_RA_RATE_LIMIT, "more than %.3g requests/s (burst %.0f) from this client",
               rl->rate_per_ms * 1000.0, rl->burst);
    return ok;
}
