/* The running server (struct rd_server), seen by the files of rd/ that reach its parts: each
 * part belongs to the file its comment names, which alone changes it. rd_server.c creates and
 * frees it and runs the housekeeping of the loop. */
#ifndef RD_SERVER_H
#define RD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "rd_conf.h"
#include "rd_dedup.h"

struct rd_api;
struct rd_b1;
struct rd_batch;
struct rd_b2;
struct rd_defer;
struct rd_lookup_jobs;
struct rd_feed;
struct rd_fetch;
struct rd_flusher;
struct rd_http;
struct rd_limits;
struct rd_lograte;
struct rd_loop;
struct rd_metrics;
struct rd_observe;
struct rd_page_slot;
struct rd_answer_slot;
struct rd_sec;
struct rd_simple_cache;
struct rd_tokens;

/** The running server. Owned by rd_server_new()/rd_server_free(). */
struct rd_server {
    struct rd_conf conf; /**< a copy owned by the server */
    struct store *store;
    coap_context_t *ctx;
    int64_t last_sweep; /**< wall-clock second of the last expiry sweep */
    int sweep_pending;  /**< the last sweep stopped at its time budget with more to collect */
    int64_t last_sync;  /**< wall-clock second of the last store_sync() */
    int dirty;          /**< something was committed since the last flush */
    struct rd_flusher *flusher; /**< the flush thread of sync periodic; NULL otherwise */
    struct rd_dedup dedup;
    coap_resource_t *lookup_ep;     /**< owned by ctx */
    coap_resource_t *lookup_res;    /**< owned by ctx */
    int lookup_dirty;               /**< lookup results may have changed since the last notify */
    int64_t last_notify_ms;         /**< monotonic milliseconds of the last notification */
    int64_t next_expiry;            /**< earliest deadline still to come; INT64_MAX for none */
    uint64_t lookup_gen;            /**< bumped at every change of lookup results */
    struct rd_page_slot *pages;     /**< where pages of recent lookups start (rd_pages.c) */
    struct rd_answer_slot *answers; /**< answers of recent lookups (rd_pages.c) */
    struct rd_fetch *fetches;       /**< simple registrations waiting for their endpoint */
    size_t nfetches;
    struct rd_simple_cache *simple_cache; /**< fetched discovery documents, by base */
    struct lookup_links discovery;        /**< the links of our own /.well-known/core */
    uint8_t echo_key[32];                 /**< keys Echo values; random per start */
    struct rd_sec *sec;                   /**< PSK table and identity map (rd_dtls.c) */
    struct rd_metrics *metrics;           /**< counters; owned, see rd_metrics.c */
    struct rd_http *http;                 /**< HTTP listener; NULL when off */
    struct rd_feed *feed;                 /**< change feed; NULL when the HTTP listener is off */
    struct rd_lograte *lograte;           /**< log budgets per source (rd_log.c) */
    struct rd_limits *limits;             /**< per-address state, fixed size */
    struct rd_b1 *b1;           /**< Block1 bodies being received (rd_block1.c) */
    struct rd_b2 *b2;           /**< answers of several blocks (rd_block2.c) */
    struct rd_observe *observe; /**< observers of lookups (rd_observe.c) */
    struct rd_loop *loop;       /**< the one I/O loop (rd_loop.c) */
    struct rd_defer *defer;     /**< requests answered later (rd_defer.c); NULL until one */
    struct rd_api *api;         /**< JSON API state (rd_api.c); NULL when HTTP is off */
    struct rd_tokens *tokens;   /**< HTTP bearer tokens (rd_token.c); NULL: none needed */
    /** Worker threads that compute lookups (rd_lookup_job.c); never NULL once started. */
    struct rd_lookup_jobs *lookup_jobs;
    struct rd_cluster *cluster; /**< etcd client and local copy (rd_cluster.c); NULL alone */
    /** The turn's write batch and the datagrams held for it (rd_batch.c); NULL when writes
     * commit one by one. */
    struct rd_batch *batch;
};

/** The loop's housekeeping at the start of each turn: expiry sweep, coalesced notifications of
 * observers, metrics, periodic flush. Lowers *@p wait_ms when one of them must run again
 * sooner (a sweep with more to collect: 0). */
void rd__server_housekeeping(struct rd_server *srv, unsigned *wait_ms);

#endif
