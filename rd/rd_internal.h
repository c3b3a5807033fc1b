/* The server's private types and helpers, shared by the files of rd/. */
#ifndef RD_INTERNAL_H
#define RD_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "rd.h"
#include "rd_block.h"
#include "rd_status.h"
#include "store.h"

/** Most listen addresses one server takes. */
#define RD_LISTEN_MAX 16
/** Most interfaces multicast discovery joins on. */
#define RD_MCAST_IFACE_MAX 8
/** Length of a rendered registration id (40 bits in base32) plus its NUL. */
#define RD_ID_SIZE 9
/** Longest registration base we derive or accept, with its NUL. */
#define RD_BASE_SIZE 512

/** Log levels, most severe first. */
enum rd_log_level {
    RD_LOG_ERROR = 0,
    RD_LOG_WARN = 1,
    RD_LOG_INFO = 2,
    RD_LOG_DEBUG = 3,
};

/** Shortest time between two notifications of lookup observers, in milliseconds. */
#define RD_NOTIFY_INTERVAL_MS 100

/** Bytes of options and of payload one remembered answer may hold. */
#define RD_DEDUP_OPTS 64
#define RD_DEDUP_DATA 128
/** Answers remembered for deduplication. */
#define RD_DEDUP_SLOTS 8192

struct rd_dedup_entry;
struct rd_sec;
struct rd_fetch;
struct rd_limits;
struct rd_simple_cache;
struct rd_metrics;
struct rd_http;
struct rd_feed;
struct MHD_Connection;
struct rd_lograte;
struct rd_observe;
struct rd_observer;

/** Recent answers to state-changing requests, by transport, local endpoint, identity, peer and
 * message ID. */
struct rd_dedup {
    struct rd_dedup_entry *entries;
    size_t nslots;
};

/** What the plain CoAP (unencrypted) listener serves. */
enum rd_plain {
    RD_PLAIN_ON = 0,          /**< everything */
    RD_PLAIN_OFF = 1,         /**< no plain listener at all */
    RD_PLAIN_LOOKUP_ONLY = 2, /**< reads only; the registration interface answers 4.01 */
};

/** Who may register an endpoint name. */
enum rd_ep_policy {
    RD_EP_FIRST_COME = 0, /**< the first identity to register (d, ep) owns it while it lives */
    RD_EP_IDENTITY = 1,   /**< ep must be the identity's name or allowed by identity_map */
};

/** Security directives (their relations checked in rd_conf_sec.c). Strings owned like the rest
 * of struct rd_conf. */
struct rd_sec_conf {
    char *dtls_listen[RD_LISTEN_MAX]; /**< "HOST:PORT" of the CoAPS (DTLS) listeners */
    size_t ndtls_listen;
    char *psk_file;     /**< `identity key` lines; reloaded on SIGHUP */
    char *cert_file;    /**< server certificate (PEM) */
    char *key_file;     /**< its private key (PEM) */
    char *ca_file;      /**< CA (PEM) that client certificates must chain to */
    char *identity_map; /**< `identity ep-pattern [d-pattern]` lines; reloaded on SIGHUP */
    enum rd_plain plain_coap;
    enum rd_ep_policy ep_policy;
    int lookup_authenticated;       /**< lookups need a DTLS identity */
    uint32_t max_regs_per_identity; /**< 0: unlimited */
};

/** Abuse limits (rd_limits.c). Sizes in bytes; 0 turns a count or rate limit off. */
/* How an answer larger than its request goes to an address not yet verified. */
enum {
    RD_AMP_OFF,    /* as to any other address */
    RD_AMP_BLOCKS, /* a first Block2 block small enough; Echo where blocks cannot help */
    RD_AMP_ECHO,   /* 4.01 with Echo first, then the answer at full size */
};

struct rd_limits_conf {
    size_t max_query_len;      /**< all Uri-Query options of one request together */
    size_t max_attr_len;       /**< one query parameter, link target or link attribute value */
    size_t max_registrations;  /**< registrations in the directory */
    size_t max_per_source;     /**< registrations last written from one source address */
    uint32_t rate_limit;       /**< requests per second per source address */
    uint32_t rate_burst;       /**< requests one address may send at once */
    int amplification;         /**< RD_AMP_OFF, RD_AMP_BLOCKS or RD_AMP_ECHO */
    size_t max_sessions;       /**< idle libcoap sessions kept */
    uint32_t session_timeout;  /**< seconds before an idle session goes */
    uint32_t write_rate_limit; /**< registration writes per second per source address */
    uint32_t write_rate_burst; /**< registration writes one address may send at once */
    size_t answer_memory;      /**< bytes of answers kept for their later Block2 blocks */
};

/** The whole configuration. Strings are owned by the struct until rd_conf_cleanup(). Each
 * directive names its field in the table of rd_conf_table.c. */
struct rd_conf {
    char *listen[RD_LISTEN_MAX]; /**< "HOST:PORT", IPv6 hosts in brackets */
    size_t nlisten;
    char *data_dir;
    enum rd_log_level log_level;
    uint32_t log_rate_limit; /**< log lines per second per source address; 0: no limit */
    char *default_sector;    /**< "" for none */
    uint32_t lifetime_min;   /**< seconds */
    uint32_t lifetime_max;   /**< seconds */
    uint32_t expiry_grace;   /**< seconds an expired registration can still be revived */
    size_t max_payload;      /**< bytes of a registration body, after Block1 reassembly */
    size_t max_links;        /**< links in one registration */
    enum store_sync sync;
    uint32_t sync_interval;  /**< seconds, for sync periodic */
    uint64_t map_size;       /**< bytes */
    int simple_registration; /**< serve POST /.well-known/rd (RFC 9176 section 5.1) */
    int simple_echo;         /**< verify the requester's address with Echo before fetching */
    int multicast;           /**< answer discovery sent to the CoAP and RD groups */
    char *mcast_iface[RD_MCAST_IFACE_MAX]; /**< interfaces to join on; none: the default */
    size_t nmcast_iface;
    uint32_t simple_timeout; /**< seconds a simple registration waits for the endpoint */
    size_t simple_fetches;   /**< simple registrations waiting for their endpoint at once */
    size_t simple_fetches_per_source; /**< of them from one source address */
    struct rd_sec_conf sec;           /**< DTLS, identities and authorization */
    char *http_listen;       /**< "HOST:PORT" of the metrics and dashboard listener; "" off */
    size_t http_connections; /**< open HTTP connections in all */
    size_t http_connections_per_ip; /**< of them from one address */
    uint32_t http_idle_timeout;     /**< seconds an HTTP connection may stay silent */
    uint64_t feed_retain_events;    /**< change journal events kept at most */
    uint32_t feed_retain_seconds;   /**< and for at most this long; 0: no age limit */
    struct rd_limits_conf limits;
    size_t observe_max;            /**< observers of lookups in all */
    size_t observe_max_per_source; /**< observers of lookups from one address */
};

/** The running server. Owned by rd_server_new()/rd_server_free(). */
struct rd_server {
    struct rd_conf conf; /**< a copy owned by the server */
    struct store *store;
    coap_context_t *ctx;
    int64_t last_sweep; /**< wall-clock second of the last expiry sweep */
    int sweep_pending;  /**< the last sweep stopped at its time budget with more to collect */
    int64_t last_sync;  /**< wall-clock second of the last store_sync() */
    int dirty;          /**< something was committed since the last flush */
    struct rd_flusher *flusher; /**< the flush thread of sync periodic; NULL otherwise */
    struct rd_dedup dedup;
    coap_resource_t *lookup_ep;     /**< owned by ctx */
    coap_resource_t *lookup_res;    /**< owned by ctx */
    int lookup_dirty;               /**< lookup results may have changed since the last notify */
    int64_t last_notify_ms;         /**< monotonic milliseconds of the last notification */
    int64_t next_expiry;            /**< earliest deadline still to come; INT64_MAX for none */
    uint64_t lookup_gen;            /**< bumped at every change of lookup results */
    struct rd_page_slot *pages;     /**< where pages of recent lookups start (rd_pages.c) */
    struct rd_answer_slot *answers; /**< answers of recent lookups (rd_pages.c) */
    struct rd_fetch *fetches;       /**< simple registrations waiting for their endpoint */
    size_t nfetches;
    struct rd_simple_cache *simple_cache; /**< fetched discovery documents, by base */
    struct lookup_links discovery;        /**< the links of our own /.well-known/core */
    uint8_t echo_key[32];                 /**< keys Echo values; random per start */
    struct rd_sec *sec;                   /**< PSK table and identity map (rd_dtls.c) */
    struct rd_metrics *metrics;           /**< counters; owned, see rd_metrics.c */
    struct rd_http *http;                 /**< HTTP listener; NULL when off */
    struct rd_feed *feed;                 /**< change feed; NULL when the HTTP listener is off */
    struct rd_lograte *lograte;           /**< log budgets per source (rd_log.c) */
    struct rd_limits *limits;             /**< per-address state, fixed size */
    int guard_fd[RD_LISTEN_MAX];          /**< libcoap's endpoint sockets, gated (rd_gate.c) */
    size_t nguard;
    uint16_t guard_mid;         /**< message IDs of the gate's non-confirmable answers */
    struct rd_b1 *b1;           /**< Block1 bodies being received (rd_block1.c) */
    struct rd_b2 *b2;           /**< answers of several blocks (rd_block2.c) */
    struct rd_observe *observe; /**< observers of lookups (rd_observe.c) */
};

/* rd_conf.c */

/** Replace the owned string *@p dst with a copy of @p value (NULL: none), freeing the old one.
 * @p value may be *@p dst. @return RD_OK; RD_ENOMEM, leaving *@p dst as it was. */
int rd__conf_string_set(char **dst, const char *value);

/** Set every directive to its default. Allocates; release with rd_conf_cleanup(). */
int rd_conf_init(struct rd_conf *conf);

/** Release the configuration's strings. Accepts a zeroed struct. */
void rd_conf_cleanup(struct rd_conf *conf);

/**
 * Apply `key value` lines from @p buf to @p conf. @p name is used in messages.
 *
 * @param err Receives "NAME:LINE: directive: reason" on RD_EINVAL.
 * @return RD_OK; RD_EINVAL; RD_ENOMEM.
 */
int rd_conf_parse(struct rd_conf *conf, const char *buf, size_t len, const char *name, char *err,
                  size_t err_size);

/** Read the file @p path and apply it with rd_conf_parse(). Also RD_EINVAL if unreadable. */
int rd_conf_load(struct rd_conf *conf, const char *path, char *err, size_t err_size);

/** Apply one directive (as the command line does). */
int rd_conf_set(struct rd_conf *conf, const char *key, const char *value, char *err,
                size_t err_size);

/** Parse a level name (error, warn, info, debug). */
int rd_conf_log_level(const char *s, enum rd_log_level *out);

/** Deep-copy @p src into @p dst. */
int rd_conf_copy(struct rd_conf *dst, const struct rd_conf *src);

/* rd_conf_sec.c */

/** Check relations between security directives. @return RD_OK or RD_EINVAL with @p err. */
int rd__conf_sec_check(const struct rd_sec_conf *sec, char *err, size_t err_size);

/* rd_log.c */

/** Write one log line to stderr when @p level is enabled on @p srv. */
void rd__log(const struct rd_server *srv, enum rd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Route libcoap's own log messages through the same format. */
void rd__log_coap_init(enum rd_log_level level);

/** Take the log level of a reloaded configuration @p conf (borrowed). */
void rd__log_reload(struct rd_server *srv, const struct rd_conf *conf);

/** Allocate the per-source log budgets (log_rate_limit) and give libcoap's lines theirs.
 * @return RD_OK; RD_ENOMEM. */
int rd__log_init(struct rd_server *srv);

/** Release the budgets. Accepts a server without them. */
void rd__log_cleanup(struct rd_server *srv);

/** The lines logged from now on are caused by a request from @p from (borrowed; NULL: by no
 * request) and count against its budget. */
void rd__log_source(struct rd_server *srv, const struct sockaddr *from);

/** Once a second at most: log how many lines each source had suppressed, and count them. */
void rd__log_flush(struct rd_server *srv, int64_t now_ms);

/* rd_status.c */

/** The CoAP response code for an rd_status: the only such mapping. */
coap_pdu_code_t rd__status_to_coap(int rc);

/** Set @p code and a short diagnostic payload (RFC 7252 section 5.5.2) on @p response. */
void rd__respond_error(coap_pdu_t *response, coap_pdu_code_t code, const char *diag);

/* rd_request.c */

/** Collect the Uri-Query options of @p request one by one (never re-joined, RFC 9176 traps).
 * @return RD_OK; RD_ETOOBIG when there are more than @p max. */
int rd__query_params(const coap_pdu_t *request, struct lookup_qparam *out, size_t max, size_t *n);

/** Answer 4.02 to a conditional request on an interface @p iface (enum rd_iface) that does not
 * evaluate If-Match and If-None-Match: ignoring these critical options could delete or replace what
 * the client meant to keep (RFC 7252 sections 5.4.1 and 5.10.8). The registration interface (POST
 * /rd and /rd/<id>) evaluates them (rd_conditional.c) and passes here.
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.02. */
int rd__refuse_conditional(int iface, const coap_pdu_t *request, coap_pdu_t *response);

/** Answer 4.06 unless the request accepts link-format (or says nothing).
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.06. */
int rd__check_accept(const coap_pdu_t *request, coap_pdu_t *response);

/** Read an unsigned option such as Content-Format or Accept.
 * @return 1 and @p value when present, 0 when absent. */
int rd__option_uint(const coap_pdu_t *request, uint16_t number, unsigned *value);

/** 1 when @p session is secured (DTLS or TLS) and has a security identity; 0 for plain CoAP
 * over UDP or TCP. */
int rd__session_secure(const coap_session_t *session);

/**
 * The implicit registration base of a request: scheme "://" source address [":" port], with
 * IPv4-mapped addresses written as IPv4 and the scheme's default port left out (RFC 9176 5).
 */
int rd__base_from_session(const coap_session_t *session, char *out, size_t size);

/**
 * The link a registration with @p base belongs to: with a link-local base (RFC 9176 sections 5
 * and 6.1), the interface the request came in on; else 0. On failure @p response holds a 4.00.
 *
 * @return RD_OK; RD_EINVAL when the base is link-local and the request's interface is unknown.
 */
int rd__base_scope(const coap_session_t *session, const char *base, uint32_t *scope,
                   coap_pdu_t *response);

/** Render a registration id as 8 base32 characters. */
void rd__id_format(uint64_t id, char out[RD_ID_SIZE]);

/** Parse a rendered id. @return RD_OK or RD_EINVAL. */
int rd__id_parse(const char *s, size_t len, uint64_t *id);

/** Seconds since the epoch: the wall clock, for deadlines that survive restarts. */
int64_t rd__now(void);

/** The wall-clock deadline of a registration refreshed now with lifetime @p lt seconds. */
int64_t rd__deadline(uint32_t lt);

/** Monotonic milliseconds, for intervals. */
int64_t rd__now_ms(void);

/** The strong ETag value of an answer of @p len bytes (the one rd__respond_body() sends). */
uint64_t rd__answer_etag(const char *data, size_t len);

/* rd_dedup.c */

/** Allocate @p slots empty slots. @return RD_OK or RD_ENOMEM. */
int rd__dedup_init(struct rd_dedup *dd, size_t slots);

/** Release the cache. Accepts a zeroed struct. */
void rd__dedup_cleanup(struct rd_dedup *dd);

/**
 * Answer a duplicate of a recent confirmable state-changing request from the cache.
 *
 * @return 1 when @p response was filled with the earlier answer (the handler must not run),
 *         else 0.
 */
int rd__dedup_replay(struct rd_dedup *dd, const coap_session_t *session, const coap_pdu_t *request,
                     coap_pdu_t *response, int64_t now);

/** Remember the answer to @p request (when it is small enough) for rd__dedup_replay(). */
void rd__dedup_remember(struct rd_dedup *dd, const coap_session_t *session,
                        const coap_pdu_t *request, const coap_pdu_t *response, int64_t now);

/* rd_lookup.c */

/** Create the observable lookup resources rd-lookup/ep and rd-lookup/res. */
int rd__lookup_init(struct rd_server *srv);

/** Note that a registration changed in a way not known here (every observed lookup is looked
 * at again); @p expires_at is its new deadline (INT64_MAX if gone). */
void rd__lookup_changed(struct rd_server *srv, int64_t expires_at);

/**
 * Note that a registration's deadline moved to @p expires_at and nothing else changed (a live
 * registration refreshed with its own links and parameters): no lookup result changes, so
 * observers are not told and remembered pages stay good.
 */
void rd__lookup_refreshed(struct rd_server *srv, int64_t expires_at);

/* rd_flush.c */

struct rd_flusher;

/** Start the thread that flushes the store when asked (sync periodic). */
int rd__flusher_start(struct rd_server *srv);

/** Ask for a flush without waiting for it; logs a failure of an earlier one. */
void rd__flusher_request(struct rd_server *srv);

/** Finish the thread (a flush in progress completes first). Accepts a server without one. */
void rd__flusher_stop(struct rd_server *srv);

/* rd_pages.c */

/** A lookup named by its kind and query parameters, as text: what rd_pages.c files under. */
struct rd_lookup_key {
    char text[256];
    size_t len;
    uint64_t hash;
};

/**
 * Name the lookup of @p kind with parameters @p qp from a client on interface @p link (which
 * decides whether registrations with a link-local base show), leaving out `page` unless
 * @p with_page.
 *
 * @return RD_OK; RD_ETOOBIG when the parameters are too long to remember (remember nothing).
 */
int rd__lookup_key(unsigned kind, uint32_t link, const struct lookup_qparam *qp, size_t nq,
                   int with_page, struct rd_lookup_key *key);

/** Where a page of a lookup starts: after registration @p after, past @p inner of the matches
 * of the next registration. */
struct rd_page_mark {
    uint64_t after;
    uint64_t inner;
};

struct rd_page_slot;
struct rd_answer_slot;

/** Allocate the tables of page marks and answers. */
int rd__pages_init(struct rd_server *srv);

/** Release the tables. */
void rd__pages_cleanup(struct rd_server *srv);

/** Find where @p page of lookup @p key (without page) starts. @return RD_OK; RD_ENOTFOUND. */
int rd__pages_find(struct rd_server *srv, const struct rd_lookup_key *key, uint32_t page,
                   struct rd_page_mark *out);

/** Remember where @p page of lookup @p key starts, valid until lookup results change. */
void rd__pages_put(struct rd_server *srv, const struct rd_lookup_key *key, uint32_t page,
                   const struct rd_page_mark *mark);

/** Append the remembered answer of lookup @p key (with page) to @p out.
 * @return RD_OK; RD_ENOTFOUND; RD_ENOMEM. */
int rd__answer_find(struct rd_server *srv, const struct rd_lookup_key *key, struct lookup_buf *out);

/** Remember the answer of lookup @p key (a copy, if small enough) until lookup results change.
 */
void rd__answer_put(struct rd_server *srv, const struct rd_lookup_key *key,
                    const struct lookup_buf *answer);

/** Notify lookup observers of changes and expiries, at most every RD_NOTIFY_INTERVAL_MS. */
void rd__lookup_notify(struct rd_server *srv, int64_t now, int64_t now_ms);

/** Most Uri-Query options one lookup may have. */
#define RD_QPARAM_MAX 64

/**
 * Compute the answer of a lookup (or take it from the answers remembered) into @p buf.
 *
 * @return RD_OK; RD_ETOOBIG (over 16 MiB: page it); RD_ENOMEM; RD_ESTORE (logged).
 */
int rd__lookup_answer(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                      const struct lookup_qparam *qp, size_t nq, const struct lookup_query *q,
                      struct lookup_buf *buf);

/** A lookup computed in slices (observers' re-runs), between calls. */
struct rd_lookup_partial {
    int started;
    uint64_t gen;   /**< srv->lookup_gen when it started */
    uint64_t after; /**< the next slice goes on after this registration */
    uint64_t skip;
    uint64_t left;
    size_t written;
    int64_t min_deadline;  /**< earliest deadline of a registration matched; 0: unknown */
    struct lookup_buf buf; /**< the answer so far; the whole answer once done */
};

/**
 * Compute the answer of a lookup as rd__lookup_answer() does, but stop at @p deadline_ms
 * (monotonic) and go on from there at the next call with the same @p p. Registrations written
 * meanwhile may or may not be in the answer: the caller computes it again after a change.
 *
 * @param done Written with 1 when @p p->buf holds the whole answer.
 * @return RD_OK; as rd__lookup_answer(). Release @p p with rd__lookup_partial_reset().
 */
int rd__lookup_answer_slice(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                            const struct lookup_qparam *qp, size_t nq, const struct lookup_query *q,
                            struct rd_lookup_partial *p, int64_t deadline_ms, int *done);

/** Release a partial answer and start over. Accepts a zeroed struct. */
void rd__lookup_partial_reset(struct rd_lookup_partial *p);

/** A registration read for observers: how lookups saw it before a write, or see it after. */
struct rd_lookup_reg {
    int present; /**< 0: none (or not read, when nobody observes) */
    int64_t expires_at;
    char ep[LOOKUP_NAME_MAX + 1];
    char d[LOOKUP_NAME_MAX + 1];
    char id[RD_ID_SIZE];
    char href[RD_ID_SIZE + 8];
    struct lookup_reg rec; /**< owned when read by rd__lookup_before() */
    struct lookup_regview view;
};

/** Read the registration @p id (0: the live one of @p ep and @p d) as it is before a write, when
 * anyone observes a lookup. Release with rd__lookup_written() or rd__lookup_reg_cleanup(). */
void rd__lookup_before(struct rd_server *srv, uint64_t id, const char *ep, const char *d,
                       struct rd_lookup_reg *out);

/**
 * Note a written registration: @p before (from rd__lookup_before(), released here) became
 * registration @p id with @p rec (borrowed; NULL: removed) and deadline @p expires_at
 * (INT64_MAX when removed). Observers whose lookups it can affect are looked at again.
 */
void rd__lookup_written(struct rd_server *srv, struct rd_lookup_reg *before, const char *ep,
                        const char *d, const struct lookup_reg *rec, uint64_t id,
                        int64_t expires_at);

/** Release what rd__lookup_before() read. */
void rd__lookup_reg_cleanup(struct rd_lookup_reg *r);

/* rd_observe.c */

/** Allocate the observer table. @return RD_OK; RD_ENOMEM. */
int rd__observe_init(struct rd_server *srv);

/** Drop every observer (their sessions are released); before the libcoap context goes. */
void rd__observe_cleanup(struct rd_server *srv);

/** 1 when any lookup is observed. */
int rd__observe_any(const struct rd_server *srv);

/**
 * Act on the Observe option of a lookup request whose answer has @p etag (RFC 7641 section
 * 2): 0 adds the client (unless a limit refuses it: then the answer goes without Observe,
 * section 4.1), 1 removes it. The answer carries Observe only when it is a success
 * (rd__observe_option() in rd_observe.h, called by the block layer).
 *
 * @return The new observer, to hand to rd__observe_answered(); NULL otherwise.
 */
struct rd_observer *rd__observe_request(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                                        const struct lookup_qparam *qp, size_t nq,
                                        coap_session_t *session, const coap_pdu_t *request,
                                        uint64_t etag);

/** Keep @p obs when @p response (its first answer) is a success, else drop it. Accepts NULL. */
void rd__observe_answered(struct rd_server *srv, struct rd_observer *obs,
                          const coap_pdu_t *response);

/**
 * One registration changed from @p before to @p after (either NULL: not visible): mark the
 * observed lookups it can affect, or all of them when @p unknown.
 */
void rd__observe_changed(struct rd_server *srv, const struct lookup_regview *before,
                         const struct lookup_regview *after, int unknown);

/** Deadlines up to @p now have passed: mark the observed lookups whose answer had a
 * registration with such a deadline (or whose deadlines are not known). */
void rd__observe_expired(struct rd_server *srv, int64_t now);

/** Mark the lookups of observers not asked whether they are still there for a while (a
 * confirmable notification, RFC 7641 section 4.5). Cheap when nothing is due. */
void rd__observe_tick(struct rd_server *srv, int64_t now_ms);

/** Re-run marked lookups, within a budget per round (the rest waits for the next one), and
 * notify each observer whose answer's ETag changed. Only a @p fresh round (one per
 * RD_NOTIFY_INTERVAL_MS) starts new re-runs; any round goes on with the one under way. */
void rd__observe_round(struct rd_server *srv, int64_t now_ms, int fresh);

/** 1 while a re-run is under way (rd__observe_round() with @p fresh 0 goes on with it). */
int rd__observe_busy(const struct rd_server *srv);

/** A confirmable message to @p session failed (@p sent, for @p reason): when it was a
 * notification, its observer is dropped (RFC 7641 section 4.5). */
void rd__observe_nack(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *sent,
                      coap_nack_reason_t reason);

/** Append the observer metrics (Prometheus text). @return RD_OK; RD_ETOOBIG; RD_ENOMEM. */
int rd__observe_metrics(const struct rd_server *srv, struct lookup_buf *out);

/* rd_discovery.c */

/** Serve /.well-known/core ourselves, to unicast and multicast requests. */
int rd__discovery_init(struct rd_server *srv);

/** Release what rd__discovery_init() built. */
void rd__discovery_cleanup(struct rd_server *srv);

/* rd_echo.c */

/** Draw the key Echo values are made with. @return RD_OK or RD_EINVAL. */
int rd__echo_init(struct rd_server *srv);

/* What an Echo value is bound to: the peer's address (enough to show it receives, and a client
 * may repeat from another port), or its address and port (simple registration fetches from
 * exactly there). */
enum rd_echo_scope {
    RD_ECHO_ADDRESS,
    RD_ECHO_ENDPOINT
};

/** 1 when @p request carries an Echo value this server gave the same peer recently. */
int rd__echo_verified(const struct rd_server *srv, const coap_session_t *session,
                      const coap_pdu_t *request, enum rd_echo_scope scope, int64_t now);

/** 1 when @p value (@p len bytes) is an Echo value this server gave @p peer recently. */
int rd__echo_check(const struct rd_server *srv, const struct sockaddr *peer,
                   enum rd_echo_scope scope, const uint8_t *value, size_t len, int64_t now);

/** Add a fresh Echo value for the peer to @p response, for the client to send back with its next
 * request (RFC 9175 section 2.3). */
void rd__echo_add(const struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response,
                  enum rd_echo_scope scope, int64_t now);

/** Answer 4.01 Unauthorized with a fresh Echo value for the peer (RFC 9175 section 2.4). */
void rd__echo_challenge(const struct rd_server *srv, const coap_session_t *session,
                        coap_pdu_t *response, enum rd_echo_scope scope, int64_t now);

/* rd_limits.c */

/** Allocate the per-address table and apply the session limits to the context. */
int rd__limits_init(struct rd_server *srv);

/** Release what rd__limits_init() allocated. Accepts a server without it. */
void rd__limits_cleanup(struct rd_server *srv);

/**
 * Take a request under the rate and query length limits; on refusal @p response holds 4.29
 * (with Max-Age) or 4.00, with a diagnostic, and the handler must return.
 *
 * @return RD_OK; RD_EFULL (rate); RD_EINVAL (query).
 */
int rd__limits_admit(struct rd_server *srv, const coap_session_t *session,
                     const coap_pdu_t *request, coap_pdu_t *response);

/** Charge a datagram from @p from that no handler will see (a non-final Block1 block) to the
 * address's rate. @return 0 when taken, else seconds until the next one is (4.29, Max-Age). */
uint32_t rd__limits_charge_datagram(struct rd_server *srv, const struct sockaddr *from);

/** Check link targets and attribute values against max_attr_len. @return RD_OK or RD_EINVAL. */
int rd__limits_check_links(const struct rd_server *srv, const struct lookup_links *links,
                           char *diag, size_t diag_size);

/**
 * Decide whether a block of the answer may go to the requester (RFC 7252 section 11.3): always
 * to a verified address, or when the block stays within three times the request. Otherwise,
 * with amplification blocks, @p szx is lowered so the block stays within that limit and
 * @p response gets an Echo value the client may send back to be verified (1 is returned); where
 * that cannot help, or with amplification echo, @p response is set to 4.01 with an Echo value
 * (RFC 9175 section 2.4) and 0 is returned. A notification to an unverified observer leaves
 * confirmable, so an address that never acknowledges loses its observation (RFC 7641 4.5).
 *
 * @param remaining Answer bytes from the block's start to the end.
 */
int rd__limits_block_ok(struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request, coap_pdu_t *response, size_t remaining,
                        int *szx);

/** The address of @p from as 16 bytes (IPv4 mapped into IPv6) and its port: the key under
 * which per-peer state is kept. @return RD_OK; RD_EINVAL for another family. */
int rd__sockaddr_key(const struct sockaddr *from, uint8_t addr[16], uint16_t *port);

/** A datagram from @p from carried Echo @p value: when this server gave it to that address,
 * the address is verified for the amplification limit (the gate sees every plain datagram). */
void rd__limits_echo_seen(struct rd_server *srv, const struct sockaddr *from, const uint8_t *value,
                          size_t len);

/** The index term that records the requester's address on a registration (" src=ADDR"). */
int rd__limits_source_term(const coap_session_t *session, char *out, size_t size);

/**
 * Check the total and per-address registration limits before (@p ep, @p d) is created; a
 * replacement of a live registration always passes. On refusal @p response holds 5.03 or 4.29
 * with Max-Age.
 *
 * @return RD_OK; RD_EFULL.
 */
int rd__limits_reg_admit(struct rd_server *srv, const coap_session_t *session, const char *ep,
                         const char *d, coap_pdu_t *response);

/** 1 when the requester's address is verified for the amplification limit: over DTLS, with
 * amplification off, recently verified, or by an Echo value in @p request (may be NULL). */
int rd__limits_verified(struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request);

/** Mark the requester's address verified: it has shown that it receives there (it answered a
 * request with a random token). */
void rd__limits_mark_verified(struct rd_server *srv, const coap_session_t *session);

/* rd_gate.c */

/* libcoap 4.3.1 has no hook between its socket and its parser: the gate interposes recvmsg()
 * (rd_gate.c). A libcoap that offers such a hook builds without the interposition. */
#define RD_GATE_INTERPOSE (LIBCOAP_VERSION <= 4003001U)

/** Find the socket libcoap opened for the endpoint at @p addr and examine each of its datagrams
 * before libcoap parses it, from now on. @return RD_OK; RD_ENOTFOUND (logged; the server runs
 * without the gate). */
int rd__gate_add(struct rd_server *srv, const coap_address_t *addr);

/** Stop examining @p srv's sockets (before they close). */
void rd__gate_remove(struct rd_server *srv);

/** 1 when a datagram waits on one of @p srv's plain CoAP sockets: libcoap may read again without
 * waiting. */
int rd__gate_pending(struct rd_server *srv);

/* rd_options.c */

/** What rd__msg_examine() found a request to need. */
enum rd_msg_verdict {
    RD_MSG_PASS = 0,   /* to libcoap, as rewritten */
    RD_MSG_BAD_OPTION, /* an unrecognized critical option: 4.02 to a CON, a NON is dropped */
    RD_MSG_BAD_METHOD, /* a method code libcoap does not know: 4.05 */
};

/** The examination of one request. */
struct rd_msg_exam {
    enum rd_msg_verdict verdict;
    unsigned option;  /**< RD_MSG_BAD_OPTION: the first critical option not recognized */
    unsigned dropped; /**< elective options left out (unrecognized: RFC 7252 section 5.4.1) */
    size_t echo_off;  /**< RD_MSG_PASS: where the Echo value starts in the output */
    size_t echo_len;  /**< its length; 0 when there is no Echo option */
};

/**
 * Examine the options of the CoAP-over-UDP request @p msg (@p len bytes) as RFC 7252 sections
 * 5.4.1 to 5.4.5 and 5.10 require: an elective option that is unknown is kept (libcoap ignores
 * it); one whose length is out of range, or repeated where it may not be, and an empty
 * Uri-Query, are left out of the copy written to @p out; such a critical option, or one not
 * recognized, makes the verdict RD_MSG_BAD_OPTION; a method code above 0.07 RD_MSG_BAD_METHOD.
 *
 * @param out      receives the request without the options left out; at least @p len bytes
 * @param out_len  receives the length written to @p out
 * @return RD_OK with @p out, @p out_len and @p exam written; RD_EINVAL when @p msg is not a
 *         well-formed request (an answer, an Empty or signaling message, a message format
 *         error, or @p out_size below @p len): nothing is written.
 */
int rd__msg_examine(const uint8_t *msg, size_t len, uint8_t *out, size_t out_size, size_t *out_len,
                    struct rd_msg_exam *exam);

/* rd_simple.c */

/** Set up simple registration (when configured) and the client handlers it needs. */
int rd__simple_init(struct rd_server *srv);

/** Fail the fetches whose endpoint has not answered in time. */
void rd__simple_tick(struct rd_server *srv, int64_t now_ms);

/** Drop every pending fetch and the cache; before the libcoap context goes. */
void rd__simple_cleanup(struct rd_server *srv);

/* rd_dtls.c */

/** Longest identity string, "psk:" or "x509:" prefix included, with its NUL. */
#define RD_IDENTITY_SIZE (LOOKUP_OWNER_MAX + 1)

/**
 * Load the PSK file and the identity map and give the libcoap context its PSK and certificate
 * setup, before the DTLS endpoints open. Does nothing when no DTLS is configured.
 *
 * @return RD_OK; RD_EINVAL (unreadable file, bad certificate); RD_ENOMEM.
 */
int rd__dtls_init(struct rd_server *srv);

/** 1 when CoAPS listeners are to be opened. */
int rd__dtls_enabled(const struct rd_server *srv);

/**
 * Take the reloadable security directives of @p conf and re-read the PSK file and the identity
 * map. A file that cannot be read leaves the previous table in place.
 */
void rd__dtls_reload(struct rd_server *srv, const struct rd_conf *conf);

/** Release the tables. */
void rd__dtls_cleanup(struct rd_server *srv);

/**
 * The security identity of a request's session: "none" on plain CoAP, "psk:<identity>" for a
 * PSK session, "x509:<subject CN>" for a certificate.
 *
 * @return RD_OK; RD_EINVAL when the peer's name cannot be used (too long, control bytes).
 */
int rd__identity(const coap_session_t *session, char out[RD_IDENTITY_SIZE]);

/**
 * 1 unless @p identity is a PSK identity no longer in the PSK file: a DTLS session opened
 * before a reload removed it lives on until it closes, but is not trusted any more.
 */
int rd__identity_current(const struct rd_server *srv, const char *identity);

/** 1 when @p identity may register (@p d, @p ep) under the identity_map (ep_policy identity).
 */
int rd__identity_allows(const struct rd_server *srv, const char *identity, const char *ep,
                        const char *d);

/* rd_auth.c */

/** An authorization decision: 0 (allowed) or the response code, with a diagnostic. */
struct rd_verdict {
    coap_pdu_code_t code;
    uint32_t max_age; /**< seconds, with 5.03; 0 for none */
    char diag[96];
};

/**
 * May the requester (@p session) read: lookups, GET of a registration.
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.01.
 */
int rd__auth_read(const struct rd_server *srv, const coap_session_t *session, coap_pdu_t *response);

/**
 * May the requester use the registration interface at all, and with which identity.
 * @param identity Written with the requester's identity on success.
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.01 or 4.03.
 */
int rd__auth_write(const struct rd_server *srv, const coap_session_t *session,
                   char identity[RD_IDENTITY_SIZE], coap_pdu_t *response);

/**
 * May @p identity create or re-register (@p d, @p ep): ep_policy, ownership of a live
 * registration of that name, max_regs_per_identity. Decides before anything is written.
 * @return RD_OK, or RD_EINVAL with @p v filled.
 */
int rd__auth_register(struct rd_server *srv, const char *identity, const char *ep, const char *d,
                      struct rd_verdict *v);

/**
 * May @p identity update or delete a registration created by @p owner (NULL: "none").
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.03.
 */
int rd__auth_owner(const struct rd_server *srv, const char *identity, const char *owner,
                   coap_pdu_t *response);

/** Answer with a verdict of rd__auth_register(). */
void rd__auth_respond(const struct rd_verdict *v, coap_pdu_t *response);

/* rd_registration.c */

/** Everything one registration write needs, borrowed. */
struct rd_reg_write {
    const char *ep;
    const char *d;
    const struct lookup_reg *rec;
    int64_t expires_at;
    int refresh_only;   /**< a live registration keeps its links and parameters */
    const char *source; /**< index term of the requester's address, or NULL */
};

/** Create the directory resource and the handler for registration resources. */
int rd__registration_init(struct rd_server *srv);

/**
 * Store a registration with its index terms: create or replace by (ep, d) when @p replace_id is
 * 0, else replace registration @p replace_id. Logs store failures and notes the lookup change.
 *
 * @param id      With replace_id 0, written with the registration's id.
 * @param created With replace_id 0, written with 1 for a new registration.
 * @return RD_OK; RD_ENOTFOUND; RD_EFULL; RD_ESTORE; RD_ENOMEM; RD_ETOOBIG.
 */
int rd__reg_save(struct rd_server *srv, const struct rd_reg_write *w, uint64_t replace_id,
                 uint64_t *id, int *created);

/**
 * Parse and check the Uri-Query options of a registration request for @p op, including the
 * configured lifetime range. On failure @p response holds the 4.00 with its diagnostic.
 *
 * @param p Written on success only; release with lookup_regparams_cleanup().
 * @return RD_OK; RD_EINVAL; RD_ENOMEM.
 */
int rd__parse_regparams(const struct rd_server *srv, const coap_session_t *session,
                        const coap_pdu_t *request, enum lookup_reg_op op,
                        struct lookup_regparams *p, coap_pdu_t *response);

/** Answer a failed store operation with its CoAP code and a short reason. */
void rd__respond_store_error(coap_pdu_t *response, int rc);

/* rd_rank.c: where a page of a lookup begins, from the store's counts. */

/** The store term of a registration with a link-local base, which some clients must not see;
 * its final NUL keeps it apart from every lookup term and the address term. */
#define RD_RANK_SCOPED "scoped"

/**
 * Set the weights of @p terms (the registration's store terms) and @p nlinks for @p w, as
 * store_reg.weighed asks: what a lookup of exactly each term finds in it. Endpoint names
 * (`ep=` terms) get 0 and are never sought: their pages are never deep.
 */
void rd__rank_weigh(const struct rd_reg_write *w, struct store_term *terms, size_t nterms,
                    uint32_t *nlinks);

/**
 * store_weigh_fn for store_open(): weighs a registration that a migration finds without
 * weights as rd__rank_weigh() would, from its stored record; declines one it cannot decode or
 * with a link-local base (it lacks RD_RANK_SCOPED).
 */
int rd__rank_weigh_stored(void *arg, const struct store_reg *reg, struct store_term *terms,
                          size_t nterms, uint32_t *nlinks);

/**
 * Where page @p q->page of a lookup begins, without walking the pages before it: the walk of
 * @p term (exact, with its NUL; length 0 for a walk of every registration) starts after
 * @p after and passes over @p skip matches (links when @p links, else registrations).
 *
 * @return RD_OK; RD_ECONFLICT when the counts cannot answer this lookup (more than one
 *         criterion, a prefix, page 0, or the store declines): walk from the first; RD_EINVAL;
 *         RD_ESTORE (logged).
 */
int rd__rank_seek(struct rd_server *srv, int links, const struct lookup_query *q, const char *term,
                  size_t term_len, int64_t now, uint64_t *after, uint64_t *skip);

/* rd_metrics.c */

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

/* rd_feed.c */

/** Start the change feed over the store's journal (with the HTTP listener only).
 * @return RD_OK; RD_ENOMEM. */
int rd__feed_init(struct rd_server *srv);

/** Before the HTTP daemon stops: end every subscription (none may stay suspended). */
void rd__feed_stop(struct rd_server *srv);

/** After the HTTP daemon stopped: free the feed. Accepts a server without one. */
void rd__feed_cleanup(struct rd_server *srv);

/**
 * Stage the event of a registration write for the store's next write (rd__reg_save()): the
 * registration @p ep, @p d (or @p replace_id) becomes @p rec, encoded as @p data. The stored one,
 * if any, decides between "registered" and "updated" and what changed. No-op without a feed.
 */
void rd__feed_stage_save(struct rd_server *srv, uint64_t replace_id, const char *ep, const char *d,
                         const struct lookup_reg *rec, const void *data, size_t len);

/** Stage the "updated" event of a lifetime refresh of registration @p id. */
void rd__feed_stage_refresh(struct rd_server *srv, uint64_t id);

/** Stage the "removed" event of registration @p id, as it is stored. */
void rd__feed_stage_removal(struct rd_server *srv, uint64_t id);

/** Set the time of the events the next writes (the expiry sweep's) append. */
void rd__feed_clock(struct rd_server *srv, int64_t now);

/** After a write committed: push the new journal events to the subscribers. */
void rd__feed_committed(struct rd_server *srv);

/**
 * Answer GET /api/events on @p conn: filters @p qp (borrowed for the call), resume from
 * Last-Event-ID or since.
 *
 * @param error Set to a diagnostic (static) on RD_EINVAL and RD_ESTORE.
 * @return RD_OK (the stream is queued); RD_EINVAL; RD_ESTORE; RD_ENOMEM.
 */
int rd__feed_subscribe(struct rd_server *srv, struct MHD_Connection *conn,
                       const struct lookup_qparam *qp, size_t nq, const char **error);

/** Whether a subscriber was woken since the last call: the loop must not sleep. */
int rd__feed_take_kick(struct rd_server *srv);

/** Open subscriptions. */
size_t rd__feed_subscribers(const struct rd_server *srv);

/* rd_http.c */

/** Start the HTTP listener of conf.http_listen (metrics, health, dashboard); nothing when off.
 * Logs "http listening on HOST:PORT". @return RD_OK; RD_EINVAL (bad address, port in use). */
int rd__http_init(struct rd_server *srv);

/** Stop the listener. Accepts a server without one. */
void rd__http_cleanup(struct rd_server *srv);

/** One turn of the I/O loop: wait up to @p timeout_ms for CoAP or HTTP, serve both.
 * @return as coap_io_process(): milliseconds spent, or -1 on failure. */
int rd__http_io(struct rd_server *srv, uint32_t timeout_ms);

/** Open HTTP connections now; 0 without a listener. */
unsigned rd__http_connections(const struct rd_server *srv);

/* rd_conditional.c */

/** The tag of a registration: a hash of @p ep, @p d and its stored record @p data (lt, base,
 * owner, attributes, links), so any change but a lifetime refresh changes it. GET /rd/<id>
 * carries it as its ETag, and If-Match on the registration resource compares against it.
 * @return A tag, never 0. */
uint64_t rd__reg_etag(const char *ep, const char *d, const void *data, size_t len);

/** The ETag option value of @p tag (RFC 7252 section 5.10.6), as core-rd sends it: the
 * shortest big-endian form. @return Its length, 1 to 8. */
size_t rd__etag_encode(uint64_t tag, uint8_t out[8]);

/** @return 1 when @p request carries If-Match or If-None-Match, else 0. */
int rd__cond_present(const coap_pdu_t *request);

/**
 * Evaluate the If-Match and If-None-Match options of @p request (RFC 7252 section 5.10.8)
 * against a resource that @p exists with tag @p tag. If-None-Match fails when it exists; any
 * If-Match fails unless it exists and one If-Match option is empty or equals the tag.
 *
 * @param why Written with a short reason (a static string) on failure.
 * @return RD_OK when the request may go on; RD_ECONFLICT when a precondition fails.
 */
int rd__cond_eval(const coap_pdu_t *request, int exists, uint64_t tag, const char **why);

/** The conditions of a request on the registration resource @p id, which exists when update
 * or removal would find it (live, or expired within expiry_grace). Reads the store only when
 * the request is conditional.
 * @return RD_OK; RD_ECONFLICT (4.12 with the reason set in @p response); RD_ESTORE (5.00 set). */
int rd__cond_reg(struct rd_server *srv, const coap_pdu_t *request, coap_pdu_t *response,
                 uint64_t id);

/** The conditions of POST /rd, judged against the live registration of (@p ep, @p d) that
 * the request would create or replace: If-None-Match registers only a new (ep, d).
 * @return RD_OK; RD_ECONFLICT (4.12 set in @p response); RD_ESTORE (5.00 set). */
int rd__cond_ep(struct rd_server *srv, const coap_pdu_t *request, coap_pdu_t *response,
                const char *ep, const char *d);

#endif
