/* What rd_pages.c offers the rest of rd/. Memory of recent lookups (RFC 9176 section 6). */
#ifndef RD_PAGES_H
#define RD_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "rd_request.h"

struct rd_server;

/** A lookup named by its kind and query parameters, as text: what rd_pages.c files under. */
struct rd_lookup_key {
    char text[256];
    size_t len;
    uint64_t hash;
};

/**
 * Name the lookup of @p kind with parameters @p qp from a client on interface @p link (which
 * decides whether registrations with a link-local base show), leaving out `page` unless
 * @p with_page.
 *
 * @return RD_OK; RD_ETOOBIG when the parameters are too long to remember (remember nothing).
 */
int rd__lookup_key(unsigned kind, uint32_t link, const struct lookup_qparam *qp, size_t nq,
                   int with_page, struct rd_lookup_key *key);

/** Where a page of a lookup starts: after registration @p after, past @p inner of the matches
 * of the next registration. */
struct rd_page_mark {
    uint64_t after;
    uint64_t inner;
};

struct rd_page_slot;
struct rd_answer_slot;

/** Allocate the tables of page marks and answers. @return RD_OK; RD_ENOMEM. */
int rd__pages_init(struct rd_server *srv);

/** Release the tables. */
void rd__pages_cleanup(struct rd_server *srv);

/** Find where @p page of lookup @p key (without page) starts. @return RD_OK; RD_ENOTFOUND. */
int rd__pages_find(struct rd_server *srv, const struct rd_lookup_key *key, uint32_t page,
                   struct rd_page_mark *out);

/** Remember where @p page of lookup @p key starts, valid until lookup results change. */
void rd__pages_put(struct rd_server *srv, const struct rd_lookup_key *key, uint32_t page,
                   const struct rd_page_mark *mark);

/** Append the remembered answer of lookup @p key (with page) to @p out.
 * @return RD_OK; RD_ENOTFOUND; RD_ENOMEM. */
int rd__answer_find(struct rd_server *srv, const struct rd_lookup_key *key, struct lookup_buf *out);

/** Remember the answer of lookup @p key (a copy, if small enough) until lookup results change.
 */
void rd__answer_put(struct rd_server *srv, const struct rd_lookup_key *key,
                    const struct lookup_buf *answer);

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

#endif
