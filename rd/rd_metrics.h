/* What rd_metrics.c offers the rest of rd/. Counters, gauges and latency histograms of the
 * server, in the Prometheus text format, also served over CoAP as GET /metrics (text/plain). */
#ifndef RD_METRICS_H
#define RD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "store.h"

struct rd_server;

/** The interfaces requests are counted by (labels of the metrics). */
enum rd_iface {
    RD_IF_DISCOVERY = 0, /**< /.well-known/core */
    RD_IF_REGISTRATION,  /**< POST /rd */
    RD_IF_REG_RESOURCE,  /**< /rd/<id> and any other unknown path */
    RD_IF_LOOKUP_EP,     /**< /rd-lookup/ep */
    RD_IF_LOOKUP_RES,    /**< /rd-lookup/res */
    RD_IF_SIMPLE,        /**< POST /.well-known/rd */
    RD_IF_METRICS,       /**< GET /metrics over CoAP */
    RD_IF_COUNT,
};

/** Figures computed from the store for metrics and the dashboard. */
struct rd_metrics_snapshot {
    int64_t at;           /**< wall-clock second of the sample; 0 before the first */
    size_t registrations; /**< live */
    size_t resources;     /**< links of live registrations; SIZE_MAX when not counted */
    struct store_info store;
};

/** Allocate the counters, add the CoAP /metrics resource and count DTLS events.
 * @return RD_OK; RD_ENOMEM. */
int rd__metrics_init(struct rd_server *srv);

/** Release the counters. Accepts a server without them. */
void rd__metrics_cleanup(struct rd_server *srv);

/**
 * Register @p handler for @p method on @p r, counted under @p iface: the request, its response
 * code and how long the handler took. Use instead of coap_register_request_handler().
 */
void rd__handler_add(struct rd_server *srv, coap_resource_t *r, coap_request_t method,
                     coap_method_handler_t handler, enum rd_iface iface);

/** Count @p n registrations collected by the expiry sweep. */
void rd__metrics_expired(struct rd_server *srv, size_t n);

/** Count one HTTP request (any path). */
void rd__metrics_http(struct rd_server *srv);

/** Sample the store (live registrations, resources, size) when the last sample is stale. */
void rd__metrics_tick(struct rd_server *srv, int64_t now);

/** The last sample (taken now if there is none yet). Borrowed from @p srv. */
const struct rd_metrics_snapshot *rd__metrics_snapshot(struct rd_server *srv);

/** Call @p fn with each kept sample (time, live registrations), oldest first. */
void rd__metrics_history(const struct rd_server *srv, void (*fn)(void *arg, int64_t t, size_t n),
                         void *arg);

/** Append the Prometheus text exposition (format 0.0.4) of every figure to @p out.
 * @return RD_OK; RD_ETOOBIG; RD_ENOMEM. */
int rd__metrics_render(struct rd_server *srv, struct lookup_buf *out);

/** The bounds whose refusals are counted (core_rd_limited_total{bound}). */
enum rd_bound {
    RD_BOUND_SIMPLE_PER_SOURCE = 0, /**< simple_fetches_per_source */
    RD_BOUND_SIMPLE_FETCHES,        /**< simple_fetches */
    RD_BOUND_SIMPLE_SELF,           /**< a simple registration from one of our own addresses */
    RD_BOUND_WRITE_RATE,            /**< write_rate_limit */
    RD_BOUND_LOG_LINES,             /**< log_rate_limit: one count per suppressed line */
    RD_BOUND_HTTP_CONNECTIONS,      /**< http_connections, http_connections_per_ip */
    RD_BOUND_COUNT,
};

/** Count one refusal (or suppressed log line) under bound @p b. */
void rd__metrics_limited(struct rd_server *srv, enum rd_bound b);

#endif
