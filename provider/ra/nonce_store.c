/* nonce_store.c - the RA nonce store's public face: configuration defaults, argument checks, the
 * clock, dispatch to the memory or Redis backend, and turning backend outcomes into one
 * AF_NONCE_RESULT plus one clear error on OpenSSL's error queue. */
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "attfresh/err.h"
#include "attfresh/nonce.h"
#include "attfresh/ra.h"
#include "nonce_store_local.h"

#define AF_NS_MAX_ID_LEN 1024
#define AF_NS_MAX_TTL_S 31536000u /* one year: keeps expiry inside 32 bits for a century */

struct af_nonce_store_st {
    AF_NONCE_STORE_CONFIG cfg; /* string members point at the copies below */
    char *redis_host;
    char *redis_prefix;
    char *redis_password_file;
    const AF_NS_METHOD *meth;
    void *be;
};

uint64_t af_clock_realtime_ms(void *arg)
{
    struct timespec ts;

    (void)arg;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *af_nonce_result_str(AF_NONCE_RESULT r)
{
    switch (r) {
    case AF_NONCE_OK:
        return "ok";
    case AF_NONCE_UNKNOWN:
        return "unknown";
    case AF_NONCE_EXPIRED:
        return "expired";
    case AF_NONCE_REUSED:
        return "already used";
    case AF_NONCE_WRONG_TRANSACTION:
        return "wrong transaction";
    case AF_NONCE_FULL:
        return "store full";
    case AF_NONCE_ERROR:
        return "error";
    }
    return "?";
}

void af_nonce_store_config_init(AF_NONCE_STORE_CONFIG *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->backend = AF_NONCE_STORE_MEMORY;
    cfg->max_total = 1000000;
    cfg->max_per_requester = 16;
    cfg->max_requesters = 0; /* = max_total */
    cfg->remember_s = 60;
    cfg->clock = af_clock_realtime_ms;
    cfg->redis_host = "127.0.0.1";
    cfg->redis_port = 6379;
    cfg->redis_prefix = "attfresh";
    cfg->redis_timeout_ms = 500;
    cfg->redis_max_connections = 8;
}

static int dup_str(char **dst, const char *src)
{
    if (src == NULL) {
        *dst = NULL;
        return 1;
    }
    *dst = OPENSSL_strdup(src);
    if (*dst == NULL) {
        AF_ERR(AF_R_MALLOC, "nonce store configuration");
        return 0;
    }
    return 1;
}

AF_NONCE_STORE *af_nonce_store_new(const AF_NONCE_STORE_CONFIG *cfg)
{
    AF_NONCE_STORE *s;
    AF_NONCE_STORE_CONFIG def;

    if (cfg == NULL) {
        af_nonce_store_config_init(&def);
        cfg = &def;
    }
    if (cfg->max_total == 0 || cfg->max_total > 0x3fffffff || cfg->max_per_requester == 0 ||
        cfg->max_requesters > 0x3fffffff) {
        AF_ERR(
            AF_R_INVALID_ARGUMENT,
            "nonce store caps: max_total and max_requesters 1..1073741823, max_per_requester >= 1");
        return NULL;
    }
    if (cfg->backend != AF_NONCE_STORE_MEMORY && cfg->backend != AF_NONCE_STORE_REDIS) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "unknown nonce store backend %d", (int)cfg->backend);
        return NULL;
    }
    s = OPENSSL_zalloc(sizeof(*s));
    if (s == NULL) {
        AF_ERR(AF_R_MALLOC, "nonce store");
        return NULL;
    }
    s->cfg = *cfg;
    if (s->cfg.max_requesters == 0)
        s->cfg.max_requesters = s->cfg.max_total;
    if (s->cfg.clock == NULL) {
        s->cfg.clock = af_clock_realtime_ms;
        s->cfg.clock_arg = NULL;
    }
    if (s->cfg.redis_host == NULL || *s->cfg.redis_host == '\0')
        s->cfg.redis_host = "127.0.0.1";
    if (s->cfg.redis_port <= 0)
        s->cfg.redis_port = 6379;
    if (s->cfg.redis_prefix == NULL || *s->cfg.redis_prefix == '\0')
        s->cfg.redis_prefix = "attfresh";
    if (s->cfg.redis_timeout_ms <= 0)
        s->cfg.redis_timeout_ms = 500;
    if (s->cfg.redis_max_connections <= 0)
        s->cfg.redis_max_connections = 8;
    if (!dup_str(&s->redis_host, s->cfg.redis_host) ||
        !dup_str(&s->redis_prefix, s->cfg.redis_prefix) ||
        !dup_str(&s->redis_password_file, s->cfg.redis_password_file))
        goto err;
    s->cfg.redis_host = s->redis_host;
    s->cfg.redis_prefix = s->redis_prefix;
    s->cfg.redis_password_file = s->redis_password_file;

    if (s->cfg.backend == AF_NONCE_STORE_REDIS) {
        s->meth = &af_ns_redis_method;
        s->be = af_ns_redis_new(&s->cfg);
    } else {
        s->meth = &af_ns_mem_method;
        s->be = af_ns_mem_new(&s->cfg);
    }
    if (s->be == NULL)
        goto err;
    return s;
err:
    af_nonce_store_free(s);
    return NULL;
}

void af_nonce_store_free(AF_NONCE_STORE *s)
{
    if (s == NULL)
        return;
    if (s->be != NULL)
        s->meth->free(s->be);
    OPENSSL_free(s->redis_host);
    OPENSSL_free(s->redis_prefix);
    OPENSSL_free(s->redis_password_file);
    OPENSSL_free(s);
}

static uint64_t now_s(const AF_NONCE_STORE *s)
{
    return s->cfg.clock(s->cfg.clock_arg) / 1000u;
}

static int check_nonce(const unsigned char *nonce, size_t nonce_len)
{
    if (nonce == NULL || nonce_len < AF_NONCE_LEN_MIN || nonce_len > AF_NONCE_LEN_MAX) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "nonce must be %d..%d bytes, got %zu", AF_NONCE_LEN_MIN,
               AF_NONCE_LEN_MAX, nonce == NULL ? (size_t)0 : nonce_len);
        return 0;
    }
    return 1;
}

static int check_id(const char *what, const unsigned char *id, size_t len)
{
    if (id == NULL || len == 0 || len > AF_NS_MAX_ID_LEN) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "%s must be 1..%d bytes, got %zu", what, AF_NS_MAX_ID_LEN,
               id == NULL ? (size_t)0 : len);
        return 0;
    }
    return 1;
}

/* One place that words every refusal, so memory and Redis stores read the same to users. */
static AF_NONCE_RESULT outcome(const AF_NONCE_STORE *s, AF_NS_OUTCOME o)
{
    switch (o) {
    case AF_NS_OK:
        return AF_NONCE_OK;
    case AF_NS_UNKNOWN:
        AF_ERR(AF_R_RA_UNKNOWN_NONCE,
               "no record of it (never issued here, or dropped after expiry)");
        return AF_NONCE_UNKNOWN;
    case AF_NS_EXPIRED:
        AF_ERR(AF_R_RA_EXPIRED, "its validity period is over; ask for a new nonce");
        return AF_NONCE_EXPIRED;
    case AF_NS_USED:
        AF_ERR(AF_R_RA_REUSED, "a nonce is accepted once only");
        return AF_NONCE_REUSED;
    case AF_NS_WRONG_TX:
        AF_ERR(AF_R_RA_WRONG_TRANSACTION, "the nonce belongs to another transaction or session");
        return AF_NONCE_WRONG_TRANSACTION;
    case AF_NS_DUPLICATE:
        AF_ERR(AF_R_RA_REUSED, "refusing to issue a nonce the store already holds (RNG failure?)");
        return AF_NONCE_REUSED;
    case AF_NS_FULL_TOTAL:
        AF_ERR(AF_R_RA_FULL, "%zu nonces outstanding (max_total)", s->cfg.max_total);
        return AF_NONCE_FULL;
    case AF_NS_FULL_REQUESTER:
        AF_ERR(AF_R_RA_FULL, "this requester has %zu nonces outstanding (max_per_requester)",
               s->cfg.max_per_requester);
        return AF_NONCE_FULL;
    case AF_NS_FULL_TABLE:
        AF_ERR(AF_R_RA_FULL, "%zu requesters have nonces outstanding (max_requesters)",
               s->cfg.max_requesters);
        return AF_NONCE_FULL;
    case AF_NS_ERROR:
        break;
    }
    return AF_NONCE_ERROR;
}

AF_NONCE_RESULT af_nonce_store_issue(AF_NONCE_STORE *s, const unsigned char *nonce,
                                     size_t nonce_len, const unsigned char *binding,
                                     size_t binding_len, const unsigned char *requester,
                                     size_t requester_len, uint32_t ttl_s, uint64_t *expires_at_ms)
{
    uint64_t now_ms, expiry_s;
    AF_NS_OUTCOME o;

    if (s == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no nonce store");
        return AF_NONCE_ERROR;
    }
    if (!check_nonce(nonce, nonce_len) || !check_id("binding", binding, binding_len) ||
        !check_id("requester id", requester, requester_len))
        return AF_NONCE_ERROR;
    if (ttl_s == 0 || ttl_s > AF_NS_MAX_TTL_S) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "nonce lifetime must be 1..%u s, got %u", AF_NS_MAX_TTL_S,
               ttl_s);
        return AF_NONCE_ERROR;
    }
    now_ms = s->cfg.clock(s->cfg.clock_arg);
    /* Round up so a nonce lives at least ttl_s full seconds. */
    expiry_s = (now_ms + 999u) / 1000u + ttl_s;
    o = s->meth->issue(s->be, nonce, nonce_len, binding, binding_len, requester, requester_len,
                       now_ms / 1000u, expiry_s);
    if (o == AF_NS_OK && expires_at_ms != NULL)
        *expires_at_ms = expiry_s * 1000u;
    return outcome(s, o);
}

AF_NONCE_RESULT af_nonce_store_consume(AF_NONCE_STORE *s, const unsigned char *nonce,
                                       size_t nonce_len, const unsigned char *binding,
                                       size_t binding_len)
{
    if (s == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no nonce store");
        return AF_NONCE_ERROR;
    }
    if (!check_nonce(nonce, nonce_len) || !check_id("binding", binding, binding_len))
        return AF_NONCE_ERROR;
    return outcome(s, s->meth->consume(s->be, nonce, nonce_len, binding, binding_len, now_s(s)));
}

long af_nonce_store_sweep(AF_NONCE_STORE *s, size_t max_work)
{
    if (s == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no nonce store");
        return -1;
    }
    return s->meth->sweep(s->be, max_work, now_s(s));
}

int af_nonce_store_get_stats(AF_NONCE_STORE *s, AF_NONCE_STORE_STATS *st)
{
    if (s == NULL || st == NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "no nonce store or stats");
        return 0;
    }
    memset(st, 0, sizeof(*st));
    return s->meth->stats(s->be, st, now_s(s));
}
