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
 * Unknown paths get a JSON 404.
 *
 * @return libmicrohttpd's result for the request handler.
 */
enum MHD_Result rd__api_serve(struct rd_server *srv, struct MHD_Connection *conn, const char *url);

#endif
