/* The cluster's expiry sweep (RFC 9176 section 5.3, lifetimes): one node at a time, elected by
 * a key held with an etcd lease, deletes the registrations whose grace period is over. Each
 * deletion compares the key's mod_revision with the one the sweeper read, so a refresh that
 * races it wins, and a second sweeper after a split does no harm. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_cluster_node.h"
#include "rd_conf.h"
#include "rd_log.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* Seconds the election lease lives without a keepalive. */
#define LEASE_TTL    6
#define KEEPALIVE_MS 2000
#define CAMPAIGN_MS  2000
#define SWEEP_MS     1000
/* Registrations one sweep looks at. */
#define SWEEP_BATCH 64

/* A registration the sweeper checks: read its key, then delete it if still due. */
struct due {
    struct rd_cluster *cl;
    char ep[LOOKUP_NAME_MAX + 1];
    char d[LOOKUP_NAME_MAX + 1];
    unsigned char *key;
    size_t key_len;
};

static void
post(struct rd_cluster *cl, const char *path, char *body, cluster_done_fn fn, void *arg)
{
    if (!body || cluster_etcd_post(cl->etcd, path, body, fn, arg)) {
        free(body);
        fn(arg, &(struct cluster_result){ RD_ENOMEM, 0, "", 0, "out of memory" });
        return;
    }
    free(body);
}

static int
parse(struct rd_cluster *cl, const struct cluster_result *res, struct cluster_resp *r,
      const char *what)
{
    memset(r, 0, sizeof(*r));
    if (res->rc || res->http != 200 || cluster_resp_parse(res->body, res->len, r) || r->error[0]) {
        cluster_resp_cleanup(r);
        rd__log(cl->srv, RD_LOG_DEBUG, "cluster: sweeper %s failed", what);
        return RD_ESTORE;
    }
    return RD_OK;
}

static void
due_free(struct due *d)
{
    if (d->cl->sweeps_inflight) {
        d->cl->sweeps_inflight--;
    }
    free(d->key);
    free(d);
}

static void
on_deleted(void *arg, const struct cluster_result *res)
{
    struct due *d = arg;
    struct cluster_resp r;

    if (!parse(d->cl, res, &r, "delete") && r.succeeded) {
        d->cl->swept++;
        rd__log(d->cl->srv, RD_LOG_INFO, "cluster: swept ep=%s d=%s revision=%" PRId64, d->ep, d->d,
                r.revision);
    }
    cluster_resp_cleanup(&r);
    due_free(d);
}

/* The key as etcd holds it now: delete it if its deadline and grace are still over. */
static void
on_read(void *arg, const struct cluster_result *res)
{
    struct due *d = arg;
    struct rd_cluster *cl = d->cl;
    struct cluster_resp r;
    struct cluster_value v;
    char *body = NULL;

    if (parse(cl, res, &r, "read")) {
        due_free(d);
        return;
    }
    if (r.nkvs == 1 && !cluster_value_decode(r.kvs[0].value, r.kvs[0].value_len, &v) &&
        v.expires_at < rd__now() - (int64_t)cl->srv->conf.expiry_grace) {
        struct cluster_cmp same = { d->key, d->key_len, CLUSTER_CMP_MOD, r.kvs[0].mod_revision };
        struct cluster_op del = { CLUSTER_OP_DELETE, d->key, d->key_len, NULL, 0, 0 };

        if (cluster_req_txn(&same, 1, &del, 1, NULL, 0, &body) == RD_OK) {
            cluster_resp_cleanup(&r);
            post(cl, "/v3/kv/txn", body, on_deleted, d);
            return;
        }
    }
    cluster_resp_cleanup(&r);
    due_free(d);
}

static int
due_cb(void *arg, const struct store_reg *reg)
{
    struct rd_cluster *cl = arg;
    struct due *d = calloc(1, sizeof(*d));
    char *body = NULL;

    if (!d) {
        return RD_ENOMEM;
    }
    d->cl = cl;
    snprintf(d->ep, sizeof(d->ep), "%s", reg->ep);
    snprintf(d->d, sizeof(d->d), "%s", reg->d);
    cl->sweeps_inflight++;
    if (rd__cluster_reg_key(cl, reg->d, reg->ep, &d->key, &d->key_len) ||
        cluster_req_range(d->key, d->key_len, NULL, 0, 0, 0, &body)) {
        due_free(d);
        return RD_ENOMEM;
    }
    post(cl, "/v3/kv/range", body, on_read, d);
    return 0;
}

static void
sweep(struct rd_cluster *cl)
{
    int64_t now = rd__now();

    cl->last_sweep = now;
    store_remote_due(cl->srv->store, now - (int64_t)cl->srv->conf.expiry_grace, SWEEP_BATCH, due_cb,
                     cl);
}

static void
lost(struct rd_cluster *cl)
{
    if (cl->is_sweeper) {
        rd__log(cl->srv, RD_LOG_WARN, "cluster: node %s is no longer the sweeper", cl->node);
    }
    cl->is_sweeper = 0;
    cl->lease = 0;
}

static void
on_keepalive(void *arg, const struct cluster_result *res)
{
    struct rd_cluster *cl = arg;
    struct cluster_resp r;

    if (parse(cl, res, &r, "keepalive") || r.lease_ttl <= 0) {
        lost(cl);
    }
    cluster_resp_cleanup(&r);
}

static void
on_campaign(void *arg, const struct cluster_result *res)
{
    struct rd_cluster *cl = arg;
    struct cluster_resp r;
    int mine;

    if (parse(cl, res, &r, "campaign")) {
        return;
    }
    mine = r.succeeded || (r.nkvs == 1 && r.kvs[0].lease == cl->lease && cl->lease);
    if (mine && !cl->is_sweeper) {
        rd__log(cl->srv, RD_LOG_INFO, "cluster: node %s is the sweeper", cl->node);
    }
    cl->is_sweeper = mine;
    cluster_resp_cleanup(&r);
}

/* Take the sweeper key if nobody holds it. */
static void
campaign(struct rd_cluster *cl)
{
    size_t len = cl->prefix_len + 7;
    unsigned char *key = malloc(len);
    char *body = NULL;

    if (!key) {
        return;
    }
    memcpy(key, cl->prefix, cl->prefix_len);
    memcpy(key + cl->prefix_len, "sweeper", 7);
    {
        struct cluster_cmp none = { key, len, CLUSTER_CMP_CREATE, 0 };
        struct cluster_op put = { CLUSTER_OP_PUT, key, len, cl->node, strlen(cl->node), cl->lease };
        struct cluster_op get = { CLUSTER_OP_RANGE, key, len, NULL, 0, 0 };

        if (cluster_req_txn(&none, 1, &put, 1, &get, 1, &body) == RD_OK) {
            post(cl, "/v3/kv/txn", body, on_campaign, cl);
        }
    }
    free(key);
}

static void
on_grant(void *arg, const struct cluster_result *res)
{
    struct rd_cluster *cl = arg;
    struct cluster_resp r;

    if (parse(cl, res, &r, "lease grant")) {
        return;
    }
    cl->lease = r.lease_id;
    cluster_resp_cleanup(&r);
    if (cl->lease) {
        campaign(cl);
    }
}

void
rd__cluster_sweep_tick(struct rd_cluster *cl, int64_t now_ms)
{
    char *body = NULL;

    if (now_ms >= cl->next_campaign_ms) {
        cl->next_campaign_ms = now_ms + CAMPAIGN_MS;
        if (!cl->lease) {
            if (cluster_req_lease_grant(LEASE_TTL, &body) == RD_OK) {
                post(cl, "/v3/lease/grant", body, on_grant, cl);
            }
        } else if (!cl->is_sweeper) {
            campaign(cl);
        }
    }
    if (cl->lease && now_ms >= cl->next_keepalive_ms) {
        cl->next_keepalive_ms = now_ms + KEEPALIVE_MS;
        if (cluster_req_lease_id(cl->lease, &body) == RD_OK) {
            post(cl, "/v3/lease/keepalive", body, on_keepalive, cl);
        }
    }
    if (cl->is_sweeper && !cl->sweeps_inflight && now_ms >= cl->next_sweep_ms) {
        cl->next_sweep_ms = now_ms + SWEEP_MS;
        sweep(cl);
    }
}
