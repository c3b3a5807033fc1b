/* What rd_http.c offers the rest of rd/. The HTTP listener for operators. */
#ifndef RD_HTTP_H
#define RD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** Start the HTTP listener of conf.http_listen (metrics, health, dashboard); nothing when off.
 * Logs "http listening on HOST:PORT". @return RD_OK; RD_EINVAL (bad address, port in use). */
int rd__http_init(struct rd_server *srv);

/** Stop the listener. Accepts a server without one. */
void rd__http_cleanup(struct rd_server *srv);

/** Open HTTP connections now; 0 without a listener. */
unsigned rd__http_connections(const struct rd_server *srv);

#endif
