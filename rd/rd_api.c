/* The HTTP JSON API (docs/openapi.yaml): RFC 9176 section 6 endpoint and resource lookups with
 * their filters and paging, one registration by its location, the counts and the document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "lookup.h"
#include "rd_api.h"
#include "rd_api_wait.h"
#include "rd_dashboard.h"
#include "rd_http.h"
#include "rd_log.h"
#include "rd_lookup.h"
#include "rd_lookup_job.h"
#include "rd_metrics.h"
#include "rd_pages.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"

/* Matches one API answer lists without count: enough for a screen, bounded in size. */
#define API_COUNT_DEFAULT 100
#define API_COUNT_MAX     1000

/* Largest JSON list of one answer (a thousand registrations of many links each). */
#define API_ANSWER_MAX (64 * 1024 * 1024)

#define API_ENDPOINTS "/api/endpoints"
#define API_RESOURCES "/api/resources"

/* How many matches the last API lookup had, until the directory changes: with it, a page walks
 * the registrations up to its end only, not all of them (the dashboard asks often). And the
 * requests whose lookups are on workers. */
struct rd_api {
    int valid;
    uint64_t gen; /* srv->lookup_gen it was counted at */
    struct rd_lookup_key key;
    uint64_t total;
    struct rd_api_waits *waits; /* requests suspended while a worker computes their lookup */
};

/* The target of link @p i resolved against the registration's base (as it is when it cannot). */
static void
resolved(const struct lookup_regview *v, size_t i, char *uri, size_t size)
{
    const char *target = v->rec->links[i].target;

    if (lookup_uri_resolve(v->rec->base, target, uri, size)) {
        snprintf(uri, size, "%s", target);
    }
}

/* One registration: identity, lifetime, deadline and resolved links. jansson escapes every
 * string; the dashboard shows them as text. */
static json_t *
endpoint_json(const struct lookup_regview *v, int64_t expires_at, int64_t now)
{
    json_t *links = json_array();
    char uri[LOOKUP_URI_MAX];

    for (size_t i = 0; links && i < v->rec->nlinks; i++) {
        const struct lookup_link *l = &v->rec->links[i];

        resolved(v, i, uri, sizeof(uri));
        json_array_append_new(links, json_pack("{s:s, s:o}", "href", uri, "attrs",
                                               rd__http_attrs_json(l->attrs, l->nattrs)));
    }
    /* The deadline is the last registration or refresh plus the lifetime. */
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o}", "href", v->href, "ep",
                     v->ep, "d", v->d, "base", v->rec->base, "lt", (json_int_t)v->rec->lt,
                     "expires_in", (json_int_t)(expires_at - now), "expires_at",
                     (json_int_t)expires_at, "refreshed_at",
                     (json_int_t)(expires_at - (int64_t)v->rec->lt), "attrs",
                     rd__http_attrs_json(v->rec->attrs, v->rec->nattrs), "links", links);
}

/* One resource of a resource lookup: the link, resolved, with its registration. */
static json_t *
resource_json(const struct lookup_regview *v, size_t i)
{
    const struct lookup_link *l = &v->rec->links[i];
    char uri[LOOKUP_URI_MAX];

    resolved(v, i, uri, sizeof(uri));
    return json_pack("{s:s, s:o, s:s, s:s, s:s, s:s}", "href", uri, "attrs",
                     rd__http_attrs_json(l->attrs, l->nattrs), "ep", v->ep, "d", v->d, "location",
                     v->href, "base", v->rec->base);
}

/* rd_lookup_emit_fn, with the job as @p arg: one match of the page as JSON, appended to the
 * job's answer (on a worker too: it reads only the view and writes only the job). */
static int
emit(void *arg, const struct lookup_regview *view, size_t link, int64_t expires_at)
{
    struct rd_lookup_job *j = arg;
    json_t *item = j->kind == LOOKUP_KIND_EP ? endpoint_json(view, expires_at, j->now)
                                             : resource_json(view, link);
    char *s = item ? json_dumps(item, JSON_COMPACT) : NULL;
    int rc = s ? RD_OK : RD_ENOMEM;

    json_decref(item);
    if (!rc && j->buf.len) {
        rc = lookup_buf_append(&j->buf, ",", 1);
    }
    if (!rc) {
        rc = lookup_buf_append(&j->buf, s, strlen(s));
    }
    free(s);
    return rc;
}

static void
free_job(void *job)
{
    rd__lookup_job_free(job);
}

/* rd_lookup_job_done_fn: a lookup back from a worker goes to its suspended request. */
static void
job_done(struct rd_server *srv, struct rd_lookup_job *j)
{
    if (!srv->api) {
        rd__lookup_job_free(j);
        return;
    }
    (void)rd__api_wait_complete(srv->api->waits, j->ticket, j, free_job);
}

/* The job of lookup @p qc as the API asks it: its page size, every interface's registrations,
 * JSON, and the total (known, or counted by the walk). Not remembered as a CoAP answer. */
static int
make_job(struct rd_server *srv, enum lookup_kind kind, const struct rd_http_query *qc,
         struct rd_lookup_job **out)
{
    struct rd_api *cached = srv->api;
    struct rd_lookup_job *j = NULL;
    struct rd_lookup_key key;
    int known;
    int rc = rd__lookup_job_new(srv, kind, 0, qc->q, qc->n, &j);

    if (rc) {
        return rc;
    }
    if (!j->q.has_count) {
        j->q.count = API_COUNT_DEFAULT;
        j->q.has_count = 1;
    }
    if (j->q.count > API_COUNT_MAX) {
        j->q.count = API_COUNT_MAX;
    }
    /* The page marks and answers kept are those of link-format lookups on one interface. */
    j->keep = 0;
    j->marking = 0;
    j->has_start = 0;
    lookup_buf_cleanup(&j->buf);
    lookup_buf_init(&j->buf, API_ANSWER_MAX);
    j->emit = emit;
    j->all_links = 1;
    j->done = job_done;
    /* The total holds while no registration changed and no deadline passed. */
    known = rd__lookup_key(kind, 0, qc->q, qc->n, 0, &key) == RD_OK;
    j->count_all =
        !(known && cached->valid && cached->gen == srv->lookup_gen && j->now < srv->next_expiry &&
          cached->key.len == key.len && memcmp(cached->key.text, key.text, key.len) == 0);
    if (!j->count_all) {
        j->total = cached->total;
    }
    *out = j;
    return RD_OK;
}

/* Answer the request from its computed lookup @p j (freed). */
static enum MHD_Result
answer(struct rd_server *srv, struct MHD_Connection *conn, struct rd_lookup_job *j)
{
    struct rd_api *cached = srv->api;
    struct rd_lookup_key key;
    char head[192];
    char *body = NULL;
    int n;

    if (j->over_budget) {
        rd__lookup_job_free(j);
        return rd__http_unavailable(conn, "lookup over its work budget: narrow it or page it",
                                    RD_LOOKUP_RETRY_S);
    }
    if (j->rc) {
        int rc = j->rc;

        rd__lookup_job_free(j);
        return rd__http_error(
            conn, rc == RD_ESTORE ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
            rc == RD_ESTORE    ? "store unavailable"
            : rc == RD_ETOOBIG ? "answer too large: use a smaller count"
                               : "out of memory");
    }
    /* Counted at a generation that still holds: the next page needs no count. */
    if (j->count_all && j->gen == srv->lookup_gen && rd__now() < srv->next_expiry &&
        rd__lookup_key(j->kind, 0, j->qp, j->nq, 0, &key) == RD_OK) {
        cached->valid = 1;
        cached->gen = j->gen;
        cached->key = key;
        cached->total = j->total;
    }
    /* What json_dumps(JSON_COMPACT) makes of the object, its list already rendered. */
    n = snprintf(head, sizeof(head),
                 "{\"now\":%lld,\"total\":%llu,\"page\":%lu,\"count\":%lu,\"%s\":[",
                 (long long)j->now, (unsigned long long)j->total, (unsigned long)j->q.page,
                 (unsigned long)j->q.count, j->kind == LOOKUP_KIND_EP ? "endpoints" : "resources");
    if (n > 0 && (size_t)n < sizeof(head)) {
        body = malloc((size_t)n + j->buf.len + 3);
    }
    if (!body) {
        rd__lookup_job_free(j);
        return rd__http_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    memcpy(body, head, (size_t)n);
    if (j->buf.len) {
        memcpy(body + n, j->buf.data, j->buf.len);
    }
    memcpy(body + (size_t)n + j->buf.len, "]}", 3);
    n += (int)j->buf.len + 2;
    rd__lookup_job_free(j);
    return rd__http_respond(conn, MHD_HTTP_OK, "application/json", body, (size_t)n, 1);
}

/* Compute @p j here, on the loop, and answer. */
static enum MHD_Result
answer_here(struct rd_server *srv, struct MHD_Connection *conn, struct rd_lookup_job *j)
{
    rd__lookup_compute(j);
    rd__lookup_job_finish(srv, j);
    return answer(srv, conn, j);
}

/* GET /api/endpoints or /api/resources?<lookup filters>[&count=N&page=P]: the lookup of
 * rd-lookup/ep or rd-lookup/res, through the same code, as JSON. As there, a lookup in a
 * directory of more than lookup_inline_max registrations that does not end within
 * lookup_inline_ms on the loop goes to a worker, its connection suspended meanwhile. */
static enum MHD_Result
api_lookup(struct rd_server *srv, struct MHD_Connection *conn, enum lookup_kind kind,
           void **req_cls)
{
    struct rd_http_query qc;
    struct lookup_query q;
    struct rd_lookup_job *j = NULL;
    char diag[LOOKUP_DIAG_SIZE];
    uint32_t budget;
    uint32_t inline_ms = srv->conf.lookup_inline_ms;
    int rc;

    rd__http_query(conn, &qc);
    if (qc.overflow) {
        return rd__http_error(conn, MHD_HTTP_BAD_REQUEST, "too many query parameters");
    }
    if (lookup_query_parse(&q, qc.q, qc.n, diag, sizeof(diag))) {
        return rd__http_error(conn, MHD_HTTP_BAD_REQUEST, diag);
    }
    rc = make_job(srv, kind, &qc, &j);
    if (rc) {
        return rd__http_error(
            conn, rc == RD_ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_SERVICE_UNAVAILABLE,
            rc == RD_ENOMEM ? "out of memory" : "store unavailable");
    }
    if (!rd__lookup_jobs_wanted(srv)) {
        return answer_here(srv, conn, j);
    }
    budget = j->budget_ms;
    if (inline_ms) {
        /* First a short try on the loop: most indexed lookups end within it. */
        j->budget_ms = budget && budget < inline_ms ? budget : inline_ms;
        rd__lookup_compute(j);
        if (!j->over_budget || j->budget_ms == budget) {
            rd__lookup_job_finish(srv, j);
            return answer(srv, conn, j);
        }
        rd__lookup_job_restart(j);
        j->budget_ms = budget;
    }
    if (rd__lookup_jobs_full(srv)) {
        rd__lookup_job_free(j);
        return rd__http_unavailable(conn, "too many lookups under way", RD_LOOKUP_RETRY_S);
    }
    if (rd__api_wait_park(srv->api->waits, conn, req_cls, &j->ticket)) {
        return answer_here(srv, conn, j);
    }
    rd__log(srv, RD_LOG_DEBUG, "http: lookup %lu on a worker", (unsigned long)j->ticket);
    rd__lookup_job_submit(srv, j);
    return MHD_YES;
}

enum MHD_Result
rd__api_resumed(struct rd_server *srv, struct MHD_Connection *conn, void **req_cls)
{
    struct rd_lookup_job *j = rd__api_wait_take(srv->api->waits, req_cls);

    if (!j) {
        return rd__http_unavailable(conn, "server stopping", RD_LOOKUP_RETRY_S);
    }
    return answer(srv, conn, j);
}

void
rd__api_closed(struct rd_server *srv, void **req_cls)
{
    if (srv->api) {
        rd__api_wait_closed(srv->api->waits, req_cls);
    }
}

void
rd__api_stop(struct rd_server *srv)
{
    if (srv->api) {
        rd__api_waits_stop(srv->api->waits);
    }
}

int
rd__api_take_kick(struct rd_server *srv)
{
    return srv->api && rd__api_waits_take_kick(srv->api->waits);
}

/* GET /api/endpoints/<location>, e.g. /api/endpoints/rd/4f2kq9xa: one live registration. */
static enum MHD_Result
api_endpoint(struct rd_server *srv, struct MHD_Connection *conn, const char *location)
{
    struct rd_lookup_reg reg;
    int64_t now = rd__now();
    uint64_t id;
    json_t *obj;

    if (strncmp(location, "rd/", 3) != 0 || rd__id_parse(location + 3, strlen(location + 3), &id)) {
        return rd__http_error(conn, MHD_HTTP_NOT_FOUND,
                              "no registration at that location: expected rd/<id>");
    }
    if (rd__lookup_get(srv, id, now, &reg)) {
        return rd__http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "store unavailable");
    }
    if (!reg.present) {
        return rd__http_error(conn, MHD_HTTP_NOT_FOUND, "no registration at that location");
    }
    obj = endpoint_json(&reg.view, reg.expires_at, now);
    rd__lookup_reg_cleanup(&reg);
    return rd__http_json(conn, MHD_HTTP_OK, obj);
}

static void
add_sample(void *arg, int64_t t, size_t n)
{
    json_array_append_new(arg, json_pack("[I, I]", (json_int_t)t, (json_int_t)n));
}

/* GET /api/stats: the dashboard's counts and its chart of registrations over time. */
static enum MHD_Result
api_stats(struct rd_server *srv, struct MHD_Connection *conn)
{
    const struct rd_metrics_snapshot *s = rd__metrics_snapshot(srv);
    json_t *hist = json_array();

    rd__metrics_history(srv, add_sample, hist);
    /* Right after a start no sample is kept yet: the chart starts from what the store holds. */
    if (hist && json_array_size(hist) == 0) {
        add_sample(hist, s->at ? s->at : rd__now(), s->registrations);
    }
    return rd__http_json(
        conn, MHD_HTTP_OK,
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "sampled_at", (json_int_t)s->at,
                  "registrations", (json_int_t)s->registrations, "stored",
                  (json_int_t)s->store.registrations, "resources",
                  s->resources == SIZE_MAX ? (json_int_t)-1 : (json_int_t)s->resources,
                  "store_used_bytes", (json_int_t)s->store.used_bytes, "store_map_bytes",
                  (json_int_t)s->store.map_size, "history", hist));
}

enum MHD_Result
rd__api_serve(struct rd_server *srv, struct MHD_Connection *conn, const char *url, void **req_cls)
{
    const struct rd_dashboard_file *doc;

    if (strcmp(url, API_ENDPOINTS) == 0) {
        return api_lookup(srv, conn, LOOKUP_KIND_EP, req_cls);
    }
    if (strcmp(url, API_RESOURCES) == 0) {
        return api_lookup(srv, conn, LOOKUP_KIND_RES, req_cls);
    }
    if (strncmp(url, API_ENDPOINTS "/", sizeof(API_ENDPOINTS)) == 0) {
        return api_endpoint(srv, conn, url + sizeof(API_ENDPOINTS));
    }
    if (strcmp(url, "/api/stats") == 0) {
        return api_stats(srv, conn);
    }
    doc = rd__dashboard_find(url);
    if (doc) {
        return rd__http_respond(conn, MHD_HTTP_OK, doc->type, (void *)(uintptr_t)doc->data,
                                doc->len, 0);
    }
    return rd__http_error(conn, MHD_HTTP_NOT_FOUND, "no such API path: see /api/openapi.yaml");
}

int
rd__api_init(struct rd_server *srv)
{
    srv->api = calloc(1, sizeof(*srv->api));
    if (!srv->api) {
        return RD_ENOMEM;
    }
    srv->api->waits = rd__api_waits_new();
    if (!srv->api->waits) {
        rd__api_cleanup(srv);
        return RD_ENOMEM;
    }
    return RD_OK;
}

void
rd__api_cleanup(struct rd_server *srv)
{
    if (srv->api) {
        rd__api_waits_free(srv->api->waits);
    }
    free(srv->api);
    srv->api = NULL;
}
