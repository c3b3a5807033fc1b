/* The HTTP JSON API of the listener (docs/openapi.yaml): the lookups of RFC 9176 section 6 as
 * JSON, one registration, the counts. */
#ifndef RD_API_H
#define RD_API_H

#include <microhttpd.h>

struct rd_server;

/** State of the API between requests (rd_api.c). Opaque. */
struct rd_api;

/** Allocate the API's state into srv->api. @return RD_OK; RD_ENOMEM. */
int rd__api_init(struct rd_server *srv);

/** Release srv->api. Accepts a server without it. */
void rd__api_cleanup(struct rd_server *srv);

/**
 * Answer the GET request for @p url, a path under /api/ (but for /api/events, the feed's).
 * Unknown paths get a JSON 404. A lookup computed on a worker suspends the connection and
 * sets *@p req_cls (libmicrohttpd's request context): the listener then calls
 * rd__api_resumed() when libmicrohttpd calls its handler again.
 *
 * @return libmicrohttpd's result for the request handler.
 */
enum MHD_Result rd__api_serve(struct rd_server *srv, struct MHD_Connection *conn, const char *url,
                              void **req_cls);

/** Answer a request whose *@p req_cls rd__api_serve() set, called again once resumed: its
 * lookup's JSON (or 503 with Retry-After when the server is stopping).
 * @return libmicrohttpd's result for the request handler. */
enum MHD_Result rd__api_resumed(struct rd_server *srv, struct MHD_Connection *conn, void **req_cls);

/** A request ended (MHD_OPTION_NOTIFY_COMPLETED): forget what rd__api_serve() left in
 * *@p req_cls, if anything. Accepts a server without the API. */
void rd__api_closed(struct rd_server *srv, void **req_cls);

/** Before the daemon stops: resume every suspended request (their lookups' results are
 * dropped when they come back). Accepts a server without the API. */
void rd__api_stop(struct rd_server *srv);

/** Whether a suspended request was resumed since the last call: MHD must run now. @return 1 or
 * 0. */
int rd__api_take_kick(struct rd_server *srv);

#endif
