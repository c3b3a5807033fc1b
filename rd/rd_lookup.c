/* GET rd-lookup/ep and rd-lookup/res (RFC 9176 section 6), observable (RFC 7641). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_internal.h"

#define LOOKUP_EP_PATH  "rd-lookup/ep"
#define LOOKUP_RES_PATH "rd-lookup/res"
/* More Uri-Query options than this in one lookup are refused. */
#define QPARAM_MAX 64
/* Largest lookup answer; Block2 carries it, paging keeps answers below it. */
#define ANSWER_MAX (16 * 1024 * 1024)

enum lookup_kind {
    KIND_EP,
    KIND_RES,
};

/* A set of registration ids, to hand each registration over once during a prefix scan. */
struct id_set {
    uint64_t *slots; /* 0 is free: store ids are never 0 */
    size_t cap;
    size_t n;
};

/* One lookup in progress. */
struct lookup_run {
    struct rd_server *srv;
    const struct lookup_query *q;
    enum lookup_kind kind;
    struct lookup_buf *out;
    uint64_t skip;       /* matches still to pass over before the page starts */
    uint64_t left;       /* matches still to write; UINT64_MAX without count */
    size_t written;      /* links written */
    struct id_set *seen; /* NULL when the scan hands each registration over once */
    int rc;
    /* Page marks (rd_pages.c), when the walk can resume and the query has a count. */
    int marking;
    const struct rd_lookup_key *key; /* the lookup without its page */
    uint64_t matched;                /* index of the next match among all matches of the lookup */
    uint64_t first;   /* index of the first match in the registration being visited */
    uint64_t prev_id; /* the registration visited before the current one; 0: none */
    uint32_t link;    /* the client's interface: registrations scoped to another stay hidden */
};

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

/* Remember that the page beginning with match @p index starts in the current registration. */
static void
mark(struct lookup_run *run, uint64_t index)
{
    struct rd_page_mark m = { run->prev_id, index - run->first };

    if (index / run->q->count <= UINT32_MAX) {
        rd__pages_put(run->srv, run->key, (uint32_t)(index / run->q->count), &m);
    }
}

/* Count a match against the page; 1 when it belongs on the page. */
static int
take(struct lookup_run *run)
{
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

static int
visit_links(struct lookup_run *run, const struct lookup_regview *view)
{
    int rc = RD_OK;

    if (run->kind == KIND_EP) {
        if (lookup_match_ep(run->q, view) && take(run)) {
            rc = separate(run);
            if (!rc) {
                rc = lookup_format_ep(view, run->out);
            }
        }
        return rc;
    }
    for (size_t i = 0; i < view->rec->nlinks && !rc && run->left; i++) {
        if (lookup_match_res(run->q, view, i) && take(run)) {
            rc = separate(run);
            if (!rc) {
                rc = lookup_format_res(view, i, run->out);
            }
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
    int rc;

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
        rd__log(run->srv, RD_LOG_ERROR, "registration ep=%s d=%s: corrupt record", reg->ep, reg->d);
        return 0;
    }
    /* RFC 9176 section 6.1: a link-local base means nothing to a client on another link. */
    if (rec.scope && rec.scope != run->link) {
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
    rc = visit_links(run, &view);
    run->prev_id = reg->id;
    lookup_reg_cleanup(&rec);
    if (rc) {
        run->rc = rc;
        return 1;
    }
    return run->left == 0;
}

/* Start at the remembered beginning of the page when there is one, else where the store's
 * counts place it (@p term as walked; length 0 for every registration). */
static uint64_t
resume_point(struct lookup_run *run, int64_t now, const char *term, size_t term_len)
{
    struct rd_page_mark m;
    uint64_t skip = 0;

    run->marking = run->key && run->q->has_count && now < run->srv->next_expiry;
    if (run->q->page == 0) {
        return 0;
    }
    if (!run->marking || rd__pages_find(run->srv, run->key, run->q->page, &m)) {
        /* No mark: the store's counts place the page, or the walk starts from the first. */
        if (rd__rank_seek(run->srv, run->kind == KIND_RES, run->q, term, term_len, now, &m.after,
                          &skip)) {
            return 0;
        }
        m.inner = skip;
    }
    run->skip = m.inner;
    run->matched = (uint64_t)run->q->page * run->q->count - m.inner;
    /* The marks this walk writes name the registration before theirs: the first one visited
     * follows m.after, not the start. */
    run->prev_id = m.after;
    return m.after;
}

/* Answer the query from the index when one of its criteria allows, else by a scan in age
 * order that stops as soon as the page is full. */
static int
run_lookup(struct lookup_run *run, int64_t now)
{
    char prefix[512];
    size_t len = 0;
    struct id_set seen = { NULL, 0, 0 };
    uint64_t after;
    int indexed;
    int rc;

    if (run->q->has_count && run->q->count == 0) {
        return RD_OK;
    }
    indexed = (run->kind == KIND_EP ? lookup_query_index_ep : lookup_query_index)(
                  run->q, prefix, sizeof(prefix), &len) == RD_OK;
    if (indexed && prefix[len - 1] != '\0') {
        /* A prefix may name a registration several times: no resuming in the middle. */
        run->seen = &seen;
        rc = store_term_foreach(run->srv->store, prefix, len, now, visit, run);
    } else if (indexed) {
        after = resume_point(run, now, prefix, len);
        rc = store_term_foreach_after(run->srv->store, prefix, len, now, after, visit, run);
    } else {
        after = resume_point(run, now, NULL, 0);
        rc = store_reg_foreach(run->srv->store, now, after, visit, run);
    }
    free(seen.slots);
    if (rc == RD_ESTORE) {
        rd__log(run->srv, RD_LOG_ERROR, "lookup: %s", store_errmsg(run->srv->store));
    }
    if (rc < 0) {
        return rc;
    }
    return run->rc;
}

static int
parse_query(const coap_pdu_t *request, struct lookup_qparam *qp, size_t *nqp,
            struct lookup_query *q, coap_pdu_t *response)
{
    char diag[LOOKUP_DIAG_SIZE];
    size_t nq = 0;

    if (rd__query_params(request, qp, QPARAM_MAX, &nq)) {
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

static void
answer_lookup(enum lookup_kind kind, coap_resource_t *resource, coap_session_t *session,
              const coap_pdu_t *request, const coap_string_t *query, coap_pdu_t *response)
{
    struct rd_server *srv = coap_get_app_data(coap_session_get_context(session));
    struct lookup_qparam qp[QPARAM_MAX];
    struct lookup_query q;
    struct lookup_buf buf;
    struct lookup_run run;
    struct rd_lookup_key pages_key;
    struct rd_lookup_key answer_key;
    int64_t now = rd__now();
    int ifindex = coap_session_get_ifindex(session);
    uint32_t link = ifindex > 0 ? (uint32_t)ifindex : 0;
    int keep;
    size_t nq = 0;
    int rc;

    if (rd__auth_read(srv, session, response) ||
        rd__limits_admit(srv, session, request, response) || rd__check_accept(request, response) ||
        parse_query(request, qp, &nq, &q, response)) {
        return;
    }
    lookup_buf_init(&buf, ANSWER_MAX);
    /* Nothing remembered survives a deadline passing: rd__lookup_notify() moves on first. */
    keep = now < srv->next_expiry;
    if (keep && rd__lookup_key(kind, link, qp, nq, 1, &answer_key) == RD_OK) {
        if (rd__answer_find(srv, &answer_key, &buf) == RD_OK) {
            rd__respond_links(resource, session, request, query, response, &buf);
            return;
        }
    } else {
        keep = 0;
    }
    memset(&run, 0, sizeof(run));
    run.srv = srv;
    run.q = &q;
    run.kind = kind;
    run.link = link;
    run.out = &buf;
    run.skip = q.has_count ? (uint64_t)q.page * q.count : 0;
    run.left = q.has_count ? q.count : UINT64_MAX;
    if (keep && rd__lookup_key(kind, link, qp, nq, 0, &pages_key) == RD_OK) {
        run.key = &pages_key;
    }
    rc = run_lookup(&run, now);
    if (rc) {
        lookup_buf_cleanup(&buf);
        rd__respond_error(response, rd__status_to_coap(rc),
                          rc == RD_ETOOBIG ? "answer too large: use count and page" : NULL);
        return;
    }
    if (keep) {
        rd__answer_put(srv, &answer_key, &buf);
    }
    rd__respond_links(resource, session, request, query, response, &buf);
}

static void
hnd_get_ep(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
           const coap_string_t *query, coap_pdu_t *response)
{
    answer_lookup(KIND_EP, resource, session, request, query, response);
}

static void
hnd_get_res(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
            const coap_string_t *query, coap_pdu_t *response)
{
    answer_lookup(KIND_RES, resource, session, request, query, response);
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
    coap_resource_set_get_observable(r, 1);
    coap_add_resource(srv->ctx, r);
    return r;
}

int
rd__lookup_init(struct rd_server *srv)
{
    srv->lookup_ep = add_lookup_resource(srv, LOOKUP_EP_PATH, hnd_get_ep, RD_IF_LOOKUP_EP);
    srv->lookup_res = add_lookup_resource(srv, LOOKUP_RES_PATH, hnd_get_res, RD_IF_LOOKUP_RES);
    return (srv->lookup_ep && srv->lookup_res) ? RD_OK : RD_ENOMEM;
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
    srv->lookup_dirty = 1;
    srv->lookup_gen++;
    rd__lookup_refreshed(srv, expires_at);
}

void
rd__lookup_notify(struct rd_server *srv, int64_t now, int64_t now_ms)
{
    /* A registration leaves every answer at its deadline without any request: that is a change
     * of the lookup results too. */
    if (now >= srv->next_expiry) {
        srv->lookup_dirty = 1;
        srv->lookup_gen++;
        if (store_next_deadline(srv->store, now + 1, &srv->next_expiry)) {
            srv->next_expiry = INT64_MAX;
        }
    }
    /* Coalesce bursts: observers hear at most one notification per interval. */
    if (!srv->lookup_dirty || now_ms - srv->last_notify_ms < RD_NOTIFY_INTERVAL_MS) {
        return;
    }
    srv->lookup_dirty = 0;
    srv->last_notify_ms = now_ms;
    coap_resource_notify_observers(srv->lookup_ep, NULL);
    coap_resource_notify_observers(srv->lookup_res, NULL);
}
