/* The configuration of the server: every directive's field (struct rd_conf), its defaults,
 * parsing and copying (rd_conf.c, through the table of rd_conf_table.c) and the checks between
 * security directives (rd_conf_sec.c). */
#ifndef RD_CONF_H
#define RD_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "lookup.h"
#include "store.h"

/** Most listen addresses one server takes. */
#define RD_LISTEN_MAX 16
/** Most interfaces multicast discovery joins on. */
#define RD_MCAST_IFACE_MAX 8

/** Log levels, most severe first. */
enum rd_log_level {
    RD_LOG_ERROR = 0,
    RD_LOG_WARN = 1,
    RD_LOG_INFO = 2,
    RD_LOG_DEBUG = 3,
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
    char *http_token_file;   /**< bearer tokens of the HTTP listener, one a line; NULL: none */
    uint32_t feed_keepalive; /**< seconds between keepalives to idle feed subscribers; 0: none */
    /* Lookups away from the loop (rd_lookup_job.c). */
    char *workers;              /**< "auto" (a thread per online core) or "0" to "64" */
    uint32_t lookup_budget_ms;  /**< work one lookup may take before 5.03; 0: no limit */
    uint64_t lookup_inline_max; /**< registrations up to which lookups stay on the loop */
    uint32_t lookup_inline_ms;  /**< work a lookup may take on the loop before a worker's turn */
    char *etcd_endpoints;          /**< etcd members, comma-separated; "" standalone */
    char *etcd_prefix;             /**< key prefix of this directory in etcd */
    char *node_name;               /**< name in the cluster; "" the host name */
};

/* rd_conf.c */

/** Replace the owned string *@p dst with a copy of @p value (NULL: none), freeing the old one.
 * @p value may be *@p dst. @return RD_OK; RD_ENOMEM, leaving *@p dst as it was. */
int rd__conf_string_set(char **dst, const char *value);

/** Set every directive to its default. Allocates; release with rd_conf_cleanup().
 * @return RD_OK; RD_ENOMEM. */
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

/** Read the file @p path and apply it with rd_conf_parse().
 * @return as rd_conf_parse(); also RD_EINVAL, with @p err, when the file is unreadable. */
int rd_conf_load(struct rd_conf *conf, const char *path, char *err, size_t err_size);

/** Apply one directive (as the command line does). @return as rd_conf_parse(). */
int rd_conf_set(struct rd_conf *conf, const char *key, const char *value, char *err,
                size_t err_size);

/** Parse a level name (error, warn, info, debug). @return RD_OK; RD_EINVAL (no such level). */
int rd_conf_log_level(const char *s, enum rd_log_level *out);

/** Deep-copy @p src into @p dst (release with rd_conf_cleanup()). @return RD_OK; RD_ENOMEM,
 * with @p dst cleaned up. */
int rd_conf_copy(struct rd_conf *dst, const struct rd_conf *src);

/* rd_conf_sec.c */

/** Check relations between security directives. @return RD_OK or RD_EINVAL with @p err. */
int rd__conf_sec_check(const struct rd_sec_conf *sec, char *err, size_t err_size);

#endif
