/* Logging: one line per event on stderr, for the server and for libcoap's own messages. */
#include <stdio.h>
#include <time.h>

#include "rd_internal.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void
write_line(enum rd_log_level level, const char *msg)
{
    char stamp[32];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ core-rd %s: %s\n", stamp, ts.tv_nsec / 1000000L, level_names[level],
            msg);
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
