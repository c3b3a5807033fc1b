/* Logging: one logfmt line (key=value) per event on stderr, for the server and for libcoap's
 * own messages; the level can change at run time on a configuration reload. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rd_internal.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

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

void
rd__log(const struct rd_server *srv, enum rd_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (srv && level > srv->conf.log_level) {
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
    if (srv->conf.log_level != conf->log_level) {
        /* Written whatever either level says: a level change is always on record. */
        rd__log(NULL, RD_LOG_INFO, "log level changed from=%s to=%s",
                level_names[srv->conf.log_level], level_names[conf->log_level]);
        srv->conf.log_level = conf->log_level;
        rd__log_coap_init(conf->log_level);
    }
}
