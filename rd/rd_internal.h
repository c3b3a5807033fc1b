/* The server's private types and helpers, shared by the files of rd/. */
#ifndef RD_INTERNAL_H
#define RD_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "rd.h"
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

/** Recent answers to confirmable state-changing requests, by peer and message ID. */
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

/** Security directives (rd_conf_sec.c). Strings owned like the rest of struct rd_conf. */
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
    size_t max_query_len;     /**< all Uri-Query options of one request together */
    size_t max_attr_len;      /**< one query parameter, link target or link attribute value */
    size_t max_registrations; /**< registrations in the directory */
    size_t max_per_source;    /**< registrations last written from one source address */
    uint32_t rate_limit;      /**< requests per second per source address */
    uint32_t rate_burst;      /**< requests one address may send at once */
    int amplification;        /**< RD_AMP_OFF, RD_AMP_BLOCKS or RD_AMP_ECHO */
    size_t max_sessions;      /**< idle libcoap sessions kept */
    uint32_t session_timeout; /**< seconds before an idle session goes */
};

/** The whole configuration. Strings are owned by the struct until rd_conf_cleanup(). */
struct rd_conf {
    char *listen[RD_LISTEN_MAX]; /**< "HOST:PORT", IPv6 hosts in brackets */
    size_t nlisten;
    char *data_dir;
    enum rd_log_level log_level;
    char *default_sector;  /**< "" for none */
    uint32_t lifetime_min; /**< seconds */
    uint32_t lifetime_max; /**< seconds */
    uint32_t expiry_grace; /**< seconds an expired registration can still be revived */
    size_t max_payload;    /**< bytes of a registration body, after Block1 reassembly */
    size_t max_links;      /**< links in one registration */
    enum store_sync sync;
    uint32_t sync_interval;  /**< seconds, for sync periodic */
    uint64_t map_size;       /**< bytes */
    int simple_registration; /**< serve POST /.well-known/rd (RFC 9176 section 5.1) */
    int simple_echo;         /**< verify the requester's address with Echo before fetching */
    int multicast;           /**< answer discovery sent to the CoAP and RD groups */
    char *mcast_iface[RD_MCAST_IFACE_MAX]; /**< interfaces to join on; none: the default */
    size_t nmcast_iface;
    uint32_t simple_timeout; /**< seconds a simple registration waits for the endpoint */
    struct rd_sec_conf sec;  /**< DTLS, identities and authorization */
    char *http_listen;       /**< "HOST:PORT" of the metrics and dashboard listener; "" off */
    struct rd_limits_conf limits;
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
    struct rd_limits *limits;             /**< per-address state, fixed size */
    int guard_fd[RD_LISTEN_MAX];          /**< libcoap's endpoint sockets, looked at first */
    size_t nguard;
    uint16_t guard_mid; /**< message IDs of the guard's non-confirmable answers */
    struct rd_b1 *b1;   /**< Block1 bodies without Size1 (rd_block1.c) */
};

/* rd_conf.c */

/** Add a "HOST:PORT" listener of directive @p key to @p list (a copy). @return RD_OK; RD_EINVAL
 * with a reason in @p err (too many, no port); RD_ENOMEM. */
int rd__conf_add_listen(char *list[RD_LISTEN_MAX], size_t *n, const char *key, const char *value,
                        char *err, size_t err_size);

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

/**
 * Apply one security directive.
 *
 * @return RD_OK; RD_EINVAL (with @p err); RD_ENOMEM; RD_ENOTFOUND when @p key is not one.
 */
int rd__conf_sec_set(struct rd_sec_conf *sec, const char *key, const char *value, char *err,
                     size_t err_size);

/** Check relations between security directives. @return RD_OK or RD_EINVAL with @p err. */
int rd__conf_sec_check(const struct rd_sec_conf *sec, char *err, size_t err_size);

/** Deep-copy @p src into @p dst (which is overwritten). @return RD_OK or RD_ENOMEM. */
int rd__conf_sec_copy(struct rd_sec_conf *dst, const struct rd_sec_conf *src);

/** Release the strings. Accepts a zeroed struct. */
void rd__conf_sec_cleanup(struct rd_sec_conf *sec);

/* rd_log.c */

/** Write one log line to stderr when @p level is enabled on @p srv. */
void rd__log(const struct rd_server *srv, enum rd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Route libcoap's own log messages through the same format. */
void rd__log_coap_init(enum rd_log_level level);

/** Take the log level of a reloaded configuration @p conf (borrowed). */
void rd__log_reload(struct rd_server *srv, const struct rd_conf *conf);

/* rd_status.c */

/** The CoAP response code for an rd_status: the only such mapping. */
coap_pdu_code_t rd__status_to_coap(int rc);

/** Set @p code and a short diagnostic payload (RFC 7252 section 5.5.2) on @p response. */
void rd__respond_error(coap_pdu_t *response, coap_pdu_code_t code, const char *diag);

/* rd_request.c */

/** Collect the Uri-Query options of @p request one by one (never re-joined, RFC 9176 traps).
 * @return RD_OK; RD_ETOOBIG when there are more than @p max. */
int rd__query_params(const coap_pdu_t *request, struct lookup_qparam *out, size_t max, size_t *n);

/** Answer 4.02 to a conditional request: If-Match and If-None-Match are critical options this
 * server does not implement, and ignoring them could delete or replace what the client meant to
 * keep (RFC 7252 sections 5.4.1 and 5.10.8).
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.02. */
int rd__refuse_conditional(const coap_pdu_t *request, coap_pdu_t *response);

/** Answer 4.06 unless the request accepts link-format (or says nothing).
 * @return RD_OK, or RD_EINVAL when @p response was set to 4.06. */
int rd__check_accept(const coap_pdu_t *request, coap_pdu_t *response);

/** Answer 2.05 with @p buf as link-format, through Block2 when large. Takes the buffer's memory
 * (libcoap frees it after the last block) and leaves @p buf empty. */
void rd__respond_links(coap_resource_t *resource, coap_session_t *session,
                       const coap_pdu_t *request, const coap_string_t *query, coap_pdu_t *response,
                       struct lookup_buf *buf);

/** rd__respond_links() for any @p media_type: the amplification limit, Block2, and a 4.00 for
 * a block past the end. */
void rd__respond_body(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                      const coap_string_t *query, coap_pdu_t *response, struct lookup_buf *buf,
                      uint16_t media_type);

/** Read an unsigned option such as Content-Format or Accept.
 * @return 1 and @p value when present, 0 when absent. */
int rd__option_uint(const coap_pdu_t *request, uint16_t number, unsigned *value);

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

/** Note that a registration changed; @p expires_at is its new deadline (INT64_MAX if gone). */
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

/* rd_discovery.c */

/** Serve /.well-known/core ourselves, to unicast and multicast requests. */
int rd__discovery_init(struct rd_server *srv);

/** Release what rd__discovery_init() built. */
void rd__discovery_cleanup(struct rd_server *srv);

/* rd_block1.c: Block1 bodies sent without Size1, kept block by block for the handler. */

/** Allocate the table of bodies being received. @return RD_OK or RD_ENOMEM. */
int rd__b1_init(struct rd_server *srv);

/** Release it, and every body in it. */
void rd__b1_free(struct rd_server *srv);

/** Fold option @p number with its value into the key that names a transfer (Uri-Path,
 * Uri-Query and Request-Tag, in their order in the message). */
void rd__b1_key_add(uint64_t *key, unsigned number, const uint8_t *value, size_t len);

/** The key of @p request, as rd__b1_key_add() builds it from the raw datagram. */
uint64_t rd__b1_key_of(const coap_pdu_t *request);

/** 1 when a body without Size1 from @p from under @p key is being received. */
int rd__b1_pending(struct rd_server *srv, const struct sockaddr *from, uint64_t key);

/** Keep non-final block @p num (size exponent @p szx): block 0 starts a body, any other must be
 * the next one (or the last one again). @return RD_OK; RD_ENOTFOUND (no such body, or out of
 * order); RD_ENOMEM. */
int rd__b1_put(struct rd_server *srv, const struct sockaddr *from, uint64_t key, uint32_t num,
               unsigned szx, const uint8_t *data, size_t len);

/** Hand over the blocks before final block @p num and forget the body: @p data is the caller's
 * to free. @return RD_OK; RD_ENOTFOUND. */
int rd__b1_take(struct rd_server *srv, const struct sockaddr *from, uint64_t key, uint32_t num,
                unsigned szx, uint8_t **data, size_t *len);

/** The whole body whose final block @p request carries (@p last, @p last_len), put together
 * with the blocks kept before it. @p data stays valid until the next call.
 * @return RD_OK; RD_ENOTFOUND (blocks missing); RD_ENOMEM. */
int rd__b1_body(struct rd_server *srv, const coap_session_t *session, const coap_pdu_t *request,
                const coap_block_b_t *block, const uint8_t *last, size_t last_len,
                const char **data, size_t *len);

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

/** Set the limits to their defaults. */
void rd__limits_conf_init(struct rd_limits_conf *lc);

/**
 * Apply one limit directive.
 *
 * @return RD_OK; RD_EINVAL with @p err; RD_ENOTFOUND when @p key is not a limit.
 */
int rd__limits_conf_set(struct rd_limits_conf *lc, const char *key, const char *value, char *err,
                        size_t err_size);

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
 * Decide whether an answer of @p answer_len payload bytes may go to the requester: always for
 * a verified address or a small answer. Otherwise, with amplification blocks, @p response gets
 * a Block2 option that keeps its first block within the limit (1 is returned); where that
 * cannot help, or with amplification echo, @p response is set to 4.01 with an Echo value
 * (RFC 9175 section 2.4) and 0 is returned.
 */
int rd__limits_answer_ok(struct rd_server *srv, const coap_session_t *session,
                         const coap_pdu_t *request, coap_pdu_t *response, size_t answer_len);

/** The address of @p from as 16 bytes (IPv4 mapped into IPv6) and its port: the key under
 * which per-peer state is kept. @return RD_OK; RD_EINVAL for another family. */
int rd__sockaddr_key(const struct sockaddr *from, uint8_t addr[16], uint16_t *port);

/** A datagram from @p from carried Echo @p value: when this server gave it to that address,
 * the address is verified for the amplification limit (the guard sees every datagram, block
 * requests libcoap answers by itself included). */
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

/* rd_guard.c */

/** Find the socket libcoap opened for the endpoint at @p addr and look at its datagrams from
 * now on. @return RD_OK; RD_ENOTFOUND (logged; the server runs without the guard). */
int rd__guard_add(struct rd_server *srv, const coap_address_t *addr);

/**
 * Wait up to @p wait_ms for input on libcoap's descriptor, then answer and drop the Block1
 * requests libcoap 4.3.1 must not see (over max_payload: 4.13; a non-final block not full:
 * 4.00) at the head of each endpoint's queue.
 *
 * @return RD_OK: libcoap may now read without waiting; RD_ENOTFOUND: libcoap has no descriptor
 *         of its own and must do the waiting; RD_EINVAL: the wait failed.
 */
int rd__guard_wait(struct rd_server *srv, unsigned wait_ms);

/** Look at the datagrams waiting, as rd__guard_wait() does without waiting: 1 when one that
 * libcoap may read is waiting on a plain CoAP socket. */
int rd__guard_pending(struct rd_server *srv);

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

/* rd_http.c */

/** Start the HTTP listener of conf.http_listen (metrics, health, dashboard); nothing when off.
 * Logs "http listening on HOST:PORT". @return RD_OK; RD_EINVAL (bad address, port in use). */
int rd__http_init(struct rd_server *srv);

/** Stop the listener. Accepts a server without one. */
void rd__http_cleanup(struct rd_server *srv);

/** One turn of the I/O loop: wait up to @p timeout_ms for CoAP or HTTP, serve both.
 * @return as coap_io_process(): milliseconds spent, or -1 on failure. */
int rd__http_io(struct rd_server *srv, uint32_t timeout_ms);

#endif
