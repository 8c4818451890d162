/* nonce_store_local.h - what the nonce store front end (nonce_store.c) shares with its backends
 * (nonce_store_mem.c, nonce_store_redis.c) and the rate limiter: the backend method table, the
 * backends' detailed outcomes, and the keyed hash used to avoid keeping raw nonces and ids. */
#ifndef AF_NONCE_STORE_LOCAL_H
#define AF_NONCE_STORE_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "attfresh/ra.h"

/* Backend outcomes: finer than AF_NONCE_RESULT so the front end can say which cap was hit. */
typedef enum {
    AF_NS_OK = 0,
    AF_NS_UNKNOWN,
    AF_NS_EXPIRED,
    AF_NS_USED,
    AF_NS_WRONG_TX,
    AF_NS_DUPLICATE,      /* issue of a nonce the store still knows */
    AF_NS_FULL_TOTAL,     /* max_total outstanding */
    AF_NS_FULL_REQUESTER, /* max_per_requester outstanding for this requester */
    AF_NS_FULL_TABLE,     /* no room for another requester / entry */
    AF_NS_ERROR           /* the backend already raised AF_R_RA_STORE (or similar) */
} AF_NS_OUTCOME;

/* Times are whole seconds since the epoch; a nonce is valid while now_s < expiry_s. */
typedef AF_NS_OUTCOME af_ns_issue_fn(void *be, const unsigned char *nonce, size_t nonce_len,
                                     const unsigned char *binding, size_t binding_len,
                                     const unsigned char *requester, size_t requester_len,
                                     uint64_t now_s, uint64_t expiry_s);
typedef AF_NS_OUTCOME af_ns_consume_fn(void *be, const unsigned char *nonce, size_t nonce_len,
                                       const unsigned char *binding, size_t binding_len,
                                       uint64_t now_s);

typedef struct {
    void (*free)(void *be);
    af_ns_issue_fn *issue;
    af_ns_consume_fn *consume;
    long (*sweep)(void *be, size_t max_work, uint64_t now_s);
    int (*stats)(void *be, AF_NONCE_STORE_STATS *st, uint64_t now_s);
} AF_NS_METHOD;

/* Backend constructors: return the backend's state, or NULL after raising an error. cfg is complete
 * (defaults applied) and outlives the backend. */
void *af_ns_mem_new(const AF_NONCE_STORE_CONFIG *cfg);
extern const AF_NS_METHOD af_ns_mem_method;
void *af_ns_redis_new(const AF_NONCE_STORE_CONFIG *cfg);
extern const AF_NS_METHOD af_ns_redis_method;

/* SipHash-2-4 with 128-bit output (key 16 bytes): a fast keyed hash, so attacker-chosen nonces or
 * ids cannot aim at one hash-table bucket, and the tables never hold the raw values. */
void af_siphash128(const unsigned char key[16], const unsigned char *in, size_t len,
                   uint64_t out[2]);

#endif
