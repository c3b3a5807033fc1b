/* What rd_simple.c offers the rest of rd/. Simple registration (RFC 9176 section 5.1). */
#ifndef RD_SIMPLE_H
#define RD_SIMPLE_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** Set up simple registration (when configured) and the client handlers it needs.
 * @return RD_OK; RD_ENOMEM. */
int rd__simple_init(struct rd_server *srv);

/** Fail the fetches whose endpoint has not answered in time. */
void rd__simple_tick(struct rd_server *srv, int64_t now_ms);

/** Drop every pending fetch and the cache; before the libcoap context goes. */
void rd__simple_cleanup(struct rd_server *srv);

#endif
