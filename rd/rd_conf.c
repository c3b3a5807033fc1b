/* Configuration: defaults, `key value` parsing from a buffer, and file loading. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rd_internal.h"

/* Longest config file we read: a config is a few hundred bytes, anything larger is a mistake. */
#define CONF_FILE_MAX (1024 * 1024)

static int
set_string(char **dst, const char *value)
{
    char *copy = strdup(value);

    if (!copy) {
        return RD_ENOMEM;
    }
    free(*dst);
    *dst = copy;
    return RD_OK;
}

int
rd_conf_init(struct rd_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->log_level = RD_LOG_INFO;
    conf->log_rate_limit = 10;
    conf->lifetime_min = 1;
    /* RFC 9176 allows lt up to 2^32-1 s (136 years); a registration that long outlives any
     * device and, from a careless or hostile client, fills the store for good. Seven days is
     * far above the RFC's default lt of 90000 s. */
    conf->lifetime_max = 604800;
    conf->expiry_grace = 600;
    conf->max_payload = 64 * 1024;
    conf->max_links = 1024;
    conf->sync = STORE_SYNC_PERIODIC;
    conf->sync_interval = 1;
    conf->map_size = (uint64_t)16 << 30;
    conf->simple_registration = 1;
    conf->simple_timeout = 10;
    conf->simple_fetches = 64;
    conf->simple_fetches_per_source = 2;
    conf->http_connections = 64;
    conf->http_connections_per_ip = 16;
    conf->http_idle_timeout = 10;
    conf->observe_max = 4096;
    conf->observe_max_per_source = 16;
    conf->feed_retain_events = 1000000;
    conf->feed_retain_seconds = 7 * 86400;
    rd__limits_conf_init(&conf->limits);
    if (set_string(&conf->data_dir, "./var/core-rd") || set_string(&conf->default_sector, "") ||
        set_string(&conf->http_listen, "")) {
        rd_conf_cleanup(conf);
        return RD_ENOMEM;
    }
    return RD_OK;
}

void
rd_conf_cleanup(struct rd_conf *conf)
{
    if (!conf) {
        return;
    }
    for (size_t i = 0; i < conf->nlisten; i++) {
        free(conf->listen[i]);
    }
    for (size_t i = 0; i < conf->nmcast_iface; i++) {
        free(conf->mcast_iface[i]);
    }
    free(conf->data_dir);
    free(conf->default_sector);
    rd__conf_sec_cleanup(&conf->sec);
    free(conf->http_listen);
    memset(conf, 0, sizeof(*conf));
}

int
rd_conf_copy(struct rd_conf *dst, const struct rd_conf *src)
{
    *dst = *src;
    dst->nlisten = 0;
    dst->nmcast_iface = 0;
    dst->data_dir = NULL;
    dst->default_sector = NULL;
    memset(&dst->sec, 0, sizeof(dst->sec));
    dst->http_listen = NULL;
    if (set_string(&dst->data_dir, src->data_dir) ||
        set_string(&dst->default_sector, src->default_sector) ||
        set_string(&dst->http_listen, src->http_listen)) {
        rd_conf_cleanup(dst);
        return RD_ENOMEM;
    }
    for (size_t i = 0; i < src->nlisten; i++) {
        dst->listen[i] = strdup(src->listen[i]);
        if (!dst->listen[i]) {
            rd_conf_cleanup(dst);
            return RD_ENOMEM;
        }
        dst->nlisten++;
    }
    for (size_t i = 0; i < src->nmcast_iface; i++) {
        dst->mcast_iface[i] = strdup(src->mcast_iface[i]);
        if (!dst->mcast_iface[i]) {
            rd_conf_cleanup(dst);
            return RD_ENOMEM;
        }
        dst->nmcast_iface++;
    }
    if (rd__conf_sec_copy(&dst->sec, &src->sec)) {
        rd_conf_cleanup(dst);
        return RD_ENOMEM;
    }
    return RD_OK;
}

int
rd_conf_log_level(const char *s, enum rd_log_level *out)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum rd_log_level)i;
            return RD_OK;
        }
    }
    return RD_EINVAL;
}

/* Parse a decimal unsigned integer in [min, max]; the whole string must be digits. */
static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9') {
        return RD_EINVAL;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max) {
        return RD_EINVAL;
    }
    *out = v;
    return RD_OK;
}

int
rd__conf_add_listen(char *list[RD_LISTEN_MAX], size_t *n, const char *key, const char *value,
                    char *err, size_t err_size)
{
    if (*n >= RD_LISTEN_MAX) {
        snprintf(err, err_size, "%s: at most %d addresses", key, RD_LISTEN_MAX);
        return RD_EINVAL;
    }
    if (!strrchr(value, ':')) {
        snprintf(err, err_size, "%s: expected HOST:PORT, got \"%s\"", key, value);
        return RD_EINVAL;
    }
    list[*n] = strdup(value);
    if (!list[*n]) {
        return RD_ENOMEM;
    }
    (*n)++;
    return RD_OK;
}

static int
set_sync(struct rd_conf *conf, const char *value)
{
    if (strcmp(value, "always") == 0) {
        conf->sync = STORE_SYNC_ALWAYS;
    } else if (strcmp(value, "periodic") == 0) {
        conf->sync = STORE_SYNC_PERIODIC;
    } else if (strcmp(value, "never") == 0) {
        conf->sync = STORE_SYNC_NEVER;
    } else {
        return RD_EINVAL;
    }
    return RD_OK;
}

static int
set_flag(int *flag, const char *key, const char *value, char *err, size_t err_size)
{
    if (strcmp(value, "on") == 0) {
        *flag = 1;
    } else if (strcmp(value, "off") == 0) {
        *flag = 0;
    } else {
        snprintf(err, err_size, "%s: expected on or off, got \"%s\"", key, value);
        return RD_EINVAL;
    }
    return RD_OK;
}

/* Numeric directives: where each lives and its range. */
struct num_directive {
    const char *key;
    uint64_t min;
    uint64_t max;
    const char *what;
};

static const struct num_directive num_directives[] = {
    { "lifetime_min", 1, UINT32_MAX, "seconds" },
    { "lifetime_max", 1, UINT32_MAX, "seconds" },
    { "expiry_grace", 0, UINT32_MAX, "seconds" },
    { "max_payload", 64, 16 * 1024 * 1024, "bytes" },
    { "max_links", 1, 100000, "a count" },
    { "sync_interval", 1, 3600, "seconds" },
    { "map_size", 1, 1024 * 1024, "MiB" },
    { "simple_timeout", 1, 300, "seconds" },
    { "log_rate_limit", 0, 1000000, "lines per second (0: no limit)" },
    { "http_connections", 1, 10000, "a count" },
    { "http_connections_per_ip", 1, 10000, "a count" },
    { "http_idle_timeout", 1, 3600, "seconds" },
    { "simple_fetches", 1, 4096, "a count" },
    { "simple_fetches_per_source", 1, 4096, "a count" },
    { "observe_max", 0, 1000000, "a count" },
    { "observe_max_per_source", 0, 1000000, "a count" },
    { "feed_retain_events", 1, 100000000, "a count" },
    { "feed_retain_seconds", 0, UINT32_MAX, "seconds (0: no age limit)" },
};

static void
store_num(struct rd_conf *conf, const char *key, uint64_t v)
{
    if (strcmp(key, "lifetime_min") == 0) {
        conf->lifetime_min = (uint32_t)v;
    } else if (strcmp(key, "lifetime_max") == 0) {
        conf->lifetime_max = (uint32_t)v;
    } else if (strcmp(key, "expiry_grace") == 0) {
        conf->expiry_grace = (uint32_t)v;
    } else if (strcmp(key, "max_payload") == 0) {
        conf->max_payload = (size_t)v;
    } else if (strcmp(key, "max_links") == 0) {
        conf->max_links = (size_t)v;
    } else if (strcmp(key, "sync_interval") == 0) {
        conf->sync_interval = (uint32_t)v;
    } else if (strcmp(key, "simple_timeout") == 0) {
        conf->simple_timeout = (uint32_t)v;
    } else if (strcmp(key, "http_connections") == 0) {
        conf->http_connections = (size_t)v;
    } else if (strcmp(key, "http_connections_per_ip") == 0) {
        conf->http_connections_per_ip = (size_t)v;
    } else if (strcmp(key, "http_idle_timeout") == 0) {
        conf->http_idle_timeout = (uint32_t)v;
    } else if (strcmp(key, "log_rate_limit") == 0) {
        conf->log_rate_limit = (uint32_t)v;
    } else if (strcmp(key, "simple_fetches") == 0) {
        conf->simple_fetches = (size_t)v;
    } else if (strcmp(key, "simple_fetches_per_source") == 0) {
        conf->simple_fetches_per_source = (size_t)v;
    } else if (strcmp(key, "observe_max") == 0) {
        conf->observe_max = (size_t)v;
    } else if (strcmp(key, "observe_max_per_source") == 0) {
        conf->observe_max_per_source = (size_t)v;
    } else if (strcmp(key, "feed_retain_events") == 0) {
        conf->feed_retain_events = v;
    } else if (strcmp(key, "feed_retain_seconds") == 0) {
        conf->feed_retain_seconds = (uint32_t)v;
    } else {
        conf->map_size = v * 1024 * 1024;
    }
}

int
rd_conf_set(struct rd_conf *conf, const char *key, const char *value, char *err, size_t err_size)
{
    uint64_t v;
    int rc;

    for (size_t i = 0; i < sizeof(num_directives) / sizeof(num_directives[0]); i++) {
        const struct num_directive *nd = &num_directives[i];

        if (strcmp(key, nd->key) != 0) {
            continue;
        }
        if (parse_u64(value, nd->min, nd->max, &v)) {
            snprintf(err, err_size, "%s: expected %s from %llu to %llu, got \"%s\"", key, nd->what,
                     (unsigned long long)nd->min, (unsigned long long)nd->max, value);
            return RD_EINVAL;
        }
        store_num(conf, key, v);
        return RD_OK;
    }
    if (strcmp(key, "listen") == 0) {
        return rd__conf_add_listen(conf->listen, &conf->nlisten, key, value, err, err_size);
    }
    if (strcmp(key, "http_listen") == 0) {
        if (strcmp(value, "off") == 0) {
            value = "";
        } else if (!strrchr(value, ':')) {
            snprintf(err, err_size, "http_listen: expected HOST:PORT or off, got \"%s\"", value);
            return RD_EINVAL;
        }
        return set_string(&conf->http_listen, value);
    }
    if (strcmp(key, "data_dir") == 0) {
        return set_string(&conf->data_dir, value);
    }
    if (strcmp(key, "default_sector") == 0) {
        if (strlen(value) > LOOKUP_NAME_MAX) {
            snprintf(err, err_size, "default_sector: longer than %d bytes", LOOKUP_NAME_MAX);
            return RD_EINVAL;
        }
        return set_string(&conf->default_sector, value);
    }
    if (strcmp(key, "log_level") == 0) {
        if (rd_conf_log_level(value, &conf->log_level)) {
            snprintf(err, err_size, "log_level: expected error, warn, info or debug, got \"%s\"",
                     value);
            return RD_EINVAL;
        }
        return RD_OK;
    }
    if (strcmp(key, "multicast") == 0) {
        return set_flag(&conf->multicast, key, value, err, err_size);
    }
    if (strcmp(key, "multicast_interface") == 0) {
        if (conf->nmcast_iface >= RD_MCAST_IFACE_MAX) {
            snprintf(err, err_size, "multicast_interface: at most %d", RD_MCAST_IFACE_MAX);
            return RD_EINVAL;
        }
        conf->mcast_iface[conf->nmcast_iface] = strdup(value);
        if (!conf->mcast_iface[conf->nmcast_iface]) {
            return RD_ENOMEM;
        }
        conf->nmcast_iface++;
        return RD_OK;
    }
    if (strcmp(key, "simple_echo") == 0) {
        return set_flag(&conf->simple_echo, key, value, err, err_size);
    }
    if (strcmp(key, "simple_registration") == 0) {
        return set_flag(&conf->simple_registration, key, value, err, err_size);
    }
    if (strcmp(key, "sync") == 0) {
        if (set_sync(conf, value)) {
            snprintf(err, err_size, "sync: expected always, periodic or never, got \"%s\"", value);
            return RD_EINVAL;
        }
        return RD_OK;
    }
    rc = rd__conf_sec_set(&conf->sec, key, value, err, err_size);
    if (rc != RD_ENOTFOUND) {
        return rc;
    }
    rc = rd__limits_conf_set(&conf->limits, key, value, err, err_size);
    if (rc != RD_ENOTFOUND) {
        return rc;
    }
    snprintf(err, err_size, "%s: unknown directive", key);
    return RD_EINVAL;
}

/* Check relations between directives once the whole file is read. */
static int
check_conf(const struct rd_conf *conf, char *err, size_t err_size)
{
    if (conf->lifetime_min > conf->lifetime_max) {
        snprintf(err, err_size, "lifetime_min: larger than lifetime_max");
        return RD_EINVAL;
    }
    return rd__conf_sec_check(&conf->sec, err, err_size);
}

/* Trim spaces and tabs at both ends of [*s, *s + *len). */
static void
trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t' || **s == '\r')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r')) {
        (*len)--;
    }
}

static int
parse_line(struct rd_conf *conf, const char *line, size_t len, char *err, size_t err_size)
{
    char key[64];
    char value[1024];
    size_t klen = 0;

    trim(&line, &len);
    if (len == 0 || line[0] == '#') {
        return RD_OK;
    }
    while (klen < len && line[klen] != ' ' && line[klen] != '\t') {
        klen++;
    }
    if (klen >= sizeof(key)) {
        snprintf(err, err_size, "directive name too long");
        return RD_EINVAL;
    }
    memcpy(key, line, klen);
    key[klen] = '\0';
    line += klen;
    len -= klen;
    trim(&line, &len);
    if (len == 0 || len >= sizeof(value) || memchr(line, '\0', len)) {
        snprintf(err, err_size, "%s: %s", key, len ? "bad value" : "missing value");
        return RD_EINVAL;
    }
    memcpy(value, line, len);
    value[len] = '\0';
    return rd_conf_set(conf, key, value, err, err_size);
}

int
rd_conf_parse(struct rd_conf *conf, const char *buf, size_t len, const char *name, char *err,
              size_t err_size)
{
    char msg[512];
    size_t lineno = 0;
    size_t pos = 0;
    int rc;

    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;

        lineno++;
        rc = parse_line(conf, buf + pos, end - pos, msg, sizeof(msg));
        if (rc) {
            snprintf(err, err_size, "%s:%zu: %s", name, lineno, msg);
            return rc;
        }
        pos = end + 1;
    }
    rc = check_conf(conf, msg, sizeof(msg));
    if (rc) {
        snprintf(err, err_size, "%s: %s", name, msg);
    }
    return rc;
}

int
rd_conf_load(struct rd_conf *conf, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len;
    int rc = RD_EINVAL;

    if (!f) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return RD_EINVAL;
    }
    buf = malloc(CONF_FILE_MAX);
    if (!buf) {
        rc = RD_ENOMEM;
        goto out;
    }
    len = fread(buf, 1, CONF_FILE_MAX, f);
    if (ferror(f) || len == CONF_FILE_MAX) {
        snprintf(err, err_size, "%s: unreadable or larger than %d bytes", path, CONF_FILE_MAX);
        goto out;
    }
    rc = rd_conf_parse(conf, buf, len, path, err, err_size);
out:
    free(buf);
    fclose(f);
    return rc;
}
