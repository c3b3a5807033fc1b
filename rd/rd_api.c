/* The HTTP JSON API (docs/openapi.yaml): RFC 9176 section 6 endpoint and resource lookups with
 * their filters and paging, one registration by its location, the counts and the document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "lookup.h"
#include "rd_api.h"
#include "rd_dashboard.h"
#include "rd_http.h"
#include "rd_lookup.h"
#include "rd_metrics.h"
#include "rd_pages.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"

/* Matches one API answer lists without count: enough for a screen, bounded in size. */
#define API_COUNT_DEFAULT 100
#define API_COUNT_MAX     1000

#define API_ENDPOINTS "/api/endpoints"
#define API_RESOURCES "/api/resources"

/* How many matches the last API lookup had, until the directory changes: with it, a page walks
 * the registrations up to its end only, not all of them (the dashboard asks often). */
struct rd_api {
    int valid;
    uint64_t gen; /* srv->lookup_gen it was counted at */
    struct rd_lookup_key key;
    uint64_t total;
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

struct api_page {
    enum lookup_kind kind;
    json_t *list;
    int64_t now;
};

/* rd_lookup_emit_fn: one match of the page as JSON. */
static int
emit(void *arg, const struct lookup_regview *view, size_t link, int64_t expires_at)
{
    struct api_page *page = arg;
    json_t *item = page->kind == LOOKUP_KIND_EP ? endpoint_json(view, expires_at, page->now)
                                                : resource_json(view, link);

    if (!item || json_array_append_new(page->list, item)) {
        return RD_ENOMEM;
    }
    return RD_OK;
}

/* GET /api/endpoints or /api/resources?<lookup filters>[&count=N&page=P]: the lookup of
 * rd-lookup/ep or rd-lookup/res, through the same code, as JSON. */
static enum MHD_Result
api_lookup(struct rd_server *srv, struct MHD_Connection *conn, enum lookup_kind kind)
{
    struct rd_api *cached = srv->api;
    struct rd_http_query qc;
    struct lookup_query q;
    struct rd_lookup_walk walk;
    struct rd_lookup_key key;
    struct api_page page;
    char diag[LOOKUP_DIAG_SIZE];
    int known;
    int rc;

    rd__http_query(conn, &qc);
    if (qc.overflow) {
        return rd__http_error(conn, MHD_HTTP_BAD_REQUEST, "too many query parameters");
    }
    if (lookup_query_parse(&q, qc.q, qc.n, diag, sizeof(diag))) {
        return rd__http_error(conn, MHD_HTTP_BAD_REQUEST, diag);
    }
    if (!q.has_count) {
        q.count = API_COUNT_DEFAULT;
        q.has_count = 1;
    }
    if (q.count > API_COUNT_MAX) {
        q.count = API_COUNT_MAX;
    }
    page.kind = kind;
    page.list = json_array();
    page.now = rd__now();
    memset(&walk, 0, sizeof(walk));
    walk.all_links = 1;
    /* The total holds while no registration changed and no deadline passed. */
    known = rd__lookup_key(kind, 0, qc.q, qc.n, 0, &key) == RD_OK;
    walk.count_all =
        !(known && cached->valid && cached->gen == srv->lookup_gen && page.now < srv->next_expiry &&
          cached->key.len == key.len && memcmp(cached->key.text, key.text, key.len) == 0);
    rc = page.list ? rd__lookup_walk(srv, kind, &q, emit, &page, &walk) : RD_ENOMEM;
    if (rc) {
        json_decref(page.list);
        return rd__http_error(
            conn, rc == RD_ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_SERVICE_UNAVAILABLE,
            rc == RD_ENOMEM ? "out of memory" : "store unavailable");
    }
    if (!walk.count_all) {
        walk.total = cached->total;
    } else if (known && page.now < srv->next_expiry) {
        cached->valid = 1;
        cached->gen = srv->lookup_gen;
        cached->key = key;
        cached->total = walk.total;
    }
    return rd__http_json(conn, MHD_HTTP_OK,
                         json_pack("{s:I, s:I, s:I, s:I, s:o}", "now", (json_int_t)page.now,
                                   "total", (json_int_t)walk.total, "page", (json_int_t)q.page,
                                   "count", (json_int_t)q.count,
                                   kind == LOOKUP_KIND_EP ? "endpoints" : "resources", page.list));
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
rd__api_serve(struct rd_server *srv, struct MHD_Connection *conn, const char *url)
{
    const struct rd_dashboard_file *doc;

    if (strcmp(url, API_ENDPOINTS) == 0) {
        return api_lookup(srv, conn, LOOKUP_KIND_EP);
    }
    if (strcmp(url, API_RESOURCES) == 0) {
        return api_lookup(srv, conn, LOOKUP_KIND_RES);
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
    return srv->api ? RD_OK : RD_ENOMEM;
}

void
rd__api_cleanup(struct rd_server *srv)
{
    free(srv->api);
    srv->api = NULL;
}
