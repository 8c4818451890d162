/* nonce_store_redis.c - the nonce store kept in Redis, so several RA nodes share it: one key per
 * nonce (SHA-256 of the nonce, never the nonce itself) with a TTL, two sorted sets indexed by
 * expiry for the total and per-requester caps, and Lua scripts that make issue and consume atomic.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "attfresh/err.h"
#include "nonce_store_local.h"

/* Value of a nonce key: "<state>|<expiry s>|<binding hash>|<requester hash>", state L (live),
 * U (used) or E (expired). The first byte is flipped in place with SETRANGE, keeping the TTL.
 * Return codes are the AF_NS_OUTCOME values. */
static const char issue_lua[] =
    "local now = tonumber(ARGV[4])\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 5 end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)\n"
    "if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[7]) then return 6 end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then return 7 end\n"
    "redis.call('SET', KEYS[1], 'L|' .. ARGV[5] .. '|' .. ARGV[2] .. '|' .. ARGV[3], 'EX', "
    "ARGV[6])\n"
    "redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])\n"
    "redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])\n"
    "if redis.call('TTL', KEYS[2]) < tonumber(ARGV[6]) then\n"
    "  redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
    "end\n"
    "return 0\n";

static const char consume_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return 1 end\n"
    "local st, exp, b, rq = string.match(v, '^(%u)|(%d+)|(%x+)|(%x+)$')\n"
    "if not st then return redis.error_reply('malformed attfresh nonce entry') end\n"
    "if st == 'U' then return 3 end\n"
    "if st == 'E' then return 2 end\n"
    "local res = 0\n"
    "if tonumber(ARGV[3]) >= tonumber(exp) then\n"
    "  res = 2\n"
    "  redis.call('SETRANGE', KEYS[1], 0, 'E')\n"
    "elseif b ~= ARGV[2] then\n"
    "  return 4\n"
    "else\n"
    "  redis.call('SETRANGE', KEYS[1], 0, 'U')\n"
    "end\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "redis.call('ZREM', ARGV[4] .. rq, ARGV[1])\n"
    "return res\n";

#define HASH_HEX 33 /* 16 bytes as hex + NUL */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    redisContext **idle;
    int n_idle, n_open, max_conn;
    char *host;
    int port;
    char addr[300]; /* for messages */
    struct timeval tv;
    char *password; /* AUTH secret, NULL = none */
    char kp[200];   /* key prefix, a hash tag so every key of a store lands on one cluster slot */
    size_t max_total, max_per_req;
    uint32_t remember_s;
    EVP_MD *sha256;
    char issue_sha[41], consume_sha[41];
} ns_redis;

static int read_password(ns_redis *r, const char *path)
{
    char buf[512];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        AF_ERR(AF_R_IO, "cannot open Redis password file %s", path);
        return 0;
    }
    if (fgets(buf, sizeof(buf), f) == NULL) {
        fclose(f);
        AF_ERR(AF_R_IO, "Redis password file %s is empty", path);
        return 0;
    }
    fclose(f);
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    r->password = OPENSSL_strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (r->password == NULL) {
        AF_ERR(AF_R_MALLOC, "Redis password");
        return 0;
    }
    return 1;
}

static void tohex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Unkeyed, so every RA node derives the same key name; a nonce has >= 64 random bits, so its hash
 * reveals nothing useful, and the domain label keeps nonce, binding and requester hashes apart. */
static int hash_hex(ns_redis *r, const char *domain, const unsigned char *in, size_t len,
                    char out[HASH_HEX])
{
    unsigned char buf[32 + 1024], md[EVP_MAX_MD_SIZE];
    size_t dl = strlen(domain) + 1;
    unsigned int mdlen = 0;

    if (len > sizeof(buf) - dl) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "id too long");
        return 0;
    }
    memcpy(buf, domain, dl);
    memcpy(buf + dl, in, len);
    if (!EVP_Digest(buf, dl + len, md, &mdlen, r->sha256, NULL) || mdlen < 16) {
        AF_ERR(AF_R_CRYPTO, "SHA-256 for a nonce store key");
        return 0;
    }
    tohex(md, 16, out);
    return 1;
}

static int script_sha(const char *script, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;

    if (!EVP_Q_digest(NULL, "SHA1", NULL, script, strlen(script), md, &mdlen) || mdlen != 20) {
        AF_ERR(AF_R_CRYPTO, "SHA-1 of a Redis script (its EVALSHA name)");
        return 0;
    }
    tohex(md, 20, out);
    return 1;
}

static redisContext *conn_open(ns_redis *r)
{
    redisContext *c;
    redisReply *rep;

    if (r->host[0] == '/')
        c = redisConnectUnixWithTimeout(r->host, r->tv);
    else
        c = redisConnectWithTimeout(r->host, r->port, r->tv);
    if (c == NULL) {
        AF_ERR(AF_R_RA_STORE, "cannot connect to Redis at %s: out of memory", r->addr);
        return NULL;
    }
    if (c->err) {
        AF_ERR(AF_R_RA_STORE, "cannot connect to Redis at %s: %s", r->addr, c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, r->tv) != REDIS_OK) {
        AF_ERR(AF_R_RA_STORE, "cannot set the Redis timeout on %s: %s", r->addr, c->errstr);
        redisFree(c);
        return NULL;
    }
    if (r->password != NULL) {
        const char *argv[2] = {"AUTH", r->password};
        size_t lens[2] = {4, strlen(r->password)};

        rep = redisCommandArgv(c, 2, argv, lens);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            /* Redis's answer never echoes the password. */
            AF_ERR(AF_R_RA_STORE, "Redis at %s refused AUTH: %s", r->addr,
                   rep != NULL ? rep->str : c->errstr);
            if (rep != NULL)
                freeReplyObject(rep);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(rep);
    }
    return c;
}

/* Borrows a connection: an idle one, a new one while under max_conn, else waits for one. */
static redisContext *conn_get(ns_redis *r)
{
    redisContext *c = NULL;

    pthread_mutex_lock(&r->mu);
    while (r->n_idle == 0 && r->n_open >= r->max_conn)
        pthread_cond_wait(&r->cv, &r->mu);
    if (r->n_idle > 0)
        c = r->idle[--r->n_idle];
    else
        r->n_open++;
    pthread_mutex_unlock(&r->mu);
    if (c != NULL)
        return c;
    c = conn_open(r);
    if (c == NULL) {
        pthread_mutex_lock(&r->mu);
        r->n_open--;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    return c;
}

/* Returns a connection; one that saw an I/O or protocol error is closed (a later call reconnects).
 */
static void conn_put(ns_redis *r, redisContext *c)
{
    pthread_mutex_lock(&r->mu);
    if (c->err != 0) {
        redisFree(c);
        r->n_open--;
    } else {
        r->idle[r->n_idle++] = c;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* A call that got no reply: says "no answer within N ms" for a timeout (hiredis reports EAGAIN),
 * else hiredis's message; marks the connection broken so conn_put() closes it. */
static void io_error(ns_redis *r, redisContext *c)
{
    if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        AF_ERR(AF_R_RA_STORE, "Redis at %s: no answer within %ld ms", r->addr,
               (long)r->tv.tv_sec * 1000 + (long)r->tv.tv_usec / 1000);
    else
        AF_ERR(AF_R_RA_STORE, "Redis at %s: %s", r->addr, c->errstr[0] ? c->errstr : "no reply");
    if (c->err == 0)
        c->err = REDIS_ERR_OTHER;
}

/* Runs argv; returns the reply, or NULL after raising AF_R_RA_STORE (an error reply included). */
static redisReply *command(ns_redis *r, redisContext *c, int argc, const char **argv,
                           const size_t *lens)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);

    if (rep == NULL) {
        io_error(r, c);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        AF_ERR(AF_R_RA_STORE, "Redis at %s answered: %s", r->addr, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* EVALSHA first (the script cached server-side), EVAL with the source when Redis lacks it. */
static int eval(ns_redis *r, redisContext *c, const char *sha, const char *script, int nkeys,
                const char **kv, int nkv, long long *res)
{
    const char *argv[16];
    size_t lens[16];
    char nk[16];
    int i, argc = 3 + nkv;
    redisReply *rep;

    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = sha;
    argv[2] = nk;
    for (i = 0; i < nkv; i++)
        argv[3 + i] = kv[i];
    for (i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    rep = redisCommandArgv(c, argc, argv, lens);
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL";
        argv[1] = script;
        lens[0] = 4;
        lens[1] = strlen(script);
        rep = redisCommandArgv(c, argc, argv, lens);
    }
    if (rep == NULL) {
        io_error(r, c);
        return 0;
    }
    if (rep->type != REDIS_REPLY_INTEGER) {
        AF_ERR(AF_R_RA_STORE, "Redis at %s answered: %s", r->addr,
               rep->type == REDIS_REPLY_ERROR ? rep->str : "not an integer");
        freeReplyObject(rep);
        return 0;
    }
    *res = rep->integer;
    freeReplyObject(rep);
    return 1;
}

static void redis_free(void *be)
{
    ns_redis *r = be;
    int i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n_idle; i++)
        redisFree(r->idle[i]);
    OPENSSL_free(r->idle);
    OPENSSL_free(r->host);
    OPENSSL_clear_free(r->password, r->password != NULL ? strlen(r->password) : 0);
    EVP_MD_free(r->sha256);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    OPENSSL_free(r);
}

void *af_ns_redis_new(const AF_NONCE_STORE_CONFIG *cfg)
{
    ns_redis *r = OPENSSL_zalloc(sizeof(*r));
    redisContext *c;

    if (r == NULL) {
        AF_ERR(AF_R_MALLOC, "Redis nonce store");
        return NULL;
    }
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        OPENSSL_free(r);
        AF_ERR(AF_R_INTERNAL, "Redis nonce store mutex");
        return NULL;
    }
    if (pthread_cond_init(&r->cv, NULL) != 0) {
        pthread_mutex_destroy(&r->mu);
        OPENSSL_free(r);
        AF_ERR(AF_R_INTERNAL, "Redis nonce store condition variable");
        return NULL;
    }
    r->max_conn = cfg->redis_max_connections;
    r->max_total = cfg->max_total;
    r->max_per_req = cfg->max_per_requester;
    r->remember_s = cfg->remember_s;
    r->port = cfg->redis_port;
    r->tv.tv_sec = cfg->redis_timeout_ms / 1000;
    r->tv.tv_usec = (cfg->redis_timeout_ms % 1000) * 1000;
    r->host = OPENSSL_strdup(cfg->redis_host);
    r->idle = OPENSSL_zalloc(sizeof(*r->idle) * (size_t)r->max_conn);
    r->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    if (r->host == NULL || r->idle == NULL) {
        AF_ERR(AF_R_MALLOC, "Redis nonce store");
        goto err;
    }
    if (r->sha256 == NULL) {
        AF_ERR(AF_R_CRYPTO, "SHA-256 unavailable");
        goto err;
    }
    if (strlen(cfg->redis_prefix) > 150 || strpbrk(cfg->redis_prefix, "{}") != NULL) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "Redis key prefix: up to 150 characters, no braces");
        goto err;
    }
    snprintf(r->kp, sizeof(r->kp), "{%s}:", cfg->redis_prefix);
    if (r->host[0] == '/')
        snprintf(r->addr, sizeof(r->addr), "%.290s", r->host);
    else
        snprintf(r->addr, sizeof(r->addr), "%.250s:%d", r->host, r->port);
    if (cfg->redis_password_file != NULL && !read_password(r, cfg->redis_password_file))
        goto err;
    if (!script_sha(issue_lua, r->issue_sha) || !script_sha(consume_lua, r->consume_sha))
        goto err;
    /* Fail now, with Redis's own words, rather than on the first request. */
    c = conn_get(r);
    if (c == NULL)
        goto err;
    conn_put(r, c);
    return r;
err:
    redis_free(r);
    return NULL;
}

static AF_NS_OUTCOME redis_issue(void *be, const unsigned char *nonce, size_t nonce_len,
                                 const unsigned char *binding, size_t binding_len,
                                 const unsigned char *requester, size_t requester_len, uint64_t now,
                                 uint64_t expiry)
{
    ns_redis *r = be;
    char nh[HASH_HEX], bh[HASH_HEX], rh[HASH_HEX];
    char knonce[256], kreq[256], kall[256], snow[24], sexp[24], sttl[24], smax[24], sper[24];
    const char *kv[11];
    long long res = 0;
    redisContext *c;

    if (!hash_hex(r, "attfresh nonce", nonce, nonce_len, nh) ||
        !hash_hex(r, "attfresh binding", binding, binding_len, bh) ||
        !hash_hex(r, "attfresh requester", requester, requester_len, rh))
        return AF_NS_ERROR;
    snprintf(knonce, sizeof(knonce), "%sn:%s", r->kp, nh);
    snprintf(kreq, sizeof(kreq), "%sr:%s", r->kp, rh);
    snprintf(kall, sizeof(kall), "%sall", r->kp);
    snprintf(snow, sizeof(snow), "%llu", (unsigned long long)now);
    snprintf(sexp, sizeof(sexp), "%llu", (unsigned long long)expiry);
    snprintf(sttl, sizeof(sttl), "%llu", (unsigned long long)(expiry - now + r->remember_s));
    snprintf(smax, sizeof(smax), "%zu", r->max_total);
    snprintf(sper, sizeof(sper), "%zu", r->max_per_req);
    kv[0] = knonce;
    kv[1] = kreq;
    kv[2] = kall;
    kv[3] = nh;
    kv[4] = bh;
    kv[5] = rh;
    kv[6] = snow;
    kv[7] = sexp;
    kv[8] = sttl;
    kv[9] = smax;
    kv[10] = sper;
    c = conn_get(r);
    if (c == NULL)
        return AF_NS_ERROR;
    if (!eval(r, c, r->issue_sha, issue_lua, 3, kv, 11, &res)) {
        conn_put(r, c);
        return AF_NS_ERROR;
    }
    conn_put(r, c);
    switch (res) {
    case 0:
        return AF_NS_OK;
    case 5:
        return AF_NS_DUPLICATE;
    case 6:
        return AF_NS_FULL_TOTAL;
    case 7:
        return AF_NS_FULL_REQUESTER;
    }
    AF_ERR(AF_R_RA_STORE, "Redis at %s: unexpected issue result %lld", r->addr, res);
    return AF_NS_ERROR;
}

static AF_NS_OUTCOME redis_consume(void *be, const unsigned char *nonce, size_t nonce_len,
                                   const unsigned char *binding, size_t binding_len, uint64_t now)
{
    ns_redis *r = be;
    char nh[HASH_HEX], bh[HASH_HEX], knonce[256], kall[256], kreqp[256], snow[24];
    const char *kv[6];
    long long res = 0;
    redisContext *c;

    if (!hash_hex(r, "attfresh nonce", nonce, nonce_len, nh) ||
        !hash_hex(r, "attfresh binding", binding, binding_len, bh))
        return AF_NS_ERROR;
    snprintf(knonce, sizeof(knonce), "%sn:%s", r->kp, nh);
    snprintf(kall, sizeof(kall), "%sall", r->kp);
    snprintf(kreqp, sizeof(kreqp), "%sr:", r->kp);
    snprintf(snow, sizeof(snow), "%llu", (unsigned long long)now);
    kv[0] = knonce;
    kv[1] = kall;
    kv[2] = nh;
    kv[3] = bh;
    kv[4] = snow;
    kv[5] = kreqp;
    c = conn_get(r);
    if (c == NULL)
        return AF_NS_ERROR;
    if (!eval(r, c, r->consume_sha, consume_lua, 2, kv, 6, &res)) {
        conn_put(r, c);
        return AF_NS_ERROR;
    }
    conn_put(r, c);
    switch (res) {
    case 0:
        return AF_NS_OK;
    case 1:
        return AF_NS_UNKNOWN;
    case 2:
        return AF_NS_EXPIRED;
    case 3:
        return AF_NS_USED;
    case 4:
        return AF_NS_WRONG_TX;
    }
    AF_ERR(AF_R_RA_STORE, "Redis at %s: unexpected consume result %lld", r->addr, res);
    return AF_NS_ERROR;
}

/* The nonce keys expire by their own TTL; what needs sweeping is the expiry index. */
static long redis_sweep(void *be, size_t max_work, uint64_t now)
{
    ns_redis *r = be;
    char kall[256], snow[24];
    const char *argv[4];
    size_t lens[4];
    redisContext *c;
    redisReply *rep;
    long n = -1;
    int i;

    (void)max_work;
    snprintf(kall, sizeof(kall), "%sall", r->kp);
    snprintf(snow, sizeof(snow), "%llu", (unsigned long long)now);
    argv[0] = "ZREMRANGEBYSCORE";
    argv[1] = kall;
    argv[2] = "-inf";
    argv[3] = snow;
    for (i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    c = conn_get(r);
    if (c == NULL)
        return -1;
    rep = command(r, c, 4, argv, lens);
    if (rep != NULL) {
        n = rep->type == REDIS_REPLY_INTEGER ? (long)rep->integer : 0;
        freeReplyObject(rep);
    }
    conn_put(r, c);
    return n;
}

static int redis_stats(void *be, AF_NONCE_STORE_STATS *st, uint64_t now)
{
    ns_redis *r = be;
    char kall[256], smin[32];
    const char *argv[4];
    size_t lens[4];
    redisContext *c;
    redisReply *rep;
    int i, ok = 0;

    snprintf(kall, sizeof(kall), "%sall", r->kp);
    snprintf(smin, sizeof(smin), "(%llu", (unsigned long long)now);
    argv[0] = "ZCOUNT";
    argv[1] = kall;
    argv[2] = smin;
    argv[3] = "+inf";
    for (i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    c = conn_get(r);
    if (c == NULL)
        return 0;
    rep = command(r, c, 4, argv, lens);
    if (rep != NULL) {
        if (rep->type == REDIS_REPLY_INTEGER) {
            st->outstanding = (size_t)rep->integer;
            ok = 1;
        } else {
            AF_ERR(AF_R_RA_STORE, "Redis at %s: ZCOUNT did not answer a number", r->addr);
        }
        freeReplyObject(rep);
    }
    conn_put(r, c);
    return ok;
}

const AF_NS_METHOD af_ns_redis_method = {redis_free, redis_issue, redis_consume, redis_sweep,
                                         redis_stats};
