/* The server: libcoap context and endpoints, the run loop, expiry sweeps (RFC 9176 section 5.3)
 * and periodic flushes of the store. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat/rd_gate.h"
#include "compat/rd_gate_stream.h"
#include "lookup.h"
#include "rd.h"
#include "rd_amplification.h"
#include "rd_batch.h"
#include "rd_block.h"
#include "rd_cluster.h"
#include "rd_conf.h"
#include "rd_dedup.h"
#include "rd_defer.h"
#include "rd_discovery.h"
#include "rd_dtls.h"
#include "rd_echo.h"
#include "rd_feed.h"
#include "rd_flush.h"
#include "rd_http.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_lookup.h"
#include "rd_lookup_job.h"
#include "rd_loop.h"
#include "rd_metrics.h"
#include "rd_observe.h"
#include "rd_pages.h"
#include "rd_rank.h"
#include "rd_registration.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_simple.h"
#include "rd_status.h"
#include "rd_token.h"
#include "store.h"

/* Registrations collected per transaction, and the time one sweep may take before the loop
 * serves requests again: a mass expiry is collected in bounded steps between requests, so it
 * never holds a request back by more than about one budget. A slice also bounds how much of the
 * data file one transaction dirties (see store__write_begin). */
#define SWEEP_SLICE     64
#define SWEEP_BUDGET_MS 4
/* Longest wait in the I/O loop: the sweep and the flush run at least this often. */
#define LOOP_WAIT_MS 1000

/* Split "HOST:PORT" or "[V6]:PORT" into host and port; "*" or an empty host is any address. */
static int
split_listen(const char *spec, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hlen;

    if (!colon || colon[1] == '\0' || strlen(colon + 1) >= port_size) {
        return RD_EINVAL;
    }
    hlen = (size_t)(colon - spec);
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        h = spec + 1;
        hlen -= 2;
    }
    if (hlen >= host_size) {
        return RD_EINVAL;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, port_size, "%s", colon + 1);
    return RD_OK;
}

/* What the gate sees and the server acts on: an Echo value (the amplification limit), a Reset
 * (an observation it ends). */
static void
gate_echo_seen(void *arg, const struct sockaddr *from, const uint8_t *value, size_t len)
{
    rd__amp_echo_seen(arg, from, value, len);
}

static void
gate_reset_seen(void *arg, coap_proto_t proto, const struct sockaddr *peer, socklen_t peer_len,
                uint16_t mid)
{
    rd__observe_reset(arg, proto, peer, peer_len, mid);
}

/* Put the plain CoAP endpoint at @p addr behind the datagram gate (compat/rd_gate.c). */
static void
gate_add(struct rd_server *srv, const coap_address_t *addr)
{
    struct rd_gate_policy policy = { srv, gate_echo_seen, gate_reset_seen };

    if (rd__gate_add(srv, &policy, addr) == RD_OK) {
        return;
    }
    if (RD_GATE_INTERPOSE) {
        rd__log(srv, RD_LOG_WARN, "cannot find the endpoint's socket: its datagrams go unexamined");
    } else {
        rd__log(srv, RD_LOG_INFO, "libcoap %u: datagrams are not examined before it parses them",
                (unsigned)LIBCOAP_VERSION);
    }
}

/* The transports a listener may name (RFC 7252 section 6, RFC 8323 section 8). */
static const struct {
    const char *prefix;
    coap_proto_t proto;
} schemes[] = { { "coap://", COAP_PROTO_UDP },
                { "coaps://", COAP_PROTO_DTLS },
                { "coap+tcp://", COAP_PROTO_TCP },
                { "coaps+tcp://", COAP_PROTO_TLS } };

/* Split "SCHEME://HOST:PORT" into its transport and "HOST:PORT"; no scheme is @p dflt. */
static const char *
spec_proto(const char *spec, coap_proto_t dflt, coap_proto_t *proto)
{
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);

        if (strncmp(spec, schemes[i].prefix, n) == 0) {
            *proto = schemes[i].proto;
            return spec + n;
        }
    }
    *proto = dflt;
    return spec;
}

/* Whether this libcoap and the configuration can serve @p proto: a secure transport needs keys
 * or a certificate (psk_file, cert_file), a stream one libcoap's TCP support. */
static int
proto_usable(struct rd_server *srv, const char *spec, coap_proto_t proto)
{
    const char *why = NULL;

    if ((proto == COAP_PROTO_TCP || proto == COAP_PROTO_TLS) && !coap_tcp_is_supported()) {
        why = "this libcoap has no TCP support";
    } else if (proto == COAP_PROTO_TLS && !coap_tls_is_supported()) {
        why = "this libcoap has no TLS support";
    } else if ((proto == COAP_PROTO_DTLS || proto == COAP_PROTO_TLS) && !rd__dtls_enabled(srv)) {
        why = "a secure listener needs psk_file or cert_file";
    }
    if (why) {
        rd__log(srv, RD_LOG_ERROR, "listen %s: %s", spec, why);
        return 0;
    }
    return 1;
}

static const char *
proto_name(coap_proto_t proto)
{
    switch (proto) {
    case COAP_PROTO_DTLS:
        return " (coaps)";
    case COAP_PROTO_TCP:
        return " (coap+tcp)";
    case COAP_PROTO_TLS:
        return " (coaps+tcp)";
    default:
        return "";
    }
}

static int
add_endpoint(struct rd_server *srv, const char *spec, coap_proto_t proto)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    coap_address_t addr;
    char host[256];
    char port[16];
    int rc = RD_EINVAL;

    const char *hostport = spec_proto(spec, proto, &proto);

    if (split_listen(hostport, host, sizeof(host), port, sizeof(port))) {
        rd__log(srv, RD_LOG_ERROR, "listen %s: expected [SCHEME://]HOST:PORT", spec);
        return RD_EINVAL;
    }
    if (!proto_usable(srv, spec, proto)) {
        return RD_EINVAL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype =
        (proto == COAP_PROTO_TCP || proto == COAP_PROTO_TLS) ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo((host[0] && strcmp(host, "*") != 0) ? host : NULL, port, &hints, &res) != 0 ||
        !res) {
        rd__log(srv, RD_LOG_ERROR, "listen %s: cannot resolve", spec);
        goto out;
    }
    coap_address_init(&addr);
    addr.size = res->ai_addrlen;
    memcpy(&addr.addr, res->ai_addr, res->ai_addrlen);
    if (!coap_new_endpoint(srv->ctx, &addr, proto)) {
        rd__log(srv, RD_LOG_ERROR, "listen %s: cannot bind (address in use or unavailable)", spec);
        goto out;
    }
    /* Plain CoAP by its socket; DTLS records, TCP and TLS streams by their connections. */
    if (proto == COAP_PROTO_UDP) {
        gate_add(srv, &addr);
    } else {
        rd__gate_listen(srv, srv->ctx, &addr, proto);
    }
    rd__log(srv, RD_LOG_INFO, "listening on %s%s", hostport, proto_name(proto));
    rc = RD_OK;
out:
    if (res) {
        freeaddrinfo(res);
    }
    return rc;
}

/* RFC 7252 section 12.8 All-CoAP-Nodes and RFC 9176 section 9.5 All-CoRE-Resource-Directories,
 * link-local and site-local scopes for IPv6. */
static const char *const mcast_groups[] = { "224.0.1.187", "224.0.1.190", "ff02::fd",
                                            "ff05::fd",    "ff02::fe",    "ff05::fe" };

/* Join the discovery groups. Only /.well-known/core answers group requests (per-resource
 * multicast below), so a multicast request can never change the directory. */
static int
join_groups(struct rd_server *srv)
{
    size_t nif = srv->conf.nmcast_iface ? srv->conf.nmcast_iface : 1;
    size_t joined = 0;

    for (size_t i = 0; i < nif; i++) {
        const char *ifname = srv->conf.nmcast_iface ? srv->conf.mcast_iface[i] : NULL;

        for (size_t g = 0; g < sizeof(mcast_groups) / sizeof(mcast_groups[0]); g++) {
            if (coap_join_mcast_group_intf(srv->ctx, mcast_groups[g], ifname) == 0) {
                rd__log(srv, RD_LOG_INFO, "joined multicast group %s on %s", mcast_groups[g],
                        ifname ? ifname : "the default interface");
                joined++;
            } else {
                rd__log(srv, RD_LOG_WARN, "cannot join multicast group %s on %s", mcast_groups[g],
                        ifname ? ifname : "the default interface");
            }
        }
    }
    if (!joined) {
        rd__log(srv, RD_LOG_ERROR, "multicast discovery: no group could be joined");
        return RD_EINVAL;
    }
    return RD_OK;
}

/* Open @p n listeners of @p specs, or the default port on all addresses when there are none. */
static int
open_listeners(struct rd_server *srv, char *const *specs, size_t n, coap_proto_t proto,
               const char *port)
{
    char any6[32];
    char any4[32];
    int rc;

    if (n == 0) {
        /* One dual-stack socket serves IPv4 and IPv6; hosts without IPv6 get IPv4 alone. */
        snprintf(any6, sizeof(any6), "[::]:%s", port);
        snprintf(any4, sizeof(any4), "0.0.0.0:%s", port);
        rc = add_endpoint(srv, any6, proto);
        if (rc) {
            rc = add_endpoint(srv, any4, proto);
        }
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        coap_proto_t p;

        spec_proto(specs[i], proto, &p);
        if (srv->conf.sec.plain_coap == RD_PLAIN_OFF &&
            (p == COAP_PROTO_UDP || p == COAP_PROTO_TCP)) {
            rd__log(srv, RD_LOG_INFO, "listen %s: not opened, plain_coap is off", specs[i]);
            continue;
        }
        rc = add_endpoint(srv, specs[i], proto);
        if (rc) {
            return rc;
        }
    }
    return RD_OK;
}

static int
open_endpoints(struct rd_server *srv)
{
    int rc = RD_OK;

    /* listen names plain CoAP by default; it may name any transport by its scheme. */
    if (srv->conf.sec.plain_coap != RD_PLAIN_OFF || srv->conf.nlisten) {
        rc = open_listeners(srv, srv->conf.listen, srv->conf.nlisten, COAP_PROTO_UDP, "5683");
    }
    if (!rc && rd__dtls_enabled(srv)) {
        rc = open_listeners(srv, srv->conf.sec.dtls_listen, srv->conf.sec.ndtls_listen,
                            COAP_PROTO_DTLS, "5684");
    }
    return rc;
}

/* Progress lines of a data directory's migration at start. */
#define MIGRATE_LOG_EVERY_MS 2000

struct migrate_log {
    const struct rd_server *srv;
    int64_t start_ms;
    int64_t logged_ms;
};

/* store_migrate_fn: log the start, a line every few seconds, and the end with its duration. */
static int
log_migration(void *arg, const struct store_migrate_status *s)
{
    struct migrate_log *ml = arg;
    int64_t now = rd__now_ms();

    switch (s->event) {
    case STORE_MIGRATE_START:
        ml->start_ms = ml->logged_ms = now;
        if (s->resumed) {
            rd__log(ml->srv, RD_LOG_INFO,
                    "data directory %s: resuming the migration from schema version %u to %u at "
                    "%llu of %llu registrations",
                    ml->srv->conf.data_dir, (unsigned)s->from, (unsigned)s->to,
                    (unsigned long long)s->done, (unsigned long long)s->total);
        } else {
            rd__log(ml->srv, RD_LOG_INFO,
                    "data directory %s: migrating schema version %u to %u, %llu registrations",
                    ml->srv->conf.data_dir, (unsigned)s->from, (unsigned)s->to,
                    (unsigned long long)s->total);
        }
        break;
    case STORE_MIGRATE_PROGRESS:
        if (now - ml->logged_ms >= MIGRATE_LOG_EVERY_MS) {
            ml->logged_ms = now;
            rd__log(ml->srv, RD_LOG_INFO, "migration %u to %u (%s): %llu of %llu registrations",
                    (unsigned)s->step, (unsigned)(s->step + 1), s->what,
                    (unsigned long long)s->done, (unsigned long long)s->total);
        }
        break;
    case STORE_MIGRATE_END:
        rd__log(ml->srv, RD_LOG_INFO,
                "data directory %s: migrated from schema version %u to %u in %.3f s "
                "(%llu registrations, %llu unreadable records left as they were)",
                ml->srv->conf.data_dir, (unsigned)s->from, (unsigned)s->to,
                (double)(now - ml->start_ms) / 1000.0, (unsigned long long)s->done,
                (unsigned long long)s->skipped);
        break;
    }
    return 0;
}

int
rd_server_new(struct rd_server **out, const struct rd_conf *conf)
{
    struct rd_server *srv = calloc(1, sizeof(*srv));
    struct store_options opt;
    struct migrate_log ml = { srv, 0, 0 };
    char err[512];
    size_t count = 0;
    int rc;

    if (!srv) {
        return RD_ENOMEM;
    }
    rc = rd_conf_copy(&srv->conf, conf);
    if (rc) {
        free(srv);
        return rc;
    }
    memset(&opt, 0, sizeof(opt));
    opt.dir = srv->conf.data_dir;
    opt.map_size = srv->conf.map_size;
    opt.sync = srv->conf.sync;
    opt.migrate_fn = log_migration;
    opt.migrate_arg = &ml;
    opt.weigh_fn = rd__rank_weigh_stored;
    rc = store_open(&srv->store, &opt, err, sizeof(err));
    if (rc) {
        rd__log(srv, RD_LOG_ERROR, "data directory %s: %s", srv->conf.data_dir, err);
        goto fail;
    }
    srv->ctx = coap_new_context(NULL);
    if (!srv->ctx) {
        rc = RD_ENOMEM;
        goto fail;
    }
    coap_set_app_data(srv->ctx, srv);
    rc = rd__loop_init(srv);
    if (rc) {
        goto fail;
    }
    rc = rd__dedup_init(&srv->dedup, RD_DEDUP_SLOTS);
    if (!rc) {
        rc = rd__batch_init(srv);
    }
    if (rc) {
        goto fail;
    }
    /* Block-wise transfer is ours (rd_block1.c, rd_block2.c): libcoap 4.3.1's reassembly
     * and its kept answers are never reached, over any transport. */
    coap_context_set_block_mode(srv->ctx, 0);
    /* Over TCP and TLS, a Max-Message-Size of 1152 keeps clients from BERT (RFC 8323 section
     * 6), which our block-wise code does not speak: larger bodies come in 1024-byte blocks. */
    coap_context_set_csm_max_message_size(srv->ctx, 1152);
    /* Group requests reach only resources that ask for them: none of ours but libcoap's
     * /.well-known/core, which stays silent when its filter matches nothing. */
    coap_mcast_per_resource(srv->ctx);
    rc = rd__log_init(srv);
    if (!rc) {
        rc = rd__metrics_init(srv);
    }
    if (!rc) {
        rc = rd__registration_init(srv);
    }
    if (!rc) {
        rc = rd__lookup_init(srv);
    }
    if (!rc) {
        rc = rd__pages_init(srv);
    }
    if (!rc) {
        rc = rd__simple_init(srv);
    }
    if (!rc) {
        rc = rd__discovery_init(srv);
    }
    if (!rc) {
        rc = rd__echo_init(srv);
    }
    if (!rc) {
        rc = rd__dtls_init(srv);
    }
    if (!rc) {
        rc = rd__limits_init(srv);
    }
    if (!rc) {
        rc = rd__b1_init(srv);
    }
    if (!rc) {
        rc = rd__block2_init(srv);
    }
    if (!rc) {
        rc = rd__lookup_jobs_init(srv);
    }
    if (rc) {
        goto fail;
    }
    rc = open_endpoints(srv);
    if (!rc && srv->conf.multicast) {
        rc = join_groups(srv);
    }
    if (!rc && srv->conf.sync == STORE_SYNC_PERIODIC) {
        rc = rd__flusher_start(srv);
    }
    if (!rc) {
        rc = rd__http_init(srv);
    }
    if (!rc) {
        rc = rd__cluster_init(srv);
    }
    if (rc) {
        goto fail;
    }
    if (store_count(srv->store, &count) == RD_OK) {
        rd__log(srv, RD_LOG_INFO, "data directory %s: %zu registrations, schema version %u",
                srv->conf.data_dir, count, (unsigned)store_schema_version(srv->store));
    }
    srv->last_sweep = srv->last_sync = rd__now();
    if (store_next_deadline(srv->store, srv->last_sweep, &srv->next_expiry)) {
        srv->next_expiry = INT64_MAX;
    }
    *out = srv;
    return RD_OK;
fail:
    rd_server_free(srv);
    return rc;
}

/* Collect registrations whose grace period is over. Reads already hide expired registrations
 * at their deadline, so this only reclaims space and ends the chance of a revival. */
static int
sweep(struct rd_server *srv, int64_t now)
{
    int64_t before = now - (int64_t)srv->conf.expiry_grace;
    int64_t start = rd__now_ms();
    size_t total = 0;
    size_t n = 0;
    int rc;

    srv->sweep_pending = 0;
    rd__feed_clock(srv, now);
    do {
        rc = store_expire(srv->store, before, SWEEP_SLICE, &n);
        if (rc) {
            rd__log(srv, RD_LOG_ERROR, "expiry: %s", store_errmsg(srv->store));
            return rc;
        }
        total += n;
        if (n == SWEEP_SLICE && rd__now_ms() - start >= SWEEP_BUDGET_MS) {
            srv->sweep_pending = 1;
            break;
        }
    } while (n == SWEEP_SLICE);
    rd__metrics_expired(srv, total);
    if (total) {
        srv->dirty = 1;
        rd__feed_committed(srv);
        rd__log(srv, RD_LOG_INFO, "expired %zu registrations for good", total);
    }
    return RD_OK;
}

void
rd__server_housekeeping(struct rd_server *srv, unsigned *wait_ms)
{
    int64_t now = rd__now();
    int64_t now_ms = rd__now_ms();

    rd__simple_tick(srv, now_ms);
    rd__block2_tick(srv, now_ms);
    rd__lookup_notify(srv, now, now_ms);
    rd__metrics_tick(srv, now);
    rd__feed_keepalive(srv, now_ms);
    /* A cluster's registrations are deleted by its elected sweeper, through etcd. */
    if (!srv->cluster && (now != srv->last_sweep || srv->sweep_pending)) {
        srv->last_sweep = now;
        sweep(srv, now);
    }
    if (srv->conf.sync == STORE_SYNC_PERIODIC && srv->dirty &&
        now - srv->last_sync >= (int64_t)srv->conf.sync_interval) {
        srv->last_sync = now;
        srv->dirty = 0;
        rd__flusher_request(srv);
    }
    /* Wake up soon when observers wait for a coalesced notification, at once when a sweep has
     * more to collect. */
    if (srv->sweep_pending) {
        *wait_ms = 0;
    } else if (srv->lookup_dirty && *wait_ms > RD_NOTIFY_INTERVAL_MS) {
        *wait_ms = RD_NOTIFY_INTERVAL_MS;
    }
}

int
rd_server_step(struct rd_server *srv, unsigned wait_ms)
{
    return rd__loop_step(srv, wait_ms);
}

int
rd_server_run(struct rd_server *srv, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload)
{
    while (!*stop && !*reload) {
        if (rd_server_step(srv, LOOP_WAIT_MS) && !*stop && !*reload) {
            rd__log(srv, RD_LOG_ERROR, "I/O loop failed");
            return RD_EINVAL;
        }
    }
    if (*stop) {
        rd__log(srv, RD_LOG_INFO, "shutting down");
    }
    return RD_OK;
}

void
rd_server_reload(struct rd_server *srv, const struct rd_conf *conf)
{
    rd__log(srv, RD_LOG_INFO, "reloading configuration");
    rd__log_reload(srv, conf);
    rd__dtls_reload(srv, conf);
    rd__token_reload(srv, conf);
}

void
rd_server_free(struct rd_server *srv)
{
    if (!srv) {
        return;
    }
    /* First: the cluster answers its parked writes while libcoap and the loop still exist. */
    rd__cluster_cleanup(srv);
    rd__http_cleanup(srv);
    rd__token_cleanup(srv);
    rd__lookup_jobs_cleanup(srv);
    rd__simple_cleanup(srv);
    rd__observe_cleanup(srv);
    /* Held answers go before libcoap closes their sockets. */
    rd__batch_cleanup(srv);
    rd__gate_remove(srv);
    if (srv->ctx) {
        coap_free_context(srv->ctx);
    }
    rd__defer_cleanup(srv);
    rd__loop_cleanup(srv);
    rd__flusher_stop(srv);
    rd__metrics_cleanup(srv);
    rd__log_cleanup(srv);
    /* store_free() flushes, so every acknowledged change is on disk when we exit. */
    store_free(srv->store);
    rd__discovery_cleanup(srv);
    rd__pages_cleanup(srv);
    rd__dtls_cleanup(srv);
    rd__dedup_cleanup(&srv->dedup);
    rd__limits_cleanup(srv);
    rd__b1_free(srv);
    rd__block2_cleanup(srv);
    rd_conf_cleanup(&srv->conf);
    free(srv);
}
