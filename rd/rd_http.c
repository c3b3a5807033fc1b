/* The HTTP listener for operators: Prometheus metrics, health, a JSON view of the directory and
 * the read-only dashboard. libmicrohttpd runs inside the server's own loop, without threads. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "lookup.h"
#include "rd_api.h"
#include "rd_api_wait.h"
#include "rd_cluster.h"
#include "rd_conf.h"
#include "rd_dashboard.h"
#include "rd_fdlimit.h"
#include "rd_feed.h"
#include "rd_http.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_loop.h"
#include "rd_metrics.h"
#include "rd_pages.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"
#include "rd_token.h"
#include "store.h"

/* Above this share of map_size the store is about to refuse writes: health says so. */
#define HEALTH_MAP_LIMIT 0.95

/* A connection younger than this is never closed to make room: a client that connects and asks
 * at once always gets its answer, however many others hold connections open. */
#define HTTP_EVICT_AGE_MS 1000
/* Connections libmicrohttpd may hold beyond http_connections while the ones we shut down close. */
#define HTTP_SLACK 16

/* One open TCP connection, from its start to its close. */
struct http_conn {
    struct http_conn *next;
    struct http_conn *prev;
    MHD_socket fd;
    uint8_t ip[16]; /* IPv6, or IPv4-mapped */
    int64_t start_ms;
    int closing; /* shut down by us; libmicrohttpd closes it at its next turn */
};

struct rd_http {
    struct MHD_Daemon *mhd;
    int epoll_fd;            /* the daemon's, watched by the loop; -1 before */
    struct http_conn *conns; /* newest first */
    unsigned max_conns;      /* http_connections, or fewer when the open files limit says so */
};

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct rd_http_query *qc = cls;

    (void)kind;
    if (qc->n == RD_HTTP_QPARAM_MAX) {
        qc->overflow = 1;
        return MHD_NO;
    }
    qc->q[qc->n].key = key;
    qc->q[qc->n].key_len = strlen(key);
    qc->q[qc->n].value = value;
    qc->q[qc->n].value_len = value ? strlen(value) : 0;
    qc->n++;
    return MHD_YES;
}

void
rd__http_query(struct MHD_Connection *conn, struct rd_http_query *out)
{
    memset(out, 0, sizeof(*out));
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, out);
}

/* Queue an answer with the listener's security headers and @p hname: @p hvalue when not NULL. */
static enum MHD_Result
respond_with(struct MHD_Connection *conn, unsigned status, const char *type, void *body, size_t len,
             int owned, const char *hname, const char *hvalue)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, body,
                                        owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned) {
            free(body);
        }
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    /* Even a value that slipped through escaping could not run: no inline script, no other
     * origin. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "connect-src 'self'; img-src 'self'; frame-ancestors 'none'");
    if (hname) {
        MHD_add_response_header(r, hname, hvalue);
    }
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result
rd__http_respond(struct MHD_Connection *conn, unsigned status, const char *type, void *body,
                 size_t len, int owned)
{
    return respond_with(conn, status, type, body, len, owned, NULL, NULL);
}

static enum MHD_Result
respond_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return rd__http_respond(conn, status, "text/plain; charset=utf-8", (void *)(uintptr_t)text,
                            strlen(text), 0);
}

/* Answer with @p obj (taken) as application/json, with header @p hname: @p hvalue if set. */
static enum MHD_Result
json_with(struct MHD_Connection *conn, unsigned status, json_t *obj, const char *hname,
          const char *hvalue)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

    json_decref(obj);
    if (!s) {
        return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return respond_with(conn, status, "application/json", s, strlen(s), 1, hname, hvalue);
}

enum MHD_Result
rd__http_json(struct MHD_Connection *conn, unsigned status, json_t *obj)
{
    return json_with(conn, status, obj, NULL, NULL);
}

enum MHD_Result
rd__http_unavailable(struct MHD_Connection *conn, const char *msg, unsigned retry_s)
{
    char after[16];

    snprintf(after, sizeof(after), "%u", retry_s);
    return json_with(conn, MHD_HTTP_SERVICE_UNAVAILABLE, json_pack("{s:s}", "error", msg),
                     MHD_HTTP_HEADER_RETRY_AFTER, after);
}

json_t *
rd__http_attrs_json(const struct lookup_attr *attrs, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        json_array_append_new(a, json_pack("[s, s?]", attrs[i].name, attrs[i].value));
    }
    return a;
}

enum MHD_Result
rd__http_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return rd__http_json(conn, status, json_pack("{s:s}", "error", msg));
}

/* GET /api/events?<endpoint lookup filters>[&since=ID]: the change feed (rd_feed.c). */
static enum MHD_Result
api_events(struct rd_server *srv, struct MHD_Connection *conn)
{
    struct rd_http_query qc;
    const char *error = NULL;
    int rc;

    rd__http_query(conn, &qc);
    if (qc.overflow) {
        return rd__http_error(conn, MHD_HTTP_BAD_REQUEST, "too many query parameters");
    }
    rc = rd__feed_subscribe(srv, conn, qc.q, qc.n, &error);
    if (rc == RD_OK) {
        return MHD_YES;
    }
    if (rc == RD_EINVAL) {
        return rd__http_error(conn, MHD_HTTP_BAD_REQUEST, error);
    }
    return rd__http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, error ? error : "out of memory");
}

/* GET /health: 200 while the store answers and has room to write, else 503. */
static enum MHD_Result
health(struct rd_server *srv, struct MHD_Connection *conn)
{
    struct store_info info;
    json_t *body;
    double usage;

    if (store_info(srv->store, &info)) {
        return rd__http_json(
            conn, MHD_HTTP_SERVICE_UNAVAILABLE,
            json_pack("{s:s, s:s}", "status", "unavailable", "store", store_errmsg(srv->store)));
    }
    usage = info.map_size ? (double)info.used_bytes / (double)info.map_size : 1.0;
    body = json_pack("{s:s, s:s, s:I, s:f}", "status", usage < HEALTH_MAP_LIMIT ? "ok" : "degraded",
                     "store", usage < HEALTH_MAP_LIMIT ? "writable" : "map nearly full",
                     "registrations", (json_int_t)info.registrations, "map_usage", usage);
    if (body && srv->cluster) {
        char state[512];

        /* A node answers lookups from its copy whatever etcd's state: the cluster's state is
         * shown, and leaves the status to the store. */
        rd__cluster_health(srv, state, sizeof(state));
        json_object_set_new(body, "cluster", json_loads(state, 0, NULL));
    }
    return rd__http_json(conn,
                         usage < HEALTH_MAP_LIMIT ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static enum MHD_Result
metrics(struct rd_server *srv, struct MHD_Connection *conn)
{
    struct lookup_buf buf;

    lookup_buf_init(&buf, 256 * 1024);
    if (rd__metrics_render(srv, &buf)) {
        lookup_buf_cleanup(&buf);
        return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n");
    }
    return rd__http_respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf.data,
                            buf.len, 1);
}

/* With http_token_file, the directory's contents and the figures need a token; health (for
 * probes) and the dashboard's static files (which carry no data) do not. */
static int
needs_token(const struct rd_server *srv, const char *url)
{
    return srv->tokens && (strncmp(url, "/api/", 5) == 0 || strcmp(url, "/metrics") == 0);
}

/* An error: JSON under /api/ (the API's one form of error), a line of text elsewhere. */
static enum MHD_Result
refuse(struct MHD_Connection *conn, const char *url, unsigned status, const char *msg)
{
    char line[128];

    if (strncmp(url, "/api/", 5) == 0) {
        return rd__http_error(conn, status, msg);
    }
    snprintf(line, sizeof(line), "%s\n", msg);
    return rd__http_respond(conn, status, "text/plain; charset=utf-8", strdup(line), strlen(line),
                            1);
}

/* 401 with the challenge of RFC 6750 section 3. */
static enum MHD_Result
unauthorized(struct MHD_Connection *conn, const char *given)
{
    static const char missing[] = "{\"error\":\"a bearer token is required\"}";
    static const char wrong[] = "{\"error\":\"unknown bearer token\"}";

    if (given) {
        return respond_with(conn, MHD_HTTP_UNAUTHORIZED, "application/json",
                            (void *)(uintptr_t)wrong, sizeof(wrong) - 1, 0,
                            MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                            "Bearer realm=\"core-rd\", error=\"invalid_token\"");
    }
    return respond_with(conn, MHD_HTTP_UNAUTHORIZED, "application/json", (void *)(uintptr_t)missing,
                        sizeof(missing) - 1, 0, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                        "Bearer realm=\"core-rd\"");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    struct rd_server *srv = cls;
    const struct rd_dashboard_file *f;

    (void)version;
    (void)upload_data;
    /* Called again for a request suspended while a worker computed its lookup: it passed
     * every check below the first time. */
    if (rd__api_wait_is_resumed(req_cls)) {
        return rd__api_resumed(srv, conn, req_cls);
    }
    rd__metrics_http(srv);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return refuse(conn, url, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET only");
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* Without tokens HTTP has no authentication: an operator who asked for authenticated
     * lookups gets no unauthenticated read path through this listener either, only the health
     * check. With them, a bearer token is the listener's authentication. */
    if (srv->conf.sec.lookup_authenticated && !srv->tokens && strcmp(url, "/health") != 0) {
        return refuse(conn, url, MHD_HTTP_FORBIDDEN,
                      "lookup_access authenticated: HTTP serves /health only");
    }
    if (needs_token(srv, url) &&
        !rd__tokens_accept(
            srv->tokens,
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))) {
        return unauthorized(conn, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                              MHD_HTTP_HEADER_AUTHORIZATION));
    }
    if (strcmp(url, "/metrics") == 0) {
        return metrics(srv, conn);
    }
    if (strcmp(url, "/health") == 0) {
        return health(srv, conn);
    }
    if (strcmp(url, "/api/events") == 0) {
        return api_events(srv, conn);
    }
    if (strncmp(url, "/api/", 5) == 0) {
        return rd__api_serve(srv, conn, url, req_cls);
    }
    f = rd__dashboard_find(strcmp(url, "/") == 0 ? "/index.html" : url);
    if (f) {
        return rd__http_respond(conn, MHD_HTTP_OK, f->type, (void *)(uintptr_t)f->data, f->len, 0);
    }
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* Make libmicrohttpd close @p c: its next read sees the end of the stream. */
static void
shut(struct rd_server *srv, struct http_conn *c)
{
    c->closing = 1;
    shutdown(c->fd, SHUT_RDWR);
    rd__metrics_limited(srv, RD_BOUND_HTTP_CONNECTIONS);
}

/* Keep within http_connections in all (or what the open files limit leaves: rd_fdlimit.h) and
 * http_connections_per_ip from one address. A client
 * that trickles its request a byte at a time never goes idle, so the idle timeout alone lets a
 * few dozen of them hold every connection and /health fails. So a new connection over a bound
 * takes the place of the oldest one (of its own address, for the per-address bound) that has
 * been open at least HTTP_EVICT_AGE_MS; only when there is none is the new one refused. */
static void
admit(struct rd_server *srv, struct http_conn *fresh)
{
    int64_t now_ms = rd__now_ms();
    struct http_conn *victim = NULL;
    size_t total = 0;
    size_t same = 0;
    int per_ip;

    for (struct http_conn *c = srv->http->conns; c; c = c->next) {
        if (!c->closing) {
            total++;
            same += memcmp(c->ip, fresh->ip, 16) == 0;
        }
    }
    per_ip = same > srv->conf.http_connections_per_ip;
    if (!per_ip && total <= srv->http->max_conns) {
        return;
    }
    /* The list is newest first: the last match is the oldest. */
    for (struct http_conn *c = srv->http->conns; c; c = c->next) {
        if (c != fresh && !c->closing && now_ms - c->start_ms >= HTTP_EVICT_AGE_MS &&
            (!per_ip || memcmp(c->ip, fresh->ip, 16) == 0)) {
            victim = c;
        }
    }
    shut(srv, victim ? victim : fresh);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
    struct rd_server *srv = cls;
    struct http_conn *c = *socket_context;
    const union MHD_ConnectionInfo *fd;
    const union MHD_ConnectionInfo *addr;
    uint16_t port;

    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (c) {
            if (c->prev) {
                c->prev->next = c->next;
            } else {
                srv->http->conns = c->next;
            }
            if (c->next) {
                c->next->prev = c->prev;
            }
            free(c);
            *socket_context = NULL;
        }
        return;
    }
    c = calloc(1, sizeof(*c));
    fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    addr = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!c || !fd) {
        /* Untracked, it still counts against libmicrohttpd's own limit. */
        free(c);
        return;
    }
    c->fd = fd->connect_fd;
    if (!addr || rd__sockaddr_key(addr->client_addr, c->ip, &port)) {
        memset(c->ip, 0, sizeof(c->ip));
    }
    c->start_ms = rd__now_ms();
    c->next = srv->http->conns;
    if (c->next) {
        c->next->prev = c;
    }
    srv->http->conns = c;
    *socket_context = c;
    admit(srv, c);
}

/* A request ended, answered or not: an API request suspended for a worker forgets its wait. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    rd__api_closed(cls, req_cls);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's own messages, as warnings in our log format. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    rd__log(cls, RD_LOG_WARN, "http: %s", msg);
}

/* "HOST:PORT" or "[V6]:PORT", numeric host, into a socket address. */
static int
resolve(const char *spec, struct addrinfo **res)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hlen;
    struct addrinfo hints;

    if (!colon || colon == spec) {
        return RD_EINVAL;
    }
    hlen = (size_t)(colon - spec);
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host)) {
        return RD_EINVAL;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    return getaddrinfo(host, colon + 1, &hints, res) == 0 ? RD_OK : RD_EINVAL;
}

/* 127.0.0.0/8, ::1 or an IPv4-mapped 127.0.0.0/8. */
static int
is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

/* MHD's epoll descriptor is ready: serve what waits on it. */
static void
http_ready(struct rd_server *srv, void *arg, int fd, unsigned events)
{
    (void)arg;
    (void)fd;
    (void)events;
    MHD_run(srv->http->mhd);
}

/* Each turn: run MHD when a feed subscriber or an API request was resumed or one of its timeouts
 * is due, and
 * otherwise ask the loop to wake by its next timeout. */
static void
http_tick(struct rd_server *srv, void *arg, int64_t now_ms)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    int has_timeout;
    int kicked;

    (void)arg;
    if (!srv->http || !srv->http->mhd) {
        return;
    }
    has_timeout = MHD_get_timeout(srv->http->mhd, &ms) == MHD_YES;
    /* Both take their kick: neither may be left for a later turn. */
    kicked = rd__feed_take_kick(srv);
    kicked |= rd__api_take_kick(srv);
    if (kicked || (has_timeout && ms == 0)) {
        MHD_run(srv->http->mhd);
        has_timeout = MHD_get_timeout(srv->http->mhd, &ms) == MHD_YES;
    }
    if (has_timeout) {
        rd__loop_wake_by(srv, now_ms + (int64_t)(ms ? ms : 1));
    }
}

/* Put the daemon's epoll descriptor into the server's loop. */
static int
http_watch(struct rd_server *srv)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->http->mhd, MHD_DAEMON_INFO_EPOLL_FD);

    if (!info || info->epoll_fd < 0) {
        rd__log(srv, RD_LOG_ERROR, "http_listen: libmicrohttpd has no epoll descriptor");
        return RD_EINVAL;
    }
    srv->http->epoll_fd = info->epoll_fd;
    if (rd__loop_watch(srv, info->epoll_fd, RD_LOOP_IN, http_ready, NULL) ||
        rd__loop_on_tick(srv, http_tick, NULL)) {
        srv->http->epoll_fd = -1;
        return RD_ENOMEM;
    }
    return RD_OK;
}

int
rd__http_init(struct rd_server *srv)
{
    const char *spec = srv->conf.http_listen;
    struct addrinfo *res = NULL;
    /* Suspend and resume let an idle feed subscriber, and an API request whose lookup a worker
     * computes, cost no work until there is something to send. */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_EPOLL;

    if (!spec || !spec[0]) {
        return RD_OK;
    }
    if (resolve(spec, &res)) {
        rd__log(srv, RD_LOG_ERROR, "http_listen %s: expected numeric HOST:PORT", spec);
        return RD_EINVAL;
    }
    if (!is_loopback(res->ai_addr) &&
        !(srv->conf.http_token_file && srv->conf.http_token_file[0])) {
        rd__log(srv, RD_LOG_ERROR,
                "http_listen %s: not a loopback address, and without http_token_file anyone who "
                "reaches it reads the directory: set http_token_file or listen on loopback",
                spec);
        freeaddrinfo(res);
        return RD_EINVAL;
    }
    if (rd__token_init(srv)) {
        freeaddrinfo(res);
        return RD_EINVAL;
    }
    if (res->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    srv->http = calloc(1, sizeof(*srv->http));
    if (!srv->http) {
        freeaddrinfo(res);
        return RD_ENOMEM;
    }
    srv->http->epoll_fd = -1;
    srv->http->max_conns = rd__fdlimit_fit(srv, "http_connections", srv->conf.http_connections);
    /* No MHD thread flag: the daemon is driven from the server's loop (its epoll descriptor
     * is one of the loop's), so handlers run on the loop's thread and read the store without
     * locks. */
    srv->http->mhd =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                         srv, MHD_OPTION_SOCK_ADDR, res->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                         srv->http->max_conns + HTTP_SLACK,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->conf.http_idle_timeout,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    freeaddrinfo(res);
    if (!srv->http->mhd) {
        rd__log(srv, RD_LOG_ERROR, "http_listen %s: cannot bind (address in use or unavailable)",
                spec);
        rd__http_cleanup(srv);
        return RD_EINVAL;
    }
    if (http_watch(srv)) {
        rd__http_cleanup(srv);
        return RD_EINVAL;
    }
    if (rd__feed_init(srv) || rd__api_init(srv)) {
        rd__http_cleanup(srv);
        return RD_ENOMEM;
    }
    rd__log(srv, RD_LOG_INFO, "http listening on %s", spec);
    return RD_OK;
}

void
rd__http_cleanup(struct rd_server *srv)
{
    if (!srv->http) {
        return;
    }
    rd__feed_stop(srv);
    rd__api_stop(srv);
    if (srv->http->epoll_fd >= 0) {
        rd__loop_unwatch(srv, srv->http->epoll_fd);
    }
    if (srv->http->mhd) {
        MHD_stop_daemon(srv->http->mhd);
    }
    rd__feed_cleanup(srv);
    rd__api_cleanup(srv);
    free(srv->http);
    srv->http = NULL;
}

unsigned
rd__http_connections(const struct rd_server *srv)
{
    const union MHD_DaemonInfo *info;

    if (!srv->http || !srv->http->mhd) {
        return 0;
    }
    info = MHD_get_daemon_info(srv->http->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}
