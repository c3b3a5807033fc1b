/* What rd_http.c offers the rest of rd/. The HTTP listener for operators, and what its handlers
 * (rd_api.c, rd_feed.c) share: answers, JSON errors and query parameters. The listener itself
 * owns libmicrohttpd and the connections. */
#ifndef RD_HTTP_H
#define RD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>
#include <jansson.h>
#include <microhttpd.h>

#include "lookup.h"

struct rd_server;

/** Query parameters one HTTP request may carry. */
#define RD_HTTP_QPARAM_MAX 32

/** The query parameters of one request; the strings belong to libmicrohttpd for the request. */
struct rd_http_query {
    struct lookup_qparam q[RD_HTTP_QPARAM_MAX];
    size_t n;
    int overflow; /**< there were more than RD_HTTP_QPARAM_MAX */
};

/** Start the HTTP listener of conf.http_listen (metrics, health, dashboard, API); nothing when
 * off. Loads http_token_file when set. Logs "http listening on HOST:PORT".
 * @return RD_OK; RD_EINVAL (bad address, port in use, a non-loopback address without
 * http_token_file, an unreadable or invalid token file); RD_ENOMEM. */
int rd__http_init(struct rd_server *srv);

/** Stop the listener. Accepts a server without one. */
void rd__http_cleanup(struct rd_server *srv);

/** Open HTTP connections now; 0 without a listener. */
unsigned rd__http_connections(const struct rd_server *srv);

/** Collect the query parameters of @p conn into @p out, in their order. */
void rd__http_query(struct MHD_Connection *conn, struct rd_http_query *out);

/**
 * Queue an answer of @p len bytes of @p type with the listener's security headers.
 *
 * @param owned 1: @p body is malloc'ed and taken over (freed even on failure); 0: static.
 * @return libmicrohttpd's result for the request handler.
 */
enum MHD_Result rd__http_respond(struct MHD_Connection *conn, unsigned status, const char *type,
                                 void *body, size_t len, int owned);

/** Answer with @p obj as application/json. Takes the reference to @p obj (NULL: a 500).
 * @return libmicrohttpd's result for the request handler. */
enum MHD_Result rd__http_json(struct MHD_Connection *conn, unsigned status, json_t *obj);

/** Answer @p status with the JSON error object {"error": @p msg} (@p msg borrowed).
 * @return libmicrohttpd's result for the request handler. */
enum MHD_Result rd__http_error(struct MHD_Connection *conn, unsigned status, const char *msg);

/** Answer 503 with {"error": @p msg} and Retry-After @p retry_s (seconds): a request the server
 * will not serve now (HTTP's 5.03 with Max-Age). @return libmicrohttpd's result. */
enum MHD_Result rd__http_unavailable(struct MHD_Connection *conn, const char *msg,
                                     unsigned retry_s);

/** Attributes as the API shows them: an array of [name, value] pairs, value null for an
 * attribute without one. @return a new reference; NULL when out of memory. */
json_t *rd__http_attrs_json(const struct lookup_attr *attrs, size_t n);

#endif
