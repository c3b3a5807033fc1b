/* Registration, update and removal in a cluster (RFC 9176 sections 5, 5.3.1, 5.3.2): one etcd
 * transaction each, answered as a separate response once etcd committed it and the local copy
 * holds it; 5.03 with Max-Age when etcd cannot commit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_cluster.h"
#include "rd_cluster_node.h"
#include "rd_defer.h"
#include "rd_log.h"
#include "rd_registration.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* Seconds a client is asked to wait after a write etcd could not commit. */
#define RETRY_AFTER 5
/* Longest wait for the local copy to show a committed write before it is answered anyway. */
#define APPLY_WAIT_MS 2000
/* Registrations one transaction carries at most: two operations each, under etcd's 128. */
#define BATCH_MAX 32

/* What a parked write is answered with. */
struct answer {
    coap_pdu_code_t code;
    uint64_t id; /* Location-Path rd/<id> with 2.01; 0: none */
    unsigned max_age;
    char diag[64];
};

/* Who hears of a write's outcome: a parked request, a function, or nobody. */
struct target {
    uint64_t ticket; /* rd_defer.h's; 0: none */
    rd_cluster_done_fn *fn;
    void *arg;
};

/* A committed write waiting for the local copy to reach its revision. */
struct rd_cluster_wait {
    struct target to;
    int64_t revision;
    int64_t deadline_ms;
    struct answer *ans;
};

enum write_kind {
    WRITE_REGISTER = 0,
    WRITE_UPDATE = 1,
    WRITE_REMOVE = 2,
};

/* A write on its way to etcd; registrations of one loop turn go together, in a list. */
struct rd_cluster_write {
    struct rd_cluster *cl;
    enum write_kind kind;
    struct target to;
    char ep[LOOKUP_NAME_MAX + 1];
    char d[LOOKUP_NAME_MAX + 1];
    unsigned char *key; /* a batched registration's key and value (owned) */
    size_t key_len;
    unsigned char *value;
    size_t value_len;
    struct rd_cluster_write *next;
};

int
rd__cluster_resume(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
                   coap_pdu_t *response)
{
    struct rd_cluster *cl = srv->cluster;
    const struct answer *ans;

    if (!cl) {
        return 0;
    }
    ans = rd__defer_resumed(srv, session, request);
    if (!ans) {
        cl->cur_session = session;
        cl->cur_request = request;
        cl->parked = 0;
        return 0;
    }
    if (ans->max_age) {
        uint8_t buf[4];

        coap_add_option(response, COAP_OPTION_MAXAGE,
                        coap_encode_var_safe(buf, sizeof(buf), ans->max_age), buf);
    }
    if (ans->id) {
        char text[RD_ID_SIZE];

        rd__id_format(ans->id, text);
        coap_add_option(response, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd");
        coap_add_option(response, COAP_OPTION_LOCATION_PATH, RD_ID_SIZE - 1, (const uint8_t *)text);
    }
    if (ans->diag[0]) {
        rd__respond_error(response, ans->code, ans->diag);
    } else {
        coap_pdu_set_code(response, ans->code);
    }
    return 1;
}

int
rd__cluster_request_done(struct rd_server *srv)
{
    struct rd_cluster *cl = srv->cluster;
    int parked;

    if (!cl) {
        return 0;
    }
    parked = cl->parked;
    cl->parked = 0;
    cl->cur_session = NULL;
    cl->cur_request = NULL;
    return parked;
}

static void
complete(struct rd_cluster *cl, const struct target *to, struct answer *ans)
{
    if (to->fn) {
        to->fn(cl->srv, to->arg, ans->code, ans->diag);
        free(ans);
    } else if (to->ticket) {
        rd__defer_complete(cl->srv, to->ticket, ans, free);
    } else {
        free(ans);
    }
}

/* Answer @p ans once the local copy holds @p revision, so that this node's lookups show the
 * write as soon as its author hears of it. */
static void
answer_when_applied(struct rd_cluster *cl, const struct target *to, int64_t revision,
                    struct answer *ans)
{
    struct rd_cluster_wait *w;

    if (revision <= cl->applied || (!to->ticket && !to->fn)) {
        complete(cl, to, ans);
        return;
    }
    if (cl->nwaits == cl->waits_cap) {
        size_t cap = cl->waits_cap ? cl->waits_cap * 2 : 32;
        struct rd_cluster_wait *grown = realloc(cl->waits, cap * sizeof(*grown));

        if (!grown) {
            complete(cl, to, ans);
            return;
        }
        cl->waits = grown;
        cl->waits_cap = cap;
    }
    w = &cl->waits[cl->nwaits++];
    w->to = *to;
    w->revision = revision;
    w->deadline_ms = rd__now_ms() + APPLY_WAIT_MS;
    w->ans = ans;
}

static void
release_waits(struct rd_cluster *cl, int64_t revision, int64_t now_ms, int all)
{
    size_t i = 0;

    while (i < cl->nwaits) {
        struct rd_cluster_wait w = cl->waits[i];

        if (all || w.revision <= revision || now_ms >= w.deadline_ms) {
            cl->waits[i] = cl->waits[--cl->nwaits];
            complete(cl, &w.to, w.ans);
        } else {
            i++;
        }
    }
}

void
rd__cluster_then(struct rd_server *srv, rd_cluster_done_fn *fn, void *arg)
{
    if (srv->cluster) {
        srv->cluster->then_fn = fn;
        srv->cluster->then_arg = arg;
    }
}

void
rd__cluster_writes_applied(struct rd_cluster *cl, int64_t revision)
{
    release_waits(cl, revision, rd__now_ms(), 0);
}

void
rd__cluster_writes_tick(struct rd_cluster *cl, int64_t now_ms)
{
    release_waits(cl, cl->applied, now_ms, 0);
}

static const char *const kind_names[] = { "registration", "update", "removal" };

static void
write_free(struct rd_cluster_write *wr)
{
    free(wr->key);
    free(wr->value);
    free(wr);
}

/* The answer to a write etcd committed (or refused by its compare); @p kv is what etcd holds
 * now under a registration's key (NULL when missing). */
static void
committed(struct rd_cluster_write *wr, const struct cluster_resp *r, const struct cluster_kv *kv,
          struct answer *ans)
{
    struct rd_cluster *cl = wr->cl;
    char text[RD_ID_SIZE];

    switch (wr->kind) {
    case WRITE_REGISTER:
        if (!kv || kv->create_revision <= 0) {
            ans->code = COAP_RESPONSE_CODE(503);
            ans->max_age = RETRY_AFTER;
            snprintf(ans->diag, sizeof(ans->diag), "cluster answer incomplete");
            return;
        }
        ans->code = COAP_RESPONSE_CODE_CREATED;
        ans->id = store_remote_id(cl->srv->store, (uint64_t)kv->create_revision);
        rd__id_format(ans->id, text);
        rd__log(cl->srv, RD_LOG_INFO, "cluster: %s ep=%s d=%s location=/rd/%s revision=%" PRId64,
                kv->create_revision == r->revision ? "registered" : "re-registered", wr->ep, wr->d,
                text, r->revision);
        return;
    case WRITE_UPDATE:
    case WRITE_REMOVE:
        if (!r->succeeded) {
            ans->code = COAP_RESPONSE_CODE_NOT_FOUND;
            snprintf(ans->diag, sizeof(ans->diag), "no such registration");
            return;
        }
        ans->code =
            wr->kind == WRITE_UPDATE ? COAP_RESPONSE_CODE_CHANGED : COAP_RESPONSE_CODE_DELETED;
        rd__log(cl->srv, wr->kind == WRITE_UPDATE ? RD_LOG_DEBUG : RD_LOG_INFO,
                "cluster: %s of ep=%s d=%s committed at revision %" PRId64, kind_names[wr->kind],
                wr->ep, wr->d, r->revision);
        return;
    }
}

/* Answer @p wr: @p rc not RD_OK means etcd did not commit; else from @p r and @p kv. */
static void
answer_one(struct rd_cluster_write *wr, int rc, const struct cluster_resp *r,
           const struct cluster_kv *kv)
{
    struct rd_cluster *cl = wr->cl;
    struct answer *ans = calloc(1, sizeof(*ans));

    if (!ans) {
        /* A parked request stays unanswered: the client's retransmission finds it parked. */
        rd__log(cl->srv, RD_LOG_ERROR, "cluster: out of memory answering a %s",
                kind_names[wr->kind]);
        if (wr->to.fn) {
            wr->to.fn(cl->srv, wr->to.arg, COAP_RESPONSE_CODE(503), "out of memory");
        }
    } else if (rc) {
        ans->code = COAP_RESPONSE_CODE(503);
        ans->max_age = RETRY_AFTER;
        snprintf(ans->diag, sizeof(ans->diag), "cluster cannot commit now");
        complete(cl, &wr->to, ans);
    } else {
        committed(wr, r, kv, ans);
        answer_when_applied(cl, &wr->to, r->revision, ans);
    }
}

/* The range a batched transaction ran for @p wr: the @p i-th, if it names its key. */
static const struct cluster_kv *
kv_of(const struct cluster_resp *r, size_t i, const struct rd_cluster_write *wr)
{
    const struct cluster_kv *kv = i < r->nkvs ? &r->kvs[i] : NULL;

    if (!kv || !wr->key || kv->key_len != wr->key_len || memcmp(kv->key, wr->key, wr->key_len)) {
        return NULL;
    }
    return kv;
}

/* etcd's answer to the transaction of the writes listed from @p arg. */
static void
on_written(void *arg, const struct cluster_result *res)
{
    struct rd_cluster_write *wr = arg;
    struct rd_cluster *cl = wr->cl;
    struct cluster_resp r;
    int rc = res->rc;
    size_t i = 0;

    memset(&r, 0, sizeof(r));
    if (!rc) {
        rc = cluster_resp_parse(res->body, res->len, &r);
    }
    if (!rc && (res->http != 200 || r.error[0])) {
        rc = RD_ESTORE;
    }
    if (rc) {
        rd__cluster_unreachable(cl, res, kind_names[wr->kind]);
    } else {
        cl->connected = 1;
    }
    while (wr) {
        struct rd_cluster_write *next = wr->next;

        answer_one(wr, rc, &r, wr->kind == WRITE_REGISTER ? kv_of(&r, i++, wr) : NULL);
        write_free(wr);
        wr = next;
    }
    cluster_resp_cleanup(&r);
}

/* Answer 5.03 to the writes listed from @p wr that never reached etcd, and free them. */
static void
refuse_all(struct rd_cluster_write *wr)
{
    while (wr) {
        struct rd_cluster_write *next = wr->next;

        answer_one(wr, RD_ESTORE, NULL, NULL);
        write_free(wr);
        wr = next;
    }
}

/* Tie @p wr to whoever waits for it: the function rd__cluster_then() named, else the
 * handler's request, parked. @return RD_OK; RD_ESTORE or RD_ENOMEM (nothing parked). */
static int
take_target(struct rd_cluster *cl, struct rd_cluster_write *wr)
{
    int rc;

    wr->to.fn = cl->then_fn;
    wr->to.arg = cl->then_arg;
    cl->then_fn = NULL;
    cl->then_arg = NULL;
    if (!wr->to.fn && cl->cur_session) {
        rc = rd__defer_park(cl->srv, cl->cur_session, cl->cur_request, &wr->to.ticket);
        if (rc) {
            return rc == RD_EINVAL ? RD_ESTORE : rc;
        }
        cl->parked = 1;
    }
    return RD_OK;
}

/* What a write that has its target returns to rd__reg_save()'s caller. */
static int
taken(const struct rd_cluster_write *wr)
{
    return wr->to.ticket ? RD_CLUSTER_PARKED : RD_OK;
}

/* Send the transaction @p body for the single write @p wr. */
static int
send_write(struct rd_cluster *cl, struct rd_cluster_write *wr, const char *body)
{
    int rc = take_target(cl, wr);
    int ret;

    if (rc) {
        write_free(wr);
        return rc;
    }
    ret = taken(wr);
    if (cluster_etcd_post(cl->etcd, "/v3/kv/txn", body, on_written, wr)) {
        refuse_all(wr);
    }
    return ret;
}

void
rd__cluster_writes_flush(struct rd_cluster *cl)
{
    struct rd_cluster_write *head = cl->batch;
    struct cluster_op *ops;
    char *body = NULL;
    size_t n = 0;

    if (!head) {
        return;
    }
    cl->batch = NULL;
    cl->nbatch = 0;
    ops = calloc(2 * BATCH_MAX, sizeof(*ops));
    for (struct rd_cluster_write *wr = head; ops && wr; wr = wr->next) {
        struct cluster_op put = {
            CLUSTER_OP_PUT, wr->key, wr->key_len, wr->value, wr->value_len, 0
        };
        struct cluster_op get = { CLUSTER_OP_RANGE, wr->key, wr->key_len, NULL, 0, 0 };

        ops[n++] = put;
        ops[n++] = get;
    }
    if (!ops || cluster_req_txn(NULL, 0, ops, n, NULL, 0, &body) ||
        cluster_etcd_post(cl->etcd, "/v3/kv/txn", body, on_written, head)) {
        refuse_all(head);
    }
    free(body);
    free(ops);
}

/* Add a registration to this turn's transaction; the turn's end (or a full batch, or the same
 * key twice, which etcd refuses in one transaction) sends it. */
static int
batch_add(struct rd_cluster *cl, struct rd_cluster_write *wr)
{
    struct rd_cluster_write **tail = &cl->batch;
    int rc = take_target(cl, wr);
    int ret;

    if (rc) {
        write_free(wr);
        return rc;
    }
    ret = taken(wr);
    while (*tail) {
        if ((*tail)->key_len == wr->key_len && memcmp((*tail)->key, wr->key, wr->key_len) == 0) {
            rd__cluster_writes_flush(cl);
            tail = &cl->batch;
            break;
        }
        tail = &(*tail)->next;
    }
    *tail = wr;
    if (++cl->nbatch == BATCH_MAX) {
        rd__cluster_writes_flush(cl);
    }
    return ret;
}

static struct rd_cluster_write *
write_new(struct rd_cluster *cl, enum write_kind kind, const char *ep, const char *d)
{
    struct rd_cluster_write *wr = calloc(1, sizeof(*wr));

    if (wr) {
        wr->cl = cl;
        wr->kind = kind;
        snprintf(wr->ep, sizeof(wr->ep), "%s", ep);
        snprintf(wr->d, sizeof(wr->d), "%s", d);
    }
    return wr;
}

/* Send @p op on @p wr's key if the key still holds registration @p seq: an update or removal
 * must find the very registration it names, not one made since under the same name after a
 * removal. Takes @p wr. */
static int
send_compared(struct rd_cluster *cl, struct rd_cluster_write *wr, uint64_t seq,
              const struct cluster_op *op)
{
    struct cluster_cmp same = { wr->key, wr->key_len, CLUSTER_CMP_CREATE, (int64_t)seq };
    char *body = NULL;
    int rc = cluster_req_txn(&same, 1, op, 1, NULL, 0, &body);

    if (rc) {
        write_free(wr);
        return rc;
    }
    rc = send_write(cl, wr, body);
    free(body);
    return rc;
}

int
rd__cluster_save(struct rd_server *srv, const struct rd_reg_write *w, uint64_t replace_id,
                 const void *rec, size_t rec_len)
{
    struct rd_cluster *cl = srv->cluster;
    struct cluster_value v = { w->expires_at, w->ep, w->d, w->source, rec, rec_len };
    struct rd_cluster_write *wr =
        write_new(cl, replace_id ? WRITE_UPDATE : WRITE_REGISTER, w->ep, w->d);
    uint64_t seq = 0;
    int rc = wr ? RD_OK : RD_ENOMEM;

    if (!rc) {
        rc = cluster_value_encode(&v, &wr->value, &wr->value_len);
    }
    if (!rc) {
        rc = rd__cluster_reg_key(cl, w->d, w->ep, &wr->key, &wr->key_len);
    }
    if (!rc && replace_id) {
        rc = store_remote_seq(srv->store, replace_id, &seq);
    }
    if (rc) {
        if (wr) {
            write_free(wr);
        }
        return rc;
    }
    if (!replace_id) {
        return batch_add(cl, wr);
    }
    {
        struct cluster_op put = {
            CLUSTER_OP_PUT, wr->key, wr->key_len, wr->value, wr->value_len, 0
        };

        return send_compared(cl, wr, seq, &put);
    }
}

int
rd__cluster_remove(struct rd_server *srv, uint64_t id, const char *ep, const char *d)
{
    struct rd_cluster *cl = srv->cluster;
    struct rd_cluster_write *wr = write_new(cl, WRITE_REMOVE, ep, d);
    uint64_t seq = 0;
    int rc = wr ? RD_OK : RD_ENOMEM;

    if (!rc) {
        rc = store_remote_seq(srv->store, id, &seq);
    }
    if (!rc) {
        rc = rd__cluster_reg_key(cl, d, ep, &wr->key, &wr->key_len);
    }
    if (rc) {
        if (wr) {
            write_free(wr);
        }
        return rc;
    }
    {
        struct cluster_op del = { CLUSTER_OP_DELETE, wr->key, wr->key_len, NULL, 0, 0 };

        return send_compared(cl, wr, seq, &del);
    }
}

void
rd__cluster_writes_cleanup(struct rd_cluster *cl)
{
    struct rd_cluster_write *batch = cl->batch;

    cl->batch = NULL;
    cl->nbatch = 0;
    refuse_all(batch);
    release_waits(cl, 0, 0, 1);
    free(cl->waits);
    cl->waits = NULL;
    cl->waits_cap = 0;
}
