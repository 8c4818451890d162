/* attfresh/ra.h - the RA's nonce store (issue, consume exactly once, bounded, expiring; in memory
 * or shared through Redis) and its per-client rate limiter. Wire-format independent: the server
 * layer draws the nonce bytes, calls af_nonce_store_issue(), and later af_nonce_store_consume(). */
#ifndef ATTFRESH_RA_H
#define ATTFRESH_RA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct af_nonce_store_st AF_NONCE_STORE;
typedef struct af_ratelimit_st AF_RATELIMIT;

/* Wall clock in milliseconds since the Unix epoch. Injectable so tests can move time. */
typedef uint64_t (*af_clock_fn)(void *arg);
/* The default clock (CLOCK_REALTIME). */
uint64_t af_clock_realtime_ms(void *arg);

/* Outcome of issue/consume. Anything but AF_NONCE_OK also leaves one error on OpenSSL's error queue
 * with the matching reason (see each value). */
typedef enum {
    AF_NONCE_OK = 0,
    /* consume: never issued here, or forgotten (AF_R_RA_UNKNOWN_NONCE) */
    AF_NONCE_UNKNOWN,
    /* consume: past its expiry (AF_R_RA_EXPIRED) */
    AF_NONCE_EXPIRED,
    /* consume: already used; issue: the store already holds it (AF_R_RA_REUSED) */
    AF_NONCE_REUSED,
    /* consume: issued for another binding (AF_R_RA_WRONG_TRANSACTION) */
    AF_NONCE_WRONG_TRANSACTION,
    /* issue: total or per-requester cap reached (AF_R_RA_FULL) */
    AF_NONCE_FULL,
    /* bad arguments (AF_R_INVALID_ARGUMENT) or the store failed (AF_R_RA_STORE) */
    AF_NONCE_ERROR
} AF_NONCE_RESULT;

/* Short English name of a result ("ok", "unknown", "expired", ...). */
const char *af_nonce_result_str(AF_NONCE_RESULT r);

typedef enum {
    AF_NONCE_STORE_MEMORY = 0, /* this process only (default) */
    AF_NONCE_STORE_REDIS       /* shared by every RA node that points at the same Redis */
} AF_NONCE_STORE_BACKEND;

typedef struct {
    AF_NONCE_STORE_BACKEND backend;
    size_t max_total;         /* outstanding (issued, unused, unexpired) nonces; default 1000000 */
    size_t max_per_requester; /* outstanding nonces per requester; default 16 */
    size_t max_requesters;    /* memory: distinct requesters tracked at once; default max_total */
    uint32_t remember_s;      /* keep used/expired nonces this long after expiry so a replay is told
                               * "used"/"expired" rather than "unknown"; default 60 */
    af_clock_fn clock;        /* default af_clock_realtime_ms */
    void *clock_arg;
    /* Redis backend */
    const char *redis_host;   /* default "127.0.0.1"; a path starting with '/' = Unix socket */
    int redis_port;           /* default 6379 */
    const char *redis_prefix; /* key prefix (a Redis hash tag is added); default "attfresh" */
    const char *redis_password_file; /* optional: AUTH password, first line of this file */
    int redis_timeout_ms;            /* connect and command timeout; default 500 */
    int redis_max_connections;       /* pool size (one connection per concurrent call); default 8 */
} AF_NONCE_STORE_CONFIG;

/* Fills cfg with the defaults above. */
void af_nonce_store_config_init(AF_NONCE_STORE_CONFIG *cfg);

/* A new store (cfg NULL = defaults). The memory backend allocates its tables here; the Redis
 * backend connects once to fail early with AF_R_RA_STORE when Redis is unreachable. */
AF_NONCE_STORE *af_nonce_store_new(const AF_NONCE_STORE_CONFIG *cfg);
void af_nonce_store_free(AF_NONCE_STORE *s);

/* Records a freshly drawn nonce (AF_NONCE_LEN_MIN..AF_NONCE_LEN_MAX of nonce.h: 8..64 bytes) bound
 * to a transaction/session (binding, 1..1024 bytes: CMP transactionID, CMC transactionId, EST
 * cookie value or TLS session id) for a requester (client address or certificate, 1..1024 bytes),
 * valid for ttl_s seconds (1..31536000). On success *expires_at_ms (optional) is the absolute
 * expiry. Fails with AF_NONCE_FULL when a cap is reached, AF_NONCE_REUSED when the nonce was
 * already issued (an RNG failure: never reissue). */
AF_NONCE_RESULT af_nonce_store_issue(AF_NONCE_STORE *s, const unsigned char *nonce,
                                     size_t nonce_len, const unsigned char *binding,
                                     size_t binding_len, const unsigned char *requester,
                                     size_t requester_len, uint32_t ttl_s, uint64_t *expires_at_ms);

/* Accepts the nonce once: the first call with the right binding before expiry returns AF_NONCE_OK
 * and marks it used, atomically across threads (and, with Redis, across RA nodes). A wrong binding
 * does not use the nonce up, so a third party that saw it cannot burn it. */
AF_NONCE_RESULT af_nonce_store_consume(AF_NONCE_STORE *s, const unsigned char *nonce,
                                       size_t nonce_len, const unsigned char *binding,
                                       size_t binding_len);

/* Drops expired state. Every issue/consume already does a little of this; call it from a timer to
 * bound how long expired entries linger. max_work bounds the work (memory: table slots examined;
 * 0 = everything). Returns the number of entries dropped or retired, or -1 on a store error. */
long af_nonce_store_sweep(AF_NONCE_STORE *s, size_t max_work);

typedef struct {
    size_t outstanding; /* issued, not used, not known to be expired */
    size_t remembered;  /* used or expired, kept to answer replays precisely */
    size_t requesters;  /* requesters with outstanding nonces (memory backend) */
    size_t capacity;    /* memory: table slots */
    size_t table_bytes; /* memory: bytes allocated for all tables */
} AF_NONCE_STORE_STATS;

/* Current counters (Redis: outstanding from the shared index, others 0). Returns 1/0. */
int af_nonce_store_get_stats(AF_NONCE_STORE *s, AF_NONCE_STORE_STATS *st);

/* ---- per-client rate limiter: a token bucket per client id ---------------------------------- */

typedef struct {
    double rate_per_s;  /* sustained requests per second per client; default 5 */
    double burst;       /* bucket size; default 20 */
    size_t max_clients; /* bounded table; when full the least recently seen idle client is
                         * forgotten (it comes back with a full bucket); default 65536 */
    af_clock_fn clock;  /* default af_clock_realtime_ms */
    void *clock_arg;
} AF_RATELIMIT_CONFIG;

void af_ratelimit_config_init(AF_RATELIMIT_CONFIG *cfg);
AF_RATELIMIT *af_ratelimit_new(const AF_RATELIMIT_CONFIG *cfg);
void af_ratelimit_free(AF_RATELIMIT *rl);
/* 1: the client (1..1024 bytes of id, e.g. its address) may proceed and one token is taken;
 * 0: over its rate (AF_R_RA_RATE_LIMIT on the error queue) or bad arguments. Thread-safe. */
int af_ratelimit_allow(AF_RATELIMIT *rl, const unsigned char *client, size_t client_len);

#ifdef __cplusplus
}
#endif
#endif
