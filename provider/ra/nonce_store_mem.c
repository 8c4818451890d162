/* nonce_store_mem.c - the in-memory nonce store: one open-addressing table (linear probing,
 * backward-shift deletion, no per-entry allocation) of 32-byte slots keyed by a keyed 128-bit hash
 * of the nonce, plus a bounded table of per-requester counters. 1 000 000 outstanding nonces take a
 * 2^21-slot table (64 MiB) and at most 20 MiB of requester records: < 128 bytes per nonce. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "attfresh/err.h"
#include "nonce_store_local.h"

/* Slot states, kept in the top two bits of meta; the low 30 bits hold the requester record
 * (1-based, 0 = none) while the nonce is outstanding. */
#define ST_EMPTY 0u
#define ST_LIVE 1u
#define ST_USED 2u
#define ST_EXPIRED 3u
#define META_STATE(m) ((m) >> 30)
#define META_RQ(m) ((m)&0x3fffffffu)
#define MAKE_META(st, rq) (((uint32_t)(st) << 30) | (uint32_t)(rq))

/* Slots examined by every issue/consume, so expired entries go without a timer. */
#define SWEEP_STEP 8
#define NONE ((size_t)-1)

typedef struct {
    uint64_t k0, k1; /* SipHash-128 of the nonce (k0 also picks the home slot) */
    uint64_t bind;   /* SipHash of the binding, 64 bits: a wrong guess passes with 2^-64 */
    uint32_t expiry; /* seconds since the epoch; valid while now < expiry */
    uint32_t meta;
} ns_slot;

typedef char ns_slot_is_32_bytes[sizeof(ns_slot) == 32 ? 1 : -1];

typedef struct {
    uint64_t h;     /* keyed hash of the requester id */
    uint32_t count; /* its outstanding nonces */
    uint32_t next;  /* next record in the bucket chain or the free list, 1-based, 0 = end */
} rq_rec;

typedef struct {
    pthread_mutex_t mu;
    unsigned char key_nonce[16], key_bind[16], key_req[16];
    ns_slot *slots;
    size_t cap, mask, max_occ;
    size_t n_live, n_rem, cursor;
    uint64_t last_full_sweep_s;
    rq_rec *rq;
    uint32_t *rq_head; /* bucket heads, 1-based record numbers */
    size_t rq_mask;
    uint32_t rq_max, rq_hiwater, rq_free, rq_n;
    size_t max_total, max_per_req;
    uint32_t remember_s;
} ns_mem;

static size_t next_pow2(size_t n)
{
    size_t p = 1;

    while (p < n)
        p <<= 1;
    return p;
}

void *af_ns_mem_new(const AF_NONCE_STORE_CONFIG *cfg)
{
    ns_mem *m = OPENSSL_zalloc(sizeof(*m));
    size_t nb;

    if (m == NULL) {
        AF_ERR(AF_R_MALLOC, "nonce store");
        return NULL;
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        OPENSSL_free(m);
        AF_ERR(AF_R_INTERNAL, "nonce store mutex");
        return NULL;
    }
    m->max_total = cfg->max_total;
    m->max_per_req = cfg->max_per_requester;
    m->remember_s = cfg->remember_s;
    /* Load at most 13/16 with max_total live at 3/4: short probes, and room left for remembered
     * used/expired entries, which are evicted first when the table fills. */
    m->cap = next_pow2(cfg->max_total + cfg->max_total / 3 + 1);
    if (m->cap < 64)
        m->cap = 64;
    m->mask = m->cap - 1;
    m->max_occ = m->cap / 16 * 13;
    m->rq_max = (uint32_t)cfg->max_requesters;
    nb = next_pow2(cfg->max_requesters);
    m->rq_mask = nb - 1;
    /* calloc, not OPENSSL_zalloc: fresh zero pages stay unmapped until used, so a large, mostly
     * idle store costs little resident memory. */
    m->slots = calloc(m->cap, sizeof(ns_slot));
    m->rq = calloc(m->rq_max, sizeof(rq_rec));
    m->rq_head = calloc(nb, sizeof(uint32_t));
    if (m->slots == NULL || m->rq == NULL || m->rq_head == NULL) {
        AF_ERR(AF_R_MALLOC, "nonce store tables for %zu nonces", cfg->max_total);
        goto err;
    }
    if (RAND_bytes(m->key_nonce, sizeof(m->key_nonce)) != 1 ||
        RAND_bytes(m->key_bind, sizeof(m->key_bind)) != 1 ||
        RAND_bytes(m->key_req, sizeof(m->key_req)) != 1) {
        AF_ERR(AF_R_CRYPTO, "no random bytes for the nonce store's hash keys");
        goto err;
    }
    return m;
err:
    free(m->slots);
    free(m->rq);
    free(m->rq_head);
    pthread_mutex_destroy(&m->mu);
    OPENSSL_free(m);
    return NULL;
}

static void mem_free(void *be)
{
    ns_mem *m = be;

    if (m == NULL)
        return;
    free(m->slots);
    free(m->rq);
    free(m->rq_head);
    pthread_mutex_destroy(&m->mu);
    OPENSSL_cleanse(m->key_nonce, sizeof(m->key_nonce) * 3);
    OPENSSL_free(m);
}

/* ---- requester counters --------------------------------------------------------------------- */

static uint32_t rq_find(const ns_mem *m, uint64_t h)
{
    uint32_t i;

    for (i = m->rq_head[h & m->rq_mask]; i != 0; i = m->rq[i - 1].next)
        if (m->rq[i - 1].h == h)
            return i;
    return 0;
}

static uint32_t rq_add(ns_mem *m, uint64_t h)
{
    uint32_t i;
    uint32_t *head = &m->rq_head[h & m->rq_mask];

    if (m->rq_free != 0) {
        i = m->rq_free;
        m->rq_free = m->rq[i - 1].next;
    } else if (m->rq_hiwater < m->rq_max) {
        i = ++m->rq_hiwater;
    } else {
        return 0;
    }
    m->rq[i - 1].h = h;
    m->rq[i - 1].count = 0;
    m->rq[i - 1].next = *head;
    *head = i;
    m->rq_n++;
    return i;
}

static void rq_release(ns_mem *m, uint32_t i)
{
    uint32_t *p;
    rq_rec *r;

    if (i == 0)
        return;
    r = &m->rq[i - 1];
    if (--r->count != 0)
        return;
    for (p = &m->rq_head[r->h & m->rq_mask]; *p != i; p = &m->rq[*p - 1].next)
        ;
    *p = r->next;
    r->next = m->rq_free;
    m->rq_free = i;
    m->rq_n--;
}

/* ---- the nonce table ------------------------------------------------------------------------ */

static size_t slot_find(const ns_mem *m, uint64_t k0, uint64_t k1)
{
    size_t i = (size_t)k0 & m->mask;

    /* Terminates: occupancy never exceeds max_occ < cap. */
    for (;; i = (i + 1) & m->mask) {
        const ns_slot *e = &m->slots[i];

        if (META_STATE(e->meta) == ST_EMPTY)
            return NONE;
        if (e->k0 == k0 && e->k1 == k1)
            return i;
    }
}

/* Backward-shift deletion keeps every probe chain gap-free without tombstones. */
static void slot_delete(ns_mem *m, size_t i)
{
    size_t j = i;

    for (;;) {
        ns_slot *e;
        size_t home;

        j = (j + 1) & m->mask;
        e = &m->slots[j];
        if (META_STATE(e->meta) == ST_EMPTY)
            break;
        home = (size_t)e->k0 & m->mask;
        if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
            m->slots[i] = *e;
            i = j;
        }
    }
    memset(&m->slots[i], 0, sizeof(ns_slot));
}

/* An outstanding nonce stops counting against the caps: used, or found expired. */
static void retire(ns_mem *m, ns_slot *e, uint32_t state)
{
    rq_release(m, META_RQ(e->meta));
    e->meta = MAKE_META(state, 0);
    m->n_live--;
    m->n_rem++;
}

/* Examines slot i; returns 1 when it deleted the entry there (the slot now holds a shifted entry
 * or nothing, so look at it again). */
static int sweep_slot(ns_mem *m, size_t i, uint64_t now, long *n)
{
    ns_slot *e = &m->slots[i];
    uint32_t st = META_STATE(e->meta);

    if (st == ST_EMPTY)
        return 0;
    if (st == ST_LIVE) {
        if (now < e->expiry)
            return 0;
        retire(m, e, ST_EXPIRED);
        (*n)++;
    }
    if (now >= (uint64_t)e->expiry + m->remember_s) {
        slot_delete(m, i);
        m->n_rem--;
        (*n)++;
        return 1;
    }
    return 0;
}

static long sweep_locked(ns_mem *m, size_t slots, uint64_t now)
{
    long n = 0;
    size_t done = 0;

    if (slots == 0 || slots > m->cap)
        slots = m->cap;
    while (done < slots) {
        if (!sweep_slot(m, m->cursor, now, &n)) {
            m->cursor = (m->cursor + 1) & m->mask;
            done++;
        }
    }
    return n;
}

/* A full pass when a cap is hit, at most once a second: what lingers may be expired. */
static void sweep_if_full(ns_mem *m, uint64_t now)
{
    if (m->last_full_sweep_s == now)
        return;
    m->last_full_sweep_s = now;
    sweep_locked(m, 0, now);
}

/* Makes room for one more slot by dropping remembered (used/expired) entries from the cursor on;
 * there are some, as outstanding ones are capped below max_occ. */
static void make_room(ns_mem *m, uint64_t now)
{
    while (m->n_live + m->n_rem >= m->max_occ) {
        ns_slot *e = &m->slots[m->cursor];
        uint32_t st = META_STATE(e->meta);

        if (st == ST_LIVE && now >= e->expiry) {
            retire(m, e, ST_EXPIRED);
            st = ST_EXPIRED;
        }
        if (st == ST_USED || st == ST_EXPIRED) {
            slot_delete(m, m->cursor);
            m->n_rem--;
            continue;
        }
        m->cursor = (m->cursor + 1) & m->mask;
    }
}

static AF_NS_OUTCOME mem_issue(void *be, const unsigned char *nonce, size_t nonce_len,
                               const unsigned char *binding, size_t binding_len,
                               const unsigned char *requester, size_t requester_len, uint64_t now,
                               uint64_t expiry)
{
    ns_mem *m = be;
    uint64_t k[2], b[2], r[2];
    uint32_t rqi;
    size_t i;
    AF_NS_OUTCOME o = AF_NS_OK;

    af_siphash128(m->key_nonce, nonce, nonce_len, k);
    af_siphash128(m->key_bind, binding, binding_len, b);
    af_siphash128(m->key_req, requester, requester_len, r);
    if (expiry > UINT32_MAX) {
        AF_ERR(AF_R_INVALID_ARGUMENT, "expiry beyond 2106");
        return AF_NS_ERROR;
    }

    pthread_mutex_lock(&m->mu);
    sweep_locked(m, SWEEP_STEP, now);
    if (slot_find(m, k[0], k[1]) != NONE) {
        o = AF_NS_DUPLICATE;
        goto done;
    }
    if (m->n_live >= m->max_total) {
        sweep_if_full(m, now);
        if (m->n_live >= m->max_total) {
            o = AF_NS_FULL_TOTAL;
            goto done;
        }
    }
    make_room(m, now);
    /* From here on nothing sweeps except the guarded full pass, so rqi stays valid. */
    rqi = rq_find(m, r[0]);
    if (rqi != 0 && m->rq[rqi - 1].count >= m->max_per_req) {
        sweep_if_full(m, now);
        rqi = rq_find(m, r[0]);
        if (rqi != 0 && m->rq[rqi - 1].count >= m->max_per_req) {
            o = AF_NS_FULL_REQUESTER;
            goto done;
        }
    }
    if (rqi == 0 && (rqi = rq_add(m, r[0])) == 0) {
        sweep_if_full(m, now);
        if ((rqi = rq_add(m, r[0])) == 0) {
            o = AF_NS_FULL_TABLE;
            goto done;
        }
    }
    for (i = (size_t)k[0] & m->mask; META_STATE(m->slots[i].meta) != ST_EMPTY;
         i = (i + 1) & m->mask)
        ;
    m->slots[i].k0 = k[0];
    m->slots[i].k1 = k[1];
    m->slots[i].bind = b[0];
    m->slots[i].expiry = (uint32_t)expiry;
    m->slots[i].meta = MAKE_META(ST_LIVE, rqi);
    m->rq[rqi - 1].count++;
    m->n_live++;
done:
    pthread_mutex_unlock(&m->mu);
    return o;
}

static AF_NS_OUTCOME mem_consume(void *be, const unsigned char *nonce, size_t nonce_len,
                                 const unsigned char *binding, size_t binding_len, uint64_t now)
{
    ns_mem *m = be;
    uint64_t k[2], b[2];
    size_t i;
    ns_slot *e;
    AF_NS_OUTCOME o;

    af_siphash128(m->key_nonce, nonce, nonce_len, k);
    af_siphash128(m->key_bind, binding, binding_len, b);

    pthread_mutex_lock(&m->mu);
    sweep_locked(m, SWEEP_STEP, now);
    i = slot_find(m, k[0], k[1]);
    if (i == NONE) {
        o = AF_NS_UNKNOWN;
        goto done;
    }
    e = &m->slots[i];
    switch (META_STATE(e->meta)) {
    case ST_USED:
        o = AF_NS_USED;
        break;
    case ST_EXPIRED:
        o = AF_NS_EXPIRED;
        break;
    default:
        if (now >= e->expiry) {
            retire(m, e, ST_EXPIRED);
            o = AF_NS_EXPIRED;
        } else if (e->bind != b[0]) {
            /* Not used up: whoever saw the nonce on the wire must not be able to burn it. */
            o = AF_NS_WRONG_TX;
        } else {
            retire(m, e, ST_USED);
            o = AF_NS_OK;
        }
        break;
    }
done:
    pthread_mutex_unlock(&m->mu);
    return o;
}

static long mem_sweep(void *be, size_t max_work, uint64_t now)
{
    ns_mem *m = be;
    long n;

    pthread_mutex_lock(&m->mu);
    n = sweep_locked(m, max_work, now);
    pthread_mutex_unlock(&m->mu);
    return n;
}

static int mem_stats(void *be, AF_NONCE_STORE_STATS *st, uint64_t now)
{
    ns_mem *m = be;

    (void)now;
    pthread_mutex_lock(&m->mu);
    st->outstanding = m->n_live;
    st->remembered = m->n_rem;
    st->requesters = m->rq_n;
    st->capacity = m->cap;
    st->table_bytes = m->cap * sizeof(ns_slot) + (size_t)m->rq_max * sizeof(rq_rec) +
                      (m->rq_mask + 1) * sizeof(uint32_t);
    pthread_mutex_unlock(&m->mu);
    return 1;
}

const AF_NS_METHOD af_ns_mem_method = {mem_free, mem_issue, mem_consume, mem_sweep, mem_stats};
