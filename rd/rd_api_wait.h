/* What rd_api_wait.c offers the rest of rd/. HTTP requests of the JSON API waiting for a result
 * computed away from the loop (a lookup on a worker thread): their connections are suspended
 * in libmicrohttpd, so that they cost the loop nothing meanwhile, and resumed when the result
 * is handed back. Everything here runs on the loop's thread. */
#ifndef RD_API_WAIT_H
#define RD_API_WAIT_H

#include <stdint.h>

#include <microhttpd.h>

/** Frees a result that no request will take (connection closed, server stopping). */
typedef void rd_api_wait_free_fn(void *result);

/** The requests waiting, for one listener. Opaque. */
struct rd_api_waits;

/** @return a new empty set (free with rd__api_waits_free()); NULL when out of memory. */
struct rd_api_waits *rd__api_waits_new(void);

/** Free the set and the results still held. Call after the daemon stopped. Accepts NULL. */
void rd__api_waits_free(struct rd_api_waits *ws);

/**
 * In the request handler: suspend @p conn until rd__api_wait_complete() with the ticket
 * written to @p ticket. *@p req_cls is the waiter's from now on: the handler, called again once
 * the connection is resumed, takes the result with rd__api_wait_take().
 *
 * @return RD_OK (return MHD_YES without a response); RD_ENOMEM (nothing suspended).
 */
int rd__api_wait_park(struct rd_api_waits *ws, struct MHD_Connection *conn, void **req_cls,
                      uint64_t *ticket);

/**
 * Hand @p result (owned from now on, freed with @p free_fn if never taken) to the request
 * waiting on @p ticket and resume its connection.
 *
 * @return RD_OK; RD_ENOTFOUND (no such request any more: @p result was freed).
 */
int rd__api_wait_complete(struct rd_api_waits *ws, uint64_t ticket, void *result,
                          rd_api_wait_free_fn *free_fn);

/** Whether *@p req_cls is a waiter's: the handler is called again for a parked request.
 * @return 1 or 0. */
int rd__api_wait_is_resumed(void *const *req_cls);

/**
 * In the handler called again for a parked request: take its result (the caller's from now
 * on; NULL when the server is stopping and no result came) and forget the waiter.
 */
void *rd__api_wait_take(struct rd_api_waits *ws, void **req_cls);

/** libmicrohttpd is done with a request (MHD_OPTION_NOTIFY_COMPLETED): forget its waiter, if
 * any, and free a result it never took. */
void rd__api_wait_closed(struct rd_api_waits *ws, void **req_cls);

/** Before the daemon stops: resume every suspended connection (none may stay suspended). */
void rd__api_waits_stop(struct rd_api_waits *ws);

/** Whether a connection was resumed since the last call (and forget it): MHD must run now.
 * @return 1 or 0. */
int rd__api_waits_take_kick(struct rd_api_waits *ws);

/** Requests waiting now. */
size_t rd__api_waits_pending(const struct rd_api_waits *ws);

#endif
