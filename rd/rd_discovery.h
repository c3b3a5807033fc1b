/* What rd_discovery.c offers the rest of rd/. GET /.well-known/core. */
#ifndef RD_DISCOVERY_H
#define RD_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** Serve /.well-known/core ourselves, to unicast and multicast requests.
 * @return RD_OK; RD_ENOMEM. */
int rd__discovery_init(struct rd_server *srv);

/** Release what rd__discovery_init() built. */
void rd__discovery_cleanup(struct rd_server *srv);

#endif
