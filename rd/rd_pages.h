/* What rd_pages.c offers the rest of rd/. Memory of recent lookups (RFC 9176 section 6). */
#ifndef RD_PAGES_H
#define RD_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "lookup.h"

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

#endif
