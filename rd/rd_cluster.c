/* A cluster node's client of etcd: driven by the I/O loop, it joins the cluster, lists every
 * registration at one revision, then follows one watch over the prefix into the local copy,
 * through the same after-commit path as a local write (observers, change feed). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lookup.h"
#include "rd_cluster.h"
#include "rd_cluster_node.h"
#include "rd_conf.h"
#include "rd_feed.h"
#include "rd_log.h"
#include "rd_lookup.h"
#include "rd_loop.h"
#include "rd_registration.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* Longest wait for one etcd answer: past it a write is answered 5.03. */
#define REQUEST_TIMEOUT_MS 2000
/* Keys read per page of a listing. */
#define LIST_PAGE 500
/* Pause before starting over after a failure. */
#define RETRY_MS 500

static void start_phase(struct rd_cluster *cl, enum rd_cluster_phase phase);

static void
on_fd(struct rd_server *srv, void *arg, int fd, unsigned events)
{
    struct rd_cluster *cl = arg;

    (void)srv;
    cluster_etcd_socket(cl->etcd, fd, events);
}

static int
io_watch(void *arg, int fd, unsigned events)
{
    struct rd_cluster *cl = arg;

    if (!events) {
        rd__loop_unwatch(cl->srv, fd);
        return 0;
    }
    return rd__loop_watch(
        cl->srv, fd, (events & 1 ? RD_LOOP_IN : 0) | (events & 2 ? RD_LOOP_OUT : 0), on_fd, cl);
}

static void
io_timer(void *arg, long ms)
{
    struct rd_cluster *cl = arg;

    cl->timer_at_ms = ms < 0 ? 0 : rd__now_ms() + ms;
    if (cl->timer_at_ms) {
        rd__loop_wake_by(cl->srv, cl->timer_at_ms);
    }
}

static void
fail_phase(struct rd_cluster *cl, enum rd_cluster_phase phase, const char *why)
{
    int64_t now = rd__now_ms();

    /* While etcd stays away this repeats twice a second: one warning per 10 s of it. */
    rd__log(cl->srv, now - cl->last_retry_log_ms >= 10000 ? RD_LOG_WARN : RD_LOG_DEBUG,
            "cluster: %s; starting over in %d ms", why, RETRY_MS);
    if (now - cl->last_retry_log_ms >= 10000) {
        cl->last_retry_log_ms = now;
    }
    cl->phase = RD_CLUSTER_RETRY;
    cl->retry_phase = phase;
    cl->retry_at_ms = now + RETRY_MS;
}

static void
tick(struct rd_server *srv, void *arg, int64_t now_ms)
{
    struct rd_cluster *cl = arg;

    (void)srv;
    rd__cluster_writes_flush(cl);
    if (cl->timer_at_ms && now_ms >= cl->timer_at_ms) {
        cl->timer_at_ms = 0;
        cluster_etcd_timeout(cl->etcd);
    }
    if (cl->phase == RD_CLUSTER_RETRY && now_ms >= cl->retry_at_ms) {
        start_phase(cl, cl->retry_phase);
    }
    rd__cluster_writes_tick(cl, now_ms);
    if (cl->phase == RD_CLUSTER_WATCHING) {
        rd__cluster_sweep_tick(cl, now_ms);
    }
    if (cl->timer_at_ms) {
        rd__loop_wake_by(srv, cl->timer_at_ms);
    }
    if (cl->phase == RD_CLUSTER_RETRY) {
        rd__loop_wake_by(srv, cl->retry_at_ms);
    }
}

int
rd__cluster_reg_key(const struct rd_cluster *cl, const char *d, const char *ep, unsigned char **key,
                    size_t *len)
{
    size_t dl = strlen(d);
    size_t el = strlen(ep);
    unsigned char *k = malloc(cl->regs_len + dl + 1 + el);

    if (!k) {
        return RD_ENOMEM;
    }
    memcpy(k, cl->regs, cl->regs_len);
    memcpy(k + cl->regs_len, d, dl + 1);
    memcpy(k + cl->regs_len + dl + 1, ep, el);
    *key = k;
    *len = cl->regs_len + dl + 1 + el;
    return RD_OK;
}

void
rd__cluster_unreachable(struct rd_cluster *cl, const struct cluster_result *res, const char *what)
{
    int64_t now = rd__now_ms();

    cl->connected = 0;
    cl->writes_failed++;
    if (now - cl->last_error_log_ms >= 10000) {
        cl->last_error_log_ms = now;
        rd__log(cl->srv, RD_LOG_ERROR, "cluster: %s: etcd cannot commit (%s, member %s)", what,
                res->detail ? res->detail : res->body, cluster_etcd_member(cl->etcd));
    }
}

/* Parse a request's answer; @return RD_OK with @p r to clean up, else a failure logged. */
static int
answer_of(struct rd_cluster *cl, const struct cluster_result *res, struct cluster_resp *r,
          const char *what)
{
    int rc = res->rc;

    memset(r, 0, sizeof(*r));
    if (!rc) {
        rc = cluster_resp_parse(res->body, res->len, r);
    }
    if (!rc && (res->http != 200 || r->error[0])) {
        rc = RD_ESTORE;
    }
    if (rc) {
        rd__cluster_unreachable(cl, res, what);
        cluster_resp_cleanup(r);
        return rc;
    }
    cl->connected = 1;
    if (r->revision > cl->etcd_revision) {
        cl->etcd_revision = r->revision;
    }
    return RD_OK;
}

/* ---- applying changes ---- */

static int
find_cb(void *arg, const struct store_reg *reg)
{
    *(uint64_t *)arg = reg->id;
    return 0;
}

/* The key of a registration: (d, ep) after the regs prefix. @return RD_OK; RD_EINVAL. */
static int
key_names(const struct rd_cluster *cl, const struct cluster_kv *kv, char *d, char *ep)
{
    const unsigned char *p = kv->key + cl->regs_len;
    size_t rest = kv->key_len - cl->regs_len;
    const unsigned char *nul;

    if (kv->key_len <= cl->regs_len || memcmp(kv->key, cl->regs, cl->regs_len) != 0) {
        return RD_EINVAL;
    }
    nul = memchr(p, '\0', rest);
    if (!nul || (size_t)(nul - p) > LOOKUP_NAME_MAX ||
        rest - (size_t)(nul - p) - 1 > LOOKUP_NAME_MAX || rest - (size_t)(nul - p) - 1 == 0) {
        return RD_EINVAL;
    }
    memcpy(d, p, (size_t)(nul - p));
    d[nul - p] = '\0';
    memcpy(ep, nul + 1, rest - (size_t)(nul - p) - 1);
    ep[rest - (size_t)(nul - p) - 1] = '\0';
    return RD_OK;
}

/* A registration key is gone from etcd: remove it here, recording @p revision. */
static int
apply_delete(struct rd_cluster *cl, const struct cluster_kv *kv, int64_t revision)
{
    struct rd_server *srv = cl->srv;
    struct rd_lookup_reg before;
    char d[LOOKUP_NAME_MAX + 1];
    char ep[LOOKUP_NAME_MAX + 1];
    uint64_t id = 0;
    int rc;

    if (key_names(cl, kv, d, ep)) {
        return store_remote_mark(srv->store, revision);
    }
    /* INT64_MIN as "now": expired registrations are found too. */
    rc = store_reg_find(srv->store, d, ep, INT64_MIN, find_cb, &id);
    if (rc == RD_ENOTFOUND) {
        return store_remote_mark(srv->store, revision);
    }
    if (rc) {
        return rc;
    }
    rd__lookup_before(srv, id, NULL, NULL, &before);
    rd__feed_stage_removal(srv, id);
    store_remote_stage(srv->store, revision);
    rc = store_reg_delete(srv->store, id);
    if (rc) {
        rd__lookup_reg_cleanup(&before);
        return rc == RD_ENOTFOUND ? store_remote_mark(srv->store, revision) : rc;
    }
    srv->dirty = 1;
    rd__feed_committed(srv);
    rd__lookup_written(srv, &before, NULL, NULL, NULL, id, INT64_MAX);
    return RD_OK;
}

/* A registration key was written in etcd: put it here under its number. */
static int
apply_put(struct rd_cluster *cl, const struct cluster_kv *kv, int64_t revision)
{
    struct rd_server *srv = cl->srv;
    struct cluster_value v;
    struct lookup_reg rec;
    struct rd_reg_write w = { 0 };
    int rc;

    if (kv->create_revision <= 0 || (uint64_t)kv->create_revision >= (UINT64_C(1) << 40) ||
        cluster_value_decode(kv->value, kv->value_len, &v) ||
        lookup_reg_decode(&rec, v.rec, v.rec_len)) {
        rd__log(srv, RD_LOG_WARN, "cluster: key of revision %" PRId64 " is no registration",
                kv->mod_revision);
        return revision ? store_remote_mark(srv->store, revision) : RD_OK;
    }
    w.ep = v.ep;
    w.d = v.d;
    w.rec = &rec;
    w.expires_at = v.expires_at;
    w.source = v.source[0] ? v.source : NULL;
    rc = rd__reg_apply(srv, &w, store_remote_id(srv->store, (uint64_t)kv->create_revision),
                       revision);
    lookup_reg_cleanup(&rec);
    return rc;
}

/* Apply the events of one watch message, each recording its revision with it; the last event
 * of a revision records it whole, earlier ones the revision before, so a crash between two
 * events of one transaction makes the restart read that revision again. */
static int
apply_events(struct rd_cluster *cl, const struct cluster_watch_msg *m)
{
    int rc = RD_OK;

    for (size_t i = 0; !rc && i < m->nevents; i++) {
        const struct cluster_event *ev = &m->events[i];
        int64_t rev = ev->kv.mod_revision;
        int last = i + 1 == m->nevents || m->events[i + 1].kv.mod_revision != rev;

        if (rev <= cl->applied) {
            continue;
        }
        if (ev->type == CLUSTER_DELETE) {
            rc = apply_delete(cl, &ev->kv, last ? rev : rev - 1);
        } else if (ev->kv.key_len > cl->regs_len &&
                   memcmp(ev->kv.key, cl->regs, cl->regs_len) == 0) {
            rc = apply_put(cl, &ev->kv, last ? rev : rev - 1);
        } else {
            rc = last ? store_remote_mark(cl->srv->store, rev) : RD_OK;
        }
        if (!rc && last) {
            cl->applied = rev;
        }
    }
    return rc;
}

/* ---- the watch ---- */

static void
on_watch(void *arg, const char *msg, size_t len, const struct cluster_result *res)
{
    struct rd_cluster *cl = arg;
    struct cluster_watch_msg m;
    int rc;

    if (!msg) {
        fail_phase(cl, RD_CLUSTER_WATCHING, res->detail ? res->detail : "watch ended");
        return;
    }
    rc = cluster_watch_msg_parse(msg, len, &m);
    if (rc == RD_OK && m.compact_revision > 0) {
        rd__log(cl->srv, RD_LOG_WARN,
                "cluster: history before revision %" PRId64 " compacted; listing again",
                m.compact_revision);
        cluster_watch_msg_cleanup(&m);
        cluster_etcd_watch_stop(cl->etcd);
        /* Not from here: libcurl takes no new request inside its own callback. */
        cl->phase = RD_CLUSTER_RETRY;
        cl->retry_phase = RD_CLUSTER_LISTING;
        cl->retry_at_ms = rd__now_ms();
        rd__loop_wake_by(cl->srv, cl->retry_at_ms);
        return;
    }
    if (rc == RD_OK && m.canceled) {
        cluster_etcd_watch_stop(cl->etcd);
        fail_phase(cl, RD_CLUSTER_WATCHING, m.error[0] ? m.error : "watch cancelled");
        cluster_watch_msg_cleanup(&m);
        return;
    }
    if (rc == RD_OK) {
        cl->connected = 1;
        rc = apply_events(cl, &m);
    }
    /* A progress notification (no events) moves an idle node's revision on. */
    if (rc == RD_OK && m.nevents == 0 && m.revision > cl->applied && !m.created) {
        rc = store_remote_mark(cl->srv->store, m.revision);
        if (!rc) {
            cl->applied = m.revision;
        }
    }
    if (m.revision > cl->etcd_revision) {
        cl->etcd_revision = m.revision;
    }
    cluster_watch_msg_cleanup(&m);
    if (rc) {
        rd__log(cl->srv, RD_LOG_ERROR, "cluster: applying a change failed (%s): %s",
                rd_strerror(rc), store_errmsg(cl->srv->store));
        cluster_etcd_watch_stop(cl->etcd);
        fail_phase(cl, RD_CLUSTER_WATCHING, "local copy not written");
        return;
    }
    rd__cluster_writes_applied(cl, cl->applied);
}

static void
start_watch(struct rd_cluster *cl)
{
    char *body = NULL;
    int rc;

    cluster_etcd_watch_stop(cl->etcd);
    rc = cluster_req_watch(cl->regs, cl->regs_len, cl->regs_end, cl->regs_end_len, cl->applied + 1,
                           &body);
    if (!rc) {
        rc = cluster_etcd_watch(cl->etcd, body, on_watch, cl);
    }
    free(body);
    if (rc) {
        fail_phase(cl, RD_CLUSTER_WATCHING, "cannot start the watch");
        return;
    }
    cl->phase = RD_CLUSTER_WATCHING;
}

/* ---- listing ---- */

static int
seen_add(struct rd_cluster *cl, uint64_t id)
{
    if (cl->nseen == cl->seen_cap) {
        size_t cap = cl->seen_cap ? cl->seen_cap * 2 : 1024;
        uint64_t *grown = realloc(cl->seen, cap * sizeof(*grown));

        if (!grown) {
            return RD_ENOMEM;
        }
        cl->seen = grown;
        cl->seen_cap = cap;
    }
    cl->seen[cl->nseen++] = id;
    return RD_OK;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

struct stale {
    struct rd_cluster *cl;
    uint64_t *ids;
    size_t n;
    size_t cap;
};

static int
stale_cb(void *arg, const struct store_reg *reg)
{
    struct stale *s = arg;
    uint64_t *grown;

    if (s->cl->nseen && bsearch(&reg->id, s->cl->seen, s->cl->nseen, sizeof(uint64_t), cmp_u64)) {
        return 0;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        grown = realloc(s->ids, s->cap * sizeof(*grown));
        if (!grown) {
            return RD_ENOMEM;
        }
        s->ids = grown;
    }
    s->ids[s->n++] = reg->id;
    return 0;
}

/* Remove what the local copy holds that the listing did not find. */
static int
drop_stale(struct rd_cluster *cl)
{
    struct rd_server *srv = cl->srv;
    struct stale s = { cl, NULL, 0, 0 };
    int rc;

    if (cl->nseen) {
        qsort(cl->seen, cl->nseen, sizeof(uint64_t), cmp_u64);
    }
    rc = store_reg_foreach(srv->store, INT64_MIN, 0, stale_cb, &s);
    for (size_t i = 0; !rc && i < s.n; i++) {
        struct rd_lookup_reg before;

        rd__lookup_before(srv, s.ids[i], NULL, NULL, &before);
        rd__feed_stage_removal(srv, s.ids[i]);
        rc = store_reg_delete(srv->store, s.ids[i]);
        if (rc) {
            rd__lookup_reg_cleanup(&before);
            break;
        }
        rd__feed_committed(srv);
        rd__lookup_written(srv, &before, NULL, NULL, NULL, s.ids[i], INT64_MAX);
    }
    free(s.ids);
    return rc;
}

static void list_page(struct rd_cluster *cl);

static int
list_done(struct rd_cluster *cl)
{
    int rc = drop_stale(cl);

    if (!rc) {
        rc = store_remote_mark(cl->srv->store, cl->list_revision);
    }
    if (rc) {
        return rc;
    }
    rd__log(cl->srv, RD_LOG_INFO, "cluster: local copy at revision %" PRId64 " (%zu registrations)",
            cl->list_revision, cl->nseen);
    cl->applied = cl->list_revision;
    cl->nseen = 0;
    rd__cluster_writes_applied(cl, cl->applied);
    start_watch(cl);
    return RD_OK;
}

static void
on_page(void *arg, const struct cluster_result *res)
{
    struct rd_cluster *cl = arg;
    struct cluster_resp r;
    int rc;

    if (answer_of(cl, res, &r, "listing")) {
        fail_phase(cl, RD_CLUSTER_LISTING, "listing failed");
        return;
    }
    if (!cl->list_revision) {
        cl->list_revision = r.revision;
    }
    rc = RD_OK;
    for (size_t i = 0; !rc && i < r.nkvs; i++) {
        rc = apply_put(cl, &r.kvs[i], 0);
        if (!rc) {
            rc = seen_add(cl, store_remote_id(cl->srv->store, (uint64_t)r.kvs[i].create_revision));
        }
    }
    if (!rc && r.more && r.nkvs) {
        const struct cluster_kv *last = &r.kvs[r.nkvs - 1];

        free(cl->list_next);
        /* The next page starts just after the last key: that key with a zero byte added. */
        cl->list_next = malloc(last->key_len + 1);
        rc = cl->list_next ? RD_OK : RD_ENOMEM;
        if (!rc) {
            memcpy(cl->list_next, last->key, last->key_len);
            cl->list_next[last->key_len] = '\0';
            cl->list_next_len = last->key_len + 1;
        }
    }
    if (!rc && !(r.more && r.nkvs)) {
        cluster_resp_cleanup(&r);
        if (list_done(cl)) {
            fail_phase(cl, RD_CLUSTER_LISTING, "local copy not written");
        }
        return;
    }
    cluster_resp_cleanup(&r);
    if (rc) {
        fail_phase(cl, RD_CLUSTER_LISTING, "local copy not written");
        return;
    }
    list_page(cl);
}

static void
list_page(struct rd_cluster *cl)
{
    char *body = NULL;
    int rc = cluster_req_range(cl->list_next, cl->list_next_len, cl->regs_end, cl->regs_end_len,
                               cl->list_revision, LIST_PAGE, &body);

    if (!rc) {
        rc = cluster_etcd_post(cl->etcd, "/v3/kv/range", body, on_page, cl);
    }
    free(body);
    if (rc) {
        fail_phase(cl, RD_CLUSTER_LISTING, "out of memory");
    }
}

static void
start_list(struct rd_cluster *cl)
{
    cl->phase = RD_CLUSTER_LISTING;
    cl->list_revision = 0;
    cl->nseen = 0;
    free(cl->list_next);
    cl->list_next = malloc(cl->regs_len);
    if (!cl->list_next) {
        fail_phase(cl, RD_CLUSTER_LISTING, "out of memory");
        return;
    }
    memcpy(cl->list_next, cl->regs, cl->regs_len);
    cl->list_next_len = cl->regs_len;
    list_page(cl);
}

/* ---- joining ---- */

static void
on_join(void *arg, const struct cluster_result *res)
{
    struct rd_cluster *cl = arg;
    struct cluster_resp r;
    uint64_t secret = 0;
    int reset = 0;
    int rc;

    if (answer_of(cl, res, &r, "joining")) {
        fail_phase(cl, RD_CLUSTER_JOINING, "cannot reach etcd");
        return;
    }
    rc = r.nkvs == 1 && r.kvs[0].value_len == 8 ? RD_OK : RD_EINVAL;
    for (size_t i = 0; !rc && i < 8; i++) {
        secret = secret << 8 | r.kvs[0].value[i];
    }
    cluster_resp_cleanup(&r);
    if (!rc) {
        rc = store_remote_join(cl->srv->store, secret, &reset);
    }
    if (!rc) {
        rc = store_remote_revision(cl->srv->store, &cl->applied);
    }
    if (rc) {
        fail_phase(cl, RD_CLUSTER_JOINING, "cannot join the cluster's ids");
        return;
    }
    rd__log(cl->srv, RD_LOG_INFO, "cluster: node %s joined through %s%s", cl->node,
            cluster_etcd_member(cl->etcd), reset ? ", local copy emptied" : "");
    if (cl->applied > 0) {
        start_watch(cl);
    } else {
        start_list(cl);
    }
}

/* Create the cluster's id key if no node did yet, and read it. */
static void
start_join(struct rd_cluster *cl)
{
    unsigned char secret[8];
    unsigned char *key = NULL;
    char *body = NULL;
    size_t len = cl->prefix_len + 6;
    FILE *f = fopen("/dev/urandom", "rb");
    int rc = f && fread(secret, 1, sizeof(secret), f) == sizeof(secret) ? RD_OK : RD_EINVAL;

    if (f) {
        fclose(f);
    }
    key = malloc(len);
    if (!rc && key) {
        struct cluster_cmp cmp = { key, len, CLUSTER_CMP_CREATE, 0 };
        struct cluster_op put = { CLUSTER_OP_PUT, key, len, secret, sizeof(secret), 0 };
        struct cluster_op get = { CLUSTER_OP_RANGE, key, len, NULL, 0, 0 };
        struct cluster_op ops[2] = { put, get };

        memcpy(key, cl->prefix, cl->prefix_len);
        memcpy(key + cl->prefix_len, "secret", 6);
        rc = cluster_req_txn(&cmp, 1, ops, 2, &get, 1, &body);
    } else if (!rc) {
        rc = RD_ENOMEM;
    }
    if (!rc) {
        rc = cluster_etcd_post(cl->etcd, "/v3/kv/txn", body, on_join, cl);
    }
    free(body);
    free(key);
    cl->phase = RD_CLUSTER_JOINING;
    if (rc) {
        fail_phase(cl, RD_CLUSTER_JOINING, "cannot start joining");
    }
}

static void
start_phase(struct rd_cluster *cl, enum rd_cluster_phase phase)
{
    switch (phase) {
    case RD_CLUSTER_LISTING:
        start_list(cl);
        break;
    case RD_CLUSTER_WATCHING:
        start_watch(cl);
        break;
    default:
        start_join(cl);
        break;
    }
}

/* ---- lifecycle ---- */

static int
keys_init(struct rd_cluster *cl, const char *prefix)
{
    cl->prefix_len = strlen(prefix);
    cl->prefix = malloc(cl->prefix_len);
    cl->regs_len = cl->prefix_len + 4;
    cl->regs = malloc(cl->regs_len);
    if (!cl->prefix || !cl->regs) {
        return RD_ENOMEM;
    }
    memcpy(cl->prefix, prefix, cl->prefix_len);
    memcpy(cl->regs, prefix, cl->prefix_len);
    memcpy(cl->regs + cl->prefix_len, "reg/", 4);
    return cluster_prefix_end(cl->regs, cl->regs_len, &cl->regs_end, &cl->regs_end_len);
}

int
rd__cluster_init(struct rd_server *srv)
{
    struct rd_cluster *cl;
    struct cluster_io io;
    int rc;

    if (!srv->conf.etcd_endpoints || !srv->conf.etcd_endpoints[0]) {
        return RD_OK;
    }
    cl = calloc(1, sizeof(*cl));
    if (!cl) {
        return RD_ENOMEM;
    }
    cl->srv = srv;
    srv->cluster = cl;
    if (srv->conf.node_name && srv->conf.node_name[0]) {
        snprintf(cl->node, sizeof(cl->node), "%s", srv->conf.node_name);
    } else if (gethostname(cl->node, sizeof(cl->node) - 1)) {
        snprintf(cl->node, sizeof(cl->node), "node");
    }
    io.watch = io_watch;
    io.timer = io_timer;
    io.arg = cl;
    rc = keys_init(cl, srv->conf.etcd_prefix);
    if (!rc) {
        rc = cluster_etcd_new(&cl->etcd, srv->conf.etcd_endpoints, REQUEST_TIMEOUT_MS, &io);
        if (rc == RD_EINVAL) {
            rd__log(srv, RD_LOG_ERROR, "etcd_endpoints: no usable member in \"%s\"",
                    srv->conf.etcd_endpoints);
        }
    }
    if (!rc) {
        rc = rd__loop_on_tick(srv, tick, cl);
    }
    if (rc) {
        rd__cluster_cleanup(srv);
        return rc;
    }
    rd__log(srv, RD_LOG_INFO, "cluster: node %s, etcd %s, prefix %s", cl->node,
            srv->conf.etcd_endpoints, srv->conf.etcd_prefix);
    start_join(cl);
    return RD_OK;
}

void
rd__cluster_cleanup(struct rd_server *srv)
{
    struct rd_cluster *cl = srv->cluster;

    if (!cl) {
        return;
    }
    rd__cluster_writes_cleanup(cl);
    cluster_etcd_free(cl->etcd);
    free(cl->prefix);
    free(cl->regs);
    free(cl->regs_end);
    free(cl->list_next);
    free(cl->seen);
    free(cl);
    srv->cluster = NULL;
}

void
rd__cluster_health(const struct rd_server *srv, char *out, size_t size)
{
    const struct rd_cluster *cl = srv->cluster;
    static const char *const phases[] = { "joining", "listing", "watching", "retrying" };

    if (!cl) {
        snprintf(out, size, "%s", "");
        return;
    }
    snprintf(out, size,
             "{\"node\":\"%s\",\"phase\":\"%s\",\"connected\":%s,\"applied_revision\":%" PRId64
             ",\"etcd_revision\":%" PRId64 ",\"lag\":%" PRId64
             ",\"sweeper\":%s,\"last_sweep\":%" PRId64 ",\"swept\":%llu,\"writes_failed\":%llu}",
             cl->node, phases[cl->phase], cl->connected ? "true" : "false", cl->applied,
             cl->etcd_revision,
             cl->etcd_revision > cl->applied ? cl->etcd_revision - cl->applied : 0,
             cl->is_sweeper ? "true" : "false", cl->last_sweep, cl->swept, cl->writes_failed);
}

int
rd__cluster_metrics(const struct rd_server *srv, struct lookup_buf *out)
{
    const struct rd_cluster *cl = srv->cluster;
    char text[1536];
    int n;

    if (!cl) {
        return RD_OK;
    }
    n = snprintf(
        text, sizeof(text),
        "# HELP core_rd_cluster_connected Whether etcd answered the last request or watch.\n"
        "# TYPE core_rd_cluster_connected gauge\ncore_rd_cluster_connected{node=\"%s\"} %d\n"
        "# HELP core_rd_cluster_applied_revision etcd revision the local copy is at.\n"
        "# TYPE core_rd_cluster_applied_revision gauge\ncore_rd_cluster_applied_revision %" PRId64
        "\n# HELP core_rd_cluster_lag_revisions Revisions etcd is known to have beyond the "
        "local copy.\n# TYPE core_rd_cluster_lag_revisions gauge\ncore_rd_cluster_lag_revisions "
        "%" PRId64 "\n# HELP core_rd_cluster_writes_failed_total Requests etcd did not answer "
        "(writes answered 5.03).\n# TYPE core_rd_cluster_writes_failed_total counter\n"
        "core_rd_cluster_writes_failed_total %llu\n"
        "# HELP core_rd_cluster_sweeper Whether this node is the elected sweeper.\n"
        "# TYPE core_rd_cluster_sweeper gauge\ncore_rd_cluster_sweeper %d\n"
        "# HELP core_rd_cluster_swept_total Registrations this node deleted from etcd as expired.\n"
        "# TYPE core_rd_cluster_swept_total counter\ncore_rd_cluster_swept_total %llu\n"
        "# HELP core_rd_cluster_last_sweep_seconds When this node last swept, since the epoch.\n"
        "# TYPE core_rd_cluster_last_sweep_seconds gauge\ncore_rd_cluster_last_sweep_seconds "
        "%" PRId64 "\n",
        cl->node, cl->connected, cl->applied,
        cl->etcd_revision > cl->applied ? cl->etcd_revision - cl->applied : 0, cl->writes_failed,
        cl->is_sweeper, cl->swept, cl->last_sweep);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return RD_ETOOBIG;
    }
    return lookup_buf_append(out, text, (size_t)n);
}
