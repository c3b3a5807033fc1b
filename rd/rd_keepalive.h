/* Keepalives of the change feed (rd_feed.c): an SSE comment to idle subscribers, so proxies do
 * not cut a quiet stream and a subscriber that vanished is noticed at the next write. */
#ifndef RD_KEEPALIVE_H
#define RD_KEEPALIVE_H

#include <stdint.h>

struct rd_server;

/** The comment line a keepalive sends. */
#define RD_FEED_KEEPALIVE ": keepalive\n\n"

/**
 * Queue RD_FEED_KEEPALIVE for every subscriber that was sent nothing for feed_keepalive seconds
 * (0: never), as of monotonic @p now_ms. Does nothing without the feed; cheap when called at
 * every turn of the loop (it looks at the subscribers once a second at most).
 */
void rd__feed_keepalive(struct rd_server *srv, int64_t now_ms);

#endif
