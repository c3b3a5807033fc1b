/* Counters, gauges and latency histograms of the server, in the Prometheus text format, also
 * served over CoAP as GET /metrics (text/plain). Single-threaded: plain integers suffice. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_auth.h"
#include "rd_block.h"
#include "rd_cluster.h"
#include "rd_http.h"
#include "rd_log.h"
#include "rd_metrics.h"
#include "rd_observe.h"
#include "rd_request.h"
#include "rd_respond.h"
#include "rd_server.h"
#include "rd_status.h"
#include "store.h"

/* Distinct response codes remembered per interface; CoAP has fewer than this in use. */
#define CODES_MAX 24
/* Handlers one server registers. */
#define HANDLERS_MAX 32
/* Upper bounds of the latency buckets, in microseconds; the last bucket is +Inf. */
#define NBUCKETS 11
/* Registrations over time: a sample every SAMPLE_S seconds, the last HISTORY of them. */
#define SAMPLE_S 10
#define HISTORY  360
/* Above this many stored registrations the sample counts no resources: decoding every record
 * every SAMPLE_S seconds would stall the loop. */
#define RESOURCES_SCAN_MAX 50000
/* Largest exposition over CoAP or HTTP. */
#define RENDER_MAX (256 * 1024)

static const uint32_t bucket_us[NBUCKETS] = { 100,   250,   500,   1000,   2500,   5000,
                                              10000, 25000, 50000, 100000, 1000000 };

static const char *const iface_names[RD_IF_COUNT] = {
    "discovery", "registration", "registration_resource", "lookup_ep", "lookup_res",
    "simple",    "metrics",
};

struct iface_stats {
    uint8_t codes[CODES_MAX]; /* response codes as (class << 5 | detail); 0: separate answer */
    uint64_t by_code[CODES_MAX];
    size_t ncodes;
    uint64_t buckets[NBUCKETS + 1]; /* not cumulative; the last is over every bound */
    uint64_t sum_us;
    uint64_t count;
};

struct handler {
    coap_resource_t *r;
    coap_request_t method;
    coap_method_handler_t fn;
    enum rd_iface iface;
};

struct rd_metrics {
    struct iface_stats iface[RD_IF_COUNT];
    struct handler handlers[HANDLERS_MAX];
    size_t nhandlers;
    uint64_t expired;
    uint64_t dtls_ok;
    uint64_t dtls_failed;
    uint64_t http_requests;
    uint64_t limited[RD_BOUND_COUNT];
    uint64_t writes;         /* 2.01, 2.02 and 2.04 answers: the directory may have changed */
    uint64_t sampled_writes; /* writes + expired at the last sample */
    int64_t sampled_ms;      /* monotonic time of the last sample */
    int64_t started;
    struct rd_metrics_snapshot snap;
    int64_t hist_t[HISTORY];
    uint32_t hist_n[HISTORY];
    size_t hist_head; /* next slot to write */
    size_t hist_len;
};

/* Why a request was turned down, by its response code (RFC 7252 section 12.1.2). */
static const char *
reason_of(uint8_t code)
{
    switch (code) {
    case (4 << 5) | 0:
        return "bad_request";
    case (4 << 5) | 1:
        return "unauthorized";
    case (4 << 5) | 2:
        return "bad_option";
    case (4 << 5) | 3:
        return "forbidden";
    case (4 << 5) | 4:
        return "not_found";
    case (4 << 5) | 5:
        return "method_not_allowed";
    case (4 << 5) | 6:
        return "not_acceptable";
    case (4 << 5) | 8:
        return "request_entity_incomplete";
    case (4 << 5) | 9:
        return "conflict";
    case (4 << 5) | 12:
        return "precondition_failed";
    case (4 << 5) | 13:
        return "request_too_large";
    case (4 << 5) | 15:
        return "unsupported_content_format";
    case (4 << 5) | 29:
        return "too_many_requests";
    default:
        break;
    }
    if ((code >> 5) == 5) {
        return "server_error";
    }
    return (code >> 5) == 4 ? "other_client_error" : NULL;
}

static void
count_request(struct rd_metrics *m, enum rd_iface iface, uint8_t code, int64_t us)
{
    struct iface_stats *s = &m->iface[iface];
    size_t i;
    size_t b = 0;

    for (i = 0; i < s->ncodes && s->codes[i] != code; i++) {
    }
    if (i == s->ncodes && s->ncodes < CODES_MAX) {
        s->codes[s->ncodes++] = code;
    }
    if (i < CODES_MAX) {
        s->by_code[i]++;
    }
    while (b < NBUCKETS && us > (int64_t)bucket_us[b]) {
        b++;
    }
    s->buckets[b]++;
    if (code == ((2 << 5) | 1) || code == ((2 << 5) | 2) || code == ((2 << 5) | 4)) {
        m->writes++;
    }
    s->sum_us += us > 0 ? (uint64_t)us : 0;
    s->count++;
}

/* Every metered request comes here; the real handler is looked up by resource and method. */
static void
hnd_metered(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
            const coap_string_t *query, coap_pdu_t *response)
{
    struct rd_server *srv = coap_get_app_data(coap_session_get_context(session));
    struct rd_metrics *m = srv->metrics;
    coap_request_t method = (coap_request_t)coap_pdu_get_code(request);
    const struct handler *h = NULL;
    int64_t t0;

    for (size_t i = 0; i < m->nhandlers; i++) {
        if (m->handlers[i].r == resource && m->handlers[i].method == method) {
            h = &m->handlers[i];
            break;
        }
    }
    if (!h) {
        rd__respond_error(response, COAP_RESPONSE_CODE_NOT_ALLOWED, NULL);
        return;
    }
    t0 = rd__now_us();
    /* What the handler logs is this source's doing, and counts against its log budget. */
    rd__log_source(srv, &coap_session_get_addr_remote(session)->addr.sa);
    rd__request_begin(request);
    if (rd__refuse_conditional(h->iface, request, response) == RD_OK) {
        h->fn(resource, session, request, query, response);
    }
    rd__request_done();
    rd__log_source(srv, NULL);
    count_request(m, h->iface, (uint8_t)coap_pdu_get_code(response), rd__now_us() - t0);
}

void
rd__handler_add(struct rd_server *srv, coap_resource_t *r, coap_request_t method,
                coap_method_handler_t handler, enum rd_iface iface)
{
    struct rd_metrics *m = srv->metrics;

    /* Without room to remember it, the handler still serves, uncounted. */
    if (!m || m->nhandlers == HANDLERS_MAX) {
        coap_register_request_handler(r, method, handler);
        return;
    }
    m->handlers[m->nhandlers].r = r;
    m->handlers[m->nhandlers].method = method;
    m->handlers[m->nhandlers].fn = handler;
    m->handlers[m->nhandlers].iface = iface;
    m->nhandlers++;
    coap_register_request_handler(r, method, hnd_metered);
}

/* DTLS handshakes as libcoap reports them. */
static int
on_event(coap_session_t *session, coap_event_t event)
{
    struct rd_server *srv = coap_get_app_data(coap_session_get_context(session));

    if (!srv || !srv->metrics) {
        return 0;
    }
    if (event == COAP_EVENT_DTLS_CONNECTED) {
        srv->metrics->dtls_ok++;
    } else if (event == COAP_EVENT_DTLS_ERROR) {
        srv->metrics->dtls_failed++;
    }
    return 0;
}

static void
hnd_get_metrics(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                const coap_string_t *query, coap_pdu_t *response)
{
    struct rd_server *srv = coap_get_app_data(coap_session_get_context(session));
    struct lookup_buf buf;

    /* The figures describe the directory: the same rule as lookups (RFC 9176 section 7). */
    if (rd__auth_read(srv, session, response)) {
        return;
    }
    /* A later block comes from the answer its first block was cut from: the figures move. */
    if (rd__block2_continue(srv, session, request, response)) {
        return;
    }
    lookup_buf_init(&buf, RENDER_MAX);
    if (rd__metrics_render(srv, &buf)) {
        lookup_buf_cleanup(&buf);
        rd__respond_error(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "metrics unavailable");
        return;
    }
    rd__respond_body(resource, session, request, query, response, &buf, COAP_MEDIATYPE_TEXT_PLAIN);
}

int
rd__metrics_init(struct rd_server *srv)
{
    coap_resource_t *r;

    srv->metrics = calloc(1, sizeof(*srv->metrics));
    if (!srv->metrics) {
        return RD_ENOMEM;
    }
    srv->metrics->started = rd__now();
    coap_register_event_handler(srv->ctx, on_event);
    r = coap_resource_init(coap_make_str_const("metrics"), 0);
    if (!r) {
        return RD_ENOMEM;
    }
    rd__handler_add(srv, r, COAP_REQUEST_GET, hnd_get_metrics, RD_IF_METRICS);
    coap_add_resource(srv->ctx, r);
    return RD_OK;
}

void
rd__metrics_cleanup(struct rd_server *srv)
{
    free(srv->metrics);
    srv->metrics = NULL;
}

void
rd__metrics_expired(struct rd_server *srv, size_t n)
{
    if (srv->metrics) {
        srv->metrics->expired += n;
    }
}

void
rd__metrics_http(struct rd_server *srv)
{
    if (srv->metrics) {
        srv->metrics->http_requests++;
    }
}

struct tally {
    size_t regs;
    size_t links;
};

/* store_reg_fn: count a live registration and its links. */
static int
tally_reg(void *arg, const struct store_reg *reg)
{
    struct tally *t = arg;
    struct lookup_reg rec;

    t->regs++;
    if (lookup_reg_decode(&rec, reg->data, reg->data_len) == RD_OK) {
        t->links += rec.nlinks;
        lookup_reg_cleanup(&rec);
    }
    return 0;
}

/* Count live registrations and their links now. */
static void
sample(struct rd_server *srv, int64_t now)
{
    struct rd_metrics *m = srv->metrics;
    struct rd_metrics_snapshot *s = &m->snap;
    struct tally t = { 0, 0 };

    if (store_info(srv->store, &s->store)) {
        return;
    }
    s->at = now;
    m->sampled_ms = rd__now_ms();
    m->sampled_writes = m->writes + m->expired;
    if (s->store.registrations <= RESOURCES_SCAN_MAX &&
        store_reg_foreach(srv->store, now, 0, tally_reg, &t) == RD_OK) {
        s->registrations = t.regs;
        s->resources = t.links;
    } else {
        /* Stored registrations include expired ones in their grace period: an upper bound. */
        s->registrations = s->store.registrations;
        s->resources = SIZE_MAX;
    }
}

void
rd__metrics_tick(struct rd_server *srv, int64_t now)
{
    struct rd_metrics *m = srv->metrics;

    rd__log_flush(srv, rd__now_ms());
    if (!m || now - m->hist_t[(m->hist_head + HISTORY - 1) % HISTORY] < SAMPLE_S) {
        return;
    }
    sample(srv, now);
    m->hist_t[m->hist_head] = now;
    m->hist_n[m->hist_head] = (uint32_t)m->snap.registrations;
    m->hist_head = (m->hist_head + 1) % HISTORY;
    if (m->hist_len < HISTORY) {
        m->hist_len++;
    }
}

const struct rd_metrics_snapshot *
rd__metrics_snapshot(struct rd_server *srv)
{
    struct rd_metrics *m = srv->metrics;

    /* Current figures after any change; otherwise at most one recount a second, so a client
     * polling GET /metrics cannot make the server scan the store continuously. */
    if (m->snap.at == 0 || m->writes + m->expired != m->sampled_writes ||
        rd__now_ms() - m->sampled_ms >= 1000) {
        sample(srv, rd__now());
    }
    return &m->snap;
}

void
rd__metrics_history(const struct rd_server *srv, void (*fn)(void *arg, int64_t t, size_t n),
                    void *arg)
{
    const struct rd_metrics *m = srv->metrics;
    size_t start = (m->hist_head + HISTORY - m->hist_len) % HISTORY;

    for (size_t i = 0; i < m->hist_len; i++) {
        size_t k = (start + i) % HISTORY;

        fn(arg, m->hist_t[k], m->hist_n[k]);
    }
}

static int put(struct lookup_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
put(struct lookup_buf *out, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return RD_ETOOBIG;
    }
    return lookup_buf_append(out, line, (size_t)n);
}

static int
render_requests(const struct rd_metrics *m, struct lookup_buf *out)
{
    int rc = put(out, "# HELP core_rd_requests_total CoAP requests by interface and response "
                      "code (0.00: answered separately).\n"
                      "# TYPE core_rd_requests_total counter\n");

    for (int i = 0; i < RD_IF_COUNT && !rc; i++) {
        for (size_t c = 0; c < m->iface[i].ncodes && !rc; c++) {
            uint8_t code = m->iface[i].codes[c];

            rc = put(out, "core_rd_requests_total{interface=\"%s\",code=\"%u.%02u\"} %llu\n",
                     iface_names[i], code >> 5, code & 31,
                     (unsigned long long)m->iface[i].by_code[c]);
        }
    }
    if (!rc) {
        rc = put(out, "# HELP core_rd_rejected_total Requests answered with 4.xx or 5.xx, by "
                      "reason.\n# TYPE core_rd_rejected_total counter\n");
    }
    for (int i = 0; i < RD_IF_COUNT && !rc; i++) {
        for (size_t c = 0; c < m->iface[i].ncodes && !rc; c++) {
            const char *reason = reason_of(m->iface[i].codes[c]);

            if (reason) {
                rc = put(out, "core_rd_rejected_total{interface=\"%s\",reason=\"%s\"} %llu\n",
                         iface_names[i], reason, (unsigned long long)m->iface[i].by_code[c]);
            }
        }
    }
    return rc;
}

static const char *const bound_names[RD_BOUND_COUNT] = {
    "simple_fetches_per_source", "simple_fetches", "simple_self",
    "write_rate_limit",          "log_rate_limit", "http_connections",
};

/* What each configured bound holds now and how often it said no. */
static int
render_bounds(struct rd_server *srv, struct lookup_buf *out)
{
    const struct rd_metrics *m = srv->metrics;
    int rc = put(out,
                 "# HELP core_rd_simple_fetches Simple registrations waiting for their endpoint "
                 "(bounded by simple_fetches).\n"
                 "# TYPE core_rd_simple_fetches gauge\ncore_rd_simple_fetches %zu\n"
                 "# HELP core_rd_http_connections Open HTTP connections (bounded by "
                 "http_connections).\n"
                 "# TYPE core_rd_http_connections gauge\ncore_rd_http_connections %u\n"
                 "# HELP core_rd_limited_total Requests refused, connections turned away and log "
                 "lines suppressed, by the bound that did it.\n"
                 "# TYPE core_rd_limited_total counter\n",
                 srv->nfetches, rd__http_connections(srv));

    for (int i = 0; i < RD_BOUND_COUNT && !rc; i++) {
        rc = put(out, "core_rd_limited_total{bound=\"%s\"} %llu\n", bound_names[i],
                 (unsigned long long)m->limited[i]);
    }
    return rc;
}

void
rd__metrics_limited(struct rd_server *srv, enum rd_bound b)
{
    if (srv->metrics && b < RD_BOUND_COUNT) {
        srv->metrics->limited[b]++;
    }
}

static int
render_latency(const struct rd_metrics *m, struct lookup_buf *out)
{
    int rc = put(out, "# HELP core_rd_request_duration_seconds Time handlers took, by "
                      "interface.\n# TYPE core_rd_request_duration_seconds histogram\n");

    for (int i = 0; i < RD_IF_COUNT && !rc; i++) {
        const struct iface_stats *s = &m->iface[i];
        uint64_t cum = 0;

        for (int b = 0; b < NBUCKETS && !rc; b++) {
            cum += s->buckets[b];
            rc = put(out,
                     "core_rd_request_duration_seconds_bucket{interface=\"%s\",le=\"%g\"} %llu\n",
                     iface_names[i], bucket_us[b] / 1e6, (unsigned long long)cum);
        }
        if (!rc) {
            rc = put(out,
                     "core_rd_request_duration_seconds_bucket{interface=\"%s\",le=\"+Inf\"} %llu\n"
                     "core_rd_request_duration_seconds_sum{interface=\"%s\"} %.6f\n"
                     "core_rd_request_duration_seconds_count{interface=\"%s\"} %llu\n",
                     iface_names[i], (unsigned long long)s->count, iface_names[i], s->sum_us / 1e6,
                     iface_names[i], (unsigned long long)s->count);
        }
    }
    return rc;
}

/* Memory held for block-wise transfers in progress (rd_block1.c, rd_block2.c). */
static int
render_blockwise(const struct rd_server *srv, struct lookup_buf *out)
{
    size_t answers, answer_bytes, bodies, body_bytes;
    uint64_t hits, evicted;

    rd__block2_stats(srv, &answers, &answer_bytes, &hits, &evicted);
    rd__b1_stats(srv, &bodies, &body_bytes);
    return put(out,
               "# HELP core_rd_answers_kept Answers of several Block2 blocks kept for their later "
               "blocks.\n# TYPE core_rd_answers_kept gauge\ncore_rd_answers_kept %zu\n"
               "# HELP core_rd_answers_kept_bytes Their bytes (at most answer_memory).\n"
               "# TYPE core_rd_answers_kept_bytes gauge\ncore_rd_answers_kept_bytes %zu\n"
               "# HELP core_rd_answer_blocks_total Later Block2 blocks cut from a kept answer.\n"
               "# TYPE core_rd_answer_blocks_total counter\ncore_rd_answer_blocks_total %llu\n"
               "# HELP core_rd_answers_evicted_total Kept answers dropped to make room.\n"
               "# TYPE core_rd_answers_evicted_total counter\ncore_rd_answers_evicted_total %llu\n"
               "# HELP core_rd_block1_bodies Block1 request bodies being received.\n"
               "# TYPE core_rd_block1_bodies gauge\ncore_rd_block1_bodies %zu\n"
               "# HELP core_rd_block1_bytes Their bytes so far.\n"
               "# TYPE core_rd_block1_bytes gauge\ncore_rd_block1_bytes %zu\n",
               answers, answer_bytes, (unsigned long long)hits, (unsigned long long)evicted, bodies,
               body_bytes);
}

int
rd__metrics_render(struct rd_server *srv, struct lookup_buf *out)
{
    const struct rd_metrics_snapshot *s = rd__metrics_snapshot(srv);
    const struct rd_metrics *m = srv->metrics;
    int rc;

    rc = put(out,
             "# HELP core_rd_build_info Version of this server.\n"
             "# TYPE core_rd_build_info gauge\ncore_rd_build_info{version=\"%s\"} 1\n"
             "# HELP core_rd_start_time_seconds When the server started, since the epoch.\n"
             "# TYPE core_rd_start_time_seconds gauge\ncore_rd_start_time_seconds %lld\n"
             "# HELP core_rd_registrations Live registrations.\n"
             "# TYPE core_rd_registrations gauge\ncore_rd_registrations %zu\n"
             "# HELP core_rd_registrations_stored Stored registrations, with expired ones still "
             "in their grace period.\n"
             "# TYPE core_rd_registrations_stored gauge\ncore_rd_registrations_stored %zu\n",
             RD_VERSION, (long long)m->started, s->registrations, s->store.registrations);
    if (!rc && s->resources != SIZE_MAX) {
        rc = put(out,
                 "# HELP core_rd_resources Links of live registrations.\n"
                 "# TYPE core_rd_resources gauge\ncore_rd_resources %zu\n",
                 s->resources);
    }
    if (!rc) {
        rc = put(out,
                 "# HELP core_rd_expired_total Registrations collected after their lifetime and "
                 "grace period.\n# TYPE core_rd_expired_total counter\ncore_rd_expired_total "
                 "%llu\n"
                 "# HELP core_rd_dtls_handshakes_total DTLS handshakes by result.\n"
                 "# TYPE core_rd_dtls_handshakes_total counter\n"
                 "core_rd_dtls_handshakes_total{result=\"ok\"} %llu\n"
                 "core_rd_dtls_handshakes_total{result=\"failed\"} %llu\n",
                 (unsigned long long)m->expired, (unsigned long long)m->dtls_ok,
                 (unsigned long long)m->dtls_failed);
    }
    if (!rc) {
        rc = put(out,
                 "# HELP core_rd_store_used_bytes Bytes of the database in use.\n"
                 "# TYPE core_rd_store_used_bytes gauge\ncore_rd_store_used_bytes %llu\n"
                 "# HELP core_rd_store_map_bytes Most bytes the database may use (map_size).\n"
                 "# TYPE core_rd_store_map_bytes gauge\ncore_rd_store_map_bytes %llu\n"
                 "# HELP core_rd_store_map_usage_ratio Used bytes over map_size.\n"
                 "# TYPE core_rd_store_map_usage_ratio gauge\ncore_rd_store_map_usage_ratio "
                 "%.6f\n"
                 "# HELP core_rd_http_requests_total Requests to the HTTP listener.\n"
                 "# TYPE core_rd_http_requests_total counter\ncore_rd_http_requests_total %llu\n",
                 (unsigned long long)s->store.used_bytes, (unsigned long long)s->store.map_size,
                 s->store.map_size ? (double)s->store.used_bytes / (double)s->store.map_size : 0.0,
                 (unsigned long long)m->http_requests);
    }
    if (!rc) {
        rc = render_bounds(srv, out);
    }
    if (!rc) {
        rc = render_blockwise(srv, out);
    }
    if (!rc) {
        rc = render_requests(m, out);
    }
    if (!rc) {
        rc = render_latency(m, out);
    }
    if (!rc) {
        rc = rd__observe_metrics(srv, out);
    }
    if (!rc) {
        rc = rd__cluster_metrics(srv, out);
    }
    return rc;
}
