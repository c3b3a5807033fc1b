/* Lookups (RFC 9176 section 6) computed on worker threads and answered as separate responses
 * (RFC 7252 section 5.2.2), with the work budget of every lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_conf.h"
#include "rd_defer.h"
#include "rd_log.h"
#include "rd_lookup_job.h"
#include "rd_loop.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

struct rd_lookup_jobs {
    struct rd_workers *pool;           /**< NULL with workers 0 */
    struct rd_loop_notifier *notifier; /**< owned by the loop */
    size_t threads;
};

/* Copy the parameters into one block the job owns. */
static int
copy_params(struct rd_lookup_job *j, const struct lookup_qparam *qp, size_t nq)
{
    size_t total = 0;
    size_t off = 0;

    for (size_t i = 0; i < nq; i++) {
        total += qp[i].key_len + (qp[i].value ? qp[i].value_len : 0);
    }
    j->text = malloc(total ? total : 1);
    if (!j->text) {
        return RD_ENOMEM;
    }
    for (size_t i = 0; i < nq; i++) {
        j->qp[i].key = j->text + off;
        j->qp[i].key_len = qp[i].key_len;
        memcpy(j->text + off, qp[i].key, qp[i].key_len);
        off += qp[i].key_len;
        j->qp[i].value = NULL;
        j->qp[i].value_len = 0;
        if (qp[i].value) {
            j->qp[i].value = j->text + off;
            j->qp[i].value_len = qp[i].value_len;
            memcpy(j->text + off, qp[i].value, qp[i].value_len);
            off += qp[i].value_len;
        }
    }
    j->nq = nq;
    return RD_OK;
}

int
rd__lookup_job_new(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                   const struct lookup_qparam *qp, size_t nq, struct rd_lookup_job **out)
{
    struct rd_lookup_job *j;
    char diag[LOOKUP_DIAG_SIZE];
    int rc;

    if (nq > RD_QPARAM_MAX) {
        return RD_EINVAL;
    }
    j = calloc(1, sizeof(*j));
    if (!j) {
        return RD_ENOMEM;
    }
    lookup_buf_init(&j->buf, RD_LOOKUP_ANSWER_MAX);
    rc = copy_params(j, qp, nq);
    if (!rc && lookup_query_parse(&j->q, j->qp, nq, diag, sizeof(diag))) {
        rc = RD_EINVAL;
    }
    if (!rc) {
        rc = store_snap_open(srv->store, &j->snap);
        if (rc == RD_ESTORE) {
            rd__log(srv, RD_LOG_ERROR, "lookup: %s", store_errmsg(srv->store));
        }
    }
    if (rc) {
        rd__lookup_job_free(j);
        return rc;
    }
    j->kind = kind;
    j->link = link;
    j->now = rd__now();
    j->loop_busy = rd__loop_busy(srv);
    j->loop_cpu = rd__loop_cpu(srv);
    j->loop_stretches = rd__loop_stretches(srv);
    j->gen = srv->lookup_gen;
    j->budget_ms = srv->conf.lookup_budget_ms;
    /* Nothing remembered survives a deadline passing: rd__lookup_notify() moves on first. */
    j->keep = j->now < srv->next_expiry &&
              rd__lookup_key(kind, link, j->qp, nq, 1, &j->answer_key) == RD_OK;
    if (j->keep && j->q.has_count &&
        rd__lookup_key(kind, link, j->qp, nq, 0, &j->pages_key) == RD_OK) {
        j->marking = 1;
        j->has_start =
            j->q.page && rd__pages_find(srv, &j->pages_key, j->q.page, &j->start) == RD_OK;
    }
    *out = j;
    return RD_OK;
}

void
rd__lookup_job_finish(struct rd_server *srv, struct rd_lookup_job *j)
{
    uint64_t first = j->nmarks > RD_LOOKUP_JOB_MARKS ? j->nmarks - RD_LOOKUP_JOB_MARKS : 0;

    store_free(j->snap);
    j->snap = NULL;
    if (j->rc == RD_ESTORE) {
        rd__log(srv, RD_LOG_ERROR, "lookup: %s", j->err);
    }
    if (j->corrupt) {
        rd__log(srv, RD_LOG_ERROR, "lookup: %u corrupt records left out", j->corrupt);
    }
    if (j->seeked) {
        rd__log(srv, RD_LOG_DEBUG, "lookup: page %lu of %lu placed by the counts",
                (unsigned long)j->q.page, (unsigned long)j->q.count);
    }
    if (j->over_budget) {
        rd__log(srv, RD_LOG_DEBUG, "lookup: over its budget of %lu ms",
                (unsigned long)j->budget_ms);
    }
    /* What the snapshot taught holds only while the lookup results are still its own. */
    if (j->gen != srv->lookup_gen || rd__now() >= srv->next_expiry) {
        return;
    }
    /* Oldest first: a later mark of the same slot is nearer the page asked. Marks a walk
     * passed before its budget ran out are right too, and let the next try start there. */
    for (uint64_t i = first; j->marking && i < j->nmarks; i++) {
        const struct rd_lookup_job_mark *m = &j->marks[i % RD_LOOKUP_JOB_MARKS];

        rd__pages_put(srv, &j->pages_key, m->page, &m->mark);
    }
    if (j->keep && !j->rc && !j->over_budget) {
        rd__answer_put(srv, &j->answer_key, &j->buf);
    }
}

void
rd__lookup_job_restart(struct rd_lookup_job *j)
{
    size_t max = j->buf.max;

    lookup_buf_cleanup(&j->buf);
    lookup_buf_init(&j->buf, max);
    j->rc = RD_OK;
    j->over_budget = 0;
    j->nmarks = 0;
    j->corrupt = 0;
    j->seeked = 0;
    j->err[0] = '\0';
    if (j->count_all) {
        j->total = 0;
    }
}

void
rd__lookup_job_free(struct rd_lookup_job *j)
{
    if (!j) {
        return;
    }
    store_free(j->snap);
    lookup_buf_cleanup(&j->buf);
    free(j->text);
    free(j);
}

void
rd__lookup_job_refuse(coap_pdu_t *response, const char *diag)
{
    uint8_t buf[4];

    /* Options go before the payload that rd__respond_error() adds. */
    coap_add_option(response, COAP_OPTION_MAXAGE,
                    coap_encode_var_safe(buf, sizeof(buf), RD_LOOKUP_RETRY_S), buf);
    rd__respond_error(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, diag);
}

static void
run_job(struct rd_job *job)
{
    rd__lookup_compute((struct rd_lookup_job *)job);
}

static void
free_result(void *result)
{
    rd__lookup_job_free(result);
}

static void
drop_job(struct rd_job *job)
{
    rd__lookup_job_free((struct rd_lookup_job *)job);
}

static void
wake_loop(void *arg)
{
    rd__loop_notify(arg);
}

/* On the loop's thread: hand a computed lookup to whoever waits for it. */
static void
handback(struct rd_server *srv, struct rd_lookup_job *j)
{
    rd__lookup_job_finish(srv, j);
    if (j->done) {
        j->done(srv, j);
        return;
    }
    /* A request whose client went away frees the job at once. */
    (void)rd__defer_complete(srv, j->ticket, j, free_result);
}

/* On the loop's thread: hand each finished lookup to its parked request. */
static void
jobs_done(struct rd_server *srv, void *arg)
{
    struct rd_job *list = rd__workers_collect(srv->lookup_jobs->pool);

    (void)arg;
    while (list) {
        struct rd_lookup_job *j = (struct rd_lookup_job *)list;

        list = list->next;
        handback(srv, j);
    }
}

int
rd__lookup_jobs_full(struct rd_server *srv)
{
    /* Only this thread submits, so room seen here is room at the submit after it. */
    return rd__workers_pending(srv->lookup_jobs->pool) >= RD_LOOKUP_JOBS_MAX;
}

void
rd__lookup_job_submit(struct rd_server *srv, struct rd_lookup_job *j)
{
    j->job.run = run_job;
    /* The worker takes its snapshot when it starts: one held in the queue would pin pages. */
    j->rolling = 1;
    store_snap_release(j->snap);
    if (rd__workers_submit(srv->lookup_jobs->pool, &j->job)) {
        /* Cannot happen (room was checked); the lookup is answered all the same. */
        rd__lookup_compute(j);
        handback(srv, j);
    }
}

int
rd__lookup_job_defer(struct rd_server *srv, struct rd_lookup_job *j, coap_session_t *session,
                     const coap_pdu_t *request, coap_pdu_t *response, struct rd_lookup_job **back)
{
    int rc;

    *back = NULL;
    if (rd__lookup_jobs_full(srv)) {
        rd__lookup_job_free(j);
        rd__lookup_job_refuse(response, "too many lookups under way");
        return RD_EFULL;
    }
    rc = rd__defer_park(srv, session, request, &j->ticket);
    if (rc == RD_ENOMEM) {
        rd__lookup_job_free(j);
        rd__lookup_job_refuse(response, "out of memory");
        return RD_EFULL;
    }
    if (rc) {
        *back = j;
        return RD_EINVAL;
    }
    rd__lookup_job_submit(srv, j);
    return RD_OK;
}

int
rd__lookup_jobs_init(struct rd_server *srv)
{
    struct rd_lookup_jobs *lj = calloc(1, sizeof(*lj));
    const char *w = srv->conf.workers ? srv->conf.workers : "auto";
    int rc;

    if (!lj) {
        return RD_ENOMEM;
    }
    srv->lookup_jobs = lj;
    /* The table's check let only "auto" and 0 to RD_WORKERS_MAX through. */
    lj->threads = strcmp(w, "auto") == 0 ? rd__workers_default() : strtoul(w, NULL, 10);
    if (lj->threads == 0) {
        rd__log(srv, RD_LOG_INFO, "lookups on the I/O loop (workers 0)");
        return RD_OK;
    }
    rc = rd__loop_notifier(srv, jobs_done, NULL, &lj->notifier);
    if (!rc) {
        rc = rd__workers_new(lj->threads, RD_LOOKUP_JOBS_MAX, wake_loop, lj->notifier, &lj->pool);
    }
    if (rc) {
        rd__log(srv, RD_LOG_ERROR, "cannot start %zu lookup workers: %s", lj->threads,
                rd_strerror(rc));
        lj->threads = 0;
        return rc;
    }
    rd__log(srv, RD_LOG_INFO, "lookups on %zu worker threads", lj->threads);
    return RD_OK;
}

void
rd__lookup_jobs_cleanup(struct rd_server *srv)
{
    struct rd_lookup_jobs *lj = srv->lookup_jobs;

    if (!lj) {
        return;
    }
    /* Jobs still out close their snapshots here, before the store goes. Their requests stay
     * parked until rd__defer_cleanup(). */
    rd__workers_free(lj->pool, drop_job);
    free(lj);
    srv->lookup_jobs = NULL;
}

size_t
rd__lookup_jobs_threads(const struct rd_server *srv)
{
    return srv->lookup_jobs ? srv->lookup_jobs->threads : 0;
}

int
rd__lookup_jobs_wanted(struct rd_server *srv)
{
    size_t n = 0;

    if (!rd__lookup_jobs_threads(srv)) {
        return 0;
    }
    /* A small directory answers any lookup faster than a separate response costs the client
     * (an extra exchange), and piggybacked: store_count() is one read of the database's
     * header. */
    if (store_count(srv->store, &n) == RD_OK && n <= srv->conf.lookup_inline_max) {
        return 0;
    }
    return 1;
}
