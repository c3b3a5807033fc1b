/* Observers of rd-lookup/ep and rd-lookup/res (RFC 7641; RFC 9176 section 6): each observer is
 * told when its own answer changed, and a write costs only the lookups it can change.
 *
 * libcoap 4.3.1 re-runs the handler for every observer of a resource whenever the resource is
 * marked dirty, whatever each one asked for. So the lookup resources are not observable to
 * libcoap; observers live here instead. Observers asking the same lookup (kind, link and query)
 * share one entry, which keeps the parsed query. A write hands the registration as it was and
 * as it is (rd__observe_changed()), and lookup_change_affects() marks only the lookups it can
 * change; a round re-runs the marked ones, oldest mark first, within a budget, and sends a
 * notification to each observer whose answer's ETag is not the one it was last sent.
 *
 * Notifications are non-confirmable, with a confirmable one after every few (section 4.5): a
 * confirmable notification that gets a Reset or times out drops its observer, and so does a
 * Reset to a recent non-confirmable one (section 3.6), which libcoap 4.3.1 reports to no one:
 * the datagram gate hands it to rd__observe_reset(), and an answer carries Observe only once it
 * is known to be a success (rd__observe_option(), from the block layer). libcoap tells no
 * one when an ACK arrives, so a confirmable notification counts as pending for the longest time
 * it can take (MAX_TRANSMIT_WAIT), and none follows it meanwhile. An observer whose answer does
 * not change would never be asked, and a client gone would hold its place (and its share of
 * observe_max_per_source) for ever: every CHECK_MS without a confirmable notification, its
 * current answer goes to it again as a confirmable one. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat/rd_gate.h"
#include "lookup.h"
#include "rd_block.h"
#include "rd_conf.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_lookup.h"
#include "rd_observe.h"
#include "rd_pages.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"

/* Non-confirmable notifications between two confirmable ones (libcoap's own choice too). */
#define NON_MAX 4
/* RFC 7252 section 4.8.2 MAX_TRANSMIT_WAIT with the default transmission parameters. */
#define CON_WAIT_MS 93000
/* Each round re-runs at most this many lookups, in slices of at most SLICE_MS: a lookup that
 * scans stops at the end of its slice and goes on in the next. A round takes one slice, or
 * more while no request waits, up to IDLE_MS. */
#define ROUND_QUERIES 16
#define SLICE_MS      5
#define IDLE_MS       50
/* An observer is sent a confirmable notification at least this often, changed or not (RFC 7641
 * section 4.5 allows it, to learn whether the client is still there). */
#define CHECK_MS (300 * 1000)
/* How often observers are looked at for that. */
#define CHECK_EVERY_MS 1000
/* Largest answer a notification carries (as for a GET: Block2 takes it). */
#define ANSWER_MAX (16 * 1024 * 1024)
/* Message IDs of the latest non-confirmable notifications kept per observer, to know a Reset
 * to one of them (twice the run between two confirmable ones, for a late Reset). */
#define NON_MIDS (2 * NON_MAX)
/* Longest Observe value (RFC 7641 section 3.4: 24 bits). */
#define SEQ_MASK 0xffffffu

/* One observed lookup, shared by every observer asking it. */
struct obs_query {
    struct obs_query *next;       /* all queries */
    struct obs_query *next_dirty; /* the queue of marked queries */
    struct rd_observer *observers;
    size_t nobservers;
    int marked;
    enum lookup_kind kind;
    uint32_t link;
    struct rd_lookup_key key;
    char *text; /* the Uri-Query options, copied; qp and q point into it */
    struct lookup_qparam qp[RD_QPARAM_MAX];
    size_t nq;
    struct lookup_query q;
    struct rd_lookup_partial partial; /* its re-run, when one is under way */
    int64_t min_deadline; /* of the registrations its last answer matched; 0: not known */
};

struct rd_observer {
    struct rd_observer *next; /* of the same query */
    struct obs_query *query;
    coap_session_t *session; /* referenced */
    coap_pdu_t *request;     /* a copy of the registering GET, owned */
    uint8_t addr[16];        /* the source address, per-source limit */
    uint64_t etag;           /* of the last answer it was sent */
    unsigned non_count;      /* non-confirmable notifications since the last confirmable one */
    int64_t con_until_ms;    /* a confirmable notification may be pending until then */
    int64_t con_ms;          /* when it last showed it is there: registered, or a CON sent */
    int answered;            /* the first answer went out */
    int gone;                /* dropped during a round: freed at its end */

    /* Message IDs of its latest non-confirmable notifications, a ring, and how many it was sent
     * in all: a Reset to one of them ends the observation. */
    uint16_t non_mid[NON_MIDS];
    unsigned non_sent;
};

struct rd_observe {
    struct obs_query *queries;
    struct obs_query *dirty_head;
    struct obs_query *dirty_tail;
    struct obs_query *current; /* re-run in slices, across rounds */
    int in_round;              /* observers are being walked: drop, do not free */
    int any_gone;
    size_t nqueries;
    size_t nobservers;
    uint32_t seq;
    int64_t next_check_ms;
    /* Metrics. */
    uint64_t refused;
    uint64_t dropped;
    uint64_t reevaluations;
    uint64_t reevaluation_us;
    uint64_t notifications;
    uint64_t unchanged;
    uint64_t carried;
};

int
rd__observe_init(struct rd_server *srv)
{
    srv->observe = calloc(1, sizeof(*srv->observe));
    return srv->observe ? RD_OK : RD_ENOMEM;
}

int
rd__observe_any(const struct rd_server *srv)
{
    return srv->observe && srv->observe->nobservers > 0;
}

static void
query_free(struct rd_observe *ob, struct obs_query *oq)
{
    struct obs_query **pp;

    for (pp = &ob->queries; *pp; pp = &(*pp)->next) {
        if (*pp == oq) {
            *pp = oq->next;
            break;
        }
    }
    if (oq->marked) {
        struct obs_query *prev = NULL;

        for (struct obs_query *d = ob->dirty_head; d; prev = d, d = d->next_dirty) {
            if (d != oq) {
                continue;
            }
            if (prev) {
                prev->next_dirty = d->next_dirty;
            } else {
                ob->dirty_head = d->next_dirty;
            }
            if (ob->dirty_tail == d) {
                ob->dirty_tail = prev;
            }
            break;
        }
    }
    if (ob->current == oq) {
        ob->current = NULL;
    }
    ob->nqueries--;
    rd__lookup_partial_reset(&oq->partial);
    free(oq->text);
    free(oq);
}

static void
observer_free(struct rd_server *srv, struct rd_observer *o)
{
    struct rd_observe *ob = srv->observe;
    struct obs_query *oq = o->query;
    struct rd_observer **pp;

    for (pp = &oq->observers; *pp; pp = &(*pp)->next) {
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    }
    oq->nobservers--;
    ob->nobservers--;
    coap_delete_pdu(o->request);
    coap_session_release(o->session);
    free(o);
    if (oq->nobservers == 0) {
        query_free(ob, oq);
    }
}

void
rd__observe_cleanup(struct rd_server *srv)
{
    if (!srv->observe) {
        return;
    }
    while (srv->observe->queries) {
        struct obs_query *oq = srv->observe->queries;

        /* The last observer of a query frees the query. */
        while (oq->nobservers > 1) {
            observer_free(srv, oq->observers);
        }
        observer_free(srv, oq->observers);
    }
    free(srv->observe);
    srv->observe = NULL;
}

static int
same_token(const coap_pdu_t *a, coap_bin_const_t t)
{
    coap_bin_const_t u = coap_pdu_get_token(a);

    return u.length == t.length && (t.length == 0 || memcmp(u.s, t.s, t.length) == 0);
}

static struct rd_observer *
find_observer(struct rd_observe *ob, const coap_session_t *session, coap_bin_const_t token)
{
    for (struct obs_query *oq = ob->queries; oq; oq = oq->next) {
        for (struct rd_observer *o = oq->observers; o; o = o->next) {
            if (!o->gone && o->session == session && same_token(o->request, token)) {
                return o;
            }
        }
    }
    return NULL;
}

static size_t
count_source(const struct rd_observe *ob, const uint8_t addr[16])
{
    size_t n = 0;

    for (const struct obs_query *oq = ob->queries; oq; oq = oq->next) {
        for (const struct rd_observer *o = oq->observers; o; o = o->next) {
            n += memcmp(o->addr, addr, 16) == 0;
        }
    }
    return n;
}

/* The entry of a lookup, made on its first observer: the query is copied out of the request. */
static struct obs_query *
query_get(struct rd_observe *ob, enum lookup_kind kind, uint32_t link,
          const struct lookup_qparam *qp, size_t nq)
{
    struct rd_lookup_key key;
    struct obs_query *oq;
    size_t len = 0;
    char *p;

    if (rd__lookup_key(kind, link, qp, nq, 1, &key)) {
        return NULL;
    }
    for (oq = ob->queries; oq; oq = oq->next) {
        if (oq->key.len == key.len && memcmp(oq->key.text, key.text, key.len) == 0) {
            return oq;
        }
    }
    for (size_t i = 0; i < nq; i++) {
        len += qp[i].key_len + qp[i].value_len + 1;
    }
    oq = calloc(1, sizeof(*oq));
    if (!oq) {
        return NULL;
    }
    oq->text = malloc(len + 1);
    if (!oq->text) {
        free(oq);
        return NULL;
    }
    p = oq->text;
    for (size_t i = 0; i < nq; i++) {
        oq->qp[i] = qp[i];
        memcpy(p, qp[i].key, qp[i].key_len);
        oq->qp[i].key = p;
        p += qp[i].key_len;
        if (qp[i].value) {
            memcpy(p, qp[i].value, qp[i].value_len);
            oq->qp[i].value = p;
            p += qp[i].value_len;
        }
    }
    oq->nq = nq;
    /* The same options parsed before: the copy parses the same way. */
    if (lookup_query_parse(&oq->q, oq->qp, oq->nq, NULL, 0)) {
        free(oq->text);
        free(oq);
        return NULL;
    }
    oq->kind = kind;
    oq->link = link;
    oq->key = key;
    oq->next = ob->queries;
    ob->queries = oq;
    ob->nqueries++;
    return oq;
}

void
rd__observe_option(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
                   coap_pdu_t *response)
{
    struct rd_observe *ob = srv->observe;
    unsigned action;
    uint8_t buf[4];

    /* A later block asked for with Observe finds the observer its first block made: the block
     * says the observation goes on, as the client takes the last block's options for the whole
     * answer. */
    if (!ob || COAP_RESPONSE_CLASS(coap_pdu_get_code(response)) != 2 ||
        !rd__option_uint(request, COAP_OPTION_OBSERVE, &action) ||
        action != COAP_OBSERVE_ESTABLISH ||
        !find_observer(ob, session, coap_pdu_get_token(request))) {
        return;
    }
    ob->seq = (ob->seq + 1) & SEQ_MASK;
    coap_add_option(response, COAP_OPTION_OBSERVE, coap_encode_var_safe(buf, sizeof(buf), ob->seq),
                    buf);
}

struct rd_observer *
rd__observe_request(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                    const struct lookup_qparam *qp, size_t nq, coap_session_t *session,
                    const coap_pdu_t *request, uint64_t etag)
{
    struct rd_observe *ob = srv->observe;
    coap_bin_const_t token = coap_pdu_get_token(request);
    const coap_address_t *remote = coap_session_get_addr_remote(session);
    struct rd_observer *o;
    struct obs_query *oq;
    coap_block_b_t block;
    uint8_t addr[16];
    uint16_t port;
    unsigned action;

    if (!rd__option_uint(request, COAP_OPTION_OBSERVE, &action)) {
        return NULL;
    }
    if (coap_get_block_b(session, request, COAP_OPTION_BLOCK2, &block) && block.num != 0) {
        /* A later block asked for with Observe (node-coap asks so, RFC 7959 section 2.6 has a
         * plain GET): the observation its first block made goes on (rd__observe_option()). */
        return NULL;
    }
    /* Registering again with the same token replaces the entry (RFC 7641 section 4.1), and
     * deregistering removes it (section 3.6). */
    o = find_observer(ob, session, token);
    if (o) {
        observer_free(srv, o);
    }
    if (action != COAP_OBSERVE_ESTABLISH || rd__sockaddr_key(&remote->addr.sa, addr, &port)) {
        return NULL;
    }
    if (ob->nobservers >= srv->conf.observe_max ||
        count_source(ob, addr) >= srv->conf.observe_max_per_source) {
        char from[RD_BASE_SIZE];

        /* Section 4.1: the request is served as a plain GET, without Observe. */
        ob->refused++;
        if (rd__base_from_session(session, from, sizeof(from))) {
            snprintf(from, sizeof(from), "?");
        }
        rd__log(srv, RD_LOG_INFO, "observe refused for %s: %s", from,
                ob->nobservers >= srv->conf.observe_max ? "observe_max reached"
                                                        : "observe_max_per_source reached");
        return NULL;
    }
    oq = query_get(ob, kind, link, qp, nq);
    o = oq ? calloc(1, sizeof(*o)) : NULL;
    if (o) {
        coap_opt_filter_t drop;

        /* Kept without Block2: a client that registers with a later block's request (node-coap
         * repeats Observe for each block) is notified from the first block on (RFC 7959
         * section 2.6). */
        coap_option_filter_clear(&drop);
        coap_option_filter_set(&drop, COAP_OPTION_BLOCK2);
        o->request = coap_pdu_duplicate(request, session, token.length, token.s, &drop);
    }
    if (!o || !o->request) {
        free(o);
        if (oq && oq->nobservers == 0) {
            query_free(ob, oq);
        }
        return NULL;
    }
    o->session = coap_session_reference(session);
    o->con_ms = rd__now_ms();
    memcpy(o->addr, addr, sizeof(addr));
    o->etag = etag;
    o->query = oq;
    o->next = oq->observers;
    oq->observers = o;
    oq->nobservers++;
    ob->nobservers++;
    return o;
}

void
rd__observe_answered(struct rd_server *srv, struct rd_observer *obs, const coap_pdu_t *response)
{
    if (!obs) {
        return;
    }
    /* An error ends the observation (RFC 7641 section 4.2). */
    if (COAP_RESPONSE_CLASS(coap_pdu_get_code(response)) != 2) {
        observer_free(srv, obs);
        return;
    }
    obs->answered = 1;
}

static void
mark(struct rd_server *srv, struct obs_query *oq)
{
    struct rd_observe *ob = srv->observe;

    if (oq->marked) {
        return;
    }
    oq->marked = 1;
    oq->next_dirty = NULL;
    if (ob->dirty_tail) {
        ob->dirty_tail->next_dirty = oq;
    } else {
        ob->dirty_head = oq;
    }
    ob->dirty_tail = oq;
    srv->lookup_dirty = 1;
}

/* 1 when @p v is visible to a client on @p link: a link-local registration only on its own. */
static const struct lookup_regview *
visible(const struct lookup_regview *v, uint32_t link)
{
    return v && (!v->rec->scope || v->rec->scope == link) ? v : NULL;
}

void
rd__observe_changed(struct rd_server *srv, const struct lookup_regview *before,
                    const struct lookup_regview *after, int unknown)
{
    if (!rd__observe_any(srv)) {
        return;
    }
    for (struct obs_query *oq = srv->observe->queries; oq; oq = oq->next) {
        if (oq->marked) {
            continue;
        }
        if (unknown || lookup_change_affects(&oq->q, oq->kind, visible(before, oq->link),
                                             visible(after, oq->link))) {
            mark(srv, oq);
        }
    }
}

void
rd__observe_expired(struct rd_server *srv, int64_t now)
{
    if (!rd__observe_any(srv)) {
        return;
    }
    /* Only a lookup that showed (or counted, for its page) a registration now past its deadline
     * has a new answer. */
    for (struct obs_query *oq = srv->observe->queries; oq; oq = oq->next) {
        if (oq->min_deadline <= now) {
            mark(srv, oq);
        }
    }
}

static struct obs_query *
pop_marked(struct rd_observe *ob)
{
    struct obs_query *oq = ob->dirty_head;

    if (oq) {
        ob->dirty_head = oq->next_dirty;
        if (!ob->dirty_head) {
            ob->dirty_tail = NULL;
        }
        oq->next_dirty = NULL;
        oq->marked = 0;
    }
    return oq;
}

/* Send one notification to @p o: @p answer (taken) when @p rc is RD_OK, else the error. 1 when
 * the observation goes on. */
static int
check_due(const struct rd_observer *o, int64_t now_ms)
{
    return now_ms - o->con_ms >= CHECK_MS && now_ms >= o->con_until_ms;
}

static int
notify(struct rd_server *srv, struct rd_observer *o, int rc, struct lookup_buf *answer,
       uint64_t etag, int64_t now_ms)
{
    coap_resource_t *resource = o->query->kind == LOOKUP_KIND_EP ? srv->lookup_ep : srv->lookup_res;
    coap_bin_const_t token = coap_pdu_get_token(o->request);
    int con = (o->non_count >= NON_MAX || check_due(o, now_ms)) && now_ms >= o->con_until_ms;
    coap_string_t *query;
    coap_pdu_t *pdu;
    coap_mid_t mid;
    int sent_non;
    int go_on;

    pdu = coap_pdu_init(con ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, COAP_RESPONSE_CODE_CONTENT,
                        coap_new_message_id(o->session), coap_session_max_pdu_size(o->session));
    if (!pdu || !coap_add_token(pdu, token.length, token.s)) {
        coap_delete_pdu(pdu);
        lookup_buf_cleanup(answer);
        return 1; /* the next change tries again: the ETag it was sent is still the old one */
    }
    if (rc) {
        lookup_buf_cleanup(answer);
        rd__respond_error(pdu, rd__status_to_coap(rc),
                          rc == RD_ETOOBIG ? "answer too large: use count and page" : NULL);
    } else {
        query = coap_get_query(o->request);
        rd__respond_links(resource, o->session, o->request, query, pdu, answer);
        coap_delete_string(query);
    }
    go_on = COAP_RESPONSE_CLASS(coap_pdu_get_code(pdu)) == 2;
    /* The amplification limit may have made it confirmable; coap_send() takes the PDU. */
    sent_non = coap_pdu_get_type(pdu) == COAP_MESSAGE_NON;
    /* A session that can no longer send (a DTLS session the peer closed) ends the
     * observation: nothing would ever tell otherwise. */
    mid = coap_send(o->session, pdu);
    if (mid == COAP_INVALID_MID) {
        return 0;
    }
    if (sent_non) {
        o->non_mid[o->non_sent++ % NON_MIDS] = (uint16_t)mid;
    }
    o->etag = etag;
    srv->observe->notifications++;
    if (con) {
        o->non_count = 0;
        o->con_until_ms = now_ms + CON_WAIT_MS;
        o->con_ms = now_ms;
    } else {
        o->non_count++;
    }
    return go_on;
}

/* Re-run one marked lookup, up to @p deadline_ms, and when its answer is complete notify those
 * of its observers whose answer changed. 1 when done (the query may be gone), 0 when paused. */
static int
reevaluate(struct rd_server *srv, struct obs_query *oq, int64_t now_ms, int64_t deadline_ms)
{
    struct rd_observe *ob = srv->observe;
    struct lookup_buf answer;
    struct lookup_buf copy;
    struct rd_observer *next;
    uint64_t etag = 0;
    int64_t t0 = rd__now_ms();
    int done = 0;
    int rc;

    rc = rd__lookup_answer_slice(srv, oq->kind, oq->link, oq->qp, oq->nq, &oq->q, &oq->partial,
                                 deadline_ms, &done);
    ob->reevaluation_us += (uint64_t)(rd__now_ms() - t0) * 1000;
    if (!rc && !done) {
        return 0;
    }
    answer = oq->partial.buf;
    oq->min_deadline = rc ? 0 : oq->partial.min_deadline;
    memset(&oq->partial.buf, 0, sizeof(oq->partial.buf));
    rd__lookup_partial_reset(&oq->partial);
    if (!rc) {
        etag = rd__answer_etag(answer.data ? answer.data : "", answer.len);
    }
    ob->reevaluations++;
    /* The query goes with its last observer: nothing after the loop may use it. */
    for (struct rd_observer *o = oq->observers; o; o = next) {
        next = o->next;
        if (o->gone) {
            continue;
        }
        if (!rc && o->etag == etag && !check_due(o, now_ms)) {
            ob->unchanged++;
            continue;
        }
        lookup_buf_init(&copy, ANSWER_MAX);
        if (!rc && lookup_buf_append(&copy, answer.data ? answer.data : "", answer.len)) {
            lookup_buf_cleanup(&copy);
            continue;
        }
        if (!notify(srv, o, rc, &copy, etag, now_ms)) {
            ob->dropped++;
            o->gone = 1;
            ob->any_gone = 1;
        }
    }
    lookup_buf_cleanup(&answer);
    return 1;
}

void
rd__observe_tick(struct rd_server *srv, int64_t now_ms)
{
    struct rd_observe *ob = srv->observe;

    if (!ob || now_ms < ob->next_check_ms) {
        return;
    }
    ob->next_check_ms = now_ms + CHECK_EVERY_MS;
    for (struct obs_query *oq = ob->queries; oq; oq = oq->next) {
        for (struct rd_observer *o = oq->observers; o && !oq->marked; o = o->next) {
            if (check_due(o, now_ms)) {
                mark(srv, oq);
            }
        }
    }
}

/* Free the observers marked gone (a query goes with its last observer). */
static void
release_gone(struct rd_server *srv)
{
    struct rd_observe *ob = srv->observe;
    struct obs_query *next_q;
    struct rd_observer *next;

    if (!ob->any_gone) {
        return;
    }
    ob->any_gone = 0;
    for (struct obs_query *oq = ob->queries; oq; oq = next_q) {
        /* Taken before: freeing the last observer frees the query. */
        next_q = oq->next;
        for (struct rd_observer *o = oq->observers; o; o = next) {
            next = o->next;
            if (o->gone) {
                observer_free(srv, o);
            }
        }
    }
}

/* 1 when a datagram waits on a plain CoAP socket (or when that cannot be known). */
static int
input_waiting(const struct rd_server *srv)
{
    return rd__gate_sockets(srv) == 0 || rd__gate_pending(srv);
}

int
rd__observe_busy(const struct rd_server *srv)
{
    return srv->observe && srv->observe->current;
}

void
rd__observe_round(struct rd_server *srv, int64_t now_ms, int fresh)
{
    struct rd_observe *ob = srv->observe;
    int64_t start = rd__now_ms();
    int64_t deadline = start + SLICE_MS;
    struct obs_query *oq;
    size_t n = 0;

    srv->lookup_dirty = 0;
    if (!ob) {
        return;
    }
    /* libcoap may report a failed message from inside coap_send(): rd__observe_nack() then
     * only marks the observer, and it is freed after the walk. */
    ob->in_round = 1;
    /* A lookup that scans is re-run in slices: the one under way goes first. A change meanwhile
     * marks it again, and it runs once more after this run. New re-runs start only in a fresh
     * round, so an observer hears at most one notification per interval. */
    while (n < ROUND_QUERIES) {
        if (rd__now_ms() >= deadline) {
            if (rd__now_ms() - start >= IDLE_MS || input_waiting(srv)) {
                break;
            }
            deadline = rd__now_ms() + SLICE_MS;
        }
        oq = ob->current ? ob->current : fresh ? pop_marked(ob) : NULL;
        if (!oq) {
            break;
        }
        ob->current = oq;
        if (!reevaluate(srv, oq, now_ms, deadline)) {
            continue;
        }
        ob->current = NULL;
        n++;
    }
    ob->in_round = 0;
    release_gone(srv);
    /* What the budget left waits for the next round. */
    if (ob->current || ob->dirty_head) {
        ob->carried++;
        srv->lookup_dirty = 1;
    }
}

void
rd__observe_nack(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *sent,
                 coap_nack_reason_t reason)
{
    struct rd_observer *o;

    (void)reason;
    if (!srv->observe || !sent || COAP_RESPONSE_CLASS(coap_pdu_get_code(sent)) != 2) {
        return;
    }
    /* A Reset or a timeout of a confirmable notification: the client is gone (RFC 7641
     * sections 3.6 and 4.5). */
    o = find_observer(srv->observe, session, coap_pdu_get_token(sent));
    if (o) {
        srv->observe->dropped++;
        o->gone = 1;
        srv->observe->any_gone = 1;
        if (!srv->observe->in_round) {
            release_gone(srv);
        }
    }
}

/* Did @p o's latest non-confirmable notifications include message ID @p mid? */
static int
sent_non_mid(const struct rd_observer *o, uint16_t mid)
{
    unsigned n = o->non_sent < NON_MIDS ? o->non_sent : NON_MIDS;

    for (unsigned i = 0; i < n; i++) {
        if (o->non_mid[i] == mid) {
            return 1;
        }
    }
    return 0;
}

int
rd__observe_reset(struct rd_server *srv, coap_proto_t proto, const struct sockaddr *peer,
                  socklen_t peer_len, uint16_t mid)
{
    struct rd_observe *ob = srv->observe;
    coap_address_t from;

    if (!ob || peer_len > sizeof(from.addr)) {
        return 0;
    }
    coap_address_init(&from);
    memcpy(&from.addr, peer, peer_len);
    from.size = peer_len;
    for (struct obs_query *oq = ob->queries; oq; oq = oq->next) {
        for (struct rd_observer *o = oq->observers; o; o = o->next) {
            /* Message IDs are per endpoint pair (RFC 7252 section 4.4): the transport and the
             * peer's address and port name the session. */
            if (o->gone || coap_session_get_proto(o->session) != proto ||
                !coap_address_equals(coap_session_get_addr_remote(o->session), &from) ||
                !sent_non_mid(o, mid)) {
                continue;
            }
            ob->dropped++;
            o->gone = 1;
            ob->any_gone = 1;
            if (!ob->in_round) {
                release_gone(srv);
            }
            return 1;
        }
    }
    return 0;
}

static int
cmp_addr(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* The most observers one address has: sorted, so a scrape costs n log n, not n * n. */
static size_t
most_from_one_source(const struct rd_observe *ob)
{
    uint8_t(*addrs)[16] = malloc(ob->nobservers ? ob->nobservers * 16 : 1);
    size_t n = 0;
    size_t best = 0;
    size_t run = 0;

    if (!addrs) {
        return 0;
    }
    for (const struct obs_query *oq = ob->queries; oq; oq = oq->next) {
        for (const struct rd_observer *o = oq->observers; o; o = o->next) {
            memcpy(addrs[n++], o->addr, 16);
        }
    }
    qsort(addrs, n, 16, cmp_addr);
    for (size_t i = 0; i < n; i++) {
        run = i > 0 && memcmp(addrs[i], addrs[i - 1], 16) == 0 ? run + 1 : 1;
        best = run > best ? run : best;
    }
    free(addrs);
    return best;
}

int
rd__observe_metrics(const struct rd_server *srv, struct lookup_buf *out)
{
    const struct rd_observe *ob = srv->observe;
    size_t source_max = 0;
    char text[2048];
    int len;

    if (!ob) {
        return RD_OK;
    }
    source_max = most_from_one_source(ob);
    len = snprintf(
        text, sizeof(text),
        "# HELP core_rd_observers Observers of lookups (observe_max).\n"
        "# TYPE core_rd_observers gauge\ncore_rd_observers %zu\n"
        "# HELP core_rd_observers_source_max Observers of the address with the most "
        "(observe_max_per_source).\n"
        "# TYPE core_rd_observers_source_max gauge\ncore_rd_observers_source_max %zu\n"
        "# HELP core_rd_observed_lookups Distinct lookups observed.\n"
        "# TYPE core_rd_observed_lookups gauge\ncore_rd_observed_lookups %zu\n"
        "# HELP core_rd_observe_refused_total Observe requests served as plain GET (a limit).\n"
        "# TYPE core_rd_observe_refused_total counter\ncore_rd_observe_refused_total %llu\n"
        "# HELP core_rd_observe_dropped_total Observers dropped: Reset, timeout or error.\n"
        "# TYPE core_rd_observe_dropped_total counter\ncore_rd_observe_dropped_total %llu\n"
        "# HELP core_rd_observe_reevaluations_total Observed lookups re-run after a change.\n"
        "# TYPE core_rd_observe_reevaluations_total counter\n"
        "core_rd_observe_reevaluations_total %llu\n"
        "# HELP core_rd_observe_reevaluation_seconds_total Time those re-runs took.\n"
        "# TYPE core_rd_observe_reevaluation_seconds_total counter\n"
        "core_rd_observe_reevaluation_seconds_total %.3f\n"
        "# HELP core_rd_observe_notifications_total Notifications sent.\n"
        "# TYPE core_rd_observe_notifications_total counter\n"
        "core_rd_observe_notifications_total %llu\n"
        "# HELP core_rd_observe_unchanged_total Observers not notified after a re-run: their "
        "answer (ETag) was the same.\n"
        "# TYPE core_rd_observe_unchanged_total counter\ncore_rd_observe_unchanged_total %llu\n"
        "# HELP core_rd_observe_carried_total Rounds that left re-runs to the next round.\n"
        "# TYPE core_rd_observe_carried_total counter\ncore_rd_observe_carried_total %llu\n",
        ob->nobservers, source_max, ob->nqueries, (unsigned long long)ob->refused,
        (unsigned long long)ob->dropped, (unsigned long long)ob->reevaluations,
        (double)ob->reevaluation_us / 1e6, (unsigned long long)ob->notifications,
        (unsigned long long)ob->unchanged, (unsigned long long)ob->carried);
    if (len < 0 || (size_t)len >= sizeof(text)) {
        return RD_ETOOBIG;
    }
    return lookup_buf_append(out, text, (size_t)len);
}
