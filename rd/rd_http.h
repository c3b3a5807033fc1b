/* What the handlers of the HTTP listener share: answers, JSON errors and query parameters. The
 * listener itself (rd_http.c) owns libmicrohttpd and the connections. */
#ifndef RD_HTTP_H
#define RD_HTTP_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "lookup.h"

/** Query parameters one HTTP request may carry. */
#define RD_HTTP_QPARAM_MAX 32

/** The query parameters of one request; the strings belong to libmicrohttpd for the request. */
struct rd_http_query {
    struct lookup_qparam q[RD_HTTP_QPARAM_MAX];
    size_t n;
    int overflow; /**< there were more than RD_HTTP_QPARAM_MAX */
};

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

/** Answer with @p obj as application/json. Takes the reference to @p obj (NULL: a 500). */
enum MHD_Result rd__http_json(struct MHD_Connection *conn, unsigned status, json_t *obj);

/** Answer @p status with the JSON error object {"error": @p msg} (@p msg borrowed). */
enum MHD_Result rd__http_error(struct MHD_Connection *conn, unsigned status, const char *msg);

/** Attributes as the API shows them: an array of [name, value] pairs, value null for an
 * attribute without one. @return a new reference; NULL when out of memory. */
json_t *rd__http_attrs_json(const struct lookup_attr *attrs, size_t n);

#endif
