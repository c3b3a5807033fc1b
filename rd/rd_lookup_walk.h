/* The lookups of RFC 9176 section 6 rendered other than as link-format (the HTTP JSON API): the
 * same index choice, filters and paging as rd-lookup/ep and rd-lookup/res, matches handed to a
 * callback. */
#ifndef RD_LOOKUP_WALK_H
#define RD_LOOKUP_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "lookup.h"

struct rd_server;
struct rd_lookup_reg;

/**
 * Called for each match on the page, in the order rd-lookup would list it. @p view and what it
 * points to are valid during the call only; @p link is the index of the matching link in a
 * resource lookup (0 in an endpoint lookup); @p expires_at is the registration's deadline.
 *
 * @return RD_OK to go on; an RD_E* code stops the walk and is returned by rd__lookup_walk().
 */
typedef int (*rd_lookup_emit_fn)(void *arg, const struct lookup_regview *view, size_t link,
                                 int64_t expires_at);

/** How one walk went. */
struct rd_lookup_walk {
    int count_all;  /**< in: walk to the last match, so that @c total is every match */
    int all_links;  /**< in: show link-local registrations of every interface (an operator's
                         view), instead of none of them */
    uint64_t total; /**< out, with count_all: matches of the lookup, on the page or not */
};

/**
 * Run lookup @p q of @p kind (parsed from @p qp, @p nq; all borrowed) and hand the matches on its
 * page (q->page, q->count; without count, every match) to @p emit.
 *
 * @return RD_OK; RD_ESTORE (logged); RD_ENOMEM; an error returned by @p emit.
 */
int rd__lookup_walk(struct rd_server *srv, enum lookup_kind kind, const struct lookup_query *q,
                    rd_lookup_emit_fn emit, void *arg, struct rd_lookup_walk *walk);

/** A live registration by @p id (not expired at @p now), into @p out; out->present says whether
 * it was found. Release with rd__lookup_reg_cleanup().
 *
 * @return RD_OK (found or not); RD_ESTORE.
 */
int rd__lookup_get(struct rd_server *srv, uint64_t id, int64_t now, struct rd_lookup_reg *out);

#endif
