/* What rd_rank.c offers the rest of rd/. Where a page of a lookup begins, from the store's
 * counts (RFC 9176 section 6.2, paging). */
#ifndef RD_RANK_H
#define RD_RANK_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"
#include "store.h"

struct rd_reg_write;
struct rd_server;

/** The store term of a registration with a link-local base, which some clients must not see;
 * its final NUL keeps it apart from every lookup term and the address term. */
#define RD_RANK_SCOPED "scoped"

/**
 * Make the weights of @p terms (a registration's store terms, each with the weights
 * lookup_reg_terms() gave it: what a lookup of exactly the term finds) what store_reg.weighed
 * asks: endpoint names (`ep=` terms) get 0 and are never sought, as their pages are never deep.
 */
void rd__rank_weights(struct store_term *terms, size_t nterms);

/**
 * store_weigh_fn for store_open(): weighs a registration that a migration finds without
 * weights as a registration is weighed (lookup_terms_weigh(), then rd__rank_weights()), from
 * its stored record; declines one it cannot decode or
 * with a link-local base (it lacks RD_RANK_SCOPED).
 * @return 0 with @p terms weighed; 1 declined (the migration keeps the record as it is).
 */
int rd__rank_weigh_stored(void *arg, const struct store_reg *reg, struct store_term *terms,
                          size_t nterms, uint32_t *nlinks);

/**
 * Where page @p q->page of a lookup begins, without walking the pages before it: the walk of
 * @p term (exact, with its NUL; length 0 for a walk of every registration) starts after
 * @p after and passes over @p skip matches (links when @p links, else registrations).
 *
 * Reads @p st only (a snapshot view, on any thread); logs nothing.
 *
 * @return RD_OK; RD_ECONFLICT when the counts cannot answer this lookup (more than one
 *         criterion, a prefix, page 0, or the store declines): walk from the first; RD_EINVAL;
 *         RD_ESTORE (store_errmsg(@p st) says why).
 */
int rd__rank_seek(struct store *st, int links, const struct lookup_query *q, const char *term,
                  size_t term_len, int64_t now, uint64_t *after, uint64_t *skip);

#endif
