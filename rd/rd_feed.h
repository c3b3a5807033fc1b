/* What rd_feed.c offers the rest of rd/. The change feed. */
#ifndef RD_FEED_H
#define RD_FEED_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"

struct MHD_Connection;
struct rd_server;

/** Start the change feed over the store's journal (with the HTTP listener only).
 * @return RD_OK; RD_ENOMEM. */
int rd__feed_init(struct rd_server *srv);

/** Before the HTTP daemon stops: end every subscription (none may stay suspended). */
void rd__feed_stop(struct rd_server *srv);

/** After the HTTP daemon stopped: free the feed. Accepts a server without one. */
void rd__feed_cleanup(struct rd_server *srv);

/**
 * Stage the event of a registration write for the store's next write (rd__reg_save()): the
 * registration @p ep, @p d (or @p replace_id) becomes @p rec, encoded as @p data. The stored one,
 * if any, decides between "registered" and "updated" and what changed. No-op without a feed.
 */
void rd__feed_stage_save(struct rd_server *srv, uint64_t replace_id, const char *ep, const char *d,
                         const struct lookup_reg *rec, const void *data, size_t len);

/** Stage the "updated" event of a lifetime refresh of registration @p id. */
void rd__feed_stage_refresh(struct rd_server *srv, uint64_t id);

/** Stage the "removed" event of registration @p id, as it is stored. */
void rd__feed_stage_removal(struct rd_server *srv, uint64_t id);

/** Set the time of the events the next writes (the expiry sweep's) append. */
void rd__feed_clock(struct rd_server *srv, int64_t now);

/** After a write committed: push the new journal events to the subscribers. */
void rd__feed_committed(struct rd_server *srv);

/**
 * Answer GET /api/events on @p conn: filters @p qp (borrowed for the call), resume from
 * Last-Event-ID or since.
 *
 * @param error Set to a diagnostic (static) on RD_EINVAL and RD_ESTORE.
 * @return RD_OK (the stream is queued); RD_EINVAL; RD_ESTORE; RD_ENOMEM.
 */
int rd__feed_subscribe(struct rd_server *srv, struct MHD_Connection *conn,
                       const struct lookup_qparam *qp, size_t nq, const char **error);

/** Whether a subscriber was woken since the last call (and forget it): MHD must run now.
 * @return 1 or 0. */
int rd__feed_take_kick(struct rd_server *srv);

/** Open subscriptions. */
size_t rd__feed_subscribers(const struct rd_server *srv);

/** The comment line a keepalive sends. */
#define RD_FEED_KEEPALIVE ": keepalive\n\n"

/**
 * Queue RD_FEED_KEEPALIVE for every subscriber that was sent nothing for feed_keepalive seconds
 * (0: never), as of monotonic @p now_ms, so proxies do not cut a quiet stream and a subscriber
 * that vanished is noticed at the write. Does nothing without the feed; cheap when called at
 * every turn of the loop (it looks at the subscribers once a second at most).
 */
void rd__feed_keepalive(struct rd_server *srv, int64_t now_ms);

#endif
