/* Deferred answers: a request whose answer is computed away from the I/O loop (a lookup on a
 * worker thread, a write that waits for a cluster commit) is parked, acknowledged at once if
 * it was confirmable, and answered later as a separate response (RFC 7252 §5.2.2).
 *
 * Built on libcoap's async state: parking registers it, completing triggers it, and libcoap
 * then calls the resource's handler a second time with the same request. The handler tells the
 * two calls apart with rd__defer_resumed(). Everything here runs on the loop's thread; work
 * done elsewhere hands its result back through a notifier (rd_loop.h) first. */
#ifndef RD_DEFER_H
#define RD_DEFER_H

#include <stdint.h>

#include <coap3/coap.h>

struct rd_server;

/** Frees a job's result when its request is answered or can no longer be (session gone,
 * server stopping). Runs on the loop's thread. */
typedef void rd_defer_free_fn(void *result);

/**
 * Park @p request of @p session: the handler returns with the response untouched (code 0),
 * libcoap sends an empty ACK for a CON request, and the request waits for
 * rd__defer_complete(). A duplicate of a parked CON is acknowledged again by libcoap without
 * calling the handler.
 *
 * @param id Receives the ticket the worker or client hands back to rd__defer_complete(); it
 *           stays valid (never reused within a run) even if the session goes away.
 * @return RD_OK; RD_ENOMEM (answer the request directly, e.g. 5.03); RD_EINVAL (the request
 *         cannot be parked: already parked, or libcoap built without async).
 */
int rd__defer_park(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request,
                   uint64_t *id);

/**
 * Hand @p result (owned from now on, freed with @p free_fn) to the parked request @p id and
 * wake its handler. A ticket whose session went away, or that was completed already, frees
 * @p result at once. @return RD_OK; RD_EINVAL (no such ticket: result freed).
 */
int rd__defer_complete(struct rd_server *srv, uint64_t id, void *result,
                       rd_defer_free_fn *free_fn);

/**
 * In a handler: is this the second call for a parked and completed request? If so, @return
 * its result (still owned by the defer module, valid until the handler returns) and the
 * handler fills the response from it alone, before any of its usual reading of the request:
 * Block1 reassembly, deduplication, rate limits and access checks ran on the first call, and
 * libcoap hands the second call a copy of the request with a new message ID. NULL for a fresh
 * request.
 */
void *rd__defer_resumed(struct rd_server *srv, coap_session_t *session, const coap_pdu_t *request);

/** Requests parked and not yet answered (for metrics and tests). */
size_t rd__defer_pending(const struct rd_server *srv);

/** Drop every parked request (freeing results). Called at shutdown. */
void rd__defer_cleanup(struct rd_server *srv);

#endif
