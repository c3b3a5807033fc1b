/* What the files of the cluster glue share (rd_cluster.c: client, bootstrap, watch;
 * rd_cluster_write.c: writes and their answers; rd_cluster_sweep.c: election and sweep). */
#ifndef RD_CLUSTER_NODE_H
#define RD_CLUSTER_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "rd_cluster.h"

struct rd_server;
struct rd_cluster_wait;
struct rd_cluster_write;

/** Where a node stands with etcd. */
enum rd_cluster_phase {
    RD_CLUSTER_JOINING = 0, /**< fetching the cluster's id key */
    RD_CLUSTER_LISTING = 1, /**< reading every registration at one revision */
    RD_CLUSTER_WATCHING = 2,
    RD_CLUSTER_RETRY = 3, /**< waiting before starting over from the phase that failed */
};

struct rd_cluster {
    struct rd_server *srv;
    struct cluster_etcd *etcd;
    char node[64];
    unsigned char *prefix; /**< etcd_prefix */
    size_t prefix_len;
    unsigned char *regs; /**< prefix "reg/": every registration key starts so */
    size_t regs_len;
    unsigned char *regs_end; /**< the range end of regs */
    size_t regs_end_len;
    enum rd_cluster_phase phase;
    enum rd_cluster_phase retry_phase; /**< what RETRY starts again */
    int64_t retry_at_ms;
    int64_t timer_at_ms;      /**< libcurl's timer; 0: none */
    int64_t applied;          /**< revision the local copy is at */
    int64_t etcd_revision;    /**< newest revision etcd told of */
    int64_t list_revision;    /**< the revision a listing reads at */
    unsigned char *list_next; /**< key the next page starts at */
    size_t list_next_len;
    uint64_t *seen; /**< registration numbers a listing found */
    size_t nseen;
    size_t seen_cap;
    int connected;             /**< the last request or the watch got an answer */
    int64_t last_error_log_ms; /**< rate limit of the "cannot commit" line */
    int64_t last_retry_log_ms; /**< rate limit of the "starting over" line */
    unsigned long long writes_failed;
    /* the write a handler is making now, and whether it was parked */
    coap_session_t *cur_session;
    const coap_pdu_t *cur_request;
    int parked;
    rd_cluster_done_fn *then_fn; /**< rd__cluster_then(): told of the next write's outcome */
    void *then_arg;
    struct rd_cluster_write *batch; /**< registrations of this turn, not sent yet */
    size_t nbatch;
    struct rd_cluster_wait *waits; /**< committed writes waiting for the local copy */
    size_t nwaits;
    size_t waits_cap;
    /* sweeper */
    int64_t lease; /**< our lease; 0: none */
    int is_sweeper;
    int64_t next_campaign_ms;
    int64_t next_keepalive_ms;
    int64_t next_sweep_ms;
    int64_t last_sweep;     /**< seconds since the epoch of the last sweep; 0: never */
    size_t sweeps_inflight; /**< registrations the running sweep still checks */
    unsigned long long swept;
};

/** The key of registration (@p d, @p ep): regs, d, '\0', ep. @return RD_OK; RD_ENOMEM. */
int rd__cluster_reg_key(const struct rd_cluster *cl, const char *d, const char *ep,
                        unsigned char **key, size_t *len);

/** The local copy reached @p revision: answer the writes that waited for it. */
void rd__cluster_writes_applied(struct rd_cluster *cl, int64_t revision);

/** Answer the writes that waited too long for the local copy, with what etcd said. */
void rd__cluster_writes_tick(struct rd_cluster *cl, int64_t now_ms);

/** Send the registrations of this turn in one transaction (at the end of each turn). */
void rd__cluster_writes_flush(struct rd_cluster *cl);

/** Answer every waiting write (shutdown). */
void rd__cluster_writes_cleanup(struct rd_cluster *cl);

/** Note a request that got no answer from etcd, logging it at most once per 10 s. */
void rd__cluster_unreachable(struct rd_cluster *cl, const struct cluster_result *res,
                             const char *what);

/** Election and sweep, run from the tick while watching. */
void rd__cluster_sweep_tick(struct rd_cluster *cl, int64_t now_ms);

#endif
