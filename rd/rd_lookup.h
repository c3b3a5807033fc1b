/* What rd_lookup.c offers the rest of rd/. GET rd-lookup/ep and rd-lookup/res (RFC 9176 section
 * 6), observable (RFC 7641). */
#ifndef RD_LOOKUP_H
#define RD_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "rd_request.h"

struct rd_server;

/** Shortest time between two notifications of lookup observers, in milliseconds. */
#define RD_NOTIFY_INTERVAL_MS 100

/** Create the observable lookup resources rd-lookup/ep and rd-lookup/res.
 * @return RD_OK; RD_ENOMEM. */
int rd__lookup_init(struct rd_server *srv);

/** Note that a registration changed in a way not known here (every observed lookup is looked
 * at again); @p expires_at is its new deadline (INT64_MAX if gone). */
void rd__lookup_changed(struct rd_server *srv, int64_t expires_at);

/**
 * Note that a registration's deadline moved to @p expires_at and nothing else changed (a live
 * registration refreshed with its own links and parameters): no lookup result changes, so
 * observers are not told and remembered pages stay good.
 */
void rd__lookup_refreshed(struct rd_server *srv, int64_t expires_at);

/** Notify lookup observers of changes and expiries, at most every RD_NOTIFY_INTERVAL_MS. */
void rd__lookup_notify(struct rd_server *srv, int64_t now, int64_t now_ms);

/** Most Uri-Query options one lookup may have. */
#define RD_QPARAM_MAX 64

/**
 * Compute the answer of a lookup (or take it from the answers remembered) into @p buf.
 *
 * @return RD_OK; RD_ETOOBIG (over 16 MiB: page it); RD_ENOMEM; RD_ESTORE (logged).
 */
int rd__lookup_answer(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                      const struct lookup_qparam *qp, size_t nq, const struct lookup_query *q,
                      struct lookup_buf *buf);

/** A lookup computed in slices (observers' re-runs), between calls. */
struct rd_lookup_partial {
    int started;
    uint64_t gen;   /**< srv->lookup_gen when it started */
    uint64_t after; /**< the next slice goes on after this registration */
    uint64_t skip;
    uint64_t left;
    size_t written;
    int64_t min_deadline;  /**< earliest deadline of a registration matched; 0: unknown */
    struct lookup_buf buf; /**< the answer so far; the whole answer once done */
};

/**
 * Compute the answer of a lookup as rd__lookup_answer() does, but stop at @p deadline_ms
 * (monotonic) and go on from there at the next call with the same @p p. Registrations written
 * meanwhile may or may not be in the answer: the caller computes it again after a change.
 *
 * @param done Written with 1 when @p p->buf holds the whole answer.
 * @return RD_OK; as rd__lookup_answer(). Release @p p with rd__lookup_partial_reset().
 */
int rd__lookup_answer_slice(struct rd_server *srv, enum lookup_kind kind, uint32_t link,
                            const struct lookup_qparam *qp, size_t nq, const struct lookup_query *q,
                            struct rd_lookup_partial *p, int64_t deadline_ms, int *done);

/** Release a partial answer and start over. Accepts a zeroed struct. */
void rd__lookup_partial_reset(struct rd_lookup_partial *p);

/** A registration read for observers: how lookups saw it before a write, or see it after. */
struct rd_lookup_reg {
    int present; /**< 0: none (or not read, when nobody observes) */
    int64_t expires_at;
    char ep[LOOKUP_NAME_MAX + 1];
    char d[LOOKUP_NAME_MAX + 1];
    char id[RD_ID_SIZE];
    char href[RD_ID_SIZE + 8];
    struct lookup_reg rec; /**< owned when read by rd__lookup_before() */
    struct lookup_regview view;
};

/** Read the registration @p id (0: the live one of @p ep and @p d) as it is before a write, when
 * anyone observes a lookup. Release with rd__lookup_written() or rd__lookup_reg_cleanup(). */
void rd__lookup_before(struct rd_server *srv, uint64_t id, const char *ep, const char *d,
                       struct rd_lookup_reg *out);

/**
 * Note a written registration: @p before (from rd__lookup_before(), released here) became
 * registration @p id with @p rec (borrowed; NULL: removed) and deadline @p expires_at
 * (INT64_MAX when removed). Observers whose lookups it can affect are looked at again.
 */
void rd__lookup_written(struct rd_server *srv, struct rd_lookup_reg *before, const char *ep,
                        const char *d, const struct lookup_reg *rec, uint64_t id,
                        int64_t expires_at);

/** Release what rd__lookup_before() read. */
void rd__lookup_reg_cleanup(struct rd_lookup_reg *r);

/* The lookups rendered other than as link-format (the HTTP JSON API, rd_api.c): the same index
 * choice, filters and paging as rd-lookup/ep and rd-lookup/res, matches handed to a callback
 * (a job's emit, rd_lookup_job.h). */

/**
 * Called for each match on the page, in the order rd-lookup would list it. @p view and what it
 * points to are valid during the call only; @p link is the index of the matching link in a
 * resource lookup (0 in an endpoint lookup); @p expires_at is the registration's deadline.
 *
 * @return RD_OK to go on; an RD_E* code stops the walk and is the lookup's result.
 */
typedef int (*rd_lookup_emit_fn)(void *arg, const struct lookup_regview *view, size_t link,
                                 int64_t expires_at);

/** A live registration by @p id (not expired at @p now), into @p out; out->present says whether
 * it was found. Release with rd__lookup_reg_cleanup().
 *
 * @return RD_OK (found or not); RD_ESTORE.
 */
int rd__lookup_get(struct rd_server *srv, uint64_t id, int64_t now, struct rd_lookup_reg *out);

#endif
