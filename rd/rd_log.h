/* What rd_log.c offers the rest of rd/. Logging. */
#ifndef RD_LOG_H
#define RD_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "rd_conf.h"

struct rd_server;
struct sockaddr;

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

#endif
