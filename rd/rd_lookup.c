/* GET rd-lookup/ep and rd-lookup/res (RFC 9176 section 6), observable (RFC 7641). */
#define _GNU_SOURCE /* sched_getcpu() */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lookup.h"
#include "rd_auth.h"
#include "rd_block.h"
#include "rd_conf.h"
#include "rd_defer.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_lookup.h"
#include "rd_lookup_job.h"
#include "rd_metrics.h"
#include "rd_observe.h"
#include "rd_pages.h"
#include "rd_rank.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

#define LOOKUP_EP_PATH  "rd-lookup/ep"
#define LOOKUP_RES_PATH "rd-lookup/res"
#define ANSWER_MAX      RD_LOOKUP_ANSWER_MAX

/* A set of registration ids, to hand each registration over once during a prefix scan. */
struct id_set {
    uint64_t *slots; /* 0 is free: store ids are never 0 */
    size_t cap;
    size_t n;
};

/* One lookup in progress. It reads nothing but its store (a snapshot on a worker) and its
 * query, and writes nothing but its answer and its job's result: it may run on any thread. */
struct lookup_run {
    struct store *st;
    const struct lookup_query *q;
    enum lookup_kind kind;
    struct lookup_buf *out;
    uint64_t skip;       /* matches still to pass over before the page starts */
    uint64_t left;       /* matches still to write; UINT64_MAX without count */
    size_t written;      /* links written */
    struct id_set *seen; /* NULL when the scan hands each registration over once */
    int rc;
    unsigned corrupt; /* records left out: they do not decode */
    /* Page marks (rd_pages.c), when the walk can resume and the query has a count: written
     * into the job, for the loop to remember. */
    int marking;
    struct rd_lookup_job *job;
    uint64_t matched; /* index of the next match among all matches of the lookup */
    uint64_t first;   /* index of the first match in the registration being visited */
    uint64_t prev_id; /* the registration visited before the current one; 0: none */
    uint32_t link;    /* the client's interface: registrations scoped to another stay hidden */
    /* A walk that stops at a deadline: observers' re-runs pause there, to go on after last_id
     * (paused); a request's walk stops there for good (its work budget). */
    int64_t deadline_ms; /* 0: no deadline */
    unsigned visits;
    int paused;
    uint64_t last_id;
    uint64_t takes;       /* matches met, on the page or before it */
    int64_t min_deadline; /* the earliest deadline among the registrations matched */
    /* A walk for another rendering (a job's emit): matches on the page go to emit. */
    rd_lookup_emit_fn emit;
    void *emit_arg;
    int64_t expires_at; /* of the registration being visited */
    int count_all;      /* go on to the last match to count them all */
    int all_links;      /* link-local registrations of every interface are shown */
    uint64_t placed;    /* matches before the registration the walk starts after */
    /* A prefix walk resumes at a term and a registration, not after a registration: where it
     * stands (at) and, once it paused, where it goes on (from). */
    struct store_term_pos *at;
    const struct store_term_pos *from;
    int counted; /* counted in rd__loop_stretches() while its snapshot is open */
};

/* Registrations visited between two looks at the clock. */
#define SLICE_CHECK 64

static int
id_set_add(struct id_set *s, uint64_t id)
{
    size_t i;

    if ((s->n + 1) * 2 > s->cap) {
        struct id_set bigger = { NULL, s->cap ? s->cap * 2 : 64, 0 };

        bigger.slots = calloc(bigger.cap, sizeof(uint64_t));
        if (!bigger.slots) {
            return RD_ENOMEM;
        }
        for (size_t j = 0; j < s->cap; j++) {
            if (s->slots[j]) {
                id_set_add(&bigger, s->slots[j]);
            }
        }
        free(s->slots);
        *s = bigger;
    }
    i = (size_t)((id * 0x9e3779b97f4a7c15ull) % s->cap);
    while (s->slots[i]) {
        if (s->slots[i] == id) {
            return RD_ECONFLICT;
        }
        i = (i + 1) % s->cap;
    }
    s->slots[i] = id;
    s->n++;
    return RD_OK;
}

/* Note that the page beginning with match @p index starts in the current registration. The job
 * keeps the last marks passed: those nearest the page asked, which the next pages need. */
static void
mark(struct lookup_run *run, uint64_t index)
{
    struct rd_lookup_job_mark *m;

    if (index / run->q->count > UINT32_MAX) {
        return;
    }
    m = &run->job->marks[run->job->nmarks++ % RD_LOOKUP_JOB_MARKS];
    m->page = (uint32_t)(index / run->q->count);
    m->mark.after = run->prev_id;
    m->mark.inner = index - run->first;
}

/* Count a match against the page; 1 when it belongs on the page. */
static int
take(struct lookup_run *run)
{
    run->takes++;
    if (run->marking) {
        uint64_t index = run->matched++;

        if (index % run->q->count == 0 && index) {
            mark(run, index);
        }
        /* The last match of the page: the next page starts right after it. */
        if (!run->skip && run->left == 1) {
            mark(run, index + 1);
        }
    }
    if (run->skip) {
        run->skip--;
        return 0;
    }
    if (run->left == 0) {
        return 0;
    }
    if (run->left != UINT64_MAX) {
        run->left--;
    }
    return 1;
}

static int
separate(struct lookup_run *run)
{
    return run->written++ ? lookup_buf_append(run->out, ",", 1) : RD_OK;
}

/* A run of lookup @p q of @p kind for a client on interface @p link, with nothing done yet. */
static void
run_start(struct lookup_run *run, struct store *st, enum lookup_kind kind, uint32_t link,
          const struct lookup_query *q)
{
    memset(run, 0, sizeof(*run));
    run->st = st;
    run->min_deadline = INT64_MAX;
    run->q = q;
    run->kind = kind;
    run->link = link;
}

/* Write one match on the page: link-format, or whatever the walk's emitter makes of it. */
static int
put(struct lookup_run *run, const struct lookup_regview *view, size_t i)
{
    int rc;

    if (run->emit) {
        return run->emit(run->emit_arg, view, i, run->expires_at);
    }
    rc = separate(run);
    if (rc) {
        return rc;
    }
    return run->kind == LOOKUP_KIND_EP ? lookup_format_ep(view, run->out)
                                       : lookup_format_res(view, i, run->out);
}

static int
visit_links(struct lookup_run *run, const struct lookup_regview *view)
{
    int rc = RD_OK;

    if (run->kind == LOOKUP_KIND_EP) {
        if (lookup_match_ep(run->q, view) && take(run)) {
            rc = put(run, view, 0);
        }
        return rc;
    }
    for (size_t i = 0; i < view->rec->nlinks && !rc && (run->left || run->count_all); i++) {
        if (lookup_match_res(run->q, view, i) && take(run)) {
            rc = put(run, view, i);
        }
    }
    return rc;
}

/* store_reg_fn: match one registration and write what it contributes to the page. */
static int
visit(void *arg, const struct store_reg *reg)
{
    struct lookup_run *run = arg;
    struct lookup_reg rec;
    struct lookup_regview view;
    char href[RD_ID_SIZE + 8];
    char id[RD_ID_SIZE];
    uint64_t before;
    int rc;

    if (run->deadline_ms && ++run->visits % SLICE_CHECK == 0 && rd__now_ms() >= run->deadline_ms) {
        run->paused = 1;
        return 1;
    }
    run->last_id = reg->id;
    if (run->seen) {
        rc = id_set_add(run->seen, reg->id);
        if (rc == RD_ECONFLICT) {
            return 0;
        }
        if (rc) {
            run->rc = rc;
            return 1;
        }
    }
    rc = lookup_reg_decode(&rec, reg->data, reg->data_len);
    if (rc) {
        /* A record we cannot read is left out rather than failing every lookup. */
        run->corrupt++;
        return 0;
    }
    /* RFC 9176 section 6.1: a link-local base means nothing to a client on another link. */
    if (rec.scope && rec.scope != run->link && !run->all_links) {
        lookup_reg_cleanup(&rec);
        return 0;
    }
    rd__id_format(reg->id, id);
    snprintf(href, sizeof(href), "/rd/%s", id);
    view.ep = reg->ep;
    view.d = reg->d;
    view.href = href;
    view.rec = &rec;
    run->first = run->matched;
    before = run->takes;
    run->expires_at = reg->expires_at;
    rc = visit_links(run, &view);
    /* Its deadline passing changes the answer (or where the page starts). */
    if (run->takes != before && reg->expires_at < run->min_deadline) {
        run->min_deadline = reg->expires_at;
    }
    run->prev_id = reg->id;
    lookup_reg_cleanup(&rec);
    if (rc) {
        run->rc = rc;
        return 1;
    }
    return run->left == 0 && !run->count_all;
}

/* Start at the beginning of the page that the loop remembered when there is one, else where
 * the store's counts place it (@p term as walked; length 0 for every registration). */
static uint64_t
resume_point(struct lookup_run *run, int64_t now, const char *term, size_t term_len)
{
    struct rd_lookup_job *j = run->job;
    struct rd_page_mark m;
    uint64_t skip = 0;
    int rc;

    run->marking = j && j->marking;
    if (run->q->page == 0) {
        return 0;
    }
    if (j && j->has_start) {
        m = j->start;
    } else {
        /* The seek reads the same snapshot as the walk after it: one consistent answer. */
        rc = rd__rank_seek(run->st, run->kind == LOOKUP_KIND_RES, run->q, term, term_len, now,
                           &m.after, &skip);
        if (rc == RD_ESTORE && j) {
            snprintf(j->err, sizeof(j->err), "%s", store_errmsg(run->st));
        }
        if (rc) {
            return 0;
        }
        if (j) {
            j->seeked = 1;
        }
        m.inner = skip;
    }
    run->skip = m.inner;
    run->matched = (uint64_t)run->q->page * run->q->count - m.inner;
    run->placed = run->matched;
    /* The marks this walk writes name the registration before theirs: the first one visited
     * follows m.after, not the start. */
    run->prev_id = m.after;
    return m.after;
}

/* How a lookup walks the store: set by plan(). */
enum walk_kind {
    WALK_NONE,   /* count=0: nothing to walk */
    WALK_PREFIX, /* every registration with a term of the prefix, by term, then by age */
    WALK_TERM,   /* the registrations of one exact term, oldest first */
    WALK_ALL,    /* every registration, oldest first */
};

/* The index the query can use, if any, into @p prefix: the walk's kind. */
static enum walk_kind
plan(const struct lookup_run *run, char *prefix, size_t size, size_t *len)
{
    int indexed;

    if (run->q->has_count && run->q->count == 0 && !run->count_all) {
        return WALK_NONE;
    }
    indexed = (run->kind == LOOKUP_KIND_EP ? lookup_query_index_ep : lookup_query_index)(
                  run->q, prefix, size, len) == RD_OK;
    if (indexed && prefix[*len - 1] != '\0') {
        return WALK_PREFIX;
    }
    return indexed ? WALK_TERM : WALK_ALL;
}

/* Walk from after registration @p after (a walk that cannot resume starts over). */
static int
walk_after(struct lookup_run *run, enum walk_kind walk, const char *prefix, size_t len, int64_t now,
           uint64_t after)
{
    switch (walk) {
    case WALK_PREFIX:
        return store_term_foreach_from(run->st, prefix, len, run->from, run->at, now, visit, run);
    case WALK_TERM:
        return store_term_foreach_after(run->st, prefix, len, now, after, visit, run);
    case WALK_ALL:
        return store_reg_foreach(run->st, now, after, visit, run);
    case WALK_NONE:
        break;
    }
    return RD_OK;
}

/* Whether the loop counts as busy now (rd__loop_busy()); never for a walk on the loop. */
static int
loop_busy(const struct lookup_run *run, int64_t now_ms)
{
    const _Atomic int64_t *busy = run->job ? run->job->loop_busy : NULL;

    return busy && now_ms < atomic_load_explicit(busy, memory_order_relaxed);
}

/* Whether this worker runs on the CPU of a busy loop: then it only gets the loop's gaps, and
 * the loop preempts it mid-stretch, snapshot open, for as long as the loop keeps busy (with
 * the server pinned to one CPU a 1 ms stretch held its snapshot for up to 700 ms, and the
 * writes meanwhile took fresh pages, a third of their rate). */
static int
on_loop_cpu(const struct lookup_run *run)
{
    const _Atomic int *cpu = run->job ? run->job->loop_cpu : NULL;

    return cpu && sched_getcpu() == atomic_load_explicit(cpu, memory_order_relaxed);
}

/* Between two stretches of a worker's walk (and before the first): while the loop is busy
 * (rd__loop_busy()), wait without a snapshot (up to the budget), so that writes reuse pages
 * and have the CPU and its caches to themselves; then go on in a newer snapshot. Workers run
 * under SCHED_IDLE already, but a walk on the other core, or one preempted with its snapshot
 * open, still slowed writes (bench isolation: updates kept two thirds of their rate). A loop
 * that has time to spare does not hold walks back; a busy one holds each back
 * RD_LOOKUP_ASIDE_MS at most, so walks on another core still move on under writes that never
 * stop. A walk on the loop's own CPU waits for the loop as long as it stays busy: it has no
 * other core to move on with. */
static void
yield_to_loop(const struct lookup_run *run, int64_t budget_end_ms)
{
    int64_t now_ms = rd__now_ms();
    int64_t until = now_ms + RD_LOOKUP_ASIDE_MS;
    int shared = on_loop_cpu(run);

    while (loop_busy(run, now_ms) && (now_ms < until || shared) &&
           (!budget_end_ms || now_ms < budget_end_ms)) {
        /* On the loop's CPU each look costs the loop a switch: look less often. */
        struct timespec ts = { 0, shared ? 5000000 : 1000000 };

        nanosleep(&ts, NULL);
        now_ms = rd__now_ms();
        shared = on_loop_cpu(run);
    }
}

/* A worker's snapshot taken: one on the loop's CPU counts itself, so that a busy loop that
 * finds it open gives it time to end its stretch (rd_loop.c, give_way()). */
static int
snap_take(struct lookup_run *run)
{
    _Atomic int *n = run->job ? run->job->loop_stretches : NULL;
    int rc = store_snap_renew(run->st);

    if (!rc && n && !run->counted && on_loop_cpu(run)) {
        atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
        run->counted = 1;
    }
    return rc;
}

static void
snap_let_go(struct lookup_run *run)
{
    store_snap_release(run->st);
    if (run->counted) {
        atomic_fetch_sub_explicit(run->job->loop_stretches, 1, memory_order_relaxed);
        run->counted = 0;
    }
}

/* A walk that used its whole budget waiting still goes on to its first look at the clock (64
 * registrations): a lookup of one registration is answered even under a budget of 1 ms. */
static int
step_aside(struct lookup_run *run, int64_t budget_end_ms)
{
    if (loop_busy(run, rd__now_ms())) {
        snap_let_go(run);
        yield_to_loop(run, budget_end_ms);
    }
    return snap_take(run);
}

/* Answer the query from the index when one of its criteria allows, else by a scan in age
 * order that stops as soon as the page is full. With @p renew_ms, a walk that can resume
 * moves to a newer snapshot every renew_ms (the store can reuse the pages an old snapshot
 * holds); the seek and the first stretch of the walk read one snapshot. */
static int
run_lookup(struct lookup_run *run, int64_t now, int64_t budget_end_ms, int64_t renew_ms)
{
    char prefix[512];
    size_t len = 0;
    struct id_set seen = { NULL, 0, 0 };
    struct store_term_pos pos[2];
    enum walk_kind walk = plan(run, prefix, sizeof(prefix), &len);
    uint64_t after = 0;
    int rc;

    if (walk == WALK_NONE) {
        return RD_OK;
    }
    if (walk == WALK_PREFIX) {
        /* A prefix may name a registration several times: the set of those handed over already
         * lasts across the stretches, and each stretch goes on at the term and registration
         * where the last one stopped. */
        run->seen = &seen;
        run->at = &pos[0];
        run->from = NULL;
    } else {
        after =
            resume_point(run, now, walk == WALK_TERM ? prefix : NULL, walk == WALK_TERM ? len : 0);
    }
    for (;;) {
        int64_t now_ms = rd__now_ms();
        /* Short stretches where the loop may take the CPU back mid-way, snapshot open. */
        int64_t stretch =
            loop_busy(run, now_ms) || on_loop_cpu(run) ? RD_LOOKUP_BUSY_SNAP_MS : renew_ms;

        run->paused = 0;
        run->deadline_ms = budget_end_ms;
        if (renew_ms && (!budget_end_ms || now_ms + stretch < budget_end_ms)) {
            run->deadline_ms = now_ms + stretch;
        }
        rc = walk_after(run, walk, prefix, len, now, after);
        if (rc < 0 || run->rc || !run->paused || run->deadline_ms == budget_end_ms) {
            break;
        }
        /* Paused between two registrations: go on after the last one, in a newer snapshot. */
        rc = step_aside(run, budget_end_ms);
        if (rc) {
            break;
        }
        after = run->last_id;
        if (walk == WALK_PREFIX) {
            pos[1] = pos[0];
            run->from = &pos[1];
        }
    }
    free(seen.slots);
    run->seen = NULL;
    run->at = NULL;
    run->from = NULL;
    if (rc < 0) {
        return rc;
    }
    return run->rc;
}

void
rd__lookup_compute(struct rd_lookup_job *j)
{
    struct lookup_run run;
    int64_t budget_end_ms = j->budget_ms ? rd__now_ms() + j->budget_ms : 0;

    run_start(&run, j->snap, j->kind, j->link, &j->q);
    run.out = &j->buf;
    run.job = j;
    run.emit = j->emit;
    run.emit_arg = j;
    run.count_all = j->count_all;
    run.all_links = j->all_links;
    run.skip = j->q.has_count ? (uint64_t)j->q.page * j->q.count : 0;
    run.left = j->q.has_count ? j->q.count : UINT64_MAX;
    /* A job that waited in the queue starts from the store as it is now, once a busy loop on
     * its CPU lets it. */
    if (j->rolling) {
        yield_to_loop(&run, budget_end_ms);
    }
    j->rc = j->rolling ? snap_take(&run) : RD_OK;
    if (!j->rc) {
        j->rc = run_lookup(&run, j->now, budget_end_ms, j->rolling ? RD_LOOKUP_SNAP_MS : 0);
    }
    if (j->rc == RD_ESTORE && !j->err[0]) {
        snprintf(j->err, sizeof(j->err), "%s", store_errmsg(j->snap));
    }
    j->over_budget = run.paused;
    j->corrupt = run.corrupt;
    /* A walk placed by the store's counts starts past matches it never met: they count too. */
    if (j->count_all) {
        j->total = run.placed + run.takes;
    }
    /* A worker's answer waits for the loop to collect it: its snapshot goes now, or writes
     * meanwhile could not reuse the pages it holds (it is renewed should the job run again). */
    if (j->rolling) {
        snap_let_go(&run);
    }
}

static int
parse_query(const coap_pdu_t *request, struct lookup_qparam *qp, size_t *nqp,
            struct lookup_query *q, coap_pdu_t *response)
{
    char diag[LOOKUP_DIAG_SIZE];
    size_t nq = 0;

    if (rd__query_params(request, qp, RD_QPARAM_MAX, &nq)) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, "too many query parameters");
        return RD_EINVAL;
    }
    if (lookup_query_parse(q, qp, nq, diag, sizeof(diag))) {
        rd__respond_error(response, COAP_RESPONSE_CODE_BAD_REQUEST, diag);
        return RD_EINVAL;
    }
    *nqp = nq;
    return RD_OK;
}

/* The remembered answer of the lookup, if any: it needs no walk. */
static int
remembered(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
           const struct lookup_qparam *qp, size_t nq, struct lookup_buf *buf)
{
    struct rd_lookup_key key;

    /* Nothing remembered survives a deadline passing: rd__lookup_notify() moves on first. */
    if (rd__now() >= srv->next_expiry || rd__lookup_key(kind, link, qp, nq, 1, &key)) {
        return RD_ENOTFOUND;
    }
    return rd__answer_find(srv, &key, buf);
}

int
rd__lookup_answer(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                  const struct lookup_qparam *qp, size_t nq, const struct lookup_query *q,
                  struct lookup_buf *buf)
{
    struct rd_lookup_job *j = NULL;
    int rc;

    (void)q;
    if (remembered(srv, kind, link, qp, nq, buf) == RD_OK) {
        return RD_OK;
    }
    rc = rd__lookup_job_new(srv, kind, link, qp, nq, &j);
    if (rc) {
        return rc;
    }
    /* Observers' re-runs of prefix lookups: whole, as before any budget. */
    j->budget_ms = 0;
    rd__lookup_compute(j);
    rd__lookup_job_finish(srv, j);
    rc = j->rc;
    if (!rc) {
        rc = lookup_buf_append(buf, j->buf.data ? j->buf.data : "", j->buf.len);
    }
    rd__lookup_job_free(j);
    return rc;
}

void
rd__lookup_partial_reset(struct rd_lookup_partial *p)
{
    lookup_buf_cleanup(&p->buf);
    memset(p, 0, sizeof(*p));
}

int
rd__lookup_answer_slice(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                        const struct lookup_qparam *qp, size_t nq, const struct lookup_query *q,
                        struct rd_lookup_partial *p, int64_t deadline_ms, int *done)
{
    struct rd_lookup_key answer_key;
    struct lookup_run run;
    char prefix[512];
    size_t len = 0;
    int64_t now = rd__now();
    int keyed = rd__lookup_key(kind, link, qp, nq, 1, &answer_key) == RD_OK;
    int indexed;
    int rc;

    *done = 0;
    if (!p->started) {
        lookup_buf_init(&p->buf, ANSWER_MAX);
        p->started = 1;
        p->gen = srv->lookup_gen;
        p->skip = q->has_count ? (uint64_t)q->page * q->count : 0;
        p->left = q->has_count ? q->count : UINT64_MAX;
        p->min_deadline = INT64_MAX;
        if (keyed && now < srv->next_expiry &&
            rd__answer_find(srv, &answer_key, &p->buf) == RD_OK) {
            /* Which deadlines it depends on is not known: the next one passing re-runs it. */
            p->min_deadline = 0;
            *done = 1;
            return RD_OK;
        }
    }
    indexed = (kind == LOOKUP_KIND_EP ? lookup_query_index_ep : lookup_query_index)(
                  q, prefix, sizeof(prefix), &len) == RD_OK;
    if ((indexed && prefix[len - 1] != '\0') || (q->has_count && q->count == 0)) {
        /* A prefix scan cannot resume (it may meet a registration twice): it runs whole, and it
         * reads only what the index names. */
        rd__lookup_partial_reset(p);
        lookup_buf_init(&p->buf, ANSWER_MAX);
        p->started = 1;
        p->min_deadline = 0;
        rc = rd__lookup_answer(srv, kind, link, qp, nq, q, &p->buf);
        *done = rc == RD_OK;
        return rc;
    }
    run_start(&run, srv->store, kind, link, q);
    run.out = &p->buf;
    run.skip = p->skip;
    run.left = p->left;
    run.written = p->written;
    run.deadline_ms = deadline_ms;
    run.min_deadline = p->min_deadline;
    if (indexed) {
        rc = store_term_foreach_after(srv->store, prefix, len, now, p->after, visit, &run);
    } else {
        rc = store_reg_foreach(srv->store, now, p->after, visit, &run);
    }
    if (rc == RD_ESTORE) {
        rd__log(srv, RD_LOG_ERROR, "lookup: %s", store_errmsg(srv->store));
    }
    if (run.corrupt) {
        rd__log(srv, RD_LOG_ERROR, "lookup: %u corrupt records left out", run.corrupt);
    }
    if (rc >= 0) {
        rc = run.rc;
    }
    if (rc) {
        return rc;
    }
    p->skip = run.skip;
    p->left = run.left;
    p->written = run.written;
    p->min_deadline = run.min_deadline;
    if (run.paused) {
        p->after = run.last_id;
        return RD_OK;
    }
    *done = 1;
    /* Only an answer computed without a change in between is one to remember. */
    if (keyed && p->gen == srv->lookup_gen && now < srv->next_expiry) {
        rd__answer_put(srv, &answer_key, &p->buf);
    }
    return RD_OK;
}

/* Answer a lookup with @p buf (taken), acting on its Observe option. */
static void
respond(struct rd_server *srv, enum lookup_kind kind, uint32_t link, const struct lookup_qparam *qp,
        size_t nq, coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
        const coap_string_t *query, coap_pdu_t *response, struct lookup_buf *buf)
{
    struct rd_observer *obs;

    /* RFC 7641 section 2: the Observe option of the request adds or removes this client. */
    obs = rd__observe_request(srv, kind, link, qp, nq, session, request,
                              rd__answer_etag(buf->data ? buf->data : "", buf->len));
    rd__respond_links(resource, session, request, query, response, buf);
    rd__observe_answered(srv, obs, response);
}

/* Answer a lookup from its computed job @p j (its answer is taken). */
static void
respond_job(struct rd_server *srv, struct rd_lookup_job *j, coap_resource_t *resource,
            coap_session_t *session, const coap_pdu_t *request, const coap_string_t *query,
            coap_pdu_t *response)
{
    struct lookup_buf buf;

    if (j->over_budget) {
        rd__lookup_job_refuse(response, "lookup over its work budget: narrow it or page it");
        return;
    }
    if (j->rc) {
        rd__respond_error(response, rd__status_to_coap(j->rc),
                          j->rc == RD_ETOOBIG ? "answer too large: use count and page" : NULL);
        return;
    }
    buf = j->buf;
    memset(&j->buf, 0, sizeof(j->buf));
    respond(srv, j->kind, j->link, j->qp, j->nq, resource, session, request, query, response, &buf);
}

static void
answer_lookup(enum lookup_kind kind, coap_resource_t *resource, coap_session_t *session,
              const coap_pdu_t *request, const coap_string_t *query, coap_pdu_t *response)
{
    struct rd_server *srv = coap_get_app_data(coap_session_get_context(session));
    struct lookup_qparam qp[RD_QPARAM_MAX];
    struct lookup_query q;
    struct lookup_buf buf;
    struct rd_lookup_job *j = rd__defer_resumed(srv, session, request);
    struct rd_lookup_job *back = NULL;
    int ifindex = coap_session_get_ifindex(session);
    uint32_t link = ifindex > 0 ? (uint32_t)ifindex : 0;
    size_t nq = 0;
    int rc;

    if (j) {
        /* The second call for a lookup computed on a worker: it passed every check before. */
        respond_job(srv, j, resource, session, request, query, response);
        return;
    }
    if (rd__auth_read(srv, session, response) ||
        rd__limits_admit(srv, session, request, response) || rd__check_accept(request, response) ||
        parse_query(request, qp, &nq, &q, response) ||
        rd__block2_continue(srv, session, request, response)) {
        return;
    }
    lookup_buf_init(&buf, ANSWER_MAX);
    if (remembered(srv, kind, link, qp, nq, &buf) == RD_OK) {
        respond(srv, kind, link, qp, nq, resource, session, request, query, response, &buf);
        return;
    }
    lookup_buf_cleanup(&buf);
    rc = rd__lookup_job_new(srv, kind, link, qp, nq, &j);
    if (rc) {
        rd__respond_error(response, rd__status_to_coap(rc), NULL);
        return;
    }
    if (rd__lookup_jobs_wanted(srv)) {
        /* First a short try on the loop (lookup_inline_ms): most indexed lookups end within it
         * and are answered piggybacked, which every client takes (libcoap 4.3.1's clients ask
         * for no later Block2 block of a separate response). */
        uint32_t budget = j->budget_ms;
        uint32_t inline_ms = srv->conf.lookup_inline_ms;

        j->budget_ms = budget && budget < inline_ms ? budget : inline_ms;
        if (inline_ms) {
            rd__lookup_compute(j);
        }
        if (inline_ms && (!j->over_budget || j->budget_ms == budget)) {
            rd__lookup_job_finish(srv, j);
            respond_job(srv, j, resource, session, request, query, response);
            rd__lookup_job_free(j);
            return;
        }
        /* The marks the try passed stay, so the worker's walk starts near its page. */
        if (inline_ms) {
            rd__lookup_job_finish(srv, j);
            rd__lookup_job_free(j);
            if (rd__lookup_job_new(srv, kind, link, qp, nq, &j)) {
                rd__respond_error(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, NULL);
                return;
            }
        } else {
            j->budget_ms = budget;
        }
        if (rd__lookup_job_defer(srv, j, session, request, response, &back) != RD_EINVAL) {
            return;
        }
        j = back;
    }
    rd__lookup_compute(j);
    rd__lookup_job_finish(srv, j);
    respond_job(srv, j, resource, session, request, query, response);
    rd__lookup_job_free(j);
}

static void
hnd_get_ep(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
           const coap_string_t *query, coap_pdu_t *response)
{
    answer_lookup(LOOKUP_KIND_EP, resource, session, request, query, response);
}

static void
hnd_get_res(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
            const coap_string_t *query, coap_pdu_t *response)
{
    answer_lookup(LOOKUP_KIND_RES, resource, session, request, query, response);
}

static coap_resource_t *
add_lookup_resource(struct rd_server *srv, const char *path, coap_method_handler_t handler,
                    enum rd_iface iface)
{
    coap_resource_t *r = coap_resource_init(coap_make_str_const(path), 0);

    if (!r) {
        return NULL;
    }
    rd__handler_add(srv, r, COAP_REQUEST_GET, handler, iface);
    /* Observable, but not through libcoap: it would notify every observer of the resource on
     * any change, whatever they asked for (rd_observe.c keeps the observers). */
    coap_resource_set_get_observable(r, 0);
    coap_add_resource(srv->ctx, r);
    return r;
}

int
rd__lookup_init(struct rd_server *srv)
{
    srv->lookup_ep = add_lookup_resource(srv, LOOKUP_EP_PATH, hnd_get_ep, RD_IF_LOOKUP_EP);
    srv->lookup_res = add_lookup_resource(srv, LOOKUP_RES_PATH, hnd_get_res, RD_IF_LOOKUP_RES);
    if (!srv->lookup_ep || !srv->lookup_res) {
        return RD_ENOMEM;
    }
    return rd__observe_init(srv);
}

void
rd__lookup_refreshed(struct rd_server *srv, int64_t expires_at)
{
    if (expires_at < srv->next_expiry) {
        srv->next_expiry = expires_at;
    }
}

void
rd__lookup_changed(struct rd_server *srv, int64_t expires_at)
{
    srv->lookup_gen++;
    rd__observe_changed(srv, NULL, NULL, 1);
    rd__lookup_refreshed(srv, expires_at);
}

/* A registration as lookups see it: hidden while expired. */
static const struct lookup_regview *
view_of(const struct rd_lookup_reg *r, int64_t now)
{
    return r->present && r->expires_at > now ? &r->view : NULL;
}

static int
load_cb(void *arg, const struct store_reg *reg)
{
    struct rd_lookup_reg *r = arg;

    if (lookup_reg_decode(&r->rec, reg->data, reg->data_len)) {
        return 0;
    }
    snprintf(r->ep, sizeof(r->ep), "%s", reg->ep);
    snprintf(r->d, sizeof(r->d), "%s", reg->d);
    rd__id_format(reg->id, r->id);
    snprintf(r->href, sizeof(r->href), "/rd/%s", r->id);
    r->expires_at = reg->expires_at;
    r->view.ep = r->ep;
    r->view.d = r->d;
    r->view.href = r->href;
    r->view.rec = &r->rec;
    r->present = 1;
    return 0;
}

int
rd__lookup_get(struct rd_server *srv, uint64_t id, int64_t now, struct rd_lookup_reg *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_reg_get(srv->store, id, now, 0, load_cb, out);
    return rc == RD_ENOTFOUND ? RD_OK : rc;
}

void
rd__lookup_before(struct rd_server *srv, uint64_t id, const char *ep, const char *d,
                  struct rd_lookup_reg *out)
{
    int64_t now = rd__now();

    memset(out, 0, sizeof(*out));
    /* Only observers need the registration as it was: a write nobody watches reads nothing. */
    if (!rd__observe_any(srv)) {
        return;
    }
    if (id) {
        (void)store_reg_get(srv->store, id, now, STORE_GET_EXPIRED, load_cb, out);
    } else {
        (void)store_reg_find(srv->store, d, ep, now, load_cb, out);
    }
}

void
rd__lookup_written(struct rd_server *srv, struct rd_lookup_reg *before, const char *ep,
                   const char *d, const struct lookup_reg *rec, uint64_t id, int64_t expires_at)
{
    struct rd_lookup_reg after;
    int64_t now = rd__now();

    srv->lookup_gen++;
    if (rd__observe_any(srv)) {
        memset(&after, 0, sizeof(after));
        if (rec) {
            snprintf(after.ep, sizeof(after.ep), "%s", ep);
            snprintf(after.d, sizeof(after.d), "%s", d ? d : "");
            rd__id_format(id, after.id);
            snprintf(after.href, sizeof(after.href), "/rd/%s", after.id);
            after.view.ep = after.ep;
            after.view.d = after.d;
            after.view.href = after.href;
            after.view.rec = rec;
            after.expires_at = expires_at;
            after.present = 1;
        }
        rd__observe_changed(srv, view_of(before, now), view_of(&after, now), 0);
    }
    rd__lookup_reg_cleanup(before);
    rd__lookup_refreshed(srv, expires_at);
}

void
rd__lookup_reg_cleanup(struct rd_lookup_reg *r)
{
    if (r->present) {
        lookup_reg_cleanup(&r->rec);
    }
    r->present = 0;
}

void
rd__lookup_notify(struct rd_server *srv, int64_t now, int64_t now_ms)
{
    /* A registration leaves every answer at its deadline without any request: that is a change
     * of the lookup results too, of unknown registrations. */
    if (now >= srv->next_expiry) {
        srv->lookup_gen++;
        rd__observe_expired(srv, now);
        if (store_next_deadline(srv->store, now + 1, &srv->next_expiry)) {
            srv->next_expiry = INT64_MAX;
        }
    }
    rd__observe_tick(srv, now_ms);
    if (!srv->lookup_dirty) {
        return;
    }
    /* Coalesce bursts: observers hear at most one notification per interval. A re-run under way
     * goes on at every turn of the loop, a slice at a time. */
    if (now_ms - srv->last_notify_ms >= RD_NOTIFY_INTERVAL_MS) {
        srv->last_notify_ms = now_ms;
        rd__observe_round(srv, now_ms, 1);
    } else if (rd__observe_busy(srv)) {
        rd__observe_round(srv, now_ms, 0);
    }
}
