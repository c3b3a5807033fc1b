/* Logging: one logfmt line (key=value) per event on stderr, for the server and for libcoap's
 * own messages; the level can change at run time on a configuration reload. Lines caused by
 * one source address are rate-limited (log_rate_limit), so that no peer can fill the disk
 * through the log (RFC 9176 section 8: the RD must survive what any peer sends). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rd_conf.h"
#include "rd_limits.h"
#include "rd_log.h"
#include "rd_metrics.h"
#include "rd_request.h"
#include "rd_server.h"
#include "rd_status.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* Sources tracked at once: a fixed table, so forged addresses cost no memory. Two sources that
 * land in one slot share a budget; at worst a few lines of one are counted as the other's. */
#define LOGRATE_SLOTS 1024
/* How often quiet sources get the summary of what was suppressed, in milliseconds. */
#define LOGRATE_FLUSH_MS 1000

/* The log budget of one source address. */
struct lograte_slot {
    uint8_t addr[16]; /* IPv6, or IPv4-mapped */
    uint8_t used;
    uint64_t tokens;     /* thousandths of a line */
    int64_t last_ms;     /* monotonic milliseconds of the last refill */
    uint64_t suppressed; /* lines dropped since the last summary */
};

struct rd_lograte {
    struct lograte_slot slots[LOGRATE_SLOTS];
    struct lograte_slot coap; /* libcoap's own lines: it names no source */
    uint32_t rate;            /* lines per second per source; 0: no limit */
    int has_source;           /* a request of @c source is being served */
    uint8_t source[16];
    int64_t last_flush_ms;
};

/* libcoap's log handler is process-wide and takes no argument, so the budget of its lines is
 * reached through the one server that set the handler up (rd__log_init()). */
static struct rd_lograte *coap_lines;

/* Append @p s (@p len bytes) to @p out as a logfmt value: bare when it is a plain token,
 * else quoted with backslash escapes, so no value can forge a field or a line. */
static size_t
put_value(char *out, size_t size, size_t at, const char *s, size_t len)
{
    int bare = len > 0;

    for (size_t i = 0; i < len && bare; i++) {
        unsigned char c = (unsigned char)s[i];

        bare = c > ' ' && c != '"' && c != '\\' && c != '=' && c < 0x7f;
    }
    if (bare) {
        for (size_t i = 0; i < len && at + 1 < size; i++) {
            out[at++] = s[i];
        }
        return at;
    }
    if (at + 1 < size) {
        out[at++] = '"';
    }
    for (size_t i = 0; i < len && at + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            out[at++] = '\\';
            out[at++] = (char)c;
        } else if (c == '\n') {
            out[at++] = '\\';
            out[at++] = 'n';
        } else if (c < ' ' || c == 0x7f) {
            at += (size_t)snprintf(out + at, size - at, "\\x%02x", c);
        } else {
            out[at++] = (char)c;
        }
    }
    if (at + 1 < size) {
        out[at++] = '"';
    }
    return at;
}

/* 1 when every space-separated word of @p s is name=value with a non-empty name (an empty value
 * is written as ""). */
static int
all_fields(const char *s)
{
    while (*s) {
        size_t n = strcspn(s, " ");
        const char *eq = memchr(s, '=', n);

        if (!eq || eq == s) {
            return 0;
        }
        s += n;
        while (*s == ' ') {
            s++;
        }
    }
    return 1;
}

/*
 * One line per event in logfmt: ts=... level=... msg=... and, when the message ends in
 * name=value words ("registered ep=node1 d=floor2 lt=60"), those as fields of their own. Any
 * other message stays whole in msg, so its text can still be searched for as written.
 */
static void
write_line(enum rd_log_level level, const char *msg)
{
    char line[2048];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    const char *fields = NULL;
    size_t at;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    at = (size_t)snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s msg=", stamp,
                          ts.tv_nsec / 1000000L, level_names[level]);
    for (const char *p = strchr(msg, ' '); p; p = strchr(p + 1, ' ')) {
        if (memchr(msg, '=', (size_t)(p - msg))) {
            break;
        }
        if (all_fields(p + 1)) {
            fields = p + 1;
            break;
        }
    }
    at = put_value(line, sizeof(line), at, msg, fields ? (size_t)(fields - 1 - msg) : strlen(msg));
    while (fields && *fields) {
        size_t n = strcspn(fields, " ");
        const char *eq = memchr(fields, '=', n);

        if (at + (size_t)(eq - fields) + 3 < sizeof(line)) {
            line[at++] = ' ';
            memcpy(line + at, fields, (size_t)(eq - fields) + 1);
            at += (size_t)(eq - fields) + 1;
        }
        at = put_value(line, sizeof(line), at, eq + 1, n - (size_t)(eq - fields) - 1);
        fields += n;
        while (*fields == ' ') {
            fields++;
        }
    }
    fprintf(stderr, "%.*s\n", (int)(at < sizeof(line) ? at : sizeof(line) - 1), line);
}

/* Take one line from @p slot's budget. @return 1 when it may be written. */
static int
charge(const struct rd_lograte *lr, struct lograte_slot *slot, int64_t now_ms)
{
    /* A burst of as many lines as a second's budget, then the rate. */
    uint64_t cap = (uint64_t)lr->rate * 1000;

    if (!slot->used) {
        slot->used = 1;
        slot->tokens = cap;
        slot->last_ms = now_ms;
    }
    if (now_ms > slot->last_ms) {
        uint64_t add = (uint64_t)(now_ms - slot->last_ms) * lr->rate;

        slot->tokens = (slot->tokens + add > cap || add > cap) ? cap : slot->tokens + add;
        slot->last_ms = now_ms;
    }
    if (slot->tokens >= 1000) {
        slot->tokens -= 1000;
        return 1;
    }
    slot->suppressed++;
    return 0;
}

static struct lograte_slot *
slot_of(struct rd_lograte *lr, const uint8_t addr[16])
{
    uint64_t h = 1469598103934665603ull;
    struct lograte_slot *slot;

    for (size_t i = 0; i < 16; i++) {
        h = (h ^ addr[i]) * 1099511628211ull;
    }
    slot = &lr->slots[h % LOGRATE_SLOTS];
    if (slot->used && memcmp(slot->addr, addr, 16) != 0 && slot->suppressed == 0) {
        /* Another source had the slot and owes no summary: it is taken over afresh. */
        slot->used = 0;
    }
    if (!slot->used) {
        memcpy(slot->addr, addr, 16);
    }
    return slot;
}

static void
summary(struct rd_server *srv, struct lograte_slot *slot, const char *who)
{
    char line[128];

    snprintf(line, sizeof(line), "log lines suppressed source=%s count=%llu", who,
             (unsigned long long)slot->suppressed);
    for (uint64_t i = 0; i < slot->suppressed; i++) {
        rd__metrics_limited(srv, RD_BOUND_LOG_LINES);
    }
    slot->suppressed = 0;
    write_line(RD_LOG_WARN, line);
}

static void
addr_text(const uint8_t addr[16], char *out, size_t size)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (memcmp(addr, v4mapped, 12) == 0) {
        snprintf(out, size, "%u.%u.%u.%u", addr[12], addr[13], addr[14], addr[15]);
        return;
    }
    snprintf(out, size, "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
             addr[0], addr[1], addr[2], addr[3], addr[4], addr[5], addr[6], addr[7], addr[8],
             addr[9], addr[10], addr[11], addr[12], addr[13], addr[14], addr[15]);
}

int
rd__log_init(struct rd_server *srv)
{
    srv->lograte = calloc(1, sizeof(*srv->lograte));
    if (!srv->lograte) {
        return RD_ENOMEM;
    }
    srv->lograte->rate = srv->conf.log_rate_limit;
    coap_lines = srv->lograte;
    return RD_OK;
}

void
rd__log_cleanup(struct rd_server *srv)
{
    if (srv->lograte && coap_lines == srv->lograte) {
        coap_lines = NULL;
    }
    free(srv->lograte);
    srv->lograte = NULL;
}

void
rd__log_source(struct rd_server *srv, const struct sockaddr *from)
{
    uint16_t port;

    if (!srv->lograte) {
        return;
    }
    srv->lograte->has_source = from && rd__sockaddr_key(from, srv->lograte->source, &port) == RD_OK;
}

void
rd__log_flush(struct rd_server *srv, int64_t now_ms)
{
    struct rd_lograte *lr = srv->lograte;
    char who[48];

    if (!lr || now_ms - lr->last_flush_ms < LOGRATE_FLUSH_MS) {
        return;
    }
    lr->last_flush_ms = now_ms;
    for (size_t i = 0; i < LOGRATE_SLOTS; i++) {
        if (lr->slots[i].suppressed) {
            addr_text(lr->slots[i].addr, who, sizeof(who));
            summary(srv, &lr->slots[i], who);
        }
    }
    if (lr->coap.suppressed) {
        summary(srv, &lr->coap, "libcoap");
    }
}

void
rd__log(const struct rd_server *srv, enum rd_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (srv && level > srv->conf.log_level) {
        return;
    }
    /* Only lines caused by a request count against its source; the rest are the server's own. */
    if (srv && srv->lograte && srv->lograte->rate && srv->lograte->has_source &&
        !charge(srv->lograte, slot_of(srv->lograte, srv->lograte->source), rd__now_ms())) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    write_line(level, msg);
}

static void
coap_log_line(coap_log_t level, const char *message)
{
    char msg[1024];
    size_t len = 0;
    enum rd_log_level ours = RD_LOG_DEBUG;

    /* libcoap hands over lines that end in a newline; ours add their own. */
    while (message[len] && message[len] != '\n' && len + 1 < sizeof(msg)) {
        msg[len] = message[len];
        len++;
    }
    msg[len] = '\0';
    if (level <= LOG_ERR) {
        ours = RD_LOG_ERROR;
    } else if (level == LOG_WARNING) {
        ours = RD_LOG_WARN;
    } else if (level <= LOG_INFO) {
        ours = RD_LOG_INFO;
    }
    /* libcoap logs what a datagram did wrong ("discard malformed PDU") without saying whose it
     * was: its lines share one budget. */
    if (coap_lines && coap_lines->rate && !charge(coap_lines, &coap_lines->coap, rd__now_ms())) {
        return;
    }
    write_line(ours, msg);
}

void
rd__log_coap_init(enum rd_log_level level)
{
    /* libcoap's info level is chatty about every session; keep it one step quieter. */
    static const coap_log_t map[] = { LOG_ERR, LOG_WARNING, LOG_WARNING, LOG_INFO };

    coap_set_log_handler(coap_log_line);
    coap_set_log_level(map[level]);
}

void
rd__log_reload(struct rd_server *srv, const struct rd_conf *conf)
{
    srv->conf.log_rate_limit = conf->log_rate_limit;
    if (srv->lograte) {
        srv->lograte->rate = conf->log_rate_limit;
    }
    if (srv->conf.log_level != conf->log_level) {
        /* Written whatever either level says: a level change is always on record. */
        rd__log(NULL, RD_LOG_INFO, "log level changed from=%s to=%s",
                level_names[srv->conf.log_level], level_names[conf->log_level]);
        srv->conf.log_level = conf->log_level;
        rd__log_coap_init(conf->log_level);
    }
}
