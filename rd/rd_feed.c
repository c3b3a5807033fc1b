/* The change feed: GET /api/events as Server-Sent Events, from the journal of RFC 9176 section 5
 * registrations, updates and removals, and of expiries. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "lookup.h"
#include "rd_conf.h"
#include "rd_feed.h"
#include "rd_http.h"
#include "rd_log.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* Bytes queued for one subscriber before it is cut off: a slow reader costs this much memory
 * at most, and never delays a registration. */
#define FEED_QUEUE_MAX ((size_t)256 * 1024)
/* Send buffer of a subscriber's socket: without a bound the kernel grows it to megabytes, which a
 * subscriber that never reads would hold on top of its queue. */
#define FEED_SNDBUF (64 * 1024)
/* Journal events a catching-up subscriber reads per turn, so one replay never holds the loop. */
#define FEED_REPLAY_SLICE 512
/* Slices one turn of a catching-up subscriber reads at most, matching or not. */
#define FEED_CATCH_UP_SLICES 8
/* Bytes a response block may carry: libmicrohttpd keeps a block per subscriber, idle or not
 * (16 KiB blocks cost 44 KiB a subscriber, 4 KiB ones 33 KiB), and a block holds several
 * events, so a burst still goes out in few writes. */
#define FEED_BLOCK 4096
/* Query parameters and their bytes a subscription may carry. */
#define FEED_QPARAM_MAX 32
#define FEED_QTEXT_MAX  2048

/* The head of an event's bytes in the journal: kind, what changed, then ep and d each with a
 * one-byte length; the registration record as lookup_reg_encode() wrote it follows. */
#define FEED_HEAD_MIN 4

enum feed_kind {
    FEED_REGISTERED = 1,
    FEED_UPDATED = 2,
    FEED_REMOVED = 3,
    FEED_EXPIRED = 4,
};

#define FEED_CHANGED_LIFETIME 1u
#define FEED_CHANGED_ATTRS    2u
#define FEED_CHANGED_LINKS    4u
#define FEED_CHANGED_BASE     8u

/* The lookup filters of a subscription, kept only by one that has some. */
struct feed_filter {
    struct lookup_query q;
    char qtext[FEED_QTEXT_MAX]; /**< the query's strings, which q points into */
};

struct feed_sub {
    struct feed_sub *next;
    struct feed_sub *prev;
    struct rd_server *srv;
    struct MHD_Connection *conn;
    struct feed_filter *filter; /**< NULL: every event matches */
    uint64_t pos;               /**< id of the last event queued or skipped */
    char *buf;                  /**< queued bytes, from off to len */
    size_t off;
    size_t len;
    size_t cap;
    int suspended;   /**< libmicrohttpd waits for us to resume it */
    int cut;         /**< ends once its queue is written */
    int64_t sent_ms; /**< monotonic time bytes were last queued for it */
};

struct rd_feed {
    struct feed_sub *subs;
    size_t nsubs;
    uint64_t pushed; /**< id of the last event handed to caught-up subscribers */
    char *stage;     /**< bytes built for store_journal_stage() and the expiry callback */
    size_t stage_cap;
    int kick;             /**< a subscriber was resumed: the loop must not sleep */
    uint64_t cutoffs;     /**< subscribers cut off for being slow */
    int64_t keepalive_ms; /**< when the subscribers were last looked at for keepalives */
};

/* A decoded journal event. */
struct feed_event {
    uint64_t id;
    enum feed_kind kind;
    unsigned changed;
    char ep[LOOKUP_NAME_MAX + 1];
    char d[LOOKUP_NAME_MAX + 1];
    char href[RD_ID_SIZE + 8];
    int has_rec;
    struct lookup_reg rec;
    struct lookup_regview view;
    char *text; /**< the SSE lines, rendered once for every subscriber */
    size_t text_len;
};

static const char *
kind_name(enum feed_kind k)
{
    switch (k) {
    case FEED_REGISTERED:
        return "registered";
    case FEED_UPDATED:
        return "updated";
    case FEED_REMOVED:
        return "removed";
    case FEED_EXPIRED:
        return "expired";
    }
    return "unknown";
}

/* Build the event bytes into feed->stage. */
static int
build(struct rd_feed *feed, enum feed_kind kind, unsigned changed, const char *ep, const char *d,
      const void *rec, size_t rec_len, size_t *out_len)
{
    size_t ep_len = strlen(ep);
    size_t d_len = d ? strlen(d) : 0;
    size_t need = FEED_HEAD_MIN + ep_len + d_len + rec_len;
    unsigned char *p;

    if (ep_len > LOOKUP_NAME_MAX || d_len > LOOKUP_NAME_MAX) {
        return RD_EINVAL;
    }
    if (need > feed->stage_cap) {
        char *bigger = realloc(feed->stage, need);

        if (!bigger) {
            return RD_ENOMEM;
        }
        feed->stage = bigger;
        feed->stage_cap = need;
    }
    p = (unsigned char *)feed->stage;
    p[0] = (unsigned char)kind;
    p[1] = (unsigned char)changed;
    p[2] = (unsigned char)ep_len;
    memcpy(p + 3, ep, ep_len);
    p[3 + ep_len] = (unsigned char)d_len;
    if (d_len) {
        memcpy(p + 4 + ep_len, d, d_len);
    }
    if (rec_len) {
        memcpy(p + FEED_HEAD_MIN + ep_len + d_len, rec, rec_len);
    }
    *out_len = need;
    return RD_OK;
}

/* store_expired_fn: the event of a registration the sweep collects. */
static int
expired_event(void *arg, const struct store_reg *reg, const void **data, size_t *len)
{
    struct rd_server *srv = arg;

    if (build(srv->feed, FEED_EXPIRED, 0, reg->ep, reg->d, reg->data, reg->data_len, len)) {
        return 1;
    }
    *data = srv->feed->stage;
    return 0;
}

static int
stage(struct rd_server *srv, enum feed_kind kind, unsigned changed, const char *ep, const char *d,
      const void *rec, size_t rec_len)
{
    size_t len = 0;
    int rc;

    store_journal_clock(srv->store, rd__now());
    rc = build(srv->feed, kind, changed, ep, d, rec, rec_len, &len);
    if (!rc) {
        rc = store_journal_stage(srv->store, srv->feed->stage, len);
    }
    if (rc) {
        /* The change goes ahead untold rather than refused: subscribers that resume across it
         * re-read the registration at its next change. */
        rd__log(srv, RD_LOG_ERROR, "feed: event of ep=%s d=%s not recorded: %s", ep, d ? d : "",
                rd_strerror(rc));
    }
    return rc;
}

/* A copy of a stored registration, for the event of a change that does not rewrite it. */
struct stored {
    int found;
    char ep[LOOKUP_NAME_MAX + 1];
    char d[LOOKUP_NAME_MAX + 1];
    void *data;
    size_t len;
};

static int
copy_stored(void *arg, const struct store_reg *reg)
{
    struct stored *s = arg;

    snprintf(s->ep, sizeof(s->ep), "%s", reg->ep);
    snprintf(s->d, sizeof(s->d), "%s", reg->d);
    s->data = malloc(reg->data_len ? reg->data_len : 1);
    if (!s->data) {
        return RD_ENOMEM;
    }
    if (reg->data_len) {
        memcpy(s->data, reg->data, reg->data_len);
    }
    s->len = reg->data_len;
    s->found = 1;
    return 0;
}

static int
attrs_equal(const struct lookup_attr *a, size_t na, const struct lookup_attr *b, size_t nb)
{
    if (na != nb) {
        return 0;
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i].name, b[i].name) != 0 || !a[i].value != !b[i].value ||
            (a[i].value && strcmp(a[i].value, b[i].value) != 0)) {
            return 0;
        }
    }
    return 1;
}

static int
links_equal(const struct lookup_reg *a, const struct lookup_reg *b)
{
    if (a->nlinks != b->nlinks) {
        return 0;
    }
    for (size_t i = 0; i < a->nlinks; i++) {
        if (strcmp(a->links[i].target, b->links[i].target) != 0 ||
            !attrs_equal(a->links[i].attrs, a->links[i].nattrs, b->links[i].attrs,
                         b->links[i].nattrs)) {
            return 0;
        }
    }
    return 1;
}

void
rd__feed_stage_save(struct rd_server *srv, uint64_t replace_id, const char *ep, const char *d,
                    const struct lookup_reg *rec, const void *data, size_t len)
{
    struct stored old = { 0 };
    struct lookup_reg prev;
    unsigned changed = 0;

    if (!srv->feed) {
        return;
    }
    /* An update changes what is stored, even past its deadline; a registration by name
     * replaces only a live one (else it is registered anew). A failed read leaves old.found 0:
     * the event is then told as a registration, which re-reads it all. */
    if (replace_id) {
        store_reg_get(srv->store, replace_id, 0, STORE_GET_EXPIRED, copy_stored, &old);
    } else {
        store_reg_find(srv->store, d, ep, rd__now(), copy_stored, &old);
    }
    if (old.found && lookup_reg_decode(&prev, old.data, old.len) == RD_OK) {
        changed |= prev.lt != rec->lt ? FEED_CHANGED_LIFETIME : 0;
        changed |= strcmp(prev.base, rec->base) != 0 ? FEED_CHANGED_BASE : 0;
        changed |=
            !attrs_equal(prev.attrs, prev.nattrs, rec->attrs, rec->nattrs) ? FEED_CHANGED_ATTRS : 0;
        changed |= !links_equal(&prev, rec) ? FEED_CHANGED_LINKS : 0;
        lookup_reg_cleanup(&prev);
    } else if (old.found) {
        changed =
            FEED_CHANGED_LIFETIME | FEED_CHANGED_ATTRS | FEED_CHANGED_LINKS | FEED_CHANGED_BASE;
    }
    /* A refresh that keeps the lifetime still moves the deadline. */
    if (old.found && !changed) {
        changed = FEED_CHANGED_LIFETIME;
    }
    stage(srv, old.found ? FEED_UPDATED : FEED_REGISTERED, changed, ep, d, data, len);
    free(old.data);
}

/* Stage the event @p kind of the registration @p id as it is stored. */
static void
stage_stored(struct rd_server *srv, uint64_t id, enum feed_kind kind, unsigned changed)
{
    struct stored old = { 0 };

    if (!srv->feed) {
        return;
    }
    if (store_reg_get(srv->store, id, 0, STORE_GET_EXPIRED, copy_stored, &old) == RD_OK &&
        old.found) {
        stage(srv, kind, changed, old.ep, old.d, old.data, old.len);
    }
    free(old.data);
}

void
rd__feed_stage_refresh(struct rd_server *srv, uint64_t id)
{
    stage_stored(srv, id, FEED_UPDATED, FEED_CHANGED_LIFETIME);
}

void
rd__feed_stage_removal(struct rd_server *srv, uint64_t id)
{
    stage_stored(srv, id, FEED_REMOVED, 0);
}

void
rd__feed_clock(struct rd_server *srv, int64_t now)
{
    if (srv->feed) {
        store_journal_clock(srv->store, now);
    }
}

/* Decode the journal event @p ev into @p out. */
static int
event_decode(const struct store_event *ev, struct feed_event *out)
{
    const unsigned char *p = ev->data;
    size_t ep_len;
    size_t d_len;
    char id[RD_ID_SIZE];

    memset(out, 0, sizeof(*out));
    if (ev->len < FEED_HEAD_MIN) {
        return RD_EINVAL;
    }
    ep_len = p[2];
    if (ep_len > LOOKUP_NAME_MAX || ev->len < FEED_HEAD_MIN + ep_len) {
        return RD_EINVAL;
    }
    d_len = p[3 + ep_len];
    if (d_len > LOOKUP_NAME_MAX || ev->len < FEED_HEAD_MIN + ep_len + d_len) {
        return RD_EINVAL;
    }
    if (p[0] < FEED_REGISTERED || p[0] > FEED_EXPIRED) {
        return RD_EINVAL;
    }
    out->id = ev->id;
    out->kind = (enum feed_kind)p[0];
    out->changed = p[1];
    memcpy(out->ep, p + 3, ep_len);
    memcpy(out->d, p + 4 + ep_len, d_len);
    rd__id_format(ev->reg_id, id);
    snprintf(out->href, sizeof(out->href), "/rd/%s", id);
    out->has_rec = lookup_reg_decode(&out->rec, p + FEED_HEAD_MIN + ep_len + d_len,
                                     ev->len - FEED_HEAD_MIN - ep_len - d_len) == RD_OK;
    out->view.ep = out->ep;
    out->view.d = out->d;
    out->view.href = out->href;
    out->view.rec = out->has_rec ? &out->rec : NULL;
    return RD_OK;
}

static void
event_cleanup(struct feed_event *e)
{
    if (e->has_rec) {
        lookup_reg_cleanup(&e->rec);
    }
    free(e->text);
    e->text = NULL;
}

/* The SSE lines of @p e: id, event and one data line of JSON (jansson escapes every string and
 * leaves no newline in it). */
static int
event_render(struct feed_event *e)
{
    json_t *obj = json_pack("{s:s, s:s, s:s}", "ep", e->ep, "d", e->d, "location", e->href);
    char *json = NULL;
    int n;

    if (!obj) {
        return RD_ENOMEM;
    }
    if (e->kind == FEED_UPDATED) {
        json_t *what = json_array();

        json_array_append_new(what, json_string("lifetime"));
        if (e->changed & FEED_CHANGED_ATTRS) {
            json_array_append_new(what, json_string("attributes"));
        }
        if (e->changed & FEED_CHANGED_LINKS) {
            json_array_append_new(what, json_string("links"));
        }
        if (e->changed & FEED_CHANGED_BASE) {
            json_array_append_new(what, json_string("base"));
        }
        if (!(e->changed & FEED_CHANGED_LIFETIME)) {
            json_array_remove(what, 0);
        }
        json_object_set_new(obj, "changed", what);
    }
    if (e->kind != FEED_REMOVED && e->has_rec) {
        json_t *links = json_array();

        for (size_t i = 0; links && i < e->rec.nlinks; i++) {
            const struct lookup_link *l = &e->rec.links[i];

            json_array_append_new(links, json_pack("{s:s, s:o}", "href", l->target, "attrs",
                                                   rd__http_attrs_json(l->attrs, l->nattrs)));
        }
        json_object_set_new(obj, "base", json_string(e->rec.base));
        json_object_set_new(obj, "lt", json_integer((json_int_t)e->rec.lt));
        json_object_set_new(obj, "attrs", rd__http_attrs_json(e->rec.attrs, e->rec.nattrs));
        json_object_set_new(obj, "links", links);
    }
    json = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!json) {
        return RD_ENOMEM;
    }
    n = snprintf(NULL, 0, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)e->id,
                 kind_name(e->kind), json);
    e->text = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!e->text) {
        free(json);
        return RD_ENOMEM;
    }
    snprintf(e->text, (size_t)n + 1, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)e->id,
             kind_name(e->kind), json);
    e->text_len = (size_t)n;
    free(json);
    return RD_OK;
}

/* Queue @p len bytes for @p sub; over the bound it is cut off instead, with a last event that
 * says why. */
static void
sub_queue(struct feed_sub *sub, const char *text, size_t len)
{
    static const char cut[] = "event: error\ndata: {\"reason\":\"subscriber too slow: more than "
                              "262144 bytes queued\"}\n\n";
    size_t need;

    if (sub->cut) {
        return;
    }
    if (sub->len - sub->off + len > FEED_QUEUE_MAX) {
        text = cut;
        len = sizeof(cut) - 1;
        sub->cut = 1;
        sub->srv->feed->cutoffs++;
        rd__log(sub->srv, RD_LOG_WARN,
                "feed: subscriber cut off: more than %zu bytes queued (last event %llu)",
                FEED_QUEUE_MAX, (unsigned long long)sub->pos);
    }
    if (sub->off && sub->off == sub->len) {
        sub->off = sub->len = 0;
    }
    need = sub->len + len;
    if (need > sub->cap) {
        size_t cap = sub->cap ? sub->cap : 4096;
        char *bigger;

        /* Move the unread bytes down first: the queue then never holds written ones. */
        if (sub->off) {
            memmove(sub->buf, sub->buf + sub->off, sub->len - sub->off);
            sub->len -= sub->off;
            sub->off = 0;
            need = sub->len + len;
        }
        while (cap < need) {
            cap *= 2;
        }
        if (cap > sub->cap) {
            bigger = realloc(sub->buf, cap);
            if (!bigger) {
                sub->cut = 1;
                return;
            }
            sub->buf = bigger;
            sub->cap = cap;
        }
    }
    memcpy(sub->buf + sub->len, text, len);
    sub->len += len;
    sub->sent_ms = rd__now_ms();
}

static void
sub_wake(struct feed_sub *sub)
{
    if (sub->suspended && (sub->len > sub->off || sub->cut)) {
        sub->suspended = 0;
        MHD_resume_connection(sub->conn);
        sub->srv->feed->kick = 1;
    }
}

static int
sub_matches(const struct feed_sub *sub, const struct feed_event *e)
{
    if (!sub->filter) {
        return 1;
    }
    return e->has_rec && lookup_match_ep(&sub->filter->q, &e->view);
}

/* Queue a reset: the subscriber's place is gone from the journal. */
static void
sub_reset(struct feed_sub *sub, uint64_t last, const char *why)
{
    char text[256];
    int n = snprintf(text, sizeof(text),
                     "id: %llu\nevent: reset\ndata: {\"reason\":\"%s\",\"last\":%llu}\n\n",
                     (unsigned long long)last, why, (unsigned long long)last);

    sub_queue(sub, text, (size_t)n);
    sub->pos = last;
}

/* store_event_fn of a catch-up: queue one journal event for @p arg, a subscriber. Stops the
 * read (1) before an event that would take its queue past half the bound: a replay goes at the
 * pace the subscriber reads, and only live events can cut it off. */
static int
replay_one(void *arg, const struct store_event *ev)
{
    struct feed_sub *sub = arg;
    struct feed_event e;
    int full = 0;

    if (event_decode(ev, &e)) {
        sub->pos = ev->id;
        return 0;
    }
    if (sub_matches(sub, &e) && event_render(&e) == RD_OK) {
        size_t queued = sub->len - sub->off;

        /* One event always goes, so a large one cannot stall the replay. */
        full = queued && queued + e.text_len > FEED_QUEUE_MAX / 2;
        if (!full) {
            sub_queue(sub, e.text, e.text_len);
        }
    }
    if (!full) {
        sub->pos = ev->id;
    }
    event_cleanup(&e);
    return full;
}

/* Bring @p sub closer to the live events: a slice of the journal after its place, or a reset
 * when its place was trimmed. */
static void
sub_catch_up(struct feed_sub *sub)
{
    struct rd_server *srv = sub->srv;
    struct store_journal_info info;
    uint64_t last = 0;

    if (sub->pos >= srv->feed->pushed || sub->cut) {
        return;
    }
    if (store_journal_info(srv->store, &info)) {
        return;
    }
    if (sub->pos + 1 < info.first) {
        sub_reset(sub, srv->feed->pushed, "beyond the retained window: re-read everything");
        return;
    }
    for (int i = 0; i < FEED_CATCH_UP_SLICES && sub->pos < srv->feed->pushed && !sub->cut &&
                    sub->len - sub->off < FEED_QUEUE_MAX / 2;
         i++) {
        uint64_t before = sub->pos;

        if (store_journal_read(srv->store, sub->pos, FEED_REPLAY_SLICE, replay_one, sub, &last)) {
            break;
        }
        if (sub->pos == before) {
            break;
        }
    }
}

/* MHD_ContentReaderCallback: hand over what is queued; with nothing, sleep until an event. */
static ssize_t
sub_read(void *cls, uint64_t at, char *buf, size_t max)
{
    struct feed_sub *sub = cls;
    size_t n;

    (void)at;
    if (sub->len == sub->off) {
        sub_catch_up(sub);
    }
    if (sub->len > sub->off) {
        n = sub->len - sub->off;
        n = n < max ? n : max;
        memcpy(buf, sub->buf + sub->off, n);
        sub->off += n;
        if (sub->off == sub->len) {
            sub->off = sub->len = 0;
        }
        return (ssize_t)n;
    }
    if (sub->cut) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (sub->pos < sub->srv->feed->pushed) {
        /* Behind, and the last slices matched nothing: libmicrohttpd asks again next turn. */
        return 0;
    }
    /* Idle: its queue's buffer goes back until the next event, so a thousand idle subscribers
     * hold no buffers. Returning 0 without suspending would make libmicrohttpd ask again at
     * once, forever. */
    free(sub->buf);
    sub->buf = NULL;
    sub->cap = 0;
    sub->suspended = 1;
    MHD_suspend_connection(sub->conn);
    return 0;
}

/* MHD_ContentReaderFreeCallback: the connection is gone. */
static void
sub_free(void *cls)
{
    struct feed_sub *sub = cls;
    struct rd_feed *feed = sub->srv->feed;

    if (sub->prev) {
        sub->prev->next = sub->next;
    } else if (feed) {
        feed->subs = sub->next;
    }
    if (sub->next) {
        sub->next->prev = sub->prev;
    }
    if (feed) {
        feed->nsubs--;
    }
    free(sub->buf);
    free(sub->filter);
    free(sub);
}

static int push_one(void *arg, const struct store_event *ev);

void
rd__feed_committed(struct rd_server *srv)
{
    struct rd_feed *feed = srv->feed;
    struct store_journal_info info;
    uint64_t last = 0;

    if (!feed || store_journal_info(srv->store, &info) || info.last <= feed->pushed) {
        return;
    }
    /* Every new event is decoded and rendered once, then queued for each caught-up subscriber
     * it matches; the others read it from the journal when they catch up. */
    while (feed->pushed < info.last) {
        uint64_t before = feed->pushed;
        int rc =
            store_journal_read(srv->store, feed->pushed, FEED_REPLAY_SLICE, push_one, srv, &last);

        if (rc || feed->pushed == before) {
            feed->pushed = info.last;
            break;
        }
    }
}

/* store_event_fn: queue one new event for every caught-up subscriber it matches. */
static int
push_one(void *arg, const struct store_event *ev)
{
    struct rd_server *srv = arg;
    struct rd_feed *feed = srv->feed;
    struct feed_event e;
    int rendered = 0;

    if (event_decode(ev, &e) == RD_OK) {
        for (struct feed_sub *s = feed->subs; s; s = s->next) {
            if (s->cut || s->pos != feed->pushed) {
                continue;
            }
            s->pos = ev->id;
            if (!sub_matches(s, &e)) {
                continue;
            }
            if (!rendered) {
                rendered = event_render(&e) == RD_OK ? 1 : -1;
            }
            if (rendered > 0) {
                sub_queue(s, e.text, e.text_len);
                sub_wake(s);
            }
        }
        event_cleanup(&e);
    } else {
        for (struct feed_sub *s = feed->subs; s; s = s->next) {
            if (s->pos == feed->pushed) {
                s->pos = ev->id;
            }
        }
    }
    feed->pushed = ev->id;
    return 0;
}

/* Copy the query parameters into @p f and parse them there, so they outlive the request's
 * headers. */
static int
filter_parse(struct feed_filter *f, const struct lookup_qparam *qp, size_t n, char *diag,
             size_t diag_size)
{
    struct lookup_qparam q[FEED_QPARAM_MAX];
    size_t used = 0;
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        size_t need = qp[i].key_len + 1 + (qp[i].value ? qp[i].value_len + 1 : 0);

        /* since is the feed's own, not a lookup filter. */
        if (qp[i].key_len == 5 && memcmp(qp[i].key, "since", 5) == 0) {
            continue;
        }
        if (used + need > sizeof(f->qtext)) {
            snprintf(diag, diag_size, "query too long");
            return RD_EINVAL;
        }
        memcpy(f->qtext + used, qp[i].key, qp[i].key_len);
        f->qtext[used + qp[i].key_len] = '\0';
        q[k].key = f->qtext + used;
        q[k].key_len = qp[i].key_len;
        used += qp[i].key_len + 1;
        q[k].value = NULL;
        q[k].value_len = 0;
        if (qp[i].value) {
            memcpy(f->qtext + used, qp[i].value, qp[i].value_len);
            f->qtext[used + qp[i].value_len] = '\0';
            q[k].value = f->qtext + used;
            q[k].value_len = qp[i].value_len;
            used += qp[i].value_len + 1;
        }
        k++;
    }
    if (lookup_query_parse(&f->q, q, k, diag, diag_size)) {
        return RD_EINVAL;
    }
    if (f->q.has_count || f->q.page) {
        snprintf(diag, diag_size, "page and count do not apply to the feed");
        return RD_EINVAL;
    }
    return RD_OK;
}

/* Give @p sub the filters of @p qp, or none when they select everything: most subscribers
 * follow every change and need not carry a query. */
static int
sub_query(struct feed_sub *sub, const struct lookup_qparam *qp, size_t n, char *diag,
          size_t diag_size)
{
    struct feed_filter *f = calloc(1, sizeof(*f));
    int rc;

    if (!f) {
        return RD_ENOMEM;
    }
    rc = filter_parse(f, qp, n, diag, diag_size);
    if (rc || f->q.ncrit == 0) {
        free(f);
        return rc;
    }
    sub->filter = f;
    return RD_OK;
}

/* A decimal event id, or RD_EINVAL. */
static int
parse_id(const char *s, uint64_t *id)
{
    char *end = NULL;
    unsigned long long v;

    if (!s || !*s || *s < '0' || *s > '9') {
        return RD_EINVAL;
    }
    v = strtoull(s, &end, 10);
    if (*end || v == ULLONG_MAX) {
        return RD_EINVAL;
    }
    *id = v;
    return RD_OK;
}

int
rd__feed_subscribe(struct rd_server *srv, struct MHD_Connection *conn,
                   const struct lookup_qparam *qp, size_t nq, const char **error)
{
    static char diag[LOOKUP_DIAG_SIZE];
    struct rd_feed *feed = srv->feed;
    struct store_journal_info info;
    const union MHD_ConnectionInfo *fd;
    struct MHD_Response *r;
    struct feed_sub *sub;
    const char *since_text = NULL;
    uint64_t since = 0;
    int resume = 0;
    char hello[96];
    int n;
    int rc;

    *error = NULL;
    since_text = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    if (!since_text) {
        since_text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
    }
    if (since_text) {
        if (parse_id(since_text, &since)) {
            *error = "Last-Event-ID or since: expected a decimal event id";
            return RD_EINVAL;
        }
        resume = 1;
    }
    if (store_journal_info(srv->store, &info)) {
        *error = "journal unavailable";
        return RD_ESTORE;
    }
    sub = calloc(1, sizeof(*sub));
    if (!sub) {
        return RD_ENOMEM;
    }
    sub->srv = srv;
    sub->conn = conn;
    rc = sub_query(sub, qp, nq, diag, sizeof(diag));
    if (rc) {
        free(sub);
        *error = rc == RD_EINVAL ? diag : NULL;
        return rc;
    }
    /* Events up to info.last are either in the journal or trimmed; later ones are pushed. */
    if (feed->pushed < info.last) {
        rd__feed_committed(srv);
    }
    sub->pos = feed->pushed;
    n = snprintf(hello, sizeof(hello), ": core-rd change feed, last event %llu\n\n",
                 (unsigned long long)feed->pushed);
    sub_queue(sub, hello, (size_t)n);
    if (resume) {
        if (since > feed->pushed || since + 1 < info.first) {
            sub_reset(sub, feed->pushed,
                      since > feed->pushed ? "unknown event id: re-read everything"
                                           : "beyond the retained window: re-read everything");
        } else {
            sub->pos = since;
        }
    }
    fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (fd) {
        int size = FEED_SNDBUF;

        setsockopt(fd->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, FEED_BLOCK, sub_read, sub, sub_free);
    if (!r) {
        free(sub->buf);
        free(sub->filter);
        free(sub);
        return RD_ENOMEM;
    }
    sub->next = feed->subs;
    if (sub->next) {
        sub->next->prev = sub;
    }
    feed->subs = sub;
    feed->nsubs++;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (MHD_queue_response(conn, MHD_HTTP_OK, r) != MHD_YES) {
        MHD_destroy_response(r); /* frees sub through sub_free */
        return RD_ENOMEM;
    }
    MHD_destroy_response(r);
    return RD_OK;
}

void
rd__feed_keepalive(struct rd_server *srv, int64_t now_ms)
{
    int64_t every_ms = (int64_t)srv->conf.feed_keepalive * 1000;
    struct rd_feed *feed = srv->feed;

    if (!feed || !every_ms || now_ms - feed->keepalive_ms < 1000) {
        return;
    }
    feed->keepalive_ms = now_ms;
    for (struct feed_sub *s = feed->subs; s; s = s->next) {
        /* Only an idle one: a subscriber with bytes queued is being written to anyway. */
        if (!s->cut && s->len == s->off && now_ms - s->sent_ms >= every_ms) {
            sub_queue(s, RD_FEED_KEEPALIVE, sizeof(RD_FEED_KEEPALIVE) - 1);
            sub_wake(s);
        }
    }
}

int
rd__feed_init(struct rd_server *srv)
{
    struct store_journal_info info;

    srv->feed = calloc(1, sizeof(*srv->feed));
    if (!srv->feed) {
        return RD_ENOMEM;
    }
    store_journal_config(srv->store, srv->conf.feed_retain_events, srv->conf.feed_retain_seconds,
                         expired_event, srv);
    if (store_journal_info(srv->store, &info) == RD_OK) {
        srv->feed->pushed = info.last;
    }
    return RD_OK;
}

void
rd__feed_stop(struct rd_server *srv)
{
    if (!srv->feed) {
        return;
    }
    /* libmicrohttpd must not be stopped with suspended connections. */
    for (struct feed_sub *s = srv->feed->subs; s; s = s->next) {
        s->cut = 1;
        if (s->suspended) {
            s->suspended = 0;
            MHD_resume_connection(s->conn);
        }
    }
}

void
rd__feed_cleanup(struct rd_server *srv)
{
    if (!srv->feed) {
        return;
    }
    free(srv->feed->stage);
    free(srv->feed);
    srv->feed = NULL;
}

int
rd__feed_take_kick(struct rd_server *srv)
{
    int k = srv->feed && srv->feed->kick;

    if (srv->feed) {
        srv->feed->kick = 0;
    }
    return k;
}

size_t
rd__feed_subscribers(const struct rd_server *srv)
{
    return srv->feed ? srv->feed->nsubs : 0;
}
