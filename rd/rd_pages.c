/* Where the pages of recent paged lookups start (RFC 9176 section 6.2, page and count).
 *
 * Page p of a lookup is the matches p * count onwards, so answering it from the first match
 * costs all the pages before it: a client that pages through a large result would pay for the
 * whole result once per page. A lookup that passes a page boundary remembers where that page
 * starts: the registration just before it in the walk, and how many of the next registration's
 * matches belong to the previous page. A later request for that page resumes the walk there.
 *
 * A mark is only good while the results it was made from still hold: any change of the
 * lookup results bumps srv->lookup_gen, and callers use no mark once a deadline has passed. */
#include <stdlib.h>
#include <string.h>

#include "rd_internal.h"

/* Marks kept, in a direct-mapped table: a newer mark takes the slot of an older one. */
#define PAGE_SLOTS 4096

struct rd_page_slot {
    uint64_t key;
    uint64_t gen;
    uint32_t page;
    int used;
    struct rd_page_mark mark;
};

int
rd__pages_init(struct rd_server *srv)
{
    srv->pages = calloc(PAGE_SLOTS, sizeof(*srv->pages));
    return srv->pages ? RD_OK : RD_ENOMEM;
}

void
rd__pages_cleanup(struct rd_server *srv)
{
    free(srv->pages);
    srv->pages = NULL;
}

static uint64_t
fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

uint64_t
rd__pages_key(unsigned kind, const struct lookup_qparam *qp, size_t nq)
{
    uint64_t h = fnv(0xcbf29ce484222325ull, &kind, sizeof(kind));

    for (size_t i = 0; i < nq; i++) {
        if (qp[i].key_len == 4 && memcmp(qp[i].key, "page", 4) == 0) {
            continue;
        }
        /* Lengths keep "a=bc" apart from "ab=c", and a missing '=' apart from an empty value. */
        h = fnv(h, &qp[i].key_len, sizeof(qp[i].key_len));
        h = fnv(h, qp[i].key, qp[i].key_len);
        h = fnv(h, qp[i].value ? &qp[i].value_len : &nq, sizeof(size_t));
        if (qp[i].value) {
            h = fnv(h, qp[i].value, qp[i].value_len);
        }
    }
    return h;
}

static struct rd_page_slot *
slot_of(struct rd_server *srv, uint64_t key, uint32_t page)
{
    return &srv->pages[(key ^ (page * 0x9e3779b97f4a7c15ull)) % PAGE_SLOTS];
}

int
rd__pages_find(struct rd_server *srv, uint64_t key, uint32_t page, struct rd_page_mark *out)
{
    const struct rd_page_slot *s = slot_of(srv, key, page);

    if (!s->used || s->key != key || s->page != page || s->gen != srv->lookup_gen) {
        return RD_ENOTFOUND;
    }
    *out = s->mark;
    return RD_OK;
}

void
rd__pages_put(struct rd_server *srv, uint64_t key, uint32_t page, const struct rd_page_mark *mark)
{
    struct rd_page_slot *s = slot_of(srv, key, page);

    s->key = key;
    s->gen = srv->lookup_gen;
    s->page = page;
    s->used = 1;
    s->mark = *mark;
}
