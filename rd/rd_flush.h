/* What rd_flush.c offers the rest of rd/. The periodic flush of `sync periodic`, on a thread of
 * its own. */
#ifndef RD_FLUSH_H
#define RD_FLUSH_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

struct rd_flusher;

/** Start the thread that flushes the store when asked (sync periodic).
 * @return RD_OK; RD_ENOMEM (no memory or no thread). */
int rd__flusher_start(struct rd_server *srv);

/** Ask for a flush without waiting for it; logs a failure of an earlier one. */
void rd__flusher_request(struct rd_server *srv);

/** Finish the thread (a flush in progress completes first). Accepts a server without one. */
void rd__flusher_stop(struct rd_server *srv);

#endif
