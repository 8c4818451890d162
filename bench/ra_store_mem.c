/* ra_store_mem.c (bench_ra_store) - the RA nonce store under 1 000 000 outstanding nonces: resident
 * memory per outstanding nonce (RSS from /proc/self/statm before/after) and issue/consume ops/s,
 * side by side in one run with a naive reference (a malloc-per-entry chained hash table holding the
 * same data), and optionally with the Redis backend (INFO memory used_memory per nonce). */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "attfresh/err.h"
#include "attfresh/ra.h"

#define NONCE_LEN 32
#define PER_REQ 16

static size_t count = 1000000, requesters = 0;
static unsigned char *nonces;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static const unsigned char *nonce_at(size_t i)
{
    return nonces + i * NONCE_LEN;
}

/* Binding and requester ids as a server would pass them: a 16-byte transactionID and an address. */
static void ids(size_t i, unsigned char tx[16], char *req, size_t reqsz)
{
    size_t r = i % requesters;

    memset(tx, 0, 16);
    memcpy(tx, &i, sizeof(i));
    tx[15] = 0x5a;
    snprintf(req, reqsz, "10.%u.%u.%u", (unsigned)(r >> 16) & 255, (unsigned)(r >> 8) & 255,
             (unsigned)r & 255);
}

static int nthreads = 1;
static double sweep_ms_step, sweep_ms_full;

/* Runs fn(arg, i) for i in [0, count) on nthreads threads, contiguous ranges; returns the wall time
 * in seconds, or -1 when some call failed. */
typedef int (*op_fn)(void *arg, size_t i);
typedef struct {
    op_fn fn;
    void *arg;
    size_t lo, hi;
    int ok;
} worker;

static void *work(void *p)
{
    worker *w = p;
    size_t i;

    w->ok = 1;
    for (i = w->lo; i < w->hi && w->ok; i++)
        w->ok = w->fn(w->arg, i);
    OPENSSL_thread_stop();
    return NULL;
}

static double parallel(op_fn fn, void *arg)
{
    pthread_t th[64];
    worker w[64];
    double t0, t1;
    int t, ok = 1;

    t0 = now_s();
    for (t = 0; t < nthreads; t++) {
        w[t].fn = fn;
        w[t].arg = arg;
        w[t].lo = count * (size_t)t / (size_t)nthreads;
        w[t].hi = count * (size_t)(t + 1) / (size_t)nthreads;
        if (nthreads == 1)
            work(&w[t]);
        else
            pthread_create(&th[t], NULL, work, &w[t]);
    }
    for (t = 0; t < nthreads; t++) {
        if (nthreads > 1)
            pthread_join(th[t], NULL);
        ok &= w[t].ok;
    }
    t1 = now_s();
    return ok ? t1 - t0 : -1.0;
}

typedef struct {
    const char *name;
    size_t bytes_per_nonce;
    double issue_ops, consume_ops;
    int ok;
} row;

/* ---- attfresh stores ------------------------------------------------------------------------ */

static int store_issue(void *arg, size_t i)
{
    unsigned char tx[16];
    char req[32], line[512];

    ids(i, tx, req, sizeof(req));
    if (af_nonce_store_issue(arg, nonce_at(i), NONCE_LEN, tx, 16, (unsigned char *)req, strlen(req),
                             600, NULL) == AF_NONCE_OK)
        return 1;
    fprintf(stderr, "bench_ra_store: issue %zu: %s\n", i, af_err_line(line, sizeof(line)));
    return 0;
}

static int store_consume(void *arg, size_t i)
{
    unsigned char tx[16];
    char req[32], line[512];

    ids(i, tx, req, sizeof(req));
    if (af_nonce_store_consume(arg, nonce_at(i), NONCE_LEN, tx, 16) == AF_NONCE_OK)
        return 1;
    fprintf(stderr, "bench_ra_store: consume %zu: %s\n", i, af_err_line(line, sizeof(line)));
    return 0;
}

static int run_store(AF_NONCE_STORE_CONFIG *cfg, row *out, size_t (*mem_probe)(void *), void *arg)
{
    AF_NONCE_STORE *s;
    AF_NONCE_STORE_STATS st;
    size_t before, after;
    double dt;

    malloc_trim(0);
    before = mem_probe(arg);
    s = af_nonce_store_new(cfg);
    if (s == NULL) {
        char line[512];

        fprintf(stderr, "bench_ra_store: %s\n", af_err_line(line, sizeof(line)));
        return 0;
    }
    dt = parallel(store_issue, s);
    if (dt < 0) {
        af_nonce_store_free(s);
        return 0;
    }
    after = mem_probe(arg);
    if (!af_nonce_store_get_stats(s, &st) ||
        (cfg->backend == AF_NONCE_STORE_MEMORY && st.outstanding != count)) {
        fprintf(stderr, "bench_ra_store: expected %zu outstanding, store says %zu\n", count,
                st.outstanding);
        af_nonce_store_free(s);
        return 0;
    }
    out->bytes_per_nonce = (after - before) / count;
    out->issue_ops = (double)count / dt;
    if (cfg->backend == AF_NONCE_STORE_MEMORY) {
        /* What a timer's sweep costs under the lock (nothing has expired: a pure scan). */
        double t0 = now_s();

        af_nonce_store_sweep(s, 65536);
        sweep_ms_step = (now_s() - t0) * 1e3;
        t0 = now_s();
        af_nonce_store_sweep(s, 0);
        sweep_ms_full = (now_s() - t0) * 1e3;
    }
    dt = parallel(store_consume, s);
    if (dt < 0) {
        af_nonce_store_free(s);
        return 0;
    }
    out->consume_ops = (double)count / dt;
    out->ok = 1;
    af_nonce_store_free(s);
    return 1;
}

static size_t probe_rss(void *arg)
{
    (void)arg;
    return rss_bytes();
}

static size_t probe_redis(void *arg)
{
    redisContext *c = arg;
    redisReply *rep = redisCommand(c, "INFO memory");
    const char *p;
    size_t v = 0;

    if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
        (p = strstr(rep->str, "used_memory:")) != NULL)
        v = (size_t)strtoull(p + 12, NULL, 10);
    if (rep != NULL)
        freeReplyObject(rep);
    return v;
}

/* ---- the naive reference: what a first implementation would write ------------------------- */

typedef struct naive_entry {
    struct naive_entry *next;
    unsigned char *nonce;
    size_t nonce_len;
    unsigned char *binding;
    size_t binding_len;
    char *requester;
    time_t expiry;
    int used;
} naive_entry;

typedef struct naive_req {
    struct naive_req *next;
    char *id;
    size_t outstanding;
} naive_req;

typedef struct {
    pthread_mutex_t mu;
    naive_entry **buckets;
    naive_req **rbuckets;
    size_t nb, nrb, live;
} naive_store;

static size_t fnv(const unsigned char *p, size_t n)
{
    size_t h = 1469598103934665603ULL;

    while (n--)
        h = (h ^ *p++) * 1099511628211ULL;
    return h;
}

static naive_req *naive_req_get(naive_store *s, const char *id, int create)
{
    size_t b = fnv((const unsigned char *)id, strlen(id)) % s->nrb;
    naive_req *r;

    for (r = s->rbuckets[b]; r != NULL; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    if (!create)
        return NULL;
    r = calloc(1, sizeof(*r));
    r->id = strdup(id);
    r->next = s->rbuckets[b];
    s->rbuckets[b] = r;
    return r;
}

static int naive_issue(naive_store *s, const unsigned char *nonce, size_t nl,
                       const unsigned char *tx, size_t tl, const char *req, time_t expiry)
{
    size_t b = fnv(nonce, nl) % s->nb;
    naive_entry *e;
    naive_req *r;

    pthread_mutex_lock(&s->mu);
    for (e = s->buckets[b]; e != NULL; e = e->next)
        if (e->nonce_len == nl && memcmp(e->nonce, nonce, nl) == 0) {
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
    r = naive_req_get(s, req, 1);
    if (s->live >= count || r->outstanding >= PER_REQ) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    e = calloc(1, sizeof(*e));
    e->nonce = malloc(nl);
    memcpy(e->nonce, nonce, nl);
    e->nonce_len = nl;
    e->binding = malloc(tl);
    memcpy(e->binding, tx, tl);
    e->binding_len = tl;
    e->requester = strdup(req);
    e->expiry = expiry;
    e->next = s->buckets[b];
    s->buckets[b] = e;
    r->outstanding++;
    s->live++;
    pthread_mutex_unlock(&s->mu);
    return 1;
}

static int naive_consume(naive_store *s, const unsigned char *nonce, size_t nl,
                         const unsigned char *tx, size_t tl, time_t now)
{
    size_t b = fnv(nonce, nl) % s->nb;
    naive_entry *e;
    int ok = 0;

    pthread_mutex_lock(&s->mu);
    for (e = s->buckets[b]; e != NULL; e = e->next)
        if (e->nonce_len == nl && memcmp(e->nonce, nonce, nl) == 0)
            break;
    if (e != NULL && !e->used && now < e->expiry && e->binding_len == tl &&
        memcmp(e->binding, tx, tl) == 0) {
        e->used = 1;
        naive_req_get(s, e->requester, 0)->outstanding--;
        s->live--;
        ok = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void naive_free(naive_store *s)
{
    size_t i;

    for (i = 0; i < s->nb; i++) {
        naive_entry *e = s->buckets[i], *n;

        for (; e != NULL; e = n) {
            n = e->next;
            free(e->nonce);
            free(e->binding);
            free(e->requester);
            free(e);
        }
    }
    for (i = 0; i < s->nrb; i++) {
        naive_req *r = s->rbuckets[i], *n;

        for (; r != NULL; r = n) {
            n = r->next;
            free(r->id);
            free(r);
        }
    }
    free(s->buckets);
    free(s->rbuckets);
    pthread_mutex_destroy(&s->mu);
}

static time_t naive_now;

static int naive_issue_op(void *arg, size_t i)
{
    unsigned char tx[16];
    char req[32];

    ids(i, tx, req, sizeof(req));
    if (naive_issue(arg, nonce_at(i), NONCE_LEN, tx, 16, req, naive_now + 600))
        return 1;
    fprintf(stderr, "bench_ra_store: naive issue %zu failed\n", i);
    return 0;
}

static int naive_consume_op(void *arg, size_t i)
{
    unsigned char tx[16];
    char req[32];

    ids(i, tx, req, sizeof(req));
    if (naive_consume(arg, nonce_at(i), NONCE_LEN, tx, 16, naive_now))
        return 1;
    fprintf(stderr, "bench_ra_store: naive consume %zu failed\n", i);
    return 0;
}

static int run_naive(row *out)
{
    naive_store s;
    size_t before, after;
    double dt;

    naive_now = time(NULL);
    malloc_trim(0);
    before = rss_bytes();
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    s.nb = count;
    s.nrb = requesters;
    s.buckets = calloc(s.nb, sizeof(*s.buckets));
    s.rbuckets = calloc(s.nrb, sizeof(*s.rbuckets));
    dt = parallel(naive_issue_op, &s);
    after = rss_bytes();
    if (dt < 0) {
        naive_free(&s);
        return 0;
    }
    out->bytes_per_nonce = (after - before) / count;
    out->issue_ops = (double)count / dt;
    dt = parallel(naive_consume_op, &s);
    if (dt < 0) {
        naive_free(&s);
        return 0;
    }
    out->consume_ops = (double)count / dt;
    out->ok = 1;
    naive_free(&s);
    return 1;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: bench_ra_store [--count N] [--requesters R] [--threads T] [--redis-port P\n"
        "                      [--redis-host H]]\n"
        "  N nonces outstanding (default 1000000), from R requesters (default N/%d, so each\n"
        "  requester holds its cap of %d); --redis-port adds the Redis backend (FLUSHes nothing,\n"
        "  uses prefix bench-<pid>, deletes its keys afterwards); T threads share each loop.\n",
        PER_REQ, PER_REQ);
}

int main(int argc, char **argv)
{
    AF_NONCE_STORE_CONFIG cfg;
    row rows[3];
    int i, nrows = 0, redis_port = 0, fail = 0;
    const char *redis_host = "127.0.0.1";
    char prefix[64];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--requesters") == 0 && i + 1 < argc)
            requesters = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--redis-port") == 0 && i + 1 < argc)
            redis_port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--redis-host") == 0 && i + 1 < argc)
            redis_host = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    if (count == 0)
        count = 1;
    if (nthreads < 1 || nthreads > 64)
        nthreads = 1;
    if (requesters == 0)
        requesters = (count + PER_REQ - 1) / PER_REQ;
    if ((count + requesters - 1) / requesters > PER_REQ) {
        fprintf(stderr, "bench_ra_store: %zu requesters cannot hold %zu nonces at %d each\n",
                requesters, count, PER_REQ);
        return 2;
    }
    /* Drawn before any measurement, so they are resident in every "before" figure. */
    nonces = malloc(count * NONCE_LEN);
    if (nonces == NULL || RAND_bytes(nonces, (int)(count * NONCE_LEN)) != 1) {
        fprintf(stderr, "bench_ra_store: cannot draw %zu nonces\n", count);
        return 1;
    }
    printf(
        "bench_ra_store: %zu outstanding nonces of %d bytes, %zu requesters, 16-byte transaction "
        "ids, %d thread(s)\n\n",
        count, NONCE_LEN, requesters, nthreads);

    af_nonce_store_config_init(&cfg);
    cfg.max_total = count;
    cfg.max_per_requester = PER_REQ;
    memset(rows, 0, sizeof(rows));
    rows[nrows].name = "attfresh memory store";
    fail |= !run_store(&cfg, &rows[nrows++], probe_rss, NULL);
    rows[nrows].name = "naive malloc-per-entry table";
    fail |= !run_naive(&rows[nrows++]);
    if (redis_port > 0) {
        redisContext *c = redisConnect(redis_host, redis_port);

        rows[nrows].name = "attfresh Redis store (used_memory)";
        if (c == NULL || c->err) {
            fprintf(stderr, "bench_ra_store: cannot connect to Redis at %s:%d\n", redis_host,
                    redis_port);
            fail = 1;
        } else {
            snprintf(prefix, sizeof(prefix), "bench-%ld", (long)getpid());
            cfg.backend = AF_NONCE_STORE_REDIS;
            cfg.redis_host = redis_host;
            cfg.redis_port = redis_port;
            cfg.redis_prefix = prefix;
            cfg.remember_s = 0;
            fail |= !run_store(&cfg, &rows[nrows++], probe_redis, c);
            /* Consumed nonce keys stay until their TTL: drop this run's keys now. */
            freeReplyObject(
                redisCommand(c, "EVAL %s 0 %s",
                             "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) "
                             "do redis.call('DEL', k) n = n + 1 end return n",
                             "{bench-*"));
        }
        if (c != NULL)
            redisFree(c);
    }

    printf("%-36s %14s %14s %14s\n", "store", "bytes/nonce", "issue ops/s", "consume ops/s");
    for (i = 0; i < nrows; i++)
        if (rows[i].ok)
            printf("%-36s %14zu %14.0f %14.0f\n", rows[i].name, rows[i].bytes_per_nonce,
                   rows[i].issue_ops, rows[i].consume_ops);
    if (rows[0].ok && rows[1].ok && rows[0].bytes_per_nonce > 0)
        printf("\nnaive / attfresh: memory %.2fx, issue %.2fx, consume %.2fx\n",
               (double)rows[1].bytes_per_nonce / (double)rows[0].bytes_per_nonce,
               rows[1].issue_ops / rows[0].issue_ops, rows[1].consume_ops / rows[0].consume_ops);
    if (nrows == 3 && rows[2].ok && rows[0].bytes_per_nonce > 0)
        printf("Redis / attfresh memory store: memory %.2fx, issue %.2fx, consume %.2fx\n",
               (double)rows[2].bytes_per_nonce / (double)rows[0].bytes_per_nonce,
               rows[2].issue_ops / rows[0].issue_ops, rows[2].consume_ops / rows[0].consume_ops);
    if (rows[0].ok)
        printf(
            "memory store sweep with %zu outstanding: 65536 slots %.3f ms, whole table %.3f ms\n",
            count, sweep_ms_step, sweep_ms_full);
    if (rows[0].ok)
        printf("target <= 128 bytes per outstanding nonce (memory store): %s\n",
               rows[0].bytes_per_nonce <= 128 ? "ok" : "MISS");
    free(nonces);
    return fail ? 1 : (rows[0].bytes_per_nonce <= 128 ? 0 : 3);
}
