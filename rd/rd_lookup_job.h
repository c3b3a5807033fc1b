/* Lookups computed on worker threads (rd_worker.h) and answered as separate responses
 * (rd_defer.h), so that no lookup holds up the I/O loop; and the work budget of every lookup.
 *
 * Ownership: the loop's thread owns struct rd_server. A job is built on the loop's thread from
 * a copy of the request's query and a read-only view of the store (store_snap_open()), so the
 * worker reads nothing but the job; it writes only the job's result. The worker takes the
 * view's snapshot when it starts; the seek and the walk read it, a walk longer than
 * RD_LOOKUP_SNAP_MS going on in newer ones. What the result teaches the server (page marks,
 * the answer to remember) is applied back on the loop's thread, and only when no change of the
 * lookup results happened since the job was made (then every snapshot it read was the same). */
#ifndef RD_LOOKUP_JOB_H
#define RD_LOOKUP_JOB_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "rd_lookup.h"
#include "rd_pages.h"
#include "rd_worker.h"

struct rd_lookup_job;
struct rd_server;
struct store;

/** Takes a job back from a worker on the loop's thread, after rd__lookup_job_finish(): the job
 * is its own from then on. */
typedef void rd_lookup_job_done_fn(struct rd_server *srv, struct rd_lookup_job *j);

/** Largest lookup answer; Block2 carries it, paging keeps answers below it. */
#define RD_LOOKUP_ANSWER_MAX (16 * 1024 * 1024)

/** Lookup jobs in the pool at once (waiting, running or done): each holds a view, that is one
 * of LMDB's 126 reader slots. Past it a lookup gets 5.03 with Max-Age. */
#define RD_LOOKUP_JOBS_MAX 64

/** A worker's walk moves to a newer snapshot this often (milliseconds): LMDB reuses no page
 * that an open snapshot holds, so a walk of a second in one snapshot would make every write
 * meanwhile take fresh pages (measured: a third of the registration rate). */
#define RD_LOOKUP_SNAP_MS 5

/** A worker's stretch while the loop is busy (milliseconds): preempted by the loop, a walk
 * holds its snapshot for the stretch's wall time, and writes take fresh pages meanwhile. */
#define RD_LOOKUP_BUSY_SNAP_MS 1

/** Longest a worker's walk steps aside at once for a busy loop (milliseconds): with stretches
 * of RD_LOOKUP_BUSY_SNAP_MS in between, a walk still moves whatever the load. */
#define RD_LOOKUP_ASIDE_MS 45

/** Page marks one job brings back at most (the last ones its walk passed). */
#define RD_LOOKUP_JOB_MARKS 32

/** Seconds of Max-Age of a lookup refused for its budget or a full queue. */
#define RD_LOOKUP_RETRY_S 5

/** A page mark a walk passed, for rd__pages_put(). */
struct rd_lookup_job_mark {
    uint32_t page;
    struct rd_page_mark mark;
};

/** One lookup, self-contained. */
struct rd_lookup_job {
    struct rd_job job; /**< the pool's part; first */
    /* Input, written on the loop's thread before the job runs, read-only afterwards. */
    enum lookup_kind kind;
    uint32_t link;
    char *text; /**< owned copy of the query parameters; qp and q point into it */
    struct lookup_qparam qp[RD_QPARAM_MAX];
    size_t nq;
    struct lookup_query q;
    struct store *snap; /**< owned view, closed by rd__lookup_job_finish() */
    int rolling;        /**< on a worker: snap renewed at the start and every RD_LOOKUP_SNAP_MS
                             of a walk that can resume */
    int64_t now;        /**< seconds, when the job was made */
    const _Atomic int64_t *loop_busy; /**< rd__loop_busy(): the walk steps aside before it */
    const _Atomic int *loop_cpu;      /**< rd__loop_cpu() */
    _Atomic int *loop_stretches;      /**< rd__loop_stretches() */
    uint32_t budget_ms; /**< work the walk may take, from its start; 0: no limit */
    uint64_t gen;       /**< srv->lookup_gen when the job was made: what the job teaches is
                             kept only while it holds (no write since, whatever snapshot) */
    int keep;           /**< the answer may be remembered (no deadline passed) */
    struct rd_lookup_key answer_key;
    int marking; /**< page marks are worth writing: pages_key is set and the query has count */
    struct rd_lookup_key pages_key;
    int has_start; /**< the loop knew where the page starts: start */
    struct rd_page_mark start;
    uint64_t ticket; /**< of the parked request (rd__defer_park(), or the caller's own) */
    /* Another rendering (the HTTP API, rd_api.c), set by the caller after rd__lookup_job_new():
     * matches on the page go to emit, called with the job (it writes only its buf). */
    rd_lookup_emit_fn emit;      /**< NULL: link-format into buf */
    int count_all;               /**< walk to the last match, to count them all into total */
    int all_links;               /**< link-local registrations of every interface are shown */
    rd_lookup_job_done_fn *done; /**< NULL: complete the parked request of ticket */
    /* Result, written by rd__lookup_compute(). */
    int rc;          /**< RD_OK, or the failure (RD_ETOOBIG, RD_ENOMEM, RD_ESTORE) */
    int over_budget; /**< the walk stopped at its budget: the answer is incomplete */
    struct lookup_buf buf;
    struct rd_lookup_job_mark marks[RD_LOOKUP_JOB_MARKS]; /**< a ring: the last nmarks */
    uint64_t nmarks;
    unsigned corrupt; /**< records left out because they do not decode */
    int seeked;       /**< the store's counts placed the page */
    uint64_t total;   /**< with count_all: every match of the lookup, on the page or not */
    char err[256];    /**< the store's message with RD_ESTORE */
};

/** The lookup workers of a server (srv->lookup_jobs). */
struct rd_lookup_jobs;

/**
 * Start srv->conf.workers worker threads (none for 0) and wire their wake-up into the loop.
 * @return RD_OK; RD_ENOMEM; RD_EINVAL (with a log line).
 */
int rd__lookup_jobs_init(struct rd_server *srv);

/** Stop the workers (jobs not finished are dropped, their snapshots closed). Accepts a server
 * without them. Must run before the store is freed. */
void rd__lookup_jobs_cleanup(struct rd_server *srv);

/** Worker threads running lookups: 0 when lookups run on the loop. */
size_t rd__lookup_jobs_threads(const struct rd_server *srv);

/** Whether a lookup not answered from memory goes to a worker: there are workers, and the
 * directory holds more than lookup_inline_max registrations. */
int rd__lookup_jobs_wanted(struct rd_server *srv);

/**
 * Make a job for the lookup (@p kind, @p link, @p qp): copy the parameters, take a snapshot,
 * and note what the loop knows (a page mark, the generation). Runs on the loop's thread.
 *
 * @param out Written with a new job on success; free it with rd__lookup_job_free().
 * @return RD_OK; RD_ENOMEM; RD_EINVAL (the parameters do not parse); RD_ESTORE (logged).
 */
int rd__lookup_job_new(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                       const struct lookup_qparam *qp, size_t nq, struct rd_lookup_job **out);

/** Compute the answer of @p j into its result (rd_lookup.c). Any thread; touches only @p j. */
void rd__lookup_compute(struct rd_lookup_job *j);

/**
 * On the loop's thread, after rd__lookup_compute(): close the snapshot, log what went wrong, and
 * remember the page marks and the answer when the lookup results are still those of the
 * snapshot.
 */
void rd__lookup_job_finish(struct rd_server *srv, struct rd_lookup_job *j);

/** Forget the result of a try of @p j (a stopped one), so that it can be computed anew. */
void rd__lookup_job_restart(struct rd_lookup_job *j);

/** Free a job (closing its snapshot if still open). Accepts NULL. */
void rd__lookup_job_free(struct rd_lookup_job *j);

/**
 * Compute @p j away from the loop: park the request and hand the job to a worker. On return
 * the job is no longer the caller's, whatever happened.
 *
 * @return RD_OK (parked: leave @p response untouched); RD_EFULL (too many lookups waiting:
 *         answered 5.03 with Max-Age); RD_EINVAL (the request cannot be parked: the job is
 *         given back in *@p back, to run on the loop).
 */
int rd__lookup_job_defer(struct rd_server *srv, struct rd_lookup_job *j, coap_session_t *session,
                         const coap_pdu_t *request, coap_pdu_t *response,
                         struct rd_lookup_job **back);

/** Whether the pool holds RD_LOOKUP_JOBS_MAX lookups: one more must be refused (5.03 with
 * Max-Age RD_LOOKUP_RETRY_S, or its HTTP equivalent). @return 1 or 0. */
int rd__lookup_jobs_full(struct rd_server *srv);

/**
 * Hand @p j (its done set, or its ticket that of a parked request) to a worker. On return the
 * job is no longer the caller's: it comes back through j->done, or to its parked request,
 * when computed; at once should the pool refuse it (rd__lookup_jobs_full() said no).
 */
void rd__lookup_job_submit(struct rd_server *srv, struct rd_lookup_job *j);

/** Answer 5.03 with Max-Age RD_LOOKUP_RETRY_S and @p diag: a lookup the server will not
 * compute now. */
void rd__lookup_job_refuse(coap_pdu_t *response, const char *diag);

#endif
