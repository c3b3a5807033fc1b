/* Every configuration directive in one table: type, place, default, range, reload and help
 * (the configuration of an RFC 9176 resource directory; the README's table and
 * conf/core-rd.conf are checked against it by unit-rd). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "rd_conf.h"
#include "rd_conf_table.h"
#include "rd_status.h"
#include "rd_worker.h"
#include "store.h"

/* Where a field of struct rd_conf lives and how large it is. */
#define AT(m) .offset = offsetof(struct rd_conf, m), .size = sizeof(((struct rd_conf *)0)->m)

/* A number as written in the file, stored as it is. */
#define UINT(n, m, lo, hi, u, d, h)                                                                \
    {                                                                                              \
        .name = n, .type = RD_CONF_UINT, AT(m), .min = lo, .max = hi, .scale = 1, .unit = u,       \
        .def = d, .sample = d, .help = h                                                           \
    }

/* on or off. */
#define FLAG(n, m, d, h)                                                                           \
    {                                                                                              \
        .name = n, .type = RD_CONF_FLAG, AT(m), .def = d, .sample = d, .help = h                   \
    }

/* A path that has no default: the sample shows an example, commented out. */
#define PATH(n, m, example, h)                                                                     \
    {                                                                                              \
        .name = n, .type = RD_CONF_PATH, AT(m), .sample = example, .help = h                       \
    }

/* "HOST:PORT" with a port: a bare name or address would listen nowhere useful. */
static int
check_host_port(const char *key, const char **value, char *err, size_t err_size)
{
    if (!strrchr(*value, ':')) {
        snprintf(err, err_size, "%s: expected HOST:PORT, got \"%s\"", key, *value);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* "off" turns the HTTP listener off, stored as the empty string the server tests for. */
static int
check_http_listen(const char *key, const char **value, char *err, size_t err_size)
{
    if (strcmp(*value, "off") == 0) {
        *value = "";
        return RD_OK;
    }
    if (!strrchr(*value, ':')) {
        snprintf(err, err_size, "%s: expected HOST:PORT or off, got \"%s\"", key, *value);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* A sector is stored in every registration without it, so it obeys the name limit of `d`. */
static int
check_sector(const char *key, const char **value, char *err, size_t err_size)
{
    if (strlen(*value) > LOOKUP_NAME_MAX) {
        snprintf(err, err_size, "%s: longer than %d bytes", key, LOOKUP_NAME_MAX);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* "auto" or a thread count: rd__lookup_jobs_init() reads it again. */
static int
check_workers(const char *key, const char **value, char *err, size_t err_size)
{
    char *end = NULL;
    unsigned long n;

    if (strcmp(*value, "auto") == 0) {
        return RD_OK;
    }
    n = strtoul(*value, &end, 10);
    if (!**value || *end || (*value)[0] < '0' || (*value)[0] > '9' || n > RD_WORKERS_MAX) {
        snprintf(err, err_size, "%s: expected auto or 0 to %d, got \"%s\"", key, RD_WORKERS_MAX,
                 *value);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* Empty, or comma-separated http:// or https:// URLs of etcd members. */
static int
check_etcd_endpoints(const char *key, const char **value, char *err, size_t err_size)
{
    const char *p = *value;

    while (*p) {
        if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) {
            snprintf(err, err_size, "%s: expected http://HOST:PORT[,...], got \"%s\"", key, *value);
            return RD_EINVAL;
        }
        p += strcspn(p, ",");
        p += *p == ',';
    }
    return RD_OK;
}

/* A prefix of keys: not empty, and short enough to leave room for the names under it. */
static int
check_etcd_prefix(const char *key, const char **value, char *err, size_t err_size)
{
    size_t len = strlen(*value);

    if (len == 0 || len > 128) {
        snprintf(err, err_size, "%s: expected 1 to 128 bytes", key);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* Letters, digits, '.', '-' and '_': it goes into logs, JSON and etcd keys as it is. */
static int
check_node_name(const char *key, const char **value, char *err, size_t err_size)
{
    size_t len = strlen(*value);

    if (len > 63 || strspn(*value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789.-_") != len) {
        snprintf(err, err_size, "%s: expected up to 63 letters, digits, '.', '-' or '_'", key);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* The enum fields are written through an int: they must be that size. */
_Static_assert(sizeof(enum rd_log_level) == sizeof(int), "log_level is stored as an int");
_Static_assert(sizeof(enum store_sync) == sizeof(int), "sync is stored as an int");
_Static_assert(sizeof(enum rd_plain) == sizeof(int), "plain_coap is stored as an int");
_Static_assert(sizeof(enum rd_ep_policy) == sizeof(int), "ep_policy is stored as an int");

static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };
static const int level_values[] = { RD_LOG_ERROR, RD_LOG_WARN, RD_LOG_INFO, RD_LOG_DEBUG };
static const char *const sync_names[] = { "always", "periodic", "never", NULL };
static const int sync_values[] = { STORE_SYNC_ALWAYS, STORE_SYNC_PERIODIC, STORE_SYNC_NEVER };
static const char *const plain_names[] = { "on", "off", "lookup-only", NULL };
static const int plain_values[] = { RD_PLAIN_ON, RD_PLAIN_OFF, RD_PLAIN_LOOKUP_ONLY };
static const char *const policy_names[] = { "first-come-first-remembered", "identity", NULL };
static const int policy_values[] = { RD_EP_FIRST_COME, RD_EP_IDENTITY };
static const char *const access_names[] = { "open", "authenticated", NULL };
static const int access_values[] = { 0, 1 };
/* "on" is an older name of blocks, still accepted. */
static const char *const amp_names[] = { "blocks", "on", "echo", "off", NULL };
static const int amp_values[] = { RD_AMP_BLOCKS, RD_AMP_BLOCKS, RD_AMP_ECHO, RD_AMP_OFF };

const struct rd_conf_directive rd_conf_directives[] = {
    { .name = "listen",
      .type = RD_CONF_LIST,
      AT(listen),
      .count_offset = offsetof(struct rd_conf, nlisten),
      .max = RD_LISTEN_MAX,
      .unit = " addresses",
      .check = check_host_port,
      .sample = "[::]:5683",
      .help = "CoAP listener [SCHEME://]HOST:PORT; repeatable; none given: [::]:5683" },
    { .name = "data_dir",
      .type = RD_CONF_PATH,
      AT(data_dir),
      .def = "./var/core-rd",
      .sample = "./var/core-rd",
      .help = "LMDB data directory, created on first start" },
    { .name = "log_level",
      .type = RD_CONF_ENUM,
      AT(log_level),
      .names = level_names,
      .values = level_values,
      .expected = "error, warn, info or debug",
      .nocase = 1,
      .def = "info",
      .sample = "info",
      .reload = 1,
      .help = "least severe level logged" },
    { .name = "log_rate_limit",
      .type = RD_CONF_UINT,
      AT(log_rate_limit),
      .min = 0,
      .max = 1000000,
      .scale = 1,
      .unit = "lines per second (0: no limit)",
      .def = "10",
      .sample = "10",
      .reload = 1,
      .help = "log lines per second one source address may cause; 0: no limit" },
    { .name = "default_sector",
      .type = RD_CONF_STRING,
      AT(default_sector),
      .check = check_sector,
      .def = "",
      .sample = "",
      .help = "sector (d) of registrations that name none; empty: none" },
    UINT("lifetime_min", lifetime_min, 1, UINT32_MAX, "seconds", "1",
         "shortest registration lifetime (lt) accepted"),
    UINT("lifetime_max", lifetime_max, 1, UINT32_MAX, "seconds", "604800",
         "longest registration lifetime (lt) accepted"),
    UINT("expiry_grace", expiry_grace, 0, UINT32_MAX, "seconds", "600",
         "seconds an expired registration can still be revived by an update"),
    UINT("max_payload", max_payload, 64, 16 * 1024 * 1024, "bytes", "65536",
         "largest registration body after Block1 reassembly (4.13 beyond)"),
    UINT("max_links", max_links, 1, 100000, "a count", "1024",
         "most links per registration (4.00 beyond)"),
    { .name = "sync",
      .type = RD_CONF_ENUM,
      AT(sync),
      .names = sync_names,
      .values = sync_values,
      .expected = "always, periodic or never",
      .def = "periodic",
      .sample = "periodic",
      .help = "when commits are flushed to disk" },
    UINT("sync_interval", sync_interval, 1, 3600, "seconds", "1",
         "flush interval of sync periodic"),
    { .name = "map_size",
      .type = RD_CONF_UINT,
      AT(map_size),
      .min = 1,
      .max = 1024 * 1024,
      .scale = 1024 * 1024,
      .unit = "MiB",
      .def = "16384",
      .sample = "16384",
      .help = "largest database size in MiB (address space, not disk)" },
    FLAG("simple_registration", simple_registration, "on", "serve POST /.well-known/rd"),
    UINT("simple_timeout", simple_timeout, 1, 300, "seconds", "10",
         "how long a simple registration waits for the device (then 5.04)"),
    UINT("observe_max", observe_max, 0, 1000000, "a count", "4096", "observers of lookups in all"),
    UINT("observe_max_per_source", observe_max_per_source, 0, 1000000, "a count", "16",
         "observers of lookups from one source address"),
    UINT("feed_retain_events", feed_retain_events, 1, 100000000, "a count", "1000000",
         "change feed events kept in the journal at most"),
    UINT("feed_retain_seconds", feed_retain_seconds, 0, UINT32_MAX, "seconds (0: no age limit)",
         "604800", "age of the oldest change feed event kept"),
    UINT("feed_keepalive", feed_keepalive, 0, 3600, "seconds (0: off)", "15",
         "seconds between keepalive comments to an idle change feed subscriber; 0: none"),
    FLAG("simple_echo", simple_echo, "off",
         "verify the requester's address with Echo before fetching"),
    UINT("simple_fetches", simple_fetches, 1, 4096, "a count", "64",
         "simple registrations waiting for their device at once"),
    UINT("simple_fetches_per_source", simple_fetches_per_source, 1, 4096, "a count", "2",
         "simple registrations waiting for their device from one source address"),
    FLAG("multicast", multicast, "off", "answer discovery sent to the multicast groups"),
    { .name = "multicast_interface",
      .type = RD_CONF_LIST,
      AT(mcast_iface),
      .count_offset = offsetof(struct rd_conf, nmcast_iface),
      .max = RD_MCAST_IFACE_MAX,
      .unit = "",
      .sample = "eth0",
      .help = "interface to join the multicast groups on; repeatable; none: the default" },
    { .name = "dtls_listen",
      .type = RD_CONF_LIST,
      AT(sec.dtls_listen),
      .count_offset = offsetof(struct rd_conf, sec.ndtls_listen),
      .max = RD_LISTEN_MAX,
      .unit = " addresses",
      .check = check_host_port,
      .sample = "[::]:5684",
      .help = "CoAPS listener; repeatable; none given: [::]:5684 once DTLS is set up" },
    { .name = "psk_file",
      .type = RD_CONF_PATH,
      AT(sec.psk_file),
      .sample = "/etc/core-rd/psk.keys",
      .reload = 1,
      .help = "pre-shared keys, `identity key` lines" },
    PATH("cert_file", sec.cert_file, "/etc/core-rd/server.pem", "server certificate (PEM)"),
    PATH("key_file", sec.key_file, "/etc/core-rd/server.key", "its private key (PEM)"),
    PATH("ca_file", sec.ca_file, "/etc/core-rd/clients-ca.pem",
         "CA (PEM) that client certificates must chain to"),
    { .name = "plain_coap",
      .type = RD_CONF_ENUM,
      AT(sec.plain_coap),
      .names = plain_names,
      .values = plain_values,
      .def = "on",
      .sample = "on",
      .reload = 1,
      .help = "what the plain CoAP listener serves (off only at restart)" },
    { .name = "ep_policy",
      .type = RD_CONF_ENUM,
      AT(sec.ep_policy),
      .names = policy_names,
      .values = policy_values,
      .def = "first-come-first-remembered",
      .sample = "first-come-first-remembered",
      .reload = 1,
      .help = "who may register an endpoint name" },
    { .name = "identity_map",
      .type = RD_CONF_PATH,
      AT(sec.identity_map),
      .sample = "/etc/core-rd/identity.map",
      .reload = 1,
      .help = "`identity ep-pattern [d-pattern]` lines for ep_policy identity" },
    { .name = "lookup_access",
      .type = RD_CONF_ENUM,
      AT(sec.lookup_authenticated),
      .names = access_names,
      .values = access_values,
      .def = "open",
      .sample = "open",
      .reload = 1,
      .help = "whether lookups need a DTLS identity" },
    { .name = "max_regs_per_identity",
      .type = RD_CONF_UINT,
      AT(sec.max_regs_per_identity),
      .min = 0,
      .max = UINT32_MAX,
      .scale = 1,
      .unit = "a count",
      .def = "0",
      .sample = "0",
      .reload = 1,
      .help = "live registrations one identity may hold; 0: no limit" },
    { .name = "http_listen",
      .type = RD_CONF_STRING,
      AT(http_listen),
      .check = check_http_listen,
      .def = "off",
      .sample = "off",
      .help = "HOST:PORT of the metrics, health and dashboard listener, or off" },
    { .name = "http_token_file",
      .type = RD_CONF_PATH,
      AT(http_token_file),
      .sample = "/etc/core-rd/http.tokens",
      .reload = 1,
      .help = "bearer tokens for /api and /metrics, one a line; reloaded on SIGHUP" },
    UINT("http_connections", http_connections, 1, 10000, "a count", "64",
         "open HTTP connections in all"),
    UINT("http_connections_per_ip", http_connections_per_ip, 1, 10000, "a count", "16",
         "open HTTP connections from one address"),
    UINT("http_idle_timeout", http_idle_timeout, 1, 3600, "seconds", "10",
         "seconds an HTTP connection may stay silent"),
    UINT("max_query_len", limits.max_query_len, 16, 65535, "bytes", "2048",
         "longest query of one request (4.00 beyond)"),
    UINT("max_attr_len", limits.max_attr_len, 16, 65535, "bytes", "512",
         "longest query parameter, link target or link attribute value (4.00 beyond)"),
    UINT("max_registrations", limits.max_registrations, 0, 1000000000, "a count (0: no limit)", "0",
         "most registrations in the directory (5.03 beyond); 0: no limit"),
    UINT("max_per_source", limits.max_per_source, 0, 1000000000, "a count (0: no limit)", "1000",
         "most registrations last written from one source address (4.29 beyond)"),
    UINT("write_rate_limit", limits.write_rate_limit, 0, 1000000,
         "registrations per second (0: no limit)", "10",
         "registration writes per second per source address; 0: no limit"),
    UINT("write_rate_burst", limits.write_rate_burst, 1, 1000000, "registrations", "50",
         "registration writes one address may send at once"),
    UINT("rate_limit", limits.rate_limit, 0, 1000000, "requests per second (0: no limit)", "0",
         "requests per second per source address; 0: no limit"),
    UINT("rate_burst", limits.rate_burst, 1, 1000000, "requests", "50",
         "requests one address may send at once"),
    { .name = "amplification",
      .type = RD_CONF_ENUM,
      AT(limits.amplification),
      .names = amp_names,
      .values = amp_values,
      .expected = "blocks, echo or off",
      .def = "blocks",
      .sample = "blocks",
      .help = "how a large answer goes to an unverified address" },
    /* libcoap 4.3.1 walks every session it keeps once per dispatch, and once more for each
     * datagram from a new peer: with 4,096 kept, a registration from a new device cost some
     * 120 µs more; with 512, nothing measurable. */
    UINT("max_sessions", limits.max_sessions, 1, 1000000, "a count", "512",
         "idle libcoap sessions kept"),
    UINT("session_timeout", limits.session_timeout, 1, 86400, "seconds", "60",
         "seconds before an idle session goes"),
    { .name = "etcd_endpoints",
      .type = RD_CONF_STRING,
      AT(etcd_endpoints),
      .check = check_etcd_endpoints,
      .def = "",
      .sample = "",
      .help = "etcd members as http://HOST:PORT[,...]: run as a node of a cluster; empty: alone" },
    { .name = "etcd_prefix",
      .type = RD_CONF_STRING,
      AT(etcd_prefix),
      .check = check_etcd_prefix,
      .def = "/core-rd/",
      .sample = "/core-rd/",
      .help = "where in etcd's key space this directory keeps its keys" },
    { .name = "node_name",
      .type = RD_CONF_STRING,
      AT(node_name),
      .check = check_node_name,
      .def = "",
      .sample = "",
      .help = "this node's name in logs, /health and the sweeper key; empty: the host name" },
    UINT("answer_memory", limits.answer_memory, 65536, (uint64_t)1 << 40, "bytes", "33554432",
         "bytes of answers kept for their later Block2 blocks"),
    { .name = "workers",
      .type = RD_CONF_STRING,
      AT(workers),
      .check = check_workers,
      .def = "auto",
      .sample = "auto",
      .help = "threads that compute lookups: auto (one per online core) or 0 to 64" },
    UINT("lookup_budget_ms", lookup_budget_ms, 0, 3600000, "milliseconds (0: no limit)", "2000",
         "work one lookup may take before it is refused with 5.03; 0: no limit"),
    UINT("lookup_inline_max", lookup_inline_max, 0, 1000000000, "registrations", "1000",
         "registrations up to which every lookup is computed on the loop and piggybacked"),
    UINT("lookup_inline_ms", lookup_inline_ms, 0, 1000, "milliseconds", "2",
         "work a lookup may take on the loop before it moves to a worker; 0: straight there"),
};

const size_t rd_conf_ndirectives = sizeof(rd_conf_directives) / sizeof(rd_conf_directives[0]);

const struct rd_conf_directive *
rd_conf_directive_find(const char *name)
{
    for (size_t i = 0; i < rd_conf_ndirectives; i++) {
        if (strcmp(rd_conf_directives[i].name, name) == 0) {
            return &rd_conf_directives[i];
        }
    }
    return NULL;
}
